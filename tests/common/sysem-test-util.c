/* sysem-test-util.c: what every C test of sysem shares
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Only the public API of sysem is used here, so that a test may link this
 * with the shared library or with the static copy (the private part is in
 * sysem-test-stats.c). Key names are derived again here, independently of
 * sysem-key.c, so that the tests also check the derivation. */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sysem-test-util.h"

/* TRUE under the "valgrind" test setup: long loops get shorter. */
gboolean
sysem_test_under_valgrind (void)
{
  return g_getenv ("SYSEM_TEST_VALGRIND") != NULL;
}

/* TRUE in a build with AddressSanitizer, where starting and ending a
 * process costs several times more: loops of processes get shorter. */
gboolean
sysem_test_under_asan (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
  return TRUE;
# else
  return FALSE;
# endif
#else
  return FALSE;
#endif
}

guint64
sysem_test_thread_switches (int tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/status", tid);
  g_autofree char *text = NULL;
  const char *p;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  p = strstr (text, "voluntary_ctxt_switches:");
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + strlen ("voluntary_ctxt_switches:"), NULL, 10);
}

gboolean
sysem_test_thread_sleeping (int tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/stat", tid);
  g_autofree char *text = NULL;
  const char *p;

  /* Gone: it finished what the caller waits for, and exited since. */
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  /* "TID (COMM) STATE …": the name may hold spaces and parentheses. */
  p = strrchr (text, ')');
  g_assert_nonnull (p);
  return p[1] == ' ' && p[2] == 'S';
}

/* Registration */

typedef struct {
  SysemKeyType  key_type;
  SysemTestFunc func;
} Registration;

/* What GTest runs holds pointers to these until the end of the program. */
static GPtrArray *registrations;

static void
fixture_set_up (gpointer      data,
                gconstpointer user_data)
{
  SysemTestFixture *fixture = data;
  const Registration *reg = user_data;
  g_autofree char *tag = g_strdup (g_test_get_path () + 1);

  /* The test's path, as a few words of its key. */
  g_strcanon (tag, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS, '-');
  fixture->key_type = reg->key_type;
  fixture->key = sysem_test_key (tag);
}

static void
fixture_run (gpointer      data,
             gconstpointer user_data)
{
  const Registration *reg = user_data;

  reg->func (data);
}

static void
fixture_tear_down (gpointer      data,
                   gconstpointer user_data)
{
  SysemTestFixture *fixture = data;

  sysem_test_assert_key_clean (fixture->key, fixture->key_type);
  g_free (fixture->key);
}

/**
 * sysem_test_add:
 * @path: the test's path
 * @key_type: the key type it tests
 * @func: the test
 *
 * Registers @func with a #SysemTestFixture: the key type, and a key no
 * other test uses, of which nothing may be left when the test ends.
 */
void
sysem_test_add (const char    *path,
                SysemKeyType   key_type,
                SysemTestFunc  func)
{
  Registration *reg = g_new0 (Registration, 1);

  reg->key_type = key_type;
  reg->func = func;
  if (registrations == NULL)
    registrations = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (registrations, reg);

  g_test_add_vtable (path, sizeof (SysemTestFixture), reg,
                     fixture_set_up, fixture_run, fixture_tear_down);
}

/**
 * sysem_test_add_both_types:
 * @path: a test path with "{system-v}" or "{sysv}" in it
 * @func: the test
 *
 * Registers @func twice with sysem_test_add(): with the placeholder
 * written as it is spelled (without its braces) for System V, and as
 * "posix" for POSIX.
 */
void
sysem_test_add_both_types (const char    *path,
                           SysemTestFunc  func)
{
  static const char * const placeholders[] = { "{system-v}", "{sysv}" };

  for (guint i = 0; i < G_N_ELEMENTS (placeholders); i++)
    {
      const char *placeholder = placeholders[i];
      g_autofree char *sysv_name = NULL;

      if (strstr (path, placeholder) == NULL)
        continue;

      sysv_name = g_strndup (placeholder + 1, strlen (placeholder) - 2);
      for (int t = SYSEM_KEY_TYPE_SYSTEM_V; t <= SYSEM_KEY_TYPE_POSIX; t++)
        {
          g_autoptr(GString) full = g_string_new (path);

          g_string_replace (full, placeholder,
                            t == SYSEM_KEY_TYPE_POSIX ? "posix" : sysv_name, 0);
          sysem_test_add (full->str, t, func);
        }
      return;
    }

  g_error ("test path “%s” names no key type ({system-v} or {sysv})", path);
}

