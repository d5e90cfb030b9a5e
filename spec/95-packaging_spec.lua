-- The rockspec installs the library offline, and the installed copy works.
local helpers = require "spec.helpers"

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out
end

-- The Lua source of the rockspec's table: `build.modules`, `build.install`...
local function rockspec()
    local p = io.popen("cd " .. helpers.quote(helpers.root) .. " && ls hamsa-*.rockspec")
    local names = p:read("*a")
    p:close()
    local name = names:match("^(%S+)\n$")
    assert(name, "expected exactly one hamsa-*.rockspec, got: " .. names)
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
    return spec, name
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
    local tree

    setup(function()
        tree = os.tmpname()
        os.remove(tree)
    end)

    teardown(function()
        sh("rm -rf " .. helpers.quote(tree))
    end)

    it("luarocks make --deps-mode=none installs it offline", function()
        if not sh("command -v luarocks"):find("luarocks") then
            pending("luarocks is not installed")
            return
        end
        -- built in a copy of the files the rockspec names: luarocks writes its
        -- objects next to the sources, and the per-Lua runs go in parallel
        local src = tree .. "-src"
        local out = sh(("mkdir -p %s && cd %s && cp -r hamsa-*.rockspec csrc lua bin types %s/ && cd %s && "
            .. "luarocks --lua-version=5.4 --tree=%s make --deps-mode=none hamsa-*.rockspec")
            :format(helpers.quote(src), helpers.quote(helpers.root), helpers.quote(src), helpers.quote(src),
                helpers.quote(tree)))
        sh("rm -rf " .. helpers.quote(src))
        assert.matches("exit=0", out, 1, true)
        assert.matches("is now installed", out, 1, true)
        -- the editor types (build.copy_directories), where README's .luarc.json points
        local version = require("hamsa")._VERSION
        assert.matches("exit=0", sh("test -f " .. helpers.quote(tree .. "/lib/luarocks/rocks-5.4/hamsa/"
            .. version .. "-1/types/hamsa.lua")), 1, true)

        -- the installed copy, and nothing from the work tree, answers require
        local check = ([[cd /tmp && LUA_PATH=%s LUA_CPATH=%s lua5.4 -e '
            local h = require "hamsa"
            assert(package.searchpath("hamsa.core", package.cpath):find(%q, 1, true))
            assert(h.json.encode({ n = 800 }) == "{\"n\":800}")
            print("version " .. h._VERSION)']]):format(
            helpers.quote(tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua;;"),
            helpers.quote(tree .. "/lib/lua/5.4/?.so;;"), tree)
        local ran = sh(check)
        assert.matches("exit=0", ran, 1, true)
        assert.matches("version " .. require("hamsa")._VERSION, ran, 1, true)

        -- the command is installed too, and runs through the tree's wrapper
        -- with the tree's paths (`luarocks path`), argparse from the system
        local cli = sh(("cd /tmp && LUA_PATH=%s LUA_CPATH=%s %s/bin/hamsa --version"):format(
            helpers.quote(tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua;;"),
            helpers.quote(tree .. "/lib/lua/5.4/?.so;;"), helpers.quote(tree)))
        assert.matches("hamsa " .. require("hamsa")._VERSION .. "\nexit=0", cli, 1, true)
    end)

    -- lua/a/b.lua is module "a.b", lua/a/init.lua module "a": the rockspec
    -- must list each of them, and nothing else, when a file is added or moved
    it("the rockspec's build.modules lists exactly the Lua files under lua/, by their module names", function()
        local from_tree = {}
        for _, path in ipairs(lua_files("lua")) do
            local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
            from_tree[name] = path
        end
        local listed = {}
        for name, entry in pairs(rockspec().build.modules) do
            if type(entry) == "string" then listed[name] = entry end
        end
        assert.same(from_tree, listed, "build.modules (passed in) against the files under lua/ (expected)")
    end)

    it("every file the rockspec names exists", function()
        local build = rockspec().build
        local named = {}
        for _, entry in pairs(build.modules) do
            if type(entry) == "string" then
                named[#named + 1] = entry
            else
                for _, source in ipairs(entry.sources) do named[#named + 1] = source end
            end
        end
        for _, path in pairs(build.install and build.install.bin or {}) do named[#named + 1] = path end
        for _, dir in ipairs(build.copy_directories or {}) do named[#named + 1] = dir end
        assert.is_true(#named > 0)
        for _, path in ipairs(named) do
            assert.is_true(exists(path), "the rockspec names " .. path .. ", which does not exist")
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
