--- bench/setup.lua: prepares one `make bench` run in its private folder.
--
--   lua5.4 bench/setup.lua port                   prints a free TCP port on 127.0.0.1
--   lua5.4 bench/setup.lua files DIR PORT [CPU]   writes DIR/body.json, DIR/envelope.json,
--                                                 DIR/wrk.lua and DIR/nginx.conf (from
--                                                 bench/nginx.conf.in; CPU pins nginx's worker)
local cmd = arg[1]

if cmd == "port" then
    local socket = require "socket"
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    print(port)
    return
end

assert(cmd == "files" and arg[2] and arg[3], "usage: setup.lua port | files DIR PORT [CPU]")
local dir, port, cpu = arg[2], arg[3], tonumber(arg[4])
local payload = require "payload"
local json = require("hamsa.core").json

local function write(name, s)
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(s)
    f:close()
end

local body = assert(json.encode(payload.agent()))
local envelope = payload.envelope_json()
write("body.json", body)
write("envelope.json", envelope)

-- wrk's request: the same POST, for the server-ceiling rows
write("wrk.lua", string.format([[
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Token bench-key"
wrk.body = %q
]], body))

-- nginx reads '...' with backslash escapes and $variables: keep the JSON literal
assert(not envelope:find("[$\n]"), "the envelope must not hold '$' or a newline")
local quoted = envelope:gsub("[\\']", "\\%0")
local tf = assert(io.open("bench/nginx.conf.in", "rb"))
local conf = tf:read("a")
tf:close()
-- worker_cpu_affinity takes a bit mask written in binary, CPU 0 rightmost
local affinity = cpu and ("worker_cpu_affinity 1" .. string.rep("0", cpu) .. ";") or ""
local values = { PREFIX = dir, PORT = port, AFFINITY = affinity, ENVELOPE = quoted }
conf = conf:gsub("@(%u+)@", function(k) return assert(values[k], k) end)
write("nginx.conf", conf)
