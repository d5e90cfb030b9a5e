--- The dialer's run: one loop on the client's own loop (nothing else
-- blocks it but short ledger transactions and a reconciliation's list
-- pages). Each turn it takes over rows of processes that are gone, renews
-- its leases, claims what concurrency and rate allow, sends the rows whose
-- slot has come, reconciles `unknown` rows, follows placed calls to their
-- end, and stops when every row of the campaign is final.
--
-- Every state is written to the ledger before the step it announces
-- (docs/dialer.md): `sending` before the POST, so that a crash after it
-- leaves a row that is reconciled, never sent blindly.
-- @module hamsa.dialer.engine
local core = require "hamsa.core"
local errors = require "hamsa.errors"
local dialer = require "hamsa.dialer"
local ledger_mod = require "hamsa.dialer.ledger"
local loop = require "hamsa.loop"

local type, pairs, ipairs, tostring, tonumber, next = type, pairs, ipairs, tostring, tonumber, next
local format, match = string.format, string.match
local floor, min, max = math.floor, math.min, math.max
local remove = table.remove
local wall = core.wall

local M = {}

local TICK = 0.05              -- the longest the loop sleeps between turns
local SKEW = 60                -- seconds of clock difference allowed with Hamsa when reconciling

-- The body of a row's call: the dialer's fixed fields, the row's number,
-- and the row's params over the dialer's.
local function body_of(o, row)
    local body = {}
    for k, v in pairs(o.call) do if k ~= "route" then body[k] = v end end
    body.toNumber = row.toNumber
    if row.params or o.call.params then
        local params = {}
        for k, v in pairs(o.call.params or {}) do params[k] = v end
        for k, v in pairs(row.params or {}) do params[k] = v end
        if body.agentDetails then
            local details = {}
            for k, v in pairs(body.agentDetails) do details[k] = v end
            local p = {}
            for k, v in pairs(details.params or {}) do p[k] = v end
            for k, v in pairs(params) do p[k] = v end
            details.params = p
            body.agentDetails, body.params = details, nil
        else
            body.params = params
        end
    end
    return body
end

-- How a failed placement leaves its row: "release" (no call was made:
-- send again later), "pause" (429: release, and slow the campaign down),
-- "reject" (refused for good), "stop" (the whole run cannot go on),
-- "unknown" (the API may have placed it).
local function outcome(err)
    local kind = err.kind
    if kind == "rate_limited" or (err.status == 503 and err.retryable and not err.sent) then return "pause" end
    if kind == "auth" or kind == "config" or kind == "cancelled" then return "stop" end
    if kind == "invalid" or kind == "not_found" or kind == "api" then return "reject" end
    if (kind == "network" or kind == "timeout") and err.sent == false then return "release" end
    return "unknown"
end

local Run = {}
Run.__index = Run

-- Counts what happened in this process (d.stats), for reports and specs.
local function count(self, what)
    local stats = self.d.stats
    stats[what] = (stats[what] or 0) + 1
end

function M.run(d, opts)
    local self = setmetatable({
        d = d, o = d.o, client = d.client, ledger = d.ledger, campaign = d.campaign, owner = d.owner,
        queue = {},            -- claimed rows waiting for their slot, by slot
        sending = {},          -- row id -> true while its POST is in flight
        following = {},        -- job id -> row while its wait runs
        reconciling = {},      -- row id -> next time to try
        backoff = 1,           -- seconds of the next 429 pause
        next = { recover = 0, renew = 0, claim = 0, counts = 0, progress = 0, owned = 0 },
        until_idle = opts.until_idle, deadline = opts.deadline and wall() + opts.deadline,
        deadline_s = opts.deadline,
    }, Run)
    return self:loop()
end

-- Whether `owner` is gone: its lease ran out, or it is a process of this
-- host that no longer exists.
function Run:gone(owner, lease_until)
    if (lease_until or 0) < wall() then return true end
    local host, pid = match(owner, "^(.*):(%d+):%x+$")
    return host == self.d.host and not core.process_alive(tonumber(pid))
end

function Run:fail(err)
    if not self.stop_err then self.stop_err = err end
end

function Run:ledger_err(e)
    self:fail(errors.new("config", tostring(e)))
end

-- Takes over rows of gone processes, and starts following the placed rows
-- and reconciling the unknown rows this process holds.
function Run:adopt_owned(now)
    local ok, e = self.ledger:recover(self.campaign, self.owner, now, self.o.lease,
        function(owner, lease_until) return self:gone(owner, lease_until) end)
    if ok == nil then return self:ledger_err(e) end
    local placed = self.ledger:owned(self.campaign, self.owner, "placed")
    for _, row in ipairs(placed or {}) do
        if row.jobId and not self.following[row.jobId] then self:follow(row) end
    end
    local unknown = self.ledger:owned(self.campaign, self.owner, "unknown")
    for _, row in ipairs(unknown or {}) do
        if not self.reconciling[row.id] then
            self.reconciling[row.id] = (row.sent_at or now) + self.o.reconcile_after
        end
    end
