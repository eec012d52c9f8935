/* test-hostile.c: bad keys, bad counts and bad native keys
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tables of inputs, each with what must happen: success (and nothing left
 * behind afterwards), or a GError with the expected code whose message
 * names the key. Programmer errors (negative counts) are criticals.
 */

#include <limits.h>

#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"
#include "sysem-key-private.h"

#define MEGABYTE (1024 * 1024)

/* Keys */

typedef enum {
  KEY_EMPTY,
  KEY_MEGABYTE_OF_LETTERS,
  KEY_MEGABYTE_OF_PUNCTUATION,
  KEY_INVALID_UTF8,
  KEY_TRUNCATED_UTF8,
  KEY_ONLY_PUNCTUATION,
  KEY_SLASH,
  KEY_DOT_DOT,
  KEY_ETC_PASSWD,
  KEY_CONTROL_CHARACTERS,
  KEY_NON_ASCII,
  KEY_LETTERS_POSIX_MAX,     /* the longest name POSIX allows */
  KEY_LETTERS_POSIX_OVER,
  KEY_LETTERS_SYSV_MAX,      /* the longest file name */
  KEY_LETTERS_SYSV_OVER,
} KeyKind;

typedef struct {
  const char *name;
  KeyKind     kind;
  int         sysv_code;   /* 0: success */
  int         posix_code;
} KeyCase;

#define OK 0
#define KEY SYSEM_SEMAPHORE_ERROR_KEY_ERROR
#define RESOURCES SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES

/* The legacy name is "qipc_systemsem_" (15), the key's letters, 40 hex
 * digits: POSIX allows 251 bytes of name, so 196 letters; a file name may
 * have 255 bytes, so 200 letters. */
static const KeyCase key_cases[] = {
  { "empty",                KEY_EMPTY,                   KEY, KEY },
  { "megabyte-letters",     KEY_MEGABYTE_OF_LETTERS,     KEY, KEY },
  { "megabyte-punctuation", KEY_MEGABYTE_OF_PUNCTUATION, OK,  OK },
  { "invalid-utf8",         KEY_INVALID_UTF8,            KEY, KEY },
  { "truncated-utf8",       KEY_TRUNCATED_UTF8,          KEY, KEY },
  { "only-punctuation",     KEY_ONLY_PUNCTUATION,        OK,  OK },
  { "slash",                KEY_SLASH,                   OK,  OK },
  { "dot-dot",              KEY_DOT_DOT,                 OK,  OK },
  { "etc-passwd",           KEY_ETC_PASSWD,              OK,  OK },
  { "control-characters",   KEY_CONTROL_CHARACTERS,      OK,  OK },
  { "non-ascii",            KEY_NON_ASCII,               OK,  OK },
  { "letters-posix-max",    KEY_LETTERS_POSIX_MAX,       OK,  OK },
  { "letters-posix-over",   KEY_LETTERS_POSIX_OVER,      OK,  KEY },
  { "letters-sysv-max",     KEY_LETTERS_SYSV_MAX,        OK,  KEY },
  { "letters-sysv-over",    KEY_LETTERS_SYSV_OVER,       KEY, KEY },
};

/* Keys with letters start with "sysemtest"; all are unique (pid and a
 * counter, in digits, which are not letters). */
static char *
make_key (KeyKind kind)
{
  g_autofree char *tag = sysem_test_unique_suffix ();

  switch (kind)
    {
    case KEY_EMPTY:
      return g_strdup ("");
    case KEY_MEGABYTE_OF_LETTERS:
    case KEY_MEGABYTE_OF_PUNCTUATION:
      {
        char *key = g_malloc (MEGABYTE + 1);
        gsize len = strlen (tag);

        memset (key, kind == KEY_MEGABYTE_OF_LETTERS ? 'k' : '.', MEGABYTE);
        memcpy (key, tag, len);
        key[MEGABYTE] = '\0';
        return key;
      }
    case KEY_INVALID_UTF8:
      return g_strdup_printf ("sysemtest-\xff\xfe-bad-%s", tag);
    case KEY_TRUNCATED_UTF8:
      return g_strdup_printf ("sysemtest-%s-\xc3", tag);
    case KEY_ONLY_PUNCTUATION:
      return g_strdup_printf ("!@#$%%^&*()-_=+[]{};:'\",.<>?|~`-%s", tag);
    case KEY_SLASH:
      return g_strdup_printf ("sysemtest-a/b-%s", tag);
    case KEY_DOT_DOT:
      return g_strdup_printf ("..%s", tag);
    case KEY_ETC_PASSWD:
      return g_strdup_printf ("../../etc/passwd-%s", tag);
    case KEY_CONTROL_CHARACTERS:
      return g_strdup_printf ("sysemtest-\n\t\r\x1b-%s", tag);
    case KEY_NON_ASCII:
      return g_strdup_printf ("sysemtest-Ünïcödé-日本語-🙂-%s", tag);
    case KEY_LETTERS_POSIX_MAX:
    case KEY_LETTERS_POSIX_OVER:
    case KEY_LETTERS_SYSV_MAX:
    case KEY_LETTERS_SYSV_OVER:
      {
        int letters = kind == KEY_LETTERS_POSIX_MAX ? 196 :
                      kind == KEY_LETTERS_POSIX_OVER ? 197 :
                      kind == KEY_LETTERS_SYSV_MAX ? 200 : 201;
        g_autofree char *more = g_strnfill (letters - strlen ("sysemtest"), 'z');

        return g_strdup_printf ("sysemtest%s-%s", more, tag);
      }
    default:
      g_assert_not_reached ();
    }
}

