/* test-faults.c: what sysem does when the system works against it
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A semaphore removed under its waiters, a key file deleted or replaced by
 * a directory or a symbolic link, a temporary directory that is missing or
 * not writable, the kernel's semaphore limits reached (in a private IPC
 * namespace, so the machine is not affected), too many open files, another
 * user's semaphore, and a storm of signals during acquires.
 */

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"

#define N_WAITERS 5

/* Switching to the user nobody needs root. */
static gboolean
require_root (void)
{
  if (geteuid () == 0)
    return TRUE;

  g_test_skip ("needs root, to run a part of the test as the user nobody");
  return FALSE;
}

/* Removed while waiters block */

typedef enum {
  REMOVE_WITH_API,      /* sysem_semaphore_remove () from another object */
  REMOVE_BEHIND_SYSEM,  /* ipcrm, or rm /dev/shm/sem.NAME */
} RemoveHow;

typedef struct {
  SysemSemaphore *sem;
  GCancellable   *cancellable;
  int             index;
  gboolean        acquired;
  GError         *error;
  gint           *n_done;
} Waiter;

static gpointer
waiter_thread (gpointer data)
{
  Waiter *w = data;

  /* Every kind of blocking acquire: the plain kernel wait, the sliced wait
   * of a cancellable, a wait without limit and a long timed one. */
  switch (w->index % 4)
    {
    case 0:
      w->acquired = sysem_semaphore_acquire (w->sem, NULL, &w->error);
      break;
    case 1:
      w->acquired = sysem_semaphore_acquire (w->sem, w->cancellable, &w->error);
      break;
    case 2:
      w->acquired = sysem_semaphore_try_acquire (w->sem, -1, NULL, &w->error);
      break;
    default:
      w->acquired = sysem_semaphore_try_acquire (w->sem, 600 * G_USEC_PER_SEC,
                                                 w->cancellable, &w->error);
      break;
    }

  g_atomic_int_inc (w->n_done);
  return NULL;
}

static gboolean
all_done_cb (gpointer data)
{
  return g_atomic_int_get ((gint *) data) == N_WAITERS;
}

static void
removed_under_waiters (SysemKeyType key_type,
                       RemoveHow    how)
{
  g_autofree char *key = sysem_test_key ("rel-removed");
  g_autofree char *file = sysem_test_key_path (key, key_type);
  g_autoptr(SysemSemaphore) owner = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Waiter waiters[N_WAITERS];
  GThread *threads[N_WAITERS];
  gint n_done = 0;
  int semid = -1;
  key_t ipc_key = -1;

  owner = sysem_test_open (key, key_type, 0, SYSEM_ACCESS_MODE_CREATE);
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    sysem_test_sysv_ids (owner, &semid, &ipc_key);

  for (int i = 0; i < N_WAITERS; i++)
    {
      waiters[i] = (Waiter) { .index = i, .cancellable = cancellable, .n_done = &n_done };
      waiters[i].sem = sysem_semaphore_new_full (key, key_type, 0,
                                                 SYSEM_ACCESS_MODE_OPEN, &error);
      g_assert_no_error (error);
      threads[i] = g_thread_new ("waiter", waiter_thread, &waiters[i]);
    }

  /* The kernel's own count of sleeping waiters (semncnt, or the waiter
   * count in glibc's sem_t) reaches 5 once every thread sleeps. */
  sysem_test_wait_waiters (owner, N_WAITERS);
  g_assert_cmpint (g_atomic_int_get (&n_done), ==, 0);

  if (how == REMOVE_WITH_API)
    {
      g_assert_true (sysem_semaphore_remove (owner, &error));
      g_assert_no_error (error);
    }
  else if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_cmpint (semctl (semid, 0, IPC_RMID), ==, 0);
  else
    g_assert_cmpint (unlink (file), ==, 0);

  /* Promptly: a hang would trip the deadline. */
  sysem_test_wait_for (all_done_cb, &n_done, "the waiters to fail");

  for (int i = 0; i < N_WAITERS; i++)
    {
      g_autoptr(GError) again = NULL;

      g_thread_join (threads[i]);
      g_assert_false (waiters[i].acquired);
      sysem_test_assert_error_names_key (waiters[i].error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_NOT_FOUND, key);
      g_clear_error (&waiters[i].error);

      /* Later calls fail the same way and never make a new semaphore. */
      g_assert_false (sysem_semaphore_try_acquire (waiters[i].sem, 0, NULL, &again));
      sysem_test_assert_error_names_key (again, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_NOT_FOUND, key);
      g_clear_error (&again);
      g_assert_false (sysem_semaphore_release (waiters[i].sem, 1, &again));
      sysem_test_assert_error_names_key (again, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_NOT_FOUND, key);
      g_clear_error (&again);
      g_assert_cmpint (sysem_semaphore_get_value (waiters[i].sem, &again), ==, -1);
      sysem_test_assert_error_names_key (again, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_NOT_FOUND, key);
    }

  /* Not re-created behind the caller's back. */
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_false (sysem_test_sysv_set_alive (semid, ipc_key));
  if (how == REMOVE_WITH_API || key_type == SYSEM_KEY_TYPE_POSIX)
    g_assert_false (sysem_test_path_exists (file));

  for (int i = 0; i < N_WAITERS; i++)
    g_clear_object (&waiters[i].sem);
  g_clear_object (&owner);

  /* Nor by finalizing; and the key file of a set removed by ipcrm goes
   * with the last object. */
  g_assert_false (sysem_test_path_exists (file));
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    {
      g_assert_false (sysem_test_sysv_set_alive (semid, ipc_key));
      g_assert_cmpint (semget (ipc_key, 0, 0), ==, -1);
      g_assert_cmpint (errno, ==, ENOENT);
    }
}

