/* sysem-posix.c: POSIX named semaphores, as Qt uses them with QT_POSIX_IPC
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* A POSIX named semaphore on Linux is a file /dev/shm/sem.NAME that holds one
 * sem_t, mapped shared by every process that opens it; sem_wait() and
 * sem_post() on it take no system call unless someone has to sleep or wake.
 *
 * sysem opens these files itself instead of calling sem_open(), for three
 * reasons: sem_open() maps whatever file it finds, so a file of the wrong
 * size in /dev/shm kills the caller with SIGBUS; it keeps no descriptor, so
 * nothing can tell a waiter that the name was unlinked; and it shares one
 * mapping per name in a process, which makes the lifetime of each object
 * depend on the others. The file it makes is the one glibc's sem_open()
 * makes (a sem_t initialised as process-shared, written to a temporary file
 * and linked into place whole), so Qt and any other sem_open() user share it.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <semaphore.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-key-private.h"
#include "sysem-posix-private.h"

typedef struct {
  SysemHandle  parent;
  /* The value word of glibc's sem_t (see below); NULL once the semaphore
   * is known to be removed, which sends every call to the slow path. */
  guint64     *fast_word;
  sem_t       *sem;
  int          fd;
  char        *path;
  pid_t        creator;   /* the process that made it unlinks it; 0 if not us */
} SysemPosix;

/* glibc's sem_t on 64-bit systems is one 64-bit word: the value in its low
 * half, the number of sleeping waiters in its high half. Taking a unit when
 * the value is not zero, and adding one when nobody sleeps, is a
 * compare-and-swap that wakes nobody: what sem_trywait() and sem_post() do
 * then, without the calls. Everything else goes through glibc. */
#if GLIB_SIZEOF_VOID_P == 8 && defined(__GLIBC__)
# define SYSEM_HAVE_FAST_WORD 1
G_STATIC_ASSERT (sizeof (sem_t) >= sizeof (guint64));
#endif

/* How many waiters sleep on a glibc sem_t, for display only; -1 where the
 * layout is not known. */
static int
sysem_posix_waiters (const sem_t *sem)
{
#ifdef SYSEM_HAVE_FAST_WORD
  guint64 data = __atomic_load_n ((const guint64 *) (gconstpointer) sem, __ATOMIC_RELAXED);

  return (int) (data >> 32);
#else
  return -1;
#endif
}

