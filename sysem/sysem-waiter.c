/* sysem-waiter.c: the queue of asynchronous acquires, and its thread
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* sysem_semaphore_acquire_async() serves a request at once, in the caller's
 * thread, when a unit is free and no earlier request of the object waits.
 * Any other request joins the object's queue, and one thread of ours per
 * object (started when the queue stops being empty, gone when it is empty
 * again) waits for the head, then the next: first come, first served.
 * Requests behind the head cost nothing while they wait.
 *
 * A queued request is a SysemRequest, not yet a GTask: the GTask, which
 * holds the object, is made only when the request completes, in the main
 * context the request was made in. So nothing the waiter thread or the
 * queue holds keeps the object alive by itself: when the caller drops its
 * last reference while requests wait, the object's dispose asks
 * sysem_waiter_keep_owner(), which takes one reference that the completion
 * of the last request drops, in that request's main context, never in the
 * waiter thread. A program that drops its objects and returns from main()
 * therefore never loses a finalize to a waiter thread that is still
 * winding down.
 *
 * Cancellation: the head is cancelled by the waiter's own wait, which
 * watches the cancellable (the backend wakes for it). Every other queued
 * request has a handler on its cancellable that takes it off the queue:
 * no main-context source is attached per request, so a main loop with
 * thousands of requests pending iterates as fast as an idle one. The lock
 * decides which of the two completes a request: the handler only takes a
 * request that is still queued and is not the head.
 *
 * Each request holds the handle it was made on: set_key() moves the object
 * but not the requests already made.
 *
 * fork(): the child has no waiter thread, but a copy of every queue and of
 * every request, some of them scheduled in a main context. They belong to
 * the parent. The child's fork handler marks each of them inherited and
 * drops, in the child, the reference each held on its semaphore, so that
 * the child's object leaves its semaphore when it is finalized as it would
 * without them; a handle only they held is closed at the child's first
 * call here. Inherited requests are never freed nor completed in the child
 * (their cancel handlers and sources ignore them), and a waiter forgets
 * their queue the first time the child touches it.
 *
 * So that the child can use GLib at all, fork() also waits at the gate
 * (sysem-backend.h) until no thread is in one of sysem's calls into
 * GLib that take GLib's global locks: the child never inherits a
 * GCancellable, GObject, GTask type or main-context lock held by sysem.
 * What other threads of the program do with GLib at that moment is the
 * program's to fence.
 *
 * Lock map: sysem_lock() guards every field of SysemWaiter, the list of
 * requests holding handles (sysem_requests, with their all_prev, all_next
 * and handle fields), the child's lists, and the queued, completed,
 * inherited and cancel_id fields of SysemRequest; n_queued is also read
 * without it (atomic) by the fast path, which only uses it to decide
 * whether to try a free unit first. The other fields of a request are set
 * before it is queued and read-only until it completes. */

#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include "sysem-error-private.h"
#include "sysem-waiter-private.h"

struct _SysemWaiter
{
  gint          ref_count;      /* atomic: the owner and a running thread */
  GObject      *owner;          /* not a reference, unless keeping_owner */
  GQueue        queue;          /* of SysemRequest, by link */
  gint          n_queued;       /* the queue's length; atomic reads */
  guint         outstanding;    /* queued or still to be completed */
  gpointer      head;           /* the request the thread waits for */
  gboolean      thread_running;
  gboolean      keeping_owner;  /* holds a reference on owner */
  guint         fork_gen;       /* the process the state belongs to */
};

typedef struct _SysemRequest SysemRequest;

struct _SysemRequest
{
  GList                link;        /* in waiter->queue; data: the request */
  SysemRequest        *all_prev;    /* in sysem_requests while it holds handle */
  SysemRequest        *all_next;
  gint                 ref_count;   /* atomic: its maker and its completion */
  SysemWaiter         *waiter;
  SysemHandle         *handle;      /* a reference; under the lock */
  GCancellable        *cancellable;
  GMainContext        *context;
  GAsyncReadyCallback  callback;
  gpointer             user_data;
  gpointer             source_tag;
  gulong               cancel_id;
  gboolean             queued;
  gboolean             completed;
  gboolean             inherited;   /* made by the parent of this process */
  GError              *error;       /* the result: NULL for a unit */
};

