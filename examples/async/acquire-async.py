#!/usr/bin/python3
# acquire-async.py: waiting for a semaphore from a GLib main loop, in Python
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   acquire-async.py [--posix] KEY
#
# Five jobs share two slots, counted by the system semaphore KEY (the same
# semaphore as the C, JavaScript and Vala examples and any Qt program that
# uses KEY). Each job asks for a slot with acquire_async(), so the main loop
# stays free while it waits.

import random
import sys

import gi

gi.require_version("Sysem", "1")
from gi.repository import GLib, Gio, Sysem  # noqa: E402

N_JOBS = 5
N_SLOTS = 2


class Jobs:
    def __init__(self, sem):
        self.sem = sem
        self.loop = GLib.MainLoop()
        self.cancellable = Gio.Cancellable()
        self.running = 0
        self.finished = 0
        self.failed = False

    def start(self, number):
        print(f"job {number}: waiting for a slot")
        self.sem.acquire_async(self.cancellable, self.on_acquired, number)

    def on_acquired(self, sem, result, number):
        try:
            sem.acquire_finish(result)
        except GLib.Error as error:
            if error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
                print(f"job {number}: cancelled")
            else:
                print(f"job {number}: {error.message}", file=sys.stderr)
                self.failed = True
            self.job_finished()
            return

        self.running += 1
        if self.running > N_SLOTS:
            print(f"job {number}: {self.running} jobs running at once", file=sys.stderr)
            self.failed = True
        print(f"job {number}: got a slot, working")
        # The work is simulated: a timeout stands for it.
        GLib.timeout_add(random.randint(50, 150), self.on_work_done, number)

    def on_work_done(self, number):
        self.running -= 1
        print(f"job {number}: done, giving the slot back")
        try:
            self.sem.release(1)
        except GLib.Error as error:
            print(f"job {number}: {error.message}", file=sys.stderr)
            self.failed = True
        self.job_finished()
        return GLib.SOURCE_REMOVE

    def job_finished(self):
        self.finished += 1
        if self.finished == N_JOBS:
            self.loop.quit()


def main(argv):
    args = argv[1:]
    key_type = Sysem.KeyType.SYSTEM_V
    if "--posix" in args:
        args.remove("--posix")
        key_type = Sysem.KeyType.POSIX
    if len(args) != 1:
        print(f"Usage: {argv[0]} [--posix] KEY", file=sys.stderr)
        return 1

    try:
        # Open mode: an existing semaphore keeps its count, a new one gets
        # N_SLOTS units.
        sem = Sysem.Semaphore.new_full(args[0], key_type, N_SLOTS, Sysem.AccessMode.OPEN)
    except GLib.Error as error:
        print(error.message, file=sys.stderr)
        return 1

    jobs = Jobs(sem)
    for number in range(1, N_JOBS + 1):
        jobs.start(number)
    jobs.loop.run()

    # The last object of the last process to leave removes the semaphore.
    del jobs, sem
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
