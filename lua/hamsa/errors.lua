--- Error values of hamsa: one table shape for every failure.
-- A failure comes back as `nil, err`; `err` carries `kind`, `message`,
-- `status`, `code`, `field`, `body`, `retryable` (README, "Results and errors") and prints as
-- `hamsa: <kind>: <message>`.
--
-- Users meet these values as the `err` of `nil, err`; `hamsa.is_error(v)`
-- (the same as `errors.is`) tells them apart. The other functions are for
-- hosts and tests that make errors of the same shape.
-- @module hamsa.errors
local setmetatable, getmetatable, type, next, tonumber = setmetatable, getmetatable, type, next, tonumber
local tostring, concat, find, sub, byte, match =
    tostring, table.concat, string.find, string.sub, string.byte, string.match

local M = {}

--- An error value, as a failed call returns it (`nil, err`). It prints
-- (`tostring(err)`) as `hamsa: <kind>: <message>`, never with the API key.
-- @table Error
-- @field kind "invalid" (rejected before sending), "config", "auth"
--   (401/403), "not_found" (404), "rate_limited" (429), "api" (other 4xx, a
--   2xx whose envelope says `success = false`), "server" (5xx), "timeout",
--   "network", "decode" (a 2xx body that is not the expected JSON),
--   "cancelled"
-- @field message one human sentence
-- @field status the HTTP status, or nil when no answer came
-- @field code the API's `messageKey`, libcurl's error name
--   (`CURLE_COULDNT_CONNECT`), "WAIT_DEADLINE" for a wait past its deadline, or nil
-- @field field for "invalid": the path of the offending field
--   (`"tools.smartCallEnd"`, `"pokeMessages[2]"`)
-- @field body the decoded error body, when there was one
-- @field retryable whether sending the same request again could succeed
-- @field attempts how many attempts were made
-- @usage local agent, err = client.agents:get(id)
-- if not agent then
--     if err.kind == "not_found" then print("no such agent") else error(tostring(err)) end
-- end
local Error = {}
Error.__index = Error
Error.__name = "hamsa.error"
function Error.__tostring(e)
    return "hamsa: " .. e.kind .. ": " .. e.message
end
M.Error = Error

--- Makes an error.
-- @tparam string kind one of the kinds listed in README, "Results and errors"
-- @tparam string message one human sentence
-- @tparam[opt] table fields status, code, field, body, retryable, ...
--   (this table becomes the error)
-- @treturn Error the error
-- @usage return nil, errors.new("api", "the CRM refused the lead", { status = 422 })
function M.new(kind, message, fields)
    local e = fields or {}
    e.kind = kind
    e.message = message
    if e.retryable == nil then e.retryable = false end
    return setmetatable(e, Error)
end

--- Tells whether `v` is an error made here (`hamsa.is_error`).
-- @param v any value
-- @treturn boolean
-- @usage if errors.is(err) and err.retryable then retry_later() end
function M.is(v)
    return getmetatable(v) == Error
end

--- An input rejected before sending: an error of kind "invalid".
-- @tparam string field the path of the offending field
-- @tparam string message one human sentence
-- @treturn Error the error
-- @usage return nil, errors.invalid("toNumber", "toNumber must be an E.164 number")
function M.invalid(field, message)
    return M.new("invalid", message, { field = field })
end

-- The end of `secret` written at `i` of `s` with any of its bytes in a JSON
-- escape (`\/`, `\"`, `\\`, `\u002B` in either case), or nil: a server
-- that echoes the key inside a JSON string may escape it.
local function escaped_at(s, i, secret)
    local j = i
    for p = 1, #secret do
        local c, b = byte(secret, p), byte(s, j)
        if b == c then
            j = j + 1
        elseif b == 92 then                                         -- backslash
            local e = byte(s, j + 1)
            if e == 117 then                                        -- \uXXXX
                local hex = match(s, "^%x%x%x%x", j + 2)
                if not hex or tonumber(hex, 16) ~= c then return nil end
                j = j + 6
            elseif e == c and (c == 47 or c == 34 or c == 92) then  -- \/ \" \\
                j = j + 2
            else
                return nil
            end
        else
            return nil
        end
    end
    return j - 1
end

-- Redacts `secret` written with JSON escapes; `s` holds a backslash.
local function redact_escaped(s, secret)
    local fc = sub(secret, 1, 1)
    local class = "[\\" .. (match(fc, "%w") and fc or "%" .. fc) .. "]"     -- a backslash or the first byte
    local out, n, pos, i = {}, 0, 1, find(s, class)
    while i do
        local stop = escaped_at(s, i, secret)
        if stop then
            n = n + 1; out[n] = sub(s, pos, i - 1)
            n = n + 1; out[n] = "[REDACTED]"
            pos = stop + 1
            i = find(s, class, pos)
        else
            i = find(s, class, i + 1)
        end
    end
    if n == 0 then return s end
    out[n + 1] = sub(s, pos)
    return concat(out)
end

