-- hamsa.dialer.window: the calling window, checked against coreutils `date`
-- (TZ=<zone> date) as an independent oracle of local weekday, time and offset.
local window = require "hamsa.dialer.window"

local floor = math.floor

-- a seeded Park-Miller generator: the same samples under every Lua version
local function rng(seed)
    local x = seed
    return function(lo, hi)
        x = (x * 16807) % 2147483647
        return lo + x % (hi - lo + 1)
    end
end

-- oracle: { wd = 1..7 (Monday = 1), min = minute of day, off = UTC offset in seconds } of each epoch
local function oracle(zone, epochs)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    for _, e in ipairs(epochs) do f:write(string.format("@%d\n", floor(e))) end
    f:close()
    local p = assert(io.popen("TZ='" .. zone .. "' date -f '" .. path .. "' '+%u %H %M %z'"))
    local out = {}
    for line in p:lines() do
        local wd, h, m, sign, oh, om = line:match("^(%d) (%d%d) (%d%d) ([+-])(%d%d)(%d%d)$")
        assert(wd, "bad oracle line: " .. line)
        local off = tonumber(oh) * 3600 + tonumber(om) * 60
        out[#out + 1] = { wd = tonumber(wd), min = tonumber(h) * 60 + tonumber(m), off = sign == "-" and -off or off }
    end
    p:close()
    os.remove(path)
    assert(#out == #epochs, "oracle answered " .. #out .. " of " .. #epochs)
    return out
end

local has_date = os.execute("TZ=Europe/London date -d @0 +%z >/dev/null 2>&1")
has_date = has_date == true or has_date == 0

-- a TZif v2 file with no transitions and one ttinfo: only the footer speaks for current dates
local function be32(n)
    if n < 0 then n = n + 4294967296 end
    return string.char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end
local function slim_tzif(utoff, footer)
    local function block(version)
        return "TZif" .. version .. string.rep("\0", 15) .. be32(0) .. be32(0) .. be32(0) .. be32(0) .. be32(1)
            .. be32(4) .. be32(utoff) .. "\0\0" .. "ABC\0"
    end
    return block("2") .. block("2") .. "\n" .. footer .. "\n"
end

describe("hamsa.dialer.window #pure", function()
    local ZONES = { "Asia/Dubai", "Asia/Riyadh", "Europe/London", "America/New_York",
                    "Australia/Lord_Howe", "Asia/Kolkata", "UTC" }
    -- independent predicates over the oracle's local weekday and minute of day
    local WINDOWS = {
        { days = { "MON", "TUE", "WED", "THU", "FRI" }, from = "09:00", to = "18:00",
          open = function(wd, m) return wd <= 5 and m >= 540 and m < 1080 end },
        { days = { "sat", "Sunday" }, from = "10:00", to = "14:30",
          open = function(wd, m) return wd >= 6 and m >= 600 and m < 870 end },
        { from = "20:00", to = "02:00",     -- every day, across midnight
          open = function(_, m) return m >= 1200 or m < 120 end },
        { days = { "FRI" }, from = "22:30", to = "01:15",   -- Friday night into Saturday
          open = function(wd, m) return (wd == 5 and m >= 1350) or (wd == 6 and m < 75) end },
        { days = { "WED" }, from = "00:00", to = "24:00",
          open = function(wd) return wd == 3 end },
    }

    describe("against TZ=<zone> date", function()
        if not has_date then pending("coreutils date is not available") return end

        it("agrees on the offset and on is_open at 300+ random instants of 2000-2100", function()
            local r = rng(20240613)
            local epochs = {}
            for _ = 1, 300 do epochs[#epochs + 1] = r(946684800, 2145916799) end   -- 2000..2037
            for _ = 1, 60 do epochs[#epochs + 1] = r(2145916800, 4102444799) end   -- 2038..2099: the footer's years
            local checked = 0
            for _, zone in ipairs(ZONES) do
                local want = oracle(zone, epochs)
                for k, spec in ipairs(WINDOWS) do
                    local w = assert(window.new{ days = spec.days, from = spec.from, to = spec.to, timezone = zone })
                    for i, e in ipairs(epochs) do
                        if k == 1 then
                            assert.are.equal(want[i].off, w:offset(e), zone .. " offset at @" .. e)
                        end
                        local t = e + (i % 3) * 0.25          -- fractional seconds too
                        assert.are.equal(spec.open(want[i].wd, want[i].min), w:is_open(t),
                            string.format("%s %s at @%s (oracle %d %d)", zone, tostring(w), t, want[i].wd, want[i].min))
                        checked = checked + 1
                    end
                end
            end
            assert.is_true(checked >= 7 * 5 * 360)
        end)

        it("agrees around every DST transition of 2020-2030 in London, New York and Lord Howe", function()
            for _, zone in ipairs{ "Europe/London", "America/New_York", "Australia/Lord_Howe" } do
                local w = assert(window.new{ from = "01:30", to = "02:30", timezone = zone })
                local epochs, t = {}, 1577836800                       -- 2020-01-01
                local last = w:offset(t)
                while t < 1893456000 do                                -- 2030-01-01
                    local o = w:offset(t + 3600)
                    if o ~= last then
                        for s = t - 3600, t + 7200, 900 do epochs[#epochs + 1] = s end
                        last = o
                    end
                    t = t + 3600
                end
                assert.is_true(#epochs > 100, zone)
                local want = oracle(zone, epochs)
                for i, e in ipairs(epochs) do
                    assert.are.equal(want[i].off, w:offset(e), zone .. " offset at @" .. e)
                    local m = want[i].min
                    assert.are.equal(m >= 90 and m < 150, w:is_open(e), zone .. " at @" .. e)
                end
            end
        end)

        it("reads the footer rule of a slim file (no transitions) like the full zone", function()
            local cases = {
                { "Europe/Berlin", 3600, "CET-1CEST,M3.5.0,M10.5.0/3" },
                { "America/New_York", -18000, "EST5EDT,M3.2.0,M11.1.0" },
                { "Australia/Lord_Howe", 37800, "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0" },
                { "Asia/Dubai", 14400, "<+04>-4" },
                { "Europe/London", 0, "GMT0BST,M3.5.0/1,M10.5.0" },
            }
            local r = rng(7)
            for _, c in ipairs(cases) do
                local z = assert(window.parse_tzif(slim_tzif(c[2], c[3])))
                assert.are.equal(0, #z.times)
                assert.is_table(z.footer, c[3])
                local epochs = {}
                for _ = 1, 150 do epochs[#epochs + 1] = r(1262304000, 4102444799) end  -- 2010..2099
                local want = oracle(c[1], epochs)
                for i, e in ipairs(epochs) do
                    assert.are.equal(want[i].off, window.zone_offset(z, e), c[3] .. " at @" .. e)
                end
            end
        end)
    end)

    describe("DST edges", function()
        it("a local opening time skipped by the jump opens at the first instant after", function()
            -- London 2024-03-31 01:00 UTC: 01:00 GMT becomes 02:00 BST
            local w = assert(window.new{ from = "01:30", to = "03:00", timezone = "Europe/London" })
            assert.are.equal(1711846800, w:next_open(1711843200))
            assert.are.equal(1711850400, w:closes_at(1711846800))
            assert.is_false(w:is_open(1711846799))
            -- a window wholly inside the skipped hour does not open that day
            local gone = assert(window.new{ from = "01:15", to = "01:45", timezone = "Europe/London" })
            assert.are.equal(1711930500, gone:next_open(1711843200))
            -- New York 2024-03-10 07:00 UTC: 02:00 EST becomes 03:00 EDT
            local ny = assert(window.new{ from = "02:30", to = "04:00", timezone = "America/New_York" })
            assert.are.equal(1710054000, ny:next_open(1710046800))
            assert.are.equal(1710057600, ny:closes_at(1710054000))
        end)

        it("a repeated local hour opens twice", function()
            -- London 2024-10-27 01:00 UTC: 02:00 BST becomes 01:00 GMT
            local w = assert(window.new{ from = "01:30", to = "01:45", timezone = "Europe/London" })
            assert.are.equal(1729989000, w:next_open(1729987200))
            assert.are.equal(1729989900, w:closes_at(1729989000))
            assert.are.equal(1729992600, w:next_open(1729989900))
            assert.are.equal(1729993500, w:closes_at(1729992600))
            -- New York 2024-11-03 06:00 UTC: 02:00 EDT becomes 01:00 EST
            local ny = assert(window.new{ from = "01:10", to = "01:20", timezone = "America/New_York" })
            assert.are.equal(1730610600, ny:next_open(1730606400))
            assert.are.equal(1730611200, ny:closes_at(1730610600))
            assert.are.equal(1730614200, ny:next_open(1730611200))
        end)
    end)

    describe("next_open and closes_at", function()
        it("next_open is open, nothing before it is, and the window stays open until closes_at", function()
            local r = rng(99)
            local specs = {
                { days = { "MON", "TUE", "WED", "THU", "FRI" }, from = "09:00", to = "18:00" },
                { days = { "SUN" }, from = "23:00", to = "00:30" },
                { days = { "SAT" }, from = "01:00", to = "03:00" },
                { from = "00:00", to = "24:00", days = { "TUE", "WED" } },
            }
            local n = 0
            for _, zone in ipairs{ "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata" } do
                for _, s in ipairs(specs) do
                    local w = assert(window.new{ days = s.days, from = s.from, to = s.to, timezone = zone })
                    for _ = 1, 4 do
                        local t = r(946684800, 2145916799) + 0.5
                        local u = assert(w:next_open(t), tostring(w))
                        assert.is_true(u >= t)
                        assert.is_true(w:is_open(u), tostring(w) .. " at next_open " .. u)
                        assert.is_true(u - t < 9 * 86400)
                        for x = t, u - 1, 60 do
                            assert.is_false(w:is_open(x), tostring(w) .. " open at " .. x .. " before " .. u)
                        end
                        if u > t then assert.is_false(w:is_open(u - 0.5)) end
                        local c = assert(w:closes_at(u), tostring(w))
                        assert.is_true(c > u)
                        assert.is_false(w:is_open(c))
                        for x = u, c - 1, 60 do assert.is_true(w:is_open(x)) end
                        assert.is_true(w:is_open(c - 0.5))
                        n = n + 1
                    end
                end
            end
            assert.are.equal(64, n)
        end)

        it("next_open of an open window is t itself; closes_at of a closed one is nil", function()
            local w = assert(window.new{ from = "09:00", to = "17:00" })
            local t = 1718269200.25                                  -- 2024-06-13 09:00:00.25 UTC
            assert.are.equal(t, w:next_open(t))
            assert.are.equal(1718298000, w:closes_at(t))
            assert.is_nil(w:closes_at(1718298000))
            assert.are.equal(1718355600, w:next_open(1718298000))
        end)

        it("a window crossing midnight belongs to the day it starts on", function()
            local w = assert(window.new{ days = { "FRI" }, from = "20:00", to = "02:00" })
            local fri = 1718323200                                  -- 2024-06-14 00:00 UTC, a Friday
            assert.is_false(w:is_open(fri + 3600))                  -- Friday 01:00: Thursday's night, not listed
            assert.is_true(w:is_open(fri + 20 * 3600))              -- Friday 20:00
            assert.is_true(w:is_open(fri + 86400 + 3600))           -- Saturday 01:00
            assert.is_false(w:is_open(fri + 86400 + 2 * 3600))      -- Saturday 02:00
            assert.is_false(w:is_open(fri + 86400 + 20 * 3600))     -- Saturday 20:00
            assert.are.equal(fri + 86400 + 7200, w:closes_at(fri + 23 * 3600))
            assert.are.equal(fri + 7 * 86400 + 20 * 3600, w:next_open(fri + 86400 + 7200))
        end)

        it("no days: never open, next_open is nil", function()
            local w = assert(window.new{ days = {}, from = "09:00", to = "17:00", timezone = "Asia/Dubai" })
            assert.is_false(w:is_open(1718269200))
            assert.is_nil(w:next_open(1718269200))
            assert.is_nil(w:closes_at(1718269200))
            assert.are.equal("NONE 09:00-17:00 Asia/Dubai", tostring(w))
        end)

        it("open all the time: closes_at is nil", function()
            local w = assert(window.new{ from = "00:00", to = "24:00" })
            assert.is_true(w:is_open(0))
            assert.is_nil(w:closes_at(0))
        end)

        it("raises on a time that is not a number", function()
            local w = assert(window.new{ from = "09:00", to = "17:00" })
            assert.has_error(function() w:is_open("now") end)
            assert.has_error(function() w:next_open(nil) end)
        end)
    end)

    describe("new", function()
        it("names the bad field", function()
            local cases = {
                { { from = "9:00", to = "18:00" }, "window.from must be HH:MM" },
                { { from = "24:00", to = "18:00" }, "window.from must be HH:MM" },
                { { from = "09:60", to = "18:00" }, "window.from must be HH:MM" },
                { { from = "09:00", to = "24:01" }, "window.to must be HH:MM" },
                { { from = "09:00" }, "window.to must be HH:MM" },
                { { from = "09:00", to = "09:00" }, "window.to must differ from window.from" },
                { { from = "09:00", to = "18:00", days = { "MON", "Funday" } }, "window.days: unknown day 'Funday'" },
                { { from = "09:00", to = "18:00", days = "MON" }, "window.days must be a list of day names" },
                { { from = "09:00", to = "18:00", timezone = "Mars/Base" }, "window.timezone: unknown zone 'Mars/Base'" },
                { { from = "09:00", to = "18:00", timezone = "../etc/passwd" },
                  "window.timezone: unknown zone '../etc/passwd'" },
                { { from = "09:00", to = "18:00", timezone = "Europe/../../etc/passwd" },
                  "window.timezone: unknown zone 'Europe/../../etc/passwd'" },
                { { from = "09:00", to = "18:00", timezone = "/etc/passwd" }, "window.timezone: unknown zone '/etc/passwd'" },
                { { from = "09:00", to = "18:00", timezone = "Europe" }, "window.timezone: unknown zone 'Europe'" },
                { { from = "09:00", to = "18:00", timezone = 4 }, "window.timezone must be a string" },
            }
            for _, c in ipairs(cases) do
                local w, err = window.new(c[1])
                assert.is_nil(w)
                assert.are.equal(c[2], err)
            end
            assert.are.same({ nil, "window must be a table" }, { window.new("09:00-18:00") })
        end)

        it("accepts long and mixed-case day names; defaults to every day in UTC", function()
            local w = assert(window.new{ days = { "monday", "Tue", "WEDNESDAY", "thu", "Fri" }, from = "09:00", to = "18:00",
                                         timezone = "Asia/Dubai" })
            assert.are.equal("MON-FRI 09:00-18:00 Asia/Dubai", tostring(w))
            assert.are.equal("DAILY 08:00-24:00 UTC", tostring(assert(window.new{ from = "08:00", to = "24:00" })))
            assert.are.equal("MON,WED,FRI 08:00-09:00 UTC",
                tostring(assert(window.new{ days = { "fri", "mon", "wed", "mon" }, from = "08:00", to = "09:00" })))
        end)

        it("before a zone's first transition, its first standard-time ttinfo (local mean time) stands", function()
            assert.are.equal(-75, window.zone_offset(window.zone("Europe/London"), -5000000000))         -- LMT -0:01:15
            assert.are.equal(-17762, window.zone_offset(window.zone("America/New_York"), -5000000000))   -- LMT -4:56:02
        end)

        it("caches a zone per name", function()
            assert.are.equal(window.zone("Asia/Dubai"), window.zone("Asia/Dubai"))
        end)
    end)

    describe("parse", function()
        it("reads the documented forms", function()
            assert.are.same({ days = { "MON", "TUE", "WED", "THU", "FRI" }, from = "09:00", to = "18:00", timezone = "Asia/Dubai" },
                window.parse("mon-fri 09:00-18:00 Asia/Dubai"))
            assert.are.same({ days = { "SAT", "SUN" }, from = "10:00", to = "14:00", timezone = "Europe/London" },
                window.parse("sat,sun 10:00-14:00 Europe/London"))
            assert.are.same({ from = "09:00", to = "17:00", timezone = "UTC" }, window.parse("09:00-17:00"))
            assert.are.same({ from = "08:00", to = "20:00", timezone = "America/New_York" },
                window.parse("daily 08:00-20:00 America/New_York"))
            assert.are.same({ days = { "FRI", "SAT", "SUN", "MON" }, from = "22:00", to = "02:00", timezone = "UTC" },
                window.parse("Fri-Mon 22:00-02:00"))
            assert.are.same({ days = {}, from = "09:00", to = "10:00", timezone = "UTC" }, window.parse("none 09:00-10:00"))
        end)

        it("round-trips tostring", function()
            for _, s in ipairs{ "MON-FRI 09:00-18:00 Asia/Dubai", "SAT,SUN 10:00-14:00 Europe/London",
                                "DAILY 20:00-02:00 Australia/Lord_Howe", "MON,WED-FRI 00:00-24:00 Asia/Kolkata" } do
                assert.are.equal(s, tostring(assert(window.new(assert(window.parse(s))))))
            end
        end)

        it("refuses what it cannot read, naming why", function()
            local cases = {
                { "funday 09:00-10:00", "window: unknown days 'funday'" },
                { "mon-xyz 09:00-10:00", "window: unknown days 'mon-xyz'" },
                { "mon 09:00", "window: expected HH:MM-HH:MM in 'mon 09:00'" },
                { "", "window: expected HH:MM-HH:MM in ''" },
                { "mon 09:00-25:00", "window.to must be HH:MM" },
                { "mon 09:00-10:00 Mars/Base", "window.timezone: unknown zone 'Mars/Base'" },
                { "mon 09:00-10:00 ../etc/passwd", "window.timezone: unknown zone '../etc/passwd'" },
                { "mon 09:00-10:00 UTC extra", "window: unexpected 'extra'" },
            }
            for _, c in ipairs(cases) do
                local opts, err = window.parse(c[1])
                assert.is_nil(opts, c[1])
                assert.are.equal(c[2], err)
            end
        end)
    end)

    describe("TZif and TZ strings", function()
        it("refuses what is not a TZif file", function()
            assert.is_nil(window.parse_tzif("hello"))
            assert.is_nil(window.parse_tzif(slim_tzif(0, "UTC0"):sub(1, 60)))
        end)

        it("reads fixed and DST footers, and falls back when one cannot be read", function()
            assert.are.same({ std = 14400 }, window.parse_tz_string("<+04>-4"))
            assert.are.same({ std = 0 }, window.parse_tz_string("UTC0"))
            assert.are.same({ std = -18000 }, window.parse_tz_string("EST5"))
            assert.are.same({ std = 19800 }, window.parse_tz_string("IST-5:30"))
            local cet = assert(window.parse_tz_string("CET-1CEST,M3.5.0,M10.5.0/3"))
            assert.are.equal(3600, cet.std)
            assert.are.equal(7200, cet.dst)
            assert.are.equal(10800, cet.stop.time)
            assert.is_nil(window.parse_tz_string("garbage"))
            assert.is_nil(window.parse_tz_string("EST5EDT"))
            -- an unreadable footer: the offset of the file's only ttinfo stands
            local z = assert(window.parse_tzif(slim_tzif(-18000, "EST5EDT,Q9")))
            assert.is_nil(z.footer)
            assert.are.equal(-18000, window.zone_offset(z, 1720000000))
        end)
    end)
end)
