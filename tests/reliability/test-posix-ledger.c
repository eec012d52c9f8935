/* test-posix-ledger.c: the holder ledger of POSIX semaphores (issue 14)
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real processes on real /dev/shm files: a holder whose pid was taken by
 * another process, a SIGKILL storm counted exactly, the last user after
 * crashes, and files that are not semaphores.
 */

#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>

#include "sysem-test-util.h"
#include "sysem-key-private.h"
#include "sysem-posix-ledger.h"

static char *
ledger_path (const char *key)
{
  g_autofree char *native = NULL;

  g_assert_true (sysem_inspect_key_derive (key, SYSEM_KEY_TYPE_POSIX, &native, NULL));
  return sysem_key_posix_path (native);
}

/* What `sysem info` says of @key. */
static SysemInfo *
ledger_info (const char *key)
{
  g_autofree char *native = NULL;
  g_autoptr(GError) error = NULL;
  SysemInfo *info;

  g_assert_true (sysem_inspect_key_derive (key, SYSEM_KEY_TYPE_POSIX, &native, &error));
  info = sysem_inspect_native (SYSEM_KEY_TYPE_POSIX, native, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);
  return info;
}

static SysemLedgerFile *
ledger_map (const char *path)
{
  int fd = open (path, O_RDWR | O_CLOEXEC);
  SysemLedgerFile *file;

  g_assert_cmpint (fd, >=, 0);
  file = mmap (NULL, SYSEM_LEDGER_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_assert_true (file != MAP_FAILED);
  close (fd);
  return file;
}

static SysemSemaphore *
posix_open (const char *key,
            int         value,
            SysemAccessMode mode)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, value, mode, &error);

  g_assert_no_error (error);
  return sem;
}

/* A process that opens @key (Open, @value if it makes it), takes @units
 * and is killed holding them. Returns its pid, reaped; a child that could
 * not open or take says why and fails the test. */
static pid_t
kill_holder (const char *key,
             int         value,
             int         units)
{
  int status;
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      GError *child_error = NULL;
      SysemSemaphore *child = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, value,
                                                        SYSEM_ACCESS_MODE_OPEN, &child_error);

      for (int i = 0; child != NULL && i < units; i++)
        if (!sysem_semaphore_acquire (child, NULL, &child_error))
          break;
      if (child_error != NULL)
        {
          g_printerr ("holder %d: %s\n", (int) getpid (), child_error->message);
          _exit (1);
        }
      raise (SIGKILL);
      _exit (2);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  return pid;
}

/* A dead holder whose pid now belongs to a live process (ours) is still
 * known dead: the start time does not match. */
static void
test_pid_reuse (void)
{
  g_autofree char *key = sysem_test_key ("ledger-pid-reuse");
  g_autofree char *path = ledger_path (key);
  g_autoptr(SysemSemaphore) sem = posix_open (key, 5, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  SysemLedgerFile *file = ledger_map (path);
  SysemLedgerSlot *slot = &file->slots[SYSEM_LEDGER_N_SLOTS - 1];

  /* What a process with our pid but another start time left: 2 units
   * taken from the count, held in its slot. */
  g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
  slot->pid = getpid ();
  slot->start = 1;
  slot->flags = SYSEM_SLOT_USER;
  slot->acct = 2;
  __atomic_store_n (&slot->state, SYSEM_SLOT_USED, __ATOMIC_RELEASE);
  /* Our own two units now count as the other process's: give our slot's
   * record back to zero so the totals stay whole. */
  file->slots[0].acct &= ~(guint64) G_MAXUINT32;

  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 5);
  g_assert_no_error (error);
  g_assert_cmpint (slot->state, ==, SYSEM_SLOT_FREE);

  /* A live pid with the right start time is left alone. */
  munmap (file, SYSEM_LEDGER_FILE_SIZE);
}