/* Opens the fixture's key in its key type, failing the test on an error. */
SysemSemaphore *
sysem_test_fixture_open (SysemTestFixture *fixture,
                         int               initial_value,
                         SysemAccessMode   mode)
{
  return sysem_test_open (fixture->key, fixture->key_type, initial_value, mode);
}

/* Keys */

/* "PID-N": no other test and no other process has it. */
char *
sysem_test_unique_suffix (void)
{
  static gint counter = 0;

  return g_strdup_printf ("%d-%d", (int) getpid (), g_atomic_int_add (&counter, 1));
}

/**
 * sysem_test_key:
 * @tag: a few letters that say which test made the key
 *
 * Returns a key no other test and no other process uses:
 * `sysemtest-TAG-PID-N`.
 */
char *
sysem_test_key (const char *tag)
{
  g_autofree char *suffix = sysem_test_unique_suffix ();

  return g_strdup_printf ("sysemtest-%s-%s", tag, suffix);
}

/* A unique key of a kind: "letters" has only ASCII letters after the
 * prefix (the digits of the pid and the counter are spelled a–j), so that
 * the whole key goes into the legacy name; "punctuation" and "unicode"
 * have every printable ASCII character, or several scripts and an emoji. */
char *
sysem_test_key_of_kind (const char *tag,
                        const char *kind)
{
  g_autofree char *suffix = sysem_test_unique_suffix ();

  if (g_str_equal (kind, "letters"))
    {
      for (char *p = suffix; *p != '\0'; p++)
        if (g_ascii_isdigit (*p))
          *p = 'a' + (*p - '0');

      return g_strconcat ("sysemtest-", tag, "Letters-", suffix, NULL);
    }

  if (g_str_equal (kind, "punctuation"))
    return g_strdup_printf ("sysemtest-%s-punct 0123456789 !\"#$%%&'()*+,./:;<=>?@[\\]^_`{|}~\t end-%s",
                            tag, suffix);

  if (g_str_equal (kind, "unicode"))
    return g_strdup_printf ("sysemtest-%s-Grüße-日本-ключ-🙂-%s", tag, suffix);

  g_error ("unknown key kind “%s”", kind);
}

/* Where keys live */

/* $TMPDIR or /tmp, links resolved, as Qt's QDir::tempPath(). */
char *
sysem_test_temp_dir (void)
{
  const char *env = g_getenv ("TMPDIR");
  char *resolved;
  char *ret;

  if (env == NULL || *env == '\0')
    env = "/tmp";

  resolved = realpath (env, NULL);
  if (resolved == NULL)
    return g_strdup (env);

  ret = g_strdup (resolved);
  free (resolved);
  return ret;
}

/* "qipc_systemsem_" + the ASCII letters of the key + its SHA-1. */
char *
sysem_test_legacy_name (const char *key)
{
  GString *name = g_string_new ("qipc_systemsem_");
  g_autofree char *sha1 = g_compute_checksum_for_string (G_CHECKSUM_SHA1, key, -1);

  for (const char *p = key; *p != '\0'; p++)
    if (g_ascii_isalpha (*p))
      g_string_append_c (name, *p);
  g_string_append (name, sha1);

  return g_string_free (name, FALSE);
}

/* The file that stands for a semaphore with this native key: the System V
 * key file itself, or the POSIX semaphore's file in /dev/shm. */
char *
sysem_test_native_path (const char   *native_key,
                        SysemKeyType  key_type)
{
  if (key_type == SYSEM_KEY_TYPE_POSIX)
    return g_strconcat ("/dev/shm/sem.", native_key + (native_key[0] == '/'), NULL);

  return g_strdup (native_key);
}

