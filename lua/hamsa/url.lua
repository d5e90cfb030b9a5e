--- URL pieces: percent-encoding of path segments and query values.
-- Ids are never concatenated raw into a path (a "../" or "?" in an id
-- must not change the route).
-- @module hamsa.url
local format, byte, gsub, match, type, next, ipairs, rawget, sort, concat =
    string.format, string.byte, string.gsub, string.match, type, next, ipairs, rawget, table.sort, table.concat
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

--- Builds "a=1&b=x%20y" from a table, keys sorted, in one walk that also
-- checks it: string keys; values that are strings, finite numbers, booleans,
-- or lists of those (a list repeats the key: `status = {"COMPLETED",
-- "FAILED"}` is `status=COMPLETED&status=FAILED`). `hamsa.null`, nested
-- tables, NaN and the like are misuse.
-- @treturn[1] string
-- @treturn[2] nil
-- @treturn[2] string a message naming the key
function M.query(q)
    local keys, err = sorted_keys(q)
    if not keys then return nil, err end
    local out = {}
    for _, k in ipairs(keys) do
        local v = rawget(q, k)
        local ek = M.escape(k)
        if type(v) == "table" then
            if not is_list(v) then return nil, format("query.%s must be a value or a list of values", k) end
            for i = 1, #v do
                local x = text(rawget(v, i))
                if not x then
                    return nil, format("query.%s[%d] must be a string, a finite number or a boolean", k, i)
                end
                out[#out + 1] = ek .. "=" .. M.escape(x)
            end
        else
            local x = text(v)
            if not x then
                return nil, format("query.%s must be a string, a finite number, a boolean or a list of them", k)
            end
            out[#out + 1] = ek .. "=" .. M.escape(x)
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
