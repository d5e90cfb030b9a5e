-- Pagers: `each([query] [, opts])` walks every item of every page of a
-- list route, one request per page, whatever the route's paging style:
-- agents (page), conversations (per_page), campaigns (offset), knowledge
-- base (page_string) and phone numbers (bare), against the mock with
-- seeded records. Requests are counted on the server side.
local helpers = require "spec.helpers"
local loop = require "hamsa.loop"

local V1 = "/v1/voice-agents"
local unpack = table.unpack or unpack       -- luacheck: ignore unpack

-- Per style: the resource, what the mock seeds, the list's path, the
-- query's position and size, and an item's key with the key of the i-th
-- seeded record (nil: the order comes from one big list request).
local KINDS = {
    { style = "page", res = "agents", seed = "agents", path = V1, pos = "skip", size = "take", first = 1,
      key = function(a) return a.agentName end, nth = function(i) return ("Seeded agent %05d"):format(i) end },
    { style = "per_page", res = "conversations", seed = "conversations", path = V1 .. "/conversations/minimal-list",
      pos = "page", size = "perPage", first = 1, key = function(c) return c.id end },
    { style = "offset", res = "campaigns", seed = "campaigns", path = V1 .. "/campaigns", pos = "skip",
      size = "take", first = 0, offset = true,
      key = function(c) return c.name end, nth = function(i) return ("Seeded campaign %05d"):format(i) end },
    { style = "page_string", res = "knowledge_base", seed = "knowledge_base", path = V1 .. "/knowledge-base/list",
      pos = "skip", size = "take", first = 1,
      key = function(k) return k.itemName end, nth = function(i) return ("Seeded item %05d"):format(i) end },
    { style = "bare", res = "phone_numbers", seed = "phone_numbers", path = V1 .. "/phone-number/list", pos = "skip",
      size = "take", first = 1, bare = true,
      key = function(p) return p.number end, nth = function(i) return ("+1555%07d"):format(i) end },
}

local function parse_query(q)
    local t = {}
    for k, v in (q or ""):gmatch("([^&=]+)=([^&]*)") do t[k] = v end
    return t
end

local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
end

