--- bench/payload.lua: the data every contender of `make bench` sends and
-- receives, built in one place so that all of them move the same bytes.
--
--   local payload = require "payload"        -- (LUA_PATH has bench/?.lua)
--   payload.agent()          the create-agent body, about 2 KB encoded (a fresh table)
--   payload.small()          a small create-agent body, about 300 bytes
--   payload.body(name)       payload[name]() for name "agent" or "small"
--   payload.envelope_json([name])  what the server answers to that body (the
--                            stored agent in Hamsa's envelope: 2.5 KB for
--                            "agent", the default; about 0.7 KB for "small")
--   payload.list()           a 1 MB agent-list response (list_json(): encoded)
--   payload.NAMES            { "agent", "small" }: the payloads `make bench` runs
--
-- As a script, `lua5.4 bench/payload.lua DIR` writes DIR/body.json and
-- DIR/envelope.json (the agent payload, for the C and shell contenders), and
-- DIR/body_small.json and DIR/envelope_small.json.
local json = require("hamsa.core").json

local M = {}

local function slots(...)
    local out = {}
    for i, pair in ipairs({ ... }) do out[i] = { from = pair[1], to = pair[2] } end
    return out
end

local function week(days)
    local all = {
        Monday = slots({ "09:00", "12:30" }, { "14:00", "18:00" }),
        Tuesday = slots({ "09:00", "13:00" }),
        Thursday = slots({ "09:00", "12:30" }, { "14:00", "17:00" }),
    }
    if days == 1 then all.Tuesday, all.Thursday = nil, nil end
    return all
end

--- The body of one create-agent request: every kind of field the
-- validator knows (Arabic text, freeSlots, nested tools and shapes).
function M.agent()
    return {
        agentName = "سارة - الاستقبال",
        lang = "ar",
        greetingMessageType = "STATIC",
        greetingMessage = "مرحبا {{name}}، معك سارة من عيادة {{clinic}}. كيف أقدر أساعدك اليوم؟",
        preamble = "You are Sara, the receptionist of {{clinic}} in Dubai. Confirm the appointment on "
            .. "{{date}}, offer free slots when asked, never give medical advice. أنتِ سارة، موظفة الاستقبال؛ "
            .. "كوني مختصرة ولطيفة، وأكدي الموعد قبل إنهاء المكالمة.",
        pokeMessages = { "هل ما زلت معي؟", "Are you still there?", "أقدر أساعدك بشي ثاني؟" },
        silenceThreshold = 800,
        interrupt = true,
        realTime = true,
        backgroundNoise = false,
        thinkingVoice = true,
        speakerIdentification = false,
        agenticRag = true,
        responseDelay = 400,
        minInterruptionDuration = 0.5,
        vadActivationThreshold = 0.45,
        userInactivityTimeout = 20,
        maxCallDuration = 600,
        voiceId = "7b1a4c3e-9d2f-4e8a-b6c5-0f1e2d3c4b5a",
        outcome = "Summarise whether the appointment was confirmed, moved or cancelled.",
        outcomeResponseShape = {
            type = "object",
            properties = {
                confirmed = { type = "boolean", description = "the caller confirmed" },
                newDate = { type = "string", description = "the new slot, if moved" },
                notes = { type = "array", items = { type = "string" } },
            },
            required = { "confirmed" },
        },
        tools = { googleCalendar = true, genderDetection = true, smartCallEnd = true },
        params = { name = "عميلنا العزيز", clinic = "Acme Dental", date = "tomorrow" },
        googleCalendarSettings = {
            calendarId = "reception@acme-dental.example",
            calendarName = "Reception",
            eventTitle = "موعد أسنان - {{name}}",
            meetingDuration = 30,
            timezone = "Asia/Dubai",
            freeSlots = week(1),
        },
        freeSlots = week(),
        webhookUrl = "https://hooks.acme-dental.example/hamsa/events",
        webhookAuth = { authKey = "Token", authSecret = "wh-sec-2f9c1d7e" },
        llmConfig = { provider = "openai", model = "gpt-4o-mini", temperature = 0.4 },
    }
end

--- A small create body: what a first agent looks like (about 300 bytes).
function M.small()
    return {
        agentName = "Sara - Reception",
        lang = "en",
        greetingMessage = "Hello {{name}}, this is Sara from Acme Dental. How can I help?",
        preamble = "You are Sara, the receptionist of Acme Dental; confirm the appointment and be brief.",
        silenceThreshold = 800,
        interrupt = true,
        pokeMessages = { "Are you still there?" },
        tools = { smartCallEnd = true },
    }
end

M.NAMES = { "agent", "small" }

function M.body(name)
    assert(name == "agent" or name == "small", "payload: no body named " .. tostring(name))
    return M[name]()
end

local function stored(i, name)
    local a = M.body(name or "agent")
    a.id = string.format("3f6c2a1e-8b4d-4c7a-9e2f-%012d", i)
    a.projectId = "c0a8012e-5d6f-4b3a-8c9d-1e2f3a4b5c6d"
    a.apiKeyId = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    a.createdAt = "2025-11-20T09:41:27.512Z"
    a.updatedAt = "2025-11-20T09:41:27.512Z"
    a.description = json.null
    a.voiceRecordId = json.null
    a.voiceRecord = json.null
    a.isTemplate = false
    return a
end

--- The server's answer to a create: Hamsa's envelope around the stored agent
-- (name: the body created, "agent" by default).
function M.envelope_json(name)
    return assert(json.encode({
        success = true,
        message = "Voice agent created successfully",
        messageKey = "VoiceAgentCreatedSuccessfully",
        data = stored(1, name),
    }))
end

--- An agent listing of about 1 MB once encoded (`GET /v1/voice-agents?take=...`).
function M.list()
    local agents = {}
    for i = 1, 428 do agents[i] = stored(i) end
    return {
        success = true,
        message = "Voice agents fetched successfully",
        data = { voiceAgents = agents, total = #agents, skip = 0, take = #agents },
    }
end

function M.list_json()
    return assert(json.encode(M.list()))
end

if arg and arg[0] and arg[0]:match("payload%.lua$") and arg[1] then
    local function write(name, s)
        local f = assert(io.open(arg[1] .. "/" .. name, "wb"))
        f:write(s)
        f:close()
    end
    for _, name in ipairs(M.NAMES) do
        local tail = name == "agent" and "" or "_" .. name
        write("body" .. tail .. ".json", assert(json.encode(M.body(name))))
        write("envelope" .. tail .. ".json", M.envelope_json(name))
    end
end

return M
