#!/usr/bin/env python3
# Checks the HTML manual that gtk-doc generated:
#  - every internal link leads to a file that exists and, when it has a
#    fragment, to an anchor (id or name) in that file;
#  - every page the manual promises is there: the pages named in the devhelp
#    index, one per section of the sections file, the chapters of the guide,
#    and the man page of the tool when docs/man has one;
#  - every public symbol, from the GIR and from the public headers, has an
#    entry in the index of the manual (enumeration members, which gtk-doc
#    documents on the page of their enumeration instead, need an anchor);
#  - no link is an absolute path (/usr/share/gtk-doc/...): links to other
#    manuals are relative (../glib/...), so they work wherever the manuals
#    are installed side by side;
#  - every annotation badge ([nullable], [transfer full]) is one the
#    annotation glossary explains: gtk-doc shows annotations it does not
#    know as bare badges;
#  - the contents page numbers no part twice.
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import html.parser
import os
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

errors = []


def fail(msg):
    errors.append(msg)


class PageParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors = set()
        self.links = []      # (href, line)
        self.index_entries = set()
        self._in_dt = 0
        self._dt_link_depth = 0
        self._dt_text = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ('id', 'name'):
            if key in a and a[key] and (key == 'id' or tag == 'a'):
                self.anchors.add(a[key])
        for key in ('href', 'src'):
            if key in a and a[key] is not None and tag in ('a', 'link', 'img', 'area'):
                self.links.append((a[key], self.getpos()[0]))
        if tag == 'dt':
            self._in_dt += 1
            self._dt_text = None
        elif tag == 'a' and self._in_dt and self._dt_text is None:
            self._dt_text = ''
            self._dt_link_depth = 1
        elif self._dt_link_depth:
            self._dt_link_depth += 1

    def handle_endtag(self, tag):
        if tag == 'dt' and self._in_dt:
            self._in_dt -= 1
        elif self._dt_link_depth:
            self._dt_link_depth -= 1
            if self._dt_link_depth == 0 and self._dt_text:
                self.index_entries.add(self._dt_text.strip())

    def handle_data(self, data):
        if self._dt_link_depth:
            self._dt_text += data


def parse_page(path):
    p = PageParser()
    with open(path, encoding='utf-8') as f:
        p.feed(f.read())
    p.close()
    return p


def read_sections(path):
    """Returns (files, indexed symbols, exempt symbols) of a -sections.txt."""
    files, public, exempt = [], set(), set()
    sub = None
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            m = re.match(r'<FILE>(.*)</FILE>', line)
            if m:
                files.append(m.group(1))
                continue
            m = re.match(r'<SUBSECTION\s*(\w*)>', line)
            if m:
                sub = m.group(1)
                continue
            if line == '<SECTION>':
                sub = None
                continue
            if line.startswith('<'):
                continue
            (exempt if sub in ('Standard', 'Private') else public).add(line)
    return files, public, exempt


def gir_symbols(path):
    """Public C symbols of a GIR: (indexed, enum members, gtype structs)."""
    ns = {'core': 'http://www.gtk.org/introspection/core/1.0',
          'c': 'http://www.gtk.org/introspection/c/1.0',
          'glib': 'http://www.gtk.org/introspection/glib/1.0'}
    C = '{%s}' % ns['c']
    GLIB = '{%s}' % ns['glib']
    CORE = '{%s}' % ns['core']
    root = ET.parse(path).getroot()
    namespace = root.find('core:namespace', ns)
    indexed, members, gtype_structs = set(), set(), set()
    for el in namespace.iter():
        tag = el.tag.replace(CORE, '')
        if tag in ('function', 'method', 'constructor') and el.get(C + 'identifier'):
            if el.get('introspectable') == '0' and el.get('moved-to'):
                continue
            indexed.add(el.get(C + 'identifier'))
        elif tag in ('class', 'interface', 'record', 'enumeration', 'bitfield', 'alias',
                     'callback', 'union'):
            ctype = el.get(C + 'type')
            if el.get(GLIB + 'is-gtype-struct-for'):
                gtype_structs.add(ctype)
            elif ctype:
                indexed.add(ctype)
            if el.get(GLIB + 'get-type') and el.get(GLIB + 'get-type') != 'intern':
                indexed.add(el.get(GLIB + 'get-type'))
            if el.get(GLIB + 'error-domain'):
                pass
        elif tag == 'member' and el.get(C + 'identifier'):
            members.add(el.get(C + 'identifier'))
        elif tag == 'constant' and el.get(C + 'type'):
            indexed.add(el.get(C + 'type'))
    # Properties: "Class:property" entries.
    for cls in namespace.findall('core:class', ns):
        for prop in cls.findall('core:property', ns):
            indexed.add('%s:%s' % (cls.get(C + 'type'), prop.get('name')))
    return indexed, members, gtype_structs


