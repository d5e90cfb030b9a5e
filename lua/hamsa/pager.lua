--- Pagers: `each([query] [, opts])` on every resource with a list route
-- (the rows of hamsa.routes with `paging`), an iterator over every item of
-- every page:
--
--     for agent, err in client.agents:each({ take = 50 }) do
--         if agent == false then error(tostring(err)) end
--         print(agent.agentName)
--     end
--
-- One request per page, each through the resource's own `list` (so the
-- query's rule set, the retries and tasks apply: inside a `client:spawn`
-- task each page request yields to the loop). Only one page is held at a
-- time. On a failure the iterator yields `false, err` once, then stops.
-- The walk ends at an empty or short page, at a page longer than asked
-- (the server did not page), or when the reply's total is reached.
--
-- One adapter per paging style (`STYLES`): where the position and the page
-- size go in the query, where the position starts, whether they are sent
-- as strings, and the reply's shape (`items`, `total` of the row):
--
--   page         skip = page from 1, take = size; { total, filtered, <items> }
--   page_string  the same, skip and take as decimal strings; { total, filtered, items }
--   offset       skip = offset from 0, take; { <items>, <total: totalCount>, returnedCount }
--   per_page     page from 1, perPage; { total, filtered, <items> }
--   bare         skip = page from 1, take, as strings; a bare array
--
-- The caller's query is never modified (each page gets a copy). Its own
-- position (skip, or page) is where the walk starts, and its size is the
-- page size (default `DEFAULT_SIZE`, 50). Misuse raises at the caller's
-- line: a query that is not a table, a position or size that is not an
-- integer, an unknown option, or `opts.on_done` (an iterator delivers
-- nothing later: run it in a task instead).
--
-- Lua 5.1 (PUC, not LuaJIT): the iterator of a generic `for` cannot yield,
-- so there a task's page requests block (other transfers still move; the
-- other tasks resume after the page came), like a task's call made inside
-- a pcall. hamsa.openresty reuses `iterate` and `check` with its own list.
-- @module hamsa.pager
local config = require "hamsa.config"
local url = require "hamsa.url"
local errors = require "hamsa.errors"
local YIELD_THROUGH_PCALL = require("hamsa.loop").YIELD_THROUGH_PCALL

local type, error, tonumber, tostring, pairs, ipairs, getmetatable, pcall =
    type, error, tonumber, tostring, pairs, ipairs, getmetatable, pcall
local floor, format = math.floor, string.format
local corunning = coroutine.running
local check_options, REQUEST_OPTIONS = config.check_options, config.REQUEST_OPTIONS

local M = {}

--- The page size sent when the query names none.
M.DEFAULT_SIZE = 50

--- The paging styles: `pos` and `size` are the query's fields, `first` the
-- first position, `offset` whether the position counts items (not pages),
-- `strings` whether both go out as decimal strings, `bare` whether the
-- reply is the array itself.
M.STYLES = {
    page = { pos = "skip", size = "take", first = 1 },
    page_string = { pos = "skip", size = "take", first = 1, strings = true },
    offset = { pos = "skip", size = "take", first = 0, offset = true },
    per_page = { pos = "page", size = "perPage", first = 1 },
    bare = { pos = "skip", size = "take", first = 1, strings = true, bare = true },
}
local STYLES = M.STYLES

-- `v` as a whole number >= `least` (a number or a decimal string), or nil.
local function whole(v, least)
    local n = tonumber(v)
    if type(v) ~= "number" and not (type(v) == "string" and v:match("^%d+$")) then n = nil end
    if n and n == floor(n) and n >= least and n < 2 ^ 53 then return n end
end

-- Where a walk of `query` starts and its page size, or nil and a message.
local function start(style, query)
    local pos, size = query[style.pos], query[style.size]
    if pos ~= nil then
        pos = whole(pos, style.first)
        if not pos then return nil, format("%s must be an integer >= %d", style.pos, style.first) end
    end
    if size ~= nil then
        size = whole(size, 1)
        if not size then return nil, format("%s must be an integer >= 1", style.size) end
    end
    return pos or style.first, size or M.DEFAULT_SIZE
end

