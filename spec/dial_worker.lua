-- A dialer in its own process, for the specs that kill, restart and share
-- it (spec/69, spec/70). Configured by the environment:
--   BASE_URL, API_KEY      the mock
--   LEDGER, CAMPAIGN       where the rows live
--   AGENT                  the voiceAgentId of every call
--   ROWS                   how many rows: ids r1..rN, numbers +9715<7 digits of N>
--   OPTS                   JSON of more dialer options (concurrency, rate, ...)
--   CLIENT                 JSON of more client options (timeout, max_retries, ...)
-- Prints "added N" once the rows are in, then "done <status JSON> stats=<JSON>"
-- (d.stats: what this process did) and exits 0; exits 1 on a failure.
local hamsa = require "hamsa"

local function env(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    return v
end

local client_opts = { api_key = env("API_KEY"), base_url = env("BASE_URL") }
for k, v in pairs(hamsa.json.decode(env("CLIENT", "{}"))) do client_opts[k] = v end
local client = hamsa.new(client_opts)

local opts = {
    ledger = env("LEDGER"), campaign = env("CAMPAIGN", "proof"),
    call = { route = "phone_number", phoneNumber = "+97145551234", voiceAgentId = env("AGENT") },
    concurrency = 10, rate = 1000, reconcile_after = 1, follow = { interval = 0.2 },
}
for k, v in pairs(hamsa.json.decode(env("OPTS", "{}"))) do opts[k] = v end
local d, derr = hamsa.dialer.new(client, opts)
if not d then io.stderr:write(tostring(derr), "\n"); os.exit(1) end

local rows, n = {}, tonumber(env("ROWS", "10"))
for i = 1, n do
    rows[i] = { id = "r" .. i, toNumber = string.format("+9715%07d", i), params = { name = "Lead " .. i } }
end
local added, err = d:add(rows)
if not added then io.stderr:write(tostring(err), "\n"); os.exit(1) end
io.stdout:write("added ", string.format("%d", added), "\n")
io.stdout:flush()

local status, rerr = d:run()
if not status then io.stderr:write(tostring(rerr), "\n"); os.exit(1) end
io.stdout:write("done ", hamsa.json.encode(status), " stats=", hamsa.json.encode(d.stats), "\n")
d:close()
client:close()
os.exit(0)
