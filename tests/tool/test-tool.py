#!/usr/bin/python3
# test-tool.py: the sysem command-line tool, driven as a user would
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: test-tool.py --sysem PATH --helper PATH [--qt-helper PATH]
#                     [--completion PATH] [TEST…]
#
# Every key starts with "sysemtest-" and carries the pid and a counter;
# every test removes what it made, also when it fails.

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SYSEM = None
HELPER = None
QT_HELPER = None
COMPLETION = None

# Generous: the machine is shared. Only used as deadlines, never asserted.
DEADLINE = 30.0

_counter = 0


def new_key(what):
    global _counter
    _counter += 1
    return 'sysemtest-tool-%s-%d-%d' % (what, os.getpid(), _counter)


def legacy_name(key):
    letters = ''.join(c for c in key if ('a' <= c <= 'z') or ('A' <= c <= 'Z'))
    return 'qipc_systemsem_' + letters + hashlib.sha1(key.encode('utf-8')).hexdigest()


def temp_dir():
    return os.path.realpath(os.environ.get('TMPDIR') or '/tmp')


def key_file(key):
    return os.path.join(temp_dir(), legacy_name(key))


def posix_file(key):
    return '/dev/shm/sem.' + legacy_name(key)


def sysem(*args, check=None, timeout=DEADLINE, **kwargs):
    proc = subprocess.run([SYSEM] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout,
                          **kwargs)
    if check is not None and proc.returncode != check:
        raise AssertionError('sysem %s: exit %d, expected %d\nstdout: %s\nstderr: %s'
                             % (' '.join(args), proc.returncode, check,
                                proc.stdout, proc.stderr))
    return proc


def info(key, *options):
    proc = sysem('info', '--json', *options, key)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)


