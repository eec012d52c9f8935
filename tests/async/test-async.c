/* test-async.c: sysem_semaphore_acquire_async()
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test runs for both key types. Several count the threads of this
 * process in /proc/self/task, so the program must run alone.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "sysem-test-util.h"

/* The most threads acquire_async() may add, DESIGN.md §5. */
#define MAX_EXTRA_THREADS 4

/* Not a measure: a guard, so that a bug fails the test instead of hanging
 * it. Generous, since valgrind runs this too. */
#define HANG_GUARD_USEC (120 * G_USEC_PER_SEC)

/* Helpers */

static guint
count_threads (void)
{
  DIR *dir = opendir ("/proc/self/task");
  struct dirent *entry;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);

  return n;
}

/* What the system calls the semaphore: the file that must be gone once the
 * last object has left it. */
static char *
system_path (SysemSemaphore *sem)
{
  return sysem_test_native_path (sysem_semaphore_get_native_key (sem),
                                 sysem_semaphore_get_key_type (sem));
}

/* Iterating a main context until a condition holds. The condition may be
 * changed by another thread without waking the context, so a tick wakes it
 * to look again. */

typedef struct {
  GMainContext *context;
  GSource      *tick;
  gint64        deadline;
  const char   *what;
} Waiting;

static void
waiting_begin (Waiting      *w,
               GMainContext *context,
               const char   *what)
{
  w->context = context;
  w->tick = g_timeout_source_new (2);
  g_source_set_dummy_callback (w->tick);
  g_source_attach (w->tick, context);
  w->deadline = g_get_monotonic_time () + HANG_GUARD_USEC;
  w->what = what;
}

static void
waiting_step (Waiting *w)
{
  if (g_get_monotonic_time () > w->deadline)
    g_error ("Gave up waiting for %s", w->what);
  g_main_context_iteration (w->context, TRUE);
}

static void
waiting_end (Waiting *w)
{
  g_source_destroy (w->tick);
  g_source_unref (w->tick);
}

#define ITERATE_UNTIL(context, condition)                  \
  G_STMT_START {                                           \
    Waiting w_;                                            \
    waiting_begin (&w_, (context), #condition);            \
    while (!(condition))                                   \
      waiting_step (&w_);                                  \
    waiting_end (&w_);                                     \
  } G_STMT_END

static void
finalized_cb (gpointer  data,
              GObject  *where_the_object_was)
{
  g_atomic_int_set ((int *) data, TRUE);
}

/* Drops the caller's reference, the last one but for those of requests
 * still finishing, waits until the object is finalized (perhaps in the
 * waiter thread) and checks that it removed the semaphore. */
static void
drop_last (SysemSemaphore *sem)
{
  g_autofree char *path = system_path (sem);
  int finalized = FALSE;

  g_object_weak_ref (G_OBJECT (sem), finalized_cb, &finalized);
  g_object_unref (sem);
  ITERATE_UNTIL (NULL, g_atomic_int_get (&finalized));

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* One request and what became of it. */

typedef struct {
  int            index;
  gboolean       done;
  gboolean       acquired;
  GError        *error;
  GThread       *thread;
  GMainContext  *context;
  GCancellable  *cancellable;
  GArray        *log;   /* if set, the index is appended on completion */
} Request;

static void
request_clear (Request *r)
{
  g_clear_error (&r->error);
  g_clear_object (&r->cancellable);
  if (r->context != NULL)
    g_main_context_unref (r->context);
  memset (r, 0, sizeof *r);
}

static void
request_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Request *r = user_data;

  g_assert_true (SYSEM_IS_SEMAPHORE (source));
  g_assert_false (r->done);

  r->acquired = sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result, &r->error);
  g_assert_true (r->acquired == (r->error == NULL));
  r->thread = g_thread_self ();
  r->context = g_main_context_ref_thread_default ();
  if (r->log != NULL)
    g_array_append_val (r->log, r->index);
  r->done = TRUE;
}

static void
request_start (SysemSemaphore *sem,
               Request        *r,
               gboolean        cancellable)
{
  if (cancellable && r->cancellable == NULL)
    r->cancellable = g_cancellable_new ();
  sysem_semaphore_acquire_async (sem, r->cancellable, request_done_cb, r);
}

