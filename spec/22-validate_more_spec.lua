-- Specs for the rule sets of the 0.2 routes (hamsa.validate: v2 agents, calls:start, the
-- list queries, phone numbers, campaigns, the knowledge base): table-driven cases, a seeded
-- random walk over campaign bodies, and a few through the client, where nothing may be sent.
local validate = require "hamsa.validate"
local helpers = require "spec.helpers"
local json = require("hamsa.core").json
local null = json.null

local rep = string.rep

local function deep_copy(v)
    if type(v) ~= "table" then return v end
    local t = {}
    for k, x in pairs(v) do t[k] = deep_copy(x) end
    return setmetatable(t, getmetatable(v))
end

-- A copy of `t` with `path` ("a.b.c", numeric parts as indexes) set to `value` (nil deletes).
local function set(t, path, value)
    local r = deep_copy(t)
    local node, last = r, nil
    for part in path:gmatch("[^.]+") do
        if last then
            if node[last] == nil then node[last] = {} end
            node = node[last]
        end
        last = tonumber(part) or part
    end
    node[last] = value
    return r
end

local function escape(s)
    return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- Asserts fn(body) refuses the body at `field` (the message starting with it and holding
-- `msg`), or accepts it when `field` is nil; and that the body was not modified.
local function check(fn, body, field, msg)
    local before = deep_copy(body)
    local ok, f, message = fn(body)
    if field == nil then
        assert.is_true(ok, message)
    else
        assert.is_nil(ok, "accepted, expected a refusal at " .. field)
        assert.equal(field, f, message)
        assert.matches("^" .. escape(field) .. " ", message)
        if msg then assert.matches(escape(msg), message) end
    end
    assert.same(before, body)
end

-- One `it` per case. `base` is a valid body; `ok` lists changes that keep it valid and
-- `bad` changes refused at a field: { path, value [, field (default: path with [i]) [, msg]] }.
local function cases(name, base, ok, bad)
    local fn = validate[name]
    describe(name, function()
        it("accepts the base body", function() check(fn, base) end)
        for i, c in ipairs(ok) do
            it(("accepts change %d: %s = %s"):format(i, c[1], tostring(c[2])), function()
                check(fn, set(base, c[1], c[2]))
            end)
        end
        for i, c in ipairs(bad) do
            local field = c[3] or c[1]:gsub("%.(%d+)", "[%1]")
            it(("refuses change %d: %s = %s, at %s"):format(i, c[1], tostring(c[2]), field), function()
                check(fn, set(base, c[1], c[2]), field, c[4])
            end)
        end
    end)
end

local E164 = "must be an E.164 phone number"
local ID = "00000000-0000-4000-8000-000000000000"

