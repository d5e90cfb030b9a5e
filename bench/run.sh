#!/bin/sh
# bench/run.sh: the whole of `make bench` after the build. Starts a private
# nginx on 127.0.0.1 (bench/nginx.conf.in), runs every contender for the
# same create-agent requests, the codec and memory benchmarks, then
# bench/report.lua writes bench/results.md and bench/results.png and prints
# the RATIO lines last. nginx is stopped on any exit.
#
# Knobs (environment): BENCH_N (requests per fast contender and round),
# BENCH_N_SOCKET, BENCH_N_POPEN, BENCH_ROUNDS, BENCH_RSS_N, BENCH_INFLIGHT,
# LUA (interpreter), BENCH_OUT (folder for results.md/png).
set -eu

cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
N=${BENCH_N:-20000}
N_SOCKET=${BENCH_N_SOCKET:-4000}
N_POPEN=${BENCH_N_POPEN:-300}
ROUNDS=${BENCH_ROUNDS:-3}
RSS_N=${BENCH_RSS_N:-100000}
INFLIGHT=${BENCH_INFLIGHT:-32}
OUT=${BENCH_OUT:-bench}
BIN=build/bench
LUA_PATH="lua/?.lua;lua/?/init.lua;bench/?.lua;;"
LUA_CPATH="build/?.so;;"
export LUA_PATH LUA_CPATH

work=$(mktemp -d "${TMPDIR:-/tmp}/hamsa-bench.XXXXXX")
chmod 755 "$work"              # nginx's worker may run as another user
results="$work/results.txt"
: >"$results"

stop_nginx() {
    if [ -s "$work/nginx.pid" ]; then
        pid=$(cat "$work/nginx.pid")
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    fi
}
cleanup() {
    stop_nginx
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

# a free port; nginx may lose a race for it, so try a few
started=""
for _ in 1 2 3 4 5; do
    port=$($LUA bench/setup.lua port)
    $LUA bench/setup.lua files "$work" "$port" $server_cpu
    if nginx -p "$work" -c "$work/nginx.conf" 2>"$work/nginx.start"; then
        started=1
        break
    fi
done
if [ -z "$started" ]; then
    echo "bench: nginx did not start:" >&2
    cat "$work/nginx.start" "$work/error.log" >&2 2>/dev/null || true
    exit 1
fi
base="http://127.0.0.1:$port"
url="$base/v1/voice-agents"
i=0
until curl -s -o /dev/null -X POST --data-binary @"$work/body.json" "$url"; do
    i=$((i + 1))
    if [ $i -gt 50 ]; then echo "bench: nginx does not answer on $url" >&2; exit 1; fi
    sleep 0.1
done

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
    echo "FACT libcurl=$(curl-config --version 2>/dev/null || pkg-config --modversion libcurl)"
    echo "FACT nginx=$(nginx -v 2>&1 | sed 's/^nginx version: //')"
    echo "FACT cjson=lua-cjson $(dpkg-query -W -f='${Version}' lua-cjson 2>/dev/null || echo '?')"
    echo "FACT luasocket=$(dpkg-query -W -f='${Version}' lua-socket 2>/dev/null || echo '?')"
    echo "FACT cc=$(${CC:-cc} --version | head -1)"
    echo "FACT pinning=${client:+client on CPU 0, nginx worker on CPU 1}"
    echo "FACT body_bytes=$(wc -c <"$work/body.json")"
    echo "FACT envelope_bytes=$(wc -c <"$work/envelope.json")"
    echo "FACT n=$N n_socket=$N_SOCKET n_popen=$N_POPEN rounds=$ROUNDS inflight=$INFLIGHT"
} >>"$results"

warm=$((N / 20))
r=1
while [ $r -le "$ROUNDS" ]; do
    step "round $r/$ROUNDS: hamsa, libcurl, LuaSocket, popen"
    # the pairs that make a ratio run back to back, in turns
    $client $BIN/raw_easy "$url" "$work/body.json" "$N" "$warm" >>"$results"
    $client $LUA bench/clients.lua hamsa_block "$base" "$N" "$warm" >>"$results"
    $client $BIN/raw_multi "$url" "$work/body.json" "$N" "$warm" "$INFLIGHT" >>"$results"
    $client $LUA bench/clients.lua hamsa_async "$base" "$N" "$warm" "$INFLIGHT" >>"$results"
    $client $LUA bench/clients.lua luasocket "$base" "$N_SOCKET" 200 >>"$results"
    $client $LUA bench/clients.lua popen "$base" "$N_POPEN" 10 >>"$results"
    r=$((r + 1))
done

if command -v wrk >/dev/null; then
    step "server ceiling (wrk)"
    for c in 1 "$INFLIGHT"; do
        rps=$($client wrk -t1 -c"$c" -d2s -s "$work/wrk.lua" "$url" | awk '/^Requests\/sec:/ { print $2 }')
        echo "WRK conns=$c rps=$rps" >>"$results"
    done
fi

step "memory: $RSS_N requests through one client"
$client $LUA bench/clients.lua rss "$base" "$RSS_N" 1000 >>"$results"

step "codec"
$client $LUA bench/codec.lua >>"$results"

stop_nginx
if grep -q '\[alert\]\|\[emerg\]\|\[crit\]' "$work/error.log" 2>/dev/null; then
    echo "bench: nginx reported problems:" >&2
    cat "$work/error.log" >&2
fi
$LUA bench/report.lua "$results" "$OUT"
