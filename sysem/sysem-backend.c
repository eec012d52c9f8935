/* sysem-backend.c: what every backend shares
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/membarrier.h>

#include "sysem-backend.h"

void
sysem_handle_init (SysemHandle        *handle,
                   const SysemBackend *backend,
                   const char         *display_key,
                   const char         *native)
{
  handle->backend = backend;
  handle->ref_count = 1;
  handle->mem_count = 1;
  handle->removed = FALSE;
  handle->display_key = g_strdup (display_key);
  handle->native = g_strdup (native);
  handle->owner_next = NULL;
}

void
sysem_handle_clear (SysemHandle *handle)
{
  g_clear_pointer (&handle->display_key, g_free);
  g_clear_pointer (&handle->native, g_free);
}

/* One slice of a wait that must look at @cancellable or at something else
 * the kernel does not wake it for: FALSE with an error if cancelled, else
 * the end of the slice in *@slice_end. */
gboolean
sysem_wait_slice (gint64         deadline,
                  GCancellable  *cancellable,
                  gint64        *slice_end,
                  GError       **error)
{
  gint64 now;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  now = g_get_monotonic_time ();
  if (deadline - now > SYSEM_WAIT_SLICE_USEC)
    *slice_end = now + SYSEM_WAIT_SLICE_USEC;
  else
    *slice_end = deadline;

  return TRUE;
}

/* Inheritance marks (see sysem-backend.h) */

static gboolean
sysem_fork_mark_lock (int   fd,
                      short type,
                      int   cmd)
{
  struct flock lock = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };

  if (fcntl (fd, cmd, &lock) == -1)
    return FALSE;
  return cmd != F_OFD_GETLK || lock.l_type != F_UNLCK;
}

/* Opens the regular file at @path for a mark or a look at the marks,
 * filling @st: the caller checks that it is still its semaphore's. -1 if
 * it cannot. */
int
sysem_fork_mark_open (const char  *path,
                      struct stat *st)
{
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