/* The file that stands for the semaphore of @key. */
char *
sysem_test_key_path (const char   *key,
                     SysemKeyType  key_type)
{
  g_autofree char *name = sysem_test_legacy_name (key);
  g_autofree char *dir = NULL;

  if (key_type == SYSEM_KEY_TYPE_POSIX)
    return sysem_test_native_path (name, key_type);

  dir = sysem_test_temp_dir ();
  return g_build_filename (dir, name, NULL);
}

/* Something, even a dangling link, has this name. */
gboolean
sysem_test_path_exists (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0;
}

/* Nothing of @key is left in the file system. (A System V set cannot be
 * found once its key file is gone; see sysem_test_semid_exists().) */
gboolean
sysem_test_key_is_clean (const char   *key,
                         SysemKeyType  key_type)
{
  g_autofree char *path = sysem_test_key_path (key, key_type);
  struct stat st;

  return lstat (path, &st) == -1 && errno == ENOENT;
}

void
sysem_test_assert_key_clean (const char   *key,
                             SysemKeyType  key_type)
{
  g_autofree char *path = sysem_test_key_path (key, key_type);
  struct stat st;

  if (lstat (path, &st) == 0)
    g_error ("%s was left behind by key “%s”", path, key);
  g_assert_cmpint (errno, ==, ENOENT);
}

/* semctl() takes this union; glibc does not define it. */
union sysem_test_semun {
  int              val;
  struct semid_ds *buf;
  unsigned short  *array;
};

/* IPC_STAT of @semid; FALSE when the set is gone. */
static gboolean
sysv_stat (int              semid,
           struct semid_ds *ds)
{
  union sysem_test_semun arg = { .buf = ds };

  if (semctl (semid, 0, IPC_STAT, arg) == 0)
    return TRUE;

  g_assert_true (errno == EINVAL || errno == EIDRM);
  return FALSE;
}

gboolean
sysem_test_semid_exists (int semid)
{
  struct semid_ds ds;

  return sysv_stat (semid, &ds);
}

/* Whether the set @semid made for @ipc_key is still in the kernel. A new
 * set that reuses the id for another key does not count. */
gboolean
sysem_test_sysv_set_alive (int   semid,
                           key_t ipc_key)
{
  struct semid_ds ds;

  return sysv_stat (semid, &ds) && ds.sem_perm.__key == ipc_key;
}

/* The kernel key of the live set @semid. */
key_t
sysem_test_sysv_key (int semid)
{
  struct semid_ds ds;

  g_assert_true (sysv_stat (semid, &ds));
  return ds.sem_perm.__key;
}

/* Operations that must succeed */

/* Opens @key, failing the test on an error. */
SysemSemaphore *
sysem_test_open (const char      *key,
                 SysemKeyType     key_type,
                 int              initial_value,
                 SysemAccessMode  mode)
{
  g_autoptr(GError) error = NULL;
  SysemSemaphore *sem;

  sem = sysem_semaphore_new_full (key, key_type, initial_value, mode, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sem);
  return sem;
}

int
sysem_test_value (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;
  int value = sysem_semaphore_get_value (sem, &error);

  g_assert_no_error (error);
  g_assert_cmpint (value, >=, 0);
  return value;
}

void
sysem_test_assert_value (SysemSemaphore *sem,
                         int             value)
{
  g_assert_cmpint (sysem_test_value (sem), ==, value);
}

void
sysem_test_acquire (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_acquire (sem, NULL, &error));
  g_assert_no_error (error);
}

void
sysem_test_release (SysemSemaphore *sem,
                    int             n)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (sysem_semaphore_release (sem, n, &error));
  g_assert_no_error (error);
}

/* Waits racing their end. N_RACE_WAITERS threads wait again and again on
 * @sem (at 0, with no other user) while the calling thread, at a random
 * moment of each of @rounds rounds (up to @jitter_usec after it starts
 * them), either cancels their one cancellable (@cancel; every third round
 * it first releases a unit that a waiter may take as the cancel comes) or
 * releases a unit as their deadlines of @timeout_usec pass. It releases
 * through @releaser, @sem itself or another object on its key. Every wait
 * must end by the cancel, its deadline or a unit (a cancel that does not
 * reach a wait runs it to SYSEM_TEST_DEADLINE_USEC), and the count must
 * add up at the end: no unit lost or made. Returns how many units the
 * waits took (this process holds them). */

#define N_RACE_WAITERS 2

