-- Call through Twilio: POST /v1/voice-agents/twilio/call
local hamsa = require "hamsa"
local client = hamsa.new()

local agent = assert(client.agents:create { agentName = "Twilio agent", lang = "en" })

local job, err = client.calls:twilio({
    toNumber = "+14155550123",
    twilioPhoneNumber = "+14155550100",
    voiceAgentId = agent.id,
    params = { name = "Sam" },
    webhookUrl = "https://example.com/hamsa/events",
    webhookAuth = { authKey = "Token", authSecret = "change-me" },
}, {
    idempotency_key = "crm-lead-4711-call-1",   -- your own key, reused on every attempt
})
if not job then io.stderr:write(tostring(err), "\n") os.exit(1) end
print("job", job.id, job.status, job.callParams.userNumber, job.callParams.machineNumber)
