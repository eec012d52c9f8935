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
 * fork(): the child has no waiter thread, but a copy of the queue. The
 * requests in it belong to the parent; the child forgets its copies the
 * first time it touches the waiter (a new request, the pending count, or
 * dispose, so that the child's object is finalized as usual) and starts a
 * thread of its own when it needs one.
 *
 * Lock map: sysem_lock() guards every field of SysemWaiter and the queued,
 * completed and cancel_id fields of SysemRequest; n_queued is also read
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
  pid_t         pid;            /* the process the requests belong to */
};

typedef struct
{
  GList                link;        /* in waiter->queue; data: the request */
  gint                 ref_count;   /* atomic: its maker and its completion */
  SysemWaiter         *waiter;
  SysemHandle         *handle;
  GCancellable        *cancellable;
  GMainContext        *context;
  GAsyncReadyCallback  callback;
  gpointer             user_data;
  gpointer             source_tag;
  gulong               cancel_id;
  pid_t                pid;         /* the process it was made in */
  gboolean             queued;
  gboolean             completed;
  GError              *error;       /* the result: NULL for a unit */
} SysemRequest;

static GMutex sysem_global_lock;

static void
sysem_atfork_prepare (void)
{
  g_mutex_lock (&sysem_global_lock);
}

static void
sysem_atfork_release (void)
{
  /* In the child too: a GMutex does not check which thread unlocks it
   * (a futex on Linux), and the thread that forked took it. */
  g_mutex_unlock (&sysem_global_lock);
}

void
sysem_lock (void)
{
  static gsize atfork_once = 0;

  if (G_UNLIKELY (g_once_init_enter (&atfork_once)))
    {
      pthread_atfork (sysem_atfork_prepare, sysem_atfork_release, sysem_atfork_release);
      g_once_init_leave (&atfork_once, 1);
    }

  g_mutex_lock (&sysem_global_lock);
}

void
sysem_unlock (void)
{
  g_mutex_unlock (&sysem_global_lock);
}

static SysemWaiter *
sysem_waiter_ref (SysemWaiter *waiter)
{
  g_atomic_int_inc (&waiter->ref_count);
  return waiter;
}

static void
sysem_request_unref (SysemRequest *request)
{
  if (!g_atomic_int_dec_and_test (&request->ref_count))
    return;

  g_clear_pointer (&request->handle, sysem_handle_unref);
  g_clear_object (&request->cancellable);
  g_clear_pointer (&request->context, g_main_context_unref);
  g_clear_error (&request->error);
  g_clear_pointer (&request->waiter, sysem_waiter_unref);
  g_free (request);
}

/* Called with the lock held. In a child of fork(), forgets the requests
 * inherited from the parent and returns them, to be dropped with
 * sysem_waiter_drop_inherited() once the lock is released. */
static GList *
sysem_waiter_forget_inherited_locked (SysemWaiter *waiter,
                                      gboolean    *drop_owner)
{
  GList *inherited = NULL;
  GList *link;

  if (G_LIKELY (waiter->pid == getpid ()))
    return NULL;

  while ((link = g_queue_pop_head_link (&waiter->queue)) != NULL)
    {
      SysemRequest *request = link->data;

      request->queued = FALSE;
      request->completed = TRUE;
      inherited = g_list_prepend (inherited, request);
    }

  g_atomic_int_set (&waiter->n_queued, 0);
  waiter->outstanding = 0;
  waiter->head = NULL;
  waiter->pid = getpid ();

  /* The references the parent's thread and the parent's keeping of the
   * owner held: nobody in this process would drop them. The owner has a
   * reference of the caller's, so this is not its last. */
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

  return inherited;
}

static void
sysem_waiter_drop_inherited (SysemWaiter *waiter,
                             GList       *inherited,
                             gboolean     drop_owner)
{
  if (drop_owner)
    g_object_unref (waiter->owner);

  for (GList *l = inherited; l != NULL; l = l->next)
    {
      SysemRequest *request = l->data;

      /* Its handler's cancellable is the child's copy: the handler is
       * ours to remove. Both references: the maker's was dropped in the
       * parent before the fork, or will never be here. */
      if (request->cancel_id != 0)
        g_cancellable_disconnect (request->cancellable, request->cancel_id);
      g_atomic_int_set (&request->ref_count, 1);
      sysem_request_unref (request);
    }

  g_list_free (inherited);
}

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
  if (request->pid != getpid ())
    {
      /* Inherited through fork() before it ran: the parent's to finish. */
      sysem_unlock ();
      sysem_request_unref (request);
      return G_SOURCE_REMOVE;
    }
  request->completed = TRUE;
  cancel_id = request->cancel_id;
  request->cancel_id = 0;
  sysem_unlock ();

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
 * caller does not touch it afterwards. */
static void
sysem_request_schedule (SysemRequest *request)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[sysem] acquire done");
  g_source_set_callback (source, sysem_request_complete_cb, request, NULL);
  g_source_attach (source, request->context);
  g_source_unref (source);
}

