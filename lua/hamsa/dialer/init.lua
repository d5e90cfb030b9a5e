--- `hamsa.dialer`: a list of calls, each placed exactly once, from a
-- durable ledger (docs/dialer.md: the options, the states and the rules).
--
--     local d = hamsa.dialer.new(client, { ledger = "leads.db", campaign = "spring",
--         call = { route = "phone_number", phoneNumber = "+97145551234", voiceAgentId = id } })
--     d:add{ { id = "lead-1", toNumber = "+971501234567", params = { name = "Layla" } } }
--     local status = d:run()
--
-- This file checks the options and rows and holds the public methods; the
-- run itself is hamsa.dialer.engine, the SQL hamsa.dialer.ledger.
-- @module hamsa.dialer
local core = require "hamsa.core"
local ledger_mod = require "hamsa.dialer.ledger"
local errors = require "hamsa.errors"

local type, error, pairs, ipairs, tostring, setmetatable, next =
    type, error, pairs, ipairs, tostring, setmetatable, next
local format, find, match, sub, byte = string.format, string.find, string.match, string.sub, string.byte
local wall = core.wall

local M = {}

--- The call routes a dialer can use, and the field that names the number calling.
-- @usage local from_field = hamsa.dialer.ROUTES.twilio   --> "twilioPhoneNumber"
M.ROUTES = { phone_number = "phoneNumber", twilio = "twilioPhoneNumber", start = "fromNumber" }

--- Final states: a call's own final statuses, and `rejected`.
-- @usage for _, state in ipairs(hamsa.dialer.FINAL) do print(state, status[state]) end
M.FINAL = { "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED", "TERMINATED", "rejected" }
M.STATES = { "pending", "claimed", "sending", "placed", "unknown" }

local OPTIONS = {
    ledger = "string", campaign = "string", call = "table", concurrency = "number", rate = "number",
    window = "table", max_attempts = "number", redial = "table", retry_after = "number",
    reconcile_after = "number", lease = "number", follow = "table", watch = "any", on_progress = "function",
    progress_interval = "number",
}
local DEFAULTS = {
    ledger = "hamsa-dialer.db", concurrency = 5, rate = 1, max_attempts = 1, retry_after = 3600,
    reconcile_after = 30, lease = 60, progress_interval = 1,
}
local BOUNDS = {
    concurrency = { 1, 10000, true }, rate = { 0.001, 10000 }, max_attempts = { 1, 100, true },
    retry_after = { 0, 1e7 }, reconcile_after = { 0, 86400 }, lease = { 1, 86400 }, progress_interval = { 0.05, 3600 },
}

-- the option names with their types, defaults and bounds (read by
-- scripts/gen-types.lua for the editor types)
M.OPTIONS, M.DEFAULTS, M.BOUNDS = OPTIONS, DEFAULTS, BOUNDS

local Dialer = {}
Dialer.__index = Dialer
Dialer.__name = "hamsa.dialer"

local function misuse(msg, level)
    error("hamsa.dialer." .. msg, (level or 2) + 1)
end

-- This host's name, for telling a dead owner on the same host at once.
local function hostname()
    local f = io.open("/proc/sys/kernel/hostname")
    local name = f and f:read("*l")
    if f then f:close() end
    return name or os.getenv("HOSTNAME") or "localhost"
end

local function check_options(opts)
    if type(opts) ~= "table" then misuse("new: expected an options table", 3) end
    for k, v in pairs(opts) do
        local want = OPTIONS[k]
        if not want then misuse("new: unknown option '" .. tostring(k) .. "'", 3) end
        if want ~= "any" and type(v) ~= want then misuse(format("new: %s must be a %s", k, want), 3) end
        local b = BOUNDS[k]
        if b and (v ~= v or v < b[1] or v > b[2] or (b[3] and v % 1 ~= 0)) then
            misuse(format("new: %s must be %s from %g to %g", k, b[3] and "a whole number" or "a number",
                b[1], b[2]), 3)
        end
    end
    if type(opts.campaign) ~= "string" or opts.campaign == "" then
        misuse("new: campaign must be a non-empty string", 3)
    end
    local call = opts.call
    if type(call) ~= "table" then misuse("new: call must be a table (the call's fixed fields)", 3) end
    local route = call.route or "phone_number"
    if not M.ROUTES[route] then misuse("new: call.route must be phone_number, twilio or start", 3) end
    if call.toNumber ~= nil then misuse("new: call.toNumber comes from each row, not from call", 3) end
    if call.params ~= nil and type(call.params) ~= "table" then misuse("new: call.params must be a table", 3) end
    for _, s in ipairs(opts.redial or {}) do
        if type(s) ~= "string" then misuse("new: redial must list call statuses", 3) end
    end
end

