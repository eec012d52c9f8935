/* test-qt-interop.c: real Qt 5 and Qt 6 programs and sysem on one semaphore
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Every case runs a QSystemSemaphore in a real Qt program (qt-sem-helper,
 * built against each Qt that was found) and a SysemSemaphore in this
 * process on the same key, and checks that they are one kernel semaphore:
 * a unit held on one side makes the other side wait, and the wait ends when
 * the unit comes back. "Waits" is read from the kernel (the number of
 * processes sleeping on the semaphore), never guessed from time.
 *
 * Every case also checks what it leaves: no System V set, no key file. */

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"

typedef struct {
  const char *name;     /* "qt5" */
  const char *version;  /* the start of qVersion (): "5." */
  const char *helper;   /* the path of its qt-sem-helper */
} QtBuild;

typedef struct {
  const QtBuild *qt;
  const char    *variant;   /* a key kind, or a TMPDIR suffix */
} QtCase;

#ifdef QT5_SEM_HELPER
static const QtBuild qt5_build = { "qt5", "5.", QT5_SEM_HELPER };
#endif
#ifdef QT6_SEM_HELPER
static const QtBuild qt6_build = { "qt6", "6.", QT6_SEM_HELPER };
#endif


/* Names the TMPDIR symlinks of the symlink tests apart. */
static guint link_counter;

/* The data of the registered cases, freed after the run. */
static GPtrArray *cases;

/* Starts a Qt helper on @key; unless @deferred, waits until its
 * QSystemSemaphore exists. @tmp_out and @file_out receive what Qt calls its
 * temporary directory and the key file derived in Qt's terms. */
static SysemTestHelper *
qt_spawn_full (const QtBuild  *qt,
               const char     *key,
               const char     *mode,
               int             initial_value,
               gboolean        deferred,
               char          **tmp_out,
               char          **file_out)
{
  g_autofree char *initial = g_strdup_printf ("%d", initial_value);
  const char *argv[] = { qt->helper, key, mode, initial, deferred ? "deferred" : NULL, NULL };
  g_autofree char *version = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *file = NULL;
  SysemTestHelper *proc;

  proc = sysem_test_helper_spawn (argv);
  version = sysem_test_helper_expect_word (proc, "qt");
  tmp = sysem_test_helper_expect_word (proc, "tmp");
  file = sysem_test_helper_expect_word (proc, "file");
  if (!deferred)
    sysem_test_helper_expect_line (proc, "ready");

  g_test_message ("Qt %s (pid %d) on \"%s\": %s", version,
                  (int) sysem_test_helper_get_pid (proc), key, file);
  g_assert_true (g_str_has_prefix (version, qt->version));

  if (tmp_out != NULL)
    *tmp_out = g_steal_pointer (&tmp);
  if (file_out != NULL)
    *file_out = g_steal_pointer (&file);

  return proc;
}

static SysemTestHelper *
qt_spawn (const QtBuild  *qt,
          const char     *key,
          const char     *mode,
          int             initial_value,
          char          **tmp_out,
          char          **file_out)
{
  return qt_spawn_full (qt, key, mode, initial_value, FALSE, tmp_out, file_out);
}

/* Tells the helper to end normally, and checks that it did. */
static void
qt_exit (SysemTestHelper *proc)
{
  sysem_test_helper_command (proc, "exit", "bye", NULL);
  g_assert_cmpint (sysem_test_helper_finish (proc), ==, 0);
}

/* Nothing of the key is left: neither the set nor the key file. */
static void
assert_gone (const char *key_file,
             int         semid)
{
  g_assert_false (sysem_test_semid_exists (semid));
  g_assert_false (sysem_test_path_exists (key_file));
}

/* Qt holds the only unit; a sysem acquire waits until Qt releases it. Qt
 * made the set, so it has Qt's one semaphore, and Qt removes it on exit. */
