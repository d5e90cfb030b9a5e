--- The client: the public Client and Request API. The work behind it is
-- one module per concern:
--
--   hamsa.config    options, their checks, key, base URL, shared headers
--   hamsa.request   request building: validate → prepare → encode → headers → call record
--   hamsa.loop      attempts, retries, timers, the ready queue, delivery
--   hamsa.response  one finished attempt → data or an error value
--   hamsa.tasks     client:spawn's coroutines
--
-- One request ("call") goes: checks → build → attempt → result mapping →
-- retry decision → completion. Blocking calls drive the loop until their
-- own call completes; calls with `opts.on_done` complete in the loop and
-- their callbacks run from `poll`/`wait`. docs/client.md explains the
-- delivery rules; docs/wire.md the API decisions.
--
-- A client comes from `hamsa.new`; its resources (`client.agents`, ...)
-- are in `hamsa.resources`. Here: the `Client` methods (the escape hatch
-- `client:request`, the non-blocking loop, tasks) and the `Request`
-- handle that a call with `opts.on_done` returns.
-- @module hamsa.client
local core = require "hamsa.core"
local errors = require "hamsa.errors"
local url = require "hamsa.url"
local config = require "hamsa.config"
local request = require "hamsa.request"
local loop = require "hamsa.loop"
local tasks = require "hamsa.tasks"
local waiter = require "hamsa.waiter"

local type, pairs, ipairs, error, setmetatable, getmetatable = type, pairs, ipairs, error, setmetatable, getmetatable
local min = math.min
local format, match = string.format, string.match

local now = core.now
local check_options, bad_wait = config.check_options, config.bad_wait
local CLIENT_OPTIONS, REQUEST_OPTIONS = config.CLIENT_OPTIONS, config.REQUEST_OPTIONS
local step, deliver, next_wait, cancel, arm = loop.step, loop.deliver, loop.next_wait, loop.cancel, loop.arm

local M = {}

-- what other modules and specs read from here
M.DEFAULT_BASE_URL, M.DEFAULTS, M.BOUNDS = config.DEFAULT_BASE_URL, config.DEFAULTS, config.BOUNDS
M.REQUEST_OPTIONS, M.check_options = REQUEST_OPTIONS, check_options
M.Task = tasks.Task

local EMPTY = setmetatable({}, { __newindex = function() error("read-only", 2) end })

local Client = {}
Client.__index = Client
Client.__name = "hamsa.client"
M.Client = Client

local Request = {}
Request.__index = Request
Request.__name = "hamsa.request"
M.Request = Request

--- Makes a client (`hamsa.new` calls it). Raises only on a malformed
-- options table.
-- @tparam[opt] table opts see README, "Options"
-- @tparam[opt=2] number level where misuse errors point (2: the caller of new)
-- @treturn Client
-- @local
function M.new(opts, level)
    level = level or 2
    check_options(opts, CLIENT_OPTIONS, "hamsa.new", level)
    local self = setmetatable({
        _inflight = {},          -- transfer -> call
        _timers = {},            -- calls waiting for their next attempt
        _ready = {},             -- async calls whose on_done is due (hamsa.loop)
        _rhead = 1,              -- its first and last index; empty when _rhead > _rtail
        _rtail = 0,
        _pending = 0,            -- async calls whose on_done has not run yet
        _tasks = {},             -- coroutine -> Task, for client:spawn
        _calling = {},           -- Lua 5.1: coroutine -> depth of deliver callbacks in it
        _watching = {},          -- conversation id -> its waiters, for watched webhooks (hamsa.waiter)
        _ended = {},             -- conversation id -> the call.ended a watched receiver got
        _nended = 0,             -- its size (hamsa.waiter.MAX_ENDED at most)
        _ntasks = 0,
        _closed = false,
    }, Client)
    self._multi = core.multi(config.configure(self, opts or EMPTY, level))
    return self
end

function Client:__tostring()
    return format("hamsa.client (%s, %d pending%s)", self._base_url, self._pending,
        self._closed and ", closed" or "")
end

local function handle(self)
    return function(call) return setmetatable({ _client = self, _call = call }, Request) end
end

--- Fails a request before sending: returns `nil, err`, or with
-- `opts.on_done` a handle whose callback the next poll runs.
-- @local
function M.fail(self, err, opts)
    local on_done = opts and opts.on_done
    return loop.fail(self, err, on_done, on_done and handle(self))
end

