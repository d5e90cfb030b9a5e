--- `hamsa mock`: the mock Hamsa API (hamsa.mock) in the foreground, with
-- the flags of bin/hamsa-mock (hamsa.mock.options) but --api-key: the key
-- it expects is $HAMSA_API_KEY, else "test-key".
-- @module hamsa.cli.mock
local input = require "hamsa.cli.input"

local M = {}

function M.declare(parser)
    local options = require "hamsa.mock.options"
    local cmd = parser:command("mock", "Serve the mock Hamsa API on 127.0.0.1 (the one `make demo` and the "
        .. "specs use): it keeps agents, calls and the rest in memory, plays calls out on its clock and "
        .. "delivers webhooks. Prints \"listening URL\" on stdout once bound; stops on a signal or "
        .. "POST /__mock/shutdown. It expects the key of $HAMSA_API_KEY, else \"test-key\". A number "
        .. "ending in 4001 ends NO_ANSWER, 4002 FAILED, 4003 FORWARDED, 4004 TERMINATED.")
    cmd:summary("serve the mock Hamsa API")
    for _, row in ipairs(options.FLAGS) do
        if row[2] ~= "api_key" then cmd:option(row[1], row[4]):argname(row[3]) end
    end
    cmd:action(function(args) args._run = function(ctx) return M.run(ctx, args) end end)
end

function M.run(_, args)
    local options = require "hamsa.mock.options"
    local opts = options.defaults()
    for _, row in ipairs(options.FLAGS) do
        local text = args[row[2]]
        if text ~= nil then
            local v, why = options.convert(row, text)
            if v == nil then input.usage("mock: " .. why) end
            opts[row[2]] = v
        end
    end
    local server, err = require("hamsa.mock").new(opts)
    if not server then input.usage("mock: " .. tostring(err)) end
    io.stdout:write("listening ", server:url(), "\n")
    io.stdout:flush()
    local ok, run_err = server:run()
    server:close()
    if not ok then input.usage("mock: " .. tostring(run_err)) end
    return true
end

return M
