/* test-properties.c: GObject construction, properties, notify, key names
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"

#define MARKET_NAME "qipc_systemsem_market5c9f73af73334ffe350c60ec076e5744db0ecda3"

static SysemSemaphore *
new_uninitialised (const char      *key,
                   SysemKeyType     key_type,
                   int              initial_value,
                   SysemAccessMode  mode)
{
  return g_object_new (SYSEM_TYPE_SEMAPHORE,
                       "key", key,
                       "key-type", key_type,
                       "initial-value", initial_value,
                       "mode", mode,
                       NULL);
}

/* g_object_new() without g_initable_init(): opened on first use. */

static void
test_open_on_first_use (SysemTestFixture *fixture)
{
  g_autofree char *path = sysem_test_key_path (fixture->key, fixture->key_type);
  SysemSemaphore *sem, *other;

  sem = new_uninitialised (fixture->key, fixture->key_type, 2, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), !=, NULL);
  sysem_test_assert_key_clean (fixture->key, fixture->key_type);

  sysem_test_assert_value (sem, 2);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

  /* Another one whose first use is acquire(). */
  other = new_uninitialised (fixture->key, fixture->key_type, 7, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_acquire (other);
  sysem_test_assert_value (sem, 1);
  sysem_test_release (other, 1);
  g_object_unref (other);

  g_object_unref (sem);
}

static void
assert_every_use_fails (SysemSemaphore *sem,
                        int             code)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, code);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, code);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_release (sem, 1, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, code);
  g_clear_error (&error);
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, code);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_remove (sem, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, code);
  g_clear_error (&error);
  g_assert_false (g_initable_init (G_INITABLE (sem), NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, code);
}

static void
test_errors_on_first_use (SysemTestFixture *fixture)
{
  SysemSemaphore *sem;

  sem = new_uninitialised ("", fixture->key_type, 0, SYSEM_ACCESS_MODE_OPEN);
  g_assert_null (sysem_semaphore_get_native_key (sem));
  assert_every_use_fails (sem, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_object_unref (sem);

  /* No key at all. */
  sem = g_object_new (SYSEM_TYPE_SEMAPHORE, "key-type", fixture->key_type, NULL);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_false (sysem_semaphore_acquire (sem, NULL, NULL));
  g_assert_false (sysem_semaphore_release (sem, 1, NULL));
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
    g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  }
  g_object_unref (sem);

  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    {
      g_autofree char *key = sysem_test_key ("firstusetoobig");

      sem = new_uninitialised (key, fixture->key_type, 32768, SYSEM_ACCESS_MODE_CREATE);
      assert_every_use_fails (sem, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES);
      g_object_unref (sem);
      sysem_test_assert_key_clean (key, fixture->key_type);
    }
}

/* Properties are readable and agree with the getters. */

static void
test_properties (SysemTestFixture *fixture)
{
  g_autofree char *name = sysem_test_legacy_name (fixture->key);
  g_autofree char *dir = sysem_test_temp_dir ();
  g_autofree char *expected = NULL;
  g_autofree char *p_key = NULL;
  g_autofree char *p_native = NULL;
  int p_value;
  SysemAccessMode p_mode;
  SysemKeyType p_type;
  SysemSemaphore *sem;

  if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    expected = g_build_filename (dir, name, NULL);
  else
    expected = g_strconcat ("/", name, NULL);

  sem = sysem_test_fixture_open (fixture, 3, SYSEM_ACCESS_MODE_CREATE);
  g_object_get (sem,
                "key", &p_key,
                "native-key", &p_native,
                "initial-value", &p_value,
                "mode", &p_mode,
                "key-type", &p_type,
                NULL);

  g_assert_cmpstr (p_key, ==, fixture->key);
  g_assert_cmpstr (p_native, ==, expected);
  g_assert_cmpint (p_value, ==, 3);
  g_assert_cmpint (p_mode, ==, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpint (p_type, ==, fixture->key_type);

  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, fixture->key);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, expected);
  g_assert_cmpint (sysem_semaphore_get_initial_value (sem), ==, 3);
  g_assert_cmpint (sysem_semaphore_get_mode (sem), ==, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, fixture->key_type);

  g_assert_true (G_TYPE_IS_ENUM (SYSEM_TYPE_ACCESS_MODE));
  g_assert_true (G_TYPE_IS_ENUM (SYSEM_TYPE_KEY_TYPE));
  g_assert_true (G_TYPE_IS_ENUM (SYSEM_TYPE_SEMAPHORE_ERROR));
  g_assert_true (G_IS_INITABLE (sem));

  g_object_unref (sem);
}