static void
test_qt_holds (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", qc->variant);
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemStats stats;
  SysemTestWaiter *w;
  int semid;

  qt = qt_spawn (qc->qt, key, "open", 1, NULL, &file);

  /* Qt made its key file where sysem looks for it. */
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, file);

  stats = sysem_test_stats (sem);
  semid = stats.id;
  g_assert_cmpint (stats.n_sems, ==, 1);
  g_assert_cmpint (stats.users, ==, -1);
  g_assert_cmpint (stats.value, ==, 1);

  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);

  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.value, ==, 0);
  g_assert_cmpint (stats.last_pid, ==, sysem_test_helper_get_pid (qt));
  sysem_test_assert_no_unit (sem);

  w = sysem_test_waiter_start (sem, NULL, SYSEM_TEST_DEADLINE_USEC);

  sysem_test_helper_command (qt, "release 1", "released", NULL);
  sysem_test_waiter_join_acquired (w);

  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  sysem_test_release (sem, 1);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);

  /* Qt made the set: Qt removes it, and its key file, when it ends. */
  qt_exit (qt);
  sysem_test_assert_removed (sem);
  g_clear_object (&sem);
  assert_gone (file, semid);
}

/* sysem holds the only unit; Qt's acquire waits until sysem releases it.
 * sysem made the set, so Qt only opened it and leaves it on exit. */
static void
test_sysem_holds (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", qc->variant);
  g_autofree char *file = NULL;
  g_autofree char *native = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemStats stats;
  int semid;

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  native = g_strdup (sysem_semaphore_get_native_key (sem));
  g_assert_true (g_file_test (native, G_FILE_TEST_IS_REGULAR));

  stats = sysem_test_stats (sem);
  semid = stats.id;
  g_assert_cmpint (stats.n_sems, ==, 3);   /* count, users, kick (1.1) */
  g_assert_cmpint (stats.users, ==, 1);

  sysem_test_acquire (sem);

  qt = qt_spawn (qc->qt, key, "open", 1, NULL, &file);
  g_assert_cmpstr (file, ==, native);

  g_assert_cmpint (sysem_test_value (sem), ==, 0);

  sysem_test_helper_command (qt, "acquire", "acquiring", NULL);
  sysem_test_wait_waiters (sem, 1);

  sysem_test_release (sem, 1);
  sysem_test_helper_expect_line (qt, "acquired");

  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.value, ==, 0);
  g_assert_cmpint (stats.waiters, ==, 0);
  g_assert_cmpint (stats.last_pid, ==, sysem_test_helper_get_pid (qt));
  sysem_test_assert_no_unit (sem);

  sysem_test_helper_command (qt, "release 1", "released", NULL);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);

  /* Qt only opened it: the set outlives the Qt program, and Qt never
   * joined sysem's count of users. (Read after the helper ended: a sysem
   * that counts a forked child at fork () time would count the helper,
   * which was forked from this process, until it exits.) */
  qt_exit (qt);
  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.value, ==, 1);
  g_assert_cmpint (stats.users, ==, 1);

  /* sysem's last user removes it. */
  g_clear_object (&sem);
  assert_gone (native, semid);
}

/* Qt's Create mode sets the count of a set sysem made, and makes it Qt's:
 * Qt removes it on exit, and sysem then reports it gone. */
static void
test_qt_create_resets (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "letters");
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemStats stats;
  int semid;

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_release (sem, 4);
  g_assert_cmpint (sysem_test_value (sem), ==, 5);
  semid = sysem_test_stats (sem).id;

  qt = qt_spawn (qc->qt, key, "create", 2, NULL, &file);
  g_assert_cmpstr (file, ==, sysem_semaphore_get_native_key (sem));

  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.id, ==, semid);
  g_assert_cmpint (stats.value, ==, 2);
  g_assert_cmpint (stats.last_pid, ==, sysem_test_helper_get_pid (qt));

  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);
  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  sysem_test_assert_no_unit (sem);

  qt_exit (qt);
  sysem_test_assert_removed (sem);
  g_clear_object (&sem);
  assert_gone (file, semid);
}

/* Qt's Create gives units to a set with none: a sysem acquire waiting on
 * it wakes up and gets one. */
static void
test_qt_create_wakes (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "punctuation");
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemTestWaiter *w;
  int semid;

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 0, SYSEM_ACCESS_MODE_CREATE);
  semid = sysem_test_stats (sem).id;

  w = sysem_test_waiter_start (sem, NULL, SYSEM_TEST_DEADLINE_USEC);

  qt = qt_spawn (qc->qt, key, "create", 1, NULL, &file);
  sysem_test_waiter_join_acquired (w);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  sysem_test_release (sem, 1);

  qt_exit (qt);
  sysem_test_assert_removed (sem);
  g_clear_object (&sem);
  assert_gone (file, semid);
}

