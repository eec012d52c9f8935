/* sysem-etcd.c: a counting semaphore held in an etcd cluster
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The keys of a semaphore NAME, under the prefix /sysem/1/NAME/:
 *
 *   total               the number of units the semaphore has: its initial
 *                       value, plus what was released beyond what the
 *                       releasing object held (a decimal number)
 *   q/LEASE-SEQ         one per unit an object wants or holds, bound to
 *                       the object's lease (LEASE in 16 hex digits)
 *   users/LEASE         one per open object, bound to its lease; its value
 *                       is the number of the object's last release that
 *                       created units (see sysem_etcd_release())
 *   keep                made by `sysem create`: kept until removed
 *
 * The q keys hold units in the order etcd made them: the first `total` by
 * create revision hold one each, the rest wait. So a key's rank (how many
 * q keys are older) says whether it holds a unit, the value is
 * total - (number of q keys) when that is positive, and first come is
 * first served. An acquire makes its key and counts the others in one
 * transaction; if it does not hold a unit it watches the prefix, and
 * counts again when a q key or the total changes. A release deletes keys
 * the object holds, or adds to total what it releases beyond them.
 *
 * Crash safety: each object has a lease (SYSEM_ETCD_TTL seconds, 10 by
 * default) that the process's keepalive thread renews. When a process dies
 * or is cut off for longer, etcd deletes the keys bound to its lease and
 * the units come back. An object that cannot prove its lease alive (no
 * keepalive answered within the TTL) fails every call with NOT_FOUND.
 * Closing an object revokes its lease, which gives back what it held.
 *
 * Lifetime: the last user to close deletes the prefix, in a transaction
 * that checks that no users key and no keep key is there. remove() deletes
 * the prefix at once; every object on it finds total gone, or made again
 * at another revision, at its next call: NOT_FOUND.
 *
 * fork(): a child's objects join on their own, with a lease of their own,
 * on their first call; they hold nothing of what the parent held.
 *
 * Lock map: etcd_lock (registered with pthread_atfork) guards the fields of
 * every handle marked "locked". No request is made with it held, except
 * the join of an object inherited through fork(), once. */

#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sysem-error-private.h"
#include "sysem-etcd-client-private.h"
#include "sysem-etcd-private.h"
#include "sysem-i18n-private.h"

#define SYSEM_ETCD_PREFIX     "/sysem/1/"
#define SYSEM_ETCD_SCHEME     "etcd://"
#define SYSEM_ETCD_MAX_VALUE  G_MAXINT
#define SYSEM_ETCD_NAME_MAX   1024
/* Keys read at open to tell a sysem semaphore from something else. */
#define SYSEM_ETCD_CHECK_KEYS 200
/* Keys deleted in one transaction: etcd takes 128 operations by default. */
#define SYSEM_ETCD_TXN_KEYS   100

typedef struct {
  SysemHandle      parent;
  SysemEtcdClient *client;
  char            *prefix;      /* /sysem/1/NAME/ */
  char            *k_total;     /* the keys, base64 */
  char            *k_keep;
  char            *k_prefix;
  char            *k_prefix_end;
  char            *k_q;
  char            *k_q_end;
  char            *k_users;
  char            *k_users_end;
  gint64           total_rev;   /* create revision of total: its identity */

  /* locked */
  SysemEtcdLease  *lease;
  char            *k_mine;      /* users/LEASE, base64 */
  guint            gen;         /* fork generation of lease */
  guint64          seq;
  GQueue           held;        /* of char *, q keys (base64) holding a unit, oldest first */
  guint64          marker;
  gboolean         closed;
} SysemEtcd;

static GMutex etcd_lock;

static void
sysem_etcd_atfork_prepare (void)
{
  g_mutex_lock (&etcd_lock);
}

static void
sysem_etcd_atfork_release (void)
{
  g_mutex_unlock (&etcd_lock);
}

static void
sysem_etcd_lock (void)
{
  static gsize atfork_once = 0;

  if (G_UNLIKELY (g_once_init_enter (&atfork_once)))
    {
      pthread_atfork (sysem_etcd_atfork_prepare, sysem_etcd_atfork_release,
                      sysem_etcd_atfork_release);
      g_once_init_leave (&atfork_once, 1);
    }
  g_mutex_lock (&etcd_lock);
}

static void
sysem_etcd_unlock (void)
{
  g_mutex_unlock (&etcd_lock);
}

/* Keys */

static char *
sysem_etcd_key (const char *prefix,
                const char *suffix)
{
  g_autofree char *raw = g_strconcat (prefix, suffix, NULL);

  return sysem_etcd_b64 (raw, strlen (raw));
}

/* The end of the range of keys that start with @prefix. */
static char *
sysem_etcd_key_end (const char *prefix,
                    const char *suffix)
{
  g_autofree char *raw = g_strconcat (prefix, suffix, NULL);
  gsize len = strlen (raw);

  g_assert (len > 0 && (guchar) raw[len - 1] < 0xff);
  raw[len - 1]++;
  return sysem_etcd_b64 (raw, len);
}

static char *
sysem_etcd_lease_key (SysemEtcd  *self,
                      const char *kind,
                      gint64      lease,
                      guint64     seq)
{
  g_autofree char *suffix = NULL;

  if (seq == 0)
    suffix = g_strdup_printf ("%s%016" G_GINT64_MODIFIER "x", kind, lease);
  else
    suffix = g_strdup_printf ("%s%016" G_GINT64_MODIFIER "x-%" G_GUINT64_FORMAT, kind, lease, seq);

  return sysem_etcd_key (self->prefix, suffix);
}

/* Errors */

static void
sysem_etcd_set_removed (SysemEtcd  *self,
                        SysemOp     op,
                        GError    **error)
{
  sysem_handle_set_removed (&self->parent);
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, op, self->parent.display_key,
                   _("it was removed"));
}

static void
sysem_etcd_set_lease_expired (SysemEtcd  *self,
                              SysemOp     op,
                              GError    **error)
{
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, op, self->parent.display_key,
                   _("its etcd lease expired: the units it held were given back"));
}

/* A failed request as the error of @op on @key: network failures stay
 * G_IO_ERRORs (with the operation's sentence), etcd's refusals become
 * SysemSemaphoreErrors. */
static void
sysem_etcd_propagate (GError     **error,
                      SysemOp      op,
                      const char  *key,
                      GError      *cause)
{
  SysemSemaphoreError code = SYSEM_SEMAPHORE_ERROR_UNKNOWN;
  GError *tmp = NULL;

  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, cause);
      return;
    }

  if (cause->domain == SYSEM_ETCD_GRPC_ERROR)
    {
      switch (cause->code)
        {
        case SYSEM_ETCD_GRPC_PERMISSION_DENIED:
        case SYSEM_ETCD_GRPC_UNAUTHENTICATED:
          code = SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED;
          break;
        case SYSEM_ETCD_GRPC_RESOURCE_EXHAUSTED:
          code = SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES;
          break;
        case SYSEM_ETCD_GRPC_NOT_FOUND:
          code = SYSEM_SEMAPHORE_ERROR_NOT_FOUND;
          break;
        default:
          break;
        }
    }

  sysem_set_error (&tmp, code, op, key, cause->message);
  if (tmp != NULL && cause->domain == G_IO_ERROR)
    {
      tmp->domain = G_IO_ERROR;
      tmp->code = cause->code;
    }
  g_propagate_error (error, tmp);
  g_error_free (cause);
}

/* Handles what a failed request of an object means: a lease etcd does not
 * know any more is an expired one. */
static void
sysem_etcd_fail (SysemEtcd       *self,
                 SysemEtcdLease  *lease,
                 SysemOp          op,
                 GError          *cause,
                 GError         **error)
{
  if (g_error_matches (cause, SYSEM_ETCD_GRPC_ERROR, SYSEM_ETCD_GRPC_NOT_FOUND) &&
      lease != NULL)
    {
      sysem_etcd_lease_set_expired (lease);
      sysem_etcd_set_lease_expired (self, op, error);
      g_error_free (cause);
      return;
    }

  sysem_etcd_propagate (error, op, self->parent.display_key, cause);
}

/* Requests */

static JsonObject *
sysem_etcd_call (SysemEtcd       *self,
                 SysemEtcdLease  *lease,
                 SysemOp          op,
                 const char      *path,
                 const char      *body,
                 GCancellable    *cancellable,
                 GError         **error)
{
  GError *local_error = NULL;
  JsonObject *answer;

  /* While the lease may be alive, a cluster that does not answer is given
   * until then to come back. */
  answer = sysem_etcd_client_call (self->client, path, body,
                                   lease != NULL ? sysem_etcd_lease_alive_until (lease) : 0,
                                   cancellable, &local_error);
  if (answer == NULL)
    sysem_etcd_fail (self, lease, op, local_error, error);

  return answer;
}