/* Waits until the waiter thread sleeps in the kernel for the head request:
 * for System V the kernel counts it; for POSIX glibc counts it in the
 * sem_t. */
static void
wait_for_sleeping_waiter (SysemSemaphore *sem,
                          int             n)
{
  ITERATE_UNTIL (NULL, sysem_test_waiters (sem) >= n);
}

/* Tests */

/* A free unit: served in the calling thread, in its main context, with no
 * thread made and nothing queued. */
static void
test_free_unit (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 3, SYSEM_ACCESS_MODE_CREATE);
  GMainContext *context = g_main_context_default ();
  Request r[3] = { 0 };
  guint threads = count_threads ();

  for (int i = 0; i < 3; i++)
    {
      request_start (sem, &r[i], i == 1);
      /* GTask never calls back before the call returns. */
      g_assert_false (r[i].done);
      g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 0);
      g_assert_cmpint (sysem_test_value (sem), ==, 2 - i);
    }

  ITERATE_UNTIL (NULL, r[0].done && r[1].done && r[2].done);

  for (int i = 0; i < 3; i++)
    {
      g_assert_no_error (r[i].error);
      g_assert_true (r[i].acquired);
      g_assert_true (r[i].thread == g_thread_self ());
      g_assert_true (r[i].context == context);
      request_clear (&r[i]);
    }

  /* Not one more (a waiter of an earlier test may still be ending). */
  g_assert_cmpuint (count_threads (), <=, threads);

  sysem_test_release (sem, 3);
  g_assert_cmpint (sysem_test_value (sem), ==, 3);
  drop_last (sem);
}

/* A thread with a main context of its own pushed as thread-default. */

typedef struct {
  SysemSemaphore *sem;
  SysemSemaphore *other;   /* the same semaphore, to release from */
} ContextTest;

static gpointer
context_thread (gpointer data)
{
  ContextTest *t = data;
  GMainContext *context = g_main_context_new ();
  Request fast = { 0 }, queued = { 0 };

  g_main_context_push_thread_default (context);

  /* Served at once. */
  request_start (t->sem, &fast, TRUE);
  ITERATE_UNTIL (context, fast.done);
  g_assert_true (fast.acquired);
  g_assert_true (fast.thread == g_thread_self ());
  g_assert_true (fast.context == context);

  /* Served by the waiter, delivered here all the same. */
  request_start (t->sem, &queued, TRUE);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (t->sem), ==, 1);
  sysem_test_release (t->other, 1);
  ITERATE_UNTIL (context, queued.done);
  g_assert_true (queued.acquired);
  g_assert_true (queued.thread == g_thread_self ());
  g_assert_true (queued.context == context);

  request_clear (&fast);
  request_clear (&queued);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  return NULL;
}

static void
test_thread_context (SysemTestFixture *fixture)
{
  ContextTest t;
  GMainContext *context = g_main_context_default ();
  Request r = { 0 };
  GThread *thread;

  t.sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  t.other = sysem_test_open (sysem_semaphore_get_key (t.sem),
                             sysem_semaphore_get_key_type (t.sem), 0, SYSEM_ACCESS_MODE_OPEN);

  thread = g_thread_new ("context-test", context_thread, &t);
  g_thread_join (thread);
  g_assert_cmpint (sysem_test_value (t.sem), ==, 0);

  /* And the same through the waiter in the main thread. */
  request_start (t.sem, &r, FALSE);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (t.sem), ==, 1);
  sysem_test_release (t.other, 1);
  ITERATE_UNTIL (NULL, r.done);
  g_assert_true (r.acquired);
  g_assert_true (r.thread == g_thread_self ());
  g_assert_true (r.context == context);
  request_clear (&r);

  g_object_unref (t.other);
  drop_last (t.sem);
}

