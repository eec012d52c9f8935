/* test-lifetime.c: who removes a semaphore, and what a crash leaves
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

#include "sysem-test-util.h"

/* System V: the last object to close removes the set and the key file. */

static void
test_last_closer_removes_system_v (SysemTestFixture *fixture)
{
  SysemSemaphore *a, *b;
  SysemStats stats;

  a = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  b = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_OPEN);
  stats = sysem_test_stats (a);
  g_assert_cmpint (stats.n_sems, ==, 3);   /* count, users, kick (1.1) */
  g_assert_cmpint (stats.users, ==, 2);
  g_assert_cmpint (stats.mode, ==, 0600);

  /* The creator leaves first: the other object keeps the set alive. */
  g_object_unref (a);
  g_assert_true (sysem_test_semid_exists (stats.id));
  g_assert_false (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V));
  g_assert_cmpint (sysem_test_stats (b).users, ==, 1);
  sysem_test_acquire (b);
  sysem_test_release (b, 1);

  g_object_unref (b);
  g_assert_false (sysem_test_semid_exists (stats.id));
}

/* The same, with the other object in another process. */
static void
test_last_closer_other_process_system_v (SysemTestFixture *fixture)
{
  SysemSemaphore *sem;
  SysemTestHelper *helper;
  SysemStats stats;

  sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  stats = sysem_test_stats (sem);
  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "wait", NULL);
  sysem_test_helper_expect_line (helper, "waiting");
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 2);

  g_object_unref (sem);
  g_assert_true (sysem_test_semid_exists (stats.id));
  g_assert_false (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V));

  /* The helper finalizes its object and removes everything. */
  sysem_test_helper_close_stdin (helper);
  sysem_test_helper_complete (helper, NULL);
  g_assert_false (sysem_test_semid_exists (stats.id));
}

/* POSIX: the last user unlinks it, whoever created it. */

static void
test_creator_unlinks_posix (SysemTestFixture *fixture)
{
  SysemSemaphore *creator, *user;

  /* The opener leaves first: the other one still uses it. */
  creator = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_OPEN);
  user = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_OPEN);
  g_object_unref (user);
  g_assert_false (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_POSIX));
  sysem_test_acquire (creator);
  sysem_test_release (creator, 1);
  g_object_unref (creator);
  sysem_test_assert_key_clean (fixture->key, SYSEM_KEY_TYPE_POSIX);

  /* The creator leaves first: the name stays for the other user, who
   * removes it when it leaves. */
  creator = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  user = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_OPEN);
  g_object_unref (creator);
  g_assert_false (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_POSIX));
  sysem_test_acquire (user);
  sysem_test_release (user, 1);
  g_object_unref (user);
  sysem_test_assert_key_clean (fixture->key, SYSEM_KEY_TYPE_POSIX);
}

/* A helper that created a POSIX semaphore leaves it to the user that is
 * left, who removes it. */
static void
test_creator_process_unlinks_posix (SysemTestFixture *fixture)
{
  SysemTestHelper *helper;
  SysemSemaphore *sem;

  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_POSIX, fixture->key, "--value", "2", "wait",
                                    NULL);
  sysem_test_helper_expect_line (helper, "waiting");
  sem = sysem_test_fixture_open (fixture, 7, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (sem, 2);

  sysem_test_helper_close_stdin (helper);
  sysem_test_helper_complete (helper, NULL);
  g_assert_false (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_POSIX));
  sysem_test_assert_value (sem, 2);

  g_object_unref (sem);
  sysem_test_assert_key_clean (fixture->key, SYSEM_KEY_TYPE_POSIX);
}

/* A set made by Qt: one semaphore, ftok (file, 'Q'). */

static int
make_qt_set (const char *key,
             int         value)
{
  g_autofree char *path = sysem_test_key_path (key, SYSEM_KEY_TYPE_SYSTEM_V);
  key_t ipc_key;
  int fd, semid;

  fd = open (path, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0640);
  g_assert_cmpint (fd, >=, 0);
  close (fd);

  ipc_key = ftok (path, 'Q');
  g_assert_cmpint (ipc_key, !=, -1);
  semid = semget (ipc_key, 1, IPC_CREAT | IPC_EXCL | 0600);
  g_assert_cmpint (semid, >=, 0);
  g_assert_cmpint (semctl (semid, 0, SETVAL, value), ==, 0);

  return semid;
}

