-- spec/pg.lua: a real, throwaway PostgreSQL server for a spec. Proves the
-- helper itself: LuaSQL connects with the server's URL, `FOR UPDATE SKIP
-- LOCKED` never gives one row to two transactions (the dialer's ledger relies
-- on it), and stop() leaves no server and no directory behind.
-- `make test-postgres` runs the specs tagged postgres; elsewhere this one is
-- pending when the binaries or luasql.postgres are missing.

local pg = require "spec.pg"
local socket = require "socket"

local function accepts(port)
    local c = socket.tcp()
    c:settimeout(1)
    local ok = c:connect("127.0.0.1", port)
    c:close()
    return ok ~= nil
end

local function exists(path)
    return pg.succeeds("test -e '" .. path .. "'")
end

describe("spec/pg.lua #postgres", function()
    local available, why = pg.available()
    if not available then
        it("starts a throwaway PostgreSQL server", function() pending(why) end)
        return
    end

    local server, env
    local conns = {}

    local function connect()
        local conn = assert(env:connect(server.url))
        conns[#conns + 1] = conn
        return conn
    end

    local function rows(conn, sql)
        local cur = assert(conn:execute(sql))
        local out = {}
        if type(cur) ~= "userdata" then return out end
        local row = cur:fetch({}, "a")
        while row do
            out[#out + 1] = row
            row = cur:fetch({}, "a")
        end
        cur:close()
        return out
    end

    lazy_setup(function()
        server = pg.start()
        env = require("luasql.postgres").postgres()
    end)

    lazy_teardown(function()
        for _, conn in ipairs(conns) do pcall(conn.close, conn) end
        if env then env:close() end
        if server then server:stop() end
    end)

    it("starts on 127.0.0.1 with a database hamsa", function()
        assert.matches("^postgresql://[%w_]+@127%.0%.0%.1:%d+/hamsa$", server.url)
        assert.equal(server.url:match(":(%d+)/"), tostring(server.port))
        assert.is_true(exists(server.dir))
        local conn = connect()
        local r = rows(conn, "SELECT current_database() AS db, inet_server_addr()::text AS addr,"
            .. " current_setting('fsync') AS fsync")[1]
        assert.same({ db = "hamsa", addr = "127.0.0.1/32", fsync = "off" }, r)
        -- the conninfo form names the same server
        local other = assert(env:connect(server.conninfo))
        assert.equal("hamsa", rows(other, "SELECT current_database() AS db")[1].db)
        other:close()
    end)

    it("FOR UPDATE SKIP LOCKED never gives one row to two transactions", function()
        local setup_conn = connect()
        assert(setup_conn:execute("CREATE TABLE jobs (id serial PRIMARY KEY, owner text)"))
        assert(setup_conn:execute("INSERT INTO jobs (owner) SELECT NULL FROM generate_series(1, 6)"))

        local a, b = connect(), connect()
        a:setautocommit(false)
        b:setautocommit(false)
        local claim = "SELECT id FROM jobs WHERE owner IS NULL ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED"
        local seen = {}
        local function take(conn, name)
            local got = rows(conn, claim)
            for _, r in ipairs(got) do
                assert.is_nil(seen[r.id], "row " .. r.id .. " claimed twice")
                seen[r.id] = name
                assert(conn:execute(("UPDATE jobs SET owner = '%s' WHERE id = %s"):format(name, r.id)))
            end
            return #got
        end
        -- both hold their locks: interleaved claims see disjoint rows
        assert.equal(2, take(a, "a"))
        assert.equal(2, take(b, "b"))
        assert.equal(2, take(a, "a"))
        assert.equal(0, take(b, "b"))   -- everything left is locked by a, none waits
        assert(a:commit())
        assert(b:commit())

        local owners = rows(setup_conn, "SELECT id, owner FROM jobs ORDER BY id")
        assert.equal(6, #owners)
        for _, r in ipairs(owners) do assert.equal(seen[r.id], r.owner) end
        assert.equal(0, #rows(setup_conn, "SELECT id FROM jobs WHERE owner IS NULL"))
    end)

    it("stop() leaves no server and no directory, and is safe twice", function()
        for _, conn in ipairs(conns) do pcall(conn.close, conn) end
        conns = {}
        assert.is_true(accepts(server.port))
        server:stop()
        assert.is_false(accepts(server.port))
        assert.is_false(exists(server.dir))
        server:stop()
        assert.is_false(env:connect(server.url) and true or false)
    end)
end)
