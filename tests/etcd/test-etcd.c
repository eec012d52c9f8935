/* test-etcd.c: the etcd key type against a real etcd
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Qt's scenarios on this key type, Open and Create, timed and cancelled
 * waits, releases that create units, removal under a waiter, processes
 * sharing one semaphore, naming, hostile input, asynchronous acquires,
 * fork(), and the inspection the tool uses. Each test makes its own name
 * and leaves nothing under /sysem/ (the fixture checks). */

#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "etcd-test.h"

/* Naming */

static void
test_native_key (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_OPEN);

  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, SYSEM_KEY_TYPE_ETCD);
  g_assert_cmpstr (sysem_semaphore_get_native_key (sem), ==, fixture->uri);
  g_assert_null (sysem_semaphore_get_key (sem));
  sysem_test_assert_value (sem, 1);
}

static void
test_string_key (EtcdFixture *fixture)
{
  g_autofree char *key = g_strdup_printf ("%s with/slash, spaces and ü", fixture->name);
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(SysemSemaphore) other = NULL;
  const char *native;

  sem = sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_ETCD, 2, SYSEM_ACCESS_MODE_CREATE, &error);
  g_assert_no_error (error);
  native = sysem_semaphore_get_native_key (sem);
  g_assert_true (g_str_has_prefix (native, "etcd://"));
  g_assert_true (g_str_has_prefix (native + strlen ("etcd://"),
                                   etcd_server_endpoints (etcd_test_server)));
  /* Escaped: the slash does not make a deeper name. */
  g_assert_null (strchr (strrchr (native, '/') + 1, ' '));
  g_assert_nonnull (strstr (native, "%2F"));
  g_assert_cmpstr (sysem_semaphore_get_key (sem), ==, key);

  /* The same key from another object, and through its native key. */
  other = sysem_test_open (key, SYSEM_KEY_TYPE_ETCD, 7, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_acquire (other);
  sysem_test_assert_value (sem, 1);
  sysem_test_release (other, 1);
}

static void
test_bad_uris (EtcdFixture *fixture)
{
  const char *bad[] = {
    "etcd://",
    "etcd:///name",
    "etcd://127.0.0.1/name",
    "etcd://127.0.0.1:0/name",
    "etcd://127.0.0.1:65536/name",
    "etcd://127.0.0.1:port/name",
    "etcd://127.0.0.1:2379",
    "etcd://127.0.0.1:2379/",
    "etcd://127.0.0.1:2379/a/b",
    "etcd://127.0.0.1:2379/..",
    "etcd://127.0.0.1:2379/with space",
    "etcd://127.0.0.1:2379,/name",
    "etcd://host name:2379/name",
    "http://127.0.0.1:2379/name",
    "127.0.0.1:2379/name",
  };
  g_autoptr(GString) huge = g_string_new ("etcd://127.0.0.1:2379/");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SysemSemaphore) sem = NULL;

      sem = sysem_semaphore_new_native (bad[i], SYSEM_KEY_TYPE_ETCD, 1, SYSEM_ACCESS_MODE_OPEN,
                                        &error);
      g_assert_null (sem);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_KEY_ERROR, bad[i]);
    }

  for (guint i = 0; i < 2000; i++)
    g_string_append_c (huge, 'x');
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(SysemSemaphore) sem = NULL;

    sem = sysem_semaphore_new_native (huge->str, SYSEM_KEY_TYPE_ETCD, 1, SYSEM_ACCESS_MODE_OPEN,
                                      &error);
    g_assert_null (sem);
    g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  }

  /* A bad SYSEM_ETCD_ENDPOINTS for a string key. */
  {
    g_autofree char *saved = g_strdup (g_getenv ("SYSEM_ETCD_ENDPOINTS"));

    g_setenv ("SYSEM_ETCD_ENDPOINTS", "nowhere", TRUE);
    sysem_test_assert_open_fails (fixture->name, SYSEM_KEY_TYPE_ETCD, SYSEM_ACCESS_MODE_OPEN,
                                  SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
    g_setenv ("SYSEM_ETCD_ENDPOINTS", saved, TRUE);
  }
}

/* Qt's scenarios (tests/core/test-scenarios.c) */

