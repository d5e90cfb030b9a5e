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
--
-- Every request method returns `data, response` on success and `nil, err`
-- on failure (`err` a `hamsa.errors` value); with `opts.on_done` it returns
-- a `hamsa.client.Request` handle at once instead. Misuse (a body that is
-- not a table, an unknown option) raises at the caller's line.
-- @module hamsa
local core = require "hamsa.core"
local client = require "hamsa.client"
local resources = require "hamsa.resources"
local errors = require "hamsa.errors"

local json = core.json

local M = {}

--- The library version, "x.y.z" (the rockspec carries the same).
-- @usage print(hamsa._VERSION)   --> 0.2.0
M._VERSION = core._VERSION

--- JSON null: the same value as `cjson.null` (a NULL light userdata).
-- @usage client.agents:update(id, { outcome = hamsa.null })   -- sends "outcome": null
M.null = json.null

--- Marks `t` (default a new table) to encode as a JSON array: `{}` becomes `[]`.
-- @function array
-- @tparam[opt] table t the table to mark (default a new one)
-- @treturn table `t`
-- @usage hamsa.json.encode({ pokeMessages = hamsa.array() })   --> {"pokeMessages":[]}
M.array = json.array

--- Marks `t` (default a new table) to encode as a JSON object: `{}` stays `{}`.
-- @function object
-- @tparam[opt] table t the table to mark (default a new one)
-- @treturn table `t`
-- @usage hamsa.json.encode({ params = hamsa.object() })   --> {"params":{}}
M.object = json.object

--- The codec the client uses, also usable on its own (README, "JSON"):
-- `json.encode(v)` gives a string or `nil, err`; `json.decode(s)` a value or
-- `nil, err` (with the byte offset). Integers stay exact; decoded arrays
-- keep their mark, so `decode("[]")` encodes back as `[]`. It also holds
-- `null`, `array` and `object`, the same values as above.
-- @table json
-- @usage local t = assert(hamsa.json.decode('{"silenceThreshold": 800}'))
-- print(t.silenceThreshold, hamsa.json.encode(t))   --> 800  {"silenceThreshold":800}
M.json = {
    encode = json.encode,
    decode = json.decode,
    null = json.null,
    array = json.array,
    object = json.object,
}

--- Encodes a Lua value as JSON text: RFC 8259, integers exact across the
-- int64 range, floats in the shortest form that reads back identical.
-- @function json.encode
-- @param v a table (arrays and objects; `hamsa.array`/`hamsa.object` say
--   what an empty one is), string, number, boolean or `hamsa.null`
-- @treturn[1] string the JSON text
-- @return[2] nil
-- @treturn[2] string err: why it cannot be encoded (NaN or an infinity, a
--   cycle, a function, invalid UTF-8, a mixed or sparse table, nesting
--   deeper than 1000)
-- @usage print(hamsa.json.encode({ silenceThreshold = 800, pokeMessages = hamsa.array() }))
-- --> {"silenceThreshold":800,"pokeMessages":[]}

--- Decodes JSON text: integers as Lua integers (5.3+), `null` as
-- `hamsa.null`, arrays keeping their array mark.
-- @function json.decode
-- @tparam string s the JSON text
-- @return[1] the value
-- @return[2] nil
-- @treturn[2] string err: what is wrong, with the byte offset
-- @usage local value, err = hamsa.json.decode('{"a": [1, 2, null]}')
-- assert(value.a[3] == hamsa.null)

--- Makes a client; raises only on a malformed options table.
-- A client holds one libcurl multi handle (kept-alive connections) and the
-- resources: `agents`, `v2.agents`, `calls`, `conversations`,
-- `phone_numbers`, `campaigns` and `knowledge_base` (`hamsa.resources`).
-- @tparam[opt] table opts the client options (README, "Options"): `api_key`
--   (default `HAMSA_API_KEY`), `base_url` (default `HAMSA_BASE_URL` or
--   `https://api.tryhamsa.com`), `timeout` (30 s), `connect_timeout` (10 s),
--   `max_retries` (2), `headers`, `user_agent`, `ca_file`, `proxy`,
--   `validate` (true), `logger`, `on_error`, ...
-- @treturn hamsa.client.Client the client
-- @raise on an unknown option name or a value of the wrong type
-- @usage local client = hamsa.new { api_key = os.getenv("HAMSA_API_KEY"), timeout = 10 }
-- local agent, err = client.agents:create { agentName = "Sara", lang = "ar" }
-- if not agent then error(tostring(err)) end
function M.new(opts)
    return resources.attach(client.new(opts, 3))
end

--- Whether `v` is an error value returned by this library.
-- @function is_error
-- @param v any value
-- @treturn boolean
-- @usage local ok, err = client.agents:get(id)
-- if hamsa.is_error(err) and err.kind == "not_found" then ... end
M.is_error = errors.is

--- The final call statuses, which end `client.conversations:wait`:
-- `TERMINAL[1..5]` are "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED",
-- "TERMINATED", and `TERMINAL[status]` is true for each (a list and a set;
-- a copy: changing it changes no wait). See hamsa.waiter.
-- @table TERMINAL
-- @usage if hamsa.TERMINAL[conversation.status] then print("ended") end
M.TERMINAL = require("hamsa.waiter").TERMINAL

--- Receiving Hamsa's webhooks: `hamsa.webhook.new(opts)` (parse, respond,
-- watch) and `hamsa.webhook.serve(opts)` (LuaSocket, loaded only when
-- called). See `hamsa.webhook`.
-- @table webhook
-- @usage local wh = hamsa.webhook.new { auth_key = "Token", auth_secret = "s3cret" }
M.webhook = require("hamsa.webhook")

--- A list of calls, each placed exactly once: `hamsa.dialer.new(client,
-- opts)` (a SQLite or PostgreSQL ledger, loaded only when a dialer opens
-- one). See `hamsa.dialer` and docs/dialer.md.
-- @table dialer
-- @usage local d = hamsa.dialer.new(client, { campaign = "spring", call = { ... } })
M.dialer = require("hamsa.dialer")

return M
