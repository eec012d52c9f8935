/* install-check.vala: built by test-install.py against an installed sysem
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Uses the semaphore once, then prints "library PATH" for the libsysem it
 * was linked with at run time, so the test can check that it is the
 * installed one.
 */

[CCode (cheader_filename = "unistd.h")]
extern int getpid ();

int main (string[] args) {
    var key = "sysemtest-gi-install-vala-%d".printf (getpid ());

    try {
        var sem = new Sysem.Semaphore (key, 2, Sysem.AccessMode.CREATE);
        sem.acquire ();
        sem.release (1);
        if (sem.get_value () != 2) {
            printerr ("unexpected value %d\n", sem.get_value ());
            return 1;
        }
        sem.remove ();
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }

    try {
        string maps;
        FileUtils.get_contents ("/proc/self/maps", out maps);
        foreach (unowned string line in maps.split ("\n")) {
            var slash = line.index_of_char ('/');
            if (slash >= 0 && line.contains ("libsysem-1.so")) {
                print ("library %s\n", line.substring (slash));
                break;
            }
        }
    } catch (FileError e) {
        printerr ("%s\n", e.message);
        return 1;
    }

    return 0;
}
