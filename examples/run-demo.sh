#!/bin/sh
# `make demo`: start the mock Hamsa API on a free port, run the quickstart
# against it, stop the mock. Usage: examples/run-demo.sh [lua interpreter]
set -eu
LUA=${1:-lua5.4}
log=$(mktemp)
"$LUA" bin/hamsa-mock --api-key demo-key >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT INT TERM
i=0
until grep -q '^listening ' "$log"; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
        echo "the mock API did not start:" >&2; cat "$log" >&2; exit 1
    fi
    sleep 0.05
done
url=$(sed -n 's/^listening //p' "$log")
echo "mock Hamsa API at $url"
echo
HAMSA_BASE_URL=$url HAMSA_API_KEY=demo-key "$LUA" examples/quickstart.lua
