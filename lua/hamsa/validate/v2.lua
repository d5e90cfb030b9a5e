--- The rule sets of v2 agent bodies (`POST /v2/voice-agents`, `PATCH
-- /v2/voice-agents/{id}`), compiled once at load time from
-- hamsa.validate.checks. A v2 agent groups its fields in nested objects:
-- `conversation`, `voice`, `llm` and `callSettings` (docs/wire.md, "Routes
-- beyond the five"); the reference shows no ranges for them, so
-- `callSettings` takes the v1 ranges of the same fields.
-- @module hamsa.validate.v2

local C = require "hamsa.validate.checks"
local agent = require "hamsa.validate.agent"
local check_string = C.check_string
local check_nonempty = C.check_nonempty
local check_boolean = C.check_boolean
local check_https = C.check_https
local integer_min = C.integer_min
local number_positive = C.number_positive
local number_range = C.number_range
local enum = C.enum
local array_of = C.array_of
local object_of = C.object_of
local check_any_object = C.check_any_object

local type = type

local M = {}

local string_list = array_of(check_string)

-- greetingMessageType is a string and no more: the docs give STATIC/PROMPT for v1 and
-- TEXT in the v2 sample, so no list of values holds.
local conversation = object_of({
    greetingMessage = check_string,
    greetingMessageType = check_string,
    preamble = check_string,
    pokeMessages = string_list,
    params = agent.params,
    alignment = object_of({ greetingMessage = check_string, preamble = check_string }),
})

local voice = object_of({
    voiceId = check_string,
    lang = enum("ar", "en"),
})

local llm = object_of({
    provider = check_string,
    model = check_string,
    temperature = number_range(0, 2),
    baseUrl = check_https,
    apiKey = check_string,
})

-- waitForUserToSpeakFirst: the v1 reference gives a number from 0 to 2 (unit unstated),
-- the dashboard a switch; either form is taken, so neither documented one is refused.
local function wait_first(v)
    if type(v) == "boolean" then return end
    if type(v) ~= "number" or not (v >= 0 and v <= 2) then
        return "", "must be a boolean or a number from 0 to 2"
    end
end

local call_settings = object_of({
    responseDelay = number_range(100, 1500),
    minInterruptionDuration = number_range(0.2, 1.5),
    vadActivationThreshold = number_range(0.2, 0.9),
    userInactivityTimeout = number_positive,
    maxCallDuration = number_positive,
    silenceThreshold = integer_min(1),
    noiseCancellation = check_string,
    cancelNoisePer = check_string,
    waitForUserToSpeakFirst = wait_first,
    interrupt = check_boolean,
    backgroundNoise = check_boolean,
    enableAutoGainControl = check_boolean,
    sendDenoisedToStt = check_boolean,
    thinkingVoice = check_boolean,
    speakerIdentification = check_boolean,
    agenticRag = check_boolean,
    languageDialectSwitcher = check_boolean,
    genderDetection = check_boolean,
    smartCallEnd = check_boolean,
})

-- The top level; `tools` here is an array of tool references (objects), not v1's flags.
local FIELDS = {
    name = check_nonempty,
    type = check_string,
    tools = array_of(check_any_object),
    knowledgeBaseItemsIds = string_list,
    voiceDictionaryIds = string_list,
    webhookUrl = check_https,
    webhookAuth = agent.webhook_auth,
    outcomeResponseShape = agent.outcome_shape,
    conversation = conversation,
    voice = voice,
    llm = llm,
    callSettings = call_settings,
}

local NAME_NONNULL = { name = true }

M.create = object_of(FIELDS, { "name" }, NAME_NONNULL)
M.update = object_of(FIELDS, nil, NAME_NONNULL)

return M
