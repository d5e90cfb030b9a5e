-- hamsa.webhook: parse, respond, dedupe, watch; no input raises, no output
-- carries the secret.
local webhook = require "hamsa.webhook"
local json = require("hamsa.core").json

local KEY, SECRET = "Token", "s3cret-Value-42"
local AUTH = KEY .. " " .. SECRET

local function event_body(fields)
    local e = { eventType = "call.started", callId = "call-1", timestamp = "2025-01-01T00:00:00Z",
                projectId = "p", agentId = "a", agentName = "Sara", data = json.object() }
    for k, v in pairs(fields or {}) do e[k] = v end
    return assert(json.encode(e))
end

local function new(opts)
    local o = { auth_key = KEY, auth_secret = SECRET }
    for k, v in pairs(opts or {}) do o[k] = v end
    return webhook.new(o)
end

-- Every string reachable from v (keys, values, metatables' __tostring output).
local function walk(v, out, seen)
    out, seen = out or {}, seen or {}
    if type(v) == "string" then out[#out + 1] = v
    elseif type(v) == "table" and not seen[v] then
        seen[v] = true
        out[#out + 1] = tostring(v)
        for k, x in pairs(v) do walk(k, out, seen) walk(x, out, seen) end
    end
    return out
end

local function assert_no_secret(...)
    for i = 1, select("#", ...) do
        for _, s in ipairs(walk((select(i, ...)))) do
            assert.is_nil(s:find(SECRET, 1, true), "secret found in: " .. s)
        end
    end
end

describe("hamsa.webhook", function()
    it("is exported by hamsa", function()
        assert.equal(webhook, require("hamsa").webhook)
    end)

    describe("new", function()
        it("raises at the caller's line on misuse", function()
            for _, opts in ipairs{ "x", {}, { auth_key = KEY }, { auth_key = KEY, auth_secret = "" },
                                  { auth_key = 1, auth_secret = SECRET },
                                  { auth_key = KEY, auth_secret = SECRET, dedupe_seconds = "1" },
                                  { auth_key = KEY, auth_secret = SECRET, max_body_bytes = -1 },
                                  { auth_key = KEY, auth_secret = SECRET, store = 5 } } do
                local ok, err = pcall(webhook.new, opts)
                assert.is_false(ok)
                assert.truthy(tostring(err):find("hamsa.webhook.new", 1, true))
            end
            local ok, err = pcall(function() webhook.new{} end)
            assert.is_false(ok)
            assert.truthy(err:find("62%-webhook_spec.lua:%d+:"))
        end)

        it("shows no secret in tostring or in its fields", function()
            local wh = new()
            assert.equal("hamsa.webhook", tostring(wh))
            assert_no_secret(wh)
        end)
    end)

    describe("parse", function()
        local wh
        before_each(function() wh = new() end)

        local function auth_fails(headers)
            local e, err = wh:parse(headers, event_body())
            assert.is_nil(e)
            assert.equal("auth", err.kind)
            assert.equal(401, err.status)
            assert_no_secret(err, tostring(err))
        end

        it("accepts a good delivery, header name in any case", function()
            for _, name in ipairs{ "Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn" } do
                local e, err = new():parse({ [name] = AUTH, ["Content-Type"] = "application/json" }, event_body())
                assert.is_nil(err)
                assert.equal("call.started", e.eventType)
                assert.equal("call-1", e.callId)
                assert.is_true(e.known)
                assert.is_false(e.duplicate)
            end
            assert.truthy(new():parse({ Authorization = { AUTH } }, event_body()))
        end)

        it("refuses a missing, wrong or repeated Authorization as auth", function()
            auth_fails(nil)
            auth_fails({})
            auth_fails("Authorization: " .. AUTH)
            auth_fails({ ["X-Other"] = AUTH })
            auth_fails({ Authorization = "" })
            auth_fails({ Authorization = "Bearer " .. SECRET })                 -- wrong scheme
            auth_fails({ Authorization = SECRET })                              -- no scheme
            auth_fails({ Authorization = KEY .. " " .. SECRET:upper() })        -- same length
            auth_fails({ Authorization = KEY .. " " .. SECRET:sub(1, -2) .. "X" })
            auth_fails({ Authorization = AUTH .. "x" })                         -- longer
            auth_fails({ Authorization = AUTH:sub(1, -2) })                     -- shorter
            auth_fails({ Authorization = AUTH .. AUTH })
            auth_fails({ Authorization = " " .. AUTH })
            auth_fails({ Authorization = { AUTH, AUTH } })                      -- repeated
            auth_fails({ Authorization = {} })
            auth_fails({ Authorization = AUTH, authorization = AUTH })          -- repeated, two cases
            auth_fails({ Authorization = 42 })
            auth_fails({ Authorization = { 42 } })
        end)

        it("refuses bodies that are not events as invalid", function()
            local cases = {
                { 12, 400 }, { nil, 400 }, { {}, 400 },
                { "", 400 }, { "not json", 400 }, { '{"eventType":"call.started","callId":', 400 },
                { event_body():sub(1, -2), 400 }, { "[]", 400 }, { "[1,2]", 400 }, { '"call.started"', 400 },
                { "null", 400 }, { "42", 400 }, { "{}", 400 }, { '{"callId":"c"}', 400 },
                { '{"eventType":"call.started"}', 400 }, { '{"eventType":5,"callId":"c"}', 400 },
                { '{"eventType":"","callId":"c"}', 400 }, { '{"eventType":"call.ended","callId":7}', 400 },
                { '[{"eventType":"call.started","callId":"c"}]', 400 },
            }
            for i, case in ipairs(cases) do
                local e, err = wh:parse({ Authorization = AUTH }, case[1])
                assert.is_nil(e, "case " .. i)
                assert.equal("invalid", err.kind, "case " .. i)
                assert.equal(case[2], err.status, "case " .. i)
                assert_no_secret(err, tostring(err))
            end
        end)

        it("refuses an oversized body before decoding it, as 413", function()
            local small = new{ max_body_bytes = 64 }
            local body = event_body{ data = { pad = string.rep("x", 100) } }
            local e, err = small:parse({ Authorization = AUTH }, body)
            assert.is_nil(e)
            assert.equal("invalid", err.kind)
            assert.equal(413, err.status)
            -- over the cap and not JSON: still 413, so it was not decoded
            local _, err2 = small:parse({ Authorization = AUTH }, string.rep("{", 65))
            assert.equal(413, err2.status)
            assert.truthy(small:parse({ Authorization = AUTH }, '{"eventType":"x","callId":"c"}'))
        end)

        it("checks Authorization before the body", function()
            local _, err = wh:parse({ Authorization = "nope" }, "not json")
            assert.equal("auth", err.kind)
        end)

        it("passes an unknown eventType through, known = false", function()
            local e = wh:parse({ Authorization = AUTH }, event_body{ eventType = "call.transferred" })
            assert.equal("call.transferred", e.eventType)
            assert.is_false(e.known)
        end)

        it("reads the five event types", function()
            for _, t in ipairs(webhook.EVENT_TYPES) do
                local e = wh:parse({ Authorization = AUTH }, event_body{ eventType = t, data = { n = 1 } })
                assert.equal(t, e.eventType)
                assert.is_true(e.known)
                assert.is_true(webhook.EVENT_TYPES[t])
                assert.equal("Sara", e.agentName)
                if t == "call.ended" then assert.is_table(e.conversation) else assert.is_nil(e.conversation) end
            end
        end)

        it("flattens call.ended and decodes nested JSON strings", function()
            local inner = { conversationId = "conv-1", conversationRecording = "https://r/x.mp3",
                            transcription = { { Agent = "Hello" }, { User = "Hi" } },
                            outcomeResult = { booked = true, name = "Layla" } }
            local e = wh:parse({ Authorization = AUTH }, event_body{ eventType = "call.ended", data = { data = inner } })
            assert.same(inner, e.conversation)
            -- values as JSON strings
            local s = { conversationId = "conv-2", conversationRecording = json.null,
                        transcription = json.encode(inner.transcription),
                        outcomeResult = json.encode(inner.outcomeResult) }
            e = wh:parse({ Authorization = AUTH }, event_body{ eventType = "call.ended", timestamp = "2",
                                                               data = { data = s } })
            assert.equal("conv-2", e.conversation.conversationId)
            assert.equal(json.null, e.conversation.conversationRecording)
            assert.same(inner.transcription, e.conversation.transcription)
            assert.same(inner.outcomeResult, e.conversation.outcomeResult)
            -- data.data itself a JSON string
            e = wh:parse({ Authorization = AUTH }, event_body{ eventType = "call.ended", timestamp = "3",
                                                               data = { data = json.encode(s) } })
            assert.same(inner.outcomeResult, e.conversation.outcomeResult)
            -- not nested
            e = wh:parse({ Authorization = AUTH }, event_body{ eventType = "call.ended", timestamp = "4", data = s })
            assert.equal("conv-2", e.conversation.conversationId)
            assert.same(inner.transcription, e.conversation.transcription)
            -- a string that is JSON but not a table stays a string; no data at all
            e = wh:parse({ Authorization = AUTH }, event_body{ eventType = "call.ended", timestamp = "5",
                                                               data = { data = { outcomeResult = "42" } } })
            assert.equal("42", e.conversation.outcomeResult)
            e = wh:parse({ Authorization = AUTH }, event_body{ eventType = "call.ended", timestamp = "6", data = json.null })
            assert.same({}, e.conversation)
        end)
    end)

    describe("dedupe", function()
        it("marks the same delivery twice as a duplicate; on_event runs once", function()
            local wh, calls = new(), 0
            local function on_event() calls = calls + 1 end
            local body = event_body()
            local s1, r1 = wh:respond({ Authorization = AUTH }, body, on_event)
            local s2, r2 = wh:respond({ Authorization = AUTH }, body, on_event)
            assert.equal(200, s1)
            assert.equal(200, s2)
            assert.same({ ok = true }, json.decode(r1))
            assert.same({ ok = true, duplicate = true }, json.decode(r2))
            assert.equal(1, calls)
            assert.is_true(wh:parse({ Authorization = AUTH }, body).duplicate)
        end)

        it("keys on callId, eventType and delivery id or timestamp", function()
            local wh = new()
            local h = { Authorization = AUTH }
            assert.is_false(wh:parse(h, event_body()).duplicate)
            assert.is_false(wh:parse(h, event_body{ timestamp = "other" }).duplicate)
            assert.is_false(wh:parse(h, event_body{ callId = "call-2" }).duplicate)
            assert.is_false(wh:parse(h, event_body{ eventType = "call.answered" }).duplicate)
            -- a delivery id header wins over the timestamp
            assert.is_false(wh:parse({ Authorization = AUTH, ["X-Hamsa-Delivery-Id"] = "d1" }, event_body()).duplicate)
            assert.is_true(wh:parse({ Authorization = AUTH, ["x-hamsa-delivery-id"] = "d1" }, event_body()).duplicate)
            assert.is_false(wh:parse({ Authorization = AUTH, ["x-hamsa-delivery-id"] = "d2" }, event_body()).duplicate)
            assert.is_false(wh:parse(h, event_body{ data = { deliveryId = "d3" } }).duplicate)
            assert.is_true(wh:parse(h, event_body{ data = { deliveryId = "d3" } }).duplicate)
            -- neither id nor timestamp: never a duplicate
            local bare = '{"eventType":"call.started","callId":"c9"}'
            assert.is_false(wh:parse(h, bare).duplicate)
            assert.is_false(wh:parse(h, bare).duplicate)
            assert.equal("c\ncall.ended\nt", webhook.dedupe_key({ callId = "c", eventType = "call.ended", timestamp = "t" }))
        end)

        it("sees a delivery as new again after dedupe_seconds", function()
            local t = 1000
            local wh = new{ dedupe_seconds = 10, now = function() return t end }
            local h, body = { Authorization = AUTH }, event_body()
            assert.is_false(wh:parse(h, body).duplicate)
            t = 1009.9
            assert.is_true(wh:parse(h, body).duplicate)
            t = 1010
            assert.is_false(wh:parse(h, body).duplicate)
            assert.is_true(wh:parse(h, body).duplicate)
        end)

        it("uses the given store's seen(key, ttl)", function()
            local log = {}
            local store = { seen = function(_, key, ttl) log[#log + 1] = { key, ttl } return #log > 1 end }
            local wh = new{ store = store, dedupe_seconds = 42 }
            assert.is_false(wh:parse({ Authorization = AUTH }, event_body()).duplicate)
            assert.is_true(wh:parse({ Authorization = AUTH }, event_body()).duplicate)
            assert.same({ "call-1\ncall.started\n2025-01-01T00:00:00Z", 42 }, log[1])
            -- a store that raises: the event counts as new, nothing raises
            local broken = new{ store = { seen = function() error("dict full") end } }
            assert.is_false(broken:parse({ Authorization = AUTH }, event_body()).duplicate)
        end)

        it("bounds the default store, evicting the oldest", function()
            local t = 0
            local store = webhook.memory_store{ max_keys = 3, now = function() return t end }
            for i = 1, 5 do assert.is_false(store:seen("k" .. i, 100)) end
            assert.equal(3, store.count)
            assert.is_true(store:seen("k5", 100))
            assert.is_true(store:seen("k3", 100))
            assert.is_false(store:seen("k1", 100))   -- evicted
            t = 1000                                  -- everything expired, then swept
            assert.is_false(store:seen("k9", 100))
            assert.equal(1, store.count)
            for i = 1, 1000 do store:seen("x" .. i, 1) end
            assert.equal(3, store.count)
        end)
    end)

    describe("respond", function()
        it("answers 401, 413 and 400 without calling on_event", function()
            local wh, calls = new{ max_body_bytes = 200 }, 0
            local function on_event() calls = calls + 1 end
            local s, r = wh:respond({}, event_body(), on_event)
            assert.equal(401, s)
            assert.equal("auth", json.decode(r).error.kind)
            s = wh:respond({ Authorization = AUTH }, string.rep(" ", 201), on_event)
            assert.equal(413, s)
            s, r = wh:respond({ Authorization = AUTH }, "nope", on_event)
            assert.equal(400, s)
            assert.equal("invalid", json.decode(r).error.kind)
            assert.equal(0, calls)
            assert_no_secret(r)
        end)

        it("answers 200 when on_event raises, and returns what it raised", function()
            local wh = new()
            local s, r, herr = wh:respond({ Authorization = AUTH }, event_body(), function() error("boom", 0) end)
            assert.equal(200, s)
            assert.same({ ok = true }, json.decode(r))
            assert.equal("boom", herr)
            s, r, herr = wh:respond({ Authorization = AUTH }, event_body{ timestamp = "9" })
            assert.equal(200, s)
            assert.is_nil(herr)
            assert.same({ ok = true }, json.decode(r))
        end)
    end)

    describe("watch", function()
        it("calls listeners with every new event, under pcall, until unwatched", function()
            local wh, seen = new(), {}
            local unwatch = wh:watch(function(e) seen[#seen + 1] = e.timestamp end)
            wh:watch(function() error("listener error") end)
            local got
            wh:respond({ Authorization = AUTH }, event_body{ timestamp = "1" }, function(e) got = e end)
            wh:respond({ Authorization = AUTH }, event_body{ timestamp = "1" })   -- duplicate
            wh:respond({ Authorization = "x" }, event_body{ timestamp = "2" })     -- refused
            wh:parse({ Authorization = AUTH }, event_body{ timestamp = "3" })     -- parse calls nobody
            assert.same({ "1" }, seen)
            assert.equal("1", got.timestamp)
            unwatch()
            wh:respond({ Authorization = AUTH }, event_body{ timestamp = "4" })
            assert.same({ "1" }, seen)
            assert.has_error(function() wh:watch("nope") end)
        end)
    end)

    describe("constant_equal", function()
        it("agrees with == for strings of many lengths", function()
            local eq = webhook.constant_equal
            math.randomseed(62)
            for la = 0, 40 do
                for _ = 1, 5 do
                    local a = {}
                    for i = 1, la do a[i] = string.char(math.random(0, 255)) end
                    a = table.concat(a)
                    assert.is_true(eq(a, a))
                    assert.is_true(eq(a, a .. ""))
                    for lb = math.max(0, la - 3), la + 3 do
                        local b = (a .. string.rep("\0", 3)):sub(1, lb)
                        assert.equal(a == b, eq(a, b), la .. "/" .. lb)
                        assert.equal(a == b, eq(b, a))
                    end
                    if la > 0 then
                        local i = math.random(1, la)
                        local b = a:sub(1, i - 1) .. string.char((a:byte(i) + math.random(1, 255)) % 256) .. a:sub(i + 1)
                        assert.is_false(eq(a, b))
                        assert.is_false(eq(b, a))
                    end
                end
            end
            assert.is_false(eq("ab", "abab"))      -- b cycled must not fool it
            assert.is_false(eq("abab", "ab"))
            assert.is_false(eq(nil, "a"))
            assert.is_false(eq("a", 1))
        end)
    end)

    describe("fuzz", function()
        it("never raises on random headers and bodies (seeded)", function()
            math.randomseed(6262)
            local wh = new{ max_body_bytes = 300 }
            local good = event_body{ eventType = "call.ended", data = { data = { transcription = "[1" } } }
            local pieces = { "{", "}", "[", "]", '"', ":", ",", "null", "true", "1e999", "-0", "\\u0000",
                             '"eventType"', '"callId"', '"call.ended"', '"data"', "\0", "\255" }
            local function rnd_string(n)
                local t = {}
                for i = 1, n do
                    if math.random() < 0.5 then t[i] = pieces[math.random(#pieces)]
                    else t[i] = string.char(math.random(0, 255)) end
                end
                return table.concat(t)
            end
            local values = { function() return AUTH end, function() return { AUTH } end,
                             function() return rnd_string(math.random(0, 30)) end,
                             function() return math.random() end, function() return { 1, {} } end,
                             function() return true end }
            for _ = 1, 3000 do
                local headers
                local r = math.random()
                if r < 0.1 then headers = rnd_string(5)
                elseif r < 0.15 then headers = nil
                else
                    headers = {}
                    for _ = 1, math.random(0, 3) do
                        local name = ({ "Authorization", "AUTHORIZATION", "x-hamsa-delivery-id", rnd_string(4) })[math.random(4)]
                        headers[name] = values[math.random(#values)]()
                    end
                end
                local body
                r = math.random()
                if r < 0.3 then
                    local cut = math.random(0, #good)
                    body = good:sub(1, cut) .. rnd_string(math.random(0, 5)) .. good:sub(cut + math.random(0, 3))
                elseif r < 0.9 then body = rnd_string(math.random(0, 60))
                else body = ({ 1, true, {}, nil })[math.random(4)] end
                local ok, e, err = pcall(wh.parse, wh, headers, body)
                assert.is_true(ok, tostring(e))
                assert.is_true((e ~= nil) ~= (err ~= nil))
                if err then assert.is_true(err.kind == "auth" or err.kind == "invalid") end
                local ok2, status = pcall(wh.respond, wh, headers, body, function() end)
                assert.is_true(ok2, tostring(status))
                assert.truthy(({ [200] = true, [400] = true, [401] = true, [413] = true })[status])
                assert_no_secret(e, err)
            end
        end)
    end)
end)
