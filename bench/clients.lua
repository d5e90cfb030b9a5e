--- bench/clients.lua: the Lua contenders of `make bench`, one per run:
--
--   lua5.4 bench/clients.lua MODE URL N WARMUP [INFLIGHT]
--
--   hamsa_block   (a) hamsa, blocking calls on one client
--   hamsa_async   (b) hamsa, on_done callbacks, INFLIGHT requests in flight
--   luasocket     (e) LuaSocket socket.http + lua-cjson (encode, send, decode)
--   popen         (f) io.popen("curl ...") + lua-cjson
--   rss           VmRSS/VmHWM before and after N requests through one client
--
-- Each contender sends the same create-agent body (bench/payload.lua) and
-- checks every answer. It prints one line:
--   RESULT name=<mode> n=<N> wall=<s> cpu=<s> p50=<us> p99=<us>
-- wall on the monotonic clock, cpu the process's CPU time (os.clock; for
-- popen plus the CPU of the curl children, from /proc/self/stat).
local core = require "hamsa.core"
local payload = require "payload"

local now, clock = core.now, os.clock
local format = string.format

local mode, url, n, warm, inflight = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5] or 32)
assert(mode and url and n and warm, "usage: clients.lua MODE URL N WARMUP [INFLIGHT]")
local API_KEY = "bench-key"
local ROUTE = "/v1/voice-agents"

