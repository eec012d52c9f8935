/* sysem-bench.c: how fast sysem is, next to what it replaces
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every scenario measures sysem and its alternatives in the same run:
 * the raw kernel primitive (semop() with SEM_UNDO, or sem_wait() and
 * sem_post() on a sem_open()ed semaphore), Qt 5's and Qt 6's
 * QSystemSemaphore (through the sysem-bench-qt5 and sysem-bench-qt6
 * helpers, when they were built), a g_idle_add() dispatch, an idle GLib
 * thread pool. Each repetition runs all variants of a scenario one after
 * the other, so that a busy moment of a shared machine hits them alike;
 * the table shows the median over the repetitions and the best one (noise
 * only ever adds time), and each ratio is the median of the ratios within
 * one repetition.
 *
 *   sysem-bench [--json] [--reps N] [--budget MS] [--only SCENARIO]…
 *
 * Every key it makes starts with "sysemtest-bench-", and it removes all
 * of them before it ends.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <malloc.h>
#include <math.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sysem/sysem.h>
#include "sysem/sysem-posix-ledger.h"

#define MAX_REPS 31

/* System V keeps at most 32767 units of undo per process and semaphore:
 * loops in which one process acquires what another releases stay below. */
#define MAX_ONE_WAY 30000

/* Options */

static int opt_reps = 15;
static double opt_budget_ms = 10.0;
static gboolean opt_json;
static gboolean opt_quick;
static char **opt_only;
static char *opt_qt5;
static char *opt_qt6;
static char *opt_ring_buffer;
static char *opt_count;
static gint64 opt_iters = 100000;

static const GOptionEntry entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print the results as JSON", NULL },
  { "reps", 'r', 0, G_OPTION_ARG_INT, &opt_reps, "Repetitions of each measurement (default 15)", "N" },
  { "budget", 'b', 0, G_OPTION_ARG_DOUBLE, &opt_budget_ms, "Milliseconds one variant runs in one repetition (default 10)", "MS" },
  { "only", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &opt_only, "Run only this scenario (repeatable)", "ID" },
  { "quick", 'q', 0, G_OPTION_ARG_NONE, &opt_quick, "Skip the demonstration of a stalled GLib thread pool", NULL },
  { "qt5", 0, 0, G_OPTION_ARG_FILENAME, &opt_qt5, "The Qt 5 helper (default: next to this program)", "PATH" },
  { "qt6", 0, 0, G_OPTION_ARG_FILENAME, &opt_qt6, "The Qt 6 helper (default: next to this program)", "PATH" },
  { "ring-buffer", 0, 0, G_OPTION_ARG_FILENAME, &opt_ring_buffer, "The ring-buffer example to time", "PATH" },
  { "count", 0, 0, G_OPTION_ARG_STRING, &opt_count, "Only run one loop, for valgrind --tool=callgrind (see --count=help)", "LOOP" },
  { "iters", 0, 0, G_OPTION_ARG_INT64, &opt_iters, "Iterations of the --count loop (default 100000)", "N" },
  G_OPTION_ENTRY_NULL
};

/* Results */

typedef struct {
  char    *id;
  char    *label;
  char    *note;          /* why it is missing, or a remark */
  double   samples[MAX_REPS];
  int      n;
} Row;

typedef struct {
  Row     *subject;
  Row     *reference;
  double   target;        /* 0: none */
  char    *target_text;
} Ratio;

typedef struct {
  char      *id;
  char      *title;
  char      *unit;
  GPtrArray *rows;        /* Row */
  GPtrArray *ratios;      /* Ratio */
  GPtrArray *facts;       /* char *, "name: text" */
} Scenario;

static GPtrArray *scenarios;
static char *exe_dir;
static guint key_counter;
static GPtrArray *made_keys;   /* every key made, to check at the end */

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (const double *values,
        int           n)
{
  g_autofree double *sorted = NULL;

  if (n <= 0)
    return NAN;

  sorted = g_memdup2 (values, n * sizeof (double));
  qsort (sorted, n, sizeof (double), compare_doubles);

  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static double
minimum (const double *values,
         int           n)
{
  double best = NAN;

  for (int i = 0; i < n; i++)
    if (isnan (best) || values[i] < best)
      best = values[i];

  return best;
}

static Scenario *
scenario_new (const char *id,
              const char *title,
              const char *unit)
{
  Scenario *s = g_new0 (Scenario, 1);

  s->id = g_strdup (id);
  s->title = g_strdup (title);
  s->unit = g_strdup (unit);
  s->rows = g_ptr_array_new ();
  s->ratios = g_ptr_array_new ();
  s->facts = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (scenarios, s);

  if (!opt_json)
    {
      g_printerr ("running %s…\n", id);
    }

  return s;
}

static Row *
scenario_row (Scenario   *s,
              const char *id,
              const char *label)
{
  Row *row = g_new0 (Row, 1);

  row->id = g_strdup (id);
  row->label = g_strdup (label);
  g_ptr_array_add (s->rows, row);

  return row;
}

static void
scenario_ratio (Scenario *s,
                Row      *subject,
                Row      *reference,
                double    target,
                const char *target_text)
{
  Ratio *ratio;

  if (subject == NULL || reference == NULL)
    return;

  ratio = g_new0 (Ratio, 1);
  ratio->subject = subject;
  ratio->reference = reference;
  ratio->target = target;
  ratio->target_text = g_strdup (target_text);
  g_ptr_array_add (s->ratios, ratio);
}

static void
scenario_fact (Scenario   *s,
               const char *format,
               ...) G_GNUC_PRINTF (2, 3);

static void
scenario_fact (Scenario   *s,
               const char *format,
               ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (s->facts, g_strdup_vprintf (format, args));
  va_end (args);
}

static void
row_add (Row    *row,
         double  value)
{
  if (row->n < MAX_REPS)
    row->samples[row->n++] = value;
}

static void
row_fail (Row        *row,
          const char *format,
          ...) G_GNUC_PRINTF (2, 3);

static void
row_fail (Row        *row,
          const char *format,
          ...)
{
  va_list args;

  if (row->note != NULL)
    return;

  va_start (args, format);
  row->note = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("sysem-bench: %s: %s\n", row->label, row->note);
}

/* The median over repetitions of subject / reference within one. */
static double
ratio_value (const Ratio *ratio)
{
  double values[MAX_REPS];
  int n = MIN (ratio->subject->n, ratio->reference->n);

  for (int i = 0; i < n; i++)
    values[i] = ratio->subject->samples[i] / ratio->reference->samples[i];

  return median (values, n);
}

static gboolean
wanted (const char *id)
{
  if (opt_only == NULL)
    return TRUE;

  for (char **p = opt_only; *p != NULL; p++)
    if (g_str_equal (*p, id))
      return TRUE;

  return FALSE;
}

/* Clocks and the process */

static inline guint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

static int
count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  int n = 0;

  if (dir == NULL)
    return -1;
  while (g_dir_read_name (dir) != NULL)
    n++;

  return n;
}

/* The names of the threads of this process, for the record. */
static char *
thread_names (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  GString *names = g_string_new (NULL);
  const char *tid;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL))
        g_string_append_printf (names, "%s%s", names->len ? ", " : "", g_strstrip (comm));
    }

  return g_string_free (names, FALSE);
}

static gint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, "\nVmRSS:");
  if (line == NULL)
    return -1;

  return g_ascii_strtoll (line + strlen ("\nVmRSS:"), NULL, 10);
}

static gboolean
wait_child (pid_t pid)
{
  int status;

  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR)
      return FALSE;

  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

static void
kill_child (pid_t pid)
{
  kill (pid, SIGKILL);
  wait_child (pid);
}

/* Keys */

static char *
make_key (const char *what)
{
  char *key = g_strdup_printf ("sysemtest-bench-%d-%u-%s", (int) getpid (), key_counter++, what);

  g_ptr_array_add (made_keys, g_strdup (key));
  return key;
}

static SysemSemaphore *
open_sysem (const char      *key,
            SysemKeyType     key_type,
            int              value,
            SysemAccessMode  mode)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;

  sem = sysem_semaphore_new_full (key, key_type, value, mode, &error);
  if (sem == NULL)
    g_error ("cannot open %s: %s", key, error->message);

  return sem;
}

static SysemSemaphore *
new_sysem (const char   *what,
           SysemKeyType  key_type,
           int           value)
{
  g_autofree char *key = make_key (what);

  return open_sysem (key, key_type, value, SYSEM_ACCESS_MODE_CREATE);
}

/* A raw System V set of @n_sems semaphores, the first at @value;
 * IPC_PRIVATE, so no name at all. */
static int
raw_sysv_new_set (int n_sems,
                  int value)
{
  int id = semget (IPC_PRIVATE, n_sems, IPC_CREAT | 0600);

  if (id == -1 || semctl (id, 0, SETVAL, value) == -1)
    g_error ("semget: %s", g_strerror (errno));

  return id;
}

/* One semaphore. */
static int
raw_sysv_new (int value)
{
  return raw_sysv_new_set (1, value);
}

/* A set laid out as sysem 1.1 makes them: the value, the users, and the
 * kick semaphore at 0, which a guarded wait requires to stay 0. */
static int
raw_sysv_new_kickable (int value)
{
  return raw_sysv_new_set (3, value);
}

static void
raw_sysv_free (int id)
{
  semctl (id, 0, IPC_RMID);
}

static inline int
raw_semop (int   id,
           short delta,
           short flags)
{
  struct sembuf op = { 0, delta, flags };
  int res;

  do
    res = semop (id, &op, 1);
  while (res == -1 && errno == EINTR);

  return res;
}

/* The wait of a cancellable acquire on a kickable set, alone: two
 * operations, a "complex" semop to the kernel. */
static inline int
raw_semop_guarded (int   id,
                   short delta,
                   short flags)
{
  struct sembuf ops[2] = { { 2, 0, IPC_NOWAIT }, { 0, delta, flags } };
  int res;

  do
    res = semop (id, ops, 2);
  while (res == -1 && errno == EINTR);

  return res;
}

typedef struct {
  sem_t *sem;
  char  *name;
} RawPosix;

static void
raw_posix_init (RawPosix   *raw,
                const char *what,
                int         value)
{
  g_autofree char *key = make_key (what);

  raw->name = g_strconcat ("/", key, NULL);
  raw->sem = sem_open (raw->name, O_CREAT | O_EXCL, 0600, value);
  if (raw->sem == SEM_FAILED)
    g_error ("sem_open %s: %s", raw->name, g_strerror (errno));
}

static void
raw_posix_clear (RawPosix *raw)
{
  if (raw->sem != NULL)
    {
      sem_close (raw->sem);
      sem_unlink (raw->name);
    }
  g_clear_pointer (&raw->name, g_free);
  raw->sem = NULL;
}

static inline void
raw_sem_wait (sem_t *sem)
{
  while (sem_wait (sem) == -1 && errno == EINTR)
    ;
}

/* The Qt helpers */

typedef struct {
  const char *id;
  const char *label;
  GPid        pid;
  FILE       *to;
  FILE       *from;
  gboolean    running;
  char       *why_not;
} QtHelper;

static QtHelper qt_helpers[] = {
  { "qt5", "Qt 5 QSystemSemaphore" },
  { "qt6", "Qt 6 QSystemSemaphore" },
};

static void
qt_helper_start (QtHelper   *qt,
                 const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *fallback = NULL;
  const char *argv[2] = { NULL, NULL };
  int in_fd, out_fd;

  if (path == NULL)
    {
      fallback = g_strdup_printf ("%s/sysem-bench-%s", exe_dir, qt->id);
      path = fallback;
    }

  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    {
      qt->why_not = g_strdup_printf ("%s was not built", path);
      return;
    }

  argv[0] = path;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                 NULL, NULL, &qt->pid, &in_fd, &out_fd, NULL, &error))
    {
      qt->why_not = g_strdup (error->message);
      return;
    }

  qt->to = fdopen (in_fd, "w");
  qt->from = fdopen (out_fd, "r");
  qt->running = TRUE;
}

static void
qt_helper_stop (QtHelper *qt)
{
  if (!qt->running)
    return;

  fputs ("quit\n", qt->to);
  fclose (qt->to);
  fclose (qt->from);
  wait_child (qt->pid);
  qt->running = FALSE;
}

/* Runs one command; returns the nanoseconds of its loop, or -1. */
static double
qt_helper_run (QtHelper   *qt,
               Row        *row,
               const char *format,
               ...) G_GNUC_PRINTF (3, 4);

