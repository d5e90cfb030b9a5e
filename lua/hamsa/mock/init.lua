--- A mock of Hamsa's voice-agent HTTP API, for specs, demos and examples.
--
-- One process, no threads: every connection runs in its own coroutine and one
-- `socket.select` loop drives them all, with timers for delays, so a request
-- that sleeps (latency, a `delay` fault, a `drip`) never holds up the others.
-- HTTP/1.1 with keep-alive; records live in memory.
--
--     local mock = require("hamsa.mock")
--     local srv = assert(mock.new{ port = 0, api_key = "test-key" })
--     print(srv:url())   --> http://127.0.0.1:40123
--     srv:run()          -- until POST /__mock/shutdown
--     srv:close()
--
-- API routes (need `Authorization: Token <api_key>`, as in docs/wire.md):
-- every row of `hamsa.routes` (hamsa.mock.api: agents v1 and v2, calls,
-- conversations, phone numbers, campaigns, knowledge base).
--
-- Calls play out on the mock's clock (hamsa.mock.playout): PENDING,
-- IN_PROGRESS after a quarter of `call_seconds`, then final at
-- `call_seconds`, by the last four digits of the number called: 4001
-- NO_ANSWER, 4002 FAILED, 4003 FORWARDED, 4004 TERMINATED, any other
-- COMPLETED. Campaigns (hamsa.mock.campaigns) and knowledge-base items
-- (hamsa.mock.knowledge_base) play out too.
--
-- Control routes (no auth, never logged):
-- `GET /__mock/requests` (every API request so far: `{method, path, query,
-- headers, body}`), `DELETE /__mock/requests`, `POST /__mock/faults` (one
-- fault or a list, queued FIFO), `GET /__mock/faults` (pending ones),
-- `DELETE /__mock/faults`, `GET /__mock/stats` (`requests`, `inflight`,
-- `max_inflight`: API requests answered at once, reset with the log;
-- `connections` open now; since start, `timeouts` (connections closed by a
-- timeout below), `evicted` and `rejected` (see `max_connections`)),
-- `GET /__mock/clock` (`{ now, speed, frozen }`), `POST /__mock/clock`
-- (any of `speed`, `advance`, `freeze`, `reset`: hamsa.mock.clock; answers
-- as GET), `POST /__mock/seed` (`{ agents = N, ... }`: hamsa.mock.seed),
-- `POST /__mock/webhooks` (`{ repeat = N }`), `GET /__mock/webhooks` (the
-- webhook deliveries made: hamsa.mock.webhooks), `DELETE /__mock/webhooks`,
-- `GET /__mock/calls` (every call placed, in order: `{ id, toNumber,
-- fromNumber, voiceAgentId, at }`, for specs that count calls per number),
-- `POST /__mock/reset` (records, clock, log, faults and webhooks),
-- `POST /__mock/shutdown` (answers, then `run` returns).
--
-- The log holds `path`, `query`, `body` and header values as they came
-- when they are valid UTF-8. One that is not (JSON cannot carry it) is
-- logged with each bad byte as U+FFFD, its exact bytes in base64 next to it
-- and a flag: `body_base64` and `body_invalid_utf8 = true` (likewise
-- `path_…`, `query_…`); `headers_base64` (an object holding only such
-- headers) and `headers_invalid_utf8 = true`.
--
-- Limits, so that a slow or hostile client cannot starve the others (all
-- options of `new`, and flags of bin/hamsa-mock):
-- `header_timeout` (10 s): a new connection must deliver its whole request
-- head (request line and headers) this soon after it opens; on a kept-alive
-- one, this soon after the request's first byte. Late: 408, then close.
-- `idle_timeout` (30 s): a kept-alive connection with no request begun is
-- closed (without an answer) after this long. `body_timeout` (30 s): the
-- whole body must arrive this soon after the head. `max_connections` (900,
-- at most 1000: select() cannot watch descriptors >= 1024): at the bound, or
-- when the process runs out of descriptors, a new connection takes the slot
-- of the one that has waited longest for a request (`evicted`: closed
-- without an answer); connections being answered are never evicted, and
-- when all are, new ones wait in the listen queue. A head is at most 64 KiB
-- (a line 16 KiB, 100 headers: else 414 or 431), a body 16 MiB (413).
-- A body that the API routes store must also encode again: deeper than 997
-- levels, or a number beyond the double range (1e999), is a 400.
--
-- A fault applies to the next request whose raw path starts with `path`
-- (default: any) and, if given, whose method is `method`; it is used `times`
-- times (default 1). The request is logged all the same. Fields:
-- `status` and/or `body` replace the answer (the route does not run; the
-- default body is an error envelope named after the status), `content_type`,
-- `headers` (object, added or replaced), `delay` (seconds before answering),
-- `action`: `"reset"` (close with a TCP RST, no answer), `"close"` (close
-- cleanly, no answer), `"close_mid_body"` (a Content-Length larger than the
-- bytes sent, then close), `"drip"` (one byte every `interval` seconds,
-- default 0.1), `"hang"` (never answer; keep the socket until the client leaves),
-- `"reset_mid_body"` (half the body, then a TCP RST), `"raw"` (send the
-- fault's `raw` string as the whole answer, byte for byte, then close: for
-- malformed responses). `pad` (bytes) appends
-- that many spaces to the body, for answers too big to queue as a fault.
-- `after = true` runs the route first, so the request takes effect (a call
-- is placed) and only then is its answer delayed, cut or replaced: the
-- lost answer that a client cannot tell from a lost request.
-- Each logged request also carries `at`, the server's clock when it arrived.
--
-- The modules under it, one concern each: hamsa.mock.server (connections,
-- scheduler, Server methods), .wire (HTTP/1.1), .response, .api (routes,
-- auth, state), one per kind of record with its handlers (.agents, .calls,
-- .conversations, .phone_numbers, .campaigns, .knowledge_base), .playout
-- (a call over time), .clock, .store, .handler (what handlers share),
-- .seed, .faults, .control (/__mock/* and the log), .text, .webhooks
-- (the webhooks calls send, from the scheduler).
--
-- @module hamsa.mock
-- @license MIT

local socket = require("socket")
local server = require("hamsa.mock.server")

local format = string.format
local error, pairs, tonumber, tostring, type = error, pairs, tonumber, tostring, type

local DEFAULT_MAX_CONNECTIONS = 900  -- select() cannot watch descriptors >= FD_SETSIZE (1024)
local SETSIZE = socket._SETSIZE or 1024
local DEFAULTS = { host = "127.0.0.1", port = 0, api_key = "test-key", latency = 0,
                   max_connections = DEFAULT_MAX_CONNECTIONS, backlog = 1024,
                   header_timeout = 10, idle_timeout = 30, body_timeout = 30, call_seconds = 2 }
local TYPES = { host = "string", port = "number", api_key = "string", latency = "number",
                max_connections = "number", backlog = "number", header_timeout = "number",
                idle_timeout = "number", body_timeout = "number", call_seconds = "number" }

local M = {}

-- The options with their defaults; misuse raises (at the caller of new).
local function settings(opts)
    if type(opts) ~= "table" then error("hamsa.mock.new: opts must be a table", 3) end
    for k, v in pairs(opts) do
        if not TYPES[k] then error("hamsa.mock.new: unknown option '" .. tostring(k) .. "'", 3) end
        if type(v) ~= TYPES[k] then error("hamsa.mock.new: option '" .. k .. "' must be a " .. TYPES[k], 3) end
    end
    local s = {}
    for k, v in pairs(DEFAULTS) do
        if opts[k] == nil then s[k] = v else s[k] = opts[k] end
    end
    if s.port < 0 or s.port > 65535 or s.port % 1 ~= 0 then error("hamsa.mock.new: bad port", 3) end
    if s.api_key == "" then error("hamsa.mock.new: api_key must not be empty", 3) end
    if s.latency < 0 then error("hamsa.mock.new: latency must be >= 0", 3) end
    if s.max_connections < 1 or s.max_connections > 1000 then
        error("hamsa.mock.new: max_connections must be within 1..1000", 3)
    end
    for _, name in pairs({ "header_timeout", "idle_timeout", "body_timeout", "call_seconds" }) do
        local v = s[name]
        if v ~= v or v <= 0 then error("hamsa.mock.new: " .. name .. " must be > 0", 3) end
    end
    if s.call_seconds == math.huge then error("hamsa.mock.new: call_seconds must be finite", 3) end
    return s
end

-- The listening socket, non-blocking, or nil and a message.
local function listen(s)
    local listener, err = socket.bind(s.host, s.port, s.backlog)
    if not listener then
        return nil, format("hamsa-mock: cannot listen on %s:%d: %s", s.host, s.port, tostring(err))
    end
    if (tonumber(listener:getfd()) or 0) >= SETSIZE then
        listener:close()
        return nil, format("hamsa-mock: cannot listen on %s:%d: descriptor too large for select()",
            s.host, s.port)
    end
    listener:settimeout(0)
    return listener
end

--- Creates a mock server and binds its listening socket.
-- Misuse (a wrong option type, an unknown option name) raises.
-- @tparam[opt] table opts `host` ("127.0.0.1"), `port` (0: ephemeral),
--   `api_key` ("test-key"), `latency` (0: seconds added before answering every
--   API request), `call_seconds` (2: how long a placed call lasts),
--   `max_connections` (900), `backlog` (1024), and in seconds,
--   each > 0 (`math.huge`: never) `header_timeout` (10), `idle_timeout` (30),
--   `body_timeout` (30); see the module comment
-- @return the server, or `nil, err` when binding fails. Its methods:
--   `url()` the base URL clients should use ("http://127.0.0.1:40123");
--   `step([timeout=0])` one scheduler iteration: waits up to `timeout`
--   seconds for socket activity or a due timer, then accepts connections
--   and advances every connection that can make progress (true, or
--   `nil, "closed"` once closed); `run()` serves until `POST
--   /__mock/shutdown` or `close` (true, or `nil, err`; later calls return
--   at once); `stopped()` whether a shutdown was answered (or the server
--   closed); `connections()` open client connections; `close()` closes the
--   listener and every connection (idempotent; also `__close`/`__gc`).
--   Field `port`: the bound port.
function M.new(opts)
    local s = settings(opts or {})
    local listener, err = listen(s)
    if not listener then return nil, err end
    return server.new(listener, s)
end

return M