--- Replaces every occurrence of `secret` in `s` (plain text, not a
-- pattern), also where a JSON string escaped some of its bytes.
-- @treturn string
-- @local
function M.redact(s, secret)
    if type(s) ~= "string" or not secret or secret == "" then return s end
    local i = find(s, secret, 1, true)
    if i then
        local out, pos, n = {}, 1, 0
        while i do
            n = n + 1
            out[n] = sub(s, pos, i - 1)
            n = n + 1
            out[n] = "[REDACTED]"
            pos = i + #secret
            i = find(s, secret, pos, true)
        end
        out[n + 1] = sub(s, pos)
        s = concat(out)
    end
    -- an escaped form needs a `\u` escape, unless the key holds one of the
    -- three bytes with a short escape (`\/`, `\"`, `\\`): two plain searches
    -- spare most bodies with a backslash the byte-by-byte scan (a response
    -- with one "\n" in it cost more than the whole request otherwise)
    if find(s, "\\", 1, true)
        and (find(s, "\\u", 1, true) or find(secret, '[/"\\]')) then
        s = redact_escaped(s, secret)
    end
    return s
end

-- Redacts strings in `v`, keys included, in place.
local function redact_deep(v, secret, seen)
    if type(v) == "string" then return M.redact(v, secret) end
    if type(v) ~= "table" or seen[v] then return v end
    seen[v] = true
    local renamed
    for k, x in next, v do
        local r = redact_deep(x, secret, seen)
        if r ~= x then v[k] = r end         -- an existing key: allowed while traversing
        if type(k) == "string" then
            local rk = M.redact(k, secret)
            if rk ~= k then
                renamed = renamed or {}
                renamed[#renamed + 1] = k
            end
        end
    end
    for i = 1, renamed and #renamed or 0 do
        local k = renamed[i]
        local x = v[k]
        v[k] = nil
        v[M.redact(k, secret)] = x
    end
    return v
end

--- Removes `secret` from every string an error carries (message, body,
-- headers), in place; a server that echoes the key back must not make it
-- show up in a log.
-- @local
function M.scrub(e, secret)
    if not secret or secret == "" then return e end
    e.message = M.redact(e.message, secret)
    e.code = M.redact(e.code, secret)
    e.body = redact_deep(e.body, secret, {})        -- a bare string body is replaced, not edited
    e.headers = redact_deep(e.headers, secret, {})
    return e
end

-- The reason phrases of the statuses an answer may carry (the mock's
-- status lines use them too: hamsa.mock.response).
local REASONS = {
    [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
    [300] = "Multiple Choices", [301] = "Moved Permanently", [302] = "Found",
    [303] = "See Other", [304] = "Not Modified", [307] = "Temporary Redirect", [308] = "Permanent Redirect",
    [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required",
    [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
    [408] = "Request Timeout", [409] = "Conflict", [410] = "Gone",
    [413] = "Payload Too Large", [414] = "URI Too Long", [415] = "Unsupported Media Type",
    [422] = "Unprocessable Entity", [425] = "Too Early", [429] = "Too Many Requests",
    [431] = "Request Header Fields Too Large",
    [500] = "Internal Server Error", [501] = "Not Implemented", [502] = "Bad Gateway",
    [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

--- The reason phrase of an HTTP status ("Not Found"), or nil when not listed.
-- @local
function M.reason(status)
    return REASONS[status]
end

--- The kind for an HTTP status that is not a success.
-- @local
function M.kind_for_status(status)
    if status == 401 or status == 403 then return "auth" end
    if status == 404 then return "not_found" end
    if status == 429 then return "rate_limited" end
    if status >= 500 then return "server" end
    return "api"
end

--- Whether the same request sent again could get another answer.
-- @local
function M.status_retryable(status)
    return status == 408 or status == 425 or status == 429
        or (status >= 500 and status ~= 501 and status ~= 505)
end

--- "HTTP 503 Service Unavailable"
-- @local
function M.status_text(status)
    local r = status >= 300 and REASONS[status]      -- a 2xx error (success = false) reads "HTTP 200"
    return r and ("HTTP " .. status .. " " .. r) or ("HTTP " .. tostring(status))
end

-- Transport errors: kind and whether trying again may help, by name. The
-- libcurl ones come from the one list in csrc/curl_errors.h, which also
-- names them in t:result() (core.curl_errors: name -> { kind, retryable });
-- hamsa's own names are added here: RESPONSE_TOO_LARGE (t:result()) and
-- RESPONSE_HEADERS_TOO_LARGE (t:result(), and client.lua for libcurl's
-- limit on one header line).
local TRANSPORT = {
    RESPONSE_TOO_LARGE = { "decode", false },
    RESPONSE_HEADERS_TOO_LARGE = { "decode", false },
}
for name, row in pairs(require("hamsa.core").curl_errors) do
    TRANSPORT[name] = { row.kind, row.retryable }
end

--- Kind and retryability of a libcurl error name.
-- @treturn string kind
-- @treturn boolean retryable
-- @local
function M.transport(code)
    local t = TRANSPORT[code]
    if t then return t[1], t[2] end
    return "network", false
end

return M