static void
test_source_tag (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GObject) stranger = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GError) error = NULL;
  GTask *task;

  /* The right source object, the wrong tag. */
  task = g_task_new (sem, NULL, NULL, NULL);
  g_task_set_source_tag (task, test_source_tag);
  g_task_return_boolean (task, TRUE);
  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*source_tag*");
  g_assert_false (sysem_semaphore_acquire_finish (sem, G_ASYNC_RESULT (task), &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_object_unref (task);

  /* The right tag, another source object. */
  task = g_task_new (stranger, NULL, NULL, NULL);
  g_task_set_source_tag (task, sysem_semaphore_acquire_async);
  g_task_return_boolean (task, TRUE);
  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*g_task_is_valid*");
  g_assert_false (sysem_semaphore_acquire_finish (sem, G_ASYNC_RESULT (task), &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_object_unref (task);

  /* Nothing was taken. */
  g_assert_cmpint (sysem_test_value (sem), ==, 1);
  drop_last (sem);
}

static void
test_cancel (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  GMainContext *context;
  Request r[4] = { 0 };

  /* Already cancelled: fails without taking the free unit or queueing. */
  r[0].cancellable = g_cancellable_new ();
  g_cancellable_cancel (r[0].cancellable);
  request_start (sem, &r[0], TRUE);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 0);
  ITERATE_UNTIL (NULL, r[0].done);
  g_assert_error (r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);
  request_clear (&r[0]);

  /* Take the unit, then three requests wait. */
  request_start (sem, &r[0], FALSE);
  ITERATE_UNTIL (NULL, r[0].done);
  g_assert_true (r[0].acquired);
  request_clear (&r[0]);

  for (int i = 0; i < 3; i++)
    request_start (sem, &r[i], TRUE);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 3);
  wait_for_sleeping_waiter (sem, 1);

  /* One in the middle of the queue: its cancel source finishes it. */
  g_cancellable_cancel (r[1].cancellable);
  ITERATE_UNTIL (NULL, r[1].done);
  g_assert_error (r[1].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (r[0].done);
  g_assert_false (r[2].done);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 2);

  /* The head, which the waiter sleeps for, with no unit ever coming. */
  g_cancellable_cancel (r[0].cancellable);
  ITERATE_UNTIL (NULL, r[0].done);
  g_assert_error (r[0].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (r[2].done);

  /* The last one is served by the unit that comes. */
  sysem_test_release (sem, 1);
  ITERATE_UNTIL (NULL, r[2].done);
  g_assert_no_error (r[2].error);
  g_assert_true (r[2].acquired);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 0);

  /* Cancelling after the result changes nothing. */
  g_cancellable_cancel (r[2].cancellable);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);

  /* Not even between the unit being taken and the callback running: the
   * request was made from a context that is not iterated until then. */
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  request_start (sem, &r[3], TRUE);
  g_main_context_pop_thread_default (context);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 1);
  sysem_test_release (sem, 1);
  ITERATE_UNTIL (NULL, sysem_semaphore_get_n_pending (sem) == 0);
  g_cancellable_cancel (r[3].cancellable);
  ITERATE_UNTIL (context, r[3].done);
  g_assert_no_error (r[3].error);
  g_assert_true (r[3].acquired);
  g_assert_true (r[3].context == context);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  g_main_context_unref (context);

  for (int i = 0; i < 4; i++)
    request_clear (&r[i]);

  sysem_test_release (sem, 3);
  drop_last (sem);
}

/* A job for GLib's shared thread pool. */

static void
pool_job (GTask        *task,
          gpointer      source_object,
          gpointer      task_data,
          GCancellable *cancellable)
{
  g_task_return_boolean (task, TRUE);
}

static void
pool_job_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_assert_true (g_task_propagate_boolean (G_TASK (result), NULL));
  *(gboolean *) user_data = TRUE;
}

static void
contents_loaded_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_load_contents_finish (G_FILE (source), result, &contents, &length,
                                              NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (contents, ==, "sysem async test\n");
  *(gboolean *) user_data = TRUE;
}

/* 50 requests waiting use at most a few threads, none of GLib's pool, which
 * stays free for other work meanwhile. */
