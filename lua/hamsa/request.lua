--- Request building: validate → prepare → encode → headers → the call
-- record that hamsa.loop runs. No I/O happens here; what is refused here
-- never reaches the network.
-- @module hamsa.request
local core = require "hamsa.core"
local errors = require "hamsa.errors"
local retry = require "hamsa.retry"
local config = require "hamsa.config"

local type, next, pairs, tostring = type, next, pairs, tostring
local find, format = string.find, string.format

local encode = core.json.encode
local uuid4 = core.uuid4
local header_lines, flatten = config.header_lines, config.flatten
local MAX_DEPTH = config.DEFAULTS.max_request_depth

local M = {}

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

-- libcurl (and any proxy) would resolve a "." or ".." segment, sending the
-- request to another route: update("..") must not become PATCH /v1/.
-- (A plain search for "/." first spares most paths the two pattern scans.)
local function dot_segment(path)
    return find(path, "/.", 1, true) and (find(path, "/%.%.?/") or find(path, "/%.%.?$"))
end

-- The body checked, prepared and encoded: the JSON text, or nil and an error.
local function payload_of(self, body, validator, prepare)
    if validator and self._validate then
        local ok, field, msg = validator(body)
        if not ok then return nil, errors.invalid(field, msg) end
    end
    -- the route's preparation (hamsa.prepare): a field added by `fn`, the
    -- array places by the encoder
    local shape
    if prepare then
        if prepare.fn then body = prepare.fn(body) end
        shape = prepare.shape
    end
    -- the encoder enforces the depth cap in its own walk (saves a Lua walk of
    -- every body); on a failure nests_deeper tells whether depth is the error
    local s, e = encode(body, MAX_DEPTH, shape)
    if not s then
        if type(body) == "table" and nests_deeper(body, MAX_DEPTH, 1, {}) then
            return nil, errors.invalid(nil, format("the body nests deeper than %d levels", MAX_DEPTH))
        end
        return nil, errors.invalid(nil, "the body cannot be encoded as JSON: " .. tostring(e))
    end
    if #s > self._max_request then
        return nil, errors.invalid(nil, format("the body is %d bytes, over max_request_bytes (%d)",
            #s, self._max_request))
    end
    return s
end

-- The header lines of a request and, when they are the client's shared
-- list, the one extra line the engine appends (saves copying the list).
-- Per-request headers (checked with the options) replace same-named client
-- ones. A POST gets one Idempotency-Key for all its attempts.
local function headers_of(self, method, payload, opts)
    local idem = opts.idempotency_key                       -- checked with the options
    if not idem and method == "POST" then idem = uuid4() end
    if not opts.headers then
        return payload and self._headers_json or self._headers, idem and "Idempotency-Key: " .. idem, idem
    end
    local base = self._header_map
    local map = { order = {}, lines = {} }
    for i, lname in pairs(base.order) do map.order[i] = lname; map.lines[lname] = base.lines[lname] end
    header_lines(opts.headers, "request", 3, map)
    local headers = flatten(map)
    if payload and not map.lines["content-type"] then headers[#headers + 1] = "Content-Type: application/json" end
    if idem then headers[#headers + 1] = "Idempotency-Key: " .. idem end
    return headers, nil, idem
end

--- Builds the call record of one request (its fields: hamsa.loop).
-- `query` is the built query string (url.query) or nil; `opts` was checked.
-- @return call | nil, err
function M.build(self, method, path, query, body, opts, validator, prepare)
    if dot_segment(path) then
        return nil, errors.invalid(nil, format("%s %s: a path segment cannot be \".\" or \"..\"", method, path))
    end
    local payload, err
    if body ~= nil then
        payload, err = payload_of(self, body, validator, prepare)
        if not payload then return nil, err end
    end
    local headers, extra_header, idem = headers_of(self, method, payload, opts)
    local full = self._base_url .. path
    if query and query ~= "" then full = full .. "?" .. query end
    local stall = opts.stall_timeout or self._stall
    -- one table: the call record, and what core.multi:add reads of it (the
    -- engine reads its own fields and no others; saves a table per request)
    return {
        method = method, path = path, attempts = 0,
        max_retries = opts.max_retries or self._max_retries,
        on_done = opts.on_done, idempotency_key = idem,
        url = full, headers = headers, header = extra_header, body = payload,
        timeout = opts.timeout or self._timeout,
        connect_timeout = opts.connect_timeout or self._connect_timeout,
        ca_file = self._ca_file, proxy = self._proxy, max_body = self._max_body, verbose = self._trace,
        low_speed_limit = stall and 1 or nil, low_speed_time = stall,
        no_resend = not retry.IDEMPOTENT[method],
    }
end

return M
