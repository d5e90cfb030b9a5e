-- hamsa.dialer against the mock, counted on the server side (GET
-- /__mock/calls lists every call placed): each row called exactly once
-- through faults, kills and several processes; re-dials; the ledger's
-- states; misuse.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local socket = require "socket"

local tmpdb, rm = helpers.tmpdb, helpers.rm_db

local SEED = tonumber(os.getenv("HAMSA_SEED") or "") or 20261203
local CALL = "/v1/voice-agents/phone-number/call"



local function number(i) return string.format("+9715%07d", i) end

-- calls per number, from the mock
local function per_number(server)
    local counts, total = {}, 0
    for _, c in ipairs(server:calls()) do
        counts[c.toNumber] = (counts[c.toNumber] or 0) + 1
        total = total + 1
    end
    return counts, total
end

-- Every row r1..rN was called exactly once: 0 duplicates, 0 missed.
local function exactly_once(server, n)
    local counts, total = per_number(server)
    local dup, missed = 0, 0
    for i = 1, n do
        local c = counts[number(i)] or 0
        if c == 0 then missed = missed + 1 elseif c > 1 then dup = dup + c - 1 end
    end
    assert.equal(0, dup, "numbers called more than once")
    assert.equal(0, missed, "numbers never called")
    assert.equal(n, total)
    return dup, missed
end

