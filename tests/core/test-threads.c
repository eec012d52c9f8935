/* test-threads.c: one object used from several threads, and after fork()
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysem-test-util.h"

#define N_THREADS 4
#define N_ROUNDS  300
#define N_UNITS   2

/* A counter that other threads increase, and the value to wait for. */
typedef struct {
  gint *counter;
  gint  target;
} Count;

static gboolean
count_reached_cb (gpointer data)
{
  Count *count = data;

  return g_atomic_int_get (count->counter) >= count->target;
}

/* Waits until *@counter reaches @target; a thread that hangs fails the
 * test. */
static void
wait_count (gint       *counter,
            gint        target,
            const char *what)
{
  Count count = { counter, target };

  sysem_test_wait_for (count_reached_cb, &count, what);
}

typedef struct {
  SysemSemaphore *sem;
  gint            in_use;
  gint            most_in_use;
  gint            failures;
} Shared;

typedef struct {
  Shared *shared;
  int     index;
} Worker;

static gpointer
worker_thread (gpointer data)
{
  Worker *worker = data;
  Shared *shared = worker->shared;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  for (int i = 0; i < N_ROUNDS; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean acquired;
      int in_use, most;

      /* Each thread waits its own way: plain, cancellable, with a
       * timeout, or spinning on try_acquire (0). */
      switch ((worker->index + i) % 4)
        {
        case 0:
          acquired = sysem_semaphore_acquire (shared->sem, NULL, &error);
          break;
        case 1:
          acquired = sysem_semaphore_acquire (shared->sem, cancellable, &error);
          break;
        case 2:
          acquired = sysem_semaphore_try_acquire (shared->sem, G_MAXINT64, NULL, &error);
          break;
        default:
          /* Since 1.1 each miss is G_IO_ERROR_TIMED_OUT. */
          while (!(acquired = sysem_semaphore_try_acquire (shared->sem, 0, NULL, &error)) &&
                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              g_clear_error (&error);
              g_thread_yield ();
            }
          break;
        }

      if (!acquired)
        {
          g_printerr ("thread %d: %s\n", worker->index, error ? error->message : "timeout");
          g_atomic_int_inc (&shared->failures);
          break;
        }

      in_use = g_atomic_int_add (&shared->in_use, 1) + 1;
      do
        most = g_atomic_int_get (&shared->most_in_use);
      while (in_use > most &&
             !g_atomic_int_compare_and_exchange (&shared->most_in_use, most, in_use));
      g_atomic_int_add (&shared->in_use, -1);

      if (!sysem_semaphore_release (shared->sem, 1, &error))
        {
          g_printerr ("thread %d: %s\n", worker->index, error->message);
          g_atomic_int_inc (&shared->failures);
          break;
        }
    }

  return NULL;
}

static void
test_threads_one_object (SysemTestFixture *fixture)
{
  Shared shared = { NULL, 0, 0, 0 };
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];

  shared.sem = sysem_test_fixture_open (fixture, N_UNITS, SYSEM_ACCESS_MODE_CREATE);

  for (int i = 0; i < N_THREADS; i++)
    {
      workers[i].shared = &shared;
      workers[i].index = i;
      threads[i] = g_thread_new ("worker", worker_thread, &workers[i]);
    }
  for (int i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (shared.failures, ==, 0);
  g_assert_cmpint (shared.most_in_use, >=, 1);
  g_assert_cmpint (shared.most_in_use, <=, N_UNITS);
  sysem_test_assert_value (shared.sem, N_UNITS);
  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_cmpint (sysem_test_stats (shared.sem).users, ==, 1);

  g_object_unref (shared.sem);
}

/* A blocked acquire is cancelled from another thread: the cancel happens
 * and no unit is lost, looped, with and without a deadline. This asserts
 * only correctness; how long the cancel takes is measured by the
 * benchmark (sysem-bench --only cancel-latency). */
