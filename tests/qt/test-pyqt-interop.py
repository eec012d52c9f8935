#!/usr/bin/python3
# test-pyqt-interop.py: a PyQt program and a sysem Python program on one semaphore
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   test-pyqt-interop.py PyQt5|PyQt6
#
# The test process uses sysem through GObject introspection; a second
# process, this same file run with --helper, uses QSystemSemaphore from
# PyQt. A unit held on one side makes the other side wait; "waits" is read
# from the kernel (semctl GETNCNT), never guessed from time. Every case
# checks that it leaves no System V set and no key file. Output is TAP.
#
# The helper speaks the line protocol of qt-sem-helper.cpp: it prints
# "ready", then per command on stdin: "acquire" -> "acquiring", "acquired";
# "release N" -> "released"; "exit" -> "bye".

import ctypes
import errno
import gc
import importlib
import os
import selectors
import subprocess
import sys
import threading
import time

DEADLINE = 20.0  # seconds; only reached when something is broken



def try_acquire_now(sem):
    """A unit if one is free; running out of time raises TIMED_OUT (1.1)."""
    from gi.repository import Gio, GLib
    try:
        return sem.try_acquire(0, None)
    except GLib.Error as e:
        if e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
            return False
        raise

def helper_main(binding, key, mode, initial):
    QtCore = importlib.import_module(binding + '.QtCore')
    QSystemSemaphore = QtCore.QSystemSemaphore
    if binding == 'PyQt6':
        modes = {'open': QSystemSemaphore.AccessMode.Open,
                 'create': QSystemSemaphore.AccessMode.Create}
        no_error = QSystemSemaphore.SystemSemaphoreError.NoError
    else:
        modes = {'open': QSystemSemaphore.Open, 'create': QSystemSemaphore.Create}
        no_error = QSystemSemaphore.NoError

    def say(line):
        sys.stdout.write(line + '\n')
        sys.stdout.flush()

    sem = QSystemSemaphore(key, int(initial), modes[mode])
    if sem.error() != no_error:
        say('error %s' % sem.errorString())
        return 1
    say('ready')

    for line in sys.stdin:
        line = line.rstrip('\n')
        if line == 'acquire':
            say('acquiring')
            say('acquired' if sem.acquire() else 'error %s' % sem.errorString())
        elif line.startswith('release '):
            ok = sem.release(int(line[8:]))
            say('released' if ok else 'error %s' % sem.errorString())
        elif line == 'exit':
            break
        else:
            say('error unknown command')

    say('bye')
    del sem
    return 0


# The test side

libc = ctypes.CDLL(None, use_errno=True)
libc.ftok.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.semget.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
libc.semctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
GETNCNT = 14
GETVAL = 12


class TestFailure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise TestFailure(what)


class Helper:
    def __init__(self, binding, key, mode, initial):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), '--helper', binding, key, mode,
             str(initial)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buffer = b''
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)

    def send(self, command):
        self.proc.stdin.write((command + '\n').encode())
        self.proc.stdin.flush()

    def read_line(self):
        deadline = time.monotonic() + DEADLINE
        while b'\n' not in self.buffer:
            left = deadline - time.monotonic()
            check(left > 0, 'the PyQt helper said nothing for %d s' % DEADLINE)
            if not self.selector.select(left):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 512)
            check(chunk, 'the PyQt helper ended early')
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b'\n', 1)
        return line.decode()

    def expect(self, line):
        got = self.read_line()
        check(got == line, 'expected "%s" from the PyQt helper, got "%s"' % (line, got))

    def exit(self):
        self.send('exit')
        self.expect('bye')
        self.proc.stdin.close()
        check(self.proc.wait(DEADLINE) == 0, 'the PyQt helper failed')
        self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.selector.close()
        for f in (self.proc.stdin, self.proc.stdout):
            if not f.closed:
                f.close()


def semid_of(path):
    key = libc.ftok(path.encode(), ord('Q'))
    check(key != -1, 'ftok (%s) failed' % path)
    semid = libc.semget(key, 0, 0)
    check(semid != -1, 'no System V set for %s' % path)
    return semid


