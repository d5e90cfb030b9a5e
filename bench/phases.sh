#!/bin/sh
# bench/phases.sh: `make bench-phases`: instructions per operation of each
# phase of a create-agent request, counted by valgrind's callgrind. For each
# phase and payload, bench/phases.lua runs twice under callgrind, with N
# iterations and with 0 (same setup, same warm-up); the difference over N
# is the phase's cost in instructions of the client process (nginx, from
# bench/server.sh, is not counted). Prints a table and writes
# BENCH_OUT/phases.md.
#
# Knobs (environment): PHASES_N (iterations of the in-memory phases,
# default 2000), PHASES_N_NET (of build, engine and full, default 500),
# PHASES_WARM (warm-up iterations, default 20), LUA, BENCH_OUT.
set -eu

cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
N=${PHASES_N:-2000}
N_NET=${PHASES_N_NET:-500}
WARM=${PHASES_WARM:-20}
OUT=${BENCH_OUT:-bench}
LUA_PATH="lua/?.lua;lua/?/init.lua;bench/?.lua;;"
LUA_CPATH="build/?.so;;"
export LUA_PATH LUA_CPATH

command -v valgrind >/dev/null || { echo "bench-phases: valgrind is missing (make deps-phases)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hamsa-phases.XXXXXX")
chmod 755 "$work"
. bench/server.sh
cleanup() {
    stop_nginx "$work"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_nginx "$work"

# instructions (Ir) of one run of phases.lua under callgrind
count() {
    _out="$work/cg.out"
    rm -f "$_out"
    valgrind --tool=callgrind --callgrind-out-file="$_out" --dump-instr=no --compress-strings=no \
        "$LUA" bench/phases.lua "$@" 2>"$work/cg.log" >/dev/null || {
        echo "bench-phases: phases.lua $* failed:" >&2
        cat "$work/cg.log" >&2
        exit 1
    }
    sed -n 's/^summary: *//p; s/^totals: *//p' "$_out" | head -1 | cut -d' ' -f1
}

rows="$work/rows.txt"
: >"$rows"
for p in agent small; do
    if [ $p = agent ]; then b=$base; else b=$base_small; fi
    for phase in validate encode decode build engine full; do
        case $phase in build|engine|full) n=$N_NET ;; *) n=$N ;; esac
        echo "bench-phases: $p $phase ($n iterations)" >&2
        with=$(count "$phase" "$p" "$n" "$WARM" "$b")
        without=$(count "$phase" "$p" 0 "$WARM" "$b")
        echo "$p $phase $n $with $without" >>"$rows"
    done
done

"$LUA" - "$rows" "$OUT/phases.md" "$($LUA -v 2>&1 | head -1 | cut -d" " -f1-2)" <<'LUA'
local rows_path, md_path, lua_version = arg[1], arg[2], arg[3]
local per = { agent = {}, small = {} }
for line in io.lines(rows_path) do
    local p, phase, n, with, without = line:match("^(%S+) (%S+) (%d+) (%d+) (%d+)$")
    assert(p, "bad row: " .. line)
    per[p][phase] = (tonumber(with) - tonumber(without)) / tonumber(n)
end
local function thousands(v)
    local s = string.format("%d", math.floor(v + 0.5))
    return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^(-?),", "%1"))
end
local WHAT = {
    validate = "`hamsa.validate.agent_create(body)`",
    encode = "`core.json.encode` of the body with the route's array places (`hamsa.prepare`'s shape)",
    decode = "`core.json.decode` of the server's envelope",
    build = "`client.agents:create(body, { dry_run = true })`",
    engine = "one raw `core.multi` POST of the pre-encoded body (add, perform/next_done/wait, result, close)",
    full = "`client.agents:create(body)` against nginx",
}
local lines = {
    "# Instructions per phase of a create-agent request",
    "",
    "Written by `make bench-phases` (bench/phases.sh, bench/phases.lua) on " .. os.date("!%Y-%m-%d %H:%M UTC")
        .. ", " .. lua_version .. ". Instructions of the client process per operation, counted by "
        .. "callgrind: each phase runs N times after the same setup and warm-up as a run with 0 "
        .. "iterations, and the difference is divided by N. nginx's instructions are not counted. "
        .. "The share is of `full` on the same payload.",
    "",
    "| Phase | Agent payload | Share | Small payload | Share | What |",
    "|---|---:|---:|---:|---:|---|",
}
local out = { string.format("%-9s %14s %6s %14s %6s", "phase", "agent", "share", "small", "share") }
for _, phase in ipairs({ "validate", "encode", "decode", "build", "engine", "full" }) do
    local a, s = per.agent[phase], per.small[phase]
    local sa = string.format("%.0f %%", a / per.agent.full * 100)
    local ss = string.format("%.0f %%", s / per.small.full * 100)
    lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s | %s |", phase, thousands(a), sa, thousands(s), ss,
        WHAT[phase])
    out[#out + 1] = string.format("%-9s %14s %6s %14s %6s", phase, thousands(a), sa, thousands(s), ss)
end
-- what hamsa adds around the engine: its Lua layer, validation and codec
local ra, rs = per.agent.full - per.agent.engine, per.small.full - per.small.engine
local fa = string.format("%.0f %%", ra / per.agent.full * 100)
local fs = string.format("%.0f %%", rs / per.small.full * 100)
lines[#lines + 1] = string.format("| full − engine | %s | %s | %s | %s | %s |", thousands(ra), fa, thousands(rs), fs,
    "what hamsa adds around the engine: validation, preparation, codec, the request and response layers")
out[#out + 1] = string.format("%-13s %10s %6s %14s %6s", "full-engine", thousands(ra), fa, thousands(rs), fs)
lines[#lines + 1] = ""
lines[#lines + 1] = "The engine row is the C core's and libcurl's user-space work for one request "
    .. "(callgrind does not count the kernel's); `full − engine` is what the Lua layer and the codec "
    .. "add to it."
lines[#lines + 1] = ""
local f = assert(io.open(md_path, "wb"))
f:write(table.concat(lines, "\n"))
f:close()
print(table.concat(out, "\n"))
print("bench-phases: wrote " .. md_path)
LUA
