/* reliability-common.h: small helpers shared by the reliability tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "sysem.h"
#include "sysem-inspect-private.h"
#include "sysem-key-private.h"

/* A key no other test, and no other run of this one, uses. */
static inline char *
rel_make_key (const char *what)
{
  static gint counter = 0;

  return g_strdup_printf ("sysemtest-rel-%s-%d-%d", what, (int) getpid (),
                          g_atomic_int_add (&counter, 1));
}

/* TRUE when running under the "valgrind" test setup: loops get shorter. */
static inline gboolean
rel_under_valgrind (void)
{
  return g_getenv ("SYSEM_TEST_VALGRIND") != NULL;
}

static inline const char *
rel_key_type_name (SysemKeyType key_type)
{
  return key_type == SYSEM_KEY_TYPE_POSIX ? "posix" : "sysv";
}

/* The key as an error message shows it: valid UTF-8, at most 77 characters
 * of it before an ellipsis. Checks that @error has @code and names @key. */
static inline void
rel_assert_error_names_key (const GError *error,
                            GQuark        domain,
                            int           code,
                            const char   *key)
{
  g_autofree char *shown = g_utf8_make_valid (key, -1);

  g_assert_nonnull (error);
  if (!g_error_matches (error, domain, code))
    g_error ("expected error %s:%d, got %s:%d: %s", g_quark_to_string (domain), code,
             g_quark_to_string (error->domain), error->code, error->message);

  if (g_utf8_strlen (shown, -1) > 80)
    *g_utf8_offset_to_pointer (shown, 77) = '\0';

  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  if (strstr (error->message, shown) == NULL)
    g_error ("the message “%s” does not name the key “%s”", error->message, shown);
}

/* The System V set behind @sem: its id and its kernel key. */
static inline void
rel_sysv_ids (SysemSemaphore *sem,
              int            *semid,
              key_t          *ipc_key)
{
  g_autoptr(GError) error = NULL;
  SysemStats stats;
  struct semid_ds ds;
  union { int val; struct semid_ds *buf; } arg = { .buf = &ds };

  g_assert_true (sysem_semaphore_get_stats (sem, &stats, &error));
  g_assert_no_error (error);
  *semid = stats.id;
  g_assert_cmpint (semctl (stats.id, 0, IPC_STAT, arg), ==, 0);
  *ipc_key = ds.sem_perm.__key;
}

/* Whether the set @semid made for @ipc_key is still in the kernel. A new
 * set that reuses the id for another key does not count. */
static inline gboolean
rel_sysv_set_alive (int   semid,
                    key_t ipc_key)
{
  struct semid_ds ds;
  union { int val; struct semid_ds *buf; } arg = { .buf = &ds };

  if (semctl (semid, 0, IPC_STAT, arg) == -1)
    {
      g_assert_true (errno == EINVAL || errno == EIDRM);
      return FALSE;
    }

  return ds.sem_perm.__key == ipc_key;
}

/* What a key leaves in the file system while it is open: the key file for
 * System V, the file in /dev/shm for POSIX. */
static inline char *
rel_key_file (const char   *key,
              SysemKeyType  key_type)
{
  g_autoptr(GError) error = NULL;
  char *native = NULL;

  g_assert_true (sysem_inspect_key_derive (key, key_type, &native, &error));
  g_assert_no_error (error);

  if (key_type == SYSEM_KEY_TYPE_POSIX)
    {
      char *path = sysem_key_posix_path (native);

      g_free (native);
      return path;
    }

  return native;
}

static inline gboolean
rel_path_exists (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0;
}

/* Polls @check until it returns TRUE, or fails the test after
 * @timeout_sec seconds: a hang detector, not a timing assertion. */
static inline void
rel_wait_for (gboolean    (*check) (gpointer data),
              gpointer      data,
              int           timeout_sec,
              const char   *what)
{
  gint64 deadline = g_get_monotonic_time () + timeout_sec * G_USEC_PER_SEC;

  while (!check (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("gave up waiting for %s after %d s", what, timeout_sec);
      g_usleep (1000);
    }
}