typedef struct {
  SysemSemaphore *sem;
  GCancellable   *cancellable;   /* NULL: waits of timeout */
  gint64          timeout;
  GAsyncQueue    *results;       /* 1: took a unit, 2: cancelled or timed out */
  int             rounds;
} WaitRace;

typedef struct {
  WaitRace       *race;
  GAsyncQueue    *go;            /* one a round */
} WaitRacer;

static gpointer
wait_race_waiter (gpointer data)
{
  WaitRacer *racer = data;
  WaitRace *r = racer->race;
  int code = r->cancellable != NULL ? G_IO_ERROR_CANCELLED : G_IO_ERROR_TIMED_OUT;

  for (int i = 0; i < r->rounds; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean taken;
      gint64 start;

      if (g_async_queue_timeout_pop (racer->go, SYSEM_TEST_DEADLINE_USEC) == NULL)
        g_error ("round %d: the main thread did not start it", i);
      start = g_get_monotonic_time ();
      taken = sysem_semaphore_try_acquire (r->sem, r->timeout, r->cancellable, &error);
      if (!taken && r->cancellable != NULL && g_get_monotonic_time () - start >= r->timeout)
        g_error ("round %d: the cancel did not reach the wait", i);
      if (!taken && !g_error_matches (error, G_IO_ERROR, code))
        g_error ("round %d: %s", i, error->message);
      g_async_queue_push (r->results, GINT_TO_POINTER (taken ? 1 : 2));
    }

  return NULL;
}

int
sysem_test_wait_race (SysemSemaphore *sem,
                      SysemSemaphore *releaser,
                      gboolean        cancel,
                      gint64          timeout_usec,
                      gint64          jitter_usec,
                      int             rounds)
{
  WaitRace r = { NULL, };
  WaitRacer racers[N_RACE_WAITERS];
  GThread *threads[N_RACE_WAITERS];
  int released = 0, taken = 0;

  r.sem = sem;
  r.cancellable = cancel ? g_cancellable_new () : NULL;
  r.timeout = cancel ? SYSEM_TEST_DEADLINE_USEC : timeout_usec;
  r.results = g_async_queue_new ();
  r.rounds = rounds;
  for (int j = 0; j < N_RACE_WAITERS; j++)
    {
      racers[j].race = &r;
      racers[j].go = g_async_queue_new ();
      threads[j] = g_thread_new ("wait-race", wait_race_waiter, &racers[j]);
    }

  for (int i = 0; i < r.rounds; i++)
    {
      for (int j = 0; j < N_RACE_WAITERS; j++)
        g_async_queue_push (racers[j].go, GINT_TO_POINTER (1));
      if (cancel && i % 3 == 0)
        {
          sysem_test_release (releaser, 1);
          released++;
        }
      /* A different moment of the waits each round: before they begin,
       * as they begin, while they sleep, as their deadlines pass. A busy
       * wait: a sleep would always end late by about the same. */
      for (gint64 until = g_get_monotonic_time () + g_test_rand_int_range (0, (gint32) jitter_usec);
           g_get_monotonic_time () < until;)
        ;
      if (cancel)
        g_cancellable_cancel (r.cancellable);
      else
        {
          sysem_test_release (releaser, 1);
          released++;
        }

      for (int j = 0; j < N_RACE_WAITERS; j++)
        {
          gpointer result = g_async_queue_timeout_pop (r.results, 2 * SYSEM_TEST_DEADLINE_USEC);

          g_assert_nonnull (result);
          taken += GPOINTER_TO_INT (result) == 1;
        }
      if (cancel)
        g_cancellable_reset (r.cancellable);
    }

  for (int j = 0; j < N_RACE_WAITERS; j++)
    {
      g_thread_join (threads[j]);
      g_async_queue_unref (racers[j].go);
    }
  g_test_message ("%d units released, %d taken by waits as they ended", released, taken);
  sysem_test_assert_value (sem, released - taken);

  g_clear_object (&r.cancellable);
  g_async_queue_unref (r.results);
  return taken;
}

/* No unit is free: try_acquire (0) runs out of time. */
void
sysem_test_assert_no_unit (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

/* The semaphore was removed under the object. */
void
sysem_test_assert_removed (SysemSemaphore *sem)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (sysem_semaphore_get_value (sem, &error), ==, -1);
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
}

