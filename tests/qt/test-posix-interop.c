/* test-posix-interop.c: glibc's sem_open() and sysem on one POSIX semaphore
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* A Qt built with QT_POSIX_IPC keeps a QSystemSemaphore in a POSIX named
 * semaphore: sem_open ("/qipc_systemsem_" + letters + SHA-1), sem_wait (),
 * sem_post (). No real Qt can show that sysem meets it: Debian builds Qt 5
 * and Qt 6 without QT_POSIX_IPC, and Qt 6.4 has no QNativeIpcKey to choose
 * the POSIX type at run time. So the other side here is posix-sem-helper,
 * which makes the calls such a Qt makes through glibc. sysem maps the file
 * in /dev/shm itself; these cases check that glibc accepts the file sysem
 * makes, that sysem accepts the file glibc makes, and that a unit held on
 * one side makes the other side wait.
 *
 * Every case checks that its /dev/shm/sem.* file is gone at the end. */

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"


/* The name a Qt built with QT_POSIX_IPC gives to sem_open () for @key,
 * computed by the tests' own rule rather than by sysem. */
static char *
qt_posix_name (const char *key)
{
  g_autofree char *name = sysem_test_legacy_name (key);

  return g_strconcat ("/", name, NULL);
}

static char *
shm_path (const char *name)
{
  return sysem_test_native_path (name, SYSEM_KEY_TYPE_POSIX);
}

/* The file starts with one sem_t, private to its user, as sem_open ()
 * makes it; a file sysem made (or joined) holds its holder ledger after
 * it, in whole pages. */
static void
assert_semaphore_file (const char *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_true (st.st_size == sizeof (sem_t) || st.st_size % 4096 == 0);
  g_assert_cmpint (st.st_mode & 0077, ==, 0);
}

static SysemTestHelper *
raw_spawn (const char *name,
           const char *mode,
           int         initial_value)
{
  g_autofree char *initial = g_strdup_printf ("%d", initial_value);
  const char *argv[] = { POSIX_SEM_HELPER, name, mode, initial, NULL };
  SysemTestHelper *proc;

  proc = sysem_test_helper_spawn (argv);
  sysem_test_helper_expect_line (proc, "ready");

  return proc;
}

static void
raw_expect_value (SysemTestHelper *proc,
                  int              value)
{
  g_autofree char *expected = g_strdup_printf ("value %d", value);

  sysem_test_helper_command (proc, "value", expected, NULL);
}

static void
raw_exit (SysemTestHelper *proc)
{
  sysem_test_helper_command (proc, "exit", "bye", NULL);
  g_assert_cmpint (sysem_test_helper_finish (proc), ==, 0);
}

static SysemSemaphore *
posix_new (const char      *key,
           int              initial_value,
           SysemAccessMode  mode)
{
  return sysem_test_open (key, SYSEM_KEY_TYPE_POSIX, initial_value, mode);
}

/* The name of a key is Qt's, down to the SHA-1 of a known key. */
static void
test_name (void)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *name = NULL;

  name = qt_posix_name ("market");
  g_assert_cmpstr (name, ==, "/qipc_systemsem_market5c9f73af73334ffe350c60ec076e5744db0ecda3");

  sem = g_object_new (SYSEM_TYPE_SEMAPHORE, "key", "market", "key-type",
                      SYSEM_KEY_TYPE_POSIX, NULL);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, name);
}

/* sysem makes the semaphore and holds its only unit; the sem_open () user
 * opens sysem's file, waits in sem_wait (), and gets the unit when sysem
 * releases it. */
static void
test_sysem_holds (gconstpointer data)
{
  g_autofree char *key = sysem_test_key_of_kind ("posix", data);
  g_autofree char *name = qt_posix_name (key);
  g_autofree char *path = shm_path (name);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemTestHelper) raw = NULL;

  sem = posix_new (key, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, name);
  assert_semaphore_file (path);
  sysem_test_acquire (sem);

  /* Without O_CREAT: sem_open () must find and accept sysem's file. */
  raw = raw_spawn (name, "existing", 0);
  raw_expect_value (raw, 0);

  sysem_test_helper_command (raw, "acquire", "acquiring", NULL);
  sysem_test_wait_waiters (sem, 1);

  sysem_test_release (sem, 1);
  sysem_test_helper_expect_line (raw, "acquired");
  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  sysem_test_assert_no_unit (sem);

  sysem_test_helper_command (raw, "release 3", "released", NULL);
  g_assert_cmpint (sysem_test_value (sem), ==, 3);

  /* The sem_open () user did not make it, so it leaves it; sysem made it,
   * so sysem removes it. */
  raw_exit (raw);
  g_assert_true (sysem_test_path_exists (path));
  g_clear_object (&sem);
  g_assert_false (sysem_test_path_exists (path));
}

