--- A real, throwaway PostgreSQL server for a spec (Debian's postgresql
-- package): a fresh cluster in a `mktemp -d` directory, listening only on
-- 127.0.0.1 at a free port (its unix socket inside that directory), trust
-- authentication, fsync off, with an empty database `hamsa`.
--
--     local pg = require "spec.pg"
--     local ok, why = pg.available()
--     if not ok then pending(why) return end
--     local server = pg.start()   -- raises with the server's log tail on failure
--     local conn = require("luasql.postgres").postgres():connect(server.url)
--     ...
--     server:stop()               -- pg_ctl stop -m immediate, then rm -rf; safe twice
--
-- `server.url` is "postgresql://USER@127.0.0.1:PORT/hamsa" (libpq, and so
-- LuaSQL's connect, takes it as it is); `server.conninfo` is the same as
-- "host=127.0.0.1 port=PORT dbname=hamsa user=USER".
--
-- initdb, pg_ctl and postgres refuse to run as root: as root (the usual case
-- here and in CI) they run as the `postgres` system user, which owns the
-- temporary directory; otherwise as the current user. The binaries come from
-- `pg_config --bindir`, else the highest /usr/lib/postgresql/*/bin (env
-- HAMSA_PG_BINDIR overrides both).

local helpers = require("spec.helpers")

local quote = helpers.quote
local concat = table.concat

local pg = {}

local function sh_read(cmd)
    local f = io.popen(cmd .. " 2>/dev/null", "r")
    if not f then return nil end
    local out = f:read("*a")
    f:close()
    return out
end

local function is_file(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
end

local function trim(s)
    return s and (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

--- The directory of initdb, pg_ctl and postgres, or nil.
function pg.bindir()
    local env = os.getenv("HAMSA_PG_BINDIR")
    if env and env ~= "" then return env end
    local dir = trim(sh_read("pg_config --bindir"))
    if dir and dir ~= "" and is_file(dir .. "/initdb") then return dir end
    local best, best_version
    for line in (sh_read("ls -d /usr/lib/postgresql/*/bin") or ""):gmatch("[^\n]+") do
        local version = tonumber(line:match("^/usr/lib/postgresql/([%d.]+)/bin$"))
        if version and is_file(line .. "/initdb") and (not best_version or version > best_version) then
            best, best_version = line, version
        end
    end
    return best
end

local function is_root()
    return trim(sh_read("id -u")) == "0"
end

-- The OS user the server runs as (also its superuser's name).
local function server_user(root)
    if root then return "postgres" end
    return trim(sh_read("id -un")) or os.getenv("USER") or "postgres"
end

-- Whether shell command `cmd` exited 0: os.execute gives true on 5.2+ and
-- the status number on 5.1 and LuaJIT (where a failure is a truthy number).
local function succeeds(cmd)
    local r = os.execute(cmd)
    return r == true or r == 0
end
pg.succeeds = succeeds

-- A shell command running `cmd` (a shell string) as the server's user, from
-- directory `dir` (the postgres user may not read the current one).
-- (LD_PRELOAD is dropped: a spec run under ASan preloads its runtime,
-- which the server's processes must not inherit; initdb hangs with it.)
local function as_server(root, dir, cmd)
    local inner = "cd " .. quote(dir) .. " && " .. cmd
    if not root then return "env -u LD_PRELOAD sh -c " .. quote(inner) end
    if succeeds("command -v runuser >/dev/null 2>&1") then
        return "env -u LD_PRELOAD runuser -u postgres -- sh -c " .. quote(inner)
    end
    return "env -u LD_PRELOAD su postgres -s /bin/sh -c " .. quote(inner)
end

--- true; or false and why a server cannot be started here.
function pg.available()
    local bin = pg.bindir()
    if not bin then
        return false, "no PostgreSQL binaries (no pg_config, no /usr/lib/postgresql/*/bin): apt-get install postgresql"
    end
    for _, name in ipairs({ "initdb", "pg_ctl", "postgres" }) do
        if not is_file(bin .. "/" .. name) then return false, "no " .. name .. " in " .. bin end
    end
    if not pcall(require, "luasql.postgres") then
        return false, "no luasql.postgres: apt-get install lua-sql-postgres"
    end
    if is_root() and not succeeds("id -u postgres >/dev/null 2>&1") then
        return false, "running as root and there is no postgres user to run the server as"
    end
    return true
end

local Server = {}
Server.__index = Server

local function tail(path, lines)
    local f = io.open(path, "r")
    if not f then return "(no " .. path .. ")" end
    local all = {}
    for line in f:lines() do all[#all + 1] = line end
    f:close()
    return concat(all, "\n", math.max(1, #all - lines + 1))
end

--- Stops the server at once (pg_ctl stop -m immediate) and removes its
-- directory. Safe to call twice.
function Server:stop()
    if self.stopped then return end
    self.stopped = true
    if self.started then
        os.execute(as_server(self.root, self.dir, quote(self.bin .. "/pg_ctl") .. " stop -D "
            .. quote(self.data) .. " -m immediate -w -t 10 >/dev/null 2>&1"))
    end
    os.execute("rm -rf " .. quote(self.dir))
end

--- Starts a server (see the top of this file). Raises when it fails, with
-- the tail of initdb's output or of the server's log.
-- @tparam[opt] table opts `port` (default a free one)
function pg.start(opts)
    opts = opts or {}
    local clock = require("socket").gettime
    local t0 = clock()
    local bin = assert(pg.bindir(), "no PostgreSQL binaries")
    local root = is_root()
    local user = server_user(root)
    local dir = trim(sh_read("mktemp -d /tmp/hamsa-pg.XXXXXX"))
    assert(dir and dir ~= "", "mktemp -d failed")
    local port = opts.port or helpers.free_port()
    local server = setmetatable({
        dir = dir, data = dir .. "/data", log = dir .. "/server.log", port = port, user = user,
        bin = bin, root = root,
        url = ("postgresql://%s@127.0.0.1:%d/hamsa"):format(user, port),
        conninfo = ("host=127.0.0.1 port=%d dbname=hamsa user=%s"):format(port, user),
    }, Server)
    -- Stop it when collected, so a spec that fails before stop() leaves no server.
    local newproxy = rawget(_G, "newproxy")   -- Lua 5.1: tables have no __gc
    local guard = newproxy and newproxy(true) or setmetatable({}, { __gc = true })
    getmetatable(guard).__gc = function() server:stop() end
    server.guard = guard

    local function fail(what, path)
        local text = tail(path, 30)
        server:stop()
        error(("PostgreSQL %s failed (port %d):\n%s"):format(what, port, text), 3)
    end

    if root then os.execute("chown postgres: " .. quote(dir)) end
    local initlog = dir .. "/initdb.log"
    local ok = succeeds(as_server(root, dir, concat({
        quote(bin .. "/initdb"), "-D", quote(server.data), "-U", quote(user), "-A trust",
        "-E UTF8 --locale=C --no-sync --no-instructions", ">", quote(initlog), "2>&1" }, " ")))
    if not ok then fail("initdb", initlog) end

    local options = concat({
        "-p " .. port, "-c listen_addresses=127.0.0.1", "-c unix_socket_directories=" .. dir,
        "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
    }, " ")
    server.started = true
    ok = succeeds(as_server(root, dir, concat({
        quote(bin .. "/pg_ctl"), "start -D", quote(server.data), "-w -t 20 -l", quote(server.log),
        "-o", quote(options), ">/dev/null 2>&1" }, " ")))
    if not ok then fail("start", server.log) end

    local createlog = dir .. "/createdb.log"
    ok = succeeds(concat({
        "env -u LD_PRELOAD", quote(bin .. "/createdb"), "-h 127.0.0.1 -p", port, "-U", quote(user), "hamsa",
        ">", quote(createlog), "2>&1" }, " "))
    if not ok then fail("createdb", createlog) end
    server.start_seconds = clock() - t0
    return server
end

return pg