local function report(name, count, wall, cpu, lat)
    table.sort(lat)
    print(format("RESULT name=%s n=%d wall=%.6f cpu=%.6f p50=%.1f p99=%.1f", name, count, wall, cpu,
        lat[count // 2 + 1] * 1e6, lat[math.floor(count * 0.99) + 1] * 1e6))
end

local function prealloc(count)
    local t = {}
    for i = 1, count do t[i] = 0.0 end
    return t
end

---------------------------------------------------------------------------
-- (a) and (b): hamsa

local function hamsa_client()
    local hamsa = require "hamsa"
    return hamsa.new { api_key = API_KEY, base_url = url }
end

local function check_agent(agent, err)
    if not agent then error("hamsa request failed: " .. tostring(err), 0) end
    if agent.id == nil then error("hamsa: no id in the answer", 0) end
end

local function hamsa_block()
    local client, body = hamsa_client(), payload.agent()
    local agents = client.agents
    for _ = 1, warm do check_agent(agents:create(body)) end
    local lat = prealloc(n)
    collectgarbage()
    local c0, t0 = clock(), now()
    for i = 1, n do
        local t = now()
        check_agent(agents:create(body))
        lat[i] = now() - t
    end
    local wall, cpu = now() - t0, clock() - c0
    report("hamsa_block", n, wall, cpu, lat)
end

-- Keeps `inflight` requests in flight until `count` have completed; each
-- completion starts the next one.
local function hamsa_async_run(client, body, count, lat)
    local issued, done = 0, 0
    local agents = client.agents
    local function issue()
        issued = issued + 1
        local started = now()
        agents:create(body, {
            on_done = function(agent, err)
                check_agent(agent, err)
                done = done + 1
                if lat then lat[done] = now() - started end
                if issued < count then issue() end
            end,
        })
    end
    for _ = 1, math.min(inflight, count) do issue() end
    while done < count do client:wait(1) end
end

local function hamsa_async()
    local client, body = hamsa_client(), payload.agent()
    hamsa_async_run(client, body, warm, nil)
    local lat = prealloc(n)
    collectgarbage()
    local c0, t0 = clock(), now()
    hamsa_async_run(client, body, n, lat)
    local wall, cpu = now() - t0, clock() - c0
    report("hamsa_async", n, wall, cpu, lat)
end

---------------------------------------------------------------------------
-- (e) LuaSocket + lua-cjson: what a user writes by hand

local function luasocket()
    local http = require "socket.http"
    local ltn12 = require "ltn12"
    local cjson = require "cjson"
    local body = payload.agent()
    local concat = table.concat
    local target = url .. ROUTE
    local function create()
        local payload_s = cjson.encode(body)
        local chunks = {}
        local ok, status = http.request {
            url = target, method = "POST",
            headers = {
                ["content-type"] = "application/json", ["accept"] = "application/json",
                ["authorization"] = "Token " .. API_KEY, ["content-length"] = tostring(#payload_s),
            },
            source = ltn12.source.string(payload_s),
            sink = ltn12.sink.table(chunks),
        }
        if not ok or status ~= 200 then error("luasocket request failed: " .. tostring(status), 0) end
        local env = cjson.decode(concat(chunks))
        if not (env.data and env.data.id) then error("luasocket: no id in the answer", 0) end
    end
    for _ = 1, warm do create() end
    local lat = prealloc(n)
    collectgarbage()
    local c0, t0 = clock(), now()
    for i = 1, n do
        local t = now()
        create()
        lat[i] = now() - t
    end
    local wall, cpu = now() - t0, clock() - c0
    report("luasocket", n, wall, cpu, lat)
end

---------------------------------------------------------------------------
-- (f) io.popen("curl ...") + lua-cjson

-- CPU seconds of this process's waited-for children (cutime + cstime).
local function children_cpu()
    local f = assert(io.open("/proc/self/stat"))
    local s = f:read("a")
    f:close()
    local fields = {}
    for w in s:gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = w end
    -- after "pid (comm) ", field 3 is state; utime is 14, so cutime 16, cstime 17
    local tck = 100         -- USER_HZ on Linux
    return (tonumber(fields[14]) + tonumber(fields[15])) / tck
end

local function popen()
    local cjson = require "cjson"
    local body = payload.agent()
    local file = os.tmpname()
    local target = url .. ROUTE
    local function create()
        local f = assert(io.open(file, "wb"))
        f:write(cjson.encode(body))
        f:close()
        local p = assert(io.popen("curl -sS -X POST -H 'Content-Type: application/json'"
            .. " -H 'Accept: application/json' -H 'Authorization: Token " .. API_KEY .. "'"
            .. " -H 'Idempotency-Key: " .. core.uuid4() .. "'"
            .. " --data-binary @" .. file .. " " .. target, "r"))
        local out = p:read("a")
        p:close()
        local env = cjson.decode(out)
        if not (env.data and env.data.id) then error("popen: no id in the answer", 0) end
    end
    for _ = 1, warm do create() end
    local lat = prealloc(n)
    collectgarbage()
    local c0, cc0, t0 = clock(), children_cpu(), now()
    for i = 1, n do
        local t = now()
        create()
        lat[i] = now() - t
    end
    local wall, cpu = now() - t0, clock() - c0 + children_cpu() - cc0
    os.remove(file)
    report("popen", n, wall, cpu, lat)
end

---------------------------------------------------------------------------
-- memory: one client, N blocking requests

local function status_kb(field)
    local f = assert(io.open("/proc/self/status"))
    local s = f:read("a")
    f:close()
    return tonumber(s:match(field .. ":%s*(%d+) kB"))
end

local function rss()
    local client, body = hamsa_client(), payload.agent()
    local agents = client.agents
    for _ = 1, warm do check_agent(agents:create(body)) end
    local rss0, hwm0 = status_kb("VmRSS"), status_kb("VmHWM")
    local t0 = now()
    for _ = 1, n do check_agent(agents:create(body)) end
    local wall = now() - t0
    print(format("RSS n=%d warm=%d rss_before_kb=%d rss_after_kb=%d hwm_before_kb=%d hwm_after_kb=%d "
        .. "lua_kb=%d wall=%.3f", n, warm, rss0, status_kb("VmRSS"), hwm0, status_kb("VmHWM"),
        math.floor(collectgarbage("count")), wall))
end

local MODES = {
    hamsa_block = hamsa_block, hamsa_async = hamsa_async, luasocket = luasocket, popen = popen, rss = rss,
}
assert(MODES[mode], "unknown mode " .. tostring(mode))(mode)
