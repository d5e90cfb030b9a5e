--- Receiving Hamsa's webhooks: checking the `Authorization` header,
-- decoding the envelope, telling repeated deliveries apart, answering.
--
--     local wh = hamsa.webhook.new{ auth_key = "Token", auth_secret = "s3cret" }
--     local event, err = wh:parse(headers, body)
--     local status, reply, handler_err = wh:respond(headers, body, on_event)
--
-- `headers`: names in any case; a value is a string, or a list of strings
-- for a repeated header. `body`: the raw bytes. Neither `parse` nor
-- `respond` raises, whatever they are given; only `new` raises, at the
-- caller's line, on misuse.
--
-- An event is the decoded envelope (`eventType`, `callId`, `timestamp`,
-- `projectId`, `agentId`, `agentName`, `data`), plus:
--
-- - `known`: whether `eventType` is one of `EVENT_TYPES`; an unknown type is
--   passed through, not refused (Hamsa may add types);
-- - `duplicate`: the store had seen its dedupe key within `dedupe_seconds`.
--   The key is `callId`, `eventType` and the delivery's id (the
--   `X-Hamsa-Delivery-Id` header, else `deliveryId` of the envelope or of
--   `data`), else its `timestamp`, joined by newlines (`M.dedupe_key`). An
--   event with neither id nor timestamp is never a duplicate;
-- - for `call.ended`, `conversation`: `conversationId`,
--   `conversationRecording`, `transcription`, `outcomeResult`, taken from
--   `data.data` (or `data` itself when not nested); a value (or `data.data`)
--   that arrives as a JSON string is decoded when it decodes to a table. JSON
--   null stays `hamsa.null`.
--
-- Errors (hamsa.errors values): kind "auth" (status 401) when
-- `Authorization` is missing, repeated or not `auth_key .. " " ..
-- auth_secret` (compared in constant time; the message never says how it
-- differs); kind "invalid" when the body is not a string, is over
-- `max_body_bytes` (status 413, checked before decoding), is not JSON or is
-- not an event object with string `eventType` and `callId` (status 400).
-- No message, field or `tostring` carries the secret or the header.
--
-- The store: any object with `store:seen(key, ttl_seconds) -> boolean` that
-- records `key` for `ttl_seconds` and says whether it was there before,
-- unexpired. The default (`M.memory_store`) is an in-process table bounded
-- to `max_keys` (100000), the oldest evicted. hamsa.openresty passes one
-- over a shared dict. A store that raises makes the event count as new.
--
-- Listeners: `wh:watch(fn)` calls `fn(event)` for every new (not duplicate)
-- event that `respond`, `dispatch` or `serve` accept, under pcall (an error
-- is dropped). `parse` alone calls nobody.
-- @module hamsa.webhook
-- @license MIT

local core = require "hamsa.core"
local errors = require "hamsa.errors"

local decode, null = core.json.decode, core.json.null
local byte, lower, format = string.byte, string.lower, string.format
local type, pairs, pcall, setmetatable, getmetatable, tostring, error =
    type, pairs, pcall, setmetatable, getmetatable, tostring, error
local now_default = core.now

local M = {}

--- The event types Hamsa documents: a list, and a set (`EVENT_TYPES[name]` is true).
-- @usage if hamsa.webhook.EVENT_TYPES[event.eventType] then ... end
M.EVENT_TYPES = { "call.started", "call.answered", "transcription.update", "tool.executed", "call.ended" }
for _, name in pairs(M.EVENT_TYPES) do M.EVENT_TYPES[name] = true end
local KNOWN = M.EVENT_TYPES

--- Whether strings `a` and `b` are equal, in time that depends only on
-- their lengths: no early exit, every byte of `a` compared (against `b`'s
-- bytes, cycled), a length difference folded into the same sum.
-- @tparam string a
-- @tparam string b
-- @treturn boolean whether they are equal (false when either is not a string)
-- @usage if not hamsa.webhook.constant_equal(given_token, expected_token) then return 401 end
function M.constant_equal(a, b)
    if type(a) ~= "string" or type(b) ~= "string" then return false end
    local la, lb = #a, #b
    if lb == 0 then return la == 0 end
    local acc = (la - lb) * (la - lb)
    for i = 1, la do
        local d = byte(a, i) - byte(b, (i - 1) % lb + 1)
        acc = acc + d * d
    end
    return acc == 0
end
local constant_equal = M.constant_equal

---------------------------------------------------------------------------
-- The default store
---------------------------------------------------------------------------