static inline gboolean
sysem_posix_fast_take (guint64 *word)
{
  guint64 data = __atomic_load_n (word, __ATOMIC_RELAXED);

  while ((data & G_MAXUINT32) != 0)
    {
      if (__atomic_compare_exchange_n (word, &data, data - 1, TRUE,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return TRUE;
    }

  return FALSE;
}

static inline gboolean
sysem_posix_fast_give (guint64 *word)
{
  guint64 data = __atomic_load_n (word, __ATOMIC_RELAXED);

  return (data >> 32) == 0 && (data & G_MAXUINT32) < G_MAXINT32 &&
         __atomic_compare_exchange_n (word, &data, data + 1, FALSE,
                                      __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

static gboolean
sysem_posix_is_unlinked (SysemPosix *self)
{
  struct stat st;

  return fstat (self->fd, &st) == 0 && st.st_nlink == 0;
}

static gboolean
sysem_posix_path_is_ours (SysemPosix *self)
{
  struct stat ours, now;

  return fstat (self->fd, &ours) == 0 &&
         lstat (self->path, &now) == 0 &&
         ours.st_dev == now.st_dev &&
         ours.st_ino == now.st_ino;
}

static void
sysem_posix_set_removed (SysemPosix  *self,
                         SysemOp      op,
                         GError     **error)
{
  sysem_handle_set_removed (&self->parent);
  g_atomic_pointer_set (&self->fast_word, NULL);
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, op,
                   self->parent.display_key, _("it was removed"));
}

/* Everything but the compare-and-swap of a free unit. Out of line, so that
 * the fast path needs no stack frame. */
static G_GNUC_NO_INLINE gboolean
sysem_posix_acquire_slow (SysemHandle   *handle,
                          gint64         deadline,
                          GCancellable  *cancellable,
                          GError       **error)
{
  SysemPosix *self = (SysemPosix *) handle;

  /* Cancelled before the call: fail, as the System V wait does, rather
   * than take a free unit. */
  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  if (sysem_handle_is_removed (handle))
    {
      sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
      return FALSE;
    }

  if (sem_trywait (self->sem) == 0)
    return TRUE;

  if (deadline == SYSEM_DEADLINE_NOW)
    return FALSE;

  /* Sleep in slices: between them look at the cancellable, and after a
   * slice that ended without a unit, at the file, since nobody wakes a
   * waiter whose semaphore was unlinked. Not before the first sleep: most
   * waits end with a post, and an fstat() there would add a system call
   * to every hand-over between processes. */
  for (;;)
    {
      gint64 slice_end;
      struct timespec ts;

      if (!sysem_wait_slice (deadline, cancellable, &slice_end, error))
        return FALSE;

      ts.tv_sec = slice_end / G_USEC_PER_SEC;
      ts.tv_nsec = (slice_end % G_USEC_PER_SEC) * 1000;

#ifdef HAVE_SEM_CLOCKWAIT
      if (sem_clockwait (self->sem, CLOCK_MONOTONIC, &ts) == 0)
        return TRUE;
#else
#error "sem_clockwait() is needed"
#endif

      if (errno == ETIMEDOUT || errno == EINTR)
        {
          if (sysem_posix_is_unlinked (self))
            {
              sysem_posix_set_removed (self, SYSEM_OP_ACQUIRE, error);
              return FALSE;
            }
          if (deadline != SYSEM_DEADLINE_FOREVER && g_get_monotonic_time () >= deadline)
            {
              /* One last look, so that a zero-length wait still succeeds
               * when a unit is there. */
              return sem_trywait (self->sem) == 0;
            }
          continue;
        }

      sysem_set_error_errno (error, SYSEM_OP_ACQUIRE, handle->display_key, errno);
      return FALSE;
    }
}

static gboolean
sysem_posix_acquire (SysemHandle   *handle,
                     gint64         deadline,
                     GCancellable  *cancellable,
                     GError       **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  guint64 *word = g_atomic_pointer_get (&self->fast_word);

  /* A free unit: no call at all. The word is only set while the semaphore
   * was not found removed, and a take fails only at zero, so a wait of
   * length zero is answered here too. */
  if (G_LIKELY (word != NULL) && cancellable == NULL)
    {
      if (G_LIKELY (sysem_posix_fast_take (word)))
        return TRUE;
      if (deadline == SYSEM_DEADLINE_NOW)
        return FALSE;
    }

  return sysem_posix_acquire_slow (handle, deadline, cancellable, error);
}

static G_GNUC_NO_INLINE gboolean
sysem_posix_release_slow (SysemHandle  *handle,
                          int           n,
                          GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  int value;

  if (sysem_handle_is_removed (handle))
    {
      sysem_posix_set_removed (self, SYSEM_OP_RELEASE, error);
      return FALSE;
    }

  if (sem_getvalue (self->sem, &value) == 0 && value > SEM_VALUE_MAX - n)
    goto too_many;

  for (int i = 0; i < n; i++)
    {
      if (sem_post (self->sem) != 0)
        {
          /* Another process posted at the same time and the count is full:
           * take back what we added, so a failed release changes nothing. */
          while (i-- > 0)
            sem_trywait (self->sem);
          goto too_many;
        }
    }

  return TRUE;

too_many:
  sysem_set_error_too_many (error, SYSEM_OP_RELEASE, handle->display_key, SEM_VALUE_MAX);
  return FALSE;
}

static gboolean
sysem_posix_release (SysemHandle  *handle,
                     int           n,
                     GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  guint64 *word = g_atomic_pointer_get (&self->fast_word);

  /* One unit and nobody asleep: no call. */
  if (G_LIKELY (word != NULL) && n == 1 && G_LIKELY (sysem_posix_fast_give (word)))
    return TRUE;

  return sysem_posix_release_slow (handle, n, error);
}

static int
sysem_posix_get_value (SysemHandle  *handle,
                       GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  int value;

  if (sysem_handle_is_removed (handle))
    {
      sysem_posix_set_removed (self, SYSEM_OP_GET_VALUE, error);
      return -1;
    }

  sem_getvalue (self->sem, &value);
  return value;
}

static gboolean
sysem_posix_stats (SysemHandle  *handle,
                   SysemStats   *stats,
                   GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  struct stat st;

  if (fstat (self->fd, &st) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, handle->display_key, errno);
      return FALSE;
    }

  stats->key_type = SYSEM_KEY_TYPE_POSIX;
  stats->id = -1;
  stats->n_sems = -1;
  stats->users = -1;
  stats->last_pid = -1;
  stats->mode = st.st_mode & 0777;
  stats->uid = st.st_uid;
  stats->changed = st.st_mtime;
  sem_getvalue (self->sem, &stats->value);
  stats->waiters = sysem_posix_waiters (self->sem);

  return TRUE;
}

static gboolean
sysem_posix_remove (SysemHandle  *handle,
                    GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;

  if (sysem_handle_is_removed (handle) || !sysem_posix_path_is_ours (self))
    {
      sysem_posix_set_removed (self, SYSEM_OP_REMOVE, error);
      return FALSE;
    }

  if (unlink (self->path) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, handle->display_key, errno);
      return FALSE;
    }

  sysem_handle_set_removed (handle);
  g_atomic_pointer_set (&self->fast_word, NULL);
  return TRUE;
}

static void
sysem_posix_close (SysemHandle *handle)
{
  SysemPosix *self = (SysemPosix *) handle;

  /* Qt's rule: the instance that created the semaphore unlinks it. */
  if (self->fd != -1 && !sysem_handle_is_removed (handle) && self->creator == getpid () &&
      sysem_posix_path_is_ours (self))
    unlink (self->path);

  /* The mapping stays for a call that may still be running on this
   * handle (sysem-backend.h); sysem_posix_free() unmaps it. */
  if (self->fd != -1)
    close (g_steal_fd (&self->fd));
  sysem_handle_set_removed (handle);
  g_atomic_pointer_set (&self->fast_word, NULL);
}

static void
sysem_posix_free (SysemHandle *handle)
{
  SysemPosix *self = (SysemPosix *) handle;

  if (self->sem != NULL)
    munmap (self->sem, sizeof (sem_t));
  if (self->fd != -1)
    close (self->fd);
  g_free (self->path);
  sysem_handle_clear (handle);
  g_free (self);
}

static gboolean
sysem_posix_keep (SysemHandle  *handle,
                  GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;

  /* Qt's rule: the creator unlinks it when it closes; now nobody does. */
  self->creator = 0;
  return TRUE;
}


/* Opens the file of an existing semaphore: the descriptor, -1 with an error,
 * or -2 when there is none. */
static int
sysem_posix_open_existing (SysemPosix  *self,
                           GError     **error)
{
  struct stat st;
  int fd;

  fd = open (self->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1)
    {
      if (errno == ENOENT)
        return -2;
      if (errno == ELOOP)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                         self->parent.display_key,
                         _("its file in /dev/shm is a symbolic link"));
      else
        sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      return -1;
    }

  if (fstat (fd, &st) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      close (fd);
      return -1;
    }

  if (!S_ISREG (st.st_mode) || st.st_size != sizeof (sem_t))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       self->parent.display_key,
                       _("its file in /dev/shm is not a semaphore"));
      close (fd);
      return -1;
    }

  return fd;
}

