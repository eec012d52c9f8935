// test-gjs.js: the whole sysem API from JavaScript, through GJS
//
// SPDX-FileCopyrightText: 2026 The sysem authors
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Usage: gjs -m test-gjs.js PEER-COMMAND...
//
// Runs against the typelib found on GI_TYPELIB_PATH and prints TAP.
// PEER-COMMAND starts a program in another language that speaks the
// protocol of peer.py; it shares a semaphore with this process.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sysem from 'gi://Sysem?version=1';
import System from 'system';

Gio._promisify(Sysem.Semaphore.prototype, 'acquire_async', 'acquire_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');

const PEER_COMMAND = System.programArgs;
const DEADLINE_SECONDS = 20;

let counter = 0;
let made = [];

function uniqueKey(what) {
    return `sysemtest-gi-js-${new Gio.Credentials().get_unix_pid()}-${counter++}-${what}`;
}

function systemPath(sem) {
    if (sem.key_type === Sysem.KeyType.POSIX)
        return `/dev/shm/sem.${sem.native_key.replace(/^\//, '')}`;
    return sem.native_key;
}

function make(key, keyType = Sysem.KeyType.SYSTEM_V, initialValue = 1,
    mode = Sysem.AccessMode.CREATE) {
    const sem = Sysem.Semaphore.new_full(key, keyType, initialValue, mode);
    made.push(sem);
    return sem;
}

function assert(condition, what) {
    if (!condition)
        throw new Error(`assertion failed: ${what}`);
}

function assertEqual(actual, expected, what = '') {
    if (actual !== expected)
        throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function assertThrowsSysem(code, func) {
    try {
        func();
    } catch (e) {
        assertSysemError(e, code);
        return;
    }
    throw new Error(`no error thrown, expected Sysem.SemaphoreError ${code}`);
}

function assertTimedOut(func, what) {
    try {
        func();
    } catch (e) {
        assert(e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT),
            `${what}: ${e} is G_IO_ERROR_TIMED_OUT`);
        return;
    }
    throw new Error(`${what}: no error thrown, expected G_IO_ERROR_TIMED_OUT`);
}

function assertSysemError(e, code) {
    assert(e instanceof GLib.Error, `${e} is a GLib.Error`);
    assertEqual(e.domain, Sysem.SemaphoreError.quark(), 'domain');
    assertEqual(GLib.quark_to_string(e.domain), 'sysem-semaphore-error-quark', 'domain name');
    assertEqual(e.code, code, 'code');
    assert(e.matches(Sysem.SemaphoreError, code), 'matches()');
    assert(e.message.length > 0, 'a message');
}

// Resolves after the main loop ran a timeout source.
function timeout(ms) {
    return new Promise(resolve => {
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
            resolve();
            return GLib.SOURCE_REMOVE;
        });
    });
}

// Rejects if promise has not settled before the deadline.
function withDeadline(promise) {
    let id = 0;
    const deadline = new Promise((resolve, reject) => {
        id = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, DEADLINE_SECONDS, () => {
            id = 0;
            reject(new Error(`not settled in ${DEADLINE_SECONDS} s`));
            return GLib.SOURCE_REMOVE;
        });
    });
    return Promise.race([promise, deadline]).finally(() => {
        if (id !== 0)
            GLib.source_remove(id);
    });
}