local MemoryStore = {}
MemoryStore.__index = MemoryStore

--- An in-process store: `opts.max_keys` (default 100000), `opts.now` (a
-- clock in seconds, default hamsa.core.now, monotonic). It is the default
-- `store` of `new`; one passed explicitly can be shared by several receivers.
-- @tparam[opt] table opts `max_keys`, `now`
-- @treturn table a store, with `store:seen(key, ttl_seconds)` → boolean
-- @usage local store = hamsa.webhook.memory_store { max_keys = 10000 }
-- local wh = hamsa.webhook.new { auth_key = "Token", auth_secret = secret, store = store }
function M.memory_store(opts)
    opts = opts or {}
    return setmetatable({ expiry = {}, count = 0, keys = {}, ends = {}, head = 1, tail = 0,
                          max_keys = opts.max_keys or 100000, now = opts.now or now_default }, MemoryStore)
end

-- Drops the oldest entry of the queue; the key goes if the entry is its latest.
local function pop(self)
    local h = self.head
    local key, ends = self.keys[h], self.ends[h]
    self.keys[h], self.ends[h], self.head = nil, nil, h + 1
    if self.expiry[key] == ends then
        self.expiry[key] = nil
        self.count = self.count - 1
    end
end

function MemoryStore:seen(key, ttl)
    local now = self.now()
    while self.head <= self.tail and self.ends[self.head] <= now do pop(self) end
    local ends = self.expiry[key]
    if ends and ends > now then return true end
    if not ends then self.count = self.count + 1 end
    ends = now + ttl
    self.expiry[key] = ends
    local t = self.tail + 1
    self.keys[t], self.ends[t], self.tail = key, ends, t
    while self.count > self.max_keys do pop(self) end
    return false
end

---------------------------------------------------------------------------
-- Receivers
---------------------------------------------------------------------------

local Webhook = {}
Webhook.__index = Webhook
Webhook.__name = "hamsa.webhook"
function Webhook.__tostring() return "hamsa.webhook" end

-- The expected Authorization value of each receiver, out of its table, so
-- that neither tostring nor a walk of the receiver finds it.
local EXPECTED = setmetatable({}, { __mode = "k" })

local depth = 0   -- frames between new and the caller to blame (serve adds its own)
local function misuse(msg) error("hamsa.webhook.new: " .. msg, 3 + depth) end

