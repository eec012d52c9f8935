/* sysem-test-util.c: small helpers shared by sysem's C tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* This library uses GLib only, not sysem: a test may link it with either
 * the shared library or the static copy. Key names are derived here again,
 * independently of sysem-key.c, so that the tests also check the
 * derivation. */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysem-test-util.h"

struct _SysemTestHelper
{
  GPid     pid;
  int      stdin_fd;
  int      stdout_fd;
  GString *buffer;
  gboolean reaped;
  int      status;
};

/**
 * sysem_test_key:
 * @tag: a few letters that say which test made the key
 *
 * Returns a key no other test and no other process uses:
 * `sysemtest-TAG-PID-N`.
 */
char *
sysem_test_key (const char *tag)
{
  static gint counter = 0;

  return g_strdup_printf ("sysemtest-%s-%d-%d", tag, (int) getpid (),
                          g_atomic_int_add (&counter, 1));
}

/**
 * sysem_test_poll:
 *
 * Calls @condition until it returns %TRUE or @timeout_usec passed on the
 * monotonic clock. Returns whether it became true.
 */
gboolean
sysem_test_poll (SysemTestCondition  condition,
                 gpointer            user_data,
                 gint64              timeout_usec)
{
  gint64 deadline = g_get_monotonic_time () + timeout_usec;
  gulong pause = 100;

  for (;;)
    {
      if (condition (user_data))
        return TRUE;
      if (g_get_monotonic_time () >= deadline)
        return condition (user_data);

      g_usleep (pause);
      pause = MIN (pause * 2, 10 * 1000);
    }
}

/* $TMPDIR or /tmp, links resolved, as Qt's QDir::tempPath(). */
char *
sysem_test_temp_dir (void)
{
  const char *env = g_getenv ("TMPDIR");
  char *resolved;
  char *ret;

  if (env == NULL || *env == '\0')
    env = "/tmp";

  resolved = realpath (env, NULL);
  if (resolved == NULL)
    return g_strdup (env);

  ret = g_strdup (resolved);
  free (resolved);
  return ret;
}

/* "qipc_systemsem_" + the ASCII letters of the key + its SHA-1. */
char *
sysem_test_legacy_name (const char *key)
{
  GString *name = g_string_new ("qipc_systemsem_");
  g_autofree char *sha1 = g_compute_checksum_for_string (G_CHECKSUM_SHA1, key, -1);

  for (const char *p = key; *p != '\0'; p++)
    if (g_ascii_isalpha (*p))
      g_string_append_c (name, *p);
  g_string_append (name, sha1);

  return g_string_free (name, FALSE);
}

/* The file that stands for the semaphore of @key: the System V key file,
 * or the POSIX semaphore's file in /dev/shm. */
char *
sysem_test_key_path (const char *key,
                     int         key_type)
{
  g_autofree char *name = sysem_test_legacy_name (key);

  if (key_type == SYSEM_TEST_KEY_TYPE_POSIX)
    return g_strconcat ("/dev/shm/sem.", name, NULL);
  else
    {
      g_autofree char *dir = sysem_test_temp_dir ();

      return g_build_filename (dir, name, NULL);
    }
}

/* Nothing of @key is left in the file system. (A System V set cannot be
 * found once its key file is gone; see sysem_test_semid_exists().) */
gboolean
sysem_test_key_is_clean (const char *key,
                         int         key_type)
{
  g_autofree char *path = sysem_test_key_path (key, key_type);
  struct stat st;

  return lstat (path, &st) == -1 && errno == ENOENT;
}

void
sysem_test_assert_key_clean (const char *key,
                             int         key_type)
{
  g_autofree char *path = sysem_test_key_path (key, key_type);
  struct stat st;

  if (lstat (path, &st) == 0)
    g_error ("%s was left behind by key “%s”", path, key);
  g_assert_cmpint (errno, ==, ENOENT);
}

gboolean
sysem_test_semid_exists (int semid)
{
  struct semid_ds ds;

  return semctl (semid, 0, IPC_STAT, &ds) == 0;
}

/* Helper processes */

