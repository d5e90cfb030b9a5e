-- Specs for hamsa.validate.fast, the acceptors in front of the checkers: a seeded random
-- differential against the checkers alone. Valid bodies of every rule set are mutated at
-- random (wrong types, null, floats, huge numbers, blank and non-UTF-8 strings, foreign and
-- wrong marks, unknown keys, holes, deep nesting, cycles); every entry point must answer
-- exactly what it answers with no acceptor at all, and no acceptor may accept what its
-- checker refuses. HAMSA_SEED picks the seed; the rounds stop after a few seconds.
local json = require("hamsa.core").json
local null = json.null

local MODULES = { "hamsa.validate", "hamsa.validate.checks", "hamsa.validate.agent", "hamsa.validate.v2",
    "hamsa.validate.resources", "hamsa.validate.queries", "hamsa.validate.fast" }

-- A fresh copy of hamsa.validate and its rule sets; `wrap(fast)` (if given) stands in for
-- that copy's hamsa.validate.fast while the rule sets load.
local function load_validate(wrap)
    local saved = {}
    for _, name in ipairs(MODULES) do
        saved[name] = package.loaded[name]
        package.loaded[name] = nil
    end
    local real = require "hamsa.validate.fast"
    if wrap then package.loaded["hamsa.validate.fast"] = wrap(real) end
    local got = {
        validate = require "hamsa.validate",
        agent = require "hamsa.validate.agent",
        v2 = require "hamsa.validate.v2",
        resources = require "hamsa.validate.resources",
        queries = require "hamsa.validate.queries",
        fast = real,
    }
    for _, name in ipairs(MODULES) do package.loaded[name] = saved[name] end
    return got
end

-- The checkers alone: every acceptor says "not sure".
local old = load_validate(function()
    local never = function() return function() return false end end
    return { acceptor = never, lua_acceptor = never }
end)

-- The real thing, counting the bodies that its outermost acceptors let through alone.
local accepted, depth = 0, 0
local new = load_validate(function(real)
    return {
        lua_acceptor = real.lua_acceptor,
        acceptor = function(check)
            local accept = real.acceptor(check)
            return function(v)
                depth = depth + 1
                local ok, yes = pcall(accept, v)
                depth = depth - 1
                if not ok then error(yes, 0) end
                if yes and depth == 0 then accepted = accepted + 1 end
                return yes
            end
        end,
    }
end)
-- The acceptors of `new`'s own checkers, uncounted.
local fast = new.fast

local payload = dofile("bench/payload.lua")

local function deep_copy(v, seen)
    if type(v) ~= "table" then return v end
    seen = seen or {}
    if seen[v] then return seen[v] end
    local t = {}
    seen[v] = t
    for k, x in next, v do t[deep_copy(k, seen)] = deep_copy(x, seen) end
    return setmetatable(t, getmetatable(v))
end

local SHAPE = {
    type = "object",
    properties = { ok = { type = "boolean", description = "d" }, list = { type = "array", items = { type = "string" } } },
    required = { "ok" },
}

