--- Runs a hamsa client inside a libuv loop (luv).
--
-- A `uv.new_poll` handle watches the client's descriptor
-- (`client:pollfd()`) for reading and calls `client:poll(0)` when it is
-- readable. The descriptor carries the client's timers too (libcurl's,
-- retry backoffs, waiter gaps: a timerfd in the same epoll set), so no uv
-- timer is needed and nothing polls on a clock. The handle exists only
-- while the client has work: made when work arrives, closed when none is
-- left or the client is closed, so `uv.run()` returns once everything is
-- done and no handle outlives the descriptor. Callbacks (`on_done`) and
-- `client:spawn` tasks run from the handle's callback. docs/event-loops.md.
--
-- An error raised by a callback would end the process inside luv (luv
-- exits on an error in its callbacks): the adapter hands it to
-- `opts.on_error(err)`, by default a line on stderr. A client made with
-- its own `on_error` never raises from `poll`.
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

local pcall, tostring = pcall, tostring

local M = {}

local Driver = {}
Driver.__index = Driver

local function report(err)
    io.stderr:write("hamsa.adapter.luv: a callback raised: ", tostring(err), "\n")
end

--- Drives `client` from luv's default loop until `driver:detach()`.
-- @param client a hamsa client
-- @tparam[opt] table opts `on_error = function(err)`: gets an error a
-- callback raised (default: a line on stderr)
-- @treturn Driver with `wakes` (times it polled the client) and `detach`
-- @raise when the client has no pollfd (not Linux, closed)
-- @usage local uv = require "luv"
-- local driver = require("hamsa.adapter.luv").attach(client, {
--     on_error = function(err) io.stderr:write(tostring(err), "\n") end,
-- })
-- client.agents:create({ agentName = "Sara" }, { on_done = function(agent, err) end })
-- uv.run()                   -- returns once the client has nothing left to do
function M.attach(client, opts)
    local fd, msg = client:pollfd()
    if not fd then error("hamsa.adapter.luv.attach: " .. msg, 2) end
    local on_error = opts and opts.on_error or report
    local d = setmetatable({ client = client, fd = fd, wakes = 0, attached = true }, Driver)
    local function on_ready(err)
        d.wakes = d.wakes + 1
        -- an error of the poll itself (the descriptor closed under it)
        if err then return d:_close() end
        local ok, e = pcall(client.poll, client, 0)
        if not ok then pcall(on_error, e) end
        if not d.attached or client:pending() == 0 then d:_close() end
    end
    -- called by the client when work arrives (hamsa.loop's wake), before
    -- it counts as pending, and first thing in client:close(), while the
    -- descriptor is still open: the handle is closed then
    d.wake = function()
        if not d.attached then return end
        if not client:pollfd() then return d:_close() end       -- closed
        if not d.handle then
            d.handle = uv.new_poll(fd)
            d.handle:start("r", on_ready)
        end
    end
    client._on_wake = d.wake
    if client:pending() > 0 then d.wake() end
    return d
end

function Driver:_close()
    local h = self.handle
    if h then
        self.handle = nil
        if not h:is_closing() then h:close() end
    end
end

--- Stops driving the client and closes the poll handle.
-- @usage driver:detach()     -- before the loop ends for good, or to drive the client otherwise
function Driver:detach()
    self.attached = false
    self:_close()
    if self.client._on_wake == self.wake then self.client._on_wake = nil end
end

return M
