--- The calling window of the dialer: on which days and between which local
-- times calls may start, in an IANA time zone.
-- Time zones are read from the system's TZif files (RFC 8536) in pure Lua:
-- no C, and no TZ in the environment (the library may run inside nginx).
-- `TZDIR` overrides the folder (default /usr/share/zoneinfo).
-- @module hamsa.dialer.window
local type, tostring, tonumber, pairs, ipairs, setmetatable, error =
    type, tostring, tonumber, pairs, ipairs, setmetatable, error
local floor = math.floor
local byte, sub, find, match, gmatch, upper, lower, format =
    string.byte, string.sub, string.find, string.match, string.gmatch,
    string.upper, string.lower, string.format
local concat, sort = table.concat, table.sort
local io_open, getenv = io.open, os.getenv

local M = {}

local DAY = 86400
local DAY_NAMES = { "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN" }
local DAY_INDEX = {}
for i, n in ipairs(DAY_NAMES) do DAY_INDEX[n] = i end
local LONG_DAYS = { MONDAY = 1, TUESDAY = 2, WEDNESDAY = 3, THURSDAY = 4, FRIDAY = 5, SATURDAY = 6, SUNDAY = 7 }
for n, i in pairs(LONG_DAYS) do DAY_INDEX[n] = i end

-- days since 1970-01-01 of a proleptic Gregorian date
local days_from_civil = require("hamsa.retry").days_from_civil

-- the year of a count of days since 1970-01-01
local function year_of_days(z)
    z = z + 719468
    local era = floor(z / 146097)
    local doe = z - era * 146097
    local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
    local mp = floor((5 * doy + 2) / 153)
    local m = mp < 10 and mp + 3 or mp - 9
    local y = yoe + era * 400
    if m <= 2 then y = y + 1 end
    return y
end

-- ISO weekday (1 = Monday .. 7 = Sunday) of a count of days since 1970-01-01 (a Thursday)
local function weekday(days)
    return (days + 3) % 7 + 1
end

---------------------------------------------------------------------------
-- The footer of TZif v2+ files: a POSIX TZ string
---------------------------------------------------------------------------

-- a POSIX time ("[+-]hh[:mm[:ss]]") at position i: seconds and the next position
local function posix_time(s, i)
    local sign, h, rest, j = match(s, "^([+-]?)(%d%d?%d?)([:%d]*)()", i)
    if not h then return nil end
    local secs = tonumber(h) * 3600
    local mm, ss = match(rest, "^:(%d%d)(.*)$")
    if mm then
        secs = secs + tonumber(mm) * 60
        local s2 = match(ss, "^:(%d%d)$")
        if s2 then secs = secs + tonumber(s2)
        elseif ss ~= "" then return nil end
    elseif rest ~= "" then
        return nil
    end
    if sign == "-" then secs = -secs end
    return secs, j
end

local function posix_name(s, i)
    local name, j = match(s, "^<([%w+%-]+)>()", i)
    if name then return name, j end
    name, j = match(s, "^(%a%a%a+)()", i)
    return name, j
end

-- a rule date ("Mm.w.d", "Jn" or "n") and its optional "/time"
local function posix_rule(s, i)
    local rule = {}
    local m, w, d, j = match(s, "^M(%d%d?)%.(%d)%.(%d)()", i)
    if m then
        rule.m, rule.w, rule.d = tonumber(m), tonumber(w), tonumber(d)
        if rule.m < 1 or rule.m > 12 or rule.w < 1 or rule.w > 5 or rule.d > 6 then return nil end
    else
        local n
        n, j = match(s, "^J(%d+)()", i)
        if n then rule.julian = tonumber(n)
        else
            n, j = match(s, "^(%d+)()", i)
            if not n then return nil end
            rule.zero = tonumber(n)
        end
    end
    rule.time = 7200
    if sub(s, j, j) == "/" then
        local t
        t, j = posix_time(s, j + 1)
        if not t then return nil end
        rule.time = t
    end
    return rule, j
end

--- Parses a POSIX TZ string of a TZif footer.
-- @treturn table|nil `{ std = utoff, dst = utoff, start = rule, stop = rule }` (dst fields only with DST)
function M.parse_tz_string(s)
    local _, i = posix_name(s, 1)
    if not i then return nil end
    local off
    off, i = posix_time(s, i)
    if not off then return nil end
    local tz = { std = -off }
    if i > #s then return tz end
    _, i = posix_name(s, i)
    if not i then return nil end
    tz.dst = tz.std + 3600
    if i <= #s and sub(s, i, i) ~= "," then
        off, i = posix_time(s, i)
        if not off then return nil end
        tz.dst = -off
    end
    if sub(s, i, i) ~= "," then return nil end   -- no rule: POSIX leaves it implementation-defined
    tz.start, i = posix_rule(s, i + 1)
    if not tz.start or sub(s, i, i) ~= "," then return nil end
    tz.stop, i = posix_rule(s, i + 1)
    if not tz.stop or i <= #s then return nil end
    return tz
