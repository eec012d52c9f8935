/* sysem-tool-list.c: `sysem list` and `sysem info`
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "sysem-tool.h"

/* ---------------------------------------------------------------------- */
/* list */

/* Pads a cell to a width counted in characters, not bytes. */
static void
append_cell (GString    *line,
             const char *text,
             guint       width,
             gboolean    last)
{
  guint len = g_utf8_strlen (text, -1);

  g_string_append (line, text);
  if (!last)
    {
      for (guint i = len; i < width + 2; i++)
        g_string_append_c (line, ' ');
    }
}

enum {
  COL_TYPE,
  COL_VALUE,
  COL_WAITERS,
  COL_USERS,
  COL_PID,
  COL_MODE,
  COL_OWNER,
  COL_STATE,
  COL_NAME,
  N_COLS
};

static void
print_table (GPtrArray *infos)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  guint widths[N_COLS] = { 0 };
  char **header = g_new0 (char *, N_COLS + 1);

  /* Translators: column headings of `sysem list`; keep them short */
  header[COL_TYPE] = g_strdup (_("TYPE"));
  header[COL_VALUE] = g_strdup (_("VALUE"));
  header[COL_WAITERS] = g_strdup (_("WAITERS"));
  header[COL_USERS] = g_strdup (_("USERS"));
  header[COL_PID] = g_strdup (_("LAST PID"));
  header[COL_MODE] = g_strdup (_("MODE"));
  header[COL_OWNER] = g_strdup (_("OWNER"));
  header[COL_STATE] = g_strdup (_("STATE"));
  header[COL_NAME] = g_strdup (_("NAME"));
  g_ptr_array_add (rows, header);

  for (guint i = 0; i < infos->len; i++)
    {
      const SysemInfo *info = g_ptr_array_index (infos, i);
      char **row = g_new0 (char *, N_COLS + 1);

      row[COL_TYPE] = g_strdup (sysem_tool_key_type_short_id (info->stats.key_type));
      row[COL_VALUE] = sysem_tool_number_or_dash (info->stats.value);
      row[COL_WAITERS] = sysem_tool_number_or_dash (info->stats.waiters);
      row[COL_USERS] = sysem_tool_users_string (info);
      row[COL_PID] = sysem_tool_number_or_dash (info->stats.last_pid);
      /* etcd has no modes nor owners of its own keys. */
      row[COL_MODE] = info->stats.key_type == SYSEM_TOOL_KEY_TYPE_ETCD
        ? g_strdup ("-") : sysem_tool_mode_string (info->stats.mode);
      row[COL_OWNER] = info->stats.key_type == SYSEM_TOOL_KEY_TYPE_ETCD
        ? g_strdup ("-") : sysem_tool_owner_string (info->stats.uid);
      row[COL_STATE] = g_strdup (SYSEM_PRIVATE_CALL (state_label) (info->state));
      row[COL_NAME] = g_utf8_make_valid (info->name, -1);
      g_ptr_array_add (rows, row);
    }

  for (guint r = 0; r < rows->len; r++)
    {
      char **row = g_ptr_array_index (rows, r);

      for (guint c = 0; c < N_COLS; c++)
        widths[c] = MAX (widths[c], (guint) g_utf8_strlen (row[c], -1));
    }

  for (guint r = 0; r < rows->len; r++)
    {
      char **row = g_ptr_array_index (rows, r);
      g_autoptr(GString) line = g_string_new (NULL);

      for (guint c = 0; c < N_COLS; c++)
        append_cell (line, row[c], widths[c], c == N_COLS - 1);
      g_print ("%s\n", line->str);
    }
}

/* Only the names, one a line: for scripts and for bash completion. */
static void
print_names (GPtrArray *infos)
{
  for (guint i = 0; i < infos->len; i++)
    {
      const SysemInfo *info = g_ptr_array_index (infos, i);

      g_print ("%s\n", info->name);
    }
}

