// test-etcd-gjs.js: the etcd key type from GJS, run by etcd-run, which
// starts etcd and sets SYSEM_ETCD_ENDPOINTS.
//
// SPDX-FileCopyrightText: 2026 The sysem authors
// SPDX-License-Identifier: LGPL-2.1-or-later

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sysem from 'gi://Sysem?version=1';
import System from 'system';

function check(cond, what) {
    if (!cond) {
        printerr(`FAIL: ${what}`);
        System.exit(1);
    }
}

const endpoints = GLib.getenv('SYSEM_ETCD_ENDPOINTS');
const uri = `etcd://${endpoints}/sysemtest-gjs-${new Date().getTime()}-${Math.floor(Math.random() * 1e6)}`;

let sem = Sysem.Semaphore.new_native(uri, Sysem.KeyType.ETCD, 1, Sysem.AccessMode.CREATE);
check(sem.key_type === Sysem.KeyType.ETCD, 'key type');
check(sem.acquire(null), 'acquire');
check(sem.get_value() === 0, 'value 0');

let timedOut = false;
try {
    sem.try_acquire(100000, null);
} catch (e) {
    timedOut = e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT);
}
check(timedOut, 'try_acquire times out');

// An asynchronous acquire, served once the unit comes back.
const loop = new GLib.MainLoop(null, false);
let got = false;
sem.acquire_async(null, (obj, res) => {
    got = obj.acquire_finish(res);
    loop.quit();
});
GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
    sem.release(1);
    return GLib.SOURCE_REMOVE;
});
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 60, () => {
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
loop.run();
check(got, 'acquire_async');
check(sem.release(1), 'release');
check(sem.get_value() === 1, 'value 1');

let notFound = false;
try {
    Sysem.Semaphore.new_native('etcd://127.0.0.1:2379/a/b', Sysem.KeyType.ETCD, 1, Sysem.AccessMode.OPEN);
} catch (e) {
    notFound = e.matches(Sysem.SemaphoreError, Sysem.SemaphoreError.KEY_ERROR);
}
check(notFound, 'bad URI is a KEY_ERROR');
sem = null;
System.gc();
print('ok');