/* sysem's Create mode sets the count of a set Qt made; Open leaves it. */
static void
test_sysem_create_resets (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "letters");
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) opener = NULL;
  g_autoptr(SysemSemaphore) creator = NULL;
  SysemStats stats;
  int semid;

  qt = qt_spawn (qc->qt, key, "open", 1, NULL, &file);
  sysem_test_helper_command (qt, "release 3", "released", NULL);

  opener = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 7, SYSEM_ACCESS_MODE_OPEN);
  stats = sysem_test_stats (opener);
  semid = stats.id;
  g_assert_cmpint (stats.n_sems, ==, 1);
  g_assert_cmpint (stats.value, ==, 4);

  creator = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 0, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpint (sysem_test_stats (creator).id, ==, semid);
  g_assert_cmpint (sysem_test_value (creator), ==, 0);
  g_assert_cmpint (sysem_test_value (opener), ==, 0);

  sysem_test_helper_command (qt, "acquire", "acquiring", NULL);
  sysem_test_wait_waiters (creator, 1);
  sysem_test_release (creator, 1);
  sysem_test_helper_expect_line (qt, "acquired");
  g_assert_cmpint (sysem_test_value (opener), ==, 0);

  /* Create took the Qt set over, as Qt's own Create does: the object that
   * did it removes the set when it goes. The Qt program ends after that
   * and finds nothing left to remove. */
  g_clear_object (&opener);
  g_assert_true (sysem_test_semid_exists (semid));
  g_clear_object (&creator);
  assert_gone (file, semid);

  qt_exit (qt);
  assert_gone (file, semid);
}

/* Qt opens a set sysem made without joining sysem's count of users, as Qt
 * knows nothing of it; so when sysem's last user leaves, the set goes
 * although a Qt program still has it open. That Qt program then does what
 * Qt does when a set vanishes: it makes a new one with its initial value,
 * which is Qt's to remove. Nothing is left at the end.
 *
 * The Qt helper is started before this process opens the key, so that it
 * is not a forked child of a sysem user. */
static void
test_sysem_leaves_first (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "letters");
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemStats stats;
  int semid, qt_semid;

  qt = qt_spawn_full (qc->qt, key, "open", 1, TRUE, NULL, &file);

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, file);
  semid = sysem_test_stats (sem).id;

  sysem_test_helper_command (qt, "open", "ready", NULL);
  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);

  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.users, ==, 1);
  g_assert_cmpint (stats.value, ==, 0);
  g_assert_cmpint (stats.last_pid, ==, sysem_test_helper_get_pid (qt));

  g_clear_object (&sem);
  assert_gone (file, semid);

  /* Qt's release finds the set gone, makes a new one with the initial
   * value 1 and adds its unit to it. */
  sysem_test_helper_command (qt, "release 1", "released", NULL);
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 0, SYSEM_ACCESS_MODE_OPEN);
  stats = sysem_test_stats (sem);
  qt_semid = stats.id;
  g_assert_cmpint (qt_semid, !=, semid);
  g_assert_cmpint (stats.n_sems, ==, 1);
  g_assert_cmpint (stats.value, ==, 2);
  g_clear_object (&sem);

  qt_exit (qt);
  assert_gone (file, qt_semid);
}

/* A Qt program forked from a process that has sysem semaphores open is
 * not counted as a user of them: it never used sysem, so the set goes when
 * sysem's last user leaves, even while the Qt program runs. */
static void
test_forked_qt_not_counted (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "letters");
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemStats stats;
  int semid;

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  semid = sysem_test_stats (sem).id;

  qt = qt_spawn (qc->qt, key, "open", 1, NULL, &file);
  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);
  sysem_test_helper_command (qt, "release 1", "released", NULL);

  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.users, ==, 1);
  g_assert_cmpint (stats.value, ==, 1);

  g_clear_object (&sem);
  assert_gone (file, semid);

  qt_exit (qt);
  assert_gone (file, semid);
}

