/* ring-buffer.c: a producer and a consumer process share a circular buffer
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The typical use of a system semaphore, from Qt's documentation: a
 * producer process and a consumer process share a ring of slots in a
 * memory-mapped file. Two semaphores guard it: "free" counts the slots the
 * producer may fill, "filled" counts the records the consumer may read.
 *
 *   ring-buffer [--posix] [--records N] [--slots N]
 *
 * sets up the ring and the semaphores, then starts this program twice more,
 * as "ring-buffer producer --name NAME" and "ring-buffer consumer --name
 * NAME": two independent processes that find the semaphores by their keys.
 *
 * The consumer checks that every record arrives once, in order, with its
 * checksum intact, and prints how many records per second went through.
 *
 * One rule of System V semaphores shapes the program: when a process ends,
 * the kernel gives back every unit it acquired and did not release itself.
 * The producer acquires free slots that the consumer releases, so when the
 * producer exits the kernel adds all those slots back to "free". The
 * producer therefore stays until the consumer is done (it waits for the end
 * of its standard input, which the demo closes then).
 */

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sysem/sysem.h>

#define PAYLOAD_SIZE 52

typedef struct {
  guint64 seq;
  guint32 checksum;
  guint8  payload[PAYLOAD_SIZE];
} Record;

typedef struct {
  guint32 n_slots;
  guint32 magic;
  Record  slots[];
} Ring;

#define RING_MAGIC 0x5359534du   /* "SYSM" */

static gboolean opt_posix;
static gint64 opt_records = 1000000;
static int opt_slots = 64;
static char *opt_name;

static const GOptionEntry entries[] = {
  { "posix", 'p', 0, G_OPTION_ARG_NONE, &opt_posix, "Use POSIX semaphores instead of System V", NULL },
  { "records", 'r', 0, G_OPTION_ARG_INT64, &opt_records, "How many records to move (default 1000000)", "N" },
  { "slots", 's', 0, G_OPTION_ARG_INT, &opt_slots, "How many slots the ring has (default 64)", "N" },
  { "name", 'n', 0, G_OPTION_ARG_STRING, &opt_name, "Name shared by the producer and the consumer", "NAME" },
  G_OPTION_ENTRY_NULL
};

/* FNV-1a over the sequence number and the payload. */
static guint32
record_checksum (const Record *record)
{
  const guint8 *bytes = (const guint8 *) &record->seq;
  guint32 hash = 2166136261u;

  for (gsize i = 0; i < sizeof record->seq; i++)
    hash = (hash ^ bytes[i]) * 16777619u;
  for (gsize i = 0; i < PAYLOAD_SIZE; i++)
    hash = (hash ^ record->payload[i]) * 16777619u;

  return hash;
}

static void
record_fill (Record  *record,
             guint64  seq)
{
  record->seq = seq;
  for (gsize i = 0; i < PAYLOAD_SIZE; i++)
    record->payload[i] = (guint8) ((seq * 31 + i * 7) & 0xff);
  record->checksum = record_checksum (record);
}

static char *
ring_path (void)
{
  return g_strdup_printf ("%s/sysem-ring-%s", g_get_tmp_dir (), opt_name);
}

static char *
semaphore_key (const char *which)
{
  return g_strdup_printf ("sysem-ring-buffer-%s-%s", opt_name, which);
}

static Ring *
ring_map (gboolean   create,
          gsize     *size_out,
          GError   **error)
{
  g_autofree char *path = ring_path ();
  gsize size = sizeof (Ring) + (gsize) opt_slots * sizeof (Record);
  Ring *ring;
  int fd;

  fd = open (path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT | O_EXCL : 0), 0600);
  if (fd == -1)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot open the ring file %s: %s", path, g_strerror (errsv));
      return NULL;
    }

  if (create && ftruncate (fd, size) == -1)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Cannot size the ring file %s: %s", path, g_strerror (errsv));
      close (fd);
      return NULL;
    }

  ring = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close (fd);
  if (ring == MAP_FAILED)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot map the ring file %s", path);
      return NULL;
    }

  if (create)
    {
      ring->n_slots = (guint32) opt_slots;
      ring->magic = RING_MAGIC;
    }
  else if (ring->magic != RING_MAGIC || ring->n_slots != (guint32) opt_slots)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s is not a ring of %d slots", path, opt_slots);
      munmap (ring, size);
      return NULL;
    }

  *size_out = size;
  return ring;
}

