/* sysem-backend.h: what a key type provides, and the handle every backend's
 * state starts with
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* SysemSemaphore (sysem-semaphore.c) and the waiter (sysem-waiter.c) reach a
 * backend only through the sysem_backend_*() and sysem_handle_*() calls
 * below; the backends (sysem-sysv.c, sysem-posix.c, sysem-etcd.c) never
 * include each other, and only they know a kernel layout or a protocol.
 *
 * Lock map of a handle:
 * - backend, display_key, native: set before the handle is published,
 *   never written again; read without a lock.
 * - ref_count: atomic, the holders of the semaphore. The object holds one
 *   while the handle is its current one; each queued asynchronous request
 *   holds one. When it reaches zero the backend's close() leaves the
 *   semaphore.
 * - mem_count: atomic, the holders of the memory: each reference above,
 *   and the object that opened the handle, until it is finalized. At zero
 *   the backend's free() frees the handle. So a call that loaded the
 *   handle before set_key() replaced it, which may still be running on it
 *   (the fast paths take no lock and no reference), finds its memory
 *   valid: it works on the old semaphore, or fails with NOT_FOUND once
 *   that is gone.
 * - removed: atomic; set once by a backend that saw the semaphore gone.
 * - live_refs: under sysem_lock(), the references above that a child of
 *   fork() keeps: the object's while the handle is its current one, and
 *   each request's. A reference that only a thread holds for a moment
 *   (a handle just opened and not yet the object's, or just replaced
 *   and being closed) is not one: that thread is not in the child,
 *   which never closes such a handle. live_count, set by the backend
 *   before it returns the handle (NULL: nothing to count), is its
 *   record's count of the handles with live references: fork() holds
 *   sysem_lock(), so the backend's child handler reads there how many of
 *   the handles of the record the child will close.
 * - Everything else belongs to the backend, which documents its own locks. */

#pragma once

#if !defined(SYSEM_COMPILATION)
#error "sysem-backend.h is private to sysem: include <sysem/sysem.h>."
#endif

#include <sys/stat.h>

#include "sysem-semaphore.h"
#include "sysem-inspect-private.h"

G_BEGIN_DECLS

/* Deadlines are on the monotonic clock, in g_get_monotonic_time() units. */
#define SYSEM_DEADLINE_NOW     ((gint64) 0)
#define SYSEM_DEADLINE_FOREVER G_MAXINT64

/* A waiter that must look at something the kernel cannot wake it for
 * (a cancellable, a removal nobody announces) wakes at most this often. */
#define SYSEM_WAIT_SLICE_USEC (20 * G_TIME_SPAN_MILLISECOND)

typedef struct _SysemHandle SysemHandle;
typedef struct _SysemBackend SysemBackend;

struct _SysemBackend
{
  SysemKeyType  key_type;
  const char   *name;        /* "System V", "POSIX", "etcd": not translated */
  int           max_value;
  /* acquire() talks to another machine even with SYSEM_DEADLINE_NOW:
   * acquire_async() never calls it in the caller's thread. */
  gboolean      remote;

  /* Naming. @key is a valid, non-empty UTF-8 string; @native_key is what
   * the caller gave as a native key. Both return a newly allocated native
   * key, or FALSE with a KEY_ERROR. */
  gboolean     (* derive_key)   (const char       *key,
                                 char            **native_out,
                                 GError          **error);
  gboolean     (* check_native) (const char       *native_key,
                                 char            **native_out,
                                 GError          **error);

  /* Joins (creating it if missing) the semaphore named @native; the new
   * handle has one reference. @display_key is for messages. */
  SysemHandle *(* open)         (const char       *display_key,
                                 const char       *native,
                                 int               initial_value,
                                 SysemAccessMode   mode,
                                 GError          **error);

  /* TRUE: one unit taken. FALSE without error: @deadline passed
   * (SYSEM_DEADLINE_NOW: no unit was free). FALSE with an error: cancelled,
   * removed or failed. Each backend takes a free unit first, as cheaply as
   * it can: this is the uncontended path of every public acquire. A
   * cancel made before the call is the caller's to see (the public calls
   * look before, the waiter thread after): the backend need not look
   * before it takes a free unit, only before it sleeps. */
  gboolean     (* acquire)      (SysemHandle      *handle,
                                 gint64            deadline,
                                 GCancellable     *cancellable,
                                 GError          **error);
  /* acquire (SYSEM_DEADLINE_NOW, no cancellable, no error): the public
   * try_acquire (0)'s common case, for a backend to specialize. */
  gboolean     (* try_acquire)  (SysemHandle      *handle);
  /* @n >= 1; a count that would pass max_value fails and changes nothing. */
  gboolean     (* release)      (SysemHandle      *handle,
                                 int               n,
                                 GError          **error);
  int          (* get_value)    (SysemHandle      *handle,
                                 GError          **error);
  gboolean     (* remove)       (SysemHandle      *handle,
                                 GError          **error);
  /* Keeps the semaphore after this process's last user leaves, until it
   * is removed (`sysem create`). */
  gboolean     (* keep)         (SysemHandle      *handle,
                                 GError          **error);
  gboolean     (* stats)        (SysemHandle      *handle,
                                 SysemStats       *stats,
                                 GError          **error);
  /* Leaves the semaphore, removing it if this was its last user. Must
   * leave the handle's memory usable by a racing call (see above). */
  void         (* close)        (SysemHandle      *handle);
  /* Frees a closed handle; also one that open() did not return. */
  void         (* free)         (SysemHandle      *handle);

