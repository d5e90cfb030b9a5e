--- Spec helpers: start the mock API in its own process and talk to its
-- control routes. Everything here uses LuaSocket and lua-cjson, never the
-- library under test (but mock_suite, which makes the block's client with
-- hamsa.new when asked to).
--
--     local helpers = require("spec.helpers")
--     local server = helpers.start_mock{ latency = 0.1 }
--     ... server.url, server.api_key ...
--     server:fault{ path = "/v1/voice-agents", status = 503, headers = { ["Retry-After"] = "1" } }
--     local log = server:requests()
--     server:stop()
--
-- A describe block with its own mock (and client) for all its tests:
--
--     local server, client
--     helpers.mock_suite({ setup, teardown, before_each }, { client = {}, clean = "faults" },
--         function(s, c) server, client = s, c end)

local socket = require("socket")
local http = require("socket.http")
local ltn12 = require("ltn12")
local cjson = require("cjson")

local concat = table.concat

local helpers = {}

-- The repository root, from this file's own path (spec/helpers.lua).
local ROOT
do
    local source = debug.getinfo(1, "S").source
    local dir = source:sub(1, 1) == "@" and source:sub(2):match("^(.*)/[^/]*$") or nil
    ROOT = dir and (dir == "spec" and "." or dir .. "/..") or "."
end
helpers.root = ROOT

--- Interpreter for Lua scripts the specs spawn (env `LUA`, default "lua5.4").
helpers.lua = os.getenv("LUA") or "lua5.4"
--- Interpreter for the mock (env `HAMSA_MOCK_LUA`, default "lua5.4": it needs LuaSocket).
helpers.mock_lua = os.getenv("HAMSA_MOCK_LUA") or "lua5.4"

local function quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
helpers.quote = quote

