-- The routes of issue 10 (every row hamsa.routes gained beyond the five and agents:get)
-- against the mock over real sockets: method, path with the id percent-encoded, the exact
-- query string, the exact JSON body (arrays told from objects), the Idempotency-Key on
-- POST only, and the shape of the reply's data as docs/wire.md documents it.
local hamsa = require "hamsa"
local routes = require "hamsa.routes"
local url = require "hamsa.url"
local helpers = require "spec.helpers"

local json = hamsa.json
local array = hamsa.array
local ARRAY_MT = require("hamsa.core").json.array_mt
local concat, sort = table.concat, table.sort

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local V1 = "/v1/voice-agents"

-- JSON text with keys sorted, telling arrays (array-marked, or a non-empty sequence) from
-- objects: two values give the same text exactly when they go out as the same JSON.
local function canonical(v)
    if type(v) ~= "table" then return json.encode(v) end
    local out = {}
    if getmetatable(v) == ARRAY_MT or (getmetatable(v) == nil and v[1] ~= nil) then
        for i = 1, #v do out[i] = canonical(v[i]) end
        return "[" .. concat(out, ",") .. "]"
    end
    for k, x in pairs(v) do out[#out + 1] = json.encode(k) .. ":" .. canonical(x) end
    sort(out)
    return "{" .. concat(out, ",") .. "}"
end

local function is_array(v)
    return type(v) == "table" and getmetatable(v) == ARRAY_MT
end

describe("the 0.2 routes on the wire", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, { client = {}, clean = "reset" },
        function(s, c) server, client = s, c end)

    -- The outcome of the last `call`.
    local last

    -- The one request the mock saw since `server:clear()`, checked against `want`:
    -- { method, path, query (default ""), body (a table compared as JSON; nil: none) };
    -- then, the request being right, that the last call succeeded.
    local function sent(want)
        local log = server:requests()
        assert.equal(1, #log, "expected exactly one request, got " .. #log)
        local req = log[1]
        assert.equal(want[1], req.method)
        assert.equal(want[2], req.path)
        assert.equal(want.query or "", req.query)
        if want.body == nil then
            assert.equal("", req.body)
        else
            assert.equal("application/json", req.headers["content-type"])
            assert.equal(canonical(want.body), canonical(json.decode(req.body)), req.body)
        end
        if want[1] == "POST" then
            assert.matches(UUID, req.headers["idempotency-key"])
        else
            assert.is_nil(req.headers["idempotency-key"])
        end
        assert.is_not_nil(last[1], tostring(last[2]))
        assert.equal(200, last[2].status)
        return req
    end

    -- data, response of a call, the log cleared first (`sent` checks both).
    local function ok(fn, ...)
        server:clear()
        last = { fn(...) }
        return last[1], last[2]
    end

    local function message_key(res)
        return json.decode(res.body).messageKey
    end

    local function new_agent()
        return assert(client.agents:create({ agentName = "Sara" })).id
    end

    local function new_number()
        return assert(client.phone_numbers:create({ type = "TWILIO", phoneNumber = "+12025550123",
            label = "Support", twilioAccountSid = "AC01", twilioAuthToken = "tok" }))
    end

    describe("agents", function()
        it("agents:list GETs /v1/voice-agents?skip=&take= and answers { total, filtered, voiceAgents }", function()
            for _ = 1, 3 do new_agent() end
            local data = ok(client.agents.list, client.agents, { skip = 2, take = 1 })
            sent { "GET", V1, query = "skip=2&take=1" }
            assert.equal(3, data.total)
            assert.is_number(data.filtered)
            assert.is_true(is_array(data.voiceAgents))
            assert.equal(1, #data.voiceAgents)
            assert.matches(UUID, data.voiceAgents[1].id)
            ok(client.agents.list, client.agents)
            sent { "GET", V1 }
        end)

        local V2_BODY = { name = "Sara v2", type = "Single Prompt", tools = {}, knowledgeBaseItemsIds = {},
            voiceDictionaryIds = { "dict-1" },
            conversation = { greetingMessage = "مرحبا {{name}}", pokeMessages = {}, params = { name = "Omar" } },
            voice = { voiceId = "en-US-Neural2-A", lang = "ar" },
            llm = { provider = "openai", model = "gpt-4", temperature = 0.2 },
            callSettings = { interrupt = true, responseDelay = 400, silenceThreshold = 800 },
            outcomeResponseShape = { type = "object", required = {} } }
        local V2_WIRE = { name = "Sara v2", type = "Single Prompt", tools = array(), knowledgeBaseItemsIds = array(),
            voiceDictionaryIds = { "dict-1" },
            conversation = { greetingMessage = "مرحبا {{name}}", pokeMessages = array(), params = { name = "Omar" } },
            voice = { voiceId = "en-US-Neural2-A", lang = "ar" },
            llm = { provider = "openai", model = "gpt-4", temperature = 0.2 },
            callSettings = { interrupt = true, responseDelay = 400, silenceThreshold = 800 },
            outcomeResponseShape = { type = "object", required = array() } }

        local function new_v2()
            return assert(client.v2.agents:create({ name = "Lina" })).id
        end

        it("v2.agents:create POSTs /v2/voice-agents, {} sent as [] at the array places", function()
            local data, res = ok(client.v2.agents.create, client.v2.agents, V2_BODY)
            local req = sent { "POST", "/v2/voice-agents", body = V2_WIRE }
            assert.equal(req.headers["idempotency-key"], res.idempotency_key)
            assert.is_nil(getmetatable(V2_BODY.tools), "the caller's table was marked")
            assert.matches(UUID, data.id)
            assert.equal("Sara v2", data.name)
            assert.equal("مرحبا {{name}}", data.conversation.greetingMessage)
            assert.equal("ar", data.voice.lang)
            assert.equal(800, data.callSettings.silenceThreshold)
            assert.equal("VoiceAgentCreatedSuccessfully", message_key(res))
        end)

        it("v2.agents:get GETs /v2/voice-agents/<id> and answers the agent", function()
            local id = new_v2()
            local data = ok(client.v2.agents.get, client.v2.agents, id)
            sent { "GET", "/v2/voice-agents/" .. id }
            assert.equal(id, data.id)
            assert.equal("Lina", data.name)
        end)

        it("v2.agents:update PATCHes /v2/voice-agents/<id> with the body", function()
            local id = new_v2()
            local data, res = ok(client.v2.agents.update, client.v2.agents, id,
                { name = "Lina 2", conversation = { pokeMessages = {} } })
            sent { "PATCH", "/v2/voice-agents/" .. id, body = { name = "Lina 2", conversation = { pokeMessages = array() } } }
            assert.equal(id, data.id)
            assert.equal("Lina 2", data.name)
            assert.equal("VoiceAgentUpdatedSuccessfully", message_key(res))
        end)

        it("v2.agents:list GETs /v2/voice-agents?... and answers { total, filtered, voiceAgents }", function()
            new_v2()
            local data = ok(client.v2.agents.list, client.v2.agents, { skip = 1, take = 5, sortOrder = "desc" })
            sent { "GET", "/v2/voice-agents", query = "skip=1&sortOrder=desc&take=5" }
            assert.is_number(data.total)
            assert.is_number(data.filtered)
            assert.is_true(is_array(data.voiceAgents))
            assert.is_string(data.voiceAgents[1].name)
        end)
    end)

    describe("calls and conversations", function()
        local function new_call()
            return assert(client.calls:start({ toNumber = "+971501234567", voiceAgentId = new_agent() })).id
        end

        it("calls:start POSTs /v1/voice-agents/call (params {} added) and answers a PENDING job", function()
            local agent = new_agent()
            local data = ok(client.calls.start, client.calls,
                { toNumber = "+971501234567", fromNumber = "+18449292835", voiceAgentId = agent })
            sent { "POST", V1 .. "/call", body = { toNumber = "+971501234567", fromNumber = "+18449292835",
                voiceAgentId = agent, params = {} } }
            assert.matches(UUID, data.id)
            assert.equal("PENDING", data.status)
            assert.equal(agent, data.voiceAgentId)
        end)

        it("calls:start sends an inline agent with its arrays as []", function()
            local body = { toNumber = "+971501234567", webhookUrl = "https://example.com/hook",
                agentDetails = { agentName = "Inline", greetingMessage = "Hi {{n}}", params = { n = "Omar" },
                    pokeMessages = {} } }
            local data = ok(client.calls.start, client.calls, body)
            sent { "POST", V1 .. "/call", body = { toNumber = "+971501234567", webhookUrl = "https://example.com/hook",
                agentDetails = { agentName = "Inline", greetingMessage = "Hi {{n}}", params = { n = "Omar" },
                    pokeMessages = array() } } }
            assert.matches(UUID, data.id)
        end)

        it("conversations:get GETs /v1/voice-agents/conversation/<id> and answers the call", function()
            local id = new_call()
            local data = ok(client.conversations.get, client.conversations, id)
            sent { "GET", V1 .. "/conversation/" .. id }
            assert.equal(id, data.id)
            assert.is_string(data.status)
        end)

        it("conversations:list sends status as repeated keys and answers { total, filtered, calls }", function()
            local agent = new_agent()
            assert(client.calls:start({ toNumber = "+971501234567", voiceAgentId = agent }))
            local data = ok(client.conversations.list, client.conversations, { voiceAgentId = agent,
                status = { "PENDING", "IN_PROGRESS", "COMPLETED" }, startTime = 0, endTime = 4102444800000,
                page = 1, perPage = 50 })
            sent { "GET", V1 .. "/conversations/minimal-list", query = "endTime=4102444800000&page=1&perPage=50"
                .. "&startTime=0&status=PENDING&status=IN_PROGRESS&status=COMPLETED&voiceAgentId=" .. agent }
            assert.is_number(data.total)
            assert.is_number(data.filtered)
            assert.is_true(is_array(data.calls))
            assert.equal(1, #data.calls)
            assert.equal(agent, data.calls[1].voiceAgentId)
            ok(client.conversations.list, client.conversations, { status = "FAILED" })
            sent { "GET", V1 .. "/conversations/minimal-list", query = "status=FAILED" }
        end)

        it("conversations:terminate GETs /v1/voice-agents/conversation/<id>/terminate", function()
            local id = new_call()
            local _, res = ok(client.conversations.terminate, client.conversations, id)
            sent { "GET", V1 .. "/conversation/" .. id .. "/terminate" }
            assert.equal("ConversationTerminatedSuccessfully", message_key(res))
        end)
    end)

    describe("phone numbers", function()
        local TWILIO = { type = "TWILIO", phoneNumber = "+12025550123", label = "Support",
            twilioAccountSid = "AC01", twilioAuthToken = "tok" }

        it("phone_numbers:create POSTs /v1/voice-agents/phone-number and answers the number", function()
            local data = ok(client.phone_numbers.create, client.phone_numbers, TWILIO)
            sent { "POST", V1 .. "/phone-number", body = TWILIO }
            assert.matches(UUID, data.id)
            assert.equal("+12025550123", data.number)
            assert.equal("Support", data.label)
            assert.equal("TWILIO", data.type)
        end)

        it("phone_numbers:list GETs /v1/voice-agents/phone-number/list and answers a bare array", function()
            new_number()
            local data = ok(client.phone_numbers.list, client.phone_numbers, { skip = "1", take = "10",
                provider = "TWILIO" })
            sent { "GET", V1 .. "/phone-number/list", query = "provider=TWILIO&skip=1&take=10" }
            assert.is_true(is_array(data))
            assert.equal("+12025550123", data[1].number)
        end)

        it("phone_numbers:assign POSTs /v1/voice-agents/assign-number and answers the number", function()
            new_number()
            local agent = new_agent()
            local data = ok(client.phone_numbers.assign, client.phone_numbers,
                { voiceAgentId = agent, phoneNumber = "+12025550123" })
            sent { "POST", V1 .. "/assign-number", body = { voiceAgentId = agent, phoneNumber = "+12025550123" } }
            assert.equal("+12025550123", data.number)
            assert.equal(agent, data.voiceAgentId)
        end)

        it("phone_numbers:unassign POSTs /v1/voice-agents/unassign and answers a string", function()
            new_number()
            assert(client.phone_numbers:assign({ voiceAgentId = new_agent(), phoneNumber = "+12025550123" }))
            local data = ok(client.phone_numbers.unassign, client.phone_numbers, { phoneNumber = "+12025550123" })
            sent { "POST", V1 .. "/unassign", body = { phoneNumber = "+12025550123" } }
            assert.is_string(data)
        end)
    end)

    describe("campaigns", function()
        local function body(agent)
            return { name = "Spring", phoneNumber = "+12025550123", voiceAgentId = agent,
                recipients = { { phoneNumber = "+971501234567", name = "Layla", dynamicVariables = { plan = "gold" } } },
                sendType = "SCHEDULED", timeRange = { days = {}, startCallingTime = "09:00", endCallingTime = "17:00" },
                reservedConcurrency = 1, scheduledDate = "2026-12-03T09:00:00Z", scheduledTimezone = "Asia/Dubai" }
        end

        local function new_campaign()
            new_number()
            return assert(client.campaigns:create(body(new_agent()))).id
        end

        it("campaigns:create POSTs /v1/voice-agents/campaigns and answers a SCHEDULED campaign", function()
            new_number()
            local agent = new_agent()
            local mine = body(agent)
            local data, res = ok(client.campaigns.create, client.campaigns, mine)
            local wire = body(agent)
            wire.timeRange.days = array()
            sent { "POST", V1 .. "/campaigns", body = wire }
            assert.is_nil(getmetatable(mine.timeRange.days), "the caller's table was marked")
            assert.is_string(data.id)
            assert.equal("SCHEDULED", data.status)
            assert.equal("CAMPAIGN_CREATED_SUCCESSFULLY", message_key(res))
        end)

        it("campaigns:list GETs /v1/voice-agents/campaigns?skip=0 and answers { campaigns, totalCount, returnedCount }",
            function()
                new_campaign()
                local data = ok(client.campaigns.list, client.campaigns, { skip = 0, take = 10, search = "Spr" })
                sent { "GET", V1 .. "/campaigns", query = "search=Spr&skip=0&take=10" }
                assert.is_true(is_array(data.campaigns))
                assert.equal(1, data.totalCount)
                assert.equal(1, data.returnedCount)
                assert.equal(1, data.campaigns[1].recipientsCount)
            end)

        it("campaigns:get GETs /v1/voice-agents/campaigns/<id>: totalRecipients, agentName, recipients by state",
            function()
                local id = new_campaign()
                local data = ok(client.campaigns.get, client.campaigns, id)
                sent { "GET", V1 .. "/campaigns/" .. id }
                assert.equal(id, data.id)
                assert.equal(1, data.totalRecipients)
                assert.equal("Sara", data.agentName)
                assert.is_table(data.recipients)
                assert.is_false(is_array(data.recipients), "recipients are grouped by state, in an object")
                local found
                for _, group in pairs(data.recipients) do
                    for _, r in ipairs(group) do
                        if r.phoneNumber == "+971501234567" then found = r end
                    end
                end
                assert.is_table(found, "the recipient is in no group")
                assert.is_string(found.status)
                assert.is_number(found.attempts)
            end)

        it("campaigns:update PATCHes /v1/voice-agents/campaigns/<id> with { name }", function()
            local id = new_campaign()
            local data = ok(client.campaigns.update, client.campaigns, id, { name = "حملة الربيع" })
            sent { "PATCH", V1 .. "/campaigns/" .. id, body = { name = "حملة الربيع" } }
            assert.equal("حملة الربيع", data.name)
        end)
    end)

    describe("knowledge base", function()
        local ITEM = { itemName = "Prices", itemUrl = "https://example.com/prices", type = "URL",
            itemUrls = { "https://example.com/a", "https://example.com/b" } }

        -- The id of a new item, found through the list (create's reply is not documented).
        local function new_item()
            assert(client.knowledge_base:create({ items = { ITEM } }))
            local list = assert(client.knowledge_base:list({ search = "Prices" }))
            return list.items[1].id
        end

        it("knowledge_base:create POSTs /v1/voice-agents/knowledge-base, empty itemUrls as []", function()
            local data = ok(client.knowledge_base.create, client.knowledge_base,
                { items = { ITEM, { itemName = "FAQ", type = "TEXT", content = "Q: A", itemUrls = {} } } })
            sent { "POST", V1 .. "/knowledge-base", body = { items = { ITEM,
                { itemName = "FAQ", type = "TEXT", content = "Q: A", itemUrls = array() } } } }
            assert.is_table(data)
        end)

        it("knowledge_base:list GETs /v1/voice-agents/knowledge-base/list and answers { total, filtered, items }",
            function()
                new_item()
                local data = ok(client.knowledge_base.list, client.knowledge_base,
                    { skip = "1", take = "10", isActive = true, type = { "URL", "TEXT" } })
                sent { "GET", V1 .. "/knowledge-base/list", query = "isActive=true&skip=1&take=10&type=URL&type=TEXT" }
                assert.is_number(data.total)
                assert.is_number(data.filtered)
                assert.is_true(is_array(data.items))
                assert.equal("Prices", data.items[1].itemName)
            end)

        it("knowledge_base:get GETs /v1/voice-agents/knowledge-base/<id> and answers the item", function()
            local id = new_item()
            local data = ok(client.knowledge_base.get, client.knowledge_base, id)
            sent { "GET", V1 .. "/knowledge-base/" .. id }
            assert.equal(id, data.id)
            assert.equal("Prices", data.itemName)
            assert.is_string(data.status)
        end)

        it("knowledge_base:update PATCHes /v1/voice-agents/knowledge-base/<id> with { itemName }", function()
            local id = new_item()
            local data = ok(client.knowledge_base.update, client.knowledge_base, id, { itemName = "الأسعار" })
            sent { "PATCH", V1 .. "/knowledge-base/" .. id, body = { itemName = "الأسعار" } }
            assert.equal("الأسعار", data.itemName)
        end)

        it("knowledge_base:remove_url DELETEs /v1/voice-agents/knowledge-base/<id>/url with { url }", function()
            local id = new_item()
            local _, res = ok(client.knowledge_base.remove_url, client.knowledge_base, id, "https://example.com/a")
            sent { "DELETE", V1 .. "/knowledge-base/" .. id .. "/url", body = { url = "https://example.com/a" } }
            assert.equal("URL_DELETED_SUCCESSFULLY", message_key(res))
        end)
    end)

    -- Valid arguments after the id, for the rows that take more than one.
    local REST = {
        ["v2.agents.update"] = { { name = "x" } }, ["campaigns.update"] = { { name = "x" } },
        ["knowledge_base.update"] = { { itemName = "x" } }, ["knowledge_base.remove_url"] = { "https://example.com/a" },
    }
    local ODD = "a b/ü?#%"

    for _, row in ipairs(routes) do
        local key = row.resource .. "." .. row.name
        if row.path:find("{", 1, true) and not (row.resource == "agents" or row.resource == "calls") then
            it(key .. " percent-encodes its id as one path segment", function()
                local holder = row.resource == "v2.agents" and client.v2.agents or client[row.resource]
                server:clear()
                holder[row.name](holder, ODD, (table.unpack or unpack)(REST[key] or {}))
                local log = server:requests()
                assert.equal(1, #log)
                assert.equal(row.method, log[1].method)
                local want = row.path:gsub("{%w+}", (url.escape(ODD):gsub("%%", "%%%%")))
                assert.equal(want, log[1].path)
            end)
        end
    end
end)
