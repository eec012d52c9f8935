/* sysem-inspect.c: the private inspection surface, for the tool and the tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "sysem-backends-private.h"
#include "sysem-i18n-private.h"
#include "sysem-inspect-private.h"

const char *
sysem_inspect_state_name (SysemInspectState state)
{
  switch (state)
    {
    case SYSEM_INSPECT_IN_USE:
      return "in-use";
    case SYSEM_INSPECT_NO_SET:
      return "no-set";
    case SYSEM_INSPECT_NO_USERS:
      return "no-users";
    case SYSEM_INSPECT_OWNER_GONE:
      return "owner-gone";
    case SYSEM_INSPECT_UNUSED:
      return "unused";
    case SYSEM_INSPECT_NOT_A_SEMAPHORE:
      return "not-a-semaphore";
    case SYSEM_INSPECT_NO_ACCESS:
      return "no-access";
    case SYSEM_INSPECT_RECOVERABLE:
      return "recoverable";
    case SYSEM_INSPECT_HALF_MADE:
      return "half-made";
    case SYSEM_INSPECT_LEASE_EXPIRED:
      return "lease-expired";
    default:
      g_assert_not_reached ();
    }
}

const char *
sysem_inspect_state_label (SysemInspectState state)
{
  switch (state)
    {
    case SYSEM_INSPECT_IN_USE:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("in use");
    case SYSEM_INSPECT_NO_SET:
      /* Translators: the state of a semaphore in `sysem list`: a key file
       * whose semaphore set is gone */
      return _("stale: no set");
    case SYSEM_INSPECT_NO_USERS:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("stale: no users");
    case SYSEM_INSPECT_OWNER_GONE:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("stale: owner gone");
    case SYSEM_INSPECT_UNUSED:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("stale: unused");
    case SYSEM_INSPECT_NOT_A_SEMAPHORE:
      /* Translators: the state of a file in /dev/shm in `sysem list` */
      return _("not a semaphore");
    case SYSEM_INSPECT_NO_ACCESS:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("no access");
    case SYSEM_INSPECT_RECOVERABLE:
      /* Translators: the state of a semaphore in `sysem list`: in use, and
       * units of processes that died can be given back */
      return _("in use: recoverable");
    case SYSEM_INSPECT_HALF_MADE:
      /* Translators: the state of a semaphore in `sysem list`: its creator
       * died before it was finished */
      return _("stale: half made");
    case SYSEM_INSPECT_LEASE_EXPIRED:
      /* Translators: the state of an etcd semaphore in `sysem list` */
      return _("stale: lease expired");
    default:
      g_assert_not_reached ();
    }
}

static int
sysem_inspect_compare_names (gconstpointer a,
                             gconstpointer b)
{
  const SysemInfo *ia = *(const SysemInfo * const *) a;
  const SysemInfo *ib = *(const SysemInfo * const *) b;

  return strcmp (ia->name, ib->name);
}

GPtrArray *
sysem_inspect_list (SysemKeyType   key_type,
                    GError       **error)
{
  g_autoptr(GPtrArray) infos =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sysem_info_free);
  const SysemBackend *backend = sysem_backend_get (key_type, NULL, error);

  if (backend == NULL || !backend->list (infos, error))
    return NULL;

  g_ptr_array_sort (infos, sysem_inspect_compare_names);
  return g_steal_pointer (&infos);
}

SysemInfo *
sysem_inspect_native (SysemKeyType   key_type,
                      const char    *native,
                      GError       **error)
{
  const SysemBackend *backend = sysem_backend_get (key_type, native, error);

  if (backend == NULL)
    return NULL;

  return backend->inspect (native, error);
}

gboolean
sysem_inspect_remove (SysemInfo  *info,
                      gboolean    only_if_stale,
                      gboolean   *removed_object,
                      GError    **error)
{
  const SysemBackend *backend = sysem_backend_get (info->stats.key_type, info->name, error);
  gboolean removed = FALSE;
  gboolean ok;

  if (backend == NULL)
    return FALSE;

  ok = backend->remove_stale (info, only_if_stale, &removed, error);
  if (removed_object != NULL)
    *removed_object = removed;

  return ok;
}

gboolean
sysem_inspect_key_derive (const char    *key,
                          SysemKeyType   key_type,
                          char         **native_out,
                          GError       **error)
{
  return sysem_backend_derive_key (key, key_type, native_out, error);
}

gboolean
sysem_inspect_key_check_native (const char    *native_key,
                                SysemKeyType   key_type,
                                char         **native_out,
                                GError       **error)
{
  return sysem_backend_check_native (native_key, key_type, native_out, error);
}

const char *
sysem_inspect_key_type_name (SysemKeyType key_type)
{
  const SysemBackend *backend = sysem_backend_get (key_type, NULL, NULL);

  return backend != NULL ? backend->name : NULL;
}

int
sysem_inspect_key_type_max (SysemKeyType key_type)
{
  const SysemBackend *backend = sysem_backend_get (key_type, NULL, NULL);

  return backend != NULL ? backend->max_value : -1;
}

static const SysemPrivateVTable sysem_private_vtable = {
  .size = sizeof (SysemPrivateVTable),
  .info_free = sysem_info_free,
  .state_name = sysem_inspect_state_name,
  .state_label = sysem_inspect_state_label,
  .pid_alive = sysem_inspect_pid_alive,
  .list = sysem_inspect_list,
  .inspect = sysem_inspect_native,
  .remove = sysem_inspect_remove,
  .key_derive = sysem_inspect_key_derive,
  .key_check_native = sysem_inspect_key_check_native,
  .key_type_name = sysem_inspect_key_type_name,
  .key_type_max = sysem_inspect_key_type_max,
  .get_stats = sysem_semaphore_get_stats,
  .keep = sysem_semaphore_keep,
  .get_n_pending = sysem_semaphore_get_n_pending,
  .i18n_init = sysem_i18n_init,
};

const SysemPrivateVTable *
sysem__private__ (void)
{
  return &sysem_private_vtable;
}
