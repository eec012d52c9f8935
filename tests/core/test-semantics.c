/* test-semantics.c: the semantics of DESIGN.md §3, both key types
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include "sysem-test-util.h"

/* Open never resets, Create always does, a missing semaphore is created
 * with the initial value in both modes. */

static void
test_open_and_create (SysemTestFixture *fixture)
{
  SysemSemaphore *first, *opened, *created;

  first = sysem_test_fixture_open (fixture, 3, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_assert_value (first, 3);
  sysem_test_acquire (first);

  opened = sysem_test_fixture_open (fixture, 7, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (opened, 2);
  g_assert_cmpint (sysem_semaphore_get_initial_value (opened), ==, 7);
  sysem_test_assert_value (first, 2);

  created = sysem_test_fixture_open (fixture, 5, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_assert_value (created, 5);

  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    {
      /* One kernel semaphore, reset for everyone. */
      sysem_test_assert_value (first, 5);
      sysem_test_assert_value (opened, 5);
    }
  else
    {
      /* POSIX Create replaces the semaphore under the name, as Qt does;
       * the older objects see that theirs was removed, and newcomers get
       * the new one. */
      SysemSemaphore *later = sysem_test_fixture_open (fixture, 9, SYSEM_ACCESS_MODE_OPEN);

      sysem_test_assert_removed (first);
      sysem_test_assert_removed (opened);
      sysem_test_assert_value (later, 5);
      g_object_unref (later);
    }

  /* The creator of the old POSIX semaphore must not unlink the new one. */
  g_object_unref (first);
  g_object_unref (opened);
  g_assert_false (sysem_test_key_is_clean (fixture->key, fixture->key_type));
  sysem_test_assert_value (created, 5);
  g_object_unref (created);
}

static void
test_missing_is_created (SysemTestFixture *fixture)
{
  for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
    {
      g_autofree char *key = sysem_test_key ("missing");
      SysemSemaphore *sem;

      sysem_test_assert_key_clean (key, fixture->key_type);
      sem = sysem_test_open (key, fixture->key_type, 4, mode);
      sysem_test_assert_value (sem, 4);
      g_assert_cmpint (sysem_semaphore_get_mode (sem), ==, mode);
      g_object_unref (sem);
      sysem_test_assert_key_clean (key, fixture->key_type);
    }
}

/* try_acquire */

static void
test_try_acquire_no_wait (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 0);

  g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  sysem_test_assert_value (sem, 0);
  g_assert_cmpint (sysem_test_waiters (sem), ==, 0);

  sysem_test_release (sem, 1);
  g_object_unref (sem);
}

static void
test_try_acquire_timeout (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  gint64 timeout = 30 * G_TIME_SPAN_MILLISECOND;
  gint64 start;

  /* A timeout shorter than one wait slice, and one longer. */
  for (int i = 0; i < 2; i++, timeout *= 3)
    {
      start = g_get_monotonic_time ();
      g_assert_false (sysem_semaphore_try_acquire (sem, timeout, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_clear_error (&error);
      /* It may take longer on a busy machine, never less. */
      g_assert_cmpint (g_get_monotonic_time () - start, >=, timeout);
      sysem_test_assert_value (sem, 0);
    }

  g_object_unref (sem);
}

static void
test_try_acquire_released (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemSemaphore *other = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_OPEN);
  g_autoptr(GError) error = NULL;
  SysemTestWaiter *waiter;

  /* Released through the same object, then through another one. */
  waiter = sysem_test_waiter_start (sem, NULL, 600 * G_USEC_PER_SEC);
  sysem_test_release (sem, 1);
  g_assert_true (sysem_test_waiter_join (waiter, &error));
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 0);

  waiter = sysem_test_waiter_start (sem, NULL, 600 * G_USEC_PER_SEC);
  sysem_test_release (other, 1);
  g_assert_true (sysem_test_waiter_join (waiter, &error));
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 0);

  g_object_unref (other);
  g_object_unref (sem);
}

/* Cancellation */

static void
test_cancel_acquire (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);

  /* acquire(), then try_acquire() with a long timeout. */
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      SysemTestWaiter *waiter;

      waiter = sysem_test_waiter_start (sem, cancellable, i == 0 ? -1 : 600 * G_USEC_PER_SEC);
      g_cancellable_cancel (cancellable);
      g_assert_false (sysem_test_waiter_join (waiter, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      sysem_test_assert_value (sem, 0);
    }

  /* The semaphore still works, and no unit was lost or made. */
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 1);
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);

  g_object_unref (sem);
}

static void
test_cancel_before (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 timeouts[] = { -1, 0, G_USEC_PER_SEC };

  g_cancellable_cancel (cancellable);

  /* Already cancelled: fail at once, also when a unit is free. */
  for (guint i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean acquired;

      if (timeouts[i] < 0)
        acquired = sysem_semaphore_acquire (sem, cancellable, &error);
      else
        acquired = sysem_semaphore_try_acquire (sem, timeouts[i], cancellable, &error);

      g_assert_false (acquired);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      sysem_test_assert_value (sem, 1);
    }

  g_object_unref (sem);
}