/* A key that works: a semaphore that counts, whose native key stays where
 * it belongs, and that leaves nothing behind. */
static void
check_working_key (const char   *key,
                   SysemKeyType  key_type)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  const char *native;

  sem = sysem_test_open (key, key_type, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, key);

  native = sysem_semaphore_get_native_key (sem);
  g_assert_nonnull (native);
  g_assert_true (g_str_has_prefix (strrchr (native, '/'), "/" SYSEM_LEGACY_PREFIX));
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    {
      g_autofree char *dir = g_path_get_dirname (native);
      g_autofree char *tmp = sysem_key_temp_dir ();

      g_assert_cmpstr (dir, ==, tmp);
    }
  else
    g_assert_null (strchr (native + 1, '/'));

  file = sysem_test_key_path (key, key_type);
  g_assert_true (sysem_test_path_exists (file));

  g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (sysem_semaphore_release (sem, 1, &error));
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 1);
  g_assert_no_error (error);

  g_clear_object (&sem);
  g_assert_false (sysem_test_path_exists (file));
}

static void
test_keys (SysemTestFixture *fixture)
{
  for (guint i = 0; i < G_N_ELEMENTS (key_cases); i++)
    {
      const KeyCase *kc = &key_cases[i];
      int code = fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V ? kc->sysv_code : kc->posix_code;
      g_autofree char *key = make_key (kc->kind);

      g_test_message ("key case %s", kc->name);

      if (code == OK)
        check_working_key (key, fixture->key_type);
      else
        {
          g_autoptr(SysemSemaphore) sem = NULL;
          g_autoptr(GError) error = NULL;

          sem = sysem_semaphore_new_full (key, fixture->key_type, 1, SYSEM_ACCESS_MODE_CREATE,
                                          &error);
          g_assert_null (sem);
          sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
          g_clear_error (&error);

          /* The same through an object made without opening, and through
           * set_key(): the error comes at first use. */
          sem = g_object_new (SYSEM_TYPE_SEMAPHORE, "key", key, "key-type", fixture->key_type,
                              NULL);
          g_assert_null (sysem_semaphore_get_native_key (sem));
          g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
          sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
          g_clear_error (&error);
          g_assert_false (sysem_semaphore_set_key (sem, key, 1, SYSEM_ACCESS_MODE_OPEN, &error));
          sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
        }
    }
}

/* An object with no key at all. */
static void
test_no_key (void)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;

  sem = sysem_test_open (NULL, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
  g_assert_null (sysem_semaphore_get_key (sem));
  g_assert_null (sysem_semaphore_get_native_key (sem));

  g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_release (sem, 1, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_clear_error (&error);
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
}

/* Counts */

typedef struct {
  const char *name;
  int         initial;
  int         sysv_code;
  int         posix_code;
} InitialCase;

static const InitialCase initial_cases[] = {
  { "zero",    0,       OK,        OK },
  { "one",     1,       OK,        OK },
  { "32767",   32767,   OK,        OK },
  { "32768",   32768,   RESOURCES, OK },
  { "int-max", INT_MAX, RESOURCES, OK },
};

static void
test_initial_values (SysemTestFixture *fixture)
{
  for (guint i = 0; i < G_N_ELEMENTS (initial_cases); i++)
    {
      const InitialCase *ic = &initial_cases[i];
      int code = fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V ? ic->sysv_code : ic->posix_code;
      g_autofree char *key = sysem_test_key ("rel-initial");
      g_autofree char *file = sysem_test_key_path (key, fixture->key_type);
      g_autoptr(SysemSemaphore) sem = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("initial value %s", ic->name);

      for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
        {
          sem = sysem_semaphore_new_full (key, fixture->key_type, ic->initial, mode, &error);
          if (code == OK)
            {
              g_assert_no_error (error);
              g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, ic->initial);
              g_assert_no_error (error);
              g_assert_cmpint (sysem_semaphore_try_acquire (sem, 0, NULL, &error), ==,
                               ic->initial > 0);
              if (ic->initial == 0)
                g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
              else
                g_assert_no_error (error);
              g_clear_error (&error);
            }
          else
            {
              g_assert_null (sem);
              sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
              g_clear_error (&error);
            }
          g_clear_object (&sem);
          g_assert_false (sysem_test_path_exists (file));
        }
    }
}