int
handle_list (int    argc,
             char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GPtrArray) infos = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *type_id = NULL;
  SysemKeyType key_type;
  gboolean names = FALSE;
  GOptionEntry entries[] = {
    { "type", 0, 0, G_OPTION_ARG_STRING, &type_id,
      N_("Only semaphores of TYPE: systemv, posix or etcd (at SYSEM_ETCD_ENDPOINTS)"), N_("TYPE") },
    { "names", 0, 0, G_OPTION_ARG_NONE, &names,
      N_("Print only the names, one a line"), NULL },
    G_OPTION_ENTRY_NULL
  };

  context = sysem_tool_context_new (_("[etcd://HOST:PORT[,HOST:PORT…]]"),
                                    _("Lists every System V and POSIX semaphore that sysem or Qt\n"
                                      "programs made, with its value, waiters, users and state.\n"
                                      "With an etcd URI, the semaphores held in that etcd cluster."),
                                    entries, SYSEM_TOOL_OPTIONS_JSON);
  if (!sysem_tool_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (sysem_tool_n_rest () == 1 && g_str_has_prefix (opt_rest[0], SYSEM_TOOL_ETCD_PREFIX))
    {
      if (!sysem_tool_etcd_use_endpoints (opt_rest[0]))
        return EXIT_USAGE;
      g_free (type_id);
      type_id = g_strdup ("etcd");
    }
  else if (sysem_tool_n_rest () > 0)
    return sysem_tool_usage_error (_("Unexpected argument “%s”"), opt_rest[0]);
  if (names && opt_json)
    return sysem_tool_usage_error ("%s", _("--names and --json cannot be used together"));
  if (type_id != NULL && !sysem_tool_key_type_from_id (type_id, &key_type))
    return EXIT_USAGE;

  infos = sysem_tool_list (type_id != NULL ? (int) key_type : -1, &error);
  if (infos == NULL)
    {
      sysem_tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  if (opt_json)
    sysem_tool_print_json_infos (infos);
  else if (names)
    print_names (infos);
  else if (infos->len > 0)
    print_table (infos);

  return EXIT_OK;
}

/* ---------------------------------------------------------------------- */
/* info */

static void
print_field (const char *label,
             const char *value)
{
  guint len = g_utf8_strlen (label, -1);

  g_print ("%s", label);
  for (guint i = len; i < 16; i++)
    g_print (" ");
  g_print ("%s\n", value);
}

static void
print_set (const SysemInfo *info)
{
  g_autofree char *ipc_key = g_strdup_printf ("0x%08x", (guint) info->ipc_key);

  print_field (_("IPC key:"), ipc_key);
  if (info->stats.id >= 0)
    {
      g_autofree char *id = g_strdup_printf ("%d", info->stats.id);
      /* Translators: how a System V set was made: by sysem (with a
       * user count) or by Qt (a single semaphore) */
      const char *made_by = info->stats.n_sems >= 2 ? _("sysem set") : _("Qt set");
      g_autofree char *set = info->stats.n_sems >= 0
        ? g_strdup_printf ("%s (%s)", id, made_by) : g_strdup (id);

      print_field (_("Set id:"), set);
    }
}

/* The ledger of the processes that hold units or have the semaphore open
 * (POSIX semaphores made by sysem 1.1). */
static void
print_holders (GArray *holders)
{
  if (holders->len == 0)
    {
      /* Translators: the holders of a semaphore in `sysem info` */
      print_field (_("Holders:"), _("none"));
      return;
    }

  for (guint i = 0; i < holders->len; i++)
    {
      const SysemHolder *holder = &g_array_index (holders, SysemHolder, i);
      g_autoptr(GString) line = g_string_new (NULL);

      g_string_append_printf (line, "%" G_GINT64_FORMAT " (%s), ", holder->pid,
                              /* Translators: whether a holder's process is running */
                              holder->alive ? _("running") : _("gone"));
      g_string_append_printf (line,
                              /* Translators: units a process holds, in `sysem info` */
                              g_dngettext (GETTEXT_PACKAGE, "%d unit", "%d units",
                                           (gulong) MAX (holder->units, 0)),
                              holder->units);
      if (holder->user)
        {
          g_string_append (line, ", ");
          /* Translators: a holder that has the semaphore open, in `sysem info` */
          g_string_append (line, _("has it open"));
        }

      print_field (i == 0 ? _("Holders:") : "", line->str);
    }
}

static void
print_info (const SysemInfo *info,
            const char      *key)
{
  g_autofree char *value = sysem_tool_number_or_dash (info->stats.value);
  g_autofree char *waiters = sysem_tool_number_or_dash (info->stats.waiters);
  g_autofree char *users = sysem_tool_users_string (info);
  g_autofree char *perms = sysem_tool_mode_string (info->stats.mode);
  g_autofree char *owner = sysem_tool_owner_string (info->stats.uid);
  g_autofree char *perms_owner = g_strdup_printf ("%s (%s)", perms, owner);
  g_autofree char *name = g_utf8_make_valid (info->name, -1);
  const char *type = SYSEM_PRIVATE_CALL (key_type_name) (info->stats.key_type);

  /* Translators: labels of `sysem info`; the values start in column 17 */
  print_field (_("Key:"), key);
  print_field (_("Type:"), type != NULL ? type : sysem_tool_key_type_id (info->stats.key_type));
  print_field (_("Name:"), name);
  if (info->stats.key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    print_set (info);
  print_field (_("Value:"), value);
  print_field (_("Waiters:"), waiters);
  print_field (_("Users:"), users);
  if (info->foreign_users)
    /* Translators: in `sysem info`: processes that use the semaphore
     * without sysem (sem_open (), Qt) and that sysem cannot count */
    print_field (_("Other users:"), _("yes, not counted"));
  if (info->stats.last_pid >= 0)
    {
      g_autofree char *pid =
        g_strdup_printf ("%d (%s)", info->stats.last_pid,
                         /* Translators: whether the last process is running */
                         info->last_pid_alive ? _("running") : _("gone"));

      print_field (_("Last pid:"), pid);
    }
  if (info->stats.key_type != SYSEM_TOOL_KEY_TYPE_ETCD)
    print_field (_("Permissions:"), perms_owner);
  if (info->stats.changed > 0)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (info->stats.changed);
      g_autofree char *when = dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S") : NULL;

      if (when != NULL)
        print_field (_("Changed:"), when);
    }
  /* Translators: in `sysem info`: whether units of a process that dies
   * come back */
  print_field (_("Crash safe:"), info->crash_safe ? _("yes") : _("no"));
  if (info->holders != NULL)
    print_holders (info->holders);
  print_field (_("State:"), SYSEM_PRIVATE_CALL (state_label) (info->state));
}

int
handle_info (int    argc,
             char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SysemToolKey) key = NULL;
  g_autoptr(SysemInfo) info = NULL;
  int status;

  context = sysem_tool_context_new (_("KEY"),
                                    _("Shows the semaphore of KEY, without opening it."),
                                    NULL, SYSEM_TOOL_OPTIONS_KEY_TYPE | SYSEM_TOOL_OPTIONS_JSON);
  status = sysem_tool_parse_key_command (context, &argc, &argv, 0, &key);
  if (status != EXIT_OK)
    return status;

  info = sysem_tool_find (key);
  if (info == NULL)
    return EXIT_FAILED;

  if (opt_json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      sysem_tool_json_add_info (builder, info, key->key);
      root = json_builder_get_root (builder);
      sysem_tool_print_json (root);
    }
  else
    print_info (info, key->key);

  return EXIT_OK;
}
