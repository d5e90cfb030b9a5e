-- 200 requests that each take 0.5 s on the server, over one client, with a
-- connection cap. Prints the wall time (sequentially it would be 100 s).
--
--   lua5.4 bin/hamsa-mock --latency 0.5 &      # prints its URL
--   HAMSA_BASE_URL=<url> HAMSA_API_KEY=test-key lua5.4 examples/concurrency.lua [n] [cap]
local hamsa = require "hamsa"
local now = require("hamsa.core").now

local n = tonumber(arg and arg[1]) or 200
local cap = tonumber(arg and arg[2]) or 200
local client = hamsa.new({ max_connections = cap })

local ok, failed = 0, 0
local t0 = now()
for i = 1, n do
    client.agents:create({ agentName = "Concurrent " .. i }, {
        on_done = function(agent, err)
            if agent then ok = ok + 1 else failed = failed + 1; io.stderr:write(tostring(err), "\n") end
        end,
    })
end
client:wait()
local wall = now() - t0
print(("%d requests, %d ok, %d failed, max_connections=%d: %.2f s wall"):format(n, ok, failed, cap, wall))
client:close()
os.exit(failed == 0 and 0 or 1)
