--- The mock's server: serving each connection in its own coroutine, and
-- the scheduler that drives them all from one `socket.select` loop, with
-- timers for delays; the Server methods of hamsa.mock.
-- @module hamsa.mock.server
-- @license MIT

local socket = require("socket")
local api = require("hamsa.mock.api")
local control = require("hamsa.mock.control")
local faults = require("hamsa.mock.faults")
local response = require("hamsa.mock.response")
local wire = require("hamsa.mock.wire")

local cocreate, coresume, costatus = coroutine.create, coroutine.resume, coroutine.status
local clock, select = socket.gettime, socket.select
local find, sub = string.find, string.sub
local ipairs, pairs, pcall, setmetatable, tonumber, tostring =
    ipairs, pairs, pcall, setmetatable, tonumber, tostring

local ACCEPT_BURST = 64        -- connections accepted per step
local ACCEPT_PAUSE = 0.1       -- seconds without accepting when out of descriptors
local SETSIZE = socket._SETSIZE or 1024

local M = {}

local Server = {}
Server.__index = Server

---------------------------------------------------------------------------
-- Serving one connection (the body of its coroutine)
---------------------------------------------------------------------------

-- fn(...), with a 500 instead of a dropped connection when it raises.
local function safely(fn, ...)
    local okr, res, extra = pcall(fn, ...)
    if okr then return res, extra end
    io.stderr:write("hamsa-mock: ", tostring(res), "\n")
    return response.fail(500, "mock internal error", "INTERNAL_ERROR")
end