  /* Inspection without joining (sysem-inspect-private.h). list() appends
   * SysemInfo entries to @infos; inspect() returns NULL without error when
   * nothing is under that name. */
  gboolean     (* list)         (GPtrArray        *infos,
                                 GError          **error);
  SysemInfo   *(* inspect)      (const char       *native,
                                 GError          **error);
  gboolean     (* remove_stale) (SysemInfo        *info,
                                 gboolean          only_if_stale,
                                 gboolean         *removed_object,
                                 GError          **error);
};

/* Every backend's handle starts with this. */
struct _SysemHandle
{
  const SysemBackend *backend;
  gint                ref_count;    /* atomic */
  gint                mem_count;    /* atomic */
  gint                removed;      /* atomic */
  char               *display_key;  /* the key as the user gave it, for messages */
  char               *native;
  SysemHandle        *owner_next;   /* the object's list of the handles it opened */
  int                 live_refs;    /* under sysem_lock() */
  int                *live_count;   /* the backend's; written under sysem_lock() */
};

/* For the backends. */
void     sysem_handle_init  (SysemHandle        *handle,
                             const SysemBackend *backend,
                             const char         *display_key,
                             const char         *native);
void     sysem_handle_clear (SysemHandle        *handle);
gboolean sysem_wait_slice   (gint64              deadline,
                             GCancellable       *cancellable,
                             gint64             *slice_end,
                             GError            **error);
SysemInfo *sysem_info_new   (SysemKeyType        key_type,
                             const char         *name,
                             const char         *path);

/* The lock of every object's state and of every waiter's queue. Only short
 * sections hold it, never a wait or a system call that can block, and
 * fork() takes it, so that a child never inherits it held. A backend does
 * not take it. */
void     sysem_lock         (void);
void     sysem_unlock       (void);
/* What the waiter does in a child of fork(), with the lock held. */
void     sysem_fork_set_child_hook (void (* hook) (void));

/* The fork gate, for the waiter and the backends alike: sysem's calls into
 * GLib that take GLib's own global locks (making, returning and finishing
 * a GTask, g_cancellable_connect() and g_cancellable_disconnect(),
 * attaching a source to a main context, starting a thread) run between
 * sysem_gate_enter() and sysem_gate_leave(), and fork() waits until no
 * thread is between them, so that a child never inherits one of those
 * locks held by sysem. A section never waits for anything but such a
 * lock, never nests, is never entered with a lock of sysem's held (the
 * waiter's sysem_lock(), a backend's own), and never calls a backend.
 * The fork handler of sysem_lock() closes it first and opens it last. */
void     sysem_gate_enter   (void);
void     sysem_gate_leave   (void);

/* A blocking wait's cancel handler, without a g_cancellable_connect() and
 * g_cancellable_disconnect() per wait, which cost more than the wait's own
 * system calls: each cancellable gets one handler, made at its first
 * wait and kept until it is finalized, which calls @func for every wait
 * begun and not ended when it is cancelled. @func may run more than once
 * for one wait, in any thread; after sysem_cancel_wait_end() it runs no
 * more. Begin returns TRUE, without calling @func, if the cancellable was
 * cancelled already: the wait must not sleep (end it all the same). Begin
 * and end with none of the backend's locks held; a thread has one wait
 * begun at a time (a blocking wait's). Neither takes a lock nor makes a
 * lock-prefixed change but for a thread's first wait with a cancellable
 * other than its last one's. */
typedef struct _SysemCancelWait SysemCancelWait;
struct _SysemCancelWait
{
  gpointer           slot;       /* the thread's */
};

gboolean sysem_cancel_wait_begin (SysemCancelWait *wait,
                                  GCancellable    *cancellable,
                                  void          (* func) (gpointer data),
                                  gpointer         data);
void     sysem_cancel_wait_end   (SysemCancelWait *wait);