static double
qt_helper_run (QtHelper   *qt,
               Row        *row,
               const char *format,
               ...)
{
  char line[1024];
  guint64 ns;
  va_list args;

  if (!qt->running)
    return -1;

  va_start (args, format);
  vfprintf (qt->to, format, args);
  va_end (args);
  fputc ('\n', qt->to);
  fflush (qt->to);

  if (fgets (line, sizeof line, qt->from) == NULL)
    {
      row_fail (row, "the helper stopped");
      qt->running = FALSE;
      return -1;
    }

  if (sscanf (line, "ok %" G_GUINT64_FORMAT, &ns) != 1)
    {
      g_strchomp (line);
      row_fail (row, "%s", line);
      return -1;
    }

  return (double) ns;
}

/* Runs the variants */

/* Runs ITERS operations and returns their nanoseconds, or -1. */
typedef double (* Measure) (gpointer data,
                            Row     *row,
                            guint64  iters);

typedef struct {
  Row      *row;
  Measure   measure;
  gpointer  data;
  guint64   iters;
  guint64   max_iters;
  guint64   min_iters;
} Variant;

static void
variant_calibrate (Variant *v)
{
  guint64 iters = MAX (v->min_iters, 4);
  double ns;

  for (;;)
    {
      ns = v->measure (v->data, v->row, iters);
      if (ns < 0)
        {
          v->iters = 0;
          return;
        }
      if (ns >= opt_budget_ms * 1e6 / 8 || iters >= v->max_iters)
        break;
      iters *= 4;
    }

  v->iters = (guint64) (iters * (opt_budget_ms * 1e6) / MAX (ns, 1.0));
  v->iters = CLAMP (v->iters, MAX (v->min_iters, 1), v->max_iters);
}

/* Each repetition runs every variant once; samples are ns per operation. */
static void
run_variants (Variant *variants,
              guint    n_variants)
{
  for (guint i = 0; i < n_variants; i++)
    {
      if (variants[i].max_iters == 0)
        variants[i].max_iters = G_GUINT64_CONSTANT (1) << 40;
      variant_calibrate (&variants[i]);
    }

  for (int rep = 0; rep < opt_reps; rep++)
    for (guint i = 0; i < n_variants; i++)
      {
        Variant *v = &variants[i];
        double ns;

        if (v->iters == 0)
          continue;
        ns = v->measure (v->data, v->row, v->iters);
        if (ns < 0)
          v->iters = 0;
        else
          row_add (v->row, ns / v->iters);
      }
}

/* Scenario: uncontended acquire + release */

static double
measure_sysem_pair (gpointer data,
                    Row     *row,
                    guint64  iters)
{
  SysemSemaphore *sem = data;
  g_autoptr(GError) error = NULL;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      if (G_UNLIKELY (!sysem_semaphore_acquire (sem, NULL, &error) ||
                      !sysem_semaphore_release (sem, 1, &error)))
        {
          row_fail (row, "%s", error->message);
          return -1;
        }
    }

  return now_ns () - start;
}

static double
measure_semop_pair (gpointer data,
                    Row     *row,
                    guint64  iters)
{
  int id = GPOINTER_TO_INT (data);
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      if (G_UNLIKELY (raw_semop (id, -1, SEM_UNDO) == -1 ||
                      raw_semop (id, 1, SEM_UNDO) == -1))
        {
          row_fail (row, "semop: %s", g_strerror (errno));
          return -1;
        }
    }

  return now_ns () - start;
}

static double
measure_sem_pair (gpointer data,
                  Row     *row,
                  guint64  iters)
{
  sem_t *sem = data;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      raw_sem_wait (sem);
      if (G_UNLIKELY (sem_post (sem) == -1))
        {
          row_fail (row, "sem_post: %s", g_strerror (errno));
          return -1;
        }
    }

  return now_ns () - start;
}

#ifdef SYSEM_HAVE_LEDGER
/* What the holder ledger's protocol costs at the least: each change of a
 * sysem-made POSIX count is one 16-byte compare-and-swap of the count word
 * and its tag (sysem-posix-ledger.h), where glibc uses an 8-byte one. This
 * loop does only those two swaps, on a word of its own. */
static double
measure_cas16_pair (gpointer data,
                    Row     *row,
                    guint64  iters)
{
  static SysemLedgerSem word __attribute__ ((aligned (16))) = { 1, };
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      for (int delta = -1; delta <= 1; delta += 2)
        {
          guint64 lo = word.data, hi = sysem_ledger_load_hi (&word);

          if (G_UNLIKELY (!sysem_ledger_cas16 (&word, &lo, &hi, lo + delta, hi)))
            {
              row_fail (row, "the word changed under the loop");
              return -1;
            }
        }
    }

  return now_ns () - start;
}

/* The whole protocol of the fast path, the backend's own inline take and
 * give (the swap with the tag, then the slot), in the loop with no call,
 * on a ledger of its own in shared memory: what an acquire and release
 * pair would cost with no layer around them at all. */
static double
measure_ledger_pair (gpointer data,
                     Row     *row,
                     guint64  iters)
{
  SysemLedgerFile *file = data;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      if (G_UNLIKELY (sysem_ledger_fast_take (file, 0) != 1 || !sysem_ledger_fast_give (file, 0)))
        {
          row_fail (row, "the ledger's fast path refused a change");
          return -1;
        }
    }

  return now_ns () - start;
}
#endif

typedef struct {
  QtHelper *qt;
  char     *command;   /* "pair KEY" and so on */
} QtCommand;

static double
measure_qt (gpointer data,
            Row     *row,
            guint64  iters)
{
  QtCommand *c = data;

  return qt_helper_run (c->qt, row, "%s %" G_GUINT64_FORMAT, c->command, iters);
}

static void
add_qt_variants (Scenario   *s,
                 Variant    *variants,
                 guint      *n,
                 QtCommand  *commands,
                 const char *suffix,
                 const char *verb,
                 gboolean    two_keys,
                 guint64     max_iters,
                 Row       **rows)
{
  for (guint q = 0; q < G_N_ELEMENTS (qt_helpers); q++)
    {
      QtHelper *qt = &qt_helpers[q];
      g_autofree char *id = g_strdup_printf ("%s-%s", qt->id, suffix);
      g_autofree char *key_a = make_key (id);
      g_autofree char *key_b = make_key (id);
      Row *row = scenario_row (s, id, qt->label);

      rows[q] = row;
      if (!qt->running)
        {
          row_fail (row, "%s", qt->why_not ? qt->why_not : "not available");
          rows[q] = NULL;
          continue;
        }

      commands[q].qt = qt;
      commands[q].command = g_strdup_printf ("%s %s%s%s", verb, key_a,
                                             two_keys ? " " : "", two_keys ? key_b : "");
      variants[*n] = (Variant) { row, measure_qt, &commands[q], 0, max_iters };
      (*n)++;
    }
}

static void
qt_commands_clear (QtCommand *commands,
                   guint      n)
{
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&commands[i].command, g_free);
}

static void
scenario_pair (void)
{
  Scenario *s;
  g_autoptr(SysemSemaphore) sysv = NULL;
  g_autoptr(SysemSemaphore) posix = NULL;
  RawPosix raw_posix = { NULL, };
  QtCommand qt_commands[G_N_ELEMENTS (qt_helpers)] = { { NULL, }, };
  Row *qt_rows[G_N_ELEMENTS (qt_helpers)] = { NULL, };
  Row *r_sysv, *r_semop, *r_posix, *r_sem, *r_cas16 = NULL, *r_ledger = NULL;
  gpointer ledger = NULL;
  Variant v[10];
  guint n = 0;
  int raw_id;

  if (!wanted ("pair"))
    return;

  s = scenario_new ("pair", "Uncontended acquire + release", "ns per pair");
  sysv = new_sysem ("pair-sysv", SYSEM_KEY_TYPE_SYSTEM_V, 1);
  posix = new_sysem ("pair-posix", SYSEM_KEY_TYPE_POSIX, 1);
  raw_id = raw_sysv_new (1);
  raw_posix_init (&raw_posix, "pair-raw", 1);

  r_sysv = scenario_row (s, "sysem-sysv", "sysem System V");
  r_semop = scenario_row (s, "semop-undo", "raw semop(SEM_UNDO) pair");
  v[n++] = (Variant) { r_sysv, measure_sysem_pair, sysv };
  v[n++] = (Variant) { r_semop, measure_semop_pair, GINT_TO_POINTER (raw_id) };
  add_qt_variants (s, v, &n, qt_commands, "pair", "pair", FALSE, 0, qt_rows);
  r_posix = scenario_row (s, "sysem-posix", "sysem POSIX");
  r_sem = scenario_row (s, "sem-wait-post", "raw sem_wait + sem_post");
  v[n++] = (Variant) { r_posix, measure_sysem_pair, posix };
  v[n++] = (Variant) { r_sem, measure_sem_pair, raw_posix.sem };
#ifdef SYSEM_HAVE_LEDGER
  r_cas16 = scenario_row (s, "cas16-pair", "two cmpxchg16b alone");
  v[n++] = (Variant) { r_cas16, measure_cas16_pair, NULL };
  ledger = mmap (NULL, SYSEM_LEDGER_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (ledger != MAP_FAILED)
    {
      ((SysemLedgerFile *) ledger)->sem.data = 1;
      r_ledger = scenario_row (s, "ledger-pair", "the ledger's take + give inlined, no call");
      v[n++] = (Variant) { r_ledger, measure_ledger_pair, ledger };
    }
#endif

  run_variants (v, n);

  scenario_ratio (s, r_sysv, r_semop, 1.03, "≤ 1.03");
  scenario_ratio (s, r_sysv, qt_rows[0], 0.98, "≤ 0.98");
  scenario_ratio (s, r_sysv, qt_rows[1], 0.98, "≤ 0.98");
  scenario_ratio (s, r_posix, r_sem, 1.1, "≤ 1.1");
  scenario_ratio (s, r_cas16, r_sem, 0, NULL);
  scenario_ratio (s, r_posix, r_cas16, 0, NULL);
  scenario_ratio (s, r_ledger, r_sem, 0, NULL);
  scenario_ratio (s, r_posix, r_ledger, 0, NULL);

  if (ledger != NULL && ledger != MAP_FAILED)
    munmap (ledger, SYSEM_LEDGER_FILE_SIZE);

  qt_commands_clear (qt_commands, G_N_ELEMENTS (qt_commands));
  raw_sysv_free (raw_id);
  raw_posix_clear (&raw_posix);
}

/* Scenario: try_acquire on an empty semaphore */

static double
measure_sysem_try_empty (gpointer data,
                         Row     *row,
                         guint64  iters)
{
  SysemSemaphore *sem = data;
  g_autoptr(GError) error = NULL;
  guint64 start;

  /* What a miss says, once: since 1.1 it is G_IO_ERROR_TIMED_OUT. */
  if (sysem_semaphore_try_acquire (sem, 0, NULL, &error) ||
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      row_fail (row, "%s", error ? error->message : "try_acquire took a unit of an empty semaphore");
      return -1;
    }

  /* The loop passes no error, as a caller that only wants the result
   * does: the miss then costs nothing. */
  start = now_ns ();
  for (guint64 i = 0; i < iters; i++)
    {
      if (G_UNLIKELY (sysem_semaphore_try_acquire (sem, 0, NULL, NULL)))
        {
          row_fail (row, "try_acquire took a unit of an empty semaphore");
          return -1;
        }
    }

  return now_ns () - start;
}

static double
measure_semop_nowait (gpointer data,
                      Row     *row,
                      guint64  iters)
{
  int id = GPOINTER_TO_INT (data);
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      if (G_UNLIKELY (raw_semop (id, -1, SEM_UNDO | IPC_NOWAIT) != -1 || errno != EAGAIN))
        {
          row_fail (row, "semop: %s", g_strerror (errno));
          return -1;
        }
    }

  return now_ns () - start;
}

static double
measure_sem_trywait (gpointer data,
                     Row     *row,
                     guint64  iters)
{
  sem_t *sem = data;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      if (G_UNLIKELY (sem_trywait (sem) != -1 || errno != EAGAIN))
        {
          row_fail (row, "sem_trywait: %s", g_strerror (errno));
          return -1;
        }
    }

  return now_ns () - start;
}

