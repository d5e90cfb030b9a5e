-- Specs for hamsa.validate: every field rule (docs/wire.md, README tour), accepted and rejected, table-driven.
local validate = require "hamsa.validate"
local json = require("hamsa.core").json
local null = json.null

local type, pairs = type, pairs
local nan, inf = 0 / 0, math.huge

-- Deep copy and deep comparison (NaN equals NaN here, so bodies holding NaN compare).
local function deep_copy(v)
    if type(v) ~= "table" then return v end
    local t = {}
    for k, x in pairs(v) do t[k] = deep_copy(x) end
    return setmetatable(t, getmetatable(v))
end

local function deep_same(a, b)
    if a ~= a and b ~= b then return true end
    if type(a) ~= "table" or type(b) ~= "table" then return a == b end
    for k, x in pairs(a) do
        if not deep_same(x, b[k]) then return false end
    end
    for k in pairs(b) do
        if a[k] == nil then return false end
    end
    return true
end

-- A copy of `t` with the fields of `extra` set on top.
local function with(t, extra)
    local r = deep_copy(t)
    for k, v in pairs(extra) do r[k] = v end
    return r
end

local function escape(s)
    return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- Each case: { name, body, field = expected field or nil (valid), msg = text the message
-- contains (plain), nocopy = true for cyclic bodies }. One `it` per case.
local function run_cases(fn, cases)
    for _, c in ipairs(cases) do
        it(c[1], function()
            local body = c[2]
            local before = not c.nocopy and deep_copy(body)
            local ok, field, message = fn(body)
            if c.field == nil then
                assert.is_true(ok, message)
                assert.is_nil(field)
            else
                assert.is_nil(ok)
                assert.equal(c.field, field)
                assert.equal("string", type(message))
                -- the sentence begins with the field path
                assert.matches("^" .. escape(c.field) .. " ", message)
                if c.msg then assert.matches(escape(c.msg), message) end
            end
            if before then assert.is_true(deep_same(before, body), "body was modified") end
        end)
    end
end

-- A copy of `t` without the field `k`.
local function without(t, k)
    local r = deep_copy(t)
    r[k] = nil
    return r
end

local AGENT = { agentName = "Sara" }
local function agent(extra) return with(AGENT, extra) end

-- The create sample from the API reference, every documented field set.
local FULL = {
    agentName = "Support agent",
    greetingMessage = "Hello {{name}}, how can I help you today?",
    preamble = "You are {{agentName}}, a helpful assistant.",
    lang = "en",
    pokeMessages = { "Are you still there?", "Hello?" },
    realTime = true,
    silenceThreshold = 800,
    interrupt = false,
    outcome = "Summarise the call.",
    outcomeResponseShape = {
        type = "object",
        properties = { test = { type = "number", description = "a score" } },
        required = { "test" },
    },
    voiceId = "9a4b6c1e-1f2d-4a7b-9c3e-5d6f7a8b9c0d",
    tools = { googleCalendar = false, genderDetection = true, smartCallEnd = true },
    params = { name = "Omar", age = 30, vip = true },
    googleCalendarSettings = {
        calendarId = "primary", eventTitle = "Meeting with {agentName}", calendarName = "Work",
        accessToken = "ya29.a0", refreshToken = "1//0g", meetingDuration = 30,
        timezone = "Pacific/Niue",
        freeSlots = { Monday = { { from = "09:00", to = "12:00" } } },
    },
    freeSlots = { Friday = { { from = "10:00", to = "11:00" } } },
    webhookUrl = "https://example.com/hamsa/events",
    webhookAuth = { authKey = "Token", authSecret = "Secret" },
    responseDelay = 500,
    minInterruptionDuration = 0.5,
    vadActivationThreshold = 0.5,
    userInactivityTimeout = 15,
    maxCallDuration = 600,
    backgroundNoise = true,
    thinkingVoice = false,
    speakerIdentification = true,
    agenticRag = false,
    llmConfig = { provider = "OpenAI", model = "GPT-4.1", temperature = 0.3 },
    greetingMessageType = "STATIC",
}

-- Every optional agent field, each of which may be sent as null.
local OPTIONAL = {
    "greetingMessage", "preamble", "lang", "pokeMessages", "realTime", "silenceThreshold",
    "interrupt", "outcome", "outcomeResponseShape", "voiceId", "tools", "params",
    "googleCalendarSettings", "freeSlots", "webhookUrl", "webhookAuth", "responseDelay",
    "minInterruptionDuration", "vadActivationThreshold", "userInactivityTimeout",
    "maxCallDuration", "backgroundNoise", "thinkingVoice", "speakerIdentification",
    "agenticRag", "llmConfig", "greetingMessageType",
}

local BOOLEANS = {
    "realTime", "interrupt", "backgroundNoise", "thinkingVoice", "speakerIdentification",
    "agenticRag",
}

