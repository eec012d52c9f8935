/* sysem-backends.c: the table of backends, one per key type
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "sysem-backends-private.h"
#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-key-private.h"
#include "sysem-posix-private.h"
#include "sysem-sysv-private.h"
#if HAVE_ETCD
# include "sysem-etcd-private.h"
#endif

/* Indexed by SysemKeyType. */
static const SysemBackend * const sysem_backends[] = {
  [SYSEM_KEY_TYPE_SYSTEM_V] = &sysem_sysv_backend,
  [SYSEM_KEY_TYPE_POSIX] = &sysem_posix_backend,
#if HAVE_ETCD
  [SYSEM_KEY_TYPE_ETCD] = &sysem_etcd_backend,
#endif
};

const SysemBackend *
sysem_backend_get (SysemKeyType   key_type,
                   const char    *key,
                   GError       **error)
{
  const SysemBackend *backend = NULL;

  if ((guint) key_type < G_N_ELEMENTS (sysem_backends))
    backend = sysem_backends[key_type];

  if (G_UNLIKELY (backend == NULL))
    {
      g_autofree char *reason = NULL;

      if (key_type == SYSEM_KEY_TYPE_ETCD)
        reason = g_strdup (_("this build of sysem has no etcd support (it needs libsoup 3 and json-glib)"));
      else
        reason = g_strdup_printf (_("%d is not a key type"), (int) key_type);
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       key != NULL ? key : "", reason);
    }

  return backend;
}

SysemHandle *
sysem_backend_open (SysemKeyType      key_type,
                    const char       *display_key,
                    const char       *native,
                    int               initial_value,
                    SysemAccessMode   mode,
                    GError          **error)
{
  const SysemBackend *backend = sysem_backend_get (key_type, display_key, error);

  if (backend == NULL)
    return NULL;

  return backend->open (display_key, native, initial_value, mode, error);
}

gboolean
sysem_backend_derive_key (const char    *key,
                          SysemKeyType   key_type,
                          char         **native_out,
                          GError       **error)
{
  const SysemBackend *backend;

  g_assert (key != NULL);
  g_assert (native_out != NULL);

  if (!sysem_key_validate (key, error))
    return FALSE;

  backend = sysem_backend_get (key_type, key, error);
  if (backend == NULL)
    return FALSE;

  return backend->derive_key (key, native_out, error);
}

gboolean
sysem_backend_check_native (const char    *native_key,
                            SysemKeyType   key_type,
                            char         **native_out,
                            GError       **error)
{
  const SysemBackend *backend;

  g_assert (native_key != NULL);
  g_assert (native_out != NULL);

  if (*native_key == '\0')
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       native_key, _("the key is empty"));
      return FALSE;
    }

  backend = sysem_backend_get (key_type, native_key, error);
  if (backend == NULL)
    return FALSE;

  return backend->check_native (native_key, native_out, error);
}
