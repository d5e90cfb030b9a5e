-- Many requests over one client run at once, up to the connection cap.
-- Proved on the server side (how many requests it was answering at the
-- same moment), never by timing. examples/concurrency.lua prints the
-- wall-time figure of the 200 x 0.5 s run.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

describe("hamsa concurrency", function()
    local server
    helpers.mock_suite({ setup, teardown, before_each }, { mock = { latency = 0.5 }, clean = "log" },
        function(s) server = s end)

    local function run(n, cap)
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_connections = cap })
        local ok = 0
        for i = 1, n do
            c.agents:create({ agentName = "C" .. i }, { on_done = function(d) if d then ok = ok + 1 end end })
        end
        local left = c:wait(60)
        c:close()
        return ok, left
    end

    it("200 slow requests all complete, up to 200 at a time", function()
        local ok, left = run(200, 200)
        assert.equal(0, left)
        assert.equal(200, ok)
        local stats = server:stats()
        assert.equal(200, stats.requests)
        -- all of them were being answered at once at some moment
        assert.equal(200, stats.max_inflight)
    end)

    it("the connection cap bounds how many run at once", function()
        local ok, left = run(60, 16)
        assert.equal(0, left)
        assert.equal(60, ok)
        assert.equal(16, server:stats().max_inflight)
    end)

    it("tasks written sequentially overlap too", function()
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url })
        for i = 1, 20 do
            c:spawn(function() assert(c.agents:create({ agentName = "S" .. i })) end)
        end
        assert.equal(0, c:run(60))
        c:close()
        assert.equal(20, server:stats().max_inflight)
    end)
end)