/* Every request that holds a reference on its handle, under the lock;
 * and, in a child of fork(), the parent's requests (never freed here: a
 * handler of theirs may still be connected to a cancellable, a source of
 * theirs attached to a main context) and the handles only they held, to
 * be closed at the first chance. */
static SysemRequest *sysem_requests;
static GPtrArray *sysem_inherited;
static GPtrArray *sysem_orphans;
static guint sysem_fork_gen = 1;   /* a child of fork() adds one */

/* In the child, single-threaded, with the lock held (sysem-backend.c's
 * fork handler calls it). Only atomics and memory here: the backends' own
 * locks are still held until their child handlers run, after this one. */
static void
sysem_waiter_forked_locked (void)
{
  sysem_fork_gen++;

  while (sysem_requests != NULL)
    {
      SysemRequest *request = sysem_requests;
      SysemHandle *handle = request->handle;

      sysem_requests = request->all_next;
      request->all_prev = request->all_next = NULL;
      request->inherited = TRUE;
      request->handle = NULL;

      /* Its reference on the semaphore was the parent's. A handle only
       * requests held is the orphans' now, live until they close it. */
      if (g_atomic_int_dec_and_test (&handle->ref_count))
        {
          if (sysem_orphans == NULL)
            sysem_orphans = g_ptr_array_new ();
          g_ptr_array_add (sysem_orphans, handle);
        }
      else
        {
          sysem_handle_live_unref (handle);
          sysem_handle_release_memory (handle);
        }

      if (sysem_inherited == NULL)
        sysem_inherited = g_ptr_array_new ();
      g_ptr_array_add (sysem_inherited, request);
    }
}

static SysemWaiter *
sysem_waiter_ref (SysemWaiter *waiter)
{
  g_atomic_int_inc (&waiter->ref_count);
  return waiter;
}

/* Closes, outside the lock, the handles a child of fork() inherited that
 * only the parent's requests held. */
static void
sysem_close_orphans (void)
{
  GPtrArray *orphans;

  if (G_LIKELY (g_atomic_pointer_get (&sysem_orphans) == NULL))
    return;

  sysem_lock ();
  orphans = g_steal_pointer (&sysem_orphans);
  for (guint i = 0; orphans != NULL && i < orphans->len; i++)
    sysem_handle_live_unref (orphans->pdata[i]);
  sysem_unlock ();

  if (orphans == NULL)
    return;
  for (guint i = 0; i < orphans->len; i++)
    {
      SysemHandle *handle = orphans->pdata[i];

      handle->backend->close (handle);
      sysem_handle_release_memory (handle);
    }
  g_ptr_array_unref (orphans);
}

/* Called with the lock held: @request now holds a reference on @handle. */
static void
sysem_request_take_handle_locked (SysemRequest *request,
                                  SysemHandle  *handle)
{
  request->handle = sysem_handle_ref (handle);
  sysem_handle_live_ref (handle);
  request->all_next = sysem_requests;
  if (sysem_requests != NULL)
    sysem_requests->all_prev = request;
  sysem_requests = request;
}

/* Called with the lock held: the request lets go of its handle. TRUE if
 * that was the semaphore's last reference, and the caller must close it
 * once the lock is released. The count drops under the lock, so that a
 * child of fork() finds every reference it inherited in sysem_requests. */
static gboolean
sysem_request_drop_handle_locked (SysemRequest  *request,
                                  SysemHandle  **handle_out)
{
  SysemHandle *handle = request->handle;

  *handle_out = handle;
  if (handle == NULL)
    return FALSE;

  if (request->all_prev != NULL)
    request->all_prev->all_next = request->all_next;
  else
    sysem_requests = request->all_next;
  if (request->all_next != NULL)
    request->all_next->all_prev = request->all_prev;
  request->all_prev = request->all_next = NULL;
  request->handle = NULL;

  sysem_handle_live_unref (handle);
  return g_atomic_int_dec_and_test (&handle->ref_count);
}

