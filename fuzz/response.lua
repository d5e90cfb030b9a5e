-- The check behind fuzz/response.c: the input is the server's raw answer
-- to one request of a real client (an odd-sized input answers a POST
-- create, an even-sized one a GET), traced into a logger. Whatever the
-- bytes, the call must return, never raise, and:
--   * success: data, and a response with a 2xx integer status, a body
--     string and a header table of lower-case string names and values;
--   * failure: a hamsa error of a known kind with a message, an integer
--     status or none, and the API key nowhere in it;
--   * no log or trace line holds the key; nothing stays in flight.
local hamsa = require "hamsa"

local KEY = "FUZZ-KEY-5eb1c0de"
local KINDS = { api = true, auth = true, not_found = true, rate_limited = true, server = true,
                timeout = true, network = true, decode = true }
local type, pairs, ipairs, tostring, assert = type, pairs, ipairs, tostring, assert
local find, lower, math_type = string.find, string.lower, math.type

local lines = {}
local client = hamsa.new({
    api_key = KEY, base_url = "http://127.0.0.1:9", max_retries = 0, timeout = 2, connect_timeout = 2,
    max_response_bytes = 65536, trace = true,
    logger = function(_, msg) lines[#lines + 1] = msg end,
})

local function holds_key(v, seen)
    if type(v) == "string" then return find(v, KEY, 1, true) ~= nil end
    if type(v) ~= "table" or seen[v] then return false end
    seen[v] = true
    for k, x in pairs(v) do
        if holds_key(k, seen) or holds_key(x, seen) then return true end
    end
    return false
end

return function(input)
    lines = {}
    local data, err, response
    if #input % 2 == 1 then
        data, err, response = client.agents:create({ agentName = "Fuzz" })
    else
        data, err, response = client:request("GET", "/v1/voice-agents")
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
    end
    for _, l in ipairs(lines) do
        assert(not find(l, KEY, 1, true), "the key is in a log line: " .. l)
    end
end
