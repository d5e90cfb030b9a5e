-- `hamsa dial` (lua/hamsa/cli/dial.lua over hamsa.dialer) run as a user
-- runs it: bin/hamsa in its own process against the mock, the calls counted
-- on the server side. Each row called exactly once, with its CSV columns as
-- params; a second run of a finished campaign sends nothing; --export,
-- --status, the three routes, re-dials, usage errors (exit 2, nothing sent),
-- a wrong key (exit 4, rows still pending), stdin, progress on stderr. The
-- API key must never show.
local helpers = require "spec.helpers"
local cjson = require "cjson"

local quote = helpers.quote
local slurp, write_file, tmpdb, rm_db = helpers.slurp, helpers.write_file, helpers.tmpdb, helpers.rm_db
local KEY = "dial-key-SECRET-456"
local V1 = "/v1/voice-agents"
local PHONE_CALL = V1 .. "/phone-number/call"
local TWILIO_CALL = V1 .. "/twilio/call"
local START_CALL = V1 .. "/call"
local FROM = "+97145551234"

-- The leads of most tests: a quoted field with a comma, Arabic text, an empty cell.
local LEADS = table.concat({
    "id,toNumber,name,city",
    'a1,+971500000101,"Layla, Al Amiri",دبي',
    'a2,+971500000102,سارة,"Abu Dhabi"',
    "a3,+971500000103,Omar,",
    "",
}, "\n")
local NUMBERS = { a1 = "+971500000101", a2 = "+971500000102", a3 = "+971500000103" }
local PARAMS = {
    ["+971500000101"] = { name = "Layla, Al Amiri", city = "دبي" },
    ["+971500000102"] = { name = "سارة", city = "Abu Dhabi" },
    ["+971500000103"] = { name = "Omar" },               -- an empty cell sends no param
}





local function decode(text)
    local ok, v = pcall(cjson.decode, text)
    assert(ok, "not JSON: " .. tostring(text))
    return v
end

-- The environment prefix of a run: the key (KEY unless opts.key), the mock's URL, this process's module paths.
local function env_of(server, opts)
    local parts = { "env -u HAMSA_API_KEY -u HAMSA_BASE_URL -u HAMSA_WEBHOOK_SECRET",
        "HAMSA_API_KEY=" .. quote(opts.key or KEY), "HAMSA_BASE_URL=" .. quote(server.url),
        "LUA_PATH=" .. quote(package.path), "LUA_CPATH=" .. quote(package.cpath) }
    return table.concat(parts, " ")
end

-- Runs `hamsa ARGS` (quoted shell words): stdout, stderr, exit status.
-- Asserts that neither the key nor opts.key shows on either stream.
local function run(server, args, opts)
    opts = opts or {}
    local err = os.tmpname()
    local cmd = ("cd %s && %s %s %s %s%s 2>%s; echo \"exit=$?\""):format(quote(helpers.root),
        env_of(server, opts), helpers.lua, quote(helpers.root .. "/bin/hamsa"), args,
        opts.stdin and (" < " .. quote(opts.stdin)) or " </dev/null", quote(err))
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    local stderr = slurp(err)
    local stdout, code = out:match("^(.*)exit=(%d+)\n$")
    assert(code, "no exit status in: " .. out)
    for _, key in ipairs({ KEY, opts.key }) do
        assert.falsy(stdout:find(key, 1, true), "the key is on stdout of hamsa " .. args .. ":\n" .. stdout)
        assert.falsy(stderr:find(key, 1, true), "the key is on stderr of hamsa " .. args .. ":\n" .. stderr)
    end
    return stdout, stderr, tonumber(code)
end

-- Reads a CSV file of hamsa's export (no quoted newlines): header names, rows as tables.
local function read_csv(text)
    local csv = require "hamsa.dialer.csv"
    local records, header = csv.rows(text)
    assert(records, header)
    return records, header
end

