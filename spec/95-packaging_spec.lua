-- The rockspec installs the library offline, and the installed copy works.
local helpers = require "spec.helpers"

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    return out
end

describe("packaging", function()
    local tree

    setup(function()
        tree = os.tmpname()
        os.remove(tree)
    end)

    teardown(function()
        sh("rm -rf " .. helpers.quote(tree) .. " " .. helpers.quote(helpers.root .. "/hamsa") ..
           " " .. helpers.root .. "/csrc/*.o")
    end)

    it("luarocks make --deps-mode=none installs it offline", function()
        if not sh("command -v luarocks"):find("luarocks") then
            pending("luarocks is not installed")
            return
        end
        local out = sh(("cd %s && luarocks --lua-version=5.4 --tree=%s make --deps-mode=none hamsa-*.rockspec")
            :format(helpers.quote(helpers.root), helpers.quote(tree)))
        assert.matches("exit=0", out, 1, true)
        assert.matches("is now installed", out, 1, true)

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
    end)
end)
