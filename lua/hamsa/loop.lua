--- The loop: every transfer of a client, blocking or not, moves here, on
-- its one libcurl multi handle. It starts attempts, turns finished
-- transfers into results (hamsa.response), asks hamsa.retry whether to try
-- again and keeps the backoff timers, completes calls, and runs their
-- on_done from a ready queue (docs/client.md, "Delivery"). It never
-- sleeps the host: backoff is a timer the loop's wait respects.
--
-- A timer (M.timer: the gaps of hamsa.waiter) is a call record with no
-- url and no transfer: `start` puts it in `_timers` with its `next_at`,
-- and when it is due `step` completes it (data `true`) instead of starting
-- an attempt, so its on_done runs from `deliver` like every callback;
-- `cancel` and `close` end it with kind "cancelled" like any call.
--
-- The call record (made by hamsa.request) has these fields:
--
--   method, path       for messages and logs (method also for the engine)
--   url, headers, header, body, timeout, connect_timeout, ca_file, proxy,
--   max_body, verbose, low_speed_limit, low_speed_time, no_resend
--                      what core.multi:add reads: the record is its spec
--   attempts           attempts started so far
--   max_retries        the request's retry budget
--   idempotency_key    the Idempotency-Key sent with every attempt, if any
--   on_done            the callback (async calls and tasks), or nil
--   request            its hamsa.request handle (async calls)
--   transfer           the core transfer in flight, or nil
--   next_at            when the next attempt starts (while in _timers)
--   sleep              a timer's length in seconds (a timer has no spec)
--   done               true once its result is final
--   data, err, response  the result, once done
-- @module hamsa.loop
local errors = require "hamsa.errors"
local retry = require "hamsa.retry"
local config = require "hamsa.config"
local now = require("hamsa.core").now

local pairs, next, pcall, error, tostring = pairs, next, pcall, error, tostring
local format, gmatch = string.format, string.gmatch
local corunning = coroutine.running
local map_result = require("hamsa.response").map
local secret = config.secret

local M = {}

-- Whether a coroutine can yield through pcall: 5.2+ and LuaJIT, not 5.1.
-- (Known from the version, not probed: inside nginx a probe's yield at load
-- time would cross `require`.)
M.YIELD_THROUGH_PCALL = _VERSION ~= "Lua 5.1" or type(jit) == "table"   -- luacheck: ignore jit
local YIELD_THROUGH_PCALL = M.YIELD_THROUGH_PCALL

local function log(self, level, fmt, ...)
    local logger = self._log
    if logger then
        local msg = errors.redact(format(fmt, ...), secret(self))
        pcall(logger, level, msg)
    end
end

-- The ready queue: calls whose on_done is due, in completion order. Its
-- state lives in the client (head, tail), never in a caller's locals, so
-- that a callback may poll, wait, close or complete more calls (re-entry),
-- or yield out of poll and be resumed later, and the queue stays whole.
local function enqueue(self, call)
    local tail = self._rtail + 1
    self._rtail = tail
    self._ready[tail] = call
    -- due now: the pollfd turns readable, an idle adapter starts (a call
    -- cancelled or refused outside any poll ends here too)
    if self._pollable and not self._closed then self._multi:arm(0) end
    if self._on_wake then self._on_wake(self) end
end

-- Ends a call: its result is final, and its on_done is queued. A call
-- already done is left as it is (a logger may cancel a call while its
-- transfer is being finished), so each call is queued at most once.
local function complete(self, call, data, err, response)
    if call.done then return end
    call.done = true
    call.data, call.err, call.response = data, err, response
    if call.on_done then enqueue(self, call) end
end

