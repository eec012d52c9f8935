/* sysem-bench-qt.cpp: the Qt side of sysem-bench
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Built twice, against Qt 5 and against Qt 6. sysem-bench starts it and
 * sends one command a line on standard input; it answers each with one
 * line, "ok NANOSECONDS" (the time of the whole loop) or "error TEXT".
 * Keeping it running lets sysem-bench interleave the Qt measurements with
 * its own, so that a noisy moment of the machine hits all of them alike.
 *
 *   pair KEY ITERS             acquire + release of a free unit
 *   pingpong KEY_A KEY_B ITERS round trips with a forked child
 *   openclose KEY ITERS        open and close a semaphore that exists
 *   createremove KEY ITERS     create a semaphore and remove it
 *   quit
 */

#include <QtCore/QString>
#include <QtCore/QSystemSemaphore>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/wait.h>
#include <unistd.h>

namespace {

/* Round trips done before the clock starts: the child has to get going. */
const unsigned long warm_up = 16;

unsigned long long
now_ns ()
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (unsigned long long) ts.tv_sec * 1000000000ull + (unsigned long long) ts.tv_nsec;
}

void
answer_error (const QSystemSemaphore &sem, const char *what)
{
  std::printf ("error %s: %s\n", what, sem.errorString ().toLocal8Bit ().constData ());
}

void
run_pair (const QString &key, unsigned long iters)
{
  QSystemSemaphore sem (key, 1, QSystemSemaphore::Create);
  unsigned long long start;

  if (sem.error () != QSystemSemaphore::NoError)
    return answer_error (sem, "create");

  start = now_ns ();
  for (unsigned long i = 0; i < iters; i++)
    {
      if (!sem.acquire () || !sem.release ())
        return answer_error (sem, "pair");
    }
  std::printf ("ok %llu\n", now_ns () - start);
}

void
run_pingpong (const QString &key_a, const QString &key_b, unsigned long iters)
{
  QSystemSemaphore a (key_a, 0, QSystemSemaphore::Create);
  QSystemSemaphore b (key_b, 0, QSystemSemaphore::Create);
  unsigned long long start = 0;
  int status;
  pid_t pid;

  if (a.error () != QSystemSemaphore::NoError)
    return answer_error (a, "create");
  if (b.error () != QSystemSemaphore::NoError)
    return answer_error (b, "create");

  std::fflush (stdout);
  pid = fork ();
  if (pid == -1)
    {
      std::printf ("error fork: %s\n", std::strerror (errno));
      return;
    }
  if (pid == 0)
    {
      /* The child leaves without destructors: the parent owns both. Qt
       * releases with SEM_UNDO, so the kernel takes the child's releases
       * of b back when it exits: it waits for a last release of a, which
       * the parent makes once it has taken the last unit of b. */
      for (unsigned long i = 0; i < warm_up + iters; i++)
        if (!a.acquire () || !b.release ())
          _exit (1);
      _exit (a.acquire () ? 0 : 1);
    }

  for (unsigned long i = 0; i < warm_up + iters; i++)
    {
      if (i == warm_up)
        start = now_ns ();
      if (!a.release () || !b.acquire ())
        {
          kill (pid, SIGKILL);
          waitpid (pid, &status, 0);
          return answer_error (a, "pingpong");
        }
    }
  start = now_ns () - start;
  a.release ();

  if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      std::printf ("error the child failed\n");
      return;
    }
  std::printf ("ok %llu\n", start);
}

void
run_openclose (const QString &key, unsigned long iters)
{
  QSystemSemaphore holder (key, 1, QSystemSemaphore::Create);
  unsigned long long start;

  if (holder.error () != QSystemSemaphore::NoError)
    return answer_error (holder, "create");

  start = now_ns ();
  for (unsigned long i = 0; i < iters; i++)
    {
      QSystemSemaphore sem (key, 0, QSystemSemaphore::Open);

      if (sem.error () != QSystemSemaphore::NoError)
        return answer_error (sem, "open");
    }
  std::printf ("ok %llu\n", now_ns () - start);
}

void
run_createremove (const QString &key, unsigned long iters)
{
  unsigned long long start = now_ns ();

  for (unsigned long i = 0; i < iters; i++)
    {
      QSystemSemaphore sem (key, 1, QSystemSemaphore::Create);

      if (sem.error () != QSystemSemaphore::NoError)
        return answer_error (sem, "create");
    }
  std::printf ("ok %llu\n", now_ns () - start);
}

} // namespace

int
main ()
{
  char line[1024];

  while (std::fgets (line, sizeof line, stdin) != nullptr)
    {
      char command[32], key_a[512], key_b[512];
      unsigned long iters;

      if (std::sscanf (line, "pair %511s %lu", key_a, &iters) == 2)
        run_pair (QString::fromUtf8 (key_a), iters);
      else if (std::sscanf (line, "pingpong %511s %511s %lu", key_a, key_b, &iters) == 3)
        run_pingpong (QString::fromUtf8 (key_a), QString::fromUtf8 (key_b), iters);
      else if (std::sscanf (line, "openclose %511s %lu", key_a, &iters) == 2)
        run_openclose (QString::fromUtf8 (key_a), iters);
      else if (std::sscanf (line, "createremove %511s %lu", key_a, &iters) == 2)
        run_createremove (QString::fromUtf8 (key_a), iters);
      else if (std::sscanf (line, "%31s", command) == 1 && std::strcmp (command, "quit") == 0)
        break;
      else
        std::printf ("error unknown command\n");

      std::fflush (stdout);
    }

  return 0;
}
