/* sysem-etcd-client.c: etcd's JSON gateway over libsoup, leases and their
 * keepalive thread
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The transport of the etcd key type (sysem-etcd.c holds the semaphore's
 * layout and protocol). Requests are POSTs of JSON to the gateway every
 * etcd v3 server has on its client port (/v3/kv/range, /v3/kv/txn,
 * /v3/lease/grant, /v3/watch, …), made with libsoup's synchronous API from
 * the calling thread, which libsoup allows from any thread since 3.2.
 *
 * One thread per process, "sysem-etcd", runs a main context of its own. It
 * owns the two sessions (libsoup wants a session configured in the thread
 * that made it), sends the keepalives of every live lease with libsoup's
 * asynchronous API, and runs the timers that cancel timed waits: nothing
 * else wakes up while nothing happens.
 *
 * Failover: a client keeps the index of the endpoint that last answered,
 * and tries the others in order when it does not.
 *
 * fork(): the child gets a copy of everything and a thread of nothing. The
 * atfork handler starts a new generation: the child makes its own thread
 * and sessions on first use, and never touches the parent's, nor its
 * leases (see sysem-etcd.c for what a child's objects do).
 *
 * Lock map: client_lock (registered with pthread_atfork) guards the table
 * of clients, the thread's state, and every lease's waiters and source.
 * A client's current endpoint is atomic. A lease's alive_until is atomic;
 * its other fields are set before it is shared. */

#include "config.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include <libsoup/soup.h>

#include "sysem-etcd-client-private.h"
#include "sysem-i18n-private.h"

/* A request that finds no live endpoint waits this long, then longer,
 * before it tries again (when its caller allows retries). */
#define SYSEM_ETCD_BACKOFF_MIN_USEC (25 * G_TIME_SPAN_MILLISECOND)
#define SYSEM_ETCD_BACKOFF_MAX_USEC (500 * G_TIME_SPAN_MILLISECOND)
/* Even without retries, a cluster in the middle of an election gets this
 * long to answer. */
#define SYSEM_ETCD_ELECTION_USEC    (5 * G_USEC_PER_SEC)
/* A keepalive that failed is tried again this soon. */
#define SYSEM_ETCD_KEEPALIVE_RETRY_MSEC 250
/* I/O timeout of a request, in seconds (a watch has none). */
#define SYSEM_ETCD_REQUEST_TIMEOUT  15

struct _SysemEtcdClient
{
  gint     ref_count;       /* atomic */
  char    *endpoints;       /* "HOST:PORT,HOST:PORT" */
  char   **urls;            /* "http://HOST:PORT" each */
  guint    n_urls;
  gint     current;         /* atomic: the endpoint that last answered */
  guint    gen;             /* the fork generation it belongs to */
};

struct _SysemEtcdLease
{
  gint             ref_count;    /* atomic */
  SysemEtcdClient *client;
  gint64           id;
  int              ttl;          /* seconds, as granted */
  guint            gen;
  gint64           alive_until;  /* atomic; CLOCK_BOOTTIME µs */
  gint             expired;      /* atomic */
  gint             revoked;      /* atomic */
  gint             in_flight;    /* atomic: a keepalive is on its way */
  GSource         *timer;        /* under client_lock */
  GPtrArray       *waiters;      /* of GCancellable; under client_lock */
};

struct _SysemEtcdWatch
{
  SysemEtcdClient  *client;
  guint             url;
  SoupMessage      *msg;
  GInputStream     *stream;
  GDataInputStream *data;
};

static GMutex client_lock;
static GHashTable *clients;          /* endpoints → SysemEtcdClient, not a reference */
static guint fork_gen = 1;
static GMainContext *worker_context; /* of this generation */
static SoupSession *request_session;
static SoupSession *watch_session;
static GCond worker_ready;

G_DEFINE_QUARK (sysem-etcd-grpc-error-quark, sysem_etcd_grpc_error)

/* Time */

/* The lease's clock: CLOCK_BOOTTIME goes on while the machine sleeps, as
 * etcd's own clock does, so a process that was suspended with the machine
 * does not count on a lease that expired meanwhile. */
