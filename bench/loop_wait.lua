-- The baseline of make bench-loops (bench/loops.sh): the same agent and N
-- calls as examples/loop_*.lua, driven by hamsa's own wait (client:poll(1)
-- in a loop), no event loop. Prints the line the examples print.
local hamsa = require "hamsa"
local now = require("hamsa.core").now

local n = tonumber(arg and arg[1]) or 50
local client = hamsa.new({ max_connections = n })
local agent = assert(client.agents:create({ agentName = "Loop agent" }))
local placed, failed, wakes = 0, 0, 0
local c0, t0 = os.clock(), now()
for i = 1, n do
    client.calls:phone_number({
        toNumber = ("+9715012%05d"):format(i), phoneNumber = "+97145551234", voiceAgentId = agent.id,
    }, { on_done = function(call) if call then placed = placed + 1 else failed = failed + 1 end end })
end
while client:pending() > 0 do
    client:poll(1)
    wakes = wakes + 1
end
local cpu, wall = os.clock() - c0, now() - t0
client:close()
print(("wait: %d calls placed, %d failed, %d wake-ups, %.1f ms CPU in %.2f s"):format(
    placed, failed, wakes, cpu * 1000, wall))
os.exit(failed == 0 and 0 or 1)
