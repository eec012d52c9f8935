/* test-etcd-leases.c: crashes, pauses and restarts, with short leases
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Leases of 3 s here (SYSEM_ETCD_TTL; etcd grants at least 2 s). No test
 * sleeps to let a lease expire: each waits for what the expiry does (a
 * unit coming back), with the suite's deadline. */

#include "config.h"

#include <signal.h>
#include <string.h>

#include "etcd-test.h"

#define TTL 3

/* A holder killed: its unit comes back when its lease expires. */
static void
test_sigkill_holder (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);

  for (guint round = 0; round < 2; round++)
    {
      SysemTestHelper *helper = etcd_test_helper (fixture->uri, NULL);

      sysem_test_helper_command (helper, "acquire", "acquiring", "acquired", NULL);
      sysem_test_assert_value (sem, 0);
      g_assert_cmpint (sysem_test_helper_kill (helper), ==, 128 + SIGKILL);
      sysem_test_helper_free (helper);

      /* A waiter of ours gets it, woken by the watch. */
      sysem_test_acquire (sem);
      sysem_test_release (sem, 1);
      etcd_test_wait_count (fixture, "users/", 1);
    }
  sysem_test_assert_value (sem, 1);
}

/* A holder paused past its TTL: its unit goes to others, and when it
 * goes on it must not believe it still holds it. */
static void
test_sigstop_holder (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper = etcd_test_helper (fixture->uri, NULL);
  g_autofree char *not_found = g_strdup_printf ("error %s %d",
                                                g_quark_to_string (SYSEM_SEMAPHORE_ERROR),
                                                SYSEM_SEMAPHORE_ERROR_NOT_FOUND);

  sysem_test_helper_command (helper, "acquire", "acquiring", "acquired", NULL);
  kill (sysem_test_helper_get_pid (helper), SIGSTOP);

  /* Blocks until etcd lets the paused helper's lease go. */
  sysem_test_acquire (sem);
  kill (sysem_test_helper_get_pid (helper), SIGCONT);

  /* Every call of the paused object fails, saying why. */
  sysem_test_helper_command (helper, "release 1", not_found, NULL);
  sysem_test_helper_command (helper, "value", not_found, NULL);
  sysem_test_helper_command (helper, "acquire", "acquiring", not_found, NULL);
  sysem_test_helper_complete (helper, NULL);

  /* The released unit was never counted twice. */
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
  sysem_test_assert_value (sem, 1);
}

