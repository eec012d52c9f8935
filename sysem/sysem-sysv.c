/* sysem-sysv.c: System V semaphores, as Qt uses them
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Lock map (the order, where two are held: the key file's flock(), then
 * records_lock or key_fds_lock, never both but in the fork() handlers,
 * which take records_lock then key_fds_lock):
 * - flock() on the key file, an exclusive one, taken on a descriptor
 *   opened for the purpose (sysem_key_fd_open()): joining, leaving,
 *   remove() and `sysem gc`, across processes. Never held while blocking
 *   for a unit.
 * - records_lock (a GMutex of this file): the table of records and each
 *   record's refs, joins, inherited and inheritance marks (mark_fd,
 *   fork_fd). fork() takes it, and opens and closes the marks under it.
 * - key_fds_lock: the list of key-file descriptors open now, held across
 *   each open() and close() of one so that a child of fork() knows every
 *   copy it has. fork() takes it.
 * - A record's held count: no lock. Changed plainly by its owner thread
 *   until a second thread comes, atomically for good afterwards, the
 *   switch made safe with membarrier() (sysem_sysv_held_add()); read
 *   relaxed by anyone, as a hint for whether to use SEM_UNDO.
 * - A record's semid, and a handle's semid, ipc_key, file identity,
 *   counted, kickable and owner flags: written while the handle is opened
 *   (under the key file's lock), read without a lock afterwards; close()
 *   clears counted and owner, and a racing call meanwhile fails with
 *   NOT_FOUND or works on the set it loaded (sysem-backend.h).
 * - The kick semaphore's value: changed by any cancel, in any process;
 *   a waiter only compares it with what it read.
 *
 * How a System V semaphore is found and kept alive.
 *
 * The key file: Qt names a semaphore by a file in the temporary directory;
 * the kernel key is ftok (file, 'Q'). sysem makes the file the same way but
 * never follows a symbolic link in the shared directory, refuses anything
 * but a regular file, and computes ftok's value from the file it holds open
 * so that the file cannot be swapped between the check and the use.
 *
 * The set: semaphore 0 holds the count; Qt uses only that one. A set that
 * sysem creates has a second semaphore that counts the objects that have it
 * open. Every change to it is made with SEM_UNDO, so a process that dies
 * stops counting without doing anything. Whoever takes that count to zero
 * removes the set and the key file. Sets made by sysem 1.1 have a third,
 * the kick semaphore, whose every change wakes the cancellable waiters on
 * the set (sysem_sysv_wait_kicked()); sets of two, made by 1.0, are used
 * as they are.
 *
 * The race between the last user leaving and a new user arriving is closed
 * by an exclusive flock() on the key file, held while joining and while
 * leaving: a newcomer that waited for the lock checks that the file it
 * locked is still the one in the directory and starts again if not. The
 * key file is open only for as long as that takes, so an object costs no
 * descriptor, and a child of fork() never shares a locked open file
 * description with its parent (see sysem_key_fd_open()).
 *
 * Undo of acquires: the kernel keeps, per process and set, the sum of the
 * SEM_UNDO changes. Acquires are made with SEM_UNDO, so a crash gives the
 * units back. The documentation promises to reverse acquires, not releases,
 * so release (n) uses SEM_UNDO only for as many units as this process holds
 * and adds the rest plainly. How many units a process holds is counted in a
 * record shared by all handles on the same set in this process.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-key-private.h"
#include "sysem-sysv-private.h"

/* The largest value of a System V semaphore on Linux (SEMVMX). */
#define SYSEM_SYSV_MAX 32767

enum {
  SEM_VALUE = 0,
  SEM_USERS = 1,
  SEM_KICK = 2,
  /* sysem 1.0 made sets of two: the count and the users. A set of at
   * least that size is a sysem set and counts its users. */
  SYSEM_SET_SIZE = 2,
  /* sysem 1.1 adds the kick semaphore, which wakes cancelled waiters
   * (sysem_sysv_wait_kicked()). */
  SYSEM_SET_SIZE_KICK = 3,
};

union sysem_semun {
  int              val;
  struct semid_ds *buf;
  unsigned short  *array;
};

/* One per set in this process, shared by the handles that use it. */
typedef struct {
  int       semid;
  int       refs;      /* handles on this set; under records_lock */
  int       joins;     /* of them, counted as users; under records_lock */
  int       live;      /* of those, held by an object or a request: under
                        * sysem_lock() (sysem-backend.h) */
  gint      inherited; /* after fork(): joins not yet made in this process */
  /* Units acquired with SEM_UNDO and not yet released: see
   * sysem_sysv_held_add(). */
  gint      held;
  guintptr  owner;     /* the one thread that may change held plainly */
  gint      shared;    /* atomic: set for good once another thread came */
  gint      in_plain;  /* the owner is changing held plainly */
  gint      kick_hint; /* atomic: the kick semaphore's value when last seen, or -1 */
  /* fork() (see sysem_sysv_atfork_prepare()): */
  char     *path;      /* the key file, for the inheritance marks */
  key_t     ipc_key;
  int       mark_fd;   /* in a child: the mark of its inherited objects */
  int       fork_fd;   /* in a fork() under way: the child's mark */
} SysemSysvRecord;

typedef struct {
  SysemHandle      parent;
  int              semid;
  key_t            ipc_key;
  gboolean         counted;     /* a sysem set: we are in its user count */
  gboolean         made_key_file; /* this open() made the key file */
  gboolean         key_file_fresh; /* ... and nobody saw it before it was locked */
  gboolean         kickable;    /* the set has a kick semaphore */
  gboolean         owner;       /* a Qt set we created or reset: ours to remove */
  dev_t            file_dev;
  ino_t            file_ino;
  guint            generation;  /* fork_generation when opened */
  SysemSysvRecord *record;
} SysemSysv;

static GMutex records_lock;
static GHashTable *records;   /* semid → SysemSysvRecord */
static guint fork_generation;  /* how many fork()s this process descends from */

/* A key file open while this process joins, leaves or removes a set. */
typedef struct _SysemKeyFd SysemKeyFd;
struct _SysemKeyFd
{
  int         fd;
  SysemKeyFd *prev;
  SysemKeyFd *next;
};

static GMutex key_fds_lock;
static SysemKeyFd *key_fds;    /* every key file open now, under key_fds_lock */

/* Puts a descriptor just opened on the list. With key_fds_lock. */
static void
sysem_key_fd_link_locked (SysemKeyFd *kf)
{
  kf->prev = NULL;
  kf->next = key_fds;
  if (key_fds != NULL)
    key_fds->prev = kf;
  key_fds = kf;
}

/* Opens a key file. A child of fork() that inherited the descriptor would
 * share its open file description, and with it the flock() taken on it,
 * for as long as it lives: so every such descriptor is on a list, from
 * before it exists until after it is closed, and the child closes its
 * copies at once (sysem_sysv_atfork_child()). */
static int
sysem_key_fd_open (SysemKeyFd *kf,
                   const char *path,
                   int         flags,
                   mode_t      mode)
{
  int errsv;

  g_mutex_lock (&key_fds_lock);
  kf->fd = open (path, flags, mode);
  errsv = errno;
  if (kf->fd != -1)
    sysem_key_fd_link_locked (kf);
  g_mutex_unlock (&key_fds_lock);

  errno = errsv;
  return kf->fd;
}

/* Closing drops the lock. */
static void
sysem_key_fd_close (SysemKeyFd *kf)
{
  if (kf->fd == -1)
    return;

  g_mutex_lock (&key_fds_lock);
  if (kf->prev != NULL)
    kf->prev->next = kf->next;
  else
    key_fds = kf->next;
  if (kf->next != NULL)
    kf->next->prev = kf->prev;
  close (kf->fd);
  kf->fd = -1;
  g_mutex_unlock (&key_fds_lock);
}

/* The system call itself: glibc's wrapper makes it a cancellation point,
 * which costs a pair of atomic operations in a process with threads. So
 * sysem's waits are no cancellation points for pthread_cancel(). */
/* 0, or minus the errno, which is left alone: for the fast paths. */
static inline long
sysem_sysv_semtimedop_raw (int                    semid,
                           struct sembuf         *ops,
                           size_t                 n_ops,
                           const struct timespec *timeout)
{
#if defined(__x86_64__) && defined(SYS_semtimedop)
  /* Even syscall() costs a call and a shuffle of every argument. */
  register long r10 __asm__ ("r10") = (long) timeout;
  long ret;

  __asm__ volatile ("syscall"
                    : "=a" (ret)
                    : "0" ((long) SYS_semtimedop), "D" ((long) semid), "S" (ops),
                      "d" (n_ops), "r" (r10)
                    : "rcx", "r11", "memory");
  return ret;
#else
# ifdef SYS_semtimedop
  int res = (int) syscall (SYS_semtimedop, semid, ops, n_ops, timeout);
# else
  int res = semtimedop (semid, ops, n_ops, timeout);
# endif

  return res == -1 ? -errno : res;
#endif
}