-- Answers one API request: log, fault, latency, then the fault's answer or
-- the route's. True to keep the connection.
local function answer(self, conn, req)
    self.log[#self.log + 1] = control.entry(req)
    local f = self.faults:take(req)
    -- `after`: the route acts first (a call is placed), then the fault
    -- loses, delays or replaces its answer
    local acted = f and f.after and safely(self.api.handle, self.api, req)
    wire.sleep(self.latency + faults.delay(f))
    if faults.cut(conn, f) then return false end
    local res = faults.response(f) or acted or safely(self.api.handle, self.api, req)
    faults.amend(f, res)
    return faults.send(conn, f, res, req.keep)
end

-- Counts the API requests being answered at once (GET /__mock/stats), so
-- specs can prove concurrency and connection caps without timing anything.
local function serve_api(self, conn, req)
    local n = self.inflight + 1
    self.inflight = n
    if n > self.max_inflight then self.max_inflight = n end
    local keep = answer(self, conn, req)
    self.inflight = self.inflight - 1
    return keep
end

-- A control route; true to keep the connection.
local function serve_control(self, conn, req)
    local res, shutdown = safely(control.handle, self, req)
    local keep = req.keep and not shutdown
    local sent = wire.send(conn, wire.head(res, keep) .. res.body)
    if shutdown then self.stop_requested = true end
    return sent and keep
end

local function serve(self, conn)
    while not self.closed do
        local req, err, status, timed_out = wire.read_request(conn, self)
        if not req then
            if timed_out then self.timeouts = self.timeouts + 1 end
            if status then wire.refuse(conn, status, err) end
            return
        end
        local serve_one = sub(req.path, 1, 8) == "/__mock/" and serve_control or serve_api
        if not serve_one(self, conn, req) then return end
    end
end

---------------------------------------------------------------------------
-- The scheduler
---------------------------------------------------------------------------

local function drop(self, conn)
    if self.conns[conn] then
        self.conns[conn] = nil
        self.nconns = self.nconns - 1
    end
    conn.sock:close()
end

local function resume(self, conn)
    local okr, what, arg = coresume(conn.co)
    if not okr then io.stderr:write("hamsa-mock: ", tostring(what), "\n") end
    if not okr or costatus(conn.co) == "dead" then return drop(self, conn) end
    conn.wait, conn.wake = what, arg
end

-- Closes the connection that has waited longest for (the rest of) a
-- request; connections being answered are never chosen. False if none.
local function evict_oldest(self)
    local oldest
    for conn in pairs(self.conns) do
        if conn.phase ~= "busy" and (not oldest or conn.since < oldest.since) then oldest = conn end
    end
    if not oldest then return false end
    drop(self, oldest)
    self.evicted = self.evicted + 1
    return true
end

local REJECT = "HTTP/1.1 503 Service Unavailable\r\nServer: hamsa-mock\r\nContent-Length: 0\r\n"
    .. "Connection: close\r\n\r\n"

local function reject(self, sock)   -- a 503 if it fits at once, then close
    sock:settimeout(0)
    sock:send(REJECT)
    sock:close()
    self.rejected = self.rejected + 1
end

local function admit(self, sock)
    sock:settimeout(0)
    sock:setoption("tcp-nodelay", true)
    local conn = wire.conn(sock)
    conn.co = cocreate(function() return serve(self, conn) end)
    self.conns[conn] = true
    self.nconns = self.nconns + 1
    resume(self, conn)
end

-- Accepts what is pending. At the connection bound, or out of descriptors,
-- a new connection takes the slot of the one waiting longest for a request,
-- so clients that stall cannot lock out the others; if every connection is
-- being answered, new ones wait in the listen queue (or, caught in a
-- burst, are closed).
local function accept_all(self)
    for _ = 1, ACCEPT_BURST do
        local sock, err = self.listener:accept()
        if not sock then
            if err == "timeout" then return end
            -- e.g. "Too many open files": free one and try again, or stop
            -- polling the listener a while instead of spinning on it
            if not evict_oldest(self) then
                self.accept_paused = clock() + ACCEPT_PAUSE
                return
            end
        elseif (tonumber(sock:getfd()) or 0) >= SETSIZE then
            reject(self, sock)   -- select() cannot watch it; free a lower descriptor
            evict_oldest(self)
        elseif self.nconns >= self.max_connections and not evict_oldest(self) then
            reject(self, sock)
            return
        else
            admit(self, sock)
        end
    end
end

-- The sockets to watch and when to wake at the latest.
local function watch_list(self, now, deadline)
    local readers, writers, waiting = {}, {}, 0
    for conn in pairs(self.conns) do
        local w = conn.wait
        if w == "read" then
            readers[#readers + 1] = conn.sock
            local d = conn.deadline
            if d and d < deadline then deadline = d end
        elseif w == "write" then writers[#writers + 1] = conn.sock
        elseif conn.wake < deadline then deadline = conn.wake end
        if conn.phase ~= "busy" then waiting = waiting + 1 end
    end
    -- The listener is watched while a new connection can get a slot: a
    -- free one, or one waiting for a request (evicted for it).
    local paused = self.accept_paused
    if paused and paused <= now then paused, self.accept_paused = nil, nil end
    if paused then
        if paused < deadline then deadline = paused end
    elseif self.nconns < self.max_connections or waiting > 0 then
        readers[#readers + 1] = self.listener
    end
    return readers, writers, deadline
end

-- The connections that can make progress.
local function ready_list(self, readable, writable, now)
    local ready = {}
    for conn in pairs(self.conns) do
        local w = conn.wait
        if (w == "read" and (readable[conn.sock] or (conn.deadline and conn.deadline <= now)))
            or (w == "write" and writable[conn.sock])
            or (w == "sleep" and conn.wake <= now) then
            ready[#ready + 1] = conn
        end
    end
    return ready
end

---------------------------------------------------------------------------
-- Server methods (documented in hamsa.mock)
---------------------------------------------------------------------------

function Server:url()
    return self.base_url
end

function Server:step(timeout)
    if self.closed then return nil, "closed" end
    local hooks = self.api.webhooks
    hooks:poll(self.api)   -- webhooks due by the mock's clock (hamsa.mock.webhooks)
    local now = clock()
    local readers, writers, deadline = watch_list(self, now, now + (timeout or 0))
    deadline = hooks:watch(readers, writers, deadline)
    local wait = deadline - now
    local readable, writable = select(readers, writers, wait > 0 and wait or 0)
    readable, writable = readable or {}, writable or {}
    hooks:run(readable, writable)
    for _, conn in ipairs(ready_list(self, readable, writable, clock())) do
        if self.closed then break end
        resume(self, conn)
    end
    if not self.closed and readable[self.listener] then accept_all(self) end
    return true
end

function Server:run()
    while not self.closed and not self.stop_requested do
        local okr, err = self:step(1)
        if not okr then return nil, err end
    end
    return true
end

function Server:stopped()
    return self.closed or self.stop_requested
end

function Server:connections()
    return self.nconns
end

function Server:close()
    if self.closed then return true end
    self.closed = true
    for conn in pairs(self.conns) do conn.sock:close() end
    self.conns, self.nconns = {}, 0
    self.listener:close()
    return true
end

Server.__close = Server.close
Server.__gc = Server.close

--- A server on a bound, non-blocking `listener`; `settings` holds
-- api_key, latency, call_seconds, max_connections and the three timeouts
-- (checked).
function M.new(listener, settings)
    local self = setmetatable({
        listener = listener, api = api.new(settings.api_key, { call_seconds = settings.call_seconds }),
        faults = faults.queue(), log = {},
        latency = settings.latency, max_connections = settings.max_connections,
        header_timeout = settings.header_timeout, idle_timeout = settings.idle_timeout,
        body_timeout = settings.body_timeout,
        conns = {}, nconns = 0, inflight = 0, max_inflight = 0,
        timeouts = 0, evicted = 0, rejected = 0, closed = false, stop_requested = false,
    }, Server)
    local addr, bound = listener:getsockname()
    if addr == "0.0.0.0" then addr = "127.0.0.1" elseif addr == "::" then addr = "::1" end
    self.base_url = "http://" .. (find(addr, ":", 1, true) and "[" .. addr .. "]" or addr) .. ":" .. bound
    self.port = tonumber(bound)
    self.api.base_url = self.base_url
    return self
end

return M
