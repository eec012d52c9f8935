/* sysem-semaphore.h: a named counting semaphore shared between processes
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__SYSEM_INSIDE__) && !defined(SYSEM_COMPILATION)
#error "Only <sysem/sysem.h> can be included directly."
#endif

#include <gio/gio.h>

#include "sysem-version-macros.h"

G_BEGIN_DECLS

/**
 * SysemAccessMode:
 * @SYSEM_ACCESS_MODE_OPEN: use the semaphore as it is if it exists; its count
 *   is left alone and the initial value is ignored. A missing semaphore is
 *   created with the initial value.
 * @SYSEM_ACCESS_MODE_CREATE: set the count to the initial value whether or not
 *   the semaphore already existed (for example because it survived a crash).
 *
 * What to do with a semaphore that already exists when it is opened. This is
 * `QSystemSemaphore::AccessMode`, with the same numbers.
 *
 * Since: 1.0
 */
typedef enum {
  SYSEM_ACCESS_MODE_OPEN   = 0,
  SYSEM_ACCESS_MODE_CREATE = 1,
} SysemAccessMode;

/**
 * SysemKeyType:
 * @SYSEM_KEY_TYPE_SYSTEM_V: a System V semaphore set, found through a key file
 *   in the temporary directory. This is what Qt uses on Linux for string keys,
 *   and the only type whose units come back when a process crashes.
 * @SYSEM_KEY_TYPE_POSIX: a POSIX named semaphore in `/dev/shm`, as Qt uses it
 *   when built with `QT_POSIX_IPC`. Acquiring a free unit and releasing it
 *   take no system call.
 * @SYSEM_KEY_TYPE_ETCD: a semaphore held in an etcd cluster, shared by
 *   processes on every machine that reaches it. Native keys are URIs,
 *   `etcd://HOST:PORT[,HOST:PORT…]/NAME`; string keys use the endpoints in
 *   `SYSEM_ETCD_ENDPOINTS` (`127.0.0.1:2379` if unset). Units of a process
 *   that crashes or is cut off come back when its lease expires. Only in
 *   builds with libsoup 3 and json-glib: elsewhere opening one fails with
 *   %SYSEM_SEMAPHORE_ERROR_KEY_ERROR. See the chapter “Across machines” of
 *   the manual. Since: 1.1
 *
 * The kind of kernel object behind a #SysemSemaphore. See the overview of the
 * manual for how to choose.
 *
 * Since: 1.0
 */
typedef enum {
  SYSEM_KEY_TYPE_SYSTEM_V = 0,
  SYSEM_KEY_TYPE_POSIX    = 1,
  SYSEM_KEY_TYPE_ETCD     = 2,
} SysemKeyType;

/**
 * SysemSemaphoreError:
 * @SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED: the caller lacks the permission the
 *   operation needs, for example on another user's semaphore.
 * @SYSEM_SEMAPHORE_ERROR_KEY_ERROR: the key is not valid: empty, too long, not
 *   UTF-8, or its key file is not a regular file.
 * @SYSEM_SEMAPHORE_ERROR_ALREADY_EXISTS: a semaphore with this key exists and
 *   the operation required that it did not.
 * @SYSEM_SEMAPHORE_ERROR_NOT_FOUND: the semaphore does not exist, or was
 *   removed while it was in use.
 * @SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES: the system ran out of semaphores,
 *   memory or file descriptors, or a count would pass the maximum value.
 * @SYSEM_SEMAPHORE_ERROR_UNKNOWN: any other failure; the message says what.
 *
 * Errors in the %SYSEM_SEMAPHORE_ERROR domain. The numbers are those of
 * `QSystemSemaphore::SystemSemaphoreError`.
 *
 * Since: 1.0
 */
typedef enum {
  SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED = 1,
  SYSEM_SEMAPHORE_ERROR_KEY_ERROR         = 2,
  SYSEM_SEMAPHORE_ERROR_ALREADY_EXISTS    = 3,
  SYSEM_SEMAPHORE_ERROR_NOT_FOUND         = 4,
  SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES  = 5,
  SYSEM_SEMAPHORE_ERROR_UNKNOWN           = 6,
} SysemSemaphoreError;

