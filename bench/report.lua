--- bench/report.lua: turns the lines bench/run.sh collected into
-- OUT/results.md (tables), OUT/results.png (gnuplot) and, printed last,
-- one `RATIO <name> <value>` line per target of the performance issue and
-- payload: `RATIO blocking_vs_libcurl 0.64` for the agent payload (the 2 KB
-- body), `RATIO blocking_vs_libcurl_small 0.71` for the small one.
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
    { key = "luacurl", label = "(g) lua-curl (one reused easy handle) + lua-cjson, Lua 5.1", short = "lua-curl" },
    { key = "hamsa_block_jit", label = "(h) hamsa, blocking, LuaJIT", short = "hamsa LuaJIT" },
    { key = "hamsa_async_jit", label = "(i) hamsa, async, %d in flight, LuaJIT", short = "hamsa async LuaJIT" },
}
local PAYLOADS = { "agent", "small" }

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
        local key = r.name .. "/" .. (r.payload or "agent")
        runs[key] = runs[key] or {}
        table.insert(runs[key], r)
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
-- stats[payload][contender key]
local stats = { agent = {}, small = {} }
for _, c in ipairs(CONTENDERS) do
  for _, p in ipairs(PAYLOADS) do
    local rs = runs[c.key .. "/" .. p]
    if rs then
        local rps, cpu, p50, p99, n = {}, {}, {}, {}, 0
        for _, r in ipairs(rs) do
            rps[#rps + 1] = r.n / r.wall
            cpu[#cpu + 1] = r.cpu / r.n * 1e6
            p50[#p50 + 1] = r.p50
            p99[#p99 + 1] = r.p99
            n = r.n
        end
        stats[p][c.key] = { rps = median(rps), cpu = median(cpu), p50 = median(p50), p99 = median(p99),
            n = n, rounds = #rs, label = format(c.label, inflight), short = c.short }
    end
  end
end

local function ratio(a, b, field)
    return function(p)
        local x, y = stats[p][a], stats[p][b]
        if not (x and y) then return nil end
        return x[field] / y[field]
    end
end

local function codec_ratio(op)
    return function(p)
        local h, c = codec[p .. "/" .. op .. "/hamsa"], codec[p .. "/" .. op .. "/cjson"]
        if not (h and c) then return nil end
        return c.us / h.us          -- our speed / theirs
    end
end

local rss_growth = rss and (rss.rss_after_kb - rss.rss_before_kb) / 1024
-- { name, value (a function of the payload, or one figure for both), op, target, what }
local RATIOS = {
    { "blocking_vs_libcurl", ratio("hamsa_block", "libcurl_easy", "rps"), ">=", 0.85, "(a)/(c) requests/s" },
    { "cpu_vs_libcurl", ratio("hamsa_block", "libcurl_easy", "cpu"), "<=", 1.5, "(a)/(c) CPU per request" },
    { "async_vs_multi", ratio("hamsa_async", "libcurl_multi", "rps"), ">=", 0.5,
        format("(b)/(d) requests/s, %d in flight", inflight) },
    { "async_vs_blocking", ratio("hamsa_async", "hamsa_block", "rps"), ">=", 1.5, "(b)/(a) requests/s" },
    { "blocking_vs_luasocket", ratio("hamsa_block", "luasocket", "rps"), ">=", 1.8, "(a)/(e) requests/s" },
    { "blocking_vs_luacurl", ratio("hamsa_block", "luacurl", "rps"), ">=", 1.2, "(a)/(g) requests/s" },
    { "encode_vs_cjson", codec_ratio("encode"), ">=", 2.0, "codec speed on the body" },
    { "decode_vs_cjson", codec_ratio("decode"), ">=", 2.0, "codec speed on the body" },
    { "rss_growth_mb", rss_growth, "<", 2, "VmRSS growth over the memory run (agent payload), MB" },
}

-- the value of ratio r for payload p (nil: not measured)
local function value(r, p)
    if type(r[2]) == "function" then return r[2](p) end
    return r[2]
end

local function met(v, r)
    local op, target = r[3], r[4]
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
    return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^(-?),", "%1"))
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
add("Each contender sends the same create-agent requests (`POST /v1/voice-agents`) to a local nginx, ",
    "over kept-alive connections, with two payloads: the **agent** payload, a ", facts.body_bytes or "?",
    "-byte body with `freeSlots`, Arabic text and nested objects, answered with a ",
    facts.envelope_bytes or "?", "-byte agent envelope; and the **small** payload, a ",
    facts.body_small_bytes or "?", "-byte body (name, language, greeting, a one-sentence preamble, ",
    "`silenceThreshold`, `interrupt`, one poke message, `tools.smartCallEnd`), answered with a ",
    facts.envelope_small_bytes or "?", "-byte envelope by a second nginx server. ",
    "The hamsa contenders go through `client.agents:create(body)`: validation, encoding, transfer, decoding ",
    "and the envelope check, all included; they run on ", (facts.lua or "?"):match("^(Lua %S+)") or "?",
    " and, as (h) and (i), on LuaJIT with the core built for it. The C contenders send pre-encoded bytes ",
    "and do no JSON work. LuaSocket, lua-curl and popen are what a user writes by hand: lua-cjson encodes ",
    "the body on every request and decodes every answer, whose `data.id` is checked.")
add("")
add("## Targets")
add("")
add("Each ratio is measured on both payloads; the RATIO lines `make bench` prints last name the agent ",
    "payload's as below and the small payload's with `_small` (`blocking_vs_libcurl_small`).")
add("")
add("| Ratio | Agent payload | Small payload | Target | Met (agent / small) | What |")
add("|---|---:|---:|---|---|---|")
for _, r in ipairs(RATIOS) do
    if type(r[2]) == "function" then
        local va, vs = value(r, "agent"), value(r, "small")
        add("| `", r[1], "` | ", num(va), " | ", num(vs), " | ", r[3], " ", r[4], " | ", met(va, r), " / ",
            met(vs, r), " | ", r[5], " |")
    else
        add("| `", r[1], "` | ", num(r[2]), " | | ", r[3], " ", r[4], " | ", met(r[2], r), " | ", r[5], " |")
    end
end
add("")
add("## Contenders")
for _, p in ipairs(PAYLOADS) do
    add("")
    add("### ", p == "agent" and "Agent" or "Small", " payload (", facts[p == "agent" and "body_bytes"
        or "body_small_bytes"] or "?", "-byte body, ", facts[p == "agent" and "envelope_bytes"
        or "envelope_small_bytes"] or "?", "-byte answer)")
    add("")
    add("| Contender | Requests/s | Median µs | p99 µs | CPU µs/request | Requests × rounds |")
    add("|---|---:|---:|---:|---:|---:|")
    for _, c in ipairs(CONTENDERS) do
        local s = stats[p][c.key]
        if s then
            add("| ", s.label, " | ", thousands(s.rps), " | ", num(s.p50, 0), " | ", num(s.p99, 0), " | ",
                num(s.cpu, 1), " | ", thousands(s.n), " × ", s.rounds, " |")
        end
    end
end
add("")
add("Latency is per request, from the call to its answer (for the async contenders: from issuing to the ",
    "completion callback, so it includes the wait behind the other requests in flight). CPU is the client ",
    "process's user + system time divided by the requests (for popen: plus its curl children's). ",
    "Each figure is the median of the rounds. popen (f) is informational: it has no target and runs ",
    "fewer requests. lua-curl (g) is Debian's `lua-curl` (", facts.luacurl or "?", ") on ",
    (facts.lua51 or ""):match("^(Lua %S+)") or "Lua 5.1", ": one easy handle reused, headers and body set on ",
    "every request (with a counter as the `Idempotency-Key`), the answer gathered by a write function.")
if #wrk > 0 then
    add("")
    add("Server ceiling, for scale (wrk, a C load generator, on the client's CPU, same requests): ")
    local parts = {}
    for _, w in ipairs(wrk) do
        parts[#parts + 1] = format("%s payload, %s requests/s over %d connection%s", w.payload or "agent",
            thousands(tonumber(w.rps) or 0), w.conns, w.conns == 1 and "" or "s")
    end
    md[#md] = md[#md] .. concat(parts, "; ") .. "."
end
add("")
add("## Codec: `hamsa.json` against lua-cjson")
add("")
add("| Payload | Operation | Bytes | hamsa µs | lua-cjson µs | hamsa MB/s | lua-cjson MB/s | Speed ratio |")
add("|---|---|---:|---:|---:|---:|---:|---:|")
local CASE_TITLE = { agent = "agent body", small = "small body", list = "agent list (1 MB)" }
for _, case in ipairs({ "agent", "small", "list" }) do
    for _, op in ipairs({ "encode", "decode" }) do
        local h, c = codec[case .. "/" .. op .. "/hamsa"], codec[case .. "/" .. op .. "/cjson"]
        if h and c then
            add("| ", CASE_TITLE[case], " | ", op, " | ",
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
for _, k in ipairs({ "cpu", "cores", "mem", "virt", "os", "kernel", "lua", "luajit", "lua51", "libcurl",
    "nginx", "cjson", "luasocket", "luacurl", "cc", "pinning" }) do
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

-- one row per contender: index, name, then requests/s and CPU µs for each payload (NaN: not run)
local dat = assert(io.open(out .. "/results.dat", "wb"))
local i = 0
local function fig(s, field) return s and format("%.2f", s[field]) or "NaN" end
for _, c in ipairs(CONTENDERS) do
    local sa, ss = stats.agent[c.key], stats.small[c.key]
    if sa or ss then
        dat:write(format("%d \"%s\" %s %s %s %s\n", i, c.short, fig(sa, "rps"), fig(sa, "cpu"), fig(ss, "rps"),
            fig(ss, "cpu")))
        i = i + 1
    end
end
dat:close()

local gp = format([[
set terminal pngcairo size 1400,540 font "DejaVu Sans,10" noenhanced
set output "%s/results.png"
set multiplot layout 1,2 title "hamsa create-agent against local nginx (%s, %s cores), agent and small payloads"
set style fill solid 0.8 border -1
set boxwidth 0.38
set logscale y
set grid ytics
set xtics rotate by -35 nomirror
set key top right
set rmargin 6
set yrange [*:*]
set title "Requests per second (higher is better)"
plot "%s/results.dat" using ($1-0.2):3:xtic(2) with boxes lc rgb "#2b7bba" title "agent", \
     "" using ($1+0.2):5 with boxes lc rgb "#9ecae1" title "small", \
     "" using ($1-0.2):3:(sprintf("%%.0f", $3)) with labels offset 0,0.8 font ",7" notitle, \
     "" using ($1+0.2):5:(sprintf("%%.0f", $5)) with labels offset 0,0.8 font ",7" notitle
set title "Client CPU µs per request (lower is better)"
plot "%s/results.dat" using ($1-0.2):4:xtic(2) with boxes lc rgb "#d95f02" title "agent", \
     "" using ($1+0.2):6 with boxes lc rgb "#fdae6b" title "small", \
     "" using ($1-0.2):4:(sprintf("%%.0f", $4)) with labels offset 0,0.8 font ",7" notitle, \
     "" using ($1+0.2):6:(sprintf("%%.0f", $6)) with labels offset 0,0.8 font ",7" notitle
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
local function ratio_line(name, v)
    io.write(format("RATIO %s %s\n", name, v and format("%.3f", v) or "n/a"))
end
for _, r in ipairs(RATIOS) do          -- the agent payload's under the old names, then the small one's
    ratio_line(r[1], value(r, "agent"))
end
for _, r in ipairs(RATIOS) do
    if type(r[2]) == "function" then ratio_line(r[1] .. "_small", value(r, "small")) end
end
