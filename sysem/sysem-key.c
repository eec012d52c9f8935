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

gboolean
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

void
sysem_key_set_too_long (GError     **error,
                        const char  *key)
{
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                   key, _("the key is too long"));
}

char *
sysem_key_posix_path (const char *native)
{
  g_assert (native != NULL && native[0] == '/');

  return g_strconcat (SYSEM_POSIX_DIR "/" SYSEM_POSIX_FILE_PREFIX, native + 1, NULL);
}
