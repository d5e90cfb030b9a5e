-- The receiver bench/webhook.sh measures: hamsa.webhook.serve in its own
-- process for `arg[1]` seconds, then prints how many events on_event got.
local webhook = require "hamsa.webhook"
local socket = require "socket"

local seconds = tonumber(arg[1]) or 10
local received = 0
local srv = webhook.serve{ port = tonumber(arg[2]) or 0, auth_key = "Bearer", auth_secret = "bench-secret",
                           on_event = function() received = received + 1 end }
io.write(srv:url(), "\n")
io.flush()
local stop = socket.gettime() + seconds
while socket.gettime() < stop do srv:step(0.1) end
local s = srv:stats()
io.write(string.format("server: %d events received by on_event, %d duplicates, %d refused\n",
    received, s.duplicates, s.refused))
srv:close()
