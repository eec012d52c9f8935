/* sysem-posix.c: POSIX named semaphores, as Qt uses them with QT_POSIX_IPC,
 * with a holder ledger that makes them crash-safe
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* A POSIX named semaphore on Linux is a file /dev/shm/sem.NAME that holds one
 * sem_t, mapped shared by every process that opens it; sem_wait() and
 * sem_post() on it take no system call unless someone has to sleep or wake.
 *
 * sysem opens these files itself instead of calling sem_open(): sem_open()
 * maps whatever file it finds (a file of the wrong size kills the caller
 * with SIGBUS), and shares one mapping per name in a process. A semaphore
 * that sysem makes is glibc's sem_t followed by a holder ledger in the same
 * file (sysem-posix-ledger.h), made whole in an unnamed file (O_TMPFILE)
 * and linked into place, so that no half-made file is ever seen and a
 * crashed creator leaves nothing behind. A 32-byte file made by glibc alone
 * (a Qt program) is grown to hold a ledger when that can be done safely
 * (fallocate() reserves its pages first); if not, it is used as Qt uses it:
 * not crash-safe, and removed by whoever created it.
 *
 * sysem follows glibc's protocol on the count word: acquire takes a unit
 * with a compare-and-swap; a waiter adds 1 << 32 to the word and sleeps on
 * its low half with FUTEX_WAIT; release adds one and, if the high half is
 * not zero, wakes one sleeper with FUTEX_WAKE. So glibc's sem_post() from a
 * Qt program wakes a sysem waiter and the other way round. Each of these
 * swaps also names, in the tag beside the word, the ledger change that goes
 * with it (see sysem-posix-ledger.h).
 *
 * A blocked waiter sleeps with no timer: nothing but a post, a cancel, a
 * removal or its deadline wakes it. What nobody wakes it for (an unlink or
 * a truncation by another process, units of a holder that died) one
 * watcher thread per process looks for, once a second and only while a
 * thread of the process waits.
 *
 * One record per file in each process (SysemPosixRecord), shared by every
 * handle on that file: the mapping and the slot of this process in the
 * ledger. No descriptor is kept: the name is looked up (device and inode)
 * to see whether it still leads to the file. A process keeps its slot until
 * it dies, also after its last object closed, so that units it acquired and
 * did not release come back at its death, as the kernel's undo does for
 * System V. Every mapping is in a table that a SIGBUS handler reads, so
 * that a file cut short under it gives an error, not a dead process.
 *
 * Lock map:
 * - posix_lock (a GMutex of this file): the table of records, each
 *   record's refs and joins, its inheritance marks, and the table of
 *   mappings; the last close of a record leaves its ledger under it, so
 *   that an open of the same file joins before or after. A record stays
 *   in the table until its last handle is freed. fork() takes it
 *   (pthread_atfork), then watch_lock.
 * - A record's file, path, ledger, dev and ino are set before it is
 *   published and never change; slot and gen change only under posix_lock
 *   (gen last, in a child of fork()). truncated and gone are set once,
 *   atomically; waiting is an atomic counter.
 * - watch_lock: the watcher's list of records and its state; a record's
 *   watched flag changes under it. Never taken before posix_lock.
 * - The ledger lock (in the file): claiming, freeing and recovering slots,
 *   and the decision of the last user to unlink.
 * - The count word and the slots: see sysem-posix-ledger.h.
 */

#include "config.h"

#include <dirent.h>
#if defined(__x86_64__)
# include <cpuid.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-key-private.h"
#include "sysem-posix-ledger.h"
#include "sysem-posix-private.h"

#define SYSEM_POSIX_VALUE(data)   ((guint32) (data))
#define SYSEM_POSIX_WAITERS(data) ((guint32) ((data) >> 32))
#define SYSEM_POSIX_ONE_WAITER    ((guint64) 1 << 32)

/* While threads of this process wait on a semaphore, the watcher looks at
 * its file and its ledger this often (the waiters themselves sleep until
 * something changes). */
#define SYSEM_POSIX_WATCH_USEC    G_USEC_PER_SEC

typedef struct _SysemMapEntry SysemMapEntry;

typedef struct {
  SysemLedgerFile *file;      /* the mapping */
  gsize            map_size;
  SysemMapEntry   *map_entry; /* the mapping in the table the SIGBUS handler reads */
  gboolean         ledger;    /* FALSE: a glibc file used as Qt does */
  gint             truncated; /* atomic; the file was cut short while mapped */
  gint             gone;      /* atomic; the name no longer leads to this file */
  char            *path;
  dev_t            dev;
  ino_t            ino;
  guint            slot;      /* our slot; valid while gen == posix_fork_gen */
  guint            gen;       /* atomic; the fork generation the slot is for */
  pid_t            creator;   /* no ledger: Qt's rule, the creator unlinks */
  int              mark_fd;   /* in a child of fork(): its inheritance mark until it
                               * uses the record (sysem-backend.h); under posix_lock */
  int              fork_fd;   /* in a fork() under way: the child's mark */
  int              refs;      /* handles not freed; under posix_lock */
  int              joins;     /* handles not closed; under posix_lock */
  int              live;      /* of them, held by an object or a request: under
                               * sysem_lock() (sysem-backend.h) */
  gboolean         listed;    /* in posix_records; under posix_lock */
  gint64           last_scan; /* atomic; coarse monotonic time of the last dead-holder scan */
  gint             waiting;   /* atomic; threads waiting on it, -1 while the watcher unlists it */
  gboolean         watched;   /* atomic; in watch_recs (changed under watch_lock) */
  gboolean         ever_watched; /* set under watch_lock: freeing takes watch_lock */
} SysemPosixRecord;

typedef struct {
  SysemHandle       parent;
  SysemPosixRecord *rec;
  /* The mapping while the fast path may use it: NULL without a ledger,
   * and once the semaphore is known to be removed or the handle closed,
   * which sends every call to the slow path. */
  SysemLedgerFile  *fast_file;
  /* Copies of the record's slot and fork generation, one load closer. */
  guint             fast_index;
  guint             fast_gen;      /* atomic, written after fast_index */
} SysemPosix;

static GMutex posix_lock;
static GHashTable *posix_records;   /* SysemPosixRecord → itself, by dev and ino */
static guint posix_fork_gen = 1;    /* a child of fork() adds one */
static guint64 posix_self_id;       /* pid << 32 | start; 0 until read; under posix_lock's atfork */
static guint64 posix_self_start;

/* The watcher: one thread per process, which looks once a second, and
 * only while some thread of it waits, at what a sleeping waiter cannot be
 * woken for: a name unlinked or a file cut short by another process, a
 * removal whose wake came before the waiter slept, units of holders that
 * died. */
static GMutex watch_lock;
static GCond watch_cond;
static GPtrArray *watch_recs;       /* SysemPosixRecord that threads waited on since the last look */
static gboolean watch_running;
static gboolean watch_idle;         /* the watcher sleeps with no timer */

/* Processes */

typedef enum {
  SYSEM_PROC_DEAD,
  SYSEM_PROC_ALIVE,
} SysemProcState;

/* /proc/PID/stat: the state (field 3), the number of threads (20) and the
 * start time in clock ticks since boot (22). */
static gboolean
sysem_posix_proc_stat (int      pid,
                       char    *state,
                       long    *threads,
                       guint64 *start)
{
  char path[64];
  char buf[1024];
  gssize len;
  char *p;
  int fd;

  g_snprintf (path, sizeof path, "/proc/%d/stat", pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return FALSE;

  do
    len = read (fd, buf, sizeof buf - 1);
  while (len == -1 && errno == EINTR);
  close (fd);
  if (len <= 0)
    {
      errno = ESRCH;
      return FALSE;
    }
  buf[len] = '\0';

  /* The name in field 2 may hold spaces and parentheses: the fields
   * start after the last ')'. */
  p = strrchr (buf, ')');
  if (p == NULL || p[1] != ' ')
    {
      errno = EINVAL;
      return FALSE;
    }
  p += 2;
  *state = *p;

  for (int field = 3; field < 22; field++)
    {
      p = strchr (p, ' ');
      if (p == NULL)
        {
          errno = EINVAL;
          return FALSE;
        }
      p++;
      if (field + 1 == 20)
        *threads = strtol (p, NULL, 10);
    }

  *start = g_ascii_strtoull (p, NULL, 10);
  return TRUE;
}

/* Is the process that was @pid, started at @start, still running? Only
 * the bits of @mask of the start time are compared. A zombie is dead: it
 * runs no code and holds no memory. */
static SysemProcState
sysem_posix_process_state (int     pid,
                           guint64 start,
                           guint64 mask)
{
  guint64 now_start;
  long threads = 1;
  char state;

  if (pid <= 0)
    return SYSEM_PROC_DEAD;

  if (!sysem_posix_proc_stat (pid, &state, &threads, &now_start))
    {
      if (errno == ENOENT || errno == ESRCH)
        return SYSEM_PROC_DEAD;
      /* No /proc to read: whether a process has the pid is all we know. */
      return kill (pid, 0) == -1 && errno == ESRCH ? SYSEM_PROC_DEAD : SYSEM_PROC_ALIVE;
    }

  if ((now_start & mask) != (start & mask))
    return SYSEM_PROC_DEAD;   /* the pid was taken by a later process */
  if ((state == 'Z' && threads <= 1) || state == 'X' || state == 'x')
    return SYSEM_PROC_DEAD;

  return SYSEM_PROC_ALIVE;
}

/* This process's pid and start time. */
static guint64
sysem_posix_self_start (void)
{
  guint64 start = posix_self_start;

  if (G_UNLIKELY (start == 0))
    {
      long threads;
      char state;

      if (!sysem_posix_proc_stat (getpid (), &state, &threads, &start) || start == 0)
        start = 1;   /* no /proc: tell processes apart by pid alone */
      posix_self_start = start;
      posix_self_id = ((guint64) getpid () << 32) | (start & G_MAXUINT32);
    }

  return start;
}

static guint64
sysem_posix_self_id (void)
{
  sysem_posix_self_start ();
  return posix_self_id;
}

/* fork() */

/* The objects a child inherits are no users of their semaphores until it
 * uses them (a child that only calls exec() must not keep them alive), but
 * their semaphores stay for the child: it holds an inheritance mark on
 * each file whose ledger counts this process as a user, made here (see
 * sysem-backend.h). */
static void
sysem_posix_atfork_prepare (void)
{
  g_mutex_lock (&posix_lock);
  g_mutex_lock (&watch_lock);

  if (posix_records != NULL)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, posix_records);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          SysemPosixRecord *rec = key;
          struct stat st;
          int fd;

          if (!rec->ledger || rec->joins == 0)
            continue;

          /* Best effort: without a mark (the name gone or replaced) the
           * child is only protected once it used the object. */
          fd = sysem_fork_mark_open (rec->path, &st);
          if (fd == -1)
            continue;
          if (st.st_dev != rec->dev || st.st_ino != rec->ino || !sysem_fork_mark_set (fd))
            {
              close (fd);
              continue;
            }
          rec->fork_fd = fd;
        }
    }
}

static void
sysem_posix_atfork_parent (void)
{
  if (posix_records != NULL)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, posix_records);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          SysemPosixRecord *rec = key;

          if (rec->fork_fd != -1)
            close (g_steal_fd (&rec->fork_fd));
        }
    }

  g_mutex_unlock (&watch_lock);
  g_mutex_unlock (&posix_lock);
}

static void
sysem_posix_atfork_child (void)
{
  /* The child's objects get slots of their own on first use. */
  posix_self_start = 0;
  posix_self_id = 0;
  g_atomic_int_inc (&posix_fork_gen);

  /* Only the forking thread came along: nobody waits, no watcher runs
   * (also no thread that was about to list its record). */
  if (watch_recs != NULL)
    {
      for (guint i = 0; i < watch_recs->len; i++)
        {
          SysemPosixRecord *rec = g_ptr_array_index (watch_recs, i);

          rec->waiting = 0;
          rec->watched = FALSE;
        }
      g_ptr_array_set_size (watch_recs, 0);
    }
  if (posix_records != NULL)
    {
      GHashTableIter iter;
      gpointer key;

      g_hash_table_iter_init (&iter, posix_records);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          SysemPosixRecord *rec = key;

          rec->waiting = 0;
          /* The handles the child will close; the others were on their
           * way in or out in a thread that is not here. */
          rec->joins = rec->live;
          if (rec->live == 0 && rec->fork_fd != -1)
            close (g_steal_fd (&rec->fork_fd));
          /* One mark is enough: the one just made, or one inherited from
           * a grandparent along with objects never used since. */
          if (rec->fork_fd != -1)
            {
              if (rec->mark_fd != -1)
                close (rec->mark_fd);
              rec->mark_fd = g_steal_fd (&rec->fork_fd);
            }
        }
    }
  watch_running = FALSE;
  watch_idle = FALSE;

  g_mutex_unlock (&watch_lock);
  g_mutex_unlock (&posix_lock);
}

/* SIGBUS
 *
 * Any process that may write a /dev/shm file can truncate it while it is
 * mapped; an access past the new end then raises SIGBUS, which would kill
 * the program. sysem catches it for its own mappings only: every mapping
 * is in a table of entries that the handler reads without a lock (entries
 * are published with their start address last, blocks are never freed).
 * For a fault in one of them the handler puts an anonymous page where the
 * file's page was, marks the record truncated, and the access continues;
 * on the first page, the count word it leaves says "past SEM_VALUE_MAX",
 * which sends every fast path to the slow path, where the error is. Any
 * other SIGBUS goes to the handler that was there before, or ends the
 * process as it would have without ours. */

#define SYSEM_MAP_BLOCK_SIZE 256

struct _SysemMapEntry
{
  gpointer  start;       /* atomic, written last; NULL: free */
  gsize     size;
  gint     *truncated;
};

typedef struct _SysemMapBlock SysemMapBlock;
struct _SysemMapBlock
{
  SysemMapEntry  entries[SYSEM_MAP_BLOCK_SIZE];
  SysemMapBlock *next;
};

