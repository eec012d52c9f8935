/* async-exit-helper.c: a program that returns from main() right after its
 * last acquire_async() completed, the waiter thread still winding down
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: async-exit-helper system-v|posix KEY
 *
 * Creates KEY with no unit, queues one acquire_async() (so the waiter
 * thread serves it), gives a unit from another thread, and in the callback
 * gives it back, drops the last reference and quits. Whatever the waiter
 * thread is doing then, returning from main() must leave nothing behind:
 * the test checks the key after every run. Uses only the public API.
 */

#include <stdio.h>
#include <string.h>

#include <sysem/sysem.h>

static GMainLoop *loop;
static int status = 1;

static gpointer
release_thread (gpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!sysem_semaphore_release (data, 1, &error))
    fprintf (stderr, "async-exit-helper: %s\n", error->message);
  return NULL;
}

static void
acquired_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  SysemSemaphore *sem = SYSEM_SEMAPHORE (source);
  g_autoptr(GError) error = NULL;

  if (sysem_semaphore_acquire_finish (sem, result, &error) &&
      sysem_semaphore_release (sem, 1, &error))
    status = 0;
  else
    fprintf (stderr, "async-exit-helper: %s\n", error->message);

  g_main_loop_quit (loop);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;
  SysemKeyType key_type;

  if (argc != 3)
    {
      fprintf (stderr, "usage: %s system-v|posix KEY\n", argv[0]);
      return 2;
    }
  key_type = strcmp (argv[1], "posix") == 0 ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V;

  sem = sysem_semaphore_new_full (argv[2], key_type, 0, SYSEM_ACCESS_MODE_CREATE, &error);
  if (sem == NULL)
    {
      fprintf (stderr, "async-exit-helper: %s\n", error->message);
      return 1;
    }

  loop = g_main_loop_new (NULL, FALSE);
  sysem_semaphore_acquire_async (sem, NULL, acquired_cb, NULL);
  /* The request holds the object; ours can go now. */
  g_thread_unref (g_thread_new ("release", release_thread, sem));
  g_object_unref (sem);

  g_main_loop_run (loop);
  g_main_loop_unref (loop);
  return status;
}
