/* sysem-error.c: GErrors from errno values
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>

#include <gio/gio.h>

#include "sysem-error-private.h"
#include "sysem-i18n-private.h"

/**
 * SECTION:sysem-errors
 * @Title: Errors
 * @Short_description: What went wrong, as a GError
 * @Include: sysem/sysem.h
 *
 * Every sysem function that can fail for a reason outside the program
 * (another process, the kernel, the file system, user input) reports it as
 * a #GError in the %SYSEM_SEMAPHORE_ERROR domain, with a #SysemSemaphoreError
 * code and a translated message that names the key and the operation, for
 * example “Could not acquire the semaphore “jobs”: it was removed”.
 * Cancelled waits use %G_IO_ERROR_CANCELLED instead. Calling a function
 * with invalid arguments (a %NULL object, a negative count) is a programming
 * error, reported with g_return_val_if_fail().
 *
 * The codes follow the errno values of the failing system call, as Qt maps
 * them: `EPERM` and `EACCES` are %SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED,
 * `EEXIST` is %SYSEM_SEMAPHORE_ERROR_ALREADY_EXISTS, `ENOENT` and `EIDRM`
 * are %SYSEM_SEMAPHORE_ERROR_NOT_FOUND, `ERANGE`, `ENOSPC`, `EMFILE`,
 * `ENFILE` and `ENOMEM` are %SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES,
 * `ENAMETOOLONG` and a key that is empty or not UTF-8 are
 * %SYSEM_SEMAPHORE_ERROR_KEY_ERROR, and anything else is
 * %SYSEM_SEMAPHORE_ERROR_UNKNOWN.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GError) error = NULL;
 *
 * if (!sysem_semaphore_acquire (sem, cancellable, &error))
 *   {
 *     if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
 *       return;                       // the user gave up waiting
 *     if (g_error_matches (error, SYSEM_SEMAPHORE_ERROR,
 *                          SYSEM_SEMAPHORE_ERROR_NOT_FOUND))
 *       g_message ("The semaphore was removed; starting again");
 *     else
 *       g_warning ("%s", error->message);
 *   }
 * ]|
 *
 * From Python the same errors are #GError exceptions (`GLib.Error`) whose
 * `domain` is `sysem-semaphore-error-quark`.
 *
 * Since: 1.0
 */

/**
 * sysem_semaphore_error_quark:
 *
 * Gets the error domain of sysem. Use %SYSEM_SEMAPHORE_ERROR instead of
 * calling this directly.
 *
 * Returns: the #GQuark of `sysem-semaphore-error-quark`
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (sysem-semaphore-error-quark, sysem_semaphore_error)

/**
 * SECTION:sysem-enum-types
 * @Title: Enumeration types
 * @Short_description: The GTypes of the sysem enumerations
 * @Include: sysem/sysem.h
 *
 * Each enumeration of sysem is registered as a #GEnum type, so that it can
 * be the type of a #GObject property, be stored in a #GValue, and have
 * its values listed or turned into names at run time, as bindings do.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GEnumClass) klass = g_type_class_ref (SYSEM_TYPE_KEY_TYPE);
 * GEnumValue *value = g_enum_get_value (klass, sysem_semaphore_get_key_type (sem));
 *
 * g_print ("key type: %s\n", value->value_nick);   // "system-v" or "posix"
 * ]|
 *
 * Since: 1.0
 */

/**
 * SYSEM_TYPE_ACCESS_MODE:
 *
 * The #GType of #SysemAccessMode.
 *
 * Since: 1.0
 */

/**
 * sysem_access_mode_get_type:
 *
 * Registers #SysemAccessMode as a #GEnum type on first use.
 *
 * Returns: the #GType of #SysemAccessMode
 *
 * Since: 1.0
 */

/**
 * SYSEM_TYPE_KEY_TYPE:
 *
 * The #GType of #SysemKeyType.
 *
 * Since: 1.0
 */

/**
 * sysem_key_type_get_type:
 *
 * Registers #SysemKeyType as a #GEnum type on first use.
 *
 * Returns: the #GType of #SysemKeyType
 *
 * Since: 1.0
 */

/**
 * SYSEM_TYPE_SEMAPHORE_ERROR:
 *
 * The #GType of #SysemSemaphoreError.
 *
 * Since: 1.0
 */

