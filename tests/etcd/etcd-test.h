/* etcd-test.h: what the etcd test programs share
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "etcd-fixture.h"
#include "sysem-test-util.h"

G_BEGIN_DECLS

/* The server of the program, started by etcd_test_init(). */
extern EtcdServer *etcd_test_server;

typedef struct {
  char *name;   /* the semaphore's NAME: "sysemtest-…" */
  char *uri;    /* etcd://ENDPOINTS/NAME */
} EtcdFixture;

typedef void (* EtcdTestFunc) (EtcdFixture *fixture);

void            etcd_test_init          (int          *argc,
                                         char       ***argv,
                                         guint         n_members);
/* Runs the tests, then stops the server. */
int             etcd_test_run           (void);
/* Registers @func; when it ends, nothing may be left under /sysem/. */
void            etcd_test_add           (const char   *path,
                                         EtcdTestFunc  func);

SysemSemaphore *etcd_test_open          (const char   *uri,
                                         int           initial_value,
                                         SysemAccessMode mode);
/* The helper program on @uri, with options up to NULL; it has opened. */
SysemTestHelper *etcd_test_helper       (const char   *uri,
                                         ...) G_GNUC_NULL_TERMINATED;
/* Sends @command and expects @reply. */
void            etcd_test_helper_say    (SysemTestHelper *helper,
                                         const char   *command,
                                         const char   *reply);
/* Waits until get_value() of @sem is @value. */
void            etcd_test_wait_value    (SysemSemaphore *sem,
                                         int           value);
/* Waits until @n q keys (units wanted or held) are under the name; or
 * @n keys under another part of it ("users/"). */
void            etcd_test_wait_queue    (EtcdFixture  *fixture,
                                         gint64        n);
void            etcd_test_wait_count    (EtcdFixture  *fixture,
                                         const char   *part,
                                         gint64        n);

G_END_DECLS