static SysemMapBlock *posix_maps;       /* atomic head; blocks are never freed */
static GPtrArray *posix_maps_free;      /* SysemMapEntry; under posix_lock */
static struct sigaction posix_old_sigbus;
static gsize posix_page_size;

/* An anonymous page over @page of a mapping, for one that the file no
 * longer backs. */
static gboolean
sysem_posix_patch_page (guintptr page,
                        guintptr start)
{
  void *p = mmap ((void *) page, posix_page_size, PROT_READ | PROT_WRITE,
                  MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  if (p == MAP_FAILED)
    return FALSE;
  if (page == start)
    ((SysemLedgerSem *) p)->data = G_MAXUINT32;
  return TRUE;
}

static void
sysem_posix_sigbus (int        sig,
                    siginfo_t *info,
                    void      *context)
{
  int errsv = errno;

  /* si_code > 0: raised by the kernel for an access, not sent. */
  if (info != NULL && info->si_code > 0)
    {
      guintptr addr = (guintptr) info->si_addr;

      for (SysemMapBlock *block = __atomic_load_n (&posix_maps, __ATOMIC_ACQUIRE);
           block != NULL; block = block->next)
        for (guint i = 0; i < SYSEM_MAP_BLOCK_SIZE; i++)
          {
            SysemMapEntry *entry = &block->entries[i];
            guintptr start = (guintptr) __atomic_load_n (&entry->start, __ATOMIC_ACQUIRE);

            if (start != 0 && addr >= start && addr - start < entry->size &&
                sysem_posix_patch_page (addr & ~(guintptr) (posix_page_size - 1), start))
              {
                __atomic_store_n (entry->truncated, TRUE, __ATOMIC_RELEASE);
                errno = errsv;
                return;
              }
          }
    }

  if ((posix_old_sigbus.sa_flags & SA_SIGINFO) && posix_old_sigbus.sa_sigaction != NULL &&
      (void *) posix_old_sigbus.sa_sigaction != (void *) SIG_DFL &&
      (void *) posix_old_sigbus.sa_sigaction != (void *) SIG_IGN)
    posix_old_sigbus.sa_sigaction (sig, info, context);
  else if (!(posix_old_sigbus.sa_flags & SA_SIGINFO) &&
           posix_old_sigbus.sa_handler != SIG_DFL && posix_old_sigbus.sa_handler != SIG_IGN)
    posix_old_sigbus.sa_handler (sig);
  else if (posix_old_sigbus.sa_handler == SIG_IGN && (info == NULL || info->si_code <= 0))
    ; /* a sent SIGBUS that was ignored stays ignored */
  else
    {
      /* What would have happened without us: the default action. A fault
       * happens again on return; a sent signal is raised again, and comes
       * once this handler returns. */
      struct sigaction dfl;

      memset (&dfl, 0, sizeof dfl);
      dfl.sa_handler = SIG_DFL;
      sigemptyset (&dfl.sa_mask);
      sigaction (SIGBUS, &dfl, NULL);
      if (info == NULL || info->si_code <= 0)
        raise (SIGBUS);
    }

  errno = errsv;
}

static void
sysem_posix_install_sigbus (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      struct sigaction sa;

      posix_page_size = (gsize) sysconf (_SC_PAGESIZE);
      memset (&sa, 0, sizeof sa);
      sa.sa_sigaction = sysem_posix_sigbus;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
      sigemptyset (&sa.sa_mask);
      sigaction (SIGBUS, &sa, &posix_old_sigbus);
      g_once_init_leave (&once, 1);
    }
}

/* Puts a mapping in the table. With posix_lock. */
static SysemMapEntry *
sysem_posix_map_register_locked (gpointer  start,
                                 gsize     size,
                                 gint     *truncated)
{
  SysemMapEntry *entry;

  if (posix_maps_free == NULL)
    posix_maps_free = g_ptr_array_new ();

  if (posix_maps_free->len == 0)
    {
      SysemMapBlock *block = g_new0 (SysemMapBlock, 1);

      for (guint i = SYSEM_MAP_BLOCK_SIZE; i > 0; i--)
        g_ptr_array_add (posix_maps_free, &block->entries[i - 1]);
      block->next = posix_maps;
      __atomic_store_n (&posix_maps, block, __ATOMIC_RELEASE);
    }

  entry = g_ptr_array_steal_index_fast (posix_maps_free, posix_maps_free->len - 1);
  entry->size = size;
  entry->truncated = truncated;
  __atomic_store_n (&entry->start, start, __ATOMIC_RELEASE);
  return entry;
}

/* Takes it out again, before the munmap(). With posix_lock. */
static void
sysem_posix_map_unregister_locked (SysemMapEntry *entry)
{
  if (entry == NULL)
    return;
  __atomic_store_n (&entry->start, NULL, __ATOMIC_RELEASE);
  g_ptr_array_add (posix_maps_free, entry);
}

/* A mapping whose file was found cut short: from now on anonymous memory
 * that sends every call to the slow path, so no access can fault. */
static void
sysem_posix_poison (gpointer  map,
                    gsize     size,
                    gint     *truncated)
{
  for (gsize off = 0; off < size; off += posix_page_size)
    sysem_posix_patch_page ((guintptr) map + off, (guintptr) map);
  __atomic_store_n (truncated, TRUE, __ATOMIC_RELEASE);
}

#ifdef SYSEM_HAVE_LEDGER

static inline void
sysem_slot_store (SysemLedgerSlot *slot,
                  guint32          held,
                  guint32          waiting,
                  guint32          seq)
{
  __atomic_store_n (&slot->waiting, waiting, __ATOMIC_RELAXED);
  __atomic_store_n (&slot->acct, ((guint64) seq << 32) | held, __ATOMIC_RELEASE);
}

/* What @op does to a slot. Inline, so that a constant @op leaves only
 * its own case. */
static inline __attribute__ ((always_inline)) void
sysem_ledger_apply (guint    op,
                    guint32 *held,
                    guint32 *waiting)
{
  switch (op)
    {
    case SYSEM_LEDGER_OP_TAKE:
      (*held)++;
      break;
    case SYSEM_LEDGER_OP_GIVE:
      if (*held > 0)
        (*held)--;
      break;
    case SYSEM_LEDGER_OP_GIVE_HELD:
      *held = 0;
      break;
    case SYSEM_LEDGER_OP_WAIT:
      (*waiting)++;
      break;
    case SYSEM_LEDGER_OP_UNWAIT:
      if (*waiting > 0)
        (*waiting)--;
      break;
    case SYSEM_LEDGER_OP_TAKE_WAITED:
      (*held)++;
      if (*waiting > 0)
        (*waiting)--;
      break;
    case SYSEM_LEDGER_OP_DRAIN:
      *held = 0;
      *waiting = 0;
      break;
    default:
      break;
    }
}

static gboolean
sysem_posix_have_cx16 (void)
{
  unsigned int eax, ebx, ecx, edx;

  return __get_cpuid (1, &eax, &ebx, &ecx, &edx) && (ecx & bit_CMPXCHG16B) != 0;
}

/* The ledger lock */

static void
sysem_posix_backoff (guint round)
{
  if (round < 16)
    sched_yield ();
  else
    g_usleep (round < 256 ? 50 : 1000);
}

