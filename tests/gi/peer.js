// peer.js: the other process of the cross-language tests, in GJS
//
// SPDX-FileCopyrightText: 2026 The sysem authors
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Run as `gjs -m peer.js`. Speaks the line protocol of peer.py: one command
// a line on standard input, one answer a line on standard output.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sysem from 'gi://Sysem?version=1';
import System from 'system';

const KEY_TYPES = {
    sysv: Sysem.KeyType.SYSTEM_V,
    posix: Sysem.KeyType.POSIX,
};

const stdin = new Gio.DataInputStream({
    base_stream: new Gio.UnixInputStream({fd: 0, close_fd: false}),
});
let sem = null;

// A unit if one is free; running out of time throws G_IO_ERROR_TIMED_OUT.
function tryAcquireNow() {
    try {
        return sem.try_acquire(0, null);
    } catch (e) {
        if (e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT))
            return false;
        throw e;
    }
}

function say(line) {
    // print() goes through g_print(), which flushes standard output.
    print(line);
}

function handle(words) {
    const [command, ...args] = words;

    switch (command) {
    case 'open':
        sem = Sysem.Semaphore.new_full(args[0], KEY_TYPES[args[1]], 0,
            Sysem.AccessMode.OPEN);
        say(`opened ${sem.get_value()}`);
        break;
    case 'try':
        say(tryAcquireNow() ? 'true' : 'false');
        break;
    case 'acquire':
        if (!tryAcquireNow()) {
            say('waiting');
            sem.acquire(null);
        }
        say('acquired');
        break;
    case 'release':
        sem.release(Number.parseInt(args[0], 10));
        say('released');
        break;
    case 'value':
        say(`value ${sem.get_value()}`);
        break;
    default:
        say(`error peer 0 unknown command ${command}`);
    }
}

for (;;) {
    const [line] = stdin.read_line_utf8(null);
    if (line === null)
        break;
    const words = line.split(/\s+/).filter(w => w.length > 0);
    if (words.length === 0)
        continue;
    if (words[0] === 'quit')
        break;
    try {
        handle(words);
    } catch (e) {
        if (!(e instanceof GLib.Error))
            throw e;
        say(`error ${GLib.quark_to_string(e.domain)} ${e.code} ${e.message}`);
    }
}

// Leave the semaphore now: a garbage-collected object may outlive the loop.
if (sem !== null)
    sem.set_key(null, 0, Sysem.AccessMode.OPEN);
System.exit(0);