/* A transaction whose compares hold while the semaphore is there (its
 * total is the one this handle knows): the answer, or NULL with an error,
 * NOT_FOUND when the compares failed. */
static JsonObject *
sysem_etcd_txn_or_removed (SysemEtcd       *self,
                           SysemEtcdLease  *lease,
                           SysemOp          op,
                           const char      *body,
                           GError         **error)
{
  JsonObject *answer = sysem_etcd_call (self, lease, op, "/v3/kv/txn", body, NULL, error);

  if (answer != NULL && !sysem_etcd_json_int (answer, "succeeded"))
    {
      json_object_unref (answer);
      sysem_etcd_set_removed (self, op, error);
      return NULL;
    }

  return answer;
}

/* The nth response of a transaction, of @kind ("response_range"). */
static JsonObject *
sysem_etcd_txn_response (JsonObject *answer,
                         guint       n,
                         const char *kind)
{
  JsonArray *responses;
  JsonObject *response;

  if (answer == NULL || !json_object_has_member (answer, "responses"))
    return NULL;

  responses = json_object_get_array_member (answer, "responses");
  if (responses == NULL || n >= json_array_get_length (responses))
    return NULL;

  response = json_array_get_object_element (responses, n);
  if (response == NULL || !json_object_has_member (response, kind))
    return NULL;

  return json_object_get_object_member (response, kind);
}

static gint64
sysem_etcd_revision (JsonObject *answer)
{
  JsonObject *header = answer != NULL && json_object_has_member (answer, "header")
    ? json_object_get_object_member (answer, "header") : NULL;

  return sysem_etcd_json_int (header, "revision");
}

/* The first key-value of a range response, or NULL. */
static JsonObject *
sysem_etcd_range_kv (JsonObject *range)
{
  JsonArray *kvs;

  if (range == NULL || !json_object_has_member (range, "kvs"))
    return NULL;

  kvs = json_object_get_array_member (range, "kvs");
  if (kvs == NULL || json_array_get_length (kvs) == 0)
    return NULL;

  return json_array_get_object_element (kvs, 0);
}

/* A count from etcd: a decimal number of units. */
static gboolean
sysem_etcd_parse_count (const char *text,
                        gint64     *out)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, SYSEM_ETCD_MAX_VALUE, &value, NULL))
    return FALSE;

  *out = (gint64) value;
  return TRUE;
}

/* The value of total in @kv, or FALSE with an error. */
static gboolean
sysem_etcd_kv_total (SysemEtcd   *self,
                     JsonObject  *kv,
                     SysemOp      op,
                     gint64      *total,
                     GError     **error)
{
  g_autofree char *value = sysem_etcd_json_bytes (kv, "value", NULL);

  if (!sysem_etcd_parse_count (value, total))
    {
      g_autofree char *shown = g_utf8_make_valid (value, MIN (strlen (value), 40));
      g_autofree char *reason =
        /* Translators: %s is what etcd holds where the count should be */
        g_strdup_printf (_("its key “total” in etcd holds “%s”, which is not a count"), shown);

      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, op, self->parent.display_key,
                       reason);
      return FALSE;
    }

  return TRUE;
}

/* A compare that holds while total is the one this object opened. */
static void
sysem_etcd_append_same_total (SysemEtcd *self,
                              GString   *body)
{
  g_string_append_printf (body,
                          "{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"%" G_GINT64_FORMAT "\",\"result\":\"EQUAL\"}",
                          self->k_total, self->total_rev);
}

/* Reads total and the number of q keys in one revision. FALSE with
 * NOT_FOUND when total is gone or is another. */
static gboolean
sysem_etcd_read_counts (SysemEtcd       *self,
                        SysemEtcdLease  *lease,
                        SysemOp          op,
                        gint64          *total,
                        gint64          *count,
                        GCancellable    *cancellable,
                        GError         **error)
{
  g_autoptr(GString) body = g_string_new ("{\"success\":[");
  g_autoptr(JsonObject) answer = NULL;
  JsonObject *kv;

  g_string_append_printf (body,
                          "{\"request_range\":{\"key\":\"%s\"}},"
                          "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}}]}",
                          self->k_total, self->k_q, self->k_q_end);

  answer = sysem_etcd_call (self, lease, op, "/v3/kv/txn", body->str, cancellable, error);
  if (answer == NULL)
    return FALSE;

  kv = sysem_etcd_range_kv (sysem_etcd_txn_response (answer, 0, "response_range"));
  if (kv == NULL || sysem_etcd_json_int (kv, "create_revision") != self->total_rev)
    {
      sysem_etcd_set_removed (self, op, error);
      return FALSE;
    }

  if (!sysem_etcd_kv_total (self, kv, op, total, error))
    return FALSE;

  *count = sysem_etcd_json_int (sysem_etcd_txn_response (answer, 1, "response_range"), "count");
  return TRUE;
}

/* Does the q key @mine hold a unit: is it among the first total keys by
 * create revision? (etcd counts a range before it filters it, so the keys
 * themselves are read, oldest first, as many as total was last time.)
 * FALSE with NOT_FOUND when total is gone or is another. */
static gboolean
sysem_etcd_read_held (SysemEtcd       *self,
                      SysemEtcdLease  *lease,
                      const char      *mine,
                      gint64          *limit,
                      gboolean        *held,
                      gboolean        *mine_exists,
                      GCancellable    *cancellable,
                      GError         **error)
{
  g_autofree char *raw_mine = NULL;
  gsize raw_len;

  raw_mine = (char *) g_base64_decode (mine, &raw_len);

  for (;;)
    {
      g_autoptr(GString) body = g_string_new ("{\"success\":[");
      g_autoptr(JsonObject) answer = NULL;
      JsonObject *kv;
      JsonObject *range;
      JsonArray *kvs;
      gint64 total;
      guint n;
      gboolean found = FALSE;

      g_string_append_printf (body,
                              "{\"request_range\":{\"key\":\"%s\"}},"
                              "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"keys_only\":true,"
                              "\"sort_order\":\"ASCEND\",\"sort_target\":\"CREATE\",\"limit\":\"%" G_GINT64_FORMAT "\"}},"
                              "{\"request_range\":{\"key\":\"%s\",\"count_only\":true}}]}",
                              self->k_total, self->k_q, self->k_q_end, MAX (*limit, 1), mine);

      answer = sysem_etcd_call (self, lease, SYSEM_OP_ACQUIRE, "/v3/kv/txn", body->str,
                                cancellable, error);
      if (answer == NULL)
        return FALSE;

      kv = sysem_etcd_range_kv (sysem_etcd_txn_response (answer, 0, "response_range"));
      if (kv == NULL || sysem_etcd_json_int (kv, "create_revision") != self->total_rev)
        {
          sysem_etcd_set_removed (self, SYSEM_OP_ACQUIRE, error);
          return FALSE;
        }
      if (!sysem_etcd_kv_total (self, kv, SYSEM_OP_ACQUIRE, &total, error))
        return FALSE;
      *mine_exists = sysem_etcd_json_int (sysem_etcd_txn_response (answer, 2, "response_range"),
                                          "count") > 0;

      range = sysem_etcd_txn_response (answer, 1, "response_range");
      kvs = range != NULL && json_object_has_member (range, "kvs")
        ? json_object_get_array_member (range, "kvs") : NULL;
      n = kvs != NULL ? json_array_get_length (kvs) : 0;
      for (guint i = 0; i < n && i < (guint64) total; i++)
        {
          gsize len;
          g_autofree char *key = sysem_etcd_json_bytes (json_array_get_object_element (kvs, i),
                                                        "key", &len);

          if (len == raw_len && memcmp (key, raw_mine, len) == 0)
            {
              found = TRUE;
              break;
            }
        }

      if (found || total == 0 || total <= *limit || !json_object_get_boolean_member_with_default (range, "more", FALSE))
        {
          *limit = MAX (total, 1);
          *held = found;
          return TRUE;
        }

      /* total grew past what we read: read as many as it is now. */
      *limit = total;
    }
}

/* Deletes @keys (base64) in one transaction, while total is ours. */
static gboolean
sysem_etcd_delete_keys (SysemEtcd       *self,
                        SysemEtcdLease  *lease,
                        SysemOp          op,
                        GPtrArray       *keys,
                        GError         **error)
{
  g_autoptr(GString) body = g_string_new ("{\"compare\":[");
  g_autoptr(JsonObject) answer = NULL;

  sysem_etcd_append_same_total (self, body);
  g_string_append (body, "],\"success\":[");
  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (body, "%s{\"request_delete_range\":{\"key\":\"%s\"}}",
                            i > 0 ? "," : "", (const char *) keys->pdata[i]);
  g_string_append (body, "]}");

  answer = sysem_etcd_txn_or_removed (self, lease, op, body->str, error);
  if (answer == NULL)
    return FALSE;

  return TRUE;
}

/* Joining */

