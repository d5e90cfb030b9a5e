-- agents:get, the route added as one row of hamsa.routes (plus its mock
-- handler; it has no body, so no rule set): GET /v1/voice-agents/<id>
-- against the mock over real sockets, blocking, with on_done, and each of
-- its misuses.
local helpers = require "spec.helpers"

describe("agents:get", function()
    local server, client

    helpers.mock_suite({ setup, teardown, before_each }, { client = {}, clean = "log" },
        function(s, c) server, client = s, c end)

    it("reads back the agent that create made", function()
        local made = assert(client.agents:create({ agentName = "Sara", lang = "ar", silenceThreshold = 800 }))
        server:clear()
        local got, res = client.agents:get(made.id)
        assert.is_table(got, tostring(res))
        assert.equal(made.id, got.id)
        assert.equal("Sara", got.agentName)
        assert.equal(800, got.silenceThreshold)
        assert.equal(200, res.status)
        local log = server:requests()
        assert.equal(1, #log)
        assert.equal("GET", log[1].method)
        assert.equal("/v1/voice-agents/" .. made.id, log[1].path)
        assert.equal("", log[1].body)
        assert.is_nil(log[1].headers["idempotency-key"])   -- a GET carries none
    end)

    it("percent-encodes the id as one path segment", function()
        local got, err = client.agents:get("a b/c?d")
        assert.is_nil(got)
        assert.equal("not_found", err.kind)
        assert.equal(404, err.status)
        assert.equal("VOICE_AGENT_NOT_FOUND", err.code)
        assert.equal("/v1/voice-agents/a%20b%2Fc%3Fd", server:requests()[1].path)
    end)

    it("refuses an id that is empty or a dot segment, before sending", function()
        for _, id in ipairs({ "", ".", ".." }) do
            local got, err = client.agents:get(id)
            assert.is_nil(got)
            assert.equal("invalid", err.kind)
            assert.equal("voiceAgentId", err.field)
        end
        assert.equal(0, #server:requests())
    end)

    it("raises on misuse at the caller's line", function()
        local line = debug.getinfo(1, "l").currentline
        local ok, msg = pcall(function() client.agents:get(42) end)
        assert.is_false(ok)
        assert.equal("spec/32-agents_get_spec.lua:" .. (line + 1) .. ": agents:get: voiceAgentId must be a string",
            msg)
        assert.has_error(function() client.agents.get("x") end,
            "use client.agents:get(...) (with a colon)")
        assert.error_matches(function() client.agents:get("x", { bogus = 1 }) end, "unknown option 'bogus'")
    end)

    it("completes through on_done and poll", function()
        local made = assert(client.agents:create({ agentName = "Lina" }))
        local seen
        local req = client.agents:get(made.id, { on_done = function(data, err) seen = { data, err } end })
        assert.equal("hamsa.request", getmetatable(req).__name)
        assert.equal(0, client:wait(5))
        assert.is_nil(seen[2])
        assert.equal("Lina", seen[1].agentName)
    end)
end)
