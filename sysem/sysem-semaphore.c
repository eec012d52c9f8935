/* sysem-semaphore.c: a named counting semaphore shared between processes
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "sysem-semaphore.h"
#include "sysem-enum-types.h"
#include "sysem-backends-private.h"
#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-inspect-private.h"
#include "sysem-waiter-private.h"

/**
 * SECTION:sysem-semaphore
 * @Title: SysemSemaphore
 * @Short_description: A counting semaphore shared by every process that
 *   opens the same key
 * @Include: sysem/sysem.h
 *
 * A #SysemSemaphore is a counting semaphore with a name. Every process that
 * opens the same key, in the same key type, counts on the same kernel
 * object: one process can wait in sysem_semaphore_acquire() for a unit that
 * another process gives back with sysem_semaphore_release(). It is the GLib
 * counterpart of Qt's `QSystemSemaphore`, and a Qt program that uses the
 * same key shares the semaphore with a sysem program.
 *
 * A semaphore is usually made with sysem_semaphore_new(), which opens it at
 * once and reports a problem as a #GError:
 *
 * |[<!-- language="C" -->
 * g_autoptr(GError) error = NULL;
 * g_autoptr(SysemSemaphore) sem = NULL;
 *
 * // Three printers shared by every process on this machine.
 * sem = sysem_semaphore_new ("printers", 3, SYSEM_ACCESS_MODE_CREATE, &error);
 * if (sem == NULL)
 *   g_error ("%s", error->message);
 *
 * if (!sysem_semaphore_acquire (sem, NULL, &error))   // 2 left
 *   g_error ("%s", error->message);
 * print_the_document ();
 * sysem_semaphore_release (sem, 1, &error);            // 3 again
 * ]|
 *
 * The access mode decides what happens to a semaphore that already exists:
 * %SYSEM_ACCESS_MODE_OPEN uses it as it is, %SYSEM_ACCESS_MODE_CREATE sets
 * its count to the initial value. A missing semaphore is created with the
 * initial value in both modes. The process that sets things up (a server,
 * or the first instance of an application) should use Create, since a
 * semaphore that exists before it can only be left over from a crash.
 *
 * When a process ends, however it ends, the units it acquired and did not
 * release are given back, for the System V key type: the kernel undoes its
 * acquires. Units it released beyond what it acquired stay. The semaphore
 * itself is removed when the last #SysemSemaphore that has it open is
 * finalized, in this or any other process, also when the other users
 * crashed; sysem_semaphore_remove() removes it at once.
 *
 * The kernel counts, for each process, units acquired minus units released
 * by that same process. In a hand-over pattern, where one process acquires
 * units that another releases (the producer and consumer of a ring buffer),
 * the acquiring process is owed all of them back when it exits, so its exit
 * raises the count. Keep such a process until the others are done with the
 * semaphore, or reset the count with %SYSEM_ACCESS_MODE_CREATE when a new
 * round starts. The kernel keeps at most 32767 such units per process; past
 * that, sysem acquires without undo (where Qt's acquire fails).
 *
 * A #SysemSemaphore may be used from several threads at once, every call
 * included: a call that races sysem_semaphore_set_key() works on the old or
 * the new semaphore, and one that races sysem_semaphore_remove() either
 * runs before the removal or fails with %SYSEM_SEMAPHORE_ERROR_NOT_FOUND.
 * After fork() the child may go on using the objects it inherited: they
 * keep their semaphores alive from the fork on, and count as users of
 * them from their first use in the child.
 *
 * An object made with g_object_new() and not initialised with
 * g_initable_init() opens its semaphore the first time it is used, and
 * reports errors there.
 *
 * Since: 1.0
 */

/* Lock map: sysem_lock() (sysem-backend.h) guards the key fields,
 * generation and owned. handle is written under it and read without it
 * (atomic) by every call; what a handle needs to survive such a read is in
 * sysem-backend.h. Replaced key strings are kept in garbage until finalize,
 * for a getter that returned one as set_key() ran. Opening a semaphore,
 * which can block, happens outside the lock. */
struct _SysemSemaphore
{
  GObject          parent_instance;

  SysemHandle     *handle;         /* atomic; NULL until opened */
  SysemHandle     *owned;          /* every handle opened, for its memory */
  guint            generation;     /* changes with every set_key() */

  char            *key;
  char            *native_key;     /* given, or derived from the key */
  gboolean         is_native;
  int              initial_value;
  SysemAccessMode  mode;
  SysemKeyType     key_type;
  GPtrArray       *garbage;

  SysemWaiter     *waiter;         /* acquire_async() */
};

