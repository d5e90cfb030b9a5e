-- Coroutine tasks: each task reads like a blocking script, yet they all run
-- at once on one client. client:run() drives them until they are done.
--
--   HAMSA_BASE_URL=... HAMSA_API_KEY=... lua5.4 examples/tasks.lua
local hamsa = require "hamsa"
local client = hamsa.new()

local leads = {
    { name = "Layla", phone = "+971501234501" },
    { name = "Omar", phone = "+971501234502" },
    { name = "Mariam", phone = "+971501234503" },
}

for _, lead in ipairs(leads) do
    client:spawn(function()
        -- a personal agent per lead, then the call: two requests, in order
        local agent, err = client.agents:create({
            agentName = "Agent for " .. lead.name,
            greetingMessage = "Hello {{name}}!",
            params = { name = lead.name },
        })
        if not agent then print(lead.name, "create failed:", err) return end
        local call, cerr = client.calls:phone_number({
            toNumber = lead.phone, phoneNumber = "+97145551234", voiceAgentId = agent.id,
        })
        if not call then print(lead.name, "call failed:", cerr) return end
        print(("%-7s agent %s  job %s"):format(lead.name, agent.id, call.jobId))
    end)
end

client:run()        -- the three tasks' requests overlap
client:close()
