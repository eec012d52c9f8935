/* etcd-test.c: what the etcd test programs share
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "etcd-test.h"

EtcdServer *etcd_test_server;

static GPtrArray *registrations;

static void
fixture_set_up (gpointer      data,
                gconstpointer user_data)
{
  EtcdFixture *fixture = data;
  g_autofree char *tag = g_strdup (g_test_get_path () + 1);

  g_strcanon (tag, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS, '-');
  fixture->name = sysem_test_key (tag);
  fixture->uri = etcd_server_uri (etcd_test_server, fixture->name);
}

static void
fixture_run (gpointer      data,
             gconstpointer user_data)
{
  ((EtcdTestFunc) user_data) (data);
}

static void
fixture_tear_down (gpointer      data,
                   gconstpointer user_data)
{
  EtcdFixture *fixture = data;

  etcd_server_assert_clean (etcd_test_server);
  g_free (fixture->name);
  g_free (fixture->uri);
}

void
etcd_test_add (const char   *path,
               EtcdTestFunc  func)
{
  if (registrations == NULL)
    registrations = g_ptr_array_new ();
  g_test_add_vtable (path, sizeof (EtcdFixture), func,
                     fixture_set_up, fixture_run, fixture_tear_down);
}

void
etcd_test_init (int    *argc,
                char ***argv,
                guint   n_members)
{
  g_test_init (argc, argv, NULL);
  etcd_test_server = etcd_server_new (n_members);
  /* String keys, and helpers, find it there. */
  g_setenv ("SYSEM_ETCD_ENDPOINTS", etcd_server_endpoints (etcd_test_server), TRUE);
  /* Killed helpers' leases expire sooner than the default 10 s, but not
   * so soon that a busy machine misses keepalives. */
  if (g_getenv ("SYSEM_ETCD_TTL") == NULL)
    g_setenv ("SYSEM_ETCD_TTL", "5", TRUE);
}

int
etcd_test_run (void)
{
  int status = g_test_run ();

  etcd_server_assert_clean (etcd_test_server);
  g_clear_pointer (&etcd_test_server, etcd_server_free);
  return status;
}

SysemSemaphore *
etcd_test_open (const char      *uri,
                int              initial_value,
                SysemAccessMode  mode)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;

  sem = sysem_semaphore_new_native (uri, SYSEM_KEY_TYPE_ETCD, initial_value, mode, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sem);
  return sem;
}

SysemTestHelper *
etcd_test_helper (const char *uri,
                  ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *path = g_strdup (ETCD_HELPER);
  SysemTestHelper *helper;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, path);
  va_start (args, uri);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, (gpointer) uri);
  g_ptr_array_add (argv, NULL);

  helper = sysem_test_helper_spawn ((const char * const *) argv->pdata);
  sysem_test_helper_expect_line (helper, "opened");
  return helper;
}

void
etcd_test_helper_say (SysemTestHelper *helper,
                      const char      *command,
                      const char      *reply)
{
  sysem_test_helper_command (helper, command, reply, NULL);
}

typedef struct {
  SysemSemaphore *sem;
  int             value;
} ValueWait;

static gboolean
value_is (gpointer user_data)
{
  ValueWait *w = user_data;

  return sysem_test_value (w->sem) == w->value;
}

void
etcd_test_wait_value (SysemSemaphore *sem,
                      int             value)
{
  ValueWait w = { sem, value };

  sysem_test_wait_for (value_is, &w, "the value of the semaphore");
}

typedef struct {
  char  *prefix;
  gint64 n;
} QueueWait;

static gboolean
queue_is (gpointer user_data)
{
  QueueWait *w = user_data;

  return etcd_server_count (etcd_test_server, w->prefix) == w->n;
}

void
etcd_test_wait_count (EtcdFixture *fixture,
                      const char  *part,
                      gint64       n)
{
  QueueWait w = { g_strdup_printf ("/sysem/1/%s/%s", fixture->name, part), n };

  sysem_test_wait_for (queue_is, &w, "keys under the name of the semaphore");
  g_free (w.prefix);
}

void
etcd_test_wait_queue (EtcdFixture *fixture,
                      gint64       n)
{
  etcd_test_wait_count (fixture, "q/", n);
}
