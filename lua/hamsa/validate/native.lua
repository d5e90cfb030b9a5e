--- Native acceptors: a rule set compiled into a program of hamsa.core's C walker
-- (core.shape.acceptor), in front of the Lua checkers like hamsa.validate.fast's
-- acceptors, with the same contract: true when the body is certainly valid, false when
-- unsure (the checker then runs and alone writes the message).
--
-- Why in C: on Lua 5.4 a call from Lua to a C function (type, next, getmetatable) costs a
-- few hundred instructions, and the Lua acceptor still needs one per key and per value,
-- which is most of a validation. The C walk pays a lua_next and a table read per key.
-- On LuaJIT, which compiles those calls away and pays instead for every call into C,
-- hamsa.validate.fast's Lua acceptor stays (`M.acceptor` returns nil there).
--
-- The nodes come from the descriptions hamsa.validate.checks records (`checks.describe`),
-- or, for a custom checker, from a structural description its module registers in
-- `M.structure` (agent.lua: params, free slots and their day entries, the outcome shape).
-- A checker with neither is called from C as it is (kind "check": nothing back means
-- accepted), which is always sound.
-- @module hamsa.validate.native

local type, next = type, next
local core = require "hamsa.core"
local C = require "hamsa.validate.checks"
local describe = C.describe

local M = {}

--- checker -> structural description, for custom checkers (weak keys):
-- `{ kind = "map", value = checker|description, keys = set?, null_ok = bool? }` (an object
-- whose every key is a string, of `keys` when given), `{ kind = "scalar" }` (a string, a
-- boolean or a finite number), `{ kind = "day_entry", slot = checker }` (a list of slots
-- when it goes out as an array, else one slot), or an object description of the form
-- `checks.describe` gives, which may name itself among its fields (a recursive shape).
M.structure = setmetatable({}, { __mode = "k" })

-- LuaJIT: the Lua acceptor is the faster one there.
local ENABLED = type(jit) ~= "table" -- luacheck: ignore jit

local SIMPLE = { string = true, nonempty = true, boolean = true, number_positive = true, scalar = true }

-- The nodes and values of `root`'s program (core.shape.acceptor's arguments).
local function compile(root)
    local nodes, values, index_of, slot_of = {}, { check_free = C.check_free }, {}, {}
    local function value(v)
        local i = slot_of[v]
        if not i then
            values[#values + 1] = v
            i = #values
            slot_of[v] = i
        end
        return i
    end
    local node_of
    node_of = function(x)
        local i = index_of[x]
        if i then return i end
        local d = x
        if type(x) == "function" then d = M.structure[x] or describe[x] end
        local n = {}
        nodes[#nodes + 1] = n
        i = #nodes
        index_of[x] = i                         -- before the parts: a shape may name itself
        local kind = d and d.kind
        if SIMPLE[kind] then
            n.kind = kind
        elseif kind == "integer_min" then
            n.kind, n.lo, n.hi = "integer", d.min, 2 ^ 53
        elseif kind == "integer_range" then
            n.kind, n.lo, n.hi = "integer", d.lo, d.hi
        elseif kind == "number_range" then
            n.kind, n.lo, n.hi = "number_range", d.lo, d.hi
        elseif kind == "enum" then
            n.kind, n.set = "enum", value(d.set)
        elseif kind == "accept" then
            n.kind, n.fn = "accept", value(d.fn)
        elseif kind == "array" then
            n.kind, n.nonempty, n.elem = "array", d.nonempty and 1 or 0, node_of(d.elem)
        elseif kind == "object" then
            local fields = {}
            n.kind = "object"
            for k, check in next, d.fields do fields[k] = node_of(check) end
            n.set = value(fields)
            if d.nonnull and next(d.nonnull) then n.nonnull = value(d.nonnull) end
            if d.required and d.required[1] then n.required = value(d.required) end
        elseif kind == "map" then
            n.kind, n.elem, n.null_ok = "map", node_of(d.value), d.null_ok and 1 or 0
            if d.keys then n.set = value(d.keys) end
        elseif kind == "day_entry" then
            n.kind, n.elem = "day_entry", node_of(d.slot)
        else
            n.kind, n.fn = "check", value(x)    -- custom: nothing back means accepted
        end
        return i
    end
    node_of(root)
    return nodes, values
end

local cache = setmetatable({}, { __mode = "k" })

--- The native acceptor of a checker, or nil on LuaJIT.
-- @tparam function check a checker built by hamsa.validate.checks (or a custom one)
-- @treturn function|nil `function(v) -> boolean`
function M.acceptor(check)
    if not ENABLED then return nil end
    local a = cache[check]
    if not a then
        a = core.shape.acceptor(compile(check))
        cache[check] = a
    end
    return a
end

M.compile = compile

return M