enum {
  PROP_0,
  PROP_KEY,
  PROP_INITIAL_VALUE,
  PROP_MODE,
  PROP_KEY_TYPE,
  PROP_NATIVE_KEY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void sysem_semaphore_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (SysemSemaphore, sysem_semaphore, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      sysem_semaphore_initable_iface_init))

/* Statics and helpers */

/* acquire(), try_acquire() and release() check their argument against this
 * rather than call sysem_semaphore_get_type(), which is reached through the
 * PLT. The type is final: an instance's class is exactly this one, which is
 * what G_TYPE_CHECK_INSTANCE_TYPE() looks at first. */
static GType sysem_semaphore_type_id;

#define SYSEM_IS_SEMAPHORE_FAST(obj) \
  ((obj) != NULL && \
   ((GTypeInstance *) (obj))->g_class != NULL && \
   ((GTypeInstance *) (obj))->g_class->g_type == sysem_semaphore_type_id)

/* The native key of the current key, derived on first need. Called with
 * the lock held. */
static gboolean
sysem_semaphore_ensure_native_locked (SysemSemaphore  *self,
                                      GError         **error)
{
  if (self->native_key != NULL)
    return TRUE;

  if (self->key == NULL)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN, "",
                       _("no key was set"));
      return FALSE;
    }

  return sysem_backend_derive_key (self->key, self->key_type, &self->native_key, error);
}

/* Opens the semaphore of the current key, outside the lock, and makes it
 * the current handle unless set_key() moved the object meanwhile or
 * another thread was first. Out of line: inlined, it makes every fast path
 * save registers. */
static G_GNUC_NO_INLINE SysemHandle *
sysem_semaphore_open_slow (SysemSemaphore  *self,
                           GError         **error)
{
  for (;;)
    {
      g_autofree char *display_key = NULL;
      g_autofree char *native = NULL;
      SysemHandle *handle;
      SysemKeyType key_type;
      SysemAccessMode mode;
      int initial_value;
      guint generation;

      sysem_lock ();
      handle = self->handle;
      if (handle == NULL && !sysem_semaphore_ensure_native_locked (self, error))
        {
          sysem_unlock ();
          return NULL;
        }
      display_key = g_strdup (self->is_native ? self->native_key : self->key);
      native = g_strdup (self->native_key);
      key_type = self->key_type;
      initial_value = self->initial_value;
      mode = self->mode;
      generation = self->generation;
      sysem_unlock ();

      if (handle != NULL)
        return handle;

      handle = sysem_backend_open (key_type, display_key, native, initial_value, mode, error);
      if (handle == NULL)
        return NULL;

      sysem_lock ();
      if (self->handle == NULL && self->generation == generation)
        {
          sysem_handle_hold_memory (handle);
          sysem_handle_live_ref (handle);
          handle->owner_next = self->owned;
          self->owned = handle;
          g_atomic_pointer_set (&self->handle, handle);
          sysem_unlock ();
          return handle;
        }
      sysem_unlock ();

      /* Someone else opened it first, or the key changed: leave ours. */
      sysem_handle_unref (handle);
    }
}

/* The handle of an open semaphore, opening it on first use. */
static inline SysemHandle *
sysem_semaphore_get_handle (SysemSemaphore  *self,
                            GError         **error)
{
  SysemHandle *handle = g_atomic_pointer_get (&self->handle);

  if (G_LIKELY (handle != NULL))
    return handle;

  return sysem_semaphore_open_slow (self, error);
}

/* acquire() (@timeout_usec -1) and try_acquire() when the object is not
 * open yet, or there is a cancellable to look at, time to wait or an
 * error to set. The public calls keep only the common case, so that they
 * save no registers and end in a jump to the backend. */
static G_GNUC_NO_INLINE gboolean
sysem_semaphore_acquire_slow (SysemSemaphore  *self,
                              gint64           timeout_usec,
                              GCancellable    *cancellable,
                              GError         **error)
{
  SysemHandle *handle = sysem_semaphore_get_handle (self, error);
  gint64 deadline;

  if (G_UNLIKELY (handle == NULL))
    return FALSE;

  /* Cancelled before the call: fail rather than take a free unit. */
  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  if (timeout_usec == 0)
    deadline = SYSEM_DEADLINE_NOW;
  else if (timeout_usec < 0)
    deadline = SYSEM_DEADLINE_FOREVER;
  else
    {
      gint64 now = g_get_monotonic_time ();

      deadline = timeout_usec > G_MAXINT64 - now ? SYSEM_DEADLINE_FOREVER : now + timeout_usec;
    }

  if (G_LIKELY (sysem_handle_acquire (handle, deadline, cancellable, error)))
    return TRUE;

  /* Out of time (only a timed wait gets here without an error): FALSE
   * comes with an error, as GLib asks; a caller that passes no error pays
   * nothing for it. */
  if (error != NULL && *error == NULL)
    sysem_set_error_timed_out (error, handle->display_key);
  return FALSE;
}

