/* core-support.c: what the core tests share
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdarg.h>

#include "core-support.h"

/* Registers @func at @path under /system-v/ and /posix/. */
void
core_add_both_types (const char    *path,
                     GTestDataFunc  func)
{
  for (int t = SYSEM_KEY_TYPE_SYSTEM_V; t <= SYSEM_KEY_TYPE_POSIX; t++)
    {
      g_autofree char *full = g_strdup_printf ("/core/%s/%s", core_key_type_name (t), path);

      g_test_add_data_func (full, GINT_TO_POINTER (t), func);
    }
}

const char *
core_key_type_name (SysemKeyType key_type)
{
  return key_type == SYSEM_KEY_TYPE_POSIX ? "posix" : "system-v";
}

/* Opens @key, failing the test on an error. */
SysemSemaphore *
core_new (const char      *key,
          SysemKeyType     key_type,
          int              initial_value,
          SysemAccessMode  mode)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;

  sem = sysem_semaphore_new_full (key, key_type, initial_value, mode, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sem);
  return sem;
}

int
core_value (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;
  int value = sysem_semaphore_get_value (sem, &error);

  g_assert_no_error (error);
  g_assert_cmpint (value, >=, 0);
  return value;
}

SysemStats
core_stats (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;
  SysemStats stats;

  g_assert_true (sysem_semaphore_get_stats (sem, &stats, &error));
  g_assert_no_error (error);
  return stats;
}

void
core_assert_value (SysemSemaphore *sem,
                   int             value)
{
  g_assert_cmpint (core_value (sem), ==, value);
}

typedef struct {
  SysemSemaphore *sem;
  int             n;
  gboolean        users;
} CountWait;

static gboolean
count_reached (gpointer user_data)
{
  CountWait *wait = user_data;
  SysemStats stats = core_stats (wait->sem);

  return (wait->users ? stats.users : stats.waiters) == wait->n;
}

int
core_waiters (SysemSemaphore *sem)
{
  return core_stats (sem).waiters;
}

/* Waits until exactly @n processes or threads sleep in the kernel waiting
 * for a unit (System V GETNCNT; glibc's count of sleepers for POSIX). */
void
core_wait_waiters (SysemSemaphore *sem,
                   int             n)
{
  CountWait wait = { sem, n, FALSE };

  if (!sysem_test_poll (count_reached, &wait, SYSEM_TEST_DEADLINE_USEC))
    g_error ("waiters: expected %d, have %d", n, core_stats (sem).waiters);
}

/* After the waiters that came since core_waiters() gave @base were killed:
 * System V counts them no more. glibc's count of POSIX sleepers is kept by
 * the sleepers themselves, so a killed one stays counted there, and there
 * is nothing to wait for. */
void
core_wait_waiters_gone (SysemSemaphore *sem,
                        int             base)
{
  if (core_stats (sem).key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    core_wait_waiters (sem, base);
}

/* Waits until the System V user count is @n. */
void
core_wait_users (SysemSemaphore *sem,
                 int             n)
{
  CountWait wait = { sem, n, TRUE };

  if (!sysem_test_poll (count_reached, &wait, SYSEM_TEST_DEADLINE_USEC))
    g_error ("users: expected %d, have %d", n, core_stats (sem).users);
}

void
core_acquire (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_no_error (error);
}

void
core_release (SysemSemaphore *sem,
              int             n)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_release (sem, n, &error));
  g_assert_no_error (error);
}

static SysemTestHelper *
core_helper_startv (SysemKeyType  key_type,
                    const char   *key,
                    va_list       args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  SysemTestHelper *helper;
  const char *arg;
  /* The installed tests name their installed copy (tests/meson.build). */
  const char *helper_path = g_getenv ("SYSEM_TEST_HELPER");

  g_ptr_array_add (argv, (gpointer) (helper_path != NULL ? helper_path : SYSEM_TEST_HELPER));
  if (key_type == SYSEM_KEY_TYPE_POSIX)
    g_ptr_array_add (argv, (gpointer) "--posix");
  while ((arg = va_arg (args, const char *)) != NULL && g_str_has_prefix (arg, "--"))
    {
      g_ptr_array_add (argv, (gpointer) arg);
      if (g_str_equal (arg, "--value"))
        g_ptr_array_add (argv, va_arg (args, gpointer));
    }
  g_ptr_array_add (argv, (gpointer) key);
  for (; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  g_ptr_array_add (argv, NULL);

  helper = sysem_test_helper_spawn ((const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return helper;
}

/* Starts the helper program on @key with options (those that start with
 * "--") and commands, and waits until it has opened the semaphore. */
SysemTestHelper *
core_helper_start (SysemKeyType  key_type,
                   const char   *key,
                   ...)
{
  SysemTestHelper *helper;
  va_list args;

  va_start (args, key);
  helper = core_helper_startv (key_type, key, args);
  va_end (args);

  sysem_test_helper_expect_line (helper, "opened");
  return helper;
}

/* Expects @last_line (unless %NULL), then the helper's successful exit. */
void
core_helper_finish (SysemTestHelper *helper,
                    const char      *last_line)
{
  if (last_line != NULL)
    sysem_test_helper_expect_line (helper, last_line);
  g_assert_cmpint (sysem_test_helper_wait (helper), ==, 0);
  sysem_test_helper_free (helper);
}

/* Runs the helper to its end; returns its exit status. */
int
core_run_helper (SysemKeyType  key_type,
                 const char   *key,
                 ...)
{
  g_autoptr(SysemTestHelper) helper = NULL;
  va_list args;

  va_start (args, key);
  helper = core_helper_startv (key_type, key, args);
  va_end (args);

  return sysem_test_helper_wait (helper);
}
