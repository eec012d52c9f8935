/* sysem-scan.c: finding the semaphores that sysem and Qt made
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Nothing here opens a semaphore through the library: looking must not
 * create a semaphore, join a user count or reset a value. System V sets are
 * found through their key files and read with semctl(); POSIX semaphores
 * are read through a read-only mapping of their file in /dev/shm.
 *
 * When is a semaphore stale, that is, safe for `sysem gc` to remove?
 *
 * - A System V key file whose set does not exist: always.
 * - A set made by sysem (two semaphores: the count and the user count):
 *   when its user count is zero (every user changes it with SEM_UNDO, so
 *   a process that died no longer counts), no process waits on it, and the
 *   last process that changed its count is not running. The last condition
 *   keeps a set that a Qt program uses (Qt does not count itself).
 * - A set made by Qt (one semaphore, no user count): when no process waits
 *   on it and the last process that changed its count is not running. Qt's
 *   owner process sets the count when it creates the set, so a set whose
 *   owner was killed and that nobody touched since is stale.
 * - A POSIX semaphore: when no process has its file mapped (read from
 *   /proc/PID/maps). Its waiter count is not asked: glibc leaves it raised
 *   when a waiter is killed, and a real waiter has the file mapped. If the maps of a process
 *   that could have opened it cannot be read, it is not stale (see
 *   scan_uid_could_open () for which processes count).
 *
 * A last pid of 0 (never set, or a process in another PID namespace) is
 * taken as alive. Anything we are not allowed to read is never stale.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sysem-backend-private.h"
#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-key-private.h"

#include "sysem-scan.h"

union scan_semun {
  int              val;
  struct semid_ds *buf;
  unsigned short  *array;
};

void
sysem_scan_entry_free (SysemScanEntry *entry)
{
  if (entry == NULL)
    return;

  g_free (entry->name);
  g_free (entry->path);
  g_free (entry);
}

const char *
sysem_scan_state_name (SysemScanState state)
{
  switch (state)
    {
    case SYSEM_SCAN_IN_USE:
      return "in-use";
    case SYSEM_SCAN_NO_SET:
      return "no-set";
    case SYSEM_SCAN_NO_USERS:
      return "no-users";
    case SYSEM_SCAN_OWNER_GONE:
      return "owner-gone";
    case SYSEM_SCAN_UNUSED:
      return "unused";
    case SYSEM_SCAN_NOT_A_SEMAPHORE:
      return "not-a-semaphore";
    case SYSEM_SCAN_NO_ACCESS:
      return "no-access";
    default:
      g_assert_not_reached ();
    }
}

const char *
sysem_scan_state_label (SysemScanState state)
{
  switch (state)
    {
    case SYSEM_SCAN_IN_USE:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("in use");
    case SYSEM_SCAN_NO_SET:
      /* Translators: the state of a semaphore in `sysem list`: a key file
       * whose semaphore set is gone */
      return _("stale: no set");
    case SYSEM_SCAN_NO_USERS:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("stale: no users");
    case SYSEM_SCAN_OWNER_GONE:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("stale: owner gone");
    case SYSEM_SCAN_UNUSED:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("stale: unused");
    case SYSEM_SCAN_NOT_A_SEMAPHORE:
      /* Translators: the state of a file in /dev/shm in `sysem list` */
      return _("not a semaphore");
    case SYSEM_SCAN_NO_ACCESS:
      /* Translators: the state of a semaphore in `sysem list` */
      return _("no access");
    default:
      g_assert_not_reached ();
    }
}

gboolean
sysem_scan_pid_alive (int pid)
{
  if (pid <= 0)
    return FALSE;

  return kill ((pid_t) pid, 0) == 0 || errno == EPERM;
}

/* What ftok (path, 'Q') computes, from the file's status. */
static int
scan_ftok (const struct stat *st)
{
  return (int) (((guint32) 'Q' << 24) |
                (((guint32) st->st_dev & 0xff) << 16) |
                ((guint32) st->st_ino & 0xffff));
}

static SysemScanEntry *
scan_entry_new (SysemKeyType  key_type,
                const char   *name,
                const char   *path)
{
  SysemScanEntry *entry = g_new0 (SysemScanEntry, 1);

  entry->key_type = key_type;
  entry->name = g_strdup (name);
  entry->path = g_strdup (path);
  entry->ipc_key = -1;
  entry->id = -1;
  entry->n_sems = -1;
  entry->value = -1;
  entry->waiters = -1;
  entry->users = -1;
  entry->users_exact = TRUE;
  entry->last_pid = -1;
  entry->state = SYSEM_SCAN_IN_USE;

  return entry;
}

