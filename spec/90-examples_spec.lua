-- The examples are run as a user would, against the mock: each must exit 0
-- and print what its comments promise.
local helpers = require "spec.helpers"
local socket = require "socket"

describe("examples", function()
    local server
    helpers.mock_suite({ setup, teardown }, { mock = { api_key = "example-key" } }, function(s) server = s end)
    -- The calls the examples place play out on the mock's clock (2 s each):
    -- run it 4 times faster, so that they end sooner in real time. On the
    -- mock's clock nothing changes (each call still lasts 2 s, callDuration
    -- included); the examples themselves are run unchanged.
    setup(function() server:clock({ speed = 4 }) end)

    local function run(name)
        return helpers.sh(("cd %s && HAMSA_BASE_URL=%s HAMSA_API_KEY=example-key LUA_PATH=%s LUA_CPATH=%s %s examples/%s")
            :format(helpers.quote(helpers.root), helpers.quote(server.url), helpers.quote(package.path),
                    helpers.quote(package.cpath), helpers.lua, name))
    end

    local cases = {
        { "quickstart.lua", { "created  agent %x+", "cloned   agent", "updated  agent .* pokeMessages=0",
                              "placed   call  jobId=%x+%-", "ended    COMPLETED after %d+ s",
                              "Agent  مساء الخير Layla!" } },
        { "follow_call.lua", { "placed    call %x+%-.* to %+971501234567", "status    [%u_]+",
                               "ended     COMPLETED after [1-9]%d* s", "recording https?://%S+",
                               "Agent  Hello Layla, this is Nour" } },
        { "list_all_agents.lua", { "   1  %x+%-", "  23  %x+%-", "\n%d%d+ agents\n" } },
        { "campaign.lua", { "campaign  %x+%-%S+  SCHEDULED", "Layla +%+971501110001 +COMPLETED",
                            "Omar +%+971501114001 +NO_ANSWER", "Mariam +%+971501110003 +COMPLETED" } },
        { "create_agent.lua", { "created\t%x+", "invalid\tsilenceThreshold\thamsa: invalid: silenceThreshold" } },
        { "clone_agent.lua", { "cloned\t.*Clinic front desk", "not_found\t404\tVOICE_AGENT_NOT_FOUND" } },
        { "update_agent.lua", { "updated\t%x.*\tar\t1200\t0" } },
        { "call_phone_number.lua", { "job\t%x+.*agent\t%x+", "invalid\tagentDetails.params.name" } },
        { "call_twilio.lua", { "job\t%x+.*\tPENDING\t%+14155550123\t%+14155550100" } },
        { "tasks.lua", { "Layla   agent %x+", "Omar    agent %x+", "Mariam  agent %x+.*job %x+" } },
        { "select_loop.lua", { "created %x+", "done after %d+ wake%-ups" } },
        { "dial.lua", { "added     5 rows", "progress  %d/5 final", "done      5/5 final  COMPLETED=5",
                        "exported  %S+%.csv" } },
    }
    for _, c in ipairs(cases) do
        it(c[1] .. " runs against the mock", function()
            local out = run(c[1])
            assert.matches("exit=0", out, 1, true)
            for _, pattern in ipairs(c[2]) do
                assert.matches(pattern, out)
            end
        end)
    end

    it("webhook_receiver.lua receives the events of a call the mock plays out", function()
        local port = helpers.free_port()
        local out = os.tmpname()
        -- the receiver in its own process; it exits after the first call.ended
        local cmd = ("(cd %s && EXIT_AFTER_CALL_ENDED=1 HAMSA_WEBHOOK_SECRET=hook-secret LUA_PATH=%s LUA_CPATH=%s "
            .. "timeout 30 %s examples/webhook_receiver.lua %d > %s 2>&1; echo \"exit=$?\" >> %s) &")
            :format(helpers.quote(helpers.root), helpers.quote(package.path), helpers.quote(package.cpath),
                    helpers.lua, port, out, out)
        os.execute(cmd)
        local function output()
            local f = io.open(out)
            local text = f and f:read("*a") or ""
            if f then f:close() end
            return text
        end
        local deadline = os.time() + 10
        while not output():find("listening", 1, true) and os.time() < deadline do socket.sleep(0.05) end
        -- validate = false: the library refuses a plain-http webhookUrl (Hamsa calls https only),
        -- and this receiver listens on plain http on loopback, where the mock delivers
        local client = require("hamsa").new({ api_key = "example-key", base_url = server.url, validate = false })
        local agent = assert(client.agents:create { agentName = "Hooked", greetingMessage = "Hi {{name}}" })
        local call = assert(client.calls:twilio {
            toNumber = "+14155550123", twilioPhoneNumber = "+14155550100", voiceAgentId = agent.id,
            params = { name = "Sam" },
            webhookUrl = "http://127.0.0.1:" .. port .. "/",
            webhookAuth = { authKey = "Token", authSecret = "hook-secret" },
        })
        client:close()
        deadline = os.time() + 15
        while not output():find("exit=", 1, true) and os.time() < deadline do socket.sleep(0.1) end
        local text = output()
        os.remove(out)
        assert.matches("listening http://127%.0%.0%.1:" .. port, text)
        local order = {}
        for kind in text:gmatch("\n([%l%.]+) +" .. call.id:gsub("%-", "%%-")) do order[#order + 1] = kind end
        assert.same({ "call.started", "call.answered", "transcription.update", "transcription.update",
                      "transcription.update", "transcription.update", "tool.executed", "call.ended" }, order)
        assert.matches("call.ended +%S+  COMPLETED  recording=https?://%S+  turns=4  name=Sam", text)
        assert.matches("exit=0", text, 1, true)
    end)

    it("the quickstart fails cleanly with a wrong key", function()
        local out = helpers.sh(("cd %s && HAMSA_BASE_URL=%s HAMSA_API_KEY=wrong LUA_PATH=%s LUA_CPATH=%s %s examples/quickstart.lua")
            :format(helpers.quote(helpers.root), helpers.quote(server.url), helpers.quote(package.path),
                    helpers.quote(package.cpath), helpers.lua))
        assert.matches("hamsa: auth: Unauthorized", out, 1, true)
        assert.matches("exit=1", out, 1, true)
    end)
end)
