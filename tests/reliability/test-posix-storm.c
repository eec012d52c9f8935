/* test-posix-storm.c: a SIGKILL storm on a POSIX semaphore, counted
 * exactly (issue 14)
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Eight posix-storm-worker processes, two threads each, every kind of
 * acquire (blocking, try with and without a timeout, cancellable,
 * acquire_async in a main loop), are SIGKILLed at random moments and
 * started again, 1,000 times and more. When the last one is gone, the
 * value is back at the initial count and no waiter is counted: every unit
 * a killed process held came back, none twice.
 */

#include <signal.h>
#include <sys/wait.h>

#include "sysem-test-util.h"

#define N_WORKERS 8
#define INITIAL   3

static SysemTestHelper *
worker_start (const char *key,
              guint32     seed)
{
  g_autofree char *seed_str = g_strdup_printf ("%u", seed);
  const char *argv[] = { POSIX_STORM_WORKER, key, seed_str, NULL };
  SysemTestHelper *worker = sysem_test_helper_spawn (argv);

  sysem_test_helper_expect_line (worker, "ready");
  return worker;
}

static void
storm (int kills)
{
  g_autofree char *key = sysem_test_key ("posix-storm");
  g_autoptr(SysemSemaphore) sem = sysem_test_open (key, SYSEM_KEY_TYPE_POSIX, INITIAL,
                                                   SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *workers[N_WORKERS];
  SysemStats stats;

  for (int i = 0; i < N_WORKERS; i++)
    workers[i] = worker_start (key, g_test_rand_int ());

  for (int k = 0; k < kills; k++)
    {
      int i = g_test_rand_int_range (0, N_WORKERS);

      /* A random moment of its work (a spread of kill times, not a wait
       * for anything). */
      g_usleep (g_test_rand_int_range (0, 2000));
      g_assert_cmpint (sysem_test_helper_kill (workers[i]), ==, 128 + SIGKILL);
      sysem_test_helper_free (workers[i]);
      workers[i] = worker_start (key, g_test_rand_int ());
    }

  for (int i = 0; i < N_WORKERS; i++)
    {
      g_assert_cmpint (sysem_test_helper_kill (workers[i]), ==, 128 + SIGKILL);
      sysem_test_helper_free (workers[i]);
    }

  /* Exactly the initial count, and no waiter left counted. */
  sysem_test_assert_value (sem, INITIAL);
  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.waiters, ==, 0);
  g_test_message ("%d kills of %d workers: value back at %d, no waiter", kills, N_WORKERS, INITIAL);
}

/* Under AddressSanitizer a worker takes about five times as long to start
 * and to die: fewer kills, still every kind of call cut short many times. */
static void
test_storm (void)
{
  storm (sysem_test_under_valgrind () ? 40 : sysem_test_under_asan () ? 300 : 1200);
}

int
main (int    argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/posix-storm/sigkill", test_storm);

  return g_test_run ();
}