static SysemSemaphore *
open_semaphore (const char       *which,
                int               initial_value,
                SysemAccessMode   mode,
                GError          **error)
{
  g_autofree char *key = semaphore_key (which);

  return sysem_semaphore_new_full (key,
                                   opt_posix ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V,
                                   initial_value, mode, error);
}

static int
run_producer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) free_slots = NULL;
  g_autoptr(SysemSemaphore) filled = NULL;
  Ring *ring;
  gsize size;

  free_slots = open_semaphore ("free", opt_slots, SYSEM_ACCESS_MODE_OPEN, &error);
  if (free_slots != NULL)
    filled = open_semaphore ("filled", 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (filled == NULL || (ring = ring_map (FALSE, &size, &error)) == NULL)
    {
      g_printerr ("producer: %s\n", error->message);
      return 1;
    }

  for (gint64 seq = 0; seq < opt_records; seq++)
    {
      if (!sysem_semaphore_acquire (free_slots, NULL, &error))
        break;
      record_fill (&ring->slots[seq % opt_slots], (guint64) seq);
      if (!sysem_semaphore_release (filled, 1, &error))
        break;
    }

  munmap (ring, size);

  if (error != NULL)
    {
      g_printerr ("producer: %s\n", error->message);
      return 1;
    }

  /* Keep our undo record until the consumer is done: see the top. */
  {
    char buf[64];

    while (read (STDIN_FILENO, buf, sizeof buf) > 0 || errno == EINTR)
      ;
  }

  return 0;
}

static int
run_consumer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) free_slots = NULL;
  g_autoptr(SysemSemaphore) filled = NULL;
  gint64 start, elapsed, bad = 0;
  Ring *ring;
  gsize size;
  gint64 seq;

  free_slots = open_semaphore ("free", opt_slots, SYSEM_ACCESS_MODE_OPEN, &error);
  if (free_slots != NULL)
    filled = open_semaphore ("filled", 0, SYSEM_ACCESS_MODE_OPEN, &error);
  if (filled == NULL || (ring = ring_map (FALSE, &size, &error)) == NULL)
    {
      g_printerr ("consumer: %s\n", error->message);
      return 1;
    }

  start = g_get_monotonic_time ();

  for (seq = 0; seq < opt_records; seq++)
    {
      const Record *record;

      if (!sysem_semaphore_acquire (filled, NULL, &error))
        break;

      record = &ring->slots[seq % opt_slots];
      if (record->seq != (guint64) seq || record->checksum != record_checksum (record))
        {
          if (bad++ < 5)
            g_printerr ("consumer: record %" G_GINT64_FORMAT " is wrong "
                        "(sequence %" G_GUINT64_FORMAT ")\n", seq, record->seq);
        }

      if (!sysem_semaphore_release (free_slots, 1, &error))
        break;
    }

  elapsed = MAX (g_get_monotonic_time () - start, 1);
  munmap (ring, size);

  if (error != NULL)
    {
      g_printerr ("consumer: %s\n", error->message);
      return 1;
    }

  g_print ("%s: %" G_GINT64_FORMAT " records through %d slots in %.3f s: "
           "%.0f records/s, %" G_GINT64_FORMAT " bad\n",
           opt_posix ? "POSIX" : "System V", seq, opt_slots,
           elapsed / (double) G_USEC_PER_SEC,
           seq * (double) G_USEC_PER_SEC / elapsed, bad);

  return bad == 0 ? 0 : 1;
}

