/* posix-sem-helper.c: a POSIX named semaphore used through glibc's sem_open()
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Why not a real Qt here: a Qt built with QT_POSIX_IPC uses sem_open() for
 * QSystemSemaphore, but Debian's Qt 5 and Qt 6 are built without it (they
 * use System V), and Qt 6.4 has no QNativeIpcKey to pick the POSIX type at
 * run time. So this helper makes the calls that such a Qt makes, in the same
 * order, on the same name ("/qipc_systemsem_" + letters + SHA-1):
 *
 *   open:   sem_open (name, O_CREAT | O_EXCL, 0600, initial); if the name
 *           exists, sem_open (name, O_CREAT, 0600, initial)
 *   create: sem_open (name, O_CREAT | O_EXCL, 0600, initial); if the name
 *           exists, sem_unlink (name) and try again
 *   acquire is sem_wait (), release n is n sem_post (); the process that
 *   created the name unlinks it when it ends normally.
 *
 *   posix-sem-helper NAME open|create|existing INITIAL
 *
 * "existing" opens with flags 0: the name must exist, and glibc must accept
 * the file it finds. Output, one line per step: "ready" (or "error ERRNO"),
 * then per command read on stdin:
 *
 *   acquire     "acquiring" before it may block, then "acquired"
 *   release N   "released"
 *   value       "value N" (sem_getvalue ())
 *   exit        "bye", then it ends (end of file on stdin too)
 */

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
say (const char *line)
{
  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

static void
say_errno (int errsv)
{
  printf ("error %d\n", errsv);
  fflush (stdout);
}

int
main (int    argc,
      char **argv)
{
  const char *name;
  const char *mode;
  unsigned int initial;
  sem_t *sem = SEM_FAILED;
  int created = 0;
  char line[256];

  if (argc != 4)
    {
      fprintf (stderr, "usage: %s NAME open|create|existing INITIAL\n", argv[0]);
      return 2;
    }

  name = argv[1];
  mode = argv[2];
  initial = (unsigned int) strtoul (argv[3], NULL, 10);

  if (strcmp (mode, "existing") == 0)
    {
      sem = sem_open (name, 0);
    }
  else
    {
      int is_create = strcmp (mode, "create") == 0;

      for (int tries = 0; tries < 3 && sem == SEM_FAILED; tries++)
        {
          sem = sem_open (name, O_CREAT | O_EXCL, 0600, initial);
          if (sem != SEM_FAILED)
            {
              created = 1;
              break;
            }
          if (errno != EEXIST)
            break;

          if (is_create)
            {
              if (sem_unlink (name) == -1 && errno != ENOENT)
                break;
            }
          else
            {
              sem = sem_open (name, O_CREAT, 0600, initial);
            }
        }
    }

  if (sem == SEM_FAILED)
    {
      say_errno (errno);
      return 1;
    }
  say ("ready");

  while (fgets (line, sizeof line, stdin) != NULL)
    {
      line[strcspn (line, "\n")] = '\0';

      if (strcmp (line, "acquire") == 0)
        {
          int res;

          say ("acquiring");
          do
            res = sem_wait (sem);
          while (res == -1 && errno == EINTR);

          if (res == 0)
            say ("acquired");
          else
            say_errno (errno);
        }
      else if (strncmp (line, "release ", 8) == 0)
        {
          int n = atoi (line + 8);
          int ok = 1;

          for (int i = 0; i < n && ok; i++)
            ok = sem_post (sem) == 0;

          if (ok)
            say ("released");
          else
            say_errno (errno);
        }
      else if (strcmp (line, "value") == 0)
        {
          int value = -1;

          if (sem_getvalue (sem, &value) == 0)
            {
              printf ("value %d\n", value);
              fflush (stdout);
            }
          else
            say_errno (errno);
        }
      else if (strcmp (line, "exit") == 0)
        {
          break;
        }
      else
        {
          say ("error 0");
        }
    }

  sem_close (sem);
  if (created)
    sem_unlink (name);
  say ("bye");

  return 0;
}
