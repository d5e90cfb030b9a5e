--- The subcommands made from the route table (hamsa.routes): one per row,
-- under one command per resource (`hamsa agents create`, `hamsa v2 agents
-- get ID`, `hamsa numbers list`), plus `wait` where the resource has a
-- waiter. A new row gets its subcommand with no change here: its ids become
-- positional arguments, a body becomes `--file`/`--set`, a query becomes
-- `--query` (and `--all` for a paged list). The few flags that read better
-- than a `--set` (`agents clone --name`, `conversations list --status`) are
-- listed in SUGAR.
-- @module hamsa.cli.routes
local routes = require "hamsa.routes"
local resources = require "hamsa.resources"
local waiter = require "hamsa.waiter"
local input = require "hamsa.cli.input"
local output = require "hamsa.cli.output"
local progress = require "hamsa.cli.progress"

local ipairs, pairs = ipairs, pairs
local format, gsub, match = string.format, string.gsub, string.match
local unpack = table.unpack or unpack   -- luacheck: ignore 143

local M = {}

--- Command names of resources that read better shorter; the others are the
-- resource's name with "-" for "_" (the long name stays as an alias).
M.NAMES = { phone_numbers = "numbers", knowledge_base = "kb" }

--- What each resource's command is about (its help lists the methods too).
M.ABOUT = {
    agents = "voice agents", ["v2.agents"] = "voice agents in the v2 shape", v2 = "the v2 routes",
    calls = "place calls, one route each (hamsa call is simpler)",
    conversations = "the calls placed", phone_numbers = "phone numbers", campaigns = "server-side batch calls",
    knowledge_base = "the knowledge base",
}

