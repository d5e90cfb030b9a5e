--- Fast acceptors in front of hamsa.validate's checkers.
--
-- A compiled object checker walks a body with `next`, looks each key up, calls a closure
-- per field and often one per element. Yet nearly every body it sees is valid, and then
-- all that work only says "yes". So each rule set described by hamsa.validate.checks
-- (`checks.describe`) is also compiled, once, into Lua source with the same rules written
-- out straight (a field read by name, its test inline, no closure call, no string built)
-- and loaded as one function, the acceptor. It answers one thing: true when the body is
-- certainly valid. Anything it does not model, or any doubt (a `null` where null is
-- refused, a float where an integer is due, a slot with keys besides from/to), gives
-- false, and then the checker runs and alone writes the message. So the acceptor never
-- decides a refusal, and `acceptor(b) == true` implying "the checker accepts b" is the
-- only thing it must keep (spec/23-validate_fast_spec.lua checks it on random mutations).
--
-- What it cannot shed: every key of every table is still visited with `next` (a key no
-- rule names may hold a non-string key or a table to check), and each table and scalar
-- still needs a `type` or `getmetatable`. On Lua 5.4 those C calls are most of both
-- walks, so the gain there is a fifth to a third; on LuaJIT, which compiles them, most
-- of the checker's cost was the closures, and a third to over half of it goes.
-- @module hamsa.validate.fast

local type, next, pairs, ipairs = type, next, pairs, ipairs
local format, find, concat = string.format, string.find, table.concat
local load = loadstring or load -- luacheck: ignore loadstring (5.1: load takes no string)

local core = require "hamsa.core"
local json, shape = core.json, core.shape
local C = require "hamsa.validate.checks"
local describe = C.describe
local native_acceptor = require("hamsa.validate.native").acceptor

local M = {}