static gint64
sysem_etcd_boot_time (void)
{
  struct timespec ts;

  if (clock_gettime (CLOCK_BOOTTIME, &ts) != 0)
    return g_get_monotonic_time ();
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* fork() */

static void
sysem_etcd_atfork_prepare (void)
{
  g_mutex_lock (&client_lock);
}

static void
sysem_etcd_atfork_parent (void)
{
  g_mutex_unlock (&client_lock);
}

static void
sysem_etcd_atfork_child (void)
{
  /* The parent's thread, sessions and clients stay as they are, unused:
   * their connections are the parent's. */
  fork_gen++;
  worker_context = NULL;
  request_session = NULL;
  watch_session = NULL;
  clients = NULL;
  g_mutex_unlock (&client_lock);
}

guint
sysem_etcd_fork_generation (void)
{
  static gsize atfork_once = 0;
  guint gen;

  if (G_UNLIKELY (g_once_init_enter (&atfork_once)))
    {
      pthread_atfork (sysem_etcd_atfork_prepare, sysem_etcd_atfork_parent,
                      sysem_etcd_atfork_child);
      g_once_init_leave (&atfork_once, 1);
    }

  g_mutex_lock (&client_lock);
  gen = fork_gen;
  g_mutex_unlock (&client_lock);
  return gen;
}

/* The thread */

static gpointer
sysem_etcd_worker_thread (gpointer data)
{
  GMainContext *context = data;
  g_autoptr(GMainLoop) loop = g_main_loop_new (context, FALSE);
  g_autoptr(GProxyResolver) proxies = NULL;

  g_main_context_push_thread_default (context);

  /* etcd's members are reached directly. A proxy lookup (libproxy) would
   * run in GLib's thread pool: a cost on every connection, and a hang in
   * a child of fork(), where that pool's threads are gone. */
  proxies = g_simple_proxy_resolver_new (NULL, NULL);

  g_mutex_lock (&client_lock);
  /* Made here: libsoup wants a session set up in the thread that made it,
   * which is also the one that sends its asynchronous messages. No limit
   * that a few hundred waiting objects could reach: each waits on a
   * connection of its own. */
  request_session = soup_session_new_with_options ("max-conns", 4096,
                                                   "max-conns-per-host", 4096,
                                                   "timeout", SYSEM_ETCD_REQUEST_TIMEOUT,
                                                   "user-agent", "sysem/" PACKAGE_VERSION,
                                                   "proxy-resolver", proxies,
                                                   NULL);
  watch_session = soup_session_new_with_options ("max-conns", 4096,
                                                 "max-conns-per-host", 4096,
                                                 "timeout", 0,
                                                 "idle-timeout", 0,
                                                 "user-agent", "sysem/" PACKAGE_VERSION,
                                                 "proxy-resolver", proxies,
                                                 NULL);
  g_cond_broadcast (&worker_ready);
  g_mutex_unlock (&client_lock);

  /* For the life of the process (or of the generation). */
  g_main_loop_run (loop);
  return NULL;
}

/* Starts the thread of this generation if needed; with client_lock. */
static void
sysem_etcd_worker_start_locked (void)
{
  GThread *thread;

  if (worker_context != NULL)
    {
      while (request_session == NULL)
        g_cond_wait (&worker_ready, &client_lock);
      return;
    }

  worker_context = g_main_context_new ();
  thread = g_thread_new ("sysem-etcd", sysem_etcd_worker_thread,
                         g_main_context_ref (worker_context));
  g_thread_unref (thread);

  while (request_session == NULL)
    g_cond_wait (&worker_ready, &client_lock);
}

static SoupSession *
sysem_etcd_session (gboolean watch)
{
  SoupSession *session;

  g_mutex_lock (&client_lock);
  sysem_etcd_worker_start_locked ();
  session = g_object_ref (watch ? watch_session : request_session);
  g_mutex_unlock (&client_lock);

  return session;
}

static GSource *
sysem_etcd_attach (GSource *source)
{
  g_mutex_lock (&client_lock);
  sysem_etcd_worker_start_locked ();
  g_source_attach (source, worker_context);
  g_mutex_unlock (&client_lock);

  return source;
}

/* JSON */

gint64
sysem_etcd_json_int (JsonObject *object,
                     const char *member)
{
  JsonNode *node;

  if (object == NULL || (node = json_object_get_member (object, member)) == NULL ||
      JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return 0;

  if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      gint64 value = 0;

      if (!g_ascii_string_to_signed (json_node_get_string (node), 10, G_MININT64, G_MAXINT64,
                                     &value, NULL))
        return 0;
      return value;
    }

  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return json_node_get_int (node);
  if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return json_node_get_boolean (node);

  return 0;
}

char *
sysem_etcd_json_bytes (JsonObject *object,
                       const char *member,
                       gsize      *len)
{
  const char *text;
  guchar *data;
  gsize n = 0;

  text = object != NULL ? json_object_get_string_member_with_default (object, member, NULL) : NULL;
  if (text == NULL)
    {
      if (len != NULL)
        *len = 0;
      return g_strdup ("");
    }

  data = g_base64_decode (text, &n);
  data = g_realloc (data, n + 1);
  data[n] = '\0';
  if (len != NULL)
    *len = n;
  return (char *) data;
}

char *
sysem_etcd_b64 (const char *data,
                gsize       len)
{
  return g_base64_encode ((const guchar *) data, len);
}

/* Clients */

SysemEtcdClient *
sysem_etcd_client_get (const char *endpoints)
{
  SysemEtcdClient *client;
  guint gen = sysem_etcd_fork_generation ();

  g_mutex_lock (&client_lock);
  if (clients == NULL)
    clients = g_hash_table_new (g_str_hash, g_str_equal);

  client = g_hash_table_lookup (clients, endpoints);
  if (client != NULL && client->gen == gen)
    {
      g_atomic_int_inc (&client->ref_count);
      g_mutex_unlock (&client_lock);
      return client;
    }

  client = g_new0 (SysemEtcdClient, 1);
  client->ref_count = 1;
  client->gen = gen;
  client->endpoints = g_strdup (endpoints);
  {
    g_auto(GStrv) parts = g_strsplit (endpoints, ",", -1);

    client->n_urls = g_strv_length (parts);
    client->urls = g_new0 (char *, client->n_urls + 1);
    for (guint i = 0; i < client->n_urls; i++)
      client->urls[i] = g_strconcat ("http://", parts[i], NULL);
  }
  g_hash_table_insert (clients, client->endpoints, client);
  g_mutex_unlock (&client_lock);

  return client;
}

void
sysem_etcd_client_unref (SysemEtcdClient *client)
{
  g_mutex_lock (&client_lock);
  if (!g_atomic_int_dec_and_test (&client->ref_count))
    {
      g_mutex_unlock (&client_lock);
      return;
    }
  if (clients != NULL && client->gen == fork_gen &&
      g_hash_table_lookup (clients, client->endpoints) == client)
    g_hash_table_remove (clients, client->endpoints);
  g_mutex_unlock (&client_lock);

  g_strfreev (client->urls);
  g_free (client->endpoints);
  g_free (client);
}

const char *
sysem_etcd_client_get_endpoints (SysemEtcdClient *client)
{
  return client->endpoints;
}

static const char *
sysem_etcd_url_endpoint (SysemEtcdClient *client,
                         guint            url)
{
  return client->urls[url] + strlen ("http://");
}

/* Requests */

typedef enum {
  SYSEM_ETCD_OK,
  SYSEM_ETCD_FAILED,       /* an answer that is an error: give it to the caller */
  SYSEM_ETCD_UNREACHABLE,  /* no answer: try another endpoint */
  SYSEM_ETCD_BUSY,         /* etcd answered that it cannot now: try again */
} SysemEtcdOutcome;

/* A network error as G_IO_ERROR, naming the endpoint. */
static void
sysem_etcd_set_network_error (GError     **error,
                              const char  *endpoint,
                              GError      *cause)
{
  int code = G_IO_ERROR_FAILED;

  if (cause->domain == G_IO_ERROR)
    code = cause->code;
  else if (cause->domain == G_RESOLVER_ERROR)
    code = G_IO_ERROR_HOST_NOT_FOUND;

  /* Translators: the first %s is an etcd endpoint such as 127.0.0.1:2379,
   * the second what went wrong */
  g_set_error (error, G_IO_ERROR, code, _("etcd at %s did not answer: %s"), endpoint,
               cause->message);
}

static JsonObject *
sysem_etcd_parse (GBytes  *bytes,
                  GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  JsonNode *root;

  /* An empty body: GBytes gives no pointer, which json-glib refuses. */
  if (!json_parser_load_from_data (parser, data != NULL ? data : "", len, error))
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                           "not a JSON object");
      return NULL;
    }

  return json_object_ref (json_node_get_object (root));
}

