-- The check behind fuzz/json_encode.c: the input bytes are a little program
-- that builds a Lua value (every kind the encoder may meet, including the
-- ones it must refuse), then:
--   * encode never raises: it returns a string, or nil and a message;
--   * a string is JSON that decodes to the same value (nil holes of a marked
--     array read back as null; 800.0 reads back as 800);
--   * a value built only from encodable parts always encodes.
local json = require("hamsa.core").json
local encode, decode, null, array, object = json.encode, json.decode, json.null, json.array, json.object
local byte, sub, unpack_, char = string.byte, string.sub, string.unpack, string.char
local type, next, pcall, tostring, assert, getmetatable = type, next, pcall, tostring, assert, getmetatable
local math_type, huge, utf8_len, rawlen = math.type, math.huge, utf8.len, rawlen

local s, pos, ok_value

local function u8()
    local b = byte(s, pos) or 0
    pos = pos + 1
    return b
end

local function bytes(n)
    local b = sub(s, pos, pos + n - 1)
    pos = pos + n
    return b
end

local function str()
    local b = bytes(u8() % 40)
    if utf8_len(b) == nil then ok_value = false end     -- invalid UTF-8: must be refused
    return b
end

local gen

local function fill_array(t, depth)
    for i = 1, u8() % 6 do t[i] = gen(depth + 1) end
    return t
end

local function fill_object(t, depth)
    for _ = 1, u8() % 6 do
        local k = str()
        if t[k] == nil then t[k] = gen(depth + 1) end
    end
    return t
end

function gen(depth)
    local op = u8() % 20
    if depth > 12 and op >= 10 then op = op % 10 end      -- keep most values small
    if op == 0 then return true
    elseif op == 1 then return false
    elseif op == 2 then return null
    elseif op == 3 then return u8() - 128
    elseif op == 4 then                                  -- any 64-bit integer
        local b = bytes(8)
        if #b < 8 then return 7 end
        return (unpack_("<i8", b))
    elseif op == 5 then                                  -- any double, NaN and inf included
        local b = bytes(8)
        if #b < 8 then return 0.5 end
        local d = unpack_("<d", b)
        if d ~= d or d == huge or d == -huge then ok_value = false end
        return d
    elseif op == 6 then return (u8() - 128) / 8          -- short floats, 800.0 style
    elseif op == 7 or op == 8 then return str()
    elseif op == 9 then return char(u8() % 32)           -- control characters
    elseif op == 10 then
        local t = fill_array({}, depth)
        if #t == 0 and next(t) == nil then return t end  -- {} encodes as {}
        for i = 1, #t do if t[i] == nil then ok_value = false end end
        return t
    elseif op == 11 then return fill_object({}, depth)
    elseif op == 12 then                                 -- marked array, holes read back as null
        local t = array({})
        for i = 1, u8() % 6 do
            if u8() % 3 == 0 then t[i] = nil else t[i] = gen(depth + 1) end
        end
        return t
    elseif op == 13 then return object(fill_object({}, depth))
    elseif op == 14 then                                 -- mixed or odd keys: refused
        ok_value = false
        local t = fill_array({}, depth)
        local k = u8() % 4
        if k == 0 then t.x = 1 elseif k == 1 then t[1.5] = 1 elseif k == 2 then t[true] = 1 else t[0] = 1 end
        return t
    elseif op == 15 then                                 -- a cycle: refused
        ok_value = false
        local t = {}
        t[1] = t
        return u8() % 2 == 0 and t or { a = { b = t } }
    elseif op == 16 then                                 -- values JSON has no form for: refused
        ok_value = false
        local k = u8() % 3
        if k == 0 then return print elseif k == 1 then return io.stdout else return coroutine.create(print) end
    elseif op == 17 then                                 -- deep nesting around one value
        local n = u8() * 5                               -- up to 1275: over the limit too
        local v = gen(depth + 1)
        for _ = 1, n do v = { v } end
        return v
    elseif op == 18 then                                 -- sparse array: refused
        ok_value = false
        return { [1] = 1, [3] = 3 }
    else
        return fill_array(array({}), depth)
    end
end

-- Decoded JSON against the value that was encoded.
local function same(v, d)
    if v == nil then return d == null end
    if type(v) == "number" then
        return type(d) == "number" and (v == d or (math_type(v) == "float" and v == 0 and d == 0))
    end
    if type(v) ~= "table" then return v == d end
    if type(d) ~= "table" then return false end
    if getmetatable(v) == json.array_mt or (next(v) ~= nil and getmetatable(v) ~= json.object_mt and v[1] ~= nil) then
        local n = #v
        if getmetatable(v) == json.array_mt then n = rawlen(v) end
        if #d ~= n then return false end
        for i = 1, n do if not same(v[i], d[i]) then return false end end
        return true
    end
    for k, x in next, v do if not same(x, d[k]) then return false end end
    for k in next, d do if v[k] == nil then return false end end
    return true
end

-- Tables nested in v (v itself counts 1); a cycle adds nothing more.
local function nesting(v, seen)
    if type(v) ~= "table" or seen[v] then return 0 end
    seen[v] = true
    local m = 0
    for _, x in next, v do
        local d = nesting(x, seen)
        if d > m then m = d end
    end
    seen[v] = nil
    return m + 1
end

return function(input)
    s, pos, ok_value = input, 1, true
    local v = gen(0)
    if nesting(v, {}) > 1000 then ok_value = false end   -- the encoder's limit
    local okc, text, err = pcall(encode, v)
    assert(okc, "encode raised: " .. tostring(text))
    if text == nil then
        assert(type(err) == "string", "encode failed without a message")
        assert(not ok_value, "refused an encodable value: " .. err)
        return
    end
    assert(type(text) == "string", "encode returned a " .. type(text))
    local d, derr = decode(text)
    assert(d ~= nil, "encode produced JSON that does not decode: " .. tostring(derr) .. " in " .. text)
    assert(same(v, d), "decode(encode(v)) differs from v: " .. text)
end