static void
test_removed_under_waiters_remove (SysemTestFixture *fixture)
{
  removed_under_waiters (fixture->key_type, REMOVE_WITH_API);
}

static void
test_removed_under_waiters_external (SysemTestFixture *fixture)
{
  removed_under_waiters (fixture->key_type, REMOVE_BEHIND_SYSEM);
}

/* ipcrm under the only user of a set: nobody is left who did not see the
 * removal, and the key file must still go. */
static void
test_removed_only_user (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, fixture->key_type);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  int semid = -1;
  key_t ipc_key = -1;

  sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);

  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    {
      sysem_test_sysv_ids (sem, &semid, &ipc_key);
      g_assert_cmpint (semctl (semid, 0, IPC_RMID), ==, 0);
    }
  else
    g_assert_cmpint (unlink (file), ==, 0);

  g_assert_false (sysem_semaphore_try_acquire (sem, 50 * G_TIME_SPAN_MILLISECOND, NULL, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND,
                                     fixture->key);
  g_clear_object (&sem);

  g_assert_false (sysem_test_path_exists (file));
  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_false (sysem_test_sysv_set_alive (semid, ipc_key));
}

/* Crashes */

/* Forks a child that runs @body and then kills itself with SIGKILL, the
 * way a crash ends a process: no finalizer, no atexit handler. */
static void
run_and_crash (void     (*body) (gpointer data),
               gpointer   data)
{
  int status;
  pid_t pid, res;

  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    {
      body (data);
      raise (SIGKILL);
      _exit (1);
    }

  do
    res = waitpid (pid, &status, 0);
  while (res == -1 && errno == EINTR);
  g_assert_cmpint (res, ==, pid);
  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
    g_error ("the crashing child ended with status 0x%x, not SIGKILL", (guint) status);
}

typedef struct {
  const char   *key;
  SysemKeyType  key_type;
} CrashData;

/* In the child: take one unit, give three back, take one again, crash. */
static void
release_beyond_and_crash (gpointer data)
{
  CrashData *cd = data;
  SysemSemaphore *sem;

  sem = sysem_semaphore_new_full (cd->key, cd->key_type, 1, SYSEM_ACCESS_MODE_OPEN, NULL);
  if (sem == NULL ||
      !sysem_semaphore_acquire (sem, NULL, NULL) ||
      !sysem_semaphore_release (sem, 3, NULL) ||
      !sysem_semaphore_acquire (sem, NULL, NULL))
    _exit (1);
}

/* What a crash gives back: the acquires of the dead process, never its
 * releases (System V: the kernel's undo; POSIX: sysem's holder ledger). */
static void
test_crash_released_units_stay (SysemTestFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  CrashData cd = { fixture->key, fixture->key_type };

  sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);

  /* 1, then 0, 3 and 2 in the child. */
  run_and_crash (release_beyond_and_crash, &cd);

  /* The unit it held came back; the two it created stay. */
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 3);
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);
  g_assert_no_error (error);
}

/* In the child: create the semaphore with 2 units, take one, crash. */
static void
create_acquire_and_crash (gpointer data)
{
  CrashData *cd = data;
  SysemSemaphore *sem;

  sem = sysem_semaphore_new_full (cd->key, cd->key_type, 2, SYSEM_ACCESS_MODE_CREATE, NULL);
  if (sem == NULL || !sysem_semaphore_acquire (sem, NULL, NULL))
    _exit (1);
}

/* Every user crashed: nobody was left to remove the semaphore. */
static void
test_crash_all_users_killed (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, fixture->key_type);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  CrashData cd = { fixture->key, fixture->key_type };

  run_and_crash (create_acquire_and_crash, &cd);
  g_assert_true (sysem_test_path_exists (file));

  /* Open finds it as the crash left it, and never changes its count. */
  sem = sysem_test_fixture_open (fixture, 7, SYSEM_ACCESS_MODE_OPEN);

  {
    int semid = -1;
    key_t ipc_key = -1;

    /* The dead process's unit and its place in the user count were
     * undone (System V: by the kernel; POSIX: by the ledger, when this
     * process joined): we are the only user, and the last to leave
     * removes it. */
    g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 2);
    g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);
    if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
      sysem_test_sysv_ids (sem, &semid, &ipc_key);
    g_clear_object (&sem);
    g_assert_false (sysem_test_path_exists (file));
    if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
      g_assert_false (sysem_test_sysv_set_alive (semid, ipc_key));
  }
  g_assert_no_error (error);
}

/* In the child: hold a unit, see a release of it refused because the
 * count is full, then release it once there is room, and crash. */
