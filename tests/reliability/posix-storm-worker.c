/* posix-storm-worker.c: one process of the POSIX SIGKILL storm
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * posix-storm-worker KEY SEED
 *
 * Opens the POSIX semaphore KEY and runs two threads until it is killed:
 * one makes every kind of synchronous call in turn (acquire, try_acquire
 * without and with a timeout, a cancellable acquire that another thread
 * may cancel), the other runs a main loop of acquire_async() requests.
 * Every unit taken is released once, right after: a process killed
 * anywhere holds at most what its threads took, which the holder ledger
 * must give back. Prints "ready" once both threads run; prints a line
 * starting with "error" and exits 1 if a call fails in a way it must not.
 */

#include <stdio.h>
#include <stdlib.h>

#include <gio/gio.h>

#include "sysem.h"

typedef struct {
  SysemSemaphore *sem;
  GCancellable   *cancellable;
  GMainLoop      *loop;
  guint32         seed;
  gint            running;
} Worker;

static void
fail (const char *what,
      GError     *error)
{
  printf ("error %s: %s\n", what, error != NULL ? error->message : "no error");
  fflush (stdout);
  exit (1);
}

static void
release_one (Worker *w)
{
  g_autoptr(GError) error = NULL;

  if (!sysem_semaphore_release (w->sem, 1, &error))
    fail ("release", error);
}

static gpointer
sync_thread (gpointer data)
{
  Worker *w = data;
  GRand *rand = g_rand_new_with_seed (w->seed);

  g_atomic_int_inc (&w->running);

  for (guint i = 0;; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean took;

      switch (i % 5)
        {
        case 0:
          took = sysem_semaphore_acquire (w->sem, NULL, &error);
          if (!took)
            fail ("acquire", error);
          break;
        case 1:
          took = sysem_semaphore_try_acquire (w->sem, 0, NULL, NULL);
          break;
        case 2:
          took = sysem_semaphore_try_acquire (w->sem, g_rand_int_range (rand, 1, 2000), NULL, &error);
          if (!took && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            fail ("try_acquire", error);
          break;
        case 3:
          took = sysem_semaphore_try_acquire (w->sem, g_rand_int_range (rand, 1, 2000),
                                              w->cancellable, &error);
          if (!took && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) &&
              !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            fail ("try_acquire (cancellable)", error);
          break;
        default:
          took = sysem_semaphore_acquire (w->sem, w->cancellable, &error);
          if (!took && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            fail ("acquire (cancellable)", error);
          break;
        }

      if (took)
        {
          for (int spin = g_rand_int_range (rand, 0, 3000); spin > 0; spin--)
            __asm__ __volatile__ ("" ::: "memory");
          release_one (w);
        }
      else if (g_cancellable_is_cancelled (w->cancellable))
        g_cancellable_reset (w->cancellable);
    }

  return NULL;
}

/* Cancels the synchronous thread's waits now and then. */
static gboolean
cancel_cb (gpointer data)
{
  Worker *w = data;

  g_cancellable_cancel (w->cancellable);
  return G_SOURCE_CONTINUE;
}

static void acquire_next (Worker *w);

static void
acquired_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Worker *w = data;
  g_autoptr(GError) error = NULL;

  if (!sysem_semaphore_acquire_finish (w->sem, result, &error))
    fail ("acquire_async", error);
  release_one (w);
  acquire_next (w);
}

static void
acquire_next (Worker *w)
{
  sysem_semaphore_acquire_async (w->sem, NULL, acquired_cb, w);
}

static gboolean
announce_cb (gpointer data)
{
  Worker *w = data;

  if (g_atomic_int_get (&w->running) == 0)
    return G_SOURCE_CONTINUE;
  printf ("ready\n");
  fflush (stdout);
  return G_SOURCE_REMOVE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  Worker w = { NULL, };

  if (argc != 3)
    {
      fprintf (stderr, "usage: %s KEY SEED\n", argv[0]);
      return 2;
    }

  w.sem = sysem_semaphore_new_full (argv[1], SYSEM_KEY_TYPE_POSIX, 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (w.sem == NULL)
    fail ("open", error);
  w.seed = (guint32) strtoul (argv[2], NULL, 10);
  w.cancellable = g_cancellable_new ();
  w.loop = g_main_loop_new (NULL, FALSE);

  g_thread_unref (g_thread_new ("sync", sync_thread, &w));
  g_timeout_add (1, cancel_cb, &w);
  g_idle_add_full (G_PRIORITY_HIGH, announce_cb, &w, NULL);
  acquire_next (&w);
  g_main_loop_run (w.loop);

  return 0;
}