describe("hamsa pagers", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, { client = {}, clean = "reset" },
        function(s, c) server, client = s, c end)

    -- the page requests the server saw for `kind`, their queries parsed
    local function pages(kind)
        local out = {}
        for _, r in ipairs(server:requests()) do
            if r.path == kind.path then out[#out + 1] = parse_query(r.query) end
        end
        return out
    end

    -- seeds n records of the kind; the keys of all of them, in list order
    local function seed(kind, n)
        if n > 0 then server:seed({ [kind.seed] = n }) end
        local keys = {}
        if kind.nth then
            for i = 1, n do keys[i] = kind.nth(i) end
        elseif n > 0 then
            local data = assert(client[kind.res]:list({ [kind.pos] = kind.first, [kind.size] = 200 }))
            for i, item in ipairs(data.calls) do keys[i] = kind.key(item) end
        end
        server:clear()
        return keys
    end

    local function walk(kind, query, opts)
        local keys, failures = {}, {}
        for item, err in client[kind.res]:each(query, opts) do
            if item == false then failures[#failures + 1] = err else keys[#keys + 1] = kind.key(item) end
        end
        return keys, failures
    end

    for _, kind in ipairs(KINDS) do
        describe(kind.res .. " (" .. kind.style .. ")", function()
            it("every item once, in order, one request per page; the last page short", function()
                local want = seed(kind, 17)
                local query = { [kind.size] = 5 }
                local before = copy(query)
                local got, failures = walk(kind, query)
                assert.same({}, failures)
                assert.same(want, got)
                assert.same(before, query)                     -- the caller's query is left alone
                local seen = pages(kind)
                assert.equal(4, #seen)
                for i, q in ipairs(seen) do
                    local want_pos = kind.offset and (i - 1) * 5 or i
                    assert.equal(tostring(want_pos), q[kind.pos])
                    assert.equal("5", q[kind.size])
                end
            end)

            it("a total that is an exact multiple of the page size", function()
                local want = seed(kind, 15)
                local got = walk(kind, { [kind.size] = 5 })
                assert.same(want, got)
                -- a reply with a total stops there; a bare array needs the empty page after
                assert.equal(kind.bare and 4 or 3, #pages(kind))
            end)

            it("an empty list: no item, one request", function()
                seed(kind, 0)
                local got, failures = walk(kind, { [kind.size] = 5 })
                assert.same({}, got)
                assert.same({}, failures)
                assert.equal(1, #pages(kind))
            end)

            it("starts where the caller's query says", function()
                local want = seed(kind, 12)
                local start = kind.offset and 7 or 3          -- page 3 of 4-item pages, or offset 7
                local got = walk(kind, { [kind.pos] = start, [kind.size] = 4 })
                local from = kind.offset and 8 or 9
                assert.same({ unpack(want, from) }, got)
                assert.equal(tostring(start), pages(kind)[1][kind.pos])
            end)

            it("the default page size is 50", function()
                local want = seed(kind, 60)
                assert.same(want, walk(kind))
                local seen = pages(kind)
                assert.equal(2, #seen)
                assert.equal("50", seen[1][kind.size])
            end)

            it("a failure mid-way yields false, err once, then stops", function()
                seed(kind, 30)
                local got, failures, n = {}, {}, 0
                for item, err in client[kind.res]:each({ [kind.size] = 5 }, { max_retries = 0 }) do
                    n = n + 1
                    if item == false then failures[#failures + 1] = err else got[#got + 1] = item end
                    -- once the second page is in hand, the third request will fail
                    if n == 10 then server:fault({ path = kind.path, status = 500 }) end
                end
                assert.equal(10, #got)
                assert.equal(1, #failures)
                assert.equal("server", failures[1].kind)
                assert.equal(500, failures[1].status)
                assert.equal(3, #pages(kind))
            end)
        end)
    end

    it("v2.agents pages too (page style)", function()
        for i = 1, 7 do assert(client.v2.agents:create({ name = "V2 " .. i })) end
        server:clear()
        local names = {}
        for a, err in client.v2.agents:each({ take = 3 }) do
            assert(a, tostring(err))
            names[#names + 1] = a.name
        end
        assert.same({ "V2 1", "V2 2", "V2 3", "V2 4", "V2 5", "V2 6", "V2 7" }, names)
        assert.equal(3, #server:requests())
    end)

    it("a reply without its list yields a decode error", function()
        server:fault({ path = V1, status = 200, body = '{"success":true,"message":"ok","data":{"total":3}}' })
        local got = {}
        for item, err in client.agents:each() do got[#got + 1] = { item, err } end
        assert.equal(1, #got)
        assert.is_false(got[1][1])
        assert.equal("decode", got[1][2].kind)
        assert.equal("INVALID_PAGE", got[1][2].code)
    end)

    describe("misuse raises at the caller's line", function()
        local function raises(pattern, fn)
            local ok, e = pcall(fn)
            assert.is_false(ok)
            assert.matches("34%-pager_spec%.lua:%d+: " .. pattern, e)
        end

        it("a query that is not a table, on_done, an unknown option, a bad position or size", function()
            raises("agents:each: query must be a table", function() local it = client.agents:each(5); return it end)
            raises("agents:each: each takes no on_done", function()
                local it = client.agents:each(nil, { on_done = function() end }); return it end)
            raises("agents:each: unknown option 'bogus'", function()
                local it = client.agents:each(nil, { bogus = 1 }); return it end)
            raises("agents:each: skip must be an integer >= 1", function()
                local it = client.agents:each({ skip = 0 }); return it end)
            raises("campaigns:each: skip must be an integer >= 0", function()
                local it = client.campaigns:each({ skip = -1 }); return it end)
            raises("conversations:each: perPage must be an integer >= 1", function()
                local it = client.conversations:each({ perPage = 1.5 }); return it end)
            raises("agents:each: ", function() local it = client.agents:each({ search = function() end }); return it end)
            assert.has_error(function() client.agents.each({}) end)
            -- decimal strings are whole numbers too
            assert.is_function(client.knowledge_base:each({ skip = "2", take = "3" }))
        end)
    end)

    describe("inside a task", function()
        it("pages yield to the loop; 20000 agents stream with memory bounded", function()
            server:seed({ agents = 20000 })
            server:clear()
            local grew, count, other = -math.huge, 0, 0
            local walker = client:spawn(function()
                collectgarbage()
                local base = collectgarbage("count")
                for a, err in client.agents:each({ take = 100 }) do
                    assert(a, tostring(err))
                    count = count + 1
                    if count % 2000 == 0 then
                        collectgarbage()
                        grew = math.max(grew, collectgarbage("count") - base)
                    end
                end
                return count
            end)
            -- another task meanwhile: it moves between the walker's pages
            local during = 0
            client:spawn(function()
                for _ = 1, 20 do
                    assert(client.agents:list({ take = 1 }))
                    other = other + 1
                    if not walker.done then during = during + 1 end
                end
            end)
            assert.equal(0, client:run(120))
            assert.is_nil(walker.error)
            assert.equal(20000, walker.results[1])
            assert.equal(20, other)
            if loop.YIELD_THROUGH_PCALL then
                assert.is_true(during >= 10, "the other task ran while the pages came: " .. during)
            end
            local stats = server:stats()
            assert.equal(200 + 20, stats.requests)
            print(("\n34: 20000 agents, 200 pages, Lua heap growth at most %.0f KiB"):format(math.max(grew, 0)))
            assert.is_true(grew < 4096, ("heap grew by %.0f KiB"):format(grew))
        end)
    end)

    it("hamsa.pager.iterate takes any list function (for hamsa.openresty)", function()
        local pager = require "hamsa.pager"
        local row = { resource = "x", name = "list", paging = "offset", items = "rows", total = "n" }
        local calls = {}
        local function list(q)
            calls[#calls + 1] = q
            local rows = {}
            for i = q.skip + 1, math.min(q.skip + q.take, 7) do rows[#rows + 1] = i end
            return { rows = rows, n = 7 }
        end
        local got = {}
        for v in pager.iterate(list, row, { take = 3 }) do got[#got + 1] = v end
        assert.same({ 1, 2, 3, 4, 5, 6, 7 }, got)
        assert.equal(3, #calls)
        assert.same({ 0, 3, 6 }, { calls[1].skip, calls[2].skip, calls[3].skip })
        got, calls = {}, {}
        for v in pager.iterate(list, row, { skip = 4, take = 2 }) do got[#got + 1] = v end
        assert.same({ 5, 6, 7 }, got)
        assert.equal(2, #calls)
    end)
end)
