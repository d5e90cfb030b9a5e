-- Waiters: conversations:wait, campaigns:wait, knowledge_base:wait poll
-- `get` until a final status, blocking, inside a task, or with on_done.
--
-- Against the mock's playout (a placed call goes PENDING → IN_PROGRESS →
-- its final status on the mock's clock, which the specs freeze, speed up
-- or advance): every final status, on_status, the deadline, a 404 early
-- on, 503 with Retry-After, cancel and close (also from on_status), and
-- 200 waiters on one client. spec/77 walks the waiter's state space at
-- random.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local waiter = require "hamsa.waiter"
local now = require("hamsa.core").now

local CONV = "/v1/voice-agents/conversation/"
local ENDINGS = { ["4001"] = "NO_ANSWER", ["4002"] = "FAILED", ["4003"] = "FORWARDED",
                  ["4004"] = "TERMINATED", ["0000"] = "COMPLETED" }

-- The mock's clock: { speed = }, { advance = }, { freeze = }, { reset = }.
local function clock(server, change)
    return server:clock(change)
end

local function count(log, prefix)
    local n = 0
    for _, r in ipairs(log) do
        if r.path:sub(1, #prefix) == prefix then n = n + 1 end
    end
    return n
end

describe("hamsa waiters", function()
    local server, client, agent_id
    helpers.mock_suite({ setup, teardown, before_each, after_each },
        { clean = "reset", client_per_test = true }, function(s, c) server, client = s, c end)

    -- reset: no records, no faults, the clock on real time (the clock never
    -- goes back while records exist: a call placed after a reset of the
    -- clock alone would start in the future of the records before it)
    before_each(function()
        agent_id = assert(client.agents:create({ agentName = "Waiter" })).id
        server:clear()
    end)

    -- places a call to a number ending in `ending`; its conversation id
    local function place(ending)
        local data = assert(client.calls:phone_number({ toNumber = "+97150000" .. (ending or "0000"),
            phoneNumber = "+12025550123", voiceAgentId = agent_id }))
        return assert(data.jobId)
    end

    describe("misuse", function()
        it("raises at the caller's line", function()
            local line = debug.getinfo(1, "l").currentline
            local ok, e = pcall(function() local r = client.conversations:wait(42); return r end)
            assert.is_false(ok)
            assert.matches("76%-waiter_spec%.lua:" .. (line + 1) .. ": conversations:wait: conversationId must be a string", e)
            assert.has_error(function() client.campaigns:wait("x", { bogus = 1 }) end,
                "campaigns:wait: unknown option 'bogus'")
            assert.has_error(function() client.knowledge_base:wait("x", { interval = 0 }) end,
                "knowledge_base:wait: interval must be a finite number > 0")
            assert.has_error(function() client.conversations:wait("x", { deadline = -1 }) end,
                "conversations:wait: deadline must be a number >= 0")
            assert.has_error(function() client.conversations:wait("x", { on_status = true }) end,
                "conversations:wait: option 'on_status' must be a function")
            assert.has_error(function() client.conversations.wait({}, "x") end)
        end)

        it("hamsa.TERMINAL is a list of the five final call statuses and a set of them", function()
            local T = hamsa.TERMINAL
            assert.same({ "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED", "TERMINATED" }, { T[1], T[2], T[3], T[4], T[5] })
            assert.equal(5, #hamsa.TERMINAL)
            for _, s in ipairs(hamsa.TERMINAL) do assert.is_true(hamsa.TERMINAL[s]) end
            assert.is_nil(hamsa.TERMINAL.IN_PROGRESS)
        end)
    end)

    describe("against the mock's playout", function()
        -- speed 10: a call of the mock's default 2 s lasts 0.2 s
        before_each(function() clock(server, { speed = 10 }) end)

        for _, mode in ipairs({ "blocking", "task", "on_done" }) do
            it("every final status ends a wait (" .. mode .. ")", function()
                local results = {}
                for ending, want in pairs(ENDINGS) do
                    local id = place(ending)
                    local opts = { interval = 0.02 }
                    if mode == "blocking" then
                        results[want] = { client.conversations:wait(id, opts) }
                    elseif mode == "task" then
                        local t = client:spawn(function() return client.conversations:wait(id, opts) end)
                        assert.equal(0, client:run(10))
                        results[want] = t.results
                    else
                        local calls = 0
                        opts.on_done = function(d, _, r) calls = calls + 1; results[want] = { d, r } end
                        local h = client.conversations:wait(id, opts)
                        assert.equal(1, client:pending())
                        assert.equal(0, client:run(10))
                        assert.equal(1, calls)
                        assert.is_true(h:done())
                    end
                    local data, response = results[want][1], results[want][2]
                    assert.is_table(data, tostring(response))
                    assert.equal(want, data.status)
                    assert.equal(id, data.id)
                    assert.equal(200, response.status)
                end
                assert.equal(0, client:pending())
            end)
        end

        it("campaigns and knowledge-base items: their own final statuses", function()
            local campaign = assert(client.campaigns:create({ name = "Spring", voiceAgentId = agent_id,
                phoneNumber = "+12025550123", sendType = "NOW", recipients = { { phoneNumber = "+971500004001" } } }))
            local items = assert(client.knowledge_base:create({ items = {
                { itemName = "Opening hours", type = "TEXT", content = "9 to 5" },
                { itemName = "fail: broken", type = "TEXT", content = "?" } } }))
            local seen = {}
            local data = assert(client.campaigns:wait(campaign.id, { interval = 0.02,
                on_status = function(c) seen[#seen + 1] = c.status end }))
            assert.equal("COMPLETED", data.status)
            assert.equal("COMPLETED", seen[#seen])
            local t = client:spawn(function()
                return client.knowledge_base:wait(items[1].id, { interval = 0.02 }),
                    client.knowledge_base:wait(items[2].id, { interval = 0.02 })
            end)
            assert.equal(0, client:run(10))
            assert.equal("PROCESSED", t.results[1].status)
            assert.equal("FAILED", t.results[2].status)
        end)

        it("on_status sees each change of status once, the first included", function()
            clock(server, { freeze = true })
            local id = place("0000")
            local seen, result = {}, nil
            client.conversations:wait(id, { interval = 0.01,
                on_status = function(c) seen[#seen + 1] = c.status end,
                on_done = function(d, e) result = d or e end })
            -- three polls at each status before the clock moves on
            local function polls() return count(server:requests(), CONV) end
            local stage, mark = 0, 0
            while not result do
                client:poll(0.05)
                if polls() >= mark + 3 and stage < 2 then
                    stage, mark = stage + 1, polls()
                    clock(server, { advance = stage == 1 and 1 or 2 })
                end
            end
            assert.equal("COMPLETED", result.status)
            assert.same({ "PENDING", "IN_PROGRESS", "COMPLETED" }, seen)
            assert.is_true(polls() >= 7)
        end)

        it("past the deadline: kind timeout, code WAIT_DEADLINE, the last record in err.last", function()
            clock(server, { freeze = true })
            local id = place("0000")
            local t0 = now()
            local data, err = client.conversations:wait(id, { deadline = 0.3, interval = 0.05 })
            assert.is_nil(data)
            assert.equal("timeout", err.kind)
            assert.equal("WAIT_DEADLINE", err.code)
            assert.equal("PENDING", err.last.status)
            assert.matches(id, err.message, 1, true)
            assert.matches("PENDING", err.message, 1, true)
            assert.is_true(now() - t0 >= 0.3)
            -- the last poll is at the deadline, not a gap before it
            assert.is_true(count(server:requests(), CONV) >= 3)
        end)

        it("a deadline with no record seen leaves err.last nil", function()
            server:fault({ path = CONV, status = 503, headers = { ["Retry-After"] = "0" }, times = 100 })
            local _, err = client.conversations:wait(place("0000"), { deadline = 0.2, interval = 0.05, max_retries = 0 })
            assert.equal("WAIT_DEADLINE", err.code)
            assert.is_nil(err.last)
            assert.equal(503, err.cause.status)
        end)

        it("a 404 in the first 30 s is 'not visible yet' and polled again", function()
            local id = place("4003")
            server:fault({ path = CONV, status = 404, times = 2 })
            local data, response = client.conversations:wait(id, { interval = 0.02 })
            assert.equal("FORWARDED", data.status, tostring(response))
            assert.is_true(count(server:requests(), CONV) >= 3)
        end)

        it("a 404 after the first 30 s ends the wait", function()
            local saved = waiter.NOT_VISIBLE
            waiter.NOT_VISIBLE = 0.1
            local data, err = client.conversations:wait("no-such-call", { interval = 0.02 })
            waiter.NOT_VISIBLE = saved
            assert.is_nil(data)
            assert.equal("not_found", err.kind)
            assert.is_true(count(server:requests(), CONV) >= 2)
        end)

        it("503 with Retry-After is polled again, no sooner than it asks", function()
            local id = place("0000")
            server:fault({ path = CONV, status = 503, headers = { ["Retry-After"] = "1" } })
            local t0 = now()
            local data = client.conversations:wait(id, { interval = 0.02, max_retries = 0 })
            assert.equal("COMPLETED", data.status)
            assert.is_true(now() - t0 >= 1)
            assert.is_true(count(server:requests(), CONV) >= 2)
        end)

        it("a failure that is not retryable ends the wait with its error", function()
            local id = place("0000")
            server:fault({ path = CONV, status = 401 })
            local data, err = client.conversations:wait(id, { interval = 0.02 })
            assert.is_nil(data)
            assert.equal("auth", err.kind)
            assert.equal(1, count(server:requests(), CONV))
        end)
    end)

    describe("cancel and close", function()
        before_each(function() clock(server, { freeze = true }) end)   -- calls stay PENDING

        local function counter()
            local c = { n = 0 }
            c.fn = function(d, e) c.n = c.n + 1; c.data, c.err = d, e end
            return c
        end

        it("cancel ends an on_done waiter with kind cancelled, once", function()
            local done = counter()
            local h = client.conversations:wait(place(), { interval = 0.05, on_done = done.fn })
            client:poll(0.2)
            assert.is_false(h:done())
            assert.is_true(h:cancel())
            assert.is_false(h:cancel())
            assert.equal(0, client:wait(5))
            client:poll(0.1)
            assert.equal(1, done.n)
            assert.equal("cancelled", done.err.kind)
            assert.equal("PENDING", done.err.last.status)
            assert.is_true(h:done())
        end)

        it("close ends every on_done waiter with kind cancelled, at once and once", function()
            local dones = {}
            for i = 1, 5 do
                dones[i] = counter()
                client.conversations:wait(place(), { interval = 0.05, on_done = dones[i].fn })
            end
            client:poll(0.2)
            client:close()
            for i = 1, 5 do
                assert.equal(1, dones[i].n)
                assert.equal("cancelled", dones[i].err.kind)
            end
            client:poll(0.1)
            for i = 1, 5 do assert.equal(1, dones[i].n) end
            assert.equal(0, client:pending())
        end)

        it("cancel from on_status", function()
            local done, h = counter(), nil
            h = client.conversations:wait(place(), { interval = 0.05, on_done = done.fn,
                on_status = function() assert.is_true(h:cancel()) end })
            assert.equal(0, client:wait(5))
            assert.equal(1, done.n)
            assert.equal("cancelled", done.err.kind)
            assert.equal("PENDING", done.err.last.status)
            assert.equal(1, count(server:requests(), CONV))
        end)

        it("close from on_status ends that waiter and the others, once each", function()
            local a, b = counter(), counter()
            client.conversations:wait(place(), { interval = 0.05, on_done = b.fn })
            client:poll(0.1)
            client.conversations:wait(place(), { interval = 0.05, on_done = a.fn,
                on_status = function() client:close() end })
            client:wait(5)
            assert.equal(1, a.n)
            assert.equal(1, b.n)
            assert.equal("cancelled", a.err.kind)
            assert.equal("cancelled", b.err.kind)
            assert.equal(0, client:pending())
        end)

        it("close from on_status ends a blocking wait and a task's", function()
            local id = place()
            local data, err = client.conversations:wait(place(), { interval = 0.05,
                on_status = function() client:close() end })
            assert.is_nil(data)
            assert.equal("cancelled", err.kind)
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url })
            local t = c:spawn(function()
                return c.conversations:wait(id, { interval = 0.05, on_status = function() c:close() end })
            end)
            c:run(5)
            assert.is_nil(t.results[1])
            assert.equal("cancelled", t.results[2].kind)
        end)

        it("a task's wait in a gap ends when the client closes", function()
            local id = place()
            local t = client:spawn(function() return client.conversations:wait(id, { interval = 10 }) end)
            client:run(0.3)
            assert.is_false(t.done)
            assert.equal(1, client:pending())                 -- the gap's timer
            client:close()
            assert.is_true(t.done)
            assert.equal("cancelled", t.results[2].kind)
        end)
    end)

    it("200 waiters at once on one client all finish (requests per call, CPU)", function()
        local ids, placed = {}, 0
        for i = 1, 200 do
            client.calls:phone_number({ toNumber = "+9715000" .. string.format("%05d", i), phoneNumber = "+12025550123",
                voiceAgentId = agent_id }, { on_done = function(d, e)
                    assert(d, tostring(e)); placed = placed + 1; ids[i] = d.jobId end })
        end
        assert.equal(0, client:wait(30))
        assert.equal(200, placed)
        server:clear()
        local results, calls = {}, 0
        local cpu0, t0 = os.clock(), now()
        for i = 1, 200 do
            client.conversations:wait(ids[i], { on_done = function(d, e)
                calls = calls + 1; results[i] = d and d.status or tostring(e) end })
        end
        assert.equal(200, client:pending())
        assert.equal(0, client:run(60))
        local cpu, wall = os.clock() - cpu0, now() - t0
        assert.equal(200, calls)
        for i = 1, 200 do assert.equal("COMPLETED", results[i]) end
        local per = {}
        for _, r in ipairs(server:requests()) do per[r.path] = (per[r.path] or 0) + 1 end
        local total, most = 0, 0
        for _, n in pairs(per) do total = total + n; most = math.max(most, n) end
        print(string.format("\n76: 200 waiters (defaults, calls of 2 s): %d polls, %.2f per call (at most %d),"
            .. " wall %.2f s, CPU %.3f s", total, total / 200, most, wall, cpu))
    end)
end)
