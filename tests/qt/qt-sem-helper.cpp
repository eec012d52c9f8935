/* qt-sem-helper.cpp: a QSystemSemaphore driven line by line from stdin
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Built once against Qt 5 and once against Qt 6, so that the interoperability
 * test can put real Qt programs on the other side of a sysem semaphore.
 *
 *   qt-sem-helper KEY open|create INITIAL [deferred]
 *
 * KEY is taken as UTF-8. On start the helper prints
 *
 *   qt VERSION             the Qt it runs against
 *   tmp PATH               QDir::tempPath()
 *   file PATH              the key file, derived the way Qt derives it
 *
 * then, at once or, with "deferred", when it reads the line "open", it makes
 * its QSystemSemaphore and prints
 *
 *   ready                  or "error CODE TEXT" (then it exits with status 1)
 *
 * and then answers one line per command read on stdin:
 *
 *   acquire       "acquiring" before it blocks, then "acquired" or "error …"
 *   release N     "released" or "error …"
 *   count FILE N  N times: acquire, add one to the number in FILE, release;
 *                 then "counted" (the test checks that no addition was lost)
 *   exit          "bye", then it exits normally (the QSystemSemaphore is
 *                 destroyed: Qt removes the set if this process created it)
 *
 * End of file on stdin is taken as "exit". Units still acquired are never
 * released by the helper: the kernel gives them back (Qt uses SEM_UNDO).
 *
 * Qt 5 and Qt 6.4 have no API that tells the key file of a
 * QSystemSemaphore, so "file" is computed here with Qt's own classes, in
 * the documented form: the temporary directory, "qipc_systemsem_", the key's
 * ASCII letters, and the hexadecimal SHA-1 of its UTF-8 bytes. The test
 * checks that the file really appears there once Qt has opened the key. */

#include <QtCore/QCryptographicHash>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QString>
#include <QtCore/QSystemSemaphore>
#include <QtCore/QtGlobal>

#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>

static void
say (const char *line)
{
  std::fputs (line, stdout);
  std::fputc ('\n', stdout);
  std::fflush (stdout);
}

static void
say_error (const QSystemSemaphore &sem)
{
  QByteArray text = sem.errorString ().toUtf8 ();

  std::printf ("error %d %s\n", int (sem.error ()), text.constData ());
  std::fflush (stdout);
}

static QString
key_file_for (const QString &key)
{
  QString name = QStringLiteral ("qipc_systemsem_");

  for (QChar ch : key)
    {
      ushort u = ch.unicode ();

      if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'))
        name.append (ch);
    }

  name.append (QString::fromLatin1 (QCryptographicHash::hash (key.toUtf8 (),
                                                              QCryptographicHash::Sha1).toHex ()));

  return QDir::tempPath () + QLatin1Char ('/') + name;
}

/* Reads the number in @path and writes it back plus one. Only safe while
 * the semaphore is held, which is what the test checks. */
static bool
add_one (const char *path)
{
  std::FILE *f = std::fopen (path, "r+");
  long n = 0;
  bool ok;

  if (f == nullptr)
    return false;

  ok = std::fscanf (f, "%ld", &n) == 1 &&
       std::fseek (f, 0, SEEK_SET) == 0 &&
       std::fprintf (f, "%ld\n", n + 1) > 0;
  ok = std::fclose (f) == 0 && ok;

  return ok;
}

int
main (int    argc,
      char **argv)
{
  char line[256];

  std::setlocale (LC_ALL, "");

  if (argc < 4 || argc > 5 ||
      (std::strcmp (argv[2], "open") != 0 && std::strcmp (argv[2], "create") != 0) ||
      (argc == 5 && std::strcmp (argv[4], "deferred") != 0))
    {
      std::fprintf (stderr, "usage: %s KEY open|create INITIAL [deferred]\n", argv[0]);
      return 2;
    }

  const QString key = QString::fromUtf8 (argv[1]);
  const QSystemSemaphore::AccessMode mode =
    std::strcmp (argv[2], "create") == 0 ? QSystemSemaphore::Create : QSystemSemaphore::Open;
  const int initial = std::atoi (argv[3]);

  std::printf ("qt %s\n", qVersion ());
  std::printf ("tmp %s\n", QFile::encodeName (QDir::tempPath ()).constData ());
  std::printf ("file %s\n", QFile::encodeName (key_file_for (key)).constData ());
  std::fflush (stdout);

  if (argc == 5)
    {
      if (std::fgets (line, sizeof line, stdin) == nullptr ||
          std::strcmp (line, "open\n") != 0)
        return 2;
    }

  QSystemSemaphore sem (key, initial, mode);

  if (sem.error () != QSystemSemaphore::NoError)
    {
      say_error (sem);
      return 1;
    }
  say ("ready");

  while (std::fgets (line, sizeof line, stdin) != nullptr)
    {
      line[std::strcspn (line, "\n")] = '\0';

      if (std::strcmp (line, "acquire") == 0)
        {
          say ("acquiring");
          if (sem.acquire ())
            say ("acquired");
          else
            say_error (sem);
        }
      else if (std::strncmp (line, "release ", 8) == 0)
        {
          if (sem.release (std::atoi (line + 8)))
            say ("released");
          else
            say_error (sem);
        }
      else if (std::strncmp (line, "count ", 6) == 0)
        {
          char *space = std::strrchr (line + 6, ' ');
          bool ok = space != nullptr;

          if (ok)
            *space = '\0';
          for (int i = ok ? std::atoi (space + 1) : 0; ok && i > 0; i--)
            ok = sem.acquire () && add_one (line + 6) && sem.release ();

          if (ok)
            say ("counted");
          else
            say_error (sem);
        }
      else if (std::strcmp (line, "exit") == 0)
        {
          break;
        }
      else
        {
          std::printf ("error 0 unknown command: %s\n", line);
          std::fflush (stdout);
        }
    }

  say ("bye");
  return 0;
}
