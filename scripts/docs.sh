#!/bin/sh
# scripts/docs.sh [DIR]: builds the HTML reference (config.ld) into DIR
# (default build/doc) with ldoc, from scratch, and fails if ldoc printed
# anything but the lines of a clean run: LDoc reports problems as warnings
# ("file:line: message") and still exits 0, so here a warning is an error.
# `make docs` runs it.
set -eu
dir=${1:-build/doc}
rm -rf "$dir"
mkdir -p "$dir"
log=$dir/ldoc.log
status=0
ldoc -d "$dir" . >"$log" 2>&1 || status=$?
# the lines every clean run prints
warnings=$(grep -v -e '^reading configuration from config\.ld$' \
                   -e '^output written to ' "$log" || true)
if [ "$status" -ne 0 ] || [ -n "$warnings" ]; then
    cat "$log" >&2
    echo "make docs: ldoc reported problems (exit status $status); warnings are errors" >&2
    exit 1
fi
rm -f "$log"
echo "make docs: $dir/index.html"
