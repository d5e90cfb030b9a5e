--- Strings and JSON values in and out of the mock: percent-decoding,
-- query strings, telling a decoded object from an array, and making any
-- bytes fit in JSON (UTF-8 repair, base64) for the request log and for
-- messages that quote a request's path.
-- @module hamsa.mock.text
-- @license MIT

local json = require("hamsa.core").json

local concat = table.concat
local byte, char, find, gmatch, gsub, match, sub =
    string.byte, string.char, string.find, string.gmatch, string.gsub, string.match, string.sub
local floor = math.floor
local getmetatable, tonumber, type = getmetatable, tonumber, type
local array_mt = json.array_mt

local M = {}

--- `s` with every `%XX` decoded (a `+` stays a `+`).
function M.unescape(s)
    return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

--- The fields of a query string (`a=1&b=%20`): `+` is a space, the first
-- of repeated names wins.
-- @treturn table name -> value
function M.parse_query(q)
    local t = {}
    for pair in gmatch(q, "[^&]+") do
        local k, v = match(pair, "^([^=]*)=?(.*)$")
        k = M.unescape((gsub(k, "+", " ")))
        if t[k] == nil then t[k] = M.unescape((gsub(v, "+", " "))) end
    end
    return t
end

--- Every value of each name in a query string, in order (`status=A&status=B`
-- gives `{ status = { "A", "B" } }`); `+` is a space.
-- @treturn table name -> list of values
function M.parse_query_all(q)
    local t = {}
    for pair in gmatch(q, "[^&]+") do
        local k, v = match(pair, "^([^=]*)=?(.*)$")
        k = M.unescape((gsub(k, "+", " ")))
        local list = t[k] or {}
        list[#list + 1] = M.unescape((gsub(v, "+", " ")))
        t[k] = list
    end
    return t
end

--- Whether `v`, decoded from JSON, is an object.
function M.is_object(v)
    return type(v) == "table" and #v == 0 and getmetatable(v) ~= array_mt
end

-- Length of the well-formed UTF-8 sequence at s[i] (a byte >= 0x80), or 0:
-- the rules of the JSON encoder (RFC 3629: no overlong forms, surrogates or
-- code points above U+10FFFF).
local function utf8_seq(s, i)
    local c, c1, c2, c3 = byte(s, i, i + 3)
    local cont2 = c2 and c2 >= 0x80 and c2 <= 0xBF
    if c < 0xC2 or not c1 then return 0 end
    if c < 0xE0 then return (c1 >= 0x80 and c1 <= 0xBF) and 2 or 0 end
    local lo, hi = 0x80, 0xBF
    if c < 0xF0 then
        if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
        return (c1 >= lo and c1 <= hi and cont2) and 3 or 0
    end
    if c < 0xF5 then
        if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
        return (c1 >= lo and c1 <= hi and cont2 and c3 and c3 >= 0x80 and c3 <= 0xBF) and 4 or 0
    end
    return 0
end

--- `s` and true when `s` is valid UTF-8 (it encodes as a JSON string);
-- else a copy with every byte that starts no valid sequence replaced by
-- U+FFFD, and false.
function M.utf8(s)
    if not find(s, "[\128-\255]") or json.encode(s) then return s, true end
    local out, start, i = {}, 1, 1
    while true do
        i = find(s, "[\128-\255]", i)
        if not i then break end
        local n = utf8_seq(s, i)
        if n > 0 then
            i = i + n
        else
            out[#out + 1] = sub(s, start, i - 1)
            out[#out + 1] = "\239\191\189"
            i = i + 1
            start = i
        end
    end
    out[#out + 1] = sub(s, start)
    return concat(out), false
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_PAIRS = {}   -- 12 bits -> two base64 digits
for v = 0, 4095 do
    local a, b = floor(v / 64) + 1, v % 64 + 1
    B64_PAIRS[v] = sub(B64, a, a) .. sub(B64, b, b)
end

--- `s` in base64 (RFC 4648, padded).
function M.base64(s)
    local out, n = {}, #s
    local full = n - n % 3
    for i = 1, full, 3 do
        local a, b, c = byte(s, i, i + 2)
        local v = a * 65536 + b * 256 + c
        out[#out + 1] = B64_PAIRS[floor(v / 4096)] .. B64_PAIRS[v % 4096]
    end
    if n > full then   -- one or two bytes left: pad to four digits
        local a, b = byte(s, full + 1, n)
        local v = a * 65536 + (b or 0) * 256
        local tail = B64_PAIRS[floor(v / 4096)] .. B64_PAIRS[v % 4096]
        out[#out + 1] = sub(tail, 1, b and 3 or 2) .. (b and "=" or "==")
    end
    return concat(out)
end

return M
