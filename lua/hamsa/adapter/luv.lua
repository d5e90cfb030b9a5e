--- Runs a hamsa client inside a libuv loop (luv).
--
-- One `uv.new_poll` handle watches the client's descriptor
-- (`client:pollfd()`) for reading and calls `client:poll(0)` when it is
-- readable. The descriptor carries the client's timers too (libcurl's,
-- retry backoffs, waiter gaps: a timerfd in the same epoll set), so no uv
-- timer is needed and nothing polls on a clock. The handle is started when
-- the client gets work and stopped when it has none, so `uv.run()` returns
-- once everything is done. Callbacks (`on_done`) and `client:spawn` tasks
-- run from the poll handle's callback. docs/event-loops.md.
--
-- Needs Debian's lua-luv (not a dependency of the hamsa rock), and Linux.
-- @module hamsa.adapter.luv
-- @usage
-- local uv = require "luv"
-- local driver = require("hamsa.adapter.luv").attach(client)
-- client.agents:create({ agentName = "Sara" }, {
--     on_done = function(agent, err) print(agent and agent.id or err) end,
-- })
-- uv.run()
local uv = require "luv"

local M = {}

local Driver = {}
Driver.__index = Driver

--- Drives `client` from luv's default loop until `driver:detach()`.
-- @param client a hamsa client
-- @treturn Driver with `wakes` (times it polled the client) and `detach`
-- @raise when the client has no pollfd (not Linux)
function M.attach(client)
    local fd, msg = client:pollfd()
    if not fd then error("hamsa.adapter.luv.attach: " .. msg, 2) end
    local d = setmetatable({ client = client, wakes = 0, attached = true, active = false }, Driver)
    d.handle = uv.new_poll(fd)
    local function on_ready(err)
        d.wakes = d.wakes + 1
        -- an error of the poll itself (the descriptor closed under it):
        -- stop watching; the client's own calls report theirs
        if err then return d:_stop() end
        client:poll(0)
        if not d.attached or client:pending() == 0 then d:_stop() end
    end
    d.on_ready = on_ready
    -- called by the client when work arrives (hamsa.loop's wake), before
    -- it counts as pending: start watching
    d.wake = function()
        if d.attached and not d.active then
            d.active = true
            d.handle:start("r", on_ready)
        end
    end
    client._on_wake = d.wake
    if client:pending() > 0 then d.wake() end
    return d
end

function Driver:_stop()
    if self.active then
        self.active = false
        self.handle:stop()
    end
end

--- Stops driving the client and closes the poll handle.
function Driver:detach()
    self.attached = false
    self:_stop()
    if self.client._on_wake == self.wake then self.client._on_wake = nil end
    if not self.handle:is_closing() then self.handle:close() end
end

return M