/* What an answer with an error status says. */
static SysemEtcdOutcome
sysem_etcd_answer_error (SysemEtcdClient  *client,
                         guint             url,
                         guint             status,
                         GBytes           *body,
                         GError          **error)
{
  g_autoptr(JsonObject) object = NULL;
  const char *endpoint = sysem_etcd_url_endpoint (client, url);

  if (body != NULL)
    object = sysem_etcd_parse (body, NULL);

  if (object != NULL && json_object_has_member (object, "code"))
    {
      int code = (int) sysem_etcd_json_int (object, "code");
      const char *message = json_object_get_string_member_with_default (object, "message",
                                                                        "");

      g_set_error (error, SYSEM_ETCD_GRPC_ERROR, code,
                   /* Translators: the first %s is an etcd endpoint, the second
                    * etcd's own message (in English) */
                   _("etcd at %s refused the request: %s"), endpoint, message);
      if (SYSEM_ETCD_GRPC_IS_TRANSIENT (code))
        return SYSEM_ETCD_BUSY;
      return SYSEM_ETCD_FAILED;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               /* Translators: %s is an etcd endpoint, %u an HTTP status */
               _("etcd at %s answered with HTTP status %u"), endpoint, status);
  /* Worth trying again: a server (or a proxy before it) that is not
   * ready, or that gave up waiting for the rest of the request, as one
   * being restarted does; it did not act on it. */
  if (status == SOUP_STATUS_REQUEST_TIMEOUT || status == SOUP_STATUS_BAD_GATEWAY ||
      status == SOUP_STATUS_SERVICE_UNAVAILABLE || status == SOUP_STATUS_GATEWAY_TIMEOUT)
    return SYSEM_ETCD_BUSY;
  return SYSEM_ETCD_FAILED;
}