/* membarrier(): every thread of the process passes a full memory
 * barrier, for an asymmetric Dekker handshake whose fast side uses only a
 * compiler barrier while sysem_membarrier_usable(). Without it (Linux
 * before 4.14, or valgrind), a full fence, and the fast side needs one. */
gboolean sysem_membarrier_usable (void);
void     sysem_membarrier        (void);

/* g_cancellable_connect() and g_cancellable_disconnect() in a section of
 * the gate, for a backend's blocking wait (with none of its locks held). */
gulong   sysem_cancellable_connect    (GCancellable *cancellable,
                                       GCallback     callback,
                                       gpointer      data);
void     sysem_cancellable_disconnect (GCancellable *cancellable,
                                       gulong        handler);

/* Inheritance marks, for the backends' fork() handlers. A child of fork()
 * that has not used an inherited object yet is no user of its semaphore
 * (a child that only calls exec() must not keep it alive), but the
 * semaphore must not go under it either. So the child holds a mark: an
 * open file description of the semaphore's file with a shared OFD lock on
 * its first byte, made close-on-exec in fork()'s prepare handler and
 * closed in the parent right after, which ends when the child uses the
 * object, closes it, calls exec() or dies. The last user, and `sysem gc`,
 * leave a marked semaphore to its child. These are not flock() locks:
 * they never block anybody. */
int      sysem_fork_mark_open         (const char   *path,
                                       struct stat  *st);
gboolean sysem_fork_mark_set          (int           fd);
gboolean sysem_fork_marked_elsewhere  (int           fd);
gboolean sysem_fork_path_marked       (const char   *path,
                                       guint64       dev,
                                       guint64       ino);

/* For SysemSemaphore and the waiter: the only way to a backend's handle
 * (sysem-backends-private.h opens one). */

static inline gboolean
sysem_handle_acquire (SysemHandle   *handle,
                      gint64         deadline,
                      GCancellable  *cancellable,
                      GError       **error)
{
  return handle->backend->acquire (handle, deadline, cancellable, error);
}

static inline gboolean
sysem_handle_try_acquire (SysemHandle *handle)
{
  return handle->backend->try_acquire (handle);
}

static inline gboolean
sysem_handle_release (SysemHandle  *handle,
                      int           n,
                      GError      **error)
{
  return handle->backend->release (handle, n, error);
}

static inline int
sysem_handle_get_value (SysemHandle  *handle,
                        GError      **error)
{
  return handle->backend->get_value (handle, error);
}

static inline gboolean
sysem_handle_remove (SysemHandle  *handle,
                     GError      **error)
{
  return handle->backend->remove (handle, error);
}

static inline gboolean
sysem_handle_keep (SysemHandle  *handle,
                   GError      **error)
{
  return handle->backend->keep (handle, error);
}

static inline gboolean
sysem_handle_stats (SysemHandle  *handle,
                    SysemStats   *stats,
                    GError      **error)
{
  return handle->backend->stats (handle, stats, error);
}

static inline gboolean
sysem_handle_is_remote (SysemHandle *handle)
{
  return handle->backend->remote;
}

static inline gboolean
sysem_handle_is_removed (SysemHandle *handle)
{
  return g_atomic_int_get (&handle->removed);
}

static inline void
sysem_handle_set_removed (SysemHandle *handle)
{
  g_atomic_int_set (&handle->removed, TRUE);
}

static inline SysemHandle *
sysem_handle_ref (SysemHandle *handle)
{
  g_atomic_int_inc (&handle->mem_count);
  g_atomic_int_inc (&handle->ref_count);
  return handle;
}

/* An object or a request now holds @handle (the lock map above). Called
 * with sysem_lock(). */
static inline void
sysem_handle_live_ref (SysemHandle *handle)
{
  if (handle->live_refs++ == 0 && handle->live_count != NULL)
    (*handle->live_count)++;
}

static inline void
sysem_handle_live_unref (SysemHandle *handle)
{
  if (--handle->live_refs == 0 && handle->live_count != NULL)
    (*handle->live_count)--;
}

/* Drops a memory reference (see the lock map above). */
static inline void
sysem_handle_release_memory (SysemHandle *handle)
{
  if (g_atomic_int_dec_and_test (&handle->mem_count))
    handle->backend->free (handle);
}

/* Keeps the memory, not the semaphore: for the object that opened it. */
static inline void
sysem_handle_hold_memory (SysemHandle *handle)
{
  g_atomic_int_inc (&handle->mem_count);
}

/* Dropping the last reference leaves the semaphore; the memory goes with
 * the last memory reference. */
static inline void
sysem_handle_unref (SysemHandle *handle)
{
  if (g_atomic_int_dec_and_test (&handle->ref_count))
    handle->backend->close (handle);
  sysem_handle_release_memory (handle);
}

G_END_DECLS