/* Makes a new semaphore under the name: the descriptor, -1 with an error,
 * or -2 when the name was taken meanwhile. */
static int
sysem_posix_create_new (SysemPosix  *self,
                        int          initial_value,
                        GError     **error)
{
  g_autofree char *tmp = g_strdup (SYSEM_POSIX_DIR "/.sysem-XXXXXX");
  sem_t image;
  gssize written;
  int fd;

  memset (&image, 0, sizeof image);
  if (sem_init (&image, 1, (unsigned int) initial_value) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      return -1;
    }

  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errno);
      return -1;
    }

  do
    written = write (fd, &image, sizeof image);
  while (written == -1 && errno == EINTR);

  if (written != sizeof image)
    {
      int errsv = written == -1 ? errno : ENOSPC;

      unlink (tmp);
      close (fd);
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errsv);
      return -1;
    }

  if (link (tmp, self->path) == -1)
    {
      int errsv = errno;

      unlink (tmp);
      close (fd);
      if (errsv == EEXIST)
        return -2;
      sysem_set_error_errno (error, SYSEM_OP_OPEN, self->parent.display_key, errsv);
      return -1;
    }

  unlink (tmp);
  self->creator = getpid ();
  return fd;
}

static SysemHandle *
sysem_posix_open (const char       *display_key,
                  const char       *native,
                  int               initial_value,
                  SysemAccessMode   mode,
                  GError          **error)
{
  SysemPosix *self = g_new0 (SysemPosix, 1);

  sysem_handle_init (&self->parent, &sysem_posix_backend, display_key, native);
  self->fd = -1;
  self->path = sysem_key_posix_path (native);

  for (guint tries = 0; tries < 64 && self->fd < 0; tries++)
    {
      if (mode == SYSEM_ACCESS_MODE_CREATE)
        {
          /* Create replaces an existing semaphore with a new one, as Qt
           * does: processes that still have the old one keep it. */
          if (unlink (self->path) == -1 && errno != ENOENT)
            {
              sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
              break;
            }
          self->fd = sysem_posix_create_new (self, initial_value, error);
        }
      else
        {
          self->fd = sysem_posix_open_existing (self, error);
          if (self->fd == -2)
            self->fd = sysem_posix_create_new (self, initial_value, error);
        }

      if (self->fd == -1)
        break;
    }

  if (self->fd < 0)
    {
      if (self->fd == -2)
        sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_UNKNOWN, SYSEM_OP_OPEN, display_key,
                         _("other processes kept creating and removing it"));
      self->fd = -1;
      sysem_posix_close (&self->parent);
      sysem_posix_free (&self->parent);
      return NULL;
    }

  self->sem = mmap (NULL, sizeof (sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
  if (self->sem == MAP_FAILED)
    {
      self->sem = NULL;
      sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
      sysem_posix_close (&self->parent);
      sysem_posix_free (&self->parent);
      return NULL;
    }

#ifdef SYSEM_HAVE_FAST_WORD
  self->fast_word = (guint64 *) (gpointer) self->sem;
#endif

  return &self->parent;
}

/* Naming */

static gboolean
sysem_posix_derive_key (const char  *key,
                        char       **native_out,
                        GError     **error)
{
  g_autofree char *name = sysem_key_legacy_name (key, strlen (key));

  if (strlen (name) > SYSEM_POSIX_NAME_MAX)
    {
      sysem_key_set_too_long (error, key);
      return FALSE;
    }

  *native_out = g_strconcat ("/", name, NULL);
  return TRUE;
}

/* Qt 6.6's platformSafeKey() gives "/" + name; the name is accepted with
 * or without that slash. */
static gboolean
sysem_posix_check_native (const char  *native_key,
                          char       **native_out,
                          GError     **error)
{
  const char *name = native_key[0] == '/' ? native_key + 1 : native_key;

  if (*name == '\0' || strchr (name, '/') != NULL ||
      g_str_equal (name, ".") || g_str_equal (name, ".."))
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_KEY_ERROR, SYSEM_OP_OPEN,
                       native_key, _("a POSIX semaphore name must be one slash followed by a name without slashes"));
      return FALSE;
    }

  if (strlen (name) > SYSEM_POSIX_NAME_MAX)
    {
      sysem_key_set_too_long (error, native_key);
      return FALSE;
    }

  *native_out = g_strconcat ("/", name, NULL);
  return TRUE;
}

