/* sysem-tool.h: what the commands of the sysem tool share
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The tool links the shared library. It uses the public API, and reaches
 * the few private functions it needs (reading a semaphore without joining
 * it, listing, removing stale ones, keeping one after exit) through the
 * table of sysem-inspect-private.h: SYSEM_PRIVATE_CALL (list) (…).
 *
 * Files: sysem-tool.c (main, dispatch, keys, messages, options, output
 * shared by several commands), sysem-tool-list.c (list, info),
 * sysem-tool-create.c (create, remove, gc), sysem-tool-acquire.c (acquire,
 * release), sysem-tool-run.c (run). */

#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <sysem/sysem.h>

#include "sysem-inspect-private.h"

G_BEGIN_DECLS

/* Exit statuses; the manual page lists them. */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,        /* the operation failed, or no such semaphore */
  EXIT_USAGE = 2,         /* bad arguments */
  EXIT_TIMEOUT = 75,      /* EX_TEMPFAIL: no unit within --timeout */
  EXIT_RUN_FAILED = 125,  /* `run`: sysem itself failed, or bad arguments */
  EXIT_CANNOT_EXEC = 126, /* `run`: COMMAND was found but could not run */
  EXIT_NOT_FOUND = 127,   /* `run`: COMMAND was not found */
};

/* The etcd key type of sysem 1.1 (SYSEM_KEY_TYPE_ETCD), named by its value
 * so that the tool builds against a header without it. Whether the
 * library has the backend is asked at run time (sysem_tool_key_new ()). */
#define SYSEM_TOOL_KEY_TYPE_ETCD ((SysemKeyType) 2)
#define SYSEM_TOOL_ETCD_PREFIX "etcd://"

/* Options that several commands take (sysem-tool.c). */
extern gboolean opt_posix;
extern gboolean opt_native;
extern gboolean opt_json;
extern char **opt_rest;

/* What sysem_tool_context_new () adds besides a command's own entries. */
typedef enum {
  SYSEM_TOOL_OPTIONS_NONE     = 0,
  SYSEM_TOOL_OPTIONS_KEY_TYPE = 1 << 0, /* --posix, --native */
  SYSEM_TOOL_OPTIONS_JSON     = 1 << 1, /* --json */
} SysemToolOptions;

/* A KEY argument, with the key type it selects: the one place where the
 * tool decides between System V, POSIX and etcd. */
typedef struct {
  char         *key;        /* as the user gave it: messages name it */
  SysemKeyType  key_type;
  gboolean      native;     /* @key is a native key, not a string key */
  char         *native_key; /* the backend's name for it */
} SysemToolKey;

void          sysem_tool_key_free       (SysemToolKey  *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SysemToolKey, sysem_tool_key_free)

/* Messages */
void          sysem_tool_error          (const char    *format,
                                         ...) G_GNUC_PRINTF (1, 2);
int           sysem_tool_usage_error    (const char    *format,
                                         ...) G_GNUC_PRINTF (1, 2);

/* Options and arguments */
GOptionContext *sysem_tool_context_new  (const char    *parameters,
                                         const char    *summary,
                                         GOptionEntry  *entries,
                                         SysemToolOptions options);
gboolean      sysem_tool_parse          (GOptionContext *context,
                                         int            *argc,
                                         char         ***argv);
guint         sysem_tool_n_rest         (void);
gboolean      sysem_tool_expect_key     (guint          max_extra);
int           sysem_tool_parse_key_command (GOptionContext *context,
                                         int            *argc,
                                         char         ***argv,
                                         guint           max_extra,
                                         SysemToolKey  **key_out);
gboolean      sysem_tool_parse_count    (const char    *option,
                                         const char    *text,
                                         gint64         min,
                                         gint64         max,
                                         int           *out);
gboolean      sysem_tool_parse_timeout  (const char    *text,
                                         gint64        *usec);

/* Keys and semaphores */
SysemToolKey *sysem_tool_key_new        (const char    *key);
gboolean      sysem_tool_etcd_is_cluster (const char   *key);
gboolean      sysem_tool_etcd_use_endpoints (const char *uri);
int           sysem_tool_key_max        (const SysemToolKey *key);
const char   *sysem_tool_key_type_id    (SysemKeyType   key_type);
const char   *sysem_tool_key_type_short_id (SysemKeyType key_type);
gboolean      sysem_tool_key_type_from_id (const char  *id,
                                         SysemKeyType  *key_type);
GPtrArray    *sysem_tool_list           (int            key_type,
                                         GError       **error);
SysemInfo    *sysem_tool_find           (const SysemToolKey *key);
gboolean      sysem_tool_check_exists   (const SysemToolKey *key);
SysemSemaphore *sysem_tool_open         (const SysemToolKey *key,
                                         int            initial_value,
                                         SysemAccessMode mode,
                                         GError       **error);
void          sysem_tool_finish         (SysemSemaphore *sem);
void          sysem_tool_keep_open      (SysemSemaphore *sem);
gboolean      sysem_tool_is_timeout     (gboolean       ok,
                                         const GError  *error);

/* Output */
char         *sysem_tool_mode_string    (guint          mode);
char         *sysem_tool_owner_string   (guint          uid);
char         *sysem_tool_number_or_dash (int            value);
char         *sysem_tool_users_string   (const SysemInfo *info);
void          sysem_tool_json_add_info  (JsonBuilder   *builder,
                                         const SysemInfo *info,
                                         const char    *key);
void          sysem_tool_print_json     (JsonNode      *root);
void          sysem_tool_print_json_infos (GPtrArray   *infos);

/* Commands: each takes the arguments after "sysem", its name first. */
int           handle_list               (int argc, char **argv);
int           handle_info               (int argc, char **argv);
int           handle_create             (int argc, char **argv);
int           handle_remove             (int argc, char **argv);
int           handle_gc                 (int argc, char **argv);
int           handle_acquire            (int argc, char **argv);
int           handle_release            (int argc, char **argv);
int           handle_run                (int argc, char **argv);

G_END_DECLS
