-- 10-json_spec.lua: the JSON codec of hamsa.core (csrc/json.c), table-driven.
-- SPDX-License-Identifier: MIT
local json = require("hamsa.core").json
local null = json.null

-- Lua 5.1, 5.2 and LuaJIT have no integer subtype: every number is a double
-- there. The integer cases run on 5.3+; on the others, the `else` branch
-- in "decode" holds their rule (README, "JSON"): integers decode exactly
-- up to 2^53, beyond that to the nearest double.
local INTEGERS = math.type ~= nil

local function nest(n, open, close)
    return string.rep(open, n) .. "1" .. string.rep(close, n)
end

local function nested_tables(n)
    local t = {}
    local cur = t
    for _ = 2, n do
        cur[1] = {}
        cur = cur[1]
    end
    cur[1] = 1
    return t
end

-- A realistic agent body: nested objects, arrays of objects, Arabic text.
local function agent_payload()
    return {
        agentName = "مساعد المبيعات",
        greetingMessage = "مرحباً! كيف يمكنني مساعدتك اليوم؟",
        preamble = "أنت مساعد ودود.\nتحدث باللهجة السعودية \"بلطف\".",
        lang = "ar",
        silenceThreshold = 3,
        interrupt = true,
        temperature = 0.7,
        freeSlots = {
            { name = "customerName", type = "string", description = "اسم العميل", required = true },
            { name = "budget", type = "number", description = "الميزانية", required = false },
        },
        tools = {
            smartCallEnd = true,
            transfer = { enabled = false, number = "+966500000000" },
            webhooks = { { url = "https://example.com/h?a=1&b=2", headers = json.object() } },
        },
        pokeMessages = { "هل ما زلت معي؟", "🙂 hello" },
        params = { campaign = "ramadan", ids = { 9007199254740993, math.maxinteger or 2 ^ 53, -1 } },
        empty = json.array(),
        missing = null,
    }
end

