/* sysem-key.c: from a key to the name of a kernel object
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-key-private.h"

/* Qt's legacy name of a key: the prefix, the ASCII letters of the key in
 * their order, then the hexadecimal SHA-1 of its UTF-8 bytes. Every Qt
 * since 4.4 derives QString keys this way, which is what lets a Qt program
 * and a sysem program meet on one kernel semaphore. */
char *
sysem_key_legacy_name (const char *key,
                       gsize       key_len)
{
  GString *name;
  g_autoptr(GChecksum) sha1 = NULL;

  name = g_string_sized_new (strlen (SYSEM_LEGACY_PREFIX) + 40 + 16);
  g_string_append (name, SYSEM_LEGACY_PREFIX);

  for (gsize i = 0; i < key_len; i++)
    {
      char c = key[i];

      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        g_string_append_c (name, c);
    }

  sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sha1, (const guchar *) key, key_len);
  g_string_append (name, g_checksum_get_string (sha1));

  return g_string_free (name, FALSE);
}

/* The temporary directory as Qt's QDir::tempPath() finds it: $TMPDIR or
 * /tmp, with symbolic links resolved. */
char *
sysem_key_temp_dir (void)
{
  const char *env = g_getenv ("TMPDIR");
  char *resolved;

  if (env == NULL || *env == '\0')
    env = "/tmp";

  resolved = realpath (env, NULL);
  if (resolved != NULL)
    {
      char *ret = g_strdup (resolved);

      free (resolved);
      return ret;
    }

  /* A directory that does not exist: keep the name, tidied, so that the
   * error names it when the key file cannot be made. */
  {
    g_autofree char *canon = g_canonicalize_filename (env, "/");

    return g_steal_pointer (&canon);
  }
}

static gboolean
sysem_key_validate (const char  *key,
                    GError     **error)
{
  if (*key == '\0')
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       key, _("the key is empty"));
      return FALSE;
    }

  if (!g_utf8_validate (key, -1, NULL))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       key, _("the key is not valid UTF-8"));
      return FALSE;
    }

  return TRUE;
}

static void
sysem_key_too_long (const char  *key,
                    GError     **error)
{
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                   key, _("the key is too long"));
}

gboolean
sysem_key_derive (const char    *key,
                  SysemKeyType   key_type,
                  char         **native_out,
                  GError       **error)
{
  g_autofree char *name = NULL;

  g_assert (key != NULL);
  g_assert (native_out != NULL);

  if (!sysem_key_validate (key, error))
    return FALSE;

  name = sysem_key_legacy_name (key, strlen (key));

  switch (key_type)
    {
    case SYSEM_KEY_TYPE_SYSTEM_V:
      {
        g_autofree char *dir = NULL;
        char *path;

        if (strlen (name) > NAME_MAX)
          {
            sysem_key_too_long (key, error);
            return FALSE;
          }

        dir = sysem_key_temp_dir ();
        if (g_str_equal (dir, "/"))
          path = g_strconcat ("/", name, NULL);
        else
          path = g_strconcat (dir, "/", name, NULL);

        if (strlen (path) >= PATH_MAX)
          {
            g_free (path);
            sysem_key_too_long (key, error);
            return FALSE;
          }

        *native_out = path;
        return TRUE;
      }

    case SYSEM_KEY_TYPE_POSIX:
      if (strlen (name) > SYSEM_POSIX_NAME_MAX)
        {
          sysem_key_too_long (key, error);
          return FALSE;
        }
      *native_out = g_strconcat ("/", name, NULL);
      return TRUE;

    default:
      g_assert_not_reached ();
    }
}

gboolean
sysem_key_check_native (const char    *native_key,
                        SysemKeyType   key_type,
                        char         **native_out,
                        GError       **error)
{
  g_assert (native_key != NULL);
  g_assert (native_out != NULL);

  if (*native_key == '\0')
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       native_key, _("the key is empty"));
      return FALSE;
    }

  switch (key_type)
    {
    case SYSEM_KEY_TYPE_SYSTEM_V:
      {
        const char *base;

        /* A System V native key is the path of the key file itself. */
        if (native_key[0] != '/')
          {
            sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                             native_key, _("a System V native key must be an absolute file name"));
            return FALSE;
          }

        base = strrchr (native_key, '/') + 1;
        if (*base == '\0' || g_str_equal (base, ".") || g_str_equal (base, ".."))
          {
            sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                             native_key, _("a System V native key must name a file, not a directory"));
            return FALSE;
          }

        if (strlen (native_key) >= PATH_MAX || strlen (base) > NAME_MAX)
          {
            sysem_key_too_long (native_key, error);
            return FALSE;
          }

        *native_out = g_strdup (native_key);
        return TRUE;
      }

    case SYSEM_KEY_TYPE_POSIX:
      {
        /* Qt 6.6's platformSafeKey() gives "/" + name; accept the name with
         * or without that slash. */
        const char *name = native_key[0] == '/' ? native_key + 1 : native_key;

        if (*name == '\0' || strchr (name, '/') != NULL ||
            g_str_equal (name, ".") || g_str_equal (name, ".."))
          {
            sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                             native_key, _("a POSIX semaphore name must be one slash followed by a name without slashes"));
            return FALSE;
          }

        if (strlen (name) > SYSEM_POSIX_NAME_MAX)
          {
            sysem_key_too_long (native_key, error);
            return FALSE;
          }

        *native_out = g_strconcat ("/", name, NULL);
        return TRUE;
      }

    default:
      g_assert_not_reached ();
    }
}

char *
sysem_key_posix_path (const char *native)
{
  g_assert (native != NULL && native[0] == '/');

  return g_strconcat (SYSEM_POSIX_DIR "/" SYSEM_POSIX_FILE_PREFIX, native + 1, NULL);
}
