#!/bin/bash
# valgrind-test.sh: the exe_wrapper of the "valgrind" test setup.
#
#   valgrind-test.sh VALGRIND [VALGRIND OPTIONS…] -- TEST [ARGS…]
#
# Runs TEST under VALGRIND, each process with its own log, and fails if
# the test process has any error (leaks of the kinds the options select
# included), or if a process it forked has a memory error.
#
# Leaks are not counted in forked children: a child that calls _exit()
# inherits a copy of its parent's heap, and whatever only the parent's
# other threads or later stack frames pointed to looks "definitely lost"
# there. valgrind applies --error-exitcode to every process it follows
# through fork(), so with it such a child would exit with 1 and fail a
# test that checks its status; this wrapper judges each process instead.
# Programs started with exec() run outside valgrind (--trace-children=no).
set -u

valgrind=$1
shift
options=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  options+=("$1")
  shift
done
shift

logs=$(mktemp -d "${TMPDIR:-/tmp}/valgrind-logs-XXXXXX") || exit 99
trap 'rm -rf "$logs"' EXIT

"$valgrind" "${options[@]}" --child-silent-after-fork=no --log-file="$logs/%p.log" "$@"
status=$?

main=
for log in "$logs"/*.log; do
  [ -e "$log" ] || continue
  if grep -q "^==[0-9]*== Parent PID: $$\$" "$log"; then
    main=$log
  fi
done

if [ -z "$main" ]; then
  echo "valgrind-test.sh: valgrind left no log for $1" >&2
  exit 99
fi

cat "$main" >&2

if ! grep -q "^==[0-9]*== ERROR SUMMARY: 0 errors" "$main"; then
  if grep -q "^==[0-9]*== ERROR SUMMARY:" "$main"; then
    echo "valgrind-test.sh: valgrind found errors in $1" >&2
    [ $status -eq 0 ] && status=1
  fi
fi

# Forked children: memory errors count, leaks do not.
memory_errors='Invalid (read|write|free)|Mismatched free|uninitialised|Syscall param|overlap|Illegal memory pool'
for log in "$logs"/*.log; do
  [ "$log" = "$main" ] && continue
  if grep -Eq "^==[0-9]*== ($memory_errors)" "$log"; then
    echo "valgrind-test.sh: valgrind found errors in a child of $1:" >&2
    cat "$log" >&2
    [ $status -eq 0 ] && status=1
  fi
done

exit $status