end

-- days since the epoch of the day a rule names in year y
local function rule_day(rule, y)
    if rule.m then
        local first = days_from_civil(y, rule.m, 1)
        local nxt = rule.m == 12 and days_from_civil(y + 1, 1, 1) or days_from_civil(y, rule.m + 1, 1)
        local wd0 = (first + 4) % 7                  -- 0 = Sunday
        local d = first + (rule.d - wd0) % 7 + 7 * (rule.w - 1)
        while d >= nxt do d = d - 7 end
        return d
    end
    local jan1 = days_from_civil(y, 1, 1)
    if rule.julian then                             -- 1..365, February 29 never counted
        local n = rule.julian - 1
        local leap = days_from_civil(y, 3, 1) - days_from_civil(y, 2, 1) == 29
        if leap and n >= 59 then n = n + 1 end
        return jan1 + n
    end
    return jan1 + rule.zero
end

-- the UTC offset a parsed TZ string gives at instant t
local function tz_offset(tz, t)
    if not tz.start then return tz.std end
    local y = year_of_days(floor((t + tz.std) / DAY))
    local start = rule_day(tz.start, y) * DAY + tz.start.time - tz.std
    local stop = rule_day(tz.stop, y) * DAY + tz.stop.time - tz.dst
    local dst
    if start < stop then dst = t >= start and t < stop
    else dst = not (t >= stop and t < start) end
    return dst and tz.dst or tz.std
end

---------------------------------------------------------------------------
-- TZif files
---------------------------------------------------------------------------

local function be32(s, i)
    local a, b, c, d = byte(s, i, i + 3)
    local n = ((a * 256 + b) * 256 + c) * 256 + d
    if a >= 128 then n = n - 4294967296 end
    return n
end

local function be64(s, i)
    local hi = be32(s, i)
    local a, b, c, d = byte(s, i + 4, i + 7)
    return hi * 4294967296 + ((a * 256 + b) * 256 + c) * 256 + d
end

local HEADER = 44

-- counts of a header at position i
local function header(s, i)
    if sub(s, i, i + 3) ~= "TZif" or #s < i + HEADER - 1 then return nil end
    local h = { version = byte(s, i + 4) }
    h.isutcnt, h.isstdcnt, h.leapcnt = be32(s, i + 20), be32(s, i + 24), be32(s, i + 28)
    h.timecnt, h.typecnt, h.charcnt = be32(s, i + 32), be32(s, i + 36), be32(s, i + 40)
    return h
end

--- Parses the contents of a TZif file.
-- @treturn table|nil `{ times = {...}, offsets = {...}, initial = utoff, footer = tz|nil }`, or nil, message
function M.parse_tzif(s)
    local h = header(s, 1)
    if not h then return nil, "not a TZif file" end
    local pos, tsize = 1 + HEADER, 4
    if h.version ~= 0 then
        pos = pos + h.timecnt * 5 + h.typecnt * 6 + h.charcnt + h.leapcnt * 8 + h.isstdcnt + h.isutcnt
        h = header(s, pos)
        if not h then return nil, "bad second header" end
        pos, tsize = pos + HEADER, 8
    end
    local size = h.timecnt * (tsize + 1) + h.typecnt * 6 + h.charcnt + h.leapcnt * (tsize + 4)
        + h.isstdcnt + h.isutcnt
    if h.typecnt < 1 or #s < pos + size - 1 then return nil, "truncated TZif file" end
    local read, data_end = tsize == 8 and be64 or be32, pos + size
    local times, idx = {}, {}
    for k = 1, h.timecnt do times[k] = read(s, pos + (k - 1) * tsize) end
    pos = pos + h.timecnt * tsize
    for k = 1, h.timecnt do idx[k] = byte(s, pos + k - 1) end
    pos = pos + h.timecnt
    local utoff, isdst = {}, {}
    for k = 0, h.typecnt - 1 do
        utoff[k] = be32(s, pos + k * 6)
        isdst[k] = byte(s, pos + k * 6 + 4) ~= 0
    end
    local z = { times = times, offsets = {} }
    for k = 1, h.timecnt do
        if idx[k] >= h.typecnt then return nil, "bad ttinfo index" end
        z.offsets[k] = utoff[idx[k]]
    end
    z.initial = utoff[0]
    for k = 0, h.typecnt - 1 do
        if not isdst[k] then z.initial = utoff[k]; break end
    end
    if tsize == 8 then
        local footer = match(s, "^\n([^\n]*)\n", data_end)
        if footer and footer ~= "" then z.footer = M.parse_tz_string(footer) end
    end
    return z
end

