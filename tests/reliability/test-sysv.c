/* test-sysv.c: the System V backend after fork(), in its crash windows,
 * against squatters and with many objects
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real processes on real kernel sets, synchronised through pipes: a forked
 * child that lives on must not hold the key file's lock (the daemon
 * shape, for both key types, is in tests/core/test-threads.c); a set
 * whose creator died before it was made
 * is recognised and finished or removed; a key file or set that another
 * user made first is refused; 10,000 objects fit in 1024 descriptors.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysem-test-util.h"

/* Processes and pipes */

static void
make_pipe (int fds[2])
{
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
}

/* Reads one byte from @fd, waiting at most the tests' deadline: FALSE on
 * end of file or when nothing came. */
static gboolean
read_byte (int   fd,
           char *byte)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  int res;

  do
    res = poll (&pfd, 1, SYSEM_TEST_DEADLINE_USEC / 1000);
  while (res == -1 && errno == EINTR);
  if (res != 1)
    return FALSE;

  return read (fd, byte, 1) == 1;
}

static void
write_byte (int  fd,
            char byte)
{
  g_assert_cmpint (write (fd, &byte, 1), ==, 1);
}

typedef struct {
  pid_t pid;
  int   status;
} Child;

static gboolean
child_exited_cb (gpointer data)
{
  Child *child = data;
  pid_t res = waitpid (child->pid, &child->status, WNOHANG);

  g_assert_cmpint (res, !=, -1);
  return res == child->pid;
}

/* Waits for @pid to exit with status 0; fails the test if it does not
 * within @timeout_usec. */
static void
assert_child_succeeds_within (pid_t        pid,
                              gint64       timeout_usec,
                              const char  *what)
{
  Child child = { pid, 0 };

  if (!sysem_test_poll (child_exited_cb, &child, timeout_usec))
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      g_error ("%s did not finish in %d s", what, (int) (timeout_usec / G_USEC_PER_SEC));
    }
  if (!WIFEXITED (child.status) || WEXITSTATUS (child.status) != 0)
    g_error ("%s ended with status 0x%x", what, (guint) child.status);
}

static void
assert_child_succeeds (pid_t       pid,
                       const char *what)
{
  assert_child_succeeds_within (pid, SYSEM_TEST_DEADLINE_USEC, what);
}

/* In a child: open and close @key once. */
static pid_t
fork_open_close (const char *key)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      SysemSemaphore *sem = sysem_semaphore_new (key, 1, SYSEM_ACCESS_MODE_OPEN, NULL);

      if (sem == NULL)
        _exit (1);
      g_object_unref (sem);
      _exit (0);
    }

  return pid;
}

/* Fork */

/* A forked child that lives on, and never touches the object or drops its
 * copy, holds no lock of the key file: other processes open and close the
 * key while it lives (sysem 1.0 blocked them until the child exited). */
static void
fork_child_lives_on (SysemTestFixture *fixture,
                     gboolean          child_drops_copy)
{
  g_autoptr(SysemSemaphore) keeper = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  int ready[2], go[2];
  char byte;
  pid_t child;

  /* The keeper keeps the set alive, so that the key file stays. */
  keeper = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_OPEN);
  make_pipe (ready);
  make_pipe (go);

  child = fork ();
  g_assert_cmpint (child, !=, -1);
  if (child == 0)
    {
      if (child_drops_copy)
        g_clear_object (&sem);
      write_byte (ready[1], 'r');
      read_byte (go[0], &byte);
      _exit (0);
    }

  g_assert_true (read_byte (ready[0], &byte));

  /* A third process comes and goes while the child lives: after the
   * parent left (taking the key file's lock), or, when the child left
   * (taking it), while the parent still has it open. */
  if (!child_drops_copy)
    g_clear_object (&sem);
  assert_child_succeeds_within (fork_open_close (fixture->key), 10 * G_USEC_PER_SEC,
                                "an open and close while a forked child lives");
  g_assert_cmpint (kill (child, 0), ==, 0);

  write_byte (go[1], 'g');
  assert_child_succeeds (child, "the forked child");
  g_clear_object (&sem);
  g_clear_object (&keeper);

  for (int i = 0; i < 2; i++)
    {
      close (ready[i]);
      close (go[i]);
    }
}

static void
test_fork_child_lives_on (SysemTestFixture *fixture)
{
  fork_child_lives_on (fixture, FALSE);
}

static void
test_fork_child_drops_copy (SysemTestFixture *fixture)
{
  fork_child_lives_on (fixture, TRUE);
}

/* fork() while another thread's set_key() is leaving the old set, held
 * up on its key file's lock, which the test holds: that handle was on its
 * way out in a thread the child does not have. The child neither counts
 * on the old set nor marks it for itself, so the mover, its last user,
 * removes it while the child lives (before, the child marked it, the
 * mover left it to the child, and the child, which never used it, left
 * it behind when it exited). */

typedef struct {
  SysemSemaphore *sem;
  const char     *to;
} Move;