static void
test_cancel_blocked (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  int rounds = sysem_test_under_valgrind () ? 10 : 100;

  for (int i = 0; i < rounds; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      SysemTestWaiter *waiter;

      /* Sleeping in the kernel once it starts. */
      waiter = sysem_test_waiter_start (sem, cancellable,
                                        i % 2 == 0 ? -1 : (gint64) 3600 * G_USEC_PER_SEC);
      g_cancellable_cancel (cancellable);
      g_assert_false (sysem_test_waiter_join (waiter, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      sysem_test_assert_value (sem, 0);

      /* A unit that comes now is there for the next one, not lost. */
      if (i % 10 == 0)
        {
          sysem_test_release (sem, 1);
          sysem_test_acquire (sem);
        }
    }

  sysem_test_assert_value (sem, 0);
  g_object_unref (sem);
}

/* One cancellable for many waits: several threads block on it at once and
 * one cancel wakes them all; reused for wait after wait, one after another
 * and at once, it is finalized as soon as its owner drops it (sysem keeps
 * no reference to it between waits). */

#define N_SHARED_WAITERS 3

static void
test_cancel_shared (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  int rounds = sysem_test_under_valgrind () ? 5 : 50;
  GCancellable *cancellable = g_cancellable_new ();
  GCancellable *weak = cancellable;

  g_object_add_weak_pointer (G_OBJECT (cancellable), (gpointer *) &weak);

  for (int i = 0; i < rounds; i++)
    {
      SysemTestWaiter *waiters[N_SHARED_WAITERS];

      for (int j = 0; j < N_SHARED_WAITERS; j++)
        waiters[j] = sysem_test_waiter_start (sem, cancellable,
                                              (i + j) % 2 == 0 ? -1 : (gint64) 3600 * G_USEC_PER_SEC);
      g_cancellable_cancel (cancellable);
      for (int j = 0; j < N_SHARED_WAITERS; j++)
        {
          g_autoptr(GError) error = NULL;

          g_assert_false (sysem_test_waiter_join (waiters[j], &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        }
      g_cancellable_reset (cancellable);

      /* A wait that ends by its deadline leaves nothing behind either. */
      g_assert_false (sysem_semaphore_try_acquire (sem, 1000, cancellable, NULL));
    }
  sysem_test_assert_value (sem, 0);

  g_object_unref (cancellable);
  g_assert_null (weak);
  g_object_unref (sem);
}

/* One thread waits with a new cancellable each time, the one before
 * finalized: each cancel must still reach the wait. sysem keeps the
 * thread's last watch, and a cancellable made at the address of a
 * finalized one must not be taken for it. */

typedef struct {
  SysemSemaphore *sem;
  GAsyncQueue    *made;      /* the round's cancellable */
  GAsyncQueue    *results;   /* GINT_TO_POINTER (error code + 1) */
  GAsyncQueue    *dropped;   /* the main thread let go of the round's cancellable */
  int             rounds;
  int             reused;    /* rounds whose cancellable had the address of the one before */
} EachNew;

static gpointer
each_new_waiter (gpointer data)
{
  EachNew *e = data;
  gpointer last = NULL;

  for (int i = 0; i < e->rounds; i++)
    {
      GCancellable *cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      gboolean taken;
      gint64 start;

      if ((gpointer) cancellable == last)
        e->reused++;
      last = cancellable;

      g_async_queue_push (e->made, g_object_ref (cancellable));
      /* A wait that a cancel did not reach ends at its deadline, and
       * then reports the cancel it sees: tell the two apart. */
      start = g_get_monotonic_time ();
      taken = sysem_semaphore_try_acquire (e->sem, SYSEM_TEST_DEADLINE_USEC, cancellable, &error);
      if (g_get_monotonic_time () - start >= SYSEM_TEST_DEADLINE_USEC)
        g_error ("round %d: the cancel did not reach the wait", i);
      g_async_queue_push (e->results, GINT_TO_POINTER (taken ? 0 : error->code + 1));
      /* The last reference: the next one may well get its memory. */
      if (g_async_queue_timeout_pop (e->dropped, SYSEM_TEST_DEADLINE_USEC) == NULL)
        g_error ("the main thread did not let go of the cancellable");
      g_object_unref (cancellable);
    }

  return NULL;
}

static void
test_cancel_each_new (SysemTestFixture *fixture)
{
  EachNew e = { NULL, };
  GThread *thread;

  e.sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  e.made = g_async_queue_new ();
  e.results = g_async_queue_new ();
  e.dropped = g_async_queue_new ();
  e.rounds = sysem_test_under_valgrind () ? 10 : 100;
  thread = g_thread_new ("each-new", each_new_waiter, &e);

  for (int i = 0; i < e.rounds; i++)
    {
      GCancellable *cancellable = g_async_queue_timeout_pop (e.made, SYSEM_TEST_DEADLINE_USEC);
      gpointer result;

      g_assert_nonnull (cancellable);
      sysem_test_wait_waiters (e.sem, 1);
      g_cancellable_cancel (cancellable);
      result = g_async_queue_timeout_pop (e.results, 2 * SYSEM_TEST_DEADLINE_USEC);
      g_assert_nonnull (result);
      g_assert_cmpint (GPOINTER_TO_INT (result) - 1, ==, G_IO_ERROR_CANCELLED);
      /* The wait has ended, so it is counted no more when the next
       * round's wait_waiters() counts. */
      g_object_unref (cancellable);
      g_async_queue_push (e.dropped, GINT_TO_POINTER (1));
    }

  g_thread_join (thread);
  g_test_message ("%d of %d cancellables had the address of the one before", e.reused, e.rounds);
  sysem_test_assert_value (e.sem, 0);
  g_async_queue_unref (e.made);
  g_async_queue_unref (e.results);
  g_async_queue_unref (e.dropped);
  g_object_unref (e.sem);
}

/* Waits racing their end (sysem_test_wait_race()): against cancels at
 * any moment, and against a unit released as their deadlines of 150 µs
 * pass. */
static void
test_cancel_race (SysemTestFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_wait_race (sem, sem, TRUE, 0, 100, sysem_test_under_valgrind () ? 50 : 2000);
}

static void
test_deadline_race (SysemTestFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_wait_race (sem, sem, FALSE, 150, 300, sysem_test_under_valgrind () ? 50 : 2000);
}

/* A cancel undone at once: the main thread cancels the waits' cancellable
 * and resets it straight after, at a random moment of each wait. A wait
 * may end cancelled, or miss the cancel and go on waiting, but it must
 * then sleep: never spin on a cancel the cancellable no longer says. Each
 * round ends with a unit for a wait still asleep, and the count adds up. */

typedef struct {
  SysemSemaphore *sem;
  GCancellable   *cancellable;
  GAsyncQueue    *go;
  GAsyncQueue    *results;   /* 1: took a unit, 2: cancelled */
  gint            tid;       /* atomic */
  gint            done;      /* atomic: this round's wait has returned */
  int             rounds;
} CancelReset;

static gpointer
cancel_reset_waiter (gpointer data)
{
  CancelReset *c = data;

  g_atomic_int_set (&c->tid, (gint) gettid ());
  for (int i = 0; i < c->rounds; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean taken;

      if (g_async_queue_timeout_pop (c->go, SYSEM_TEST_DEADLINE_USEC) == NULL)
        g_error ("round %d: the main thread did not start it", i);
      taken = sysem_semaphore_try_acquire (c->sem, SYSEM_TEST_DEADLINE_USEC, c->cancellable, &error);
      if (!taken && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_error ("round %d: %s", i, error->message);
      g_atomic_int_set (&c->done, TRUE);
      g_async_queue_push (c->results, GINT_TO_POINTER (taken ? 1 : 2));
    }

  return NULL;
}

static gboolean
cancel_reset_started_cb (gpointer data)
{
  return g_atomic_int_get (&((CancelReset *) data)->tid) != 0;
}

static gboolean
cancel_reset_settled_cb (gpointer data)
{
  CancelReset *c = data;

  return g_atomic_int_get (&c->done) || sysem_test_thread_sleeping (g_atomic_int_get (&c->tid));
}

static void
test_cancel_reset (SysemTestFixture *fixture)
{
  CancelReset c = { NULL, };
  GThread *thread;
  int released = 0, taken = 0;

  c.sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  c.cancellable = g_cancellable_new ();
  c.go = g_async_queue_new ();
  c.results = g_async_queue_new ();
  c.rounds = sysem_test_under_valgrind () ? 50 : 2000;
  thread = g_thread_new ("cancel-reset", cancel_reset_waiter, &c);
  sysem_test_wait_for (cancel_reset_started_cb, &c, "the waiter to start");

  for (int i = 0; i < c.rounds; i++)
    {
      gpointer result;

      g_atomic_int_set (&c.done, FALSE);
      g_async_queue_push (c.go, GINT_TO_POINTER (1));
      for (gint64 until = g_get_monotonic_time () + g_test_rand_int_range (0, 60);
           g_get_monotonic_time () < until;)
        ;
      g_cancellable_cancel (c.cancellable);
      g_cancellable_reset (c.cancellable);

      /* Ended, or asleep (a thread that spins never is). */
      sysem_test_wait_for (cancel_reset_settled_cb, &c, "the wait to end or sleep");
      if (!g_atomic_int_get (&c.done))
        {
          sysem_test_release (c.sem, 1);
          released++;
        }
      result = g_async_queue_timeout_pop (c.results, SYSEM_TEST_DEADLINE_USEC);
      g_assert_nonnull (result);
      taken += GPOINTER_TO_INT (result) == 1;
    }

  g_thread_join (thread);
  g_test_message ("%d waits missed the cancel and took a unit", taken);
  sysem_test_assert_value (c.sem, released - taken);
  g_object_unref (c.cancellable);
  g_async_queue_unref (c.go);
  g_async_queue_unref (c.results);
  g_object_unref (c.sem);
}

/* set_key() racing every other call on the same object: each racing call
 * works on the old or the new semaphore, or fails with NOT_FOUND once the
 * old one is gone; it never touches freed memory (ASan and valgrind run
 * this too). */

#define N_RACERS 3
#define N_MOVES 400

typedef struct {
  SysemSemaphore *sem;
  gint            stop;
  gint            calls;
  gint            failures;
} Race;

static gboolean
race_error_is_expected (const GError *error)
{
  return error == NULL ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
         g_error_matches (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
}

static gpointer
race_thread (gpointer data)
{
  Race *race = data;

  while (!g_atomic_int_get (&race->stop))
    {
      g_autoptr(GError) error = NULL;

      if (sysem_semaphore_try_acquire (race->sem, 0, NULL, &error))
        sysem_semaphore_release (race->sem, 1, &error);
      if (race_error_is_expected (error))
        g_clear_error (&error);
      sysem_semaphore_get_value (race->sem, &error);
      if (!race_error_is_expected (error))
        {
          g_printerr ("unexpected: %s\n", error->message);
          g_atomic_int_inc (&race->failures);
        }
      g_atomic_int_inc (&race->calls);
    }

  return NULL;
}

static void
test_set_key_race (SysemTestFixture *fixture)
{
  g_autofree char *other = g_strconcat (fixture->key, "-other", NULL);
  GThread *threads[N_RACERS];
  Race race = { NULL, 0, 0, 0 };

  race.sem = sysem_test_fixture_open (fixture, 100, SYSEM_ACCESS_MODE_CREATE);
  for (int i = 0; i < N_RACERS; i++)
    threads[i] = g_thread_new ("racer", race_thread, &race);

  for (int i = 0; i < N_MOVES; i++)
    {
      g_autoptr(GError) error = NULL;
      gint calls = g_atomic_int_get (&race.calls);

      g_assert_true (sysem_semaphore_set_key (race.sem, i % 2 == 0 ? other : fixture->key,
                                              100, SYSEM_ACCESS_MODE_OPEN, &error));
      g_assert_no_error (error);
      /* Let the racers run on the new semaphore before the next move. */
      wait_count (&race.calls, calls + N_RACERS, "the racers' calls");
    }

  g_atomic_int_set (&race.stop, 1);
  for (int i = 0; i < N_RACERS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (race.failures, ==, 0);
  g_object_unref (race.sem);
  sysem_test_assert_key_clean (other, fixture->key_type);
}

/* fork(): the child goes on with the object it inherited. */

typedef enum {
  CHILD_FINALIZES,   /* unrefs the object, then exits */
  CHILD_EXITS,       /* _exit() with the object still open */
  CHILD_IDLE,        /* never touches the object */
} ChildEnd;

/* The child reports over a pipe, not by its exit status: under valgrind
 * the status of a forked child says whether valgrind liked its memory, and
 * the memory of the threads that fork() left behind looks lost. */
static void
write_byte (int  fd,
            char c)
{
  while (write (fd, &c, 1) == -1 && errno == EINTR)
    ;
}

/* The byte, -1 at the end of the pipe, or -2 if nothing comes within the
 * tests' deadline: a process that hangs fails the test instead of
 * stopping it. */
static int
read_byte (int fd)
{
  gint64 deadline = g_get_monotonic_time () + 2 * SYSEM_TEST_DEADLINE_USEC;

  for (;;)
    {
      GPollFD pfd = { fd, G_IO_IN, 0 };
      gint64 left = deadline - g_get_monotonic_time ();
      char c;
      gssize n;
      int res;

      if (left <= 0)
        return -2;
      res = g_poll (&pfd, 1, (int) MIN (left / 1000 + 1, G_MAXINT));
      if (res != 1)
        continue;

      do
        n = read (fd, &c, 1);
      while (n == -1 && errno == EINTR);
      return n == 1 ? c : -1;
    }
}

static int
child_main (SysemSemaphore *sem,
            SysemKeyType    key_type,
            ChildEnd        end,
            int             to_parent,
            int             from_parent)
{
  SysemStats stats;

  if (end != CHILD_IDLE)
    {
      if (!sysem_semaphore_acquire (sem, NULL, NULL))
        return 10;
      if (!sysem_semaphore_release (sem, 1, NULL))
        return 11;
      if (!sysem_semaphore_acquire (sem, NULL, NULL))
        return 12;
      if (!sysem_semaphore_get_stats (sem, &stats, NULL))
        return 13;
      if (stats.value != 1)
        return 14;
      if (stats.users != 2)
        return 15;
    }

  /* Holding one unit (unless idle): let the parent look. */
  write_byte (to_parent, 'x');
  if (read_byte (from_parent) != -1)
    return 16;

  if (end == CHILD_FINALIZES)
    g_object_unref (sem);

  return 0;
}

static void
run_fork (SysemKeyType key_type,
          ChildEnd     end)
{
  g_autofree char *key = sysem_test_key ("fork");
  SysemSemaphore *sem = sysem_test_open (key, key_type, 2, SYSEM_ACCESS_MODE_CREATE);
  int to_parent[2], from_parent[2];
  int status;
  pid_t pid;

  g_assert_cmpint (pipe (to_parent), ==, 0);
  g_assert_cmpint (pipe (from_parent), ==, 0);

  pid = sysem_test_fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      close (to_parent[0]);
      close (from_parent[1]);
      write_byte (to_parent[1], child_main (sem, key_type, end, to_parent[1], from_parent[0]));
      _exit (0);
    }

  close (to_parent[1]);
  close (from_parent[0]);

  g_assert_cmpint (read_byte (to_parent[0]), ==, 'x');
  if (end == CHILD_IDLE)
    {
      sysem_test_assert_value (sem, 2);
      /* A child that does not use the object does not count, so one
       * that goes on to exec() cannot keep the set alive. */
      g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);
    }
  else
    {
      sysem_test_assert_value (sem, 1);
      g_assert_cmpint (sysem_test_stats (sem).users, ==, 2);
    }

  close (from_parent[1]);
  g_assert_cmpint (read_byte (to_parent[0]), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  close (to_parent[0]);
  g_assert_true (WIFEXITED (status));

  /* The child's unit came back (System V: the kernel's undo; POSIX: the
   * ledger), and it is no user any more. */
  sysem_test_assert_value (sem, 2);
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);

  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);

  g_object_unref (sem);
  sysem_test_assert_key_clean (key, key_type);
}

static void
test_fork_child_finalizes (SysemTestFixture *fixture)
{
  run_fork (fixture->key_type, CHILD_FINALIZES);
}

static void
test_fork_child_exits (SysemTestFixture *fixture)
{
  run_fork (fixture->key_type, CHILD_EXITS);
}

static void
test_fork_child_idle (SysemTestFixture *fixture)
{
  run_fork (fixture->key_type, CHILD_IDLE);
}

/* The daemon shape: open, fork, the parent closes and exits. The child
 * holds its object without having used it: the semaphore stays, `sysem
 * gc` does not call it stale, it works, and the child removes it as the
 * last one to hold it, whether it used the object (@use) or not. */

static SysemInfo *
inspect_key (const char   *key,
             SysemKeyType  key_type)
{
  g_autofree char *native = NULL;
  g_autoptr(GError) error = NULL;
  SysemInfo *info;

  g_assert_true (sysem_inspect_key_derive (key, key_type, &native, &error));
  g_assert_no_error (error);
  info = sysem_inspect_native (key_type, native, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);
  return info;
}

static gboolean
key_clean_cb (gpointer data)
{
  SysemTestFixture *fixture = data;

  return sysem_test_key_is_clean (fixture->key, fixture->key_type);
}

static int
daemon_main (SysemSemaphore *sem,
             gboolean        use,
             int             go)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;

  if (read_byte (go) != 'g')
    return 'n';

  /* The parent's unit came back when it closed; the daemon's object
   * works on the same semaphore. */
  if (use)
    ok = sysem_semaphore_get_value (sem, &error) == 2 &&
         sysem_semaphore_acquire (sem, NULL, &error) &&
         sysem_semaphore_get_value (sem, &error) == 1 &&
         sysem_semaphore_release (sem, 1, &error);
  if (error != NULL)
    g_printerr ("daemon: %s\n", error->message);
  g_object_unref (sem);
  return ok ? 'y' : 'n';
}

static void
run_fork_daemon (SysemTestFixture *fixture,
                 gboolean          use)
{
  g_autoptr(SysemInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  gboolean removed = FALSE;
  int go[2], result[2];
  int status;
  pid_t parent;

  g_assert_cmpint (pipe (go), ==, 0);
  g_assert_cmpint (pipe (result), ==, 0);

  parent = sysem_test_fork ();
  g_assert_cmpint (parent, !=, -1);
  if (parent == 0)
    {
      SysemSemaphore *sem;
      pid_t daemon;

      /* Only the test writes to go: if it fails, the daemon reads the
       * end of the pipe and exits. */
      close (go[1]);
      close (result[0]);
      sem = sysem_semaphore_new_full (fixture->key, fixture->key_type, 2,
                                      SYSEM_ACCESS_MODE_CREATE, NULL);
      if (sem == NULL || !sysem_semaphore_acquire (sem, NULL, NULL))
        _exit (1);
      daemon = fork ();
      if (daemon == -1)
        _exit (2);
      if (daemon == 0)
        {
          write_byte (result[1], daemon_main (sem, use, go[0]));
          _exit (0);
        }
      g_object_unref (sem);
      _exit (0);
    }
  close (go[0]);
  close (result[1]);
  g_assert_cmpint (waitpid (parent, &status, 0), ==, parent);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);

  /* The daemon holds its object: the semaphore is there and in use,
   * although the daemon is no user until it first uses the object. */
  info = inspect_key (fixture->key, fixture->key_type);
  g_assert_true (info->exists);
  g_assert_false (info->stale);
  g_assert_cmpint (info->state, ==, SYSEM_INSPECT_IN_USE);
  /* (POSIX: gc gives back the unit the parent died with.) */
  sysem_inspect_remove (info, TRUE, &removed, &error);
  g_assert_no_error (error);
  g_assert_false (removed);

  write_byte (go[1], 'g');
  g_assert_cmpint (read_byte (result[0]), ==, 'y');

  /* The daemon was the last one holding it. */
  sysem_test_wait_for (key_clean_cb, fixture, "the daemon's semaphore to go");
  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_false (sysem_test_sysv_set_alive (info->stats.id, info->ipc_key));

  close (go[1]);
  close (result[0]);
}

static void
test_fork_daemon (SysemTestFixture *fixture)
{
  run_fork_daemon (fixture, TRUE);
}

static void
test_fork_daemon_drops_unused (SysemTestFixture *fixture)
{
  run_fork_daemon (fixture, FALSE);
}

/* fork() then exec(): the program run holds nothing, and the parent's
 * close removes the semaphore at once. */
static void
test_fork_exec_holds_nothing (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  int in[2], out[2];
  int status;
  pid_t child;

  g_assert_cmpint (pipe2 (in, O_CLOEXEC), ==, 0);
  g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
  child = sysem_test_fork ();
  g_assert_cmpint (child, !=, -1);
  if (child == 0)
    {
      /* The program ends at the end of its input: when the test closes
       * it, or fails. */
      dup2 (in[0], STDIN_FILENO);
      dup2 (out[1], STDOUT_FILENO);
      execl ("/bin/sh", "sh", "-c", "echo x; exec cat >/dev/null", (char *) NULL);
      _exit (127);
    }
  close (in[0]);
  close (out[1]);

  /* The program runs: the child's mark went with the exec. */
  g_assert_cmpint (read_byte (out[0]), ==, 'x');
  g_object_unref (sem);
  g_assert_true (sysem_test_key_is_clean (fixture->key, fixture->key_type));

  close (in[1]);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  close (out[0]);
}

/* fork() while other threads are inside every call on the same object:
 * acquire_async (queued and served at once, cancelled or not),
 * try_acquire (plain and timed), release and get_value. Whatever lock a
 * thread held at the moment of the fork, the child, which has only the
 * forking thread, uses the object, drops it and exits: a child that hangs
 * fails the test (issue 13, item 3). */

#define N_FORKS 300
#define HAMMER_UNITS 3

/* What these threads do with GLib beyond sysem's calls (cancellables, main
 * contexts, callbacks) is fenced against fork() as an application would
 * fence it: GLib's own global locks (GCancellable's,
 * GObject's signal and notify locks) are not, and a child that inherits one
 * of them held hangs in GLib whatever sysem does. sysem's own calls, made
 * from these threads and from its waiter thread, are not fenced here: any
 * lock they hold at the fork is for sysem to deal with. */
static GMutex app_fence;

static void
app_fence_lock (void)
{
  g_mutex_lock (&app_fence);
}

static void
app_fence_unlock (void)
{
  g_mutex_unlock (&app_fence);
}

/* fork() with the fence held: taken before any of sysem's fork handlers
 * runs, as these threads take the two, whichever handlers were registered
 * first. */
static pid_t
fenced_fork (void)
{
  pid_t pid;

  app_fence_lock ();
  pid = sysem_test_fork ();
  app_fence_unlock ();
  return pid;
}

/* One iteration of @context, fenced but for the wait. */
static void
app_iterate (GMainContext *context,
             gboolean      may_block)
{
  GPollFD fds[32];
  gint max_priority, timeout, n_fds;

  app_fence_lock ();
  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &max_priority);
  n_fds = g_main_context_query (context, max_priority, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n_fds, <=, G_N_ELEMENTS (fds));
  app_fence_unlock ();

  g_poll (fds, n_fds, may_block ? timeout : 0);

  app_fence_lock ();
  if (g_main_context_check (context, max_priority, fds, n_fds))
    g_main_context_dispatch (context);
  g_main_context_release (context);
  app_fence_unlock ();
}

typedef struct {
  SysemSemaphore *sem;
  gint            stop;
  gint            rounds;
  gint            failures;
} Hammer;

static gboolean
hammer_error_is_expected (const GError *error)
{
  return error == NULL ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
hammer_check (Hammer       *hammer,
              const char   *what,
              const GError *error)
{
  if (hammer_error_is_expected (error))
    return;
  g_printerr ("%s: %s\n", what, error->message);
  g_atomic_int_inc (&hammer->failures);
}

static void
hammer_release (Hammer *hammer,
                int     n)
{
  g_autoptr(GError) error = NULL;

  sysem_semaphore_release (hammer->sem, n, &error);
  hammer_check (hammer, "release", error);
}

typedef struct {
  gboolean done;
  gboolean acquired;
  GError  *error;
} AsyncResult;

static void
hammer_async_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  AsyncResult *r = user_data;

  r->acquired = sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result, &r->error);
  r->done = TRUE;
}

/* Requests in a main context of this thread's own: some served at once,
 * some queued behind others (so that the waiter thread works), some
 * cancelled while they wait. */
static gpointer
hammer_async_thread (gpointer data)
{
  Hammer *hammer = data;
  GMainContext *context;

  app_fence_lock ();
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  app_fence_unlock ();
  for (int i = 0; !g_atomic_int_get (&hammer->stop); i++)
    {
      AsyncResult r[3] = { { 0 } };
      GCancellable *cancellables[3];
      int held = 0;

      app_fence_lock ();
      for (int j = 0; j < 3; j++)
        cancellables[j] = (i + j) % 3 == 0 ? NULL : g_cancellable_new ();
      app_fence_unlock ();
      for (int j = 0; j < 3; j++)
        sysem_semaphore_acquire_async (hammer->sem, cancellables[j], hammer_async_cb, &r[j]);
      app_fence_lock ();
      if (cancellables[1] != NULL && i % 2 == 0)
        g_cancellable_cancel (cancellables[1]);
      app_fence_unlock ();
      for (int j = 0; j < 3; j++)
        {
          while (!r[j].done)
            {
              /* A request may wait for a unit that this thread holds. */
              if (held > 0)
                {
                  hammer_release (hammer, 1);
                  held--;
                }
              app_iterate (context, held == 0);
            }
          if (r[j].acquired)
            held++;
          hammer_check (hammer, "acquire_async", r[j].error);
          app_fence_lock ();
          g_clear_error (&r[j].error);
          app_fence_unlock ();
        }
      if (held > 0)
        hammer_release (hammer, held);
      app_fence_lock ();
      for (int j = 0; j < 3; j++)
        g_clear_object (&cancellables[j]);
      app_fence_unlock ();
      g_atomic_int_inc (&hammer->rounds);
    }
  app_fence_lock ();
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  app_fence_unlock ();

  return NULL;
}

static gpointer
hammer_sync_thread (gpointer data)
{
  Hammer *hammer = data;
  GCancellable *cancellable;

  app_fence_lock ();
  cancellable = g_cancellable_new ();
  app_fence_unlock ();
  for (int i = 0; !g_atomic_int_get (&hammer->stop); i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean acquired;

      if (i % 2 == 0)
        acquired = sysem_semaphore_try_acquire (hammer->sem, 0, NULL, &error);
      else
        acquired = sysem_semaphore_try_acquire (hammer->sem, 2 * G_TIME_SPAN_MILLISECOND,
                                                cancellable, &error);
      hammer_check (hammer, "try_acquire", error);
      g_clear_error (&error);
      sysem_semaphore_get_value (hammer->sem, &error);
      hammer_check (hammer, "get_value", error);
      if (acquired)
        hammer_release (hammer, 1);
      g_atomic_int_inc (&hammer->rounds);
    }
  app_fence_lock ();
  g_object_unref (cancellable);
  app_fence_unlock ();

  return NULL;
}

/* What the child does with its copy before it exits; 0 when all went
 * well. (That a child can also finalize its copy is fork/pending-finalize.) */
static int
hammer_child (SysemSemaphore *sem)
{
  GMainContext *context = g_main_context_new ();
  GCancellable *cancellable = g_cancellable_new ();
  AsyncResult r = { 0 };
  int status = 0;

  if (sysem_semaphore_get_value (sem, NULL) < 0)
    status = 20;
  else if (sysem_semaphore_try_acquire (sem, 0, NULL, NULL) &&
           !sysem_semaphore_release (sem, 1, NULL))
    status = 21;
  else if (!sysem_semaphore_try_acquire (sem, SYSEM_TEST_DEADLINE_USEC, cancellable, NULL))
    status = 22;
  else if (!sysem_semaphore_release (sem, 1, NULL))
    status = 23;

  if (status == 0)
    {
      g_main_context_push_thread_default (context);
      sysem_semaphore_acquire_async (sem, cancellable, hammer_async_cb, &r);
      while (!r.done)
        g_main_context_iteration (context, TRUE);
      g_main_context_pop_thread_default (context);
      if (!r.acquired || !sysem_semaphore_release (sem, 1, NULL))
        status = 24;
    }

  g_object_unref (cancellable);
  g_main_context_unref (context);
  g_clear_error (&r.error);

  return status;
}

/* Reads the result byte of child @i of @n on @fd, which it closes, and
 * reaps the child: the test fails if the child hung or failed. */
static void
expect_child_success (pid_t pid,
                      int   fd,
                      int   i,
                      int   n)
{
  int result = read_byte (fd);
  int status;

  close (fd);
  if (result == -2)
    {
      g_autofree char *wchan_path = g_strdup_printf ("/proc/%d/wchan", (int) pid);
      g_autofree char *wchan = NULL;

      g_file_get_contents (wchan_path, &wchan, NULL, NULL);
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      g_error ("child %d of %d (pid %d) hung (kernel: %s)", i + 1, n, (int) pid,
               wchan ? wchan : "?");
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  if (result != 0)
    g_error ("child %d of %d failed with %d", i + 1, n, result);
}

static void
test_fork_hammer (SysemTestFixture *fixture)
{
  Hammer hammer = { NULL, 0, 0, 0 };
  SysemSemaphore *keeper;
  GThread *threads[4];
  int forks = sysem_test_under_valgrind () ? 30 : N_FORKS;

  hammer.sem = sysem_test_fixture_open (fixture, HAMMER_UNITS, SYSEM_ACCESS_MODE_CREATE);
  /* Reads the count at the end. */
  keeper = sysem_test_open (fixture->key, fixture->key_type, HAMMER_UNITS, SYSEM_ACCESS_MODE_OPEN);

  threads[0] = g_thread_new ("hammer-async", hammer_async_thread, &hammer);
  threads[1] = g_thread_new ("hammer-async", hammer_async_thread, &hammer);
  threads[2] = g_thread_new ("hammer-sync", hammer_sync_thread, &hammer);
  threads[3] = g_thread_new ("hammer-sync", hammer_sync_thread, &hammer);

  for (int i = 0; i < forks; i++)
    {
      gint rounds = g_atomic_int_get (&hammer.rounds);
      int fds[2];
      pid_t pid;

      /* Let the threads get into their calls again. */
      wait_count (&hammer.rounds, rounds + 2, "the hammering threads' rounds");

      g_assert_no_errno (pipe (fds));
      pid = fenced_fork ();
      g_assert_cmpint (pid, !=, -1);
      if (pid == 0)
        {
          close (fds[0]);
          write_byte (fds[1], hammer_child (hammer.sem));
          _exit (0);
        }
      close (fds[1]);

      expect_child_success (pid, fds[0], i, forks);
    }

  g_atomic_int_set (&hammer.stop, 1);
  for (int i = 0; i < 4; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (hammer.failures, ==, 0);
  /* Every unit taken here was given back; the children's came back. */
  sysem_test_assert_value (keeper, HAMMER_UNITS);
  g_object_unref (keeper);
  g_object_unref (hammer.sem);
}

/* fork() while another thread moves the object between two keys with
 * set_key() and others use it: the child's object works on the semaphore
 * it had at the fork, which the parent's move must not remove under it,
 * moves on its own, and is finalized. set_key() emits GObject
 * notifications, which take GLib's global locks: the mover is fenced as an
 * application fences its use of GLib against fork(); the racers' calls
 * are not. */

#define N_KEY_FORKS 100

typedef struct {
  Race        *race;
  const char  *keys[2];
  gint         moves;
  gint         allowed;   /* moves the test asks for: each one keeps a handle */
} Mover;

static gpointer
mover_thread (gpointer data)
{
  Mover *mover = data;

  for (int i = 1; !g_atomic_int_get (&mover->race->stop); i++)
    {
      g_autoptr(GError) error = NULL;

      while (g_atomic_int_get (&mover->moves) >= g_atomic_int_get (&mover->allowed))
        {
          if (g_atomic_int_get (&mover->race->stop))
            return NULL;
          g_thread_yield ();
        }

      app_fence_lock ();
      if (!sysem_semaphore_set_key (mover->race->sem, mover->keys[i % 2], 100,
                                    SYSEM_ACCESS_MODE_OPEN, &error))
        {
          g_printerr ("set_key: %s\n", error->message);
          g_atomic_int_inc (&mover->race->failures);
        }
      g_clear_error (&error);
      app_fence_unlock ();
      g_atomic_int_inc (&mover->moves);
    }

  return NULL;
}

static int
set_key_child (SysemSemaphore *sem,
               const char     *keys[2])
{
  g_autoptr(GError) error = NULL;
  const char *to = g_strcmp0 (sysem_semaphore_get_key (sem), keys[0]) == 0 ? keys[1] : keys[0];
  int status = 0;

  if (sysem_semaphore_get_value (sem, &error) < 0)
    status = 30;
  else if (!sysem_semaphore_set_key (sem, to, 100, SYSEM_ACCESS_MODE_OPEN, &error))
    status = 31;
  else if (sysem_semaphore_get_value (sem, &error) < 0)
    status = 32;
  if (error != NULL)
    g_printerr ("child: %s\n", error->message);

  g_object_unref (sem);
  return status;
}

static void
test_fork_set_key_race (SysemTestFixture *fixture)
{
  g_autofree char *other = g_strconcat (fixture->key, "-other", NULL);
  Race race = { NULL, 0, 0, 0 };
  Mover mover = { &race, { fixture->key, other }, 0, 0 };
  int forks = sysem_test_under_valgrind () ? 10 : N_KEY_FORKS;
  GThread *threads[N_RACERS], *mover_t;

  race.sem = sysem_test_fixture_open (fixture, 100, SYSEM_ACCESS_MODE_CREATE);
  for (int i = 0; i < N_RACERS; i++)
    threads[i] = g_thread_new ("racer", race_thread, &race);
  mover_t = g_thread_new ("mover", mover_thread, &mover);

  for (int i = 0; i < forks; i++)
    {
      int fds[2];
      pid_t pid;

      /* A move now, racing the fork, after the one before is done. */
      wait_count (&mover.moves, g_atomic_int_get (&mover.allowed), "the mover's moves");
      g_atomic_int_inc (&mover.allowed);

      g_assert_no_errno (pipe (fds));
      pid = fenced_fork ();
      g_assert_cmpint (pid, !=, -1);
      if (pid == 0)
        {
          close (fds[0]);
          write_byte (fds[1], set_key_child (race.sem, mover.keys));
          _exit (0);
        }
      close (fds[1]);
      expect_child_success (pid, fds[0], i, forks);
    }

  g_atomic_int_set (&race.stop, 1);
  g_thread_join (mover_t);
  for (int i = 0; i < N_RACERS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (race.failures, ==, 0);
  g_object_unref (race.sem);
  sysem_test_assert_key_clean (fixture->key, fixture->key_type);
  sysem_test_assert_key_clean (other, fixture->key_type);
}

/* fork() while requests of the parent wait in the queue, are being served
 * by the waiter thread, or are served and not yet delivered: the child
 * drops its copy of the object, which is finalized there as usual and
 * stops counting as a user at once, not at the child's exit (issue 13,
 * item 4). */

#define N_PENDING_FORKS 100

typedef struct {
  SysemSemaphore *sem;
  GAsyncQueue    *orders;
} Giver;

static gpointer
giver_thread (gpointer data)
{
  Giver *giver = data;

  while (GPOINTER_TO_INT (g_async_queue_pop (giver->orders)) > 0)
    sysem_test_release (giver->sem, 1);

  return NULL;
}

static void
count_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_assert_true (sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result, NULL));
  (*(int *) user_data)++;
}

static void
set_flag_cb (gpointer  data,
             GObject  *where_the_object_was)
{
  *(gboolean *) data = TRUE;
}

static int
pending_child (SysemSemaphore *sem,
               int             to_parent,
               int             from_parent)
{
  gboolean finalized = FALSE;

  /* A user of its own now, whatever the parent's requests are doing. */
  if (sysem_semaphore_get_value (sem, NULL) < 0)
    return 30;
  if (sysem_semaphore_try_acquire (sem, 0, NULL, NULL) &&
      !sysem_semaphore_release (sem, 1, NULL))
    return 31;
  write_byte (to_parent, 'u');
  if (read_byte (from_parent) != 'g')
    return 32;

  g_object_weak_ref (G_OBJECT (sem), set_flag_cb, &finalized);
  g_object_unref (sem);
  if (!finalized)
    return 33;

  return 0;
}

static gboolean
two_pending_cb (gpointer data)
{
  return sysem_semaphore_get_n_pending (data) == 2;
}

static void
test_fork_pending_finalize (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  Giver giver = { sem, g_async_queue_new () };
  GThread *thread = g_thread_new ("giver", giver_thread, &giver);
  int forks = sysem_test_under_valgrind () ? 10 : N_PENDING_FORKS;

  for (int i = 0; i < forks; i++)
    {
      GMainContext *context = g_main_context_new ();
      int to_parent[2], from_parent[2];
      int done = 0, status, result;
      pid_t pid;

      /* Three requests made in a context nobody iterates before the fork:
       * the first is served and not delivered, the second served or
       * being served as the fork happens, the third waits. */
      g_main_context_push_thread_default (context);
      for (int j = 0; j < 3; j++)
        sysem_semaphore_acquire_async (sem, NULL, count_done_cb, &done);
      g_main_context_pop_thread_default (context);
      sysem_test_release (sem, 1);
      sysem_test_wait_for (two_pending_cb, sem, "two requests pending");
      g_async_queue_push (giver.orders, GINT_TO_POINTER (1));

      g_assert_no_errno (pipe (to_parent));
      g_assert_no_errno (pipe (from_parent));
      pid = sysem_test_fork ();
      g_assert_cmpint (pid, !=, -1);
      if (pid == 0)
        {
          close (to_parent[0]);
          close (from_parent[1]);
          write_byte (to_parent[1], pending_child (sem, to_parent[1], from_parent[0]));
          _exit (0);
        }
      close (to_parent[1]);
      close (from_parent[0]);

      result = read_byte (to_parent[0]);
      if (result != 'u')
        g_error ("fork %d: the child said %d", i + 1, result);
      g_assert_cmpint (sysem_test_stats (sem).users, ==, 2);

      write_byte (from_parent[1], 'g');
      result = read_byte (to_parent[0]);
      if (result != 0)
        g_error ("fork %d: the child failed with %d", i + 1, result);
      /* Finalized in the child, which has not exited yet: it left. */
      if (sysem_test_stats (sem).users != 1)
        g_error ("fork %d: the child still counts as a user after its object was finalized",
                 i + 1);

      close (from_parent[1]);
      g_assert_cmpint (read_byte (to_parent[0]), ==, -1);
      close (to_parent[0]);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);

      /* The parent's requests are all served here. */
      sysem_test_release (sem, 1);
      while (done < 3)
        g_main_context_iteration (context, TRUE);
      g_main_context_unref (context);
      sysem_test_release (sem, 3);
      while (sysem_semaphore_try_acquire (sem, 0, NULL, NULL))
        ;
    }

  g_async_queue_push (giver.orders, GINT_TO_POINTER (-1));
  g_thread_join (thread);
  g_async_queue_unref (giver.orders);

  sysem_test_assert_value (sem, 0);
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);
  g_object_unref (sem);
}

