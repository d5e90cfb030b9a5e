--- URL pieces: percent-encoding of path segments and query values.
-- Ids are never concatenated raw into a path (a "../" or "?" in an id
-- must not change the route).
-- @module hamsa.url
local format, byte, gsub, match, type, next, ipairs, rawget, sort, concat, assert =
    string.format, string.byte, string.gsub, string.match, type, next, ipairs, rawget, table.sort, table.concat,
    assert
local floor, huge, math_type, tostring = math.floor, math.huge, math.type, tostring
local encode = require("hamsa.core").json.encode

local M = {}

local function pct(c)
    return format("%%%02X", byte(c))
end

--- Percent-encodes everything but RFC 3986 unreserved characters.
function M.escape(s)
    return (gsub(s, "[^%w%-%._~]", pct))
end

-- One query value as text: strings as they are, booleans as true/false,
-- numbers in the codec's shortest exact form with integral values as
-- integers (take = 40/2 goes out as 20, not 20.0). Anything else is nil.
local function text(v)
    local tv = type(v)
    if tv == "string" then return v end
    if tv == "boolean" then return v and "true" or "false" end
    if tv == "number" then
        if math_type and math_type(v) == "integer" then return tostring(v) end
        if v ~= v or v == huge or v == -huge then return nil end
        if v == floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then return format("%.0f", v) end   -- exact
        return encode(v)
    end
    return nil
end

-- The keys of `q` sorted, or nil, message when one is not a string.
local function sorted_keys(q)
    local keys = {}
    for k in next, q do
        if type(k) ~= "string" then return nil, "query keys must be strings (got a " .. type(k) .. ")" end
        keys[#keys + 1] = k
    end
    sort(keys)
    return keys
end

-- Whether `t` is a list: keys 1..n and no other (read raw, like the encoder).
local function is_list(t)
    local n = 0
    for _ in next, t do n = n + 1 end
    for i = 1, n do
        if rawget(t, i) == nil then return false end
    end
    return true
end

--- Checks a query table: string keys; values that are strings, finite
-- numbers, booleans, or lists of those (a list repeats the key:
-- `status = {"COMPLETED", "FAILED"}`). `hamsa.null`, nested tables, NaN
-- and the like are misuse.
-- @treturn string|nil a message naming the key, or nil when it is fine
function M.check_query(q)
    local keys, err = sorted_keys(q)
    if not keys then return err end
    for _, k in ipairs(keys) do
        local v = rawget(q, k)
        if type(v) == "table" then
            if not is_list(v) then return format("query.%s must be a value or a list of values", k) end
            for i = 1, #v do
                if not text(rawget(v, i)) then
                    return format("query.%s[%d] must be a string, a finite number or a boolean", k, i)
                end
            end
        elseif not text(v) then
            return format("query.%s must be a string, a finite number, a boolean or a list of them", k)
        end
    end
    return nil
end

--- Builds "a=1&b=x%20y" from a checked table (see check_query), keys
-- sorted; a list value repeats the key: `status=A&status=B`.
function M.query(q)
    local keys = assert(sorted_keys(q))
    local out = {}
    for _, k in ipairs(keys) do
        local v = rawget(q, k)
        local ek = M.escape(k)
        if type(v) == "table" then
            for i = 1, #v do
                out[#out + 1] = ek .. "=" .. M.escape(assert(text(rawget(v, i)), "query value"))
            end
        else
            out[#out + 1] = ek .. "=" .. M.escape(assert(text(v), "query value"))
        end
    end
    return concat(out, "&")
end

--- Splits a base URL: scheme, host, and the base path without a trailing "/".
-- @treturn string|nil scheme ("http" or "https"), or nil when malformed
function M.parse_base(u)
    local scheme, authority, path = match(u, "^(%a[%w+.-]*)://([^/?#]+)([^?#]*)$")
    if not scheme then return nil end
    scheme = scheme:lower()
    if scheme ~= "http" and scheme ~= "https" then return nil end
    if match(authority, "@") then return nil end         -- no credentials in URLs
    local host = match(authority, "^%[([%x:.]+)%]") or match(authority, "^([^:]+)")
    if not host or host == "" then return nil end
    path = gsub(path, "/+$", "")
    return scheme, host:lower(), path
end

--- Whether a host name is this machine (plain HTTP is acceptable there).
function M.is_loopback(host)
    return host == "localhost" or host == "::1" or match(host, "^127%.%d+%.%d+%.%d+$") ~= nil
end

return M
