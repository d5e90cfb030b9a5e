--- The mock's Hamsa API: the routes it serves, the agents it stores and
-- one handler per route.
--
-- The routes are the rows of `hamsa.routes` (what the client wraps) and
-- of `M.EXTRA` (what the mock serves beyond them, in the same shape); each
-- has its handler in `M.handlers` under `resource .. "." .. name`. A
-- request matches a row when the method is the row's and the path's
-- segments are the template's (the part before any `?`): a literal
-- segment as it came, a `{placeholder}` any one segment, percent-decoded,
-- handed to the handler by name. Empty segments are skipped (`/v1//x/` is
-- `/v1/x`). Rows with literal segments only are tried first. A placeholder
-- after `?` is the handler's to read from the query string.
--
-- Every path under `/v1` needs `Authorization: Token <api_key>`, matched
-- or not: without it the answer is a 401 before any route is looked at.
-- What matches no row is a 404 "Cannot METHOD path".
-- @module hamsa.mock.api
-- @license MIT

local core = require("hamsa.core")
local socket = require("socket")
local routes = require("hamsa.routes")
local text = require("hamsa.mock.text")
local response = require("hamsa.mock.response")

local json = core.json
local null, array = json.null, json.array
local core_uuid4 = core.uuid4
local format, gmatch, gsub, lower, match = string.format, string.gmatch, string.gsub, string.lower, string.match
local floor = math.floor
local clock = socket.gettime
local assert, getmetatable, ipairs, pairs, setmetatable, tonumber, tostring, type =
    assert, getmetatable, ipairs, pairs, setmetatable, tonumber, tostring, type
local ok, fail = response.ok, response.fail
local is_object = text.is_object

-- A stored agent is answered three levels down (envelope, data, voiceAgents)
-- and the encoder stops at 1000 levels: deeper bodies are refused up front.
local MAX_BODY_DEPTH = 997

-- Fields of an agent that belong to the server: a request body cannot set them.
local SERVER_FIELDS = { id = true, projectId = true, apiKeyId = true, createdAt = true, updatedAt = true }

local UNAUTHORIZED = { success = false, message = "Unauthorized: invalid API key", messageKey = "UNAUTHORIZED" }
local NOT_FOUND_AGENT = { success = false, message = "Voice agent not found", messageKey = "VOICE_AGENT_NOT_FOUND" }

local M = {}

--- Routes the mock serves that the client does not wrap (rows as in
-- `hamsa.routes`): the agent listing, which specs use to look around.
M.EXTRA = {
    { resource = "agents", name = "list", method = "GET", path = "/v1/voice-agents" },
}

local Api = {}
Api.__index = Api

---------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------

local function uuid4()
    return assert(core_uuid4())
end

local function nonempty(v)
    return type(v) == "string" and v ~= ""
end

local function present(v)
    return v ~= nil and v ~= null
end

local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return setmetatable(c, getmetatable(t))
end

local function positive_int(s, default)
    if s == nil or s == "" then return default end
    if not match(s, "^%d+$") or #s > 9 then return nil end
    local n = tonumber(s)
    return n >= 1 and n or nil
end

local function invalid(message)
    return fail(400, message, "VALIDATION_ERROR")
end

local function agent_not_found()
    return response.json(404, NOT_FOUND_AGENT)
end

-- The body as a JSON object ({} when empty), or nil and the 400 response.
local function parse_body(req)
    if match(req.body, "^%s*$") then return {} end
    local value = json.decode(req.body)
    if value == nil then return nil, fail(400, "Invalid JSON body", "BAD_REQUEST") end
    if not is_object(value) then
        return nil, fail(400, "Request body must be a JSON object", "BAD_REQUEST")
    end
    -- What is stored must encode again in every answer: no number that
    -- overflowed to infinity (1e999), no nesting deeper than answers carry.
    local encoded, err = json.encode(value, MAX_BODY_DEPTH)
    if not encoded then
        return nil, fail(400, "Invalid JSON body: " .. gsub(tostring(err), "^json: ", ""), "BAD_REQUEST")
    end
    return value
end

---------------------------------------------------------------------------
-- The store
---------------------------------------------------------------------------