/* Checks that @error has @code and names @key as an error message shows
 * it: valid UTF-8, at most 77 characters of it before an ellipsis. */
void
sysem_test_assert_error_names_key (const GError *error,
                                   GQuark        domain,
                                   int           code,
                                   const char   *key)
{
  g_autofree char *shown = g_utf8_make_valid (key, -1);

  g_assert_nonnull (error);
  if (!g_error_matches (error, domain, code))
    g_error ("expected error %s:%d, got %s:%d: %s", g_quark_to_string (domain), code,
             g_quark_to_string (error->domain), error->code, error->message);

  if (g_utf8_strlen (shown, -1) > 80)
    *g_utf8_offset_to_pointer (shown, 77) = '\0';

  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  if (strstr (error->message, shown) == NULL)
    g_error ("the message “%s” does not name the key “%s”", error->message, shown);
}

/* Opening @key (with one unit) fails with @code, and the message names
 * the key. */
void
sysem_test_assert_open_fails (const char      *key,
                              SysemKeyType     key_type,
                              SysemAccessMode  mode,
                              int              code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;

  sem = sysem_semaphore_new_full (key, key_type, 1, mode, &error);
  g_assert_null (sem);
  sysem_test_assert_error_names_key (error, SYSEM_SEMAPHORE_ERROR, code, key);
}

/* Polling */

/**
 * sysem_test_poll:
 *
 * Calls @condition until it returns %TRUE or @timeout_usec passed on the
 * monotonic clock. Returns whether it became true.
 */
gboolean
sysem_test_poll (SysemTestCondition  condition,
                 gpointer            user_data,
                 gint64              timeout_usec)
{
  gint64 deadline = g_get_monotonic_time () + timeout_usec;
  gulong pause = 100;

  for (;;)
    {
      if (condition (user_data))
        return TRUE;
      if (g_get_monotonic_time () >= deadline)
        return condition (user_data);

      g_usleep (pause);
      pause = MIN (pause * 2, 10 * 1000);
    }
}

/* Polls @condition until it holds; fails the test, saying it waited for
 * @what, when SYSEM_TEST_DEADLINE_USEC passed: a hang detector, not a
 * timing assertion. */
void
sysem_test_wait_for (SysemTestCondition  condition,
                     gpointer            user_data,
                     const char         *what)
{
  if (!sysem_test_poll (condition, user_data, SYSEM_TEST_DEADLINE_USEC))
    g_error ("gave up waiting for %s after %d s", what,
             (int) (SYSEM_TEST_DEADLINE_USEC / G_USEC_PER_SEC));
}

/* Helper processes */

struct _SysemTestHelper
{
  char    *name;
  GPid     pid;
  int      stdin_fd;
  int      stdout_fd;
  GString *buffer;
  gboolean reaped;
  int      status;
};

static void
helper_child_setup (gpointer user_data)
{
  /* A helper blocked on a semaphore must not outlive a failed test. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* The helper program (tests/common/sysem-test-helper.c). The installed
 * tests name their installed copy (tests/meson.build). */
const char *
sysem_test_helper_path (void)
{
  const char *env = g_getenv ("SYSEM_TEST_HELPER");

  return env != NULL ? env : SYSEM_TEST_HELPER;
}

/* fork() for a child that must not outlive the test: it is killed when
 * the thread that forked it ends (the test failed). -1 on failure. */
pid_t
sysem_test_fork (void)
{
  pid_t parent = getpid ();
  pid_t pid = fork ();

  if (pid == 0)
    {
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent)
        _exit (127);
    }
  return pid;
}

/* Starts @argv with pipes on its standard input and output; a failure to
 * start is a test failure. */
SysemTestHelper *
sysem_test_helper_spawn (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  SysemTestHelper *helper = g_new0 (SysemTestHelper, 1);

  helper->name = g_path_get_basename (argv[0]);
  helper->buffer = g_string_new (NULL);
  helper->stdin_fd = -1;
  helper->stdout_fd = -1;

  g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                            G_SPAWN_DO_NOT_REAP_CHILD,
                            helper_child_setup, NULL, &helper->pid,
                            &helper->stdin_fd, &helper->stdout_fd, NULL,
                            &error);
  g_assert_no_error (error);

  return helper;
}

