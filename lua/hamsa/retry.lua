--- The retry policy: what may be sent again, and after how long.
-- Only what cannot cause a duplicate side effect is retried:
-- * anything that provably never reached the server (connect failures);
-- * 429, and 503 with Retry-After, where the server refused before acting;
-- * for idempotent methods only: timeouts, resets, 408 and other 5xx.
-- A POST that may have reached the server is never retried: placing the
-- same phone call twice is worse than reporting an error.
-- @module hamsa.retry
local tonumber, type, floor, min, random = tonumber, type, math.floor, math.min, math.random
local match, lower, os_time = string.match, string.lower, os.time

local M = {}

M.BASE_DELAY = 0.5          -- seconds before the first retry
M.MAX_DELAY = 8             -- cap of the exponential backoff
M.MAX_RETRY_AFTER = 60      -- a longer Retry-After is not waited for

local IDEMPOTENT = { GET = true, HEAD = true, OPTIONS = true, PUT = true, DELETE = true, PATCH = true }
M.IDEMPOTENT = IDEMPOTENT

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
                 jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }

--- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
-- algorithm), so a date converts without the local time zone getting
-- involved: HTTP dates here, the dialer's windows, the CLI's UTC dates.
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = floor(y / 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

M.days_from_civil = days_from_civil

--- Seconds since the epoch of an HTTP date (IMF-fixdate, RFC 850 or asctime), or nil.
function M.parse_http_date(s)
    local d, mon, y, hh, mm, ss = match(s, "^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
    if not d then
        d, mon, y, hh, mm, ss = match(s, "^%a+, (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT$")
        if y then y = tonumber(y) + (tonumber(y) < 70 and 2000 or 1900) end
    end
    if not d then
        mon, d, hh, mm, ss, y = match(s, "^%a+ (%a%a%a) +(%d%d?) (%d%d):(%d%d):(%d%d) (%d%d%d%d)$")
    end
    local month = mon and MONTHS[lower(mon)]
    if not month then return nil end
    y, d, hh, mm, ss = tonumber(y), tonumber(d), tonumber(hh), tonumber(mm), tonumber(ss)
    if d < 1 or d > 31 or hh > 23 or mm > 59 or ss > 60 then return nil end
    return days_from_civil(y, month, d) * 86400 + hh * 3600 + mm * 60 + ss
end

--- Seconds to wait that a `Retry-After` (or `Retry-After-Ms`) header asks for.
-- @tparam table headers lower-cased response headers
-- @tparam[opt] number now seconds since the epoch (defaults to os.time())
-- @treturn number|nil seconds (>= 0), or nil when there is no usable header
function M.retry_after(headers, now)
    if not headers then return nil end
    local ms = tonumber(headers["retry-after-ms"])
    if ms and ms >= 0 then return ms / 1000 end
    local v = headers["retry-after"]
    if type(v) ~= "string" then return nil end
    local secs = tonumber(match(v, "^%s*([%d%.]+)%s*$"))
    if secs then return secs end
    local at = M.parse_http_date(match(v, "^%s*(.-)%s*$"))
    if not at then return nil end
    local delta = at - (now or os_time())
    return delta > 0 and delta or 0
end

--- Exponential backoff with jitter: min(0.5 * 2^n, 8) seconds, up to 25 % shorter.
-- @tparam number n retries already made (0 for the first retry)
function M.backoff(n)
    return min(M.BASE_DELAY * 2 ^ n, M.MAX_DELAY) * (1 - 0.25 * random())
end

--- Whether a failed attempt may be sent again.
-- @tparam table err the error of the attempt
-- @tparam string method the HTTP method
-- @tparam boolean sent whether any byte of the request left this host
-- @treturn boolean
function M.may_retry(err, method, sent)
    local kind = err.kind
    if kind == "network" or kind == "timeout" then
        if not err.retryable then return false end
        if not sent then return true end            -- nothing reached the server
        return IDEMPOTENT[method] or false
    end
    local status = err.status
    if not status then return false end
    if status == 429 then return true end               -- refused before acting
    -- A 503 with Retry-After is the API refusing before it acted. A bare 503
    -- may come from a gateway that had already forwarded the request (the
    -- API may have placed the call): a POST is not sent again on it.
    if status == 503 and M.retry_after(err.headers) then return true end
    if IDEMPOTENT[method] then
        return status == 408 or (status >= 500 and err.retryable)
    end
    return false
end

--- Decides about a failed attempt.
-- @tparam table err the error (its `retryable` is already set)
-- @tparam string method
-- @tparam boolean sent
-- @tparam number retries_done retries already made for this request
-- @tparam number max_retries
-- @treturn number|nil seconds to wait before the next attempt, or nil: give up
function M.decide(err, method, sent, retries_done, max_retries)
    if retries_done >= max_retries or not M.may_retry(err, method, sent) then
        return nil
    end
    local wait = M.retry_after(err.headers)
    if wait then
        if wait > M.MAX_RETRY_AFTER then return nil end     -- the error comes back at once
        return wait
    end
    return M.backoff(retries_done)
end

return M
