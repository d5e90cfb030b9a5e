-- Waiters: conversations:wait, campaigns:wait, knowledge_base:wait poll
-- `get` until a final status, blocking, inside a task, or with on_done.
--
-- Two halves. Against the mock's playout (a placed call goes PENDING →
-- IN_PROGRESS → its final status on the mock's clock, which the specs
-- freeze, speed up or advance): every final status, on_status, the
-- deadline, a 404 early on, 503 with Retry-After, cancel and close (also
-- from on_status), and 200 waiters on one client. Then a seeded random
-- walk over the waiter's state space, with a resource whose `get` sends a
-- real request (so the loop, tasks and timers are the real ones) and then
-- answers from a script: statuses, retryable failures with and without
-- Retry-After, 404s, fatal failures, cancel and close at any point; each
-- run is checked against what the script says must happen.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local waiter = require "hamsa.waiter"
local errors = require "hamsa.errors"
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

---------------------------------------------------------------------------
-- the seeded random walk

-- A script for one wait: a list of steps, each a record's status or a
-- failure ("retry" with or without Retry-After, "404", "fatal"), then the
-- status the record stays in (`rest`) once the list is done.
local STATUSES = { "PENDING", "IN_PROGRESS", "RINGING" }
local FINAL = { "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED", "TERMINATED" }

