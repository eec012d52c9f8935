#!/usr/bin/env python3
# po/POTFILES.in must list every file of sysem/ and tools/ that contains a
# translatable string, and only files that exist.
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import sys

MARK = re.compile(r'(?<![A-Za-z0-9_])(?:N?C?_|g_dngettext|g_dpgettext2|g_dcgettext)\s*\(\s*(?:[^()"]*,\s*)?"')
EXTENSIONS = ('.c', '.h', '.cpp', '.vala', '.js', '.py')


def main():
    root = sys.argv[1]
    potfiles = os.path.join(root, 'po', 'POTFILES.in')
    listed = []
    with open(potfiles, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                listed.append(line)

    marked = set()
    for top in ('sysem', 'tools'):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            for name in filenames:
                if not name.endswith(EXTENSIONS):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding='utf-8', errors='replace') as f:
                    text = f.read()
                # Comments mention _("…") in prose; only code counts.
                code = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
                code = re.sub(r'^\s*//.*$', '', code, flags=re.M)
                if MARK.search(code):
                    marked.add(os.path.relpath(path, root))

    problems = []
    seen = set()
    for entry in listed:
        if entry in seen:
            problems.append('%s is listed twice' % entry)
        seen.add(entry)
        if not os.path.isfile(os.path.join(root, entry)):
            problems.append('%s is listed but does not exist' % entry)
    for path in sorted(marked - seen):
        problems.append('%s has translatable strings but is not listed' % path)

    print('1..1')
    for p in problems:
        print('# ' + p)
    for path in sorted(seen - marked):
        if os.path.isfile(os.path.join(root, path)):
            print('# note: %s is listed but has no string marked for translation' % path)
    if problems:
        print('not ok 1 - po/POTFILES.in is out of date')
        return 1
    print('ok 1 - po/POTFILES.in lists the %d files with translatable strings' % len(marked))
    return 0


if __name__ == '__main__':
    sys.exit(main())
