/* async-helper.c: another process for the acquire_async tests
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: async-helper system-v|posix KEY COUNT BATCH
 *
 * Opens KEY without changing its count, releases COUNT units BATCH at a
 * time, prints "released COUNT" and exits with 0, or prints the error and
 * exits with 1.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sysem/sysem.h>

int
main (int   argc,
      char *argv[])
{
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autoptr(GError) error = NULL;
  SysemKeyType key_type;
  int count, batch;

  if (argc != 5)
    {
      fprintf (stderr, "usage: %s system-v|posix KEY COUNT BATCH\n", argv[0]);
      return 2;
    }

  key_type = strcmp (argv[1], "posix") == 0 ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V;
  count = atoi (argv[3]);
  batch = atoi (argv[4]);
  if (count < 0 || batch <= 0)
    return 2;

  sem = sysem_semaphore_new_full (argv[2], key_type, 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (sem == NULL)
    {
      fprintf (stderr, "async-helper: %s\n", error->message);
      return 1;
    }

  for (int done = 0; done < count; done += batch)
    {
      if (!sysem_semaphore_release (sem, MIN (batch, count - done), &error))
        {
          fprintf (stderr, "async-helper: %s\n", error->message);
          return 1;
        }
    }

  printf ("released %d\n", count);
  return 0;
}
