--- Spec helper: where in a graph of Lua values a secret can be found.
-- Used by spec/61-key_reach_spec.lua (and by the child process it starts),
-- so it uses nothing but the debug library and never the library under test.
--
--     local keywalk = require "spec.keywalk"
--     local state = keywalk.module_state(KEY)      -- module internals, once
--     keywalk.reaches(client, KEY, { name = "client", stop = state.values })
--     --> "client._headers[3]" (the first place it was found), or nil
--
-- What a walk follows from a value:
--   table     every raw key and value (`next`, never `__pairs`/`__index`),
--             its metatable (`debug.getmetatable`), and `tostring` of it when
--             the metatable has a `__tostring`;
--   function  its upvalues (`debug.getupvalue`), except one named `_ENV`;
--   userdata  its metatable, its user values (`debug.getuservalue`, 5.2+;
--             every one of them on 5.4) or its environment (`debug.getfenv`,
--             5.1 and LuaJIT), and `tostring` as for tables;
--   string    a hit when it holds the secret as is, or once its JSON escapes
--             (`\/`, `\u002B`, `\u0041`, ...) are undone.
-- What it does not follow: the globals (`_G`, an `_ENV` upvalue, a 5.1
-- function environment), `package.loaded` and every module in it, the
-- registry, and whatever the caller passes in `stop`. Coroutines are not
-- entered: the locals on a suspended coroutine's stack (`debug.getlocal`)
-- are out of scope, and so are bytes kept on the C side (libcurl's header
-- lists), which no Lua walk can see.
local M = {}

local type, next, pairs, pcall, tostring, tonumber, rawget =
    type, next, pairs, pcall, tostring, tonumber, rawget
local find, match, sub, char, format, gsub =
    string.find, string.match, string.sub, string.char, string.format, string.gsub
local concat = table.concat
local getmetatable, getupvalue = debug.getmetatable, debug.getupvalue
local getuservalue, getfenv = debug.getuservalue, debug.getfenv   -- either may be nil

-- 5.4 gives userdata any number of user values: getuservalue(u, n) answers
-- the value and whether u has an n-th one; 5.2 and 5.3 one value, no flag.
local MANY_USER_VALUES = getuservalue ~= nil and _VERSION >= "Lua 5.4" and rawget(_G, "jit") == nil

local SIMPLE = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

--- Undoes the escapes of a JSON string's content. Code points over 127
-- become NUL, which no API key holds (hamsa.new refuses it).
-- @tparam string s
-- @treturn string
function M.json_unescape(s)
    if not find(s, "\\", 1, true) then return s end
    local out, n, i = {}, 0, 1
    while true do
        local j = find(s, "\\", i, true)
        n = n + 1
        if not j then
            out[n] = sub(s, i)
            break
        end
        out[n] = sub(s, i, j - 1)
        local c = sub(s, j + 1, j + 1)
        local hex = c == "u" and match(s, "^%x%x%x%x", j + 2)
        n = n + 1
        if hex then
            local cp = tonumber(hex, 16)
            out[n] = cp < 128 and char(cp) or "\0"
            i = j + 6
        elseif SIMPLE[c] then
            out[n] = SIMPLE[c]
            i = j + 2
        else
            out[n] = "\\"
            i = j + 1
        end
    end
    return concat(out)
end

--- How `s` holds `needle`: "plain", "JSON-escaped", or nil.
function M.find_in(s, needle)
    if find(s, needle, 1, true) then return "plain" end
    if find(s, "\\", 1, true) and find(M.json_unescape(s), needle, 1, true) then return "JSON-escaped" end
    return nil
end

-- A string fit for a path: the needle itself never shows.
local function show(s, needle)
    if needle then s = gsub(s, (gsub(needle, "%W", "%%%0")), "<KEY>") end
    if #s > 40 then s = sub(s, 1, 37) .. "..." end
    return (gsub(format("%q", s), "\\\n", "\\n"))
end

local function field(path, k, needle)
    if type(k) == "string" then
        if match(k, "^[%a_][%w_]*$") then return path .. "." .. k end
        return path .. "[" .. show(k, needle) .. "]"
    end
    if type(k) == "number" or type(k) == "boolean" then return path .. "[" .. tostring(k) .. "]" end
    return path .. "[<" .. type(k) .. ">]"
end

-- Values a walk never enters: the globals, the loaded modules, the registry.
local function global_stops()
    local stop = { [_G] = true, [package.loaded] = true, [debug.getregistry()] = true }
    for _, mod in pairs(package.loaded) do
        if type(mod) == "table" or type(mod) == "function" or type(mod) == "userdata" then stop[mod] = true end
    end
    return stop
end
M.global_stops = global_stops

local function weak_keys(t)
    local mt = getmetatable(t)
    local mode = type(mt) == "table" and rawget(mt, "__mode")
    return type(mode) == "string" and find(mode, "k", 1, true) ~= nil
end