static void
test_thread_pool (SysemTestFixture *fixture)
{
  const int n = 50;
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  Request r[50] = { 0 };
  g_autoptr(GTask) job = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFileIOStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  gboolean job_done = FALSE, file_done = FALSE;
  guint threads = count_threads ();

  for (int i = 0; i < n; i++)
    request_start (sem, &r[i], i % 2 == 0);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, n);
  wait_for_sleeping_waiter (sem, 1);
  g_assert_cmpuint (count_threads (), <=, threads + MAX_EXTRA_THREADS);

  job = g_task_new (NULL, NULL, pool_job_done_cb, &job_done);
  g_task_run_in_thread (job, pool_job);

  file = g_file_new_tmp ("sysemtest-async-XXXXXX", &stream, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_replace_contents (file, "sysem async test\n", 17, NULL, FALSE,
                                          G_FILE_CREATE_NONE, NULL, NULL, &error));
  g_assert_no_error (error);
  g_file_load_contents_async (file, NULL, contents_loaded_cb, &file_done);

  ITERATE_UNTIL (NULL, job_done && file_done);

  /* Still all waiting. */
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, n);
  for (int i = 0; i < n; i++)
    g_assert_false (r[i].done);

  g_assert_true (g_file_delete (file, NULL, &error));
  g_assert_no_error (error);

  sysem_test_release (sem, n);
  ITERATE_UNTIL (NULL, sysem_semaphore_get_n_pending (sem) == 0 && r[n - 1].done);
  for (int i = 0; i < n; i++)
    {
      g_assert_true (r[i].done);
      g_assert_true (r[i].acquired);
      request_clear (&r[i]);
    }
  g_assert_cmpint (sysem_test_value (sem), ==, 0);

  sysem_test_release (sem, n);
  drop_last (sem);
}

/* 10,000 requests, served in order as another process releases units. */
static void
test_fifo (SysemTestFixture *fixture)
{
  const int n = 10000;
  SysemKeyType key_type = fixture->key_type;
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  Request *r = g_new0 (Request, n);
  g_autoptr(GArray) log = g_array_sized_new (FALSE, FALSE, sizeof (int), n);
  g_autoptr(GError) error = NULL;
  g_autofree char *count = g_strdup_printf ("%d", n);
  const char *argv[] = {
    SYSEM_ASYNC_HELPER,
    key_type == SYSEM_KEY_TYPE_POSIX ? "posix" : "system-v",
    sysem_semaphore_get_key (sem),
    count,
    "100",
    NULL
  };
  guint threads = count_threads ();
  guint most_threads = 0;
  GPid pid;
  int status;

  for (int i = 0; i < n; i++)
    {
      r[i].index = i;
      r[i].log = log;
      request_start (sem, &r[i], i % 100 == 0);
    }
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, n);
  wait_for_sleeping_waiter (sem, 1);
  g_assert_cmpuint (count_threads (), <=, threads + MAX_EXTRA_THREADS);

  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                                NULL, NULL, &pid, &error));
  g_assert_no_error (error);

  /* Look at the threads now and then while they complete. */
  {
    Waiting w;

    waiting_begin (&w, NULL, "all 10000 requests");
    while (log->len < (guint) n)
      {
        most_threads = MAX (most_threads, count_threads ());
        waiting_step (&w);
      }
    waiting_end (&w);
  }
  g_assert_cmpuint (most_threads, <=, threads + MAX_EXTRA_THREADS);

  for (int i = 0; i < n; i++)
    {
      g_assert_cmpint (g_array_index (log, int, i), ==, i);
      g_assert_true (r[i].acquired);
      request_clear (&r[i]);
    }
  g_free (r);

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);
  g_spawn_close_pid (pid);

  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 0);

  /* Give the units back in batches (System V counts at most 32767). */
  for (int done = 0; done < n; done += 1000)
    sysem_test_release (sem, 1000);
  drop_last (sem);
}

/* Cancellation racing with a release: whatever wins, a request that reports
 * CANCELLED has no unit, one that reports success has exactly one. */

typedef struct {
  SysemSemaphore *sem;
  GAsyncQueue    *orders;
  GAsyncQueue    *done;
} Releaser;

static gpointer
releaser_thread (gpointer data)
{
  Releaser *rel = data;

  while (GPOINTER_TO_INT (g_async_queue_pop (rel->orders)) > 0)
    {
      sysem_test_release (rel->sem, 1);
      g_async_queue_push (rel->done, GINT_TO_POINTER (1));
    }

  return NULL;
}