/* Undo only the acquires (DESIGN §3, issue 15): in each of several
 * processes, units are created first (released while the process holds
 * none), then one thread acquires units and hands them to another, which
 * releases them, and at the end the process acquires a unit more and
 * exits without releasing it. Once all have exited, the count is exactly
 * the initial value plus the created units: every acquire was undone,
 * no release was.
 *
 * The same scenario through a deliberately broken worker shows that the
 * check can fail: for System V one that creates its units with SEM_UNDO,
 * as Qt's code does (the kernel then takes them back at exit); for POSIX
 * one that takes its last unit through glibc's sem_wait(), which nobody
 * gives back. */

#define UNDO_CHILDREN 4
#define UNDO_HANDOFFS 200
#define UNDO_INITIAL 2

typedef enum {
  WORKER_SYSEM,
  WORKER_UNDOES_RELEASES,   /* System V, as Qt */
  WORKER_KEEPS_ACQUIRES,    /* POSIX, through glibc */
} WorkerKind;

typedef struct {
  SysemSemaphore *sem;
  GAsyncQueue    *tokens;
  gint            failures;
} Handoff;

static gpointer
handoff_releaser (gpointer data)
{
  Handoff *h = data;

  for (int i = 0; i < UNDO_HANDOFFS; i++)
    {
      g_async_queue_pop (h->tokens);
      if (!sysem_semaphore_release (h->sem, 1, NULL))
        g_atomic_int_inc (&h->failures);
    }

  return NULL;
}