static SoupMessage *
sysem_etcd_message_new (SysemEtcdClient *client,
                        guint            url,
                        const char      *path,
                        const char      *body)
{
  g_autofree char *uri = g_strconcat (client->urls[url], path, NULL);
  g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
  SoupMessage *msg = soup_message_new ("POST", uri);

  if (msg == NULL)
    return NULL;

  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  /* libsoup opens a new connection for every POST unless told that it may
   * reuse one: a request that may reach etcd twice does no harm here
   * (sysem-etcd.c makes each one safe to repeat, see its release). */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  return msg;
}

static SysemEtcdOutcome
sysem_etcd_post (SysemEtcdClient  *client,
                 guint             url,
                 const char       *path,
                 const char       *body,
                 GCancellable     *cancellable,
                 JsonObject      **answer,
                 GError          **error)
{
  g_autoptr(SoupSession) session = sysem_etcd_session (FALSE);
  g_autoptr(SoupMessage) msg = sysem_etcd_message_new (client, url, path, body);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *endpoint = sysem_etcd_url_endpoint (client, url);
  guint status;

  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   /* Translators: %s is what should be an etcd endpoint */
                   _("“%s” is not an etcd endpoint"), endpoint);
      return SYSEM_ETCD_FAILED;
    }

  bytes = soup_session_send_and_read (session, msg, cancellable, &local_error);
  if (bytes == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return SYSEM_ETCD_FAILED;
        }
      sysem_etcd_set_network_error (error, endpoint, local_error);
      return SYSEM_ETCD_UNREACHABLE;
    }

  status = soup_message_get_status (msg);
  if (status != SOUP_STATUS_OK)
    return sysem_etcd_answer_error (client, url, status, bytes, error);

  *answer = sysem_etcd_parse (bytes, &local_error);
  if (*answer == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   /* Translators: the first %s is an etcd endpoint, the second
                    * what is wrong with its answer */
                   _("etcd at %s gave an answer that is not JSON: %s"), endpoint,
                   local_error->message);
      return SYSEM_ETCD_FAILED;
    }

  return SYSEM_ETCD_OK;
}

