--- The dialer's ledger: every row of every campaign and its state, in
-- SQLite (a file; one machine, several processes) or PostgreSQL (several
-- machines), through Debian's LuaSQL drivers. Every change is one short
-- transaction, committed before the step it announces (docs/dialer.md).
--
-- Both databases run the same SQL but for two things: how a transaction
-- takes the campaign's lock (SQLite: `BEGIN IMMEDIATE` locks the file;
-- PostgreSQL: `SELECT … FOR UPDATE` on the campaign's row) and `FOR UPDATE
-- SKIP LOCKED` on the rows a claim takes (PostgreSQL only). The campaign
-- lock serializes claims, so the counts behind `concurrency` and the rate's
-- slots are exact across processes.
--
-- LuaSQL has no bound parameters: every value goes through `lit` (strings
-- via the driver's own escape) or `num` (numbers formatted here).
-- @module hamsa.dialer.ledger
local json = require("hamsa.core").json

local type, tostring, tonumber, ipairs, error, pcall, setmetatable =
    type, tostring, tonumber, ipairs, error, pcall, setmetatable
local format, find, concat = string.format, string.find, table.concat
local floor, huge = math.floor, math.huge

local M = {}

--- The states a row holds until it is final.
M.ACTIVE = { "claimed", "sending", "placed", "unknown" }
M.OPEN = { "pending", "claimed", "sending", "placed", "unknown" }

--- How many seconds of the rate a claim takes rows for.
M.HORIZON = 1

--- The PostgreSQL advisory lock key held while the tables are created.
M.SCHEMA_LOCK = 7263011

local Ledger = {}
Ledger.__index = Ledger

local SCHEMA = {
    [[CREATE TABLE IF NOT EXISTS hamsa_dialer_campaigns (
        campaign TEXT PRIMARY KEY,
        next_slot DOUBLE PRECISION NOT NULL DEFAULT 0,
        paused_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        seq BIGINT NOT NULL DEFAULT 0)]],
    [[CREATE TABLE IF NOT EXISTS hamsa_dialer_rows (
        campaign TEXT NOT NULL,
        id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        to_number TEXT NOT NULL,
        params TEXT,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        job_id TEXT,
        status TEXT,
        owner TEXT,
        lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
        slot DOUBLE PRECISION NOT NULL DEFAULT 0,
        sent_at DOUBLE PRECISION,
        error TEXT,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, id))]],
    [[CREATE INDEX IF NOT EXISTS hamsa_dialer_rows_state
        ON hamsa_dialer_rows (campaign, state, not_before, seq)]],
    -- every call id a row ever got (a placement or an adoption): reconciling
    -- an unknown row never adopts a call that another row, or an earlier
    -- attempt of the same row, already holds
    [[CREATE TABLE IF NOT EXISTS hamsa_dialer_calls (
        campaign TEXT NOT NULL,
        job_id TEXT NOT NULL,
        id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        placed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (campaign, job_id))]],
}

---------------------------------------------------------------------------
-- the two databases

local function sqlite(path)
    local ok, driver = pcall(require, "luasql.sqlite3")
    if not ok then
        return nil, "the SQLite ledger needs LuaSQL's sqlite3 driver (Debian: lua-sql-sqlite3; LuaRocks: "
            .. "luasql-sqlite3)"
    end
    local env = driver.sqlite3()
    local conn, err = env:connect(path)
    if not conn then env:close(); return nil, "cannot open the ledger " .. path .. ": " .. tostring(err) end
    local self = { env = env, conn = conn, kind = "sqlite", where = path,
                   begin = "BEGIN IMMEDIATE", lock = nil, skip_locked = "" }
    -- a writer waits for another process's transaction instead of failing;
    -- WAL lets readers go on meanwhile; NORMAL loses nothing on a process
    -- crash (only on a power loss, the last transactions)
    for _, pragma in ipairs({ "PRAGMA busy_timeout = 60000", "PRAGMA journal_mode = WAL",
                              "PRAGMA synchronous = NORMAL" }) do
        local cur = conn:execute(pragma)
        if type(cur) == "userdata" then cur:close() end
    end
    return self
end

local function postgres(url)
    local ok, driver = pcall(require, "luasql.postgres")
    if not ok then
        return nil, "a PostgreSQL ledger needs LuaSQL's postgres driver (Debian: lua-sql-postgres; LuaRocks: "
            .. "luasql-postgres)"
    end
    local env = driver.postgres()
    local conn, err = env:connect(url)
    if not conn then
        env:close()
        -- libpq's message may quote the URL, password included: not repeated
        return nil, "cannot connect to the PostgreSQL ledger: " .. tostring(err):gsub("://[^@%s]*@", "://…@")
    end
    return { env = env, conn = conn, kind = "postgres", where = "postgresql",
             begin = "BEGIN", lock = true, skip_locked = " FOR UPDATE SKIP LOCKED" }
end

--- Opens the ledger named by `where`: a `postgresql://` or `postgres://`
-- URL, else a SQLite file path. Creates its tables when missing.
-- @return a ledger, or nil and a message
function M.open(where)
    local self, err
    if find(where, "^postgres") then self, err = postgres(where) else self, err = sqlite(where) end
    if not self then return nil, err end
    setmetatable(self, Ledger)
    -- PostgreSQL: processes starting together would race in CREATE TABLE IF
    -- NOT EXISTS (a unique violation in its catalog); one at a time under
    -- an advisory lock. (SQLite's write lock serializes them already.)
    if self.lock then
        local ok, e = self:query("SELECT pg_advisory_lock(" .. M.SCHEMA_LOCK .. ")")
        if not ok then self:close(); return nil, e end
    end
    local failed
    for _, sql in ipairs(SCHEMA) do
        local ok, e = self:exec(sql)
        if not ok then failed = e; break end
    end
    if self.lock then self:query("SELECT pg_advisory_unlock(" .. M.SCHEMA_LOCK .. ")") end
    if failed then self:close(); return nil, failed end
    return self
end

---------------------------------------------------------------------------
-- SQL helpers

--- A string (or nil) as an SQL literal.
function Ledger:lit(s)
    if s == nil then return "NULL" end
    return "'" .. self.conn:escape(tostring(s)) .. "'"
end

--- A number as an SQL literal (times to the microsecond).
local function num(n)
    if n == nil then return "NULL" end
    if n == huge then n = 1e300 end
    if n == floor(n) and n < 2 ^ 53 and n > -2 ^ 53 then return format("%d", n) end
    return format("%.6f", n)
end
M.num = num

--- Runs a statement: true (and the count of rows changed), or nil and a message.
function Ledger:exec(sql)
    local r, err = self.conn:execute(sql)
    if r == nil then return nil, "ledger: " .. tostring(err) end
    if type(r) == "userdata" then r:close(); return true, 0 end
    return true, tonumber(r) or 0
end

--- Runs a query: a list of rows (tables by column name), or nil and a message.
function Ledger:query(sql)
    local cur, err = self.conn:execute(sql)
    if cur == nil then return nil, "ledger: " .. tostring(err) end
    if type(cur) ~= "userdata" then return {} end
    local out = {}
    while true do
        local row = cur:fetch({}, "a")
        if not row then break end
        out[#out + 1] = row
    end
    cur:close()
    return out
end

-- Runs fn(self) inside one transaction (with the campaign's lock, whose
-- row exists from then on); commits when it returns true-ish, rolls back
-- when it fails or raises. Returns what fn returned, or nil and a message.
function Ledger:atomic(campaign, fn)
    local ok, err = self:exec(self.begin)
    if not ok then return nil, err end
    local c = self:lit(campaign)
    local okc, e1 = self:exec("INSERT INTO hamsa_dialer_campaigns (campaign) VALUES (" .. c .. ") "
        .. "ON CONFLICT (campaign) DO NOTHING")
    if okc and self.lock then
        okc, e1 = self:query("SELECT campaign FROM hamsa_dialer_campaigns WHERE campaign = " .. c .. " FOR UPDATE")
    end
    if not okc then self:exec("ROLLBACK"); return nil, e1 end
    local okf, a, b = pcall(fn, self, c)
    if not okf or a == nil then
        self:exec("ROLLBACK")
        if not okf then return nil, "ledger: " .. tostring(a) end
        return nil, b
    end
    local okm, e2 = self:exec("COMMIT")
    if not okm then self:exec("ROLLBACK"); return nil, e2 end
    return a, b
end

-- Raises inside `atomic` on a failed statement (atomic rolls back).
local function must(ok, err)
    if ok == nil then error(err, 0) end
    return ok, err
end

local function in_list(self, list)
    local out = {}
    for i, s in ipairs(list) do out[i] = self:lit(s) end
    return "(" .. concat(out, ", ") .. ")"
end

-- A row as the dialer sees it (PostgreSQL gives every value as a string).
local function row_of(r)
    local params = r.params and json.decode(r.params) or nil
    return {
        id = r.id, toNumber = r.to_number, params = params, state = r.state,
        attempt = tonumber(r.attempt), jobId = r.job_id, status = r.status, owner = r.owner,
        lease_until = tonumber(r.lease_until), not_before = tonumber(r.not_before),
        slot = tonumber(r.slot), sent_at = tonumber(r.sent_at), error = r.error,
        updatedAt = tonumber(r.updated_at),
    }
end

local COLUMNS = "id, to_number, params, state, attempt, job_id, status, owner, lease_until, not_before, "
    .. "slot, sent_at, error, updated_at"

---------------------------------------------------------------------------
-- the operations

--- Adds rows (`{ id, toNumber, params }`, already checked) to `campaign`;
-- a known id is left as it is. Returns the number added.
function Ledger:add(campaign, rows, now)
    local added = 0
    for first = 1, #rows, 200 do
        local n, err = self:atomic(campaign, function(db, c)
            local cur = must(db:query("SELECT seq FROM hamsa_dialer_campaigns WHERE campaign = " .. c))
            local seq = tonumber(cur[1].seq) or 0
            local values, last = {}, first + 199
            if last > #rows then last = #rows end
            for i = first, last do
                local r = rows[i]
                values[#values + 1] = format("(%s, %s, %s, %s, %s, 'pending', 1, %s)", c, db:lit(r.id),
                    num(seq + i), db:lit(r.toNumber), r.params and db:lit(json.encode(r.params)) or "NULL",
                    num(now))
            end
            local _, changed = must(db:exec("INSERT INTO hamsa_dialer_rows "
                .. "(campaign, id, seq, to_number, params, state, attempt, updated_at) VALUES "
                .. concat(values, ", ") .. " ON CONFLICT (campaign, id) DO NOTHING"))
            must(db:exec("UPDATE hamsa_dialer_campaigns SET seq = " .. num(seq + last) .. " WHERE campaign = " .. c))
            return changed
        end)
        if n == nil then return nil, err end
        added = added + n
    end
    return added
end

--- Claims up to `want` pending rows due by `now` for `owner`, as far as
-- `concurrency` (rows active in the whole campaign), the pause, and the
-- rate allow (at most what the rate sends in HORIZON seconds, so that a
-- process holds no more seats than it can use soon). Returns the list of
-- claimed rows (maybe empty).
function Ledger:claim(campaign, owner, want, now, o)
    return self:atomic(campaign, function(db, c)
        local camp = must(db:query("SELECT paused_until FROM hamsa_dialer_campaigns WHERE campaign = " .. c))[1]
        if tonumber(camp.paused_until) > now then return {} end
        local active = must(db:query("SELECT count(*) AS n FROM hamsa_dialer_rows WHERE campaign = " .. c
            .. " AND state IN " .. in_list(db, M.ACTIVE)))
        local free = o.concurrency - (tonumber(active[1].n) or 0)
        if want > free then want = free end
        local by_rate = floor(o.rate * M.HORIZON) + 1
        if want > by_rate then want = by_rate end
        if want <= 0 then return {} end
        local list = must(db:query("SELECT " .. COLUMNS .. " FROM hamsa_dialer_rows WHERE campaign = " .. c
            .. " AND state = 'pending' AND not_before <= " .. num(now) .. " ORDER BY seq LIMIT " .. num(want)
            .. db.skip_locked))
        local out = {}
        for i, r in ipairs(list) do
            local row = row_of(r)
            row.state, row.owner = "claimed", owner
            must(db:exec(format("UPDATE hamsa_dialer_rows SET state = 'claimed', owner = %s, lease_until = %s, "
                .. "updated_at = %s WHERE campaign = %s AND id = %s AND state = 'pending'",
                db:lit(owner), num(now + o.lease), num(now), c, db:lit(row.id))))
            out[i] = row
        end
        return out
    end)
end

-- One compare-and-set on a row this process owns: true when it applied.
local function cas(self, campaign, row, owner, from, set)
    local ok, changed = self:exec(format("UPDATE hamsa_dialer_rows SET %s WHERE campaign = %s AND id = %s "
        .. "AND owner = %s AND state IN %s", set, self:lit(campaign), self:lit(row.id), self:lit(owner),
        in_list(self, from)))
    if not ok then return nil, changed end
    return changed == 1
end

--- `claimed` → `sending`, written before the request goes out, when the
-- campaign's rate has a slot for it now (the slots are handed out here, at
-- sending, so a process that dies wastes none). Returns true (send it),
-- false and the time of the next slot (not yet), or false (the row is no
-- longer this owner's claim: it must not be sent).
function Ledger:sending(campaign, row, owner, now, o)
    return self:atomic(campaign, function(db, c)
        local slot = tonumber(must(db:query("SELECT next_slot FROM hamsa_dialer_campaigns WHERE campaign = "
            .. c))[1].next_slot) or 0
        if slot > now then return false, slot end
        local ok = must(cas(db, campaign, row, owner, { "claimed" }, format("state = 'sending', sent_at = %s, "
            .. "lease_until = %s, updated_at = %s", num(now), num(now + o.lease), num(now))))
        if not ok then return false end
        must(db:exec("UPDATE hamsa_dialer_campaigns SET next_slot = " .. num(now + 1 / o.rate)
            .. " WHERE campaign = " .. c))
        return true
    end)
end

--- A row back to `pending` (nothing was sent, or nothing was placed), due
-- at `not_before`; `error` notes why.
function Ledger:release(campaign, row, owner, now, not_before, err)
    return cas(self, campaign, row, owner, { "claimed", "sending", "unknown" }, format("state = 'pending', "
        .. "owner = NULL, not_before = %s, error = %s, updated_at = %s", num(not_before), self:lit(err),
        num(now)))
end

--- `sending` → `unknown`: the request may have reached the API.
function Ledger:unknown(campaign, row, owner, now, err)
    return cas(self, campaign, row, owner, { "sending" }, format("state = 'unknown', error = %s, "
        .. "updated_at = %s", self:lit(err), num(now)))
end

--- `sending` or `unknown` → `placed` with the call's id. The call is
-- recorded as this attempt's first, whether or not the row is still this
-- owner's: a process that took the row over (as `unknown`) then finds it
-- there (`call_of`) instead of dialling again. False when the row changed
-- hands, or the call already belongs to another row or attempt.
function Ledger:placed(campaign, row, owner, job_id, now)
    return self:atomic(campaign, function(db, c)
        local _, n = must(db:exec(format("INSERT INTO hamsa_dialer_calls (campaign, job_id, id, attempt, placed_at) "
            .. "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (campaign, job_id) DO NOTHING", c, db:lit(job_id),
            db:lit(row.id), num(row.attempt), num(now))))
        if n ~= 1 then
            local held = must(db:query("SELECT id, attempt FROM hamsa_dialer_calls WHERE campaign = " .. c
                .. " AND job_id = " .. db:lit(job_id)))[1]
            if not held or held.id ~= row.id or tonumber(held.attempt) ~= row.attempt then return false end
        end
        return (must(cas(db, campaign, row, owner, { "sending", "unknown" }, format("state = 'placed', "
            .. "job_id = %s, error = NULL, updated_at = %s", db:lit(job_id), num(now)))))
    end)
end

--- The call an attempt of a row produced, as recorded by `placed`, or nil.
function Ledger:call_of(campaign, id, attempt)
    local list, err = self:query("SELECT job_id FROM hamsa_dialer_calls WHERE campaign = " .. self:lit(campaign)
        .. " AND id = " .. self:lit(id) .. " AND attempt = " .. num(attempt) .. " ORDER BY placed_at LIMIT 1")
    if not list then return nil, err end
    return list[1] and list[1].job_id or false
end

--- Rejected by the API (no call exists): final state `rejected`.
function Ledger:rejected(campaign, row, owner, now, err)
    return cas(self, campaign, row, owner, { "claimed", "sending", "unknown" }, format("state = 'rejected', "
        .. "error = %s, updated_at = %s", self:lit(err), num(now)))
end

--- A placed call reached its final `status`: the row is final, or, when
-- `again_at` is given, pending for its next attempt from then.
function Ledger:ended(campaign, row, owner, status, now, again_at)
    if again_at then
        return cas(self, campaign, row, owner, { "placed" }, format("state = 'pending', owner = NULL, "
            .. "status = %s, attempt = attempt + 1, not_before = %s, updated_at = %s", self:lit(status),
            num(again_at), num(now)))
    end
    return cas(self, campaign, row, owner, { "placed" }, format("state = %s, status = %s, updated_at = %s",
        self:lit(status), self:lit(status), num(now)))
end

--- Pauses placements of the whole campaign until `untl` (a 429).
function Ledger:pause(campaign, untl)
    return self:atomic(campaign, function(db, c)
        must(db:exec("UPDATE hamsa_dialer_campaigns SET paused_until = " .. num(untl) .. " WHERE campaign = " .. c
            .. " AND paused_until < " .. num(untl)))
        return true
    end)
end

--- Extends the lease of every active row `owner` holds.
function Ledger:renew(campaign, owner, untl)
    return self:exec(format("UPDATE hamsa_dialer_rows SET lease_until = %s WHERE campaign = %s AND owner = %s "
        .. "AND state IN %s AND lease_until < %s", num(untl), self:lit(campaign), self:lit(owner),
        in_list(self, M.ACTIVE), num(untl)))
end

--- Takes over the active rows of owners that are gone (`gone(owner,
-- lease_until)` true): `claimed` → `pending`, `sending` → `unknown`
-- (owned by `owner` now), `placed` and `unknown` change owner. Returns the
-- number of rows taken over.
function Ledger:recover(campaign, owner, now, lease, gone)
    return self:atomic(campaign, function(db, c)
        local list = must(db:query("SELECT id, state, owner, lease_until FROM hamsa_dialer_rows WHERE campaign = "
            .. c .. " AND state IN " .. in_list(db, M.ACTIVE) .. " AND (owner IS NULL OR owner <> "
            .. db:lit(owner) .. ")"))
        local n = 0
        for _, r in ipairs(list) do
            if r.owner == nil or gone(r.owner, tonumber(r.lease_until)) then
                local set
                if r.state == "claimed" then
                    set = "state = 'pending', owner = NULL"
                elseif r.state == "sending" then
                    set = "state = 'unknown', owner = " .. db:lit(owner) .. ", error = 'the process sending it "
                        .. "stopped before an answer'"
                else
                    set = "owner = " .. db:lit(owner)
                end
                local _, changed = must(db:exec(format("UPDATE hamsa_dialer_rows SET %s, lease_until = %s, "
                    .. "updated_at = %s WHERE campaign = %s AND id = %s AND state = %s AND %s", set,
                    num(now + lease), num(now), c, db:lit(r.id), db:lit(r.state),
                    r.owner == nil and "owner IS NULL" or "owner = " .. db:lit(r.owner))))
                n = n + changed
            end
        end
        return n
    end)
end

--- The rows `owner` holds in `state`.
function Ledger:owned(campaign, owner, state)
    local list, err = self:query("SELECT " .. COLUMNS .. " FROM hamsa_dialer_rows WHERE campaign = "
        .. self:lit(campaign) .. " AND owner = " .. self:lit(owner) .. " AND state = " .. self:lit(state)
        .. " ORDER BY seq")
    if not list then return nil, err end
    for i, r in ipairs(list) do list[i] = row_of(r) end
    return list
end

--- Whether `job_id` is a call some row of the campaign already holds.
function Ledger:known_call(campaign, job_id)
    local list, err = self:query("SELECT id FROM hamsa_dialer_calls WHERE campaign = " .. self:lit(campaign)
        .. " AND job_id = " .. self:lit(job_id))
    if not list then return nil, err end
    return list[1] ~= nil
end

--- Counts of rows per state, and the earliest time a pending row is due.
function Ledger:counts(campaign)
    local list, err = self:query("SELECT state, count(*) AS n, min(not_before) AS due FROM hamsa_dialer_rows "
        .. "WHERE campaign = " .. self:lit(campaign) .. " GROUP BY state")
    if not list then return nil, err end
    local counts, due = {}, nil
    for _, r in ipairs(list) do
        counts[r.state] = tonumber(r.n)
        if r.state == "pending" then due = tonumber(r.due) end
    end
    return counts, due
end

--- Every row of the campaign, in the order they were added.
function Ledger:rows(campaign)
    local list, err = self:query("SELECT " .. COLUMNS .. " FROM hamsa_dialer_rows WHERE campaign = "
        .. self:lit(campaign) .. " ORDER BY seq")
    if not list then return nil, err end
    for i, r in ipairs(list) do list[i] = row_of(r) end
    return list
end

--- Releases the claims `owner` holds (nothing sent for them) and closes.
function Ledger:close(campaign, owner, now)
    if self.conn and campaign and owner then
        self:exec(format("UPDATE hamsa_dialer_rows SET state = 'pending', owner = NULL, updated_at = %s "
            .. "WHERE campaign = %s AND owner = %s AND state = 'claimed'", num(now or 0), self:lit(campaign),
            self:lit(owner)))
    end
    if self.conn then self.conn:close(); self.conn = nil end
    if self.env then self.env:close(); self.env = nil end
    return true
end

return M
