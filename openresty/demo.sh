#!/bin/sh
# `make demo-openresty`: nginx with openresty/nginx.conf on a free port,
# one call placed through it, then nginx stopped. Needs HAMSA_BASE_URL and
# HAMSA_API_KEY (examples/with-mock.sh sets them) and build/jit/hamsa/core.so.
# From the repository root:
#   examples/with-mock.sh -- sh openresty/demo.sh
set -eu
LUA=${LUA:-lua5.4}
port=$("$LUA" -e 'local s = require("socket").bind("127.0.0.1", 0)
                  local _, p = s:getsockname(); s:close(); print(p)')
mkdir -p build/openresty
prefix=$(mktemp -d "$(pwd)/build/openresty/demo.XXXXXX")
sh openresty/nginx.sh "$port" "$prefix" build/jit &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$prefix"' EXIT INT TERM
echo "nginx at http://127.0.0.1:$port (prefix $prefix)"
PORT=$port "$LUA" - <<'LUA'
local socket, http = require("socket"), require("socket.http")
local base = "http://127.0.0.1:" .. os.getenv("PORT")
for _ = 1, 200 do                       -- until nginx listens (10 s at most)
    local c = socket.connect("127.0.0.1", tonumber(os.getenv("PORT")))
    if c then c:close() break end
    socket.sleep(0.05)
end
for _, r in ipairs({ { "POST", "/call?to=%2B971501234567&name=Layla" }, { "GET", "/agents" },
                     { "POST", "/call?to=0501234567" } }) do
    local body, status = http.request(base .. r[2], r[1] == "POST" and "" or nil)   -- a body: POST
    print(("%-4s %-38s -> %s %s"):format(r[1], r[2], tostring(status), (body or ""):gsub("\n$", "")))
end
LUA