/* A Qt program killed while it holds a unit gives it back: Qt acquires
 * with SEM_UNDO. */
static void
test_qt_killed (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "letters");
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  SysemTestWaiter *w;
  int semid;

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  semid = sysem_test_stats (sem).id;

  qt = qt_spawn (qc->qt, key, "open", 1, NULL, &file);
  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);

  w = sysem_test_waiter_start (sem, NULL, SYSEM_TEST_DEADLINE_USEC);

  g_assert_cmpint (sysem_test_helper_kill (qt), ==, 128 + SIGKILL);
  sysem_test_waiter_join_acquired (w);
  g_assert_cmpint (sysem_test_value (sem), ==, 0);
  sysem_test_release (sem, 1);

  g_clear_object (&sem);
  assert_gone (file, semid);
}

/* A Qt program that made the set and is killed while it holds a unit gives
 * the unit back, but leaves the set and its key file: Qt has no count of
 * users. sysem can see the unit come back, and remove what Qt left. */
static void
test_qt_creator_killed (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "unicode");
  g_autofree char *file = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  int semid;

  qt = qt_spawn (qc->qt, key, "open", 1, NULL, &file);
  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_OPEN);
  semid = sysem_test_stats (sem).id;
  g_assert_cmpint (sysem_test_value (sem), ==, 0);

  g_assert_cmpint (sysem_test_helper_kill (qt), ==, 128 + SIGKILL);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);
  g_assert_true (sysem_test_semid_exists (semid));
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));

  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  g_clear_object (&sem);
  assert_gone (file, semid);
}

/* With $TMPDIR naming a symbolic link to a directory, Qt and sysem both
 * resolve it and meet in the real directory. Run in a fresh process of its
 * own, so that $TMPDIR is changed before any thread exists. */
static void
test_tmpdir_symlink (gconstpointer data)
{
  const QtCase *qc = data;
  g_autofree char *key = sysem_test_key_of_kind ("qt", "letters");
  g_autofree char *dir = NULL;
  g_autofree char *real_dir = NULL;
  g_autofree char *link = NULL;
  g_autofree char *tmpdir = NULL;
  g_autofree char *old_tmpdir = g_strdup (g_getenv ("TMPDIR"));
  g_autofree char *qt_tmp = NULL;
  g_autofree char *file = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *name = NULL;
  g_autoptr(SysemTestHelper) qt = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  char *resolved;
  int semid;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  dir = g_dir_make_tmp ("sysemtest-qt-XXXXXX", &error);
  g_assert_no_error (error);
  resolved = realpath (dir, NULL);
  g_assert_nonnull (resolved);
  real_dir = g_strdup (resolved);
  free (resolved);

  link = g_strdup_printf ("%s/sysemtest-qtlink-%d-%u", g_get_tmp_dir (),
                          (int) getpid (), ++link_counter);
  g_assert_cmpint (symlink (real_dir, link), ==, 0);
  tmpdir = g_strconcat (link, qc->variant, NULL);
  g_setenv ("TMPDIR", tmpdir, TRUE);

  qt = qt_spawn (qc->qt, key, "open", 1, &qt_tmp, &file);
  g_test_message ("TMPDIR=%s: Qt's temporary directory is %s", tmpdir, qt_tmp);
  g_assert_cmpstr (qt_tmp, ==, real_dir);
  name = g_path_get_basename (file);
  expected = g_build_filename (real_dir, name, NULL);
  g_assert_cmpstr (file, ==, expected);
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, file);
  semid = sysem_test_stats (sem).id;
  g_assert_cmpint (sysem_test_stats (sem).n_sems, ==, 1);

  sysem_test_helper_command (qt, "acquire", "acquiring", "acquired", NULL);
  sysem_test_assert_no_unit (sem);
  sysem_test_helper_command (qt, "release 1", "released", NULL);
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);

  qt_exit (qt);
  g_clear_object (&sem);
  assert_gone (file, semid);

  if (old_tmpdir != NULL)
    g_setenv ("TMPDIR", old_tmpdir, TRUE);
  else
    g_unsetenv ("TMPDIR");
  g_assert_cmpint (unlink (link), ==, 0);
  g_assert_cmpint (rmdir (real_dir), ==, 0);
}

