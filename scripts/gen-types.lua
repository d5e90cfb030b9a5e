--- scripts/gen-types.lua: writes types/hamsa.lua, the LuaLS definitions
-- (`---@meta`) of hamsa's public API, to stdout or to the file named by the
-- first argument (`make types`; spec/92-types_spec.lua regenerates and
-- compares). Runs on lua5.4 with the repository's paths:
--
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' \
--         lua5.4 scripts/gen-types.lua types/hamsa.lua
--
-- What comes from the code (docs/types.md has the whole list):
--   * every resource method, its arguments and its HTTP line: hamsa.routes
--     (plus `each` on every list with paging, `wait` on hamsa.waiter's
--     RESOURCES), and the methods on the resource classes themselves;
--   * every body and query class, field by field, with its type and its
--     one-line doc: the rule sets of hamsa.validate, read through
--     hamsa.validate.checks' `describe` table and hamsa.validate.native's
--     `structure` table; a custom checker neither describes is probed with
--     sample values (its type) and with a value it must refuse (its message
--     becomes the doc);
--   * the option names and Lua types of hamsa.new, of every request, of
--     wait and of hamsa.dialer.new (hamsa.config, hamsa.waiter,
--     hamsa.dialer), their defaults and bounds;
--   * the methods of the client, request, waiter, webhook and dialer
--     classes: every public function of their metatables must be described
--     in METHODS below, or the generator stops.
-- What is written here by hand, because no rule holds it: the one-line docs
-- of options, methods and error kinds, the units of a few fields (UNITS),
-- and the data the API returns (records are plain tables).
--
-- The output depends on nothing but the code: keys are sorted, classes come
-- in the order the routes do.

local routes = require "hamsa.routes"
local validate = require "hamsa.validate"
local C = require "hamsa.validate.checks"
local native = require "hamsa.validate.native"
local config = require "hamsa.config"
local client_mod = require "hamsa.client"
local resources = require "hamsa.resources"
local waiter = require "hamsa.waiter"
local webhook = require "hamsa.webhook"
local dialer = require "hamsa.dialer"

local describe, structure = C.describe, native.structure
local concat, sort, format = table.concat, table.sort, string.format

