/* acquire-async.c: waiting for a semaphore from a GMainLoop
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   acquire-async [--posix] KEY
 *
 * Five jobs share two slots, counted by the system semaphore KEY: run the
 * program in two terminals with the same key and the two together never
 * run more than two jobs at once. Each job asks for a slot with
 * sysem_semaphore_acquire_async(), so the main loop stays free while it
 * waits; Ctrl+C cancels the jobs that have not started yet.
 */

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <sysem/sysem.h>

#define N_JOBS  5
#define N_SLOTS 2

typedef struct {
  GMainLoop    *loop;
  GCancellable *cancellable;
  int           running;
  int           finished;
  gboolean      failed;
} App;

typedef struct {
  App            *app;
  SysemSemaphore *sem;
  int             number;
} Job;

static void
job_finished (Job *job)
{
  if (++job->app->finished == N_JOBS)
    g_main_loop_quit (job->app->loop);

  g_object_unref (job->sem);
  g_free (job);
}

/* The work is simulated: a timeout stands for it. */
static gboolean
job_work_done_cb (gpointer user_data)
{
  Job *job = user_data;
  g_autoptr(GError) error = NULL;

  job->app->running--;
  g_print ("job %d: done, giving the slot back\n", job->number);
  if (!sysem_semaphore_release (job->sem, 1, &error))
    {
      g_printerr ("job %d: %s\n", job->number, error->message);
      job->app->failed = TRUE;
    }

  job_finished (job);
  return G_SOURCE_REMOVE;
}

static void
job_acquired_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Job *job = user_data;
  g_autoptr(GError) error = NULL;

  if (!sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_print ("job %d: cancelled\n", job->number);
      else
        {
          g_printerr ("job %d: %s\n", job->number, error->message);
          job->app->failed = TRUE;
        }
      job_finished (job);
      return;
    }

  /* This process never runs more jobs than there are slots. */
  if (++job->app->running > N_SLOTS)
    {
      g_printerr ("job %d: %d jobs running at once\n", job->number, job->app->running);
      job->app->failed = TRUE;
    }

  g_print ("job %d: got a slot, working\n", job->number);
  g_timeout_add (50 + g_random_int_range (0, 100), job_work_done_cb, job);
}

static gboolean
interrupted_cb (gpointer user_data)
{
  App *app = user_data;

  g_print ("Interrupted: cancelling the jobs that wait\n");
  g_cancellable_cancel (app->cancellable);

  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  SysemKeyType key_type = SYSEM_KEY_TYPE_SYSTEM_V;
  const char *key = NULL;
  App app = { 0 };

  setlocale (LC_ALL, "");

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--posix") == 0)
        key_type = SYSEM_KEY_TYPE_POSIX;
      else if (key == NULL)
        key = argv[i];
      else
        {
          key = NULL;   /* one key only */
          break;
        }
    }
  if (key == NULL)
    {
      g_printerr ("Usage: %s [--posix] KEY\n", argv[0]);
      return EXIT_FAILURE;
    }

  /* Open mode: a semaphore that already exists keeps its count, one that
   * does not is made with N_SLOTS units. */
  sem = sysem_semaphore_new_full (key, key_type, N_SLOTS, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }

  app.loop = g_main_loop_new (NULL, FALSE);
  app.cancellable = g_cancellable_new ();
  g_unix_signal_add (SIGINT, interrupted_cb, &app);

  for (int i = 0; i < N_JOBS; i++)
    {
      Job *job = g_new0 (Job, 1);

      job->app = &app;
      job->sem = g_object_ref (sem);
      job->number = i + 1;
      g_print ("job %d: waiting for a slot\n", job->number);
      sysem_semaphore_acquire_async (sem, app.cancellable, job_acquired_cb, job);
    }

  g_main_loop_run (app.loop);

  g_main_loop_unref (app.loop);
  g_object_unref (app.cancellable);

  return app.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
