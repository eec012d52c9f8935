#!/usr/bin/python3
# test-python.py: the whole sysem API from Python, through PyGObject
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: test-python.py PEER-COMMAND...
#
# Runs against the typelib found on GI_TYPELIB_PATH. PEER-COMMAND starts a
# program in another language that speaks the protocol of peer.py; it shares
# a semaphore with this process.

import ctypes
import ctypes.util
import itertools
import os
import subprocess
import sys
import threading
import unittest

import gi

gi.require_version('GLib', '2.0')
gi.require_version('GObject', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Sysem', '1')
from gi.repository import GLib, Gio, Sysem  # noqa: E402

PEER_COMMAND = []
DEADLINE_SECONDS = 20

_counter = itertools.count()
_libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
_libc.ftok.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.ftok.restype = ctypes.c_int
_libc.semget.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
_libc.semget.restype = ctypes.c_int
_GETNCNT = 14


def unique_key(what):
    return 'sysemtest-gi-py-%d-%d-%s' % (os.getpid(), next(_counter), what)


def system_path(sem):
    """The file that exists while the semaphore exists."""
    native = sem.props.native_key
    if sem.props.key_type == Sysem.KeyType.POSIX:
        return '/dev/shm/sem.' + native.lstrip('/')
    return native


def sysv_semid(path):
    """The id of the System V set behind a key file, or -1."""
    key = _libc.ftok(path.encode(), ord('Q'))
    if key == -1:
        return -1
    return _libc.semget(key, 0, 0)


def sysv_waiters(sem):
    """How many processes or threads wait in the kernel for a unit."""
    semid = sysv_semid(sem.props.native_key)
    if semid == -1:
        return 0
    return _libc.semctl(semid, 0, _GETNCNT)


def wait_for(condition):
    """Iterates the main context until condition() holds, with a deadline."""
    deadline = GLib.get_monotonic_time() + DEADLINE_SECONDS * GLib.USEC_PER_SEC
    while not condition():
        if GLib.get_monotonic_time() > deadline:
            raise AssertionError('condition not met in %d s' % DEADLINE_SECONDS)
        GLib.MainContext.default().iteration(False)
        # Leave the CPU to the thread or process we wait for.
        GLib.usleep(1000)


def run_until(loop, done):
    """Runs loop until done() holds, giving up after the deadline."""
    timed_out = []

    def give_up():
        timed_out.append(True)
        loop.quit()
        return GLib.SOURCE_REMOVE

    source = GLib.timeout_add_seconds(DEADLINE_SECONDS, give_up)
    while not done() and not timed_out:
        loop.run()
    if not timed_out:
        GLib.source_remove(source)
    if not done():
        raise AssertionError('the main loop did not finish in %d s' % DEADLINE_SECONDS)


class SemaphoreTestCase(unittest.TestCase):
    def setUp(self):
        self.made = []

    def tearDown(self):
        # Remove every semaphore the test made and check that nothing is left.
        for sem in self.made:
            if sem.props.native_key is None:
                continue
            path = system_path(sem)
            semid = sysv_semid(path) if sem.props.key_type == Sysem.KeyType.SYSTEM_V else -1
            try:
                sem.remove()
            except GLib.Error as error:
                if not error.matches(Sysem.SemaphoreError.quark(), Sysem.SemaphoreError.NOT_FOUND):
                    raise
            self.assertFalse(os.path.exists(path), path)
            if semid != -1:
                self.assertEqual(_libc.semctl(semid, 0, _GETNCNT), -1)

    def assertTimedOut(self, call):
        with self.assertRaises(GLib.Error) as caught:
            call()
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT),
                        caught.exception)

    def make(self, key, key_type=Sysem.KeyType.SYSTEM_V, initial_value=1,
             mode=Sysem.AccessMode.CREATE):
        sem = Sysem.Semaphore.new_full(key, key_type, initial_value, mode)
        self.made.append(sem)
        return sem

    def assertSysemError(self, error, code):
        self.assertEqual(error.domain, 'sysem-semaphore-error-quark')
        self.assertEqual(error.code, code)
        self.assertTrue(error.matches(Sysem.SemaphoreError.quark(), code))
        self.assertTrue(error.message)


