/* sysem-error.c: GErrors from errno values
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>

#include "sysem-error-private.h"
#include "sysem-i18n-private.h"

G_DEFINE_QUARK (sysem-semaphore-error-quark, sysem_semaphore_error)

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

  /* Keys come from callers and other processes: never put invalid UTF-8 or
   * a megabyte of text into a message. */
  if (key == NULL)
    shown = g_strdup ("");
  else
    {
      shown = g_utf8_make_valid (key, -1);
      if (g_utf8_strlen (shown, -1) > 80)
        {
          char *cut = g_utf8_offset_to_pointer (shown, 77);
          char *tmp = g_strndup (shown, cut - shown);

          g_free (shown);
          shown = g_strconcat (tmp, "…", NULL);
          g_free (tmp);
        }
    }

  /* Each sentence is written out whole, so translators see it whole. */
  switch (op)
    {
    case SYSEM_OP_OPEN:
      /* Translators: the first %s is the key of a semaphore, the second
       * says what went wrong. */
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   _("Could not open the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_ACQUIRE:
      /* Translators: the first %s is the key of a semaphore, the second
       * says what went wrong. */
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   _("Could not acquire the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_RELEASE:
      /* Translators: the first %s is the key of a semaphore, the second
       * says what went wrong. */
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   _("Could not release the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_GET_VALUE:
      /* Translators: the first %s is the key of a semaphore, the second
       * says what went wrong. */
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   _("Could not read the value of the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_REMOVE:
      /* Translators: the first %s is the key of a semaphore, the second
       * says what went wrong. */
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
                   _("Could not remove the semaphore “%s”: %s"), shown, reason);
      break;
    case SYSEM_OP_KEY_FILE:
      /* Translators: the first %s is the key of a semaphore, the second
       * says what went wrong with its key file. */
      g_set_error (error, SYSEM_SEMAPHORE_ERROR, code,
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
