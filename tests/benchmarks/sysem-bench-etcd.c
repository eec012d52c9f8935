/* sysem-bench-etcd.c: the etcd key type beside raw gateway requests and
 * `etcdctl lock`, against an etcd of its own on loopback
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Usage: sysem-bench-etcd [--reps N] [--ops N]
 *
 * Starts etcd (tests/etcd/etcd-fixture.c) and measures, in one run:
 *
 * - an uncontended acquire + release of sysem (two requests: a transaction
 *   that makes the queue key and counts, one that deletes it);
 * - the same two requests sent raw with libsoup, bodies made in advance:
 *   the floor of what a gateway client can do (DESIGN.md §7: ≤ 1.5 ×);
 * - `etcdctl lock NAME true`, one process per lock, as a shell user of
 *   etcd's own lock recipe would take a lock;
 * - the hand-over between two processes: one releases, the other, blocked
 *   in acquire on its watch, takes the unit and answers the same way.
 *
 * Each figure is the median over the repetitions of the mean per operation
 * within one, with the best beside it; each ratio the median of the ratios
 * within a repetition. */

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <sysem/sysem.h>

#include "etcd-fixture.h"

static int reps = 7;
static int ops = 200;

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (double *v,
        int     n)
{
  qsort (v, n, sizeof (double), compare_doubles);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
best (const double *v,
      int           n)
{
  double b = v[0];

  for (int i = 1; i < n; i++)
    b = MIN (b, v[i]);
  return b;
}

static SysemSemaphore *
open_or_die (const char *uri,
             int         value,
             SysemAccessMode mode)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem = sysem_semaphore_new_native (uri, SYSEM_KEY_TYPE_ETCD, value, mode, &error);

  if (sem == NULL)
    g_error ("%s", error->message);
  return sem;
}

/* µs per acquire + release */
static double
run_sysem (SysemSemaphore *sem)
{
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < ops; i++)
    if (!sysem_semaphore_acquire (sem, NULL, NULL) || !sysem_semaphore_release (sem, 1, NULL))
      g_error ("sysem failed");

  return (double) (g_get_monotonic_time () - start) / ops;
}

static char *
b64 (const char *s)
{
  return g_base64_encode ((const guchar *) s, strlen (s));
}

static void
post (SoupSession *session,
      const char  *uri,
      GBytes      *body)
{
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", uri);
  g_autoptr(GBytes) reply = NULL;

  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  /* As sysem does: reuse the connection (libsoup does not for a POST). */
  soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  reply = soup_session_send_and_read (session, msg, NULL, NULL);
  if (reply == NULL || soup_message_get_status (msg) != SOUP_STATUS_OK)
    g_error ("raw request failed");
}

