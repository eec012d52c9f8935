/* test-errors.c: every error Linux can give, both key types
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* SYSEM_SEMAPHORE_ERROR_ALREADY_EXISTS has no test: no public operation
 * asks the kernel for an object that must not exist and reports it.
 * Creating the key file, the System V set and the POSIX file all retry
 * when another process made them first, and that is not an error. */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysem-test-util.h"

#define NOBODY 65534

/* PERMISSION_DENIED: another user's semaphore. */

/* The child's result comes over a pipe: under valgrind a forked child's
 * exit status says what valgrind thought of its memory. */
static int
open_as_nobody (const char   *key,
                SysemKeyType  key_type)
{
  int fds[2];
  char result_byte = -1;
  int status;
  pid_t pid;

  g_assert_cmpint (pipe (fds), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      char result = 0;

      close (fds[0]);
      if (setgroups (0, NULL) != 0 || setgid (NOBODY) != 0 || setuid (NOBODY) != 0)
        result = 99;

      for (int mode = SYSEM_ACCESS_MODE_OPEN; result == 0 && mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
        {
          GError *error = NULL;
          SysemSemaphore *sem = sysem_semaphore_new_full (key, key_type, 1, mode, &error);

          if (sem != NULL)
            result = 50 + mode;
          else if (!g_error_matches (error, SYSEM_SEMAPHORE_ERROR,
                                     SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED))
            result = 10 + 10 * mode + (error->domain == SYSEM_SEMAPHORE_ERROR ? error->code : 9);
          g_clear_error (&error);
          g_clear_object (&sem);
        }
      if (write (fds[1], &result, 1) != 1)
        _exit (98);
      _exit (0);
    }

  close (fds[1]);
  g_assert_cmpint (read (fds[0], &result_byte, 1), ==, 1);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  return result_byte;
}

static void
test_permission_denied (SysemTestFixture *fixture)
{
  g_autofree char *path = sysem_test_key_path (fixture->key, fixture->key_type);
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemStats stats = sysem_test_stats (sem);

  if (getuid () == 0)
    {
      /* Root made it with mode 0600; nobody may not touch it. */
      g_assert_cmpint (open_as_nobody (fixture->key, fixture->key_type), ==, 0);
    }
  else
    {
      /* We cannot become another user: take our own rights away instead
       * (only root and CAP_IPC_OWNER ignore them). */
      if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        {
          struct semid_ds ds;

          g_assert_cmpint (semctl (stats.id, 0, IPC_STAT, &ds), ==, 0);
          ds.sem_perm.mode = 0;
          g_assert_cmpint (semctl (stats.id, 0, IPC_SET, &ds), ==, 0);
          sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_OPEN,
                                        SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED);
          sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_CREATE,
                                        SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED);
          ds.sem_perm.mode = 0600;
          g_assert_cmpint (semctl (stats.id, 0, IPC_SET, &ds), ==, 0);
        }
      else
        {
          g_assert_cmpint (chmod (path, 0), ==, 0);
          sysem_test_assert_open_fails (fixture->key, fixture->key_type, SYSEM_ACCESS_MODE_OPEN,
                                        SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED);
          g_assert_cmpint (chmod (path, 0600), ==, 0);
        }
    }

  /* The failed attempts changed nothing. */
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  sysem_test_assert_value (sem, 1);
  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);

  g_object_unref (sem);
}

/* KEY_ERROR: keys that cannot name a semaphore. */

