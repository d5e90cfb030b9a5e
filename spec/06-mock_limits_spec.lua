-- Specs of the mock's defences (lua/hamsa/mock.lua): slow or stalled
-- clients, running out of connections or descriptors, and requests whose
-- bytes must never break the request log or make the mock answer 500.
-- They talk to it with LuaSocket only, never with the library under test.

local socket = require("socket")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local KEY = "test-key"
local REPLACEMENT = "\239\191\189"   -- U+FFFD

local function connect(url, timeout)
    local host, port = url:match("^http://([^:/]+):(%d+)")
    local c = assert(socket.connect(host, tonumber(port)))
    c:settimeout(timeout or 5)
    return c
end

local function head(method, target, extra)
    local lines = { method .. " " .. target .. " HTTP/1.1", "Host: mock", "Authorization: Token " .. KEY }
    for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
    return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- One request on a new connection: the response table, or nil, err.
local function exchange(url, text, timeout)
    local c = connect(url, timeout)
    c:send(text)
    local r, err = helpers.read_response(c)
    c:close()
    return r, err
end

local function post(url, path, body)
    return exchange(url, head("POST", path, { "Content-Length: " .. #body }) .. body)
end

describe("hamsa.mock limits", function()
    describe("request log", function()
        local server
        lazy_setup(function() server = helpers.start_mock() end)
        lazy_teardown(function() server:stop() end)
        before_each(function() server:reset() end)

        it("logs a body that is not UTF-8 losslessly, and GET /__mock/requests still answers", function()
            -- a stray byte, an overlong form, a surrogate, > U+10FFFF, a cut sequence
            local body = '{"agentName":"A\195\169\255"}\192\175\237\160\128\244\144\128\128\226\130'
            assert.equal(400, assert(post(server.url, "/v1/voice-agents", body)).status)
            local status, raw = helpers.http("GET", server.url .. "/__mock/requests")
            assert.equal(200, status)
            local entry = cjson.decode(raw)[1]
            assert.is_true(entry.body_invalid_utf8)
            assert.equal("eyJhZ2VudE5hbWUiOiJBw6n/In3Ar+2ggPSQgIDigg==", entry.body_base64)
            assert.equal('{"agentName":"A\195\169' .. REPLACEMENT .. '"}' .. REPLACEMENT:rep(11), entry.body)
            assert.equal(1, #server:requests())
        end)

        it("logs a valid UTF-8 body exactly as sent, with no extra fields", function()
            local body = '{"agentName":"سارة","greetingMessage":"مرحبا 👋"}'
            assert.equal(200, assert(post(server.url, "/v1/voice-agents", body)).status)
            local entry = server:requests()[1]
            assert.equal(body, entry.body)
            assert.is_nil(entry.body_base64)
            assert.is_nil(entry.body_invalid_utf8)
            assert.is_nil(entry.headers_base64)
            assert.same({ agentName = "سارة", greetingMessage = "مرحبا 👋" }, cjson.decode(entry.body))
        end)

        it("logs a path, query or header value that is not UTF-8; answers it 404, not 500", function()
            local r = assert(exchange(server.url, head("GET", "/v1/x\255?q=\254", { "X-Bin: v\128v", "X-Ok: fine" })))
            assert.equal(404, r.status)
            assert.equal("Cannot GET /v1/x" .. REPLACEMENT, cjson.decode(r.body).message)
            r = assert(exchange(server.url, head("GET", "/__mock/\255")))
            assert.equal(404, r.status)
            local entry = server:requests()[1]
            assert.equal("/v1/x" .. REPLACEMENT, entry.path)
            assert.equal("L3YxL3j/", entry.path_base64)
            assert.is_true(entry.path_invalid_utf8)
            assert.equal("q=" .. REPLACEMENT, entry.query)
            assert.equal("cT3+", entry.query_base64)
            assert.equal("v" .. REPLACEMENT .. "v", entry.headers["x-bin"])
            assert.equal("fine", entry.headers["x-ok"])
            assert.same({ ["x-bin"] = "doB2" }, entry.headers_base64)
            assert.is_true(entry.headers_invalid_utf8)
            assert.is_nil(entry.body_base64)
        end)
    end)
end)
