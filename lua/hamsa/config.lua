--- Configuration: the option tables, their checks, the header lines, and
-- what `hamsa.new` makes of its options (key, base URL, shared headers,
-- logging). Misuse raises at the caller's level; a bad value read from the
-- environment becomes `client._config_err`, which fails every request
-- instead (docs/client.md, "Configuration").
-- @module hamsa.config
local core = require "hamsa.core"
local url = require "hamsa.url"

local type, pairs, error, tostring, setmetatable = type, pairs, error, tostring, setmetatable
local floor = math.floor
local find, format, match, lower = string.find, string.format, string.match, string.lower
local getenv = os.getenv

local M = {}

M.DEFAULT_BASE_URL = "https://api.tryhamsa.com"

M.DEFAULTS = {
    timeout = 30,
    connect_timeout = 10,
    max_retries = 2,
    max_connections = 32,
    max_response_bytes = 16 * 1024 * 1024,
    max_request_bytes = 1024 * 1024,
    max_request_depth = 100,     -- JSON nesting of a request body (the codec allows 1000)
}
local DEFAULTS = M.DEFAULTS

-- option name -> Lua type; anything else is misuse and raises
M.CLIENT_OPTIONS = {
    api_key = "string", base_url = "string", timeout = "number", connect_timeout = "number",
    max_retries = "number", headers = "table", user_agent = "string", ca_file = "string",
    proxy = "string", validate = "boolean", max_connections = "number",
    max_response_bytes = "number", stall_timeout = "number", allow_insecure_http = "boolean",
    logger = "function", on_error = "function", max_request_bytes = "number", trace = "boolean",
}
M.REQUEST_OPTIONS = {
    timeout = "number", connect_timeout = "number", max_retries = "number", headers = "table",
    idempotency_key = "string", query = "table", on_done = "function", stall_timeout = "number",
    dry_run = "boolean",
}
local REQUEST_OPTIONS = M.REQUEST_OPTIONS

-- The key is kept out of the client table, so that dumping a client (an
-- inspector, a debugger, a careless log line) cannot show it. Only the
-- redaction of logs and errors reads it (M.secret).
local SECRETS = setmetatable({}, { __mode = "k" })

--- The client's API key, for redaction only (nil when it has none).
function M.secret(client)
    return SECRETS[client]
end