static inline int
sysem_sysv_semtimedop (int                    semid,
                       struct sembuf         *ops,
                       size_t                 n_ops,
                       const struct timespec *timeout)
{
#if defined(__x86_64__) && defined(SYS_semtimedop)
  long ret = sysem_sysv_semtimedop_raw (semid, ops, n_ops, timeout);

  if (G_UNLIKELY ((unsigned long) ret > -4096UL))
    {
      errno = (int) -ret;
      return -1;
    }
  return (int) ret;
#elif defined(SYS_semtimedop)
  return (int) syscall (SYS_semtimedop, semid, ops, n_ops, timeout);
#else
  return semtimedop (semid, ops, n_ops, timeout);
#endif
}

static int
sysem_semop (int            semid,
             struct sembuf *ops,
             size_t         n_ops)
{
  int res;

  do
    res = sysem_sysv_semtimedop (semid, ops, n_ops, NULL);
  while (res == -1 && errno == EINTR);

  return res;
}

/* The held count without lock-prefixed instructions.
 *
 * Every acquire and release changes its record's held count, which two
 * atomic read-modify-writes made cost as much as a quarter of the system
 * call beside them. While only the thread that made a record uses it, the
 * count is changed with plain loads and stores; the first time another
 * thread touches the record, it switches the record to atomics for good.
 * The switch is an asymmetric Dekker handshake: the owner marks in_plain,
 * then looks at shared; the newcomer sets shared, then makes every thread
 * of the process pass a full memory barrier with membarrier(), then waits
 * until in_plain is clear. Either the owner sees shared and takes the
 * atomic path, or the newcomer sees in_plain and waits for the plain
 * change to end. Where membarrier() (Linux 4.14) is missing, every record
 * is shared from the start. */
static inline guintptr
sysem_sysv_thread_self (void)
{
#if defined(__x86_64__) && defined(__GNUC__) && __GNUC__ >= 11
  /* What pthread_self() returns, without the call. */
  return (guintptr) __builtin_thread_pointer ();
#else
  return (guintptr) pthread_self ();
#endif
}

static G_GNUC_NO_INLINE void
sysem_sysv_held_share (SysemSysvRecord *record)
{
  if (g_atomic_int_get (&record->shared))
    return;

  g_atomic_int_set (&record->shared, TRUE);
  sysem_membarrier ();
  while (__atomic_load_n (&record->in_plain, __ATOMIC_ACQUIRE))
    g_thread_yield ();
}

/* Opens a plain change of held: TRUE if this thread may make it, then
 * sysem_sysv_held_plain_end() must follow. */
static inline gboolean
sysem_sysv_held_plain_begin (SysemSysvRecord *record)
{
  if (G_UNLIKELY (record->owner != sysem_sysv_thread_self ()))
    return FALSE;

  __atomic_store_n (&record->in_plain, TRUE, __ATOMIC_RELAXED);
  __atomic_signal_fence (__ATOMIC_SEQ_CST);
  if (G_LIKELY (!__atomic_load_n (&record->shared, __ATOMIC_RELAXED)))
    return TRUE;

  __atomic_store_n (&record->in_plain, FALSE, __ATOMIC_RELEASE);
  return FALSE;
}

static inline void
sysem_sysv_held_plain_end (SysemSysvRecord *record)
{
  __atomic_store_n (&record->in_plain, FALSE, __ATOMIC_RELEASE);
}

static inline void
sysem_sysv_held_add (SysemSysvRecord *record,
                     int              delta)
{
  if (G_LIKELY (sysem_sysv_held_plain_begin (record)))
    {
      __atomic_store_n (&record->held, record->held + delta, __ATOMIC_RELAXED);
      sysem_sysv_held_plain_end (record);
      return;
    }

  sysem_sysv_held_share (record);
  g_atomic_int_add (&record->held, delta);
}

/* Takes up to @n units off the held count; returns how many. */
static inline int
sysem_sysv_held_take (SysemSysvRecord *record,
                      int              n)
{
  int held, taken;

  if (G_LIKELY (sysem_sysv_held_plain_begin (record)))
    {
      held = record->held;
      taken = MIN (held, n);
      __atomic_store_n (&record->held, held - taken, __ATOMIC_RELAXED);
      sysem_sysv_held_plain_end (record);
      return taken;
    }

  sysem_sysv_held_share (record);
  do
    {
      held = g_atomic_int_get (&record->held);
      taken = MIN (held, n);
    }
  while (taken > 0 && !g_atomic_int_compare_and_exchange (&record->held, held, held - taken));

  return taken;
}

/* SETVAL cleared the undo entries of every process. */
static void
sysem_sysv_held_clear (SysemSysvRecord *record)
{
  sysem_sysv_held_take (record, G_MAXINT);
}

static inline int
sysem_sysv_held_get (SysemSysvRecord *record)
{
  return __atomic_load_n (&record->held, __ATOMIC_RELAXED);
}

/* The value ftok() computes, from a file we hold open. */
static key_t
sysem_ftok_fd (const struct stat *st)
{
  return (key_t) (((guint32) 'Q' << 24) |
                  (((guint32) st->st_dev & 0xff) << 16) |
                  ((guint32) st->st_ino & 0xffff));
}

static void
sysem_flock (int fd,
             int operation)
{
  while (flock (fd, operation) == -1 && errno == EINTR)
    ;
}

/* The key file still in the directory is the one we hold. */
static gboolean
sysem_sysv_file_is_ours (SysemSysv *self)
{
  struct stat st;

  return lstat (self->parent.native, &st) == 0 &&
         st.st_dev == self->file_dev &&
         st.st_ino == self->file_ino;
}

/* Key files sysem creates carry this extended attribute, so that only they
 * are ever deleted: a native key may name a file that was there before
 * (DESIGN.md §3, "A native key file sysem did not create is never
 * deleted"). Where the file system has no user attributes, an empty file
 * with Qt's legacy name is taken as Qt's or sysem's own key file, as Qt
 * itself does. */
#define SYSEM_SYSV_KEY_FILE_XATTR "user.sysem.key-file"
/* A key file being made where O_TMPFILE cannot be used: the legacy
 * prefix, so that `sysem list` and `sysem gc` see one whose maker died
 * before it was linked into place; and a dot, which no key derived the
 * legacy way contains. */
#define SYSEM_SYSV_TEMP_PREFIX SYSEM_LEGACY_PREFIX ".sysem-"

static void
sysem_sysv_mark_key_file (int fd)
{
  /* Best effort: without the mark the file is only ever left behind. */
  (void) fsetxattr (fd, SYSEM_SYSV_KEY_FILE_XATTR, "1", 1, 0);
}

static gboolean
sysem_sysv_key_file_is_sysems (const char *path)
{
  g_autofree char *base = NULL;
  struct stat st;
  char value;

  if (lgetxattr (path, SYSEM_SYSV_KEY_FILE_XATTR, &value, 1) == 1)
    return TRUE;

  base = g_path_get_basename (path);
  return g_str_has_prefix (base, SYSEM_LEGACY_PREFIX) &&
         lstat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size == 0;
}

static void
sysem_sysv_unlink_key_file (SysemSysv *self)
{
  if (sysem_sysv_file_is_ours (self) && sysem_sysv_key_file_is_sysems (self->parent.native))
    unlink (self->parent.native);
}

/* fork(): the child inherits no undo entries. The objects it inherited
 * are counted as users of their sets the first time the child uses them,
 * so that they can leave normally and the child's death is undone like
 * any other. Not at fork() itself: a child that only calls exec(), as
 * g_spawn() does, keeps its undo entries in the new program and would
 * keep the set alive, uncounted by anyone, until it exits.
 *
 * Until that first use the child holds an inheritance mark on the key
 * file (sysem-backend.h): whoever would remove the set as its last user,
 * and `sysem gc`, leave the set to the child, who removes it when it
 * leaves in its turn. */
static void
sysem_sysv_atfork_prepare (void)
{
  g_mutex_lock (&records_lock);
  g_mutex_lock (&key_fds_lock);

  if (records != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, records);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          SysemSysvRecord *record = value;
          struct stat st;
          int fd;

          if (record->joins == 0)
            continue;

          /* Best effort: without a mark (no descriptor left, the key
           * file replaced) the child is only protected once it used the
           * object. */
          fd = sysem_fork_mark_open (record->path, &st);
          if (fd == -1)
            continue;
          if (sysem_ftok_fd (&st) != record->ipc_key || !sysem_fork_mark_set (fd))
            {
              close (fd);
              continue;
            }
          record->fork_fd = fd;
        }
    }
}

static void
sysem_sysv_atfork_parent (void)
{
  if (records != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, records);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          SysemSysvRecord *record = value;

          if (record->fork_fd != -1)
            close (g_steal_fd (&record->fork_fd));
        }
    }

  g_mutex_unlock (&key_fds_lock);
  g_mutex_unlock (&records_lock);
}