/* Never called in a section of the gate. */
static void
sysem_request_unref (SysemRequest *request)
{
  SysemHandle *handle;
  gboolean last;

  if (!g_atomic_int_dec_and_test (&request->ref_count))
    return;

  sysem_lock ();
  last = sysem_request_drop_handle_locked (request, &handle);
  sysem_unlock ();

  if (last)
    handle->backend->close (handle);
  if (handle != NULL)
    sysem_handle_release_memory (handle);

  sysem_gate_enter ();
  g_clear_object (&request->cancellable);
  g_clear_error (&request->error);
  sysem_gate_leave ();

  g_clear_pointer (&request->context, g_main_context_unref);
  g_clear_pointer (&request->waiter, sysem_waiter_unref);
  g_free (request);
}

/* Called with the lock held. In a child of fork(), forgets the parent's
 * requests (sysem_atfork_child() took them) and the parent's thread; TRUE
 * in *@drop_owner if the parent kept the owner for them, a reference the
 * caller drops once the lock is released. */
static void
sysem_waiter_forget_inherited_locked (SysemWaiter *waiter,
                                      gboolean    *drop_owner)
{
  if (G_LIKELY (waiter->fork_gen == sysem_fork_gen))
    return;

  g_queue_init (&waiter->queue);
  g_atomic_int_set (&waiter->n_queued, 0);
  waiter->outstanding = 0;
  waiter->head = NULL;
  waiter->fork_gen = sysem_fork_gen;

  /* The reference the parent's thread held: nobody here would drop it.
   * The owner holds one too, so this is not the last. */
  if (waiter->thread_running)
    {
      waiter->thread_running = FALSE;
      g_atomic_int_add (&waiter->ref_count, -1);
    }
  if (waiter->keeping_owner)
    {
      waiter->keeping_owner = FALSE;
      *drop_owner = TRUE;
    }
}

/* Called in a section of the gate. */
static void
sysem_waiter_return (SysemWaiter         *waiter,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data,
                     gpointer             source_tag,
                     GError              *error)
{
  GTask *task = g_task_new (waiter->owner, cancellable, callback, user_data);

  /* Without the macro of the same name, which would also name the task. */
  (g_task_set_source_tag) (task, source_tag);
  /* A unit taken is the caller's even if it cancels afterwards: whether a
   * request was cancelled is decided here, not by GTask. */
  g_task_set_check_cancellable (task, FALSE);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);

  g_object_unref (task);
}

/* Runs in the main context the request was made in. */
static gboolean
sysem_request_complete_cb (gpointer user_data)
{
  SysemRequest *request = user_data;
  SysemWaiter *waiter = request->waiter;
  gboolean drop_owner = FALSE;
  gulong cancel_id;

  sysem_lock ();
  if (request->inherited)
    {
      /* The parent's, scheduled before the fork: the parent finishes it. */
      sysem_unlock ();
      return G_SOURCE_REMOVE;
    }
  request->completed = TRUE;
  cancel_id = request->cancel_id;
  request->cancel_id = 0;
  sysem_unlock ();

  sysem_gate_enter ();

  /* Not under the lock: this waits for a handler running in another
   * thread, and handlers take the lock. */
  if (cancel_id != 0)
    g_cancellable_disconnect (request->cancellable, cancel_id);

  /* The GTask is made here, in the request's context, which must be the
   * thread-default one for g_task_new() to pick it. */
  g_main_context_push_thread_default (request->context);
  sysem_waiter_return (waiter, request->cancellable, request->callback, request->user_data,
                       request->source_tag, g_steal_pointer (&request->error));
  g_main_context_pop_thread_default (request->context);

  sysem_gate_leave ();

  sysem_lock ();
  if (--waiter->outstanding == 0 && waiter->keeping_owner)
    {
      waiter->keeping_owner = FALSE;
      drop_owner = TRUE;
    }
  sysem_unlock ();

  if (drop_owner)
    g_object_unref (waiter->owner);

  sysem_request_unref (request);
  return G_SOURCE_REMOVE;
}

/* Hands the request, and the queue's reference on it, to its context. The
 * caller does not touch it afterwards, and drops the context returned,
 * outside the gate: it may be the last reference. Called in a section of
 * the gate, or in a cancel handler, which is part of the caller's
 * g_cancellable_cancel(). */
