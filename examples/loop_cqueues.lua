-- Fifty phone calls at once from inside a cqueues controller: each call is
-- its own coroutine of the controller, written as if it blocked
-- (driver:await), while the client's one descriptor (client:pollfd())
-- wakes the controller only when there is something to do.
--
--   lua5.4 bin/hamsa-mock --latency 1 &      # prints its URL
--   HAMSA_BASE_URL=<url> HAMSA_API_KEY=test-key lua5.4 examples/loop_cqueues.lua [n]
local cqueues = require "cqueues"
local hamsa = require "hamsa"
local now = require("hamsa.core").now

local n = tonumber(arg and arg[1]) or 50
local client = hamsa.new({ max_connections = n })
local cq = cqueues.new()
local driver = require("hamsa.adapter.cqueues").attach(client, cq)

local placed, failed, cpu, wall = 0, 0, nil, nil
cq:wrap(function()
    local agent = assert(driver:await(function(on_done)
        client.agents:create({ agentName = "Loop agent" }, { on_done = on_done })
    end))
    local c0, t0, left = os.clock(), now(), n
    for i = 1, n do
        cq:wrap(function()
            local call, err = driver:await(function(on_done)
                client.calls:phone_number({
                    toNumber = ("+9715012%05d"):format(i), phoneNumber = "+97145551234", voiceAgentId = agent.id,
                }, { on_done = on_done })
            end)
            if call then placed = placed + 1 else failed = failed + 1; io.stderr:write(tostring(err), "\n") end
            left = left - 1
            if left == 0 then cpu, wall = os.clock() - c0, now() - t0 end
        end)
    end
end)
assert(cq:loop())
client:close()
print(("cqueues: %d calls placed, %d failed, %d wake-ups, %.1f ms CPU in %.2f s"):format(
    placed, failed, driver.wakes, cpu * 1000, wall))
os.exit(failed == 0 and 0 or 1)
