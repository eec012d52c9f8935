/* sysem-etcd-client-private.h: etcd's JSON gateway over libsoup, leases
 * and their keepalive thread
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-etcd-client-private.h is private to sysem: include <sysem/sysem.h>."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* An error etcd itself gave (a gRPC status in the gateway's JSON): the code
 * is the gRPC code, the message etcd's. */
#define SYSEM_ETCD_GRPC_ERROR (sysem_etcd_grpc_error_quark ())
GQuark sysem_etcd_grpc_error_quark (void);

enum {
  SYSEM_ETCD_GRPC_CANCELLED           = 1,
  SYSEM_ETCD_GRPC_UNKNOWN             = 2,
  SYSEM_ETCD_GRPC_INVALID_ARGUMENT    = 3,
  SYSEM_ETCD_GRPC_DEADLINE_EXCEEDED   = 4,
  SYSEM_ETCD_GRPC_NOT_FOUND           = 5,
  SYSEM_ETCD_GRPC_PERMISSION_DENIED   = 7,
  SYSEM_ETCD_GRPC_RESOURCE_EXHAUSTED  = 8,
  SYSEM_ETCD_GRPC_FAILED_PRECONDITION = 9,
  SYSEM_ETCD_GRPC_UNAVAILABLE         = 14,
  SYSEM_ETCD_GRPC_UNAUTHENTICATED     = 16,
};

/* Codes that say a member cannot answer now (stopping, electing a
 * leader): another member, or the same one later, may. */
#define SYSEM_ETCD_GRPC_IS_TRANSIENT(code) \
  ((code) == SYSEM_ETCD_GRPC_CANCELLED || (code) == SYSEM_ETCD_GRPC_UNKNOWN || \
   (code) == SYSEM_ETCD_GRPC_DEADLINE_EXCEEDED || (code) == SYSEM_ETCD_GRPC_UNAVAILABLE)

/* The default endpoint of a string key, and the variables that change
 * the endpoints and the lease's time to live (documented in the manual,
 * chapter "Across machines"). */
#define SYSEM_ETCD_DEFAULT_ENDPOINTS "127.0.0.1:2379"
#define SYSEM_ETCD_ENDPOINTS_ENV     "SYSEM_ETCD_ENDPOINTS"
#define SYSEM_ETCD_TTL_ENV           "SYSEM_ETCD_TTL"
#define SYSEM_ETCD_DEFAULT_TTL       10

typedef struct _SysemEtcdClient SysemEtcdClient;
typedef struct _SysemEtcdLease  SysemEtcdLease;
typedef struct _SysemEtcdWatch  SysemEtcdWatch;

/* fork(): a child has no keepalive thread and must not use the parent's
 * connections or leases. Each fork adds one to the generation. */
guint             sysem_etcd_fork_generation   (void);

/* Clients: one per list of endpoints ("HOST:PORT,HOST:PORT") and process,
 * shared by every object on it. */
SysemEtcdClient  *sysem_etcd_client_get        (const char       *endpoints);
void              sysem_etcd_client_unref      (SysemEtcdClient  *client);
const char       *sysem_etcd_client_get_endpoints (SysemEtcdClient *client);

/* POSTs @body (JSON) to @path ("/v3/kv/range") on the endpoint that last
 * answered, failing over in order. Until @retry_until (monotonic time; 0:
 * no retry beyond one round of the endpoints) it waits and tries again
 * when no endpoint answers. Returns the answer's root object, or NULL
 * with a G_IO_ERROR naming the endpoint, or a SYSEM_ETCD_GRPC_ERROR. */
JsonObject       *sysem_etcd_client_call       (SysemEtcdClient  *client,
                                                const char       *path,
                                                const char       *body,
                                                gint64            retry_until,
                                                GCancellable     *cancellable,
                                                GError          **error);

/* A watch: a streamed answer, one JSON object a line. new() returns once
 * etcd said the watch was created. */
SysemEtcdWatch   *sysem_etcd_watch_new         (SysemEtcdClient  *client,
                                                const char       *body,
                                                gint64            retry_until,
                                                GCancellable     *cancellable,
                                                GError          **error);
JsonObject       *sysem_etcd_watch_next        (SysemEtcdWatch   *watch,
                                                GCancellable     *cancellable,
                                                GError          **error);
void              sysem_etcd_watch_free        (SysemEtcdWatch   *watch);

/* Leases, kept alive by the process's keepalive thread until revoked.
 * A lease is alive while a keepalive answered within its TTL: a process
 * that was paused or cut off for longer no longer counts on it. */
SysemEtcdLease   *sysem_etcd_lease_grant       (SysemEtcdClient  *client,
                                                int               ttl,
                                                GError          **error);
SysemEtcdLease   *sysem_etcd_lease_ref         (SysemEtcdLease   *lease);
void              sysem_etcd_lease_unref       (SysemEtcdLease   *lease);
gint64            sysem_etcd_lease_get_id      (SysemEtcdLease   *lease);
int               sysem_etcd_lease_get_ttl     (SysemEtcdLease   *lease);
gboolean          sysem_etcd_lease_is_alive    (SysemEtcdLease   *lease);
/* The monotonic time until which the lease is known to live. */
gint64            sysem_etcd_lease_alive_until (SysemEtcdLease   *lease);
void              sysem_etcd_lease_set_expired (SysemEtcdLease   *lease);
/* Cancels @cancellable when the lease expires, until removed. */
void              sysem_etcd_lease_add_waiter  (SysemEtcdLease   *lease,
                                                GCancellable     *cancellable);
void              sysem_etcd_lease_remove_waiter (SysemEtcdLease *lease,
                                                GCancellable     *cancellable);
/* Stops the keepalives and revokes the lease (when it is this process's:
 * a child of fork() leaves its parent's leases alone). */
void              sysem_etcd_lease_revoke      (SysemEtcdLease   *lease);

/* Cancels @cancellable at @deadline (monotonic time), from the keepalive
 * thread: a timed wait without a polling loop. Destroy the source when
 * the wait is over. */
GSource          *sysem_etcd_cancel_at         (gint64            deadline,
                                                GCancellable     *cancellable);

/* JSON helpers: int64 fields come as strings, and a zero is left out. */
gint64            sysem_etcd_json_int          (JsonObject       *object,
                                                const char       *member);
char             *sysem_etcd_json_bytes        (JsonObject       *object,
                                                const char       *member,
                                                gsize            *len);
char             *sysem_etcd_b64               (const char       *data,
                                                gsize             len);

G_END_DECLS