SysemTestHelper *
sysem_test_helper_spawn (const char * const  *argv,
                         GError             **error)
{
  SysemTestHelper *helper = g_new0 (SysemTestHelper, 1);

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD,
                                 NULL, NULL, &helper->pid,
                                 &helper->stdin_fd, &helper->stdout_fd, NULL,
                                 error))
    {
      g_free (helper);
      return NULL;
    }

  helper->buffer = g_string_new (NULL);
  return helper;
}

/* Spawns @program with the arguments that follow, up to %NULL; a failure to
 * start is a test failure. */
SysemTestHelper *
sysem_test_helper_spawnv (const char *program,
                          ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  SysemTestHelper *helper;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) program);
  va_start (args, program);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  helper = sysem_test_helper_spawn ((const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return helper;
}

GPid
sysem_test_helper_get_pid (SysemTestHelper *helper)
{
  return helper->pid;
}

/* The next line the helper writes, without its newline; %NULL at the end of
 * its output or when @timeout_usec passed. */
char *
sysem_test_helper_read_line (SysemTestHelper *helper,
                             gint64           timeout_usec)
{
  gint64 deadline = g_get_monotonic_time () + timeout_usec;

  for (;;)
    {
      char *newline = memchr (helper->buffer->str, '\n', helper->buffer->len);
      struct pollfd pfd = { helper->stdout_fd, POLLIN, 0 };
      char chunk[256];
      gint64 left;
      gssize n;
      int res;

      if (newline != NULL)
        {
          gsize len = newline - helper->buffer->str;
          char *line = g_strndup (helper->buffer->str, len);

          g_string_erase (helper->buffer, 0, len + 1);
          return line;
        }

      if (helper->stdout_fd == -1)
        return NULL;

      left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        return NULL;

      res = poll (&pfd, 1, (int) MIN (left / 1000 + 1, G_MAXINT));
      if (res == -1 && errno == EINTR)
        continue;
      g_assert_cmpint (res, >=, 0);
      if (res == 0)
        continue;

      n = read (helper->stdout_fd, chunk, sizeof chunk);
      if (n == -1 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          close (helper->stdout_fd);
          helper->stdout_fd = -1;
          continue;
        }
      g_string_append_len (helper->buffer, chunk, n);
    }
}

/* Fails the test unless the next line is @line. */
void
sysem_test_helper_expect_line (SysemTestHelper *helper,
                               const char      *line)
{
  g_autofree char *got = sysem_test_helper_read_line (helper, SYSEM_TEST_DEADLINE_USEC);

  if (got == NULL)
    g_error ("helper %d: expected “%s”, got nothing", (int) helper->pid, line);
  g_assert_cmpstr (got, ==, line);
}

/* Closes the helper's standard input: a helper that waits for the end of
 * its input goes on. */
void
sysem_test_helper_close_stdin (SysemTestHelper *helper)
{
  if (helper->stdin_fd != -1)
    {
      close (helper->stdin_fd);
      helper->stdin_fd = -1;
    }
}

/* Waits for the helper to end. Returns its exit code, or 128 plus the
 * signal that killed it. */
int
sysem_test_helper_wait (SysemTestHelper *helper)
{
  if (!helper->reaped)
    {
      pid_t res;

      do
        res = waitpid (helper->pid, &helper->status, 0);
      while (res == -1 && errno == EINTR);
      g_assert_cmpint (res, ==, helper->pid);
      helper->reaped = TRUE;
    }

  if (WIFEXITED (helper->status))
    return WEXITSTATUS (helper->status);
  if (WIFSIGNALED (helper->status))
    return 128 + WTERMSIG (helper->status);
  return -1;
}

/* Kills the helper with SIGKILL and waits for it; returns what
 * sysem_test_helper_wait() returns. */
int
sysem_test_helper_kill (SysemTestHelper *helper)
{
  if (!helper->reaped)
    kill (helper->pid, SIGKILL);

  return sysem_test_helper_wait (helper);
}

/* Frees the helper, killing it first if it still runs. */
void
sysem_test_helper_free (SysemTestHelper *helper)
{
  if (helper == NULL)
    return;

  if (!helper->reaped)
    sysem_test_helper_kill (helper);

  sysem_test_helper_close_stdin (helper);
  if (helper->stdout_fd != -1)
    close (helper->stdout_fd);
  g_string_free (helper->buffer, TRUE);
  g_spawn_close_pid (helper->pid);
  g_free (helper);
}
