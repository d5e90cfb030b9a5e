--- CSV (RFC 4180) for the dialer: lead lists in, results out.
--
--   for record, line in csv.reader(text) do ... end   -- lists of strings
--   local records, err = csv.read_all(text)            -- nil, "line N: ..." on a malformed file
--   local rows, err = csv.rows(text)                   -- tables keyed by the header's names
--   csv.line({ "a", "b,c" })                           -- 'a,"b,c"' (no line end)
--
-- Reading: fields quoted with `"` may hold commas, CR, LF and doubled quotes
-- (`""`); records end with CRLF or LF (a CR alone is data); a UTF-8 BOM at
-- the very start is skipped; the last record may lack its line end. An empty
-- line is no record (so a stray blank line in a lead list is not a row);
-- `csv.line` writes a record of one empty field as `""` so that it survives
-- a round trip.
--
-- Writing: a field is quoted when it holds `,` `"` CR or LF, or starts or
-- ends with white space (which many readers would trim); `"` is doubled.
-- Numbers and booleans are written with `tostring`, nil as an empty field.
--
-- Formula injection: `csv.line(list, { safe = true })` prefixes `'` to a
-- field that a spreadsheet would run as a formula: one starting with `=`,
-- `+`, `-`, `@`, a tab or a CR (OWASP's list). One exception, by choice: a
-- phone number in E.164 form, `+` followed by digits only (`+971501234567`),
-- is left alone. It cannot compute anything (a spreadsheet reads it as a
-- positive number at worst), and the dialer's exports are mostly phone
-- numbers, which must stay pasteable back into a lead list. `+1+2`,
-- `+971 50`, `+cmd|...` and `-5` are prefixed.
-- @module hamsa.dialer.csv
local type, tostring, error, pcall, pairs = type, tostring, error, pcall, pairs
local find, sub, gsub, match, byte, format = string.find, string.sub, string.gsub, string.match, string.byte,
    string.format
local concat = table.concat

local M = {}

local BOM = "\239\187\191"

local function fail(line, msg)
    error(format("line %d: %s", line, msg), 0)
end

-- The number of LF in s[i..j].
local function newlines(s, i, j)
    local n = 0
    while true do
        local k = find(s, "\n", i, true)
        if not k or k > j then return n end
        n, i = n + 1, k + 1
    end
end

--- An iterator over the records of `source` (a string, or a file handle,
-- read whole): each step gives the record (a list of strings) and the line
-- it starts on. A malformed record raises "line N: ..." (see `read_all`).
function M.reader(source)
    local s = source
    if type(s) ~= "string" then
        if s == nil or (type(s) ~= "userdata" and type(s) ~= "table") or not s.read then
            error("csv.reader: expected a string or a file handle", 2)
        end
        s = s:read("*a") or ""
    end
    local n = #s
    local i = 1
    if sub(s, 1, 3) == BOM then i = 4 end
    local line = 1
    return function()
        -- empty lines are no records
        while i <= n do
            if byte(s, i) == 10 then
                i, line = i + 1, line + 1
            elseif byte(s, i) == 13 and byte(s, i + 1) == 10 then
                i, line = i + 2, line + 1
            else
                break
            end
        end
        if i > n then return nil end
        local start = line
        local record = {}
        while true do
            local field
            if byte(s, i) == 34 then                                -- a quoted field
                local opened = line
                local parts = {}
                local j = i + 1
                while true do
                    local q = find(s, '"', j, true)
                    if not q then fail(opened, "a quoted field is not closed (unterminated quote)") end
                    parts[#parts + 1] = sub(s, j, q - 1)
                    line = line + newlines(s, j, q - 1)
                    if byte(s, q + 1) == 34 then
                        parts[#parts + 1] = '"'
                        j = q + 2
                    else
                        i = q + 1
                        break
                    end
                end
                field = concat(parts)
                local c = byte(s, i)
                if c ~= nil and c ~= 44 and c ~= 10 and not (c == 13 and byte(s, i + 1) == 10) then
                    fail(line, "a character after a closing quote (a quote inside a field must be doubled)")
                end
            else                                                    -- an unquoted field
                local j = i
                local stop
                while true do
                    local k = find(s, "[,\n\r\"]", j)
                    if not k then stop = n + 1 break end
                    local c = byte(s, k)
                    if c == 34 then
                        fail(line, "a quote in an unquoted field (quote the whole field, doubling the quote)")
                    elseif c == 13 then
                        if byte(s, k + 1) == 10 then stop = k break end
                        if k == n then                              -- a final CR: a line end
                            field = sub(s, i, k - 1)
                            i = n + 1
                            break
                        end
                        j = k + 1                                   -- a lone CR is data
                    else
                        stop = k
                        break
                    end
                end
                if not field then
                    field = sub(s, i, stop - 1)
                    i = stop
                end
            end
            record[#record + 1] = field
            local c = byte(s, i)
            if c == 44 then
                i = i + 1
            elseif c == 10 then
                i, line = i + 1, line + 1
                return record, start
            elseif c == 13 then
                i, line = i + 2, line + 1
                return record, start
            else
                return record, start                               -- the end of the text
            end
        end
    end
end

--- Every record of `text` (a string or file handle) as a list of lists, and
-- the list of the lines they start on; nil, "line N: ..." when malformed.
function M.read_all(text)
    local records, lines = {}, {}
    local ok, err = pcall(function()
        for record, line in M.reader(text) do
            records[#records + 1] = record
            lines[#lines + 1] = line
        end
    end)
    if not ok then
        if type(err) == "string" and find(err, "^line %d+: ") then return nil, err end
        error(err, 0)
    end
    return records, lines
end

local function trim(s)
    return (gsub(gsub(s, "^%s+", ""), "%s+$", ""))
end

--- The records after the header, as tables keyed by the header's names
-- (trimmed); a record with fewer fields leaves the others nil. Returns the
-- rows, the header (a list of names) and the line each row starts on; or
-- nil, "line N: ..." for a malformed file, an empty or duplicate name, or a
-- record with more fields than the header. An empty text gives no rows and
-- an empty header.
function M.rows(text)
    local records, lines = M.read_all(text)
    if not records then return nil, lines end
    local header = {}
    local rows, at = {}, {}
    if not records[1] then return rows, header, at end
    local seen = {}
    for k = 1, #records[1] do
        local name = trim(records[1][k])
        if name == "" then return nil, format("line %d: column %d of the header has no name", lines[1], k) end
        if seen[name] then
            return nil, format("line %d: the header names %q twice (columns %d and %d)", lines[1], name, seen[name], k)
        end
        seen[name] = k
        header[k] = name
    end
    for r = 2, #records do
        local record = records[r]
        if #record > #header then
            return nil, format("line %d: %d fields, the header has %d", lines[r], #record, #header)
        end
        local row = {}
        for k = 1, #header do row[header[k]] = record[k] end
        rows[#rows + 1] = row
        at[#at + 1] = lines[r]
    end
    return rows, header, at
end

local function formula(s)
    local c = byte(s, 1)
    if c == 61 or c == 45 or c == 64 or c == 9 or c == 13 then return true end  -- = - @ TAB CR
    if c == 43 then return not match(s, "^%+%d+$") end                            -- + unless +digits
    return false
end

--- One CSV line (no line end) of the fields of `list` (1 to `list.n`, or to
-- its largest index, so nil holes are empty fields). `opts.safe` guards
-- against formula injection (see above).
function M.line(list, opts)
    local last = list.n
    if not last then
        last = 0
        for k in pairs(list) do
            if type(k) == "number" and k > last and k % 1 == 0 then last = k end
        end
    end
    local safe = opts and opts.safe
    local out = {}
    for k = 1, last do
        local v = list[k]
        local s
        if v == nil then s = "" elseif type(v) == "string" then s = v else s = tostring(v) end
        if safe and s ~= "" and formula(s) then s = "'" .. s end
        if find(s, '[,"\r\n]') or find(s, "^%s") or find(s, "%s$") then
            s = '"' .. gsub(s, '"', '""') .. '"'
        end
        out[k] = s
    end
    if last == 1 and out[1] == "" then return '""' end
    return concat(out, ",")
end

return M
