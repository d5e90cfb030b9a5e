-- The retry rules, proved by counting what the server received: a request
-- that may have reached the server is never sent twice unless it is
-- idempotent; what was refused before acting is retried within max_retries.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

describe("hamsa retries", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each },
        { retry_delay = 0.01, client = { max_retries = 2 }, clean = "faults" },
        function(s, c) server, client = s, c end)

    local function count(path)
        local n = 0
        for _, r in ipairs(server:requests()) do
            if not path or r.path == path then n = n + 1 end
        end
        return n
    end

    local agent_id
    local function stored_agent()
        if not agent_id then
            agent_id = assert(client.agents:create({ agentName = "Retry target" })).id
        end
        server:clear()
        return agent_id
    end

    local CALL = "/v1/voice-agents/twilio/call"
    local PHONE = "/v1/voice-agents/phone-number/call"

    local function twilio(opts)
        return client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                                     voiceAgentId = stored_agent() }, opts)
    end

    local function phone(opts)
        return client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+97145551234",
                                           voiceAgentId = stored_agent() }, opts)
    end

    describe("POST that may have reached the server", function()
        it("a /twilio/call that times out is sent once", function()
            stored_agent()
            server:fault({ path = CALL, delay = 1.5 })
            local _, err = twilio({ timeout = 0.3 })
            assert.equal("timeout", err.kind)
            assert.equal(1, err.attempts)
            assert.equal(1, count(CALL))
        end)

        it("a /phone-number/call that times out is sent once", function()
            stored_agent()
            server:fault({ path = PHONE, delay = 1.5 })
            local _, err = phone({ timeout = 0.3 })
            assert.equal("timeout", err.kind)
            assert.equal(1, count(PHONE))
        end)

        for _, status in ipairs({ 500, 502, 504 }) do
            it("a call answered " .. status .. " is sent once", function()
                stored_agent()
                server:fault({ path = CALL, status = status, times = 3 })
                local _, err = twilio()
                assert.equal("server", err.kind)
                assert.equal(status, err.status)
                assert.is_true(err.retryable)        -- the caller may decide to
                assert.equal(1, err.attempts)
                assert.equal(1, count(CALL))
            end)
        end

        it("a call whose connection resets is sent once", function()
            stored_agent()
            server:fault({ path = PHONE, action = "reset", times = 3 })
            local _, err = phone()
            assert.equal("network", err.kind)
            assert.equal(1, count(PHONE))
        end)

        it("a create that times out is sent once", function()
            server:fault({ path = "/v1/voice-agents", delay = 1.5 })
            local _, err = client.agents:create({ agentName = "x" }, { timeout = 0.3 })
            assert.equal("timeout", err.kind)
            assert.equal(1, count("/v1/voice-agents"))
        end)

        it("a clone answered 500 is sent once", function()
            local id = stored_agent()
            server:fault({ path = "/v1/voice-agents/clone", status = 500, times = 3 })
            local _, err = client.agents:clone(id)
            assert.equal("server", err.kind)
            assert.equal(1, count("/v1/voice-agents/clone"))
        end)

        it("a clone cut mid-body is sent once", function()
            local id = stored_agent()
            server:fault({ path = "/v1/voice-agents/clone", action = "close_mid_body", times = 3 })
            local _, err = client.agents:clone(id)
            assert.equal("network", err.kind)
            assert.equal(1, count("/v1/voice-agents/clone"))
        end)
    end)

    describe("refused before acting", function()
        local RA = { ["Retry-After"] = "0" }

        it("a 503 with Retry-After on create is retried and then succeeds", function()
            server:fault({ path = "/v1/voice-agents", status = 503, times = 2, headers = RA })
            local agent, response = client.agents:create({ agentName = "After 503" })
            assert.is_table(agent)
            assert.equal(3, response.attempts)
            assert.equal(3, count("/v1/voice-agents"))
        end)

        it("a bare 503 on create is not sent again: a gateway may have forwarded it", function()
            server:fault({ path = "/v1/voice-agents", status = 503, times = 2 })
            local _, err = client.agents:create({ agentName = "Bare 503" })
            assert.equal("server", err.kind)
            assert.equal(503, err.status)
            assert.is_true(err.retryable)
            assert.equal(1, err.attempts)
            assert.equal(1, count("/v1/voice-agents"))
        end)

        it("a bare 503 on a phone call reaches the server once", function()
            local id = stored_agent()
            server:fault({ path = CALL, status = 503, times = 5 })
            local _, err = client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                                                 voiceAgentId = id })
            assert.equal(503, err.status)
            assert.equal(1, count(CALL))
        end)

        it("a bare 503 on PATCH is retried (idempotent)", function()
            local id = stored_agent()
            server:fault({ path = "/v1/voice-agents/" .. id, status = 503, times = 2 })
            local agent, response = client.agents:update(id, { lang = "en" })
            assert.is_table(agent)
            assert.equal(3, response.attempts)
        end)

        it("every attempt carries the same Idempotency-Key", function()
            server:fault({ path = "/v1/voice-agents", status = 503, times = 2, headers = RA })
            client.agents:create({ agentName = "Same key" })
            local log = server:requests()
            assert.equal(3, #log)
            assert.equal(log[1].headers["idempotency-key"], log[2].headers["idempotency-key"])
            assert.equal(log[1].headers["idempotency-key"], log[3].headers["idempotency-key"])
        end)

        it("a 503 with Retry-After that persists gives up after max_retries", function()
            server:fault({ path = "/v1/voice-agents", status = 503, times = 10, headers = RA })
            local _, err = client.agents:create({ agentName = "x" })
            assert.equal("server", err.kind)
            assert.equal(3, err.attempts)
            assert.equal(3, count("/v1/voice-agents"))
        end)

        it("a 429 on a call is retried, honouring Retry-After in seconds", function()
            stored_agent()
            server:fault({ path = CALL, status = 429, headers = { ["Retry-After"] = "0.2" } })
            local job, response = twilio()
            assert.is_table(job)
            assert.equal(2, response.attempts)
            assert.equal(2, count(CALL))
        end)

        it("a 429 with an HTTP-date Retry-After is retried", function()
            server:fault({ path = "/v1/voice-agents", status = 429,
                           headers = { ["Retry-After"] = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 1) } })
            local agent, response = client.agents:create({ agentName = "Dated" })
            assert.is_table(agent)
            assert.equal(2, response.attempts)
        end)

        it("a 429 asking for more than 60 s comes back at once, retryable", function()
            server:fault({ path = "/v1/voice-agents", status = 429, headers = { ["Retry-After"] = "3600" } })
            local _, err = client.agents:create({ agentName = "x" })
            assert.equal("rate_limited", err.kind)
            assert.is_true(err.retryable)
            assert.equal(1, err.attempts)
            assert.equal(1, count("/v1/voice-agents"))
        end)

        it("connection refused is retried within max_retries", function()
            local c = hamsa.new({ api_key = "k", base_url = "http://127.0.0.1:" .. helpers.free_port(),
                                  max_retries = 2 })
            local _, err = c.agents:create({ agentName = "x" })
            assert.equal("network", err.kind)
            assert.equal(3, err.attempts)
            c:close()
        end)

        it("a POST whose connect timed out is retried (it never reached the server)", function()
            local port, release = helpers.unaccepting_port()
            local c = hamsa.new({ api_key = "k", base_url = "http://127.0.0.1:" .. port, connect_timeout = 0.2,
                                  max_retries = 2 })
            local _, err = c.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                                            voiceAgentId = "x" })
            assert.equal("timeout", err.kind)
            assert.equal(3, err.attempts)
            c:close()
            release()
        end)

        it("max_retries = 0 means one attempt", function()
            server:fault({ path = "/v1/voice-agents", status = 429, times = 5 })
            local _, err = client.agents:create({ agentName = "x" }, { max_retries = 0 })
            assert.equal(1, err.attempts)
            assert.equal(1, count("/v1/voice-agents"))
        end)
    end)

    describe("idempotent requests", function()
        it("a PATCH that times out is retried", function()
            local id = stored_agent()
            server:fault({ path = "/v1/voice-agents/" .. id, delay = 1.5 })
            local agent, response = client.agents:update(id, { lang = "en" }, { timeout = 0.4 })
            assert.is_table(agent)
            assert.equal(2, response.attempts)
            assert.equal(2, count("/v1/voice-agents/" .. id))
        end)

        it("a PATCH answered 500 or 502 is retried", function()
            local id = stored_agent()
            server:fault({ { path = "/v1/voice-agents/" .. id, status = 500 },
                           { path = "/v1/voice-agents/" .. id, status = 502 } })
            local agent, response = client.agents:update(id, { lang = "ar" })
            assert.is_table(agent)
            assert.equal(3, response.attempts)
        end)

        it("a PATCH answered 408 is retried", function()
            local id = stored_agent()
            server:fault({ path = "/v1/voice-agents/" .. id, status = 408 })
            local _, response = client.agents:update(id, { lang = "ar" })
            assert.equal(2, response.attempts)
        end)

        it("a GET cut mid-body is retried", function()
            server:fault({ path = "/v1/voice-agents", method = "GET", action = "close_mid_body" })
            local data, response = client:request("GET", "/v1/voice-agents")
            assert.is_table(data)
            assert.equal(2, response.attempts)
        end)

        it("a 400 on PATCH is never retried", function()
            local id = stored_agent()
            server:fault({ path = "/v1/voice-agents/" .. id, status = 400, times = 3 })
            local _, err = client.agents:update(id, { lang = "ar" })
            assert.equal("api", err.kind)
            assert.equal(1, count("/v1/voice-agents/" .. id))
        end)

        it("a 404 on PATCH is never retried", function()
            local _, err = client.agents:update("missing-id", { lang = "ar" })
            assert.equal("not_found", err.kind)
            assert.equal(1, count())
        end)
    end)

    describe("logger", function()
        it("reports each retry", function()
            local lines = {}
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url,
                                  logger = function(level, msg) lines[#lines + 1] = level .. " " .. msg end })
            server:fault({ path = "/v1/voice-agents", status = 503, headers = { ["Retry-After"] = "0" } })
            c.agents:create({ agentName = "Logged" })
            local text = table.concat(lines, "\n")
            assert.matches("attempt 1", text)
            assert.matches("retrying in", text)
            assert.matches("attempt 2", text)
            c:close()
        end)
    end)
end)
