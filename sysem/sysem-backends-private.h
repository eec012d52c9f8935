/* sysem-backends-private.h: the table of backends, one per key type
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-backends-private.h is private to sysem: include <sysem/sysem.h>."
#endif

#include "sysem-backend.h"

G_BEGIN_DECLS

/* The backend of @key_type, or NULL with an error naming @key (may be
 * NULL) when this build has none (etcd without libsoup) or the number is
 * not a key type. */
const SysemBackend *sysem_backend_get          (SysemKeyType      key_type,
                                                const char       *key,
                                                GError          **error);

SysemHandle        *sysem_backend_open         (SysemKeyType      key_type,
                                                const char       *display_key,
                                                const char       *native,
                                                int               initial_value,
                                                SysemAccessMode   mode,
                                                GError          **error);

/* The native key of a string key, and a checked copy of a native key. */
gboolean            sysem_backend_derive_key   (const char       *key,
                                                SysemKeyType      key_type,
                                                char            **native_out,
                                                GError          **error);
gboolean            sysem_backend_check_native (const char       *native_key,
                                                SysemKeyType      key_type,
                                                char            **native_out,
                                                GError          **error);

G_END_DECLS
