#!/bin/sh
# scripts/isolated.sh COMMAND...: runs COMMAND in a process group of its own,
# then kills whatever is left of that group, and exits with COMMAND's status.
# A sanitizer or valgrind that ends the spec process must not leave a mock
# behind that holds the output pipe open (the run would hang, not fail).
set -u
[ $# -gt 0 ] || { echo "usage: scripts/isolated.sh COMMAND..." >&2; exit 2; }
pgid=$(mktemp "${TMPDIR:-/tmp}/hamsa-pgid.XXXXXX")
# shellcheck disable=SC2016
setsid -w sh -c 'echo $$ >"$0"; exec "$@"' "$pgid" "$@"
rc=$?
kill -9 -"$(cat "$pgid")" 2>/dev/null
rm -f "$pgid"
exit $rc
