-- fuzz/envelope-seeds.lua: writes the envelope-mode seeds of the response
-- harness, fuzz/corpus/response/env-* (see fuzz/envelope.lua for what the
-- bytes mean). Each seed starts with the NUL byte that selects the mode.
-- From the repository root:
--
--     lua5.4 fuzz/envelope-seeds.lua [DIR]
--     HAMSA_FUZZ_SHOW=1 build/fuzz/response fuzz/corpus/response/env-*   (what they build)
local envelope = dofile("fuzz/envelope.lua")
local char, format = string.char, string.format

local DIR = arg[1] or "fuzz/corpus/response"

local function index(list, v, what)
    for i, x in ipairs(list) do
        if x == v then return i - 1 end
    end
    error("no " .. what .. " " .. tostring(v))
end

-- values: the prefix code of fuzz/envelope.lua
local ABSENT, TRUE, FALSE, NULL = "-", "t", "f", "z"
local function str(json) return "s" .. char(index(envelope.STRINGS, json, "string")) end
local function num(text) return "n" .. char(index(envelope.NUMBERS, text, "number")) end
local function key(json) return char(index(envelope.KEYS, json, "key")) end
local function arr(...) return "[" .. table.concat({ ... }) .. "]" end
local function obj(...)               -- obj('"a"', num "1", '"message"', str '"x"')
    local t, out = { ... }, {}
    for i = 1, #t, 2 do out[#out + 1] = key(t[i]) .. t[i + 1] end
    return "{" .. table.concat(out) .. "}"
end
local function deep(k, objects) return "d" .. char(k, objects and 1 or 0) end

local function status_bytes(s)
    for i, x in ipairs(envelope.STATUSES) do
        if x == s then return char(0, i - 1) end
    end
    for b1 = 128, 255 do
        local b2 = (s - 200 - b1 * 256) % 400
        if b2 < 256 then return char(b1, b2) end
    end
    error("no bytes for status " .. s)
end