/* A holder SIGKILLed at random moments: every unit comes back. */
static void
test_kill_storm (void)
{
  g_autofree char *key = sysem_test_key ("ledger-storm");
  g_autoptr(SysemSemaphore) sem = posix_open (key, 3, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  int kills = sysem_test_under_valgrind () ? 20 : 300;

  for (int k = 0; k < kills; k++)
    {
      int pipefd[2];
      char c;
      pid_t pid;

      g_assert_cmpint (pipe (pipefd), ==, 0);
      pid = fork ();
      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          GError *child_error = NULL;
          SysemSemaphore *child = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 3,
                                                            SYSEM_ACCESS_MODE_OPEN, &child_error);

          close (pipefd[0]);
          if (child == NULL)
            {
              /* Said on standard error: the parent's read fails next. */
              g_printerr ("kill-storm round %d: %s\n", k, child_error->message);
              _exit (1);
            }
          if (write (pipefd[1], "r", 1) != 1)
            _exit (1);
          for (guint i = 0;; i++)
            {
              if (i % 3 == 0)
                {
                  if (sysem_semaphore_try_acquire (child, 1000, NULL, NULL))
                    sysem_semaphore_release (child, 1, NULL);
                }
              else if (sysem_semaphore_acquire (child, NULL, NULL))
                {
                  if (i % 5 == 0)
                    {
                      if (sysem_semaphore_acquire (child, NULL, NULL))
                        sysem_semaphore_release (child, 2, NULL);
                    }
                  else
                    sysem_semaphore_release (child, 1, NULL);
                }
            }
        }
      close (pipefd[1]);
      g_assert_cmpint (read (pipefd[0], &c, 1), ==, 1);
      close (pipefd[0]);
      /* Let it run a random while, then kill it wherever it is. */
      for (int spin = g_test_rand_int_range (0, 200000); spin > 0; spin--)
        __asm__ __volatile__ ("" ::: "memory");
      g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
      g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);
    }

  /* Exactly the initial count. */
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 3);
  g_assert_no_error (error);
  g_test_message ("%d kills, value back at 3", kills);
}

/* More children of a user than the ledger has slots, one after another,
 * each opening the key its parent has open and dying without a slow
 * path: each open gives the dead ones' slots back. Before 1.1.0 such an
 * open (a fork child's first use of an inherited record) did not, and
 * the child after the 253rd failed with "no room" (the kill storm above
 * met it on a loaded machine). */
static void
test_dead_children_free_slots (void)
{
  g_autofree char *key = sysem_test_key ("ledger-children");
  g_autoptr(SysemSemaphore) sem = posix_open (key, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  /* Past the number of slots, but under valgrind (slow forks). */
  int rounds = sysem_test_under_valgrind () ? 30 : (int) SYSEM_LEDGER_N_SLOTS + 20;

  for (int k = 0; k < rounds; k++)
    kill_holder (key, 1, 0);

  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 1);
  g_assert_no_error (error);
}

/* Every user crashed while holding units: the next one gets the units
 * back and, as the last user, removes the name. */
static void
test_last_user_after_crashes (void)
{
  g_autofree char *key = sysem_test_key ("ledger-last");
  g_autofree char *path = ledger_path (key);
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;

  for (int i = 0; i < 3; i++)
    kill_holder (key, 4, 1);
  g_assert_cmpint (access (path, F_OK), ==, 0);

  sem = posix_open (key, 9, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 4);
  g_assert_no_error (error);
  g_object_unref (sem);
  g_assert_cmpint (access (path, F_OK), ==, -1);
}

/* Removal is seen by every kind of wait. */
static gpointer
wait_thread (gpointer data)
{
  SysemSemaphore *sem = data;
  GError *error = NULL;

  g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
  return error;
}

