--- The mock's fault language: what a queued fault may say (parse), which
-- request it applies to (match: the queue), and what it does to the answer
-- (apply). The fields and actions are documented in the module hamsa.mock.
-- @module hamsa.mock.faults
-- @license MIT

local json = require("hamsa.core").json
local response = require("hamsa.mock.response")
local text = require("hamsa.mock.text")
local wire = require("hamsa.mock.wire")

local remove = table.remove
local floor, huge = math.floor, math.huge
local rep, sub, upper = string.rep, string.sub, string.upper
local tointeger = math.tointeger or function(x) return x == floor(x) and x or nil end   -- Lua 5.1
local ipairs, next, pairs, setmetatable, tostring, type =
    ipairs, next, pairs, setmetatable, tostring, type
local null = json.null

local DEFAULT_DRIP_INTERVAL = 0.1

local ACTIONS = { reset = true, close = true, close_mid_body = true, drip = true, hang = true,
                  reset_mid_body = true, raw = true }

local FIELDS = {
    path = "string", method = "string", times = "integer", status = "integer",
    body = "string", content_type = "string", headers = "table", delay = "number",
    action = "string", interval = "number", pad = "integer", raw = "string", after = "boolean",
}

local M = {}

---------------------------------------------------------------------------
-- Parse
---------------------------------------------------------------------------

-- The fields of `spec`, each of its type, or nil and a message.
local function typed_fields(spec)
    local f = {}
    for k, v in pairs(spec) do
        local want = FIELDS[k]
        if not want then return nil, "unknown fault field '" .. tostring(k) .. "'" end
        if v ~= null then
            if type(v) == "number" and (v ~= v or v == huge or v == -huge) then   -- e.g. 1e999
                return nil, "fault field '" .. k .. "' must be finite"
            end
            if want == "integer" then v = type(v) == "number" and tointeger(v) or nil end
            if type(v) ~= (want == "integer" and "number" or want) then
                return nil, "fault field '" .. k .. "' must be a " .. want
            end
            f[k] = v
        end
    end
    return f
end

-- Nil when the values of `f` make sense together, else a message.
local function inconsistency(f)
    if f.times < 1 then return "fault field 'times' must be >= 1" end
    if f.pad and (f.pad < 0 or f.pad > 64 * 1024 * 1024) then
        return "fault field 'pad' must be within 0..67108864"
    end
    if f.status and (f.status < 100 or f.status > 599) then
        return "fault field 'status' must be within 100..599"
    end
    if (f.delay and f.delay < 0) or (f.interval and f.interval <= 0) then
        return "fault fields 'delay' and 'interval' must be positive"
    end
    if f.action and not ACTIONS[f.action] then return "unknown fault action '" .. f.action .. "'" end
    if (f.action == "raw") ~= (f.raw ~= nil) then
        return "fault field 'raw' goes with action \"raw\", and that action needs it"
    end
end

-- The headers as strings (a number as its integer when it is one), or nil
-- and a message.
local function header_values(headers)
    if not text.is_object(headers) then return nil, "fault field 'headers' must be an object" end
    local h = {}
    for name, value in pairs(headers) do
        if type(value) ~= "string" and type(value) ~= "number" then
            return nil, "fault header '" .. tostring(name) .. "' must be a string"
        end
        h[name] = type(value) == "number" and tostring(tointeger(value) or value) or value
    end
    return h
end

-- A checked copy of one fault spec, or nil and a message.
local function parse(spec)
    if not text.is_object(spec) then return nil, "a fault must be a JSON object" end
    local f, err = typed_fields(spec)
    if not f then return nil, err end
    f.times = f.times or 1
    err = inconsistency(f)
    if err then return nil, err end
    if f.method then f.method = upper(f.method) end
    if f.headers then
        f.headers, err = header_values(f.headers)
        if not f.headers then return nil, err end
    end
    return f
end

---------------------------------------------------------------------------
-- The queue, and matching
---------------------------------------------------------------------------