/* Adds one to the number in the file at @path. */
static void
add_one (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *next = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  next = g_strdup_printf ("%" G_GINT64_FORMAT "\n", g_ascii_strtoll (text, NULL, 10) + 1);
  g_file_set_contents_full (path, next, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
}

#define CONTENTION_ROUNDS 100
#define CONTENTION_QT_HELPERS 2   /* per Qt */
#define CONTENTION_THREADS 2

typedef struct {
  SysemSemaphore *sem;
  const char     *path;
} Counter;

static gpointer
counter_thread (gpointer data)
{
  Counter *c = data;

  for (int i = 0; i < CONTENTION_ROUNDS; i++)
    {
      sysem_test_acquire (c->sem);
      add_one (c->path);
      sysem_test_release (c->sem, 1);
    }

  return NULL;
}

/* Every Qt that was found (two programs each) and two sysem threads take
 * turns at a counter in a file, guarded by one semaphore of one unit: no
 * addition may be lost. */
static void
test_contention (void)
{
  g_autofree char *key = sysem_test_key_of_kind ("qt", "unicode");
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autofree char *command = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GPtrArray) helpers = g_ptr_array_new_with_free_func ((GDestroyNotify) sysem_test_helper_free);
  g_autoptr(GError) error = NULL;
  GThread *threads[CONTENTION_THREADS];
  const QtBuild *builds[] = {
#ifdef QT5_SEM_HELPER
    &qt5_build,
#endif
#ifdef QT6_SEM_HELPER
    &qt6_build,
#endif
  };
  Counter counter;
  char *native;
  int fd, semid;

  fd = g_file_open_tmp ("sysemtest-qt-count-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, "0\n", -1, &error);
  g_assert_no_error (error);

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  semid = sysem_test_stats (sem).id;
  native = g_strdup (sysem_semaphore_get_native_key (sem));

  for (guint b = 0; b < G_N_ELEMENTS (builds); b++)
    for (guint i = 0; i < CONTENTION_QT_HELPERS; i++)
      g_ptr_array_add (helpers, qt_spawn (builds[b], key, "open", 1, NULL, NULL));

  command = g_strdup_printf ("count %s %d", path, CONTENTION_ROUNDS);
  for (guint i = 0; i < helpers->len; i++)
    sysem_test_helper_send (helpers->pdata[i], command);

  counter.sem = sem;
  counter.path = path;
  for (guint i = 0; i < CONTENTION_THREADS; i++)
    threads[i] = g_thread_new ("sysem-counter", counter_thread, &counter);

  for (guint i = 0; i < helpers->len; i++)
    sysem_test_helper_expect_line (helpers->pdata[i], "counted");
  for (guint i = 0; i < CONTENTION_THREADS; i++)
    g_thread_join (threads[i]);

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_ascii_strtoll (text, NULL, 10), ==,
                   (gint64) CONTENTION_ROUNDS * (helpers->len + CONTENTION_THREADS));
  g_assert_cmpint (sysem_test_value (sem), ==, 1);

  for (guint i = 0; i < helpers->len; i++)
    qt_exit (helpers->pdata[i]);
  g_clear_object (&sem);
  assert_gone (native, semid);
  g_free (native);
  g_assert_cmpint (unlink (path), ==, 0);
}

#if defined(QT5_SEM_HELPER) && defined(QT6_SEM_HELPER)
/* Qt 5, Qt 6 and sysem, three programs on one semaphore. */
static void
test_qt5_and_qt6 (void)
{
  g_autofree char *key = sysem_test_key_of_kind ("qt", "unicode");
  g_autofree char *file5 = NULL;
  g_autofree char *file6 = NULL;
  g_autoptr(SysemTestHelper) qt5 = NULL;
  g_autoptr(SysemTestHelper) qt6 = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  int semid;

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  semid = sysem_test_stats (sem).id;

  qt5 = qt_spawn (&qt5_build, key, "open", 1, NULL, &file5);
  qt6 = qt_spawn (&qt6_build, key, "open", 1, NULL, &file6);
  g_assert_cmpstr (file5, ==, sysem_semaphore_get_native_key (sem));
  g_assert_cmpstr (file6, ==, file5);

  sysem_test_helper_command (qt5, "acquire", "acquiring", "acquired", NULL);

  sysem_test_helper_command (qt6, "acquire", "acquiring", NULL);
  sysem_test_wait_waiters (sem, 1);

  sysem_test_helper_command (qt5, "release 1", "released", NULL);
  sysem_test_helper_expect_line (qt6, "acquired");
  sysem_test_assert_no_unit (sem);

  sysem_test_helper_command (qt6, "release 1", "released", NULL);
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);

  qt_exit (qt5);
  qt_exit (qt6);
  g_assert_cmpint (sysem_test_value (sem), ==, 1);
  g_clear_object (&sem);
  assert_gone (file5, semid);
}
#endif

