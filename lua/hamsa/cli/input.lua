--- What the command line reads: JSON files, `KEY=VALUE` assignments on
-- dotted paths, times, and the API key file. Every failure here is a
-- `hamsa.cli` failure: `usage` (exit 2) for what the operator typed wrong,
-- `invalid` (exit 3) for a body that cannot be JSON.
-- @module hamsa.cli.input
local core = require "hamsa.core"
local errors = require "hamsa.errors"

local type, tonumber, tostring, error, pcall, ipairs, os_time = type, tonumber, tostring, error, pcall, ipairs, os.time
local floor = math.floor
local find, match, gsub, format = string.find, string.match, string.gsub, string.format
local decode, null, object, array = core.json.decode, core.json.null, core.json.object, core.json.array

local M = {}

--- Raises a usage failure (exit status 2) that `hamsa.cli` reports.
function M.usage(msg)
    error({ usage = msg }, 0)
end
local usage = M.usage

--- Raises an `invalid` failure (exit status 3) naming `field`.
function M.invalid(field, msg)
    error({ err = errors.invalid(field, msg) }, 0)
end

-- The whole text of a file, or of stdin for "-".
local function slurp(path, what)
    if path == "-" then return io.stdin:read("*a") end
    local f, err = io.open(path, "rb")
    if not f then usage(format("cannot read %s: %s", what, tostring(err))) end
    local text = f:read("*a")
    f:close()
    if text == nil then usage(format("cannot read %s %s", what, path)) end
    return text
end

--- The JSON object in file `path` ("-": stdin), for `flag` (its name in messages).
function M.json_file(path, flag)
    local text = slurp(path, flag .. " " .. path)
    local ok, v, err = pcall(decode, text)
    if not ok or v == nil then
        M.invalid(nil, format("%s %s is not JSON: %s", flag, path, tostring(ok and err or v)))
    end
    if type(v) ~= "table" then M.invalid(nil, format("%s %s must hold a JSON object", flag, path)) end
    return v
end

--- A value typed on the command line: JSON when it is JSON (`800`, `true`,
-- `null`, `[1,2]`, `{"a":1}`, `"007"`), else the text itself (`Sara`,
-- `+971501234567`).
function M.value(text)
    local ok, v = pcall(decode, text)
    if ok and v ~= nil then return v end
    return text
end

-- "a.b[2].c" as its steps: "a", "b", 2, "c" (indexes 1-based, as in
-- error fields); nil on a malformed path.
local function steps(path)
    local out = {}
    for part in (path .. "."):gmatch("([^.]*)%.") do
        local name, rest = match(part, "^([^%[%]]+)(.*)$")
        if not name then return nil end
        out[#out + 1] = name
        while rest ~= "" do
            local i, tail = match(rest, "^%[(%d+)%](.*)$")
            if not i or tonumber(i) < 1 then return nil end
            out[#out + 1] = tonumber(i)
            rest = tail
        end
    end
    return out
end

--- Sets `value` at the dotted `path` of `t`, making the tables on the way
-- (objects for names, arrays for `[n]`); `flag` names the option in messages.
function M.assign(t, path, value, flag)
    local s = steps(path)
    if not s then usage(format("%s %s: a path is names joined by dots, with [n] for array items (n from 1)",
        flag, path)) end
    for i = 1, #s do
        local k = s[i]
        if type(k) == "number" and k > #t + 1 then
            usage(format("%s %s: item %d of an array of %d: array items count from 1, without gaps",
                flag, path, k, #t))
        end
        if i == #s then break end
        local nxt = t[k]
        if nxt == nil or nxt == null then
            nxt = type(s[i + 1]) == "number" and array() or object()
            t[k] = nxt
        elseif type(nxt) ~= "table" then
            usage(format("%s %s: %s is not an object", flag, path, tostring(k)))
        end
        t = nxt
    end
    t[s[#s]] = value
end

--- Applies `KEY=VALUE` assignments to `t`: typed values (M.value), or raw
-- strings when `raw`.
function M.assignments(t, list, flag, raw)
    for _, item in ipairs(list or {}) do
        local key, text = match(item, "^([^=]+)=(.*)$")
        if not key then usage(format("%s %s: expected KEY=VALUE", flag, item)) end
        M.assign(t, key, raw and text or M.value(text), flag)
    end
    return t
end

--- A query table from `KEY=VALUE` items; a key given twice becomes a list
-- (`status=FAILED status=NO_ANSWER` is `status=FAILED&status=NO_ANSWER`).
function M.query(list, flag)
    local q = {}
    for _, item in ipairs(list or {}) do
        local key, text = match(item, "^([^=]+)=(.*)$")
        if not key then usage(format("%s %s: expected KEY=VALUE", flag, item)) end
        local v = M.value(text)
        if type(v) == "table" or v == null then v = text end   -- a query value is a scalar
        local old = q[key]
        if old == nil then
            q[key] = v
        elseif type(old) == "table" then
            old[#old + 1] = v
        else
            q[key] = { old, v }
        end
    end
    return q
end

-- Days since 1970-01-01 of a civil date: UTC without the host's time zone.
local days_from_civil = require("hamsa.retry").days_from_civil

-- Days in month `m` of year `y` (Gregorian).
local function days_in(y, m)
    if m == 2 then return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28 end
    return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

local UNIT = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }

--- A time as epoch milliseconds: digits (epoch ms as is), a duration ago
-- (`90s`, `30m`, `12h`, `2d`, `1w`), or a UTC date `YYYY-MM-DD[THH:MM[:SS]][Z]`.
-- `now` (seconds) defaults to the wall clock.
function M.time(text, flag, now)
    if find(text, "^%d+$") and #text <= 15 then return M.integer(tonumber(text)) end
    local n, unit = match(text, "^(%d+)([smhdw])$")
    if n and #n <= 9 then return M.integer(((now or os_time()) - tonumber(n) * UNIT[unit]) * 1000) end
    local y, mo, d, rest = match(text, "^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
    if y then
        local h, mi, s = 0, 0, 0
        if rest ~= "" and rest ~= "Z" then
            local hh, mm, ss = match(rest, "^[T ](%d%d):(%d%d):?(%d?%d?)Z?$")
            if not hh then y = nil else h, mi, s = tonumber(hh), tonumber(mm), tonumber(ss) or 0 end
        end
        y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
        if y and mo >= 1 and mo <= 12 and d >= 1 and d <= days_in(y, mo) and h < 24 and mi < 60 and s < 60 then
            return M.integer(((days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + s) * 1000)
        end
    end
    usage(format("%s %s: expected epoch milliseconds, a duration ago (30m, 12h, 2d) or a UTC date "
        .. "(2026-12-01 or 2026-12-01T18:00Z)", flag, text))
end

--- A whole number as an integer where the Lua has them (5.3+), so that it
-- goes out as `1733000000000`, never `1.733e+12`.
function M.integer(n)
    n = floor(n)
    return math.tointeger and math.tointeger(n) or n
end

--- A secret from the file given with `flag` (`path`: its first line,
-- surrounding blanks removed), else from the environment variable `env`;
-- nil when neither is set.
function M.secret(env, path, flag)
    if path then
        local text = slurp(path, flag .. " " .. path)
        local v = match(text, "^%s*([^\r\n]-)%s*\r?\n") or match(text, "^%s*(.-)%s*$")
        if v == "" then usage(flag .. " " .. path .. " is empty") end
        return v
    end
    local v = os.getenv(env)
    if v and v ~= "" then return (gsub(v, "^%s*(.-)%s*$", "%1")) end
    return nil
end

return M
