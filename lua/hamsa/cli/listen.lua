--- `hamsa listen`: a webhook receiver (hamsa.webhook.serve) that prints
-- each new event as one JSON line on stdout. The secret comes from
-- $HAMSA_WEBHOOK_SECRET or --auth-secret-file, never from a flag value.
-- @module hamsa.cli.listen
local input = require "hamsa.cli.input"
local output = require "hamsa.cli.output"

local M = {}

function M.declare(parser)
    local cmd = parser:command("listen", "Receive Hamsa's webhooks: answer each delivery, and print each new "
        .. "event (duplicates dropped) as one JSON line on stdout. The Authorization header must be "
        .. "\"AUTH_KEY SECRET\", as in the agent's or call's webhookAuth; the secret comes from "
        .. "$HAMSA_WEBHOOK_SECRET or --auth-secret-file. The URL goes to stderr once bound.")
    cmd:summary("receive webhooks, print events as JSON lines")
    cmd:option("--host", "address to bind", "127.0.0.1"):argname("HOST")
    local number = require("hamsa.cli").number
    cmd:option("--port", "port to bind; 0 picks a free one", "0"):argname("N")
        :convert(number("--port", 0, 65535, true))
    cmd:option("--path", "the path deliveries are posted to", "/"):argname("PATH")
    cmd:option("--auth-key", "the first word of the Authorization value (webhookAuth.authKey)")
        :argname("KEY"):count(1)
    cmd:option("--auth-secret-file", "a file whose first line is the secret (webhookAuth.authSecret)")
        :argname("FILE")
    cmd:option("--max-events", "exit after this many events"):argname("N")
        :convert(number("--max-events", 1, 2 ^ 53, true))
    cmd:option("--max-body-bytes", "larger deliveries get 413", "1048576"):argname("N")
        :convert(number("--max-body-bytes", 0, 2 ^ 31, true))
    cmd:action(function(args) args._run = function(ctx) return M.run(ctx, args) end end)
end

function M.run(_, args)
    local secret = input.secret("HAMSA_WEBHOOK_SECRET", args.auth_secret_file, "--auth-secret-file")
    if not secret then
        input.usage("listen: set HAMSA_WEBHOOK_SECRET or give --auth-secret-file (the webhookAuth.authSecret)")
    end
    local webhook = require "hamsa.webhook"
    local count, max = 0, args.max_events
    local ok, srv = pcall(webhook.serve, {
        host = args.host, port = args.port, path = args.path,
        auth_key = args.auth_key, auth_secret = secret, max_body_bytes = args.max_body_bytes,
        on_event = function(event)
            output.json_line(event)
            count = count + 1
        end,
    })
    if not ok then input.usage("listen: " .. tostring(srv):gsub("^hamsa%.webhook%.serve: ", "")) end
    io.stderr:write("listening ", srv:url(), "\n")
    io.stderr:flush()
    while not (max and count >= max) do srv:step(1) end
    srv:close()
    return true
end

return M