/* notify: once for each property that changed, never for the others. */

static void
notify_cb (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  GPtrArray *names = user_data;

  g_ptr_array_add (names, g_strdup (pspec->name));
}

static void
assert_notified (GPtrArray  *names,
                 const char *expected)
{
  g_autoptr(GString) got = g_string_new (NULL);

  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (got, "%s%s", i ? " " : "", (char *) names->pdata[i]);
  g_assert_cmpstr (got->str, ==, expected);
  g_ptr_array_set_size (names, 0);
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

static void
assert_notified_sorted (GPtrArray  *names,
                        const char *expected)
{
  g_ptr_array_sort (names, compare_strings);
  assert_notified (names, expected);
}

static void
test_notify (SysemTestFixture *fixture)
{
  SysemKeyType other_type = fixture->key_type == SYSEM_KEY_TYPE_POSIX ? SYSEM_KEY_TYPE_SYSTEM_V
                                                                       : SYSEM_KEY_TYPE_POSIX;
  g_autofree char *one = sysem_test_key ("notifyone");
  g_autofree char *two = sysem_test_key ("notifytwo");
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;

  sem = sysem_test_open (one, fixture->key_type, 1, SYSEM_ACCESS_MODE_OPEN);
  g_signal_connect (sem, "notify", G_CALLBACK (notify_cb), names);

  /* Nothing changes. */
  g_assert_true (sysem_semaphore_set_key (sem, one, 1, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  assert_notified_sorted (names, "");

  /* Another key. */
  g_assert_true (sysem_semaphore_set_key (sem, two, 1, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  assert_notified_sorted (names, "key native-key");

  /* The same key, another value and mode. */
  g_assert_true (sysem_semaphore_set_key (sem, two, 4, SYSEM_ACCESS_MODE_CREATE, &error));
  g_assert_no_error (error);
  assert_notified_sorted (names, "initial-value mode");
  sysem_test_assert_value (sem, 4);

  /* The same again, in Create mode: reset, but nothing changed. */
  sysem_test_acquire (sem);
  g_assert_true (sysem_semaphore_set_key (sem, two, 4, SYSEM_ACCESS_MODE_CREATE, &error));
  g_assert_no_error (error);
  assert_notified_sorted (names, "");
  sysem_test_assert_value (sem, 4);

  /* Another key type. */
  g_assert_true (sysem_semaphore_set_key_full (sem, two, other_type, 4,
                                               SYSEM_ACCESS_MODE_CREATE, &error));
  g_assert_no_error (error);
  assert_notified_sorted (names, "key-type native-key");
  sysem_test_assert_key_clean (two, fixture->key_type);

  /* Back, with everything changed. */
  g_assert_true (sysem_semaphore_set_key_full (sem, one, fixture->key_type, 1,
                                               SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  assert_notified_sorted (names, "initial-value key key-type mode native-key");
  sysem_test_assert_key_clean (two, other_type);

  /* No key. */
  g_assert_true (sysem_semaphore_set_key (sem, NULL, 1, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  assert_notified_sorted (names, "key native-key");
  sysem_test_assert_key_clean (one, fixture->key_type);

  g_signal_handlers_disconnect_by_func (sem, notify_cb, names);
  g_object_unref (sem);
}

/* Native keys are Qt's. */

static void
test_native_key_market (void)
{
  g_autofree char *dir = sysem_test_temp_dir ();
  g_autofree char *expected = g_build_filename (dir, MARKET_NAME, NULL);
  SysemSemaphore *sem;

  /* Never opened: "market" is not a test key, nothing may be made. */
  sem = new_uninitialised ("market", SYSEM_KEY_TYPE_SYSTEM_V, 0, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, expected);
  g_object_unref (sem);

  sem = new_uninitialised ("market", SYSEM_KEY_TYPE_POSIX, 0, SYSEM_ACCESS_MODE_OPEN);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, "/" MARKET_NAME);
  g_object_unref (sem);

  /* Only ASCII letters are kept; the hash is of the UTF-8 bytes. */
  sem = new_uninitialised ("Grüße, 1-2 Zoë", SYSEM_KEY_TYPE_POSIX, 0, SYSEM_ACCESS_MODE_OPEN);
  g_assert_true (g_str_has_prefix (sysem_semaphore_get_native_key (sem),
                                   "/qipc_systemsem_GreZo"));
  {
    g_autofree char *name = sysem_test_legacy_name ("Grüße, 1-2 Zoë");

    g_assert_cmpstr (sysem_semaphore_get_native_key (sem) + 1, ==, name);
    g_assert_cmpuint (strlen (name), ==, strlen ("qipc_systemsem_GreZo") + 40);
  }
  g_object_unref (sem);
}

/* $TMPDIR is followed, with its links resolved, as Qt's tempPath(). */
static void
test_native_key_tmpdir (SysemTestFixture *fixture)
{
  g_autofree char *old_tmpdir = g_strdup (g_getenv ("TMPDIR"));
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sysemtest-dir-XXXXXX", &error);
  g_autofree char *real_dir = NULL;
  g_autofree char *link = NULL;
  g_autofree char *name = sysem_test_legacy_name (fixture->key);
  g_autofree char *expected = NULL;
  SysemSemaphore *sem;
  char *resolved;

  g_assert_no_error (error);
  resolved = realpath (dir, NULL);
  real_dir = g_strdup (resolved);
  free (resolved);
  link = g_strconcat (dir, "-link", NULL);
  g_assert_cmpint (symlink (dir, link), ==, 0);
  expected = g_build_filename (real_dir, name, NULL);

  g_setenv ("TMPDIR", link, TRUE);
  sem = sysem_test_fixture_open (fixture, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, expected);
  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);
  g_object_unref (sem);
  g_assert_false (g_file_test (expected, G_FILE_TEST_EXISTS));
  sysem_test_assert_key_clean (fixture->key, SYSEM_KEY_TYPE_SYSTEM_V);

  if (old_tmpdir != NULL)
    g_setenv ("TMPDIR", old_tmpdir, TRUE);
  else
    g_unsetenv ("TMPDIR");

  g_assert_cmpint (unlink (link), ==, 0);
  g_assert_cmpint (rmdir (dir), ==, 0);
}

/* Native keys are used as given. */

static void
test_new_native_system_v (SysemTestFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sysemtest-native-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "sysemtest-native-key", NULL);
  SysemSemaphore *sem, *other;

  g_assert_no_error (error);
  sem = sysem_semaphore_new_native (path, SYSEM_KEY_TYPE_SYSTEM_V, 3,
                                    SYSEM_ACCESS_MODE_CREATE, &error);
  g_assert_no_error (error);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, path);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, SYSEM_KEY_TYPE_SYSTEM_V);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  sysem_test_assert_value (sem, 3);

  other = sysem_semaphore_new_native (path, SYSEM_KEY_TYPE_SYSTEM_V, 0,
                                      SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_no_error (error);
  sysem_test_acquire (other);
  sysem_test_assert_value (sem, 2);
  g_object_unref (other);

  g_object_unref (sem);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (rmdir (dir), ==, 0);
}

static void
test_new_native_posix (SysemTestFixture *fixture)
{
  g_autofree char *name = sysem_test_key ("native");
  g_autofree char *slashed = g_strconcat ("/", name, NULL);
  g_autofree char *path = g_strconcat ("/dev/shm/sem.", name, NULL);
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem, *other;

  sem = sysem_semaphore_new_native (name, SYSEM_KEY_TYPE_POSIX, 3,
                                    SYSEM_ACCESS_MODE_CREATE, &error);
  g_assert_no_error (error);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, slashed);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));

  /* With its slash, as Qt 6.6's platformSafeKey() gives it. */
  other = sysem_semaphore_new_native (slashed, SYSEM_KEY_TYPE_POSIX, 0,
                                      SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sysem_semaphore_get_native_key (other), ==, slashed);
  sysem_test_acquire (other);
  sysem_test_assert_value (sem, 2);
  g_object_unref (other);

  g_object_unref (sem);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/core/{system-v}/construction/open-on-first-use", test_open_on_first_use);
  sysem_test_add_both_types ("/core/{system-v}/construction/errors-on-first-use", test_errors_on_first_use);
  sysem_test_add_both_types ("/core/{system-v}/properties/readable", test_properties);
  sysem_test_add_both_types ("/core/{system-v}/properties/notify", test_notify);
  g_test_add_func ("/core/native-key/market", test_native_key_market);
  sysem_test_add ("/core/system-v/native-key/tmpdir", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_native_key_tmpdir);
  sysem_test_add ("/core/system-v/native-key/new-native", SYSEM_KEY_TYPE_SYSTEM_V,
                  test_new_native_system_v);
  sysem_test_add ("/core/posix/native-key/new-native", SYSEM_KEY_TYPE_POSIX,
                  test_new_native_posix);

  return g_test_run ();
}