static void
scenario_try_empty (void)
{
  Scenario *s;
  g_autoptr(SysemSemaphore) sysv = NULL;
  g_autoptr(SysemSemaphore) posix = NULL;
  RawPosix raw_posix = { NULL, };
  Row *r_sysv, *r_semop, *r_posix, *r_sem;
  Variant v[4];
  int raw_id;

  if (!wanted ("try-empty"))
    return;

  s = scenario_new ("try-empty", "try_acquire (timeout 0) on an empty semaphore", "ns per call");
  sysv = new_sysem ("try-sysv", SYSEM_KEY_TYPE_SYSTEM_V, 0);
  posix = new_sysem ("try-posix", SYSEM_KEY_TYPE_POSIX, 0);
  raw_id = raw_sysv_new (0);
  raw_posix_init (&raw_posix, "try-raw", 0);

  r_sysv = scenario_row (s, "sysem-sysv", "sysem System V");
  r_semop = scenario_row (s, "semop-nowait", "raw semop(IPC_NOWAIT)");
  r_posix = scenario_row (s, "sysem-posix", "sysem POSIX");
  r_sem = scenario_row (s, "sem-trywait", "raw sem_trywait");
  v[0] = (Variant) { r_sysv, measure_sysem_try_empty, sysv };
  v[1] = (Variant) { r_semop, measure_semop_nowait, GINT_TO_POINTER (raw_id) };
  v[2] = (Variant) { r_posix, measure_sysem_try_empty, posix };
  v[3] = (Variant) { r_sem, measure_sem_trywait, raw_posix.sem };

  run_variants (v, G_N_ELEMENTS (v));

  scenario_ratio (s, r_sysv, r_semop, 0, NULL);
  scenario_ratio (s, r_posix, r_sem, 1.2, "≤ 1.2");

  raw_sysv_free (raw_id);
  raw_posix_clear (&raw_posix);
}

/* Scenario: cross-process ping-pong */

/* Round trips done before the clock starts: the child has to get going. */
#define WARM_UP 16

typedef struct {
  SysemKeyType key_type;
  gboolean     cancellable;   /* acquire with a GCancellable (never cancelled) */
} PingPongSysem;

static double
measure_sysem_pingpong (gpointer data,
                        Row     *row,
                        guint64  iters)
{
  PingPongSysem *p = data;
  g_autoptr(SysemSemaphore) a = NULL;
  g_autoptr(SysemSemaphore) b = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = p->cancellable ? g_cancellable_new () : NULL;
  guint64 start = 0;
  pid_t pid;

  /* New semaphores each time: the parent's undo of b grows by one per
   * round trip, and the kernel keeps at most 32767. */
  a = new_sysem ("pp-a", p->key_type, 0);
  b = new_sysem ("pp-b", p->key_type, 0);

  pid = fork ();
  if (pid == 0)
    {
      for (guint64 i = 0; i < WARM_UP + iters; i++)
        if (!sysem_semaphore_acquire (a, cancellable, NULL) ||
            !sysem_semaphore_release (b, 1, NULL))
          _exit (1);
      _exit (0);
    }

  for (guint64 i = 0; i < WARM_UP + iters; i++)
    {
      if (i == WARM_UP)
        start = now_ns ();
      if (!sysem_semaphore_release (a, 1, &error) ||
          !sysem_semaphore_acquire (b, cancellable, &error))
        {
          row_fail (row, "%s", error->message);
          kill_child (pid);
          return -1;
        }
    }
  start = now_ns () - start;

  if (!wait_child (pid))
    {
      row_fail (row, "the child failed");
      return -1;
    }

  return start;
}

/* As sysem does it: SEM_UNDO on the acquires, none on releases of units
 * this process did not take (with it, the kernel would take the child's
 * releases back when it exits). With @data, the acquires are guarded by
 * the kick semaphore, as a cancellable acquire's are. */
static double
measure_semop_pingpong (gpointer data,
                        Row     *row,
                        guint64  iters)
{
  gboolean guarded = data != NULL;
  int (*take) (int, short, short) = guarded ? raw_semop_guarded : raw_semop;
  int a = guarded ? raw_sysv_new_kickable (0) : raw_sysv_new (0);
  int b = guarded ? raw_sysv_new_kickable (0) : raw_sysv_new (0);
  guint64 start = 0;
  pid_t pid;

  pid = fork ();
  if (pid == 0)
    {
      for (guint64 i = 0; i < WARM_UP + iters; i++)
        if (take (a, -1, SEM_UNDO) == -1 || raw_semop (b, 1, 0) == -1)
          _exit (1);
      _exit (0);
    }

  for (guint64 i = 0; i < WARM_UP + iters; i++)
    {
      if (i == WARM_UP)
        start = now_ns ();
      if (raw_semop (a, 1, 0) == -1 || take (b, -1, SEM_UNDO) == -1)
        {
          row_fail (row, "semop: %s", g_strerror (errno));
          kill_child (pid);
          raw_sysv_free (a);
          raw_sysv_free (b);
          return -1;
        }
    }
  start = now_ns () - start;

  if (!wait_child (pid))
    {
      row_fail (row, "the child failed");
      start = 0;
    }
  raw_sysv_free (a);
  raw_sysv_free (b);

  return start == 0 ? -1 : (double) start;
}

static double
measure_sem_pingpong (gpointer data,
                      Row     *row,
                      guint64  iters)
{
  RawPosix a = { NULL, }, b = { NULL, };
  guint64 start = 0;
  pid_t pid;

  raw_posix_init (&a, "pp-raw-a", 0);
  raw_posix_init (&b, "pp-raw-b", 0);

  pid = fork ();
  if (pid == 0)
    {
      for (guint64 i = 0; i < WARM_UP + iters; i++)
        {
          raw_sem_wait (a.sem);
          sem_post (b.sem);
        }
      _exit (0);
    }

  for (guint64 i = 0; i < WARM_UP + iters; i++)
    {
      if (i == WARM_UP)
        start = now_ns ();
      sem_post (a.sem);
      raw_sem_wait (b.sem);
    }
  start = now_ns () - start;

  wait_child (pid);
  raw_posix_clear (&a);
  raw_posix_clear (&b);

  return start;
}

/* sysem's own way to wait on a POSIX semaphore: sem_trywait(), then
 * sem_clockwait() in slices of 20 ms (between them it looks at the
 * cancellable and at the file). Each timed wait arms a kernel timer. */
static void
raw_sem_wait_sliced (sem_t *sem)
{
  while (sem_trywait (sem) != 0)
    {
      struct timespec ts;

      clock_gettime (CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += 20 * 1000 * 1000;
      if (ts.tv_nsec >= 1000 * 1000 * 1000)
        {
          ts.tv_sec++;
          ts.tv_nsec -= 1000 * 1000 * 1000;
        }
      if (sem_clockwait (sem, CLOCK_MONOTONIC, &ts) == 0)
        return;
    }
}

static double
measure_sem_sliced_pingpong (gpointer data,
                             Row     *row,
                             guint64  iters)
{
  RawPosix a = { NULL, }, b = { NULL, };
  guint64 start = 0;
  pid_t pid;

  raw_posix_init (&a, "pp-sliced-a", 0);
  raw_posix_init (&b, "pp-sliced-b", 0);

  pid = fork ();
  if (pid == 0)
    {
      for (guint64 i = 0; i < WARM_UP + iters; i++)
        {
          raw_sem_wait_sliced (a.sem);
          sem_post (b.sem);
        }
      _exit (0);
    }

  for (guint64 i = 0; i < WARM_UP + iters; i++)
    {
      if (i == WARM_UP)
        start = now_ns ();
      sem_post (a.sem);
      raw_sem_wait_sliced (b.sem);
    }
  start = now_ns () - start;

  wait_child (pid);
  raw_posix_clear (&a);
  raw_posix_clear (&b);

  return start;
}

static void
scenario_pingpong (void)
{
  Scenario *s;
  PingPongSysem p_sysv = { SYSEM_KEY_TYPE_SYSTEM_V, FALSE };
  PingPongSysem p_posix = { SYSEM_KEY_TYPE_POSIX, FALSE };
  PingPongSysem pc_sysv = { SYSEM_KEY_TYPE_SYSTEM_V, TRUE };
  PingPongSysem pc_posix = { SYSEM_KEY_TYPE_POSIX, TRUE };
  QtCommand qt_commands[G_N_ELEMENTS (qt_helpers)] = { { NULL, }, };
  Row *qt_rows[G_N_ELEMENTS (qt_helpers)] = { NULL, };
  Row *r_sysv, *r_semop, *r_guarded, *r_posix, *r_sem, *r_sliced, *rc_sysv, *rc_posix;
  Variant v[11];
  guint n = 0;

  if (!wanted ("pingpong"))
    return;

  s = scenario_new ("pingpong", "Cross-process ping-pong with two semaphores (fork)",
                    "ns per round trip");
  r_sysv = scenario_row (s, "sysem-sysv", "sysem System V");
  r_semop = scenario_row (s, "semop-undo", "raw semop (SEM_UNDO on acquire)");
  v[n++] = (Variant) { r_sysv, measure_sysem_pingpong, &p_sysv, 0, MAX_ONE_WAY };
  v[n++] = (Variant) { r_semop, measure_semop_pingpong, NULL, 0, MAX_ONE_WAY };
  add_qt_variants (s, v, &n, qt_commands, "pingpong", "pingpong", TRUE, MAX_ONE_WAY, qt_rows);
  r_posix = scenario_row (s, "sysem-posix", "sysem POSIX");
  r_sem = scenario_row (s, "sem-wait-post", "raw sem_wait + sem_post");
  v[n++] = (Variant) { r_posix, measure_sysem_pingpong, &p_posix, 0, MAX_ONE_WAY };
  v[n++] = (Variant) { r_sem, measure_sem_pingpong, NULL, 0, MAX_ONE_WAY };
  r_sliced = scenario_row (s, "sem-clockwait-sliced",
                           "raw sem_trywait + sem_clockwait in 20 ms slices (sysem's wait)");
  v[n++] = (Variant) { r_sliced, measure_sem_sliced_pingpong, NULL, 0, MAX_ONE_WAY };
  rc_sysv = scenario_row (s, "sysem-sysv-cancellable", "sysem System V, acquire with a cancellable");
  v[n++] = (Variant) { rc_sysv, measure_sysem_pingpong, &pc_sysv, 0, MAX_ONE_WAY };
  r_guarded = scenario_row (s, "semop-guarded",
                            "raw semop guarded by a kick semaphore (the cancellable wait)");
  v[n++] = (Variant) { r_guarded, measure_semop_pingpong, &pc_sysv, 0, MAX_ONE_WAY };
  rc_posix = scenario_row (s, "sysem-posix-cancellable", "sysem POSIX, acquire with a cancellable");
  v[n++] = (Variant) { rc_posix, measure_sysem_pingpong, &pc_posix, 0, MAX_ONE_WAY };

  run_variants (v, n);

  scenario_ratio (s, r_sysv, r_semop, 1.05, "≤ 1.05");
  scenario_ratio (s, rc_sysv, r_semop, 1.05, "≤ 1.05");
  scenario_ratio (s, r_guarded, r_semop, 0, NULL);
  scenario_ratio (s, rc_sysv, r_guarded, 0, NULL);
  scenario_ratio (s, rc_posix, r_sem, 1.05, "≤ 1.05");
  scenario_ratio (s, r_sliced, r_sem, 0, NULL);
  scenario_ratio (s, r_posix, r_sliced, 0, NULL);
  scenario_ratio (s, r_sysv, qt_rows[0], 0, NULL);
  scenario_ratio (s, r_sysv, qt_rows[1], 0, NULL);
  scenario_ratio (s, r_posix, r_sem, 1.05, "≤ 1.05");

  qt_commands_clear (qt_commands, G_N_ELEMENTS (qt_commands));
}

/* Scenario: open + close, create + remove */

typedef struct {
  char         *key;
  SysemKeyType  key_type;
} OpenClose;

static double
measure_sysem_openclose (gpointer data,
                         Row     *row,
                         guint64  iters)
{
  OpenClose *o = data;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      g_autoptr(GError) error = NULL;
      SysemSemaphore *sem;

      sem = sysem_semaphore_new_full (o->key, o->key_type, 0, SYSEM_ACCESS_MODE_OPEN, &error);
      if (sem == NULL)
        {
          row_fail (row, "%s", error->message);
          return -1;
        }
      g_object_unref (sem);
    }

  return now_ns () - start;
}

static double
measure_sysem_createremove (gpointer data,
                            Row     *row,
                            guint64  iters)
{
  OpenClose *o = data;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      g_autoptr(GError) error = NULL;
      SysemSemaphore *sem;

      sem = sysem_semaphore_new_full (o->key, o->key_type, 1, SYSEM_ACCESS_MODE_CREATE, &error);
      if (sem == NULL)
        {
          row_fail (row, "%s", error->message);
          return -1;
        }
      /* The last user: this removes it. */
      g_object_unref (sem);
    }

  return now_ns () - start;
}

static double
measure_sem_openclose (gpointer data,
                       Row     *row,
                       guint64  iters)
{
  const char *name = data;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      sem_t *sem = sem_open (name, 0);

      if (sem == SEM_FAILED)
        {
          row_fail (row, "sem_open: %s", g_strerror (errno));
          return -1;
        }
      sem_close (sem);
    }

  return now_ns () - start;
}