/* Negative counts are programmer errors: a critical, and nothing done. */
static void
test_negative_counts (void)
{
  g_autofree char *key = sysem_test_key ("rel-negative");
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;

  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*initial_value >= 0*");
  g_assert_null (sysem_semaphore_new (key, -1, SYSEM_ACCESS_MODE_CREATE, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*initial_value >= 0*");
  g_assert_null (sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_POSIX, G_MININT,
                                           SYSEM_ACCESS_MODE_OPEN, &error));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*initial_value >= 0*");
  g_assert_null (sysem_semaphore_new_native ("/sysemtest-rel-negative", SYSEM_KEY_TYPE_POSIX,
                                             -5, SYSEM_ACCESS_MODE_OPEN, &error));
  g_test_assert_expected_messages ();
  g_assert_false (sysem_test_path_exists ("/dev/shm/sem.sysemtest-rel-negative"));

  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 2, SYSEM_ACCESS_MODE_CREATE);

  g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*initial_value >= 0*");
  g_assert_false (sysem_semaphore_set_key (sem, key, -1, SYSEM_ACCESS_MODE_CREATE, &error));
  g_test_assert_expected_messages ();

  for (int i = 0; i < 2; i++)
    {
      g_test_expect_message ("Sysem", G_LOG_LEVEL_CRITICAL, "*n >= 0*");
      g_assert_false (sysem_semaphore_release (sem, i == 0 ? -1 : G_MININT, &error));
      g_test_assert_expected_messages ();
    }

  g_assert_no_error (error);
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, 2);
  g_assert_no_error (error);
}

typedef struct {
  const char *name;
  int         start;       /* the value before the release */
  int         n;
  int         sysv_code;
  int         posix_code;
} ReleaseCase;

/* A release that fails changes nothing. POSIX adds n units one sem_post()
 * at a time, so a release of INT_MAX units from 0 would take many seconds:
 * only the refusals are tried for it. */
static const ReleaseCase release_cases[] = {
  { "zero",             5,       0,       OK,        OK },
  { "32767-from-0",     0,       32767,   OK,        OK },
  { "1-at-32767",       32767,   1,       RESOURCES, OK },
  { "32768-from-0",     0,       32768,   RESOURCES, OK },
  { "int-max-from-1",   1,       INT_MAX, RESOURCES, RESOURCES },
  { "1-at-int-max",     INT_MAX, 1,       RESOURCES, RESOURCES },
};

static void
test_releases (SysemTestFixture *fixture)
{
  for (guint i = 0; i < G_N_ELEMENTS (release_cases); i++)
    {
      const ReleaseCase *rc = &release_cases[i];
      int code = fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V ? rc->sysv_code : rc->posix_code;
      g_autofree char *key = sysem_test_key ("rel-release");
      g_autoptr(SysemSemaphore) sem = NULL;
      g_autoptr(GError) error = NULL;
      int start = rc->start;

      g_test_message ("release %s", rc->name);

      if (fixture->key_type == SYSEM_KEY_TYPE_SYSTEM_V && start > 32767)
        continue;   /* no such System V semaphore: see test_initial_values */

      sem = sysem_test_open (key, fixture->key_type, start, SYSEM_ACCESS_MODE_CREATE);

      if (code == OK)
        {
          g_assert_true (sysem_semaphore_release (sem, rc->n, &error));
          g_assert_no_error (error);
          g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, start + rc->n);
        }
      else
        {
          g_assert_false (sysem_semaphore_release (sem, rc->n, &error));
          sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
          g_clear_error (&error);
          g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, start);
        }
      g_assert_no_error (error);
    }
}

/* Native keys */

typedef struct {
  const char   *name;
  SysemKeyType  key_type;
  const char   *format;   /* @DIR@: a scratch directory, @TAG@: a unique tag */
  int           code;
  int           name_length;   /* > 0: a POSIX name of exactly this many bytes */
} NativeCase;

#define SYSV SYSEM_KEY_TYPE_SYSTEM_V
#define POSIX SYSEM_KEY_TYPE_POSIX

