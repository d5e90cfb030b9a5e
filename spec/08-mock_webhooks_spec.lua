-- Specs of the webhooks the mock sends (lua/hamsa/mock/webhooks.lua): the
-- events of a call in order as it plays out, their Authorization header and
-- bodies, the repeat control, a receiver that never answers, and the clock.
-- The receiver runs in its own process and appends each request (headers
-- and body) as one JSON line to a file, which the specs read.

local socket = require("socket")
local cjson = require("cjson")
local helpers = require("spec.helpers")

local KEY = "test-key"
local V1 = "/v1/voice-agents"

local RECEIVER = [[
local socket, cjson = require("socket"), require("cjson")
local srv = assert(socket.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
print(port)
io.stdout:flush()
while true do
    local c = srv:accept()
    c:settimeout(2)
    local line = c:receive("*l")
    local headers = {}
    while true do
        local l = c:receive("*l")
        if not l or l == "" then break end
        local name, value = l:match("^([^:]+):%s*(.-)%s*$")
        if name then headers[name:lower()] = value end
    end
    local body = c:receive(tonumber(headers["content-length"] or 0)) or ""
    local f = io.open(arg[1], "a")
    f:write(cjson.encode({ line = line, headers = headers, body = body }), "\n")
    f:close()
    c:send("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    c:close()
end
]]

local server, receiver_url, receiver_pid, receiver_proc, file, script

local function api(method, path, body)
    local status, raw = helpers.http(method, server.url .. path, body and cjson.encode(body),
        { authorization = "Token " .. KEY })
    assert(status, raw)
    return status, cjson.decode(raw)
end

local function data(method, path, body)
    local status, res = api(method, path, body)
    assert.equal(200, status, cjson.encode(res))
    return res.data
end

-- What the receiver got so far, each `{ line, headers, body = decoded }`.
local function received()
    local out = {}
    local f = io.open(file)
    if not f then return out end
    for line in f:lines() do
        local r = cjson.decode(line)
        r.body = cjson.decode(r.body)
        out[#out + 1] = r
    end
    f:close()
    return out
end

-- Polls until `pred(received())` holds (or `limit` seconds), then returns them.
local function wait_for(pred, limit)
    local stop = socket.gettime() + (limit or 5)
    local got = received()
    while not pred(got) and socket.gettime() < stop do
        socket.sleep(0.02)
        got = received()
    end
    return got
end

local function events(got, id)
    local out = {}
    for _, r in ipairs(got) do
        if not id or r.body.callId == id then out[#out + 1] = r.body.eventType end
    end
    return out
end

local function has_ended(id, n)
    return function(got)
        local count = 0
        for _, e in ipairs(events(got, id)) do if e == "call.ended" then count = count + 1 end end
        return count >= (n or 1)
    end
end

local function place(to, extra)
    local body = { toNumber = to, phoneNumber = "+97145551234", params = { name = "Sam", plan = "gold" },
                   agentDetails = { agentName = "Nour", greetingMessage = "Hello {{name}}.",
                                    webhookUrl = receiver_url,
                                    webhookAuth = { authKey = "Bearer", authSecret = "agent-secret" } } }
    for k, v in pairs(extra or {}) do body[k] = v end
    return data("POST", V1 .. "/call", body).id
end

describe("mock webhooks", function()
    setup(function()
        server = helpers.start_mock({ api_key = KEY, call_seconds = 0.4 })
        file = os.tmpname()
        script = os.tmpname()
        local f = assert(io.open(script, "w"))
        f:write(RECEIVER)
        f:close()
        -- the mock's interpreter, on its own default paths (it needs LuaSocket and cjson)
        receiver_proc = assert(io.popen(("echo $$; exec env -u LUA_PATH -u LUA_CPATH %s %s %s"):format(
            helpers.quote(helpers.mock_lua), helpers.quote(script), helpers.quote(file))))
        receiver_pid = tonumber(receiver_proc:read("*l"))
        local port = tonumber(receiver_proc:read("*l"))
        assert(receiver_pid and port, "receiver did not start")
        receiver_url = "http://127.0.0.1:" .. port .. "/hook"
    end)

    teardown(function()
        if server then server:stop() end
        if receiver_pid then os.execute("kill " .. receiver_pid .. " 2>/dev/null") end
        if receiver_proc then pcall(receiver_proc.close, receiver_proc) end
        os.remove(file)
        os.remove(script)
    end)

    before_each(function()
        server:reset()
        io.open(file, "w"):close()
    end)

    it("sends the five events in order for a COMPLETED call, with the agent's Authorization", function()
        local id = place("+15005550006")
        local got = wait_for(has_ended(id))
        local seq = events(got, id)
        assert.same({ "call.started", "call.answered", "transcription.update", "transcription.update",
                      "transcription.update", "transcription.update", "tool.executed", "call.ended" }, seq)
        for _, r in ipairs(got) do
            assert.equal("Bearer agent-secret", r.headers.authorization)
            assert.equal("application/json", r.headers["content-type"])
            assert.equal("POST /hook HTTP/1.1", r.line)
            assert.equal("Nour", r.body.agentName)
            assert.is_string(r.body.timestamp)
        end
        local turns = got[3].body.data.transcription
        assert.same({ { Agent = "Hello Sam." } }, turns)
        assert.equal(4, #got[6].body.data.transcription)
        assert.equal("smartCallEnd", got[7].body.data.toolName)
        local ended = got[8].body.data
        assert.equal("COMPLETED", ended.status)
        assert.equal(id, ended.data.conversationId)
        assert.equal(server.url .. "/recordings/" .. id .. ".wav", ended.data.conversationRecording)
        assert.equal(4, #ended.data.transcription)
        assert.is_string(ended.data.outcomeResult)
        assert.same({ name = "Sam", plan = "gold" }, cjson.decode(ended.data.outcomeResult))
        local log = server:webhooks()
        assert.equal(8, #log)
        for i, entry in ipairs(log) do
            assert.equal(seq[i], entry.eventType)
            assert.equal(204, entry.status)
            assert.equal(1, entry.attempt)
            assert.equal(receiver_url, entry.url)
            assert.equal(id, entry.callId)
        end
    end)

    it("sends only call.started and call.ended for NO_ANSWER and FAILED calls", function()
        for to, status in pairs({ ["+15005554001"] = "NO_ANSWER", ["+15005554002"] = "FAILED" }) do
            local id = place(to)
            local got = wait_for(has_ended(id))
            assert.same({ "call.started", "call.ended" }, events(got, id))
            local last
            for _, r in ipairs(got) do if r.body.callId == id then last = r.body end end
            assert.equal(status, last.data.status)
            assert.same({}, last.data.data.transcription)
            assert.equal(cjson.null, last.data.data.conversationRecording)
        end
    end)

    it("uses the call's webhookAuth over the agent's, and the call's webhookUrl", function()
        local id = place("+15005550006", { webhookAuth = { authKey = "Key", authSecret = "call-secret" },
                                           webhookUrl = receiver_url .. "?from=call" })
        local got = wait_for(has_ended(id))
        assert.equal("Key call-secret", got[1].headers.authorization)
        assert.equal("POST /hook?from=call HTTP/1.1", got[1].line)
    end)

    it("uses a stored agent's webhookUrl and webhookAuth", function()
        local agent = data("POST", V1, { agentName = "Stored", greetingMessage = "Hi.", webhookUrl = receiver_url,
                                         webhookAuth = { authKey = "Token", authSecret = "stored" } })
        local id = data("POST", V1 .. "/phone-number/call", { toNumber = "+15005554002",
            phoneNumber = "+97145551234", voiceAgentId = agent.id }).jobId
        local got = wait_for(has_ended(id))
        assert.same({ "call.started", "call.ended" }, events(got, id))
        assert.equal("Token stored", got[1].headers.authorization)
        assert.equal(agent.id, got[1].body.agentId)
    end)

    it("sends nothing for a call without a webhookUrl", function()
        local id = data("POST", V1 .. "/call", { toNumber = "+15005550006",
            agentDetails = { agentName = "Quiet", greetingMessage = "Hi." } }).id
        socket.sleep(0.6)
        assert.same({}, events(received(), id))
        assert.same({}, server:webhooks())
    end)

    it("sends each delivery twice with repeat = 2, and reset restores 1", function()
        assert.same({ ["repeat"] = 2 }, server:webhook_repeat(2))
        local id = place("+15005554001")
        local got = wait_for(has_ended(id, 2))
        assert.same({ "call.started", "call.started", "call.ended", "call.ended" }, events(got, id))
        local attempts = {}
        for _, e in ipairs(server:webhooks()) do attempts[#attempts + 1] = e.attempt end
        assert.same({ 1, 2, 1, 2 }, attempts)
        local status = helpers.http("POST", server.url .. "/__mock/webhooks", cjson.encode({ ["repeat"] = 0 }))
        assert.equal(400, status)
        server:reset()
        assert.same({ ["repeat"] = 1 }, server:webhook_repeat())
        assert.same({}, server:webhooks())
    end)

    it("DELETE clears the delivery log", function()
        local id = place("+15005554002")
        wait_for(has_ended(id))
        assert.is_true(#server:webhooks() > 0)
        assert.equal(200, (helpers.http("DELETE", server.url .. "/__mock/webhooks")))
        assert.same({}, server:webhooks())
    end)

    it("is not stalled by a receiver that never answers", function()
        local silent = assert(socket.bind("127.0.0.1", 0))   -- accepted by the kernel, never read
        local _, port = silent:getsockname()
        place("+15005550006", { webhookUrl = "http://127.0.0.1:" .. port .. "/" })
        socket.sleep(0.2)   -- its call.started is now waiting for an answer
        for _ = 1, 5 do
            local t = socket.gettime()
            local status = api("GET", V1)
            assert.equal(200, status)
            assert.is_true(socket.gettime() - t < 0.5)
        end
        local id = place("+15005554001")   -- another call's webhooks still go out meanwhile
        local got = wait_for(has_ended(id), 3)
        assert.same({ "call.started", "call.ended" }, events(got, id))
        -- the silent one's call.started gives up after 5 s, logged as a timeout
        local stop, first = socket.gettime() + 7, nil
        repeat
            socket.sleep(0.1)
            for _, e in ipairs(server:webhooks()) do
                if e.url:find(":" .. port .. "/", 1, true) then first = first or e end
            end
        until first or socket.gettime() > stop
        silent:close()
        assert.same("call.started", first and first.eventType)
        assert.equal("timeout", first.status)
    end)

    it("follows the mock's clock: frozen, nothing past call.started until it moves", function()
        server:clock({ freeze = true })
        local id = place("+15005550006")
        socket.sleep(0.6)
        assert.same({ "call.started" }, events(received(), id))
        server:clock({ advance = 1 })
        local got = wait_for(has_ended(id))
        assert.same({ "call.started", "call.answered", "transcription.update", "transcription.update",
                      "transcription.update", "transcription.update", "tool.executed", "call.ended" },
                    events(got, id))
    end)

    it("sends sooner when the clock runs faster", function()
        local slow = helpers.start_mock({ api_key = KEY, call_seconds = 30 })
        local ok, err = pcall(function()
            local status, raw = helpers.http("POST", slow.url .. V1 .. "/call", cjson.encode({
                toNumber = "+15005550006",
                agentDetails = { agentName = "Nour", webhookUrl = receiver_url } }), { authorization = "Token " .. KEY })
            assert.equal(200, status)
            local id = cjson.decode(raw).data.id
            socket.sleep(0.3)
            assert.same({ "call.started" }, events(received(), id))   -- answered only 7.5 s in
            local t = socket.gettime()
            slow:clock({ speed = 100 })                                -- the rest in about 0.3 s
            local got = wait_for(has_ended(id), 3)
            assert.equal("call.ended", events(got, id)[8])
            assert.is_true(socket.gettime() - t < 2)
        end)
        slow:stop()
        assert(ok, err)
    end)
end)