--- One line on what each route does (the help's summary); a row without
-- one shows its method and path only.
M.SUMMARY = {
    ["agents.create"] = "create an agent", ["agents.clone"] = "copy an agent",
    ["agents.update"] = "change an agent's fields", ["agents.get"] = "show one agent",
    ["agents.list"] = "list the agents",
    ["v2.agents.create"] = "create an agent (v2 shape)", ["v2.agents.get"] = "show one agent (v2 shape)",
    ["v2.agents.update"] = "change an agent (v2 shape)", ["v2.agents.list"] = "list the agents (v2 shape)",
    ["calls.phone_number"] = "place a call from your own number",
    ["calls.twilio"] = "place a call through Twilio",
    ["calls.start"] = "place a call from a number Hamsa provides",
    ["conversations.get"] = "show one conversation (a call)",
    ["conversations.list"] = "list the calls",
    ["conversations.terminate"] = "end a live call",
    ["phone_numbers.create"] = "register a phone number", ["phone_numbers.list"] = "list the phone numbers",
    ["phone_numbers.assign"] = "assign a number to an agent",
    ["phone_numbers.unassign"] = "take a number from its agent",
    ["campaigns.create"] = "create a campaign (server-side batch calls)",
    ["campaigns.list"] = "list the campaigns", ["campaigns.get"] = "show one campaign",
    ["campaigns.update"] = "change a campaign",
    ["knowledge_base.create"] = "add a knowledge base item", ["knowledge_base.list"] = "list the knowledge base",
    ["knowledge_base.get"] = "show one knowledge base item",
    ["knowledge_base.update"] = "change a knowledge base item",
    ["knowledge_base.remove_url"] = "remove a URL from a knowledge base item",
}

-- Flags that set one field each: { flag, field, value name, help, into =
-- "body" | "query", kind = "time" | "list" }.
local SUGAR = {
    ["agents.clone"] = {
        { "--name", "agentName", "NAME", "the copy's name", into = "body" },
    },
    ["conversations.list"] = {
        { "--status", "status", "STATUS", "only calls in this status (again for several: --status FAILED "
            .. "--status NO_ANSWER)", into = "query", kind = "list" },
        { "--agent", "voiceAgentId", "ID", "only the calls of this agent", into = "query" },
        { "--since", "startTime", "WHEN", "only calls from WHEN: 12h, 2d (ago), 2026-12-01T18:00Z (UTC) "
            .. "or epoch ms", into = "query", kind = "time" },
        { "--until", "endTime", "WHEN", "only calls until WHEN (as --since)", into = "query", kind = "time" },
    },
}

local function dashed(s)
    return (gsub(s, "_", "-"))
end

-- The argparse name of an option's value in the parse result ("--set-str" -> "set_str").
local function target(flag)
    return (gsub(match(flag, "^%-%-(.*)$"), "-", "_"))
end

-- The command holding `resource`'s subcommands ("v2.agents": v2 -> agents),
-- made on first use.
local function resource_command(parser, resource, made)
    if made[resource] then return made[resource] end
    local parent, name = parser, resource
    local head, rest = match(resource, "^(.-)%.([^.]+)$")
    if head then
        parent = made[head] or parser:command(head, M.ABOUT[head] or ("the " .. head .. " routes"))
        parent:require_command(true):command_target("_" .. head)
        made[head] = parent
        name = rest
    end
    local cli = M.NAMES[resource]
    local names = cli and (cli .. " " .. dashed(resource)) or dashed(name)
    local cmd = parent:command(names, M.ABOUT[resource] or ("the " .. dashed(name) .. " routes"))
    cmd:require_command(true)
    made[resource] = cmd
    return cmd
end

local function declare_body(cmd)
    cmd:option("-f --file", "the body: a file of JSON (- reads stdin)"):argname("FILE")
    cmd:option("--set", "set a field of the body: KEY is a path (tools.smartCallEnd, pokeMessages[2]); "
        .. "VALUE is JSON when it reads as JSON (800, true, [\"a\"]), else text. Repeatable")
        :argname("KEY=VALUE"):count("*")
    cmd:option("--set-str", "as --set, VALUE always text (--set-str agentName=007)")
        :argname("KEY=VALUE"):count("*")
end

local function declare_row(cmd, row, key, run)
    local help = M.SUMMARY[key]
    local line = row.method .. " " .. row.path
    local sub = cmd:command(dashed(row.name), help and (help .. "\n" .. line) or line)
    sub:summary(help or line)
    local ids = {}
    for name in row.path:gmatch("{(%w+)}") do
        ids[#ids + 1] = name
        sub:argument(name, "the " .. name)
    end
    for _, name in ipairs(row.body_args or {}) do sub:argument(name, "the " .. name .. " (sent in the body)") end
    if row.body then declare_body(sub) end
    if row.query then
        sub:option("-q --query", "a query parameter (typed like --set; again for a list: -q status=A "
            .. "-q status=B). Repeatable"):argname("KEY=VALUE"):count("*")
        if row.paging then
            sub:flag("--all", "every item of every page: one JSON line per item, streamed page by page")
        end
    end
    for _, s in ipairs(SUGAR[key] or {}) do
        local o = sub:option(s[1], s[4]):argname(s[3])
        if s.kind == "list" then o:count("*") end
    end
    sub:action(function(args) args._run = function(ctx) return run(ctx, row, key, ids, args) end end)
end

-- The body of a row's command: --file, then each --set / --set-str, then
-- the sugar flags; nil when the command was given none of them (an
-- optional body then goes out as `{}`).
local function body_of(args, key)
    local body, given
    if args.file then body, given = input.json_file(args.file, "--file"), true else body = {} end
    if #(args.set or {}) > 0 then given = true; input.assignments(body, args.set, "--set") end
    if #(args.set_str or {}) > 0 then given = true; input.assignments(body, args.set_str, "--set-str", true) end
    for _, s in ipairs(SUGAR[key] or {}) do
        local v = s.into == "body" and args[target(s[1])]
        if v ~= nil then given = true; input.assign(body, s[2], v, s[1]) end
    end
    return given and body or nil
end

local function query_of(args, key)
    local q = input.query(args.query, "--query")
    for _, s in ipairs(SUGAR[key] or {}) do
        local v = s.into == "query" and args[target(s[1])]
        if s.kind == "list" and v and #v == 0 then v = nil end
        if v ~= nil then
            if s.kind == "time" then v = input.time(v, s[1]) end
            q[s[2]] = v
        end
    end
    return q
end

--- The resource object `client.<resource>` (dotted names nested).
function M.resource(client, name)
    local r = client
    for part in name:gmatch("[^.]+") do r = r[part] end
    return r
end

-- Streams every item of a paged list as JSON lines (or collects them for a table).
local function run_all(ctx, res, query)
    local list = {}
    for item, err in res:each(query, ctx.opts()) do
        if item == false then
            if ctx.mode == "table" and #list > 0 then output.table(list) end
            return nil, err
        end
        if ctx.mode == "json" then output.json_line(item) else list[#list + 1] = item end
    end
    if ctx.mode == "table" then
        output.table(list)
        io.stdout:write(format("(%d in all)\n", #list))
    end
    return true
end

function M.run_row(ctx, row, key, ids, args)
    local res = M.resource(ctx.client, row.resource)
    local call, n = {}, 0
    local function push(v) n = n + 1; call[n] = v end
    for _, name in ipairs(ids) do push(args[name]) end
    for _, name in ipairs(row.body_args or {}) do push(args[name]) end
    if row.body then
        local body = body_of(args, key)
        if body == nil and row.body == "required" then body = {} end
        push(body)
    end
    local query
    if row.query then
        query = query_of(args, key)
        push(query)
    end
    if args.all and not ctx.dry_run then return run_all(ctx, res, query) end
    push(ctx.opts())
    local data, response = res[row.name](res, unpack(call, 1, n))
    if data == nil then return nil, response end
    return ctx.show(data, response, row.items or (row.paging == "bare" and nil))
end

--- Waits for `id` on `res` (a resource with a waiter) with a progress
-- display on stderr; returns the final record (data, response) or nil, err.
function M.wait(ctx, res, id, noun, args)
    local display = progress.new(noun .. " " .. id)
    local opts = ctx.opts()
    opts.deadline, opts.interval = args.deadline, args.interval
    opts.on_status = function(record) display:update(record) end
    local result
    opts.on_done = function(d, e, r) result = { d, e, r } end
    res:wait(id, opts)
    while not result do
        ctx.client:poll(0.25)
        display:tick()
    end
    display:finish()
    return result[1], result[1] == nil and result[2] or result[3]
end

local function declare_wait_options(cmd)
    local number = require("hamsa.cli").number
    cmd:option("--deadline", "give up after this many seconds (default 3600); exit status 7")
        :argname("SECONDS"):convert(number("--deadline", 0.001, 1e6))
    cmd:option("--interval", "first gap between polls in seconds (default 2, growing to 15)")
        :argname("SECONDS"):convert(number("--interval", 0.01, 3600))
end
M.declare_wait_options = declare_wait_options

local function run_wait(ctx, resource, args)
    local res = M.resource(ctx.client, resource)
    local kind = waiter.RESOURCES[resource]
    local id = args.id
    if ctx.dry_run then
        return ctx.show(res:get(id, ctx.opts()))
    end
    local data, err_or_response = M.wait(ctx, res, id, kind.noun, args)
    if data == nil then return nil, err_or_response end
    return ctx.show(data, err_or_response)
end

--- Declares every route's subcommand on `parser`; `ctx` runs them.
function M.declare(parser)
    local made = {}
    for _, row in ipairs(routes) do
        local cmd = resource_command(parser, row.resource, made)
        declare_row(cmd, row, row.resource .. "." .. row.name, M.run_row)
    end
    local methods = {}
    for _, row in ipairs(routes) do
        local m = methods[row.resource] or {}
        methods[row.resource] = m
        m[#m + 1] = dashed(row.name)
    end
    for resource, class in pairs(resources.CLASSES) do
        if class.wait and waiter.RESOURCES[resource] then
            local kind = waiter.RESOURCES[resource]
            local sub = made[resource]:command("wait", "poll until the " .. kind.noun .. " reaches a final status "
                .. "and show it; progress goes to stderr")
            sub:summary("wait until the " .. kind.noun .. " ends")
            sub:argument("id", "the " .. kind.id)
            declare_wait_options(sub)
            sub:action(function(args) args._run = function(ctx) return run_wait(ctx, resource, args) end end)
            local m = methods[resource]
            m[#m + 1] = "wait"
        end
    end
    for resource, m in pairs(methods) do
        made[resource]:summary((M.ABOUT[resource] or resource) .. ": " .. table.concat(m, ", "))
    end
    return made
end

return M