/* Starts tests/common/sysem-test-helper on @key with options (those that
 * start with "--"; "--value" takes the next argument) and commands, and
 * waits until it has opened the semaphore. */
SysemTestHelper *
sysem_test_helper_start (SysemKeyType  key_type,
                         const char   *key,
                         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  SysemTestHelper *helper;
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) sysem_test_helper_path ());
  if (key_type == SYSEM_KEY_TYPE_POSIX)
    g_ptr_array_add (argv, (gpointer) "--posix");

  va_start (args, key);
  while ((arg = va_arg (args, const char *)) != NULL && g_str_has_prefix (arg, "--"))
    {
      g_ptr_array_add (argv, (gpointer) arg);
      if (g_str_equal (arg, "--value"))
        g_ptr_array_add (argv, va_arg (args, gpointer));
    }
  g_ptr_array_add (argv, (gpointer) key);
  for (; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  helper = sysem_test_helper_spawn ((const char * const *) argv->pdata);
  sysem_test_helper_expect_line (helper, "opened");
  return helper;
}

GPid
sysem_test_helper_get_pid (SysemTestHelper *helper)
{
  return helper->pid;
}

/* Writes @line and a newline to the helper's standard input. */
void
sysem_test_helper_send (SysemTestHelper *helper,
                        const char      *line)
{
  g_autofree char *text = g_strconcat (line, "\n", NULL);
  gsize len = strlen (text);
  gsize done = 0;

  g_assert_cmpint (helper->stdin_fd, !=, -1);

  while (done < len)
    {
      gssize n = write (helper->stdin_fd, text + done, len - done);

      if (n == -1 && errno == EINTR)
        continue;
      if (n == -1)
        g_error ("writing to %s: %s", helper->name, g_strerror (errno));
      done += n;
    }
}

/* The next line the helper writes, without its newline (at the end of its
 * output, what is left of an unterminated line); %NULL at the end of its
 * output or when @timeout_usec passed. */
static char *
helper_read_line (SysemTestHelper *helper,
                  gint64           timeout_usec)
{
  gint64 deadline = g_get_monotonic_time () + timeout_usec;

  for (;;)
    {
      char *newline = memchr (helper->buffer->str, '\n', helper->buffer->len);
      struct pollfd pfd = { helper->stdout_fd, POLLIN, 0 };
      char chunk[512];
      gint64 left;
      gssize n;
      int res;

      if (newline != NULL)
        {
          gsize len = newline - helper->buffer->str;
          char *line = g_strndup (helper->buffer->str, len);

          g_string_erase (helper->buffer, 0, len + 1);
          return line;
        }

      if (helper->stdout_fd == -1)
        {
          char *rest;

          if (helper->buffer->len == 0)
            return NULL;
          rest = g_strndup (helper->buffer->str, helper->buffer->len);
          g_string_truncate (helper->buffer, 0);
          return rest;
        }

      left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        return NULL;

      res = poll (&pfd, 1, (int) MIN (left / 1000 + 1, G_MAXINT));
      if (res == -1 && errno == EINTR)
        continue;
      if (res == -1)
        g_error ("poll: %s", g_strerror (errno));
      if (res == 0)
        continue;

      n = read (helper->stdout_fd, chunk, sizeof chunk);
      if (n == -1 && errno == EINTR)
        continue;
      if (n == -1)
        g_error ("reading from %s: %s", helper->name, g_strerror (errno));
      if (n == 0)
        {
          close (helper->stdout_fd);
          helper->stdout_fd = -1;
          continue;
        }
      g_string_append_len (helper->buffer, chunk, n);
    }
}

/* The next line, which must come before the deadline. */
static char *
helper_next_line (SysemTestHelper *helper,
                  const char      *expected)
{
  char *got = helper_read_line (helper, SYSEM_TEST_DEADLINE_USEC);

  if (got == NULL)
    g_error ("%s (pid %d): expected “%s”, got %s", helper->name, (int) helper->pid,
             expected, helper->stdout_fd == -1 ? "the end of its output" : "nothing in time");
  return got;
}

