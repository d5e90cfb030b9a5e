--- hamsa.openresty: the library inside nginx's Lua module (OpenResty,
-- lua-nginx-module 0.10.21+, e.g. Debian's libnginx-mod-http-lua).
--
-- libcurl blocks, and a blocking call on nginx's event loop stalls every
-- other request of that worker. Here each call runs in one of nginx's
-- worker threads (`ngx.run_worker_thread`): the request that makes it
-- waits (its coroutine yields), the worker goes on serving the others.
--
--     # nginx.conf, main level
--     thread_pool hamsa threads=16;
--     env HAMSA_API_KEY;
--
--     -- content_by_lua_block, access_by_lua_block or rewrite_by_lua_block
--     local hamsa = require "hamsa.openresty"
--     local client = hamsa.new()               -- the options of hamsa.new
--     local agent, err = client.agents:create { agentName = "Sara" }
--     if not agent then ngx.log(ngx.ERR, tostring(err)) end
--
-- The same calls, arguments and results as `hamsa` (every route of
-- `hamsa.routes`, such as `agents:create` or `calls:twilio`, and `client:request`),
-- with these differences, all because values cross into another Lua VM by
-- copy: options are plain values (no `logger`, `on_error`, `on_done`);
-- results are copies, whose arrays lose their array mark (the fields the
-- library knows as arrays are still sent as `[]`); numbers are LuaJIT's
-- doubles (README, "JSON"). Each thread's VM keeps one client per distinct
-- options, so connections are kept alive across calls. The thread pool is
-- `thread_pool` in the options (default "hamsa"). The module also holds
-- `null`, `array`, `object`, `json` and `is_error`, the same values as in
-- `hamsa`.
-- @module hamsa.openresty
-- @license MIT

local errors = require "hamsa.errors"

local type, pairs, ipairs, error, tostring, select, setmetatable, pcall, next =
    type, pairs, ipairs, error, tostring, select, setmetatable, pcall, next
local sort, concat, format, match, find, gmatch = table.sort, table.concat, string.format, string.match,
    string.find, string.gmatch
local unpack = table.unpack or unpack       -- luacheck: ignore unpack

local M = {}

--- The thread pool used when the options name none ("hamsa").
-- @usage require("hamsa.openresty").thread_pool = "api_calls"   -- thread_pool api_calls threads=16;
M.thread_pool = "hamsa"

local hamsa = require "hamsa"
-- The same values as in `hamsa`.
M.null, M.array, M.object, M.json, M.is_error = hamsa.null, hamsa.array, hamsa.object, hamsa.json, hamsa.is_error

-- What a call may name, per resource ("" is the client itself): every
-- method of every resource (the rows of the route table, and the waiters),
-- and client:request. `each` is not among them: its iterator cannot cross
-- into a thread, so it runs here and sends each page's `list` there.
local METHODS = { [""] = { request = true } }
local resources = require "hamsa.resources"
for name, class in pairs(resources.CLASSES) do
    local methods = {}
    for method, fn in pairs(class) do
        if type(fn) == "function" and method ~= "each" and not find(method, "^_") then methods[method] = true end
    end
    METHODS[name] = methods
end

-- resource -> its paged `list` row, for `each`
local pager = require "hamsa.pager"
local LISTS = {}
for _, row in ipairs(require "hamsa.routes") do
    if row.paging and row.name == "list" then LISTS[row.resource] = row end
end

-- A resource of a client by its name, dotted for nested ones ("v2.agents").
local function resource_of(holder, name)
    for part in gmatch(name, "[^.]+") do holder = holder[part] end
    return holder
end

---------------------------------------------------------------------------
-- In the worker thread's VM

local clients = {}          -- options key -> client, one per VM

