-- Bounded inputs and a safe debug trace: request bodies are capped in size
-- and nesting, ids cannot change the route, header values cannot smuggle
-- headers, and libcurl's verbose output reaches the logger without the key
-- or any body byte. Every refusal is proved by the server seeing nothing.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"

local KEY = "limits-key-SECRET-77e1"

local function contains_key(s)
    return s:find(KEY, 1, true) ~= nil
end

-- A body nested `depth` levels deep, the body itself being level 1.
local function nested(depth)
    return helpers.nested(depth, { agentName = "Deep" })
end

describe("hamsa limits", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each }, {
        mock = { api_key = KEY }, client = { max_retries = 0 }, clean = "faults",
    }, function(s, c) server, client = s, c end)

    describe("request body size", function()
        it("a body over the default 1 MiB is refused before sending", function()
            local _, err = client.agents:create({ agentName = "Big", preamble = ("x"):rep(1024 * 1024) })
            assert.equal("invalid", err.kind)
            assert.matches("over max_request_bytes (1048576)", err.message, 1, true)
            assert.is_false(err.retryable)
            assert.equal(0, #server:requests())
        end)

        it("max_request_bytes sets the cap; a body of exactly that size is sent", function()
            local body = { agentName = "Exact" }
            local size = #hamsa.json.encode(body)
            local c = hamsa.new({ api_key = KEY, base_url = server.url, max_request_bytes = size })
            assert.is_table((c.agents:create(body)))
            local _, err = c.agents:create({ agentName = "Exact+" })
            assert.equal("invalid", err.kind)
            assert.matches(("the body is %d bytes, over max_request_bytes (%d)"):format(size + 1, size), err.message,
                           1, true)
            assert.equal(1, #server:requests())
            c:close()
        end)

        it("applies with validate = false and through client:request", function()
            local c = hamsa.new({ api_key = KEY, base_url = server.url, validate = false, max_request_bytes = 64 })
            local _, err = c:request("POST", "/v1/voice-agents", { agentName = ("y"):rep(100) })
            assert.equal("invalid", err.kind)
            assert.equal(0, #server:requests())
            c:close()
        end)

        it("arrives through on_done when non-blocking", function()
            local c = hamsa.new({ api_key = KEY, base_url = server.url, max_request_bytes = 16 })
            local got
            c.agents:create({ agentName = "Async and too long" }, { on_done = function(_, e) got = e end })
            c:wait(5)
            assert.equal("invalid", got.kind)
            assert.equal(0, #server:requests())
            c:close()
        end)

        it("max_request_bytes must be an integer >= 1", function()
            assert.has_error(function() hamsa.new({ max_request_bytes = 0 }) end)
            assert.has_error(function() hamsa.new({ max_request_bytes = 1.5 }) end)
            assert.has_error(function() hamsa.new({ max_request_bytes = "1" }) end)
        end)
    end)

    describe("request body nesting", function()
        it("100 levels are sent", function()
            local _, err = client:request("POST", "/v1/voice-agents", nested(100))
            assert.is_not_equal("invalid", err and err.kind)
            assert.equal(1, #server:requests())
        end)

        it("101 levels are refused before sending, even without validation", function()
            local c = hamsa.new({ api_key = KEY, base_url = server.url, validate = false })
            local _, err = c.agents:create(nested(101))
            assert.equal("invalid", err.kind)
            assert.matches("nests deeper than 100 levels", err.message, 1, true)
            local _, err2 = c:request("PATCH", "/v1/voice-agents/x", nested(5000))
            assert.equal("invalid", err2.kind)
            assert.equal(0, #server:requests())
            c:close()
        end)

        it("a cycle is still reported as a cycle", function()
            local body = { agentName = "Loop", params = {} }
            body.params.again = body
            local _, err = client:request("POST", "/v1/voice-agents", body)
            assert.equal("invalid", err.kind)
            assert.matches("cycle", err.message)
            assert.equal(0, #server:requests())
        end)

        it("a shallow body with many siblings is fine", function()
            local body = { agentName = "Wide", extra = {} }
            for i = 1, 500 do body.extra["k" .. i] = { v = { i } } end
            assert.is_table((client:request("POST", "/v1/voice-agents", body)))
        end)
    end)

    describe("documented string bounds", function()
        -- the only lengths Hamsa documents on these routes are E.164 numbers
        it("a phone number longer than E.164 allows is refused before sending", function()
            local _, err = client.calls:phone_number({ toNumber = "+1234567890123456", phoneNumber = "+97145551234",
                                                       voiceAgentId = "x" })
            assert.equal("invalid", err.kind)
            assert.equal("toNumber", err.field)
            assert.equal(0, #server:requests())
        end)
    end)

    describe("paths and queries", function()
        it("every byte of an id is percent-encoded into one path segment", function()
            local bytes = {}
            for b = 1, 255 do bytes[#bytes + 1] = string.char(b) end
            local id = table.concat(bytes)
            local _, err = client.agents:update(id, { lang = "en" })
            assert.equal("not_found", err.kind)
            local r = server:requests()[1]
            local seg = r.path:match("^/v1/voice%-agents/(.*)$")
            assert.is_string(seg)
            assert.matches("^[%w%-%._~%%]+$", seg)
            assert.equal(id, (seg:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)))
        end)

        it("every byte of an id is percent-encoded into one query value", function()
            local id = "a&b=c#d?e f/+%\r\n;"
            client.agents:clone(id)
            local r = server:requests()[1]
            assert.equal("/v1/voice-agents/clone", r.path)
            local v = r.query:match("^voiceAgentId=(.*)$")
            assert.matches("^[%w%-%._~%%]+$", v)
            assert.equal(id, (v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)))
        end)

        for _, id in ipairs({ "..", "." }) do
            it(("an id of %q cannot reach another route"):format(id), function()
                local _, err = client.agents:update(id, { lang = "en" })
                assert.equal("invalid", err.kind)
                assert.equal("voiceAgentId", err.field)
                local _, err2 = client.agents:clone(id)
                assert.equal("voiceAgentId", err2.field)
                assert.equal(0, #server:requests())
            end)
        end

        it("client:request refuses dot segments too", function()
            local _, err = client:request("GET", "/v1/voice-agents/../../admin")
            assert.equal("invalid", err.kind)
            assert.equal(0, #server:requests())
        end)

        it("query values are encoded, arrays repeat the key", function()
            client:request("GET", "/v1/voice-agents", nil, { query = { take = 5, q = "a b&c", status = { "X", "Y Z" } } })
            assert.equal("q=a%20b%26c&status=X&status=Y%20Z&take=5", server:requests()[1].query)
        end)
    end)

    describe("header injection", function()
        local cases = {
            { "a client header value with CR LF", function()
                return hamsa.new({ api_key = KEY, base_url = server.url, headers = { ["X-A"] = "1\r\nX-Evil: 2" } }) end },
            { "a client header value with a bare LF", function()
                return hamsa.new({ api_key = KEY, base_url = server.url, headers = { ["X-A"] = "1\nX-Evil: 2" } }) end },
            { "a client header name with CR LF", function()
                return hamsa.new({ api_key = KEY, base_url = server.url, headers = { ["X-A\r\nX-Evil"] = "1" } }) end },
            { "a header name with a colon", function()
                return hamsa.new({ api_key = KEY, base_url = server.url, headers = { ["X-A: 1\r\nX"] = "1" } }) end },
            { "a request header value with CR", function()
                return client.agents:create({ agentName = "x" }, { headers = { ["X-A"] = "1\rX-Evil: 2" } }) end },
            { "a request header name with LF", function()
                return client.agents:create({ agentName = "x" }, { headers = { ["X\nEvil"] = "1" } }) end },
            { "a header value with NUL", function()
                return client.agents:create({ agentName = "x" }, { headers = { ["X-A"] = "1\0002" } }) end },
            { "a user_agent with CR LF", function()
                return hamsa.new({ api_key = KEY, base_url = server.url, user_agent = "ua\r\nX-Evil: 1" }) end },
            { "an idempotency_key with CR LF", function()
                return client.agents:create({ agentName = "x" }, { idempotency_key = "k\r\nX-Evil: 1" }) end },
        }
        for _, c in ipairs(cases) do
            it(c[1] .. " raises and sends nothing", function()
                local ok = pcall(c[2])
                assert.is_false(ok)
                assert.equal(0, #server:requests())
            end)
        end
    end)

    describe("trace (libcurl verbose output)", function()
        local function traced(opts)
            local lines = {}
            local o = { api_key = KEY, base_url = server.url, trace = true, max_retries = 0,
                        logger = function(level, msg) lines[#lines + 1] = level .. " " .. msg end }
            for k, v in pairs(opts or {}) do o[k] = v end
            return hamsa.new(o), lines
        end

        it("goes to the logger at level trace, with the Authorization value redacted", function()
            local c, lines = traced()
            assert.is_table((c.agents:create({ agentName = "Traced", preamble = "BODY-MARKER-1" })))
            c:close()
            local text = table.concat(lines, "\n")
            assert.matches("trace POST /v1/voice-agents: > POST /v1/voice-agents HTTP/1.1", text, 1, true)
            assert.matches("> Authorization: [REDACTED]", text, 1, true)
            assert.matches("< HTTP/1.1 200 OK", text, 1, true)
            assert.matches("* Connected to", text, 1, true)
            assert.is_false(contains_key(text))
            -- headers only: neither the request nor the response body
            assert.is_nil(text:find("BODY-MARKER-1", 1, true))
            assert.is_nil(text:find('"agentName"', 1, true))
        end)

        it("redacts the key where a server echoes it in a header or the body", function()
            local c, lines = traced()
            server:fault({ status = 400, headers = { ["X-Echo"] = "Token " .. KEY },
                           body = '{"message":"bad ' .. KEY .. '"}' })
            local _, err = c.agents:create({ agentName = "x" })
            c:close()
            assert.equal("api", err.kind)
            local text = table.concat(lines, "\n")
            assert.matches("< X-Echo: Token [REDACTED]", text, 1, true)
            assert.is_false(contains_key(text))
            assert.is_false(contains_key(tostring(err)))
        end)

        it("redacts a proxy's credentials", function()
            local c, lines = traced({ proxy = "http://user:proxy-pass-SECRET@" .. server.url:match("//(.*)$") })
            c.agents:create({ agentName = "x" })
            c:close()
            local text = table.concat(lines, "\n")
            assert.matches("> Proxy-Authorization: [REDACTED]", text, 1, true)
            local b64 = "dXNlcjpwcm94eS1wYXNzLVNFQ1JFVA"     -- base64("user:proxy-pass-SECRET")
            assert.is_nil(text:find(b64, 1, true))
            assert.is_false(contains_key(text))
        end)

        it("covers failed transfers and retries", function()
            local c, lines = traced({ base_url = "http://127.0.0.1:" .. helpers.free_port(), max_retries = 1 })
            local _, err = c.agents:create({ agentName = "x" })
            c:close()
            assert.equal("network", err.kind)
            local text = table.concat(lines, "\n")
            assert.matches("trace POST /v1/voice-agents: *", text, 1, true)
            assert.matches("retrying in", text, 1, true)
        end)

        it("is capped per transfer", function()
            local c, lines = traced()
            local many = {}
            for i = 1, 2000 do many["X-Filler-" .. i] = ("v"):rep(30) end
            server:fault({ status = 200, headers = many, body = '{"success":true,"data":{"id":"a1"}}' })
            assert.is_table((c.agents:create({ agentName = "Capped" })))
            c:close()
            local text = table.concat(lines, "\n")
            assert.matches("[trace truncated]", text, 1, true)
            assert.is_true(#text < 2 * 64 * 1024 + 2000 * 40)
        end)

        it("is off by default: a logger gets debug lines only", function()
            local lines = {}
            local c = hamsa.new({ api_key = KEY, base_url = server.url,
                                  logger = function(level, msg) lines[#lines + 1] = level .. " " .. msg end })
            assert.is_table((c.agents:create({ agentName = "Quiet" })))
            c:close()
            assert.is_true(#lines > 0)
            for _, l in ipairs(lines) do assert.matches("^debug ", l) end
        end)

        it("HAMSA_LOG=trace writes it to stderr without the key", function()
            local out = helpers.run_lua(([[
                local hamsa = require "hamsa"
                local c = hamsa.new({ api_key = %q, base_url = %q })
                assert(c.agents:create({ agentName = "BODY-MARKER-2" }))
                c:close()
            ]]):format(KEY, server.url), "HAMSA_LOG=trace")
            assert.matches("hamsa trace: POST /v1/voice-agents: > Authorization: [REDACTED]", out, 1, true)
            assert.matches("hamsa debug: POST /v1/voice-agents: attempt 1", out, 1, true)
            assert.is_false(contains_key(out))
            assert.is_nil(out:find("BODY-MARKER-2", 1, true))
        end)

        it("a traced client can be closed with connections still open", function()
            local c = traced()
            assert.is_table((c.agents:create({ agentName = "Open" })))
            assert.is_table((c.agents:create({ agentName = "Open" }, { on_done = function() end })))
            c:close()                       -- cancels the second, closes the kept-alive connection
            assert.equal(0, c:pending())
        end)
    end)
end)
