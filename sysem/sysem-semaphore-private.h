/* sysem-semaphore-private.h: what the tool and the tests may also use
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "sysem-semaphore.h"
#include "sysem-backend-private.h"

G_BEGIN_DECLS

gboolean sysem_semaphore_get_stats     (SysemSemaphore  *self,
                                        SysemStats      *stats,
                                        GError         **error);
guint    sysem_semaphore_get_n_pending (SysemSemaphore  *self);

G_END_DECLS
