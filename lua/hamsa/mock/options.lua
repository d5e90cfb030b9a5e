--- The options of the mock server as a command line knows them: one row
-- per flag, with its `hamsa.mock.new` option and the check of its value.
-- `bin/hamsa-mock` parses them by hand (it needs nothing but LuaSocket);
-- `hamsa mock` declares them with argparse. Both check values here.
-- @module hamsa.mock.options

local M = {}

--- flag, option key, value name, help; `number` for numeric values,
-- `positive` when 0 is refused, `range` for an integer range.
M.FLAGS = {
    { "--host", "host", "H", "address to bind (default 127.0.0.1)" },
    { "--port", "port", "P", "port to bind; 0 picks a free one (default 0)", number = true, range = { 0, 65535 } },
    { "--api-key", "api_key", "K", "key expected in \"Authorization: Token K\" (default $HAMSA_API_KEY, "
        .. "else \"test-key\")" },
    { "--latency", "latency", "SECONDS", "delay added before answering every API request (default 0)",
      number = true },
    { "--header-timeout", "header_timeout", "SECONDS", "time for a whole request head, else 408 (default 10)",
      number = true, positive = true },
    { "--idle-timeout", "idle_timeout", "SECONDS", "a kept-alive connection idle this long is closed "
        .. "(default 30)", number = true, positive = true },
    { "--body-timeout", "body_timeout", "SECONDS", "time for a whole request body, else 408 (default 30)",
      number = true, positive = true },
    { "--max-connections", "max_connections", "N", "open connections at most, 1..1000 (default 900)",
      number = true, positive = true, range = { 1, 1000 } },
    { "--call-seconds", "call_seconds", "SECONDS", "how long a placed call lasts on the mock's clock "
        .. "(default 2)", number = true, positive = true, finite = true },
}

--- The flag's row by its flag ("--port").
M.BY_FLAG = {}
for _, row in ipairs(M.FLAGS) do M.BY_FLAG[row[1]] = row end

--- The value of `row`'s flag from its text: the value (a number for
-- numeric flags), or nil and a message.
function M.convert(row, text)
    if text == "" then return nil, row[1] .. " must not be empty" end
    if not row.number then return text end
    local n, range = tonumber(text), row.range
    if not n or n ~= n or n < 0 or (row.positive and n == 0) or (row.finite and n == math.huge)
        or (range and (n % 1 ~= 0 or n < range[1] or n > range[2])) then
        return nil, "bad value for " .. row[1] .. ": '" .. text .. "'"
    end
    return math.tointeger and math.tointeger(n) or n
end

--- The options every mock starts from: host 127.0.0.1, a free port, the
-- key from $HAMSA_API_KEY (else "test-key"), no latency.
function M.defaults()
    local env_key = os.getenv("HAMSA_API_KEY")
    return { host = "127.0.0.1", port = 0, latency = 0,
             api_key = (env_key and env_key ~= "") and env_key or "test-key" }
end

return M
