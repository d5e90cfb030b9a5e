-- Follow a call to its end: place it, watch its status change, then print
-- how it ended, how long it lasted, the recording and the transcript.
--
--   HAMSA_API_KEY=... lua5.4 examples/follow_call.lua [+E164 number to call]
--
-- Against the mock (examples/with-mock.sh), a number ending in 4001 ends
-- NO_ANSWER, 4002 FAILED, 4003 FORWARDED, 4004 TERMINATED; others COMPLETED.
local hamsa = require "hamsa"

local client = hamsa.new()
local to = arg[1] or "+971501234567"

local function check(data, err)
    if data == nil then
        io.stderr:write(tostring(err), "\n")
        os.exit(1)
    end
    return data
end

local agent = check(client.agents:create {
    agentName = "Nour",
    lang = "en",
    greetingMessage = "Hello {{name}}, this is Nour from Al Noor Clinic. Is now a good time?",
    params = { name = "there" },
})

local call = check(client.calls:phone_number {
    toNumber = to,
    phoneNumber = "+97145551234",
    voiceAgentId = agent.id,
    params = { name = "Layla" },
})
print(("placed    call %s to %s"):format(call.jobId, to))

-- polls GET /v1/voice-agents/conversation/<id> until one of hamsa.TERMINAL
local conversation = check(client.conversations:wait(call.jobId, {
    interval = 0.5,                 -- first gap between polls (it grows, up to 15 s)
    deadline = 600,                 -- give up after 10 minutes
    on_status = function(record) print(("status    %s"):format(record.status)) end,
}))

print(("ended     %s after %d s"):format(conversation.status, conversation.callDuration or 0))
print(("recording %s"):format(tostring(conversation.mediaUrl)))
local lines = conversation.jobResponse and conversation.jobResponse.transcription or {}
for _, turn in ipairs(lines) do
    for who, text in pairs(turn) do print(("  %-6s %s"):format(who, text)) end
end
client:close()