--- Walks everything reachable from the roots, breadth first (so a path is
-- a shortest one).
-- @tparam table roots a list of `{ name, value }`
-- @tparam string|nil needle what to look for (nil: only visit)
-- @tparam[opt] table opts
--   `stop` (set of values not to enter, beside the globals and modules),
--   `modules` (set of modules to enter anyway), `max` (hits to collect, default 1),
--   `private` (a list: weak-keyed tables are then not entered, only their string
--   keys are looked at, and their paths are added to the list)
-- @treturn table the hits, paths like `client._headers[3]`
-- @treturn table the set of values visited
function M.walk(roots, needle, opts)
    opts = opts or {}
    local max = opts.max or 1
    local stop = global_stops()
    for v in pairs(opts.stop or {}) do stop[v] = true end
    for v in pairs(opts.modules or {}) do stop[v] = nil end
    local hits, seen = {}, {}
    local qv, qp, head, tail = {}, {}, 1, 0

    local function hit(path)
        hits[#hits + 1] = path
        return #hits >= max
    end
    -- a string is looked at where it is met; anything else is queued once
    local function visit(v, path)
        local tv = type(v)
        if tv == "string" then
            local how = needle and M.find_in(v, needle)
            if how then return hit(how == "plain" and path or path .. " (JSON-escaped)") end
        elseif (tv == "table" or tv == "function" or tv == "userdata" or tv == "thread")
            and not seen[v] and not stop[v] then
            seen[v] = true
            tail = tail + 1
            qv[tail], qp[tail] = v, path
        end
        return false
    end
    local function shown(v, path)
        local mt = getmetatable(v)
        if type(mt) == "table" and rawget(mt, "__tostring") ~= nil then
            local ok, s = pcall(tostring, v)
            if ok and type(s) == "string" then return visit(s, "tostring(" .. path .. ")") end
        end
        return false
    end

    for _, root in ipairs(roots) do
        if visit(root[2], root[1]) then return hits, seen end
    end
    while head <= tail do
        local v, path = qv[head], qp[head]
        qv[head], qp[head] = nil, nil
        head = head + 1
        local tv = type(v)
        if tv == "table" then
            if opts.private and weak_keys(v) then
                -- a private store: it holds values for as long as their keys
                -- (the instances) live; a string key would stay for ever
                opts.private[#opts.private + 1] = path
                for k in next, v do
                    if type(k) == "string" and visit(k, path .. "[" .. show(k, needle) .. "] (a key)") then
                        return hits, seen
                    end
                end
            else
                for k, x in next, v do
                    if type(k) == "string" then
                        if needle and M.find_in(k, needle) and hit(path .. "[" .. show(k, needle) .. "] (a key)") then
                            return hits, seen
                        end
                    elseif visit(k, "<key of " .. field(path, k, needle) .. ">") then
                        return hits, seen
                    end
                    if visit(x, field(path, k, needle)) then return hits, seen end
                end
            end
            if visit(getmetatable(v), "getmetatable(" .. path .. ")") or shown(v, path) then return hits, seen end
        elseif tv == "function" then
            local i = 1
            while true do
                local name, x = getupvalue(v, i)
                if name == nil then break end
                if name ~= "_ENV" then
                    local label = name ~= "" and name ~= "?" and name or "#" .. i
                    if visit(x, "<upvalue " .. label .. " of " .. path .. ">") then return hits, seen end
                end
                i = i + 1
            end
        elseif tv == "userdata" then
            if visit(getmetatable(v), "getmetatable(" .. path .. ")") then return hits, seen end
            if getuservalue and MANY_USER_VALUES then
                for n = 1, 64 do
                    local x, has = getuservalue(v, n)
                    if not has then break end
                    if visit(x, "<uservalue " .. n .. " of " .. path .. ">") then return hits, seen end
                end
            elseif getuservalue then
                if visit(getuservalue(v), "<uservalue of " .. path .. ">") then return hits, seen end
            elseif getfenv then
                if visit(getfenv(v), "<environment of " .. path .. ">") then return hits, seen end
            end
            if shown(v, path) then return hits, seen end
        end
        -- a thread: seen, not entered (its stack is out of scope)
    end
    return hits, seen
end

--- The first place `needle` is found from `root`, or nil.
-- @tparam any root
-- @tparam string needle
-- @tparam[opt] table opts `name` (of the root, default "root"), `stop`
-- @treturn string|nil
function M.reaches(root, needle, opts)
    opts = opts or {}
    local hits = M.walk({ { opts.name or "root", root } }, needle, { stop = opts.stop, max = 1 })
    return hits[1]
end

--- Module state: what the loaded modules named `prefix` (default "hamsa")
-- reach, upvalues of their functions included. Its weak-keyed tables are
-- the private stores (the `SECRETS` of hamsa.client): their values are
-- not entered.
-- @tparam[opt] string needle
-- @tparam[opt] string prefix
-- @treturn table `{ values = set of everything visited, hits = {...}, private = {...} }`
function M.module_state(needle, prefix)
    prefix = prefix or "hamsa"
    local roots, modules = {}, {}
    local names = {}
    for name in pairs(package.loaded) do
        if name == prefix or sub(name, 1, #prefix + 1) == prefix .. "." then names[#names + 1] = name end
    end
    table.sort(names)
    for _, name in ipairs(names) do
        roots[#roots + 1] = { name, package.loaded[name] }
        modules[package.loaded[name]] = true
    end
    local private = {}
    -- no early stop: `values` must be complete to serve as a boundary
    local hits, seen = M.walk(roots, needle, { modules = modules, max = math.huge, private = private })
    return { values = seen, hits = hits, private = private }
end

return M
