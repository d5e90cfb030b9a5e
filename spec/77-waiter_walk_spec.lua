-- Waiters, a seeded random walk over their state space: a resource whose
-- `get` sends a real request (so the loop, tasks and timers are the real
-- ones) and then answers from a script: statuses, retryable failures with
-- and without Retry-After, 404s, fatal failures; the wait runs blocking,
-- in a task or with on_done, and is cancelled or its client closed at
-- random points (from on_status or from outside). Each run is checked
-- against what its script says must happen: the outcome, the statuses
-- on_status saw, the number of polls, err.last, and nothing left in the
-- loop. spec/76 has the waiters against the mock's playout.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local waiter = require "hamsa.waiter"
local errors = require "hamsa.errors"

-- A script for one wait: a list of steps, each a record's status or a
-- failure ("retry" with or without Retry-After, "404", "fatal"), then the
-- status the record stays in (`REST`) once the list is done.
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