/* Removal under a waiter */

/* `ipcrm -s ID`, or what it does when util-linux is missing. */
static void
ipcrm (int semid)
{
  g_autofree char *program = g_find_program_in_path ("ipcrm");
  g_autofree char *id = g_strdup_printf ("%d", semid);
  g_autoptr(GError) error = NULL;
  int status;

  if (program == NULL)
    {
      g_assert_cmpint (semctl (semid, 0, IPC_RMID), ==, 0);
      return;
    }

  g_spawn_sync (NULL, (char *[]) { program, (char *) "-s", id, NULL }, NULL,
                G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);
}

typedef enum {
  REMOVE_SAME_OBJECT,
  REMOVE_OTHER_OBJECT,
  REMOVE_EXTERNAL,      /* ipcrm -s, or unlink of the POSIX file */
} RemoveHow;

static void
remove_under_waiter (SysemKeyType key_type,
                     RemoveHow    how,
                     gboolean     with_cancellable)
{
  g_autofree char *key = sysem_test_key ("removed");
  g_autofree char *path = sysem_test_key_path (key, key_type);
  g_autoptr(GCancellable) cancellable = with_cancellable ? g_cancellable_new () : NULL;
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem, *other;
  SysemStats stats;
  SysemTestWaiter *waiter;

  sem = sysem_test_open (key, key_type, 0, SYSEM_ACCESS_MODE_CREATE);
  other = sysem_test_open (key, key_type, 0, SYSEM_ACCESS_MODE_OPEN);
  stats = sysem_test_stats (sem);

  waiter = sysem_test_waiter_start (sem, cancellable, -1);

  switch (how)
    {
    case REMOVE_SAME_OBJECT:
      g_assert_true (sysem_semaphore_remove (sem, &error));
      g_assert_no_error (error);
      break;
    case REMOVE_OTHER_OBJECT:
      g_assert_true (sysem_semaphore_remove (other, &error));
      g_assert_no_error (error);
      break;
    case REMOVE_EXTERNAL:
      if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        ipcrm (stats.id);
      else
        g_assert_cmpint (unlink (path), ==, 0);
      break;
    default:
      g_assert_not_reached ();
    }

  g_assert_false (sysem_test_waiter_join (waiter, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  if (how != REMOVE_EXTERNAL || key_type == SYSEM_KEY_TYPE_POSIX)
    sysem_test_assert_key_clean (key, key_type);
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_false (sysem_test_semid_exists (stats.id));

  /* Gone for good: nothing re-creates it behind the user's back. */
  for (int i = 0; i < 2; i++)
    {
      SysemSemaphore *s = i == 0 ? sem : other;

      g_assert_false (sysem_semaphore_acquire (s, NULL, &error));
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
      g_clear_error (&error);
      g_assert_false (sysem_semaphore_try_acquire (s, 0, NULL, &error));
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
      g_clear_error (&error);
      g_assert_false (sysem_semaphore_release (s, 1, &error));
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
      g_clear_error (&error);
      g_assert_cmpint (sysem_semaphore_get_value (s, &error), ==, -1);
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
      g_clear_error (&error);
      g_assert_false (sysem_semaphore_remove (s, &error));
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
      g_clear_error (&error);
    }

  if (how != REMOVE_EXTERNAL || key_type == SYSEM_KEY_TYPE_POSIX)
    sysem_test_assert_key_clean (key, key_type);

  g_object_unref (other);
  g_object_unref (sem);
  /* The last object saw the set gone and took the key file with it. */
  sysem_test_assert_key_clean (key, key_type);

  /* The key can be used again: a new semaphore. */
  sem = sysem_test_open (key, key_type, 2, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (sem, 2);
  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

static void
test_removed_same_object (SysemTestFixture *fixture)
{
  remove_under_waiter (fixture->key_type, REMOVE_SAME_OBJECT, FALSE);
}

static void
test_removed_other_object (SysemTestFixture *fixture)
{
  remove_under_waiter (fixture->key_type, REMOVE_OTHER_OBJECT, FALSE);
  remove_under_waiter (fixture->key_type, REMOVE_OTHER_OBJECT, TRUE);
}

static void
test_removed_externally (SysemTestFixture *fixture)
{
  remove_under_waiter (fixture->key_type, REMOVE_EXTERNAL, FALSE);
  remove_under_waiter (fixture->key_type, REMOVE_EXTERNAL, TRUE);
}

/* A waiter in another process learns it too, and exits. */
static void
test_removed_other_process (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("error %d", SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  SysemTestHelper *helper;
  int base = sysem_test_waiters (sem);

  helper = sysem_test_helper_start (fixture->key_type, fixture->key, "acquire", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_wait_waiters (sem, base + 1);

  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  sysem_test_helper_expect_line (helper, expected);
  g_assert_cmpint (sysem_test_helper_wait (helper), ==, 1);
  sysem_test_helper_free (helper);

  /* The helper left without making it again. */
  sysem_test_assert_key_clean (fixture->key, fixture->key_type);
  g_object_unref (sem);
}

/* After remove(), setting the same key again in Open mode opens a new
 * semaphore instead of doing nothing, as it would for a live one. */
static void
test_removed_set_key_reopens (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 2, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (sysem_semaphore_set_key (sem, fixture->key, 3, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 3);
  g_assert_true (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_no_error (error);

  g_object_unref (sem);
}

/* release */

static void
test_release_zero (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_release (sem, 0);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 3);
  sysem_test_release (sem, 0);
  sysem_test_assert_value (sem, 3);

  g_object_unref (sem);
}

static void
assert_release_too_many (SysemSemaphore *sem,
                         int             n,
                         int             value)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (sysem_semaphore_release (sem, n, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES);
  sysem_test_assert_value (sem, value);
}

static void
test_release_limit_system_v (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);

  /* Qt passes n through a short: 40000 would wrap. */
  assert_release_too_many (sem, 32767, 1);
  assert_release_too_many (sem, 40000, 1);
  assert_release_too_many (sem, 65536 + 1, 1);
  assert_release_too_many (sem, G_MAXINT, 1);

  /* Up to the maximum is fine, one more is not. */
  sysem_test_release (sem, 32766);
  sysem_test_assert_value (sem, 32767);
  assert_release_too_many (sem, 1, 32767);

  /* With units held, part of a release is undone at exit: same limit. */
  sysem_test_acquire (sem);
  sysem_test_acquire (sem);
  assert_release_too_many (sem, 3, 32765);
  sysem_test_release (sem, 2);
  sysem_test_assert_value (sem, 32767);

  g_object_unref (sem);
}

static void
test_release_limit_posix (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);

  assert_release_too_many (sem, G_MAXINT, 1);
  sysem_test_release (sem, 40000);
  sysem_test_assert_value (sem, 40001);

  g_object_unref (sem);
}

static void
test_initial_value_limit_system_v (SysemTestFixture *fixture)
{
  for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
    {
      g_autofree char *key = sysem_test_key ("initiallimit");
      g_autoptr(GError) error = NULL;
      g_autoptr(SysemSemaphore) sem = NULL;

      sem = sysem_semaphore_new (key, 32768, mode, &error);
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES);
      g_assert_null (sem);
      g_clear_error (&error);
      sysem_test_assert_key_clean (key, SYSEM_KEY_TYPE_SYSTEM_V);

      sem = sysem_semaphore_new (key, G_MAXINT, mode, &error);
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES);
      g_assert_null (sem);
      g_clear_error (&error);
      sysem_test_assert_key_clean (key, SYSEM_KEY_TYPE_SYSTEM_V);

      /* The maximum itself is fine. */
      sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 32767, mode);
      sysem_test_assert_value (sem, 32767);

      /* set_key() to a value too large fails the same way. */
      g_assert_false (sysem_semaphore_set_key (sem, key, 32768, SYSEM_ACCESS_MODE_CREATE, &error));
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES);
      g_clear_object (&sem);
      sysem_test_assert_key_clean (key, SYSEM_KEY_TYPE_SYSTEM_V);
    }
}

static void
test_initial_value_large_posix (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 32768, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_assert_value (sem, 32768);
  g_object_unref (sem);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/core/{system-v}/open-never-resets-create-does", test_open_and_create);
  sysem_test_add_both_types ("/core/{system-v}/missing-is-created", test_missing_is_created);
  sysem_test_add_both_types ("/core/{system-v}/try-acquire/no-wait", test_try_acquire_no_wait);
  sysem_test_add_both_types ("/core/{system-v}/try-acquire/timeout", test_try_acquire_timeout);
  sysem_test_add_both_types ("/core/{system-v}/try-acquire/released", test_try_acquire_released);
  sysem_test_add_both_types ("/core/{system-v}/cancel/while-waiting", test_cancel_acquire);
  sysem_test_add_both_types ("/core/{system-v}/cancel/before", test_cancel_before);
  sysem_test_add_both_types ("/core/{system-v}/removed/same-object", test_removed_same_object);
  sysem_test_add_both_types ("/core/{system-v}/removed/other-object", test_removed_other_object);
  sysem_test_add_both_types ("/core/{system-v}/removed/externally", test_removed_externally);
  sysem_test_add_both_types ("/core/{system-v}/removed/other-process", test_removed_other_process);
  sysem_test_add_both_types ("/core/{system-v}/removed/set-key-reopens", test_removed_set_key_reopens);
  sysem_test_add_both_types ("/core/{system-v}/release/zero", test_release_zero);
  sysem_test_add ("/core/system-v/release/limit", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_release_limit_system_v);
  sysem_test_add ("/core/posix/release/limit", SYSEM_KEY_TYPE_POSIX,
                  test_release_limit_posix);
  sysem_test_add ("/core/system-v/initial-value/limit", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_initial_value_limit_system_v);
  sysem_test_add ("/core/posix/initial-value/large", SYSEM_KEY_TYPE_POSIX,
                  test_initial_value_large_posix);

  return g_test_run ();
}
