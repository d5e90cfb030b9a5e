#!/bin/sh
# scripts/logged.sh NAME COMMAND...: runs COMMAND, its output shown and kept
# in NAME.log; its exit status goes to NAME.rc and its duration in seconds to
# NAME.secs. Exits 0 whatever COMMAND did, so that a target can run every
# one of a series (test-all-luas, check-memory) before it judges them.
set -u
name=${1:?usage: scripts/logged.sh NAME COMMAND...}
shift
mkdir -p "$(dirname "$name")"
start=$(date +%s)
{ "$@"; echo $? >"$name.rc"; } 2>&1 | tee "$name.log"
echo $(($(date +%s) - start)) >"$name.secs"
exit 0
