#!/usr/bin/python3
# install-check.py: run by test-install.py against an installed sysem
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Uses the semaphore once, then prints "typelib PATH" and "library PATH" for
# the files it loaded, so the test can check that they are the installed ones.

import os

import gi

gi.require_version('GIRepository', '2.0')
gi.require_version('Sysem', '1')
from gi.repository import GIRepository, Sysem  # noqa: E402

key = 'sysemtest-gi-install-py-%d' % os.getpid()
sem = Sysem.Semaphore.new_full(key, Sysem.KeyType.POSIX, 2, Sysem.AccessMode.CREATE)
sem.acquire(None)
sem.release(1)
assert sem.get_value() == 2
sem.remove()

print('typelib', GIRepository.Repository.get_default().get_typelib_path('Sysem'))
with open('/proc/self/maps') as maps:
    for line in maps:
        if 'libsysem-1.so' in line and '/' in line:
            print('library', line[line.index('/'):].strip())
            break
