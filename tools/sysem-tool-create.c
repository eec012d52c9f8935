/* sysem-tool-create.c: `sysem create`, `sysem remove` and `sysem gc`
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* None of these deletes a file itself: removing goes through the
 * library's inspection surface (SYSEM_PRIVATE_CALL (remove)), whose
 * backends know what sysem made and may delete: never a native key file
 * that was there before. */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "sysem-tool.h"

/* ---------------------------------------------------------------------- */
/* create */

int
handle_create (int    argc,
               char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SysemToolKey) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *opt_count = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  int count = 1;
  GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_STRING, &opt_count,
      N_("The number of units it starts with (default: 1)"), N_("N") },
    G_OPTION_ENTRY_NULL
  };
  int status;

  context = sysem_tool_context_new (_("KEY"),
                                    _("Creates the semaphore of KEY with N units, or sets an existing\n"
                                      "one to N. It stays until “sysem remove”."),
                                    entries, SYSEM_TOOL_OPTIONS_KEY_TYPE);
  status = sysem_tool_parse_key_command (context, &argc, &argv, 0, &key);
  if (status != EXIT_OK)
    return status;
  if (opt_count != NULL &&
      !sysem_tool_parse_count ("--count", opt_count, 0, sysem_tool_key_max (key), &count))
    return EXIT_USAGE;

  sem = sysem_tool_open (key, count, SYSEM_ACCESS_MODE_CREATE, &error);
  if (sem == NULL)
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  /* Keep the semaphore after we exit, until `sysem remove`. */
  if (!SYSEM_PRIVATE_CALL (keep) (sem, &error))
    {
      /* Translators: the first %s is a key, the second why */
      sysem_tool_error (_("Could not keep the semaphore “%s”: %s"), key->key, error->message);
      return EXIT_FAILED;
    }

  sysem_tool_keep_open (g_steal_pointer (&sem));
  return EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* remove */

int
handle_remove (int    argc,
               char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SysemToolKey) key = NULL;
  g_autoptr(SysemInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  gboolean removed_object;
  int status;

  context = sysem_tool_context_new (_("KEY"),
                                    _("Removes the semaphore of KEY at once, and its key file. Processes\n"
                                      "that use it get an error."),
                                    NULL, SYSEM_TOOL_OPTIONS_KEY_TYPE);
  status = sysem_tool_parse_key_command (context, &argc, &argv, 0, &key);
  if (status != EXIT_OK)
    return status;

  info = sysem_tool_find (key);
  if (info == NULL)
    return EXIT_FAILED;

  /* Messages name the key as the user gave it. */
  g_free (info->name);
  info->name = g_strdup (key->key);

  if (!SYSEM_PRIVATE_CALL (remove) (info, FALSE, &removed_object, &error))
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  return EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* gc */

/* Adds the entries of @keys to @infos; FALSE after a message if a key was
 * bad. A key with nothing behind it is no error: nothing to collect. */
static gboolean
find_given (char      **keys,
            GPtrArray  *infos)
{
  gboolean ok = TRUE;

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(SysemToolKey) key = NULL;
      g_autoptr(GError) error = NULL;
      SysemInfo *info;

      /* etcd://HOST:PORT: every semaphore in that cluster. */
      if (sysem_tool_etcd_is_cluster (keys[i]))
        {
          g_autoptr(GPtrArray) all = NULL;

          if (!sysem_tool_etcd_use_endpoints (keys[i]))
            {
              ok = FALSE;
              continue;
            }
          all = sysem_tool_list (SYSEM_TOOL_KEY_TYPE_ETCD, &error);
          if (all == NULL)
            {
              sysem_tool_error ("%s", error->message);
              ok = FALSE;
              continue;
            }
          for (guint k = 0; k < all->len; k++)
            g_ptr_array_add (infos, g_steal_pointer (&all->pdata[k]));
          continue;
        }

      key = sysem_tool_key_new (keys[i]);
      if (key == NULL)
        {
          ok = FALSE;
          continue;
        }

      info = SYSEM_PRIVATE_CALL (inspect) (key->key_type, key->native_key, &error);
      if (info != NULL)
        g_ptr_array_add (infos, info);
      else if (error != NULL)
        {
          sysem_tool_error ("%s", error->message);
          ok = FALSE;
        }
    }

  return ok;
}