static void
sysem_sysv_atfork_child (void)
{
  if (records != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, records);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          SysemSysvRecord *record = value;

          record->held = 0;
          /* A thread that was changing it plainly is not in the child. */
          record->in_plain = FALSE;
          /* The handles the child will close; the others were on their
           * way in or out in a thread that is not here. */
          record->joins = record->live;
          record->inherited = record->live;
          if (record->live == 0 && record->fork_fd != -1)
            close (g_steal_fd (&record->fork_fd));
          /* One mark is enough: the one just made, or one inherited from
           * a grandparent along with objects never used since. */
          if (record->fork_fd != -1)
            {
              if (record->mark_fd != -1)
                close (record->mark_fd);
              record->mark_fd = g_steal_fd (&record->fork_fd);
            }
        }
    }

  /* The threads that had these open are not in the child. */
  for (SysemKeyFd *kf = key_fds; kf != NULL; kf = kf->next)
    close (kf->fd);
  key_fds = NULL;

  fork_generation++;
  g_mutex_unlock (&key_fds_lock);
  g_mutex_unlock (&records_lock);
}

static void
sysem_sysv_atfork_init (void)
{
  static gsize atfork_once = 0;

  if (g_once_init_enter (&atfork_once))
    {
      pthread_atfork (sysem_sysv_atfork_prepare,
                      sysem_sysv_atfork_parent,
                      sysem_sysv_atfork_child);
      g_once_init_leave (&atfork_once, 1);
    }
}

/* In a child of fork(): count the inherited objects as users now. */
static void
sysem_sysv_adopt (SysemSysv *self)
{
  SysemSysvRecord *record = self->record;

  g_mutex_lock (&records_lock);
  if (record->inherited > 0)
    {
      struct sembuf op = { SEM_USERS, (short) record->inherited, SEM_UNDO };

      /* On failure the set is gone, and the operation that follows
       * reports it. */
      sysem_semop (record->semid, &op, 1);
      g_atomic_int_set (&record->inherited, 0);
    }
  /* A user now: the mark has done its work. */
  if (record->mark_fd != -1)
    close (g_steal_fd (&record->mark_fd));
  g_mutex_unlock (&records_lock);
}

static inline void
sysem_sysv_check_fork (SysemSysv *self)
{
  if (G_UNLIKELY (__atomic_load_n (&self->record->inherited, __ATOMIC_RELAXED) > 0))
    sysem_sysv_adopt (self);
}

/* Closing an object inherited through fork() and never used in this
 * process: there is no join of ours to undo. */
static gboolean
sysem_sysv_drop_inherited (SysemSysv *self)
{
  gboolean dropped = FALSE;

  g_mutex_lock (&records_lock);
  if (self->generation != fork_generation && self->record->inherited > 0)
    {
      if (--self->record->inherited == 0 && self->record->mark_fd != -1)
        close (g_steal_fd (&self->record->mark_fd));
      dropped = TRUE;
    }
  g_mutex_unlock (&records_lock);

  return dropped;
}

static void
sysem_sysv_record_free (gpointer data)
{
  SysemSysvRecord *record = data;

  if (record->mark_fd != -1)
    close (record->mark_fd);
  g_free (record->path);
  g_free (record);
}

static SysemSysvRecord *
sysem_sysv_record_get (SysemSysv *self,
                       gboolean   counted)
{
  SysemSysvRecord *record;
  int semid = self->semid;

  g_mutex_lock (&records_lock);

  if (records == NULL)
    records = g_hash_table_new_full (NULL, NULL, NULL, sysem_sysv_record_free);

  record = g_hash_table_lookup (records, GINT_TO_POINTER (semid));
  if (record == NULL)
    {
      record = g_new0 (SysemSysvRecord, 1);
      record->semid = semid;
      record->path = g_strdup (self->parent.native);
      record->ipc_key = self->ipc_key;
      record->mark_fd = -1;
      record->kick_hint = -1;
      record->fork_fd = -1;
      record->owner = sysem_sysv_thread_self ();
      record->shared = !sysem_membarrier_usable ();
      g_hash_table_insert (records, GINT_TO_POINTER (semid), record);
    }
  record->refs++;
  if (counted)
    record->joins++;
  self->parent.live_count = counted ? &record->live : NULL;

  g_mutex_unlock (&records_lock);

  return record;
}

/* A handle that was counted as a user left the set. */
static void
sysem_sysv_record_leave (SysemSysvRecord *record)
{
  g_mutex_lock (&records_lock);
  record->joins--;
  g_mutex_unlock (&records_lock);
}

static void
sysem_sysv_record_put (SysemSysvRecord *record,
                       gboolean         counted)
{
  g_mutex_lock (&records_lock);

  if (counted)
    record->joins--;
  if (--record->refs == 0)
    g_hash_table_remove (records, GINT_TO_POINTER (record->semid));

  g_mutex_unlock (&records_lock);
}

/* Squatting (DESIGN.md §3): the temporary directory and the kernel's key
 * space are shared with every user, so another user could make the key
 * file, or a world-writable set on its key, before us, and share or reset
 * our count. What belongs to another user who is not root is refused. */
static gboolean
sysem_sysv_uid_is_trusted (uid_t uid)
{
  return uid == 0 || uid == geteuid ();
}

static char *
sysem_sysv_user_name (uid_t uid)
{
  struct passwd pw, *result = NULL;
  char buf[1024];

  if (getpwuid_r (uid, &pw, buf, sizeof buf, &result) == 0 && result != NULL)
    return g_strdup_printf ("“%s” (%u)", result->pw_name, (guint) uid);

  return g_strdup_printf ("%u", (guint) uid);
}

static void
sysem_sysv_set_squatted (SysemSysv  *self,
                         gboolean    key_file,
                         uid_t       uid,
                         GError    **error)
{
  g_autofree char *user = sysem_sysv_user_name (uid);
  g_autofree char *reason = NULL;

  if (key_file)
    /* Translators: %s is a user name and number, or a number */
    reason = g_strdup_printf (_("the key file belongs to another user, %s"), user);
  else
    /* Translators: %s is a user name and number, or a number */
    reason = g_strdup_printf (_("the semaphore belongs to another user, %s"), user);

  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED,
                   key_file ? SYSEM_OP_KEY_FILE : SYSEM_OP_OPEN,
                   self->parent.display_key, reason);
}

/* The owner of a set we may not read, from /proc/sysvipc/sem; -1 if it
 * cannot be told. */
static gint64
sysem_sysv_set_owner_from_proc (int semid)
{
  char line[512];
  gint64 owner = -1;
  FILE *f;

  f = fopen ("/proc/sysvipc/sem", "re");
  if (f == NULL)
    return -1;

  /* key semid perms nsems uid gid cuid cgid otime ctime */
  while (fgets (line, sizeof line, f) != NULL)
    {
      long long key, id;
      unsigned int perms, nsems, uid, gid, cuid;

      if (sscanf (line, "%lld %lld %o %u %u %u %u", &key, &id, &perms, &nsems,
                  &uid, &gid, &cuid) == 7 && id == semid)
        {
          owner = !sysem_sysv_uid_is_trusted (cuid) ? cuid : uid;
          break;
        }
    }

  fclose (f);
  return owner;
}

/* Why the key file could not be opened. ELOOP is a link in its place
 * (O_NOFOLLOW), or a loop of links on the way to it, as in a TMPDIR that
 * points at itself; ENXIO is a socket or a device without a driver. */
static void
sysem_sysv_set_open_error (SysemSysv  *self,
                           int         errsv,
                           GError    **error)
{
  const char *path = self->parent.native;
  struct stat st;

  if (errsv == ELOOP || errsv == ENXIO || errsv == ENODEV)
    {
      if (lstat (path, &st) == 0)
        {
          sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE,
                           self->parent.display_key,
                           S_ISLNK (st.st_mode) ? _("the key file is a symbolic link")
                                                : _("the key file is not a regular file"));
          return;
        }

      if (errno == ELOOP)
        {
          g_autofree char *dir = g_path_get_dirname (path);
          g_autofree char *reason =
            /* Translators: %s is a directory */
            g_strdup_printf (_("the directory %s leads to a loop of symbolic links"), dir);

          sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE,
                           self->parent.display_key, reason);
          return;
        }
    }

  sysem_set_error_errno (error, SYSEM_OP_KEY_FILE, self->parent.display_key, errsv);
}

/* Makes the key file already locked: unnamed (O_TMPFILE), locked, then
 * linked into place, which fails with EEXIST if a file is there. So nobody
 * else can have locked it, or made a set for it, before us (see
 * sysem_sysv_remake_key_file()), and a process killed on the way leaves
 * nothing. Where O_TMPFILE or /proc is missing (overlayfs before Linux
 * 6.6), the file is made under a temporary name instead, which Qt never
 * looks for and `sysem gc` removes if its maker died before the link
 * (SYSEM_SYSV_TEMP_PREFIX). -1 with errno EOPNOTSUPP where neither can be
 * done: the caller makes it the usual way. */
