-- One descriptor per client (client:pollfd()) and the adapters for
-- cqueues, luv and copas. What is proved: the descriptor is readable
-- exactly when client:poll(0) has work (sockets, libcurl's timer, a
-- backoff, callbacks due) and not while the client waits on a slow server;
-- each adapter places 50 calls at once inside its loop, counted on the
-- server (all 50 were being answered at the same moment), with a bounded
-- number of wake-ups. CPU is printed by the examples (make bench-loops),
-- never asserted.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local socket = require "socket"

-- Whether the Lua under test finds `module` (asked in a child: copas
-- rewrites LuaSocket's functions when loaded).
local function has(module, extra_path)
    local out = helpers.sh(("LUA_PATH=%s %s -e %s"):format(helpers.quote(package.path .. (extra_path or "")),
        helpers.lua, helpers.quote(("require %q"):format(module))))
    return out:find("exit=0", 1, true) ~= nil
end

-- Whether fd is readable within `seconds` (LuaSocket's select, as any loop).
local function readable(fd, seconds)
    local watched = { getfd = function() return fd end, dirty = function() return false end }
    local r = socket.select({ watched }, nil, seconds)
    return #r > 0
end

-- Drives client through socket.select on its pollfd alone, until nothing
-- is pending: returns the wake-ups, and how many selects ran out their
-- 5 s without the descriptor turning readable (work it failed to signal).
local function drive(client, limit)
    local fd = assert(client:pollfd())
    local wakes, missed = 0, 0
    while client:pending() > 0 and wakes < limit do
        if not readable(fd, 5) then missed = missed + 1 end
        wakes = wakes + 1
        client:poll(0)
    end
    return wakes, missed
end

-- Polls client each time fd is readable during `seconds`: the wake-ups,
-- and those of them with no timer due (client:timeout() still above 1 ms
-- when the descriptor woke the loop: a socket, or nothing at all).
local function wakes_during(client, fd, seconds)
    local deadline, wakes, unexplained = socket.gettime() + seconds, 0, 0
    while true do
        local left = deadline - socket.gettime()
        if left <= 0 then return wakes, unexplained end
        if readable(fd, left) then
            wakes = wakes + 1
            local due = client:timeout()
            if not due or due > 0.001 then unexplained = unexplained + 1 end
            client:poll(0)
        end
    end
end

local AGENTS = "/v1/voice-agents"

describe("client:pollfd()", function()
    local server
    helpers.mock_suite({ setup, teardown, before_each }, { mock = { latency = 0.5 }, clean = "faults" },
        function(s) server = s end)

    local client
    before_each(function()
        client = hamsa.new({ api_key = server.api_key, base_url = server.url, max_connections = 50 })
    end)
    after_each(function() client:close() end)

    it("is one descriptor for the client's life, watched for reading (the cqueues protocol)", function()
        local fd = client:pollfd()
        assert.is_number(fd)
        assert.equal(fd, client:pollfd())
        assert.equal("r", client:events())
        assert.is_nil(client:timeout())             -- idle: nothing to wake for
        assert.is_false(readable(fd, 0.05))
    end)

    it("stays quiet while 20 requests wait on a slow server, and wakes for their answers", function()
        server:fault({ path = AGENTS, delay = 3, times = 20 })
        local fd = assert(client:pollfd())
        local ok = 0
        for i = 1, 20 do
            client.agents:create({ agentName = "P" .. i }, { on_done = function(d) if d then ok = ok + 1 end end })
        end
        -- libcurl's timer fires at once for new transfers: connect and send,
        -- until the server holds all 20; then until the descriptor has been
        -- quiet for 0.15 s (the last sends' news taken, however slow this
        -- process runs, under valgrind say)
        local turns = 0
        while server:stats().inflight < 20 and turns < 500 do
            if readable(fd, 0.05) then client:poll(0) end
            turns = turns + 1
        end
        for _ = 1, 200 do
            if not readable(fd, 0.15) then break end
            client:poll(0)
        end
        -- the server answers after 3 s: meanwhile only libcurl's own timers
        -- wake the loop (its once-a-second speed check of each transfer,
        -- a 200 ms one after connecting), each when it is due; a spinning
        -- loop would count thousands
        local idle, unexplained = wakes_during(client, fd, 0.5)
        assert.equal(20, client:pending())
        assert.equal(0, unexplained, ("%d of %d wake-ups with no timer due"):format(unexplained, idle))
        assert.is_true(idle <= 40, "wake-ups while the server works: " .. idle)
        local wakes, missed = drive(client, 500)
        assert.equal(20, ok)
        assert.equal(0, missed)
        assert.is_true(wakes < 100, "a busy loop would wake thousands of times, got " .. wakes)
        assert.is_false(readable(fd, 0.05))         -- done: quiet again
        assert.equal(20, server:stats().requests)
    end)

    it("turns readable for a callback due outside any poll (a refused body), and quiet once it ran", function()
        local fd = assert(client:pollfd())
        local got
        client.agents:create({ agentName = 7 }, { on_done = function(_, err) got = err end })
        assert.is_true(readable(fd, 1))
        assert.is_nil(got)                          -- never run from inside the call
        client:poll(0)
        assert.equal("invalid", got.kind)
        assert.is_false(readable(fd, 0.05))
        assert.equal(0, server:stats().requests)
    end)

    it("turns readable for req:cancel() outside any poll", function()
        local fd = assert(client:pollfd())
        local got
        local req = client.agents:create({ agentName = "C" }, { on_done = function(_, err) got = err end })
        while readable(fd, 0) do client:poll(0) end
        req:cancel()
        assert.is_true(readable(fd, 1))
        client:poll(0)
        assert.equal("cancelled", got.kind)
        assert.equal(0, client:pending())
    end)

    it("carries a retry's backoff: quiet during Retry-After, readable when it ends", function()
        local fd = assert(client:pollfd())
        server:fault({ path = AGENTS, status = 429, headers = { ["Retry-After"] = "2" }, times = 1 })
        local call
        client.agents:create({ agentName = "Backoff" }, { on_done = function(d, err) call = d or err end })
        -- the first attempt's answer (429) arrives after the 0.5 s latency
        local turns = 0
        while server:stats().requests < 1 or client._timers and next(client._timers) == nil do
            if readable(fd, 1) then client:poll(0) end
            turns = turns + 1
            assert(turns < 100, "no 429 yet")
        end
        -- inside the 2 s backoff: nothing is sent, the loop barely wakes
        local idle, unexplained = wakes_during(client, fd, 1)
        assert.equal(1, server:stats().requests)
        assert.equal(1, client:pending())
        assert.equal(0, unexplained, ("%d of %d wake-ups with no timer due"):format(unexplained, idle))
        assert.is_true(idle <= 10, "wake-ups during the backoff: " .. idle)
        -- its end alone makes the descriptor readable: no select runs out
        local _, missed = drive(client, 200)
        assert.equal(0, missed)
        assert.is_table(call)
        assert.equal("Backoff", call.agentName)
        assert.equal(2, server:stats().requests)
    end)

    it("is nil with a reason on a closed client, and poll/timeout stay usable", function()
        client:pollfd()
        client:close()
        local fd, msg = client:pollfd()
        assert.is_nil(fd)
        assert.matches("closed", msg)
        assert.equal(0, client:poll(0))
        assert.is_nil(client:timeout())
    end)

    it("a callback may close the client from inside the loop", function()
        local fd = assert(client:pollfd())
        local ran = 0
        for i = 1, 3 do
            client.agents:create({ agentName = "X" .. i }, { on_done = function() ran = ran + 1; client:close() end })
        end
        local wakes = 0
        while client:pending() > 0 and wakes < 100 do
            readable(fd, 2)
            client:poll(0)
            wakes = wakes + 1
        end
        assert.equal(3, ran)                         -- the first closes; the others end cancelled
        assert.equal(0, client:pending())
    end)
end)

describe("event-loop adapters place 50 calls at once", function()
    local server
    helpers.mock_suite({ setup, teardown, before_each }, { mock = { latency = 1 }, clean = "log" },
        function(s) server = s end)

    -- copas: Debian ships it for 5.1 and 5.2 only; it is plain Lua, so on
    -- 5.3 and 5.4 the 5.2 copy runs (with coxpcall, shipped up to 5.3)
    local COPAS_PATH = ";/usr/share/lua/5.2/?.lua;/usr/share/lua/5.3/?.lua"

    local function run(name, extra_path)
        return helpers.sh(("cd %s && HAMSA_BASE_URL=%s HAMSA_API_KEY=%s LUA_PATH=%s LUA_CPATH=%s timeout 60 %s examples/%s 50")
            :format(helpers.quote(helpers.root), helpers.quote(server.url), helpers.quote(server.api_key),
                helpers.quote(package.path .. (extra_path or "")), helpers.quote(package.cpath), helpers.lua, name))
    end

    local cases = {
        { "cqueues", "cqueues", "loop_cqueues.lua" },
        { "luv", "luv", "loop_luv.lua" },
        { "copas", "copas", "loop_copas.lua", COPAS_PATH },
    }
    for _, c in ipairs(cases) do
        local name, module, file, extra = c[1], c[2], c[3], c[4]
        it(name .. ": 50 calls, all at the server at once, no busy polling", function()
            if not has(module, extra) then
                pending(module .. " is not installed for " .. _VERSION)
                return
            end
            local out = run(file, extra)
            assert.matches("exit=0", out, 1, true)
            local placed, failed, wakes = out:match(name .. ": (%d+) calls placed, (%d+) failed, (%d+) wake%-ups")
            assert.equal("50", placed, out)
            assert.equal("0", failed, out)
            -- each call's socket wakes the loop a few times (connect, send,
            -- answer), batched; a loop spinning on a zero timeout for the
            -- 2 s of waiting would count in the thousands
            assert.is_true(tonumber(wakes) <= 300, "wake-ups: " .. wakes)
            local stats = server:stats()
            assert.equal(51, stats.requests)                -- the agent, then the 50 calls
            assert.equal(50, stats.max_inflight)
        end)
    end
end)

-- The adapters in this process, against hostile uses: re-entry from
-- callbacks, a close inside the loop, detach and attach again, refused
-- bodies, callback errors, waiters whose gaps are timers.
describe("event-loop adapters, in process", function()
    local server
    helpers.mock_suite({ setup, teardown, before_each }, { mock = { latency = 0.05, call_seconds = 1 }, clean = "reset" },
        function(s) server = s end)

    local function new_client(opts)
        opts = opts or {}
        opts.api_key, opts.base_url = server.api_key, server.url
        return hamsa.new(opts)
    end

    local function agent_id(client)
        return assert(client.agents:create({ agentName = "Loops" })).id
    end

    local uv = has("luv") and require("luv")
    local cqueues = has("cqueues") and require("cqueues")

    describe("luv", function()
        local adapter
        before_each(function()
            if not uv then return pending("luv is not installed for " .. _VERSION) end
            adapter = require "hamsa.adapter.luv"
        end)

        it("runs a chain of 10 calls, each placed by the last one's callback, and uv.run() returns", function()
            if not uv then return end
            local client = new_client()
            local driver = adapter.attach(client)
            local done = 0
            local function next_call()
                client.agents:create({ agentName = "chain " .. done }, {
                    on_done = function(agent)
                        assert(agent)
                        done = done + 1
                        if done < 10 then next_call() end
                    end,
                })
            end
            next_call()
            uv.run()
            assert.equal(10, done)
            assert.equal(0, client:pending())
            assert.equal(10, server:stats().requests)
            assert.is_true(driver.wakes < 200, "wake-ups: " .. driver.wakes)
            driver:detach()
            client:close()
        end)

        it("a refused body's callback runs from the loop, never inside the call", function()
            if not uv then return end
            local client = new_client()
            local driver = adapter.attach(client)
            local got
            client.agents:create({ agentName = false }, { on_done = function(_, err) got = err end })
            assert.is_nil(got)
            uv.run()
            assert.equal("invalid", got.kind)
            assert.equal("agentName", got.field)
            assert.equal(0, server:stats().requests)
            driver:detach()
            client:close()
        end)

        it("a callback that closes the client ends uv.run(); the others end cancelled", function()
            if not uv then return end
            local client = new_client()
            local driver = adapter.attach(client)
            local kinds = {}
            for i = 1, 5 do
                client.agents:create({ agentName = "close " .. i }, {
                    on_done = function(_, err)
                        kinds[#kinds + 1] = err and err.kind or "ok"
                        client:close()
                    end,
                })
            end
            uv.run()
            -- the first closes; the others ran then, ok if their answer had
            -- come in the same turn, else cancelled
            assert.equal(5, #kinds)
            assert.equal("ok", kinds[1])
            for i = 2, 5 do assert.is_truthy(kinds[i] == "ok" or kinds[i] == "cancelled", kinds[i]) end
            assert.is_nil(driver.handle)
            driver:detach()
        end)

        it("closing the client from a uv timer while calls wait ends uv.run(); no handle is left", function()
            if not uv then return end
            server:fault({ path = "/v1/voice-agents", delay = 5, times = 3 })
            local client = new_client()
            local driver = adapter.attach(client)
            local kinds = {}
            for i = 1, 3 do
                client.agents:create({ agentName = "slow " .. i },
                    { on_done = function(_, err) kinds[#kinds + 1] = err and err.kind end })
            end
            local timer = uv.new_timer()
            timer:start(300, 0, function() timer:close(); client:close() end)
            uv.run()
            assert.same({ "cancelled", "cancelled", "cancelled" }, kinds)
            assert.is_nil(driver.handle)
            driver:detach()
        end)

        it("an error raised in a callback goes to on_error; the process and the loop go on", function()
            if not uv then return end
            local client = new_client()
            local errs = {}
            local driver = adapter.attach(client, { on_error = function(e) errs[#errs + 1] = e end })
            local after
            client.agents:create({ agentName = "boom" }, {
                on_done = function()
                    client.agents:create({ agentName = "after" }, { on_done = function(a) after = a end })
                    error("boom in on_done")
                end,
            })
            uv.run()
            assert.equal(1, #errs)
            assert.matches("boom in on_done", tostring(errs[1]))
            assert.equal("after", after.agentName)
            driver:detach()
            client:close()
        end)

        it("detach stops driving (uv.run returns, the call waits); a new attach finishes it", function()
            if not uv then return end
            local client = new_client()
            local driver = adapter.attach(client)
            local got
            client.agents:create({ agentName = "later" }, { on_done = function(agent) got = agent end })
            driver:detach()
            uv.run()
            assert.is_nil(got)
            assert.equal(1, client:pending())
            local again = adapter.attach(client)
            uv.run()
            assert.equal("later", got.agentName)
            again:detach()
            client:close()
        end)

        it("a waiter's gaps are timers on the descriptor: conversations:wait ends inside the loop", function()
            if not uv then return end
            local client = new_client()
            local id = agent_id(client)
            local driver = adapter.attach(client)
            local record, statuses = nil, {}
            client.calls:phone_number({ toNumber = "+971500001234", phoneNumber = "+12025550123", voiceAgentId = id }, {
                on_done = function(job)
                    client.conversations:wait(job.jobId, {
                        interval = 0.3,
                        on_status = function(r) statuses[#statuses + 1] = r.status end,
                        on_done = function(r) record = r end,
                    })
                end,
            })
            uv.run()
            assert.is_table(record)
            assert.is_truthy(hamsa.TERMINAL[record.status])
            assert.is_true(#statuses >= 2)
            driver:detach()
            client:close()
        end)
    end)

    describe("cqueues", function()
        local adapter
        before_each(function()
            if not cqueues then return pending("cqueues is not installed for " .. _VERSION) end
            adapter = require "hamsa.adapter.cqueues"
        end)

        it("20 coroutines await their calls (5 refused), and cq:loop() returns", function()
            if not cqueues then return end
            local client = new_client({ max_connections = 20 })
            local cq = cqueues.new()
            local driver = adapter.attach(client, cq)
            local ok, refused = 0, 0
            for i = 1, 20 do
                cq:wrap(function()
                    local name = i % 4 == 0 and "" or ("co " .. i)
                    local agent, err = driver:await(function(on_done)
                        client.agents:create({ agentName = name }, { on_done = on_done })
                    end)
                    if agent then
                        assert.equal(name, agent.agentName)
                        ok = ok + 1
                    else
                        assert.equal("invalid", err.kind)
                        refused = refused + 1
                    end
                end)
            end
            assert(cq:loop())
            assert.equal(15, ok)
            assert.equal(5, refused)
            assert.equal(15, server:stats().requests)
            driver:detach()
            client:close()
        end)

        it("cqueues.poll(client), the protocol without the adapter, does not spin on timeout()", function()
            if not cqueues then return end
            server:fault({ path = "/v1/voice-agents", delay = 1, times = 50 })
            local client = new_client({ max_connections = 50 })
            local cq = cqueues.new()
            local ok, wakes, early = 0, 0, 0
            for i = 1, 50 do
                client.agents:create({ agentName = "raw " .. i }, { on_done = function(a) if a then ok = ok + 1 end end })
            end
            cq:wrap(function()
                while client:pending() > 0 and wakes < 2000 do
                    local t = client:timeout()
                    cqueues.poll(client)
                    wakes = wakes + 1
                    if t and t < 0.001 then early = early + 1 end
                    client:poll(0)
                end
            end)
            assert(cq:loop())
            assert.equal(50, ok)
            -- timeout() once said 0 up to a millisecond before the timer a
            -- turn acts on was due: up to 111 wake-ups, 106 of them at 0
            assert.is_true(wakes <= 60, ("wake-ups: %d, %d at a timeout under 1 ms"):format(wakes, early))
            client:close()
        end)

        it("an error raised in a callback comes out of cq:loop(), and the client still works", function()
            if not cqueues then return end
            local client = new_client()
            local cq = cqueues.new()
            local driver = adapter.attach(client, cq)
            client.agents:create({ agentName = "boom" }, { on_done = function() error("boom in on_done") end })
            local ok, err = cq:loop()
            assert.is_false(ok)
            assert.matches("boom in on_done", tostring(err))
            local got
            client.agents:create({ agentName = "after" }, { on_done = function(a) got = a end })
            assert(cq:loop())
            assert.equal("after", got.agentName)
            driver:detach()
            client:close()
        end)

        it("closing the client from another coroutine wakes the driver, and cq:loop() returns", function()
            if not cqueues then return end
            server:fault({ path = "/v1/voice-agents", delay = 5, times = 2 })
            local client = new_client()
            local cq = cqueues.new()
            local driver = adapter.attach(client, cq)
            local kinds = {}
            for i = 1, 2 do
                client.agents:create({ agentName = "slow " .. i },
                    { on_done = function(_, err) kinds[#kinds + 1] = err and err.kind end })
            end
            cq:wrap(function()
                cqueues.sleep(0.3)
                client:close()
            end)
            assert(cq:loop())
            assert.same({ "cancelled", "cancelled" }, kinds)
            assert.is_false(driver.running)
            driver:detach()
        end)

        it("a waiter inside the controller: its gaps wake the controller through the descriptor", function()
            if not cqueues then return end
            local client = new_client()
            local id = agent_id(client)
            local cq = cqueues.new()
            local driver = adapter.attach(client, cq)
            local record
            cq:wrap(function()
                local job = assert(driver:await(function(on_done)
                    client.calls:phone_number({ toNumber = "+971500001235", phoneNumber = "+12025550123",
                        voiceAgentId = id }, { on_done = on_done })
                end))
                record = assert(driver:await(function(on_done)
                    client.conversations:wait(job.jobId, { interval = 0.3, on_done = on_done })
                end))
            end)
            assert(cq:loop())
            assert.is_truthy(hamsa.TERMINAL[record.status])
            driver:detach()
            client:close()
        end)
    end)
end)
