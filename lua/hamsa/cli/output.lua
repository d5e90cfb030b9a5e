--- What the command line writes on stdout: JSON when stdout is not a
-- terminal (one object, or one line per item with `--all`), an aligned
-- table when it is; `--output json|table` chooses. Dry runs print the
-- request. Nothing here ever sees the API key: the request preview carries
-- it already cut (`hamsa.client` preview).
-- @module hamsa.cli.output
local core = require "hamsa.core"

local type, pairs, ipairs, next, tostring, tonumber, getmetatable, select =
    type, pairs, ipairs, next, tostring, tonumber, getmetatable, select
local sort, concat = table.sort, table.concat
local sub, gsub, rep, format, byte = string.sub, string.gsub, string.rep, string.format, string.byte
local encode, decode, null, ARRAY = core.json.encode, core.json.decode, core.json.null, core.json.array_mt

local M = {}

--- "json" or "table": `choice` when given, else a table on a terminal.
function M.mode(choice)
    if choice then return choice end
    return core.isatty(1) and "table" or "json"
end

--- The width tables fit in: the terminal's, else $COLUMNS, else 100.
function M.width()
    return core.columns(1) or tonumber(os.getenv("COLUMNS") or "") or 100
end

local function out(...)
    io.stdout:write(...)
end

--- Writes `v` as one line of JSON.
function M.json_line(v)
    out(encode(v) or encode(tostring(v)), "\n")
    io.stdout:flush()
end

---------------------------------------------------------------------------
-- tables

-- Characters shown (UTF-8 code points; continuation bytes take no column).
local function width(s)
    return #s - select(2, gsub(s, "[\128-\191]", ""))
end

-- `s` cut to `w` columns, with "…" when cut (never inside a UTF-8 sequence).
local function cut(s, w)
    if width(s) <= w then return s end
    local n, i = 0, 1
    while i <= #s do
        local c = byte(s, i)
        local len = c < 0x80 and 1 or c >= 0xF0 and 4 or c >= 0xE0 and 3 or c >= 0xC0 and 2 or 1
        if n + 1 > w - 1 then break end
        n, i = n + 1, i + len
    end
    return sub(s, 1, i - 1) .. "…"
end

local function pad(s, w)
    return s .. rep(" ", w - width(s))
end

-- The text of one cell.
local function cell(v)
    if v == nil or v == null then return "-" end
    local t = type(v)
    if t == "string" then return (gsub(v, "[%c]+", " ")) end
    if t == "table" then return encode(v) or "?" end
    return encode(v) or tostring(v)
end

local function is_scalar(v)
    local t = type(v)
    return t == "string" or t == "number" or t == "boolean" or v == null
end

-- Fields shown first, in this order; then the others by name.
local FIRST = { "id", "_id", "jobId", "conversationId", "voiceAgentId", "agentName", "name", "title", "status",
                "type", "toNumber", "fromNumber", "phoneNumber", "number", "lang", "callDuration",
                "createdAt", "updatedAt" }
local RANK = {}
for i, k in ipairs(FIRST) do RANK[k] = i end

local function ordered(keys)
    sort(keys, function(a, b)
        local ra, rb = RANK[a] or 1e9, RANK[b] or 1e9
        if ra ~= rb then return ra < rb end
        return a < b
    end)
    return keys
end

local MAX_CELL = 40

