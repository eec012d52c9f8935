#!/usr/bin/python3
# test-etcd-python.py: the etcd key type from Python (PyGObject), run by
# etcd-run, which starts etcd and sets SYSEM_ETCD_ENDPOINTS.
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import threading
import unittest

import gi
gi.require_version('Sysem', '1')
from gi.repository import GLib, Gio, Sysem  # noqa: E402

ENDPOINTS = os.environ['SYSEM_ETCD_ENDPOINTS']
_counter = 0


def new_name(what):
    global _counter
    _counter += 1
    return 'sysemtest-py-%s-%d-%d' % (what, os.getpid(), _counter)


class EtcdTest(unittest.TestCase):
    def uri(self, what):
        return 'etcd://%s/%s' % (ENDPOINTS, new_name(what))

    def test_basic(self):
        uri = self.uri('basic')
        sem = Sysem.Semaphore.new_native(uri, Sysem.KeyType.ETCD, 2, Sysem.AccessMode.CREATE)
        self.assertEqual(sem.props.key_type, Sysem.KeyType.ETCD)
        self.assertEqual(sem.props.native_key, uri)
        self.assertTrue(sem.acquire(None))
        self.assertEqual(sem.get_value(), 1)
        self.assertTrue(sem.release(3))
        self.assertEqual(sem.get_value(), 4)

    def test_string_key(self):
        key = new_name('string') + ' ü/x'
        sem = Sysem.Semaphore.new_full(key, Sysem.KeyType.ETCD, 1, Sysem.AccessMode.CREATE)
        self.assertEqual(sem.props.key, key)
        self.assertTrue(sem.props.native_key.startswith('etcd://' + ENDPOINTS + '/'))
        self.assertEqual(sem.get_value(), 1)

    def test_errors(self):
        with self.assertRaises(GLib.Error) as cm:
            Sysem.Semaphore.new_native('etcd://nowhere/x', Sysem.KeyType.ETCD, 1,
                                       Sysem.AccessMode.OPEN)
        self.assertEqual(cm.exception.domain, 'sysem-semaphore-error-quark')
        self.assertEqual(cm.exception.code, Sysem.SemaphoreError.KEY_ERROR)

        sem = Sysem.Semaphore.new_native(self.uri('timeout'), Sysem.KeyType.ETCD, 0,
                                         Sysem.AccessMode.CREATE)
        with self.assertRaises(GLib.Error) as cm:
            sem.try_acquire(100000, None)
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))

        other = Sysem.Semaphore.new_native(sem.props.native_key, Sysem.KeyType.ETCD, 0,
                                           Sysem.AccessMode.OPEN)
        self.assertTrue(sem.remove())
        with self.assertRaises(GLib.Error) as cm:
            other.get_value()
        self.assertEqual(cm.exception.code, Sysem.SemaphoreError.NOT_FOUND)

    def test_async_and_threads(self):
        uri = self.uri('async')
        sem = Sysem.Semaphore.new_native(uri, Sysem.KeyType.ETCD, 0, Sysem.AccessMode.CREATE)
        other = Sysem.Semaphore.new_native(uri, Sysem.KeyType.ETCD, 0, Sysem.AccessMode.OPEN)
        loop = GLib.MainLoop()
        results = []

        def done(source, result):
            results.append(source.acquire_finish(result))
            if len(results) == 3:
                loop.quit()

        for _ in range(3):
            sem.acquire_async(None, done)
        # Released from another thread while the loop runs.
        threading.Thread(target=lambda: other.release(3)).start()
        GLib.timeout_add_seconds(60, loop.quit)
        loop.run()
        self.assertEqual(results, [True, True, True])
        self.assertEqual(other.get_value(), 0)
        sem.release(3)
        self.assertEqual(other.get_value(), 3)


if __name__ == '__main__':
    unittest.main(verbosity=2)
