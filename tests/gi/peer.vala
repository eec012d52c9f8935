/* peer.vala: the other process of the cross-language tests, in Vala
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Speaks the line protocol of peer.py: one command a line on standard
 * input, one answer a line on standard output.
 */

Sysem.Semaphore? sem = null;

void say (string line) {
    stdout.printf ("%s\n", line);
    stdout.flush ();
}

/* A unit if one is free; running out of time throws IOError.TIMED_OUT. */
bool try_acquire_now () throws GLib.Error {
    try {
        return sem.try_acquire (0);
    } catch (IOError.TIMED_OUT e) {
        return false;
    }
}

void handle (string[] words) throws GLib.Error {
    switch (words[0]) {
    case "open":
        var key_type = words[2] == "posix" ? Sysem.KeyType.POSIX : Sysem.KeyType.SYSTEM_V;
        sem = new Sysem.Semaphore.full (words[1], key_type, 0, Sysem.AccessMode.OPEN);
        say ("opened %d".printf (sem.get_value ()));
        break;
    case "try":
        say (try_acquire_now () ? "true" : "false");
        break;
    case "acquire":
        if (!try_acquire_now ()) {
            say ("waiting");
            sem.acquire ();
        }
        say ("acquired");
        break;
    case "release":
        sem.release (int.parse (words[1]));
        say ("released");
        break;
    case "value":
        say ("value %d".printf (sem.get_value ()));
        break;
    default:
        say ("error peer 0 unknown command %s".printf (words[0]));
        break;
    }
}

int main (string[] args) {
    string? line;

    while ((line = stdin.read_line ()) != null) {
        string[] words = {};

        foreach (unowned string word in line.split_set (" \t")) {
            if (word != "")
                words += word;
        }
        if (words.length == 0)
            continue;
        if (words[0] == "quit")
            break;

        try {
            handle (words);
        } catch (GLib.Error e) {
            say ("error %s %d %s".printf (e.domain.to_string (), e.code, e.message));
        }
    }

    sem = null;
    return 0;
}
