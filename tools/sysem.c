/* sysem.c: the sysem command-line tool
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>

#include "sysem-semaphore.h"
#include "sysem-i18n-private.h"
#include "sysem-inspect-private.h"

/* Exit statuses; the manual page lists them. */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,        /* the operation failed, or no such semaphore */
  EXIT_USAGE = 2,         /* bad arguments */
  EXIT_TIMEOUT = 75,      /* EX_TEMPFAIL: no unit within --timeout */
  EXIT_RUN_FAILED = 125,  /* `run`: sysem itself failed */
  EXIT_CANNOT_EXEC = 126, /* `run`: COMMAND was found but could not run */
  EXIT_NOT_FOUND = 127,   /* `run`: COMMAND was not found */
};

/* Options that every command takes. */
static gboolean opt_posix;
static gboolean opt_native;
static gboolean opt_json;

/* Options of single commands. */
static char *opt_count;
static char *opt_timeout;
static char *opt_slots;
static gboolean opt_dry_run;
static char **opt_rest;

/* A semaphore the tool leaves open on purpose when it exits (see
 * tool_finish ()). */
static SysemSemaphore *kept_semaphore;

static const char *command_name = "";

static GOptionEntry key_type_entries[] = {
  { "posix", 'p', 0, G_OPTION_ARG_NONE, &opt_posix,
    N_("Use a POSIX semaphore instead of a System V one"), NULL },
  { "native", 0, 0, G_OPTION_ARG_NONE, &opt_native,
    N_("KEY is a native key: the key file for System V, the name for POSIX"), NULL },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry json_option_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
    N_("Print JSON for scripts"), NULL },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry create_entries[] = {
  { "count", 'n', 0, G_OPTION_ARG_STRING, &opt_count,
    N_("The number of units it starts with (default: 1)"), N_("N") },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry acquire_entries[] = {
  { "timeout", 't', 0, G_OPTION_ARG_STRING, &opt_timeout,
    N_("Wait at most SECONDS for a unit (default: forever)"), N_("SECONDS") },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry gc_entries[] = {
  { "dry-run", 0, 0, G_OPTION_ARG_NONE, &opt_dry_run,
    N_("Only show what would be removed"), NULL },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry run_entries[] = {
  { "slots", 'n', 0, G_OPTION_ARG_STRING, &opt_slots,
    N_("How many commands may run at once, if the semaphore is new (default: 1)"), N_("N") },
  { "timeout", 't', 0, G_OPTION_ARG_STRING, &opt_timeout,
    N_("Wait at most SECONDS for a slot (default: forever)"), N_("SECONDS") },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry rest_entries[] = {
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_rest, NULL, NULL },
  G_OPTION_ENTRY_NULL
};

/* ---------------------------------------------------------------------- */
/* Messages */

static void G_GNUC_PRINTF (1, 2)
tool_error (const char *format,
            ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("sysem: %s\n", message);
}

static int G_GNUC_PRINTF (1, 2)
tool_usage_error (const char *format,
                  ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("sysem %s: %s\n", command_name, message);
  /* Translators: %s is a command such as "list" */
  g_printerr (_("Try “sysem %s --help” for more information."), command_name);
  g_printerr ("\n");

  return EXIT_USAGE;
}

/* ---------------------------------------------------------------------- */
/* Arguments */

static gboolean
parse_count (const char  *option,
             const char  *text,
             gint64       min,
             gint64       max,
             int         *out)
{
  gint64 value;

  if (!g_ascii_string_to_signed (text, 10, min, max, &value, NULL))
    {
      g_autofree char *low = g_strdup_printf ("%" G_GINT64_FORMAT, min);
      g_autofree char *high = g_strdup_printf ("%" G_GINT64_FORMAT, max);

      /* Translators: the first %s is what the user typed, the second an
       * option or argument such as "--slots"; the last two are limits. */
      tool_usage_error (_("“%s” is not a valid value for %s: give a whole number from %s to %s"),
                        text, option, low, high);
      return FALSE;
    }

  *out = (int) value;
  return TRUE;
}

/* A timeout in seconds, fractions allowed; -1 means none given. */
static gboolean
parse_timeout (const char *text,
               gint64     *usec)
{
  char *end = NULL;
  double seconds;

  *usec = -1;
  if (text == NULL)
    return TRUE;

  errno = 0;
  seconds = g_ascii_strtod (text, &end);
  if (*text == '\0' || end == NULL || *end != '\0' || errno != 0 ||
      !isfinite (seconds) || seconds < 0 || seconds > 1e9)
    {
      /* Translators: %s is what the user typed after --timeout */
      tool_usage_error (_("“%s” is not a valid timeout: give a number of seconds, such as 2.5"),
                        text);
      return FALSE;
    }

  *usec = (gint64) ceil (seconds * G_USEC_PER_SEC);
  return TRUE;
}

static SysemKeyType
key_type (void)
{
  return opt_posix ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V;
}

static int
key_max_value (void)
{
  return sysem_inspect_key_type_max (key_type ());
}

static const char *
key_type_label (SysemKeyType type)
{
  return sysem_inspect_key_type_name (type);
}

/* Every semaphore of every key type that can be listed, System V first. */
static GPtrArray *
tool_list_all (GError **error)
{
  g_autoptr(GPtrArray) all = NULL;
  const SysemKeyType types[] = { SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_KEY_TYPE_POSIX };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(GPtrArray) some = sysem_inspect_list (types[i], error);

      if (some == NULL)
        return NULL;
      if (all == NULL)
        all = g_steal_pointer (&some);
      else
        g_ptr_array_extend_and_steal (all, g_steal_pointer (&some));
    }

  return g_steal_pointer (&all);
}

/* The native key for KEY, as the library would derive it. */
static char *
resolve_native (const char  *key,
                GError     **error)
{
  char *native = NULL;

  if (opt_native)
    {
      if (!sysem_inspect_key_check_native (key, key_type (), &native, error))
        return NULL;
    }
  else if (!sysem_inspect_key_derive (key, key_type (), &native, error))
    return NULL;

  return native;
}

/* What is there for KEY, or NULL with a message. */
static SysemInfo *
find_existing (const char *key)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *native = resolve_native (key, &error);
  SysemInfo *entry;

  if (native == NULL)
    {
      tool_error ("%s", error->message);
      return NULL;
    }

  entry = sysem_inspect_native (key_type (), native, &error);
  if (entry == NULL)
    {
      if (error != NULL)
        tool_error ("%s", error->message);
      else if (opt_posix)
        /* Translators: %s is a key */
        tool_error (_("There is no POSIX semaphore with the key “%s”"), key);
      else
        /* Translators: %s is a key */
        tool_error (_("There is no System V semaphore with the key “%s”"), key);
    }

  return entry;
}

/* Like find_existing (), but the kernel semaphore itself must be there. */
static gboolean
check_exists (const char *key)
{
  g_autoptr(SysemInfo) entry = find_existing (key);

  if (entry == NULL)
    return FALSE;

  if (!entry->exists)
    {
      /* Translators: %s is a key */
      tool_error (_("There is no semaphore with the key “%s”, only a stale key file"), key);
      return FALSE;
    }

  if (entry->state == SYSEM_INSPECT_NOT_A_SEMAPHORE)
    {
      /* Translators: %s is a key */
      tool_error (_("The file of the key “%s” in /dev/shm is not a semaphore"), key);
      return FALSE;
    }

  return TRUE;
}

static SysemSemaphore *
open_semaphore (const char       *key,
                int               initial_value,
                SysemAccessMode   mode,
                GError          **error)
{
  if (opt_native)
    return sysem_semaphore_new_native (key, key_type (), initial_value, mode, error);

  return sysem_semaphore_new_full (key, key_type (), initial_value, mode, error);
}

/* Closing a POSIX semaphore that this process created unlinks it (Qt's
 * rule); a System V one leaves its user count. The tool is short-lived
 * and must never make a POSIX semaphore vanish under the commands of
 * another `sysem run`, so it keeps POSIX objects until it exits. */
static void
tool_finish (SysemSemaphore *sem)
{
  if (sem == NULL)
    return;

  if (sysem_semaphore_get_key_type (sem) == SYSEM_KEY_TYPE_POSIX)
    {
      g_clear_object (&kept_semaphore);
      kept_semaphore = sem;
    }
  else
    g_object_unref (sem);
}

/* ---------------------------------------------------------------------- */
/* Output */

static char *
mode_string (guint mode)
{
  char s[10];

  s[0] = mode & 0400 ? 'r' : '-';
  s[1] = mode & 0200 ? 'w' : '-';
  s[2] = mode & 0100 ? 'x' : '-';
  s[3] = mode & 0040 ? 'r' : '-';
  s[4] = mode & 0020 ? 'w' : '-';
  s[5] = mode & 0010 ? 'x' : '-';
  s[6] = mode & 0004 ? 'r' : '-';
  s[7] = mode & 0002 ? 'w' : '-';
  s[8] = mode & 0001 ? 'x' : '-';
  s[9] = '\0';

  return g_strdup (s);
}

static char *
owner_string (guint uid)
{
  struct passwd *pw = getpwuid ((uid_t) uid);

  if (pw != NULL && pw->pw_name != NULL)
    return g_strdup (pw->pw_name);

  return g_strdup_printf ("%u", uid);
}

static char *
number_or_dash (int value)
{
  return value < 0 ? g_strdup ("-") : g_strdup_printf ("%d", value);
}

static char *
users_string (const SysemInfo *entry)
{
  if (entry->stats.users < 0)
    return g_strdup ("-");
  if (!entry->users_exact)
    return g_strdup_printf ("≥%d", entry->stats.users);

  return g_strdup_printf ("%d", entry->stats.users);
}

static void
json_string (GString    *out,
             const char *text)
{
  g_autofree char *valid = NULL;

  if (text == NULL)
    {
      g_string_append (out, "null");
      return;
    }

  /* JSON is UTF-8: a name with other bytes is shown with U+FFFD. */
  valid = g_utf8_make_valid (text, -1);

  g_string_append_c (out, '"');
  for (const char *p = valid; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

static void
json_int_or_null (GString *out,
                  gint64   value)
{
  if (value < 0)
    g_string_append (out, "null");
  else
    g_string_append_printf (out, "%" G_GINT64_FORMAT, value);
}

static void
json_entry (GString              *out,
            const SysemInfo *entry,
            const char           *key)
{
  g_autofree char *owner = owner_string (entry->stats.uid);
  g_autofree char *perms = mode_string (entry->stats.mode);
  gboolean sysv = entry->stats.key_type == SYSEM_KEY_TYPE_SYSTEM_V;

  g_string_append (out, "{");
  if (key != NULL)
    {
      g_string_append (out, "\"key\": ");
      json_string (out, key);
      g_string_append (out, ", ");
    }
  g_string_append_printf (out, "\"type\": \"%s\", ", sysv ? "systemv" : "posix");
  g_string_append (out, "\"name\": ");
  json_string (out, entry->name);
  g_string_append (out, ", \"path\": ");
  json_string (out, entry->path);
  g_string_append_printf (out, ", \"exists\": %s", entry->exists ? "true" : "false");
  g_string_append (out, ", \"ipc_key\": ");
  if (sysv)
    g_string_append_printf (out, "%d", entry->ipc_key);
  else
    g_string_append (out, "null");
  g_string_append (out, ", \"id\": ");
  json_int_or_null (out, entry->stats.id);
  g_string_append (out, ", \"sems\": ");
  json_int_or_null (out, entry->stats.n_sems);
  g_string_append (out, ", \"value\": ");
  json_int_or_null (out, entry->stats.value);
  g_string_append (out, ", \"waiters\": ");
  json_int_or_null (out, entry->stats.waiters);
  g_string_append (out, ", \"users\": ");
  json_int_or_null (out, entry->stats.users);
  g_string_append_printf (out, ", \"users_exact\": %s", entry->users_exact ? "true" : "false");
  g_string_append (out, ", \"last_pid\": ");
  json_int_or_null (out, entry->stats.last_pid);
  if (entry->stats.last_pid >= 0)
    g_string_append_printf (out, ", \"last_pid_alive\": %s",
                            entry->last_pid_alive ? "true" : "false");
  else
    g_string_append (out, ", \"last_pid_alive\": null");
  g_string_append_printf (out, ", \"mode\": %u, \"permissions\": \"%s\", \"uid\": %u, \"owner\": ",
                          entry->stats.mode, perms, entry->stats.uid);
  json_string (out, owner);
  g_string_append (out, ", \"changed\": ");
  json_int_or_null (out, entry->stats.changed > 0 ? entry->stats.changed : -1);
  g_string_append_printf (out, ", \"stale\": %s, \"state\": \"%s\"}",
                          entry->stale ? "true" : "false",
                          sysem_inspect_state_name (entry->state));
}

static void
json_entries (GString   *out,
              GPtrArray *entries)
{
  g_string_append (out, "[");
  for (guint i = 0; i < entries->len; i++)
    {
      g_string_append (out, i == 0 ? "\n  " : ",\n  ");
      json_entry (out, g_ptr_array_index (entries, i), NULL);
    }
  g_string_append (out, entries->len > 0 ? "\n]\n" : "]\n");
}

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
print_table (GPtrArray *entries)
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

  for (guint i = 0; i < entries->len; i++)
    {
      const SysemInfo *entry = g_ptr_array_index (entries, i);
      char **row = g_new0 (char *, N_COLS + 1);

      row[COL_TYPE] = g_strdup (entry->stats.key_type == SYSEM_KEY_TYPE_POSIX ? "posix" : "sysv");
      row[COL_VALUE] = number_or_dash (entry->stats.value);
      row[COL_WAITERS] = number_or_dash (entry->stats.waiters);
      row[COL_USERS] = users_string (entry);
      row[COL_PID] = number_or_dash (entry->stats.last_pid);
      row[COL_MODE] = mode_string (entry->stats.mode);
      row[COL_OWNER] = owner_string (entry->stats.uid);
      row[COL_STATE] = g_strdup (sysem_inspect_state_label (entry->state));
      row[COL_NAME] = g_utf8_make_valid (entry->name, -1);
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

/* ---------------------------------------------------------------------- */
/* Option parsing */

static GOptionContext *
command_context (const char   *parameters,
                 const char   *summary,
                 GOptionEntry *entries,
                 gboolean      with_key_type,
                 gboolean      with_json)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (with_key_type)
    g_option_context_add_main_entries (context, key_type_entries, GETTEXT_PACKAGE);
  if (with_json)
    g_option_context_add_main_entries (context, json_option_entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, rest_entries, GETTEXT_PACKAGE);

  return context;
}

static gboolean
command_parse (GOptionContext   *context,
               int              *argc,
               char           ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      tool_usage_error ("%s", error->message);
      return FALSE;
    }

  return TRUE;
}

static guint
n_rest (void)
{
  return opt_rest == NULL ? 0 : g_strv_length (opt_rest);
}

/* Exactly one KEY, and at most max_extra arguments after it. */
static gboolean
expect_key (guint max_extra)
{
  if (n_rest () == 0)
    {
      tool_usage_error ("%s", _("No KEY given"));
      return FALSE;
    }

  if (n_rest () > 1 + max_extra)
    {
      /* Translators: %s is an argument the user gave */
      tool_usage_error (_("Unexpected argument “%s”"), opt_rest[1 + max_extra]);
      return FALSE;
    }

  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Commands */

static int
command_list (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;

  context = command_context ("",
                             _("Lists every System V and POSIX semaphore that sysem or Qt\n"
                               "programs made, with its value, waiters, users and state."),
                             NULL, FALSE, TRUE);
  if (!command_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (n_rest () > 0)
    return tool_usage_error (_("Unexpected argument “%s”"), opt_rest[0]);

  entries = tool_list_all (&error);
  if (entries == NULL)
    {
      tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  if (opt_json)
    {
      g_autoptr(GString) out = g_string_new (NULL);

      json_entries (out, entries);
      g_print ("%s", out->str);
    }
  else if (entries->len > 0)
    print_table (entries);

  return EXIT_OK;
}

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

static int
command_info (int    argc,
              char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SysemInfo) entry = NULL;

  context = command_context (_("KEY"),
                             _("Shows the semaphore of KEY, without opening it."),
                             NULL, TRUE, TRUE);
  if (!command_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (!expect_key (0))
    return EXIT_USAGE;

  entry = find_existing (opt_rest[0]);
  if (entry == NULL)
    return EXIT_FAILED;

  if (opt_json)
    {
      g_autoptr(GString) out = g_string_new (NULL);

      json_entry (out, entry, opt_rest[0]);
      g_print ("%s\n", out->str);
    }
  else
    {
      g_autofree char *value = number_or_dash (entry->stats.value);
      g_autofree char *waiters = number_or_dash (entry->stats.waiters);
      g_autofree char *users = users_string (entry);
      g_autofree char *perms = mode_string (entry->stats.mode);
      g_autofree char *owner = owner_string (entry->stats.uid);
      g_autofree char *perms_owner = g_strdup_printf ("%s (%s)", perms, owner);
      g_autofree char *name = g_utf8_make_valid (entry->name, -1);

      /* Translators: labels of `sysem info`; the values start in column 17 */
      print_field (_("Key:"), opt_rest[0]);
      print_field (_("Type:"), key_type_label (entry->stats.key_type));
      print_field (_("Name:"), name);
      if (entry->stats.key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        {
          g_autofree char *ipc_key = g_strdup_printf ("0x%08x", (guint) entry->ipc_key);

          print_field (_("IPC key:"), ipc_key);
          if (entry->stats.id >= 0)
            {
              g_autofree char *id = g_strdup_printf ("%d", entry->stats.id);
              /* Translators: how a System V set was made: by sysem (with a
               * user count) or by Qt (a single semaphore) */
              const char *made_by = entry->stats.n_sems >= 2 ? _("sysem set") : _("Qt set");
              g_autofree char *set = entry->stats.n_sems >= 0
                ? g_strdup_printf ("%s (%s)", id, made_by) : g_strdup (id);

              print_field (_("Set id:"), set);
            }
        }
      print_field (_("Value:"), value);
      print_field (_("Waiters:"), waiters);
      print_field (_("Users:"), users);
      if (entry->stats.last_pid >= 0)
        {
          g_autofree char *pid =
            g_strdup_printf ("%d (%s)", entry->stats.last_pid,
                             /* Translators: whether the last process is running */
                             entry->last_pid_alive ? _("running") : _("gone"));

          print_field (_("Last pid:"), pid);
        }
      print_field (_("Permissions:"), perms_owner);
      if (entry->stats.changed > 0)
        {
          g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (entry->stats.changed);
          g_autofree char *when = dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S") : NULL;

          if (when != NULL)
            print_field (_("Changed:"), when);
        }
      print_field (_("State:"), sysem_inspect_state_label (entry->state));
    }

  return EXIT_OK;
}

static int
command_create (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;
  int count = 1;

  context = command_context (_("KEY"),
                             _("Creates the semaphore of KEY with N units, or sets an existing\n"
                               "one to N. It stays until “sysem remove”."),
                             create_entries, TRUE, FALSE);
  if (!command_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (!expect_key (0))
    return EXIT_USAGE;
  if (opt_count != NULL && !parse_count ("--count", opt_count, 0, key_max_value (), &count))
    return EXIT_USAGE;

  sem = open_semaphore (opt_rest[0], count, SYSEM_ACCESS_MODE_CREATE, &error);
  if (sem == NULL)
    {
      tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  /* Keep the semaphore after we exit, until `sysem remove`. */
  if (!sysem_semaphore_keep (sem, &error))
    {
      tool_error (_("Could not keep the semaphore “%s”: %s"), opt_rest[0], error->message);
      g_object_unref (sem);
      return EXIT_FAILED;
    }

  kept_semaphore = sem;
  return EXIT_OK;
}

static int
command_acquire (int    argc,
                 char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;
  gint64 timeout;
  gboolean ok;

  context = command_context (_("KEY"),
                             _("Takes one unit of the semaphore of KEY, waiting for one if needed.\n"
                               "A System V unit is given back when sysem exits; use “sysem run”\n"
                               "to hold one while a command runs, or --posix."),
                             acquire_entries, TRUE, FALSE);
  if (!command_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (!expect_key (0))
    return EXIT_USAGE;
  if (!parse_timeout (opt_timeout, &timeout))
    return EXIT_USAGE;

  if (!check_exists (opt_rest[0]))
    return EXIT_FAILED;

  sem = open_semaphore (opt_rest[0], 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  if (timeout < 0)
    ok = sysem_semaphore_acquire (sem, NULL, &error);
  else
    ok = sysem_semaphore_try_acquire (sem, timeout, NULL, &error);

  if (!ok)
    {
      tool_finish (sem);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          tool_error ("%s", error->message);
          return EXIT_FAILED;
        }
      /* Translators: %s is a key */
      tool_error (_("No unit of “%s” became free in time"), opt_rest[0]);
      return EXIT_TIMEOUT;
    }

  if (!opt_posix && isatty (STDERR_FILENO))
    tool_error ("%s", _("note: the kernel gives a System V unit back when sysem exits; "
                        "use “sysem run” to hold it while a command runs"));

  tool_finish (sem);
  return EXIT_OK;
}

static int
command_release (int    argc,
                 char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;
  int n = 1;

  context = command_context (_("KEY [N]"),
                             _("Gives N units (default: 1) to the semaphore of KEY."),
                             NULL, TRUE, FALSE);
  if (!command_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (!expect_key (1))
    return EXIT_USAGE;
  if (n_rest () == 2 && !parse_count ("N", opt_rest[1], 0, key_max_value (), &n))
    return EXIT_USAGE;

  if (!check_exists (opt_rest[0]))
    return EXIT_FAILED;

  sem = open_semaphore (opt_rest[0], 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  if (!sysem_semaphore_release (sem, n, &error))
    {
      tool_error ("%s", error->message);
      tool_finish (sem);
      return EXIT_FAILED;
    }

  tool_finish (sem);
  return EXIT_OK;
}

static int
command_remove (int    argc,
                char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(SysemInfo) entry = NULL;
  g_autoptr(GError) error = NULL;
  gboolean removed_set;

  context = command_context (_("KEY"),
                             _("Removes the semaphore of KEY at once, and its key file. Processes\n"
                               "that use it get an error."),
                             NULL, TRUE, FALSE);
  if (!command_parse (context, &argc, &argv))
    return EXIT_USAGE;
  if (!expect_key (0))
    return EXIT_USAGE;

  entry = find_existing (opt_rest[0]);
  if (entry == NULL)
    return EXIT_FAILED;

  /* Messages name the key as the user gave it. */
  g_free (entry->name);
  entry->name = g_strdup (opt_rest[0]);

  if (!sysem_inspect_remove (entry, FALSE, &removed_set, &error))
    {
      tool_error ("%s", error->message);
      return EXIT_FAILED;
    }

  return EXIT_OK;
}

static int
command_gc (int    argc,
            char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) done = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  int status = EXIT_OK;

  context = command_context (_("[KEY…]"),
                             _("Removes stale semaphores and key files: those that no running\n"
                               "process uses, left by crashed sysem or Qt programs. With KEYs,\n"
                               "looks only at those."),
                             gc_entries, TRUE, TRUE);
  if (!command_parse (context, &argc, &argv))
    return EXIT_USAGE;

  if (n_rest () == 0)
    {
      if (opt_posix || opt_native)
        return tool_usage_error ("%s", _("--posix and --native need a KEY"));

      entries = tool_list_all (&error);
      if (entries == NULL)
        {
          tool_error ("%s", error->message);
          return EXIT_FAILED;
        }
    }
  else
    {
      entries = g_ptr_array_new_with_free_func ((GDestroyNotify) sysem_info_free);
      for (guint i = 0; opt_rest[i] != NULL; i++)
        {
          g_autofree char *native = resolve_native (opt_rest[i], &error);
          SysemInfo *entry;

          if (native == NULL)
            {
              tool_error ("%s", error->message);
              g_clear_error (&error);
              status = EXIT_FAILED;
              continue;
            }

          entry = sysem_inspect_native (key_type (), native, &error);
          if (entry != NULL)
            g_ptr_array_add (entries, entry);
          else if (error != NULL)
            {
              tool_error ("%s", error->message);
              g_clear_error (&error);
              status = EXIT_FAILED;
            }
        }
    }

  for (guint i = 0; i < entries->len; i++)
    {
      SysemInfo *entry = g_ptr_array_index (entries, i);
      g_autofree char *name = g_utf8_make_valid (entry->name, -1);
      gboolean removed_set;

      if (!entry->stale)
        continue;

      if (opt_dry_run)
        {
          g_ptr_array_add (done, entry);
          if (!opt_json)
            /* Translators: the first %s is a file or semaphore name, the
             * second why it is stale */
            g_print (_("Would remove %s (%s)\n"), name, sysem_inspect_state_label (entry->state));
          continue;
        }

      if (sysem_inspect_remove (entry, TRUE, &removed_set, &error))
        {
          g_ptr_array_add (done, entry);
          if (!opt_json)
            /* Translators: the first %s is a file or semaphore name, the
             * second why it was stale */
            g_print (_("Removed %s (%s)\n"), name, sysem_inspect_state_label (entry->state));
        }
      else if (error != NULL)
        {
          tool_error ("%s", error->message);
          g_clear_error (&error);
          status = EXIT_FAILED;
        }
    }

  if (opt_json)
    {
      g_autoptr(GString) out = g_string_new (NULL);

      json_entries (out, done);
      g_print ("%s", out->str);
    }

  return status;
}

static const int run_forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* Signals that were ignored when sysem started (SIGINT and SIGQUIT in a
 * background job of a shell script): they stay ignored, for sysem and for
 * the command. */
static sigset_t run_ignored_signals;

static void
run_note_ignored_signals (void)
{
  sigemptyset (&run_ignored_signals);
  for (guint i = 0; i < G_N_ELEMENTS (run_forwarded_signals); i++)
    {
      struct sigaction old;

      if (sigaction (run_forwarded_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
        sigaddset (&run_ignored_signals, run_forwarded_signals[i]);
    }
}

/* `run`: the wait for a slot runs in a main loop, so that a signal or the
 * timeout can cancel it without losing a unit. */
typedef struct {
  GMainLoop *loop;
  GCancellable *cancellable;
  gboolean acquired;
  gboolean timed_out;
  int signal;
  GError *error;
} RunWait;

static void
run_acquired_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  RunWait *wait = user_data;

  wait->acquired = sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static gboolean
run_timeout_cb (gpointer user_data)
{
  RunWait *wait = user_data;

  wait->timed_out = TRUE;
  g_cancellable_cancel (wait->cancellable);
  return G_SOURCE_REMOVE;
}

static gboolean
run_signal_cb (gpointer user_data)
{
  RunWait *wait = user_data;

  g_cancellable_cancel (wait->cancellable);
  return G_SOURCE_CONTINUE;
}

static gboolean
run_sigint_cb (gpointer user_data)
{
  ((RunWait *) user_data)->signal = SIGINT;
  return run_signal_cb (user_data);
}

static gboolean
run_sigterm_cb (gpointer user_data)
{
  ((RunWait *) user_data)->signal = SIGTERM;
  return run_signal_cb (user_data);
}

static gboolean
run_sighup_cb (gpointer user_data)
{
  ((RunWait *) user_data)->signal = SIGHUP;
  return run_signal_cb (user_data);
}

/* Waits for a unit: EXIT_OK once taken, else the status to exit with. */
static int
run_wait_for_slot (SysemSemaphore *sem,
                   const char     *key,
                   gint64          timeout)
{
  RunWait wait = { 0 };
  guint sources[4] = { 0 };

  if (timeout == 0)
    {
      g_autoptr(GError) error = NULL;

      if (sysem_semaphore_try_acquire (sem, 0, NULL, &error))
        return EXIT_OK;
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          tool_error ("%s", error->message);
          return EXIT_RUN_FAILED;
        }
      /* Translators: %s is a key */
      tool_error (_("No slot of “%s” became free in time"), key);
      return EXIT_TIMEOUT;
    }

  wait.loop = g_main_loop_new (NULL, FALSE);
  wait.cancellable = g_cancellable_new ();

  if (!sigismember (&run_ignored_signals, SIGINT))
    sources[0] = g_unix_signal_add (SIGINT, run_sigint_cb, &wait);
  if (!sigismember (&run_ignored_signals, SIGTERM))
    sources[1] = g_unix_signal_add (SIGTERM, run_sigterm_cb, &wait);
  if (!sigismember (&run_ignored_signals, SIGHUP))
    sources[2] = g_unix_signal_add (SIGHUP, run_sighup_cb, &wait);
  if (timeout > 0)
    sources[3] = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                     (guint) MIN ((timeout + 999) / 1000, G_MAXUINT),
                                     run_timeout_cb, &wait, NULL);

  sysem_semaphore_acquire_async (sem, wait.cancellable, run_acquired_cb, &wait);
  g_main_loop_run (wait.loop);

  /* Removing the last watch of a signal gives it back its default action. */
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    if (sources[i] != 0 && !(i == 3 && wait.timed_out))
      g_source_remove (sources[i]);

  g_main_loop_unref (wait.loop);
  g_object_unref (wait.cancellable);

  if (wait.acquired)
    return EXIT_OK;

  if (wait.error != NULL &&
      !(g_error_matches (wait.error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
        (wait.signal != 0 || wait.timed_out)))
    {
      tool_error ("%s", wait.error->message);
      g_error_free (wait.error);
      return EXIT_RUN_FAILED;
    }
  g_clear_error (&wait.error);

  if (wait.signal != 0)
    return 128 + wait.signal;

  tool_error (_("No slot of “%s” became free in time"), key);
  return EXIT_TIMEOUT;
}

/* While the command runs, signals arrive through a pipe. */
static int run_signal_pipe[2] = { -1, -1 };

typedef struct {
  int signo;
  int code;
  int pid;
} RunSignal;

static void
run_signal_handler (int        signo,
                    siginfo_t *info,
                    void      *context)
{
  int errsv = errno;
  RunSignal msg = { signo, info->si_code, info->si_pid };
  ssize_t res G_GNUC_UNUSED;

  res = write (run_signal_pipe[1], &msg, sizeof msg);
  errno = errsv;
}

/* Runs the command; returns the status to exit with. */
static int
run_command (char **command)
{
  int status_pipe[2];
  struct sigaction action = { 0 };
  sigset_t blocked, old_mask;
  pid_t parent = getpid ();
  int exec_errno = 0;
  int wait_status = 0;
  ssize_t got;
  pid_t pid;

  if (!g_unix_open_pipe (run_signal_pipe, FD_CLOEXEC, NULL) ||
      !g_unix_set_fd_nonblocking (run_signal_pipe[0], TRUE, NULL) ||
      !g_unix_set_fd_nonblocking (run_signal_pipe[1], TRUE, NULL) ||
      !g_unix_open_pipe (status_pipe, FD_CLOEXEC, NULL))
    {
      tool_error (_("Could not run “%s”: %s"), command[0], g_strerror (errno));
      return EXIT_RUN_FAILED;
    }

  sigemptyset (&blocked);
  sigaddset (&blocked, SIGCHLD);
  for (guint i = 0; i < G_N_ELEMENTS (run_forwarded_signals); i++)
    sigaddset (&blocked, run_forwarded_signals[i]);
  sigprocmask (SIG_BLOCK, &blocked, &old_mask);

  action.sa_sigaction = run_signal_handler;
  action.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
  sigemptyset (&action.sa_mask);
  sigaction (SIGCHLD, &action, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (run_forwarded_signals); i++)
    if (!sigismember (&run_ignored_signals, run_forwarded_signals[i]))
      sigaction (run_forwarded_signals[i], &action, NULL);

  pid = fork ();
  if (pid == 0)
    {
      struct sigaction dfl = { 0 };
      int errsv;

      dfl.sa_handler = SIG_DFL;
      sigemptyset (&dfl.sa_mask);
      sigaction (SIGCHLD, &dfl, NULL);
      for (guint i = 0; i < G_N_ELEMENTS (run_forwarded_signals); i++)
        if (!sigismember (&run_ignored_signals, run_forwarded_signals[i]))
          sigaction (run_forwarded_signals[i], &dfl, NULL);

      /* If sysem is killed, its slot is given back: the command must not
       * go on running without one. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent)
        _exit (EXIT_RUN_FAILED);

      sigprocmask (SIG_SETMASK, &old_mask, NULL);
      sigprocmask (SIG_UNBLOCK, &blocked, NULL);
      execvp (command[0], command);

      errsv = errno;
      got = write (status_pipe[1], &errsv, sizeof errsv);
      _exit (errsv == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
    }

  close (status_pipe[1]);

  if (pid == -1)
    {
      int errsv = errno;

      close (status_pipe[0]);
      sigprocmask (SIG_SETMASK, &old_mask, NULL);
      tool_error (_("Could not run “%s”: %s"), command[0], g_strerror (errsv));
      return EXIT_RUN_FAILED;
    }

  sigprocmask (SIG_SETMASK, &old_mask, NULL);
  sigprocmask (SIG_UNBLOCK, &blocked, NULL);

  /* EOF: the command runs. An errno: it could not be started. */
  do
    got = read (status_pipe[0], &exec_errno, sizeof exec_errno);
  while (got == -1 && errno == EINTR);
  close (status_pipe[0]);
  if (got == sizeof exec_errno)
    tool_error (_("Could not run “%s”: %s"), command[0], g_strerror (exec_errno));

  for (;;)
    {
      struct pollfd pfd = { run_signal_pipe[0], POLLIN, 0 };
      RunSignal msg;
      pid_t res;

      res = waitpid (pid, &wait_status, WNOHANG);
      if (res == pid)
        break;
      if (res == -1 && errno != EINTR)
        {
          tool_error (_("Could not wait for “%s”: %s"), command[0], g_strerror (errno));
          wait_status = EXIT_RUN_FAILED << 8;
          break;
        }

      if (poll (&pfd, 1, -1) == -1)
        continue;

      while (read (run_signal_pipe[0], &msg, sizeof msg) == sizeof msg)
        {
          /* A signal sent by a process (kill) is passed on. One that the
           * terminal sent reached the command by itself. */
          if (msg.signo != SIGCHLD && msg.code <= 0 && msg.pid != pid)
            kill (pid, msg.signo);
        }
    }

  if (got == sizeof exec_errno)
    return exec_errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
  if (WIFEXITED (wait_status))
    return WEXITSTATUS (wait_status);
  if (WIFSIGNALED (wait_status))
    return 128 + WTERMSIG (wait_status);

  return EXIT_RUN_FAILED;
}

static int
command_run (int    argc,
             char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) command = NULL;
  SysemSemaphore *sem;
  gint64 timeout;
  int slots = 1;
  int split = -1;
  int status;

  context = command_context (_("KEY -- COMMAND [ARGUMENT…]"),
                             _("Runs COMMAND while holding one unit of the semaphore of KEY, so that\n"
                               "at most N commands with the same KEY run at once. The exit status is\n"
                               "the command's."),
                             run_entries, TRUE, FALSE);

  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--"))
      {
        split = i;
        break;
      }

  if (split != -1)
    {
      command = g_strdupv (argv + split + 1);
      argv[split] = NULL;
      argc = split;
    }
  else
    {
      /* Without "--", options come first and the command follows KEY. */
      g_option_context_set_strict_posix (context, TRUE);
    }

  if (!command_parse (context, &argc, &argv))
    return EXIT_RUN_FAILED;

  if (n_rest () == 0)
    {
      tool_usage_error ("%s", _("No KEY given"));
      return EXIT_RUN_FAILED;
    }

  if (split == -1)
    command = g_strdupv (opt_rest + 1);
  else if (n_rest () > 1)
    {
      tool_usage_error (_("Unexpected argument “%s”"), opt_rest[1]);
      return EXIT_RUN_FAILED;
    }

  if (command == NULL || command[0] == NULL)
    {
      tool_usage_error ("%s", _("No COMMAND given"));
      return EXIT_RUN_FAILED;
    }

  if (opt_slots != NULL && !parse_count ("--slots", opt_slots, 1, key_max_value (), &slots))
    return EXIT_RUN_FAILED;

  run_note_ignored_signals ();
  if (!parse_timeout (opt_timeout, &timeout))
    return EXIT_RUN_FAILED;

  sem = open_semaphore (opt_rest[0], slots, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      tool_error ("%s", error->message);
      return EXIT_RUN_FAILED;
    }

  status = run_wait_for_slot (sem, opt_rest[0], timeout);
  if (status != EXIT_OK)
    {
      tool_finish (sem);
      return status;
    }

  status = run_command (command);

  if (!sysem_semaphore_release (sem, 1, &error))
    tool_error ("%s", error->message);

  tool_finish (sem);
  return status;
}

/* ---------------------------------------------------------------------- */
/* main */

typedef struct {
  const char *name;
  int (* run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "list", command_list, N_("List the semaphores of sysem and Qt programs") },
  { "info", command_info, N_("Show one semaphore") },
  { "create", command_create, N_("Create a semaphore, or reset its count") },
  { "acquire", command_acquire, N_("Take a unit") },
  { "release", command_release, N_("Give units back") },
  { "remove", command_remove, N_("Remove a semaphore at once") },
  { "gc", command_gc, N_("Remove stale semaphores and key files") },
  { "run", command_run, N_("Run a command while holding a unit") },
};

static void
print_main_help (FILE *stream)
{
  fprintf (stream, "%s\n  sysem %s\n\n%s\n", _("Usage:"), _("COMMAND [OPTION…] [ARGUMENT…]"),
           _("Commands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (stream, "  %-9s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (stream, "\n%s\n", _("Run “sysem COMMAND --help” for the options of a command."));
}

static void
setup_i18n (void)
{
  setlocale (LC_ALL, "");
  sysem_i18n_init ();
}

int
main (int    argc,
      char **argv)
{
  const char *name;

  setup_i18n ();

  if (argc < 2)
    {
      g_printerr ("sysem: %s\n", _("No COMMAND given"));
      print_main_help (stderr);
      return EXIT_USAGE;
    }

  name = argv[1];

  if (g_str_equal (name, "--help") || g_str_equal (name, "-h") || g_str_equal (name, "help"))
    {
      if (g_str_equal (name, "help") && argc > 2)
        {
          char *help_argv[] = { argv[0], argv[2], (char *) "--help", NULL };

          return main (3, help_argv);
        }
      print_main_help (stdout);
      return EXIT_OK;
    }

  if (g_str_equal (name, "--version"))
    {
      g_print ("sysem %s\n", PACKAGE_VERSION);
      return EXIT_OK;
    }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      if (g_str_equal (name, commands[i].name))
        {
          g_autofree char *prgname = g_strconcat ("sysem ", name, NULL);
          int status;

          command_name = commands[i].name;
          g_set_prgname (prgname);
          status = commands[i].run (argc - 1, argv + 1);
          g_strfreev (opt_rest);
          g_free (opt_count);
          g_free (opt_timeout);
          g_free (opt_slots);
          return status;
        }
    }

  g_printerr ("sysem: ");
  /* Translators: %s is what the user typed as the command */
  g_printerr (_("Unknown command “%s”"), name);
  g_printerr ("\n");
  print_main_help (stderr);
  return EXIT_USAGE;
}
