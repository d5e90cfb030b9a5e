-- The key is in no table: nothing a caller can reach from a client, a
-- request handle, a response or an error holds the API key, in any form a
-- server may echo it in (plain, JSON-escaped, as an object key), and no
-- log line shows it. 60-security checks the strings the library hands out;
-- this spec walks the whole graph behind them (spec/keywalk.lua).
--
-- Where "reachable" stops. A client's metatable is the Client class; its
-- methods' upvalues are hamsa.client's module locals, among them SECRETS,
-- the weak-keyed table that holds each client's key. A walk that followed
-- them would find the key behind every client and prove nothing: that
-- store is where the key is meant to be, out of every dump. So there are
-- two walks:
--  1. Module state: everything the loaded hamsa.* modules reach, upvalues
--     of their functions included. Its weak-keyed tables are the private
--     stores: their values are not entered (a string key is still looked
--     at: a string never leaves a weak table). Nothing else in module
--     state may hold the key.
--  2. Instance data: everything reachable from the objects a caller holds
--     (client, request handle, data, response, error): raw keys and values,
--     metatables, tostring, upvalues of the functions they hold (on_done,
--     a logger, any closure made per client or per request), user values.
--     The values of walk 1 are opaque here: a class method's upvalues are
--     module state, checked once by walk 1, and would lead only to SECRETS.
--     The key may be found nowhere.
-- Neither walk enters the globals, other modules, the registry or a
-- coroutine's stack; bytes kept on the C side (libcurl's header lists) are
-- out of any Lua walk's sight.
local hamsa = require "hamsa"
local client_mod = require "hamsa.client"
local retry = require "hamsa.retry"
local helpers = require "spec.helpers"
local keywalk = require "spec.keywalk"

local concat = table.concat

-- "/" and "+" in it, so that the JSON escapes of a server apply
local KEY = "sk/live+Abc123/xyz+"

-- The key as a server may write it inside a JSON string.
local FORMS = {
    { "plain", KEY },
    { "\\/ for /", "sk\\/live+Abc123\\/xyz+" },
    { "\\u002B for +", "sk/live\\u002BAbc123/xyz\\u002B" },
    { "\\u0041 for a letter", "sk/live+\\u0041bc123/xyz+" },
    { "mixed-case hex", "sk\\/live\\u002bAbc123\\u002Fxyz\\u002B" },
    { "every character escaped", (KEY:gsub(".", function(c) return ("\\u%04x"):format(c:byte()) end)) },
}

