/* etcd-run.c: runs a command beside a real etcd of its own
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Usage: etcd-run COMMAND [ARG…]
 *
 * Starts etcd (etcd-fixture.c), runs COMMAND with SYSEM_ETCD_ENDPOINTS
 * naming it, and then checks that nothing is left under /sysem/. Exits
 * with COMMAND's status, or 1 if it left keys behind. For the tests in
 * Python, GJS and Vala, and of the tool. */

#include "config.h"

#include <stdio.h>

#include "etcd-fixture.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) child = NULL;
  EtcdServer *server;
  int status;

  if (argc < 2)
    {
      fprintf (stderr, "usage: etcd-run COMMAND [ARG…]\n");
      return 2;
    }

  server = etcd_server_new (1);
  g_setenv ("SYSEM_ETCD_ENDPOINTS", etcd_server_endpoints (server), TRUE);

  child = g_subprocess_newv ((const char * const *) argv + 1, G_SUBPROCESS_FLAGS_NONE, &error);
  if (child == NULL)
    {
      fprintf (stderr, "etcd-run: %s\n", error->message);
      etcd_server_free (server);
      return 1;
    }
  g_subprocess_wait (child, NULL, &error);
  status = g_subprocess_get_if_exited (child) ? g_subprocess_get_exit_status (child) : 1;

  /* Fails the run, naming them, if keys were left. */
  etcd_server_assert_clean (server);
  etcd_server_free (server);
  return status;
}
