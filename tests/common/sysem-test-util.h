/* sysem-test-util.h: small helpers shared by sysem's C tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* How long a test waits for something that should happen at once. Long,
 * because the machine may be busy or run the test under valgrind: a test
 * never fails for being slow, only for something not happening at all. */
#define SYSEM_TEST_DEADLINE_USEC (60 * G_USEC_PER_SEC)

/* The key types, as the numbers of SysemKeyType, so that this library does
 * not need sysem itself. */
#define SYSEM_TEST_KEY_TYPE_SYSTEM_V 0
#define SYSEM_TEST_KEY_TYPE_POSIX    1

char     *sysem_test_key            (const char      *tag);

typedef gboolean (* SysemTestCondition) (gpointer user_data);

gboolean  sysem_test_poll           (SysemTestCondition  condition,
                                     gpointer            user_data,
                                     gint64              timeout_usec);

char     *sysem_test_temp_dir       (void);
char     *sysem_test_legacy_name    (const char      *key);
char     *sysem_test_key_path       (const char      *key,
                                     int              key_type);

gboolean  sysem_test_key_is_clean   (const char      *key,
                                     int              key_type);
void      sysem_test_assert_key_clean (const char    *key,
                                       int            key_type);
gboolean  sysem_test_semid_exists   (int              semid);

typedef struct _SysemTestHelper SysemTestHelper;

SysemTestHelper *sysem_test_helper_spawn     (const char * const  *argv,
                                              GError             **error);
SysemTestHelper *sysem_test_helper_spawnv    (const char          *program,
                                              ...) G_GNUC_NULL_TERMINATED;
GPid             sysem_test_helper_get_pid   (SysemTestHelper     *helper);
char            *sysem_test_helper_read_line (SysemTestHelper     *helper,
                                              gint64               timeout_usec);
void             sysem_test_helper_expect_line (SysemTestHelper   *helper,
                                                const char        *line);
void             sysem_test_helper_close_stdin (SysemTestHelper   *helper);
int              sysem_test_helper_wait      (SysemTestHelper     *helper);
int              sysem_test_helper_kill      (SysemTestHelper     *helper);
void             sysem_test_helper_free      (SysemTestHelper     *helper);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SysemTestHelper, sysem_test_helper_free)

G_END_DECLS
