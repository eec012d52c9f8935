/* sysem-posix-ledger.h: the holder ledger after glibc's sem_t in a POSIX
 * semaphore's file
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The file /dev/shm/sem.NAME of a semaphore made by sysem:
 *
 *   0     glibc's sem_t (32 bytes): the 64-bit word (value in the low half,
 *         sleeping waiters in the high half), glibc's futex flag, and four
 *         bytes that glibc never reads, where sysem keeps the "tag" of the
 *         last change to the ledger (below)
 *   32    SysemLedgerHeader: magic, layout version, slots, flags, lock
 *   64    SYSEM_LEDGER_N_SLOTS slots of 64 bytes, one per process that has
 *         (or had, and still lives) the semaphore open
 *
 * so that value and ledger are one inode: unlinking the name removes both,
 * and a sem_open() user (Qt) maps the first page and shares the count.
 *
 * Exactness under SIGKILL. A change of the count and the change of the
 * slot that records it cannot be one store. So every change sysem makes is
 * one 16-byte compare-and-swap (cmpxchg16b) of the count word together
 * with the tag, which names the slot, the operation and the slot's next
 * sequence number; the slot is written after it. A tag whose slot does not
 * show its sequence number yet is pending: nobody replaces it (the swap of
 * everyone else waits for the slot to catch up), so at most one change is
 * ever unrecorded, and the tag says which. If its process dies before
 * writing the slot, whoever recovers the dead process's units applies the
 * tag first. Nothing is left between the count and the ledger: there is no
 * window to measure. Operations of glibc users change the count word alone
 * and are not recorded, as in Qt.
 *
 * The slot of a live process is written only by the thread whose change
 * the tag names, one after the other in tag order, so with plain stores.
 * The header lock (a pid and start time, taken with a compare-and-swap,
 * stolen from a dead holder) orders claiming, freeing and recovering
 * slots, and the last user's unlink. */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-posix-ledger.h is private to sysem: include <sysem/sysem.h>."
#endif

#include <glib.h>
#include <semaphore.h>

G_BEGIN_DECLS

/* The ledger needs glibc's 64-bit sem_t layout and a 16-byte
 * compare-and-swap. Elsewhere every semaphore is used as Qt uses it. */
#if GLIB_SIZEOF_VOID_P == 8 && defined(__GLIBC__) && defined(__x86_64__)
# define SYSEM_HAVE_LEDGER 1
#endif

#define SYSEM_LEDGER_MAGIC     0x4c4d5953u   /* "SYML" */
#define SYSEM_LEDGER_VERSION   1u
#define SYSEM_LEDGER_N_SLOTS   254u
#define SYSEM_LEDGER_FILE_SIZE 16384u

/* Header flags */
enum {
  SYSEM_LEDGER_KEEP       = 1 << 0,   /* `sysem create`: no last-user removal */
  SYSEM_LEDGER_CLOSING    = 1 << 1,   /* the last user is unlinking it */
  SYSEM_LEDGER_GLIBC_MADE = 1 << 2,   /* made by sem_open(): Qt's rule removes it */
};

/* Slot states (under the header lock) */
enum {
  SYSEM_SLOT_FREE = 0,
  SYSEM_SLOT_USED = 1,
};

/* Slot flags */
enum {
  SYSEM_SLOT_USER = 1 << 0,           /* has it open; else only holds units */
};

/* Tags: the slot (index + 1) in the top byte, the operation, the slot's
 * new sequence number (low bits). 0: no change recorded yet. A top byte of
 * 0xff: the semaphore was removed by sysem, every sysem call fails. */
#define SYSEM_TAG_SLOT(tag)   ((guint32) (tag) >> 24)
#define SYSEM_TAG_OP(tag)     (((guint32) (tag) >> 21) & 7u)
#define SYSEM_TAG_SEQ_MASK    0x1fffffu
#define SYSEM_TAG_MAKE(slot, op, seq) \
  ((((guint32) (slot) + 1u) << 24) | ((guint32) (op) << 21) | ((guint32) (seq) & SYSEM_TAG_SEQ_MASK))