static double
measure_sem_createremove (gpointer data,
                          Row     *row,
                          guint64  iters)
{
  const char *name = data;
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    {
      sem_t *sem = sem_open (name, O_CREAT | O_EXCL, 0600, 1);

      if (sem == SEM_FAILED)
        {
          row_fail (row, "sem_open: %s", g_strerror (errno));
          return -1;
        }
      sem_close (sem);
      sem_unlink (name);
    }

  return now_ns () - start;
}

static void
scenario_lifetime (void)
{
  Scenario *open_s, *create_s;
  g_autoptr(SysemSemaphore) holder_sysv = NULL;
  g_autoptr(SysemSemaphore) holder_posix = NULL;
  RawPosix holder_raw = { NULL, };
  OpenClose o_sysv = { NULL, SYSEM_KEY_TYPE_SYSTEM_V };
  OpenClose o_posix = { NULL, SYSEM_KEY_TYPE_POSIX };
  OpenClose c_sysv = { NULL, SYSEM_KEY_TYPE_SYSTEM_V };
  OpenClose c_posix = { NULL, SYSEM_KEY_TYPE_POSIX };
  g_autofree char *raw_create = NULL;
  QtCommand qt_open[G_N_ELEMENTS (qt_helpers)] = { { NULL, }, };
  QtCommand qt_create[G_N_ELEMENTS (qt_helpers)] = { { NULL, }, };
  Row *qt_open_rows[G_N_ELEMENTS (qt_helpers)] = { NULL, };
  Row *qt_create_rows[G_N_ELEMENTS (qt_helpers)] = { NULL, };
  Row *ro_sysv, *ro_posix, *ro_sem, *rc_sysv, *rc_posix, *rc_sem;
  Variant v[8];
  guint n = 0;

  if (wanted ("open-close"))
    {
      open_s = scenario_new ("open-close", "Open + close of an existing semaphore",
                             "ns per open + close");
      o_sysv.key = make_key ("open-sysv");
      o_posix.key = make_key ("open-posix");
      holder_sysv = open_sysem (o_sysv.key, SYSEM_KEY_TYPE_SYSTEM_V, 1, SYSEM_ACCESS_MODE_CREATE);
      holder_posix = open_sysem (o_posix.key, SYSEM_KEY_TYPE_POSIX, 1, SYSEM_ACCESS_MODE_CREATE);
      raw_posix_init (&holder_raw, "open-raw", 1);

      ro_sysv = scenario_row (open_s, "sysem-sysv", "sysem System V");
      v[n++] = (Variant) { ro_sysv, measure_sysem_openclose, &o_sysv };
      add_qt_variants (open_s, v, &n, qt_open, "open", "openclose", FALSE, 0, qt_open_rows);
      ro_posix = scenario_row (open_s, "sysem-posix", "sysem POSIX");
      ro_sem = scenario_row (open_s, "sem-open-close", "raw sem_open + sem_close");
      v[n++] = (Variant) { ro_posix, measure_sysem_openclose, &o_posix };
      v[n++] = (Variant) { ro_sem, measure_sem_openclose, holder_raw.name };

      run_variants (v, n);

      scenario_ratio (open_s, ro_sysv, qt_open_rows[0], 0, NULL);
      scenario_ratio (open_s, ro_sysv, qt_open_rows[1], 0, NULL);
      scenario_ratio (open_s, ro_posix, ro_sem, 0, NULL);
      scenario_fact (open_s, "sysem System V: opening joins the set's user count and "
                     "takes an flock() on the key file; closing leaves the count");

      raw_posix_clear (&holder_raw);
      qt_commands_clear (qt_open, G_N_ELEMENTS (qt_open));
      n = 0;
    }

  if (wanted ("create-remove"))
    {
      g_autofree char *key = make_key ("create-raw");

      create_s = scenario_new ("create-remove", "Create + remove of a new semaphore",
                               "ns per create + remove");
      c_sysv.key = make_key ("create-sysv");
      c_posix.key = make_key ("create-posix");
      raw_create = g_strconcat ("/", key, NULL);

      rc_sysv = scenario_row (create_s, "sysem-sysv", "sysem System V");
      v[n++] = (Variant) { rc_sysv, measure_sysem_createremove, &c_sysv };
      add_qt_variants (create_s, v, &n, qt_create, "create", "createremove", FALSE, 0, qt_create_rows);
      rc_posix = scenario_row (create_s, "sysem-posix", "sysem POSIX");
      rc_sem = scenario_row (create_s, "sem-create-unlink", "raw sem_open(O_CREAT) + sem_close + sem_unlink");
      v[n++] = (Variant) { rc_posix, measure_sysem_createremove, &c_posix };
      v[n++] = (Variant) { rc_sem, measure_sem_createremove, raw_create };

      run_variants (v, n);

      scenario_ratio (create_s, rc_sysv, qt_create_rows[0], 0, NULL);
      scenario_ratio (create_s, rc_sysv, qt_create_rows[1], 0, NULL);
      scenario_ratio (create_s, rc_posix, rc_sem, 0, NULL);

      qt_commands_clear (qt_create, G_N_ELEMENTS (qt_create));
    }

  g_free (o_sysv.key);
  g_free (o_posix.key);
  g_free (c_sysv.key);
  g_free (c_posix.key);
}

/* Scenario: acquire_async when a unit is free */

typedef struct {
  SysemSemaphore *sem;
  GMainLoop      *loop;
  guint64         left;
  gboolean        synchronous;  /* every unit was taken before acquire_async returned */
  gboolean        same_thread;  /* every callback ran in this thread */
  GThread        *thread;
  GError         *error;
} AsyncFree;

static void async_free_next (AsyncFree *a);

static void
async_free_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncFree *a = user_data;

  if (g_thread_self () != a->thread)
    a->same_thread = FALSE;

  if (!sysem_semaphore_acquire_finish (a->sem, result, &a->error) ||
      !sysem_semaphore_release (a->sem, 1, &a->error))
    {
      g_main_loop_quit (a->loop);
      return;
    }

  async_free_next (a);
}

static void
async_free_next (AsyncFree *a)
{
  if (a->left-- == 0)
    {
      g_main_loop_quit (a->loop);
      return;
    }

  sysem_semaphore_acquire_async (a->sem, NULL, async_free_cb, a);
  /* The semaphore has one unit: it is gone now if the request took it in
   * this thread, before returning. Looked at in the last 64 requests only:
   * reading the count costs a system call (System V) or a scan (POSIX). */
  if (a->left < 64 && sysem_semaphore_get_value (a->sem, NULL) != 0)
    a->synchronous = FALSE;
}

static double
measure_async_free (gpointer data,
                    Row     *row,
                    guint64  iters)
{
  AsyncFree *a = data;
  guint64 start;

  a->left = iters;
  a->loop = g_main_loop_new (NULL, FALSE);
  a->thread = g_thread_self ();

  start = now_ns ();
  async_free_next (a);
  g_main_loop_run (a->loop);
  start = now_ns () - start;

  g_clear_pointer (&a->loop, g_main_loop_unref);
  if (a->error != NULL)
    {
      row_fail (row, "%s", a->error->message);
      g_clear_error (&a->error);
      return -1;
    }

  return start;
}

typedef struct {
  GMainLoop *loop;
  guint64    left;
} IdleChain;

static gboolean
idle_chain_cb (gpointer user_data)
{
  IdleChain *c = user_data;

  if (--c->left == 0)
    g_main_loop_quit (c->loop);
  else
    g_idle_add (idle_chain_cb, c);

  return G_SOURCE_REMOVE;
}

static double
measure_idle_chain (gpointer data,
                    Row     *row,
                    guint64  iters)
{
  IdleChain c = { g_main_loop_new (NULL, FALSE), iters };
  guint64 start = now_ns ();

  g_idle_add (idle_chain_cb, &c);
  g_main_loop_run (c.loop);
  start = now_ns () - start;
  g_main_loop_unref (c.loop);

  return start;
}

/* The least a GTask costs: made, returned at once, finished in the
 * callback; what acquire_async() does around the semaphore. */
typedef struct {
  GMainLoop *loop;
  guint64    left;
  int        raw_id;    /* if not -1: a raw semop(SEM_UNDO) pair each time */
  sem_t     *raw_sem;   /* if set: a raw sem_wait + sem_post each time */
} BareTask;

static void bare_task_next (BareTask *b);

static void
bare_task_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  BareTask *b = user_data;

  g_task_propagate_boolean (G_TASK (result), NULL);
  if (b->raw_id != -1)
    raw_semop (b->raw_id, 1, SEM_UNDO);
  else if (b->raw_sem != NULL)
    sem_post (b->raw_sem);
  bare_task_next (b);
}

static void
bare_task_next (BareTask *b)
{
  GTask *task;

  if (b->left-- == 0)
    {
      g_main_loop_quit (b->loop);
      return;
    }

  /* The pair where acquire_async takes and its callback gives back. */
  if (b->raw_id != -1)
    raw_semop (b->raw_id, -1, SEM_UNDO);
  else if (b->raw_sem != NULL)
    raw_sem_wait (b->raw_sem);
  task = g_task_new (NULL, NULL, bare_task_cb, b);
  g_task_set_source_tag (task, bare_task_next);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static double
measure_bare_task (gpointer data,
                   Row     *row,
                   guint64  iters)
{
  BareTask *config = data;
  BareTask b = { g_main_loop_new (NULL, FALSE), iters, -1, NULL };
  guint64 start;

  if (config != NULL)
    {
      b.raw_id = config->raw_id;
      b.raw_sem = config->raw_sem;
    }
  start = now_ns ();

  bare_task_next (&b);
  g_main_loop_run (b.loop);
  start = now_ns () - start;
  g_main_loop_unref (b.loop);

  return start;
}

static void
scenario_async_free (void)
{
  Scenario *s;
  g_autoptr(SysemSemaphore) sysv = NULL;
  g_autoptr(SysemSemaphore) posix = NULL;
  AsyncFree a_sysv = { NULL, }, a_posix = { NULL, };
  RawPosix raw_posix = { NULL, };
  BareTask t_sysv = { NULL, 0, -1, NULL }, t_posix = { NULL, 0, -1, NULL };
  Row *r_sysv, *r_posix, *r_idle, *r_sync, *r_task, *r_task_semop, *r_task_sem;
  Variant v[7];
  int threads_before, threads_after;

  if (!wanted ("async-free"))
    return;

  s = scenario_new ("async-free", "acquire_async when a unit is free, then release",
                    "ns per request");
  sysv = new_sysem ("async-free-sysv", SYSEM_KEY_TYPE_SYSTEM_V, 1);
  posix = new_sysem ("async-free-posix", SYSEM_KEY_TYPE_POSIX, 1);
  a_sysv = (AsyncFree) { sysv, NULL, 0, TRUE, TRUE, NULL, NULL };
  a_posix = (AsyncFree) { posix, NULL, 0, TRUE, TRUE, NULL, NULL };

  r_sysv = scenario_row (s, "sysem-sysv", "sysem System V acquire_async");
  r_posix = scenario_row (s, "sysem-posix", "sysem POSIX acquire_async");
  r_idle = scenario_row (s, "idle", "g_idle_add dispatch");
  r_sync = scenario_row (s, "sysem-sysv-sync", "sysem System V acquire (blocking call)");
  v[0] = (Variant) { r_sysv, measure_async_free, &a_sysv };
  v[1] = (Variant) { r_posix, measure_async_free, &a_posix };
  v[2] = (Variant) { r_idle, measure_idle_chain, NULL };
  v[3] = (Variant) { r_sync, measure_sysem_pair, sysv };
  r_task = scenario_row (s, "bare-gtask", "GTask made and returned at once, no semaphore");
  v[4] = (Variant) { r_task, measure_bare_task, NULL };
  t_sysv.raw_id = raw_sysv_new (1);
  raw_posix_init (&raw_posix, "async-free-raw", 1);
  t_posix.raw_sem = raw_posix.sem;
  r_task_semop = scenario_row (s, "bare-gtask-semop", "bare GTask + raw semop(SEM_UNDO) pair");
  v[5] = (Variant) { r_task_semop, measure_bare_task, &t_sysv };
  r_task_sem = scenario_row (s, "bare-gtask-sem", "bare GTask + raw sem_wait + sem_post");
  v[6] = (Variant) { r_task_sem, measure_bare_task, &t_posix };

  threads_before = count_threads ();
  run_variants (v, G_N_ELEMENTS (v));
  threads_after = count_threads ();
  raw_sysv_free (t_sysv.raw_id);
  raw_posix_clear (&raw_posix);

  scenario_ratio (s, r_sysv, r_task_semop, 1.05, "≤ 1.05");
  scenario_ratio (s, r_posix, r_task_sem, 1.05, "≤ 1.05");

  scenario_ratio (s, r_sysv, r_idle, 0, NULL);
  scenario_ratio (s, r_posix, r_idle, 0, NULL);
  scenario_ratio (s, r_task, r_idle, 0, NULL);
  scenario_ratio (s, r_posix, r_task, 0, NULL);
  scenario_fact (s, "System V, acquire_async + release minus acquire + release: %.0f ns, "
                 "%.2f × the g_idle_add dispatch",
                 median (r_sysv->samples, r_sysv->n) - median (r_sync->samples, r_sync->n),
                 (median (r_sysv->samples, r_sysv->n) - median (r_sync->samples, r_sync->n)) /
                 median (r_idle->samples, r_idle->n));
  scenario_fact (s, "unit taken before acquire_async returned, every time: System V %s, POSIX %s",
                 a_sysv.synchronous ? "yes" : "NO", a_posix.synchronous ? "yes" : "NO");
  scenario_fact (s, "callback in the calling thread, every time: System V %s, POSIX %s",
                 a_sysv.same_thread ? "yes" : "NO", a_posix.same_thread ? "yes" : "NO");
  {
    g_autofree char *names = thread_names ();

    scenario_fact (s, "threads of the process before and after: %d, %d (%s)",
                   threads_before, threads_after, names);
  }
}

/* Scenario: acquire_async woken by a release in another process */

typedef struct {
  SysemSemaphore *a;
  SysemSemaphore *b;
  GMainLoop      *loop;
  guint64         done;
  guint64         total;
  guint64         start;
  guint           queued;     /* requests that had to wait */
  GError         *error;
} AsyncPong;

static void async_pong_next (AsyncPong *p);

static void
async_pong_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncPong *p = user_data;

  if (!sysem_semaphore_acquire_finish (p->b, result, &p->error))
    {
      g_main_loop_quit (p->loop);
      return;
    }

  p->done++;
  async_pong_next (p);
}

