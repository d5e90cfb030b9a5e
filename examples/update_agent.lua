-- Update a voice agent: PATCH /v1/voice-agents/<id>
local hamsa = require "hamsa"
local client = hamsa.new()

local agent = assert(client.agents:create { agentName = "Noor", pokeMessages = { "Hello?" } })

local updated, err = client.agents:update(agent.id, {
    lang = "ar",
    greetingMessage = "أهلا {{name}}",
    silenceThreshold = 1200,
    pokeMessages = hamsa.array(),   -- [] clears them; a plain {} would too (the library knows the field)
    outcome = hamsa.null,           -- JSON null
})
if not updated then io.stderr:write(tostring(err), "\n") os.exit(1) end
print("updated", updated.id, updated.lang, updated.silenceThreshold, #updated.pokeMessages)