#define SYSEM_TAG_REMOVED     0xff000000u

typedef enum {
  SYSEM_LEDGER_OP_TAKE = 1,          /* value - 1; held + 1 */
  SYSEM_LEDGER_OP_GIVE,              /* value + 1; held - 1 (not below 0) */
  SYSEM_LEDGER_OP_GIVE_HELD,         /* value + held; held = 0 */
  SYSEM_LEDGER_OP_WAIT,              /* waiters + 1; waiting + 1 */
  SYSEM_LEDGER_OP_UNWAIT,            /* waiters - 1; waiting - 1 */
  SYSEM_LEDGER_OP_TAKE_WAITED,       /* value - 1, waiters - 1; held + 1, waiting - 1 */
  SYSEM_LEDGER_OP_DRAIN,             /* a dead process: value + held, waiters - waiting */
} SysemLedgerOp;

typedef struct {
  guint64 data;      /* glibc: value | waiters << 32 */
  guint32 priv;      /* glibc: the futex flag, FUTEX_SHARED (0) */
  guint32 tag;       /* sysem */
  guint8  unused[16];
} SysemLedgerSem;

typedef struct {
  guint32 magic;
  guint32 version;
  guint32 n_slots;
  guint32 flags;     /* atomic */
  guint64 lock;      /* pid << 32 | (start time & 0xffffffff); 0: free */
  guint64 reserved;
} SysemLedgerHeader;

typedef struct {
  guint64 acct;      /* held | seq << 32; written in tag order */
  guint32 waiting;   /* written in tag order, before acct */
  guint32 state;     /* under the header lock */
  gint32  pid;
  guint32 flags;
  guint64 start;     /* /proc/PID/stat field 22 */
  guint8  pad[32];
} SysemLedgerSlot;

typedef struct {
  SysemLedgerSem    sem;
  SysemLedgerHeader hdr;
  SysemLedgerSlot   slots[SYSEM_LEDGER_N_SLOTS];
} SysemLedgerFile;

G_STATIC_ASSERT (sizeof (SysemLedgerSem) == sizeof (sem_t));
G_STATIC_ASSERT (sizeof (SysemLedgerHeader) == 32);
G_STATIC_ASSERT (sizeof (SysemLedgerSlot) == 64);
G_STATIC_ASSERT (sizeof (SysemLedgerFile) <= SYSEM_LEDGER_FILE_SIZE);

#ifdef SYSEM_HAVE_LEDGER
/* The fast protocol: a change of the count is one 16-byte swap of the
 * count word and the tag, then the slot. Inline, for the POSIX backend's
 * fast path and for the benchmark that times it without a call. */

/* The count word and the tag: one 16-byte compare-and-swap. On failure,
 * *lo and *hi hold what is there now. */
static inline gboolean
sysem_ledger_cas16 (SysemLedgerSem *sem,
                    guint64        *lo,
                    guint64        *hi,
                    guint64         new_lo,
                    guint64         new_hi)
{
  gboolean ok;

  __asm__ __volatile__ ("lock cmpxchg16b %1"
                        : "=@ccz" (ok), "+m" (*(volatile unsigned __int128 *) (gpointer) sem),
                          "+a" (*lo), "+d" (*hi)
                        : "b" (new_lo), "c" (new_hi)
                        : "memory");
  return ok;
}

static inline guint64
sysem_ledger_load_hi (SysemLedgerSem *sem)
{
  return __atomic_load_n ((guint64 *) (gpointer) &sem->priv, __ATOMIC_RELAXED);
}

/* A tag whose slot does not show the change yet. */
static inline gboolean
sysem_ledger_tag_pending (SysemLedgerFile *file,
                          guint32          tag)
{
  guint s = SYSEM_TAG_SLOT (tag);
  guint64 acct;

  if (s == 0 || s > SYSEM_LEDGER_N_SLOTS)
    return FALSE;

  acct = __atomic_load_n (&file->slots[s - 1].acct, __ATOMIC_ACQUIRE);
  return ((((guint32) (acct >> 32)) + 1) & SYSEM_TAG_SEQ_MASK) == (tag & SYSEM_TAG_SEQ_MASK);
}

