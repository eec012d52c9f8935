/* sysem-test-stats.c: what the kernel says of a semaphore, for the tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The only part of the test library that reads the library's private
 * statistics (sysem_semaphore_get_stats()): a test that uses it must be
 * built against the static copy (sysem_internal_dep). */

#include "config.h"

#include <unistd.h>

#include "sysem-test-util.h"

SysemStats
sysem_test_stats (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;
  SysemStats stats;

  g_assert_true (sysem_semaphore_get_stats (sem, &stats, &error));
  g_assert_no_error (error);
  return stats;
}

/* How many processes or threads sleep in the kernel waiting for a unit
 * (System V GETNCNT; glibc's count of sleepers for POSIX). */
int
sysem_test_waiters (SysemSemaphore *sem)
{
  return sysem_test_stats (sem).waiters;
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
  SysemStats stats = sysem_test_stats (wait->sem);

  return (wait->users ? stats.users : stats.waiters) == wait->n;
}

/* Waits until exactly @n processes or threads wait for a unit. */
void
sysem_test_wait_waiters (SysemSemaphore *sem,
                         int             n)
{
  CountWait wait = { sem, n, FALSE };

  if (!sysem_test_poll (count_reached, &wait, SYSEM_TEST_DEADLINE_USEC))
    g_error ("waiters: expected %d, have %d", n, sysem_test_waiters (sem));
}

/* After the waiters that came since sysem_test_waiters() gave @base were
 * killed: System V counts them no more. glibc's count of POSIX sleepers is
 * kept by the sleepers themselves, so a killed one stays counted there,
 * and there is nothing to wait for. */
void
sysem_test_wait_waiters_gone (SysemSemaphore *sem,
                              int             base)
{
  if (sysem_test_stats (sem).key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    sysem_test_wait_waiters (sem, base);
}

/* Waits until the System V user count is @n. */
void
sysem_test_wait_users (SysemSemaphore *sem,
                       int             n)
{
  CountWait wait = { sem, n, TRUE };

  if (!sysem_test_poll (count_reached, &wait, SYSEM_TEST_DEADLINE_USEC))
    g_error ("users: expected %d, have %d", n, sysem_test_stats (sem).users);
}

/* The System V set behind @sem: its id and its kernel key. */
void
sysem_test_sysv_ids (SysemSemaphore *sem,
                     int            *semid,
                     key_t          *ipc_key)
{
  *semid = sysem_test_stats (sem).id;
  *ipc_key = sysem_test_sysv_key (*semid);
}

/* Waiting threads */

struct _SysemTestWaiter
{
  SysemSemaphore *sem;
  GCancellable   *cancellable;
  gint64          timeout;
  gint            tid;        /* atomic; 0 until the thread runs */
  gboolean        acquired;
  GError         *error;
  GThread        *thread;
};

static gpointer
waiter_thread (gpointer data)
{
  SysemTestWaiter *waiter = data;

  g_atomic_int_set (&waiter->tid, (gint) gettid ());
  if (waiter->timeout < 0)
    waiter->acquired = sysem_semaphore_acquire (waiter->sem, waiter->cancellable,
                                                &waiter->error);
  else
    waiter->acquired = sysem_semaphore_try_acquire (waiter->sem, waiter->timeout,
                                                    waiter->cancellable, &waiter->error);
  return NULL;
}

/* Starts a thread that waits for a unit of @sem, and returns at once: it
 * may not wait yet. */
SysemTestWaiter *
sysem_test_waiter_spawn (SysemSemaphore *sem,
                         GCancellable   *cancellable,
                         gint64          timeout_usec)
{
  SysemTestWaiter *waiter = g_new0 (SysemTestWaiter, 1);

  waiter->sem = sem;
  waiter->cancellable = cancellable;
  waiter->timeout = timeout_usec;
  waiter->thread = g_thread_new ("sysem-test-waiter", waiter_thread, waiter);
  return waiter;
}

/* The same, returning once the kernel counts one more waiter. */
SysemTestWaiter *
sysem_test_waiter_start (SysemSemaphore *sem,
                         GCancellable   *cancellable,
                         gint64          timeout_usec)
{
  int base = sysem_test_waiters (sem);
  SysemTestWaiter *waiter = sysem_test_waiter_spawn (sem, cancellable, timeout_usec);

  sysem_test_wait_waiters (sem, base + 1);
  return waiter;
}

static gboolean
waiter_tid_known_cb (gpointer data)
{
  return g_atomic_int_get (&((SysemTestWaiter *) data)->tid) != 0;
}

/* The thread id of the waiter's thread, once it runs. */
int
sysem_test_waiter_get_tid (SysemTestWaiter *waiter)
{
  sysem_test_wait_for (waiter_tid_known_cb, waiter, "the waiter's thread to run");
  return g_atomic_int_get (&waiter->tid);
}

static gboolean
waiter_asleep_cb (gpointer data)
{
  return sysem_test_thread_sleeping (g_atomic_int_get (&((SysemTestWaiter *) data)->tid));
}

/* Waits until the waiter's thread sleeps in the kernel: counted as a
 * waiter is not yet asleep. */
void
sysem_test_waiter_wait_asleep (SysemTestWaiter *waiter)
{
  sysem_test_waiter_get_tid (waiter);
  sysem_test_wait_for (waiter_asleep_cb, waiter, "the waiter to sleep");
}

/* Joins and frees the thread; returns whether it acquired, with its error
 * in @error. */
gboolean
sysem_test_waiter_join (SysemTestWaiter  *waiter,
                        GError          **error)
{
  gboolean acquired;

  g_thread_join (waiter->thread);
  acquired = waiter->acquired;
  if (waiter->error != NULL)
    g_propagate_error (error, waiter->error);
  g_free (waiter);
  return acquired;
}

/* Joins the thread, which must have got its unit. */
void
sysem_test_waiter_join_acquired (SysemTestWaiter *waiter)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_test_waiter_join (waiter, &error));
  g_assert_no_error (error);
}

/* Qt's first scenarios (tests/core/test-scenarios.c), on @sem of any key
 * type, opened with the initial value each names. */

/* basicacquire: a semaphore of 1. */
void
sysem_test_scenario_basic_acquire (SysemSemaphore *sem)
{
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 1);
}

/* complexacquire: a semaphore of 2. */
void
sysem_test_scenario_complex_acquire (SysemSemaphore *sem)
{
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 2);

  sysem_test_acquire (sem);
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 2);
}

/* release: a semaphore of 0, where releasing "creates" units. */
void
sysem_test_scenario_release (SysemSemaphore *sem)
{
  sysem_test_release (sem, 1);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 2);
  sysem_test_acquire (sem);
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 2);
}
