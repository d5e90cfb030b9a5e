--- Progress of `--wait` on stderr (stdout keeps the result): on a terminal
-- one line redrawn in place with the status and the time elapsed; else a
-- plain line at each change of status.
-- @module hamsa.cli.progress
local core = require "hamsa.core"

local format, tostring = string.format, tostring
local now = core.now

local M = {}

local Progress = {}
Progress.__index = Progress

--- A progress display for waiting on `what` (e.g. "conversation 6a1f…").
-- `live` (default: stderr is a terminal) redraws one line.
function M.new(what, live)
    if live == nil then live = core.isatty(2) end
    return setmetatable({ what = what, live = live, started = now(), status = nil, shown = -1 }, Progress)
end

local function elapsed(self)
    return now() - self.started
end

function Progress:draw()
    local s = format("\r\27[Kwaiting for %s: %s  %.0f s", self.what, tostring(self.status or "…"), elapsed(self))
    io.stderr:write(s)
    io.stderr:flush()
end

--- A record was polled (or an event arrived) with this status.
function Progress:update(record)
    local status = type(record) == "table" and record.status or nil
    if status == self.status then return end
    self.status = status
    if self.live then
        self:draw()
    else
        io.stderr:write(format("hamsa: %s: %s after %.1f s\n", self.what, tostring(status), elapsed(self)))
    end
end

--- Redraws the elapsed time (a terminal only; at most once a second).
function Progress:tick()
    if not self.live then return end
    local s = math.floor(elapsed(self))
    if s ~= self.shown then
        self.shown = s
        self:draw()
    end
end

--- Ends the display: the last line stays, followed by a new line.
function Progress:finish()
    if self.live then
        self:draw()
        io.stderr:write("\n")
    end
end

return M
