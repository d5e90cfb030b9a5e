--- hamsa: a Lua client for Hamsa's voice-agent API.
--
--     local hamsa = require "hamsa"
--     local client = hamsa.new { api_key = "..." }
--     local agent, err = client.agents:create { agentName = "Sara", lang = "ar" }
--
-- This module is the face of the library; the work happens in
-- `hamsa.client` (the Client and Request API, over `hamsa.config`,
-- `hamsa.request`, `hamsa.loop`, `hamsa.response`, `hamsa.tasks`),
-- `hamsa.resources` (the methods of the routes in `hamsa.routes`),
-- `hamsa.validate`, `hamsa.prepare`, `hamsa.errors`, `hamsa.retry`, and the
-- C core `hamsa.core` (libcurl engine and JSON codec). docs/architecture.md
-- lists every file and what it owns.
-- @module hamsa
local core = require "hamsa.core"
local client = require "hamsa.client"
local resources = require "hamsa.resources"
local errors = require "hamsa.errors"

local json = core.json

local M = {}

--- The library version, "x.y.z" (the rockspec carries the same).
M._VERSION = core._VERSION

--- JSON null: the same value as `cjson.null` (a NULL light userdata).
M.null = json.null

--- Marks `t` (default a new table) to encode as a JSON array: `{}` becomes `[]`.
-- @function array
M.array = json.array

--- Marks `t` (default a new table) to encode as a JSON object: `{}` stays `{}`.
-- @function object
M.object = json.object

--- The codec: `encode(v)` → string | nil, err; `decode(s)` → value | nil, err.
M.json = {
    encode = json.encode,
    decode = json.decode,
    null = json.null,
    array = json.array,
    object = json.object,
}

--- Makes a client; raises only on a malformed options table.
-- @tparam[opt] table opts see README "Options"
-- @treturn hamsa.client
function M.new(opts)
    return resources.attach(client.new(opts, 3))
end

--- Whether `v` is an error value returned by this library.
M.is_error = errors.is

--- The final call statuses, which end `client.conversations:wait`:
-- `TERMINAL[1..5]` are "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED",
-- "TERMINATED", and `TERMINAL[status]` is true for each (a list and a set;
-- a copy: changing it changes no wait). See hamsa.waiter.
M.TERMINAL = require("hamsa.waiter").TERMINAL

--- Receiving Hamsa's webhooks: `hamsa.webhook.new(opts)` (parse, respond,
-- watch) and `hamsa.webhook.serve(opts)` (LuaSocket, loaded only when
-- called). See hamsa.webhook.
M.webhook = require("hamsa.webhook")

--- A list of calls, each placed exactly once: `hamsa.dialer.new(client,
-- opts)` (a SQLite or PostgreSQL ledger, loaded only when a dialer opens
-- one). See hamsa.dialer and docs/dialer.md.
M.dialer = require("hamsa.dialer")

return M
