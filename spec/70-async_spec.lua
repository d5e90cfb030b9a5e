-- Non-blocking use: on_done, request handles, poll/wait/pending/close.
local hamsa = require "hamsa"
local retry = require "hamsa.retry"
local helpers = require "spec.helpers"

describe("hamsa non-blocking", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each, after_each },
        { retry_delay = 0.01, clean = "faults", client_per_test = true },
        function(s, c) server, client = s, c end)

    describe("on_done", function()
        it("returns a request handle at once and calls back from wait", function()
            local got = {}
            local req = client.agents:create({ agentName = "Async" }, {
                on_done = function(data, err, response) got[#got + 1] = { data, err, response } end,
            })
            assert.equal("hamsa.request", getmetatable(req).__name)
            assert.equal(0, #got)
            assert.equal(1, client:pending())
            assert.equal(0, client:wait(10))
            assert.equal(1, #got)
            assert.equal("Async", got[1][1].agentName)
            assert.is_nil(got[1][2])
            assert.equal(200, got[1][3].status)
            assert.is_true(req:done())
        end)

        it("runs exactly once per request", function()
            local n = 0
            client.agents:create({ agentName = "Once" }, { on_done = function() n = n + 1 end })
            client:wait(10)
            client:poll(0)
            client:wait(1)
            assert.equal(1, n)
        end)

        it("is driven by poll until nothing is pending", function()
            local done = 0
            for i = 1, 5 do
                client.agents:create({ agentName = "P" .. i }, { on_done = function(d) if d then done = done + 1 end end })
            end
            local turns = 0
            while client:poll(0.05) > 0 do
                turns = turns + 1
                assert.is_true(turns < 1000, "poll never finished")
            end
            assert.equal(5, done)
            assert.equal(0, client:pending())
        end)

        it("runs many requests at once over one client", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_connections = 8 })
            local ok = 0
            for i = 1, 40 do
                c.agents:create({ agentName = "Many" .. i }, { on_done = function(d) if d then ok = ok + 1 end end })
            end
            assert.equal(40, c:pending())
            assert.equal(0, c:wait(30))
            assert.equal(40, ok)
            assert.equal(40, #server:requests())
            c:close()
        end)

        it("delivers a validation failure through on_done and sends nothing", function()
            local got
            local req = client.agents:create({ agentName = "" }, { on_done = function(d, e) got = { d, e } end })
            assert.is_table(req)
            assert.is_nil(got)                  -- never from inside the call
            client:poll(0)
            assert.is_nil(got[1])
            assert.equal("invalid", got[2].kind)
            assert.equal("agentName", got[2].field)
            assert.equal(0, #server:requests())
        end)

        it("delivers a config error through on_done", function()
            local c = hamsa.new({ api_key = "", base_url = server.url })
            local got
            c.agents:create({ agentName = "x" }, { on_done = function(_, e) got = e end })
            c:poll(0)
            assert.equal("config", got.kind)
            c:close()
        end)

        it("delivers HTTP errors as err", function()
            local got
            client.agents:update("missing", { lang = "en" }, { on_done = function(d, e) got = { d, e } end })
            client:wait(10)
            assert.is_nil(got[1])
            assert.equal("not_found", got[2].kind)
        end)

        it("retries with timers, not sleeps", function()
            server:fault({ path = "/v1/voice-agents", status = 429, times = 2 })
            local got
            client.agents:create({ agentName = "Retry" }, { on_done = function(d, e, r) got = { d, e, r } end })
            client:wait(10)
            assert.equal("Retry", got[1].agentName)
            assert.equal(3, got[3].attempts)
        end)

        it("a blocking call meanwhile does not run other callbacks", function()
            local ran = false
            client.agents:create({ agentName = "Bg" }, { on_done = function() ran = true end })
            local agent = client.agents:create({ agentName = "Fg" })
            assert.equal("Fg", agent.agentName)
            assert.is_false(ran)
            client:wait(10)
            assert.is_true(ran)
        end)

        it("a callback may start another request", function()
            local second
            client.agents:create({ agentName = "First" }, { on_done = function(first)
                client.agents:clone(first.id, { agentName = "Second" }, { on_done = function(d) second = d end })
            end })
            client:wait(10)
            assert.equal("Second", second.agentName)
        end)
    end)

    describe("errors in on_done", function()
        it("do not stop the other callbacks; poll raises the first afterwards", function()
            local ran = 0
            for i = 1, 3 do
                client.agents:create({ agentName = "E" .. i }, { on_done = function()
                    ran = ran + 1
                    if i == 2 then error("boom in callback") end
                end })
            end
            local raised = {}
            local turns = 0
            while client:pending() > 0 do
                turns = turns + 1
                assert.is_true(turns < 1000)
                local ok, err = pcall(client.poll, client, 0.05)
                if not ok then raised[#raised + 1] = err end
            end
            assert.equal(3, ran)
            assert.equal(1, #raised)
            assert.matches("boom in callback", raised[1])
            assert.equal(0, client:pending())
            local agent = client.agents:create({ agentName = "Still works" })
            assert.equal("Still works", agent.agentName)
        end)

        it("go to on_error when the client has one", function()
            local seen = {}
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url,
                                  on_error = function(e, req) seen[#seen + 1] = { e, req } end })
            local req = c.agents:create({ agentName = "H" }, { on_done = function() error("handled") end })
            assert.equal(0, c:wait(10))
            assert.equal(1, #seen)
            assert.matches("handled", seen[1][1])
            assert.equal(req, seen[1][2])
            c:close()
        end)
    end)

    describe("cancel", function()
        it("delivers kind cancelled on the next poll", function()
            server:fault({ delay = 2 })
            local got
            local req = client.agents:create({ agentName = "C" }, { on_done = function(d, e) got = { d, e } end })
            client:poll(0)
            assert.is_true(req:cancel())
            assert.is_nil(got)
            client:poll(0)
            assert.is_nil(got[1])
            assert.equal("cancelled", got[2].kind)
            assert.is_false(req:cancel())
            assert.equal(0, client:pending())
        end)

        it("stops a request waiting for its retry", function()
            server:fault({ path = "/v1/voice-agents", status = 429, times = 5 })
            retry.BASE_DELAY = 5
            local got
            local req = client.agents:create({ agentName = "C" }, { on_done = function(_, e) got = e end })
            for _ = 1, 20 do
                client:poll(0.05)
                if #server:requests() >= 1 then break end
            end
            client:poll(0.1)
            assert.is_true(req:cancel())
            client:poll(0)
            retry.BASE_DELAY = 0.01
            assert.equal("cancelled", got.kind)
            assert.equal(1, #server:requests())
        end)

        it("returns false once the request is done", function()
            local req = client.agents:create({ agentName = "C" }, { on_done = function() end })
            client:wait(10)
            assert.is_false(req:cancel())
        end)
    end)

    describe("close", function()
        it("calls on_done at once, kind cancelled, for everything in flight", function()
            server:fault({ delay = 2, times = 3 })
            local got = {}
            for i = 1, 3 do
                client.agents:create({ agentName = "X" .. i }, { on_done = function(_, e) got[#got + 1] = e end })
            end
            client:poll(0)
            client:close()
            assert.equal(3, #got)
            for _, e in ipairs(got) do assert.equal("cancelled", e.kind) end
            assert.equal(0, client:pending())
        end)

        it("makes later requests fail with kind cancelled", function()
            client:close()
            local _, err = client.agents:create({ agentName = "late" })
            assert.equal("cancelled", err.kind)
            assert.equal(0, client:poll(0))
        end)

        it("is what __close does", function()
            if _VERSION ~= "Lua 5.4" then return end
            local got
            local chunk = load([[
                local hamsa, url, key, cb = ...
                local c <close> = hamsa.new({ api_key = key, base_url = url })
                c.agents:create({ agentName = "tbc" }, { on_done = cb })
            ]])
            server:fault({ delay = 2 })
            chunk(hamsa, server.url, server.api_key, function(_, e) got = e end)
            assert.equal("cancelled", got.kind)
        end)
    end)

    describe("poll", function()
        it("returns 0 at once with nothing in flight", function()
            assert.equal(0, client:poll(0))
            assert.equal(0, client:poll(1))
        end)

        it("raises on a negative wait", function()
            assert.is_false((pcall(client.poll, client, -1)))
        end)

        it("wait gives up after its timeout and reports what is left", function()
            server:fault({ delay = 2 })
            client.agents:create({ agentName = "slow" }, { on_done = function() end })
            assert.equal(1, client:wait(0.2))
        end)
    end)
end)

describe("hamsa event-loop integration", function()
    local socket = require "socket"
    local client
    helpers.mock_suite({ setup, teardown }, { mock = { latency = 0.05 }, client = {} },
        function(_, c) client = c end)

    it("timeout() is nil with nothing in flight", function()
        assert.is_nil(client:timeout())
        assert.same({}, client:sockets())
    end)

    it("drives requests from a socket.select loop on sockets() and timeout()", function()
        local done = 0
        for i = 1, 5 do
            client.agents:create({ agentName = "Loop" .. i }, { on_done = function(d) if d then done = done + 1 end end })
        end
        local saw_socket = false
        local turns = 0
        while client:pending() > 0 do
            turns = turns + 1
            assert.is_true(turns < 2000, "the loop never finished")
            local r, w = {}, {}
            for fd, what in pairs(client:sockets()) do
                saw_socket = true
                -- socket.select takes anything with getfd()
                local wrapped = { getfd = function() return fd end, dirty = function() return false end }
                if what:find("r") then r[#r + 1] = wrapped end
                if what:find("w") then w[#w + 1] = wrapped end
            end
            local t = client:timeout()
            socket.select(r, w, t and math.min(t, 1) or 1)
            client:poll(0)
        end
        assert.equal(5, done)
        assert.is_true(saw_socket, "sockets() never listed a socket")
    end)

    it("timeout() is 0 when callbacks are waiting to run", function()
        client.agents:create({ agentName = "" }, { on_done = function() end })   -- fails at once
        assert.equal(0, client:timeout())
        client:poll(0)
        assert.is_nil(client:timeout())
    end)
end)
