/* sysem-i18n-private.h: translation of the library's messages
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-i18n-private.h is private to sysem: include <sysem/sysem.h>."
#endif

#include <glib.h>

G_BEGIN_DECLS

void        sysem_i18n_init (void);
const char *sysem_gettext   (const char *msgid) G_GNUC_FORMAT (1);

#define _(String) sysem_gettext (String)
#define N_(String) (String)

G_END_DECLS