static void
test_removed_under_waits (void)
{
  g_autofree char *key = sysem_test_key ("ledger-removed");
  g_autoptr(SysemSemaphore) owner = posix_open (key, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) waiter = posix_open (key, 0, SYSEM_ACCESS_MODE_OPEN);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GThread *plain = g_thread_new ("plain", wait_thread, waiter);
  GError *plain_error;

  /* The plain waiter sleeps in the kernel: wait for its count. */
  while (TRUE)
    {
      SysemStats stats;

      g_assert_true (sysem_semaphore_get_stats (owner, &stats, NULL));
      if (stats.waiters >= 1)
        break;
      g_thread_yield ();
    }

  g_assert_true (sysem_semaphore_remove (owner, &error));
  g_assert_no_error (error);

  plain_error = g_thread_join (plain);
  g_assert_error (plain_error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&plain_error);

  /* Timed, cancellable, zero-length and release: all NOT_FOUND. */
  g_assert_false (sysem_semaphore_try_acquire (waiter, G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_try_acquire (waiter, 0, cancellable, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_release (waiter, 1, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
}

/* Files that are not semaphores: errors naming the key, no SIGBUS. */
static void
assert_open_error (const char *key,
                   int         code)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 1,
                                                  SYSEM_ACCESS_MODE_OPEN, &error);

  g_assert_null (sem);
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
}

static void
test_hostile_files (void)
{
  g_autofree char *key = sysem_test_key ("ledger-hostile");
  g_autofree char *path = ledger_path (key);
  g_autoptr(GError) error = NULL;
  SysemLedgerFile *file;
  SysemSemaphore *sem;

  /* A value past SEM_VALUE_MAX. */
  sem = posix_open (key, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_true (sysem_semaphore_keep (sem, &error));
  g_object_unref (sem);
  file = ledger_map (path);
  file->sem.data = G_MAXUINT32;
  assert_open_error (key, SYSEM_SEMAPHORE_ERROR_UNKNOWN);

  /* A garbage ledger. */
  file->sem.data = 1;
  memset (&file->slots[3], 0xa5, sizeof file->slots[3]);
  assert_open_error (key, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);

  /* Another layout version. */
  memset (&file->slots[3], 0, sizeof file->slots[3]);
  file->hdr.version = 99;
  assert_open_error (key, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  munmap (file, SYSEM_LEDGER_FILE_SIZE);

  /* The wrong size. */
  g_assert_cmpint (truncate (path, 100), ==, 0);
  assert_open_error (key, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_assert_cmpint (unlink (path), ==, 0);
}

/* Every call of an open object on a file that changed under it fails with
 * an error naming the key: never SIGBUS, a wrap or a silent -1. */
static void
assert_calls_fail (SysemSemaphore *sem,
                   const char     *key,
                   int             code)
{
  g_autoptr(GError) error = NULL;

  /* The first slow-path call looks (a fast take of a free unit may come
   * before it); nothing succeeds after it. */
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
  g_clear_error (&error);

  for (int i = 0; i < 5; i++)
    {
      g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
      g_clear_error (&error);
    }
  g_assert_false (sysem_semaphore_try_acquire (sem, 1000, NULL, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_release (sem, 1, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_release (sem, 10, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
  g_clear_error (&error);
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
}

/* The file truncated while mapped, to nothing and to part of its first
 * page: no SIGBUS, an error naming the key. */
static void
test_truncated_while_mapped (void)
{
  static const off_t sizes[] = { 0, 100, 4096 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *key = sysem_test_key ("ledger-truncated");
      g_autofree char *path = ledger_path (key);
      g_autoptr(SysemSemaphore) sem = posix_open (key, 3, SYSEM_ACCESS_MODE_CREATE);
      g_autoptr(SysemSemaphore) other = posix_open (key, 3, SYSEM_ACCESS_MODE_OPEN);

      sysem_test_acquire (sem);
      g_assert_cmpint (truncate (path, sizes[i]), ==, 0);
      assert_calls_fail (sem, key, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      assert_calls_fail (other, key, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      /* The last user leaves what is no semaphore any more as it is. */
      g_clear_object (&sem);
      g_clear_object (&other);
      g_assert_true (sysem_test_path_exists (path));
      g_assert_cmpint (unlink (path), ==, 0);
    }
}

/* The file replaced by another one under the name: NOT_FOUND. */
static void
test_replaced_while_mapped (void)
{
  g_autofree char *key = sysem_test_key ("ledger-replaced");
  g_autofree char *path = ledger_path (key);
  g_autofree char *tmp = g_strconcat (path, ".new", NULL);
  g_autoptr(SysemSemaphore) sem = posix_open (key, 3, SYSEM_ACCESS_MODE_CREATE);
  int fd;

  fd = open (tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, SYSEM_LEDGER_FILE_SIZE), ==, 0);
  close (fd);
  g_assert_cmpint (rename (tmp, path), ==, 0);

  assert_calls_fail (sem, key, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_assert_cmpint (unlink (path), ==, 0);
}

/* A value word past SEM_VALUE_MAX written while the object is open. */
static void
test_bad_value_while_open (void)
{
  g_autofree char *key = sysem_test_key ("ledger-bad-value");
  g_autofree char *path = ledger_path (key);
  g_autoptr(SysemSemaphore) sem = posix_open (key, 3, SYSEM_ACCESS_MODE_CREATE);
  SysemLedgerFile *file = ledger_map (path);

  __atomic_store_n (&file->sem.data, (guint64) G_MAXUINT32, __ATOMIC_SEQ_CST);
  assert_calls_fail (sem, key, SYSEM_SEMAPHORE_ERROR_UNKNOWN);
  g_assert_cmpuint (file->sem.data, ==, G_MAXUINT32);
  __atomic_store_n (&file->sem.data, (guint64) 3, __ATOMIC_SEQ_CST);
  munmap (file, SYSEM_LEDGER_FILE_SIZE);
}

/* A dead holder's units are not given back into a value no semaphore
 * has: its slot stays until the value is sane again, and then they come
 * back. */
static void
test_bad_value_dead_holder (void)
{
  g_autofree char *key = sysem_test_key ("ledger-bad-value-dead");
  g_autofree char *native = NULL;
  g_autofree char *path = ledger_path (key);
  g_autoptr(SysemSemaphore) sem = posix_open (key, 2, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) other = NULL;
  g_autoptr(GError) error = NULL;
  SysemLedgerFile *file = ledger_map (path);
  SysemInfo *info;

  kill_holder (key, 2, 1);
  g_assert_cmpuint ((guint32) file->sem.data, ==, 1);

  /* Inspection and a new object's open recover dead holders: here they
   * must leave this one, and say what is wrong. */
  __atomic_store_n (&file->sem.data, (guint64) G_MAXUINT32, __ATOMIC_SEQ_CST);
  g_assert_true (sysem_inspect_key_derive (key, SYSEM_KEY_TYPE_POSIX, &native, &error));
  info = sysem_inspect_native (SYSEM_KEY_TYPE_POSIX, native, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->state, ==, SYSEM_INSPECT_NOT_A_SEMAPHORE);
  sysem_info_free (info);
  other = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 2, SYSEM_ACCESS_MODE_OPEN, &error);
  if (other != NULL)
    {
      g_assert_no_error (error);
      g_assert_cmpint (sysem_semaphore_get_value (other, &error), ==, -1);
    }
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_UNKNOWN, key);
  g_clear_error (&error);
  g_clear_object (&other);
  g_assert_cmpuint (file->sem.data, ==, G_MAXUINT32);

  /* So must the last user's close, which leaves the file as it is. */
  g_clear_object (&sem);
  g_assert_true (sysem_test_path_exists (path));
  g_assert_cmpuint (file->sem.data, ==, G_MAXUINT32);

  __atomic_store_n (&file->sem.data, (guint64) 1, __ATOMIC_SEQ_CST);
  sem = posix_open (key, 2, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  munmap (file, SYSEM_LEDGER_FILE_SIZE);
}

/* 10,000 objects on distinct keys under the usual limit of 1024 open
 * descriptors: no descriptor is kept per object. */
static void
test_many_objects (void)
{
  int n = sysem_test_under_valgrind () ? 1500 : 10000;
  g_autoptr(GPtrArray) sems = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  struct rlimit old, lim;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &old), ==, 0);
  lim = old;
  lim.rlim_cur = 1024;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &lim), ==, 0);

  for (int i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      char *key = sysem_test_key ("ledger-many");
      SysemSemaphore *sem = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 1,
                                                      SYSEM_ACCESS_MODE_CREATE, &error);

      if (sem == NULL)
        g_error ("object %d: %s", i, error->message);
      g_ptr_array_add (keys, key);
      g_ptr_array_add (sems, sem);
    }

  /* Each one works, and removal is still noticed. */
  for (guint i = 0; i < sems->len; i += 997)
    {
      SysemSemaphore *sem = g_ptr_array_index (sems, i);

      sysem_test_acquire (sem);
      sysem_test_assert_value (sem, 0);
      sysem_test_release (sem, 1);
    }
  {
    g_autofree char *path = ledger_path (g_ptr_array_index (keys, 1));

    g_assert_cmpint (unlink (path), ==, 0);
    sysem_test_assert_removed (g_ptr_array_index (sems, 1));
  }

  g_ptr_array_set_size (sems, 0);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &old), ==, 0);
  for (guint i = 0; i < keys->len; i++)
    sysem_test_assert_key_clean (g_ptr_array_index (keys, i), SYSEM_KEY_TYPE_POSIX);
}

/* Waits without slices (issue 15) */

static int
watcher_tid (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", name);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "sysem-watch"))
        return atoi (name);
    }
  return -1;
}

/* A blocked waiter sleeps until something happens: no slices. The
 * watcher looks at most once a second while it waits. Wakeups are
 * counted over a window of observation, not timed. */
static void
test_wait_no_wakeups (void)
{
  g_autofree char *key = sysem_test_key ("ledger-no-wakeups");
  g_autoptr(SysemSemaphore) sem = posix_open (key, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  SysemTestWaiter *plain = sysem_test_waiter_start (sem, NULL, -1);
  SysemTestWaiter *cancellable_one = sysem_test_waiter_start (sem, cancellable, -1);
  g_autoptr(GError) error = NULL;
  guint64 before1, before2, before_w, after1, after2, after_w;
  gint64 start, elapsed;
  int wtid, tid1, tid2;

  /* Announced as waiting is not yet asleep: the switch into the sleep
   * must not fall in the window. */
  sysem_test_waiter_wait_asleep (plain);
  sysem_test_waiter_wait_asleep (cancellable_one);
  tid1 = sysem_test_waiter_get_tid (plain);
  tid2 = sysem_test_waiter_get_tid (cancellable_one);

  wtid = watcher_tid ();
  g_assert_cmpint (wtid, >, 0);
  start = g_get_monotonic_time ();
  before1 = sysem_test_thread_switches (tid1);
  before2 = sysem_test_thread_switches (tid2);
  before_w = sysem_test_thread_switches (wtid);
  g_usleep (1500 * G_TIME_SPAN_MILLISECOND);   /* the window observed */
  after1 = sysem_test_thread_switches (tid1);
  after2 = sysem_test_thread_switches (tid2);
  after_w = sysem_test_thread_switches (wtid);
  elapsed = g_get_monotonic_time () - start;

  g_test_message ("in %.2f s: waiter %" G_GUINT64_FORMAT ", cancellable waiter %" G_GUINT64_FORMAT
                  ", watcher %" G_GUINT64_FORMAT " wakeups",
                  elapsed / 1e6, after1 - before1, after2 - before2, after_w - before_w);
  g_assert_cmpuint (after1 - before1, ==, 0);
  g_assert_cmpuint (after2 - before2, ==, 0);
  g_assert_cmpuint (after_w - before_w, <=, (guint64) (elapsed / G_USEC_PER_SEC) + 1);

  /* A cancel wakes the cancelled one, which takes nothing. */
  g_cancellable_cancel (cancellable);
  g_assert_false (sysem_test_waiter_join (cancellable_one, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  sysem_test_release (sem, 1);
  sysem_test_waiter_join_acquired (plain);
  sysem_test_assert_value (sem, 0);
}

/* A glibc sem_post() on the file (what Qt does) wakes a sysem waiter,
 * with and without a deadline and a cancellable. */
static void
test_wait_woken_by_glibc_post (void)
{
  for (int kind = 0; kind < 3; kind++)
    {
      g_autofree char *key = sysem_test_key ("ledger-glibc-post");
      g_autofree char *path = ledger_path (key);
      g_autoptr(SysemSemaphore) sem = posix_open (key, 0, SYSEM_ACCESS_MODE_CREATE);
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      SysemLedgerFile *file = ledger_map (path);
      SysemTestWaiter *w = sysem_test_waiter_start (sem, kind == 2 ? cancellable : NULL,
                                                    kind == 0 ? -1 : (gint64) 3600 * G_USEC_PER_SEC);

      g_assert_cmpint (sem_post ((sem_t *) (gpointer) &file->sem), ==, 0);
      sysem_test_waiter_join_acquired (w);
      sysem_test_assert_value (sem, 0);
      munmap (file, SYSEM_LEDGER_FILE_SIZE);
    }
}

/* Another process unlinks the name (rm, RemoveIPC) or cuts the file short
 * while a thread sleeps on it: the sleeper fails with an error naming the
 * key, NOT_FOUND or KEY_ERROR, woken by the watcher (which gives a file
 * cut short its size back so that the sleeper can be woken at all). */
static void
wait_while_other_process (const char *tag,
                          gboolean    truncate_it)
{
  g_autofree char *key = sysem_test_key (tag);
  g_autofree char *path = ledger_path (key);
  g_autoptr(SysemSemaphore) sem = posix_open (key, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemTestWaiter *w = sysem_test_waiter_start (sem, NULL, -1);
  g_autoptr(GError) error = NULL;
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit ((truncate_it ? truncate (path, 0) : unlink (path)) == 0 ? 0 : 1);
  g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);

  g_assert_false (sysem_test_waiter_join (w, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                     truncate_it ? SYSEM_SEMAPHORE_ERROR_KEY_ERROR
                                                 : SYSEM_SEMAPHORE_ERROR_NOT_FOUND, key);
  if (truncate_it)
    g_assert_cmpint (unlink (path), ==, 0);
}

static void
test_wait_unlinked_by_other (void)
{
  wait_while_other_process ("ledger-wait-unlinked", FALSE);
}

static void
test_wait_truncated_by_other (void)
{
  wait_while_other_process ("ledger-wait-truncated", TRUE);
}

/* A cancel or a remove() at any moment of a wait, before or after the
 * waiter sleeps: the waiter always ends (a lost wake would hang it here),
 * with CANCELLED or NOT_FOUND, and takes nothing. Looped to hit every
 * window. */
static void
test_wait_cancel_and_remove_race (void)
{
  int rounds = sysem_test_under_valgrind () ? 30 : 400;
  g_autofree char *key = sysem_test_key ("ledger-cancel-race");
  g_autoptr(SysemSemaphore) sem = posix_open (key, 0, SYSEM_ACCESS_MODE_CREATE);

  for (int i = 0; i < rounds; i++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      gint64 timeout = i % 2 == 0 ? -1 : (gint64) 3600 * G_USEC_PER_SEC;
      SysemTestWaiter *w = i % 3 == 0 ? sysem_test_waiter_start (sem, cancellable, timeout)
                                      : sysem_test_waiter_spawn (sem, cancellable, timeout);
      g_autoptr(GError) error = NULL;

      for (int spin = g_test_rand_int_range (0, 200000); spin > 0; spin--)
        __asm__ __volatile__ ("" ::: "memory");
      g_cancellable_cancel (cancellable);
      g_assert_false (sysem_test_waiter_join (w, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    }
  sysem_test_assert_value (sem, 0);
  g_assert_cmpint (sysem_test_stats (sem).waiters, ==, 0);

  for (int i = 0; i < rounds / 4; i++)
    {
      g_autofree char *rkey = sysem_test_key ("ledger-remove-race");
      g_autoptr(SysemSemaphore) owner = posix_open (rkey, 0, SYSEM_ACCESS_MODE_CREATE);
      g_autoptr(SysemSemaphore) waiter = posix_open (rkey, 0, SYSEM_ACCESS_MODE_OPEN);
      SysemTestWaiter *w = i % 3 == 0 ? sysem_test_waiter_start (waiter, NULL, -1)
                                      : sysem_test_waiter_spawn (waiter, NULL, -1);
      g_autoptr(GError) error = NULL;

      for (int spin = g_test_rand_int_range (0, 200000); spin > 0; spin--)
        __asm__ __volatile__ ("" ::: "memory");
      g_assert_true (sysem_semaphore_remove (owner, &error));
      g_assert_no_error (error);
      g_assert_false (sysem_test_waiter_join (w, &error));
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_NOT_FOUND, rkey);
    }
}

/* A holder that dies while a thread waits for its unit: the unit comes
 * to the waiter (the watcher recovers it). */
static void
test_wait_dead_holder (void)
{
  g_autofree char *key = sysem_test_key ("ledger-wait-dead");
  g_autoptr(SysemSemaphore) sem = posix_open (key, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestWaiter *w;
  int pipefd[2];
  char c;
  pid_t pid;

  g_assert_cmpint (pipe (pipefd), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      SysemSemaphore *child = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 1,
                                                        SYSEM_ACCESS_MODE_OPEN, NULL);

      if (child == NULL || !sysem_semaphore_acquire (child, NULL, NULL) ||
          write (pipefd[1], "a", 1) != 1)
        _exit (1);
      for (;;)
        pause ();
    }
  close (pipefd[1]);
  g_assert_cmpint (read (pipefd[0], &c, 1), ==, 1);
  close (pipefd[0]);

  w = sysem_test_waiter_start (sem, NULL, -1);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);

  sysem_test_waiter_join_acquired (w);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 1);
}

/* Squatting: a user (nobody) makes the name first, open to everyone; the
 * victim, another user who is not root, is refused with PERMISSION_DENIED
 * naming the owner rather than sharing or resetting the squatter's count.
 * Needs root to become those users. The results come over a pipe (under
 * valgrind a child's exit status is valgrind's). */
#define SQUATTER 65534
#define VICTIM   2

static void
run_as (uid_t       uid,
        const char *key,
        char      (*body) (const char *key))
{
  int fds[2];
  char result = -1;
  pid_t pid;

  g_assert_cmpint (pipe (fds), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      char r = 99;

      close (fds[0]);
      if (setgroups (0, NULL) == 0 && setgid ((gid_t) uid) == 0 && setuid (uid) == 0)
        r = body (key);
      if (write (fds[1], &r, 1) != 1)
        _exit (98);
      _exit (0);
    }
  close (fds[1]);
  g_assert_cmpint (read (fds[0], &result, 1), ==, 1);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);
  g_assert_cmpint (result, ==, 0);
}

static char
squat (const char *key)
{
  g_autofree char *path = ledger_path (key);
  SysemSemaphore *sem = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 5,
                                                  SYSEM_ACCESS_MODE_CREATE, NULL);

  if (sem == NULL || !sysem_semaphore_keep (sem, NULL) || chmod (path, 0666) != 0)
    return 1;
  g_object_unref (sem);
  return 0;
}

static char
be_victim (const char *key)
{
  g_autofree char *owner = g_strdup_printf ("%u", (guint) SQUATTER);

  for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
    {
      g_autoptr(GError) error = NULL;
      SysemSemaphore *sem = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 1, mode, &error);

      if (sem != NULL)
        return 10 + mode;
      if (!g_error_matches (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED))
        return 20 + mode;
      if (strstr (error->message, key) == NULL)
        return 30 + mode;
      /* Open finds the file and names its owner; Create may not even
       * unlink it (the sticky /dev/shm). */
      if (mode == SYSEM_ACCESS_MODE_OPEN && strstr (error->message, owner) == NULL)
        return 40 + mode;
    }
  return 0;
}

static void
test_squatted_name (void)
{
  g_autofree char *key = sysem_test_key ("ledger-squat");
  g_autofree char *path = ledger_path (key);
  struct stat st;

  run_as (SQUATTER, key, squat);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, SQUATTER);

  run_as (VICTIM, key, be_victim);

  /* The squatter's file is as it made it. */
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, SQUATTER);
  g_assert_cmpint (unlink (path), ==, 0);
}