/* The child: 0 when all went well. */
static int
undo_child (const char   *key,
            SysemKeyType  key_type,
            int           created,
            WorkerKind    kind)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;
  Handoff h = { NULL, NULL, 0 };
  GThread *thread;

  sem = sysem_semaphore_new_full (key, key_type, UNDO_INITIAL, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    return 40;

  /* Created: this process holds nothing yet. */
  if (kind == WORKER_UNDOES_RELEASES)
    {
      int semid;
      key_t ipc_key;
      struct sembuf op = { 0, (short) created, SEM_UNDO };

      sysem_test_sysv_ids (sem, &semid, &ipc_key);
      if (semop (semid, &op, 1) == -1)
        return 41;
    }
  else if (!sysem_semaphore_release (sem, created, NULL))
    return 41;

  h.sem = sem;
  h.tokens = g_async_queue_new ();
  thread = g_thread_new ("releaser", handoff_releaser, &h);
  for (int i = 0; i < UNDO_HANDOFFS; i++)
    {
      if (!sysem_semaphore_acquire (sem, NULL, NULL))
        return 42;
      g_async_queue_push (h.tokens, GINT_TO_POINTER (1));
    }
  g_thread_join (thread);
  g_async_queue_unref (h.tokens);
  if (h.failures > 0)
    return 43;

  /* One unit more, kept: the process exits holding it. */
  if (kind == WORKER_KEEPS_ACQUIRES)
    {
      g_autofree char *name = g_strdup (sysem_semaphore_get_native_key (sem));
      sem_t *raw = sem_open (name, 0);

      if (raw == SEM_FAILED)
        return 44;
      while (sem_wait (raw) == -1)
        if (errno != EINTR)
          return 45;
    }
  else if (!sysem_semaphore_acquire (sem, NULL, NULL))
    return 46;

  return 0;
}

