--- How a placed call plays out on the mock's clock (hamsa.mock.clock):
-- a conversation record, and what it shows at any time.
--
-- A call placed at t0 is PENDING, IN_PROGRESS from t0 + call_seconds / 4,
-- and ends at t0 + call_seconds in the status the last four digits of the
-- number called give (like Twilio's magic test numbers, `M.MAGIC`):
-- ...4001 NO_ANSWER, ...4002 FAILED, ...4003 FORWARDED, ...4004 TERMINATED
-- (the far side hung up), anything else COMPLETED. Nothing runs in the
-- background: the status is computed from the clock whenever the record
-- is read. Terminating a live call (`M.terminate`) ends it TERMINATED at
-- once.
--
-- A call that was answered (COMPLETED, FORWARDED, TERMINATED after
-- IN_PROGRESS) has a duration, a recording URL and a short scripted
-- transcript that opens with the agent's greeting, its `{{params}}` filled;
-- NO_ANSWER and FAILED calls, and calls terminated before they were
-- answered, have none of them.
-- @module hamsa.mock.playout
-- @license MIT

local h = require("hamsa.mock.handler")

local ceil, floor, max, min = math.ceil, math.floor, math.max, math.min
local gsub, match = string.gsub, string.match
local ipairs, pairs, tostring, type = ipairs, pairs, tostring, type
local null, array, object = h.null, h.array, h.object

local M = {}

--- The final status of a call to a number ending in these four digits.
M.MAGIC = { ["4001"] = "NO_ANSWER", ["4002"] = "FAILED", ["4003"] = "FORWARDED", ["4004"] = "TERMINATED" }

--- The statuses a call ends in.
M.FINAL = { COMPLETED = true, NO_ANSWER = true, FAILED = true, FORWARDED = true, TERMINATED = true }

local ANSWERED = { COMPLETED = true, FORWARDED = true, TERMINATED = true }

-- What the person called says, after the agent's greeting, by how the call ends.
local SCRIPT = {
    COMPLETED = { "Yes, now is fine.", "Thank you, that is all I needed.", "Goodbye!" },
    FORWARDED = { "Can I speak to a person, please?", "Of course, I am transferring you now." },
    TERMINATED = { "Sorry, I cannot talk right now." },
}
local SPEAKER = { "User", "Agent", "User" }

--- The final status of a call to `number` (a string).
function M.outcome(number)
    local digits = type(number) == "string" and match(number, "(%d%d%d%d)$")
    return digits and M.MAGIC[digits] or "COMPLETED"
end

--- `text` with each `{{name}}` whose name `params` has replaced by its value.
function M.fill(text, params)
    return (gsub(text, "{{%s*([^{}]-)%s*}}", function(name)
        local v = params[name]
        if v ~= nil and v ~= null and type(v) ~= "table" then return tostring(v) end
    end))
end

-- The greeting of an agent (v1 or v2) or of inline agentDetails.
local function greeting(details)
    local conv = type(details.conversation) == "table" and details.conversation or {}
    local g = details.greetingMessage or conv.greetingMessage
    if type(g) == "string" and g ~= "" then return g end
    return "Hello, this is " .. tostring(details.agentName or details.name or "your assistant") .. "."
end

-- An agent's default params (v1 or v2).
local function defaults(details)
    local conv = type(details.conversation) == "table" and details.conversation or {}
    local p = details.params or conv.params
    return type(p) == "table" and p or {}
end

--- A new conversation record (not stored). `call`: `id` (default: a new
-- one), `t0` (epoch seconds), `voiceAgentId`, `details` (the agent or the
-- inline agentDetails), `stored` (true when `details` is a stored agent:
-- its params are defaults under the call's), `params`, `to`, `from`,
-- `scheduled` (placed by a campaign: hidden until t0).
function M.new(call)
    local params = {}
    if call.stored or call.params == nil then
        for k, v in pairs(defaults(call.details)) do params[k] = v end
    end
    if type(call.params) == "table" then
        for k, v in pairs(call.params) do params[k] = v end
    end
    return {
        id = call.id or h.uuid4(), t0 = call.t0, final = M.outcome(call.to),
        voiceAgentId = call.voiceAgentId, details = call.details, params = params,
        agentName = call.details.agentName or call.details.name or null,
        to = call.to, from = call.from or null, scheduled = call.scheduled,
        greeting = M.fill(greeting(call.details), params),
    }
end

--- The call's state at `now`: status, the time it was answered (nil when
-- it was not, or not yet: a NO_ANSWER or FAILED call only rings), when it
-- ended (nil while live), and the seconds it has been talking.
function M.state(conv, now, cs)
    local answer_at, ended = conv.t0 + cs / 4, conv.cut_at or (conv.t0 + cs)
    local status = conv.cut_at and "TERMINATED" or conv.final
    if ended > now then
        ended = nil
        status = now < answer_at and "PENDING" or "IN_PROGRESS"
    end
    local answered = ANSWERED[conv.final] and (ended or now) > answer_at and answer_at or nil
    local talk = answered and ((ended or now) - answered) or 0
    return status, answered, ended, talk
end

--- The status at `now`.
function M.status(conv, now, cs)
    return (M.state(conv, now, cs))
end

--- Ends a live call TERMINATED at `now`; a call that has ended stays as
-- it is. True when it was live.
function M.terminate(conv, now, cs)
    if M.FINAL[M.status(conv, now, cs)] then return false end
    conv.cut_at = now
    return true
end

-- The transcript at `now`: the greeting and the script of the way it ends,
-- as much of it as the talk so far has covered.
local function transcript(conv, answered, ended, talk, cs)
    local lines = {}
    if not answered then return array(lines) end
    local script = SCRIPT[conv.final] or SCRIPT.COMPLETED
    local all = { { Agent = conv.greeting } }
    for i, line in ipairs(script) do all[#all + 1] = { [SPEAKER[i]] = line } end
    local n = #all
    if not ended or conv.cut_at then
        n = max(1, min(#all, ceil(#all * talk / (cs * 0.75) - 1e-9)))
    end
    for i = 1, n do lines[i] = all[i] end
    return array(lines)
end

--- The seconds a call has lasted, as the API gives them: whole seconds,
-- 0 unless it was answered (rounded up once ended, down while live).
function M.duration(talk, ended)
    if talk <= 0 then return 0 end
    return ended and ceil(talk - 1e-9) or floor(talk)
end

-- The log entries of the transitions reached by `now`; the time of the last.
local function logs(conv, status, ended, now, cs)
    local answer_at = conv.t0 + cs / 4
    local steps = { { conv.t0, "PENDING", "Call queued" } }
    if (ended or now) >= answer_at then steps[2] = { answer_at, "IN_PROGRESS", "Call in progress" } end
    if ended then steps[#steps + 1] = { ended, status, "Call ended: " .. status } end
    local ids = conv.log_ids or {}
    conv.log_ids = ids
    local out = {}
    for i, step in ipairs(steps) do
        ids[i] = ids[i] or h.uuid4()
        local at = h.iso(step[1])
        out[i] = { id = ids[i], timestamp = at, createdAt = at, updatedAt = at,
                   payload = { status = step[2], message = step[3] } }
    end
    return array(out), steps[#steps][1]
end

--- The conversation record at `now` (GET .../conversation/{id}); `base_url`
-- makes the recording's URL.
function M.view(conv, now, cs, base_url)
    local status, answered, ended, talk = M.state(conv, now, cs)
    local log, last = logs(conv, status, ended, now, cs)
    local outcome = {}
    for k, v in pairs(conv.params) do outcome[k] = v end
    return {
        id = conv.id, status = status, type = "VOICE_AGENTS", processingType = "real-time",
        voiceAgentId = conv.voiceAgentId, agentDetails = conv.details,
        callParams = { userNumber = conv.to, machineNumber = conv.from },
        channelType = "TELEPHONE", createdAt = h.iso(conv.t0), updatedAt = h.iso(last),
        callDuration = M.duration(talk, ended),
        mediaUrl = (ended and answered) and (base_url .. "/recordings/" .. conv.id .. ".wav") or null,
        jobResponse = { transcription = transcript(conv, answered, ended, talk, cs), outcomeResult = object(outcome) },
        logs = log, callAnalysis = object({}),
    }
end

--- The call as the minimal list gives it.
function M.minimal(conv, now, cs)
    local status, _, ended, talk = M.state(conv, now, cs)
    return {
        id = conv.id, createdAt = h.iso(conv.t0), status = status, voiceAgentId = conv.voiceAgentId,
        agentName = conv.agentName, duration = M.duration(talk, ended), channelType = "Telephone",
        callParams = { userNumber = conv.to, machineNumber = conv.from },
    }
end

return M
