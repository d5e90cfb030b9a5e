--- The rule sets of agent bodies (create, update, clone, and the inline
-- agentDetails of a call), compiled once at load time from
-- hamsa.validate.checks: the field rules of docs/wire.md ("Create agent").
-- @module hamsa.validate.agent

local type, next = type, next
local getmetatable = getmetatable

local json = require("hamsa.core").json
local null, ARRAY_MT = json.null, json.array_mt
local huge = math.huge
local C = require "hamsa.validate.checks"
local fast = require "hamsa.validate.fast"
local describe = C.describe
local is_finite = C.is_finite
local check_string = C.check_string
local check_nonempty = C.check_nonempty
local check_boolean = C.check_boolean
local check_https = C.check_https
local check_timezone = C.check_timezone
local integer_min = C.integer_min
local number_positive = C.number_positive
local number_range = C.number_range
local enum = C.enum
local array_of = C.array_of
local object_tail = C.object_tail
local check_free = C.check_free
local object_of = C.object_of
local check_any_object = C.check_any_object

local M = {}

-- Deepest outcomeResponseShape nesting we follow (guards against cyclic tables too).
local MAX_SHAPE_DEPTH = 32

-- params: placeholder name -> string, finite number or boolean.
local function check_params(t)
    local bad = object_tail(t)
    if bad then return "", bad end
    for k, v in next, t do
        if type(k) ~= "string" then return "", "must be an object" end
        local tv = type(v)
        if not (tv == "string" or tv == "boolean" or (tv == "number" and is_finite(v))) then
            return "." .. k, "must be a string, a finite number or a boolean"
        end
    end
end

-- The acceptors of the custom checkers below (hamsa.validate.fast): each returns true
-- only where its checker returns nothing, false when unsure; the checker has the last word.

-- Whether `t` goes out as an object: what object_tail lets through (one C call).
local object_size = require("hamsa.core").shape.object_size
local function is_object(t)
    return object_size(t) ~= false
end

describe[check_params] = { kind = "accept", fn = function(t)
    if not is_object(t) then return false end
    for k, v in next, t do
        if type(k) ~= "string" then return false end
        local tv = type(v)
        if not (tv == "string" or tv == "boolean" or (tv == "number" and v == v and v ~= huge
            and v ~= -huge)) then
            return false
        end
    end
    return true
end }

-- Google Calendar free slots ---------------------------------------------------------------

local DAYS = {
    Monday = true, Tuesday = true, Wednesday = true, Thursday = true,
    Friday = true, Saturday = true, Sunday = true,
}

local check_slot = object_of({ from = check_string, to = check_string }, { "from", "to" },
    { from = true, to = true })
local check_slot_list = array_of(check_slot)

-- A day's entry: a {from, to} slot, or (older response shape) an array of such slots,
-- judged by how it goes out: an array-marked table or an unmarked sequence is a list; an
-- unmarked `{}` goes out as `{}`, a slot without `from` (an empty list is `hamsa.array()`).
local function check_day_entry(e)
    if type(e) == "table" then
        local mt = getmetatable(e)
        if mt == ARRAY_MT or (mt == nil and e[1] ~= nil) then
            return check_slot_list(e)
        end
    end
    return check_slot(e)
end
local check_day = array_of(check_day_entry)

local accept_slot_list = fast.lua_acceptor(check_slot_list)

-- A day's entry, with the common case (a {from, to} slot) inline; any other key in a slot
-- is left to the checker.
describe[check_day_entry] = { kind = "accept", fn = function(e)
    local n = object_size(e)
    if n then return n == 2 and type(e.from) == "string" and type(e.to) == "string" end
    -- not sent as an object: a list of slots, or unsure (accept_slot_list checks the form)
    return accept_slot_list(e)
end }
local accept_day = fast.lua_acceptor(check_day)

local function check_free_slots(t)
    local bad = object_tail(t)
    if bad then return "", bad end
    for k, v in next, t do
        if type(k) ~= "string" then return "", "must be an object" end
        if not DAYS[k] then return "." .. k, "is not a day of the week" end
        if v ~= null then
            local s, tail = check_day(v)
            if s then return "." .. k .. s, tail end
        end
    end
end

-- outcomeResponseShape: a recursive JSON-schema-like shape -----------------------------------

local check_shape_type = enum("object", "array", "string", "number", "integer", "boolean", "null")
local check_required_list = array_of(check_string)

local function check_shape(t, depth)
    local bad = object_tail(t)
    if bad then return "", bad end
    if depth > MAX_SHAPE_DEPTH then return "", "is nested too deeply" end
    for k, v in next, t do
        if type(k) ~= "string" then return "", "must be an object" end
        if v ~= null then
            local s, tail
            if k == "type" then
                s, tail = check_shape_type(v)
            elseif k == "description" then
                s, tail = check_string(v)
            elseif k == "required" then
                s, tail = check_required_list(v)
            elseif k == "items" then
                s, tail = check_shape(v, depth + 1)
            elseif k == "properties" then
                tail = object_tail(v)
                if tail then
                    s = ""
                else
                    for name, sub_shape in next, v do
                        if type(name) ~= "string" then
                            s, tail = "", "must be an object"
                            break
                        end
                        s, tail = check_shape(sub_shape, depth + 1)
                        if s then
                            s = "." .. name .. s
                            break
                        end
                    end
                end
            elseif type(v) == "table" then          -- enum, format, ...: no rule but the form
                s, tail = check_free(v, 1)
            end
            if s then return "." .. k .. s, tail end
        end
    end