static void
test_cancel_race (SysemTestFixture *fixture)
{
  const int rounds = g_test_thorough () ? 1000 : 200;
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  Releaser rel = { sem, g_async_queue_new (), g_async_queue_new () };
  GThread *thread = g_thread_new ("releaser", releaser_thread, &rel);
  int released = 0, acquired = 0, cancelled = 0, drained = 0;

  for (int round = 0; round < rounds; round++)
    {
      Request a = { 0 }, b = { 0 };

      /* When both requests of the last round were cancelled, the unit is
       * still there: take it, so that both requests of this round wait. */
      while (sysem_semaphore_try_acquire (sem, 0, NULL, NULL))
        drained++;

      request_start (sem, &a, TRUE);
      request_start (sem, &b, TRUE);
      g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 2);

      /* Half the time the waiter is already asleep for a. */
      if (round % 2 == 0)
        wait_for_sleeping_waiter (sem, 1);

      switch (round % 4)
        {
        case 0:
        case 1:
          g_async_queue_push (rel.orders, GINT_TO_POINTER (1));
          g_cancellable_cancel (a.cancellable);
          break;
        default:
          g_cancellable_cancel (a.cancellable);
          g_async_queue_push (rel.orders, GINT_TO_POINTER (1));
          break;
        }
      released++;

      /* b is cancelled once a is done and the unit has come, whatever a
       * became: b may have got the unit a did not keep. */
      ITERATE_UNTIL (NULL, a.done);
      g_async_queue_pop (rel.done);
      g_cancellable_cancel (b.cancellable);
      ITERATE_UNTIL (NULL, b.done);

      for (Request *r = &a; r != NULL; r = r == &a ? &b : NULL)
        {
          if (r->acquired)
            acquired++;
          else
            {
              g_assert_error (r->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
              cancelled++;
            }
        }

      /* One unit came: at most one request has it. */
      g_assert_cmpint (a.acquired + b.acquired, <=, 1);
      request_clear (&a);
      request_clear (&b);
    }

  g_async_queue_push (rel.orders, GINT_TO_POINTER (-1));
  g_thread_join (thread);
  g_async_queue_unref (rel.orders);
  g_async_queue_unref (rel.done);

  g_test_message ("%d rounds: %d acquired, %d cancelled, %d drained",
                  rounds, acquired, cancelled, drained);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 0);
  g_assert_cmpint (sysem_test_value (sem), ==, released - acquired - drained);

  sysem_test_release (sem, acquired + drained);
  drop_last (sem);
}

/* Many cancellable requests, cancelled in the middle of the queue, at its
 * head, from this thread and from another one, or served by a unit that
 * another thread gives: every cancellable is finalized once its request
 * is done (nothing of sysem's, no source of GLib's, keeps one), no unit
 * is lost, and under valgrind nothing leaks. GLib 2.74 leaks a
 * GCancellableSource now and then when one is destroyed in another thread
 * than its context's: sysem makes none. */

typedef struct {
  GAsyncQueue    *orders;   /* GCancellable to cancel, or the semaphore to release */
  SysemSemaphore *sem;
  gint            done;     /* orders carried out; atomic */
} Canceller;

static gpointer
canceller_thread (gpointer data)
{
  Canceller *c = data;
  gpointer order;

  while ((order = g_async_queue_pop (c->orders)) != (gpointer) c)
    {
      if (order == (gpointer) c->sem)
        sysem_test_release (c->sem, 1);
      else
        {
          g_cancellable_cancel (order);
          g_object_unref (order);
        }
      g_atomic_int_inc (&c->done);
    }

  return NULL;
}

static void
count_finalized_cb (gpointer  data,
                    GObject  *where_the_object_was)
{
  (*(int *) data)++;
}