/* Waits @usec, or until @cancellable is cancelled. */
static gboolean
sysem_etcd_pause (gint64         usec,
                  GCancellable  *cancellable,
                  GError       **error)
{
  GPollFD pfd;

  if (cancellable == NULL || !g_cancellable_make_pollfd (cancellable, &pfd))
    {
      g_usleep (usec);
      return TRUE;
    }

  g_poll (&pfd, 1, (int) MAX (usec / 1000, 1));
  g_cancellable_release_fd (cancellable);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Runs @attempt on the endpoints in turn from the current one, and again
 * (see sysem_etcd_client_call()) while that is allowed. */
typedef SysemEtcdOutcome (* SysemEtcdAttempt) (SysemEtcdClient  *client,
                                               guint             url,
                                               gpointer          user_data,
                                               GError          **error);

static gboolean
sysem_etcd_failover (SysemEtcdClient  *client,
                     gint64            retry_until,
                     GCancellable     *cancellable,
                     SysemEtcdAttempt  attempt,
                     gpointer          user_data,
                     GError          **error)
{
  gint64 election_end = g_get_monotonic_time () + SYSEM_ETCD_ELECTION_USEC;
  gint64 backoff = SYSEM_ETCD_BACKOFF_MIN_USEC;

  for (;;)
    {
      g_autoptr(GError) first_error = NULL;
      guint start = (guint) g_atomic_int_get (&client->current) % client->n_urls;
      gboolean busy = FALSE;
      gint64 now;

      for (guint k = 0; k < client->n_urls; k++)
        {
          guint url = (start + k) % client->n_urls;
          g_autoptr(GError) local_error = NULL;

          switch (attempt (client, url, user_data, &local_error))
            {
            case SYSEM_ETCD_OK:
              g_atomic_int_set (&client->current, (gint) url);
              return TRUE;
            case SYSEM_ETCD_FAILED:
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            case SYSEM_ETCD_BUSY:
              busy = TRUE;
              break;
            case SYSEM_ETCD_UNREACHABLE:
            default:
              break;
            }

          if (first_error == NULL || (busy && first_error->domain != SYSEM_ETCD_GRPC_ERROR))
            g_clear_error (&first_error), first_error = g_steal_pointer (&local_error);
        }

      now = g_get_monotonic_time ();
      if (now >= retry_until && (!busy || now >= election_end))
        {
          g_propagate_error (error, g_steal_pointer (&first_error));
          return FALSE;
        }

      if (!sysem_etcd_pause (backoff, cancellable, error))
        return FALSE;
      backoff = MIN (backoff * 2, SYSEM_ETCD_BACKOFF_MAX_USEC);
    }
}

typedef struct {
  const char  *path;
  const char  *body;
  GCancellable *cancellable;
  JsonObject  *answer;
} CallData;

static SysemEtcdOutcome
sysem_etcd_call_attempt (SysemEtcdClient  *client,
                         guint             url,
                         gpointer          user_data,
                         GError          **error)
{
  CallData *data = user_data;

  return sysem_etcd_post (client, url, data->path, data->body, data->cancellable,
                          &data->answer, error);
}

JsonObject *
sysem_etcd_client_call (SysemEtcdClient  *client,
                        const char       *path,
                        const char       *body,
                        gint64            retry_until,
                        GCancellable     *cancellable,
                        GError          **error)
{
  CallData data = { path, body, cancellable, NULL };

  if (!sysem_etcd_failover (client, retry_until, cancellable, sysem_etcd_call_attempt,
                            &data, error))
    return NULL;

  return data.answer;
}

/* Watches */

static JsonObject *
sysem_etcd_watch_read (SysemEtcdWatch  *watch,
                       GCancellable    *cancellable,
                       GError         **error)
{
  const char *endpoint = sysem_etcd_url_endpoint (watch->client, watch->url);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *line = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonObject) object = NULL;
  JsonObject *result;
  gsize len;

  line = g_data_input_stream_read_line (watch->data, &len, cancellable, &local_error);
  if (line == NULL)
    {
      if (local_error == NULL)
        g_set_error_literal (&local_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                             _("the connection was closed"));
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        sysem_etcd_set_network_error (error, endpoint, local_error);
      return NULL;
    }

  bytes = g_bytes_new_take (g_steal_pointer (&line), len);
  object = sysem_etcd_parse (bytes, &local_error);
  if (object == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("etcd at %s gave an answer that is not JSON: %s"), endpoint,
                   local_error->message);
      return NULL;
    }

  if (json_object_has_member (object, "error"))
    {
      JsonObject *err = json_object_get_object_member (object, "error");
      const char *message = err != NULL
        ? json_object_get_string_member_with_default (err, "message", "") : "";

      g_set_error (error, SYSEM_ETCD_GRPC_ERROR,
                   err != NULL ? (int) sysem_etcd_json_int (err, "grpc_code") : 0,
                   _("etcd at %s refused the request: %s"), endpoint, message);
      return NULL;
    }

  result = json_object_get_object_member (object, "result");
  if (result == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("etcd at %s gave an answer that is not JSON: %s"), endpoint,
                   "no result");
      return NULL;
    }

  return json_object_ref (result);
}

typedef struct {
  const char     *body;
  GCancellable   *cancellable;
  SysemEtcdWatch *watch;
} WatchData;