def header_symbols(paths):
    """Public symbols declared in headers: functions, macros, types, members."""
    indexed, members = set(), set()
    for path in paths:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
        for m in re.finditer(r'^\s*#\s*define\s+([A-Za-z_]\w*)', text, re.M):
            name = m.group(1)
            if name.startswith('_') or name.startswith('__'):
                continue
            indexed.add(name)
        for m in re.finditer(r'\b(sysem_\w+)\s*\(', text):
            indexed.add(m.group(1))
        for m in re.finditer(r'typedef\s+enum\s*\{(.*?)\}\s*(\w+)\s*;', text, re.S):
            indexed.add(m.group(2))
            for mm in re.finditer(r'^\s*([A-Z][A-Z0-9_]+)\s*(?:=|,|$)', m.group(1), re.M):
                members.add(mm.group(1))
        for m in re.finditer(r'typedef\s+struct\s+\w*\s*\{.*?\}\s*(\w+)\s*;', text, re.S):
            indexed.add(m.group(1))
        for m in re.finditer(r'G_DECLARE_(?:FINAL|DERIVABLE)_TYPE\s*\(\s*(\w+)\s*,\s*(\w+)', text):
            indexed.add(m.group(1))
            indexed.add(m.group(2) + '_get_type')
    # The enumerations' GType macros and functions come from
    # sysem-enum-types.h; the export macros are not API.
    return indexed, members


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--html-dir', required=True)
    ap.add_argument('--module', required=True)
    ap.add_argument('--sections', required=True)
    ap.add_argument('--xml-dir', required=True,
                    help='the xml/ directory of gtk-doc, to find the id of each section')
    ap.add_argument('--chapter', action='append', default=[],
                    help='a DocBook file of the guide whose chapter must be in the manual')
    ap.add_argument('--man-page', default=None,
                    help='the DocBook man page; checked only when the file exists')
    ap.add_argument('--gir', default=None)
    ap.add_argument('headers', nargs='*')
    args = ap.parse_args()

    html_dir = os.path.realpath(args.html_dir)
    if not os.path.isdir(html_dir):
        print('Bail out! no HTML directory at %s' % html_dir)
        return 1

    pages = {}
    for name in sorted(os.listdir(html_dir)):
        if name.endswith('.html'):
            pages[name] = parse_page(os.path.join(html_dir, name))

    if 'index.html' not in pages:
        fail('index.html is missing')

    # 1. Internal links.
    n_links = 0
    for name, page in pages.items():
        for href, line in page.links:
            url = urllib.parse.urlsplit(href)
            if url.scheme or url.netloc or href.startswith('//'):
                continue
            target = urllib.parse.unquote(url.path)
            target_path = os.path.realpath(os.path.join(html_dir, target)) if target else \
                os.path.join(html_dir, name)
            if os.path.commonpath([target_path, html_dir]) != html_dir:
                # Another gtk-doc module (../glib/...), installed elsewhere.
                continue
            n_links += 1
            rel = os.path.relpath(target_path, html_dir)
            if not os.path.exists(target_path):
                fail('%s:%d: link to a missing file: %s' % (name, line, href))
                continue
            if url.fragment:
                if rel not in pages:
                    fail('%s:%d: fragment link into a non-HTML file: %s' % (name, line, href))
                elif urllib.parse.unquote(url.fragment) not in pages[rel].anchors:
                    fail('%s:%d: link to a missing anchor: %s' % (name, line, href))

    # 1b. No absolute path as a link.
    for name, page in pages.items():
        for href, line in page.links:
            if href.startswith('/') and not href.startswith('//') or href.startswith('file:'):
                fail('%s:%d: absolute link: %s' % (name, line, href))

    # 1c. Annotation badges the glossary explains.
    glossary = set()
    glossary_path = os.path.join(html_dir, 'annotation-glossary.html')
    if os.path.exists(glossary_path):
        with open(glossary_path, encoding='utf-8') as f:
            glossary = set(re.findall(r'<span class="glossterm"><a name="[^"]*"></a>([^<]+)</span>',
                                      f.read()))
    for name in pages:
        with open(os.path.join(html_dir, name), encoding='utf-8') as f:
            text = f.read()
        for badge in re.findall(r'class="annotation">(.*?)</span>\s*</(?:td|p)>', text, re.S):
            for term in re.findall(r'<span class="acronym">([^<]+)</span>|<acronym>([^<]+)</acronym>',
                                   badge):
                term = term[0] or term[1]
                if term not in glossary:
                    fail('%s: annotation [%s] is not in the annotation glossary' % (name, term))

    # 1d. Part numbers on the contents page.
    if 'index.html' in pages:
        with open(os.path.join(html_dir, 'index.html'), encoding='utf-8') as f:
            numbers = re.findall(r'<span class="(?:part|reference)">\s*<a [^>]*>\s*([IVXLC]+)\.', f.read())
        for n in sorted(set(numbers)):
            if numbers.count(n) > 1:
                fail('index.html: %d parts are numbered %s.' % (numbers.count(n), n))
        if not numbers:
            fail('index.html: no numbered part found')

    # 2. Pages the manual promises.
    devhelp = os.path.join(html_dir, args.module + '.devhelp2')
    if not os.path.exists(devhelp):
        fail('%s.devhelp2 is missing' % args.module)
    else:
        root = ET.parse(devhelp).getroot()
        for el in root.iter():
            link = el.get('link')
            if not link:
                continue
            path, _, frag = link.partition('#')
            if path not in pages:
                fail('devhelp index names a missing page: %s' % link)
            elif frag and frag not in pages[path].anchors:
                fail('devhelp index names a missing anchor: %s' % link)

    files, public, exempt = read_sections(args.sections)
    for f in files:
        xml_path = os.path.join(args.xml_dir, f + '.xml')
        if not os.path.exists(xml_path):
            fail('section %s was not generated (%s)' % (f, xml_path))
            continue
        with open(xml_path, encoding='utf-8') as xf:
            m = re.search(r'<refentry\s+id="([^"]+)"', xf.read())
        if not m or m.group(1) + '.html' not in pages:
            fail('section %s has no page in the manual' % f)

    def docbook_id(path, element):
        with open(path, encoding='utf-8') as df:
            m = re.search(r'<%s\b[^>]*\bid="([^"]+)"' % element, df.read())
        return m.group(1) if m else None

    for chapter in args.chapter:
        if not os.path.exists(chapter):
            continue
        cid = docbook_id(chapter, 'chapter')
        if cid is None:
            fail('%s is not a <chapter> with an id' % chapter)
        elif cid + '.html' not in pages:
            fail('chapter %s (%s) has no page in the manual' % (cid, os.path.basename(chapter)))

    if args.man_page and os.path.exists(args.man_page):
        rid = docbook_id(args.man_page, 'refentry')
        if rid is None:
            fail('%s is not a <refentry> with an id' % args.man_page)
        elif rid + '.html' not in pages:
            fail('the man page (%s) has no page in the manual' % rid)

    # 3. Every public symbol in the index.
    index = set()
    for name in ('api-index-full.html',):
        if name not in pages:
            fail('%s is missing' % name)
        else:
            index |= pages[name].index_entries
    all_anchors = set()
    for page in pages.values():
        all_anchors |= page.anchors

    expected, members, skip = set(), set(), set(exempt)
    if args.gir:
        g_indexed, g_members, g_structs = gir_symbols(args.gir)
        expected |= g_indexed
        members |= g_members
        skip |= g_structs
    h_indexed, h_members = header_symbols(args.headers)
    expected |= h_indexed
    members |= h_members

    # The export decorators are not API (they are in a Private subsection).
    expected -= skip
    members -= skip
    for sym in sorted(expected):
        if sym not in index:
            fail('public symbol %s has no entry in the index' % sym)
    for sym in sorted(members):
        anchor = sym.replace('_', '-') + ':CAPS'
        if anchor not in all_anchors:
            fail('enumeration member %s is not documented' % sym)

    print('1..1')
    if errors:
        for e in errors:
            print('# ' + e)
        print('not ok 1 - %d problems in the HTML manual' % len(errors))
        return 1
    print('ok 1 - %d pages, %d internal links, %d symbols, %d enumeration members' %
          (len(pages), n_links, len(expected), len(members)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