/* Runs a round of children; the count it leaves. */
static int
undo_round (SysemSemaphore *sem,
            const char     *key,
            SysemKeyType    key_type,
            WorkerKind      kind,
            int            *created_out)
{
  pid_t pids[UNDO_CHILDREN];
  int created = 0;

  for (int i = 0; i < UNDO_CHILDREN; i++)
    {
      int mine = 1 + i % 3;

      created += mine;
      pids[i] = sysem_test_fork ();
      g_assert_cmpint (pids[i], !=, -1);
      if (pids[i] == 0)
        _exit (undo_child (key, key_type, mine, kind));
    }

  for (int i = 0; i < UNDO_CHILDREN; i++)
    {
      int status;

      g_assert_cmpint (waitpid (pids[i], &status, 0), ==, pids[i]);
      /* Valgrind does not follow these children (--trace-children=no). */
      g_assert_true (WIFEXITED (status));
      if (WEXITSTATUS (status) != 0)
        g_error ("a child failed with %d", WEXITSTATUS (status));
    }

  *created_out = created;
  return sysem_test_value (sem);
}

static void
test_undo_only_acquires (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, UNDO_INITIAL, SYSEM_ACCESS_MODE_CREATE);
  int rounds = sysem_test_under_valgrind () ? 2 : 10;
  int expected = UNDO_INITIAL;
  int created, value;

  for (int i = 0; i < rounds; i++)
    {
      value = undo_round (sem, fixture->key, fixture->key_type, WORKER_SYSEM, &created);
      expected += created;
      if (value != expected)
        g_error ("round %d: the count is %d, not the initial %d plus the %d units created",
                 i + 1, value, UNDO_INITIAL, expected - UNDO_INITIAL);
    }

  /* The broken worker gives another count, and the check sees it. */
  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    {
      value = undo_round (sem, fixture->key, fixture->key_type, WORKER_UNDOES_RELEASES, &created);
      /* The kernel took back what the children created, or some of it
       * (its undo and sysem's count of held units no longer agree). */
      g_assert_cmpint (value, <, expected + created);
    }
  else
    {
      value = undo_round (sem, fixture->key, fixture->key_type, WORKER_KEEPS_ACQUIRES, &created);
      g_assert_cmpint (value, !=, expected + created);
      /* The units taken through glibc never came back. */
      g_assert_cmpint (value, ==, expected + created - UNDO_CHILDREN);
    }

  g_object_unref (sem);
}