/* Is @suffix (what follows the prefix) a key sysem makes? */
static gboolean
sysem_etcd_known_suffix (const char *suffix)
{
  const char *p;

  if (g_str_equal (suffix, "total") || g_str_equal (suffix, "keep"))
    return TRUE;

  if (g_str_has_prefix (suffix, "users/"))
    {
      p = suffix + strlen ("users/");
      return strlen (p) == 16 && strspn (p, "0123456789abcdef") == 16;
    }

  if (g_str_has_prefix (suffix, "q/"))
    {
      p = suffix + strlen ("q/");
      return strlen (p) > 17 && strspn (p, "0123456789abcdef") == 16 && p[16] == '-' &&
             p[17] != '\0' && strspn (p + 17, "0123456789") == strlen (p + 17);
    }

  return FALSE;
}

/* Whether @range holds the key @suffix of the prefix. */
static gboolean
sysem_etcd_range_has (SysemEtcd  *self,
                      JsonObject *range,
                      const char *suffix)
{
  g_autofree char *want = g_strconcat (self->prefix, suffix, NULL);
  JsonArray *kvs;

  if (range == NULL || !json_object_has_member (range, "kvs"))
    return FALSE;

  kvs = json_object_get_array_member (range, "kvs");
  for (guint i = 0; kvs != NULL && i < json_array_get_length (kvs); i++)
    {
      g_autofree char *key = sysem_etcd_json_bytes (json_array_get_object_element (kvs, i),
                                                    "key", NULL);

      if (g_str_equal (key, want))
        return TRUE;
    }

  return FALSE;
}

/* The first key under the prefix in @range that sysem did not make. */
static char *
sysem_etcd_foreign_key (SysemEtcd  *self,
                        JsonObject *range)
{
  JsonArray *kvs;
  gsize plen = strlen (self->prefix);

  if (range == NULL || !json_object_has_member (range, "kvs"))
    return NULL;

  kvs = json_object_get_array_member (range, "kvs");
  for (guint i = 0; kvs != NULL && i < json_array_get_length (kvs); i++)
    {
      g_autofree char *key = sysem_etcd_json_bytes (json_array_get_object_element (kvs, i),
                                                    "key", NULL);

      if (strlen (key) < plen || !sysem_etcd_known_suffix (key + plen))
        return g_utf8_make_valid (key, MIN (strlen (key), 80));
    }

  return NULL;
}

static int
sysem_etcd_ttl (void)
{
  const char *env = g_getenv (SYSEM_ETCD_TTL_ENV);
  guint64 ttl;

  if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, 3600, &ttl, NULL))
    return (int) ttl;
  return SYSEM_ETCD_DEFAULT_TTL;
}

/* Grants a lease and puts the users key: this object is a user. With
 * @create_total, also makes total (Open: if missing; Create: always).
 * Returns the lease, or NULL with an error. */
static SysemEtcdLease *
sysem_etcd_join (SysemEtcd        *self,
                 gboolean          create_total,
                 int               initial_value,
                 SysemAccessMode   mode,
                 char            **k_mine_out,
                 GError          **error)
{
  g_autoptr(GString) body = g_string_new ("{");
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *initial = NULL;
  g_autofree char *k_mine = NULL;
  g_autofree char *foreign = NULL;
  GError *local_error = NULL;
  SysemEtcdLease *lease;
  JsonObject *check;
  JsonObject *kv;
  gboolean succeeded;
  gint64 id;
  gint64 total;

  lease = sysem_etcd_lease_grant (self->client, sysem_etcd_ttl (), &local_error);
  if (lease == NULL)
    {
      sysem_etcd_propagate (error, SYSEM_OP_OPEN, self->parent.display_key, local_error);
      return NULL;
    }
  id = sysem_etcd_lease_get_id (lease);
  k_mine = sysem_etcd_lease_key (self, "users/", id, 0);
  initial = sysem_etcd_b64 ("0", 1);

  if (create_total)
    {
      g_autofree char *value = g_strdup_printf ("%d", initial_value);
      g_autofree char *k_value = sysem_etcd_b64 (value, strlen (value));

      /* Open makes total only if it is missing; Create sets it. */
      if (mode == SYSEM_ACCESS_MODE_OPEN)
        g_string_append_printf (body,
                                "\"compare\":[{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"0\",\"result\":\"EQUAL\"}],",
                                self->k_total);
      g_string_append_printf (body,
                              "\"success\":["
                              "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"keys_only\":true,\"limit\":\"%d\"}},"
                              "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}},"
                              "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" G_GINT64_FORMAT "\"}},"
                              "{\"request_range\":{\"key\":\"%s\"}}],",
                              self->k_prefix, self->k_prefix_end, SYSEM_ETCD_CHECK_KEYS,
                              self->k_total, k_value, k_mine, initial, id, self->k_total);
    }
  else
    {
      /* Joining again after fork(): only while total is ours. */
      g_string_append (body, "\"compare\":[");
      sysem_etcd_append_same_total (self, body);
      g_string_append_printf (body,
                              "],\"success\":["
                              "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"keys_only\":true,\"limit\":\"%d\"}},"
                              "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" G_GINT64_FORMAT "\"}},"
                              "{\"request_range\":{\"key\":\"%s\"}}],",
                              self->k_prefix, self->k_prefix_end, SYSEM_ETCD_CHECK_KEYS,
                              k_mine, initial, id, self->k_total);
    }
  g_string_append_printf (body,
                          "\"failure\":["
                          "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"keys_only\":true,\"limit\":\"%d\"}},"
                          "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" G_GINT64_FORMAT "\"}},"
                          "{\"request_range\":{\"key\":\"%s\"}}]}",
                          self->k_prefix, self->k_prefix_end, SYSEM_ETCD_CHECK_KEYS,
                          k_mine, initial, id, self->k_total);

  answer = sysem_etcd_client_call (self->client, "/v3/kv/txn", body->str, 0, NULL, &local_error);
  if (answer == NULL)
    {
      sysem_etcd_propagate (error, SYSEM_OP_OPEN, self->parent.display_key, local_error);
      goto failed;
    }

  succeeded = sysem_etcd_json_int (answer, "succeeded");
  check = sysem_etcd_txn_response (answer, 0, "response_range");
  kv = sysem_etcd_range_kv (sysem_etcd_txn_response (answer, succeeded && create_total ? 3 : 2,
                                                     "response_range"));

  if (!create_total && !succeeded)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_OPEN,
                       self->parent.display_key, _("it was removed"));
      sysem_handle_set_removed (&self->parent);
      goto failed;
    }

  foreign = sysem_etcd_foreign_key (self, check);
  if (foreign != NULL)
    {
      g_autofree char *reason = NULL;

      if (succeeded && create_total && kv != NULL && !sysem_etcd_range_has (self, check, "total"))
        {
          /* We made total beside them: take it away again. */
          g_autofree char *undo =
            g_strdup_printf ("{\"compare\":[{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"%" G_GINT64_FORMAT "\",\"result\":\"EQUAL\"}],"
                             "\"success\":[{\"request_delete_range\":{\"key\":\"%s\"}}]}",
                             self->k_total, sysem_etcd_json_int (kv, "create_revision"), self->k_total);
          g_autoptr(JsonObject) undone = sysem_etcd_client_call (self->client, "/v3/kv/txn", undo,
                                                                 0, NULL, NULL);
        }

      /* Translators: %s is a key in etcd */
      reason = g_strdup_printf (_("its name in etcd holds keys that sysem did not make, such as “%s”"),
                                foreign);

      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       self->parent.display_key, reason);
      goto failed;
    }

  if (kv == NULL)
    {
      /* Removed between the two halves of the transaction cannot be; an
       * answer without total is one we do not understand. */
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_UNKNOWN, SYSEM_OP_OPEN,
                       self->parent.display_key, _("etcd gave an answer sysem does not understand"));
      goto failed;
    }

  if (!sysem_etcd_kv_total (self, kv, SYSEM_OP_OPEN, &total, error))
    goto failed;

  self->total_rev = sysem_etcd_json_int (kv, "create_revision");
  *k_mine_out = g_steal_pointer (&k_mine);
  return lease;

failed:
  sysem_etcd_lease_revoke (lease);
  sysem_etcd_lease_unref (lease);
  return NULL;
}

/* The start of every call: the lease of this object, alive, with a
 * reference; or NULL with the error. */
