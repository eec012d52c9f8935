/* sysem-test-util.h: what every C test of sysem shares
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Link sysem_test_util_dep together with sysem_dep or sysem_internal_dep
 * (tests/meson.build). The part at the end reads the library's private
 * statistics: only a test built against the static copy, which defines
 * SYSEM_COMPILATION, has it. */

#pragma once

#include <sys/types.h>

#include <gio/gio.h>
#include <sysem/sysem.h>

G_BEGIN_DECLS

/* How long a test waits for something that should happen at once. Long,
 * because the machine may be busy or run the test under valgrind: a test
 * never fails for being slow, only for something not happening at all. */
#define SYSEM_TEST_DEADLINE_USEC (60 * G_USEC_PER_SEC)

gboolean        sysem_test_under_valgrind     (void);
gboolean        sysem_test_under_asan         (void);

/* Threads of this process, by thread id: how often the kernel switched
 * away from one because it slept (a waiter that wakes shows), and
 * whether it sleeps now (not if it has exited). */
guint64         sysem_test_thread_switches    (int              tid);
gboolean        sysem_test_thread_sleeping    (int              tid);

/* Registration. A test gets its key type and a key of its own (see
 * sysem_test_key()), of which nothing may be left when it ends.
 * sysem_test_add_both_types() registers it twice: @path holds "{system-v}"
 * or "{sysv}", which becomes that word, then "posix". */
typedef struct {
  SysemKeyType  key_type;
  char         *key;
} SysemTestFixture;

typedef void (* SysemTestFunc) (SysemTestFixture *fixture);

void            sysem_test_add                (const char      *path,
                                               SysemKeyType     key_type,
                                               SysemTestFunc    func);
void            sysem_test_add_both_types     (const char      *path,
                                               SysemTestFunc    func);
SysemSemaphore *sysem_test_fixture_open       (SysemTestFixture *fixture,
                                               int               initial_value,
                                               SysemAccessMode   mode);

/* Keys: "sysemtest-", @tag, the pid and a counter. A @kind is "letters"
 * (ASCII letters only after the prefix), "punctuation" or "unicode". */
char           *sysem_test_key                (const char      *tag);
char           *sysem_test_key_of_kind        (const char      *tag,
                                               const char      *kind);
char           *sysem_test_unique_suffix      (void);

/* Where a key lives, derived by Qt's rule independently of sysem. */
char           *sysem_test_temp_dir           (void);
char           *sysem_test_legacy_name        (const char      *key);
char           *sysem_test_native_path        (const char      *native_key,
                                               SysemKeyType     key_type);
char           *sysem_test_key_path           (const char      *key,
                                               SysemKeyType     key_type);
gboolean        sysem_test_path_exists        (const char      *path);
gboolean        sysem_test_key_is_clean       (const char      *key,
                                               SysemKeyType     key_type);
void            sysem_test_assert_key_clean   (const char      *key,
                                               SysemKeyType     key_type);
gboolean        sysem_test_semid_exists       (int              semid);
gboolean        sysem_test_sysv_set_alive     (int              semid,
                                               key_t            ipc_key);
key_t           sysem_test_sysv_key           (int              semid);

/* Operations that must succeed, and errors that must name the key. */
SysemSemaphore *sysem_test_open               (const char      *key,
                                               SysemKeyType     key_type,
                                               int              initial_value,
                                               SysemAccessMode  mode);
int             sysem_test_value              (SysemSemaphore  *sem);
void            sysem_test_assert_value       (SysemSemaphore  *sem,
                                               int              value);
void            sysem_test_acquire            (SysemSemaphore  *sem);
void            sysem_test_release            (SysemSemaphore  *sem,
                                               int              n);
void            sysem_test_assert_no_unit     (SysemSemaphore  *sem);
void            sysem_test_assert_removed     (SysemSemaphore  *sem);
void            sysem_test_assert_error_names_key (const GError *error,
                                                   GQuark        domain,
                                                   int           code,
                                                   const char   *key);
void            sysem_test_assert_open_fails  (const char      *key,
                                               SysemKeyType     key_type,
                                               SysemAccessMode  mode,
                                               int              code);

/* Polling a condition until a deadline. */
typedef gboolean (* SysemTestCondition) (gpointer user_data);

