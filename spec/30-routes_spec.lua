-- The five routes (and the escape hatch) against the mock over real
-- sockets: method, path, query, headers and exact body on the wire.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local cjson = require "cjson"

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

describe("hamsa routes", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, { client = {}, clean = "log" },
        function(s, c) server, client = s, c end)

    -- the one request the server saw since before_each
    local function only_request()
        local log = server:requests()
        assert.equal(1, #log, "expected exactly one request, got " .. #log)
        return log[1]
    end

    local function new_agent(name)
        return assert(client.agents:create({ agentName = name or "Sara" }))
    end

    describe("agents:create", function()
        local body = {
            agentName = "Sara",
            lang = "ar",
            greetingMessage = "مرحبا {{name}}",
            preamble = "You are Sara.",
            pokeMessages = { "هل ما زلت معي؟", "Hello?" },
            silenceThreshold = 800,
            interrupt = true,
            realTime = false,
            tools = { smartCallEnd = true, genderDetection = false },
            params = { name = "Customer" },
            freeSlots = { Monday = { { from = "09:00", to = "12:00" } } },
            customField = { nested = { 1, 2, 3 } },
        }

        it("POSTs /v1/voice-agents with the body as JSON", function()
            local data = client.agents:create(body)
            assert.is_table(data)
            local req = only_request()
            assert.equal("POST", req.method)
            assert.equal("/v1/voice-agents", req.path)
            assert.equal("", req.query)
            assert.same(body, cjson.decode(req.body))
        end)

        it("keeps integers as integers on the wire", function()
            client.agents:create(body)
            local raw = only_request().body
            assert.truthy(raw:find('"silenceThreshold":800', 1, true), raw)
            assert.falsy(raw:find("800.0", 1, true))
            assert.falsy(raw:find("e+", 1, true))
        end)

        it("sends Arabic text as UTF-8", function()
            client.agents:create(body)
            assert.truthy(only_request().body:find("مرحبا {{name}}", 1, true))
        end)

        it("sends the Token authorization, JSON headers and a user agent", function()
            client.agents:create(body)
            local h = only_request().headers
            assert.equal("Token " .. server.api_key, h["authorization"])
            assert.equal("application/json", h["content-type"])
            assert.equal("application/json", h["accept"])
            assert.matches("^lua%-hamsa/" .. hamsa._VERSION:gsub("%.", "%%.") .. " ", h["user-agent"])
            assert.is_nil(h["expect"])
        end)

        it("sends an Idempotency-Key on the POST", function()
            local _, response = client.agents:create(body)
            local h = only_request().headers
            assert.matches(UUID, h["idempotency-key"])
            assert.equal(h["idempotency-key"], response.idempotency_key)
        end)

        it("uses a new key for each logical request", function()
            client.agents:create(body)
            client.agents:create(body)
            local log = server:requests()
            assert.equal(2, #log)
            assert.are_not.equal(log[1].headers["idempotency-key"], log[2].headers["idempotency-key"])
        end)

        it("returns the agent with integers decoded as integers", function()
            local agent = client.agents:create(body)
            assert.matches(UUID, agent.id)
            assert.equal("Sara", agent.agentName)
            assert.equal(800, agent.silenceThreshold)
            if math.type then assert.equal("integer", math.type(agent.silenceThreshold)) end
            assert.same({ "هل ما زلت معي؟", "Hello?" }, { agent.pokeMessages[1], agent.pokeMessages[2] })
            assert.equal(true, agent.tools.smartCallEnd)
        end)

        it("returns the response: status, lower-cased headers, raw body, attempts", function()
            local agent, response = client.agents:create(body)
            assert.equal(200, response.status)
            assert.matches("^application/json", response.headers["content-type"])
            assert.equal(1, response.attempts)
            assert.equal(agent.id, cjson.decode(response.body).data.id)
        end)

        it("sends an empty pokeMessages table as []", function()
            local mine = { agentName = "Empty", pokeMessages = {} }
            client.agents:create(mine)
            assert.truthy(only_request().body:find('"pokeMessages":[]', 1, true))
            assert.is_nil(getmetatable(mine.pokeMessages), "the caller's table was marked")
        end)

        it("sends an empty freeSlots day as []", function()
            client.agents:create({ agentName = "Cal", freeSlots = { Monday = {} } })
            assert.truthy(only_request().body:find('"Monday":[]', 1, true))
        end)

        -- the validator takes these `{}` as empty arrays, so they must go out as `[]`
        it("sends an empty day as [] inside an object-marked googleCalendarSettings", function()
            local mine = { agentName = "Cal", googleCalendarSettings = hamsa.object({
                timezone = "Asia/Dubai", freeSlots = { Monday = {} } }) }
            client.agents:create(mine)
            assert.truthy(only_request().body:find('"Monday":[]', 1, true))
            assert.is_nil(getmetatable(mine.googleCalendarSettings.freeSlots.Monday))
        end)

        it("sends empty required lists of outcomeResponseShape as [], at any depth", function()
            local shape = { type = "object", required = {}, properties = {
                tags = { type = "array", items = { type = "object", required = {} } } } }
            client.agents:create({ agentName = "Shape", outcomeResponseShape = shape })
            local sent = only_request().body
            assert.falsy(sent:find('"required":{}', 1, true), sent)
            local _, count = sent:gsub('"required":%[%]', "")
            assert.equal(2, count, sent)
            assert.is_nil(getmetatable(shape.required), "the caller's table was marked")
            assert.is_nil(getmetatable(shape.properties.tags.items.required))
        end)

        it("with validate = false, adds no field that only a metatable's __index has", function()
            local loose = hamsa.new({ api_key = server.api_key, base_url = server.url, validate = false })
            local mine = setmetatable({ agentName = "Loose" }, { __index = { pokeMessages = {} } })
            loose.agents:update("agent-1", mine)
            loose:close()
            assert.same({ agentName = "Loose" }, cjson.decode(only_request().body))
        end)

        it("sends an empty required list inside agentDetails as []", function()
            client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+12025550123",
                agentDetails = { agentName = "Inline", outcomeResponseShape = { required = {} } } })
            assert.truthy(only_request().body:find('"required":[]', 1, true))
        end)

        it("sends hamsa.null as null", function()
            client.agents:create({ agentName = "N", outcome = hamsa.null })
            assert.truthy(only_request().body:find('"outcome":null', 1, true))
        end)

        it("does not modify the caller's body", function()
            local mine = { agentName = "Keep", pokeMessages = {}, params = { a = "1" } }
            client.agents:create(mine)
            assert.same({ agentName = "Keep", pokeMessages = {}, params = { a = "1" } }, mine)
        end)

        it("sends nothing for an invalid body", function()
            local data, err = client.agents:create({ agentName = "" })
            assert.is_nil(data)
            assert.equal("invalid", err.kind)
            assert.equal("agentName", err.field)
            assert.equal(0, #server:requests())
        end)

        it("with validate = false sends the body unchecked", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url, validate = false })
            local data, err = c.agents:create({ agentName = "X", silenceThreshold = 0 })
            assert.is_table(data, tostring(err))
            assert.equal(0, cjson.decode(only_request().body).silenceThreshold)
            c:close()
        end)

        it("raises when the body is not a table, at the caller's line", function()
            local line = debug.getinfo(1, "l").currentline
            local ok, err = pcall(function() local r = client.agents:create("x"); return r end)
            assert.is_false(ok)
            assert.matches("30%-routes_spec.lua:" .. (line + 1) .. ": agents:create: body must be a table", err)
        end)

        it("raises on an unknown request option", function()
            local ok, err = pcall(client.agents.create, client.agents, { agentName = "x" }, { retries = 1 })
            assert.is_false(ok)
            assert.matches("unknown option 'retries'", err)
        end)

        it("raises when called with a dot instead of a colon", function()
            local ok, err = pcall(function() local r = client.agents.create({ agentName = "x" }); return r end)
            assert.is_false(ok)
            assert.matches("with a colon", err)
        end)
    end)

    describe("agents:clone", function()
        it("POSTs /v1/voice-agents/clone with the id in the query string", function()
            local src = new_agent("Source")
            server:clear()
            local copy = client.agents:clone(src.id, { agentName = "Copy" })
            assert.equal("Copy", copy.agentName)
            assert.are_not.equal(src.id, copy.id)
            local req = only_request()
            assert.equal("POST", req.method)
            assert.equal("/v1/voice-agents/clone", req.path)
            assert.equal("voiceAgentId=" .. src.id, req.query)
            assert.same({ agentName = "Copy" }, cjson.decode(req.body))
        end)

        it("sends {} when there is no body", function()
            local src = new_agent("Source")
            server:clear()
            local copy = client.agents:clone(src.id)
            assert.is_table(copy)
            assert.equal("{}", only_request().body)
        end)

        it("accepts opts as the third argument with a nil body", function()
            local src = new_agent("Source")
            server:clear()
            local copy = client.agents:clone(src.id, nil, { idempotency_key = "clone-1" })
            assert.is_table(copy)
            assert.equal("clone-1", only_request().headers["idempotency-key"])
        end)

        it("percent-encodes the id in the query", function()
            local _, err = client.agents:clone("a b&c=d")
            assert.equal("not_found", err.kind)
            assert.equal("voiceAgentId=a%20b%26c%3Dd", only_request().query)
        end)

        it("returns not_found for an unknown agent", function()
            local data, err = client.agents:clone("00000000-0000-4000-8000-000000000000")
            assert.is_nil(data)
            assert.equal("not_found", err.kind)
            assert.equal(404, err.status)
            assert.equal("VOICE_AGENT_NOT_FOUND", err.code)
            assert.is_false(err.retryable)
        end)

        it("refuses an empty id before sending", function()
            local data, err = client.agents:clone("")
            assert.is_nil(data)
            assert.equal("invalid", err.kind)
            assert.equal("voiceAgentId", err.field)
            assert.equal(0, #server:requests())
        end)

        it("raises when the id is not a string", function()
            local ok, err = pcall(client.agents.clone, client.agents, 42)
            assert.is_false(ok)
            assert.matches("voiceAgentId must be a string", err)
        end)

        it("refuses an empty agentName", function()
            local _, err = client.agents:clone("x", { agentName = "" })
            assert.equal("invalid", err.kind)
            assert.equal("agentName", err.field)
        end)
    end)

    describe("agents:update", function()
        it("PATCHes /v1/voice-agents/<id> with the body", function()
            local agent = new_agent("Before")
            server:clear()
            local updated = client.agents:update(agent.id, { agentName = "After", silenceThreshold = 1200 })
            assert.equal("After", updated.agentName)
            assert.equal(1200, updated.silenceThreshold)
            local req = only_request()
            assert.equal("PATCH", req.method)
            assert.equal("/v1/voice-agents/" .. agent.id, req.path)
            assert.same({ agentName = "After", silenceThreshold = 1200 }, cjson.decode(req.body))
        end)

        it("sends no Idempotency-Key on PATCH (it is idempotent)", function()
            local agent = new_agent()
            server:clear()
            client.agents:update(agent.id, { lang = "en" })
            assert.is_nil(only_request().headers["idempotency-key"])
        end)

        it("clears pokeMessages with []", function()
            local agent = assert(client.agents:create({ agentName = "P", pokeMessages = { "a" } }))
            server:clear()
            local updated = client.agents:update(agent.id, { pokeMessages = {} })
            assert.truthy(only_request().body:find('"pokeMessages":[]', 1, true))
            assert.equal(0, #updated.pokeMessages)
            assert.equal("[]", hamsa.json.encode(updated.pokeMessages))
        end)

        it("percent-encodes the id in the path", function()
            local _, err = client.agents:update("../x?y#z", { lang = "en" })
            assert.equal("not_found", err.kind)
            assert.equal("/v1/voice-agents/..%2Fx%3Fy%23z", only_request().path)
        end)

        it("returns not_found for an unknown agent, without retrying", function()
            local _, err = client.agents:update("00000000-0000-4000-8000-000000000000", { lang = "en" })
            assert.equal("not_found", err.kind)
            assert.equal(1, err.attempts)
            assert.equal(1, #server:requests())
        end)

        it("refuses an invalid field before sending", function()
            local _, err = client.agents:update("x", { lang = "fr" })
            assert.equal("invalid", err.kind)
            assert.equal("lang", err.field)
            assert.equal(0, #server:requests())
        end)

        it("raises without a body", function()
            local ok, err = pcall(client.agents.update, client.agents, "x")
            assert.is_false(ok)
            assert.matches("body must be a table", err)
        end)
    end)

    describe("calls:phone_number", function()
        it("POSTs /v1/voice-agents/phone-number/call with a stored agent", function()
            local agent = new_agent()
            server:clear()
            local body = { toNumber = "+971501234567", phoneNumber = "+97145551234",
                           voiceAgentId = agent.id, params = { name = "Layla" } }
            local data = client.calls:phone_number(body)
            assert.equal(agent.id, data.voiceAgentId)
            assert.matches(UUID, data.jobId)
            local req = only_request()
            assert.equal("POST", req.method)
            assert.equal("/v1/voice-agents/phone-number/call", req.path)
            assert.same(body, cjson.decode(req.body))
            assert.matches(UUID, req.headers["idempotency-key"])
        end)

        it("sends params = {} when a stored-agent call has none", function()
            local agent = new_agent()
            server:clear()
            client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+97145551234",
                                        voiceAgentId = agent.id })
            assert.truthy(only_request().body:find('"params":{}', 1, true))
        end)

        it("places a call with an inline agent", function()
            local body = { toNumber = "+971501234567", phoneNumber = "+97145551234",
                           agentDetails = { agentName = "Inline", greetingMessage = "Hi {{name}}",
                                            params = { name = "Ahmed" }, pokeMessages = {} } }
            local data = client.calls:phone_number(body)
            assert.matches(UUID, data.jobId)
            local raw = only_request().body
            assert.equal("Inline", cjson.decode(raw).agentDetails.agentName)
            assert.truthy(raw:find('"pokeMessages":[]', 1, true))
        end)

        it("refuses an inline agent with an undefined placeholder", function()
            local _, err = client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+97145551234",
                agentDetails = { agentName = "X", greetingMessage = "Hi {{name}}" } })
            assert.equal("invalid", err.kind)
            assert.equal("agentDetails.params.name", err.field)
            assert.equal(0, #server:requests())
        end)

        it("refuses a number that is not E.164", function()
            local _, err = client.calls:phone_number({ toNumber = "0501234567", phoneNumber = "+97145551234",
                                                       voiceAgentId = "x" })
            assert.equal("invalid", err.kind)
            assert.equal("toNumber", err.field)
        end)

        it("returns not_found for an unknown stored agent", function()
            local _, err = client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+97145551234",
                                                       voiceAgentId = "00000000-0000-4000-8000-000000000000" })
            assert.equal("not_found", err.kind)
            assert.equal(1, #server:requests())
        end)
    end)

    describe("calls:twilio", function()
        it("POSTs /v1/voice-agents/twilio/call and returns the job", function()
            local agent = new_agent()
            server:clear()
            local body = { toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                           voiceAgentId = agent.id, params = { name = "Sam" },
                           webhookUrl = "https://example.com/hook",
                           webhookAuth = { authKey = "Token", authSecret = "s" } }
            local job = client.calls:twilio(body)
            assert.matches(UUID, job.id)
            assert.equal("PENDING", job.status)
            assert.equal("+14155550123", job.callParams.userNumber)
            assert.equal("+14155550100", job.callParams.machineNumber)
            local req = only_request()
            assert.equal("POST", req.method)
            assert.equal("/v1/voice-agents/twilio/call", req.path)
            assert.same(body, cjson.decode(req.body))
        end)

        it("uses the caller's idempotency key", function()
            local agent = new_agent()
            server:clear()
            local _, response = client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                voiceAgentId = agent.id }, { idempotency_key = "lead-42" })
            assert.equal("lead-42", only_request().headers["idempotency-key"])
            assert.equal("lead-42", response.idempotency_key)
        end)

        it("refuses a plain http webhook", function()
            local _, err = client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                voiceAgentId = "x", webhookUrl = "http://example.com/hook" })
            assert.equal("invalid", err.kind)
            assert.equal("webhookUrl", err.field)
        end)

        it("refuses both voiceAgentId and agentDetails", function()
            local _, err = client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                voiceAgentId = "x", agentDetails = { agentName = "y" } })
            assert.equal("invalid", err.kind)
            assert.equal("voiceAgentId", err.field)
        end)
    end)

    describe("client:request", function()
        it("GETs with a query and returns data", function()
            new_agent("A")
            new_agent("B")
            server:clear()
            local data, response = client:request("GET", "/v1/voice-agents", nil, { query = { skip = 1, take = 10 } })
            assert.is_table(data.voiceAgents, response and response.body)
            assert.is_true(data.total >= 2)
            local req = only_request()
            assert.equal("GET", req.method)
            assert.equal("skip=1&take=10", req.query)
            assert.equal("", req.body)
            assert.is_nil(req.headers["content-type"])
            assert.is_nil(req.headers["idempotency-key"])
        end)

        it("does not validate the body", function()
            local data = client:request("POST", "/v1/voice-agents", { agentName = "R", silenceThreshold = 0 })
            assert.equal(0, data.silenceThreshold)
        end)

        it("raises on a path without a leading slash", function()
            local ok, err = pcall(client.request, client, "GET", "v1/voice-agents")
            assert.is_false(ok)
            assert.matches("path must be a string starting with", err)
        end)

        it("raises on a lower-case method", function()
            assert.is_false((pcall(client.request, client, "get", "/v1/voice-agents")))
        end)
    end)

    describe("headers", function()
        it("adds the client's extra headers to every request", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url,
                                  headers = { ["X-Tenant"] = "clinic-7" }, user_agent = "my-app/1.0" })
            c.agents:create({ agentName = "H" })
            local h = only_request().headers
            assert.equal("clinic-7", h["x-tenant"])
            assert.equal("my-app/1.0", h["user-agent"])
            c:close()
        end)

        it("lets a request's headers replace the client's", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url,
                                  headers = { ["X-Tenant"] = "clinic-7" } })
            c.agents:create({ agentName = "H" }, { headers = { ["x-tenant"] = "clinic-9", ["X-Trace"] = "t1" } })
            local h = only_request().headers
            assert.equal("clinic-9", h["x-tenant"])
            assert.equal("t1", h["x-trace"])
            assert.equal("Token " .. server.api_key, h["authorization"])
            assert.equal("application/json", h["content-type"])
            assert.matches(UUID, h["idempotency-key"])
            c:close()
        end)

        it("raises on CR/LF in a request header", function()
            local ok, err = pcall(client.agents.create, client.agents, { agentName = "x" },
                                  { headers = { ["X-A"] = "1\r\nX-B: 2" } })
            assert.is_false(ok)
            assert.matches("without CR, LF or NUL", err)
            assert.equal(0, #server:requests())
        end)

        it("raises on an Authorization header", function()
            local ok, err = pcall(hamsa.new, { headers = { Authorization = "Bearer x" } })
            assert.is_false(ok)
            assert.matches("set api_key instead", err)
        end)
    end)

    describe("connections", function()
        it("are kept alive across requests", function()
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url })
            local _, r1 = c.agents:create({ agentName = "K1" })
            local _, r2 = c.agents:create({ agentName = "K2" })
            local _, r3 = c:request("GET", "/v1/voice-agents")
            assert.equal(1, r1.new_connections)
            assert.equal(0, r2.new_connections)
            assert.equal(0, r3.new_connections)
            c:close()
        end)
    end)
end)
