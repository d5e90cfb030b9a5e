--- Waiters: `wait(id [, opts])` on conversations, campaigns and the
-- knowledge base polls the resource's own `get` until the record reaches a
-- final status, and returns that last record as `data, response`:
--
--     local call = assert(client.calls:start{ ... })
--     local conv, err = client.conversations:wait(call.jobId, {
--         deadline = 600, on_status = function(c) print(c.status) end })
--
-- Final statuses (`FINAL`; a status outside them is polled again):
--
--   conversations   COMPLETED, NO_ANSWER, FAILED, FORWARDED, TERMINATED (= TERMINAL)
--   campaigns       COMPLETED, CANCELLED, FAILED (not PAUSED: a paused campaign resumes)
--   knowledge_base  PROCESSED, FAILED
--
-- `TERMINAL` (exported as `hamsa.TERMINAL`) lists the conversations' five
-- in order (`TERMINAL[1..5]`, `#TERMINAL == 5`) and is also a set
-- (`TERMINAL.COMPLETED == true`). It is a copy: changing it changes no wait.
--
-- Options, besides the per-request ones (`timeout`, `headers`,
-- `max_retries`, ...: applied to each poll):
--
--   deadline   seconds for the whole wait (default 3600); the last poll
--              happens at the deadline, and its timeout is cut to the time
--              left (at least 1 s)
--   interval   the first gap between polls (default 2 s); each gap is 1.5
--              times the one before, up to 15 s (or `interval` if larger),
--              and up to 20 % shorter by jitter
--   on_status  function(record), on each change of status, the first seen
--              included; it runs in the caller's frame (blocking and task
--              modes: an error there ends the wait and reaches the caller)
--              or, with on_done, from poll/wait/run like a callback (an
--              error there goes to on_error or is raised by poll/wait/run;
--              the wait goes on)
--   on_done    function(data, err, response): returns at once a handle
--              (`:cancel()`, `:done()`); on_done runs exactly once, from
--              poll/wait/run/close
--
-- A failure with `err.retryable` is polled again (with `Retry-After`, when
-- the answer had one, as the least gap), and so is a 404 within 30 s of the
-- start (the record may not be visible yet); any other failure ends the
-- wait with its error. Past the deadline: `nil, err` with kind "timeout",
-- code "WAIT_DEADLINE", `err.last` the last record seen (nil if none) and
-- `err.cause` the last poll's error when that poll failed.
-- Cancelled (handle:cancel(), client:close()): kind "cancelled", `err.last`
-- too.
--
-- One algorithm (`wait_loop`), three modes, by how a poll and a gap run:
--
--   blocking   polls are blocking calls; a gap is loop.pause, which drives
--              the client's loop (other transfers move) but runs no callback;
--   in a task  (client:spawn) polls yield like every task call; a gap is a
--              timer (loop.timer) the task awaits;
--   on_done    the same algorithm as an internal task (hamsa.tasks): its
--              polls and gaps are task calls and timers, its result a call
--              record queued for deliver. It never sleeps the host.
--
-- Counting: an on_done waiter is one in `client:pending()` at any time
-- until its on_done ran (its current poll or gap, then its result); it is
-- not a task, so `client:run()` does not count it in what it returns, but
-- drives it to its end like any on_done request. A task's gap counts as
-- its request does. A blocking wait counts nothing, like a blocking call.
-- @module hamsa.waiter
local core = require "hamsa.core"
local config = require "hamsa.config"
local errors = require "hamsa.errors"
local loop = require "hamsa.loop"
local retry = require "hamsa.retry"
local tasks = require "hamsa.tasks"

local type, error, pairs, ipairs, pcall, tostring, getmetatable, setmetatable, next =
    type, error, pairs, ipairs, pcall, tostring, getmetatable, setmetatable, next
local min, max, random, huge = math.min, math.max, math.random, math.huge
local format = string.format
local corunning = coroutine.running
local now = core.now
local YIELD_THROUGH_PCALL = loop.YIELD_THROUGH_PCALL

local M = {}

