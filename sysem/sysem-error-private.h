/* sysem-error-private.h: GErrors from errno values
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-error-private.h is private to sysem: include <sysem/sysem.h>."
#endif

#include "sysem-semaphore.h"

G_BEGIN_DECLS

/* What was being done when an error happened; each has its own sentence. */
typedef enum {
  SYSEM_OP_OPEN,
  SYSEM_OP_ACQUIRE,
  SYSEM_OP_RELEASE,
  SYSEM_OP_GET_VALUE,
  SYSEM_OP_REMOVE,
  SYSEM_OP_KEY_FILE,
} SysemOp;

SysemSemaphoreError sysem_error_code_from_errno (int          errsv);

void                sysem_set_error_errno       (GError     **error,
                                                 SysemOp      op,
                                                 const char  *key,
                                                 int          errsv);
void                sysem_set_error_too_many    (GError     **error,
                                                 SysemOp      op,
                                                 const char  *key,
                                                 int          max_value);
void                sysem_set_error_timed_out   (GError     **error,
                                                 const char  *key);
void                sysem_set_error             (GError     **error,
                                                 SysemSemaphoreError code,
                                                 SysemOp      op,
                                                 const char  *key,
                                                 const char  *reason);

G_END_DECLS