-- the UTC offset of a parsed zone at instant t
local function zone_offset(z, t)
    local times = z.times
    local n = #times
    if n == 0 then
        return z.footer and tz_offset(z.footer, t) or z.initial
    end
    if t < times[1] then return z.initial end
    if t >= times[n] then
        return z.footer and tz_offset(z.footer, t) or z.offsets[n]
    end
    local lo, hi = 1, n                 -- times[lo] <= t < times[hi]
    while hi - lo > 1 do
        local mid = floor((lo + hi) / 2)
        if times[mid] <= t then lo = mid else hi = mid end
    end
    return z.offsets[lo]
end
M.zone_offset = zone_offset

local zones = {}

--- Loads a zone by IANA name (cached per folder and name).
-- @treturn table|nil the zone, or nil, message
function M.zone(name)
    if type(name) ~= "string" or name == "" or find(name, "..", 1, true) or sub(name, 1, 1) == "/"
        or not match(name, "^[%w_+%-/]+$") then
        return nil, format("unknown zone '%s'", tostring(name))
    end
    local dir = getenv("TZDIR")
    if not dir or dir == "" then dir = "/usr/share/zoneinfo" end
    local key = dir .. "\0" .. name
    if zones[key] then return zones[key] end
    local f = io_open(dir .. "/" .. name, "rb")
    local s = f and f:read("*a")
    if f then f:close() end
    local z = s and M.parse_tzif(s)
    if not z then
        if name == "UTC" or name == "Etc/UTC" then
            z = { times = {}, offsets = {}, initial = 0 }
        else
            return nil, format("unknown zone '%s'", name)
        end
    end
    zones[key] = z
    return z
end

---------------------------------------------------------------------------
-- Windows
---------------------------------------------------------------------------

local Window = {}
Window.__index = Window

local function hhmm(s, allow_24)
    if type(s) ~= "string" then return nil end
    local h, m = match(s, "^(%d%d):(%d%d)$")
    if not h then return nil end
    h, m = tonumber(h), tonumber(m)
    if m > 59 then return nil end
    if h == 24 and m == 0 and allow_24 then return 1440 end
    if h > 23 then return nil end
    return h * 60 + m
end

--- A calling window.
-- @tparam table opts `days` (names, default every day), `from`, `to` ("HH:MM"), `timezone` (default "UTC")
-- @return the window, or nil, message naming the field
function M.new(opts)
    if type(opts) ~= "table" then return nil, "window must be a table" end
    local days, set = opts.days, {}
    if days == nil then
        for i = 1, 7 do set[i] = true end
    elseif type(days) ~= "table" then
        return nil, "window.days must be a list of day names"
    else
        for _, d in ipairs(days) do
            local i = type(d) == "string" and DAY_INDEX[upper(d)]
            if not i then return nil, format("window.days: unknown day '%s'", tostring(d)) end
            set[i] = true
        end
    end
    local from = hhmm(opts.from, false)
    if not from then return nil, "window.from must be HH:MM" end
    local to = hhmm(opts.to, true)
    if not to then return nil, "window.to must be HH:MM" end
    if to == from then return nil, "window.to must differ from window.from" end
    local tzname = opts.timezone
    if tzname == nil then tzname = "UTC" end
    if type(tzname) ~= "string" then return nil, "window.timezone must be a string" end
    local zone, err = M.zone(tzname)
    if not zone then return nil, "window.timezone: " .. err end
    local any = false
    for i = 1, 7 do any = any or set[i] == true end
    return setmetatable({
        set = set, any = any, from = from * 60, to = to * 60, cross = to < from,
        timezone = tzname, zone = zone,
    }, Window)
end

--- The UTC offset (seconds) of the window's zone at instant t.
function Window:offset(t)
    return zone_offset(self.zone, t)
end

local function check_time(t, what)
    if type(t) ~= "number" or t ~= t then error(what .. ": t must be a number", 3) end
end

--- Whether the window is open at instant t (epoch seconds).
function Window:is_open(t)
    check_time(t, "window:is_open")
    local l = t + zone_offset(self.zone, t)
    local d = floor(l / DAY)
    local sec = l - d * DAY
    local set, wd = self.set, weekday(d)
    if not self.cross then
        return set[wd] == true and sec >= self.from and sec < self.to
    end
    return (set[wd] == true and sec >= self.from) or (set[(wd + 5) % 7 + 1] == true and sec < self.to)
end

