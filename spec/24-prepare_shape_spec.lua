-- The array places of a body (hamsa.prepare's shapes, applied by the
-- encoder) against the Lua walk they replaced (spec/prepare_reference.lua,
-- which copied the body along the changed paths): on random bodies of every
-- route that has a preparation, both must put the same JSON on the wire,
-- and neither may touch the caller's tables.
local core = require "hamsa.core"
local prepare = require "hamsa.prepare"
local reference = dofile("spec/prepare_reference.lua")

local json = core.json
local encode, decode, null = json.encode, json.decode, json.null
local array, object = json.array, json.object

-- A table's wire form, compared as decoded values: marks kept (decode marks
-- `[]` and `{}`), key order ignored.
local function same_wire(a, b)
    if type(a) ~= type(b) then return false end
    if type(a) ~= "table" then return a == b end
    if getmetatable(a) ~= getmetatable(b) then return false end
    for k, v in next, a do
        if not same_wire(v, b[k]) then return false end
    end
    for k in next, b do
        if a[k] == nil then return false end
    end
    return true
end

local rnd = math.random

-- Random values that stress the places: empty plain tables (the case),
-- marked empties, sequences, objects, scalars, null.
local function leaf()
    local r = rnd(10)
    if r == 1 then return {} end
    if r == 2 then return array() end
    if r == 3 then return object() end
    if r == 4 then return null end
    if r == 5 then return { "a", "b" } end
    if r == 6 then return { x = {} } end
    if r == 7 then return rnd(100) end
    if r == 8 then return "s" end
    if r == 9 then return true end
    return { {} }
end

local function shape_value(depth)
    if depth > 3 or rnd(3) == 1 then return leaf() end
    local t = rnd(4) == 1 and array() or {}
    for _, k in ipairs({ "type", "required", "items", "properties", "description", "enum" }) do
        if rnd(2) == 1 then
            if k == "properties" then
                local props = rnd(4) == 1 and leaf() or {}
                if type(props) == "table" and getmetatable(props) == nil and rnd(2) == 1 then
                    props.a, props.required = shape_value(depth + 1), shape_value(depth + 1)
                end
                t[k] = props
            elseif k == "items" then
                t[k] = shape_value(depth + 1)
            else
                t[k] = leaf()
            end
        end
    end
    return t
end

local function days()
    local t = rnd(5) == 1 and leaf() or {}
    if type(t) == "table" and getmetatable(t) == nil then
        for _, d in ipairs({ "Monday", "Tuesday", "Friday" }) do
            if rnd(2) == 1 then t[d] = rnd(3) == 1 and { { from = "09:00", to = "12:00" } } or leaf() end
        end
    end
    return t
end

local function agent(v2)
    local b = { agentName = "Sara" }
    local places = v2 and { "tools", "knowledgeBaseItemsIds", "voiceDictionaryIds" }
        or { "pokeMessages", "webToolsIds", "voiceDictionaryIds", "knowledgeBaseItemsIds", "llmConfig", "params" }
    for _, k in ipairs(places) do
        if rnd(2) == 1 then b[k] = leaf() end
    end
    if v2 then
        if rnd(2) == 1 then b.conversation = rnd(3) == 1 and leaf() or { pokeMessages = leaf() } end
    else
        if rnd(2) == 1 then b.freeSlots = days() end
        if rnd(2) == 1 then
            b.googleCalendarSettings = rnd(4) == 1 and leaf() or { freeSlots = days(), timezone = "UTC" }
        end
    end
    if rnd(2) == 1 then b.outcomeResponseShape = shape_value(1) end
    return b
end

local BODIES = {
    agent = function() return agent(false) end,
    agent_v2 = function() return agent(true) end,
    call = function()
        local b = { toNumber = "+971501234567" }
        local r = rnd(4)
        if r == 1 then b.agentDetails = agent(false)
        elseif r == 2 then b.voiceAgentId = "a1"
        elseif r == 3 then b.voiceAgentId, b.params = "a1", leaf()
        else b.voiceAgentId, b.agentDetails = "a1", leaf() end
        return b
    end,
    campaign = function()
        local b = { name = "c" }
        if rnd(3) > 1 then b.timeRange = rnd(4) == 1 and leaf() or { days = leaf(), start = "09:00" } end
        return b
    end,
    knowledge_base = function()
        local items = rnd(3) == 1 and array() or {}
        for i = 1, rnd(3) do items[i] = rnd(4) == 1 and leaf() or { itemUrls = leaf(), name = "n" } end
        if rnd(6) == 1 then items = { a = { itemUrls = {} } } end
        return { items = items }
    end,
}

-- A deep copy, to see that neither side touched the caller's tables.
local function copy(v, seen)
    if type(v) ~= "table" then return v end
    seen = seen or {}
    if seen[v] then return seen[v] end
    local t = setmetatable({}, getmetatable(v))
    seen[v] = t
    for k, x in next, v do t[k] = copy(x, seen) end
    return t
end

describe("hamsa.prepare's array places", function()
    local seed = tonumber(os.getenv("HAMSA_SEED") or "") or os.time()
    it(("put the same wire as the copying walk they replaced (seed %d)"):format(seed), function()
        print(("\n24-prepare_shape: seed %d (HAMSA_SEED=%d to replay)"):format(seed, seed))
        math.randomseed(seed)
        local rounds, differ, refused = 0, 0, 0
        for name, make in pairs(BODIES) do
            for round = 1, 1500 do
                rounds = rounds + 1
                local body = make()
                local before = copy(body)
                local p = prepare[name]
                local ours = p.fn and p.fn(body) or body
                local got, gerr = encode(ours, 100, p.shape)
                local want, werr = encode(reference[name](body), 100)
                local where = ("seed %d, %s round %d: %s vs %s"):format(seed, name, round,
                    tostring(got or gerr), tostring(want or werr))
                if want then
                    assert(got and same_wire(decode(got), decode(want)), where)
                    if got ~= want then differ = differ + 1 end   -- key order only
                else
                    -- a body the encoder refuses (a mixed table), refused either way
                    assert(got == nil, where)
                    refused = refused + 1
                end
                assert(same_wire(body, before), where .. ": the caller's body changed")
            end
        end
        print(("24-prepare_shape: %d bodies, %d encoded with another key order, %d refused by the encoder")
            :format(rounds, differ, refused))
        assert.is_true(refused < rounds / 4)
    end)

    it("sends an empty plain table at an array place as [] and leaves marked ones alone", function()
        local p = prepare.agent
        assert.equal('{"pokeMessages":[]}', encode({ pokeMessages = {} }, 100, p.shape))
        assert.equal('{"pokeMessages":{}}', encode({ pokeMessages = object() }, 100, p.shape))
        assert.equal('{"llmConfig":{}}', encode({ llmConfig = {} }, 100, p.shape))
        assert.equal('{"freeSlots":{"Monday":[]}}', encode({ freeSlots = { Monday = {} } }, 100, p.shape))
        local deep = { outcomeResponseShape = { properties = { a = { items = { required = {} } } } } }
        assert.equal('{"outcomeResponseShape":{"properties":{"a":{"items":{"required":[]}}}}}',
            encode(deep, 100, p.shape))
    end)
end)