static void
test_basic_acquire (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_scenario_basic_acquire (sem);
}

static void
test_complex_acquire (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 2, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_scenario_complex_acquire (sem);
}

static void
test_release (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_CREATE);

  sysem_test_scenario_release (sem);
}

static void
test_basic_processes (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *acquirer = etcd_test_helper (fixture->uri, NULL);
  SysemTestHelper *releaser;

  sysem_test_helper_send (acquirer, "acquire");
  sysem_test_helper_expect_line (acquirer, "acquiring");
  etcd_test_wait_queue (fixture, 1);

  /* Killed while it waits: its key goes with its lease (revoked by
   * nobody: it expires). The unit was never its. */
  g_assert_cmpint (sysem_test_helper_kill (acquirer), ==, 128 + SIGKILL);
  sysem_test_helper_free (acquirer);
  sysem_test_assert_value (sem, 0);

  /* Its place in the line is its own until its lease expires: the unit
   * released meanwhile is the dead helper's until then. */
  releaser = etcd_test_helper (fixture->uri, NULL);
  etcd_test_helper_say (releaser, "release 1", "released");
  sysem_test_helper_complete (releaser, NULL);
  etcd_test_wait_value (sem, 1);
  etcd_test_wait_queue (fixture, 0);
  etcd_test_wait_count (fixture, "users/", 1);
}

static void
run_processes (EtcdFixture *fixture,
               guint        n_helpers)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GPtrArray) helpers = g_ptr_array_new ();

  for (guint i = 0; i < n_helpers; i++)
    {
      SysemTestHelper *helper = etcd_test_helper (fixture->uri, NULL);

      sysem_test_helper_send (helper, "rounds 5");
      g_ptr_array_add (helpers, helper);
    }

  for (guint i = 0; i < n_helpers; i++)
    sysem_test_helper_complete (helpers->pdata[i], "done");

  sysem_test_assert_value (sem, 1);
}

static void
test_processes_1 (EtcdFixture *fixture)
{
  run_processes (fixture, 1);
}

static void
test_processes_3 (EtcdFixture *fixture)
{
  run_processes (fixture, 3);
}

static void
test_processes_10 (EtcdFixture *fixture)
{
  run_processes (fixture, 10);
}

/* initialValue: what an exited helper acquired comes back (its lease is
 * revoked when it closes). */
static void
test_initial_value (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper;
  SysemTestHelper *releaser;

  helper = etcd_test_helper (fixture->uri, NULL);
  sysem_test_helper_command (helper, "acquire", "acquiring", "acquired", NULL);
  sysem_test_helper_complete (helper, NULL);
  sysem_test_assert_value (sem, 1);

  /* Wants two: blocks at the second. */
  helper = etcd_test_helper (fixture->uri, NULL);
  sysem_test_helper_command (helper, "acquire", "acquiring", "acquired", NULL);
  sysem_test_helper_command (helper, "acquire", "acquiring", NULL);
  etcd_test_wait_queue (fixture, 2);
  sysem_test_assert_value (sem, 0);

  /* A release lets it finish. */
  releaser = etcd_test_helper (fixture->uri, NULL);
  etcd_test_helper_say (releaser, "release 1", "released");
  sysem_test_helper_complete (releaser, NULL);
  sysem_test_helper_expect_line (helper, "acquired");
  sysem_test_helper_complete (helper, NULL);

  /* Its two acquires came back; the released unit stays. */
  sysem_test_assert_value (sem, 2);
}