--- Runs one call; `ngx.run_worker_thread` calls this in a worker thread.
-- @return "ok", data, response | "err", err, response | "raise", message
-- @local
function M.dispatch(key, opts, resource, method, n, ...)
    if not (METHODS[resource] and METHODS[resource][method]) then
        return "raise", "hamsa.openresty: no such call: " .. tostring(resource) .. ":" .. tostring(method)
    end
    local client = clients[key]
    if not client then
        local ok, c = pcall(hamsa.new, opts)
        if not ok then return "raise", tostring(c) end
        client, clients[key] = c, c
    end
    local target = resource == "" and client or resource_of(client, resource)
    local ok, a, b, c = pcall(target[method], target, unpack({ ... }, 1, n))
    if not ok then return "raise", tostring(a) end
    if a == nil then return "err", b, c end
    return "ok", a, b
end

---------------------------------------------------------------------------
-- In nginx's request handlers

local OPTS = setmetatable({}, { __mode = "k" })     -- proxy -> { key, opts, pool, base_url }
local CHECKED, nchecked = {}, 0                     -- options key -> base_url, checked already

-- A copy of a table of plain values (what crosses into another VM), or
-- raises naming the first value that cannot cross.
local function plain(v, where, level, depth)
    local t = type(v)
    if t == "table" then
        if depth > 20 then error(where .. ": nested too deep", level) end
        local out = {}
        for k, x in pairs(v) do
            local kt = type(k)
            if kt ~= "string" and kt ~= "number" then
                error(format("%s: a %s key cannot cross into a worker thread", where, kt), level)
            end
            out[k] = plain(x, where .. "." .. tostring(k), level + 1, depth + 1)
        end
        return out
    elseif t == "function" or t == "thread" or (t == "userdata" and v ~= hamsa.null) then
        error(format("%s: a %s cannot cross into a worker thread (hamsa.openresty)", where, t), level)
    end
    return v
end

