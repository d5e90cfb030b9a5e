--- scripts/reliability.lua: writes docs/reliability.md.
--
-- Runs the fault suite (spec/45-faults_spec.lua) with HAMSA_FAULT_TABLE set,
-- so that each passing case leaves one row, and renders those rows; adds the
-- figures that `make fuzz`, `make rss` and `make check-memory` left in
-- docs/figures/. Nothing in the tables is typed by hand: a case that fails
-- makes this script fail, and the document is not written.
--
--     make reliability
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--       BUSTED='lua5.4 /usr/bin/busted' lua5.4 scripts/reliability.lua [--out FILE]
package.path = "./?.lua;" .. package.path
local cjson = require "cjson"
local core = require "hamsa.core"

local OUT = "docs/reliability.md"
local FIGURES = "docs/figures"
for i = 1, #arg, 2 do
    if arg[i] == "--out" then OUT = arg[i + 1] else error("usage: reliability.lua [--out FILE]") end
end

local function read(path)
    local f = io.open(path)
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

local function tsv(path)
    local text = read(path)
    if not text then return nil end
    local rows, head = {}, nil
    for line in text:gmatch("[^\n]+") do
        local cells = {}
        for c in (line .. "\t"):gmatch("([^\t]*)\t") do cells[#cells + 1] = c end
        if not head then head = cells else
            local r = {}
            for i, h in ipairs(head) do r[h] = cells[i] end
            rows[#rows + 1] = r
        end
    end
    return rows
end

-- key \t value lines
local function pairs_tsv(path)
    local text = read(path)
    if not text then return nil end
    local t = {}
    for k, v in text:gmatch("([^\t\n]+)\t([^\n]*)") do t[k] = v end
    return t
end

local function thousands(n)
    local s = tostring(math.floor(tonumber(n) or 0))
    return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

---------------------------------------------------------------------------
-- 1. the fault suite

local rows_file = os.tmpname()
os.remove(rows_file)
local busted = os.getenv("BUSTED") or "lua5.4 /usr/bin/busted"
local cmd = ("HAMSA_FAULT_TABLE=%s %s -o utfTerminal spec/45-faults_spec.lua"):format(rows_file, busted)
io.stderr:write("reliability: ", cmd, "\n")
local p = assert(io.popen(cmd .. " 2>&1"))
local output = p:read("*a")
local ok = p:close()
io.stderr:write(output)
local summary = output:gsub("\27%[[%d;]*m", ""):match("(%d+ success[^\n]*)")
local counts = summary and summary:match("^(.-) :") or summary
if not ok or not summary or not summary:match("/ 0 failures / 0 errors") then
    os.remove(rows_file)
    error("the fault suite failed; docs/reliability.md is not written")
end

local rows, matrix = {}, {}
for line in (read(rows_file) or ""):gmatch("[^\n]+") do
    local r = cjson.decode(line)
    if r.matrix then matrix[#matrix + 1] = r else rows[#rows + 1] = r end
end
os.remove(rows_file)
assert(#rows > 0, "the fault suite recorded no rows")

---------------------------------------------------------------------------
-- 2. render

local out = {}
local function w(...) out[#out + 1] = table.concat({ ... }) end
local function cell(v)
    if v == nil or v == cjson.null then return "" end
    return (tostring(v):gsub("|", "\\|"))
end

w("# Reliability")
w()
w("How `hamsa` behaves when the server, the network or the caller misbehaves, proved by specs")
w("that run against real servers and count what those servers received. **Generated** by")
w("`make reliability` (`scripts/reliability.lua`) from a run of `spec/45-faults_spec.lua` and")
w("from the figures `make fuzz`, `make rss` and `make check-memory` left in `docs/figures/`;")
w("do not edit by hand.")
w()
w(("Generated with %s, libcurl %s, hamsa %s. Fault suite: %s."):format(_VERSION, core.curl_version,
    core._VERSION, counts))
w()
w("## Faults")
w()
w("Each row is one spec. The client has `max_retries = 2`, so a retried request is seen three")
w("times. *Server saw* is counted by the server itself (the mock's request log, or the TLS")
w("server's log); *usable after* means the same client object then did real work (a create")
w("that the server stored) with nothing left in flight. POST create stands for every")
w("non-idempotent route (see the next table); GET and PATCH are idempotent.")

local section
for _, r in ipairs(rows) do
    if r.section ~= section then
        section = r.section
        w()
        w("### ", section)
        w()
        w("| Fault | Request | Result (`err.kind`, `err.code`) | Retried | Server saw | Usable after | Note |")
        w("|---|---|---|---|---|---|---|")
    end
    local result
    if r.kind == nil or r.kind == cjson.null then
        result = "success"
    else
        result = "`" .. r.kind .. "`"
        if r.code and r.code ~= cjson.null then result = result .. ", `" .. r.code .. "`" end
        if r.status and r.status ~= cjson.null then result = result .. " (HTTP " .. math.floor(r.status) .. ")" end
        if r.retryable == true then result = result .. ", retryable" end
    end
    local attempts = tonumber(r.attempts)
    local retried = not attempts and "no (nothing sent)"
        or attempts > 1 and ("yes: %d attempts"):format(attempts) or "no"
    w(("| %s | %s | %s | %s | %d | %s | %s |"):format(cell(r.case), cell(r.request), result, retried,
        math.floor(r.seen), cell(r.usable), cell(r.note)))
end

if #matrix > 0 then
    w()
    w("## Side effects of the POST routes")
    w()
    w("Requests the server received for one logical call of each non-idempotent route, with the")
    w("fault on every attempt and `max_retries = 2`. Every attempt carried the same")
    w("`Idempotency-Key` (a UUID; `opts.idempotency_key` overrides it and is reused the same way).")
    w("What may have reached the server is sent once; what the server refused before acting")
    w("(429, 503) is sent 1 + `max_retries` times.")
    w()
    local routes, faults, seen = {}, {}, {}
    for _, r in ipairs(matrix) do
        if not seen[r.route] then seen[r.route] = true; routes[#routes + 1] = r.route end
        if not seen["f:" .. r.fault] then seen["f:" .. r.fault] = true; faults[#faults + 1] = r.fault end
        seen[r.fault .. "|" .. r.route] = r
    end
    local head, rule = { "| Fault |" }, { "|---|" }
    for _, route in ipairs(routes) do
        head[#head + 1] = " `" .. route .. "` |"
        rule[#rule + 1] = "---|"
    end
    w(table.concat(head))
    w(table.concat(rule))
    for _, f in ipairs(faults) do
        local line = { "| " .. f .. " |" }
        for _, route in ipairs(routes) do
            local r = seen[f .. "|" .. route]
            line[#line + 1] = r and (" %d (`%s`) |"):format(math.floor(r.seen), r.kind) or " |"
        end
        w(table.concat(line))
    end
end

w()
w("## Bounds and secrets")
w()
w("Proved in `spec/46-limits_spec.lua` and `spec/60-security_spec.lua`, each refusal by the server")
w("seeing nothing:")
w()
w("- Request bodies: at most `max_request_bytes` (default 1 MiB) once encoded and at most 100")
w("  levels of nesting (the codec's own limit is 1000), with or without `validate`: kind `invalid`.")
w("- Responses: at most `max_response_bytes` (default 16 MiB; kind `decode`, code")
w("  `RESPONSE_TOO_LARGE`), header block at most 256 KiB.")
w("- Strings: the only lengths Hamsa documents on these routes are E.164 phone numbers (at most")
w("  15 digits), checked by the validator.")
w("- Ids are percent-encoded into one path segment or one query value (every byte 1..255 is")
w("  proved); an id of `.` or `..`, which libcurl would resolve into another route, is refused.")
w("- CR, LF or NUL in any header name or value, the key, the user agent or an idempotency key")
w("  raises before anything is sent.")
w("- The API key never appears in an error, `tostring(client)`, a log line or the trace, even")
w("  when a server echoes it; plain `http://` to a non-loopback host is refused unless")
w("  `allow_insecure_http = true`.")
w("- `trace = true` (or `HAMSA_LOG=trace`) routes libcurl's verbose output to the logger at level")
w("  `trace`: connection, TLS and header lines only, never body bytes, at most 64 KiB per")
w("  transfer; `Authorization` and `Proxy-Authorization` values are cut in C before Lua sees them.")

w()
w("## Memory")
w()
local cm = tsv(FIGURES .. "/check-memory.tsv")
if cm and #cm > 0 then
    w("`make check-memory` runs the whole spec suite under valgrind (no invalid access, no definite")
    w("or indirect leak) and again with the core built by clang with")
    w("`-fsanitize=address,undefined` (no report from any process):")
    w()
    w("| Run | Result | Time | Specs |")
    w("|---|---|---|---|")
    for _, r in ipairs(cm) do
        w(("| %s | %s | %s s | %s |"):format(r.run, r.result, r.seconds, cell(r.summary)))
    end
else
    w("_`make check-memory` has not written docs/figures/check-memory.tsv yet._")
end
w()
local rss = pairs_tsv(FIGURES .. "/rss.tsv")
if rss then
    w(("`make rss` (`scripts/rss.lua`): %s requests through one client against the mock (GET, PATCH,"):format(
        thousands(rss.requests)))
    w("POST, 404s and non-blocking requests mixed), after a 5,000-request warm-up:")
    w()
    w("| RSS before | RSS after | Growth | Limit | Lua heap before / after | Failed requests |")
    w("|---|---|---|---|---|---|")
    w(("| %s KiB | %s KiB | **%s KiB** | %s KiB | %s / %s KiB | %s |"):format(thousands(rss.rss_before_kb),
        thousands(rss.rss_after_kb), rss.rss_growth_kb, thousands(rss.limit_kb), rss.lua_heap_before_kb,
        rss.lua_heap_after_kb, rss.failed))
else
    w("_`make rss` has not written docs/figures/rss.tsv yet._")
end

w()
w("## Fuzzing")
w()
local what = {
    json_decode = "any bytes to `json.decode`; a value must survive encode/decode",
    json_encode = "generated Lua values (cycles, marks, NaN, any string) to `json.encode`",
    response = "a raw HTTP response, or one built around an error envelope with any type in every field, "
        .. "through a real libcurl transfer into the Lua client (a raise is a crash)",
}
local function fuzz_table(figures)
    w("| Harness | What it feeds | Seconds | Executions | Exec/s | Coverage (edges) | Seeds | New inputs | Crashes |")
    w("|---|---|---|---|---|---|---|---|---|")
    local total, crashes = 0, 0
    for _, r in ipairs(figures) do
        total = total + (tonumber(r.executions) or 0)
        crashes = crashes + (tonumber(r.crashes) or 0)
        w(("| `%s` | %s | %s | %s | %s | %s | %s | %s | **%s** |"):format(r.harness, what[r.harness] or "",
            r.seconds, thousands(r.executions), thousands(r.exec_per_s), r.coverage, r.seeds, r.new_inputs,
            r.crashes))
    end
    w()
    w(("%s executions, %d crashes."):format(thousands(total), crashes))
end
local fz = tsv(FIGURES .. "/fuzz.tsv")
w("`make fuzz FUZZ_SECONDS=N`: libFuzzer harnesses in `fuzz/`, built by clang with")
w("`-fsanitize=fuzzer,address,undefined` around the C core, each starting from its seed corpus")
w("in `fuzz/corpus/<harness>/`. *Coverage* counts edges of the instrumented C code only (the core")
w("and the harness; libcurl, Lua and the Lua client are not instrumented, so the `response`")
w("harness reaches far more code than its figure shows).")
w()
if fz and #fz > 0 then
    w("The pass CI runs (`make fuzz FUZZ_SECONDS=60`), last run:")
    w()
    fuzz_table(fz)
else
    w("_`make fuzz` has not written docs/figures/fuzz.tsv yet._")
end
local long = tsv(FIGURES .. "/fuzz-long.tsv")
if long and #long > 0 then
    w()
    w("A longer campaign (`make fuzz FUZZ_SECONDS=300 FUZZ_FIGURES=docs/figures/fuzz-long.tsv`):")
    w()
    fuzz_table(long)
end
w()
w("Findings, each fixed, with a regression spec (`spec/47-regressions_spec.lua`) and its input")
w("kept in the corpus:")
w()
w("1. `response`, on its first input (an empty answer): `push_headers` in `csrc/http.c`")
w("   computed `NULL + 0` when no header byte had arrived, undefined behaviour that clang's UBSan")
w("   reports. It now returns before the arithmetic. gcc's UBSan has no such check, so")
w("   `make check-memory` builds its sanitizer core with clang.")
w()
w("Found while writing the fault suite rather than by the fuzzer:")
w()
w("2. `client.agents:update(\"..\", ...)` was sent as `PATCH /v1/`: libcurl resolves a `..`")
w("   segment, so an id could reach another route. The client now refuses `.` and `..` segments")
w("   (kind `invalid`) before sending.")
w()
w("By design, not a finding: a number beyond the double range (`1e400`) decodes to `inf`, which")
w("`json.encode` then refuses; the `json_decode` harness allows exactly that.")
w()

local f = assert(io.open(OUT, "w"))
f:write(table.concat(out, "\n"))
f:close()
io.stderr:write("reliability: wrote ", OUT, " (", #rows, " fault rows, ", #matrix, " side-effect cells)\n")