--- Makes a dialer on `client` (see the module's text and docs/dialer.md).
-- Raises on misuse; returns nil and an error when the ledger cannot be opened.
-- The dialer's methods: `Dialer:add`, `Dialer:run`, `Dialer:status`,
-- `Dialer:rows`, `Dialer:export`, `Dialer:close`.
-- @tparam hamsa.client.Client client the client whose `calls` and `conversations` it uses
-- @tparam table opts `campaign` and `call` (required), [opt] `ledger`
--   (a SQLite path, default "hamsa-dialer.db", or a `postgresql://` URL),
--   `concurrency` (5), `rate` (1 per second), `window`, `max_attempts` (1),
--   `redial`, `retry_after`, `reconcile_after`, `lease`, `follow`, `watch`,
--   `on_progress`, `progress_interval` (docs/dialer.md)
-- @treturn[1] table the dialer
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err (kind "config": the ledger cannot be opened)
-- @raise on an unknown option or a value out of its bounds
-- @usage local d = assert(hamsa.dialer.new(client, {
--     ledger = "leads.db", campaign = "spring", concurrency = 5, rate = 1,
--     call = { route = "phone_number", phoneNumber = "+97145551234", voiceAgentId = agent_id },
-- }))
function M.new(client, opts)
    if type(client) ~= "table" or type(client.calls) ~= "table" or type(client.conversations) ~= "table" then
        misuse("new: expected a hamsa client as the first argument")
    end
    check_options(opts)
    local o = {}
    for k, v in pairs(DEFAULTS) do o[k] = v end
    for k, v in pairs(opts) do o[k] = v end
    o.route = opts.call.route or "phone_number"
    o.redial = {}
    for _, s in ipairs(opts.redial or { "NO_ANSWER", "FAILED" }) do o.redial[s] = true end
    o.follow = opts.follow or {}
    if opts.window then
        local w, why = require("hamsa.dialer.window").new(opts.window)
        if not w then misuse("new: " .. tostring(why)) end
        o.window = w
    end
    local ledger, err = ledger_mod.open(o.ledger)
    if not ledger then return nil, errors.new("config", err) end
    local host = hostname()
    local self = setmetatable({
        client = client, o = o, campaign = o.campaign, ledger = ledger, host = host,
        owner = format("%s:%d:%s", host, core.getpid(), sub(core.uuid4(), 1, 8)),
        placed_at = {},        -- wall times of this process's placements in the last minute
        -- what this process did: placed, unknown, adopted, redialled, release, pause, reject, stop
        stats = {},
    }, Dialer)
    if opts.watch ~= nil then client:watch(opts.watch) end
    return self
end

function Dialer:__tostring()
    return format("hamsa.dialer (campaign %s, %s ledger)", self.campaign, self.ledger and self.ledger.kind or "closed")
end

local E164 = "^%+[1-9]%d%d%d%d%d%d+$"

-- Raises (at the caller of add) on a row that could not make a call.
local function check_row(row, i)
    if type(row) ~= "table" then misuse(format("add: row %d must be a table", i), 4) end
    local id = row.id
    if type(id) ~= "string" or id == "" or find(id, "[%z\1-\31\127]") then
        misuse(format("add: row %d: id must be a non-empty string without control characters", i), 4)
    end
    local to = row.toNumber
    if type(to) ~= "string" or not match(to, E164) or #to > 16 then
        misuse(format("add: row %d (%s): toNumber must be an E.164 number (+ and 7 to 15 digits)", i, id), 4)
    end
    if row.params ~= nil and type(row.params) ~= "table" then
        misuse(format("add: row %d (%s): params must be a table", i, id), 4)
    end
    for k, v in pairs(row.params or {}) do
        if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean") then
            misuse(format("add: row %d (%s): params must map names to strings, numbers or booleans", i, id), 4)
        end
    end
end

--- Adds rows `{ id, toNumber [, params] }`; a known id is a no-op.
-- @tparam {table,...} rows each `{ id = string, toNumber = E.164 string [, params = table] }`
-- @treturn[1] number how many were new
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err (the ledger failed, or the dialer is closed)
-- @raise on a row that could not make a call (no id, a malformed number)
-- @usage d:add { { id = "lead-1", toNumber = "+971501234567", params = { name = "Layla" } } }
function Dialer:add(rows)
    if getmetatable(self) ~= Dialer then misuse("add: use d:add(rows) (with a colon)") end
    if type(rows) ~= "table" then misuse("add: rows must be a list of rows") end
    local list, seen = {}, {}
    for i, row in ipairs(rows) do
        check_row(row, i)
        if not seen[row.id] then
            seen[row.id] = true
            list[#list + 1] = { id = row.id, toNumber = row.toNumber,
                                params = row.params and next(row.params) and row.params or nil }
        end
    end
    if not self.ledger then return nil, errors.new("cancelled", "the dialer is closed") end
    local n, err = self.ledger:add(self.campaign, list, wall())
    if not n then return nil, errors.new("config", err) end
    return n
end

--- Counts per state of the whole campaign, plus `total`, `final`,
-- `calls_per_minute` (this process's placements in the last minute) and
-- `eta` (seconds, at that pace; nil when unknown).
-- @treturn[1] table the counts
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err
-- @usage local s = d:status()
-- print(s.final .. "/" .. s.total, s.COMPLETED, s.NO_ANSWER)
function Dialer:status()
    if not self.ledger then return nil, errors.new("cancelled", "the dialer is closed") end
    local counts, err = self.ledger:counts(self.campaign)
    if not counts then return nil, errors.new("config", err) end
    local s, total, final = {}, 0, 0
    for _, k in ipairs(M.STATES) do s[k] = counts[k] or 0; total = total + s[k] end
    for _, k in ipairs(M.FINAL) do s[k] = counts[k] or 0; total = total + s[k]; final = final + s[k] end
    s.total, s.final = total, final
    local now, recent = wall(), 0
    for _, t in ipairs(self.placed_at) do if t > now - 60 then recent = recent + 1 end end
    s.calls_per_minute = recent
    if recent > 0 then s.eta = (total - final) / recent * 60 end
    return s
end

--- Every row of the campaign (`{ id, toNumber, state, attempt, jobId,
-- status, error, updatedAt }`), in the order they were added.
-- @treturn[1] {table,...} the rows
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err
-- @usage for _, r in ipairs(d:rows()) do print(r.id, r.state, r.jobId) end
function Dialer:rows()
    if not self.ledger then return nil, errors.new("cancelled", "the dialer is closed") end
    local list, err = self.ledger:rows(self.campaign)
    if not list then return nil, errors.new("config", err) end
    for i, r in ipairs(list) do
        list[i] = { id = r.id, toNumber = r.toNumber, state = r.state, attempt = r.attempt, jobId = r.jobId,
                    status = r.status, error = r.error, updatedAt = r.updatedAt, params = r.params }
    end
    return list
end

--- Writes the rows as CSV to `path`: true, or nil and an error.
-- @tparam string path the file to write
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err
-- @usage assert(d:export("spring-results.csv"))
function Dialer:export(path)
    local list, err = self:rows()
    if not list then return nil, err end
    local csv = require "hamsa.dialer.csv"
    local f, ferr = io.open(path, "wb")
    if not f then return nil, errors.new("config", "cannot write " .. path .. ": " .. tostring(ferr)) end
    f:write(csv.line({ "id", "toNumber", "state", "attempt", "jobId", "status", "error", "updatedAt" }), "\n")
    for _, r in ipairs(list) do
        f:write(csv.line({ r.id, r.toNumber, r.state, r.attempt, r.jobId, r.status, r.error,
            r.updatedAt and os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(r.updatedAt)) }, { safe = true }), "\n")
    end
    f:close()
    return true
end

--- Runs until every row is final (docs/dialer.md): `status`, or nil and
-- an error. `opts.until_idle`: return once nothing can be done now;
-- `opts.deadline`: seconds, then nil and a `timeout` error.
-- @tparam[opt] table opts `until_idle`, `deadline`
-- @treturn[1] table the status, as `Dialer:status` gives it
-- @return[2] nil
-- @treturn[2] hamsa.errors.Error err (kind "auth" or "config" stops the run; "timeout" past the deadline)
-- @usage local status, err = d:run()
-- if not status then error(tostring(err)) end
function Dialer:run(opts)
    if getmetatable(self) ~= Dialer then misuse("run: use d:run() (with a colon)") end
    if opts ~= nil and type(opts) ~= "table" then misuse("run: opts must be a table") end
    if not self.ledger then return nil, errors.new("cancelled", "the dialer is closed") end
    return require("hamsa.dialer.engine").run(self, opts or {})
end

--- Releases the rows this process claimed but did not send, and closes
-- the ledger. Idempotent; also the dialer's `__gc`.
-- @treturn boolean true
-- @usage d:close()
function Dialer:close()
    if self.ledger then
        self.ledger:close(self.campaign, self.owner, wall())
        self.ledger = nil
    end
    return true
end
Dialer.__gc = Dialer.close

-- The Idempotency-Key of a row's attempt: the same for every send of that
-- attempt, at most 255 characters (a long id keeps a hash of the rest).
function M.idempotency_key(campaign, id, attempt)
    local function esc(s) return (s:gsub("[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end)) end
    local key = format("hamsa-dialer:%s:%s:%d", esc(campaign), esc(id), attempt)
    if #key <= 255 then return key end
    local h1, h2 = 0, 7
    for i = 1, #key do
        local b = byte(key, i)
        h1 = (h1 * 31 + b) % 2147483647
        h2 = (h2 * 131 + b) % 2147483629
    end
    return format("%s~%08x%08x", sub(key, 1, 200), h1, h2)
end

M.Dialer = Dialer
return M