-- instants in [a, b] where the offset changes (at most one a day is assumed)
local function changes(z, a, b, out)
    local t = a
    local o = zone_offset(z, t)
    while t < b do
        local n = t + DAY / 2
        local on = zone_offset(z, n)
        if on ~= o then
            local lo, hi = t, n                 -- offset(lo) == o, offset(hi) ~= o
            while hi - lo > 1 do
                local mid = floor((lo + hi) / 2)
                if zone_offset(z, mid) == o then lo = mid else hi = mid end
            end
            out[#out + 1] = hi
        end
        t, o = n, on
    end
end

-- the UTC instants where the local clock reads the given seconds of local days d0..d1
local function local_instants(z, d0, d1, sec, out)
    for d = d0, d1 do
        local l = d * DAY + sec
        local seen = {}
        for _, o in ipairs({ zone_offset(z, l - 15 * 3600), zone_offset(z, l + 15 * 3600) }) do
            local u = l - o
            if not seen[u] and zone_offset(z, u) == o then
                seen[u] = true
                out[#out + 1] = u
            end
        end
    end
end

local HORIZON = 9   -- days searched ahead: a week, a day of the previous window and a DST margin

--- When the window is next open: t itself if it is open now.
-- @treturn number|nil epoch seconds, or nil if it never opens (no days)
function Window:next_open(t)
    check_time(t, "window:next_open")
    if not self.any then return nil end
    if self:is_open(t) then return t end
    local z, cand = self.zone, {}
    local d0 = floor((t + zone_offset(z, t)) / DAY)
    local_instants(z, d0 - 1, d0 + HORIZON, self.from, cand)
    changes(z, t, t + (HORIZON + 1) * DAY, cand)
    sort(cand)
    for _, u in ipairs(cand) do
        if u >= t and self:is_open(u) then return u end
    end
    return nil
end

--- When the current open period ends (only when open at t).
-- @treturn number|nil epoch seconds, or nil when closed at t (or open for good)
function Window:closes_at(t)
    check_time(t, "window:closes_at")
    if not self:is_open(t) then return nil end
    local z, cand = self.zone, {}
    local d0 = floor((t + zone_offset(z, t)) / DAY)
    local_instants(z, d0 - 1, d0 + HORIZON, self.to % DAY, cand)
    changes(z, t, t + (HORIZON + 1) * DAY, cand)
    sort(cand)
    for _, u in ipairs(cand) do
        if u > t and not self:is_open(u) then return u end
    end
    return nil
end

local function fmt_minutes(s)
    local m = floor(s / 60)
    return format("%02d:%02d", floor(m / 60), m % 60)
end

--- The days part of a window's text: "MON-FRI", "SAT,SUN", "DAILY" or "NONE".
local function days_text(set)
    local parts, i = {}, 1
    while i <= 7 do
        if set[i] then
            local j = i
            while j < 7 and set[j + 1] do j = j + 1 end
            if j - i >= 2 then
                parts[#parts + 1] = DAY_NAMES[i] .. "-" .. DAY_NAMES[j]
            else
                for k = i, j do parts[#parts + 1] = DAY_NAMES[k] end
            end
            i = j + 1
        else
            i = i + 1
        end
    end
    if #parts == 0 then return "NONE" end
    if parts[1] == "MON-SUN" then return "DAILY" end
    return concat(parts, ",")
end

function Window:__tostring()
    return format("%s %s-%s %s", days_text(self.set), fmt_minutes(self.from), fmt_minutes(self.to),
        self.timezone)
end

--- The options of `new` from a text such as "mon-fri 09:00-18:00 Asia/Dubai".
-- Days: names or ranges separated by commas, "daily", "none", or nothing (every day);
-- the zone defaults to UTC.
-- @treturn table|nil the options, or nil, message
function M.parse(s)
    if type(s) ~= "string" then return nil, "window must be a string" end
    local words = {}
    for w in gmatch(s, "%S+") do words[#words + 1] = w end
    local i, opts = 1, {}
    if words[1] and not find(words[1], ":", 1, true) then
        local spec = lower(words[1])
        i = 2
        if spec == "none" then
            opts.days = {}
        elseif spec ~= "daily" then
            local days = {}
            for item in gmatch(spec .. ",", "([^,]*),") do
                local a, b = match(item, "^(%a+)%-(%a+)$")
                a, b = DAY_INDEX[upper(a or item)], DAY_INDEX[upper(b or item)]
                if not a or not b then return nil, format("window: unknown days '%s'", words[1]) end
                local k = a
                while true do
                    days[#days + 1] = DAY_NAMES[k]
                    if k == b then break end
                    k = k % 7 + 1
                end
            end
            opts.days = days
        end
    end
    local from, to = match(words[i] or "", "^([^%-]+)%-([^%-]+)$")
    if not from then return nil, "window: expected HH:MM-HH:MM in '" .. s .. "'" end
    opts.from, opts.to = from, to
    opts.timezone = words[i + 1] or "UTC"
    if words[i + 2] then return nil, format("window: unexpected '%s'", words[i + 2]) end
    local ok, err = M.new(opts)
    if not ok then return nil, err end
    return opts
end

M.days_from_civil = days_from_civil
return M
