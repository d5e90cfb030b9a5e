--- bench/clients.lua: the Lua contenders of `make bench`, one per run:
--
--   lua5.4 bench/clients.lua MODE PAYLOAD URL N WARMUP [INFLIGHT]
--
--   hamsa_block   (a) hamsa, blocking calls on one client
--   hamsa_async   (b) hamsa, on_done callbacks, INFLIGHT requests in flight
--   luasocket     (e) LuaSocket socket.http + lua-cjson (encode, send, decode)
--   popen         (f) io.popen("curl ...") + lua-cjson
--   luacurl       (g) Debian's lua-curl (module "curl") + lua-cjson, on lua5.1
--   rss           VmRSS/VmHWM before and after N requests through one client
--
-- PAYLOAD is "agent" or "small" (bench/payload.lua): the body every request
-- creates; URL is the base URL of the server that answers it. Each contender
-- checks every answer. It prints one line:
--   RESULT name=<mode> payload=<PAYLOAD> n=<N> wall=<s> cpu=<s> p50=<us> p99=<us>
-- (name gets "_jit" under LuaJIT: hamsa_block_jit...). wall on the monotonic
-- clock (hamsa.core's now: LUA_CPATH names the core built for the Lua that
-- runs this), cpu the process's CPU time (os.clock; for popen plus the CPU
-- of the curl children, from /proc/self/stat).
--
-- It runs on Lua 5.1 to 5.4 and LuaJIT alike (no `//`, io.read("*a")).
local core = require "hamsa.core"
local payload = require "payload"

local now, clock = core.now, os.clock
local format = string.format

local mode, body_name, url = arg[1], arg[2], arg[3]
local n, warm, inflight = tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6] or 32)
assert(mode and body_name and url and n and warm, "usage: clients.lua MODE PAYLOAD URL N WARMUP [INFLIGHT]")
local floor = math.floor
local JIT = rawget(_G, "jit") and "_jit" or ""
local API_KEY = "bench-key"
local ROUTE = "/v1/voice-agents"

local function report(name, count, wall, cpu, lat)
    table.sort(lat)
    print(format("RESULT name=%s%s payload=%s n=%d wall=%.6f cpu=%.6f p50=%.1f p99=%.1f", name, JIT, body_name,
        count, wall, cpu, lat[floor(count / 2) + 1] * 1e6, lat[floor(count * 0.99) + 1] * 1e6))
end

local function prealloc(count)
    local t = {}
    for i = 1, count do t[i] = 0.0 end
    return t
end

-- Runs `create` WARMUP times, then N times timed one by one, and reports.
-- `extra_cpu` (optional) gives more CPU seconds to count, read before and
-- after (popen: its curl children's).
local function time_blocking(name, create, extra_cpu)
    for _ = 1, warm do create() end
    local lat = prealloc(n)
    collectgarbage()
    local c0, x0, t0 = clock(), extra_cpu and extra_cpu() or 0, now()
    for i = 1, n do
        local t = now()
        create()
        lat[i] = now() - t
    end
    local wall, cpu = now() - t0, clock() - c0
    if extra_cpu then cpu = cpu + extra_cpu() - x0 end
    report(name, n, wall, cpu, lat)
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
    local client, body = hamsa_client(), payload.body(body_name)
    local agents = client.agents
    time_blocking("hamsa_block", function() check_agent(agents:create(body)) end)
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
    local client, body = hamsa_client(), payload.body(body_name)
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
    local body = payload.body(body_name)
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
    time_blocking("luasocket", create)
end

---------------------------------------------------------------------------
-- (f) io.popen("curl ...") + lua-cjson

-- CPU seconds of this process's waited-for children (cutime + cstime).
local function children_cpu()
    local f = assert(io.open("/proc/self/stat"))
    local s = f:read("*a")
    f:close()
    local fields = {}
    for w in s:gsub("^.*%) ", ""):gmatch("%S+") do fields[#fields + 1] = w end
    -- after "pid (comm) ", field 3 is state; utime is 14, so cutime 16, cstime 17
    local tck = 100         -- USER_HZ on Linux
    return (tonumber(fields[14]) + tonumber(fields[15])) / tck
end

local function popen()
    local cjson = require "cjson"
    local body = payload.body(body_name)
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
        local out = p:read("*a")
        p:close()
        local env = cjson.decode(out)
        if not (env.data and env.data.id) then error("popen: no id in the answer", 0) end
    end
    time_blocking("popen", create, children_cpu)
    os.remove(file)
end

---------------------------------------------------------------------------
-- (g) lua-curl + lua-cjson: a bare libcurl binding, as a user would use it.
-- Debian's lua-curl is Lua-curl 0.3.0 (module "curl", easy handles only,
-- for Lua 5.1 and 5.2): one easy handle reused (so one kept-alive
-- connection), the body encoded on every request, the answer gathered by a
-- write function, decoded, and its data.id checked. That binding has no
-- getinfo, so the status is not read: a wrong answer fails the decode or
-- the id check instead.

local function luacurl()
    local curl = require "curl"
    local cjson = require "cjson"
    local body = payload.body(body_name)
    local concat = table.concat
    local e = curl.easy_init()
    local chunks, count = {}, 0
    e:setopt(curl.OPT_URL, url .. ROUTE)
    e:setopt(curl.OPT_NOSIGNAL, 1)
    e:setopt(curl.OPT_WRITEFUNCTION, function(s)
        chunks[#chunks + 1] = s
        return #s
    end)
    local static = {
        "Content-Type: application/json", "Accept: application/json", "Authorization: Token " .. API_KEY,
    }
    local function create()
        count = count + 1
        local payload_s = cjson.encode(body)
        local headers = { static[1], static[2], static[3], "Idempotency-Key: bench-" .. count }
        e:setopt(curl.OPT_HTTPHEADER, headers)
        e:setopt(curl.OPT_POSTFIELDS, payload_s)
        e:setopt(curl.OPT_POSTFIELDSIZE, #payload_s)
        for i = #chunks, 1, -1 do chunks[i] = nil end
        local code, msg = e:perform()
        if code ~= 0 then error("lua-curl request failed: " .. tostring(msg or code), 0) end
        local env = cjson.decode(concat(chunks))
        if not (env.data and env.data.id) then error("lua-curl: no id in the answer", 0) end
    end
    time_blocking("luacurl", create)
end

---------------------------------------------------------------------------
-- memory: one client, N blocking requests

local function status_kb(field)
    local f = assert(io.open("/proc/self/status"))
    local s = f:read("*a")
    f:close()
    return tonumber(s:match(field .. ":%s*(%d+) kB"))
end

local function rss()
    local client, body = hamsa_client(), payload.body(body_name)
    local agents = client.agents
    for _ = 1, warm do check_agent(agents:create(body)) end
    local rss0, hwm0 = status_kb("VmRSS"), status_kb("VmHWM")
    local t0 = now()
    for _ = 1, n do check_agent(agents:create(body)) end
    local wall = now() - t0
    print(format("RSS payload=%s n=%d warm=%d rss_before_kb=%d rss_after_kb=%d hwm_before_kb=%d hwm_after_kb=%d "
        .. "lua_kb=%d wall=%.3f", body_name, n, warm, rss0, status_kb("VmRSS"), hwm0, status_kb("VmHWM"),
        floor(collectgarbage("count")), wall))
end

local MODES = {
    hamsa_block = hamsa_block, hamsa_async = hamsa_async, luasocket = luasocket, popen = popen, luacurl = luacurl,
    rss = rss,
}
assert(MODES[mode], "unknown mode " .. tostring(mode))(mode)
