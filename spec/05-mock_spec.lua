-- Specs of the mock API server itself (lua/hamsa/mock/, bin/hamsa-mock).
-- They talk to it with LuaSocket only, never with the library under test.

local socket = require("socket")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local _   -- the throwaway of multiple assignments

local KEY = "test-key"
local UUID4 = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local ISO = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"

local function connect(url)
    local host, port = url:match("^http://([^:/]+):(%d+)")
    local c = assert(socket.connect(host, tonumber(port)))
    c:settimeout(5)
    return c
end

local function raw_request(method, path, body, extra)
    local lines = { method .. " " .. path .. " HTTP/1.1", "Host: mock", "Authorization: Token " .. KEY }
    for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
    body = body or ""
    if body ~= "" then lines[#lines + 1] = "Content-Length: " .. #body end
    return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

-- One authenticated API call: status, decoded body (or nil), raw body, headers.
local function api(server, method, path, body, headers)
    local h = { authorization = "Token " .. KEY }
    for k, v in pairs(headers or {}) do h[k] = v end
    local text = body ~= nil and (type(body) == "string" and body or cjson.encode(body)) or nil
    local status, raw, resp_headers = helpers.http(method, server.url .. path, text, h)
    assert(status, raw)
    local ok, decoded = pcall(cjson.decode, raw)
    return status, ok and decoded or nil, raw, resp_headers
end

local function create(server, fields)
    local status, res = api(server, "POST", "/v1/voice-agents", fields)
    assert.equal(200, status)
    return res.data
end

describe("hamsa.mock", function()
    describe("module", function()
        local mock = require("hamsa.mock")

        it("binds an ephemeral port, serves through step() and frees the port on close()", function()
            local srv = assert(mock.new{ host = "127.0.0.1", port = 0, api_key = KEY, latency = 0 })
            local url = srv:url()
            assert.matches("^http://127%.0%.0%.1:%d+$", url)
            local c = connect(url)
            c:settimeout(0)
            assert(c:send(raw_request("GET", "/v1/voice-agents")))
            local got, deadline = "", socket.gettime() + 5
            while socket.gettime() < deadline and not got:find("}$") do
                srv:step(0.01)
                local data, _, partial = c:receive(8192)
                got = got .. (data or partial or "")
            end
            c:close()
            assert.matches("^HTTP/1%.1 200 OK\r\n", got)
            assert.matches('"voiceAgents"', got)
            assert.is_true(srv:close())
            assert.is_true(srv:close())
            assert.same({ nil, "closed" }, { srv:step(0) })
            local port = tonumber(url:match(":(%d+)$"))
            assert.is_nil(socket.connect("127.0.0.1", port))
        end)

        it("returns nil, err when the port is taken and raises on misuse", function()
            local a = assert(mock.new{ port = 0 })
            local port = tonumber(a:url():match(":(%d+)$"))
            local b, err = mock.new{ port = port }
            a:close()
            assert.is_nil(b)
            assert.matches("cannot listen on 127%.0%.0%.1:" .. port, err)
            assert.has_error(function() mock.new{ prot = 1 } end, "hamsa.mock.new: unknown option 'prot'")
            assert.has_error(function() mock.new{ latency = "1" } end)
        end)
    end)

    describe("bin/hamsa-mock", function()
        local script = helpers.quote(helpers.root .. "/bin/hamsa-mock")
        local env = "LUA_PATH=" .. helpers.quote(helpers.root .. "/lua/?.lua;;") .. " "

        -- as the README shows it: from the checkout, no LUA_PATH or LUA_CPATH
        for _, path in ipairs({ "bin/hamsa-mock", "./bin/hamsa-mock" }) do
            it("serves when started as " .. path .. " from the checkout with no module paths set", function()
                -- its output until the first line is there (5 s at most), then it is killed
                local log = os.tmpname()
                local cmd = ("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "
                    .. "%s %s --port 0 >%s 2>&1 & pid=$!; i=0; "
                    .. "while [ $i -lt 100 ] && ! [ -s %s ]; do sleep 0.05; i=$((i+1)); done; "
                    .. "sleep 0.05; kill $pid"):format(
                    helpers.quote(helpers.root), helpers.mock_lua, path, helpers.quote(log), helpers.quote(log))
                os.execute(cmd)
                local out = helpers.slurp(log)
                assert.matches("^listening http://127%.0%.0%.1:%d+", out)
            end)
        end

        it("prints usage on --help and exits 2 on a bad argument", function()
            local p = io.popen(env .. helpers.mock_lua .. " " .. script .. " --help")
            local out = p:read("*a")
            local ok = p:close()
            assert.matches("usage: hamsa%-mock", out)
            assert.matches("%-%-latency", out)
            assert.truthy(ok)
            p = io.popen(env .. helpers.mock_lua .. " " .. script .. " --bogus 2>/dev/null; echo \"rc=$?\"")
            out = p:read("*a")
            p:close()
            assert.matches("rc=2", out)
        end)

        it("prints the listening line, and stop() kills it (twice is fine)", function()
            local server = helpers.start_mock{ api_key = "other-key" }
            assert.matches("^http://127%.0%.0%.1:%d+$", server.url)
            assert.equal("other-key", server.api_key)
            assert.is_number(server.pid)
            local status = helpers.http("GET", server.url .. "/v1/voice-agents", nil,
                { authorization = "Token other-key" })
            assert.equal(200, status)
            server:stop()
            server:stop()
            local port = tonumber(server.url:match(":(%d+)$"))
            assert.is_nil(socket.connect("127.0.0.1", port))
        end)

        it("answers POST /__mock/shutdown, then exits by itself", function()
            local server = helpers.start_mock()
            local status, body = helpers.http("POST", server.url .. "/__mock/shutdown")
            assert.equal(200, status)
            assert.equal(true, cjson.decode(body).success)
            local port = tonumber(server.url:match(":(%d+)$"))
            local deadline, listening = socket.gettime() + 5, true
            while listening and socket.gettime() < deadline do
                socket.sleep(0.05)
                local c = socket.connect("127.0.0.1", port)
                listening = c ~= nil
                if c then c:close() end
            end
            assert.is_false(listening)
            -- It has exited on its own (with status 0), so closing the pipe
            -- returns at once; stop() afterwards has nothing left to do.
            local ok, how, code = server.proc:close()
            server.stopped = true
            if _VERSION == "Lua 5.1" then   -- and LuaJIT: close() gives no exit status
                assert.is_true(ok)
            else
                assert.same({ true, "exit", 0 }, { ok, how, code })
            end
        end)
    end)

    describe("API", function()
        local server
        helpers.mock_suite({ lazy_setup, lazy_teardown, before_each }, { clean = "reset" }, function(s) server = s end)

        it("rejects a missing, wrong or non-Token key with 401, without echoing it", function()
            for _, auth in ipairs({ false, "Token wrong-secret-key", "Bearer " .. KEY, KEY }) do
                local status, raw = helpers.http("GET", server.url .. "/v1/voice-agents", nil,
                    { authorization = auth or nil })
                assert.equal(401, status)
                assert.same({ success = false, message = "Unauthorized: invalid API key",
                              messageKey = "UNAUTHORIZED" }, cjson.decode(raw))
                assert.is_nil(raw:find("wrong-secret-key", 1, true))
            end
        end)

        it("creates an agent: envelope, every body field kept, server fields added", function()
            local status, res, _, headers = api(server, "POST", "/v1/voice-agents", {
                agentName = "Sara", lang = "ar", silenceThreshold = 800, realTime = true,
                tools = { smartCallEnd = true }, somethingNew = "kept", outcome = cjson.null,
            })
            assert.equal(200, status)
            assert.equal("application/json; charset=utf-8", headers["content-type"])
            assert.is_true(res.success)
            assert.equal("Voice agent created successfully", res.message)
            assert.equal("VoiceAgentCreatedSuccessfully", res.messageKey)
            local a = res.data
            assert.matches(UUID4, a.id)
            assert.equal("Sara", a.agentName)
            assert.equal(800, a.silenceThreshold)
            assert.same({ smartCallEnd = true }, a.tools)
            assert.equal("kept", a.somethingNew)
            assert.equal(cjson.null, a.outcome)
            for _, k in ipairs({ "description", "voiceRecordId", "voiceRecord" }) do
                assert.equal(cjson.null, a[k])
            end
            assert.matches(UUID4, a.projectId)
            assert.matches(UUID4, a.apiKeyId)
            assert.matches(ISO, a.createdAt)
            assert.equal(a.createdAt, a.updatedAt)
            local _, again = api(server, "GET", "/v1/voice-agents/" .. a.id)
            assert.same(a, again.data)
        end)

        it("stores an empty array as [] and integers as integers", function()
            if not require("hamsa.core").json.decode then
                pending("needs the hamsa.core JSON codec (lua-cjson turns [] into {})")
                return
            end
            local status, _, raw = api(server, "POST", "/v1/voice-agents",
                '{"agentName":"A","pokeMessages":[],"silenceThreshold":800}')
            assert.equal(200, status)
            assert.matches('"pokeMessages":%[%]', raw)
            assert.matches('"silenceThreshold":800[,}]', raw)
        end)

        it("rejects a create without a non-empty agentName", function()
            for _, body in ipairs({ {}, { agentName = "" }, { agentName = 5 }, "" }) do
                local status, res = api(server, "POST", "/v1/voice-agents", body)
                assert.equal(400, status)
                assert.same({ success = false, message = "agentName is required",
                              messageKey = "VALIDATION_ERROR" }, res)
            end
        end)

        it("rejects a body that is not JSON, or not an object, with 400 BAD_REQUEST", function()
            local status, res = api(server, "POST", "/v1/voice-agents", "{nope")
            assert.equal(400, status)
            assert.same({ success = false, message = "Invalid JSON body", messageKey = "BAD_REQUEST" }, res)
            status, res = api(server, "PATCH", "/v1/voice-agents/x", "[1,2]")
            assert.equal(400, status)
            assert.equal("BAD_REQUEST", res.messageKey)
        end)

        it("gets one agent, 404 VOICE_AGENT_NOT_FOUND for an unknown id", function()
            local a = create(server, { agentName = "A" })
            local status, res = api(server, "GET", "/v1/voice-agents/" .. a.id)
            assert.equal(200, status)
            assert.equal(a.id, res.data.id)
            status, res = api(server, "GET", "/v1/voice-agents/00000000-0000-4000-8000-000000000000")
            assert.equal(404, status)
            assert.same({ success = false, message = "Voice agent not found",
                          messageKey = "VOICE_AGENT_NOT_FOUND" }, res)
        end)

        it("percent-decodes the id in the path, and logs the raw path", function()
            local a = create(server, { agentName = "A" })
            local encoded = a.id:gsub("%-", "%%2D")
            local status, res = api(server, "GET", "/v1/voice-agents/" .. encoded)
            assert.equal(200, status)
            assert.equal(a.id, res.data.id)
            status = api(server, "PATCH", "/v1/voice-agents/" .. encoded, { lang = "en" })
            assert.equal(200, status)
            local log = server:requests()
            assert.equal("/v1/voice-agents/" .. encoded, log[#log].path)
        end)

        it("lists agents page by page (skip is a 1-based page number)", function()
            for i = 1, 5 do create(server, { agentName = "agent " .. i }) end
            local status, res = api(server, "GET", "/v1/voice-agents?skip=2&take=2")
            assert.equal(200, status)
            assert.equal(5, res.data.total)
            assert.equal(5, res.data.filtered)
            assert.equal(2, #res.data.voiceAgents)
            assert.equal("agent 3", res.data.voiceAgents[1].agentName)
            assert.equal("agent 4", res.data.voiceAgents[2].agentName)
            _, res = api(server, "GET", "/v1/voice-agents")
            assert.equal(5, #res.data.voiceAgents)
            _, res = api(server, "GET", "/v1/voice-agents?skip=3&take=2")
            assert.equal(1, #res.data.voiceAgents)
            status, res = api(server, "GET", "/v1/voice-agents?skip=0")
            assert.equal(400, status)
            assert.equal("VALIDATION_ERROR", res.messageKey)
        end)

        it("updates: merges fields, null clears, bumps updatedAt, keeps server fields", function()
            local a = create(server, { agentName = "A", lang = "ar", outcome = "o", greetingMessage = "hi" })
            local status, res = api(server, "PATCH", "/v1/voice-agents/" .. a.id,
                '{"lang":"en","outcome":null,"isTemplate":true,"id":"hijack","createdAt":"x"}')
            assert.equal(200, status)
            assert.equal("VoiceAgentUpdatedSuccessfully", res.messageKey)
            local u = res.data
            assert.equal(a.id, u.id)
            assert.equal(a.createdAt, u.createdAt)
            assert.equal("en", u.lang)
            assert.equal(cjson.null, u.outcome)
            assert.is_true(u.isTemplate)
            assert.equal("hi", u.greetingMessage)
            assert.matches(ISO, u.updatedAt)
            assert.is_true(u.updatedAt > a.updatedAt)
            local _, again = api(server, "GET", "/v1/voice-agents/" .. a.id)
            assert.same(u, again.data)
        end)

        it("update: 404 for an unknown agent, 400 for an empty agentName", function()
            local a = create(server, { agentName = "A" })
            local status, res = api(server, "PATCH", "/v1/voice-agents/nope", { lang = "en" })
            assert.equal(404, status)
            assert.equal("VOICE_AGENT_NOT_FOUND", res.messageKey)
            status, res = api(server, "PATCH", "/v1/voice-agents/" .. a.id, { agentName = "" })
            assert.equal(400, status)
            assert.equal("VALIDATION_ERROR", res.messageKey)
            local _, again = api(server, "GET", "/v1/voice-agents/" .. a.id)
            assert.equal("A", again.data.agentName)
        end)

        it("clones from the voiceAgentId query parameter, with or without a name", function()
            local a = create(server, { agentName = "Base", lang = "ar", params = { name = "x" } })
            local status, res = api(server, "POST", "/v1/voice-agents/clone?voiceAgentId=" .. a.id,
                { agentName = "Copy A" })
            assert.equal(200, status)
            local c = res.data
            assert.matches(UUID4, c.id)
            assert.not_equal(a.id, c.id)
            assert.equal("Copy A", c.agentName)
            assert.equal("ar", c.lang)
            assert.same({ name = "x" }, c.params)
            _, res = api(server, "POST", "/v1/voice-agents/clone?voiceAgentId=" .. a.id)
            assert.equal("Base (copy)", res.data.agentName)
            _, res = api(server, "GET", "/v1/voice-agents")
            assert.equal(3, res.data.total)
        end)

        it("clone: 400 without voiceAgentId, 404 for an unknown source", function()
            local status, res = api(server, "POST", "/v1/voice-agents/clone", { agentName = "x" })
            assert.equal(400, status)
            assert.equal("VALIDATION_ERROR", res.messageKey)
            status, res = api(server, "POST", "/v1/voice-agents/clone?voiceAgentId=nope", {})
            assert.equal(404, status)
            assert.equal("VOICE_AGENT_NOT_FOUND", res.messageKey)
        end)

        it("phone-number call: a stored agent or inline agentDetails", function()
            local a = create(server, { agentName = "A" })
            local status, res = api(server, "POST", "/v1/voice-agents/phone-number/call",
                { toNumber = "+971500000001", phoneNumber = "+14155550100", voiceAgentId = a.id, params = {} })
            assert.equal(200, status)
            assert.is_true(res.success)
            assert.equal(a.id, res.data.voiceAgentId)
            assert.matches(UUID4, res.data.jobId)
            status, res = api(server, "POST", "/v1/voice-agents/phone-number/call",
                { toNumber = "+971500000001", phoneNumber = "+14155550100", agentDetails = { agentName = "Inline" } })
            assert.equal(200, status)
            assert.matches(UUID4, res.data.voiceAgentId)
            assert.not_equal(a.id, res.data.voiceAgentId)
        end)

        it("phone-number call: 400 for missing numbers or not exactly one agent, 404 unknown agent", function()
            local a = create(server, { agentName = "A" })
            local base = { toNumber = "+971500000001", phoneNumber = "+14155550100" }
            local function with(extra)
                local t = {}
                for k, v in pairs(base) do t[k] = v end
                for k, v in pairs(extra) do t[k] = v end
                return t
            end
            local cases = {
                { with{ toNumber = cjson.null, voiceAgentId = a.id }, 400, "toNumber is required" },
                { with{ phoneNumber = "", voiceAgentId = a.id }, 400, "phoneNumber is required" },
                { with{}, 400, "Provide exactly one of voiceAgentId or agentDetails" },
                { with{ voiceAgentId = a.id, agentDetails = { agentName = "B" } }, 400,
                  "Provide exactly one of voiceAgentId or agentDetails" },
                { with{ voiceAgentId = "nope" }, 404, "Voice agent not found" },
            }
            for _, case in ipairs(cases) do
                local status, res = api(server, "POST", "/v1/voice-agents/phone-number/call", case[1])
                assert.equal(case[2], status)
                assert.equal(case[3], res.message)
                assert.is_false(res.success)
            end
        end)

        it("twilio call returns a PENDING job record", function()
            local a = create(server, { agentName = "A" })
            local status, res = api(server, "POST", "/v1/voice-agents/twilio/call", {
                toNumber = "+971500000001", twilioPhoneNumber = "+14155550100", voiceAgentId = a.id,
                webhookUrl = "https://example.com/hook",
            })
            assert.equal(200, status)
            local job = res.data
            assert.matches(UUID4, job.id)
            assert.equal("PENDING", job.status)
            assert.equal("VOICE_AGENTS", job.type)
            assert.same({ machineNumber = "+14155550100", userNumber = "+971500000001" }, job.callParams)
            assert.equal("A", job.agentDetails.agentName)
            assert.equal("https://example.com/hook", job.webhookUrl)
            assert.equal(0, job.totalCost)
            assert.equal(0, job.usageTime)
            assert.equal(cjson.null, job.mediaUrl)
            assert.equal(cjson.null, job.jobResponse)
            assert.equal(a.id, job.voiceAgentId)
            assert.matches(ISO, job.createdAt)
            status, res = api(server, "POST", "/v1/voice-agents/twilio/call",
                { toNumber = "+971500000001", agentDetails = { agentName = "B" } })
            assert.equal(400, status)
            assert.equal("twilioPhoneNumber is required", res.message)
        end)

        it("answers unknown routes with 404 NOT_FOUND (auth first under /v1)", function()
            local status, raw = helpers.http("POST", server.url .. "/x", "{}")
            assert.equal(404, status)
            assert.same({ success = false, message = "Cannot POST /x", messageKey = "NOT_FOUND" }, cjson.decode(raw))
            local res
            status, res = api(server, "DELETE", "/v1/voice-agents/abc?z=1")
            assert.equal(404, status)
            assert.equal("Cannot DELETE /v1/voice-agents/abc", res.message)
            status = helpers.http("GET", server.url .. "/v1/nothing")
            assert.equal(401, status)
        end)

        it("logs every API request (not control routes); DELETE clears the log", function()
            api(server, "POST", "/v1/voice-agents?x=1&y=%20", '{"agentName":"A"}', { ["X-Custom"] = "Yes" })
            api(server, "GET", "/nowhere")
            server:requests()
            local log = server:requests()
            assert.equal(2, #log)
            local r = log[1]
            assert.equal("POST", r.method)
            assert.equal("/v1/voice-agents", r.path)
            assert.equal("x=1&y=%20", r.query)
            assert.equal('{"agentName":"A"}', r.body)
            assert.equal("Yes", r.headers["x-custom"])
            assert.equal("Token " .. KEY, r.headers.authorization)
            assert.equal("", log[2].query)
            assert.equal("", log[2].body)
            server:clear()
            assert.equal(0, #server:requests())
        end)

        it("POST /__mock/reset forgets agents, requests and faults", function()
            local a = create(server, { agentName = "A" })
            server:fault{ status = 500 }
            server:reset()
            local status = api(server, "GET", "/v1/voice-agents/" .. a.id)
            assert.equal(404, status)
            assert.equal(1, #server:requests())
        end)
    end)

    describe("HTTP", function()
        local server
        helpers.mock_suite({ lazy_setup, lazy_teardown, before_each }, { clean = "reset" }, function(s) server = s end)

        it("keeps a connection alive (pipelined too) and honours Connection: close", function()
            local c = connect(server.url)
            c:send(raw_request("GET", "/v1/voice-agents"))
            local r1 = assert(helpers.read_response(c))
            assert.equal(200, r1.status)
            assert.equal("keep-alive", r1.headers.connection)
            c:send(raw_request("GET", "/v1/voice-agents/nope") .. raw_request("GET", "/v1/voice-agents"))
            assert.equal(404, assert(helpers.read_response(c)).status)
            assert.equal(200, assert(helpers.read_response(c)).status)
            c:send(raw_request("GET", "/v1/voice-agents", nil, { "Connection: close" }))
            local r4 = assert(helpers.read_response(c))
            assert.equal(200, r4.status)
            assert.equal("close", r4.headers.connection)
            local data, err = c:receive(1)
            c:close()
            assert.is_nil(data)
            assert.equal("closed", err)
            assert.equal(4, #server:requests())
        end)

        it("reads Content-Length and chunked bodies; answers with Content-Length", function()
            local c = connect(server.url)
            c:send("POST /v1/voice-agents HTTP/1.1\r\nHost: m\r\nAuthorization: Token " .. KEY ..
                "\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"agen\r\n" ..
                "F;ext=1\r\ntName\":\"Chunk\"}\r\n0\r\n\r\n")
            local r = assert(helpers.read_response(c))
            c:close()
            assert.equal(200, r.status)
            assert.equal(#r.body, tonumber(r.headers["content-length"]))
            assert.equal("Chunk", cjson.decode(r.body).data.agentName)
            assert.equal('{"agentName":"Chunk"}', server:requests()[1].body)
        end)

        it("answers a malformed request with 400 and closes", function()
            for _, text in ipairs({ "GARBAGE\r\n\r\n", "GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
                                    "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n" }) do
                local c = connect(server.url)
                c:send(text)
                local r = assert(helpers.read_response(c))
                assert.equal(400, r.status)
                assert.equal("BAD_REQUEST", cjson.decode(r.body).messageKey)
                local data, err = c:receive(1)
                c:close()
                assert.is_nil(data)
                assert.equal("closed", err)
            end
        end)

        it("serves 256 connections at once, each delayed, in overlapping time", function()
            local slow = helpers.start_mock{ latency = 0.5 }
            local conns = {}
            local t0 = socket.gettime()
            for i = 1, 256 do
                conns[i] = connect(slow.url)
                conns[i]:send(raw_request("GET", "/v1/voice-agents"))
            end
            local answered = 0
            for i = 1, 256 do
                local r = helpers.read_response(conns[i])
                if r and r.status == 200 then answered = answered + 1 end
                conns[i]:close()
            end
            local elapsed = socket.gettime() - t0
            slow:stop()
            assert.equal(256, answered)
            assert.is_true(elapsed >= 0.5, "latency was not applied")
            assert.is_true(elapsed < 10, "requests did not overlap: " .. elapsed .. " s")
        end)
    end)

    describe("faults", function()
        local server
        helpers.mock_suite({ lazy_setup, lazy_teardown, before_each }, { clean = "reset" }, function(s) server = s end)

        it("status + headers, matched by path prefix and method, consumed `times` times", function()
            server:fault{ path = "/v1/voice-agents", method = "post", status = 503,
                          headers = { ["Retry-After"] = "2" }, times = 2 }
            assert.equal(200, (api(server, "GET", "/v1/voice-agents")))
            for _ = 1, 2 do
                local status, res, _, headers = api(server, "POST", "/v1/voice-agents", { agentName = "A" })
                assert.equal(503, status)
                assert.equal("2", headers["retry-after"])
                assert.same({ success = false, message = "Service Unavailable",
                              messageKey = "SERVICE_UNAVAILABLE" }, res)
            end
            assert.equal(200, (api(server, "POST", "/v1/voice-agents", { agentName = "A" })))
            assert.equal(4, #server:requests())
            local _, list = api(server, "GET", "/v1/voice-agents")
            assert.equal(1, list.data.total)
        end)

        it("sends a raw body with its own content type; queues a list FIFO", function()
            server:fault{
                { status = 502, body = "<html>bad gateway</html>", content_type = "text/html" },
                { status = 429, headers = { ["Retry-After"] = 1 } },
            }
            local status, res, raw, headers = api(server, "GET", "/v1/voice-agents")
            assert.equal(502, status)
            assert.is_nil(res)
            assert.equal("<html>bad gateway</html>", raw)
            assert.equal("text/html", headers["content-type"])
            status, res, _, headers = api(server, "GET", "/v1/voice-agents")
            assert.equal(429, status)
            assert.equal("TOO_MANY_REQUESTS", res.messageKey)
            assert.equal("1", headers["retry-after"])
            assert.equal(200, (api(server, "GET", "/v1/voice-agents")))
        end)

        it("delay holds one request without blocking the others", function()
            server:fault{ path = "/v1/voice-agents/slow", delay = 1 }
            local t0 = socket.gettime()
            local slow = connect(server.url)
            slow:send(raw_request("GET", "/v1/voice-agents/slow"))
            socket.sleep(0.1)
            local fast = connect(server.url)
            fast:send(raw_request("GET", "/v1/voice-agents"))
            assert.equal(200, assert(helpers.read_response(fast)).status)
            local fast_done = socket.gettime() - t0
            assert.equal(404, assert(helpers.read_response(slow)).status)
            local slow_done = socket.gettime() - t0
            slow:close()
            fast:close()
            assert.is_true(fast_done < 0.8, "fast request waited " .. fast_done .. " s")
            assert.is_true(slow_done >= 0.95, "slow request took only " .. slow_done .. " s")
        end)

        it("reset and close drop the connection without an answer, and are logged", function()
            server:fault{ { action = "reset" }, { action = "close" } }
            -- LuaSocket reads both as "closed"; a send tells them apart: after
            -- a FIN the socket is only half-closed, after an RST it is dead.
            for _, reset in ipairs({ true, false }) do
                local c = connect(server.url)
                c:send(raw_request("POST", "/v1/voice-agents", '{"agentName":"A"}'))
                local line, err = c:receive("*l")
                local sent = c:send("x")
                c:close()
                assert.is_nil(line)
                assert.equal("closed", err)
                assert.equal(reset, sent == nil)
            end
            local log = server:requests()
            assert.equal(2, #log)
            assert.equal('{"agentName":"A"}', log[1].body)
            local _, list = api(server, "GET", "/v1/voice-agents")
            assert.equal(0, list.data.total)
        end)

        it("close_mid_body promises more bytes than it sends", function()
            server:fault{ action = "close_mid_body" }
            local c = connect(server.url)
            c:send(raw_request("POST", "/v1/voice-agents", '{"agentName":"A"}'))
            local r, err, partial = helpers.read_response(c)
            c:close()
            assert.is_nil(r)
            assert.equal("closed", err)
            assert.is_true(#partial > 0)
            assert.matches('^{', partial)
        end)

        it("drip sends the answer one byte per interval", function()
            server:fault{ action = "drip", interval = 0.005, status = 200, body = '{"success":true}' }
            local c = connect(server.url)
            local t0 = socket.gettime()
            c:send(raw_request("GET", "/v1/voice-agents", nil, { "Connection: close" }))
            local first = c:receive(1)
            local first_at = socket.gettime() - t0
            local rest = c:receive("*a")
            local elapsed = socket.gettime() - t0
            c:close()
            local text = first .. rest
            assert.matches("^HTTP/1%.1 200 OK\r\n", text)
            assert.matches('\r\n\r\n{"success":true}$', text)
            assert.is_true(first_at < 0.5, "first byte after " .. first_at .. " s")
            assert.is_true(elapsed > (#text - 1) * 0.005 * 0.8, "too fast for a drip: " .. elapsed .. " s")
        end)

        it("hang never answers, and does not block other connections", function()
            server:fault{ action = "hang", path = "/v1/voice-agents/hang" }
            local c = connect(server.url)
            c:settimeout(0.5)
            c:send(raw_request("GET", "/v1/voice-agents/hang"))
            local line, err = c:receive("*l")
            assert.is_nil(line)
            assert.equal("timeout", err)
            assert.equal(200, (api(server, "GET", "/v1/voice-agents")))
            c:close()
            assert.equal(2, #server:requests())
        end)

        it("lists pending faults, clears them, and rejects bad ones with 400", function()
            server:fault{ { status = 500, times = 3 }, { action = "hang" } }
            local _, raw = helpers.http("GET", server.url .. "/__mock/faults")
            local pending = cjson.decode(raw)
            assert.equal(2, #pending)
            assert.equal(3, pending[1].times)
            server:clear_faults()
            assert.equal(200, (api(server, "GET", "/v1/voice-agents")))
            for _, bad in ipairs({ { action = "explode" }, { statuss = 500 }, { status = 5000 },
                                   { times = 0 }, { headers = { "x" } }, "nope" }) do
                local status, body = helpers.http("POST", server.url .. "/__mock/faults", cjson.encode(bad))
                assert.equal(400, status)
                assert.equal("BAD_REQUEST", cjson.decode(body).messageKey)
            end
            assert.equal(200, (api(server, "GET", "/v1/voice-agents")))
        end)
    end)
end)
