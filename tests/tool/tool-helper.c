/* tool-helper.c: a process that holds a semaphore for test-tool.py
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*   tool-helper hold [--posix] KEY INITIAL ACQUIRES
 *
 * opens KEY with the library (Open mode), acquires ACQUIRES units, prints
 * what sysem_semaphore_get_stats() reports as one JSON line, then waits for
 * end of file on stdin and closes the semaphore.
 *
 *   tool-helper qt-set KEY INITIAL
 *
 * does what Qt's QSystemSemaphore does when it creates a System V
 * semaphore: the key file, ftok (file, 'Q'), a set of ONE semaphore, its
 * value set, and one acquire with SEM_UNDO; prints "ready" and waits for
 * end of file on stdin, then removes the set and the key file as Qt's
 * owner does. Used when no Qt is available to the test suite.
 *
 *   tool-helper signal-on-take [--posix] KEY ROUNDS SYSEM
 *
 * ROUNDS times: starts `SYSEM run KEY -- true` on the existing KEY (one
 * free unit), watches the value in a busy loop and sends SIGTERM to sysem
 * the moment the value drops, that is just after sysem took the slot.
 * After sysem exited, the unit must be back. Prints "lost ROUND STATUS"
 * and fails at the first round that loses it, else "ok ROUNDS SIGNALLED"
 * (how many rounds ended by the signal).
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <signal.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysem-semaphore.h"
#include "sysem-key-private.h"
#include "sysem-inspect-private.h"

static void
wait_for_eof (void)
{
  char buf[64];

  while (read (STDIN_FILENO, buf, sizeof buf) > 0 || errno == EINTR)
    ;
}

static int
hold (SysemKeyType  key_type,
      const char   *key,
      int           initial,
      int           acquires)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemStats stats;

  sem = sysem_semaphore_new_full (key, key_type, initial, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      printf ("error %s\n", error->message);
      return 1;
    }

  for (int i = 0; i < acquires; i++)
    if (!sysem_semaphore_acquire (sem, NULL, &error))
      {
        printf ("error %s\n", error->message);
        return 1;
      }

  if (!sysem_semaphore_get_stats (sem, &stats, &error))
    {
      printf ("error %s\n", error->message);
      return 1;
    }

  printf ("{\"native\": \"%s\", \"pid\": %d, \"value\": %d, \"waiters\": %d, \"users\": %d, "
          "\"last_pid\": %d, \"id\": %d, \"sems\": %d, \"mode\": %u, \"uid\": %u}\n",
          sysem_semaphore_get_native_key (sem), (int) getpid (), stats.value, stats.waiters,
          stats.users, stats.last_pid, stats.id, stats.n_sems, stats.mode, stats.uid);
  fflush (stdout);

  wait_for_eof ();
  return 0;
}

static int
qt_set (const char *key,
        int         initial)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  struct sembuf op = { 0, -1, SEM_UNDO };
  key_t ipc_key;
  int semid;
  int fd;

  if (!sysem_inspect_key_derive (key, SYSEM_KEY_TYPE_SYSTEM_V, &path, &error))
    {
      printf ("error %s\n", error->message);
      return 1;
    }

  fd = open (path, O_CREAT | O_RDONLY | O_CLOEXEC, 0640);
  if (fd == -1)
    {
      printf ("error %s\n", g_strerror (errno));
      return 1;
    }
  close (fd);

  ipc_key = ftok (path, 'Q');
  semid = semget (ipc_key, 1, IPC_CREAT | IPC_EXCL | 0600);
  if (semid == -1 || semctl (semid, 0, SETVAL, initial) == -1 || semop (semid, &op, 1) == -1)
    {
      printf ("error %s\n", g_strerror (errno));
      return 1;
    }

  printf ("ready\n");
  fflush (stdout);

  wait_for_eof ();

  semctl (semid, 0, IPC_RMID);
  unlink (path);
  return 0;
}

/* One round; the wait status of sysem, or -1 after a message. */
static int
signal_on_take_round (SysemSemaphore *sem,
                      char          **run_argv)
{
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  gboolean signalled = FALSE;
  int wait_status = 0;
  pid_t pid;

  pid = fork ();
  if (pid == 0)
    {
      execv (run_argv[0], run_argv);
      _exit (127);
    }
  if (pid == -1)
    {
      printf ("error fork: %s\n", g_strerror (errno));
      return -1;
    }

  for (;;)
    {
      pid_t res = waitpid (pid, &wait_status, signalled ? 0 : WNOHANG);
      int value;

      if (res == pid)
        break;
      if (res == -1)
        {
          printf ("error waitpid: %s\n", g_strerror (errno));
          return -1;
        }
      if (signalled)
        continue;

      value = sysem_semaphore_get_value (sem, &error);
      if (value < 0)
        {
          printf ("error %s\n", error->message);
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          return -1;
        }
      if (value == 0 || g_get_monotonic_time () > deadline)
        {
          kill (pid, SIGTERM);
          signalled = TRUE;
        }
    }

  return wait_status;
}

static int
signal_on_take (SysemKeyType  key_type,
                const char   *key,
                int           rounds,
                const char   *sysem)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  char *run_argv[] = {
    (char *) sysem, (char *) "run", (char *) "--posix", (char *) key,
    (char *) "--", (char *) "true", NULL
  };
  int n_signalled = 0;

  if (key_type != SYSEM_KEY_TYPE_POSIX)
    {
      /* No --posix */
      run_argv[2] = (char *) key;
      run_argv[3] = (char *) "--";
      run_argv[4] = (char *) "true";
      run_argv[5] = NULL;
    }

  sem = sysem_semaphore_new_full (key, key_type, 1, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      printf ("error %s\n", error->message);
      return 1;
    }

  for (int round = 0; round < rounds; round++)
    {
      int status = signal_on_take_round (sem, run_argv);
      int value;

      if (status == -1)
        return 1;

      value = sysem_semaphore_get_value (sem, &error);
      if (value != 1)
        {
          printf ("lost %d %d %d\n", round, status, value);
          return 1;
        }

      if ((WIFEXITED (status) && WEXITSTATUS (status) == 128 + SIGTERM) ||
          (WIFSIGNALED (status) && WTERMSIG (status) == SIGTERM))
        n_signalled++;
    }

  printf ("ok %d %d\n", rounds, n_signalled);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  SysemKeyType key_type = SYSEM_KEY_TYPE_SYSTEM_V;
  int first = 2;

  if (argc >= 3 && g_str_equal (argv[2], "--posix"))
    {
      key_type = SYSEM_KEY_TYPE_POSIX;
      first = 3;
    }

  if (argc == first + 3 && g_str_equal (argv[1], "hold"))
    return hold (key_type, argv[first], atoi (argv[first + 1]), atoi (argv[first + 2]));

  if (argc == first + 3 && g_str_equal (argv[1], "signal-on-take"))
    return signal_on_take (key_type, argv[first], atoi (argv[first + 1]), argv[first + 2]);

  if (argc == 4 && g_str_equal (argv[1], "qt-set"))
    return qt_set (argv[2], atoi (argv[3]));

  fprintf (stderr, "usage: tool-helper hold [--posix] KEY INITIAL ACQUIRES\n"
                   "       tool-helper qt-set KEY INITIAL\n"
                   "       tool-helper signal-on-take [--posix] KEY ROUNDS SYSEM\n");
  return 2;
}