M.DEFAULT_DEADLINE = 3600   -- seconds
M.DEFAULT_INTERVAL = 2      -- the first gap, seconds
M.MAX_INTERVAL = 15         -- gaps grow up to this
M.GROWTH = 1.5
M.JITTER = 0.2              -- a gap is up to this fraction shorter
M.NOT_VISIBLE = 30          -- seconds from the start in which a 404 is polled again

local function set(list)
    local s = {}
    for i, v in ipairs(list) do s[i] = v; s[v] = true end
    return s
end

--- The final call statuses, in order and as a set (`hamsa.TERMINAL`).
M.TERMINAL = set{ "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED", "TERMINATED" }

--- Per resource: the final statuses (a set), the record's name in
-- messages and the id's name.
M.RESOURCES = {
    conversations = { final = set(M.TERMINAL), noun = "conversation", id = "conversationId" },
    campaigns = { final = set{ "COMPLETED", "CANCELLED", "FAILED" }, noun = "campaign", id = "campaignId" },
    knowledge_base = { final = set{ "PROCESSED", "FAILED" }, noun = "knowledge base item", id = "itemId" },
}

-- The options of wait: the request options (no query), and its own.
local WAIT_OPTIONS = { deadline = "number", interval = "number", on_status = "function" }
for k, v in pairs(config.REQUEST_OPTIONS) do
    if k ~= "query" and k ~= "dry_run" then WAIT_OPTIONS[k] = v end
end
local OWN = { deadline = true, interval = true, on_status = true, on_done = true }
M.WAIT_OPTIONS = WAIT_OPTIONS   -- read by scripts/gen-types.lua

local Waiter = {}
Waiter.__index = Waiter
Waiter.__name = "hamsa.waiter"
M.Waiter = Waiter

---------------------------------------------------------------------------
-- the algorithm

local function status_of(record)
    return type(record) == "table" and record.status or nil
end

local function stopped(w)
    return w.cancelled or w.client._closed
end

local function cancelled(w)
    return errors.new("cancelled", format("waiting for %s %s was cancelled", w.noun, w.id), { last = w.last })
end

local function deadline_err(w, cause)
    return errors.new("timeout", format("%s %s reached no final status within %g s (last status: %s)",
        w.noun, w.id, w.deadline, w.seen and tostring(w.status) or "none seen"),
        { code = "WAIT_DEADLINE", last = w.last, cause = cause })
end

-- One poll: the resource's get; near the deadline its timeout is cut to
-- the time left (at least 1 s).
local function poll(w)
    local o = w.popts
    local left, timeout = w.deadline_at - now(), o.timeout or w.client._timeout
    if left < timeout then
        local cut = { timeout = min(timeout, max(left, 1)) }
        for k, v in pairs(o) do if k ~= "timeout" then cut[k] = v end end
        o = cut
    end
    return w.resource:get(w.id, o)
end

-- One gap: a timer a task awaits (`w.timer` meanwhile, which a watched
-- call.ended cuts short), else a pause of the loop.
local function sleep(w, seconds)
    local client = w.client
    local task = tasks.current(client)
    if not task then return loop.pause(client, seconds) end
    local timer = loop.timer(seconds)
    w.timer = timer
    tasks.await(client, task, timer)
    w.timer = nil
end

---------------------------------------------------------------------------
-- watched webhook events (client:watch): a call.ended ends a conversation's
-- wait without another poll

local WEAK_KEYS = { __mode = "k" }

