--- The rule sets of the list routes' query tables (docs/wire.md, the table of
-- paging styles), compiled once at load time from hamsa.validate.checks. A
-- query is checked like a body: known keys by type (and range where the
-- reference gives one), other keys pass. `hamsa.url` has already refused
-- what cannot go into a query string at all (nested tables, `null`, NaN).
-- @module hamsa.validate.queries

local C = require "hamsa.validate.checks"
local check_string = C.check_string
local check_boolean = C.check_boolean
local integer_min = C.integer_min
local integer_range = C.integer_range
local enum = C.enum
local array_of = C.array_of
local object_of = C.object_of

local type, find, tonumber = type, string.find, tonumber

local M = {}

local MAX_INTEGER = 2 ^ 53

local page_from_1 = integer_min(1)

-- A page number or size of the routes that document them as strings ("1", "10"): an
-- integer from 1, or its decimal digits.
local function page_or_digits(v)
    if type(v) == "string" then
        if find(v, "^[1-9]%d*$") and #v <= 16 and tonumber(v) <= MAX_INTEGER then return end
        return "", "must be an integer from 1, or its decimal digits as a string (\"1\")"
    end
    return page_from_1(v)
end

-- A value or a list of values (a list goes out as the key repeated: `status=A&status=B`).
local function one_or_list(check)
    local list = array_of(check, true)
    return function(v)
        if type(v) == "table" then return list(v) end
        return check(v)
    end
end

--- `GET /v1/voice-agents` and `GET /v2/voice-agents`: `skip` is the page (from 1),
-- `take` its size; `search`, `sortField`, `sortOrder` strings; `type[]`, `language[]`
-- and other keys pass.
M.agents_list = object_of({
    skip = page_from_1,
    take = page_from_1,
    search = check_string,
    sortField = check_string,
    sortOrder = check_string,
})

--- The call statuses (JobStatus).
local job_status = enum("PENDING", "IN_PROGRESS", "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED",
    "TERMINATED")

local conversations_fields = object_of({
    voiceAgentId = check_string,
    status = one_or_list(job_status),
    startTime = integer_min(0),
    endTime = integer_min(0),
    page = page_from_1,
    perPage = integer_range(1, 200),
})

--- `GET /v1/voice-agents/conversations/minimal-list`: the fields, then the window's
-- order (inclusive bounds on createdAt, in epoch milliseconds).
function M.conversations_list(q)
    local s, tail = conversations_fields(q)
    if s then return s, tail end
    local from, to = q.startTime, q.endTime
    if type(from) == "number" and type(to) == "number" and from > to then
        return ".endTime", "must not be before startTime"
    end
end

--- `GET /v1/voice-agents/phone-number/list`: page and size as integers or digit strings.
M.phone_numbers_list = object_of({
    skip = page_or_digits,
    take = page_or_digits,
    voiceAgentId = check_string,
    provider = enum("TWILIO", "SIP"),
})

--- `GET /v1/voice-agents/campaigns`: here `skip` is an offset, 0 first.
M.campaigns_list = object_of({
    skip = integer_min(0),
    take = page_from_1,
    voiceAgentId = check_string,
    search = check_string,
})

--- `GET /v1/voice-agents/knowledge-base/list`: page and size as integers or digit strings;
-- `type` one type or a list of them (`type[]` passes as it is).
M.knowledge_base_list = object_of({
    skip = page_or_digits,
    take = page_or_digits,
    voiceAgentId = check_string,
    search = check_string,
    type = one_or_list(C.check_string),
    isActive = check_boolean,
    used = check_boolean,
})

return M
