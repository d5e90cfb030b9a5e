--- Wire preparation: what a body needs between the caller's table and the
-- wire, named by the `prepare` field of a route (hamsa.routes). Each entry
-- is `{ shape = s, fn = f }`: `shape` names the body's array places for
-- the encoder, `fn` (when there is one) returns the body with a field the
-- API requires added. The caller's tables are never modified: `fn` copies
-- the top level when it adds, and array places cost no copy at all.
-- @module hamsa.prepare
local json = require("hamsa.core").json

local type, rawget, next, getmetatable, setmetatable = type, rawget, next, getmetatable, setmetatable
local object = json.object

local M = {}

-- Fields the API documents as arrays go out as arrays even when the
-- caller wrote an empty `{}` (which JSON would make `{}`); sending
-- `pokeMessages = []` is how an agent's messages get cleared. The encoder
-- does it (core.json.encode's third argument, a shape): read raw, at an
-- object the shape of the value under key k is shape[k], else shape["*"]
-- (so too at a plain sequence); at an array-marked table each element's is
-- shape["[]"]; `true` is an array place, where an empty table without a
-- metatable is sent as `[]`. Doing it in the encoder's own walk costs a
-- table read per key; the Lua walk it replaced (spec/prepare_reference.lua,
-- which spec/24 holds the shapes to) walked and copied the body on every
-- request. hamsa.validate accepts an unmarked empty table at exactly these
-- places and refuses an object-marked one; like the encoder, both read
-- tables raw and follow no metatable but the two marks.

-- outcomeResponseShape: its `required` lists, at every depth (`items`,
-- `properties.*`); a shape that names itself.
local OUTCOME = { required = true }
OUTCOME.items = OUTCOME
OUTCOME.properties = { ["*"] = OUTCOME }

local DAYS = { ["*"] = true }

local AGENT = {
    pokeMessages = true, webToolsIds = true, voiceDictionaryIds = true,
    knowledgeBaseItemsIds = true, freeSlots = DAYS,
    googleCalendarSettings = { freeSlots = DAYS },
    outcomeResponseShape = OUTCOME,
}

local AGENT_V2 = {
    tools = true, knowledgeBaseItemsIds = true, voiceDictionaryIds = true,
    conversation = { pokeMessages = true },
    outcomeResponseShape = OUTCOME,
}

-- a knowledge base's items, each an object with its itemUrls: a list,
-- array-marked or a plain sequence (an object-form table there is refused
-- by validation, and walked the same way without it)
local ITEM = { itemUrls = true }

local function shallow_copy(t)
    local c = {}
    for k, v in next, t do c[k] = v end
    return setmetatable(c, getmetatable(t))
end

--- A call body: a call with a stored agent always carries `params` (the
-- API marks it required), sent as `{}` when the caller has none.
local function call(body)
    if type(rawget(body, "agentDetails")) ~= "table" and rawget(body, "voiceAgentId") ~= nil
        and rawget(body, "params") == nil then
        local out = shallow_copy(body)
        out.params = object()
        return out
    end
    return body
end

M.agent = { shape = AGENT }
M.agent_v2 = { shape = AGENT_V2 }
M.call = { shape = { agentDetails = AGENT }, fn = call }
M.campaign = { shape = { timeRange = { days = true } } }
M.knowledge_base = { shape = { items = { ["[]"] = ITEM, ["*"] = ITEM } } }

return M
