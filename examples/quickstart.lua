-- Quickstart: create an agent, clone it, update the clone, place a call,
-- and follow the call to its end.
--
--   HAMSA_API_KEY=... lua5.4 examples/quickstart.lua
--
-- `make demo` runs this file against the local mock API (bin/hamsa-mock).
local hamsa = require "hamsa"

-- api_key and base_url come from HAMSA_API_KEY / HAMSA_BASE_URL when omitted
local client = hamsa.new()

-- data, response on success; nil, err on failure
local function check(data, err_or_response)
    if data == nil then
        io.stderr:write(tostring(err_or_response), "\n")   -- e.g. "hamsa: auth: ..."
        os.exit(1)
    end
    return data, err_or_response
end

-- 1. create an agent
local agent = check(client.agents:create {
    agentName = "Sara",
    lang = "ar",
    greetingMessage = "مرحبا {{name}}، معك سارة من عيادة النور. كيف أقدر أساعدك؟",
    preamble = "You are Sara, a friendly receptionist. Book appointments for {{name}}.",
    pokeMessages = { "هل ما زلت معي؟" },
    silenceThreshold = 800,
    interrupt = true,
    tools = { smartCallEnd = true, genderDetection = false },
    params = { name = "Customer" },
})
print(("created  agent %s  %q  silenceThreshold=%d"):format(agent.id, agent.agentName, agent.silenceThreshold))

-- 2. clone it (the source id goes in the query string; the body names the copy)
local copy = check(client.agents:clone(agent.id, { agentName = "Sara (evening shift)" }))
print(("cloned   agent %s  %q"):format(copy.id, copy.agentName))

-- 3. update the clone: a new greeting, and no poke messages at all
local updated = check(client.agents:update(copy.id, {
    greetingMessage = "مساء الخير {{name}}!",
    pokeMessages = hamsa.array(),           -- sent as [] (clears them)
}))
print(("updated  agent %s  greeting=%q  pokeMessages=%d"):format(
    updated.id, updated.greetingMessage, #updated.pokeMessages))

-- 4. place a call from your own number with the updated agent
local call, response = check(client.calls:phone_number {
    toNumber = "+971501234567",
    phoneNumber = "+97145551234",
    voiceAgentId = updated.id,
    params = { name = "Layla" },
})
print(("placed   call  jobId=%s  (HTTP %d after %d attempt(s))"):format(
    call.jobId, response.status, response.attempts))

-- 5. follow it: poll the conversation until it reaches a final status
local conversation = check(client.conversations:wait(call.jobId, {
    interval = 0.5,
    on_status = function(c) print(("status   %s"):format(c.status)) end,
}))
print(("ended    %s after %d s"):format(conversation.status, conversation.callDuration or 0))
for _, turn in ipairs(conversation.jobResponse and conversation.jobResponse.transcription or {}) do
    for who, text in pairs(turn) do print(("  %-6s %s"):format(who, text)) end
end

client:close()
