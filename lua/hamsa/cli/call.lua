--- `hamsa call`: one command for the three call routes, with the fields a
-- person types (`--to`, `--from`, `--agent`), and `--wait` to follow the
-- call to its end.
--
--   default          calls:phone_number  (--from is your number: phoneNumber)
--   --twilio         calls:twilio        (--from is twilioPhoneNumber)
--   --hamsa-number   calls:start         (--from optional: fromNumber)
-- @module hamsa.cli.call
local input = require "hamsa.cli.input"
local routes = require "hamsa.cli.routes"

local ipairs, pairs, next, type = ipairs, pairs, next, type
local match = string.match

local M = {}

function M.declare(parser)
    local cmd = parser:command("call", "Place a phone call with an agent, and with --wait follow it to its end "
        .. "(progress on stderr, the final conversation on stdout).\n"
        .. "From your own number (POST /v1/voice-agents/phone-number/call), through Twilio (--twilio) "
        .. "or from a number Hamsa provides (--hamsa-number).")
    cmd:summary("place a call (and --wait for its end)")
    cmd:option("--to", "the number to call (E.164: +9715...)"):argname("NUMBER"):count(1)
    cmd:option("--from", "the number calling: yours, your Twilio number with --twilio, optional with "
        .. "--hamsa-number"):argname("NUMBER")
    cmd:mutex(
        cmd:option("--agent", "the stored agent that talks (its voiceAgentId)"):argname("ID"),
        cmd:option("--agent-file", "an agent defined inline for this call (a JSON file, as for "
            .. "agents create)"):argname("FILE"))
    cmd:option("--param", "a value for a {{placeholder}} of the agent, for this call (text). Repeatable")
        :argname("NAME=VALUE"):count("*")
    cmd:mutex(
        cmd:flag("--twilio", "call through Twilio"),
        cmd:flag("--hamsa-number", "call from a number Hamsa provides"))
    cmd:option("--set", "set another field of the body (webhookUrl=...), typed as for agents create. "
        .. "Repeatable"):argname("KEY=VALUE"):count("*")
    cmd:flag("--wait", "follow the call until its final status")
    routes.declare_wait_options(cmd)
    cmd:action(function(args) args._run = function(ctx) return M.run(ctx, args) end end)
end

local function body_of(args)
    local body = { toNumber = args.to }
    local route
    if args.twilio then
        route, body.twilioPhoneNumber = "twilio", args.from
    elseif args.hamsa_number then
        route, body.fromNumber = "start", args.from
    else
        route, body.phoneNumber = "phone_number", args.from
    end
    if not args.from and route ~= "start" then
        input.usage("call: --from is required (your number; or --hamsa-number to call from one Hamsa provides)")
    end
    local params = {}
    for _, item in ipairs(args.param) do
        local name, value = match(item, "^([^=]+)=(.*)$")
        if not name then input.usage("--param " .. item .. ": expected NAME=VALUE") end
        params[name] = value
    end
    if args.agent_file then
        local agent = input.json_file(args.agent_file, "--agent-file")
        if next(params) then
            agent.params = agent.params or {}
            for k, v in pairs(params) do agent.params[k] = v end
        end
        body.agentDetails = agent
    elseif args.agent then
        body.voiceAgentId = args.agent
        if next(params) then body.params = params end
    else
        input.usage("call: give --agent ID or --agent-file FILE")
    end
    input.assignments(body, args.set, "--set")
    return route, body
end

function M.run(ctx, args)
    local route, body = body_of(args)
    local calls = ctx.client.calls
    local data, response = calls[route](calls, body, ctx.opts())
    if data == nil then return nil, response end
    if not args.wait then return ctx.show(data, response) end
    if ctx.dry_run then
        io.stderr:write("hamsa: --wait: nothing to wait for in a dry run\n")
        return ctx.show(data, response)
    end
    local id = data.jobId or data.id
    if type(id) ~= "string" or id == "" then
        ctx.show(data, response)
        input.usage("call: the reply carries no call id (jobId or id) to wait for")
    end
    io.stderr:write("hamsa: placed call ", id, "\n")
    local record, r = routes.wait(ctx, ctx.client.conversations, id, "call", args)
    if record == nil then return nil, r end
    return ctx.show(record, r)
end

return M
