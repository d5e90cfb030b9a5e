-- Hamsa's webhooks inside nginx (hamsa.openresty.webhook), with a master and
-- two workers: the answer goes out before on_event runs, one delivery sent
-- many times to both workers runs on_event once (lua_shared_dict), bodies
-- that nginx buffers to a file are read (and bounded), and on_event may call
-- the API (the mock) on a worker thread. Like spec/80, it needs nginx and
-- build/jit/hamsa/core.so (`make test` builds it).
local helpers = require "spec.helpers"
local socket = require "socket"
local cjson = require "cjson"

local MAX = 64 * 1024           -- the location's max_body_bytes; its body buffer is 8k

local HTTP_CONF = [[
lua_shared_dict spec_webhook 1m;
]]

local SERVER_CONF = ([[
location = /hook {
    client_body_buffer_size 8k;
    client_max_body_size 1m;
    content_by_lua_block {
        ngx.header["X-Worker-Pid"] = ngx.worker.pid()
        local spec = ngx.shared.spec_webhook
        local hamsa = require "hamsa.openresty"
        hamsa.webhook({ auth_key = "Token", auth_secret = "s3cret", shared_dict = "hamsa_webhooks",
                        max_body_bytes = %d }, function(event)
            local data = event.data or {}
            spec:incr("count:" .. event.callId, 1, 0)
            spec:set("size:" .. event.callId, #(data.pad or ""))
            if data.slow then
                ngx.sleep(1)
                spec:set("marker:" .. event.callId, true)
            end
            if data.create then         -- the API from on_event, on a worker thread
                local agent, err = hamsa.new().agents:create { agentName = "hook " .. event.callId }
                spec:set("agent:" .. event.callId, agent and agent.id or tostring(err))
            end
        end)
    }
}
location = /spec {
    content_by_lua_block {
        local v = ngx.shared.spec_webhook:get(ngx.var.arg_key)
        ngx.say(v == nil and "nil" or tostring(v))
    }
}
]]):format(MAX)

local function slurp(path)
    local f = io.open(path, "rb")
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    return s
end

local function event(call_id, data)
    return cjson.encode({
        eventType = "call.ended", callId = call_id, timestamp = "2026-01-01T00:00:00Z",
        projectId = "p1", agentId = "a1", agentName = "Sara", data = data or {},
    })
end

--- Sends a POST /hook on a new connection (HTTP/1.1, Connection: close) and
-- returns the socket at once. `chunked` sends the body without a
-- Content-Length; `auth` defaults to the right header.
local function send(nginx, body, o)
    o = o or {}
    local sock = assert(socket.connect("127.0.0.1", nginx.port))
    local head = { "POST /hook HTTP/1.1", "Host: 127.0.0.1", "Connection: close", "Content-Type: application/json" }
    if o.auth ~= false then head[#head + 1] = "authorization: " .. (o.auth or "Token s3cret") end
    if o.chunked then
        head[#head + 1] = "Transfer-Encoding: chunked"
        assert(sock:send(table.concat(head, "\r\n") .. "\r\n\r\n"))
        for i = 1, #body, 4096 do
            local piece = body:sub(i, i + 4095)
            assert(sock:send(("%x\r\n%s\r\n"):format(#piece, piece)))
        end
        assert(sock:send("0\r\n\r\n"))
    else
        head[#head + 1] = "Content-Length: " .. #body
        assert(sock:send(table.concat(head, "\r\n") .. "\r\n\r\n" .. body))
    end
    return sock
end

--- Reads the whole answer: `{ status, headers, body }`.
local function receive(sock)
    sock:settimeout(30)
    local text, err, partial = sock:receive("*a")
    sock:close()
    text = text or partial
    assert(text and text ~= "", "no response: " .. tostring(err))
    local status = tonumber(text:match("^HTTP/1%.%d (%d%d%d)"))
    local head, body = text:match("^(.-)\r\n\r\n(.*)$")
    assert(status and head, "not an HTTP response: " .. text)
    local headers = {}
    for k, v in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[k:lower()] = v end
    return { status = status, headers = headers, body = body }
end

local function post(nginx, body, o)
    return receive(send(nginx, body, o))
end

local function spec_value(nginx, key)
    local sock = assert(socket.connect("127.0.0.1", nginx.port))
    assert(sock:send("GET /spec?key=" .. key .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
    local res = receive(sock)
    assert(res.status == 200, res.body)
    return (res.body:gsub("\n$", ""))
end

local function until_true(what, fn)
    local deadline = socket.gettime() + 15
    while socket.gettime() < deadline do
        if fn() then return end
        socket.sleep(0.02)
    end
    error("gave up waiting for " .. what, 2)
end

describe("hamsa.openresty.webhook", function()
    it("outside nginx, refuses bad arguments", function()
        local webhook = require("hamsa.openresty").webhook
        assert.has_error(function() webhook("x", print) end, "hamsa.openresty.webhook: options must be a table")
        assert.has_error(function() webhook({}, nil) end, "hamsa.openresty.webhook: on_event must be a function")
    end)

    describe("inside nginx, two workers", function()
        local server, nginx

        teardown(function()         -- registered first: nginx stops before the mock
            if nginx then nginx.stop() end
        end)
        helpers.mock_suite({ setup, teardown }, { mock = { api_key = "nginx-key" } }, function(s) server = s end)

        setup(function()
            nginx = helpers.start_nginx({ HAMSA_API_KEY = "nginx-key", HAMSA_BASE_URL = server.url },
                { workers = 2, http = HTTP_CONF, server = SERVER_CONF })
        end)

        it("answers before a slow on_event finishes", function()
            local t0 = socket.gettime()
            local res = post(nginx, event("slow-1", { slow = true }))
            local elapsed = socket.gettime() - t0
            assert.equal(200, res.status, res.body)
            -- the answer is complete and on_event has not finished yet ...
            assert.equal("nil", spec_value(nginx, "marker:slow-1"))
            assert.is_true(elapsed < 1, "answered after " .. elapsed .. " s")
            -- ... and it finishes afterwards
            until_true("the marker of on_event", function() return spec_value(nginx, "marker:slow-1") == "true" end)
            assert.equal("1", spec_value(nginx, "count:slow-1"))
        end)

        it("runs on_event once for a delivery sent many times, to both workers", function()
            local body = event("dup-1", { create = true })
            local pids, statuses, replies, sent = {}, {}, {}, 0
            for _ = 1, 20 do            -- batches of concurrent connections until both workers answered
                local socks = {}
                for i = 1, 8 do socks[i] = send(nginx, body) end
                for i = 1, 8 do
                    local res = receive(socks[i])
                    statuses[res.status] = (statuses[res.status] or 0) + 1
                    replies[res.body] = (replies[res.body] or 0) + 1
                    pids[assert(res.headers["x-worker-pid"], "no X-Worker-Pid")] = true
                end
                sent = sent + 8
                local n = 0
                for _ in pairs(pids) do n = n + 1 end
                if n >= 2 then break end
            end
            local n = 0
            for _ in pairs(pids) do n = n + 1 end
            assert.equal(2, n, "one worker answered them all")
            assert.same({ [200] = sent }, statuses)
            -- one worker took it as new, every other answer (either worker's) as a duplicate
            assert.same({ ['{"ok":true}\n'] = 1, ['{"ok":true,"duplicate":true}\n'] = sent - 1 }, replies)
            until_true("the agent on_event creates", function() return spec_value(nginx, "agent:dup-1") ~= "nil" end)
            socket.sleep(0.3)           -- time for a second on_event, were there one
            assert.equal("1", spec_value(nginx, "count:dup-1"))
            local creates = {}
            for _, r in ipairs(server:requests()) do
                if r.path == "/v1/voice-agents" and r.method == "POST" then creates[#creates + 1] = r end
            end
            assert.equal(1, #creates)
            assert.equal("hook dup-1", cjson.decode(creates[1].body).agentName)
            assert.matches("^%x+%-", spec_value(nginx, "agent:dup-1"))
        end)

        it("401 on bad auth, 413 over max_body_bytes, 200 for a body buffered to a file", function()
            assert.equal(401, post(nginx, event("auth-1"), { auth = "Token wrong" }).status)
            assert.equal(401, post(nginx, event("auth-1"), { auth = false }).status)
            assert.equal(400, post(nginx, "not json").status)
            local big = event("big-1", { pad = ("x"):rep(MAX + 1000) })
            local res = post(nginx, big)                                    -- Content-Length over max
            assert.equal(413, res.status)
            assert.equal("invalid", cjson.decode(res.body).error.kind)
            assert.equal(413, post(nginx, big, { chunked = true }).status)  -- no length: the file's size
            local before = select(2, slurp(nginx.prefix .. "/error.log"):gsub("buffered to a temporary file", ""))
            local large = event("large-1", { pad = ("y"):rep(40 * 1024) })
            assert.is_true(#large > 8 * 1024 and #large < MAX)
            assert.equal(200, post(nginx, large).status)
            assert.equal(200, post(nginx, event("large-2", { pad = ("z"):rep(30 * 1024) }), { chunked = true }).status)
            until_true("on_event of the large bodies", function()
                return spec_value(nginx, "size:large-2") ~= "nil" and spec_value(nginx, "size:large-1") ~= "nil"
            end)
            assert.equal(tostring(40 * 1024), spec_value(nginx, "size:large-1"))
            assert.equal(tostring(30 * 1024), spec_value(nginx, "size:large-2"))
            -- nginx says it buffered them to files (a [warn]): the file path was the one taken
            local after = select(2, slurp(nginx.prefix .. "/error.log"):gsub("buffered to a temporary file", ""))
            assert.is_true(after - before >= 2, "bodies buffered to files: " .. (after - before))
            for _, id in ipairs({ "auth-1", "big-1" }) do
                assert.equal("nil", spec_value(nginx, "count:" .. id))
            end
        end)

        it("left nothing in nginx's error log", function()
            local log = slurp(nginx.prefix .. "/error.log")
            assert.is_nil(log:match("%[error%]") or log:match("%[alert%]") or log:match("%[crit%]"), log)
        end)
    end)
end)
