-- A seeded, model-based spec of the non-blocking API.
--
-- Each sequence is a random program, drawn from its own seed, that starts
-- requests (some to paths the mock answers with random faults), cancels
-- them, polls, waits, runs, closes, spawns tasks, makes blocking calls and
-- opens new clients; the same actions run from inside on_done callbacks,
-- on_error handlers and tasks (nesting bounded), and some callbacks yield
-- out of the poll that runs them, through a coroutine resumed later. A model
-- (plain tables) tracks every request and checks after each action:
--   * every on_done runs at most once, and exactly once by the end;
--   * lower <= pending() <= upper, where lower counts the model's requests
--     whose on_done has not run, upper adds the callbacks running now and
--     the tasks not finished (so pending() is never below 0);
--   * nothing raises except the documented re-raise: a marked error from
--     an on_done (client without on_error) or from a task, out of
--     poll/wait/run/close, or out of spawn for a task that fails at once;
--   * a client that was asked for client:pollfd() (half of them) has a
--     descriptor that is readable whenever callbacks are due (timeout() is
--     0), and, driven by socket.select on it alone ("select"), turns
--     readable no later than timeout() said work was due;
--   * a request cancelled while in flight, or started after close(), gets
--     err.kind == "cancelled"; close() at the top level runs every on_done
--     (unless a callback of that client is suspended).
-- Each sequence ends by driving every client to quiescence (bounded in
-- rounds and time: a stuck client is a failure, not a hang), then checks
-- that every on_done ran once, every task ended and pending() is 0.
--
-- Env: HAMSA_MODEL_SEED=n replays one seed (with HAMSA_MODEL_SEQUENCES=k:
-- seeds n..n+k-1); HAMSA_MODEL_SEQUENCES=k (default below); HAMSA_MODEL_BUDGET=s
-- (seconds after which no new sequence starts; default below);
-- HAMSA_MODEL_KEEP_GOING=1 runs every sequence and reports all failing seeds;
-- HAMSA_MODEL_TRACE=file appends every sequence's trace to that file.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local socket = require "socket"

local floor, min = math.floor, math.min
local format, rep, find = string.format, string.rep, string.find
local concat = table.concat
local cocreate, coresume, costatus, coyield, corunning =
    coroutine.create, coroutine.resume, coroutine.status, coroutine.yield, coroutine.running
local now = socket.gettime

local DEFAULT_SEQUENCES = 300
local DEFAULT_BASE_SEED = 1
local TIME_BUDGET = 45           -- seconds: no new sequence starts after this (HAMSA_MODEL_BUDGET)
local SEQUENCE_DEADLINE = 12     -- seconds: the watchdog stops a sequence after this
local SETTLE_SECONDS = 6         -- quiescence: at most this long ...
local SETTLE_ROUNDS = 600        -- ... and this many rounds
local MAX_DEPTH = 3              -- callbacks nested deeper than this do nothing
local MAX_ACTIONS = 140          -- per sequence, all levels
local MAX_REQUESTS = 50          -- per sequence, async and blocking
local MAX_CLIENTS = 5            -- per sequence
local CLIENT_TIMEOUT = 0.3

local MARK_CB = "MODEL-CALLBACK-ERROR"
local MARK_TASK = "MODEL-TASK-ERROR"

-- Whether a callback can yield through the pcall that runs it (5.2+, LuaJIT).
local CAN_YIELD = (function()
    local co = cocreate(function() return pcall(coyield, "y") end)
    local _, v = coresume(co)
    return v == "y"
end)()

---------------------------------------------------------------------------
-- A small deterministic PRNG (Park-Miller, 48271): the same numbers on Lua
-- 5.1-5.4 and LuaJIT (every product stays below 2^53), unlike math.random.

local MOD = 2147483647

local Rng = {}
Rng.__index = Rng

local function rng(seed)
    local r = setmetatable({ x = floor(seed) % (MOD - 1) + 1 }, Rng)
    r:next()
    r:next()
    return r
end

function Rng:next()
    self.x = self.x * 48271 % MOD
    return self.x
end

-- 1..n
function Rng:int(n)
    return floor((self:next() - 1) * n / (MOD - 1)) + 1
end

function Rng:chance(percent)
    return self:int(100) <= percent
end

