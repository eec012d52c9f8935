/* sysem-waiter-private.h: the queue of asynchronous acquires of one object
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-waiter-private.h is private to sysem: include <sysem/sysem.h>."
#endif

#include <gio/gio.h>

#include "sysem-backend.h"

G_BEGIN_DECLS

typedef struct _SysemWaiter SysemWaiter;

/* @owner is the object the requests are made on; not a reference. */
SysemWaiter *sysem_waiter_new            (GObject             *owner);
void         sysem_waiter_unref          (SysemWaiter         *waiter);

/* Takes one unit of @handle for a request of @owner, completing a GTask
 * with @source_tag in the caller's thread-default main context. */
void         sysem_waiter_acquire        (SysemWaiter         *waiter,
                                          SysemHandle         *handle,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data,
                                          gpointer             source_tag);

guint        sysem_waiter_get_n_pending  (SysemWaiter         *waiter);

/* From the owner's dispose: TRUE when requests of this process are still
 * to be completed. The waiter then holds a reference on the owner until the
 * last of them is, and dispose must return at once. */
gboolean     sysem_waiter_keep_owner     (SysemWaiter         *waiter);

G_END_DECLS