/* A helper started while this process has the set open counts once. */
static void
test_spawned_helper_counts_once (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;
  SysemStats stats = sysem_test_stats (sem);

  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "wait", NULL);
  sysem_test_helper_expect_line (helper, "waiting");
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 2);

  /* We leave first; the helper is the last user and removes it all. */
  g_object_unref (sem);
  sysem_test_helper_close_stdin (helper);
  sysem_test_helper_complete (helper, NULL);
  g_assert_false (sysem_test_semid_exists (stats.id));
}

int
main (int    argc,
      char **argv)
{
  /* GLib 2.74's GSlice keeps a global lock that a child of fork() may
   * inherit held (GLib 2.76 and later always use malloc(), which glibc
   * makes safe across fork()): the fork tests run as GLib 2.76 would. */
  if (g_strcmp0 (g_getenv ("G_SLICE"), "always-malloc") != 0)
    {
      g_setenv ("G_SLICE", "always-malloc", TRUE);
      execv ("/proc/self/exe", argv);
      g_error ("cannot run again with G_SLICE=always-malloc: %s", g_strerror (errno));
    }

  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/core/{system-v}/threads/one-object", test_threads_one_object);
  sysem_test_add_both_types ("/core/{system-v}/threads/set-key-race", test_set_key_race);
  sysem_test_add_both_types ("/core/{system-v}/threads/cancel-blocked", test_cancel_blocked);
  sysem_test_add_both_types ("/core/{system-v}/threads/cancel-shared", test_cancel_shared);
  sysem_test_add_both_types ("/core/{system-v}/threads/cancel-each-new", test_cancel_each_new);
  sysem_test_add_both_types ("/core/{system-v}/threads/cancel-race", test_cancel_race);
  sysem_test_add_both_types ("/core/{system-v}/threads/deadline-race", test_deadline_race);
  sysem_test_add_both_types ("/core/{system-v}/threads/cancel-reset", test_cancel_reset);
  sysem_test_add_both_types ("/core/{system-v}/fork/child-finalizes", test_fork_child_finalizes);
  sysem_test_add_both_types ("/core/{system-v}/fork/child-exits", test_fork_child_exits);
  sysem_test_add_both_types ("/core/{system-v}/fork/child-idle", test_fork_child_idle);
  sysem_test_add_both_types ("/core/{system-v}/fork/daemon", test_fork_daemon);
  sysem_test_add_both_types ("/core/{system-v}/fork/daemon-drops-unused", test_fork_daemon_drops_unused);
  sysem_test_add_both_types ("/core/{system-v}/fork/exec-holds-nothing", test_fork_exec_holds_nothing);
#ifndef __SANITIZE_ADDRESS__
  /* Not with AddressSanitizer: its allocator (GCC 12's and clang 14's
   * libsanitizer) takes no fork handler, so a child of a process whose
   * other threads allocate hangs at its first malloc() in about one fork
   * in fifty, in the sanitizer's own lock. The plain and valgrind runs of
   * this program cover these tests. */
  sysem_test_add_both_types ("/core/{system-v}/fork/threads-hammer", test_fork_hammer);
  sysem_test_add_both_types ("/core/{system-v}/fork/set-key-race", test_fork_set_key_race);
#endif
  sysem_test_add_both_types ("/core/{system-v}/fork/pending-finalize", test_fork_pending_finalize);
  sysem_test_add_both_types ("/core/{system-v}/threads/undo-only-acquires", test_undo_only_acquires);
  sysem_test_add ("/core/system-v/fork/spawned-helper-counts-once", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_spawned_helper_counts_once);

  return g_test_run ();
}