static int
sysem_sysv_make_key_file_locked (SysemSysv  *self,
                                 SysemKeyFd *kf)
{
  g_autofree char *dir = g_path_get_dirname (self->parent.native);
  g_autofree char *tmp = NULL;
  char fd_path[64];
  int res, errsv;

  /* Made and put on the list in one step, for fork(). */
  g_mutex_lock (&key_fds_lock);
  kf->fd = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0640);
  if (kf->fd == -1)
    {
      tmp = g_build_filename (dir, SYSEM_SYSV_TEMP_PREFIX "XXXXXX", NULL);
      kf->fd = g_mkstemp_full (tmp, O_RDONLY | O_CLOEXEC, 0640);
    }
  if (kf->fd != -1)
    sysem_key_fd_link_locked (kf);
  g_mutex_unlock (&key_fds_lock);
  if (kf->fd == -1)
    {
      /* Any error shows again on the usual way. */
      errno = EOPNOTSUPP;
      return -1;
    }

  sysem_sysv_mark_key_file (kf->fd);
  sysem_flock (kf->fd, LOCK_EX);
  if (tmp != NULL)
    res = link (tmp, self->parent.native);
  else
    {
      g_snprintf (fd_path, sizeof fd_path, "/proc/self/fd/%d", kf->fd);
      res = linkat (AT_FDCWD, fd_path, AT_FDCWD, self->parent.native, AT_SYMLINK_FOLLOW);
    }
  errsv = errno;
  if (tmp != NULL)
    unlink (tmp);
  if (res == 0)
    {
      self->key_file_fresh = TRUE;
      return kf->fd;
    }

  sysem_key_fd_close (kf);
  /* EEXIST: someone's file is there, opened the usual way. A link
   * refused (a file system without hard links, no /proc): the usual way
   * too. */
  errno = errsv == EEXIST ? EEXIST : EOPNOTSUPP;
  return -1;
}

/* Opens or creates the key file into @kf and locks it. Returns 1 when
 * done, -1 with an error, 0 to start again (the file vanished). */
static int
sysem_sysv_open_key_file (SysemSysv   *self,
                          SysemKeyFd  *kf,
                          GError     **error)
{
  const char *path = self->parent.native;
  gboolean lockable = TRUE;
  struct stat st;
  int fd;

  self->key_file_fresh = FALSE;
  self->made_key_file = FALSE;

  /* Most opens find the file there. */
  fd = sysem_key_fd_open (kf, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd == -1 && errno == ENOENT)
    {
      fd = sysem_sysv_make_key_file_locked (self, kf);
      if (fd == -1 && errno == EOPNOTSUPP)
        fd = sysem_key_fd_open (kf, path, O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_RDONLY, 0640);
      self->made_key_file = fd != -1;
      if (fd != -1 && !self->key_file_fresh)
        sysem_sysv_mark_key_file (fd);
      if (fd == -1 && errno == EEXIST)
        return 0;   /* made by another meanwhile: open that one */
    }
  else if (fd == -1 && errno == EACCES)
    {
      /* A file we may not read: it still names the key, and the set's
       * own permissions decide. We cannot lock it. */
      fd = sysem_key_fd_open (kf, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
      lockable = FALSE;
    }

  if (fd == -1)
    {
      sysem_sysv_set_open_error (self, errno, error);
      return -1;
    }

  if (fstat (fd, &st) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_KEY_FILE, self->parent.display_key, errno);
      sysem_key_fd_close (kf);
      return -1;
    }

  if (!S_ISREG (st.st_mode))
    {
      if (S_ISLNK (st.st_mode))
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE,
                         self->parent.display_key,
                         _("the key file is a symbolic link"));
      else
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE,
                         self->parent.display_key,
                         _("the key file is not a regular file"));
      sysem_key_fd_close (kf);
      return -1;
    }

  if (!sysem_sysv_uid_is_trusted (st.st_uid))
    {
      sysem_sysv_set_squatted (self, TRUE, st.st_uid, error);
      sysem_key_fd_close (kf);
      return -1;
    }

  if (lockable)
    sysem_flock (fd, LOCK_EX);

  /* While we waited for the lock, the last user may have removed the file;
   * a new one may stand in its place. Use only the file in the directory. */
  self->file_dev = st.st_dev;
  self->file_ino = st.st_ino;
  if (!sysem_sysv_file_is_ours (self))
    {
      sysem_key_fd_close (kf);
      return 0;
    }

  self->ipc_key = sysem_ftok_fd (&st);
  return 1;
}

/* ftok() keeps 8 bits of the device and 16 of the inode, so two key files
 * can have one kernel key, and with it one set: two keys would share a
 * count. When the key file is one we have just made, nobody can have made
 * a set for it (it is locked, and its makers hold the lock while they
 * make one), so a set on its key belongs to another file. Then we make a
 * new file beside it, locked, with another kernel key, and rename it into
 * place: the newcomers waiting for the old file's lock see the file
 * changed and start again. Returns FALSE if that could not be done; the
 * set found is joined then, as Qt would. */
static gboolean
sysem_sysv_remake_key_file (SysemSysv  *self,
                            SysemKeyFd *kf)
{
  for (guint tries = 0; tries < 16; tries++)
    {
      g_autofree char *name = g_strconcat (self->parent.native, ".XXXXXX", NULL);
      SysemKeyFd new_kf = { -1, NULL, NULL };
      struct stat st;
      int fd;

      fd = g_mkstemp_full (name, O_RDONLY | O_CLOEXEC, 0640);
      if (fd == -1)
        return FALSE;
      close (fd);

      /* Opened again through the list, which a child of fork() closes. */
      if (sysem_key_fd_open (&new_kf, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0) == -1 ||
          fstat (new_kf.fd, &st) == -1)
        {
          sysem_key_fd_close (&new_kf);
          unlink (name);
          return FALSE;
        }

      if (semget (sysem_ftok_fd (&st), 0, 0) != -1 || errno != ENOENT)
        {
          /* Its key is taken too: try another inode. */
          sysem_key_fd_close (&new_kf);
          unlink (name);
          continue;
        }

      sysem_sysv_mark_key_file (new_kf.fd);
      sysem_flock (new_kf.fd, LOCK_EX);
      if (rename (name, self->parent.native) == -1)
        {
          sysem_key_fd_close (&new_kf);
          unlink (name);
          return FALSE;
        }

      sysem_key_fd_close (kf);
      /* The list holds the entry's address: move it to *kf. */
      g_mutex_lock (&key_fds_lock);
      *kf = new_kf;
      if (kf->prev != NULL)
        kf->prev->next = kf;
      else
        key_fds = kf;
      if (kf->next != NULL)
        kf->next->prev = kf;
      g_mutex_unlock (&key_fds_lock);

      self->file_dev = st.st_dev;
      self->file_ino = st.st_ino;
      self->ipc_key = sysem_ftok_fd (&st);
      return TRUE;
    }

  return FALSE;
}

/* Locks the key file through which newcomers reach our set, for leaving
 * or removing it: the file in the directory, if its key is still ours.
 * Without one (deleted, replaced, another user's we may not read) nobody
 * can join through it, and there is nothing to lock. */
static void
sysem_sysv_lock_key_file (SysemSysv  *self,
                          SysemKeyFd *kf)
{
  for (guint tries = 0; tries < 16; tries++)
    {
      struct stat st, now;

      if (sysem_key_fd_open (kf, self->parent.native,
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0) == -1)
        return;

      if (fstat (kf->fd, &st) == -1 || !S_ISREG (st.st_mode) ||
          sysem_ftok_fd (&st) != self->ipc_key)
        break;

      sysem_flock (kf->fd, LOCK_EX);
      if (lstat (self->parent.native, &now) == 0 &&
          now.st_dev == st.st_dev && now.st_ino == st.st_ino)
        return;

      /* Removed or replaced while we waited: look again. */
      sysem_key_fd_close (kf);
    }

  sysem_key_fd_close (kf);
}

static gboolean
sysem_sysv_set_value (SysemSysv  *self,
                      int         value,
                      GError    **error)
{
  union sysem_semun arg = { .val = value };

  /* sysem_sysv_open() refused values above SYSEM_SYSV_MAX. */
  if (semctl (self->semid, SEM_VALUE, SETVAL, arg) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      return FALSE;
    }

  /* SETVAL cleared the undo entries of every process for this semaphore,
   * ours included. */
  if (self->record != NULL)
    sysem_sysv_held_clear (self->record);

  return TRUE;
}

/* A sysem set whose creator died between semget (IPC_CREAT) and its first
 * semop(): nobody ever operated on it (the kernel's sem_otime is 0: SETVAL
 * does not set it, joining does), nobody counts as its user and nobody
 * waits. sysem creates sets under the key file's lock, so under that lock
 * this is never a set being made. Qt's sets (one semaphore) are not
 * judged: Qt makes them without a lock. */
static gboolean
sysem_sysv_is_half_made (int                    semid,
                         const struct semid_ds *ds)
{
  return ds->sem_nsems >= SYSEM_SET_SIZE && ds->sem_otime == 0 &&
         semctl (semid, SEM_USERS, GETVAL) == 0 &&
         semctl (semid, SEM_VALUE, GETNCNT) == 0 &&
         semctl (semid, SEM_VALUE, GETZCNT) == 0;
}

/* Joins a set that exists: returns 1 when done, 0 to start again, -1 on
 * error. */
