/* interop-common.c: helper programs, and checks shared by the interop tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The tests talk to their helpers one line at a time: a command on the
 * helper's stdin, an answer on its stdout. Every read has a deadline, so a
 * helper that does not answer fails the test instead of hanging it, and a
 * helper dies with the test (PR_SET_PDEATHSIG), so a failed test leaves no
 * process blocked on a semaphore. */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interop-common.h"

struct _HelperProcess
{
  char    *name;
  GPid     pid;
  int      in_fd;
  int      out_fd;
  GString *buffer;
  gboolean reaped;
  int      wait_status;
};

static void
helper_process_child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

HelperProcess *
helper_process_spawn (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  HelperProcess *self = g_new0 (HelperProcess, 1);

  self->name = g_path_get_basename (argv[0]);
  self->buffer = g_string_new (NULL);
  self->in_fd = -1;
  self->out_fd = -1;

  g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                            G_SPAWN_DO_NOT_REAP_CHILD,
                            helper_process_child_setup, NULL,
                            &self->pid, &self->in_fd, &self->out_fd, NULL,
                            &error);
  g_assert_no_error (error);

  return self;
}

GPid
helper_process_get_pid (HelperProcess *self)
{
  return self->pid;
}

void
helper_process_send (HelperProcess *self,
                     const char    *command)
{
  g_autofree char *line = g_strconcat (command, "\n", NULL);
  gsize len = strlen (line);
  gsize done = 0;

  g_assert_cmpint (self->in_fd, !=, -1);

  while (done < len)
    {
      gssize n = write (self->in_fd, line + done, len - done);

      if (n == -1 && errno == EINTR)
        continue;
      if (n == -1)
        g_error ("writing to %s: %s", self->name, g_strerror (errno));
      done += n;
    }
}

/* The next line the helper writes, without its newline; NULL at end of
 * file. The test fails if nothing comes before the deadline. */
char *
helper_process_read_line (HelperProcess *self)
{
  gint64 deadline = g_get_monotonic_time () + HELPER_DEADLINE_USEC;

  for (;;)
    {
      const char *nl = memchr (self->buffer->str, '\n', self->buffer->len);
      struct pollfd pfd = { self->out_fd, POLLIN, 0 };
      char chunk[512];
      gint64 left;
      gssize n;

      if (nl != NULL)
        {
          gsize len = nl - self->buffer->str;
          char *line = g_strndup (self->buffer->str, len);

          g_string_erase (self->buffer, 0, len + 1);
          return line;
        }

      left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        g_error ("%s (pid %d) said nothing for %d s", self->name, (int) self->pid,
                 (int) (HELPER_DEADLINE_USEC / G_USEC_PER_SEC));

      if (poll (&pfd, 1, (int) (left / 1000) + 1) == -1)
        {
          if (errno == EINTR)
            continue;
          g_error ("poll: %s", g_strerror (errno));
        }
      if (pfd.revents == 0)
        continue;

      n = read (self->out_fd, chunk, sizeof chunk);
      if (n == -1 && errno == EINTR)
        continue;
      if (n == -1)
        g_error ("reading from %s: %s", self->name, g_strerror (errno));
      if (n == 0)
        {
          /* End of file: what is left is the last, unterminated line. */
          char *rest;

          if (self->buffer->len == 0)
            return NULL;
          rest = g_strndup (self->buffer->str, self->buffer->len);
          g_string_truncate (self->buffer, 0);
          return rest;
        }

      g_string_append_len (self->buffer, chunk, n);
    }
}

/* Reads one line and checks it is @line. */
void
helper_process_expect (HelperProcess *self,
                       const char    *line)
{
  g_autofree char *got = helper_process_read_line (self);

  g_assert_nonnull (got);
  g_assert_cmpstr (got, ==, line);
}

/* Reads one line, checks that it starts with @word and a space, and
 * returns the rest. */
char *
helper_process_expect_word (HelperProcess *self,
                            const char    *word)
{
  g_autofree char *got = helper_process_read_line (self);
  gsize len = strlen (word);

  g_assert_nonnull (got);
  if (strncmp (got, word, len) != 0 || got[len] != ' ')
    g_error ("expected \"%s …\" from %s, got \"%s\"", word, self->name, got);

  return g_strdup (got + len + 1);
}

static void
helper_process_reap (HelperProcess *self)
{
  gint64 deadline = g_get_monotonic_time () + HELPER_DEADLINE_USEC;

  while (!self->reaped)
    {
      pid_t res = waitpid (self->pid, &self->wait_status, WNOHANG);

      if (res == self->pid)
        {
          self->reaped = TRUE;
          g_spawn_close_pid (self->pid);
          break;
        }
      if (res == -1 && errno != EINTR)
        g_error ("waitpid: %s", g_strerror (errno));
      if (g_get_monotonic_time () > deadline)
        g_error ("%s (pid %d) did not end", self->name, (int) self->pid);
      g_usleep (G_USEC_PER_SEC / 1000);
    }
}

