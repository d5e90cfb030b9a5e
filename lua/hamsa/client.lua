--- The client: configuration, the request pipeline, and the loop that
-- drives every transfer, blocking or not, on one libcurl multi handle.
--
-- One request ("call") goes: checks → encode → attempt → result mapping →
-- retry decision → completion. Blocking calls drive the loop until their
-- own call completes; calls with `opts.on_done` complete in the loop and
-- their callbacks run from `poll`/`wait`. Backoff between attempts is a
-- timer inside that loop, so the async path never sleeps the host.
-- docs/client.md explains the delivery rules; docs/wire.md the API decisions.
-- @module hamsa.client
local core = require "hamsa.core"
local errors = require "hamsa.errors"
local retry = require "hamsa.retry"
local url = require "hamsa.url"

local type, pairs, next, pcall, error, tostring, setmetatable, getmetatable, select =
    type, pairs, next, pcall, error, tostring, setmetatable, getmetatable, select
local min, floor = math.min, math.floor
local find, format, match, lower, concat, gmatch =
    string.find, string.format, string.match, string.lower, table.concat, string.gmatch
local getenv = os.getenv
local cocreate, coresume, corunning, costatus, coyield =
    coroutine.create, coroutine.resume, coroutine.running, coroutine.status, coroutine.yield
local unpack = table.unpack or unpack       -- luacheck: ignore unpack

local json = core.json
local encode, decode, null = json.encode, json.decode, json.null
local array_mt = json.array_mt
local now, uuid4 = core.now, core.uuid4

local M = {}

M.DEFAULT_BASE_URL = "https://api.tryhamsa.com"

local DEFAULTS = {
    timeout = 30,
    connect_timeout = 10,
    max_retries = 2,
    max_connections = 32,
    max_response_bytes = 16 * 1024 * 1024,
    max_request_bytes = 1024 * 1024,
    max_request_depth = 100,     -- JSON nesting of a request body (the codec allows 1000)
}
M.DEFAULTS = DEFAULTS

-- option name -> Lua type; anything else is misuse and raises
local CLIENT_OPTIONS = {
    api_key = "string", base_url = "string", timeout = "number", connect_timeout = "number",
    max_retries = "number", headers = "table", user_agent = "string", ca_file = "string",
    proxy = "string", validate = "boolean", max_connections = "number",
    max_response_bytes = "number", stall_timeout = "number", allow_insecure_http = "boolean",
    logger = "function", on_error = "function", max_request_bytes = "number", trace = "boolean",
}
local REQUEST_OPTIONS = {
    timeout = "number", connect_timeout = "number", max_retries = "number", headers = "table",
    idempotency_key = "string", query = "table", on_done = "function", stall_timeout = "number",
}
M.REQUEST_OPTIONS = REQUEST_OPTIONS

-- The key is kept out of the client table, so that dumping a client (an
-- inspector, a debugger, a careless log line) cannot show it.
local SECRETS = setmetatable({}, { __mode = "k" })

-- What a task yields to have its request started (see _send and M._resume).
local START = {}

-- Whether a coroutine can yield through pcall: 5.2+ and LuaJIT, not 5.1.
-- (Known from the version, not probed: inside nginx a probe's yield at load
-- time would cross `require`.)
local YIELD_THROUGH_PCALL = _VERSION ~= "Lua 5.1" or type(jit) == "table"

local EMPTY = setmetatable({}, { __newindex = function() error("read-only", 2) end })