/**
 * sysem_semaphore_error_get_type:
 *
 * Registers #SysemSemaphoreError as a #GEnum type on first use.
 *
 * Returns: the #GType of #SysemSemaphoreError
 *
 * Since: 1.0
 */

SysemSemaphoreError
sysem_error_code_from_errno (int errsv)
{
  switch (errsv)
    {
    case EPERM:
    case EACCES:
    case EROFS:
      return SYSEM_SEMAPHORE_ERROR_PERMISSION_DENIED;

    case EEXIST:
      return SYSEM_SEMAPHORE_ERROR_ALREADY_EXISTS;

    case ENOENT:
    case EIDRM:
      return SYSEM_SEMAPHORE_ERROR_NOT_FOUND;

    case ERANGE:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case E2BIG:
    case EOVERFLOW:
    case EDQUOT:
      return SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES;

    case ENAMETOOLONG:
    case ELOOP:
    case ENOTDIR:
    case EISDIR:
      return SYSEM_SEMAPHORE_ERROR_KEY_ERROR;

    default:
      return SYSEM_SEMAPHORE_ERROR_UNKNOWN;
    }
}

/* Keys come from callers and other processes: never put invalid UTF-8 or
 * a megabyte of text into a message. */
static char *
sysem_error_show_key (const char *key)
{
  char *shown;

  if (key == NULL)
    return g_strdup ("");

  shown = g_utf8_make_valid (key, -1);
  if (g_utf8_strlen (shown, -1) > 80)
    {
      char *cut = g_utf8_offset_to_pointer (shown, 77);
      char *tmp = g_strndup (shown, cut - shown);

      g_free (shown);
      shown = g_strconcat (tmp, "…", NULL);
      g_free (tmp);
    }

  return shown;
}

void
sysem_set_error (GError              **error,
                 SysemSemaphoreError   code,
                 SysemOp               op,
                 const char           *key,
                 const char           *reason)
{
  g_autofree char *shown = NULL;

  if (error == NULL)
    return;

  shown = sysem_error_show_key (key);

  /* Each sentence is written out whole, so translators see it whole. */
  switch (op)
    {
    case SYSEM_OP_OPEN:
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   /* Translators: the first %s is the key of a semaphore, the second
                    * says what went wrong. */
                   _("Could not open the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_ACQUIRE:
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   /* Translators: the first %s is the key of a semaphore, the second
                    * says what went wrong. */
                   _("Could not acquire the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_RELEASE:
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   /* Translators: the first %s is the key of a semaphore, the second
                    * says what went wrong. */
                   _("Could not release the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_GET_VALUE:
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   /* Translators: the first %s is the key of a semaphore, the second
                    * says what went wrong. */
                   _("Could not read the value of the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_REMOVE:
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   /* Translators: the first %s is the key of a semaphore, the second
                    * says what went wrong. */
                   _("Could not remove the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_KEY_FILE:
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   /* Translators: the first %s is the key of a semaphore, the second
                    * says what went wrong with its key file. */
                   _("Could not use the key file of the semaphore “%s”: %s"), shown, reason);
      break;
    default:
      g_assert_not_reached ();
    }
}

void
sysem_set_error_errno (GError     **error,
                       SysemOp      op,
                       const char  *key,
                       int          errsv)
{
  const char *reason;

  if (errsv == EIDRM)
    reason = _("it was removed");
  else
    reason = g_strerror (errsv);

  sysem_set_error (error, sysem_error_code_from_errno (errsv), op, key, reason);
}

/* A count that would pass the key type's maximum. */
void
sysem_set_error_too_many (GError     **error,
                          SysemOp      op,
                          const char  *key,
                          int          max_value)
{
  g_autofree char *reason =
    g_strdup_printf (_("the count would pass the maximum of %d"), max_value);

  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES, op, key, reason);
}

/* A timed acquire that ran out of time, as GIO reports timeouts. */
void
sysem_set_error_timed_out (GError     **error,
                           const char  *key)
{
  g_autofree char *shown = NULL;

  if (error == NULL)
    return;

  shown = sysem_error_show_key (key);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               /* Translators: %s is the key of a semaphore */
               _("No unit of the semaphore “%s” became free in time"), shown);
}
