-- The command line's parsing and printing helpers, against seeded random
-- inputs: --set paths rebuild any nested value, times in UTC agree with
-- os.date's, the pretty printer keeps the JSON it indents, table cells
-- never pass their width.
local hamsa = require "hamsa"
local input = require "hamsa.cli.input"
local output = require "hamsa.cli.output"

local json, null = hamsa.json, hamsa.null
local SEED = tonumber(os.getenv("HAMSA_SEED") or "") or 20261203

local function raised(fn, ...)
    local ok, e = pcall(fn, ...)
    assert.is_false(ok, "expected a failure")
    return e
end

describe("hamsa.cli.input", function()
    local rnd
    before_each(function() math.randomseed(SEED); rnd = math.random end)

    local NAMES = { "a", "agentName", "tools", "x_1", "مرحبا", "p-q" }
    local function scalar()
        local k = rnd(5)
        if k == 1 then return rnd(-1000, 100000) end
        if k == 2 then return rnd(2) == 1 end
        if k == 3 then return null end
        if k == 4 then return "t" .. rnd(1000) end
        return ({ "+971501234567", "Sara", "007", "a b" })[rnd(4)]
    end
    -- a random value nested up to `depth`: objects, arrays (of at least one item), scalars
    local function value(depth)
        local k = depth > 0 and rnd(3) or 3
        if k == 1 then
            local t = {}
            for _ = 1, rnd(3) do t[NAMES[rnd(#NAMES)]] = value(depth - 1) end
            return t
        elseif k == 2 then
            local t = hamsa.array()
            for i = 1, rnd(3) do t[i] = value(depth - 1) end
            return t
        end
        return scalar()
    end
    -- every leaf as (path, value), in an order that makes arrays grow from 1
    local function leaves(v, path, out)
        if type(v) ~= "table" then out[#out + 1] = { path, v }; return out end
        if getmetatable(v) == getmetatable(hamsa.array()) then
            for i = 1, #v do leaves(v[i], path .. "[" .. i .. "]", out) end
        else
            local keys = {}
            for k in pairs(v) do keys[#keys + 1] = k end
            table.sort(keys)
            for _, k in ipairs(keys) do leaves(v[k], path == "" and k or path .. "." .. k, out) end
        end
        return out
    end
    local function text_of(v)
        if type(v) == "string" then return v end
        return json.encode(v)
    end

    it("KEY=VALUE assignments on paths rebuild 300 random nested objects", function()
        for _ = 1, 300 do
            local t = {}
            for _ = 1, rnd(4) do t[NAMES[rnd(#NAMES)]] = value(3) end
            local items = {}
            for _, leaf in ipairs(leaves(t, "", {})) do
                items[#items + 1] = leaf[1] .. "=" .. text_of(leaf[2])
            end
            local got = input.assignments({}, items, "--set")
            -- text that reads as JSON ("007" does not, "a b" does not) stays text
            assert.same(json.decode(json.encode(t)), json.decode(json.encode(got)))
        end
    end)

    it("--set-str keeps text; --set types what reads as JSON", function()
        local t = input.assignments({}, { "a=800", "b=true", "c=null", "d=[1,2]", "e=Sara", "f=\"800\"", "g=" },
            "--set")
        assert.equal(800, t.a); assert.is_true(t.b); assert.equal(null, t.c)
        assert.same({ 1, 2 }, t.d); assert.equal("Sara", t.e); assert.equal("800", t.f); assert.equal("", t.g)
        t = input.assignments({}, { "a=800", "b=true" }, "--set-str", true)
        assert.same({ a = "800", b = "true" }, t)
    end)

    it("refuses malformed paths and walking through a scalar, as usage errors naming the option", function()
        for _, bad in ipairs({ "=1", "a..b=1", "a[0]=1", "a[x]=1", "[1]=1", "a.=1", "noequals" }) do
            local e = raised(input.assignments, {}, { bad }, "--set")
            assert.is_string(e.usage, bad)
            assert.matches("^%-%-set ", e.usage)
        end
        local e = raised(input.assignments, { a = "text" }, { "a.b=1" }, "--set")
        assert.matches("a is not an object", e.usage)
    end)

    it("a repeated query key becomes a list, in order", function()
        local q = input.query({ "status=FAILED", "perPage=5", "status=NO_ANSWER", "status=TERMINATED", "s=[1]" },
            "--query")
        assert.same({ status = { "FAILED", "NO_ANSWER", "TERMINATED" }, perPage = 5, s = "[1]" }, q)
    end)

    it("UTC dates agree with os.date('!...') for 500 random instants; durations count back from now", function()
        for _ = 1, 500 do
            local t = rnd(0, 2000000000) * 2 + rnd(0, 1)   -- 1970 .. 2096 (5.1: random takes int32 bounds)
            local iso = os.date("!%Y-%m-%dT%H:%M:%SZ", t)
            assert.equal(t * 1000, input.time(iso, "--since"), iso)
            assert.equal(t * 1000 - t % 60 * 1000, input.time(os.date("!%Y-%m-%dT%H:%M", t), "--since"))
            assert.equal((t - t % 86400) * 1000, input.time(os.date("!%Y-%m-%d", t), "--since"))
        end
        assert.equal(1733000000000, input.time("1733000000000", "--since"))
        assert.equal((1000 - 12 * 3600) * 1000, input.time("12h", "--since", 1000))
        assert.equal((10 ^ 6 - 2 * 86400) * 1000, input.time("2d", "--since", 10 ^ 6))
        for _, bad in ipairs({ "yesterday", "-5m", "2026-13-01", "2026-12-01T25:00", "1.5h", "", "12x" }) do
            local e = raised(input.time, bad, "--until")
            assert.matches("^%-%-until ", e.usage)
        end
    end)
end)

describe("hamsa.cli.output", function()
    before_each(function() math.randomseed(SEED) end)

    it("pretty keeps the JSON it indents (200 random documents, escapes and empties included)", function()
        local pieces = { '"a\\"b"', '"\\\\"', '"{,:}[]"', "1", "-2.5e3", "true", "null", "[]", "{}", '"مرحبا"' }
        local function doc(depth)
            local k = depth > 0 and math.random(3) or 3
            if k == 1 then
                local parts = {}
                for i = 1, math.random(0, 3) do parts[i] = '"k' .. i .. '":' .. doc(depth - 1) end
                return "{" .. table.concat(parts, ",") .. "}"
            elseif k == 2 then
                local parts = {}
                for i = 1, math.random(0, 3) do parts[i] = doc(depth - 1) end
                return "[" .. table.concat(parts, ",") .. "]"
            end
            return pieces[math.random(#pieces)]
        end
        for _ = 1, 200 do
            local text = doc(4)
            local pretty = output.pretty(text)
            assert.equal(json.encode(json.decode(text)), json.encode(json.decode(pretty)), text)
        end
    end)

    it("table cells are cut to their width on UTF-8 boundaries", function()
        local saved = io.stdout
        local lines = {}
        local fake = { write = function(self, ...) for _, s in ipairs({ ... }) do lines[#lines + 1] = s end
            return self end, flush = function() end }
        local ok, err = pcall(function()
            io.stdout = fake        -- luacheck: ignore 122
            output.table({ { id = "1", greeting = string.rep("مرحبا ", 30), n = 5 },
                           { id = "2", greeting = "hi", n = hamsa.null } })
        end)
        io.stdout = saved           -- luacheck: ignore 122
        assert.is_true(ok, tostring(err))
        local text = table.concat(lines)
        for line in text:gmatch("[^\n]+") do
            local width = #line - select(2, line:gsub("[\128-\191]", ""))
            assert.is_true(width <= output.width(), line)
            assert.is_truthy(utf8 == nil or utf8.len(line), "a cut split a character: " .. line)
        end
        assert.matches("…", text)
        assert.matches("\n2 +hi +%-\n", "\n" .. text:gsub("  +", "  "))
    end)
end)
