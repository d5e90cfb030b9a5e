--- bench/report.lua: turns the lines bench/run.sh collected into
-- OUT/results.md (tables), OUT/results.png (gnuplot) and, printed last,
-- one `RATIO <name> <value>` line per target of the performance issue.
--
--   lua5.4 bench/report.lua RESULTS_TXT OUT_DIR
--
-- A contender ran several rounds: each figure is the median of its rounds.
local results_path, out = arg[1], arg[2] or "bench"
local format, concat = string.format, table.concat

local CONTENDERS = {
    { key = "hamsa_block", label = "(a) hamsa, blocking", short = "hamsa" },
    { key = "hamsa_async", label = "(b) hamsa, async, %d in flight", short = "hamsa async" },
    { key = "libcurl_easy", label = "(c) libcurl easy handle, C, no JSON", short = "libcurl" },
    { key = "libcurl_multi", label = "(d) libcurl multi, C, %d in flight, no JSON", short = "libcurl multi" },
    { key = "luasocket", label = "(e) LuaSocket socket.http + lua-cjson", short = "LuaSocket" },
    { key = "popen", label = "(f) io.popen(\"curl ...\") + lua-cjson", short = "popen curl" },
}

local function parse_kv(s)
    local t = {}
    for k, v in s:gmatch("([%w_]+)=(%S+)") do t[k] = tonumber(v) or v end
    return t
end