static SysemEtcdLease *
sysem_etcd_begin (SysemEtcd  *self,
                  SysemOp     op,
                  GError    **error)
{
  SysemEtcdLease *lease = NULL;
  guint gen = sysem_etcd_fork_generation ();

  if (sysem_handle_is_removed (&self->parent))
    {
      sysem_etcd_set_removed (self, op, error);
      return NULL;
    }

  sysem_etcd_lock ();
  if (self->closed)
    {
      sysem_etcd_unlock ();
      sysem_etcd_set_removed (self, op, error);
      return NULL;
    }

  if (G_UNLIKELY (self->gen != gen))
    {
      /* Inherited through fork(): join with a lease of our own, holding
       * nothing. The parent's keys and lease are the parent's. */
      g_autofree char *k_mine = NULL;
      SysemEtcdLease *fresh;

      g_queue_clear_full (&self->held, g_free);
      g_clear_pointer (&self->lease, sysem_etcd_lease_unref);
      g_clear_pointer (&self->k_mine, g_free);
      self->gen = gen;

      fresh = sysem_etcd_join (self, FALSE, 0, SYSEM_ACCESS_MODE_OPEN, &k_mine, error);
      if (fresh == NULL)
        {
          self->closed = TRUE;
          sysem_etcd_unlock ();
          return NULL;
        }
      self->lease = fresh;
      self->k_mine = g_steal_pointer (&k_mine);
    }

  if (self->lease != NULL)
    lease = sysem_etcd_lease_ref (self->lease);
  sysem_etcd_unlock ();

  if (lease == NULL || !sysem_etcd_lease_is_alive (lease))
    {
      if (lease != NULL)
        sysem_etcd_lease_set_expired (lease);
      sysem_etcd_set_lease_expired (self, op, error);
      g_clear_pointer (&lease, sysem_etcd_lease_unref);
      return NULL;
    }

  return lease;
}

/* Acquiring */

typedef enum {
  WAIT_HELD,
  WAIT_ERROR,
  WAIT_CANCELLED,   /* by the caller, the deadline or the lease: see why */
} WaitResult;

/* Waits until the q key @mine, made at @revision, holds a unit. */
static WaitResult
sysem_etcd_wait (SysemEtcd       *self,
                 SysemEtcdLease  *lease,
                 const char      *mine,
                 gint64           revision,
                 gint64           total,
                 GCancellable    *cancellable,
                 GError         **error)
{
  g_autofree char *body = NULL;
  gint64 from = revision + 1;
  SysemEtcdWatch *watch = NULL;
  WaitResult result = WAIT_ERROR;
  gsize plen = strlen (self->prefix);
  gint64 limit = total;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(JsonObject) message = NULL;
      gboolean recount = FALSE;

      if (watch == NULL)
        {
          g_free (body);
          body = g_strdup_printf ("{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\",\"start_revision\":\"%" G_GINT64_FORMAT "\"}}",
                                  self->k_prefix, self->k_prefix_end, from);
          watch = sysem_etcd_watch_new (self->client, body, sysem_etcd_lease_alive_until (lease),
                                        cancellable, &local_error);
          if (watch == NULL)
            {
              if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return WAIT_CANCELLED;
              sysem_etcd_fail (self, lease, SYSEM_OP_ACQUIRE, g_steal_pointer (&local_error), error);
              return WAIT_ERROR;
            }

          /* What changed before the watch began is in its first events;
           * but a watch made again after a lost connection counts first. */
          if (from > revision + 1)
            {
              gboolean held, exists;

              if (!sysem_etcd_read_held (self, lease, mine, &limit, &held, &exists, cancellable,
                                         &local_error))
                goto read_failed;
              if (!exists)
                goto lost;
              if (held)
                {
                  result = WAIT_HELD;
                  break;
                }
            }
        }

      message = sysem_etcd_watch_next (watch, cancellable, &local_error);
      if (message == NULL)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              result = WAIT_CANCELLED;
              break;
            }
          if (local_error->domain == SYSEM_ETCD_GRPC_ERROR &&
              !SYSEM_ETCD_GRPC_IS_TRANSIENT (local_error->code))
            {
              sysem_etcd_fail (self, lease, SYSEM_OP_ACQUIRE, g_steal_pointer (&local_error), error);
              break;
            }
          /* The connection went: watch again from where we were, on this
           * endpoint or the next. */
          g_clear_pointer (&watch, sysem_etcd_watch_free);
          continue;
        }

      if (sysem_etcd_json_int (message, "compact_revision") > 0 ||
          sysem_etcd_json_int (message, "canceled"))
        {
          /* The revisions we wanted are gone: count, and watch from now. */
          g_clear_pointer (&watch, sysem_etcd_watch_free);
          from = MAX (from, sysem_etcd_revision (message)) + 1;
          recount = TRUE;
        }
      else
        {
          JsonArray *events = json_object_has_member (message, "events")
            ? json_object_get_array_member (message, "events") : NULL;

          for (guint i = 0; events != NULL && i < json_array_get_length (events); i++)
            {
              JsonObject *event = json_array_get_object_element (events, i);
              JsonObject *kv = json_object_get_object_member (event, "kv");
              g_autofree char *key = sysem_etcd_json_bytes (kv, "key", NULL);
              gboolean deleted = g_strcmp0 (json_object_get_string_member_with_default (event, "type", "PUT"),
                                            "DELETE") == 0;
              const char *suffix = strlen (key) >= plen ? key + plen : "";

              from = MAX (from, sysem_etcd_json_int (kv, "mod_revision") + 1);
              /* A new q key waits behind ours: only a key that goes, or a
               * change of total, can give us a unit. */
              if (g_str_equal (suffix, "total") || (deleted && g_str_has_prefix (suffix, "q/")))
                recount = TRUE;
            }
        }

      if (recount)
        {
          gboolean held, exists;

          if (!sysem_etcd_read_held (self, lease, mine, &limit, &held, &exists, cancellable,
                                     &local_error))
            goto read_failed;
          if (!exists)
            goto lost;
          if (held)
            {
              result = WAIT_HELD;
              break;
            }
        }
      continue;

    read_failed:
      if (local_error != NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        result = WAIT_CANCELLED;
      else
        {
          if (local_error != NULL)
            g_propagate_error (error, g_steal_pointer (&local_error));
          result = WAIT_ERROR;
        }
      break;

    lost:
      /* Our key went, total did not: etcd let our lease go. */
      sysem_etcd_lease_set_expired (lease);
      sysem_etcd_set_lease_expired (self, SYSEM_OP_ACQUIRE, error);
      result = WAIT_ERROR;
      break;
    }

  sysem_etcd_watch_free (watch);
  return result;
}

static void
sysem_etcd_cancel_other_cb (GCancellable *cancellable,
                            gpointer      user_data)
{
  g_cancellable_cancel (user_data);
}

static gboolean
sysem_etcd_acquire (SysemHandle   *handle,
                    gint64         deadline,
                    GCancellable  *cancellable,
                    GError       **error)
{
  SysemEtcd *self = (SysemEtcd *) handle;
  g_autoptr(GString) body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GCancellable) internal = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *mine = NULL;
  g_autofree char *k_one = NULL;
  SysemEtcdLease *lease;
  GSource *timer = NULL;
  gulong cancel_id = 0;
  WaitResult result;
  JsonObject *kv;
  gint64 total, count, revision, id;
  guint64 seq;
  gboolean ok = FALSE;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  lease = sysem_etcd_begin (self, SYSEM_OP_ACQUIRE, error);
  if (lease == NULL)
    return FALSE;

  if (deadline == SYSEM_DEADLINE_NOW)
    {
      /* No unit free: one read, no key made. */
      if (!sysem_etcd_read_counts (self, lease, SYSEM_OP_ACQUIRE, &total, &count, cancellable,
                                   error))
        goto out;
      if (count >= total)
        goto out;
    }

  sysem_etcd_lock ();
  seq = ++self->seq;
  sysem_etcd_unlock ();
  id = sysem_etcd_lease_get_id (lease);
  mine = sysem_etcd_lease_key (self, "q/", id, seq);
  k_one = sysem_etcd_b64 ("1", 1);

  /* Our key, and how many are there: it is the newest, so the others are
   * all older. */
  body = g_string_new ("{\"compare\":[");
  sysem_etcd_append_same_total (self, body);
  g_string_append_printf (body,
                          "],\"success\":["
                          "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" G_GINT64_FORMAT "\"}},"
                          "{\"request_range\":{\"key\":\"%s\"}},"
                          "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}}]}",
                          mine, k_one, id, self->k_total, self->k_q, self->k_q_end);
  answer = sysem_etcd_txn_or_removed (self, lease, SYSEM_OP_ACQUIRE, body->str, error);
  if (answer == NULL)
    goto out;

  revision = sysem_etcd_revision (answer);
  kv = sysem_etcd_range_kv (sysem_etcd_txn_response (answer, 1, "response_range"));
  count = sysem_etcd_json_int (sysem_etcd_txn_response (answer, 2, "response_range"), "count");
  if (kv == NULL || !sysem_etcd_kv_total (self, kv, SYSEM_OP_ACQUIRE, &total, error))
    goto give_back;

  if (count - 1 < total)
    goto held;

  if (deadline == SYSEM_DEADLINE_NOW)
    goto give_back;

  /* Wait. The caller's cancellable, the deadline and the lease's expiry
   * each cancel the wait's own cancellable. */
  internal = g_cancellable_new ();
  if (cancellable != NULL)
    cancel_id = sysem_cancellable_connect (cancellable, G_CALLBACK (sysem_etcd_cancel_other_cb),
                                           internal);
  if (deadline != SYSEM_DEADLINE_FOREVER)
    timer = sysem_etcd_cancel_at (deadline, internal);
  sysem_etcd_lease_add_waiter (lease, internal);

  result = sysem_etcd_wait (self, lease, mine, revision, total, internal, &local_error);

  sysem_etcd_lease_remove_waiter (lease, internal);
  if (timer != NULL)
    {
      g_source_destroy (timer);
      g_source_unref (timer);
    }
  if (cancel_id != 0)
    sysem_cancellable_disconnect (cancellable, cancel_id);

  if (result == WAIT_HELD)
    goto held;

  if (result == WAIT_CANCELLED)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        ;
      else if (!sysem_etcd_lease_is_alive (lease))
        sysem_etcd_set_lease_expired (self, SYSEM_OP_ACQUIRE, error);
      /* else: the deadline passed */
    }
  else
    g_propagate_error (error, g_steal_pointer (&local_error));

