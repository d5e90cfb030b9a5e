-- The rockspecs: three rocks whose modules are the files under lua/, each
-- declaring what its files need; the release rockspecs made from the scm ones;
-- make install. (spec/96 installs the rocks.)
local helpers = require "spec.helpers"

local sh = helpers.sh

-- A rockspec's table (`build.install`, `dependencies`...), from its path
-- relative to the repository root.
local function load_rockspec(name)
    local f = assert(io.open(helpers.root .. "/" .. name))
    local source = f:read("*a")
    f:close()
    local spec = {}
    local chunk
    if rawget(_G, "setfenv") then           -- Lua 5.1, LuaJIT
        chunk = assert(loadstring(source, "@" .. name))
        setfenv(chunk, spec)
    else
        chunk = assert(load(source, "@" .. name, "t", spec))
    end
    chunk()
    return spec, source
end

local function ls(pattern)
    local p = io.popen("cd " .. helpers.quote(helpers.root) .. " && ls -d " .. pattern .. " 2>/dev/null")
    local names = {}
    for line in p:lines() do names[#names + 1] = line end
    p:close()
    return names
end

-- The scm rockspecs at the root, by rock name: hamsa, hamsa-mock, hamsa-cli.
local ROCKS = { "hamsa", "hamsa-mock", "hamsa-cli" }
local function scm_rockspecs()
    local specs = {}
    for _, rock in ipairs(ROCKS) do specs[rock] = load_rockspec(rock .. "-scm-1.rockspec") end
    return specs
end

-- What a rock's files may require without declaring it, and why (each is
-- loaded only when the feature that needs it is used; docs/packaging.md).
-- A top-level name stands for its submodules too.
local OPTIONAL = {
    ["luasql.sqlite3"] = "hamsa.dialer's SQLite ledger, when asked for",
    ["luasql.postgres"] = "hamsa.dialer's PostgreSQL ledger, when asked for",
    ["hamsa.webhook.serve"] = "hamsa.webhook.serve(), a function of the library that runs hamsa-mock's server",
    cqueues = "hamsa.adapter.cqueues, for a program that runs cqueues already",
    luv = "hamsa.adapter.luv, for a program that runs libuv (luv) already",
    copas = "hamsa.adapter.copas, for a program that runs copas already",
}
-- The rock that provides a module outside hamsa's own.
local PROVIDER = { socket = "luasocket", argparse = "argparse" }