static void
scan_key_file_error (GError     **error,
                     const char  *path,
                     const char  *reason)
{
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_KEY_FILE, path, reason);
}

/* Reads the set that the key file at path names. */
static SysemScanEntry *
scan_sysv_path (const char  *path,
                GError     **error)
{
  g_autoptr(SysemScanEntry) entry = NULL;
  struct semid_ds ds;
  union scan_semun arg = { .buf = &ds };
  struct stat st;
  int semid;

  if (lstat (path, &st) == -1)
    {
      if (errno == ENOENT)
        return NULL;
      sysem_set_error_errno (error, SYSEM_OP_KEY_FILE, path, errno);
      return NULL;
    }

  if (S_ISLNK (st.st_mode))
    {
      scan_key_file_error (error, path, _("the key file is a symbolic link"));
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      scan_key_file_error (error, path, _("the key file is not a regular file"));
      return NULL;
    }

  entry = scan_entry_new (SYSEM_KEY_TYPE_SYSTEM_V, path, path);
  entry->ipc_key = scan_ftok (&st);
  entry->mode = st.st_mode & 0777;
  entry->uid = st.st_uid;
  entry->changed = st.st_mtime;

  semid = semget ((key_t) entry->ipc_key, 0, 0);
  if (semid == -1)
    {
      if (errno == ENOENT)
        {
          entry->state = SYSEM_SCAN_NO_SET;
          entry->stale = TRUE;
          return g_steal_pointer (&entry);
        }
      if (errno == EACCES || errno == EPERM)
        {
          entry->exists = TRUE;
          entry->state = SYSEM_SCAN_NO_ACCESS;
          return g_steal_pointer (&entry);
        }
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, path, errno);
      return NULL;
    }

  entry->exists = TRUE;
  entry->id = semid;

  if (semctl (semid, 0, IPC_STAT, arg) == -1)
    {
      if (errno == EINVAL || errno == EIDRM)
        {
          /* Removed while we looked. */
          entry->exists = FALSE;
          entry->id = -1;
          entry->state = SYSEM_SCAN_NO_SET;
          entry->stale = TRUE;
          return g_steal_pointer (&entry);
        }
      if (errno == EACCES || errno == EPERM)
        {
          entry->state = SYSEM_SCAN_NO_ACCESS;
          return g_steal_pointer (&entry);
        }
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, path, errno);
      return NULL;
    }

  entry->n_sems = ds.sem_nsems;
  entry->mode = ds.sem_perm.mode & 0777;
  entry->uid = ds.sem_perm.uid;
  entry->changed = MAX (ds.sem_otime, ds.sem_ctime);
  entry->value = semctl (semid, 0, GETVAL);
  entry->waiters = semctl (semid, 0, GETNCNT);
  entry->last_pid = semctl (semid, 0, GETPID);
  if (ds.sem_nsems >= 2)
    entry->users = semctl (semid, 1, GETVAL);

  if (entry->value == -1 || entry->waiters == -1 || entry->last_pid == -1 ||
      (ds.sem_nsems >= 2 && entry->users == -1))
    {
      /* Removed between the calls: report it as gone. */
      entry->exists = FALSE;
      entry->id = -1;
      entry->state = SYSEM_SCAN_NO_SET;
      entry->stale = TRUE;
      return g_steal_pointer (&entry);
    }

  /* 0 means nobody changed it yet, or a process we cannot see. */
  entry->last_pid_alive = entry->last_pid == 0 || sysem_scan_pid_alive (entry->last_pid);

  if (entry->waiters == 0 && !entry->last_pid_alive)
    {
      if (ds.sem_nsems >= 2 && entry->users == 0)
        entry->state = SYSEM_SCAN_NO_USERS;
      else if (ds.sem_nsems == 1)
        entry->state = SYSEM_SCAN_OWNER_GONE;
    }
  entry->stale = entry->state != SYSEM_SCAN_IN_USE;

  return g_steal_pointer (&entry);
}

/* Reads the POSIX semaphore whose file is at path; its users are counted
 * later, by scan_posix_users(). */