give_back:
  /* Never leave a key behind: if it came to hold a unit meanwhile, the
   * unit goes to the next in line. */
  if (sysem_etcd_lease_is_alive (lease) && !sysem_handle_is_removed (handle))
    {
      g_autoptr(GPtrArray) keys = g_ptr_array_new ();

      g_ptr_array_add (keys, mine);
      sysem_etcd_delete_keys (self, lease, SYSEM_OP_ACQUIRE, keys,
                              error != NULL && *error == NULL ? error : NULL);
    }
  goto out;

held:
  sysem_etcd_lock ();
  if (self->lease == lease)
    {
      g_queue_push_tail (&self->held, g_steal_pointer (&mine));
      ok = TRUE;
    }
  sysem_etcd_unlock ();
  if (!ok)
    sysem_etcd_set_removed (self, SYSEM_OP_ACQUIRE, error);

out:
  sysem_etcd_lease_unref (lease);
  return ok;
}

/* No time to wait, no cancellable, no error: acquire() with those. */
static gboolean
sysem_etcd_try_acquire (SysemHandle *handle)
{
  return sysem_etcd_acquire (handle, SYSEM_DEADLINE_NOW, NULL, NULL);
}

/* Releasing */

static gboolean
sysem_etcd_release (SysemHandle  *handle,
                    int           n,
                    GError      **error)
{
  SysemEtcd *self = (SysemEtcd *) handle;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  SysemEtcdLease *lease;
  gboolean ok = FALSE;
  gint64 excess;

  lease = sysem_etcd_begin (self, SYSEM_OP_RELEASE, error);
  if (lease == NULL)
    return FALSE;

  /* The oldest keys we hold first. */
  sysem_etcd_lock ();
  while (keys->len < (guint) n && !g_queue_is_empty (&self->held))
    g_ptr_array_add (keys, g_queue_pop_head (&self->held));
  sysem_etcd_unlock ();
  excess = n - (gint64) keys->len;

  if (excess > 0 && keys->len > SYSEM_ETCD_TXN_KEYS)
    {
      /* Too many keys for the transaction that adds to total: a look at
       * the maximum first, so that a release past it changes nothing. */
      g_autofree char *body = g_strdup_printf ("{\"key\":\"%s\"}", self->k_total);
      g_autoptr(JsonObject) answer = NULL;
      gint64 total = 0;
      JsonObject *kv;

      answer = sysem_etcd_call (self, lease, SYSEM_OP_RELEASE, "/v3/kv/range", body, NULL, error);
      if (answer == NULL)
        goto restore;
      kv = sysem_etcd_range_kv (answer);
      if (kv == NULL || sysem_etcd_json_int (kv, "create_revision") != self->total_rev)
        {
          sysem_etcd_set_removed (self, SYSEM_OP_RELEASE, error);
          goto restore;
        }
      if (!sysem_etcd_kv_total (self, kv, SYSEM_OP_RELEASE, &total, error))
        goto restore;
      if (total + excess > SYSEM_ETCD_MAX_VALUE)
        {
          sysem_set_error_too_many (error, SYSEM_OP_RELEASE, handle->display_key,
                                    SYSEM_ETCD_MAX_VALUE);
          goto restore;
        }
    }

  if (excess == 0 || keys->len > SYSEM_ETCD_TXN_KEYS)
    {
      /* etcd takes at most 128 operations in a transaction. */
      while (keys->len > 0)
        {
          g_autoptr(GPtrArray) chunk = g_ptr_array_new ();
          guint len = MIN (keys->len, SYSEM_ETCD_TXN_KEYS);

          for (guint i = 0; i < len; i++)
            g_ptr_array_add (chunk, keys->pdata[i]);
          if (!sysem_etcd_delete_keys (self, lease, SYSEM_OP_RELEASE, chunk, error))
            goto restore;
          g_ptr_array_remove_range (keys, 0, len);
        }
      ok = excess == 0;
    }

  if (excess > 0)
    {
      for (guint round = 0; round < 1000; round++)
        {
          g_autoptr(GString) body = NULL;
          g_autoptr(JsonObject) answer = NULL;
          g_autofree char *value = NULL;
          g_autofree char *k_value = NULL;
          g_autofree char *marker = NULL;
          g_autofree char *k_marker = NULL;
          GError *local_error = NULL;
          gint64 total, mod;
          JsonObject *kv;

          /* total, and its revision for the compare-and-swap */
          body = g_string_new (NULL);
          g_string_append_printf (body, "{\"key\":\"%s\"}", self->k_total);
          answer = sysem_etcd_call (self, lease, SYSEM_OP_RELEASE, "/v3/kv/range", body->str,
                                    NULL, error);
          if (answer == NULL)
            break;
          kv = sysem_etcd_range_kv (answer);
          if (kv == NULL || sysem_etcd_json_int (kv, "create_revision") != self->total_rev)
            {
              sysem_etcd_set_removed (self, SYSEM_OP_RELEASE, error);
              break;
            }
          if (!sysem_etcd_kv_total (self, kv, SYSEM_OP_RELEASE, &total, error))
            break;
          mod = sysem_etcd_json_int (kv, "mod_revision");
          if (total + excess > SYSEM_ETCD_MAX_VALUE)
            {
              sysem_set_error_too_many (error, SYSEM_OP_RELEASE, handle->display_key,
                                        SYSEM_ETCD_MAX_VALUE);
              break;
            }

          value = g_strdup_printf ("%" G_GINT64_FORMAT, total + excess);
          k_value = sysem_etcd_b64 (value, strlen (value));
          sysem_etcd_lock ();
          marker = g_strdup_printf ("%" G_GUINT64_FORMAT, ++self->marker);
          sysem_etcd_unlock ();
          k_marker = sysem_etcd_b64 (marker, strlen (marker));

          g_string_truncate (body, 0);
          g_string_append_printf (body,
                                  "{\"compare\":[{\"target\":\"MOD\",\"key\":\"%s\",\"mod_revision\":\"%" G_GINT64_FORMAT "\",\"result\":\"EQUAL\"}],"
                                  "\"success\":[",
                                  self->k_total, mod);
          for (guint i = 0; i < keys->len; i++)
            g_string_append_printf (body, "{\"request_delete_range\":{\"key\":\"%s\"}},",
                                    (const char *) keys->pdata[i]);
          /* The marker tells, after an answer that was lost, whether this
           * transaction was done: total must not grow twice. */
          g_string_append_printf (body,
                                  "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}},"
                                  "{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%" G_GINT64_FORMAT "\"}}]}",
                                  self->k_total, k_value, self->k_mine, k_marker,
                                  sysem_etcd_lease_get_id (lease));

          g_clear_pointer (&answer, json_object_unref);
          answer = sysem_etcd_client_call (self->client, "/v3/kv/txn", body->str,
                                           sysem_etcd_lease_alive_until (lease), NULL,
                                           &local_error);
          if (answer == NULL)
            {
              g_autoptr(JsonObject) check = NULL;
              g_autofree char *mark_body = NULL;
              g_autofree char *now = NULL;

              if (local_error->domain != G_IO_ERROR)
                {
                  sysem_etcd_fail (self, lease, SYSEM_OP_RELEASE, local_error, error);
                  break;
                }

              /* Done or not? */
              mark_body = g_strdup_printf ("{\"key\":\"%s\"}", self->k_mine);
              check = sysem_etcd_client_call (self->client, "/v3/kv/range", mark_body,
                                              sysem_etcd_lease_alive_until (lease), NULL, NULL);
              now = sysem_etcd_json_bytes (sysem_etcd_range_kv (check), "value", NULL);
              if (check != NULL && g_str_equal (now, marker))
                {
                  g_error_free (local_error);
                  ok = TRUE;
                  break;
                }
              if (check != NULL)
                {
                  g_error_free (local_error);
                  continue;
                }
              sysem_etcd_fail (self, lease, SYSEM_OP_RELEASE, local_error, error);
              break;
            }

          if (sysem_etcd_json_int (answer, "succeeded"))
            {
              ok = TRUE;
              break;
            }
        }
    }

restore:
  if (!ok && keys->len > 0)
    {
      /* Nothing changed: we still hold them. */
      sysem_etcd_lock ();
      if (self->lease == lease)
        for (guint i = keys->len; i > 0; i--)
          g_queue_push_head (&self->held, g_strdup (keys->pdata[i - 1]));
      sysem_etcd_unlock ();
    }

  sysem_etcd_lease_unref (lease);
  return ok;
}