static void
test_cancel_many (SysemTestFixture *fixture)
{
  const int total = sysem_test_under_valgrind () ? 4000 : 100000;
  const int batch = 400;
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  Canceller c = { g_async_queue_new (), sem, 0 };
  GThread *thread = g_thread_new ("canceller", canceller_thread, &c);
  Request *r = g_new0 (Request, batch);
  int finalized = 0, made = 0, released = 0, acquired = 0, ordered = 0;

  for (int done = 0; done < total; done += batch)
    {
      for (int i = 0; i < batch; i++)
        {
          request_start (sem, &r[i], TRUE);
          g_object_weak_ref (G_OBJECT (r[i].cancellable), count_finalized_cb, &finalized);
          made++;
        }
      if (done % (4 * batch) == 0)
        wait_for_sleeping_waiter (sem, 1);

      for (int i = 0; i < batch; i++)
        switch (i % 4)
          {
          case 0:   /* here, most of them in the middle of the queue */
            g_cancellable_cancel (r[i].cancellable);
            break;
          case 1:   /* in another thread */
            g_async_queue_push (c.orders, g_object_ref (r[i].cancellable));
            ordered++;
            break;
          case 2:   /* a unit from another thread, for whoever is first */
            g_async_queue_push (c.orders, sem);
            ordered++;
            released++;
            break;
          default:  /* here, once the others are done */
            break;
          }

      ITERATE_UNTIL (NULL, g_atomic_int_get (&c.done) == ordered);
      for (int i = 3; i < batch; i += 4)
        g_cancellable_cancel (r[i].cancellable);

      /* A request cancelled too late may have had a unit meant for one
       * that is not cancelled: give more until all are done. */
      {
        Waiting w;

        waiting_begin (&w, NULL, "every request of the batch");
        for (int i = 0; i < batch; )
          {
            if (r[i].done)
              {
                i++;
                continue;
              }
            if (sysem_semaphore_get_n_pending (sem) > 0 && sysem_test_value (sem) == 0)
              {
                sysem_test_release (sem, 1);
                released++;
              }
            waiting_step (&w);
          }
        waiting_end (&w);
      }

      for (int i = 0; i < batch; i++)
        {
          if (r[i].acquired)
            acquired++;
          else
            g_assert_error (r[i].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          request_clear (&r[i]);
        }
      g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 0);

      /* Every unit given is taken or still there. */
      g_assert_cmpint (sysem_test_value (sem), ==, released - acquired);
      /* Back to none, with this process's undo where it was. */
      sysem_test_release (sem, acquired);
      for (int i = 0; i < released; i++)
        sysem_test_acquire (sem);
      released = acquired = 0;
    }

  g_async_queue_push (c.orders, &c);
  g_thread_join (thread);
  g_async_queue_unref (c.orders);
  g_free (r);

  /* The last callbacks' tasks go in the next iteration. */
  ITERATE_UNTIL (NULL, finalized == made);
  g_test_message ("%d cancellable requests, every cancellable finalized", made);
  drop_last (sem);
}

/* Requests keep the object alive after its last reference is dropped, and
 * it goes once they are done. */
static void
test_dispose (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemSemaphore *other = sysem_test_open (sysem_semaphore_get_key (sem),
                                           sysem_semaphore_get_key_type (sem), 0,
                                           SYSEM_ACCESS_MODE_OPEN);
  Request r[5] = { 0 };
  int finalized = FALSE;

  for (int i = 0; i < 5; i++)
    request_start (sem, &r[i], i >= 3);
  wait_for_sleeping_waiter (sem, 1);

  g_object_weak_ref (G_OBJECT (sem), finalized_cb, &finalized);
  g_object_unref (sem);
  g_assert_false (g_atomic_int_get (&finalized));

  /* One leaves by cancellation, the others by units. */
  g_cancellable_cancel (r[4].cancellable);
  ITERATE_UNTIL (NULL, r[4].done);
  g_assert_error (r[4].error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_atomic_int_get (&finalized));

  sysem_test_release (other, 4);
  ITERATE_UNTIL (NULL, r[0].done && r[1].done && r[2].done && r[3].done);
  for (int i = 0; i < 4; i++)
    g_assert_true (r[i].acquired);

  ITERATE_UNTIL (NULL, g_atomic_int_get (&finalized));
  for (int i = 0; i < 5; i++)
    request_clear (&r[i]);

  g_assert_cmpint (sysem_test_value (other), ==, 0);
  sysem_test_release (other, 4);
  drop_last (other);
}