/* The sem_open () user makes the semaphore and holds its only unit; sysem
 * opens glibc's file and waits until the unit comes back. */
static void
test_raw_holds (gconstpointer data)
{
  g_autofree char *key = sysem_test_key_of_kind ("posix", data);
  g_autofree char *name = qt_posix_name (key);
  g_autofree char *path = shm_path (name);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemTestHelper) raw = NULL;
  SysemTestWaiter *w;

  raw = raw_spawn (name, "open", 1);
  assert_semaphore_file (path);

  sem = posix_new (key, 5, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);

  sysem_test_helper_command (raw, "acquire", "acquiring", "acquired", NULL);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  sysem_test_assert_no_unit (sem);

  w = sysem_test_waiter_start (sem, NULL, SYSEM_TEST_DEADLINE_USEC);

  sysem_test_helper_command (raw, "release 1", "released", NULL);
  sysem_test_waiter_join_acquired (w);

  sysem_test_release (sem, 2);
  raw_expect_value (raw, 2);

  /* The sem_open () user made it, so it removes it; sysem only opened it. */
  raw_exit (raw);
  g_assert_false (sysem_test_path_exists (path));
  g_clear_object (&sem);
  g_assert_false (sysem_test_path_exists (path));
}

/* sysem writes the bytes sem_open () writes: a file made by either starts
 * with the same sem_t. sysem's holder ledger follows it in the same file. */
static void
test_same_bytes (void)
{
  g_autofree char *key = sysem_test_key_of_kind ("posix", "letters");
  g_autofree char *name = qt_posix_name (key);
  g_autofree char *path = shm_path (name);
  g_autofree char *ours = NULL;
  g_autofree char *glibcs = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemTestHelper) raw = NULL;
  g_autoptr(GError) error = NULL;
  gsize ours_len, glibcs_len;

  sem = posix_new (key, 3, SYSEM_ACCESS_MODE_CREATE);
  g_file_get_contents (path, &ours, &ours_len, &error);
  g_assert_no_error (error);
  g_clear_object (&sem);
  g_assert_false (sysem_test_path_exists (path));

  raw = raw_spawn (name, "open", 3);
  g_file_get_contents (path, &glibcs, &glibcs_len, &error);
  g_assert_no_error (error);
  raw_exit (raw);
  g_assert_false (sysem_test_path_exists (path));

  g_assert_cmpuint (glibcs_len, ==, sizeof (sem_t));
  g_assert_cmpuint (ours_len, >, sizeof (sem_t));
  g_assert_cmpmem (ours, sizeof (sem_t), glibcs, glibcs_len);
}

/* Create on either side replaces the semaphore with a new one of the given
 * count, as Qt's POSIX code does: whoever still has the old one keeps it,
 * and a sysem waiter on it is told that it was removed. */
static void
test_create_replaces (void)
{
  g_autofree char *key = sysem_test_key_of_kind ("posix", "letters");
  g_autofree char *name = qt_posix_name (key);
  g_autofree char *path = shm_path (name);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemSemaphore) creator = NULL;
  g_autoptr(SysemTestHelper) raw = NULL;
  g_autoptr(SysemTestHelper) raw_creator = NULL;
  g_autoptr(SysemTestHelper) reader = NULL;
  g_autoptr(GError) error = NULL;

  /* sysem's Create over a semaphore made by sem_open (). */
  raw = raw_spawn (name, "open", 5);
  creator = posix_new (key, 2, SYSEM_ACCESS_MODE_CREATE);
  assert_semaphore_file (path);
  g_assert_cmpint (sysem_test_value (creator), ==, 2);
  raw_expect_value (raw, 5);

  reader = raw_spawn (name, "existing", 0);
  raw_expect_value (reader, 2);
  raw_exit (reader);
  g_clear_pointer (&reader, sysem_test_helper_free);

  /* The first helper made the name, but its file is no longer the one in
   * /dev/shm: its sem_unlink () at exit removes sysem's. Qt's POSIX code
   * does the same. */
  raw_exit (raw);
  g_clear_pointer (&raw, sysem_test_helper_free);
  g_assert_false (sysem_test_path_exists (path));
  g_clear_object (&creator);

  /* The Create of a sem_open () user over a semaphore made by sysem. */
  sem = posix_new (key, 3, SYSEM_ACCESS_MODE_CREATE);
  raw_creator = raw_spawn (name, "create", 1);
  raw_expect_value (raw_creator, 1);

  /* The old object notices that the name now belongs to another
   * semaphore: its calls fail, they never use the orphaned file. */
  sysem_test_assert_removed (sem);
  g_assert_false (sysem_semaphore_try_acquire (sem, SYSEM_TEST_DEADLINE_USEC, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);

  /* A new sysem object opens the new one. */
  {
    g_autoptr(SysemSemaphore) fresh = posix_new (key, 0, SYSEM_ACCESS_MODE_OPEN);

    g_assert_cmpint (sysem_test_value (fresh), ==, 1);
  }

  /* sysem made the old one but does not unlink the new one. */
  g_clear_object (&sem);
  g_assert_true (sysem_test_path_exists (path));

  raw_exit (raw_creator);
  g_assert_false (sysem_test_path_exists (path));
}