static gpointer
move_thread (gpointer data)
{
  Move *move = data;
  g_autoptr(GError) error = NULL;

  sysem_semaphore_set_key (move->sem, move->to, 1, SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_no_error (error);
  return NULL;
}

/* Does a thread of this process wait for the flock() of the file whose
 * inode is at @data? */
static gboolean
flock_waited_cb (gpointer data)
{
  g_autofree char *waiter = g_strdup_printf ("-> FLOCK  ADVISORY  WRITE %d ", (int) getpid ());
  g_autofree char *file = g_strdup_printf (":%" G_GUINT64_FORMAT " ", *(guint64 *) data);
  g_autofree char *locks = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/locks", &locks, NULL, NULL));
  lines = g_strsplit (locks, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], waiter) != NULL && strstr (lines[i], file) != NULL)
      return TRUE;
  return FALSE;
}

static void
test_fork_during_set_key (SysemTestFixture *fixture)
{
  g_autofree char *other = g_strconcat (fixture->key, "-other", NULL);
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  Move move = { sem, other };
  int lock_fd, ready[2], go[2];
  struct stat st;
  guint64 ino;
  GThread *mover;
  char byte;
  pid_t child;

  lock_fd = open (file, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (lock_fd, !=, -1);
  g_assert_no_errno (fstat (lock_fd, &st));
  ino = st.st_ino;
  g_assert_no_errno (flock (lock_fd, LOCK_EX));
  mover = g_thread_new ("mover", move_thread, &move);
  sysem_test_wait_for (flock_waited_cb, &ino, "the mover waiting for the key file's lock");

  make_pipe (ready);
  make_pipe (go);
  child = sysem_test_fork ();
  g_assert_cmpint (child, !=, -1);
  if (child == 0)
    {
      write_byte (ready[1], 'r');
      read_byte (go[0], &byte);
      _exit (0);
    }
  g_assert_true (read_byte (ready[0], &byte));

  /* The child shares the descriptor: unlocked, not closed. */
  g_assert_no_errno (flock (lock_fd, LOCK_UN));
  g_thread_join (mover);
  g_assert_true (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V));
  g_assert_cmpint (kill (child, 0), ==, 0);

  write_byte (go[1], 'g');
  assert_child_succeeds (child, "the forked child");
  close (lock_fd);
  for (int i = 0; i < 2; i++)
    {
      close (ready[i]);
      close (go[i]);
    }
  g_object_unref (sem);
  sysem_test_assert_key_clean (other, SYSEM_KEY_TYPE_SYSTEM_V);
}

/* Crash windows */

/* A creator killed as it links its new key file into place leaves
 * nothing behind: the file has no name until it is linked (sysem 1.1.0
 * before this left a .sysem-key-XXXXXX file that nothing removed). */
static void
test_key_file_link_killed (SysemTestFixture *fixture)
{
  g_autofree char *dir = g_dir_make_tmp ("sysem-test-XXXXXX", NULL);
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "TMPDIR", dir, TRUE);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = {
    STRACE, "-qq", "-o", "/dev/null", "-e", "trace=link,linkat",
    "-e", "inject=link,linkat:signal=KILL",
    sysem_test_helper_path (), "--create", "--value", "1", fixture->key, "value", NULL
  };
  int status;

  if (STRACE[0] == '\0')
    {
      g_test_skip ("strace is not installed");
      rmdir (dir);
      return;
    }

  g_assert_true (g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  /* Killed before it opened the semaphore. */
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (out, ==, "");

  /* Nothing in its temporary directory. */
  g_assert_cmpint (rmdir (dir), ==, 0);
}

/* Where O_TMPFILE cannot be used, a key file is made under a temporary
 * name first: one whose maker died before the link is listed as stale,
 * and `sysem gc` removes it. */
static void
test_key_file_temp_leftover (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sysem-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "qipc_systemsem_.sysem-AbC123", NULL);
  g_autofree char *saved = g_strdup (g_getenv ("TMPDIR"));
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GError) error = NULL;
  SysemInfo *leftover = NULL;
  gboolean removed = FALSE;
  int fd;

  fd = open (path, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0640);
  g_assert_cmpint (fd, !=, -1);
  (void) fsetxattr (fd, "user.sysem.key-file", "1", 1, 0);
  close (fd);

  g_setenv ("TMPDIR", dir, TRUE);
  infos = sysem_inspect_list (SYSEM_KEY_TYPE_SYSTEM_V, &error);
  if (saved != NULL)
    g_setenv ("TMPDIR", saved, TRUE);
  else
    g_unsetenv ("TMPDIR");
  g_assert_no_error (error);

  for (guint i = 0; i < infos->len; i++)
    if (g_strcmp0 (((SysemInfo *) infos->pdata[i])->path, path) == 0)
      leftover = infos->pdata[i];
  g_assert_nonnull (leftover);
  g_assert_true (leftover->stale);
  g_assert_cmpint (leftover->state, ==, SYSEM_INSPECT_NO_SET);
  /* The file goes; there was no set to remove. */
  g_assert_true (sysem_inspect_remove (leftover, TRUE, &removed, &error));
  g_assert_no_error (error);
  g_assert_false (removed);

  g_assert_false (sysem_test_path_exists (path));
  g_assert_cmpint (rmdir (dir), ==, 0);
}