def wait_until(condition, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError('timed out waiting for ' + what)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill (): look at its state.
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


class ToolTest(unittest.TestCase):

    def setUp(self):
        self.keys = []        # (key, posix)
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for key, posix in self.keys:
            options = ['--posix'] if posix else []
            sysem('remove', *options, key)
            path = posix_file(key) if posix else key_file(key)
            if os.path.lexists(path):
                os.unlink(path)

    def key(self, what, posix=False):
        key = new_key(what)
        self.keys.append((key, posix))
        return key

    def spawn(self, args, **kwargs):
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, **kwargs)
        self.procs.append(proc)
        return proc

    def assertGone(self, key, posix=False):
        options = ['--posix'] if posix else []
        self.assertIsNone(info(key, *options))
        path = posix_file(key) if posix else key_file(key)
        self.assertFalse(os.path.lexists(path), path)

    # -- run --------------------------------------------------------------

    def test_run_slots(self):
        key = self.key('slots')
        n_shells, slots = 8, 3

        with tempfile.TemporaryDirectory(prefix='sysemtest-tool-') as tmp:
            log = os.path.join(tmp, 'log')
            # Each line goes out in one write () to a file opened with
            # O_APPEND, so lines never mix. The sleep is the work that
            # makes the commands overlap, not a synchronisation.
            script = ('printf "start %s\\n" "$$" >> "$1"; sleep 0.3; '
                      'printf "end %s\\n" "$$" >> "$1"')
            shells = [subprocess.Popen([SYSEM, 'run', key, '--slots', str(slots), '--',
                                        'sh', '-c', script, 'sh', log])
                      for _ in range(n_shells)]
            for shell in shells:
                self.assertEqual(shell.wait(timeout=DEADLINE * 2), 0)

            with open(log) as f:
                lines = f.read().split('\n')

        running, most = set(), 0
        started, ended = [], []
        for line in lines:
            if not line:
                continue
            what, pid = line.split()
            if what == 'start':
                running.add(pid)
                started.append(pid)
                most = max(most, len(running))
            else:
                self.assertIn(pid, running)
                running.remove(pid)
                ended.append(pid)

        self.assertEqual(len(set(started)), n_shells)
        self.assertEqual(sorted(started), sorted(ended))
        self.assertLessEqual(most, slots)
        self.assertGreaterEqual(most, 1)
        # The last run removed the set and its key file.
        self.assertGone(key)

    def killed_gives_slot_back(self, key):
        first = self.spawn([SYSEM, 'run', key, '--slots', '1', '--',
                            'sh', '-c', 'echo "$$"; exec cat'])
        child = int(first.stdout.readline())

        second = self.spawn([SYSEM, 'run', key, '--timeout', str(DEADLINE), '--',
                             'sh', '-c', 'echo second ran'])

        # The second one waits for the slot.
        wait_until(lambda: (info(key) or {}).get('waiters') == 1, 'the second run to wait')
        self.assertIsNone(second.poll())

        first.kill()
        first.wait()

        out, _ = second.communicate(timeout=DEADLINE)
        self.assertEqual(second.returncode, 0)
        self.assertEqual(out, 'second ran\n')

        # The command of the killed run did not go on without a slot.
        wait_until(lambda: not pid_alive(child), 'the orphaned command to die')
        self.assertGone(key)
        for proc in (first, second):
            proc.stdin.close()
            proc.stdout.close()
            self.procs.remove(proc)

    def test_run_killed_gives_slot_back(self):
        self.killed_gives_slot_back(self.key('killed'))

    # The same, often enough to catch a race between the killed run's
    # undo, the second run's leaving and its removal of the set.
    def test_run_killed_gives_slot_back_loop(self):
        for i in range(300):
            self.killed_gives_slot_back(self.key('killed-loop'))

    def test_run_exit_status(self):
        key = self.key('status')

        self.assertEqual(sysem('run', key, '--', 'sh', '-c', 'exit 7').returncode, 7)
        self.assertEqual(sysem('run', key, '--', 'sh', '-c', 'kill -KILL $$').returncode,
                         128 + signal.SIGKILL)
        self.assertEqual(sysem('run', key, '--', 'true').returncode, 0)
        # Without "--", options come before KEY.
        self.assertEqual(sysem('run', '--slots', '2', key, 'sh', '-c', 'exit 3').returncode, 3)

        proc = sysem('run', key, '--', '/nonexistent/sysemtest-command')
        self.assertEqual(proc.returncode, 127)
        self.assertIn('/nonexistent/sysemtest-command', proc.stderr)
        proc = sysem('run', key, '--', '/')
        self.assertEqual(proc.returncode, 126)
        self.assertGone(key)

    def test_run_timeout(self):
        key = self.key('timeout')

        sysem('create', '-n', '0', key, check=0)
        proc = sysem('run', '--timeout', '0.1', key, '--', 'true')
        self.assertEqual(proc.returncode, 75)
        self.assertIn(key, proc.stderr)
        self.assertEqual(sysem('run', '--timeout', '0', key, '--', 'true').returncode, 75)
        sysem('release', key, check=0)
        self.assertEqual(sysem('run', '--timeout', '0', key, '--', 'true').returncode, 0)
        self.assertEqual(info(key)['value'], 1)

    def test_run_forwards_sigterm(self):
        key = self.key('forward')

        proc = self.spawn([SYSEM, 'run', key, '--',
                           'sh', '-c', 'trap "exit 9" TERM; echo ready; '
                                       'while :; do sleep 0.05; done'])
        self.assertEqual(proc.stdout.readline(), 'ready\n')
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=DEADLINE), 9)
        self.assertGone(key)

    def test_run_interrupted_wait(self):
        key = self.key('interrupt')

        sysem('create', '-n', '0', key, check=0)
        proc = self.spawn([SYSEM, 'run', key, '--', 'echo', 'never'])
        wait_until(lambda: (info(key) or {}).get('waiters') == 1, 'the run to wait')
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=DEADLINE)
        self.assertEqual(proc.returncode, 128 + signal.SIGINT)
        self.assertEqual(out, '')
        entry = info(key)
        self.assertEqual(entry['value'], 0)
        self.assertEqual(entry['waiters'], 0)
        self.assertEqual(sysem('acquire', '--timeout', '0.05', key).returncode, 75)

    def test_run_posix(self):
        key = self.key('posix', posix=True)

        self.assertEqual(sysem('run', '--posix', '--slots', '2', key, '--',
                               'sh', '-c', 'exit 4').returncode, 4)
        # The POSIX semaphore stays, with both slots free.
        entry = info(key, '--posix')
        self.assertEqual(entry['value'], 2)
        self.assertEqual(entry['users'], 0)
        self.assertTrue(entry['stale'])

    def test_run_nonblock(self):
        # flock(1)'s options: -n fails at once with the conflict exit code
        # (1 by default), -w is --timeout, -E chooses the code.
        key = self.key('nonblock')

        sysem('create', '-n', '0', key, check=0)
        proc = sysem('run', '-n', key, '--', 'echo', 'never')
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stdout, '')
        self.assertIn(key, proc.stderr)
        self.assertEqual(sysem('run', '--nonblock', key, '--', 'true').returncode, 1)
        self.assertEqual(sysem('run', '-n', '-E', '9', key, '--', 'true').returncode, 9)
        self.assertEqual(sysem('run', key, '--conflict-exit-code', '0', '-n', '--',
                               'true').returncode, 0)
        self.assertEqual(sysem('run', '-w', '0.05', key, '--', 'true').returncode, 75)
        self.assertEqual(sysem('run', '--wait', '0', key, '--', 'true').returncode, 75)
        self.assertEqual(sysem('run', '-w', '0.05', '-E', '3', key, '--', 'true').returncode, 3)
        self.assertEqual(sysem('run', '-t', '0', '-E', '4', key, '--', 'true').returncode, 4)
        entry = info(key)
        self.assertEqual(entry['value'], 0)
        self.assertEqual(entry['waiters'], 0)

        sysem('release', key, check=0)
        self.assertEqual(sysem('run', '-n', key, '--', 'sh', '-c', 'exit 5').returncode, 5)
        self.assertEqual(info(key)['value'], 1)

    def test_run_jobs(self):
        # -j N is --slots N, as in make and GNU parallel.
        key = self.key('jobs', posix=True)

        self.assertEqual(sysem('run', '--posix', '-j', '3', key, '--',
                               'sh', '-c', 'exit 4').returncode, 4)
        self.assertEqual(info(key, '--posix')['value'], 3)

    def test_run_signal_at_take(self):
        # SIGTERM the moment sysem has taken the slot, in the hand-over
        # from the wait to the command: the slot must always come back.
        # A POSIX semaphore has no kernel undo to hide a lost unit.
        key = self.key('sigtake', posix=True)

        sysem('create', '--posix', '-n', '1', key, check=0)
        proc = subprocess.run([HELPER, 'signal-on-take', '--posix', key, '200', SYSEM],
                              stdout=subprocess.PIPE, text=True, timeout=DEADLINE * 4)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        self.assertTrue(proc.stdout.startswith('ok 200 '), proc.stdout)
        self.assertEqual(info(key, '--posix')['value'], 1)

    def test_native_file_survives(self):
        # A regular file that was there before, given as a native key, is
        # never deleted: not by gc, run, or create then remove. (As root
        # it is root's, as a system file would be: one of another user who
        # is not root is refused, see below.)
        with tempfile.TemporaryDirectory(prefix='sysemtest-tool-') as tmp:
            path = os.path.join(tmp, 'sysemtest-precious')
            with open(path, 'w') as f:
                f.write('keep me\n')

            def check():
                with open(path) as f:
                    self.assertEqual(f.read(), 'keep me\n')

            if os.geteuid() == 0:
                # Another user's file: refused, naming the owner, and kept.
                os.chown(path, 65534, 65534)
                proc = sysem('run', '--native', path, '--', 'true', check=125)
                self.assertIn('belongs to another user', proc.stderr)
                self.assertIn('(65534)', proc.stderr)
                check()
                os.chown(path, 0, 0)

            self.assertEqual(info(path, '--native')['state'], 'no-set')
            sysem('gc', '--native', path, check=0)
            check()
            sysem('gc', '--dry-run', '--native', path, check=0)
            check()
            sysem('run', '--native', path, '--', 'true', check=0)
            check()
            sysem('create', '--native', path, '-n', '2', check=0)
            self.assertEqual(info(path, '--native')['value'], 2)
            check()
            sysem('remove', '--native', path, check=0)
            check()
            self.assertFalse(info(path, '--native')['exists'])
            sysem('gc', check=0)
            check()

    # -- list, info -------------------------------------------------------

    def check_list_matches(self, key, posix):
        options = ['--posix'] if posix else []
        holder = self.spawn([HELPER, 'hold'] + options + [key, '5', '2'])
        line = holder.stdout.readline()
        self.assertTrue(line.startswith('{'), line)
        stats = json.loads(line)

        proc = sysem('list', '--json', check=0)
        entries = json.loads(proc.stdout)
        self.assertIsInstance(entries, list)
        ours = [e for e in entries if e['name'] == stats['native']]
        self.assertEqual(len(ours), 1, stats['native'])
        entry = ours[0]

        self.assertEqual(entry['type'], 'posix' if posix else 'systemv')
        self.assertEqual(entry['value'], stats['value'])
        self.assertEqual(entry['value'], 3)
        self.assertEqual(entry['waiters'], stats['waiters'])
        self.assertEqual(entry['mode'], stats['mode'])
        self.assertEqual(entry['uid'], stats['uid'])
        self.assertTrue(entry['exists'])
        self.assertFalse(entry['stale'])
        self.assertEqual(entry['state'], 'in-use')
        if posix:
            self.assertEqual(entry['path'], posix_file(key))
            self.assertEqual(entry['users'], 1)
            self.assertIsNone(entry['last_pid'])
        else:
            self.assertEqual(entry['path'], key_file(key))
            self.assertEqual(entry['users'], stats['users'])
            self.assertEqual(entry['users'], 1)
            self.assertEqual(entry['last_pid'], stats['last_pid'])
            self.assertEqual(entry['last_pid'], stats['pid'])
            self.assertTrue(entry['last_pid_alive'])
            self.assertEqual(entry['id'], stats['id'])
            self.assertEqual(entry['sems'], stats['sems'])

        # info says the same about it.
        one = info(key, *options)
        self.assertEqual(one['key'], key)
        for field in ('name', 'value', 'waiters', 'users', 'last_pid', 'mode', 'uid'):
            self.assertEqual(one[field], entry[field], field)

        # The human table names it too.
        table = sysem('list', check=0).stdout
        self.assertIn(stats['native'], table)

        holder.stdin.close()
        self.assertEqual(holder.wait(timeout=DEADLINE), 0)
        self.assertGone(key, posix)

    def test_list_json_matches_library(self):
        self.check_list_matches(self.key('list'), False)

    def test_list_json_matches_library_posix(self):
        self.check_list_matches(self.key('listposix', posix=True), True)

    def test_json_escaping(self):
        # A native System V key file whose name needs escaping in JSON.
        with tempfile.TemporaryDirectory(prefix='sysemtest-tool-') as tmp:
            path = os.path.join(tmp, 'sysemtest-"quoted"\\\tname')
            with open(path, 'w'):
                pass
            entry = info(path, '--native')
            self.assertEqual(entry['name'], path)
            self.assertEqual(entry['path'], path)
            # A key file only: no set, unless ftok () happens to collide.
            self.assertIn(entry['state'], ('no-set', 'in-use', 'no-access'))

    def test_list_type_and_names(self):
        sysv_key = self.key('names')
        posix_key = self.key('namesposix', posix=True)

        sysem('create', sysv_key, check=0)
        sysem('create', '--posix', posix_key, check=0)
        posix_name = info(posix_key, '--posix')['name']

        names = sysem('list', '--names', check=0).stdout.split('\n')
        self.assertIn(key_file(sysv_key), names)
        self.assertIn(posix_name, names)
        names = sysem('list', '--names', '--type', 'posix', check=0).stdout.split('\n')
        self.assertIn(posix_name, names)
        self.assertNotIn(key_file(sysv_key), names)
        entries = json.loads(sysem('list', '--json', '--type', 'systemv', check=0).stdout)
        self.assertIn(key_file(sysv_key), [e['name'] for e in entries])
        self.assertEqual({e['type'] for e in entries}, {'systemv'})

        self.assertIn('bogus', self.check_usage_error('list', '--type', 'bogus'))
        self.check_usage_error('list', '--names', '--json')

    def test_info_crash_safety_and_holders(self):
        for posix in (False, True):
            key = self.key('ledger', posix=posix)
            options = ['--posix'] if posix else []
            holder = self.spawn([HELPER, 'hold'] + options + [key, '3', '2'])
            stats = json.loads(holder.stdout.readline())

            entry = info(key, *options)
            self.assertIsInstance(entry['crash_safe'], bool)
            self.assertIsInstance(entry['foreign_users'], bool)
            if not posix:
                # The kernel undoes a System V process's units.
                self.assertTrue(entry['crash_safe'])
                self.assertIsNone(entry['holders'])
            if entry['holders'] is not None:
                # The POSIX ledger names the helper with its two units.
                ours = [h for h in entry['holders'] if h['pid'] == stats['pid']]
                self.assertEqual(len(ours), 1, entry['holders'])
                self.assertEqual(ours[0]['units'], 2)
                self.assertTrue(ours[0]['alive'])
                self.assertTrue(ours[0]['user'])
                self.assertTrue(entry['crash_safe'])

            text = sysem('info', *options, key, check=0).stdout
            self.assertRegex(text, r'\nCrash safe: +%s\n' % ('yes' if entry['crash_safe'] else 'no'))
            if entry['holders'] is not None:
                self.assertRegex(text, r'\nHolders: +%d \(running\), 2 units, has it open\n'
                                 % stats['pid'])
            else:
                self.assertNotIn('Holders:', text)

            holder.stdin.close()
            self.assertEqual(holder.wait(timeout=DEADLINE), 0)

    def test_etcd_keys(self):
        # An etcd:// key selects the etcd key type. Port 1 on loopback has
        # no etcd: either this build has no etcd backend, or it cannot
        # reach one; both are a clear error, never a System V key.
        key = 'etcd://127.0.0.1:1/sysemtest-tool-%d' % os.getpid()

        proc = sysem('info', key)
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r'^sysem: ')
        self.assertTrue('etcd' in proc.stderr or '127.0.0.1:1' in proc.stderr, proc.stderr)
        self.assertNotIn('System V', proc.stderr)

        proc = sysem('info', '--posix', key)
        self.assertEqual(proc.returncode, 1)
        self.assertIn('--posix', proc.stderr)

        proc = sysem('run', '-n', key, '--', 'echo', 'never')
        self.assertEqual(proc.returncode, 125)
        self.assertEqual(proc.stdout, '')

    def test_links_shared_library(self):
        # The tool is built on libsysem-1.so and reaches internals only
        # through the exported private table.
        ldd = subprocess.run(['ldd', SYSEM], stdout=subprocess.PIPE, text=True, check=True)
        self.assertRegex(ldd.stdout, r'libsysem-1\.so\.\d+ => ')
        nm = subprocess.run(['nm', '--dynamic', '--undefined-only', SYSEM],
                            stdout=subprocess.PIPE, text=True, check=True)
        ours = {line.split()[-1] for line in nm.stdout.splitlines()
                if line.split()[-1].startswith('sysem_')}
        self.assertIn('sysem__private__', ours)
        for symbol in ours:
            self.assertTrue(symbol == 'sysem__private__' or
                            symbol.startswith('sysem_semaphore_'), symbol)
        for private in ('sysem_inspect_list', 'sysem_semaphore_keep', 'sysem_info_free'):
            self.assertNotIn(private, ours)
        defined = subprocess.run(['nm', '--defined-only', SYSEM], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout
        self.assertNotRegex(defined, r' sysem_(inspect|backend|sysv|posix)_')

    # -- bash completion ----------------------------------------------------

    def complete(self, *words):
        """What the completion offers for the last word of sysem WORDS."""
        script = ('source "$1"; shift; COMP_CWORD=$1; shift; COMP_WORDS=("$@"); '
                  '_sysem; for w in "${COMPREPLY[@]}"; do printf "%s\\n" "$w"; done')
        proc = subprocess.run(['bash', '--norc', '--noprofile', '-c', script, 'bash',
                               COMPLETION, str(len(words)), SYSEM] + list(words),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=DEADLINE)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, '')
        return [w for w in proc.stdout.split('\n') if w]

    def test_completion(self):
        self.assertTrue(COMPLETION, 'no --completion given')
        commands = ['list', 'info', 'create', 'acquire', 'release', 'remove', 'gc', 'run']

        for command in commands:
            self.assertIn(command, self.complete(''))
        self.assertEqual(sorted(self.complete('re')), ['release', 'remove'])
        self.assertEqual(sorted(self.complete('help', 'r')), ['release', 'remove', 'run'])

        # Every long option a command's --help shows, and only those.
        env = dict(os.environ, LC_ALL='C')
        for command in commands:
            help_text = sysem(command, '--help', env=env, check=0).stdout
            expected = set(re.findall(r'^  (?:-\w, )?(--[a-z-]+)', help_text, re.M))
            self.assertEqual(set(self.complete(command, '--')), expected, command)
        run_options = self.complete('run', '-')
        for option in ('--nonblock', '--wait', '--timeout', '--conflict-exit-code',
                       '--slots', '--posix', '--native'):
            self.assertIn(option, run_options)
        self.assertEqual(self.complete('run', '--non'), ['--nonblock'])
        self.assertEqual(self.complete('gc', '--dry'), ['--dry-run'])

        # An option's argument gets nothing, or its values.
        self.assertEqual(self.complete('run', '-w', ''), [])
        self.assertEqual(self.complete('run', '--slots', ''), [])
        self.assertEqual(sorted(self.complete('list', '--type', '')), ['posix', 'systemv'])

        # The command of run.
        self.assertIn('echo', self.complete('run', 'key', '--', 'ech'))
        self.assertIn('echo', self.complete('run', '-j', '2', 'key', 'ech'))

        # Existing semaphores, after --native, of the chosen key type.
        sysv_key = self.key('complete')
        posix_key = self.key('completeposix', posix=True)
        sysem('create', sysv_key, check=0)
        sysem('create', '--posix', posix_key, check=0)
        posix_name = info(posix_key, '--posix')['name']

        self.assertIn(key_file(sysv_key), self.complete('info', '--native', ''))
        self.assertEqual(self.complete('acquire', '--native', key_file(sysv_key)[:-3]),
                         [key_file(sysv_key)])
        self.assertEqual(self.complete('remove', '-p', '--native', posix_name[:-3]),
                         [posix_name])
        self.assertNotIn(posix_name, self.complete('info', '--native', ''))
        self.assertIn(key_file(sysv_key), self.complete('gc', '--native', '/x', ''))
        self.assertIn(key_file(sysv_key),
                      self.complete('run', '-w', '5', '--native', ''))
        # A string key cannot be completed; nor a second argument.
        self.assertEqual(self.complete('info', 'sysemtest-'), [])
        self.assertEqual(self.complete('release', '--native', key_file(sysv_key), ''), [])

    # -- create, acquire, release, remove ---------------------------------

    def test_create_acquire_release_remove(self):
        key = self.key('cycle')

        sysem('create', key, '-n', '2', check=0)
        entry = info(key)
        self.assertEqual(entry['value'], 2)
        self.assertEqual(entry['users'], 1)   # the pin that keeps it
        self.assertFalse(entry['stale'])

        # Opening and closing it does not remove it any more.
        sysem('acquire', key, check=0)
        self.assertEqual(info(key)['value'], 2)   # given back at exit
        sysem('release', key, '3', check=0)
        self.assertEqual(info(key)['value'], 5)
        sysem('create', key, '-n', '1', check=0)
        self.assertEqual(info(key)['value'], 1)

        sysem('remove', key, check=0)
        self.assertGone(key)
        proc = sysem('remove', key)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(key, proc.stderr)

    def test_create_acquire_release_remove_posix(self):
        key = self.key('cycleposix', posix=True)

        sysem('create', '--posix', key, '-n', '1', check=0)
        self.assertEqual(info(key, '--posix')['value'], 1)
        sysem('acquire', '--posix', key, check=0)
        self.assertEqual(info(key, '--posix')['value'], 1)   # given back at exit (the ledger)
        sysem('release', '--posix', key, check=0)
        self.assertEqual(info(key, '--posix')['value'], 2)
        sysem('create', '--posix', key, '-n', '0', check=0)
        self.assertEqual(info(key, '--posix')['value'], 0)
        self.assertEqual(sysem('acquire', '--posix', '--timeout', '0.05', key).returncode, 75)
        sysem('remove', '--posix', key, check=0)
        self.assertGone(key, True)

    def test_native_keys(self):
        key = self.key('native')

        sysem('create', key, '-n', '4', check=0)
        self.assertEqual(info(key_file(key), '--native')['value'], 4)
        sysem('release', '--native', key_file(key), '2', check=0)
        self.assertEqual(info(key)['value'], 6)
        sysem('remove', '--native', key_file(key), check=0)
        self.assertGone(key)

    # -- gc ---------------------------------------------------------------

    def test_gc_killed_qt_program(self):
        dead_key = self.key('qtdead')
        live_key = self.key('qtlive')

        if QT_HELPER:
            dead = self.spawn([QT_HELPER, dead_key, 'create', '1'])
            live = self.spawn([QT_HELPER, live_key, 'create', '1'])
            for proc in (dead, live):
                while True:
                    line = proc.stdout.readline()
                    self.assertNotEqual(line, '', 'the Qt helper ended early')
                    if line == 'ready\n':
                        break
                    self.assertFalse(line.startswith('error'), line)
            dead.stdin.write('acquire\n')
            dead.stdin.flush()
            self.assertEqual(dead.stdout.readline(), 'acquiring\n')
            self.assertEqual(dead.stdout.readline(), 'acquired\n')
        else:
            dead = self.spawn([HELPER, 'qt-set', dead_key, '1'])
            live = self.spawn([HELPER, 'qt-set', live_key, '1'])
            self.assertEqual(dead.stdout.readline(), 'ready\n')
            self.assertEqual(live.stdout.readline(), 'ready\n')

        self.assertEqual(info(dead_key)['sems'], 1)
        dead.kill()
        dead.wait()

        entry = info(dead_key)
        self.assertTrue(entry['exists'])
        self.assertEqual(entry['value'], 1)          # the kernel undid the acquire
        self.assertTrue(entry['stale'])
        self.assertEqual(entry['state'], 'owner-gone')
        self.assertFalse(info(live_key)['stale'])

        listed = {e['name']: e for e in json.loads(sysem('list', '--json', check=0).stdout)}
        self.assertTrue(listed[key_file(dead_key)]['stale'])
        self.assertFalse(listed[key_file(live_key)]['stale'])

        # A dry run over everything removes nothing and names ours.
        everything = json.loads(sysem('gc', '--dry-run', '--json', check=0).stdout)
        self.assertIn(key_file(dead_key), [e['name'] for e in everything])
        self.assertNotIn(key_file(live_key), [e['name'] for e in everything])
        self.assertTrue(info(dead_key)['exists'])

        dry = json.loads(sysem('gc', '--dry-run', '--json', dead_key, live_key, check=0).stdout)
        self.assertEqual([e['name'] for e in dry], [key_file(dead_key)])
        self.assertTrue(info(dead_key)['exists'])

        out = sysem('gc', dead_key, live_key, check=0).stdout
        self.assertIn(key_file(dead_key), out)
        self.assertNotIn(key_file(live_key), out)
        self.assertGone(dead_key)
        self.assertTrue(info(live_key)['exists'])

        live.stdin.close()
        self.assertEqual(live.wait(timeout=DEADLINE), 0)
        self.assertGone(live_key)

    def test_gc_killed_sysem_program(self):
        key = self.key('sysemdead')

        holder = self.spawn([HELPER, 'hold', key, '2', '1'])
        stats = json.loads(holder.stdout.readline())
        self.assertEqual(stats['users'], 1)
        holder.kill()
        holder.wait()

        entry = info(key)
        self.assertEqual(entry['users'], 0)
        self.assertEqual(entry['value'], 2)
        self.assertEqual(entry['state'], 'no-users')
        sysem('gc', key, check=0)
        self.assertGone(key)

    def test_gc_recovers_dead_posix_holder(self):
        # A POSIX semaphore in use whose holder was killed with two units:
        # list marks it recoverable, info names the dead holder and its
        # units, gc gives them back and keeps the semaphore of the live user.
        key = self.key('recover', posix=True)
        live = self.spawn([HELPER, 'hold', '--posix', key, '3', '0'])
        json.loads(live.stdout.readline())
        victim = self.spawn([HELPER, 'hold', '--posix', key, '3', '2'])
        victim_pid = json.loads(victim.stdout.readline())['pid']
        victim.kill()
        victim.wait()

        entries = json.loads(sysem('list', '--json', '--type', 'posix', check=0).stdout)
        ours = [e for e in entries if e['name'] == '/' + legacy_name(key)]
        self.assertEqual(len(ours), 1, entries)
        self.assertEqual(ours[0]['state'], 'recoverable')
        self.assertFalse(ours[0]['stale'])
        self.assertEqual(ours[0]['value'], 1)
        lines = [l for l in sysem('list', check=0).stdout.splitlines()
                 if l.endswith('/' + legacy_name(key))]
        self.assertEqual(len(lines), 1)
        self.assertIn('in use: recoverable', lines[0])

        # The dry run only reads; gc on the key gives the units back.
        proc = sysem('gc', '--dry-run', check=0)
        self.assertIn('Would give back the units of dead holders of /%s\n' % legacy_name(key),
                      proc.stdout)
        self.assertEqual(info(key, '--posix')['value'], 3)
        victim = self.spawn([HELPER, 'hold', '--posix', key, '3', '2'])
        victim_pid = json.loads(victim.stdout.readline())['pid']
        victim.kill()
        victim.wait()
        proc = sysem('gc', '--posix', key, check=0)
        self.assertEqual(proc.stdout,
                         'Gave back the units of dead holders of /%s\n' % legacy_name(key))
        entry = info(key, '--posix')
        self.assertEqual(entry['value'], 3)
        self.assertEqual(entry['state'], 'in-use')
        self.assertFalse([h for h in entry['holders'] if h['pid'] == victim_pid])

        # info names a dead holder with its units (and gives them back).
        victim = self.spawn([HELPER, 'hold', '--posix', key, '3', '2'])
        victim_pid = json.loads(victim.stdout.readline())['pid']
        victim.kill()
        victim.wait()
        entry = info(key, '--posix')
        dead = [h for h in entry['holders'] if h['pid'] == victim_pid]
        self.assertEqual(len(dead), 1, entry['holders'])
        self.assertFalse(dead[0]['alive'])
        self.assertEqual(dead[0]['units'], 2)
        self.assertEqual(entry['value'], 3)
        victim = self.spawn([HELPER, 'hold', '--posix', key, '3', '1'])
        victim_pid = json.loads(victim.stdout.readline())['pid']
        victim.kill()
        victim.wait()
        text = sysem('info', '--posix', key, check=0).stdout
        self.assertRegex(text, r'\n +%d \(gone\), 1 unit\b' % victim_pid)

        live.stdin.close()
        self.assertEqual(live.wait(timeout=DEADLINE), 0)
        self.assertGone(key, posix=True)

    def test_gc_stale_key_file(self):
        key = self.key('stalefile')

        with open(key_file(key), 'w'):
            pass
        entry = info(key)
        self.assertFalse(entry['exists'])
        self.assertEqual(entry['state'], 'no-set')
        sysem('gc', key, check=0)
        self.assertFalse(os.path.lexists(key_file(key)))

    # -- errors -----------------------------------------------------------

    def check_usage_error(self, *args, status=2):
        proc = sysem(*args)
        self.assertEqual(proc.returncode, status, args)
        self.assertEqual(proc.stdout, '')
        self.assertRegex(proc.stderr, r'^sysem')
        return proc.stderr

    def test_bad_arguments(self):
        key = new_key('bad')

        self.check_usage_error()
        self.assertIn('frobnicate', self.check_usage_error('frobnicate'))
        self.assertIn('--bogus', self.check_usage_error('list', '--bogus'))
        self.check_usage_error('list', 'extra')
        self.assertIn('KEY', self.check_usage_error('info'))
        self.assertIn('extra', self.check_usage_error('info', key, 'extra'))
        self.assertIn('-1', self.check_usage_error('create', key, '-n', '-1'))
        self.assertIn('abc', self.check_usage_error('create', key, '-n', 'abc'))
        self.assertIn('99999', self.check_usage_error('create', key, '-n', '99999'))
        self.assertIn('x', self.check_usage_error('release', key, 'x'))
        self.assertIn('soon', self.check_usage_error('acquire', '--timeout', 'soon', key))
        self.check_usage_error('acquire', '--timeout', '-1', key)
        self.assertIn('COMMAND', self.check_usage_error('run', key, status=125))
        self.assertIn('COMMAND', self.check_usage_error('run', key, '--', status=125))
        self.assertIn('0', self.check_usage_error('run', '--slots', '0', key, '--', 'true',
                                                  status=125))
        self.check_usage_error('gc', '--posix')
        self.assertIn('--nonblock', self.check_usage_error('run', '-n', '-w', '1', key, '--',
                                                           'true', status=125))
        self.assertIn('256', self.check_usage_error('run', '-E', '256', key, '--', 'true',
                                                    status=125))
        self.assertIn('x', self.check_usage_error('run', '-j', 'x', key, '--', 'true',
                                                  status=125))

        # Nothing was made by any of these.
        self.assertGone(key)
        self.assertGone(key, True)

    def test_unknown_keys(self):
        key = new_key('unknown')

        for args in (['info', key], ['acquire', key], ['release', key], ['remove', key],
                     ['info', '--posix', key], ['release', '--posix', key]):
            proc = sysem(*args)
            self.assertEqual(proc.returncode, 1, args)
            self.assertIn(key, proc.stderr)
            self.assertIn('no', proc.stderr.lower())
        self.assertGone(key)
        self.assertGone(key, True)

        proc = sysem('info', '--native', 'relative/path')
        self.assertEqual(proc.returncode, 1)
        self.assertIn('absolute', proc.stderr)
        proc = sysem('info', '--posix', '--native', '/a/b')
        self.assertEqual(proc.returncode, 1)
        proc = sysem('info', '')
        self.assertEqual(proc.returncode, 1)
        self.assertIn('empty', proc.stderr)

    def test_no_permission(self):
        if os.geteuid() == 0:
            # The superuser passes every permission check: ask as nobody.
            key = self.key('perm')
            sysem('create', key, '-n', '1', check=0)
            nobody = 65534
            # A copy of the tool that nobody may run, wherever the build is.
            with tempfile.TemporaryDirectory(prefix='sysemtest-tool-') as tmp:
                os.chmod(tmp, 0o755)
                tool = os.path.join(tmp, 'sysem')
                with open(SYSEM, 'rb') as src, open(tool, 'wb') as dst:
                    dst.write(src.read())
                os.chmod(tool, 0o755)
                proc = subprocess.run([tool, 'release', key], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, timeout=DEADLINE,
                                      cwd='/',
                                      preexec_fn=lambda: (os.setgid(nobody), os.setuid(nobody)))
            value = info(key)['value']
        else:
            # Another user's semaphore, as far as the mode bits go.
            key = self.key('perm', posix=True)
            sysem('create', '--posix', key, '-n', '1', check=0)
            os.chmod(posix_file(key), 0)
            proc = sysem('release', '--posix', key)
            os.chmod(posix_file(key), 0o600)
            value = info(key, '--posix')['value']

        self.assertEqual(proc.returncode, 1)
        self.assertIn(key, proc.stderr)
        self.assertRegex(proc.stderr, '[Pp]ermission')
        self.assertEqual(value, 1)

    def test_translated_messages(self):
        key = new_key('translated')
        env = dict(os.environ)
        env.pop('LANGUAGE', None)

        env['LC_ALL'] = 'C.UTF-8'
        english = sysem('info', key, env=env)
        env['LC_ALL'] = 'de_DE.UTF-8'
        german = sysem('info', key, env=env)

        self.assertEqual(english.returncode, 1)
        self.assertEqual(german.returncode, 1)
        self.assertIn(key, german.stderr)
        self.assertNotEqual(german.stderr, english.stderr)
        # GLib's own words in the help are translated too: setlocale () ran.
        self.assertNotIn('Usage:', sysem('run', '--help', env=env, check=0).stdout)
        self.assertGone(key)

    def test_help(self):
        proc = sysem('--help', check=0)
        for command in ('list', 'info', 'create', 'acquire', 'release', 'remove', 'gc', 'run'):
            self.assertRegex(proc.stdout, r'\n  %s ' % command)
            sub = sysem(command, '--help', check=0)
            self.assertIn('sysem ' + command, sub.stdout)
        run_help = sysem('run', '--help', check=0).stdout
        for option in ('-j, --slots', '-n, --nonblock', '-w, --wait', '-t, --timeout',
                       '-E, --conflict-exit-code'):
            self.assertIn(option, run_help)
        self.assertIn('--dry-run', sysem('help', 'gc', check=0).stdout)
        self.assertTrue(re.match(r'sysem \d+\.\d+', sysem('--version', check=0).stdout))


def main():
    global SYSEM, HELPER, QT_HELPER, COMPLETION

    parser = argparse.ArgumentParser()
    parser.add_argument('--sysem', required=True)
    parser.add_argument('--helper', required=True)
    parser.add_argument('--qt-helper', default='')
    parser.add_argument('--completion', default='')
    args, rest = parser.parse_known_args()
    SYSEM, HELPER, QT_HELPER = args.sysem, args.helper, args.qt_helper
    COMPLETION = args.completion

    unittest.main(argv=[sys.argv[0], '-v'] + rest)


if __name__ == '__main__':
    main()
