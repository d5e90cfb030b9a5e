--- Response mapping: one finished attempt (status, body, headers, or a
-- libcurl error) becomes `data` or an error value, by the rules of
-- docs/wire.md ("Envelope", "Errors"): a 2xx is success unless its
-- envelope says `success = false` without data; any other status is an
-- error whose message, messageKey and body come from the envelope when
-- there is one.
-- @module hamsa.response
local core = require "hamsa.core"
local errors = require "hamsa.errors"

local type, pcall, tostring, getmetatable = type, pcall, tostring, getmetatable
local format, concat = string.format, table.concat

local json = core.json
local decode, null, array_mt = json.decode, json.null, json.array_mt

local M = {}

-- A server's text where a string is expected: strings as they are, numbers
-- printed, an object's own `message`; anything else gives nil.
local function text_of(v)
    local tv = type(v)
    if tv == "string" then return v ~= "" and v or nil end
    if tv == "number" then return tostring(v) end
    if tv == "table" and type(v.message) == "string" and v.message ~= "" then return v.message end
    return nil
end

-- The message of an error envelope, whatever its shape: `message` as a
-- string, or a list of strings (NestJS validation errors), or objects with
-- a message; else `error`. Values of other types are skipped, never raised on.
local function envelope_message(env)
    if type(env) ~= "table" then return nil end
    local m = env.message
    if type(m) == "table" and getmetatable(m) == array_mt then
        local parts = {}
        for i = 1, #m do
            local t = text_of(m[i])
            if t then parts[#parts + 1] = t end
        end
        if parts[1] then return concat(parts, "; ") end
    else
        local t = text_of(m)
        if t then return t end
    end
    return text_of(env.error)
end

local function message_key(env)
    local k = type(env) == "table" and env.messageKey
    return type(k) == "string" and k or nil
end

-- A transfer that failed in libcurl (or the engine's own limits).
local function transport_error(what, r)
    local ename, emsg, status = r.error, r.message, r.status
    local kind, retryable = errors.transport(ename)
    if ename == "CURLE_SEND_FAIL_REWIND" then
        emsg = "the connection closed after the request was sent; the server may have acted on it"
    elseif ename == "CURLE_OUT_OF_MEMORY" and status then
        -- libcurl's own limit on one header line (100 KiB), reported as out of memory
        ename, kind, retryable = "RESPONSE_HEADERS_TOO_LARGE", "decode", false
        emsg = "a response header line is larger than libcurl accepts (" .. tostring(emsg) .. ")"
    end
    return nil, errors.new(kind, format("%s: %s", what, tostring(emsg)), {
        status = status, code = ename, retryable = retryable, headers = r.headers,
    })
end

-- A 2xx: the envelope's data, unless it is not an envelope, or says
-- `success = false` without data.
local function success(what, r)
    local status, headers = r.status, r.headers
    if status == 204 then return null end
    local env, derr = decode(r.body)
    if env == nil then
        return nil, errors.new("decode", format("%s: the response is not JSON (%s)", what, derr),
            { status = status, code = "INVALID_JSON", headers = headers })
    end
    if type(env) ~= "table" or getmetatable(env) == array_mt then
        return nil, errors.new("decode", what .. ": the response is not a Hamsa envelope",
            { status = status, code = "INVALID_ENVELOPE", body = env, headers = headers })
    end
    local data = env.data
    -- (false is no data either: `false, response` would read as a failure)
    if env.success == false and (data == nil or data == null or data == false) then
        return nil, errors.new("api", format("%s (%s on %s)",
            envelope_message(env) or "the API reported a failure", errors.status_text(status), what),
            { status = status, code = message_key(env), body = env, headers = headers })
    end
    if data == nil then data = null end
    return data
end

-- Any other status: an error of the status's kind, with what the body says.
local function failure(what, r)
    local status = r.status
    local env = decode(r.body)
    local msg = envelope_message(env) or "the API answered with an error"
    return nil, errors.new(errors.kind_for_status(status),
        format("%s (%s on %s)", msg, errors.status_text(status), what), {
            status = status,
            code = message_key(env),
            body = env,
            headers = r.headers,
            retryable = errors.status_retryable(status),
        })
end

-- Maps one finished attempt (`r`, what transfer:result() returns) to
-- `data` or an error.
local function interpret(call, r)
    local what = call.method .. " " .. call.path
    if r.error then return transport_error(what, r) end
    local status = r.status
    if not status then
        return nil, errors.new("network", what .. ": no response", { code = "NO_RESPONSE", headers = r.headers })
    end
    if status >= 200 and status < 300 then return success(what, r) end
    return failure(what, r)
end

--- Maps one finished attempt to `data` or `nil, err`. Any fault in the
-- mapping (a shape nobody foresaw) becomes an error of that one request
-- instead of a raise out of poll/wait.
-- @tparam table call the call record (hamsa.loop)
-- @tparam table r what `transfer:result()` returns
function M.map(call, r)
    local ok, data, err = pcall(interpret, call, r)
    if ok then return data, err end
    return nil, errors.new("decode", format("%s %s: the response could not be read (%s)",
        call.method, call.path, tostring(data)), { status = r.status, code = "INVALID_ENVELOPE", headers = r.headers })
end

return M
