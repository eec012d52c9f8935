/* etcd-fixture.c: a real etcd (or a cluster of them) for the tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "etcd-fixture.h"

#define DEADLINE_USEC (60 * G_USEC_PER_SEC)

typedef struct {
  char *name;
  char *dir;
  guint client_port;
  guint peer_port;
  char *endpoint;
  GPid  pid;         /* 0 when stopped */
  guint64 id;        /* member id, once known */
} Member;

struct _EtcdServer
{
  char        *dir;
  char        *token;
  Member      *members;
  guint        n_members;
  char        *endpoints;
  char        *cluster;
  SoupSession *session;
};

static const char *
etcd_binary (void)
{
  const char *env = g_getenv ("SYSEM_TEST_ETCD");
  static char *found;

  if (env != NULL && *env != '\0')
    return env;
  if (found == NULL)
    found = g_find_program_in_path ("etcd");
  if (found == NULL && g_file_test ("/usr/bin/etcd", G_FILE_TEST_IS_EXECUTABLE))
    found = g_strdup ("/usr/bin/etcd");
  if (found == NULL)
    g_error ("etcd not found (install etcd-server, or set SYSEM_TEST_ETCD): the etcd tests need a real server");
  return found;
}

/* A port nobody listens on now: bound, then let go. etcd cannot bind
 * port 0 itself. */
static guint
free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);
  return ntohs (addr.sin_port);
}