-- The modules a Lua file requires by a literal name (`require "x"`,
-- `require("x")`, `pcall(require, "x")`), comments left out; not those of a
-- name made at run time (`require("hamsa.mock." .. name)`: their own rock's).
local function requires_of(path)
    local f = assert(io.open(helpers.root .. "/" .. path))
    local names = {}
    for line in f:lines() do
        if not line:match("^%s*%-%-") then
            line = line:gsub("%s%-%-%s.*$", "")
            for name in line:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do names[name] = true end
            for name in line:gmatch("require%s*,%s*[\"']([%w_.]+)[\"']") do names[name] = true end
            for name in pairs(names) do
                if name:sub(-1) == "." then names[name] = nil end
            end
        end
    end
    f:close()
    return names
end

-- Every .lua file under `dir` (relative to the repository root), sorted.
local function lua_files(dir)
    local p = io.popen("cd " .. helpers.quote(helpers.root) .. " && find " .. dir .. " -name '*.lua' | sort")
    local files = {}
    for line in p:lines() do files[#files + 1] = line end
    p:close()
    return files
end

local function exists(path)
    local f = io.open(helpers.root .. "/" .. path)
    if f then f:close() end
    return f ~= nil
end

describe("packaging", function()
    it("the root holds one scm rockspec per rock, and no other", function()
        local names = {}
        for _, rock in ipairs(ROCKS) do names[#names + 1] = rock .. "-scm-1.rockspec" end
        table.sort(names)
        assert.same(names, ls("*.rockspec"))
        for rock, spec in pairs(scm_rockspecs()) do
            assert.equal(rock, spec.package)
            assert.equal("scm-1", spec.version)
            assert.is_nil(spec.source.tag, rock .. ": the scm rockspec follows the default branch")
        end
    end)

    -- lua/a/b.lua is module "a.b", lua/a/init.lua module "a": the rockspecs
    -- must list each of them once, and nothing else, when a file is added or moved
    it("build.install.lua of the scm rockspecs lists exactly the Lua files under lua/, each once", function()
        local from_tree = {}
        for _, path in ipairs(lua_files("lua")) do
            local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
            from_tree[name] = path
        end
        local listed, twice = {}, {}
        for rock, spec in pairs(scm_rockspecs()) do
            for name, path in pairs(spec.build.install.lua) do
                if listed[name] then twice[#twice + 1] = name .. " (" .. rock .. ")" end
                listed[name] = path
            end
        end
        assert.same({}, twice, "modules listed by two rocks")
        assert.same(from_tree, listed, "build.install.lua (passed in) against the files under lua/ (expected)")
    end)

    -- builtin would install the whole lua/ folder with every rock
    it("only the library builds C: hamsa.core, from every csrc/*.c, with libcurl found the LuaRocks way", function()
        local specs = scm_rockspecs()
        assert.equal("none", specs["hamsa-mock"].build.type)
        assert.equal("none", specs["hamsa-cli"].build.type)
        local build = specs.hamsa.build
        assert.equal("command", build.type)
        local compiled = {}
        for source in build.build_command:gmatch("csrc/[%w_]+%.c") do compiled[#compiled + 1] = source end
        table.sort(compiled)
        local p = io.popen("cd " .. helpers.quote(helpers.root) .. " && ls csrc/*.c")
        local sources = {}
        for line in p:lines() do sources[#sources + 1] = line end
        p:close()
        assert.same(sources, compiled, "the build command compiles every csrc/*.c")
        for _, v in ipairs({ "$(CC)", "$(CFLAGS)", "$(LIBFLAG)", "-I'$(LUA_INCDIR)'", "-I'$(CURL_INCDIR)'",
                             "-L'$(CURL_LIBDIR)' -lcurl", "-o build/luarocks/hamsa/core.so" }) do
            assert.matches(v, build.build_command, 1, true)
        end
        assert.same({ ["hamsa.core"] = "build/luarocks/hamsa/core.so" }, build.install.lib)
        local ext = specs.hamsa.external_dependencies
        assert.equal("curl", ext.CURL.library)
        assert.equal("curl-config", ext.platforms.linux.CURL.program)
        assert.equal("curl/curl.h", ext.platforms.bsd.CURL.header)
    end)

    -- what a file requires is its rock's dependency, or the rock's own
    -- module, or optional (OPTIONAL, with its reason)
    it("each rock declares what its files require", function()
        local specs = scm_rockspecs()
        local rock_of = {}
        for rock, spec in pairs(specs) do
            for name in pairs(spec.build.install.lua) do rock_of[name] = rock end
            for name in pairs(spec.build.install.lib or {}) do rock_of[name] = rock end
        end
        local problems = {}
        for rock, spec in pairs(specs) do
            local declared = {}
            for _, dep in ipairs(spec.dependencies or {}) do declared[dep:match("^%s*([%w_%-]+)")] = true end
            local files = {}
            for _, path in pairs(spec.build.install.lua) do files[#files + 1] = path end
            for _, path in pairs(spec.build.install.bin or {}) do files[#files + 1] = path end
            table.sort(files)
            for _, path in ipairs(files) do
                for name in pairs(requires_of(path)) do
                    local needs = rock_of[name] or PROVIDER[name:match("^[^.]+")]
                    local optional = OPTIONAL[name] or OPTIONAL[name:match("^[^.]+")]
                    if needs ~= rock and not optional and not (needs and declared[needs]) then
                        problems[#problems + 1] = ("%s: %s requires %s (%s)"):format(rock, path, name,
                            needs and ("declare " .. needs) or "unknown: declare its rock or list it as optional")
                    end
                end
            end
        end
        table.sort(problems)
        assert.same({}, problems)
    end)

    it("rockspecs/ holds the release rockspec of each rock, made by make rockspecs from the scm one", function()
        local version = require("hamsa")._VERSION
        local want = {}
        for _, rock in ipairs(ROCKS) do
            local name = "rockspecs/" .. rock .. "-" .. version .. "-1.rockspec"
            want[#want + 1] = name
            local p = io.popen(("cd %s && lua5.4 scripts/rockspec.lua %s-scm-1.rockspec %s"):format(
                helpers.quote(helpers.root), rock, version))
            local made = p:read("*a")
            p:close()
            local spec, committed = load_rockspec(name)
            assert.equal(made, committed, name .. " is not what make rockspecs makes of " .. rock .. "-scm-1.rockspec")
            assert.equal(version .. "-1", spec.version)
            assert.equal("v" .. version, spec.source.tag)
        end
        table.sort(want)
        local have = ls("rockspecs/*-" .. version .. "-1.rockspec")
        assert.same(want, have)
    end)

    it("every file the rockspecs install exists (but the core, which the build makes)", function()
        local named = {}
        for rock, spec in pairs(scm_rockspecs()) do
            local n = #named
            for _, path in pairs(spec.build.install.lua) do named[#named + 1] = path end
            for _, path in pairs(spec.build.install.bin or {}) do named[#named + 1] = path end
            assert.is_true(#named > n, rock)
        end
        for _, path in ipairs(named) do
            assert.is_true(exists(path), "a rockspec names " .. path .. ", which does not exist")
        end
    end)

    it("make install copies every Lua file under lua/ (subfolders too); make uninstall removes them", function()
        local dest = os.tmpname()
        os.remove(dest)
        -- the core as it is (-o: never rebuilt here); a clean environment for
        -- the nested make (no jobserver or flags of the make running the specs)
        local make = ("cd %s && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -o build/hamsa/core.so %%s"
            .. " DESTDIR=%s PREFIX=/usr LUA_VERSION=5.4"):format(helpers.quote(helpers.root), helpers.quote(dest))
        local out = sh(make:format("install"))
        assert.matches("exit=0", out, 1, true)
        local luadir = dest .. "/usr/share/lua/5.4"
        local installed = {}
        local p = io.popen("cd " .. helpers.quote(luadir) .. " && find hamsa -type f | sort")
        for line in p:lines() do installed[#installed + 1] = "lua/" .. line end
        p:close()
        assert.same(lua_files("lua/hamsa"), installed)
        local f = io.open(dest .. "/usr/lib/lua/5.4/hamsa/core.so")
        assert.is_not_nil(f, "no core.so installed")
        if f then f:close() end
        out = sh(make:format("uninstall"))
        assert.matches("exit=0", out, 1, true)
        assert.is_nil(io.open(luadir .. "/hamsa/init.lua"))
        sh("rm -rf " .. helpers.quote(dest))
    end)
end)
