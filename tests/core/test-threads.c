/* test-threads.c: one object used from several threads, and after fork()
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysem-test-util.h"

#define N_THREADS 4
#define N_ROUNDS  300
#define N_UNITS   2

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
          while (!(acquired = sysem_semaphore_try_acquire (shared->sem, 0, NULL, &error)) &&
                 error == NULL)
            g_thread_yield ();
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
      while (g_atomic_int_get (&race.calls) < calls + N_RACERS)
        g_thread_yield ();
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

/* The byte, or -1 at the end of the pipe. */
static int
read_byte (int fd)
{
  char c;
  gssize n;

  do
    n = read (fd, &c, 1);
  while (n == -1 && errno == EINTR);

  return n == 1 ? c : -1;
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

  pid = fork ();
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
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/core/{system-v}/threads/one-object", test_threads_one_object);
  sysem_test_add_both_types ("/core/{system-v}/threads/set-key-race", test_set_key_race);
  sysem_test_add_both_types ("/core/{system-v}/fork/child-finalizes", test_fork_child_finalizes);
  sysem_test_add_both_types ("/core/{system-v}/fork/child-exits", test_fork_child_exits);
  sysem_test_add_both_types ("/core/{system-v}/fork/child-idle", test_fork_child_idle);
  sysem_test_add ("/core/system-v/fork/spawned-helper-counts-once", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_spawned_helper_counts_once);

  return g_test_run ();
}
