#!/usr/bin/python3
# run-consumer.py: build and run a project that uses sysem as a subproject
#
# SPDX-FileCopyrightText: 2026 The sysem authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: run-consumer.py SYSEM-SOURCE-DIR [--sysem-suites SUITE,...]
#
# Copies tests/subproject/consumer (with its subprojects/sysem.wrap, the one
# the README shows) into a temporary directory, links the sysem source tree
# in as subprojects/sysem (so the wrap never fetches anything), and checks:
#   - meson setup with --force-fallback-for=sysem-1 (an installed sysem
#     must not be picked instead), compile, and the consumer's own tests:
#     a C program and, with valac, a Vala one, each using sysem;
#   - the uninstalled pkg-config file (meson-uninstalled/, which
#     `meson devenv` uses) is enough for `cc $(pkg-config --cflags --libs
#     sysem-1)` on a file that includes <sysem/sysem.h>;
#   - with --sysem-suites, sysem's own test suites built and run inside the
#     consumer's build (sysem:tests=true), e.g. core,gi.
# The temporary directory is removed in all cases.

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

SCRUBBED = ('GI_TYPELIB_PATH', 'LD_LIBRARY_PATH', 'PKG_CONFIG_PATH', 'DESTDIR',
            'MESON_SOURCE_ROOT', 'MESON_BUILD_ROOT', 'MESON_SUBDIR')


def log(*words):
    print('#', *words, flush=True)


def run(argv, **kwargs):
    log('running', ' '.join(argv))
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(kwargs.pop('extra_env', {}))
    return subprocess.run(argv, env=env, check=True, **kwargs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('source_dir')
    parser.add_argument('--sysem-suites', default='')
    args = parser.parse_args()
    source_dir = os.path.abspath(args.source_dir)
    suites = [s for s in args.sysem_suites.split(',') if s]

    tmp = tempfile.mkdtemp(prefix='sysemtest-subproject-')
    try:
        consumer = os.path.join(tmp, 'consumer')
        shutil.copytree(os.path.join(source_dir, 'tests', 'subproject', 'consumer'), consumer)
        os.symlink(source_dir, os.path.join(consumer, 'subprojects', 'sysem'))
        build = os.path.join(tmp, 'build')

        options = ['-Dsysem:gtk_doc=disabled', '-Dsysem:man=disabled',
                   '-Dsysem:tests=%s' % ('true' if suites else 'false')]
        run(['meson', 'setup', '--force-fallback-for=sysem-1', *options, build, consumer])
        run(['nice', 'meson', 'compile', '-C', build])
        run(['meson', 'test', '-C', build, '--suite', 'consumer', '--print-errorlogs'])

        # The uninstalled .pc file: <sysem/sysem.h> and the library.
        pc_dir = os.path.join(build, 'meson-uninstalled')
        check_c = os.path.join(tmp, 'uninstalled.c')
        with open(check_c, 'w') as f:
            f.write('#include <sysem/sysem.h>\n'
                    'int main (void) { return sysem_semaphore_get_type () == 0; }\n')
        flags = run(['pkg-config', '--cflags', '--libs', 'sysem-1'],
                    extra_env={'PKG_CONFIG_PATH': pc_dir},
                    stdout=subprocess.PIPE, text=True).stdout.split()
        program = os.path.join(tmp, 'uninstalled')
        run(['cc', check_c, '-o', program, *flags])
        lib_dir = os.path.join(build, 'subprojects', 'sysem', 'sysem')
        run([program], extra_env={'LD_LIBRARY_PATH': lib_dir})
        log('ok: the uninstalled pkg-config file gives <sysem/sysem.h>')

        if suites:
            argv = ['meson', 'test', '-C', build, '--print-errorlogs']
            for suite in suites:
                argv += ['--suite', 'sysem:' + suite]
            run(argv)
    finally:
        shutil.rmtree(tmp)
    log('ok: consumer built and ran; temporary directory removed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