static void
test_two_semaphores (EtcdFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *created, *opened;

  created = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  opened = etcd_test_open (fixture->uri, 5, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (opened, 1);

  sysem_test_acquire (created);
  sysem_test_assert_no_unit (opened);
  sysem_test_release (created, 1);

  sysem_test_acquire (opened);
  sysem_test_assert_no_unit (created);
  sysem_test_release (opened, 1);

  sysem_test_release (opened, 1);
  sysem_test_assert_value (created, 2);
  sysem_test_acquire (created);
  sysem_test_acquire (opened);
  sysem_test_assert_value (created, 0);
  sysem_test_release (created, 1);
  sysem_test_release (opened, 1);
  sysem_test_assert_value (opened, 2);

  g_object_unref (opened);
  g_assert_cmpint (etcd_server_count (etcd_test_server, "/sysem/1/"), >, 0);
  g_object_unref (created);
}

static void
test_set_key (EtcdFixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *two = g_strconcat (fixture->name, "-two", NULL);

  sem = sysem_test_open (fixture->name, SYSEM_KEY_TYPE_ETCD, 1, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_acquire (sem);
  g_assert_true (sysem_semaphore_set_key (sem, two, 2, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sysem_semaphore_get_key_type (sem), ==, SYSEM_KEY_TYPE_ETCD);
  sysem_test_assert_value (sem, 2);

  g_assert_true (sysem_semaphore_set_key (sem, NULL, 0, SYSEM_ACCESS_MODE_OPEN, &error));
  g_assert_no_error (error);
}

/* Semantics */

static void
test_open_vs_create (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) first = etcd_test_open (fixture->uri, 3, SYSEM_ACCESS_MODE_OPEN);
  SysemSemaphore *sem;

  sysem_test_assert_value (first, 3);

  /* Open leaves the count alone. */
  sem = etcd_test_open (fixture->uri, 9, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (sem, 3);
  g_object_unref (sem);

  /* Create sets it. */
  sem = etcd_test_open (fixture->uri, 5, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_assert_value (first, 5);
  g_object_unref (sem);
}

static void
test_try_acquire_timeout (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_assert_true (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_no_error (error);
  sysem_test_assert_no_unit (sem);

  start = g_get_monotonic_time ();
  g_assert_false (sysem_semaphore_try_acquire (sem, 200 * G_TIME_SPAN_MILLISECOND, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  /* Not a timing assertion: it waited at all. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * G_TIME_SPAN_MILLISECOND);

  /* No key left behind by the waits that gave up. */
  etcd_test_wait_queue (fixture, 1);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 1);
}

typedef struct {
  SysemSemaphore *sem;
  GCancellable   *cancellable;
  gint64          timeout;
  gboolean        ok;
  GError         *error;
} Blocked;

static gpointer
blocked_thread (gpointer data)
{
  Blocked *b = data;

  if (b->timeout < 0)
    b->ok = sysem_semaphore_acquire (b->sem, b->cancellable, &b->error);
  else
    b->ok = sysem_semaphore_try_acquire (b->sem, b->timeout, b->cancellable, &b->error);
  return NULL;
}

static void
test_cancel (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Blocked b = { sem, cancellable, -1, FALSE, NULL };
  GThread *thread;

  for (guint round = 0; round < 3; round++)
    {
      b.ok = FALSE;
      g_cancellable_reset (cancellable);
      thread = g_thread_new ("blocked", blocked_thread, &b);
      etcd_test_wait_queue (fixture, 1);
      g_cancellable_cancel (cancellable);
      g_thread_join (thread);
      g_assert_false (b.ok);
      g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_clear_error (&b.error);
      etcd_test_wait_queue (fixture, 0);
      sysem_test_assert_value (sem, 0);
    }

  /* Cancelled before the call: fails, takes nothing. */
  sysem_test_release (sem, 1);
  g_assert_false (sysem_semaphore_acquire (sem, cancellable, &b.error));
  g_assert_error (b.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&b.error);
  sysem_test_assert_value (sem, 1);
}

/* Waits racing their end, as for the local key types: cancels at any
 * moment of a wait, and a unit released as deadlines of 20 ms pass. Each
 * wait is a few requests to the server, so fewer rounds, with moments
 * spread over milliseconds. The units come from another object, so that
 * the waits' object holds one key for each unit it took, and none of a
 * wait that gave up may stay behind. */
static void
wait_race (EtcdFixture *fixture,
           gboolean     cancel)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) releaser = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_OPEN);
  int taken = sysem_test_wait_race (sem, releaser, cancel, 20 * G_TIME_SPAN_MILLISECOND,
                                    40 * G_TIME_SPAN_MILLISECOND, 60);

  etcd_test_wait_queue (fixture, taken);
}

static void
test_cancel_race (EtcdFixture *fixture)
{
  wait_race (fixture, TRUE);
}

static void
test_deadline_race (EtcdFixture *fixture)
{
  wait_race (fixture, FALSE);
}

static void
test_release_beyond_initial (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) other = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_OPEN);
  g_autoptr(GError) error = NULL;

  /* One held and four new: release (5) gives back one and makes four. */
  sysem_test_acquire (sem);
  sysem_test_release (sem, 5);
  sysem_test_assert_value (other, 5);

  for (int i = 0; i < 5; i++)
    sysem_test_acquire (other);
  sysem_test_assert_no_unit (sem);
  sysem_test_release (other, 5);
  sysem_test_assert_value (sem, 5);

  /* Past the maximum: an error, and nothing changes. */
  sysem_test_acquire (sem);
  g_assert_false (sysem_semaphore_release (sem, G_MAXINT, &error));
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                     SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, fixture->uri);
  sysem_test_assert_value (other, 4);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (other, 5);
}

