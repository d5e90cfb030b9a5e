#!/bin/sh
# Deliveries per second one hamsa.webhook.serve process accepts from wrk
# (one thread, 16 connections, 5 s), and proof that none was lost: wrk's
# count of completed requests against the server's count of on_event calls.
# Needs `make` (build/hamsa/core.so), lua5.4 with LuaSocket, and wrk.
# Usage: sh bench/webhook.sh [seconds]
set -eu
cd "$(dirname "$0")/.."
DURATION=${1:-5}
LUA=${LUA:-lua5.4}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
    "$LUA" bench/webhook_server.lua $((DURATION + 3)) >"$OUT" &
PID=$!
i=0
while [ ! -s "$OUT" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
URL=$(head -n 1 "$OUT")
echo "server: $URL (pid $PID)"
wrk -t1 -c16 -d"${DURATION}s" -s bench/webhook.lua "$URL"
wait "$PID"
tail -n +2 "$OUT"
echo "(wrk stops with up to 16 requests in flight: the server may count those too, never fewer)"
