-- The module face: version, null, marks, client construction and misuse.
local hamsa = require "hamsa"

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

describe("hamsa", function()
    describe("_VERSION", function()
        it("is x.y.z", function()
            assert.matches("^%d+%.%d+%.%d+$", hamsa._VERSION)
        end)

        it("equals the release rockspec's version (rockspecs/hamsa-X.Y.Z-1.rockspec)", function()
            local name = "rockspecs/hamsa-" .. hamsa._VERSION .. "-1.rockspec"
            local f = io.open(name, "rb")
            assert.truthy(f, "no " .. name .. " (make rockspecs makes it)")
            if f then f:close() end
            local v = read(name):match('\nversion%s*=%s*"([^"]+)"')
            assert.equal(hamsa._VERSION .. "-1", v)
        end)

        it("is the C core's version", function()
            assert.equal(require("hamsa.core")._VERSION, hamsa._VERSION)
        end)
    end)

    describe("null", function()
        it("is cjson.null", function()
            assert.equal(require("cjson").null, hamsa.null)
            assert.equal("userdata", type(hamsa.null))
        end)

        it("is hamsa.json.null", function()
            assert.equal(hamsa.null, hamsa.json.null)
        end)
    end)

    describe("array/object", function()
        it("array() makes a table that encodes as []", function()
            assert.equal("[]", hamsa.json.encode(hamsa.array()))
        end)

        it("object() makes a table that encodes as {}", function()
            assert.equal("{}", hamsa.json.encode(hamsa.object()))
        end)

        it("array(t) returns t itself", function()
            local t = { 1, 2 }
            assert.equal(t, hamsa.array(t))
            assert.equal("[1,2]", hamsa.json.encode(t))
        end)

        it("an empty field marked as array is sent as []", function()
            assert.equal('{"pokeMessages":[]}', hamsa.json.encode({ pokeMessages = hamsa.array() }))
        end)
    end)

    describe("new", function()
        it("works without options", function()
            local c = hamsa.new()
            assert.equal("table", type(c.agents))
            assert.equal("table", type(c.calls))
            c:close()
        end)

        it("raises on an unknown option name, at the caller's line", function()
            local ok, err = pcall(hamsa.new, { timout = 5 })
            assert.is_false(ok)
            assert.matches("unknown option 'timout'", err)
            local line = debug.getinfo(1, "l").currentline
            local ok2, err2 = pcall(function() local c = hamsa.new({ timout = 5 }); return c end)
            assert.is_false(ok2)
            assert.matches("00%-module_spec.lua:" .. (line + 1) .. ":", err2)
        end)

        it("raises on an option of the wrong type", function()
            assert.has_error(function() hamsa.new({ timeout = "30" }) end,
                nil)
            local ok, err = pcall(hamsa.new, { timeout = "30" })
            assert.is_false(ok)
            assert.matches("option 'timeout' must be a number", err)
        end)

        it("raises on options that are not a table", function()
            local ok, err = pcall(hamsa.new, "key")
            assert.is_false(ok)
            assert.matches("options must be a table", err)
        end)

        it("raises on a negative timeout and a fractional max_retries", function()
            assert.is_false((pcall(hamsa.new, { timeout = -1 })))
            assert.is_false((pcall(hamsa.new, { max_retries = 1.5 })))
            assert.is_true((pcall(hamsa.new, { max_retries = 0 })))
        end)

        it("raises on a base_url that is not http(s)", function()
            local ok, err = pcall(hamsa.new, { base_url = "ftp://example.com" })
            assert.is_false(ok)
            assert.matches("base_url", err)
        end)

        it("raises on a header with CR or LF", function()
            local ok, err = pcall(hamsa.new, { headers = { ["X-A"] = "a\r\nX-Evil: 1" } })
            assert.is_false(ok)
            assert.matches("CR, LF", err)
        end)

        it("raises on a header name that is not a token", function()
            local ok, err = pcall(hamsa.new, { headers = { ["X A"] = "b" } })
            assert.is_false(ok)
            assert.matches("not a valid HTTP token", err)
        end)

        it("does not modify the options table", function()
            local opts = { api_key = "k", timeout = 3, headers = { ["X-A"] = "1" } }
            hamsa.new(opts):close()
            assert.same({ api_key = "k", timeout = 3, headers = { ["X-A"] = "1" } }, opts)
        end)
    end)

    describe("client", function()
        it("tostring shows the base URL and never the key", function()
            local c = hamsa.new({ api_key = "sk-very-secret-123", base_url = "https://api.example.com/" })
            local s = tostring(c)
            assert.matches("https://api.example.com", s, 1, true)
            assert.is_nil(s:find("sk-very-secret-123", 1, true))
            c:close()
        end)

        it("keeps the key out of the client table", function()
            local c = hamsa.new({ api_key = "sk-very-secret-123" })
            local function walk(t, seen)
                if seen[t] then return false end
                seen[t] = true
                for k, v in pairs(t) do
                    if v == "sk-very-secret-123" or k == "sk-very-secret-123" then return true end
                    if type(v) == "table" and walk(v, seen) then return true end
                end
                return false
            end
            assert.is_false(walk(c, {}))
            c:close()
        end)

        it("close is idempotent", function()
            local c = hamsa.new()
            c:close()
            c:close()
            assert.equal(0, c:pending())
        end)

        it("a request without any key fails with kind config", function()
            local c = hamsa.new({ api_key = "", base_url = "http://127.0.0.1:9" })
            local data, err = c.agents:create({ agentName = "x" })
            assert.is_nil(data)
            assert.equal("config", err.kind)
            assert.matches("API key", err.message)
            c:close()
        end)

        it("refuses plain http to a remote host with the key", function()
            local c = hamsa.new({ api_key = "k", base_url = "http://api.example.com" })
            local _, err = c.agents:create({ agentName = "x" })
            assert.equal("config", err.kind)
            assert.matches("http://", err.message, 1, true)
            c:close()
        end)
    end)

    describe("errors", function()
        it("print as 'hamsa: <kind>: <message>'", function()
            local c = hamsa.new({ api_key = "k", base_url = "http://127.0.0.1:9" })
            local _, err = c.agents:create({ agentName = "x", silenceThreshold = 0 })
            assert.equal("hamsa: invalid: silenceThreshold must be an integer from 1 to 9007199254740992", tostring(err))
            assert.is_true(hamsa.is_error(err))
            assert.is_false(err.retryable)
            c:close()
        end)
    end)
end)
