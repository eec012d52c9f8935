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
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
          SysemSemaphore *child = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 3,
                                                            SYSEM_ACCESS_MODE_OPEN, NULL);

          close (pipefd[0]);
          if (child == NULL || write (pipefd[1], "r", 1) != 1)
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
    {
      pid_t pid = fork ();

      g_assert_cmpint (pid, >=, 0);
      if (pid == 0)
        {
          SysemSemaphore *child = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 4,
                                                            SYSEM_ACCESS_MODE_OPEN, NULL);

          if (child == NULL || !sysem_semaphore_acquire (child, NULL, NULL))
            _exit (1);
          raise (SIGKILL);
          _exit (2);
        }
      g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);
    }
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

/* sysem create keeps it with no user; gc-style removal only then. */
static void
test_keep (void)
{
  g_autofree char *key = sysem_test_key ("ledger-keep");
  g_autofree char *path = ledger_path (key);
  g_autofree char *native = NULL;
  g_autoptr(GError) error = NULL;
  SysemInfo *info;
  SysemSemaphore *sem = posix_open (key, 3, SYSEM_ACCESS_MODE_CREATE);

  g_assert_true (sysem_semaphore_keep (sem, &error));
  g_object_unref (sem);
  g_assert_cmpint (access (path, F_OK), ==, 0);

  g_assert_true (sysem_inspect_key_derive (key, SYSEM_KEY_TYPE_POSIX, &native, &error));
  info = sysem_inspect_native (SYSEM_KEY_TYPE_POSIX, native, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);
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
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      SysemSemaphore *child = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, 2,
                                                        SYSEM_ACCESS_MODE_OPEN, NULL);

      if (child == NULL || !sysem_semaphore_acquire (child, NULL, NULL))
        _exit (1);
      raise (SIGKILL);
    }
  g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);

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
  g_test_add_func ("/reliability/posix-ledger/last-user-after-crashes", test_last_user_after_crashes);
  g_test_add_func ("/reliability/posix-ledger/removed-under-waits", test_removed_under_waits);
  g_test_add_func ("/reliability/posix-ledger/hostile-files", test_hostile_files);
  g_test_add_func ("/reliability/posix-ledger/keep", test_keep);
  g_test_add_func ("/reliability/posix-ledger/inspect-dead-holder", test_inspect_dead_holder);

  return g_test_run ();
}
