--- Runs a hamsa client inside copas.
--
-- A copas thread waits on the client's descriptor (`client:pollfd()`) as
-- copas waits on a socket: through `copas.receive` on an object with
-- `getfd`, which copas's `socket.select` watches for reading. When it is
-- readable the thread calls `client:poll(0)`. The descriptor carries the
-- client's timers too (a timerfd in the same epoll set), which matters
-- here: copas 1.x has no timers of its own. The thread starts when the
-- client gets work and ends when it has none. Callbacks (`on_done`) and
-- `client:spawn` tasks run from it. An error a callback raises goes to
-- copas's error handler of the thread (copas.setErrorHandler), and the next
-- work starts a new thread. docs/event-loops.md.
--
-- Needs copas (Debian's lua-copas, for Lua 5.1 and 5.2 there; not a
-- dependency of the hamsa rock), and Linux.
-- @module hamsa.adapter.copas
-- @usage
-- local copas = require "copas"
-- local driver = require("hamsa.adapter.copas").attach(client)
-- copas.addthread(function()
--     client.agents:create({ agentName = "Sara" }, {
--         on_done = function(agent, err) print(agent and agent.id or err) end,
--     })
-- end)
-- while client:pending() > 0 do copas.step() end
local copas = require "copas"

local M = {}

local Driver = {}
Driver.__index = Driver

--- Drives `client` from copas until `driver:detach()`.
-- @param client a hamsa client
-- @treturn Driver with `wakes` (times it polled the client) and `detach`
-- @raise when the client has no pollfd (not Linux)
-- @usage local copas = require "copas"
-- local driver = require("hamsa.adapter.copas").attach(client)
-- client.agents:create({ agentName = "Sara" }, { on_done = function(agent, err) end })
-- while client:pending() > 0 do copas.step() end
function M.attach(client)
    local fd, msg = client:pollfd()
    if not fd then error("hamsa.adapter.copas.attach: " .. msg, 2) end
    local d = setmetatable({ client = client, wakes = 0, attached = true, running = false }, Driver)
    -- What copas watches: a socket-like object whose receive drives the
    -- client and answers "timeout" (wait for the descriptor again) while
    -- work is left. Its first receive only registers it: the thread starts
    -- inside the call that brought work, where no callback may run yet.
    local first
    local watched = {
        -- -1 once the client is closed: select skips it (the number may
        -- be another file's by then)
        getfd = function() return client:pollfd() and fd or -1 end,
        dirty = function() return false end,
        settimeout = function() end,
        close = function() end,         -- copas closes a thread's socket when it ends
    }
    function watched.receive()
        if first then
            first = false
            return nil, "timeout"
        end
        d.wakes = d.wakes + 1
        local ok, err = pcall(client.poll, client, 0)
        if not ok then
            d.running = false           -- the next work starts a new thread
            error(err, 0)               -- to copas's error handler for the thread
        end
        if d.attached and client:pending() > 0 and client:pollfd() then return nil, "timeout" end
        return ""
    end
    local function drive()
        first = true
        copas.receive(watched)
        d.running = false
    end
    d.wake = function()
        if d.running or not d.attached then return end
        d.running = true
        copas.addthread(drive)
    end
    client._on_wake = d.wake
    if client:pending() > 0 then d.wake() end
    return d
end

--- Stops driving the client: a running thread ends at its next wake-up.
-- @usage driver:detach()
function Driver:detach()
    self.attached = false
    if self.client._on_wake == self.wake then self.client._on_wake = nil end
end

return M
