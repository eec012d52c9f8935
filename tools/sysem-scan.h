/* sysem-scan.h: finding the semaphores that sysem and Qt made
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <sys/types.h>

#include "sysem-semaphore.h"

G_BEGIN_DECLS

/* Why an entry is, or is not, stale. The names are what `--json` prints. */
typedef enum {
  SYSEM_SCAN_IN_USE,          /* someone has it open, waits on it, or may */
  SYSEM_SCAN_NO_SET,          /* System V: a key file whose set is gone */
  SYSEM_SCAN_NO_USERS,        /* a sysem set nobody has open, nobody waits on */
  SYSEM_SCAN_OWNER_GONE,      /* a Qt set: no waiter, the last process is gone */
  SYSEM_SCAN_UNUSED,          /* POSIX: no process maps it, nobody waits */
  SYSEM_SCAN_NOT_A_SEMAPHORE, /* POSIX: a sem.* file of the wrong size or kind */
  SYSEM_SCAN_NO_ACCESS,       /* we may not read it: never called stale */
} SysemScanState;

typedef struct {
  SysemKeyType   key_type;
  char          *name;         /* the native key: key file path, or "/name" */
  char          *path;         /* the key file, or the file in /dev/shm */
  gboolean       exists;       /* the kernel semaphore is there */
  int            ipc_key;      /* System V: ftok (path, 'Q'), else -1 */
  int            id;           /* System V: the semid, else -1 */
  int            n_sems;       /* System V: 1 for a Qt set, 2 for sysem's */
  int            value;        /* -1 when unknown, here and below */
  int            waiters;
  int            users;
  gboolean       users_exact;  /* FALSE: some processes could not be read */
  int            last_pid;
  gboolean       last_pid_alive;
  guint          mode;
  guint          uid;
  gint64         changed;      /* seconds since the epoch, or 0 */
  gboolean       stale;
  SysemScanState state;
  /* For the POSIX user count. */
  dev_t          dev;
  ino_t          ino;
} SysemScanEntry;

void            sysem_scan_entry_free   (SysemScanEntry  *entry);

const char     *sysem_scan_state_name   (SysemScanState   state);
const char     *sysem_scan_state_label  (SysemScanState   state);

gboolean        sysem_scan_pid_alive    (int              pid);

/* Every semaphore found, System V first, each list sorted by name. */
GPtrArray      *sysem_scan_all          (GError         **error);

/* The entry of one native key (from sysem_key_derive() or
 * sysem_key_check_native()); NULL without error when there is nothing
 * under that name at all. */
SysemScanEntry *sysem_scan_native       (SysemKeyType     key_type,
                                         const char      *native,
                                         GError         **error);

/* Removes what the entry names: the set and the key file, or the POSIX file.
 * With only_if_stale, looks again under the key file's lock and does
 * nothing (returning FALSE with no error) unless it is still stale.
 * *removed_set tells whether a kernel object went, not only a file. */
gboolean        sysem_scan_remove       (SysemScanEntry  *entry,
                                         gboolean         only_if_stale,
                                         gboolean        *removed_set,
                                         GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SysemScanEntry, sysem_scan_entry_free)

G_END_DECLS