/**
 * SYSEM_SEMAPHORE_ERROR:
 *
 * The error domain of sysem, `sysem-semaphore-error-quark`. Its codes are
 * the values of #SysemSemaphoreError.
 *
 * Since: 1.0
 */
#define SYSEM_SEMAPHORE_ERROR (sysem_semaphore_error_quark ())

SYSEM_AVAILABLE_IN_1_0
GQuark sysem_semaphore_error_quark (void);

/**
 * SysemSemaphore:
 *
 * A named counting semaphore shared by every process that opens the same
 * key. The structure is opaque: use the functions and properties below.
 *
 * Since: 1.0
 */

/**
 * SYSEM_TYPE_SEMAPHORE:
 *
 * The #GType of #SysemSemaphore.
 *
 * Since: 1.0
 */
#define SYSEM_TYPE_SEMAPHORE (sysem_semaphore_get_type ())

/**
 * sysem_semaphore_get_type:
 *
 * Registers #SysemSemaphore with the type system on first use.
 *
 * Returns: the #GType of #SysemSemaphore
 *
 * Since: 1.0
 */

SYSEM_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (SysemSemaphore, sysem_semaphore, SYSEM, SEMAPHORE, GObject)

SYSEM_AVAILABLE_IN_1_0
SysemSemaphore  *sysem_semaphore_new               (const char       *key,
                                                    int               initial_value,
                                                    SysemAccessMode   mode,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
SysemSemaphore  *sysem_semaphore_new_full          (const char       *key,
                                                    SysemKeyType      key_type,
                                                    int               initial_value,
                                                    SysemAccessMode   mode,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
SysemSemaphore  *sysem_semaphore_new_native        (const char       *native_key,
                                                    SysemKeyType      key_type,
                                                    int               initial_value,
                                                    SysemAccessMode   mode,
                                                    GError          **error);

SYSEM_AVAILABLE_IN_1_0
gboolean         sysem_semaphore_set_key           (SysemSemaphore   *self,
                                                    const char       *key,
                                                    int               initial_value,
                                                    SysemAccessMode   mode,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
gboolean         sysem_semaphore_set_key_full      (SysemSemaphore   *self,
                                                    const char       *key,
                                                    SysemKeyType      key_type,
                                                    int               initial_value,
                                                    SysemAccessMode   mode,
                                                    GError          **error);

SYSEM_AVAILABLE_IN_1_0
const char      *sysem_semaphore_get_key           (SysemSemaphore   *self);
SYSEM_AVAILABLE_IN_1_0
const char      *sysem_semaphore_get_native_key    (SysemSemaphore   *self);
SYSEM_AVAILABLE_IN_1_0
int              sysem_semaphore_get_initial_value (SysemSemaphore   *self);
SYSEM_AVAILABLE_IN_1_0
SysemAccessMode  sysem_semaphore_get_mode          (SysemSemaphore   *self);
SYSEM_AVAILABLE_IN_1_0
SysemKeyType     sysem_semaphore_get_key_type      (SysemSemaphore   *self);

SYSEM_AVAILABLE_IN_1_0
gboolean         sysem_semaphore_acquire           (SysemSemaphore   *self,
                                                    GCancellable     *cancellable,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
gboolean         sysem_semaphore_try_acquire       (SysemSemaphore   *self,
                                                    gint64            timeout_usec,
                                                    GCancellable     *cancellable,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
gboolean         sysem_semaphore_release           (SysemSemaphore   *self,
                                                    int               n,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
void             sysem_semaphore_acquire_async     (SysemSemaphore      *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
SYSEM_AVAILABLE_IN_1_0
gboolean         sysem_semaphore_acquire_finish    (SysemSemaphore   *self,
                                                    GAsyncResult     *result,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
int              sysem_semaphore_get_value         (SysemSemaphore   *self,
                                                    GError          **error);
SYSEM_AVAILABLE_IN_1_0
gboolean         sysem_semaphore_remove            (SysemSemaphore   *self,
                                                    GError          **error);

G_END_DECLS
