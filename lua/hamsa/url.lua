--- URL pieces: percent-encoding of path segments and query values.
-- Ids are never concatenated raw into a path (a "../" or "?" in an id
-- must not change the route).
-- @module hamsa.url
local format, byte, gsub, match, type, pairs, ipairs, sort, concat, tostring =
    string.format, string.byte, string.gsub, string.match, type, pairs, ipairs, table.sort, table.concat, tostring

local M = {}

local function pct(c)
    return format("%%%02X", byte(c))
end

--- Percent-encodes everything but RFC 3986 unreserved characters.
function M.escape(s)
    return (gsub(s, "[^%w%-%._~]", pct))
end

--- Builds "a=1&b=x%20y" from a table, keys sorted; an array value repeats
-- the key (`status = {"COMPLETED", "FAILED"}`).
function M.query(q)
    local keys = {}
    for k in pairs(q) do keys[#keys + 1] = k end
    sort(keys)
    local out = {}
    for _, k in ipairs(keys) do
        local v = q[k]
        if type(v) == "table" then
            for _, x in ipairs(v) do
                out[#out + 1] = M.escape(tostring(k)) .. "=" .. M.escape(tostring(x))
            end
        elseif v ~= nil and v ~= false then
            out[#out + 1] = M.escape(tostring(k)) .. "=" .. M.escape(tostring(v))
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
