#!/usr/bin/python3
# test-etcd-tool.py: the sysem tool with etcd URIs, run by etcd-run, which
# starts etcd and sets SYSEM_ETCD_ENDPOINTS.
#
# Usage: test-etcd-tool.py --sysem PATH --etcd-helper PATH
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import unittest

SYSEM = None
HELPER = None
ENDPOINTS = os.environ['SYSEM_ETCD_ENDPOINTS']
DEADLINE = 120.0
# Crashed helpers' leases expire soon.
os.environ['SYSEM_ETCD_TTL'] = '3'
_counter = 0


def new_uri(what):
    global _counter
    _counter += 1
    return 'etcd://%s/sysemtest-tool-%s-%d-%d' % (ENDPOINTS, what, os.getpid(), _counter)


def sysem(*args, check=True, **kwargs):
    proc = subprocess.run([SYSEM] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=DEADLINE, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError('sysem %s: %d\n%s%s' % (' '.join(args), proc.returncode,
                                                    proc.stdout, proc.stderr))
    return proc


# A command for `sysem run` that counts how many run at once in a file,
# under a lock, and fails if more than MAX do.
COUNTING = r'''
import fcntl, os, random, sys, time
path, limit = sys.argv[1], int(sys.argv[2])
def add(d):
    with open(path, 'r+') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        n = int(f.read() or 0) + d
        f.seek(0); f.truncate(); f.write(str(n))
        return n
if add(1) > limit:
    sys.exit(99)
time.sleep(random.uniform(0, 0.05))
add(-1)
'''


class EtcdToolTest(unittest.TestCase):
    def test_create_info_remove(self):
        uri = new_uri('create')
        sysem('create', uri, '-n', '3')
        info = json.loads(sysem('info', '--json', uri).stdout)
        self.assertEqual(info['type'], 'etcd')
        self.assertEqual(info['value'], 3)
        self.assertIn(uri, sysem('list', 'etcd://' + ENDPOINTS).stdout)
        self.assertIn(uri, sysem('list', '--type', 'etcd', '--names').stdout.split('\n'))
        sysem('release', uri, '2')
        self.assertEqual(json.loads(sysem('info', '--json', uri).stdout)['value'], 5)
        sysem('remove', uri)
        self.assertNotEqual(sysem('info', uri, check=False).returncode, 0)

    def test_run_slots(self):
        uri = new_uri('run')
        with tempfile.NamedTemporaryFile('w', delete=False) as f:
            f.write('0')
            counter = f.name
        try:
            procs = [subprocess.Popen([SYSEM, 'run', uri, '--slots', '2', '--',
                                       sys.executable, '-c', COUNTING, counter, '2'])
                     for _ in range(6)]
            for p in procs:
                self.assertEqual(p.wait(timeout=DEADLINE), 0)
        finally:
            os.unlink(counter)
        # The exit status is passed on.
        self.assertEqual(sysem('run', uri, '-j', '4', '--', 'sh', '-c', 'exit 7',
                               check=False).returncode, 7)

    def test_run_nonblock(self):
        uri = new_uri('nonblock')
        holder = subprocess.Popen([SYSEM, 'run', uri, '--slots', '1', '--', 'sh', '-c',
                                   'echo in; cat >/dev/null'],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  universal_newlines=True)
        self.assertEqual(holder.stdout.readline(), 'in\n')
        proc = sysem('run', uri, '-n', '-E', '42', '--', 'true', check=False)
        self.assertEqual(proc.returncode, 42)
        holder.stdin.close()
        self.assertEqual(holder.wait(timeout=DEADLINE), 0)

    def test_gc(self):
        uri = new_uri('gc')
        # What a crashed last user leaves: total and no lease.
        helper = subprocess.Popen([HELPER, '--value', '2', uri], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(helper.stdout.readline(), 'opened\n')
        helper.kill()
        helper.wait()
        # Until its lease expires it is in use; then gc takes it.
        deadline = DEADLINE
        import time
        start = time.monotonic()
        while True:
            out = sysem('gc', 'etcd://' + ENDPOINTS).stdout
            if uri in out:
                break
            self.assertLess(time.monotonic() - start, deadline, 'gc never found it stale')
            time.sleep(0.2)
        self.assertNotEqual(sysem('info', uri, check=False).returncode, 0)

    def test_bad(self):
        proc = sysem('info', 'etcd://127.0.0.1:0/x', check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn('etcd://127.0.0.1:0/x', proc.stderr)
        proc = sysem('run', 'etcd://127.0.0.1:2379/x', '--posix', '--', 'true', check=False)
        self.assertNotEqual(proc.returncode, 0)


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--sysem', required=True)
    parser.add_argument('--etcd-helper', required=True)
    args, rest = parser.parse_known_args()
    SYSEM = args.sysem
    HELPER = args.etcd_helper
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
