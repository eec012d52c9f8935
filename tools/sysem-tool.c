/* sysem-tool.c: the sysem command-line tool: main, and what commands share
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n-lib.h>

#include "sysem-tool.h"

gboolean opt_posix;
gboolean opt_native;
gboolean opt_json;
char **opt_rest;

/* A semaphore the tool leaves open on purpose when it exits (see
 * sysem_tool_finish ()). */
static SysemSemaphore *kept_semaphore;

static const char *command_name = "";

static GOptionEntry key_type_entries[] = {
  { "posix", 'p', 0, G_OPTION_ARG_NONE, &opt_posix,
    N_("Use a POSIX semaphore instead of a System V one"), NULL },
  { "native", 0, 0, G_OPTION_ARG_NONE, &opt_native,
    N_("KEY is a native key: the key file for System V, the name for POSIX"), NULL },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry json_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
    N_("Print JSON for scripts"), NULL },
  G_OPTION_ENTRY_NULL
};

static GOptionEntry rest_entries[] = {
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_rest, NULL, NULL },
  G_OPTION_ENTRY_NULL
};

/* The key types `list` and `gc` look at, in the order they are shown. */
static const SysemKeyType listed_key_types[] = {
  SYSEM_KEY_TYPE_SYSTEM_V,
  SYSEM_KEY_TYPE_POSIX,
};

/* ---------------------------------------------------------------------- */
/* Messages */

void
sysem_tool_error (const char *format,
                  ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_printerr ("sysem: %s\n", message);
}

int
sysem_tool_usage_error (const char *format,
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
/* Options and arguments */

GOptionContext *
sysem_tool_context_new (const char       *parameters,
                        const char       *summary,
                        GOptionEntry     *entries,
                        SysemToolOptions  options)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, summary);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (options & SYSEM_TOOL_OPTIONS_KEY_TYPE)
    g_option_context_add_main_entries (context, key_type_entries, GETTEXT_PACKAGE);
  if (options & SYSEM_TOOL_OPTIONS_JSON)
    g_option_context_add_main_entries (context, json_entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, rest_entries, GETTEXT_PACKAGE);

  return context;
}

gboolean
sysem_tool_parse (GOptionContext   *context,
                  int              *argc,
                  char           ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      sysem_tool_usage_error ("%s", error->message);
      return FALSE;
    }

  return TRUE;
}

guint
sysem_tool_n_rest (void)
{
  return opt_rest == NULL ? 0 : g_strv_length (opt_rest);
}

/* Exactly one KEY, and at most @max_extra arguments after it. */
gboolean
sysem_tool_expect_key (guint max_extra)
{
  if (sysem_tool_n_rest () == 0)
    {
      sysem_tool_usage_error ("%s", _("No KEY given"));
      return FALSE;
    }

  if (sysem_tool_n_rest () > 1 + max_extra)
    {
      /* Translators: %s is an argument the user gave */
      sysem_tool_usage_error (_("Unexpected argument “%s”"), opt_rest[1 + max_extra]);
      return FALSE;
    }

  return TRUE;
}

/* The start of every command that takes one KEY: parses the options,
 * checks the arguments and resolves the key. EXIT_OK with *@key_out set,
 * or the exit status to return. */
int
sysem_tool_parse_key_command (GOptionContext  *context,
                              int             *argc,
                              char          ***argv,
                              guint            max_extra,
                              SysemToolKey   **key_out)
{
  if (!sysem_tool_parse (context, argc, argv) || !sysem_tool_expect_key (max_extra))
    return EXIT_USAGE;

  *key_out = sysem_tool_key_new (opt_rest[0]);
  return *key_out != NULL ? EXIT_OK : EXIT_FAILED;
}

gboolean
sysem_tool_parse_count (const char *option,
                        const char *text,
                        gint64      min,
                        gint64      max,
                        int        *out)
{
  gint64 value;

  if (!g_ascii_string_to_signed (text, 10, min, max, &value, NULL))
    {
      g_autofree char *low = g_strdup_printf ("%" G_GINT64_FORMAT, min);
      g_autofree char *high = g_strdup_printf ("%" G_GINT64_FORMAT, max);

      /* Translators: the first %s is what the user typed, the second an
       * option or argument such as "--slots"; the last two are limits. */
      sysem_tool_usage_error (_("“%s” is not a valid value for %s: give a whole number from %s to %s"),
                              text, option, low, high);
      return FALSE;
    }

  *out = (int) value;
  return TRUE;
}