static void
sysem_ledger_lock (SysemLedgerFile *file)
{
  guint64 me = sysem_posix_self_id ();

  for (guint round = 0;; round++)
    {
      guint64 holder = 0;

      if (__atomic_compare_exchange_n (&file->hdr.lock, &holder, me, FALSE,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;

      /* A dead holder's lock is taken over. What it was doing is left in
       * a state every step of which is valid (see the callers). */
      if ((holder >> 32) != (me >> 32) && round % 8 == 7 &&
          sysem_posix_process_state ((int) (holder >> 32), holder, G_MAXUINT32) == SYSEM_PROC_DEAD &&
          __atomic_compare_exchange_n (&file->hdr.lock, &holder, me, FALSE,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;

      sysem_posix_backoff (round);
    }
}

static void
sysem_ledger_unlock (SysemLedgerFile *file)
{
  __atomic_store_n (&file->hdr.lock, 0, __ATOMIC_RELEASE);
}

/* Applies the pending @tag of a dead process, with the ledger lock held.
 * Its process can no longer write the slot, and nobody else writes it
 * without this lock. */
static void
sysem_ledger_finish_dead_locked (SysemLedgerFile *file,
                                 guint32          tag)
{
  SysemLedgerSlot *slot;
  guint64 acct;
  guint32 held, waiting;

  if (!sysem_ledger_tag_pending (file, tag) ||
      (sysem_ledger_load_hi (&file->sem) >> 32) != tag)
    return;

  slot = &file->slots[SYSEM_TAG_SLOT (tag) - 1];
  acct = __atomic_load_n (&slot->acct, __ATOMIC_ACQUIRE);
  held = (guint32) acct;
  waiting = slot->waiting;
  sysem_ledger_apply (SYSEM_TAG_OP (tag), &held, &waiting);
  sysem_slot_store (slot, held, waiting, (guint32) (acct >> 32) + 1);
}

/* Waits until the change that @tag names is written to its slot. Its
 * process is between two instructions, unless it was stopped or killed
 * there: a dead one's change is applied for it. */
static void
sysem_ledger_wait_applied (SysemLedgerFile *file,
                           guint32          tag,
                           gboolean         locked)
{
  for (guint round = 0;; round++)
    {
      SysemLedgerSlot *slot;

      if (!sysem_ledger_tag_pending (file, tag) ||
          (sysem_ledger_load_hi (&file->sem) >> 32) != tag)
        return;

      if (round < 64)
        {
          __builtin_ia32_pause ();
          continue;
        }

      slot = &file->slots[SYSEM_TAG_SLOT (tag) - 1];
      if (round % 64 == 0 &&
          (slot->state != SYSEM_SLOT_USED ||
           sysem_posix_process_state (slot->pid, slot->start, G_MAXUINT64) == SYSEM_PROC_DEAD))
        {
          if (!locked)
            sysem_ledger_lock (file);
          sysem_ledger_finish_dead_locked (file, tag);
          if (!locked)
            sysem_ledger_unlock (file);
          continue;
        }

      sysem_posix_backoff (round - 64);
    }
}

typedef enum {
  SYSEM_CHAIN_OK,
  SYSEM_CHAIN_EMPTY,     /* no unit to take */
  SYSEM_CHAIN_FULL,      /* the count would pass SEM_VALUE_MAX */
  SYSEM_CHAIN_REMOVED,   /* sysem removed it */
  SYSEM_CHAIN_BAD,       /* a value past SEM_VALUE_MAX */
} SysemChainResult;

/* One change of the count recorded in slot @index (see
 * sysem-posix-ledger.h). *@data_out: the count word before it.
 *
 * Inline: every caller names its @op, so each call keeps only that op's
 * case (a blocked acquire makes three or four of these calls). */
static inline __attribute__ ((always_inline)) SysemChainResult
sysem_ledger_change (SysemLedgerFile *file,
                     guint            index,
                     SysemLedgerOp    op,
                     gboolean         locked,
                     guint64         *data_out)
{
  SysemLedgerSlot *slot = &file->slots[index];
  guint64 lo = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
  guint64 hi = sysem_ledger_load_hi (&file->sem);

  for (;;)
    {
      guint32 tag = (guint32) (hi >> 32);
      guint32 value = SYSEM_POSIX_VALUE (lo);
      guint32 waiters = SYSEM_POSIX_WAITERS (lo);
      guint32 held, waiting, seq;
      guint64 acct, new_lo;

      /* Nothing to take: whatever else the word says (removed, a change
       * pending), the answer is no unit. The value in it is current even
       * while the slot of the change is being written. */
      if ((op == SYSEM_LEDGER_OP_TAKE || op == SYSEM_LEDGER_OP_TAKE_WAITED) && value == 0)
        return SYSEM_CHAIN_EMPTY;

      if (tag == SYSEM_TAG_REMOVED)
        return SYSEM_CHAIN_REMOVED;
      if (sysem_ledger_tag_pending (file, tag))
        {
          sysem_ledger_wait_applied (file, tag, locked);
          lo = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
          hi = sysem_ledger_load_hi (&file->sem);
          continue;
        }
      if (value > SEM_VALUE_MAX)
        return SYSEM_CHAIN_BAD;

      acct = __atomic_load_n (&slot->acct, __ATOMIC_ACQUIRE);
      held = (guint32) acct;
      seq = (guint32) (acct >> 32);
      waiting = __atomic_load_n (&slot->waiting, __ATOMIC_RELAXED);

      switch (op)
        {
        case SYSEM_LEDGER_OP_TAKE:
          if (value == 0)
            return SYSEM_CHAIN_EMPTY;
          new_lo = lo - 1;
          break;
        case SYSEM_LEDGER_OP_TAKE_WAITED:
          if (value == 0)
            return SYSEM_CHAIN_EMPTY;
          new_lo = lo - 1 - (waiters > 0 ? SYSEM_POSIX_ONE_WAITER : 0);
          break;
        case SYSEM_LEDGER_OP_GIVE:
          if (value >= SEM_VALUE_MAX)
            return SYSEM_CHAIN_FULL;
          new_lo = lo + 1;
          break;
        case SYSEM_LEDGER_OP_GIVE_HELD:
          if (value + (guint64) held > SEM_VALUE_MAX)
            return SYSEM_CHAIN_FULL;
          new_lo = lo + held;
          break;
        case SYSEM_LEDGER_OP_WAIT:
          if (waiters == G_MAXUINT32)
            return SYSEM_CHAIN_FULL;
          new_lo = lo + SYSEM_POSIX_ONE_WAITER;
          break;
        case SYSEM_LEDGER_OP_UNWAIT:
          new_lo = lo - (waiters > 0 ? SYSEM_POSIX_ONE_WAITER : 0);
          break;
        case SYSEM_LEDGER_OP_DRAIN:
          {
            guint64 v = MIN ((guint64) value + held, (guint64) SEM_VALUE_MAX);
            guint32 w = waiters >= waiting ? waiters - waiting : 0;

            new_lo = ((guint64) w << 32) | v;
          }
          break;
        default:
          g_assert_not_reached ();
        }

      sysem_ledger_apply (op, &held, &waiting);

      if (sysem_ledger_cas16 (&file->sem, &lo, &hi, new_lo,
                              (hi & G_MAXUINT32) | ((guint64) SYSEM_TAG_MAKE (index, op, seq + 1) << 32)))
        {
          sysem_slot_store (slot, held, waiting, seq + 1);
          if (data_out != NULL)
            *data_out = lo;
          return SYSEM_CHAIN_OK;
        }
    }
}

/* Adds @n units that nobody holds (units beyond what this process
 * acquired): the tag stays as it is. */
static SysemChainResult
sysem_ledger_add_plain (SysemLedgerFile *file,
                        guint32          n,
                        guint64         *data_out)
{
  guint64 lo = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
  guint64 hi = sysem_ledger_load_hi (&file->sem);

  for (;;)
    {
      if ((guint32) (hi >> 32) == SYSEM_TAG_REMOVED)
        return SYSEM_CHAIN_REMOVED;
      if (SYSEM_POSIX_VALUE (lo) > SEM_VALUE_MAX)
        return SYSEM_CHAIN_BAD;
      if (SYSEM_POSIX_VALUE (lo) + (guint64) n > SEM_VALUE_MAX)
        return SYSEM_CHAIN_FULL;
      if (sysem_ledger_cas16 (&file->sem, &lo, &hi, lo + n, hi))
        {
          *data_out = lo;
          return SYSEM_CHAIN_OK;
        }
    }
}

/* Marks the semaphore removed for every sysem user, and wakes its
 * sleepers so that they see it. */
static void
sysem_ledger_mark_removed (SysemLedgerFile *file,
                           gboolean         locked)
{
  guint64 lo = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
  guint64 hi = sysem_ledger_load_hi (&file->sem);

  for (;;)
    {
      guint32 tag = (guint32) (hi >> 32);

      if (tag == SYSEM_TAG_REMOVED)
        break;
      if (sysem_ledger_tag_pending (file, tag))
        {
          sysem_ledger_wait_applied (file, tag, locked);
          lo = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
          hi = sysem_ledger_load_hi (&file->sem);
          continue;
        }
      if (sysem_ledger_cas16 (&file->sem, &lo, &hi, lo,
                              (hi & G_MAXUINT32) | ((guint64) SYSEM_TAG_REMOVED << 32)))
        break;
    }

  syscall (SYS_futex, &file->sem.data, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Gives back what dead processes held, and frees their slots. With the
 * ledger lock held. Returns the number of units given back. Each step
 * leaves the ledger valid if this process dies: a drained slot is drained
 * again for nothing, a slot is freed only once drained. */
static guint
sysem_ledger_recover_locked (SysemLedgerFile *file)
{
  guint64 me = sysem_posix_self_start ();
  pid_t self = getpid ();
  guint recovered = 0;

  for (guint i = 0; i < SYSEM_LEDGER_N_SLOTS; i++)
    {
      SysemLedgerSlot *slot = &file->slots[i];
      guint64 acct;

      if (slot->state != SYSEM_SLOT_USED)
        continue;
      if (slot->pid == self && slot->start == me)
        continue;
      if (sysem_posix_process_state (slot->pid, slot->start, G_MAXUINT64) != SYSEM_PROC_DEAD)
        continue;

      acct = __atomic_load_n (&slot->acct, __ATOMIC_ACQUIRE);
      if ((guint32) acct != 0 || slot->waiting != 0 ||
          sysem_ledger_tag_pending (file, (guint32) (sysem_ledger_load_hi (&file->sem) >> 32)))
        {
          guint64 before;

          /* Removed, or a value no semaphore has: leave the slot as it
           * is (its units are not given back into a garbage count). */
          if (sysem_ledger_change (file, i, SYSEM_LEDGER_OP_DRAIN, TRUE, &before) != SYSEM_CHAIN_OK)
            return recovered;
          recovered += (guint32) acct;
          /* Units came back: wake as many sleepers. */
          if (SYSEM_POSIX_WAITERS (before) > 0 && (guint32) acct > 0)
            syscall (SYS_futex, &file->sem.data, FUTEX_WAKE, (int) MIN ((guint32) acct, (guint32) INT_MAX),
                     NULL, NULL, 0);
        }

      slot->flags = 0;
      __atomic_store_n (&slot->state, SYSEM_SLOT_FREE, __ATOMIC_RELEASE);
    }

  return recovered;
}

/* Live users other than this process. */
static guint
sysem_ledger_count_users_locked (SysemLedgerFile *file,
                                 gboolean         but_self)
{
  guint64 me = sysem_posix_self_start ();
  pid_t self = getpid ();
  guint users = 0;

  for (guint i = 0; i < SYSEM_LEDGER_N_SLOTS; i++)
    {
      SysemLedgerSlot *slot = &file->slots[i];

      if (slot->state != SYSEM_SLOT_USED || !(slot->flags & SYSEM_SLOT_USER))
        continue;
      if (but_self && slot->pid == self && slot->start == me)
        continue;
      users++;
    }

  return users;
}

/* Our slot, claimed as a user. With the ledger lock held; -1 if all are
 * taken. The dead give their units and slots back first, whichever way
 * this process comes to claim one: a process that joins, and a fork
 * child's first use of a record it inherited (before 1.1.0 that one did
 * not, and children that died without a slow path filled the ledger). */
static int
sysem_ledger_claim_locked (SysemLedgerFile *file)
{
  guint64 me;
  pid_t self = getpid ();
  int free_slot = -1;

  sysem_ledger_recover_locked (file);
  me = sysem_posix_self_start ();

  for (guint i = 0; i < SYSEM_LEDGER_N_SLOTS; i++)
    {
      SysemLedgerSlot *slot = &file->slots[i];

      if (slot->state == SYSEM_SLOT_USED && slot->pid == self && slot->start == me)
        {
          slot->flags |= SYSEM_SLOT_USER;
          return (int) i;
        }
      if (slot->state == SYSEM_SLOT_FREE && free_slot == -1)
        free_slot = (int) i;
    }

  if (free_slot >= 0)
    {
      SysemLedgerSlot *slot = &file->slots[free_slot];

      /* state last: a claim cut short leaves a free slot. */
      slot->pid = self;
      slot->start = me;
      slot->flags = SYSEM_SLOT_USER;
      __atomic_store_n (&slot->state, SYSEM_SLOT_USED, __ATOMIC_RELEASE);
    }

  return free_slot;
}

/* Is this ledger one sysem wrote? The reason if not. */
static const char *
sysem_ledger_check (SysemLedgerFile *file)
{
  if (file->hdr.magic != SYSEM_LEDGER_MAGIC)
    return _("its file in /dev/shm has a damaged holder ledger");
  if (file->hdr.version != SYSEM_LEDGER_VERSION)
    return _("its file in /dev/shm has a holder ledger of another layout version");
  if (file->hdr.n_slots != SYSEM_LEDGER_N_SLOTS ||
      (file->hdr.flags & ~(guint32) (SYSEM_LEDGER_KEEP | SYSEM_LEDGER_CLOSING | SYSEM_LEDGER_GLIBC_MADE)) != 0)
    return _("its file in /dev/shm has a damaged holder ledger");

  for (guint i = 0; i < SYSEM_LEDGER_N_SLOTS; i++)
    {
      SysemLedgerSlot *slot = &file->slots[i];
      guint32 held = (guint32) slot->acct;

      if ((slot->state != SYSEM_SLOT_FREE && slot->state != SYSEM_SLOT_USED) ||
          (slot->flags & ~(guint32) SYSEM_SLOT_USER) != 0 ||
          held > SEM_VALUE_MAX ||
          (slot->state == SYSEM_SLOT_USED && slot->pid <= 0) ||
          (slot->state == SYSEM_SLOT_FREE && (held != 0 || slot->waiting != 0)))
        return _("its file in /dev/shm has a damaged holder ledger");
    }

  return NULL;
}

#endif /* SYSEM_HAVE_LEDGER */

/* Records */

static guint
sysem_posix_record_hash (gconstpointer p)
{
  const SysemPosixRecord *rec = p;

  return (guint) rec->ino ^ (guint) rec->dev;
}

static gboolean
sysem_posix_record_equal (gconstpointer a,
                          gconstpointer b)
{
  const SysemPosixRecord *ra = a, *rb = b;

  return ra->ino == rb->ino && ra->dev == rb->dev;
}

static void
sysem_posix_record_unref_locked (SysemPosixRecord *rec)
{
  if (--rec->refs > 0)
    return;

  if (rec->listed && g_hash_table_lookup (posix_records, rec) == rec)
    g_hash_table_remove (posix_records, rec);
  rec->listed = FALSE;
  if (rec->ever_watched)
    {
      /* Nobody waits on it any more (they hold references), but the
       * watcher may not have looked since, or be taking it out of its
       * list right now: wait for it. */
      g_mutex_lock (&watch_lock);
      g_ptr_array_remove_fast (watch_recs, rec);
      g_mutex_unlock (&watch_lock);
    }
  sysem_posix_map_unregister_locked (rec->map_entry);
  if (rec->file != NULL)
    munmap (rec->file, rec->map_size);
  if (rec->mark_fd != -1)
    close (rec->mark_fd);
  g_free (rec->path);
  g_free (rec);
}

/* Helpers */

static gboolean
sysem_posix_path_is (const char *path,
                     dev_t       dev,
                     ino_t       ino)
{
  struct stat now;

  return lstat (path, &now) == 0 && now.st_dev == dev && now.st_ino == ino;
}

typedef enum {
  SYSEM_FILE_OK,
  SYSEM_FILE_GONE,        /* the name is gone, or names another file */
  SYSEM_FILE_TRUNCATED,   /* cut short while mapped */
} SysemFileState;

/* Is the name still this record's file, whole? No descriptor is kept per
 * file (10,000 objects fit under the usual limit of 1024): the name is
 * looked up and its device and inode compared. @st_out: what was found. */
static SysemFileState
sysem_posix_file_state (SysemPosixRecord *rec,
                        struct stat      *st_out)
{
  struct stat st;

  if (g_atomic_int_get (&rec->truncated))
    return SYSEM_FILE_TRUNCATED;

  if (lstat (rec->path, &st) == -1)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        {
          g_atomic_int_set (&rec->gone, TRUE);
          return SYSEM_FILE_GONE;
        }
      memset (&st, 0, sizeof st);   /* cannot tell: take it as there */
      st.st_size = (off_t) rec->map_size;
    }
  else if (st.st_dev != rec->dev || st.st_ino != rec->ino)
    {
      g_atomic_int_set (&rec->gone, TRUE);
      return SYSEM_FILE_GONE;
    }

  if ((gsize) st.st_size < rec->map_size)
    {
      sysem_posix_poison (rec->file, rec->map_size, &rec->truncated);
      return SYSEM_FILE_TRUNCATED;
    }

  if (st_out != NULL)
    *st_out = st;
  return SYSEM_FILE_OK;
}

static void
sysem_posix_set_removed (SysemPosix  *self,
                         SysemOp      op,
                         GError     **error)
{
  sysem_handle_set_removed (&self->parent);
  g_atomic_pointer_set (&self->fast_file, NULL);
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, op,
                   self->parent.display_key, _("it was removed"));
}

static void
sysem_posix_set_truncated (SysemPosix  *self,
                           SysemOp      op,
                           GError     **error)
{
  g_atomic_pointer_set (&self->fast_file, NULL);
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, op, self->parent.display_key,
                   _("its file in /dev/shm was truncated while in use"));
}

/* The error for a file found changed: FALSE, with @error set. */
static gboolean
sysem_posix_set_file_error (SysemPosix     *self,
                            SysemFileState  state,
                            SysemOp         op,
                            GError        **error)
{
  if (state == SYSEM_FILE_TRUNCATED)
    sysem_posix_set_truncated (self, op, error);
  else
    sysem_posix_set_removed (self, op, error);
  return FALSE;
}

static void
sysem_posix_set_bad_value (SysemPosix  *self,
                           SysemOp      op,
                           GError     **error)
{
  g_autofree char *reason =
    g_strdup_printf (_("its value %u in /dev/shm is past the maximum of %d"),
                     SYSEM_POSIX_VALUE (__atomic_load_n (&self->rec->file->sem.data, __ATOMIC_RELAXED)),
                     SEM_VALUE_MAX);

  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_UNKNOWN, op, self->parent.display_key, reason);
}

static void
sysem_posix_futex_wake (SysemLedgerFile *file,
                        int              n)
{
  syscall (SYS_futex, &file->sem.data, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* Unlinks the name if it is still this file's. */
static void
sysem_posix_unlink_if_ours (SysemPosixRecord *rec)
{
  if (sysem_posix_path_is (rec->path, rec->dev, rec->ino))
    unlink (rec->path);
}

typedef enum {
  SYSEM_ATTACH_OK,
  SYSEM_ATTACH_FAILED,
  SYSEM_ATTACH_AGAIN,   /* it is being removed: open the name again */
} SysemAttach;

#ifdef SYSEM_HAVE_LEDGER

/* Every slot of the ledger is taken. */
static void
sysem_posix_set_ledger_full (SysemOp      op,
                             const char  *display_key,
                             GError     **error)
{
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, op, display_key,
                   _("its holder ledger has no room for another process"));
}

/* Is the last user removing it, or has someone removed it? Then nobody
 * joins it: its name, if it still leads to this file (a remover that died
 * before the unlink left it), is unlinked, and the caller opens the name
 * anew. Both marks only ever turn on, so a look without the ledger lock
 * may only come a moment late. */
static gboolean
sysem_posix_closing (SysemPosixRecord *rec)
{
  SysemLedgerFile *file = rec->file;

  if (!(__atomic_load_n (&file->hdr.flags, __ATOMIC_ACQUIRE) & SYSEM_LEDGER_CLOSING) &&
      (guint32) (sysem_ledger_load_hi (&file->sem) >> 32) != SYSEM_TAG_REMOVED)
    return FALSE;

  sysem_posix_unlink_if_ours (rec);
  return TRUE;
}

/* In a child of fork(), the first use of an inherited record: a slot of
 * its own (the parent's stays the parent's). Called with posix_lock.
 * SYSEM_ATTACH_AGAIN: the semaphore is being removed or was, and the child
 * joins it no more than a new process would. */
static SysemAttach
sysem_posix_adopt_locked (SysemPosixRecord *rec)
{
  int slot = -1;
  gboolean closing;

  if (g_atomic_int_get (&rec->gen) == g_atomic_int_get (&posix_fork_gen))
    return SYSEM_ATTACH_OK;

  sysem_ledger_lock (rec->file);
  closing = sysem_posix_closing (rec);
  if (!closing)
    slot = sysem_ledger_claim_locked (rec->file);
  if (slot >= 0 && rec->joins == 0)
    rec->file->slots[slot].flags &= ~(guint32) SYSEM_SLOT_USER;
  sysem_ledger_unlock (rec->file);

  if (closing)
    return SYSEM_ATTACH_AGAIN;
  if (slot < 0)
    return SYSEM_ATTACH_FAILED;

  rec->slot = (guint) slot;
  g_atomic_int_set (&rec->gen, g_atomic_int_get (&posix_fork_gen));
  /* A user now: the mark has done its work. */
  if (rec->mark_fd != -1)
    close (g_steal_fd (&rec->mark_fd));
  return SYSEM_ATTACH_OK;
}

/* Everything a slow path checks first: the handle is open, its semaphore
 * not removed, this process has a slot. */
static gboolean
sysem_posix_ledger_ready (SysemPosix  *self,
                          SysemOp      op,
                          GError     **error)
{
  SysemPosixRecord *rec = self->rec;

  if (G_UNLIKELY (g_atomic_int_get (&rec->truncated)))
    return sysem_posix_set_file_error (self, SYSEM_FILE_TRUNCATED, op, error);

  if (sysem_handle_is_removed (&self->parent) || g_atomic_int_get (&rec->gone) ||
      (guint32) (sysem_ledger_load_hi (&rec->file->sem) >> 32) == SYSEM_TAG_REMOVED)
    {
      sysem_posix_set_removed (self, op, error);
      return FALSE;
    }

  if (G_UNLIKELY (g_atomic_int_get (&rec->gen) != g_atomic_int_get (&posix_fork_gen)))
    {
      SysemAttach adopted;

      g_mutex_lock (&posix_lock);
      adopted = sysem_posix_adopt_locked (rec);
      g_mutex_unlock (&posix_lock);
      if (adopted == SYSEM_ATTACH_AGAIN)
        {
          sysem_posix_set_removed (self, op, error);
          return FALSE;
        }
      if (adopted == SYSEM_ATTACH_FAILED)
        {
          sysem_posix_set_ledger_full (op, self->parent.display_key, error);
          return FALSE;
        }
    }

  /* This handle's copies for the fast path (after fork(): the slot of
   * this process). */
  if (G_UNLIKELY (g_atomic_int_get (&self->fast_gen) != g_atomic_int_get (&rec->gen)))
    {
      self->fast_index = rec->slot;
      g_atomic_int_set (&self->fast_gen, g_atomic_int_get (&rec->gen));
    }

  return TRUE;
}

/* Gives back the units of dead holders, at most once per @interval. The
 * clock is the coarse one (a tick of a few milliseconds, read without
 * the time stamp counter): a blocked acquire reads it every time. */
static void
sysem_posix_scan (SysemPosixRecord *rec,
                  gint64            interval)
{
  struct timespec ts;
  gint64 now, last = rec->last_scan;

  clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
  now = ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;

  if (interval > 0 && last != 0 && now - last < interval)
    return;
  rec->last_scan = now;

  sysem_ledger_lock (rec->file);
  sysem_ledger_recover_locked (rec->file);
  sysem_ledger_unlock (rec->file);
}

/* Sleeps while the value is 0, as glibc's sem_wait() does: until a post
 * (glibc's or ours) or any other FUTEX_WAKE of the word, or @deadline.
 * No timer is armed without a deadline. */
static int
sysem_posix_futex_wait (SysemLedgerFile *file,
                        gint64           deadline)
{
  struct timespec ts;
  long res;

  if (deadline == SYSEM_DEADLINE_FOREVER)
    res = syscall (SYS_futex, &file->sem.data, FUTEX_WAIT, 0, NULL, NULL, 0);
  else
    {
      /* Monotonic and absolute, as glibc's sem_clockwait() sleeps. */
      ts.tv_sec = deadline / G_USEC_PER_SEC;
      ts.tv_nsec = (deadline % G_USEC_PER_SEC) * 1000;
      res = syscall (SYS_futex, &file->sem.data, FUTEX_WAIT_BITSET, 0, &ts, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    }

  return res == -1 ? errno : 0;
}

/* Wakes every sleeper of the word, in every process: they look at why.
 * FALSE when the word's page is gone from the file. */
static gboolean
sysem_posix_futex_wake_all (SysemLedgerFile *file)
{
  return syscall (SYS_futex, &file->sem.data, FUTEX_WAKE, INT_MAX, NULL, NULL, 0) != -1 ||
         errno != EFAULT;
}

/* Wakes the threads of this process that wait on @rec until each of them
 * has seen what the caller changed before (a removal, after a locked
 * change of the word) and left: a wake that comes before a thread sleeps
 * would be lost. A waiter counts itself in @rec's waiting with a locked
 * compare-and-swap before it first looks, so either it sees the change or
 * this sees it. */
static void
sysem_posix_wake_local (SysemPosixRecord *rec)
{
  for (guint round = 0; g_atomic_int_get (&rec->waiting) > 0; round++)
    {
      if (!sysem_posix_futex_wake_all (rec->file) || round >= 10000)
        break;
      if (round > 0)
        sched_yield ();
    }
}

/* The watcher */

/* A file that lost its pages while our threads sleep on it: the sleepers
 * can be woken only through a page at the same place. The name still
 * leads to it: give it its size back (it is no semaphore any more, and
 * every sysem call on it fails). */
static void
sysem_posix_regrow (SysemPosixRecord *rec)
{
  struct stat st;
  int fd = open (rec->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

  if (fd == -1)
    return;
  if (fstat (fd, &st) == 0 && st.st_dev == rec->dev && st.st_ino == rec->ino &&
      (gsize) st.st_size < rec->map_size)
    {
      if (ftruncate (fd, (off_t) rec->map_size) == -1)
        g_debug ("Could not give %s its size back: %s", rec->path, g_strerror (errno));
    }
  close (fd);
}

/* Looks at one record that threads of this process wait on. */
static void
sysem_posix_watch_check (SysemPosixRecord *rec)
{
  SysemLedgerFile *file = rec->file;
  gboolean wake = g_atomic_int_get (&rec->gone) || g_atomic_int_get (&rec->truncated);

  if (!wake)
    {
      struct stat st;

      if (lstat (rec->path, &st) == -1 ? errno == ENOENT
                                       : (st.st_dev != rec->dev || st.st_ino != rec->ino))
        {
          g_atomic_int_set (&rec->gone, TRUE);
          wake = TRUE;
        }
      else if ((gsize) st.st_size < rec->map_size)
        {
          g_atomic_int_set (&rec->truncated, TRUE);
          sysem_posix_regrow (rec);
          wake = TRUE;
        }
    }

  if (!wake && rec->ledger &&
      (guint32) (sysem_ledger_load_hi (&file->sem) >> 32) == SYSEM_TAG_REMOVED)
    wake = TRUE;

  if (wake)
    sysem_posix_futex_wake_all (file);
  else if (rec->ledger)
    sysem_posix_scan (rec, 0);   /* wakes as many sleepers as units came back */
}

static gpointer
sysem_posix_watch_thread (gpointer data)
{
  g_mutex_lock (&watch_lock);

  for (;;)
    {
      gint64 end;

      /* Nobody waits: sleep without a timer. Only then is the watcher
       * signalled (a hand-off between two processes would otherwise wake
       * it every time). */
      /* Records nobody waits on leave the list, unless a waiter comes
       * back meanwhile (it cannot while waiting is -1). */
      for (guint i = 0; i < watch_recs->len;)
        {
          SysemPosixRecord *rec = g_ptr_array_index (watch_recs, i);
          gint zero = 0;

          if (__atomic_compare_exchange_n (&rec->waiting, &zero, -1, FALSE,
                                           __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            {
              g_ptr_array_remove_index_fast (watch_recs, i);
              g_atomic_int_set (&rec->watched, FALSE);
              g_atomic_int_set (&rec->waiting, 0);
            }
          else
            i++;
        }

      while (watch_recs->len == 0)
        {
          watch_idle = TRUE;
          g_cond_wait (&watch_cond, &watch_lock);
        }
      watch_idle = FALSE;

      end = g_get_monotonic_time () + SYSEM_POSIX_WATCH_USEC;
      while (g_cond_wait_until (&watch_cond, &watch_lock, end))
        ;

      for (guint i = 0; i < watch_recs->len; i++)
        {
          SysemPosixRecord *rec = g_ptr_array_index (watch_recs, i);

          if (g_atomic_int_get (&rec->waiting) > 0)
            sysem_posix_watch_check (rec);
        }
    }

  g_mutex_unlock (&watch_lock);
  return NULL;
}

/* A thread of this process starts (@add) or stops waiting on @rec. No
 * lock while the record is listed already (a hand-off between processes
 * waits every time): a record leaves the list only at a look of the
 * watcher that finds nobody waiting. */
static void
sysem_posix_watch (SysemPosixRecord *rec,
                   gboolean          add)
{
  if (!add)
    {
      g_atomic_int_add (&rec->waiting, -1);
      return;
    }

  for (;;)
    {
      gint n = g_atomic_int_get (&rec->waiting);

      if (G_UNLIKELY (n < 0))
        sched_yield ();   /* the watcher is taking it out of the list */
      else if (__atomic_compare_exchange_n (&rec->waiting, &n, n + 1, FALSE,
                                            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        break;
    }

  if (G_LIKELY (g_atomic_int_get (&rec->watched) && watch_running))
    return;

  g_mutex_lock (&watch_lock);
  if (watch_recs == NULL)
    watch_recs = g_ptr_array_new ();
  if (!g_atomic_int_get (&rec->watched))
    {
      g_ptr_array_add (watch_recs, rec);
      g_atomic_int_set (&rec->watched, TRUE);
      rec->ever_watched = TRUE;
      if (watch_idle)
        {
          watch_idle = FALSE;
          g_cond_signal (&watch_cond);
        }
    }
  if (!watch_running)
    {
      GThread *thread = g_thread_try_new ("sysem-watch", sysem_posix_watch_thread, NULL, NULL);

      /* Without it, removals and dead holders are still seen at the
       * next post or call; only a sleeper's own look is lost. */
      if (thread != NULL)
        {
          watch_running = TRUE;
          g_thread_unref (thread);
        }
    }
  g_mutex_unlock (&watch_lock);
}

typedef struct {
  SysemLedgerFile *file;
  gint             looping;     /* atomic: in the loop that sleeps */
  gint             cancelled;   /* atomic */
} SysemPosixWait;

/* A cancel wakes the word until the waiter has left the loop in which it
 * sleeps: it may be about to sleep when the cancel comes. */
static void
sysem_posix_cancelled_cb (gpointer data)
{
  SysemPosixWait *wait = data;

  __atomic_store_n (&wait->cancelled, TRUE, __ATOMIC_SEQ_CST);
  for (guint round = 0; __atomic_load_n (&wait->looping, __ATOMIC_SEQ_CST); round++)
    {
      if (!sysem_posix_futex_wake_all (wait->file) || round >= 100000)
        break;
      if (round > 0)
        sched_yield ();
    }
}

/* Out of time: FALSE, with an error only if the file is not the
 * semaphore any more (a timeout is no proof that it still is). */
static gboolean
sysem_posix_timed_out (SysemPosix  *self,
                       GError     **error)
{
  SysemFileState state = sysem_posix_file_state (self->rec, NULL);

  if (state != SYSEM_FILE_OK)
    sysem_posix_set_file_error (self, state, SYSEM_OP_ACQUIRE, error);
  return FALSE;
}

static gboolean
sysem_posix_ledger_acquire (SysemPosix    *self,
                            gint64         deadline,
                            GCancellable  *cancellable,
                            GError       **error)
{
  SysemPosixRecord *rec = self->rec;
  SysemLedgerFile *file = rec->file;
  SysemPosixWait wait = { file, 0, 0 };
  SysemCancelWait cancel_wait;
  gboolean acquired = FALSE;

  if (!sysem_posix_ledger_ready (self, SYSEM_OP_ACQUIRE, error))
    return FALSE;

  switch (sysem_ledger_change (file, rec->slot, SYSEM_LEDGER_OP_TAKE, FALSE, NULL))
    {
    case SYSEM_CHAIN_OK:
      return TRUE;
    case SYSEM_CHAIN_REMOVED:
      sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
      return FALSE;
    case SYSEM_CHAIN_BAD:
      sysem_posix_set_bad_value (self, SYSEM_OP_ACQUIRE, error);
      return FALSE;
    case SYSEM_CHAIN_EMPTY:
    case SYSEM_CHAIN_FULL:
    default:
      break;
    }

  /* None free: perhaps a dead process holds them. */
  sysem_posix_scan (rec, 10 * G_TIME_SPAN_MILLISECOND);
  if (sysem_ledger_change (file, rec->slot, SYSEM_LEDGER_OP_TAKE, FALSE, NULL) == SYSEM_CHAIN_OK)
    return TRUE;

  if (deadline == SYSEM_DEADLINE_NOW)
    return sysem_posix_timed_out (self, error);

  switch (sysem_ledger_change (file, rec->slot, SYSEM_LEDGER_OP_WAIT, FALSE, NULL))
    {
    case SYSEM_CHAIN_OK:
      break;
    case SYSEM_CHAIN_REMOVED:
      sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
      return FALSE;
    case SYSEM_CHAIN_BAD:
      sysem_posix_set_bad_value (self, SYSEM_OP_ACQUIRE, error);
      return FALSE;
    case SYSEM_CHAIN_EMPTY:
    case SYSEM_CHAIN_FULL:
    default:
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, SYSEM_OP_ACQUIRE,
                       self->parent.display_key, _("too many processes wait for it"));
      return FALSE;
    }

  /* Only a blocking wait pays for these. In the loop from now on, and
   * counted in the record's waiting, whose locked compare-and-swap orders
   * both before the loop's first look: whoever changes what the loop
   * looks at (a cancel, a removal in this process) and then finds us in
   * it wakes the word until we leave. */
  if (cancellable != NULL &&
      sysem_cancel_wait_begin (&cancel_wait, cancellable, sysem_posix_cancelled_cb, &wait))
    wait.cancelled = TRUE;   /* the loop does not sleep, and looks */
  __atomic_store_n (&wait.looping, TRUE, __ATOMIC_RELAXED);
  sysem_posix_watch (rec, TRUE);

  for (;;)
    {
      guint64 data = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
      int res;

      if (SYSEM_POSIX_VALUE (data) != 0)
        {
          switch (sysem_ledger_change (file, rec->slot, SYSEM_LEDGER_OP_TAKE_WAITED, FALSE, NULL))
            {
            case SYSEM_CHAIN_OK:
              acquired = TRUE;
              goto done;
            case SYSEM_CHAIN_EMPTY:
              continue;
            case SYSEM_CHAIN_REMOVED:
              sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
              goto done;
            case SYSEM_CHAIN_FULL:
            case SYSEM_CHAIN_BAD:
            default:
              if (g_atomic_int_get (&rec->truncated))
                sysem_posix_set_truncated (self, SYSEM_OP_ACQUIRE, error);
              else
                sysem_posix_set_bad_value (self, SYSEM_OP_ACQUIRE, error);
              goto unwait;
            }
        }

      if (deadline != SYSEM_DEADLINE_FOREVER && g_get_monotonic_time () >= deadline)
        {
          sysem_posix_timed_out (self, error);
          goto unwait;
        }

      /* A cancel's mark is taken once: the look at the cancellable below
       * decides, and one reset since then sends us back to sleep instead
       * of round this loop for good. */
      if (__atomic_exchange_n (&wait.cancelled, FALSE, __ATOMIC_SEQ_CST) ||
          (guint32) (sysem_ledger_load_hi (&file->sem) >> 32) == SYSEM_TAG_REMOVED ||
          g_atomic_int_get (&rec->gone) || g_atomic_int_get (&rec->truncated))
        res = EAGAIN;
      else
        res = sysem_posix_futex_wait (file, deadline);

      if (res != 0 && res != ETIMEDOUT && res != EINTR && res != EAGAIN)
        {
          sysem_set_error_errno (error, SYSEM_OP_ACQUIRE, self->parent.display_key, res);
          goto unwait;
        }

      if ((guint32) (sysem_ledger_load_hi (&file->sem) >> 32) == SYSEM_TAG_REMOVED)
        {
          sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
          goto done;
        }
      if (g_atomic_int_get (&rec->truncated))
        {
          sysem_posix_set_truncated (self, SYSEM_OP_ACQUIRE, error);
          goto unwait;
        }
      if (g_atomic_int_get (&rec->gone))
        {
          sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
          goto unwait;
        }
      if (cancellable != NULL && g_cancellable_is_cancelled (cancellable) &&
          g_cancellable_set_error_if_cancelled (cancellable, error))
        goto unwait;
    }

unwait:
  sysem_ledger_change (file, rec->slot, SYSEM_LEDGER_OP_UNWAIT, FALSE, NULL);
done:
  __atomic_store_n (&wait.looping, FALSE, __ATOMIC_RELEASE);
  sysem_posix_watch (rec, FALSE);
  if (cancellable != NULL)
    sysem_cancel_wait_end (&cancel_wait);
  return acquired;
}

static gboolean
sysem_posix_ledger_release (SysemPosix  *self,
                            int          n,
                            GError     **error)
{
  SysemPosixRecord *rec = self->rec;
  SysemLedgerFile *file = rec->file;
  guint64 acct, data;
  guint32 held;
  int given = 0;

  if (!sysem_posix_ledger_ready (self, SYSEM_OP_RELEASE, error))
    return FALSE;

  data = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
  if (SYSEM_POSIX_VALUE (data) > SEM_VALUE_MAX)
    {
      sysem_posix_set_bad_value (self, SYSEM_OP_RELEASE, error);
      return FALSE;
    }
  if (SYSEM_POSIX_VALUE (data) > (guint32) (SEM_VALUE_MAX - n))
    goto too_many;

  acct = __atomic_load_n (&file->slots[rec->slot].acct, __ATOMIC_ACQUIRE);
  held = (guint32) acct;

  while (given < n)
    {
      SysemChainResult res;
      guint32 step;

      /* One unit at a time while this process holds some: another
       * thread of it may take or give meanwhile, and each change is
       * decided on the count it finds. */
      if (held > 0)
        {
          step = 1;
          res = sysem_ledger_change (file, rec->slot, SYSEM_LEDGER_OP_GIVE, FALSE, &data);
        }
      else
        {
          /* Beyond what this process holds: units made, not given back. */
          step = (guint32) (n - given);
          res = sysem_ledger_add_plain (file, step, &data);
        }

      switch (res)
        {
        case SYSEM_CHAIN_OK:
          break;
        case SYSEM_CHAIN_REMOVED:
          sysem_posix_set_removed (self, SYSEM_OP_RELEASE, error);
          return FALSE;
        case SYSEM_CHAIN_BAD:
          sysem_posix_set_bad_value (self, SYSEM_OP_RELEASE, error);
          return FALSE;
        case SYSEM_CHAIN_EMPTY:
        case SYSEM_CHAIN_FULL:
        default:
          if (given == 0)
            goto too_many;
          /* Another process filled the count meanwhile: what was given
           * stays given. */
          sysem_set_error_too_many (error, SYSEM_OP_RELEASE, self->parent.display_key, SEM_VALUE_MAX);
          return FALSE;
        }

      given += (int) step;
      if (given < n)
        {
          acct = __atomic_load_n (&file->slots[rec->slot].acct, __ATOMIC_ACQUIRE);
          held = (guint32) acct;
        }

      /* The last thing this call does with the mapping: a woken waiter
       * may finish, and its program let the object go, before we return
       * (a system call on memory unmapped meanwhile fails, it does not
       * fault). */
      if (SYSEM_POSIX_WAITERS (data) > 0)
        sysem_posix_futex_wake (file, (int) MIN (step, MIN (SYSEM_POSIX_WAITERS (data), (guint32) INT_MAX)));
    }

  return TRUE;

too_many:
  sysem_set_error_too_many (error, SYSEM_OP_RELEASE, self->parent.display_key, SEM_VALUE_MAX);
  return FALSE;
}

#endif /* SYSEM_HAVE_LEDGER */

/* Without a ledger: glibc's calls, as Qt makes them. */

static gboolean
sysem_posix_plain_acquire (SysemPosix    *self,
                           gint64         deadline,
                           GCancellable  *cancellable,
                           GError       **error)
{
  sem_t *sem = (sem_t *) (gpointer) self->rec->file;

  if (sysem_handle_is_removed (&self->parent))
    {
      sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
      return FALSE;
    }

  if (sem_trywait (sem) == 0)
    return TRUE;

  if (deadline == SYSEM_DEADLINE_NOW)
    return FALSE;

  for (;;)
    {
      gint64 slice_end;
      struct timespec ts;

      if (!sysem_wait_slice (deadline, cancellable, &slice_end, error))
        return FALSE;

      ts.tv_sec = slice_end / G_USEC_PER_SEC;
      ts.tv_nsec = (slice_end % G_USEC_PER_SEC) * 1000;

      if (sem_clockwait (sem, CLOCK_MONOTONIC, &ts) == 0)
        return TRUE;

      if (errno == ETIMEDOUT || errno == EINTR)
        {
          SysemFileState state = sysem_posix_file_state (self->rec, NULL);

          if (state != SYSEM_FILE_OK)
            return sysem_posix_set_file_error (self, state, SYSEM_OP_ACQUIRE, error);
          if (deadline != SYSEM_DEADLINE_FOREVER && g_get_monotonic_time () >= deadline)
            return sem_trywait (sem) == 0;
          continue;
        }

      sysem_set_error_errno (error, SYSEM_OP_ACQUIRE, self->parent.display_key, errno);
      return FALSE;
    }
}

static gboolean
sysem_posix_plain_release (SysemPosix  *self,
                           int          n,
                           GError     **error)
{
  sem_t *sem = (sem_t *) (gpointer) self->rec->file;
  int value;

  if (sysem_handle_is_removed (&self->parent))
    {
      sysem_posix_set_removed (self, SYSEM_OP_RELEASE, error);
      return FALSE;
    }

  if (sem_getvalue (sem, &value) == 0 && value > SEM_VALUE_MAX - n)
    goto too_many;

  for (int i = 0; i < n; i++)
    {
      if (sem_post (sem) != 0)
        {
          while (i-- > 0)
            sem_trywait (sem);
          goto too_many;
        }
    }

  return TRUE;

too_many:
  sysem_set_error_too_many (error, SYSEM_OP_RELEASE, self->parent.display_key, SEM_VALUE_MAX);
  return FALSE;
}

/* The backend's calls */

static G_GNUC_NO_INLINE gboolean
sysem_posix_acquire_slow (SysemHandle   *handle,
                          gint64         deadline,
                          GCancellable  *cancellable,
                          GError       **error)
{
  SysemPosix *self = (SysemPosix *) handle;

#ifdef SYSEM_HAVE_LEDGER
  if (self->rec->ledger)
    return sysem_posix_ledger_acquire (self, deadline, cancellable, error);
#endif
  return sysem_posix_plain_acquire (self, deadline, cancellable, error);
}

/* acquire(), made twice: for any call, and for try_acquire (0). */
static inline __attribute__ ((always_inline)) gboolean
sysem_posix_acquire_inline (SysemHandle   *handle,
                            gint64         deadline,
                            GCancellable  *cancellable,
                            GError       **error)
{
#ifdef SYSEM_HAVE_LEDGER
  SysemPosix *self = (SysemPosix *) handle;
  SysemLedgerFile *file = g_atomic_pointer_get (&self->fast_file);

  /* An empty count and no time to wait: one load (glibc's sem_trywait()
   * looks no further either). */
  if (deadline == SYSEM_DEADLINE_NOW && G_LIKELY (file != NULL) &&
      __atomic_load_n ((guint32 *) (gpointer) &file->sem.data, __ATOMIC_RELAXED) == 0)
    return FALSE;

  /* A free unit: one compare-and-swap, no call, also with a cancellable
   * (a cancel before the call was seen by the caller; one since may lose
   * to the unit, as it may in any wait). */
  if (G_LIKELY (file != NULL) && G_LIKELY (self->fast_gen == posix_fork_gen))
    {
      int res = sysem_ledger_fast_take (file, self->fast_index);

      if (G_LIKELY (res > 0))
        return TRUE;
      if (res == 0 && deadline == SYSEM_DEADLINE_NOW)
        return FALSE;
    }
#endif

  return sysem_posix_acquire_slow (handle, deadline, cancellable, error);
}

static gboolean
sysem_posix_acquire (SysemHandle   *handle,
                     gint64         deadline,
                     GCancellable  *cancellable,
                     GError       **error)
{
  return sysem_posix_acquire_inline (handle, deadline, cancellable, error);
}

/* No time to wait, no cancellable, no error: the same code with those
 * known, so that an empty count costs the one load and a return. */
static gboolean
sysem_posix_try_acquire (SysemHandle *handle)
{
  return sysem_posix_acquire_inline (handle, SYSEM_DEADLINE_NOW, NULL, NULL);
}

static G_GNUC_NO_INLINE gboolean
sysem_posix_release_slow (SysemHandle  *handle,
                          int           n,
                          GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;

#ifdef SYSEM_HAVE_LEDGER
  if (self->rec->ledger)
    return sysem_posix_ledger_release (self, n, error);
#endif
  return sysem_posix_plain_release (self, n, error);
}

static gboolean
sysem_posix_release (SysemHandle  *handle,
                     int           n,
                     GError      **error)
{
#ifdef SYSEM_HAVE_LEDGER
  SysemPosix *self = (SysemPosix *) handle;
  SysemLedgerFile *file = g_atomic_pointer_get (&self->fast_file);

  /* One unit and nobody asleep: no call. */
  if (G_LIKELY (file != NULL) && n == 1 &&
      G_LIKELY (self->fast_gen == posix_fork_gen) &&
      G_LIKELY (sysem_ledger_fast_give (file, self->fast_index)))
    return TRUE;
#endif

  return sysem_posix_release_slow (handle, n, error);
}

/* Is the semaphore still there? NOT_FOUND if not, or an error for a
 * value no semaphore has. */
static gboolean
sysem_posix_check (SysemPosix   *self,
                   SysemOp       op,
                   struct stat  *st_out,
                   GError      **error)
{
  SysemPosixRecord *rec = self->rec;
  SysemFileState state;

  if (sysem_handle_is_removed (&self->parent))
    {
      sysem_posix_set_removed (self, op, error);
      return FALSE;
    }

  state = sysem_posix_file_state (rec, st_out);
  if (state != SYSEM_FILE_OK)
    return sysem_posix_set_file_error (self, state, op, error);

#ifdef SYSEM_HAVE_LEDGER
  if (rec->ledger &&
      (guint32) (sysem_ledger_load_hi (&rec->file->sem) >> 32) == SYSEM_TAG_REMOVED)
    {
      sysem_posix_set_removed (self, op, error);
      return FALSE;
    }
#endif

  if (SYSEM_POSIX_VALUE (__atomic_load_n (&rec->file->sem.data, __ATOMIC_RELAXED)) > SEM_VALUE_MAX)
    {
      sysem_posix_set_bad_value (self, op, error);
      return FALSE;
    }

  return TRUE;
}

static int
sysem_posix_get_value (SysemHandle  *handle,
                       GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;

  if (!sysem_posix_check (self, SYSEM_OP_GET_VALUE, NULL, error))
    return -1;

#ifdef SYSEM_HAVE_LEDGER
  if (self->rec->ledger)
    {
      /* In a child of fork(), this is a first use: it takes a slot, so
       * that the child counts as a user of its own from now on. */
      if (G_UNLIKELY (g_atomic_int_get (&self->rec->gen) != g_atomic_int_get (&posix_fork_gen)) &&
          !sysem_posix_ledger_ready (self, SYSEM_OP_GET_VALUE, error))
        return -1;

      /* A value that counts the units of dead holders as taken would be
       * one that the next acquire proves wrong. */
      sysem_posix_scan (self->rec, 0);
    }
#endif

  return (int) SYSEM_POSIX_VALUE (__atomic_load_n (&self->rec->file->sem.data, __ATOMIC_RELAXED));
}

static gboolean
sysem_posix_stats (SysemHandle  *handle,
                   SysemStats   *stats,
                   GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  SysemPosixRecord *rec = self->rec;
  struct stat st;
  guint64 data;

  if (!sysem_posix_check (self, SYSEM_OP_GET_VALUE, &st, error))
    return FALSE;

#ifdef SYSEM_HAVE_LEDGER
  if (rec->ledger && g_atomic_int_get (&rec->gen) == g_atomic_int_get (&posix_fork_gen))
    sysem_posix_scan (rec, 0);
#endif

  data = __atomic_load_n (&rec->file->sem.data, __ATOMIC_RELAXED);
  stats->key_type = SYSEM_KEY_TYPE_POSIX;
  stats->id = -1;
  stats->n_sems = -1;
  stats->users = -1;
  stats->last_pid = -1;
  stats->mode = st.st_mode & 0777;
  stats->uid = st.st_uid;
  stats->changed = st.st_mtime;
  stats->value = (int) SYSEM_POSIX_VALUE (data);
  stats->waiters = (int) SYSEM_POSIX_WAITERS (data);

#ifdef SYSEM_HAVE_LEDGER
  if (rec->ledger)
    {
      SysemLedgerFile *file = rec->file;

      stats->users = 0;
      for (guint i = 0; i < SYSEM_LEDGER_N_SLOTS; i++)
        if (file->slots[i].state == SYSEM_SLOT_USED && (file->slots[i].flags & SYSEM_SLOT_USER))
          stats->users++;
    }
#endif

  return TRUE;
}

static gboolean
sysem_posix_remove (SysemHandle  *handle,
                    GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  SysemPosixRecord *rec = self->rec;

  if (sysem_handle_is_removed (handle) ||
      !sysem_posix_path_is (rec->path, rec->dev, rec->ino))
    {
      sysem_posix_set_removed (self, SYSEM_OP_REMOVE, error);
      return FALSE;
    }

#ifdef SYSEM_HAVE_LEDGER
  if (rec->ledger)
    {
      if ((guint32) (sysem_ledger_load_hi (&rec->file->sem) >> 32) == SYSEM_TAG_REMOVED)
        {
          sysem_posix_set_removed (self, SYSEM_OP_REMOVE, error);
          return FALSE;
        }

      /* Every sysem user sees it at its next call, a sleeper at once (one
       * of another process whose wake came too early, at its watcher's
       * next look). */
      sysem_ledger_lock (rec->file);
      __atomic_or_fetch (&rec->file->hdr.flags, SYSEM_LEDGER_CLOSING, __ATOMIC_RELEASE);
      sysem_ledger_mark_removed (rec->file, TRUE);
      if (unlink (rec->path) == -1 && errno != ENOENT)
        {
          int errsv = errno;

          sysem_ledger_unlock (rec->file);
          sysem_set_error_errno (error, SYSEM_OP_REMOVE, handle->display_key, errsv);
          return FALSE;
        }
      sysem_ledger_unlock (rec->file);
      sysem_posix_wake_local (rec);
    }
  else
#endif
  if (unlink (rec->path) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, handle->display_key, errno);
      return FALSE;
    }

  sysem_handle_set_removed (handle);
  g_atomic_pointer_set (&self->fast_file, NULL);
  return TRUE;
}

static gboolean
sysem_posix_keep (SysemHandle  *handle,
                  GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  SysemPosixRecord *rec = self->rec;

#ifdef SYSEM_HAVE_LEDGER
  if (rec->ledger)
    {
      __atomic_or_fetch (&rec->file->hdr.flags, SYSEM_LEDGER_KEEP, __ATOMIC_RELEASE);
      return TRUE;
    }
#endif

  /* Qt's rule: the creator unlinks it when it closes; now nobody does. */
  g_mutex_lock (&posix_lock);
  rec->creator = 0;
  g_mutex_unlock (&posix_lock);
  return TRUE;
}

/* This process leaves @rec, its last handle on it closed. Called with
 * posix_lock, so that an open of the same file, which joins the record
 * again, comes before or after. */
static void
sysem_posix_leave_locked (SysemPosixRecord *rec,
                          gboolean          removed)
{
#ifdef SYSEM_HAVE_LEDGER
  if (rec->ledger)
    {
      SysemLedgerFile *file = rec->file;
      gboolean inherited = g_atomic_int_get (&rec->gen) != g_atomic_int_get (&posix_fork_gen);

      if (g_atomic_int_get (&rec->truncated))
        return;   /* not a semaphore any more: left as it is, for gc to see */

      /* Inherited through fork() and never used here: no slot to leave,
       * only the mark; but this may have been the last process to hold
       * the semaphore. */
      if (inherited && rec->mark_fd != -1)
        close (g_steal_fd (&rec->mark_fd));

      sysem_ledger_lock (file);
      sysem_ledger_recover_locked (file);

      /* The slot stays ours until we die, with what we hold: closing does
       * not give units back, exiting does. */
      if (!inherited)
        file->slots[rec->slot].flags &= ~(guint32) SYSEM_SLOT_USER;

      if (!removed &&
          sysem_ledger_count_users_locked (file, TRUE) == 0 &&
          !sysem_fork_path_marked (rec->path, rec->dev, rec->ino) &&
          (__atomic_load_n (&file->hdr.flags, __ATOMIC_ACQUIRE) &
           (SYSEM_LEDGER_KEEP | SYSEM_LEDGER_GLIBC_MADE)) == 0 &&
          (guint32) (sysem_ledger_load_hi (&file->sem) >> 32) != SYSEM_TAG_REMOVED)
        {
          /* The last user: nobody can join while we hold the lock, and
           * whoever opened the file meanwhile sees CLOSING and opens
           * again. */
          __atomic_or_fetch (&file->hdr.flags, SYSEM_LEDGER_CLOSING, __ATOMIC_RELEASE);
          sysem_ledger_mark_removed (file, TRUE);
          sysem_posix_unlink_if_ours (rec);
        }

      sysem_ledger_unlock (file);
      return;
    }
#endif

  /* Qt's rule: the instance that created the semaphore unlinks it. */
  if (!removed && rec->creator == getpid ())
    sysem_posix_unlink_if_ours (rec);
}

static void
sysem_posix_close (SysemHandle *handle)
{
  SysemPosix *self = (SysemPosix *) handle;
  SysemPosixRecord *rec = self->rec;

  /* The mapping stays for a call that may still be running on this
   * handle (sysem-backend.h); sysem_posix_free() lets it go. */
  g_atomic_pointer_set (&self->fast_file, NULL);
  if (rec == NULL)
    return;

  /* The record stays listed while handles refer to it: a later open of
   * the same file joins it again, with its mapping, instead of mapping
   * the file once more for every set_key() back to it. */
  g_mutex_lock (&posix_lock);
  if (--rec->joins == 0)
    sysem_posix_leave_locked (rec, sysem_handle_is_removed (handle));
  g_mutex_unlock (&posix_lock);

  sysem_handle_set_removed (handle);
}

static void
sysem_posix_free (SysemHandle *handle)
{
  SysemPosix *self = (SysemPosix *) handle;

  if (self->rec != NULL)
    {
      g_mutex_lock (&posix_lock);
      sysem_posix_record_unref_locked (self->rec);
      g_mutex_unlock (&posix_lock);
    }
  sysem_handle_clear (handle);
  g_free (self);
}

/* Opening */

/* Opens the file of an existing semaphore: the descriptor, -1 with an error,
 * or -2 when there is none. */
static int
sysem_posix_open_existing (const char  *display_key,
                           const char  *path,
                           GError     **error)
{
  int fd;

  fd = open (path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1)
    {
      if (errno == ENOENT)
        return -2;
      if (errno == ELOOP)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, display_key,
                         _("its file in /dev/shm is a symbolic link"));
      else
        sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
      return -1;
    }

  return fd;
}

static void
sysem_posix_make_image (SysemLedgerFile *image,
                        int              initial_value)
{
  memset (image, 0, sizeof *image);
  sem_init ((sem_t *) (gpointer) &image->sem, 1, (unsigned int) initial_value);
  image->hdr.magic = SYSEM_LEDGER_MAGIC;
  image->hdr.version = SYSEM_LEDGER_VERSION;
  image->hdr.n_slots = SYSEM_LEDGER_N_SLOTS;

  /* The creator is its first user. */
  image->slots[0].state = SYSEM_SLOT_USED;
  image->slots[0].pid = getpid ();
  image->slots[0].start = sysem_posix_self_start ();
  image->slots[0].flags = SYSEM_SLOT_USER;
}

/* Makes a new semaphore under the name, whole or not at all: the
 * descriptor, -1 with an error, or -2 when the name was taken meanwhile. */
static int
sysem_posix_create_new (const char  *display_key,
                        const char  *path,
                        int          initial_value,
                        GError     **error)
{
  g_autofree SysemLedgerFile *image = g_malloc (SYSEM_LEDGER_FILE_SIZE);
  g_autofree char *proc_path = NULL;
  gsize size = SYSEM_LEDGER_FILE_SIZE;
  gsize done = 0;
  int fd;

#ifdef SYSEM_HAVE_LEDGER
  memset (image, 0, SYSEM_LEDGER_FILE_SIZE);
  sysem_posix_make_image (image, initial_value);
#else
  memset (image, 0, sizeof (sem_t));
  sem_init ((sem_t *) (gpointer) image, 1, (unsigned int) initial_value);
  size = sizeof (sem_t);
#endif

  /* An unnamed file, linked into place once written: a creator that dies
   * leaves nothing. */
  fd = open (SYSEM_POSIX_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
      return -1;
    }
  fchmod (fd, 0600);

  while (done < size)
    {
      gssize written = write (fd, (const char *) image + done, size - done);

      if (written == -1 && errno == EINTR)
        continue;
      if (written <= 0)
        {
          int errsv = written == -1 ? errno : ENOSPC;

          close (fd);
          sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errsv);
          return -1;
        }
      done += (gsize) written;
    }

  proc_path = g_strdup_printf ("/proc/self/fd/%d", fd);
  if (linkat (AT_FDCWD, proc_path, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == -1)
    {
      int errsv = errno;

      close (fd);
      if (errsv == EEXIST)
        return -2;
      sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errsv);
      return -1;
    }

  return fd;
}

#ifdef SYSEM_HAVE_LEDGER
/* Claims this process's slot as a user, after giving back what dead
 * holders held, under the ledger lock: the slot, -1 if none is free, or -2
 * if the last user is removing the semaphore or died doing so (its name is
 * unlinked then, if it still leads to this file). @bad, unless %NULL, gets
 * the ledger's damage, read under the lock. Called with posix_lock. */
static int
sysem_posix_join_ledger_locked (SysemPosixRecord  *rec,
                                const char       **bad)
{
  SysemLedgerFile *file = rec->file;
  int slot;

  sysem_ledger_lock (file);
  if (sysem_posix_closing (rec))
    {
      sysem_ledger_unlock (file);
      return -2;
    }
  if (bad != NULL)
    *bad = sysem_ledger_check (file);
  slot = sysem_ledger_claim_locked (file);
  sysem_ledger_unlock (file);

  return slot;
}

/* An open of a file this process has a record of already: in a child of
 * fork(), it counts the child as a user at once, as everywhere else; after
 * this process left it (its handles closed, one of them still in memory),
 * it joins the ledger again. Called with posix_lock, after the record's
 * joins went up. */
static SysemAttach
sysem_posix_rejoin_locked (SysemPosixRecord  *rec,
                           const char        *display_key,
                           GError           **error)
{
  int slot;

  if (g_atomic_int_get (&rec->gen) != g_atomic_int_get (&posix_fork_gen))
    {
      SysemAttach adopted = sysem_posix_adopt_locked (rec);

      if (adopted == SYSEM_ATTACH_AGAIN)
        return SYSEM_ATTACH_AGAIN;
      slot = adopted == SYSEM_ATTACH_OK ? (int) rec->slot : -1;
    }
  else if (rec->joins > 1)
    {
      /* Joined already, unless whoever removed it died before it
       * unlinked the name. */
      return sysem_posix_closing (rec) ? SYSEM_ATTACH_AGAIN : SYSEM_ATTACH_OK;
    }
  else
    {
      slot = sysem_posix_join_ledger_locked (rec, NULL);
      if (slot == -2)
        return SYSEM_ATTACH_AGAIN;
      if (slot >= 0)
        rec->slot = (guint) slot;
    }

  if (slot < 0)
    {
      sysem_posix_set_ledger_full (SYSEM_OP_OPEN, display_key, error);
      return SYSEM_ATTACH_FAILED;
    }
  return SYSEM_ATTACH_OK;
}
#endif

/* Maps the file on @fd (whose descriptor it takes) and joins it, or joins
 * this process's record of the same file. Called with posix_lock. */
static SysemAttach
sysem_posix_attach_locked (SysemPosix  *self,
                           int          fd,
                           const char  *path,
                           gboolean     created,
                           GError     **error)
{
  const char *display_key = self->parent.display_key;
  SysemPosixRecord *rec, lookup;
  struct stat st;
  gboolean ledger = FALSE;
  gsize map_size = sizeof (sem_t);
  void *map;

  if (fstat (fd, &st) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
      close (fd);
      return SYSEM_ATTACH_FAILED;
    }

  if (!S_ISREG (st.st_mode))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, display_key,
                       _("its file in /dev/shm is not a semaphore"));
      close (fd);
      return SYSEM_ATTACH_FAILED;
    }

  /* Another user's file: nobody may squat a name and share, or reset, a
   * victim's count. */
  if (st.st_uid != geteuid () && st.st_uid != 0 && geteuid () != 0)
    {
      g_autofree char *reason =
        g_strdup_printf (_("its file in /dev/shm belongs to another user (uid %u)"),
                         (guint) st.st_uid);

      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED, SYSEM_OP_OPEN,
                       display_key, reason);
      close (fd);
      return SYSEM_ATTACH_FAILED;
    }

  lookup.dev = st.st_dev;
  lookup.ino = st.st_ino;
  rec = posix_records != NULL ? g_hash_table_lookup (posix_records, &lookup) : NULL;
  if (rec != NULL && g_atomic_int_get (&rec->truncated))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, display_key,
                       _("its file in /dev/shm is not a semaphore"));
      close (fd);
      return SYSEM_ATTACH_FAILED;
    }
  if (rec != NULL && rec->joins == 0 && g_atomic_int_get (&rec->gone))
    {
      /* Left, and its name went: another file had this inode before. */
      g_hash_table_remove (posix_records, rec);
      rec->listed = FALSE;
      rec = NULL;
    }
  if (rec != NULL)
    {
      /* Ours already: one mapping and one slot per process. */
      close (fd);
      rec->joins++;
#ifdef SYSEM_HAVE_LEDGER
      if (rec->ledger)
        {
          SysemAttach joined = sysem_posix_rejoin_locked (rec, display_key, error);

          if (joined != SYSEM_ATTACH_OK)
            {
              rec->joins--;
              return joined;
            }
        }
#endif
      rec->refs++;
      self->rec = rec;
#ifdef SYSEM_HAVE_LEDGER
      if (rec->ledger && g_atomic_int_get (&rec->gen) == g_atomic_int_get (&posix_fork_gen))
        {
          self->fast_index = rec->slot;
          self->fast_gen = rec->gen;
          self->fast_file = rec->file;
        }
#endif
      return SYSEM_ATTACH_OK;
    }

#ifdef SYSEM_HAVE_LEDGER
  if (st.st_size == SYSEM_LEDGER_FILE_SIZE)
    ledger = TRUE;
  else if (st.st_size == sizeof (sem_t) && sysem_posix_have_cx16 () &&
           posix_fallocate (fd, 0, SYSEM_LEDGER_FILE_SIZE) == 0)
    {
      /* A file made by sem_open(): grown, its pages reserved so that no
       * access to them can fault, and its ledger started below. */
      ledger = TRUE;
      if (fstat (fd, &st) == -1 || st.st_size != SYSEM_LEDGER_FILE_SIZE)
        ledger = FALSE;
    }
  if (ledger)
    map_size = SYSEM_LEDGER_FILE_SIZE;
  else if (st.st_size == SYSEM_LEDGER_FILE_SIZE)
    ledger = FALSE;
#endif

  if ((gsize) st.st_size != map_size)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, display_key,
                       _("its file in /dev/shm is not a semaphore"));
      close (fd);
      return SYSEM_ATTACH_FAILED;
    }

  map = mmap (NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close (fd);
  if (map == MAP_FAILED)
    {
      sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
      return SYSEM_ATTACH_FAILED;
    }

  rec = g_new0 (SysemPosixRecord, 1);
  rec->file = map;
  rec->map_size = map_size;
  rec->map_entry = sysem_posix_map_register_locked (map, map_size, &rec->truncated);
  rec->path = g_strdup (path);
  rec->dev = st.st_dev;
  rec->ino = st.st_ino;
  rec->ledger = ledger;
  rec->refs = 1;
  rec->joins = 1;
  rec->creator = created ? getpid () : 0;
  rec->mark_fd = -1;
  rec->fork_fd = -1;
  self->rec = rec;

  if (SYSEM_POSIX_VALUE (rec->file->sem.data) > SEM_VALUE_MAX)
    {
      sysem_posix_set_bad_value (self, SYSEM_OP_OPEN, error);
      goto failed;
    }

#ifdef SYSEM_HAVE_LEDGER
  if (ledger)
    {
      SysemLedgerFile *file = rec->file;
      const char *bad;
      int slot;

      /* A ledger sem_open()'s file was just given: all zero but the
       * header, which the first to get here writes. */
      if (__atomic_load_n (&file->hdr.magic, __ATOMIC_ACQUIRE) == 0 &&
          file->hdr.version == 0 && file->hdr.n_slots == 0)
        {
          guint32 zero = 0;

          file->hdr.version = SYSEM_LEDGER_VERSION;
          file->hdr.n_slots = SYSEM_LEDGER_N_SLOTS;
          __atomic_or_fetch (&file->hdr.flags, SYSEM_LEDGER_GLIBC_MADE, __ATOMIC_RELAXED);
          __atomic_compare_exchange_n (&file->hdr.magic, &zero, SYSEM_LEDGER_MAGIC, FALSE,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED);
        }

      bad = sysem_ledger_check (file);
      if (bad != NULL)
        {
          sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, display_key, bad);
          goto failed;
        }

      slot = sysem_posix_join_ledger_locked (rec, &bad);
      if (slot == -2)
        {
          self->rec = NULL;
          sysem_posix_record_unref_locked (rec);
          return SYSEM_ATTACH_AGAIN;
        }
      if (bad != NULL)
        {
          sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, display_key, bad);
          goto failed;
        }
      if (slot < 0)
        {
          sysem_posix_set_ledger_full (SYSEM_OP_OPEN, display_key, error);
          goto failed;
        }

      rec->slot = (guint) slot;
      rec->gen = posix_fork_gen;
      rec->last_scan = 0;
    }
  else
