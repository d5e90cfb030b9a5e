-- The pure parts of the pipeline: retry policy, URL encoding, error mapping.
local retry = require "hamsa.retry"
local url = require "hamsa.url"
local errors = require "hamsa.errors"

describe("hamsa.retry", function()
    describe("parse_http_date", function()
        local cases = {
            { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
            { "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
            { "Sun Nov  6 08:49:37 1994", 784111777 },
            { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
            { "Sat, 29 Feb 2020 23:59:59 GMT", 1583020799 },
        }
        for _, c in ipairs(cases) do
            it("reads " .. c[1], function()
                assert.equal(c[2], retry.parse_http_date(c[1]))
            end)
        end
        it("rejects garbage", function()
            assert.is_nil(retry.parse_http_date("tomorrow"))
            assert.is_nil(retry.parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"))
        end)
    end)

    describe("retry_after", function()
        it("reads seconds", function()
            assert.equal(2, retry.retry_after({ ["retry-after"] = "2" }))
            assert.equal(1.5, retry.retry_after({ ["retry-after"] = " 1.5 " }))
        end)
        it("prefers retry-after-ms", function()
            assert.equal(0.25, retry.retry_after({ ["retry-after-ms"] = "250", ["retry-after"] = "9" }))
        end)
        it("reads an HTTP date relative to now", function()
            assert.equal(30, retry.retry_after({ ["retry-after"] = "Thu, 01 Jan 1970 00:01:00 GMT" }, 30))
        end)
        it("a date in the past means no wait", function()
            assert.equal(0, retry.retry_after({ ["retry-after"] = "Thu, 01 Jan 1970 00:01:00 GMT" }, 100))
        end)
        it("ignores what it cannot read", function()
            assert.is_nil(retry.retry_after({ ["retry-after"] = "soon" }))
            assert.is_nil(retry.retry_after({}))
            assert.is_nil(retry.retry_after(nil))
        end)
    end)

    describe("backoff", function()
        it("grows from 0.5 s, capped at 8 s, with up to 25 % jitter", function()
            for n = 0, 8 do
                local base = math.min(0.5 * 2 ^ n, 8)
                for _ = 1, 50 do
                    local d = retry.backoff(n)
                    assert.is_true(d <= base and d >= base * 0.75, ("n=%d d=%g"):format(n, d))
                end
            end
        end)
    end)

    describe("may_retry", function()
        local function err(kind, status, retryable, headers)
            return { kind = kind, status = status, retryable = retryable, headers = headers }
        end
        local cases = {
            -- kind, status, retryable, method, sent, expected
            { "network", nil, true, "POST", false, true, "connect failure on POST" },
            { "timeout", nil, true, "POST", false, true, "connect timeout on POST" },
            { "timeout", nil, true, "POST", true, false, "timeout after sending a POST" },
            { "network", nil, true, "POST", true, false, "reset after sending a POST" },
            { "timeout", nil, true, "PATCH", true, true, "timeout on PATCH" },
            { "network", nil, true, "GET", true, true, "reset on GET" },
            { "network", nil, false, "GET", false, false, "TLS verification failure" },
            { "rate_limited", 429, true, "POST", true, true, "429 on POST" },
            { "server", 503, true, "POST", true, false, "bare 503 on POST" },
            { "server", 503, true, "POST", true, true, "503 with Retry-After on POST", { ["retry-after"] = "1" } },
            { "server", 503, true, "POST", true, true, "503 with Retry-After-Ms on POST", { ["retry-after-ms"] = "10" } },
            { "server", 503, true, "POST", true, false, "503 with an unreadable Retry-After on POST",
              { ["retry-after"] = "soon" } },
            { "server", 503, true, "PATCH", true, true, "bare 503 on PATCH" },
            { "server", 500, true, "POST", true, false, "500 on POST" },
            { "server", 502, true, "POST", true, false, "502 on POST" },
            { "server", 504, true, "POST", true, false, "504 on POST" },
            { "server", 500, true, "PATCH", true, true, "500 on PATCH" },
            { "api", 408, true, "PATCH", true, true, "408 on PATCH" },
            { "api", 408, true, "POST", true, false, "408 on POST" },
            { "api", 400, false, "PATCH", true, false, "400 on PATCH" },
            { "auth", 401, false, "GET", true, false, "401 on GET" },
            { "decode", 200, false, "GET", true, false, "bad JSON on GET" },
        }
        for _, c in ipairs(cases) do
            it(c[7] .. (c[6] and " is retried" or " is not retried"), function()
                assert.equal(c[6], retry.may_retry(err(c[1], c[2], c[3], c[8]), c[4], c[5]))
            end)
        end
    end)

    describe("decide", function()
        it("stops at max_retries", function()
            local e = { kind = "rate_limited", status = 429, retryable = true }
            assert.is_number(retry.decide(e, "POST", true, 1, 2))
            assert.is_nil(retry.decide(e, "POST", true, 2, 2))
            assert.is_nil(retry.decide(e, "POST", true, 0, 0))
        end)
        it("waits what Retry-After asks, up to 60 s", function()
            local e = { kind = "rate_limited", status = 429, retryable = true, headers = { ["retry-after"] = "7" } }
            assert.equal(7, retry.decide(e, "POST", true, 0, 2))
            e.headers["retry-after"] = "61"
            assert.is_nil(retry.decide(e, "POST", true, 0, 2))
        end)
    end)
end)

describe("hamsa.url", function()
    describe("escape", function()
        it("keeps unreserved characters", function()
            assert.equal("aZ09-._~", url.escape("aZ09-._~"))
        end)
        it("encodes path and query syntax", function()
            assert.equal("..%2F..%2Fadmin%3Fx%3D1%23y", url.escape("../../admin?x=1#y"))
        end)
        it("encodes UTF-8 byte by byte", function()
            assert.equal("%D8%B3", url.escape("س"))
        end)
    end)
    describe("query", function()
        it("sorts keys and repeats arrays", function()
            assert.equal("a=1&status=COMPLETED&status=FAILED&z=x%20y",
                url.query({ z = "x y", a = 1, status = { "COMPLETED", "FAILED" } }))
        end)
    end)
    describe("parse_base", function()
        it("splits scheme, host and path", function()
            assert.same({ "https", "api.tryhamsa.com", "" }, { url.parse_base("https://api.tryhamsa.com/") })
            assert.same({ "http", "127.0.0.1", "/x" }, { url.parse_base("http://127.0.0.1:8080/x/") })
        end)
        it("rejects other schemes and credentials", function()
            assert.is_nil(url.parse_base("ftp://x"))
            assert.is_nil(url.parse_base("https://user:pw@x"))
            assert.is_nil(url.parse_base("api.tryhamsa.com"))
        end)
    end)
    describe("is_loopback", function()
        it("knows loopback names", function()
            assert.is_true(url.is_loopback("127.0.0.1"))
            assert.is_true(url.is_loopback("localhost"))
            assert.is_true(url.is_loopback("::1"))
            assert.is_false(url.is_loopback("api.tryhamsa.com"))
            assert.is_false(url.is_loopback("127.0.0.1.evil.com"))
        end)
    end)
end)

describe("hamsa.errors", function()
    describe("kind_for_status", function()
        local cases = { { 401, "auth" }, { 403, "auth" }, { 404, "not_found" }, { 429, "rate_limited" },
            { 400, "api" }, { 422, "api" }, { 500, "server" }, { 503, "server" }, { 302, "api" } }
        for _, c in ipairs(cases) do
            it(c[1] .. " is " .. c[2], function()
                assert.equal(c[2], errors.kind_for_status(c[1]))
            end)
        end
    end)
    describe("redact", function()
        it("replaces every occurrence, as plain text", function()
            assert.equal("a [REDACTED] b [REDACTED]", errors.redact("a k.y b k.y", "k.y"))
            assert.equal("kxy", errors.redact("kxy", "k.y"))
        end)
        it("scrub cleans message, body and headers", function()
            local e = errors.new("auth", "bad key s3cret", {
                body = { message = "key s3cret", nested = { "s3cret" } },
                headers = { ["x-echo"] = "s3cret" },
            })
            errors.scrub(e, "s3cret")
            assert.equal("bad key [REDACTED]", e.message)
            assert.equal("key [REDACTED]", e.body.message)
            assert.equal("[REDACTED]", e.body.nested[1])
            assert.equal("[REDACTED]", e.headers["x-echo"])
        end)
    end)
end)