static void
failed_release_then_crash (gpointer data)
{
  CrashData *cd = data;
  SysemSemaphore *sem;
  SysemStats stats;
  struct sembuf fill = { 0, 32767, 0 };
  struct sembuf take = { 0, -10, 0 };
  GError *error = NULL;

  sem = sysem_semaphore_new_full (cd->key, cd->key_type, 1, SYSEM_ACCESS_MODE_OPEN, NULL);
  if (sem == NULL ||
      !sysem_semaphore_acquire (sem, NULL, NULL) ||                /* 0 */
      !sysem_semaphore_get_stats (sem, &stats, NULL) ||
      semop (stats.id, &fill, 1) == -1)                            /* 32767, behind sysem */
    _exit (1);

  if (sysem_semaphore_release (sem, 1, &error) ||
      !g_error_matches (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES))
    _exit (2);
  g_clear_error (&error);

  if (semop (stats.id, &take, 1) == -1 ||                          /* 32757 */
      !sysem_semaphore_release (sem, 1, NULL))                     /* 32758 */
    _exit (3);
}

/* A refused release does not forget the units this process holds: the
 * one it gives back later cancels the kernel's undo entry, so the crash
 * that follows adds nothing. */
static void
test_crash_after_refused_release (SysemTestFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  CrashData cd = { fixture->key, SYSEM_KEY_TYPE_SYSTEM_V };

  sem = sysem_test_open (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);

  run_and_crash (failed_release_then_crash, &cd);

  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 32758);
  g_assert_no_error (error);
}

/* The key file replaced */

