-- Specs for hamsa.validate judging exactly what the encoder sends: the encoder reads tables
-- raw and knows only the library's own array/object marks, and writes whole numbers as
-- digits only up to a size. Each case goes through the public client (validate = true,
-- an unreachable base_url: a refused body fails before anything is sent) and through the
-- validate function directly, with the exact err.field.
local hamsa = require "hamsa"
local validate = require "hamsa.validate"

local INTEGERS = math.type ~= nil      -- Lua 5.3+: an integer subtype beside floats
local MAX = "9007199254740992"         -- 2^53
local FOREIGN = "must be a plain table or one marked by hamsa.array or hamsa.object"
local MARKED_ARRAY = "must be an object, not a table marked as an array"
local MARKED_OBJECT = "must be an array, not a table marked by hamsa.object"

local array, object, decode = hamsa.array, hamsa.object, hamsa.json.decode

-- A table whose fields all come from its metatable: nothing of it is sent.
local function proxy(fields)
    return setmetatable({}, { __index = fields })
end

local PHONE = { toNumber = "+971501234567", phoneNumber = "+12025550123" }
local TWILIO = { toNumber = "+971501234567", twilioPhoneNumber = "+12025550123" }

local function with(base, extra)
    local t = {}
    for k, v in pairs(base) do t[k] = v end
    for k, v in pairs(extra) do t[k] = v end
    return t
end

-- route name -> { validator, function(client, body) that makes the request }
local ROUTES = {
    create = { validate.agent_create, function(c, b) return c.agents:create(b) end },
    update = { validate.agent_update, function(c, b) return c.agents:update("agent-1", b) end },
    clone = { validate.agent_clone, function(c, b) return c.agents:clone("agent-1", b) end },
    phone = { validate.call_phone_number, function(c, b) return c.calls:phone_number(b) end },
    twilio = { validate.call_twilio, function(c, b) return c.calls:twilio(b) end },
}

-- Each case: { name, route, body, field = expected err.field, msg = the whole message or
-- a text it contains (plain) }. One `it` per case, checking both ways in.
local function refuses(cases)
    for _, c in ipairs(cases) do
        it(c[1], function()
            local route = ROUTES[c[2]]
            local ok, field, message = route[1](c[3])
            assert.is_nil(ok, "the validator accepted it")
            assert.equal(c.field, field)
            assert.truthy(message:find(c.msg, 1, true), message)
            local client = hamsa.new({ api_key = "k", base_url = "http://127.0.0.1:9", max_retries = 0 })
            local data, err = route[2](client, c[3])
            client:close()
            assert.is_nil(data)
            assert.equal("invalid", err.kind, tostring(err))
            assert.equal(c.field, err.field)
            assert.equal(message, err.message)
        end)
    end
end

-- Each case: { name, route, body }: accepted by the validator.
local function accepts(cases)
    for _, c in ipairs(cases) do
        it(c[1], function()
            local ok, _, message = ROUTES[c[2]][1](c[3])
            assert.is_true(ok, message)
        end)
    end
end