/* Closes the helper's stdin (it ends on end of file) and waits for it.
 * Returns its exit status; the test fails if a signal killed it. */
int
helper_process_finish (HelperProcess *self)
{
  if (self->in_fd != -1)
    {
      close (self->in_fd);
      self->in_fd = -1;
    }

  helper_process_reap (self);

  if (!WIFEXITED (self->wait_status))
    g_error ("%s (pid %d) was killed by signal %d", self->name, (int) self->pid,
             WTERMSIG (self->wait_status));

  return WEXITSTATUS (self->wait_status);
}

/* Kills the helper with SIGKILL, as a crash would, and waits for it. */
void
helper_process_kill (HelperProcess *self)
{
  g_assert_false (self->reaped);

  kill (self->pid, SIGKILL);
  helper_process_reap (self);

  g_assert_true (WIFSIGNALED (self->wait_status));
  g_assert_cmpint (WTERMSIG (self->wait_status), ==, SIGKILL);
}

void
helper_process_free (HelperProcess *self)
{
  if (self == NULL)
    return;

  if (!self->reaped)
    {
      kill (self->pid, SIGKILL);
      helper_process_reap (self);
    }
  if (self->in_fd != -1)
    close (self->in_fd);
  if (self->out_fd != -1)
    close (self->out_fd);
  if (self->buffer != NULL)
    g_string_free (self->buffer, TRUE);
  g_free (self->name);
  g_free (self);
}

/* sysem operations that must succeed, and waits on the kernel */

SysemStats
interop_get_stats (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;
  SysemStats stats;

  g_assert_true (sysem_semaphore_get_stats (sem, &stats, &error));
  g_assert_no_error (error);

  return stats;
}

/* A fresh key of a kind ("letters", "punctuation" or "unicode"); every key
 * starts with "sysemtest-" and holds the pid and a counter, so that no two
 * tests meet by accident. @tag tells the test programs apart. */
char *
interop_make_key (const char *tag,
                  const char *kind)
{
  static guint key_counter;
  guint n = ++key_counter;

  if (g_str_equal (kind, "letters"))
    {
      /* Only ASCII letters after the prefix: the pid and the counter are
       * spelled with a–j for 0–9. */
      g_autofree char *digits = g_strdup_printf ("%d-%u", (int) getpid (), n);

      for (char *p = digits; *p != '\0'; p++)
        if (g_ascii_isdigit (*p))
          *p = 'a' + (*p - '0');

      return g_strconcat ("sysemtest-", tag, "Letters-", digits, NULL);
    }

  if (g_str_equal (kind, "punctuation"))
    return g_strdup_printf ("sysemtest-punct 0123456789 !\"#$%%&'()*+,./:;<=>?@[\\]^_`{|}~\t end-%d-%u",
                            (int) getpid (), n);

  if (g_str_equal (kind, "unicode"))
    return g_strdup_printf ("sysemtest-Grüße-日本-ключ-🙂-%d-%u", (int) getpid (), n);

  g_assert_not_reached ();
}

int
interop_get_value (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;
  int value = sysem_semaphore_get_value (sem, &error);

  g_assert_no_error (error);
  return value;
}

void
interop_release (SysemSemaphore *sem,
                 int             n)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_release (sem, n, &error));
  g_assert_no_error (error);
}

void
interop_acquire (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_no_error (error);
}

void
interop_assert_no_unit (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
}

void
interop_assert_removed (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
}

/* Polls the kernel until @n processes sleep on the semaphore. */
void
interop_wait_for_waiters (SysemSemaphore *sem,
                          int             n)
{
  gint64 deadline = g_get_monotonic_time () + HELPER_DEADLINE_USEC;

  for (;;)
    {
      SysemStats stats = interop_get_stats (sem);

      if (stats.waiters == n)
        return;
      if (g_get_monotonic_time () > deadline)
        g_assert_cmpint (stats.waiters, ==, n);
      g_usleep (G_USEC_PER_SEC / 1000);
    }
}

static gpointer
interop_waiter_thread (gpointer data)
{
  InteropWaiter *w = data;

  w->got = sysem_semaphore_try_acquire (w->sem, HELPER_DEADLINE_USEC, NULL, &w->error);
  return NULL;
}

void
interop_waiter_start (InteropWaiter  *w,
                      SysemSemaphore *sem)
{
  w->sem = sem;
  w->got = FALSE;
  w->error = NULL;
  w->thread = g_thread_new ("sysem-waiter", interop_waiter_thread, w);
}

void
interop_waiter_join (InteropWaiter *w)
{
  g_thread_join (w->thread);
  g_assert_no_error (w->error);
  g_assert_true (w->got);
}