static SysemScanEntry *
scan_posix_path (const char  *name,
                 const char  *path,
                 GError     **error)
{
  g_autoptr(SysemScanEntry) entry = NULL;
  struct stat st;
  sem_t *sem;
  int fd;

  if (lstat (path, &st) == -1)
    {
      if (errno == ENOENT)
        return NULL;
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }

  entry = scan_entry_new (SYSEM_KEY_TYPE_POSIX, name, path);
  entry->exists = TRUE;
  entry->mode = st.st_mode & 0777;
  entry->uid = st.st_uid;
  entry->changed = st.st_mtime;
  entry->dev = st.st_dev;
  entry->ino = st.st_ino;

  if (!S_ISREG (st.st_mode) || st.st_size != sizeof (sem_t))
    {
      entry->state = SYSEM_SCAN_NOT_A_SEMAPHORE;
      return g_steal_pointer (&entry);
    }

  fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1)
    {
      if (errno == ENOENT)
        return NULL;
      if (errno == EACCES || errno == EPERM)
        {
          entry->state = SYSEM_SCAN_NO_ACCESS;
          return g_steal_pointer (&entry);
        }
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }

  /* The file may have been replaced since lstat(): check what we opened. */
  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode) || st.st_size != sizeof (sem_t))
    {
      close (fd);
      entry->state = SYSEM_SCAN_NOT_A_SEMAPHORE;
      return g_steal_pointer (&entry);
    }
  entry->dev = st.st_dev;
  entry->ino = st.st_ino;

  sem = mmap (NULL, sizeof (sem_t), PROT_READ, MAP_SHARED, fd, 0);
  close (fd);
  if (sem == MAP_FAILED)
    {
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }

  sem_getvalue (sem, &entry->value);
  entry->waiters = sysem_sem_t_waiters (sem);
  munmap (sem, sizeof (sem_t));

  return g_steal_pointer (&entry);
}

/* A process whose memory map we cannot read: could it have the entry's
 * file mapped? An approximation from the mode bits. The superuser reads
 * the map of every process it can reach; the few it cannot (the init of
 * an enclosing container, say) are not counted. Another user's processes
 * count only for semaphores that the mode bits open to them, and the
 * superuser's processes only for the superuser's semaphores. */
static gboolean
scan_uid_could_open (const SysemScanEntry *entry,
                     guint                 uid)
{
  if (geteuid () == 0)
    return FALSE;
  if (uid == entry->uid)
    return TRUE;
  if (uid == 0)
    return FALSE;
  return (entry->mode & 0066) != 0;
}

static gboolean
scan_parse_maps_line (const char *line,
                      guint      *dev_major,
                      guint      *dev_minor,
                      guint64    *inode)
{
  unsigned long long ino;
  unsigned int maj, mnr;

  /* address perms offset dev inode path */
  if (sscanf (line, "%*s %*s %*s %x:%x %llu", &maj, &mnr, &ino) != 3)
    return FALSE;

  *dev_major = maj;
  *dev_minor = mnr;
  *inode = ino;
  return TRUE;
}

/* Counts, for each POSIX semaphore, the processes that have its file
 * mapped: every process that opened it with sem_open() or with sysem. */
