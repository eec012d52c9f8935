/* test-scenarios.c: the scenarios of Qt's own QSystemSemaphore tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Each scenario of Qt's suite, for both key types where it applies. Where
 * Qt waits ten seconds to see that a helper is still blocked, these tests
 * wait for the helper's "acquiring" line and then for the kernel to count
 * it as a waiter. */

#include "config.h"

#include "core-support.h"

/* key: an object without a key is valid, and set_key() moves it. */

static void
test_key_null_null (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;

  sem = sysem_semaphore_new_full (NULL, key_type, 0, SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sem);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_null (sysem_semaphore_get_native_key (sem));
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, key_type);

  g_assert_true (sysem_semaphore_set_key (sem, NULL, 0, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, key_type);
}

static void
test_key_null_one (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *one = sysem_test_key ("one");
  g_autofree char *one_path = sysem_test_key_path (one, key_type);

  sem = sysem_semaphore_new_full (NULL, key_type, 0, SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_no_error (error);

  g_assert_true (sysem_semaphore_set_key (sem, one, 1, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, one);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, key_type);
  g_assert_true (g_file_test (one_path, G_FILE_TEST_EXISTS));
  core_assert_value (sem, 1);

  g_clear_object (&sem);
  sysem_test_assert_key_clean (one, key_type);
}

static void
test_key_one_two (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *one = sysem_test_key ("one");
  g_autofree char *two = sysem_test_key ("two");

  sem = core_new (one, key_type, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, one);
  g_assert_false (sysem_test_key_is_clean (one, key_type));

  g_assert_true (sysem_semaphore_set_key (sem, two, 2, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, two);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, key_type);
  sysem_test_assert_key_clean (one, key_type);
  core_assert_value (sem, 2);

  /* And back to no key: the semaphore is left. */
  g_assert_true (sysem_semaphore_set_key (sem, NULL, 0, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_null (sysem_semaphore_get_key (sem));
  sysem_test_assert_key_clean (two, key_type);
}

/* basicacquire */

static void
test_basic_acquire (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autofree char *key = sysem_test_key ("basicacquire");
  SysemSemaphore *sem = core_new (key, key_type, 1, SYSEM_ACCESS_MODE_CREATE);

  core_acquire (sem);
  core_assert_value (sem, 0);
  core_release (sem, 1);
  core_assert_value (sem, 1);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

/* complexacquire */

static void
test_complex_acquire (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autofree char *key = sysem_test_key ("complexacquire");
  SysemSemaphore *sem = core_new (key, key_type, 2, SYSEM_ACCESS_MODE_CREATE);

  core_acquire (sem);
  core_release (sem, 1);
  core_acquire (sem);
  core_release (sem, 1);
  core_assert_value (sem, 2);

  core_acquire (sem);
  core_acquire (sem);
  core_assert_value (sem, 0);
  core_release (sem, 1);
  core_release (sem, 1);
  core_assert_value (sem, 2);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

/* release: releasing "creates" units. */

static void
test_release (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autofree char *key = sysem_test_key ("release");
  SysemSemaphore *sem = core_new (key, key_type, 0, SYSEM_ACCESS_MODE_CREATE);

  core_release (sem, 1);
  core_release (sem, 1);
  core_assert_value (sem, 2);
  core_acquire (sem);
  core_acquire (sem);
  core_assert_value (sem, 0);
  core_release (sem, 1);
  core_release (sem, 1);
  core_assert_value (sem, 2);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

/* basicProcesses: a helper that acquires blocks until killed; a helper
 * that releases exits. */

static void
test_basic_processes (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autofree char *key = sysem_test_key ("basicprocesses");
  SysemSemaphore *sem = core_new (key, key_type, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *acquirer;
  int base = core_waiters (sem);

  acquirer = core_helper_start (key_type, key, "acquire", NULL);
  sysem_test_helper_expect_line (acquirer, "acquiring");
  core_wait_waiters (sem, base + 1);

  g_assert_cmpint (sysem_test_helper_kill (acquirer), ==, 128 + SIGKILL);
  sysem_test_helper_free (acquirer);
  core_wait_waiters_gone (sem, base);
  core_assert_value (sem, 0);

  core_helper_finish (core_helper_start (key_type, key, "release", NULL), "released");
  core_assert_value (sem, 1);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

/* processes: 1, 3 and 10 helpers take turns, five rounds each. */

static void
run_processes (SysemKeyType key_type,
               guint        n_helpers)
{
  g_autofree char *key = sysem_test_key ("processes");
  SysemSemaphore *sem = core_new (key, key_type, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GPtrArray) helpers = g_ptr_array_new ();

  for (guint i = 0; i < n_helpers; i++)
    g_ptr_array_add (helpers, core_helper_start (key_type, key, "acquirerelease", "5", NULL));

  for (guint i = 0; i < n_helpers; i++)
    core_helper_finish (helpers->pdata[i], "done");

  core_assert_value (sem, 1);
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    core_wait_users (sem, 1);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

static void
test_processes_1 (gconstpointer data)
{
  run_processes (CORE_KEY_TYPE (data), 1);
}

static void
test_processes_3 (gconstpointer data)
{
  run_processes (CORE_KEY_TYPE (data), 3);
}

static void
test_processes_10 (gconstpointer data)
{
  run_processes (CORE_KEY_TYPE (data), 10);
}

/* undo (System V only): a helper that acquires and exits without releasing
 * does not keep the unit. */

static void
test_undo_system_v_only (void)
{
  g_autofree char *key = sysem_test_key ("undo");
  SysemSemaphore *sem = core_new (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;

  helper = core_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, key, "acquire", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  core_helper_finish (helper, "acquired");
  core_assert_value (sem, 1);

  helper = core_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, key, "acquire", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  core_helper_finish (helper, "acquired");
  core_assert_value (sem, 1);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, SYSEM_KEY_TYPE_SYSTEM_V);
}

/* initialValue: with 1 unit, a helper that wants two blocks. What an exited
 * helper acquired comes back (System V: the kernel's undo; POSIX: sysem's
 * holder ledger). */

static void
test_initial_value (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  gboolean undo = TRUE;
  g_autofree char *key = sysem_test_key ("initialvalue");
  SysemSemaphore *sem = core_new (key, key_type, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;
  int base = core_waiters (sem);

  helper = core_helper_start (key_type, key, "acquire", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  core_helper_finish (helper, "acquired");
  core_assert_value (sem, undo ? 1 : 0);

  /* Blocks: at the second unit with undo, at the first without. */
  helper = core_helper_start (key_type, key, "acquire", "2", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  if (undo)
    {
      sysem_test_helper_expect_line (helper, "acquired");
      sysem_test_helper_expect_line (helper, "acquiring");
    }
  core_wait_waiters (sem, base + 1);
  core_assert_value (sem, 0);
  g_assert_cmpint (sysem_test_helper_kill (helper), ==, 128 + SIGKILL);
  sysem_test_helper_free (helper);
  core_wait_waiters_gone (sem, base);
  base = core_waiters (sem);
  core_assert_value (sem, undo ? 1 : 0);

  /* Blocks again; a release lets it finish. */
  helper = core_helper_start (key_type, key, "acquire", "2", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  if (undo)
    {
      sysem_test_helper_expect_line (helper, "acquired");
      sysem_test_helper_expect_line (helper, "acquiring");
    }
  core_wait_waiters (sem, base + 1);
  core_helper_finish (core_helper_start (key_type, key, "release", undo ? "1" : "2", NULL),
                      "released");
  sysem_test_helper_expect_line (helper, "acquired");
  if (!undo)
    {
      sysem_test_helper_expect_line (helper, "acquiring");
      sysem_test_helper_expect_line (helper, "acquired");
    }
  core_helper_finish (helper, NULL);

  /* System V undid the helper's two acquires; the released unit stays. */
  core_assert_value (sem, undo ? 2 : 0);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

/* twoSemaphores: a Create and an Open object on one key, in one process. */

static void
test_two_semaphores (gconstpointer data)
{
  SysemKeyType key_type = CORE_KEY_TYPE (data);
  g_autofree char *key = sysem_test_key ("twosemaphores");
  g_autoptr(GError) error = NULL;
  SysemSemaphore *created, *opened;

  created = core_new (key, key_type, 1, SYSEM_ACCESS_MODE_CREATE);
  opened = core_new (key, key_type, 5, SYSEM_ACCESS_MODE_OPEN);
  core_assert_value (opened, 1);

  core_acquire (created);
  g_assert_false (sysem_semaphore_try_acquire (opened, 0, NULL, &error));
  g_assert_no_error (error);
  core_release (created, 1);

  core_acquire (opened);
  g_assert_false (sysem_semaphore_try_acquire (created, 0, NULL, &error));
  g_assert_no_error (error);
  core_release (opened, 1);

  core_release (opened, 1);
  core_assert_value (created, 2);
  core_acquire (created);
  core_acquire (opened);
  core_assert_value (created, 0);
  core_release (created, 1);
  core_release (opened, 1);
  core_assert_value (opened, 2);

  g_object_unref (opened);
  g_assert_false (sysem_test_key_is_clean (key, key_type));
  g_object_unref (created);
  sysem_test_assert_key_clean (key, key_type);
}

/* changeKeyType: the same object moved to the other key type. */

static void
test_change_key_type (gconstpointer data)
{
  SysemKeyType from = CORE_KEY_TYPE (data);
  SysemKeyType to = from == SYSEM_KEY_TYPE_POSIX ? SYSEM_KEY_TYPE_SYSTEM_V : SYSEM_KEY_TYPE_POSIX;
  g_autofree char *key = sysem_test_key ("changekeytype");
  g_autofree char *old_native = NULL;
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem, *other;

  sem = core_new (key, from, 1, SYSEM_ACCESS_MODE_CREATE);
  old_native = g_strdup (sysem_semaphore_get_native_key (sem));
  core_acquire (sem);
  core_assert_value (sem, 0);

  g_assert_true (sysem_semaphore_set_key_full (sem, key, to, 1, SYSEM_ACCESS_MODE_CREATE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, to);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, key);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), !=, old_native);
  sysem_test_assert_key_clean (key, from);
  g_assert_false (sysem_test_key_is_clean (key, to));

  core_assert_value (sem, 1);
  core_acquire (sem);
  core_assert_value (sem, 0);
  core_release (sem, 1);

  /* The key in the old type is a different, new semaphore. */
  other = core_new (key, from, 3, SYSEM_ACCESS_MODE_OPEN);
  core_assert_value (other, 3);
  core_assert_value (sem, 1);
  g_object_unref (other);
  sysem_test_assert_key_clean (key, from);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, to);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  core_add_both_types ("key/null-null", test_key_null_null);
  core_add_both_types ("key/null-one", test_key_null_one);
  core_add_both_types ("key/one-two", test_key_one_two);
  core_add_both_types ("basicacquire", test_basic_acquire);
  core_add_both_types ("complexacquire", test_complex_acquire);
  core_add_both_types ("release", test_release);
  core_add_both_types ("basicProcesses", test_basic_processes);
  core_add_both_types ("processes/1", test_processes_1);
  core_add_both_types ("processes/3", test_processes_3);
  core_add_both_types ("processes/10", test_processes_10);
  g_test_add_func ("/core/system-v/undo-system-v-only", test_undo_system_v_only);
  core_add_both_types ("initialValue", test_initial_value);
  core_add_both_types ("twoSemaphores", test_two_semaphores);
  core_add_both_types ("changeKeyType", test_change_key_type);

  return g_test_run ();
}