/* What `sysem info` shows: one holder per lease, with its units. */
static void
test_holders (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 2, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper = etcd_test_helper (fixture->uri, NULL);
  g_autoptr(SysemInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  sysem_test_helper_command (helper, "acquire", "acquiring", "acquired", NULL);
  sysem_test_acquire (sem);

  info = sysem_inspect_native (SYSEM_KEY_TYPE_ETCD, fixture->uri, &error);
  g_assert_no_error (error);
  g_assert_nonnull (info);
  g_assert_true (info->crash_safe);
  g_assert_cmpint (info->stats.users, ==, 2);
  g_assert_cmpint (info->stats.value, ==, 0);
  g_assert_cmpuint (info->holders->len, ==, 2);
  for (guint i = 0; i < info->holders->len; i++)
    {
      SysemHolder *h = &g_array_index (info->holders, SysemHolder, i);

      g_assert_cmpint (h->units, ==, 1);
      g_assert_true (h->user);
      g_assert_true (h->alive);
    }

  sysem_test_release (sem, 1);
  sysem_test_helper_complete (helper, NULL);
}

/* A lease outlives many TTLs while its process runs: the keepalives. */
static void
test_keepalive (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  SysemTestHelper *helper = etcd_test_helper (fixture->uri, NULL);
  g_autofree char *wait = g_strdup_printf ("try %d", 3 * TTL * G_USEC_PER_SEC);

  sysem_test_acquire (sem);
  /* The helper waits three TTLs for our unit, in vain. */
  sysem_test_helper_command (helper, wait, "timeout", NULL);
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
  sysem_test_helper_command (helper, "acquire", "acquiring", "acquired", NULL);
  sysem_test_helper_complete (helper, NULL);
  sysem_test_assert_value (sem, 1);
}

typedef struct {
  SysemSemaphore *sem;
  gboolean        ok;
  GError         *error;
} Blocked;

static gpointer
blocked_thread (gpointer data)
{
  Blocked *b = data;

  b->ok = sysem_semaphore_acquire (b->sem, NULL, &b->error);
  return NULL;
}

/* etcd stopped and started again within the TTL: the client carries on,
 * a waiter included. */
static void
test_restart (EtcdFixture *fixture)
{
  SysemSemaphore *sem, *waiter;
  Blocked b = { NULL, FALSE, NULL };
  GThread *thread;

  /* Long enough for a restart on a busy machine. */
  g_setenv ("SYSEM_ETCD_TTL", "30", TRUE);
  sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  waiter = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_OPEN);
  g_setenv ("SYSEM_ETCD_TTL", G_STRINGIFY (TTL), TRUE);

  sysem_test_acquire (sem);
  b.sem = waiter;
  thread = g_thread_new ("blocked", blocked_thread, &b);
  etcd_test_wait_queue (fixture, 2);

  for (guint round = 0; round < 2; round++)
    {
      etcd_server_stop_member (etcd_test_server, 0, round == 0 ? SIGTERM : SIGKILL);
      etcd_server_start_member (etcd_test_server, 0);
    }

  /* Our unit is still ours, the waiter still waits. */
  sysem_test_assert_value (sem, 0);
  sysem_test_release (sem, 1);
  g_thread_join (thread);
  g_assert_no_error (b.error);
  g_assert_true (b.ok);
  sysem_test_assert_no_unit (sem);
  sysem_test_release (waiter, 1);
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);

  g_object_unref (waiter);
  g_object_unref (sem);
}

/* etcd gone for good: calls fail with G_IO_ERROR naming the endpoint, and
 * once the lease cannot be proven alive, with the lease error. */
static void
test_server_gone (EtcdFixture *fixture)
{
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, 1, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(GError) error = NULL;
  const char *endpoint = etcd_server_member_endpoint (etcd_test_server, 0);
  int value;

  sysem_test_acquire (sem);
  etcd_server_stop_member (etcd_test_server, 0, SIGKILL);

  value = sysem_semaphore_get_value (sem, &error);
  g_assert_cmpint (value, ==, -1);
  g_assert_nonnull (error);
  if (error->domain == G_IO_ERROR)
    g_assert_nonnull (strstr (error->message, endpoint));
  else
    g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* By now the lease is past proving. */
  g_assert_false (sysem_semaphore_release (sem, 1, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "lease"));
  g_clear_error (&error);

  etcd_server_start_member (etcd_test_server, 0);
  /* Still refused: it cannot know what it held. */
  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&sem);

  /* Its lease expired in etcd too; the last user's close could not
   * know, so total is stale: what gc is for. */
  {
    g_autoptr(SysemInfo) info = NULL;
    gboolean removed = FALSE;

    info = sysem_inspect_native (SYSEM_KEY_TYPE_ETCD, fixture->uri, &error);
    g_assert_no_error (error);
    if (info != NULL)
      {
        g_assert_true (info->stale);
        g_assert_true (sysem_inspect_remove (info, TRUE, &removed, &error));
        g_assert_no_error (error);
      }
  }
}

int
main (int    argc,
      char **argv)
{
  g_setenv ("SYSEM_ETCD_TTL", G_STRINGIFY (TTL), TRUE);
  etcd_test_init (&argc, &argv, 1);

  etcd_test_add ("/etcd/lease/sigkill-holder", test_sigkill_holder);
  etcd_test_add ("/etcd/lease/sigstop-holder", test_sigstop_holder);
  etcd_test_add ("/etcd/lease/holders", test_holders);
  etcd_test_add ("/etcd/lease/keepalive", test_keepalive);
  etcd_test_add ("/etcd/lease/restart", test_restart);
  etcd_test_add ("/etcd/lease/server-gone", test_server_gone);

  return etcd_test_run ();
}