def wait_for_waiters(semid, n):
    deadline = time.monotonic() + DEADLINE
    while True:
        waiters = libc.semctl(semid, 0, GETNCNT)
        if waiters == n:
            return
        check(time.monotonic() < deadline, '%d waiters, not %d' % (waiters, n))
        time.sleep(0.001)


def assert_gone(path, semid):
    check(not os.path.lexists(path), 'the key file %s is left' % path)
    res = libc.semctl(semid, 0, GETVAL)
    err = ctypes.get_errno()
    check(res == -1 and err in (errno.EINVAL, errno.EIDRM), 'the set %d is left' % semid)


counter = 0


def make_key(kind):
    global counter
    counter += 1
    if kind == 'unicode':
        return 'sysemtest-Grüße-日本-ключ-🙂-pyqt-%d-%d' % (os.getpid(), counter)
    return 'sysemtest-pyqt-%s-%d-%d' % (kind, os.getpid(), counter)


def test_pyqt_holds(Sysem, binding, kind):
    """PyQt holds the only unit; a sysem acquire waits until PyQt releases it."""
    key = make_key(kind)
    helper = Helper(binding, key, 'open', 1)
    try:
        helper.expect('ready')
        sem = Sysem.Semaphore.new(key, 1, Sysem.AccessMode.OPEN)
        path = sem.get_native_key()
        check(os.path.isfile(path), 'PyQt made no key file at %s' % path)
        semid = semid_of(path)

        helper.send('acquire')
        helper.expect('acquiring')
        helper.expect('acquired')
        check(not try_acquire_now(sem), 'sysem got a unit PyQt holds')

        result = {}
        waiter = threading.Thread(
            target=lambda: result.update(got=sem.try_acquire(int(DEADLINE * 1e6), None)))
        waiter.start()
        wait_for_waiters(semid, 1)
        helper.send('release 1')
        helper.expect('released')
        waiter.join()
        check(result.get('got') is True, 'sysem did not get the unit PyQt released')
        sem.release(1)
        check(sem.get_value() == 1, 'the count is not 1')

        # PyQt made the set: it removes it, and the key file, on exit.
        helper.exit()
        del sem, waiter, result
        gc.collect()
        assert_gone(path, semid)
    finally:
        helper.close()


def test_sysem_holds(Sysem, binding, kind):
    """sysem holds the only unit; PyQt's acquire waits until sysem releases it."""
    key = make_key(kind)
    sem = Sysem.Semaphore.new(key, 1, Sysem.AccessMode.CREATE)
    path = sem.get_native_key()
    semid = semid_of(path)
    sem.acquire(None)

    helper = Helper(binding, key, 'open', 1)
    try:
        helper.expect('ready')
        helper.send('acquire')
        helper.expect('acquiring')
        wait_for_waiters(semid, 1)
        sem.release(1)
        helper.expect('acquired')
        check(sem.get_value() == 0, 'the count is not 0')
        helper.send('release 1')
        helper.expect('released')
        check(sem.get_value() == 1, 'the count is not 1')

        # PyQt only opened it: sysem's last user removes it.
        helper.exit()
        check(os.path.isfile(path), 'the key file went with PyQt')
        del sem
        gc.collect()
        assert_gone(path, semid)
    finally:
        helper.close()


def main():
    if len(sys.argv) == 6 and sys.argv[1] == '--helper':
        return helper_main(*sys.argv[2:])
    if len(sys.argv) != 2 or sys.argv[1] not in ('PyQt5', 'PyQt6'):
        sys.stderr.write('usage: %s PyQt5|PyQt6\n' % sys.argv[0])
        return 2

    binding = sys.argv[1]
    import gi
    gi.require_version('Sysem', '1')
    from gi.repository import Sysem

    cases = []
    for kind in ('letters', 'unicode'):
        cases.append(('%s holds, sysem waits (%s key)' % (binding, kind),
                      test_pyqt_holds, kind))
        cases.append(('sysem holds, %s waits (%s key)' % (binding, kind),
                      test_sysem_holds, kind))

    print('1..%d' % len(cases))
    failed = 0
    for n, (name, func, kind) in enumerate(cases, 1):
        try:
            func(Sysem, binding, kind)
            print('ok %d %s' % (n, name))
        except TestFailure as e:
            failed += 1
            print('not ok %d %s' % (n, name))
            print('# %s' % e)
        sys.stdout.flush()

    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