static int
sysem_sysv_join (SysemSysv        *self,
                 int               initial_value,
                 SysemAccessMode   mode,
                 GError          **error)
{
  struct semid_ds ds;
  union sysem_semun arg = { .buf = &ds };

  self->semid = semget (self->ipc_key, 0, 0);
  if (self->semid == -1)
    {
      if (errno == ENOENT)
        return 0;
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      return -1;
    }

  if (semctl (self->semid, 0, IPC_STAT, arg) == -1)
    {
      int errsv = errno;
      gint64 owner;

      if (errsv == EINVAL || errsv == EIDRM)
        return 0;
      owner = errsv == EACCES ? sysem_sysv_set_owner_from_proc (self->semid) : -1;
      if (owner >= 0 && !sysem_sysv_uid_is_trusted ((uid_t) owner))
        sysem_sysv_set_squatted (self, FALSE, (uid_t) owner, error);
      else
        sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errsv);
      self->semid = -1;
      return -1;
    }

  /* Made, or handed over with IPC_SET, by another user: refused before it
   * is joined or its count is touched. */
  if (!sysem_sysv_uid_is_trusted (ds.sem_perm.cuid) ||
      !sysem_sysv_uid_is_trusted (ds.sem_perm.uid))
    {
      sysem_sysv_set_squatted (self, FALSE,
                               !sysem_sysv_uid_is_trusted (ds.sem_perm.cuid) ?
                               ds.sem_perm.cuid : ds.sem_perm.uid,
                               error);
      self->semid = -1;
      return -1;
    }

  /* Its creator died before making it (see sysem_sysv_is_half_made()):
   * finish it, as the creator would have. */
  if (sysem_sysv_is_half_made (self->semid, &ds))
    mode = SYSEM_ACCESS_MODE_CREATE;

  self->kickable = ds.sem_nsems >= SYSEM_SET_SIZE_KICK;
  if (ds.sem_nsems >= SYSEM_SET_SIZE)
    {
      struct sembuf op = { SEM_USERS, 1, SEM_UNDO };

      if (sysem_semop (self->semid, &op, 1) == -1)
        {
          if (errno == EINVAL || errno == EIDRM)
            return 0;
          sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
          return -1;
        }
      self->counted = TRUE;
    }
  else if (mode == SYSEM_ACCESS_MODE_CREATE)
    {
      /* A set made by Qt: Create takes it over, as in Qt. */
      self->owner = TRUE;
    }

  self->record = sysem_sysv_record_get (self, self->counted);

  if (mode == SYSEM_ACCESS_MODE_CREATE &&
      !sysem_sysv_set_value (self, initial_value, error))
    return -1;

  return 1;
}

static int
sysem_sysv_create_set (SysemSysv  *self,
                       int         initial_value,
                       GError    **error)
{
  struct sembuf op = { SEM_USERS, 1, SEM_UNDO };

  self->semid = semget (self->ipc_key, SYSEM_SET_SIZE_KICK, IPC_CREAT | IPC_EXCL | 0600);
  if (self->semid == -1)
    {
      if (errno == EEXIST)
        return 0;
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      return -1;
    }

  if (!sysem_sysv_set_value (self, initial_value, error) ||
      sysem_semop (self->semid, &op, 1) == -1)
    {
      if (error != NULL && *error == NULL)
        sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      semctl (self->semid, 0, IPC_RMID);
      self->semid = -1;
      return -1;
    }

  self->counted = TRUE;
  self->kickable = TRUE;
  self->record = sysem_sysv_record_get (self, TRUE);
  return 1;
}

static void
sysem_sysv_free (SysemSysv *self)
{
  if (self->record != NULL)
    sysem_sysv_record_put (self->record, self->counted);
  sysem_handle_clear (&self->parent);
  g_free (self);
}

/* Leaves the user count; returns TRUE if this was the last user. */
static gboolean
sysem_sysv_leave (SysemSysv *self)
{
  for (guint tries = 0; tries < 1000; tries++)
    {
      /* Not the last: at least two users, and we take one away. */
      struct sembuf not_last[] = {
        { SEM_USERS, -2, SEM_UNDO | IPC_NOWAIT },
        { SEM_USERS, 1, SEM_UNDO },
      };
      /* The last: one user, and it goes to zero. */
      struct sembuf last[] = {
        { SEM_USERS, -1, SEM_UNDO | IPC_NOWAIT },
        { SEM_USERS, 0, IPC_NOWAIT },
      };

      if (sysem_semop (self->semid, not_last, G_N_ELEMENTS (not_last)) == 0)
        return FALSE;
      if (errno != EAGAIN)
        return FALSE;   /* removed under us: nothing left to do */
      if (sysem_semop (self->semid, last, G_N_ELEMENTS (last)) == 0)
        return TRUE;
      if (errno != EAGAIN)
        return FALSE;
      /* A user arrived or left between the two: look again. */
    }

  return FALSE;
}

/* Leaves the set, under the key file's lock, which is on @key_fd (-1: no
 * file to lock, see sysem_sysv_lock_key_file()). */
static void
sysem_sysv_close_locked (SysemSysv *self,
                         int        key_fd)
{
  SysemHandle *handle = &self->parent;
  gboolean remove_set = FALSE;

  if (!sysem_handle_is_removed (handle) && self->counted)
    {
      if (!sysem_sysv_drop_inherited (self))
        remove_set = sysem_sysv_leave (self);
      else
        /* Inherited and never used: no user of ours to take away, but
         * the last one, if the parent left already. */
        remove_set = semctl (self->semid, SEM_USERS, GETVAL) == 0;

      /* A child of fork() that has not used its object yet still needs
       * the set: it removes it when it leaves. */
      if (remove_set && sysem_fork_marked_elsewhere (key_fd))
        remove_set = FALSE;
    }
  else if (!sysem_handle_is_removed (handle) && self->owner)
    remove_set = TRUE;

  if (remove_set)
    {
      semctl (self->semid, 0, IPC_RMID);
      sysem_sysv_unlink_key_file (self);
    }
  else if (semget (self->ipc_key, 0, 0) == -1 && errno == ENOENT)
    {
      /* The set went away under us (ipcrm, or a Qt owner), also when an
       * operation of ours already saw it gone: the key file names nothing
       * now. */
      sysem_sysv_unlink_key_file (self);
    }

  /* The rest stays for a call that may still be running on this handle
   * (sysem-backend.h). */
  if (self->record != NULL && self->counted)
    sysem_sysv_record_leave (self->record);
  self->counted = FALSE;
  sysem_handle_set_removed (handle);
}

static void
sysem_sysv_close (SysemHandle *handle)
{
  SysemSysv *self = (SysemSysv *) handle;
  SysemKeyFd kf = { -1, NULL, NULL };

  sysem_sysv_lock_key_file (self, &kf);
  sysem_sysv_close_locked (self, kf.fd);
  sysem_key_fd_close (&kf);
}

static void
sysem_sysv_handle_free (SysemHandle *handle)
{
  sysem_sysv_free ((SysemSysv *) handle);
}

static void
sysem_sysv_set_lost (SysemSysv  *self,
                     SysemOp     op,
                     int         errsv,
                     GError    **error)
{
  if (errsv == EINVAL || errsv == EIDRM)
    {
      sysem_handle_set_removed (&self->parent);
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, op,
                       self->parent.display_key, _("it was removed"));
    }
  else
    sysem_set_error_errno (error, op, self->parent.display_key, errsv);
}

/* The kernel keeps at most SEMAEM (32767) units of undo per process and
 * semaphore. A process that takes more units than it gives back reaches
 * that: the producer of a ring buffer, whose consumer releases the slots it
 * filled, does after 32767 records. Past it Qt's acquire fails with ERANGE;
 * sysem takes the unit without undo instead, so at most 32767 units of such
 * a process come back when it dies.
 *
 * One attempt, with @guard (n_guard operations on the kick semaphore)
 * before the take: 1 when a unit was taken, 0 when not yet (errno is
 * EAGAIN or EINTR), -1 on error. Inline: a blocking wait makes one per
 * hand-off, and a call of its own saved six registers. */
