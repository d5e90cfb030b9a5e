--- hamsa.openresty_webhook: Hamsa's webhooks received inside nginx; loaded
-- by `require("hamsa.openresty").webhook(opts, on_event)`.
--
--     # nginx.conf, http level: dedupes across workers
--     lua_shared_dict hamsa_webhooks 1m;
--
--     location = /hamsa/webhook {
--         client_max_body_size 1m;   # at least max_body_bytes, or nginx answers 413 itself
--         content_by_lua_block {
--             require("hamsa.openresty").webhook({
--                 auth_key = "Token", auth_secret = os.getenv("HAMSA_WEBHOOK_SECRET"),
--                 shared_dict = "hamsa_webhooks",
--             }, function(event) ... end)
--         }
--     }
--
-- The handler answers at once (200, 400, 401 or 413, a JSON body) and only
-- then runs `on_event(event)`, for an event not seen before, in a timer
-- (`ngx.timer.at(0, ...)`), where it may yield (ngx.sleep, cosockets,
-- hamsa.openresty calls), after the listeners of `wh:watch`. An error raised
-- in on_event is logged. The body is bounded before it is read whole: by
-- Content-Length, else (chunked) by the size of the file nginx buffered it to.
--
-- Deduplication: with `shared_dict`, a delivery is new when `dict:add` of
-- its key succeeds, which is atomic across the workers (a full dict takes
-- the event as new, with a warning in the log). Without it each worker
-- remembers what it saw by itself (hamsa.webhook's memory store), so the
-- same delivery reaching two workers runs `on_event` in both.
-- @module hamsa.openresty_webhook
-- @license MIT

-- luacheck: globals ngx

local type, tostring, error, format = type, tostring, error, string.format
local open = io.open

local M = {}

--- The default of `max_body_bytes`, as in hamsa.webhook (1 MiB).
-- @usage -- nginx: client_max_body_size must be at least this (1m)
M.MAX_BODY_BYTES = 1024 * 1024

-- A store over a lua_shared_dict: add fails when the key is there, unexpired.
local function dict_store(name)
    local dict = ngx.shared[name]
    if not dict then
        error(format("hamsa.openresty.webhook: no lua_shared_dict %q in nginx.conf", name), 4)
    end
    return {
        seen = function(_, key, ttl)
            if ttl <= 0 then return false end     -- exptime 0 would be "never expires"
            local ok, err = dict:add(key, true, ttl)
            if ok then return false end
            if err == "exists" then return true end
            -- the dict is full (or another failure): take the event as new
            ngx.log(ngx.WARN, "hamsa.openresty.webhook: lua_shared_dict ", name, ": ", err)
            return false
        end,
    }
end

local hooks, nhooks = {}, 0     -- options key -> webhook object, per worker

local function webhook_of(opts)
    local key = format("%q %q %s %s %q", tostring(opts.auth_key), tostring(opts.auth_secret),
        tostring(opts.dedupe_seconds), tostring(opts.max_body_bytes), tostring(opts.shared_dict))
    local wh = hooks[key]
    if wh then return wh end
    -- without shared_dict: hamsa.webhook's own in-process store, one per worker
    local store = opts.shared_dict and dict_store(opts.shared_dict) or nil
    wh = require("hamsa.webhook").new {
        auth_key = opts.auth_key, auth_secret = opts.auth_secret,
        dedupe_seconds = opts.dedupe_seconds, max_body_bytes = opts.max_body_bytes,
        store = store,
    }
    if nhooks >= 100 then hooks, nhooks = {}, 0 end
    hooks[key], nhooks = wh, nhooks + 1
    return wh
end

local function answer(status, reply)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #reply + 1
    ngx.say(reply)
    ngx.eof()
end

-- The body, or nil when it is larger than max (never read whole then).
local function read_body(max)
    local length = tonumber(ngx.var.http_content_length)
    if length and length > max then return nil end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if body then return #body <= max and body or nil end
    local path = ngx.req.get_body_file()
    if not path then return "" end
    local f, err = open(path, "rb")
    if not f then error("hamsa.openresty.webhook: cannot read the buffered body: " .. tostring(err)) end
    local size = f:seek("end")
    if not size or size > max then
        f:close()
        return nil
    end
    f:seek("set")
    body = f:read(size) or ""
    f:close()
    return body
end

-- The listeners and on_event (hamsa.webhook's dispatch, under pcall).
local function run(premature, wh, on_event, event)
    if premature then return end
    local ok, err = wh:dispatch(event, on_event)
    if not ok then ngx.log(ngx.ERR, "hamsa.openresty.webhook: on_event raised: ", tostring(err)) end
end

--- Answers one webhook delivery, then runs `on_event(event)` for a new event.
-- @tparam table opts `auth_key`, `auth_secret`, `dedupe_seconds`,
--   `max_body_bytes` (as in `hamsa.webhook.new`), `shared_dict` (the name of
--   a `lua_shared_dict`)
-- @tparam function on_event `function(event)`, run in a timer for each new event
-- @raise on misuse (options not a table, `on_event` not a function)
-- @usage require("hamsa.openresty_webhook").webhook({ auth_key = "Token", auth_secret = secret },
--     function(event) if event.eventType == "call.ended" then save(event.conversation) end end)
function M.webhook(opts, on_event)
    if type(opts) ~= "table" then error("hamsa.openresty.webhook: options must be a table", 2) end
    if type(on_event) ~= "function" then error("hamsa.openresty.webhook: on_event must be a function", 2) end
    local wh = webhook_of(opts)
    local max = opts.max_body_bytes or M.MAX_BODY_BYTES
    local body = read_body(max)
    if not body then   -- the reply of hamsa.webhook for a body over max_body_bytes
        return answer(413, format('{"error":{"kind":"invalid","message":"webhook body over %d bytes"}}', max))
    end
    -- header names in any case, a repeated one as a list: as hamsa.webhook takes them
    local status, reply, event = wh:answer(ngx.req.get_headers(), body)
    answer(status, reply)
    if event then       -- new: not a duplicate, not an error
        local ok, err = ngx.timer.at(0, run, wh, on_event, event)
        if not ok then  -- no timer (too many pending): run it here, the answer is out already
            ngx.log(ngx.WARN, "hamsa.openresty.webhook: ngx.timer.at failed (", err, "), on_event runs in the request")
            run(false, wh, on_event, event)
        end
    end
end

return M
