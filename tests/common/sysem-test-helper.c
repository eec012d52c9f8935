/* sysem-test-helper.c: a process that uses a semaphore for the core tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Usage: sysem-test-helper [--posix] [--value N] [--create] KEY COMMAND...
 *
 * Opens KEY (Open mode unless --create, initial value N, 0 by default),
 * writes "opened", then runs each command in turn:
 *
 *   acquire [N]         N times: write "acquiring", take a unit, write "acquired"
 *   release [N]         give N units back, write "released"
 *   acquirerelease [N]  N rounds of acquire and release, then write "done"
 *   value               write "value V"
 *   wait                write "waiting", then wait for the end of standard input
 *   cancel [N]          N rounds: a second thread acquires with a cancellable
 *                       that this thread cancels at once; each acquire must
 *                       end cancelled (so the count must have no unit); then
 *                       write "cancelled"
 *
 * "acquiring" comes before a call that may block, so a test can wait for
 * that line and then for the kernel's count of waiters. On an error the
 * helper writes "error CODE" (a SysemSemaphoreError), the message on
 * standard error, and exits with 1. It leaves with the object finalized,
 * unless it is killed. Exit status 2 is a usage error. */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sysem.h"

static int
fail (GError *error)
{
  printf ("error %d\n", error->domain == SYSEM_SEMAPHORE_ERROR ? error->code : -1);
  fflush (stdout);
  fprintf (stderr, "sysem-test-helper: %s\n", error->message);
  g_error_free (error);
  return 1;
}

static int
count_arg (char **argv,
           int    argc,
           int   *i)
{
  char *end;
  long n;

  if (*i + 1 >= argc)
    return 1;

  n = strtol (argv[*i + 1], &end, 10);
  if (*end != '\0' || end == argv[*i + 1])
    return 1;

  (*i)++;
  return (int) n;
}

static void
say (const char *line)
{
  printf ("%s\n", line);
  fflush (stdout);
}

typedef struct {
  SysemSemaphore *sem;
  GCancellable   *cancellable;
  GAsyncQueue    *go;
  GAsyncQueue    *results;   /* a GError each; the first says if the warm-up wait ran out */
  int             rounds;
} Cancel;

static gpointer
cancel_waiter (gpointer data)
{
  Cancel *c = data;

  GError *warm_up = NULL;
  gboolean ran_out;

  /* A wait that runs out, before any cancel, gives the cancellable its
   * handler and puts this thread's slot on its list: every cancel after
   * it passes the barrier, wherever it falls in the next waits. */
  if (sysem_semaphore_try_acquire (c->sem, 1, c->cancellable, &warm_up))
    warm_up = g_error_new_literal (SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_UNKNOWN,
                                   "the semaphore had a unit");
  ran_out = g_error_matches (warm_up, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_async_queue_push (c->results, warm_up);
  if (!ran_out)
    return NULL;

  for (int k = 0; k < c->rounds; k++)
    {
      GError *error = NULL;

      g_async_queue_pop (c->go);
      if (sysem_semaphore_acquire (c->sem, c->cancellable, &error))
        error = g_error_new_literal (SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_UNKNOWN,
                                     "the acquire took a unit instead of ending cancelled");
      g_async_queue_push (c->results, error);
    }
  return NULL;
}

/* Each round's cancel may come before the wait or during it: either way
 * the acquire ends cancelled, and passes membarrier(). */
static GError *
cancel_rounds (SysemSemaphore *sem,
               int             rounds)
{
  Cancel c = { sem, g_cancellable_new (), g_async_queue_new (), g_async_queue_new (), rounds };
  GThread *thread = g_thread_new ("cancel-waiter", cancel_waiter, &c);
  GError *failure = g_async_queue_pop (c.results);

  if (g_error_matches (failure, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_clear_error (&failure);
  else
    rounds = 0;

  for (int k = 0; k < rounds; k++)
    {
      GError *error;

      g_async_queue_push (c.go, GINT_TO_POINTER (1));
      g_cancellable_cancel (c.cancellable);
      error = g_async_queue_pop (c.results);
      g_cancellable_reset (c.cancellable);
      if (failure == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        failure = g_error_copy (error);
      g_error_free (error);
    }

  g_thread_join (thread);
  g_object_unref (c.cancellable);
  g_async_queue_unref (c.go);
  g_async_queue_unref (c.results);
  return failure;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemKeyType key_type = SYSEM_KEY_TYPE_SYSTEM_V;
  SysemAccessMode mode = SYSEM_ACCESS_MODE_OPEN;
  GError *error = NULL;
  int value = 0;
  int i = 1;

  for (; i < argc && g_str_has_prefix (argv[i], "--"); i++)
    {
      if (g_str_equal (argv[i], "--posix"))
        key_type = SYSEM_KEY_TYPE_POSIX;
      else if (g_str_equal (argv[i], "--create"))
        mode = SYSEM_ACCESS_MODE_CREATE;
      else if (g_str_equal (argv[i], "--value") && i + 1 < argc)
        value = atoi (argv[++i]);
      else
        return 2;
    }

  if (i >= argc)
    return 2;

  sem = sysem_semaphore_new_full (argv[i++], key_type, value, mode, &error);
  if (sem == NULL)
    return fail (error);
  say ("opened");

  for (; i < argc; i++)
    {
      const char *command = argv[i];

      if (g_str_equal (command, "acquire"))
        {
          int n = count_arg (argv, argc, &i);

          for (int k = 0; k < n; k++)
            {
              say ("acquiring");
              if (!sysem_semaphore_acquire (sem, NULL, &error))
                return fail (error);
              say ("acquired");
            }
        }
      else if (g_str_equal (command, "release"))
        {
          int n = count_arg (argv, argc, &i);

          if (!sysem_semaphore_release (sem, n, &error))
            return fail (error);
          say ("released");
        }
      else if (g_str_equal (command, "acquirerelease"))
        {
          int n = count_arg (argv, argc, &i);

          for (int k = 0; k < n; k++)
            {
              if (!sysem_semaphore_acquire (sem, NULL, &error) ||
                  !sysem_semaphore_release (sem, 1, &error))
                return fail (error);
            }
          say ("done");
        }
      else if (g_str_equal (command, "value"))
        {
          int v = sysem_semaphore_get_value (sem, &error);

          if (v < 0)
            return fail (error);
          printf ("value %d\n", v);
          fflush (stdout);
        }
      else if (g_str_equal (command, "cancel"))
        {
          int n = count_arg (argv, argc, &i);

          error = cancel_rounds (sem, n);
          if (error != NULL)
            return fail (error);
          say ("cancelled");
        }
      else if (g_str_equal (command, "wait"))
        {
          char buf[64];

          say ("waiting");
          while (read (STDIN_FILENO, buf, sizeof buf) > 0)
            ;
        }
      else
        return 2;
    }

  return 0;
}
