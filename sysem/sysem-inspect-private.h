/* sysem-inspect-private.h: reading semaphores without joining them
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The one private surface of the library for its own tool and tests: what
 * `sysem list`, `info`, `gc` and `create` need that the public API does not
 * offer. Each backend implements it for its own layout (sysem-backend.h);
 * nothing outside a backend knows a kernel layout.
 *
 * Inside the library, and in tests linked to its static copy, call the
 * sysem_inspect_*() functions. The installed tool links the shared library,
 * where only public symbols are visible, and reaches the same functions
 * through the table that sysem__private__() returns, as GIO reaches GLib's
 * internals through glib__private__():
 *
 *   SYSEM_PRIVATE_CALL (list) (SYSEM_KEY_TYPE_POSIX, &error);
 *
 * The table is not API: it may change in any release, and the tool and the
 * library of one release are installed together. */

#pragma once

#if !defined(SYSEM_COMPILATION) && !defined(SYSEM_INSPECT_CONSUMER)
#error "sysem-inspect-private.h is private to sysem, its tool and its tests."
#endif

#ifdef SYSEM_COMPILATION
# include "sysem-semaphore.h"
#else
# include <sysem/sysem.h>
#endif

G_BEGIN_DECLS

/* What a backend reads about one semaphore. Fields a key type does not
 * have are -1. */
typedef struct {
  SysemKeyType key_type;
  int          value;
  int          waiters;
  int          users;
  int          last_pid;
  int          id;          /* System V: the semid */
  int          n_sems;      /* System V: 1 for a set made by Qt */
  guint        mode;        /* permission bits */
  guint        uid;
  gint64       changed;     /* last change, seconds since the epoch */
} SysemStats;

/* Why a semaphore is, or is not, stale. The names are what `--json` prints
 * (sysem_inspect_state_name()). */
typedef enum {
  SYSEM_INSPECT_IN_USE,          /* someone has it open, waits on it, or may */
  SYSEM_INSPECT_NO_SET,          /* System V: a key file whose set is gone */
  SYSEM_INSPECT_NO_USERS,        /* a sysem semaphore nobody has open or waits on */
  SYSEM_INSPECT_OWNER_GONE,      /* a Qt set: no waiter, the last process is gone */
  SYSEM_INSPECT_UNUSED,          /* POSIX made by glibc: no process maps it */
  SYSEM_INSPECT_NOT_A_SEMAPHORE, /* a file of the wrong size or kind */
  SYSEM_INSPECT_NO_ACCESS,       /* we may not read it: never called stale */
  SYSEM_INSPECT_RECOVERABLE,     /* in use, and dead holders' units can come back */
  SYSEM_INSPECT_HALF_MADE,       /* a creator died before finishing it */
  SYSEM_INSPECT_LEASE_EXPIRED,   /* etcd: no live lease holds it */
} SysemInspectState;

/* One process (or etcd lease) in a holder ledger. */
typedef struct {
  gint64   pid;       /* etcd: the lease id */
  guint64  start;     /* what tells the process from a later one with its pid */
  gboolean alive;
  int      units;     /* acquired and not released */
  gboolean user;      /* has the semaphore open */
} SysemHolder;

typedef struct {
  SysemStats        stats;
  char             *name;          /* the native key */
  char             *path;          /* the key file, the file in /dev/shm, or NULL */
  gboolean          exists;        /* the semaphore itself is there */
  int               ipc_key;       /* System V: ftok (path, 'Q'), else -1 */
  gboolean          users_exact;   /* FALSE: some processes could not be read */
  gboolean          last_pid_alive;
  gboolean          stale;
  SysemInspectState state;
  gboolean          crash_safe;    /* dead holders' units come back */
  gboolean          foreign_users; /* users sysem cannot see (sem_open(), Qt) */
  GArray           *holders;       /* of SysemHolder; NULL where there is no ledger */
  /* For the backend that made this entry: what it needs to find the same
   * object again before removing it. */
  guint64           dev;
  guint64           ino;
} SysemInfo;

