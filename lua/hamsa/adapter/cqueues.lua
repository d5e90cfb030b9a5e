--- Runs a hamsa client inside a cqueues controller.
--
-- A client is already a cqueues pollable (`client:pollfd()`,
-- `client:events()`, `client:timeout()`), so `cqueues.poll(client)` waits
-- for it. This adapter adds the driver: a coroutine of the controller that
-- calls `client:poll(0)` each time the client's descriptor turns readable,
-- started whenever the client gets work and ended when it has none left
-- (so `cq:loop()` returns once everything is done). Callbacks (`on_done`)
-- and `client:spawn` tasks run from it; `driver:await` lets any coroutine
-- of the controller make a call and wait for it without blocking the
-- others. An error a callback raises comes out of `cq:loop()` (or
-- `cq:step()`) like any coroutine's, and the next work starts a new driver.
-- docs/event-loops.md.
--
-- Needs Debian's lua-cqueues (not a dependency of the hamsa rock), and
-- Linux (the pollfd is an epoll set).
-- @module hamsa.adapter.cqueues
-- @usage
-- local cqueues = require "cqueues"
-- local cq = cqueues.new()
-- local driver = require("hamsa.adapter.cqueues").attach(client, cq)
-- cq:wrap(function()
--     local agent, err = driver:await(function(on_done)
--         client.agents:create({ agentName = "Sara" }, { on_done = on_done })
--     end)
-- end)
-- assert(cq:loop())
local cqueues = require "cqueues"
local condition = require "cqueues.condition"

local pcall, error, select, unpack = pcall, error, select, table.unpack or unpack   -- luacheck: ignore unpack

local M = {}

local Driver = {}
Driver.__index = Driver

local function pack(...)
    return { n = select("#", ...), ... }
end

--- Drives `client` from `cq` until `driver:detach()`.
-- @param client a hamsa client
-- @param cq the cqueues controller (default: the running one)
-- @treturn Driver with `wakes` (times it polled the client), `await`, `detach`
-- @raise when the client has no pollfd (not Linux) or no controller is given
-- @usage local cq = require("cqueues").new()
-- local driver = require("hamsa.adapter.cqueues").attach(client, cq)
-- client.agents:create({ agentName = "Sara" }, { on_done = function(agent, err) end })
-- assert(cq:loop())
function M.attach(client, cq)
    cq = cq or cqueues.running()
    if not cq then error("hamsa.adapter.cqueues.attach: give the controller (cqueues.new())", 2) end
    local fd, msg = client:pollfd()
    if not fd then error("hamsa.adapter.cqueues.attach: " .. msg, 2) end
    local d = setmetatable({ client = client, cq = cq, wakes = 0, attached = true, running = false,
                             closed = condition.new() }, Driver)
    -- What the driver waits on: the descriptor alone. It carries every
    -- deadline (a timerfd) and turns readable only when one is due, so
    -- client:timeout() is not asked: that answer had said 0 a moment too
    -- early, and each early wake-up is a turn for nothing.
    local watched = { pollfd = function() return fd end, events = function() return "r" end }
    local function drive()
        while d.attached and client:pending() > 0 and client:pollfd() do
            cqueues.poll(watched, d.closed)    -- the client's work, or its close
            d.wakes = d.wakes + 1
            local ok, err = pcall(client.poll, client, 0)
            if not ok then
                d.running = false       -- the next work starts a new driver
                error(err, 0)           -- out of cq:loop(), as any coroutine's error
            end
        end
        d.running = false
    end
    -- called by the client when work arrives (hamsa.loop's wake): a new
    -- driver coroutine, run at the controller's next step, if none runs;
    -- and first thing in client:close(), before the descriptor is closed:
    -- cqueues must forget it (cqueues.cancel) and the driver waiting on it
    -- is woken, and ends
    d.wake = function()
        if not client:pollfd() then
            if not d.cancelled then
                d.cancelled = true
                cqueues.cancel(fd)
                d.closed:signal()
            end
            return
        end
        if d.running then return end
        if not d.attached then return end
        d.running = true
        cq:wrap(drive)
    end
    client._on_wake = d.wake
    d.wake()
    return d
end

--- Makes a call from a coroutine of the controller and waits for it
-- there, letting the controller's other coroutines run meanwhile.
-- @tparam function start called with an `on_done` function, to pass as
-- the call's `opts.on_done`
-- @return what `on_done` got: `data, response` or `nil, err`
-- @usage cq:wrap(function()
--     local agent, err = driver:await(function(on_done)
--         client.agents:create({ agentName = "Sara" }, { on_done = on_done })
--     end)
-- end)
function Driver:await(start)     -- luacheck: ignore self
    local cond, res = condition.new(), nil
    start(function(...)
        res = pack(...)
        cond:signal()
    end)
    while not res do cond:wait() end
    return unpack(res, 1, res.n)
end

--- Stops driving the client: a running driver ends at its next wake-up.
-- @usage driver:detach()     -- the client is left as it is; attach again to drive it
function Driver:detach()
    self.attached = false
    if self.client._on_wake == self.wake then self.client._on_wake = nil end
end

return M