-- entry point, valid body (a function: a fresh one each time)
local BASES = {
    { "agent_create", payload.agent },
    { "agent_create", function()
        return { agentName = "Sara", lang = "en", greetingMessage = "hi {{x}}", preamble = "be nice",
            voiceId = "v1", interrupt = true, silenceThreshold = 500, responseDelay = 300, params = { x = 1 } }
    end },
    { "agent_update", function()
        local b = payload.agent()
        b.description, b.isTemplate, b.icon = "d", false, "i"
        return b
    end },
    { "agent_update", function() return { freeSlots = { Monday = { { { from = "a", to = "b" } } } } } end },
    { "agent_clone", function() return { agentName = "copy" } end },
    { "call_phone_number", function()
        return { toNumber = "+971501234567", phoneNumber = "+971501234568", agentDetails = payload.agent() }
    end },
    { "call_phone_number", function()
        return { toNumber = "+971501234567", phoneNumber = "+971501234568", voiceAgentId = "a1",
            params = { name = "x", n = 2, b = true } }
    end },
    { "call_twilio", function()
        return { toNumber = "+971501234567", twilioPhoneNumber = "+14155550100", agentDetails = payload.agent(),
            webhookUrl = "https://h.example/x", webhookAuth = { authKey = "k", authSecret = "s" } }
    end },
    { "call_start", function()
        return { toNumber = "+971501234567", fromNumber = "+971501234568", agentDetails = payload.agent(),
            webhookUrl = "https://h.example/x" }
    end },
    { "agent_v2_create", function()
        return { name = "v2", type = "x", tools = { { id = "t1" } }, knowledgeBaseItemsIds = { "k" },
            conversation = { greetingMessage = "hi", pokeMessages = { "p" }, params = { a = "b" },
                alignment = { preamble = "p" } },
            voice = { voiceId = "v", lang = "ar" },
            llm = { provider = "openai", temperature = 0.5, baseUrl = "https://llm.example" },
            callSettings = { responseDelay = 200, silenceThreshold = 10, waitForUserToSpeakFirst = 1.5,
                interrupt = true, minInterruptionDuration = 0.3 },
            outcomeResponseShape = deep_copy(SHAPE), webhookAuth = { authKey = "k", authSecret = "s" } }
    end },
    { "agent_v2_update", function() return { llm = { model = "m" }, voice = { lang = "en" } } end },
    { "phone_number_create", function()
        return { type = "TWILIO", phoneNumber = "+14155550100", label = "l", twilioAccountSid = "AC1",
            twilioAuthToken = "t" }
    end },
    { "phone_number_assign", function() return { voiceAgentId = "a", phoneNumber = "+14155550100" } end },
    { "phone_number_unassign", function() return { phoneNumber = "+14155550100" } end },
    { "campaign_create", function()
        return { name = "c", phoneNumber = "+14155550100", voiceAgentId = "a",
            recipients = { { phoneNumber = "+971501234567", name = "n", dynamicVariables = { a = 1 } },
                { phoneNumber = "local", ignoreE164Validation = true } },
            sendType = "NOW", timeRange = { days = { "MONDAY" }, startCallingTime = "09:00", endCallingTime = "17:00" },
            reservedConcurrency = 2, scheduledDate = "2026-12-03T09:00:00Z", scheduledTimezone = "Asia/Dubai" }
    end },
    { "campaign_update", function() return { name = "c" } end },
    { "knowledge_base_create", function()
        return { items = { { itemName = "a", itemUrl = "https://a.example", type = "URL",
            itemUrls = json.array({ "https://b.example" }), content = "x" } } }
    end },
    { "knowledge_base_update", function() return { itemName = "a" } end },
    { "knowledge_base_remove_url", function() return { url = "https://a.example" } end },
    { "agents_list_query", function() return { skip = 1, take = 10, search = "a" } end },
    { "conversations_list_query", function()
        return { voiceAgentId = "a", status = { "PENDING", "FAILED" }, startTime = 0, endTime = 10, page = 1,
            perPage = 20 }
    end },
    { "phone_numbers_list_query", function() return { skip = "1", take = 10, provider = "SIP" } end },
    { "campaigns_list_query", function() return { skip = 0, take = 10 } end },
    { "knowledge_base_list_query", function() return { type = { "URL" }, isActive = true } end },
}

-- The checkers that have acceptors of their own, to compare one to one.
local CHECKERS = {
    agent_create = new.agent.create, agent_update = new.agent.update, agent_clone = new.agent.clone,
    agent_v2_create = new.v2.create, agent_v2_update = new.v2.update,
}
for _, name in ipairs({ "phone_number_create", "phone_number_assign", "phone_number_unassign",
    "campaign_create", "campaign_update", "knowledge_base_create", "knowledge_base_update",
    "knowledge_base_remove_url" }) do
    CHECKERS[name] = new.resources[name]
end
for _, name in ipairs({ "agents_list", "conversations_list", "phone_numbers_list", "campaigns_list",
    "knowledge_base_list" }) do
    CHECKERS[name .. "_query"] = new.queries[name]
end

local rnd = math.random

local function deep(n)
    local t = { leaf = 1 }
    for _ = 1, n do t = { x = t } end
    return t
end

