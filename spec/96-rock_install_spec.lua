-- The three rocks install offline into a fresh tree with `luarocks make`
-- (no flags but the tree and --deps-mode=none: LuaSocket and argparse are
-- Debian's here, not rocks) on Lua 5.4, Lua 5.1 and LuaJIT, and the
-- quickstart runs from each tree alone, against the mock installed in the
-- 5.4 tree. The work tree is on no path: the quickstart's LUA_PATH and
-- LUA_CPATH are the tree's and nothing else, so the library needs no other
-- module either.
--
-- The installs compile the core three times: they run once, under Lua 5.4;
-- the other runs of `make test-all-luas` mark them pending.
local helpers = require "spec.helpers"

local sh = helpers.sh

local q = helpers.quote

-- Each Lua: luarocks's --lua-version, the interpreter, and for LuaJIT a
-- LuaRocks config naming its interpreter and headers (LuaRocks 3.8 on
-- Debian knows a Lua by its version only: 5.1 is lua5.1 unless told).
local LUAS = {
    { name = "Lua 5.4", version = "5.4", lua = "lua5.4" },
    { name = "Lua 5.1", version = "5.1", lua = "lua5.1" },
    { name = "LuaJIT", version = "5.1", lua = "luajit",
      config = 'lua_interpreter = "luajit"\nvariables = { LUA_INCDIR = "/usr/include/luajit-2.1" }\n' },
}
local ROCKS = { "hamsa", "hamsa-mock", "hamsa-cli" }

local function paths(tree, version, defaults)
    local tail = defaults and ";;" or ""
    return ("LUA_PATH=%s LUA_CPATH=%s"):format(
        q(tree .. "/share/lua/" .. version .. "/?.lua;" .. tree .. "/share/lua/" .. version .. "/?/init.lua" .. tail),
        q(tree .. "/lib/lua/" .. version .. "/?.so" .. tail))
end

local under_54 = _VERSION == "Lua 5.4" and rawget(_G, "jit") == nil

describe("the rocks, installed by luarocks", function()
    local base, root, mock, luarocks = nil, nil, nil, false

    setup(function()
        if not under_54 then return end
        luarocks = sh("command -v luarocks"):find("luarocks", 1, true) ~= nil
        if not luarocks then return end
        base = os.tmpname()
        os.remove(base)
        root = sh("cd " .. q(helpers.root) .. " && pwd"):match("^(.-)\n")
        -- the files the rockspecs name, copied once per Lua: luarocks
        -- writes its objects next to the sources
        for i, l in ipairs(LUAS) do
            l.src, l.tree = base .. "/src-" .. i, base .. "/tree-" .. i
            local out = sh(("mkdir -p %s && cd %s && cp -r *-scm-1.rockspec csrc lua bin types %s/"):format(
                q(l.src), q(root), q(l.src)))
            assert(out:find("exit=0", 1, true), out)
            if l.config then
                local f = assert(io.open(base .. "/config-" .. i .. ".lua", "w"))
                f:write(l.config)
                f:close()
                l.env = "LUAROCKS_CONFIG=" .. q(base .. "/config-" .. i .. ".lua")
            end
        end
    end)

    teardown(function()
        if mock then
            os.execute("kill " .. mock.pid .. " 2>/dev/null")
            mock.proc:close()
        end
        if base then sh("rm -rf " .. q(base)) end
    end)

    local function skip()
        if not under_54 then
            pending("installs once, under Lua 5.4 (this run's Lua: " .. (rawget(_G, "jit") and "LuaJIT" or _VERSION)
                .. "): the Lua 5.4 run installs and runs all three")
            return true
        end
        if not luarocks then
            pending("luarocks is not installed (make deps-rock)")
            return true
        end
    end

    for _, l in ipairs(LUAS) do
        it("installs hamsa, hamsa-mock and hamsa-cli into a fresh tree for " .. l.name .. ", offline", function()
            if skip() then return end
            for _, rock in ipairs(ROCKS) do
                local out = sh(("cd %s && %s luarocks --lua-version=%s --tree=%s make --deps-mode=none %s-scm-1.rockspec")
                    :format(q(l.src), l.env or "", l.version, q(l.tree), rock))
                assert.matches(rock .. " scm-1 is now installed in", out, 1, true)
                assert.matches("exit=0", out, 1, true)
                if rock == "hamsa" then
                    if l.config then assert.matches("-I'/usr/include/luajit-2.1'", out, 1, true) end
                    -- the library's rock installs none of the others' modules
                    local others = sh(("cd %s && find share -path '*/hamsa/mock*' -o -path '*/hamsa/cli.lua'"
                        .. " -o -path '*/hamsa/cli/*' -o -path '*/hamsa/webhook/serve.lua'"):format(q(l.tree)))
                    assert.equal("exit=0\n", others)
                    -- the editor types (build.copy_directories), where README's .luarc.json points
                    assert.matches("exit=0", sh(("test -f %s/lib/luarocks/rocks-%s/hamsa/scm-1/types/hamsa.lua")
                        :format(q(l.tree), l.version)), 1, true)
                end
            end
            l.installed = true
            -- bin/hamsa runs on that Lua (LuaRocks' wrapper), from that tree
            local wrapper = assert(io.open(l.tree .. "/bin/hamsa"))
            assert.matches("/" .. l.lua .. "'", wrapper:read("*a"), 1, true)
            wrapper:close()
            local out = sh(("cd /tmp && %s %s --version"):format(paths(l.tree, l.version, true),
                q(l.tree .. "/bin/hamsa")))
            assert.matches("hamsa " .. require("hamsa")._VERSION .. "\nexit=0", out, 1, true)
        end)
    end

    it("starts the installed hamsa-mock (Lua 5.4 tree, Debian's LuaSocket)", function()
        if skip() then return end
        local l = LUAS[1]
        assert(l.installed, "the Lua 5.4 tree was not installed")
        local proc = assert(io.popen(("cd /tmp && echo $$; exec env %s %s --api-key example-key --call-seconds 0.4")
            :format(paths(l.tree, l.version, true), q(l.tree .. "/bin/hamsa-mock"))))
        local pid = tonumber(proc:read("*l"))
        local line = proc:read("*l")
        mock = { pid = pid, proc = proc, url = line and line:match("^listening (http://%S+)$") }
        assert.is_not_nil(mock.url, "hamsa-mock said: " .. tostring(line))
    end)

    for _, l in ipairs(LUAS) do
        it("runs the quickstart on " .. l.name .. " from its tree alone", function()
            if skip() then return end
            assert(l.installed and mock and mock.url, "the tree or the mock is missing")
            local out = sh(("cd /tmp && HAMSA_BASE_URL=%s HAMSA_API_KEY=example-key %s timeout 30 %s %s"):format(
                q(mock.url), paths(l.tree, l.version, false), l.lua, q(root .. "/examples/quickstart.lua")))
            assert.matches("exit=0", out, 1, true)
            for _, pattern in ipairs({ "created  agent %x+", "cloned   agent", "updated  agent .* pokeMessages=0",
                                       "placed   call  jobId=%x+%-", "ended    COMPLETED after %d+ s" }) do
                assert.matches(pattern, out)
            end
        end)
    end
end)
