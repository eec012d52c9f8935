/* sysem-tool-acquire.c: `sysem acquire` and `sysem release`
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <unistd.h>

#include <glib/gi18n-lib.h>

#include "sysem-tool.h"

/* ---------------------------------------------------------------------- */
/* acquire */

int
handle_acquire (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SysemToolKey) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *opt_timeout = NULL;
  SysemSemaphore *sem;
  gint64 timeout;
  gboolean ok;
  GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &opt_timeout,
      N_("Wait at most SECONDS for a unit (default: forever)"), N_("SECONDS") },
    G_OPTION_ENTRY_NULL
  };

  context = sysem_tool_context_new (_("KEY"),
                                    _("Takes one unit of the semaphore of KEY, waiting for one if needed.\n"
                                      "A System V unit is given back when sysem exits; use “sysem run”\n"
                                      "to hold one while a command runs, or --posix."),
                                    entries, SYSEM_TOOL_OPTIONS_KEY_TYPE);
  if (!sysem_tool_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (!sysem_tool_expect_key (0))
    return EXIT_USAGE;
  if (!sysem_tool_parse_timeout (opt_timeout, &timeout))
    return EXIT_USAGE;

  key = sysem_tool_key_new (opt_rest[0]);
  if (key == NULL || !sysem_tool_check_exists (key))
    return EXIT_FAILED;

  sem = sysem_tool_open (key, 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  if (timeout < 0)
    ok = sysem_semaphore_acquire (sem, NULL, &error);
  else
    ok = sysem_semaphore_try_acquire (sem, timeout, NULL, &error);
  sysem_tool_finish (sem);

  if (sysem_tool_is_timeout (ok, error))
    {
      /* Translators: %s is a key */
      sysem_tool_error (_("No unit of “%s” became free in time"), key->key);
      return EXIT_TIMEOUT;
    }
  if (!ok)
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  if (key->key_type == SYSEM_KEY_TYPE_SYSTEM_V && isatty (STDERR_FILENO))
    sysem_tool_error ("%s", _("note: the kernel gives a System V unit back when sysem exits; "
                              "use “sysem run” to hold it while a command runs"));
  else if (key->key_type == SYSEM_TOOL_KEY_TYPE_ETCD && isatty (STDERR_FILENO))
    sysem_tool_error ("%s", _("note: an etcd unit goes back when sysem exits, with its lease; "
                              "use “sysem run” to hold it while a command runs"));

  return EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* release */

int
handle_release (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SysemToolKey) key = NULL;
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;
  int n = 1;
  gboolean ok;
  int status;

  context = sysem_tool_context_new (_("KEY [N]"),
                                    _("Gives N units (default: 1) to the semaphore of KEY."),
                                    NULL, SYSEM_TOOL_OPTIONS_KEY_TYPE);
  status = sysem_tool_parse_key_command (context, &argc, &argv, 1, &key);
  if (status != EXIT_OK)
    return status;
  if (sysem_tool_n_rest () == 2 &&
      !sysem_tool_parse_count ("N", opt_rest[1], 0, sysem_tool_key_max (key), &n))
    return EXIT_USAGE;

  if (!sysem_tool_check_exists (key))
    return EXIT_FAILED;

  sem = sysem_tool_open (key, 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  ok = sysem_semaphore_release (sem, n, &error);
  sysem_tool_finish (sem);
  if (!ok)
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  return EXIT_OK;
}