static void
test_fifo (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *first = etcd_test_helper (fixture->uri, NULL);
  SysemTestHelper *second = etcd_test_helper (fixture->uri, NULL);

  sysem_test_helper_command (first, "acquire", "acquiring", NULL);
  etcd_test_wait_queue (fixture, 1);
  sysem_test_helper_command (second, "acquire", "acquiring", NULL);
  etcd_test_wait_queue (fixture, 2);

  /* The first to ask is the first served. */
  sysem_test_release (sem, 1);
  sysem_test_helper_expect_line (first, "acquired");
  sysem_test_assert_value (sem, 0);
  etcd_test_wait_queue (fixture, 2);
  etcd_test_helper_say (first, "release 1", "released");
  sysem_test_helper_expect_line (second, "acquired");
  etcd_test_helper_say (second, "release 1", "released");

  sysem_test_helper_complete (first, NULL);
  sysem_test_helper_complete (second, NULL);
  sysem_test_assert_value (sem, 1);
}

static void
test_remove_under_waiter (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) other = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_OPEN);
  g_autoptr(GError) error = NULL;
  Blocked b = { other, NULL, -1, FALSE, NULL };
  GThread *thread = g_thread_new ("blocked", blocked_thread, &b);

  etcd_test_wait_queue (fixture, 1);
  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_false (b.ok);
  sysem_test_assert_error_names_key (b.error, SYSEM_SEMAPHORE_ERROR,
                                     SYSEM_SEMAPHORE_ERROR_NOT_FOUND, fixture->uri);
  g_clear_error (&b.error);

  /* Every later call of both: NOT_FOUND, never a silent re-creation. */
  sysem_test_assert_removed (sem);
  sysem_test_assert_removed (other);
  g_assert_false (sysem_semaphore_release (other, 1, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Made again by someone else: the old objects still see it gone. */
  {
    g_autoptr(SysemSemaphore) again = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_OPEN);

    sysem_test_assert_removed (other);
    sysem_test_assert_value (again, 1);
  }
}

/* A waiter makes no request while nothing happens: it waits on its watch
 * (the keepalives of its lease aside, which are not KV requests). */
static void
test_no_polling (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper = etcd_test_helper (fixture->uri, NULL);
  gint64 before, after;

  /* Three seconds of waiting, in vain. */
  sysem_test_helper_send (helper, "try 3000000");
  etcd_test_wait_queue (fixture, 1);
  before = etcd_server_kv_requests (etcd_test_server);
  sysem_test_helper_expect_line (helper, "timeout");
  after = etcd_server_kv_requests (etcd_test_server);

  g_test_message ("KV requests and watches while the helper waited: %" G_GINT64_FORMAT, after - before);
  /* What the helper did when its time ran out: delete its key; and its
   * watch, which may begin after its key is seen. A waiter that looked
   * even once a second would show more. */
  g_assert_cmpint (after - before, <=, 2);

  sysem_test_helper_complete (helper, NULL);
  sysem_test_assert_value (sem, 0);
}