--- Makes a receiver. `opts`: auth_key, auth_secret (non-empty strings),
-- dedupe_seconds (600), max_body_bytes (1 MiB), store, now (the default
-- store's clock). Raises at the caller's line on misuse.
-- The receiver's methods: `Webhook:parse`, `Webhook:respond`,
-- `Webhook:answer`, `Webhook:dispatch`, `Webhook:watch`.
-- @tparam table opts `auth_key` and `auth_secret` (as sent in the call's
--   `webhookAuth`: Hamsa sends `Authorization: <authKey> <authSecret>`),
--   [opt] `dedupe_seconds`, `max_body_bytes`, `store`, `now`
-- @treturn table the receiver
-- @raise on a missing or malformed option
-- @usage local wh = hamsa.webhook.new { auth_key = "Token", auth_secret = os.getenv("HAMSA_WEBHOOK_SECRET") }
function M.new(opts)
    if type(opts) ~= "table" then misuse("expected an options table") end
    for _, name in pairs{ "auth_key", "auth_secret" } do
        local v = opts[name]
        if type(v) ~= "string" or v == "" then misuse(name .. " must be a non-empty string") end
    end
    local dedupe, max_body = opts.dedupe_seconds or 600, opts.max_body_bytes or 1048576
    if type(dedupe) ~= "number" or dedupe < 0 then misuse("dedupe_seconds must be a number >= 0") end
    if type(max_body) ~= "number" or max_body < 0 then misuse("max_body_bytes must be a number >= 0") end
    local store = opts.store
    if store == nil then
        store = M.memory_store{ now = opts.now }
    elseif type(store) ~= "table" and type(store) ~= "userdata" then
        misuse("store must be an object with a seen(key, ttl) method")
    end
    if opts.now ~= nil and type(opts.now) ~= "function" then misuse("now must be a function") end
    local self = setmetatable({ dedupe_seconds = dedupe, max_body_bytes = max_body, store = store,
                                listeners = {} }, Webhook)
    EXPECTED[self] = opts.auth_key .. " " .. opts.auth_secret
    return self
end

-- The value of header `name` (lower case) in `headers`: value, or nil and
-- "missing" / "repeated" / "malformed".
local function header(headers, name)
    if type(headers) ~= "table" then return nil, "missing" end
    local found, n = nil, 0
    for k, v in pairs(headers) do
        if type(k) == "string" and lower(k) == name then
            n = n + 1
            found = v
        end
    end
    if n == 0 then return nil, "missing" end
    if n > 1 then return nil, "repeated" end
    if type(found) == "table" then
        if #found ~= 1 or found[2] ~= nil then return nil, #found == 0 and "missing" or "repeated" end
        found = found[1]
    end
    if type(found) ~= "string" then return nil, "malformed" end
    return found
end

local function auth_error(what)
    return nil, errors.new("auth", "webhook Authorization header " .. what, { status = 401 })
end

local function invalid(message, status)
    return nil, errors.new("invalid", message, { status = status or 400 })
end

-- `v` decoded when it is a string of JSON that decodes to a table; else `v`.
local function maybe_json(v)
    if type(v) ~= "string" then return v end
    local okd, t = pcall(decode, v)
    if okd and type(t) == "table" then return t end
    return v
end

local function conversation(data)
    data = maybe_json(data)
    if type(data) ~= "table" then return {} end
    local inner = maybe_json(data.data)
    if type(inner) ~= "table" then inner = data end
    return {
        conversationId = inner.conversationId,
        conversationRecording = inner.conversationRecording,
        transcription = maybe_json(inner.transcription),
        outcomeResult = maybe_json(inner.outcomeResult),
    }
end

local function id_of(v)
    if type(v) == "string" and v ~= "" then return v end
    if type(v) == "number" then return format("%.17g", v) end
    return nil
end

--- The dedupe key of `event` (as parse made it) and the delivery's
-- `headers`, or nil when the event has neither delivery id nor timestamp.
-- @tparam table event an event of `Webhook:parse`
-- @tparam table headers the delivery's headers
-- @treturn ?string the key
-- @usage local key = hamsa.webhook.dedupe_key(event, headers)
function M.dedupe_key(event, headers)
    local data = type(event.data) == "table" and event.data or {}
    local delivery = id_of((header(headers, "x-hamsa-delivery-id"))) or id_of(event.deliveryId)
        or id_of(data.deliveryId) or id_of(event.timestamp)
    if not delivery then return nil end
    return event.callId .. "\n" .. event.eventType .. "\n" .. delivery
end

--- Checks and decodes one delivery: event, or nil and an error (never raises).
-- It runs no listener (see `Webhook:respond`).
-- @tparam table headers the request's headers: names in any case, a value a
--   string or a list of strings
-- @tparam string body the raw body
-- @treturn[1] table event: the envelope, plus `known`, `duplicate` and, for
--   `call.ended`, `conversation`
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err: kind "auth" (`err.status` 401) or
--   "invalid" (400, or 413 for a body over `max_body_bytes`)
-- @usage local event, err = wh:parse(headers, body)
-- if not event then return err.status end
-- if not event.duplicate then handle(event) end
function Webhook:parse(headers, body)
    local value, what = header(headers, "authorization")
    if not value then return auth_error(what) end
    if not constant_equal(value, EXPECTED[self] or "") then return auth_error("does not match") end
    if type(body) ~= "string" then return invalid("webhook body must be a string") end
    if #body > self.max_body_bytes then
        return invalid(format("webhook body over %d bytes", self.max_body_bytes), 413)
    end
    local okd, event, derr = pcall(decode, body)
    if not okd or event == nil then return invalid("webhook body is not JSON: " .. tostring(derr or event)) end
    if type(event) ~= "table" or getmetatable(event) ~= nil then
        return invalid("webhook body is not an event object")
    end
    if type(event.eventType) ~= "string" or event.eventType == "" then
        return invalid("webhook event has no eventType")
    end
    if type(event.callId) ~= "string" or event.callId == "" then
        return invalid("webhook event has no callId")
    end
    event.known = KNOWN[event.eventType] == true
    if event.eventType == "call.ended" then event.conversation = conversation(event.data) end
    event.duplicate = false
    local key = M.dedupe_key(event, headers)
    if key then
        local okst, seen = pcall(self.store.seen, self.store, key, self.dedupe_seconds)
        event.duplicate = okst and seen == true
    end
    return event
end

--- Registers `fn(event)` for every new event accepted; returns a function
-- that unregisters it. `client:watch(wh)` uses it.
-- @tparam function fn called with each new event, under pcall
-- @treturn function the unregistering function
-- @raise when `fn` is not a function
-- @usage local stop = wh:watch(function(event) print(event.eventType) end)
-- stop()
function Webhook:watch(fn)
    if type(fn) ~= "function" then error("hamsa.webhook:watch: expected a function", 2) end
    local listeners = self.listeners
    listeners[#listeners + 1] = fn
    return function()
        for i = #listeners, 1, -1 do
            if listeners[i] == fn then table.remove(listeners, i) return end
        end
    end
end

--- Runs the listeners, then `on_event` (if any), each under pcall, on a new
-- event. Returns true, or false and what `on_event` raised.
-- For hosts that answer first (`Webhook:answer`) and work after.
-- @tparam table event an event of `Webhook:answer`
-- @tparam[opt] function on_event
-- @treturn[1] boolean true
-- @treturn[2] boolean false
-- @return[2] what `on_event` raised
-- @usage local status, reply, event = wh:answer(headers, body)
-- send(status, reply)
-- if event then wh:dispatch(event, on_event) end
function Webhook:dispatch(event, on_event)
    local list = self.listeners
    for i = 1, #list do pcall(list[i], event) end
    if on_event == nil then return true end
    local okh, herr = pcall(on_event, event)
    if okh then return true end
    return false, herr
end

local OK, DUPLICATE = '{"ok":true}', '{"ok":true,"duplicate":true}'

--- The answer to one delivery without running anything: status, reply
-- (JSON), and the event to dispatch (nil for a duplicate or an error).
-- For hosts that answer first and work after (serve, OpenResty).
-- @tparam table headers as for `Webhook:parse`
-- @tparam string body the raw body
-- @treturn number status: 200, 400, 401 or 413
-- @treturn string reply: the JSON body of the answer
-- @treturn ?table the event, when it is new
-- @usage local status, reply, event = wh:answer(headers, body)
function Webhook:answer(headers, body)
    local event, err = self:parse(headers, body)
    if not event then
        local reply = core.json.encode({ error = { kind = err.kind, message = err.message } })
        return err.status, reply or '{"error":{}}'
    end
    if event.duplicate then return 200, DUPLICATE end
    return 200, OK, event
end

--- Answers one delivery and runs `on_event` for a new event: returns status
-- (200, 400, 401 or 413), reply (a JSON string), and, when
-- `on_event` raised, what it raised (the status is 200 all the same).
-- `on_event(event)` and the listeners run for new events only.
-- @tparam table headers as for `Webhook:parse`
-- @tparam string body the raw body
-- @tparam[opt] function on_event `function(event)`
-- @treturn number status
-- @treturn string reply
-- @return what `on_event` raised, if it did
-- @usage -- in any HTTP server's handler
-- local status, reply = wh:respond(req.headers, req.body, function(event)
--     if event.eventType == "call.ended" then save(event.conversation) end
-- end)
-- return status, { ["content-type"] = "application/json" }, reply
function Webhook:respond(headers, body, on_event)
    local status, reply, event = self:answer(headers, body)
    if event then
        local okh, herr = self:dispatch(event, on_event)
        if not okh then return status, reply, herr end
    end
    return status, reply
end

M.Webhook = Webhook
M.null = null

--- Serves webhooks on LuaSocket (see `hamsa.webhook.serve` for the options
-- and the server's methods); LuaSocket is required only when this is called.
-- hamsa.webhook.serve is not in the library's rock but in hamsa-mock's,
-- which brings LuaSocket (docs/packaging.md).
-- @tparam table opts those of `new`, plus `host`, `port`, `path`,
--   `on_event`, `on_listen`, `on_error`, `max_connections` and timeouts
-- @treturn table the server (`url`, `step`, `run`, `close`, `stats`, `watch`)
-- @raise on misuse, or when the address cannot be bound
-- @usage local srv = hamsa.webhook.serve { auth_key = "Token", auth_secret = "s3cret", port = 8080,
--     on_event = function(event) print(event.eventType, event.callId) end }
-- srv:run()
function M.serve(opts)
    local found, serve = pcall(require, "hamsa.webhook.serve")
    if not found then
        error("hamsa.webhook.serve needs LuaSocket and the rock hamsa-mock (luarocks install hamsa-mock): "
            .. tostring(serve), 2)
    end
    local srv = serve.serve(opts, M)
    return srv   -- not a tail call: its errors blame the caller's line
end

-- new, for serve: misuse blamed `extra` frames further out.
function M._new_from(opts, extra)
    depth = extra
    local okn, res = pcall(M.new, opts)
    depth = 0
    if not okn then error(res, 0) end
    return res
end

return M