/* Dropping the last reference while a request without a cancellable waits,
 * and the units come from another process. */
static void
test_dispose_pending (SysemTestFixture *fixture)
{
  SysemKeyType key_type = fixture->key_type;
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autofree char *path = system_path (sem);
  g_autoptr(GError) error = NULL;
  const char *argv[] = {
    SYSEM_ASYNC_HELPER,
    key_type == SYSEM_KEY_TYPE_POSIX ? "posix" : "system-v",
    sysem_semaphore_get_key (sem),
    "1",
    "1",
    NULL
  };
  g_autofree char *out = NULL;
  Request r = { 0 };
  int finalized = FALSE;
  int status;

  request_start (sem, &r, FALSE);
  wait_for_sleeping_waiter (sem, 1);
  g_object_weak_ref (G_OBJECT (sem), finalized_cb, &finalized);
  g_object_unref (sem);

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_cmpstr (out, ==, "released 1\n");

  ITERATE_UNTIL (NULL, r.done);
  g_assert_true (r.acquired);
  ITERATE_UNTIL (NULL, g_atomic_int_get (&finalized));
  request_clear (&r);

  /* The last object of this process left: the semaphore is gone. */
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* The semaphore removed under waiting requests: they fail, promptly. */
static void
test_removed (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  Request r[3] = { 0 };

  request_start (sem, &r[0], FALSE);
  request_start (sem, &r[1], TRUE);
  wait_for_sleeping_waiter (sem, 1);

  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);

  ITERATE_UNTIL (NULL, r[0].done && r[1].done);
  g_assert_error (r[0].error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_assert_error (r[1].error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);

  /* A new request fails at once. */
  request_start (sem, &r[2], FALSE);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 0);
  ITERATE_UNTIL (NULL, r[2].done);
  g_assert_error (r[2].error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);

  for (int i = 0; i < 3; i++)
    request_clear (&r[i]);
  drop_last (sem);
}

/* set_key() while requests wait: they stay on the semaphore they were made
 * for; a request made afterwards goes to the new key, behind them. */
static void
test_set_key (SysemTestFixture *fixture)
{
  SysemKeyType key_type = fixture->key_type;
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemSemaphore *old = sysem_test_open (sysem_semaphore_get_key (sem), key_type, 0,
                                         SYSEM_ACCESS_MODE_OPEN);
  g_autofree char *new_key = sysem_test_key ("async");
  g_autoptr(GError) error = NULL;
  Request r[2] = { 0 };

  request_start (sem, &r[0], TRUE);
  wait_for_sleeping_waiter (sem, 1);

  g_assert_true (sysem_semaphore_set_key (sem, new_key, 1, SYSEM_ACCESS_MODE_CREATE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);

  request_start (sem, &r[1], TRUE);
  g_assert_cmpuint (sysem_semaphore_get_n_pending (sem), ==, 2);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);

  /* A unit on the old key serves the old request, then the new one takes
   * the new key's unit. */
  sysem_test_release (old, 1);
  ITERATE_UNTIL (NULL, r[0].done && r[1].done);
  g_assert_true (r[0].acquired);
  g_assert_true (r[1].acquired);
  g_assert_cmpint (sysem_test_value (old), ==, 0);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);

  for (int i = 0; i < 2; i++)
    request_clear (&r[i]);

  sysem_test_release (old, 1);
  sysem_test_release (sem, 1);
  drop_last (old);
  drop_last (sem);
}

/* fork() with requests waiting: the parent's go on being served in the
 * parent, the child forgets its copies and makes its own. */

static int
fork_child (SysemSemaphore *sem,
            Request        *inherited,
            int             n_inherited)
{
  Request mine = { 0 };

  if (count_threads () != 1)
    return 10;

  request_start (sem, &mine, TRUE);
  if (sysem_semaphore_get_n_pending (sem) != 1)
    return 11;
  /* Its own waiter thread; for POSIX, once that one sleeps, also the
   * watcher thread, which may already be there. */
  if (count_threads () < 2)
    return 12;

  /* Enough for the parent's requests and this one, whoever takes which. */
  sysem_test_release (sem, n_inherited + 1);

  ITERATE_UNTIL (NULL, mine.done);
  if (!mine.acquired)
    return 13;
  for (int i = 0; i < n_inherited; i++)
    if (inherited[i].done)
      return 14;

  sysem_test_release (sem, 1);
  return 0;
}

