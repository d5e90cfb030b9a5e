-- Hardening, round 2: one regression spec per defect of the second
-- hardening issue, each failing on the code before its fix. Re-entry and the
-- closed client are also explored at random by spec/74-model_spec.lua.
local hamsa = require "hamsa"
local client_mod = require "hamsa.client"
local errors = require "hamsa.errors"
local helpers = require "spec.helpers"

-- Drives `c` until nothing is pending, at most `turns` polls: a client that
-- never comes back to 0 fails the spec instead of hanging it.
local function drain(c, turns)
    for _ = 1, turns or 2000 do
        if c:pending() == 0 then return true end
        c:poll(0.01)
    end
    return c:pending() == 0
end

-- The file and line of the caller, as error(msg, 2) writes them.
local function here()
    local info = debug.getinfo(2, "Sl")
    return info.short_src .. ":" .. info.currentline .. ":"
end

describe("hardening", function()
    local server, client
    helpers.mock_suite({ setup, teardown, before_each, after_each },
        { retry_delay = 0.01, clean = "faults", client_per_test = true },
        function(s, c) server, client = s, c end)

    local function body(i) return { agentName = "R" .. tostring(i) } end

    describe("re-entry from callbacks", function()
        -- close(), poll(0), a task ending with close()/wait(), a callback
        -- yielding out of wait: spec/74-model_spec.lua (its regression block
        -- and the model itself)
        it("wait() and a blocking call inside on_done", function()
            local got = {}
            client.agents:create(body(1), { on_done = function(d)
                got[#got + 1] = d.agentName
                client.agents:create(body(2), { on_done = function(d2) got[#got + 1] = d2.agentName end })
                client:wait(5)
                local agent = client.agents:create(body(3))
                got[#got + 1] = agent.agentName
            end })
            assert.equal(0, client:wait(10))
            assert.same({ "R1", "R2", "R3" }, got)
        end)

        it("cancel() of another request and of itself inside on_done", function()
            local first, second
            local a_done, b_done = 0, 0
            first = client.agents:create(body(1), { on_done = function()
                a_done = a_done + 1
                assert.is_false(first:cancel())         -- already done
                second:cancel()
            end })
            second = client.agents:create(body(2), { on_done = function() b_done = b_done + 1 end,
                                                     timeout = 5 })
            assert.is_true(drain(client))
            assert.equal(1, a_done)
            assert.equal(1, b_done)
        end)

        it("a blocking call in an on_done that a task's poll delivers works on every Lua", function()
            -- (Lua 5.1 cannot yield the task through the callback's pcall: the
            -- call blocks there instead of raising)
            local got
            client.agents:create(body(1), { on_done = function()
                got = assert(client.agents:create(body("inner"))).agentName
            end })
            local task = client:spawn(function()
                assert(client.agents:create(body("task")))
                for _ = 1, 500 do
                    if got then break end
                    client:poll(0.01)
                end
                return got
            end)
            assert.equal(0, client:run(10))
            assert.is_nil(task.error)
            assert.equal("Rinner", task.results[1])
        end)

        it("a task's call that cannot yield (Lua 5.1, inside a pcall) raises and leaves nothing in flight", function()
            local task = client:spawn(function()
                return pcall(client.agents.create, client.agents, body(1))
            end)
            client:run(5)
            assert.is_true(task.done)
            if task.results[1] then
                assert.is_table(task.results[2])                  -- 5.2+, LuaJIT: the call went through
            else
                assert.matches("yield", tostring(task.results[2]))    -- 5.1
                assert.equal(0, #server:requests())
            end
            assert.equal(0, client:pending())
        end)

        it("a task that yields outside a hamsa call ends with an error instead of hanging", function()
            local task = client:spawn(function()
                assert(client.agents:create(body(1)))
                coroutine.yield()
            end)
            local ok, err = pcall(client.run, client, 5)
            assert.is_false(ok)
            assert.matches("yielded outside a hamsa call", tostring(err))
            assert.is_true(task.done)
            assert.equal(0, client:run(1))
        end)
    end)

    describe("a closed client", function()
        it("delivers on_done (cancelled) to a request made after close()", function()
            client:close()
            local got = {}
            client.agents:create(body(1), { on_done = function(d, e) got[#got + 1] = { d, e } end })
            assert.equal(1, client:pending())
            assert.equal(0, client:timeout())
            local turns = 0
            while client:pending() > 0 do
                client:poll()
                turns = turns + 1
                assert.is_true(turns < 100, "poll never delivered")
            end
            assert.equal(1, #got)
            assert.is_nil(got[1][1])
            assert.equal("cancelled", got[1][2].kind)
            assert.equal(0, client:wait(1))
            assert.is_nil(client:timeout())
        end)

        it("wait() delivers it too", function()
            client:close()
            local n = 0
            client.agents:update("x", { lang = "en" }, { on_done = function() n = n + 1 end })
            assert.equal(0, client:wait())
            assert.equal(1, n)
        end)
    end)

    describe("hostile answers", function()
        local SHAPES = {
            { "message: an array holding an object, null and a bool",
              '{"success":false,"message":[{"a":1},null,true,"kept"]}', "kept" },
            { "message: an array of objects with messages",
              '{"message":[{"message":"one"},{"message":"two"}]}', "one; two" },
            { "message: a number", '{"message":42}', "42" },
            { "message: an object", '{"message":{"en":"x"}}', "the API answered with an error" },
            { "messageKey: a number", '{"message":"m","messageKey":7}', "m" },
            { "error: an object", '{"error":{"message":"inner"}}', "inner" },
            { "an array body", '[1,"a",null,{}]', "the API answered with an error" },
            { "a bare string body", '"just text"', "the API answered with an error" },
            { "deeply nested message", '{"message":[[[["x"]]]]}', "the API answered with an error" },
        }
        for _, s in ipairs(SHAPES) do
            it(s[1] .. ": blocking gives nil, err", function()
                server:fault({ status = 400, body = s[2] })
                local data, err = client.agents:create(body(1))
                assert.is_nil(data)
                assert.is_true(hamsa.is_error(err))
                assert.equal("api", err.kind)
                assert.matches(s[3], err.message, 1, true)
                assert.is_true(err.code == nil or type(err.code) == "string")
            end)
            it(s[1] .. ": on_done runs once", function()
                server:fault({ status = 400, body = s[2] })
                local n, got = 0, nil
                client.agents:create(body(1), { on_done = function(_, e) n = n + 1; got = e end })
                assert.equal(0, client:wait(10))
                assert.equal(1, n)
                assert.equal("api", got.kind)
            end)
        end

        it("an error body that is a bare JSON string echoing the key has it redacted", function()
            server:fault({ status = 400, body = '"bad key ' .. server.api_key .. '"' })
            local _, err = client.agents:create(body(1))
            assert.equal("api", err.kind)
            assert.equal("bad key [REDACTED]", err.body)
        end)

        it("a 2xx with success = false and data = false is an api error", function()
            server:fault({ status = 200, body = '{"success":false,"data":false,"message":["no",{"x":1}]}' })
            local data, err = client.agents:create(body(1))
            assert.is_nil(data)
            assert.equal("api", err.kind)
            assert.matches("no", err.message)
        end)

        it("a 2xx with success = false and messageKey a table keeps code nil", function()
            server:fault({ status = 200, body = '{"success":false,"messageKey":{"k":1}}' })
            local _, err = client.agents:create(body(1))
            assert.equal("api", err.kind)
            assert.is_nil(err.code)
        end)

        it("a fault inside the mapping becomes nil, err for that request only", function()
            local saved = errors.kind_for_status
            errors.kind_for_status = function() error("mapping blew up") end
            server:fault({ status = 418, body = "{}" })
            local n, got = 0, nil
            local ok, e = pcall(function()
                client.agents:create(body(1), { on_done = function(_, err) n = n + 1; got = err end })
                return client:wait(10)
            end)
            errors.kind_for_status = saved
            assert.is_true(ok, tostring(e))
            assert.equal(1, n)
            assert.equal("decode", got.kind)
            assert.matches("mapping blew up", got.message)
            assert.is_table((client.agents:create(body(2))))    -- the client goes on
        end)
    end)

    describe("query strings", function()
        local function last_query()
            local log = server:requests()
            return log[#log].query
        end

        it("sends integral floats as integers and lists as repeated keys", function()
            assert(client:request("GET", "/v1/voice-agents", nil,
                { query = { take = 40 / 2, skip = 1.0, status = { "COMPLETED", "FAILED" }, on = true } }))
            assert.equal("on=true&skip=1&status=COMPLETED&status=FAILED&take=20", last_query())
        end)

        it("refuses null, nested tables, NaN and non-string keys at the caller's line", function()
            local bad = {
                { a = hamsa.null }, { a = { b = 1 } }, { a = 0 / 0 }, { [1] = "x" }, { a = { 1, {} } },
                { [true] = 1, b = 2 },
            }
            for _, q in ipairs(bad) do
                local ok, err = pcall(function() client:request("GET", "/v1/voice-agents", nil, { query = q }) end)
                assert.is_false(ok)
                assert.matches("query", err)
                assert.matches("49%-hardening_spec%.lua", err)
            end
            assert.equal(0, #server:requests())
        end)
    end)

    describe("paths and headers", function()
        it("refuses a NUL in a client:request path", function()
            local where
            local ok, err = pcall(function()
                where = here(); client:request("GET", "/v1/voice-agents\0/../other")
            end)
            assert.is_false(ok)
            assert.equal(1, select(2, err:gsub("NUL", "")))
            assert.equal(where, err:sub(1, #where))
            assert.equal(0, #server:requests())
        end)

        it("refuses an Idempotency-Key in the client's headers", function()
            assert.has_error(function()
                hamsa.new({ api_key = "k", base_url = server.url, headers = { ["idempotency-KEY"] = "shared" } })
            end)
            local ok, err = pcall(hamsa.new, { api_key = "k", headers = { ["Idempotency-Key"] = "x" } })
            assert.is_false(ok)
            assert.matches("idempotency_key", err)
        end)

        it("refuses an Idempotency-Key in per-request headers, at the caller's line", function()
            local where
            local ok, err = pcall(function()
                where = here(); client.agents:create(body(1), { headers = { ["Idempotency-Key"] = "x" } })
            end)
            assert.is_false(ok)
            assert.equal(where, err:sub(1, #where))
        end)

        it("points misuse in per-request headers and idempotency_key at the caller's line", function()
            local cases = {
                function() client.agents:create(body(1), { headers = { ["X-Bad"] = "a\r\nb" } }) end,
                function() client.agents:update("id", body(1), { headers = { ["bad name"] = "v" } }) end,
                function() client.calls:twilio({}, { idempotency_key = "a\nb" }) end,
                function() client.agents:clone("id", nil, { idempotency_key = "" }) end,
                function() client:request("GET", "/x", nil, { headers = { Authorization = "Token z" } }) end,
            }
            for i, f in ipairs(cases) do
                local info = debug.getinfo(f, "S")
                local ok, err = pcall(f)
                assert.is_false(ok, "case " .. i)
                assert.equal(info.short_src .. ":" .. info.linedefined .. ":",
                    err:sub(1, #info.short_src + #tostring(info.linedefined) + 2), "case " .. i .. ": " .. err)
            end
            assert.equal(0, #server:requests())
        end)

        it("a header block over the engine's cap has its own message, whatever max_response_bytes", function()
            local h = {}
            for i = 1, 4 do h["X-H" .. i] = string.rep("b", 90000) end
            local c = hamsa.new({ api_key = server.api_key, base_url = server.url, max_response_bytes = 2 ^ 31 })
            server:fault({ status = 200, headers = h })
            local _, err = c.agents:create(body(1))
            assert.equal("decode", err.kind)
            assert.equal("RESPONSE_HEADERS_TOO_LARGE", err.code)
            assert.matches("header block larger than 256 KiB", err.message)
            assert.is_nil(err.message:find("max_response_bytes", 1, true))
            c:close()
        end)

        it("one header line over libcurl's limit is not reported as out of memory", function()
            server:fault({ status = 200, headers = { ["X-Big"] = string.rep("a", 150000) } })
            local _, err = client.agents:create(body(1))
            assert.equal("decode", err.kind)
            assert.equal("RESPONSE_HEADERS_TOO_LARGE", err.code)
            assert.matches("header line is larger than libcurl accepts", err.message)
        end)
    end)

    describe("environment", function()
        local function run_with_key(shell_value)
            return helpers.run_lua(([[
                local hamsa = require "hamsa"
                local ok, c = pcall(hamsa.new, { base_url = %q })
                if not ok then print("raised: " .. tostring(c)) return end
                local agent, err = c.agents:create({ agentName = "Env" })
                print(agent and "created " .. agent.agentName or "failed " .. err.kind .. ": " .. err.message)
            ]]):format(server.url), "HAMSA_API_KEY=" .. shell_value)
        end

        it("trims an HAMSA_API_KEY that ends in CR (a CRLF env file)", function()
            local out = run_with_key([["$(printf '%s\r' ]] .. server.api_key .. [[)"]])
            assert.matches("created Env", out)
        end)

        it("trims surrounding spaces and tabs", function()
            local out = run_with_key([["$(printf ' \t%s \n' ]] .. server.api_key .. [[)"]])
            assert.matches("created Env", out)
        end)

        it("fails requests with kind config when a control character is inside", function()
            local out = run_with_key([["$(printf 'ab\rcd')"]])
            assert.matches("failed config: HAMSA_API_KEY contains control characters", out)
            assert.is_nil(out:find("raised", 1, true))
        end)
    end)

    describe("numbers that reach C", function()
        local BAD = {
            { stall_timeout = 1e20 }, { max_connections = 1e30 }, { timeout = 1e300 }, { connect_timeout = 0 / 0 },
            { max_response_bytes = 2 ^ 64 }, { max_request_bytes = -1 }, { max_retries = 1e9 },
            { max_connections = 1.5 }, { timeout = -math.huge },
        }
        for _, opts in ipairs(BAD) do
            local name, value = next(opts)
            it(("hamsa.new refuses %s = %s"):format(name, tostring(value)), function()
                opts.api_key = "k"
                local ok, err = pcall(hamsa.new, opts)
                assert.is_false(ok)
                assert.matches(name .. " must be ", err, 1, true)
            end)
        end

        it("request options are bounded the same way, at the caller's line", function()
            for _, o in ipairs({ { timeout = 1e20 }, { stall_timeout = 1e20 }, { max_retries = 2 ^ 40 } }) do
                local where
                local ok, err = pcall(function()
                    where = here(); client.agents:create(body(1), o)
                end)
                assert.is_false(ok)
                assert.equal(where, err:sub(1, #where))
            end
        end)

        it("poll, wait and run refuse NaN and negative waits", function()
            for _, f in ipairs({ client.poll, client.wait, client.run }) do
                assert.has_error(function() f(client, 0 / 0) end)
                assert.has_error(function() f(client, -1) end)
            end
        end)

        it("the bounds themselves are accepted", function()
            local opts = { api_key = "k", base_url = server.url }
            for name, b in pairs(client_mod.BOUNDS) do opts[name] = b[2] end
            local c = hamsa.new(opts)
            assert.is_table(c)
            c:close()
        end)
    end)
end)