local Queue = {}
Queue.__index = Queue

--- An empty queue of faults.
function M.queue()
    return setmetatable({ list = {} }, Queue)
end

--- Queues one fault (an object) or several (a list), all or none.
-- @return how many were queued and how many are pending; or nil and a message
function Queue:add(value)
    local specs = (#value > 0 or next(value) == nil) and value or { value }
    local parsed = {}
    for i, spec in ipairs(specs) do
        local f, err = parse(spec)
        if not f then return nil, "fault " .. i .. ": " .. err end
        parsed[i] = f
    end
    local list = self.list
    for _, f in ipairs(parsed) do list[#list + 1] = f end
    return #parsed, #list
end

--- The faults not used up yet, oldest first (the live list).
function Queue:pending()
    return json.array(self.list)
end

--- Drops every pending fault.
function Queue:clear()
    self.list = {}
end

--- Removes and returns the first queued fault that applies to req, if any
-- (one use of it).
function Queue:take(req)
    for i, f in ipairs(self.list) do
        if (not f.path or sub(req.path, 1, #f.path) == f.path)
            and (not f.method or f.method == req.method) then
            f.times = f.times - 1
            if f.times == 0 then remove(self.list, i) end
            return f
        end
    end
end

---------------------------------------------------------------------------
-- Apply: each takes the fault or nil (none)
---------------------------------------------------------------------------

--- Seconds the fault adds before answering.
function M.delay(f)
    return f and f.delay or 0
end

local function abort(conn)   -- close with RST instead of FIN
    conn.sock:setoption("linger", { on = true, timeout = 0 })
    conn.sock:close()
end

local function hang(conn)   -- never answer; discard input until the peer leaves
    repeat conn.buf = "" until not wire.fill(conn)
end

-- The actions that leave no answer to make: each ends the connection.
local CUTS = {
    reset = abort,
    close = function() end,
    hang = hang,
    raw = function(conn, f) wire.send(conn, f.raw) end,
}

--- Carries out an action that answers nothing (reset, close, hang, raw);
-- true when it did (the connection is done), false when there is an
-- answer to make.
function M.cut(conn, f)
    local cut = f and CUTS[f.action]
    if not cut then return false end
    cut(conn, f)
    return true
end

--- The answer the fault makes in place of the route's, or nil.
function M.response(f)
    if not (f and (f.status or f.body)) then return nil end
    local status = f.status or 200
    local body = f.body
    if not body then
        local reason = response.reason(status) or "Mock fault"
        body = json.encode({ success = status < 400, message = reason, messageKey = response.key(reason) })
    end
    return response.response(status, body, f.content_type)
end

--- Adds the fault's headers and padding to `res`.
function M.amend(f, res)
    if not f then return end
    if f.headers then
        for name, value in pairs(f.headers) do response.set_header(res, name, value) end
    end
    if f.pad and f.pad > 0 then res.body = res.body .. rep(" ", f.pad) end
end

-- The head promising the whole body (at least one byte), and half of it.
local function half(res)
    local body = res.body
    return wire.head(res, false, #body > 0 and #body or 1) .. sub(body, 1, floor(#body / 2))
end

local function drip(conn, data, interval)
    for i = 1, #data do
        if not wire.send(conn, sub(data, i, i)) then return false end
        if i < #data then wire.sleep(interval) end
    end
    return true
end

--- Sends `res` as the fault says (whole, half, or a byte at a time).
-- @return truthy when the connection stays open for the next request
function M.send(conn, f, res, keep)
    local action = f and f.action
    if action == "reset_mid_body" then
        wire.send(conn, half(res))
        abort(conn)
        return false
    end
    if action == "close_mid_body" then
        wire.send(conn, half(res))
        return false
    end
    local data = wire.head(res, keep) .. res.body
    if action == "drip" then
        return drip(conn, data, f.interval or DEFAULT_DRIP_INTERVAL) and keep
    end
    return wire.send(conn, data) and keep
end

return M
