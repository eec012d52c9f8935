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

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sysem-backend-private.h"
#include "sysem-error-private.h"
#include "sysem-i18n-private.h"
#include "sysem-key-private.h"

typedef struct {
  SysemHandle  parent;
  sem_t       *sem;
  int          fd;
  char        *path;
  pid_t        creator;   /* the process that made it unlinks it; 0 if not us */
} SysemPosix;

#ifdef SYSEM_HAVE_FAST_WORD
G_STATIC_ASSERT (sizeof (sem_t) >= sizeof (guint64));
#endif

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
  self->parent.removed = TRUE;
  self->parent.fast_word = NULL;
  sysem_set_error (error, SYSEM_SEMAPHORE_ERROR_NOT_FOUND, op,
                   self->parent.display_key, _("it was removed"));
}

/* The public calls have already tried the compare-and-swap of a free unit
 * inline (see SysemHandle.fast_word); this is everything else. */
static gboolean
sysem_posix_acquire (SysemHandle   *handle,
                     gint64         deadline,
                     GCancellable  *cancellable,
                     GError       **error)
{
  SysemPosix *self = (SysemPosix *) handle;

  /* Cancelled before the call: fail, as the System V wait does, rather
   * than take a free unit. */
  if (cancellable != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  if (handle->removed)
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

/* The public calls have already tried to post one unit inline when nobody
 * sleeps (see SysemHandle.fast_word); this is everything else. */
static gboolean
sysem_posix_release (SysemHandle  *handle,
                     int           n,
                     GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  int value;

  if (handle->removed)
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

static int
sysem_posix_get_value (SysemHandle  *handle,
                       GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;
  int value;

  if (handle->removed)
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
  stats->waiters = sysem_sem_t_waiters (self->sem);

  return TRUE;
}

static gboolean
sysem_posix_remove (SysemHandle  *handle,
                    GError      **error)
{
  SysemPosix *self = (SysemPosix *) handle;

  if (handle->removed || !sysem_posix_path_is_ours (self))
    {
      sysem_posix_set_removed (self, SYSEM_OP_REMOVE, error);
      return FALSE;
    }

  if (unlink (self->path) == -1)
    {
      sysem_set_error_errno (error, SYSEM_OP_REMOVE, handle->display_key, errno);
      return FALSE;
    }

  handle->removed = TRUE;
  handle->fast_word = NULL;
  return TRUE;
}

static void
sysem_posix_close (SysemHandle *handle)
{
  SysemPosix *self = (SysemPosix *) handle;

  /* Qt's rule: the instance that created the semaphore unlinks it. */
  if (self->fd != -1 && !handle->removed && self->creator == getpid () &&
      sysem_posix_path_is_ours (self))
    unlink (self->path);

  if (self->sem != NULL)
    munmap (self->sem, sizeof (sem_t));
  if (self->fd != -1)
    close (self->fd);
  g_free (self->path);
  sysem_handle_clear (handle);
  g_free (self);
}

static const SysemBackend sysem_posix_backend = {
  .name = "POSIX",
  .max_value = SEM_VALUE_MAX,
  .acquire = sysem_posix_acquire,
  .release = sysem_posix_release,
  .get_value = sysem_posix_get_value,
  .stats = sysem_posix_stats,
  .remove = sysem_posix_remove,
  .close = sysem_posix_close,
};

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

SysemHandle *
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
      return NULL;
    }

  self->sem = mmap (NULL, sizeof (sem_t), PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
  if (self->sem == MAP_FAILED)
    {
      self->sem = NULL;
      sysem_set_error_errno (error, SYSEM_OP_OPEN, display_key, errno);
      sysem_posix_close (&self->parent);
      return NULL;
    }

#ifdef SYSEM_HAVE_FAST_WORD
  self->parent.fast_word = (guint64 *) (gpointer) self->sem;
#endif

  return &self->parent;
}