-- Work arrived: a host event loop's adapter (hamsa.adapter.*) that set
-- `_on_wake` starts driving the client if it was idle. A new transfer
-- makes the pollfd readable by itself (libcurl's timer fires at once).
local function wake(self)
    local on_wake = self._on_wake
    if on_wake then on_wake(self) end
end

local function start_attempt(self, call)
    call.attempts = call.attempts + 1
    call.next_at = nil
    local t = self._multi:add(call)
    self._inflight[t] = call
    call.transfer = t
    if self._log then log(self, "debug", "%s %s: attempt %d", call.method, call.path, call.attempts) end
    if self._on_wake then wake(self) end
end

-- libcurl's verbose lines of a finished transfer, to the logger.
local function log_trace(self, call, t)
    local text = t:trace()
    if not text then return end
    for line in gmatch(text, "[^\r\n]+") do log(self, "trace", "%s %s: %s", call.method, call.path, line) end
end

-- Schedules the next attempt of `call` after `delay` seconds.
local function retry_later(self, call, err, delay)
    if self._log then
        log(self, "debug", "%s %s: %s; retrying in %.2f s", call.method, call.path, tostring(err), delay)
    end
    if call.done or self._closed then return end       -- the logger cancelled or closed
    call.next_at = now() + delay
    self._timers[call] = true
end

-- Ends `call` with `err`, its key-bearing parts redacted.
local function give_up(self, call, err, response, key)
    if self._log then log(self, "debug", "%s %s: %s", call.method, call.path, tostring(err)) end
    errors.scrub(err, key)
    response.body = errors.redact(response.body, key)
    err.response = response
    complete(self, call, nil, err, response)
end

-- A transfer libcurl finished: map its result, then complete the call,
-- or schedule its retry.
local function finish_transfer(self, t)
    local call = self._inflight[t]
    self._inflight[t] = nil
    if not call or call.done then t:close() return end
    call.transfer = nil
    local r = t:result()
    if self._trace and self._log then log_trace(self, call, t) end
    t:close()
    local data, err = map_result(call, r)
    local key = secret(self)
    local response = {
        status = r.status, headers = r.headers, body = r.body, attempts = call.attempts,
        idempotency_key = call.idempotency_key, elapsed = r.elapsed, new_connections = r.connects,
    }
    if not err then
        if key then response.body = errors.redact(r.body, key) end
        if self._log then
            log(self, "debug", "%s %s: %d in %.1f ms", call.method, call.path, r.status, r.elapsed * 1000)
        end
        return complete(self, call, data, nil, response)
    end
    err.attempts = call.attempts
    -- whether any byte of the last attempt left this host: a POST that was
    -- not sent cannot have acted (earlier attempts were retried only when
    -- they had not acted either: hamsa.retry)
    err.sent = r.sent and true or false
    local delay = retry.decide(err, call.method, r.sent, call.attempts - 1, call.max_retries)
    if delay and not self._closed then return retry_later(self, call, err, delay) end
    give_up(self, call, err, response, key)
end

local arm

-- One turn: let libcurl move bytes, take the finished transfers, and start
-- the attempts whose backoff has run out. A logger may close the client
-- meanwhile: every turn of the loop looks again.
local function step(self)
    if self._closed then return end
    local m = self._multi
    m:perform()
    while not self._closed do
        local t = m:next_done()
        if not t then break end
        finish_transfer(self, t)
    end
    if next(self._timers) and not self._closed then
        local at, due = now(), nil
        for call in pairs(self._timers) do
            if call.next_at <= at then
                due = due or {}
                due[#due + 1] = call
            end
        end
        for i = 1, due and #due or 0 do
            local call = due[i]
            if self._closed then break end
            if self._timers[call] then
                self._timers[call] = nil
                if call.sleep then complete(self, call, true) else start_attempt(self, call) end
            end
        end
    end
    if self._pollable and not self._closed then arm(self) end
end

-- How long the loop may sleep: up to `cap`, less when a backoff ends sooner.
local function next_wait(self, cap)
    if next(self._timers) then
        local at = now()
        for call in pairs(self._timers) do
            local d = call.next_at - at
            if d < cap then cap = d end
        end
        if cap < 0 then cap = 0 end
    end
    return cap
end

-- Once client:pollfd() was asked for (`_pollable`), its descriptor must
-- also turn readable when work of the Lua side is due: callbacks waiting
-- in the ready queue (at once), the next backoff or waiter gap. libcurl's
-- own timer arms it from C; this sets the host's part (core m:arm).
function arm(self)
    if self._rhead <= self._rtail then return self._multi:arm(0) end
    if next(self._timers) then return self._multi:arm(next_wait(self, 86400)) end
    self._multi:arm(nil)
end

-- Runs the callbacks that are due, each once, under pcall. An error in one
-- does not stop the others; it goes to opts.on_error when the client has
-- one, otherwise the first is raised again once all have run. Each call is
-- queued once (complete) and taken off the queue, and counted, before its
-- callback runs, so a nested deliver (a callback that polls) or a callback
-- that yields and is resumed much later can neither run it twice nor count
-- it twice.
local function deliver(self)
    local first_err
    while self._rhead <= self._rtail do
        local head, ready = self._rhead, self._ready
        local call = ready[head]
        ready[head] = nil
        if head == self._rtail then
            self._rhead, self._rtail = 1, 0        -- empty: start from 1 again
        else
            self._rhead = head + 1
        end
        self._pending = self._pending - 1
        local ok, e
        if YIELD_THROUGH_PCALL then
            ok, e = pcall(call.on_done, call.data, call.err, call.response)
        else
            -- Lua 5.1: a task's call made in this callback cannot yield
            -- through the pcall, so tasks.current makes it a plain blocking one
            local co = corunning() or self
            local calling = self._calling
            calling[co] = (calling[co] or 0) + 1
            ok, e = pcall(call.on_done, call.data, call.err, call.response)
            calling[co] = calling[co] > 1 and calling[co] - 1 or nil
        end
        if not ok then
            if self._on_error then
                pcall(self._on_error, e, call.request)
            elseif first_err == nil then
                first_err = e
            end
        end
    end
    if first_err ~= nil then error(first_err, 0) end
end

-- Drives the loop until `call` completes; async calls that finish
-- meanwhile wait for the next poll.
local function run(self, call)
    while not call.done and not self._closed do
        step(self)
        if not call.done and not self._closed then self._multi:wait(next_wait(self, 1)) end
    end
    if not call.done then      -- closed under it (by a logger): close cancelled it
        complete(self, call, nil, errors.new("cancelled", call.method .. " " .. call.path .. " was cancelled"))
    end
    if call.err then return nil, call.err, call.response end
    return call.data, call.response
end

local function cancel(self, call)
    if call.done then return false end
    local t = call.transfer
    if t then
        t:cancel()
        self._inflight[t] = nil
        t:close()
        call.transfer = nil
    end
    self._timers[call] = nil
    complete(self, call, nil, errors.new("cancelled", call.method .. " " .. call.path .. " was cancelled",
        { attempts = call.attempts }))
    return true
end

--- A timer of `seconds`: a call record that `start` arms and `step`
-- completes when it is due (with data `true`), with no transfer.
local function timer(seconds)
    return { method = "timer", path = format("%.3f s", seconds), attempts = 0, sleep = seconds }
end

--- Starts a call: its first attempt, or, for a timer, its countdown.
local function start(self, call)
    if not call.sleep then return start_attempt(self, call) end
    call.next_at = now() + call.sleep
    self._timers[call] = true
    if self._pollable and not self._closed then arm(self) end
    if self._on_wake then wake(self) end
end

--- Blocks for `seconds` while driving the loop: other transfers move and
-- their retries start, but no callback runs (like any blocking call).
-- @return true, or nil and a "cancelled" error when the client was closed meanwhile
local function pause(self, seconds)
    local t = timer(seconds)
    if self._closed then return nil, errors.new("cancelled", "the client is closed") end
    start(self, t)
    return run(self, t)
end

--- Fails a call before sending: returned, or (with on_done) queued for
-- the next poll like any finished request. `make_handle(call)` gives the
-- request handle.
function M.fail(self, err, on_done, make_handle)
    return M.settle(self, nil, err, nil, on_done, make_handle)
end

--- Ends a request that never reached the network (refused, or a dry run):
-- returns `data, err_or_response` at once, or, with `on_done`, a handle
-- whose callback the next poll runs.
function M.settle(self, data, err, response, on_done, make_handle)
    if not on_done then
        if data == nil then return nil, err end
        return data, response
    end
    local call = { done = true, data = data, err = err, response = response, on_done = on_done, attempts = 0 }
    local req = make_handle(call)
    call.request = req
    self._pending = self._pending + 1
    enqueue(self, call)
    return req
end

M.log, M.complete, M.start_attempt, M.step, M.next_wait = log, complete, start_attempt, step, next_wait
M.deliver, M.run, M.cancel = deliver, run, cancel
M.timer, M.start, M.pause, M.arm = timer, start, pause, arm

return M
