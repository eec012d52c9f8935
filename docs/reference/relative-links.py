#!/usr/bin/env python3
# Makes the links from the HTML manual to other gtk-doc manuals relative.
#
# gtkdoc-fixxref writes relative links (../glib/...) for the manuals it
# finds through --extra-dir, but a few links it predefines (GEnum, GFlags,
# GBoxed, GInterface: the object hierarchy and the enumeration pages) are
# always absolute paths into GLib's gtk-doc directory. This rewrites
# href="GTKDOC-HTML-DIR/MODULE/..." into href="../MODULE/..." in every page,
# then touches the stamp file.
#
# Usage: relative-links.py HTML-DIR GTKDOC-HTML-DIR STAMP
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys


def main():
    html_dir, gtkdoc_dir, stamp = sys.argv[1:4]
    prefix = 'href="%s/' % gtkdoc_dir.rstrip('/')
    changed = 0
    for name in sorted(os.listdir(html_dir)):
        if not name.endswith('.html'):
            continue
        path = os.path.join(html_dir, name)
        with open(path, encoding='utf-8') as f:
            text = f.read()
        if prefix in text:
            changed += text.count(prefix)
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text.replace(prefix, 'href="../'))
    with open(stamp, 'w') as f:
        f.write('%d links made relative\n' % changed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
