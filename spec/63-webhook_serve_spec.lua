-- hamsa.webhook.serve over real sockets, in this process: the specs step the
-- server themselves while raw LuaSocket clients talk to it.
local socket = require "socket"
local webhook = require "hamsa.webhook"
local json = require("hamsa.core").json

local AUTH = "Bearer tok-63"

local function body(ts, callId)
    return assert(json.encode{ eventType = "call.started", callId = callId or "c1", timestamp = tostring(ts),
                               data = json.object() })
end

local function request(b, auth, extra)
    return "POST /hooks HTTP/1.1\r\nHost: x\r\n" .. (auth and ("Authorization: " .. auth .. "\r\n") or "")
        .. (extra or "") .. "Content-Type: application/json\r\nContent-Length: " .. #b .. "\r\n\r\n" .. b
end

-- A raw client: connect, send, and collect responses without blocking.
local function client(srv)
    local sock = assert(socket.tcp())
    sock:settimeout(1)
    assert(sock:connect("127.0.0.1", srv.port))
    sock:settimeout(0)
    return { sock = sock, buf = "", closed = false }
end

local function pump(c)
    local data, err, partial = c.sock:receive(65536)
    c.buf = c.buf .. (data or partial or "")
    if err == "closed" then c.closed = true end
end

-- The first complete response in c.buf, removed from it: { status, headers, body }.
local function take(c)
    local head_end = c.buf:find("\r\n\r\n", 1, true)
    if not head_end then return nil end
    local head = c.buf:sub(1, head_end - 1)
    local len = tonumber(head:lower():match("content%-length: (%d+)")) or 0
    if #c.buf < head_end + 3 + len then return nil end
    local res = { status = tonumber(head:match("^HTTP/1%.1 (%d+)")), head = head,
                  body = c.buf:sub(head_end + 4, head_end + 3 + len) }
    c.buf = c.buf:sub(head_end + 4 + len)
    return res
end

-- Steps srv until cond() is true (or `limit` seconds pass).
local function drive(srv, cond, limit)
    local stop = socket.gettime() + (limit or 5)
    while not cond() do
        assert(socket.gettime() < stop, "timed out driving the server")
        srv:step(0.005)
    end
end

local function exchange(srv, c, req)
    assert(c.sock:send(req))
    local res
    drive(srv, function() pump(c) res = take(c) return res ~= nil end)
    return res
end

