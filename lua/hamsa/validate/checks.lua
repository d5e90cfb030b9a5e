--- The building blocks of hamsa.validate: scalar predicates, and the
-- builders of checker closures (arrays, objects, enums, ranges) that its
-- rule sets are compiled from. A checker returns nothing on success, or
-- `suffix, tail` on failure (hamsa.validate explains both).
-- @module hamsa.validate.checks

local type, next, tostring, getmetatable = type, next, tostring, getmetatable
local floor, huge = math.floor, math.huge
local math_type = math.type
local find, byte, gsub = string.find, string.byte, string.gsub

local json = require("hamsa.core").json
local null, ARRAY_MT, OBJECT_MT = json.null, json.array_mt, json.object_mt

local M = {}

-- What each built checker checks, for hamsa.validate.fast, which compiles the same rules
-- into straight-line acceptors: checker -> { kind = ..., parameters }. Weak keys: the
-- descriptions live as long as their checkers. A checker with no description (a custom
-- one) is called as it is; one may describe itself as { kind = "accept", fn = f } with a
-- faster `f(v)` that returns true only where it returns nothing.
local describe = setmetatable({}, { __mode = "k" })

-- Deepest nesting followed inside values no rule covers (unknown fields, llmConfig): the
-- client refuses bodies nested deeper than 100 (`max_request_depth`) anyway, and failing at
-- the limit ends the walk of a cyclic table at once.
local MAX_FREE_DEPTH = 100

-- The ends of sentences about a table's form.
local FOREIGN = "must be a plain table or one marked by hamsa.array or hamsa.object"
    .. " (fields behind another metatable are not sent)"
local MARKED_ARRAY = "must be an object, not a table marked as an array (by hamsa.array or"
    .. " by decoding [])"
local MARKED_OBJECT = "must be an array, not a table marked by hamsa.object"
local ARRAY_KEYS = "is marked as an array, so only its elements 1 to n would be sent:"
    .. " it must have no other keys"

-- Whole numbers that go out as digits and that every JSON reader takes exactly: at most
-- 2^53 in magnitude (beyond, doubles skip integers, and a JavaScript server rounds). On Lua
-- 5.3+ a float from 1e15 up goes out in exponent form (`1e+15`, as Lua prints it) even
-- below 2^53; 5.1, 5.2 and LuaJIT write every whole double up to 2^53 as digits.
local MAX_INTEGER, MAX_INTEGER_TEXT = 2 ^ 53, "9007199254740992"
local FLOAT_DIGITS = 1e15

-- Scalar predicates ------------------------------------------------------------------------

local function is_finite(v)
    return v == v and v ~= huge and v ~= -huge
end

local function is_integer(v)
    if type(v) ~= "number" then return false end
    if math_type and math_type(v) == "integer" then return true end
    return is_finite(v) and v == floor(v)
end

local function is_blank(s)
    return not find(s, "%S")
end

--- Whether `s` is an E.164 phone number: `+`, then 7 to 15 digits, the first not 0.
-- @param s any value
-- @treturn boolean
local function is_e164(s)
    if type(s) ~= "string" then return false end
    local n = #s
    return n >= 8 and n <= 16 and find(s, "^%+[1-9]%d+$") ~= nil
end

-- An https URL with a host: scheme case-insensitive, no whitespace anywhere, optional
-- user info and port. One anchored match with position captures: no new strings.
local function is_https_url(s)
    local _, _, host, stop = find(s, "^[Hh][Tt][Tt][Pp][Ss]://()[^/?#%s]*()%S*$")
    if not host then return false end
    local at = find(s, "@", host, true)
    while at and at < stop do
        host = at + 1
        at = find(s, "@", host, true)
    end
    return host < stop and byte(s, host) ~= 58 -- ":" (a port without a host)
end

-- An IANA-looking zone name: "UTC", "Asia/Dubai", "America/Port-au-Prince", "Etc/GMT+4".
-- Anchored finds from position to position: no substring is made (saves two strings a call).
local function is_timezone(s)
    local _, stop = find(s, "^[A-Za-z][%w_+%-]*")
    if not stop then return false end
    local n = #s
    while stop < n do
        _, stop = find(s, "^/[%w_+%-]+", stop + 1)
        if not stop then return false end
    end
    return true
end

-- `pred` with a memory of the strings it accepted: a body repeats the same webhook URL and
-- time zone request after request, and the patterns cost thousands of instructions where a
-- table read costs a few. Only acceptances are kept (a string is a value: the answer
-- cannot change), at most MEMO_MAX at a time, forgotten all at once when full.
local MEMO_MAX = 64
local function remembered(pred)
    local seen, n = {}, 0
    return function(s)
        if seen[s] then return true end
        if not pred(s) then return false end
        if n >= MEMO_MAX then seen, n = {}, 0 end
        seen[s] = true
        n = n + 1
        return true
    end