/* Reading */

static int
sysem_etcd_get_value (SysemHandle  *handle,
                      GError      **error)
{
  SysemEtcd *self = (SysemEtcd *) handle;
  SysemEtcdLease *lease;
  gint64 total, count;
  gboolean ok;

  lease = sysem_etcd_begin (self, SYSEM_OP_GET_VALUE, error);
  if (lease == NULL)
    return -1;

  ok = sysem_etcd_read_counts (self, lease, SYSEM_OP_GET_VALUE, &total, &count, NULL, error);
  sysem_etcd_lease_unref (lease);
  if (!ok)
    return -1;

  return (int) MAX (total - count, 0);
}

static gboolean
sysem_etcd_stats (SysemHandle  *handle,
                  SysemStats   *stats,
                  GError      **error)
{
  SysemEtcd *self = (SysemEtcd *) handle;
  g_autoptr(GString) body = g_string_new ("{\"success\":[");
  g_autoptr(JsonObject) answer = NULL;
  SysemEtcdLease *lease;
  gint64 total, count, users;
  JsonObject *kv;

  lease = sysem_etcd_begin (self, SYSEM_OP_GET_VALUE, error);
  if (lease == NULL)
    return FALSE;

  g_string_append_printf (body,
                          "{\"request_range\":{\"key\":\"%s\"}},"
                          "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}},"
                          "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}}]}",
                          self->k_total, self->k_q, self->k_q_end, self->k_users, self->k_users_end);
  answer = sysem_etcd_call (self, lease, SYSEM_OP_GET_VALUE, "/v3/kv/txn", body->str, NULL, error);
  sysem_etcd_lease_unref (lease);
  if (answer == NULL)
    return FALSE;

  kv = sysem_etcd_range_kv (sysem_etcd_txn_response (answer, 0, "response_range"));
  if (kv == NULL || sysem_etcd_json_int (kv, "create_revision") != self->total_rev)
    {
      sysem_etcd_set_removed (self, SYSEM_OP_GET_VALUE, error);
      return FALSE;
    }
  if (!sysem_etcd_kv_total (self, kv, SYSEM_OP_GET_VALUE, &total, error))
    return FALSE;
  count = sysem_etcd_json_int (sysem_etcd_txn_response (answer, 1, "response_range"), "count");
  users = sysem_etcd_json_int (sysem_etcd_txn_response (answer, 2, "response_range"), "count");

  stats->key_type = SYSEM_KEY_TYPE_ETCD;
  stats->value = (int) MAX (total - count, 0);
  stats->waiters = (int) MAX (count - total, 0);
  stats->users = (int) users;
  stats->last_pid = -1;
  stats->id = -1;
  stats->n_sems = -1;
  stats->mode = 0;
  stats->uid = 0;
  stats->changed = 0;
  return TRUE;
}

/* Removing, keeping, closing */

static gboolean
sysem_etcd_remove (SysemHandle  *handle,
                   GError      **error)
{
  SysemEtcd *self = (SysemEtcd *) handle;
  g_autoptr(GString) body = g_string_new ("{\"compare\":[");
  g_autoptr(JsonObject) answer = NULL;
  SysemEtcdLease *lease;

  lease = sysem_etcd_begin (self, SYSEM_OP_REMOVE, error);
  if (lease == NULL)
    return FALSE;

  sysem_etcd_append_same_total (self, body);
  g_string_append_printf (body,
                          "],\"success\":[{\"request_delete_range\":{\"key\":\"%s\",\"range_end\":\"%s\"}}]}",
                          self->k_prefix, self->k_prefix_end);
  answer = sysem_etcd_txn_or_removed (self, lease, SYSEM_OP_REMOVE, body->str, error);
  sysem_etcd_lease_unref (lease);
  if (answer == NULL)
    return FALSE;

  sysem_handle_set_removed (handle);
  sysem_etcd_lock ();
  g_queue_clear_full (&self->held, g_free);
  sysem_etcd_unlock ();
  return TRUE;
}

static gboolean
sysem_etcd_keep (SysemHandle  *handle,
                 GError      **error)
{
  SysemEtcd *self = (SysemEtcd *) handle;
  g_autoptr(GString) body = g_string_new ("{\"compare\":[");
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *k_one = sysem_etcd_b64 ("1", 1);
  SysemEtcdLease *lease;

  lease = sysem_etcd_begin (self, SYSEM_OP_OPEN, error);
  if (lease == NULL)
    return FALSE;

  sysem_etcd_append_same_total (self, body);
  g_string_append_printf (body, "],\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}]}",
                          self->k_keep, k_one);
  answer = sysem_etcd_txn_or_removed (self, lease, SYSEM_OP_OPEN, body->str, error);
  sysem_etcd_lease_unref (lease);
  if (answer == NULL)
    return FALSE;

  return TRUE;
}

/* Deletes the prefix if no user has it open and nobody keeps it: the
 * compare over the users/ range holds only when no key is in it. */
static gboolean
sysem_etcd_delete_if_unused (SysemEtcdClient *client,
                             const char      *k_prefix,
                             const char      *k_prefix_end,
                             const char      *k_users,
                             const char      *k_users_end,
                             const char      *k_keep,
                             gboolean        *deleted,
                             GError         **error)
{
  g_autofree char *body = NULL;
  g_autoptr(JsonObject) answer = NULL;

  body = g_strdup_printf ("{\"compare\":["
                          "{\"target\":\"VERSION\",\"key\":\"%s\",\"range_end\":\"%s\",\"version\":\"0\",\"result\":\"EQUAL\"},"
                          "{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"0\",\"result\":\"EQUAL\"}],"
                          "\"success\":[{\"request_delete_range\":{\"key\":\"%s\",\"range_end\":\"%s\"}}]}",
                          k_users, k_users_end, k_keep, k_prefix, k_prefix_end);
  answer = sysem_etcd_client_call (client, "/v3/kv/txn", body, 0, NULL, error);
  if (answer == NULL)
    return FALSE;

  *deleted = sysem_etcd_json_int (answer, "succeeded") &&
             sysem_etcd_json_int (sysem_etcd_txn_response (answer, 0, "response_delete_range"),
                                  "deleted") > 0;
  return TRUE;
}

static void
sysem_etcd_close (SysemHandle *handle)
{
  SysemEtcd *self = (SysemEtcd *) handle;
  SysemEtcdLease *lease;
  gboolean ours;
  gboolean deleted;

  sysem_etcd_lock ();
  self->closed = TRUE;
  lease = g_steal_pointer (&self->lease);
  ours = self->gen == sysem_etcd_fork_generation ();
  g_queue_clear_full (&self->held, g_free);
  sysem_etcd_unlock ();

  if (lease == NULL)
    return;

  /* An object inherited through fork() and never used in the child
   * leaves the parent's lease and semaphore alone. */
  if (ours)
    {
      /* Gives back what it held, and it is no longer a user. */
      sysem_etcd_lease_revoke (lease);
      if (!sysem_handle_is_removed (handle))
        sysem_etcd_delete_if_unused (self->client, self->k_prefix, self->k_prefix_end,
                                     self->k_users, self->k_users_end, self->k_keep,
                                     &deleted, NULL);
    }

  sysem_etcd_lease_unref (lease);
  sysem_handle_set_removed (handle);
}

static void
sysem_etcd_free (SysemHandle *handle)
{
  SysemEtcd *self = (SysemEtcd *) handle;

  g_clear_pointer (&self->lease, sysem_etcd_lease_unref);
  g_queue_clear_full (&self->held, g_free);
  g_clear_pointer (&self->client, sysem_etcd_client_unref);
  g_free (self->prefix);
  g_free (self->k_total);
  g_free (self->k_keep);
  g_free (self->k_prefix);
  g_free (self->k_prefix_end);
  g_free (self->k_q);
  g_free (self->k_q_end);
  g_free (self->k_users);
  g_free (self->k_users_end);
  g_free (self->k_mine);
  sysem_handle_clear (handle);
  g_free (self);
}

/* Naming */