static JsonObject *
post_json (SoupSession *session,
           const char  *uri,
           const char  *text)
{
  g_autoptr(GBytes) body = g_bytes_new (text, strlen (text));
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", uri);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  gsize len;
  const char *data;

  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  reply = soup_session_send_and_read (session, msg, NULL, NULL);
  if (reply == NULL || soup_message_get_status (msg) != SOUP_STATUS_OK)
    g_error ("raw request failed");
  data = g_bytes_get_data (reply, &len);
  if (!json_parser_load_from_data (parser, data, len, NULL))
    g_error ("raw request: no JSON");
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* µs per the same two requests, raw: the bodies sysem sends (a lease-bound
 * key made in a transaction that compares total's revision and counts
 * the queue, and a transaction that deletes it), made in advance. */
static double
run_raw (SoupSession *session,
         const char  *endpoint,
         const char  *name)
{
  g_autofree char *base = g_strdup_printf ("http://%s", endpoint);
  g_autofree char *uri = g_strdup_printf ("http://%s/v3/kv/txn", endpoint);
  g_autofree char *put_uri = g_strdup_printf ("%s/v3/kv/put", base);
  g_autofree char *grant_uri = g_strdup_printf ("%s/v3/lease/grant", base);
  g_autofree char *revoke_uri = g_strdup_printf ("%s/v3/lease/revoke", base);
  g_autofree char *key = g_strdup_printf ("/sysembench/%s/q/0000000000000001-1", name);
  g_autofree char *total = g_strdup_printf ("/sysembench/%s/total", name);
  g_autofree char *q = g_strdup_printf ("/sysembench/%s/q/", name);
  g_autofree char *q_end = g_strdup_printf ("/sysembench/%s/q0", name);
  g_autofree char *k_key = b64 (key), *k_total = b64 (total), *k_q = b64 (q), *k_q_end = b64 (q_end);
  g_autofree char *one = b64 ("1");
  g_autofree char *put_text = g_strdup_printf ("{\"key\":\"%s\",\"value\":\"%s\"}", k_total, one);
  g_autoptr(JsonObject) put = post_json (session, put_uri, put_text);
  g_autoptr(JsonObject) lease = post_json (session, grant_uri, "{\"TTL\":\"60\"}");
  const char *lease_id = json_object_get_string_member (lease, "ID");
  const char *rev = json_object_get_string_member (json_object_get_object_member (put, "header"),
                                                   "revision");
  g_autofree char *compare = g_strdup_printf (
    "{\"target\":\"CREATE\",\"key\":\"%s\",\"create_revision\":\"%s\",\"result\":\"EQUAL\"}",
    k_total, rev);
  g_autofree char *take_text = g_strdup_printf (
    "{\"compare\":[%s],\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%s\"}},"
    "{\"request_range\":{\"key\":\"%s\"}},"
    "{\"request_range\":{\"key\":\"%s\",\"range_end\":\"%s\",\"count_only\":true}}]}",
    compare, k_key, one, lease_id, k_total, k_q, k_q_end);
  g_autofree char *give_text = g_strdup_printf (
    "{\"compare\":[%s],\"success\":[{\"request_delete_range\":{\"key\":\"%s\"}}]}", compare, k_key);
  g_autofree char *revoke_text = g_strdup_printf ("{\"ID\":\"%s\"}", lease_id);
  g_autoptr(GBytes) take = g_bytes_new (take_text, strlen (take_text));
  g_autoptr(GBytes) give = g_bytes_new (give_text, strlen (give_text));
  g_autoptr(JsonObject) revoked = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  for (int i = 0; i < ops; i++)
    {
      post (session, uri, take);
      post (session, uri, give);
    }
  elapsed = g_get_monotonic_time () - start;

  revoked = post_json (session, revoke_uri, revoke_text);
  return (double) elapsed / ops;
}

/* µs per `etcdctl lock NAME true` */
static double
run_etcdctl (const char *etcdctl,
             const char *endpoints,
             const char *name,
             int         n)
{
  g_autofree char *ep = g_strdup_printf ("--endpoints=%s", endpoints);
  const char *argv[] = { etcdctl, ep, "lock", name, "true", NULL };
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "ETCDCTL_API", "3", TRUE);
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      int status;

      if (!g_spawn_sync (NULL, (char **) argv, envp,
                         G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                         NULL, NULL, NULL, NULL, &status, &error) ||
          !g_spawn_check_wait_status (status, NULL))
        g_error ("etcdctl lock failed: %s", error != NULL ? error->message : "exit status");
    }

  return (double) (g_get_monotonic_time () - start) / n;
}

/* The other process of the hand-over: takes from @a, gives to @b. */
static int
pong (const char *a,
      const char *b,
      int         n)
{
  g_autoptr(SysemSemaphore) sa = open_or_die (a, 0, SYSEM_ACCESS_MODE_OPEN);
  g_autoptr(SysemSemaphore) sb = open_or_die (b, 0, SYSEM_ACCESS_MODE_OPEN);

  printf ("ready\n");
  fflush (stdout);
  for (int i = 0; i < n; i++)
    if (!sysem_semaphore_acquire (sa, NULL, NULL) || !sysem_semaphore_release (sb, 1, NULL))
      return 1;
  return 0;
}

