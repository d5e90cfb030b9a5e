-- The editor types (types/hamsa.lua, docs/types.md): the committed file is
-- what scripts/gen-types.lua writes from the code now (else `make types` was
-- not run after a change), and it names every route, option and error kind.
-- The generator always runs on lua5.4 with the 5.4 core (build/hamsa/core.so,
-- as `make types` runs it), whatever Lua runs this spec.
local helpers = require "spec.helpers"
local routes = require "hamsa.routes"
local config = require "hamsa.config"
local errors = require "hamsa.errors"
local client_mod = require "hamsa.client"
local resources = require "hamsa.resources"
local core = require "hamsa.core"

local ROOT, quote = helpers.root, helpers.quote
local TYPES = ROOT .. "/types/hamsa.lua"

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

-- Runs a shell command; its output and exit status (a number on every Lua).
local function run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1; echo \"rc=$?\""))
    local text = p:read("*a")
    p:close()
    local out, rc = text:match("^(.-)rc=(%d+)%s*$")
    return out, tonumber(rc)
end

-- The generator's output into a temporary file: its path, or nil and why.
local function generate()
    local tmp = os.tmpname()
    local out, rc = run(("cd %s && LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;'"
        .. " lua5.4 scripts/gen-types.lua %s"):format(quote(ROOT), quote(tmp)))
    if rc ~= 0 then
        os.remove(tmp)
        return nil, "scripts/gen-types.lua failed (exit " .. tostring(rc) .. "):\n" .. out
    end
    return tmp
end

-- The classes of the file: name -> { fields = { name -> type }, methods = { name -> doc } },
-- from `---@class`, `---@field`, `local Var = {}` and `function Var:name(` lines.
local function parse(text)
    local classes, var_class, current, doc = {}, {}, nil, nil
    for line in text:gmatch("[^\n]*") do
        local name = line:match("^%-%-%-@class ([%w_.]+)")
        if name then
            current = { fields = {}, methods = {} }
            classes[name] = current
        end
        local field, ty = line:match("^%-%-%-@field ([%w_]+)%??%s+(%S+)")
        if field and current then current.fields[field] = ty end
        local var = line:match("^local ([%w_]+) = {}$")
        if var and current then
            for cname, c in pairs(classes) do
                if c == current then var_class[var] = cname end
            end
        end
        local d = line:match("^%-%-%- (.*)$")
        if d then doc = d end
        local v, method = line:match("^function ([%w_]+):([%w_]+)%(")
        if v then
            local c = classes[var_class[v] or ""]
            if c then c.methods[method] = doc or "" end
            doc = nil
        end
    end
    return classes
end

-- The class of `client.<resource>` ("v2.agents": through the field v2).
local function resource_class(classes, resource)
    local class = classes["hamsa.Client"]
    for part in resource:gmatch("[^.]+") do
        local ty = class and class.fields[part]
        class = ty and classes[ty]
    end
    return class
end