/* Checks @endpoints ("HOST:PORT,HOST:PORT") and @name of an etcd URI. */
static gboolean
sysem_etcd_check_endpoints (const char  *key,
                            const char  *endpoints,
                            GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (endpoints, ",", -1);

  if (parts[0] == NULL)
    goto bad;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *ep = parts[i];
      const char *colon = strrchr (ep, ':');
      guint64 port;

      if (colon == NULL || colon == ep)
        goto bad;

      if (ep[0] == '[')
        {
          /* [IPv6]:PORT */
          if (colon[-1] != ']' || colon - ep < 3 ||
              strspn (ep + 1, "0123456789abcdefABCDEF:.") != (gsize) (colon - ep - 2))
            goto bad;
        }
      else if (strspn (ep, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
               (gsize) (colon - ep))
        goto bad;

      if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
        goto bad;
    }

  return TRUE;

bad:
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, key,
                   /* Translators: do not translate HOST:PORT */
                   _("the etcd endpoints must be HOST:PORT, separated by commas, with a port from 1 to 65535"));
  return FALSE;
}

static gboolean
sysem_etcd_check_name (const char  *key,
                       const char  *name,
                       GError     **error)
{
  const char *reason = NULL;

  if (*name == '\0')
    reason = _("an etcd key needs a name after the endpoints: etcd://HOST:PORT/NAME");
  else if (strchr (name, '/') != NULL)
    reason = _("the name of an etcd key cannot hold a slash");
  else if (g_str_equal (name, ".") || g_str_equal (name, ".."))
    reason = _("the name of an etcd key cannot be “.” or “..”");
  else if (strlen (name) > SYSEM_ETCD_NAME_MAX)
    reason = _("the key is too long");
  else
    {
      for (const char *p = name; *p != '\0'; p++)
        {
          if (g_ascii_isalnum (*p) || strchr ("-._~!$&'()*+,;=:@", *p) != NULL)
            continue;
          if (*p == '%' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
            {
              p += 2;
              continue;
            }
          reason = _("the name of an etcd key may hold only letters, digits, “-._~!$&'()*+,;=:@” and percent escapes");
          break;
        }
    }

  if (reason != NULL)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, key, reason);
      return FALSE;
    }

  return TRUE;
}

/* Splits a native key into its endpoints and name. */
static gboolean
sysem_etcd_parse_native (const char  *native,
                         char       **endpoints_out,
                         char       **name_out,
                         GError     **error)
{
  const char *rest;
  const char *slash;
  g_autofree char *endpoints = NULL;

  if (!g_str_has_prefix (native, SYSEM_ETCD_SCHEME))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, native,
                       _("an etcd key is a URI: etcd://HOST:PORT[,HOST:PORT…]/NAME"));
      return FALSE;
    }

  rest = native + strlen (SYSEM_ETCD_SCHEME);
  slash = strchr (rest, '/');
  if (slash == NULL)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, native,
                       _("an etcd key needs a name after the endpoints: etcd://HOST:PORT/NAME"));
      return FALSE;
    }

  endpoints = g_strndup (rest, slash - rest);
  if (!sysem_etcd_check_endpoints (native, endpoints, error) ||
      !sysem_etcd_check_name (native, slash + 1, error))
    return FALSE;

  *endpoints_out = g_steal_pointer (&endpoints);
  *name_out = g_strdup (slash + 1);
  return TRUE;
}

static gboolean
sysem_etcd_derive_key (const char  *key,
                       char       **native_out,
                       GError     **error)
{
  const char *endpoints = g_getenv (SYSEM_ETCD_ENDPOINTS_ENV);
  g_autofree char *name = NULL;

  if (endpoints == NULL || *endpoints == '\0')
    endpoints = SYSEM_ETCD_DEFAULT_ENDPOINTS;
  if (!sysem_etcd_check_endpoints (key, endpoints, error))
    return FALSE;

  /* Every byte but letters, digits and "-._~" escaped: no slash, and a
   * name the URI shows as it is. */
  name = g_uri_escape_string (key, NULL, FALSE);
  if (g_str_equal (name, ".") || g_str_equal (name, ".."))
    {
      g_free (name);
      name = g_strdup (key[1] == '\0' ? "%2E" : "%2E%2E");
    }
  if (strlen (name) > SYSEM_ETCD_NAME_MAX)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, key,
                       _("the key is too long"));
      return FALSE;
    }

  *native_out = g_strconcat (SYSEM_ETCD_SCHEME, endpoints, "/", name, NULL);
  return TRUE;
}

static gboolean
sysem_etcd_check_native (const char  *native_key,
                         char       **native_out,
                         GError     **error)
{
  g_autofree char *endpoints = NULL;
  g_autofree char *name = NULL;

  if (!sysem_etcd_parse_native (native_key, &endpoints, &name, error))
    return FALSE;

  *native_out = g_strdup (native_key);
  return TRUE;
}

static SysemEtcd *
sysem_etcd_new (const char *display_key,
                const char *native,
                GError    **error)
{
  g_autofree char *endpoints = NULL;
  g_autofree char *name = NULL;
  SysemEtcd *self;

  if (!sysem_etcd_parse_native (native, &endpoints, &name, error))
    return NULL;

  self = g_new0 (SysemEtcd, 1);
  sysem_handle_init (&self->parent, &sysem_etcd_backend, display_key, native);
  g_queue_init (&self->held);
  self->client = sysem_etcd_client_get (endpoints);
  self->prefix = g_strconcat (SYSEM_ETCD_PREFIX, name, "/", NULL);
  self->k_total = sysem_etcd_key (self->prefix, "total");
  self->k_keep = sysem_etcd_key (self->prefix, "keep");
  self->k_prefix = sysem_etcd_key (self->prefix, "");
  self->k_prefix_end = sysem_etcd_key_end (self->prefix, "");
  self->k_q = sysem_etcd_key (self->prefix, "q/");
  self->k_q_end = sysem_etcd_key_end (self->prefix, "q/");
  self->k_users = sysem_etcd_key (self->prefix, "users/");
  self->k_users_end = sysem_etcd_key_end (self->prefix, "users/");

  return self;
}

static SysemHandle *
sysem_etcd_open (const char       *display_key,
                 const char       *native,
                 int               initial_value,
                 SysemAccessMode   mode,
                 GError          **error)
{
  SysemEtcd *self;
  g_autofree char *k_mine = NULL;
  SysemEtcdLease *lease;

  self = sysem_etcd_new (display_key, native, error);
  if (self == NULL)
    return NULL;

  self->gen = sysem_etcd_fork_generation ();
  lease = sysem_etcd_join (self, TRUE, initial_value, mode, &k_mine, error);
  if (lease == NULL)
    {
      sysem_etcd_free (&self->parent);
      return NULL;
    }

  self->lease = lease;
  self->k_mine = g_steal_pointer (&k_mine);
  return &self->parent;
}

/* Inspection */

static SysemEtcd *
sysem_etcd_inspect_handle (const char  *native,
                           GError     **error)
{
  return sysem_etcd_new (native, native, error);
}

/* Fills @info from the keys of one name, as a range gave them. */
static void
sysem_etcd_fill_info (SysemEtcd  *self,
                      SysemInfo  *info,
                      GPtrArray  *kvs)
{
  gsize plen = strlen (self->prefix);
  g_autoptr(GHashTable) users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GArray) queue = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GPtrArray) queue_leases = g_ptr_array_new_with_free_func (g_free);
  gboolean has_total = FALSE, keep = FALSE, foreign = FALSE;
  gint64 total = 0;

  for (guint i = 0; i < kvs->len; i++)
    {
      JsonObject *kv = kvs->pdata[i];
      g_autofree char *key = sysem_etcd_json_bytes (kv, "key", NULL);
      const char *suffix = key + plen;

      if (!sysem_etcd_known_suffix (suffix))
        foreign = TRUE;
      else if (g_str_equal (suffix, "total"))
        {
          g_autofree char *value = sysem_etcd_json_bytes (kv, "value", NULL);

          has_total = TRUE;
          if (!sysem_etcd_parse_count (value, &total))
            foreign = TRUE;
        }
      else if (g_str_equal (suffix, "keep"))
        keep = TRUE;
      else if (g_str_has_prefix (suffix, "users/"))
        g_hash_table_add (users, g_strdup (suffix + strlen ("users/")));
      else
        {
          gint64 rev = sysem_etcd_json_int (kv, "create_revision");

          g_array_append_val (queue, rev);
          g_ptr_array_add (queue_leases, g_strndup (suffix + strlen ("q/"), 16));
        }
    }

  info->exists = has_total;
  info->crash_safe = TRUE;
  info->stats.users = (int) g_hash_table_size (users);
  info->holders = g_array_new (FALSE, TRUE, sizeof (SysemHolder));

  /* Holders: each lease with the units its oldest keys hold. */
  {
    g_autoptr(GHashTable) leases = g_hash_table_new (g_str_hash, g_str_equal);
    GHashTableIter iter;
    gpointer k;

    for (guint i = 0; i < queue_leases->len; i++)
      g_hash_table_add (leases, queue_leases->pdata[i]);
    g_hash_table_iter_init (&iter, users);
    while (g_hash_table_iter_next (&iter, &k, NULL))
      g_hash_table_add (leases, k);

    g_hash_table_iter_init (&iter, leases);
    while (g_hash_table_iter_next (&iter, &k, NULL))
      {
        SysemHolder holder = { 0, };
        guint64 id = g_ascii_strtoull (k, NULL, 16);

        holder.pid = (gint64) id;
        holder.alive = TRUE;   /* etcd keeps a lease's keys only while it lives */
        holder.user = g_hash_table_contains (users, k);
        for (guint i = 0; i < queue->len; i++)
          {
            guint older = 0;

            if (!g_str_equal (queue_leases->pdata[i], k))
              continue;
            for (guint j = 0; j < queue->len; j++)
              if (g_array_index (queue, gint64, j) < g_array_index (queue, gint64, i))
                older++;
            if (older < total)
              holder.units++;
          }
        g_array_append_val (info->holders, holder);
      }
  }

  if (foreign)
    {
      info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
      return;
    }

  info->stats.value = (int) MAX (total - (gint64) queue->len, 0);
  info->stats.waiters = (int) MAX ((gint64) queue->len - total, 0);

  if (!has_total || (g_hash_table_size (users) == 0 && !keep))
    {
      /* Its users' leases are all gone: they crashed, or were cut off. */
      info->state = SYSEM_INSPECT_LEASE_EXPIRED;
      info->stale = TRUE;
    }
}