static void
scan_posix_users (GPtrArray *entries)
{
  g_autoptr(GPtrArray) posix = g_ptr_array_new ();
  g_autofree gboolean *seen = NULL;
  pid_t self = getpid ();
  DIR *proc;
  struct dirent *de;

  for (guint i = 0; i < entries->len; i++)
    {
      SysemScanEntry *entry = g_ptr_array_index (entries, i);

      if (entry->key_type == SYSEM_KEY_TYPE_POSIX &&
          entry->state == SYSEM_SCAN_IN_USE && entry->exists)
        {
          entry->users = 0;
          g_ptr_array_add (posix, entry);
        }
    }

  if (posix->len == 0)
    return;

  seen = g_new0 (gboolean, posix->len);

  proc = opendir ("/proc");
  if (proc == NULL)
    {
      for (guint i = 0; i < posix->len; i++)
        ((SysemScanEntry *) g_ptr_array_index (posix, i))->users_exact = FALSE;
      goto decide;
    }

  while ((de = readdir (proc)) != NULL)
    {
      g_autofree char *maps_path = NULL;
      char line[1024];
      gint64 pid;
      FILE *maps;

      if (!g_ascii_string_to_signed (de->d_name, 10, 1, G_MAXINT, &pid, NULL) || pid == self)
        continue;

      maps_path = g_strdup_printf ("/proc/%s/maps", de->d_name);
      maps = fopen (maps_path, "re");
      if (maps == NULL)
        {
          g_autofree char *dir = NULL;
          struct stat st;

          if (errno == ENOENT || errno == ESRCH)
            continue;   /* it ended meanwhile */

          dir = g_strdup_printf ("/proc/%s", de->d_name);
          if (stat (dir, &st) == -1)
            continue;
          for (guint i = 0; i < posix->len; i++)
            {
              SysemScanEntry *entry = g_ptr_array_index (posix, i);

              if (scan_uid_could_open (entry, st.st_uid))
                entry->users_exact = FALSE;
            }
          continue;
        }

      memset (seen, 0, sizeof (gboolean) * posix->len);

      while (fgets (line, sizeof line, maps) != NULL)
        {
          guint dev_major, dev_minor;
          guint64 inode;
          gboolean whole_line = strchr (line, '\n') != NULL;

          if (strstr (line, " " SYSEM_POSIX_DIR "/") != NULL &&
              scan_parse_maps_line (line, &dev_major, &dev_minor, &inode))
            {
              for (guint i = 0; i < posix->len; i++)
                {
                  SysemScanEntry *entry = g_ptr_array_index (posix, i);

                  if (!seen[i] &&
                      major (entry->dev) == dev_major && minor (entry->dev) == dev_minor &&
                      (guint64) entry->ino == inode)
                    {
                      seen[i] = TRUE;
                      entry->users++;
                    }
                }
            }

          /* Skip the rest of an overlong line. */
          while (!whole_line && fgets (line, sizeof line, maps) != NULL)
            whole_line = strchr (line, '\n') != NULL;
        }

      fclose (maps);
    }

  closedir (proc);

decide:
  for (guint i = 0; i < posix->len; i++)
    {
      SysemScanEntry *entry = g_ptr_array_index (posix, i);

      if (entry->users == 0 && entry->users_exact)
        {
          entry->state = SYSEM_SCAN_UNUSED;
          entry->stale = TRUE;
        }
    }
}

static int
scan_compare_entries (gconstpointer a,
                      gconstpointer b)
{
  const SysemScanEntry *ea = *(const SysemScanEntry * const *) a;
  const SysemScanEntry *eb = *(const SysemScanEntry * const *) b;

  if (ea->key_type != eb->key_type)
    return ea->key_type == SYSEM_KEY_TYPE_SYSTEM_V ? -1 : 1;

  return strcmp (ea->name, eb->name);
}

static void
scan_directory (GPtrArray    *entries,
                SysemKeyType  key_type,
                const char   *dir_path)
{
  const char *prefix = key_type == SYSEM_KEY_TYPE_SYSTEM_V ? SYSEM_LEGACY_PREFIX
                                                           : SYSEM_POSIX_FILE_PREFIX;
  struct dirent *de;
  DIR *dir;

  dir = opendir (dir_path);
  if (dir == NULL)
    return;

  while ((de = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *native = NULL;
      SysemScanEntry *entry;

      if (!g_str_has_prefix (de->d_name, prefix) || de->d_name[strlen (prefix)] == '\0')
        continue;
      if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
        continue;

      if (g_str_equal (dir_path, "/"))
        path = g_strconcat ("/", de->d_name, NULL);
      else
        path = g_build_filename (dir_path, de->d_name, NULL);

      /* A file that cannot be read or vanished meanwhile is simply left
       * out of the list. */
      if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
        entry = scan_sysv_path (path, NULL);
      else
        {
          native = g_strconcat ("/", de->d_name + strlen (prefix), NULL);
          entry = scan_posix_path (native, path, NULL);
        }

      if (entry != NULL)
        g_ptr_array_add (entries, entry);
    }

  closedir (dir);
}

GPtrArray *
sysem_scan_all (GError **error)
{
  g_autoptr(GPtrArray) entries =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sysem_scan_entry_free);
  g_autofree char *temp_dir = sysem_key_temp_dir ();

  scan_directory (entries, SYSEM_KEY_TYPE_SYSTEM_V, temp_dir);
  scan_directory (entries, SYSEM_KEY_TYPE_POSIX, SYSEM_POSIX_DIR);
  scan_posix_users (entries);

  g_ptr_array_sort (entries, scan_compare_entries);

  return g_steal_pointer (&entries);
}