describe("hamsa key reach", function()
    local server, shared

    -- Every place the key is found from `roots` (a list of { name, value }),
    -- module state excepted, with the label of the moment they were walked.
    local function places(label, roots, into)
        into = into or {}
        local found = keywalk.walk(roots, KEY, { stop = shared, max = 10 })
        table.sort(found)       -- the order of `next` differs between interpreters
        for _, path in ipairs(found) do
            into[#into + 1] = label and (label .. ": " .. path) or path
        end
        return into
    end

    local function assert_none(found)
        assert.is_true(#found == 0, "the key is reachable from:\n        " .. concat(found, "\n        "))
    end

    local function assert_unreached(roots)
        assert_none(places(nil, roots))
    end

    local function new_client(opts)
        local o = { api_key = KEY, base_url = server.url, max_retries = 0 }
        for k, v in pairs(opts or {}) do o[k] = v end
        return hamsa.new(o)
    end

    helpers.mock_suite({ setup, teardown, before_each }, { mock = { api_key = KEY }, clean = "faults" },
        function(s) server = s end)

    setup(function()
        shared = keywalk.module_state().values
    end)

    describe("the walker", function()
        it("finds a value, a table key, a metatable, an upvalue and a tostring, and says where", function()
            local secret = "s3cr/t+X"
            local function holder() return secret end
            local function at(v) return keywalk.reaches(v, secret, { name = "t" }) end
            assert.equal("t.a.b[2]", at({ a = { b = { "x", "y " .. secret } } }))
            assert.equal('t.k["<KEY>"] (a key)', at({ k = { [secret] = 1 } }))
            assert.equal("<key of t[<table>]>[1]", at({ [{ secret }] = true }))
            assert.equal("getmetatable(t).__index.x", at(setmetatable({}, { __index = { x = secret } })))
            assert.equal("<upvalue secret of t.f>", at({ f = holder }))
            assert.equal("tostring(t)", at(setmetatable({}, { __tostring = function() return "<" .. secret .. ">" end })))
            assert.equal("t", at(secret))
        end)

        it("finds the key behind each JSON escape a server may use", function()
            for _, form in ipairs(FORMS) do
                local path = keywalk.reaches({ body = '{"message":"' .. form[2] .. '"}' }, KEY, { name = "r" })
                assert.equal(form[2] == KEY and "r.body" or "r.body (JSON-escaped)", path, form[1])
            end
            assert.is_nil(keywalk.reaches({ body = "sk\\\\/live+Abc123\\\\/xyz+" }, KEY), "an escaped backslash is no solidus")
        end)

        it("looks at a userdata's user values (its environment on 5.1)", function()
            local u = require("socket").tcp()
            if debug.getuservalue then
                debug.setuservalue(u, { KEY })
            else
                debug.setfenv(u, { KEY })   -- 5.1 and LuaJIT
            end
            local path = keywalk.reaches({ u = u }, KEY, { name = "t" })
            u:close()
            assert.is_string(path)
            assert.matches("^<%a+ ?%d* of t%.u>%[1%]$", path)
        end)

        it("stops at the globals, the modules, _ENV and the stop set; survives cycles", function()
            local function uses_globals() return print, tostring end
            local t = { g = _G, loaded = package.loaded, str = string, f = uses_globals }
            t.self = t
            assert.is_nil(keywalk.reaches(t, "tostring"))
            local inner = { KEY }
            assert.is_nil(keywalk.reaches({ x = inner }, KEY, { stop = { [inner] = true } }))
        end)

        it("walks module state past its weak-keyed stores only", function()
            local secret = "s3cr/t+X"
            local store = setmetatable({}, { __mode = "k" })
            local function new(key) local o = {}; store[o] = key; return o end
            package.loaded["keywalk_fake"] = { new = new, [secret .. "!"] = true }
            local instance = new(secret)
            local ok, state = pcall(keywalk.module_state, secret, "keywalk_fake")
            package.loaded["keywalk_fake"] = nil
            assert.is_true(ok, state)
            assert.same({ "<upvalue store of keywalk_fake.new>" }, state.private)
            assert.same({ 'keywalk_fake["<KEY>!"] (a key)' }, state.hits)
            assert.is_true(state.values[new])
            assert.is_nil(keywalk.reaches(instance, secret, { stop = state.values }))
            assert.is_true(keywalk.module_state().values[client_mod.Client])
        end)
    end)

    describe("a fresh client", function()
        it("made with api_key holds the key nowhere reachable", function()
            local c = new_client()
            assert.is_true(client_mod.has_key(c))
            assert_unreached({ { "client", c } })
            c:close()
        end)

        it("made with HAMSA_API_KEY holds the key nowhere reachable", function()
            local out = helpers.run_lua(([[
                local hamsa = require "hamsa"
                local keywalk = require "spec.keywalk"
                local c = hamsa.new({ base_url = %q })
                assert(require("hamsa.client").has_key(c), "no key taken from HAMSA_API_KEY")
                local function places()
                    local found = keywalk.walk({ { "client", c } }, os.getenv("HAMSA_API_KEY"),
                        { stop = keywalk.module_state().values, max = 10 })
                    table.sort(found)
                    return table.concat(found, " | ")
                end
                print("fresh: " .. places())
                local data, err = c.agents:create({ agentName = "env" })
                assert(data, tostring(err))
                print("used: " .. places())
                c:close()
            ]]):format(server.url), "HAMSA_API_KEY=" .. helpers.quote(KEY))
            assert.is_nil(out:find(KEY, 1, true), out)
            assert.equal("fresh: ", out:match("fresh: [^\n]*"), out)
            assert.equal("used: ", out:match("used: [^\n]*"), out)
        end)
    end)

    describe("blocking requests", function()
        local client

        before_each(function() client = new_client() end)
        after_each(function() client:close() end)

        it("a success: data, response and the client", function()
            local data, response = client.agents:create({ agentName = "reach" })
            assert.is_table(data, tostring(response))
            assert.equal("Token " .. KEY, server:requests()[1].headers["authorization"])
            assert_unreached({ { "client", client }, { "data", data }, { "response", response } })
        end)

        it("a success whose raw body echoes the key escaped: response.body is redacted", function()
            server:fault({ status = 200, body = '{"success":true,"data":{"note":"' .. FORMS[2][2] .. '"}}' })
            local data, response = client.agents:create({ agentName = "reach" })
            assert.is_table(data)
            assert.equal(KEY, data.note)            -- data is the caller's, as the server sent it
            assert.matches("[REDACTED]", response.body, 1, true)
            assert_unreached({ { "response", response }, { "client", client } })
        end)

        it("a 401", function()
            server:fault({ status = 401 })
            local _, err, response = client.agents:create({ agentName = "reach" })
            assert.equal("auth", err.kind)
            assert_unreached({ { "err", err }, { "response", response }, { "client", client } })
        end)

        for _, form in ipairs(FORMS) do
            it("a 500 whose body echoes the key, " .. form[1], function()
                server:fault({ status = 500, body = '{"success":false,"message":"bad key ' .. form[2] ..
                    '","echo":{"auth":"Token ' .. form[2] .. '"}}' })
                local _, err, response = client.agents:create({ agentName = "reach" })
                assert.equal("server", err.kind)
                assert_unreached({ { "err", err }, { "response", response }, { "client", client } })
            end)
        end

        for _, form in ipairs({ FORMS[1], FORMS[2], FORMS[5] }) do
            it("a 500 whose JSON body has the key as an object key, " .. form[1], function()
                server:fault({ status = 500, body = '{"success":false,"message":"nope","' .. form[2] ..
                    '":1,"echo":{"' .. form[2] .. '":true}}' })
                local _, err, response = client.agents:create({ agentName = "reach" })
                assert.equal("server", err.kind)
                assert.is_table(err.body)
                assert_unreached({ { "err", err }, { "response", response }, { "client", client } })
            end)
        end

        it("a 429 that echoes the key in a header", function()
            server:fault({ status = 429, headers = { ["X-Echo"] = "Token " .. KEY } })
            local _, err, response = client.agents:create({ agentName = "reach" })
            assert.equal("rate_limited", err.kind)
            assert.is_string(err.headers["x-echo"])
            assert_unreached({ { "err", err }, { "response", response }, { "client", client } })
        end)

        it("a network error", function()
            local c = new_client({ base_url = "http://127.0.0.1:" .. helpers.free_port() })
            local _, err, response = c.agents:create({ agentName = "reach" })
            assert.equal("network", err.kind)
            assert_unreached({ { "err", err }, { "response", response }, { "client", c } })
            c:close()
        end)

        it("the client after a success and an error", function()
            assert.is_table(client.agents:create({ agentName = "one" }))
            server:fault({ status = 500, body = '{"message":"' .. FORMS[5][2] .. '"}' })
            assert.is_nil(client.agents:create({ agentName = "two" }))
            assert.is_table(client.agents:create({ agentName = "three" },
                { headers = { ["X-Tag"] = "t" }, idempotency_key = "idem-61-0" }))
            assert_unreached({ { "client", client } })
        end)
    end)

    describe("request handles", function()
        local client

        before_each(function() client = new_client() end)
        after_each(function() client:close() end)

        -- Sends one create with on_done, walks while it is in flight and
        -- after its on_done ran; asserts once, with every place found.
        local function walk_async(opts)
            local got = {}
            opts.on_done = function(data, err, response) got.data, got.err, got.response = data, err, response end
            local req = client.agents:create({ agentName = "async" }, opts)
            client:poll(0)
            assert.is_false(req:done())
            local found = places("in flight", { { "req", req }, { "client", client } })
            assert.equal(0, client:wait(10))
            places("done", { { "req", req }, { "data", got.data }, { "err", got.err },
                             { "response", got.response }, { "client", client } }, found)
            return got, found
        end

        it("with the client's header lines", function()
            server:fault({ delay = 0.3 })
            local got, found = walk_async({})
            assert.is_table(got.data, tostring(got.err))
            assert_none(found)
        end)

        it("with per-request headers and an idempotency_key", function()
            server:fault({ delay = 0.3 })
            local got, found = walk_async({ headers = { ["X-Request-Tag"] = "t-1" }, idempotency_key = "idem-61-1" })
            assert.is_table(got.data, tostring(got.err))
            local sent = server:requests()[1].headers
            assert.equal("t-1", sent["x-request-tag"])
            assert.equal("idem-61-1", sent["idempotency-key"])
            assert_none(found)
        end)

        it("an error for on_done, the body echoing the key escaped and as an object key", function()
            server:fault({ delay = 0.3, status = 500, body = '{"message":"bad key ' .. FORMS[5][2] ..
                '","' .. FORMS[2][2] .. '":1}' })
            local got, found = walk_async({ idempotency_key = "idem-61-2" })
            assert.equal("server", got.err.kind)
            assert_none(found)
        end)
    end)

    describe("logging", function()
        local saved_delay

        before_each(function()
            saved_delay = retry.BASE_DELAY
            retry.BASE_DELAY = 0.01
        end)
        after_each(function() retry.BASE_DELAY = saved_delay end)

        it("a logger with trace = true receives the key in no line, plain or escaped", function()
            local lines = {}
            local c = new_client({ trace = true, max_retries = 1,
                                   logger = function(level, msg) lines[#lines + 1] = level .. " " .. msg end })
            assert.is_table(c.agents:create({ agentName = "logged" },
                { headers = { ["X-Tag"] = "t" }, idempotency_key = "idem-61-3" }))
            server:fault({
                { status = 503, body = '{"message":"bad key ' .. KEY .. '"}' },
                { status = 503, body = '{"message":"bad key ' .. FORMS[2][2] .. '"}' },
            })
            c.agents:create({ agentName = "logged" })
            server:fault({ status = 429, headers = { ["X-Echo"] = "Token " .. KEY }, times = 2 })
            c.agents:create({ agentName = "logged" })
            server:fault({ status = 401, body = '{"message":"' .. FORMS[6][2] .. '","' .. FORMS[4][2] .. '":1}' })
            c.agents:create({ agentName = "logged" })
            c:close()

            local traced, bad = false, {}
            for i, line in ipairs(lines) do
                if line:find("^trace ") then traced = true end
                local how = keywalk.find_in(line, KEY)
                if how then bad[#bad + 1] = ("log line %d (%s): %s"):format(i, how, line:sub(1, 60)) end
            end
            assert.is_true(traced, "no trace line was logged")
            -- the lines that would have shown the key were written, redacted
            local all = concat(lines, "\n")
            assert.matches("> Authorization: [REDACTED]", all, 1, true)
            assert.matches("< X-Echo: Token [REDACTED]", all, 1, true)
            assert.matches("bad key [REDACTED]", all, 1, true)
            assert_none(bad)
        end)
    end)

    describe("module state", function()
        it("holds the key only in weak-keyed private stores, with requests in flight", function()
            local c = new_client()
            server:fault({ delay = 0.3 })
            local req = c.agents:create({ agentName = "state" },
                { headers = { ["X-Tag"] = "t" }, on_done = function() end })
            c:poll(0)
            local state = keywalk.module_state(KEY)
            assert.is_false(req:done())
            c:close()
            assert_none(state.hits)
        end)
    end)
end)

-- errors.redact skips its byte-by-byte scan for escaped forms when none can
-- exist (no `\u` in the text, and no `/`, `"` or `\` in the key): random
-- texts of key forms and escapes, two kinds of key; after redaction no form
-- of the key may be left, read as JSON would read it.
describe("hamsa.errors.redact on random texts", function()
    local errors = require "hamsa.errors"

    -- The text as a JSON string reader sees it: \uXXXX, \/, \" and \\ undone.
    local function unescape(s)
        return (s:gsub("\\(u?)(%x?%x?%x?%x?)", function(u, hex)
            if u == "u" and #hex == 4 then return string.char(tonumber(hex, 16) % 256) end
            return nil
        end):gsub("\\([/\"\\])", "%1"))
    end

    local function escaped_form(key)
        return (key:gsub(".", function(c)
            local r = math.random(4)
            if r == 1 then return ("\\u%04x"):format(c:byte()) end
            if r == 2 then return ("\\u%04X"):format(c:byte()) end
            if c == "/" and r == 3 then return "\\/" end
            return c
        end))
    end

    local seed = tonumber(os.getenv("HAMSA_SEED") or "") or os.time()
    it(("leaves no form of the key in 3,000 texts (seed %d)"):format(seed), function()
        math.randomseed(seed)
        local keys = { "hk9f8e7d6c5b4a3928", "sk/live+Abc123/xyz+" }
        local FILL = { "hello ", "\\n", "\\u00e9", "\\\\", "\\/", "\"", "{\"a\":", "h", "k9", "\\u0068" }
        for round = 1, 3000 do
            local key = keys[math.random(#keys)]
            local parts = {}
            for i = 1, math.random(12) do
                local r = math.random(10)
                if r == 1 then parts[i] = key
                elseif r <= 3 then parts[i] = escaped_form(key)
                else parts[i] = FILL[math.random(#FILL)] end
            end
            local text = concat(parts)
            local out = errors.redact(text, key)
            local where = ("seed %d, round %d: %q -> %q"):format(seed, round, text, out)
            assert(not out:find(key, 1, true), where)
            assert(not unescape(out):find(key, 1, true), where)
            if not text:find(key, 1, true) and not unescape(text):find(key, 1, true) then
                assert(out == text, where .. " (changed, with no key in it)")
            end
        end
    end)
end)
