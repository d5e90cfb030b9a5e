--- The mock's own routes, `/__mock/...` (no authentication, never
-- logged), and the entries of its request log. The routes are listed in
-- the module hamsa.mock.
-- @module hamsa.mock.control
-- @license MIT

local json = require("hamsa.core").json
local socket = require("socket")
local response = require("hamsa.mock.response")
local seed = require("hamsa.mock.seed")
local text = require("hamsa.mock.text")

local ipairs, pairs, tostring, type = ipairs, pairs, tostring, type
local ok, fail = response.ok, response.fail

local M = {}

---------------------------------------------------------------------------
-- The request log
---------------------------------------------------------------------------

-- Sets entry[field] to s, which must encode as JSON: a string that is not
-- valid UTF-8 is logged with each bad byte as U+FFFD, plus its exact bytes
-- in <field>_base64 and <field>_invalid_utf8 = true.
local function log_text(entry, field, s)
    local t, valid = text.utf8(s)
    entry[field] = t
    if not valid then
        entry[field .. "_base64"] = text.base64(s)
        entry[field .. "_invalid_utf8"] = true
    end
end

--- The log entry of an API request: `{ method, at, path, query, body,
-- headers }`, each string as it came if it is valid UTF-8.
function M.entry(req)
    local entry = { method = req.method, at = socket.gettime() }
    log_text(entry, "path", req.path)
    log_text(entry, "query", req.query)
    log_text(entry, "body", req.body)
    local headers, raw = {}, nil
    for name, value in pairs(req.headers) do   -- names are tokens: ASCII
        local t, valid = text.utf8(value)
        headers[name] = t
        if not valid then
            raw = raw or {}
            raw[name] = text.base64(value)
        end
    end
    entry.headers = json.object(headers)
    if raw then
        entry.headers_base64 = json.object(raw)
        entry.headers_invalid_utf8 = true
    end
    return entry
end

---------------------------------------------------------------------------
-- The routes: route(server, req) -> response[, true to shut down]
---------------------------------------------------------------------------

local function add_faults(server, req)
    local value = json.decode(req.body)
    if type(value) ~= "table" then return fail(400, "Invalid JSON body", "BAD_REQUEST") end
    local queued, pending = server.faults:add(value)
    if not queued then return fail(400, pending, "BAD_REQUEST") end
    return ok("ok", { queued = queued, pending = pending })
end

-- The body of a control route as a JSON object, or nil and the 400.
local function object_body(req)
    local value = json.decode(req.body)
    if not text.is_object(value) then return nil, fail(400, "Body must be a JSON object", "BAD_REQUEST") end
    return value
end

local function set_clock(server, req)
    local change, res = object_body(req)
    if not change then return res end
    local done, err = server.api.clock:set(change)
    if not done then return fail(400, err, "BAD_REQUEST") end
    return response.json(200, server.api.clock:state())
end

local function add_seed(server, req)
    local counts, res = object_body(req)
    if not counts then return res end
    local added, err = seed.seed(server.api, counts)
    if not added then return fail(400, err, "BAD_REQUEST") end
    return response.json(200, added)
end

local function set_webhooks(server, req)
    local value, res = object_body(req)
    if not value then return res end
    for name in pairs(value) do
        if name ~= "repeat" then
            return fail(400, "unknown webhooks field '" .. tostring(name) .. "'", "BAD_REQUEST")
        end
    end
    if value["repeat"] ~= nil then
        local done, err = server.api.webhooks:set_repeat(value["repeat"])
        if not done then return fail(400, err, "BAD_REQUEST") end
    end
    return response.json(200, { ["repeat"] = server.api.webhooks.copies })
end

local ROUTES = {
    ["GET /__mock/requests"] = function(server)
        return response.json(200, json.array(server.log))
    end,
    ["DELETE /__mock/requests"] = function(server)
        server.log = {}
        server.max_inflight = server.inflight
        return ok("ok")
    end,
    ["GET /__mock/stats"] = function(server)
        return response.json(200, { requests = #server.log, inflight = server.inflight,
                                    max_inflight = server.max_inflight,
                                    connections = server.nconns, timeouts = server.timeouts,
                                    evicted = server.evicted, rejected = server.rejected })
    end,
    ["GET /__mock/calls"] = function(server)
        local out = json.array()
        for _, conv in ipairs(server.api.conversations:ordered()) do
            if conv.placed then
                out[#out + 1] = { id = conv.id, toNumber = conv.to, fromNumber = conv.from,
                                  voiceAgentId = conv.voiceAgentId, at = conv.t0 }
            end
        end
        return response.json(200, out)
    end,
    ["POST /__mock/faults"] = add_faults,
    ["GET /__mock/faults"] = function(server)
        return response.json(200, server.faults:pending())
    end,
    ["DELETE /__mock/faults"] = function(server)
        server.faults:clear()
        return ok("ok")
    end,
    ["GET /__mock/clock"] = function(server)
        return response.json(200, server.api.clock:state())
    end,
    ["POST /__mock/clock"] = set_clock,
    ["POST /__mock/seed"] = add_seed,
    ["POST /__mock/webhooks"] = set_webhooks,
    ["GET /__mock/webhooks"] = function(server)
        return response.json(200, server.api.webhooks:deliveries())
    end,
    ["DELETE /__mock/webhooks"] = function(server)
        server.api.webhooks.log = {}
        return ok("ok")
    end,
    ["POST /__mock/reset"] = function(server)   -- records, clock, log and faults
        server.api:reset()
        server.log = {}
        server.faults:clear()
        return ok("ok")
    end,
    ["POST /__mock/shutdown"] = function()
        return ok("shutting down"), true
    end,
}

--- Answers a request to a control route.
-- @return the response, and true for a shutdown
function M.handle(server, req)
    local route = ROUTES[req.method .. " " .. req.path]
    if route then return route(server, req) end
    return fail(404, "Cannot " .. req.method .. " " .. (text.utf8(req.path)), "NOT_FOUND")
end

return M