/* A timeout in seconds, fractions allowed; -1 means none given. */
gboolean
sysem_tool_parse_timeout (const char *text,
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
      sysem_tool_usage_error (_("“%s” is not a valid timeout: give a number of seconds, such as 2.5"),
                              text);
      return FALSE;
    }

  *usec = (gint64) ceil (seconds * G_USEC_PER_SEC);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Keys and semaphores */

void
sysem_tool_key_free (SysemToolKey *key)
{
  if (key == NULL)
    return;

  g_free (key->key);
  g_free (key->native_key);
  g_free (key);
}

/* Which key type @key selects: an etcd URI is an etcd key, whatever the
 * options say; otherwise --posix chooses. */
static gboolean
choose_key_type (const char    *key,
                 SysemKeyType  *key_type,
                 gboolean      *native)
{
  if (g_str_has_prefix (key, SYSEM_TOOL_ETCD_PREFIX))
    {
      if (opt_posix)
        {
          /* Translators: %s is a key such as etcd://127.0.0.1:2379/builds */
          sysem_tool_error (_("“%s” is an etcd key: it cannot be used with --posix"), key);
          return FALSE;
        }
      if (SYSEM_PRIVATE_CALL (key_type_name) (SYSEM_TOOL_KEY_TYPE_ETCD) == NULL)
        {
          /* Translators: %s is a key such as etcd://127.0.0.1:2379/builds */
          sysem_tool_error (_("“%s” is an etcd key, but this build of sysem has no etcd support"),
                            key);
          return FALSE;
        }
      *key_type = SYSEM_TOOL_KEY_TYPE_ETCD;
      *native = TRUE;
      return TRUE;
    }

  *key_type = opt_posix ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V;
  *native = opt_native;
  return TRUE;
}

/* The key type of @key and its native name, as the library would derive
 * it; NULL with a message. */
SysemToolKey *
sysem_tool_key_new (const char *key)
{
  g_autoptr(SysemToolKey) self = g_new0 (SysemToolKey, 1);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  self->key = g_strdup (key);
  if (!choose_key_type (key, &self->key_type, &self->native))
    return NULL;

  if (self->native)
    ok = SYSEM_PRIVATE_CALL (key_check_native) (key, self->key_type, &self->native_key, &error);
  else
    ok = SYSEM_PRIVATE_CALL (key_derive) (key, self->key_type, &self->native_key, &error);

  if (!ok)
    {
      sysem_tool_error ("%s", error->message);
      return NULL;
    }

  return g_steal_pointer (&self);
}

/* An etcd URI with endpoints and no NAME: a whole cluster, for `list`
 * and `gc`. */
gboolean
sysem_tool_etcd_is_cluster (const char *key)
{
  const char *rest;
  const char *slash;

  if (!g_str_has_prefix (key, SYSEM_TOOL_ETCD_PREFIX))
    return FALSE;

  rest = key + strlen (SYSEM_TOOL_ETCD_PREFIX);
  slash = strchr (rest, '/');
  return slash == NULL || slash[1] == '\0';
}

/* Points the library's etcd listing at the endpoints of @uri
 * ("etcd://HOST:PORT[,HOST:PORT…][/]"), which it finds in
 * SYSEM_ETCD_ENDPOINTS. FALSE after a message. */
gboolean
sysem_tool_etcd_use_endpoints (const char *uri)
{
  const char *rest = uri + strlen (SYSEM_TOOL_ETCD_PREFIX);
  const char *slash = strchr (rest, '/');
  g_autofree char *endpoints = slash != NULL ? g_strndup (rest, slash - rest) : g_strdup (rest);

  if (!sysem_tool_etcd_is_cluster (uri) || *endpoints == '\0')
    {
      /* Translators: %s is what the user gave; do not translate the URI form */
      sysem_tool_usage_error (_("“%s” is not an etcd cluster: give etcd://HOST:PORT[,HOST:PORT…]"),
                              uri);
      return FALSE;
    }
  if (SYSEM_PRIVATE_CALL (key_type_name) (SYSEM_TOOL_KEY_TYPE_ETCD) == NULL)
    {
      sysem_tool_error (_("“%s” is an etcd key, but this build of sysem has no etcd support"), uri);
      return FALSE;
    }

  g_setenv ("SYSEM_ETCD_ENDPOINTS", endpoints, TRUE);
  return TRUE;
}

