#!/bin/sh
# `make test-embed`: the embed host against the mock with added latency.
# Usage: examples/embed/run.sh <host binary> [latency seconds]
set -eu
HOST=$1
LATENCY=${2:-0.25}
log=$(mktemp)
lua5.4 bin/hamsa-mock --api-key embed-key --latency "$LATENCY" >"$log" 2>&1 &
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
HAMSA_BASE_URL=$url HAMSA_API_KEY=embed-key "$HOST" examples/embed/game.lua 60
