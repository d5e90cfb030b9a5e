--- The `hamsa` command (bin/hamsa): the library from the shell. This file
-- builds the argparse tree, makes the client from the global options,
-- runs the chosen subcommand and turns its outcome into an exit status:
--
--   0 ok, 2 usage, 3 invalid, 4 auth, 5 not_found, 6 rate_limited,
--   7 timeout, network or server, 8 any other error (api, decode, config,
--   cancelled)
--
-- The subcommands live in their own files: hamsa.cli.routes (one per
-- route of hamsa.routes, and `wait`), hamsa.cli.call, hamsa.cli.listen,
-- hamsa.cli.mock. The API key is read from $HAMSA_API_KEY or
-- --api-key-file only: a flag value would show in `ps`.
-- @module hamsa.cli
local argparse = require "argparse"
local hamsa = require "hamsa"
local input = require "hamsa.cli.input"
local output = require "hamsa.cli.output"

local type, pcall, tostring, ipairs = type, pcall, tostring, ipairs
local format, gsub = string.format, string.gsub

local M = {}

--- Exit status per error kind (API.md "Command line"); others exit 8.
M.EXIT = { invalid = 3, auth = 4, not_found = 5, rate_limited = 6, timeout = 7, network = 7, server = 7 }
M.USAGE, M.OTHER = 2, 8

--- The commands beside the routes: modules with `declare(parser)`.
M.COMMANDS = { "hamsa.cli.call", "hamsa.cli.dial", "hamsa.cli.listen", "hamsa.cli.mock" }

local EPILOG = [[
Environment:
  HAMSA_API_KEY         the API key (or --api-key-file; never a flag value)
  HAMSA_BASE_URL        the API's address (default https://api.tryhamsa.com)
  HAMSA_WEBHOOK_SECRET  the webhook secret `hamsa listen` expects

Output: JSON when stdout is not a terminal (one object; with --all one line
per item), an aligned table when it is; --output chooses. Errors go to
stderr, naming the field: "hamsa: invalid: pokeMessages[2] must be a string".

Exit status:
  0 ok   2 usage   3 invalid   4 auth   5 not_found   6 rate_limited
  7 timeout, network or server   8 any other error

Examples:
  hamsa agents create --file agent.json --set silenceThreshold=800
  hamsa agents list --all
  hamsa call --to +971501234567 --from +97145551234 --agent ID --param name=Layla --wait
  hamsa conversations list --status FAILED --since 12h
  hamsa --dry-run agents update ID --set-str greetingMessage=Hello
  hamsa completion bash > /etc/bash_completion.d/hamsa]]

--- An argparse converter for `flag`: a number within [lo, hi] (an integer when
-- `whole`), else nil and a message argparse reports (exit 2).
function M.number(flag, lo, hi, whole)
    return function(text)
        local n = tonumber(text)
        if not n or n ~= n or n < lo or n > hi or (whole and n % 1 ~= 0) then
            return nil, format("%s %s: expected %s from %g to %g", flag, text,
                whole and "a whole number" or "a number", lo, hi)
        end
        return whole and math.tointeger and math.tointeger(n) or n
    end
end

--- The whole argparse tree.
function M.parser()
    local p = argparse("hamsa", "Hamsa's voice-agent API from the shell: agents, calls, conversations, "
        .. "phone numbers, campaigns, the knowledge base, webhooks and a local mock.")
    p:epilog(EPILOG)
    p:help_max_width(100)
    p:require_command(true):command_target("_command")
    p:option("-o --output", "json or table (default: a table on a terminal, else JSON)")
        :choices{ "json", "table" }:argname("FORMAT")
    p:flag("--dry-run", "validate and print the request (key cut), send nothing")
    p:option("--base-url", "the API's address (default $HAMSA_BASE_URL, else https://api.tryhamsa.com)")
        :argname("URL")
    p:option("--api-key-file", "read the API key from the first line of FILE (default $HAMSA_API_KEY)")
        :argname("FILE")
    p:option("--timeout", "seconds per attempt (default 30)"):argname("SECONDS")
        :convert(M.number("--timeout", 0.001, 1e6))
    p:option("--max-retries", "retries of what cannot place a call twice (default 2)")
        :argname("N"):convert(M.number("--max-retries", 0, 100, true))
    p:option("--idempotency-key", "the Idempotency-Key of a POST (default: a new UUID)"):argname("KEY")
    p:flag("--no-validate", "send bodies without the client-side checks")
    p:flag("--version", "print the version and exit"):action(function()
        io.stdout:write("hamsa ", hamsa._VERSION, "\n")
        os.exit(0)
    end)
    require("hamsa.cli.routes").declare(p)
    for _, name in ipairs(M.COMMANDS) do require(name).declare(p) end
    p:add_help_command()
    p:add_complete_command()
    return p