/* What a remover killed between marking the semaphore removed and
 * unlinking its name leaves: the file, still at the name. */
static void
leave_crashed_removal (const char *path)
{
  SysemLedgerFile *file = ledger_map (path);

  __atomic_or_fetch (&file->hdr.flags, SYSEM_LEDGER_CLOSING, __ATOMIC_RELEASE);
  __atomic_store_n (&file->sem.tag, SYSEM_TAG_REMOVED, __ATOMIC_RELEASE);
  munmap (file, SYSEM_LEDGER_FILE_SIZE);
}

/* The object that opens the name again then gets a semaphore of its own,
 * as in a process that never had the file open, and the dead file goes:
 * also in a process whose object has that file open still, and in a child
 * of fork() that inherited such an object (before, both joined the dead
 * file, and every call failed with NOT_FOUND). */
static int
reopen_value (const char *key)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 2,
                                                            SYSEM_ACCESS_MODE_OPEN, &error);

  if (sem == NULL)
    return -1;
  return sysem_semaphore_get_value (sem, NULL);
}

static void
test_reopen_crashed_removal (void)
{
  for (int forked = 0; forked <= 1; forked++)
    {
      g_autofree char *key = sysem_test_key (forked ? "ledger-reopen-fork" : "ledger-reopen");
      g_autofree char *path = ledger_path (key);
      g_autoptr(GError) error = NULL;
      SysemSemaphore *sem = posix_open (key, 1, SYSEM_ACCESS_MODE_CREATE);
      int status;
      pid_t pid;

      leave_crashed_removal (path);
      if (!forked)
        g_assert_cmpint (reopen_value (key), ==, 2);
      else
        {
          pid = sysem_test_fork ();
          g_assert_cmpint (pid, >=, 0);
          if (pid == 0)
            _exit (reopen_value (key) == 2 ? 0 : 1);
          g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
          g_assert_true (WIFEXITED (status));
          g_assert_cmpint (WEXITSTATUS (status), ==, 0);
        }

      /* The new semaphore went with its last user. */
      g_assert_cmpint (access (path, F_OK), ==, -1);
      g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
      g_object_unref (sem);
      g_assert_cmpint (access (path, F_OK), ==, -1);
    }
}