-- ISO-8601 UTC with milliseconds; strictly increasing per server, so an
-- update is always visible in updatedAt even within one millisecond.
function Api:timestamp()
    local ms = floor(clock() * 1000)
    if ms <= self.last_ms then ms = self.last_ms + 1 end
    self.last_ms = ms
    local s = floor(ms / 1000)
    return os.date("!%Y-%m-%dT%H:%M:%S", s) .. format(".%03dZ", ms - s * 1000)
end

function Api:store(agent)
    self.agents[agent.id] = agent
    self.order[#self.order + 1] = agent.id
    return agent
end

--- Forgets every agent.
function Api:reset()
    self.agents, self.order = {}, {}
end

---------------------------------------------------------------------------
-- The handlers: handler(api, req, params) -> response
---------------------------------------------------------------------------

local H = {}

H["agents.create"] = function(self, req)
    local body, res = parse_body(req)
    if not body then return res end
    if not nonempty(body.agentName) then return invalid("agentName is required") end
    local agent = copy(body)
    local now = self:timestamp()
    agent.id = uuid4()
    agent.projectId, agent.apiKeyId = self.project_id, self.api_key_id
    agent.createdAt, agent.updatedAt = now, now
    for _, k in ipairs({ "description", "voiceRecordId", "voiceRecord" }) do
        if agent[k] == nil then agent[k] = null end
    end
    self:store(agent)
    return ok("Voice agent created successfully", agent, "VoiceAgentCreatedSuccessfully")
end

H["agents.clone"] = function(self, req)
    local source_id = text.parse_query(req.query).voiceAgentId
    if not nonempty(source_id) then return invalid("voiceAgentId query parameter is required") end
    local body, res = parse_body(req)
    if not body then return res end
    local source = self.agents[source_id]
    if not source then return agent_not_found() end
    if body.agentName ~= nil and not nonempty(body.agentName) then
        return invalid("agentName must be a non-empty string")
    end
    local agent = copy(source)
    local now = self:timestamp()
    agent.id = uuid4()
    agent.agentName = body.agentName or (source.agentName .. " (copy)")
    agent.createdAt, agent.updatedAt = now, now
    self:store(agent)
    return ok("Voice agent cloned successfully", agent, "VoiceAgentClonedSuccessfully")
end

H["agents.update"] = function(self, req, params)
    local body, res = parse_body(req)
    if not body then return res end
    local agent = self.agents[params.voiceAgentId]
    if not agent then return agent_not_found() end
    if body.agentName ~= nil and not nonempty(body.agentName) then
        return invalid("agentName must be a non-empty string")
    end
    for k, v in pairs(body) do
        if not SERVER_FIELDS[k] then agent[k] = v end
    end
    agent.updatedAt = self:timestamp()
    return ok("Voice agent updated successfully", agent, "VoiceAgentUpdatedSuccessfully")
end

H["agents.get"] = function(self, _, params)
    local agent = self.agents[params.voiceAgentId]
    if not agent then return agent_not_found() end
    return ok("success", agent, "OPERATION_SUCCESSFUL")
end

H["agents.list"] = function(self, req)
    local q = text.parse_query(req.query)
    local skip, take = positive_int(q.skip, 1), positive_int(q.take, 10)
    if not skip then return invalid("skip must be a positive integer (a 1-based page number)") end
    if not take then return invalid("take must be a positive integer") end
    local order, items = self.order, {}
    local first = (skip - 1) * take + 1
    for i = first, first + take - 1 do
        if not order[i] then break end
        items[#items + 1] = self.agents[order[i]]
    end
    return ok("success", { total = #order, filtered = #order, voiceAgents = array(items) },
        "OPERATION_SUCCESSFUL")
end

-- The agent a call names: its id and its details, or nil and the response.
local function call_agent(self, body)
    local has_id, has_details = present(body.voiceAgentId), present(body.agentDetails)
    if has_id == has_details then return nil, invalid("Provide exactly one of voiceAgentId or agentDetails") end
    if has_id then
        if type(body.voiceAgentId) ~= "string" then return nil, invalid("voiceAgentId must be a string") end
        local agent = self.agents[body.voiceAgentId]
        if not agent then return nil, agent_not_found() end
        return agent.id, agent
    end
    if not is_object(body.agentDetails) then return nil, invalid("agentDetails must be an object") end
    return uuid4(), body.agentDetails
end

-- Checks a call's body (`from_field` names the caller's number) and finds
-- its agent, then answers with `answer(self, body, agent_id, details)`.
local function start_call(self, req, from_field, answer)
    local body, res = parse_body(req)
    if not body then return res end
    for _, field in ipairs({ "toNumber", from_field }) do
        if not nonempty(body[field]) then return invalid(field .. " is required") end
    end
    local agent_id, details = call_agent(self, body)
    if not agent_id then return details end
    return answer(self, body, agent_id, details)
end

local function phone_number_call(_, _, agent_id)
    return ok("Call started successfully", { voiceAgentId = agent_id, jobId = uuid4() },
        "CallStartedSuccessfully")
end

local function twilio_call(self, body, agent_id, details)
    local now = self:timestamp()
    return ok("Call started successfully", {
        id = uuid4(), status = "PENDING", type = "VOICE_AGENTS",
        callParams = { machineNumber = body.twilioPhoneNumber, userNumber = body.toNumber },
        agentDetails = details,
        webhookUrl = body.webhookUrl == nil and null or body.webhookUrl,
        totalCost = 0, usageTime = 0, mediaUrl = null, jobResponse = null,
        voiceAgentId = agent_id, createdAt = now, updatedAt = now,
    }, "CallStartedSuccessfully")
end

H["calls.phone_number"] = function(self, req)
    return start_call(self, req, "phoneNumber", phone_number_call)
end

H["calls.twilio"] = function(self, req)
    return start_call(self, req, "twilioPhoneNumber", twilio_call)
end

--- The handlers by `resource .. "." .. name` (read them, do not change them).
M.handlers = H

---------------------------------------------------------------------------
-- Matching requests against the rows
---------------------------------------------------------------------------

local function segments(path)
    local seg = {}
    for s in gmatch(path, "[^/]+") do seg[#seg + 1] = s end
    return seg
end

-- A row made ready to match: its handler and, per template segment, the
-- literal or the placeholder's name in `names`.
local function compile(row)
    local handler = H[row.resource .. "." .. row.name]
    if not handler then return nil end   -- spec/31 reports the row
    local seg, names, literal = segments(match(row.path, "^[^?]*")), {}, true
    for i, s in ipairs(seg) do
        names[i] = match(s, "^{(.+)}$")
        if names[i] then literal = false end
    end
    return { method = row.method, seg = seg, names = names, handler = handler, literal = literal }
end

local TABLE = {}   -- literal rows first, then the others, each in table order
for pass = 1, 2 do
    for _, rows in ipairs({ routes, M.EXTRA }) do
        for _, row in ipairs(rows) do
            local r = compile(row)
            if r and r.literal == (pass == 1) then TABLE[#TABLE + 1] = r end
        end
    end
end

-- The handler and placeholders of the first row `method` and `seg` match.
local function match_route(method, seg)
    for _, r in ipairs(TABLE) do
        if r.method == method and #r.seg == #seg then
            local params = {}
            for i, want in ipairs(r.seg) do
                local name = r.names[i]
                if name then
                    params[name] = text.unescape(seg[i])
                elseif want ~= seg[i] then
                    params = nil
                    break
                end
            end
            if params then return r.handler, params end
        end
    end
end

function Api:authorized(req)
    local scheme, key = match(req.headers.authorization or "", "^(%a+) +(.-)%s*$")
    return scheme ~= nil and lower(scheme) == "token" and key == self.api_key
end

--- Answers one API request (auth, route, handler).
-- @treturn table the response
function Api:handle(req)
    local seg = segments(req.path)
    if seg[1] == "v1" and not self:authorized(req) then return response.json(401, UNAUTHORIZED) end
    local handler, params = match_route(req.method, seg)
    if handler then return handler(self, req, params) end
    return fail(404, "Cannot " .. req.method .. " " .. (text.utf8(req.path)), "NOT_FOUND")
end

--- The API's state: no agents yet, answering to `api_key`.
function M.new(api_key)
    local self = setmetatable({ api_key = api_key, project_id = uuid4(), api_key_id = uuid4(), last_ms = 0 }, Api)
    self:reset()
    return self
end

return M
