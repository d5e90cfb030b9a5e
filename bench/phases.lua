--- bench/phases.lua: one phase of a create-agent request, N times, for
-- `make bench-phases` (bench/phases.sh runs it under callgrind, once with N
-- iterations and once with 0, and divides the difference by N):
--
--   lua5.4 bench/phases.lua PHASE PAYLOAD N WARMUP BASE_URL
--
-- PHASE is one of
--   validate  hamsa.validate.agent_create(body)
--   encode    core.json.encode(body, 100, hamsa.prepare.agent.shape): the
--             encoding with the route's array places, as a create does it
--             (until 0.2 a separate Lua walk, the `prepare` phase, did those)
--   decode    core.json.decode(the server's envelope)
--   build     client.agents:create(body, { dry_run = true })
--   engine    one raw core.multi request of the pre-encoded body to BASE_URL:
--             m:add(spec), m:perform / m:next_done / m:wait until done,
--             t:result(), t:close()
--   full      client.agents:create(body) against BASE_URL
-- PAYLOAD is "agent" or "small" (bench/payload.lua); BASE_URL the server
-- that answers it (bench/server.sh). Setup and WARMUP iterations run in
-- every run, whatever N, so the baseline (N = 0) holds all but the N
-- iterations. Every iteration checks its outcome.
local core = require "hamsa.core"
local hamsa = require "hamsa"
local validate = require "hamsa.validate"
local prepare = require "hamsa.prepare"
local payload = require "payload"

local phase, name, n, warm, base = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4]), arg[5]
assert(phase and name and n and warm and base, "usage: phases.lua PHASE PAYLOAD N WARMUP BASE_URL")

local json = core.json
local body = payload.body(name)
local shape = prepare.agent.shape
local encoded = assert(json.encode(body, 100, shape))
local envelope = payload.envelope_json(name)
local client = hamsa.new { api_key = "bench-key", base_url = base }
local agents = client.agents

local function engine_setup()
    local m = core.multi { auth = "Authorization: Token bench-key" }
    local spec = {
        url = base .. "/v1/voice-agents", method = "POST", body = encoded,
        headers = { "Content-Type: application/json", "Accept: application/json" },
    }
    return function()
        local t = m:add(spec)
        while true do
            m:perform()
            local done = m:next_done()
            if done then
                assert(done == t)
                break
            end
            m:wait(1)
        end
        local r = t:result()
        if r.status ~= 200 or #r.body < 100 then error("engine: status " .. tostring(r.status), 0) end
        t:close()
    end
end

local PHASES = {
    validate = function() assert(validate.agent_create(body)) end,
    encode = function() assert(json.encode(body, 100, shape)) end,
    decode = function() assert(json.decode(envelope)) end,
    build = function() assert(agents:create(body, { dry_run = true })) end,
    engine = engine_setup,
    full = function()
        local agent, err = agents:create(body)
        if not (agent and agent.id) then error("full: " .. tostring(err), 0) end
    end,
}
local step = assert(PHASES[phase], "unknown phase " .. tostring(phase))
if phase == "engine" then step = step() end

for _ = 1, warm do step() end
for _ = 1, n do step() end
client:close()