/* A ledger that names dead processes with units: recoverable, or (when
 * KEYs were given, which `info` reads) given back by that look already. */
static gboolean
has_dead_holders (const SysemInfo *info)
{
  if (info->holders == NULL)
    return FALSE;

  for (guint i = 0; i < info->holders->len; i++)
    {
      const SysemHolder *holder = &g_array_index (info->holders, SysemHolder, i);

      if (!holder->alive && holder->units > 0)
        return TRUE;
    }

  return FALSE;
}

int
handle_gc (int    argc,
           char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GPtrArray) done = g_ptr_array_new ();
  gboolean dry_run = FALSE;
  int status = EXIT_OK;
  GOptionEntry entries[] = {
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run,
      N_("Only show what would be removed"), NULL },
    G_OPTION_ENTRY_NULL
  };

  context = sysem_tool_context_new (_("[KEY…]"),
                                    _("Removes stale semaphores and key files: those that no running\n"
                                      "process uses, left by crashed sysem or Qt programs. With KEYs,\n"
                                      "looks only at those; etcd://HOST:PORT is every semaphore in\n"
                                      "that etcd cluster."),
                                    entries,
                                    SYSEM_TOOL_OPTIONS_KEY_TYPE | SYSEM_TOOL_OPTIONS_JSON);
  if (!sysem_tool_parse (context, &argc, &argv))
    return EXIT_USAGE;

  if (sysem_tool_n_rest () == 0)
    {
      g_autoptr(GError) error = NULL;

      if (opt_posix || opt_native)
        return sysem_tool_usage_error ("%s", _("--posix and --native need a KEY"));

      infos = sysem_tool_list (-1, &error);
      if (infos == NULL)
        {
          sysem_tool_error ("%s", error->message);
          return EXIT_FAILED;
        }
    }
  else
    {
      infos = g_ptr_array_new_with_free_func ((GDestroyNotify) SYSEM_PRIVATE_CALL (info_free));
      if (!find_given (opt_rest, infos))
        status = EXIT_FAILED;
    }

  for (guint i = 0; i < infos->len; i++)
    {
      SysemInfo *info = g_ptr_array_index (infos, i);
      g_autofree char *name = g_utf8_make_valid (info->name, -1);
      const char *why = SYSEM_PRIVATE_CALL (state_label) (info->state);
      g_autoptr(GError) error = NULL;
      gboolean removed_object = FALSE;
      gboolean recover = info->state == SYSEM_INSPECT_RECOVERABLE || has_dead_holders (info);

      /* In use, but dead holders' units can come back: gc gives them
       * back and leaves the semaphore. */
      if (!info->stale && !recover)
        continue;

      if (dry_run)
        {
          g_ptr_array_add (done, info);
          if (opt_json)
            continue;
          if (recover)
            /* Translators: %s is a semaphore name */
            g_print (_("Would give back the units of dead holders of %s\n"), name);
          else
            /* Translators: the first %s is a file or semaphore name, the
             * second why it is stale */
            g_print (_("Would remove %s (%s)\n"), name, why);
          continue;
        }

      /* Looks again, and removes only if it is still stale. */
      if (SYSEM_PRIVATE_CALL (remove) (info, TRUE, &removed_object, &error))
        {
          g_ptr_array_add (done, info);
          if (opt_json)
            ;
          else if (recover && !removed_object)
            /* Translators: %s is a semaphore name */
            g_print (_("Gave back the units of dead holders of %s\n"), name);
          else
            /* Translators: the first %s is a file or semaphore name, the
             * second why it was stale */
            g_print (_("Removed %s (%s)\n"), name, why);
        }
      else if (error != NULL)
        {
          sysem_tool_error ("%s", error->message);
          status = EXIT_FAILED;
        }
    }

  if (opt_json)
    sysem_tool_print_json_infos (done);

  return status;
}
