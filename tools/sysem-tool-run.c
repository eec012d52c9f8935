/* sysem-tool-run.c: `sysem run`, a counting flock(1)
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* `sysem run KEY -- COMMAND…` waits for a slot (a unit of KEY), runs
 * COMMAND while it holds the slot, and gives the slot back: at most N
 * commands with the same KEY run at once, across all shells.
 *
 * Signals. From before the slot is asked for until sysem exits, SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT (the signals passed on to the command) and
 * SIGCHLD are blocked and read from a signalfd: the wait for a slot
 * watches it from its main loop, the supervision of the command polls it.
 * They are blocked before sysem opens the semaphore, so that every thread
 * the library starts inherits the mask: no thread ever takes one of them
 * with its default action, and no signal can kill sysem between taking a
 * slot and giving it back. (sysem 1.0 caught them with GLib's watches while
 * it waited, and installed handlers of its own only before forking: a
 * SIGTERM between the two killed sysem with the slot taken.)
 *
 * A signal that comes before COMMAND starts stops sysem: the slot goes
 * back, the command never runs, and sysem exits with 128 + the signal. Once
 * COMMAND runs, a signal that a process sent to sysem is passed on to it;
 * one that the terminal sent reached it by itself.
 *
 * Signals that were ignored when sysem started (SIGINT and SIGQUIT in a
 * background job of a shell script) stay ignored, for sysem and for the
 * command. The command starts with the signal mask sysem started with. */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n-lib.h>

#include "sysem-tool.h"

/* ---------------------------------------------------------------------- */
/* Arguments */

typedef struct {
  SysemToolKey  *key;
  char         **command;
  int            slots;
  gint64         timeout;         /* µs; -1: wait for ever */
  gboolean       nonblock;
  int            conflict_status; /* when no slot was free in time */
} RunArgs;

static void
run_args_clear (RunArgs *args)
{
  g_clear_pointer (&args->key, sysem_tool_key_free);
  g_clear_pointer (&args->command, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunArgs, run_args_clear)

/* Fills @args; EXIT_OK, or the status to exit with after a message. */
static int
run_parse (int      argc,
           char   **argv,
           RunArgs *args)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *opt_slots = NULL;
  g_autofree char *opt_wait = NULL;
  g_autofree char *opt_conflict = NULL;
  gboolean opt_nonblock = FALSE;
  int split = -1;
  GOptionEntry entries[] = {
    { "slots", 'j', 0, G_OPTION_ARG_STRING, &opt_slots,
      N_("How many commands may run at once, if the semaphore is new (default: 1)"), N_("N") },
    { "nonblock", 'n', 0, G_OPTION_ARG_NONE, &opt_nonblock,
      N_("Fail at once if no slot is free"), NULL },
    { "wait", 'w', 0, G_OPTION_ARG_STRING, &opt_wait,
      N_("Wait at most SECONDS for a slot (default: forever)"), N_("SECONDS") },
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &opt_wait,
      N_("The same as --wait"), N_("SECONDS") },
    { "conflict-exit-code", 'E', 0, G_OPTION_ARG_STRING, &opt_conflict,
      N_("Exit with N when no slot was free in time (default: 1 with --nonblock, 75 else)"),
      N_("N") },
    G_OPTION_ENTRY_NULL
  };

  context = sysem_tool_context_new (_("KEY -- COMMAND [ARGUMENT…]"),
                                    _("Runs COMMAND while holding one unit of the semaphore of KEY, so that\n"
                                      "at most N commands with the same KEY run at once. The exit status is\n"
                                      "the command's."),
                                    entries, SYSEM_TOOL_OPTIONS_KEY_TYPE);

  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--"))
      {
        split = i;
        break;
      }

  if (split != -1)
    {
      args->command = g_strdupv (argv + split + 1);
      argv[split] = NULL;
      argc = split;
    }
  else
    {
      /* Without "--", options come first and the command follows KEY. */
      g_option_context_set_strict_posix (context, TRUE);
    }

  if (!sysem_tool_parse (context, &argc, &argv))
    return EXIT_RUN_FAILED;

  if (sysem_tool_n_rest () == 0)
    {
      sysem_tool_usage_error ("%s", _("No KEY given"));
      return EXIT_RUN_FAILED;
    }

  if (split == -1)
    args->command = g_strdupv (opt_rest + 1);
  else if (sysem_tool_n_rest () > 1)
    {
      sysem_tool_usage_error (_("Unexpected argument “%s”"), opt_rest[1]);
      return EXIT_RUN_FAILED;
    }

  if (args->command == NULL || args->command[0] == NULL)
    {
      sysem_tool_usage_error ("%s", _("No COMMAND given"));
      return EXIT_RUN_FAILED;
    }

  if (opt_nonblock && opt_wait != NULL)
    {
      sysem_tool_usage_error ("%s", _("--nonblock and --wait cannot be used together"));
      return EXIT_RUN_FAILED;
    }

  args->key = sysem_tool_key_new (opt_rest[0]);
  if (args->key == NULL)
    return EXIT_RUN_FAILED;

  args->slots = 1;
  if (opt_slots != NULL &&
      !sysem_tool_parse_count ("--slots", opt_slots, 1, sysem_tool_key_max (args->key),
                               &args->slots))
    return EXIT_RUN_FAILED;

  if (!sysem_tool_parse_timeout (opt_wait, &args->timeout))
    return EXIT_RUN_FAILED;

  args->nonblock = opt_nonblock;
  if (opt_nonblock)
    args->timeout = 0;

  /* flock(1) fails with 1 by default; sysem 1.0 timed out with 75. */
  args->conflict_status = opt_nonblock ? EXIT_FAILED : EXIT_TIMEOUT;
  if (opt_conflict != NULL &&
      !sysem_tool_parse_count ("--conflict-exit-code", opt_conflict, 0, 255,
                               &args->conflict_status))
    return EXIT_RUN_FAILED;

  return EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* Signals */

