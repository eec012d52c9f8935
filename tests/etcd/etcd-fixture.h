/* etcd-fixture.h: a real etcd (or a cluster of them) for the tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Starts /usr/bin/etcd (or $SYSEM_TEST_ETCD) on 127.0.0.1 with free ports
 * and a temporary data directory, waits until every member answers
 * /health, and stops it and removes the directory at the end. A missing
 * etcd is a failure, not a skip: build-aux/dev installs etcd-server. */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _EtcdServer EtcdServer;

EtcdServer *etcd_server_new              (guint        n_members);
void        etcd_server_free             (EtcdServer  *server);
guint       etcd_server_n_members        (EtcdServer  *server);
/* "127.0.0.1:PORT,…", every member */
const char *etcd_server_endpoints        (EtcdServer  *server);
const char *etcd_server_member_endpoint  (EtcdServer  *server,
                                          guint        member);
/* etcd://ENDPOINTS/NAME */
char       *etcd_server_uri              (EtcdServer  *server,
                                          const char  *name);
/* Kills a member with @signal and reaps it; starts it again with its data. */
void        etcd_server_stop_member      (EtcdServer  *server,
                                          guint        member,
                                          int          signal);
void        etcd_server_start_member     (EtcdServer  *server,
                                          guint        member);
/* The member that leads the cluster now (waits for one). */
guint       etcd_server_leader           (EtcdServer  *server);

/* Raw access, beside sysem: keys and values are plain strings. */
gint64      etcd_server_count            (EtcdServer  *server,
                                          const char  *prefix);
void        etcd_server_put              (EtcdServer  *server,
                                          const char  *key,
                                          const char  *value);
void        etcd_server_delete_prefix    (EtcdServer  *server,
                                          const char  *prefix);
/* How many KV requests and watches (etcd's own count, from /metrics)
 * all members have begun: a waiter that polls would show. */
gint64      etcd_server_kv_requests      (EtcdServer  *server);
/* Fails the test, listing them, if any key under /sysem/ is left. */
void        etcd_server_assert_clean     (EtcdServer  *server);

G_END_DECLS
