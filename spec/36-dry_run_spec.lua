-- opts.dry_run: a request is validated and built, then shown instead of
-- sent. The mock counts what reaches it, so "sends nothing" is counted on
-- the server side; the key never shows in the preview.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

local KEY = "dry-run-KEY-7f3a"

describe("opts.dry_run", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, { mock = { api_key = KEY }, client = {}, clean = "reset" },
        function(s, c) server, client = s, c end)

    local function no_key_in(v, seen)
        seen = seen or {}
        if type(v) == "string" then
            assert.is_nil(v:find(KEY, 1, true), "the key shows in " .. v)
        elseif type(v) == "table" and not seen[v] then
            seen[v] = true
            for k, x in pairs(v) do no_key_in(k, seen); no_key_in(x, seen) end
        end
    end

    it("returns what a POST would send: method, URL, header lines (key cut, one Idempotency-Key), exact body", function()
        local body = { agentName = "Sara", pokeMessages = {}, silenceThreshold = 800 }
        local p, response = client.agents:create(body, { dry_run = true })
        assert.is_table(p, tostring(response))
        assert.same({ dry_run = true, attempts = 0, headers = {} }, response)
        assert.equal("POST", p.method)
        assert.equal(server.url .. "/v1/voice-agents", p.url)
        assert.equal("Authorization: Token [REDACTED]", p.headers[1])
        local idem = 0
        for _, line in ipairs(p.headers) do
            if line:match("^Idempotency%-Key: %x+%-") then idem = idem + 1 end
        end
        assert.equal(1, idem)
        -- the body as the wire would carry it: prepared (pokeMessages an array), the caller's table unchanged
        assert.same({ agentName = "Sara", pokeMessages = {}, silenceThreshold = 800 }, hamsa.json.decode(p.body))
        assert.matches('"pokeMessages":%[%]', p.body)
        assert.same({ agentName = "Sara", pokeMessages = {}, silenceThreshold = 800 }, body)
        no_key_in({ p, response })
        assert.equal(0, #server:requests())
    end)

    it("GET with ids and a query: the percent-encoded path and the sorted query, no body", function()
        local p = assert(client.conversations:list({ status = { "FAILED", "NO_ANSWER" }, perPage = 5 },
            { dry_run = true }))
        assert.equal(server.url .. "/v1/voice-agents/conversations/minimal-list?perPage=5&status=FAILED&status=NO_ANSWER",
            p.url)
        assert.is_nil(p.body)
        p = assert(client.agents:get("a b/c", { dry_run = true }))
        assert.equal(server.url .. "/v1/voice-agents/a%20b%2Fc", p.url)
        assert.equal(0, #server:requests())
    end)

    it("refuses an invalid body exactly as a real send would, naming the field", function()
        local p, err = client.agents:update("id-1", { pokeMessages = { "a", 5 } }, { dry_run = true })
        assert.is_nil(p)
        assert.equal("invalid", err.kind)
        assert.equal("pokeMessages[2]", err.field)
        assert.equal(0, #server:requests())
    end)

    it("with on_done: the preview comes from the next poll, like any result", function()
        local got
        client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+97145551234",
            voiceAgentId = "agent-1" }, { dry_run = true, on_done = function(d, e, r) got = { d, e, r } end })
        assert.is_nil(got)
        assert.equal(1, client:pending())
        client:wait(1)
        assert.is_table(got)
        assert.equal("POST", got[1].method)
        assert.is_nil(got[2])
        assert.is_true(got[3].dry_run)
        assert.same({}, hamsa.json.decode(got[1].body).params)
        assert.equal(0, #server:requests())
    end)

    it("client:request honours it too; each and wait refuse it (they would send many requests)", function()
        local p = assert(client:request("DELETE", "/v1/x", nil, { dry_run = true }))
        assert.equal("DELETE", p.method)
        assert.has_error(function() client.agents:each(nil, { dry_run = true }) end,
            "agents:each: each takes no dry_run (it sends as many requests as there are pages)")
        assert.has_error(function() client.conversations:wait("c1", { dry_run = true }) end)
        assert.equal(0, #server:requests())
    end)

    it("a client without a key says so rather than previewing a request that would fail", function()
        local c = hamsa.new{ base_url = server.url, api_key = "" }
        local p, err = c.agents:list(nil, { dry_run = true })
        assert.is_nil(p)
        assert.equal("config", err.kind)
        c:close()
    end)
end)