-- A dialer worker process (spec/dial_worker.lua) with `env` (a table);
-- returns { pid, proc }.
local function start_worker(env)
    local parts = { "echo $$; exec env",
        "LUA_PATH=" .. helpers.quote(package.path), "LUA_CPATH=" .. helpers.quote(package.cpath) }
    for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. helpers.quote(v) end
    parts[#parts + 1] = helpers.lua .. " " .. helpers.quote(helpers.root .. "/spec/dial_worker.lua") .. " 2>&1"
    local proc = assert(io.popen(table.concat(parts, " ")))
    local pid = tonumber(proc:read("*l"))
    return { pid = pid, proc = proc }
end

local function finish(w)
    local out = w.proc:read("*a")
    w.proc:close()
    return out
end

local function kill(w)
    os.execute("kill -9 " .. w.pid .. " 2>/dev/null")
    w.proc:close()
end

describe("hamsa.dialer", function()
    local server, client, agent
    helpers.mock_suite({ setup, teardown, before_each }, { mock = { call_seconds = 0.4 }, client = {}, clean = "reset" },
        function(s, c) server, client = s, c end)
    before_each(function()
        agent = assert(client.agents:create({ agentName = "Dialer" })).id
        server:clear()
    end)

    local function new(ledger, opts)
        local o = { ledger = ledger, campaign = "spec",
                    call = { route = "phone_number", phoneNumber = "+97145551234", voiceAgentId = agent },
                    concurrency = 10, rate = 1000, reconcile_after = 0.5, follow = { interval = 0.1 } }
        for k, v in pairs(opts or {}) do o[k] = v end
        return assert(hamsa.dialer.new(client, o))
    end

    local function rows(n, first)
        local list = {}
        for i = first or 1, n do list[#list + 1] = { id = "r" .. i, toNumber = number(i), params = { name = "L" .. i } } end
        return list
    end

    it("calls each row once, with its params, and ends with every row final", function()
        local db = tmpdb()
        local d = new(db)
        assert.equal(30, d:add(rows(30)))
        assert.equal(0, d:add(rows(30)))           -- known ids: a no-op
        assert.equal(5, d:add(rows(35, 31)))
        local status = assert(d:run())
        assert.equal(35, status.COMPLETED)
        assert.equal(35, status.total)
        assert.equal(35, status.final)
        exactly_once(server, 35)
        -- the body of each call: the dialer's fields, the row's number and params
        local seen = 0
        for _, r in ipairs(server:requests()) do
            if r.path == CALL then
                local b = hamsa.json.decode(r.body)
                local i = tonumber(b.toNumber:sub(6))
                assert.equal("L" .. i, b.params.name)
                assert.equal(agent, b.voiceAgentId)
                assert.equal("+97145551234", b.phoneNumber)
                assert.equal(hamsa.dialer.idempotency_key("spec", "r" .. i, 1), r.headers["idempotency-key"])
                seen = seen + 1
            end
        end
        assert.equal(35, seen)
        for _, row in ipairs(d:rows()) do
            assert.equal("COMPLETED", row.state)
            assert.is_string(row.jobId)
            assert.equal(1, row.attempt)
        end
        d:close()
        rm(db)
    end)

    it("re-dials NO_ANSWER and FAILED up to max_attempts, each attempt with its own key", function()
        local db = tmpdb()
        local d = new(db, { max_attempts = 3, retry_after = 0.2 })
        d:add({ { id = "a", toNumber = "+971501114001" }, { id = "b", toNumber = "+971501114002" },
                { id = "c", toNumber = "+971501110003" } })
        local status = assert(d:run())
        assert.same({ 1, 1, 1 }, { status.NO_ANSWER, status.FAILED, status.COMPLETED })
        local counts = per_number(server)
        assert.equal(3, counts["+971501114001"])
        assert.equal(3, counts["+971501114002"])
        assert.equal(1, counts["+971501110003"])
        local keys = {}
        for _, r in ipairs(server:requests()) do
            if r.path == CALL then keys[r.headers["idempotency-key"]] = true end
        end
        for _, id in ipairs({ "a", "b" }) do
            for attempt = 1, 3 do assert.is_true(keys[hamsa.dialer.idempotency_key("spec", id, attempt)]) end
        end
        for _, row in ipairs(d:rows()) do assert.equal(row.id == "c" and 1 or 3, row.attempt) end
        d:close()
        rm(db)
    end)

    it("holds at most `concurrency` calls in progress and paces placements at `rate`", function()
        local db = tmpdb()
        local d = new(db, { concurrency = 3, rate = 20 })
        d:add(rows(12))
        local most = 0
        d.o.on_progress = function(s)
            local active = s.claimed + s.sending + s.placed + s.unknown
            if active > most then most = active end
        end
        d.o.progress_interval = 0.05
        assert(d:run())
        assert.is_true(most <= 3, "at most 3 in progress, saw " .. most)
        local at = {}
        for _, c in ipairs(server:calls()) do at[#at + 1] = c.at end
        table.sort(at)
        assert.equal(12, #at)
        exactly_once(server, 12)
        d:close()
        rm(db)
    end)

    it("#proof through resets, 500s, 429s and timeouts (before and after acting): each row exactly once", function()
        math.randomseed(SEED)
        local faults = {
            { action = "reset", after = true }, { status = 500, after = true }, { status = 502, after = true },
            { delay = 1.5, after = true }, { action = "reset" }, { status = 500 },
            { status = 429, headers = { ["Retry-After"] = "1" } }, { action = "close", after = true },
            { status = 503 }, { action = "hang" },
        }
        local list, kinds = {}, {}
        for i = 1, 60 do
            local f = faults[math.random(#faults)]
            local copy = { path = CALL }
            for k, v in pairs(f) do copy[k] = v end
            list[i] = copy
            local name = (f.action or tostring(f.status or "delay")) .. (f.after and " after" or "")
            kinds[name] = (kinds[name] or 0) + 1
        end
        -- and faults on the follow and reconcile reads
        for _ = 1, 15 do list[#list + 1] = { path = "/v1/voice-agents/conversation", status = 500 } end
        server:fault(list)
        local db = tmpdb()
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url, timeout = 1, max_retries = 0 })
        local d = assert(hamsa.dialer.new(c, { ledger = db, campaign = "faults",
            call = { phoneNumber = "+97145551234", voiceAgentId = agent }, concurrency = 20, rate = 1000,
            reconcile_after = 0.5, follow = { interval = 0.1 } }))
        d:add(rows(200))
        local status = assert(d:run())
        assert.equal(200, status.COMPLETED)
        exactly_once(server, 200)
        local st = d.stats
        assert.is_true((st.unknown or 0) > 0, "some rows went unknown")
        assert.is_true((st.adopted or 0) > 0, "some unknown rows were adopted from the list")
        assert.is_true((st.redialled or 0) > 0, "some unknown rows were proven absent and dialled again")
        assert.is_true((st.pause or 0) > 0, "a 429 paused the campaign")
        print(("\n69: faults %s; stats %s"):format(hamsa.json.encode(kinds), hamsa.json.encode(st)))
        d:close()
        c:close()
        rm(db)
    end)

    it("#proof 1000 rows, killed with SIGKILL 20 times and restarted: every row final, every number called once",
        function()
        math.randomseed(SEED + 1)
        local db = tmpdb()
        -- rate 50/s: the placements need 20 s of running, more than the 20
        -- runs get before their kills (0.3 to 1.2 s each), so every kill lands mid-work
        local env = { BASE_URL = server.url, API_KEY = server.api_key, LEDGER = db, CAMPAIGN = "kill",
                      AGENT = agent, ROWS = "1000", OPTS = '{"concurrency":50,"rate":50,"reconcile_after":0.5}' }
        -- most answers to a placement come late (the call placed first, or
        -- only after the wait): a kill often finds POSTs in flight
        local slow = {}
        for i = 1, 800 do slow[i] = { path = CALL, delay = 0.25, after = i % 2 == 0 } end
        server:fault(slow)
        local kills, in_flight, t0 = 0, 0, socket.gettime()
        local ledger = require "hamsa.dialer.ledger"
        for _ = 1, 20 do
            local w = start_worker(env)
            socket.sleep(0.3 + math.random() * 0.9)
            kill(w)
            kills = kills + 1
            -- the rows the killed process left sending (its POST maybe sent, no answer recorded)
            local l = ledger.open(db)
            if l then
                local counts = l:counts("kill")
                in_flight = in_flight + (counts and counts.sending or 0)
                l:close()
            end
        end
        local w = start_worker(env)
        local out = finish(w)
        assert.matches("done ", out, 1, true)
        local elapsed = socket.gettime() - t0
        local status = hamsa.json.decode(out:match("done (%b{})"))
        assert.equal(1000, status.COMPLETED, out)
        assert.equal(1000, status.final)
        local dup, missed = exactly_once(server, 1000)
        local last = hamsa.json.decode(out:match("stats=(%b{})"))
        assert.is_true((last.placed or 0) > 0, "work was left for the run after the last kill")
        assert.is_true(in_flight > 0, "some kills left rows in 'sending'")
        print(("\n69: 1000 rows, %d kills (%d rows left sending), %d duplicates, %d missed, %.1f s; last run %s")
            :format(kills, in_flight, dup, missed, elapsed, hamsa.json.encode(last)))
        rm(db)
    end)

    it("#proof two processes on one SQLite ledger share the rows, each called once", function()
        local db = tmpdb()
        local env = { BASE_URL = server.url, API_KEY = server.api_key, LEDGER = db, CAMPAIGN = "pair",
                      AGENT = agent, ROWS = "200", OPTS = '{"concurrency":20}' }
        local a, b = start_worker(env), start_worker(env)
        local out_a, out_b = finish(a), finish(b)
        for _, out in ipairs({ out_a, out_b }) do
            assert.matches("done ", out, 1, true)
            local st = hamsa.json.decode(out:match("stats=(%b{})"))
            assert.is_true((st.placed or 0) > 0, "each process placed calls: " .. out)
        end
        exactly_once(server, 200)
        rm(db)
    end)

    it("resumes: a second run of a finished campaign sends nothing", function()
        local db = tmpdb()
        local d = new(db)
        d:add(rows(5))
        assert(d:run())
        d:close()
        server:clear()
        local again = new(db)
        again:add(rows(5))
        local status = assert(again:run())
        assert.equal(5, status.COMPLETED)
        assert.equal(0, #server:requests())
        again:close()
        rm(db)
    end)

    it("rejects rows the API refuses, and stops at once on a bad key without losing rows", function()
        local db = tmpdb()
        local d = new(db, { call = { phoneNumber = "+97145551234", voiceAgentId = "no-such-agent" } })
        d:add(rows(3))
        local status = assert(d:run())
        assert.equal(3, status.rejected)
        for _, row in ipairs(d:rows()) do assert.matches("not_found", row.error) end
        d:close()
        local bad = hamsa.new({ api_key = "wrong", base_url = server.url })
        local d2 = assert(hamsa.dialer.new(bad, { ledger = db, campaign = "auth",
            call = { phoneNumber = "+97145551234", voiceAgentId = agent } }))
        d2:add(rows(3))
        local s, err = d2:run()
        assert.is_nil(s)
        assert.equal("auth", err.kind)
        local st = d2:status()
        assert.equal(3, st.pending)
        d2:close()
        bad:close()
        rm(db)
    end)

    it("starts no call outside its window; until_idle returns with the rows pending", function()
        local db = tmpdb()
        local DAYS = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" }
        local today = tonumber(os.date("!%w"))
        local d = new(db, { window = { days = { DAYS[(today + 3) % 7 + 1] }, from = "00:00", to = "23:59",
                                       timezone = "UTC" } })
        d:add(rows(3))
        local status = assert(d:run({ until_idle = true }))
        assert.equal(3, status.pending)
        assert.equal(0, #server:requests())
        d:close()
        local open = new(db, { window = { from = "00:00", to = "24:00", timezone = "UTC" } })
        assert.equal(3, assert(open:run()).COMPLETED)
        exactly_once(server, 3)
        open:close()
        rm(db)
    end)

    it("follows calls by webhook when `watch` is a serve server: one poll per call, then call.ended", function()
        local srv = hamsa.webhook.serve { auth_key = "Token", auth_secret = "dialer-hook" }
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url, validate = false })
        local db = tmpdb()
        local d = assert(hamsa.dialer.new(c, { ledger = db, campaign = "hooks", concurrency = 5, rate = 1000,
            call = { route = "twilio", twilioPhoneNumber = "+14155550100", voiceAgentId = agent,
                     webhookUrl = srv:url(), webhookAuth = { authKey = "Token", authSecret = "dialer-hook" } },
            -- polls 30 s apart: only the events can end the follows soon
            follow = { interval = 30 }, watch = srv }))
        d:add(rows(5))
        local status = assert(d:run({ deadline = 25 }))
        assert.equal(5, status.COMPLETED)
        local gets = 0
        for _, r in ipairs(server:requests()) do
            if r.method == "GET" and r.path:find("/conversation/", 1, true) then gets = gets + 1 end
        end
        assert.is_true(gets <= 5, "at most the first poll of each call: " .. gets)
        assert.is_true(srv:stats().received >= 5)
        exactly_once(server, 5)
        d:close()
        c:close()
        srv:close()
        rm(db)
    end)

    it("#proof two rows with one number, through lost answers: one call each, never one call for two rows", function()
        local list = {}
        for i = 1, 40 do list[i] = { path = CALL, action = "reset", after = i % 3 ~= 0 } end
        server:fault(list)
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_retries = 0 })
        local db = tmpdb()
        local d = assert(hamsa.dialer.new(c, { ledger = db, campaign = "twins", concurrency = 20, rate = 1000,
            call = { phoneNumber = "+97145551234", voiceAgentId = agent }, reconcile_after = 0.3,
            follow = { interval = 0.1 } }))
        local rows_ = {}
        for i = 1, 30 do rows_[i] = { id = "t" .. i, toNumber = number((i - 1) % 15 + 1) } end
        d:add(rows_)
        local status = assert(d:run())
        assert.equal(30, status.COMPLETED)
        local counts, total = per_number(server)
        assert.equal(30, total)
        for i = 1, 15 do assert.equal(2, counts[number(i)], number(i)) end
        local jobs = {}
        for _, row in ipairs(d:rows()) do
            assert.is_nil(jobs[row.jobId], "two rows hold one call")
            jobs[row.jobId] = true
        end
        d:close()
        c:close()
        rm(db)
    end)

    it("keeps ids and campaigns with quotes and non-ASCII text intact (no SQL is built from raw text)", function()
        local db = tmpdb()
        local d = new(db, { campaign = "o'brien; DROP TABLE hamsa_dialer_rows; --" })
        d:add({ { id = "l'1\\", toNumber = number(1), params = { name = "ليلى 'quoted'" } },
                { id = "مرحبا", toNumber = number(2) } })
        local status = assert(d:run())
        assert.equal(2, status.COMPLETED)
        local ids = {}
        for _, row in ipairs(d:rows()) do ids[#ids + 1] = row.id end
        assert.same({ "l'1\\", "مرحبا" }, ids)
        -- the two calls go out at once (concurrency 5): find the first row's
        local body
        for _, r in ipairs(server:requests()) do
            local b = r.body and hamsa.json.decode(r.body)
            if type(b) == "table" and b.toNumber == number(1) then body = b end
        end
        assert.is_table(body, "no call to " .. number(1) .. " reached the mock")
        assert.equal("ليلى 'quoted'", body.params.name)
        d:close()
        rm(db)
    end)

    it("raises on misuse, naming the option or the row", function()
        local db = tmpdb()
        assert.has_error(function() hamsa.dialer.new(client, { campaign = "x" }) end,
            "hamsa.dialer.new: call must be a table (the call's fixed fields)")
        assert.has_error(function() hamsa.dialer.new(client, { campaign = "", call = {} }) end)
        assert.has_error(function() hamsa.dialer.new(client, { campaign = "x", call = {}, concurency = 3 }) end,
            "hamsa.dialer.new: unknown option 'concurency'")
        assert.has_error(function() hamsa.dialer.new(client, { campaign = "x", call = { route = "fax" } }) end)
        assert.has_error(function() hamsa.dialer.new(client, { campaign = "x", call = {}, rate = 0 }) end)
        local d = new(db)
        assert.has_error(function() d:add({ { id = "a", toNumber = "0501234567" } }) end,
            "hamsa.dialer.add: row 1 (a): toNumber must be an E.164 number (+ and 7 to 15 digits)")
        assert.has_error(function() d:add({ { id = "", toNumber = "+971501234567" } }) end)
        assert.has_error(function() d:add({ { id = "b", toNumber = "+971501234567", params = { x = {} } } }) end)
        assert.equal(0, d:status().total)
        d:close()
        rm(db)
    end)
end)