---------------------------------------------------------------------------
-- option checking (misuse raises at the caller's level)

-- Upper bounds of the numeric options: each value reaches libcurl through a
-- C cast, and a double out of the target type's range is undefined there.
-- A timeout above MAX_SECONDS (11.5 days) means "no timeout" in practice.
local MAX_SECONDS = 1e6
M.BOUNDS = {
    timeout = { 0.001, MAX_SECONDS }, connect_timeout = { 0.001, MAX_SECONDS },
    stall_timeout = { 1, MAX_SECONDS }, max_retries = { 0, 100, true },
    max_connections = { 1, 65536, true }, max_response_bytes = { 1, 2 ^ 32 - 1, true },
    max_request_bytes = { 1, 2 ^ 32 - 1, true },
}
local BOUNDS = M.BOUNDS

local function check_number(v, name, where, level)
    local b = BOUNDS[name]
    local lo, hi, integer = b[1], b[2], b[3]
    if not (v >= lo and v <= hi) or (integer and v ~= floor(v)) then   -- NaN fails the first test
        error(format("%s: %s must be %s from %s to %s", where, name, integer and "an integer" or "a number",
            tostring(lo), integer and format("%.0f", hi) or tostring(hi)), level + 1)
    end
end

--- Whether `v` is not a usable wait in seconds (NaN included).
function M.bad_wait(v)
    return type(v) ~= "number" or v ~= v or v < 0
end

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

-- Headers the library owns: the key goes in api_key, and one
-- Idempotency-Key per logical request comes from opts.idempotency_key (a
-- client-wide one would make different calls share a key).
local OWNED = {
    authorization = "set api_key instead of an Authorization header",
    ["idempotency-key"] = "set opts.idempotency_key per request instead of an Idempotency-Key header",
}

--- Checks a headers table and returns its lines in an order-preserving
-- map keyed by lower-cased name (`into`, or a new one). CR, LF and NUL
-- are refused everywhere: they would let a value smuggle in another header.
local function header_lines(h, where, level, into)
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
M.header_lines = header_lines

--- The lines of a header map, in order.
local function flatten(map)
    local out = {}
    for i, lname in pairs(map.order) do out[i] = map.lines[lname] end
    return out
end
M.flatten = flatten

--- Checks an options table against a spec of names and types, and the
-- values that would otherwise fail later, far from the caller's line.
-- `level` is the error level of the caller's caller.
function M.check_options(opts, spec, where, level)
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

---------------------------------------------------------------------------
-- what hamsa.new makes of its options

local function lua_version()
    if type(jit) == "table" and jit.version then return jit.version end   -- luacheck: ignore jit
    return _VERSION
end

-- The key: opts.api_key (control characters raise), else HAMSA_API_KEY
-- (trimmed: an env file written on Windows leaves "\r" at the end; what is
-- still malformed fails requests, never raises). Returns key, problem.
local function read_key(opts, level)
    local key = opts.api_key
    if key == nil then
        key = getenv("HAMSA_API_KEY")
        key = key and match(key, "^%s*(.-)%s*$")
        if key and find(key, "[%z\1-\31\127]") then
            return nil, "HAMSA_API_KEY contains control characters"
        end
    elseif find(key, "[%z\1-\31\127]") then
        error("hamsa.new: api_key must not contain control characters (CR, LF, NUL, ...)", level + 1)
    end
    if key == "" then key = nil end
    return key
end

-- The base URL (opts, else HAMSA_BASE_URL, else the default), normalized,
-- and the problem that fails every request, if any.
local function read_base(opts, key, key_err, level)
    local base = opts.base_url
    local from_env = false
    if base == nil then
        base = getenv("HAMSA_BASE_URL")
        from_env = base ~= nil and base ~= ""
        if not from_env then base = M.DEFAULT_BASE_URL end
    end
    local scheme, host, path = url.parse_base(base)
    local problem
    if not scheme then
        if not from_env then error("hamsa.new: base_url must be an http:// or https:// URL", level + 1) end
        problem = "HAMSA_BASE_URL is not an http:// or https:// URL"
    elseif scheme == "http" and not url.is_loopback(host) and not opts.allow_insecure_http then
        problem = "refusing to send the API key over plain http:// to " .. host ..
            "; use https:// or set allow_insecure_http = true"
    elseif key_err then
        problem = key_err
    elseif not key then
        problem = "no API key: pass api_key to hamsa.new or set HAMSA_API_KEY"
    end
    return scheme and (scheme .. "://" .. match(base, "^%a[%w+.-]*://([^/?#]+)") .. path) or base, problem
end

-- The header lines every request shares, built once: the map (for
-- per-request headers to override), the lines, and the lines with a
-- Content-Type for requests with a body.
local function shared_headers(self, opts, level)
    local map = { order = {}, lines = {} }
    header_lines({
        ["Accept"] = "application/json",
        ["User-Agent"] = opts.user_agent or format("lua-hamsa/%s (%s; libcurl/%s)",
            core._VERSION, lua_version(), core.curl_version),
    }, "hamsa.new", level + 1, map)
    if opts.headers then header_lines(opts.headers, "hamsa.new", level + 1, map) end
    self._header_map = map
    local lines = flatten(map)
    self._headers = lines
    local with_body = { "Content-Type: application/json" }
    for i = 1, #lines do with_body[i + 1] = lines[i] end
    self._headers_json = with_body
end

-- HAMSA_LOG=debug: one line per attempt, retry and outcome on stderr;
-- HAMSA_LOG=trace (or trace = true): also libcurl's verbose output
-- (connection, TLS, header lines; never bodies), redacted.
local function logging(self, opts)
    local env_log = getenv("HAMSA_LOG")
    self._trace = opts.trace or env_log == "trace"
    if opts.logger then
        self._log = opts.logger
    elseif env_log == "debug" or self._trace then
        self._log = function(lvl, msg) io.stderr:write("hamsa ", lvl, ": ", msg, "\n") end
    end
end

--- Fills a new client's configuration from `opts` (checked already): the
-- settings, the key (kept in SECRETS), the base URL, the shared headers,
-- logging; returns the options of its `core.multi`. The Authorization line
-- goes to the C engine only: no Lua table a client, a request or a spec
-- reaches holds the key.
function M.configure(self, opts, level)
    self._timeout = opts.timeout or DEFAULTS.timeout
    self._connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout
    self._max_retries = opts.max_retries or DEFAULTS.max_retries
    self._max_body = opts.max_response_bytes or DEFAULTS.max_response_bytes
    self._max_request = opts.max_request_bytes or DEFAULTS.max_request_bytes
    self._stall = opts.stall_timeout
    self._validate = opts.validate ~= false
    self._ca_file, self._proxy, self._on_error = opts.ca_file, opts.proxy, opts.on_error
    local key, key_err = read_key(opts, level + 1)
    SECRETS[self] = key
    self._base_url, self._config_err = read_base(opts, key, key_err, level + 1)
    shared_headers(self, opts, level + 1)
    logging(self, opts)
    return {
        max_host_connections = opts.max_connections or DEFAULTS.max_connections,
        auth = key and ("Authorization: Token " .. key) or nil,
    }
end

return M