local out = {}
local function emit(...)
    local line = concat({ ... })
    out[#out + 1] = line
end

local function sorted_keys(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    return keys
end

local function fail(msg)
    io.stderr:write("gen-types: ", msg, "\n")
    os.exit(1)
end

---------------------------------------------------------------------------
-- reaching what a module keeps local: the checkers a custom checker
-- combines (its upvalues), the rule set behind an entry point (a call hook)

-- The function upvalues of `fn` (in order), breadth first, `depth` levels.
local function function_upvalues(fn, depth)
    local list, level, seen = {}, { fn }, { [fn] = true }
    for _ = 1, depth do
        local nxt = {}
        for _, f in ipairs(level) do
            local i = 1
            while true do
                local n, v = debug.getupvalue(f, i)
                if not n then break end
                if type(v) == "function" and not seen[v] then
                    seen[v] = true
                    list[#list + 1] = v
                    nxt[#nxt + 1] = v
                end
                i = i + 1
            end
        end
        level = nxt
    end
    return list
end

-- The first object checker (one hamsa.validate.checks describes) that `fn`
-- calls when handed a table that no object rule accepts: the compiled rule
-- set behind an entry point of hamsa.validate (`function(body) return
-- run(check, body) end`, the check reached through an upvalue or a module
-- table), or the object a custom checker checks first.
local PROBE = function() end        -- a value every checker refuses
local function object_rule(fn)
    if describe[fn] and describe[fn].kind == "object" then return fn end
    local found
    debug.sethook(function()
        if found then return end
        local f = debug.getinfo(2, "f").func
        local d = describe[f]
        if d and d.kind == "object" then found = f end
    end, "c")
    pcall(fn, { PROBE })
    debug.sethook()
    return found
end

---------------------------------------------------------------------------
-- types of checkers

-- Units no rule states (docs/wire.md), by field name.
local UNITS = {
    silenceThreshold = "ms", responseDelay = "ms", minInterruptionDuration = "s",
    userInactivityTimeout = "s", maxCallDuration = "s", meetingDuration = "minutes",
    startTime = "epoch ms", endTime = "epoch ms",
}

-- The checkers of hamsa.validate.checks that describe no bounds: their doc.
local KNOWN = {
    [C.check_e164] = { "string", 'E.164, e.g. "+971501234567"' },
    [C.check_https] = { "string", "https:// URL with a host" },
    [C.check_timezone] = { "string", 'IANA time zone, e.g. "Asia/Dubai"' },
}

-- Sample values a custom checker is probed with, and the type each stands for.
local SAMPLES = {
    { "string", "x" }, { "string", "1" }, { "string", "12:00" }, { "string", "2026-12-03T09:00:00Z" },
    { "string", "+971501234567" }, { "string", "https://example.com" },
    { "integer", 1 }, { "number", 0.5 }, { "boolean", true }, { "boolean", false },
}

-- The order of a union's types.
local RANK = { boolean = 1, integer = 2, number = 3, string = 4 }

local function capital(s)
    return (s:gsub("^%l", string.upper):gsub("[_.](%w)", string.upper))
end

local function singular(s)
    return (s:gsub("ies$", "y"):gsub("([^s])s$", "%1"))
end

local function num(v)
    if v == 2 ^ 53 then return "2^53" end
    if math.type(v) == "float" and v == math.floor(v) and v < 1e15 and v > -1e15 then
        return format("%d", v)
    end
    return tostring(v)
end

local function literal_union(set)
    local words = {}
    for _, k in ipairs(sorted_keys(set)) do words[#words + 1] = format("%q", k) end
    return concat(words, "|")
end

local function join_doc(...)
    local parts = {}
    for i = 1, select("#", ...) do
        local p = select(i, ...)
        if p and p ~= "" then parts[#parts + 1] = p end
    end
    return concat(parts, ", ")
end

-- What a rule set checks outside its field table (a custom checker around
-- the object): class.field -> { type, doc }. Each must be used.
local OVERRIDES = {
    ["hamsa.CampaignRecipient.phoneNumber"] = { "string",
        "E.164; any non-empty string with ignoreE164Validation = true" },
}
local used = {}

local classes = {}          -- in order: { name =, doc =, fields = { {name, optional, type, doc} } }
local class_of = {}         -- checker or description -> class name
local taken = {}            -- class name -> checker

local type_of            -- forward

-- The class of an object checker (or description), made on first sight.
local function object_class(key, d, hint, doc, stem)
    if class_of[key] or class_of[d] then return class_of[key] or class_of[d] end
    local name = "hamsa." .. hint
    local n = 1
    while taken[name] do
        n = n + 1
        name = "hamsa." .. hint .. n
    end
    taken[name], class_of[key], class_of[d] = key, name, name   -- d: a shape that names itself
    local cls = { name = name, doc = doc, fields = {} }
    classes[#classes + 1] = cls
    local required = {}
    for _, k in ipairs(d.required or {}) do required[k] = true end
    stem = stem or hint
    local names = {}
    for k in pairs(d.fields) do names[k] = true end
    for k in pairs(required) do names[k] = true end
    for _, k in ipairs(sorted_keys(names)) do
        local check = d.fields[k]
        local ty, fdoc
        local over = OVERRIDES[name .. "." .. k]
        if over then
            used[name .. "." .. k] = true
            ty, fdoc = over[1], over[2]
        elseif check then
            ty, fdoc = type_of(check, stem .. capital(k))
        else
            fail(name .. "." .. k .. " is required but has no checker: add it to OVERRIDES")
        end
        fdoc = join_doc(UNITS[k], fdoc)
        cls.fields[#cls.fields + 1] = { name = k, optional = not required[k], type = ty, doc = fdoc }
    end
    return name
end

local function each(doc)
    if doc == "" or doc:find("^each ") then return doc end
    return "each " .. doc
end

local function wrap(ty)
    if ty:find("|", 1, true) then return "(" .. ty .. ")" end
    return ty
end

-- The LuaLS type of a checker (a function) or of a description (a table),
-- and its one-line doc; `hint` names a class made for it.
type_of = function(x, hint)
    local d = x
    if type(x) == "function" then
        if KNOWN[x] then return KNOWN[x][1], KNOWN[x][2] end
        d = structure[x] or describe[x]
    end
    local kind = d and d.kind
    if kind == "string" then return "string", ""
    elseif kind == "nonempty" then return "string", "non-empty"
    elseif kind == "boolean" then return "boolean", ""
    elseif kind == "number_positive" then return "number", "> 0"
    elseif kind == "scalar" then return "string|number|boolean", ""
    elseif kind == "integer_min" then return "integer", ">= " .. num(d.min)
    elseif kind == "integer_range" then return "integer", num(d.lo) .. " to " .. num(d.hi)
    elseif kind == "number_range" then return "number", num(d.lo) .. " to " .. num(d.hi)
    elseif kind == "enum" then return literal_union(d.set), ""
    elseif kind == "array" then
        local ty, doc = type_of(d.elem, singular(hint))
        return wrap(ty) .. "[]", join_doc(d.nonempty and "non-empty", each(doc))
    elseif kind == "object" then
        if next(d.fields) == nil and not (d.required and d.required[1]) then
            return "table<string, any>", "any JSON object"
        end
        return object_class(x, d, hint), ""
    elseif kind == "map" then
        local ty, doc = type_of(d.value, singular(hint))
        local key = d.keys and literal_union(d.keys) or "string"
        return "table<" .. key .. ", " .. ty .. ">", join_doc(d.null_ok and "a value may be hamsa.null", each(doc))
    elseif kind == "day_entry" then
        local ty = type_of(d.slot, hint)
        return ty .. "|" .. ty .. "[]", "one slot or a list of slots"
    elseif kind == "accept" then
        fail("a custom checker for " .. hint .. " has an acceptor but no structure (hamsa.validate.native)")
    end
    -- a custom checker: the object it checks first, else its probed type
    local rule = object_rule(x)
    if rule then return type_of(rule, hint) end
    local types, seen, probed = {}, {}, {}
    local function add(ty)
        if not seen[ty] then seen[ty] = true; types[#types + 1] = ty end
    end
    for _, s in ipairs(SAMPLES) do
        if x(s[2]) == nil then add(s[1]) end
    end
    if seen.number and seen.integer then
        for i, ty in ipairs(types) do if ty == "integer" then table.remove(types, i) break end end
    end
    for _, ty in ipairs(types) do probed[ty] = true end
    -- the described checkers it combines ("a value or a list of values")
    local combined = false
    for _, f in ipairs(function_upvalues(x, 1)) do
        if describe[f] and describe[f].kind ~= "accept" then
            local ty = type_of(f, hint)
            if not probed[ty] then combined = true end
            add(ty)
        end
    end
    if #types == 0 then fail("cannot tell the type of the custom checker for " .. hint) end
    sort(types, function(a, b)
        local ra, rb = RANK[a] or 9, RANK[b] or 9
        if ra ~= rb then return ra < rb end
        return a < b
    end)
    -- its doc: what it says to a value it refuses (a bad string first, when it takes strings)
    local doc = ""
    if not combined then
        for _, bad in ipairs(seen.string and { "\0", PROBE } or { PROBE }) do
            local _, tail = x(bad)
            if type(tail) == "string" then
                doc = tail:gsub("^must be ", "")
                break
            end
        end
    end
    return concat(types, "|"), doc
end

---------------------------------------------------------------------------
-- the route table: body and query classes, resource classes

local function stem_of(row)
    local parts = {}
    for p in row.resource:gmatch("[^.]+") do parts[#parts + 1] = p end
    local res = parts[#parts]
    local prefix = #parts > 1 and capital(parts[1]) or ""   -- "v2.agents": V2Agent
    return prefix .. capital(singular(res))
end

local resource_order, resource_rows = {}, {}
for _, row in ipairs(routes) do
    if not resource_rows[row.resource] then
        resource_order[#resource_order + 1] = row.resource
        resource_rows[row.resource] = {}
    end
    local rows = resource_rows[row.resource]
    rows[#rows + 1] = row
end

-- the body class, query class and argument list of each row
local signature = {}
for _, row in ipairs(routes) do
    local stem = stem_of(row)
    local sig = { args = {} }
    local ids = {}
    for id in row.path:gmatch("{(%w+)}") do ids[#ids + 1] = id end
    for _, id in ipairs(ids) do
        sig.args[#sig.args + 1] = { name = id, type = "string", doc = "the id (percent-encoded into the path)" }
    end
    local rule = row.validate and validate[row.validate]
    if row.validate and not rule then fail("no rule set " .. row.validate) end
    if row.body_args then
        local check = object_rule(rule)
        local d = describe[check]
        for _, name in ipairs(row.body_args) do
            local ty, doc = type_of(d.fields[name], stem .. capital(name))
            sig.args[#sig.args + 1] = { name = name, type = ty, doc = join_doc("sent as the body's " .. name, doc) }
        end
    end
    if row.body then
        local cls = "table"
        if rule then
            local check = object_rule(rule) or fail("no object rule behind " .. row.validate)
            cls = object_class(check, describe[check], stem .. capital(row.name) .. "Body",
                format("The body of `client.%s:%s` (%s %s), rule set `hamsa.validate.%s`.",
                    row.resource, row.name, row.method, row.path, row.validate), stem)
        end
        sig.args[#sig.args + 1] = { name = "body", type = cls, optional = row.body == "optional",
            doc = row.body == "optional" and "nil sends {}" or nil }
    end
    if row.query then
        local cls = "table<string, any>"
        if row.query_validate then
            local check = object_rule(validate[row.query_validate]) or fail("no object rule behind "
                .. row.query_validate)
            cls = object_class(check, describe[check], stem .. "ListQuery",
                format("The query of `client.%s:%s` (%s %s), rule set `hamsa.validate.%s`; other keys pass"
                    .. " as they are.", row.resource, row.name, row.method, row.path, row.query_validate), stem)
        end
        sig.args[#sig.args + 1] = { name = "query", type = cls, optional = true }
    end
    signature[row] = sig
end

---------------------------------------------------------------------------
-- hand-written docs: options, methods, error kinds

local OPTION_DOCS = {
    client = {
        api_key = "the API key; default os.getenv(\"HAMSA_API_KEY\")",
        base_url = "default os.getenv(\"HAMSA_BASE_URL\") or \"https://api.tryhamsa.com\"",
        timeout = "seconds, whole request, per attempt",
        connect_timeout = "seconds",
        max_retries = "retries of what cannot cause a duplicate side effect",
        headers = "extra request headers",
        user_agent = "default \"lua-hamsa/<version> (...)\"",
        ca_file = "CA bundle handed to libcurl",
        proxy = "proxy URL handed to libcurl",
        validate = "false sends bodies without the client-side checks; default true",
        max_connections = "connections per host",
        max_response_bytes = "larger responses fail with kind \"decode\"",
        stall_timeout = "seconds without a byte before a transfer counts as stalled",
        allow_insecure_http = "allow http:// to a host other than loopback",
        logger = "one line per attempt, retry and outcome",
        on_error = "called with every failure",
        max_request_bytes = "larger bodies are refused before sending",
        trace = "log libcurl's verbose output (redacted) through logger",
    },
    request = {
        timeout = "seconds, per attempt (overrides the client's)",
        connect_timeout = "seconds (overrides the client's)",
        max_retries = "overrides the client's",
        headers = "extra headers of this request",
        idempotency_key = "sent as Idempotency-Key; 1 to 255 characters",
        query = "query parameters (client:request; the resources take theirs as an argument)",
        on_done = "non-blocking: the method returns a hamsa.Request and this runs from poll/wait",
        stall_timeout = "seconds without a byte (overrides the client's)",
        dry_run = "validate and return the request that would be sent ({ method, url, headers, body })",
    },
    wait = {
        deadline = "seconds for the whole wait",
        interval = "the first gap between polls, seconds (gaps grow up to 15)",
        on_status = "each change of status",
    },
    dialer = {
        ledger = "SQLite file, or \"postgresql://...\"",
        campaign = "rows are keyed by (campaign, row id)",
        call = "the call's fixed fields (a call body without toNumber), with route = "
            .. "\"phone_number\"|\"twilio\"|\"start\"",
        concurrency = "calls in progress at once, until their final status",
        rate = "calls placed per second, at most",
        window = "calling hours (docs/dialer.md)",
        max_attempts = "attempts per row",
        redial = "call statuses that get another attempt; default { \"NO_ANSWER\", \"FAILED\" }",
        retry_after = "seconds before a redial",
        reconcile_after = "seconds before an unknown send is looked up",
        lease = "seconds a claimed row stays this process's",
        follow = "how calls are followed to their end (docs/dialer.md)",
        watch = "a webhook receiver whose call.ended events end calls at once",
        on_progress = "every progress_interval seconds",
        progress_interval = "seconds",
    },
}

-- The LuaLS types of options whose Lua type ("function", "table") says too little.
local OPTION_TYPES = {
    headers = "table<string, string|number>",
    query = "table<string, string|number|boolean|(string|number)[]>",
    logger = "fun(level: string, message: string)",
    on_error = "fun(err: hamsa.Error)",
    on_done = "fun(data: any, err: hamsa.Error|nil, response: hamsa.Response|nil)",
    on_status = "fun(record: table)",
    on_progress = "fun(status: table)",
    redial = "string[]",
    watch = "hamsa.Webhook|hamsa.WebhookServer",
}

local KINDS = {
    invalid = "rejected before sending (err.field names the field)",
    config = "no API key, a bad base URL, a ledger that cannot open",
    auth = "401/403, or a webhook with a wrong Authorization",
    not_found = "404",
    rate_limited = "429",
    api = "other 4xx, or a 2xx whose envelope says success = false",
    server = "5xx",
    timeout = "connect or total timeout, stalled transfer, a wait past its deadline",
    network = "refused, reset, DNS, TLS",
    decode = "a 2xx body that is not the expected JSON, or too large",
    cancelled = "cancel(), close(), or a closed client",
}

local RESULT = { "---@return table|nil data the envelope's data; a hamsa.Request with opts.on_done",
    "---@return hamsa.Response|hamsa.Error response_or_err" }

-- Methods of the classes not made from routes: class -> metatable, name ->
-- { params, returns, doc }. Every public function of each metatable must be here.
local METHODS = {
    { class = "hamsa.Client", mt = client_mod.Client, methods = {
        request = { doc = "The escape hatch for routes not wrapped yet: no validation, the same results.",
            params = { { "method", "string", "\"GET\", \"POST\", ..." },
                { "path", "string", "like \"/v1/voice-agents\"" },
                { "body", "table", nil, true }, { "opts", "hamsa.RequestOptions", nil, true } },
            returns = RESULT },
        poll = { doc = "Drives transfers and runs the callbacks of finished requests.",
            params = { { "max_wait", "number", "seconds it may wait; default 0", true } },
            returns = { "---@return integer pending requests whose on_done has not run yet" } },
        wait = { doc = "Drives transfers until nothing is in flight or `timeout` passes.",
            params = { { "timeout", "number", "seconds", true } },
            returns = { "---@return integer pending 0 when all are done" } },
        pending = { doc = "Number of requests in flight (whose on_done has not run yet).",
            returns = { "---@return integer" } },
        close = { doc = "Cancels everything in flight (each on_done runs at once, kind \"cancelled\")." },
        spawn = { doc = "Runs `fn(...)` as a task: its calls read as blocking but yield to the client's loop.",
            params = { { "fn", "fun(...)" }, { "...", "any" } }, returns = { "---@return hamsa.Task" } },
        run = { doc = "Drives the loop until every task and on_done request is done, or `timeout` passes.",
            params = { { "timeout", "number", "seconds", true } },
            returns = { "---@return integer tasks still running" } },
        watch = { doc = "Lets a webhook receiver's call.ended events end this client's conversation waits.",
            params = { { "receiver", "hamsa.Webhook|hamsa.WebhookServer" } }, returns = { "---@return hamsa.Client" } },
        sockets = { doc = "The sockets to watch in a host event loop.",
            returns = { "---@return table<integer, \"r\"|\"w\"|\"rw\">" } },
        timeout = { doc = "Seconds until `poll(0)` must run even if no socket is ready; nil when idle.",
            returns = { "---@return number|nil" } },
        pollfd = { doc = "One file descriptor, readable when the client has work (libcurl's sockets and a timer).",
            returns = { "---@return integer|nil fd", "---@return string|nil err" } },
        events = { doc = "The events to watch on pollfd() (cqueues protocol).", returns = { "---@return \"r\"" } },
    } },
    { class = "hamsa.Request", mt = client_mod.Request, methods = {
        cancel = { doc = "Cancels the request; its on_done runs from the next poll/wait, kind \"cancelled\".",
            returns = { "---@return boolean was_in_flight" } },
        done = { doc = "Whether the request has finished (its on_done may not have run yet).",
            returns = { "---@return boolean" } },
    } },
    { class = "hamsa.Waiter", mt = waiter.Waiter, methods = {
        cancel = { doc = "Stops the wait; its on_done runs from the next poll/wait, kind \"cancelled\".",
            returns = { "---@return boolean was_waiting" } },
        done = { doc = "Whether the wait has its result.", returns = { "---@return boolean" } },
    } },
    { class = "hamsa.Webhook", mt = webhook.Webhook, methods = {
        parse = { doc = "Checks and decodes one delivery (never raises).",
            params = { { "headers", "table<string, string|string[]>" }, { "body", "string", "the raw body" } },
            returns = { "---@return hamsa.WebhookEvent|nil event", "---@return hamsa.Error|nil err" } },
        respond = { doc = "Answers one delivery, running `on_event(event)` for new events only.",
            params = { { "headers", "table<string, string|string[]>" }, { "body", "string" },
                { "on_event", "fun(event: hamsa.WebhookEvent)", nil, true } },
            returns = { "---@return integer status 200, 400, 401 or 413", "---@return string reply JSON",
                "---@return any handler_err what on_event raised" } },
        answer = { doc = "The answer to one delivery without running anything (answer first, work after).",
            params = { { "headers", "table<string, string|string[]>" }, { "body", "string" } },
            returns = { "---@return integer status", "---@return string reply",
                "---@return hamsa.WebhookEvent|nil event nil for a duplicate or an error" } },
        dispatch = { doc = "Runs the listeners, then `on_event`, each under pcall.",
            params = { { "event", "hamsa.WebhookEvent" }, { "on_event", "fun(event: hamsa.WebhookEvent)", nil, true } },
            returns = { "---@return boolean ok", "---@return any err" } },
        watch = { doc = "Calls `fn(event)` for every new event accepted; returns the function that stops it.",
            params = { { "fn", "fun(event: hamsa.WebhookEvent)" } }, returns = { "---@return fun()" } },
    } },
    { class = "hamsa.Dialer", mt = dialer.Dialer, methods = {
        add = { doc = "Adds rows; a known id is a no-op.",
            params = { { "rows", "hamsa.DialerRow[]" } },
            returns = { "---@return integer|nil added", "---@return hamsa.Error|nil err" } },
        status = { doc = "Counts per state, plus total, final, calls_per_minute, eta.",
            returns = { "---@return table<string, number>" } },
        rows = { doc = "Every row of the campaign, in the order they were added.", returns = { "---@return table[]" } },
        export = { doc = "Writes the rows as CSV to `path`.", params = { { "path", "string" } },
            returns = { "---@return true|nil ok", "---@return hamsa.Error|nil err" } },
        run = { doc = "Runs until every row is final (opts.until_idle, opts.deadline).",
            params = { { "opts", "{ until_idle?: boolean, deadline?: number }", nil, true } },
            returns = { "---@return table|nil status", "---@return hamsa.Error|nil err" } },
        close = { doc = "Releases unsent claimed rows and closes the ledger. Idempotent.",
            returns = { "---@return true" } },
    } },
}

---------------------------------------------------------------------------
-- writing

local function emit_params(params)
    local names = {}
    for _, p in ipairs(params or {}) do
        local name, ty, doc, optional = p[1], p[2], p[3], p[4]
        emit("---@param ", name, optional and "?" or "", " ", ty, doc and (" # " .. doc) or "")
        names[#names + 1] = name
    end
    return concat(names, ", ")
end

local function emit_method(class_var, name, m)
    emit("")
    emit("--- ", m.doc)
    local args = emit_params(m.params)
    for _, r in ipairs(m.returns or {}) do emit(r) end
    emit("function ", class_var, ":", name, "(", args, ") end")
end

local function emit_options(class, doc, spec, docs, defaults, bounds, required)
    emit("")
    emit("--- ", doc)
    emit("---@class ", class)
    for _, k in ipairs(sorted_keys(spec)) do
        local d = docs[k] or fail("no doc for option " .. k .. " of " .. class .. " (OPTION_DOCS)")
        local ty = OPTION_TYPES[k] or spec[k]
        local b = bounds and bounds[k]
        if b and b[3] then ty = "integer" end
        local extra = {}
        if defaults and defaults[k] ~= nil then extra[#extra + 1] = "default " .. num(defaults[k]) end
        if b then extra[#extra + 1] = num(b[1]) .. " to " .. num(b[2]) end
        emit("---@field ", k, (required and required[k]) and " " or "? ", ty, " # ", join_doc(d, concat(extra, ", ")))
    end
    for k in pairs(docs) do
        if not spec[k] then fail("OPTION_DOCS documents " .. k .. ", which " .. class .. " does not take") end
    end
end

emit("---@meta")
emit("-- LuaLS definitions of the hamsa library (github: hamsa; README \"Editor types\").")
emit("-- Generated by scripts/gen-types.lua (`make types`) from hamsa.routes, the rule")
emit("-- sets of hamsa.validate and the option lists of hamsa.config: do not edit;")
emit("-- spec/92-types_spec.lua fails when this file is not what the generator writes.")

-- the module ---------------------------------------------------------------
emit("")
emit("--- `require \"hamsa\"`: the module.")
emit("---@class hamsa")
emit("---@field _VERSION string # \"x.y.z\", the rockspec's version")
emit("---@field null lightuserdata # JSON null (the same value as cjson.null)")
emit("---@field json hamsa.json # the codec")
emit("---@field TERMINAL table<integer|string, string|boolean> # ",
    "the final call statuses, a list and a set: ", concat(waiter.TERMINAL, ", "))
emit("---@field webhook hamsa.webhook # receiving Hamsa's webhooks")
emit("---@field dialer hamsa.dialer # a list of calls, each placed exactly once")
emit("local hamsa = {}")
emit("")
emit("--- Makes a client; raises (error) only on a malformed options table.")
emit("---@param opts? hamsa.ClientOptions")
emit("---@return hamsa.Client")
emit("function hamsa.new(opts) end")
emit("")
emit("--- Marks `t` (default a new table) to encode as a JSON array: `{}` becomes `[]`.")
emit("---@generic T: table")
emit("---@param t? T")
emit("---@return T")
emit("function hamsa.array(t) end")
emit("")
emit("--- Marks `t` (default a new table) to encode as a JSON object: `{}` stays `{}`.")
emit("---@generic T: table")
emit("---@param t? T")
emit("---@return T")
emit("function hamsa.object(t) end")
emit("")
emit("--- Whether `v` is an error value returned by this library.")
emit("---@param v any")
emit("---@return boolean")
emit("function hamsa.is_error(v) end")
emit("")
emit("---@class hamsa.json")
emit("---@field null lightuserdata")
emit("hamsa.json = {}")
emit("")
emit("---@param v any")
emit("---@return string|nil text")
emit("---@return string|nil err")
emit("function hamsa.json.encode(v) end")
emit("")
emit("---@param s string")
emit("---@return any value")
emit("---@return string|nil err")
emit("function hamsa.json.decode(s) end")
emit("")
emit("---@generic T: table")
emit("---@param t? T")
emit("---@return T")
emit("function hamsa.json.array(t) end")
emit("")
emit("---@generic T: table")
emit("---@param t? T")
emit("---@return T")
emit("function hamsa.json.object(t) end")

-- results and errors ---------------------------------------------------------
emit("")
emit("--- What a request's success carries besides its data.")
emit("---@class hamsa.Response")
emit("---@field status integer # the HTTP status")
emit("---@field headers table<string, string> # lower-case names")
emit("---@field body string # the raw body")
emit("---@field attempts integer")
emit("---@field dry_run? boolean # true for opts.dry_run (data is then the request)")
emit("")
emit("--- The kinds of hamsa.Error:")
for _, k in ipairs(sorted_keys(KINDS)) do emit("--- * `", k, "`: ", KINDS[k]) end
local kind_words = {}
for _, k in ipairs(sorted_keys(KINDS)) do kind_words[#kind_words + 1] = format("%q", k) end
emit("---@alias hamsa.ErrorKind ", concat(kind_words, "|"))
emit("")
emit("--- A failure: `nil, err`. `tostring(err)` reads \"hamsa: <kind>: <message>\".")
emit("---@class hamsa.Error")
emit("---@field kind hamsa.ErrorKind")
emit("---@field message string # one human sentence, never the API key")
emit("---@field status integer|nil # HTTP status, nil when no response came")
emit("---@field code string|nil # the API's messageKey, libcurl's error name, WAIT_DEADLINE, ...")
emit("---@field field string|nil # for \"invalid\": the offending field, e.g. \"agentDetails.params.name\"")
emit("---@field body any # the decoded error body, when there was one")
emit("---@field retryable boolean # whether sending the same request again could succeed")
emit("---@field last table|nil # for a wait past its deadline: the last record seen")

-- options ---------------------------------------------------------------------
emit_options("hamsa.ClientOptions", "The options of hamsa.new (all optional; an unknown name raises).",
    config.CLIENT_OPTIONS, OPTION_DOCS.client, config.DEFAULTS, config.BOUNDS)
emit_options("hamsa.RequestOptions", "Per-request options: every method's last argument.",
    config.REQUEST_OPTIONS, OPTION_DOCS.request, nil, config.BOUNDS)
local wait_options = require("hamsa.waiter").WAIT_OPTIONS
    or fail("hamsa.waiter's WAIT_OPTIONS not found")
local wait_docs = {}
for k, v in pairs(OPTION_DOCS.wait) do wait_docs[k] = v end
for k, v in pairs(OPTION_DOCS.request) do if wait_options[k] then wait_docs[k] = v end end
emit_options("hamsa.WaitOptions", "The options of `wait` (the request options but query and dry_run, and its own).",
    wait_options, wait_docs, { deadline = waiter.DEFAULT_DEADLINE, interval = waiter.DEFAULT_INTERVAL }, config.BOUNDS)

-- the client and its resources -------------------------------------------------------
emit("")
emit("--- A client (`hamsa.new`): the resources, and the loop of non-blocking use.")
emit("---@class hamsa.Client")
local nested = {}
for _, res in ipairs(resource_order) do
    local head, rest = res:match("^([^.]+)%.(.+)$")
    if head then
        nested[head] = nested[head] or {}
        nested[head][#nested[head] + 1] = rest
    else
        emit("---@field ", res, " hamsa.", stem_of(resource_rows[res][1]), "Resource")
    end
end
for _, head in ipairs(sorted_keys(nested)) do
    emit("---@field ", head, " hamsa.", capital(head), "Resources")
end
emit("local Client = {}")
for _, head in ipairs(sorted_keys(nested)) do
    emit("")
    emit("---@class hamsa.", capital(head), "Resources")
    for _, rest in ipairs(nested[head]) do
        emit("---@field ", rest, " hamsa.", stem_of(resource_rows[head .. "." .. rest][1]), "Resource")
    end
end

-- the methods of METHODS, checked against their metatables both ways
local function check_methods(entry)
    for name, v in pairs(entry.mt) do
        if type(v) == "function" and not name:find("^_") and not entry.methods[name] then
            fail(entry.class .. ":" .. name .. " is not described (METHODS in scripts/gen-types.lua)")
        end
    end
    for name in pairs(entry.methods) do
        local where = entry.class .. ":" .. name
        if type(entry.mt[name]) ~= "function" then
            fail(where .. " is described in METHODS but the class has no such method")
        end
    end
end

for _, entry in ipairs(METHODS) do
    if entry.class == "hamsa.Client" then
        check_methods(entry)
        for _, name in ipairs(sorted_keys(entry.methods)) do emit_method("Client", name, entry.methods[name]) end
    end
end

for _, res in ipairs(resource_order) do
    local rows = resource_rows[res]
    local cls = "hamsa." .. stem_of(rows[1]) .. "Resource"
    local var = stem_of(rows[1]) .. "Resource"
    emit("")
    emit("--- `client.", res, "`")
    emit("---@class ", cls)
    emit("local ", var, " = {}")
    local class = resources.CLASSES[res]
    local made = {}
    for _, row in ipairs(rows) do
        made[row.name] = true
        local sig = signature[row]
        local params = {}
        for _, a in ipairs(sig.args) do params[#params + 1] = { a.name, a.type, a.doc, a.optional } end
        params[#params + 1] = { "opts", "hamsa.RequestOptions", nil, true }
        emit_method(var, row.name, { doc = row.method .. " " .. row.path, params = params, returns = RESULT })
    end
    if class.each then
        made.each = true
        local list = rows[1]
        for _, row in ipairs(rows) do if row.name == "list" then list = row end end
        local q = signature[list].args[#signature[list].args]
        emit_method(var, "each", {
            doc = "Every item of every page (one request per page); `false, err` once on a failure.",
            params = { { "query", q.type, nil, true }, { "opts", "hamsa.RequestOptions", nil, true } },
            returns = { "---@return fun(): any, hamsa.Error|nil" } })
    end
    if class.wait then
        made.wait = true
        local spec = waiter.RESOURCES[res]
        local finals = {}
        for _, k in ipairs(sorted_keys(spec.final)) do
            if type(k) == "string" then finals[#finals + 1] = k end
        end
        emit_method(var, "wait", { doc = "Polls `get` until a final status (" .. concat(finals, ", ")
                .. ") and returns the last record.",
            params = { { spec.id, "string" }, { "opts", "hamsa.WaitOptions", nil, true } },
            returns = RESULT })
    end
    for name, v in pairs(class) do
        if type(v) == "function" and not name:find("^_") and not made[name] then
            fail("client." .. res .. ":" .. name .. " comes from no route, each or wait")
        end
    end
end

-- request, task, waiter ----------------------------------------------------------
emit("")
emit("--- The handle a method returns with opts.on_done.")
emit("---@class hamsa.Request")
emit("local Request = {}")
emit("")
emit("--- The handle `wait` returns with opts.on_done.")
emit("---@class hamsa.Waiter")
emit("local Waiter = {}")
for _, entry in ipairs(METHODS) do
    local var = entry.class:match("^hamsa%.(.*)$")
    if var == "Request" or var == "Waiter" then
        check_methods(entry)
        for _, name in ipairs(sorted_keys(entry.methods)) do emit_method(var, name, entry.methods[name]) end
    end
end
emit("")
emit("--- A task of client:spawn.")
emit("---@class hamsa.Task")
emit("---@field done boolean")
emit("---@field results table|nil # what fn returned, packed (n = count)")
emit("---@field error any # what fn raised")

-- bodies and queries ---------------------------------------------------------------
emit("")
emit("-- Bodies and queries: fields in the API's own names; other keys pass unchecked,")
emit("-- and an optional field also takes hamsa.null.")
for _, cls in ipairs(classes) do
    emit("")
    if cls.doc then emit("--- ", cls.doc) end
    emit("---@class ", cls.name)
    for _, f in ipairs(cls.fields) do
        emit("---@field ", f.name, f.optional and "?" or "", " ", f.type, f.doc ~= "" and (" # " .. f.doc) or "")
    end
end

-- webhooks --------------------------------------------------------------------------
emit("")
emit("--- `hamsa.webhook`")
emit("---@class hamsa.webhook")
emit("---@field EVENT_TYPES table<integer|string, string|boolean> # a list and a set: ",
    concat(webhook.EVENT_TYPES, ", "))
emit("---@field null lightuserdata")
emit("local webhook = {}")
emit("")
emit("---@class hamsa.WebhookOptions")
emit("---@field auth_key string # as sent in webhookAuth")
emit("---@field auth_secret string")
emit("---@field dedupe_seconds? number # default 600")
emit("---@field max_body_bytes? integer # default 1048576")
emit("---@field store? { seen: fun(self, key: string, ttl: number): boolean }")
emit("---@field now? fun(): number # the default store's clock")
emit("")
emit("--- Makes a receiver; raises at the caller's line on misuse.")
emit("---@param opts hamsa.WebhookOptions")
emit("---@return hamsa.Webhook")
emit("function webhook.new(opts) end")
emit("")
emit("--- Serves webhooks on LuaSocket: opts are new's plus host, port, on_event.")
emit("---@param opts hamsa.WebhookOptions|{ host?: string, port?: integer, on_event?: fun(event: hamsa.WebhookEvent) }")
emit("---@return hamsa.WebhookServer")
emit("function webhook.serve(opts) end")
emit("")
emit("---@class hamsa.WebhookServer")
emit("")
emit("--- A decoded delivery.")
emit("---@class hamsa.WebhookEvent")
emit("---@field eventType string")
emit("---@field callId string")
emit("---@field timestamp any")
emit("---@field projectId any")
emit("---@field agentId any")
emit("---@field agentName any")
emit("---@field data any")
emit("---@field known boolean # eventType is one of EVENT_TYPES")
emit("---@field duplicate boolean # seen before within dedupe_seconds")
emit("---@field conversation? table # for call.ended: conversationId, conversationRecording, transcription,"
    .. " outcomeResult")
emit("")
emit("---@class hamsa.Webhook")
emit("local Webhook = {}")
for _, entry in ipairs(METHODS) do
    if entry.class == "hamsa.Webhook" then
        check_methods(entry)
        for _, name in ipairs(sorted_keys(entry.methods)) do emit_method("Webhook", name, entry.methods[name]) end
    end
end

-- the dialer ------------------------------------------------------------------------
emit("")
emit("--- `hamsa.dialer`")
emit("---@class hamsa.dialer")
local routes_words = {}
for _, k in ipairs(sorted_keys(dialer.ROUTES)) do routes_words[#routes_words + 1] = k end
emit("---@field ROUTES table<string, string> # the call routes (", concat(routes_words, ", "),
    ") and the field naming the number calling")
emit("---@field FINAL string[] # ", concat(dialer.FINAL, ", "))
emit("---@field STATES string[] # ", concat(dialer.STATES, ", "))
emit("local dialer = {}")
local dialer_options = dialer.OPTIONS or fail("hamsa.dialer.OPTIONS not found")
emit_options("hamsa.DialerOptions", "The options of hamsa.dialer.new (docs/dialer.md).", dialer_options,
    OPTION_DOCS.dialer, dialer.DEFAULTS, dialer.BOUNDS,
    { campaign = true, call = true })   -- hamsa.dialer raises without them
emit("")
emit("---@class hamsa.DialerRow")
emit("---@field id string")
emit("---@field toNumber string # E.164")
emit("---@field params? table<string, string|number|boolean>")
emit("")
emit("--- Makes a dialer on `client`; raises on misuse.")
emit("---@param client hamsa.Client")
emit("---@param opts hamsa.DialerOptions")
emit("---@return hamsa.Dialer|nil dialer")
emit("---@return hamsa.Error|nil err the ledger could not be opened")
emit("function dialer.new(client, opts) end")
emit("")
emit("---@class hamsa.Dialer")
emit("local Dialer = {}")
for _, entry in ipairs(METHODS) do
    if entry.class == "hamsa.Dialer" then
        check_methods(entry)
        for _, name in ipairs(sorted_keys(entry.methods)) do emit_method("Dialer", name, entry.methods[name]) end
    end
end

for k in pairs(OVERRIDES) do
    if not used[k] then fail("OVERRIDES names " .. k .. ", which no class has") end
end

emit("")
emit("return hamsa")

local text = concat(out, "\n") .. "\n"
local path = arg[1]
if path then
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
else
    io.write(text)
end