--- Sends one request: build (hamsa.request), then run it blocking, as a
-- task's call, or in the background (`opts.on_done`). Resources call it
-- with their validator and preparer; `opts` was checked; `query` is the
-- built query string (url.query), or nil.
-- @treturn[1] any data, response (blocking)
-- @treturn[2] Request (with opts.on_done)
-- @local
function M.send(self, method, path, query, body, opts, validator, prepare)
    opts = opts or EMPTY
    if self._closed then return M.fail(self, errors.new("cancelled", "the client is closed"), opts) end
    if self._config_err then return M.fail(self, errors.new("config", self._config_err), opts) end
    local call, err = request.build(self, method, path, query, body, opts, validator, prepare)
    if not call then return M.fail(self, err, opts) end
    if opts.dry_run then
        local on_done = opts.on_done
        return loop.settle(self, M.preview(self, call), nil, { dry_run = true, attempts = 0, headers = {} },
            on_done, on_done and handle(self))
    end
    if not call.on_done then
        local task = tasks.current(self)
        if task then return tasks.await(self, task, call) end
        loop.start_attempt(self, call)
        return loop.run(self, call)
    end
    loop.start_attempt(self, call)
    self._pending = self._pending + 1
    local req = setmetatable({ _client = self, _call = call }, Request)
    call.request = req
    return req
end
local send = M.send