static const NativeCase native_cases[] = {
  { "sysv-absolute",        SYSV,  "@DIR@/key-@TAG@",            OK,  0 },
  { "sysv-empty",           SYSV,  "",                         KEY, 0 },
  { "sysv-relative",        SYSV,  "sysemtest-rel-@TAG@",       KEY, 0 },
  { "sysv-dot-relative",    SYSV,  "./sysemtest-rel-@TAG@",     KEY, 0 },
  { "sysv-directory",       SYSV,  "@DIR@",                     KEY, 0 },
  { "sysv-directory-slash", SYSV,  "@DIR@/",                    KEY, 0 },
  { "sysv-dot-dot",         SYSV,  "@DIR@/..",                  KEY, 0 },
  { "sysv-root",            SYSV,  "/",                        KEY, 0 },
  { "sysv-missing-dir",     SYSV,  "@DIR@/missing/key-@TAG@",    SYSEM_SEMAPHORE_ERROR_NOT_FOUND, 0 },
  { "sysv-under-a-file",    SYSV,  "/etc/passwd/key-@TAG@",     KEY, 0 },
  { "posix-no-slash",       POSIX, "sysemtest-rel-@TAG@",       OK,  0 },
  { "posix-slash",          POSIX, "/sysemtest-rel-@TAG@",      OK,  0 },
  { "posix-251",            POSIX, "sysemtest-rel-@TAG@",       OK,  251 },
  { "posix-251-slash",      POSIX, "/sysemtest-rel-@TAG@",      OK,  251 },
  { "posix-252",            POSIX, "sysemtest-rel-@TAG@",       KEY, 252 },
  { "posix-a-slash-b",      POSIX, "sysemtest-rel-@TAG@/b",     KEY, 0 },
  { "posix-slash-a-slash-b", POSIX, "/sysemtest-rel-@TAG@/b",   KEY, 0 },
  { "posix-empty",          POSIX, "",                         KEY, 0 },
  { "posix-only-slash",     POSIX, "/",                        KEY, 0 },
  { "posix-two-slashes",    POSIX, "//",                       KEY, 0 },
  { "posix-dot",            POSIX, "/.",                       KEY, 0 },
  { "posix-dot-dot",        POSIX, "..",                       KEY, 0 },
};

static void
test_native_keys (void)
{
  g_autoptr(GError) scratch_error = NULL;
  g_autofree char *scratch = g_dir_make_tmp ("sysemtest-rel-XXXXXX", &scratch_error);

  g_assert_no_error (scratch_error);

  for (guint i = 0; i < G_N_ELEMENTS (native_cases); i++)
    {
      const NativeCase *nc = &native_cases[i];
      g_autofree char *tag = sysem_test_unique_suffix ();
      g_autoptr(GString) native = g_string_new (NULL);
      g_autoptr(SysemSemaphore) sem = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("native key %s", nc->name);

      g_string_assign (native, nc->format);
      g_string_replace (native, "@DIR@", scratch, 0);
      g_string_replace (native, "@TAG@", tag, 0);
      if (nc->name_length > 0)
        {
          gsize have = native->len - (native->str[0] == '/');

          g_assert_cmpuint (have, <=, nc->name_length);
          while (have++ < (gsize) nc->name_length)
            g_string_append_c (native, 'n');
        }

      sem = sysem_semaphore_new_native (native->str, nc->key_type, 1,
                                        SYSEM_ACCESS_MODE_CREATE, &error);
      if (nc->code != OK)
        {
          g_assert_null (sem);
          sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, nc->code, native->str);
          continue;
        }

      g_assert_no_error (error);
      g_assert_null (sysem_semaphore_get_key (sem));
      if (nc->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, native->str);
      else
        {
          const char *name = native->str[0] == '/' ? native->str + 1 : native->str;
          g_autofree char *path = g_strconcat ("/dev/shm/sem.", name, NULL);

          g_assert_cmpstr (sysem_semaphore_get_native_key (sem) + 1, ==, name);
          g_assert_true (sysem_test_path_exists (path));
          g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
          g_assert_true (sysem_semaphore_release (sem, 1, &error));
          g_assert_no_error (error);
          g_clear_object (&sem);
          g_assert_false (sysem_test_path_exists (path));
        }

      if (sem != NULL)
        {
          g_assert_true (sysem_test_path_exists (native->str));
          g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
          g_assert_true (sysem_semaphore_release (sem, 1, &error));
          g_assert_no_error (error);
          g_clear_object (&sem);
          g_assert_false (sysem_test_path_exists (native->str));
        }
    }

  g_assert_cmpint (rmdir (scratch), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  sysem_test_add_both_types ("/reliability/hostile/keys/{sysv}", test_keys);
  g_test_add_func ("/reliability/hostile/keys/none", test_no_key);
  sysem_test_add_both_types ("/reliability/hostile/initial-values/{sysv}", test_initial_values);
  g_test_add_func ("/reliability/hostile/negative-counts", test_negative_counts);
  sysem_test_add_both_types ("/reliability/hostile/releases/{sysv}", test_releases);
  g_test_add_func ("/reliability/hostile/native-keys", test_native_keys);

  return g_test_run ();
}