describe("hamsa.json", function()

    describe("encode", function()
        local cases = {
            { "nil", nil, "null" },
            { "null", null, "null" },
            { "true", true, "true" },
            { "false", false, "false" },
            { "0", 0, "0" },
            { "-1", -1, "-1" },
            { "integral float 800.0", 800.0, "800" },
            { "negative integral float", -42.0, "-42" },
            { "negative zero", -1 / math.huge, "-0" },    -- Lua 5.1 reads -0.0 as 0
            { "0.1", 0.1, "0.1" },
            { "1/3", 1 / 3, "0.3333333333333333" },
            { "1e300", 1e300, "1e+300" },
            { "5e-324", 5e-324, "4.94065645841247e-324" },
            { "max double", 1.7976931348623157e308, "1.7976931348623157e+308" },
            { "1e15 (integral, large)", 1e15, INTEGERS and "1e+15" or "1000000000000000" },
            { "1.5", 1.5, "1.5" },
            { "empty string", "", '""' },
            { "quote, backslash, slash", 'a"b\\c/d', '"a\\"b\\\\c/d"' },
            { "short escapes", "\b\f\n\r\t", '"\\b\\f\\n\\r\\t"' },
            { "other controls", "\0\1\31", '"\\u0000\\u0001\\u001f"' },
            { "DEL stays raw", "\127", '"\127"' },
            { "Arabic raw", "مرحبا بالعالم", '"مرحبا بالعالم"' },
            { "emoji raw (4-byte)", "😀 ok", '"😀 ok"' },
            { "unmarked sequence", { 1, 2, 3 }, "[1,2,3]" },
            { "empty unmarked table", {}, "{}" },
            { "array()", json.array(), "[]" },
            { "object()", json.object(), "{}" },
            { "array-marked values", json.array({ 1, "a" }), '[1,"a"]' },
            { "array mark ignores non-index keys", json.array({ 1, 2, x = 3 }), "[1,2]" },
            -- LuaJIT's # stops at the hole (any border is a valid length)
            { "array mark writes holes as null", json.array({ 1, nil, 3 }),
              #{ 1, nil, 3 } == 3 and "[1,null,3]" or "[1]" },
            { "one-key object", { a = 1 }, '{"a":1}' },
            { "object-marked table", json.object({ key = "v" }), '{"key":"v"}' },
            { "null inside arrays", { null, 1, null }, "[null,1,null]" },
            { "nested empties", { json.array(), json.object(), {} }, "[[],{},{}]" },
            { "foreign metatable read raw", setmetatable({ 1, 2 }, { __index = function() return 9 end }), "[1,2]" },
            { "__len is not consulted", setmetatable({ 1, 2, 3 }, { __len = function() return 1 end }), "[1,2,3]" },
            { "__index is not consulted", setmetatable({}, { __index = { a = 1 } }), "{}" },
        }
        if INTEGERS then
            table.insert(cases, { "2^53+1 exactly", 9007199254740993, "9007199254740993" })
            table.insert(cases, { "math.maxinteger", math.maxinteger, "9223372036854775807" })
            table.insert(cases, { "math.mininteger", math.mininteger, "-9223372036854775808" })
        end
        for _, c in ipairs(cases) do
            it("encodes " .. c[1], function()
                assert.are.equal(c[3], (json.encode(c[2])))
            end)
        end

        local floats = { 0.1, 1 / 3, 1e300, 5e-324, 1.7976931348623157e308, math.pi, -1e-7,
                         123456789.123, 2 ^ 60 + 0.0, 4.35, 1e21 }
        for _, x in ipairs(floats) do
            it("reads float " .. string.format("%.17g", x) .. " back identical", function()
                local s = assert(json.encode(x))
                assert.are.equal(x, json.decode(s))
                assert.is_nil(s:find(",", 1, true))
            end)
        end

        local failures = {
            { "NaN", 0 / 0, "json: cannot encode NaN" },
            { "+Inf", math.huge, "json: cannot encode infinity" },
            { "-Inf inside a table", { x = -math.huge }, "json: cannot encode infinity at x" },
            { "overlong UTF-8", "\192\175", "json: cannot encode string with invalid UTF-8" },
            { "UTF-8 surrogate", "\237\160\128", "json: cannot encode string with invalid UTF-8" },
            { "beyond U+10FFFF", "\244\144\128\128", "json: cannot encode string with invalid UTF-8" },
            { "truncated UTF-8", "ok \226\130", "json: cannot encode string with invalid UTF-8" },
            { "lone continuation byte", "\128", "json: cannot encode string with invalid UTF-8" },
            { "invalid UTF-8 in a key", { ["\255"] = 1 },
              "json: cannot encode object key with invalid UTF-8" },
            { "mixed keys", { 1, 2, x = 3 }, "json: cannot encode table mixing integer and string keys" },
            { "sparse array", { [1] = 1, [3] = 3 }, "json: cannot encode sparse array (keys must be 1..n)" },
            { "key 0", { [0] = "a", "b" }, "json: cannot encode sparse array (keys must be 1..n)" },
            { "float key", { [1.5] = 1 }, "json: cannot encode non-integer number key" },
            { "boolean key", { [true] = 1 }, "json: cannot encode boolean key (JSON keys must be strings)" },
            { "table key", { [{}] = 1 }, "json: cannot encode table key (JSON keys must be strings)" },
            { "integer key in object()", json.object({ [1] = "a" }),
              "json: cannot encode number key (JSON keys must be strings)" },
            { "function", print, "json: cannot encode function" },
            { "thread", coroutine.create(function() end), "json: cannot encode thread" },
            { "full userdata", io.stdout, "json: cannot encode userdata" },
            { "function with its path", { tools = { x = print } }, "json: cannot encode function at tools.x" },
            { "array element path", { 1, print }, "json: cannot encode function at [2]" },
            { "mixed path", { pokeMessages = { "a", print } },
              "json: cannot encode function at pokeMessages[2]" },
            { "sparse table path", { a = { b = { [2] = 1 } } },
              "json: cannot encode sparse array (keys must be 1..n) at a.b" },
        }
        for _, c in ipairs(failures) do
            it("refuses " .. c[1], function()
                local s, err = json.encode(c[2])
                assert.is_nil(s)
                assert.are.equal(c[3], err)
            end)
        end

        it("cuts a long error path short with ...", function()
            local t = { f = print }
            for _ = 1, 40 do t = { abcdefghij = t } end
            local s, err = json.encode(t)
            assert.is_nil(s)
            local path = err:match("^json: cannot encode function at (.*)$")
            assert.are.equal(string.rep("abcdefghij.", 14) .. "ab...", path)  -- 156 bytes + ...
        end)

        it("refuses a cycle and names where it closes", function()
            local t = { x = {} }
            t.x.y = t
            local s, err = json.encode(t)
            assert.is_nil(s)
            assert.are.equal("json: cannot encode cycle (table contains itself) at x.y", err)
        end)

        it("accepts the same table twice when it is not a cycle", function()
            local shared = { 1 }
            assert.are.equal("[[1],[1]]", json.encode({ shared, shared }))
        end)

        it("accepts 1000 levels of nesting", function()
            assert.are.equal(nest(1000, "[", "]"), json.encode(nested_tables(1000)))
        end)

        it("refuses 1001 levels of nesting", function()
            local s, err = json.encode(nested_tables(1001))
            assert.is_nil(s)
            assert.matches("^json: cannot encode: nesting too deep %(limit 1000%) at %[1%]", err)
        end)

        it("raises on a missing argument", function()
            assert.has_error(function() json.encode() end)
        end)

        it("encodes a long string with many escapes (buffer growth)", function()
            local s = string.rep('a"\n\1é', 40000)
            local out = assert(json.encode(s))
            assert.are.equal(#s + 40000 * (1 + 1 + 5) + 2, #out)
            assert.are.equal(s, json.decode(out))
        end)

        it("stays correct when __gc finalizers encode during an encode", function()
            -- bigger than the retained buffer (64 KiB), so each encode grows
            -- its buffer, and each growth is a chance for the GC to run
            -- finalizers, which then call encode from inside encode
            local big = {}
            for i = 1, 4000 do big[i] = { id = i, text = string.rep("x", i % 50) } end
            local expected = assert(json.encode(big))
            assert.is_true(#expected > 128 * 1024)
            local busy, during = false, 0
            local finalized = function()
                if busy then during = during + 1 end
                assert(json.encode({ inner = string.rep("y", 3000) }))
            end
            local newproxy = rawget(_G, "newproxy")     -- Lua 5.1: tables have no __gc
            -- at least 4 rounds, and up to 50 until a finalizer ran during an
            -- encode: whether one of the encode's allocations is where the GC
            -- runs the finalizers depends on the heap the earlier specs left
            -- (before 5.4 these settings run a whole cycle inside one allocation)
            local rounds = 50
            if _VERSION == "Lua 5.4" then
                collectgarbage("incremental", 10, 1000, 0)  -- a GC always at work
            else
                collectgarbage("setpause", 1)           -- a cycle at once, and
                collectgarbage("setstepmul", 100000)    -- each step does much of it
            end
            local ok, err = pcall(function()
                for round = 1, rounds do
                    if round > 4 and during > 0 then break end
                    for _ = 1, 100 do
                        if newproxy then
                            getmetatable(newproxy(true)).__gc = finalized
                        else
                            setmetatable({}, { __gc = finalized })
                        end
                    end
                    busy = true
                    local s = json.encode(big)
                    busy = false
                    assert(s == expected, "encode output corrupted by a nested encode")
                end
            end)
            if _VERSION == "Lua 5.4" then
                collectgarbage("incremental", 200, 100, 13)     -- the defaults
            else
                collectgarbage("setpause", 200)
                collectgarbage("setstepmul", 200)
            end
            collectgarbage()
            assert(ok, err)
            assert.is_true(during > 0)
        end)
    end)

    describe("decode", function()
        local cases = {
            { "null", "null", null },
            { "true", "true", true },
            { "false", "false", false },
            { "an integer", "800", 800 },
            { "a negative integer", "-17", -17 },
            { "a fraction", "1.5", 1.5 },
            { "an exponent", "1e2", 100.0 },
            { "a capital exponent with sign", "25E-2", 0.25 },
            { "surrounding whitespace", " \t\r\n 7 \n", 7 },
            { "a plain string", '"abc"', "abc" },
            { "the short escapes", '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\/\b\f\n\r\t' },
            { "\\u0041", '"\\u0041"', "A" },
            { "\\u00e9 (2 bytes)", '"\\u00e9"', "é" },
            { "\\u00C9 upper-case hex", '"\\u00C9"', "É" },
            { "\\u0627 (Arabic alef)", '"\\u0627"', "ا" },
            { "a surrogate pair", '"\\ud83d\\ude00"', "😀" },
            { "\\u0000", '"a\\u0000b"', "a\0b" },
            { "raw Arabic text", '"السلام عليكم"', "السلام عليكم" },
            { "an array with nulls", "[1,null,3]", { 1, null, 3 } },
            { "nested values", '{"a":[1,{"b":"c"}],"d":{}}', { a = { 1, { b = "c" } }, d = {} } },
        }
        for _, c in ipairs(cases) do
            it("decodes " .. c[1], function()
                local v, err = json.decode(c[2])
                assert.is_nil(err)
                assert.are.same(c[3], v)
                if INTEGERS then assert.are.equal(math.type(c[3]), math.type(v)) end
            end)
        end

        local errors = {
            { "empty input", "", "json: expected a value but found end of input at byte 1", 1 },
            { "only whitespace", "  ", "json: expected a value but found end of input at byte 3", 3 },
            { "a trailing comma", "[1,]", "json: expected a value but found ']' at byte 4", 4 },
            { "a missing comma", "[1 2]", "json: expected ',' or ']' but found '2' at byte 4", 4 },
            { "an unclosed array", "[1,2", "json: expected ',' or ']' but found end of input at byte 5", 5 },
            { "a missing colon", '{"a" 1}', "json: expected ':' but found '1' at byte 6", 6 },
            { "a trailing comma in an object", '{"a":1,}', "json: expected a string key but found '}' at byte 8", 8 },
            { "a single-quoted key", "{'a':1}", "json: expected a string key but found ''' at byte 2", 2 },
            { "a leading zero", "[01]", "json: leading zero in number at byte 2", 2 },
            { "a leading plus", "+1", "json: expected a value but found '+' at byte 1", 1 },
            { "a lone minus", "-", "json: expected a digit but found end of input at byte 2", 2 },
            { "a bare fraction point", "1.", "json: expected a digit after '.' but found end of input at byte 3", 3 },
            { "an empty exponent", "1e+", "json: expected a digit in exponent but found end of input at byte 4", 4 },
            { "NaN", "NaN", "json: expected a value but found 'N' at byte 1", 1 },
            { "Infinity", "-Infinity", "json: expected a digit but found 'I' at byte 2", 2 },
            { "a truncated literal", "[tru]", "json: invalid literal (expected true, false or null) at byte 2", 2 },
            { "trailing garbage", "[1] x", "json: expected end of input but found 'x' at byte 5", 5 },
            { "a NUL after the value", "1\0", "json: expected end of input but found byte 0x00 at byte 2", 2 },
            { "a comment", "// c\n1", "json: expected a value but found '/' at byte 1", 1 },
            { "a byte order mark", "\239\187\191{}", "json: expected a value but found byte 0xEF at byte 1", 1 },
            { "an unterminated string", '"abc', "json: unterminated string at byte 5", 5 },
            { "a raw tab in a string", '"a\tb"', "json: control character in string at byte 3", 3 },
            { "an invalid escape", '["\\x"]', "json: invalid escape in string at byte 3", 3 },
            { "a short \\u escape", '"\\u12"', "json: invalid \\u escape in string at byte 2", 2 },
            { "invalid UTF-8", '["\255"]', "json: invalid UTF-8 in string at byte 3", 3 },
            { "overlong UTF-8", '"ab\192\175"', "json: invalid UTF-8 in string at byte 4", 4 },
            { "invalid UTF-8 after an escape", '"\\n\237\160\128"', "json: invalid UTF-8 in string at byte 4", 4 },
            { "a lone high surrogate", '"\\ud800"', "json: lone surrogate in \\u escape at byte 2", 2 },
            { "a lone low surrogate", '"x\\udc00"', "json: lone surrogate in \\u escape at byte 3", 3 },
            { "a high surrogate with a non-pair", '"\\ud800\\u0041"',
              "json: lone surrogate in \\u escape at byte 2", 2 },
        }
        for _, c in ipairs(errors) do
            it("rejects " .. c[1] .. " at byte " .. c[4], function()
                local v, err, pos = json.decode(c[2])
                assert.is_nil(v)
                assert.are.equal(c[3], err)
                assert.are.equal(c[4], pos)
            end)
        end

        if INTEGERS then
            it("keeps integers as integers", function()
                assert.are.equal("integer", math.type(json.decode("800")))
                assert.are.equal("float", math.type(json.decode("800.0")))
            end)

            it("decodes the int64 limits exactly", function()
                assert.are.equal(math.maxinteger, json.decode("9223372036854775807"))
                assert.are.equal(math.mininteger, json.decode("-9223372036854775808"))
                assert.are.equal("integer", math.type(json.decode("-9223372036854775808")))
            end)

            it("turns integers beyond int64 into floats", function()
                local v = json.decode("9223372036854775808")
                assert.are.equal("float", math.type(v))
                assert.are.equal(2.0 ^ 63, v)
                assert.are.equal(-(2.0 ^ 63) - 2048, json.decode("-9223372036854777856"))
            end)

            it("keeps 2^53+1 exact where doubles cannot", function()
                local v = json.decode("9007199254740993")
                assert.are.equal(9007199254740993, v)
                assert.are.equal("9007199254740993", json.encode(v))
            end)
        else
            -- Lua 5.1, 5.2, LuaJIT: numbers are doubles. Integers up to 2^53
            -- in magnitude decode exactly and encode back as the same digits;
            -- beyond 2^53 they decode to the nearest double (precision is
            -- lost, never an error, never a string), which encodes in the
            -- shortest form that reads back as that double.
            it("decodes and re-encodes every integer up to 2^53 exactly", function()
                for _, s in ipairs({ "9007199254740992", "-9007199254740992", "9007199254740991",
                                     "1000000000000000", "800", "-17" }) do
                    local v = json.decode(s)
                    assert.are.equal(tonumber(s), v)
                    assert.are.equal(s, json.encode(v))
                end
                assert.are.equal(2 ^ 53, json.decode("9007199254740992"))
            end)

            it("rounds integers beyond 2^53 to the nearest double", function()
                assert.are.equal(2 ^ 53, json.decode("9007199254740993"))       -- a tie: to even
                assert.are.equal(2 ^ 53 + 4, json.decode("9007199254740995"))
                assert.are.equal(-(2 ^ 53), json.decode("-9007199254740993"))
                assert.are.equal(2 ^ 63, json.decode("9223372036854775807"))
                assert.are.equal(-(2 ^ 63), json.decode("-9223372036854775808"))
                assert.are.equal(2 ^ 64, json.decode("18446744073709551616"))
                assert.are.equal("number", type(json.decode("123456789012345678901234567890")))
            end)

            it("writes doubles beyond 2^53 in the shortest form that reads back", function()
                assert.are.equal("9007199254740992", json.encode(json.decode("9007199254740993")))
                assert.are.equal("9007199254740996", json.encode(json.decode("9007199254740995")))
                assert.are.equal("9.223372036854776e+18", json.encode(json.decode("9223372036854775807")))
                assert.are.equal("1.2345678901234568e+29", json.encode(json.decode("123456789012345678901234567890")))
            end)
        end

        it("decodes -0 as the float -0.0", function()
            local v = json.decode("-0")
            if INTEGERS then assert.are.equal("float", math.type(v)) end
            assert.are.equal(-math.huge, 1 / v)
        end)

        it("marks arrays so that [] re-encodes as []", function()
            local v = json.decode("[]")
            assert.are.equal(json.array_mt, getmetatable(v))
            assert.are.equal("[]", json.encode(v))
        end)

        it("returns objects as plain tables so that {} re-encodes as {}", function()
            local v = json.decode("{}")
            assert.is_nil(getmetatable(v))
            assert.are.equal("{}", json.encode(v))
        end)

        it("keeps nulls in arrays without holes", function()
            local v = json.decode("[1,null,3,null]")
            assert.are.equal(4, #v)
            assert.are.equal(null, v[2])
            assert.are.equal(null, v[4])
        end)

        it("lets the last of duplicate keys win", function()
            assert.are.same({ a = 2 }, json.decode('{"a":1,"a":2}'))
        end)

        it("decodes escaped keys", function()
            assert.are.same({ ["a\nb"] = 1, ["é"] = 2 }, json.decode('{"a\\nb":1,"\\u00e9":2}'))
        end)

        it("decodes a long number through the scratch buffer", function()
            local s = "1." .. string.rep("0", 300) .. "1"
            assert.are.equal(1.0, json.decode(s))
        end)

        it("accepts 1000 levels of nesting", function()
            local v = assert(json.decode(nest(1000, "[", "]")))
            assert.are.equal(nest(1000, "[", "]"), json.encode(v))
        end)

        it("refuses 1001 levels of arrays at the 1001st bracket", function()
            local v, err, pos = json.decode(nest(1001, "[", "]"))
            assert.is_nil(v)
            assert.are.equal("json: nesting too deep (limit 1000) at byte 1001", err)
            assert.are.equal(1001, pos)
        end)

        it("refuses 1001 levels of objects", function()
            local s = string.rep('{"a":', 1001) .. "1" .. string.rep("}", 1001)
            local v, err, pos = json.decode(s)
            assert.is_nil(v)
            assert.are.equal(5001, pos)
            assert.matches("nesting too deep", err)
        end)

        it("survives 100000 open brackets", function()
            local v, err, pos = json.decode(string.rep("[", 100000))
            assert.is_nil(v)
            assert.are.equal("json: nesting too deep (limit 1000) at byte 1001", err)
            assert.are.equal(1001, pos)
        end)

        it("raises on a non-string argument", function()
            assert.has_error(function() json.decode() end)
            assert.has_error(function() json.decode({}) end)
        end)
    end)

    describe("round trip", function()
        it("keeps a realistic agent payload", function()
            local x = agent_payload()
            local s = assert(json.encode(x))
            local back = assert(json.decode(s))
            assert.are.same(x, back)
            if INTEGERS then
                assert.are.equal("integer", math.type(back.silenceThreshold))
                assert.are.equal("integer", math.type(back.params.ids[1]))
            end
            -- key order may differ between two tables, the length may not
            assert.are.equal(#s, #json.encode(back))
        end)

        local canonical = {
            '[1,-2,3.5,"x",true,false,null]',
            '{"a":{"b":{"c":[[],{}]}}}',
            '["مرحبا","😀","\\u0000\\u001f\\"\\\\"]',
            INTEGERS and "[9223372036854775807,-9223372036854775808,0.1]" or "[9007199254740992,-9007199254740992,0.1]",
        }
        for _, s in ipairs(canonical) do
            it("re-encodes " .. s .. " byte for byte", function()
                assert.are.equal(s, json.encode(assert(json.decode(s))))
            end)
        end
    end)

    describe("locale", function()
        -- Only where a locale with a decimal comma can be selected (e.g. with
        -- LOCPATH pointing at a localedef output); restored at once.
        local comma
        for _, name in ipairs({ "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8" }) do
            if os.setlocale(name, "numeric") and string.format("%.1f", 0.5) == "0,5" then
                comma = name
                break
            end
        end
        os.setlocale("C", "numeric")
        if comma then
            it("ignores a decimal comma in the C locale (" .. comma .. ")", function()
                os.setlocale(comma, "numeric")
                local ok, s, t = pcall(function()
                    return json.encode({ 0.1, 2.5, 1e-7 }),
                           json.decode("[0.1,2.5e3," .. "1." .. string.rep("0", 80) .. "1]")
                end)
                os.setlocale("C", "numeric")
                assert(ok, s)
                assert.are.equal("[0.1,2.5,1e-07]", s)
                assert.are.same({ 0.1, 2500.0, 1.0 }, t)
            end)
        end
    end)

    describe("marks", function()
        it("array() makes a new marked table", function()
            local t = json.array()
            assert.are.equal(json.array_mt, getmetatable(t))
            assert.are.equal(0, #t)
        end)

        it("array(t) marks and returns t itself, twice is fine", function()
            local t = { 1 }
            assert.are.equal(t, json.array(t))
            assert.are.equal(t, json.array(t))
            assert.are.equal(json.array_mt, getmetatable(t))
        end)

        it("object(t) marks and returns t itself", function()
            local t = {}
            assert.are.equal(t, json.object(t))
            assert.are.equal(json.object_mt, getmetatable(t))
        end)

        it("refuses to re-mark an object as an array", function()
            assert.has_error(function() json.array(json.object()) end,
                "bad argument #1 to 'array' (table already has a metatable, cannot mark it as a JSON array)")
        end)

        it("refuses to mark a table with a foreign metatable", function()
            assert.has_error(function() json.object(setmetatable({}, {})) end,
                "bad argument #1 to 'object' (table already has a metatable, cannot mark it as a JSON object)")
        end)

        it("refuses a non-table argument", function()
            assert.has_error(function() json.array("x") end)
        end)

        it("null is the NULL light userdata, the same value as cjson.null", function()
            assert.are.equal("userdata", type(null))
            local ok, cjson = pcall(require, "cjson")
            if ok then
                assert.are.equal(cjson.null, null)
            end
        end)
    end)
end)
