-- Regressions of what `make fuzz` found (docs/reliability.md, "Fuzzing"),
-- one spec each; the failing input also stays in fuzz/corpus/. Some only
-- fail where they can be seen: under `make check-memory`'s sanitizer build.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

describe("hamsa fuzz regressions", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, {
        client = { max_retries = 0 }, clean = "faults",
    }, function(s, c) server, client = s, c end)

    -- fuzz/corpus/response/regress-empty-answer: push_headers computed
    -- NULL + 0 when not one header byte had arrived (UBSan: "applying zero
    -- offset to null pointer" in csrc/http.c)
    it("an answer without a single byte gives network CURLE_GOT_NOTHING and no headers", function()
        for _, request in ipairs({
            function() return client.agents:create({ agentName = "x" }) end,
            function() return client:request("GET", "/v1/voice-agents") end,
        }) do
            server:fault({ action = "close" })
            local data, err = request()
            assert.is_nil(data)
            assert.equal("network", err.kind)
            assert.equal("CURLE_GOT_NOTHING", err.code)
            assert.is_nil(err.status)
            assert.same({}, err.headers)
        end
        assert.is_table((client.agents:create({ agentName = "After" })))
    end)

    it("the same, traced (the trace path reads no header either)", function()
        local lines = {}
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_retries = 0, trace = true,
                              logger = function(_, msg) lines[#lines + 1] = msg end })
        server:fault({ action = "close" })
        local _, err = c.agents:create({ agentName = "x" })
        c:close()
        assert.equal("CURLE_GOT_NOTHING", err.code)
        assert.is_true(#lines > 0)
    end)

    -- fuzz/corpus/response/regress-folded-first-header: libcurl before 8.1.0
    -- kept a pointer to the previous transfer's last header in a reused easy
    -- handle (curl/curl#11101); a first header line that starts with a space
    -- (a "continuation") then read freed memory (ASan: heap-use-after-free in
    -- Curl_headers_push). The engine reuses handles only from 8.1.0 on.
    it("a folded first header line after an earlier answer on the same client is a clean error", function()
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_retries = 0 })
        for round = 1, 3 do
            assert.is_table((c.agents:create({ agentName = "before " .. round })))
            server:fault({ action = "raw", raw = "HTTP/1.1 200 OK\r\n Folded: value\r\nContent-Type: application/json\r\n"
                .. "Content-Length: 30\r\n\r\n{\"success\":true,\"data\":null}\r\n" })
            local data, err = c.agents:create({ agentName = "folded " .. round })
            assert.is_true(data ~= nil or hamsa.is_error(err))
        end
        c:close()
    end)
end)
