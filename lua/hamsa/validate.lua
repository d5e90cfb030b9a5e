--- Client-side validation of request bodies, before anything is encoded or sent.
--
-- The field rules of Hamsa's API (types, ranges and enums as its reference gives them;
-- the decisions in docs/wire.md) are compiled once, at load time, into tables of small checker
-- closures (field name -> checker). A body is walked with `next` over the fields it really
-- has, so the cost follows the fields present, and nothing is concatenated unless a check
-- fails. A checker returns nothing on success, or `suffix, tail` on failure: `suffix` is the
-- path below the value (`""`, `".from"`, `"[2]"`) and `tail` the end of the sentence.
--
-- What is judged is what the encoder will send. The encoder reads tables raw (`lua_next`,
-- `lua_rawgeti`) and knows no metatable but its two marks, so a table with any other
-- metatable is refused, wherever it sits: fields behind its `__index` would pass a check
-- read through it and never be sent. Checking only the raw fields instead would pass such a
-- body and send it without them; whoever hands us a proxy or a class instance means the
-- fields they see, so saying so beats sending fewer. Past that check a table has no
-- metatable or a mark, the marks carry no metamethods, and `t[k]`, `#t` are raw reads.
-- A mark decides the wire form (array: `[]`, elements 1..n only; object: `{}`), so one that
-- contradicts the field is refused, even on an empty table. An unmarked empty table goes
-- out as `{}`, except at the array places `hamsa.resources` array-marks (pokeMessages, the
-- id lists, the days of freeSlots, `required` lists): there it is an empty array.
-- @module hamsa.validate

local type, next, tostring, getmetatable = type, next, tostring, getmetatable
local floor, huge = math.floor, math.huge
local math_type = math.type
local find, gmatch, sub, byte = string.find, string.gmatch, string.sub, string.byte

local json = require("hamsa.core").json
local null, ARRAY_MT, OBJECT_MT = json.null, json.array_mt, json.object_mt

local M = {}

-- Deepest outcomeResponseShape nesting we follow (guards against cyclic tables too).
local MAX_SHAPE_DEPTH = 32
-- Deepest nesting followed inside values no rule covers (unknown fields, llmConfig): the
-- client refuses bodies nested deeper than 100 (`max_request_depth`) anyway, and failing at
-- the limit ends the walk of a cyclic table at once.
local MAX_FREE_DEPTH = 100

-- The ends of sentences about a table's form.
local FOREIGN = "must be a plain table or one marked by hamsa.array or hamsa.object"
    .. " (fields behind another metatable are not sent)"
local MARKED_ARRAY = "must be an object, not a table marked as an array (by hamsa.array or"
    .. " by decoding [])"
local MARKED_OBJECT = "must be an array, not a table marked by hamsa.object"
local ARRAY_KEYS = "is marked as an array, so only its elements 1 to n would be sent:"
    .. " it must have no other keys"

-- Whole numbers that go out as digits and that every JSON reader takes exactly: at most
-- 2^53 in magnitude (beyond, doubles skip integers, and a JavaScript server rounds). On Lua
-- 5.3+ a float from 1e15 up goes out in exponent form (`1e+15`, as Lua prints it) even
-- below 2^53; 5.1, 5.2 and LuaJIT write every whole double up to 2^53 as digits.
local MAX_INTEGER, MAX_INTEGER_TEXT = 2 ^ 53, "9007199254740992"
local FLOAT_DIGITS = 1e15

-- Scalar predicates ------------------------------------------------------------------------

local function is_finite(v)
    return v == v and v ~= huge and v ~= -huge
end

local function is_integer(v)
    if type(v) ~= "number" then return false end
    if math_type and math_type(v) == "integer" then return true end
    return is_finite(v) and v == floor(v)
end

local function is_blank(s)
    return not find(s, "%S")
end

--- Whether `s` is an E.164 phone number: `+`, then 7 to 15 digits, the first not 0.
-- @param s any value
-- @treturn boolean
function M.is_e164(s)
    if type(s) ~= "string" then return false end
    local n = #s
    return n >= 8 and n <= 16 and find(s, "^%+[1-9]%d+$") ~= nil
end
local is_e164 = M.is_e164

