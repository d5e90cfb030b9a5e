-- Every agent of the account, page by page: `each` sends one request per
-- page (skip is the page number here) and stops after the last one; the
-- items stream, so a list of tens of thousands never sits in memory at once.
--
--   HAMSA_API_KEY=... lua5.4 examples/list_all_agents.lua
local hamsa = require "hamsa"

local client = hamsa.new()

-- against a fresh mock there is nothing to list: make a few first
if os.getenv("HAMSA_BASE_URL") and os.getenv("HAMSA_BASE_URL"):match("^http://127%.0%.0%.1") then
    for i = 1, 23 do
        assert(client.agents:create { agentName = ("Agent %02d"):format(i) })
    end
end

local count = 0
for agent, err in client.agents:each({ take = 10 }) do
    if agent == false then
        io.stderr:write(tostring(err), "\n")     -- a failure ends the walk
        os.exit(1)
    end
    count = count + 1
    print(("%4d  %s  %s"):format(count, agent.id, agent.agentName))
end
print(("%d agents"):format(count))
client:close()