describe("editor types (types/hamsa.lua)", function()
    local text, classes

    setup(function()
        text = read(TYPES)
        classes = parse(text)
    end)

    it("is what scripts/gen-types.lua writes (else run `make types` and commit)", function()
        local tmp, why = generate()
        assert.is_not_nil(tmp, why)
        local fresh = read(tmp)
        local diff = run(("diff -u %s %s | head -60"):format(quote(TYPES), quote(tmp)))
        os.remove(tmp)
        assert.is_true(fresh == text, "types/hamsa.lua differs from the generator's output"
            .. " (run `make types` and commit it):\n" .. diff)
    end)

    it("is a LuaLS meta file of the hamsa module, valid Lua", function()
        assert.equal("---@meta\n", text:sub(1, 9))
        assert.is_truthy(classes["hamsa"], "no ---@class hamsa")
        assert.is_truthy(text:find("\nfunction hamsa.new%(opts%) end\n"), "no hamsa.new")
        assert.is_truthy(text:find("\nreturn hamsa\n$"), "does not end with return hamsa")
        local chunk, err = (loadstring or load)(text, "=types/hamsa.lua")
        assert.is_truthy(chunk, "does not load as Lua: " .. tostring(err))
    end)

    it("has every route of hamsa.routes as a method of its resource, with its HTTP line", function()
        for _, row in ipairs(routes) do
            local where = "client." .. row.resource .. ":" .. row.name
            local class = resource_class(classes, row.resource)
            assert.is_truthy(class, "no class for client." .. row.resource)
            assert.equal(row.method .. " " .. row.path, class.methods[row.name], where)
            if row.validate and row.body then
                assert.is_truthy(text:find("rule set `hamsa.validate." .. row.validate .. "`", 1, true),
                    where .. ": no class for the rule set " .. row.validate)
            end
        end
    end)

    it("has every method of every resource class (each, wait) and of the client", function()
        for resource, class in pairs(resources.CLASSES) do
            local typed = resource_class(classes, resource)
            for name, v in pairs(class) do
                if type(v) == "function" and not name:find("^_") then
                    assert.is_truthy(typed.methods[name], "client." .. resource .. ":" .. name)
                end
            end
        end
        for name, v in pairs(client_mod.Client) do
            if type(v) == "function" and not name:find("^_") then
                assert.is_truthy(classes["hamsa.Client"].methods[name], "client:" .. name)
            end
        end
    end)

    it("has every client option and every request option", function()
        for name in pairs(config.CLIENT_OPTIONS) do
            assert.is_truthy(classes["hamsa.ClientOptions"].fields[name], "hamsa.new option " .. name)
        end
        for name in pairs(config.REQUEST_OPTIONS) do
            assert.is_truthy(classes["hamsa.RequestOptions"].fields[name], "request option " .. name)
        end
    end)

    it("lists exactly the error kinds the library makes", function()
        local made = {}
        for status = 400, 599 do made[errors.kind_for_status(status)] = true end
        for name in pairs(core.curl_errors) do made[(errors.transport(name))] = true end
        made[(errors.transport("RESPONSE_TOO_LARGE"))] = true
        made[errors.invalid("f", "m").kind] = true
        -- errors.new("<kind>", ...) anywhere in the library
        local files = run("cd " .. quote(ROOT) .. " && find lua -name '*.lua' | sort")
        for path in files:gmatch("[^\n]+") do
            for kind in read(ROOT .. "/" .. path):gmatch("errors%.new%(\"([%w_]+)\"") do made[kind] = true end
        end
        local alias = text:match("\n%-%-%-@alias hamsa%.ErrorKind ([^\n]+)")
        assert.is_truthy(alias, "no ---@alias hamsa.ErrorKind")
        local listed = {}
        for kind in alias:gmatch("\"([%w_]+)\"") do listed[kind] = true end
        assert.same(made, listed, "hamsa.ErrorKind (passed in) against the kinds the code makes (expected)")
        assert.equal("hamsa.ErrorKind", classes["hamsa.Error"].fields.kind)
    end)

    -- (spec/96 checks the installed rock holds it)
    for _, path in ipairs({ "hamsa-scm-1.rockspec", "rockspecs/hamsa-" .. core._VERSION .. "-1.rockspec" }) do
        it("ships with the library's rock (build.copy_directories of " .. path .. ")", function()
            local env, src = {}, read(ROOT .. "/" .. path)
            local chunk
            if setfenv then         -- Lua 5.1, LuaJIT
                chunk = assert(loadstring(src))
                setfenv(chunk, env)
            else
                chunk = assert(load(src, "rockspec", "t", env))
            end
            chunk()
            local dirs = {}
            for _, d in ipairs(env.build.copy_directories or {}) do dirs[d] = true end
            assert.is_true(dirs.types == true, "build.copy_directories lacks \"types\"")
        end)
    end
end)