function Rng:pick(list)
    return list[self:int(#list)]
end

-- `weights` is a list of { weight, name }
function Rng:weighted(weights)
    local total = 0
    for _, w in ipairs(weights) do total = total + w[1] end
    local x = self:int(total)
    for _, w in ipairs(weights) do
        x = x - w[1]
        if x <= 0 then return w[2] end
    end
end

---------------------------------------------------------------------------
-- the model

local TOP_ACTIONS = {
    { 16, "async" }, { 9, "async_fault" }, { 2, "async_invalid" },
    { 4, "blocking" }, { 2, "blocking_fault" },
    { 7, "cancel" }, { 9, "poll0" }, { 5, "poll" }, { 5, "wait" }, { 3, "run" }, { 5, "select" },
    { 3, "close" }, { 2, "new_client" }, { 5, "spawn" }, { 6, "fault" },
    { 4, "drive_co" }, { 5, "resume" },
}

local NESTED_ACTIONS = {
    { 12, "async" }, { 5, "async_fault" }, { 1, "async_invalid" },
    { 3, "blocking" }, { 1, "blocking_fault" },
    { 7, "cancel" }, { 7, "poll0" }, { 3, "poll" }, { 4, "wait" }, { 1, "wait_all" }, { 3, "run" },
    { 2, "select" }, { 4, "close" }, { 2, "new_client" }, { 3, "spawn" }, { 2, "drive_co" }, { 3, "resume" },
}

local TASK_END = {
    { 8, "none" }, { 3, "close" }, { 3, "wait" }, { 1, "wait_all" }, { 2, "poll0" }, { 2, "run" },
    { 2, "cancel" }, { 2, "async" },
}

local Model = {}
Model.__index = Model

function Model.new(seed, index, server, dead_url)
    local self = setmetatable({
        seed = seed, index = index, server = server, dead_url = dead_url,
        rng = rng(seed),
        trace = {}, violations = {},
        clients = {}, current = nil,
        reqs = {}, nreqs = 0, nblocking = 0,
        tasks = {}, ntasks = 0,
        drivers = {}, driver_list = {},
        active = 0, actions = 0,
        fault_prefix = "/v1/voice-agents/s" .. seed .. "x",
        deadline = now() + SEQUENCE_DEADLINE,
    }, Model)
    local last_fire = 0
    self.watchdog = function()
        local t = now()
        if t > self.deadline and t - last_fire > 0.5 then
            last_fire = t
            self.expired = true
            error("model watchdog: the sequence ran over " .. SEQUENCE_DEADLINE .. " s", 2)
        end
    end
    return self
end

function Model:arm()
    debug.sethook(self.watchdog, "", 10000)
end

function Model:log(ctx, fmt, ...)
    local line = rep("  ", self.active) .. ctx .. ": " .. format(fmt, ...)
    self.trace[#self.trace + 1] = line
end

function Model:violate(fmt, ...)
    local msg = format(fmt, ...)
    self.violations[#self.violations + 1] = msg
    self.trace[#self.trace + 1] = rep("  ", self.active) .. "!! " .. msg
end

local function text(v)
    local ok, s = pcall(tostring, v)
    return ok and s or "<tostring raised>"
end

-- Whether descriptor `fd` turns readable within `seconds` (socket.select).
local function fd_readable(fd, seconds)
    local watched = { getfd = function() return fd end, dirty = function() return false end }
    local r = socket.select({ watched }, nil, seconds)
    return #r > 0
end

local function marked(e)
    local s = text(e)
    return find(s, MARK_CB, 1, true) ~= nil, find(s, MARK_TASK, 1, true) ~= nil
end

-- The invariants that hold at every point.
function Model:check(where)
    for _, cl in ipairs(self.clients) do
        local ok, p = pcall(cl.c.pending, cl.c)
        if not ok then
            self:violate("%s: %s:pending() raised: %s", where, cl.name, text(p))
        elseif type(p) ~= "number" then
            self:violate("%s: %s:pending() returned %s", where, cl.name, text(p))
        else
            local lower = 0
            for _, rec in pairs(self.reqs) do
                if rec.cl == cl and rec.req and rec.calls == 0 then lower = lower + 1 end
            end
            local upper = lower + cl.running
            for _, t in pairs(self.tasks) do
                if t.cl == cl and not t.finished then upper = upper + 1 end
            end
            if p < 0 then
                self:violate("%s: %s:pending() = %d, below 0", where, cl.name, p)
            elseif p < lower then
                self:violate("%s: %s:pending() = %d, but %d requests with on_done have not had it run",
                    where, cl.name, p, lower)
            elseif p > upper then
                self:violate("%s: %s:pending() = %d, more than %d (on_done not run %d, running %d, tasks)",
                    where, cl.name, p, upper, lower, cl.running)
            end
        end
        -- callbacks due: the descriptor says so (a timerfd set to fire at
        -- once may take some microseconds: a short select, not a zero one)
        if cl.fd and not cl.closing and cl.c:timeout() == 0 and not fd_readable(cl.fd, 0.05) then
            self:violate("%s: %s:timeout() is 0 but its pollfd is not readable", where, cl.name)
        end
    end
end

-- An error out of a call on `cl`: the documented re-raise, or a violation.
function Model:raised(ctx, cl, what, e, from_spawn)
    local cb, task = marked(e)
    if task then
        self:log(ctx, "%s re-raised the task error (%s)", what, text(e))
    elseif cb and not cl.on_error and not from_spawn then
        self:log(ctx, "%s re-raised a callback error (%s)", what, text(e))
    else
        self:violate("%s: %s raised: %s", ctx, what, text(e))
    end
end

function Model:budget()
    return self.actions < MAX_ACTIONS and not self.quiescing and not self.expired
end

function Model:new_client(ctx, r)
    if #self.clients >= MAX_CLIENTS then return self.current end
    local idx = #self.clients + 1
    local cl = { index = idx, name = "c" .. idx, running = 0, closing = false, closed = false }
    local opts = {
        api_key = self.server.api_key, base_url = self.server.url,
        timeout = CLIENT_TIMEOUT, connect_timeout = CLIENT_TIMEOUT, max_retries = r:int(3) - 1,
    }
    local notes = { "max_retries=" .. opts.max_retries }
    if r:chance(35) then
        cl.on_error = true
        cl.err_rng = rng(r:next())
        opts.on_error = function(e, req) return self:on_error(cl, e, req) end
        notes[#notes + 1] = "on_error"
    end
    if r:chance(8) then
        opts.base_url = self.dead_url
        notes[#notes + 1] = "refused port"
    end
    cl.c = hamsa.new(opts)
    if r:chance(50) then
        cl.fd = cl.c:pollfd()
        if type(cl.fd) ~= "number" then self:violate("%s: pollfd() returned %s", ctx, text(cl.fd)) end
        notes[#notes + 1] = "pollfd"
    end
    self.clients[idx] = cl
    self.current = cl
    self:log(ctx, "new client %s (%s)", cl.name, concat(notes, ", "))
    return cl
end

-- The client an action works on: mostly `own` (or the current one).
function Model:client_for(r, own)
    own = own or self.current
    if #self.clients > 1 and r:chance(20) then return self.clients[r:int(#self.clients)] end
    return own
end

-- Issues one request of `kind`; `opts` nil makes it blocking.
function Model:send(cl, kind, n, opts)
    local c = cl.c
    if kind == "create" then
        return c.agents:create({ agentName = "m" .. n }, opts)
    elseif kind == "invalid" then
        return c.agents:create({ agentName = "" }, opts)
    elseif kind == "fault_patch" then
        return c.agents:update("s" .. self.seed .. "x" .. n, { lang = "en" }, opts)
    else
        return c:request("POST", self.fault_prefix .. n, { agentName = "p" .. n }, opts)
    end
end

local function request_kind(r, action)
    if action == "async_invalid" then return "invalid" end
    if action == "async_fault" or action == "blocking_fault" then
        return r:chance(50) and "fault_patch" or "fault_post"
    end
    return "create"
end

function Model:start_async(ctx, r, cl, kind)
    if self.nreqs + self.nblocking >= MAX_REQUESTS then return end
    self.nreqs = self.nreqs + 1
    local id = self.nreqs
    local rec = {
        id = id, name = "r" .. id, cl = cl, calls = 0, kind = kind, seed = r:next(),
        after_close = cl.closed, during_close = cl.closing,
    }
    rec.expect_cancel = rec.after_close
    self.reqs[id] = rec
    self:log(ctx, "%s: start %s %s async%s", cl.name, rec.name, kind, cl.closed and " (client closed)" or "")
    local ok, req = pcall(self.send, self, cl, kind, id, {
        on_done = function(data, err, response) return self:on_done(rec, data, err, response) end,
    })
    if not ok then
        self:violate("%s: starting %s raised: %s", ctx, rec.name, text(req))
    elseif type(req) ~= "table" or type(req.cancel) ~= "function" then
        self:violate("%s: starting %s returned %s, not a request handle", ctx, rec.name, text(req))
    else
        rec.req = req
    end
end

-- `in_task`: made by a task's body. On Lua 5.1 a task's call cannot yield
-- through a pcall (documented), so there the model calls it unprotected: a
-- raise then ends the task, and run() re-raises it as a task error.
local function call_unprotected(f, ...)
    return true, f(...)
end

function Model:blocking(ctx, r, cl, kind, in_task)
    if self.nreqs + self.nblocking >= MAX_REQUESTS then return end
    self.nblocking = self.nblocking + 1
    local name = "b" .. self.nblocking
    local closed = cl.closed
    self:log(ctx, "%s: %s %s blocking%s", cl.name, name, kind, closed and " (client closed)" or "")
    local protect = (in_task and not CAN_YIELD) and call_unprotected or pcall
    local ok, data, err = protect(self.send, self, cl, kind, name .. "-" .. r:int(1000), nil)
    if not ok then
        self:violate("%s: blocking %s raised: %s", ctx, name, text(data))
    elseif data == nil then
        if type(err) ~= "table" or type(err.kind) ~= "string" then
            self:violate("%s: blocking %s returned nil and %s", ctx, name, text(err))
        else
            self:log(ctx, "%s -> %s", name, err.kind)
            if closed and err.kind ~= "cancelled" then
                self:violate("%s: blocking %s on a closed client failed with %s, not cancelled", ctx, name, err.kind)
            end
        end
    else
        self:log(ctx, "%s -> ok", name)
        if closed then self:violate("%s: blocking %s on a closed client succeeded", ctx, name) end
    end
end

function Model:cancel(ctx, r)
    if self.nreqs == 0 then return end
    local rec = self.reqs[r:int(self.nreqs)]
    if not rec.req then return end
    local ok, res = pcall(rec.req.cancel, rec.req)
    if not ok then
        self:violate("%s: %s:cancel() raised: %s", ctx, rec.name, text(res))
        return
    end
    self:log(ctx, "%s:cancel() -> %s", rec.name, text(res))
    if type(res) ~= "boolean" then
        self:violate("%s: %s:cancel() returned %s, not a boolean", ctx, rec.name, text(res))
    elseif res then
        if rec.calls > 0 then
            self:violate("%s: %s:cancel() returned true after its on_done ran", ctx, rec.name)
        end
        rec.expect_cancel = true
    end
end

-- poll / wait / run / close on `cl`, with the documented re-raise allowed.
function Model:drive(ctx, r, cl, what, quiet)
    local c = cl.c
    local fn, arg, desc
    if what == "select" then
        if cl.fd and not cl.closing then return self:select(ctx, cl, quiet) end
        what = "poll"               -- a client without one: a poll that may wait
    end
    if what == "poll0" then
        fn, arg, desc = c.poll, 0, "poll(0)"
    elseif what == "poll" then
        arg = r:pick({ 0.005, 0.01, 0.02, 0.05 })
        fn, desc = c.poll, "poll(" .. arg .. ")"
    elseif what == "wait" then
        arg = r:pick({ 0, 0.02, 0.05, 0.1, 0.2 })
        fn, desc = c.wait, "wait(" .. arg .. ")"
    elseif what == "wait_all" then
        fn, desc = c.wait, "wait()"
    elseif what == "run" then
        arg = r:pick({ 0, 0.02, 0.05, 0.1, 0.2 })
        fn, desc = c.run, "run(" .. arg .. ")"
    else
        fn, desc = c.close, "close()"
    end
    desc = cl.name .. ":" .. desc
    if not quiet then self:log(ctx, "%s", desc) end
    local before = {}
    if what == "close" then
        -- the first close() owes an on_done to every request in flight; a
        -- request started after it waits for the next poll/wait
        if not cl.closing then
            for _, rec in pairs(self.reqs) do
                if rec.cl == cl and rec.req and rec.calls == 0 then before[#before + 1] = rec end
            end
        end
        cl.closing = true
    end
    local ok, res = pcall(fn, c, arg)
    if what == "close" then cl.closed = true end
    if not ok then
        self:raised(ctx, cl, desc, res)
    elseif what ~= "close" and (type(res) ~= "number" or res < 0) then
        self:violate("%s: %s returned %s", ctx, desc, text(res))
    elseif not quiet and what ~= "close" then
        self:log(ctx, "%s -> %s", desc, text(res))
    end
    -- docs/api.md: on close() the on_done of every request in flight runs at once
    -- (checked at the top, while no callback of this client is suspended)
    if what == "close" and ctx == "top" and self.active == 0 and cl.running == 0 then
        for _, rec in ipairs(before) do
            if rec.calls == 0 then
                self:violate("%s: %s returned, but the on_done of %s has not run", ctx, desc, rec.name)
            end
        end
    end
end

-- socket.select on the client's pollfd alone, then poll(0): the host loop
-- of docs/event-loops.md. When timeout() names a deadline within 0.3 s
-- (libcurl's timer, a backoff, callbacks due: the 1 s cap is no deadline),
-- the descriptor must turn readable by then (0.1 s of slack).
function Model:select(ctx, cl, quiet)
    local c = cl.c
    local ok, due = pcall(c.timeout, c)
    if not ok then return self:violate("%s: %s:timeout() raised: %s", ctx, cl.name, text(due)) end
    local pending = c:pending()
    local bounded = type(due) == "number" and due <= 0.3 and pending > 0
    local waited = bounded and due + 0.1 or 0
    local ready = fd_readable(cl.fd, waited)
    if not quiet then
        self:log(ctx, "%s: select(pollfd, %.3f) -> %s (timeout() %s)", cl.name, waited,
            ready and "readable" or "quiet", text(due))
    end
    if bounded and not ready then
        self:violate("%s: %s's pollfd stayed quiet %.3f s though timeout() was %.3f (pending %d)",
            ctx, cl.name, waited, due, pending)
    end
    local ok2, res = pcall(c.poll, c, 0)
    if not ok2 then
        self:raised(ctx, cl, cl.name .. ":poll(0) after select", res)
    elseif type(res) ~= "number" or res < 0 then
        self:violate("%s: %s:poll(0) after select returned %s", ctx, cl.name, text(res))
    end
end

-- Runs a drive call inside a coroutine, so that a callback may yield out of it.
function Model:drive_co(ctx, r, cl)
    local what = r:pick({ "poll0", "poll", "wait", "wait", "run", "close" })
    local d = { name = "d" .. (#self.driver_list + 1), cl = cl }
    local sub = rng(r:next())
    d.co = cocreate(function()
        self:arm()
        self:drive(d.name, sub, cl, what)
        self:log(d.name, "ends")
    end)
    self.drivers[d.co] = d
    self.driver_list[#self.driver_list + 1] = d
    self:log(ctx, "drive %s:%s in coroutine %s", cl.name, what, d.name)
    self:resume_driver(ctx, d)
end

function Model:resume_driver(ctx, d)
    local ok, e = coresume(d.co)
    if not ok then
        self:violate("%s: coroutine %s died: %s", ctx, d.name, text(e))
    elseif costatus(d.co) == "suspended" then
        self:log(ctx, "%s is suspended (a callback yielded)", d.name)
    end
end

function Model:resume_one(ctx, r)
    local list = {}
    for _, d in ipairs(self.driver_list) do
        if costatus(d.co) == "suspended" then list[#list + 1] = d end
    end
    if #list == 0 then return end
    local d = list[r:int(#list)]
    self:log(ctx, "resume %s", d.name)
    self:resume_driver(ctx, d)
end

function Model:spawn(ctx, r, cl)
    self.ntasks = self.ntasks + 1
    local t = { id = self.ntasks, name = "t" .. self.ntasks, cl = cl, finished = false, seed = r:next() }
    self.tasks[t.id] = t
    self:log(ctx, "%s:spawn %s", cl.name, t.name)
    local ok, task = pcall(cl.c.spawn, cl.c, function() return self:task_body(t) end)
    if not ok then
        self:raised(ctx, cl, cl.name .. ":spawn", task, true)
        t.task = false
    else
        t.task = task
    end
end

function Model:task_body(t)
    self:arm()
    local r = rng(t.seed)
    local n = r:int(3)
    for _ = 1, n do
        if self.expired then break end
        self.actions = self.actions + 1
        local pick = r:int(20)
        if pick <= 11 then
            self:blocking(t.name, r, t.cl, "create", true)
        elseif pick <= 16 then
            self:blocking(t.name, r, t.cl, request_kind(r, "blocking_fault"), true)
        elseif pick <= 18 then
            self:start_async(t.name, r, t.cl, "create")
        else
            self:blocking(t.name, r, t.cl, "invalid", true)
        end
        self:check(t.name)
    end
    local last = r:weighted(TASK_END)
    local raise = r:chance(10)
    if last ~= "none" and not self.expired then
        self.actions = self.actions + 1
        local cl = self:client_for(r, t.cl)
        if last == "cancel" then
            self:cancel(t.name, r)
        elseif last == "async" then
            self:start_async(t.name, r, cl, "create")
        else
            self:drive(t.name, r, cl, last)
        end
        self:check(t.name)
    end
    t.finished = true
    self:log(t.name, "ends%s", raise and " raising" or "")
    if raise then error(MARK_TASK .. " " .. t.name, 0) end
    return t.name
end

-- One action, at the top (ctx "top") or nested in a callback or task.
function Model:act(ctx, r, own, action)
    self.actions = self.actions + 1
    local cl = self:client_for(r, own)
    if action == "async" or action == "async_fault" or action == "async_invalid" then
        if cl.closed and r:chance(50) and not self.current.closed then cl = self.current end
        self:start_async(ctx, r, cl, request_kind(r, action))
    elseif action == "blocking" or action == "blocking_fault" then
        self:blocking(ctx, r, cl, request_kind(r, action))
    elseif action == "cancel" then
        self:cancel(ctx, r)
    elseif action == "spawn" then
        self:spawn(ctx, r, cl)
    elseif action == "new_client" then
        self:new_client(ctx, r)
    elseif action == "drive_co" then
        self:drive_co(ctx, r, cl)
    elseif action == "resume" then
        self:resume_one(ctx, r)
    elseif action == "fault" then
        self:fault(ctx, r)
    else
        self:drive(ctx, r, cl, action)
    end
    self:check(ctx)
end

local FAULTS = {
    function() return { status = 500 }, "500" end,
    function() return { status = 503 }, "503" end,
    function() return { status = 503, headers = { ["Retry-After"] = "0" } }, "503 Retry-After: 0" end,
    function() return { status = 429, headers = { ["Retry-After"] = "0" } }, "429 Retry-After: 0" end,
    function(r)
        local ms = r:pick({ "10", "30" })
        return { status = 429, headers = { ["Retry-After-Ms"] = ms } }, "429 Retry-After-Ms: " .. ms
    end,
    function(r)
        local d = r:pick({ 0.02, 0.05, 0.1, 0.2, 0.4 })
        return { delay = d }, "delay " .. d
    end,
    function() return { action = "reset" }, "reset" end,
    function() return { action = "close" }, "close" end,
    function() return { action = "close_mid_body" }, "close_mid_body" end,
    function() return { action = "reset_mid_body" }, "reset_mid_body" end,
    function() return { action = "hang" }, "hang" end,
    function() return { action = "drip", interval = 0.05 }, "drip" end,
}

function Model:fault(ctx, r)
    local spec, desc = FAULTS[r:int(#FAULTS)](r)
    spec.times = r:int(3)
    -- most faults hit this sequence's own fault paths; some hit every request
    spec.path = r:chance(75) and self.fault_prefix or "/v1/voice-agents"
    self:log(ctx, "fault %s x%d on %s", desc, spec.times, spec.path)
    self.server:fault(spec)
end

-- Up to `n` random nested actions, when the depth and the budget allow.
function Model:nested(ctx, r, own, n)
    for _ = 1, n do
        if not self:budget() or self.active > MAX_DEPTH then return end
        self:act(ctx, r, own, r:weighted(NESTED_ACTIONS))
    end
end

function Model:on_done(rec, data, err, response)
    rec.calls = rec.calls + 1
    local cl = rec.cl
    local ctx = rec.name
    if rec.calls > 1 then
        self:violate("on_done of %s ran %d times", rec.name, rec.calls)
        return
    end
    if err ~= nil then
        if type(err) ~= "table" or type(err.kind) ~= "string" then
            self:violate("on_done of %s got err = %s", rec.name, text(err))
        elseif data ~= nil then
            self:violate("on_done of %s got both data and err (%s)", rec.name, err.kind)
        elseif rec.expect_cancel and err.kind ~= "cancelled" then
            self:violate("on_done of %s got kind %s, expected cancelled%s", rec.name, err.kind,
                rec.after_close and " (started after close)" or " (cancel() returned true)")
        elseif rec.kind == "invalid" and not rec.during_close and err.kind ~= "invalid" and err.kind ~= "cancelled" then
            self:violate("on_done of %s (invalid body) got kind %s", rec.name, err.kind)
        end
    elseif data == nil then
        self:violate("on_done of %s got neither data nor err", rec.name)
    elseif rec.expect_cancel then
        self:violate("on_done of %s got data, expected kind cancelled", rec.name)
    elseif type(response) ~= "table" then
        self:violate("on_done of %s got data without a response", rec.name)
    end
    if self.dead then return end
    cl.running = cl.running + 1
    self.active = self.active + 1
    self:log(ctx, "on_done (%s)", err and (type(err) == "table" and text(err.kind) or text(err)) or "ok")
    local r = rng(rec.seed)
    local yield = CAN_YIELD and r:chance(30)
    local raise = r:chance(12)
    self:check(ctx)
    self:nested(ctx, r, cl, r:int(3) - 1)
    if yield and self.drivers[corunning()] then
        self:log(ctx, "yields out of %s", self.drivers[corunning()].name)
        local ok, e = pcall(coyield, "model-yield")
        if not ok then self:violate("%s: on_done could not yield: %s", ctx, text(e)) end
        self:log(ctx, "resumed")
        self:check(ctx)
        self:nested(ctx, r, cl, r:int(2) - 1)
    end
    cl.running = cl.running - 1
    self.active = self.active - 1
    self:check(ctx)
    if raise then
        self:log(ctx, "raises")
        error(MARK_CB .. " " .. rec.name, 0)
    end
end

function Model:on_error(cl, e)
    local cb, task = marked(e)
    if not cb and not task then
        self:violate("%s on_error got an error no callback raised: %s", cl.name, text(e))
    end
    if self.dead then return end
    cl.running = cl.running + 1
    self.active = self.active + 1
    local ctx = cl.name .. ".on_error"
    self:log(ctx, "got %s", text(e))
    local r = cl.err_rng
    self:check(ctx)
    self:nested(ctx, r, cl, r:int(2) - 1)
    if CAN_YIELD and self.drivers[corunning()] and r:chance(20) then
        self:log(ctx, "yields out of %s", self.drivers[corunning()].name)
        local ok, err = pcall(coyield, "model-yield")
        if not ok then self:violate("%s: on_error could not yield: %s", ctx, text(err)) end
        self:log(ctx, "resumed")
    end
    cl.running = cl.running - 1
    self.active = self.active - 1
    self:check(ctx)
end

-- Drives everything to rest; a client that never gets there is "stuck".
function Model:settle()
    self.quiescing = true
    local r = self.rng
    local how = r:pick({ "poll", "wait", "run", "select" })
    self:log("top", "settle with %s", how)
    local deadline = now() + SETTLE_SECONDS
    local rounds = 0
    while true do
        for _, d in ipairs(self.driver_list) do
            if costatus(d.co) == "suspended" then
                self:log("top", "resume %s", d.name)
                self:resume_driver("top", d)
                self:check("settle")
            end
        end
        if #self.violations > 0 then return end
        local busy = {}
        for _, cl in ipairs(self.clients) do
            local p = cl.c:pending()
            local tasks = 0
            for _, t in pairs(self.tasks) do
                if t.cl == cl and not t.finished then tasks = tasks + 1 end
            end
            if p ~= 0 or tasks > 0 then
                busy[#busy + 1] = format("%s pending=%s tasks=%d%s", cl.name, text(p), tasks,
                    cl.closed and " (closed)" or "")
                self:drive("top", r, cl, how, true)
                self:check("settle")
            end
        end
        if #self.violations > 0 then return end
        for _, d in ipairs(self.driver_list) do
            if costatus(d.co) == "suspended" then busy[#busy + 1] = d.name .. " suspended" end
        end
        if #busy == 0 then break end
        rounds = rounds + 1
        if rounds > SETTLE_ROUNDS or now() > deadline or self.expired then
            self:violate("stuck: after %d rounds of %s, %s", rounds, how, concat(busy, "; "))
            return
        end
    end
    self:log("top", "settled in %d rounds", rounds)
    for _, rec in pairs(self.reqs) do
        if rec.req and rec.calls ~= 1 then
            self:violate("on_done of %s (%s on %s) ran %d times", rec.name, rec.kind, rec.cl.name, rec.calls)
        end
    end
    for _, t in pairs(self.tasks) do
        if not t.finished then
            self:violate("task %s never finished", t.name)
        elseif t.task and not t.task.done then
            self:violate("task %s finished but task.done is %s", t.name, text(t.task.done))
        end
    end
    for _, cl in ipairs(self.clients) do
        self:drive("top", r, cl, "close")
        local p = cl.c:pending()
        if p ~= 0 then self:violate("%s:pending() = %s after the final close()", cl.name, text(p)) end
    end
    self:check("end")
end

-- Runs the whole sequence; returns nil or a failure report.
function Model:run()
    local r = self.rng
    self:arm()
    self.server:reset()
    self:new_client("top", r)
    local steps = 8 + r:int(20)
    for i = 1, steps do
        if #self.violations > 0 or self.expired then break end
        if self.current.closed and r:chance(70) then self:new_client("top", r) end
        self.step = i
        local action = r:weighted(TOP_ACTIONS)
        if action == "resume" and not CAN_YIELD then action = "poll0" end
        self:act("top", r, self.current, action)
    end
    if #self.violations == 0 and not self.expired then self:settle() end
end

-- Leaves nothing behind after a failed sequence: callbacks turn inert, clients close.
function Model:abandon()
    self.dead = true
    self.quiescing = true
    for _, cl in ipairs(self.clients) do pcall(cl.c.close, cl.c) end
end

function Model:report()
    local lines = {
        format("model: seed %d (sequence %d) failed; replay with HAMSA_MODEL_SEED=%d", self.seed, self.index, self.seed),
    }
    for i = 1, min(#self.violations, 6) do lines[#lines + 1] = "  " .. self.violations[i] end
    if #self.violations > 6 then lines[#lines + 1] = format("  ... and %d more", #self.violations - 6) end
    lines[#lines + 1] = "trace:"
    local trace = self.trace
    if #trace <= 400 then
        for _, l in ipairs(trace) do lines[#lines + 1] = "  " .. l end
    else
        for i = 1, 100 do lines[#lines + 1] = "  " .. trace[i] end
        lines[#lines + 1] = format("  ... %d lines ...", #trace - 400)
        for i = #trace - 299, #trace do lines[#lines + 1] = "  " .. trace[i] end
    end
    return concat(lines, "\n")
end

local function env_number(name)
    local v = os.getenv(name)
    if v == nil or v == "" then return nil end
    local n = tonumber(v)
    if not n or n ~= floor(n) or n < 0 then error(name .. " must be a whole number, got " .. v) end
    return n
end

describe("hamsa non-blocking API, model-based", function()
    local server, dead_url

    teardown(function()             -- registered first: runs before the mock stops
        debug.sethook()
    end)
    helpers.mock_suite({ setup, teardown }, { retry_delay = 0.01 }, function(s) server = s end)

    setup(function()
        dead_url = "http://127.0.0.1:" .. helpers.free_port()
    end)

    it("holds over seeded random sequences of requests, cancels, closes, polls, tasks and yields", function()
        local first = env_number("HAMSA_MODEL_SEED")
        local count = env_number("HAMSA_MODEL_SEQUENCES") or (first and 1 or DEFAULT_SEQUENCES)
        first = first or DEFAULT_BASE_SEED
        local keep_going = os.getenv("HAMSA_MODEL_KEEP_GOING") == "1"
        local trace_path = os.getenv("HAMSA_MODEL_TRACE")
        local trace_file = trace_path and trace_path ~= "" and assert(io.open(trace_path, "a"))
        local budget = env_number("HAMSA_MODEL_BUDGET") or TIME_BUDGET
        local started = now()
        local ran, steps, failures = 0, 0, {}
        for i = 1, count do
            if now() - started > budget then
                print(format("model: time budget of %d s used up after %d sequences", budget, ran))
                break
            end
            local seed = first + i - 1
            local m = Model.new(seed, i, server, dead_url)
            local ok, e = pcall(m.run, m)
            debug.sethook()
            if not ok then m:violate("the model itself raised: %s", text(e)) end
            if m.expired then m:violate("the sequence ran over %d s (watchdog)", SEQUENCE_DEADLINE) end
            ran = ran + 1
            steps = steps + m.actions
            if trace_file then
                trace_file:write(format("== seed %d: %d steps, %s\n", seed, m.actions,
                    #m.violations > 0 and "FAILED" or "ok"), concat(m.trace, "\n"), "\n")
            end
            if #m.violations > 0 then
                m:abandon()
                failures[#failures + 1] = m
                if not keep_going then break end
            end
        end
        if trace_file then trace_file:close() end
        local seeds = {}
        for j, f in ipairs(failures) do seeds[j] = f.seed end
        print(format("model: %d sequences, %d steps, seeds %d..%d, %.1f s, %d failed%s", ran, steps,
            first, first + ran - 1, now() - started, #failures,
            #seeds > 0 and " (seeds " .. concat(seeds, ", ") .. ")" or ""))
        if #failures > 0 then
            local msg = failures[1]:report()
            if #failures > 1 then
                local others = {}
                for j = 2, #failures do
                    others[#others + 1] = format("seed %d: %s", failures[j].seed, failures[j].violations[1])
                end
                msg = msg .. "\nother failing seeds:\n  " .. concat(others, "\n  ")
            end
            error(msg, 0)
        end
    end)
end)

---------------------------------------------------------------------------
-- One deterministic regression per known failure of the contract above.

describe("hamsa non-blocking API, re-entrant use", function()
    local server
    helpers.mock_suite({ setup, teardown }, { retry_delay = 0.01 }, function(s) server = s end)

    local function new_client()
        return hamsa.new({ api_key = server.api_key, base_url = server.url, timeout = 2 })
    end

    -- Polls until nothing is pending, at most `rounds` times and 5 s.
    local function drain(c, rounds)
        local deadline = now() + 5
        for _ = 1, rounds or 500 do
            if c:pending() == 0 then return true end
            if now() > deadline then break end
            c:poll(0.01)
        end
        return c:pending() == 0
    end

    it("close() inside an on_done: the outer wait returns, each on_done runs once", function()
        local c = new_client()
        local n1, n2 = 0, 0
        c.agents:create({ agentName = "a" }, { on_done = function() n1 = n1 + 1; c:close() end })
        c.agents:create({ agentName = "b" }, { on_done = function() n2 = n2 + 1 end })
        local ok, err = pcall(c.wait, c, 5)
        assert.is_true(ok, "wait raised: " .. text(err))
        assert.equal(1, n1)
        assert.equal(1, n2)
        assert.equal(0, c:pending())
    end)

    it("poll(0) inside an on_done: the outer wait returns, each on_done runs once", function()
        local c = new_client()
        local n1, n2 = 0, 0
        c.agents:create({ agentName = "a" }, { on_done = function() n1 = n1 + 1; c:poll(0) end })
        c.agents:create({ agentName = "b" }, { on_done = function() n2 = n2 + 1 end })
        local ok, err = pcall(c.wait, c, 5)
        assert.is_true(ok, "wait raised: " .. text(err))
        assert.equal(1, n1)
        assert.equal(1, n2)
        assert.equal(0, c:pending())
        c:close()
    end)

    it("a task that ends with close(): run returns normally", function()
        local c = new_client()
        local task = c:spawn(function()
            assert(c.agents:create({ agentName = "a" }))
            c:close()
            return "closed"
        end)
        local ok, err = pcall(c.run, c, 5)
        assert.is_true(ok, "run raised: " .. text(err))
        assert.is_true(task.done)
        assert.equal("closed", task.results[1])
        assert.equal(0, c:pending())
    end)

    it("a task that ends with wait(): run returns normally", function()
        local c = new_client()
        local task = c:spawn(function()
            assert(c.agents:create({ agentName = "a" }))
            c:wait(1)
            return "waited"
        end)
        local ok, err = pcall(c.run, c, 5)
        assert.is_true(ok, "run raised: " .. text(err))
        assert.is_true(task.done)
        assert.equal("waited", task.results[1])
        assert.equal(0, c:pending())
        c:close()
    end)

    it("an on_done that yields out of wait and is resumed later: pending() never goes below 0", function()
        if not CAN_YIELD then return end
        local c = new_client()
        local n1, n2 = 0, 0
        c.agents:create({ agentName = "a" }, { on_done = function() n1 = n1 + 1; coyield("out") end })
        c.agents:create({ agentName = "b" }, { on_done = function() n2 = n2 + 1 end })
        local co = cocreate(function() return c:wait(5) end)
        local ok, v = coresume(co)
        assert.is_true(ok)
        assert.equal("out", v)                         -- the first on_done yielded
        assert.is_true(c:pending() >= 0)
        local wok, werr = pcall(c.wait, c, 5)          -- the host goes on meanwhile
        assert.is_true(wok, "wait raised: " .. text(werr))
        assert.is_true(c:pending() >= 0)
        local rok, rerr = coresume(co)                 -- the callback returns, its wait goes on
        assert.is_true(c:pending() >= 0, "pending() = " .. c:pending() .. " after the resume")
        assert.is_true(rok, "the resumed wait raised: " .. text(rerr))
        assert.equal("dead", costatus(co))
        assert.equal(1, n1)
        assert.equal(1, n2)
        assert.equal(0, c:pending())
        c:close()
    end)

    it("an on_done that closes the client and starts another request: wait returns normally", function()
        local c = new_client()
        local n, late = 0, {}
        c.agents:create({ agentName = "a" }, { on_done = function()
            n = n + 1
            c:close()
            c.agents:create({ agentName = "late" }, { on_done = function(_, err) late[#late + 1] = err end })
        end })
        local ok, err = pcall(c.wait, c, 5)
        assert.is_true(ok, "wait raised: " .. text(err))
        assert.is_true(drain(c), "pending() stuck at " .. c:pending())
        assert.equal(1, n)
        assert.equal(1, #late)
        assert.equal("cancelled", late[1].kind)
    end)
    -- a request made after close(), driven by poll or wait: spec/49-hardening_spec.lua
end)