int
sysem_tool_key_max (const SysemToolKey *key)
{
  return SYSEM_PRIVATE_CALL (key_type_max) (key->key_type);
}

/* What `--json` calls a key type. */
const char *
sysem_tool_key_type_id (SysemKeyType key_type)
{
  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    return "systemv";
  if (key_type == SYSEM_KEY_TYPE_POSIX)
    return "posix";
  if (key_type == SYSEM_TOOL_KEY_TYPE_ETCD)
    return "etcd";

  return "unknown";
}

/* What the table of `sysem list` calls a key type. */
const char *
sysem_tool_key_type_short_id (SysemKeyType key_type)
{
  return key_type == SYSEM_KEY_TYPE_SYSTEM_V ? "sysv" : sysem_tool_key_type_id (key_type);
}

/* The key type that `--json` calls @id ("systemv", "posix", "etcd"); FALSE
 * after a message if there is none, or this build lacks it. */
gboolean
sysem_tool_key_type_from_id (const char   *id,
                             SysemKeyType *key_type)
{
  const SysemKeyType all[] = {
    SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_KEY_TYPE_POSIX, SYSEM_TOOL_KEY_TYPE_ETCD,
  };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      if (!g_str_equal (id, sysem_tool_key_type_id (all[i])))
        continue;

      if (SYSEM_PRIVATE_CALL (key_type_name) (all[i]) == NULL)
        {
          /* Translators: %s is a key type such as "etcd" */
          sysem_tool_usage_error (_("This build of sysem has no %s support"), id);
          return FALSE;
        }

      *key_type = all[i];
      return TRUE;
    }

  /* Translators: %s is what the user typed after --type; do not translate
   * the words in quotes */
  sysem_tool_usage_error (_("“%s” is not a key type: give “systemv”, “posix” or “etcd”"), id);
  return FALSE;
}

/* Every semaphore of @key_type that can be found, or of every key type
 * `list` shows when @key_type is -1. */
GPtrArray *
sysem_tool_list (int      key_type,
                 GError **error)
{
  g_autoptr(GPtrArray) all = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (listed_key_types); i++)
    {
      g_autoptr(GPtrArray) some = NULL;

      if (key_type != -1 && (SysemKeyType) key_type != listed_key_types[i])
        continue;

      some = SYSEM_PRIVATE_CALL (list) (listed_key_types[i], error);
      if (some == NULL)
        return NULL;
      if (all == NULL)
        all = g_steal_pointer (&some);
      else
        g_ptr_array_extend_and_steal (all, g_steal_pointer (&some));
    }

  /* A key type that `list` does not enumerate by itself (etcd needs its
   * endpoints). */
  if (all == NULL)
    all = SYSEM_PRIVATE_CALL (list) ((SysemKeyType) key_type, error);

  return g_steal_pointer (&all);
}

