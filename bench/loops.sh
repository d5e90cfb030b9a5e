#!/bin/sh
# bench/loops.sh (make bench-loops): CPU spent by each event-loop adapter
# while N calls (default 50) wait on a slow mock (BENCH_LATENCY, default
# 2 s), BENCH_ROUNDS runs each (default 3). Runs examples/loop_*.lua, which
# print their own figures (os.clock over the wait), after the baseline
# bench/loop_wait.lua (the same calls driven by client:poll(1), no event
# loop), and writes the table to bench/loops.md. copas runs on Lua 5.1 when the Lua under test has no
# copas of its own (Debian ships it for 5.1 and 5.2).
set -eu
LUA=${LUA:-lua5.4}
N=${BENCH_N:-50}
LATENCY=${BENCH_LATENCY:-2}
ROUNDS=${BENCH_ROUNDS:-3}
export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;'

port=$($LUA -e 'local s = require("socket").bind("127.0.0.1", 0); local _, p = s:getsockname(); s:close(); print(p)')
$LUA bin/hamsa-mock --port "$port" --latency "$LATENCY" --api-key bench-key >/dev/null 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT INT TERM
for _ in 1 2 3 4 5 6 7 8 9 10; do
    if $LUA -e "assert(require('socket').connect('127.0.0.1', $port))" 2>/dev/null; then break; fi
    sleep 0.3
done
export HAMSA_BASE_URL="http://127.0.0.1:$port" HAMSA_API_KEY=bench-key

out=bench/loops.md
{
    echo "# Event-loop adapters: CPU while $N calls wait"
    echo
    echo "Written by \`make bench-loops\` ($(date -u +%Y-%m-%d), libcurl $($LUA -e 'print(require("hamsa.core").curl_version)'),"
    echo "$LUA; copas on the Lua shown). Each run: one agent, then $N calls at once against the mock"
    echo "answering after $LATENCY s; CPU is the process's (os.clock) from the first call to the last answer."
    echo
    echo "\"wait\" is the baseline: the same calls driven by hamsa's own \`client:poll(1)\`, no event loop."
    echo
    echo "| Loop | Lua | run | calls | wake-ups | CPU ms | wall s |"
    echo "|---|---|---|---:|---:|---:|---:|"
} > "$out"
for loop in wait cqueues luv copas; do
    lua=$LUA
    script=examples/loop_$loop.lua
    [ "$loop" = wait ] && script=bench/loop_wait.lua
    if [ "$loop" = copas ] && ! $LUA -e 'require "copas"' 2>/dev/null; then
        lua=lua5.1
        make -s core-lua-5.1 >/dev/null
        export LUA_CPATH='build/5.1/?.so;;'
    fi
    for r in $(seq 1 "$ROUNDS"); do
        line=$($lua "$script" "$N")
        echo "$line"
        echo "$line" | sed -n "s/^$loop: \([0-9]*\) calls placed, [0-9]* failed, \([0-9]*\) wake-ups, \([0-9.]*\) ms CPU in \([0-9.]*\) s$/| $loop | $lua | $r | \1 | \2 | \3 | \4 |/p" >> "$out"
    done
    export LUA_CPATH='build/?.so;;'
done
echo "bench-loops: wrote $out"