/* release(), when the object is not open yet, or for no unit at all. */
static G_GNUC_NO_INLINE gboolean
sysem_semaphore_release_slow (SysemSemaphore  *self,
                              int              n,
                              GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (n >= 0, FALSE);

  handle = sysem_semaphore_get_handle (self, error);
  if (G_UNLIKELY (handle == NULL))
    return FALSE;

  if (G_UNLIKELY (n == 0))
    return TRUE;

  return sysem_handle_release (handle, n, error);
}

/* Takes the current handle away, under the lock; the caller unrefs it once
 * the lock is released, which leaves the semaphore. Another thread may
 * still be in a call on it: its memory is kept until finalize. */
static SysemHandle *
sysem_semaphore_steal_handle_locked (SysemSemaphore *self)
{
  SysemHandle *handle = g_atomic_pointer_exchange (&self->handle, NULL);

  /* From here on only this thread holds it: a child of fork() leaves it
   * alone (sysem-backend.h). */
  if (handle != NULL)
    sysem_handle_live_unref (handle);
  return handle;
}

static void
sysem_semaphore_retire_string (SysemSemaphore *self,
                               char           *string)
{
  if (string == NULL)
    return;
  if (self->garbage == NULL)
    self->garbage = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->garbage, string);
}

/* vfuncs */

static gboolean
sysem_semaphore_initable_init (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  SysemSemaphore *self = SYSEM_SEMAPHORE (initable);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  /* An object without a key is valid: it has nothing to open yet. */
  if (!self->is_native && self->key == NULL)
    return TRUE;

  return sysem_semaphore_open_slow (self, error) != NULL;
}

static void
sysem_semaphore_initable_iface_init (GInitableIface *iface)
{
  iface->init = sysem_semaphore_initable_init;
}

static void
sysem_semaphore_dispose (GObject *object)
{
  SysemSemaphore *self = SYSEM_SEMAPHORE (object);

  /* Requests still waiting keep the object alive: the waiter now holds a
   * reference, and drops it when the last of them completes. */
  if (sysem_waiter_keep_owner (self->waiter))
    return;

  G_OBJECT_CLASS (sysem_semaphore_parent_class)->dispose (object);
}

static void
sysem_semaphore_finalize (GObject *object)
{
  SysemSemaphore *self = SYSEM_SEMAPHORE (object);
  SysemHandle *handle;

  sysem_lock ();
  handle = sysem_semaphore_steal_handle_locked (self);
  sysem_unlock ();
  if (handle != NULL)
    sysem_handle_unref (handle);

  while (self->owned != NULL)
    {
      handle = self->owned;
      self->owned = handle->owner_next;
      sysem_handle_release_memory (handle);
    }
  g_clear_pointer (&self->key, g_free);
  g_clear_pointer (&self->native_key, g_free);
  g_clear_pointer (&self->garbage, g_ptr_array_unref);
  g_clear_pointer (&self->waiter, sysem_waiter_unref);

  G_OBJECT_CLASS (sysem_semaphore_parent_class)->finalize (object);
}

