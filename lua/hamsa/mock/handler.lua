--- What the mock's route handlers share: reading a request's body and
-- query, the light checks (400 VALIDATION_ERROR for a missing required
-- field: the library checks bodies fully on its side), error answers, ids,
-- times and pages.
-- @module hamsa.mock.handler
-- @license MIT

local core = require("hamsa.core")
local response = require("hamsa.mock.response")
local text = require("hamsa.mock.text")

local json = core.json
local core_uuid4 = core.uuid4
local format, gsub, match = string.format, string.gsub, string.match
local floor = math.floor
local assert, getmetatable, pairs, setmetatable, tonumber, tostring, type =
    assert, getmetatable, pairs, setmetatable, tonumber, tostring, type

-- A stored record is answered up to three levels down (envelope, data,
-- a list) and the encoder stops at 1000 levels: deeper bodies are refused.
local MAX_BODY_DEPTH = 997

local M = {}

M.ok, M.fail = response.ok, response.fail
M.null, M.array, M.object = json.null, json.array, json.object
M.is_object = text.is_object

--- A random UUIDv4.
function M.uuid4()
    return assert(core_uuid4())
end

function M.nonempty(v)
    return type(v) == "string" and v ~= ""
end

--- Neither absent nor JSON null.
function M.present(v)
    return v ~= nil and v ~= json.null
end

--- `v`, or JSON null when it is absent.
function M.or_null(v)
    if v == nil then return json.null end
    return v
end

--- A shallow copy, with the same metatable (array or object mark).
function M.copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return setmetatable(c, getmetatable(t))
end

--- A query value as a whole number >= `min` (default 1); `default` when
-- absent or empty, nil when malformed.
function M.whole(s, default, min)
    if s == nil or s == "" then return default end
    if not match(s, "^%d+$") or #s > 9 then return nil end
    local n = tonumber(s)
    return n >= (min or 1) and n or nil
end

--- A 400 VALIDATION_ERROR.
function M.invalid(message)
    return response.fail(400, message, "VALIDATION_ERROR")
end

--- A 404 with the API's envelope.
function M.not_found(message, key)
    return response.json(404, { success = false, message = message, messageKey = key })
end

--- The query of `req`: the first value of each name, and every value
-- of each name (repeated `status=`).
function M.query(req)
    return text.parse_query(req.query), text.parse_query_all(req.query)
end

--- The body as a JSON object ({} when empty), or nil and the 400 response.
function M.parse_body(req)
    if match(req.body, "^%s*$") then return {} end
    local value = json.decode(req.body)
    if value == nil then return nil, response.fail(400, "Invalid JSON body", "BAD_REQUEST") end
    if not text.is_object(value) then
        return nil, response.fail(400, "Request body must be a JSON object", "BAD_REQUEST")
    end
    -- What is stored must encode again in every answer: no number that
    -- overflowed to infinity (1e999), no nesting deeper than answers carry.
    local encoded, err = json.encode(value, MAX_BODY_DEPTH)
    if not encoded then
        return nil, response.fail(400, "Invalid JSON body: " .. gsub(tostring(err), "^json: ", ""), "BAD_REQUEST")
    end
    return value
end

--- ISO-8601 UTC with milliseconds, of epoch `seconds`.
function M.iso(seconds)
    local ms = floor(seconds * 1000 + 0.5)
    local s = floor(ms / 1000)
    return os.date("!%Y-%m-%dT%H:%M:%S", s) .. format(".%03dZ", ms - s * 1000)
end

local DAYS_BEFORE = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 }

--- Epoch seconds of an ISO-8601 date-time ("2025-06-01T09:00:00Z", with
-- fractions, an offset like "+04:00", or none: then UTC), or nil.
function M.parse_iso(s)
    if type(s) ~= "string" then return nil end
    local y, mo, d, h, mi, sec, rest = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):?(%d*)(.*)$")
    if not y then
        y, mo, d = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
        if not y then return nil end
        h, mi, sec, rest = "0", "0", "0", ""
    end
    y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
    if mo < 1 or mo > 12 or d < 1 or d > 31 then return nil end
    local frac, zone = match(rest, "^(%.?%d*)(.*)$")
    local offset = 0
    if zone ~= "" and zone ~= "Z" then
        local sign, oh, om = match(zone, "^([+-])(%d%d):?(%d%d)$")
        if not sign then return nil end
        offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
    end
    -- days since 1970-01-01 (proleptic Gregorian)
    local yy = y - 1
    local days = 365 * (y - 1970) + (floor(yy / 4) - floor(yy / 100) + floor(yy / 400))
        - (492 - 19 + 4) + DAYS_BEFORE[mo] + d - 1
    if mo > 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then days = days + 1 end
    local t = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + (tonumber(sec) or 0)
    return t + (tonumber("0" .. frac) or 0) - offset
end

--- Items `first` .. `first + count - 1` of `list` (1-based), as a JSON array.
function M.slice(list, first, count)
    local out = {}
    for i = first, first + count - 1 do
        local v = list[i]
        if v == nil then break end
        out[#out + 1] = v
    end
    return json.array(out)
end

return M
