// consumer.vala: the Vala program of a project that has sysem as a
// subproject, through the subproject's sysem_vapi_dep.
//
// SPDX-FileCopyrightText: 2026 The sysem authors
// SPDX-License-Identifier: LGPL-2.1-or-later

extern int getpid ();

int main (string[] args) {
    if (args.length != 2) {
        printerr ("usage: %s KEY-PREFIX\n", args[0]);
        return 2;
    }
    var key = "%s-%d".printf (args[1], getpid ());
    try {
        var sem = new Sysem.Semaphore (key, 2, Sysem.AccessMode.CREATE);
        sem.acquire ();
        if (sem.get_value () != 1) {
            printerr ("consumer: wrong value\n");
            return 1;
        }
        sem.release (1);
        sem.remove ();
    } catch (Error e) {
        printerr ("consumer: %s\n", e.message);
        return 1;
    }
    print ("sysem from the subproject works in Vala\n");
    return 0;
}