static void
sysem_semaphore_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  SysemSemaphore *self = SYSEM_SEMAPHORE (object);

  switch (prop_id)
    {
    case PROP_KEY:
      g_value_set_string (value, self->key);
      break;
    case PROP_INITIAL_VALUE:
      g_value_set_int (value, self->initial_value);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_KEY_TYPE:
      g_value_set_enum (value, self->key_type);
      break;
    case PROP_NATIVE_KEY:
      g_value_set_string (value, sysem_semaphore_get_native_key (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sysem_semaphore_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  SysemSemaphore *self = SYSEM_SEMAPHORE (object);

  switch (prop_id)
    {
    case PROP_KEY:
      g_free (self->key);
      self->key = g_value_dup_string (value);
      break;
    case PROP_INITIAL_VALUE:
      self->initial_value = g_value_get_int (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_KEY_TYPE:
      self->key_type = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sysem_semaphore_class_init (SysemSemaphoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  sysem_semaphore_type_id = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = sysem_semaphore_dispose;
  object_class->finalize = sysem_semaphore_finalize;
  object_class->get_property = sysem_semaphore_get_property;
  object_class->set_property = sysem_semaphore_set_property;

  /**
   * SysemSemaphore:key:
   *
   * The key every process uses to reach this semaphore, or %NULL for an
   * object made from a native key or with no key yet. It is set at
   * construction and changed by sysem_semaphore_set_key().
   *
   * Since: 1.0
   */
  properties[PROP_KEY] =
    g_param_spec_string ("key", "Key", "The key every process uses to reach the semaphore",
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * SysemSemaphore:initial-value:
   *
   * The count a semaphore gets when this object creates it, or resets it
   * in %SYSEM_ACCESS_MODE_CREATE.
   *
   * Since: 1.0
   */
  properties[PROP_INITIAL_VALUE] =
    g_param_spec_int ("initial-value", "Initial value", "The count of a semaphore this object creates",
                      0, G_MAXINT, 0,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                      G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * SysemSemaphore:mode:
   *
   * Whether opening resets the count of an existing semaphore.
   *
   * Since: 1.0
   */
  properties[PROP_MODE] =
    g_param_spec_enum ("mode", "Mode", "Whether opening resets the count",
                       SYSEM_TYPE_ACCESS_MODE, SYSEM_ACCESS_MODE_OPEN,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * SysemSemaphore:key-type:
   *
   * The kind of kernel semaphore behind this object.
   *
   * Since: 1.0
   */
  properties[PROP_KEY_TYPE] =
    g_param_spec_enum ("key-type", "Key type", "The kind of kernel semaphore",
                       SYSEM_TYPE_KEY_TYPE, SYSEM_KEY_TYPE_SYSTEM_V,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * SysemSemaphore:native-key:
   *
   * The name the system knows the semaphore by: for System V the path of
   * the key file, for POSIX the name given to sem_open(3). %NULL when the
   * object has no valid key.
   *
   * Since: 1.0
   */
  properties[PROP_NATIVE_KEY] =
    g_param_spec_string ("native-key", "Native key", "The name the system knows the semaphore by",
                         NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
sysem_semaphore_init (SysemSemaphore *self)
{
  self->waiter = sysem_waiter_new (G_OBJECT (self));
}

/* Public API */

/**
 * sysem_semaphore_new:
 * @key: (nullable): the key of the semaphore, or %NULL for an object that
 *   has none yet
 * @initial_value: the count of a semaphore this call creates or resets
 * @mode: what to do when the semaphore already exists
 * @error: return location for a #GError, or %NULL
 *
 * Opens the System V semaphore that Qt and every other sysem program know by
 * @key, creating it with @initial_value units if it does not exist. In
 * %SYSEM_ACCESS_MODE_CREATE an existing semaphore's count is set to
 * @initial_value as well.
 *
 * Any non-empty UTF-8 string is a key; what names the kernel object is
 * derived from it as Qt derives it (see the overview).
 *
 * |[<!-- language="C" -->
 * g_autoptr(SysemSemaphore) sem =
 *   sysem_semaphore_new ("market", 3, SYSEM_ACCESS_MODE_CREATE, &error);
 * ]|
 *
 * Returns: (transfer full): the new semaphore, or %NULL with @error set
 *
 * Since: 1.0
 */
SysemSemaphore *
sysem_semaphore_new (const char       *key,
                     int               initial_value,
                     SysemAccessMode   mode,
                     GError          **error)
{
  return sysem_semaphore_new_full (key, SYSEM_KEY_TYPE_SYSTEM_V, initial_value, mode, error);
}

/**
 * sysem_semaphore_new_full:
 * @key: (nullable): the key of the semaphore, or %NULL for an object that
 *   has none yet
 * @key_type: the kind of kernel semaphore to use
 * @initial_value: the count of a semaphore this call creates or resets
 * @mode: what to do when the semaphore already exists
 * @error: return location for a #GError, or %NULL
 *
 * Like sysem_semaphore_new(), with a choice of key type. The same key in two
 * key types names two different semaphores.
 *
 * |[<!-- language="C" -->
 * g_autoptr(SysemSemaphore) sem =
 *   sysem_semaphore_new_full ("jobs", SYSEM_KEY_TYPE_POSIX, 4,
 *                             SYSEM_ACCESS_MODE_OPEN, &error);
 * ]|
 *
 * Returns: (transfer full): the new semaphore, or %NULL with @error set
 *
 * Since: 1.0
 */
SysemSemaphore *
sysem_semaphore_new_full (const char       *key,
                          SysemKeyType      key_type,
                          int               initial_value,
                          SysemAccessMode   mode,
                          GError          **error)
{
  g_return_val_if_fail (initial_value >= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (SYSEM_TYPE_SEMAPHORE, NULL, error,
                         "key", key,
                         "key-type", key_type,
                         "initial-value", initial_value,
                         "mode", mode,
                         NULL);
}

/**
 * sysem_semaphore_new_native:
 * @native_key: the name the system knows the semaphore by
 * @key_type: the kind of kernel semaphore to use
 * @initial_value: the count of a semaphore this call creates or resets
 * @mode: what to do when the semaphore already exists
 * @error: return location for a #GError, or %NULL
 *
 * Opens a semaphore by its system name, with no derivation: for
 * %SYSEM_KEY_TYPE_SYSTEM_V, @native_key is the absolute path of the key file
 * (created if missing); for %SYSEM_KEY_TYPE_POSIX it is the semaphore's name,
 * with or without its leading slash, at most 251 bytes. These are the native
 * keys of Qt 6.6's `QNativeIpcKey`.
 *
 * |[<!-- language="C" -->
 * g_autoptr(SysemSemaphore) sem =
 *   sysem_semaphore_new_native ("/myapp-jobs", SYSEM_KEY_TYPE_POSIX, 1,
 *                               SYSEM_ACCESS_MODE_OPEN, &error);
 * ]|
 *
 * Returns: (transfer full): the new semaphore, or %NULL with @error set
 *
 * Since: 1.0
 */
SysemSemaphore *
sysem_semaphore_new_native (const char       *native_key,
                            SysemKeyType      key_type,
                            int               initial_value,
                            SysemAccessMode   mode,
                            GError          **error)
{
  g_autoptr(SysemSemaphore) self = NULL;
  g_autofree char *native = NULL;

  g_return_val_if_fail (native_key != NULL, NULL);
  g_return_val_if_fail (initial_value >= 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!sysem_backend_check_native (native_key, key_type, &native, error))
    return NULL;

  self = g_object_new (SYSEM_TYPE_SEMAPHORE,
                       "key-type", key_type,
                       "initial-value", initial_value,
                       "mode", mode,
                       NULL);
  self->is_native = TRUE;
  self->native_key = g_steal_pointer (&native);

  if (!g_initable_init (G_INITABLE (self), NULL, error))
    return NULL;

  return g_steal_pointer (&self);
}

/**
 * sysem_semaphore_set_key:
 * @self: a #SysemSemaphore
 * @key: (nullable): the new key, or %NULL to leave the semaphore and have none
 * @initial_value: the count of a semaphore this call creates or resets
 * @mode: what to do when the semaphore already exists
 * @error: return location for a #GError, or %NULL
 *
 * Moves @self to another key, keeping its key type: the current semaphore is
 * left as if @self were finalized, then the one named by @key is opened as
 * sysem_semaphore_new() would. Setting the same key again in
 * %SYSEM_ACCESS_MODE_OPEN changes nothing, unless the semaphore was removed:
 * then it is opened again. #GObject::notify is emitted for
 * each property that changed.
 *
 * Calls on @self in other threads may race this one: each works on the old
 * or the new semaphore. For them, what @self kept of the old semaphore (a
 * few hundred bytes; for a POSIX semaphore that was removed, also its
 * 16 KiB mapping) stays in memory until @self is finalized. An object that
 * moves between keys thousands of times is better replaced by new objects.
 *
 * On failure @self keeps the new key and tries to open it again the next
 * time it is used.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
sysem_semaphore_set_key (SysemSemaphore   *self,
                         const char       *key,
                         int               initial_value,
                         SysemAccessMode   mode,
                         GError          **error)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), FALSE);

  return sysem_semaphore_set_key_full (self, key, self->key_type, initial_value, mode, error);
}

/**
 * sysem_semaphore_set_key_full:
 * @self: a #SysemSemaphore
 * @key: (nullable): the new key, or %NULL to leave the semaphore and have none
 * @key_type: the key type to use from now on
 * @initial_value: the count of a semaphore this call creates or resets
 * @mode: what to do when the semaphore already exists
 * @error: return location for a #GError, or %NULL
 *
 * Like sysem_semaphore_set_key(), and also changes the key type.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
sysem_semaphore_set_key_full (SysemSemaphore   *self,
                              const char       *key,
                              SysemKeyType      key_type,
                              int               initial_value,
                              SysemAccessMode   mode,
                              GError          **error)
{
  g_autofree char *old_native = NULL;
  SysemHandle *old_handle;
  gboolean ok = TRUE;
  gboolean changed_key, changed_value, changed_mode, changed_type;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (initial_value >= 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sysem_lock ();

  changed_key = self->is_native || g_strcmp0 (self->key, key) != 0;
  changed_type = self->key_type != key_type;

  /* The same key again in Open mode changes nothing, as in Qt; unless the
   * semaphore was removed, when it is opened anew. */
  if (!changed_key && !changed_type && mode == SYSEM_ACCESS_MODE_OPEN &&
      self->handle != NULL && !sysem_handle_is_removed (self->handle))
    {
      sysem_unlock ();
      return TRUE;
    }

  changed_value = self->initial_value != initial_value;
  changed_mode = self->mode != mode;

  old_handle = sysem_semaphore_steal_handle_locked (self);
  old_native = g_strdup (self->native_key);
  sysem_semaphore_retire_string (self, g_steal_pointer (&self->native_key));
  sysem_semaphore_retire_string (self, g_steal_pointer (&self->key));
  self->key = g_strdup (key);
  self->is_native = FALSE;
  self->key_type = key_type;
  self->initial_value = initial_value;
  self->mode = mode;
  self->generation++;

  sysem_unlock ();

  /* Leave the old semaphore, then open the new one. */
  if (old_handle != NULL)
    sysem_handle_unref (old_handle);
  if (key != NULL)
    ok = sysem_semaphore_open_slow (self, error) != NULL;

  g_object_freeze_notify (G_OBJECT (self));
  if (changed_key)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEY]);
  if (changed_type)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEY_TYPE]);
  if (changed_value)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INITIAL_VALUE]);
  if (changed_mode)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODE]);
  if (g_strcmp0 (old_native, sysem_semaphore_get_native_key (self)) != 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NATIVE_KEY]);
  g_object_thaw_notify (G_OBJECT (self));

  return ok;
}

/**
 * sysem_semaphore_get_key:
 * @self: a #SysemSemaphore
 *
 * Gets the key of @self, as given to the constructor or to
 * sysem_semaphore_set_key().
 *
 * Returns: (nullable): the key, or %NULL if @self has none or was made from
 *   a native key
 *
 * Since: 1.0
 */
const char *
sysem_semaphore_get_key (SysemSemaphore *self)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), NULL);

  return self->key;
}