static SysemEtcdOutcome
sysem_etcd_watch_attempt (SysemEtcdClient  *client,
                          guint             url,
                          gpointer          user_data,
                          GError          **error)
{
  WatchData *data = user_data;
  g_autoptr(SoupSession) session = sysem_etcd_session (TRUE);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonObject) first = NULL;
  SysemEtcdWatch *watch;
  GInputStream *stream;
  guint status;

  watch = g_new0 (SysemEtcdWatch, 1);
  watch->client = client;
  watch->url = url;
  watch->msg = sysem_etcd_message_new (client, url, "/v3/watch", data->body);
  if (watch->msg == NULL)
    {
      g_free (watch);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not an etcd endpoint"), sysem_etcd_url_endpoint (client, url));
      return SYSEM_ETCD_FAILED;
    }

  stream = soup_session_send (session, watch->msg, data->cancellable, &local_error);
  if (stream == NULL)
    {
      g_object_unref (watch->msg);
      g_free (watch);
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return SYSEM_ETCD_FAILED;
        }
      sysem_etcd_set_network_error (error, sysem_etcd_url_endpoint (client, url), local_error);
      return SYSEM_ETCD_UNREACHABLE;
    }

  watch->stream = stream;
  watch->data = g_data_input_stream_new (stream);
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (watch->data), FALSE);

  status = soup_message_get_status (watch->msg);
  if (status != SOUP_STATUS_OK)
    {
      g_autoptr(GBytes) body = g_input_stream_read_bytes (stream, 65536, data->cancellable, NULL);
      SysemEtcdOutcome outcome = sysem_etcd_answer_error (client, url, status, body, error);

      sysem_etcd_watch_free (watch);
      return outcome;
    }

  first = sysem_etcd_watch_read (watch, data->cancellable, &local_error);
  if (first == NULL)
    {
      sysem_etcd_watch_free (watch);
      if (local_error->domain == SYSEM_ETCD_GRPC_ERROR &&
          SYSEM_ETCD_GRPC_IS_TRANSIENT (local_error->code))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return SYSEM_ETCD_BUSY;
        }
      if (local_error->domain == SYSEM_ETCD_GRPC_ERROR ||
          g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return SYSEM_ETCD_FAILED;
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return SYSEM_ETCD_UNREACHABLE;
    }

  if (!sysem_etcd_json_int (first, "created"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("etcd at %s gave an answer that is not JSON: %s"),
                   sysem_etcd_url_endpoint (client, url), "the watch was not created");
      sysem_etcd_watch_free (watch);
      return SYSEM_ETCD_FAILED;
    }

  data->watch = watch;
  return SYSEM_ETCD_OK;
}

SysemEtcdWatch *
sysem_etcd_watch_new (SysemEtcdClient  *client,
                      const char       *body,
                      gint64            retry_until,
                      GCancellable     *cancellable,
                      GError          **error)
{
  WatchData data = { body, cancellable, NULL };

  if (!sysem_etcd_failover (client, retry_until, cancellable, sysem_etcd_watch_attempt,
                            &data, error))
    return NULL;

  return data.watch;
}

JsonObject *
sysem_etcd_watch_next (SysemEtcdWatch  *watch,
                       GCancellable    *cancellable,
                       GError         **error)
{
  return sysem_etcd_watch_read (watch, cancellable, error);
}

void
sysem_etcd_watch_free (SysemEtcdWatch *watch)
{
  if (watch == NULL)
    return;

  g_clear_object (&watch->data);
  if (watch->stream != NULL)
    {
      /* An unfinished answer: libsoup drops its connection. */
      g_input_stream_close (watch->stream, NULL, NULL);
      g_clear_object (&watch->stream);
    }
  g_clear_object (&watch->msg);
  g_free (watch);
}

/* Timed waits */

static gboolean
sysem_etcd_cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

GSource *
sysem_etcd_cancel_at (gint64        deadline,
                      GCancellable *cancellable)
{
  gint64 left = deadline - g_get_monotonic_time ();
  GSource *source;

  /* Rounded up: a wait never ends before its deadline. */
  source = g_timeout_source_new ((guint) CLAMP ((left + 999) / 1000, 0, G_MAXUINT));
  g_source_set_static_name (source, "[sysem] etcd deadline");
  g_source_set_callback (source, sysem_etcd_cancel_cb, g_object_ref (cancellable),
                         g_object_unref);
  return sysem_etcd_attach (source);
}

/* Leases */

SysemEtcdLease *
sysem_etcd_lease_ref (SysemEtcdLease *lease)
{
  g_atomic_int_inc (&lease->ref_count);
  return lease;
}

void
sysem_etcd_lease_unref (SysemEtcdLease *lease)
{
  if (!g_atomic_int_dec_and_test (&lease->ref_count))
    return;

  g_clear_pointer (&lease->waiters, g_ptr_array_unref);
  sysem_etcd_client_unref (lease->client);
  g_free (lease);
}

gint64
sysem_etcd_lease_get_id (SysemEtcdLease *lease)
{
  return lease->id;
}

int
sysem_etcd_lease_get_ttl (SysemEtcdLease *lease)
{
  return lease->ttl;
}

gboolean
sysem_etcd_lease_is_alive (SysemEtcdLease *lease)
{
  return !g_atomic_int_get (&lease->expired) &&
         sysem_etcd_boot_time () < __atomic_load_n (&lease->alive_until, __ATOMIC_ACQUIRE);
}

gint64
sysem_etcd_lease_alive_until (SysemEtcdLease *lease)
{
  gint64 left;

  if (g_atomic_int_get (&lease->expired))
    return 0;

  left = __atomic_load_n (&lease->alive_until, __ATOMIC_ACQUIRE) - sysem_etcd_boot_time ();
  return left > 0 ? g_get_monotonic_time () + left : 0;
}

