-- wrk script for bench/webhook.sh: POSTs a valid call.started event with the
-- Authorization header; each request carries a unique timestamp, so no
-- delivery is a duplicate. wrk counts non-2xx answers in errors.status.
-- luacheck: globals wrk request done
local counter = 0
local auth = os.getenv("WEBHOOK_AUTH") or "Bearer bench-secret"

function request()
    counter = counter + 1
    local body = '{"eventType":"call.started","callId":"bench-call","timestamp":"t-'
        .. counter .. '-' .. tostring(math.random(1, 1e9)) .. '","data":{}}'
    return wrk.format("POST", "/", { ["Authorization"] = auth, ["Content-Type"] = "application/json" }, body)
end

function done(summary)
    local e = summary.errors
    io.write(string.format("wrk: %d requests completed, %d not 2xx, socket errors: connect %d, read %d, "
        .. "write %d, timeout %d\n", summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
    io.write(string.format("wrk: %.0f requests/s\n", summary.requests / (summary.duration / 1e6)))
end
