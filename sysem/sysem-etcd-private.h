/* sysem-etcd-private.h: the etcd backend
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-etcd-private.h is private to sysem: include <sysem/sysem.h>."
#endif

#include "sysem-backend.h"

G_BEGIN_DECLS

extern const SysemBackend sysem_etcd_backend;

G_END_DECLS
