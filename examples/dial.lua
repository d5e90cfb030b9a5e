-- The dialer: call a list from your own code, each row exactly once. The
-- ledger (a SQLite file here) records every step before it is taken, so
-- running this again resumes the same campaign and calls nobody twice.
-- Then print the final counts and export every row as CSV.
--
--   HAMSA_API_KEY=... lua5.4 examples/dial.lua
--   DIAL_LEDGER=leads.db lua5.4 examples/dial.lua     (keep the ledger)
local hamsa = require "hamsa"
local dialer = require "hamsa.dialer"

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
    greetingMessage = "Hello {{name}}, a reminder of your appointment on {{day}}.",
    params = { name = "there", day = "tomorrow" },
})

local ledger = os.getenv("DIAL_LEDGER") or os.tmpname()
local d = dialer.new(client, {
    ledger = ledger,
    campaign = "reminders",
    call = { route = "phone_number", phoneNumber = "+97145551234", voiceAgentId = agent.id },
    concurrency = 2,
    rate = 5,
    on_progress = function(s)                   -- about once a second while running
        print(("progress  %d/%d final, %d placed"):format(s.final or 0, s.total or 0, s.placed or 0))
    end,
})

local added = d:add {
    { id = "lead-1", toNumber = "+971501110001", params = { name = "Layla", day = "Monday" } },
    { id = "lead-2", toNumber = "+971501110002", params = { name = "Omar", day = "Monday" } },
    { id = "lead-3", toNumber = "+971501110003", params = { name = "Mariam", day = "Tuesday" } },
    { id = "lead-4", toNumber = "+971501110004", params = { name = "Youssef", day = "Tuesday" } },
    { id = "lead-5", toNumber = "+971501110005", params = { name = "نور", day = "Wednesday" } },
}
print(("added     %d rows to %s"):format(added, ledger))

local status = check(d:run())

local states = {}
for _, state in ipairs { "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED", "TERMINATED", "rejected" } do
    if (status[state] or 0) > 0 then states[#states + 1] = ("%s=%d"):format(state, status[state]) end
end
print(("done      %d/%d final  %s"):format(status.final, status.total, table.concat(states, " ")))

local base = os.tmpname()
os.remove(base)
local path = base .. ".csv"
local ok, err = d:export(path)
if ok == nil and err ~= nil then check(nil, err) end
print(("exported  %s"):format(path))
d:close()
client:close()
