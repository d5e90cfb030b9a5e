--- spec/prepare_reference.lua: hamsa.prepare as it was before the array
-- places moved into the encoder (a Lua walk that copied the body along the
-- changed paths). spec/24 holds the encoder's shapes to the same wire, on
-- random bodies. Kept as it was; not loaded by the library.
local json = require("hamsa.core").json

local type, next, rawget, getmetatable, setmetatable = type, next, rawget, getmetatable, setmetatable
local array, object, object_mt, array_mt = json.array, json.object, json.object_mt, json.array_mt

local M = {}

-- Fields the API documents as arrays go out as arrays
-- even when the caller wrote an empty `{}` (which JSON would make `{}`);
-- sending `pokeMessages = []` is how an agent's messages get cleared.
-- hamsa.validate accepts an unmarked empty table at exactly these places
-- and refuses an object-marked one; like the encoder, both read tables
-- raw and follow no metatable but the two marks.
--
-- A shape names the places: `true` an array (an empty unmarked table
-- there is array-marked); a table an object whose keys have shapes
-- (`["*"]`: every key), followed when unmarked or object-marked, or a
-- list of them (list_of), followed when array-marked too; SHAPE an
-- outcomeResponseShape (mark_shape).

local SHAPE = {}
local DAYS = { ["*"] = true }
local AGENT_ARRAYS = {
    pokeMessages = true, webToolsIds = true, voiceDictionaryIds = true,
    knowledgeBaseItemsIds = true, freeSlots = DAYS,
    googleCalendarSettings = { freeSlots = DAYS },
    outcomeResponseShape = SHAPE,
}

-- A list of objects, each of shape `sub`: walked when unmarked or array-marked (a list
-- is sent as an array either way), its elements as objects.
local function list_of(sub)
    return { ["*"] = sub, list = true }
end

local AGENT_V2_ARRAYS = {
    tools = true, knowledgeBaseItemsIds = true, voiceDictionaryIds = true,
    conversation = { pokeMessages = true },
    outcomeResponseShape = SHAPE,
}
local CAMPAIGN_ARRAYS = { timeRange = { days = true } }
local KNOWLEDGE_BASE_ARRAYS = { items = list_of({ itemUrls = true }) }

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
    if not (followed(v) or (sub.list and getmetatable(v) == array_mt)) then return nil end
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

--- An agent body (create, update, and a call's inline agentDetails).
local function agent(body)
    if not followed(body) then return body end
    return mark_arrays(body, AGENT_ARRAYS, 1)
end
M.agent = agent

--- A call body: a call with a stored agent always carries `params` (the API marks it
-- required); an inline agent gets the same array care as a created one.
function M.call(body)
    local out = body
    local agent_details = rawget(body, "agentDetails")
    if type(agent_details) == "table" then
        local details = agent(agent_details)
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

--- A v2 agent body (create, update): its id lists, `tools` (an array of tool references
-- in v2), `conversation.pokeMessages` and the `required` lists of `outcomeResponseShape`.
function M.agent_v2(body)
    if not followed(body) then return body end
    return mark_arrays(body, AGENT_V2_ARRAYS, 1)
end

--- A campaign body: `timeRange.days`.
function M.campaign(body)
    if not followed(body) then return body end
    return mark_arrays(body, CAMPAIGN_ARRAYS, 1)
end

--- A knowledge-base body: the `itemUrls` of each of its `items`.
function M.knowledge_base(body)
    if not followed(body) then return body end
    return mark_arrays(body, KNOWLEDGE_BASE_ARRAYS, 1)
end

M.mark_arrays = mark_arrays

return M
