-- The game script the embed host runs: each frame it may start a request
-- (one new call every other frame, like players triggering them), and it
-- polls the client once. Each placed call is then followed to its end by a
-- waiter with on_done (its polls and gaps are timers in the client's loop).
-- Nothing here ever blocks the frame.
local hamsa = require "hamsa"

local client = hamsa.new()          -- HAMSA_BASE_URL, HAMSA_API_KEY
local wanted = tonumber(os.getenv("EMBED_CALLS")) or 60
local started, ok, failed, frame_no = 0, 0, 0, 0
local ended = {}                    -- final status -> calls that ended so
local agent_id

local function place_call(i)
    client.calls:phone_number({
        -- the mock ends a call to ...4001 NO_ANSWER, 4002 FAILED, 4003 FORWARDED, 4004 TERMINATED
        toNumber = "+97150123400" .. (i % 5),
        phoneNumber = "+97145551234",
        voiceAgentId = agent_id,
        params = { name = "Player " .. i },
    }, {
        on_done = function(call, err)
            if not (call and call.jobId) then
                failed = failed + 1
                return io.stderr:write(tostring(err), "\n")
            end
            client.conversations:wait(call.jobId, {
                interval = 0.25,
                on_done = function(conversation, werr)
                    if not conversation then
                        failed = failed + 1
                        return io.stderr:write(tostring(werr), "\n")
                    end
                    ok = ok + 1
                    ended[conversation.status] = (ended[conversation.status] or 0) + 1
                end,
            })
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
    for status, n in pairs(ended) do print(("embed-game: %d calls ended %s"):format(n, status)) end
    return ok, failed, wanted
end

return game
