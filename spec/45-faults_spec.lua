-- The fault suite: one table of everything a server or a network can do
-- wrong, each case run against a real server under the specs' control (the
-- mock with a queued fault, a port nobody listens on, a `.invalid` host, a
-- TLS server with a certificate made here by openssl). Every row asserts
-- the error kind and code, how many attempts the client made, how many
-- requests the server saw, and that the same client still works afterwards.
--
-- With HAMSA_FAULT_TABLE=<file> each passing row is appended to <file> as a
-- JSON line; scripts/reliability.lua renders them into docs/reliability.md.
local hamsa = require "hamsa"
local helpers = require "spec.helpers"
local cjson = require "cjson"

local TABLE = os.getenv("HAMSA_FAULT_TABLE")

local function record(row)
    if not TABLE then return end
    local f = assert(io.open(TABLE, "a"))
    f:write(cjson.encode(row), "\n")
    f:close()
end

local function sh(cmd)
    local ok = os.execute(cmd)
    return ok == true or ok == 0
end

-- "1 s" from a logger line "... retrying in 1.00 s"
local function logged_delays(lines)
    local out = {}
    for _, l in ipairs(lines) do
        local d = l:match("retrying in ([%d.]+) s")
        if d then out[#out + 1] = tonumber(d) end
    end
    return out
end

local ENVELOPE = '{"success":true,"message":"ok","data":{"id":"a1","agentName":"Big"}}'

describe("hamsa faults", function()
    local server, other, agent_id
    helpers.mock_suite({ setup, teardown, before_each }, {
        retry_delay = 0.01,            -- backoff without Retry-After stays short here
        clean = "faults",
    }, function(s) server = s end)
    -- a second host, for redirects
    helpers.mock_suite({ setup, teardown, before_each }, { clean = "log" }, function(s) other = s end)

    setup(function()
        local c = hamsa.new({ api_key = server.api_key, base_url = server.url })
        agent_id = assert(c.agents:create({ agentName = "Fault target" })).id
        c:close()
    end)

    local function new_client(opts)
        local o = { api_key = server.api_key, base_url = server.url, max_retries = 2 }
        for k, v in pairs(opts or {}) do o[k] = v end
        return hamsa.new(o)
    end

    local REQUESTS = {
        ["POST create"] = function(c, opts) return c.agents:create({ agentName = "Fault" }, opts) end,
        ["GET list"] = function(c, opts) return c:request("GET", "/v1/voice-agents", nil, opts) end,
        ["PATCH update"] = function(c, opts) return c.agents:update(agent_id, { lang = "en" }, opts) end,
    }

    -- The same client does real work after the fault: a create that the
    -- server stores, and nothing left in flight.
    local function still_usable(c)
        server:clear_faults()
        local agent, err = c.agents:create({ agentName = "After" })
        assert.is_table(agent, tostring(err))
        assert.equal("After", agent.agentName)
        assert.equal(0, c:pending())
        return "yes"
    end

    local function one_of(want, got)
        if type(want) == "table" then
            for _, w in ipairs(want) do if w == got then return true end end
            return false
        end
        return want == got
    end

    -- Asserts one outcome and records its row.
    -- res = { data, err, response, seen, usable, note }; case = the expectations
    local function conclude(case, res)
        local err = res.err
        local e = case.expect
        local attempts
        if e.kind then
            assert.is_nil(res.data)
            assert.is_table(err)
            assert.is_true(hamsa.is_error(err))
            assert.equal(e.kind, err.kind, tostring(err))
            if e.code ~= nil then assert.is_true(one_of(e.code, err.code), tostring(err.code)) end
            if e.no_code then assert.is_nil(err.code) end
            if e.status ~= nil then assert.equal(e.status, err.status) end
            if e.retryable ~= nil then assert.equal(e.retryable, err.retryable) end
            if e.message then assert.matches(e.message, err.message, 1, true) end
            assert.is_string(err.message)
            attempts = err.attempts
        else
            assert.is_not_nil(res.data, tostring(err))
            attempts = res.response.attempts
        end
        assert.equal(e.attempts, attempts)
        assert.equal(e.seen, res.seen)
        record({
            section = case.section, case = case.name, request = case.request,
            kind = e.kind, code = err and err.code or nil, status = err and err.status or nil,
            retryable = err and err.retryable or nil,
            attempts = attempts, seen = res.seen, usable = res.usable, note = res.note or case.note,
        })
    end

    -- A case against the mock: queue the fault, make the request on a new
    -- client, count what the server saw, then prove the client still works.
    local function mock_case(case)
        local c = new_client(case.client)
        if case.warm then                  -- open a kept-alive connection first
            assert(c.agents:create({ agentName = "Warm" }))
            server:clear()
        end
        if case.fault then server:fault(case.fault) end
        local data, err, response = REQUESTS[case.request](c, case.opts)
        if data ~= nil then response, err = err, nil end      -- success: data, response
        local seen = #server:requests()
        local res = { data = data, err = err, response = response, seen = seen }
        if case.after then case.after(res) end
        res.usable = still_usable(c)
        c:close()
        conclude(case, res)
    end

    local function run(cases)
        for _, case in ipairs(cases) do
            it(case.name .. " (" .. case.request .. ")", function()
                (case.run or mock_case)(case)
            end)
        end
    end

    ----------------------------------------------------------------------
    describe("transport", function()
        it("connection refused (POST create): retried, then the same client works once a server listens", function()
            local port = helpers.free_port()
            local c = new_client({ base_url = "http://127.0.0.1:" .. port })
            local data, err = c.agents:create({ agentName = "Fault" })
            -- a server appears on that port: the same client recovers
            local late = helpers.start_mock({ port = port })
            local agent, err2 = c.agents:create({ agentName = "After" })
            local seen = #late:requests()
            late:stop()
            assert.is_table(agent, tostring(err2))
            assert.equal(1, seen)
            assert.equal(0, c:pending())
            c:close()
            conclude({ section = "Transport", name = "Connection refused", request = "POST create",
                       expect = { kind = "network", code = "CURLE_COULDNT_CONNECT", attempts = 3, seen = 0,
                                  retryable = true } },
                     { data = data, err = err, seen = 0, usable = "yes",
                       note = "nothing reached a server, so even a POST is retried" })
        end)

        it("DNS failure (POST create): retried; the same client fails the same way again, cleanly", function()
            local c = new_client({ base_url = "https://no-such-host.invalid" })
            local data, err = c.agents:create({ agentName = "Fault" })
            local data2, err2 = c.agents:create({ agentName = "Again" })
            assert.is_nil(data2)
            assert.equal("network", err2.kind)
            assert.equal(0, c:pending())
            c:close()
            conclude({ section = "Transport", name = "DNS failure (`.invalid` host)", request = "POST create",
                       expect = { kind = "network", code = "CURLE_COULDNT_RESOLVE_HOST", attempts = 3, seen = 0,
                                  retryable = true } },
                     { data = data, err = err, seen = 0,
                       usable = "yes (the next request fails the same way; nothing left in flight)" })
        end)

        run({
            { section = "Transport", name = "Reset before the response", request = "POST create",
              fault = { action = "reset", times = 3 },
              expect = { kind = "network", code = { "CURLE_RECV_ERROR", "CURLE_GOT_NOTHING" }, attempts = 1,
                         seen = 1, retryable = true },
              note = "may have reached the server: a POST is not sent again" },
            { section = "Transport", name = "Reset before the response", request = "GET list",
              fault = { action = "reset", times = 3 },
              expect = { kind = "network", code = { "CURLE_RECV_ERROR", "CURLE_GOT_NOTHING" }, attempts = 3,
                         seen = 3 } },
            { section = "Transport", name = "Reset on a kept-alive connection", request = "POST create",
              warm = true, fault = { action = "reset", times = 3 },
              expect = { kind = "network", code = "CURLE_SEND_FAIL_REWIND", attempts = 1, seen = 1,
                         message = "may have acted on it" },
              note = "libcurl's silent re-send on a fresh connection is blocked" },
            { section = "Transport", name = "Closed without an answer", request = "POST create",
              fault = { action = "close", times = 3 },
              expect = { kind = "network", code = "CURLE_GOT_NOTHING", attempts = 1, seen = 1 } },
            { section = "Transport", name = "Reset in the middle of the body", request = "POST create",
              fault = { action = "reset_mid_body", times = 3 },
              expect = { kind = "network", code = { "CURLE_RECV_ERROR", "CURLE_PARTIAL_FILE" }, attempts = 1,
                         seen = 1 } },
            { section = "Transport", name = "Reset in the middle of the body", request = "GET list",
              fault = { action = "reset_mid_body", times = 3 },
              expect = { kind = "network", code = { "CURLE_RECV_ERROR", "CURLE_PARTIAL_FILE" }, attempts = 3,
                         seen = 3 } },
            { section = "Transport", name = "Closed in the middle of the body", request = "POST create",
              fault = { action = "close_mid_body", times = 3 },
              expect = { kind = "network", code = "CURLE_PARTIAL_FILE", attempts = 1, seen = 1 } },
            { section = "Transport", name = "Closed in the middle of the body", request = "PATCH update",
              fault = { action = "close_mid_body", times = 3 },
              expect = { kind = "network", code = "CURLE_PARTIAL_FILE", attempts = 3, seen = 3 } },
            { section = "Transport", name = "Total timeout (answer after 2 s, timeout 0.3 s)", request = "POST create",
              fault = { delay = 2, times = 3 }, opts = { timeout = 0.3 },
              expect = { kind = "timeout", code = "CURLE_OPERATION_TIMEDOUT", attempts = 1, seen = 1,
                         retryable = true } },
            { section = "Transport", name = "Total timeout (answer after 2 s, timeout 0.3 s)", request = "GET list",
              fault = { delay = 2, times = 3 }, opts = { timeout = 0.3 },
              expect = { kind = "timeout", code = "CURLE_OPERATION_TIMEDOUT", attempts = 3, seen = 3 } },
            { section = "Transport", name = "Slow drip (1 byte per 1.5 s, stall_timeout 1 s)", request = "POST create",
              fault = { action = "drip", interval = 1.5, times = 3 }, opts = { stall_timeout = 1, timeout = 30 },
              expect = { kind = "timeout", code = "CURLE_OPERATION_TIMEDOUT", attempts = 1, seen = 1 },
              note = "libcurl's low-speed guard, long before the 30 s total timeout" },
        })
    end)

    ----------------------------------------------------------------------
    describe("rate limiting", function()
        local function logged(case)
            local lines = {}
            case.client = { logger = function(_, msg) lines[#lines + 1] = msg end }
            case.lines = lines
            return case
        end

        local ra_seconds = logged({ section = "Rate limiting", name = "429, `Retry-After: 1` (seconds)",
            request = "POST create", fault = { status = 429, headers = { ["Retry-After"] = "1" } },
            expect = { attempts = 2, seen = 2 } })
        ra_seconds.after = function(res)
            assert.same({ 1 }, logged_delays(ra_seconds.lines))     -- waited what the server asked
            local log = server:requests()
            res.note = ("waited %.2f s as asked (server-side gap %.2f s)"):format(
                logged_delays(ra_seconds.lines)[1], log[2].at - log[1].at)
        end

        local ra_date = logged({ section = "Rate limiting", name = "429, `Retry-After` as an HTTP date (+3 s)",
            request = "POST create", expect = { attempts = 2, seen = 2 } })
        ra_date.fault = function()
            -- whole seconds: 3 leaves a margin for a slow run (valgrind)
            return { status = 429, headers = { ["Retry-After"] = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 3) } }
        end
        ra_date.after = function(res)
            local d = logged_delays(ra_date.lines)
            assert.equal(1, #d)
            assert.is_true(d[1] > 0 and d[1] <= 3, tostring(d[1]))
            res.note = ("waited %.2f s until that date"):format(d[1])
        end

        local cases = {
            ra_seconds, ra_date,
            { section = "Rate limiting", name = "429, `Retry-After: 3600` (over the 60 s cap)", request = "POST create",
              fault = { status = 429, headers = { ["Retry-After"] = "3600" }, times = 3 },
              expect = { kind = "rate_limited", status = 429, attempts = 1, seen = 1, retryable = true },
              note = "not waited for: returned at once, retryable" },
            { section = "Rate limiting", name = "429, `Retry-After: 99999999999999999999`", request = "POST create",
              fault = { status = 429, headers = { ["Retry-After"] = "99999999999999999999" }, times = 3 },
              expect = { kind = "rate_limited", status = 429, attempts = 1, seen = 1, retryable = true } },
            { section = "Rate limiting", name = "429, `Retry-After` a year ahead (HTTP date)", request = "POST create",
              fault = { status = 429, headers = { ["Retry-After"] = os.date("!%a, %d %b %Y %H:%M:%S GMT",
                                                                            os.time() + 366 * 86400) }, times = 3 },
              expect = { kind = "rate_limited", status = 429, attempts = 1, seen = 1, retryable = true } },
            { section = "Rate limiting", name = "429 without `Retry-After`, persistent", request = "POST create",
              fault = { status = 429, times = 5 },
              expect = { kind = "rate_limited", status = 429, attempts = 3, seen = 3, retryable = true },
              note = "exponential backoff with jitter" },
        }
        for _, case in ipairs(cases) do
            local fault = case.fault
            case.run = function(cs)
                cs.fault = type(fault) == "function" and fault() or fault
                return mock_case(cs)
            end
        end
        run(cases)
    end)

    ----------------------------------------------------------------------
    describe("server errors", function()
        local bodies = {
            { "JSON", '{"success":false,"message":"Database unavailable","messageKey":"DB_DOWN"}',
              "application/json", "DB_DOWN" },
            { "HTML", "<html><body><h1>Bad Gateway</h1></body></html>", "text/html" },
            { "empty", "", "text/plain" },
        }
        local cases = {}
        for _, status in ipairs({ 500, 502, 503, 504 }) do
            for _, b in ipairs(bodies) do
                cases[#cases + 1] = {
                    section = "Server errors", name = ("%d, %s body"):format(status, b[1]), request = "POST create",
                    fault = { status = status, body = b[2], content_type = b[3], times = 5 },
                    expect = { kind = "server", status = status, code = b[4], no_code = not b[4], retryable = true,
                               attempts = 1, seen = 1 },
                    note = status == 503 and "a bare 503 may come from a gateway after forwarding: not resent" or nil,
                }
            end
        end
        for _, b in ipairs(bodies) do
            cases[#cases + 1] = {
                section = "Server errors", name = ("503 with Retry-After: 0, %s body"):format(b[1]),
                request = "POST create",
                fault = { status = 503, body = b[2], content_type = b[3], times = 5, headers = { ["Retry-After"] = "0" } },
                expect = { kind = "server", status = 503, code = b[4], no_code = not b[4], retryable = true,
                           attempts = 3, seen = 3 },
                note = "refused before acting: retried",
            }
        end
        cases[#cases + 1] = { section = "Server errors", name = "500, JSON body", request = "GET list",
            fault = { status = 500, times = 5 },
            expect = { kind = "server", status = 500, attempts = 3, seen = 3, retryable = true },
            note = "idempotent: retried" }
        cases[#cases + 1] = { section = "Server errors", name = "502, HTML body", request = "PATCH update",
            fault = { status = 502, body = "<html>Bad Gateway</html>", content_type = "text/html", times = 5 },
            expect = { kind = "server", status = 502, attempts = 3, seen = 3, retryable = true } }
        cases[#cases + 1] = { section = "Server errors", name = "503 once, then success", request = "POST create",
            fault = { status = 503, headers = { ["Retry-After"] = "0" } },
            expect = { attempts = 2, seen = 2 } }
        run(cases)
    end)

    ----------------------------------------------------------------------
    describe("bodies", function()
        local big = 17 * 1024 * 1024
        run({
            { section = "Response bodies", name = "200 with truncated JSON", request = "POST create",
              fault = { status = 200, body = '{"success":true,"data":{"id":"a1","agentNa', times = 3 },
              expect = { kind = "decode", code = "INVALID_JSON", status = 200, attempts = 1, seen = 1,
                         retryable = false, message = "byte" } },
            { section = "Response bodies", name = "200, empty body", request = "POST create",
              fault = { status = 200, body = "", times = 3 },
              expect = { kind = "decode", code = "INVALID_JSON", status = 200, attempts = 1, seen = 1 } },
            { section = "Response bodies", name = "200, HTML page (`text/html`)", request = "POST create",
              fault = { status = 200, body = "<html><body>Captive portal</body></html>", content_type = "text/html",
                        times = 3 },
              expect = { kind = "decode", code = "INVALID_JSON", status = 200, attempts = 1, seen = 1 } },
            { section = "Response bodies", name = "200, a valid envelope labelled `text/html`", request = "POST create",
              fault = { status = 200, body = ENVELOPE, content_type = "text/html" },
              expect = { attempts = 1, seen = 1 },
              note = "the body decides, not the label: accepted" },
            { section = "Response bodies", name = "200, JSON that is not an envelope (`[1,2]`)", request = "POST create",
              fault = { status = 200, body = "[1,2]", times = 3 },
              expect = { kind = "decode", code = "INVALID_ENVELOPE", attempts = 1, seen = 1 } },
            { section = "Response bodies", name = "200 with `success: false`", request = "POST create",
              fault = { status = 200, body = '{"success":false,"message":"Quota exceeded","messageKey":"QUOTA"}',
                        times = 3 },
              expect = { kind = "api", code = "QUOTA", status = 200, attempts = 1, seen = 1, retryable = false,
                         message = "Quota exceeded" } },
            { section = "Response bodies", name = "Body over `max_response_bytes = 4096`", request = "POST create",
              client = { max_response_bytes = 4096 },
              fault = { status = 200, body = ENVELOPE, pad = 100000, times = 3 },
              expect = { kind = "decode", code = "RESPONSE_TOO_LARGE", attempts = 1, seen = 1, retryable = false,
                         message = "response larger than 4096 bytes" } },
            { section = "Response bodies", name = "17 MiB body, default cap (16 MiB)", request = "GET list",
              fault = { status = 200, body = ENVELOPE, pad = big, times = 3 },
              expect = { kind = "decode", code = "RESPONSE_TOO_LARGE", attempts = 1, seen = 1,
                         message = "response larger than 16777216 bytes" },
              note = "not retried even when idempotent: it would be as large again" },
        })
    end)

    ----------------------------------------------------------------------
    describe("redirects", function()
        local function redirect(status, request)
            local case = { section = "Redirects", request = request,
                name = status .. " to another host",
                expect = { kind = "api", status = status, attempts = 1, seen = 1, retryable = false },
                note = "not followed; the other host saw 0 requests" }
            case.run = function(cs)
                cs.fault = { status = status, body = "", times = 3,
                             headers = { Location = other.url .. "/v1/voice-agents" } }
                cs.after = function()
                    assert.equal(0, #other:requests())        -- the key never went there
                end
                return mock_case(cs)
            end
            return case
        end
        run({ redirect(302, "POST create"), redirect(307, "GET list"), redirect(308, "PATCH update") })
    end)

    ----------------------------------------------------------------------
    describe("TLS", function()
        local dir, tls

        local SERVER = [[
-- a one-connection-at-a-time HTTPS server (LuaSec) that logs each request
local socket, ssl = require "socket", require "ssl"
local dir, logpath = arg[1], arg[2]
local ctx = assert(ssl.newcontext({ mode = "server", protocol = "any", options = { "all" },
    key = dir .. "/key.pem", certificate = dir .. "/cert.pem" }))
local srv = assert(socket.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
io.stdout:write("listening ", port, "\n")
io.stdout:flush()
local function log(line)
    local f = assert(io.open(logpath, "a"))
    f:write(line, "\n")
    f:close()
end
while true do
    local c = srv:accept()
    if c then
        c:settimeout(10)
        local s = assert(ssl.wrap(c, ctx))
        local ok, err = s:dohandshake()
        if not ok then
            log("handshake-failed " .. tostring(err))
        else
            local line = s:receive("*l")
            local headers = {}
            while true do
                local h = s:receive("*l")
                if not h or h == "" then break end
                local n, v = h:match("^([^:]+):%s*(.*)$")
                if n then headers[n:lower()] = v end
            end
            local len = tonumber(headers["content-length"] or 0) or 0
            if len > 0 then s:receive(len) end
            log("request " .. tostring(line) .. " auth=" .. tostring(headers.authorization))
            local body = '{"success":true,"data":{"tls":true,"agentName":"After"}}'
            s:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #body
                .. "\r\nConnection: close\r\n\r\n" .. body)
        end
        s:close()
    end
end
]]

        local function tls_log()
            local f = io.open(dir .. "/log")
            local requests, failed = {}, 0
            if f then
                for line in f:lines() do
                    if line:match("^request ") then requests[#requests + 1] = line end
                    if line:match("^handshake%-failed") then failed = failed + 1 end
                end
                f:close()
            end
            return requests, failed
        end

        setup(function()
            dir = os.tmpname()
            os.remove(dir)
            assert(sh("mkdir -p " .. helpers.quote(dir)))
            assert(sh(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                .. "-keyout %s/key.pem -out %s/cert.pem -days 2 -subj /CN=localhost "
                .. "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1")
                :format(helpers.quote(dir), helpers.quote(dir))), "openssl could not make a certificate")
            local f = assert(io.open(dir .. "/server.lua", "w"))
            f:write(SERVER)
            f:close()
            local proc = assert(io.popen(("echo $$; exec %s %s %s %s"):format(helpers.quote(helpers.mock_lua),
                helpers.quote(dir .. "/server.lua"), helpers.quote(dir), helpers.quote(dir .. "/log")), "r"))
            local pid = tonumber(proc:read("*l"))
            local port = tonumber((proc:read("*l") or ""):match("^listening (%d+)$"))
            assert(pid and port, "the TLS server did not start")
            tls = { proc = proc, pid = pid, url = "https://127.0.0.1:" .. port }
        end)

        teardown(function()
            if tls then
                os.execute("kill " .. tls.pid .. " 2>/dev/null")
                pcall(tls.proc.close, tls.proc)
            end
            if dir then os.execute("rm -rf " .. helpers.quote(dir)) end
        end)

        it("a self-signed server fails verification without ca_file (POST create)", function()
            local c = new_client({ base_url = tls.url })
            local data, err = c.agents:create({ agentName = "Fault" })
            -- the same client, again: the same clean failure, nothing in flight
            -- (the server handles one connection at a time, so once this
            -- returns the first handshake is in its log)
            local data2, err2 = c.agents:create({ agentName = "Again" })
            local requests, failed = tls_log()
            assert.is_nil(data2)
            assert.equal("CURLE_PEER_FAILED_VERIFICATION", err2.code)
            assert.equal(0, c:pending())
            c:close()
            assert.is_true(failed >= 1)
            conclude({ section = "TLS", name = "Self-signed certificate, no `ca_file`", request = "POST create",
                       expect = { kind = "network", code = "CURLE_PEER_FAILED_VERIFICATION", attempts = 1,
                                  seen = 0, retryable = false } },
                     { data = data, err = err, seen = #requests,
                       usable = "yes (the next request fails the same way; nothing left in flight)",
                       note = "the handshake fails; no HTTP request, no key, leaves the client" })
        end)

        it("the same server is trusted with ca_file pointing at its certificate (POST create)", function()
            local before = #tls_log()
            local c = new_client({ base_url = tls.url, ca_file = dir .. "/cert.pem" })
            local data, response = c.agents:create({ agentName = "Fault" })
            assert.is_table(data, tostring(response))
            assert.is_true(data.tls)
            local requests = tls_log()
            local seen = #requests - before
            assert.matches("auth=Token " .. server.api_key, requests[#requests], 1, true)
            -- and again on the same client
            assert.is_table((c.agents:create({ agentName = "After" })))
            c:close()
            conclude({ section = "TLS", name = "Self-signed certificate, `ca_file` trusts it", request = "POST create",
                       expect = { attempts = 1, seen = 1 } },
                     { data = data, response = response, seen = seen, usable = "yes" })
        end)
    end)

    ----------------------------------------------------------------------
    describe("configuration", function()
        it("plain http:// to a remote host is refused before sending (POST create)", function()
            local c = new_client({ base_url = "http://api.tryhamsa.com" })
            local data, err = c.agents:create({ agentName = "Fault" })
            c:close()
            assert.matches("allow_insecure_http", err.message, 1, true)
            conclude({ section = "Configuration", name = "Plain `http://` to a non-loopback host",
                       request = "POST create",
                       expect = { kind = "config", attempts = nil, seen = 0, retryable = false } },
                     { data = data, err = err, seen = 0, usable = "n/a (a configuration error)",
                       note = "the key is never sent; `allow_insecure_http = true` overrides" })
        end)
    end)
end)

----------------------------------------------------------------------------
-- The side effects of POST routes, counted by the server: a request that
-- may have reached it is sent exactly once; one the server refused before
-- acting (429, 503 with Retry-After) is sent 1 + max_retries times, always
-- with one key.
describe("hamsa side effects", function()
    local server, client, agent_id
    helpers.mock_suite({ setup, teardown, before_each },
        { retry_delay = 0.01, client = { max_retries = 2 }, clean = "faults" },
        function(s, c) server, client = s, c end)

    setup(function()
        agent_id = assert(client.agents:create({ agentName = "Side effects" })).id
    end)

    local ROUTES = {
        { "create", "/v1/voice-agents", function(opts)
            return client.agents:create({ agentName = "Once" }, opts) end },
        { "clone", "/v1/voice-agents/clone", function(opts)
            return client.agents:clone(agent_id, { agentName = "Once" }, opts) end },
        { "phone_number", "/v1/voice-agents/phone-number/call", function(opts)
            return client.calls:phone_number({ toNumber = "+971501234567", phoneNumber = "+97145551234",
                                               voiceAgentId = agent_id }, opts) end },
        { "twilio", "/v1/voice-agents/twilio/call", function(opts)
            return client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                                         voiceAgentId = agent_id }, opts) end },
    }

    local FAULTS = {
        { "timeout after sending", { delay = 1.5 }, { timeout = 0.3 }, 1 },
        { "reset before the answer", { action = "reset" }, nil, 1 },
        { "closed without an answer", { action = "close" }, nil, 1 },
        { "reset mid-body", { action = "reset_mid_body" }, nil, 1 },
        { "closed mid-body", { action = "close_mid_body" }, nil, 1 },
        { "500", { status = 500 }, nil, 1 },
        { "502", { status = 502 }, nil, 1 },
        { "504", { status = 504 }, nil, 1 },
        { "503 without Retry-After (maybe after a gateway forwarded it)", { status = 503 }, nil, 1 },
        { "503 with Retry-After (refused before acting)", { status = 503, headers = { ["Retry-After"] = "0" } }, nil, 3 },
        { "429 (refused before acting)", { status = 429 }, nil, 3 },
    }

    for _, f in ipairs(FAULTS) do
        for _, r in ipairs(ROUTES) do
            it(("%s on %s is sent %d time(s), with one Idempotency-Key"):format(f[1], r[1], f[4]), function()
                local fault = { path = r[2], times = 5 }
                for k, v in pairs(f[2]) do fault[k] = v end
                server:fault(fault)
                local data, err = r[3](f[3])
                server:clear_faults()
                assert.is_nil(data)
                local log = server:requests()
                local seen, keys = 0, {}
                for _, q in ipairs(log) do
                    if q.path == r[2] then
                        seen = seen + 1
                        keys[q.headers["idempotency-key"]] = true
                    end
                end
                assert.equal(f[4], seen)
                assert.equal(f[4], err.attempts)
                local nkeys, key = 0, nil
                for k in pairs(keys) do nkeys, key = nkeys + 1, k end
                assert.equal(1, nkeys)
                assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", key)
                -- the client goes on working
                assert.is_table((client.agents:update(agent_id, { lang = "ar" })))
                record({ matrix = true, fault = f[1], route = r[1], seen = seen, kind = err.kind })
            end)
        end
    end

    it("a caller's Idempotency-Key is used on every attempt", function()
        server:fault({ path = "/v1/voice-agents/twilio/call", status = 503, times = 2,
                       headers = { ["Retry-After"] = "0" } })
        local job, response = client.calls:twilio({ toNumber = "+14155550123", twilioPhoneNumber = "+14155550100",
                                                    voiceAgentId = agent_id }, { idempotency_key = "crm-4711" })
        assert.is_table(job)
        assert.equal(3, response.attempts)
        assert.equal("crm-4711", response.idempotency_key)
        local log = server:requests()
        assert.equal(3, #log)
        for _, q in ipairs(log) do assert.equal("crm-4711", q.headers["idempotency-key"]) end
    end)

    it("two logical requests get two keys", function()
        client.agents:create({ agentName = "One" })
        client.agents:create({ agentName = "Two" })
        local log = server:requests()
        assert.equal(2, #log)
        assert.is_string(log[1].headers["idempotency-key"])
        assert.are_not.equal(log[1].headers["idempotency-key"], log[2].headers["idempotency-key"])
    end)
end)