describe("hamsa.webhook.serve", function()
    local srv, events, listened
    before_each(function()
        events = {}
        srv = webhook.serve{ auth_key = "Bearer", auth_secret = "tok-63", path = "/hooks", max_body_bytes = 1000,
                             header_timeout = 0.3, body_timeout = 0.3, idle_timeout = 1,
                             on_listen = function(url) listened = url end,
                             on_event = function(e) events[#events + 1] = e end }
    end)
    after_each(function() srv:close() end)

    it("tells its URL", function()
        assert.matches("^http://127%.0%.0%.1:%d+/hooks$", srv:url())
        assert.equal(srv:url(), listened)
    end)

    it("answers a good delivery 200 and runs on_event; a repeat is a duplicate", function()
        local c = client(srv)
        local res = exchange(srv, c, request(body(1), AUTH))
        assert.equal(200, res.status)
        assert.same({ ok = true }, json.decode(res.body))
        assert.equal(1, #events)
        assert.equal("call.started", events[1].eventType)
        res = exchange(srv, c, request(body(1), AUTH))
        assert.equal(200, res.status)
        assert.is_true(json.decode(res.body).duplicate)
        assert.equal(1, #events)
        assert.same(1, srv:stats().duplicates)
        c.sock:close()
    end)

    it("answers 401, 413, 400, 404 and 405", function()
        local c = client(srv)
        assert.equal(401, exchange(srv, c, request(body(2), "Bearer wrong!")).status)
        assert.equal(401, exchange(srv, c, request(body(2))).status)
        assert.equal(401, exchange(srv, c, request(body(2), AUTH, "Authorization: " .. AUTH .. "\r\n")).status)
        assert.equal(413, exchange(srv, c, request(string.rep(" ", 1001), AUTH)).status)
        assert.equal(400, exchange(srv, c, request("{nope", AUTH)).status)
        assert.equal(404, exchange(srv, c, (request(body(2), AUTH):gsub("/hooks", "/other", 1))).status)
        assert.equal(405, exchange(srv, c, "GET /hooks HTTP/1.1\r\nHost: x\r\n\r\n").status)
        assert.equal(0, #events)
        assert.equal(5, srv:stats().refused)
        c.sock:close()
    end)

    it("keeps a connection alive across deliveries", function()
        local c = client(srv)
        for i = 1, 5 do
            local res = exchange(srv, c, request(body(100 + i), AUTH))
            assert.equal(200, res.status)
            assert.truthy(res.head:lower():find("connection: keep%-alive"))
        end
        assert.equal(5, #events)
        assert.equal(1, srv:stats().connections)
        c.sock:close()
    end)

    it("takes 50 deliveries at once", function()
        local clients = {}
        for i = 1, 50 do clients[i] = client(srv) end
        for i, c in ipairs(clients) do assert(c.sock:send(request(body(1000 + i), AUTH))) end
        local got = {}
        drive(srv, function()
            for i, c in ipairs(clients) do
                if not got[i] then pump(c) got[i] = take(c) end
            end
            for i = 1, 50 do if not got[i] then return false end end
            return true
        end)
        for i = 1, 50 do assert.equal(200, got[i].status) end
        assert.equal(50, #events)
        assert.equal(50, srv:stats().received)
        for _, c in ipairs(clients) do c.sock:close() end
    end)

    it("does not let a slow client hold up the others, and times it out", function()
        local slow = client(srv)
        assert(slow.sock:send("POST /hooks HTTP/1.1\r\nHost: x\r\n"))   -- and no more, for now
        local started = socket.gettime()
        local fast = client(srv)
        local res = exchange(srv, fast, request(body(7), AUTH))
        assert.equal(200, res.status)
        assert.is_true(socket.gettime() - started < 0.25)
        -- the slow one drips a header; its deadline is for the whole head
        slow.sock:send("X-Drip: 1\r\n")
        drive(srv, function() pump(slow) return slow.closed or take(slow) ~= nil end)
        assert.is_true(socket.gettime() - started >= 0.3)
        assert.equal(1, srv:stats().timeouts)
        assert.equal(1, #events)
        slow.sock:close()
        fast.sock:close()
    end)

    it("gives a new connection the slot of the one idling longest at max_connections", function()
        srv:close()
        srv = webhook.serve{ auth_key = "Bearer", auth_secret = "tok-63", path = "/hooks", max_connections = 2,
                             on_event = function(e) events[#events + 1] = e end }
        local idle1, idle2 = client(srv), client(srv)
        drive(srv, function() return srv:stats().connections == 2 end)
        local c = client(srv)
        assert.equal(200, exchange(srv, c, request(body(8), AUTH)).status)
        assert.equal(2, srv:stats().connections)
        idle1.sock:close() idle2.sock:close() c.sock:close()
    end)

    it("answers first, then reports what on_event raised to on_error", function()
        srv:close()
        local errs = {}
        srv = webhook.serve{ auth_key = "Bearer", auth_secret = "tok-63", path = "/hooks",
                             on_event = function() error("handler broke", 0) end,
                             on_error = function(e) errs[#errs + 1] = e end }
        local c = client(srv)
        assert.equal(200, exchange(srv, c, request(body(9), AUTH)).status)
        assert.same({ "handler broke" }, errs)
        c.sock:close()
    end)

    it("raises on bad options, at the caller's line", function()
        local ok, err = pcall(function() webhook.serve{ auth_key = "a", auth_secret = "b", path = "x" } end)
        assert.is_false(ok)
        assert.truthy(err:find("63%-webhook_serve_spec.lua:%d+:"))
        local _, err2 = pcall(function() webhook.serve{ auth_key = "a", auth_secret = "b", max_connections = 0 } end)
        assert.truthy(err2:find("63%-webhook_serve_spec.lua:%d+:"))
        ok, err = pcall(function() webhook.serve{ auth_key = "a" } end)
        assert.is_false(ok)
        assert.truthy(err:find("63%-webhook_serve_spec.lua:%d+: hamsa.webhook.new"))
        assert.has_error(function() webhook.serve("x") end)
    end)

    -- hamsa.webhook.serve is the rock hamsa-mock's (docs/packaging.md)
    it("says to install hamsa-mock when its module or LuaSocket is missing, at the caller's line", function()
        local loaded = package.loaded["hamsa.webhook.serve"]
        package.loaded["hamsa.webhook.serve"] = nil
        package.preload["hamsa.webhook.serve"] = function() error("module 'socket' not found", 0) end
        local ok, err = pcall(function() webhook.serve{ auth_key = "a", auth_secret = "b" } end)
        package.preload["hamsa.webhook.serve"] = nil
        package.loaded["hamsa.webhook.serve"] = loaded
        assert.is_false(ok)
        assert.truthy(err:find("63%-webhook_serve_spec.lua:%d+: hamsa.webhook.serve needs LuaSocket"))
        assert.matches("(luarocks install hamsa-mock): module 'socket' not found", err, 1, true)
    end)

    it("stops run() when closed, and step() then says closed", function()
        local s = webhook.serve{ auth_key = "a", auth_secret = "b" }
        s:close()
        assert.is_true(s:run())
        assert.same({ nil, "closed" }, { s:step(0) })
        assert.truthy(tostring(s):find("hamsa.webhook.server", 1, true))
        assert.is_nil(tostring(s):find("b", #"hamsa.webhook.server http://", true))
    end)
end)
