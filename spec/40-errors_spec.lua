-- Every error kind, from a misbehaving server under the specs' control:
-- the kind, status, code, message, body and retryable of each, and that the
-- client still works afterwards.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

describe("hamsa errors", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, {
        retry_delay = 0.01,            -- keep backoff short in specs
        client = { max_retries = 0 }, clean = "faults",
    }, function(s, c) server, client = s, c end)

    -- after every failure the same client must still do real work
    local function still_usable()
        local agent, err = client.agents:create({ agentName = "After" })
        assert.is_table(agent, tostring(err))
        assert.equal("After", agent.agentName)
    end

    local function create()
        return client.agents:create({ agentName = "Sara" })
    end

    describe("auth", function()
        it("a wrong key is kind auth with the API's message and code", function()
            local c = hamsa.new({ api_key = "wrong-key-123", base_url = server.url })
            local data, err = c.agents:create({ agentName = "x" })
            assert.is_nil(data)
            assert.equal("auth", err.kind)
            assert.equal(401, err.status)
            assert.equal("UNAUTHORIZED", err.code)
            assert.matches("invalid API key", err.message)
            assert.is_false(err.retryable)
            assert.equal(false, err.body.success)
            c:close()
        end)

        it("403 is kind auth", function()
            server:fault({ status = 403, body = '{"success":false,"message":"Forbidden project","messageKey":"FORBIDDEN"}' })
            local _, err = create()
            assert.equal("auth", err.kind)
            assert.equal(403, err.status)
            assert.equal("FORBIDDEN", err.code)
            still_usable()
        end)
    end)

    describe("api", function()
        it("400 with the API's message is kind api", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url, validate = false })
            local _, err = c.agents:create({})
            assert.equal("api", err.kind)
            assert.equal(400, err.status)
            assert.equal("VALIDATION_ERROR", err.code)
            assert.matches("^agentName is required %(HTTP 400 Bad Request on POST /v1/voice%-agents%)$", err.message)
            assert.is_false(err.retryable)
            c:close()
        end)

        it("422 with a list of messages joins them", function()
            server:fault({ status = 422, body = '{"message":["a is bad","b is bad"],"error":"Unprocessable"}' })
            local _, err = create()
            assert.equal("api", err.kind)
            assert.matches("^a is bad; b is bad", err.message)
            still_usable()
        end)

        it("a 2xx envelope with success = false and no data is kind api", function()
            server:fault({ status = 200, body = '{"success":false,"message":"Quota exceeded","messageKey":"QUOTA"}' })
            local data, err = create()
            assert.is_nil(data)
            assert.equal("api", err.kind)
            assert.equal(200, err.status)
            assert.equal("QUOTA", err.code)
            assert.matches("Quota exceeded", err.message)
            still_usable()
        end)

        it("a 2xx envelope with success = false but data is a success (docs artefact)", function()
            server:fault({ status = 200, body = '{"success":false,"message":"success","data":{"id":"a1"}}' })
            local data = create()
            assert.same({ id = "a1" }, data)
        end)

        it("a redirect is not followed and is kind api", function()
            server:fault({ status = 302, body = "", headers = { Location = "http://127.0.0.1:1/steal" } })
            local _, err = create()
            assert.equal("api", err.kind)
            assert.equal(302, err.status)
            assert.equal(1, #server:requests())
            still_usable()
        end)
    end)

    describe("not_found", function()
        it("404 is kind not_found", function()
            local _, err = client.agents:update("00000000-0000-4000-8000-000000000000", { lang = "en" })
            assert.equal("not_found", err.kind)
            assert.equal(404, err.status)
            assert.equal("VOICE_AGENT_NOT_FOUND", err.code)
            assert.matches("PATCH /v1/voice%-agents/", err.message)
        end)
    end)

    describe("rate_limited", function()
        it("429 is kind rate_limited and retryable", function()
            server:fault({ status = 429, headers = { ["Retry-After"] = "1" } })
            local _, err = create()
            assert.equal("rate_limited", err.kind)
            assert.equal(429, err.status)
            assert.is_true(err.retryable)
            assert.equal("1", err.headers["retry-after"])
            still_usable()
        end)
    end)

    describe("server", function()
        local bodies = {
            { "JSON", '{"success":false,"message":"Database unavailable","messageKey":"DB_DOWN"}', "application/json",
              "Database unavailable", "DB_DOWN" },
            { "HTML", "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html",
              "the API answered with an error", nil },
            { "empty", "", "text/plain", "the API answered with an error", nil },
        }
        for _, status in ipairs({ 500, 502, 503, 504 }) do
            for _, b in ipairs(bodies) do
                it(status .. " with a " .. b[1] .. " body is kind server", function()
                    server:fault({ status = status, body = b[2], content_type = b[3] })
                    local data, err = create()
                    assert.is_nil(data)
                    assert.equal("server", err.kind)
                    assert.equal(status, err.status)
                    assert.equal(b[5], err.code)
                    assert.matches(b[4], err.message, 1, true)
                    assert.matches("HTTP " .. status, err.message, 1, true)
                    assert.is_true(err.retryable)
                    if b[1] == "JSON" then assert.equal("DB_DOWN", err.body.messageKey) else assert.is_nil(err.body) end
                    still_usable()
                end)
            end
        end

        it("501 is not retryable", function()
            server:fault({ status = 501 })
            local _, err = create()
            assert.equal("server", err.kind)
            assert.is_false(err.retryable)
        end)
    end)

    describe("decode", function()
        it("a 200 with malformed JSON is kind decode with the byte offset", function()
            server:fault({ status = 200, body = '{"success":true,"data":{"id":' })
            local data, err = create()
            assert.is_nil(data)
            assert.equal("decode", err.kind)
            assert.equal(200, err.status)
            assert.matches("not JSON", err.message)
            assert.matches("byte", err.message)
            assert.is_false(err.retryable)
            still_usable()
        end)

        it("a 200 with HTML is kind decode", function()
            server:fault({ status = 200, body = "<html>hi</html>", content_type = "text/html" })
            local _, err = create()
            assert.equal("decode", err.kind)
            still_usable()
        end)

        it("a 200 whose JSON is not an envelope is kind decode", function()
            server:fault({ status = 200, body = "[1,2,3]" })
            local _, err = create()
            assert.equal("decode", err.kind)
            assert.matches("not a Hamsa envelope", err.message)
        end)

        it("a body over max_response_bytes is refused", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_response_bytes = 64 })
            local _, err = c.agents:create({ agentName = "A long enough name to pass 64 bytes of answer" })
            assert.equal("decode", err.kind)
            assert.equal("RESPONSE_TOO_LARGE", err.code)
            assert.matches("larger than 64 bytes", err.message)
            c:close()
        end)
    end)

    describe("network", function()
        it("connection refused is kind network, retryable", function()
            local c = hamsa.new({ api_key = "k", base_url = "http://127.0.0.1:" .. helpers.free_port(), max_retries = 0 })
            local data, err = c.agents:create({ agentName = "x" })
            assert.is_nil(data)
            assert.equal("network", err.kind)
            assert.equal("CURLE_COULDNT_CONNECT", err.code)
            assert.is_nil(err.status)
            assert.is_true(err.retryable)
            c:close()
        end)

        it("an unknown host is kind network", function()
            local c = hamsa.new({ api_key = "k", base_url = "http://no-such-host.invalid", max_retries = 0,
                                  allow_insecure_http = true })
            local _, err = c.agents:create({ agentName = "x" })
            assert.equal("network", err.kind)
            assert.equal("CURLE_COULDNT_RESOLVE_HOST", err.code)
            c:close()
        end)

        it("a reset before the answer is kind network", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_retries = 0 })
            server:fault({ action = "reset" })
            local _, err = c.agents:create({ agentName = "x" })     -- on a new connection
            assert.equal("network", err.kind)
            assert.truthy(err.code == "CURLE_RECV_ERROR" or err.code == "CURLE_GOT_NOTHING", err.code)
            assert.is_nil(err.status)
            assert.is_true(err.retryable)
            c:close()
            still_usable()
        end)

        it("a reset on a kept-alive connection is not re-sent by libcurl", function()
            still_usable()                                          -- opens the connection
            server:clear()
            server:fault({ action = "reset" })
            local _, err = create()                                 -- reuses it
            assert.equal("network", err.kind)
            assert.equal("CURLE_SEND_FAIL_REWIND", err.code)
            assert.matches("may have acted on it", err.message)
            assert.equal(1, #server:requests())
            still_usable()
        end)

        it("a close in the middle of the body is kind network", function()
            server:fault({ action = "close_mid_body" })
            local _, err = create()
            assert.equal("network", err.kind)
            assert.equal("CURLE_PARTIAL_FILE", err.code)
            still_usable()
        end)
    end)

    describe("timeout", function()
        it("a slow answer is kind timeout", function()
            server:fault({ delay = 2 })
            local _, err = client.agents:create({ agentName = "x" }, { timeout = 0.3 })
            assert.equal("timeout", err.kind)
            assert.equal("CURLE_OPERATION_TIMEDOUT", err.code)
            assert.is_true(err.retryable)
            still_usable()
        end)

        it("a stalled drip is caught by stall_timeout", function()
            server:fault({ action = "drip", interval = 1.5 })
            local _, err = client.agents:create({ agentName = "x" }, { stall_timeout = 1, timeout = 20 })
            assert.equal("timeout", err.kind)
            still_usable()
        end)

        it("a connect timeout is kind timeout", function()
            local port, release = helpers.unaccepting_port()
            local c = hamsa.new({ api_key = "k", base_url = "http://127.0.0.1:" .. port, connect_timeout = 0.2,
                                  max_retries = 0 })
            local _, err = c.agents:create({ agentName = "x" })
            assert.equal("timeout", err.kind)
            assert.equal("CURLE_OPERATION_TIMEDOUT", err.code)
            assert.is_nil(err.status)
            c:close()
            release()
        end)
    end)

    describe("config", function()
        it("a malformed HAMSA_BASE_URL is kind config, not a raise", function()
            -- simulated: the same path a bad environment variable takes
            local c = hamsa.new({ api_key = "k", base_url = "http://example.com" })
            local _, err = c.agents:create({ agentName = "x" })
            assert.equal("config", err.kind)
            assert.is_false(err.retryable)
            c:close()
        end)
    end)
end)
