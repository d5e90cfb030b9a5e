-- The check behind fuzz/response.c: the input is the server's answer to one
-- request of a real client, traced into a logger. Two modes:
--
--   raw       (any first byte but NUL) the input is the raw HTTP response;
--             an odd-sized input answers a POST create, an even-sized one
--             a GET;
--   envelope  (first byte NUL) the rest of the input is a list of choices
--             from which fuzz/envelope.lua builds the response: the method,
--             a status from 200 to 599, odd headers (Retry-After and
--             Retry-After-Ms with odd values, an echo of the key...), the
--             framing, and a JSON envelope whose success, message,
--             messageKey, data and error fields each hold any value: absent,
--             string, number, boolean, null, an array of mixed values
--             (objects, nulls, booleans...), an object, or a deep nesting.
--             HAMSA_FUZZ_SHOW=1 prints the response built for each input.
--
-- Whatever the bytes, the client must return, never raise (a raise is a
-- finding of its own, "the client raised", with the response built), and:
--   * success: data, and a response with a 2xx integer status, a body
--     string and a header table of lower-case string names and values;
--   * failure: a hamsa error of a known kind with a string message, an
--     integer status or none, and the API key nowhere in it; the retry
--     policy reads its headers into no wait or one from 0 to 60 s;
--   * no log or trace line holds the key; nothing stays in flight.
local hamsa = require "hamsa"
local retry = require "hamsa.retry"
local harness = require "fuzz.harness"           -- serve(bytes), from fuzz/response.c
local envelope = dofile(debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") .. "/envelope.lua")

local KEY = envelope.KEY
local KINDS = { api = true, auth = true, not_found = true, rate_limited = true, server = true,
                timeout = true, network = true, decode = true }
local type, pairs, ipairs, tostring, assert, error, pcall = type, pairs, ipairs, tostring, assert, error, pcall
local find, lower, byte, sub, format = string.find, string.lower, string.byte, string.sub, string.format
local math_type = math.type
local SHOW = os.getenv("HAMSA_FUZZ_SHOW")

local lines = {}
local client = hamsa.new({
    api_key = KEY, base_url = "http://127.0.0.1:9", max_retries = 0, timeout = 2, connect_timeout = 2,
    max_response_bytes = 65536, trace = true,
    logger = function(_, msg) lines[#lines + 1] = msg end,
})

---------------------------------------------------------------------------
-- the check

local function holds_key(v, seen)
    if type(v) == "string" then return find(v, KEY, 1, true) ~= nil end
    if type(v) ~= "table" or seen[v] then return false end
    seen[v] = true
    for k, x in pairs(v) do
        if holds_key(k, seen) or holds_key(x, seen) then return true end
    end
    return false
end

local function call(post)
    if post then return client.agents:create({ agentName = "Fuzz" }) end
    return client:request("GET", "/v1/voice-agents")
end

local function check(input)
    lines = {}
    local post, raw = #input % 2 == 1, nil
    if byte(input, 1) == 0 then
        post, raw = envelope.build(sub(input, 2))
        if SHOW then io.stderr:write("---- ", post and "POST" or "GET", "\n", raw, "\n") end
        harness.serve(raw)
    end
    local ok, data, err, response = pcall(call, post)
    harness.serve(nil)
    if not ok then
        error(format("the client raised instead of returning nil, err: %s%s", tostring(data),
            raw and "\n---- the response:\n" .. sub(raw, 1, 4000) or ""), 0)
    end
    assert(client:pending() == 0, "a request is still in flight")
    if data ~= nil then
        response = err
        assert(type(response) == "table", "no response table")
        assert(math_type(response.status) == "integer" and response.status >= 200 and response.status < 300,
               "success with status " .. tostring(response.status))
        assert(type(response.body) == "string", "body is not a string")
        for k, v in pairs(response.headers) do
            assert(type(k) == "string" and k == lower(k) and type(v) == "string", "bad header " .. tostring(k))
        end
    else
        assert(hamsa.is_error(err), "failure without a hamsa error: " .. tostring(err))
        assert(KINDS[err.kind], "unexpected kind " .. tostring(err.kind))
        assert(type(err.message) == "string" and err.message ~= "", "no message")
        assert(err.status == nil or math_type(err.status) == "integer", "status is not an integer")
        assert(not holds_key(err, {}), "the key is in the error")
        assert(not find(tostring(err), KEY, 1, true), "the key is in tostring(err)")
        if response then assert(not holds_key(response, {}), "the key is in the error's response") end
        local wait = retry.retry_after(err.headers)
        assert(wait == nil or (type(wait) == "number" and wait >= 0), "Retry-After read as " .. tostring(wait))
        wait = retry.decide(err, post and "POST" or "GET", true, 0, 1)
        assert(wait == nil or (wait >= 0 and wait <= retry.MAX_RETRY_AFTER),
               "retry.decide waits " .. tostring(wait))
    end
    for _, l in ipairs(lines) do
        assert(not find(l, KEY, 1, true), "the key is in a log line: " .. l)
    end
end

return check
