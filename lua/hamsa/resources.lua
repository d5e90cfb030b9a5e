--- The resources of a client (`client.agents`, `client.calls`, ...), built
-- from the route table (hamsa.routes): each row becomes one method that
-- checks its arguments (misuse raises at the caller's line), fills the
-- path and query from its ids (percent-encoded), and hands the request,
-- with the row's validator and preparer, to the client's pipeline. The
-- caller's tables are never modified.
--
-- The methods' reference (`make docs`) is docs/resources.luadoc, since
-- LDoc cannot see methods made in a loop; spec/93-docs_spec.lua keeps it
-- in step with the route table.
-- @module hamsa.resources
local client_mod = require "hamsa.client"
local routes = require "hamsa.routes"
local validate = require "hamsa.validate"
local prepare = require "hamsa.prepare"
local url = require "hamsa.url"
local errors = require "hamsa.errors"

local type, error, select, getmetatable, setmetatable, ipairs, pairs, tostring, assert =
    type, error, select, getmetatable, setmetatable, ipairs, pairs, tostring, assert
local find, sub, concat, match = string.find, string.sub, table.concat, string.match
local object = require("hamsa.core").json.object
local check_options, REQUEST_OPTIONS = client_mod.check_options, client_mod.REQUEST_OPTIONS
local send, fail = client_mod.send, client_mod.fail
local escape = url.escape

local M = {}

-- An id that cannot name a record: empty, or a dot segment that libcurl
-- would resolve into another route ("..": PATCH /v1/ instead of an agent).
local BAD_ID = { [""] = true, ["."] = true, [".."] = true }

-- A template ("/v1/x/{id}/y") as its pieces: literal strings, and the
-- 1-based index of the id argument at each placeholder.
local function pieces(template, ids)
    local out, at = {}, 1
    while true do
        local i, j, name = find(template, "{(%w+)}", at)
        if not i then break end
        if i > at then out[#out + 1] = sub(template, at, i - 1) end
        ids[#ids + 1] = name
        out[#out + 1] = #ids
        at = j + 1
    end
    if at <= #template then out[#out + 1] = sub(template, at) end
    return out
end

-- The text of a template's pieces with the ids filled in (escaped).
local function fill(p, a, b)
    if p[2] == nil and type(p[1]) == "string" then return p[1] end   -- no placeholder
    local out = {}
    for i, piece in ipairs(p) do
        if piece == 1 then piece = escape(a) elseif piece == 2 then piece = escape(b) end
        out[i] = piece
    end
    return concat(out)
end

-- What a row's method needs, worked out once: the where-prefix of its
-- messages, its path and query pieces, its id names, and the positions of
-- its arguments.
local function compile(row)
    local path, query = row.path:match("^([^?]*)%??(.*)$")
    local ids = {}
    local c = {
        row = row, where = row.resource .. ":" .. row.name,
        path = pieces(path, ids), ids = ids,
        validate = row.validate and (validate[row.validate] or error("hamsa.routes: no rule set " .. row.validate)),
        prepare = row.prepare and (prepare[row.prepare] or error("hamsa.routes: no preparer " .. row.prepare)),
    }
    c.query = query ~= "" and pieces(query, ids) or nil
    assert(#ids <= 2, "hamsa.routes: at most two ids per route")
    c.query_validate = row.query_validate and (validate[row.query_validate]
        or error("hamsa.routes: no rule set " .. row.query_validate))
    local n = #ids
    if row.body_args then
        c.args_at = n + 1
        n = n + #row.body_args
    end
    if row.body then n = n + 1; c.body_at = n end
    if row.query then n = n + 1; c.query_at = n end
    c.opts_at = n + 1
    return c
end

-- Raises (at the caller of the method) on arguments of the wrong type.
local function check_args(c, ...)
    local where = c.where
    for i, name in ipairs(c.ids) do
        if type((select(i, ...))) ~= "string" then error(where .. ": " .. name .. " must be a string", 3) end
    end
    if c.args_at then
        for i, name in ipairs(c.row.body_args) do
            if type((select(c.args_at + i - 1, ...))) ~= "string" then
                error(where .. ": " .. name .. " must be a string", 3)
            end
        end
    end
    if c.body_at then
        local body = select(c.body_at, ...)
        if type(body) ~= "table" and not (body == nil and c.row.body == "optional") then
            error(where .. ": body must be a table", 3)
        end
    end
    if c.query_at then
        local q = select(c.query_at, ...)
        if q ~= nil and type(q) ~= "table" then error(where .. ": query must be a table", 3) end
    end
    check_options((select(c.opts_at, ...)), REQUEST_OPTIONS, where, 3)
end

-- The method of one route.
local function method_of(c, class)
    local row, where = c.row, c.where
    local http, nids = row.method, #c.ids
    return function(self, ...)
        if getmetatable(self) ~= class then
            error("use client." .. row.resource .. ":" .. row.name .. "(...) (with a colon)", 2)
        end
        check_args(c, ...)
        local client = self._client
        local a, b = ...
        local opts = select(c.opts_at, ...)
        for i = 1, nids do
            local id = i == 1 and a or b
            if BAD_ID[id] then
                local name = c.ids[i]
                return fail(client, errors.invalid(name, name ..
                    " must be a non-empty string other than \".\" or \"..\""), opts)
            end
        end
        local query = c.query and fill(c.query, a, b)
        if c.query_at then
            local q = select(c.query_at, ...)
            if q ~= nil then
                local built, msg = url.query(q)
                if not built then error(where .. ": " .. tostring(msg), 2) end
                if c.query_validate and client._validate then
                    local ok, field, why = c.query_validate(q)
                    if not ok then return fail(client, errors.invalid(field, why), opts) end
                end
                query = query and built ~= "" and (query .. "&" .. built) or query or built
            end
        end
        local body
        if c.args_at then
            body = {}
            for i, name in ipairs(row.body_args) do body[name] = select(c.args_at + i - 1, ...) end
        elseif c.body_at then
            body = select(c.body_at, ...)
            if body == nil then body = object() end          -- "optional": sent as {}
        end
        return send(client, http, fill(c.path, a, b), query, body, opts, c.validate, c.prepare)
    end
end

-- resource name -> its class, with one method per row; then the methods
-- made from rows rather than being one: `each` for every list (hamsa.pager)
-- and `wait` where a record reaches a final status (hamsa.waiter)
local CLASSES = {}
for _, row in ipairs(routes) do
    local class = CLASSES[row.resource]
    if not class then
        class = { _name = row.resource }
        class.__index = class
        CLASSES[row.resource] = class
    end
    class[row.name] = method_of(compile(row), class)
end
require("hamsa.pager").extend(CLASSES, routes)
require("hamsa.waiter").extend(CLASSES)
M.CLASSES = CLASSES

--- Stores `value` in `holder` under a resource name: `holder.agents`, and
-- for a dotted name (`v2.agents`) `holder.v2.agents`.
function M.place(holder, name, value)
    local head, rest = match(name, "^([^.]+)%.(.+)$")
    while head do
        holder[head] = holder[head] or {}
        holder, name = holder[head], rest
        head, rest = match(name, "^([^.]+)%.(.+)$")
    end
    holder[name] = value
end

--- Attaches the resources to a client.
function M.attach(client)
    for name, class in pairs(CLASSES) do
        M.place(client, name, setmetatable({ _client = client }, class))
    end
    return client
end

return M