-- Values a mutation may put anywhere (a function: fresh tables each time).
local function random_value(root, node)
    local values = {
        null, true, false, 0, 1, -1, 2, 0.5, 0.2, 1.5, 0.9, 100, 1500, 1501, 800.0, 2 ^ 53, 2 ^ 53 + 2, -2 ^ 53,
        1e15, 1e16, 1e15 + 0.5, math.huge, -math.huge, 0 / 0, 1e308, -0.0,
        "", " ", "\t\n", "x", "ar", "en", "STATIC", "PROMPT", "+971501234567", "+0123", "https://a.example",
        "http://a.example", "https://:80", "https://u@h.example/x", "https://h.example:8443/p", "HTTPS://A.B",
        "https://a b", "https://a.b/ x", "https://", "https:///x", "https://a.b?q=1#f", "https://a.b#", "https://a_b.c",
        "https://@x", "https://a.b/\255", "Asia/Dubai", "UTC", "Asia//X", "\255\254", ("a"):rep(300),
        ("ع"):rep(120), "MONDAY", "Monday", "09:00", "24:00", "2026-12-03", "object", "string", "TWILIO", "SIP",
        "{{x}}", "{{ name }} {{clinic}}", "{{{y}}}", "{{", "NOW",
    }
    if math.tointeger then
        values[#values + 1] = math.maxinteger
        values[#values + 1] = math.mininteger
        values[#values + 1] = math.tointeger(2 ^ 53)
    end
    local tables = {
        function() return {} end,
        function() return json.array() end,
        function() return json.object() end,
        function() return json.array({ "a", "b" }) end,
        function() return json.object({ a = 1 }) end,
        function() return setmetatable({}, {}) end,
        function() return setmetatable({}, { __index = { agentName = "x", from = "a", to = "b" } }) end,
        function() return { 1, 2, 3 } end,
        function() return { "a", "b" } end,
        function() return { [2] = "x" } end,
        function() return { [1] = "a", [3] = "c" } end,
        function() return { a = { b = { c = {} } } } end,
        function() return { a = json.array({ 1, 2 }), b = setmetatable({ 1 }, json.array_mt) } end,
        function() return { k = setmetatable({ x = 1 }, json.array_mt) } end,
        function() return deep(rnd(20, 140)) end,
        function() return { from = "09:00", to = "10:00" } end,
        function() return { { from = "09:00", to = "10:00" } } end,
        function() return json.array({ { from = "a", to = "b" } }) end,
        function() return { type = "string", description = "d" } end,
        function() return { type = "object", properties = { a = { type = "nope" } } } end,
        function() return { authKey = "k", authSecret = "s" } end,
        function() return { googleCalendar = true } end,
        function() return { x = "y", [1.5] = 2 } end,
        function() return root end,
        function() return node end,
        function() return { root } end,
        function() return { Monday = { { from = "a", to = "b" } } } end,
        function() return { phoneNumber = "+971501234567" } end,
        function() return { itemName = "a" } end,
        function() return print end,
    }
    if rnd(3) == 1 then return tables[rnd(#tables)]() end
    return values[rnd(#values)]
end

local function random_key(node)
    local keys = { "zzz", "type", "items", "properties", "from", "to", "Monday", "Funday", "agentName", "name",
        "params", 1, 2, 3, 0, -1, 1.5, true, "1", "description", "required", "enum" }
    local own = {}
    for k in next, node do own[#own + 1] = k end
    if #own > 0 and rnd(3) > 1 then return own[rnd(#own)] end
    return keys[rnd(#keys)]
end

-- A random table inside `t` (t itself or a descendant), by a short random walk.
local function random_node(t)
    local node = t
    for _ = 1, rnd(0, 6) do
        local subs = {}
        for _, v in next, node do
            if type(v) == "table" and getmetatable(v) ~= getmetatable("") then subs[#subs + 1] = v end
        end
        if #subs == 0 then break end
        node = subs[rnd(#subs)]
    end
    return node
end

local function mutate(root)
    local node = random_node(root)
    local r = rnd(10)
    if r <= 6 then
        node[random_key(node)] = random_value(root, node)
    elseif r == 7 then
        node[random_key(node)] = nil
    elseif r == 8 then
        local mts = { json.array_mt, json.object_mt, {}, false }
        local mt = mts[rnd(#mts)]
        setmetatable(node, mt or nil)
    elseif r == 9 then
        local n = #node
        node[n + rnd(2)] = random_value(root, node)     -- at the end, or past a hole
    else
        node[random_key(node)] = { random_value(root, node), z = random_value(root, node) }
    end
end

local function pack(...) return { n = select("#", ...), ... } end

local function same(a, b)
    if a.n ~= b.n then return false end
    for i = 1, a.n do
        if a[i] ~= b[i] then return false end
    end
    return true
end

local function show(r)
    local out = {}
    for i = 1, r.n do out[i] = tostring(r[i]) end
    return "(" .. table.concat(out, ", ") .. ")"
end

describe("hamsa.validate.fast", function()
    it("accepts the valid body of every rule set on its own, checkers not run", function()
        for _, base in ipairs(BASES) do
            local name, body = base[1], base[2]()
            local before = accepted
            assert.is_true(new.validate[name](body), name)
            assert.equal(before + 1, accepted, name .. ": the checker had to run")
            local check = CHECKERS[name]
            if check then
                assert.is_true(fast.acceptor(check)(body), name)
                assert.is_true(fast.lua_acceptor(check)(body), name)
            end
        end
    end)

    it("accepts the bench body straight (and says no when unsure, not wrong)", function()
        assert.is_true(fast.acceptor(new.agent.create)(payload.agent()))
        local b = payload.agent()
        b.silenceThreshold = 800.0
        -- a float where an integer is due: the acceptor leaves it to the checker, which
        -- takes it on every Lua (800.0 goes out as 800)
        assert.is_true(new.validate.agent_create(b))
    end)

    local seed = tonumber(os.getenv("HAMSA_SEED") or "") or os.time()
    it(("answers as the checkers alone on random mutations (seed %d)"):format(seed), function()
        print(("\n23-validate_fast: seed %d (HAMSA_SEED=%d to replay)"):format(seed, seed))
        math.randomseed(seed)
        local started, rounds, refused, fast_taken = os.clock(), 0, 0, 0
        while os.clock() - started < 3 and rounds < 40000 do
            rounds = rounds + 1
            local base = BASES[rnd(#BASES)]
            local name = base[1]
            local body = base[2]()
            for _ = 1, rnd(3) do mutate(body) end
            local where = ("seed %d, round %d, %s"):format(seed, rounds, name)
            local want = pack(pcall(old.validate[name], body))
            local before = accepted
            local got = pack(pcall(new.validate[name], body))
            if accepted > before then fast_taken = fast_taken + 1 end
            if not same(want, got) then
                error(where .. ": checkers alone " .. show(want) .. ", with acceptors " .. show(got))
            end
            if want[2] ~= true then refused = refused + 1 end
            local check = CHECKERS[name]
            -- both acceptors, whichever this Lua uses: the C walker's and the Lua one
            for _, accept in ipairs({ fast.acceptor, fast.lua_acceptor }) do
                if check and accept(check)(body) then
                    local s, tail = check(body)
                    assert(s == nil, where .. ": accepted, yet the checker says " .. tostring(s) .. " "
                        .. tostring(tail))
                end
            end
        end
        print(("23-validate_fast: %d rounds, %d refused, %d through the acceptors alone"):format(rounds,
            refused, fast_taken))
        assert.is_true(rounds >= 200)      -- time-bounded: fewer under valgrind
        assert.is_true(refused > rounds / 10 and fast_taken > rounds / 10)
    end)

    -- The call rules find the first undefined {{placeholder}} by a plain search for "{{"
    -- and an anchored match there: it must name what gmatch over the whole text named.
    it(("names the {{placeholder}} that gmatch names, on random texts (seed %d)"):format(seed), function()
        math.randomseed(seed)
        local PLACEHOLDER = "{{%s*([%w_%.%-\128-\255]+)%s*}}"
        local function first_undefined(text, params)
            for name in text:gmatch(PLACEHOLDER) do
                if params[name] == nil then return name end
            end
        end
        local BITS = { "{{", "}}", "{", "}", " ", "a", "b", "x.y", "-", "ع", "{{a}}", "{{ b }}", "{{{a}}}",
            "{{c}", "{{ }}", "\n", "{{ab}}x", "%" }
        local function text()
            local t = {}
            for i = 1, rnd(0, 12) do t[i] = BITS[rnd(#BITS)] end
            return table.concat(t)
        end
        for round = 1, 3000 do
            local params = {}
            for _, name in ipairs({ "a", "b", "ab", "x.y", "ع" }) do
                if rnd(2) == 1 then params[name] = "v" end
            end
            local greeting, preamble = text(), text()
            local want = first_undefined(greeting, params)
            local where = "greetingMessage"
            if not want then want, where = first_undefined(preamble, params), "preamble" end
            local ok, field, message = new.validate.call_phone_number({ toNumber = "+971501234567",
                phoneNumber = "+971501234568",
                agentDetails = { agentName = "a", greetingMessage = greeting, preamble = preamble, params = params } })
            local context = ("seed %d, round %d: %q, %q"):format(seed, round, greeting, preamble)
            if want then
                assert.is_nil(ok, context)
                assert.equal("agentDetails.params." .. want, field, context)
                assert.equal(field .. " is missing: {{" .. want .. "}} in agentDetails." .. where
                    .. " would be spoken as is", message, context)
            else
                assert.is_true(ok, context .. ": " .. tostring(message))
            end
        end
    end)
end)