-- A stable text of the options, the key of a thread's client.
local function serialize(v, out)
    local t = type(v)
    if t ~= "table" then
        out[#out + 1] = t == "string" and format("%q", v) or tostring(v)
        return out
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    out[#out + 1] = "{"
    for _, k in ipairs(keys) do
        out[#out + 1] = format("%q=", tostring(k))
        serialize(v[k], out)
        out[#out + 1] = ","
    end
    out[#out + 1] = "}"
    return out
end

local function call(proxy, resource, method, ...)
    local state = OPTS[proxy]
    if not state then error("use client:" .. method .. "(...) (with a colon)", 3) end
    local n = select("#", ...)
    local args = { ... }
    for i = 1, n do
        args[i] = plain(args[i], method .. " argument #" .. i, 4, 0)
    end
    local ngx = rawget(_G, "ngx")
    local ok, status, a, b = ngx.run_worker_thread(state.pool, "hamsa.openresty", "dispatch",
        state.key, state.opts, resource, method, n, unpack(args, 1, n))
    if not ok then
        return nil, errors.new("config", "ngx.run_worker_thread failed: " .. tostring(status) ..
            " (is `thread_pool " .. state.pool .. " threads=N;` in nginx.conf?)")
    end
    if status == "ok" then return a, b end
    if status == "err" then return nil, setmetatable(a, errors.Error), b end
    -- misuse inside the thread: raise it here, at the caller's line
    error(match(tostring(a), "^[^\n]-:%d+: (.*)$") or tostring(a), 3)
end

-- The proxy of one resource of client `self`: each method runs on a worker
-- thread; `each` runs here and sends each page's `list` there.
local function proxy(self, resource, methods)
    local r = {}
    for method in pairs(methods) do
        r[method] = function(res, ...)
            if res ~= r then error("use client." .. resource .. ":" .. method .. "(...) (with a colon)", 2) end
            local a, b, c = call(self, resource, method, ...)   -- not a tail call
            return a, b, c
        end
    end
    local row = LISTS[resource]
    if row then
        r.each = function(res, query, each_opts)
            if res ~= r then error("use client." .. resource .. ":each(...) (with a colon)", 2) end
            pager.check(row, query, each_opts, resource .. ":each", 2)
            return pager.iterate(function(q, o)
                local a, b, c = call(self, resource, "list", q, o)
                return a, b, c
            end, row, query, each_opts)
        end
    end
    return r
end

local Client = {}
Client.__index = Client

function Client:__tostring()
    return format("hamsa.openresty client (%s)", tostring(OPTS[self] and OPTS[self].base_url))
end

--- `client:request(method, path [, body] [, opts])`, in a worker thread:
-- the escape hatch of `hamsa.client.Client:request`. A client of
-- `hamsa.openresty.new` has it and the resources of a `hamsa` client
-- (`client.agents:create(body)`, `client.calls:twilio(body)`,
-- `client.conversations:wait(id)`, `client.agents:each()`, ...), with the
-- same arguments and results, each call run in a worker thread; it has no
-- `poll`, `wait`, `spawn` or `on_done`: nginx's event loop does their work.
-- @tparam string method "GET", "POST", "PATCH", ...
-- @tparam string path like "/v1/voice-agents"
-- @tparam[opt] table body the JSON body
-- @tparam[opt] table opts the request options (plain values), plus `query`
-- @return[1] data
-- @treturn[1] table response
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err
-- @usage local data, err = client:request("GET", "/v1/voice-agents", nil, { query = { take = 5 } })
function Client:request(...)
    local a, b, c = call(self, "", "request", ...)     -- not a tail call: error levels
    return a, b, c
end

--- Makes a client whose calls run in nginx's worker threads. Raises on a
-- malformed options table (checked at once, by `hamsa.new` itself) or
-- outside nginx.
-- @tparam[opt] table opts the options of `hamsa.new` (plain values), plus
--   `thread_pool` (default `hamsa.openresty.thread_pool`)
-- @treturn table a client with the resources and `request` (see `Client:request`)
-- @raise on misuse, or outside nginx
-- @usage local client = require("hamsa.openresty").new { timeout = 10 }
-- local call, err = client.calls:phone_number { toNumber = to, phoneNumber = from, voiceAgentId = id }
-- if not call then return ngx.exit(502) end
function M.new(opts)
    local ngx = rawget(_G, "ngx")
    if not (ngx and ngx.run_worker_thread) then
        error("hamsa.openresty: needs nginx's Lua module with ngx.run_worker_thread (0.10.21+)", 2)
    end
    if opts ~= nil and type(opts) ~= "table" then error("hamsa.openresty.new: options must be a table", 2) end
    local copy = plain(opts or {}, "hamsa.openresty.new", 3, 0)
    local pool = copy.thread_pool or M.thread_pool
    if type(pool) ~= "string" then error("hamsa.openresty.new: thread_pool must be a string", 2) end
    copy.thread_pool = nil
    local key = concat(serialize(copy, {}))
    local base_url = CHECKED[key]
    if not base_url then
        -- the option checks of hamsa.new, here, so that misuse raises at the caller's line
        local client_mod = require "hamsa.client"
        local probe = client_mod.new(copy, 3)
        base_url = client_mod.base_url(probe)
        probe:close()
        if nchecked >= 100 then CHECKED, nchecked = {}, 0 end
        CHECKED[key], nchecked = base_url, nchecked + 1
    end
    local self = setmetatable({}, Client)
    OPTS[self] = { key = key, opts = copy, pool = pool, base_url = base_url }
    for resource, methods in pairs(METHODS) do
        if resource ~= "" then resources.place(self, resource, proxy(self, resource, methods)) end
    end
    return self
end

--- Receives one of Hamsa's webhooks in a `content_by_lua` handler: answers
-- at once, then runs `on_event(event)` for a new event in a timer. See
-- `hamsa.openresty_webhook` (loaded on first use).
-- @tparam table opts `auth_key`, `auth_secret`, `dedupe_seconds`,
--   `max_body_bytes`, `shared_dict`
-- @tparam function on_event `function(event)`, run for each new event
-- @raise on misuse (options not a table, `on_event` not a function)
-- @usage -- content_by_lua_block
-- require("hamsa.openresty").webhook({ auth_key = "Token", auth_secret = secret,
--     shared_dict = "hamsa_webhooks" }, function(event) ngx.log(ngx.INFO, event.eventType) end)
function M.webhook(opts, on_event)
    return require("hamsa.openresty_webhook").webhook(opts, on_event)
end

-- for the specs: the number of clients this VM keeps (worker-thread side)
function M._clients()
    local n = 0
    for _ in next, clients do n = n + 1 end
    return n
end

return M