static char *
make_scratch_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("sysemtest-rel-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
test_key_file_replaced_before_open (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, fixture->key_type);
  g_autofree char *scratch = make_scratch_dir ();
  g_autofree char *target = g_build_filename (scratch, "target", NULL);
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_assert_true (g_file_set_contents (target, "precious", -1, &error));
  g_assert_no_error (error);

  /* A directory in its place. */
  g_assert_cmpint (mkdir (file, 0700), ==, 0);
  sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_OPEN,
                                SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_CREATE,
                                SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_assert_cmpint (lstat (file, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (rmdir (file), ==, 0);

  /* A symbolic link, to a file or to nothing. */
  for (int dangling = 0; dangling < 2; dangling++)
    {
      g_autofree char *contents = NULL;
      const char *to = dangling ? "/nonexistent/sysemtest" : target;

      g_assert_cmpint (symlink (to, file), ==, 0);
      sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_OPEN,
                                    SYSEM_SEMAPHORE_ERROR_KEY_ERROR);

      if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        {
          sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_CREATE,
                                        SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
          g_assert_cmpint (lstat (file, &st), ==, 0);
          g_assert_true (S_ISLNK (st.st_mode));
          g_assert_cmpint (unlink (file), ==, 0);
        }
      else
        {
          g_autoptr(SysemSemaphore) sem = NULL;

          /* Create replaces whatever has the name, as sem_unlink() then
           * sem_open() would: the link goes, never its target. */
          sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
          g_assert_cmpint (lstat (file, &st), ==, 0);
          g_assert_true (S_ISREG (st.st_mode));
          g_clear_object (&sem);
          g_assert_false (sysem_test_path_exists (file));
        }

      g_assert_true (g_file_get_contents (target, &contents, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (contents, ==, "precious");
    }

  /* A named pipe: opening it must not block. */
  g_assert_cmpint (mkfifo (file, 0600), ==, 0);
  sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_OPEN,
                                SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_assert_cmpint (unlink (file), ==, 0);

  if (fixture->key_type == SYSEM_KEY_TYPE_POSIX)
    {
      /* A regular file that is not a sem_t: an error, not SIGBUS. */
      g_assert_true (g_file_set_contents (file, "abc", 3, &error));
      g_assert_no_error (error);
      sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_OPEN,
                                    SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      g_assert_cmpint (unlink (file), ==, 0);
    }

  /* Deleted before opening: it is simply made again. */
  {
    g_autoptr(SysemSemaphore) sem = NULL;

    sem = sysem_test_fixture_open (fixture, 2, SYSEM_ACCESS_MODE_OPEN);
    g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 2);
  }
  g_assert_false (sysem_test_path_exists (file));

  g_assert_cmpint (unlink (target), ==, 0);
  g_assert_cmpint (rmdir (scratch), ==, 0);
}

typedef enum {
  REPLACE_DELETE,
  REPLACE_DIRECTORY,
  REPLACE_SYMLINK,
} Replacement;

/* System V, while open: the objects that have the set open keep it (they
 * hold the key file's descriptor and the set's id); a later opener sees
 * what is in the directory now. It refuses a directory or a link; in place
 * of a deleted file it makes a new one, and since ftok() depends on the
 * file's inode that new key file names its own set. Nobody deletes what
 * it did not make: the last user of the old set removes the set only. */
static void
test_key_file_replaced_while_open (gconstpointer data)
{
  Replacement replacement = GPOINTER_TO_INT (data);
  g_autofree char *key = sysem_test_key ("rel-replaced-open");
  g_autofree char *file = sysem_test_key_path (key, SYSEM_KEY_TYPE_SYSTEM_V);
  g_autofree char *scratch = make_scratch_dir ();
  g_autofree char *target = g_build_filename (scratch, "target", NULL);
  g_autoptr(SysemSemaphore) a = NULL;
  g_autoptr(SysemSemaphore) b = NULL;
  g_autoptr(GError) error = NULL;
  int semid_a, semid_b;
  key_t ipc_key_a, ipc_key_b;
  struct stat st;

  g_assert_true (g_file_set_contents (target, "precious", -1, &error));
  g_assert_no_error (error);

  a = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_sysv_ids (a, &semid_a, &ipc_key_a);

  g_assert_cmpint (unlink (file), ==, 0);
  if (replacement == REPLACE_DIRECTORY)
    g_assert_cmpint (mkdir (file, 0700), ==, 0);
  else if (replacement == REPLACE_SYMLINK)
    g_assert_cmpint (symlink (target, file), ==, 0);

  /* The object that has it open goes on working. */
  g_assert_true (sysem_semaphore_acquire (a, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sysem_semaphore_release (a, 1, &error));
  g_assert_cmpint (sysem_semaphore_get_value (a, &error), ==, 1);
  g_assert_no_error (error);

  if (replacement == REPLACE_DELETE)
    {
      b = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 5, SYSEM_ACCESS_MODE_OPEN);
      g_assert_true (sysem_test_path_exists (file));
      sysem_test_sysv_ids (b, &semid_b, &ipc_key_b);

      if (ipc_key_b != ipc_key_a)
        {
          /* Two semaphores now: a is not affected by b. */
          g_assert_cmpint (semid_b, !=, semid_a);
          g_assert_cmpint (sysem_semaphore_get_value (b, &error), ==, 5);
          g_assert_cmpint (sysem_semaphore_get_value (a, &error), ==, 1);
        }
      else
        {
          /* The file system gave the new file the old inode number (and
           * ftok's 16 bits of it): the same set again, as Qt would find. */
          g_assert_cmpint (semid_b, ==, semid_a);
          g_assert_cmpint (sysem_semaphore_get_value (b, &error), ==, 1);
        }
      g_assert_no_error (error);

      g_clear_object (&a);
      /* a's last user left: its set is gone unless b shares it; b's file
       * was not a's to delete. */
      g_assert_true (sysem_test_path_exists (file));
      g_assert_true (sysem_test_sysv_set_alive (semid_b, ipc_key_b));
      if (ipc_key_b != ipc_key_a)
        g_assert_false (sysem_test_sysv_set_alive (semid_a, ipc_key_a));

      g_clear_object (&b);
      g_assert_false (sysem_test_path_exists (file));
      g_assert_false (sysem_test_sysv_set_alive (semid_b, ipc_key_b));
    }
  else
    {
      sysem_test_assert_open_fails (key, SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_ACCESS_MODE_OPEN,
                                    SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      sysem_test_assert_open_fails (key, SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_ACCESS_MODE_CREATE,
                                    SYSEM_SEMAPHORE_ERROR_KEY_ERROR);

      g_clear_object (&a);
      g_assert_false (sysem_test_sysv_set_alive (semid_a, ipc_key_a));

      /* What stands in the directory is left alone. */
      g_assert_cmpint (lstat (file, &st), ==, 0);
      if (replacement == REPLACE_DIRECTORY)
        {
          g_assert_true (S_ISDIR (st.st_mode));
          g_assert_cmpint (rmdir (file), ==, 0);
        }
      else
        {
          g_autofree char *contents = NULL;

          g_assert_true (S_ISLNK (st.st_mode));
          g_assert_true (g_file_get_contents (target, &contents, NULL, &error));
          g_assert_cmpstr (contents, ==, "precious");
          g_assert_cmpint (unlink (file), ==, 0);
        }
    }

  g_assert_cmpint (unlink (target), ==, 0);
  g_assert_cmpint (rmdir (scratch), ==, 0);
}

/* POSIX, while open: the name in /dev/shm replaced by a directory. The
 * object keeps its mapping; remove() will not touch what is not its file. */
static void
test_posix_file_replaced_while_open (SysemTestFixture *fixture)
{
  g_autofree char *file = sysem_test_key_path (fixture->key, SYSEM_KEY_TYPE_POSIX);
  g_autoptr(SysemSemaphore) a = NULL;
  g_autoptr(GError) error = NULL;

  a = sysem_test_open (fixture->key, SYSEM_KEY_TYPE_POSIX, 1, SYSEM_ACCESS_MODE_CREATE);

  g_assert_cmpint (unlink (file), ==, 0);
  g_assert_cmpint (mkdir (file, 0700), ==, 0);

  /* A free unit is still taken from the object's own mapping... */
  g_assert_true (sysem_semaphore_acquire (a, NULL, &error));
  g_assert_no_error (error);
  /* ...but a wait finds the semaphore gone. */
  g_assert_false (sysem_semaphore_try_acquire (a, 100 * G_TIME_SPAN_MILLISECOND, NULL, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND,
                                     fixture->key);
  g_clear_error (&error);

  sysem_test_assert_open_fails (fixture->key, SYSEM_KEY_TYPE_POSIX, SYSEM_ACCESS_MODE_OPEN,
                                SYSEM_SEMAPHORE_ERROR_KEY_ERROR);

  g_assert_false (sysem_semaphore_remove (a, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND,
                                     fixture->key);
  g_clear_object (&a);

  g_assert_cmpint (rmdir (file), ==, 0);
}

/* The temporary directory */

/* In a subprocess: TMPDIR names a directory that does not exist. */
static void
test_tmpdir_missing (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *key = sysem_test_key ("rel-tmpdir");
      g_autoptr(SysemSemaphore) sem = NULL;
      g_autoptr(GError) error = NULL;

      g_setenv ("TMPDIR", "/nonexistent/sysemtest-rel", TRUE);
      sem = sysem_semaphore_new (key, 1, SYSEM_ACCESS_MODE_CREATE, &error);
      g_assert_null (sem);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_NOT_FOUND, key);
      g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
      g_clear_error (&error);

      /* POSIX semaphores do not live there. */
      sem = sysem_test_open (key, SYSEM_KEY_TYPE_POSIX, 1, SYSEM_ACCESS_MODE_CREATE);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
become_nobody (void)
{
  struct passwd *pw = getpwnam ("nobody");

  g_assert_nonnull (pw);
  g_assert_cmpint (setgroups (0, NULL), ==, 0);
  g_assert_cmpint (setgid (pw->pw_gid), ==, 0);
  g_assert_cmpint (setuid (pw->pw_uid), ==, 0);
  g_assert_cmpint (geteuid (), ==, pw->pw_uid);
}

static char *
unwritable_dir_name (pid_t pid)
{
  g_autofree char *name = g_strdup_printf ("sysemtest-rel-ro-%d", (int) pid);

  return g_build_filename (g_get_tmp_dir (), name, NULL);
}

/* In a subprocess running as nobody (or as the user running the tests, if
 * not root): TMPDIR is a directory of that user's with mode 0500. */
static void
test_tmpdir_unwritable (void)
{
  g_autofree char *key = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = NULL;

  if (g_test_subprocess ())
    {
      key = sysem_test_key ("rel-tmpdir-ro");
      dir = unwritable_dir_name (getppid ());

      /* Root may write anywhere. */
      if (geteuid () == 0)
        become_nobody ();
      g_setenv ("TMPDIR", dir, TRUE);
      sem = sysem_semaphore_new (key, 1, SYSEM_ACCESS_MODE_CREATE, &error);
      g_assert_null (sem);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED, key);
      return;
    }

  dir = unwritable_dir_name (getpid ());
  g_assert_cmpint (mkdir (dir, 0500), ==, 0);
  if (geteuid () == 0)
    {
      struct passwd *pw = getpwnam ("nobody");

      g_assert_nonnull (pw);
      g_assert_cmpint (chown (dir, pw->pw_uid, pw->pw_gid), ==, 0);
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();

  d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_assert_null (g_dir_read_name (d));
  g_assert_cmpint (rmdir (dir), ==, 0);
}

/* Another user's semaphore */

static void
test_other_user (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *key = g_strdup_printf ("sysemtest-rel-other-user-%d", (int) getppid ());

      become_nobody ();

      for (int t = 0; t < 2; t++)
        for (int m = 0; m < 2; m++)
          {
            SysemKeyType key_type = t == 0 ? SYSEM_KEY_TYPE_SYSTEM_V : SYSEM_KEY_TYPE_POSIX;
            SysemAccessMode mode = m == 0 ? SYSEM_ACCESS_MODE_OPEN : SYSEM_ACCESS_MODE_CREATE;

            sysem_test_assert_open_fails (key, key_type, mode,
                                          SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED);
          }
      return;
    }

  if (require_root ())
    {
      g_autofree char *key = g_strdup_printf ("sysemtest-rel-other-user-%d", (int) getpid ());
      g_autofree char *sysv_file = sysem_test_key_path (key, SYSEM_KEY_TYPE_SYSTEM_V);
      g_autofree char *posix_file = sysem_test_key_path (key, SYSEM_KEY_TYPE_POSIX);
      g_autoptr(SysemSemaphore) sysv = NULL;
      g_autoptr(SysemSemaphore) posix = NULL;
      g_autoptr(GError) error = NULL;
      int semid;
      key_t ipc_key;

      sysv = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 2, SYSEM_ACCESS_MODE_CREATE);
      posix = sysem_test_open (key, SYSEM_KEY_TYPE_POSIX, 2, SYSEM_ACCESS_MODE_CREATE);
      sysem_test_sysv_ids (sysv, &semid, &ipc_key);

      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();

      /* Nothing of root's was changed or removed. */
      g_assert_cmpint (sysem_semaphore_get_value (sysv, &error), ==, 2);
      g_assert_cmpint (sysem_semaphore_get_value (posix, &error), ==, 2);
      g_assert_no_error (error);
      g_assert_cmpint (sysem_test_stats (sysv).users, ==, 1);
      g_assert_true (sysem_test_path_exists (sysv_file));
      g_assert_true (sysem_test_path_exists (posix_file));

      g_clear_object (&sysv);
      g_clear_object (&posix);
      g_assert_false (sysem_test_path_exists (sysv_file));
      g_assert_false (sysem_test_path_exists (posix_file));
      g_assert_false (sysem_test_sysv_set_alive (semid, ipc_key));
    }
}

/* The kernel's limits */

static int
count_sysv_sets (void)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  int n = 0;

  g_assert_true (g_file_get_contents ("/proc/sysvipc/sem", &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (int i = 1; lines[i] != NULL; i++)
    if (*g_strstrip (lines[i]) != '\0')
      n++;

  return n;
}

static gboolean
write_proc_file (const char *path,
                 const char *contents)
{
  gsize len = strlen (contents);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  gboolean ok;

  if (fd == -1)
    return FALSE;
  ok = write (fd, contents, len) == (gssize) len;
  if (close (fd) == -1)
    ok = FALSE;

  return ok;
}

/* Moves the calling process into a new IPC namespace with these limits
 * ("SEMMSL SEMMNS SEMOPM SEMMNI"). Returns 0, or the errno of what failed:
 * a container may forbid namespaces or mount /proc/sys read-only. */
static int
enter_ipc_namespace (const char *limits)
{
  if (geteuid () == 0)
    {
      if (unshare (CLONE_NEWIPC) == -1)
        return errno;
    }
  else
    {
      /* Without root: in a user namespace of our own we are root enough
       * to set the limits of an IPC namespace it owns. */
      g_autofree char *uid_map = g_strdup_printf ("0 %u 1", (guint) geteuid ());
      g_autofree char *gid_map = g_strdup_printf ("0 %u 1", (guint) getegid ());

      if (unshare (CLONE_NEWUSER | CLONE_NEWIPC) == -1 ||
          !write_proc_file ("/proc/self/setgroups", "deny") ||
          !write_proc_file ("/proc/self/uid_map", uid_map) ||
          !write_proc_file ("/proc/self/gid_map", gid_map))
        return errno;
    }

  if (!write_proc_file ("/proc/sys/kernel/sem", limits))
    return errno;

  return 0;
}

/* Whether this machine lets us make an IPC namespace and set its limits:
 * tried in a child, which exits with the errno. */
static int
ipc_namespace_error (void)
{
  int status;
  pid_t pid, res;

  pid = fork ();
  g_assert_cmpint (pid, !=, -1);
  if (pid == 0)
    _exit (enter_ipc_namespace ("250 32000 32 128") & 0xff);

  do
    res = waitpid (pid, &status, 0);
  while (res == -1 && errno == EINTR);
  g_assert_cmpint (res, ==, pid);
  g_assert_true (WIFEXITED (status));

  return WEXITSTATUS (status);
}

/* In a subprocess, in an IPC namespace of its own: SEMMNI (sets) or SEMMNS
 * (semaphores) runs out. The failed open leaves no set and no key file. */
static void
test_kernel_limits (gconstpointer data)
{
  const char *limits = data;
  int errsv;

  if (g_test_subprocess ())
    {
      g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GPtrArray) sems = g_ptr_array_new_with_free_func (g_object_unref);
      g_autoptr(GError) error = NULL;
      int n_ok;

      g_assert_cmpint (enter_ipc_namespace (limits), ==, 0);
      g_assert_cmpint (count_sysv_sets (), ==, 0);

      for (;;)
        {
          char *key = sysem_test_key ("rel-limits");
          SysemSemaphore *sem;

          g_ptr_array_add (keys, key);
          sem = sysem_semaphore_new (key, 1, SYSEM_ACCESS_MODE_CREATE, &error);
          if (sem == NULL)
            break;
          g_ptr_array_add (sems, sem);
          g_assert_cmpuint (sems->len, <, 100);
        }

      n_ok = sems->len;
      g_assert_cmpint (n_ok, >=, 1);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES,
                                         keys->pdata[n_ok]);
      g_clear_error (&error);
      g_assert_cmpint (count_sysv_sets (), ==, n_ok);
      {
        g_autofree char *failed = sysem_test_key_path (keys->pdata[n_ok], SYSEM_KEY_TYPE_SYSTEM_V);

        g_assert_false (sysem_test_path_exists (failed));
      }

      /* The ones that were made still work, and a freed slot can be used. */
      g_assert_true (sysem_semaphore_acquire (sems->pdata[0], NULL, &error));
      g_assert_no_error (error);
      g_ptr_array_remove_index (sems, 0);
      {
        g_autoptr(SysemSemaphore) sem = NULL;

        sem = sysem_test_open (keys->pdata[n_ok], SYSEM_KEY_TYPE_SYSTEM_V, 1,
                               SYSEM_ACCESS_MODE_CREATE);
      }

      g_ptr_array_set_size (sems, 0);
      g_assert_cmpint (count_sysv_sets (), ==, 0);
      for (guint i = 0; i < keys->len; i++)
        {
          g_autofree char *file = sysem_test_key_path (keys->pdata[i], SYSEM_KEY_TYPE_SYSTEM_V);

          g_assert_false (sysem_test_path_exists (file));
        }
      return;
    }

  errsv = ipc_namespace_error ();
  if (errsv != 0)
    {
      g_autofree char *why = g_strdup_printf ("cannot make an IPC namespace and set its "
                                              "limits here: %s", g_strerror (errsv));

      g_test_skip (why);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* In a subprocess: no descriptor left (EMFILE). */
static void
test_out_of_descriptors (SysemTestFixture *fixture)
{
  if (g_test_subprocess ())
    {
      g_autofree char *key = sysem_test_key ("rel-emfile");
      g_autofree char *file = sysem_test_key_path (key, fixture->key_type);
      g_autoptr(SysemSemaphore) sem = NULL;
      g_autoptr(GError) error = NULL;
      struct rlimit rl;
      int fd;

      /* Allow no descriptor beyond the lowest free one, and take it. */
      g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
      fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      g_assert_cmpint (fd, >=, 0);
      rl.rlim_cur = fd + 1;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
      g_assert_cmpint (open ("/dev/null", O_RDONLY | O_CLOEXEC), ==, -1);
      g_assert_cmpint (errno, ==, EMFILE);

      sem = sysem_semaphore_new_full (key, fixture->key_type, 1, SYSEM_ACCESS_MODE_CREATE, &error);
      g_assert_null (sem);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, key);
      g_assert_false (sysem_test_path_exists (file));
      close (fd);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* Signal storms */

static gint n_signals_handled;

static void
sigusr1_handler (int signum)
{
  g_atomic_int_inc (&n_signals_handled);
}

typedef struct {
  SysemSemaphore *sem;
  char           *key;
  SysemKeyType    key_type;
  int             rounds;
  gint            acquired;
  gint            done;
  pthread_t       thread;
  GError         *error;
} Storm;

static gpointer
storm_acquirer (gpointer data)
{
  Storm *storm = data;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  storm->thread = pthread_self ();
  g_atomic_int_set (&storm->done, -1);   /* running */

  for (int i = 0; i < storm->rounds && storm->error == NULL; i++)
    {
      gboolean ok;

      switch (i % 4)
        {
        case 0:
          ok = sysem_semaphore_acquire (storm->sem, NULL, &storm->error);
          break;
        case 1:
          ok = sysem_semaphore_acquire (storm->sem, cancellable, &storm->error);
          break;
        case 2:
          ok = sysem_semaphore_try_acquire (storm->sem, -1, NULL, &storm->error);
          break;
        default:
          ok = sysem_semaphore_try_acquire (storm->sem, 600 * G_USEC_PER_SEC, cancellable,
                                            &storm->error);
          break;
        }

      if (!ok && storm->error == NULL)
        g_set_error (&storm->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "round %d timed out", i);
      if (!ok)
        break;
      g_atomic_int_inc (&storm->acquired);

      /* Opening and leaving (flock on the key file) under the storm too. */
      if (i % 50 == 0)
        {
          g_autoptr(SysemSemaphore) other = NULL;

          other = sysem_semaphore_new_full (storm->key, storm->key_type, 0,
                                            SYSEM_ACCESS_MODE_OPEN, &storm->error);
        }
    }

  /* A timed wait that nobody satisfies still ends as a timeout, not as an
   * error, however often it is interrupted. */
  if (storm->error == NULL)
    {
      if (sysem_semaphore_try_acquire (storm->sem, 30 * G_TIME_SPAN_MILLISECOND, NULL, &storm->error))
        g_set_error (&storm->error, G_IO_ERROR, G_IO_ERROR_FAILED, "got a unit nobody released");
      else if (g_error_matches (storm->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_clear_error (&storm->error);
    }

  g_atomic_int_set (&storm->done, 1);
  return NULL;
}

static void
test_eintr_storm (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  struct sigaction sa, old_sa;
  GThread *thread;
  Storm storm;
  int released = 0;
  guint sent = 0;

  memset (&storm, 0, sizeof storm);
  storm.key = sysem_test_key ("rel-eintr");
  storm.key_type = fixture->key_type;
  storm.rounds = sysem_test_under_valgrind () ? 200 : 2000;
  storm.sem = sysem_test_open (storm.key, fixture->key_type, 0, SYSEM_ACCESS_MODE_CREATE);

  /* A handled signal without SA_RESTART: every blocking call it lands in
   * returns EINTR. */
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = sigusr1_handler;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0;
  g_assert_cmpint (sigaction (SIGUSR1, &sa, &old_sa), ==, 0);
  g_atomic_int_set (&n_signals_handled, 0);

  thread = g_thread_new ("storm", storm_acquirer, &storm);
  while (g_atomic_int_get (&storm.done) == 0)
    g_thread_yield ();

  /* Signals all the time; a unit now and then, once the acquirer has
   * taken the previous one (so it blocks in between). */
  while (g_atomic_int_get (&storm.done) != 1)
    {
      for (int i = 0; i < 8; i++, sent++)
        pthread_kill (storm.thread, SIGUSR1);

      if (released < storm.rounds && g_atomic_int_get (&storm.acquired) == released)
        {
          g_assert_true (sysem_semaphore_release (storm.sem, 1, &error));
          g_assert_no_error (error);
          released++;
        }
      g_thread_yield ();
    }
  g_thread_join (thread);

  g_test_message ("%u signals sent, %d handled", sent, g_atomic_int_get (&n_signals_handled));
  g_assert_no_error (storm.error);
  g_assert_cmpint (storm.acquired, ==, storm.rounds);
  g_assert_cmpint (g_atomic_int_get (&n_signals_handled), >, 0);
  g_assert_cmpint (sysem_semaphore_get_value (storm.sem, &error), ==, 0);
  g_assert_no_error (error);

  g_assert_cmpint (sigaction (SIGUSR1, &old_sa, NULL), ==, 0);
  g_clear_object (&storm.sem);
  g_free (storm.key);
}

/* membarrier() failing with ENOMEM (the kernel allocates a CPU mask for
 * it) while cancels pass it: each cancel waits until it goes through,
 * and every acquire still ends cancelled. Before 1.1.0 the process
 * aborted. The failures are injected by strace into a helper. */
static void
test_membarrier_out_of_memory (SysemTestFixture *fixture)
{
  g_autofree char *dir = g_dir_make_tmp ("sysem-test-XXXXXX", NULL);
  g_autofree char *log = g_build_filename (dir, "strace.log", NULL);
  g_autofree char *out = NULL;
  g_autofree char *trace = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  const char *asan = g_environ_getenv (envp, "ASAN_OPTIONS");
  g_autofree char *no_leaks = g_strconcat (asan != NULL ? asan : "", asan != NULL ? ":" : "",
                                           "detect_leaks=0", NULL);
  const char *head[] = {
    STRACE, "-f", "-qq", "-o", log, "-e", "trace=membarrier",
    "-e", "inject=membarrier:error=ENOMEM:when=3..12", sysem_test_helper_path (),
  };
  guint injected = 0;
  int status;

  if (STRACE[0] == '\0')
    {
      g_test_skip ("strace is not installed");
      rmdir (dir);
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  if (fixture->key_type == SYSEM_KEY_TYPE_POSIX)
    g_ptr_array_add (argv, (gpointer) "--posix");
  g_ptr_array_add (argv, (gpointer) "--create");
  g_ptr_array_add (argv, fixture->key);
  g_ptr_array_add (argv, (gpointer) "cancel");
  g_ptr_array_add (argv, (gpointer) "40");
  g_ptr_array_add (argv, NULL);

  /* LeakSanitizer cannot run under ptrace: an ASan build's helper would
   * fail at its exit. */
  envp = g_environ_setenv (envp, "ASAN_OPTIONS", no_leaks, TRUE);

  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT,
                               NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "opened\ncancelled\n");
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);

  /* The injection reached the cancels' barriers. */
  g_assert_true (g_file_get_contents (log, &trace, NULL, NULL));
  for (const char *p = trace; (p = strstr (p, "MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) = -1 ENOMEM")) != NULL; p++)
    injected++;
  g_test_message ("%u membarrier () calls failed with ENOMEM", injected);
  g_assert_cmpuint (injected, >, 0);

  g_assert_cmpint (unlink (log), ==, 0);
  g_assert_cmpint (rmdir (dir), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/reliability/faults/removed-under-waiters/{sysv}/remove",
                             test_removed_under_waiters_remove);
  sysem_test_add_both_types ("/reliability/faults/removed-under-waiters/{sysv}/external",
                             test_removed_under_waiters_external);
  sysem_test_add_both_types ("/reliability/faults/removed-only-user/{sysv}",
                             test_removed_only_user);

  sysem_test_add_both_types ("/reliability/faults/crash/released-units-stay/{sysv}",
                             test_crash_released_units_stay);
  sysem_test_add_both_types ("/reliability/faults/crash/all-users-killed/{sysv}",
                             test_crash_all_users_killed);
  sysem_test_add ("/reliability/faults/crash/after-refused-release/sysv",
                  SYSEM_KEY_TYPE_SYSTEM_V, test_crash_after_refused_release);

  sysem_test_add_both_types ("/reliability/faults/key-file/before-open/{sysv}",
                             test_key_file_replaced_before_open);
  g_test_add_data_func ("/reliability/faults/key-file/while-open/deleted",
                        GINT_TO_POINTER (REPLACE_DELETE), test_key_file_replaced_while_open);
  g_test_add_data_func ("/reliability/faults/key-file/while-open/directory",
                        GINT_TO_POINTER (REPLACE_DIRECTORY), test_key_file_replaced_while_open);
  g_test_add_data_func ("/reliability/faults/key-file/while-open/symlink",
                        GINT_TO_POINTER (REPLACE_SYMLINK), test_key_file_replaced_while_open);
  sysem_test_add ("/reliability/faults/key-file/while-open/posix-directory",
                  SYSEM_KEY_TYPE_POSIX, test_posix_file_replaced_while_open);

  g_test_add_func ("/reliability/faults/tmpdir/missing", test_tmpdir_missing);
  g_test_add_func ("/reliability/faults/tmpdir/unwritable", test_tmpdir_unwritable);
  g_test_add_func ("/reliability/faults/other-user", test_other_user);

  g_test_add_data_func ("/reliability/faults/limits/semmni", "250 32000 32 3",
                        test_kernel_limits);
  g_test_add_data_func ("/reliability/faults/limits/semmns", "250 5 32 32000",
                        test_kernel_limits);
  sysem_test_add_both_types ("/reliability/faults/limits/emfile/{sysv}",
                             test_out_of_descriptors);

  sysem_test_add_both_types ("/reliability/faults/eintr-storm/{sysv}", test_eintr_storm);
  sysem_test_add_both_types ("/reliability/faults/membarrier-enomem/{sysv}",
                             test_membarrier_out_of_memory);

  return g_test_run ();
}