/**
 * sysem_semaphore_get_native_key:
 * @self: a #SysemSemaphore
 *
 * Gets the name the system knows the semaphore by: for
 * %SYSEM_KEY_TYPE_SYSTEM_V the path of its key file, for
 * %SYSEM_KEY_TYPE_POSIX the name given to sem_open(3), with its slash.
 *
 * Returns: (nullable): the native key, or %NULL if @self has no valid key
 *
 * Since: 1.0
 */
const char *
sysem_semaphore_get_native_key (SysemSemaphore *self)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), NULL);

  if (g_atomic_pointer_get (&self->native_key) == NULL && self->key != NULL)
    {
      sysem_lock ();
      sysem_semaphore_ensure_native_locked (self, NULL);
      sysem_unlock ();
    }

  return g_atomic_pointer_get (&self->native_key);
}

/**
 * sysem_semaphore_get_initial_value:
 * @self: a #SysemSemaphore
 *
 * Gets the initial value @self was opened with.
 *
 * Returns: the initial value
 *
 * Since: 1.0
 */
int
sysem_semaphore_get_initial_value (SysemSemaphore *self)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), 0);

  return self->initial_value;
}

/**
 * sysem_semaphore_get_mode:
 * @self: a #SysemSemaphore
 *
 * Gets the access mode @self was opened with.
 *
 * Returns: the access mode
 *
 * Since: 1.0
 */