static const int run_forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

typedef struct {
  sigset_t caught;    /* blocked, and read from @fd */
  sigset_t old_mask;  /* what sysem started with, for the command */
  int      fd;
} RunSignals;

/* Blocks the signals sysem handles and opens their signalfd. Call before
 * any thread starts. */
static gboolean
run_signals_take (RunSignals *signals)
{
  int errsv;

  sigemptyset (&signals->caught);
  sigaddset (&signals->caught, SIGCHLD);
  for (guint i = 0; i < G_N_ELEMENTS (run_forwarded_signals); i++)
    {
      struct sigaction old;

      if (sigaction (run_forwarded_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        continue;
      sigaddset (&signals->caught, run_forwarded_signals[i]);
    }

  sigprocmask (SIG_BLOCK, &signals->caught, &signals->old_mask);

  signals->fd = signalfd (-1, &signals->caught, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signals->fd != -1)
    return TRUE;

  errsv = errno;
  sigprocmask (SIG_SETMASK, &signals->old_mask, NULL);
  /* Translators: %s says why, such as "Too many open files" */
  sysem_tool_error (_("Could not watch for signals: %s"), g_strerror (errsv));
  return FALSE;
}

static gboolean
run_signals_read (RunSignals              *signals,
                  struct signalfd_siginfo *info)
{
  ssize_t got;

  do
    got = read (signals->fd, info, sizeof *info);
  while (got == -1 && errno == EINTR);

  return got == sizeof *info;
}

/* Reads every pending signal: the first one that stops sysem, or 0. */
static int
run_signals_take_pending (RunSignals *signals)
{
  struct signalfd_siginfo info;
  int signo = 0;

  while (run_signals_read (signals, &info))
    if (signo == 0 && info.ssi_signo != SIGCHLD)
      signo = (int) info.ssi_signo;

  return signo;
}

/* ---------------------------------------------------------------------- */
/* Waiting for a slot */

/* The wait runs in a main loop, so that a signal or the timeout can cancel
 * it without losing a unit. */
typedef struct {
  GMainLoop    *loop;
  GCancellable *cancellable;
  RunSignals   *signals;
  gboolean      acquired;
  gboolean      timed_out;
  int           signo;
  GError       *error;
} RunWait;

static void
run_wait_acquired_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  RunWait *wait = user_data;

  wait->acquired = sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result,
                                                   &wait->error);
  g_main_loop_quit (wait->loop);
}