-- An https URL with a host: scheme case-insensitive, no whitespace anywhere, optional
-- user info and port. One anchored match with position captures: no new strings.
local function is_https_url(s)
    local _, _, host, stop = find(s, "^[Hh][Tt][Tt][Pp][Ss]://()[^/?#%s]*()%S*$")
    if not host then return false end
    local at = find(s, "@", host, true)
    while at and at < stop do
        host = at + 1
        at = find(s, "@", host, true)
    end
    return host < stop and byte(s, host) ~= 58 -- ":" (a port without a host)
end

-- An IANA-looking zone name: "UTC", "Asia/Dubai", "America/Port-au-Prince", "Etc/GMT+4".
-- Anchored finds from position to position: no substring is made (saves two strings a call).
local function is_timezone(s)
    local _, stop = find(s, "^[A-Za-z][%w_+%-]*")
    if not stop then return false end
    local n = #s
    while stop < n do
        _, stop = find(s, "^/[%w_+%-]+", stop + 1)
        if not stop then return false end
    end
    return true
end

-- Checker builders -------------------------------------------------------------------------

local function check_string(v)
    if type(v) ~= "string" then return "", "must be a string" end
end

local function check_nonempty(v)
    if type(v) ~= "string" or is_blank(v) then return "", "must be a non-empty string" end
end

local function check_boolean(v)
    if type(v) ~= "boolean" then return "", "must be a boolean" end
end

local function check_e164(v)
    if not is_e164(v) then
        return "", "must be an E.164 phone number such as +971501234567"
    end
end

local function check_https(v)
    if type(v) ~= "string" or not is_https_url(v) then
        return "", "must be an https:// URL with a host"
    end
end

local function check_timezone(v)
    if type(v) ~= "string" or not is_timezone(v) then
        return "", "must be an IANA time zone name such as Asia/Dubai or UTC"
    end
end

-- An integer from `min` up to 2^53, sent as digits on every Lua.
local function integer_min(min)
    local tail = "must be an integer from " .. min .. " to " .. MAX_INTEGER_TEXT
    local float_tail = tail .. ", as a Lua integer: a float from 1e15 up is sent in exponent"
        .. " form (use math.tointeger)"
    if min < -MAX_INTEGER then min = -MAX_INTEGER end
    return function(v)
        if not is_integer(v) or v < min or v > MAX_INTEGER then return "", tail end
        if (v >= FLOAT_DIGITS or v <= -FLOAT_DIGITS) and math_type and math_type(v) == "float" then
            return "", float_tail
        end
    end
end

local function number_positive(v)
    if type(v) ~= "number" or not is_finite(v) or v <= 0 then
        return "", "must be a number > 0"
    end
end

local function number_range(lo, hi)
    local tail = "must be a number from " .. lo .. " to " .. hi
    return function(v)
        if type(v) ~= "number" or not (v >= lo and v <= hi) then return "", tail end
    end
end

