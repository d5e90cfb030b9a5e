-- Call from your own number: POST /v1/voice-agents/phone-number/call
local hamsa = require "hamsa"
local client = hamsa.new()

local agent = assert(client.agents:create {
    agentName = "Reminder bot",
    greetingMessage = "Hello {{name}}, a reminder about your visit on {{day}}.",
    params = { name = "there", day = "Monday" },
})

-- form 1: a stored agent, with params for this call
local call, err = client.calls:phone_number {
    toNumber = "+971501234567",        -- the person called (E.164)
    phoneNumber = "+97145551234",      -- your number registered with Hamsa
    voiceAgentId = agent.id,
    params = { name = "Mariam", day = "Thursday" },
}
if not call then io.stderr:write(tostring(err), "\n") os.exit(1) end
print("job", call.jobId, "agent", call.voiceAgentId)

-- form 2: an inline agent; every {{placeholder}} must have a value in its params
local call2 = assert(client.calls:phone_number {
    toNumber = "+971501234567",
    phoneNumber = "+97145551234",
    agentDetails = {
        agentName = "One-off",
        greetingMessage = "Hi {{name}}!",
        params = { name = "Ahmed" },
    },
})
print("job", call2.jobId)

-- a missing placeholder is refused before anything is sent: no real person
-- hears a raw "{{name}}"
local _, bad = client.calls:phone_number {
    toNumber = "+971501234567", phoneNumber = "+97145551234",
    agentDetails = { agentName = "Oops", greetingMessage = "Hi {{name}}!" },
}
print(bad.kind, bad.field)