local function make_script(rnd)
    local steps = {}
    for i = 1, rnd(0, 7) do
        local r = rnd(1, 10)
        if r <= 5 then steps[i] = { status = STATUSES[rnd(1, #STATUSES)] }
        elseif r <= 7 then steps[i] = { fail = "retry", ra = rnd(1, 2) == 1 and rnd(5, 20) / 1000 or nil }
        elseif r <= 9 then steps[i] = { fail = "404" }
        else steps[i] = { fail = "fatal" } end
    end
    if rnd(1, 3) <= 2 then steps[#steps + 1] = { status = FINAL[rnd(1, #FINAL)] } end
    return steps
end
local FINAL_SET = {}
for _, f in ipairs(FINAL) do FINAL_SET[f] = true end
local REST = { status = "IN_PROGRESS" }   -- what get answers once the script is done

-- What must happen: the outcome, the statuses on_status sees, the polls,
-- the last status. `stop` is { at = k, how = }: "cancel" or "close" in
-- on_status's k-th run (before the final check), or "outer", a cancel
-- from outside once k polls were answered.
local function expect(steps, visible, stop)
    local seen, last, polls = {}, nil, 0
    local outer = stop and stop.how == "outer" and stop.at
    for i = 1, math.max(#steps + 1, outer or 0) do
        local s = steps[i] or REST
        polls = polls + 1
        if s.status then
            last = s.status
            if seen[#seen] ~= s.status or #seen == 0 then
                seen[#seen + 1] = s.status
                if stop and not outer and #seen == stop.at then return "cancelled", seen, polls, last end
            end
            if FINAL_SET[s.status] then return s.status, seen, polls, last end
        elseif s.fail == "fatal" or (s.fail == "404" and not visible) then
            return s.fail, seen, polls, last
        end
        if polls == outer then return "cancelled", seen, polls, last end
    end
    return "deadline", seen, nil, last       -- REST forever
end

describe("hamsa waiters, a seeded random walk", function()
    local server, client, agent_id
    helpers.mock_suite({ setup, teardown }, { client = {} }, function(s, c) server, client = s, c end)
    setup(function() agent_id = assert(client.agents:create({ agentName = "Walk" })).id end)

    -- a resource whose get sends a real GET, then answers from `scripts[id]`
    local class = { _name = "conversations" }
    class.__index = class
    local scripts, polled = {}, {}
    function class.get(self, id, opts)
        local d, response, r2 = self._client.agents:get(agent_id, opts)
        if not d then return nil, response, r2 end
        polled[id] = (polled[id] or 0) + 1
        local script = scripts[id]
        local s = script.steps[polled[id]] or REST
        if s.status then return { id = id, status = s.status, n = polled[id] }, response end
        if s.fail == "retry" then
            return nil, errors.new("server", "503", { status = 503, retryable = true,
                headers = { ["retry-after"] = s.ra and tostring(s.ra) or nil } }), response
        elseif s.fail == "404" then
            return nil, errors.new("not_found", "404", { status = 404 }), response
        end
        return nil, errors.new("api", "400", { status = 400 }), response
    end
    waiter.extend({ conversations = class })

    local saved = {}
    before_each(function()
        for _, k in ipairs({ "NOT_VISIBLE", "MAX_INTERVAL" }) do saved[k] = waiter[k] end
        waiter.MAX_INTERVAL = 0.004
    end)
    after_each(function()
        for k, v in pairs(saved) do waiter[k] = v end
    end)

    local function run_one(rnd, seed, c)
        local steps = make_script(rnd)
        local visible = rnd(1, 3) > 1
        waiter.NOT_VISIBLE = visible and 100 or 0
        local modes = { "blocking", "task", "on_done" }
        local mode = modes[rnd(1, 3)]
        local hows = mode == "on_done" and { "cancel", "close", "outer" } or { "close" }
        local stop = rnd(1, 3) == 1 and { at = rnd(1, 3), how = hows[rnd(1, #hows)] } or nil
        local want, want_seen, want_polls, want_last = expect(steps, visible, stop)
        local id = "w" .. seed
        scripts[id] = { steps = steps }
        local res = setmetatable({ _client = c }, class)
        local seen, dones, handle, result = {}, 0, nil, nil
        local opts = { interval = 0.001, deadline = want == "deadline" and 0.15 or 30,
            on_status = function(r)
                seen[#seen + 1] = r.status
                if stop and #seen == stop.at then
                    if stop.how == "cancel" then handle:cancel() elseif stop.how == "close" then c:close() end
                end
            end }
        if mode == "on_done" then
            opts.on_done = function(...) dones = dones + 1; result = { ... } end
            handle = res:wait(id, opts)
            while stop and stop.how == "outer" and dones == 0 do
                c:poll(0.01)
                if (polled[id] or 0) >= stop.at and not stop.done then stop.done = handle:cancel() or true end
            end
            c:run(10)
            assert.equal(1, dones, "seed " .. seed)
        elseif mode == "task" then
            local t = c:spawn(function() return res:wait(id, opts) end)
            c:run(10)
            assert.is_true(t.done, "seed " .. seed)
            result = t.results
        else
            result = { res:wait(id, opts) }
        end
        local what = "seed " .. seed .. " mode " .. mode .. " want " .. want .. " got " .. tostring(result[1]) .. " " .. tostring(result[2])
        assert.same(want_seen, seen, what)
        local data, err = result[1], result[2]
        if want == "cancelled" then
            assert.equal("cancelled", err.kind, what)
            assert.equal(want_last, err.last and err.last.status, what)
        elseif want == "deadline" then
            assert.equal("WAIT_DEADLINE", err.code, what)
            assert.equal(want_last, err.last and err.last.status, what)
        elseif want == "fatal" then
            assert.equal("api", err.kind, what)
        elseif want == "404" then
            assert.equal("not_found", err.kind, what)
        else
            assert.equal(want, data and data.status, what .. " " .. tostring(err))
        end
        if want_polls then assert.equal(want_polls, polled[id], what) end
        assert.equal(0, c:pending(), what)
        assert.is_nil(next(c._timers), what)
        assert.is_nil(next(c._inflight), what)
        assert.equal(0, c._ntasks, what)
        return stop and stop.how == "close", mode .. " " .. (FINAL_SET[want] and "final" or want)
    end

    -- HAMSA_WAIT_SEEDS=n runs seeds 1..n (default 150); HAMSA_WAIT_FIRST=k starts at k
    it("every outcome, status change and count matches the script (seeds 1..150)", function()
        local seeds = tonumber(os.getenv("HAMSA_WAIT_SEEDS") or "150")
        local c, tally = client, {}
        for seed = tonumber(os.getenv("HAMSA_WAIT_FIRST") or 1), seeds do
            math.randomseed(seed)
            local closed, outcome = run_one(math.random, seed, c)
            tally[outcome] = (tally[outcome] or 0) + 1
            if closed then
                if c ~= client then c:close() end
                c = hamsa.new({ api_key = server.api_key, base_url = server.url })
            end
        end
        if c ~= client then c:close() end
        -- the walk reached every outcome in every mode
        for _, mode in ipairs({ "blocking", "task", "on_done" }) do
            for _, outcome in ipairs({ "final", "cancelled", "deadline", "fatal", "404" }) do   -- print(mode, outcome, tally[mode .. " " .. outcome])
                assert.is_true((tally[mode .. " " .. outcome] or 0) > 0, mode .. " " .. outcome)
            end
        end
    end)
end)
