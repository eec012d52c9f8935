/* stress-worker.c: one process of the stress test
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * stress-worker sysv|posix KEY INDEX ITERATIONS [churn]
 *
 * Opens KEY and runs STRESS_THREADS threads that acquire a unit, mark
 * themselves as holders in the shared record on descriptor 3, work a
 * little, unmark themselves and release. With ITERATIONS > 0 each thread
 * does that many rounds with blocking acquires. With ITERATIONS = 0 the
 * threads run until the record's stop flag is set, and every wait can end
 * by itself: half the threads use timed acquires, the other half
 * cancellable ones that a watcher cancels when told to stop.
 *
 * With "churn", each thread opens the key afresh for every round and
 * finalizes it after, on a semaphore of one unit that nobody else keeps
 * open: the set is made and removed over and over, racing with the other
 * processes' opens.
 *
 * Prints nothing on stdout; exits 0 on success.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>

#include "sysem.h"
#include "stress-shared.h"

typedef struct {
  SysemSemaphore *sem;
  StressShared   *shared;
  GCancellable   *cancellable;
  int             worker;
  int             thread;
  gint64          iterations;
  SysemKeyType    key_type;
  const char     *key;
} Worker;

static void
record_error (StressShared *shared,
              const char   *message)
{
  if (g_atomic_int_add (&shared->errors, 1) == 0)
    g_strlcpy (shared->error_message, message, sizeof shared->error_message);
  g_printerr ("stress-worker: %s\n", message);
}

static void
work_a_little (int round)
{
  /* Long enough that holders overlap, short enough to keep the test quick. */
  volatile int sink = 0;

  for (int i = 0; i < 200 + (round % 7) * 50; i++)
    sink += i;
  if (round % 3 == 0)
    sched_yield ();
}

static gpointer
churn_thread (gpointer data)
{
  Worker *self = data;
  StressShared *shared = self->shared;

  for (gint64 round = 0; round < self->iterations; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SysemSemaphore) sem = NULL;
      int live;

      sem = sysem_semaphore_new_full (self->key, self->key_type, 1,
                                      SYSEM_ACCESS_MODE_OPEN, &error);
      if (sem == NULL || !sysem_semaphore_acquire (sem, NULL, &error))
        {
          record_error (shared, error->message);
          return NULL;
        }

      /* One unit: whoever holds it must be alone, or two processes are
       * counting on two different sets. */
      live = stress_enter (shared, self->worker);
      if (live > 1)
        g_atomic_int_inc (&shared->violations);
      for (int max = g_atomic_int_get (&shared->max_live);
           live > max && !g_atomic_int_compare_and_exchange (&shared->max_live, max, live);
           max = g_atomic_int_get (&shared->max_live))
        ;
      work_a_little ((int) round);
      stress_leave (shared, self->worker);

      if (!sysem_semaphore_release (sem, 1, &error))
        {
          record_error (shared, error->message);
          return NULL;
        }

      __atomic_add_fetch (&shared->ops[self->worker], 1, __ATOMIC_RELAXED);
    }

  return NULL;
}

static gpointer
worker_thread (gpointer data)
{
  Worker *self = data;
  StressShared *shared = self->shared;
  gboolean until_stop = self->iterations == 0;

  for (gint64 round = 0; until_stop || round < self->iterations; round++)
    {
      g_autoptr(GError) error = NULL;
      gboolean acquired;
      int live;

      if (until_stop && g_atomic_int_get (&shared->stop))
        break;

      if (until_stop && self->thread % 2 == 0)
        acquired = sysem_semaphore_try_acquire (self->sem, 20 * G_TIME_SPAN_MILLISECOND,
                                                NULL, &error);
      else if (until_stop)
        acquired = sysem_semaphore_acquire (self->sem, self->cancellable, &error);
      else if (self->thread == 3)
        /* A cancellable that is never cancelled: the sliced wait. */
        acquired = sysem_semaphore_acquire (self->sem, self->cancellable, &error);
      else if (self->thread == 2)
        acquired = sysem_semaphore_try_acquire (self->sem, -1, NULL, &error);
      else
        acquired = sysem_semaphore_acquire (self->sem, NULL, &error);

      if (!acquired)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              __atomic_add_fetch (&shared->timeouts[self->worker], 1, __ATOMIC_RELAXED);
              continue;
            }
          if (until_stop && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              __atomic_add_fetch (&shared->cancelled[self->worker], 1, __ATOMIC_RELAXED);
              break;
            }
          record_error (shared, error->message);
          return NULL;
        }

      live = stress_enter (shared, self->worker);
      if (live > STRESS_UNITS)
        g_atomic_int_inc (&shared->violations);
      for (int max = g_atomic_int_get (&shared->max_live);
           live > max && !g_atomic_int_compare_and_exchange (&shared->max_live, max, live);
           max = g_atomic_int_get (&shared->max_live))
        ;

      work_a_little ((int) round);

      stress_leave (shared, self->worker);
      if (!sysem_semaphore_release (self->sem, 1, &error))
        {
          record_error (shared, error->message);
          return NULL;
        }

      __atomic_add_fetch (&shared->ops[self->worker], 1, __ATOMIC_RELAXED);
    }

  return NULL;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  Worker workers[STRESS_THREADS];
  GThread *threads[STRESS_THREADS];
  StressShared *shared;
  SysemKeyType key_type;
  int worker;
  gint64 iterations;
  gboolean churn;

  if (argc != 5 && !(argc == 6 && g_str_equal (argv[5], "churn")))
    {
      g_printerr ("usage: stress-worker sysv|posix KEY INDEX ITERATIONS [churn]\n");
      return 2;
    }
  churn = argc == 6;

  /* Never outlive the test, even if it fails half way. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () == 1)
    return 1;

  key_type = g_str_equal (argv[1], "posix") ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V;
  worker = atoi (argv[3]);
  iterations = g_ascii_strtoll (argv[4], NULL, 10);
  g_assert (worker >= 0 && worker < STRESS_WORKERS);

  shared = mmap (NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED, STRESS_SHARED_FD, 0);
  if (shared == MAP_FAILED)
    {
      g_printerr ("stress-worker: cannot map the shared record: %s\n", g_strerror (errno));
      return 1;
    }

  if (!churn)
    sem = sysem_semaphore_new_full (argv[2], key_type, STRESS_UNITS,
                                    SYSEM_ACCESS_MODE_OPEN, &error);
  if (!churn && sem == NULL)
    {
      record_error (shared, error->message);
      return 1;
    }

  cancellable = g_cancellable_new ();

  for (int t = 0; t < STRESS_THREADS; t++)
    {
      workers[t] = (Worker) {
        .sem = sem,
        .shared = shared,
        .cancellable = cancellable,
        .worker = worker,
        .thread = t,
        .iterations = iterations,
        .key_type = key_type,
        .key = argv[2],
      };
      threads[t] = g_thread_new ("stress", churn ? churn_thread : worker_thread, &workers[t]);
    }

  if (iterations == 0)
    {
      /* The cancellable waits end when the test says stop. */
      while (!g_atomic_int_get (&shared->stop))
        g_usleep (2 * G_TIME_SPAN_MILLISECOND);
      g_cancellable_cancel (cancellable);
    }

  for (int t = 0; t < STRESS_THREADS; t++)
    g_thread_join (threads[t]);

  return g_atomic_int_get (&shared->errors) == 0 ? 0 : 1;
}