void        sysem_info_free             (SysemInfo          *info);

const char *sysem_inspect_state_name    (SysemInspectState   state);
const char *sysem_inspect_state_label   (SysemInspectState   state);
gboolean    sysem_inspect_pid_alive     (int                 pid);

/* Every semaphore of @key_type that can be found, sorted by name. */
GPtrArray  *sysem_inspect_list          (SysemKeyType        key_type,
                                         GError            **error);
/* The entry of one native key (see sysem_inspect_key_derive()); NULL
 * without error when there is nothing under that name at all. */
SysemInfo  *sysem_inspect_native        (SysemKeyType        key_type,
                                         const char         *native,
                                         GError            **error);
/* Removes what @info names. With @only_if_stale, looks again (under the
 * backend's lock where it has one) and does nothing, returning FALSE with
 * no error, unless it is still stale. *@removed_object tells whether a
 * semaphore went, not only a file. */
gboolean    sysem_inspect_remove        (SysemInfo          *info,
                                         gboolean            only_if_stale,
                                         gboolean           *removed_object,
                                         GError            **error);

gboolean    sysem_inspect_key_derive    (const char         *key,
                                         SysemKeyType        key_type,
                                         char              **native_out,
                                         GError            **error);
gboolean    sysem_inspect_key_check_native (const char      *native_key,
                                         SysemKeyType        key_type,
                                         char              **native_out,
                                         GError            **error);
const char *sysem_inspect_key_type_name (SysemKeyType        key_type);
int         sysem_inspect_key_type_max  (SysemKeyType        key_type);

gboolean    sysem_semaphore_get_stats   (SysemSemaphore     *self,
                                         SysemStats         *stats,
                                         GError            **error);
/* Keeps the semaphore after its last user closes, until it is removed
 * (`sysem create`). */
gboolean    sysem_semaphore_keep        (SysemSemaphore     *self,
                                         GError            **error);
guint       sysem_semaphore_get_n_pending (SysemSemaphore   *self);

typedef struct {
  gsize        size;   /* sizeof (SysemPrivateVTable) */

  void        (* info_free)        (SysemInfo *info);
  const char *(* state_name)       (SysemInspectState state);
  const char *(* state_label)      (SysemInspectState state);
  gboolean    (* pid_alive)        (int pid);
  GPtrArray  *(* list)             (SysemKeyType key_type, GError **error);
  SysemInfo  *(* inspect)          (SysemKeyType key_type, const char *native, GError **error);
  gboolean    (* remove)           (SysemInfo *info, gboolean only_if_stale,
                                    gboolean *removed_object, GError **error);
  gboolean    (* key_derive)       (const char *key, SysemKeyType key_type,
                                    char **native_out, GError **error);
  gboolean    (* key_check_native) (const char *native_key, SysemKeyType key_type,
                                    char **native_out, GError **error);
  const char *(* key_type_name)    (SysemKeyType key_type);
  int         (* key_type_max)     (SysemKeyType key_type);
  gboolean    (* get_stats)        (SysemSemaphore *self, SysemStats *stats, GError **error);
  gboolean    (* keep)             (SysemSemaphore *self, GError **error);
  guint       (* get_n_pending)    (SysemSemaphore *self);
  void        (* i18n_init)        (void);
} SysemPrivateVTable;

SYSEM_AVAILABLE_IN_ALL
const SysemPrivateVTable *sysem__private__ (void);

#define SYSEM_PRIVATE_CALL(name) (sysem__private__ ()->name)

#ifdef SYSEM_COMPILATION
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SysemInfo, sysem_info_free)
#else
/* Outside the library sysem_info_free() is not exported: free through the
 * table. */
static inline void
sysem_private_info_free (SysemInfo *info)
{
  SYSEM_PRIVATE_CALL (info_free) (info);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SysemInfo, sysem_private_info_free)
#endif

G_END_DECLS