end

-- Claims what concurrency and the rate allow, into the queue by slot.
function Run:claim(now)
    if self.stop_err then return end
    local w = self.o.window
    if w and not w:is_open(now) then return end
    -- no more claimed rows waiting here than the rate sends soon
    local want = floor(self.o.rate * ledger_mod.HORIZON) + 1 - #self.queue
    if want <= 0 then return end
    local rows, e = self.ledger:claim(self.campaign, self.owner, want, now, self.o)
    if rows == nil then return self:ledger_err(e) end
    for _, row in ipairs(rows) do
        row.slot = now
        self.queue[#self.queue + 1] = row
    end
end

-- Sends the queued rows (in claim order) as the campaign's rate gives
-- them slots.
function Run:send_due(now)
    local q, o, ledger, campaign, owner = self.queue, self.o, self.ledger, self.campaign, self.owner
    while q[1] and q[1].slot <= now do
        local row = q[1]
        local w = o.window
        if self.stop_err then
            remove(q, 1)
            ledger:release(campaign, row, owner, now, now, nil)
        elseif w and not w:is_open(now) then
            remove(q, 1)
            ledger:release(campaign, row, owner, now, w:next_open(now) or now, "outside the calling window")
        else
            local ok, slot = ledger:sending(campaign, row, owner, now, o)
            if ok == nil then return self:ledger_err(slot) end
            if ok then
                remove(q, 1)
                self:send(row)
            elseif slot then
                row.slot = slot               -- the rate's next slot: not yet
                return
            else
                remove(q, 1)                  -- no longer ours: never sent by this process
            end
        end
    end
end

-- POSTs a row written `sending`.
function Run:send(row)
    local o, campaign = self.o, self.campaign
    self.sending[row.id] = true
    local calls = self.client.calls
    calls[o.route](calls, body_of(o, row), {
        idempotency_key = dialer.idempotency_key(campaign, row.id, row.attempt),
        on_done = function(data, err) self:placed(row, data, err) end,
    })
end

-- The answer to a row's POST.
function Run:placed(row, data, err)
    self.sending[row.id] = nil
    local now, ledger, campaign, owner = wall(), self.ledger, self.campaign, self.owner
    if data ~= nil then
        local job = type(data) == "table" and (data.jobId or data.id) or nil
        if type(job) ~= "string" or job == "" then
            ledger:unknown(campaign, row, owner, now, "the answer carried no call id")
            self.reconciling[row.id] = now + self.o.reconcile_after
            return
        end
        self.backoff = 1
        local d = self.d
        d.placed_at[#d.placed_at + 1] = now
        if #d.placed_at > 10000 then remove(d.placed_at, 1) end
        count(self, "placed")
        local ok = ledger:placed(campaign, row, owner, job, now)
        if ok then
            row.jobId, row.state = job, "placed"
            self:follow(row)
        elseif ok == false then
            -- the call is held by another row (two rows with one number, one
            -- of them adopted by a reconciliation): settle it by the list too
            if ledger:unknown(campaign, row, owner, now, "its call " .. job .. " is held by another row") then
                self.reconciling[row.id] = now + self.o.reconcile_after
            end
        end
        return
    end
    local what, msg = outcome(err), tostring(err)
    count(self, what)
    if what == "pause" then
        local wait = tonumber(err.headers and err.headers["retry-after"]) or self.backoff
        self.backoff = min(self.backoff * 2, 60)
        ledger:pause(campaign, now + wait)
        ledger:release(campaign, row, owner, now, now + wait, msg)
    elseif what == "release" then
        ledger:release(campaign, row, owner, now, now + 1, msg)
    elseif what == "reject" then
        ledger:rejected(campaign, row, owner, now, msg)
    elseif what == "stop" then
        ledger:release(campaign, row, owner, now, now, msg)
        self:fail(err)
    else
        ledger:unknown(campaign, row, owner, now, msg)
        self.reconciling[row.id] = now + self.o.reconcile_after
    end
end

-- Follows a placed call to its final status.
function Run:follow(row)
    local job = row.jobId
    self.following[job] = row
    local f = self.o.follow
    self.client.conversations:wait(job, {
        interval = f.interval, deadline = f.deadline,
        on_done = function(record, err)
            self.following[job] = nil
            if record == nil then
                -- polled again from the next look at the rows this process holds
                if err and err.kind ~= "cancelled" then self.next.owned = min(self.next.owned, wall() + 5) end
                return
            end
            self:ended(row, record.status)
        end,
    })
end

function Run:ended(row, status)
    local now, o = wall(), self.o
    local again = o.redial[status] and row.attempt < o.max_attempts and now + o.retry_after or nil
    local ok, e = self.ledger:ended(self.campaign, row, self.owner, status, now, again)
    if ok == nil then self:ledger_err(e) end
end

-- The call an unknown row's attempt made, from the conversation list: its
-- id, false when the list proves there is none, or nil and an error.
function Run:find_call(row, now)
    local o, client = self.o, self.client
    local query = {
        startTime = floor(((row.sent_at or now) - SKEW) * 1000),
        endTime = floor((now + SKEW) * 1000),
        perPage = 200,
    }
    if o.call.voiceAgentId then query.voiceAgentId = o.call.voiceAgentId end
    for item, err in client.conversations:each(query) do
        if item == false then return nil, err end
        local cp = type(item) == "table" and item.callParams
        local to = type(cp) == "table" and cp.userNumber or (type(item) == "table" and item.toNumber)
        if to == nil and type(item) == "table" and type(item.id) == "string" then
            local full = client.conversations:get(item.id)
            cp = type(full) == "table" and full.callParams
            to = type(cp) == "table" and cp.userNumber or nil
        end
        if to == row.toNumber and type(item.id) == "string" then
            local known = self.ledger:known_call(self.campaign, item.id)
            if known == false then return item.id end
        end
    end
    return false
end

-- Reconciles the unknown rows whose time has come (one per turn: each may
-- read several pages).
function Run:reconcile(now)
    for id, at in pairs(self.reconciling) do
        if at <= now then
            local rows = self.ledger:owned(self.campaign, self.owner, "unknown") or {}
            local row
            for _, r in ipairs(rows) do if r.id == id then row = r end end
            if not row then self.reconciling[id] = nil; return end
            -- first what this attempt itself recorded (a process that lost the row after placing it)
            local job = self.ledger:call_of(self.campaign, row.id, row.attempt)
            if not job then
                local err
                job, err = self:find_call(row, now)
                if job == nil then
                    self.reconciling[id] = now + max(5, self.o.reconcile_after)
                    return err
                end
            end
            self.reconciling[id] = nil
            if job then
                count(self, "adopted")
                if self.ledger:placed(self.campaign, row, self.owner, job, now) then
                    row.jobId = job
                    self:follow(row)
                end
            else
                -- proven absent: dialled again, with the same attempt's key
                count(self, "redialled")
                self.ledger:release(self.campaign, row, self.owner, now, now, "reconciled: no call was placed")
            end
            return
        end
    end
end

-- Whether this process has anything of its own in flight.
function Run:busy()
    return next(self.sending) ~= nil or next(self.following) ~= nil or next(self.reconciling) ~= nil
        or self.queue[1] ~= nil
end

function Run:progress(now)
    local cb = self.o.on_progress
    if not cb or now < self.next.progress then return end
    self.next.progress = now + self.o.progress_interval
    local s = self.d:status()
    if s then pcall(cb, s) end
end

function Run:loop()
    local nx, o, client = self.next, self.o, self.client
    while true do
        local now = wall()
        if now >= nx.recover then
            self:adopt_owned(now)
            nx.recover, nx.owned = now + min(o.lease / 2, 10), now + min(o.lease / 2, 10)
        elseif now >= nx.owned then
            nx.owned = now + min(o.lease / 2, 10)
            self:adopt_owned(now)
        end
        if now >= nx.renew then
            self.ledger:renew(self.campaign, self.owner, now + o.lease)
            nx.renew = now + o.lease / 4
        end
        if now >= nx.claim then
            self:claim(now)
            nx.claim = now + TICK
        end
        self:send_due(now)
        self:reconcile(now)
        self:progress(now)
        if now >= nx.counts or not self:busy() then
            nx.counts = now + 0.2
            local counts, due = self.ledger:counts(self.campaign)
            if not counts then
                self:ledger_err(due)
            else
                local open = 0
                for _, k in ipairs(dialer.STATES) do open = open + (counts[k] or 0) end
                if self.stop_err and not self:busy() then return nil, self.stop_err end
                -- nothing open in the whole campaign: done, whatever this
                -- process still follows (rows another process finished)
                if open == 0 and next(self.sending) == nil then
                    if o.on_progress then pcall(o.on_progress, self.d:status()) end
                    return self.d:status()
                end
                if self.until_idle and not self:busy() and (counts.pending or 0) == open
                    and (due == nil or due > now or (o.window and not o.window:is_open(now))) then
                    return self.d:status()
                end
            end
        end
        if self.deadline and now >= self.deadline then
            return nil, errors.new("timeout", format("the dialer's run passed its deadline of %g s",
                self.deadline_s), { code = "RUN_DEADLINE" })
        end
        local wait = TICK
        if self.queue[1] then wait = min(wait, max(0.001, self.queue[1].slot - now)) end
        -- a webhook server given as `watch` is served from this loop too
        local w = o.watch
        if type(w) == "table" and type(w.step) == "function" then w:step(0) end
        -- callbacks first, then a sleep that still moves every transfer
        client:poll(0)
        loop.pause(client, wait)
    end
end

return M
