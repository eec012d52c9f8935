/* test-etcd-cluster.c: a three-member cluster on loopback
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The objects name all three members; the leader is killed while
 * processes take turns and one waits: acquires and releases go on
 * through the others, and the count is right at the end. */

#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "etcd-test.h"

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

static void
test_leader_killed (EtcdFixture *fixture)
{
  const int slots = 2;
  const guint n_helpers = 3;
  g_autoptr(SysemSemaphore) sem = etcd_test_open (fixture->uri, slots, SYSEM_ACCESS_MODE_CREATE);
  g_autoptr(SysemSemaphore) waiter = etcd_test_open (fixture->uri, 0, SYSEM_ACCESS_MODE_OPEN);
  g_autoptr(GPtrArray) helpers = g_ptr_array_new ();
  g_autofree char *counter = g_build_filename (g_get_tmp_dir (), "sysemtest-etcd-counter-XXXXXX", NULL);
  g_autofree char *max = g_strdup_printf ("%d", slots);
  Blocked b = { waiter, FALSE, NULL };
  GThread *thread;
  guint leader;
  int fd = g_mkstemp (counter);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, sizeof (gint)), ==, 0);
  close (fd);

  /* We hold both units; the waiter waits behind. */
  sysem_test_acquire (sem);
  sysem_test_acquire (sem);
  thread = g_thread_new ("blocked", blocked_thread, &b);
  etcd_test_wait_queue (fixture, 3);

  for (guint i = 0; i < n_helpers; i++)
    {
      SysemTestHelper *helper = etcd_test_helper (fixture->uri, "--counter", counter, "--max", max,
                                                  NULL);

      sysem_test_helper_send (helper, "rounds 20");
      g_ptr_array_add (helpers, helper);
    }

  /* Let one unit go; then kill the leader while everyone works. */
  sysem_test_release (sem, 1);
  leader = etcd_server_leader (etcd_test_server);
  etcd_server_stop_member (etcd_test_server, leader, SIGKILL);

  sysem_test_release (sem, 1);
  for (guint i = 0; i < n_helpers; i++)
    sysem_test_helper_complete (helpers->pdata[i], "done");
  g_thread_join (thread);
  g_assert_no_error (b.error);
  g_assert_true (b.ok);

  /* The cluster with two members: still one count. */
  sysem_test_assert_value (sem, 1);
  sysem_test_release (waiter, 1);
  sysem_test_assert_value (sem, 2);

  /* And with the member back. */
  etcd_server_start_member (etcd_test_server, leader);
  sysem_test_acquire (sem);
  sysem_test_release (sem, 1);
  g_unlink (counter);
}

int
main (int    argc,
      char **argv)
{
  etcd_test_init (&argc, &argv, 3);

  etcd_test_add ("/etcd/cluster/leader-killed", test_leader_killed);

  return etcd_test_run ();
}