end
is_https_url = remembered(is_https_url)
is_timezone = remembered(is_timezone)

-- Checker builders -------------------------------------------------------------------------

-- Records `desc` for `check` and returns `check`.
local function described(check, desc)
    describe[check] = desc
    return check
end

local function check_string(v)
    if type(v) ~= "string" then return "", "must be a string" end
end

local function check_nonempty(v)
    if type(v) ~= "string" or is_blank(v) then return "", "must be a non-empty string" end
end

local function check_boolean(v)
    if type(v) ~= "boolean" then return "", "must be a boolean" end
end

local function check_e164(v)
    if not is_e164(v) then
        return "", "must be an E.164 phone number such as +971501234567"
    end
end

local function check_https(v)
    if type(v) ~= "string" or not is_https_url(v) then
        return "", "must be an https:// URL with a host"
    end
end

local function check_timezone(v)
    if type(v) ~= "string" or not is_timezone(v) then
        return "", "must be an IANA time zone name such as Asia/Dubai or UTC"
    end
end

-- An integer from `min` up to 2^53, sent as digits on every Lua.
local function integer_min(min)
    local tail = "must be an integer from " .. min .. " to " .. MAX_INTEGER_TEXT
    local float_tail = tail .. ", as a Lua integer: a float from 1e15 up is sent in exponent"
        .. " form (use math.tointeger)"
    if min < -MAX_INTEGER then min = -MAX_INTEGER end
    return described(function(v)
        if not is_integer(v) or v < min or v > MAX_INTEGER then return "", tail end
        if (v >= FLOAT_DIGITS or v <= -FLOAT_DIGITS) and math_type and math_type(v) == "float" then
            return "", float_tail
        end
    end, { kind = "integer_min", min = min })
end

-- An integer from `lo` to `hi`, two small bounds (well inside 2^53 and 1e15).
local function integer_range(lo, hi)
    local tail = "must be an integer from " .. lo .. " to " .. hi
    return described(function(v)
        if not is_integer(v) or v < lo or v > hi then return "", tail end
    end, { kind = "integer_range", lo = lo, hi = hi })
end

-- A string of `min` to `max` characters, counted as UTF-8 characters (an Arabic letter
-- counts once, not as its two bytes); the encoder refuses text that is not UTF-8.
local function string_length(min, max)
    local tail = "must be a string of " .. min .. " to " .. max .. " characters"
    return function(v)
        if type(v) ~= "string" then return "", tail end
        local _, n = gsub(v, "[^\128-\191]", "")   -- every byte that starts a character
        if n < min or n > max then return "", tail end
    end
end

local function number_positive(v)
    if type(v) ~= "number" or not is_finite(v) or v <= 0 then
        return "", "must be a number > 0"
    end
end

local function number_range(lo, hi)
    local tail = "must be a number from " .. lo .. " to " .. hi
    return described(function(v)
        if type(v) ~= "number" or not (v >= lo and v <= hi) then return "", tail end
    end, { kind = "number_range", lo = lo, hi = hi })
end

