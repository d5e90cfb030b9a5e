--- The rule sets of the phone-number, campaign and knowledge-base bodies
-- (docs/wire.md, "Routes beyond the five"), compiled once at load time from
-- hamsa.validate.checks. Types are checked everywhere, lengths and ranges
-- where the reference gives them; unknown fields pass.
-- @module hamsa.validate.resources

local C = require "hamsa.validate.checks"
local agent = require "hamsa.validate.agent"
local check_string = C.check_string
local check_nonempty = C.check_nonempty
local check_boolean = C.check_boolean
local check_e164 = C.check_e164
local check_https = C.check_https
local check_timezone = C.check_timezone
local integer_min = C.integer_min
local string_length = C.string_length
local enum = C.enum
local array_of = C.array_of
local object_of = C.object_of

local type, find, tonumber = type, string.find, tonumber

local M = {}

-- Phone numbers ------------------------------------------------------------------------------

local TWILIO_REQUIRED = { "phoneNumber", "label", "twilioAccountSid", "twilioAuthToken" }
local TWILIO_NONNULL = { type = true, phoneNumber = true, label = true, twilioAccountSid = true,
    twilioAuthToken = true }

local phone_number_fields = {
    type = enum("TWILIO", "SIP"),
    phoneNumber = check_e164,
    label = check_nonempty,
    twilioAccountSid = check_nonempty,
    twilioAuthToken = check_nonempty,
}
local phone_number_any = object_of(phone_number_fields, { "type" }, { type = true })
local phone_number_twilio = object_of(phone_number_fields, TWILIO_REQUIRED, TWILIO_NONNULL)

--- `POST /v1/voice-agents/phone-number`: `type` decides the form. A Twilio number needs
-- all four of its fields; the SIP form is not documented, so only the fields it shares
-- are typed.
function M.phone_number_create(t)
    local s, tail = phone_number_any(t)
    if s then return s, tail end
    if t.type == "TWILIO" then return phone_number_twilio(t) end
end

M.phone_number_assign = object_of({ voiceAgentId = check_nonempty, phoneNumber = check_e164 },
    { "voiceAgentId", "phoneNumber" }, { voiceAgentId = true, phoneNumber = true })

M.phone_number_unassign = object_of({ phoneNumber = check_e164 }, { "phoneNumber" }, { phoneNumber = true })

-- Campaigns ----------------------------------------------------------------------------------

local campaign_name = string_length(1, 100)

local recipient_fields = object_of({
    name = check_string,
    dynamicVariables = agent.params,
    ignoreE164Validation = check_boolean,
}, { "phoneNumber" })

-- A recipient: its phone number is E.164 unless the recipient says to skip that check,
-- and then any non-empty string (the API takes it as it is).
local function check_recipient(r)
    local s, tail = recipient_fields(r)
    if s then return s, tail end
    if r.ignoreE164Validation == true then
        s, tail = check_nonempty(r.phoneNumber)
    else
        s, tail = check_e164(r.phoneNumber)
    end
    if s then return ".phoneNumber" .. s, tail end
end

local check_day = enum("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

-- "HH:MM" on a 24-hour clock, 00:00 to 23:59.
local function check_clock(v)
    if type(v) ~= "string" or not find(v, "^[01]%d:[0-5]%d$") and not find(v, "^2[0-3]:[0-5]%d$") then
        return "", 'must be a time "HH:MM" from 00:00 to 23:59'
    end
end

local time_range = object_of({
    days = array_of(check_day),
    startCallingTime = check_clock,
    endCallingTime = check_clock,
})

-- Whether `n` (a string of digits, or nil) lies from lo to hi.
local function within(n, lo, hi)
    n = tonumber(n)
    return n ~= nil and n >= lo and n <= hi
end

-- An ISO 8601 date and time: "2026-12-03T09:00:00Z", with an offset ("+04:00", "+0400"),
-- fractions of a second, or no zone (a local time in scheduledTimezone); also a bare date.
-- Fields are range-checked one by one (month 01-12, ...), not against a calendar.
local function is_iso_datetime(s)
    local _, stop, y, mo, d = find(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)")
    if not (y and within(mo, 1, 12) and within(d, 1, 31)) then return false end
    if stop == #s then return true end
    local h, mi, rest
    _, _, h, mi, rest = find(s, "^[Tt ](%d%d):(%d%d)(.*)$", stop + 1)
    if not (h and within(h, 0, 23) and within(mi, 0, 59)) then return false end
    local sec, zone = rest:match("^:(%d%d)(.*)$")
    if sec then
        if not within(sec, 0, 60) then return false end
        rest = zone:match("^[.,]%d+(.*)$") or zone
    end
    if rest == "" or rest == "Z" or rest == "z" then return true end
    local oh, om = rest:match("^[+-](%d%d):?(%d%d)$")
    return oh ~= nil and within(oh, 0, 23) and within(om, 0, 59)
end

local function check_datetime(v)
    if type(v) ~= "string" or not is_iso_datetime(v) then
        return "", "must be an ISO 8601 date and time such as 2026-12-03T09:00:00Z"
    end
end

M.campaign_create = object_of({
    name = campaign_name,
    phoneNumber = check_e164,
    voiceAgentId = check_nonempty,
    recipients = array_of(check_recipient, true),
    sendType = enum("NOW", "SCHEDULED"),
    timeRange = time_range,
    reservedConcurrency = integer_min(1),
    scheduledDate = check_datetime,
    scheduledTimezone = check_timezone,
}, { "name", "phoneNumber", "voiceAgentId", "recipients" },
    { name = true, phoneNumber = true, voiceAgentId = true, recipients = true })

--- `PATCH /v1/voice-agents/campaigns/{id}` renames a campaign: `name` is its only field,
-- so it is required.
M.campaign_update = object_of({ name = campaign_name }, { "name" }, { name = true })

-- Knowledge base -----------------------------------------------------------------------------

local item_name = string_length(1, 250)

local kb_item = object_of({
    itemName = item_name,
    itemUrl = check_https,
    type = check_string,
    itemUrls = array_of(check_https),
    content = check_string,
})

M.knowledge_base_create = object_of({ items = array_of(kb_item, true) }, { "items" }, { items = true })

--- `PATCH /v1/voice-agents/knowledge-base/{id}` renames an item: `itemName` is required.
M.knowledge_base_update = object_of({ itemName = item_name }, { "itemName" }, { itemName = true })

M.knowledge_base_remove_url = object_of({ url = check_https }, { "url" }, { url = true })

M.is_iso_datetime = is_iso_datetime

return M