SysemAccessMode
sysem_semaphore_get_mode (SysemSemaphore *self)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), SYSEM_ACCESS_MODE_OPEN);

  return self->mode;
}

/**
 * sysem_semaphore_get_key_type:
 * @self: a #SysemSemaphore
 *
 * Gets the kind of kernel semaphore behind @self.
 *
 * Returns: the key type
 *
 * Since: 1.0
 */
SysemKeyType
sysem_semaphore_get_key_type (SysemSemaphore *self)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), SYSEM_KEY_TYPE_SYSTEM_V);

  return self->key_type;
}

/**
 * sysem_semaphore_acquire:
 * @self: a #SysemSemaphore
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Takes one unit, waiting for as long as none is free. Cancelling
 * @cancellable from another thread stops the wait with
 * %G_IO_ERROR_CANCELLED, without taking a unit; no signal is used.
 *
 * If the semaphore is removed while this waits, the call fails promptly
 * with %SYSEM_SEMAPHORE_ERROR_NOT_FOUND.
 *
 * |[<!-- language="C" -->
 * if (!sysem_semaphore_acquire (sem, cancellable, &error))
 *   return FALSE;
 * use_the_resource ();
 * sysem_semaphore_release (sem, 1, NULL);
 * ]|
 *
 * Returns: %TRUE when a unit was taken, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
sysem_semaphore_acquire (SysemSemaphore  *self,
                         GCancellable    *cancellable,
                         GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE_FAST (self), FALSE);

  handle = g_atomic_pointer_get (&self->handle);
  if (G_LIKELY (handle != NULL && cancellable == NULL))
    return sysem_handle_acquire (handle, SYSEM_DEADLINE_FOREVER, NULL, error);

  return sysem_semaphore_acquire_slow (self, -1, cancellable, error);
}

/**
 * sysem_semaphore_try_acquire:
 * @self: a #SysemSemaphore
 * @timeout_usec: how long to wait at most, in microseconds: 0 not to wait,
 *   a negative value to wait without limit
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Takes one unit if one becomes free within @timeout_usec, measured on the
 * monotonic clock. Running out of time is an error like any other, as for
 * GIO's timed calls: the call returns %FALSE with %G_IO_ERROR_TIMED_OUT.
 * A caller that passes %NULL for @error and only looks at the result pays
 * nothing for the error.
 *
 * |[<!-- language="C" -->
 * if (sysem_semaphore_try_acquire (sem, 2 * G_USEC_PER_SEC, NULL, &error))
 *   do_the_work_and_release ();
 * else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
 *   g_message ("Busy; try again later");
 * else
 *   g_warning ("%s", error->message);
 * ]|
 *
 * Before 1.1, running out of time returned %FALSE and left @error unset.
 *
 * Returns: %TRUE when a unit was taken; %FALSE with @error set otherwise,
 *   %G_IO_ERROR_TIMED_OUT when the time ran out
 *
 * Since: 1.0
 */