const tests = {
    openByKey() {
        const key = uniqueKey('new');
        const first = Sysem.Semaphore.new(key, 3, Sysem.AccessMode.CREATE);
        made.push(first);
        const second = Sysem.Semaphore.new(key, 0, Sysem.AccessMode.OPEN);

        assert(first instanceof Sysem.Semaphore, 'a Sysem.Semaphore');
        assert(first instanceof Gio.Initable, 'a Gio.Initable');
        assertEqual(second.get_value(), 3, 'value seen by the second');
        assert(first.acquire(null), 'acquire');
        assertEqual(second.get_value(), 2, 'value after acquire');
        assert(second.release(1), 'release');
        assertEqual(first.get_value(), 3, 'value after release');
        assert(GLib.file_test(systemPath(first), GLib.FileTest.EXISTS), 'key file exists');
    },

    createResetsOpenKeeps() {
        const key = uniqueKey('modes');
        const first = make(key, Sysem.KeyType.SYSTEM_V, 3);
        first.acquire(null);
        Sysem.Semaphore.new(key, 5, Sysem.AccessMode.CREATE);
        assertEqual(first.get_value(), 5, 'reset by Create');
        const kept = Sysem.Semaphore.new(key, 1, Sysem.AccessMode.OPEN);
        assertEqual(kept.get_value(), 5, 'kept by Open');
    },

    newFullPosix() {
        const key = uniqueKey('posix');
        const sem = make(key, Sysem.KeyType.POSIX, 2);
        assertEqual(sem.key_type, Sysem.KeyType.POSIX, 'key type');
        assert(sem.native_key.startsWith('/qipc_systemsem_'), 'a Qt POSIX name');
        assert(GLib.file_test(systemPath(sem), GLib.FileTest.EXISTS), '/dev/shm file');
        const other = Sysem.Semaphore.new_full(key, Sysem.KeyType.POSIX, 0, Sysem.AccessMode.OPEN);
        assert(other.acquire(null), 'acquire');
        assertEqual(sem.get_value(), 1, 'value');
    },

    newNative() {
        const name = `/${uniqueKey('native')}`;
        const posix = Sysem.Semaphore.new_native(name, Sysem.KeyType.POSIX, 2,
            Sysem.AccessMode.CREATE);
        made.push(posix);
        assertEqual(posix.key, null, 'no key');
        assertEqual(posix.native_key, name, 'native key');
        assertEqual(posix.get_value(), 2, 'value');

        const path = GLib.build_filenamev([GLib.get_tmp_dir(), uniqueKey('native-file')]);
        const sysv = Sysem.Semaphore.new_native(path, Sysem.KeyType.SYSTEM_V, 4,
            Sysem.AccessMode.CREATE);
        made.push(sysv);
        assertEqual(sysv.get_native_key(), path, 'native key');
        assert(GLib.file_test(path, GLib.FileTest.IS_REGULAR), 'key file');
        assertEqual(sysv.get_value(), 4, 'value');
    },

    constructWithProperties() {
        // g_object_new() without init: the semaphore opens on first use.
        const sem = new Sysem.Semaphore({
            key: uniqueKey('construct'),
            key_type: Sysem.KeyType.POSIX,
            initial_value: 2,
            mode: Sysem.AccessMode.CREATE,
        });
        made.push(sem);
        assertEqual(sem.get_value(), 2, 'value');
        assert(sem.init(null), 'init');
        assert(GLib.file_test(systemPath(sem), GLib.FileTest.EXISTS), '/dev/shm file');
    },

    acquireRelease() {
        for (const keyType of [Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX]) {
            const sem = make(uniqueKey('acquire'), keyType, 2);
            assert(sem.acquire(null), 'acquire');
            assert(sem.acquire(new Gio.Cancellable()), 'acquire with a cancellable');
            assertEqual(sem.get_value(), 0, 'value');
            assert(sem.release(2), 'release 2');
            assert(sem.release(0), 'release 0');
            assertEqual(sem.get_value(), 2, 'value');
        }
    },

    tryAcquire() {
        for (const keyType of [Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX]) {
            const sem = make(uniqueKey('try'), keyType, 1);
            assertEqual(sem.try_acquire(0, null), true, 'free unit');
            // Running out of time throws G_IO_ERROR_TIMED_OUT (1.1).
            assertTimedOut(() => sem.try_acquire(0, null), 'no unit, no wait');
            assertTimedOut(() => sem.try_acquire(10 * 1000, new Gio.Cancellable()), 'no unit, 10 ms');
            sem.release(1);
            assertEqual(sem.try_acquire(DEADLINE_SECONDS * GLib.USEC_PER_SEC, null), true, 'with timeout');
            sem.release(1);

            // A cancellable cancelled beforehand fails every call, even
            // with a unit free.
            const cancellable = new Gio.Cancellable();
            cancellable.cancel();
            const calls = [0, 1000, -1].map(t => () => sem.try_acquire(t, cancellable));
            calls.push(() => sem.acquire(cancellable));
            for (const call of calls) {
                try {
                    call();
                    throw new Error('a cancelled call took a unit');
                } catch (e) {
                    assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), `${e} is CANCELLED`);
                }
            }
            assertEqual(sem.get_value(), 1, 'no unit taken');
        }
    },

    async acquireAsync() {
        const sem = make(uniqueKey('async'), Sysem.KeyType.SYSTEM_V, 1);
        assertEqual(await withDeadline(sem.acquire_async(null)), true, 'free unit');
        assertEqual(sem.get_value(), 0, 'value');

        // Waits until a release from the main loop.
        const pending = sem.acquire_async(new Gio.Cancellable());
        GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
            sem.release(1);
            return GLib.SOURCE_REMOVE;
        });
        assertEqual(await withDeadline(pending), true, 'after a release');
        assertEqual(sem.get_value(), 0, 'value');
    },

    async acquireAsyncCancel() {
        for (const keyType of [Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX]) {
            const sem = make(uniqueKey('async-cancel'), keyType, 0);
            const cancellable = new Gio.Cancellable();
            const pending = sem.acquire_async(cancellable);
            await timeout(10);
            cancellable.cancel();
            try {
                await withDeadline(pending);
                throw new Error('a cancelled acquire_async succeeded');
            } catch (e) {
                assert(e instanceof GLib.Error, `${e} is a GLib.Error`);
                assert(e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED), `${e} is CANCELLED`);
            }
            assertEqual(sem.get_value(), 0, 'no unit taken');
            sem.release(1);
            assertEqual(sem.try_acquire(0, null), true, 'the unit is there');
        }
    },

    errors() {
        assertThrowsSysem(Sysem.SemaphoreError.KEY_ERROR,
            () => Sysem.Semaphore.new('', 1, Sysem.AccessMode.CREATE));
        assertThrowsSysem(Sysem.SemaphoreError.KEY_ERROR,
            () => Sysem.Semaphore.new_full('', Sysem.KeyType.POSIX, 1, Sysem.AccessMode.OPEN));

        const sem = make(uniqueKey('range'), Sysem.KeyType.SYSTEM_V, 1);
        assertThrowsSysem(Sysem.SemaphoreError.OUT_OF_RESOURCES, () => sem.release(40000));
        assertEqual(sem.get_value(), 1, 'unchanged');

        const other = Sysem.Semaphore.new(sem.key, 0, Sysem.AccessMode.OPEN);
        assert(sem.remove(), 'remove');
        assertThrowsSysem(Sysem.SemaphoreError.NOT_FOUND, () => other.get_value());
        assertThrowsSysem(Sysem.SemaphoreError.NOT_FOUND, () => other.acquire(null));

        assertEqual(Sysem.SemaphoreError.PERMISSION_DENIED, 1, 'PERMISSION_DENIED');
        assertEqual(Sysem.SemaphoreError.NOT_FOUND, 4, 'NOT_FOUND');
        assertEqual(Sysem.SemaphoreError.UNKNOWN, 6, 'UNKNOWN');
        assertEqual(Sysem.AccessMode.CREATE, 1, 'CREATE');
        assertEqual(Sysem.KeyType.POSIX, 1, 'POSIX');
    },

    properties() {
        const key = uniqueKey('props');
        const sem = make(key, Sysem.KeyType.SYSTEM_V, 3, Sysem.AccessMode.CREATE);
        assertEqual(sem.key, key, 'key');
        assertEqual(sem.initial_value, 3, 'initial_value');
        assertEqual(sem.initialValue, 3, 'initialValue');
        assertEqual(sem.mode, Sysem.AccessMode.CREATE, 'mode');
        assertEqual(sem.key_type, Sysem.KeyType.SYSTEM_V, 'key_type');
        assertEqual(sem.native_key, sem.get_native_key(), 'native_key');
        assert(GLib.path_is_absolute(sem.nativeKey), 'an absolute key file');
    },

    notifyOnSetKey() {
        const first = uniqueKey('notify-a');
        const second = uniqueKey('notify-b');
        const sem = make(first, Sysem.KeyType.SYSTEM_V, 1, Sysem.AccessMode.OPEN);
        const firstPath = systemPath(sem);
        const notified = [];
        const keys = [];
        sem.connect('notify', (obj, pspec) => notified.push(pspec.name));
        sem.connect('notify::key', obj => keys.push(obj.key));

        assert(sem.set_key(second, 2, Sysem.AccessMode.CREATE), 'set_key');
        assertEqual(notified.sort().join(), 'initial-value,key,mode,native-key', 'notified');
        assertEqual(keys.join(), second, 'notify::key');
        assertEqual(sem.key, second, 'key');
        assertEqual(sem.get_value(), 2, 'value');
        assert(!GLib.file_test(firstPath, GLib.FileTest.EXISTS), 'first key left and removed');

        notified.length = 0;
        const posixPath = systemPath(sem);
        assert(sem.set_key_full(null, Sysem.KeyType.POSIX, 0, Sysem.AccessMode.CREATE), 'no key');
        assertEqual(notified.sort().join(), 'initial-value,key,key-type,native-key', 'notified');
        assertEqual(sem.key, null, 'key');
        assertEqual(sem.native_key, null, 'native key');
        assert(!GLib.file_test(posixPath, GLib.FileTest.EXISTS), 'second key left and removed');
    },

    async shareWithAnotherLanguage() {
        for (const word of ['sysv', 'posix']) {
            const keyType = word === 'posix' ? Sysem.KeyType.POSIX : Sysem.KeyType.SYSTEM_V;
            const key = uniqueKey(`cross-${word}`);
            const sem = make(key, keyType, 1);
            assert(sem.acquire(null), 'acquire');

            const peer = Gio.Subprocess.new(PEER_COMMAND,
                Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
            const input = peer.get_stdin_pipe();
            const output = new Gio.DataInputStream({base_stream: peer.get_stdout_pipe()});
            const send = line => input.write_all(new TextEncoder().encode(`${line}\n`), null);
            const expect = async expected => {
                const [line] = await withDeadline(output.read_line_async(GLib.PRIORITY_DEFAULT, null));
                assertEqual(line, expected, 'peer said');
            };

            try {
                send(`open ${key} ${word}`);
                await expect('opened 0');
                send('try');
                await expect('false');

                // We hold the unit, the peer waits for it.
                send('acquire');
                await expect('waiting');
                sem.release(1);
                await expect('acquired');
                assertTimedOut(() => sem.try_acquire(0, null), 'the peer holds it');

                // The peer holds it, we wait for it.
                const pending = sem.acquire_async(null);
                send('release 1');
                await expect('released');
                assertEqual(await withDeadline(pending), true, 'acquired after the peer released');

                send('value');
                await expect('value 0');
                sem.release(1);
                send('value');
                await expect('value 1');
                send('quit');
                input.close(null);
                await withDeadline(peer.wait_check_async(null));
            } finally {
                peer.force_exit();
            }
            assertEqual(sem.get_value(), 1, 'value');
        }
    },
};

