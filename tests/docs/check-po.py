#!/usr/bin/env python3
# Every translation in po/LINGUAS is complete for the current sources: the
# strings are extracted afresh from the files in po/POTFILES.in (as
# i18n.gettext's glib preset does), merged into each .po file, and the result
# must have no untranslated and no fuzzy message and pass msgfmt --check.
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import shutil
import subprocess
import sys
import tempfile

XGETTEXT_ARGS = [
    '--from-code=UTF-8', '--add-comments',
    '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format', '--flag=NC_:2:pass-c-format',
    '--flag=g_dngettext:2:pass-c-format', '--flag=g_strdup_printf:1:c-format',
    '--flag=g_string_printf:2:c-format', '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format', '--flag=g_set_error:4:c-format',
    '--flag=g_printf:1:c-format', '--flag=g_print:1:c-format', '--flag=g_printerr:1:c-format',
    '--flag=g_fprintf:2:c-format',
]


def main():
    root = sys.argv[1]
    po_dir = os.path.join(root, 'po')
    for tool in ('xgettext', 'msgmerge', 'msgfmt'):
        if shutil.which(tool) is None:
            print('1..0 # SKIP %s is not installed' % tool)
            return 77

    with open(os.path.join(po_dir, 'LINGUAS'), encoding='utf-8') as f:
        langs = [w for line in f if not line.lstrip().startswith('#') for w in line.split()]

    print('1..%d' % len(langs))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'sysem-1.pot')
        subprocess.run(['xgettext', '--package-name=sysem', '-o', pot,
                        '--files-from=' + os.path.join(po_dir, 'POTFILES.in'),
                        '--directory=' + root] + XGETTEXT_ARGS, check=True)
        for i, lang in enumerate(langs, 1):
            po = os.path.join(po_dir, lang + '.po')
            merged = os.path.join(tmp, lang + '.po')
            problems = []
            if not os.path.exists(po):
                problems.append('%s.po is missing' % lang)
            else:
                check = subprocess.run(['msgfmt', '--check', '-o', os.devnull, po],
                                       capture_output=True, text=True)
                if check.returncode != 0:
                    problems.append('msgfmt --check: ' + check.stderr.strip())
                subprocess.run(['msgmerge', '--quiet', '--no-fuzzy-matching', '-o', merged, po, pot],
                               check=True)
                stats = subprocess.run(['msgfmt', '--statistics', '-o', os.devnull, merged],
                                       capture_output=True, text=True)
                text = stats.stderr.strip()
                if re.search(r'fuzzy|untranslated', text):
                    problems.append('incomplete: ' + text)
                    untranslated = subprocess.run(['msgattrib', '--untranslated', merged],
                                                  capture_output=True, text=True).stdout
                    for m in re.finditer(r'^msgid "(.+)"$', untranslated, re.M):
                        problems.append('  not translated: "%s"' % m.group(1))
            for p in problems:
                print('# ' + p)
            if problems:
                failed += 1
                print('not ok %d - %s' % (i, lang))
            else:
                print('ok %d - %s: %s' % (i, lang, text))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
