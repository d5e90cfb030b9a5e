--- The mock's agents: v1 (flat) and v2 (fields grouped in nested
-- `conversation`, `voice`, `llm` and `callSettings` objects, stored as
-- sent), each kind in its own store; their route handlers.
-- @module hamsa.mock.agents
-- @license MIT

local h = require("hamsa.mock.handler")

local ipairs, pairs = ipairs, pairs
local ok, invalid, null, nonempty = h.ok, h.invalid, h.null, h.nonempty

-- Fields of an agent that belong to the server: a request body cannot set them.
local SERVER_FIELDS = { id = true, projectId = true, apiKeyId = true, createdAt = true, updatedAt = true }
local NOT_FOUND_MESSAGE, NOT_FOUND_KEY = "Voice agent not found", "VOICE_AGENT_NOT_FOUND"

local M = {}

--- The 404 of an unknown agent.
function M.not_found()
    return h.not_found(NOT_FOUND_MESSAGE, NOT_FOUND_KEY)
end

--- The agent (v1, else v2) with this id, or nil.
function M.find(api, id)
    return api.agents:get(id) or api.v2agents:get(id)
end

--- An agent's name, whichever its version.
function M.name(agent)
    return agent.agentName or agent.name
end

--- A new v1 agent from `fields` (copied), stored; `now` its ISO time.
function M.add(api, fields, now)
    local agent = h.copy(fields)
    agent.id = h.uuid4()
    agent.projectId, agent.apiKeyId = api.project_id, api.api_key_id
    agent.createdAt, agent.updatedAt = now, now
    if agent.description == nil then agent.description = null end
    if agent.voiceRecordId == nil then agent.voiceRecordId = null end
    if agent.voiceRecord == nil then agent.voiceRecord = null end
    return api.agents:add(agent)
end

-- A list page of `store`: skip is the page from 1, take its size.
local function list(store, req)
    local q = h.query(req)
    local skip, take = h.whole(q.skip, 1), h.whole(q.take, 10)
    if not skip then return invalid("skip must be a positive integer (a 1-based page number)") end
    if not take then return invalid("take must be a positive integer") end
    local n = store:count()
    return ok("success", { total = n, filtered = n, voiceAgents = h.slice(store.list, (skip - 1) * take + 1, take) },
        "OPERATION_SUCCESSFUL")
end

local H = {}
M.handlers = H

---------------------------------------------------------------------------
-- v1
---------------------------------------------------------------------------

H["agents.create"] = function(api, req)
    local body, res = h.parse_body(req)
    if not body then return res end
    if not nonempty(body.agentName) then return invalid("agentName is required") end
    local agent = M.add(api, body, api:timestamp())
    return ok("Voice agent created successfully", agent, "VoiceAgentCreatedSuccessfully")
end

H["agents.clone"] = function(api, req)
    local source_id = h.query(req).voiceAgentId
    if not nonempty(source_id) then return invalid("voiceAgentId query parameter is required") end
    local body, res = h.parse_body(req)
    if not body then return res end
    local source = api.agents:get(source_id)
    if not source then return M.not_found() end
    if body.agentName ~= nil and not nonempty(body.agentName) then
        return invalid("agentName must be a non-empty string")
    end
    local agent = h.copy(source)
    local now = api:timestamp()
    agent.id = h.uuid4()
    agent.agentName = body.agentName or (source.agentName .. " (copy)")
    agent.createdAt, agent.updatedAt = now, now
    api.agents:add(agent)
    return ok("Voice agent cloned successfully", agent, "VoiceAgentClonedSuccessfully")
end

H["agents.update"] = function(api, req, params)
    local body, res = h.parse_body(req)
    if not body then return res end
    local agent = api.agents:get(params.voiceAgentId)
    if not agent then return M.not_found() end
    if body.agentName ~= nil and not nonempty(body.agentName) then
        return invalid("agentName must be a non-empty string")
    end
    for k, v in pairs(body) do
        if not SERVER_FIELDS[k] then agent[k] = v end
    end
    agent.updatedAt = api:timestamp()
    return ok("Voice agent updated successfully", agent, "VoiceAgentUpdatedSuccessfully")
end

H["agents.get"] = function(api, _, params)
    local agent = api.agents:get(params.voiceAgentId)
    if not agent then return M.not_found() end
    return ok("success", agent, "OPERATION_SUCCESSFUL")
end

H["agents.list"] = function(api, req)
    return list(api.agents, req)
end

---------------------------------------------------------------------------
-- v2
---------------------------------------------------------------------------

local GROUPS = { "conversation", "voice", "llm", "callSettings" }

-- Nil when the groups that are present are objects, else the 400.
local function bad_groups(body)
    for _, g in ipairs(GROUPS) do
        if h.present(body[g]) and not h.is_object(body[g]) then return invalid(g .. " must be an object") end
    end
end

H["v2.agents.create"] = function(api, req)
    local body, res = h.parse_body(req)
    if not body then return res end
    if not nonempty(body.name) then return invalid("name is required") end
    local bad = bad_groups(body)
    if bad then return bad end
    local agent, now = h.copy(body), api:timestamp()
    agent.id = h.uuid4()
    agent.createdAt, agent.updatedAt = now, now
    api.v2agents:add(agent)
    return ok("Voice agent created successfully", agent, "VoiceAgentCreatedSuccessfully")
end

H["v2.agents.get"] = function(api, _, params)
    local agent = api.v2agents:get(params.voiceAgentId)
    if not agent then return M.not_found() end
    return ok("success", agent, "OPERATION_SUCCESSFUL")
end

-- A PATCH merges each group one level deep: `{ voice = { lang = "ar" } }`
-- changes the language and keeps the voice.
H["v2.agents.update"] = function(api, req, params)
    local body, res = h.parse_body(req)
    if not body then return res end
    local agent = api.v2agents:get(params.voiceAgentId)
    if not agent then return M.not_found() end
    if body.name ~= nil and not nonempty(body.name) then return invalid("name must be a non-empty string") end
    local bad = bad_groups(body)
    if bad then return bad end
    for k, v in pairs(body) do
        if not SERVER_FIELDS[k] then
            local old = agent[k]
            if h.is_object(v) and h.is_object(old) then
                old = h.copy(old)
                for gk, gv in pairs(v) do old[gk] = gv end
                agent[k] = old
            else
                agent[k] = v
            end
        end
    end
    agent.updatedAt = api:timestamp()
    return ok("Voice agent updated successfully", agent, "VoiceAgentUpdatedSuccessfully")
end

H["v2.agents.list"] = function(api, req)
    return list(api.v2agents, req)
end

return M
