-- fuzz/envelope.lua: the envelope mode of the response harness: a list of
-- choices (bytes) -> one HTTP response of the Hamsa API, mostly an error.
-- Plain Lua 5.4, no other module: fuzz/response.lua builds the response for
-- each input with it, fuzz/envelope-seeds.lua writes the seed corpus with
-- its lists.
--
--     local envelope = dofile("fuzz/envelope.lua")
--     local post, response = envelope.build(choices)   -- choices: a string
--
-- The choices, in order: the method (even byte: POST create, odd: GET),
-- the status (2 bytes: under 128 first, one of STATUSES; else 200 to 599),
-- version and reason, framing (content-length, chunked, close-delimited,
-- a content-length too large), headers (a count, then a name and a value
-- each, from HEADERS: Retry-After and Retry-After-Ms with odd values, an
-- echo of the key...), the body's form (an envelope, one value, nothing, a
-- cut envelope, an envelope with more bytes after it), then the value of
-- each of FIELDS: success, message, messageKey, data, error, then extra
-- fields (a key and a value each) to the end of the choices. A choice past
-- the end is 0, so every string builds a response.
--
-- A value is a small prefix code, so that a seed can be written by hand; a
-- byte that is no tag stands for the tag at its value modulo #TAGS:
--   -  absent        s<i>  STRINGS[i]    L<k>  a string of 64*k+1 bytes
--   n<i> NUMBERS[i]  t  true  f  false   z  null
--   [ value* ]       an array (up to 16 values; ends with the input too)
--   { (<k> value)* } an object, keys KEYS[k] (duplicates happen)
--   d<k><o>          4*k+1 levels of arrays (o even) or objects (o odd)
--                    around "deep": past 250 levels the codec's limit of
--                    1000 comes into reach
-- (i, k and o are bytes, taken modulo the length of their list.) Inside an
-- array or an object, a value nests at most 8 deep; deeper ones are empty.
local byte, sub, rep, format = string.byte, string.sub, string.rep, string.format
local concat, ipairs = table.concat, ipairs

local M = {}

M.KEY = "FUZZ-KEY-5eb1c0de"       -- the harness client's API key
local KEY = M.KEY