-- Rows of records (a list of tables) as aligned columns of their scalar
-- fields, as many columns as fit in `w`.
local function records(list, w)
    local seen, keys = {}, {}
    for i = 1, #list do
        local r = list[i]
        if type(r) == "table" then
            for k, v in pairs(r) do
                if type(k) == "string" and not seen[k] and is_scalar(v) then seen[k] = true; keys[#keys + 1] = k end
            end
        end
    end
    ordered(keys)
    local cols, used = {}, 0
    for _, k in ipairs(keys) do
        local cw = width(k)
        for i = 1, #list do
            local r = list[i]
            local c = type(r) == "table" and width(cell(r[k])) or 0
            if c > cw then cw = c end
        end
        if cw > MAX_CELL then cw = MAX_CELL end
        if #cols > 0 and used + 2 + cw > w then break end
        cols[#cols + 1] = { key = k, w = cw }
        used = used + (#cols > 1 and 2 or 0) + cw
    end
    if #cols == 0 then                      -- no scalar fields: one JSON per line
        for i = 1, #list do out(cut(cell(list[i]), w), "\n") end
        return
    end
    local line = {}
    for i, c in ipairs(cols) do line[i] = pad(cut(c.key, c.w), c.w) end
    out((gsub(concat(line, "  "), "%s+$", "")), "\n")
    for r = 1, #list do
        local rec = list[r]
        for i, c in ipairs(cols) do
            line[i] = pad(cut(type(rec) == "table" and cell(rec[c.key]) or cell(rec), c.w), c.w)
        end
        out((gsub(concat(line, "  "), "%s+$", "")), "\n")
    end
end

-- One record as two columns: field, value.
local function record(t, w)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = tostring(k) end
    ordered(keys)
    local kw = 0
    for _, k in ipairs(keys) do if width(k) > kw then kw = width(k) end end
    for _, k in ipairs(keys) do
        local v = t[k]
        if v == nil then v = t[tonumber(k)] end
        out(pad(k, kw), "  ", cut(cell(v), w - kw - 2 > 10 and w - kw - 2 or 10), "\n")
    end
end

local function is_list(t)
    return type(t) == "table" and (t[1] ~= nil or getmetatable(t) == ARRAY)
end

--- Writes `data` as a table: a list as rows, a record as field/value
-- lines, anything else as its JSON text.
function M.table(data)
    local w = M.width()
    if type(data) ~= "table" then
        out(type(data) == "string" and data or cell(data), "\n")
    elseif is_list(data) or next(data) == nil then
        if #data == 0 then out("(none)\n") else records(data, w) end
    else
        record(data, w)
    end
end

--- Writes a result: `data` as JSON or as a table (`mode`). For a list
-- reply, `items` names the field holding its items (nil: the reply is the
-- list), shown as rows with a count line under them.
function M.result(data, mode, items)
    if mode == "json" then return M.json_line(data) end
    if items and type(data) == "table" and type(data[items]) == "table" then
        M.table(data[items])
        local total = data.filtered or data.total or data.totalCount
        out(format("(%d shown%s)\n", #data[items], type(total) == "number" and format(" of %s", cell(total)) or ""))
    else
        M.table(data)
    end
end

---------------------------------------------------------------------------
-- dry runs

-- JSON text indented by two spaces (the text's own order kept).
function M.pretty(text)
    local buf, depth, i, n = {}, 0, 1, #text
    local function nl() buf[#buf + 1] = "\n" .. rep("  ", depth) end
    while i <= n do
        local c = sub(text, i, i)
        if c == '"' then
            local j = i + 1
            while true do
                local d = sub(text, j, j)
                if d == "\\" then j = j + 2 elseif d == '"' or d == "" then break else j = j + 1 end
            end
            buf[#buf + 1] = sub(text, i, j)
            i = j
        elseif c == "{" or c == "[" then
            local close = c == "{" and "}" or "]"
            if sub(text, i + 1, i + 1) == close then
                buf[#buf + 1] = c .. close
                i = i + 1
            else
                buf[#buf + 1] = c
                depth = depth + 1
                nl()
            end
        elseif c == "}" or c == "]" then
            depth = depth - 1
            nl()
            buf[#buf + 1] = c
        elseif c == "," then
            buf[#buf + 1] = ","
            nl()
        elseif c == ":" then
            buf[#buf + 1] = ": "
        else
            buf[#buf + 1] = c
        end
        i = i + 1
    end
    return concat(buf)
end

--- Writes the request a dry run would have sent (`p`: hamsa's preview,
-- `{ method, url, headers, body }`): one JSON object, or the request as
-- text on a terminal.
function M.preview(p, mode)
    if mode == "json" then
        local headers = {}
        for _, line in ipairs(p.headers) do
            local name, value = line:match("^([^:]+):%s*(.*)$")
            if name then headers[name] = value end
        end
        local body = p.body and decode(p.body)
        return M.json_line({ dry_run = true, method = p.method, url = p.url, headers = headers,
                             body = body == nil and null or body })
    end
    out(p.method, " ", p.url, "\n")
    for _, line in ipairs(p.headers) do out(line, "\n") end
    if p.body then out("\n", M.pretty(p.body), "\n") end
    io.stderr:write("hamsa: dry run: nothing was sent\n")
end

return M