static inline __attribute__ ((always_inline)) int
sysem_sysv_take_guarded (SysemSysv             *self,
                         struct sembuf         *ops,
                         size_t                 n_guard,
                         short                  flags,
                         const struct timespec *timeout)
{
  gboolean undo = sysem_sysv_held_get (self->record) < SYSEM_SYSV_MAX;
  int res;

  ops[n_guard] = (struct sembuf) { SEM_VALUE, -1, flags | (undo ? SEM_UNDO : 0) };
  res = sysem_sysv_semtimedop (self->semid, ops, n_guard + 1, timeout);

  if (res == -1 && errno == ERANGE && undo)
    {
      /* Full although our count said not: another thread got there first. */
      undo = FALSE;
      ops[n_guard].sem_flg &= ~SEM_UNDO;
      res = sysem_sysv_semtimedop (self->semid, ops, n_guard + 1, timeout);
    }

  if (res == 0)
    {
      if (undo)
        sysem_sysv_held_add (self->record, 1);
      return 1;
    }

  return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

static int
sysem_sysv_take (SysemSysv             *self,
                 short                  flags,
                 const struct timespec *timeout)
{
  struct sembuf op;

  return sysem_sysv_take_guarded (self, &op, 0, flags, timeout);
}

/* The time left until @deadline, for semtimedop(); FALSE if none is. */
static gboolean
sysem_sysv_time_left (gint64           deadline,
                      struct timespec *ts)
{
  gint64 left = deadline - g_get_monotonic_time ();

  if (left <= 0)
    return FALSE;

  ts->tv_sec = left / G_USEC_PER_SEC;
  ts->tv_nsec = (left % G_USEC_PER_SEC) * 1000;
  return TRUE;
}

/* A wait with a deadline and nothing to watch but the set: the kernel
 * wakes us for a unit, and for a removal (EIDRM). */
static int
sysem_sysv_wait_until (SysemSysv *self,
                       gint64     deadline)
{
  for (;;)
    {
      struct timespec ts;
      int res;

      if (!sysem_sysv_time_left (deadline, &ts))
        {
          do
            res = sysem_sysv_take (self, IPC_NOWAIT, NULL);
          while (res == 0 && errno == EINTR);
          return res;
        }

      res = sysem_sysv_take (self, 0, &ts);
      if (res != 0)
        return res;
      /* EAGAIN: the time ran out; EINTR: a signal. Look again. */
    }
}

/* Cancelling a wait on a set with a kick semaphore: changing its value
 * makes every guarded sleeper on the set fail at once with EAGAIN. It
 * counts up and wraps to 0 at the maximum; only a change matters. */
static void
sysem_sysv_kick_cb (gpointer user_data)
{
  SysemSysv *self = user_data;
  struct sembuf kick = { SEM_KICK, 1, IPC_NOWAIT };

  if (sysem_semop (self->semid, &kick, 1) == -1 && errno == ERANGE)
    {
      union sysem_semun arg = { .val = 0 };

      semctl (self->semid, SEM_KICK, SETVAL, arg);
    }
}

/* A cancellable wait on a set made by sysem 1.1, without slices: the take
 * is guarded by operations that require the kick semaphore to still have
 * the value read before, so a cancel (which changes it) wakes the wait. */
static int
sysem_sysv_wait_kicked (SysemSysv     *self,
                        gint64         deadline,
                        GCancellable  *cancellable,
                        GError       **error)
{
  SysemCancelWait cancel_wait;
  gboolean begun = FALSE;
  int res;

  for (;;)
    {
      struct sembuf ops[4];
      struct timespec ts;
      size_t n = 0;
      int generation;
      gboolean cancelled;
      short flags = 0;

      /* The value of the last wait saves a system call; if a cancel
       * changed it since, the guard fails at once and the next pass
       * reads it. */
      generation = g_atomic_int_get (&self->record->kick_hint);
      if (generation < 0)
        generation = semctl (self->semid, SEM_KICK, GETVAL);
      if (generation == -1)
        {
          res = -1;
          break;
        }

      /* A cancel from now on changes the value from this one. The first
       * pass looks as it begins the wait, the others here; a cancel
       * undone since needs no answer. */
      cancelled = begun ? g_cancellable_is_cancelled (cancellable)
                        : sysem_cancel_wait_begin (&cancel_wait, cancellable, sysem_sysv_kick_cb, self);
      begun = TRUE;
      if (cancelled && g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          res = -2;
          break;
        }

      /* kick - generation, then kick == 0, then kick + generation: the
       * kick semaphore holds @generation exactly, or EAGAIN at once. */
      if (generation > 0)
        ops[n++] = (struct sembuf) { SEM_KICK, (short) -generation, IPC_NOWAIT };
      ops[n++] = (struct sembuf) { SEM_KICK, 0, IPC_NOWAIT };
      if (generation > 0)
        ops[n++] = (struct sembuf) { SEM_KICK, (short) generation, 0 };

      if (deadline != SYSEM_DEADLINE_FOREVER && !sysem_sysv_time_left (deadline, &ts))
        flags = IPC_NOWAIT;

      res = sysem_sysv_take_guarded (self, ops, n,  flags,
                                     deadline != SYSEM_DEADLINE_FOREVER && flags == 0 ? &ts : NULL);
      __atomic_store_n (&self->record->kick_hint, res == 1 ? generation : -1, __ATOMIC_RELAXED);
      if (res != 0)
        break;
      if (flags == IPC_NOWAIT && errno == EAGAIN)
        break;   /* the deadline passed */
      /* Kicked, timed out (the next pass sees it), or interrupted. */
    }

  if (begun)
    sysem_cancel_wait_end (&cancel_wait);
  return res;
}

/* A cancellable wait on a set without a kick semaphore (Qt's, or one made
 * by sysem 1.0): the kernel cannot wake us for a GCancellable, so wait in
 * slices and look between them. */
static int
sysem_sysv_wait_sliced (SysemSysv     *self,
                        gint64         deadline,
                        GCancellable  *cancellable,
                        GError       **error)
{
  for (;;)
    {
      gint64 slice_end, now;
      struct timespec ts;
      int res;

      if (!sysem_wait_slice (deadline, cancellable, &slice_end, error))
        return -2;

      now = g_get_monotonic_time ();
      if (slice_end <= now)
        {
          res = sysem_sysv_take (self, IPC_NOWAIT, NULL);
          if (res == 0 && errno == EINTR)
            continue;
        }
      else
        {
          ts.tv_sec = (slice_end - now) / G_USEC_PER_SEC;
          ts.tv_nsec = ((slice_end - now) % G_USEC_PER_SEC) * 1000;
          res = sysem_sysv_take (self, 0, &ts);
        }

      if (res != 0)
        return res;
      if (deadline != SYSEM_DEADLINE_FOREVER && g_get_monotonic_time () >= deadline)
        return 0;
    }
}

static G_GNUC_NO_INLINE gboolean
sysem_sysv_acquire_slow (SysemSysv     *self,
                         gint64         deadline,
                         GCancellable  *cancellable,
                         GError       **error)
{
  int res;

  sysem_sysv_check_fork (self);

  if (deadline == SYSEM_DEADLINE_NOW || (deadline == SYSEM_DEADLINE_FOREVER && cancellable == NULL))
    {
      short flags = deadline == SYSEM_DEADLINE_NOW ? IPC_NOWAIT : 0;

      do
        res = sysem_sysv_take (self, flags, NULL);
      while (res == 0 && errno == EINTR);
    }
  else if (cancellable == NULL)
    res = sysem_sysv_wait_until (self, deadline);
  else if (self->kickable)
    /* Its first semop takes a free unit at once: trying one without the
     * guard first would cost every wait a failed system call. */
    res = sysem_sysv_wait_kicked (self, deadline, cancellable, error);
  else if ((res = sysem_sysv_take (self, IPC_NOWAIT, NULL)) != 0)
    ;   /* a free unit, or an error: no need to watch the cancellable */
  else
    res = sysem_sysv_wait_sliced (self, deadline, cancellable, error);

  if (res == 1)
    return TRUE;
  if (res == -1)
    sysem_sysv_set_lost (self, SYSEM_OP_ACQUIRE, errno, error);
  return FALSE;
}

static gboolean
sysem_sysv_acquire (SysemHandle   *handle,
                    gint64         deadline,
                    GCancellable  *cancellable,
                    GError       **error)
{
  SysemSysv *self = (SysemSysv *) handle;
  SysemSysvRecord *record = self->record;

  /* The uncontended path: one system call, no lock, no atomic. Anything
   * else (a child of fork() that has not joined yet, a full undo record,
   * a wait that must watch something, an error) is the slow path's. */
  if (G_LIKELY (deadline == SYSEM_DEADLINE_NOW || deadline == SYSEM_DEADLINE_FOREVER) &&
      G_LIKELY (cancellable == NULL || deadline == SYSEM_DEADLINE_NOW) &&
      G_LIKELY (__atomic_load_n (&record->inherited, __ATOMIC_RELAXED) == 0) &&
      G_LIKELY (sysem_sysv_held_get (record) < SYSEM_SYSV_MAX))
    {
      struct sembuf op = { SEM_VALUE, -1,
                           SEM_UNDO | (deadline == SYSEM_DEADLINE_NOW ? IPC_NOWAIT : 0) };
      long res = sysem_sysv_semtimedop_raw (self->semid, &op, 1, NULL);

      if (G_LIKELY (res == 0))
        {
          sysem_sysv_held_add (record, 1);
          return TRUE;
        }
      if (res == -EAGAIN && deadline == SYSEM_DEADLINE_NOW)
        return FALSE;
    }

  return sysem_sysv_acquire_slow (self, deadline, cancellable, error);
}

/* No time to wait, no cancellable, no error: acquire() with those. */
static gboolean
sysem_sysv_try_acquire (SysemHandle *handle)
{
  return sysem_sysv_acquire (handle, SYSEM_DEADLINE_NOW, NULL, NULL);
}

static G_GNUC_NO_INLINE gboolean
sysem_sysv_release_slow (SysemSysv  *self,
                         int         n,
                         int         undone,
                         GError    **error)
{
  struct sembuf ops[2];
  size_t n_ops = 0;
  int errsv;

  if (undone > 0)
    ops[n_ops++] = (struct sembuf) { SEM_VALUE, (short) undone, SEM_UNDO };
  if (n - undone > 0)
    ops[n_ops++] = (struct sembuf) { SEM_VALUE, (short) (n - undone), 0 };

  /* Never blocks: an interruption only before it began. */
  if (sysem_semop (self->semid, ops, n_ops) == 0)
    return TRUE;

  errsv = errno;
  if (errsv == ERANGE && undone > 0)
    {
      int value = semctl (self->semid, SEM_VALUE, GETVAL);

      /* The count has room, so our undo record is what overflowed: it
       * was smaller than we counted, because someone reset the count
       * (SETVAL clears every process's undo). Add the units plainly. */
      if (value >= 0 && value <= SYSEM_SYSV_MAX - n)
        {
          struct sembuf plain = { SEM_VALUE, (short) n, 0 };

          if (sysem_semop (self->semid, &plain, 1) == 0)
            return TRUE;
          errsv = errno;
        }
    }

  /* Nothing was released: the units are still ours, and so are their
   * undo entries. Forgetting them would make a later release plain and
   * let the kernel add them again when we exit. */
  if (undone > 0)
    sysem_sysv_held_add (self->record, undone);

  if (errsv == ERANGE)
    sysem_set_error_too_many (error, SYSEM_OP_RELEASE, self->parent.display_key, SYSEM_SYSV_MAX);
  else
    sysem_sysv_set_lost (self, SYSEM_OP_RELEASE, errsv, error);
  return FALSE;
}

static gboolean
sysem_sysv_release (SysemHandle  *handle,
                    int           n,
                    GError      **error)
{
  SysemSysv *self = (SysemSysv *) handle;
  int undone;

  if (G_UNLIKELY (n > SYSEM_SYSV_MAX))
    {
      sysem_set_error_too_many (error, SYSEM_OP_RELEASE, handle->display_key, SYSEM_SYSV_MAX);
      return FALSE;
    }

  sysem_sysv_check_fork (self);

  /* Give back with SEM_UNDO the units this process took with it, so their
   * undo entries cancel out; the rest are new units that stay. */
  undone = sysem_sysv_held_take (self->record, n);
  if (G_LIKELY (undone == n))
    {
      struct sembuf op = { SEM_VALUE, (short) n, SEM_UNDO };

      if (G_LIKELY (sysem_sysv_semtimedop_raw (self->semid, &op, 1, NULL) == 0))
        return TRUE;
    }

  return sysem_sysv_release_slow (self, n, undone, error);
}

static int
sysem_sysv_get_value (SysemHandle  *handle,
                      GError      **error)
{
  SysemSysv *self = (SysemSysv *) handle;
  int value;

  sysem_sysv_check_fork (self);
  value = semctl (self->semid, SEM_VALUE, GETVAL);

  if (value == -1)
    sysem_sysv_set_lost (self, SYSEM_OP_GET_VALUE, errno, error);

  return value;
}

static gboolean
sysem_sysv_stats (SysemHandle  *handle,
                  SysemStats   *stats,
                  GError      **error)
{
  SysemSysv *self = (SysemSysv *) handle;
  struct semid_ds ds;
  union sysem_semun arg = { .buf = &ds };

  sysem_sysv_check_fork (self);
  if (semctl (self->semid, 0, IPC_STAT, arg) == -1)
    {
      sysem_sysv_set_lost (self, SYSEM_OP_GET_VALUE, errno, error);
      return FALSE;
    }

  stats->key_type = SYSEM_KEY_TYPE_SYSTEM_V;
  stats->id = self->semid;
  stats->n_sems = ds.sem_nsems;
  stats->mode = ds.sem_perm.mode & 0777;
  stats->uid = ds.sem_perm.uid;
  stats->changed = MAX (ds.sem_otime, ds.sem_ctime);
  stats->value = semctl (self->semid, SEM_VALUE, GETVAL);
  stats->waiters = semctl (self->semid, SEM_VALUE, GETNCNT);
  stats->last_pid = semctl (self->semid, SEM_VALUE, GETPID);
  stats->users = ds.sem_nsems >= SYSEM_SET_SIZE ? semctl (self->semid, SEM_USERS, GETVAL) : -1;

  return TRUE;
}

static gboolean
sysem_sysv_keep (SysemHandle  *handle,
                 GError      **error)
{
  SysemSysv *self = (SysemSysv *) handle;

  if (self->counted)
    {
      /* A user that no process owns (no SEM_UNDO): only a removal takes
       * the set away now. */
      struct sembuf pin = { SEM_USERS, 1, 0 };

      if (sysem_semop (self->semid, &pin, 1) == -1)
        {
          sysem_sysv_set_lost (self, SYSEM_OP_OPEN, errno, error);
          return FALSE;
        }
    }

  /* A set made by Qt is removed by its creator when it closes: not now. */
  self->owner = FALSE;
  return TRUE;
}

static gboolean
sysem_sysv_remove (SysemHandle  *handle,
                   GError      **error)
{
  SysemSysv *self = (SysemSysv *) handle;
  SysemKeyFd kf = { -1, NULL, NULL };
  gboolean ok = TRUE;

  sysem_sysv_lock_key_file (self, &kf);

  if (semctl (self->semid, 0, IPC_RMID) == -1)
    {
      sysem_sysv_set_lost (self, SYSEM_OP_REMOVE, errno, error);
      ok = FALSE;
    }
  else
    {
      sysem_handle_set_removed (handle);
      sysem_sysv_unlink_key_file (self);
    }

  sysem_key_fd_close (&kf);
  return ok;
}


static SysemHandle *
sysem_sysv_open (const char       *display_key,
                 const char       *native,
                 int               initial_value,
                 SysemAccessMode   mode,
                 GError          **error)
{
  SysemSysv *self = g_new0 (SysemSysv, 1);

  sysem_handle_init (&self->parent, &sysem_sysv_backend, display_key, native);
  self->semid = -1;
  self->generation = fork_generation;
  sysem_sysv_atfork_init ();

  if (initial_value > SYSEM_SYSV_MAX)
    {
      g_autofree char *reason =
        g_strdup_printf (_("the initial value %d is larger than the maximum of %d"),
                         initial_value, SYSEM_SYSV_MAX);

      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, SYSEM_OP_OPEN,
                       display_key, reason);
      sysem_sysv_free (self);
      return NULL;
    }

  /* Each pass either finishes or saw another process remove what it was
   * about to use; a few passes settle any such race. */
  for (guint tries = 0; tries < 64; tries++)
    {
      SysemKeyFd kf = { -1, NULL, NULL };
      int res;

      res = sysem_sysv_open_key_file (self, &kf, error);
      if (res == 0)
        continue;
      if (res == -1)
        {
          sysem_sysv_free (self);
          return NULL;
        }

      res = sysem_sysv_create_set (self, initial_value, error);
      for (guint other = 0; res == 0 && self->key_file_fresh && other < 16; other++)
        {
          /* A set on the key of a file we have just made is another
           * key's: give ours another inode, and so another key. */
          if (!sysem_sysv_remake_key_file (self, &kf))
            break;
          res = sysem_sysv_create_set (self, initial_value, error);
        }
      if (res == 0)
        res = sysem_sysv_join (self, initial_value, mode, error);

      if (res == -1)
        {
          /* Leave what we joined, undo what we made: also a key file
           * made for a set we refused or could not make. */
          sysem_sysv_close_locked (self, kf.fd);
          if (self->made_key_file && self->semid == -1)
            sysem_sysv_unlink_key_file (self);
          sysem_key_fd_close (&kf);
          sysem_sysv_free (self);
          return NULL;
        }

      sysem_key_fd_close (&kf);
      if (res == 1)
        return &self->parent;
    }

  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_UNKNOWN, SYSEM_OP_OPEN, display_key,
                   _("other processes kept creating and removing it"));
  sysem_sysv_free (self);
  return NULL;
}

