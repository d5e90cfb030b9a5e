--- scripts/rss.lua: the long-run memory check of hamsa.
--
-- Sends N requests (default 100,000) through one client against the mock
-- API, and reports the process RSS (VmRSS in /proc/self/status) after a
-- warm-up and at the end, with Lua's own heap beside it. Exits 1 when RSS
-- grew by 2 MiB or more. A benchmark script, not a spec: it asserts no time.
--
--     make rss            (writes docs/figures/rss.tsv)
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--       lua5.4 scripts/rss.lua [--requests N] [--warmup N] [--out FILE]
--
-- The mix, every 100 requests: 70 blocking GETs of one agent, 10 PATCH
-- updates, 5 creates (POST, with an Idempotency-Key each), 5 lookups of a
-- missing agent (404: error values, redaction), 10 non-blocking GETs with
-- on_done driven by client:wait().
package.path = "./?.lua;" .. package.path
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

local LIMIT_KB = 2048

local opts = { requests = 100000, warmup = 5000 }
local i = 1
while i <= #arg do
    local a, v = arg[i], arg[i + 1]
    if a == "--requests" then opts.requests = assert(tonumber(v), "--requests N")
    elseif a == "--warmup" then opts.warmup = assert(tonumber(v), "--warmup N")
    elseif a == "--out" then opts.out = assert(v, "--out FILE")
    else error("usage: rss.lua [--requests N] [--warmup N] [--out FILE]") end
    i = i + 2
end

local function status_kb(field)
    local f = assert(io.open("/proc/self/status"))
    local text = f:read("*a")
    f:close()
    return tonumber(text:match(field .. ":%s*(%d+) kB"))
end

local function settle()
    collectgarbage("collect")
    collectgarbage("collect")
end

local server = helpers.start_mock()
local client = hamsa.new({ api_key = server.api_key, base_url = server.url })
local agent = assert(client.agents:create({ agentName = "RSS" }))
local missing = "00000000-0000-4000-8000-000000000000"
local done, failures = 0, 0

local function one_hundred()
    for k = 1, 100 do
        local data, err
        if k <= 70 then
            data, err = client:request("GET", "/v1/voice-agents/" .. agent.id)
        elseif k <= 80 then
            data, err = client.agents:update(agent.id, { greetingMessage = "Hello " .. k })
        elseif k <= 85 then
            data, err = client.agents:create({ agentName = "RSS " .. k })
        elseif k <= 90 then
            data, err = client:request("GET", "/v1/voice-agents/" .. missing)
            if err and err.kind == "not_found" then data, err = true, nil end
        else
            client:request("GET", "/v1/voice-agents/" .. agent.id, nil, {
                on_done = function(d, e) if not d then failures = failures + 1; print(e) end end,
            })
            data = true
            if k == 100 then client:wait() end
        end
        if not data then
            failures = failures + 1
            print(err)
        end
    end
    done = done + 100
    if done % 10000 == 0 then server:clear() end      -- keep the mock's request log small
end

for _ = 1, opts.warmup // 100 do one_hundred() end
settle()
local rss0, heap0 = status_kb("VmRSS"), collectgarbage("count")
local t0 = os.clock()
local start = done
for _ = 1, opts.requests // 100 do one_hundred() end
local cpu = os.clock() - t0
settle()
local rss1, heap1, hwm = status_kb("VmRSS"), collectgarbage("count"), status_kb("VmHWM")
local sent = done - start

client:close()
server:stop()

local growth = rss1 - rss0
local rows = {
    { "requests", sent },
    { "failed", failures },
    { "rss_before_kb", rss0 },
    { "rss_after_kb", rss1 },
    { "rss_growth_kb", growth },
    { "rss_peak_kb", hwm },
    { "lua_heap_before_kb", ("%.0f"):format(heap0) },
    { "lua_heap_after_kb", ("%.0f"):format(heap1) },
    { "client_cpu_seconds", ("%.1f"):format(cpu) },
    { "limit_kb", LIMIT_KB },
}
for _, r in ipairs(rows) do print(("%-20s %s"):format(r[1], tostring(r[2]))) end
if opts.out then
    local f = assert(io.open(opts.out, "w"))
    for _, r in ipairs(rows) do f:write(r[1], "\t", tostring(r[2]), "\n") end
    f:close()
end
if failures > 0 then
    print("rss: some requests failed")
    os.exit(1)
end
if growth >= LIMIT_KB then
    print(("rss: RSS grew by %d KiB over %d requests (limit %d KiB)"):format(growth, sent, LIMIT_KB))
    os.exit(1)
end
print(("rss: RSS grew by %d KiB over %d requests (limit %d KiB): ok"):format(growth, sent, LIMIT_KB))
