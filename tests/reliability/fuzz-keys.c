/* fuzz-keys.c: libFuzzer target over key derivation and native-key checks
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Built with clang -fsanitize=fuzzer,address,undefined by fuzz-keys.sh,
 * straight from sysem-key.c, sysem-error.c and sysem-i18n.c.
 *
 * Input: one byte of options, then the key's bytes. Bit 0 of the options
 * also makes the key the value of $TMPDIR, so hostile temporary
 * directories are tried too. Any broken promise aborts, which libFuzzer
 * reports as a crash.
 */

#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sysem-semaphore.h"
#include "sysem-key-private.h"
#include "sysem-inspect-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(cond) \
  G_STMT_START { \
    if (!(cond)) \
      { \
        g_printerr ("fuzz-keys: broken promise at line %d: %s\n", __LINE__, #cond); \
        abort (); \
      } \
  } G_STMT_END

static gboolean
is_ascii_letter (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void
check_legacy_name (const char *bytes,
                   gsize       len)
{
  g_autofree char *name = sysem_key_legacy_name (bytes, len);
  gsize name_len = strlen (name);
  gsize prefix_len = strlen (SYSEM_LEGACY_PREFIX);
  gsize letters = 0;

  for (gsize i = 0; i < len; i++)
    letters += is_ascii_letter (bytes[i]);

  /* prefix, every ASCII letter of the key in order, 40 hex digits */
  CHECK (g_str_has_prefix (name, SYSEM_LEGACY_PREFIX));
  CHECK (name_len == prefix_len + letters + 40);
  for (gsize i = 0, j = prefix_len; i < len; i++)
    if (is_ascii_letter (bytes[i]))
      CHECK (name[j++] == bytes[i]);
  for (gsize i = name_len - 40; i < name_len; i++)
    CHECK (g_ascii_isxdigit (name[i]) && !g_ascii_isupper (name[i]));
}

static void
check_error (GError     *error,
             const char *native)
{
  CHECK (error != NULL);
  CHECK (native == NULL);
  CHECK (error->domain == SYSEM_SEMAPHORE_ERROR);
  CHECK (error->message != NULL);
  CHECK (g_utf8_validate (error->message, -1, NULL));
  /* The key is cut to 80 characters in messages. */
  CHECK (strlen (error->message) < 1024);
}

static void
check_derive (const char   *key,
              SysemKeyType  key_type)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *native = NULL;
  g_autofree char *name = NULL;

  if (!sysem_inspect_key_derive (key, key_type, &native, &error))
    {
      check_error (error, native);
      CHECK (error->code == SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      return;
    }

  CHECK (error == NULL);
  CHECK (native != NULL);
  CHECK (*key != '\0');
  CHECK (g_utf8_validate (key, -1, NULL));

  name = sysem_key_legacy_name (key, strlen (key));

  if (key_type == SYSEM_KEY_TYPE_POSIX)
    {
      /* One slash, then the legacy name: never a path. */
      CHECK (native[0] == '/');
      CHECK (strchr (native + 1, '/') == NULL);
      CHECK (strlen (native + 1) <= SYSEM_POSIX_NAME_MAX);
      CHECK (g_str_equal (native + 1, name));
    }
  else
    {
      /* The temporary directory, a slash, the legacy name. */
      const char *base = strrchr (native, '/');

      CHECK (native[0] == '/');
      CHECK (strlen (native) < PATH_MAX);
      CHECK (base != NULL && g_str_equal (base + 1, name));
      CHECK (strlen (name) <= NAME_MAX);
    }
}

static void
check_native (const char   *native_key,
              SysemKeyType  key_type)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *native = NULL;

  if (!sysem_inspect_key_check_native (native_key, key_type, &native, &error))
    {
      check_error (error, native);
      CHECK (error->code == SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
      return;
    }

  CHECK (error == NULL);
  CHECK (native != NULL);

  if (key_type == SYSEM_KEY_TYPE_POSIX)
    {
      const char *given = native_key[0] == '/' ? native_key + 1 : native_key;
      g_autofree char *path = NULL;

      CHECK (native[0] == '/');
      CHECK (native[1] != '\0');
      CHECK (strchr (native + 1, '/') == NULL);
      CHECK (strlen (native + 1) <= SYSEM_POSIX_NAME_MAX);
      CHECK (g_str_equal (native + 1, given));
      CHECK (!g_str_equal (native, "/.") && !g_str_equal (native, "/.."));

      /* Its file is straight in /dev/shm. */
      path = sysem_key_posix_path (native);
      CHECK (g_str_has_prefix (path, SYSEM_POSIX_DIR "/" SYSEM_POSIX_FILE_PREFIX));
      CHECK (strchr (path + strlen (SYSEM_POSIX_DIR "/"), '/') == NULL);
    }
  else
    {
      const char *base = strrchr (native, '/');

      CHECK (g_str_equal (native, native_key));
      CHECK (native[0] == '/');
      CHECK (base != NULL && base[1] != '\0');
      CHECK (!g_str_equal (base, "/.") && !g_str_equal (base, "/.."));
      CHECK (strlen (native) < PATH_MAX);
    }
}

#if HAVE_ETCD
/* An etcd key, derived or native, is a URI naming its endpoints. */
static void
check_etcd (const char *key)
{
  SysemKeyType key_type = SYSEM_KEY_TYPE_ETCD;
  gboolean (* steps[]) (const char *, SysemKeyType, char **, GError **) = {
    sysem_inspect_key_derive, sysem_inspect_key_check_native,
  };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *native = NULL;

      if (!steps[i] (key, key_type, &native, &error))
        {
          check_error (error, native);
          CHECK (error->code == SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
          continue;
        }

      CHECK (error == NULL);
      CHECK (g_str_has_prefix (native, "etcd://"));
      CHECK (g_utf8_validate (native, -1, NULL));
    }
}
#endif

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *key = NULL;
  const char *bytes;
  gsize len;
  guint8 options;

  if (size < 1)
    return 0;

  options = data[0];
  bytes = (const char *) data + 1;
  len = size - 1;

  /* The raw bytes, NULs and all. */
  check_legacy_name (bytes, len);

  /* As a C string: up to the first NUL. */
  key = g_strndup (bytes, len);

  if (options & 1)
    g_setenv ("TMPDIR", key, TRUE);
  else
    g_unsetenv ("TMPDIR");

  check_derive (key, SYSEM_KEY_TYPE_SYSTEM_V);
  check_derive (key, SYSEM_KEY_TYPE_POSIX);
  check_native (key, SYSEM_KEY_TYPE_SYSTEM_V);
  check_native (key, SYSEM_KEY_TYPE_POSIX);
#if HAVE_ETCD
  check_etcd (key);
#endif

  return 0;
}