/* What a creator that died between semget (IPC_CREAT) and setting the
 * value leaves: the key file, and a sysem-sized set nobody ever operated
 * on (sem_otime 0), with no user and a value of 0. */
static int
make_half_made_set (const char *key,
                    int         n_sems)
{
  g_autofree char *file = sysem_test_key_path (key, SYSEM_KEY_TYPE_SYSTEM_V);
  int fd, semid;

  fd = open (file, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0640);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  semid = semget (ftok (file, 'Q'), n_sems, IPC_CREAT | IPC_EXCL | 0600);
  g_assert_cmpint (semid, >=, 0);

  return semid;
}

/* The next opener finishes it with its initial value, in both modes. */
static void
test_half_made_finished (SysemTestFixture *fixture)
{
  for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
    for (int n_sems = 2; n_sems <= 3; n_sems++)
      {
        g_autoptr(SysemSemaphore) sem = NULL;
        g_autoptr(SysemSemaphore) other = NULL;
        g_autoptr(GError) error = NULL;
        int semid = make_half_made_set (fixture->key, n_sems);

        sem = sysem_test_fixture_open (fixture, 1, mode);
        g_assert_cmpint (sysem_test_stats (sem).id, ==, semid);
        sysem_test_assert_value (sem, 1);
        g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);

        /* Finished: a later Open takes it as it is. */
        other = sysem_test_fixture_open (fixture, 5, SYSEM_ACCESS_MODE_OPEN);
        g_assert_true (sysem_semaphore_try_acquire (other, 0, NULL, &error));
        g_assert_no_error (error);
        sysem_test_assert_value (sem, 0);
        sysem_test_release (other, 1);

        g_clear_object (&other);
        g_clear_object (&sem);
        g_assert_false (sysem_test_semid_exists (semid));
        sysem_test_assert_key_clean (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
      }
}

/* Inspection says what it is, and gc removes it and its key file. */
static void
test_half_made_gc (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
  g_autoptr(SysemInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  gboolean removed = FALSE;
  int semid = make_half_made_set (fixture->key, 2);

  info = sysem_inspect_native (SYSEM_KEY_TYPE_SYSTEM_V, file, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);
  g_assert_true (info->exists);
  g_assert_cmpint (info->stats.id, ==, semid);
  g_assert_cmpint (info->state, ==, SYSEM_INSPECT_HALF_MADE);
  g_assert_true (info->stale);

  g_assert_true (sysem_inspect_remove (info, TRUE, &removed, &error));
  g_assert_no_error (error);
  g_assert_true (removed);
  g_assert_false (sysem_test_semid_exists (semid));
  g_assert_false (sysem_test_path_exists (file));
}

/* A set that was made and used is not half-made, whatever its counts. */
static void
test_half_made_not_confused (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  info = sysem_inspect_native (SYSEM_KEY_TYPE_SYSTEM_V, file, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->state, ==, SYSEM_INSPECT_IN_USE);
  g_assert_false (info->stale);
}

/* Squatting */

#define OTHER_UID 12345   /* a user who is not root, not nobody, not us */

/* In a child running as @uid: makes the key file of @key (when @file_mode
 * is not 0) and, when @set_mode is not 0, a sysem-sized set on its key. */
static void
squat_as (uid_t       uid,
          const char *key,
          mode_t      file_mode,
          mode_t      set_mode)
{
  g_autofree char *file = sysem_test_key_path (key, SYSEM_KEY_TYPE_SYSTEM_V);
  pid_t pid = fork ();

  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      if (setgroups (0, NULL) == -1 || setgid (uid) == -1 || setuid (uid) == -1)
        _exit (1);
      if (file_mode != 0)
        {
          int fd = open (file, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, file_mode);

          if (fd == -1 || fchmod (fd, file_mode) == -1)
            _exit (2);
          close (fd);
        }
      if (set_mode != 0 &&
          semget (ftok (file, 'Q'), 2, IPC_CREAT | IPC_EXCL | set_mode) == -1)
        _exit (3);
      _exit (0);
    }

  assert_child_succeeds (pid, "the squatter");
}

/* In a child running as @uid: opening @key in both modes is refused with
 * PERMISSION_DENIED naming @owner. */
