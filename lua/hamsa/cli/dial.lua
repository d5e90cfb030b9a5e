--- `hamsa dial`: call every row of a CSV file through hamsa.dialer (a
-- durable ledger: each row called exactly once, a crashed run resumed by
-- running the same command again), with live progress on stderr and the
-- final counts on stdout.
--
--   hamsa dial leads.csv --campaign spring --agent ID --from +97145551234
--   hamsa dial leads.csv --campaign spring --status
--
-- The CSV has a header line; the columns `id` and `toNumber` are required
-- and every other column becomes a `params` entry of the row (an empty cell
-- sends no param, so the agent's default stays). hamsa.dialer is required
-- only when the command runs, so `--help` works without it.
-- @module hamsa.cli.dial
local core = require "hamsa.core"
local input = require "hamsa.cli.input"

local ipairs, pairs, type, tostring, pcall, error = ipairs, pairs, type, tostring, pcall, error
local format, gsub, floor = string.format, string.gsub, math.floor
local concat = table.concat

local M = {}

--- The states of a row, in the order the progress line shows them.
M.STATES = { "pending", "claimed", "sending", "placed", "unknown", "COMPLETED", "NO_ANSWER", "FAILED",
             "FORWARDED", "TERMINATED", "rejected" }

--- Seconds between two progress lines when stderr is not a terminal.
M.QUIET_EVERY = 10

function M.declare(parser)
    local number = require("hamsa.cli").number
    local cmd = parser:command("dial", "Call every row of a CSV file with an agent, each exactly once, "
        .. "through a durable ledger (hamsa.dialer): a limit on calls in progress, a rate, a calling window, "
        .. "re-dials of unanswered calls. Run the same command again to resume a run that stopped.\n"
        .. "The CSV has a header line with the columns id and toNumber (E.164); any other column becomes "
        .. "a param of the row's call ({{name}} in the agent). '-' reads stdin.\n"
        .. "Progress goes to stderr, the final counts per state to stdout.")
    cmd:summary("call a list from a CSV file, each row exactly once (the dialer)")
    cmd:argument("file", "the CSV file of the rows (id,toNumber,...); '-' for stdin; not needed with --status")
        :args("?")
    cmd:option("--campaign", "the campaign's name: rows are keyed by (campaign, id) in the ledger")
        :argname("NAME"):count(1)
    cmd:option("--ledger", "a SQLite file (default hamsa-dialer.db) or a postgresql:// URL, for several "
        .. "machines"):argname("FILE|URL")
    cmd:mutex(
        cmd:option("--agent", "the stored agent that talks (its voiceAgentId)"):argname("ID"),
        cmd:option("--agent-file", "an agent defined inline for the calls (a JSON file, as for agents create)")
            :argname("FILE"))
    cmd:option("--from", "the number calling: yours, your Twilio number with --twilio, optional with "
        .. "--hamsa-number"):argname("NUMBER")
    cmd:mutex(
        cmd:flag("--twilio", "call through Twilio"),
        cmd:flag("--hamsa-number", "call from a number Hamsa provides"))
    cmd:option("--concurrency", "calls in progress at once, across every process of the campaign (default 5)")
        :argname("N"):convert(number("--concurrency", 1, 10000, true))
    cmd:option("--rate", "calls placed per second at most (default 1; 0.5 is one every 2 s)")
        :argname("R"):convert(number("--rate", 0.0001, 1000))
    cmd:option("--max-attempts", "attempts per row: NO_ANSWER and FAILED are dialled again until this many "
        .. "(default 1)"):argname("N"):convert(number("--max-attempts", 1, 100, true))
    cmd:option("--retry-after", "seconds before a row's next attempt (default 3600)")
        :argname("S"):convert(number("--retry-after", 0, 1e8))
    cmd:option("--window", "when calls may start, e.g. \"mon-fri 09:00-18:00 Asia/Dubai\"")
        :argname("SPEC")
    cmd:option("--export", "write every row of the campaign (state, attempts, jobId, status, error) to "
        .. "this CSV file at the end"):argname("FILE")
    cmd:flag("--status", "print the campaign's counts per state from the ledger, and dial nothing")
    cmd:action(function(args) args._run = function(ctx) return M.run(ctx, args) end end)
end

local function trim(s)
    return (gsub(gsub(s, "^%s+", ""), "%s+$", ""))
end

--- The rows of the CSV `text` (`name` in messages) as `d:add` takes them;
-- a usage failure names the file, the line and the problem.
function M.rows_of(text, name)
    local csv = require "hamsa.dialer.csv"
    local records, header, lines = csv.rows(text)
    if not records then input.usage(format("%s: %s", name, header)) end
    local has = {}
    for _, column in ipairs(header) do has[column] = true end
    for _, column in ipairs({ "id", "toNumber" }) do
        if not has[column] then
            input.usage(format("%s: no column %q in the header (it needs id and toNumber; the others are params)",
                name, column))
        end
    end
    local rows, first = {}, {}
    for k, record in ipairs(records) do
        local line = lines[k]
        local id, to = trim(record.id or ""), trim(record.toNumber or "")
        if id == "" then input.usage(format("%s: line %d: the id is empty", name, line)) end
        if to == "" then input.usage(format("%s: line %d: the toNumber is empty", name, line)) end
        if not to:find("^%+[1-9]%d+$") or #to < 8 or #to > 16 then
            input.usage(format("%s: line %d: toNumber %s is not an E.164 number (+ and 7 to 15 digits)",
                name, line, to))
        end
        if first[id] then
            input.usage(format("%s: line %d: the id %q again (first on line %d)", name, line, id, first[id]))
        end
        first[id] = line
        local row = { id = id, toNumber = to }
        for column, value in pairs(record) do
            if column ~= "id" and column ~= "toNumber" and value ~= "" then
                row.params = row.params or {}
                row.params[column] = value
            end
        end
        rows[#rows + 1] = row
    end
    return rows
end

local function read(path)
    if path == "-" then return io.stdin:read("*a") or "", "stdin" end
    local f, err = io.open(path, "rb")
    if not f then input.usage(format("cannot read %s", tostring(err))) end
    local text = f:read("*a")
    f:close()
    if text == nil then input.usage(format("cannot read %s", path)) end
    return text, path
end

--- The `call` option of the dialer: the route from the flags, the agent.
-- `need` (dialling): --from and an agent are required.
function M.call_of(args, need)
    local call = {}
    if args.twilio then
        call.route, call.twilioPhoneNumber = "twilio", args.from
    elseif args.hamsa_number then
        call.route, call.fromNumber = "start", args.from
    else
        call.route, call.phoneNumber = "phone_number", args.from
    end
    if need and not args.from and call.route ~= "start" then
        input.usage("dial: --from is required (your number; or --hamsa-number to call from one Hamsa provides)")
    end
    if args.agent_file then
        call.agentDetails = input.json_file(args.agent_file, "--agent-file")
    elseif args.agent then
        call.voiceAgentId = args.agent
    elseif need then
        input.usage("dial: give --agent ID or --agent-file FILE")
    end
    return call
end

local function duration(s)
    if type(s) ~= "number" or s ~= s or s < 0 or s == math.huge then return nil end
    s = floor(s + 0.5)
    if s < 60 then return format("%ds", s) end
    if s < 3600 then return format("%dm%02ds", floor(s / 60), s % 60) end
    return format("%dh%02dm", floor(s / 3600), floor(s % 3600 / 60))
end

--- One line of a status: the non-zero counts per state, calls per minute, ETA.
function M.summary(status)
    local parts = {}
    if type(status.total) == "number" then
        parts[1] = format("%s/%s final", tostring(status.final or 0), tostring(status.total))
    end
    for _, state in ipairs(M.STATES) do
        local n = status[state]
        if type(n) == "number" and n ~= 0 then parts[#parts + 1] = format("%s %s", state, tostring(n)) end
    end
    if type(status.calls_per_minute) == "number" then
        parts[#parts + 1] = format("%.1f calls/min", status.calls_per_minute)
    end
    local eta = duration(status.eta)
    if eta then parts[#parts + 1] = "ETA " .. eta end
    return concat(parts, "  ")
end

--- The `on_progress` function for campaign `name`, and the function that ends
-- the display. `live` (default: stderr is a terminal) redraws one line.
function M.progress(name, live)
    if live == nil then live = core.isatty(2) end
    local shown, drawn = nil, false
    local function update(status)
        if type(status) ~= "table" then return end
        if live then
            io.stderr:write("\r\27[K", name, ": ", M.summary(status))
            drawn = true
        else
            local t = core.now()
            if shown and t - shown < M.QUIET_EVERY then return end
            shown = t
            io.stderr:write("hamsa: dial ", name, ": ", M.summary(status), "\n")
        end
        io.stderr:flush()
    end
    -- the end: the live line stays; otherwise the last counts, once more
    local function finish(status)
        if drawn then
            io.stderr:write("\n")
        elseif type(status) == "table" then
            io.stderr:write("hamsa: dial ", name, ": ", M.summary(status), "\n")
        end
        io.stderr:flush()
    end
    return update, finish
end

function M.run(ctx, args)
    if ctx.dry_run then
        input.usage("dial: --dry-run is not supported (the dialer writes its ledger); try --status")
    end
    local opts = { campaign = args.campaign, ledger = args.ledger, concurrency = args.concurrency,
                   rate = args.rate, max_attempts = args.max_attempts, retry_after = args.retry_after }
    local rows
    if not args.status then
        if not args.file then input.usage("dial: give the CSV file of the rows ('-' for stdin), or --status") end
        rows = M.rows_of(read(args.file))
    end
    opts.call = M.call_of(args, not args.status)
    if args.window then
        local window, err = require("hamsa.dialer.window").parse(args.window)
        if not window then input.usage(format("--window %s: %s", args.window, tostring(err))) end
        opts.window = window
    end
    local update, finish = M.progress(args.campaign)
    opts.on_progress = update

    local d, derr = require("hamsa.dialer").new(ctx.client, opts)
    if not d then return nil, derr end
    -- whatever happens (an error, Ctrl-C), the rows this process holds go back
    local ok, status, err = pcall(function()
        if args.status then return d:status() end
        d:add(rows)
        return d:run()
    end)
    finish(ok and type(status) == "table" and status or d:status())
    if ok and status ~= nil and args.export then
        local done, e
        ok, done, e = pcall(d.export, d, args.export)
        if not ok then status = done elseif done == nil and e ~= nil then status, err = nil, e end
    end
    d:close()
    if not ok then error(status, 0) end
    if status == nil then return nil, err end
    if args.export then io.stderr:write("hamsa: dial ", args.campaign, ": rows written to ", args.export, "\n") end
    return ctx.show(status)
end

return M
