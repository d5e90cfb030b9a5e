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
-- out as `{}`, except at the array places `hamsa.prepare` array-marks (pokeMessages, the
-- id lists, the days of freeSlots, `required` lists, v2 `tools`, a campaign's
-- `timeRange.days`, a knowledge-base item's `itemUrls`): there it is an empty array.
--
-- The building blocks live in hamsa.validate.checks, the agent rule sets in
-- hamsa.validate.agent (v1) and hamsa.validate.v2, the bodies of phone numbers,
-- campaigns and the knowledge base in hamsa.validate.resources, the list queries in
-- hamsa.validate.queries; this module holds the call rules and the public entry points,
-- one per rule set that a route of hamsa.routes names.
-- @module hamsa.validate

local type, ipairs, find, sub = type, ipairs, string.find, string.sub

local null = require("hamsa.core").json.null
local C = require "hamsa.validate.checks"
local agent = require "hamsa.validate.agent"
local v2 = require "hamsa.validate.v2"
local resources = require "hamsa.validate.resources"
local queries = require "hamsa.validate.queries"
local acceptor = require("hamsa.validate.fast").acceptor
local check_nonempty, check_e164, check_https, object_of = C.check_nonempty, C.check_e164, C.check_https, C.object_of
local check_params, webhook_auth = agent.params, agent.webhook_auth
local agent_create, agent_update, agent_clone = agent.create, agent.update, agent.clone

local M = {}

--- Whether `s` is an E.164 phone number: `+`, then 7 to 15 digits, the first not 0.
-- @function is_e164
-- @param s any value
-- @treturn boolean
M.is_e164 = C.is_e164

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

local start_call = object_of({
    toNumber = check_e164,
    fromNumber = check_e164,
    voiceAgentId = check_nonempty,
    agentDetails = agent_create,
    params = check_params,
    webhookUrl = check_https,
    webhookAuth = webhook_auth,
}, { "toNumber" }, { toNumber = true })

local EXACTLY_ONE = "exactly one of voiceAgentId or agentDetails is required"
-- The texts of an inline agent whose {{placeholders}} its params must define, in order.
local PLACEHOLDER_FIELDS = { "greetingMessage", "preamble" }

-- {{ name }}: letters (ASCII or UTF-8, so Arabic names count), digits, "_", "-", ".";
-- anchored, and tried only where a plain search finds "{{".
local PLACEHOLDER_AT = "^{{%s*([%w_%.%-\128-\255]+)%s*}}"

-- The first {{name}} in `text` that `params` does not define, or nil. What gmatch would
-- find, since a match can only start at "{{": a plain search skips to each one (gmatch
-- tried the pattern at every byte of a long preamble, most of a call body's check).
local function undefined_placeholder(text, params)
    if type(text) ~= "string" then return nil end
    local at = find(text, "{{", 1, true)
    while at do
        local _, stop, name = find(text, PLACEHOLDER_AT, at)
        if name then
            -- params values were checked already: null is not among them
            if not (params and params[name] ~= nil) then return name end
            at = find(text, "{{", stop + 1, true)
        else
            at = find(text, "{{", at + 1, true)
        end
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

-- The acceptor of each checker run below (hamsa.validate.fast): a valid body is let
-- through by it alone; the checker runs only when it says no, to find the fault or to
-- accept what the acceptor does not model.
local accepts = setmetatable({}, { __index = function(t, check)
    local a = acceptor(check)
    t[check] = a
    return a
end })

-- Runs a compiled object checker over a body (or a query: `whole` names the value itself
-- when it is at fault, default "body"); returns true or nil, field, message.
local function run(check, body, whole)
    if accepts[check](body) then return true end
    local s, tail = check(body)
    if not s then return true end
    local field = s == "" and (whole or "body") or sub(s, 2)
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

--- Checks the body of `POST /v1/voice-agents/call` (a call from a number Hamsa provides).
-- `toNumber` (E.164, required), `fromNumber` (E.164, optional), then the rules of
-- `call_phone_number` between `voiceAgentId`, `params` and `agentDetails`, plus optional
-- `webhookUrl`/`webhookAuth`.
-- @tparam table body the request body, never modified
-- @return `true`, or `nil, field, message`
function M.call_start(body)
    return run_call(start_call, body)
end

-- Agents (v2) -------------------------------------------------------------------------------

--- Checks the body of `POST /v2/voice-agents`: `name` required; the nested `conversation`,
-- `voice`, `llm` and `callSettings` objects (hamsa.validate.v2).
-- @tparam table body the request body, never modified
-- @return `true`, or `nil, field, message`
function M.agent_v2_create(body)
    return run(v2.create, body)
end

--- Checks the body of `PATCH /v2/voice-agents/{id}`: create's rules, nothing required.
-- @tparam table body the request body, never modified
-- @return `true`, or `nil, field, message`
function M.agent_v2_update(body)
    return run(v2.update, body)
end

-- The bodies of phone numbers, campaigns and the knowledge base (hamsa.validate.resources),
-- each `function(body)` returning `true`, or `nil, field, message`:
-- phone_number_create, phone_number_assign, phone_number_unassign, campaign_create,
-- campaign_update, knowledge_base_create, knowledge_base_update, knowledge_base_remove_url.
for _, name in ipairs({ "phone_number_create", "phone_number_assign", "phone_number_unassign",
    "campaign_create", "campaign_update", "knowledge_base_create", "knowledge_base_update",
    "knowledge_base_remove_url" }) do
    local check = resources[name]
    M[name] = function(body) return run(check, body) end
end

-- The query tables of the lists (hamsa.validate.queries), each `function(query)` returning
-- `true`, or `nil, field, message` (field "status[2]", ...): agents_list_query (v1 and
-- v2), conversations_list_query, phone_numbers_list_query, campaigns_list_query,
-- knowledge_base_list_query.
for _, name in ipairs({ "agents_list", "conversations_list", "phone_numbers_list", "campaigns_list",
    "knowledge_base_list" }) do
    local check = queries[name]
    M[name .. "_query"] = function(query) return run(check, query, "query") end
end

return M