static void
async_pong_next (AsyncPong *p)
{
  if (p->done == WARM_UP)
    p->start = now_ns ();

  if (p->done == p->total)
    {
      g_main_loop_quit (p->loop);
      return;
    }

  if (!sysem_semaphore_release (p->a, 1, &p->error))
    {
      g_main_loop_quit (p->loop);
      return;
    }
  sysem_semaphore_acquire_async (p->b, NULL, async_pong_cb, p);
}

typedef struct {
  SysemKeyType key_type;
  guint64      requests;
  guint64      threads_seen;   /* most threads of the process seen */
} AsyncPongConfig;

static double
measure_async_pingpong (gpointer data,
                        Row     *row,
                        guint64  iters)
{
  AsyncPongConfig *config = data;
  AsyncPong p = { NULL, };
  guint64 elapsed;
  pid_t pid;

  p.a = new_sysem ("apong-a", config->key_type, 0);
  p.b = new_sysem ("apong-b", config->key_type, 0);
  p.total = WARM_UP + iters;

  pid = fork ();
  if (pid == 0)
    {
      for (guint64 i = 0; i < p.total; i++)
        if (!sysem_semaphore_acquire (p.a, NULL, NULL) ||
            !sysem_semaphore_release (p.b, 1, NULL))
          _exit (1);
      _exit (0);
    }

  p.loop = g_main_loop_new (NULL, FALSE);
  async_pong_next (&p);
  g_main_loop_run (p.loop);
  elapsed = now_ns () - p.start;
  g_main_loop_unref (p.loop);

  /* The child first: it leaves the semaphores by exiting, which the
   * kernel undoes without removing anything, so the parent must be the
   * last user to close them. */
  if (p.error != NULL)
    {
      row_fail (row, "%s", p.error->message);
      g_clear_error (&p.error);
      kill_child (pid);
      elapsed = 0;
    }
  else if (!wait_child (pid))
    {
      row_fail (row, "the child failed");
      elapsed = 0;
    }

  g_object_unref (p.a);
  g_object_unref (p.b);

  return elapsed == 0 ? -1 : (double) elapsed;
}

static void
scenario_async_wake (void)
{
  Scenario *s;
  AsyncPongConfig c_sysv = { SYSEM_KEY_TYPE_SYSTEM_V };
  AsyncPongConfig c_posix = { SYSEM_KEY_TYPE_POSIX };
  PingPongSysem p_sysv = { SYSEM_KEY_TYPE_SYSTEM_V, FALSE };
  PingPongSysem p_posix = { SYSEM_KEY_TYPE_POSIX, FALSE };
  Row *ra_sysv, *rb_sysv, *ra_posix, *rb_posix;
  Variant v[4];

  if (!wanted ("async-wake"))
    return;

  s = scenario_new ("async-wake",
                    "Ping-pong with another process: acquire_async in a main loop "
                    "vs the blocking acquire", "ns per round trip");
  ra_sysv = scenario_row (s, "sysem-sysv-async", "sysem System V acquire_async");
  rb_sysv = scenario_row (s, "sysem-sysv-blocking", "sysem System V acquire");
  ra_posix = scenario_row (s, "sysem-posix-async", "sysem POSIX acquire_async");
  rb_posix = scenario_row (s, "sysem-posix-blocking", "sysem POSIX acquire");
  v[0] = (Variant) { ra_sysv, measure_async_pingpong, &c_sysv, 0, MAX_ONE_WAY };
  v[1] = (Variant) { rb_sysv, measure_sysem_pingpong, &p_sysv, 0, MAX_ONE_WAY };
  v[2] = (Variant) { ra_posix, measure_async_pingpong, &c_posix, 0, MAX_ONE_WAY };
  v[3] = (Variant) { rb_posix, measure_sysem_pingpong, &p_posix, 0, MAX_ONE_WAY };

  run_variants (v, G_N_ELEMENTS (v));

  scenario_ratio (s, ra_sysv, rb_sysv, 0, NULL);
  scenario_ratio (s, ra_posix, rb_posix, 0, NULL);
}

/* Scenario: a GLib thread-pool job while acquires wait */

#define N_WAITING 50

typedef struct {
  GMainLoop *loop;
  gboolean   done;
} PoolJob;

static void
pool_job_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  g_task_return_boolean (task, TRUE);
}

static void
pool_job_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  PoolJob *job = user_data;

  job->done = TRUE;
  g_main_loop_quit (job->loop);
}

static gboolean
pool_job_timeout_cb (gpointer user_data)
{
  PoolJob *job = user_data;

  g_main_loop_quit (job->loop);
  return G_SOURCE_REMOVE;
}

/* The latency of one trivial g_task_run_in_thread() job, in ns; -1 if
 * it did not finish within timeout_ms (it still runs later). */
static double
pool_job_latency (PoolJob *job,
                  guint    timeout_ms)
{
  g_autoptr(GTask) task = NULL;
  guint64 start = now_ns ();
  guint timeout_id;

  job->done = FALSE;
  task = g_task_new (NULL, NULL, pool_job_done_cb, job);
  g_task_run_in_thread (task, pool_job_thread);
  timeout_id = g_timeout_add (timeout_ms, pool_job_timeout_cb, job);
  g_main_loop_run (job->loop);
  if (!job->done)
    return -1;

  g_source_remove (timeout_id);
  return now_ns () - start;
}

typedef struct {
  guint n;
  guint failed;
} Waiters;

static void
waiter_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Waiters *w = user_data;

  if (!sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result, NULL))
    w->failed++;
  w->n++;
}