-- `words` are the allowed strings, quoted in the message: "ar" or "en".
local function enum(...)
    local set, words = {}, { ... }
    for i = 1, #words do
        set[words[i]] = true
        words[i] = '"' .. words[i] .. '"'
    end
    local tail = "must be " .. table.concat(words, ", ", 1, #words - 1)
        .. (#words > 2 and "," or "") .. " or " .. words[#words]
    return function(v)
        if not set[v] then return "", tail end
    end
end

-- "[i]" prefixed to an element's own suffix.
local function index_path(i, s)
    return "[" .. tostring(i) .. "]" .. s
end

-- An array: unmarked or array-marked, keys exactly 1..n (or empty), then every element
-- through `elem`.
local function array_of(elem)
    local strings = elem == check_string    -- checked inline: saves a call per element
    return function(t)
        if type(t) ~= "table" then return "", "must be an array" end
        local mt = getmetatable(t)
        if mt ~= nil and mt ~= ARRAY_MT then return "", mt == OBJECT_MT and MARKED_OBJECT or FOREIGN end
        local n = 0
        for _ in next, t do n = n + 1 end
        -- n keys, and 1..n all present: then there is no other key
        for i = 1, n do
            local v = t[i]
            if v == nil then return "", "must be an array" end
            if strings then
                if type(v) ~= "string" then return index_path(i, ""), "must be a string" end
            else
                local s, tail = elem(v)
                if s then return index_path(i, s), tail end
            end
        end
    end
end

-- nil when `t` goes out as an object (unmarked or object-marked, and not a sequence: the
-- common mistake, rejected at once), else the end of the sentence.
local function object_tail(t)
    if type(t) ~= "table" then return "must be an object" end
    local mt = getmetatable(t)
    if mt ~= nil and mt ~= OBJECT_MT then return mt == ARRAY_MT and MARKED_ARRAY or FOREIGN end
    if t[1] ~= nil then return "must be an object" end
end

-- "[k]" or ".k" prefixed to a suffix, for a key of a value no rule covers.
local function key_path(k, s)
    if type(k) == "string" then return "." .. k .. s end
    return index_path(k, s)
end

-- A table no rule covers (an unknown field's, llmConfig's): only what the encoder would
-- change without a word is refused, namely a foreign metatable, and keys of an
-- array-marked table outside its elements 1..n. Other faults (a function, a mixed table)
-- make the encoder fail loudly.
local function check_free(t, depth)
    local mt = getmetatable(t)
    local n
    if mt == ARRAY_MT then
        n = #t
    elseif mt ~= nil and mt ~= OBJECT_MT then
        return "", FOREIGN
    end
    if depth > MAX_FREE_DEPTH then return "", "is nested too deeply" end
    for k, v in next, t do
        if n and not (type(k) == "number" and k >= 1 and k <= n and k == floor(k)) then
            return "", ARRAY_KEYS
        end
        if type(v) == "table" then
            local s, tail = check_free(v, depth + 1)
            if s then return key_path(k, s), tail end
        end
    end
end

-- An object whose known keys have checkers; other string keys pass. `required` lists keys
-- that must be present; `nonnull` marks keys whose `null` is refused (optional keys take it).
local function object_of(fields, required, nonnull)
    nonnull = nonnull or {}
    -- plain string and boolean fields are checked inline: saves a call (and, for booleans,
    -- the type() call) per field; a key with a checker is a string, so only others need type(k)
    local kinds = {}
    for k, check in next, fields do
        kinds[k] = check == check_string and "string" or check == check_boolean and "boolean" or nil
    end
    return function(t)
        if type(t) ~= "table" then return "", "must be an object" end
        local mt = getmetatable(t)
        if mt ~= nil and mt ~= OBJECT_MT then return "", mt == ARRAY_MT and MARKED_ARRAY or FOREIGN end
        if t[1] ~= nil then return "", "must be an object" end
        for k, v in next, t do
            local kind = kinds[k]
            if kind == "boolean" then
                if v ~= true and v ~= false and (v ~= null or nonnull[k]) then return "." .. k, "must be a boolean" end
            elseif kind then
                if type(v) ~= "string" and (v ~= null or nonnull[k]) then return "." .. k, "must be a string" end
            else
                local check = fields[k]
                if check then
                    if v ~= null or nonnull[k] then
                        local s, tail = check(v)
                        if s then return "." .. k .. s, tail end
                    end
                elseif type(k) ~= "string" then
                    return "", "must be an object"
                elseif type(v) == "table" then
                    local s, tail = check_free(v, 1)
                    if s then return "." .. k .. s, tail end
                end
            end
        end
        if required then
            for i = 1, #required do
                local k = required[i]
                if t[k] == nil then return "." .. k, "is required" end
            end
        end
    end
end

-- An object of any content (llmConfig).
local check_any_object = object_of({})

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

local function check_outcome_shape(v)
    return check_shape(v, 1)
end

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

-- Calls ------------------------------------------------------------------------------------

local phone_call = object_of({
    toNumber = check_e164,
    phoneNumber = check_e164,
    voiceAgentId = check_nonempty,
    agentDetails = agent_create,
    params = check_params,
}, { "toNumber", "phoneNumber" }, { toNumber = true, phoneNumber = true })

local twilio_call = object_of({
    toNumber = check_e164,
    twilioPhoneNumber = check_e164,
    voiceAgentId = check_nonempty,
    agentDetails = agent_create,
    params = check_params,
    webhookUrl = check_https,
    webhookAuth = webhook_auth,
}, { "toNumber", "twilioPhoneNumber" }, { toNumber = true, twilioPhoneNumber = true })

local EXACTLY_ONE = "exactly one of voiceAgentId or agentDetails is required"
-- The texts of an inline agent whose {{placeholders}} its params must define, in order.
local PLACEHOLDER_FIELDS = { "greetingMessage", "preamble" }

-- {{ name }}: letters (ASCII or UTF-8, so Arabic names count), digits, "_", "-", ".".
local PLACEHOLDER = "{{%s*([%w_%.%-\128-\255]+)%s*}}"

-- The first {{name}} in `text` that `params` does not define, or nil.
local function undefined_placeholder(text, params)
    if type(text) ~= "string" or not find(text, "{{", 1, true) then return nil end
    for name in gmatch(text, PLACEHOLDER) do
        -- params values were checked already: null is not among them
        if not (params and params[name] ~= nil) then return name end
    end
end

-- The rules spanning several fields of a call body; `body` has passed its field checks.
local function call_rules(body)
    local id, details = body.voiceAgentId, body.agentDetails
    if id == null then id = nil end
    if details == null then details = nil end
    if id == nil and details == nil then
        return "voiceAgentId", "voiceAgentId is missing: " .. EXACTLY_ONE
    elseif id ~= nil and details ~= nil then
        return "voiceAgentId", "voiceAgentId must not be sent with agentDetails: " .. EXACTLY_ONE
    end
    if details == nil then return true end
    local params = body.params
    if params ~= nil and params ~= null then
        return "params", "params goes inside agentDetails when calling with agentDetails"
    end
    params = details.params
    if params == null then params = nil end
    for i = 1, #PLACEHOLDER_FIELDS do
        local where = PLACEHOLDER_FIELDS[i]
        local name = undefined_placeholder(details[where], params)
        if name then
            local field = "agentDetails.params." .. name
            return field, field .. " is missing: {{" .. name .. "}} in agentDetails." .. where
                .. " would be spoken as is"
        end
    end
    return true
end

-- Runs a compiled object checker over a body; returns true or nil, field, message.
local function run(check, body)
    local s, tail = check(body)
    if not s then return true end
    local field = s == "" and "body" or sub(s, 2)
    return nil, field, field .. " " .. tail
end

--- Checks the body of `POST /v1/voice-agents` (create an agent).
-- @tparam table body the request body, never modified
-- @return `true`, or `nil, field, message` for the first invalid field found
function M.agent_create(body)
    return run(agent_create, body)
end

--- Checks the body of `PATCH /v1/voice-agents/{id}`: create's rules, nothing required.
-- @tparam table body the request body, never modified
-- @return `true`, or `nil, field, message`
function M.agent_update(body)
    return run(agent_update, body)
end

--- Checks the optional body of `POST /v1/voice-agents/clone` (`{ agentName = ... }`).
-- @tparam[opt] table body the request body, or nil
-- @return `true`, or `nil, field, message`
function M.agent_clone(body)
    if body == nil then return true end
    return run(agent_clone, body)
end

-- A call body: field checks, then the rules between fields.
local function run_call(check, body)
    local ok, field, message = run(check, body)
    if not ok then return nil, field, message end
    local f, msg = call_rules(body)
    if f == true then return true end
    return nil, f, msg
end

--- Checks the body of `POST /v1/voice-agents/phone-number/call`.
-- `toNumber` and `phoneNumber` (E.164), then exactly one of `voiceAgentId` (with optional
-- `params`) or `agentDetails` (an inline agent whose placeholders its own params must fill).
-- @tparam table body the request body, never modified
-- @return `true`, or `nil, field, message`
function M.call_phone_number(body)
    return run_call(phone_call, body)
end

--- Checks the body of `POST /v1/voice-agents/twilio/call`.
-- Like `call_phone_number` with `twilioPhoneNumber`, plus optional `webhookUrl`/`webhookAuth`.
-- @tparam table body the request body, never modified
-- @return `true`, or `nil, field, message`
function M.call_twilio(body)
    return run_call(twilio_call, body)
end

return M