class TestOpen(SemaphoreTestCase):
    def test_new_and_open_by_key(self):
        key = unique_key('new')
        first = Sysem.Semaphore.new(key, 3, Sysem.AccessMode.CREATE)
        self.made.append(first)
        second = Sysem.Semaphore.new(key, 0, Sysem.AccessMode.OPEN)

        self.assertIsInstance(first, Sysem.Semaphore)
        self.assertIsInstance(first, Gio.Initable)
        self.assertEqual(second.get_value(), 3)
        self.assertTrue(first.acquire(None))
        self.assertEqual(second.get_value(), 2)
        self.assertTrue(second.release(1))
        self.assertEqual(first.get_value(), 3)
        self.assertTrue(os.path.exists(system_path(first)))

    def test_create_resets_and_open_keeps(self):
        key = unique_key('modes')
        first = self.make(key, initial_value=3)
        first.acquire(None)
        self.assertEqual(first.get_value(), 2)
        reset = Sysem.Semaphore.new(key, 5, Sysem.AccessMode.CREATE)
        self.assertEqual(first.get_value(), 5)
        kept = Sysem.Semaphore.new(key, 1, Sysem.AccessMode.OPEN)
        self.assertEqual(kept.get_value(), 5)
        del reset, kept

    def test_new_full_posix(self):
        key = unique_key('posix')
        sem = self.make(key, Sysem.KeyType.POSIX, 2)
        self.assertEqual(sem.props.key_type, Sysem.KeyType.POSIX)
        self.assertTrue(sem.props.native_key.startswith('/qipc_systemsem_'))
        self.assertTrue(os.path.exists(system_path(sem)))
        other = Sysem.Semaphore.new_full(key, Sysem.KeyType.POSIX, 0, Sysem.AccessMode.OPEN)
        self.assertTrue(other.acquire(None))
        self.assertEqual(sem.get_value(), 1)
        # The same key in the other key type is another semaphore.
        sysv = self.make(key, Sysem.KeyType.SYSTEM_V, 7)
        self.assertEqual(sysv.get_value(), 7)
        self.assertEqual(sem.get_value(), 1)

    def test_new_native(self):
        name = '/' + unique_key('native')
        posix = Sysem.Semaphore.new_native(name, Sysem.KeyType.POSIX, 2, Sysem.AccessMode.CREATE)
        self.made.append(posix)
        self.assertIsNone(posix.props.key)
        self.assertEqual(posix.props.native_key, name)
        self.assertEqual(posix.get_value(), 2)

        path = os.path.join(GLib.get_tmp_dir(), unique_key('native-file'))
        sysv = Sysem.Semaphore.new_native(path, Sysem.KeyType.SYSTEM_V, 4, Sysem.AccessMode.CREATE)
        self.made.append(sysv)
        self.assertIsNone(sysv.get_key())
        self.assertEqual(sysv.get_native_key(), path)
        self.assertTrue(os.path.isfile(path))
        self.assertEqual(sysv.get_value(), 4)

    def test_g_object_new_opens_on_first_use(self):
        key = unique_key('gobject-new')
        sem = Sysem.Semaphore(key=key, key_type=Sysem.KeyType.POSIX, initial_value=2,
                              mode=Sysem.AccessMode.CREATE)
        self.made.append(sem)
        self.assertEqual(sem.get_value(), 2)
        self.assertTrue(sem.init(None))


