--- `POST /__mock/seed`: many records at once, fast (20000 agents in a few
-- tens of milliseconds), for specs that page through long lists.
--
-- The body names how many of each kind to add: `agents`, `conversations`,
-- `campaigns`, `knowledge_base`, `phone_numbers` (0 to 100000 each).
-- Seeded records are added after those the store holds, numbered from 1
-- in their names ("Seeded agent 00001"). Conversations, campaigns and
-- knowledge-base items are placed in the past, one millisecond apart, so
-- that they have all played out: conversation i calls a number ending in
-- 4000 + (i - 1) % 5, so their statuses cycle COMPLETED, NO_ANSWER,
-- FAILED, FORWARDED, TERMINATED; each campaign has one recipient, whose
-- number follows the same cycle among 4000, 4001, 4002 (COMPLETED,
-- NO_ANSWER, FAILED). Conversations and campaigns belong to the first v1
-- agent, made ("Seeded agent") when there is none.
-- @module hamsa.mock.seed
-- @license MIT

local agents = require("hamsa.mock.agents")
local campaigns = require("hamsa.mock.campaigns")
local conversations = require("hamsa.mock.conversations")
local knowledge_base = require("hamsa.mock.knowledge_base")
local phone_numbers = require("hamsa.mock.phone_numbers")

local format = string.format
local floor = math.floor
local ipairs, pairs, tostring, type = ipairs, pairs, tostring, type

local MAX = 100000
local KINDS = { "agents", "phone_numbers", "knowledge_base", "conversations", "campaigns" }
local KNOWN = {}
for _, k in ipairs(KINDS) do KNOWN[k] = true end
local STEP = 0.001   -- seconds between two seeded records placed in the past
local MARGIN = 1     -- seconds between the last one's end and now

local M = {}

-- The agent seeded calls and campaigns belong to.
local function owner(api, now)
    return api.agents.list[1] or agents.add(api, { agentName = "Seeded agent" }, now)
end

local ADD = {}

function ADD.agents(api, n)
    local _, now = api:moment()
    for i = 1, n do
        local name = format("Seeded agent %05d", i)
        agents.add(api, { agentName = name, lang = "en", greetingMessage = "Hello, this is " .. name .. "." }, now)
    end
end

function ADD.phone_numbers(api, n)
    local _, now = api:moment()
    for i = 1, n do
        phone_numbers.add(api, format("+1555%07d", i), format("Seeded number %05d", i), "TWILIO", now)
    end
end

function ADD.knowledge_base(api, n)
    local t = api:moment() - MARGIN - api.call_seconds - n * STEP
    for i = 1, n do
        knowledge_base.add(api, { itemName = format("Seeded item %05d", i), type = "TEXT",
                                  content = "Seeded content number " .. i .. "." }, t + i * STEP)
    end
end

function ADD.conversations(api, n)
    local t, now = api:moment()
    local agent = owner(api, now)
    t = t - MARGIN - api.call_seconds - n * STEP
    for i = 1, n do
        conversations.place(api, {
            t0 = t + i * STEP, voiceAgentId = agent.id, details = agent, stored = true,
            to = format("+1555%03d%d", floor((i - 1) / 5) % 1000, 4000 + (i - 1) % 5), from = "+15550000000",
        })
    end
end

function ADD.campaigns(api, n)
    local t, now = api:moment()
    local agent = owner(api, now)
    t = t - MARGIN - 2 * api.call_seconds - n * STEP
    for i = 1, n do
        local at = t + i * STEP
        campaigns.add(api, {
            name = format("Seeded campaign %05d", i), voiceAgentId = agent.id, phoneNumber = "+15550000000",
            sendType = "NOW",
            recipients = { { phoneNumber = format("+1556%03d%d", floor((i - 1) / 3) % 1000, 4000 + (i - 1) % 3),
                             name = format("Recipient %05d", i) } },
        }, agent, at, at)
    end
end

--- How many records of each kind the stores hold.
function M.totals(api)
    return { agents = api.agents:count(), conversations = api.conversations:count(),
             campaigns = api.campaigns:count(), knowledge_base = api.kb:count(),
             phone_numbers = api.phone_numbers:count() }
end

--- Adds what `counts` asks for. The counts added (each kind named) and
-- `totals` (`M.totals` after), or nil and a message (nothing added).
function M.seed(api, counts)
    for k, v in pairs(counts) do
        if not KNOWN[k] then return nil, "unknown seed field '" .. tostring(k) .. "'" end
        if type(v) ~= "number" or v ~= floor(v) or v < 0 or v > MAX then
            return nil, "seed field '" .. k .. "' must be an integer within 0.." .. MAX
        end
    end
    local added = {}
    for _, k in ipairs(KINDS) do
        local n = counts[k]
        if n then
            n = floor(n)
            ADD[k](api, n)
            added[k] = n
        end
    end
    added.totals = M.totals(api)
    return added
end

return M
