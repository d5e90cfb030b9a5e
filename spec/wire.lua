--- Spec helper: what a request put on the wire, checked against what a spec wants, for
-- specs that drive the client against the mock (spec/33-routes_v2_spec.lua).
--
--     local wire = require "spec.wire"
--     local w = wire.recorder(function() return server end)
--     local data, res = w.ok(client.campaigns.get, client.campaigns, id)   -- clears the log first
--     w.sent { "GET", "/v1/voice-agents/campaigns/" .. id, query = "" }   -- then data is checked
local assert = require "luassert"
local json = require("hamsa").json
local ARRAY_MT = require("hamsa.core").json.array_mt

local concat, sort = table.concat, table.sort

local M = {}

M.UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

--- JSON text with keys sorted, telling arrays (array-marked, or a non-empty sequence) from
-- objects: two values give the same text exactly when they go out as the same JSON.
local function canonical(v)
    if type(v) ~= "table" then return json.encode(v) end
    local out = {}
    if getmetatable(v) == ARRAY_MT or (getmetatable(v) == nil and v[1] ~= nil) then
        for i = 1, #v do out[i] = canonical(v[i]) end
        return "[" .. concat(out, ",") .. "]"
    end
    for k, x in pairs(v) do out[#out + 1] = json.encode(k) .. ":" .. canonical(x) end
    sort(out)
    return "{" .. concat(out, ",") .. "}"
end
M.canonical = canonical

--- Whether `v` was decoded from a JSON array.
function M.is_array(v)
    return type(v) == "table" and getmetatable(v) == ARRAY_MT
end

--- `ok(fn, ...)` clears the mock's log and calls `fn(...)`, returning its `data, response`;
-- `sent(want)` checks the one request the mock saw since against `want` = { method, path,
-- query = exact string (default ""), body = a table compared as JSON (nil: no body) }, the
-- Idempotency-Key (on POST only), and then that the call succeeded; it returns the request.
-- `message_key(response)` is the envelope's messageKey.
function M.recorder(get_server)
    local last
    local w = {}
    function w.ok(fn, ...)
        get_server():clear()
        last = { fn(...) }
        return last[1], last[2]
    end
    function w.sent(want)
        local log = get_server():requests()
        assert.equal(1, #log, "expected exactly one request, got " .. #log)
        local req = log[1]
        assert.equal(want[1], req.method)
        assert.equal(want[2], req.path)
        assert.equal(want.query or "", req.query)
        if want.body == nil then
            assert.equal("", req.body)
        else
            assert.equal("application/json", req.headers["content-type"])
            assert.equal(canonical(want.body), canonical(json.decode(req.body)), req.body)
        end
        if want[1] == "POST" then
            assert.matches(M.UUID, req.headers["idempotency-key"])
        else
            assert.is_nil(req.headers["idempotency-key"])
        end
        assert.is_not_nil(last[1], tostring(last[2]))
        assert.equal(200, last[2].status)
        return req
    end
    function w.message_key(res)
        return json.decode(res.body).messageKey
    end
    return w
end

return M