static void
assert_refused_as (uid_t       uid,
                   const char *key,
                   const char *owner)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      if (uid != 0 && (setgroups (0, NULL) == -1 || setgid (uid) == -1 || setuid (uid) == -1))
        _exit (1);

      for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
        {
          g_autoptr(GError) error = NULL;
          SysemSemaphore *sem = sysem_semaphore_new (key, 1, mode, &error);

          if (sem != NULL)
            _exit (10 + mode);
          if (!g_error_matches (error, SYSEM_SEMAPHORE_ERROR,
                                SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED) ||
              strstr (error->message, key) == NULL || strstr (error->message, owner) == NULL)
            {
              g_printerr ("not the error expected: %s\n", error->message);
              _exit (20 + mode);
            }
        }
      _exit (0);
    }

  assert_child_succeeds (pid, "the victim");
}

/* Acting as other users needs root. */
static gboolean
require_root (void)
{
  if (geteuid () == 0)
    return TRUE;

  g_test_skip ("needs root, to act as other users");
  return FALSE;
}

static uid_t
nobody_uid (void)
{
  struct passwd *pw = getpwnam ("nobody");

  g_assert_nonnull (pw);
  g_assert_cmpuint (pw->pw_uid, !=, 0);
  g_assert_cmpuint (pw->pw_uid, !=, OTHER_UID);
  return pw->pw_uid;
}

/* Nothing the squatter made was deleted or changed; then it goes. */
static void
assert_squat_intact (const char *key,
                     uid_t       file_owner,
                     uid_t       set_owner)
{
  g_autofree char *file = sysem_test_key_path (key, SYSEM_KEY_TYPE_SYSTEM_V);
  struct stat st;

  g_assert_cmpint (lstat (file, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, file_owner);

  if (set_owner != (uid_t) -1)
    {
      int semid = semget (ftok (file, 'Q'), 0, 0);
      struct semid_ds ds;
      union { int val; struct semid_ds *buf; } arg = { .buf = &ds };

      g_assert_cmpint (semid, >=, 0);
      g_assert_cmpint (semctl (semid, 0, IPC_STAT, arg), ==, 0);
      g_assert_cmpuint (ds.sem_perm.cuid, ==, set_owner);
      g_assert_cmpint (semctl (semid, 0, GETVAL), ==, 0);
      g_assert_cmpint (semctl (semid, 1, GETVAL), ==, 0);
      g_assert_cmpint (semctl (semid, 0, IPC_RMID), ==, 0);
    }

  g_assert_cmpint (unlink (file), ==, 0);
}

/* Root refuses a key file made by nobody; nobody refuses one made by
 * another user who is not root. */
static void
test_squat_key_file (SysemTestFixture *fixture)
{
  uid_t nobody;

  if (!require_root ())
    return;
  nobody = nobody_uid ();

  /* Readable or not, the file is refused. */
  for (int readable = 0; readable < 2; readable++)
    {
      squat_as (nobody, fixture->key, readable ? 0644 : 0600, 0);
      assert_refused_as (0, fixture->key, "nobody");
      assert_squat_intact (fixture->key, nobody, (uid_t) -1);

      squat_as (OTHER_UID, fixture->key, readable ? 0666 : 0600, 0);
      assert_refused_as (nobody, fixture->key, G_STRINGIFY (OTHER_UID));
      assert_squat_intact (fixture->key, OTHER_UID, (uid_t) -1);
    }

  /* The user's own and root's files are used. */
  squat_as (nobody, fixture->key, 0644, 0);
  {
    pid_t pid = fork ();

    g_assert_cmpint (pid, !=, -1);
    if (pid == 0)
      {
        SysemSemaphore *sem;

        if (setgroups (0, NULL) == -1 || setgid (nobody) == -1 || setuid (nobody) == -1)
          _exit (1);
        sem = sysem_semaphore_new (fixture->key, 1, SYSEM_ACCESS_MODE_OPEN, NULL);
        if (sem == NULL)
          _exit (2);
        g_object_unref (sem);
        _exit (0);
      }
    assert_child_succeeds (pid, "nobody opening its own key file");
  }
}

/* A world-writable set on the key of the victim's key file, made first by
 * another user, is refused: the victim's count is neither shared nor
 * reset. */
static void
test_squat_set (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
  uid_t nobody;
  int fd;

  if (!require_root ())
    return;
  nobody = nobody_uid ();

  for (int world = 0; world < 2; world++)
    {
      mode_t set_mode = world ? 0666 : 0600;

      /* Root's key file (as if left by an earlier root program), nobody's
       * set: refused by root. */
      fd = open (file, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0644);
      g_assert_cmpint (fd, >=, 0);
      close (fd);
      squat_as (nobody, fixture->key, 0, set_mode);
      assert_refused_as (0, fixture->key, "nobody");
      assert_squat_intact (fixture->key, 0, nobody);

      /* The same, with another user's set, refused by nobody. */
      fd = open (file, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0644);
      g_assert_cmpint (fd, >=, 0);
      close (fd);
      squat_as (OTHER_UID, fixture->key, 0, set_mode);
      assert_refused_as (nobody, fixture->key, G_STRINGIFY (OTHER_UID));
      assert_squat_intact (fixture->key, 0, OTHER_UID);
    }
}

/* Two key files, one kernel key */

/* ftok() keeps 16 bits of the inode: a key file made where another key's
 * file was (file systems reuse a freed inode at once) gets that key's
 * kernel key. sysem gives its new file another inode instead of sharing
 * the other key's set and count. */
static void
test_ftok_collision (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
  g_autofree char *dir = g_path_get_dirname (file);
  g_autofree char *probe = g_build_filename (dir, "sysemtest-sysv-probe-XXXXXX", NULL);
  g_autoptr(SysemSemaphore) sem = NULL;
  struct stat st;
  int fd, other, sem_id;
  key_t other_key;

  /* Another key's set, whose key file was just deleted. */
  fd = g_mkstemp (probe);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  other_key = ftok (probe, 'Q');
  other = semget (other_key, 1, IPC_CREAT | IPC_EXCL | 0600);
  g_assert_cmpint (other, >=, 0);
  g_assert_cmpint (semctl (other, 0, SETVAL, 7), ==, 0);
  g_assert_cmpint (unlink (probe), ==, 0);

  sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_OPEN);
  sem_id = sysem_test_stats (sem).id;
  g_assert_cmpint (lstat (file, &st), ==, 0);
  g_test_message ("the key file %s the probe's kernel key",
                  ftok (file, 'Q') == other_key ? "has" : "does not have");

  /* A set of its own, and the other one untouched. */
  g_assert_cmpint (sem_id, !=, other);
  g_assert_cmpint (ftok (file, 'Q'), !=, other_key);
  sysem_test_assert_value (sem, 1);
  g_assert_cmpint (sysem_test_stats (sem).n_sems, ==, 3);
  g_assert_cmpint (semctl (other, 0, GETVAL), ==, 7);

  g_clear_object (&sem);
  g_assert_false (sysem_test_semid_exists (sem_id));
  g_assert_cmpint (semctl (other, 0, GETVAL), ==, 7);
  g_assert_cmpint (semctl (other, 0, IPC_RMID), ==, 0);
}