static void
child_setup (gpointer user_data)
{
  /* etcd must not outlive a test that crashed. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  setpgid (0, 0);
}

static void
member_spawn (EtcdServer *server,
              Member     *m,
              gboolean    fresh)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *client_url = g_strdup_printf ("http://127.0.0.1:%u", m->client_port);
  g_autofree char *peer_url = g_strdup_printf ("http://127.0.0.1:%u", m->peer_port);
  g_autofree char *log = g_build_filename (server->dir, m->name, NULL);
  g_autofree char *log_path = g_strconcat (log, ".log", NULL);
  const char *argv[] = {
    etcd_binary (),
    "--name", m->name,
    "--data-dir", m->dir,
    "--listen-client-urls", client_url,
    "--advertise-client-urls", client_url,
    "--listen-peer-urls", peer_url,
    "--initial-advertise-peer-urls", peer_url,
    "--initial-cluster", server->cluster,
    "--initial-cluster-state", fresh ? "new" : "existing",
    "--initial-cluster-token", server->token,
    "--log-level", "warn",
    "--logger", "zap",
    "--log-outputs", log_path,
    NULL
  };

  g_spawn_async (NULL, (char **) argv, NULL,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                 child_setup, NULL, &m->pid, &error);
  g_assert_no_error (error);
}

/* GET @path of @m; the body, or NULL. */
static GBytes *
member_get (EtcdServer *server,
            Member     *m,
            const char *method,
            const char *path,
            const char *body)
{
  g_autofree char *uri = g_strdup_printf ("http://%s%s", m->endpoint, path);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  GBytes *bytes;

  if (body != NULL)
    {
      g_autoptr(GBytes) b = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", b);
    }
  bytes = soup_session_send_and_read (server->session, msg, NULL, NULL);
  if (bytes != NULL && soup_message_get_status (msg) != SOUP_STATUS_OK)
    g_clear_pointer (&bytes, g_bytes_unref);
  return bytes;
}

static JsonObject *
parse (GBytes *bytes)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  if (!json_parser_load_from_data (parser, data, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static gboolean
member_exited (Member *m)
{
  int status;

  if (m->pid == 0)
    return TRUE;
  if (waitpid (m->pid, &status, WNOHANG) == m->pid)
    {
      m->pid = 0;
      return TRUE;
    }
  return FALSE;
}

/* Waits until @m says it is healthy (which needs a leader). FALSE if it
 * exited first: a port was taken meanwhile. */
static gboolean
member_wait_healthy (EtcdServer *server,
                     Member     *m)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_USEC;
  gulong pause = 1000;

  for (;;)
    {
      g_autoptr(GBytes) bytes = member_get (server, m, "GET", "/health", NULL);

      if (bytes != NULL)
        {
          g_autoptr(JsonObject) o = parse (bytes);

          if (o != NULL && g_strcmp0 (json_object_get_string_member_with_default (o, "health", ""),
                                      "true") == 0)
            return TRUE;
        }
      if (member_exited (m))
        return FALSE;
      if (g_get_monotonic_time () > deadline)
        g_error ("etcd %s on %s did not become healthy (see %s.log)", m->name, m->endpoint, m->dir);
      g_usleep (pause);
      pause = MIN (pause * 2, 100 * 1000);
    }
}

static void
member_kill (Member *m,
             int     signal)
{
  int status;

  if (m->pid == 0)
    return;
  kill (m->pid, signal);
  if (signal == SIGSTOP || signal == SIGCONT)
    return;
  while (waitpid (m->pid, &status, 0) == -1 && errno == EINTR)
    ;
  m->pid = 0;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) e = NULL;
  GFileInfo *info;

  e = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                                 G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (e != NULL && (info = g_file_enumerator_next_file (e, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_unlink (child);
      g_object_unref (info);
    }
  g_rmdir (path);
}

/* The data directories of test programs that died (an assertion aborts
 * them before they can remove theirs): sysem-etcd-PID-XXXXXX. */
static void
remove_dead_dirs (void)
{
  GDir *dir = g_dir_open (g_get_tmp_dir (), 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      guint64 pid;
      g_auto(GStrv) parts = NULL;

      if (!g_str_has_prefix (name, "sysem-etcd-"))
        continue;
      parts = g_strsplit (name + strlen ("sysem-etcd-"), "-", 2);
      if (parts[0] == NULL || parts[1] == NULL ||
          !g_ascii_string_to_unsigned (parts[0], 10, 1, G_MAXINT, &pid, NULL))
        continue;
      if (kill ((pid_t) pid, 0) == -1 && errno == ESRCH)
        {
          g_autofree char *path = g_build_filename (g_get_tmp_dir (), name, NULL);

          remove_tree (path);
        }
    }
  if (dir != NULL)
    g_dir_close (dir);
}

EtcdServer *
etcd_server_new (guint n_members)
{
  EtcdServer *server = g_new0 (EtcdServer, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *template = g_strdup_printf ("sysem-etcd-%d-XXXXXX", (int) getpid ());

  remove_dead_dirs ();
  server->dir = g_dir_make_tmp (template, &error);
  g_assert_no_error (error);
  server->token = g_strdup_printf ("sysemtest-%d", (int) getpid ());
  server->n_members = n_members;
  server->members = g_new0 (Member, n_members);
  server->session = soup_session_new_with_options ("timeout", 5, NULL);

  for (guint attempt = 0;; attempt++)
    {
      g_autoptr(GString) cluster = g_string_new (NULL);
      g_autoptr(GString) endpoints = g_string_new (NULL);
      gboolean ok = TRUE;

      for (guint i = 0; i < n_members; i++)
        {
          Member *m = &server->members[i];

          g_free (m->name);
          g_free (m->dir);
          g_free (m->endpoint);
          m->name = g_strdup_printf ("m%u", i);
          m->dir = g_build_filename (server->dir, m->name, NULL);
          remove_tree (m->dir);
          m->client_port = free_port ();
          m->peer_port = free_port ();
          m->endpoint = g_strdup_printf ("127.0.0.1:%u", m->client_port);
          g_string_append_printf (cluster, "%s%s=http://127.0.0.1:%u", i > 0 ? "," : "",
                                  m->name, m->peer_port);
          g_string_append_printf (endpoints, "%s%s", i > 0 ? "," : "", m->endpoint);
        }
      g_free (server->cluster);
      g_free (server->endpoints);
      server->cluster = g_strdup (cluster->str);
      server->endpoints = g_strdup (endpoints->str);

      for (guint i = 0; i < n_members; i++)
        member_spawn (server, &server->members[i], TRUE);
      for (guint i = 0; i < n_members && ok; i++)
        ok = member_wait_healthy (server, &server->members[i]);
      if (ok)
        break;

      /* A port was taken between our look and etcd's bind: again. */
      for (guint i = 0; i < n_members; i++)
        member_kill (&server->members[i], SIGKILL);
      if (attempt == 5)
        g_error ("etcd did not start (see the logs in %s)", server->dir);
    }

  return server;
}

void
etcd_server_free (EtcdServer *server)
{
  for (guint i = 0; i < server->n_members; i++)
    {
      Member *m = &server->members[i];

      if (m->pid != 0)
        kill (m->pid, SIGCONT);
      member_kill (m, SIGTERM);
      g_free (m->name);
      g_free (m->dir);
      g_free (m->endpoint);
    }
  remove_tree (server->dir);
  g_object_unref (server->session);
  g_free (server->members);
  g_free (server->dir);
  g_free (server->token);
  g_free (server->endpoints);
  g_free (server->cluster);
  g_free (server);
}

guint
etcd_server_n_members (EtcdServer *server)
{
  return server->n_members;
}

const char *
etcd_server_endpoints (EtcdServer *server)
{
  return server->endpoints;
}

const char *
etcd_server_member_endpoint (EtcdServer *server,
                             guint       member)
{
  return server->members[member].endpoint;
}

char *
etcd_server_uri (EtcdServer *server,
                 const char *name)
{
  return g_strdup_printf ("etcd://%s/%s", server->endpoints, name);
}

void
etcd_server_stop_member (EtcdServer *server,
                         guint       member,
                         int         signal)
{
  member_kill (&server->members[member], signal);
}

void
etcd_server_start_member (EtcdServer *server,
                          guint       member)
{
  Member *m = &server->members[member];

  g_assert_cmpint (m->pid, ==, 0);
  member_spawn (server, m, FALSE);
  if (!member_wait_healthy (server, m))
    g_error ("etcd %s did not start again", m->name);
}

static JsonObject *
call (EtcdServer *server,
      const char *path,
      const char *body)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_USEC;

  /* Members may be electing a leader: again until one answers. */
  for (;;)
    {
      for (guint i = 0; i < server->n_members; i++)
        {
          Member *m = &server->members[i];
          g_autoptr(GBytes) bytes = NULL;

          if (m->pid == 0)
            continue;
          bytes = member_get (server, m, "POST", path, body);
          if (bytes != NULL)
            return parse (bytes);
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("no etcd member answered %s", path);
      g_usleep (50 * 1000);
    }
}

guint
etcd_server_leader (EtcdServer *server)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_USEC;

  for (;;)
    {
      for (guint i = 0; i < server->n_members; i++)
        {
          Member *m = &server->members[i];
          g_autoptr(GBytes) bytes = NULL;
          g_autoptr(JsonObject) o = NULL;
          JsonObject *header;

          if (m->pid == 0)
            continue;
          bytes = member_get (server, m, "POST", "/v3/maintenance/status", "{}");
          if (bytes == NULL || (o = parse (bytes)) == NULL)
            continue;
          header = json_object_get_object_member (o, "header");
          if (header != NULL &&
              g_strcmp0 (json_object_get_string_member_with_default (header, "member_id", "a"),
                         json_object_get_string_member_with_default (o, "leader", "b")) == 0)
            return i;
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("the etcd cluster has no leader");
      g_usleep (50 * 1000);
    }
}

static char *
b64 (const char *s)
{
  return g_base64_encode ((const guchar *) s, strlen (s));
}

static char *
b64_end (const char *prefix)
{
  g_autofree char *end = g_strdup (prefix);

  end[strlen (end) - 1]++;
  return b64 (end);
}

gint64
etcd_server_count (EtcdServer *server,
                   const char *prefix)
{
  g_autofree char *k = b64 (prefix);
  g_autofree char *e = b64_end (prefix);
  g_autofree char *body = g_strdup_printf ("{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}", k, e);
  g_autoptr(JsonObject) o = call (server, "/v3/kv/range", body);
  const char *count = json_object_get_string_member_with_default (o, "count", "0");

  return g_ascii_strtoll (count, NULL, 10);
}

void
etcd_server_put (EtcdServer *server,
                 const char *key,
                 const char *value)
{
  g_autofree char *k = b64 (key);
  g_autofree char *v = b64 (value);
  g_autofree char *body = g_strdup_printf ("{\"key\":\"%s\",\"value\":\"%s\"}", k, v);
  g_autoptr(JsonObject) o = call (server, "/v3/kv/put", body);
}

void
etcd_server_delete_prefix (EtcdServer *server,
                           const char *prefix)
{
  g_autofree char *k = b64 (prefix);
  g_autofree char *e = b64_end (prefix);
  g_autofree char *body = g_strdup_printf ("{\"key\":\"%s\",\"range_end\":\"%s\"}", k, e);
  g_autoptr(JsonObject) o = call (server, "/v3/kv/deleterange", body);
}

gint64
etcd_server_kv_requests (EtcdServer *server)
{
  gint64 total = 0;

  for (guint i = 0; i < server->n_members; i++)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_auto(GStrv) lines = NULL;
      g_autofree char *text = NULL;
      gsize len;

      if (server->members[i].pid == 0)
        continue;
      bytes = member_get (server, &server->members[i], "GET", "/metrics", NULL);
      g_assert_nonnull (bytes);
      text = g_strndup (g_bytes_get_data (bytes, &len), g_bytes_get_size (bytes));
      lines = g_strsplit (text, "\n", -1);
      for (guint k = 0; lines[k] != NULL; k++)
        {
          const char *value;

          if (!g_str_has_prefix (lines[k], "grpc_server_started_total{") ||
              (strstr (lines[k], "grpc_service=\"etcdserverpb.KV\"") == NULL &&
               strstr (lines[k], "grpc_service=\"etcdserverpb.Watch\"") == NULL))
            continue;
          value = strrchr (lines[k], ' ');
          if (value != NULL)
            total += (gint64) g_ascii_strtod (value + 1, NULL);
        }
    }

  return total;
}

void
etcd_server_assert_clean (EtcdServer *server)
{
  g_autofree char *k = b64 ("/sysem/");
  g_autofree char *e = b64_end ("/sysem/");
  g_autofree char *body = g_strdup_printf ("{\"key\":\"%s\",\"range_end\":\"%s\",\"keys_only\":true}", k, e);
  g_autoptr(JsonObject) o = call (server, "/v3/kv/range", body);
  JsonArray *kvs = json_object_has_member (o, "kvs") ? json_object_get_array_member (o, "kvs") : NULL;
  g_autoptr(GString) left = g_string_new (NULL);

  for (guint i = 0; kvs != NULL && i < json_array_get_length (kvs); i++)
    {
      const char *key = json_object_get_string_member (json_array_get_object_element (kvs, i), "key");
      gsize len;
      g_autofree guchar *raw = g_base64_decode (key, &len);

      g_string_append_printf (left, " %.*s", (int) len, raw);
    }

  if (left->len > 0)
    g_error ("keys left in etcd:%s", left->str);
}