describe("hamsa dial", function()
    local server, client, agent, db
    local cleanup = {}
    helpers.mock_suite({ setup, teardown, before_each },
        { mock = { api_key = KEY, call_seconds = 0.3 }, client = {}, clean = "reset" },
        function(s, c) server, client = s, c end)
    before_each(function()
        agent = assert(client.agents:create({ agentName = "Dialer", greetingMessage = "Hi {{name}}" })).id
        db = tmpdb()
    end)
    after_each(function()
        rm_db(db)
        for _, path in ipairs(cleanup) do os.remove(path) end
        cleanup = {}
    end)

    local function file(text, suffix)
        local path = write_file(text, suffix)
        cleanup[#cleanup + 1] = path
        return path
    end

    local function hamsa(args, opts) return run(server, args, opts) end

    -- `hamsa dial FILE --campaign C --ledger DB --agent ID --from FROM ...` with `extra` words after.
    local function dial(path, extra, opts)
        return hamsa(("dial %s --campaign C --ledger %s --agent %s --from %s --rate 100 --concurrency 5 %s")
            :format(path == "-" and "-" or quote(path), quote(db), quote(agent), FROM, extra or ""), opts)
    end

    local function status_of(extra, opts)
        return hamsa(("dial --campaign C --ledger %s --status %s"):format(quote(db), extra or ""), opts)
    end

    -- The requests the mock got on `path`, with their decoded bodies.
    local function posts(path)
        local list = {}
        for _, r in ipairs(server:requests()) do
            if r.path == path then list[#list + 1] = decode(r.body) end
        end
        return list
    end

    local function calls_per_number()
        local counts, total = {}, 0
        for _, c in ipairs(server:calls()) do
            counts[c.toNumber] = (counts[c.toNumber] or 0) + 1
            total = total + 1
        end
        return counts, total
    end

    local function each_once()
        local counts, total = calls_per_number()
        for _, n in pairs(NUMBERS) do assert.equal(1, counts[n], n .. " called " .. tostring(counts[n]) .. " times") end
        assert.equal(3, total)
    end

    -- A usage error: exit 2, nothing on stdout, `want` (plain) on stderr, no call request at all.
    local function usage(out, err, code, want)
        assert.equal(2, code, err)
        assert.equal("", out)
        assert.matches(want, err, 1, true)
        assert.equal(0, #posts(PHONE_CALL))
        assert.equal(0, #server:calls())
    end

    ---------------------------------------------------------------------
    it("calls each row once with its CSV columns as params; a second run sends nothing", function()
        local leads = file(LEADS, ".csv")
        local out, err, code = dial(leads)
        assert.equal(0, code, err)
        local status = decode(out)
        assert.equal(3, status.total)
        assert.equal(3, status.final)
        assert.equal(3, status.COMPLETED)
        assert.equal(0, status.pending)
        each_once()
        local bodies = posts(PHONE_CALL)
        assert.equal(3, #bodies)
        for _, b in ipairs(bodies) do
            assert.same(PARAMS[b.toNumber], b.params)
            assert.equal(agent, b.voiceAgentId)
            assert.equal(FROM, b.phoneNumber)
        end
        -- a progress line on stderr; the key on neither stream (checked by run)
        assert.matches("hamsa: dial C: %d/3 final", err)

        -- the same command again: a finished campaign, nothing sent
        local out2, err2, code2 = dial(leads)
        assert.equal(0, code2, err2)
        assert.same(status.total, decode(out2).total)
        assert.equal(3, decode(out2).COMPLETED)
        assert.equal(3, #posts(PHONE_CALL))
        assert.equal(3, #server:calls())
    end)

    it("shows a progress line and a final line on stderr", function()
        local out, err, code = dial(file(LEADS, ".csv"))
        assert.equal(0, code, err)
        assert.equal(3, decode(out).final)
        local lines = {}
        for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
        assert.truthy(#lines >= 1, "no progress line on stderr")
        assert.matches("^hamsa: dial C: %d/3 final", lines[1])
        -- off a terminal the lines are throttled (one per 10 s), and the end writes the
        -- final counts once more, so even a short run ends with its summary
        assert.matches("3/3 final", lines[#lines], 1, true)
    end)

    it("--export writes a CSV of every row; --status prints the counts and sends nothing", function()
        local out_csv = file("", ".csv")
        os.remove(out_csv)
        local out, err, code = dial(file(LEADS, ".csv"), "--export " .. quote(out_csv))
        assert.equal(0, code, err)
        assert.equal(3, decode(out).COMPLETED)
        assert.matches("rows written to " .. out_csv, err, 1, true)
        local text = slurp(out_csv, true)
        local header_line = text:match("^([^\n]*)\n")
        assert.truthy(header_line and header_line:find("state", 1, true), "no header in:\n" .. text)
        local records, header = read_csv(text)
        assert.equal(3, #records)
        local has = {}
        for _, h in ipairs(header) do has[h] = true end
        assert.truthy(has.id and has.state and has.jobId, "header: " .. table.concat(header, ","))
        local jobs = {}                              -- the mock's call ids, to their numbers
        for _, c in ipairs(server:calls()) do jobs[c.id] = c.toNumber end
        for _, r in ipairs(records) do
            assert.equal("COMPLETED", r.state)
            assert.equal(NUMBERS[r.id], r.toNumber)
            assert.equal("1", r.attempt)
            assert.equal(r.toNumber, jobs[r.jobId], "jobId of " .. r.id .. " is not its call on the mock")
        end

        local before = #server:requests()
        local sout, serr, scode = status_of()
        assert.equal(0, scode, serr)
        local s = decode(sout)
        assert.equal(3, s.total)
        assert.equal(3, s.COMPLETED)
        assert.equal(before, #server:requests())
    end)

    it("--twilio calls the Twilio route with twilioPhoneNumber", function()
        local out, err, code = dial(file(LEADS, ".csv"), "--twilio")
        assert.equal(0, code, err)
        assert.equal(3, decode(out).final)
        local bodies = posts(TWILIO_CALL)
        assert.equal(3, #bodies)
        for _, b in ipairs(bodies) do
            assert.equal(FROM, b.twilioPhoneNumber)
            assert.is_nil(b.phoneNumber)
            assert.same(PARAMS[b.toNumber], b.params)
        end
        assert.equal(0, #posts(PHONE_CALL))
        each_once()
    end)

    it("--hamsa-number calls /v1/voice-agents/call", function()
        local out, err, code = hamsa(("dial %s --campaign C --ledger %s --agent %s --hamsa-number --rate 100")
            :format(quote(file(LEADS, ".csv")), quote(db), quote(agent)))
        assert.equal(0, code, err)
        assert.equal(3, decode(out).final)
        local bodies = posts(START_CALL)
        assert.equal(3, #bodies)
        for _, b in ipairs(bodies) do assert.same(PARAMS[b.toNumber], b.params) end
        assert.equal(0, #posts(PHONE_CALL))
        each_once()
    end)

    it("--max-attempts 2 dials an unanswered number twice, then it is final NO_ANSWER", function()
        local leads = file("id,toNumber\nna,+971500004001\n", ".csv")
        local out, err, code = dial(leads, "--max-attempts 2 --retry-after 0.2")
        assert.equal(0, code, err)
        local s = decode(out)
        assert.equal(1, s.NO_ANSWER)
        assert.equal(1, s.final)
        local counts, total = calls_per_number()
        assert.equal(2, counts["+971500004001"])
        assert.equal(2, total)
    end)

    it("--window open now is accepted and the run completes", function()
        local out, err, code = dial(file(LEADS, ".csv"), "--window " .. quote("daily 00:00-24:00 UTC"))
        assert.equal(0, code, err)
        assert.equal(3, decode(out).COMPLETED)
        each_once()
    end)

    it("'-' reads the CSV from stdin", function()
        local out, err, code = dial("-", nil, { stdin = file(LEADS, ".csv") })
        assert.equal(0, code, err)
        assert.equal(3, decode(out).COMPLETED)
        each_once()
        for _, b in ipairs(posts(PHONE_CALL)) do assert.same(PARAMS[b.toNumber], b.params) end
    end)

    ---------------------------------------------------------------------
    describe("usage errors exit 2 and send nothing", function()
        it("a CSV without a toNumber column", function()
            local out, err, code = dial(file("id,phone,name\na1,+971500000101,Layla\n", ".csv"))
            usage(out, err, code, 'no column "toNumber"')
        end)

        it("a bad toNumber in a row names the row", function()
            local leads = file("id,toNumber,name\nok1,+971500000101,A\nbad7,0501234567,B\n", ".csv")
            local out, err, code = dial(leads)
            -- the CLI checks each number before the dialer sees it, naming the file's line
            usage(out, err, code, leads .. ": line 3: toNumber 0501234567 is not an E.164 number")
        end)

        it("a malformed CSV (an unterminated quote)", function()
            local leads = file('id,toNumber,name\na1,+971500000101,"Layla\n', ".csv")
            local out, err, code = dial(leads)
            usage(out, err, code, leads .. ": line 2: a quoted field is not closed")
        end)

        it("a bad --window", function()
            local out, err, code = dial(file(LEADS, ".csv"), "--window " .. quote("someday 09:00-18:00 UTC"))
            usage(out, err, code, "--window someday 09:00-18:00 UTC: window: unknown days 'someday'")
        end)

        it("--agent and --agent-file together", function()
            local agent_file = file('{"agentName":"X","greetingMessage":"Hi"}', ".json")
            local out, err, code = dial(file(LEADS, ".csv"), "--agent-file " .. quote(agent_file))
            usage(out, err, code, "--agent")
        end)

        it("no --campaign", function()
            local out, err, code = hamsa(("dial %s --ledger %s --agent %s --from %s")
                :format(quote(file(LEADS, ".csv")), quote(db), quote(agent), FROM))
            usage(out, err, code, "--campaign")
        end)
    end)

    it("a wrong key exits 4 and leaves the rows pending", function()
        local out, err, code = dial(file(LEADS, ".csv"), nil, { key = "wrong-key-XYZ-789" })
        assert.equal(4, code, err)
        assert.equal("", out)
        assert.equal(0, #server:calls())
        local sout, serr, scode = status_of()
        assert.equal(0, scode, serr)
        local s = decode(sout)
        assert.equal(3, s.total)
        assert.equal(3, s.pending)
        assert.equal(0, s.final)
    end)
end)