#endif
    rec->gen = G_MAXUINT;   /* never the fast path */

  if (posix_records == NULL)
    posix_records = g_hash_table_new (sysem_posix_record_hash, sysem_posix_record_equal);
  g_hash_table_add (posix_records, rec);
  rec->listed = TRUE;

#ifdef SYSEM_HAVE_LEDGER
  if (ledger)
    {
      self->fast_index = rec->slot;
      self->fast_gen = rec->gen;
      self->fast_file = rec->file;
    }
#endif

  return SYSEM_ATTACH_OK;

failed:
  self->rec = NULL;
  sysem_posix_record_unref_locked (rec);
  return SYSEM_ATTACH_FAILED;
}

static SysemHandle *
sysem_posix_open (const char       *display_key,
                  const char       *native,
                  int               initial_value,
                  SysemAccessMode   mode,
                  GError          **error)
{
  static gsize atfork_once = 0;
  SysemPosix *self = g_new0 (SysemPosix, 1);
  g_autofree char *path = sysem_key_posix_path (native);
  SysemAttach attached = SYSEM_ATTACH_FAILED;

  if (g_once_init_enter (&atfork_once))
    {
      pthread_atfork (sysem_posix_atfork_prepare,
                      sysem_posix_atfork_parent,
                      sysem_posix_atfork_child);
      g_once_init_leave (&atfork_once, 1);
    }

  sysem_posix_install_sigbus ();
  sysem_handle_init (&self->parent, &sysem_posix_backend, display_key, native);

  for (guint tries = 0; tries < 64; tries++)
    {
      gboolean created = FALSE;
      int fd;

      if (mode == SYSEM_ACCESS_MODE_CREATE)
        {
          /* Create replaces an existing semaphore with a new one, as Qt
           * does: processes that still have the old one keep it. */
          if (unlink (path) == -1 && errno != ENOENT)
            {
              sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
              break;
            }
          fd = sysem_posix_create_new (display_key, path, initial_value, error);
          created = TRUE;
        }
      else
        {
          fd = sysem_posix_open_existing (display_key, path, error);
          if (fd == -2)
            {
              fd = sysem_posix_create_new (display_key, path, initial_value, error);
              created = TRUE;
            }
        }

      if (fd == -1)
        break;
      if (fd == -2)
        continue;

      g_mutex_lock (&posix_lock);
      attached = sysem_posix_attach_locked (self, fd, path, created, error);
      g_mutex_unlock (&posix_lock);

      if (attached != SYSEM_ATTACH_AGAIN)
        break;
    }

  if (attached != SYSEM_ATTACH_OK)
    {
      if (attached == SYSEM_ATTACH_AGAIN || (error != NULL && *error == NULL))
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_UNKNOWN, SYSEM_OP_OPEN, display_key,
                         _("other processes kept creating and removing it"));
      sysem_posix_free (&self->parent);
      return NULL;
    }

  self->parent.live_count = &self->rec->live;
  return &self->parent;
}

