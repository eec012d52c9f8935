/* core-support.h: what the core tests share
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "sysem.h"
#include "sysem-inspect-private.h"
#include "sysem-test-util.h"

G_BEGIN_DECLS

#define CORE_KEY_TYPE(data) ((SysemKeyType) GPOINTER_TO_INT (data))

void             core_add_both_types   (const char       *path,
                                        GTestDataFunc     func);
const char      *core_key_type_name    (SysemKeyType      key_type);

SysemSemaphore  *core_new              (const char       *key,
                                        SysemKeyType      key_type,
                                        int               initial_value,
                                        SysemAccessMode   mode);
int              core_value            (SysemSemaphore   *sem);
SysemStats       core_stats            (SysemSemaphore   *sem);
void             core_assert_value     (SysemSemaphore   *sem,
                                        int               value);
int              core_waiters          (SysemSemaphore   *sem);
void             core_wait_waiters     (SysemSemaphore   *sem,
                                        int               n);
void             core_wait_waiters_gone (SysemSemaphore  *sem,
                                         int              base);
void             core_wait_users       (SysemSemaphore   *sem,
                                        int               n);
void             core_acquire          (SysemSemaphore   *sem);
void             core_release          (SysemSemaphore   *sem,
                                        int               n);

SysemTestHelper *core_helper_start     (SysemKeyType      key_type,
                                        const char       *key,
                                        ...) G_GNUC_NULL_TERMINATED;
void             core_helper_finish    (SysemTestHelper  *helper,
                                        const char       *last_line);
int              core_run_helper       (SysemKeyType      key_type,
                                        const char       *key,
                                        ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