-- The last call.ended events a client saw, by conversation id (a wait that
-- starts after its call's event ends at once); at most MAX_ENDED kept.
M.MAX_ENDED = 1000

-- The record a call.ended makes of the last one seen: its final status,
-- recording and transcript from the event (`record.event` holds the event).
local function ended_record(w, event)
    local record = {}
    for k, v in pairs(type(w.last) == "table" and w.last or { id = w.id }) do record[k] = v end
    local conversation = event.conversation or {}
    record.status = event.data.status
    if conversation.conversationRecording ~= nil then record.mediaUrl = conversation.conversationRecording end
    local job = {}
    for k, v in pairs(type(record.jobResponse) == "table" and record.jobResponse or {}) do job[k] = v end
    job.transcription = conversation.transcription or job.transcription
    job.outcomeResult = conversation.outcomeResult or job.outcomeResult
    record.jobResponse, record.event = job, event
    return record
end

-- Whether `event` tells a final status this waiter can end on.
local function ends(w, event)
    local data = type(event) == "table" and event.data
    return type(data) == "table" and w.final[data.status] == true
end

--- A webhook event reached a client that watches its receiver: a
-- call.ended with a final status ends the waits on that conversation (the
-- gap in progress is cut short; a poll in flight finishes first).
function M.notify(client, event)
    if type(event) ~= "table" or event.eventType ~= "call.ended" then return end
    local id = event.conversation and event.conversation.conversationId or event.callId
    if type(id) ~= "string" then return end
    local ended = client._ended
    if ended[id] == nil then
        if client._nended >= M.MAX_ENDED then          -- start over: a bound, not an LRU
            ended, client._nended = {}, 0
            client._ended = ended
        end
        client._nended = client._nended + 1
    end
    ended[id] = event
    for w in pairs(client._watching[id] or {}) do
        if ends(w, event) and not w.ended then
            w.ended = event
            if w.timer and not w.timer.done then loop.cancel(client, w.timer) end
        end
    end
end

-- Registers a conversation's waiter for watched events; returns the
-- event that already ended it, if one came before the wait started.
local function watch(w)
    if w.noun ~= "conversation" then return nil end
    local client = w.client
    local waiters = client._watching[w.id] or setmetatable({}, WEAK_KEYS)
    client._watching[w.id], waiters[w] = waiters, true
    local early = client._ended[w.id]
    if early and ends(w, early) then w.ended = early end
end

local function unwatch(w)
    local waiters = w.client._watching[w.id]
    if not waiters then return end
    waiters[w] = nil
    if next(waiters) == nil then w.client._watching[w.id] = nil end
end

-- on_done mode: on_status runs as a callback does (errors reported, not
-- raised into the wait; on Lua 5.1 a task's call made in it blocks).
local function report(w, record)
    local client, co = w.client, corunning()
    local calling = client._calling
    if not YIELD_THROUGH_PCALL then calling[co] = (calling[co] or 0) + 1 end
    local ok, e = pcall(w.on_status, record)
    if not YIELD_THROUGH_PCALL then calling[co] = calling[co] > 1 and calling[co] - 1 or nil end
    if not ok then          -- queued as a callback that raises it: on_error, or poll raises it
        client._pending = client._pending + 1
        loop.complete(client, { on_done = function() error(e, 0) end, request = w.handle, attempts = 0 })
    end
end

-- A record came: remember it, and tell on_status when its status changed.
local function seen(w, record)
    w.last = record
    local status = status_of(record)
    if w.seen and status == w.status then return end
    w.seen, w.status = true, status
    if not w.on_status then return end
    if w.handle then return report(w, record) end
    w.on_status(record)
end

-- The next gap (jittered), and the one after grows.
local function next_gap(w)
    local g = w.gap
    w.gap = min(g * M.GROWTH, w.max_gap)
    return g * (1 - M.JITTER * random())
end

-- Whether a failed poll is polled again: retryable, or a 404 early on.
local function again(w, err)
    if err.kind == "cancelled" then return false end
    return err.retryable or (err.kind == "not_found" and now() - w.started < M.NOT_VISIBLE)
end

-- The end a watched call.ended gives: the record, and as its response
-- `{ event = event }` (no poll was made for it).
local function ended_by_event(w)
    local record = ended_record(w, w.ended)
    seen(w, record)
    return record, { event = w.ended }
end

--- The wait: data, response | nil, err[, response]. Runs in the caller's
-- frame, a task, or the internal task of an on_done waiter.
local function wait_steps(w)
    while true do
        if w.ended then return ended_by_event(w) end
        local data, b, c = poll(w)
        if stopped(w) then return nil, cancelled(w) end
        local gap
        if data ~= nil then
            seen(w, data)
            if stopped(w) then return nil, cancelled(w) end
            if w.final[status_of(data)] then return data, b end
            gap = next_gap(w)
        elseif again(w, b) then
            local headers = b.headers or (b.response and b.response.headers)
            gap = max(next_gap(w), retry.retry_after(headers) or 0)
        else
            return nil, b, c
        end
        local left = w.deadline_at - now()
        if left <= 0 then return nil, deadline_err(w, data == nil and b or nil) end
        sleep(w, min(gap, left))
        if stopped(w) then return nil, cancelled(w) end
    end
end

-- (No pcall around the steps: a task's wait yields in them, which Lua 5.1
-- cannot do through a pcall. An error raised by on_status leaves the
-- waiter in a weak-keyed set, where the collector drops it.)
local function wait_loop(w)
    watch(w)
    local a, b, c = wait_steps(w)
    unwatch(w)
    return a, b, c
end

---------------------------------------------------------------------------
-- on_done mode

-- Queues the result for deliver: counted in pending until it runs.
local function settle(w, data, b, c)
    local client = w.client
    client._pending = client._pending + 1
    if data ~= nil then return loop.complete(client, w.call, data, nil, b) end
    loop.complete(client, w.call, nil, b, c)
end

local function start_async(w, on_done)
    local client = w.client
    local handle = setmetatable({ _client = client, _w = w }, Waiter)
    w.handle = handle
    w.call = { method = "WAIT", path = w.id, attempts = 0, on_done = on_done, request = handle }
    w.task = tasks.spawn(client, function() settle(w, wait_loop(w)) end, true)
    return handle
end

--- Stops the wait: its on_done runs from the next poll/wait with kind
-- "cancelled". Allowed anywhere, on_status included.
-- @treturn boolean whether it was still waiting
function Waiter:cancel()
    local w = self._w
    if w.call.done or w.cancelled or w.client._closed then return false end
    w.cancelled = true
    local call = w.task.call           -- the poll or gap it waits on: ended now
    if call and not call.done then loop.cancel(w.client, call) end
    return true
end

--- Whether the wait has its result (its on_done may not have run yet).
function Waiter:done()
    return self._w.call.done == true
end

function Waiter:__tostring()
    local w = self._w
    return format("hamsa.waiter (%s %s, %s)", w.noun, w.id, w.call.done and "done" or "waiting")
end

---------------------------------------------------------------------------
-- the method

-- Raises (at the caller of wait) on misuse.
local function check(where, id_name, id, opts)
    if type(id) ~= "string" then error(where .. ": " .. id_name .. " must be a string", 3) end
    config.check_options(opts, WAIT_OPTIONS, where, 3)
    if not opts then return end
    local d, i = opts.deadline, opts.interval
    if d ~= nil and (d ~= d or d < 0) then error(where .. ": deadline must be a number >= 0", 3) end
    if i ~= nil and not (i > 0 and i < huge) then error(where .. ": interval must be a finite number > 0", 3) end
end

local function new_waiter(resource, spec, id, opts)
    local popts, interval = {}, opts.interval or M.DEFAULT_INTERVAL
    for k, v in pairs(opts) do if not OWN[k] then popts[k] = v end end
    local started, deadline = now(), opts.deadline or M.DEFAULT_DEADLINE
    return {
        client = resource._client, resource = resource, id = id, popts = popts,
        final = spec.final, noun = spec.noun, on_status = opts.on_status,
        started = started, deadline = deadline, deadline_at = started + deadline,
        gap = interval, max_gap = max(M.MAX_INTERVAL, interval),
    }
end

-- The wait method of one resource.
local function method_of(name, spec, class)
    local where = name .. ":wait"
    return function(self, id, opts)
        if getmetatable(self) ~= class then error("use client." .. name .. ":wait(...) (with a colon)", 2) end
        check(where, spec.id, id, opts)
        local w = new_waiter(self, spec, id, opts or {})
        if opts and opts.on_done then return start_async(w, opts.on_done) end
        return wait_loop(w)
    end
end

--- Gives conversations, campaigns and knowledge_base (those of `classes`)
-- their `wait`.
function M.extend(classes)
    for name, spec in pairs(M.RESOURCES) do
        local class = classes[name]
        if class then class.wait = method_of(name, spec, class) end
    end
end

return M
