--- The mock's clock: the time its records live by (timestamps, calls
-- playing out, campaigns, knowledge-base processing).
--
-- It starts as real time (epoch seconds, a float). `POST /__mock/clock`
-- (hamsa.mock.control) can make it run `speed` times faster, jump ahead by
-- `advance` seconds, `freeze` it (and thaw it again, going on from where
-- it stood), or `reset` it to real time. It never goes back, except
-- through a reset: records then placed in its future wait for it.
-- @module hamsa.mock.clock
-- @license MIT

local socket = require("socket")

local real = socket.gettime
local huge = math.huge
local pairs, setmetatable, tostring, type = pairs, setmetatable, tostring, type

local MAX_SPEED = 1e6
local MAX_ADVANCE = 100 * 365 * 86400   -- a century
local FIELDS = { speed = "number", advance = "number", freeze = "boolean", reset = "boolean" }

local M = {}

local Clock = {}
Clock.__index = Clock

--- The mock's time now, in epoch seconds (a float).
function Clock:now()
    if self.frozen then return self.base end
    return self.base + (real() - self.since) * self.speed
end

-- Starts a new segment at the current time (before changing speed or
-- freezing), so what has passed is never rescaled.
function Clock:rebase()
    self.base, self.since = self:now(), real()
end

--- Back to real time: speed 1, not frozen, no offset.
function Clock:reset()
    self.since = real()
    self.base, self.speed, self.frozen = self.since, 1, false
end

--- `{ now, speed, frozen }`.
function Clock:state()
    return { now = self:now(), speed = self.speed, frozen = self.frozen }
end

-- Nil when `v` (a field of `change`) is acceptable, else a message.
local function refuse(name, v)
    if type(v) ~= FIELDS[name] then
        if not FIELDS[name] then return "unknown clock field '" .. tostring(name) .. "'" end
        return "clock field '" .. name .. "' must be a " .. FIELDS[name]
    end
    if type(v) == "number" and (v ~= v or v == huge or v == -huge) then
        return "clock field '" .. name .. "' must be finite"
    end
    if name == "speed" and (v <= 0 or v > MAX_SPEED) then
        return "clock field 'speed' must be within (0, " .. MAX_SPEED .. "]"
    end
    if name == "advance" and (v < 0 or v > MAX_ADVANCE) then
        return "clock field 'advance' must be within 0.." .. MAX_ADVANCE .. " (the clock never goes back)"
    end
end

--- Applies `change` (any of `reset`, `freeze`, `speed`, `advance`, in that
-- order); true, or nil and a message (nothing applied).
function Clock:set(change)
    for name, v in pairs(change) do
        local message = refuse(name, v)
        if message then return nil, message end
    end
    if change.reset then self:reset() end
    if change.freeze ~= nil and change.freeze ~= self.frozen then
        self:rebase()
        self.frozen = change.freeze
    end
    if change.speed then
        self:rebase()
        self.speed = change.speed
    end
    if change.advance then self.base = self.base + change.advance end
    return true
end

--- A clock on real time.
function M.new()
    local self = setmetatable({}, Clock)
    self:reset()
    return self
end

return M