/* sysem create keeps it with no user; gc-style removal only then. */
static void
test_keep (void)
{
  g_autofree char *key = sysem_test_key ("ledger-keep");
  g_autofree char *path = ledger_path (key);
  g_autoptr(GError) error = NULL;
  SysemInfo *info;
  SysemSemaphore *sem = posix_open (key, 3, SYSEM_ACCESS_MODE_CREATE);

  g_assert_true (sysem_semaphore_keep (sem, &error));
  g_object_unref (sem);
  g_assert_cmpint (access (path, F_OK), ==, 0);

  info = ledger_info (key);
  g_assert_false (info->stale);
  g_assert_true (info->crash_safe);
  sysem_info_free (info);

  sem = posix_open (key, 0, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 3);
  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  g_object_unref (sem);
  g_assert_cmpint (access (path, F_OK), ==, -1);
}

/* A user that died holding no unit leaves a semaphore with no live user:
 * stale, and `sysem gc` removes it (before, the dead user's slot still
 * counted when gc looked again under the ledger lock, and it stayed). */
static void
test_gc_dead_user_without_units (void)
{
  g_autofree char *key = sysem_test_key ("ledger-gc-dead-user");
  g_autofree char *path = ledger_path (key);
  g_autoptr(GError) error = NULL;
  gboolean removed = FALSE;
  SysemInfo *info;
  int status;
  pid_t pid;

  pid = sysem_test_fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      SysemSemaphore *child = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 1,
                                                        SYSEM_ACCESS_MODE_CREATE, NULL);

      if (child == NULL || sysem_semaphore_get_value (child, NULL) != 1)
        _exit (1);
      raise (SIGKILL);
      _exit (2);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (access (path, F_OK), ==, 0);

  info = ledger_info (key);
  g_assert_true (info->stale);
  g_assert_cmpint (info->state, ==, SYSEM_INSPECT_NO_USERS);
  g_assert_true (sysem_inspect_remove (info, TRUE, &removed, &error));
  g_assert_no_error (error);
  g_assert_true (removed);
  sysem_info_free (info);
  g_assert_cmpint (access (path, F_OK), ==, -1);
}