  if (fd == -1)
    return -1;
  if (fstat (fd, st) == -1 || !S_ISREG (st->st_mode))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Makes @fd a mark. */
gboolean
sysem_fork_mark_set (int fd)
{
  return sysem_fork_mark_lock (fd, F_RDLCK, F_OFD_SETLK);
}

/* Does an open file description other than @fd's mark the file open in
 * @fd: a child of fork() that has not used its object yet? */
gboolean
sysem_fork_marked_elsewhere (int fd)
{
  return fd != -1 && sysem_fork_mark_lock (fd, F_WRLCK, F_OFD_GETLK);
}

/* Does a child of fork() mark the file at @path, if it is still the file
 * @dev and @ino name? */
gboolean
sysem_fork_path_marked (const char *path,
                        guint64     dev,
                        guint64     ino)
{
  struct stat st;
  gboolean marked;
  int fd = sysem_fork_mark_open (path, &st);

  if (fd == -1)
    return FALSE;
  marked = (guint64) st.st_dev == dev && (guint64) st.st_ino == ino &&
           sysem_fork_marked_elsewhere (fd);
  close (fd);
  return marked;
}

/* The fork gate. readers counts the threads in a section; closed is set by
 * a fork() that waits for them to leave, and stays set until it is done.
 * gate_mutex is held by the forking thread from sysem_gate_close() to
 * sysem_gate_open(): a thread that comes to the gate meanwhile waits on
 * it, counted nowhere. A GMutex does not check which thread unlocks it (a
 * futex on Linux) and a GCond keeps no list of waiters, so the child,
 * whose thread opens the gate, inherits nothing of the parent's waiters. */
static gint sysem_gate_readers;   /* atomic */
static gint sysem_gate_closed;    /* atomic */
static GMutex sysem_gate_mutex;
static GCond sysem_gate_drained;
static GCond sysem_gate_opened;

static GMutex sysem_global_lock;
static void (* sysem_fork_child_hook) (void);

static void sysem_atfork_ensure (void);

void
sysem_gate_enter (void)
{
  sysem_atfork_ensure ();

  for (;;)
    {
      /* A full barrier, then the flag: a fork() that set it before
       * counting us waits for us, one that set it after sees us. */
      g_atomic_int_inc (&sysem_gate_readers);
      if (G_LIKELY (!g_atomic_int_get (&sysem_gate_closed)))
        return;

      sysem_gate_leave ();
      g_mutex_lock (&sysem_gate_mutex);
      while (g_atomic_int_get (&sysem_gate_closed))
        g_cond_wait (&sysem_gate_opened, &sysem_gate_mutex);
      g_mutex_unlock (&sysem_gate_mutex);
    }
}

void
sysem_gate_leave (void)
{
  if (g_atomic_int_dec_and_test (&sysem_gate_readers) &&
      G_UNLIKELY (g_atomic_int_get (&sysem_gate_closed)))
    {
      g_mutex_lock (&sysem_gate_mutex);
      g_cond_broadcast (&sysem_gate_drained);
      g_mutex_unlock (&sysem_gate_mutex);
    }
}

gulong
sysem_cancellable_connect (GCancellable *cancellable,
                           GCallback     callback,
                           gpointer      data)
{
  gulong handler;

  sysem_gate_enter ();
  handler = g_cancellable_connect (cancellable, callback, data, NULL);
  sysem_gate_leave ();

  return handler;
}

void
sysem_cancellable_disconnect (GCancellable *cancellable,
                              gulong        handler)
{
  sysem_gate_enter ();
  g_cancellable_disconnect (cancellable, handler);
  sysem_gate_leave ();
}

/* membarrier() (see sysem-backend.h) */

/* 0: not looked at yet, 1: missing, 2: registered */
static gsize sysem_membarrier_state = 0;

gboolean
sysem_membarrier_usable (void)
{
  gsize *usable = &sysem_membarrier_state;

  if (g_once_init_enter (usable))
    {
      long cmds = syscall (SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
      gsize ok = 1;

      if (cmds != -1 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
          syscall (SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        ok = 2;
      g_once_init_leave (usable, ok);
    }

  return *usable == 2;
}

void
sysem_membarrier (void)
{
  if (!sysem_membarrier_usable ())
    {
      __atomic_thread_fence (__ATOMIC_SEQ_CST);
      return;
    }

  /* The fast sides rely on it: no way round it but through it. Out of
   * memory (the kernel allocates a CPU mask) passes; EPERM is a child of
   * fork() that has not registered yet. */
  for (guint round = 0;; round++)
    {
      int errsv;

      if (syscall (SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return;
      errsv = errno;
      if (errsv == EPERM &&
          syscall (SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == -1)
        errsv = errno;
      if (errsv != EPERM && errsv != ENOMEM && errsv != EAGAIN)
        g_error ("membarrier() failed after it was registered: %s", g_strerror (errsv));
      if (round > 0)
        g_usleep (MIN (round, 100) * 100);
    }
}

/* The fast side's barrier, across from sysem_membarrier(). */
static inline void
sysem_membarrier_light (void)
{
  gsize state = __atomic_load_n (&sysem_membarrier_state, __ATOMIC_RELAXED);

  if (G_LIKELY (state == 2) || (G_UNLIKELY (state == 0) && sysem_membarrier_usable ()))
    __atomic_signal_fence (__ATOMIC_SEQ_CST);
  else
    __atomic_thread_fence (__ATOMIC_SEQ_CST);
}

/* Cancel watches (see sysem-backend.h). A cancellable's watch is its qdata
 * and its one "cancelled" handler's data, each holding a reference. Every
 * thread that waits has one slot, kept in a thread-private: it holds a
 * reference to the watch of the cancellable the thread used last and is
 * on that watch's list, under sysem_cancel_lock, a leaf lock that fork()
 * takes. So a thread waiting again and again with one cancellable finds
 * its watch without the qdata lookup (about 190 instructions a wait) and
 * begins and ends each wait without a lock or a lock-prefixed
 * instruction: it only marks its slot armed, then looks at the
 * cancellable, and unmarks it at the end.
 *
 * Those are asymmetric Dekker handshakes. Beginning, the waiter arms the
 * slot, then looks whether the cancellable is cancelled; a cancel, which
 * set that first, makes every thread of the process pass a full memory
 * barrier with membarrier(), then looks at the slots: either the waiter
 * sees the cancel (and does not sleep), or the cancel sees the slot
 * armed. Ending, the waiter disarms the slot, then looks whether a cancel
 * is firing it; the cancel marks every slot on the list firing before
 * that one membarrier(), and calls @func only for those still armed after
 * it, so either the cancel sees the slot disarmed or the waiter sees it
 * firing and waits until the call returns. Where membarrier() (Linux
 * 4.14) is missing, both sides use full fences.
 *
 * A watch forgets its cancellable when that one is finalized, before its
 * memory can be reused: a cancellable made later at the same address is
 * not taken for it. */

typedef struct _SysemCancelSlot SysemCancelSlot;

typedef struct {
  gint             refs;         /* atomic */
  GCancellable    *cancellable;  /* atomic: NULL once it is finalized */
  SysemCancelSlot *slots;        /* under sysem_cancel_lock */
} SysemCancelWatch;

struct _SysemCancelSlot
{
  SysemCancelWatch *watch;       /* a reference; changed under sysem_cancel_lock */
  SysemCancelSlot  *prev;        /* on watch->slots, under sysem_cancel_lock */
  SysemCancelSlot  *next;
  SysemCancelSlot  *all_next;    /* on sysem_cancel_slots, under sysem_cancel_lock */
  gpointer          thread;      /* the owner, for fork() */
  void            (* func) (gpointer data);
  gpointer          data;
  gint              armed;       /* atomic: a wait is begun and not ended */
  gint              firing;      /* atomic: a cancel may call func */
};

static GMutex sysem_cancel_lock;
static SysemCancelSlot *sysem_cancel_slots;

static void sysem_cancel_slot_free (gpointer data);

/* The GPrivate frees a thread's slot when it exits; each wait reads the
 * thread-local copy, a load where g_private_get () is two calls. */
static GPrivate sysem_cancel_slot = G_PRIVATE_INIT (sysem_cancel_slot_free);
static __thread SysemCancelSlot *sysem_cancel_slot_mine;

/* In a section of the gate: the quark table has a global lock. */
static GQuark
sysem_cancel_watch_quark (void)
{
  static GQuark quark;

  if (G_UNLIKELY (quark == 0))
    quark = g_quark_from_static_string ("sysem-cancel-watch");
  return quark;
}

static void
sysem_cancel_watch_unref (gpointer data)
{
  SysemCancelWatch *watch = data;

  if (g_atomic_int_dec_and_test (&watch->refs))
    g_free (watch);
}

/* The qdata's reference: its cancellable is being finalized. */
static void
sysem_cancel_watch_detach (gpointer data)
{
  SysemCancelWatch *watch = data;

  g_atomic_pointer_set (&watch->cancellable, NULL);
  sysem_cancel_watch_unref (watch);
}

static void
sysem_cancel_watch_cb (GCancellable *cancellable,
                       gpointer      data)
{
  SysemCancelWatch *watch = data;
  SysemCancelSlot *slot;

  /* Every slot on the list firing, then one barrier for both handshakes:
   * the cancellable says cancelled already, so a wait armed after it sees
   * that at its beginning, and a wait that ends after it sees its slot
   * firing. */
  g_mutex_lock (&sysem_cancel_lock);
  for (slot = watch->slots; slot != NULL; slot = slot->next)
    __atomic_store_n (&slot->firing, TRUE, __ATOMIC_RELAXED);

  sysem_membarrier ();

  /* A slot armed since the cancel is a new wait, which saw the cancel
   * itself: calling it once more does no harm. */
  for (slot = watch->slots; slot != NULL; slot = slot->next)
    {
      if (__atomic_load_n (&slot->armed, __ATOMIC_ACQUIRE))
        slot->func (slot->data);
      /* The last touch of the wait: its end may return at once. */
      __atomic_store_n (&slot->firing, FALSE, __ATOMIC_RELEASE);
    }
  g_mutex_unlock (&sysem_cancel_lock);
}

/* The watch of @cancellable, with a reference for the caller: from the
 * qdata, or made with its handler on the first wait. In a section of the
 * gate: the quark table and the qdata have locks. */
static SysemCancelWatch *
sysem_cancel_watch_lookup (GCancellable *cancellable)
{
  GObject *object = (GObject *) cancellable;
  SysemCancelWatch *watch = g_object_get_qdata (object, sysem_cancel_watch_quark ());
  SysemCancelWatch *made;
  gulong handler;

  if (G_LIKELY (watch != NULL))
    {
      g_atomic_int_inc (&watch->refs);
      return watch;
    }

  /* Connected before it is published, so that a wait never finds a
   * watch whose handler is not there yet. Its references: the qdata's,
   * the handler's, the caller's. */
  made = g_new0 (SysemCancelWatch, 1);
  made->refs = 3;
  made->cancellable = cancellable;
  handler = g_cancellable_connect (cancellable, G_CALLBACK (sysem_cancel_watch_cb), made,
                                   sysem_cancel_watch_unref);

  /* Cancelled already: g_cancellable_connect() called the handler and
   * dropped it at once, connecting nothing. Published, the watch would
   * never see a cancel after a g_cancellable_reset(); this wait sees the
   * cancel itself, and the next one makes a watch again. */
  if (handler == 0)
    {
      made->cancellable = NULL;
      sysem_cancel_watch_unref (made);
      return made;
    }

  if (g_object_replace_qdata (object, sysem_cancel_watch_quark (), NULL, made,
                              sysem_cancel_watch_detach, NULL))
    return made;

  /* Another thread was first. */
  g_cancellable_disconnect (cancellable, handler);
  sysem_cancel_watch_unref (made);
  sysem_cancel_watch_unref (made);
  watch = g_object_get_qdata (object, sysem_cancel_watch_quark ());
  g_atomic_int_inc (&watch->refs);
  return watch;
}

/* Moves @slot (disarmed) onto @watch's list, with a reference to it. */
static void
sysem_cancel_slot_move (SysemCancelSlot  *slot,
                        SysemCancelWatch *watch)
{
  SysemCancelWatch *old = slot->watch;

  g_mutex_lock (&sysem_cancel_lock);
  if (old != NULL)
    {
      if (slot->prev != NULL)
        slot->prev->next = slot->next;
      else
        old->slots = slot->next;
      if (slot->next != NULL)
        slot->next->prev = slot->prev;
    }
  slot->watch = watch;
  slot->prev = NULL;
  slot->next = NULL;
  if (watch != NULL)
    {
      g_atomic_int_inc (&watch->refs);
      slot->next = watch->slots;
      if (watch->slots != NULL)
        watch->slots->prev = slot;
      watch->slots = slot;
    }
  g_mutex_unlock (&sysem_cancel_lock);

  /* Not under the lock: the last reference may be the qdata's. */
  if (old != NULL)
    sysem_cancel_watch_unref (old);
}

/* At the thread's exit. Under the lock, so that a cancel that looks at
 * the slot has done with it. */
static void
sysem_cancel_slot_free (gpointer data)
{
  SysemCancelSlot *slot = data;
  SysemCancelSlot **link;

  /* In the exiting thread: a wait from a later destructor makes a new one. */
  sysem_cancel_slot_mine = NULL;
  sysem_cancel_slot_move (slot, NULL);

  g_mutex_lock (&sysem_cancel_lock);
  for (link = &sysem_cancel_slots; *link != slot; link = &(*link)->all_next)
    ;
  *link = slot->all_next;
  g_mutex_unlock (&sysem_cancel_lock);

  g_free (slot);
}

/* sysem_cancel_slot_get() for a thread's first wait, or its first with
 * another cancellable than the last: out of line, so that the common
 * case saves no registers. */
static G_GNUC_NO_INLINE SysemCancelSlot *
sysem_cancel_slot_get_slow (SysemCancelSlot *slot,
                            GCancellable    *cancellable)
{
  SysemCancelWatch *watch;

  if (slot == NULL)
    {
      slot = g_new0 (SysemCancelSlot, 1);
      slot->thread = (gpointer) pthread_self ();
      g_mutex_lock (&sysem_cancel_lock);
      slot->all_next = sysem_cancel_slots;
      sysem_cancel_slots = slot;
      g_mutex_unlock (&sysem_cancel_lock);
      g_private_set (&sysem_cancel_slot, slot);
      sysem_cancel_slot_mine = slot;
    }

  sysem_gate_enter ();
  watch = sysem_cancel_watch_lookup (cancellable);
  sysem_gate_leave ();

  sysem_cancel_slot_move (slot, watch);
  sysem_cancel_watch_unref (watch);
  return slot;
}

/* The calling thread's slot, on the watch of @cancellable. The caller
 * holds @cancellable, so it is not being finalized. */
static inline SysemCancelSlot *
sysem_cancel_slot_get (GCancellable *cancellable)
{
  SysemCancelSlot *slot = sysem_cancel_slot_mine;

  if (G_LIKELY (slot != NULL && g_atomic_pointer_get (&slot->watch->cancellable) == cancellable))
    return slot;
  return sysem_cancel_slot_get_slow (slot, cancellable);
}

gboolean
sysem_cancel_wait_begin (SysemCancelWait *wait,
                         GCancellable    *cancellable,
                         void          (* func) (gpointer data),
                         gpointer         data)
{
  SysemCancelSlot *slot = sysem_cancel_slot_get (cancellable);

  wait->slot = slot;
  slot->func = func;
  slot->data = data;
  __atomic_store_n (&slot->armed, TRUE, __ATOMIC_RELEASE);
  sysem_membarrier_light ();

  /* Cancelled before the slot was armed: no cancel calls it, and the
   * caller does not sleep. */
  return g_cancellable_is_cancelled (cancellable);
}

void
sysem_cancel_wait_end (SysemCancelWait *wait)
{
  SysemCancelSlot *slot = wait->slot;

  __atomic_store_n (&slot->armed, FALSE, __ATOMIC_RELAXED);
  sysem_membarrier_light ();

  /* A cancel that saw it armed: wait until its call returns. */
  while (__atomic_load_n (&slot->firing, __ATOMIC_ACQUIRE))
    sched_yield ();
}

/* In the child of fork(), under sysem_cancel_lock: the slots of the
 * threads that are not there are never disarmed; no cancel calls them. */
static void
sysem_cancel_slots_fork_child (void)
{
  gpointer self = (gpointer) pthread_self ();

  for (SysemCancelSlot *slot = sysem_cancel_slots; slot != NULL; slot = slot->all_next)
    if (slot->thread != self)
      {
        slot->armed = FALSE;
        slot->firing = FALSE;
      }
}

/* From fork()'s prepare handler: waits until no thread is in a section. */
static void
sysem_gate_close (void)
{
  g_mutex_lock (&sysem_gate_mutex);
  g_atomic_int_set (&sysem_gate_closed, TRUE);
  while (g_atomic_int_get (&sysem_gate_readers) > 0)
    g_cond_wait (&sysem_gate_drained, &sysem_gate_mutex);
}

/* From fork()'s parent and child handlers. */
static void
sysem_gate_open (void)
{
  g_atomic_int_set (&sysem_gate_closed, FALSE);
  g_cond_broadcast (&sysem_gate_opened);
  g_mutex_unlock (&sysem_gate_mutex);
}

static void
sysem_atfork_prepare (void)
{
  /* First the gate, so that no section waits for a lock taken below. */
  sysem_gate_close ();
  g_mutex_lock (&sysem_global_lock);
  g_mutex_lock (&sysem_cancel_lock);
}

static void
sysem_atfork_parent (void)
{
  /* In the child too: a GMutex does not check which thread unlocks it
   * (a futex on Linux), and the thread that forked took them. */
  g_mutex_unlock (&sysem_cancel_lock);
  g_mutex_unlock (&sysem_global_lock);
  sysem_gate_open ();
}

static void
sysem_atfork_child (void)
{
  void (* hook) (void) = sysem_fork_child_hook;

  sysem_cancel_slots_fork_child ();
  if (hook != NULL)
    hook ();
  sysem_atfork_parent ();
}

/* Registered before any backend's handlers (sysem_lock() comes before the
 * first open), so that fork() runs this prepare handler after theirs. */
static void
sysem_atfork_ensure (void)
{
  static gsize atfork_once = 0;

  if (G_UNLIKELY (g_once_init_enter (&atfork_once)))
    {
      pthread_atfork (sysem_atfork_prepare, sysem_atfork_parent, sysem_atfork_child);
      g_once_init_leave (&atfork_once, 1);
    }
}

void
sysem_lock (void)
{
  sysem_atfork_ensure ();
  g_mutex_lock (&sysem_global_lock);
}

void
sysem_unlock (void)
{
  g_mutex_unlock (&sysem_global_lock);
}

void
sysem_fork_set_child_hook (void (* hook) (void))
{
  g_atomic_pointer_set (&sysem_fork_child_hook, hook);
}

SysemInfo *
sysem_info_new (SysemKeyType  key_type,
                const char   *name,
                const char   *path)
{
  SysemInfo *info = g_new0 (SysemInfo, 1);

  info->stats.key_type = key_type;
  info->stats.value = -1;
  info->stats.waiters = -1;
  info->stats.users = -1;
  info->stats.last_pid = -1;
  info->stats.id = -1;
  info->stats.n_sems = -1;
  info->name = g_strdup (name);
  info->path = g_strdup (path);
  info->ipc_key = -1;
  info->users_exact = TRUE;
  info->state = SYSEM_INSPECT_IN_USE;

  return info;
}

void
sysem_info_free (SysemInfo *info)
{
  if (info == NULL)
    return;

  g_free (info->name);
  g_free (info->path);
  g_clear_pointer (&info->holders, g_array_unref);
  g_free (info);
}

gboolean
sysem_inspect_pid_alive (int pid)
{
  if (pid <= 0)
    return FALSE;

  return kill ((pid_t) pid, 0) == 0 || errno == EPERM;
}