static pid_t
spawn_side (const char  *role,
            int         *stdin_fd,
            GError     **error)
{
  g_autofree char *records = g_strdup_printf ("--records=%" G_GINT64_FORMAT, opt_records);
  g_autofree char *slots = g_strdup_printf ("--slots=%d", opt_slots);
  g_autofree char *name = g_strdup_printf ("--name=%s", opt_name);
  const char *argv[] = {
    "/proc/self/exe", role, records, slots, name, opt_posix ? "--posix" : NULL, NULL
  };
  GPid pid;

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD |
                                 (stdin_fd == NULL ? G_SPAWN_CHILD_INHERITS_STDIN : 0),
                                 NULL, NULL, &pid, stdin_fd, NULL, NULL, error))
    return -1;

  return pid;
}

/* Waits for both sides; when one fails, the other is stopped, since it
 * would wait forever for records or slots that will not come. */
static gboolean
wait_sides (pid_t producer,
            pid_t consumer,
            int   producer_stdin)
{
  gboolean ok = TRUE;
  int left = 2;

  while (left > 0)
    {
      int status;
      pid_t pid = waitpid (-1, &status, 0);

      if (pid == -1)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (pid != producer && pid != consumer)
        continue;

      left--;
      if (pid == consumer)
        close (producer_stdin);   /* the producer may go now */
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        {
          g_printerr ("ring-buffer: the %s failed\n", pid == producer ? "producer" : "consumer");
          if (ok && left > 0)
            kill (pid == producer ? consumer : producer, SIGTERM);
          ok = FALSE;
        }
    }

  return ok;
}

/* Sets up the ring and both semaphores, runs a producer and a consumer as
 * separate processes, and removes everything afterwards. */
static int
run_demo (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) free_slots = NULL;
  g_autoptr(SysemSemaphore) filled = NULL;
  g_autofree char *path = NULL;
  pid_t producer, consumer;
  int producer_stdin = -1;
  gboolean ok;
  Ring *ring;
  gsize size;

  opt_name = g_strdup_printf ("%d", (int) getpid ());
  path = ring_path ();

  /* Create: whatever a crashed earlier run left is reset. */
  free_slots = open_semaphore ("free", opt_slots, SYSEM_ACCESS_MODE_CREATE, &error);
  if (free_slots != NULL)
    filled = open_semaphore ("filled", 0, SYSEM_ACCESS_MODE_CREATE, &error);
  if (filled == NULL || (ring = ring_map (TRUE, &size, &error)) == NULL)
    {
      g_printerr ("ring-buffer: %s\n", error->message);
      return 1;
    }

  g_print ("ring-buffer: %s semaphores “%s” and “%s”\n",
           opt_posix ? "POSIX" : "System V",
           sysem_semaphore_get_native_key (free_slots),
           sysem_semaphore_get_native_key (filled));

  consumer = spawn_side ("consumer", NULL, &error);
  producer = consumer > 0 ? spawn_side ("producer", &producer_stdin, &error) : -1;
  if (producer < 0)
    {
      g_printerr ("ring-buffer: %s\n", error->message);
      if (consumer > 0)
        {
          kill (consumer, SIGTERM);
          waitpid (consumer, NULL, 0);
        }
      ok = FALSE;
    }
  else
    ok = wait_sides (producer, consumer, producer_stdin);

  munmap (ring, size);
  unlink (path);

  return ok ? 0 : 1;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const char *role = NULL;

  setlocale (LC_ALL, "");

  context = g_option_context_new ("[producer|consumer]");
  g_option_context_set_summary (context,
                                "Moves numbered records from a producer process to a consumer\n"
                                "process through a ring buffer guarded by two sysem semaphores.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("ring-buffer: %s\n", error->message);
      return 2;
    }

  if (opt_records < 0 || opt_slots < 1 || opt_slots > 32767)
    {
      g_printerr ("ring-buffer: --records must be 0 or more and --slots from 1 to 32767\n");
      return 2;
    }

  if (argc > 1)
    role = argv[1];

  if (role == NULL)
    return run_demo ();

  if (opt_name == NULL)
    {
      g_printerr ("ring-buffer: %s needs --name\n", role);
      return 2;
    }

  if (g_str_equal (role, "producer"))
    return run_producer ();
  if (g_str_equal (role, "consumer"))
    return run_consumer ();

  g_printerr ("ring-buffer: unknown role “%s”\n", role);
  return 2;
}
