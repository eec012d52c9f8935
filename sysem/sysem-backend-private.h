/* sysem-backend-private.h: what a kind of kernel semaphore must provide
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "sysem-semaphore.h"

G_BEGIN_DECLS

/* Deadlines are on the monotonic clock, in g_get_monotonic_time() units. */
#define SYSEM_DEADLINE_NOW     ((gint64) 0)
#define SYSEM_DEADLINE_FOREVER G_MAXINT64

/* A waiter that can be cancelled, or whose semaphore can vanish without the
 * kernel telling it, wakes this often to look. */
#define SYSEM_WAIT_SLICE_USEC (20 * G_TIME_SPAN_MILLISECOND)

typedef struct _SysemHandle SysemHandle;
typedef struct _SysemBackend SysemBackend;

/* What `sysem list`, `sysem info` and the tests read about a semaphore.
 * Fields a key type does not have are -1. */
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

struct _SysemBackend
{
  const char *name;
  int         max_value;

  /* TRUE: one unit taken. FALSE without error: the deadline passed. */
  gboolean (* acquire)   (SysemHandle   *handle,
                          gint64         deadline,
                          GCancellable  *cancellable,
                          GError       **error);
  gboolean (* release)   (SysemHandle   *handle,
                          int            n,
                          GError       **error);
  int      (* get_value) (SysemHandle   *handle,
                          GError       **error);
  gboolean (* stats)     (SysemHandle   *handle,
                          SysemStats    *stats,
                          GError       **error);
  gboolean (* remove)    (SysemHandle   *handle,
                          GError       **error);
  /* Leaves the semaphore (removing it if this was its last user) and frees
   * the handle. */
  void     (* close)     (SysemHandle   *handle);
};

/* Every backend's handle starts with this. Handles are reference counted so
 * that the asynchronous waiter can keep using one while set_key() moves the
 * object to another key. */
struct _SysemHandle
{
  const SysemBackend *backend;
  gint                ref_count;
  char               *display_key;  /* the key as the user gave it, for messages */
  char               *native;
  gboolean            removed;
  /* A backend whose count is one word of shared memory in the layout below
   * points this at it, so that the public calls take a free unit, or give
   * one back when nobody sleeps, inline. NULL otherwise, and once removed. */
  guint64            *fast_word;
};

/* glibc's sem_t on 64-bit systems is one 64-bit word: the value in its low
 * half, the number of sleeping waiters in its high half. Taking a unit when
 * the value is not zero, and adding one when nobody sleeps, is a
 * compare-and-swap that wakes nobody: what sem_trywait() and sem_post() do
 * then, without the calls. Everything else goes through glibc. */
#if GLIB_SIZEOF_VOID_P == 8 && defined(__GLIBC__)
# define SYSEM_HAVE_FAST_WORD 1
#endif

/* How many waiters sleep on a glibc sem_t, for display only; -1 where the
 * layout is not known. */
static inline int
sysem_sem_t_waiters (gconstpointer sem)
{
#ifdef SYSEM_HAVE_FAST_WORD
  guint64 data = __atomic_load_n ((const guint64 *) sem, __ATOMIC_RELAXED);

  return (int) (data >> 32);
#else
  return -1;
#endif
}

static inline gboolean
sysem_fast_take (guint64 *word)
{
  guint64 data = __atomic_load_n (word, __ATOMIC_RELAXED);

  while ((data & G_MAXUINT32) != 0)
    {
      if (__atomic_compare_exchange_n (word, &data, data - 1, TRUE,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return TRUE;
    }

  return FALSE;
}

static inline gboolean
sysem_fast_give (guint64 *word)
{
  guint64 data = __atomic_load_n (word, __ATOMIC_RELAXED);

  return (data >> 32) == 0 && (data & G_MAXUINT32) < G_MAXINT32 &&
         __atomic_compare_exchange_n (word, &data, data + 1, FALSE,
                                      __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

SysemHandle *sysem_sysv_open   (const char        *display_key,
                                const char        *native,
                                int                initial_value,
                                SysemAccessMode    mode,
                                GError           **error);
SysemHandle *sysem_posix_open  (const char        *display_key,
                                const char        *native,
                                int                initial_value,
                                SysemAccessMode    mode,
                                GError           **error);

static inline SysemHandle *
sysem_handle_ref (SysemHandle *handle)
{
  g_atomic_int_inc (&handle->ref_count);
  return handle;
}

static inline void
sysem_handle_unref (SysemHandle *handle)
{
  if (g_atomic_int_dec_and_test (&handle->ref_count))
    handle->backend->close (handle);
}

void sysem_handle_init   (SysemHandle        *handle,
                          const SysemBackend *backend,
                          const char         *display_key,
                          const char         *native);
void sysem_handle_clear  (SysemHandle        *handle);

/* Shared by the backends' sliced waits. */
gboolean sysem_wait_slice (gint64         deadline,
                           GCancellable  *cancellable,
                           gint64        *slice_end,
                           GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SysemHandle, sysem_handle_unref)

G_END_DECLS
