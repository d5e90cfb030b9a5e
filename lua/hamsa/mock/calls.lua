--- The mock's call routes: from your own number (`phone-number/call`),
-- through Twilio (`twilio/call`) and from a number Hamsa provides
-- (`call`). Each places a conversation (hamsa.mock.conversations) whose id
-- is the reply's `jobId` (phone-number) or `id` (the job record of the
-- other two), and which then plays out on the mock's clock.
-- @module hamsa.mock.calls
-- @license MIT

local h = require("hamsa.mock.handler")
local agents = require("hamsa.mock.agents")
local conversations = require("hamsa.mock.conversations")

local ipairs, type = ipairs, type
local ok, invalid, null = h.ok, h.invalid, h.null

-- The number `call` places from when the body names none.
local HAMSA_NUMBER = "+18449292835"

local M = {}

-- The agent a call names: `{ voiceAgentId, details, stored }`, or nil and
-- the response.
local function call_agent(api, body)
    local has_id, has_details = h.present(body.voiceAgentId), h.present(body.agentDetails)
    if has_id == has_details then return nil, invalid("Provide exactly one of voiceAgentId or agentDetails") end
    if has_id then
        if type(body.voiceAgentId) ~= "string" then return nil, invalid("voiceAgentId must be a string") end
        local agent = agents.find(api, body.voiceAgentId)
        if not agent then return nil, agents.not_found() end
        return { voiceAgentId = agent.id, details = h.copy(agent), stored = true }
    end
    if not h.is_object(body.agentDetails) then return nil, invalid("agentDetails must be an object") end
    return { voiceAgentId = h.uuid4(), details = body.agentDetails, stored = false }
end

-- Checks a call's body (`required`: the fields it must have), finds its
-- agent and places it from `body[from]`; the conversation, or nil and the
-- response.
local function place(api, req, required, from)
    local body, res = h.parse_body(req)
    if not body then return nil, res end
    for _, field in ipairs(required) do
        if not h.nonempty(body[field]) then return nil, invalid(field .. " is required") end
    end
    local call, err = call_agent(api, body)
    if not call then return nil, err end
    if body.params ~= nil and body.params ~= null and not h.is_object(body.params) then
        return nil, invalid("params must be an object")
    end
    call.params = h.is_object(body.params) and body.params or nil
    call.to = body.toNumber
    call.from = h.nonempty(body[from]) and body[from] or HAMSA_NUMBER
    local conv = conversations.place(api, call)
    conv.placed = true                       -- by a call route (GET /__mock/calls), not seeded
    api.webhooks:track(conv, body, call.details)
    return conv, body
end

-- The job record `call` and `twilio/call` answer with.
local function job(conv, body)
    local at = h.iso(conv.t0)
    return {
        id = conv.id, status = "PENDING", type = "VOICE_AGENTS", processingType = "real-time",
        callParams = { machineNumber = conv.from, userNumber = conv.to },
        agentDetails = conv.details,
        webhookUrl = h.or_null(body.webhookUrl),
        totalCost = 0, usageTime = 0, mediaUrl = null, jobResponse = null,
        voiceAgentId = conv.voiceAgentId, createdAt = at, updatedAt = at,
    }
end

local H = {}
M.handlers = H

H["calls.phone_number"] = function(api, req)
    local conv, res = place(api, req, { "toNumber", "phoneNumber" }, "phoneNumber")
    if not conv then return res end
    return ok("Call started successfully", { voiceAgentId = conv.voiceAgentId, jobId = conv.id },
        "CallStartedSuccessfully")
end

H["calls.twilio"] = function(api, req)
    local conv, body = place(api, req, { "toNumber", "twilioPhoneNumber" }, "twilioPhoneNumber")
    if not conv then return body end
    return ok("Call started successfully", job(conv, body), "CallStartedSuccessfully")
end

H["calls.start"] = function(api, req)
    local conv, body = place(api, req, { "toNumber" }, "fromNumber")
    if not conv then return body end
    return ok("Call started successfully", job(conv, body), "CallStartedSuccessfully")
end

return M
