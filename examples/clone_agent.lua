-- Clone a voice agent: POST /v1/voice-agents/clone?voiceAgentId=<id>
local hamsa = require "hamsa"
local client = hamsa.new()

local source = assert(client.agents:create { agentName = "Template receptionist", lang = "en" })

-- with a new name
local copy, err = client.agents:clone(source.id, { agentName = "Clinic front desk" })
if not copy then io.stderr:write(tostring(err), "\n") os.exit(1) end
print("cloned", source.id, "->", copy.id, copy.agentName)

-- the body is optional
local copy2 = assert(client.agents:clone(source.id))
print("cloned", source.id, "->", copy2.id, copy2.agentName)

-- an unknown agent comes back as kind "not_found"
local _, missing = client.agents:clone("00000000-0000-4000-8000-000000000000")
print(missing.kind, missing.status, missing.code)
