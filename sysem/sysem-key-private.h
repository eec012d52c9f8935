/* sysem-key-private.h: from a key to the name of a kernel object
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-key-private.h is private to sysem: include <sysem/sysem.h>."
#endif

#include "sysem-semaphore.h"

G_BEGIN_DECLS

/* What Qt puts before the letters and the hash of a key. */
#define SYSEM_LEGACY_PREFIX "qipc_systemsem_"

/* Where Linux keeps POSIX named semaphores, and the prefix glibc gives them. */
#define SYSEM_POSIX_DIR "/dev/shm"
#define SYSEM_POSIX_FILE_PREFIX "sem."

/* The longest POSIX name, without its slash: NAME_MAX less "sem.". */
#define SYSEM_POSIX_NAME_MAX 251

char     *sysem_key_legacy_name     (const char    *key,
                                     gsize          key_len);
char     *sysem_key_temp_dir        (void);
gboolean  sysem_key_validate        (const char    *key,
                                     GError       **error);
void      sysem_key_set_too_long    (GError       **error,
                                     const char    *key);
char     *sysem_key_posix_path      (const char    *native);

G_END_DECLS