class TestAcquire(SemaphoreTestCase):
    def test_acquire_release(self):
        for key_type in (Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX):
            sem = self.make(unique_key('acquire'), key_type, 2)
            self.assertTrue(sem.acquire(None))
            self.assertTrue(sem.acquire(Gio.Cancellable()))
            self.assertEqual(sem.get_value(), 0)
            self.assertTrue(sem.release(2))
            self.assertTrue(sem.release(0))
            self.assertEqual(sem.get_value(), 2)

    def test_try_acquire(self):
        for key_type in (Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX):
            sem = self.make(unique_key('try'), key_type, 1)
            self.assertIs(sem.try_acquire(0, None), True)
            # Running out of time raises GLib.Error G_IO_ERROR_TIMED_OUT (1.1),
            # with and without a timeout.
            self.assertTimedOut(lambda: sem.try_acquire(0, None))
            self.assertTimedOut(lambda: sem.try_acquire(10 * 1000, Gio.Cancellable()))
            sem.release(1)
            self.assertIs(sem.try_acquire(DEADLINE_SECONDS * GLib.USEC_PER_SEC, None), True)
            self.assertEqual(sem.get_value(), 0)
            sem.release(1)

    def test_try_acquire_waits_for_a_release(self):
        sem = self.make(unique_key('try-wait'), initial_value=0)
        result = []
        worker = threading.Thread(target=lambda: result.append(
            sem.try_acquire(DEADLINE_SECONDS * GLib.USEC_PER_SEC, None)))
        worker.start()
        wait_for(lambda: sysv_waiters(sem) >= 1)
        sem.release(1)
        worker.join(DEADLINE_SECONDS)
        self.assertFalse(worker.is_alive())
        self.assertEqual(result, [True])
        self.assertEqual(sem.get_value(), 0)

    def test_cancel_blocked_acquire_from_timeout_source(self):
        sem = self.make(unique_key('cancel-thread'), initial_value=0)
        cancellable = Gio.Cancellable()
        errors = []

        def block():
            try:
                sem.acquire(cancellable)
                errors.append(None)
            except GLib.Error as error:
                errors.append(error)

        worker = threading.Thread(target=block)
        worker.start()

        # A timeout source in the main loop cancels once the thread waits in
        # the kernel.
        loop = GLib.MainLoop()

        def cancel_when_blocked():
            if sysv_waiters(sem) < 1:
                return GLib.SOURCE_CONTINUE
            cancellable.cancel()
            loop.quit()
            return GLib.SOURCE_REMOVE

        GLib.timeout_add(5, cancel_when_blocked)
        run_until(loop, cancellable.is_cancelled)
        worker.join(DEADLINE_SECONDS)
        self.assertFalse(worker.is_alive())
        self.assertEqual(len(errors), 1)
        self.assertIsNotNone(errors[0])
        self.assertTrue(errors[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))
        # No unit was taken or lost.
        self.assertEqual(sem.get_value(), 0)
        sem.release(1)
        self.assertIs(sem.try_acquire(0, None), True)

    def test_cancelled_beforehand(self):
        # A cancellable cancelled beforehand fails every call, even with a
        # unit free.
        cancellable = Gio.Cancellable()
        cancellable.cancel()
        for key_type in (Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX):
            sem = self.make(unique_key('cancelled'), key_type, 1)
            calls = [lambda t=t: sem.try_acquire(t, cancellable) for t in (0, 1000, -1)]
            calls.append(lambda: sem.acquire(cancellable))
            for call in calls:
                with self.assertRaises(GLib.Error) as caught:
                    call()
                self.assertTrue(caught.exception.matches(Gio.io_error_quark(),
                                                         Gio.IOErrorEnum.CANCELLED))
            self.assertEqual(sem.get_value(), 1)


class TestAsync(SemaphoreTestCase):
    def test_acquire_async_free_unit(self):
        sem = self.make(unique_key('async-free'), initial_value=1)
        loop = GLib.MainLoop()
        results = []

        def acquired_cb(source, result, user_data):
            results.append((source, source.acquire_finish(result), user_data))
            loop.quit()

        sem.acquire_async(None, acquired_cb, 'data')
        run_until(loop, lambda: results)
        self.assertEqual(results, [(sem, True, 'data')])
        self.assertEqual(sem.get_value(), 0)
        sem.release(1)

    def test_acquire_async_waits_for_a_release(self):
        for key_type in (Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX):
            sem = self.make(unique_key('async-wait'), key_type, 0)
            loop = GLib.MainLoop()
            results = []

            def acquired_cb(source, result):
                results.append(source.acquire_finish(result))
                loop.quit()

            sem.acquire_async(Gio.Cancellable(), acquired_cb)
            self.assertEqual(results, [])
            # Released from another thread while the request waits.
            releaser = threading.Thread(target=sem.release, args=(1,))
            releaser.start()
            run_until(loop, lambda: results)
            releaser.join()
            self.assertEqual(results, [True])
            self.assertEqual(sem.get_value(), 0)

    def test_acquire_async_cancel(self):
        sem = self.make(unique_key('async-cancel'), initial_value=0)
        cancellable = Gio.Cancellable()
        loop = GLib.MainLoop()
        errors = []

        def acquired_cb(source, result):
            try:
                source.acquire_finish(result)
                errors.append(None)
            except GLib.Error as error:
                errors.append(error)
            loop.quit()

        def cancel_when_blocked():
            if sysv_waiters(sem) < 1:
                return GLib.SOURCE_CONTINUE
            cancellable.cancel()
            return GLib.SOURCE_REMOVE

        sem.acquire_async(cancellable, acquired_cb)
        GLib.timeout_add(5, cancel_when_blocked)
        run_until(loop, lambda: errors)
        self.assertIsNotNone(errors[0])
        self.assertEqual(errors[0].domain, 'g-io-error-quark')
        self.assertEqual(errors[0].code, Gio.IOErrorEnum.CANCELLED)
        self.assertEqual(sem.get_value(), 0)
        sem.release(1)
        self.assertIs(sem.try_acquire(0, None), True)