/* Several processes: the count is never passed. */
static void
test_count_never_exceeded (EtcdFixture *fixture)
{
  const guint n_helpers = sysem_test_under_valgrind () ? 3 : 6;
  const int slots = 2;
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, slots, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GPtrArray) helpers = g_ptr_array_new ();
  g_autofree char *counter = g_build_filename (g_get_tmp_dir (), "sysemtest-etcd-counter-XXXXXX", NULL);
  g_autofree char *max = g_strdup_printf ("%d", slots);
  int fd = g_mkstemp (counter);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, sizeof (gint)), ==, 0);
  close (fd);

  for (guint i = 0; i < n_helpers; i++)
    {
      SysemTestHelper *helper = etcd_test_helper (fixture->uri, "--counter", counter, "--max", max,
                                                  NULL);

      sysem_test_helper_send (helper, "rounds 15");
      g_ptr_array_add (helpers, helper);
    }
  for (guint i = 0; i < n_helpers; i++)
    sysem_test_helper_complete (helpers->pdata[i], "done");

  sysem_test_assert_value (sem, slots);
  g_unlink (counter);
}


/* An endpoint that answers 408 Request Timeout, as a server (or a proxy
 * before it) does that gave up waiting for the rest of a request, for
 * one while it restarts: the call goes on to the next endpoint, as for
 * one that cannot be reached (before, the first such answer failed it). */

typedef struct {
  GMainContext *context;
  GMainLoop    *loop;
  GAsyncQueue  *ports;
  gint          answered;  /* atomic */
} TimeoutServer;

static void
request_timeout_cb (SoupServer        *server,
                    SoupServerMessage *msg,
                    const char        *path,
                    GHashTable        *query,
                    gpointer           user_data)
{
  TimeoutServer *ts = user_data;

  g_atomic_int_inc (&ts->answered);
  soup_server_message_set_status (msg, SOUP_STATUS_REQUEST_TIMEOUT, NULL);
}

/* The server lives in its own thread and context, from its first socket
 * to its last: what libsoup attaches goes to the thread-default context. */
static gpointer
timeout_server_thread (gpointer data)
{
  TimeoutServer *ts = data;
  g_autoptr(GError) error = NULL;
  SoupServer *server;
  GSList *uris;

  g_main_context_push_thread_default (ts->context);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, request_timeout_cb, ts, NULL);
  g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  g_async_queue_push (ts->ports, GINT_TO_POINTER (g_uri_get_port (uris->data)));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (ts->loop);

  soup_server_disconnect (server);
  g_object_unref (server);
  while (g_main_context_iteration (ts->context, FALSE))
    ;
  g_main_context_pop_thread_default (ts->context);
  return NULL;
}

static void
test_request_timeout (EtcdFixture *fixture)
{
  TimeoutServer ts = { g_main_context_new (), NULL, g_async_queue_new (), 0 };
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  GThread *thread;
  guint port;

  ts.loop = g_main_loop_new (ts.context, FALSE);
  thread = g_thread_new ("408", timeout_server_thread, &ts);
  port = (guint) GPOINTER_TO_INT (g_async_queue_pop (ts.ports));

  uri = g_strdup_printf ("etcd://127.0.0.1:%u,%s/%s", port, etcd_server_endpoints (etcd_test_server),
                         fixture->name);
  sem = sysem_semaphore_new_native (uri, SYSEM_KEY_TYPE_ETCD, 1, SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&ts.answered), >, 0);
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
  g_clear_object (&sem);

  g_main_loop_quit (ts.loop);
  g_thread_join (thread);
  g_main_loop_unref (ts.loop);
  g_main_context_unref (ts.context);
  g_async_queue_unref (ts.ports);
}

/* Hostile input */

static void
test_unreachable (EtcdFixture *fixture)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *dead = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *both = NULL;
  guint port;

  /* A port nobody listens on. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_clear_object (&socket);
  dead = g_strdup_printf ("127.0.0.1:%u", port);

  uri = g_strdup_printf ("etcd://%s/%s", dead, fixture->name);
  sem = sysem_semaphore_new_native (uri, SYSEM_KEY_TYPE_ETCD, 1, SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_null (sem);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_nonnull (strstr (error->message, dead));
  g_assert_nonnull (strstr (error->message, fixture->name));
  g_clear_error (&error);

  /* The dead one first: the next one answers. */
  both = g_strdup_printf ("etcd://%s,%s/%s", dead, etcd_server_endpoints (etcd_test_server),
                          fixture->name);
  sem = sysem_semaphore_new_native (both, SYSEM_KEY_TYPE_ETCD, 1, SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_no_error (error);
  sysem_test_acquire (sem);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
}