static G_GNUC_WARN_UNUSED_RESULT GMainContext *
sysem_request_schedule (SysemRequest *request)
{
  /* Once attached, the request may complete and go, and the caller drop
   * the context, before g_source_unref() here: that must not find the
   * context finalized. */
  GMainContext *context = g_main_context_ref (request->context);
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[sysem] acquire done");
  g_source_set_callback (source, sysem_request_complete_cb, request, NULL);
  g_source_attach (source, context);
  g_source_unref (source);

  return context;
}

/* Runs in the thread that cancels. */
static void
sysem_request_cancelled_cb (GCancellable *cancellable,
                            gpointer      user_data)
{
  SysemRequest *request = user_data;
  gboolean removed = FALSE;

  sysem_lock ();
  /* An inherited request is the parent's: its waiter may be gone here. */
  if (!request->inherited && request->queued && request != request->waiter->head)
    {
      SysemWaiter *waiter = request->waiter;

      g_queue_unlink (&waiter->queue, &request->link);
      g_atomic_int_add (&waiter->n_queued, -1);
      request->queued = FALSE;
      removed = TRUE;
    }
  sysem_unlock ();

  if (removed)
    {
      g_cancellable_set_error_if_cancelled (cancellable, &request->error);
      g_main_context_unref (sysem_request_schedule (request));
    }
}

static gpointer
sysem_waiter_thread (gpointer data)
{
  SysemWaiter *waiter = data;   /* we own a reference */

  for (;;)
    {
      SysemRequest *request;
      GMainContext *context;
      GError *error = NULL;
      gboolean acquired;

      sysem_lock ();
      if (g_queue_is_empty (&waiter->queue))
        {
          waiter->thread_running = FALSE;
          sysem_unlock ();
          break;
        }
      request = g_queue_peek_head (&waiter->queue);
      waiter->head = request;
      sysem_unlock ();

      /* The head is ours until we take it off the queue: the cancel
       * handler leaves it alone while it is the head, and its handle
       * reference stays until it is freed. A wait without a deadline ends
       * with a unit or an error; loop all the same rather than report
       * success without a unit. */
      do
        acquired = sysem_handle_acquire (request->handle, SYSEM_DEADLINE_FOREVER,
                                         request->cancellable, &error);
      while (!acquired && error == NULL);

      if (acquired && request->cancellable != NULL &&
          g_cancellable_is_cancelled (request->cancellable))
        {
          /* Cancelled while the unit came: give it back, so that a
           * cancelled request never keeps a unit. */
          sysem_handle_release (request->handle, 1, NULL);
          acquired = FALSE;
        }

      sysem_gate_enter ();
      if (!acquired && error == NULL)
        g_cancellable_set_error_if_cancelled (request->cancellable, &error);

      sysem_lock ();
      g_queue_unlink (&waiter->queue, &request->link);
      g_atomic_int_add (&waiter->n_queued, -1);
      request->queued = FALSE;
      waiter->head = NULL;
      sysem_unlock ();

      request->error = error;
      context = sysem_request_schedule (request);
      sysem_gate_leave ();
      g_main_context_unref (context);
    }

  sysem_waiter_unref (waiter);
  return NULL;
}

/* Called with the lock held, in a section of the gate, with a request
 * queued. */
static gboolean
sysem_waiter_start_locked (SysemWaiter  *waiter,
                           GError      **error)
{
  GThread *thread;

  if (waiter->thread_running)
    return TRUE;

  thread = g_thread_try_new ("sysem-waiter", sysem_waiter_thread,
                             sysem_waiter_ref (waiter), error);
  if (thread == NULL)
    {
      /* Not the last reference: the owner holds one. */
      g_atomic_int_add (&waiter->ref_count, -1);
      return FALSE;
    }

  waiter->thread_running = TRUE;
  g_thread_unref (thread);
  return TRUE;
}

SysemWaiter *
sysem_waiter_new (GObject *owner)
{
  SysemWaiter *waiter = g_new0 (SysemWaiter, 1);

  sysem_fork_set_child_hook (sysem_waiter_forked_locked);
  waiter->ref_count = 1;
  waiter->owner = owner;
  waiter->fork_gen = sysem_fork_gen;
  g_queue_init (&waiter->queue);

  return waiter;
}