SysemScanEntry *
sysem_scan_native (SysemKeyType   key_type,
                   const char    *native,
                   GError       **error)
{
  g_autoptr(GPtrArray) one = NULL;
  g_autofree char *path = NULL;
  SysemScanEntry *entry;

  if (key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    return scan_sysv_path (native, error);

  path = sysem_key_posix_path (native);
  entry = scan_posix_path (native, path, error);
  if (entry == NULL)
    return NULL;

  one = g_ptr_array_new ();
  g_ptr_array_add (one, entry);
  scan_posix_users (one);

  return entry;
}

static gboolean
scan_same_file (const char  *path,
                dev_t        dev,
                ino_t        ino)
{
  struct stat st;

  return lstat (path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static gboolean
scan_remove_sysv (SysemScanEntry  *entry,
                  gboolean         only_if_stale,
                  gboolean        *removed_set,
                  GError         **error)
{
  g_autoptr(SysemScanEntry) now = NULL;
  gboolean lockable = TRUE;
  gboolean ok = FALSE;
  struct stat st;
  int semid;
  int fd;

  fd = open (entry->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1 && (errno == EACCES || errno == EPERM))
    {
      fd = open (entry->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      lockable = FALSE;
    }
  if (fd == -1)
    {
      if (errno == ENOENT && only_if_stale)
        return FALSE;
      if (errno == ENOENT)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                         entry->name, _("it was removed"));
      else if (errno == ELOOP)
        scan_key_file_error (error, entry->path, _("the key file is a symbolic link"));
      else
        sysem_set_error_errno (error, SYSEM_OP_REMOVE, entry->name, errno);
      return FALSE;
    }

  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode))
    {
      scan_key_file_error (error, entry->path, _("the key file is not a regular file"));
      close (fd);
      return FALSE;
    }

  /* sysem programs hold this lock while they join or leave the set: under
   * it, nobody can be on the way in. */
  if (lockable)
    while (flock (fd, LOCK_EX) == -1 && errno == EINTR)
      ;

  if (!scan_same_file (entry->path, st.st_dev, st.st_ino))
    {
      if (!only_if_stale)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                         entry->name, _("it was removed"));
      goto out;
    }

  if (only_if_stale)
    {
      now = scan_sysv_path (entry->path, NULL);
      if (now == NULL || !now->stale)
        goto out;
    }

  semid = semget ((key_t) scan_ftok (&st), 0, 0);
  if (semid != -1)
    {
      if (semctl (semid, 0, IPC_RMID) == -1 && errno != EINVAL && errno != EIDRM)
        {
          sysem_set_error_errno (error, SYSEM_OP_REMOVE, entry->name, errno);
          goto out;
        }
      *removed_set = TRUE;
    }
  else if (errno != ENOENT)
    {
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, entry->name, errno);
      goto out;
    }

  if (unlink (entry->path) == -1 && errno != ENOENT)
    {
      sysem_set_error_errno (error, SYSEM_OP_KEY_FILE, entry->name, errno);
      goto out;
    }

  ok = TRUE;

out:
  close (fd);
  return ok;
}

static gboolean
scan_remove_posix (SysemScanEntry  *entry,
                   gboolean         only_if_stale,
                   gboolean        *removed_set,
                   GError         **error)
{
  if (only_if_stale)
    {
      g_autoptr(SysemScanEntry) now = sysem_scan_native (SYSEM_KEY_TYPE_POSIX, entry->name, NULL);

      if (now == NULL || !now->stale || now->dev != entry->dev || now->ino != entry->ino)
        return FALSE;
    }
  else if (!scan_same_file (entry->path, entry->dev, entry->ino))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                       entry->name, _("it was removed"));
      return FALSE;
    }

  if (unlink (entry->path) == -1)
    {
      if (errno == ENOENT && only_if_stale)
        return FALSE;
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, entry->name, errno);
      return FALSE;
    }

  *removed_set = TRUE;
  return TRUE;
}

gboolean
sysem_scan_remove (SysemScanEntry  *entry,
                   gboolean         only_if_stale,
                   gboolean        *removed_set,
                   GError         **error)
{
  *removed_set = FALSE;

  if (entry->key_type == SYSEM_KEY_TYPE_SYSTEM_V)
    return scan_remove_sysv (entry, only_if_stale, removed_set, error);

  return scan_remove_posix (entry, only_if_stale, removed_set, error);
}