-- The values the generated code reads as upvalues; each chunk declares them as locals.
local BASE = {
    type = type, next = next, getmetatable = getmetatable, find = find, floor = math.floor,
    math_type = math.type, huge = math.huge, null = json.null,
    ARRAY_MT = json.array_mt, OBJECT_MT = json.object_mt, check_free = C.check_free,
    object_size = shape.object_size, array_size = shape.array_size, string_array = shape.string_array,
}
local BASE_NAMES = {}
for k in pairs(BASE) do BASE_NAMES[#BASE_NAMES + 1] = k end
table.sort(BASE_NAMES)

local MAX_INTEGER = 2 ^ 53

-- A generator of one chunk: lines of source, and the values it needs as upvalues.
local function new_unit()
    local u = { lines = {}, values = {}, names = {}, slot = {}, count = 0 }
    -- The name of an upvalue holding `value` (one per distinct value).
    function u.const(value)
        local name = u.slot[value]
        if not name then
            u.values[#u.values + 1] = value
            name = "K" .. #u.values
            u.slot[value] = name
        end
        return name
    end
    function u.var(prefix)
        u.count = u.count + 1
        return prefix .. u.count
    end
    function u.emit(s) u.lines[#u.lines + 1] = s end
    return u
end

-- A number as source: a literal when it reads back exactly, else an upvalue.
local function number(u, n)
    local s = format("%.17g", n)
    if n == n and n ~= math.huge and n ~= -math.huge then
        if math.type and math.type(n) == "integer" then s = format("%d", n) end
        local f = load("return " .. s)
        if f and f() == n then return "(" .. s .. ")" end
    end
    return u.const(n)
end

-- A field of `t` as source: `t.name` for identifiers, else `t["..."]`.
local function index(t, k)
    if find(k, "^[%a_][%w_]*$") and not ({ ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1,
        ["elseif"] = 1, ["end"] = 1, ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1,
        ["if"] = 1, ["in"] = 1, ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1,
        ["repeat"] = 1, ["return"] = 1, ["then"] = 1, ["true"] = 1, ["until"] = 1,
        ["while"] = 1 })[k] then
        return t .. "." .. k
    end
    return t .. "[" .. format("%q", k) .. "]"
end

local gen

-- Statements that `return false` unless the checker `check` certainly accepts the value
-- in the local `v` (never nil; `null` only where the rule set lets it reach the check).
gen = function(u, check, v)
    local d = describe[check]
    local kind = d and d.kind
    local emit = u.emit
    if kind == "string" then
        emit("if type(" .. v .. ") ~= 'string' then return false end")
    elseif kind == "nonempty" then
        emit("if type(" .. v .. ") ~= 'string' or not find(" .. v .. ", '%S') then return false end")
    elseif kind == "boolean" then
        emit("if " .. v .. " ~= true and " .. v .. " ~= false then return false end")
    elseif kind == "integer_min" or kind == "integer_range" then
        local lo = number(u, kind == "integer_min" and d.min or d.lo)
        local hi = number(u, kind == "integer_min" and MAX_INTEGER or d.hi)
        if math.type then
            -- only integer subtypes: a float (even 800.0, or one from 1e15 up that the
            -- checker refuses) goes to the checker
            emit("if math_type(" .. v .. ") ~= 'integer' or " .. v .. " < " .. lo .. " or "
                .. v .. " > " .. hi .. " then return false end")
        else
            emit("if type(" .. v .. ") ~= 'number' or not (" .. v .. " >= " .. lo .. " and "
                .. v .. " <= " .. hi .. ") or " .. v .. " ~= floor(" .. v .. ") then return false end")
        end
    elseif kind == "number_positive" then
        emit("if type(" .. v .. ") ~= 'number' or not (" .. v .. " > 0 and " .. v
            .. " < huge) then return false end")
    elseif kind == "number_range" then
        emit("if type(" .. v .. ") ~= 'number' or not (" .. v .. " >= " .. number(u, d.lo)
            .. " and " .. v .. " <= " .. number(u, d.hi) .. ") then return false end")
    elseif kind == "enum" then
        emit("if not " .. u.const(d.set) .. "[" .. v .. "] then return false end")
    elseif kind == "accept" then
        emit("if not " .. u.const(d.fn) .. "(" .. v .. ") then return false end")
    elseif kind == "array" then
        -- the form, the keys 1..n (and, for strings, the elements) in one C call
        local n, i, e = u.var("n"), u.var("i"), u.var("e")
        local strings = describe[d.elem] and describe[d.elem].kind == "string"
        emit("local " .. n .. " = " .. (strings and "string_array(" or "array_size(") .. v .. ")")
        emit("if not " .. n .. " then return false end")
        if d.nonempty then emit("if " .. n .. " == 0 then return false end") end
        if not strings then
            emit("for " .. i .. " = 1, " .. n .. " do")
            emit("local " .. e .. " = " .. v .. "[" .. i .. "]")
            gen(u, d.elem, e)
            emit("end")
        end
    elseif kind == "object" then
        local seen, n = u.var("seen"), u.var("n")
        -- the form and the key count in one C call (core.shape)
        emit("local " .. n .. " = object_size(" .. v .. ")")
        emit("if not " .. n .. " then return false end")
        if next(d.fields) == nil and not d.required then
            -- any object (llmConfig): every key is unknown, one pass
            emit("for k, x in next, " .. v .. " do")
            emit("if type(k) ~= 'string' then return false end")
            emit("if type(x) == 'table' and check_free(x, 1) ~= nil then return false end")
            emit("end")
            return
        end
        emit("local " .. seen .. " = 0")
        local required = {}
        for _, k in ipairs(d.required or {}) do required[k] = true end
        -- in a fixed order, so the generated source is the same on every run
        local keys = {}
        for k in next, d.fields do keys[#keys + 1] = k end
        table.sort(keys)
        for _, k in ipairs(keys) do
            local f = u.var("f")
            emit("do local " .. f .. " = " .. index(v, k))
            emit("if " .. f .. " ~= nil then " .. seen .. " = " .. seen .. " + 1")
            if d.nonnull[k] then
                emit("if " .. f .. " == null then return false end")
                gen(u, d.fields[k], f)
            else
                emit("if " .. f .. " ~= null then")
                gen(u, d.fields[k], f)
                emit("end")
            end
            if required[k] then emit("else return false") end
            emit("end end")
        end
        for k in next, required do
            if d.fields[k] == nil then emit("if " .. index(v, k) .. " == nil then return false end") end
        end
        -- keys no rule names: any string key passes, a table under it only in the form
        -- the encoder sends unchanged (check_free, called as the checker calls it)
        emit("if " .. n .. " ~= " .. seen .. " then")
        emit("for k, x in next, " .. v .. " do")
        emit("if " .. u.const(d.fields) .. "[k] == nil then")
        emit("if type(k) ~= 'string' then return false end")
        emit("if type(x) == 'table' and check_free(x, 1) ~= nil then return false end")
        emit("end end end")
    else
        -- a custom checker: run it; it says nothing on success
        emit("if " .. u.const(check) .. "(" .. v .. ") ~= nil then return false end")
    end
end

-- The source of the acceptor of `check`, and the values of its upvalues.
local function compile(check)
    local u = new_unit()
    gen(u, check, "t")
    local head = { "local BASE, K = ..." }
    for _, name in ipairs(BASE_NAMES) do head[#head + 1] = "local " .. name .. " = BASE." .. name end
    for i = 1, #u.values do head[#head + 1] = "local K" .. i .. " = K[" .. i .. "]" end
    head[#head + 1] = "return function(t)"
    local src = concat(head, "\n") .. "\n" .. concat(u.lines, "\n") .. "\nreturn true\nend\n"
    return src, u.values
end

local cache = setmetatable({}, { __mode = "k" })

--- The Lua acceptor of a checker: `function(v)` that returns true only when `check(v)`
-- returns nothing, and false when it is unsure. The same function for the same checker.
-- @tparam function check a checker built by hamsa.validate.checks (or any checker)
-- @treturn function
function M.lua_acceptor(check)
    local a = cache[check]
    if a then return a end
    local src, values = compile(check)
    local chunk = assert(load(src, "=hamsa.validate.fast"))
    a = chunk(BASE, values)
    cache[check] = a
    return a
end

--- The acceptor to use: the C walker's (hamsa.validate.native) on PUC Lua, where it is
-- several times faster, the Lua one on LuaJIT.
-- @tparam function check
-- @treturn function
function M.acceptor(check)
    return native_acceptor(check) or M.lua_acceptor(check)
end

--- The generated source of a checker's acceptor (to read it, or debug it).
-- @function source
M.source = function(check) return (compile(check)) end

return M
