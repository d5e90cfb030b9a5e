--- The mock's Hamsa API: the routes it serves, its state (the stores of
-- each kind of record, the clock they live by) and the handler of each
-- route.
--
-- The routes are the rows of `hamsa.routes` (what the client wraps) and
-- of `M.EXTRA` (what the mock serves beyond them, in the same shape: none
-- now); each has its handler in `M.handlers` under `resource .. "." ..
-- name`, gathered from the modules of each kind (`HANDLERS`). A
-- request matches a row when the method is the row's and the path's
-- segments are the template's (the part before any `?`): a literal
-- segment as it came, a `{placeholder}` any one segment, percent-decoded,
-- handed to the handler by name. Empty segments are skipped (`/v1//x/` is
-- `/v1/x`). Rows with literal segments only are tried first. A placeholder
-- after `?` is the handler's to read from the query string.
--
-- Every path under `/v1` and `/v2` needs `Authorization: Token <api_key>`,
-- matched or not: without it the answer is a 401 before any route is
-- looked at. What matches no row is a 404 "Cannot METHOD path".
-- @module hamsa.mock.api
-- @license MIT

local routes = require("hamsa.routes")
local clock = require("hamsa.mock.clock")
local conversations = require("hamsa.mock.conversations")
local h = require("hamsa.mock.handler")
local response = require("hamsa.mock.response")
local store = require("hamsa.mock.store")
local text = require("hamsa.mock.text")
local webhooks = require("hamsa.mock.webhooks")

local gmatch, lower, match = string.gmatch, string.lower, string.match
local floor = math.floor
local assert, ipairs, pairs, setmetatable = assert, ipairs, pairs, setmetatable

local UNAUTHORIZED = { success = false, message = "Unauthorized: invalid API key", messageKey = "UNAUTHORIZED" }
local DEFAULT_CALL_SECONDS = 2

-- The modules whose `handlers` serve the rows, one kind of record each.
local HANDLERS = { "agents", "calls", "conversations", "phone_numbers", "campaigns", "knowledge_base" }

local M = {}

--- Routes the mock serves that the client does not wrap (rows as in
-- `hamsa.routes`): none since the client wraps the agent listing too.
M.EXTRA = {}

local Api = {}
Api.__index = Api

--- The handlers by `resource .. "." .. name` (read them, do not change them).
local H = {}
for _, name in ipairs(HANDLERS) do
    for key, fn in pairs(require("hamsa.mock." .. name).handlers) do
        assert(not H[key], "two mock handlers for " .. key)
        H[key] = fn
    end
end
M.handlers = H

---------------------------------------------------------------------------
-- The state
---------------------------------------------------------------------------

--- The mock's time now, to the millisecond and strictly increasing per
-- server (so an update is always visible in updatedAt, even within one
-- millisecond): epoch seconds, and the same as ISO-8601.
function Api:moment()
    local ms = floor(self.clock:now() * 1000)
    if ms <= self.last_ms then ms = self.last_ms + 1 end
    self.last_ms = ms
    local t = ms / 1000
    return t, h.iso(t)
end

--- The same moment as ISO-8601 UTC with milliseconds.
function Api:timestamp()
    local _, iso = self:moment()
    return iso
end

--- Forgets every record, puts the clock back on real time, and the
-- webhooks back to their defaults (hamsa.mock.webhooks).
function Api:reset()
    self.agents, self.v2agents = store.new(), store.new()
    self.phone_numbers, self.campaigns, self.kb = store.new(), store.new(), store.new()
    self.conversations = conversations.store()
    self.clock:reset()
    self.webhooks:reset()
    self.last_ms = 0
end

---------------------------------------------------------------------------
-- Matching requests against the rows
---------------------------------------------------------------------------

local function segments(path)
    local seg = {}
    for s in gmatch(path, "[^/]+") do seg[#seg + 1] = s end
    return seg
end

-- A row made ready to match: its handler and, per template segment, the
-- literal or the placeholder's name in `names`.
local function compile(row)
    local handler = H[row.resource .. "." .. row.name]
    if not handler then return nil end   -- spec/31 reports the row
    local seg, names, literal = segments(match(row.path, "^[^?]*")), {}, true
    for i, s in ipairs(seg) do
        names[i] = match(s, "^{(.+)}$")
        if names[i] then literal = false end
    end
    return { method = row.method, seg = seg, names = names, handler = handler, literal = literal }
end

local TABLE = {}   -- literal rows first, then the others, each in table order
for pass = 1, 2 do
    for _, rows in ipairs({ routes, M.EXTRA }) do
        for _, row in ipairs(rows) do
            local r = compile(row)
            if r and r.literal == (pass == 1) then TABLE[#TABLE + 1] = r end
        end
    end
end

-- The handler and placeholders of the first row `method` and `seg` match.
local function match_route(method, seg)
    for _, r in ipairs(TABLE) do
        if r.method == method and #r.seg == #seg then
            local params = {}
            for i, want in ipairs(r.seg) do
                local name = r.names[i]
                if name then
                    params[name] = text.unescape(seg[i])
                elseif want ~= seg[i] then
                    params = nil
                    break
                end
            end
            if params then return r.handler, params end
        end
    end
end

function Api:authorized(req)
    local scheme, key = match(req.headers.authorization or "", "^(%a+) +(.-)%s*$")
    return scheme ~= nil and lower(scheme) == "token" and key == self.api_key
end

--- Answers one API request (auth, route, handler).
-- @treturn table the response
function Api:handle(req)
    local seg = segments(req.path)
    if (seg[1] == "v1" or seg[1] == "v2") and not self:authorized(req) then
        return response.json(401, UNAUTHORIZED)
    end
    local handler, params = match_route(req.method, seg)
    if handler then return handler(self, req, params) end
    return response.fail(404, "Cannot " .. req.method .. " " .. (text.utf8(req.path)), "NOT_FOUND")
end

--- The API's state: no records yet, answering to `api_key`. `opts`:
-- `call_seconds` (how long a call lasts, default 2), `base_url` (of the
-- recordings' URLs; the server sets it once bound).
function M.new(api_key, opts)
    opts = opts or {}
    local self = setmetatable({
        api_key = api_key, project_id = h.uuid4(), api_key_id = h.uuid4(), clock = clock.new(),
        call_seconds = opts.call_seconds or DEFAULT_CALL_SECONDS, base_url = opts.base_url or "http://127.0.0.1",
        webhooks = webhooks.new(),
    }, Api)
    self:reset()
    return self
end

return M