void
sysem_etcd_lease_set_expired (SysemEtcdLease *lease)
{
  g_autoptr(GPtrArray) waiters = NULL;

  if (!g_atomic_int_compare_and_exchange (&lease->expired, FALSE, TRUE))
    return;

  g_mutex_lock (&client_lock);
  if (lease->waiters != NULL)
    {
      waiters = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 0; i < lease->waiters->len; i++)
        g_ptr_array_add (waiters, g_object_ref (lease->waiters->pdata[i]));
    }
  g_mutex_unlock (&client_lock);

  if (waiters != NULL)
    for (guint i = 0; i < waiters->len; i++)
      g_cancellable_cancel (waiters->pdata[i]);
}

void
sysem_etcd_lease_add_waiter (SysemEtcdLease *lease,
                             GCancellable   *cancellable)
{
  g_mutex_lock (&client_lock);
  if (lease->waiters == NULL)
    lease->waiters = g_ptr_array_new ();
  g_ptr_array_add (lease->waiters, cancellable);
  g_mutex_unlock (&client_lock);

  /* It may have expired before it was added. */
  if (!sysem_etcd_lease_is_alive (lease))
    g_cancellable_cancel (cancellable);
}

void
sysem_etcd_lease_remove_waiter (SysemEtcdLease *lease,
                                GCancellable   *cancellable)
{
  g_mutex_lock (&client_lock);
  if (lease->waiters != NULL)
    g_ptr_array_remove_fast (lease->waiters, cancellable);
  g_mutex_unlock (&client_lock);
}

typedef struct {
  SysemEtcdLease *lease;
  guint           url;
  gint64          sent;
} KeepaliveData;

static gboolean sysem_etcd_keepalive_cb (gpointer user_data);

static void
sysem_etcd_keepalive_retry (SysemEtcdLease *lease)
{
  GSource *source = g_timeout_source_new (SYSEM_ETCD_KEEPALIVE_RETRY_MSEC);

  g_source_set_static_name (source, "[sysem] etcd keepalive retry");
  g_source_set_callback (source, sysem_etcd_keepalive_cb, sysem_etcd_lease_ref (lease),
                         (GDestroyNotify) sysem_etcd_lease_unref);
  /* In the keepalive thread itself: its context is the thread default. */
  g_source_attach (source, g_main_context_get_thread_default ());
  g_source_unref (source);
}

static void
sysem_etcd_keepalive_done_cb (GObject      *source_object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  KeepaliveData *data = user_data;
  SysemEtcdLease *lease = data->lease;
  SysemEtcdClient *client = lease->client;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(JsonObject) answer = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source_object), result);
  guint status;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source_object), result, &error);
  g_atomic_int_set (&lease->in_flight, FALSE);

  if (g_atomic_int_get (&lease->revoked) || g_atomic_int_get (&lease->expired))
    goto out;

  status = bytes != NULL ? soup_message_get_status (msg) : 0;
  if (bytes != NULL && status == SOUP_STATUS_OK &&
      (answer = sysem_etcd_parse (bytes, NULL)) != NULL)
    {
      JsonObject *res = json_object_get_object_member (answer, "result");
      gint64 ttl = sysem_etcd_json_int (res, "TTL");

      if (ttl <= 0)
        sysem_etcd_lease_set_expired (lease);
      else
        {
          /* etcd counts the TTL from when it got the keepalive, which is
           * after we sent it; a tenth less for clocks that do not run at
           * quite the same rate. */
          gint64 until = data->sent + ttl * G_USEC_PER_SEC * 9 / 10;

          __atomic_store_n (&lease->alive_until, until, __ATOMIC_RELEASE);
          g_atomic_int_set (&client->current, (gint) data->url);
        }
      goto out;
    }

  if (bytes != NULL && status == SOUP_STATUS_NOT_FOUND)
    {
      /* "requested lease not found" */
      sysem_etcd_lease_set_expired (lease);
      goto out;
    }

  /* No answer, or etcd could not answer now: another endpoint, soon. */
  if (data->url == (guint) g_atomic_int_get (&client->current) % client->n_urls)
    g_atomic_int_set (&client->current, (gint) ((data->url + 1) % client->n_urls));
  if (sysem_etcd_boot_time () >= __atomic_load_n (&lease->alive_until, __ATOMIC_ACQUIRE))
    sysem_etcd_lease_set_expired (lease);
  else
    sysem_etcd_keepalive_retry (lease);

out:
  sysem_etcd_lease_unref (lease);
  g_free (data);
}

