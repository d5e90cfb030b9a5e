--- bench/codec.lua: codec micro-benchmarks of `make bench`: hamsa.json
-- against Debian's lua-cjson, on the two create bodies (the agent payload,
-- 2 KB, and the small one, about 300 bytes) and on a 1 MB agent listing.
--
--   lua5.4 bench/codec.lua [SECONDS]      (time per case and library, default 0.25)
--
-- Prints one line per case and library:
--   CODEC case=<agent|small|list> op=<encode|decode> lib=<hamsa|cjson> bytes=<n> us=<per op> mbs=<MB/s>
-- Each figure is the best of three timed runs, the libraries taking turns.
local json = require("hamsa.core").json
local cjson = require "cjson"
local payload = require "payload"

local clock, format = os.clock, string.format
local budget = tonumber(arg[1]) or 0.25

local LIBS = {
    { name = "hamsa", encode = json.encode, decode = json.decode },
    { name = "cjson", encode = cjson.encode, decode = cjson.decode },
}

-- Seconds per call of f(x), over about `budget` seconds.
local function time(f, x)
    local t0 = clock()
    f(x)
    local once = math.max(clock() - t0, 1e-7)
    local n = math.max(1, math.floor(budget / once))
    collectgarbage()
    t0 = clock()
    for _ = 1, n do f(x) end
    return (clock() - t0) / n
end

local cases = {
    { name = "agent", value = payload.agent() },
    { name = "small", value = payload.small() },
    { name = "list", value = payload.list() },
}
for _, case in ipairs(cases) do
    local text = assert(json.encode(case.value))
    for _, op in ipairs({ "encode", "decode" }) do
        local best = {}
        for _ = 1, 3 do
            for _, lib in ipairs(LIBS) do
                local input = op == "encode" and case.value or text
                local s = time(lib[op], input)
                if not best[lib.name] or s < best[lib.name] then best[lib.name] = s end
            end
        end
        for _, lib in ipairs(LIBS) do
            local s = best[lib.name]
            print(format("CODEC case=%s op=%s lib=%s bytes=%d us=%.3f mbs=%.1f",
                case.name, op, lib.name, #text, s * 1e6, #text / s / 1e6))
        end
    end
end