-- `words` are the allowed strings, quoted in the message: "ar" or "en".
local function enum(...)
    local set, words = {}, { ... }
    for i = 1, #words do
        set[words[i]] = true
        words[i] = '"' .. words[i] .. '"'
    end
    local tail = "must be " .. table.concat(words, ", ", 1, #words - 1)
        .. (#words > 2 and "," or "") .. " or " .. words[#words]
    return described(function(v)
        if not set[v] then return "", tail end
    end, { kind = "enum", set = set })
end

-- "[i]" prefixed to an element's own suffix.
local function index_path(i, s)
    return "[" .. tostring(i) .. "]" .. s
end

-- An array: unmarked or array-marked, keys exactly 1..n (or empty, unless `nonempty`),
-- then every element through `elem`.
local function array_of(elem, nonempty)
    local strings = elem == check_string    -- checked inline: saves a call per element
    return described(function(t)
        if type(t) ~= "table" then return "", "must be an array" end
        local mt = getmetatable(t)
        if mt ~= nil and mt ~= ARRAY_MT then return "", mt == OBJECT_MT and MARKED_OBJECT or FOREIGN end
        local n = 0
        for _ in next, t do n = n + 1 end
        if n == 0 and nonempty then return "", "must be a non-empty array" end
        -- n keys, and 1..n all present: then there is no other key
        for i = 1, n do
            local v = t[i]
            if v == nil then return "", "must be an array" end
            if strings then
                if type(v) ~= "string" then return index_path(i, ""), "must be a string" end
            else
                local s, tail = elem(v)
                if s then return index_path(i, s), tail end
            end
        end
    end, { kind = "array", elem = elem, nonempty = nonempty })
end

-- nil when `t` goes out as an object (unmarked or object-marked, and not a sequence: the
-- common mistake, rejected at once), else the end of the sentence.
local function object_tail(t)
    if type(t) ~= "table" then return "must be an object" end
    local mt = getmetatable(t)
    if mt ~= nil and mt ~= OBJECT_MT then return mt == ARRAY_MT and MARKED_ARRAY or FOREIGN end
    if t[1] ~= nil then return "must be an object" end
end

-- "[k]" or ".k" prefixed to a suffix, for a key of a value no rule covers.
local function key_path(k, s)
    if type(k) == "string" then return "." .. k .. s end
    return index_path(k, s)
end

-- A table no rule covers (an unknown field's, llmConfig's): only what the encoder would
-- change without a word is refused, namely a foreign metatable, and keys of an
-- array-marked table outside its elements 1..n. Other faults (a function, a mixed table)
-- make the encoder fail loudly.
local function check_free(t, depth)
    local mt = getmetatable(t)
    local n
    if mt == ARRAY_MT then
        n = #t
    elseif mt ~= nil and mt ~= OBJECT_MT then
        return "", FOREIGN
    end
    if depth > MAX_FREE_DEPTH then return "", "is nested too deeply" end
    for k, v in next, t do
        if n and not (type(k) == "number" and k >= 1 and k <= n and k == floor(k)) then
            return "", ARRAY_KEYS
        end
        if type(v) == "table" then
            local s, tail = check_free(v, depth + 1)
            if s then return key_path(k, s), tail end
        end
    end
end

-- An object whose known keys have checkers; other string keys pass. `required` lists keys
-- that must be present; `nonnull` marks keys whose `null` is refused (optional keys take it).
local function object_of(fields, required, nonnull)
    nonnull = nonnull or {}
    -- plain string and boolean fields are checked inline: saves a call (and, for booleans,
    -- the type() call) per field; a key with a checker is a string, so only others need type(k)
    local kinds = {}
    for k, check in next, fields do
        kinds[k] = check == check_string and "string" or check == check_boolean and "boolean" or nil
    end
    return described(function(t)
        if type(t) ~= "table" then return "", "must be an object" end
        local mt = getmetatable(t)
        if mt ~= nil and mt ~= OBJECT_MT then return "", mt == ARRAY_MT and MARKED_ARRAY or FOREIGN end
        if t[1] ~= nil then return "", "must be an object" end
        for k, v in next, t do
            local kind = kinds[k]
            if kind == "boolean" then
                if v ~= true and v ~= false and (v ~= null or nonnull[k]) then return "." .. k, "must be a boolean" end
            elseif kind then
                if type(v) ~= "string" and (v ~= null or nonnull[k]) then return "." .. k, "must be a string" end
            else
                local check = fields[k]
                if check then
                    if v ~= null or nonnull[k] then
                        local s, tail = check(v)
                        if s then return "." .. k .. s, tail end
                    end
                elseif type(k) ~= "string" then
                    return "", "must be an object"
                elseif type(v) == "table" then
                    local s, tail = check_free(v, 1)
                    if s then return "." .. k .. s, tail end
                end
            end
        end
        if required then
            for i = 1, #required do
                local k = required[i]
                if t[k] == nil then return "." .. k, "is required" end
            end
        end
    end, { kind = "object", fields = fields, required = required, nonnull = nonnull })
end

-- An object of any content (llmConfig).
local check_any_object = object_of({})

describe[check_string] = { kind = "string" }
describe[check_nonempty] = { kind = "nonempty" }
describe[check_boolean] = { kind = "boolean" }
describe[number_positive] = { kind = "number_positive" }

M.describe = describe
M.is_finite = is_finite
M.is_integer = is_integer
M.is_e164 = is_e164
M.check_string = check_string
M.check_nonempty = check_nonempty
M.check_boolean = check_boolean
M.check_e164 = check_e164
M.check_https = check_https
M.check_timezone = check_timezone
M.integer_min = integer_min
M.integer_range = integer_range
M.string_length = string_length
M.number_positive = number_positive
M.number_range = number_range
M.enum = enum
M.array_of = array_of
M.object_tail = object_tail
M.check_free = check_free
M.object_of = object_of
M.check_any_object = check_any_object

return M
