-- Fifty phone calls at once from inside a libuv loop (luv): one poll
-- handle watches the client's descriptor (client:pollfd()), which also
-- carries the client's timers, so uv.run() sleeps until there is work.
--
--   lua5.4 bin/hamsa-mock --latency 1 &      # prints its URL
--   HAMSA_BASE_URL=<url> HAMSA_API_KEY=test-key lua5.4 examples/loop_luv.lua [n]
local uv = require "luv"
local hamsa = require "hamsa"
local now = require("hamsa.core").now

local n = tonumber(arg and arg[1]) or 50
local client = hamsa.new({ max_connections = n })
local driver = require("hamsa.adapter.luv").attach(client)

local placed, failed, cpu, wall = 0, 0, nil, nil
client.agents:create({ agentName = "Loop agent" }, {
    on_done = function(agent, err)
        assert(agent, tostring(err))
        local c0, t0, left = os.clock(), now(), n
        for i = 1, n do
            client.calls:phone_number({
                toNumber = ("+9715012%05d"):format(i), phoneNumber = "+97145551234", voiceAgentId = agent.id,
            }, {
                on_done = function(call, cerr)
                    if call then placed = placed + 1 else failed = failed + 1; io.stderr:write(tostring(cerr), "\n") end
                    left = left - 1
                    if left == 0 then cpu, wall = os.clock() - c0, now() - t0 end
                end,
            })
        end
    end,
})
uv.run()            -- returns when the client has nothing left to do
driver:detach()
client:close()
print(("luv: %d calls placed, %d failed, %d wake-ups, %.1f ms CPU in %.2f s"):format(
    placed, failed, driver.wakes, cpu * 1000, wall))
os.exit(failed == 0 and 0 or 1)
