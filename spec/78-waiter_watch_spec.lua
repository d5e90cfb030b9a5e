-- client:watch(receiver): a call.ended that a watched webhook receiver
-- accepts ends conversations:wait on that call without another poll. The
-- mock's calls last 60 s here, so only the event can end a wait in time;
-- the deliveries go through the real receiver (hamsa.webhook's respond, as
-- a host would call it), and the polls are counted on the server side.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local socket = require "socket"

local AUTH = "Token s3cret-of-the-hook"

describe("client:watch", function()
    local server, client, wh

    helpers.mock_suite({ setup, teardown, before_each }, { mock = { call_seconds = 60 }, client = {}, clean = "log" },
        function(s, c) server, client = s, c end)

    before_each(function()
        wh = hamsa.webhook.new { auth_key = "Token", auth_secret = "s3cret-of-the-hook" }
        client:watch(wh)
    end)

    local function place(to)
        local agent = assert(client.agents:create { agentName = "Watched" })
        local call = assert(client.calls:phone_number {
            toNumber = to or "+971501234567", phoneNumber = "+97145551234", voiceAgentId = agent.id, params = {},
        })
        return call.jobId
    end

    -- what Hamsa would POST at the end of call `id`
    local function ended(id, status, extra)
        return hamsa.json.encode {
            eventType = "call.ended", callId = id, timestamp = "2026-12-03T08:00:00Z" .. (extra or ""),
            projectId = "p", agentId = "a", agentName = "Watched",
            data = { status = status, data = {
                conversationId = id, conversationRecording = "https://rec.example/" .. id .. ".wav",
                transcription = { { Agent = "Hello" }, { User = "Hi" } },
                outcomeResult = '{"booked":true}',
            } },
        }
    end

    local function polls(id)
        local n = 0
        for _, r in ipairs(server:requests()) do
            if r.path == "/v1/voice-agents/conversation/" .. id then n = n + 1 end
        end
        return n
    end

    it("ends an on_done wait in its gap, with the event's status, recording and transcript", function()
        local id = place()
        local got, gerr, gres
        client.conversations:wait(id, { interval = 30, on_done = function(d, e, r) got, gerr, gres = d, e, r end })
        client:wait(0.5)                                  -- the first poll (IN_PROGRESS or PENDING), then a long gap
        assert.is_nil(got)
        assert.equal(1, polls(id))
        assert.equal(200, (wh:respond({ authorization = AUTH }, ended(id, "COMPLETED"))))
        assert.equal(0, client:wait(2))
        assert.is_nil(gerr)
        assert.equal("COMPLETED", got.status)
        assert.equal(id, got.id)
        assert.equal("https://rec.example/" .. id .. ".wav", got.mediaUrl)
        assert.same({ { Agent = "Hello" }, { User = "Hi" } }, got.jobResponse.transcription)
        assert.equal("call.ended", gres.event.eventType)
        assert.equal(1, polls(id))                        -- no poll after the event
    end)

    it("ends a task's wait, and a wait that starts after the event at once", function()
        local a, b = place(), place("+971501234001")
        assert.equal(200, (wh:respond({ authorization = AUTH }, ended(b, "NO_ANSWER"))))
        local results = {}
        client:spawn(function()
            results.a = assert(client.conversations:wait(a, { interval = 30 }))
        end)
        client:spawn(function()
            results.b = assert(client.conversations:wait(b, { interval = 30 }))
        end)
        client:wait(0.5)
        assert.equal("NO_ANSWER", results.b.status)       -- ended before it started: no poll at all
        assert.equal(0, polls(b))
        assert.is_nil(results.a)
        assert.equal(200, (wh:respond({ authorization = AUTH }, ended(a, "FORWARDED"))))
        assert.equal(0, client:run(2))
        assert.equal("FORWARDED", results.a.status)
        assert.equal(1, polls(a))
    end)

    it("ends a wait from the mock's own delivery to a hamsa.webhook.serve in the same loop", function()
        local srv = hamsa.webhook.serve { auth_key = "Token", auth_secret = "s3cret-of-the-hook" }
        -- validate = false: the library refuses a plain-http webhookUrl, which this loopback receiver is
        local c = hamsa.new { api_key = server.api_key, base_url = server.url, validate = false }
        finally(function() c:close() srv:close() end)
        c:watch(srv)
        local agent = assert(c.agents:create { agentName = "Hooked" })
        local call = assert(c.calls:twilio {
            toNumber = "+14155550123", twilioPhoneNumber = "+14155550100", voiceAgentId = agent.id, params = {},
            webhookUrl = srv:url(), webhookAuth = { authKey = "Token", authSecret = "s3cret-of-the-hook" },
        })
        local got
        c.conversations:wait(call.id, { interval = 30, on_done = function(d, e) got = { d, e } end })
        local stop = socket.gettime() + 10
        local advanced = false
        while not got and socket.gettime() < stop do
            c:poll(0.005)
            srv:step(0.005)
            if not advanced and polls(call.id) == 1 then
                server:clock { advance = 61 }             -- the call's 60 s pass: the mock sends call.ended
                advanced = true
            end
        end
        assert.is_table(got, "the wait did not end")
        assert.is_nil(got[2])
        assert.equal("COMPLETED", got[1].status)
        assert.equal("call.ended", got[1].event.eventType)
        assert.equal(1, polls(call.id))                   -- the event ended it, not a poll
    end)

    it("ignores other events, unknown statuses, duplicates and other calls", function()
        local id = place()
        local got
        client.conversations:wait(id, { interval = 30, deadline = 1, on_done = function(d, e) got = { d, e } end })
        client:wait(0.2)
        for _, body in ipairs({
            hamsa.json.encode { eventType = "call.answered", callId = id, timestamp = "t", data = {} },
            ended(id, "RINGING"),                                  -- not a final status
            ended("another-call", "COMPLETED"),
        }) do
            assert.equal(200, (wh:respond({ authorization = AUTH }, body)))
        end
        assert.equal(401, (wh:respond({ authorization = "Token wrong-secret-of-the-hoo" }, ended(id, "COMPLETED"))))
        client:wait(3)
        assert.is_nil(got[1])
        assert.equal("WAIT_DEADLINE", got[2].code)       -- nothing above ended it
    end)
end)
