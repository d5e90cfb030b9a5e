-- The engine's contract with the Lua layer, straight on core.multi against
-- the mock: t:result() is one table of fixed shape (csrc/http.c,
-- transfer_result), and every error name the C core can give a transfer
-- maps to a kind and a retryable in hamsa.errors, from the one list in
-- csrc/curl_errors.h, with the mappings they always had.
local core = require "hamsa.core"
local errors = require "hamsa.errors"
local helpers = require "spec.helpers"

local KEY = "engine-key-12ab"
local FIELDS = { "status", "body", "headers", "error", "message", "sent", "elapsed", "connects" }
local KINDS = { timeout = true, network = true, config = true, decode = true }

local function is_integer(v)
    return type(v) == "number" and v == math.floor(v)
end

-- No field but the documented ones (absent ones read as nil).
local function assert_only_fields(r)
    assert.is_table(r)
    local known = {}
    for _, k in ipairs(FIELDS) do known[k] = true end
    for k in pairs(r) do assert.is_true(known[k] == true, "unexpected field " .. tostring(k)) end
end

-- Adds spec to m and drives m until that transfer is done.
local function run(m, spec)
    local t = m:add(spec)
    local deadline = core.now() + 10
    while core.now() < deadline do
        m:perform()
        local done = m:next_done()
        if done then
            assert.equal(t, done)
            return done
        end
        m:wait(0.05)
    end
    error("the transfer did not finish in 10 s")
end

-- t:result() of one transfer of spec, the transfer closed.
local function result_of(m, spec)
    local t = run(m, spec)
    local r = t:result()
    t:close()
    return r
end

local function read(path)
    local f = assert(io.open(helpers.root .. "/" .. path))
    local s = f:read("*a")
    f:close()
    return s
end