/* Many processes that open a new key at the same moment all end on one
 * set, whatever the order in which they make and lock its key file. */
static void
test_open_race (SysemTestFixture *fixture)
{
  int rounds = sysem_test_under_valgrind () ? 5 : 100;

  for (int round = 0; round < rounds; round++)
    {
      g_autofree char *key = g_strdup_printf ("%s-%d", fixture->key, round);
      int go[2], ids[2], done[2];
      pid_t pids[8];
      int first = -1;
      char byte;

      make_pipe (go);
      make_pipe (ids);
      make_pipe (done);

      for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
        {
          pids[i] = fork ();
          g_assert_cmpint (pids[i], !=, -1);
          if (pids[i] == 0)
            {
              SysemSemaphore *sem;
              SysemStats stats;
              int id;

              /* The end of file is the signal. */
              close (go[1]);
              read_byte (go[0], &byte);
              sem = sysem_semaphore_new (key, 3, SYSEM_ACCESS_MODE_OPEN, NULL);
              if (sem == NULL || !sysem_semaphore_get_stats (sem, &stats, NULL))
                _exit (2);
              id = stats.id;
              if (write (ids[1], &id, sizeof id) != sizeof id)
                _exit (3);
              /* Stay until all have opened. */
              close (done[1]);
              read_byte (done[0], &byte);
              g_object_unref (sem);
              _exit (0);
            }
        }

      /* All at once: every child sees the end of file together. */
      close (go[1]);
      close (ids[1]);
      for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
        {
          struct pollfd pfd = { ids[0], POLLIN, 0 };
          int id;

          g_assert_cmpint (poll (&pfd, 1, SYSEM_TEST_DEADLINE_USEC / 1000), ==, 1);
          g_assert_cmpint (read (ids[0], &id, sizeof id), ==, sizeof id);
          if (first == -1)
            first = id;
          g_assert_cmpint (id, ==, first);
        }
      close (done[1]);
      for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
        assert_child_succeeds (pids[i], "a racing opener");

      g_assert_true (sysem_test_key_is_clean (key, SYSEM_KEY_TYPE_SYSTEM_V));
      g_assert_false (sysem_test_semid_exists (first));
      close (go[0]);
      close (ids[0]);
      close (done[0]);
    }
}

/* Hostile files */

static void
assert_open_fails_with (const char *key,
                        int         code,
                        const char *in_message)
{
  for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
    {
      g_autoptr(SysemSemaphore) sem = NULL;
      g_autoptr(GError) error = NULL;

      sem = sysem_semaphore_new (key, 1, mode, &error);
      g_assert_null (sem);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
      if (strstr (error->message, in_message) == NULL)
        g_error ("“%s” does not say “%s”", error->message, in_message);
    }
}

/* A socket in place of the key file is a bad key file, not an unknown
 * error; it stays. */