--- Checks the arguments of an `each` for `row`; raises (misuse) at
-- `level` (1: the caller of check).
function M.check(row, query, opts, where, level)
    level = (level or 1) + 1
    local style = STYLES[row.paging] or error("hamsa.pager: no paging style " .. tostring(row.paging))
    if query ~= nil and type(query) ~= "table" then error(where .. ": query must be a table", level) end
    check_options(opts, REQUEST_OPTIONS, where, level)
    if opts and opts.on_done ~= nil then
        error(where .. ": each takes no on_done (it is an iterator; use it in a client:spawn task)", level)
    end
    if opts and opts.dry_run ~= nil then
        error(where .. ": each takes no dry_run (it sends as many requests as there are pages)", level)
    end
    local built, msg = url.query(query or {})
    if not built then error(where .. ": " .. tostring(msg), level) end
    local ok, why = start(style, query or {})
    if not ok then error(where .. ": " .. why, level) end
end

-- The caller's query with the page's position and size (a copy).
local function page_query(style, query, pos, size)
    local q = {}
    for k, v in pairs(query or {}) do q[k] = v end
    if style.strings then
        q[style.pos], q[style.size] = format("%d", pos), format("%d", size)
    else
        q[style.pos], q[style.size] = pos, size
    end
    return q
end

-- The items of a reply and its total (nil when it has none), or nil.
local function items_of(style, row, data)
    if type(data) ~= "table" then return nil end
    if style.bare then return data end
    local items, total = data[row.items], data[row.total or "total"]
    if type(items) ~= "table" then return nil end
    return items, type(total) == "number" and total or nil
end

--- Walks every page through `list(query, opts)` (which returns
-- `data, response` or `nil, err`): an iterator of the items, which yields
-- `false, err` once on a failure and then stops.
-- @tparam function list
-- @tparam table row the route's row (`paging`, `items`, `total`)
-- @tparam[opt] table query the caller's query (never modified)
-- @tparam[opt] table opts the request options of each page
-- (The arguments are those `check` accepts; others raise here.)
function M.iterate(list, row, query, opts)
    local style = STYLES[row.paging]
    local pos, size = start(style, query or {})
    if not pos then error("hamsa.pager: " .. size, 2) end
    local items, i, n, last, over = nil, 0, 0, false, false
    return function()
        if i < n then
            i = i + 1
            return items[i]
        end
        items = nil                           -- only one page is ever held
        if last or over then over = true return nil end
        local data, err = list(page_query(style, query, pos, size), opts)
        if data == nil then over = true return false, err end
        local got, total = items_of(style, row, data)
        if not got then
            over = true
            return false, errors.new("decode", format("the reply to %s holds no list of %s", row.resource .. ":"
                .. row.name, row.items or "items"), { code = "INVALID_PAGE" })
        end
        n, i = #got, 0
        local reached = style.offset and pos + n or (pos - 1) * size + n
        last = n < size or n > size or (total ~= nil and reached >= total)
        pos = style.offset and pos + n or pos + 1
        if n == 0 then over = true return nil end
        items, i = got, 1
        return got[1]
    end
end

-- list(query, opts) of a resource instance. On Lua 5.1 the for-iterator
-- cannot yield: its calls are marked as made where a yield is impossible
-- (`_calling`, as inside deliver), so a task's page request blocks.
local function list_of(self)
    if YIELD_THROUGH_PCALL then
        return function(q, o) return self:list(q, o) end
    end
    return function(q, o)
        local client, co = self._client, corunning()
        if not co then return self:list(q, o) end
        local calling = client._calling
        calling[co] = (calling[co] or 0) + 1
        local ok, data, err = pcall(self.list, self, q, o)
        calling[co] = calling[co] > 1 and calling[co] - 1 or nil
        if not ok then error(data, 0) end
        return data, err
    end
end

--- Gives each resource whose `list` row has `paging` its `each` method.
function M.extend(classes, routes)
    for _, row in ipairs(routes) do
        if row.paging and row.name == "list" then
            local class, where = classes[row.resource], row.resource .. ":each"
            class.each = function(self, query, opts)
                if getmetatable(self) ~= class then
                    error("use client." .. row.resource .. ":each(...) (with a colon)", 2)
                end
                M.check(row, query, opts, where, 2)
                return M.iterate(list_of(self), row, query, opts)
            end
        end
    end
end

return M
