-- Three dialer processes share one PostgreSQL ledger (a real server from
-- Debian's postgresql, started for this spec in a throwaway cluster): every
-- row is called exactly once, counted by the mock, and all three processes
-- placed calls. `make test-postgres` runs it (and `make test` when the
-- server and driver are installed; pending otherwise).
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local pg = require "spec.pg"

local function number(i) return string.format("+9715%07d", i) end

describe("hamsa.dialer on PostgreSQL #postgres #proof", function()
    local available, why = pg.available()
    if not available then
        it("shares one campaign between three processes", function() pending(why) end)
        return
    end

    local server, client, db
    helpers.mock_suite({ lazy_setup, lazy_teardown }, { mock = { call_seconds = 0.3 }, client = {} },
        function(s, c) server, client = s, c end)
    lazy_setup(function() db = pg.start() end)
    lazy_teardown(function() if db then db:stop() end end)

    local function worker(env)
        local parts = { "exec env", "LUA_PATH=" .. helpers.quote(package.path),
                        "LUA_CPATH=" .. helpers.quote(package.cpath) }
        for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. helpers.quote(v) end
        parts[#parts + 1] = helpers.lua .. " " .. helpers.quote(helpers.root .. "/spec/dial_worker.lua") .. " 2>&1"
        return assert(io.popen(table.concat(parts, " ")))
    end

    it("three processes share 300 rows: each row called exactly once, each process placed some", function()
        local agent = assert(client.agents:create({ agentName = "Shared" })).id
        local env = { BASE_URL = server.url, API_KEY = server.api_key, LEDGER = db.url, CAMPAIGN = "shared",
                      AGENT = agent, ROWS = "300", OPTS = '{"concurrency":30,"rate":200}' }
        local procs = { worker(env), worker(env), worker(env) }
        local placed = {}
        for i, p in ipairs(procs) do
            local out = p:read("*a")
            p:close()
            assert.matches("done ", out, 1, true)
            local status = hamsa.json.decode(out:match("done (%b{})"))
            assert.equal(300, status.COMPLETED, out)
            placed[i] = hamsa.json.decode(out:match("stats=(%b{})")).placed or 0
            assert.is_true(placed[i] > 0, "process " .. i .. " placed no call: " .. out)
        end
        local counts, total = {}, 0
        for _, c in ipairs(server:calls()) do
            counts[c.toNumber] = (counts[c.toNumber] or 0) + 1
            total = total + 1
        end
        local dup, missed = 0, 0
        for i = 1, 300 do
            local n = counts[number(i)] or 0
            if n == 0 then missed = missed + 1 elseif n > 1 then dup = dup + n - 1 end
        end
        assert.equal(0, dup)
        assert.equal(0, missed)
        assert.equal(300, total)
        assert.equal(300, placed[1] + placed[2] + placed[3])
        print(("\n70: PostgreSQL, 3 processes, 300 rows: placed %d + %d + %d, %d duplicates, %d missed")
            :format(placed[1], placed[2], placed[3], dup, missed))
    end)
end)
