#!/bin/sh
# bench/run.sh: the whole of `make bench` after the build. Starts a private
# nginx on 127.0.0.1 (bench/nginx.conf.in), runs every contender for the
# same create-agent requests, the codec and memory benchmarks, then
# bench/report.lua writes bench/results.md and bench/results.png and prints
# the RATIO lines last. nginx is stopped on any exit.
#
# Every contender runs on both payloads of bench/payload.lua: "agent" (the
# 2 KB create body with freeSlots) and "small" (about 300 bytes); nginx
# answers each on its own port (bench/server.sh). The contenders: hamsa
# blocking and async on LUA and on LuaJIT (LUAJIT, with build/jit's core),
# raw libcurl easy and multi (C, build/bench), LuaSocket, io.popen("curl"),
# and Debian's lua-curl on LUA51 (with build/5.1's core for the clock).
#
# Knobs (environment): BENCH_N (requests per fast contender, payload and
# round), BENCH_N_SOCKET, BENCH_N_POPEN, BENCH_ROUNDS, BENCH_RSS_N,
# BENCH_INFLIGHT, LUA (interpreter), LUA51, LUAJIT, BENCH_OUT (folder for
# results.md/png).
set -eu

cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
N=${BENCH_N:-8000}
N_SOCKET=${BENCH_N_SOCKET:-4000}
N_POPEN=${BENCH_N_POPEN:-150}
ROUNDS=${BENCH_ROUNDS:-3}
RSS_N=${BENCH_RSS_N:-100000}
LUA51=${LUA51:-lua5.1}
LUAJIT=${LUAJIT:-luajit}
INFLIGHT=${BENCH_INFLIGHT:-32}
OUT=${BENCH_OUT:-bench}
BIN=build/bench
LUA_PATH="lua/?.lua;lua/?/init.lua;bench/?.lua;;"
LUA_CPATH="build/?.so;;"
export LUA_PATH LUA_CPATH
CPATH51="build/5.1/?.so;;"
CPATHJIT="build/jit/?.so;;"

work=$(mktemp -d "${TMPDIR:-/tmp}/hamsa-bench.XXXXXX")
chmod 755 "$work"              # nginx's worker may run as another user
results="$work/results.txt"
: >"$results"

. bench/server.sh
cleanup() {
    stop_nginx "$work"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two cores or more: the client on CPU 0, nginx's worker on CPU 1, as with
# a server on another machine: the server never takes the client's CPU.
client=""
server_cpu=""
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    client="taskset -c 0"
    server_cpu=1
fi

start_nginx "$work" $server_cpu

step() { echo "bench: $*" >&2; }

# machine facts, for the report
{
    echo "FACT cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "FACT cores=$(nproc)"
    echo "FACT mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "FACT kernel=$(uname -sr)"
    echo "FACT os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "FACT virt=$(lscpu 2>/dev/null | sed -n "s/^Hypervisor vendor:[[:space:]]*//p")"
    echo "FACT lua=$($LUA -v 2>&1 | head -1)"
    echo "FACT luajit=$($LUAJIT -v 2>&1 | head -1)"
    echo "FACT lua51=$($LUA51 -v 2>&1 | head -1)"
    echo "FACT luacurl=lua-curl $(dpkg-query -W -f='${Version}' lua-curl 2>/dev/null || echo '?') (module curl $(LUA_CPATH=";;" $LUA51 -e 'io.write(require("curl")._VERSION)' 2>/dev/null || echo '?'))"
    echo "FACT libcurl=$(curl-config --version 2>/dev/null || pkg-config --modversion libcurl)"
    echo "FACT nginx=$(nginx -v 2>&1 | sed 's/^nginx version: //')"
    echo "FACT cjson=lua-cjson $(dpkg-query -W -f='${Version}' lua-cjson 2>/dev/null || echo '?')"
    echo "FACT luasocket=$(dpkg-query -W -f='${Version}' lua-socket 2>/dev/null || echo '?')"
    echo "FACT cc=$(${CC:-cc} --version | head -1)"
    echo "FACT pinning=${client:+client on CPU 0, nginx worker on CPU 1}"
    echo "FACT body_bytes=$(wc -c <"$work/body.json")"
    echo "FACT envelope_bytes=$(wc -c <"$work/envelope.json")"
    echo "FACT body_small_bytes=$(wc -c <"$work/body_small.json")"
    echo "FACT envelope_small_bytes=$(wc -c <"$work/envelope_small.json")"
    echo "FACT n=$N n_socket=$N_SOCKET n_popen=$N_POPEN rounds=$ROUNDS inflight=$INFLIGHT"
} >>"$results"

warm=$((N / 20))
r=1
while [ $r -le "$ROUNDS" ]; do
    for p in agent small; do
        if [ $p = agent ]; then b=$base u=$url body=$work/body.json
        else b=$base_small u=$url_small body=$work/body_small.json; fi
        step "round $r/$ROUNDS, $p payload: hamsa, libcurl, LuaJIT, lua-curl, LuaSocket, popen"
        # the pairs that make a ratio run back to back, in turns
        $client $BIN/raw_easy "$u" "$body" "$N" "$warm" $p >>"$results"
        $client $LUA bench/clients.lua hamsa_block $p "$b" "$N" "$warm" >>"$results"
        $client $BIN/raw_multi "$u" "$body" "$N" "$warm" "$INFLIGHT" $p >>"$results"
        $client $LUA bench/clients.lua hamsa_async $p "$b" "$N" "$warm" "$INFLIGHT" >>"$results"
        LUA_CPATH=$CPATHJIT $client $LUAJIT bench/clients.lua hamsa_block $p "$b" "$N" "$warm" >>"$results"
        LUA_CPATH=$CPATHJIT $client $LUAJIT bench/clients.lua hamsa_async $p "$b" "$N" "$warm" "$INFLIGHT" \
            >>"$results"
        LUA_CPATH=$CPATH51 $client $LUA51 bench/clients.lua luacurl $p "$b" "$N" "$warm" >>"$results"
        $client $LUA bench/clients.lua luasocket $p "$b" "$N_SOCKET" 200 >>"$results"
        $client $LUA bench/clients.lua popen $p "$b" "$N_POPEN" 10 >>"$results"
    done
    r=$((r + 1))
done

if command -v wrk >/dev/null; then
    step "server ceiling (wrk)"
    for p in agent small; do
        if [ $p = agent ]; then u=$url tail=""; else u=$url_small tail=_small; fi
        for c in 1 "$INFLIGHT"; do
            rps=$($client wrk -t1 -c"$c" -d2s -s "$work/wrk$tail.lua" "$u" | awk '/^Requests\/sec:/ { print $2 }')
            echo "WRK payload=$p conns=$c rps=$rps" >>"$results"
        done
    done
fi

step "memory: $RSS_N requests through one client"
$client $LUA bench/clients.lua rss agent "$base" "$RSS_N" 1000 >>"$results"

step "codec"
$client $LUA bench/codec.lua >>"$results"

stop_nginx "$work"
if grep -q '\[alert\]\|\[emerg\]\|\[crit\]' "$work/error.log" 2>/dev/null; then
    echo "bench: nginx reported problems:" >&2
    cat "$work/error.log" >&2
fi
$LUA bench/report.lua "$results" "$OUT"
