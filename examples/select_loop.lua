-- A host with its own event loop (here LuaSocket's socket.select; luv,
-- cqueues or an engine work the same way): watch client:sockets() and
-- client:timeout(), call client:poll(0) when either fires. No busy polling.
--
--   HAMSA_BASE_URL=... HAMSA_API_KEY=... lua5.4 examples/select_loop.lua
local socket = require "socket"
local hamsa = require "hamsa"
local client = hamsa.new()

for i = 1, 3 do
    client.agents:create({ agentName = "Loop agent " .. i }, {
        on_done = function(agent, err) print(agent and ("created " .. agent.id) or tostring(err)) end,
    })
end

local wakeups = 0
while client:pending() > 0 do
    local readers, writers = {}, {}
    for fd, what in pairs(client:sockets()) do
        local watched = { getfd = function() return fd end, dirty = function() return false end }
        if what:find("r") then readers[#readers + 1] = watched end
        if what:find("w") then writers[#writers + 1] = watched end
    end
    socket.select(readers, writers, client:timeout() or 1)
    wakeups = wakeups + 1
    client:poll(0)
end
print(("done after %d wake-ups"):format(wakeups))
client:close()