/* Naming */

static gboolean
sysem_posix_derive_key (const char  *key,
                        char       **native_out,
                        GError     **error)
{
  g_autofree char *name = sysem_key_legacy_name (key, strlen (key));

  if (strlen (name) > SYSEM_POSIX_NAME_MAX)
    {
      sysem_key_set_too_long (error, key);
      return FALSE;
    }

  *native_out = g_strconcat ("/", name, NULL);
  return TRUE;
}

/* Qt 6.6's platformSafeKey() gives "/" + name; the name is accepted with
 * or without that slash. */
static gboolean
sysem_posix_check_native (const char  *native_key,
                          char       **native_out,
                          GError     **error)
{
  const char *name = native_key[0] == '/' ? native_key + 1 : native_key;

  if (*name == '\0' || strchr (name, '/') != NULL ||
      g_str_equal (name, ".") || g_str_equal (name, ".."))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       native_key, _("a POSIX semaphore name must be one slash followed by a name without slashes"));
      return FALSE;
    }

  if (strlen (name) > SYSEM_POSIX_NAME_MAX)
    {
      sysem_key_set_too_long (error, native_key);
      return FALSE;
    }

  *native_out = g_strconcat ("/", name, NULL);
  return TRUE;
}

/* Inspection: reading a semaphore's file without joining it */