end

describe[check_free_slots] = { kind = "accept", fn = function(t)
    if not is_object(t) then return false end
    for k, v in next, t do
        if not DAYS[k] then return false end
        if v ~= null and not accept_day(v) then return false end
    end
    return true
end }

local SHAPE_TYPES = describe[check_shape_type].set
local accept_strings = fast.lua_acceptor(check_required_list)

local function accept_shape(t, depth)
    if depth > MAX_SHAPE_DEPTH or not is_object(t) then return false end
    for k, v in next, t do
        if v == null then
            if type(k) ~= "string" then return false end
        elseif k == "type" then
            if not SHAPE_TYPES[v] then return false end
        elseif k == "description" then
            if type(v) ~= "string" then return false end
        elseif k == "required" then
            if not accept_strings(v) then return false end
        elseif k == "items" then
            if not accept_shape(v, depth + 1) then return false end
        elseif k == "properties" then
            if not is_object(v) then return false end
            for name, sub_shape in next, v do
                if type(name) ~= "string" or not accept_shape(sub_shape, depth + 1) then
                    return false
                end
            end
        elseif type(k) ~= "string" then     -- the names above are strings: one test less
            return false
        elseif type(v) == "table" and check_free(v, 1) ~= nil then
            return false
        end
    end
    return true
end

local function check_outcome_shape(v)
    return check_shape(v, 1)
end

describe[check_outcome_shape] = { kind = "accept", fn = function(v) return accept_shape(v, 1) end }

-- The same custom checkers as structures, for the C walker (hamsa.validate.native).
local structure = require("hamsa.validate.native").structure
structure[check_params] = { kind = "map", value = { kind = "scalar" } }
structure[check_day_entry] = { kind = "day_entry", slot = check_slot }
structure[check_free_slots] = { kind = "map", keys = DAYS, value = check_day, null_ok = true }
-- an outcome shape: null passes under any name, names no rule covers pass in the form the
-- encoder sends unchanged, and `properties` maps each name to a shape (itself)
local SHAPE = { kind = "object", nonnull = {} }
SHAPE.fields = {
    type = check_shape_type, description = check_string, required = check_required_list,
    items = SHAPE, properties = { kind = "map", value = SHAPE },
}
structure[check_outcome_shape] = SHAPE

-- Agent bodies -----------------------------------------------------------------------------

local webhook_auth = object_of({ authKey = check_string, authSecret = check_string },
    { "authKey", "authSecret" }, { authKey = true, authSecret = true })

local calendar_settings = object_of({
    calendarId = check_string,
    eventTitle = check_string,
    calendarName = check_string,
    accessToken = check_string,
    refreshToken = check_string,
    meetingDuration = number_positive,
    timezone = check_timezone,
    freeSlots = check_free_slots,
})

local tools = object_of({
    googleCalendar = check_boolean,
    genderDetection = check_boolean,
    smartCallEnd = check_boolean,
})

-- The fields of a create body; update and inline agents derive from it.
local AGENT_FIELDS = {
    agentName = check_nonempty,
    greetingMessage = check_string,
    preamble = check_string,
    lang = enum("ar", "en"),
    pokeMessages = array_of(check_string),
    realTime = check_boolean,
    interrupt = check_boolean,
    backgroundNoise = check_boolean,
    thinkingVoice = check_boolean,
    speakerIdentification = check_boolean,
    agenticRag = check_boolean,
    silenceThreshold = integer_min(1),
    outcome = check_string,
    outcomeResponseShape = check_outcome_shape,
    voiceId = check_nonempty,
    tools = tools,
    params = check_params,
    googleCalendarSettings = calendar_settings,
    freeSlots = check_free_slots,
    webhookUrl = check_https,
    webhookAuth = webhook_auth,
    responseDelay = number_range(100, 1500),
    minInterruptionDuration = number_range(0.2, 1.5),
    vadActivationThreshold = number_range(0.2, 0.9),
    userInactivityTimeout = number_positive,
    maxCallDuration = number_positive,
    llmConfig = check_any_object,
    greetingMessageType = enum("STATIC", "PROMPT"),
    -- id lists (string[] in the reference notes), sent as arrays like pokeMessages
    webToolsIds = array_of(check_string),
    voiceDictionaryIds = array_of(check_string),
    knowledgeBaseItemsIds = array_of(check_string),
}

local function extend(base, more)
    local t = {}
    for k, v in next, base do t[k] = v end
    for k, v in next, more do t[k] = v end
    return t
end

local NAME_NONNULL = { agentName = true }

local agent_create = object_of(AGENT_FIELDS, { "agentName" }, NAME_NONNULL)
local agent_update = object_of(extend(AGENT_FIELDS, {
    description = check_string,
    isTemplate = check_boolean,
    icon = check_string,
}), nil, NAME_NONNULL)
local agent_clone = object_of({ agentName = check_nonempty }, nil, NAME_NONNULL)

M.create, M.update, M.clone = agent_create, agent_update, agent_clone
M.params, M.webhook_auth, M.outcome_shape = check_params, webhook_auth, check_outcome_shape

return M
