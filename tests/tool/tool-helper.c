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
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
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

  if (argc == 4 && g_str_equal (argv[1], "qt-set"))
    return qt_set (argv[2], atoi (argv[3]));

  fprintf (stderr, "usage: tool-helper hold [--posix] KEY INITIAL ACQUIRES\n"
                   "       tool-helper qt-set KEY INITIAL\n");
  return 2;
}