/* A glibc sem_open () user and sysem users share the semaphore; a sysem
 * user is SIGKILLed holding two units while the glibc user waits in
 * sem_wait (). The next sysem call gives the units back, which wakes the
 * glibc user, and both sides see the right count. @data: who makes the
 * semaphore, "sysem" or "glibc" (whose 32-byte file sysem adopts). */
static void
test_sysem_user_killed (gconstpointer data)
{
  gboolean glibc_made = g_str_equal (data, "glibc");
  g_autofree char *key = sysem_test_key ("posix-killed");
  g_autofree char *name = qt_posix_name (key);
  g_autofree char *path = shm_path (name);
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemTestHelper) raw = NULL;
  g_autoptr(SysemTestHelper) victim = NULL;

  if (glibc_made)
    raw = raw_spawn (name, "open", 3);
  else
    sem = posix_new (key, 3, SYSEM_ACCESS_MODE_CREATE);

  victim = sysem_test_helper_start (SYSEM_KEY_TYPE_POSIX, key, "acquire", "2", "wait", NULL);
  for (int i = 0; i < 2; i++)
    {
      sysem_test_helper_expect_line (victim, "acquiring");
      sysem_test_helper_expect_line (victim, "acquired");
    }
  sysem_test_helper_expect_line (victim, "waiting");

  if (glibc_made)
    sem = posix_new (key, 3, SYSEM_ACCESS_MODE_OPEN);
  else
    raw = raw_spawn (name, "existing", 0);
  assert_semaphore_file (path);

  raw_expect_value (raw, 1);
  sysem_test_helper_command (raw, "acquire", "acquiring", "acquired", NULL);
  sysem_test_helper_command (raw, "acquire", "acquiring", NULL);
  sysem_test_wait_waiters (sem, 1);

  g_assert_cmpint (sysem_test_helper_kill (victim), ==, 128 + SIGKILL);

  /* A sysem call gives the dead user's units back and wakes the glibc
   * user, who takes one of them. */
  g_assert_cmpint (sysem_test_value (sem), >=, 1);
  sysem_test_helper_expect_line (raw, "acquired");
  raw_expect_value (raw, 1);
  sysem_test_assert_value (sem, 1);

  sysem_test_helper_command (raw, "release 2", "released", NULL);
  raw_expect_value (raw, 3);
  sysem_test_assert_value (sem, 3);

  raw_exit (raw);
  g_clear_object (&sem);
  g_assert_false (sysem_test_path_exists (path));
}

int
main (int    argc,
      char **argv)
{
  static const char * const key_kinds[] = { "letters", "punctuation", "unicode" };

  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/posix/name", test_name);
  for (guint i = 0; i < G_N_ELEMENTS (key_kinds); i++)
    {
      g_autofree char *sysem_holds = g_strdup_printf ("/posix/sysem-holds/%s", key_kinds[i]);
      g_autofree char *raw_holds = g_strdup_printf ("/posix/sem-open-holds/%s", key_kinds[i]);

      g_test_add_data_func (sysem_holds, key_kinds[i], test_sysem_holds);
      g_test_add_data_func (raw_holds, key_kinds[i], test_raw_holds);
    }
  g_test_add_func ("/posix/same-bytes", test_same_bytes);
  g_test_add_func ("/posix/create-replaces", test_create_replaces);
  g_test_add_data_func ("/posix/sysem-user-killed/sysem-made", "sysem", test_sysem_user_killed);
  g_test_add_data_func ("/posix/sysem-user-killed/glibc-made", "glibc", test_sysem_user_killed);

  return g_test_run ();
}