/* sysem info lists a dead holder and gives its units back. */
static void
test_inspect_dead_holder (void)
{
  g_autofree char *key = sysem_test_key ("ledger-info");
  g_autofree char *native = NULL;
  g_autoptr(SysemSemaphore) sem = posix_open (key, 2, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  SysemInfo *info;
  gboolean found = FALSE;
  pid_t pid = kill_holder (key, 2, 1);

  g_assert_true (sysem_inspect_key_derive (key, SYSEM_KEY_TYPE_POSIX, &native, &error));
  list = sysem_inspect_list (SYSEM_KEY_TYPE_POSIX, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < list->len; i++)
    {
      SysemInfo *e = g_ptr_array_index (list, i);

      if (g_str_equal (e->name, native))
        {
          found = TRUE;
          g_assert_cmpint (e->state, ==, SYSEM_INSPECT_RECOVERABLE);
          g_assert_false (e->stale);
        }
    }
  g_assert_true (found);

  info = sysem_inspect_native (SYSEM_KEY_TYPE_POSIX, native, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info->holders);
  found = FALSE;
  for (guint i = 0; i < info->holders->len; i++)
    {
      SysemHolder *h = &g_array_index (info->holders, SysemHolder, i);

      if (h->pid == pid)
        {
          found = TRUE;
          g_assert_false (h->alive);
          g_assert_cmpint (h->units, ==, 1);
        }
    }
  g_assert_true (found);
  g_assert_cmpint (info->stats.value, ==, 2);
  sysem_info_free (info);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reliability/posix-ledger/pid-reuse", test_pid_reuse);
  g_test_add_func ("/reliability/posix-ledger/kill-storm", test_kill_storm);
  g_test_add_func ("/reliability/posix-ledger/dead-children-free-slots", test_dead_children_free_slots);
  g_test_add_func ("/reliability/posix-ledger/last-user-after-crashes", test_last_user_after_crashes);
  g_test_add_func ("/reliability/posix-ledger/removed-under-waits", test_removed_under_waits);
  g_test_add_func ("/reliability/posix-ledger/hostile-files", test_hostile_files);
  g_test_add_func ("/reliability/posix-ledger/truncated-while-mapped", test_truncated_while_mapped);
  g_test_add_func ("/reliability/posix-ledger/replaced-while-mapped", test_replaced_while_mapped);
  g_test_add_func ("/reliability/posix-ledger/bad-value-while-open", test_bad_value_while_open);
  g_test_add_func ("/reliability/posix-ledger/bad-value-dead-holder", test_bad_value_dead_holder);
  g_test_add_func ("/reliability/posix-ledger/many-objects", test_many_objects);
  g_test_add_func ("/reliability/posix-ledger/wait/no-wakeups", test_wait_no_wakeups);
  g_test_add_func ("/reliability/posix-ledger/wait/woken-by-glibc-post", test_wait_woken_by_glibc_post);
  g_test_add_func ("/reliability/posix-ledger/wait/unlinked-by-other", test_wait_unlinked_by_other);
  g_test_add_func ("/reliability/posix-ledger/wait/truncated-by-other", test_wait_truncated_by_other);
  g_test_add_func ("/reliability/posix-ledger/wait/dead-holder", test_wait_dead_holder);
  g_test_add_func ("/reliability/posix-ledger/wait/cancel-and-remove-race", test_wait_cancel_and_remove_race);
  /* Becoming other users needs root. */
  if (geteuid () == 0)
    g_test_add_func ("/reliability/posix-ledger/squatted-name", test_squatted_name);
  g_test_add_func ("/reliability/posix-ledger/reopen-crashed-removal", test_reopen_crashed_removal);
  g_test_add_func ("/reliability/posix-ledger/keep", test_keep);
  g_test_add_func ("/reliability/posix-ledger/gc-dead-user-without-units", test_gc_dead_user_without_units);
  g_test_add_func ("/reliability/posix-ledger/inspect-dead-holder", test_inspect_dead_holder);

  return g_test_run ();
}