/* What is there for @key, or NULL with a message. */
SysemInfo *
sysem_tool_find (const SysemToolKey *key)
{
  g_autoptr(GError) error = NULL;
  SysemInfo *info;

  info = SYSEM_PRIVATE_CALL (inspect) (key->key_type, key->native_key, &error);
  if (info == NULL)
    {
      if (error != NULL)
        sysem_tool_error ("%s", error->message);
      else if (key->key_type == SYSEM_KEY_TYPE_POSIX)
        /* Translators: %s is a key */
        sysem_tool_error (_("There is no POSIX semaphore with the key “%s”"), key->key);
      else if (key->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        /* Translators: %s is a key */
        sysem_tool_error (_("There is no System V semaphore with the key “%s”"), key->key);
      else
        /* Translators: %s is a key */
        sysem_tool_error (_("There is no semaphore with the key “%s”"), key->key);
    }

  return info;
}

/* Like sysem_tool_find (), but the semaphore itself must be there. */
gboolean
sysem_tool_check_exists (const SysemToolKey *key)
{
  g_autoptr(SysemInfo) info = sysem_tool_find (key);

  if (info == NULL)
    return FALSE;

  if (!info->exists)
    {
      /* Translators: %s is a key */
      sysem_tool_error (_("There is no semaphore with the key “%s”, only a stale key file"),
                        key->key);
      return FALSE;
    }

  if (info->state == SYSEM_INSPECT_NOT_A_SEMAPHORE)
    {
      /* Translators: %s is a key */
      sysem_tool_error (_("The file of the key “%s” in /dev/shm is not a semaphore"), key->key);
      return FALSE;
    }

  return TRUE;
}

SysemSemaphore *
sysem_tool_open (const SysemToolKey  *key,
                 int                  initial_value,
                 SysemAccessMode      mode,
                 GError             **error)
{
  if (key->native)
    return sysem_semaphore_new_native (key->key, key->key_type, initial_value, mode, error);

  return sysem_semaphore_new_full (key->key, key->key_type, initial_value, mode, error);
}

/* Leaves @sem open until the tool exits (`sysem create`, and see
 * sysem_tool_finish ()). Takes the reference. */
void
sysem_tool_keep_open (SysemSemaphore *sem)
{
  g_clear_object (&kept_semaphore);
  kept_semaphore = sem;
}

/* Closing a POSIX semaphore that this process created unlinks it (Qt's
 * rule); a System V one leaves its user count. The tool is short-lived
 * and must never make a POSIX semaphore vanish under the commands of
 * another `sysem run`, so it keeps POSIX objects until it exits. */
void
sysem_tool_finish (SysemSemaphore *sem)
{
  if (sem == NULL)
    return;

  if (sysem_semaphore_get_key_type (sem) == SYSEM_KEY_TYPE_POSIX)
    sysem_tool_keep_open (sem);
  else
    g_object_unref (sem);
}

/* Whether a try_acquire() that returned @ok timed out. sysem 1.0 returned
 * FALSE without an error; 1.1 sets G_IO_ERROR_TIMED_OUT. */
gboolean
sysem_tool_is_timeout (gboolean      ok,
                       const GError *error)
{
  if (ok)
    return FALSE;

  return error == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

/* ---------------------------------------------------------------------- */
/* Output */

char *
sysem_tool_mode_string (guint mode)
{
  static const char letters[] = "rwxrwxrwx";
  char s[10];

  for (guint i = 0; i < 9; i++)
    s[i] = (mode & (0400u >> i)) != 0 ? letters[i] : '-';
  s[9] = '\0';

  return g_strdup (s);
}

char *
sysem_tool_owner_string (guint uid)
{
  struct passwd *pw = getpwuid ((uid_t) uid);

  if (pw != NULL && pw->pw_name != NULL)
    return g_strdup (pw->pw_name);

  return g_strdup_printf ("%u", uid);
}

char *
sysem_tool_number_or_dash (int value)
{
  return value < 0 ? g_strdup ("-") : g_strdup_printf ("%d", value);
}

char *
sysem_tool_users_string (const SysemInfo *info)
{
  if (info->stats.users < 0)
    return g_strdup ("-");
  if (!info->users_exact)
    return g_strdup_printf ("≥%d", info->stats.users);

  return g_strdup_printf ("%d", info->stats.users);
}

/* JSON strings are UTF-8: a name with other bytes shows U+FFFD. */
static void
json_add_string (JsonBuilder *builder,
                 const char  *name,
                 const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value == NULL)
    json_builder_add_null_value (builder);
  else
    {
      g_autofree char *valid = g_utf8_make_valid (value, -1);

      json_builder_add_string_value (builder, valid);
    }
}

/* A count or id: null where the key type has none (-1). */
static void
json_add_int_or_null (JsonBuilder *builder,
                      const char  *name,
                      gint64       value)
{
  json_builder_set_member_name (builder, name);
  if (value < 0)
    json_builder_add_null_value (builder);
  else
    json_builder_add_int_value (builder, value);
}

static void
json_add_boolean (JsonBuilder *builder,
                  const char  *name,
                  gboolean     value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_boolean_value (builder, value);
}

static void
json_add_holders (JsonBuilder *builder,
                  GArray      *holders)
{
  json_builder_set_member_name (builder, "holders");
  if (holders == NULL)
    {
      json_builder_add_null_value (builder);
      return;
    }

  json_builder_begin_array (builder);
  for (guint i = 0; i < holders->len; i++)
    {
      const SysemHolder *holder = &g_array_index (holders, SysemHolder, i);

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "pid");
      json_builder_add_int_value (builder, holder->pid);
      json_add_boolean (builder, "alive", holder->alive);
      json_builder_set_member_name (builder, "units");
      json_builder_add_int_value (builder, holder->units);
      json_add_boolean (builder, "user", holder->user);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
}

/* One semaphore as a JSON object; @key (the key as the user gave it) is
 * NULL in lists. */
void
sysem_tool_json_add_info (JsonBuilder     *builder,
                          const SysemInfo *info,
                          const char      *key)
{
  g_autofree char *owner = sysem_tool_owner_string (info->stats.uid);
  g_autofree char *perms = sysem_tool_mode_string (info->stats.mode);

  json_builder_begin_object (builder);
  if (key != NULL)
    json_add_string (builder, "key", key);
  json_add_string (builder, "type", sysem_tool_key_type_id (info->stats.key_type));
  json_add_string (builder, "name", info->name);
  json_add_string (builder, "path", info->path);
  json_add_boolean (builder, "exists", info->exists);

  json_builder_set_member_name (builder, "ipc_key");
  if (info->stats.key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    json_builder_add_int_value (builder, info->ipc_key);
  else
    json_builder_add_null_value (builder);

  json_add_int_or_null (builder, "id", info->stats.id);
  json_add_int_or_null (builder, "sems", info->stats.n_sems);
  json_add_int_or_null (builder, "value", info->stats.value);
  json_add_int_or_null (builder, "waiters", info->stats.waiters);
  json_add_int_or_null (builder, "users", info->stats.users);
  json_add_boolean (builder, "users_exact", info->users_exact);
  json_add_int_or_null (builder, "last_pid", info->stats.last_pid);

  json_builder_set_member_name (builder, "last_pid_alive");
  if (info->stats.last_pid >= 0)
    json_builder_add_boolean_value (builder, info->last_pid_alive);
  else
    json_builder_add_null_value (builder);

  json_builder_set_member_name (builder, "mode");
  json_builder_add_int_value (builder, info->stats.mode);
  json_add_string (builder, "permissions", perms);
  json_builder_set_member_name (builder, "uid");
  json_builder_add_int_value (builder, info->stats.uid);
  json_add_string (builder, "owner", owner);
  json_add_int_or_null (builder, "changed", info->stats.changed > 0 ? info->stats.changed : -1);
  json_add_boolean (builder, "stale", info->stale);
  json_add_string (builder, "state", SYSEM_PRIVATE_CALL (state_name) (info->state));
  json_add_boolean (builder, "crash_safe", info->crash_safe);
  json_add_boolean (builder, "foreign_users", info->foreign_users);
  json_add_holders (builder, info->holders);
  json_builder_end_object (builder);
}

void
sysem_tool_print_json (JsonNode *root)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);

  g_print ("%s\n", text);
}

