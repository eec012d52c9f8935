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
# Usage: relative-links.py GTKDOC-HTML-DIR [--stamp FILE] [--installed DIR] HTML-DIR...
#
# --installed DIR is a directory relative to the install prefix, found
# through MESON_INSTALL_DESTDIR_PREFIX: meson's gtk-doc install step builds
# the manual again before it copies it, so the install script runs this on
# the copy and on the build directory's HTML again.
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import os
import sys


def relink(html_dir, prefix):
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
    return changed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('gtkdoc_dir')
    ap.add_argument('--stamp')
    ap.add_argument('--installed', action='append', default=[])
    ap.add_argument('html_dirs', nargs='*')
    args = ap.parse_intermixed_args()
    prefix = 'href="%s/' % args.gtkdoc_dir.rstrip('/')
    dirs = list(args.html_dirs)
    for d in args.installed:
        dirs.append(os.path.join(os.environ['MESON_INSTALL_DESTDIR_PREFIX'], d))
    changed = 0
    for d in dirs:
        if os.path.isdir(d):
            changed += relink(d, prefix)
    if args.stamp:
        with open(args.stamp, 'w') as f:
            f.write('%d links made relative\n' % changed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
