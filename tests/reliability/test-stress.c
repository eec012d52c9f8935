/* test-stress.c: many processes and threads on one semaphore, with and
 * without workers killed by SIGKILL
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * STRESS_WORKERS processes of STRESS_THREADS threads share a semaphore of
 * STRESS_UNITS units. Every holder marks itself in a record in shared
 * memory (see stress-shared.h), which proves that no more than
 * STRESS_UNITS threads ever hold a unit at once, and the count must be
 * back to STRESS_UNITS at the end.
 *
 * With SIGKILL: workers are stopped (SIGSTOP) at a moment they hold units,
 * then killed. The units come back (System V: the kernel's undo; POSIX:
 * sysem's holder ledger), so the survivors keep going and the count is
 * whole at the end.
 */

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"
#include "stress-shared.h"

typedef struct {
  SysemKeyType    key_type;
  char           *key;
  SysemSemaphore *sem;
  int             memfd;
  StressShared   *shared;
  GPid            pids[STRESS_WORKERS];
  gboolean        reaped[STRESS_WORKERS];
  int             status[STRESS_WORKERS];
  char           *file;
  int             semid;
  key_t           ipc_key;
} Stress;

static void
stress_setup (Stress       *self,
              SysemKeyType  key_type)
{

  memset (self, 0, sizeof *self);
  self->key_type = key_type;
  self->key = sysem_test_key ("rel-stress");
  self->file = sysem_test_key_path (self->key, key_type);

  self->memfd = memfd_create ("sysem-stress", MFD_CLOEXEC);
  g_assert_cmpint (self->memfd, >=, 0);
  g_assert_cmpint (ftruncate (self->memfd, sizeof (StressShared)), ==, 0);
  self->shared = mmap (NULL, sizeof (StressShared), PROT_READ | PROT_WRITE, MAP_SHARED,
                       self->memfd, 0);
  g_assert_true (self->shared != MAP_FAILED);

  self->sem = sysem_test_open (self->key, key_type, STRESS_UNITS, SYSEM_ACCESS_MODE_CREATE);
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    sysem_test_sysv_ids (self->sem, &self->semid, &self->ipc_key);
}

static void
stress_spawn (Stress   *self,
              gint64    iterations,
              gboolean  churn)
{
  for (int w = 0; w < STRESS_WORKERS; w++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *index = g_strdup_printf ("%d", w);
      g_autofree char *rounds = g_strdup_printf ("%" G_GINT64_FORMAT, iterations);
      const char *argv[] = {
        RELIABILITY_BUILDDIR "/stress-worker",
        self->key_type == SYSEM_KEY_TYPE_POSIX ? "posix" : "sysv",
        self->key,
        index,
        rounds,
        churn ? "churn" : NULL,
        NULL
      };
      int source_fds[] = { self->memfd };
      int target_fds[] = { STRESS_SHARED_FD };

      g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                        G_SPAWN_DO_NOT_REAP_CHILD,
                                        NULL, NULL, -1, -1, -1,
                                        source_fds, target_fds, 1,
                                        &self->pids[w], NULL, NULL, NULL,
                                        &error);
      g_assert_no_error (error);
    }
}

static gboolean
stress_reap (Stress   *self,
             int       w,
             gboolean  block)
{
  pid_t res;

  if (self->reaped[w])
    return TRUE;

  do
    res = waitpid (self->pids[w], &self->status[w], block ? 0 : WNOHANG);
  while (res == -1 && errno == EINTR);

  g_assert_cmpint (res, !=, -1);
  if (res == 0)
    return FALSE;

  self->reaped[w] = TRUE;
  return TRUE;
}

static gboolean
stress_all_exited_cb (gpointer data)
{
  Stress *self = data;
  gboolean all = TRUE;

  for (int w = 0; w < STRESS_WORKERS; w++)
    all &= stress_reap (self, w, FALSE);

  return all;
}

static void
stress_assert_clean_exit (Stress *self,
                          int     w)
{
  if (self->shared->errors > 0)
    g_error ("a worker failed: %s", self->shared->error_message);
  if (!WIFEXITED (self->status[w]) || WEXITSTATUS (self->status[w]) != 0)
    g_error ("worker %d ended with status 0x%x", w, (guint) self->status[w]);
}