/* Inspection: reading a semaphore's file without joining it */

/* Reads the semaphore whose file is at @path; its users are counted by
 * sysem_posix_count_users(). */
static SysemInfo *
sysem_posix_inspect_path (const char  *name,
                          const char  *path,
                          GError     **error)
{
  g_autoptr(SysemInfo) info = NULL;
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

  info = sysem_info_new (SYSEM_KEY_TYPE_POSIX, name, path);
  info->exists = TRUE;
  info->stats.mode = st.st_mode & 0777;
  info->stats.uid = st.st_uid;
  info->stats.changed = st.st_mtime;
  info->dev = st.st_dev;
  info->ino = st.st_ino;

  if (!S_ISREG (st.st_mode) || st.st_size != sizeof (sem_t))
    {
      info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
      return g_steal_pointer (&info);
    }

  fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1)
    {
      if (errno == ENOENT)
        return NULL;
      if (errno == EACCES || errno == EPERM)
        {
          info->state = SYSEM_INSPECT_NO_ACCESS;
          return g_steal_pointer (&info);
        }
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }

  /* The file may have been replaced since lstat(): check what we opened. */
  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode) || st.st_size != sizeof (sem_t))
    {
      close (fd);
      info->state = SYSEM_INSPECT_NOT_A_SEMAPHORE;
      return g_steal_pointer (&info);
    }
  info->dev = st.st_dev;
  info->ino = st.st_ino;

  sem = mmap (NULL, sizeof (sem_t), PROT_READ, MAP_SHARED, fd, 0);
  close (fd);
  if (sem == MAP_FAILED)
    {
      sysem_set_error_errno (error, SYSEM_OP_GET_VALUE, name, errno);
      return NULL;
    }

  sem_getvalue (sem, &info->stats.value);
  info->stats.waiters = sysem_posix_waiters (sem);
  munmap (sem, sizeof (sem_t));

  return g_steal_pointer (&info);
}

