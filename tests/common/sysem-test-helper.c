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