/* Everything the test made is gone once its object is finalized. */
static void
stress_teardown (Stress *self)
{
  g_clear_object (&self->sem);

  g_assert_false (sysem_test_path_exists (self->file));
  if (self->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_false (sysem_test_sysv_set_alive (self->semid, self->ipc_key));

  munmap (self->shared, sizeof (StressShared));
  close (self->memfd);
  g_free (self->key);
  g_free (self->file);
}

static void
test_stress (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  gint64 iterations = 4000;
  gint64 total = 0;
  Stress self;

  stress_setup (&self, fixture->key_type);
  stress_spawn (&self, iterations, FALSE);

  sysem_test_wait_for (stress_all_exited_cb, &self, "the workers to finish");

  for (int w = 0; w < STRESS_WORKERS; w++)
    {
      stress_assert_clean_exit (&self, w);
      total += self.shared->ops[w];
    }

  g_test_message ("%" G_GINT64_FORMAT " rounds, at most %d holders at once",
                  total, self.shared->max_live);
  g_assert_cmpint (self.shared->violations, ==, 0);
  g_assert_cmpint (self.shared->max_live, <=, STRESS_UNITS);
  g_assert_cmpint (self.shared->max_live, >=, 1);
  g_assert_cmpuint (self.shared->word, ==, 0);
  g_assert_cmpint (total, ==, STRESS_WORKERS * STRESS_THREADS * iterations);
  g_assert_cmpint (sysem_semaphore_get_value (self.sem, &error), ==, STRESS_UNITS);
  g_assert_no_error (error);

  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    {
      /* The workers left the user count when they finalized their objects. */
      g_assert_cmpint (sysem_test_stats (self.sem).users, ==, 1);
    }

  stress_teardown (&self);
}

typedef struct {
  Stress *stress;
  int     worker;
  gint64  target;
} Progress;

static gboolean
worker_holds_cb (gpointer data)
{
  Progress *p = data;

  return stress_holders_of (__atomic_load_n (&p->stress->shared->word, __ATOMIC_SEQ_CST),
                            p->worker) > 0;
}

static gboolean
total_ops_reached_cb (gpointer data)
{
  Progress *p = data;
  gint64 total = 0;

  for (int w = 0; w < STRESS_WORKERS; w++)
    total += __atomic_load_n (&p->stress->shared->ops[w], __ATOMIC_RELAXED);

  return total >= p->target;
}

static gboolean
worker_ops_reached_cb (gpointer data)
{
  Progress *p = data;

  return __atomic_load_n (&p->stress->shared->ops[p->worker], __ATOMIC_RELAXED) >= p->target;
}

static gboolean
stress_stop_if_holding (Stress *self,
                        int     w)
{
  Progress p = { self, w, 0 };
  int status;
  pid_t res;

  g_assert_cmpint (kill (self->pids[w], SIGSTOP), ==, 0);
  do
    res = waitpid (self->pids[w], &status, WUNTRACED);
  while (res == -1 && errno == EINTR);
  g_assert_cmpint (res, ==, self->pids[w]);
  g_assert_true (WIFSTOPPED (status));

  if (worker_holds_cb (&p))
    return TRUE;

  g_assert_cmpint (kill (self->pids[w], SIGCONT), ==, 0);
  return FALSE;
}

/* Stops the victim (SIGSTOP, and waits until it is stopped) at a moment
 * when it holds a unit, so that the SIGKILL that follows is sure to find
 * it holding one. */
static void
stress_stop_holding (Stress   *self,
                     Progress *p)
{
  do
    sysem_test_wait_for (worker_holds_cb, p, "the victim to hold a unit");
  while (!stress_stop_if_holding (self, p->worker));
}

static void
test_stress_kill (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  int n_victims = 4;
  gboolean victim[STRESS_WORKERS] = { FALSE, };
  gint64 total = 0;
  int held_by_victims = 0;
  int n_killed = 0;
  int value;
  Stress self;

  stress_setup (&self, fixture->key_type);
  stress_spawn (&self, 0, FALSE);

  for (int k = 0; k < n_victims; k++)
    {
      Progress p = { &self, 0, 0 };
      int w;

        {
          do
            w = g_test_rand_int_range (0, STRESS_WORKERS);
          while (victim[w]);

          /* Let the others run for a random while (the units the last
           * victim held must have come back for that), then catch the
           * victim with a unit in hand. */
          for (int i = 0; i < STRESS_WORKERS; i++)
            p.target += self.shared->ops[i];
          p.target += g_test_rand_int_range (50, 500);
          sysem_test_wait_for (total_ops_reached_cb, &p, "the workers to make progress");

          p.worker = w;
          stress_stop_holding (&self, &p);
        }

      victim[w] = TRUE;
      n_killed++;
      stress_mark_dead (self.shared, w);
      g_assert_cmpint (kill (self.pids[w], SIGKILL), ==, 0);
      stress_reap (&self, w, TRUE);
      g_assert_true (WIFSIGNALED (self.status[w]));
      g_assert_cmpint (WTERMSIG (self.status[w]), ==, SIGKILL);

      /* Its threads that were between stress_enter() and stress_leave()
       * held a unit; a thread stopped just after acquiring or just before
       * releasing held one too, unseen. */
      held_by_victims += stress_holders_of (self.shared->word, w);
    }

  g_test_message ("killed %d workers holding at least %d units", n_killed, held_by_victims);
  g_assert_cmpint (n_killed, >=, 1);
  g_assert_cmpint (held_by_victims, >=, n_killed);

    {
      /* The units came back: every survivor keeps getting units, which
       * could not happen if the victims' units were lost. */
      for (int w = 0; w < STRESS_WORKERS; w++)
        {
          Progress p = { &self, w, self.shared->ops[w] + 20 };

          if (!victim[w])
            sysem_test_wait_for (worker_ops_reached_cb, &p, "a survivor to make progress");
        }
    }

  /* Timed and cancellable acquires end, even when every unit was lost. */
  g_atomic_int_set (&self.shared->stop, 1);
  sysem_test_wait_for (stress_all_exited_cb, &self, "the survivors to stop");

  for (int w = 0; w < STRESS_WORKERS; w++)
    {
      if (!victim[w])
        stress_assert_clean_exit (&self, w);
      total += self.shared->ops[w];
    }

  g_test_message ("%" G_GINT64_FORMAT " rounds, at most %d live holders at once", total,
                  self.shared->max_live);
  g_assert_cmpint (self.shared->violations, ==, 0);
  g_assert_cmpint (self.shared->max_live, <=, STRESS_UNITS);
  g_assert_cmpint (stress_live_holders (self.shared->word), ==, 0);

  value = sysem_semaphore_get_value (self.sem, &error);
  g_assert_no_error (error);

  /* SEM_UNDO or the ledger gave back the victims' units and took them
   * out of the user count. */
  g_assert_cmpint (value, ==, STRESS_UNITS);
  g_assert_cmpint (sysem_test_stats (self.sem).users, ==, 1);

  stress_teardown (&self);
}

/* System V, with nobody keeping the semaphore open: every thread of every
 * worker opens the key, takes the only unit, releases it and finalizes
 * its object, so the set and its key file are made and removed thousands
 * of times while other processes are opening them. The lifetime protocol
 * (user count, flock on the key file, retry when the file changed) must
 * make every open succeed, and put everyone on the same set: with one
 * unit, two holders at once would mean two sets. */
static void
test_churn (SysemTestFixture *fixture)
{
  gint64 iterations = 1000;
  gint64 total = 0;
  Stress self;

  stress_setup (&self, SYSEM_KEY_TYPE_SYSTEM_V);
  g_clear_object (&self.sem);
  g_assert_false (sysem_test_path_exists (self.file));

  stress_spawn (&self, iterations, TRUE);
  sysem_test_wait_for (stress_all_exited_cb, &self, "the workers to finish");

  for (int w = 0; w < STRESS_WORKERS; w++)
    {
      stress_assert_clean_exit (&self, w);
      total += self.shared->ops[w];
    }

  g_test_message ("%" G_GINT64_FORMAT " opens, at most %d holders at once",
                  total, self.shared->max_live);
  g_assert_cmpint (self.shared->violations, ==, 0);
  g_assert_cmpint (self.shared->max_live, ==, 1);
  g_assert_cmpint (total, ==, STRESS_WORKERS * STRESS_THREADS * iterations);

  stress_teardown (&self);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/reliability/stress/{sysv}", test_stress);
  sysem_test_add_both_types ("/reliability/stress/{sysv}-sigkill", test_stress_kill);

  sysem_test_add ("/reliability/stress/sysv-open-close-churn", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_churn);

  return g_test_run ();
}