#ifdef SYSEM_HAVE_LEDGER
/* Reads the ledger into @info: holders, users, whether dead holders have
 * units to give back. With @recover, gives them back first (reporting
 * them as found). */
static void
sysem_posix_inspect_ledger (SysemInfo       *info,
                            SysemLedgerFile *file,
                            gboolean         writable,
                            gboolean         recover)
{
  gboolean dead_units = FALSE;
  int live_users = 0;

  info->holders = g_array_new (FALSE, TRUE, sizeof (SysemHolder));
  info->crash_safe = TRUE;

  for (guint i = 0; i < SYSEM_LEDGER_N_SLOTS; i++)
    {
      SysemLedgerSlot *slot = &file->slots[i];
      SysemHolder holder = { 0, };

      if (__atomic_load_n (&slot->state, __ATOMIC_ACQUIRE) != SYSEM_SLOT_USED)
        continue;

      holder.pid = slot->pid;
      holder.start = slot->start;
      holder.units = (int) (guint32) __atomic_load_n (&slot->acct, __ATOMIC_ACQUIRE);
      holder.user = (slot->flags & SYSEM_SLOT_USER) != 0;
      holder.alive = sysem_posix_process_state (slot->pid, slot->start, G_MAXUINT64) == SYSEM_PROC_ALIVE;
      g_array_append_val (info->holders, holder);

      if (holder.alive && holder.user)
        live_users++;
      if (!holder.alive && (holder.units > 0 || slot->waiting > 0))
        dead_units = TRUE;
    }

  if (dead_units && recover && writable)
    {
      sysem_ledger_lock (file);
      sysem_ledger_recover_locked (file);
      sysem_ledger_unlock (file);
      dead_units = FALSE;
    }

  info->stats.value = (int) SYSEM_POSIX_VALUE (__atomic_load_n (&file->sem.data, __ATOMIC_RELAXED));
  info->stats.waiters = (int) SYSEM_POSIX_WAITERS (__atomic_load_n (&file->sem.data, __ATOMIC_RELAXED));
  info->stats.users = live_users;

  if ((guint32) (sysem_ledger_load_hi (&file->sem) >> 32) == SYSEM_TAG_REMOVED ||
      (file->hdr.flags & SYSEM_LEDGER_CLOSING))
    {
      /* Removed by its last user, who died before the unlink. */
      info->state = SYSEM_INSPECT_NO_USERS;
      info->stale = TRUE;
      return;
    }

  if (dead_units)
    info->state = SYSEM_INSPECT_RECOVERABLE;
  else if (live_users == 0 && !(file->hdr.flags & (SYSEM_LEDGER_KEEP | SYSEM_LEDGER_GLIBC_MADE)) &&
           info->stats.waiters == 0 && !sysem_fork_path_marked (info->path, info->dev, info->ino))
    {
      info->state = SYSEM_INSPECT_NO_USERS;
      info->stale = TRUE;
    }
}
#endif

