-- Secrets stay secret: the API key never shows in an error, a tostring, a
-- log line or the debug output, even when a server echoes it back.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

local KEY = "test-key-SECRET-5f1c9a"

local function contains_key(v, seen)
    seen = seen or {}
    if type(v) == "string" then return v:find(KEY, 1, true) ~= nil end
    if type(v) ~= "table" or seen[v] then return false end
    seen[v] = true
    for k, x in pairs(v) do
        if contains_key(k, seen) or contains_key(x, seen) then return true end
    end
    return false
end

describe("hamsa secrets", function()
    local server, client
    local lines = {}
    helpers.mock_suite({ setup, teardown, before_each }, {
        mock = { api_key = KEY }, clean = "faults",
        client = { max_retries = 1, logger = function(level, msg) lines[#lines + 1] = level .. " " .. msg end },
    }, function(s, c) server, client = s, c end)

    it("the key is sent (the specs would prove nothing otherwise)", function()
        assert.is_table(client.agents:create({ agentName = "x" }))
        assert.equal("Token " .. KEY, server:requests()[1].headers["authorization"])
    end)

    it("an error whose message echoes the key is redacted", function()
        server:fault({ status = 401, body = '{"success":false,"message":"bad key ' .. KEY .. '","messageKey":"' .. KEY .. '"}' })
        local _, err = client.agents:create({ agentName = "x" })
        assert.equal("auth", err.kind)
        assert.matches("bad key [REDACTED]", err.message, 1, true)
        assert.is_false(contains_key(err.message))
        assert.is_false(contains_key(err.code))
        assert.is_false(contains_key(tostring(err)))
    end)

    it("the decoded body, raw body and headers of an error are redacted", function()
        server:fault({ status = 400, headers = { ["X-Echo"] = "Token " .. KEY },
                       body = '{"message":"nope","echo":{"auth":"Token ' .. KEY .. '"}}' })
        local _, err, response = client.agents:create({ agentName = "x" })
        assert.equal("api", err.kind)
        assert.equal("Token [REDACTED]", err.body.echo.auth)
        assert.equal("Token [REDACTED]", err.headers["x-echo"])
        assert.is_false(contains_key(err))
        assert.is_false(contains_key(response))
    end)

    it("a non-JSON error body echoing the key is redacted too", function()
        server:fault({ status = 502, body = "<html>upstream said " .. KEY .. "</html>", content_type = "text/html" })
        local _, err, response = client.agents:create({ agentName = "x" })
        assert.equal("server", err.kind)
        assert.is_false(contains_key(err))
        assert.is_false(contains_key(response.body))
    end)

    it("network errors do not carry the key", function()
        local c = hamsa.new({ api_key = KEY, base_url = "http://127.0.0.1:" .. helpers.free_port(), max_retries = 0 })
        local _, err = c.agents:create({ agentName = "x" })
        assert.equal("network", err.kind)
        assert.is_false(contains_key(err))
        assert.is_false(contains_key(tostring(err)))
        c:close()
    end)

    it("validation errors do not carry secret values", function()
        local _, err = client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
            voiceAgentId = "x", webhookAuth = { authKey = "Token", authSecret = 42 } })
        assert.equal("invalid", err.kind)
        assert.equal("webhookAuth.authSecret", err.field)
    end)

    it("tostring of the client and its requests never shows the key", function()
        assert.is_false(contains_key(tostring(client)))
        local req = client.agents:create({ agentName = "x" }, { on_done = function() end })
        assert.is_false(contains_key(tostring(req)))
        client:wait(5)
    end)

    it("the logger never receives the key", function()
        server:fault({ status = 503, body = '{"message":"' .. KEY .. '"}' })
        client.agents:create({ agentName = "x" })
        assert.is_true(#lines > 0)
        for _, l in ipairs(lines) do assert.is_false(contains_key(l), l) end
    end)

    it("HAMSA_LOG=debug writes to stderr without the key", function()
        local out = helpers.run_lua(([[
            local hamsa = require "hamsa"
            local c = hamsa.new({ api_key = %q, base_url = %q })
            assert(c.agents:create({ agentName = "logged" }))
            c:close()
        ]]):format(KEY, server.url), "HAMSA_LOG=debug")
        assert.matches("hamsa debug: POST /v1/voice%-agents: attempt 1", out)
        assert.is_nil(out:find(KEY, 1, true))
    end)

    describe("transport", function()
        it("refuses to send the key over plain http to a remote host", function()
            local c = hamsa.new({ api_key = KEY, base_url = "http://api.tryhamsa.com" })
            local _, err = c.agents:create({ agentName = "x" })
            assert.equal("config", err.kind)
            assert.is_false(contains_key(err))
            c:close()
        end)

        it("allows plain http to localhost", function()
            local port = server.url:match(":(%d+)$")
            local c = hamsa.new({ api_key = KEY, base_url = "http://localhost:" .. port })
            local data, err = c.agents:create({ agentName = "local" })
            assert.is_table(data, tostring(err))
            c:close()
        end)

        it("raises on an api_key with a line break", function()
            local ok, err = pcall(hamsa.new, { api_key = "k\r\nX-Evil: 1" })
            assert.is_false(ok)
            assert.matches("api_key must not contain", err)
        end)

        it("raises on an idempotency_key with a line break", function()
            local ok, err = pcall(client.agents.create, client.agents, { agentName = "x" },
                                  { idempotency_key = "a\nb" })
            assert.is_false(ok)
            assert.matches("idempotency_key", err)
            assert.equal(0, #server:requests())
        end)
    end)
end)