static QtCase *
new_case (const QtBuild *qt)
{
  QtCase *qc = g_new0 (QtCase, 1);

  qc->qt = qt;
  g_ptr_array_add (cases, qc);

  return qc;
}

static void
add_qt_tests (const QtBuild *qt)
{
  static const char * const key_kinds[] = { "letters", "punctuation", "unicode" };
  /* $TMPDIR: the link itself, with a trailing slash, and through "." */
  static const char * const tmpdir_suffixes[] = { "", "/", "/." };

  for (guint i = 0; i < G_N_ELEMENTS (key_kinds); i++)
    {
      QtCase *qc = new_case (qt);
      g_autofree char *path = NULL;

      qc->variant = key_kinds[i];

      path = g_strdup_printf ("/%s/qt-holds/%s", qt->name, key_kinds[i]);
      g_test_add_data_func (path, qc, test_qt_holds);
      g_free (path);
      path = g_strdup_printf ("/%s/sysem-holds/%s", qt->name, key_kinds[i]);
      g_test_add_data_func (path, qc, test_sysem_holds);
    }

  for (guint i = 0; i < G_N_ELEMENTS (tmpdir_suffixes); i++)
    {
      QtCase *qc = new_case (qt);
      g_autofree char *path = NULL;

      qc->variant = tmpdir_suffixes[i];
      path = g_strdup_printf ("/%s/tmpdir-symlink/%u", qt->name, i);
      g_test_add_data_func (path, qc, test_tmpdir_symlink);
    }

  {
    QtCase *qc = new_case (qt);
    g_autofree char *path = NULL;

    path = g_strdup_printf ("/%s/qt-create-resets", qt->name);
    g_test_add_data_func (path, qc, test_qt_create_resets);
    g_free (path);
    path = g_strdup_printf ("/%s/qt-create-wakes", qt->name);
    g_test_add_data_func (path, qc, test_qt_create_wakes);
    g_free (path);
    path = g_strdup_printf ("/%s/sysem-create-resets", qt->name);
    g_test_add_data_func (path, qc, test_sysem_create_resets);
    g_free (path);
    path = g_strdup_printf ("/%s/sysem-leaves-first", qt->name);
    g_test_add_data_func (path, qc, test_sysem_leaves_first);
    g_free (path);
    path = g_strdup_printf ("/%s/forked-qt-not-counted", qt->name);
    g_test_add_data_func (path, qc, test_forked_qt_not_counted);
    g_free (path);
    path = g_strdup_printf ("/%s/qt-killed", qt->name);
    g_test_add_data_func (path, qc, test_qt_killed);
    g_free (path);
    path = g_strdup_printf ("/%s/qt-creator-killed", qt->name);
    g_test_add_data_func (path, qc, test_qt_creator_killed);
  }
}

int
main (int    argc,
      char **argv)
{
  int ret;

  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);
  cases = g_ptr_array_new_with_free_func (g_free);

#ifdef QT5_SEM_HELPER
  add_qt_tests (&qt5_build);
#endif
#ifdef QT6_SEM_HELPER
  add_qt_tests (&qt6_build);
#endif
#if defined(QT5_SEM_HELPER) && defined(QT6_SEM_HELPER)
  g_test_add_func ("/qt5-and-qt6/one-semaphore", test_qt5_and_qt6);
#endif
  g_test_add_func ("/qt-and-sysem/contention", test_contention);

  ret = g_test_run ();
  g_ptr_array_unref (cases);

  return ret;
}