/* Runs in the thread that cancels. */
static void
sysem_request_cancelled_cb (GCancellable *cancellable,
                            gpointer      user_data)
{
  SysemRequest *request = user_data;
  SysemWaiter *waiter = request->waiter;
  gboolean removed = FALSE;

  sysem_lock ();
  if (request->queued && request != waiter->head && request->pid == getpid ())
    {
      g_queue_unlink (&waiter->queue, &request->link);
      g_atomic_int_add (&waiter->n_queued, -1);
      request->queued = FALSE;
      removed = TRUE;
    }
  sysem_unlock ();

  if (removed)
    {
      g_cancellable_set_error_if_cancelled (cancellable, &request->error);
      sysem_request_schedule (request);
    }
}

static gpointer
sysem_waiter_thread (gpointer data)
{
  SysemWaiter *waiter = data;   /* we own a reference */

  for (;;)
    {
      SysemRequest *request;
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
       * handler leaves it alone while it is the head. A wait without a
       * deadline ends with a unit or an error; loop all the same rather
       * than report success without a unit. */
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
          g_cancellable_set_error_if_cancelled (request->cancellable, &error);
        }

      sysem_lock ();
      g_queue_unlink (&waiter->queue, &request->link);
      g_atomic_int_add (&waiter->n_queued, -1);
      request->queued = FALSE;
      waiter->head = NULL;
      sysem_unlock ();

      request->error = error;
      sysem_request_schedule (request);
    }

  sysem_waiter_unref (waiter);
  return NULL;
}

/* Called with the lock held, with a request queued. */
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

  waiter->ref_count = 1;
  waiter->owner = owner;
  waiter->pid = getpid ();
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
  GList *inherited;
  GError *error = NULL;
  gulong cancel_id;
  gboolean drop_owner = FALSE;
  gboolean started;

  /* The fast path: nobody of ours is ahead, and a unit is free. */
  if (g_atomic_int_get (&waiter->n_queued) == 0 &&
      (sysem_handle_acquire (handle, SYSEM_DEADLINE_NOW, NULL, &error) || error != NULL))
    {
      sysem_waiter_return (waiter, cancellable, callback, user_data, source_tag, error);
      return;
    }

  request = g_new0 (SysemRequest, 1);
  request->ref_count = 2;   /* ours, until set up; the queue's */
  request->link.data = request;
  request->waiter = sysem_waiter_ref (waiter);
  request->handle = sysem_handle_ref (handle);
  request->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  request->context = g_main_context_ref_thread_default ();
  request->callback = callback;
  request->user_data = user_data;
  request->source_tag = source_tag;
  request->pid = getpid ();

  sysem_lock ();
  inherited = sysem_waiter_forget_inherited_locked (waiter, &drop_owner);
  started = sysem_waiter_start_locked (waiter, &thread_error);
  if (started)
    {
      request->queued = TRUE;
      g_queue_push_tail_link (&waiter->queue, &request->link);
      g_atomic_int_inc (&waiter->n_queued);
      waiter->outstanding++;
    }
  sysem_unlock ();

  sysem_waiter_drop_inherited (waiter, inherited, drop_owner);

  if (!started)
    {
      sysem_set_error (&error, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, SYSEM_OP_ACQUIRE,
                       handle->display_key, thread_error->message);
      sysem_waiter_return (waiter, cancellable, callback, user_data, source_tag, error);
      g_atomic_int_set (&request->ref_count, 1);
      sysem_request_unref (request);
      return;
    }

  if (cancellable == NULL)
    {
      sysem_request_unref (request);
      return;
    }

  /* Not under the lock: a cancellable that is already cancelled runs the
   * handler here, and the handler takes the lock. */
  cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (sysem_request_cancelled_cb),
                                     request, NULL);

  sysem_lock ();
  if (!request->completed)
    {
      request->cancel_id = cancel_id;
      cancel_id = 0;
    }
  sysem_unlock ();

  /* Completed in another thread meanwhile: the handler is ours to remove. */
  if (cancel_id != 0)
    g_cancellable_disconnect (cancellable, cancel_id);

  sysem_request_unref (request);
}

guint
sysem_waiter_get_n_pending (SysemWaiter *waiter)
{
  gboolean drop_owner = FALSE;
  GList *inherited;
  guint n;

  sysem_lock ();
  inherited = sysem_waiter_forget_inherited_locked (waiter, &drop_owner);
  n = g_queue_get_length (&waiter->queue);
  sysem_unlock ();

  sysem_waiter_drop_inherited (waiter, inherited, drop_owner);
  return n;
}

gboolean
sysem_waiter_keep_owner (SysemWaiter *waiter)
{
  gboolean drop_owner = FALSE;
  gboolean keep = FALSE;
  GList *inherited;

  sysem_lock ();
  /* An owner kept by the parent is never disposed here: that reference
   * would still be held. */
  inherited = sysem_waiter_forget_inherited_locked (waiter, &drop_owner);
  if (waiter->outstanding > 0 && !waiter->keeping_owner)
    {
      waiter->keeping_owner = TRUE;
      keep = TRUE;
    }
  sysem_unlock ();

  sysem_waiter_drop_inherited (waiter, inherited, FALSE);

  if (keep)
    g_object_ref (waiter->owner);

  return keep;
}