/* Reads the semaphore whose file is at @path; its users are counted by
 * sysem_posix_count_users(). */
static SysemInfo *
sysem_posix_inspect_path (const char  *name,
                          const char  *path,
                          gboolean     recover,
                          GError     **error)
{
  g_autoptr(SysemInfo) info = NULL;
  gboolean writable = TRUE;
  SysemMapEntry *entry;
  gint truncated = FALSE;
  struct stat st;
  void *map;
  int fd;

  if (lstat (path, &st) == -1)
    {
      if (errno == ENOENT)
        return NULL;
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }

  info = sysem_info_new (SYSEM_KEY_TYPE_POSIX, name, path);
  info->exists = TRUE;
  info->stats.mode = st.st_mode & 0777;
  info->stats.uid = st.st_uid;
  info->stats.changed = st.st_mtime;
  info->dev = st.st_dev;
  info->ino = st.st_ino;

  if (!S_ISREG (st.st_mode) ||
      (st.st_size != sizeof (sem_t) && st.st_size != SYSEM_LEDGER_FILE_SIZE))
    {
      info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
      return g_steal_pointer (&info);
    }

  fd = open (path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1 && (errno == EACCES || errno == EPERM))
    {
      writable = FALSE;
      fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    }
  if (fd == -1)
    {
      if (errno == ENOENT)
        return NULL;
      if (errno == EACCES || errno == EPERM)
        {
          info->state = SYSEM_INSPECT_NO_ACCESS;
          return g_steal_pointer (&info);
        }
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }

  /* The file may have been replaced since lstat(): check what we opened. */
  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode) ||
      (st.st_size != sizeof (sem_t) && st.st_size != SYSEM_LEDGER_FILE_SIZE))
    {
      close (fd);
      info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
      return g_steal_pointer (&info);
    }
  info->dev = st.st_dev;
  info->ino = st.st_ino;

  map = mmap (NULL, (gsize) st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
              MAP_SHARED, fd, 0);
  close (fd);
  if (map == MAP_FAILED)
    {
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }
  sysem_posix_install_sigbus ();
  g_mutex_lock (&posix_lock);
  entry = sysem_posix_map_register_locked (map, (gsize) st.st_size, &truncated);
  g_mutex_unlock (&posix_lock);

  info->stats.value = (int) SYSEM_POSIX_VALUE (((SysemLedgerSem *) map)->data);
  info->stats.waiters = (int) SYSEM_POSIX_WAITERS (((SysemLedgerSem *) map)->data);

  if (SYSEM_POSIX_VALUE (((SysemLedgerSem *) map)->data) > SEM_VALUE_MAX)
    info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
