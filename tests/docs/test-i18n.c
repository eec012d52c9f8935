/* test-i18n.c: the library's messages come back translated
 *
 * Each case runs in a fresh subprocess that switches to a language, makes a
 * real operation fail and compares the GError message with the translation.
 * The catalogues are the ones just built in <builddir>/po, found through
 * SYSEM_LOCALEDIR, which the test environment sets.
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <locale.h>
#include <unistd.h>

#include "sysem-test-util.h"

typedef struct {
  const char *language;       /* LANGUAGE */
  const char *locale;         /* LC_ALL */
  const char *empty_key;      /* opening "" */
  const char *release[2];     /* a release past the maximum: before and after the key */
  const char *removed[2];     /* acquiring a removed semaphore: before and after the key */
} Expected;

static const Expected expected_de = {
  "de", "de_DE.UTF-8",
  "Der Semaphor „“ konnte nicht geöffnet werden: der Schlüssel ist leer",
  { "Der Semaphor „", "“ konnte nicht freigegeben werden: der Zähler würde das Maximum von 32767 überschreiten" },
  { "Der Semaphor „", "“ konnte nicht belegt werden: er wurde entfernt" },
};

/* French puts a no-break space (U+00A0, "\302\240") inside the guillemets
 * and before the colon. */
#define NBSP "\302\240"
static const Expected expected_fr = {
  "fr", "fr_FR.UTF-8",
  "Impossible d’ouvrir le sémaphore «" NBSP NBSP "»" NBSP ": la clé est vide",
  { "Impossible de libérer le sémaphore «" NBSP, NBSP "»" NBSP ": le compteur dépasserait le maximum de 32767" },
  { "Impossible d’acquérir le sémaphore «" NBSP, NBSP "»" NBSP ": il a été supprimé" },
};
#undef NBSP

static const Expected expected_es = {
  "es", "es_ES.UTF-8",
  "No se pudo abrir el semáforo «»: la clave está vacía",
  { "No se pudo liberar el semáforo «", "»: el contador superaría el máximo de 32767" },
  { "No se pudo adquirir el semáforo «", "»: se eliminó" },
};

/* Runs in the subprocess: everything below is in @e->language. */
static void
check_language (const Expected *e)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;
  g_autofree char *key = sysem_test_key ("i18n");
  g_autofree char *mo = NULL;
  g_autofree char *want = NULL;
  const char *localedir = g_getenv ("SYSEM_LOCALEDIR");

  g_assert_nonnull (localedir);
  mo = g_build_filename (localedir, e->language, "LC_MESSAGES", "sysem-1.mo", NULL);
  if (!g_file_test (mo, G_FILE_TEST_IS_REGULAR))
    g_error ("%s was not built", mo);

  g_setenv ("LANGUAGE", e->language, TRUE);
  g_setenv ("LC_ALL", e->locale, TRUE);
  if (setlocale (LC_ALL, "") == NULL)
    g_error ("the locale %s is not installed (Debian: locales-all)", e->locale);

  /* A key the library refuses before any system call. */
  sem = sysem_semaphore_new ("", 1, SYSEM_ACCESS_MODE_OPEN, &error);
  g_assert_null (sem);
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_KEY_ERROR);
  g_assert_cmpstr (error->message, ==, e->empty_key);
  g_clear_error (&error);

  /* A release the kernel refuses: the count is already at the maximum. */
  sem = sysem_test_open (key, SYSEM_KEY_TYPE_SYSTEM_V, 0, SYSEM_ACCESS_MODE_CREATE);
  sysem_test_release (sem, 32767);
  g_assert_false (sysem_semaphore_release (sem, 1, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_OUT_OF_RESOURCES);
  want = g_strconcat (e->release[0], key, e->release[1], NULL);
  g_assert_cmpstr (error->message, ==, want);
  g_clear_error (&error);
  g_clear_pointer (&want, g_free);

  /* An acquire on a semaphore that was removed. */
  g_assert_true (sysem_semaphore_remove (sem, &error));
  g_assert_no_error (error);
  g_assert_false (sysem_semaphore_try_acquire (sem, 0, NULL, &error));
  g_assert_error (error, SYSEM_SEMAPHORE_ERROR, SYSEM_SEMAPHORE_ERROR_NOT_FOUND);
  want = g_strconcat (e->removed[0], key, e->removed[1], NULL);
  g_assert_cmpstr (error->message, ==, want);
}

static void
test_language (gconstpointer data)
{
  const Expected *e = data;

  if (g_test_subprocess ())
    {
      check_language (e);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* Without a catalogue for the language, the English text comes back. */
static void
test_untranslated (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SysemSemaphore) sem = NULL;

  if (g_test_subprocess ())
    {
      g_setenv ("LANGUAGE", "", TRUE);
      g_setenv ("LC_ALL", "C.UTF-8", TRUE);
      setlocale (LC_ALL, "");

      sem = sysem_semaphore_new ("", 1, SYSEM_ACCESS_MODE_OPEN, &error);
      g_assert_null (sem);
      g_assert_cmpstr (error->message, ==, "Could not open the semaphore “”: the key is empty");
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/i18n/german", &expected_de, test_language);
  g_test_add_data_func ("/i18n/french", &expected_fr, test_language);
  g_test_add_data_func ("/i18n/spanish", &expected_es, test_language);
  g_test_add_func ("/i18n/untranslated", test_untranslated);

  return g_test_run ();
}