static void
remove_qt_set (const char *key,
               int         semid)
{
  g_autofree char *path = sysem_test_key_path (key, SYSEM_KEY_TYPE_SYSTEM_V);

  g_assert_cmpint (semctl (semid, 0, IPC_RMID), ==, 0);
  g_assert_cmpint (unlink (path), ==, 0);
}

static void
test_qt_set_open_keeps_it (SysemTestFixture *fixture)
{
  int semid = make_qt_set (fixture->key, 2);
  SysemSemaphore *sem, *second;
  SysemStats stats;

  sem = sysem_test_fixture_open (fixture, 9, SYSEM_ACCESS_MODE_OPEN);
  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.id, ==, semid);
  g_assert_cmpint (stats.n_sems, ==, 1);
  g_assert_cmpint (stats.users, ==, -1);
  sysem_test_assert_value (sem, 2);

  sysem_test_acquire (sem);
  g_assert_cmpint (semctl (semid, 0, GETVAL), ==, 1);
  sysem_test_release (sem, 1);

  second = sysem_test_fixture_open (fixture, 9, SYSEM_ACCESS_MODE_OPEN);
  g_object_unref (second);
  g_object_unref (sem);

  /* Not ours to remove: the Qt program that made it will. */
  g_assert_true (sysem_test_semid_exists (semid));
  g_assert_false (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V));
  g_assert_cmpint (semctl (semid, 0, GETVAL), ==, 2);

  remove_qt_set (fixture->key, semid);
}

static void
test_qt_set_create_takes_it (SysemTestFixture *fixture)
{
  int semid = make_qt_set (fixture->key, 2);
  SysemSemaphore *sem;

  /* Create takes a Qt set over, as a Qt Create would. */
  sem = sysem_test_fixture_open (fixture, 5, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpint (sysem_test_stats (sem).id, ==, semid);
  sysem_test_assert_value (sem, 5);
  g_assert_cmpint (semctl (semid, 0, GETVAL), ==, 5);
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);

  g_object_unref (sem);
  g_assert_false (sysem_test_semid_exists (semid));
}

/* Crashes (System V) */

static void
test_killed_holder_gives_back (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 3, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;

  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "acquire", "2", "wait",
                                    NULL);
  for (int i = 0; i < 2; i++)
    {
      sysem_test_helper_expect_line (helper, "acquiring");
      sysem_test_helper_expect_line (helper, "acquired");
    }
  sysem_test_helper_expect_line (helper, "waiting");
  sysem_test_assert_value (sem, 1);
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 2);

  g_assert_cmpint (sysem_test_helper_kill (helper), ==, 128 + SIGKILL);
  sysem_test_helper_free (helper);
  sysem_test_assert_value (sem, 3);
  g_assert_cmpint (sysem_test_stats (sem).users, ==, 1);

  /* Acquired 2, released 1 of them, killed: the other comes back. */
  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key,
                                    "acquire", "2", "release", "1", "wait", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_helper_expect_line (helper, "acquired");
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_helper_expect_line (helper, "acquired");
  sysem_test_helper_expect_line (helper, "released");
  sysem_test_helper_expect_line (helper, "waiting");
  sysem_test_assert_value (sem, 2);
  g_assert_cmpint (sysem_test_helper_kill (helper), ==, 128 + SIGKILL);
  sysem_test_helper_free (helper);
  sysem_test_assert_value (sem, 3);

  g_object_unref (sem);
}

static void
test_released_units_stay (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;

  /* Released and exited. */
  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "release", "2", NULL);
  sysem_test_helper_complete (helper, "released");
  sysem_test_assert_value (sem, 2);

  /* Acquired 1, released 2, exited: one unit more than before. */
  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "acquire", "1",
                                    "release", "2", NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_helper_expect_line (helper, "acquired");
  sysem_test_helper_complete (helper, "released");
  sysem_test_assert_value (sem, 3);

  /* Released and killed. */
  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "release", "2", "wait",
                                    NULL);
  sysem_test_helper_expect_line (helper, "released");
  sysem_test_helper_expect_line (helper, "waiting");
  g_assert_cmpint (sysem_test_helper_kill (helper), ==, 128 + SIGKILL);
  sysem_test_helper_free (helper);
  sysem_test_assert_value (sem, 5);

  g_object_unref (sem);
}