/* The keys of @self's name. */
static GPtrArray *
sysem_etcd_read_name (SysemEtcd  *self,
                      JsonObject **answer_out,
                      GError     **error)
{
  g_autofree char *body = g_strdup_printf ("{\"key\":\"%s\",\"range_end\":\"%s\"}",
                                           self->k_prefix, self->k_prefix_end);
  GError *local_error = NULL;
  JsonObject *answer;
  GPtrArray *kvs = g_ptr_array_new ();
  JsonArray *array;

  answer = sysem_etcd_client_call (self->client, "/v3/kv/range", body, 0, NULL, &local_error);
  if (answer == NULL)
    {
      g_ptr_array_unref (kvs);
      sysem_etcd_propagate (error, SYSEM_OP_GET_VALUE, self->parent.display_key, local_error);
      return NULL;
    }

  array = json_object_has_member (answer, "kvs") ? json_object_get_array_member (answer, "kvs") : NULL;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    g_ptr_array_add (kvs, json_array_get_object_element (array, i));

  *answer_out = answer;
  return kvs;
}

static SysemInfo *
sysem_etcd_inspect (const char  *native,
                    GError     **error)
{
  SysemEtcd *self = sysem_etcd_inspect_handle (native, error);
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GPtrArray) kvs = NULL;
  SysemInfo *info = NULL;

  if (self == NULL)
    return NULL;

  kvs = sysem_etcd_read_name (self, &answer, error);
  if (kvs != NULL && kvs->len > 0)
    {
      info = sysem_info_new (SYSEM_KEY_TYPE_ETCD, native, NULL);
      sysem_etcd_fill_info (self, info, kvs);
    }

  sysem_etcd_free (&self->parent);
  return info;
}

static gboolean
sysem_etcd_list (GPtrArray  *infos,
                 GError    **error)
{
  const char *endpoints = g_getenv (SYSEM_ETCD_ENDPOINTS_ENV);
  g_autofree char *k_start = NULL;
  g_autofree char *k_end = NULL;
  g_autofree char *body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GHashTable) names = NULL;
  g_autoptr(GPtrArray) order = NULL;
  SysemEtcdClient *client;
  GError *local_error = NULL;
  JsonArray *array;

  if (endpoints == NULL || *endpoints == '\0')
    endpoints = SYSEM_ETCD_DEFAULT_ENDPOINTS;
  if (!sysem_etcd_check_endpoints (endpoints, endpoints, error))
    return FALSE;

  k_start = sysem_etcd_key (SYSEM_ETCD_PREFIX, "");
  k_end = sysem_etcd_key_end (SYSEM_ETCD_PREFIX, "");
  body = g_strdup_printf ("{\"key\":\"%s\",\"range_end\":\"%s\"}", k_start, k_end);

  client = sysem_etcd_client_get (endpoints);
  answer = sysem_etcd_client_call (client, "/v3/kv/range", body, 0, NULL, &local_error);
  sysem_etcd_client_unref (client);
  if (answer == NULL)
    {
      g_autofree char *uri = g_strconcat (SYSEM_ETCD_SCHEME, endpoints, "/", NULL);

      sysem_etcd_propagate (error, SYSEM_OP_GET_VALUE, uri, local_error);
      return FALSE;
    }

  /* Grouped by name, in etcd's order (by key). */
  names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                 (GDestroyNotify) g_ptr_array_unref);
  order = g_ptr_array_new ();
  array = json_object_has_member (answer, "kvs") ? json_object_get_array_member (answer, "kvs") : NULL;
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonObject *kv = json_array_get_object_element (array, i);
      g_autofree char *key = sysem_etcd_json_bytes (kv, "key", NULL);
      const char *name = key + strlen (SYSEM_ETCD_PREFIX);
      const char *slash = strchr (name, '/');
      g_autofree char *n = slash != NULL ? g_strndup (name, slash - name) : g_strdup (name);
      GPtrArray *kvs = g_hash_table_lookup (names, n);

      if (kvs == NULL)
        {
          kvs = g_ptr_array_new ();
          g_ptr_array_add (order, g_strdup (n));
          g_hash_table_insert (names, g_strdup (n), kvs);
        }
      g_ptr_array_add (kvs, kv);
    }

  for (guint i = 0; i < order->len; i++)
    {
      const char *name = order->pdata[i];
      g_autofree char *native = g_strconcat (SYSEM_ETCD_SCHEME, endpoints, "/", name, NULL);
      SysemEtcd *self = sysem_etcd_new (native, native, NULL);
      SysemInfo *info = sysem_info_new (SYSEM_KEY_TYPE_ETCD, native, NULL);

      if (self != NULL)
        {
          sysem_etcd_fill_info (self, info, g_hash_table_lookup (names, name));
          sysem_etcd_free (&self->parent);
        }
      else
        info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
      g_ptr_array_add (infos, info);
      g_free (order->pdata[i]);
    }

  return TRUE;
}

static gboolean
sysem_etcd_remove_stale (SysemInfo  *info,
                         gboolean    only_if_stale,
                         gboolean   *removed_object,
                         GError    **error)
{
  SysemEtcd *self = sysem_etcd_inspect_handle (info->name, error);
  GError *local_error = NULL;
  gboolean ok;

  if (self == NULL)
    return FALSE;

  if (only_if_stale)
    ok = sysem_etcd_delete_if_unused (self->client, self->k_prefix, self->k_prefix_end,
                                      self->k_users, self->k_users_end, self->k_keep,
                                      removed_object, &local_error);
  else
    {
      g_autofree char *body = g_strdup_printf ("{\"key\":\"%s\",\"range_end\":\"%s\"}",
                                               self->k_prefix, self->k_prefix_end);
      g_autoptr(JsonObject) answer = NULL;

      answer = sysem_etcd_client_call (self->client, "/v3/kv/deleterange", body, 0, NULL,
                                       &local_error);
      ok = answer != NULL;
      *removed_object = ok && sysem_etcd_json_int (answer, "deleted") > 0;
      if (ok && !*removed_object)
        {
          sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                           info->name, _("it was removed"));
          ok = FALSE;
        }
    }

  if (local_error != NULL)
    sysem_etcd_propagate (error, SYSEM_OP_REMOVE, info->name, local_error);

  sysem_etcd_free (&self->parent);
  return ok && (!only_if_stale || *removed_object);
}

const SysemBackend sysem_etcd_backend = {
  .key_type = SYSEM_KEY_TYPE_ETCD,
  .remote = TRUE,
  .name = "etcd",
  .max_value = SYSEM_ETCD_MAX_VALUE,
  .derive_key = sysem_etcd_derive_key,
  .check_native = sysem_etcd_check_native,
  .open = sysem_etcd_open,
  .acquire = sysem_etcd_acquire,
  .try_acquire = sysem_etcd_try_acquire,
  .release = sysem_etcd_release,
  .get_value = sysem_etcd_get_value,
  .remove = sysem_etcd_remove,
  .keep = sysem_etcd_keep,
  .stats = sysem_etcd_stats,
  .close = sysem_etcd_close,
  .free = sysem_etcd_free,
  .list = sysem_etcd_list,
  .inspect = sysem_etcd_inspect,
  .remove_stale = sysem_etcd_remove_stale,
};