static gboolean
run_wait_timeout_cb (gpointer user_data)
{
  RunWait *wait = user_data;

  wait->timed_out = TRUE;
  g_cancellable_cancel (wait->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
run_wait_signal_cb (int          fd,
                    GIOCondition condition,
                    gpointer     user_data)
{
  RunWait *wait = user_data;
  int signo = run_signals_take_pending (wait->signals);

  if (signo != 0 && wait->signo == 0)
    {
      wait->signo = signo;
      g_cancellable_cancel (wait->cancellable);
    }

  return G_SOURCE_CONTINUE;
}

static void
run_wait_in_loop (SysemSemaphore *sem,
                  gint64          timeout,
                  RunWait        *wait)
{
  guint signal_source, timeout_source = 0;

  wait->loop = g_main_loop_new (NULL, FALSE);
  wait->cancellable = g_cancellable_new ();

  signal_source = g_unix_fd_add (wait->signals->fd, G_IO_IN, run_wait_signal_cb, wait);
  if (timeout > 0)
    timeout_source = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                         (guint) MIN ((timeout + 999) / 1000, G_MAXUINT),
                                         run_wait_timeout_cb, wait, NULL);

  sysem_semaphore_acquire_async (sem, wait->cancellable, run_wait_acquired_cb, wait);
  g_main_loop_run (wait->loop);

  g_source_remove (signal_source);
  if (timeout_source != 0 && !wait->timed_out)
    g_source_remove (timeout_source);
  g_clear_pointer (&wait->loop, g_main_loop_unref);
  g_clear_object (&wait->cancellable);
}

/* Waits for a slot: TRUE once one is taken, else FALSE with the status
 * to exit with (which may be 0: --conflict-exit-code 0). */
static gboolean
run_wait_for_slot (SysemSemaphore *sem,
                   const RunArgs  *args,
                   RunSignals     *signals,
                   int            *status)
{
  RunWait wait = { .signals = signals };

  if (args->timeout == 0)
    {
      wait.acquired = sysem_semaphore_try_acquire (sem, 0, NULL, &wait.error);
      wait.timed_out = sysem_tool_is_timeout (wait.acquired, wait.error);
    }
  else
    run_wait_in_loop (sem, args->timeout, &wait);

  /* A signal that came while the slot was being taken stops sysem too. */
  if (wait.signo == 0)
    wait.signo = run_signals_take_pending (signals);

  if (wait.acquired && wait.signo != 0)
    {
      g_autoptr(GError) error = NULL;

      if (!sysem_semaphore_release (sem, 1, &error))
        sysem_tool_error ("%s", error->message);
    }

  if (wait.acquired && wait.signo == 0)
    return TRUE;

  if (wait.signo != 0)
    {
      g_clear_error (&wait.error);
      *status = 128 + wait.signo;
      return FALSE;
    }

  if (wait.timed_out)
    {
      g_clear_error (&wait.error);
      if (args->nonblock)
        /* Translators: %s is a key */
        sysem_tool_error (_("No slot of “%s” is free"), args->key->key);
      else
        /* Translators: %s is a key */
        sysem_tool_error (_("No slot of “%s” became free in time"), args->key->key);
      *status = args->conflict_status;
      return FALSE;
    }

  sysem_tool_error ("%s", wait.error->message);
  g_clear_error (&wait.error);
  *status = EXIT_RUN_FAILED;
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* Running the command */

/* Starts @command; the read end of a pipe in *@exec_status_fd gives an
 * errno if it could not be started, end of file once it runs. -1 after a
 * message. */
static pid_t
run_spawn (char       **command,
           RunSignals  *signals,
           int         *exec_status_fd)
{
  int status_pipe[2];
  pid_t parent = getpid ();
  pid_t pid;

  if (!g_unix_open_pipe (status_pipe, FD_CLOEXEC, NULL))
    {
      /* Translators: the first %s is a command, the second why */
      sysem_tool_error (_("Could not run “%s”: %s"), command[0], g_strerror (errno));
      return -1;
    }

  pid = fork ();
  if (pid == 0)
    {
      int errsv;
      ssize_t res G_GNUC_UNUSED;

      /* If sysem is killed, its slot is given back: the command must not
       * go on running without one. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent)
        _exit (EXIT_RUN_FAILED);

      /* A signal sent to the child so far waits here, and takes its
       * default action now. */
      sigprocmask (SIG_SETMASK, &signals->old_mask, NULL);
      execvp (command[0], command);

      errsv = errno;
      res = write (status_pipe[1], &errsv, sizeof errsv);
      _exit (errsv == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
    }

  close (status_pipe[1]);

  if (pid == -1)
    {
      int errsv = errno;

      close (status_pipe[0]);
      sysem_tool_error (_("Could not run “%s”: %s"), command[0], g_strerror (errsv));
      return -1;
    }

  *exec_status_fd = status_pipe[0];
  return pid;
}

/* Waits for the command to end, passing on the signals sysem gets;
 * returns its wait status. */
static int
run_supervise (pid_t        pid,
               const char  *name,
               RunSignals  *signals)
{
  for (;;)
    {
      struct pollfd pfd = { signals->fd, POLLIN, 0 };
      struct signalfd_siginfo info;
      int wait_status;
      pid_t res;

      res = waitpid (pid, &wait_status, WNOHANG);
      if (res == pid)
        return wait_status;
      if (res == -1 && errno != EINTR)
        {
          /* Translators: the first %s is a command, the second why */
          sysem_tool_error (_("Could not wait for “%s”: %s"), name, g_strerror (errno));
          return EXIT_RUN_FAILED << 8;
        }

      /* SIGCHLD is among the signals read: it wakes this poll. */
      if (poll (&pfd, 1, -1) == -1)
        continue;

      while (run_signals_read (signals, &info))
        {
          /* A signal sent by a process (kill) is passed on. One that the
           * terminal sent reached the command by itself. */
          if (info.ssi_signo != SIGCHLD && info.ssi_code <= 0 && (pid_t) info.ssi_pid != pid)
            kill (pid, (int) info.ssi_signo);
        }
    }
}

/* Runs the command; returns the status to exit with. */
static int
run_command (char       **command,
             RunSignals  *signals)
{
  int exec_errno = 0;
  int exec_status_fd;
  int wait_status;
  ssize_t got;
  pid_t pid;

  pid = run_spawn (command, signals, &exec_status_fd);
  if (pid == -1)
    return EXIT_RUN_FAILED;

  do
    got = read (exec_status_fd, &exec_errno, sizeof exec_errno);
  while (got == -1 && errno == EINTR);
  close (exec_status_fd);
  if (got == sizeof exec_errno)
    sysem_tool_error (_("Could not run “%s”: %s"), command[0], g_strerror (exec_errno));

  wait_status = run_supervise (pid, command[0], signals);

  if (got == sizeof exec_errno)
    return exec_errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
  if (WIFEXITED (wait_status))
    return WEXITSTATUS (wait_status);
  if (WIFSIGNALED (wait_status))
    return 128 + WTERMSIG (wait_status);

  return EXIT_RUN_FAILED;
}

/* ---------------------------------------------------------------------- */

int
handle_run (int    argc,
            char **argv)
{
  g_auto(RunArgs) args = { 0 };
  g_autoptr(GError) error = NULL;
  RunSignals signals;
  SysemSemaphore *sem;
  int status;

  status = run_parse (argc, argv, &args);
  if (status != EXIT_OK)
    return status;

  /* Before the library starts a thread: see the top of this file. */
  if (!run_signals_take (&signals))
    return EXIT_RUN_FAILED;

  sem = sysem_tool_open (args.key, args.slots, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_RUN_FAILED;
    }

  if (run_wait_for_slot (sem, &args, &signals, &status))
    {
      status = run_command (args.command, &signals);

      if (!sysem_semaphore_release (sem, 1, &error))
        sysem_tool_error ("%s", error->message);
    }

  sysem_tool_finish (sem);
  close (signals.fd);
  return status;
}