--- What a request would send, for `opts.dry_run`: `{ method, url,
-- headers, body }`, the header lines in the order they would go out
-- (the key shown as `[REDACTED]`), `body` the exact JSON text or nil.
-- @local
function M.preview(self, call)
    local spec, lines = call, {}           -- the call record is the engine's spec
    if config.secret(self) ~= nil then lines[1] = "Authorization: Token [REDACTED]" end
    for _, line in ipairs(spec.headers) do lines[#lines + 1] = line end
    if spec.header then lines[#lines + 1] = spec.header end
    return { method = spec.method, url = spec.url, headers = lines, body = spec.body }
end

--- A client, made by `hamsa.new`. Besides the methods below it holds the
-- resources (`client.agents`, `client.v2.agents`, `client.calls`,
-- `client.conversations`, `client.phone_numbers`, `client.campaigns`,
-- `client.knowledge_base`: see `hamsa.resources`). One client drives all
-- its requests on one libcurl multi handle, whichever style is used:
-- blocking calls, `on_done` callbacks with `poll`, or tasks (`spawn`).
-- `client:close()` (also `__close` and `__gc`) releases it.
-- @type Client

--- The escape hatch for routes the library does not wrap yet: same
-- authentication, encoding, error mapping, retries and results; no validation.
-- @tparam string method "GET", "POST", "PATCH", ...
-- @tparam string path like "/v1/voice-agents" (no query string: use `opts.query`)
-- @tparam[opt] table body the JSON body, in the API's field names
-- @tparam[opt] table opts the request options (README, "Options"), plus
--   `query`, a table of query parameters
-- @return[1] data: the envelope's `data`, as Lua values
-- @treturn[1] table response: `status`, `headers` (lower-case names), `body`, `attempts`
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err
-- @treturn[3] Request a handle, at once, when `opts.on_done` is given
-- @raise on a method or path of the wrong form, or an unknown option
-- @usage local data, err = client:request("GET", "/v1/voice-agents", nil,
--     { query = { skip = 1, take = 10 } })
-- if not data then error(tostring(err)) end
function Client:request(method, path, body, opts)
    if getmetatable(self) ~= Client then error("use client:request(...)", 2) end
    if type(method) ~= "string" or not match(method, "^%u+$") then
        error("client:request: method must be an upper-case string such as \"GET\"", 2)
    end
    if type(path) ~= "string" or not match(path, "^/[^%s?#%z]*$") then
        error("client:request: path must be a string starting with \"/\", without spaces, NUL, ? or #"
            .. " (put query parameters in opts.query)", 2)
    end
    if body ~= nil and type(body) ~= "table" then error("client:request: body must be a table", 2) end
    check_options(opts, REQUEST_OPTIONS, "client:request", 2)
    local query
    if opts and opts.query then
        local msg
        query, msg = url.query(opts.query)
        if not query then error("client:request: " .. msg, 2) end
    end
    return send(self, method, path, query, body, opts)
end

-- -------------------------------------------------------------------------
-- non-blocking use

--- Drives transfers and runs the callbacks of finished requests: once per
-- frame of a game loop, or when a socket of `client:sockets()` is ready.
-- @tparam[opt=0] number max_wait seconds it may wait for activity
-- @treturn number requests whose on_done has not run yet
-- @raise what an `on_done` raised, unless the client has an `on_error`
-- @usage client.agents:get(id, { on_done = function(agent, err) print(agent and agent.agentName or err) end })
-- while client:poll(0.05) > 0 do draw_frame() end
function Client:poll(max_wait)
    max_wait = max_wait or 0
    if bad_wait(max_wait) then
        error("client:poll: max_wait must be a number >= 0", 2)
    end
    -- a closed client still delivers: requests made after close() get
    -- their on_done ("cancelled") here
    if not self._closed then
        step(self)
        if self._rhead > self._rtail and max_wait > 0 and self._pending > 0 and not self._closed then
            self._multi:wait(next_wait(self, max_wait))
            step(self)
        end
    end
    deliver(self)
    if self._pollable and not self._closed then arm(self) end
    return self._pending
end

-- -------------------------------------------------------------------------
-- tasks

--- Runs `fn(...)` as a task of this client: inside it, the usual calls
-- (`client.agents:create(...)`, ...) read as blocking but yield to the
-- client's loop, so several tasks written sequentially run concurrently.
-- The task starts at once and runs until its first request; `client:run()`
-- drives them all. (On Lua 5.1, not LuaJIT, a task cannot make its calls
-- from inside a pcall.)
-- @tparam function fn the task's body
-- @param ... the arguments passed to `fn`
-- @return Task with `done`, `results` (a packed list) and `error`
-- @usage for _, id in ipairs(ids) do
--     client:spawn(function() local a = assert(client.agents:get(id)); print(a.agentName) end)
-- end
-- client:run()
function Client:spawn(fn, ...)
    if type(fn) ~= "function" then error("client:spawn: fn must be a function", 2) end
    return tasks.spawn(self, fn, false, ...)
end

--- Drives the loop until every task (and every on_done request) is done,
-- or `timeout` passes. An error raised in a task comes out of here.
-- An on_done waiter (hamsa.waiter) is driven like an on_done request and
-- is not a task: the count returned leaves it out.
-- @tparam[opt] number timeout seconds (default: no limit)
-- @treturn number tasks still running (the caller's own)
-- @usage local task = client:spawn(function() return client.agents:list() end)
-- client:run(60)
-- print(task.done, task.results[1])
function Client:run(timeout)
    if timeout ~= nil and bad_wait(timeout) then
        error("client:run: timeout must be a number >= 0", 2)
    end
    self:wait(timeout)
    return self._ntasks
end

--- Drives transfers until no request is in flight (or `timeout` passes).
-- @tparam[opt] number timeout seconds (default: no limit)
-- @treturn number requests still in flight (0 when all are done)
-- @usage for _, body in ipairs(calls) do client.calls:start(body, { on_done = report }) end
-- client:wait(120)
function Client:wait(timeout)
    if timeout ~= nil and bad_wait(timeout) then
        error("client:wait: timeout must be a number >= 0", 2)
    end
    local deadline = timeout and now() + timeout
    while true do
        step(self)
        deliver(self)
        -- closed: close() and deliver ran every callback, none can be left
        if self._pending == 0 or self._closed then break end
        local cap = 1
        if deadline then
            local left = deadline - now()
            if left <= 0 then break end
            cap = min(cap, left)
        end
        self._multi:wait(next_wait(self, cap))
    end
    if self._pollable and not self._closed then arm(self) end
    return self._pending
end

--- Lets the webhook events a receiver accepts reach this client's waits:
-- a `call.ended` with a final status ends `conversations:wait` on that call
-- without another poll (the gap in progress is cut short), and a wait that
-- starts after its call's event ends at once. Waits with `on_done` and in
-- tasks see it as soon as the receiver runs (`srv:step()` in the same
-- loop); a blocking wait sees it at its next gap's end.
-- @param receiver a `hamsa.webhook` object, or a server of `hamsa.webhook.serve`
-- @treturn Client self
-- @raise when `receiver` is neither
-- @usage local srv = hamsa.webhook.serve { auth_key = "Token", auth_secret = "s3cret", port = 8080 }
-- client:watch(srv)     -- call.ended events now end conversations:wait at once
function Client:watch(receiver)
    if getmetatable(self) ~= Client then error("use client:watch(...)", 2) end
    if type(receiver) ~= "table" or type(receiver.watch) ~= "function" then
        error("client:watch: receiver must be a hamsa.webhook object or server", 2)
    end
    receiver:watch(function(event) waiter.notify(self, event) end)
    return self
end

--- One file descriptor for the whole client, for hosts that run their
-- own event loop: it is readable whenever `client:poll(0)` has work to do
-- (a socket libcurl waits on is ready, libcurl's timer is due, a retry's
-- backoff or a waiter's gap ends, callbacks wait to run). Together with
-- `client:events()` and `client:timeout()` this is the cqueues pollable
-- protocol, so `cqueues.poll(client)` works; luv and copas watch it through
-- `hamsa.adapter.luv` and `hamsa.adapter.copas`. Linux only (an epoll
-- set): elsewhere it returns nil and a message, and `client:sockets()`
-- remains.
-- @treturn[1] integer the descriptor (the same one for the client's life)
-- @treturn[2] nil
-- @treturn[2] string why there is none (closed client, no epoll)
-- @usage
-- local fd = assert(client:pollfd())
-- -- watch fd for reading; when it is readable: client:poll(0)
function Client:pollfd()
    if self._closed then return nil, "the client is closed" end
    local fd, msg = self._multi:pollfd()
    if not fd then return nil, msg end
    if not self._pollable then
        self._pollable = true
        arm(self)               -- what is due already
    end
    return fd
end

--- What to watch `client:pollfd()` for: always "r" (readable), the
-- cqueues protocol's `events`.
-- @treturn string "r"
-- @usage local cqueues = require "cqueues"
-- cqueues.poll(client)        -- pollfd(), events() and timeout(): waits for its work
-- client:poll(0)
function Client:events()     -- luacheck: ignore self
    return "r"
end

--- The sockets to watch, for hosts that run their own event loop (luv,
-- cqueues, socket.select, a game engine) and cannot use
-- `client:pollfd()`: `{ [fd] = "r" | "w" | "rw" }`. Watch them and
-- `client:timeout()`, and call `client:poll(0)` when a socket is ready or
-- the timeout passes; nothing needs busy polling.
-- @treturn table fd to "r", "w" or "rw"
-- @usage for fd, what in pairs(client:sockets()) do
--     print(fd, what)            -- hand each to the loop's watcher
-- end
function Client:sockets()
    if self._closed then return {} end
    return self._multi:sockets()
end

--- Seconds until `client:poll(0)` must run even if no socket is ready
-- (a libcurl timer, a retry's backoff, callbacks waiting to run), or nil
-- when nothing is in flight. The cqueues protocol's `timeout`. On Linux it
-- is rounded up to whole milliseconds, so that a loop woken by it finds
-- the timer due.
-- @treturn number|nil seconds
-- @usage socket.select(readers, writers, client:timeout() or 1)
-- client:poll(0)
function Client:timeout()
    if self._rhead <= self._rtail then return 0 end
    if self._closed or self._pending == 0 then return nil end
    local t = self._multi:timeout() or 1
    return next_wait(self, t)
end

--- Number of requests in flight (whose on_done has not run yet): a
-- task's call or gap counts one, an on_done waiter one (hamsa.waiter).
-- @treturn number
-- @usage if client:pending() > 0 then client:poll(0) end
function Client:pending()
    return self._pending
end

--- Cancels everything in flight and releases the connections. Every
-- request still in flight gets its on_done at once, with kind "cancelled"
-- (timers too: a waiter in a gap ends "cancelled" at once).
-- Idempotent; also the client's `__close` and `__gc`.
-- @usage local client <close> = hamsa.new()   -- Lua 5.4: closed at the end of the block
-- client:close()                              -- or explicitly
function Client:close()
    if self._closed then return end
    self._closed = true             -- first: a callback that closes again returns here
    -- an adapter (hamsa.adapter.*) stops watching the descriptor before it
    -- is closed (a loop must forget a descriptor before it is closed)
    if self._on_wake then self._on_wake(self) end
    for _, call in pairs(self._inflight) do cancel(self, call) end
    for call in pairs(self._timers) do cancel(self, call) end
    -- nil when hamsa.new raised half-way (then only __gc gets here)
    if self._multi then self._multi:close() end
    deliver(self)
end
Client.__close = Client.close

-- A collected client releases its connections; a callback error has no
-- caller to reach there.
function Client:__gc()
    pcall(Client.close, self)
end

--- A request in flight: what a call with `opts.on_done` returns at once
-- (also the waiters' handles: `conversations:wait(id, { on_done = ... })`).
-- Its `on_done(data, err, response)` runs exactly once, from
-- `client:poll`, `client:wait`, `client:run` or `client:close`.
-- @type Request

--- Cancels the request; its on_done runs from the next poll/wait with
-- err.kind == "cancelled".
-- @treturn boolean whether it was still in flight
-- @usage local req = client.calls:start(body, { on_done = function(data, err) end })
-- req:cancel()          -- on_done gets err.kind == "cancelled"
function Request:cancel()
    local client = self._client
    if client._closed then return false end
    return cancel(client, self._call)
end

--- Whether the request has finished (its on_done may not have run yet).
-- @treturn boolean
-- @usage repeat client:poll(0.1) until req:done()
function Request:done()
    return self._call.done == true
end

function Request:__tostring()
    local c = self._call
    return format("hamsa.request (%s %s, %s)", tostring(c.method), tostring(c.path),
        c.done and "done" or "in flight")
end

--- The base URL requests go to, normalized ("https://api.tryhamsa.com").
-- @local
function M.base_url(client)
    return client._base_url
end

-- for specs and tools that must prove the key is set without showing it
function M.has_key(client)
    return config.secret(client) ~= nil
end

return M
