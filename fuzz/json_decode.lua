-- The check behind fuzz/json_decode.c: any bytes go to json.decode.
--   * failure is (nil, message, offset) with 1 <= offset <= #input + 1;
--   * a value encodes again (only a number beyond the double range, which
--     decodes to +-inf, may be refused, and then with "infinity"), and that
--     JSON decodes to the same value: same types, same marks, equal numbers.
local json = require("hamsa.core").json
local decode, encode = json.decode, json.encode
local type, getmetatable, next, tostring, assert = type, getmetatable, next, tostring, assert
local math_type, find = math.type, string.find

local function same(a, b)
    if type(a) ~= type(b) then return false end
    if type(a) == "number" then
        -- 1.0 is written "1" and reads back as an integer: equal, not identical
        if a ~= b then return false end
        if math_type(a) == "float" and a == 0 then return (1 / a) == (1 / b) end   -- -0 stays -0
        return true
    end
    if type(a) ~= "table" then return a == b end
    if getmetatable(a) ~= getmetatable(b) then return false end
    for k, v in next, a do
        if not same(v, b[k]) then return false end
    end
    for k in next, b do
        if a[k] == nil then return false end
    end
    return true
end

return function(s)
    local v, err, at = decode(s)
    if v == nil then
        assert(type(err) == "string" and find(err, "^json: "), "bad error message: " .. tostring(err))
        assert(math_type(at) == "integer" and at >= 1 and at <= #s + 1, "bad offset " .. tostring(at))
        return
    end
    local text, eerr = encode(v)
    if not text then
        assert(find(eerr, "infinity", 1, true), "decoded but cannot encode: " .. tostring(eerr))
        return
    end
    local again, derr = decode(text)
    assert(again ~= nil, "encode produced JSON that does not decode: " .. tostring(derr))
    assert(same(v, again), "decode(encode(v)) differs from v for " .. text)
end