static void
test_foreign_keys (EtcdFixture *fixture)
{
  g_autofree char *prefix = g_strdup_printf ("/sysem/1/%s/", fixture->name);
  g_autofree char *foreign = g_strconcat (prefix, "not-ours", NULL);
  g_autofree char *total = g_strconcat (prefix, "total", NULL);
  const char *garbage[] = { "many", "-1", "99999999999", "", "1.5" };
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;

  /* A key sysem did not make. */
  etcd_server_put (etcd_test_server, foreign, "x");
  for (int mode = SYSEM_ACCESS_MODE_OPEN; mode <= SYSEM_ACCESS_MODE_CREATE; mode++)
    {
      sem = sysem_semaphore_new_native (fixture->uri, SYSEM_KEY_TYPE_ETCD, 1, mode, &error);
      g_assert_null (sem);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_KEY_ERROR, fixture->uri);
      g_assert_nonnull (strstr (error->message, "not-ours"));
      g_clear_error (&error);
    }
  /* It made nothing beside it. */
  g_assert_cmpint (etcd_server_count (etcd_test_server, prefix), ==, 1);
  etcd_server_delete_prefix (etcd_test_server, prefix);

  /* A total that is not a count. */
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    {
      etcd_server_put (etcd_test_server, total, garbage[i]);
      sem = sysem_semaphore_new_native (fixture->uri, SYSEM_KEY_TYPE_ETCD, 1,
                                        SYSEM_ACCESS_MODE_OPEN, &error);
      g_assert_null (sem);
      sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                         SYSEM_SEMAPHORE_ERROR_KEY_ERROR, fixture->uri);
      g_clear_error (&error);
    }

  /* Garbage that appears under an open object. */
  etcd_server_put (etcd_test_server, total, "2");
  sem = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_OPEN);
  sysem_test_assert_value (sem, 2);
  etcd_server_put (etcd_test_server, total, "garbage");
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR,
                                     SYSEM_SEMAPHORE_ERROR_KEY_ERROR, fixture->uri);
  g_clear_error (&error);
  g_assert_false (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_clear_error (&error);
  g_object_unref (sem);

  etcd_server_delete_prefix (etcd_test_server, prefix);
}

/* acquire_async from a main loop */

typedef struct {
  guint   done;
  guint   failed;
} AsyncCount;

static void
async_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncCount *count = user_data;
  g_autoptr(GError) error = NULL;

  if (sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (object), result, &error))
    count->done++;
  else
    count->failed++;
}

static guint
count_dir (const char *path,
           gboolean    sockets)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      if (sockets)
        {
          g_autofree char *link = g_build_filename (path, name, NULL);
          g_autofree char *target = g_file_read_link (link, NULL);

          if (target == NULL || !g_str_has_prefix (target, "socket:"))
            continue;
        }
      n++;
    }
  g_dir_close (dir);
  return n;
}

typedef struct {
  GMainContext *context;
  AsyncCount   *count;
  guint         want;
} AsyncWait;

static gboolean
async_reached (gpointer user_data)
{
  AsyncWait *w = user_data;

  while (g_main_context_iteration (w->context, FALSE))
    ;
  return w->count->done + w->count->failed >= w->want;
}