---------------------------------------------------------------------------
-- option checking (misuse raises at the caller's level)

-- Upper bounds of the numeric options: each value reaches libcurl through a
-- C cast, and a double out of the target type's range is undefined there.
-- A timeout above MAX_SECONDS (11.5 days) means "no timeout" in practice.
local MAX_SECONDS = 1e6
local BOUNDS = {
    timeout = { 0.001, MAX_SECONDS }, connect_timeout = { 0.001, MAX_SECONDS },
    stall_timeout = { 1, MAX_SECONDS }, max_retries = { 0, 100, true },
    max_connections = { 1, 65536, true }, max_response_bytes = { 1, 2 ^ 32 - 1, true },
    max_request_bytes = { 1, 2 ^ 32 - 1, true },
}
M.BOUNDS = BOUNDS

local function check_number(v, name, where, level)
    local b = BOUNDS[name]
    local lo, hi, integer = b[1], b[2], b[3]
    if not (v >= lo and v <= hi) or (integer and v ~= floor(v)) then   -- NaN fails the first test
        error(format("%s: %s must be %s from %s to %s", where, name, integer and "an integer" or "a number",
            tostring(lo), integer and format("%.0f", hi) or tostring(hi)), level + 1)
    end
end

local header_lines

-- Whether `v` is not a usable wait in seconds (NaN included).
local function bad_wait(v)
    return type(v) ~= "number" or v ~= v or v < 0
end

--- Checks an options table against a spec of names and types, and the
-- values that would otherwise fail later, far from the caller's line.
-- `level` is the error level of the caller's caller.
local function check_options(opts, spec, where, level)
    if opts == nil then return end
    if type(opts) ~= "table" then
        error(where .. ": options must be a table", level + 1)
    end
    for k, v in pairs(opts) do
        local want = spec[k]
        if not want then
            error(format("%s: unknown option '%s'", where, tostring(k)), level + 1)
        end
        if type(v) ~= want then
            error(format("%s: option '%s' must be a %s", where, k, want), level + 1)
        end
        if BOUNDS[k] then check_number(v, k, where, level + 1) end
    end
    if spec == REQUEST_OPTIONS then
        local idem = opts.idempotency_key
        if idem and (idem == "" or #idem > 255 or find(idem, "[%z\1-\31\127]")) then
            error(where .. ": idempotency_key must be 1 to 255 characters without control characters", level + 1)
        end
        if opts.headers then header_lines(opts.headers, where, level + 1) end
    end
end
M.check_options = check_options

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

--- Checks a headers table and returns its lines in an order-preserving
-- map keyed by lower-cased name. CR, LF and NUL are refused everywhere:
-- they would let a value smuggle in another header.
-- Headers the library owns: the key goes in api_key, and one
-- Idempotency-Key per logical request comes from opts.idempotency_key (a
-- client-wide one would make different calls share a key).
local OWNED = {
    authorization = "set api_key instead of an Authorization header",
    ["idempotency-key"] = "set opts.idempotency_key per request instead of an Idempotency-Key header",
}

function header_lines(h, where, level, into)
    into = into or { order = {}, lines = {} }
    for name, value in pairs(h) do
        if type(name) ~= "string" or not match(name, TOKEN) then
            error(format("%s: header name %q is not a valid HTTP token", where, tostring(name)), level + 1)
        end
        local lname = lower(name)
        if OWNED[lname] then error(where .. ": " .. OWNED[lname], level + 1) end
        if type(value) == "number" then value = tostring(value) end
        if type(value) ~= "string" or find(value, "[\r\n%z]") then
            error(format("%s: header %s must be a string without CR, LF or NUL", where, name), level + 1)
        end
        if not into.lines[lname] then into.order[#into.order + 1] = lname end
        into.lines[lname] = name .. ": " .. value
    end
    return into
end

local function flatten(map)
    local out = {}
    for i, lname in pairs(map.order) do out[i] = map.lines[lname] end
    return out
end

---------------------------------------------------------------------------
-- the client object

local Client = {}
Client.__index = Client
Client.__name = "hamsa.client"
M.Client = Client

local Request = {}
Request.__index = Request
Request.__name = "hamsa.request"
M.Request = Request

local function lua_version()
    if type(jit) == "table" and jit.version then return jit.version end   -- luacheck: ignore jit
    return _VERSION
end

--- Makes a client. Raises only on a malformed options table.
-- @tparam[opt] table opts see README, "Options"
-- @treturn Client
-- `level` is where misuse errors point (2: the caller of new).
function M.new(opts, level)
    level = level or 2
    check_options(opts, CLIENT_OPTIONS, "hamsa.new", level)
    opts = opts or EMPTY
    local self = setmetatable({
        _timeout = opts.timeout or DEFAULTS.timeout,
        _connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout,
        _max_retries = opts.max_retries or DEFAULTS.max_retries,
        _max_body = opts.max_response_bytes or DEFAULTS.max_response_bytes,
        _max_request = opts.max_request_bytes or DEFAULTS.max_request_bytes,
        _stall = opts.stall_timeout,
        _validate = opts.validate ~= false,
        _ca_file = opts.ca_file,
        _proxy = opts.proxy,
        _on_error = opts.on_error,
        _inflight = {},          -- transfer -> call
        _timers = {},            -- calls waiting for their next attempt
        _ready = {},             -- async calls whose on_done is due (see enqueue)
        _rhead = 1,              -- its first and last index; empty when _rhead > _rtail
        _rtail = 0,
        _pending = 0,            -- async calls whose on_done has not run yet
        _tasks = {},             -- coroutine -> Task, for client:spawn
        _calling = {},           -- Lua 5.1: coroutine -> depth of deliver callbacks in it
        _ntasks = 0,
        _closed = false,
    }, Client)

    local key = opts.api_key
    local key_err
    if key == nil then
        -- an env file written on Windows leaves "\r" at the end: trim, and
        -- fail requests (never raise) on what is still malformed
        key = getenv("HAMSA_API_KEY")
        key = key and match(key, "^%s*(.-)%s*$")
        if key and find(key, "[%z\1-\31\127]") then
            key, key_err = nil, "HAMSA_API_KEY contains control characters"
        end
    elseif find(key, "[%z\1-\31\127]") then
        error("hamsa.new: api_key must not contain control characters (CR, LF, NUL, ...)", level)
    end
    if key == "" then key = nil end
    SECRETS[self] = key

    local base = opts.base_url
    local from_env = false
    if base == nil then
        base = getenv("HAMSA_BASE_URL")
        from_env = base ~= nil and base ~= ""
        if not from_env then base = M.DEFAULT_BASE_URL end
    end
    local scheme, host, path = url.parse_base(base)
    if not scheme then
        if not from_env then error("hamsa.new: base_url must be an http:// or https:// URL", level) end
        self._config_err = "HAMSA_BASE_URL is not an http:// or https:// URL"
    elseif scheme == "http" and not url.is_loopback(host) and not opts.allow_insecure_http then
        self._config_err = "refusing to send the API key over plain http:// to " .. host ..
            "; use https:// or set allow_insecure_http = true"
    elseif key_err then
        self._config_err = key_err
    elseif not key then
        self._config_err = "no API key: pass api_key to hamsa.new or set HAMSA_API_KEY"
    end
    self._base_url = scheme and (scheme .. "://" .. match(base, "^%a[%w+.-]*://([^/?#]+)") .. path) or base

    -- the header lines every request shares, built once
    local map = { order = {}, lines = {} }
    header_lines({
        ["Accept"] = "application/json",
        ["User-Agent"] = opts.user_agent or format("lua-hamsa/%s (%s; libcurl/%s)",
            core._VERSION, lua_version(), core.curl_version),
    }, "hamsa.new", level, map)
    if opts.headers then header_lines(opts.headers, "hamsa.new", level, map) end
    self._header_map = map
    local lines = flatten(map)
    self._headers = lines
    local with_body = { "Content-Type: application/json" }
    for i = 1, #lines do with_body[i + 1] = lines[i] end
    self._headers_json = with_body

    -- HAMSA_LOG=debug: one line per attempt, retry and outcome on stderr;
    -- HAMSA_LOG=trace (or trace = true): also libcurl's verbose output
    -- (connection, TLS, header lines; never bodies), redacted
    local env_log = getenv("HAMSA_LOG")
    self._trace = opts.trace or env_log == "trace"
    if opts.logger then
        self._log = opts.logger
    elseif env_log == "debug" or self._trace then
        self._log = function(lvl, msg) io.stderr:write("hamsa ", lvl, ": ", msg, "\n") end
    end

    -- the Authorization line lives in the C engine only: no Lua table that a
    -- client, a request or a spec reaches holds the key
    self._multi = core.multi {
        max_host_connections = opts.max_connections or DEFAULTS.max_connections,
        auth = key and ("Authorization: Token " .. key) or nil,
    }
    return self
end

function Client:__tostring()
    return format("hamsa.client (%s, %d pending%s)", self._base_url, self._pending,
        self._closed and ", closed" or "")
end

---------------------------------------------------------------------------
-- result mapping

-- A server's text where a string is expected: strings as they are, numbers
-- printed, an object's own `message`; anything else gives nil.
local function text_of(v)
    local tv = type(v)
    if tv == "string" then return v ~= "" and v or nil end
    if tv == "number" then return tostring(v) end
    if tv == "table" and type(v.message) == "string" and v.message ~= "" then return v.message end
    return nil
end

-- The message of an error envelope, whatever its shape: `message` as a
-- string, or a list of strings (NestJS validation errors), or objects with
-- a message; else `error`. Values of other types are skipped, never raised on.
local function envelope_message(env)
    if type(env) ~= "table" then return nil end
    local m = env.message
    if type(m) == "table" and getmetatable(m) == array_mt then
        local parts = {}
        for i = 1, #m do
            local t = text_of(m[i])
            if t then parts[#parts + 1] = t end
        end
        if parts[1] then return concat(parts, "; ") end
    else
        local t = text_of(m)
        if t then return t end
    end
    return text_of(env.error)
end

local function message_key(env)
    local k = type(env) == "table" and env.messageKey
    return type(k) == "string" and k or nil
end

--- Maps one finished attempt to `data` or an error.
local function interpret(call, status, body, headers, ename, emsg)
    local what = call.method .. " " .. call.path
    if ename then
        local kind, retryable = errors.transport(ename)
        if ename == "CURLE_SEND_FAIL_REWIND" then
            emsg = "the connection closed after the request was sent; the server may have acted on it"
        elseif ename == "CURLE_OUT_OF_MEMORY" and status then
            -- libcurl's own limit on one header line (100 KiB), reported as out of memory
            ename, kind, retryable = "RESPONSE_HEADERS_TOO_LARGE", "decode", false
            emsg = "a response header line is larger than libcurl accepts (" .. tostring(emsg) .. ")"
        end
        return nil, errors.new(kind, format("%s: %s", what, tostring(emsg)), {
            status = status, code = ename, retryable = retryable, headers = headers,
        })
    end
    if not status then
        return nil, errors.new("network", what .. ": no response", { code = "NO_RESPONSE", headers = headers })
    end
    if status >= 200 and status < 300 then
        if status == 204 then return null end
        local env, derr = decode(body)
        if env == nil then
            return nil, errors.new("decode", format("%s: the response is not JSON (%s)", what, derr),
                { status = status, code = "INVALID_JSON", headers = headers })
        end
        if type(env) ~= "table" or getmetatable(env) == array_mt then
            return nil, errors.new("decode", what .. ": the response is not a Hamsa envelope",
                { status = status, code = "INVALID_ENVELOPE", body = env, headers = headers })
        end
        local data = env.data
        -- (false is no data either: `false, response` would read as a failure)
        if env.success == false and (data == nil or data == null or data == false) then
            return nil, errors.new("api", format("%s (%s on %s)",
                envelope_message(env) or "the API reported a failure", errors.status_text(status), what),
                { status = status, code = message_key(env), body = env, headers = headers })
        end
        if data == nil then data = null end
        return data
    end
    local env = decode(body)
    local msg = envelope_message(env) or "the API answered with an error"
    return nil, errors.new(errors.kind_for_status(status),
        format("%s (%s on %s)", msg, errors.status_text(status), what), {
            status = status,
            code = message_key(env),
            body = env,
            headers = headers,
            retryable = errors.status_retryable(status),
        })
end

-- interpret, with any fault in it (a shape nobody foresaw) turned into an
-- error of that one request instead of a raise out of poll/wait.
local function map_result(call, status, body, headers, ename, emsg)
    local ok, data, err = pcall(interpret, call, status, body, headers, ename, emsg)
    if ok then return data, err end
    return nil, errors.new("decode", format("%s %s: the response could not be read (%s)",
        call.method, call.path, tostring(data)), { status = status, code = "INVALID_ENVELOPE", headers = headers })
end

---------------------------------------------------------------------------
-- the loop

local function log(self, level, fmt, ...)
    local logger = self._log
    if logger then
        local msg = errors.redact(format(fmt, ...), SECRETS[self])
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

local function start_attempt(self, call)
    call.attempts = call.attempts + 1
    call.next_at = nil
    local t = self._multi:add(call.spec)
    self._inflight[t] = call
    call.transfer = t
    if self._log then log(self, "debug", "%s %s: attempt %d", call.method, call.path, call.attempts) end
end

local function finish_transfer(self, t)
    local call = self._inflight[t]
    self._inflight[t] = nil
    if not call or call.done then t:close() return end
    call.transfer = nil
    local r = t:result()
    local status, body, headers, ename, emsg, sent, secs, connects =
        r.status, r.body, r.headers, r.error, r.message, r.sent, r.elapsed, r.connects
    if self._trace and self._log then
        local text = t:trace()
        if text then
            for line in gmatch(text, "[^\r\n]+") do log(self, "trace", "%s %s: %s", call.method, call.path, line) end
        end
    end
    t:close()
    local data, err = map_result(call, status, body, headers, ename, emsg)
    local key = SECRETS[self]
    local response = {
        status = status, headers = headers, body = body, attempts = call.attempts,
        idempotency_key = call.idempotency_key, elapsed = secs, new_connections = connects,
    }
    if not err then
        if key then response.body = errors.redact(body, key) end
        if self._log then log(self, "debug", "%s %s: %d in %.1f ms", call.method, call.path, status, secs * 1000) end
        return complete(self, call, data, nil, response)
    end
    err.attempts = call.attempts
    local delay = retry.decide(err, call.method, sent, call.attempts - 1, call.max_retries)
    if delay and not self._closed then
        if self._log then
            log(self, "debug", "%s %s: %s; retrying in %.2f s", call.method, call.path, tostring(err), delay)
        end
        if call.done or self._closed then return end
        call.next_at = now() + delay
        self._timers[call] = true
        return
    end
    if self._log then log(self, "debug", "%s %s: %s", call.method, call.path, tostring(err)) end
    errors.scrub(err, key)
    response.body = errors.redact(body, key)
    err.response = response
    complete(self, call, nil, err, response)
end

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
                start_attempt(self, call)
            end
        end
    end
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
            -- through the pcall, so _send makes it a plain blocking one
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

---------------------------------------------------------------------------
-- the pipeline

-- Whether tables nest deeper than `limit` levels in `v` (read raw, like the
-- encoder; a cycle is left to the encoder to report).
local function nests_deeper(v, limit, depth, stack)
    if depth > limit then return true end
    stack[v] = true
    for _, x in next, v do
        if type(x) == "table" and not stack[x] and nests_deeper(x, limit, depth + 1, stack) then return true end
    end
    stack[v] = nil
    return false
end

local function fail(self, err, on_done)
    if not on_done then return nil, err end
    local call = { done = true, err = err, on_done = on_done, attempts = 0 }
    local req = setmetatable({ _client = self, _call = call }, Request)
    call.request = req
    self._pending = self._pending + 1
    enqueue(self, call)
    return req
end

-- Fails a request before sending: returned, or delivered by the next poll.
function Client:_fail(err, opts)
    return fail(self, err, opts and opts.on_done)
end

--- Sends one request through checks, encoding, attempts and retries.
-- Resources call it with their validator and preparer; `opts` was checked;
-- `query` is the built query string (url.query), or nil.
-- @treturn[1] any data, response (blocking)
-- @treturn[2] Request (with opts.on_done)
function Client:_send(method, path, query, body, opts, validator, prepare)
    opts = opts or EMPTY
    local on_done = opts.on_done
    if self._closed then
        return fail(self, errors.new("cancelled", "the client is closed"), on_done)
    end
    if self._config_err then
        return fail(self, errors.new("config", self._config_err), on_done)
    end
    -- libcurl (and any proxy) would resolve a "." or ".." segment, sending
    -- the request to another route: update("..") must not become PATCH /v1/
    -- (a plain search for "/." first spares most paths the two pattern scans)
    if find(path, "/.", 1, true) and (find(path, "/%.%.?/") or find(path, "/%.%.?$")) then
        return fail(self, errors.invalid(nil, format("%s %s: a path segment cannot be \".\" or \"..\"",
            method, path)), on_done)
    end
    if body ~= nil then
        if validator and self._validate then
            local ok, field, msg = validator(body)
            if not ok then return fail(self, errors.invalid(field, msg), on_done) end
        end
        if prepare then body = prepare(body) end
    end
    local payload
    if body ~= nil then
        -- the encoder enforces the depth cap in its own walk (saves a Lua walk of every
        -- body); on a failure nests_deeper tells whether depth is the error to report
        local s, e = encode(body, DEFAULTS.max_request_depth)
        if not s then
            if type(body) == "table" and nests_deeper(body, DEFAULTS.max_request_depth, 1, {}) then
                return fail(self, errors.invalid(nil, format("the body nests deeper than %d levels",
                    DEFAULTS.max_request_depth)), on_done)
            end
            return fail(self, errors.invalid(nil, "the body cannot be encoded as JSON: " .. tostring(e)), on_done)
        end
        if #s > self._max_request then
            return fail(self, errors.invalid(nil, format("the body is %d bytes, over max_request_bytes (%d)",
                #s, self._max_request)), on_done)
        end
        payload = s
    end

    local headers = payload and self._headers_json or self._headers
    local extra_header
    local idem = opts.idempotency_key                       -- checked with the options
    if not idem and method == "POST" then
        idem = uuid4()                                          -- one key for all attempts
    end
    if opts.headers then
        -- rare path: per-request headers (checked with the options) replace
        -- same-named client ones
        local base = self._header_map
        local map = { order = {}, lines = {} }
        for i, lname in pairs(base.order) do map.order[i] = lname; map.lines[lname] = base.lines[lname] end
        header_lines(opts.headers, "request", 3, map)
        headers = flatten(map)
        if payload and not map.lines["content-type"] then headers[#headers + 1] = "Content-Type: application/json" end
        if idem then headers[#headers + 1] = "Idempotency-Key: " .. idem end
    elseif idem then
        -- the engine adds it after the shared lines: saves copying them per request
        extra_header = "Idempotency-Key: " .. idem
    end

    local full = self._base_url .. path
    if query and query ~= "" then full = full .. "?" .. query end
    local stall = opts.stall_timeout or self._stall
    local call = {
        method = method, path = path, attempts = 0,
        max_retries = opts.max_retries or self._max_retries,
        on_done = on_done, idempotency_key = idem,
        spec = {
            url = full, method = method, headers = headers, header = extra_header, body = payload,
            timeout = opts.timeout or self._timeout,
            connect_timeout = opts.connect_timeout or self._connect_timeout,
            ca_file = self._ca_file, proxy = self._proxy, max_body = self._max_body, verbose = self._trace,
            low_speed_limit = stall and 1 or nil, low_speed_time = stall,
            no_resend = not retry.IDEMPOTENT[method],
        },
    }
    local co = corunning()
    local task = not on_done and self._tasks[co or 0]
    if task and not YIELD_THROUGH_PCALL and self._calling[co] then
        task = nil          -- Lua 5.1, inside a callback of deliver: it blocks instead
    end
    if task then
        -- inside client:spawn: the call looks blocking but yields to the
        -- loop. It yields first and M._resume starts it: where the yield
        -- cannot happen (Lua 5.1 inside a pcall), it raises here and
        -- nothing was sent or left in flight.
        call.on_done = function(...) return M._resume(self, task, ...) end
        local data, err, response = coyield(START, call)
        if err then return nil, err, response end
        return data, response
    end
    start_attempt(self, call)
    if not on_done then return run(self, call) end
    self._pending = self._pending + 1
    local req = setmetatable({ _client = self, _call = call }, Request)
    call.request = req
    return req
end

--- The escape hatch for routes the library does not wrap yet: same
-- authentication, encoding, error mapping, retries and results; no validation.
-- @tparam string method "GET", "POST", "PATCH", ...
-- @tparam string path like "/v1/voice-agents"
-- @tparam[opt] table body
-- @tparam[opt] table opts request options, plus `query`
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
    return self:_send(method, path, query, body, opts)
end

---------------------------------------------------------------------------
-- non-blocking use

--- Drives transfers and runs the callbacks of finished requests.
-- @tparam[opt=0] number max_wait seconds it may wait for activity
-- @treturn number requests whose on_done has not run yet
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
    return self._pending
end

---------------------------------------------------------------------------
-- coroutines

local Task = {}
Task.__index = Task
Task.__name = "hamsa.task"
M.Task = Task

local function pack(...)
    return { n = select("#", ...), ... }
end

-- Resumes a task with the results of its request; records its end.
function M._resume(self, task, ...)
    local res = pack(coresume(task.co, ...))
    if costatus(task.co) ~= "dead" then
        if res[1] and res[2] == START then
            -- a request of the task's: in flight from now on, and the
            -- task resumes from its on_done
            local call = res[3]
            self._pending = self._pending + 1
            if self._closed then
                return complete(self, call, nil, errors.new("cancelled", "the client is closed"))
            end
            local ok, e = pcall(start_attempt, self, call)
            if not ok then
                complete(self, call, nil, errors.new("network", format("%s %s: %s", call.method, call.path,
                    tostring(e))))
            end
            return
        end
        -- it yielded, but not in a request of ours: nothing here can know
        -- what to resume it with, so it ends with an error
        res = { false, "hamsa: a task yielded outside a hamsa call (use a coroutine of your own for that)" }
    end
    self._tasks[task.co] = nil
    self._ntasks = self._ntasks - 1
    task.done = true
    if res[1] then
        task.results = { n = res.n - 1, unpack(res, 2, res.n) }
    else
        task.error = res[2]
        error(res[2], 0)        -- raised by poll/wait/run like any callback error
    end
end

--- Runs `fn(...)` as a task of this client: inside it, the usual calls
-- (`client.agents:create(...)`, ...) read as blocking but yield to the
-- client's loop, so several tasks written sequentially run concurrently.
-- The task starts at once and runs until its first request; `client:run()`
-- drives them all. (On Lua 5.1, not LuaJIT, a task cannot make its calls
-- from inside a pcall.)
-- @tparam function fn
-- @return Task with `done`, `results` (a packed list) and `error`
function Client:spawn(fn, ...)
    if type(fn) ~= "function" then error("client:spawn: fn must be a function", 2) end
    local task = setmetatable({ co = cocreate(fn), done = false }, Task)
    self._tasks[task.co] = task
    self._ntasks = self._ntasks + 1
    M._resume(self, task, ...)
    return task
end

--- Drives the loop until every task (and every on_done request) is done,
-- or `timeout` passes. An error raised in a task comes out of here.
-- @tparam[opt] number timeout seconds
-- @treturn number tasks still running
function Client:run(timeout)
    if timeout ~= nil and bad_wait(timeout) then
        error("client:run: timeout must be a number >= 0", 2)
    end
    self:wait(timeout)
    return self._ntasks
end

--- Drives transfers until no request is in flight (or `timeout` passes).
-- @tparam[opt] number timeout seconds
-- @treturn number requests still in flight (0 when all are done)
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
    return self._pending
end

--- The sockets to watch, for hosts that run their own event loop (luv,
-- cqueues, socket.select, a game engine): `{ [fd] = "r" | "w" | "rw" }`.
-- Watch them and `client:timeout()`, and call `client:poll(0)` when a
-- socket is ready or the timeout passes; nothing needs busy polling.
function Client:sockets()
    if self._closed then return {} end
    return self._multi:sockets()
end

--- Seconds until `client:poll(0)` must run even if no socket is ready
-- (a libcurl timer, a retry's backoff, callbacks waiting to run), or nil
-- when nothing is in flight.
function Client:timeout()
    if self._rhead <= self._rtail then return 0 end
    if self._closed or self._pending == 0 then return nil end
    local t = self._multi:timeout() or 1
    return next_wait(self, t)
end

--- Number of requests in flight (whose on_done has not run yet).
function Client:pending()
    return self._pending
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

--- Cancels everything in flight and releases the connections. Every
-- request still in flight gets its on_done at once, with kind "cancelled".
function Client:close()
    if self._closed then return end
    self._closed = true             -- first: a callback that closes again returns here
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

--- Cancels the request; its on_done runs from the next poll/wait with
-- err.kind == "cancelled".
-- @treturn boolean whether it was still in flight
function Request:cancel()
    local client = self._client
    if client._closed then return false end
    return cancel(client, self._call)
end

--- Whether the request has finished (its on_done may not have run yet).
function Request:done()
    return self._call.done == true
end

function Request:__tostring()
    local c = self._call
    return format("hamsa.request (%s %s, %s)", tostring(c.method), tostring(c.path),
        c.done and "done" or "in flight")
end

-- for specs and tools that must prove the key is set without showing it
function M.has_key(client)
    return SECRETS[client] ~= nil
end

return M