gboolean
sysem_semaphore_try_acquire (SysemSemaphore  *self,
                             gint64           timeout_usec,
                             GCancellable    *cancellable,
                             GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE_FAST (self), FALSE);

  /* No time to wait and nothing to report: the backend's answer is ours. */
  handle = g_atomic_pointer_get (&self->handle);
  if (G_LIKELY (handle != NULL && timeout_usec == 0 && cancellable == NULL && error == NULL))
    return sysem_handle_try_acquire (handle);

  return sysem_semaphore_acquire_slow (self, timeout_usec, cancellable, error);
}

/**
 * sysem_semaphore_release:
 * @self: a #SysemSemaphore
 * @n: how many units to give back, 0 or more
 * @error: return location for a #GError, or %NULL
 *
 * Adds @n units, waking as many waiters. Releasing more than was acquired
 * "creates" units, as in Qt; such units stay after the process ends, while
 * the units it acquired and did not release are given back (System V).
 *
 * A count that would pass the key type's maximum (32767 for System V) is
 * %SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES and changes nothing. Releasing 0
 * units does nothing and succeeds.
 *
 * |[<!-- language="C" -->
 * sysem_semaphore_release (sem, 2, &error);
 * ]|
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
sysem_semaphore_release (SysemSemaphore  *self,
                         int              n,
                         GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE_FAST (self), FALSE);

  handle = g_atomic_pointer_get (&self->handle);
  if (G_LIKELY (handle != NULL && n > 0))
    return sysem_handle_release (handle, n, error);

  return sysem_semaphore_release_slow (self, n, error);
}

/**
 * sysem_semaphore_acquire_async:
 * @self: a #SysemSemaphore
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called when a unit was taken, or on failure
 * @user_data: data for @callback
 *
 * Takes one unit without blocking the caller. @callback runs in the
 * thread-default main context of the thread that calls this function (see
 * g_main_context_push_thread_default()), never before this function has
 * returned; call sysem_semaphore_acquire_finish() there to learn the result.
 *
 * When a unit is free and no earlier request of @self waits, the request is
 * served at once, in the calling thread: no other thread is involved and
 * @callback runs in the next iteration of the main context. Otherwise the
 * request joins a queue, and requests of @self are served in the order they
 * were made, by one thread of sysem's own per object however many of them
 * wait. Waiting therefore never occupies a thread of GLib's shared pool,
 * which g_task_run_in_thread() and GIO's asynchronous file operations need.
 * The order holds among the requests of one object; sysem_semaphore_acquire()
 * and other objects or processes compete for units as usual.
 *
 * Cancelling @cancellable finishes a waiting request promptly with
 * %G_IO_ERROR_CANCELLED and never leaves a unit taken: a unit that comes at
 * the moment of the cancellation is given back. A request whose
 * @cancellable is already cancelled fails without waiting. Once a request
 * has taken a unit, cancelling no longer changes its result, so a %TRUE
 * from sysem_semaphore_acquire_finish() always means a unit to release.
 *
 * A request keeps @self alive until it finishes, so the caller may drop its
 * own reference meanwhile. It waits on the semaphore @self had open when it
 * was made, even if sysem_semaphore_set_key() moves @self elsewhere before
 * it is served; requests made after the move queue behind it. If the
 * semaphore is removed, waiting requests fail with
 * %SYSEM_SEMAPHORE_ERROR_NOT_FOUND. After fork() the requests made before it
 * belong to the parent; the child can make new ones.
 *
 * This function may be called from any thread.
 *
 * |[<!-- language="C" -->
 * static void
 * acquired_cb (GObject      *source,
 *              GAsyncResult *result,
 *              gpointer      user_data)
 * {
 *   SysemSemaphore *sem = SYSEM_SEMAPHORE (source);
 *   g_autoptr(GError) error = NULL;
 *
 *   if (!sysem_semaphore_acquire_finish (sem, result, &error))
 *     {
 *       if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
 *         g_warning ("No slot: %s", error->message);
 *       return;
 *     }
 *
 *   run_the_job ();                          // then, when it is done:
 *   sysem_semaphore_release (sem, 1, NULL);
 * }
 *
 * sysem_semaphore_acquire_async (sem, cancellable, acquired_cb, NULL);
 * ]|
 *
 * Since: 1.0
 */