-- Cases shared by create (on a named agent) and, via `prefix`, by inline agents on calls.
local function agent_field_cases(make, prefix)
    prefix = prefix or ""
    local p = function(f) return prefix .. f end
    local cases = {
        -- accepted
        { "accepts the full documented body", make(FULL) },
        { "accepts Arabic text", make { lang = "ar", agentName = "سارة",
            greetingMessage = "مرحبا، كيف يمكنني مساعدتك اليوم؟", preamble = "أنت مساعد مفيد",
            pokeMessages = { "هل ما زلت معي؟" } } },
        { "accepts lang en", make { lang = "en" } },
        { "accepts an empty pokeMessages array", make { pokeMessages = {} } },
        { "accepts silenceThreshold 1", make { silenceThreshold = 1 } },
        { "accepts an integral float silenceThreshold", make { silenceThreshold = 800.0 } },
        { "accepts outcomeResponseShape with nested items", make { outcomeResponseShape = {
            type = "array", items = { type = "object", properties = {
                name = { type = "string" }, tags = { type = "array", items = { type = "string" } },
            }, required = {} } } } },
        { "accepts unknown keys in outcomeResponseShape", make { outcomeResponseShape = {
            type = "string", enum = { "a", "b" }, format = "date" } } },
        { "accepts an empty tools object", make { tools = {} } },
        { "accepts unknown keys in tools", make { tools = { smartCallEnd = true, futureTool = 3 } } },
        { "accepts params of every scalar kind", make { params = {
            s = "x", i = 1, f = 1.5, b = false, ar = "عمر" } } },
        { "accepts timezone UTC", make { googleCalendarSettings = { timezone = "UTC" } } },
        { "accepts a three-part timezone", make { googleCalendarSettings = {
            timezone = "America/Argentina/Buenos_Aires" } } },
        { "accepts timezone Etc/GMT+4", make { googleCalendarSettings = { timezone = "Etc/GMT+4" } } },
        { "accepts timezone with a hyphen", make { googleCalendarSettings = {
            timezone = "America/Port-au-Prince" } } },
        { "accepts freeSlots on every day", make { freeSlots = {
            Monday = {}, Tuesday = { { from = "9", to = "10" } }, Wednesday = {}, Thursday = {},
            Friday = {}, Saturday = {}, Sunday = { { from = "1", to = "2" }, { from = "3", to = "4" } },
        } } },
        { "accepts the older freeSlots shape (arrays of arrays)", make { freeSlots = {
            Monday = { { { from = "09:00", to = "10:00" }, { from = "11:00", to = "12:00" } } } } } },
        { "accepts an empty inner array in the older freeSlots shape", make { freeSlots = {
            Monday = { json.array(), { { from = "09:00", to = "10:00" } } } } } },
        { "accepts a null day in freeSlots", make { freeSlots = { Monday = null } } },
        { "accepts a webhookUrl with port and query", make {
            webhookUrl = "https://hooks.example.com:8443/a/b?x=1#f" } },
        { "accepts an upper-case scheme and user info", make {
            webhookUrl = "HTTPS://user:pw@example.com/x" } },
        { "accepts responseDelay at its bounds", make { responseDelay = 100 } },
        { "accepts responseDelay at its upper bound", make { responseDelay = 1500 } },
        { "accepts minInterruptionDuration at its bounds", make { minInterruptionDuration = 0.2 } },
        { "accepts minInterruptionDuration 1.5", make { minInterruptionDuration = 1.5 } },
        { "accepts vadActivationThreshold 0.9", make { vadActivationThreshold = 0.9 } },
        { "accepts vadActivationThreshold 0.2", make { vadActivationThreshold = 0.2 } },
        { "accepts any positive maxCallDuration (no range)", make { maxCallDuration = 86400 } },
        { "accepts a fractional userInactivityTimeout", make { userInactivityTimeout = 0.5 } },
        { "accepts an empty llmConfig", make { llmConfig = {} } },
        { "accepts greetingMessageType PROMPT", make { greetingMessageType = "PROMPT" } },
        { "passes unknown fields through", make { alignment = { preamble = "rtl" },
            webToolsIds = { "a" }, somethingNew = { 1, 2, 3 }, description = 5 } },

        -- rejected
        { "rejects a greetingMessage that is not a string", make { greetingMessage = 5 },
            field = p "greetingMessage", msg = "must be a string" },
        { "rejects a preamble that is not a string", make { preamble = true },
            field = p "preamble", msg = "must be a string" },
        { "rejects lang fr", make { lang = "fr" }, field = p "lang", msg = 'must be "ar" or "en"' },
        { "rejects lang AR (case matters)", make { lang = "AR" }, field = p "lang" },
        { "rejects pokeMessages that is a string", make { pokeMessages = "hi" },
            field = p "pokeMessages", msg = "must be an array" },
        { "rejects pokeMessages with a hole", make { pokeMessages = { [1] = "a", [3] = "b" } },
            field = p "pokeMessages", msg = "must be an array" },
        { "rejects pokeMessages given as an object", make { pokeMessages = { a = "x" } },
            field = p "pokeMessages", msg = "must be an array" },
        { "rejects a non-string pokeMessages element, 1-based", make { pokeMessages = { "a", 5 } },
            field = p "pokeMessages[2]", msg = "must be a string" },
        { "rejects a null pokeMessages element", make { pokeMessages = { null } },
            field = p "pokeMessages[1]" },
        { "rejects silenceThreshold 0", make { silenceThreshold = 0 },
            field = p "silenceThreshold", msg = "must be an integer from 1 to 9007199254740992" },
        { "rejects a negative silenceThreshold", make { silenceThreshold = -5 },
            field = p "silenceThreshold" },
        { "rejects a fractional silenceThreshold", make { silenceThreshold = 1.5 },
            field = p "silenceThreshold" },
        { "rejects silenceThreshold as a string", make { silenceThreshold = "800" },
            field = p "silenceThreshold" },
        { "rejects silenceThreshold NaN", make { silenceThreshold = nan }, field = p "silenceThreshold" },
        { "rejects silenceThreshold inf", make { silenceThreshold = inf }, field = p "silenceThreshold" },
        { "rejects an outcome that is not a string", make { outcome = 5 },
            field = p "outcome", msg = "must be a string" },
        { "rejects an outcomeResponseShape string", make { outcomeResponseShape = "object" },
            field = p "outcomeResponseShape", msg = "must be an object" },
        { "rejects an outcomeResponseShape sequence", make { outcomeResponseShape = { 1, 2 } },
            field = p "outcomeResponseShape", msg = "must be an object" },
        { "rejects an unknown shape type", make { outcomeResponseShape = { type = "num" } },
            field = p "outcomeResponseShape.type", msg = '"integer"' },
        { "rejects a bad type inside properties", make { outcomeResponseShape = {
            type = "object", properties = { test = { type = "float" } } } },
            field = p "outcomeResponseShape.properties.test.type" },
        { "rejects properties that is not an object", make { outcomeResponseShape = {
            properties = "test" } }, field = p "outcomeResponseShape.properties",
            msg = "must be an object" },
        { "rejects a property shape that is not an object", make { outcomeResponseShape = {
            properties = { test = "number" } } }, field = p "outcomeResponseShape.properties.test" },
        { "rejects a non-string required entry, 1-based", make { outcomeResponseShape = {
            required = { "a", 3 } } }, field = p "outcomeResponseShape.required[2]" },
        { "rejects required that is not an array", make { outcomeResponseShape = {
            required = "a" } }, field = p "outcomeResponseShape.required", msg = "must be an array" },
        { "rejects a bad items type", make { outcomeResponseShape = { type = "array",
            items = { type = "list" } } }, field = p "outcomeResponseShape.items.type" },
        { "rejects a non-string description", make { outcomeResponseShape = { description = 1 } },
            field = p "outcomeResponseShape.description" },
        { "rejects deep errors with the full path", make { outcomeResponseShape = {
            properties = { a = { properties = { b = { items = { type = 7 } } } } } } },
            field = p "outcomeResponseShape.properties.a.properties.b.items.type" },
        { "rejects an empty voiceId", make { voiceId = "" },
            field = p "voiceId", msg = "must be a non-empty string" },
        { "rejects a numeric voiceId", make { voiceId = 42 }, field = p "voiceId" },
        { "rejects tools that is not an object", make { tools = "smartCallEnd" },
            field = p "tools", msg = "must be an object" },
        { "rejects tools.smartCallEnd that is not a boolean", make { tools = { smartCallEnd = "yes" } },
            field = p "tools.smartCallEnd", msg = "must be a boolean" },
        { "rejects tools.googleCalendar 1", make { tools = { googleCalendar = 1 } },
            field = p "tools.googleCalendar" },
        { "rejects tools.genderDetection 'no'", make { tools = { genderDetection = "no" } },
            field = p "tools.genderDetection" },
        { "rejects a table param value", make { params = { name = {} } },
            field = p "params.name", msg = "must be a string, a finite number or a boolean" },
        { "rejects a NaN param value", make { params = { x = nan } }, field = p "params.x" },
        { "rejects a null param value", make { params = { x = null } }, field = p "params.x" },
        { "rejects params given as a sequence", make { params = { "a" } },
            field = p "params", msg = "must be an object" },
        { "rejects googleCalendarSettings that is not an object",
            make { googleCalendarSettings = true }, field = p "googleCalendarSettings" },
        { "rejects a numeric calendarId", make { googleCalendarSettings = { calendarId = 1 } },
            field = p "googleCalendarSettings.calendarId", msg = "must be a string" },
        { "rejects a non-string eventTitle", make { googleCalendarSettings = { eventTitle = {} } },
            field = p "googleCalendarSettings.eventTitle" },
        { "rejects a non-string calendarName", make { googleCalendarSettings = { calendarName = false } },
            field = p "googleCalendarSettings.calendarName" },
        { "rejects a non-string refreshToken", make { googleCalendarSettings = { refreshToken = 7 } },
            field = p "googleCalendarSettings.refreshToken" },
        { "rejects meetingDuration 0", make { googleCalendarSettings = { meetingDuration = 0 } },
            field = p "googleCalendarSettings.meetingDuration", msg = "must be a number > 0" },
        { "rejects meetingDuration as a string", make { googleCalendarSettings = {
            meetingDuration = "30" } }, field = p "googleCalendarSettings.meetingDuration" },
        { "rejects a timezone with a space", make { googleCalendarSettings = {
            timezone = "Asia Dubai" } }, field = p "googleCalendarSettings.timezone",
            msg = "must be an IANA time zone name" },
        { "rejects a timezone given as an offset", make { googleCalendarSettings = {
            timezone = "+04:00" } }, field = p "googleCalendarSettings.timezone" },
        { "rejects an empty timezone", make { googleCalendarSettings = { timezone = "" } },
            field = p "googleCalendarSettings.timezone" },
        { "rejects a timezone with an empty segment", make { googleCalendarSettings = {
            timezone = "Asia//Dubai" } }, field = p "googleCalendarSettings.timezone" },
        { "rejects a numeric timezone", make { googleCalendarSettings = { timezone = 4 } },
            field = p "googleCalendarSettings.timezone" },
        { "rejects a bad day inside googleCalendarSettings.freeSlots", make {
            googleCalendarSettings = { freeSlots = { Funday = {} } } },
            field = p "googleCalendarSettings.freeSlots.Funday", msg = "is not a day of the week" },
        { "rejects a key that is not a day", make { freeSlots = { Funday = {} } },
            field = p "freeSlots.Funday", msg = "is not a day of the week" },
        { "rejects a lower-case day", make { freeSlots = { monday = {} } }, field = p "freeSlots.monday" },
        { "rejects a day that is not an array", make { freeSlots = { Monday = "9-5" } },
            field = p "freeSlots.Monday", msg = "must be an array" },
        { "rejects a slot without from", make { freeSlots = { Monday = { { to = "10" } } } },
            field = p "freeSlots.Monday[1].from", msg = "is required" },
        { "rejects a slot whose to is not a string", make { freeSlots = { Monday = {
            { from = "9", to = "10" }, { from = "11", to = 12 } } } },
            field = p "freeSlots.Monday[2].to", msg = "must be a string" },
        { "rejects a slot that is not an object", make { freeSlots = { Monday = { "09:00" } } },
            field = p "freeSlots.Monday[1]", msg = "must be an object" },
        { "rejects a bad slot in the older shape", make { freeSlots = { Tuesday = {
            { { from = "9", to = "10" }, { to = "12" } } } } },
            field = p "freeSlots.Tuesday[1][2].from" },
        { "rejects freeSlots given as a sequence", make { freeSlots = { {} } },
            field = p "freeSlots", msg = "must be an object" },
        { "rejects an http webhookUrl", make { webhookUrl = "http://example.com/hook" },
            field = p "webhookUrl", msg = "must be an https:// URL" },
        { "rejects a webhookUrl without a host", make { webhookUrl = "https:///hook" },
            field = p "webhookUrl" },
        { "rejects a bare https://", make { webhookUrl = "https://" }, field = p "webhookUrl" },
        { "rejects a webhookUrl with a space", make { webhookUrl = "https://exa mple.com/" },
            field = p "webhookUrl" },
        { "rejects a webhookUrl with only a port", make { webhookUrl = "https://:443/x" },
            field = p "webhookUrl" },
        { "rejects a webhookUrl whose host is not a name", make { webhookUrl = "https://:x/" },
            field = p "webhookUrl" },
        { "rejects user info without a host", make { webhookUrl = "https://user@/x" },
            field = p "webhookUrl" },
        { "rejects a non-string webhookUrl", make { webhookUrl = 5 }, field = p "webhookUrl" },
        { "rejects webhookAuth that is a string", make { webhookAuth = "Token abc" },
            field = p "webhookAuth", msg = "must be an object" },
        { "rejects webhookAuth without authSecret", make { webhookAuth = { authKey = "Token" } },
            field = p "webhookAuth.authSecret", msg = "is required" },
        { "rejects webhookAuth without authKey", make { webhookAuth = { authSecret = "s" } },
            field = p "webhookAuth.authKey", msg = "is required" },
        { "rejects a null authKey", make { webhookAuth = { authKey = null, authSecret = "s" } },
            field = p "webhookAuth.authKey", msg = "must be a string" },
        { "rejects responseDelay 99", make { responseDelay = 99 },
            field = p "responseDelay", msg = "must be a number from 100 to 1500" },
        { "rejects responseDelay 1501", make { responseDelay = 1501 }, field = p "responseDelay" },
        { "rejects responseDelay as a string", make { responseDelay = "200" }, field = p "responseDelay" },
        { "rejects minInterruptionDuration 0.1", make { minInterruptionDuration = 0.1 },
            field = p "minInterruptionDuration", msg = "from 0.2 to 1.5" },
        { "rejects minInterruptionDuration 1.6", make { minInterruptionDuration = 1.6 },
            field = p "minInterruptionDuration" },
        { "rejects vadActivationThreshold 0.95", make { vadActivationThreshold = 0.95 },
            field = p "vadActivationThreshold", msg = "from 0.2 to 0.9" },
        { "rejects vadActivationThreshold NaN", make { vadActivationThreshold = nan },
            field = p "vadActivationThreshold" },
        { "rejects userInactivityTimeout 0", make { userInactivityTimeout = 0 },
            field = p "userInactivityTimeout", msg = "must be a number > 0" },
        { "rejects a negative maxCallDuration", make { maxCallDuration = -1 },
            field = p "maxCallDuration" },
        { "rejects an infinite maxCallDuration", make { maxCallDuration = inf },
            field = p "maxCallDuration" },
        { "rejects llmConfig that is a string", make { llmConfig = "gpt-4" },
            field = p "llmConfig", msg = "must be an object" },
        { "rejects llmConfig that is a sequence", make { llmConfig = { "openai" } },
            field = p "llmConfig" },
        { "rejects greetingMessageType TEXT", make { greetingMessageType = "TEXT" },
            field = p "greetingMessageType", msg = '"STATIC" or "PROMPT"' },
        { "rejects greetingMessageType in lower case", make { greetingMessageType = "static" },
            field = p "greetingMessageType" },
        { "rejects a numeric webToolsIds element", make { webToolsIds = { "w-1", 2 } },
            field = p "webToolsIds[2]", msg = "must be a string" },
        { "rejects voiceDictionaryIds that is a string", make { voiceDictionaryIds = "d-1" },
            field = p "voiceDictionaryIds", msg = "must be an array" },
        { "rejects knowledgeBaseItemsIds given as an object", make { knowledgeBaseItemsIds = { a = "kb" } },
            field = p "knowledgeBaseItemsIds", msg = "must be an array" },
    }
    for _, f in ipairs(OPTIONAL) do
        cases[#cases + 1] = { "accepts null for optional " .. f, make { [f] = null } }
    end
    for _, f in ipairs(BOOLEANS) do
        cases[#cases + 1] = { "accepts boolean " .. f, make { [f] = false } }
        cases[#cases + 1] = { "rejects " .. f .. ' = "true"', make { [f] = "true" },
            field = p(f), msg = "must be a boolean" }
    end
    return cases
end

-- Valid call bodies to start from.
local PHONE = { toNumber = "+971501234567", phoneNumber = "+12025550123", voiceAgentId = "agent-1" }
local TWILIO = { toNumber = "+971501234567", twilioPhoneNumber = "+12025550123",
    voiceAgentId = "agent-1" }

-- A call body with an inline agent built from `extra`.
local function inline(base, extra, top)
    local b = with(base, top or {})
    b.voiceAgentId = nil
    b.agentDetails = with(AGENT, extra or {})
    return b
end

-- Cases common to both call routes; `own` is the name of the caller's number field.
local function call_cases(base, own)
    local function body(extra) return with(base, extra) end
    local cases = {
        { "accepts voiceAgentId without params", body {} },
        { "accepts voiceAgentId with params", body { params = { name = "Omar", n = 3, vip = true } } },
        { "accepts voiceAgentId with null params", body { params = null } },
        { "accepts voiceAgentId with null agentDetails", body { agentDetails = null } },
        { "accepts agentDetails with null voiceAgentId",
            with(inline(base), { voiceAgentId = null }) },
        { "accepts agentDetails without placeholders or params", inline(base) },
        { "accepts agentDetails whose params fill its placeholders", inline(base, {
            greetingMessage = "Hello {{name}}", preamble = "You help {{name}} with {{topic}}.",
            params = { name = "Omar", topic = "billing" } }) },
        { "accepts placeholders with spaces inside the braces", inline(base, {
            greetingMessage = "Hi {{ name }}!", params = { name = "Omar" } }) },
        { "accepts placeholder names with dots and dashes", inline(base, {
            greetingMessage = "{{user.first-name}} {{a_1}}",
            params = { ["user.first-name"] = "Omar", a_1 = 1 } }) },
        { "accepts Arabic placeholder names when defined", inline(base, {
            lang = "ar", greetingMessage = "مرحبا {{الاسم}}", params = { ["الاسم"] = "عمر" } }) },
        { "accepts a placeholder filled with false or 0", inline(base, {
            greetingMessage = "{{a}} {{b}}", params = { a = false, b = 0 } }) },
        { "ignores text that is not a placeholder", inline(base, {
            greetingMessage = "Use {} or {{}} or { {x} } or {{two words}}" }) },
        { "accepts agentDetails with null params and no placeholders",
            inline(base, { params = null }) },
        { "accepts agentDetails with top-level params null", inline(base, {}, { params = null }) },
        { "accepts the shortest E.164 number (7 digits)", body { toNumber = "+1234567" } },
        { "accepts the longest E.164 number (15 digits)", body { toNumber = "+123456789012345" } },
        { "passes unknown fields through", body { metadata = { 1, 2 }, extra = "x" } },

        { "rejects a missing toNumber", without(body {}, "toNumber"),
            field = "toNumber", msg = "is required" },
        { "rejects a missing " .. own, without(body {}, own), field = own, msg = "is required" },
        { "rejects a null toNumber", body { toNumber = null }, field = "toNumber" },
        { "rejects toNumber starting +0", body { toNumber = "+0501234567" },
            field = "toNumber", msg = "must be an E.164 phone number such as +971501234567" },
        { "rejects a toNumber of 6 digits", body { toNumber = "+123456" }, field = "toNumber" },
        { "rejects a toNumber of 16 digits", body { toNumber = "+1234567890123456" },
            field = "toNumber" },
        { "rejects a toNumber with spaces", body { toNumber = "+971 50 123 4567" },
            field = "toNumber" },
        { "rejects a toNumber with dashes", body { toNumber = "+1-202-555-0123" }, field = "toNumber" },
        { "rejects a toNumber without +", body { toNumber = "971501234567" }, field = "toNumber" },
        { "rejects a toNumber given as a number", body { toNumber = 971501234567 },
            field = "toNumber" },
        { "rejects a " .. own .. " with letters", body { [own] = "+1202555O123" }, field = own },
        { "rejects neither voiceAgentId nor agentDetails",
            without(body {}, "voiceAgentId"),
            field = "voiceAgentId", msg = "exactly one of voiceAgentId or agentDetails is required" },
        { "rejects both voiceAgentId and agentDetails", body { agentDetails = with(AGENT, {}) },
            field = "voiceAgentId", msg = "exactly one of voiceAgentId or agentDetails is required" },
        { "rejects voiceAgentId and agentDetails both null",
            body { voiceAgentId = null, agentDetails = null }, field = "voiceAgentId",
            msg = "exactly one" },
        { "rejects an empty voiceAgentId", body { voiceAgentId = "" },
            field = "voiceAgentId", msg = "must be a non-empty string" },
        { "rejects a numeric voiceAgentId", body { voiceAgentId = 12 }, field = "voiceAgentId" },
        { "rejects bad params with voiceAgentId", body { params = { name = { "x" } } },
            field = "params.name" },
        { "rejects params that is not an object", body { params = "name=Omar" },
            field = "params", msg = "must be an object" },
        { "rejects agentDetails that is not an object",
            with(inline(base), { agentDetails = "agent" }), field = "agentDetails",
            msg = "must be an object" },
        { "rejects agentDetails without agentName", with(inline(base), { agentDetails = {} }),
            field = "agentDetails.agentName", msg = "is required" },
        { "rejects top-level params with agentDetails", inline(base, {
            params = { name = "x" } }, { params = { name = "Omar" } }),
            field = "params", msg = "params goes inside agentDetails when calling with agentDetails" },
        { "rejects a placeholder in greetingMessage without a param", inline(base, {
            greetingMessage = "Hello {{name}}" }), field = "agentDetails.params.name",
            msg = "agentDetails.params.name is missing: {{name}} in agentDetails.greetingMessage"
                .. " would be spoken as is" },
        { "rejects a placeholder in preamble without a param", inline(base, {
            preamble = "You work for {{company}}.", params = { name = "x" } }),
            field = "agentDetails.params.company", msg = "in agentDetails.preamble" },
        { "rejects a spaced placeholder without a param", inline(base, {
            greetingMessage = "Hi {{  name  }}", params = {} }), field = "agentDetails.params.name",
            msg = "{{name}}" },
        { "rejects a placeholder when params define only other names", inline(base, {
            greetingMessage = "Hi {{name}}", params = { other = "x" } }),
            field = "agentDetails.params.name" },
        { "rejects the second of two placeholders when only one is defined", inline(base, {
            greetingMessage = "{{a}} and {{b}}", params = { a = "x" } }),
            field = "agentDetails.params.b" },
        { "rejects an undefined Arabic placeholder", inline(base, {
            greetingMessage = "مرحبا {{الاسم}}", params = {} }), field = "agentDetails.params.الاسم" },
        { "rejects a dotted placeholder without a param", inline(base, {
            greetingMessage = "{{user.name}}" }), field = "agentDetails.params.user.name" },
        { "rejects a call body that is a sequence", { "+971501234567" }, field = "body" },
    }
    -- every agent rule also applies inside agentDetails, with the path prefixed
    for _, c in ipairs(agent_field_cases(function(extra)
        local b = inline(base)
        local d = with(b.agentDetails, deep_copy(extra))
        -- the full sample's preamble uses {{agentName}}: define it beside the other params
        if type(d.params) == "table" and d.params[1] == nil then
            d.params.agentName = d.params.agentName or "y"
        end
        b.agentDetails = d
        return b
    end, "agentDetails.")) do
        c[1] = "agentDetails: " .. c[1]
        cases[#cases + 1] = c
    end
    return cases
end

describe("hamsa.validate", function()
    describe("is_e164", function()
        local cases = {
            { "+971501234567", true }, { "+12025550123", true }, { "+1234567", true },
            { "+123456789012345", true }, { "+123456", false }, { "+1234567890123456", false },
            { "+0501234567", false }, { "971501234567", false }, { "+971 501234567", false },
            { "+97150123456a", false }, { "++971501234567", false }, { "", false }, { "+", false },
            { "+971501234567\n", false },
        }
        for _, c in ipairs(cases) do
            it(("says %s for %q"):format(tostring(c[2]), c[1]), function()
                assert.equal(c[2], validate.is_e164(c[1]))
            end)
        end
        it("says false for values that are not strings", function()
            assert.is_false(validate.is_e164(971501234567))
            assert.is_false(validate.is_e164(nil))
            assert.is_false(validate.is_e164({ "+971501234567" }))
            assert.is_false(validate.is_e164(null))
        end)
    end)

    describe("agent_create", function()
        local cases = agent_field_cases(agent)
        local more = {
            { "accepts a minimal body", { agentName = "Sara" } },
            { "rejects a missing agentName", { lang = "en" }, field = "agentName",
                msg = "agentName is required" },
            { "rejects an empty body", {}, field = "agentName" },
            { "rejects an empty agentName", { agentName = "" }, field = "agentName",
                msg = "must be a non-empty string" },
            { "rejects a blank agentName", { agentName = "   " }, field = "agentName" },
            { "rejects a numeric agentName", { agentName = 42 }, field = "agentName" },
            { "rejects a null agentName", { agentName = null }, field = "agentName" },
            { "rejects a body that is a sequence", { "Sara" }, field = "body", msg = "must be an object" },
            { "rejects a body with a non-string key", { agentName = "Sara", [2] = "x" },
                field = "body", msg = "must be an object" },
            { "accepts description of any type (not a create field)", agent { description = 5 } },
        }
        for _, c in ipairs(more) do cases[#cases + 1] = c end
        run_cases(validate.agent_create, cases)

        it("rejects a cyclic outcomeResponseShape instead of recursing forever", function()
            local shape = { type = "array" }
            shape.items = shape
            local ok, field, message = validate.agent_create(agent { outcomeResponseShape = shape })
            assert.is_nil(ok)
            assert.matches("^outcomeResponseShape%.items%.items", field)
            assert.matches("is nested too deeply$", message)
        end)

        it("never puts secret values in messages", function()
            local secrets = {
                { webhookAuth = { authKey = "Token", authSecret = 918273645 } },
                { googleCalendarSettings = { accessToken = 918273645 } },
                { googleCalendarSettings = { refreshToken = 918273645 } },
                { llmConfig = "918273645" },
            }
            for _, extra in ipairs(secrets) do
                local ok, _, message = validate.agent_create(agent(extra))
                assert.is_nil(ok)
                assert.is_nil(message:find("918273645", 1, true))
            end
        end)

        it("does not modify the body, even when it fails deep inside", function()
            local body = deep_copy(FULL)
            body.freeSlots.Monday = { { from = "9" } }
            local before = deep_copy(body)
            assert.is_nil((validate.agent_create(body)))
            assert.same(before, body)
            assert.is_nil(getmetatable(body))
        end)

        it("accepts tables carrying the library's marks, such as decoded arrays", function()
            assert.is_true(validate.agent_create(agent { pokeMessages = json.array() }))
            assert.is_true(validate.agent_create(agent { pokeMessages = json.decode('["a"]') }))
            assert.is_true(validate.agent_create(agent { tools = json.object() }))
            -- other metatables are refused (the encoder ignores them): spec/21-validate_raw_spec.lua
        end)

        it("returns the first failure only, as three values", function()
            assert.equal(3, select("#", validate.agent_create({ agentName = "" })))
            assert.equal(1, select("#", validate.agent_create({ agentName = "x" })))
        end)
    end)

    describe("agent_update", function()
        run_cases(validate.agent_update, {
            { "accepts an empty body", {} },
            { "accepts a single field", { silenceThreshold = 800 } },
            { "accepts description, isTemplate and icon", { description = "Sales agent",
                isTemplate = true, icon = "robot" } },
            { "accepts null description, isTemplate and icon", { description = null,
                isTemplate = null, icon = null } },
            { "accepts pokeMessages = [] (clears them)", { pokeMessages = {} } },
            { "accepts a null outcome (clears it)", { outcome = null } },
            { "accepts an Arabic agentName", { agentName = "وكيل المبيعات", lang = "ar" } },
            { "accepts the full create body", deep_copy(FULL) },
            { "accepts placeholders without params (params come at call time)",
                { greetingMessage = "Hello {{name}}" } },
            { "passes unknown fields through", { brandNew = { deep = { 1 } } } },
            { "rejects an empty agentName", { agentName = "" }, field = "agentName",
                msg = "must be a non-empty string" },
            { "rejects a null agentName", { agentName = null }, field = "agentName" },
            { "rejects a numeric description", { description = 5 }, field = "description",
                msg = "must be a string" },
            { "rejects isTemplate 'yes'", { isTemplate = "yes" }, field = "isTemplate",
                msg = "must be a boolean" },
            { "rejects a numeric icon", { icon = 1 }, field = "icon" },
            { "rejects silenceThreshold 0", { silenceThreshold = 0 }, field = "silenceThreshold",
                msg = "silenceThreshold must be an integer from 1 to 9007199254740992" },
            { "rejects a bad element in pokeMessages", { pokeMessages = { "a", "b", false } },
                field = "pokeMessages[3]" },
            { "rejects tools.smartCallEnd 'true'", { tools = { smartCallEnd = "true" } },
                field = "tools.smartCallEnd" },
            { "rejects a bad slot", { freeSlots = { Sunday = { { from = 9, to = "10" } } } },
                field = "freeSlots.Sunday[1].from" },
            { "rejects a bad webhookAuth", { webhookAuth = { authKey = "Token" } },
                field = "webhookAuth.authSecret" },
            { "rejects a bad nested shape", { outcomeResponseShape = { properties = {
                test = { type = "decimal" } } } }, field = "outcomeResponseShape.properties.test.type" },
        })
    end)

    describe("agent_clone", function()
        it("accepts a nil body", function()
            assert.is_true(validate.agent_clone(nil))
        end)
        run_cases(validate.agent_clone, {
            { "accepts an empty body", {} },
            { "accepts a new name", { agentName = "Copy of Sara" } },
            { "accepts an Arabic name", { agentName = "نسخة من سارة" } },
            { "passes unknown fields through", { somethingElse = 5 } },
            { "rejects an empty agentName", { agentName = "" }, field = "agentName",
                msg = "agentName must be a non-empty string" },
            { "rejects a numeric agentName", { agentName = 5 }, field = "agentName" },
            { "rejects a null agentName", { agentName = null }, field = "agentName" },
        })
    end)

    describe("call_phone_number", function()
        run_cases(validate.call_phone_number, call_cases(PHONE, "phoneNumber"))
        run_cases(validate.call_phone_number, {
            { "does not check webhook fields (not part of this route)",
                with(PHONE, { webhookUrl = "http://x", twilioPhoneNumber = 1 }) },
        })
    end)

    describe("call_twilio", function()
        run_cases(validate.call_twilio, call_cases(TWILIO, "twilioPhoneNumber"))
        run_cases(validate.call_twilio, {
            { "accepts webhookUrl and webhookAuth", with(TWILIO, {
                webhookUrl = "https://example.com/hook",
                webhookAuth = { authKey = "Bearer", authSecret = "tok" } }) },
            { "accepts null webhookUrl and webhookAuth", with(TWILIO, {
                webhookUrl = null, webhookAuth = null }) },
                { "rejects an http webhookUrl", with(TWILIO, { webhookUrl = "http://example.com" }),
                field = "webhookUrl", msg = "https://" },
            { "rejects webhookAuth without authSecret", with(TWILIO, {
                webhookAuth = { authKey = "Bearer" } }), field = "webhookAuth.authSecret" },
            { "rejects a non-string authSecret without echoing it", with(TWILIO, {
                webhookAuth = { authKey = "Bearer", authSecret = 314159 } }),
                field = "webhookAuth.authSecret", msg = "webhookAuth.authSecret must be a string" },
            { "rejects a missing twilioPhoneNumber", with(TWILIO, { twilioPhoneNumber = null }),
                field = "twilioPhoneNumber" },
        })
    end)
end)