gboolean        sysem_test_poll               (SysemTestCondition  condition,
                                               gpointer            user_data,
                                               gint64              timeout_usec);
void            sysem_test_wait_for           (SysemTestCondition  condition,
                                               gpointer            user_data,
                                               const char         *what);

/* A forked child that dies with the test. */
pid_t           sysem_test_fork               (void);

/* Helper processes, spoken to one line at a time. Every read has a
 * deadline, and a helper dies with the test. */
typedef struct _SysemTestHelper SysemTestHelper;

const char      *sysem_test_helper_path       (void);
SysemTestHelper *sysem_test_helper_spawn      (const char * const *argv);
SysemTestHelper *sysem_test_helper_start      (SysemKeyType     key_type,
                                               const char      *key,
                                               ...) G_GNUC_NULL_TERMINATED;
GPid            sysem_test_helper_get_pid     (SysemTestHelper *helper);
void            sysem_test_helper_send        (SysemTestHelper *helper,
                                               const char      *line);
void            sysem_test_helper_expect_line (SysemTestHelper *helper,
                                               const char      *line);
char           *sysem_test_helper_expect_word (SysemTestHelper *helper,
                                               const char      *word);
void            sysem_test_helper_command     (SysemTestHelper *helper,
                                               const char      *command,
                                               ...) G_GNUC_NULL_TERMINATED;
void            sysem_test_helper_close_stdin (SysemTestHelper *helper);
int             sysem_test_helper_wait        (SysemTestHelper *helper);
int             sysem_test_helper_finish      (SysemTestHelper *helper);
void            sysem_test_helper_complete    (SysemTestHelper *helper,
                                               const char      *last_line);
int             sysem_test_helper_kill        (SysemTestHelper *helper);
void            sysem_test_helper_free        (SysemTestHelper *helper);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SysemTestHelper, sysem_test_helper_free)

/* Waits racing their end, on @sem of any key type at 0 (see
 * sysem-test-util.c): against cancels when @cancel, else against a unit
 * released (through @releaser) as their deadlines of @timeout_usec pass.
 * Returns the units the waits took. */
int             sysem_test_wait_race          (SysemSemaphore  *sem,
                                               SysemSemaphore  *releaser,
                                               gboolean         cancel,
                                               gint64           timeout_usec,
                                               gint64           jitter_usec,
                                               int              rounds);

#ifdef SYSEM_COMPILATION

#include "sysem-inspect-private.h"

/* What the kernel says of a semaphore: the library's private statistics. */
SysemStats      sysem_test_stats              (SysemSemaphore  *sem);
int             sysem_test_waiters            (SysemSemaphore  *sem);
void            sysem_test_wait_waiters       (SysemSemaphore  *sem,
                                               int              n);
void            sysem_test_wait_waiters_gone  (SysemSemaphore  *sem,
                                               int              base);
void            sysem_test_wait_users         (SysemSemaphore  *sem,
                                               int              n);
void            sysem_test_sysv_ids           (SysemSemaphore  *sem,
                                               int             *semid,
                                               key_t           *ipc_key);

/* A thread of this process that waits for a unit: acquire() when
 * @timeout_usec is -1, else try_acquire(). _start() returns once the
 * kernel counts one more waiter, _spawn() at once. */
typedef struct _SysemTestWaiter SysemTestWaiter;

SysemTestWaiter *sysem_test_waiter_spawn      (SysemSemaphore  *sem,
                                               GCancellable    *cancellable,
                                               gint64           timeout_usec);
SysemTestWaiter *sysem_test_waiter_start      (SysemSemaphore  *sem,
                                               GCancellable    *cancellable,
                                               gint64           timeout_usec);
int             sysem_test_waiter_get_tid     (SysemTestWaiter *waiter);
void            sysem_test_waiter_wait_asleep (SysemTestWaiter *waiter);
gboolean        sysem_test_waiter_join        (SysemTestWaiter *waiter,
                                               GError         **error);
void            sysem_test_waiter_join_acquired (SysemTestWaiter *waiter);

/* Qt's first scenarios, on a semaphore of any key type. */
void            sysem_test_scenario_basic_acquire   (SysemSemaphore *sem);
void            sysem_test_scenario_complex_acquire (SysemSemaphore *sem);
void            sysem_test_scenario_release         (SysemSemaphore *sem);

#endif /* SYSEM_COMPILATION */

G_END_DECLS
