/* sysem-backend.c: what every backend shares
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <signal.h>

#include "sysem-backend.h"

void
sysem_handle_init (SysemHandle        *handle,
                   const SysemBackend *backend,
                   const char         *display_key,
                   const char         *native)
{
  handle->backend = backend;
  handle->ref_count = 1;
  handle->mem_count = 1;
  handle->removed = FALSE;
  handle->display_key = g_strdup (display_key);
  handle->native = g_strdup (native);
  handle->owner_next = NULL;
}

void
sysem_handle_clear (SysemHandle *handle)
{
  g_clear_pointer (&handle->display_key, g_free);
  g_clear_pointer (&handle->native, g_free);
}

/* One slice of a wait that must look at @cancellable or at something else
 * the kernel does not wake it for: FALSE with an error if cancelled, else
 * the end of the slice in *@slice_end. */
gboolean
sysem_wait_slice (gint64         deadline,
                  GCancellable  *cancellable,
                  gint64        *slice_end,
                  GError       **error)
{
  gint64 now;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  now = g_get_monotonic_time ();
  if (deadline - now > SYSEM_WAIT_SLICE_USEC)
    *slice_end = now + SYSEM_WAIT_SLICE_USEC;
  else
    *slice_end = deadline;

  return TRUE;
}

SysemInfo *
sysem_info_new (SysemKeyType  key_type,
                const char   *name,
                const char   *path)
{
  SysemInfo *info = g_new0 (SysemInfo, 1);

  info->stats.key_type = key_type;
  info->stats.value = -1;
  info->stats.waiters = -1;
  info->stats.users = -1;
  info->stats.last_pid = -1;
  info->stats.id = -1;
  info->stats.n_sems = -1;
  info->name = g_strdup (name);
  info->path = g_strdup (path);
  info->ipc_key = -1;
  info->users_exact = TRUE;
  info->state = SYSEM_INSPECT_IN_USE;

  return info;
}

void
sysem_info_free (SysemInfo *info)
{
  if (info == NULL)
    return;

  g_free (info->name);
  g_free (info->path);
  g_clear_pointer (&info->holders, g_array_unref);
  g_free (info);
}

gboolean
sysem_inspect_pid_alive (int pid)
{
  if (pid <= 0)
    return FALSE;

  return kill ((pid_t) pid, 0) == 0 || errno == EPERM;
}
