-- Specs of the mock's defences (lua/hamsa/mock/): slow or stalled
-- clients, running out of connections or descriptors, and requests whose
-- bytes must never break the request log or make the mock answer 500.
-- They talk to it with LuaSocket only, never with the library under test.

local socket = require("socket")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local KEY = "test-key"
local REPLACEMENT = "\239\191\189"   -- U+FFFD

local function connect(url, timeout)
    local host, port = url:match("^http://([^:/]+):(%d+)")
    local c = assert(socket.connect(host, tonumber(port)))
    c:settimeout(timeout or 5)
    return c
end

local function head(method, target, extra)
    local lines = { method .. " " .. target .. " HTTP/1.1", "Host: mock", "Authorization: Token " .. KEY }
    for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
    return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- One request on a new connection: the response table, or nil, err.
local function exchange(url, text, timeout)
    local c = connect(url, timeout)
    c:send(text)
    local r, err = helpers.read_response(c)
    c:close()
    return r, err
end

local function post(url, path, body)
    return exchange(url, head("POST", path, { "Content-Length: " .. #body }) .. body)
end

-- Whether the peer has closed c (or reset it): a read then fails with
-- something other than "timeout".
local function closed_by_peer(c, wait)
    c:settimeout(wait)
    local data, err = c:receive(1)
    return data == nil and err ~= "timeout", err
end

local function count_ok(url, n)
    local got = 0
    for _ = 1, n do
        local r = exchange(url, head("GET", "/v1/voice-agents"))
        if r and r.status == 200 then got = got + 1 end
    end
    return got
end

describe("hamsa.mock limits", function()
    describe("stalled clients", function()
        it("answers a client at once while 900 connections sit on half-sent requests", function()
            local server = helpers.start_mock()   -- default limits: 900 connections, 10 s per head
            local stalled = {}
            for i = 1, 900 do
                stalled[i] = connect(server.url)
                stalled[i]:send("GET /v1/voice-agents HTTP/1.1\r\nHost: mock\r\nX-Half: ")
            end
            socket.sleep(0.3)
            local t0 = socket.gettime()
            local r, err = exchange(server.url, head("GET", "/v1/voice-agents"), 5)
            local elapsed = socket.gettime() - t0
            for _, c in ipairs(stalled) do c:close() end
            local stats = r and server:stats()
            server:stop()
            assert.is_table(r, "no answer while 900 clients stall: " .. tostring(err))
            assert.equal(200, r.status)
            assert.is_true(elapsed < 5, "answered after " .. elapsed .. " s")   -- well before the 10 s timeout
            assert.is_true(stats.evicted >= 1)
        end)
    end)

    describe("timeouts", function()
        local server
        helpers.mock_suite({ lazy_setup, lazy_teardown },
            { mock = { header_timeout = 0.5, idle_timeout = 0.5, body_timeout = 0.5 } }, function(s) server = s end)

        it("header_timeout: 408 and close when the head is not complete in time", function()
            local c = connect(server.url, 3)
            local t0 = socket.gettime()
            c:send("GET /v1/voice-agents HTTP/1.1\r\nHost: mock\r\n")
            local r, err = helpers.read_response(c)
            local elapsed = socket.gettime() - t0
            assert.is_table(r, "no 408: " .. tostring(err))
            assert.equal(408, r.status)
            assert.equal("REQUEST_TIMEOUT", cjson.decode(r.body).messageKey)
            assert.equal("close", r.headers.connection)
            assert.is_true(closed_by_peer(c, 1))
            c:close()
            assert.is_true(elapsed >= 0.4 and elapsed < 2.5, "408 after " .. elapsed .. " s")
        end)

        it("header_timeout bounds the whole head, not the pause between bytes", function()
            local c = connect(server.url, 3)
            local t0 = socket.gettime()
            c:send("GET /v1/voice-agents HTTP/1.1\r\nX-Drip: ")
            local ended, elapsed
            while socket.gettime() - t0 < 3 do   -- a byte every 0.05 s: never idle long
                if not c:send("a") then break end
                ended = closed_by_peer(c, 0.05)
                if ended then break end
            end
            elapsed = socket.gettime() - t0
            c:close()
            assert.is_true(elapsed < 2.5, "a dripping head was served for " .. elapsed .. " s")
        end)

        it("closes a new connection that sends nothing within header_timeout", function()
            local c = connect(server.url, 3)
            local t0 = socket.gettime()
            local closed, err = closed_by_peer(c, 3)
            local elapsed = socket.gettime() - t0
            c:close()
            assert.is_true(closed, "still open: " .. tostring(err))
            assert.is_true(elapsed < 2.5, "closed after " .. elapsed .. " s")
        end)

        it("idle_timeout: keeps a connection alive between requests, then closes it silently", function()
            local c = connect(server.url, 3)
            c:send(head("GET", "/v1/voice-agents"))
            assert.equal(200, assert(helpers.read_response(c)).status)
            c:send(head("GET", "/v1/voice-agents"))
            local r = assert(helpers.read_response(c))
            assert.equal(200, r.status)
            assert.equal("keep-alive", r.headers.connection)
            local t0 = socket.gettime()
            local closed, err = closed_by_peer(c, 3)
            local elapsed = socket.gettime() - t0
            c:close()
            assert.is_true(closed, "still open: " .. tostring(err))
            assert.equal("closed", err)   -- no 408 on an idle connection
            assert.is_true(elapsed >= 0.4 and elapsed < 2.5, "closed after " .. elapsed .. " s")
        end)

        it("body_timeout: 408 when the body stops short of its Content-Length", function()
            local c = connect(server.url, 3)
            local t0 = socket.gettime()
            c:send(head("POST", "/v1/voice-agents", { "Content-Length: 20" }) .. '{"agen')
            local r, err = helpers.read_response(c)
            local elapsed = socket.gettime() - t0
            c:close()
            assert.is_table(r, "no 408: " .. tostring(err))
            assert.equal(408, r.status)
            assert.is_true(elapsed >= 0.4 and elapsed < 2.5, "408 after " .. elapsed .. " s")
            local c2 = connect(server.url, 3)   -- chunked, stalled mid-chunk
            c2:send(head("POST", "/v1/voice-agents", { "Transfer-Encoding: chunked" }) .. "10\r\n{\"a")
            r, err = helpers.read_response(c2)
            c2:close()
            assert.is_table(r, "no 408: " .. tostring(err))
            assert.equal(408, r.status)
            assert.is_true(server:stats().timeouts >= 3)
        end)
    end)

    describe("connection bound", function()
        it("a new client takes the slot of the longest waiting one, never of one being answered", function()
            local server = helpers.start_mock{ max_connections = 4 }
            server:fault{ path = "/v1/voice-agents/hang", action = "hang" }
            local hung = connect(server.url)
            hung:send(head("GET", "/v1/voice-agents/hang"))
            local deadline = socket.gettime() + 5
            while server:stats().inflight < 1 and socket.gettime() < deadline do socket.sleep(0.02) end
            local stalled = {}
            for i = 1, 3 do
                stalled[i] = connect(server.url)
                stalled[i]:send("GET /v1/voice-agents HTTP/1.1\r\n")
                socket.sleep(0.05)
            end
            local r, err = exchange(server.url, head("GET", "/v1/voice-agents"), 5)
            assert.is_table(r, "no answer at the connection bound: " .. tostring(err))
            assert.equal(200, r.status)
            assert.is_true(closed_by_peer(stalled[1], 1), "the oldest stalled connection is still open")
            assert.is_false(closed_by_peer(hung, 0.2), "the connection being answered was closed")
            local stats = server:stats()
            assert.is_true(stats.evicted >= 1)
            assert.is_true(stats.connections <= 4)
            hung:close()
            for _, c in ipairs(stalled) do c:close() end
            server:stop()
        end)

        it("serves a client when the process runs out of descriptors", function()
            -- The mock under a `ulimit -n` some 40 above the descriptors it
            -- inherits, counted in its own process (under valgrind this
            -- process holds descriptors near 20000 that a child never sees),
            -- then more stalled connections than that.
            local probe = io.open("/proc/self/fd")
            if not probe then
                pending("needs /proc to count open descriptors")
                return
            end
            probe:close()
            local wrapper, limit_file = os.tmpname(), os.tmpname()
            local f = assert(io.open(wrapper, "w"))
            f:write("#!/bin/sh\n",
                "top=0; for d in /proc/$$/fd/*; do n=${d##*/}; [ \"$n\" -gt \"$top\" ] && top=$n; done\n",
                "limit=$((top + 41)); ulimit -n $limit || exit 1\n",
                "echo $limit > ", helpers.quote(limit_file), "\n",
                "exec ", helpers.quote(helpers.mock_lua), ' "$@"\n')
            f:close()
            os.execute("chmod +x " .. helpers.quote(wrapper))
            local lua = helpers.mock_lua
            helpers.mock_lua = wrapper
            local ok, server = pcall(helpers.start_mock)
            helpers.mock_lua = lua
            os.remove(wrapper)
            local lf = io.open(limit_file)
            local limit = lf and tonumber(lf:read("*a"))
            if lf then lf:close() end
            os.remove(limit_file)
            assert(ok, server)
            assert.is_number(limit)
            local stalled = {}
            for i = 1, limit + 20 do
                stalled[i] = connect(server.url)
                stalled[i]:send("GET /v1/voice-agents HTTP/1.1\r\n")
            end
            socket.sleep(0.3)
            local r, err = exchange(server.url, head("GET", "/v1/voice-agents"), 5)
            for _, c in ipairs(stalled) do c:close() end
            local answered = r and count_ok(server.url, 3)
            local stats = r and server:stats()
            server:stop()
            assert.is_table(r, "no answer out of descriptors: " .. tostring(err))
            assert.equal(200, r.status)
            assert.equal(3, answered)
            assert.is_true(stats.evicted >= 1)
        end)

        it("never raises in step() on a descriptor select() cannot watch", function()
            local mock = require("hamsa.mock")
            local srv = assert(mock.new{ port = 0 })
            local files, high, other = {}, nil, nil
            local function release()   -- spawned mocks would inherit these descriptors
                for i = #files, 1, -1 do files[i]:close(); files[i] = nil end
                if high then high:close() end
                if other then other:close() end
            end
            finally(function() release(); srv:close() end)
            -- push the next descriptors past FD_SETSIZE (1024)
            while true do
                local probe = socket.tcp4()   -- tcp() would open its descriptor only on connect
                local fd = tonumber(probe:getfd())
                probe:close()
                if fd >= 1024 then break end
                local file = io.open("/dev/null")
                if not file then break end
                files[#files + 1] = file
            end
            local function pump(c, want)
                local got, deadline = "", socket.gettime() + 3
                while socket.gettime() < deadline and not got:find(want) do
                    local okr, err = pcall(srv.step, srv, 0.01)
                    assert(okr, err)
                    local data, rerr, partial = c:receive(8192)
                    got = got .. (data or partial or "")
                    if rerr == "closed" then break end
                end
                return got
            end
            high = socket.tcp4()
            if tonumber(high:getfd()) < 1024 then
                pending("ulimit -n too low to reach descriptor 1024")
                return
            end
            high:settimeout(0)
            high:connect("127.0.0.1", srv.port)
            local got = pump(high, "\r\n\r\n")
            local err
            other, err = mock.new{ port = 0 }   -- its listener would be >= 1024 too
            release()
            assert.is_nil(other)
            assert.matches("descriptor too large", err)
            assert.matches("^HTTP/1%.1 503 ", got)
            local c = socket.tcp()   -- a low descriptor again: served
            c:settimeout(0)
            c:connect("127.0.0.1", srv.port)
            c:send(head("GET", "/v1/voice-agents", { "Connection: close" }))
            got = pump(c, "}$")
            c:close()
            assert.matches("^HTTP/1%.1 200 OK\r\n", got)
        end)
    end)

    describe("request log", function()
        local server
        helpers.mock_suite({ lazy_setup, lazy_teardown, before_each }, { clean = "reset" }, function(s) server = s end)

        it("logs a body that is not UTF-8 losslessly, and GET /__mock/requests still answers", function()
            -- a stray byte, an overlong form, a surrogate, > U+10FFFF, a cut sequence
            local body = '{"agentName":"A\195\169\255"}\192\175\237\160\128\244\144\128\128\226\130'
            assert.equal(400, assert(post(server.url, "/v1/voice-agents", body)).status)
            local status, raw = helpers.http("GET", server.url .. "/__mock/requests")
            assert.equal(200, status)
            local entry = cjson.decode(raw)[1]
            assert.is_true(entry.body_invalid_utf8)
            assert.equal("eyJhZ2VudE5hbWUiOiJBw6n/In3Ar+2ggPSQgIDigg==", entry.body_base64)
            assert.equal('{"agentName":"A\195\169' .. REPLACEMENT .. '"}' .. REPLACEMENT:rep(11), entry.body)
            assert.equal(1, #server:requests())
        end)

        it("logs a valid UTF-8 body exactly as sent, with no extra fields", function()
            local body = '{"agentName":"سارة","greetingMessage":"مرحبا 👋"}'
            assert.equal(200, assert(post(server.url, "/v1/voice-agents", body)).status)
            local entry = server:requests()[1]
            assert.equal(body, entry.body)
            assert.is_nil(entry.body_base64)
            assert.is_nil(entry.body_invalid_utf8)
            assert.is_nil(entry.headers_base64)
            assert.same({ agentName = "سارة", greetingMessage = "مرحبا 👋" }, cjson.decode(entry.body))
        end)

        it("logs a path, query or header value that is not UTF-8; answers it 404, not 500", function()
            local r = assert(exchange(server.url, head("GET", "/v1/x\255?q=\254", { "X-Bin: v\128v", "X-Ok: fine" })))
            assert.equal(404, r.status)
            assert.equal("Cannot GET /v1/x" .. REPLACEMENT, cjson.decode(r.body).message)
            r = assert(exchange(server.url, head("GET", "/__mock/\255")))
            assert.equal(404, r.status)
            local entry = server:requests()[1]
            assert.equal("/v1/x" .. REPLACEMENT, entry.path)
            assert.equal("L3YxL3j/", entry.path_base64)
            assert.is_true(entry.path_invalid_utf8)
            assert.equal("q=" .. REPLACEMENT, entry.query)
            assert.equal("cT3+", entry.query_base64)
            assert.equal("v" .. REPLACEMENT .. "v", entry.headers["x-bin"])
            assert.equal("fine", entry.headers["x-ok"])
            assert.same({ ["x-bin"] = "doB2" }, entry.headers_base64)
            assert.is_true(entry.headers_invalid_utf8)
            assert.is_nil(entry.body_base64)
        end)
    end)

    describe("hostile requests", function()
        local server
        helpers.mock_suite({ lazy_setup, lazy_teardown, before_each }, { clean = "reset" }, function(s) server = s end)

        local function list_status()
            return (exchange(server.url, head("GET", "/v1/voice-agents")) or {}).status
        end

        it("refuses a body it could not answer again (1e999, nesting too deep) with 400", function()
            local cases = {
                '{"agentName":"A","x":1e999}',
                '{"agentName":"A","x":[-1e999]}',
                '{"agentName":"A","x":' .. ("["):rep(997) .. ("]"):rep(997) .. "}",
            }
            for _, body in ipairs(cases) do
                local r = assert(post(server.url, "/v1/voice-agents", body))
                assert.equal(400, r.status)
                assert.equal("BAD_REQUEST", cjson.decode(r.body).messageKey)
                assert.equal(200, list_status())
            end
            local deepest = '{"agentName":"A","x":' .. ("["):rep(996) .. ("]"):rep(996) .. "}"
            assert.equal(200, assert(post(server.url, "/v1/voice-agents", deepest)).status)
            assert.equal(200, list_status())
            local call = '{"toNumber":"+1","twilioPhoneNumber":"+2","agentDetails":{"x":'
                .. ("["):rep(995) .. ("]"):rep(995) .. "}}"
            assert.equal(200, assert(post(server.url, "/v1/voice-agents/twilio/call", call)).status)
        end)

        it("refuses a fault with a number out of range, so GET /__mock/faults still answers", function()
            for _, spec in ipairs({ '{"delay":1e999}', '{"interval":1e999}', '[{"status":500},{"delay":-1e999}]' }) do
                local r = assert(post(server.url, "/__mock/faults", spec))
                assert.equal(400, r.status)
            end
            local status, raw = helpers.http("GET", server.url .. "/__mock/faults")
            assert.equal(200, status)
            assert.same({}, cjson.decode(raw))
        end)

        it("answers 414 and 431 to oversized heads, 413 to oversized bodies, 400 to bad chunks", function()
            local cases = {
                { head("GET", "/v1/" .. ("a"):rep(20000)), 414 },
                { head("GET", "/v1/voice-agents", { "X-Big: " .. ("b"):rep(20000) }), 431 },
                { head("GET", "/v1/voice-agents", { "X-Big: " .. ("b"):rep(16000) }), 200 },
                { head("GET", "/v1/voice-agents", (function()
                    local h = {}
                    for i = 1, 5 do h[i] = "X-Big-" .. i .. ": " .. ("c"):rep(15000) end
                    return h
                end)()), 431 },
                { head("GET", "/v1/voice-agents", (function()
                    local h = {}
                    for i = 1, 101 do h[i] = "X-" .. i .. ": 1" end
                    return h
                end)()), 431 },
                { head("POST", "/v1/voice-agents", { "Content-Length: 16777217" }), 413 },
                { head("POST", "/v1/voice-agents", { "Content-Length: 99999999999999999999" }), 413 },
                { head("POST", "/v1/voice-agents", { "Content-Length: 1e3" }), 400 },
                { head("POST", "/v1/voice-agents", { "Transfer-Encoding: chunked" }) .. "fffffff\r\n", 413 },
                { head("POST", "/v1/voice-agents", { "Transfer-Encoding: chunked" }) .. "ffffffff\r\n", 400 },
                { head("POST", "/v1/voice-agents", { "Transfer-Encoding: chunked" }) .. "zz\r\n", 400 },
                { head("POST", "/v1/voice-agents", { "Transfer-Encoding: chunked" }) .. "2\r\n{}xx\r\n", 400 },
                { head("POST", "/v1/voice-agents", { "Transfer-Encoding: chunked" })
                  .. ("1;" .. ("e"):rep(2000) .. "\r\n"), 400 },
            }
            for i, case in ipairs(cases) do
                local r, err = exchange(server.url, case[1])
                assert.is_table(r, "case " .. i .. ": " .. tostring(err))
                assert.equal(case[2], r.status, "case " .. i)
            end
            assert.equal(200, list_status())
        end)
    end)

    describe("options", function()
        it("mock.new raises on a bad timeout; bin/hamsa-mock exits 2 on a bad limit flag", function()
            local mock = require("hamsa.mock")
            for _, opts in ipairs({ { header_timeout = 0 }, { idle_timeout = -1 }, { body_timeout = "1" },
                                    { header_timeout = 0 / 0 } }) do
                assert.has_error(function() mock.new(opts) end)
            end
            local script = helpers.quote(helpers.root .. "/bin/hamsa-mock")
            local env = "LUA_PATH=" .. helpers.quote(helpers.root .. "/lua/?.lua;;") .. " "
            for _, args in ipairs({ "--header-timeout 0", "--idle-timeout x", "--body-timeout -1",
                                    "--max-connections 1001", "--max-connections 2.5" }) do
                local p = io.popen(env .. helpers.mock_lua .. " " .. script .. " " .. args
                    .. " 2>/dev/null; echo \"rc=$?\"")
                local out = p:read("*a")
                p:close()
                assert.matches("rc=2", out, 1, true)
            end
            local p = io.popen(env .. helpers.mock_lua .. " " .. script .. " --help")
            local out = p:read("*a")
            p:close()
            for _, flag in ipairs({ "--header-timeout", "--idle-timeout", "--body-timeout", "--max-connections" }) do
                assert.matches(flag, out, 1, true)
            end
        end)
    end)
end)
