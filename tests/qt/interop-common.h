/* interop-common.h: helper programs, and checks shared by the interop tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <sysem/sysem.h>
#include "sysem-inspect-private.h"

G_BEGIN_DECLS

/* How long a helper may take to answer before the test fails instead of
 * hanging. Only reached when something is broken. */
#define HELPER_DEADLINE_USEC (20 * G_USEC_PER_SEC)

typedef struct _HelperProcess HelperProcess;

HelperProcess *helper_process_spawn       (const char * const *argv);
void           helper_process_send        (HelperProcess *self,
                                           const char    *command);
char          *helper_process_read_line   (HelperProcess *self);
void           helper_process_expect      (HelperProcess *self,
                                           const char    *line);
char          *helper_process_expect_word (HelperProcess *self,
                                           const char    *word);
GPid           helper_process_get_pid     (HelperProcess *self);
int            helper_process_finish      (HelperProcess *self);
void           helper_process_kill        (HelperProcess *self);
void           helper_process_free        (HelperProcess *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HelperProcess, helper_process_free)

/* sysem operations that must succeed */
SysemStats interop_get_stats        (SysemSemaphore *sem);
char      *interop_make_key         (const char     *tag,
                                     const char     *kind);
int        interop_get_value        (SysemSemaphore *sem);
void       interop_acquire          (SysemSemaphore *sem);
void       interop_release          (SysemSemaphore *sem,
                                     int             n);
void       interop_assert_no_unit   (SysemSemaphore *sem);
void       interop_assert_removed   (SysemSemaphore *sem);
void       interop_wait_for_waiters (SysemSemaphore *sem,
                                     int             n);

/* A sysem acquire in a thread of this process, so that the test can watch
 * it wait. It gives up at the deadline, so that a unit that never comes
 * fails the test. */
typedef struct {
  SysemSemaphore *sem;
  GThread        *thread;
  gboolean        got;
  GError         *error;
} InteropWaiter;

void       interop_waiter_start     (InteropWaiter  *w,
                                     SysemSemaphore *sem);
void       interop_waiter_join      (InteropWaiter  *w);

G_END_DECLS