static void
test_key_file_socket (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
  g_autoptr(SysemInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct stat st;
  int fd;

  g_assert_cmpuint (strlen (file), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, file);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);

  assert_open_fails_with (fixture->key, SYSEM_SEMAPHORE_ERROR_KEY_ERROR,
                          "not a regular file");

  info = sysem_inspect_native (SYSEM_KEY_TYPE_SYSTEM_V, file, &error);
  g_assert_null (info);
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);

  g_assert_cmpint (lstat (file, &st), ==, 0);
  g_assert_true (S_ISSOCK (st.st_mode));
  close (fd);
  g_assert_cmpint (unlink (file), ==, 0);
}

/* A TMPDIR that is a loop of symbolic links: the message says so, and does
 * not blame a key file that is no link. */
static void
test_tmpdir_symlink_loop (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *scratch = g_dir_make_tmp ("sysemtest-sysv-loop-XXXXXX", &error);
  g_autofree char *a = g_build_filename (scratch, "a", NULL);
  g_autofree char *b = g_build_filename (scratch, "b", NULL);
  pid_t pid;

  g_assert_no_error (error);
  g_assert_cmpint (symlink (b, a), ==, 0);
  g_assert_cmpint (symlink (a, b), ==, 0);

  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      g_autoptr(GError) child_error = NULL;
      SysemSemaphore *sem;

      g_setenv ("TMPDIR", a, TRUE);
      sem = sysem_semaphore_new (fixture->key, 1, SYSEM_ACCESS_MODE_CREATE, &child_error);
      if (sem != NULL)
        _exit (1);
      if (!g_error_matches (child_error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR) ||
          strstr (child_error->message, "loop of symbolic links") == NULL ||
          strstr (child_error->message, a) == NULL ||
          strstr (child_error->message, "is a symbolic link") != NULL)
        {
          g_printerr ("not the error expected: %s\n", child_error->message);
          _exit (2);
        }
      _exit (0);
    }
  assert_child_succeeds (pid, "the open in a looping TMPDIR");

  g_assert_cmpint (unlink (a), ==, 0);
  g_assert_cmpint (unlink (b), ==, 0);
  g_assert_cmpint (rmdir (scratch), ==, 0);
}

/* Waiting without slices */

/* A blocked waiter does not wake while nothing happens: over a quarter of
 * a second, a waiter in 20 ms slices would wake a dozen times. Counted by
 * the kernel's context switches of its thread; no time is asserted. */
static void
assert_sleeps_soundly (SysemTestWaiter *w)
{
  int tid = sysem_test_waiter_get_tid (w);
  guint64 before, after;

  sysem_test_waiter_wait_asleep (w);
  before = sysem_test_thread_switches (tid);
  g_usleep (250 * G_TIME_SPAN_MILLISECOND);
  after = sysem_test_thread_switches (tid);
  g_test_message ("the waiter woke %" G_GUINT64_FORMAT " times", after - before);
  if (!sysem_test_under_valgrind ())
    g_assert_cmpuint (after - before, <=, 2);
}

/* A cancellable acquire on a set made by sysem 1.1 sleeps until it is
 * cancelled (the kick semaphore wakes it), and a timed one without a
 * cancellable sleeps until its unit or its deadline. */
static void
test_wait_without_slices (SysemTestFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;

  sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpint (sysem_test_stats (sem).n_sems, ==, 3);

  for (int timed = 0; timed < 2; timed++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      SysemTestWaiter *w = sysem_test_waiter_start (sem, cancellable,
                                                    timed ? 600 * G_USEC_PER_SEC : -1);

      assert_sleeps_soundly (w);
      g_cancellable_cancel (cancellable);
      g_assert_false (sysem_test_waiter_join (w, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);
    }

  {
    SysemTestWaiter *w = sysem_test_waiter_start (sem, NULL, 600 * G_USEC_PER_SEC);

    assert_sleeps_soundly (w);
    sysem_test_release (sem, 1);
    sysem_test_waiter_join_acquired (w);
  }

  /* A deadline that passes is a timeout, not an error. */
  g_assert_false (sysem_semaphore_try_acquire (sem, 20 * G_TIME_SPAN_MILLISECOND, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    g_assert_false (sysem_semaphore_try_acquire (sem, 20 * G_TIME_SPAN_MILLISECOND, cancellable,
                                                 &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  }
  sysem_test_assert_value (sem, 0);
}

/* Cancels race units and other waiters: every cancel is seen, no unit is
 * lost or made. Correctness only: no time is measured. */
static void
test_cancel_latency (SysemTestFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemSemaphore) other = NULL;
  int rounds = sysem_test_under_valgrind () ? 40 : 400;
  int acquired = 0;

  sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  other = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_OPEN);

  for (int i = 0; i < rounds; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GCancellable) bystander_cancellable = g_cancellable_new ();
      SysemTestWaiter *w, *bystander;
      g_autoptr(GError) error = NULL;

      /* Two guarded sleepers: a kick for one wakes both, and the other
       * goes back to sleep. */
      bystander = sysem_test_waiter_spawn (other, bystander_cancellable, -1);
      w = sysem_test_waiter_spawn (sem, cancellable, i % 2 ? 600 * G_USEC_PER_SEC : -1);
      sysem_test_wait_waiters (sem, 2);

      if (i % 3 == 0)
        sysem_test_release (other, 1);   /* a unit races the cancel */
      g_cancellable_cancel (cancellable);
      if (sysem_test_waiter_join (w, &error))
        {
          acquired++;
          sysem_test_release (sem, 1);
        }
      else
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&error);

      /* The bystander got the unit, if any was left, or sleeps on. */
      if (i % 3 == 0)
        sysem_test_waiter_join_acquired (bystander);
      else
        {
          g_cancellable_cancel (bystander_cancellable);
          g_assert_false (sysem_test_waiter_join (bystander, &error));
          g_clear_error (&error);
        }
      sysem_test_assert_value (sem, 0);
    }

  g_test_message ("%d of %d cancelled waiters got a unit first", acquired, rounds);
}