static void
blocking_acquire_thread (GTask        *task,
                         gpointer      source_object,
                         gpointer      task_data,
                         GCancellable *cancellable)
{
  GError *error = NULL;

  if (sysem_semaphore_acquire (source_object, NULL, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
blocking_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Waiters *w = user_data;

  if (!g_task_propagate_boolean (G_TASK (result), NULL))
    w->failed++;
  w->n++;
}

static void
drain (Waiters *w,
       guint    n)
{
  guint64 deadline = now_ns () + 30 * G_GUINT64_CONSTANT (1000000000);

  while (w->n < n && now_ns () < deadline)
    g_main_context_iteration (NULL, TRUE);
}

static void
scenario_pool (void)
{
  Scenario *s;
  g_autoptr(SysemSemaphore) sem = NULL;
  PoolJob job = { g_main_loop_new (NULL, FALSE), FALSE };
  Waiters w = { 0, 0 };
  Row *r_idle, *r_waiting, *r_naive;
  double worst = 0;
  int threads_before, threads_waiting = 0;
  const guint jobs = 200;

  if (!wanted ("pool"))
    return;

  s = scenario_new ("pool", "A g_task_run_in_thread() job while 50 acquire_async wait",
                    "ns per job, median over the jobs of a repetition");
  r_idle = scenario_row (s, "idle-pool", "job on an idle pool");
  r_waiting = scenario_row (s, "sysem-50-waiting", "job while 50 sysem acquire_async wait");

  /* Warm the pool up, so that its first thread is not counted. */
  pool_job_latency (&job, 10000);

  sem = new_sysem ("pool", SYSEM_KEY_TYPE_SYSTEM_V, 0);
  threads_before = count_threads ();

  for (int rep = 0; rep < opt_reps; rep++)
    {
      double idle[200], waiting[200];

      for (guint i = 0; i < jobs; i++)
        idle[i] = pool_job_latency (&job, 10000);

      for (guint i = 0; i < N_WAITING; i++)
        sysem_semaphore_acquire_async (sem, NULL, waiter_done_cb, &w);
      threads_waiting = count_threads ();

      for (guint i = 0; i < jobs; i++)
        {
          waiting[i] = pool_job_latency (&job, 10000);
          if (waiting[i] < 0)
            {
              row_fail (r_waiting, "a job did not finish within 10 s");
              waiting[i] = 1e10;
            }
          worst = MAX (worst, waiting[i]);
        }

      /* Each waiter takes one of these units and keeps it. */
      sysem_semaphore_release (sem, N_WAITING, NULL);
      drain (&w, (rep + 1) * N_WAITING);

      row_add (r_idle, median (idle, jobs));
      row_add (r_waiting, median (waiting, jobs));
    }

  scenario_ratio (s, r_waiting, r_idle, 0, NULL);
  scenario_fact (s, "slowest job while 50 acquire_async waited: %.3f ms (target: well under 100 ms)",
                 worst / 1e6);
  scenario_fact (s, "threads with 50 requests waiting: %d more than before",
                 threads_waiting - threads_before);
  if (w.failed > 0)
    scenario_fact (s, "%u acquire_async requests failed", w.failed);

  /* What sysem avoids: the same 50 waits as blocking acquires in GLib's
   * shared pool, with g_task_run_in_thread(). */
  r_naive = NULL;
  if (!opt_quick)
    {
      Waiters nw = { 0, 0 };
      double latency;
      guint64 start;

      r_naive = scenario_row (s, "naive-50-blocking",
                              "job while 50 blocking acquires occupy GLib's pool (once)");
      for (guint i = 0; i < N_WAITING; i++)
        {
          g_autoptr(GTask) task = g_task_new (sem, NULL, blocking_done_cb, &nw);

          g_task_run_in_thread (task, blocking_acquire_thread);
        }
      start = now_ns ();
      latency = pool_job_latency (&job, 2000);
      if (latency < 0)
        {
          scenario_fact (s, "with 50 blocking acquires in GLib's pool the job had not "
                         "started after %.0f ms", (now_ns () - start) / 1e6);
          row_fail (r_naive, "still queued after 2 s: GLib's pool was full");
        }
      else
        row_add (r_naive, latency);

      sysem_semaphore_release (sem, N_WAITING, NULL);
      drain (&nw, N_WAITING);
      /* The job queued behind them runs now. */
      while (!job.done)
        g_main_context_iteration (NULL, TRUE);
    }

  g_main_loop_unref (job.loop);
}

/* Scenario: 10,000 pending acquire_async */

#define N_PENDING 10000

typedef struct {
  guint    n;
  guint    failed;
  GError  *error;
} Pending;

static void
pending_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Pending *p = user_data;

  if (!sysem_semaphore_acquire_finish (SYSEM_SEMAPHORE (source), result,
                                       p->error == NULL ? &p->error : NULL))
    p->failed++;
  p->n++;
}

static void
scenario_pending (void)
{
  Scenario *s;
  Row *r_time[2], *r_threads[2], *r_rss[2], *r_heap[2];
  const SysemKeyType types[2] = { SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_KEY_TYPE_POSIX };
  const char *names[2] = { "System V", "POSIX" };
  int max_threads[2] = { 0, 0 };
  guint incomplete[2] = { 0, 0 };

  if (!wanted ("pending"))
    return;

  s = scenario_new ("pending", "10,000 pending acquire_async, released by another process",
                    "see each row");
  for (int t = 0; t < 2; t++)
    {
      g_autofree char *id_time = g_strdup_printf ("sysem-%s-ms", t ? "posix" : "sysv");
      g_autofree char *id_threads = g_strdup_printf ("sysem-%s-threads", t ? "posix" : "sysv");
      g_autofree char *id_rss = g_strdup_printf ("sysem-%s-rss-kib", t ? "posix" : "sysv");
      g_autofree char *l_time = g_strdup_printf ("%s: ms until all 10,000 complete", names[t]);
      g_autofree char *l_threads = g_strdup_printf ("%s: extra threads while pending", names[t]);
      g_autofree char *l_rss = g_strdup_printf ("%s: VmRSS growth while pending (KiB)", names[t]);
      g_autofree char *id_heap = g_strdup_printf ("sysem-%s-heap-kib", t ? "posix" : "sysv");
      g_autofree char *l_heap = g_strdup_printf ("%s: malloc heap in use, growth while pending (KiB)", names[t]);

      r_time[t] = scenario_row (s, id_time, l_time);
      r_threads[t] = scenario_row (s, id_threads, l_threads);
      r_rss[t] = scenario_row (s, id_rss, l_rss);
      r_heap[t] = scenario_row (s, id_heap, l_heap);
    }

  for (int rep = 0; rep < opt_reps; rep++)
    for (int t = 0; t < 2; t++)
      {
        g_autoptr(SysemSemaphore) sem = new_sysem ("pending", types[t], 0);
        Pending p = { 0, 0, NULL };
        int go[2], threads_before, threads;
        gint64 rss_before, rss;
        gsize heap_before, heap;
        guint64 start, deadline;
        char byte = 'g';
        pid_t pid;

        if (pipe (go) == -1)
          g_error ("pipe: %s", g_strerror (errno));

        /* The releasing process, forked while this one has no waiter. */
        pid = fork ();
        if (pid == 0)
          {
            close (go[1]);
            if (read (go[0], &byte, 1) != 1)
              _exit (1);
            _exit (sysem_semaphore_release (sem, N_PENDING, NULL) ? 0 : 1);
          }
        close (go[0]);

        threads_before = count_threads ();
        rss_before = rss_kib ();
        heap_before = mallinfo2 ().uordblks;

        for (guint i = 0; i < N_PENDING; i++)
          sysem_semaphore_acquire_async (sem, NULL, pending_done_cb, &p);
        while (g_main_context_iteration (NULL, FALSE))
          ;

        threads = count_threads () - threads_before;
        rss = rss_kib () - rss_before;
        if (rep == 0)
          {
            g_autofree char *threads_now = thread_names ();

            scenario_fact (s, "%s: threads with 10,000 requests pending: %s",
                           names[t], threads_now);
          }
        heap = mallinfo2 ().uordblks - heap_before;

        start = now_ns ();
        if (write (go[1], &byte, 1) != 1)
          g_error ("write: %s", g_strerror (errno));
        close (go[1]);

        deadline = start + 60 * G_GUINT64_CONSTANT (1000000000);
        while (p.n < N_PENDING && now_ns () < deadline)
          g_main_context_iteration (NULL, TRUE);

        row_add (r_time[t], (now_ns () - start) / 1e6);
        row_add (r_threads[t], threads);
        row_add (r_rss[t], rss);
        row_add (r_heap[t], heap / 1024.0);
        max_threads[t] = MAX (max_threads[t], threads);
        if (p.n < N_PENDING || p.failed > 0)
          incomplete[t]++;
        if (p.error != NULL)
          {
            row_fail (r_time[t], "%s", p.error->message);
            g_clear_error (&p.error);
          }
        if (!wait_child (pid))
          row_fail (r_time[t], "the releasing process failed");

        /* Each completed request holds a unit; give them back so that the
         * semaphore can go. */
        if (p.n > 0)
          sysem_semaphore_release (sem, MIN (p.n, 30000), NULL);
      }

  for (int t = 0; t < 2; t++)
    scenario_fact (s, "%s: most extra threads %d (target ≤ 4); repetitions where not all "
                   "10,000 completed: %u", names[t], max_threads[t], incomplete[t]);
}

/* Scenario: one idle main-loop iteration with 10,000 cancellable requests
 * pending (DESIGN §7: ≤ 10 µs; no source per request) */

static double
measure_idle_iteration (gpointer data,
                        Row     *row,
                        guint64  iters)
{
  guint64 start = now_ns ();

  for (guint64 i = 0; i < iters; i++)
    g_main_context_iteration (NULL, FALSE);

  return now_ns () - start;
}

static void
scenario_idle_pending (void)
{
  Scenario *s;
  Row *r_empty, *r_pending[2];
  const SysemKeyType types[2] = { SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_KEY_TYPE_POSIX };

  if (!wanted ("idle-pending"))
    return;

  s = scenario_new ("idle-pending",
                    "One idle main-loop iteration with 10,000 cancellable requests pending",
                    "ns per g_main_context_iteration (NULL, FALSE)");
  r_empty = scenario_row (s, "nothing-pending", "nothing pending");
  r_pending[0] = scenario_row (s, "sysem-sysv", "10,000 System V requests pending");
  r_pending[1] = scenario_row (s, "sysem-posix", "10,000 POSIX requests pending");

  for (int t = 0; t < 2; t++)
    {
      g_autoptr(SysemSemaphore) sem = new_sysem ("idle-pending", types[t], 0);
      GCancellable **cancellables = g_new0 (GCancellable *, N_PENDING);
      Pending p = { 0, 0, NULL };
      Variant v[2] = {
        { r_empty, measure_idle_iteration, NULL, 0, G_GUINT64_CONSTANT (1) << 40, 1 },
        { r_pending[t], measure_idle_iteration, NULL, 0, G_GUINT64_CONSTANT (1) << 40, 1 },
      };
      guint64 deadline;

      /* The empty loop first, then the same with the requests. */
      variant_calibrate (&v[0]);
      for (int rep = 0; rep < opt_reps && t == 0; rep++)
        row_add (r_empty, measure_idle_iteration (NULL, r_empty, v[0].iters) / v[0].iters);

      for (guint i = 0; i < N_PENDING; i++)
        {
          cancellables[i] = g_cancellable_new ();
          sysem_semaphore_acquire_async (sem, cancellables[i], pending_done_cb, &p);
        }
      while (g_main_context_iteration (NULL, FALSE))
        ;
      v[1].iters = v[0].iters;
      for (int rep = 0; rep < opt_reps; rep++)
        row_add (r_pending[t], measure_idle_iteration (NULL, r_pending[t], v[1].iters) / v[1].iters);

      if (p.n != 0)
        row_fail (r_pending[t], "%u requests completed while they should wait", p.n);

      for (guint i = 0; i < N_PENDING; i++)
        g_cancellable_cancel (cancellables[i]);
      deadline = now_ns () + 60 * G_GUINT64_CONSTANT (1000000000);
      while (p.n < N_PENDING && now_ns () < deadline)
        g_main_context_iteration (NULL, TRUE);
      if (p.n < N_PENDING)
        row_fail (r_pending[t], "%u requests did not complete after the cancel", N_PENDING - p.n);
      g_clear_error (&p.error);
      for (guint i = 0; i < N_PENDING; i++)
        g_object_unref (cancellables[i]);
      g_free (cancellables);
    }

  scenario_ratio (s, r_pending[0], r_empty, 0, NULL);
  scenario_ratio (s, r_pending[1], r_empty, 0, NULL);
  scenario_fact (s, "target: ≤ 10,000 ns per iteration with the requests pending "
                 "(System V %.0f ns, POSIX %.0f ns: %s, %s)",
                 median (r_pending[0]->samples, r_pending[0]->n),
                 median (r_pending[1]->samples, r_pending[1]->n),
                 median (r_pending[0]->samples, r_pending[0]->n) <= 10000 ? "met" : "MISSED",
                 median (r_pending[1]->samples, r_pending[1]->n) <= 10000 ? "met" : "MISSED");
}

/* Scenario: how long a cancel takes to end a blocked acquire, and how
 * often a blocked waiter wakes up while nothing happens */

typedef struct {
  SysemSemaphore *sem;
  GCancellable   *cancellable;
  int             tid;
  gint            started;    /* atomic */
  guint64         returned;   /* now_ns () after the acquire returned */
} Blocked;

static gpointer
blocked_thread (gpointer data)
{
  Blocked *b = data;

  b->tid = (int) syscall (SYS_gettid);
  g_atomic_int_set (&b->started, 1);
  sysem_semaphore_acquire (b->sem, b->cancellable, NULL);
  b->returned = now_ns ();

  return NULL;
}

/* The context switches of one thread of this process. */
static gint64
thread_switches (int tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/status", tid);
  g_autofree char *status = NULL;
  const char *p;
  gint64 n = 0;

  if (!g_file_get_contents (path, &status, NULL, NULL))
    return -1;
  if ((p = strstr (status, "\nvoluntary_ctxt_switches:")) != NULL)
    n += g_ascii_strtoll (p + strlen ("\nvoluntary_ctxt_switches:"), NULL, 10);
  if ((p = strstr (status, "\nnonvoluntary_ctxt_switches:")) != NULL)
    n += g_ascii_strtoll (p + strlen ("\nnonvoluntary_ctxt_switches:"), NULL, 10);

  return n;
}

/* Starts a thread blocked in acquire() on @sem, which has no unit, and
 * lets it get to sleep in the kernel. */
static GThread *
blocked_start (Blocked *b)
{
  GThread *thread;

  b->started = 0;
  b->returned = 0;
  thread = g_thread_new ("blocked", blocked_thread, b);
  while (!g_atomic_int_get (&b->started))
    g_thread_yield ();
  /* A benchmark may sleep: long enough for the thread to be asleep. */
  g_usleep (2000);

  return thread;
}

static int
compare_guint64 (const void *a,
                 const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return (x > y) - (x < y);
}

static void
scenario_cancel_latency (void)
{
  Scenario *s;
  const SysemKeyType types[2] = { SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_KEY_TYPE_POSIX };
  const char *names[2] = { "System V", "POSIX" };
  const guint samples = 200;

  if (!wanted ("cancel-latency"))
    return;

  s = scenario_new ("cancel-latency", "Cancel latency of a blocked acquire",
                    "µs from g_cancellable_cancel() to the acquire's return");
  for (int t = 0; t < 2; t++)
    {
      g_autoptr(SysemSemaphore) sem = new_sysem ("cancel-latency", types[t], 0);
      g_autofree char *id50 = g_strdup_printf ("%s-p50", t ? "sysem-posix" : "sysem-sysv");
      g_autofree char *id99 = g_strdup_printf ("%s-p99", t ? "sysem-posix" : "sysem-sysv");
      g_autofree char *l50 = g_strdup_printf ("%s, median", names[t]);
      g_autofree char *l99 = g_strdup_printf ("%s, 99th percentile (target ≤ 1,000 µs)", names[t]);
      Row *r50 = scenario_row (s, id50, l50);
      Row *r99 = scenario_row (s, id99, l99);
      guint64 *latency = g_new0 (guint64, samples);
      guint n_reps = MIN (opt_reps, 5);

      for (guint rep = 0; rep < n_reps; rep++)
        {
          for (guint i = 0; i < samples / n_reps + 1 && i < samples; i++)
            {
              Blocked b = { sem, g_cancellable_new (), 0, 0, 0 };
              GThread *thread = blocked_start (&b);
              guint64 start = now_ns ();

              g_cancellable_cancel (b.cancellable);
              g_thread_join (thread);
              latency[i] = b.returned - start;
              g_object_unref (b.cancellable);
            }
          qsort (latency, samples / n_reps + 1, sizeof (guint64), compare_guint64);
          row_add (r50, latency[(samples / n_reps + 1) / 2] / 1e3);
          row_add (r99, latency[(samples / n_reps + 1) * 99 / 100] / 1e3);
        }
      g_free (latency);
    }
}

static void
scenario_wakeups (void)
{
  Scenario *s;
  const SysemKeyType types[2] = { SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_KEY_TYPE_POSIX };
  const char *names[2] = { "System V", "POSIX" };

  if (!wanted ("wakeups"))
    return;

  s = scenario_new ("wakeups", "Wakeups of a blocked waiter while nothing happens",
                    "context switches per second of the waiting thread, over 2 s");
  for (int t = 0; t < 2; t++)
    for (int c = 0; c < 2; c++)
      {
        g_autoptr(SysemSemaphore) sem = new_sysem ("wakeups", types[t], 0);
        g_autofree char *id = g_strdup_printf ("%s%s", t ? "sysem-posix" : "sysem-sysv",
                                               c ? "-cancellable" : "");
        g_autofree char *label = g_strdup_printf ("%s acquire%s (target 0%s)", names[t],
                                                  c ? " with a cancellable" : "",
                                                  t ? ", ≤ 1 for an unlink watcher" : "");
        Row *row = scenario_row (s, id, label);
        Blocked b = { sem, g_cancellable_new (), 0, 0, 0 };
        GThread *thread;
        gint64 before, after;

        if (!c)
          g_clear_object (&b.cancellable);
        thread = blocked_start (&b);
        before = thread_switches (b.tid);
        g_usleep (2 * G_USEC_PER_SEC);
        after = thread_switches (b.tid);
        row_add (row, (after - before) / 2.0);

        if (b.cancellable != NULL)
          g_cancellable_cancel (b.cancellable);
        else
          sysem_semaphore_release (sem, 1, NULL);
        g_thread_join (thread);
        g_clear_object (&b.cancellable);
      }
}

/* Scenario: objects open at once under a soft limit of 1024 descriptors */

#define N_OBJECTS 10000

static void
scenario_many_objects (void)
{
  Scenario *s;
  const SysemKeyType types[2] = { SYSEM_KEY_TYPE_SYSTEM_V, SYSEM_KEY_TYPE_POSIX };
  const char *names[2] = { "System V", "POSIX" };

  if (!wanted ("many-objects"))
    return;

  s = scenario_new ("many-objects",
                    "Objects open at once in one process under ulimit -n 1024, distinct keys",
                    "objects reached (target 10,000)");
  for (int t = 0; t < 2; t++)
    {
      g_autofree char *id = g_strdup_printf ("%s", t ? "sysem-posix" : "sysem-sysv");
      Row *row = scenario_row (s, id, names[t]);
      g_autofree char *prefix = make_key ("many");
      int fds[2];
      pid_t pid;
      int reached = 0;

      if (pipe (fds) == -1)
        g_error ("pipe: %s", g_strerror (errno));
      pid = fork ();
      if (pid == 0)
        {
          struct rlimit limit = { 1024, 1024 };
          SysemSemaphore **objects = g_new0 (SysemSemaphore *, N_OBJECTS);
          g_autoptr(GError) error = NULL;
          int n = 0;

          close (fds[0]);
          getrlimit (RLIMIT_NOFILE, &limit);
          limit.rlim_cur = MIN (limit.rlim_max, 1024);
          setrlimit (RLIMIT_NOFILE, &limit);
          for (n = 0; n < N_OBJECTS; n++)
            {
              g_autofree char *key = g_strdup_printf ("%s-%d", prefix, n);

              objects[n] = sysem_semaphore_new_full (key, types[t], 1, SYSEM_ACCESS_MODE_CREATE,
                                                     &error);
              if (objects[n] == NULL)
                break;
            }
          if (write (fds[1], &n, sizeof n) != sizeof n)
            _exit (1);
          if (error != NULL)
            {
              g_autofree char *message = g_strdup (error->message);
              guint len = strlen (message);

              if (write (fds[1], &len, sizeof len) != sizeof len ||
                  write (fds[1], message, len) != (gssize) len)
                _exit (1);
            }
          for (int i = 0; i < n; i++)
            g_object_unref (objects[i]);
          _exit (0);
        }
      close (fds[1]);
      if (read (fds[0], &reached, sizeof reached) == sizeof reached)
        {
          guint len = 0;

          row_add (row, reached);
          if (read (fds[0], &len, sizeof len) == sizeof len && len < 4096)
            {
              g_autofree char *message = g_malloc0 (len + 1);

              if (read (fds[0], message, len) == (gssize) len)
                scenario_fact (s, "%s stopped at object %d: %s", names[t], reached + 1, message);
            }
        }
      else
        row_fail (row, "the child failed");
      close (fds[0]);
      if (!wait_child (pid))
        row_fail (row, "the child failed");
      for (int i = 0; i <= MIN (reached, N_OBJECTS - 1); i++)
        {
          g_autofree char *key = g_strdup_printf ("%s-%d", prefix, i);
          g_ptr_array_add (made_keys, g_steal_pointer (&key));
        }
    }
}

/* Scenario: producer/consumer ring buffer */

#define RING_SLOTS 64

typedef struct {
  guint64 seq[RING_SLOTS];
} Ring;

typedef struct {
  int     kind;       /* 0 sysem System V, 1 sysem POSIX, 2 raw semop, 3 raw sem_t */
} RingConfig;

static double
measure_ring (gpointer data,
              Row     *row,
              guint64  iters)
{
  RingConfig *config = data;
  SysemSemaphore *free_slots = NULL, *filled = NULL;
  RawPosix p_free = { NULL, }, p_filled = { NULL, };
  int s_free = -1, s_filled = -1;
  Ring *ring;
  guint64 start, bad = 0;
  pid_t pid;

  ring = mmap (NULL, sizeof (Ring), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED)
    g_error ("mmap: %s", g_strerror (errno));

  switch (config->kind)
    {
    case 0:
    case 1:
      free_slots = new_sysem ("ring-free", config->kind ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V, RING_SLOTS);
      filled = new_sysem ("ring-filled", config->kind ? SYSEM_KEY_TYPE_POSIX : SYSEM_KEY_TYPE_SYSTEM_V, 0);
      break;
    case 2:
      s_free = raw_sysv_new (RING_SLOTS);
      s_filled = raw_sysv_new (0);
      break;
    default:
      raw_posix_init (&p_free, "ring-raw-free", RING_SLOTS);
      raw_posix_init (&p_filled, "ring-raw-filled", 0);
      break;
    }

  /* The producer. */
  pid = fork ();
  if (pid == 0)
    {
      for (guint64 i = 0; i < iters; i++)
        {
          switch (config->kind)
            {
            case 0:
            case 1:
              if (!sysem_semaphore_acquire (free_slots, NULL, NULL))
                _exit (1);
              ring->seq[i % RING_SLOTS] = i;
              if (!sysem_semaphore_release (filled, 1, NULL))
                _exit (1);
              break;
            case 2:
              if (raw_semop (s_free, -1, SEM_UNDO) == -1)
                _exit (1);
              ring->seq[i % RING_SLOTS] = i;
              if (raw_semop (s_filled, 1, 0) == -1)
                _exit (1);
              break;
            default:
              raw_sem_wait (p_free.sem);
              ring->seq[i % RING_SLOTS] = i;
              sem_post (p_filled.sem);
              break;
            }
        }
      _exit (0);
    }

  /* The consumer; the producer can fill at most the ring before this. */
  start = now_ns ();
  for (guint64 i = 0; i < iters; i++)
    {
      gboolean ok = TRUE;

      switch (config->kind)
        {
        case 0:
        case 1:
          ok = sysem_semaphore_acquire (filled, NULL, NULL);
          bad += ring->seq[i % RING_SLOTS] != i;
          ok = ok && sysem_semaphore_release (free_slots, 1, NULL);
          break;
        case 2:
          ok = raw_semop (s_filled, -1, SEM_UNDO) == 0;
          bad += ring->seq[i % RING_SLOTS] != i;
          ok = ok && raw_semop (s_free, 1, 0) == 0;
          break;
        default:
          raw_sem_wait (p_filled.sem);
          bad += ring->seq[i % RING_SLOTS] != i;
          sem_post (p_free.sem);
          break;
        }
      if (!ok)
        {
          row_fail (row, "a semaphore operation failed after %" G_GUINT64_FORMAT " items", i);
          kill_child (pid);
          start = 0;
          break;
        }
    }

  if (start != 0)
    {
      if (!wait_child (pid))
        {
          row_fail (row, "the producer failed");
          start = 0;
        }
      else
        start = now_ns () - start;
    }

  if (bad > 0)
    row_fail (row, "%" G_GUINT64_FORMAT " items arrived wrong", bad);

  g_clear_object (&free_slots);
  g_clear_object (&filled);
  if (s_free != -1)
    {
      raw_sysv_free (s_free);
      raw_sysv_free (s_filled);
    }
  raw_posix_clear (&p_free);
  raw_posix_clear (&p_filled);
  munmap (ring, sizeof (Ring));

  return start == 0 ? -1 : (double) start;
}

/* Runs the ring-buffer example; returns records per second, or -1. */
static double
run_ring_example (const char *path,
                  gboolean    posix,
                  guint64     records,
                  Row        *row)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *records_arg = g_strdup_printf ("--records=%" G_GUINT64_FORMAT, records);
  const char *argv[] = { path, records_arg, posix ? "--posix" : NULL, NULL };
  const char *p;
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, &error))
    {
      row_fail (row, "%s", error->message);
      return -1;
    }
  if (!g_spawn_check_wait_status (status, &error))
    {
      g_strstrip (err);
      row_fail (row, "%s: %s", error->message, err);
      return -1;
    }

  p = strstr (out, " s: ");
  if (p == NULL)
    {
      row_fail (row, "cannot read its output");
      return -1;
    }

  return g_ascii_strtod (p + strlen (" s: "), NULL);
}

