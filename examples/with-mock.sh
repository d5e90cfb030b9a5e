#!/bin/sh
# Runs a command against a fresh mock Hamsa API: starts bin/hamsa-mock on a
# free port, exports HAMSA_BASE_URL and HAMSA_API_KEY, runs the command,
# stops the mock. From the repository root:
#   examples/with-mock.sh [--latency S] -- lua5.4 examples/quickstart.lua
# MOCK_LUA picks the interpreter of the mock (default lua5.4).
set -eu
mock_args=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do mock_args="$mock_args $1"; shift; done
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || { echo "usage: $0 [mock options] -- command ..." >&2; exit 2; }
key=${HAMSA_MOCK_KEY:-mock-key}
log=$(mktemp)
# shellcheck disable=SC2086
"${MOCK_LUA:-lua5.4}" bin/hamsa-mock --api-key "$key" $mock_args >"$log" 2>&1 &
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
HAMSA_BASE_URL=$(sed -n 's/^listening //p' "$log")
HAMSA_API_KEY=$key
export HAMSA_BASE_URL HAMSA_API_KEY
echo "mock Hamsa API at $HAMSA_BASE_URL" >&2
"$@"
