-- The `hamsa` command line (bin/hamsa, hamsa.cli) run as a user runs it,
-- in its own process against the mock: exit statuses, which stream gets
-- what, output formats, dry runs, every subcommand of the route table,
-- `call --wait`, `listen` and `mock`. The API key must never show.
local helpers = require "spec.helpers"
local cjson = require "cjson"
local socket = require "socket"
local routes = require "hamsa.routes"

local quote = helpers.quote
local slurp, write_file = helpers.slurp, helpers.write_file
local KEY = "cli-key-SECRET-123"
local V1 = "/v1/voice-agents"



local function count_lines(text)
    local n = 0
    for _ in text:gmatch("[^\n]+") do n = n + 1 end
    return n
end

-- The environment prefix of a run: key (KEY unless opts.key, false = none),
-- base URL, module paths of this process.
local function env_of(server, opts)
    local parts = { "env -u HAMSA_API_KEY -u HAMSA_BASE_URL -u HAMSA_WEBHOOK_SECRET" }
    local key = opts.key
    if key == nil then key = KEY end
    if key then parts[#parts + 1] = "HAMSA_API_KEY=" .. quote(key) end
    local base = opts.base
    if base == nil and server then base = server.url end
    if base then parts[#parts + 1] = "HAMSA_BASE_URL=" .. quote(base) end
    parts[#parts + 1] = "LUA_PATH=" .. quote(package.path)
    parts[#parts + 1] = "LUA_CPATH=" .. quote(package.cpath)
    if opts.env then parts[#parts + 1] = opts.env end
    return table.concat(parts, " ")
end

-- The shell command that runs bin/hamsa with `args` (already quoted shell words).
local function command(server, args, opts)
    return ("%s %s %s %s"):format(env_of(server, opts or {}), helpers.lua,
        quote(helpers.root .. "/bin/hamsa"), args)
end

-- Runs `hamsa ARGS`: stdout, stderr, exit status. Asserts that the key shows on neither stream.
local function run(server, args, opts)
    opts = opts or {}
    local err = os.tmpname()
    local cmd = ("cd %s && %s%s 2>%s; echo \"exit=$?\""):format(quote(helpers.root),
        command(server, args, opts), opts.stdin and (" < " .. quote(opts.stdin)) or "", quote(err))
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    local stderr = slurp(err)
    local stdout, code = out:match("^(.*)exit=(%d+)\n$")
    assert(code, "no exit status in: " .. out)
    assert.falsy(stdout:find(KEY, 1, true), "the key is on stdout of hamsa " .. args .. ":\n" .. stdout)
    assert.falsy(stderr:find(KEY, 1, true), "the key is on stderr of hamsa " .. args .. ":\n" .. stderr)
    return stdout, stderr, tonumber(code)
end

-- Runs `hamsa ARGS` on a pseudo-terminal (util-linux script): stdout and stderr together.
local function run_tty(server, args, opts)
    local inner = "cd " .. quote(helpers.root) .. " && " .. command(server, args, opts) .. "; echo \"exit=$?\""
    local p = io.popen("script -qec " .. quote(inner) .. " /dev/null 2>&1 </dev/null")
    local out = p:read("*a")
    p:close()
    assert.falsy(out:find(KEY, 1, true), "the key is on the terminal of hamsa " .. args)
    local code = out:match("exit=(%d+)%s*$")
    return out, tonumber(code)
end

local function decode(text)
    local ok, v = pcall(cjson.decode, text)
    assert(ok, "not JSON: " .. tostring(text))
    return v
end

describe("hamsa CLI", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each },
        { mock = { api_key = KEY, call_seconds = 1 }, client = {}, clean = "reset" },
        function(s, c) server, client = s, c end)

    local function hamsa(args, opts) return run(server, args, opts) end

    local function new_agent(name)
        return assert(client.agents:create({ agentName = name or "Sara", greetingMessage = "Hi {{name}}" })).id
    end

    ---------------------------------------------------------------------
    describe("help and usage", function()
        it("--help exits 0 and tells the exit statuses and HAMSA_API_KEY", function()
            local out, err, code = hamsa("--help")
            assert.equal(0, code, err)
            assert.matches("Exit status", out, 1, true)
            assert.matches("HAMSA_API_KEY", out, 1, true)
            assert.matches("agents", out, 1, true)
        end)

        it("agents create --help tells --file and --set", function()
            local out, _, code = hamsa("agents create --help")
            assert.equal(0, code)
            assert.matches("--file", out, 1, true)
            assert.matches("--set", out, 1, true)
        end)

        it("a typo exits 2 with a suggestion on stderr", function()
            local out, err, code = hamsa("agnts list")
            assert.equal(2, code)
            assert.equal("", out)
            assert.matches("Did you mean 'agents'", err, 1, true)
        end)

        it("an unknown option exits 2", function()
            local out, err, code = hamsa("agents list --bogus")
            assert.equal(2, code)
            assert.equal("", out)
            assert.matches("--bogus", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("a bad value of a flag with choices exits 2", function()
            local _, err, code = hamsa("-o yaml agents list")
            assert.equal(2, code)
            assert.matches("must be one of 'json', 'table'", err, 1, true)
        end)

        it("completion bash prints a bash completion script naming the commands", function()
            local out, _, code = hamsa("completion bash")
            assert.equal(0, code)
            assert.matches("complete", out, 1, true)
            assert.matches("agents", out, 1, true)
            assert.matches("conversations", out, 1, true)
        end)

        -- --api-key is refused before parsing, so no completion script offers it
        it("completion bash does not offer the refused --api-key", function()
            local out, _, code = hamsa("completion bash")
            assert.equal(0, code)
            assert.matches("--api-key-file", out, 1, true)
            assert.falsy(out:gsub("%-%-api%-key%-file", ""):find("--api-key", 1, true),
                "the bash completion offers --api-key")
        end)

        it("--version prints the library's version", function()
            local out, _, code = hamsa("--version")
            assert.equal(0, code)
            assert.equal("hamsa " .. require("hamsa")._VERSION .. "\n", out)
        end)
    end)

    ---------------------------------------------------------------------
    describe("the API key", function()
        it("--api-key is refused with exit 2, naming HAMSA_API_KEY, and nothing is sent", function()
            local out, err, code = hamsa("--api-key " .. KEY .. " agents list", { key = false })
            assert.equal(2, code)
            assert.equal("", out)
            assert.matches("HAMSA_API_KEY", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("--api-key is refused in every form and place, for every command, before the parser reads it", function()
            for _, args in ipairs({ "--api-key=" .. KEY .. " agents list", "agents list --api-key " .. KEY,
                                    "--api-key " .. KEY, "mock --api-key " .. KEY, "listen --api-key " .. KEY }) do
                local out, err, code = hamsa(args, { key = false })
                assert.equal(2, code, args)
                assert.equal("", out)
                assert.matches("--api-key is not accepted", err, 1, true)
                assert.matches("HAMSA_API_KEY", err, 1, true)
            end
            -- after "--" it is a value, not an option: here the id of an agent
            local _, err = hamsa("agents get -- --api-key")
            assert.matches("not_found", err, 1, true)
            assert.equal(1, #server:requests())
        end)

        it("a key with a control character says so (exit 8), rather than \"no key\"", function()
            local _, err, code = hamsa("agents list", { key = "abc\001def" })
            assert.equal(8, code)
            assert.matches("HAMSA_API_KEY contains control characters", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("no key at all exits 8 (config) and sends nothing", function()
            local out, err, code = hamsa("agents list", { key = false })
            assert.equal(8, code)
            assert.equal("", out)
            assert.matches("config", err, 1, true)
            assert.matches("HAMSA_API_KEY", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("is read from the first line of --api-key-file", function()
            local file = write_file(KEY .. "\nsecond line\n")
            local out, err, code = hamsa("--api-key-file " .. quote(file) .. " agents list", { key = false })
            os.remove(file)
            assert.equal(0, code, err)
            assert.is_table(decode(out).voiceAgents)
            local log = server:requests()
            assert.equal(1, #log)
            assert.equal("Token " .. KEY, log[1].headers.authorization)
        end)

        it("an unreadable --api-key-file exits 2", function()
            local _, err, code = hamsa("--api-key-file /nonexistent/key agents list", { key = false })
            assert.equal(2, code)
            assert.matches("/nonexistent/key", err, 1, true)
        end)

        it("a wrong key exits 4 (auth) without showing either key", function()
            local out, err, code = hamsa("agents list", { key = "wrong-key-XYZ" })
            assert.equal(4, code)
            assert.equal("", out)
            assert.matches("auth", err, 1, true)
            assert.falsy(err:find("wrong-key-XYZ", 1, true), err)
        end)

        it("a dry run shows Token [REDACTED]", function()
            local out, err, code = hamsa("--dry-run agents list")
            assert.equal(0, code, err)
            local p = decode(out)
            assert.equal("Token [REDACTED]", p.headers.Authorization or p.headers.authorization)
        end)
    end)

    ---------------------------------------------------------------------
    describe("the base URL", function()
        it("comes from --base-url over HAMSA_BASE_URL", function()
            local out, err, code = hamsa("--base-url " .. quote(server.url) .. " agents list",
                { base = "http://127.0.0.1:" .. helpers.free_port() })
            assert.equal(0, code, err)
            assert.is_table(decode(out).voiceAgents)
            assert.equal(1, #server:requests())
        end)

        it("comes from HAMSA_BASE_URL", function()
            local base = "http://127.0.0.1:" .. helpers.free_port()
            local out, err, code = hamsa("--dry-run agents get abc", { base = base })
            assert.equal(0, code, err)
            assert.equal(base .. V1 .. "/abc", decode(out).url)
        end)

        it("a closed port exits 7 (network)", function()
            local out, err, code = hamsa("--max-retries 0 agents list",
                { base = "http://127.0.0.1:" .. helpers.free_port() })
            assert.equal(7, code)
            assert.equal("", out)
            assert.matches("network", err, 1, true)
        end)
    end)

    ---------------------------------------------------------------------
    describe("exit statuses", function()
        it("3 for a client-side invalid body, naming the field, sending nothing", function()
            local out, err, code = hamsa("agents create --set agentName=Sara --set silenceThreshold=0")
            assert.equal(3, code)
            assert.equal("", out)
            assert.matches("hamsa: invalid: silenceThreshold", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("3 for a non-string poke message, with its index", function()
            local out, err, code = hamsa("agents create --set agentName=Sara --set 'pokeMessages[1]=5'")
            assert.equal(3, code)
            assert.equal("", out)
            assert.matches("hamsa: invalid: pokeMessages[1] must be a string", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("3 for a --file that is not JSON", function()
            local file = write_file("{ not json")
            local out, err, code = hamsa("agents create --file " .. quote(file))
            os.remove(file)
            assert.equal(3, code)
            assert.equal("", out)
            assert.matches("invalid", err, 1, true)
            assert.matches("--file", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("2 for an unreadable --file", function()
            local out, err, code = hamsa("agents create --file /nonexistent/agent.json")
            assert.equal(2, code)
            assert.equal("", out)
            assert.matches("/nonexistent/agent.json", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("2 for a malformed --set", function()
            local _, err, code = hamsa("agents create --set agentName")
            assert.equal(2, code)
            assert.matches("KEY=VALUE", err, 1, true)
        end)

        it("5 for an unknown agent", function()
            local out, err, code = hamsa("agents get nope")
            assert.equal(5, code)
            assert.equal("", out)
            assert.matches("not_found", err, 1, true)
        end)

        it("6 for a 429 with a long Retry-After", function()
            server:fault({ path = V1, status = 429, headers = { ["Retry-After"] = "3600" } })
            local out, err, code = hamsa("agents list")
            assert.equal(6, code)
            assert.equal("", out)
            assert.matches("rate_limited", err, 1, true)
        end)

        it("7 for a GET that keeps failing with 500", function()
            server:fault({ { path = V1, status = 500 }, { path = V1, status = 500 }, { path = V1, status = 500 },
                           { path = V1, status = 500 } })
            local out, err, code = hamsa("--max-retries 1 agents list")
            assert.equal(7, code)
            assert.equal("", out)
            assert.matches("server", err, 1, true)
            assert.equal(2, #server:requests())
        end)

        it("8 for a 400 from the API", function()
            -- unchecked, the mock answers 400 for an agent without a name
            local out, err, code = hamsa("--no-validate agents create --set silenceThreshold=800")
            assert.equal(8, code, err)
            assert.equal("", out)
            assert.matches("api", err, 1, true)
            assert.equal(1, #server:requests())
        end)
    end)

    ---------------------------------------------------------------------
    describe("body input", function()
        it("--set types values, builds dotted paths and array items; --set-str keeps text", function()
            local _, err, code = hamsa("agents create --set-str agentName=007 --set silenceThreshold=800 "
                .. "--set interrupt=true --set tools.smartCallEnd=true --set 'pokeMessages[1]=Hello?' "
                .. "--set 'pokeMessages[2]=hi' --set greetingMessage=Hi")
            assert.equal(0, code, err)
            local log = server:requests()
            assert.equal(1, #log)
            local raw = log[1].body
            local body = decode(raw)
            assert.equal("007", body.agentName)
            assert.equal(800, body.silenceThreshold)
            assert.truthy(raw:find('"silenceThreshold":800', 1, true), raw)
            assert.is_true(body.interrupt)
            assert.same({ smartCallEnd = true }, body.tools)
            assert.same({ "Hello?", "hi" }, body.pokeMessages)
            assert.equal("Hi", body.greetingMessage)
        end)

        it("--file reads JSON and --set overrides its fields", function()
            local file = write_file(cjson.encode({ agentName = "FromFile", lang = "ar", silenceThreshold = 700 }))
            local out, err, code = hamsa("agents create --file " .. quote(file) .. " --set silenceThreshold=900")
            os.remove(file)
            assert.equal(0, code, err)
            local body = decode(server:requests()[1].body)
            assert.same({ agentName = "FromFile", lang = "ar", silenceThreshold = 900 }, body)
            assert.equal("FromFile", decode(out).agentName)
        end)

        it("--file - reads stdin", function()
            local file = write_file('{"agentName":"Stdin"}')
            local out, err, code = hamsa("agents create --file -", { stdin = file })
            os.remove(file)
            assert.equal(0, code, err)
            assert.equal("Stdin", decode(server:requests()[1].body).agentName)
            assert.equal("Stdin", decode(out).agentName)
        end)

        it("agents clone ID --name N sends agentName N", function()
            local id = new_agent()
            server:clear()
            local out, err, code = hamsa("agents clone " .. id .. " --name Copy")
            assert.equal(0, code, err)
            local req = server:requests()[1]
            assert.equal("POST", req.method)
            assert.equal(V1 .. "/clone", req.path)
            assert.equal("voiceAgentId=" .. id, req.query)
            assert.same({ agentName = "Copy" }, decode(req.body))
            assert.equal("Copy", decode(out).agentName)
        end)

        it("--query repeated becomes a repeated parameter", function()
            local _, err, code = hamsa("conversations list -q status=FAILED -q status=NO_ANSWER --query perPage=5")
            assert.equal(0, code, err)
            local q = server:requests()[1].query
            assert.matches("status=FAILED&status=NO_ANSWER", q, 1, true)
            assert.matches("perPage=5", q, 1, true)
        end)

        it("conversations list --status --agent --since --until go out as the query", function()
            local before = os.time()
            local till = (before + 3600) * 1000
            local _, err, code = hamsa("conversations list --status FAILED --status NO_ANSWER --agent ag-1 "
                .. "--since 2h --until " .. till)
            local after = os.time()
            assert.equal(0, code, err)
            local req = server:requests()[1]
            assert.equal(V1 .. "/conversations/minimal-list", req.path)
            local q = req.query
            assert.matches("status=FAILED&status=NO_ANSWER", q, 1, true)
            assert.matches("voiceAgentId=ag-1", q, 1, true)
            assert.matches("endTime=" .. till, q, 1, true)
            local start = tonumber(q:match("startTime=(%d+)&") or q:match("startTime=(%d+)$"))
            assert.is_number(start, q)
            assert.truthy(start >= (before - 7200) * 1000 and start <= (after - 7200) * 1000, q)
            assert.falsy(q:find("startTime=%d+%.", 1), q)
        end)

        it("--since and --until take UTC dates, exactly", function()
            local _, err, code = hamsa("conversations list --since 2024-02-29T23:59:59 --until 2026-12-01T18:00Z")
            assert.equal(0, code, err)
            local q = server:requests()[1].query
            assert.matches("startTime=1709251199000", q, 1, true)
            assert.matches("endTime=1796148000000", q, 1, true)
        end)

        -- a day past the end of its month is refused, not rolled into the next month
        it("a date that does not exist (2026-02-31) exits 2", function()
            local _, err, code = hamsa("conversations list --since 2026-02-31")
            assert.equal(2, code, err)
            assert.matches("--since", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("--set of an array item past the end names the gap (exit 2), sends nothing", function()
            local _, err, code = hamsa("agents update some-id --set 'pokeMessages[2]=hi'")
            assert.equal(2, code)
            assert.matches("pokeMessages[2]: item 2 of an array of 0", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("a bad --since exits 2", function()
            local _, err, code = hamsa("conversations list --since yesterday")
            assert.equal(2, code)
            assert.matches("--since", err, 1, true)
            assert.equal(0, #server:requests())
        end)
    end)

    ---------------------------------------------------------------------
    describe("output", function()
        it("is one JSON object when stdout is not a terminal", function()
            local id = new_agent("Json")
            local out, err, code = hamsa("agents get " .. id)
            assert.equal(0, code, err)
            assert.equal(1, count_lines(out))
            assert.equal(id, decode(out).id)
            assert.equal("", err)
        end)

        it("-o table gives an aligned table with a count line for a list", function()
            for i = 1, 3 do new_agent("Agent" .. i) end
            local out, err, code = hamsa("-o table agents list")
            assert.equal(0, code, err)
            local lines = {}
            for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
            assert.matches("^id%s+agentName", lines[1])
            assert.equal(5, #lines, out)
            assert.matches("^%(3 shown of 3%)$", lines[5])
            -- aligned: the agentName column starts at the same place on each row
            local col = lines[1]:find("agentName", 1, true)
            for i = 2, 4 do
                assert.equal("Agent", lines[i]:sub(col, col + 4), out)
            end
        end)

        it("--output table shows one record as field/value lines", function()
            local id = new_agent("Rec")
            local out, _, code = hamsa("--output table agents get " .. id)
            assert.equal(0, code)
            assert.matches("^id%s+" .. id:gsub("%-", "%%-") .. "\n", out)
            assert.matches("\nagentName%s+Rec\n", out)
        end)

        it("--all writes one JSON line per item across pages", function()
            server:seed({ agents = 120 })
            local out, err, code = hamsa("agents list --all")
            assert.equal(0, code, err)
            local ids, n = {}, 0
            for line in out:gmatch("[^\n]+") do
                local item = decode(line)
                assert.is_string(item.id)
                assert.is_nil(ids[item.id], "id twice: " .. item.id)
                ids[item.id] = true
                n = n + 1
            end
            assert.equal(120, n)
            local pages = #server:requests()
            assert.truthy(pages >= 2, "pages: " .. pages)
        end)

        -- every paged list, from the route table: --all streams every item of every page
        local SEEDS = { agents = "agents", conversations = "conversations", campaigns = "campaigns",
                        knowledge_base = "knowledge_base", phone_numbers = "phone_numbers" }
        local PAGE = { per_page = "perPage=7" }
        local CMD = { phone_numbers = "numbers", knowledge_base = "kb", ["v2.agents"] = "v2 agents" }
        for _, row in ipairs(routes) do
            if row.paging then
                local key = row.resource .. "." .. row.name
                it("--all on " .. key .. " streams every item of every page (" .. row.paging .. ")", function()
                    local total
                    if SEEDS[row.resource] then
                        local seeded = server:seed({ [SEEDS[row.resource]] = 25 })
                        total = seeded.totals[SEEDS[row.resource]]
                    else
                        for i = 1, 5 do assert(client.v2.agents:create({ name = "V" .. i })) end
                        total = 5
                    end
                    server:clear()
                    local small = PAGE[row.paging] or (row.resource == "v2.agents" and "take=2" or "take=7")
                    local out, err, code = hamsa(("%s %s --all -q %s"):format(CMD[row.resource] or row.resource,
                        row.name, small))
                    assert.equal(0, code, err)
                    local ids, n = {}, 0
                    for line in out:gmatch("[^\n]+") do
                        local item = decode(line)
                        assert.is_string(item.id, line)
                        assert.is_nil(ids[item.id], "id twice: " .. item.id)
                        ids[item.id] = true
                        n = n + 1
                    end
                    assert.equal(total, n)
                    assert.truthy(#server:requests() >= 3, "pages: " .. #server:requests())
                end)
            end
        end

        it("--all stops with exit 6 and prints nothing when the first page is rate limited", function()
            server:seed({ agents = 12 })
            server:fault({ path = V1, status = 429, headers = { ["Retry-After"] = "3600" } })
            local out, err, code = hamsa("agents list --all -q take=5")
            assert.equal(6, code)
            assert.equal("", out)
            assert.matches("rate_limited", err, 1, true)
        end)

        it("-o table --all shows every item and an 'in all' count", function()
            server:seed({ agents = 12 })
            local out, err, code = hamsa("-o table agents list --all -q take=5")
            assert.equal(0, code, err)
            assert.equal(1 + 12 + 1, count_lines(out), out)
            assert.matches("^id%s+agentName", out)
            assert.matches("\n%(12 in all%)\n$", out)
        end)

        it("-o json on a terminal gives JSON", function()
            new_agent("TtyJson")
            local out, code = run_tty(server, "-o json agents list")
            assert.equal(0, code, out)
            assert.matches("^%s*{", out)
            assert.equal("TtyJson", decode(out:match("^%s*(%b{})")).voiceAgents[1].agentName)
        end)

        it("on a terminal the default is a table", function()
            new_agent("Tty")
            local out, code = run_tty(server, "agents list")
            assert.equal(0, code, out)
            assert.falsy(out:match("^%s*{"), out)
            assert.matches("id%s+agentName", out)
            assert.matches("(1 shown of 1)", out, 1, true)
        end)
    end)

    ---------------------------------------------------------------------
    describe("--dry-run", function()
        it("of a POST prints the request, key cut, and sends nothing", function()
            local out, err, code = hamsa("agents create --dry-run --set agentName=Dry --set silenceThreshold=800")
            assert.equal(0, code, err)
            local p = decode(out)
            assert.is_true(p.dry_run)
            assert.equal("POST", p.method)
            assert.equal(server.url .. V1, p.url)
            assert.equal("Token [REDACTED]", p.headers.Authorization)
            assert.same({ agentName = "Dry", silenceThreshold = 800 }, p.body)
            assert.equal(0, #server:requests())
        end)

        it("of a call prints the request and sends nothing", function()
            local out, err, code = hamsa("call --to +971501234567 --from +12025550123 --agent ag-1 --dry-run")
            assert.equal(0, code, err)
            local p = decode(out)
            assert.equal("POST", p.method)
            assert.equal(server.url .. V1 .. "/phone-number/call", p.url)
            assert.equal("+12025550123", p.body.phoneNumber)
            assert.equal(0, #server:requests())
        end)

        it("of a GET prints the request and sends nothing", function()
            local out, err, code = hamsa("--dry-run agents list -q take=5")
            assert.equal(0, code, err)
            local p = decode(out)
            assert.equal("GET", p.method)
            assert.matches("take=5", p.url, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("with -o table prints the request as text", function()
            local out, err, code = hamsa("-o table --dry-run agents create --set agentName=Dry")
            assert.equal(0, code, err)
            assert.equal("POST " .. server.url .. V1 .. "\n", out:match("^[^\n]*\n"))
            assert.matches("Token [REDACTED]", out, 1, true)
            assert.matches('"agentName": "Dry"', out, 1, true)
            assert.matches("nothing was sent", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("of an invalid body still exits 3", function()
            local out, err, code = hamsa("--dry-run agents create --set agentName=Sara --set silenceThreshold=0")
            assert.equal(3, code)
            assert.equal("", out)
            assert.matches("silenceThreshold", err, 1, true)
            assert.equal(0, #server:requests())
        end)
    end)

    ---------------------------------------------------------------------
    describe("every route's subcommand", function()
        local NAMES = { phone_numbers = "numbers", knowledge_base = "kb", ["v2.agents"] = "v2 agents" }
        local TWILIO = { type = "TWILIO", phoneNumber = "+12025550123", label = "Support",
                         twilioAccountSid = "AC01", twilioAuthToken = "tok" }

        local function new_number() assert(client.phone_numbers:create(TWILIO)) end
        local function new_call()
            local data = assert(client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+12025550123",
                voiceAgentId = new_agent() }))
            return data.jobId or data.id
        end
        local function campaign_body(agent)
            return { name = "Spring", phoneNumber = "+12025550123", voiceAgentId = agent,
                recipients = { { phoneNumber = "+971501234567", name = "Layla" } },
                sendType = "SCHEDULED", timeRange = { days = {}, startCallingTime = "09:00", endCallingTime = "17:00" },
                reservedConcurrency = 1, scheduledDate = "2026-12-03T09:00:00Z", scheduledTimezone = "Asia/Dubai" }
        end
        local function new_campaign()
            new_number()
            return assert(client.campaigns:create(campaign_body(new_agent()))).id
        end
        local ITEM = { itemName = "Prices", itemUrl = "https://example.com/prices", type = "URL",
                       itemUrls = { "https://example.com/a", "https://example.com/b" } }
        local function new_item()
            assert(client.knowledge_base:create({ items = { ITEM } }))
            return assert(client.knowledge_base:list({ search = "Prices" })).items[1].id
        end
        local function file_arg(t) return "--file " .. quote(write_file(cjson.encode(t))) end

        -- key -> function returning: the ids (in path order), the rest of the
        -- command line, and the body fields (or query) expected on the wire.
        local CASES = {
            ["agents.create"] = function() return {}, "--set agentName=Sara --set silenceThreshold=800",
                { agentName = "Sara", silenceThreshold = 800 } end,
            ["agents.clone"] = function() return { new_agent() }, "--name Copy", { agentName = "Copy" } end,
            ["agents.update"] = function() return { new_agent() }, "--set-str agentName=007", { agentName = "007" } end,
            ["agents.get"] = function() return { new_agent() }, "" end,
            ["agents.list"] = function() return {}, "-q take=5", nil, "take=5" end,
            ["v2.agents.create"] = function() return {}, "--set name=Lina", { name = "Lina" } end,
            ["v2.agents.get"] = function() return { assert(client.v2.agents:create({ name = "L" })).id }, "" end,
            ["v2.agents.update"] = function()
                return { assert(client.v2.agents:create({ name = "L" })).id }, "--set name=x", { name = "x" } end,
            ["v2.agents.list"] = function() return {}, "-q take=3", nil, "take=3" end,
            ["calls.phone_number"] = function()
                local a = new_agent()
                return {}, "--set-str toNumber=+971501234567 --set-str phoneNumber=+12025550123 --set-str voiceAgentId="
                    .. a, { toNumber = "+971501234567", phoneNumber = "+12025550123", voiceAgentId = a } end,
            ["calls.twilio"] = function()
                local a = new_agent()
                return {}, "--set-str toNumber=+971501234567 --set-str twilioPhoneNumber=+12025550123 "
                    .. "--set-str voiceAgentId=" .. a,
                    { toNumber = "+971501234567", twilioPhoneNumber = "+12025550123", voiceAgentId = a } end,
            ["calls.start"] = function()
                local a = new_agent()
                return {}, "--set-str toNumber=+971501234567 --set-str voiceAgentId=" .. a,
                    { toNumber = "+971501234567", voiceAgentId = a } end,
            ["conversations.get"] = function() return { new_call() }, "" end,
            ["conversations.list"] = function() return {}, "--status COMPLETED", nil, "status=COMPLETED" end,
            ["conversations.terminate"] = function() return { new_call() }, "" end,
            ["phone_numbers.create"] = function() return {}, file_arg(TWILIO), TWILIO end,
            ["phone_numbers.list"] = function() new_number(); return {}, "-q provider=TWILIO", nil, "provider=TWILIO" end,
            ["phone_numbers.assign"] = function()
                new_number()
                local a = new_agent()
                return {}, "--set-str voiceAgentId=" .. a .. " --set-str phoneNumber=+12025550123",
                    { voiceAgentId = a, phoneNumber = "+12025550123" } end,
            ["phone_numbers.unassign"] = function()
                new_number()
                assert(client.phone_numbers:assign({ voiceAgentId = new_agent(), phoneNumber = "+12025550123" }))
                return {}, "--set-str phoneNumber=+12025550123", { phoneNumber = "+12025550123" } end,
            ["campaigns.create"] = function()
                new_number()
                local body = campaign_body(new_agent())
                return {}, file_arg(body), { name = "Spring", voiceAgentId = body.voiceAgentId } end,
            ["campaigns.list"] = function() new_campaign(); return {}, "-q search=Spr", nil, "search=Spr" end,
            ["campaigns.get"] = function() return { new_campaign() }, "" end,
            ["campaigns.update"] = function() return { new_campaign() }, "--set name=Autumn", { name = "Autumn" } end,
            ["knowledge_base.create"] = function() return {}, file_arg({ items = { ITEM } }), { items = { ITEM } } end,
            ["knowledge_base.list"] = function() new_item(); return {}, "-q search=Prices", nil, "search=Prices" end,
            ["knowledge_base.get"] = function() return { new_item() }, "" end,
            ["knowledge_base.update"] = function() return { new_item() }, "--set itemName=FAQ", { itemName = "FAQ" } end,
            ["knowledge_base.remove_url"] = function()
                return { new_item() }, "https://example.com/a", { url = "https://example.com/a" } end,
        }

        for _, row in ipairs(routes) do
            local key = row.resource .. "." .. row.name
            it(key .. ": " .. row.method .. " " .. row.path, function()
                local case = CASES[key]
                assert(case, "no CLI case for the route " .. key .. " (a new row? add its case here)")
                local ids, rest, body, query = case()
                server:clear()
                local words = { NAMES[row.resource] or row.resource:gsub("_", "-"), (row.name:gsub("_", "-")) }
                for _, id in ipairs(ids) do words[#words + 1] = quote(id) end
                words[#words + 1] = rest
                local out, err, code = hamsa(table.concat(words, " "))
                assert.equal(0, code, err)
                assert.equal("", err)
                assert.is_not_nil(decode(out))
                local log = server:requests()
                assert.equal(1, #log, "requests: " .. #log)
                local req = log[1]
                local n = 0
                local want = row.path:gsub("{%w+}", function() n = n + 1; return ids[n] end)
                local want_path, want_query = want:match("^([^?]*)%??(.*)$")
                assert.equal(row.method, req.method)
                assert.equal(want_path, req.path)
                if want_query ~= "" then assert.equal(want_query, req.query) end
                if query then assert.matches(query, req.query, 1, true) end
                if body then
                    local sent = decode(req.body)
                    for k, v in pairs(body) do assert.same(v, sent[k], k) end
                elseif not row.body and not row.body_args then
                    assert.equal("", req.body or "")
                end
            end)
        end

        it("the aliases phone-numbers and knowledge-base work", function()
            local _, err, code = hamsa("phone-numbers list")
            assert.equal(0, code, err)
            _, err, code = hamsa("knowledge-base list")
            assert.equal(0, code, err)
            local log = server:requests()
            assert.equal(2, #log)
            assert.equal(V1 .. "/phone-number/list", log[1].path)
            assert.equal(V1 .. "/knowledge-base/list", log[2].path)
        end)

        it("campaigns wait and kb wait show the final record", function()
            local id = new_campaign()
            local out, err, code = hamsa("campaigns wait " .. id .. " --interval 0.2 --deadline 20")
            assert.equal(0, code, err)
            assert.equal(id, decode(out).id)
            local item = new_item()
            out, err, code = hamsa("kb wait " .. item .. " --interval 0.2 --deadline 20")
            assert.equal(0, code, err)
            assert.equal(item, decode(out).id)
        end)
    end)

    ---------------------------------------------------------------------
    describe("call", function()
        local TO, FROM = "+971501234567", "+12025550123"

        it("places a call from your number by default (phoneNumber = --from) with params", function()
            local a = new_agent()
            server:clear()
            local out, err, code = hamsa(("call --to %s --from %s --agent %s --param name=Layla"):format(TO, FROM, a))
            assert.equal(0, code, err)
            local req = server:requests()[1]
            assert.equal(V1 .. "/phone-number/call", req.path)
            assert.same({ toNumber = TO, phoneNumber = FROM, voiceAgentId = a, params = { name = "Layla" } },
                decode(req.body))
            assert.is_table(decode(out))
        end)

        it("--twilio uses the twilio route (twilioPhoneNumber)", function()
            local a = new_agent()
            server:clear()
            local _, err, code = hamsa(("call --to %s --from %s --agent %s --twilio"):format(TO, FROM, a))
            assert.equal(0, code, err)
            local req = server:requests()[1]
            assert.equal(V1 .. "/twilio/call", req.path)
            assert.equal(FROM, decode(req.body).twilioPhoneNumber)
        end)

        it("--hamsa-number uses /v1/voice-agents/call, --from optional (fromNumber)", function()
            local a = new_agent()
            server:clear()
            local _, err, code = hamsa(("call --to %s --agent %s --hamsa-number"):format(TO, a))
            assert.equal(0, code, err)
            _, err, code = hamsa(("call --to %s --from %s --agent %s --hamsa-number"):format(TO, FROM, a))
            assert.equal(0, code, err)
            local log = server:requests()
            assert.equal(2, #log)
            assert.equal(V1 .. "/call", log[1].path)
            assert.is_nil(decode(log[1].body).fromNumber)
            assert.equal(FROM, decode(log[2].body).fromNumber)
        end)

        it("--agent-file sends the agent inline with the params", function()
            local file = write_file(cjson.encode({ agentName = "Inline", greetingMessage = "Hi {{name}}" }))
            local _, err, code = hamsa(("call --to %s --from %s --agent-file %s --param name=Omar"):format(TO, FROM,
                quote(file)))
            os.remove(file)
            assert.equal(0, code, err)
            local body = decode(server:requests()[1].body)
            assert.equal("Inline", body.agentDetails.agentName)
            assert.same({ name = "Omar" }, body.agentDetails.params)
        end)

        it("without --from (and no --hamsa-number) exits 2", function()
            local out, err, code = hamsa(("call --to %s --agent ag-1"):format(TO))
            assert.equal(2, code)
            assert.equal("", out)
            assert.matches("--from", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("with --agent and --agent-file exits 2", function()
            local file = write_file('{"agentName":"X"}')
            local _, err, code = hamsa(("call --to %s --from %s --agent ag-1 --agent-file %s"):format(TO, FROM,
                quote(file)))
            os.remove(file)
            assert.equal(2, code)
            assert.matches("--agent", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("--wait shows progress on stderr and the COMPLETED conversation on stdout", function()
            local a = new_agent()
            local out, err, code = hamsa(("call --to %s --from %s --agent %s --wait --interval 0.2 --deadline 30")
                :format(TO, FROM, a))
            assert.equal(0, code, err)
            local rec = decode(out)
            assert.equal("COMPLETED", rec.status)
            assert.matches("hamsa: placed call " .. rec.id:gsub("%-", "%%-"), err)
            assert.matches("hamsa: call " .. rec.id:gsub("%-", "%%-") .. ": IN_PROGRESS after", err)
            assert.falsy(err:find("\r", 1, true), "no redrawn line off a terminal")
        end)

        it("--wait in a dry run sends nothing and says so", function()
            local out, err, code = hamsa(("call --to %s --from %s --agent ag-1 --wait --dry-run"):format(TO, FROM))
            assert.equal(0, code, err)
            assert.is_true(decode(out).dry_run)
            assert.matches("nothing to wait for in a dry run", err, 1, true)
            assert.equal(0, #server:requests())
        end)

        it("--wait past its --deadline exits 7 after printing the placed call id", function()
            server:clock({ freeze = true })
            local a = new_agent()
            local out, err, code = hamsa(("call --to %s --from %s --agent %s --wait --interval 0.2 --deadline 0.6")
                :format(TO, FROM, a))
            assert.equal(7, code, err)
            assert.equal("", out)
            assert.matches("hamsa: placed call %S+", err)
            assert.matches("hamsa: timeout: ", err, 1, true)
        end)

        it("--wait on a number ending 4002 ends FAILED, and still exits 0", function()
            local a = new_agent()
            local out, err, code = hamsa(("call --to +971501234002 --from %s --agent %s --wait --interval 0.2 "
                .. "--deadline 30"):format(FROM, a))
            assert.equal(0, code, err)
            assert.equal("FAILED", decode(out).status)
        end)

        it("--wait on a terminal redraws one progress line", function()
            local a = new_agent()
            local out, code = run_tty(server, ("call --to %s --from %s --agent %s --wait --interval 0.2 --deadline 30")
                :format(TO, FROM, a))
            assert.equal(0, code, out)
            -- one line redrawn in place (carriage return, erase line), no plain progress lines
            assert.matches("\r\27[Kwaiting for call ", out, 1, true)
            assert.falsy(out:find(": IN_PROGRESS after ", 1, true), out)
            assert.matches("waiting for call %S+: COMPLETED", out)
            -- the final record, as a table on the terminal
            assert.matches("\nstatus +COMPLETED", out)
        end)

        it("conversations wait past its deadline exits 7, naming the deadline", function()
            server:clock({ freeze = true })
            local a = new_agent()
            local placed = decode((hamsa(("call --to %s --from %s --agent %s"):format(TO, FROM, a))))
            local id = placed.jobId or placed.id
            local t0 = socket.gettime()
            local out, err, code = hamsa("conversations wait " .. id .. " --deadline 0.5 --interval 0.2")
            assert.equal(7, code, err)
            assert.equal("", out)
            -- the deadline: the timeout names how long it waited
            assert.matches("hamsa: timeout: ", err, 1, true)
            assert.matches("within 0.5 s", err, 1, true)
            assert.truthy(socket.gettime() - t0 < 10)
        end)

        it("conversations wait shows the ended call", function()
            local a = new_agent()
            local placed = decode((hamsa(("call --to +971501234001 --from %s --agent %s"):format(FROM, a))))
            local id = placed.jobId or placed.id
            local out, err, code = hamsa("conversations wait " .. id .. " --deadline 20 --interval 0.2")
            assert.equal(0, code, err)
            assert.equal("NO_ANSWER", decode(out).status)
            assert.matches("hamsa: conversation " .. id:gsub("%-", "%%-") .. ": NO_ANSWER after", err)
        end)
    end)

    ---------------------------------------------------------------------
    describe("listen", function()
        it("prints one JSON line per event of a call, and the URL on stderr", function()
            local port = helpers.free_port()
            local out, err, pidfile = os.tmpname(), os.tmpname(), os.tmpname()
            -- in the background, its stdio in files (busted's own stdout is not held)
            os.execute(("(cd %s && { timeout 20 %s listen --port %d --auth-key Token --max-events 8 > %s 2> %s & "
                .. "echo $! > %s; wait $!; echo \"exit=$?\" >> %s; }) </dev/null >/dev/null 2>&1 &")
                :format(quote(helpers.root), (command(server, "", { env = "HAMSA_WEBHOOK_SECRET=s3" }):gsub(" $", "")),
                    port, quote(out), quote(err), quote(pidfile), quote(err)))
            finally(function()
                local pid = tonumber(slurp(pidfile))
                if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
                os.remove(out)
                os.remove(err)
            end)
            local deadline = socket.gettime() + 10
            while not slurp(err, true):find("listening", 1, true) and socket.gettime() < deadline do
                socket.sleep(0.05)
            end
            local a = new_agent()
            local webhook = ("http://127.0.0.1:%d/"):format(port)
            local _, cerr, code = hamsa(("--no-validate call --twilio --to +971501234567 --from +12025550123 "
                .. "--agent %s --param name=Sam --set webhookUrl=%s --set webhookAuth.authKey=Token "
                .. "--set webhookAuth.authSecret=s3"):format(a, webhook))
            assert.equal(0, code, cerr)
            deadline = socket.gettime() + 15
            while not slurp(err, true):find("exit=", 1, true) and socket.gettime() < deadline do
                socket.sleep(0.1)
            end
            local stdout, stderr = slurp(out, true), slurp(err, true)
            assert.falsy((stdout .. stderr):find(KEY, 1, true))
            assert.matches("listening http://127%.0%.0%.1:" .. port, stderr)
            assert.matches("exit=0", stderr, 1, true)
            local kinds = {}
            for line in stdout:gmatch("[^\n]+") do kinds[#kinds + 1] = decode(line).eventType end
            assert.equal(8, #kinds, stdout)
            assert.equal("call.started", kinds[1])
            assert.equal("call.ended", kinds[#kinds])
        end)

        it("without a secret exits 2", function()
            local out, err, code = hamsa("listen --port 0 --auth-key Token --max-events 1")
            assert.equal(2, code)
            assert.equal("", out)
            assert.matches("HAMSA_WEBHOOK_SECRET", err, 1, true)
        end)
    end)

    ---------------------------------------------------------------------
    describe("mock", function()
        it("prints listening URL on stdout and serves the API", function()
            local cpath = os.getenv("HAMSA_MOCK_CPATH") or package.cpath
            local cmd = ("cd %s && echo $$ && exec env HAMSA_API_KEY=%s LUA_PATH=%s LUA_CPATH=%s %s bin/hamsa mock --port 0")
                :format(quote(helpers.root), quote(KEY), quote(package.path), quote(cpath), quote(helpers.mock_lua))
            local proc = assert(io.popen(cmd, "r"))
            local pid = tonumber(proc:read("*l"))
            local line = proc:read("*l") or ""
            local url = line:match("^listening (http://%S+)$")
            local status
            if url then
                status = helpers.http("GET", url .. V1, nil, { Authorization = "Token " .. KEY })
            end
            if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
            proc:close()
            assert.is_string(url, line)
            assert.equal(200, status)
        end)

        it("a bad --port exits 2", function()
            local out, err, code = hamsa("mock --port 99999")
            assert.equal(2, code)
            assert.equal("", out)
            assert.matches("port", err, 1, true)
        end)
    end)
end)