/* In the keepalive thread. */
static gboolean
sysem_etcd_keepalive_cb (gpointer user_data)
{
  SysemEtcdLease *lease = user_data;
  SysemEtcdClient *client = lease->client;
  g_autofree char *body = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  KeepaliveData *data;

  if (g_atomic_int_get (&lease->revoked) || g_atomic_int_get (&lease->expired))
    return G_SOURCE_REMOVE;

  if (sysem_etcd_boot_time () >= __atomic_load_n (&lease->alive_until, __ATOMIC_ACQUIRE))
    {
      sysem_etcd_lease_set_expired (lease);
      return G_SOURCE_REMOVE;
    }

  if (!g_atomic_int_compare_and_exchange (&lease->in_flight, FALSE, TRUE))
    return G_SOURCE_CONTINUE;

  data = g_new0 (KeepaliveData, 1);
  data->lease = sysem_etcd_lease_ref (lease);
  data->url = (guint) g_atomic_int_get (&client->current) % client->n_urls;
  data->sent = sysem_etcd_boot_time ();

  body = g_strdup_printf ("{\"ID\":\"%" G_GINT64_FORMAT "\"}", lease->id);
  msg = sysem_etcd_message_new (client, data->url, "/v3/lease/keepalive", body);
  soup_session_send_and_read_async (request_session, msg, G_PRIORITY_DEFAULT, NULL,
                                    sysem_etcd_keepalive_done_cb, data);
  return G_SOURCE_CONTINUE;
}

SysemEtcdLease *
sysem_etcd_lease_grant (SysemEtcdClient  *client,
                        int               ttl,
                        GError          **error)
{
  g_autofree char *body = g_strdup_printf ("{\"TTL\":\"%d\"}", ttl);
  g_autoptr(JsonObject) answer = NULL;
  SysemEtcdLease *lease;
  gint64 sent = sysem_etcd_boot_time ();
  gint64 granted;
  GSource *timer;

  answer = sysem_etcd_client_call (client, "/v3/lease/grant", body, 0, NULL, error);
  if (answer == NULL)
    return NULL;

  granted = sysem_etcd_json_int (answer, "TTL");
  if (sysem_etcd_json_int (answer, "ID") == 0 || granted <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("etcd at %s refused the request: %s"), client->endpoints,
                   json_object_get_string_member_with_default (answer, "error", "no lease"));
      return NULL;
    }

  lease = g_new0 (SysemEtcdLease, 1);
  lease->ref_count = 1;
  g_atomic_int_inc (&client->ref_count);
  lease->client = client;
  lease->id = sysem_etcd_json_int (answer, "ID");
  lease->ttl = (int) granted;
  lease->gen = sysem_etcd_fork_generation ();
  lease->alive_until = sent + granted * G_USEC_PER_SEC * 9 / 10;

  /* A keepalive every third of the TTL: two may be lost. */
  timer = g_timeout_source_new ((guint) MAX (granted * 1000 / 3, 100));
  g_source_set_static_name (timer, "[sysem] etcd keepalive");
  g_source_set_callback (timer, sysem_etcd_keepalive_cb, sysem_etcd_lease_ref (lease),
                         (GDestroyNotify) sysem_etcd_lease_unref);
  g_mutex_lock (&client_lock);
  sysem_etcd_worker_start_locked ();
  lease->timer = timer;
  g_source_attach (timer, worker_context);
  g_mutex_unlock (&client_lock);

  return lease;
}

void
sysem_etcd_lease_revoke (SysemEtcdLease *lease)
{
  g_autofree char *body = NULL;
  g_autoptr(JsonObject) answer = NULL;
  GSource *timer;

  if (!g_atomic_int_compare_and_exchange (&lease->revoked, FALSE, TRUE))
    return;

  g_mutex_lock (&client_lock);
  timer = g_steal_pointer (&lease->timer);
  g_mutex_unlock (&client_lock);

  /* Not in a child of fork(): the lease, and its thread, are the
   * parent's. */
  if (lease->gen != sysem_etcd_fork_generation ())
    return;

  if (timer != NULL)
    {
      g_source_destroy (timer);
      g_source_unref (timer);
    }

  /* What this lease holds goes back now rather than at its expiry. If
   * etcd cannot be reached, the expiry does it. Also when we gave up on
   * it: etcd, started again, may keep it a while. */
  body = g_strdup_printf ("{\"ID\":\"%" G_GINT64_FORMAT "\"}", lease->id);
  answer = sysem_etcd_client_call (lease->client, "/v3/lease/revoke", body, 0, NULL, NULL);
  g_atomic_int_set (&lease->expired, TRUE);
}