/* Would a change recorded in slot @index, whose acct word is @acct, have
 * to wait for the tag in @hi? Yes if another change is pending: the tag's
 * slot does not show it yet. For our own slot the acct word in hand tells
 * (the common case: no second load); a tag that names no slot sends the
 * caller to the slow path too. */
static inline gboolean
sysem_ledger_fast_blocked (SysemLedgerFile *file,
                           guint            index,
                           guint64          acct,
                           guint64          hi)
{
  guint32 tag = (guint32) (hi >> 32);

  if (G_LIKELY (SYSEM_TAG_SLOT (tag) == index + 1))
    return ((((guint32) (acct >> 32)) + 1) & SYSEM_TAG_SEQ_MASK) == (tag & SYSEM_TAG_SEQ_MASK);
  if (tag == 0)
    return FALSE;
  return SYSEM_TAG_SLOT (tag) > SYSEM_LEDGER_N_SLOTS || sysem_ledger_tag_pending (file, tag);
}

/* The tag of the next change of slot @index, whose acct word is @acct. */
#define SYSEM_LEDGER_NEXT_TAG(index, op, acct) \
  ((guint64) SYSEM_TAG_MAKE ((index), (op), ((acct) >> 32) + 1) << 32)

/* One change by one unit, @delta -1 (take) or +1 (give), always a
 * constant: 1 when made; 0 when no unit is free to take; -1 when the slow
 * path must decide (past SEM_VALUE_MAX, removed, a change still pending;
 * for a give also a sleeper to wake or a full count). */
static inline __attribute__ ((always_inline)) int
sysem_ledger_fast_change (SysemLedgerFile *file,
                          guint            index,
                          int              delta)
{
  SysemLedgerSlot *slot = &file->slots[index];
  guint64 lo = __atomic_load_n (&file->sem.data, __ATOMIC_RELAXED);
  guint64 hi = sysem_ledger_load_hi (&file->sem);
  SysemLedgerOp op = delta < 0 ? SYSEM_LEDGER_OP_TAKE : SYSEM_LEDGER_OP_GIVE;

  for (;;)
    {
      guint64 acct = __atomic_load_n (&slot->acct, __ATOMIC_RELAXED);

      /* A take: 0 is none free, a negative value is past SEM_VALUE_MAX
       * (or the removed tag's count). A give: waiters in the high half,
       * or the value plus one reaching 1 << 31. */
      if (delta < 0 && G_UNLIKELY ((gint32) lo <= 0))
        return (guint32) lo == 0 ? 0 : -1;
      if (delta > 0 && G_UNLIKELY (((lo + 1) >> 31) != 0))
        return -1;
      if (G_UNLIKELY (sysem_ledger_fast_blocked (file, index, acct, hi)))
        return -1;

      if (G_LIKELY (sysem_ledger_cas16 (&file->sem, &lo, &hi, lo + delta,
                                        (hi & G_MAXUINT32) | SYSEM_LEDGER_NEXT_TAG (index, op, acct))))
        {
          /* The next sequence number, and held one up or (not below 0)
           * one down. */
          guint64 next = acct + ((guint64) 1 << 32);

          next = delta < 0 ? next + 1 : next - ((guint32) acct != 0);
          __atomic_store_n (&slot->acct, next, __ATOMIC_RELEASE);
          return 1;
        }
    }
}

static inline int
sysem_ledger_fast_take (SysemLedgerFile *file,
                        guint            index)
{
  return sysem_ledger_fast_change (file, index, -1);
}

static inline gboolean
sysem_ledger_fast_give (SysemLedgerFile *file,
                        guint            index)
{
  return sysem_ledger_fast_change (file, index, 1) == 1;
}

#endif /* SYSEM_HAVE_LEDGER */

G_END_DECLS