/* A set made by sysem 1.0 has no kick semaphore: cancellable waits fall
 * back to slices and still work, and the set is used as before. */
static void
test_set_of_1_0 (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  struct sembuf pin = { 1, 1, 0 };
  SysemTestWaiter *w;
  int semid, fd;

  /* What `sysem create` of 1.0 left: two semaphores, one pinned user. */
  fd = open (file, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0640);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  semid = semget (ftok (file, 'Q'), 2, IPC_CREAT | IPC_EXCL | 0600);
  g_assert_cmpint (semid, >=, 0);
  g_assert_cmpint (semop (semid, &pin, 1), ==, 0);

  sem = sysem_test_fixture_open (fixture, 5, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpint (sysem_test_stats (sem).n_sems, ==, 2);
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 2);
  sysem_test_assert_value (sem, 0);

  w = sysem_test_waiter_spawn (sem, cancellable, -1);
  sysem_test_waiter_get_tid (w);
  g_cancellable_cancel (cancellable);
  g_assert_false (sysem_test_waiter_join (w, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  sysem_test_release (sem, 2);
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 1);
  g_clear_object (&sem);

  /* Still pinned: ours to remove. */
  g_assert_true (sysem_test_semid_exists (semid));
  g_assert_cmpint (semctl (semid, 0, GETVAL), ==, 1);
  g_assert_cmpint (semctl (semid, 0, IPC_RMID), ==, 0);
  g_assert_cmpint (unlink (file), ==, 0);
}

/* The held count across threads */

#define HELD_THREADS 4

typedef struct {
  SysemSemaphore *sem;
  int             rounds;
  gboolean        ok;
} HeldWorker;

/* Each thread takes and gives back units, in ones and twos, and ends
 * holding one. */
static gpointer
held_worker_thread (gpointer data)
{
  HeldWorker *hw = data;

  hw->ok = TRUE;
  for (int i = 0; i < hw->rounds && hw->ok; i++)
    {
      hw->ok = sysem_semaphore_acquire (hw->sem, NULL, NULL) &&
               sysem_semaphore_acquire (hw->sem, NULL, NULL) &&
               sysem_semaphore_release (hw->sem, 1 + (i % 2), NULL);
      if (i % 2 == 0)
        hw->ok = hw->ok && sysem_semaphore_release (hw->sem, 1, NULL);
    }
  hw->ok = hw->ok && sysem_semaphore_acquire (hw->sem, NULL, NULL);
  return NULL;
}

/* Threads of a process share its held count, changed plainly by the
 * thread that made it until the others come, atomically afterwards. Then
 * the process gives back what its threads hold, creates units, takes one
 * and exits without releasing it: the kernel gives back exactly the
 * acquires, never the releases, so the count is the initial value plus
 * the units created. A held count that lost an update on the way would
 * count a created unit as given back, or the other way round. */
static void
test_held_across_threads (SysemTestFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  int rounds = sysem_test_under_valgrind () ? 200 : 20000;
  pid_t pid;

  sem = sysem_test_fixture_open (fixture, 2 * HELD_THREADS, SYSEM_ACCESS_MODE_CREATE);

  for (int pass = 0; pass < 3; pass++)
    {
      pid = fork ();
      g_assert_cmpint (pid, !=, -1);
      if (pid == 0)
        {
          SysemSemaphore *child_sem;
          HeldWorker workers[HELD_THREADS];
          GThread *threads[HELD_THREADS];

          child_sem = sysem_semaphore_new (fixture->key, 0, SYSEM_ACCESS_MODE_OPEN, NULL);
          if (child_sem == NULL)
            _exit (1);
          /* The thread that opened it uses it first, plainly; the others
           * come while it runs. */
          for (int i = 0; i < HELD_THREADS; i++)
            {
              workers[i] = (HeldWorker) { child_sem, rounds, FALSE };
              threads[i] = i == 0 ? NULL : g_thread_new ("held", held_worker_thread, &workers[i]);
            }
          held_worker_thread (&workers[0]);
          for (int i = 1; i < HELD_THREADS; i++)
            g_thread_join (threads[i]);
          for (int i = 0; i < HELD_THREADS; i++)
            if (!workers[i].ok)
              _exit (2);

          if (!sysem_semaphore_release (child_sem, HELD_THREADS, NULL) ||  /* given back */
              !sysem_semaphore_release (child_sem, HELD_THREADS, NULL) ||  /* created */
              !sysem_semaphore_acquire (child_sem, NULL, NULL))            /* kept */
            _exit (3);
          _exit (0);   /* no close, no release: a crash as far as units go */
        }
      assert_child_succeeds (pid, "the threads");

      sysem_test_assert_value (sem, 2 * HELD_THREADS + (pass + 1) * HELD_THREADS);
    }
}

/* Many objects */

/* 10,000 objects on distinct keys in one process whose descriptors are
 * limited to 1024: an object keeps no descriptor. */
static void
test_many_objects (SysemTestFixture *fixture)
{
  int n = sysem_test_under_valgrind () ? 1500 : 10000;
  g_autofree char *dir = g_strdup ("/dev/shm/sysemtest-sysv-many-XXXXXX");
  pid_t pid;

  /* ftok() keeps 16 bits of an inode and 8 of the device: 10,000 key
   * files in the shared temporary directory would give other tests
   * running meanwhile the kernel keys of their own sets. A directory on
   * another file system keeps them apart. */
  g_assert_nonnull (g_mkdtemp (dir));

  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      g_autoptr(GPtrArray) sems = g_ptr_array_new_with_free_func (g_object_unref);
      g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
      struct rlimit rl;

      g_setenv ("TMPDIR", dir, TRUE);

      /* The usual soft limit (valgrind keeps the hard one for itself). */
      if (getrlimit (RLIMIT_NOFILE, &rl) == -1)
        _exit (1);
      rl.rlim_cur = MIN (1024, rl.rlim_max);
      if (setrlimit (RLIMIT_NOFILE, &rl) == -1)
        _exit (1);

      for (int i = 0; i < n; i++)
        {
          g_autoptr(GError) error = NULL;
          char *key = g_strdup_printf ("%s-%d", fixture->key, i);
          SysemSemaphore *sem;

          g_ptr_array_add (keys, key);
          sem = sysem_semaphore_new (key, 1, SYSEM_ACCESS_MODE_CREATE, &error);
          if (sem == NULL)
            {
              g_printerr ("object %d: %s\n", i, error->message);
              _exit (2);
            }
          g_ptr_array_add (sems, sem);
        }

      for (int i = 0; i < n; i++)
        if (!sysem_semaphore_acquire (sems->pdata[i], NULL, NULL) ||
            !sysem_semaphore_release (sems->pdata[i], 1, NULL))
          _exit (3);

      g_ptr_array_set_size (sems, 0);
      for (int i = 0; i < n; i++)
        if (!sysem_test_key_is_clean (keys->pdata[i], SYSEM_KEY_TYPE_SYSTEM_V))
          _exit (4);
      _exit (0);
    }

  assert_child_succeeds (pid, "10,000 objects in 1024 descriptors");
  g_assert_cmpint (rmdir (dir), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add ("/reliability/sysv/fork/child-lives-on", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_fork_child_lives_on);
  sysem_test_add ("/reliability/sysv/fork/child-drops-copy", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_fork_child_drops_copy);
  sysem_test_add ("/reliability/sysv/fork/during-set-key", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_fork_during_set_key);

  sysem_test_add ("/reliability/sysv/half-made/finished", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_half_made_finished);
  sysem_test_add ("/reliability/sysv/half-made/gc", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_half_made_gc);
  sysem_test_add ("/reliability/sysv/crash/key-file-link", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_key_file_link_killed);
  g_test_add_func ("/reliability/sysv/crash/key-file-temp-leftover", test_key_file_temp_leftover);
  sysem_test_add ("/reliability/sysv/half-made/not-confused", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_half_made_not_confused);

  sysem_test_add ("/reliability/sysv/squat/key-file", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_squat_key_file);
  sysem_test_add ("/reliability/sysv/squat/set", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_squat_set);

  sysem_test_add ("/reliability/sysv/ftok-collision", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_ftok_collision);
  sysem_test_add ("/reliability/sysv/open-race", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_open_race);
  sysem_test_add ("/reliability/sysv/hostile/key-file-socket", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_key_file_socket);
  sysem_test_add ("/reliability/sysv/hostile/tmpdir-symlink-loop", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_tmpdir_symlink_loop);

  sysem_test_add ("/reliability/sysv/wait/without-slices", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_wait_without_slices);
  sysem_test_add ("/reliability/sysv/wait/cancel-latency", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_cancel_latency);
  sysem_test_add ("/reliability/sysv/wait/set-of-1.0", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_set_of_1_0);
  sysem_test_add ("/reliability/sysv/held-across-threads", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_held_across_threads);
  sysem_test_add ("/reliability/sysv/many-objects", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_many_objects);

  return g_test_run ();
}
