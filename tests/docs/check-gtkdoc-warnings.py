#!/usr/bin/env python3
# Builds the manual again and fails on any warning gtk-doc prints: an
# undocumented property or parameter, an annotation gtk-doc does not know, a
# link gtkdoc-fixxref cannot resolve. gtk-doc keeps no log of them, and the
# manual's target is rebuilt on every ninja run, so running ninja on it
# shows them all.
#
# Usage: check-gtkdoc-warnings.py NINJA BUILD-ROOT TARGET-OUTPUT
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import subprocess
import sys


def main():
    ninja, build_root, output = sys.argv[1:4]
    target = os.path.relpath(output, build_root)
    proc = subprocess.run([ninja, '-C', build_root, target], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=1200)
    print('1..1')
    if proc.returncode != 0:
        print(proc.stdout)
        print('not ok 1 - ninja %s failed' % target)
        return 1
    warnings = [line for line in proc.stdout.splitlines()
                if re.search(r'\bwarning\b', line, re.I)]
    for line in warnings:
        print('# ' + line)
    if warnings:
        print('not ok 1 - gtk-doc printed %d warnings' % len(warnings))
        return 1
    print('ok 1 - gtk-doc printed no warning')
    return 0


if __name__ == '__main__':
    sys.exit(main())
