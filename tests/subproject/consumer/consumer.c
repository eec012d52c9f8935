/* consumer.c: a program of a project that has sysem as a subproject.
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <sysem/sysem.h>

#include <unistd.h>

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *key = NULL;

  if (argc != 2)
    {
      g_printerr ("usage: %s KEY-PREFIX\n", argv[0]);
      return 2;
    }

  key = g_strdup_printf ("%s-%d", argv[1], (int) getpid ());
  sem = sysem_semaphore_new (key, 2, SYSEM_ACCESS_MODE_CREATE, &error);
  if (sem == NULL ||
      !sysem_semaphore_acquire (sem, NULL, &error) ||
      sysem_semaphore_get_value (sem, &error) != 1 ||
      !sysem_semaphore_release (sem, 1, &error) ||
      !sysem_semaphore_remove (sem, &error))
    {
      g_printerr ("consumer: %s\n", error != NULL ? error->message : "wrong value");
      return 1;
    }

  g_print ("sysem %s from the subproject works\n", SYSEM_VERSION_S);
  return 0;
}
