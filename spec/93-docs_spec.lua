-- The reference manual against the code: the resource methods are made in
-- a loop (hamsa.resources, from the route table), so their LDoc entries
-- live in docs/resources.luadoc, written by hand. Here every method a
-- client has must have its entry, with its parameters in the order the
-- method takes them, and no entry may name a method that does not exist.
-- When the HTML reference is built (`make docs`; `make test` builds it
-- first), every method must have its anchor there too.
local routes = require "hamsa.routes"
local resources = require "hamsa.resources"

local DOC = "docs/resources.luadoc"
local HTML = "build/doc/modules/hamsa.resources.html"

local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
end

-- "agents:create" -> { "body", "opts" }: the @tparam names of each
-- @function block, in order
local function entries(text)
    local out, current = {}, nil
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        local fn = line:match("^%-%- @function ([%w_.]+:[%w_]+)%s*$")
        if fn then
            assert(not out[fn], DOC .. ": " .. fn .. " is documented twice")
            current = {}
            out[fn] = current
        elseif line:match("^%-%-%-") or not line:match("^%-%-") then
            current = nil
        elseif current then
            local name = line:match("^%-%- @tparam%S* %S+ ([%w_]+)")
            if name then current[#current + 1] = name end
        end
    end
    return out
end

-- the parameters each method takes, from the route table and the methods
-- made from rows (each, wait)
local function expected()
    local want = {}
    for _, row in ipairs(routes) do
        local params = {}
        for id in row.path:gmatch("{(%w+)}") do params[#params + 1] = id end
        for _, name in ipairs(row.body_args or {}) do params[#params + 1] = name end
        if row.body then params[#params + 1] = "body" end
        if row.query then params[#params + 1] = "query" end
        params[#params + 1] = "opts"
        want[row.resource .. ":" .. row.name] = params
        if row.paging and row.name == "list" then want[row.resource .. ":each"] = { "query", "opts" } end
    end
    for resource, class in pairs(resources.CLASSES) do
        if rawget(class, "wait") then
            local get = want[resource .. ":get"]
            want[resource .. ":wait"] = { get[1], "opts" }
        end
    end
    return want
end

describe("docs/resources.luadoc", function()
    local text = assert(read(DOC), "cannot read " .. DOC)
    local documented = entries(text)
    local want = expected()

    it("documents every method of every resource, parameters in order", function()
        local n = 0
        for resource, class in pairs(resources.CLASSES) do
            for name, fn in pairs(class) do
                if type(fn) == "function" and not name:match("^_") then
                    local key = resource .. ":" .. name
                    assert.is_table(want[key], "a method the route table does not explain: " .. key)
                    assert.is_table(documented[key], DOC .. " has no @function " .. key)
                    assert.same(want[key], documented[key], key .. ": @tparam names")
                    n = n + 1
                end
            end
        end
        assert.is_true(n >= #routes)
    end)

    it("documents no method that does not exist", function()
        for key in pairs(documented) do
            local resource, name = key:match("^(.+):(.+)$")
            local class = resources.CLASSES[resource]
            assert.is_table(class, DOC .. ": no resource " .. resource)
            assert.is_function(rawget(class, name), DOC .. ": no method " .. key)
        end
    end)

    -- API.md's promise for the manual: every public function with an example
    it("gives every function of the built reference a usage example (when built)", function()
        local p = io.popen("ls build/doc/modules/*.html 2>/dev/null")
        local pages = {}
        for line in p:lines() do pages[#pages + 1] = line end
        p:close()
        if #pages == 0 then return pending("build/doc is not built (make docs)") end
        local missing = {}
        for _, page in ipairs(pages) do
            local html = read(page)
            -- each entry: <dt> <a name = "NAME"></a> ... </dd>
            for name, body in html:gmatch('<dt>%s*<a name = "([^"]+)"></a>(.-)</dd>') do
                -- a function's entry: <strong>name (args)</strong>; a table's has no "("
                if body:find("<strong>[^<]*%(") and not body:find("Usage:", 1, true) then
                    missing[#missing + 1] = page:match("([^/]+)%.html$") .. " " .. name
                end
            end
        end
        assert.same({}, missing, "functions without @usage")
    end)

    it("has an anchor per method in the built reference (when built)", function()
        local html = read(HTML)
        if not html then return end     -- not built: `make docs`
        local anchors = {}
        for name in html:gmatch('<a name%s*=%s*"([^"]+)"') do anchors[name] = true end
        for key in pairs(want) do
            assert.is_true(anchors[key] == true, HTML .. " has no entry for " .. key
                .. " (stale? run make docs)")
        end
    end)
end)