/* A process whose memory map we cannot read: could it have the file of
 * @info mapped? An approximation from the mode bits. The superuser reads
 * the map of every process it can reach; the few it cannot (the init of
 * an enclosing container, say) are not counted. Another user's processes
 * count only for semaphores that the mode bits open to them, and the
 * superuser's processes only for the superuser's semaphores. */
static gboolean
sysem_posix_uid_could_open (const SysemInfo *info,
                            guint            uid)
{
  if (geteuid () == 0)
    return FALSE;
  if (uid == info->stats.uid)
    return TRUE;
  if (uid == 0)
    return FALSE;
  return (info->stats.mode & 0066) != 0;
}

static gboolean
sysem_posix_parse_maps_line (const char *line,
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

/* Counts, for each semaphore in @infos (from this backend), the processes
 * other than this one that have its file mapped: every process that opened
 * it with sem_open() or with sysem. */
static void
sysem_posix_count_users (GPtrArray *infos,
                         guint      first)
{
  g_autoptr(GPtrArray) posix = g_ptr_array_new ();
  g_autofree gboolean *seen = NULL;
  pid_t self = getpid ();
  DIR *proc;
  struct dirent *de;

  for (guint i = first; i < infos->len; i++)
    {
      SysemInfo *info = g_ptr_array_index (infos, i);

      if (info->state == SYSEM_INSPECT_IN_USE && info->exists)
        {
          info->stats.users = 0;
          g_ptr_array_add (posix, info);
        }
    }

  if (posix->len == 0)
    return;

  seen = g_new0 (gboolean, posix->len);

  proc = opendir ("/proc");
  if (proc == NULL)
    {
      for (guint i = 0; i < posix->len; i++)
        ((SysemInfo *) g_ptr_array_index (posix, i))->users_exact = FALSE;
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
              SysemInfo *info = g_ptr_array_index (posix, i);

              if (sysem_posix_uid_could_open (info, st.st_uid))
                info->users_exact = FALSE;
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
              sysem_posix_parse_maps_line (line, &dev_major, &dev_minor, &inode))
            {
              for (guint i = 0; i < posix->len; i++)
                {
                  SysemInfo *info = g_ptr_array_index (posix, i);

                  if (!seen[i] &&
                      major (info->dev) == dev_major && minor (info->dev) == dev_minor &&
                      info->ino == inode)
                    {
                      seen[i] = TRUE;
                      info->stats.users++;
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
      SysemInfo *info = g_ptr_array_index (posix, i);

      if (info->stats.users == 0 && info->users_exact)
        {
          info->state = SYSEM_INSPECT_UNUSED;
          info->stale = TRUE;
        }
    }
}

static SysemInfo *
sysem_posix_inspect (const char  *native,
                     GError     **error)
{
  g_autofree char *path = sysem_key_posix_path (native);
  g_autoptr(GPtrArray) one = NULL;
  SysemInfo *info;

  info = sysem_posix_inspect_path (native, path, error);
  if (info == NULL)
    return NULL;

  one = g_ptr_array_new ();
  g_ptr_array_add (one, info);
  sysem_posix_count_users (one, 0);

  return info;
}

static gboolean
sysem_posix_list (GPtrArray  *infos,
                  GError    **error)
{
  guint first = infos->len;
  struct dirent *de;
  DIR *dir;

  dir = opendir (SYSEM_POSIX_DIR);
  if (dir == NULL)
    return TRUE;

  while ((de = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *native = NULL;
      SysemInfo *info;

      if (!g_str_has_prefix (de->d_name, SYSEM_POSIX_FILE_PREFIX) ||
          de->d_name[strlen (SYSEM_POSIX_FILE_PREFIX)] == '\0')
        continue;
      if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
        continue;

      path = g_build_filename (SYSEM_POSIX_DIR, de->d_name, NULL);
      native = g_strconcat ("/", de->d_name + strlen (SYSEM_POSIX_FILE_PREFIX), NULL);

      /* A file that cannot be read or vanished meanwhile is left out. */
      info = sysem_posix_inspect_path (native, path, NULL);
      if (info != NULL)
        g_ptr_array_add (infos, info);
    }

  closedir (dir);
  sysem_posix_count_users (infos, first);
  return TRUE;
}

static gboolean
sysem_posix_remove_stale (SysemInfo  *info,
                          gboolean    only_if_stale,
                          gboolean   *removed_object,
                          GError    **error)
{
  struct stat st;

  if (only_if_stale)
    {
      g_autoptr(SysemInfo) now = sysem_posix_inspect (info->name, NULL);

      if (now == NULL || !now->stale || now->dev != info->dev || now->ino != info->ino)
        return FALSE;
    }
  else if (lstat (info->path, &st) == -1 || st.st_dev != info->dev || st.st_ino != info->ino)
    {
      sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, SYSEM_OP_REMOVE,
                       info->name, _("it was removed"));
      return FALSE;
    }

  if (unlink (info->path) == -1)
    {
      if (errno == ENOENT && only_if_stale)
        return FALSE;
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, info->name, errno);
      return FALSE;
    }

  *removed_object = TRUE;
  return TRUE;
}

const SysemBackend sysem_posix_backend = {
  .key_type = SYSEM_KEY_TYPE_POSIX,
  .name = "POSIX",
  .max_value = SEM_VALUE_MAX,
  .derive_key = sysem_posix_derive_key,
  .check_native = sysem_posix_check_native,
  .open = sysem_posix_open,
  .acquire = sysem_posix_acquire,
  .release = sysem_posix_release,
  .get_value = sysem_posix_get_value,
  .remove = sysem_posix_remove,
  .keep = sysem_posix_keep,
  .stats = sysem_posix_stats,
  .close = sysem_posix_close,
  .free = sysem_posix_free,
  .list = sysem_posix_list,
  .inspect = sysem_posix_inspect,
  .remove_stale = sysem_posix_remove_stale,
};