describe("hamsa engine", function()
    local server, m

    setup(function()
        server = helpers.start_mock({ api_key = KEY })
        m = core.multi({ auth = "Authorization: Token " .. KEY })
    end)

    teardown(function()
        m:close()
        server:stop()
    end)

    describe("t:result()", function()
        it("is one table with the named fields of a response", function()
            local t = run(m, { url = server.url .. "/v1/voice-agents" })
            local r = t:result()
            t:close()
            assert_only_fields(r)
            assert.equal(200, r.status)
            assert.is_true(is_integer(r.status))
            assert.is_string(r.body)
            assert.matches('"success"', r.body, 1, true)
            assert.is_table(r.headers)
            assert.matches("application/json", r.headers["content-type"], 1, true)
            assert.is_nil(r.error)
            assert.is_nil(r.message)
            assert.is_true(r.sent)
            assert.is_number(r.elapsed)
            assert.is_true(r.elapsed >= 0 and r.elapsed < 10)
            assert.is_true(is_integer(r.connects))
        end)

        it("asks for every encoding this libcurl decodes, in libcurl's own order", function()
            -- the list is named once per multi (CURLOPT_ACCEPT_ENCODING ""
            -- would rebuild it on every handle); it must say what "" says
            server:clear()
            result_of(m, { url = server.url .. "/v1/voice-agents" })
            local log = server:requests()
            local sent = log[#log].headers["accept-encoding"]
            local features = {}
            for _, name in ipairs({ "deflate, gzip", "br", "zstd" }) do
                if sent:find(name, 1, true) then features[#features + 1] = name end
            end
            assert.equal(table.concat(features, ", "), sent)
            assert.truthy(sent:find("gzip", 1, true), "Debian's libcurl decodes gzip")
        end)

        it("decodes a gzip answer: the Accept-Encoding line is ours, the decoding still libcurl's", function()
            -- a server on a real socket, driven from this loop: it reads the
            -- request and answers with a gzip body (gzip of the JSON below)
            local socket = require "socket"
            local gz = "\31\139\8\0\0\0\0\0\2\3\171\86\42\46\77\78\78\45\46\86\178\42\41\42\77\213\81\74\73\44"
                .. "\73\84\178\170\86\202\76\81\178\82\74\175\202\44\40\72\77\81\170\173\5\0\81\110\39\27\40\0\0\0"
            local srv = assert(socket.bind("127.0.0.1", 0))
            srv:settimeout(0)
            local _, port = srv:getsockname()
            local mc = core.multi()
            local t = mc:add({ url = "http://127.0.0.1:" .. port .. "/gz" })
            local conn, got, answered = nil, "", false
            local deadline = core.now() + 10
            while not mc:next_done() and core.now() < deadline do
                mc:perform()
                if not conn then
                    conn = srv:accept()
                    if conn then conn:settimeout(0) end
                elseif not answered then
                    local data, _, part = conn:receive(4096)
                    got = got .. (data or part or "")
                    if got:find("\r\n\r\n", 1, true) then
                        assert(conn:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                            .. "Content-Length: " .. #gz .. "\r\n\r\n" .. gz))
                        answered = true
                    end
                end
                mc:wait(0.01)
            end
            local r = t:result()
            t:close()
            mc:close()
            if conn then conn:close() end
            srv:close()
            assert.matches("\r\nAccept%-Encoding: [^\r\n]*gzip", got)
            local _, lines = got:gsub("\r\n[Aa]ccept%-[Ee]ncoding:", "")
            assert.equal(1, lines, "one Accept-Encoding line")
            assert.equal(200, r.status)
            assert.equal("gzip", r.headers["content-encoding"])
            assert.equal('{"success":true,"data":{"id":"gzipped"}}', r.body)
        end)

        it("sends the caller's own Accept-Encoding line instead of ours", function()
            server:clear()
            result_of(m, { url = server.url .. "/v1/voice-agents", headers = { "Accept-Encoding: identity" } })
            local log = server:requests()
            assert.equal("identity", log[#log].headers["accept-encoding"])
        end)

        it("counts no new connection when a kept-alive one is reused", function()
            result_of(m, { url = server.url .. "/v1/voice-agents" })
            local r = result_of(m, { url = server.url .. "/v1/voice-agents" })
            assert.equal(200, r.status)
            assert.equal(0, r.connects)
        end)

        it("names the error of a request that got no response, and says it was not sent", function()
            local r = result_of(m, { url = "http://127.0.0.1:" .. helpers.free_port() .. "/", connect_timeout = 5 })
            assert_only_fields(r)
            assert.is_nil(r.status)
            assert.equal("", r.body)
            assert.same({}, r.headers)
            assert.equal("CURLE_COULDNT_CONNECT", r.error)
            assert.is_string(r.message)
            assert.is_true(#r.message > 0)
            assert.is_false(r.sent)
            assert.is_number(r.elapsed)
            assert.is_true(is_integer(r.connects))
        end)

        it("names a response over max_body RESPONSE_TOO_LARGE, with the status that came", function()
            local r = result_of(m, { url = server.url .. "/v1/voice-agents", max_body = 4 })
            assert.equal(200, r.status)
            assert_only_fields(r)
            assert.equal("RESPONSE_TOO_LARGE", r.error)
            assert.equal("response larger than 4 bytes", r.message)
            assert.is_true(r.sent)
        end)

        it("leaves an HTTP error status to the Lua layer: no error name", function()
            local r = result_of(m, { url = server.url .. "/v1/voice-agents/none" })
            assert_only_fields(r)
            assert.equal(404, r.status)
            assert.is_nil(r.error)
            assert.is_nil(r.message)
            assert.is_string(r.body)
            assert.is_table(r.headers)
            assert.is_true(r.sent)
        end)
    end)

    describe("error names", function()
        it("exports the rows of csrc/curl_errors.h as core.curl_errors", function()
            local rows, n = {}, 0
            for name, kind, retryable in read("csrc/curl_errors.h"):gmatch('X%(([%u%d_]+), "(%l+)", ([01])%)') do
                rows["CURLE_" .. name] = { kind = kind, retryable = retryable == "1" }
                n = n + 1
            end
            assert.is_true(n >= 31)
            assert.same(rows, core.curl_errors)
        end)

        it("maps every libcurl name the core produces to a kind and retryable", function()
            for name, row in pairs(core.curl_errors) do
                assert.matches("^CURLE_[%u%d_]+$", name)
                assert.is_truthy(KINDS[row.kind], name .. ": kind " .. tostring(row.kind))
                assert.is_boolean(row.retryable)
                local kind, retryable = errors.transport(name)
                assert.equal(row.kind, kind, name)
                assert.equal(row.retryable, retryable, name)
            end
        end)

        it("maps the names C makes itself, and libcurl codes it does not name", function()
            -- every other error name written in http.c as a literal
            local src, seen = read("csrc/http.c"), 0
            for name in src:gmatch('"(RESPONSE_[%u_]+)"') do
                local kind, retryable = errors.transport(name)
                assert.equal("decode", kind, name)
                assert.is_false(retryable, name)
                seen = seen + 1
            end
            assert.is_true(seen >= 2)
            assert.matches('"CURLE_%d"', src, 1, true)       -- the name of a code not listed
            assert.same({ "network", false }, { errors.transport("CURLE_999") })
        end)

        it("keeps the mappings of before the one list", function()
            local before = {
                CURLE_OPERATION_TIMEDOUT = { "timeout", true },
                CURLE_COULDNT_RESOLVE_HOST = { "network", true },
                CURLE_COULDNT_CONNECT = { "network", true },
                CURLE_RECV_ERROR = { "network", true },
                CURLE_GOT_NOTHING = { "network", true },
                CURLE_SEND_FAIL_REWIND = { "network", true },
                CURLE_PEER_FAILED_VERIFICATION = { "network", false },
                CURLE_SSL_CACERT_BADFILE = { "network", false },
                CURLE_UNSUPPORTED_PROTOCOL = { "network", false },
                CURLE_URL_MALFORMAT = { "config", false },
                CURLE_WEIRD_SERVER_REPLY = { "network", false },
                CURLE_BAD_CONTENT_ENCODING = { "decode", false },
                -- names C gave without a Lua row: they had the default
                CURLE_WRITE_ERROR = { "network", false },
                CURLE_OUT_OF_MEMORY = { "network", false },
                CURLE_TOO_MANY_REDIRECTS = { "network", false },
                CURLE_HTTP3 = { "network", false },
                RESPONSE_TOO_LARGE = { "decode", false },
                RESPONSE_HEADERS_TOO_LARGE = { "decode", false },
            }
            for name, want in pairs(before) do
                assert.same(want, { errors.transport(name) }, name)
            end
        end)
    end)
end)
