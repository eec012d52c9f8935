/* test-leftovers.c: nothing a test made is left behind
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Runs last (priority -100, alone). Every test key starts with
 * "sysemtest-", so its files are named qipc_systemsem_sysemtest… in the
 * temporary directory (System V key files) and in /dev/shm (POSIX
 * semaphores, sem.…); native POSIX keys of the tests start with
 * sysemtest-. (The tests check themselves that they remove their
 * temporary directories.) A System V set cannot be traced once its
 * key file is gone; CI checks `ipcs -s` on its own.
 *
 * Tests of other builds may run at the same moment on a shared machine, so
 * an entry counts as left behind only if nobody uses it: a key file whose
 * set is gone or has no user, a POSIX semaphore no process maps; and if it
 * stays so for a while. Entries older than the `meson test` run (the
 * parent process) come from earlier runs: they are listed, but only this
 * run's entries fail the test. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysem-test-util.h"

#define GRACE_USEC (5 * G_USEC_PER_SEC)

static const char *prefixes[] = {
  "qipc_systemsem_sysemtest",
  "sem.qipc_systemsem_sysemtest",
  "sem.sysemtest",
};

/* When the parent process (meson test) started, in seconds since the
 * epoch; 0 if unknown. */
static gint64
parent_start_time (void)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) getppid ());
  g_autofree char *stat_text = NULL;
  g_autofree char *proc_stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_comm, *btime;
  gint64 boot;
  guint64 ticks;

  if (!g_file_get_contents (stat_path, &stat_text, NULL, NULL) ||
      !g_file_get_contents ("/proc/stat", &proc_stat, NULL, NULL))
    return 0;

  /* Field 22 (starttime), counted after the command name in brackets. */
  after_comm = strrchr (stat_text, ')');
  btime = strstr (proc_stat, "\nbtime ");
  if (after_comm == NULL || btime == NULL)
    return 0;
  fields = g_strsplit (after_comm + 2, " ", 0);
  if (g_strv_length (fields) < 20)
    return 0;

  boot = g_ascii_strtoll (btime + strlen ("\nbtime "), NULL, 10);
  ticks = g_ascii_strtoull (fields[19], NULL, 10);
  return boot + (gint64) (ticks / (guint64) sysconf (_SC_CLK_TCK));
}

static void
scan_dir (const char *dir,
          GPtrArray  *found)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;

  while ((name = g_dir_read_name (d)) != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
      if (g_str_has_prefix (name, prefixes[i]))
        {
          g_ptr_array_add (found, g_build_filename (dir, name, NULL));
          break;
        }
}

static GPtrArray *
find_leftovers (void)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *tmp = sysem_test_temp_dir ();

  scan_dir ("/tmp", found);
  if (!g_str_equal (tmp, "/tmp"))
    scan_dir (tmp, found);
  scan_dir ("/dev/shm", found);

  return found;
}

/* Some process maps @path. */
static gboolean
is_mapped (const char *path)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *pid;

  if (proc == NULL)
    return FALSE;

  while ((pid = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *maps_path = NULL;
      g_autofree char *maps = NULL;

      if (!g_ascii_isdigit (pid[0]))
        continue;
      maps_path = g_build_filename ("/proc", pid, "maps", NULL);
      if (g_file_get_contents (maps_path, &maps, NULL, NULL) && strstr (maps, path) != NULL)
        return TRUE;
    }

  return FALSE;
}

/* Somebody still uses what @path stands for. */
static gboolean
in_use (const char *path)
{
  g_autofree char *name = g_path_get_basename (path);

  if (g_str_has_prefix (name, "sem."))
    return is_mapped (path);

  if (g_str_has_prefix (name, "qipc_systemsem_"))
    {
      struct semid_ds ds;
      key_t key = ftok (path, 'Q');
      int semid, pid;

      if (key == -1 || (semid = semget (key, 0, 0)) == -1 ||
          semctl (semid, 0, IPC_STAT, &ds) == -1)
        return FALSE;

      /* A sysem set counts its users; for a set made by Qt, look whether
       * the last process that used it lives. */
      if (ds.sem_nsems >= 2)
        return semctl (semid, 1, GETVAL) > 0;
      pid = semctl (semid, 0, GETPID);
      return pid > 0 && (kill (pid, 0) == 0 || errno == EPERM);
    }

  return FALSE;
}

static gboolean
is_left (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0 && !in_use (path);
}

static gboolean
none_left (gpointer user_data)
{
  GPtrArray *paths = user_data;

  for (guint i = 0; i < paths->len; i++)
    if (is_left (paths->pdata[i]))
      return FALSE;

  return TRUE;
}

static void
test_nothing_left (void)
{
  g_autoptr(GPtrArray) found = find_leftovers ();
  g_autoptr(GPtrArray) ours = g_ptr_array_new_with_free_func (g_free);
  gint64 since = parent_start_time ();
  guint n_left = 0;
  struct stat st;

  /* Give what others are closing right now the time to go away. */
  if (!sysem_test_poll (none_left, found, GRACE_USEC))
    {
      for (guint i = 0; i < found->len; i++)
        {
          const char *path = found->pdata[i];

          if (lstat (path, &st) != 0)
            continue;
          if (in_use (path))
            {
              g_test_message ("in use by a running program: %s", path);
              continue;
            }

          if (since == 0 || st.st_ctime >= since)
            {
              g_test_message ("left behind: %s", path);
              g_ptr_array_add (ours, g_strdup (path));
              n_left++;
            }
          else
            g_test_message ("left behind by an earlier run (ignored): %s", path);
        }
    }

  if (n_left > 0)
    {
      g_autofree char *list = NULL;

      g_ptr_array_add (ours, NULL);
      list = g_strjoinv (", ", (char **) ours->pdata);
      g_test_fail_printf ("%u test files were left behind: %s", n_left, list);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/core/leftovers/nothing-left", test_nothing_left);

  return g_test_run ();
}
