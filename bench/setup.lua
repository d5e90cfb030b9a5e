--- bench/setup.lua: prepares one `make bench` (or `make bench-phases`) run in its private folder.
--
--   lua5.4 bench/setup.lua port [COUNT]      prints COUNT (default 1) free TCP ports on 127.0.0.1
--   lua5.4 bench/setup.lua files DIR PORT PORT_SMALL [CPU]
--       writes, for the agent payload, DIR/body.json, DIR/envelope.json and
--       DIR/wrk.lua, for the small one DIR/body_small.json,
--       DIR/envelope_small.json and DIR/wrk_small.lua, and DIR/nginx.conf
--       (from bench/nginx.conf.in: the agent payload's answer on PORT, the
--       small one's on PORT_SMALL; CPU pins nginx's worker)
local cmd = arg[1]

if cmd == "port" then
    local socket = require "socket"
    local held, ports = {}, {}
    for i = 1, tonumber(arg[2]) or 1 do     -- all bound at once: never the same port twice
        held[i] = assert(socket.bind("127.0.0.1", 0))
        local _, port = held[i]:getsockname()
        ports[i] = port
    end
    for _, s in ipairs(held) do s:close() end
    print(table.concat(ports, " "))
    return
end

assert(cmd == "files" and arg[2] and arg[3] and arg[4],
    "usage: setup.lua port [COUNT] | files DIR PORT PORT_SMALL [CPU]")
local dir, port, port_small, cpu = arg[2], arg[3], arg[4], tonumber(arg[5])
local payload = require "payload"
local json = require("hamsa.core").json

local function write(name, s)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(s)
    f:close()
end

-- nginx reads '...' with backslash escapes and $variables: keep the JSON literal
local function quoted(envelope)
    assert(not envelope:find("[$\n]"), "the envelope must not hold '$' or a newline")
    return (envelope:gsub("[\\']", "\\%0"))
end

local values = { PREFIX = dir, PORT = port, PORT_SMALL = port_small }
for _, name in ipairs(payload.NAMES) do
    local tail = name == "agent" and "" or "_" .. name
    local body = assert(json.encode(payload.body(name)))
    local envelope = payload.envelope_json(name)
    write("body" .. tail .. ".json", body)
    write("envelope" .. tail .. ".json", envelope)
    -- wrk's request: the same POST, for the server-ceiling rows
    write("wrk" .. tail .. ".lua", string.format([[
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Token bench-key"
wrk.body = %q
]], body))
    values["ENVELOPE" .. tail:upper()] = quoted(envelope)
end

local tf = assert(io.open("bench/nginx.conf.in", "rb"))
local conf = tf:read("*a")
tf:close()
-- worker_cpu_affinity takes a bit mask written in binary, CPU 0 rightmost
values.AFFINITY = cpu and ("worker_cpu_affinity 1" .. string.rep("0", cpu) .. ";") or ""
conf = conf:gsub("@([%u_]+)@", function(k) return assert(values[k], k) end)
write("nginx.conf", conf)