function cleanUp() {
    for (const sem of made) {
        if (sem.native_key === null)
            continue;
        const path = systemPath(sem);
        try {
            sem.remove();
        } catch (e) {
            if (!e.matches(Sysem.SemaphoreError, Sysem.SemaphoreError.NOT_FOUND))
                throw e;
        }
        assert(!GLib.file_test(path, GLib.FileTest.EXISTS), `${path} removed`);
    }
    made = [];
}

async function main() {
    const names = Object.keys(tests);
    let failed = 0;

    print(`1..${names.length}`);
    for (const [i, name] of names.entries()) {
        try {
            try {
                // eslint-disable-next-line no-await-in-loop
                await tests[name]();
            } finally {
                cleanUp();
            }
            print(`ok ${i + 1} - ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${i + 1} - ${name}`);
            for (const line of `${e}\n${e.stack}`.split('\n'))
                print(`# ${line}`);
        }
    }
    return failed;
}

if (PEER_COMMAND.length === 0) {
    printerr('usage: gjs -m test-gjs.js PEER-COMMAND...');
    System.exit(2);
}

const loop = new GLib.MainLoop(null, false);
let status = 1;
main().then(failed => {
    status = failed === 0 ? 0 : 1;
}).catch(e => {
    print(`Bail out! ${e}`);
}).finally(() => loop.quit());
loop.run();
System.exit(status);