#ifdef SYSEM_HAVE_LEDGER
  else if (st.st_size == SYSEM_LEDGER_FILE_SIZE)
    {
      if (sysem_ledger_check (map) != NULL)
        info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
      else
        sysem_posix_inspect_ledger (info, map, writable, recover);
    }
#endif

  if (g_atomic_int_get (&truncated))
    info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;

  g_mutex_lock (&posix_lock);
  sysem_posix_map_unregister_locked (entry);
  g_mutex_unlock (&posix_lock);
  munmap (map, (gsize) st.st_size);

  return g_steal_pointer (&info);
}

/* A process whose memory map we cannot read: could it have the file of
 * @info mapped? An approximation from the mode bits. The superuser reads
 * the map of every process it can reach; the few it cannot (the init of
 * an enclosing container, say) are not counted. Another user's processes
 * count only for semaphores that the mode bits open to them, and the
 * superuser's processes only for the superuser's semaphores. */
static gboolean
sysem_posix_uid_could_open (const SysemInfo *info,
                            guint            uid)
{
  if (geteuid () == 0)
    return FALSE;
  if (uid == info->stats.uid)
    return TRUE;
  if (uid == 0)
    return FALSE;
  return (info->stats.mode & 0066) != 0;
}

static gboolean
sysem_posix_parse_maps_line (const char *line,
                             guint      *dev_major,
                             guint      *dev_minor,
                             guint64    *inode)
{
  unsigned long long ino;
  unsigned int maj, mnr;

  /* address perms offset dev inode path */
  if (sscanf (line, "%*s %*s %*s %x:%x %llu", &maj, &mnr, &ino) != 3)
    return FALSE;

  *dev_major = maj;
  *dev_minor = mnr;
  *inode = ino;
  return TRUE;
}

static gboolean
sysem_posix_is_ledger_user (const SysemInfo *info,
                            gint64           pid)
{
  if (info->holders == NULL)
    return FALSE;

  for (guint i = 0; i < info->holders->len; i++)
    {
      const SysemHolder *h = &g_array_index (info->holders, SysemHolder, i);

      if (h->pid == pid && h->alive)
        return TRUE;
    }

  return FALSE;
}

/* Counts, for each semaphore in @infos (from this backend), the processes
 * other than this one that have its file mapped: every process that opened
 * it with sem_open() or with sysem. Those with no slot in a ledger are
 * foreign users (sem_open(), Qt). */
static void
sysem_posix_count_users (GPtrArray *infos,
                         guint      first)
{
  g_autoptr(GPtrArray) posix = g_ptr_array_new ();
  g_autofree gboolean *seen = NULL;
  g_autofree int *mapped = NULL;
  pid_t self = getpid ();
  DIR *proc;
  struct dirent *de;

  for (guint i = first; i < infos->len; i++)
    {
      SysemInfo *info = g_ptr_array_index (infos, i);

      if (info->exists && info->state != SYSEM_INSPECT_NOT_A_SEMAPHORE &&
          info->state != SYSEM_INSPECT_NO_ACCESS)
        g_ptr_array_add (posix, info);
    }

  if (posix->len == 0)
    return;

  seen = g_new0 (gboolean, posix->len);
  mapped = g_new0 (int, posix->len);

  proc = opendir ("/proc");
  if (proc == NULL)
    {
      for (guint i = 0; i < posix->len; i++)
        ((SysemInfo *) g_ptr_array_index (posix, i))->users_exact = FALSE;
      goto decide;
    }

  while ((de = readdir (proc)) != NULL)
    {
      g_autofree char *maps_path = NULL;
      char line[1024];
      gint64 pid;
      FILE *maps;

      if (!g_ascii_string_to_signed (de->d_name, 10, 1, G_MAXINT, &pid, NULL) || pid == self)
        continue;

      maps_path = g_strdup_printf ("/proc/%s/maps", de->d_name);
      maps = fopen (maps_path, "re");
      if (maps == NULL)
        {
          g_autofree char *dir = NULL;
          struct stat st;

          if (errno == ENOENT || errno == ESRCH)
            continue;   /* it ended meanwhile */

          dir = g_strdup_printf ("/proc/%s", de->d_name);
          if (stat (dir, &st) == -1)
            continue;
          for (guint i = 0; i < posix->len; i++)
            {
              SysemInfo *info = g_ptr_array_index (posix, i);

              if (sysem_posix_uid_could_open (info, st.st_uid))
                info->users_exact = FALSE;
            }
          continue;
        }

      memset (seen, 0, sizeof (gboolean) * posix->len);

      while (fgets (line, sizeof line, maps) != NULL)
        {
          guint dev_major, dev_minor;
          guint64 inode;
          gboolean whole_line = strchr (line, '\n') != NULL;

          if (strstr (line, " " SYSEM_POSIX_DIR "/") != NULL &&
              sysem_posix_parse_maps_line (line, &dev_major, &dev_minor, &inode))
            {
              for (guint i = 0; i < posix->len; i++)
                {
                  SysemInfo *info = g_ptr_array_index (posix, i);

                  if (!seen[i] &&
                      major (info->dev) == dev_major && minor (info->dev) == dev_minor &&
                      info->ino == inode)
                    {
                      seen[i] = TRUE;
                      mapped[i]++;
                      if (info->holders != NULL && !sysem_posix_is_ledger_user (info, pid))
                        info->foreign_users = TRUE;
                    }
                }
            }

          /* Skip the rest of an overlong line. */
          while (!whole_line && fgets (line, sizeof line, maps) != NULL)
            whole_line = strchr (line, '\n') != NULL;
        }

      fclose (maps);
    }

  closedir (proc);

decide:
  for (guint i = 0; i < posix->len; i++)
    {
      SysemInfo *info = g_ptr_array_index (posix, i);

      if (info->holders == NULL)
        {
          /* glibc's file, with no ledger: who maps it is all we know. */
          info->stats.users = mapped[i];
          if (mapped[i] == 0 && info->users_exact && info->state == SYSEM_INSPECT_IN_USE)
            {
              info->state = SYSEM_INSPECT_UNUSED;
              info->stale = TRUE;
            }
        }
      else if (info->stale && (mapped[i] > 0 || !info->users_exact) &&
               info->state == SYSEM_INSPECT_NO_USERS && info->foreign_users)
        {
          /* No sysem user, but a sem_open() user maps it. */
          info->state = SYSEM_INSPECT_IN_USE;
          info->stale = FALSE;
        }
    }
}

static SysemInfo *
sysem_posix_inspect_one (const char  *native,
                         gboolean     recover,
                         GError     **error)
{
  g_autofree char *path = sysem_key_posix_path (native);
  g_autoptr(GPtrArray) one = NULL;
  SysemInfo *info;

  info = sysem_posix_inspect_path (native, path, recover, error);
  if (info == NULL)
    return NULL;

  one = g_ptr_array_new ();
  g_ptr_array_add (one, info);
  sysem_posix_count_users (one, 0);

  return info;
}

/* `sysem info`: gives back what dead holders held, at once. */
static SysemInfo *
sysem_posix_inspect (const char  *native,
                     GError     **error)
{
  return sysem_posix_inspect_one (native, TRUE, error);
}

static gboolean
sysem_posix_list (GPtrArray  *infos,
                  GError    **error)
{
  guint first = infos->len;
  struct dirent *de;
  DIR *dir;

  dir = opendir (SYSEM_POSIX_DIR);
  if (dir == NULL)
    return TRUE;

  while ((de = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *native = NULL;
      SysemInfo *info;

      if (!g_str_has_prefix (de->d_name, SYSEM_POSIX_FILE_PREFIX) ||
          de->d_name[strlen (SYSEM_POSIX_FILE_PREFIX)] == '\0')
        continue;
      if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
        continue;

      path = g_build_filename (SYSEM_POSIX_DIR, de->d_name, NULL);
      native = g_strconcat ("/", de->d_name + strlen (SYSEM_POSIX_FILE_PREFIX), NULL);

      /* A file that cannot be read or vanished meanwhile is left out. */
      info = sysem_posix_inspect_path (native, path, FALSE, NULL);
      if (info != NULL)
        g_ptr_array_add (infos, info);
    }

  closedir (dir);
  sysem_posix_count_users (infos, first);
  return TRUE;
}

#ifdef SYSEM_HAVE_LEDGER
/* Removes a semaphore with a ledger, telling its sysem users: 1 removed,
 * 0 not (someone joined meanwhile, or @error is set), -1 not a ledger
 * sysem can read (remove the file as it is). */
static int
sysem_posix_remove_ledger (SysemLedgerFile  *file,
                           SysemInfo        *info,
                           gboolean          only_if_stale,
                           GError          **error)
{
  if (sysem_ledger_check (file) != NULL)
    return -1;

  sysem_ledger_lock (file);
  /* A user that died holding nothing is no user: its slot goes first, as
   * a last user's close lets it go before it counts. */
  sysem_ledger_recover_locked (file);
  if (only_if_stale &&
      (sysem_ledger_count_users_locked (file, FALSE) > 0 || sysem_fork_path_marked (info->path, info->dev, info->ino)))
    {
      sysem_ledger_unlock (file);
      return 0;
    }
  __atomic_or_fetch (&file->hdr.flags, SYSEM_LEDGER_CLOSING, __ATOMIC_RELEASE);
  sysem_ledger_mark_removed (file, TRUE);
  if (unlink (info->path) == -1 && errno != ENOENT)
    {
      int errsv = errno;

      sysem_ledger_unlock (file);
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, info->name, errsv);
      return 0;
    }
  sysem_ledger_unlock (file);
  return 1;
}
#endif

/* Did @info find dead holders with units (which the look that made it
 * may have given back already)? */
static gboolean
sysem_posix_had_dead_units (const SysemInfo *info)
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

static gboolean
sysem_posix_remove_stale (SysemInfo  *info,
                          gboolean    only_if_stale,
                          gboolean   *removed_object,
                          GError    **error)
{
  struct stat st;

  if (only_if_stale)
    {
      /* Looking again gives back the units of dead holders (`sysem gc`
       * on a recoverable semaphore). */
      g_autoptr(SysemInfo) now = sysem_posix_inspect_one (info->name, TRUE, NULL);

      if (now == NULL || now->dev != info->dev || now->ino != info->ino)
        return FALSE;
      if (!now->stale)
        return info->state == SYSEM_INSPECT_RECOVERABLE || sysem_posix_had_dead_units (info);
    }
  else if (lstat (info->path, &st) == -1 || st.st_dev != info->dev || st.st_ino != info->ino)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                       info->name, _("it was removed"));
      return FALSE;
    }

#ifdef SYSEM_HAVE_LEDGER
  /* Tell sysem users of it that it is gone. */
  if (lstat (info->path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size == SYSEM_LEDGER_FILE_SIZE)
    {
      int fd = open (info->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

      if (fd != -1)
        {
          SysemLedgerFile *file = NULL;

          if (fstat (fd, &st) == 0 && st.st_dev == info->dev && st.st_ino == info->ino &&
              st.st_size == SYSEM_LEDGER_FILE_SIZE)
            file = mmap (NULL, SYSEM_LEDGER_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
          close (fd);
          if (file != NULL && file != MAP_FAILED)
            {
              gint truncated = FALSE;
              SysemMapEntry *entry;
              int done;

              sysem_posix_install_sigbus ();
              g_mutex_lock (&posix_lock);
              entry = sysem_posix_map_register_locked (file, SYSEM_LEDGER_FILE_SIZE, &truncated);
              g_mutex_unlock (&posix_lock);
              done = sysem_posix_remove_ledger (file, info, only_if_stale, error);
              g_mutex_lock (&posix_lock);
              sysem_posix_map_unregister_locked (entry);
              g_mutex_unlock (&posix_lock);
              munmap (file, SYSEM_LEDGER_FILE_SIZE);
              if (done > 0)
                *removed_object = TRUE;
              if (done >= 0)
                return done > 0;
            }
        }
    }
#endif

  if (unlink (info->path) == -1)
    {
      if (errno == ENOENT && only_if_stale)
        return FALSE;
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, info->name, errno);
      return FALSE;
    }

  *removed_object = TRUE;
  return TRUE;
}

const SysemBackend sysem_posix_backend = {
  .key_type = SYSEM_KEY_TYPE_POSIX,
  .name = "POSIX",
  .max_value = SEM_VALUE_MAX,
  .derive_key = sysem_posix_derive_key,
  .check_native = sysem_posix_check_native,
  .open = sysem_posix_open,
  .acquire = sysem_posix_acquire,
  .try_acquire = sysem_posix_try_acquire,
  .release = sysem_posix_release,
  .get_value = sysem_posix_get_value,
  .remove = sysem_posix_remove,
  .keep = sysem_posix_keep,
  .stats = sysem_posix_stats,
  .close = sysem_posix_close,
  .free = sysem_posix_free,
  .list = sysem_posix_list,
  .inspect = sysem_posix_inspect,
  .remove_stale = sysem_posix_remove_stale,
};
