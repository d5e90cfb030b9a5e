-- The library inside nginx (Debian's nginx + libnginx-mod-http-lua, LuaJIT):
-- openresty/nginx.conf's handlers create an agent and place a call against
-- the mock through hamsa.openresty (ngx.run_worker_thread), and the worker
-- keeps serving while a slow API call is in flight. Proved by order of
-- events (what the mock still has in flight when another answer arrives),
-- never by timing. `make deps` installs nginx and the module; the LuaJIT
-- core is build/jit/hamsa/core.so (`make test` builds it first).
local helpers = require "spec.helpers"
local socket = require "socket"
local cjson = require "cjson"

local CALL = "/v1/voice-agents/phone-number/call"

local function slurp(path)
    local f = io.open(path, "rb")
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    return s
end

-- Locations only the specs need, included by openresty/nginx.conf.
local SPEC_LOCATIONS = [[
location = /unsafe/call {
    content_by_lua_block { require("app").call({ unsafe = true }) }
}
location = /null {
    content_by_lua_block {
        local hamsa = require "hamsa.openresty"
        local c = hamsa.new()
        local agent = assert(c.agents:create { agentName = "N", outcome = "booked" })
        local updated, err = c.agents:update(agent.id, { outcome = hamsa.null, pokeMessages = {} })
        if not updated then return ngx.say(tostring(err)) end
        ngx.say(hamsa.json.encode({ null = updated.outcome == hamsa.null, id = updated.id }))
    }
}
]]

--- Sends one HTTP/1.0 request (the answer ends when nginx closes) on a new
-- connection and returns the socket at once.
local function send(nginx, method, path)
    local sock = assert(socket.connect("127.0.0.1", nginx.port))
    assert(sock:send(("%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        :format(method, path)))
    return sock
end

--- Reads the response on sock (waiting up to `wait` seconds):
-- `{ status, body, json }`.
local function receive(sock, wait)
    sock:settimeout(wait)
    local text, err = sock:receive("*a")
    sock:close()
    assert(text, "no response: " .. tostring(err))
    local status = tonumber(text:match("^HTTP/1%.%d (%d%d%d)"))
    local body = text:match("\r\n\r\n(.*)$")
    assert(status and body, "not an HTTP response: " .. text)
    local ok, value = pcall(cjson.decode, body)
    return { status = status, body = body, json = ok and value or nil }
end

local function request(nginx, method, path)
    return receive(send(nginx, method, path), 30)
end

local function until_true(what, fn)
    local deadline = socket.gettime() + 15
    while socket.gettime() < deadline do
        if fn() then return end
        socket.sleep(0.02)
    end
    error("gave up waiting for " .. what, 2)
end

-- The log entries for one path.
local function logged(server, path)
    local out = {}
    for _, r in ipairs(server:requests()) do
        if r.path == path then out[#out + 1] = r end
    end
    return out
end

describe("hamsa.openresty", function()
    describe("outside nginx", function()
        it("refuses to make a client without ngx.run_worker_thread", function()
            local ok, err = pcall(require("hamsa.openresty").new)
            assert.is_false(ok)
            assert.matches("needs nginx's Lua module", err)
        end)

        it("runs a call as a worker thread would, with plain results", function()
            local server = helpers.start_mock()
            local ngx_side = require("hamsa.openresty")
            local opts = { api_key = server.api_key, base_url = server.url }
            local status, agent, response = ngx_side.dispatch("k1", opts, "agents", "create", 1, { agentName = "T" })
            assert.equal("ok", status)
            assert.equal("T", agent.agentName)
            assert.equal(200, response.status)
            status, agent = ngx_side.dispatch("k1", opts, "agents", "create", 2, { agentName = 5 }, nil)
            assert.equal("err", status)
            assert.equal("invalid", agent.kind)
            assert.equal("agentName", agent.field)
            assert.equal(1, ngx_side._clients())         -- one client per options, reused
            status, agent = ngx_side.dispatch("k1", opts, "agents", "create", 1, "not a table")
            assert.equal("raise", status)
            assert.matches("body must be a table", agent)
            status, agent = ngx_side.dispatch("k1", opts, "", "close", 0)
            assert.equal("raise", status)
            assert.matches("no such call", agent)
            server:stop()
        end)

        it("with a stand-in ngx: errors keep their shape, misuse raises at the caller's line", function()
            -- a stand-in that copies like run_worker_thread: plain values, no metatables
            local function copy(v)
                if type(v) ~= "table" then
                    assert(type(v) ~= "function", "a function crossed")
                    return v
                end
                local t = {}
                for k, x in pairs(v) do t[k] = copy(x) end
                return t
            end
            local pass = {}
            _G.ngx = { run_worker_thread = function(pool, module, fn, ...)
                pass.pool = pool
                local n = select("#", ...)
                local args = { ... }
                for i = 1, n do args[i] = copy(args[i]) end
                local out = { require(module)[fn]((table.unpack or unpack)(args, 1, n)) }
                for i = 1, 4 do out[i] = copy(out[i]) end
                return true, out[1], out[2], out[3], out[4]
            end }
            local ok, err = pcall(function()
                local hamsa_ngx = require("hamsa.openresty")
                local c = hamsa_ngx.new({ api_key = "sk-secret-4711", base_url = "http://127.0.0.1:" .. helpers.free_port(),
                                          max_retries = 0, thread_pool = "mine" })
                local data, e = c.calls:twilio({ toNumber = "nope" })
                assert.is_nil(data)
                assert.is_true(hamsa_ngx.is_error(e))
                assert.equal("invalid", e.kind)
                assert.matches("^hamsa: invalid: ", tostring(e))
                assert.equal("mine", pass.pool)
                data, e = c:request("GET", "/v1/voice-agents")
                assert.is_nil(data)
                assert.equal("network", e.kind)
                local line = debug.getinfo(1, "l").currentline
                local ok2, msg = pcall(function() c.agents:create("x") end)
                assert.is_false(ok2)
                assert.matches("80%-openresty_spec%.lua:" .. (line + 1) .. ": .*body must be a table", msg)
                ok2, msg = pcall(function() c.agents:create({ agentName = "A" }, { on_done = print }) end)
                assert.is_false(ok2)
                assert.matches("80%-openresty_spec%.lua:%d+: .*cannot cross into a worker thread", msg)
                ok2, msg = pcall(hamsa_ngx.new, { logger = print })
                assert.is_false(ok2)
                assert.matches("cannot cross", msg)
                ok2, msg = pcall(hamsa_ngx.new, { no_such_option = 1 })
                assert.is_false(ok2)
                assert.matches("no_such_option", msg)
                assert.is_nil(tostring(c):find("sk-secret-4711", 1, true))
                for _, v in pairs(c) do assert.are_not.equal("sk-secret-4711", v) end
            end)
            _G.ngx = nil
            assert(ok, err)
        end)
    end)

    describe("inside nginx", function()
        local server, nginx

        teardown(function()         -- registered first: nginx stops before the mock
            if nginx then nginx.stop() end
        end)
        helpers.mock_suite({ setup, teardown, before_each }, { mock = { api_key = "nginx-key" }, clean = "reset" },
            function(s) server = s end)

        setup(function()
            nginx = helpers.start_nginx({ HAMSA_API_KEY = "nginx-key", HAMSA_BASE_URL = server.url },
                { server = SPEC_LOCATIONS })
        end)

        it("creates an agent and places a call from a content_by_lua handler", function()
            local res = request(nginx, "POST", "/call?to=%2B971501234567&name=Layla")
            assert.equal(200, res.status, res.body)
            assert.matches("^%x+%-", res.json.jobId)
            local creates, calls = logged(server, "/v1/voice-agents"), logged(server, CALL)
            assert.equal(1, #creates)
            assert.equal(1, #calls)
            assert.equal("Token nginx-key", calls[1].headers["authorization"])
            local body = cjson.decode(calls[1].body)
            assert.equal(res.json.agent, body.voiceAgentId)
            assert.equal("+971501234567", body.toNumber)
            assert.equal("Layla", body.params.name)
            assert.equal("Front desk", cjson.decode(creates[1].body).agentName)
        end)

        it("reaches every resource: v2 agents, a waiter that follows the call, each over pages", function()
            local res = request(nginx, "POST", "/follow?to=%2B971501234002")
            assert.equal(200, res.status, res.body)
            assert.matches("^%x+%-", res.json.v2)
            assert.equal("FAILED", res.json.status)          -- ...4002: the mock's FAILED number
            assert.same({ "Caller" }, res.json.agents)       -- one page per agent, then the end
            assert.equal(1, #logged(server, "/v2/voice-agents"))
            local polls = 0
            for _, r in ipairs(server:requests()) do
                if r.path:find("/v1/voice-agents/conversation/", 1, true) == 1 then polls = polls + 1 end
            end
            assert.is_true(polls >= 2, "polls: " .. polls)
        end)

        it("runs client:request too (GET /agents)", function()
            request(nginx, "POST", "/call?to=%2B971501234567")
            local res = request(nginx, "GET", "/agents")
            assert.equal(200, res.status, res.body)
            assert.equal(1, res.json.count)
            assert.same({ "Front desk" }, res.json.names)
        end)

        it("hands back errors with kind, field and message", function()
            local res = request(nginx, "POST", "/call?to=0501234567")
            assert.equal(422, res.status, res.body)
            assert.equal("invalid", res.json.kind)
            assert.equal("toNumber", res.json.field)
            assert.matches("^hamsa: invalid: toNumber", res.json.error)
            assert.equal(0, #logged(server, CALL))             -- refused before sending

            server:fault({ path = "/v1/voice-agents", status = 401 })
            res = request(nginx, "POST", "/call?to=%2B971501234567")
            assert.equal(502, res.status, res.body)
            assert.equal("auth", res.json.kind)
            assert.equal(401, res.json.status)
        end)

        it("carries hamsa.null both ways across the thread boundary", function()
            local res = request(nginx, "GET", "/null")
            assert.equal(200, res.status, res.body)
            assert.is_true(res.json.null)
            local sent = logged(server, "/v1/voice-agents/" .. res.json.id)
            assert.equal(1, #sent)
            assert.equal("PATCH", sent[1].method)
            assert.same({ outcome = cjson.null, pokeMessages = {} }, cjson.decode(sent[1].body))
            assert.matches('"pokeMessages":%[%]', sent[1].body)
        end)

        it("keeps serving while a slow API call is in flight", function()
            server:fault({ path = CALL, delay = 3 })
            local slow = send(nginx, "POST", "/call?to=%2B971501234567")
            until_true("the slow call to reach the mock", function() return #logged(server, CALL) == 1 end)

            -- the event loop answers ...
            assert.equal("pong\n", receive(send(nginx, "GET", "/ping"), 30).body)
            -- ... and another API call completes on another thread,
            local res = request(nginx, "GET", "/agents")
            assert.equal(200, res.status, res.body)
            assert.equal(1, res.json.count)
            -- while the slow call is still unanswered: the mock holds it,
            -- and nginx has not answered it either
            assert.equal(1, server:stats().inflight)
            slow:settimeout(0)
            local got, err = slow:receive(1)
            assert.is_nil(got)
            assert.equal("timeout", err)

            res = receive(slow, 30)
            assert.equal(200, res.status, res.body)
            assert.matches("^%x+%-", res.json.jobId)
        end)

        it("(control) the blocking library on the event loop stalls the worker, and the proof tells", function()
            server:fault({ path = CALL, delay = 1 })
            local slow = send(nginx, "POST", "/unsafe/call?to=%2B971501234567")
            until_true("the slow call to reach the mock", function() return #logged(server, CALL) == 1 end)
            assert.equal("pong\n", receive(send(nginx, "GET", "/ping"), 30).body)
            -- the ping was answered only after the slow call: its answer is
            -- already waiting, and the mock holds nothing any more
            assert.equal(0, server:stats().inflight)
            slow:settimeout(0)
            local line = slow:receive("*l")
            assert.equal("HTTP/1.1 200 OK", line)
            slow:close()
        end)

        it("left nothing in nginx's error log", function()
            local log = slurp(nginx.prefix .. "/error.log")
            assert.is_nil(log:match("%[error%]") or log:match("%[alert%]") or log:match("%[crit%]"), log)
        end)
    end)
end)
