#!/usr/bin/python3
# test-install.py: install the build in a temporary directory and use it
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: test-install.py MESON BUILD-DIR SOURCE-DIR [VALAC]
#
# BUILD-DIR is the top build directory (meson.global_build_root()): when
# sysem is a subproject, that is the consuming project's, the only one
# `meson install -C` accepts.
#
# Runs `meson install --destdir` into a temporary directory, checks where
# the typelib, the GIR and the VAPI went, then builds install-check.vala with
# `valac --pkg sysem-1` and runs install-check.py, each seeing the installed
# files only through PKG_CONFIG_PATH and --vapidir, or GI_TYPELIB_PATH and
# LD_LIBRARY_PATH. Both must load the installed library and typelib. The
# temporary directory is removed in all cases; nothing outside it is touched.

import json
import os
import shutil
import subprocess
import sys
import tempfile

# Variables that could point the programs at the build tree.
SCRUBBED = ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH', 'PKG_CONFIG_PATH', 'XDG_DATA_DIRS',
            'DESTDIR', 'PKG_CONFIG_SYSROOT_DIR', 'PKG_CONFIG_LIBDIR')


def log(*words):
    print('#', *words, flush=True)


def run(argv, env=None, **kwargs):
    log('running', ' '.join(argv))
    return subprocess.run(argv, env=env, check=True, timeout=120, **kwargs)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra)
    return env


def option_dirs(meson, build_dir):
    """prefix, libdir and datadir of the build, absolute."""
    out = run([meson, 'introspect', '--buildoptions', build_dir],
              env=clean_env(), stdout=subprocess.PIPE).stdout
    options = {o['name']: o['value'] for o in json.loads(out)}
    prefix = options['prefix']
    return (prefix,
            os.path.join(prefix, options['libdir']),
            os.path.join(prefix, options['datadir']))


def relocate_pc(pc_in, pc_out, root):
    """Copies a .pc file, moving every absolute variable under root."""
    with open(pc_in) as src, open(pc_out, 'w') as dst:
        for line in src:
            name, sep, value = line.partition('=')
            if sep and ':' not in name and value.startswith('/'):
                line = name + sep + root + value
            dst.write(line)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    log('ok:', what)


def main():
    meson, build_dir, source_dir = sys.argv[1:4]
    valac = sys.argv[4] if len(sys.argv) > 4 else None
    tmp = tempfile.mkdtemp(prefix='sysemtest-gi-install-')

    try:
        root = os.path.join(tmp, 'root')
        # Everything (meson 1.0 gives sysem-1.deps no install tag), built
        # first if a partial build left something out.
        install = subprocess.run([meson, 'install', '-C', build_dir, '--quiet',
                                  '--destdir', root], env=clean_env(), timeout=600,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if install.returncode != 0:
            print(install.stdout)
            raise AssertionError('meson install --destdir failed')

        prefix, libdir, datadir = option_dirs(meson, build_dir)
        libdir = root + libdir
        datadir = root + datadir
        typelib_dir = os.path.join(libdir, 'girepository-1.0')
        vapi_dir = os.path.join(datadir, 'vala', 'vapi')

        check(os.path.isfile(os.path.join(typelib_dir, 'Sysem-1.typelib')),
              'Sysem-1.typelib in %s' % typelib_dir)
        check(os.path.isfile(os.path.join(datadir, 'gir-1.0', 'Sysem-1.gir')),
              'Sysem-1.gir in share/gir-1.0')
        check(os.path.isfile(os.path.join(libdir, 'libsysem-1.so.0')), 'libsysem-1.so.0')

        # Python: only GI_TYPELIB_PATH and LD_LIBRARY_PATH lead to the prefix.
        out = run(['/usr/bin/python3', os.path.join(source_dir, 'install-check.py')],
                  env=clean_env(GI_TYPELIB_PATH=typelib_dir, LD_LIBRARY_PATH=libdir),
                  stdout=subprocess.PIPE, text=True).stdout
        log(out.strip().replace('\n', '; '))
        check('typelib %s/' % typelib_dir in out, 'Python loaded the installed typelib')
        check('library %s/' % libdir in out, 'Python loaded the installed library')

        if valac is not None:
            check(os.path.isfile(os.path.join(vapi_dir, 'sysem-1.vapi')),
                  'sysem-1.vapi in share/vala/vapi')
            with open(os.path.join(vapi_dir, 'sysem-1.deps')) as deps:
                check('gio-2.0' in deps.read().split(), 'sysem-1.deps names gio-2.0')

            # Vala: only PKG_CONFIG_PATH and --vapidir lead to the prefix.
            pc_dir = os.path.join(tmp, 'pkgconfig')
            os.mkdir(pc_dir)
            relocate_pc(os.path.join(libdir, 'pkgconfig', 'sysem-1.pc'),
                        os.path.join(pc_dir, 'sysem-1.pc'), root)
            program = os.path.join(tmp, 'install-check')
            run([valac, '--pkg', 'sysem-1', '--vapidir', vapi_dir,
                 '--directory', tmp, '--output', program,
                 os.path.join(source_dir, 'install-check.vala')],
                env=clean_env(PKG_CONFIG_PATH=pc_dir), cwd=tmp)
            out = run([program], env=clean_env(LD_LIBRARY_PATH=libdir),
                      stdout=subprocess.PIPE, text=True).stdout
            log(out.strip())
            check('library %s/' % libdir in out, 'Vala program loaded the installed library')
    finally:
        shutil.rmtree(tmp)

    check(not os.path.exists(tmp), 'temporary directory removed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
