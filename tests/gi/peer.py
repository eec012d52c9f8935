#!/usr/bin/python3
# peer.py: the other process of the cross-language tests, in Python
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Reads one command a line on standard input and answers on standard output
# (peer.js and peer.vala speak the same protocol):
#
#   open KEY sysv|posix   ->  opened VALUE
#   try                   ->  true | false
#   acquire               ->  [waiting]  acquired
#   release N             ->  released
#   value                 ->  value N
#   quit                  ->  (exits with status 0)
#
# A failure is answered with "error DOMAIN CODE MESSAGE".

import sys

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Sysem', '1')
from gi.repository import Gio, GLib, Sysem  # noqa: E402

KEY_TYPES = {
    'sysv': Sysem.KeyType.SYSTEM_V,
    'posix': Sysem.KeyType.POSIX,
}


class Peer:
    def __init__(self):
        self.sem = None

    def try_acquire_now(self):
        try:
            return self.sem.try_acquire(0, None)
        except GLib.Error as e:
            if e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT):
                return False
            raise

    def say(self, line):
        sys.stdout.write(line + '\n')
        sys.stdout.flush()

    def handle(self, words):
        command, args = words[0], words[1:]

        if command == 'open':
            self.sem = Sysem.Semaphore.new_full(args[0], KEY_TYPES[args[1]], 0,
                                                Sysem.AccessMode.OPEN)
            self.say('opened %d' % self.sem.get_value())
        elif command == 'try':
            self.say('true' if self.try_acquire_now() else 'false')
        elif command == 'acquire':
            if not self.try_acquire_now():
                self.say('waiting')
                self.sem.acquire(None)
            self.say('acquired')
        elif command == 'release':
            self.sem.release(int(args[0]))
            self.say('released')
        elif command == 'value':
            self.say('value %d' % self.sem.get_value())
        else:
            self.say('error peer 0 unknown command %r' % command)

    def run(self):
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == 'quit':
                break
            try:
                self.handle(words)
            except GLib.Error as error:
                self.say('error %s %d %s' % (error.domain, error.code, error.message))
        # Leave the semaphore now rather than at interpreter shutdown.
        self.sem = None
        return 0


if __name__ == '__main__':
    sys.exit(Peer().run())
