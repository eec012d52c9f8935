/* sysem-i18n.c: binds the gettext domain of the library on first use
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <libintl.h>

#include <glib.h>

#include "sysem-i18n-private.h"

/* An application that never calls bindtextdomain() for us still gets
 * translated messages: the domain is bound the first time a message is
 * looked up. SYSEM_LOCALEDIR in the environment points at another catalogue
 * directory; the test suite uses it to read the uninstalled translations. */
static void
sysem_bind_domain (void)
{
#if ENABLE_NLS
  const char *dir = g_getenv ("SYSEM_LOCALEDIR");

  if (dir == NULL || *dir == '\0')
    dir = SYSEM_LOCALEDIR;

  bindtextdomain (GETTEXT_PACKAGE, dir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
#endif
}

/* Binds the domain once. The tool calls it before GOptionContext looks up
 * its messages with g_dgettext(), which does not go through here. */
void
sysem_i18n_init (void)
{
  static gsize bound = 0;

  if (g_once_init_enter (&bound))
    {
      sysem_bind_domain ();
      g_once_init_leave (&bound, 1);
    }
}

const char *
sysem_gettext (const char *msgid)
{
  sysem_i18n_init ();

#if ENABLE_NLS
  return g_dgettext (GETTEXT_PACKAGE, msgid);
#else
  return msgid;
#endif
}
