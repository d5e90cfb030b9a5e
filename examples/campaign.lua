-- A campaign: Hamsa calls a list of recipients on its side (batch calls).
-- Create an agent, start a campaign now, wait until every recipient is
-- done, then print each one's outcome.
--
--   HAMSA_API_KEY=... lua5.4 examples/campaign.lua
local hamsa = require "hamsa"

local client = hamsa.new()

local function check(data, err)
    if data == nil then
        io.stderr:write(tostring(err), "\n")
        os.exit(1)
    end
    return data
end

local agent = check(client.agents:create {
    agentName = "Reminder",
    greetingMessage = "Hello {{name}}, a reminder of your appointment tomorrow.",
    params = { name = "there" },
})

local campaign = check(client.campaigns:create {
    name = "Appointment reminders",
    phoneNumber = "+97145551234",
    voiceAgentId = agent.id,
    sendType = "NOW",
    recipients = {
        { phoneNumber = "+971501110001", name = "Layla", dynamicVariables = { name = "Layla" } },
        { phoneNumber = "+971501114001", name = "Omar", dynamicVariables = { name = "Omar" } },
        { phoneNumber = "+971501110003", name = "Mariam", dynamicVariables = { name = "Mariam" } },
    },
    timeRange = { days = { "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY" },
                  startCallingTime = "09:00", endCallingTime = "18:00" },
    reservedConcurrency = 2,
    scheduledTimezone = "Asia/Dubai",
})
print(("campaign  %s  %s"):format(campaign.id, campaign.status))

local done = check(client.campaigns:wait(campaign.id, {
    interval = 0.5,
    on_status = function(c) print(("status    %s"):format(c.status)) end,
}))

-- recipients come grouped by state; print them by name
local everyone = {}
for _, list in pairs(done.recipients or {}) do
    for _, r in ipairs(list) do everyone[#everyone + 1] = r end
end
table.sort(everyone, function(a, b) return a.name < b.name end)
for _, r in ipairs(everyone) do
    print(("  %-8s %-14s %s"):format(r.name, r.phoneNumber, r.status))
end
client:close()