/* Naming */

static gboolean
sysem_sysv_derive_key (const char  *key,
                       char       **native_out,
                       GError     **error)
{
  g_autofree char *name = sysem_key_legacy_name (key, strlen (key));
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;

  if (strlen (name) > NAME_MAX)
    {
      sysem_key_set_too_long (error, key);
      return FALSE;
    }

  dir = sysem_key_temp_dir ();
  if (g_str_equal (dir, "/"))
    path = g_strconcat ("/", name, NULL);
  else
    path = g_strconcat (dir, "/", name, NULL);

  if (strlen (path) >= PATH_MAX)
    {
      sysem_key_set_too_long (error, key);
      return FALSE;
    }

  *native_out = g_steal_pointer (&path);
  return TRUE;
}

/* A System V native key is the path of the key file itself. */
static gboolean
sysem_sysv_check_native (const char  *native_key,
                         char       **native_out,
                         GError     **error)
{
  const char *base;

  if (native_key[0] != '/')
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       native_key, _("a System V native key must be an absolute file name"));
      return FALSE;
    }

  base = strrchr (native_key, '/') + 1;
  if (*base == '\0' || g_str_equal (base, ".") || g_str_equal (base, ".."))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       native_key, _("a System V native key must name a file, not a directory"));
      return FALSE;
    }

  if (strlen (native_key) >= PATH_MAX || strlen (base) > NAME_MAX)
    {
      sysem_key_set_too_long (error, native_key);
      return FALSE;
    }

  *native_out = g_strdup (native_key);
  return TRUE;
}