/* Fails the test unless the next line is @line. */
void
sysem_test_helper_expect_line (SysemTestHelper *helper,
                               const char      *line)
{
  g_autofree char *got = helper_next_line (helper, line);

  g_assert_cmpstr (got, ==, line);
}

/* Reads a line, checks that it starts with @word and a space, and returns
 * the rest. */
char *
sysem_test_helper_expect_word (SysemTestHelper *helper,
                               const char      *word)
{
  g_autofree char *got = helper_next_line (helper, word);
  gsize len = strlen (word);

  if (strncmp (got, word, len) != 0 || got[len] != ' ')
    g_error ("expected “%s …” from %s, got “%s”", word, helper->name, got);

  return g_strdup (got + len + 1);
}

/* Sends @command, then expects each of the lines that follow, up to
 * %NULL: the helper's answer. */
void
sysem_test_helper_command (SysemTestHelper *helper,
                           const char      *command,
                           ...)
{
  const char *line;
  va_list args;

  sysem_test_helper_send (helper, command);

  va_start (args, command);
  while ((line = va_arg (args, const char *)) != NULL)
    sysem_test_helper_expect_line (helper, line);
  va_end (args);
}

/* Closes the helper's standard input: a helper that waits for the end of
 * its input goes on. */
void
sysem_test_helper_close_stdin (SysemTestHelper *helper)
{
  if (helper->stdin_fd != -1)
    {
      close (helper->stdin_fd);
      helper->stdin_fd = -1;
    }
}

static gboolean
helper_reaped (gpointer user_data)
{
  SysemTestHelper *helper = user_data;
  pid_t res = waitpid (helper->pid, &helper->status, WNOHANG);

  if (res == -1 && errno != EINTR)
    g_error ("waitpid: %s", g_strerror (errno));
  helper->reaped = res == helper->pid;
  return helper->reaped;
}

/* Waits for the helper to end. Returns its exit code, or 128 plus the
 * signal that killed it. */
int
sysem_test_helper_wait (SysemTestHelper *helper)
{
  if (!helper->reaped && !sysem_test_poll (helper_reaped, helper, SYSEM_TEST_DEADLINE_USEC))
    g_error ("%s (pid %d) did not end", helper->name, (int) helper->pid);

  if (WIFEXITED (helper->status))
    return WEXITSTATUS (helper->status);
  if (WIFSIGNALED (helper->status))
    return 128 + WTERMSIG (helper->status);
  return -1;
}

/* Closes the helper's standard input (a helper ends at the end of its
 * input) and waits for it. Returns its exit status; the test fails if a
 * signal killed it. */
int
sysem_test_helper_finish (SysemTestHelper *helper)
{
  int status;

  sysem_test_helper_close_stdin (helper);
  status = sysem_test_helper_wait (helper);

  if (!WIFEXITED (helper->status))
    g_error ("%s (pid %d) was killed by signal %d", helper->name, (int) helper->pid,
             WTERMSIG (helper->status));
  return status;
}

/* Expects @last_line (unless %NULL), then the helper's successful exit;
 * frees the helper. */
void
sysem_test_helper_complete (SysemTestHelper *helper,
                            const char      *last_line)
{
  if (last_line != NULL)
    sysem_test_helper_expect_line (helper, last_line);
  g_assert_cmpint (sysem_test_helper_finish (helper), ==, 0);
  sysem_test_helper_free (helper);
}

/* Kills the helper with SIGKILL, as a crash would, and waits for it;
 * returns what sysem_test_helper_wait() returns. */
int
sysem_test_helper_kill (SysemTestHelper *helper)
{
  if (!helper->reaped)
    kill (helper->pid, SIGKILL);

  return sysem_test_helper_wait (helper);
}

/* Frees the helper, killing it first if it still runs. */
void
sysem_test_helper_free (SysemTestHelper *helper)
{
  if (helper == NULL)
    return;

  if (!helper->reaped)
    sysem_test_helper_kill (helper);

  sysem_test_helper_close_stdin (helper);
  if (helper->stdout_fd != -1)
    close (helper->stdout_fd);
  g_string_free (helper->buffer, TRUE);
  g_spawn_close_pid (helper->pid);
  g_free (helper->name);
  g_free (helper);
}