--- One HTTP request with LuaSocket.
-- @tparam string method
-- @tparam string url
-- @tparam[opt] string body raw body
-- @tparam[opt] table headers extra request headers
-- @return status, body, headers (lower-case names); or nil, err
function helpers.http(method, url, body, headers)
    local h = {}
    for k, v in pairs(headers or {}) do h[k:lower()] = v end
    if body then
        h["content-length"] = tostring(#body)
        h["content-type"] = h["content-type"] or "application/json"
    end
    local chunks = {}
    local ok, status, resp_headers = http.request{
        url = url, method = method, headers = h,
        source = body and ltn12.source.string(body) or nil,
        sink = ltn12.sink.table(chunks),
    }
    if not ok then return nil, status end
    return status, concat(chunks), resp_headers
end

--- Reads one HTTP response from a raw LuaSocket tcp client.
-- @return `{ status, headers (lower-case), body }`, or nil, err, partial data
function helpers.read_response(sock)
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    local status = tonumber(line:match("^HTTP/1%.%d (%d%d%d)"))
    if not status then return nil, "bad status line: " .. line end
    local headers = {}
    while true do
        line, err = sock:receive("*l")
        if not line then return nil, err end
        if line == "" then break end
        local name, value = line:match("^([^:]+):%s*(.-)%s*$")
        if name then headers[name:lower()] = value end
    end
    local length = tonumber(headers["content-length"] or 0)
    local body = ""
    if length > 0 then
        local partial
        body, err, partial = sock:receive(length)
        if not body then return nil, err, partial end
    end
    return { status = status, headers = headers, body = body }
end

--- A TCP port on 127.0.0.1 that nothing listens on (bound, read, released).
-- @treturn integer
function helpers.free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return tonumber(port)
end

--- A port on 127.0.0.1 that listens but never accepts, its queue full:
-- the kernel drops new SYNs, so a connect there can only time out.
-- @return port, and a function that releases it
function helpers.unaccepting_port()
    local srv = assert(socket.bind("127.0.0.1", 0, 0))
    local _, port = srv:getsockname()
    local fillers = {}
    for i = 1, 3 do
        local c = socket.tcp()
        c:settimeout(0)
        c:connect("127.0.0.1", port)
        fillers[i] = c
    end
    return tonumber(port), function()
        for _, c in ipairs(fillers) do c:close() end
        srv:close()
    end
end

--- Runs a shell command.
-- @treturn string its stdout and stderr together, then a last line
--   "exit=N" with its status (popen's close answers differently per Lua)
function helpers.sh(cmd)
    local p = assert(io.popen(cmd .. " 2>&1; echo \"exit=$?\""))
    local out = p:read("*a")
    p:close()
    return out
end

--- Runs Lua source in a child interpreter (`helpers.lua`) with this
-- process's module paths and extra environment assignments, e.g.
-- `helpers.run_lua(src, "HAMSA_LOG=debug")`.
-- @treturn string what it printed on stdout and stderr
function helpers.run_lua(source, env)
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(source)
    f:close()
    local cmd = ("%s LUA_PATH=%s LUA_CPATH=%s %s %s 2>&1"):format(env or "",
        quote(package.path), quote(package.cpath), helpers.lua, script)
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    os.remove(script)
    return out
end

--- A table nested `depth` levels deep (the table itself is level 1),
-- starting from `top` (default a new table), linked through field `next`.
function helpers.nested(depth, top)
    local root = top or {}
    local t = root
    for _ = 2, depth do
        t.next = {}
        t = t.next
    end
    return root
end

--- The text of file `path` ("" when it cannot be read); removes the file
-- unless `keep`.
function helpers.slurp(path, keep)
    local f = io.open(path, "rb")
    local text = f and f:read("*a") or ""
    if f then f:close() end
    if not keep then os.remove(path) end
    return text
end

--- Writes `text` to a new temporary file (its name ending in `suffix`,
-- if given) and returns the file's path.
function helpers.write_file(text, suffix)
    local path = os.tmpname()
    if suffix then
        os.remove(path)
        path = path .. suffix
    end
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    return path
end

--- A path for a new SQLite ledger (nothing there yet).
function helpers.tmpdb()
    local path = os.tmpname()
    os.remove(path)
    return path .. ".db"
end

--- Removes a SQLite ledger and its WAL files.
function helpers.rm_db(path)
    for _, s in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. s) end
end

local Server = {}
Server.__index = Server

local function control(server, method, path, value)
    local body = value ~= nil and cjson.encode(value) or nil
    local status, text = helpers.http(method, server.url .. path, body)
    if status ~= 200 then
        error(("hamsa-mock %s %s: %s %s"):format(method, path, tostring(status), tostring(text)), 3)
    end
    return text
end

--- Every API request the mock received, oldest first: a list of
-- `{ method, path, query, headers, body }`.
function Server:requests()
    return cjson.decode(control(self, "GET", "/__mock/requests"))
end

--- `{ requests, inflight, max_inflight, ... }`: how many API requests the
-- mock was answering at once, at most, since the log was last cleared (and
-- the connection counters of hamsa.mock).
function Server:stats()
    return cjson.decode(control(self, "GET", "/__mock/stats"))
end

--- Clears the request log.
function Server:clear()
    control(self, "DELETE", "/__mock/requests")
end

--- Queues one fault (a table) or several (a list); see hamsa.mock.
function Server:fault(spec)
    return cjson.decode(control(self, "POST", "/__mock/faults", spec))
end

--- Drops the faults not consumed yet.
function Server:clear_faults()
    control(self, "DELETE", "/__mock/faults")
end

--- The mock's clock, `{ now, speed, frozen }`: read (no argument), or
-- changed by any of `{ speed = 10, advance = 5, freeze = true|false,
-- reset = true }` and read after.
function Server:clock(change)
    if change == nil then return cjson.decode(control(self, "GET", "/__mock/clock")) end
    return cjson.decode(control(self, "POST", "/__mock/clock", change))
end

--- Adds many records at once, e.g. `{ agents = 20000 }` (also
-- `conversations`, `campaigns`, `knowledge_base`, `phone_numbers`): the
-- counts added, and `totals` (what each store holds now).
function Server:seed(counts)
    return cjson.decode(control(self, "POST", "/__mock/seed", counts))
end

--- The webhook deliveries the mock made, oldest first: a list of
-- `{ url, eventType, callId, status (the receiver's HTTP status or an
-- error), attempt }` (hamsa.mock.webhooks).
function Server:webhooks()
    return cjson.decode(control(self, "GET", "/__mock/webhooks"))
end

--- Sends each webhook delivery `n` times from now on (1 to 10; reset
-- makes it 1 again); `{ repeat = n }`. Without `n`, reads it.
function Server:webhook_repeat(n)
    return cjson.decode(control(self, "POST", "/__mock/webhooks", n and { ["repeat"] = n } or {}))
end

--- Every call placed through a call route, in order: a list of
-- `{ id, toNumber, fromNumber, voiceAgentId, at }` (hamsa.mock).
function Server:calls()
    return cjson.decode(control(self, "GET", "/__mock/calls"))
end

--- Forgets every record, requests and faults, and puts the clock back on
-- real time.
function Server:reset()
    control(self, "POST", "/__mock/reset")
end

--- Kills the mock process; safe to call twice.
function Server:stop()
    if self.stopped then return end
    self.stopped = true
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    pcall(self.proc.close, self.proc)
end

--- Starts `bin/hamsa-mock` in its own process and waits until it listens.
-- @tparam[opt] table opts `api_key` ("test-key"), `host`, `port` (0),
--   `latency`, `header_timeout`, `idle_timeout`, `body_timeout`,
--   `call_seconds` (seconds), `max_connections`: each passed as its flag
--   only when given
-- @return a server: `url`, `api_key`, `pid`, `:stop()`, `:requests()`,
--   `:clear()`, `:fault(spec)`, `:clear_faults()`, `:reset()`, `:stats()`,
--   `:clock([change])`, `:seed(counts)`, `:webhooks()`, `:webhook_repeat([n])`
function helpers.start_mock(opts)
    opts = opts or {}
    local api_key = opts.api_key or "test-key"
    local lua_path = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. (os.getenv("LUA_PATH") or ";")
    local lua_cpath = os.getenv("HAMSA_MOCK_CPATH")
        or ROOT .. "/build/?.so;" .. (os.getenv("LUA_CPATH") or ";")
    local cmd = {
        "echo $$; exec env",
        "LUA_PATH=" .. quote(lua_path), "LUA_CPATH=" .. quote(lua_cpath),
        quote(helpers.mock_lua), quote(ROOT .. "/bin/hamsa-mock"),
        "--host", quote(opts.host or "127.0.0.1"),
        "--port", quote(opts.port or 0),
        "--api-key", quote(api_key),
    }
    for _, o in ipairs({ { "latency", "--latency" }, { "header_timeout", "--header-timeout" },
                         { "idle_timeout", "--idle-timeout" }, { "body_timeout", "--body-timeout" },
                         { "max_connections", "--max-connections" }, { "call_seconds", "--call-seconds" } }) do
        if opts[o[1]] then
            cmd[#cmd + 1] = o[2]
            cmd[#cmd + 1] = quote(opts[o[1]])
        end
    end
    local proc = assert(io.popen(concat(cmd, " "), "r"))
    local pid = tonumber(proc:read("*l"))
    local line = proc:read("*l")
    local url = line and line:match("^listening (http://%S+)$")
    if not (pid and url) then
        if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
        proc:close()
        error("hamsa-mock did not start (got " .. tostring(line) .. ")", 2)
    end
    local server = setmetatable({ url = url, api_key = api_key, pid = pid, proc = proc }, Server)
    -- A spec that fails before stop() must not leave busted waiting on the
    -- pipe at exit: kill the mock when the server is collected.
    local newproxy = rawget(_G, "newproxy")   -- Lua 5.1: tables have no __gc
    local guard = newproxy and newproxy(true) or setmetatable({}, { __gc = true })
    getmetatable(guard).__gc = function() server:stop() end
    server.guard = guard
    return server
end

local CLEAN = {
    log = function(server) server:clear() end,
    faults = function(server) server:clear_faults(); server:clear() end,
    reset = function(server) server:reset() end,
}

--- A mock for a describe block, and a client on it if asked, started and
-- stopped by the block's own hooks. busted puts setup, lazy_setup,
-- before_each... into each spec file's environment, not into _G, so the
-- block passes them in, in this order: what starts the block (`setup` or
-- `lazy_setup`), what ends it (`teardown` or `lazy_teardown`), then
-- `before_each` when `clean` or `client_per_test` is given, and
-- `after_each` with `client_per_test`. They run in the order of
-- registration, so a hook the block registers after this call sees the
-- server (and the client) started, and one registered before it runs first.
-- @tparam table hooks `{ setup, teardown [, before_each [, after_each]] }`
-- @tparam[opt] table opts
--   `mock`: the options of `helpers.start_mock`;
--   `client`: the options of `hamsa.new` for a client made after the mock
--     (`api_key` and `base_url` default to the mock's) and closed before it
--     stops; none when absent;
--   `client_per_test`: true to make that client before each test instead
--     (after `clean`) and close it after each;
--   `clean`: before each test, "log" (`server:clear()`), "faults"
--     (`server:clear_faults()`, then `server:clear()`) or "reset"
--     (`server:reset()`);
--   `retry_delay`: `hamsa.retry.BASE_DELAY` while the block runs (restored after).
-- @tparam[opt] function bind called with the server and the client (or nil)
--   each time they start, e.g. `function(s, c) server, client = s, c end`
-- @return a table whose `server` and `client` are the current ones
function helpers.mock_suite(hooks, opts, bind)
    opts = opts or {}
    local start, finish, before, after = hooks[1], hooks[2], hooks[3], hooks[4]
    local clean = opts.clean and assert(CLEAN[opts.clean], "mock_suite: clean is log, faults or reset")
    assert(start and finish, "mock_suite: hooks must hold setup and teardown")
    assert(before or not (clean or opts.client_per_test), "mock_suite: clean and client_per_test need before_each")
    assert(after or not opts.client_per_test, "mock_suite: client_per_test needs after_each")
    local ctx, saved_delay = {}, nil

    local function new_client()
        local o = { api_key = ctx.server.api_key, base_url = ctx.server.url }
        for k, v in pairs(opts.client or {}) do o[k] = v end
        ctx.client = require("hamsa").new(o)
        if bind then bind(ctx.server, ctx.client) end
    end

    start(function()
        if opts.retry_delay then
            local retry = require("hamsa.retry")
            saved_delay = retry.BASE_DELAY
            retry.BASE_DELAY = opts.retry_delay
        end
        ctx.server = helpers.start_mock(opts.mock)
        if bind then bind(ctx.server) end
        if opts.client and not opts.client_per_test then new_client() end
    end)

    finish(function()
        if saved_delay then require("hamsa.retry").BASE_DELAY = saved_delay end
        if ctx.client and not opts.client_per_test then ctx.client:close() end
        if ctx.server then ctx.server:stop() end
    end)

    if clean or opts.client_per_test then
        before(function()
            if clean then clean(ctx.server) end
            if opts.client_per_test then new_client() end
        end)
    end
    if opts.client_per_test then
        after(function() if ctx.client then ctx.client:close() end end)
    end
    return ctx
end

--- Starts openresty/nginx.sh (Debian's nginx + libnginx-mod-http-lua) on a
-- free port, in its own process, with a private prefix under build/openresty/.
-- Raises when nginx or the LuaJIT core (build/jit/hamsa/core.so) is missing.
-- @tparam table env environment variables for nginx (HAMSA_API_KEY ...)
-- @tparam[opt] table opts `server` (text of build/openresty/.../server-spec.conf:
--   locations), `http` (of http-spec.conf: http-level directives such as
--   lua_shared_dict), `workers` (NGINX_WORKERS: a master and that many workers)
-- @return `{ url, port, pid, prefix, stop }`
function helpers.start_nginx(env, opts)
    opts = opts or {}
    local p = io.popen("command -v nginx || ls /usr/sbin/nginx 2>&1")
    local found = p:read("*a")
    p:close()
    assert(found:find("nginx", 1, true), "nginx is not installed (make deps installs nginx and libnginx-mod-http-lua)")
    assert(io.open(ROOT .. "/build/jit/hamsa/core.so"),
        "no LuaJIT core: make build/jit/hamsa/core.so (make test builds it)")
    local port = helpers.free_port()
    local prefix = ROOT .. "/build/openresty/spec-" .. port
    os.execute("mkdir -p " .. quote(prefix))
    for name, text in pairs({ server = opts.server, http = opts.http }) do
        local f = assert(io.open(prefix .. "/" .. name .. "-spec.conf", "w"))
        f:write(text)
        f:close()
    end
    local vars = {}
    for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. quote(v) end
    if opts.workers then vars[#vars + 1] = "NGINX_WORKERS=" .. quote(opts.workers) end
    local cmd = ("echo $$; cd %s && exec env %s sh openresty/nginx.sh %d %s build/jit 2>&1")
        :format(quote(ROOT), concat(vars, " "), port, quote(prefix))
    local proc = assert(io.popen(cmd, "r"))
    local pid = tonumber(proc:read("*l"))
    local nginx = { url = "http://127.0.0.1:" .. port, port = port, pid = pid, prefix = prefix }
    local output = ""
    function nginx.stop()
        if nginx.stopped then return end
        nginx.stopped = true
        os.execute("kill " .. pid .. " 2>/dev/null")     -- the master (or the one process)
        output = proc:read("*a") or ""
        proc:close()
        os.execute("rm -rf " .. quote(prefix))
    end
    local deadline = socket.gettime() + 15
    while socket.gettime() < deadline do
        local c = socket.connect("127.0.0.1", port)
        if c then
            c:close()
            return nginx
        end
        local alive = os.execute("kill -0 " .. pid .. " 2>/dev/null")
        if alive ~= true and alive ~= 0 then break end       -- 5.1 gives 0, later true
        socket.sleep(0.05)
    end
    local f = io.open(prefix .. "/error.log")
    local log = f and f:read("*a") or ""
    if f then f:close() end
    nginx.stop()
    error("nginx did not start: " .. output .. log, 2)
end

return helpers
