/* test-leaks.c: many create/acquire/release/finalize cycles leave nothing
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * After each cycle its semaphore, key file and /dev/shm entry are gone; at
 * the end the process has as many descriptors open as before, and the
 * private temporary directory the test uses is empty. Memory leaks are the
 * business of the valgrind and AddressSanitizer runs of this program.
 */

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"

static char *private_tmpdir;

static int
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  int n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;

  return n;
}

static void
acquired_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result, &error));
  g_assert_no_error (error);
  *done = TRUE;
}

static void
test_cycles (SysemTestFixture *fixture)
{
  int n_cycles = sysem_test_under_valgrind () ? 1000 : 10000;
  int fds_before = -1, fds_after;
  g_autoptr(GDir) dir = NULL;

  /* Cycle 0 sets up what GLib keeps for the whole process (the default
   * main context's wakeup descriptor, GIO's type system); count from
   * cycle 1. */
  for (int i = 0; i < n_cycles; i++)
    {
      g_autofree char *key = sysem_test_key ("rel-leak");
      g_autofree char *file = sysem_test_key_path (key, fixture->key_type);
      g_autoptr(SysemSemaphore) sem = NULL;
      g_autoptr(GError) error = NULL;
      int semid = -1;
      key_t ipc_key = -1;

      sem = sysem_test_open (key, fixture->key_type, 1, SYSEM_ACCESS_MODE_CREATE);
      if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        sysem_test_sysv_ids (sem, &semid, &ipc_key);

      if (i % 10 == 0)
        {
          /* Now and then the asynchronous way, which completes at once
           * when a unit is free. */
          gboolean done = FALSE;

          sysem_semaphore_acquire_async (sem, NULL, acquired_cb, &done);
          while (!done)
            g_main_context_iteration (NULL, TRUE);
        }
      else
        {
          g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
          g_assert_no_error (error);
        }

      g_assert_true (sysem_semaphore_release (sem, 1, &error));
      g_assert_no_error (error);
      g_assert_true (sysem_test_path_exists (file));

      g_clear_object (&sem);

      if (sysem_test_path_exists (file))
        g_error ("cycle %d left %s behind", i, file);
      if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V &&
          sysem_test_sysv_set_alive (semid, ipc_key))
        g_error ("cycle %d left the System V set %d behind", i, semid);

      if (i == 0)
        fds_before = count_open_fds ();
    }

  fds_after = count_open_fds ();
  g_assert_cmpint (fds_after, ==, fds_before);

  /* No key file, and no temporary file of any kind. */
  dir = g_dir_open (private_tmpdir, 0, NULL);
  g_assert_nonnull (dir);
  g_assert_cmpstr (g_dir_read_name (dir), ==, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int ret;

  /* A temporary directory of our own, set before any thread exists, so
   * that "nothing left in it" means something even when other tests run
   * at the same time. */
  private_tmpdir = g_dir_make_tmp ("sysemtest-rel-leaks-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("TMPDIR", private_tmpdir, TRUE);

  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/reliability/leaks/cycles/{sysv}", test_cycles);

  ret = g_test_run ();

  g_assert_cmpint (rmdir (private_tmpdir), ==, 0);
  g_free (private_tmpdir);

  return ret;
}