void
sysem_semaphore_acquire_async (SysemSemaphore      *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  SysemHandle *handle;
  GError *error = NULL;

  g_return_if_fail (SYSEM_IS_SEMAPHORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if ((cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, &error)) ||
      (handle = sysem_semaphore_get_handle (self, &error)) == NULL)
    {
      sysem_gate_enter ();
      g_task_report_error (self, callback, user_data, sysem_semaphore_acquire_async, error);
      sysem_gate_leave ();
      return;
    }

  sysem_waiter_acquire (self->waiter, handle, cancellable, callback, user_data,
                        sysem_semaphore_acquire_async);
}

/**
 * sysem_semaphore_acquire_finish:
 * @self: a #SysemSemaphore
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes a request made with sysem_semaphore_acquire_async(). On success
 * the caller holds one unit and gives it back with
 * sysem_semaphore_release(); on failure it holds nothing. A cancelled
 * request fails with %G_IO_ERROR_CANCELLED.
 *
 * Returns: %TRUE when a unit was taken, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
sysem_semaphore_acquire_finish (SysemSemaphore  *self,
                                GAsyncResult    *result,
                                GError         **error)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == sysem_semaphore_acquire_async, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * sysem_semaphore_get_value:
 * @self: a #SysemSemaphore
 * @error: return location for a #GError, or %NULL
 *
 * Reads how many units are free now. Another process may change the count
 * at any moment, so use this for display and diagnostics, not to decide
 * whether sysem_semaphore_acquire() would block.
 *
 * Returns: the count, or -1 with @error set
 *
 * Since: 1.0
 */
int
sysem_semaphore_get_value (SysemSemaphore  *self,
                           GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), -1);

  handle = sysem_semaphore_get_handle (self, error);
  if (handle == NULL)
    return -1;

  return sysem_handle_get_value (handle, error);
}

/**
 * sysem_semaphore_remove:
 * @self: a #SysemSemaphore
 * @error: return location for a #GError, or %NULL
 *
 * Removes the semaphore from the system now, as `ipcrm` would, whoever else
 * uses it: their waiters fail with %SYSEM_SEMAPHORE_ERROR_NOT_FOUND. For
 * System V the key file goes too. @self can then only be moved to another
 * key with sysem_semaphore_set_key().
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
sysem_semaphore_remove (SysemSemaphore  *self,
                        GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), FALSE);

  handle = sysem_semaphore_get_handle (self, error);
  if (handle == NULL)
    return FALSE;

  return sysem_handle_remove (handle, error);
}

/* Private API, for the tool and the tests (sysem-inspect-private.h) */

gboolean
sysem_semaphore_get_stats (SysemSemaphore  *self,
                           SysemStats      *stats,
                           GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), FALSE);
  g_return_val_if_fail (stats != NULL, FALSE);

  handle = sysem_semaphore_get_handle (self, error);
  if (handle == NULL)
    return FALSE;

  memset (stats, 0, sizeof *stats);
  return sysem_handle_stats (handle, stats, error);
}

gboolean
sysem_semaphore_keep (SysemSemaphore  *self,
                      GError         **error)
{
  SysemHandle *handle;

  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), FALSE);

  handle = sysem_semaphore_get_handle (self, error);
  if (handle == NULL)
    return FALSE;

  return sysem_handle_keep (handle, error);
}

guint
sysem_semaphore_get_n_pending (SysemSemaphore *self)
{
  g_return_val_if_fail (SYSEM_IS_SEMAPHORE (self), 0);

  return sysem_waiter_get_n_pending (self->waiter);
}
