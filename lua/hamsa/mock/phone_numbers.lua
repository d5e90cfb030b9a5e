--- The mock's phone numbers: register (the Twilio form), list (a bare
-- array, paged by `skip` = page and `take` = size, both strings), assign
-- to an agent and unassign. Twilio credentials are taken, never answered.
-- @module hamsa.mock.phone_numbers
-- @license MIT

local h = require("hamsa.mock.handler")
local agents = require("hamsa.mock.agents")

local ipairs = ipairs
local ok, invalid, null = h.ok, h.invalid, h.null

local PROVIDERS = { TWILIO = true, SIP = true }

local M = {}

--- The registered number `number` (the first, if registered twice), or nil.
function M.find(api, number)
    for _, p in ipairs(api.phone_numbers.list) do
        if p.number == number then return p end
    end
end

--- A new number record, stored; `now` its ISO time.
function M.add(api, number, label, kind, now)
    return api.phone_numbers:add({
        id = h.uuid4(), number = number, label = label, type = kind,
        voiceAgentId = null, createdAt = now, updatedAt = now,
    })
end

local function not_found(number)
    return h.not_found("Phone number not found: " .. number, "PHONE_NUMBER_NOT_FOUND")
end

local H = {}
M.handlers = H

H["phone_numbers.create"] = function(api, req)
    local body, res = h.parse_body(req)
    if not body then return res end
    if not h.nonempty(body.phoneNumber) then return invalid("phoneNumber is required") end
    local kind = body.type == nil and "TWILIO" or body.type
    if not PROVIDERS[kind] then return invalid("type must be TWILIO or SIP") end
    if body.label ~= nil and not h.nonempty(body.label) then return invalid("label must be a non-empty string") end
    local record = M.add(api, body.phoneNumber, body.label or body.phoneNumber, kind, api:timestamp())
    return ok("Phone number added successfully", record, "PHONE_NUMBER_CREATED_SUCCESSFULLY")
end

-- Filters: voiceAgentId, provider (TWILIO or SIP).
H["phone_numbers.list"] = function(api, req)
    local q = h.query(req)
    local skip, take = h.whole(q.skip, 1), h.whole(q.take, 10)
    if not skip then return invalid("skip must be a positive integer (a 1-based page number)") end
    if not take then return invalid("take must be a positive integer") end
    local agent, provider = q.voiceAgentId, q.provider
    if h.nonempty(provider) and not PROVIDERS[provider] then return invalid("provider must be TWILIO or SIP") end
    local keep
    if h.nonempty(agent) or h.nonempty(provider) then
        keep = function(p)
            return (not h.nonempty(agent) or p.voiceAgentId == agent)
                and (not h.nonempty(provider) or p.type == provider)
        end
    end
    return ok("success", h.slice(api.phone_numbers:filter(keep), (skip - 1) * take + 1, take),
        "OPERATION_SUCCESSFUL")
end

H["phone_numbers.assign"] = function(api, req)
    local body, res = h.parse_body(req)
    if not body then return res end
    for _, field in ipairs({ "voiceAgentId", "phoneNumber" }) do
        if not h.nonempty(body[field]) then return invalid(field .. " is required") end
    end
    local record = M.find(api, body.phoneNumber)
    if not record then return not_found(body.phoneNumber) end
    if not agents.find(api, body.voiceAgentId) then return agents.not_found() end
    record.voiceAgentId = body.voiceAgentId
    record.updatedAt = api:timestamp()
    return ok("Phone number assigned successfully", record, "PHONE_NUMBER_ASSIGNED_SUCCESSFULLY")
end

H["phone_numbers.unassign"] = function(api, req)
    local body, res = h.parse_body(req)
    if not body then return res end
    if not h.nonempty(body.phoneNumber) then return invalid("phoneNumber is required") end
    local record = M.find(api, body.phoneNumber)
    if not record then return not_found(body.phoneNumber) end
    record.voiceAgentId = null
    record.updatedAt = api:timestamp()
    return ok("Success", "Agents unassigned from " .. body.phoneNumber, "OPERATION_SUCCESSFUL")
end

return M