static void
test_all_users_killed (SysemTestFixture *fixture)
{
  SysemTestHelper *helpers[3];
  SysemSemaphore *sem;
  SysemStats stats;

  /* The first helper creates the set with 4 units and takes one. */
  helpers[0] = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "--value", "4",
                                        "acquire", "1", "wait", NULL);
  sysem_test_helper_expect_line (helpers[0], "acquiring");
  sysem_test_helper_expect_line (helpers[0], "acquired");
  sysem_test_helper_expect_line (helpers[0], "waiting");
  for (int i = 1; i < 3; i++)
    {
      helpers[i] = sysem_test_helper_start (SYSEM_KEY_TYPE_SYSTEM_V, fixture->key, "wait", NULL);
      sysem_test_helper_expect_line (helpers[i], "waiting");
    }

  for (int i = 0; i < 3; i++)
    {
      g_assert_cmpint (sysem_test_helper_kill (helpers[i]), ==, 128 + SIGKILL);
      sysem_test_helper_free (helpers[i]);
    }

  /* Nobody removed the set: its users were killed. */
  g_assert_false (sysem_test_key_is_clean (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V));

  sem = sysem_test_fixture_open (fixture, 9, SYSEM_ACCESS_MODE_OPEN);
  stats = sysem_test_stats (sem);
  g_assert_cmpint (stats.users, ==, 1);
  g_assert_cmpint (stats.n_sems, ==, 3);   /* count, users, kick (1.1) */
  g_assert_cmpint (stats.value, ==, 4);

  /* The next opener is the last closer. */
  g_object_unref (sem);
  g_assert_false (sysem_test_semid_exists (stats.id));
}

/* POSIX: sysem's holder ledger gives back what a killed holder held (Qt
 * and glibc lose it). */
static void
test_killed_holder_gives_back_posix (SysemTestFixture *fixture)
{
  SysemSemaphore *sem = sysem_test_fixture_open (fixture, 3, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;

  helper = sysem_test_helper_start (SYSEM_KEY_TYPE_POSIX, fixture->key, "acquire", "1", "wait",
                                    NULL);
  sysem_test_helper_expect_line (helper, "acquiring");
  sysem_test_helper_expect_line (helper, "acquired");
  sysem_test_helper_expect_line (helper, "waiting");
  g_assert_cmpint (sysem_test_helper_kill (helper), ==, 128 + SIGKILL);
  sysem_test_helper_free (helper);
  sysem_test_assert_value (sem, 3);

  g_object_unref (sem);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add ("/core/system-v/lifetime/last-closer-removes", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_last_closer_removes_system_v);
  sysem_test_add ("/core/system-v/lifetime/last-closer-in-other-process", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_last_closer_other_process_system_v);
  sysem_test_add ("/core/posix/lifetime/last-user-unlinks", SYSEM_KEY_TYPE_POSIX,
                  test_creator_unlinks_posix);
  sysem_test_add ("/core/posix/lifetime/last-process-unlinks", SYSEM_KEY_TYPE_POSIX,
                  test_creator_process_unlinks_posix);
  sysem_test_add ("/core/system-v/lifetime/qt-set-open-keeps-it", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_qt_set_open_keeps_it);
  sysem_test_add ("/core/system-v/lifetime/qt-set-create-takes-it", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_qt_set_create_takes_it);
  sysem_test_add ("/core/system-v/crash/killed-holder-gives-back", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_killed_holder_gives_back);
  sysem_test_add ("/core/system-v/crash/released-units-stay", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_released_units_stay);
  sysem_test_add ("/core/system-v/crash/all-users-killed", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_all_users_killed);
  sysem_test_add ("/core/posix/crash/killed-holder-gives-back", SYSEM_KEY_TYPE_POSIX,
                  test_killed_holder_gives_back_posix);

  return g_test_run ();
}