static void
test_fork (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  Request r[2] = { 0 };
  pid_t pid;
  int fds[2];
  char result = -1;
  int status;

  request_start (sem, &r[0], TRUE);
  request_start (sem, &r[1], FALSE);
  wait_for_sleeping_waiter (sem, 1);

  /* The child's verdict comes through a pipe: under valgrind its exit
   * status is valgrind's. */
  g_assert_no_errno (pipe (fds));
  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      result = fork_child (sem, r, 2);
      if (write (fds[1], &result, 1) != 1)
        _exit (2);
      _exit (0);
    }
  close (fds[1]);

  /* The child's verdict first: the units it releases are what the
   * parent's requests wait for, so a child that failed before releasing
   * them says why, instead of leaving the parent to wait. */
  {
    struct pollfd pfd = { fds[0], POLLIN, 0 };

    g_assert_cmpint (poll (&pfd, 1, SYSEM_TEST_DEADLINE_USEC / 1000), ==, 1);
    g_assert_cmpint (read (fds[0], &result, 1), ==, 1);
    g_assert_cmpint (result, ==, 0);
    close (fds[0]);
  }

  ITERATE_UNTIL (NULL, r[0].done && r[1].done);
  g_assert_true (r[0].acquired);
  g_assert_true (r[1].acquired);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));

  /* Three units released, the child's one given back, two taken here. */
  g_assert_cmpint (sysem_test_value (sem), ==, 1);

  for (int i = 0; i < 2; i++)
    request_clear (&r[i]);
  sysem_test_release (sem, 2);
  drop_last (sem);
}

/* A program that drops its object in the last callback and returns from
 * main() leaves nothing behind, whatever its waiter thread is doing then.
 * In 1.0 the waiter thread held the object, and 15-20 % of System V runs
 * left a "stale: no users" set and its key file: looped to catch that. */
static void
test_return_from_main (SysemTestFixture *fixture)
{
  const char *argv[] = {
    SYSEM_ASYNC_EXIT_HELPER,
    fixture->key_type == SYSEM_KEY_TYPE_POSIX ? "posix" : "system-v",
    fixture->key,
    NULL
  };
  int runs = sysem_test_under_valgrind () ? 5 : 60;

  for (int i = 0; i < runs; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *err = NULL;
      int status;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                   NULL, &err, &status, &error));
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (status, &error))
        g_error ("run %d: %s: %s", i, error->message, err);
      if (!sysem_test_key_is_clean (fixture->key, fixture->key_type))
        g_error ("run %d of %d left the semaphore behind", i + 1, runs);
    }
}

int
main (int   argc,
      char *argv[])
{
  static const struct {
    const char *path;
    SysemTestFunc func;
  } tests[] = {
    { "/async/{system-v}/free-unit", test_free_unit },
    { "/async/{system-v}/thread-context", test_thread_context },
    { "/async/{system-v}/source-tag", test_source_tag },
    { "/async/{system-v}/cancel", test_cancel },
    { "/async/{system-v}/thread-pool", test_thread_pool },
    { "/async/{system-v}/fifo", test_fifo },
    { "/async/{system-v}/cancel-race", test_cancel_race },
    { "/async/{system-v}/cancel-many", test_cancel_many },
    { "/async/{system-v}/dispose", test_dispose },
    { "/async/{system-v}/dispose-pending", test_dispose_pending },
    { "/async/{system-v}/removed", test_removed },
    { "/async/{system-v}/set-key", test_set_key },
    { "/async/{system-v}/fork", test_fork },
    { "/async/{system-v}/return-from-main", test_return_from_main },
  };

  g_test_init (&argc, &argv, NULL);

  /* GTask's class starts GLib's worker thread; have it before counting. */
  g_type_class_unref (g_type_class_ref (G_TYPE_TASK));

  for (gsize i = 0; i < G_N_ELEMENTS (tests); i++)
    sysem_test_add_both_types (tests[i].path, tests[i].func);

  return g_test_run ();
}
