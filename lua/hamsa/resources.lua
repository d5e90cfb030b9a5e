--- The wrapped routes: `client.agents` and `client.calls`.
-- Each method checks its arguments (misuse raises at the caller's line),
-- names its validator, and hands the request to the client's pipeline.
-- Bodies use the API's own field names; the caller's tables are never
-- modified (a body that needs changes on the wire is copied first).
-- @module hamsa.resources
local core = require "hamsa.core"
local client_mod = require "hamsa.client"
local validate = require "hamsa.validate"
local url = require "hamsa.url"
local errors = require "hamsa.errors"

local type, next, rawget, error, getmetatable, setmetatable = type, next, rawget, error, getmetatable, setmetatable
local json = core.json
local array, object, object_mt = json.array, json.object, json.object_mt
local check_options, REQUEST_OPTIONS = client_mod.check_options, client_mod.REQUEST_OPTIONS
local escape = url.escape

local M = {}

---------------------------------------------------------------------------
-- wire preparation: fields the API documents as arrays go out as arrays
-- even when the caller wrote an empty `{}` (which JSON would make `{}`);
-- sending `pokeMessages = []` is how an agent's messages get cleared.
-- hamsa.validate accepts an unmarked empty table at exactly these places
-- and refuses an object-marked one; like the encoder, both read tables
-- raw and follow no metatable but the two marks.
--
-- A shape names the places: `true` an array (an empty unmarked table
-- there is array-marked); a table an object whose keys have shapes
-- (`["*"]`: every key), followed when unmarked or object-marked; SHAPE
-- an outcomeResponseShape (mark_shape).

local SHAPE = {}
local DAYS = { ["*"] = true }
local AGENT_ARRAYS = {
    pokeMessages = true, webToolsIds = true, voiceDictionaryIds = true,
    knowledgeBaseItemsIds = true, freeSlots = DAYS,
    googleCalendarSettings = { freeSlots = DAYS },
    outcomeResponseShape = SHAPE,
}

-- Deeper than the client's max_request_depth the encoder refuses anyway;
-- the cap also ends the walk of a cyclic shape (sent with validate = false).
local MAX_DEPTH = 100

local function shallow_copy(t)
    local c = {}
    for k, v in next, t do c[k] = v end
    return setmetatable(c, getmetatable(t))
end

-- Whether the walk goes into `v`: a table sent as an object. (An
-- array-marked one is sent as `[]` and refused by validation; one with
-- another metatable is refused too, or, with validate = false, sent as it
-- is: its fields are never read through __index.)
local function followed(v)
    if type(v) ~= "table" then return false end
    local mt = getmetatable(v)
    return mt == nil or mt == object_mt
end

-- An empty table without any metatable.
local function empty_plain(v)
    return type(v) == "table" and next(v) == nil and getmetatable(v) == nil
end

-- Returns `t`, or a copy in which the empty, unmarked tables at the
-- places `shape` names are array-marked. Copies only along changed paths.
local mark_arrays

-- outcomeResponseShape `t`: the same for its `required` lists, at every
-- depth (`items`, `properties.*`). A walk of its own: the generic one
-- costs twice as much on every request that carries a shape.
local function mark_shape(t, depth)
    if depth > MAX_DEPTH then return t end
    local copy
    local v = t.required
    if v ~= nil and empty_plain(v) then
        copy = shallow_copy(t)
        copy.required = array()
    end
    v = t.items
    if v ~= nil and followed(v) then
        local fixed = mark_shape(v, depth + 1)
        if fixed ~= v then
            copy = copy or shallow_copy(t)
            copy.items = fixed
        end
    end
    v = t.properties
    if v ~= nil and followed(v) then
        local props
        for name, sub in next, v do
            if followed(sub) then
                local fixed = mark_shape(sub, depth + 1)
                if fixed ~= sub then
                    props = props or shallow_copy(v)
                    props[name] = fixed
                end
            end
        end
        if props then
            copy = copy or shallow_copy(t)
            copy.properties = props
        end
    end
    return copy or t
end

-- The fixed value of t[k] for `sub`, or nil when it needs no change.
-- (A plain function rather than a closure in mark_arrays: saves making
-- one per call.)
local function fixed_value(v, sub, depth)
    if type(v) ~= "table" then return nil end
    if sub == true then
        if next(v) == nil and getmetatable(v) == nil then return array() end
        return nil
    end
    if not followed(v) then return nil end
    local fixed
    if sub == SHAPE then
        fixed = mark_shape(v, depth + 1)
    else
        fixed = mark_arrays(v, sub, depth + 1)
    end
    if fixed ~= v then return fixed end
    return nil
end

mark_arrays = function(t, shape, depth)
    depth = depth or 1
    if depth > MAX_DEPTH then return t end
    local copy
    local all = shape["*"]
    if all then
        for k, v in next, t do
            local fixed = fixed_value(v, all, depth)
            if fixed then
                copy = copy or shallow_copy(t)
                copy[k] = fixed
            end
        end
    else
        for k, sub in next, shape do
            local fixed = fixed_value(t[k], sub, depth)
            if fixed then
                copy = copy or shallow_copy(t)
                copy[k] = fixed
            end
        end
    end
    return copy or t
end

local function prepare_agent(body)
    if not followed(body) then return body end
    return mark_arrays(body, AGENT_ARRAYS, 1)
end

-- A call with a stored agent always carries `params` (the API marks it
-- required); an inline agent gets the same array care as a created one.
local function prepare_call(body)
    local out = body
    local agent_details = rawget(body, "agentDetails")
    if type(agent_details) == "table" then
        local details = prepare_agent(agent_details)
        if details ~= agent_details then
            out = shallow_copy(body)
            out.agentDetails = details
        end
    elseif rawget(body, "voiceAgentId") ~= nil and rawget(body, "params") == nil then
        out = shallow_copy(body)
        out.params = object()
    end
    return out
end

local function check_body(body, where, level)
    if type(body) ~= "table" then
        error(where .. ": body must be a table", level + 1)
    end
end

local function check_id(id, where, level)
    if type(id) ~= "string" then
        error(where .. ": voiceAgentId must be a string", level + 1)
    end
end

-- An id that cannot name an agent: empty, or a dot segment that libcurl
-- would resolve into another route ("..": PATCH /v1/ instead of an agent).
local BAD_ID = { [""] = true, ["."] = true, [".."] = true }

local function bad_id(client, opts)
    return client:_fail(errors.invalid("voiceAgentId",
        "voiceAgentId must be a non-empty string other than \".\" or \"..\""), opts)
end

---------------------------------------------------------------------------
-- agents

local Agents = {}
Agents.__index = Agents

local function agents_self(self, name)
    if getmetatable(self) ~= Agents then
        error("use client.agents:" .. name .. "(...) (with a colon)", 3)
    end
    return self._client
end

--- Creates a voice agent: `POST /v1/voice-agents`.
-- @tparam table body agent fields (`agentName` required)
-- @tparam[opt] table opts request options
-- @return data, response | nil, err
function Agents:create(body, opts)
    local client = agents_self(self, "create")
    check_body(body, "agents:create", 2)
    check_options(opts, REQUEST_OPTIONS, "agents:create", 2)
    return client:_send("POST", "/v1/voice-agents", nil, body, opts, validate.agent_create, prepare_agent)
end

--- Clones an agent: `POST /v1/voice-agents/clone?voiceAgentId=<id>`.
-- @tparam string voiceAgentId the agent to copy
-- @tparam[opt] table body `{ agentName = ... }` (may be nil)
-- @tparam[opt] table opts request options
function Agents:clone(voiceAgentId, body, opts)
    local client = agents_self(self, "clone")
    check_id(voiceAgentId, "agents:clone", 2)
    if body ~= nil then check_body(body, "agents:clone", 2) end
    check_options(opts, REQUEST_OPTIONS, "agents:clone", 2)
    if BAD_ID[voiceAgentId] then return bad_id(client, opts) end
    return client:_send("POST", "/v1/voice-agents/clone", "voiceAgentId=" .. escape(voiceAgentId),
        body or object(), opts, validate.agent_clone)
end

--- Updates an agent: `PATCH /v1/voice-agents/<id>`.
-- @tparam string voiceAgentId
-- @tparam table body any subset of the agent fields
-- @tparam[opt] table opts request options
function Agents:update(voiceAgentId, body, opts)
    local client = agents_self(self, "update")
    check_id(voiceAgentId, "agents:update", 2)
    check_body(body, "agents:update", 2)
    check_options(opts, REQUEST_OPTIONS, "agents:update", 2)
    if BAD_ID[voiceAgentId] then return bad_id(client, opts) end
    return client:_send("PATCH", "/v1/voice-agents/" .. escape(voiceAgentId), nil, body, opts,
        validate.agent_update, prepare_agent)
end

---------------------------------------------------------------------------
-- calls

local Calls = {}
Calls.__index = Calls

local function calls_self(self, name)
    if getmetatable(self) ~= Calls then
        error("use client.calls:" .. name .. "(...) (with a colon)", 3)
    end
    return self._client
end

--- Places a call from your own number: `POST /v1/voice-agents/phone-number/call`.
-- @tparam table body `toNumber`, `phoneNumber`, and `voiceAgentId` (+ `params`) or `agentDetails`
-- @tparam[opt] table opts request options
function Calls:phone_number(body, opts)
    local client = calls_self(self, "phone_number")
    check_body(body, "calls:phone_number", 2)
    check_options(opts, REQUEST_OPTIONS, "calls:phone_number", 2)
    return client:_send("POST", "/v1/voice-agents/phone-number/call", nil, body, opts,
        validate.call_phone_number, prepare_call)
end

--- Places a call through Twilio: `POST /v1/voice-agents/twilio/call`.
-- @tparam table body `toNumber`, `twilioPhoneNumber`, and `voiceAgentId` (+ `params`) or `agentDetails`
-- @tparam[opt] table opts request options
function Calls:twilio(body, opts)
    local client = calls_self(self, "twilio")
    check_body(body, "calls:twilio", 2)
    check_options(opts, REQUEST_OPTIONS, "calls:twilio", 2)
    return client:_send("POST", "/v1/voice-agents/twilio/call", nil, body, opts,
        validate.call_twilio, prepare_call)
end

--- Attaches the resources to a client.
function M.attach(client)
    client.agents = setmetatable({ _client = client }, Agents)
    client.calls = setmetatable({ _client = client }, Calls)
    return client
end

M.mark_arrays = mark_arrays

return M
