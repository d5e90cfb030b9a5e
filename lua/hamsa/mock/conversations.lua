--- The mock's conversations: every placed call, stored in the order of
-- the time it was placed, and the routes that read them (one, the minimal
-- list) and terminate them. How each plays out is hamsa.mock.playout's.
--
-- A call a campaign will place later is stored at once, with its future
-- time, and hidden until then (404, not listed); so the list only ever
-- grows at its end as time passes, and paging through it is stable.
-- @module hamsa.mock.conversations
-- @license MIT

local h = require("hamsa.mock.handler")
local playout = require("hamsa.mock.playout")

local sort = table.sort
local floor, huge = math.floor, math.huge
local ipairs, setmetatable, tonumber = ipairs, setmetatable, tonumber
local ok, invalid = h.ok, h.invalid

local MAX_PER_PAGE = 200

local M = {}

local Store = {}
Store.__index = Store

--- An empty store of conversations.
function M.store()
    return setmetatable({ by_id = {}, list = {}, sorted = true, seq = 0, hidden_until = -huge }, Store)
end

function Store:count()
    return #self.list
end

--- Stores `conv` (a playout record).
function Store:add(conv)
    local list = self.list
    local last = list[#list]
    self.seq = self.seq + 1
    conv.seq = self.seq
    if last and conv.t0 < last.t0 then self.sorted = false end
    if conv.scheduled and conv.t0 > self.hidden_until then self.hidden_until = conv.t0 end
    list[#list + 1] = conv
    self.by_id[conv.id] = conv
    return conv
end

local function before(a, b)
    if a.t0 ~= b.t0 then return a.t0 < b.t0 end
    return a.seq < b.seq
end

--- Every conversation, placed or not yet, in the order of their times.
function Store:ordered()
    if not self.sorted then
        sort(self.list, before)
        self.sorted = true
    end
    return self.list
end

local function visible(conv, now)
    return not conv.scheduled or conv.t0 <= now
end

--- The conversation with this id that has been placed by `now`, or nil.
function Store:get(id, now)
    local conv = self.by_id[id]
    if conv and visible(conv, now) then return conv end
end

--- Places a call: `call` as hamsa.mock.playout.new takes it, `t0`
-- defaulting to now. The stored record.
function M.place(api, call)
    if not call.t0 then call.t0 = api:moment() end
    return api.conversations:add(playout.new(call))
end

local function not_found()
    return h.not_found("Conversation not found", "CONVERSATION_NOT_FOUND")
end

local H = {}
M.handlers = H

H["conversations.get"] = function(api, _, params)
    local now = api.clock:now()
    local conv = api.conversations:get(params.conversationId, now)
    if not conv then return not_found() end
    return ok("success", playout.view(conv, now, api.call_seconds, api.base_url), "OPERATION_SUCCESSFUL")
end

-- A live call ends TERMINATED at once; one that has ended stays as it is.
-- Both answer alike (repeating the GET does no harm).
H["conversations.terminate"] = function(api, _, params)
    local now = api.clock:now()
    local conv = api.conversations:get(params.conversationId, now)
    if not conv then return not_found() end
    playout.terminate(conv, now, api.call_seconds)
    return ok("Conversation terminated successfully", playout.view(conv, now, api.call_seconds, api.base_url),
        "ConversationTerminatedSuccessfully")
end

-- The filters of the minimal list's query, or nil and the 400.
local function filters(req)
    local q, all = h.query(req)
    local f = { page = h.whole(q.page, 1), per_page = h.whole(q.perPage, 100) }
    if not f.page then return nil, invalid("page must be a positive integer") end
    if not f.per_page or f.per_page > MAX_PER_PAGE then
        return nil, invalid("perPage must be an integer within 1.." .. MAX_PER_PAGE)
    end
    for _, name in ipairs({ "startTime", "endTime" }) do
        local v = q[name]
        if v ~= nil and v ~= "" then
            local n = v:match("^%d+$") and #v <= 16 and tonumber(v)
            if not n then return nil, invalid(name .. " must be an integer (epoch milliseconds)") end
            f[name] = n
        end
    end
    if f.startTime and f.endTime and f.endTime < f.startTime then
        return nil, invalid("endTime must not be before startTime")
    end
    if h.nonempty(q.voiceAgentId) then f.agent = q.voiceAgentId end
    for _, s in ipairs(all.status or all["status[]"] or {}) do   -- repeated, or comma-separated
        for one in s:gmatch("[^,]+") do
            f.statuses = f.statuses or {}
            f.statuses[one] = true
        end
    end
    return f
end

-- Whether `conv` passes the filters `f` at `now` (visibility included).
local function keep(conv, f, now, cs)
    if not visible(conv, now) then return false end
    if f.agent and conv.voiceAgentId ~= f.agent then return false end
    local ms = floor(conv.t0 * 1000 + 0.5)
    if (f.startTime and ms < f.startTime) or (f.endTime and ms > f.endTime) then return false end
    if f.statuses and not f.statuses[playout.status(conv, now, cs)] then return false end
    return true
end

-- `{ id, createdAt, status, voiceAgentId, agentName, duration, channelType,
-- callParams }` per call, in the order they were placed; `total` counts
-- every call placed so far, `filtered` those that pass the filters.
H["conversations.list"] = function(api, req)
    local f, res = filters(req)
    if not f then return res end
    local now, cs, store = api.clock:now(), api.call_seconds, api.conversations
    local list = store:ordered()
    local first = (f.page - 1) * f.per_page + 1
    local last = first + f.per_page - 1
    local calls, total, filtered = {}, 0, 0
    local plain = not (f.agent or f.startTime or f.endTime or f.statuses)
    if plain and store.hidden_until <= now then   -- everything placed: a slice
        total, filtered = #list, #list
        for i = first, last < #list and last or #list do
            calls[#calls + 1] = playout.minimal(list[i], now, cs)
        end
    else
        for _, conv in ipairs(list) do
            if visible(conv, now) then
                total = total + 1
                if plain or keep(conv, f, now, cs) then
                    filtered = filtered + 1
                    if filtered >= first and filtered <= last then
                        calls[#calls + 1] = playout.minimal(conv, now, cs)
                    end
                end
            end
        end
    end
    return ok("success", { total = total, filtered = filtered, calls = h.array(calls) }, "OPERATION_SUCCESSFUL")
end

return M