--- One seed: t.status, t.get (else POST), t.http10, t.reason (0-3: REASONS,
-- 4: none), t.framing (0 length, 1 chunked, 2 close, 3 length too large),
-- t.headers ({ name, value } pairs), t.form (0 envelope, 1 one value, 2 no
-- body, 3 cut at t.cut/256, 4 bytes after), t.fields (values of success,
-- message, messageKey, data, error), t.extra (key, value, ...).
local function seed(name, t)
    local out = { "\0", t.get and "G" or "P", status_bytes(t.status or 400),
                  char((t.http10 and 1 or 0) + 2 * (t.reason or 0)), char(t.framing or 0) }
    local headers = t.headers or {}
    out[#out + 1] = char(#headers)
    for _, h in ipairs(headers) do
        local hi
        for i, x in ipairs(envelope.HEADERS) do
            if x[1] == h[1] then hi = i end
        end
        assert(hi, "no header " .. h[1])
        out[#out + 1] = char(hi - 1, index(envelope.HEADERS[hi][2], h[2], h[1] .. " value"))
    end
    out[#out + 1] = char(t.form or 0)
    if t.form == 3 then out[#out + 1] = char(t.cut or 128) end
    for i = 1, #envelope.FIELDS do out[#out + 1] = (t.fields or {})[i] or ABSENT end
    local extra = t.extra or {}
    for i = 1, #extra, 2 do out[#out + 1] = key(extra[i]) .. extra[i + 1] end
    local path = format("%s/env-%s", DIR, name)
    local f = assert(io.open(path, "wb"))
    f:write(table.concat(out))
    f:close()
    print(path)
end

local MIXED = arr(obj('"a"', num "1"), NULL, TRUE)           -- [{"a":1},null,true]

-- message of every type
seed("422-message-array-mixed", { status = 422, fields = { FALSE, MIXED } })
seed("400-message-array-strings", { status = 400, fields = { FALSE, arr(str '"x"', str '"Agent not found"') } })
seed("400-message-array-empty", { status = 400, fields = { FALSE, arr() } })
seed("400-message-object", { status = 400, fields = { FALSE, obj('"message"', str '"x"') } })
seed("500-message-number", { status = 500, fields = { FALSE, num "404" } })
seed("400-message-true", { status = 400, fields = { FALSE, TRUE } })
seed("404-message-null", { status = 404, get = true, fields = { FALSE, NULL } })
seed("400-message-format", { status = 400, fields = { FALSE, str '"%s %d %%"' } })
seed("413-message-long", { status = 413, fields = { FALSE, "L\20" } })
seed("400-message-deep", { status = 400, fields = { FALSE, deep(40) } })
-- messageKey, error, success and data of the wrong type
seed("409-messagekey-array", { status = 409, fields = { FALSE, str '"x"', arr(str '"x"', NULL) } })
seed("400-messagekey-object", { status = 400, fields = { FALSE, NULL, obj('"a"', TRUE) } })
seed("401-messagekey-number", { status = 401, fields = { FALSE, ABSENT, num "1e400" } })
seed("500-error-object", { status = 500, fields = { ABSENT, ABSENT, ABSENT, ABSENT, obj('"message"', str '"x"') } })
seed("502-error-array", { status = 502, fields = { ABSENT, ABSENT, ABSENT, ABSENT, MIXED } })
seed("200-success-string", { status = 200, get = true, fields = { str '"false"', str '"x"' } })
seed("200-success-false-message-mixed", { status = 200, fields = { FALSE, MIXED, str '"x"' } })
seed("200-success-false-data-null", { status = 200, get = true, fields = { FALSE, obj(), NULL, NULL, TRUE } })
seed("200-data-deep-1001", { status = 200, get = true, fields = { TRUE, ABSENT, ABSENT, deep(250) } })
seed("201-data-mixed", { status = 201, fields = { TRUE, ABSENT, ABSENT, MIXED } })
seed("400-every-field-wrong", { status = 400,
    fields = { num "1", obj(), arr(), str '"x"', TRUE } })
seed("422-duplicate-message", { status = 422, fields = { FALSE, str '"x"' }, extra = { '"message"', MIXED } })
-- other bodies
seed("400-top-array", { status = 400, form = 1, fields = { MIXED } })
seed("500-top-string", { status = 500, form = 1, fields = { str '"Agent not found"' } })
seed("503-no-body", { status = 503, form = 2, headers = { { "Retry-After", "0" } } })
seed("422-cut", { status = 422, form = 3, cut = 200, fields = { FALSE, MIXED } })
seed("400-trailing", { status = 400, form = 4, fields = { FALSE, str '"x"' } })
seed("500-chunked", { status = 500, framing = 1, fields = { FALSE, MIXED, arr() } })
seed("502-close", { status = 502, framing = 2, http10 = true, reason = 4, fields = { FALSE, str '"x"' } })
seed("400-short", { status = 400, framing = 3, fields = { FALSE, str '"x"' } })
-- statuses and headers
seed("429-retry-after-odd", { status = 429, get = true, headers = {
    { "Retry-After", "1e3" }, { "Retry-After", "Sun, 00 Jan 2024 99:99:99 GMT" },
    { "Retry-After-Ms", "1e999" }, { "Content-Type", "application/problem+json" } },
    fields = { FALSE, MIXED } })
seed("503-retry-after-far", { status = 503, get = true, headers = {
    { "Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT" } }, fields = { FALSE, str '"x"' } })
seed("429-retry-after-ms-nan", { status = 429, headers = {
    { "Retry-After-Ms", "nan" }, { "Retry-After", "-1" } }, fields = { FALSE, NULL } })
seed("401-echo-key", { status = 401, headers = { { "X-Echo", "Token " .. envelope.KEY },
    { "Set-Cookie", "a=" .. envelope.KEY } }, fields = { FALSE, str('"Token ' .. envelope.KEY .. '"'),
    str('"' .. envelope.KEY .. '"'), obj('"a"', str('"' .. envelope.KEY .. '"')) } })
seed("599-odd-status", { status = 599, reason = 3, fields = { FALSE, MIXED } })
seed("302-location", { status = 302, headers = { { "Location", "/" } }, fields = { FALSE, str '"x"' } })
seed("400-gzip-lie", { status = 400, headers = { { "Content-Encoding", "gzip" } }, fields = { FALSE, str '"x"' } })