static void
test_acquire_async (EtcdFixture *fixture)
{
  const guint n = sysem_test_under_valgrind () ? 50 : 1000;
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) other = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_OPEN);
  AsyncCount count = { 0, 0 };
  AsyncWait wait = { g_main_context_default (), &count, 1 };
  guint threads_before, sockets_before;

  /* A free unit: served at once. */
  sysem_semaphore_acquire_async (sem, NULL, async_done_cb, &count);
  sysem_test_wait_for (async_reached, &wait, "the first acquire_async");
  g_assert_cmpuint (count.done, ==, 1);

  /* Many waiting: one thread and one watch among them. */
  threads_before = count_dir ("/proc/self/task", FALSE);
  sockets_before = count_dir ("/proc/self/fd", TRUE);
  for (guint i = 0; i < n; i++)
    sysem_semaphore_acquire_async (sem, NULL, async_done_cb, &count);
  etcd_test_wait_queue (fixture, 2);
  g_assert_cmpuint (count_dir ("/proc/self/task", FALSE), <=, threads_before + 4);
  g_assert_cmpuint (count_dir ("/proc/self/fd", TRUE), <=, sockets_before + 4);

  /* Each release lets one through, in order, while the loop runs. */
  sysem_test_release (other, (int) n);
  wait.want = n + 1;
  sysem_test_wait_for (async_reached, &wait, "the waiting acquire_async requests");
  g_assert_cmpuint (count.done, ==, n + 1);
  g_assert_cmpuint (count.failed, ==, 0);
  sysem_test_assert_value (other, 0);
  sysem_test_release (sem, (int) n + 1);
  sysem_test_assert_value (other, (int) n + 1);
}

/* acquire_async() never waits for etcd in the caller's thread, even for
 * a free unit: with the only member stopped, the call returns, and the
 * request is served once etcd goes on. A try in the caller's thread
 * would have blocked here until the request timed out, then failed. */
static void
test_acquire_async_never_blocks (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  AsyncCount count = { 0, 0 };
  AsyncWait wait = { g_main_context_default (), &count, 1 };

  etcd_server_stop_member (etcd_test_server, 0, SIGSTOP);
  sysem_semaphore_acquire_async (sem, NULL, async_done_cb, &count);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (count.done + count.failed, ==, 0);
  etcd_server_stop_member (etcd_test_server, 0, SIGCONT);

  sysem_test_wait_for (async_reached, &wait, "the acquire_async made while etcd was stopped");
  g_assert_cmpuint (count.done, ==, 1);
  g_assert_cmpuint (count.failed, ==, 0);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
}

/* fork(): the child joins with a lease of its own. */
static void
test_fork (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper = etcd_test_helper (fixture->uri, NULL);

  /* The parent holds one unit of two; its child takes the other. */
  sysem_test_release (sem, 1);
  sysem_test_helper_command (helper, "acquire", "acquiring", "acquired", NULL);
  sysem_test_helper_command (helper, "fork", "child acquired", "forked 0", NULL);
  sysem_test_assert_value (sem, 1);
  /* The parent still holds its unit, and may use its object. */
  etcd_test_helper_say (helper, "release 1", "released");
  sysem_test_assert_value (sem, 2);
  sysem_test_helper_complete (helper, NULL);
}

/* Inspection, keep, gc */