describe("hamsa.validate, the 0.2 rule sets", function()
    for _, name in ipairs({ "agents_list_query", "conversations_list_query", "phone_numbers_list_query",
        "campaigns_list_query", "knowledge_base_list_query" }) do
        it(name .. " refuses a query marked as an array, at field query", function()
            check(validate[name], json.array(), "query", "must be an object")
        end)
    end

    cases("agents_list_query", {}, {
        { "skip", 1 }, { "take", 100 }, { "skip", 3.0 }, { "search", "sara" }, { "sortField", "createdAt" },
        { "sortOrder", "desc" }, { "type[]", "Single Prompt" }, { "language", "ar" },
    }, {
        { "skip", 0, nil, "must be an integer from 1" }, { "skip", "1" }, { "skip", 1.5 }, { "take", 0 },
        { "take", -3 }, { "search", 5, nil, "must be a string" }, { "sortField", true }, { "sortOrder", 1 },
    })

    local V2 = {
        name = "Sara", type = "Single Prompt",
        tools = { { toolId = ID, toolType = "FUNCTION", overrides = {} } },
        knowledgeBaseItemsIds = { ID }, voiceDictionaryIds = {},
        webhookUrl = "https://example.com/hook", webhookAuth = { authKey = "Token", authSecret = "s" },
        outcomeResponseShape = { type = "object", properties = { score = { type = "number" } }, required = {} },
        conversation = { greetingMessage = "مرحبا {{name}}", greetingMessageType = "TEXT", preamble = "You help.",
            pokeMessages = { "Hello?" }, params = { name = "Omar", n = 1, vip = true },
            alignment = { greetingMessage = "rtl", preamble = "ltr" } },
        voice = { voiceId = "en-US-Neural2-A", lang = "en" },
        llm = { provider = "openai", model = "gpt-4", temperature = 0.2, baseUrl = "https://llm.example.com/v1",
            apiKey = "sk-x" },
        callSettings = { noiseCancellation = "telephony_optimized", cancelNoisePer = "conversation",
            interrupt = true, responseDelay = 400, minInterruptionDuration = 0.5, vadActivationThreshold = 0.5,
            userInactivityTimeout = 15, maxCallDuration = 300, silenceThreshold = 800, backgroundNoise = false,
            waitForUserToSpeakFirst = false, smartCallEnd = true },
        workflow = { nodes = {}, edges = {} }, phoneNumber = { type = "TWILIO", id = ID },
    }
    local V2_OK = {
        { "conversation.greetingMessageType", "PROMPT" }, { "conversation.pokeMessages", {} },
        { "conversation.params", null }, { "voice.lang", "ar" }, { "llm.temperature", 0 }, { "llm.temperature", 2 },
        { "callSettings.responseDelay", 100 }, { "callSettings.responseDelay", 1500 },
        { "callSettings.minInterruptionDuration", 0.2 }, { "callSettings.vadActivationThreshold", 0.9 },
        { "callSettings.waitForUserToSpeakFirst", 2 }, { "callSettings.waitForUserToSpeakFirst", true },
        { "callSettings.maxCallDuration", 86400 }, { "tools", {} }, { "tools", json.array() },
        { "webhookUrl", null }, { "llm", {} }, { "somethingNew", { 1, 2 } },
    }
    local V2_BAD = {
        { "name", "", nil, "must be a non-empty string" }, { "name", "  " }, { "name", null }, { "name", 5 },
        { "type", 1 }, { "tools", "x", nil, "must be an array" }, { "tools.1", "FUNCTION", nil, "must be an object" },
        { "tools", json.object() }, { "knowledgeBaseItemsIds.2", 7 }, { "voiceDictionaryIds", "id" },
        { "webhookUrl", "http://example.com/hook", nil, "https://" }, { "webhookAuth.authSecret", nil },
        { "outcomeResponseShape.properties.score.type", "decimal" }, { "conversation", "hi", nil, "must be an object" },
        { "conversation.greetingMessage", 1 }, { "conversation.greetingMessageType", 1 }, { "conversation.preamble", {} },
        { "conversation.pokeMessages.2", false }, { "conversation.params.name", {} },
        { "conversation.alignment", "rtl" }, { "conversation.alignment.preamble", 1 },
        { "voice", { "x" } }, { "voice.voiceId", 5 }, { "voice.lang", "fr", nil, 'must be "ar" or "en"' },
        { "llm.provider", 1 }, { "llm.model", true }, { "llm.temperature", 2.5, nil, "from 0 to 2" },
        { "llm.temperature", -0.1 }, { "llm.temperature", "0.2" }, { "llm.baseUrl", "http://llm" }, { "llm.apiKey", 1 },
        { "callSettings.responseDelay", 99 }, { "callSettings.responseDelay", 1501 },
        { "callSettings.minInterruptionDuration", 0.1 }, { "callSettings.minInterruptionDuration", 1.6 },
        { "callSettings.vadActivationThreshold", 0.1 }, { "callSettings.vadActivationThreshold", 1 },
        { "callSettings.userInactivityTimeout", 0, nil, "> 0" }, { "callSettings.maxCallDuration", -1 },
        { "callSettings.silenceThreshold", 0 }, { "callSettings.silenceThreshold", 1.5 },
        { "callSettings.noiseCancellation", 1 }, { "callSettings.cancelNoisePer", false },
        { "callSettings.waitForUserToSpeakFirst", 3 }, { "callSettings.waitForUserToSpeakFirst", "no" },
    }
    for _, flag in ipairs({ "interrupt", "backgroundNoise", "enableAutoGainControl", "sendDenoisedToStt",
        "thinkingVoice", "speakerIdentification", "agenticRag", "languageDialectSwitcher", "genderDetection",
        "smartCallEnd" }) do
        V2_OK[#V2_OK + 1] = { "callSettings." .. flag, false }
        V2_BAD[#V2_BAD + 1] = { "callSettings." .. flag, "true", nil, "must be a boolean" }
    end
    cases("agent_v2_create", V2, V2_OK, V2_BAD)
    cases("agent_v2_create", { name = "Minimal" }, {}, { { "name", nil, nil, "name is required" } })
    cases("agent_v2_update", {}, { { "name", "Renamed" }, { "callSettings.interrupt", false }, { "voice", {} } },
        { { "name", "" }, { "name", null }, { "callSettings.responseDelay", 2000 }, { "tools.1", 3 } })

    local START = { toNumber = "+971501234567", voiceAgentId = ID }
    cases("call_start", START, {
        { "fromNumber", "+18449292835" }, { "fromNumber", null }, { "params", { name = "Layla" } },
        { "webhookUrl", "https://example.com/hook" }, { "webhookAuth", { authKey = "Bearer", authSecret = "t" } },
    }, {
        { "toNumber", nil, nil, "is required" }, { "toNumber", null }, { "toNumber", "0501234567", nil, E164 },
        { "fromNumber", "+0123", nil, E164 }, { "fromNumber", 18449292835 }, { "voiceAgentId", nil, nil, "exactly one" },
        { "voiceAgentId", "" }, { "agentDetails", { agentName = "Inline" }, "voiceAgentId", "must not be sent with" },
        { "params.x", {} }, { "webhookUrl", "http://example.com" }, { "webhookAuth", { authKey = "Bearer" },
            "webhookAuth.authSecret" },
    })
    local INLINE = { toNumber = "+971501234567", agentDetails = { agentName = "Inline",
        greetingMessage = "Hi {{name}}", params = { name = "Omar" } } }
    cases("call_start", INLINE, { { "voiceAgentId", null } }, {
        { "agentDetails.params", nil, "agentDetails.params.name", "would be spoken as is" },
        { "params", { name = "x" }, "params", "inside agentDetails" },
        { "agentDetails.agentName", nil, nil, "is required" }, { "agentDetails.lang", "fr" },
    })

    cases("conversations_list_query", {}, {
        { "status", "COMPLETED" }, { "status", { "COMPLETED", "FAILED", "NO_ANSWER", "FORWARDED", "TERMINATED" } },
        { "status", { "PENDING", "IN_PROGRESS" } }, { "voiceAgentId", ID }, { "page", 1 }, { "perPage", 1 },
        { "perPage", 200 }, { "startTime", 0 }, { "endTime", 1767225600000 },
    }, {
        { "status", "DONE", nil, '"PENDING", "IN_PROGRESS", "COMPLETED"' }, { "status", "completed" },
        { "status", {}, nil, "must be a non-empty array" }, { "status", { "COMPLETED", "done" }, "status[2]" },
        { "status", 1 }, { "voiceAgentId", 5 }, { "page", 0 }, { "page", "1" }, { "perPage", 0, nil, "from 1 to 200" },
        { "perPage", 201 }, { "perPage", 20.5 }, { "startTime", -1 }, { "startTime", 1.5 }, { "startTime", "1" },
        { "endTime", -5 },
    })
    cases("conversations_list_query", { startTime = 1767225600000, endTime = 1767225600000 },
        { { "endTime", 1767312000000 }, { "startTime", 0 } },
        { { "endTime", 1767225599999, "endTime", "must not be before startTime" }, { "startTime", 1767225600001,
            "endTime" } })

    local TWILIO = { type = "TWILIO", phoneNumber = "+12025550123", label = "Support line",
        twilioAccountSid = "AC0123", twilioAuthToken = "secret" }
    cases("phone_number_create", TWILIO, { { "label", "خط الدعم" }, { "extra", 1 } }, {
        { "type", nil, nil, "is required" }, { "type", null }, { "type", "twilio", nil, '"TWILIO" or "SIP"' },
        { "phoneNumber", nil, nil, "is required" }, { "label", nil }, { "twilioAccountSid", nil },
        { "twilioAuthToken", nil }, { "phoneNumber", "12025550123", nil, E164 }, { "label", "" },
        { "twilioAccountSid", " " }, { "twilioAuthToken", 5 }, { "phoneNumber", null },
    })
    cases("phone_number_create", { type = "SIP" }, { { "label", "Trunk" }, { "sipOutboundConfigs", { address = "x" } } },
        { { "phoneNumber", "123", nil, E164 }, { "label", 1 } })
    cases("phone_numbers_list_query", {}, {
        { "skip", "1" }, { "take", "10" }, { "skip", 2 }, { "take", 50 }, { "provider", "SIP" }, { "voiceAgentId", ID },
    }, {
        { "skip", "0", nil, "decimal digits" }, { "skip", "1.5" }, { "skip", "abc" }, { "skip", " 1" }, { "take", 0 },
        { "take", "-1" }, { "provider", "sip" }, { "voiceAgentId", 1 },
    })
    cases("phone_number_assign", { voiceAgentId = ID, phoneNumber = "+12025550123" }, {}, {
        { "voiceAgentId", nil, nil, "is required" }, { "voiceAgentId", "" }, { "voiceAgentId", null },
        { "phoneNumber", nil }, { "phoneNumber", "+1 202 555 0123", nil, E164 },
    })
    cases("phone_number_unassign", { phoneNumber = "+12025550123" }, {},
        { { "phoneNumber", nil, nil, "is required" }, { "phoneNumber", "x" }, { "phoneNumber", null } })

    local CAMPAIGN = { name = "Spring", phoneNumber = "+12025550123", voiceAgentId = ID,
        recipients = { { phoneNumber = "+971501234567", name = "Layla", dynamicVariables = { plan = "gold", n = 2 } } },
        sendType = "SCHEDULED", timeRange = { days = { "MONDAY", "SUNDAY" }, startCallingTime = "09:00",
            endCallingTime = "17:30" },
        reservedConcurrency = 2, scheduledDate = "2026-12-03T09:00:00Z", scheduledTimezone = "Asia/Dubai" }
    cases("campaign_create", CAMPAIGN, {
        { "name", rep("ع", 100) }, { "name", rep("x", 100) }, { "sendType", "NOW" }, { "timeRange.days", {} },
        { "timeRange.startCallingTime", "00:00" }, { "timeRange.endCallingTime", "23:59" },
        { "scheduledDate", "2026-12-03T09:00:00+04:00" }, { "scheduledDate", "2026-12-03T09:00:00.123-0530" },
        { "scheduledDate", "2026-12-03T09:00" }, { "scheduledDate", "2026-12-03" }, { "scheduledTimezone", "UTC" },
        { "recipients.1.dynamicVariables", {} }, { "recipients.1.ignoreE164Validation", false },
    }, {
        { "name", nil, nil, "is required" }, { "name", "", nil, "1 to 100 characters" }, { "name", rep("x", 101) },
        { "name", rep("ع", 101) }, { "name", 5 }, { "name", null }, { "phoneNumber", nil }, { "phoneNumber", "123" },
        { "voiceAgentId", nil }, { "voiceAgentId", "" }, { "recipients", nil }, { "recipients", {}, nil, "non-empty" },
        { "recipients", "x" }, { "recipients.1", 5, nil, "must be an object" },
        { "recipients.1.phoneNumber", nil, nil, "is required" }, { "recipients.2", { phoneNumber = "+1" }, "recipients[2].phoneNumber" },
        { "recipients.1.name", 5 }, { "recipients.1.dynamicVariables", "x" }, { "recipients.1.dynamicVariables.a", {} },
        { "recipients.1.ignoreE164Validation", "yes" }, { "sendType", "LATER" }, { "timeRange", "9-5" },
        { "timeRange.days", "MONDAY" }, { "timeRange.days.2", "Sunday" }, { "timeRange.startCallingTime", "9:00" },
        { "timeRange.startCallingTime", "24:00" }, { "timeRange.endCallingTime", "23:60" },
        { "timeRange.endCallingTime", 900 }, { "reservedConcurrency", 0 }, { "reservedConcurrency", 1.5 },
        { "reservedConcurrency", "2" }, { "scheduledDate", "tomorrow", nil, "ISO 8601" },
        { "scheduledDate", "2026-13-01T00:00:00Z" }, { "scheduledDate", "2026-12-03T25:00:00Z" },
        { "scheduledDate", "2026-12-03T09:00:00+4" }, { "scheduledDate", "2026-12-03T09:00:00Zx" },
        { "scheduledTimezone", "Asia Dubai" }, { "scheduledTimezone", 4 },
    })
    cases("campaign_create", set(CAMPAIGN, "recipients.1.ignoreE164Validation", true),
        { { "recipients.1.phoneNumber", "0501234567" }, { "recipients.1.phoneNumber", "ext. 12" } },
        { { "recipients.1.phoneNumber", "", nil, "non-empty string" }, { "recipients.1.phoneNumber", 501234567 } })
    cases("campaigns_list_query", {}, { { "skip", 0 }, { "skip", 20 }, { "take", 10 }, { "search", "spring" } },
        { { "skip", -1, nil, "from 0" }, { "skip", "0" }, { "take", 0 }, { "search", 1 }, { "voiceAgentId", false } })
    cases("campaign_update", { name = "Renamed" }, { { "name", rep("ح", 100) }, { "other", 1 } },
        { { "name", nil, nil, "is required" }, { "name", "" }, { "name", rep("x", 101) }, { "name", null } })

    local KB = { items = { { itemName = "Prices", itemUrl = "https://example.com/prices", type = "URL",
        itemUrls = { "https://example.com/a", "https://example.com/b" }, content = "..." } } }
    cases("knowledge_base_create", KB, {
        { "items.1.itemUrls", {} }, { "items.2", { itemName = "FAQ", type = "TEXT", content = "Q: A" } },
        { "items.1.itemName", rep("م", 250) }, { "items.1.itemUrl", null },
    }, {
        { "items", nil, nil, "is required" }, { "items", {}, nil, "non-empty" }, { "items", "x" },
        { "items.1", "x", nil, "must be an object" }, { "items.1.itemName", "" }, { "items.1.itemName", rep("x", 251) },
        { "items.1.itemUrl", "http://example.com" }, { "items.1.type", 1 }, { "items.1.itemUrls", "https://x.com" },
        { "items.1.itemUrls.2", "ftp://example.com", nil, "https://" }, { "items.1.content", {} },
    })
    cases("knowledge_base_list_query", {}, {
        { "skip", "1" }, { "take", "10" }, { "skip", 3 }, { "isActive", true }, { "used", false },
        { "search", "faq" }, { "type", "TEXT" }, { "type", { "TEXT", "URL" } }, { "type[]", "TEXT" },
    }, {
        { "skip", "0" }, { "take", 0 }, { "isActive", "true", nil, "must be a boolean" }, { "used", 1 },
        { "search", 2 }, { "type", {} }, { "type", { "TEXT", 2 }, "type[2]" }, { "voiceAgentId", {} },
    })
    cases("knowledge_base_update", { itemName = "Prices" }, { { "itemName", rep("م", 250) } },
        { { "itemName", nil, nil, "is required" }, { "itemName", "" }, { "itemName", rep("م", 251) } })
    cases("knowledge_base_remove_url", { url = "https://example.com/a" }, {},
        { { "url", nil, nil, "is required" }, { "url", "" }, { "url", "http://example.com/a" }, { "url", null } })
end)

-- Random valid campaign bodies, then each with one random fault whose field is known.
describe("campaign_create, seeded random bodies", function()
    local seed = tonumber(os.getenv("HAMSA_SEED") or "") or 20261203
    local rnd = math.random
    local DAYS = { "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY" }
    local LETTERS = { "a", "Z", "ع", "س", " ", "7", "é", "字" }

    local function text(n)
        local t = {}
        for i = 1, n do t[i] = LETTERS[rnd(#LETTERS)] end
        return table.concat(t)
    end
    local function e164() return "+" .. rnd(1, 9) .. rep("5", rnd(6, 14)) end
    local function clock() return ("%02d:%02d"):format(rnd(0, 23), rnd(0, 59)) end

    local function valid_body()
        local b = { name = "c" .. text(rnd(0, 99)), phoneNumber = e164(), voiceAgentId = ID, recipients = {} }
        for i = 1, rnd(1, 6) do
            local r = { phoneNumber = e164(), name = text(rnd(0, 10)), dynamicVariables = { k = rnd(100), s = "v" } }
            if rnd(3) == 1 then r.ignoreE164Validation, r.phoneNumber = true, "ext-" .. i end
            b.recipients[i] = r
        end
        if rnd(2) == 1 then
            b.timeRange = { days = {}, startCallingTime = clock(), endCallingTime = clock() }
            for i = 1, rnd(0, 7) do b.timeRange.days[i] = DAYS[rnd(7)] end
        end
        if rnd(2) == 1 then
            b.sendType, b.reservedConcurrency, b.scheduledTimezone = "SCHEDULED", rnd(1, 50), "Asia/Dubai"
            b.scheduledDate = ("2026-%02d-%02dT%s:00Z"):format(rnd(12), rnd(28), clock())
        end
        return b
    end

    -- One fault: the path set, the value, and the field the validator must name.
    local function fault(b)
        local n = #b.recipients
        local i = rnd(n)
        local faults = {
            { "name", text(101) }, { "name", "" }, { "phoneNumber", "00" .. rnd(1e6) }, { "voiceAgentId", "" },
            { "recipients." .. i .. ".phoneNumber", b.recipients[i].ignoreE164Validation and "" or "+0" .. rnd(1e7) },
            { "recipients." .. i .. ".dynamicVariables.x", { 1 } }, { "recipients." .. (n + 2), { phoneNumber = e164() },
                "recipients" },
            { "reservedConcurrency", -rnd(5) }, { "timeRange.days." .. (b.timeRange and #b.timeRange.days + 1 or 1),
                DAYS[rnd(7)]:lower() },
            { "timeRange.startCallingTime", ("%02d:00"):format(rnd(24, 99)) },
            { "scheduledDate", ("2026-%02d-01T00:00:00Z"):format(rnd(13, 99)) },
        }
        local f = faults[rnd(#faults)]
        return f[1], f[2], f[3] or f[1]:gsub("%.(%d+)", "[%1]")
    end

    it(("accepts 300 valid bodies and refuses each with one fault, at its field (seed %d)"):format(seed), function()
        math.randomseed(seed)
        for round = 1, 300 do
            local b = valid_body()
            local where = ("seed %d, round %d"):format(seed, round)
            local ok, _, message = validate.campaign_create(b)
            assert.is_true(ok, where .. ": " .. tostring(message))
            local path, value, want = fault(b)
            local field
            ok, field, message = validate.campaign_create(set(b, path, value))
            assert.is_nil(ok, where .. ": " .. path .. " accepted")
            assert.equal(want, field, where .. ": " .. tostring(message))
        end
    end)
end)

-- Through the client: the error value, and nothing on the wire.
describe("the 0.2 routes refuse invalid input before sending", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, { client = {}, clean = "log" },
        function(s, c) server, client = s, c end)

    local CALLS = {
        { "v2.agents", "create", { { name = "" } }, "name" },
        { "v2.agents", "update", { ID, { callSettings = { responseDelay = 5 } } }, "callSettings.responseDelay" },
        { "agents", "list", { { skip = 0 } }, "skip" },
        { "v2.agents", "list", { { take = 0 } }, "take" },
        { "calls", "start", { { toNumber = "+971501234567" } }, "voiceAgentId" },
        { "conversations", "list", { { status = { "COMPLETED", "DONE" } } }, "status[2]" },
        { "conversations", "list", { { startTime = 2, endTime = 1 } }, "endTime" },
        { "phone_numbers", "create", { { type = "TWILIO", phoneNumber = "+12025550123" } }, "label" },
        { "phone_numbers", "list", { { skip = "0" } }, "skip" },
        { "phone_numbers", "assign", { { voiceAgentId = ID } }, "phoneNumber" },
        { "phone_numbers", "unassign", { { phoneNumber = "12" } }, "phoneNumber" },
        { "campaigns", "create", { { phoneNumber = "+12025550123", voiceAgentId = ID,
            recipients = { { phoneNumber = "+971501234567" } } } }, "name" },
        { "campaigns", "list", { { skip = -1 } }, "skip" },
        { "campaigns", "update", { ID, { name = rep("x", 101) } }, "name" },
        { "knowledge_base", "create", { { items = { { itemName = "" } } } }, "items[1].itemName" },
        { "knowledge_base", "list", { { isActive = "yes" } }, "isActive" },
        { "knowledge_base", "update", { ID, {} }, "itemName" },
        { "knowledge_base", "remove_url", { ID, "http://example.com/a" }, "url" },
    }
    for _, c in ipairs(CALLS) do
        it(("%s:%s refuses at %s, unsent"):format(c[1], c[2], c[4]), function()
            local resource = c[1] == "v2.agents" and client.v2.agents or client[c[1]]
            local data, err = resource[c[2]](resource, (table.unpack or unpack)(c[3]))
            assert.is_nil(data)
            assert.equal("invalid", err.kind)
            assert.equal(c[4], err.field)
            assert.equal(0, #server:requests())
        end)
    end

    it("delivers the refusal through on_done, unsent", function()
        local seen
        client.campaigns:create({ name = "x" }, { on_done = function(data, err) seen = { data, err } end })
        assert.equal(0, client:wait(5))
        assert.is_nil(seen[1])
        assert.equal("invalid", seen[2].kind)
        assert.equal("phoneNumber", seen[2].field)
        assert.equal(0, #server:requests())
    end)
end)