M.STRINGS = {
    '"x"', '""', '"Agent not found"', '"\u{645}\u{631}\u{62D}\u{628}\u{627}"', '"\\u0000"',
    '"a\\nb\\t\\"c\\""', '"\\ud800"', '"\\ud83d\\ude00"', '"%s %d %%"', '"' .. KEY .. '"',
    '"Token ' .. KEY .. '"', '"\255\254"', '"1"', '"true"', '"null"', '"[1]"', '"false"',
}
M.NUMBERS = {
    "0", "1", "-1", "404", "1.5", "-0", "0.0", "1e308", "1e400", "-1e400", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "1e-400", "12345678901234567890123", "2.5e-3",
}
M.KEYS = {
    '"a"', '"message"', '"messageKey"', '"success"', '"data"', '"error"', '"errors"', '"field"',
    '""', '"\u{E9}"', '"__index"', '"1"', '"0"', '"status"',
}
M.TAGS = { "-", "s", "L", "n", "t", "f", "z", "[", "{", "d" }
-- header name -> odd values for it
M.HEADERS = {
    { "Retry-After", { "1", "0", "-1", "1.5", "", " 7 ", "99999999999999999999", "1e3", "0x10", "NaN",
        "inf", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT", "Sun, 00 Jan 2024 99:99:99 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994", "garbage", "1, 2", "3600", ".", "1.2.3" } },
    { "Retry-After-Ms", { "250", "-5", "0x10", "1e999", "nan", "inf", "-0", "1.5", "", "abc" } },
    { "Content-Type", { "application/json", "application/json; charset=utf-8", "text/html", "",
        "application/problem+json", "application/json; charset=latin1" } },
    { "X-Echo", { "Token " .. KEY, KEY, "Bearer " .. KEY } },
    { "X-Request-Id", { "abc", "", "\t", rep("r", 300) } },
    { "Content-Encoding", { "identity", "gzip", "br", "x-unknown" } },
    { "Set-Cookie", { "a=b", "a=" .. KEY } },
    { "Location", { "http://127.0.0.1:9/v1/voice-agents", "/", "" } },
}
M.STATUSES = { 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504 }
M.REASONS = { "OK", "", "Error", "Strange \u{DC}nicode Reason" }   -- and none at all
M.FIELDS = { "success", "message", "messageKey", "data", "error" }

local STRINGS, NUMBERS, KEYS, TAGS, HEADERS = M.STRINGS, M.NUMBERS, M.KEYS, M.TAGS, M.HEADERS
local IS_TAG = {}
for _, t in ipairs(TAGS) do IS_TAG[byte(t)] = t end

-- the next choice (0 once they are used up), and whether there was one
local function next_byte(r)
    local b = byte(r.s, r.i)
    r.i = r.i + 1
    return b or 0, b ~= nil
end

local function pick(r, list)
    return list[next_byte(r) % #list + 1]
end

local function more(r) return r.i <= #r.s end

local value

local function array(r, depth, out)
    out[#out + 1] = "["
    local n = 0
    while more(r) and n < 16 do
        if byte(r.s, r.i) == 93 then r.i = r.i + 1 break end   -- ]
        local v = value(r, depth + 1)
        if v then
            if n > 0 then out[#out + 1] = "," end
            out[#out + 1] = v
            n = n + 1
        end
    end
    out[#out + 1] = "]"
end

local function object(r, depth, out)
    out[#out + 1] = "{"
    local n = 0
    while more(r) and n < 16 do
        if byte(r.s, r.i) == 125 then r.i = r.i + 1 break end  -- }
        local k = pick(r, KEYS)
        local v = value(r, depth + 1) or "null"
        if n > 0 then out[#out + 1] = "," end
        out[#out + 1] = k .. ":" .. v
        n = n + 1
    end
    out[#out + 1] = "}"
end

-- One value as JSON text, or nil (absent).
function value(r, depth)
    local b, had = next_byte(r)
    if not had then return nil end
    local tag = IS_TAG[b] or TAGS[b % #TAGS + 1]
    if tag == "-" then return nil
    elseif tag == "s" then return pick(r, STRINGS)
    elseif tag == "L" then return '"' .. rep("m", 64 * next_byte(r) + 1) .. '"'
    elseif tag == "n" then return pick(r, NUMBERS)
    elseif tag == "t" then return "true"
    elseif tag == "f" then return "false"
    elseif tag == "z" then return "null"
    elseif tag == "d" then
        local levels, objects = 4 * next_byte(r) + 1, next_byte(r) % 2 == 1
        local open, close = objects and '{"a":' or "[", objects and "}" or "]"
        return rep(open, levels) .. '"deep"' .. rep(close, levels)
    end
    if depth >= 8 then return tag == "[" and "[]" or "{}" end
    local out = {}
    if tag == "[" then array(r, depth, out) else object(r, depth, out) end
    return concat(out)
end

--- The response that `choices` describe.
-- @tparam string choices
-- @treturn boolean whether it answers a POST create (else a GET)
-- @treturn string the raw HTTP response
function M.build(choices)
    local r = { s = choices, i = 1 }
    local post = next_byte(r) % 2 == 0
    local b1, b2 = next_byte(r), next_byte(r)
    local status = b1 < 128 and M.STATUSES[(b1 * 256 + b2) % #M.STATUSES + 1] or 200 + (b1 * 256 + b2) % 400
    local vr = next_byte(r)
    local version = vr % 2 == 0 and "HTTP/1.1" or "HTTP/1.0"
    local reason = M.REASONS[(vr >> 1) % (#M.REASONS + 1) + 1]
    local framing = next_byte(r) % 4
    local head = { reason and format("%s %d %s", version, status, reason) or format("%s %d", version, status) }
    for _ = 1, next_byte(r) % 6 do
        local h = pick(r, HEADERS)
        head[#head + 1] = h[1] .. ": " .. pick(r, h[2])
    end

    local form = next_byte(r) % 5
    local cut = form == 3 and next_byte(r) or nil
    local body = ""
    if form == 1 then
        body = value(r, 0) or ""
    elseif form ~= 2 then
        local out = {}
        for _, name in ipairs(M.FIELDS) do
            local v = value(r, 0)
            if v then out[#out + 1] = '"' .. name .. '":' .. v end
        end
        while more(r) do
            local k = pick(r, KEYS)
            out[#out + 1] = k .. ":" .. (value(r, 0) or "null")
        end
        body = "{" .. concat(out, ",") .. "}"
        if cut then body = sub(body, 1, #body * cut // 256) end
        if form == 4 then body = body .. ' {"success":true} ' end
    end

    if framing == 1 then
        head[#head + 1] = "Transfer-Encoding: chunked"
        local chunks, pos = {}, 1
        while pos <= #body do
            local piece = sub(body, pos, pos + (#chunks * 7 + 5) % 61)      -- 6, 13, ... bytes
            chunks[#chunks + 1] = format("%x\r\n%s\r\n", #piece, piece)
            pos = pos + #piece
        end
        body = concat(chunks) .. "0\r\n\r\n"
    elseif framing == 2 then
        head[#head + 1] = "Connection: close"
    else
        head[#head + 1] = "Content-Length: " .. (#body + (framing == 3 and 10 or 0))
    end
    return post, concat(head, "\r\n") .. "\r\n\r\n" .. body
end

return M
