--- The mock's campaigns (batch calls Hamsa places itself), playing out on
-- the mock's clock like single calls (hamsa.mock.playout).
--
-- With q = call_seconds / 4: a campaign is SCHEDULED until q after it
-- starts (at once with sendType NOW, else at its scheduledDate, or at once
-- when that has passed; timeRange and scheduledTimezone are kept, not
-- obeyed), then RUNNING, and COMPLETED once every recipient is final. Its
-- recipients are PENDING until it runs, then QUEUED; they are called
-- `reservedConcurrency` at a time (default 10), the first batch q after
-- the campaign started running and each next one call_seconds later. A
-- recipient is IN_PROGRESS while its call is live, then COMPLETED, FAILED
-- or NO_ANSWER: its number's last four digits decide, as for a single call
-- (4001 NO_ANSWER, 4002 FAILED, any other COMPLETED). Each call is a
-- conversation (the recipient's `jobId`), which appears when it is placed.
-- @module hamsa.mock.campaigns
-- @license MIT

local h = require("hamsa.mock.handler")
local agents = require("hamsa.mock.agents")
local conversations = require("hamsa.mock.conversations")
local phone_numbers = require("hamsa.mock.phone_numbers")
local playout = require("hamsa.mock.playout")

local find, lower = string.find, string.lower
local floor, max = math.floor, math.max
local ipairs, pairs, type = ipairs, pairs, type
local ok, invalid, null, array = h.ok, h.invalid, h.null, h.array

local DEFAULT_CONCURRENCY = 10
local MAX_ATTEMPTS = 3
-- The fields of a campaign that are answered as they were sent.
local KEPT = { "name", "voiceAgentId", "phoneNumber", "sendType", "timeRange", "reservedConcurrency",
               "scheduledDate", "scheduledTimezone", "webhookUrl" }
-- Recipient status -> its group in a campaign's `recipients`.
local GROUP = { PENDING = "pending", QUEUED = "queued", IN_PROGRESS = "inProgress", COMPLETED = "completed",
                FAILED = "failed", NO_ANSWER = "noAnswer" }
local FROM_CALL = { NO_ANSWER = "NO_ANSWER", FAILED = "FAILED" }   -- any other final: COMPLETED
local ENDED = { COMPLETED = true, FAILED = true, NO_ANSWER = true }
local ERRORS = { NO_ANSWER = "The recipient did not answer", FAILED = "The call failed" }

local M = {}

--- A new campaign from `body` (checked), stored, its calls placed (to
-- appear at their times); `t` the time it is created, `start` when it
-- starts (>= t).
function M.add(api, body, agent, t, start)
    local q, cs = api.call_seconds / 4, api.call_seconds
    local c = { id = h.uuid4(), projectId = api.project_id, t0 = t, run_at = start + q, recipients = {} }
    for _, k in ipairs(KEPT) do c[k] = h.or_null(body[k]) end
    local number = phone_numbers.find(api, body.phoneNumber)
    c.phoneNumberId = number and number.id or null
    c.createdAt = h.iso(t)
    local per = body.reservedConcurrency
    per = (type(per) == "number" and per >= 1) and floor(per) or DEFAULT_CONCURRENCY
    for i, r in ipairs(body.recipients) do
        local place_at = c.run_at + q + floor((i - 1) / per) * cs
        local conv = conversations.place(api, {
            t0 = place_at, scheduled = true, voiceAgentId = agent.id, details = h.copy(agent), stored = true,
            params = h.is_object(r.dynamicVariables) and r.dynamicVariables or nil,
            to = r.phoneNumber, from = body.phoneNumber,
        })
        c.recipients[i] = {
            id = h.uuid4(), campaignId = c.id, phoneNumber = r.phoneNumber, name = h.or_null(r.name),
            dynamicVariables = h.is_object(r.dynamicVariables) and r.dynamicVariables or h.object({}),
            place_at = place_at, conv = conv,
        }
    end
    return api.campaigns:add(c)
end

-- A recipient's status at `now`, and the time of its latest change.
local function recipient_state(api, c, r, now)
    if now < c.run_at then return "PENDING", c.t0 end
    if now < r.place_at then return "QUEUED", c.run_at end
    local status, _, ended = playout.state(r.conv, now, api.call_seconds)
    if not ended then return "IN_PROGRESS", r.place_at end
    return FROM_CALL[status] or "COMPLETED", ended
end

local function recipient_view(api, c, r, now)
    local status, at = recipient_state(api, c, r, now)
    local placed = now >= r.place_at
    return {
        id = r.id, campaignId = c.id, phoneNumber = r.phoneNumber, name = r.name,
        dynamicVariables = r.dynamicVariables, status = status, latestActionTimestamp = h.iso(at),
        attempts = placed and 1 or 0, maxAttempts = MAX_ATTEMPTS, nextRetryAt = null,
        jobId = placed and r.conv.id or null, lastError = ERRORS[status] or null,
        completedAt = ENDED[status] and h.iso(at) or null,
    }
end

-- The campaign's status at `now`, and the time of its latest change.
local function campaign_state(api, c, now)
    if now < c.run_at then return "SCHEDULED", c.t0 end
    local last = c.run_at
    for _, r in ipairs(c.recipients) do
        if now < r.place_at then return "RUNNING", c.run_at end
        local _, _, ended = playout.state(r.conv, now, api.call_seconds)
        if not ended then return "RUNNING", c.run_at end
        last = max(last, ended)
    end
    return "COMPLETED", last
end

-- The campaign's own fields at `now`.
local function summary(api, c, now)
    local status, at = campaign_state(api, c, now)
    local v = { id = c.id, status = status, projectId = c.projectId, phoneNumberId = c.phoneNumberId,
                createdAt = c.createdAt, updatedAt = h.iso(max(at, c.renamed_at or at)) }
    for _, k in ipairs(KEPT) do v[k] = c[k] end
    return v
end

--- The campaign as GET .../campaigns/{id} answers it at `now`.
function M.view(api, c, now)
    local v = summary(api, c, now)
    v.totalRecipients = #c.recipients
    local agent = agents.find(api, c.voiceAgentId)
    v.agentName = agent and agents.name(agent) or null
    local groups = {}
    for _, g in pairs(GROUP) do groups[g] = {} end
    for _, r in ipairs(c.recipients) do
        local rv = recipient_view(api, c, r, now)
        local list = groups[GROUP[rv.status]]
        list[#list + 1] = rv
    end
    for g, list in pairs(groups) do groups[g] = array(list) end
    v.recipients = groups
    return v
end

local function not_found()
    return h.not_found("Campaign not found", "CAMPAIGN_NOT_FOUND")
end

-- The start of a campaign created at `t` from `body`, or nil and the 400.
local function start_of(body, t)
    if body.sendType == "NOW" or not h.present(body.scheduledDate) then return t end
    local at = h.parse_iso(body.scheduledDate)
    if not at then return nil, invalid("scheduledDate must be an ISO 8601 date-time") end
    return max(t, at)
end

local H = {}
M.handlers = H

H["campaigns.create"] = function(api, req)
    local body, res = h.parse_body(req)
    if not body then return res end
    for _, field in ipairs({ "name", "voiceAgentId", "phoneNumber" }) do
        if not h.nonempty(body[field]) then return invalid(field .. " is required") end
    end
    local recipients = body.recipients
    if type(recipients) ~= "table" or h.is_object(recipients) or #recipients == 0 then
        return invalid("recipients must be a non-empty array")
    end
    for i, r in ipairs(recipients) do
        if not h.is_object(r) or not h.nonempty(r.phoneNumber) then
            return invalid("recipients[" .. i .. "].phoneNumber is required")
        end
    end
    local agent = agents.find(api, body.voiceAgentId)
    if not agent then return agents.not_found() end
    local t = api:moment()
    local start, err = start_of(body, t)
    if not start then return err end
    local c = M.add(api, body, agent, t, start)
    return ok("Campaign created successfully", summary(api, c, t), "CAMPAIGN_CREATED_SUCCESSFULLY")
end

-- skip is an offset (0 first), take the size (default 10); filters
-- voiceAgentId and search (in the name, any case).
H["campaigns.list"] = function(api, req)
    local q = h.query(req)
    local skip, take = h.whole(q.skip, 0, 0), h.whole(q.take, 10)
    if not skip then return invalid("skip must be an integer >= 0 (an offset)") end
    if not take then return invalid("take must be a positive integer") end
    local agent = h.nonempty(q.voiceAgentId) and q.voiceAgentId
    local search = h.nonempty(q.search) and lower(q.search)
    local list = api.campaigns:filter((agent or search) and function(c)
        return (not agent or c.voiceAgentId == agent) and (not search or find(lower(c.name), search, 1, true) ~= nil)
    end or nil)
    local now, out = api.clock:now(), {}
    for i = skip + 1, skip + take do
        local c = list[i]
        if not c then break end
        local v = summary(api, c, now)
        v.recipientsCount = #c.recipients
        out[#out + 1] = v
    end
    return ok("success", { campaigns = array(out), totalCount = #list, returnedCount = #out },
        "OPERATION_SUCCESSFUL")
end

H["campaigns.get"] = function(api, _, params)
    local c = api.campaigns:get(params.campaignId)
    if not c then return not_found() end
    return ok("success", M.view(api, c, api.clock:now()), "OPERATION_SUCCESSFUL")
end

-- PATCH changes the name only (other fields are ignored).
H["campaigns.update"] = function(api, req, params)
    local body, res = h.parse_body(req)
    if not body then return res end
    local c = api.campaigns:get(params.campaignId)
    if not c then return not_found() end
    if not h.nonempty(body.name) then return invalid("name is required") end
    c.name = body.name
    local t = api:moment()
    c.renamed_at = t
    return ok("Campaign updated successfully", summary(api, c, t), "CAMPAIGN_UPDATED_SUCCESSFULLY")
end

return M