class TestErrors(SemaphoreTestCase):
    def test_key_error(self):
        with self.assertRaises(GLib.Error) as caught:
            Sysem.Semaphore.new('', 1, Sysem.AccessMode.CREATE)
        self.assertSysemError(caught.exception, Sysem.SemaphoreError.KEY_ERROR)

        with self.assertRaises(GLib.Error) as caught:
            Sysem.Semaphore.new_full('', Sysem.KeyType.POSIX, 1, Sysem.AccessMode.OPEN)
        self.assertSysemError(caught.exception, Sysem.SemaphoreError.KEY_ERROR)

        with self.assertRaises(GLib.Error) as caught:
            Sysem.Semaphore.new_native('relative/name', Sysem.KeyType.SYSTEM_V, 1,
                                       Sysem.AccessMode.OPEN)
        self.assertSysemError(caught.exception, Sysem.SemaphoreError.KEY_ERROR)

    def test_out_of_resources(self):
        sem = self.make(unique_key('range'), initial_value=1)
        with self.assertRaises(GLib.Error) as caught:
            sem.release(40000)
        self.assertSysemError(caught.exception, Sysem.SemaphoreError.OUT_OF_RESOURCES)
        self.assertEqual(sem.get_value(), 1)

    def test_not_found_after_remove(self):
        sem = self.make(unique_key('removed'), initial_value=1)
        other = Sysem.Semaphore.new(sem.props.key, 0, Sysem.AccessMode.OPEN)
        self.assertTrue(sem.remove())
        for call in (other.get_value, lambda: other.acquire(None)):
            with self.assertRaises(GLib.Error) as caught:
                call()
            self.assertSysemError(caught.exception, Sysem.SemaphoreError.NOT_FOUND)

    def test_error_enum_names(self):
        self.assertEqual(int(Sysem.SemaphoreError.PERMISSION_DENIED), 1)
        self.assertEqual(int(Sysem.SemaphoreError.NOT_FOUND), 4)
        self.assertEqual(int(Sysem.SemaphoreError.UNKNOWN), 6)
        self.assertEqual(Sysem.SemaphoreError.quark(),
                         GLib.quark_from_string('sysem-semaphore-error-quark'))
        self.assertEqual(int(Sysem.AccessMode.OPEN), 0)
        self.assertEqual(int(Sysem.AccessMode.CREATE), 1)
        self.assertEqual(int(Sysem.KeyType.SYSTEM_V), 0)
        self.assertEqual(int(Sysem.KeyType.POSIX), 1)