static void
test_inspect (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 3, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemInfo) info = NULL;
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GError) error = NULL;
  gboolean found = FALSE;
  gboolean removed = FALSE;
  SysemStats stats;

  sysem_test_acquire (sem);
  info = sysem_inspect_native (SYSEM_KEY_TYPE_ETCD, fixture->uri, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);
  g_assert_true (info->exists);
  g_assert_cmpint (info->stats.value, ==, 2);
  g_assert_cmpint (info->stats.users, ==, 1);
  g_assert_cmpint (info->state, ==, SYSEM_INSPECT_IN_USE);
  g_assert_false (info->stale);
  g_assert_cmpuint (info->holders->len, ==, 1);
  g_assert_cmpint (g_array_index (info->holders, SysemHolder, 0).units, ==, 1);

  g_assert_true (sysem_semaphore_get_stats (sem, &stats, &error));
  g_assert_cmpint (stats.value, ==, 2);
  g_assert_cmpint (stats.users, ==, 1);

  infos = sysem_inspect_list (SYSEM_KEY_TYPE_ETCD, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < infos->len; i++)
    if (g_str_equal (((SysemInfo *) infos->pdata[i])->name, fixture->uri))
      found = TRUE;
  g_assert_true (found);

  /* In use: gc leaves it. */
  g_assert_false (sysem_inspect_remove (info, TRUE, &removed, &error));
  g_assert_no_error (error);
  g_assert_false (removed);
  sysem_test_release (sem, 1);
  g_clear_pointer (&info, sysem_info_free);

  /* Kept after its last user left: not stale, until removed. */
  g_assert_true (sysem_semaphore_keep (sem, &error));
  g_clear_object (&sem);
  info = sysem_inspect_native (SYSEM_KEY_TYPE_ETCD, fixture->uri, &error);
  g_assert_nonnull (info);
  g_assert_false (info->stale);
  g_assert_cmpint (info->stats.value, ==, 3);
  g_assert_false (sysem_inspect_remove (info, TRUE, &removed, &error));
  g_assert_true (sysem_inspect_remove (info, FALSE, &removed, &error));
  g_assert_no_error (error);
  g_assert_true (removed);
  g_clear_pointer (&info, sysem_info_free);

  /* What a crashed last user leaves (total only): stale, and gc takes it. */
  {
    g_autofree char *total = g_strdup_printf ("/sysem/1/%s/total", fixture->name);

    etcd_server_put (etcd_test_server, total, "4");
    info = sysem_inspect_native (SYSEM_KEY_TYPE_ETCD, fixture->uri, &error);
    g_assert_nonnull (info);
    g_assert_true (info->stale);
    g_assert_cmpint (info->state, ==, SYSEM_INSPECT_LEASE_EXPIRED);
    g_assert_true (sysem_inspect_remove (info, TRUE, &removed, &error));
    g_assert_no_error (error);
    g_assert_true (removed);
  }

  /* Nothing there: NULL, no error. */
  g_clear_pointer (&info, sysem_info_free);
  info = sysem_inspect_native (SYSEM_KEY_TYPE_ETCD, fixture->uri, &error);
  g_assert_no_error (error);
  g_assert_null (info);
}

int
main (int    argc,
      char **argv)
{
  etcd_test_init (&argc, &argv, 1);

  etcd_test_add ("/etcd/key/native", test_native_key);
  etcd_test_add ("/etcd/key/string", test_string_key);
  etcd_test_add ("/etcd/key/bad-uris", test_bad_uris);
  etcd_test_add ("/etcd/scenarios/basicacquire", test_basic_acquire);
  etcd_test_add ("/etcd/scenarios/complexacquire", test_complex_acquire);
  etcd_test_add ("/etcd/scenarios/release", test_release);
  etcd_test_add ("/etcd/scenarios/basicProcesses", test_basic_processes);
  etcd_test_add ("/etcd/scenarios/processes/1", test_processes_1);
  etcd_test_add ("/etcd/scenarios/processes/3", test_processes_3);
  etcd_test_add ("/etcd/scenarios/processes/10", test_processes_10);
  etcd_test_add ("/etcd/scenarios/initialValue", test_initial_value);
  etcd_test_add ("/etcd/scenarios/twoSemaphores", test_two_semaphores);
  etcd_test_add ("/etcd/scenarios/set-key", test_set_key);
  etcd_test_add ("/etcd/open-vs-create", test_open_vs_create);
  etcd_test_add ("/etcd/try-acquire-timeout", test_try_acquire_timeout);
  etcd_test_add ("/etcd/cancel", test_cancel);
  etcd_test_add ("/etcd/cancel-race", test_cancel_race);
  etcd_test_add ("/etcd/deadline-race", test_deadline_race);
  etcd_test_add ("/etcd/release-beyond-initial", test_release_beyond_initial);
  etcd_test_add ("/etcd/fifo", test_fifo);
  etcd_test_add ("/etcd/remove-under-waiter", test_remove_under_waiter);
  etcd_test_add ("/etcd/no-polling", test_no_polling);
  etcd_test_add ("/etcd/processes/count-never-exceeded", test_count_never_exceeded);
  etcd_test_add ("/etcd/hostile/unreachable", test_unreachable);
  etcd_test_add ("/etcd/hostile/foreign-keys", test_foreign_keys);
  etcd_test_add ("/etcd/hostile/request-timeout", test_request_timeout);
  etcd_test_add ("/etcd/async/main-loop", test_acquire_async);
  etcd_test_add ("/etcd/async/never-blocks-the-loop", test_acquire_async_never_blocks);
  etcd_test_add ("/etcd/fork", test_fork);
  etcd_test_add ("/etcd/inspect", test_inspect);

  return etcd_test_run ();
}