local facts, runs, codec, wrk, rss = {}, {}, {}, {}, nil
for line in io.lines(results_path) do
    local kind, rest = line:match("^(%u+) (.*)$")
    if kind == "FACT" then
        local k, v = rest:match("^([%w_]+)=(.*)$")     -- the "n" line keeps all its pairs
        if k then facts[k] = v end
    elseif kind == "RESULT" then
        local r = parse_kv(rest)
        runs[r.name] = runs[r.name] or {}
        table.insert(runs[r.name], r)
    elseif kind == "CODEC" then
        local c = parse_kv(rest)
        codec[c.case .. "/" .. c.op .. "/" .. c.lib] = c
    elseif kind == "WRK" then
        local w = parse_kv(rest)
        wrk[#wrk + 1] = w
    elseif kind == "RSS" then
        rss = parse_kv(rest)
    end
end

local function median(list)
    table.sort(list)
    local n = #list
    if n == 0 then return nil end
    if n % 2 == 1 then return list[(n + 1) // 2] end
    return (list[n // 2] + list[n // 2 + 1]) / 2
end

local inflight = tonumber((facts.n or ""):match("inflight=(%d+)")) or 32
local stats = {}
for _, c in ipairs(CONTENDERS) do
    local rs = runs[c.key]
    if rs then
        local rps, cpu, p50, p99, n = {}, {}, {}, {}, 0
        for _, r in ipairs(rs) do
            rps[#rps + 1] = r.n / r.wall
            cpu[#cpu + 1] = r.cpu / r.n * 1e6
            p50[#p50 + 1] = r.p50
            p99[#p99 + 1] = r.p99
            n = r.n
        end
        stats[c.key] = { rps = median(rps), cpu = median(cpu), p50 = median(p50), p99 = median(p99),
            n = n, rounds = #rs, label = format(c.label, inflight), short = c.short }
    end
end

local function ratio(a, b, field)
    if not (stats[a] and stats[b]) then return nil end
    return stats[a][field] / stats[b][field]
end

local function codec_ratio(case, op)
    local h, c = codec[case .. "/" .. op .. "/hamsa"], codec[case .. "/" .. op .. "/cjson"]
    if not (h and c) then return nil end
    return c.us / h.us          -- our speed / theirs
end

local rss_growth = rss and (rss.rss_after_kb - rss.rss_before_kb) / 1024
local RATIOS = {
    { "blocking_vs_libcurl", ratio("hamsa_block", "libcurl_easy", "rps"), ">=", 0.90, "(a)/(c) requests/s" },
    { "cpu_vs_libcurl", ratio("hamsa_block", "libcurl_easy", "cpu"), "<=", 1.25, "(a)/(c) CPU per request" },
    { "async_vs_multi", ratio("hamsa_async", "libcurl_multi", "rps"), ">=", 0.85, "(b)/(d) requests/s" },
    { "blocking_vs_luasocket", ratio("hamsa_block", "luasocket", "rps"), ">=", 1.35, "(a)/(e) requests/s" },
    { "blocking_vs_popen", ratio("hamsa_block", "popen", "rps"), ">=", 40, "(a)/(f) requests/s" },
    { "encode_vs_cjson", codec_ratio("agent", "encode"), ">=", 1.0, "agent payload, speed" },
    { "decode_vs_cjson", codec_ratio("agent", "decode"), ">=", 1.0, "agent payload, speed" },
    { "rss_growth_mb", rss_growth, "<", 2, "VmRSS growth over the memory run, MB" },
}

local function met(r)
    local v, op, target = r[2], r[3], r[4]
    if v == nil then return "not measured" end
    if op == ">=" then return v >= target and "yes" or "**no**" end
    if op == "<=" then return v <= target and "yes" or "**no**" end
    return v < target and "yes" or "**no**"
end

local function num(v, digits)
    if v == nil then return "n/a" end
    return format("%." .. (digits or 2) .. "f", v)
end

local function thousands(v)
    local s = format("%d", math.floor(v + 0.5))
    return (s:reverse():gsub("(%d%d%d)%f[%d]", "%1,"):reverse())
end

---------------------------------------------------------------------------
-- results.md

local md = {}
local function add(...) md[#md + 1] = concat({ ... }) end

add("# Benchmark results")
add("")
add("Written by `make bench` (bench/run.sh, bench/report.lua) on ", os.date("!%Y-%m-%d %H:%M UTC"),
    "; every figure below comes from that one run. The chart is [results.png](results.png).")
add("")
add("Each contender sends the same create-agent request (`POST /v1/voice-agents`, a ",
    facts.body_bytes or "?", "-byte body with `freeSlots`, Arabic text and nested objects) to a local nginx ",
    "that answers with a ", facts.envelope_bytes or "?", "-byte agent envelope over kept-alive connections. ",
    "The hamsa contenders go through `client.agents:create(body)`: validation, encoding, transfer, decoding ",
    "and the envelope check, all included. The C contenders send pre-encoded bytes and do no JSON work.")
add("")
add("## Targets")
add("")
add("| Ratio | Value | Target | Met | What |")
add("|---|---:|---|---|---|")
for _, r in ipairs(RATIOS) do
    add("| `", r[1], "` | ", num(r[2]), " | ", r[3], " ", r[4], " | ", met(r), " | ", r[5], " |")
end
add("")
add("## Contenders")
add("")
add("| Contender | Requests/s | Median µs | p99 µs | CPU µs/request | Requests × rounds |")
add("|---|---:|---:|---:|---:|---:|")
for _, c in ipairs(CONTENDERS) do
    local s = stats[c.key]
    if s then
        add("| ", s.label, " | ", thousands(s.rps), " | ", num(s.p50, 0), " | ", num(s.p99, 0), " | ",
            num(s.cpu, 1), " | ", thousands(s.n), " × ", s.rounds, " |")
    end
end
add("")
add("Latency is per request, from the call to its answer (for the async contenders: from issuing to the ",
    "completion callback, so it includes the wait behind the other requests in flight). CPU is the client ",
    "process's user + system time divided by the requests (for popen: plus its curl children's). ",
    "Each figure is the median of the rounds.")
if #wrk > 0 then
    add("")
    add("Server ceiling, for scale (wrk, a C load generator, on the client's CPU, same request): ")
    local parts = {}
    for _, w in ipairs(wrk) do
        parts[#parts + 1] = format("%s requests/s over %d connection%s", thousands(tonumber(w.rps) or 0),
            w.conns, w.conns == 1 and "" or "s")
    end
    md[#md] = md[#md] .. concat(parts, "; ") .. "."
end
add("")
add("## Codec: `hamsa.json` against lua-cjson")
add("")
add("| Payload | Operation | Bytes | hamsa µs | lua-cjson µs | hamsa MB/s | lua-cjson MB/s | Speed ratio |")
add("|---|---|---:|---:|---:|---:|---:|---:|")
for _, case in ipairs({ "agent", "list" }) do
    for _, op in ipairs({ "encode", "decode" }) do
        local h, c = codec[case .. "/" .. op .. "/hamsa"], codec[case .. "/" .. op .. "/cjson"]
        if h and c then
            add("| ", case == "agent" and "agent body" or "agent list (1 MB)", " | ", op, " | ",
                thousands(h.bytes), " | ", num(h.us, 1), " | ", num(c.us, 1), " | ", num(h.mbs, 0), " | ",
                num(c.mbs, 0), " | ", num(c.us / h.us), " |")
        end
    end
end
add("")
add("Best of three timed runs each, the two libraries taking turns in one process. lua-cjson 2.1.0 ",
    "turns integers into floats and has no array marks; `hamsa.json` keeps both, and checks UTF-8.")
if rss then
    add("")
    add("## Memory")
    add("")
    add(format("One client, %s blocking create-agent requests after %s warm-up requests: VmRSS %s kB before, "
        .. "%s kB after (growth %.2f MB); peak RSS (VmHWM) %s kB before, %s kB after; Lua heap at the end "
        .. "%s kB.", thousands(rss.n), thousands(rss.warm), thousands(rss.rss_before_kb),
        thousands(rss.rss_after_kb), rss_growth, thousands(rss.hwm_before_kb), thousands(rss.hwm_after_kb),
        thousands(rss.lua_kb)))
end
add("")
add("## Machine")
add("")
add("| | |")
add("|---|---|")
for _, k in ipairs({ "cpu", "cores", "mem", "virt", "os", "kernel", "lua", "libcurl", "nginx", "cjson",
    "luasocket", "cc", "pinning" }) do
    if facts[k] and facts[k] ~= "" then add("| ", k, " | ", facts[k], " |") end
end
add("")
add("nginx runs one worker with `return 200` from memory, no logging, `keepalive_requests 1000000`. ",
    "With two cores or more the client is pinned to CPU 0 and nginx's worker to CPU 1, so the server ",
    "never takes the client's CPU (as with a server on another machine) and runs are repeatable.")
add("")

local f = assert(io.open(out .. "/results.md", "wb"))
f:write(concat(md, "\n"))
f:close()

---------------------------------------------------------------------------
-- results.png

local dat = assert(io.open(out .. "/results.dat", "wb"))
local i = 0
for _, c in ipairs(CONTENDERS) do
    local s = stats[c.key]
    if s then
        dat:write(format("%d \"%s\" %.1f %.2f\n", i, s.short, s.rps, s.cpu))
        i = i + 1
    end
end
dat:close()

local gp = format([[
set terminal pngcairo size 1100,480 font "DejaVu Sans,10" noenhanced
set output "%s/results.png"
set multiplot layout 1,2 title "hamsa create-agent against local nginx (%s, %s cores)"
set style fill solid 0.8 border -1
set boxwidth 0.6
set logscale y
set grid ytics
set xtics rotate by -30 nomirror
unset key
set yrange [*:*]
set title "Requests per second (higher is better)"
plot "%s/results.dat" using 1:3:xtic(2) with boxes lc rgb "#2b7bba", \
     "" using 1:3:(sprintf("%%.0f", $3)) with labels offset 0,0.8
set title "Client CPU µs per request (lower is better)"
plot "%s/results.dat" using 1:4:xtic(2) with boxes lc rgb "#d95f02", \
     "" using 1:4:(sprintf("%%.0f", $4)) with labels offset 0,0.8
unset multiplot
]], out, facts.cpu or "?", facts.cores or "?", out, out)
local gpf = assert(io.open(out .. "/results.gp", "wb"))
gpf:write(gp)
gpf:close()
local ok = os.execute("gnuplot " .. out .. "/results.gp")
if not ok then io.stderr:write("bench: gnuplot failed; results.png not written\n") end
os.remove(out .. "/results.gp")
os.remove(out .. "/results.dat")

---------------------------------------------------------------------------
-- the closing lines

io.write("bench: wrote ", out, "/results.md and ", out, "/results.png\n")
for _, r in ipairs(RATIOS) do
    io.write(format("RATIO %s %s\n", r[1], r[2] and format("%.3f", r[2]) or "n/a"))
end
