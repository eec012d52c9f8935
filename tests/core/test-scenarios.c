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

#include "sysem-test-util.h"

/* key: an object without a key is valid, and set_key() moves it. */

static void
test_key_null_null (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;

  sem = sysem_test_open (NULL, fixture->key_type, 0, SYSEM_ACCESS_MODE_OPEN);
  g_assert_nonnull (sem);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_null (sysem_semaphore_get_native_key (sem));
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, fixture->key_type);

  g_assert_true (sysem_semaphore_set_key (sem, NULL, 0, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, fixture->key_type);
}

static void
test_key_null_one (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *one = sysem_test_key ("one");
  g_autofree char *one_path = sysem_test_key_path (one, fixture->key_type);

  sem = sysem_test_open (NULL, fixture->key_type, 0, SYSEM_ACCESS_MODE_OPEN);

  g_assert_true (sysem_semaphore_set_key (sem, one, 1, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, one);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, fixture->key_type);
  g_assert_true (g_file_test (one_path, G_FILE_TEST_EXISTS));
  sysem_test_assert_value (sem, 1);

  g_clear_object (&sem);
  sysem_test_assert_key_clean (one, fixture->key_type);
}

static void
test_key_one_two (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *one = sysem_test_key ("one");
  g_autofree char *two = sysem_test_key ("two");

  sem = sysem_test_open (one, fixture->key_type, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, one);
  g_assert_false (sysem_test_key_is_clean (one, fixture->key_type));

  g_assert_true (sysem_semaphore_set_key (sem, two, 2, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, two);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, fixture->key_type);
  sysem_test_assert_key_clean (one, fixture->key_type);
  sysem_test_assert_value (sem, 2);

  /* And back to no key: the semaphore is left. */
  g_assert_true (sysem_semaphore_set_key (sem, NULL, 0, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_null (sysem_semaphore_get_key (sem));
  sysem_test_assert_key_clean (two, fixture->key_type);
}

/* basicacquire */

static void
test_basic_acquire (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_scenario_basic_acquire (sem);
  g_object_unref (sem);
}

/* complexacquire */

static void
test_complex_acquire (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 2, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_scenario_complex_acquire (sem);
  g_object_unref (sem);
}

/* release: releasing "creates" units. */

static void
test_release (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_scenario_release (sem);
  g_object_unref (sem);
}

/* basicProcesses: a helper that acquires blocks until killed; a helper
 * that releases exits. */

static void
test_basic_processes (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *acquirer;
  int base = sysem_test_waiters (sem);

  acquirer = sysem_test_helper_start (fixture->key_type, fixture->key, "acquire", NULL);
  sysem_test_helper_expect_line (acquirer, "acquiring");
  sysem_test_wait_waiters (sem, base + 1);

  g_assert_cmpint (sysem_test_helper_kill (acquirer), ==, 128 + SIGKILL);
  sysem_test_helper_free (acquirer);
  sysem_test_wait_waiters_gone (sem, base);
  sysem_test_assert_value (sem, 0);

  sysem_test_helper_complete (sysem_test_helper_start (fixture->key_type, fixture->key, "release",
                                                       NULL), "released");
  sysem_test_assert_value (sem, 1);

  g_object_unref (sem);
}

/* processes: 1, 3 and 10 helpers take turns, five rounds each. */

static void
run_processes (SysemKeyType key_type,
               guint        n_helpers)
{
  g_autofree char *key = sysem_test_key ("processes");
  SysemSemaphore *sem = sysem_test_open (key, key_type, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GPtrArray) helpers = g_ptr_array_new ();

  for (guint i = 0; i < n_helpers; i++)
    g_ptr_array_add (helpers, sysem_test_helper_start (key_type, key, "acquirerelease", "5", NULL));

  for (guint i = 0; i < n_helpers; i++)
    sysem_test_helper_complete (helpers->pdata[i], "done");

  sysem_test_assert_value (sem, 1);
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    sysem_test_wait_users (sem, 1);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

static void
test_processes_1 (SysemTestFixture *fixture)
{
  run_processes (fixture->key_type, 1);
}

static void
test_processes_3 (SysemTestFixture *fixture)
{
  run_processes (fixture->key_type, 3);
}

static void
test_processes_10 (SysemTestFixture *fixture)
{
  run_processes (fixture->key_type, 10);
}

/* undo (System V only): a helper that acquires and exits without releasing
 * does not keep the unit. */

static void
test_undo_system_v_only (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;

  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "acquire", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_helper_complete (helper, "acquired");
  sysem_test_assert_value (sem, 1);

  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "acquire", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_helper_complete (helper, "acquired");
  sysem_test_assert_value (sem, 1);

  g_object_unref (sem);
}

/* initialValue: with 1 unit, a helper that wants two blocks. What an exited
 * helper acquired comes back (System V: the kernel's undo; POSIX: sysem's
 * holder ledger). */

static void
test_initial_value (SysemTestFixture *fixture)
{
  gboolean undo = TRUE;
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;
  int base = sysem_test_waiters (sem);

  helper = sysem_test_helper_start (fixture->key_type, fixture->key, "acquire", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_helper_complete (helper, "acquired");
  sysem_test_assert_value (sem, undo ? 1 : 0);

  /* Blocks: at the second unit with undo, at the first without. */
  helper = sysem_test_helper_start (fixture->key_type, fixture->key, "acquire", "2", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  if (undo)
    {
      sysem_test_helper_expect_line (helper, "acquired");
      sysem_test_helper_expect_line (helper, "acquiring");
    }
  sysem_test_wait_waiters (sem, base + 1);
  sysem_test_assert_value (sem, 0);
  g_assert_cmpint (sysem_test_helper_kill (helper), ==, 128 + SIGKILL);
  sysem_test_helper_free (helper);
  sysem_test_wait_waiters_gone (sem, base);
  base = sysem_test_waiters (sem);
  sysem_test_assert_value (sem, undo ? 1 : 0);

  /* Blocks again; a release lets it finish. */
  helper = sysem_test_helper_start (fixture->key_type, fixture->key, "acquire", "2", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  if (undo)
    {
      sysem_test_helper_expect_line (helper, "acquired");
      sysem_test_helper_expect_line (helper, "acquiring");
    }
  sysem_test_wait_waiters (sem, base + 1);
  sysem_test_helper_complete (sysem_test_helper_start (fixture->key_type, fixture->key, "release",
                                                       undo ? "1" : "2", NULL),
                              "released");
  sysem_test_helper_expect_line (helper, "acquired");
  if (!undo)
    {
      sysem_test_helper_expect_line (helper, "acquiring");
      sysem_test_helper_expect_line (helper, "acquired");
    }
  sysem_test_helper_complete (helper, NULL);

  /* System V undid the helper's two acquires; the released unit stays. */
  sysem_test_assert_value (sem, undo ? 2 : 0);

  g_object_unref (sem);
}

/* twoSemaphores: a Create and an Open object on one key, in one process. */

static void
test_two_semaphores (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *created, *opened;

  created = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  opened = sysem_test_fixture_open (fixture, 5, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (opened, 1);

  sysem_test_acquire (created);
  g_assert_false (sysem_semaphore_try_acquire (opened, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  sysem_test_release (created, 1);

  sysem_test_acquire (opened);
  g_assert_false (sysem_semaphore_try_acquire (created, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  sysem_test_release (opened, 1);

  sysem_test_release (opened, 1);
  sysem_test_assert_value (created, 2);
  sysem_test_acquire (created);
  sysem_test_acquire (opened);
  sysem_test_assert_value (created, 0);
  sysem_test_release (created, 1);
  sysem_test_release (opened, 1);
  sysem_test_assert_value (opened, 2);

  g_object_unref (opened);
  g_assert_false (sysem_test_key_is_clean (fixture->key, fixture->key_type));
  g_object_unref (created);
}

/* changeKeyType: the same object moved to the other key type. */

static void
test_change_key_type (SysemTestFixture *fixture)
{
  SysemKeyType from = fixture->key_type;
  SysemKeyType to = from == SYSEM_KEY_TYPE_POSIX ? SYSEM_KEY_TYPE_SYSTEM_V : SYSEM_KEY_TYPE_POSIX;
  g_autofree char *old_native = NULL;
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem, *other;

  sem = sysem_test_open (fixture->key, from, 1, SYSEM_ACCESS_MODE_CREATE);
  old_native = g_strdup (sysem_semaphore_get_native_key (sem));
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);

  g_assert_true (sysem_semaphore_set_key_full (sem, fixture->key, to, 1, SYSEM_ACCESS_MODE_CREATE,
                                               &error));
  g_assert_no_error (error);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, to);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, fixture->key);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), !=, old_native);
  sysem_test_assert_key_clean (fixture->key, from);
  g_assert_false (sysem_test_key_is_clean (fixture->key, to));

  sysem_test_assert_value (sem, 1);
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);

  /* The key in the old type is a different, new semaphore. */
  other = sysem_test_open (fixture->key, from, 3, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (other, 3);
  sysem_test_assert_value (sem, 1);
  g_object_unref (other);
  sysem_test_assert_key_clean (fixture->key, from);

  g_object_unref (sem);
  sysem_test_assert_key_clean (fixture->key, to);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/core/{system-v}/key/null-null", test_key_null_null);
  sysem_test_add_both_types ("/core/{system-v}/key/null-one", test_key_null_one);
  sysem_test_add_both_types ("/core/{system-v}/key/one-two", test_key_one_two);
  sysem_test_add_both_types ("/core/{system-v}/basicacquire", test_basic_acquire);
  sysem_test_add_both_types ("/core/{system-v}/complexacquire", test_complex_acquire);
  sysem_test_add_both_types ("/core/{system-v}/release", test_release);
  sysem_test_add_both_types ("/core/{system-v}/basicProcesses", test_basic_processes);
  sysem_test_add_both_types ("/core/{system-v}/processes/1", test_processes_1);
  sysem_test_add_both_types ("/core/{system-v}/processes/3", test_processes_3);
  sysem_test_add_both_types ("/core/{system-v}/processes/10", test_processes_10);
  sysem_test_add ("/core/system-v/undo-system-v-only", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_undo_system_v_only);
  sysem_test_add_both_types ("/core/{system-v}/initialValue", test_initial_value);
  sysem_test_add_both_types ("/core/{system-v}/twoSemaphores", test_two_semaphores);
  sysem_test_add_both_types ("/core/{system-v}/changeKeyType", test_change_key_type);

  return g_test_run ();
}
