/* etcd-helper.c: a process that uses an etcd semaphore for the etcd tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Usage: etcd-helper [--value N] [--create] [--counter FILE --max N] URI
 *
 * Opens URI (an etcd native key), writes "opened", then runs the commands
 * it reads, one a line:
 *
 *   acquire      write "acquiring", take a unit, write "acquired"
 *   try USEC     try_acquire: "acquired" or "timeout"
 *   release N    write "released"
 *   value        write "value V"
 *   rounds N     N rounds of acquire, count in FILE, release: "done"
 *   fork         fork; the child acquires, writes "child acquired",
 *                releases and exits; the parent writes "forked STATUS"
 *
 * On an error it writes "error DOMAIN CODE" and goes on reading. With
 * --counter, FILE holds a shared counter of the processes between their
 * acquire and release: past --max, the helper writes "exceeded" and
 * exits with 3. At the end of its input it exits 0, the object
 * finalized. */

#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sysem/sysem.h>

static void
say (const char *format,
     ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  printf ("\n");
  fflush (stdout);
}

static void
report (GError **error)
{
  say ("error %s %d", g_quark_to_string ((*error)->domain), (*error)->code);
  fprintf (stderr, "etcd-helper: %s\n", (*error)->message);
  g_clear_error (error);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemAccessMode mode = SYSEM_ACCESS_MODE_OPEN;
  GError *error = NULL;
  const char *counter_path = NULL;
  gint *counter = NULL;
  int max = 0;
  int value = 0;
  int i = 1;
  char line[256];

  for (; i < argc && g_str_has_prefix (argv[i], "--"); i++)
    {
      if (g_str_equal (argv[i], "--create"))
        mode = SYSEM_ACCESS_MODE_CREATE;
      else if (g_str_equal (argv[i], "--value") && i + 1 < argc)
        value = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--counter") && i + 1 < argc)
        counter_path = argv[++i];
      else if (g_str_equal (argv[i], "--max") && i + 1 < argc)
        max = atoi (argv[++i]);
      else
        return 2;
    }
  if (i != argc - 1)
    return 2;

  if (counter_path != NULL)
    {
      int fd = open (counter_path, O_RDWR | O_CLOEXEC);

      if (fd == -1)
        return 2;
      counter = mmap (NULL, sizeof (gint), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close (fd);
      if (counter == MAP_FAILED)
        return 2;
    }

  sem = sysem_semaphore_new_native (argv[i], SYSEM_KEY_TYPE_ETCD, value, mode, &error);
  if (sem == NULL)
    {
      report (&error);
      return 1;
    }
  say ("opened");

  while (fgets (line, sizeof line, stdin) != NULL)
    {
      g_strchomp (line);

      if (g_str_equal (line, "acquire"))
        {
          say ("acquiring");
          if (sysem_semaphore_acquire (sem, NULL, &error))
            say ("acquired");
          else
            report (&error);
        }
      else if (g_str_has_prefix (line, "try "))
        {
          gint64 usec = g_ascii_strtoll (line + 4, NULL, 10);

          if (sysem_semaphore_try_acquire (sem, usec, NULL, &error))
            say ("acquired");
          else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              g_clear_error (&error);
              say ("timeout");
            }
          else
            report (&error);
        }
      else if (g_str_has_prefix (line, "release "))
        {
          if (sysem_semaphore_release (sem, atoi (line + 8), &error))
            say ("released");
          else
            report (&error);
        }
      else if (g_str_equal (line, "value"))
        {
          int v = sysem_semaphore_get_value (sem, &error);

          if (v >= 0)
            say ("value %d", v);
          else
            report (&error);
        }
      else if (g_str_has_prefix (line, "rounds "))
        {
          int n = atoi (line + 7);
          gboolean ok = TRUE;

          for (int k = 0; k < n && ok; k++)
            {
              if (!sysem_semaphore_acquire (sem, NULL, &error))
                {
                  report (&error);
                  ok = FALSE;
                  break;
                }
              if (counter != NULL && __atomic_add_fetch (counter, 1, __ATOMIC_SEQ_CST) > max)
                {
                  say ("exceeded");
                  return 3;
                }
              g_usleep (g_random_int_range (0, 2000));
              if (counter != NULL)
                __atomic_sub_fetch (counter, 1, __ATOMIC_SEQ_CST);
              if (!sysem_semaphore_release (sem, 1, &error))
                {
                  report (&error);
                  ok = FALSE;
                }
            }
          if (ok)
            say ("done");
        }
      else if (g_str_equal (line, "fork"))
        {
          pid_t pid = fork ();
          int status = 0;

          if (pid == 0)
            {
              /* Never outlive the test, as the helper itself does not. */
              prctl (PR_SET_PDEATHSIG, SIGKILL);
              if (!sysem_semaphore_acquire (sem, NULL, &error))
                {
                  report (&error);
                  _exit (1);
                }
              say ("child acquired");
              if (!sysem_semaphore_release (sem, 1, &error))
                {
                  report (&error);
                  _exit (1);
                }
              g_clear_object (&sem);
              _exit (0);
            }
          waitpid (pid, &status, 0);
          say ("forked %d", WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
        }
      else
        say ("unknown %s", line);
    }

  return 0;
}