static void
scenario_ring (void)
{
  Scenario *s;
  RingConfig configs[4] = { { 0 }, { 2 }, { 1 }, { 3 } };
  const char *ids[4] = { "sysem-sysv", "semop-undo", "sysem-posix", "sem-wait-post" };
  const char *labels[4] = {
    "sysem System V", "raw semop (SEM_UNDO on acquire)", "sysem POSIX",
    "raw sem_wait + sem_post"
  };
  Row *rows[4];
  Variant v[4];

  if (!wanted ("ring"))
    return;

  s = scenario_new ("ring", "Producer and consumer processes, ring of 64 slots",
                    "ns per item");
  for (int i = 0; i < 4; i++)
    {
      rows[i] = scenario_row (s, ids[i], labels[i]);
      v[i] = (Variant) { rows[i], measure_ring, &configs[i], 0, MAX_ONE_WAY, 2000 };
    }

  run_variants (v, G_N_ELEMENTS (v));
  scenario_ratio (s, rows[0], rows[1], 0, NULL);
  scenario_ratio (s, rows[2], rows[3], 0, NULL);

  if (opt_ring_buffer != NULL)
    {
      Scenario *e = scenario_new ("ring-example",
                                  "examples/ring-buffer, run as it is (three processes)",
                                  "records per second");
      Row *r_sysv = scenario_row (e, "sysem-sysv", "ring-buffer (System V)");
      Row *r_posix = scenario_row (e, "sysem-posix", "ring-buffer --posix");
      guint64 records = 100000;

      for (int rep = 0; rep < opt_reps; rep++)
        {
          double rate;

          if (r_sysv->note == NULL && (rate = run_ring_example (opt_ring_buffer, FALSE, records, r_sysv)) > 0)
            row_add (r_sysv, rate);
          if (r_posix->note == NULL && (rate = run_ring_example (opt_ring_buffer, TRUE, records, r_posix)) > 0)
            row_add (r_posix, rate);
        }
      scenario_ratio (e, r_sysv, r_posix, 0, NULL);
      scenario_fact (e, "%" G_GUINT64_FORMAT " records of 64 bytes through 64 slots per run",
                     records);
    }
}

/* One loop alone, a fixed number of times: run it under callgrind with two
 * numbers of iterations and the difference of the instruction counts, over
 * the difference of the iterations, is the cost of one, in user space. */

static const char *count_loops[] = {
  "sysv-pair", "semop-pair", "posix-pair", "sem-pair",
  "sysv-try-empty", "semop-nowait", "posix-try-empty", "sem-trywait",
  "sysv-async-free", "posix-async-free", "idle", "gtask",
  "sysv-pingpong", "sysv-pingpong-cancellable", "semop-pingpong", "semop-guarded-pingpong",
  "posix-pingpong", "posix-pingpong-cancellable", "sem-pingpong",
};