static void
test_bad_keys (SysemTestFixture *fixture)
{
  g_autoptr(GString) long_key = g_string_new ("sysemtest-");
  g_autoptr(GError) error = NULL;
  g_autofree char *good = sysem_test_key ("good");
  SysemSemaphore *sem;

  for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
    {
      sysem_test_assert_open_fails ("", fixture->key_type, mode, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      sysem_test_assert_open_fails ("sysemtest-\xff\xfe-bad", fixture->key_type, mode,
                                    SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      sysem_test_assert_open_fails ("sysemtest-\xc3", fixture->key_type, mode,
                                    SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
    }

  /* Too long: its name would pass NAME_MAX. */
  for (int i = 0; i < 300; i++)
    g_string_append_c (long_key, 'a' + i % 26);
  sysem_test_assert_open_fails (long_key->str, fixture->key_type, SYSEM_ACCESS_MODE_OPEN,
                                SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  sysem_test_assert_open_fails (long_key->str, fixture->key_type, SYSEM_ACCESS_MODE_CREATE,
                                SYSEM_SEMAPHORE_ERROR_KEY_ERROR);

  /* Long, but short enough for both key types. */
  g_string_truncate (long_key, 180);
  g_string_append_printf (long_key, "-%d", (int) getpid ());
  sem = sysem_test_open (long_key->str, fixture->key_type, 2, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_assert_value (sem, 2);
  g_object_unref (sem);
  sysem_test_assert_key_clean (long_key->str, fixture->key_type);

  /* set_key() checks the same way, and the object keeps working once
   * given a good key. */
  sem = sysem_test_open (NULL, fixture->key_type, 0, SYSEM_ACCESS_MODE_OPEN);
  g_assert_false (sysem_semaphore_set_key (sem, "", 1, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_clear_error (&error);
  g_assert_true (sysem_semaphore_set_key (sem, good, 1, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  sysem_test_acquire (sem);
  g_object_unref (sem);
  sysem_test_assert_key_clean (good, fixture->key_type);
}

/* The file that stands for the semaphore is something else. */

static void
assert_key_path_refused (const char   *key,
                         SysemKeyType  key_type)
{
  sysem_test_assert_open_fails (key, key_type, SYSEM_ACCESS_MODE_OPEN,
                                SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    sysem_test_assert_open_fails (key, key_type, SYSEM_ACCESS_MODE_CREATE,
                                  SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
}

static void
test_key_file_symlink (SysemTestFixture *fixture)
{
  g_autofree char *path = sysem_test_key_path (fixture->key, fixture->key_type);
  g_autofree char *target = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;
  int fd;

  /* A link to a file of ours: it must be neither used nor changed. */
  fd = g_file_open_tmp ("sysemtest-target-XXXXXX", &target, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_cmpint (symlink (target, path), ==, 0);
  assert_key_path_refused (fixture->key, fixture->key_type);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  g_assert_cmpint (stat (target, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 0);
  g_assert_cmpint (unlink (path), ==, 0);
  g_assert_cmpint (unlink (target), ==, 0);

  /* A dangling link. */
  g_assert_cmpint (symlink ("/nonexistent/sysemtest-target", path), ==, 0);
  assert_key_path_refused (fixture->key, fixture->key_type);
  g_assert_cmpint (unlink (path), ==, 0);
}

static void
test_key_file_directory (SysemTestFixture *fixture)
{
  g_autofree char *path = sysem_test_key_path (fixture->key, fixture->key_type);

  g_assert_cmpint (mkdir (path, 0700), ==, 0);
  assert_key_path_refused (fixture->key, fixture->key_type);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
  g_assert_cmpint (rmdir (path), ==, 0);
}

/* A file in /dev/shm with the semaphore's name that is no semaphore:
 * mapping it would kill the process with SIGBUS. */
static void
test_posix_file_not_a_semaphore (SysemTestFixture *fixture)
{
  gsize sizes[] = { 0, 5, 4096 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *key = sysem_test_key ("notasemaphore");
      g_autofree char *path = sysem_test_key_path (key, SYSEM_KEY_TYPE_POSIX);
      g_autofree char *contents = g_malloc0 (sizes[i] + 1);
      g_autoptr(GError) error = NULL;
      SysemSemaphore *sem;

      g_assert_true (g_file_set_contents_full (path, contents, sizes[i],
                                               G_FILE_SET_CONTENTS_NONE, 0600, &error));
      g_assert_no_error (error);

      sysem_test_assert_open_fails (key, SYSEM_KEY_TYPE_POSIX, SYSEM_ACCESS_MODE_OPEN,
                                    SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

      /* Create replaces whatever has the name, as Qt does. */
      sem = sysem_test_open (key, SYSEM_KEY_TYPE_POSIX, 3, SYSEM_ACCESS_MODE_CREATE);
      sysem_test_assert_value (sem, 3);
      g_object_unref (sem);
      sysem_test_assert_key_clean (key, SYSEM_KEY_TYPE_POSIX);
    }
}

/* Native keys that name nothing a semaphore can be. */
static void
test_bad_native_keys (SysemTestFixture *fixture)
{
  g_autofree char *too_long = g_strnfill (300, 's');
  g_autofree char *too_long_path = g_strconcat ("/tmp/", too_long, NULL);
  const char *system_v[] = { "", "sysemtest-relative", "relative/sysemtest", "/tmp/",
                             "/tmp/.", "/tmp/..", "/", too_long_path };
  const char *posix[] = { "", "/", "sysemtest/a", "/sysemtest/a", "/.", "/..", "..",
                          too_long };
  const char **keys = fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V ? system_v : posix;
  gsize n_keys = fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V ? G_N_ELEMENTS (system_v)
                                                              : G_N_ELEMENTS (posix);

  for (gsize i = 0; i < n_keys; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SysemSemaphore) sem = NULL;

      sem = sysem_semaphore_new_native (keys[i], fixture->key_type, 1, SYSEM_ACCESS_MODE_OPEN,
                                        &error);
      g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      g_assert_null (sem);
    }
}

/* NOT_FOUND: used after remove(). */
static void
test_not_found_after_remove (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  sysem_test_assert_key_clean (fixture->key, fixture->key_type);

  g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, fixture->key));
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_release (sem, 1, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Setting the key again opens a new semaphore, in either mode (the
   * Open case is /core/.../removed/set-key-reopens). */
  g_assert_true (sysem_semaphore_set_key (sem, fixture->key, 2, SYSEM_ACCESS_MODE_CREATE, &error));
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 2);

  g_object_unref (sem);
}

/* Programmer errors are criticals (fatal in the test environment), not
 * GErrors, and change nothing. */
static void
test_programmer_errors (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;

  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*n >= 0*");
  g_assert_false (sysem_semaphore_release (sem, -1, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 1);

  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*initial_value >= 0*");
  g_assert_false (sysem_semaphore_set_key (sem, fixture->key, -1, SYSEM_ACCESS_MODE_CREATE,
                                           &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 1);

  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*initial_value >= 0*");
  g_assert_null (sysem_semaphore_new_full (fixture->key, fixture->key_type, -1,
                                           SYSEM_ACCESS_MODE_CREATE, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  sysem_test_assert_value (sem, 1);

  g_object_unref (sem);
}

#if !HAVE_ETCD
/* A build without libsoup has no etcd key type: every way in says so, and
 * names the key. */
static void
test_no_etcd (void)
{
  const char *native = "etcd://127.0.0.1:2379/sysemtest-no-etcd";
  g_autofree char *key = sysem_test_key ("no-etcd");
  g_autoptr(GError) error = NULL;

  g_assert_null (sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_ETCD, 1,
                                           SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_assert_nonnull (strstr (error->message, key));
  g_assert_nonnull (strstr (error->message, "etcd"));
  g_clear_error (&error);

  g_assert_null (sysem_semaphore_new_native (native, SYSEM_KEY_TYPE_ETCD, 1,
                                             SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_assert_nonnull (strstr (error->message, native));
}
#endif

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/core/{system-v}/errors/permission-denied", test_permission_denied);
  sysem_test_add_both_types ("/core/{system-v}/errors/key-error/bad-keys", test_bad_keys);
  sysem_test_add_both_types ("/core/{system-v}/errors/key-error/symlink", test_key_file_symlink);
  sysem_test_add_both_types ("/core/{system-v}/errors/key-error/directory", test_key_file_directory);
  sysem_test_add ("/core/posix/errors/key-error/not-a-semaphore", SYSEM_KEY_TYPE_POSIX,
                  test_posix_file_not_a_semaphore);
  sysem_test_add_both_types ("/core/{system-v}/errors/key-error/bad-native-keys", test_bad_native_keys);
  sysem_test_add_both_types ("/core/{system-v}/errors/not-found/after-remove", test_not_found_after_remove);
  sysem_test_add_both_types ("/core/{system-v}/errors/programmer-errors", test_programmer_errors);
#if !HAVE_ETCD
  g_test_add_func ("/core/etcd/errors/not-built", test_no_etcd);
#endif

  return g_test_run ();
}
