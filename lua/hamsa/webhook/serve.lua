--- A webhook receiver on LuaSocket: one `socket.select` loop, a coroutine
-- per connection (the pattern of hamsa.mock.server, whose HTTP/1.1 reader
-- hamsa.mock.wire it reuses), keep-alive, deadlines on every read so a slow
-- client cannot hold the others up, and a bound on connections (the one
-- waiting longest for its request gives its slot to a new one).
--
--     local srv = hamsa.webhook.serve{ auth_key = "Token", auth_secret = "s3cret",
--                                      on_event = function(event) ... end }
--     print("listening " .. srv:url()); srv:run()
--
-- Options: those of hamsa.webhook.new, plus host ("127.0.0.1"), port (0:
-- any free one), path ("/": other paths get 404, other methods 405),
-- on_event, on_listen(url) (called once bound), on_error(err) (what
-- on_event raised; default: one line on stderr), max_connections (128),
-- header_timeout (10 s), idle_timeout (30 s), body_timeout (10 s).
-- Each delivery is answered first, then on_event runs (Hamsa wants an
-- answer within 5 s). Nothing is printed otherwise.
--
-- The server: `url()` (the URL to give Hamsa, path included), `step(timeout)`
-- (one turn of at most `timeout` seconds, for hosts with their own loop),
-- `run()` (until `close()`), `close()`, `stats()` (`received`,
-- `duplicates`, `refused`, `timeouts`, `connections`).
-- A body over max_body_bytes (default 1 MiB) gets 413. Up to 64 KiB over,
-- it is read first, so that the sender sees the answer; a longer one is
-- refused unread (the reader's bound), so no connection holds more than
-- max_body_bytes + 64 KiB.
-- `watch(fn)`: as a hamsa.webhook object's (client:watch(srv) uses it).
--
-- Make one with `hamsa.webhook.serve(opts)`; this module documents the
-- server's methods.
-- @module hamsa.webhook.serve
-- @license MIT

local socket = require("socket")
local wire = require("hamsa.mock.wire")

local cocreate, coresume, costatus = coroutine.create, coroutine.resume, coroutine.status
local clock, select = socket.gettime, socket.select
local find = string.find
local ipairs, pairs, setmetatable, tostring, type, error = ipairs, pairs, setmetatable, tostring, type, error

local ACCEPT_BURST = 64

local M = {}

local Server = {}
Server.__index = Server
Server.__name = "hamsa.webhook.server"
function Server.__tostring(s) return "hamsa.webhook.server " .. s.base_url end

local JSON = { { "Content-Type", "application/json" } }

local function reply(conn, status, body, keep)
    return wire.send(conn, wire.head({ status = status, headers = JSON, body = body }, keep) .. body)
end

local function handle(self, conn, req)
    if req.path ~= self.path then
        return reply(conn, 404, '{"error":{"kind":"not_found","message":"no webhook here"}}', req.keep) and req.keep
    end
    if req.method ~= "POST" then
        return reply(conn, 405, '{"error":{"kind":"invalid","message":"POST only"}}', req.keep) and req.keep
    end
    local status, body, event = self.wh:answer(req.headers, req.body)
    if status ~= 200 then
        self.refused = self.refused + 1
    elseif not event then
        self.duplicates = self.duplicates + 1
    end
    local sent = reply(conn, status, body, req.keep)
    if event then
        self.received = self.received + 1
        local okh, herr = self.wh:dispatch(event, self.on_event)
        if not okh then self.on_error(herr) end
    end
    return sent and req.keep
end

local function serve_conn(self, conn)
    while not self.closed do
        local req, err, status, timed_out = wire.read_request(conn, self)
        if not req then
            if timed_out then self.timeouts = self.timeouts + 1 end
            if status then wire.refuse(conn, status, err) end
            return
        end
        if not handle(self, conn, req) then return end
    end
end

local function drop(self, conn)
    if self.conns[conn] then
        self.conns[conn] = nil
        self.nconns = self.nconns - 1
    end
    conn.sock:close()
end

local function resume(self, conn)
    local okr, what, arg = coresume(conn.co)
    if not okr then io.stderr:write("hamsa.webhook: ", tostring(what), "\n") end
    if not okr or costatus(conn.co) == "dead" then return drop(self, conn) end
    conn.wait, conn.wake = what, arg
end

local function evict_oldest(self)
    local oldest
    for conn in pairs(self.conns) do
        if conn.phase ~= "busy" and (not oldest or conn.since < oldest.since) then oldest = conn end
    end
    if not oldest then return false end
    drop(self, oldest)
    return true
end

local function accept_all(self)
    for _ = 1, ACCEPT_BURST do
        local sock = self.listener:accept()
        if not sock then return end
        if self.nconns >= self.max_connections and not evict_oldest(self) then
            sock:close()
            return
        end
        sock:settimeout(0)
        sock:setoption("tcp-nodelay", true)
        local conn = wire.conn(sock)
        conn.co = cocreate(function() return serve_conn(self, conn) end)
        self.conns[conn] = true
        self.nconns = self.nconns + 1
        resume(self, conn)
    end
end

--- The URL to give Hamsa (`webhookUrl`, behind your HTTPS proxy), path included.
-- @treturn string like "http://127.0.0.1:8080/"
-- @usage print("listening on " .. srv:url())
function Server:url() return self.base_url .. self.path end

--- Registers `fn(event)` for every new event this server accepts (see
-- hamsa.webhook's watch); returns the function that unregisters it.
-- @tparam function fn called with each new event, under pcall
-- @treturn function the unregistering function
-- @usage srv:watch(function(event) print(event.eventType) end)
function Server:watch(fn) return self.wh:watch(fn) end

--- One turn of the server: waits at most `timeout` seconds for activity,
-- accepts, reads and answers what is ready, runs `on_event` for new events.
-- For hosts with their own loop (a game loop, `client:poll` beside it).
-- @tparam[opt=0] number timeout seconds
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] string "closed"
-- @usage while running do srv:step(0.05); client:poll(0) end
function Server:step(timeout)
    if self.closed then return nil, "closed" end
    local now = clock()
    local deadline = now + (timeout or 0)
    local readers, writers = { self.listener }, {}
    for conn in pairs(self.conns) do
        local w = conn.wait
        if w == "read" then
            readers[#readers + 1] = conn.sock
            if conn.deadline and conn.deadline < deadline then deadline = conn.deadline end
        elseif w == "write" then
            writers[#writers + 1] = conn.sock
        elseif conn.wake < deadline then
            deadline = conn.wake
        end
    end
    local wait = deadline - now
    local readable, writable = select(readers, writers, wait > 0 and wait or 0)
    readable, writable = readable or {}, writable or {}
    now = clock()
    local ready = {}
    for conn in pairs(self.conns) do
        local w = conn.wait
        if (w == "read" and (readable[conn.sock] or (conn.deadline and conn.deadline <= now)))
            or (w == "write" and writable[conn.sock]) or (w == "sleep" and conn.wake <= now) then
            ready[#ready + 1] = conn
        end
    end
    for _, conn in ipairs(ready) do
        if self.closed then break end
        resume(self, conn)
    end
    if not self.closed and readable[self.listener] then accept_all(self) end
    return true
end

--- Serves until `close()` (from `on_event` or another coroutine's code).
-- @treturn boolean true
-- @usage srv:run()
function Server:run()
    while not self.closed do self:step(1) end
    return true
end

--- Counters since the start: `received`, `duplicates`, `refused`,
-- `timeouts`, and the open `connections`.
-- @treturn table
-- @usage print(srv:stats().received)
function Server:stats()
    return { received = self.received, duplicates = self.duplicates, refused = self.refused,
             timeouts = self.timeouts, connections = self.nconns }
end

--- Closes the listener and every connection. Idempotent.
-- @treturn boolean true
-- @usage srv:close()
function Server:close()
    if self.closed then return true end
    self.closed = true
    for conn in pairs(self.conns) do conn.sock:close() end
    self.conns, self.nconns = {}, 0
    self.listener:close()
    return true
end

local function number(opts, name, default)
    local v = opts[name]
    if v == nil then return default end
    if type(v) ~= "number" or v <= 0 then error("hamsa.webhook.serve: " .. name .. " must be a number > 0", 4) end
    return v
end

local function stderr_line(err)
    io.stderr:write("hamsa.webhook: on_event: ", tostring(err), "\n")
end

--- Binds and returns the server (see the module's text); raises on misuse
-- or when the address cannot be bound. `hamsa.webhook.serve(opts)` calls it.
-- @local
function M.serve(opts, webhook)
    if type(opts) ~= "table" then error("hamsa.webhook.serve: expected an options table", 3) end
    local wh = webhook._new_from(opts, 4)
    local path = opts.path or "/"
    if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
        error("hamsa.webhook.serve: path must start with /", 3)
    end
    local host = opts.host or "127.0.0.1"
    local listener, err = socket.bind(host, opts.port or 0, 128)
    if not listener then error("hamsa.webhook.serve: cannot listen on " .. host .. ": " .. tostring(err), 3) end
    listener:settimeout(0)
    local self = setmetatable({
        wh = wh, listener = listener, path = path, on_event = opts.on_event,
        on_error = opts.on_error or stderr_line,
        max_connections = number(opts, "max_connections", 128),
        header_timeout = number(opts, "header_timeout", 10),
        idle_timeout = number(opts, "idle_timeout", 30),
        body_timeout = number(opts, "body_timeout", 10),
        max_body = (opts.max_body_bytes or 1024 * 1024) + 64 * 1024,
        conns = {}, nconns = 0, received = 0, duplicates = 0, refused = 0, timeouts = 0, closed = false,
    }, Server)
    local addr, port = listener:getsockname()
    if addr == "0.0.0.0" then addr = "127.0.0.1" elseif addr == "::" then addr = "::1" end
    self.base_url = "http://" .. (find(addr, ":", 1, true) and "[" .. addr .. "]" or addr) .. ":" .. port
    self.port = port
    if opts.on_listen then opts.on_listen(self:url()) end
    return self
end

return M