/* Inspection: reading a set through its key file without joining it */

static void
sysem_sysv_info_set_gone (SysemInfo *info)
{
  info->exists = FALSE;
  info->stats.id = -1;
  info->state = SYSEM_INSPECT_NO_SET;
  info->stale = TRUE;
}

static SysemInfo *
sysem_sysv_inspect (const char  *path,
                    GError     **error)
{
  g_autoptr(SysemInfo) info = NULL;
  struct semid_ds ds;
  union sysem_semun arg = { .buf = &ds };
  struct stat st;
  int semid;

  if (lstat (path, &st) == -1)
    {
      if (errno == ENOENT)
        return NULL;
      if (errno == ELOOP)
        {
          g_autofree char *dir = g_path_get_dirname (path);
          g_autofree char *reason =
            g_strdup_printf (_("the directory %s leads to a loop of symbolic links"), dir);

          sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE, path,
                           reason);
          return NULL;
        }
      sysem_set_error_errno (error, SYSEM_OP_KEY_FILE, path, errno);
      return NULL;
    }

  if (S_ISLNK (st.st_mode))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE, path,
                       _("the key file is a symbolic link"));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE, path,
                       _("the key file is not a regular file"));
      return NULL;
    }

  info = sysem_info_new (SYSEM_KEY_TYPE_SYSTEM_V, path, path);
  info->ipc_key = sysem_ftok_fd (&st);
  info->stats.mode = st.st_mode & 0777;
  info->stats.uid = st.st_uid;
  info->stats.changed = st.st_mtime;
  info->crash_safe = TRUE;
  info->dev = st.st_dev;
  info->ino = st.st_ino;

  semid = semget ((key_t) info->ipc_key, 0, 0);
  if (semid == -1)
    {
      if (errno == ENOENT)
        {
          sysem_sysv_info_set_gone (info);
          return g_steal_pointer (&info);
        }
      if (errno == EACCES || errno == EPERM)
        {
          info->exists = TRUE;
          info->state = SYSEM_INSPECT_NO_ACCESS;
          return g_steal_pointer (&info);
        }
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, path, errno);
      return NULL;
    }

  info->exists = TRUE;
  info->stats.id = semid;

  if (semctl (semid, 0, IPC_STAT, arg) == -1)
    {
      if (errno == EINVAL || errno == EIDRM)
        {
          sysem_sysv_info_set_gone (info);   /* removed while we looked */
          return g_steal_pointer (&info);
        }
      if (errno == EACCES || errno == EPERM)
        {
          info->state = SYSEM_INSPECT_NO_ACCESS;
          return g_steal_pointer (&info);
        }
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, path, errno);
      return NULL;
    }

  info->stats.n_sems = ds.sem_nsems;
  info->stats.mode = ds.sem_perm.mode & 0777;
  info->stats.uid = ds.sem_perm.uid;
  info->stats.changed = MAX (ds.sem_otime, ds.sem_ctime);
  info->stats.value = semctl (semid, SEM_VALUE, GETVAL);
  info->stats.waiters = semctl (semid, SEM_VALUE, GETNCNT);
  info->stats.last_pid = semctl (semid, SEM_VALUE, GETPID);
  if (ds.sem_nsems >= SYSEM_SET_SIZE)
    info->stats.users = semctl (semid, SEM_USERS, GETVAL);

  if (info->stats.value == -1 || info->stats.waiters == -1 || info->stats.last_pid == -1 ||
      (ds.sem_nsems >= SYSEM_SET_SIZE && info->stats.users == -1))
    {
      sysem_sysv_info_set_gone (info);   /* removed between the calls */
      return g_steal_pointer (&info);
    }

  /* 0 means nobody changed it yet, or a process we cannot see. */
  info->last_pid_alive = info->stats.last_pid == 0 || sysem_inspect_pid_alive (info->stats.last_pid);

  /* Outside the key file's lock this may be a set being made this very
   * moment: sysem_sysv_remove_stale() looks again under the lock. */
  if (sysem_sysv_is_half_made (semid, &ds))
    info->state = SYSEM_INSPECT_HALF_MADE;
  else if (info->stats.waiters == 0 && !info->last_pid_alive)
    {
      if (ds.sem_nsems >= SYSEM_SET_SIZE && info->stats.users == 0 &&
          !sysem_fork_path_marked (path, st.st_dev, st.st_ino))
        info->state = SYSEM_INSPECT_NO_USERS;
      else if (ds.sem_nsems == 1)
        info->state = SYSEM_INSPECT_OWNER_GONE;
    }
  info->stale = info->state != SYSEM_INSPECT_IN_USE;

  return g_steal_pointer (&info);
}

static gboolean
sysem_sysv_list (GPtrArray  *infos,
                 GError    **error)
{
  g_autofree char *dir_path = sysem_key_temp_dir ();
  struct dirent *de;
  DIR *dir;

  dir = opendir (dir_path);
  if (dir == NULL)
    return TRUE;

  while ((de = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      SysemInfo *info;

      if (!g_str_has_prefix (de->d_name, SYSEM_LEGACY_PREFIX) ||
          de->d_name[strlen (SYSEM_LEGACY_PREFIX)] == '\0')
        continue;
      if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
        continue;

      if (g_str_equal (dir_path, "/"))
        path = g_strconcat ("/", de->d_name, NULL);
      else
        path = g_build_filename (dir_path, de->d_name, NULL);

      /* A file that cannot be read or vanished meanwhile is left out. */
      info = sysem_sysv_inspect (path, NULL);
      if (info != NULL)
        g_ptr_array_add (infos, info);
    }

  closedir (dir);
  return TRUE;
}

static gboolean
sysem_sysv_same_file (const char *path,
                      guint64     dev,
                      guint64     ino)
{
  struct stat st;

  return lstat (path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static gboolean
sysem_sysv_remove_stale (SysemInfo  *info,
                         gboolean    only_if_stale,
                         gboolean   *removed_object,
                         GError    **error)
{
  SysemKeyFd kf = { -1, NULL, NULL };
  gboolean lockable = TRUE;
  gboolean ok = FALSE;
  struct stat st;
  int semid;
  int fd;

  sysem_sysv_atfork_init ();
  fd = sysem_key_fd_open (&kf, info->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd == -1 && (errno == EACCES || errno == EPERM))
    {
      fd = sysem_key_fd_open (&kf, info->path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
      lockable = FALSE;
    }
  if (fd == -1)
    {
      if (errno == ENOENT && only_if_stale)
        return FALSE;
      if (errno == ENOENT)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                         info->name, _("it was removed"));
      else if (errno == ELOOP)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE, info->path,
                         _("the key file is a symbolic link"));
      else
        sysem_set_error_errno (error, SYSEM_OP_REMOVE, info->name, errno);
      return FALSE;
    }

  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE, info->path,
                       _("the key file is not a regular file"));
      sysem_key_fd_close (&kf);
      return FALSE;
    }

  /* sysem programs hold this lock while they join or leave the set: under
   * it, nobody is on the way in. */
  if (lockable)
    sysem_flock (fd, LOCK_EX);

  if (!sysem_sysv_same_file (info->path, st.st_dev, st.st_ino))
    {
      if (!only_if_stale)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                         info->name, _("it was removed"));
      goto out;
    }

  if (only_if_stale)
    {
      g_autoptr(SysemInfo) now = sysem_sysv_inspect (info->path, NULL);

      if (now == NULL || !now->stale)
        goto out;
    }

  semid = semget (sysem_ftok_fd (&st), 0, 0);
  if (semid != -1)
    {
      if (semctl (semid, 0, IPC_RMID) == -1 && errno != EINVAL && errno != EIDRM)
        {
          sysem_set_error_errno (error, SYSEM_OP_REMOVE, info->name, errno);
          goto out;
        }
      *removed_object = TRUE;
    }
  else if (errno != ENOENT)
    {
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, info->name, errno);
      goto out;
    }

  /* A file sysem did not create stays, also when it names no set. */
  if (sysem_sysv_key_file_is_sysems (info->path) &&
      unlink (info->path) == -1 && errno != ENOENT)
    {
      sysem_set_error_errno (error, SYSEM_OP_KEY_FILE, info->name, errno);
      goto out;
    }

  ok = TRUE;

out:
  sysem_key_fd_close (&kf);
  return ok;
}

const SysemBackend sysem_sysv_backend = {
  .key_type = SYSEM_KEY_TYPE_SYSTEM_V,
  .name = "System V",
  .max_value = SYSEM_SYSV_MAX,
  .derive_key = sysem_sysv_derive_key,
  .check_native = sysem_sysv_check_native,
  .open = sysem_sysv_open,
  .acquire = sysem_sysv_acquire,
  .try_acquire = sysem_sysv_try_acquire,
  .release = sysem_sysv_release,
  .get_value = sysem_sysv_get_value,
  .remove = sysem_sysv_remove,
  .keep = sysem_sysv_keep,
  .stats = sysem_sysv_stats,
  .close = sysem_sysv_close,
  .free = sysem_sysv_handle_free,
  .list = sysem_sysv_list,
  .inspect = sysem_sysv_inspect,
  .remove_stale = sysem_sysv_remove_stale,
};
