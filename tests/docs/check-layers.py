#!/usr/bin/env python3
# No dependency circle between the library's files: for every object of the
# static copy, the sysem symbols it uses (nm -u) are defined (nm
# --defined-only) by other objects; the graph of "uses a symbol of" must have
# no cycle, and no backend may use another backend.
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later

import glob
import os
import subprocess
import sys

BACKENDS = {'sysem-sysv', 'sysem-posix', 'sysem-etcd'}


def symbols(obj, *args):
    out = subprocess.run(['nm', *args, obj], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()}


def main():
    objdir = sys.argv[1]
    objs = sorted(glob.glob(os.path.join(objdir, '*.o')))
    name = {o: os.path.basename(o).split('.c.o')[0].split('_')[-1] for o in objs}
    defined = {}
    for o in objs:
        for s in symbols(o, '--defined-only'):
            defined.setdefault(s, name[o])
    graph = {name[o]: set() for o in objs}
    for o in objs:
        for s in symbols(o, '-u'):
            if s in defined and defined[s] != name[o]:
                graph[name[o]].add(defined[s])

    print('1..2')
    cycles = []
    state = {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    if cycles:
        print('not ok 1 - dependency circles: ' + '; '.join(' -> '.join(c) for c in cycles))
    else:
        print('ok 1 - no dependency circle between %d files' % len(graph))

    crossing = [(a, b) for a in graph for b in graph[a] if a in BACKENDS and b in BACKENDS]
    if crossing:
        print('not ok 2 - backends use each other: %s' % crossing)
    else:
        print('ok 2 - no backend uses another')
    return 1 if cycles or crossing else 0


if __name__ == '__main__':
    sys.exit(main())