describe("hamsa.validate", function()
    describe("tables with a metatable other than the library's marks", function()
        refuses({
            { "refuses a body whose agentName comes from __index", "create",
                proxy({ agentName = "Sara" }), field = "body",
                msg = "body " .. FOREIGN .. " (fields behind another metatable are not sent)" },
            { "refuses an update body with a metatable", "update",
                setmetatable({ agentName = "Sara" }, { __index = { lang = "ar" } }), field = "body",
                msg = FOREIGN },
            { "refuses a clone body with a metatable", "clone",
                proxy({ agentName = "Copy" }), field = "body", msg = FOREIGN },
            { "refuses a call body whose numbers come from __index", "phone",
                proxy(with(PHONE, { voiceAgentId = "agent-1" })), field = "body", msg = FOREIGN },
            { "refuses agentDetails whose fields come from __index", "phone",
                with(PHONE, { agentDetails = proxy({ agentName = "Sara" }) }),
                field = "agentDetails", msg = "agentDetails " .. FOREIGN },
            { "refuses agentDetails.params whose names come from __index", "twilio",
                with(TWILIO, { agentDetails = { agentName = "Sara", greetingMessage = "Hi {{name}}",
                    params = proxy({ name = "Omar" }) } }),
                field = "agentDetails.params", msg = FOREIGN },
            { "refuses call params with a metatable", "phone",
                with(PHONE, { voiceAgentId = "agent-1", params = proxy({ name = "Omar" }) }),
                field = "params", msg = FOREIGN },
            { "refuses tools with defaults in a metatable", "create",
                { agentName = "Sara", tools = setmetatable({ smartCallEnd = true },
                    { __index = { genderDetection = true } }) },
                field = "tools", msg = FOREIGN },
            { "refuses webhookAuth whose secret comes from __index", "twilio",
                with(TWILIO, { voiceAgentId = "agent-1",
                    webhookAuth = setmetatable({ authKey = "Token" }, { __index = { authSecret = "s" } }) }),
                field = "webhookAuth", msg = FOREIGN },
            { "refuses pokeMessages that only look like an array through __index and __len", "create",
                { agentName = "Sara", pokeMessages = setmetatable({}, {
                    __index = { "Hello?" }, __len = function() return 1 end }) },
                field = "pokeMessages", msg = FOREIGN },
            { "refuses a slot whose times come from __index", "create",
                { agentName = "Sara", freeSlots = { Monday = { proxy({ from = "9", to = "10" }) } } },
                field = "freeSlots.Monday[1]", msg = FOREIGN },
            { "refuses a day list with a metatable", "update",
                { googleCalendarSettings = { freeSlots = { Friday = proxy({ { from = "9", to = "10" } }) } } },
                field = "googleCalendarSettings.freeSlots.Friday", msg = FOREIGN },
            { "refuses an outcomeResponseShape property with a metatable", "create",
                { agentName = "Sara", outcomeResponseShape = { type = "object",
                    properties = { score = proxy({ type = "number" }) } } },
                field = "outcomeResponseShape.properties.score", msg = FOREIGN },
            { "refuses a metatable deep in llmConfig", "create",
                { agentName = "Sara", llmConfig = { provider = "openai", headers = proxy({ x = "1" }) } },
                field = "llmConfig.headers", msg = FOREIGN },
            { "refuses a metatable in an unknown field, with its path", "update",
                { alignment = { preamble = "rtl" }, somethingNew = { { a = 1 }, { b = proxy({}) } } },
                field = "somethingNew[2].b", msg = FOREIGN },
            { "refuses a metatable in an unknown key of outcomeResponseShape", "create",
                { agentName = "Sara", outcomeResponseShape = { type = "string", enum = proxy({ "a" }) } },
                field = "outcomeResponseShape.enum", msg = FOREIGN },
            { "refuses a metatable without metamethods too (the encoder ignores any)", "create",
                { agentName = "Sara", tools = setmetatable({ smartCallEnd = true }, { __name = "Tools" }) },
                field = "tools", msg = FOREIGN },
            { "refuses a protected metatable", "create",
                setmetatable({ agentName = "Sara" }, { __metatable = false }), field = "body", msg = FOREIGN },
        })

        it("ends the walk of a cyclic unknown field at once", function()
            local t = {}
            t.a, t.b = t, t
            local ok, field, message = validate.agent_update({ loop = t })
            assert.is_nil(ok)
            assert.matches("^loop%.[ab]%.[ab]", field)
            assert.matches("is nested too deeply$", message)
        end)
    end)

    describe("marks that contradict the field", function()
        refuses({
            -- an array mark where an object is required: `[]` would be sent
            { "refuses params = hamsa.array() on create", "create",
                { agentName = "Sara", params = array() },
                field = "params", msg = "params " .. MARKED_ARRAY .. " (by hamsa.array or by decoding [])" },
            { "refuses params = hamsa.array() on a call with voiceAgentId", "phone",
                with(PHONE, { voiceAgentId = "agent-1", params = array() }), field = "params",
                msg = MARKED_ARRAY },
            { "refuses tools decoded from []", "update", { tools = decode("[]") }, field = "tools",
                msg = MARKED_ARRAY },
            { "refuses an array-marked tools with flags (sent as [])", "create",
                { agentName = "Sara", tools = array({ smartCallEnd = true }) }, field = "tools",
                msg = MARKED_ARRAY },
            { "refuses an array-marked webhookAuth", "twilio",
                with(TWILIO, { voiceAgentId = "agent-1", webhookAuth = array() }), field = "webhookAuth",
                msg = MARKED_ARRAY },
            { "refuses an array-marked googleCalendarSettings", "create",
                { agentName = "Sara", googleCalendarSettings = array() }, field = "googleCalendarSettings",
                msg = MARKED_ARRAY },
            { "refuses an array-marked freeSlots", "update",
                { googleCalendarSettings = { freeSlots = decode("[]") } },
                field = "googleCalendarSettings.freeSlots", msg = MARKED_ARRAY },
            { "refuses an array-marked llmConfig", "create", { agentName = "Sara", llmConfig = array() },
                field = "llmConfig", msg = MARKED_ARRAY },
            { "refuses an array-marked outcomeResponseShape", "create",
                { agentName = "Sara", outcomeResponseShape = array() }, field = "outcomeResponseShape",
                msg = MARKED_ARRAY },
            { "refuses array-marked shape properties", "update",
                { outcomeResponseShape = { type = "object", properties = array() } },
                field = "outcomeResponseShape.properties", msg = MARKED_ARRAY },
            { "refuses an array-marked agentDetails", "twilio",
                with(TWILIO, { agentDetails = array({ agentName = "Sara" }) }), field = "agentDetails",
                msg = MARKED_ARRAY },
            { "refuses an array-marked body", "create", array({ agentName = "Sara" }), field = "body",
                msg = MARKED_ARRAY },
            { "refuses an array-marked slot with from and to (sent as [])", "create",
                { agentName = "Sara", freeSlots = { Monday = { array({ from = "9", to = "10" }) } } },
                field = "freeSlots.Monday[1]", msg = "must be an array" },
            { "refuses an array-marked table with keys it would not send, in an unknown field",
                "update", { alignment = array({ preamble = "rtl" }) }, field = "alignment",
                msg = "is marked as an array, so only its elements 1 to n would be sent" },
            -- an object mark where an array is required: `{}` would be sent, or nothing at all
            { "refuses pokeMessages = hamsa.object()", "update", { pokeMessages = object() },
                field = "pokeMessages", msg = "pokeMessages " .. MARKED_OBJECT },
            { "refuses webToolsIds = hamsa.object()", "update", { webToolsIds = object() },
                field = "webToolsIds", msg = MARKED_OBJECT },
            { "refuses an object-marked knowledgeBaseItemsIds inside agentDetails", "twilio",
                with(TWILIO, { agentDetails = { agentName = "Sara", knowledgeBaseItemsIds = object() } }),
                field = "agentDetails.knowledgeBaseItemsIds", msg = MARKED_OBJECT },
            { "refuses a voiceDictionaryIds with a metatable", "create",
                { agentName = "Sara", voiceDictionaryIds = proxy({ "d-1" }) },
                field = "voiceDictionaryIds", msg = FOREIGN },
            { "refuses an object-marked pokeMessages with elements", "create",
                { agentName = "Sara", pokeMessages = object({ "Hello?" }) }, field = "pokeMessages",
                msg = MARKED_OBJECT },
            { "refuses an object-marked day", "create",
                { agentName = "Sara", freeSlots = { Monday = object() } }, field = "freeSlots.Monday",
                msg = MARKED_OBJECT },
            { "refuses an object-marked day in googleCalendarSettings", "phone",
                with(PHONE, { agentDetails = { agentName = "Sara",
                    googleCalendarSettings = { freeSlots = { Sunday = object() } } } }),
                field = "agentDetails.googleCalendarSettings.freeSlots.Sunday", msg = MARKED_OBJECT },
            { "refuses an object-marked empty day entry: it is an empty slot", "create",
                { agentName = "Sara", freeSlots = { Monday = { object() } } },
                field = "freeSlots.Monday[1].from", msg = "is required" },
            { "refuses an unmarked empty day entry: it goes out as {}, an empty slot", "update",
                { freeSlots = { Tuesday = { {}, { { from = "9", to = "10" } } } } },
                field = "freeSlots.Tuesday[1].from", msg = "is required" },
            { "refuses an object-marked required list", "create",
                { agentName = "Sara", outcomeResponseShape = { type = "object", required = object() } },
                field = "outcomeResponseShape.required", msg = MARKED_OBJECT },
        })

        accepts({
            { "accepts the marks that agree", "create", { agentName = "Sara", pokeMessages = array(),
                params = object(), tools = object(), llmConfig = object(),
                freeSlots = object({ Monday = array() }),
                outcomeResponseShape = object({ required = array(), properties = object() }) } },
            { "accepts arrays decoded from JSON", "update", decode(
                '{"pokeMessages":[],"freeSlots":{"Monday":[{"from":"9","to":"10"}]},'
                .. '"outcomeResponseShape":{"required":["a"]},"webToolsIds":[]}') },
            { "accepts an array-marked day entry (older shape)", "create",
                { agentName = "Sara", freeSlots = { Monday = { array(), { { from = "9", to = "10" } } } } } },
            { "accepts an object-marked body", "create", object({ agentName = "Sara" }) },
            { "accepts id lists, empty or not", "update", { webToolsIds = {}, voiceDictionaryIds = array(),
                knowledgeBaseItemsIds = { "kb-1", "kb-2" } } },
            { "accepts an array-marked unknown field", "update",
                { somethingNew = array({ 1, 2, 3 }) } },
        })
    end)

    describe("integer fields", function()
        local exact = "silenceThreshold must be an integer from 1 to " .. MAX
        local refused = {
            { "1e16", 1e16 }, { "2^63 (a float)", 2 ^ 63 }, { "1e300", 1e300 }, { "-2^63", -2 ^ 63 },
            { "2^53 + 2", 2 ^ 53 + 2 },
        }
        if INTEGERS then
            refused[#refused + 1] = { "math.maxinteger", math.maxinteger }
            refused[#refused + 1] = { "2^53 + 1 (an integer)", math.tointeger(2 ^ 53) + 1 }
        end
        local cases = {}
        for _, r in ipairs(refused) do
            cases[#cases + 1] = { "refuses silenceThreshold " .. r[1], "create",
                { agentName = "Sara", silenceThreshold = r[2] }, field = "silenceThreshold", msg = exact }
        end
        cases[#cases + 1] = { "refuses a huge silenceThreshold inside agentDetails", "twilio",
            with(TWILIO, { agentDetails = { agentName = "Sara", silenceThreshold = 1e16 } }),
            field = "agentDetails.silenceThreshold", msg = "agentDetails." .. exact }
        if INTEGERS then
            -- below 2^53, yet the encoder writes a float this large as 1e+15
            cases[#cases + 1] = { "refuses a float silenceThreshold from 1e15 up (exponent form)", "update",
                { silenceThreshold = 1e15 }, field = "silenceThreshold",
                msg = exact .. ", as a Lua integer: a float from 1e15 up is sent in exponent form" }
            cases[#cases + 1] = { "refuses 2^53 as a float", "update",
                { silenceThreshold = 2 ^ 53 }, field = "silenceThreshold", msg = "exponent form" }
        end
        refuses(cases)

        it("says the range in the message exactly", function()
            local _, _, message = validate.agent_update({ silenceThreshold = 1e16 })
            assert.equal(exact, message)
        end)

        it("accepts only whole numbers that go out as digits and read back exactly", function()
            local values = { 1, 800, 800.0, 999999999999999.0, 9007199254740992, 2 ^ 53 - 1,
                1e15, 2 ^ 53, 1e16, 2 ^ 63, 1e300 }
            if INTEGERS then
                values[#values + 1] = math.maxinteger
                values[#values + 1] = math.tointeger(2 ^ 53) + 1
                values[#values + 1] = math.tointeger(1e15)
            end
            local accepted = 0
            for _, v in ipairs(values) do
                local text = assert(hamsa.json.encode(v))
                if validate.agent_update({ silenceThreshold = v }) then
                    accepted = accepted + 1
                    assert.matches("^%d+$", text)
                    assert.is_true(tonumber(text) == v and v <= 2 ^ 53, text)
                end
            end
            -- 1, 800, 800.0, 999999999999999.0, the literal 2^53; on 5.3+ the integer 1e15; where
            -- every number is a double, 2^53 - 1, 1e15 and 2^53 too
            assert.equal(INTEGERS and 6 or 8, accepted)
        end)

        local on_integers = INTEGERS and it or function() end
        on_integers("on Lua 5.3+, wants floats from 1e15 up as integers, even those sent as digits", function()
            -- 9007199254740991.0 happens to be written as digits, 9007199254740990.0 as
            -- 9.00719925474099e+15 (%.15g reads back): one plain rule instead of that quirk
            assert.is_nil((validate.agent_update({ silenceThreshold = 2 ^ 53 - 1 })))
            assert.is_true(validate.agent_update({ silenceThreshold = math.tointeger(2 ^ 53 - 1) }))
        end)
    end)
end)
