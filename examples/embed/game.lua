-- The game script the embed host runs: each frame it may start a request
-- (one new call every other frame, like players triggering them), and it
-- polls the client once. Nothing here ever blocks the frame.
local hamsa = require "hamsa"

local client = hamsa.new()          -- HAMSA_BASE_URL, HAMSA_API_KEY
local wanted = tonumber(os.getenv("EMBED_CALLS")) or 60
local started, ok, failed, frame_no = 0, 0, 0, 0
local agent_id

local function place_call(i)
    client.calls:phone_number({
        toNumber = "+9715012345" .. string.format("%02d", i % 100),
        phoneNumber = "+97145551234",
        voiceAgentId = agent_id,
        params = { name = "Player " .. i },
    }, {
        on_done = function(call, err)
            if call and call.jobId then ok = ok + 1 else failed = failed + 1 end
            if err then io.stderr:write(tostring(err), "\n") end
        end,
    })
end

-- the agent is created without blocking too
client.agents:create({ agentName = "Game host", greetingMessage = "Hello {{name}}!" }, {
    on_done = function(agent, err)
        if agent then agent_id = agent.id else error(tostring(err)) end
    end,
})

local game = {}

function game.frame()
    frame_no = frame_no + 1
    if agent_id and started < wanted and frame_no % 2 == 0 then
        started = started + 1
        place_call(started)
    end
    client:poll(0)                  -- drive transfers, run finished callbacks
    return ok + failed == wanted
end

function game.summary()
    client:close()
    return ok, failed, wanted
end

return game
