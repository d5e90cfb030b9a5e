-- The engine keeps spare libcurl handles set up between requests (see the
-- `shape` comment in csrc/http.c): a request of the same shape reuses one
-- as it is (with libcurl 8.1.0 and later; before, handles are not reused:
-- see give_back_easy and spec/47). Proved here on the server's side: whatever order the methods
-- come in, no option of one request leaks into the next (a PATCH's custom
-- method into a POST, a body into a GET, a key into another request), and
-- json.encode's depth cap, which the pipeline uses, counts like the old walk.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

local KEY = "reuse-key-51c0"

describe("hamsa engine handle reuse", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, {
        mock = { api_key = KEY }, client = { max_retries = 0 }, clean = "reset",
    }, function(s, c) server, client = s, c end)

    it("sends each request with its own method, body and idempotency key, in any order", function()
        local a = assert(client.agents:create({ agentName = "A" }))
        assert(client.agents:update(a.id, { agentName = "B" }))
        assert(client.agents:create({ agentName = "C" }))
        assert(client:request("GET", "/v1/voice-agents"))
        client:request("DELETE", "/v1/voice-agents/none")
        assert(client.agents:create({ agentName = "D" }, { headers = { ["X-Trace"] = "1" } }))
        assert(client.agents:update(a.id, { agentName = "E" }))
        assert(client:request("GET", "/v1/voice-agents/" .. a.id))
        assert(client.agents:create({ agentName = "F" }))

        local log = server:requests()
        local want = {
            { "POST", '{"agentName":"A"}' }, { "PATCH", '{"agentName":"B"}' }, { "POST", '{"agentName":"C"}' },
            { "GET", "" }, { "DELETE", "" }, { "POST", '{"agentName":"D"}' }, { "PATCH", '{"agentName":"E"}' },
            { "GET", "" }, { "POST", '{"agentName":"F"}' },
        }
        assert.equal(#want, #log)
        local keys = {}
        for i, w in ipairs(want) do
            assert.equal(w[1], log[i].method)
            assert.equal(w[2], log[i].body or "")
            local key = log[i].headers["idempotency-key"]
            if w[1] == "POST" then
                assert.is_string(key)
                assert.is_nil(keys[key])
                keys[key] = true
            else
                assert.is_nil(key)
            end
            assert.equal(i == 6 and "1" or nil, log[i].headers["x-trace"])
        end
    end)

    it("keeps a kept-alive connection across shapes", function()
        assert(client.agents:create({ agentName = "warm" }))
        local _, r1 = client:request("GET", "/v1/voice-agents")
        local _, r2 = client.agents:create({ agentName = "again" })
        assert.equal(0, r1.new_connections)
        assert.equal(0, r2.new_connections)
    end)

    describe("json.encode(v, max_depth)", function()
        local encode = hamsa.json.encode

        local nested = helpers.nested

        it("counts the value itself as level 1", function()
            assert.is_string(encode(nested(3), 3))
            local s, err = encode(nested(4), 3)
            assert.is_nil(s)
            assert.matches("nesting too deep (limit 3)", err, 1, true)
        end)

        it("keeps the codec's own limit as the default and the ceiling", function()
            assert.is_string(encode(nested(1000)))
            assert.matches("limit 1000", select(2, encode(nested(1001))), 1, true)
            assert.matches("limit 1000", select(2, encode(nested(1001), 5000)), 1, true)
        end)

        it("refuses a limit below 1 as misuse", function()
            assert.has_error(function() encode({}, 0) end)
            assert.has_error(function() encode({}, 1.5) end)
        end)
    end)
end)