/* µs per hand-over (half a round trip) */
static double
run_handover (const char *self_path,
              const char *a,
              const char *b,
              int         n)
{
  g_autoptr(SysemSemaphore) sa = open_or_die (a, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) sb = open_or_die (b, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autofree char *count = g_strdup_printf ("%d", n);
  const char *argv[] = { self_path, "--pong", a, b, count, NULL };
  g_autoptr(GError) error = NULL;
  GPid pid;
  int out;
  char line[16];
  gint64 start;
  int status;

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                 &pid, NULL, &out, NULL, &error))
    g_error ("%s", error->message);
  if (read (out, line, sizeof line) <= 0)
    g_error ("the other process did not start");

  start = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    if (!sysem_semaphore_release (sa, 1, NULL) || !sysem_semaphore_acquire (sb, NULL, NULL))
      g_error ("hand-over failed");
  start = g_get_monotonic_time () - start;

  waitpid (pid, &status, 0);
  close (out);
  g_spawn_close_pid (pid);
  return (double) start / n / 2;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *etcdctl = g_find_program_in_path ("etcdctl");
  g_autofree double *v_sysem = NULL, *v_raw = NULL, *v_ctl = NULL, *v_hand = NULL;
  g_autofree double *r_raw = NULL, *r_ctl = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autofree char *uri = NULL, *uri_a = NULL, *uri_b = NULL;
  g_autofree char *name = NULL;
  SysemSemaphore *sem;
  EtcdServer *server;
  const int ctl_ops = 20;
  const int hand_ops = 50;

  if (argc == 5 && g_str_equal (argv[1], "--pong"))
    return pong (argv[2], argv[3], atoi (argv[4]));

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--reps") && i + 1 < argc)
        reps = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--ops") && i + 1 < argc)
        ops = atoi (argv[++i]);
    }
  reps = MAX (reps, 1);
  ops = MAX (ops, 1);
  {
    }

  server = etcd_server_new (1);
  name = g_strdup_printf ("sysembench-%d", (int) getpid ());
  uri = etcd_server_uri (server, name);
  uri_a = g_strconcat (uri, "-a", NULL);
  uri_b = g_strconcat (uri, "-b", NULL);
  sem = open_or_die (uri, 1, SYSEM_ACCESS_MODE_CREATE);
  session = soup_session_new ();

  v_sysem = g_new0 (double, reps);
  v_raw = g_new0 (double, reps);
  v_ctl = g_new0 (double, reps);
  v_hand = g_new0 (double, reps);
  r_raw = g_new0 (double, reps);
  r_ctl = g_new0 (double, reps);

  /* Warm up: connections made, pages in. */
  run_sysem (sem);
  run_raw (session, etcd_server_member_endpoint (server, 0), name);

  for (int r = 0; r < reps; r++)
    {
      v_sysem[r] = run_sysem (sem);
      v_raw[r] = run_raw (session, etcd_server_member_endpoint (server, 0), name);
      v_ctl[r] = etcdctl != NULL ? run_etcdctl (etcdctl, etcd_server_endpoints (server), name, ctl_ops) : NAN;
      v_hand[r] = run_handover (argv[0], uri_a, uri_b, hand_ops);
      r_raw[r] = v_sysem[r] / v_raw[r];
      r_ctl[r] = v_ctl[r] / v_sysem[r];
    }

  g_print ("etcd %s on loopback, %d repetitions; µs per operation (median, best)\n",
           etcd_server_endpoints (server), reps);
  g_print ("  %-52s %10.1f %10.1f\n", "sysem acquire+release, uncontended", median (v_sysem, reps), best (v_sysem, reps));
  g_print ("  %-52s %10.1f %10.1f\n", "the same 2 gateway requests, raw libsoup", median (v_raw, reps), best (v_raw, reps));
  if (etcdctl != NULL)
    g_print ("  %-52s %10.1f %10.1f\n", "etcdctl lock NAME true (a process each)", median (v_ctl, reps), best (v_ctl, reps));
  g_print ("  %-52s %10.1f %10.1f\n", "cross-process hand-over (half a round trip)", median (v_hand, reps), best (v_hand, reps));
  g_print ("ratios (median of per-repetition ratios)\n");
  g_print ("  %-52s %10.3f   (target ≤ 1.5)\n", "sysem pair / raw requests", median (r_raw, reps));
  if (etcdctl != NULL)
    g_print ("  %-52s %10.1f\n", "etcdctl lock / sysem pair", median (r_ctl, reps));

  g_object_unref (sem);
  g_clear_object (&session);
  {
    /* The raw keys are the benchmark's own. */
    g_autofree char *raw_prefix = g_strdup_printf ("/sysembench/%s/", name);

    etcd_server_delete_prefix (server, raw_prefix);
  }
  etcd_server_free (server);
  return 0;
}