class TestProperties(SemaphoreTestCase):
    def test_properties(self):
        key = unique_key('props')
        sem = self.make(key, Sysem.KeyType.SYSTEM_V, 3, Sysem.AccessMode.CREATE)
        self.assertEqual(sem.props.key, key)
        self.assertEqual(sem.props.initial_value, 3)
        self.assertEqual(sem.props.mode, Sysem.AccessMode.CREATE)
        self.assertEqual(sem.props.key_type, Sysem.KeyType.SYSTEM_V)
        self.assertEqual(sem.get_property('native-key'), sem.get_native_key())
        self.assertTrue(os.path.isabs(sem.props.native_key))
        self.assertEqual(sem.get_initial_value(), 3)
        self.assertEqual(sem.get_mode(), Sysem.AccessMode.CREATE)
        self.assertEqual(sem.get_key_type(), Sysem.KeyType.SYSTEM_V)

    def test_notify_on_set_key(self):
        first = unique_key('notify-a')
        second = unique_key('notify-b')
        sem = Sysem.Semaphore.new(first, 1, Sysem.AccessMode.OPEN)
        self.made.append(sem)
        first_path = system_path(sem)
        notified = []
        sem.connect('notify', lambda obj, pspec: notified.append(pspec.name))
        keys = []
        sem.connect('notify::key', lambda obj, pspec: keys.append(obj.props.key))

        self.assertTrue(sem.set_key(second, 2, Sysem.AccessMode.CREATE))
        self.assertEqual(sorted(notified), ['initial-value', 'key', 'mode', 'native-key'])
        self.assertEqual(keys, [second])
        self.assertEqual(sem.props.key, second)
        self.assertEqual(sem.props.initial_value, 2)
        self.assertEqual(sem.get_value(), 2)
        # The last user left the first key: it is gone.
        self.assertFalse(os.path.exists(first_path))

        # The same key again in Open mode changes nothing.
        del notified[:]
        self.assertTrue(sem.set_key(second, 5, Sysem.AccessMode.OPEN))
        self.assertEqual(notified, [])
        self.assertEqual(sem.props.mode, Sysem.AccessMode.CREATE)

        # Another key type.
        second_path = system_path(sem)
        self.assertTrue(sem.set_key_full(second, Sysem.KeyType.POSIX, 2, Sysem.AccessMode.OPEN))
        self.assertEqual(sorted(notified), ['key-type', 'mode', 'native-key'])
        self.assertEqual(sem.props.key_type, Sysem.KeyType.POSIX)
        self.assertFalse(os.path.exists(second_path))

        # No key at all.
        del notified[:]
        posix_path = system_path(sem)
        self.assertTrue(sem.set_key(None, 0, Sysem.AccessMode.OPEN))
        self.assertEqual(sorted(notified), ['initial-value', 'key', 'native-key'])
        self.assertEqual(keys, [second, None])
        self.assertIsNone(sem.props.key)
        self.assertIsNone(sem.props.native_key)
        self.assertFalse(os.path.exists(posix_path))

    def test_set_key_failure(self):
        sem = self.make(unique_key('set-key-fail'), initial_value=1)
        path = system_path(sem)
        with self.assertRaises(GLib.Error) as caught:
            sem.set_key('', 1, Sysem.AccessMode.OPEN)
        self.assertSysemError(caught.exception, Sysem.SemaphoreError.KEY_ERROR)
        self.assertEqual(sem.props.key, '')
        self.assertFalse(os.path.exists(path))
        with self.assertRaises(GLib.Error) as caught:
            sem.acquire(None)
        self.assertSysemError(caught.exception, Sysem.SemaphoreError.KEY_ERROR)


class Peer:
    """A program in another language that shares a semaphore with us."""

    def __init__(self, testcase):
        self.testcase = testcase
        self.process = subprocess.Popen(PEER_COMMAND, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)

    def send(self, line):
        self.process.stdin.write(line + '\n')
        self.process.stdin.flush()

    def expect(self, expected):
        line = self.process.stdout.readline().rstrip('\n')
        self.testcase.assertEqual(line, expected)

    def close(self, failed=False):
        if failed:
            self.process.kill()
        else:
            self.send('quit')
        self.process.stdin.close()
        status = self.process.wait(DEADLINE_SECONDS)
        self.process.stdout.close()
        if not failed:
            self.testcase.assertEqual(status, 0)


class TestCrossProcess(SemaphoreTestCase):
    def share(self, key_type, word):
        key = unique_key('cross-' + word)
        sem = self.make(key, key_type, 1)
        self.assertTrue(sem.acquire(None))

        peer = Peer(self)
        failed = True
        try:
            peer.send('open %s %s' % (key, word))
            peer.expect('opened 0')
            peer.send('try')
            peer.expect('false')

            # We hold the unit, the peer waits for it.
            peer.send('acquire')
            peer.expect('waiting')
            sem.release(1)
            peer.expect('acquired')
            self.assertTimedOut(lambda: sem.try_acquire(0, None))

            # The peer holds it, we wait for it asynchronously.
            loop = GLib.MainLoop()
            results = []

            def acquired_cb(source, result):
                results.append(source.acquire_finish(result))
                loop.quit()

            sem.acquire_async(None, acquired_cb)
            peer.send('release 1')
            peer.expect('released')
            run_until(loop, lambda: results)
            self.assertEqual(results, [True])

            peer.send('value')
            peer.expect('value 0')
            sem.release(1)
            peer.send('value')
            peer.expect('value 1')
            failed = False
        finally:
            peer.close(failed)
        self.assertEqual(sem.get_value(), 1)

    def test_share_system_v(self):
        self.share(Sysem.KeyType.SYSTEM_V, 'sysv')

    def test_share_posix(self):
        self.share(Sysem.KeyType.POSIX, 'posix')


if __name__ == '__main__':
    PEER_COMMAND = sys.argv[1:]
    if not PEER_COMMAND:
        sys.exit('usage: test-python.py PEER-COMMAND...')
    unittest.main(argv=sys.argv[:1], verbosity=2)
