-- Create a voice agent: POST /v1/voice-agents
local hamsa = require "hamsa"
local client = hamsa.new()

local agent, err = client.agents:create {
    agentName = "Omar",
    lang = "en",
    greetingMessage = "Hi {{name}}, this is Omar from Acme Dental.",
    preamble = "Confirm {{name}}'s appointment on {{date}}. Be brief.",
    pokeMessages = { "Are you still there?" },
    silenceThreshold = 800,
    interrupt = true,
    realTime = true,
    outcome = "Summarise whether the appointment was confirmed.",
    outcomeResponseShape = {
        type = "object",
        properties = { confirmed = { type = "boolean", description = "confirmed?" } },
        required = { "confirmed" },
    },
    tools = { smartCallEnd = true },
    params = { name = "there", date = "tomorrow" },
    webhookUrl = "https://example.com/hamsa/webhook",
    webhookAuth = { authKey = "Token", authSecret = "change-me" },
}
if not agent then
    io.stderr:write(tostring(err), "\n")
    if err.kind == "invalid" then io.stderr:write("field: ", err.field, "\n") end
    os.exit(1)
end
print("created", agent.id, agent.agentName, agent.createdAt)

-- a rejected body never leaves the machine: the error names the field
local _, bad = client.agents:create { agentName = "Bad", silenceThreshold = 0 }
print(bad.kind, bad.field, tostring(bad))
