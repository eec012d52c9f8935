#!/bin/sh
# fuzz-keys.sh: build the libFuzzer target fuzz-keys.c with clang and run it
# a bounded number of times over the seed corpus. Fails if the fuzzer finds
# a crash, a sanitizer error, a leak or a broken promise.
#
#   fuzz-keys.sh CLANG SOURCE_ROOT BUILD_ROOT OUT_DIR RUNS
#
# The gcc build of sysem cannot give libFuzzer's instrumentation, so the
# three source files the target needs are compiled here, from the sources.
set -eu

clang=$1
src=$2
build=$3
out=$4
runs=$5

here=$src/tests/reliability
# Key derivation goes through the backend table, so the fuzzer is built
# with the whole library, etcd's URI parsing included when it is built.
pkgs=gio-2.0
if grep -q '^#define HAVE_ETCD 1' "$build/config.h"; then
  sources="$here/fuzz-keys.c $(ls "$src"/sysem/*.c)"
  pkgs="$pkgs libsoup-3.0 json-glib-1.0"
else
  sources="$here/fuzz-keys.c $(ls "$src"/sysem/*.c | grep -v -- -etcd)"
fi
sources="$sources $build/sysem/sysem-enum-types.c"
exe=$out/fuzz-keys

mkdir -p "$out"

stale=no
if [ ! -x "$exe" ]; then
  stale=yes
else
  for f in $sources $src/sysem/*.h "$build/config.h"; do
    if [ "$f" -nt "$exe" ]; then stale=yes; fi
  done
fi

if [ "$stale" = yes ]; then
  # shellcheck disable=SC2046,SC2086
  if ! "$clang" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
       -DSYSEM_COMPILATION -D_GNU_SOURCE \
       -I"$build" -I"$build/sysem" -I"$src" -I"$src/sysem" \
       $(pkg-config --cflags $pkgs) \
       $sources \
       $(pkg-config --libs $pkgs) -lpthread \
       -o "$exe.tmp"; then
    echo "fuzz-keys.sh: cannot build the fuzzer with $clang" >&2
    echo "fuzz-keys.sh: it needs clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes)" >&2
    exit 1
  fi
  mv "$exe.tmp" "$exe"
fi

# New inputs go to a scratch corpus in the build tree (libFuzzer writes to
# the first directory); the committed seeds are only read.
rm -rf "$out/corpus" "$out/artifacts"
mkdir -p "$out/corpus" "$out/artifacts"

# The library translates its messages: point it at nothing.
export SYSEM_LOCALEDIR="$out/no-locale"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

status=0
"$exe" -runs="$runs" -seed=1 -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$out/artifacts/" \
  "$out/corpus" "$here/fuzz-corpus" || status=$?

if [ -n "$(ls -A "$out/artifacts")" ]; then
  echo "fuzz-keys.sh: the fuzzer left crash reproducers in $out/artifacts:" >&2
  ls -l "$out/artifacts" >&2
  exit 1
fi
exit $status