/* A JSON array of semaphores (`list`, `gc`). */
void
sysem_tool_print_json_infos (GPtrArray *infos)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_array (builder);
  for (guint i = 0; i < infos->len; i++)
    sysem_tool_json_add_info (builder, g_ptr_array_index (infos, i), NULL);
  json_builder_end_array (builder);

  root = json_builder_get_root (builder);
  sysem_tool_print_json (root);
}

/* ---------------------------------------------------------------------- */
/* main */

typedef struct {
  const char *name;
  int (* handle) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "list", handle_list, N_("List the semaphores of sysem and Qt programs") },
  { "info", handle_info, N_("Show one semaphore") },
  { "create", handle_create, N_("Create a semaphore, or reset its count") },
  { "acquire", handle_acquire, N_("Take a unit") },
  { "release", handle_release, N_("Give units back") },
  { "remove", handle_remove, N_("Remove a semaphore at once") },
  { "gc", handle_gc, N_("Remove stale semaphores and key files") },
  { "run", handle_run, N_("Run a command while holding a unit") },
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

static int
run_command (const Command  *command,
             int             argc,
             char          **argv)
{
  g_autofree char *prgname = g_strconcat ("sysem ", command->name, NULL);
  int status;

  command_name = command->name;
  g_set_prgname (prgname);
  status = command->handle (argc, argv);
  g_clear_pointer (&opt_rest, g_strfreev);

  return status;
}

int
main (int    argc,
      char **argv)
{
  const char *name;

  setlocale (LC_ALL, "");
  SYSEM_PRIVATE_CALL (i18n_init) ();

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
    if (g_str_equal (name, commands[i].name))
      return run_command (&commands[i], argc - 1, argv + 1);

  g_printerr ("sysem: ");
  /* Translators: %s is what the user typed as the command */
  g_printerr (_("Unknown command “%s”"), name);
  g_printerr ("\n");
  print_main_help (stderr);
  return EXIT_USAGE;
}