void
sysem_waiter_unref (SysemWaiter *waiter)
{
  if (g_atomic_int_dec_and_test (&waiter->ref_count))
    g_free (waiter);
}

void
sysem_waiter_acquire (SysemWaiter         *waiter,
                      SysemHandle         *handle,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data,
                      gpointer             source_tag)
{
  g_autoptr(GError) thread_error = NULL;
  SysemRequest *request;
  GError *error = NULL;
  gulong cancel_id;
  gboolean drop_owner = FALSE;
  gboolean started;

  /* The fast path: nobody of ours is ahead, and a unit is free (asked
   * here only where asking does not wait for the network). */
  if (!sysem_handle_is_remote (handle) &&
      g_atomic_int_get (&waiter->n_queued) == 0 &&
      (sysem_handle_acquire (handle, SYSEM_DEADLINE_NOW, NULL, &error) || error != NULL))
    {
      sysem_gate_enter ();
      sysem_waiter_return (waiter, cancellable, callback, user_data, source_tag, error);
      sysem_gate_leave ();
      return;
    }

  sysem_close_orphans ();

  request = g_new0 (SysemRequest, 1);
  request->ref_count = 2;   /* ours, until set up; the queue's */
  request->link.data = request;
  request->waiter = sysem_waiter_ref (waiter);
  request->callback = callback;
  request->user_data = user_data;
  request->source_tag = source_tag;

  sysem_gate_enter ();
  request->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  request->context = g_main_context_ref_thread_default ();

  sysem_lock ();
  sysem_waiter_forget_inherited_locked (waiter, &drop_owner);
  started = sysem_waiter_start_locked (waiter, &thread_error);
  if (started)
    {
      sysem_request_take_handle_locked (request, handle);
      request->queued = TRUE;
      g_queue_push_tail_link (&waiter->queue, &request->link);
      g_atomic_int_inc (&waiter->n_queued);
      waiter->outstanding++;
    }
  sysem_unlock ();

  if (!started)
    {
      sysem_set_error (&error, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, SYSEM_OP_ACQUIRE,
                       handle->display_key, thread_error->message);
      sysem_waiter_return (waiter, cancellable, callback, user_data, source_tag, error);
      sysem_gate_leave ();
      g_atomic_int_set (&request->ref_count, 1);
    }
  else if (cancellable != NULL)
    {
      /* Not under the lock: a cancellable that is already cancelled runs
       * the handler here, and the handler takes the lock. */
      cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (sysem_request_cancelled_cb),
                                         request, NULL);

      sysem_lock ();
      if (!request->completed)
        {
          request->cancel_id = cancel_id;
          cancel_id = 0;
        }
      sysem_unlock ();

      /* Completed in another thread meanwhile: the handler is ours to
       * remove. */
      if (cancel_id != 0)
        g_cancellable_disconnect (cancellable, cancel_id);
      sysem_gate_leave ();
    }
  else
    sysem_gate_leave ();

  /* Outside the gate: this may be the last reference of an object that a
   * parent kept. */
  if (drop_owner)
    g_object_unref (waiter->owner);

  sysem_request_unref (request);
}

guint
sysem_waiter_get_n_pending (SysemWaiter *waiter)
{
  gboolean drop_owner = FALSE;
  guint n;

  sysem_lock ();
  sysem_waiter_forget_inherited_locked (waiter, &drop_owner);
  n = g_queue_get_length (&waiter->queue);
  sysem_unlock ();

  if (drop_owner)
    g_object_unref (waiter->owner);
  sysem_close_orphans ();

  return n;
}

gboolean
sysem_waiter_keep_owner (SysemWaiter *waiter)
{
  gboolean drop_owner = FALSE;
  gboolean keep = FALSE;

  sysem_lock ();
  /* An owner kept by the parent is never disposed here: that reference
   * would still be held. */
  sysem_waiter_forget_inherited_locked (waiter, &drop_owner);
  g_assert (!drop_owner);
  if (waiter->outstanding > 0 && !waiter->keeping_owner)
    {
      waiter->keeping_owner = TRUE;
      keep = TRUE;
    }
  sysem_unlock ();

  sysem_close_orphans ();

  if (keep)
    g_object_ref (waiter->owner);

  return keep;
}