end

-- The client of the global options; a malformed option is a usage error.
local function client_of(args)
    local opts = { validate = not args.no_validate, base_url = args.base_url,
                   api_key = args.api_key_file and input.secret(nil, args.api_key_file, "--api-key-file") }
    if args.timeout then opts.timeout = args.timeout end
    if args.max_retries then opts.max_retries = args.max_retries end
    local ok, client = pcall(hamsa.new, opts)
    if not ok then input.usage((gsub(tostring(client), "^[^:]*:%d+: ", ""))) end
    local problem = client._config_err
    if not problem and not require("hamsa.client").has_key(client) then
        problem = "no API key: set HAMSA_API_KEY or use --api-key-file"
    end
    if problem then error({ err = require("hamsa.errors").new("config", problem) }, 0) end
    return client
end

-- What a subcommand runs with: the client, the output mode, the request
-- options and the way results are shown.
local function context(args)
    local ctx = { mode = output.mode(args.output), dry_run = args.dry_run }
    if args._command ~= "listen" and args._command ~= "mock" and args._command ~= "help"
        and args._command ~= "completion" then
        ctx.client = client_of(args)
    end
    --- fresh request options for each call (the library may keep them)
    function ctx.opts()
        return { dry_run = ctx.dry_run or nil, idempotency_key = args.idempotency_key }
    end
    --- shows a result: data, response (a dry run's preview), or nil, err
    function ctx.show(data, response, items)
        if data == nil then return nil, response end
        if type(response) == "table" and response.dry_run then
            output.preview(data, ctx.mode)
        else
            output.result(data, ctx.mode, items)
        end
        return true
    end
    return ctx
end

--- The exit status of an error (a hamsa error table).
function M.status(err)
    return M.EXIT[err.kind] or M.OTHER
end

local function report(msg)
    io.stderr:write(msg, "\n")
    io.stderr:flush()
end

--- Runs the command line `argv` (a list of strings); returns the exit status.
function M.main(argv)
    -- before parsing: `--api-key KEY` would otherwise be read as an unknown
    -- option followed by a command named KEY (and completion never offers it)
    for _, a in ipairs(argv) do
        if a == "--" then break end
        if a == "--api-key" or a:find("^%-%-api%-key=") then
            report("hamsa: --api-key is not accepted: a key on the command line shows in `ps` and in shell "
                .. "history; set HAMSA_API_KEY or use --api-key-file")
            return M.USAGE
        end
    end
    local parser = M.parser()
    local ok, args = parser:pparse(argv)
    if not ok then
        report(format("hamsa: %s\nTry 'hamsa --help' or 'hamsa help COMMAND'.", args))
        return M.USAGE
    end
    local done, result, err = pcall(function()
        local ctx = context(args)
        return args._run(ctx)
    end)
    if not done then
        if type(result) == "table" and result.usage then
            report("hamsa: " .. result.usage)
            return M.USAGE
        elseif type(result) == "table" and result.err then
            err = result.err
        elseif tostring(result):find("interrupted!$") then
            io.stderr:write("\n")
            return 130                          -- Ctrl-C (lua.c's SIGINT hook), as a shell reports it
        else
            -- the library raises on misuse, which here can only come from a
            -- value typed on the line (argparse checked the shapes)
            report("hamsa: " .. (gsub(tostring(result), "^[^:\n]*:%d+: ", "")))
            return M.USAGE
        end
    end
    if err then
        io.stdout:flush()
        report(tostring(err))
        return M.status(err)
    end
    io.stdout:flush()
    return 0
end

return M