static int
run_count (const char *loop,
           guint64     iters)
{
  g_autoptr(SysemSemaphore) sem = NULL;
  RawPosix raw_posix = { NULL, };
  Row *row = g_new0 (Row, 1);
  int raw_id = -1;
  double ns = -1;

  row->label = g_strdup (loop);

  if (g_str_equal (loop, "sysv-pair") || g_str_equal (loop, "posix-pair"))
    {
      sem = new_sysem ("count", loop[0] == 's' ? SYSEM_KEY_TYPE_SYSTEM_V : SYSEM_KEY_TYPE_POSIX, 1);
      ns = measure_sysem_pair (sem, row, iters);
    }
  else if (g_str_equal (loop, "sysv-try-empty") || g_str_equal (loop, "posix-try-empty"))
    {
      sem = new_sysem ("count", loop[0] == 's' ? SYSEM_KEY_TYPE_SYSTEM_V : SYSEM_KEY_TYPE_POSIX, 0);
      ns = measure_sysem_try_empty (sem, row, iters);
    }
  else if (g_str_equal (loop, "sysv-async-free") || g_str_equal (loop, "posix-async-free"))
    {
      AsyncFree a = { NULL, NULL, 0, TRUE, TRUE, NULL, NULL };

      sem = new_sysem ("count", loop[0] == 's' ? SYSEM_KEY_TYPE_SYSTEM_V : SYSEM_KEY_TYPE_POSIX, 1);
      a.sem = sem;
      ns = measure_async_free (&a, row, iters);
    }
  else if (g_str_equal (loop, "semop-pair") || g_str_equal (loop, "semop-nowait"))
    {
      raw_id = raw_sysv_new (loop[6] == 'p' ? 1 : 0);
      ns = loop[6] == 'p' ? measure_semop_pair (GINT_TO_POINTER (raw_id), row, iters)
                          : measure_semop_nowait (GINT_TO_POINTER (raw_id), row, iters);
      raw_sysv_free (raw_id);
    }
  else if (g_str_equal (loop, "sem-pair") || g_str_equal (loop, "sem-trywait"))
    {
      raw_posix_init (&raw_posix, "count-raw", loop[4] == 'p' ? 1 : 0);
      ns = loop[4] == 'p' ? measure_sem_pair (raw_posix.sem, row, iters)
                          : measure_sem_trywait (raw_posix.sem, row, iters);
      raw_posix_clear (&raw_posix);
    }
  else if (strstr (loop, "pingpong") != NULL && iters > MAX_ONE_WAY)
    {
      /* Each round trip adds one to the parent's undo of a System V set. */
      g_printerr ("%s: at most %d iterations\n", loop, MAX_ONE_WAY);
      return 2;
    }
  else if (g_str_has_prefix (loop, "sysv-pingpong") || g_str_has_prefix (loop, "posix-pingpong"))
    {
      PingPongSysem p = { loop[0] == 's' ? SYSEM_KEY_TYPE_SYSTEM_V : SYSEM_KEY_TYPE_POSIX,
                          g_str_has_suffix (loop, "-cancellable") };

      ns = measure_sysem_pingpong (&p, row, iters);
    }
  else if (g_str_equal (loop, "semop-pingpong") || g_str_equal (loop, "semop-guarded-pingpong"))
    {
      PingPongSysem guarded = { SYSEM_KEY_TYPE_SYSTEM_V, TRUE };

      ns = measure_semop_pingpong (loop[6] == 'g' ? &guarded : NULL, row, iters);
    }
  else if (g_str_equal (loop, "sem-pingpong"))
    ns = measure_sem_pingpong (NULL, row, iters);
  else if (g_str_equal (loop, "idle"))
    ns = measure_idle_chain (NULL, row, iters);
  else if (g_str_equal (loop, "gtask"))
    ns = measure_bare_task (NULL, row, iters);
  else
    {
      g_printerr ("Loops for --count:");
      for (guint i = 0; i < G_N_ELEMENTS (count_loops); i++)
        g_printerr (" %s", count_loops[i]);
      g_printerr ("\n");
      return g_str_equal (loop, "help") ? 0 : 2;
    }

  if (ns < 0)
    return 1;

  g_print ("%s: %" G_GUINT64_FORMAT " iterations, %.1f ns each\n", loop, iters, ns / iters);
  return 0;
}

/* Output */

static void
print_table (void)
{
  for (guint i = 0; i < scenarios->len; i++)
    {
      Scenario *s = scenarios->pdata[i];

      g_print ("\n%s [%s]\n", s->title, s->id);
      g_print ("  %-62s %14s %12s\n", s->unit, "median", "best");
      for (guint j = 0; j < s->rows->len; j++)
        {
          Row *row = s->rows->pdata[j];

          if (row->n > 0)
            g_print ("  %-62s %14.1f %12.1f\n", row->label, median (row->samples, row->n),
                     minimum (row->samples, row->n));
          else
            g_print ("  %-62s %14s  (%s)\n", row->label, "-", row->note ? row->note : "not run");
        }
      for (guint j = 0; j < s->ratios->len; j++)
        {
          Ratio *ratio = s->ratios->pdata[j];
          double value = ratio_value (ratio);
          g_autofree char *what = g_strdup_printf ("%s / %s", ratio->subject->label,
                                                   ratio->reference->label);

          if (isnan (value))
            continue;
          g_print ("  ratio %-56s %14.3f", what, value);
          if (ratio->target > 0)
            g_print ("  target %s: %s", ratio->target_text,
                     value <= ratio->target ? "met" : "MISSED");
          g_print ("\n");
        }
      for (guint j = 0; j < s->facts->len; j++)
        g_print ("  %s\n", (char *) s->facts->pdata[j]);
    }
}

static void
json_string (GString    *out,
             const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if ((guchar) *p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

static void
json_number (GString *out,
             double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value) || isinf (value))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.4f", value));
}

static void
print_json (const char *machine)
{
  GString *out = g_string_new ("{\n  \"reps\": ");

  g_string_append_printf (out, "%d,\n  \"budget_ms\": ", opt_reps);
  json_number (out, opt_budget_ms);
  g_string_append (out, ",\n  \"machine\": ");
  json_string (out, machine);
  g_string_append (out, ",\n  \"scenarios\": [");

  for (guint i = 0; i < scenarios->len; i++)
    {
      Scenario *s = scenarios->pdata[i];

      g_string_append (out, i ? ",\n    {" : "\n    {");
      g_string_append (out, "\"id\": ");
      json_string (out, s->id);
      g_string_append (out, ", \"title\": ");
      json_string (out, s->title);
      g_string_append (out, ", \"unit\": ");
      json_string (out, s->unit);
      g_string_append (out, ",\n     \"rows\": [");
      for (guint j = 0; j < s->rows->len; j++)
        {
          Row *row = s->rows->pdata[j];

          g_string_append (out, j ? ",\n       {" : "\n       {");
          g_string_append (out, "\"id\": ");
          json_string (out, row->id);
          g_string_append (out, ", \"label\": ");
          json_string (out, row->label);
          g_string_append (out, ", \"median\": ");
          json_number (out, median (row->samples, row->n));
          g_string_append (out, ", \"best\": ");
          json_number (out, minimum (row->samples, row->n));
          g_string_append (out, ", \"samples\": [");
          for (int k = 0; k < row->n; k++)
            {
              if (k)
                g_string_append (out, ", ");
              json_number (out, row->samples[k]);
            }
          g_string_append (out, "]");
          if (row->note != NULL)
            {
              g_string_append (out, ", \"note\": ");
              json_string (out, row->note);
            }
          g_string_append (out, "}");
        }
      g_string_append (out, "],\n     \"ratios\": [");
      for (guint j = 0, k = 0; j < s->ratios->len; j++)
        {
          Ratio *ratio = s->ratios->pdata[j];
          double value = ratio_value (ratio);

          if (isnan (value))
            continue;
          g_string_append (out, k++ ? ",\n       {" : "\n       {");
          g_string_append (out, "\"subject\": ");
          json_string (out, ratio->subject->id);
          g_string_append (out, ", \"reference\": ");
          json_string (out, ratio->reference->id);
          g_string_append (out, ", \"ratio\": ");
          json_number (out, value);
          if (ratio->target > 0)
            {
              g_string_append (out, ", \"target\": ");
              json_number (out, ratio->target);
              g_string_append_printf (out, ", \"met\": %s", value <= ratio->target ? "true" : "false");
            }
          g_string_append (out, "}");
        }
      g_string_append (out, "],\n     \"facts\": [");
      for (guint j = 0; j < s->facts->len; j++)
        {
          if (j)
            g_string_append (out, ", ");
          json_string (out, s->facts->pdata[j]);
        }
      g_string_append (out, "]}");
    }

  g_string_append (out, "\n  ]\n}\n");
  g_print ("%s", out->str);
  g_string_free (out, TRUE);
}

static char *
describe_machine (void)
{
  g_autofree char *cpuinfo = NULL;
  g_autofree char *model = NULL;
  struct utsname un;

  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL))
    {
      const char *p = strstr (cpuinfo, "model name");

      if (p != NULL && (p = strchr (p, ':')) != NULL)
        model = g_strndup (p + 2, strcspn (p + 2, "\n"));
    }
  if (uname (&un) == -1)
    g_strlcpy (un.release, "?", sizeof un.release);

  return g_strdup_printf ("%ld CPUs, %s, Linux %s",
                          sysconf (_SC_NPROCESSORS_ONLN),
                          model ? model : "unknown CPU", un.release);
}

/* Looks for anything of ours still there: the key files and POSIX files of
 * every key made (sysem's and Qt's names are the same), and the raw POSIX
 * semaphores, whose names start with the prefix. */
static gboolean
check_clean (void)
{
  g_autofree char *prefix = g_strdup_printf ("sysemtest-bench-%d-", (int) getpid ());
  g_autoptr(GDir) dir = g_dir_open ("/dev/shm", 0, NULL);
  gboolean clean = TRUE;
  const char *name;

  for (guint i = 0; i < made_keys->len; i++)
    {
      const char *key = made_keys->pdata[i];
      g_autofree char *sha1 = g_compute_checksum_for_string (G_CHECKSUM_SHA1, key, -1);
      GString *legacy = g_string_new ("qipc_systemsem_");
      g_autofree char *sysv = NULL, *posix = NULL;

      for (const char *p = key; *p; p++)
        if (g_ascii_isalpha (*p))
          g_string_append_c (legacy, *p);
      g_string_append (legacy, sha1);

      sysv = g_build_filename (g_get_tmp_dir (), legacy->str, NULL);
      posix = g_strconcat ("/dev/shm/sem.", legacy->str, NULL);
      g_string_free (legacy, TRUE);

      if (g_file_test (sysv, G_FILE_TEST_EXISTS) || g_file_test (posix, G_FILE_TEST_EXISTS))
        {
          g_printerr ("sysem-bench: left behind: the semaphore of %s\n", key);
          clean = FALSE;
        }
    }

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (strstr (name, prefix) != NULL)
      {
        g_printerr ("sysem-bench: left behind: /dev/shm/%s\n", name);
        clean = FALSE;
      }

  return clean;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *machine = NULL;
  gboolean clean;

  setlocale (LC_ALL, "");

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                "Measures sysem next to the raw kernel primitives and Qt's\n"
                                "QSystemSemaphore. Scenarios: pair, try-empty, pingpong,\n"
                                "open-close, create-remove, async-free, async-wake, pool,\n"
                                "pending, idle-pending, cancel-latency, wakeups, many-objects,\n"
                                "ring.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("sysem-bench: %s\n", error->message);
      return 2;
    }
  if (opt_reps < 1 || opt_reps > MAX_REPS || opt_budget_ms <= 0)
    {
      g_printerr ("sysem-bench: --reps must be 1 to %d and --budget positive\n", MAX_REPS);
      return 2;
    }

  exe = g_file_read_link ("/proc/self/exe", NULL);
  exe_dir = exe ? g_path_get_dirname (exe) : g_strdup (".");
  if (opt_ring_buffer == NULL)
    {
      g_autofree char *guess = g_build_filename (exe_dir, "..", "..", "examples", "ring-buffer", NULL);

      if (g_file_test (guess, G_FILE_TEST_IS_EXECUTABLE))
        opt_ring_buffer = g_steal_pointer (&guess);
    }

  scenarios = g_ptr_array_new ();
  made_keys = g_ptr_array_new_with_free_func (g_free);
  machine = describe_machine ();

  if (opt_count != NULL)
    {
      int status = run_count (opt_count, (guint64) MAX (opt_iters, 1));

      return check_clean () ? status : 1;
    }

  for (guint i = 0; i < G_N_ELEMENTS (qt_helpers); i++)
    qt_helper_start (&qt_helpers[i], i == 0 ? opt_qt5 : opt_qt6);

  /* Processes are forked while this one has no other thread: first the
   * synchronous scenarios, then those that start threads. */
  scenario_pair ();
  scenario_try_empty ();
  scenario_pingpong ();
  scenario_lifetime ();
  scenario_ring ();
  scenario_many_objects ();
  scenario_async_free ();
  scenario_async_wake ();
  scenario_pending ();
  scenario_idle_pending ();
  scenario_cancel_latency ();
  scenario_wakeups ();
  scenario_pool ();

  for (guint i = 0; i < G_N_ELEMENTS (qt_helpers); i++)
    qt_helper_stop (&qt_helpers[i]);

  clean = check_clean ();

  if (opt_json)
    print_json (machine);
  else
    {
      g_print ("sysem-bench: %s; %d repetitions of about %.0f ms per variant\n",
               machine, opt_reps, opt_budget_ms);
      print_table ();
    }

  return clean ? 0 : 1;
}
