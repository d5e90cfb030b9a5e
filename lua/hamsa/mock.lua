--- A mock of Hamsa's voice-agent HTTP API, for specs, demos and examples.
--
-- One process, no threads: every connection runs in its own coroutine and one
-- `socket.select` loop drives them all, with timers for delays, so a request
-- that sleeps (latency, a `delay` fault, a `drip`) never holds up the others.
-- HTTP/1.1 with keep-alive; agents live in memory.
--
--     local mock = require("hamsa.mock")
--     local srv = assert(mock.new{ port = 0, api_key = "test-key" })
--     print(srv:url())   --> http://127.0.0.1:40123
--     srv:run()          -- until POST /__mock/shutdown
--     srv:close()
--
-- API routes (need `Authorization: Token <api_key>`, as in docs/wire.md):
-- `POST /v1/voice-agents`, `GET /v1/voice-agents?skip=&take=`,
-- `GET|PATCH /v1/voice-agents/<id>`, `POST /v1/voice-agents/clone?voiceAgentId=`,
-- `POST /v1/voice-agents/phone-number/call`, `POST /v1/voice-agents/twilio/call`.
--
-- Control routes (no auth, never logged):
-- `GET /__mock/requests` (every API request so far: `{method, path, query,
-- headers, body}`), `DELETE /__mock/requests`, `POST /__mock/faults` (one
-- fault or a list, queued FIFO), `GET /__mock/faults` (pending ones),
-- `DELETE /__mock/faults`, `GET /__mock/stats` (`requests`, `inflight`,
-- `max_inflight`: API requests answered at once, reset with the log;
-- `connections` open now; since start, `timeouts` (connections closed by a
-- timeout below), `evicted` and `rejected` (see `max_connections`)),
-- `POST /__mock/reset` (agents, log and faults),
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
-- Each logged request also carries `at`, the server's clock when it arrived.
--
-- @module hamsa.mock
-- @license MIT

local socket = require("socket")
local json = require("hamsa.core").json

local concat, remove = table.concat, table.remove
local byte, char, find, format, gmatch, gsub, lower, match, sub, upper =
    string.byte, string.char, string.find, string.format, string.gmatch,
    string.gsub, string.lower, string.match, string.sub, string.upper
local floor, huge, random = math.floor, math.huge, math.random
local tointeger = math.tointeger or function(x) return x == floor(x) and x or nil end
local cocreate, coresume, costatus, yield =
    coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local clock, select = socket.gettime, socket.select
local ipairs, next, pairs, pcall, setmetatable, getmetatable, tonumber, tostring, type =
    ipairs, next, pairs, pcall, setmetatable, getmetatable, tonumber, tostring, type

local null = json.null
local JSON_TYPE = "application/json; charset=utf-8"

local RECV_SIZE = 8192
local MAX_LINE = 16384         -- request line or one header line
local MAX_HEAD = 65536         -- request line and headers together
local MAX_HEADERS = 100
local MAX_CHUNK_LINE = 1024    -- a chunk-size line, extensions included
local MAX_BODY = 16 * 1024 * 1024
-- A stored agent is answered three levels down (envelope, data, voiceAgents)
-- and the encoder stops at 1000 levels: deeper bodies are refused up front.
local MAX_BODY_DEPTH = 997
local ACCEPT_BURST = 64        -- connections accepted per step
local ACCEPT_PAUSE = 0.1       -- seconds without accepting when out of descriptors
local DEFAULT_MAX_CONNECTIONS = 900  -- select() cannot watch descriptors >= FD_SETSIZE (1024)
local SETSIZE = socket._SETSIZE or 1024
local DEFAULT_HEADER_TIMEOUT = 10
local DEFAULT_IDLE_TIMEOUT = 30
local DEFAULT_BODY_TIMEOUT = 30
local DEFAULT_DRIP_INTERVAL = 0.1
local DEADLINE = {}            -- recv's error when the connection's deadline passed

local REASONS = {
    [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted",
    [204] = "No Content", [301] = "Moved Permanently", [302] = "Found",
    [304] = "Not Modified", [400] = "Bad Request", [401] = "Unauthorized",
    [402] = "Payment Required", [403] = "Forbidden", [404] = "Not Found",
    [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
    [413] = "Payload Too Large", [414] = "URI Too Long", [422] = "Unprocessable Entity",
    [429] = "Too Many Requests", [431] = "Request Header Fields Too Large",
    [500] = "Internal Server Error",
    [501] = "Not Implemented", [502] = "Bad Gateway", [503] = "Service Unavailable",
    [504] = "Gateway Timeout",
}

-- Fields of an agent that belong to the server: a request body cannot set them.
local SERVER_FIELDS = { id = true, projectId = true, apiKeyId = true, createdAt = true, updatedAt = true }

local M = {}

local Server = {}
Server.__index = Server

---------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------

local function array(t)
    if json.array then return json.array(t) end
    return t
end

local function is_object(v)
    if type(v) ~= "table" or #v > 0 then return false end
    return json.array_mt == nil or getmetatable(v) ~= json.array_mt
end

local function nonempty(v)
    return type(v) == "string" and v ~= ""
end

local function present(v)
    return v ~= nil and v ~= null
end

local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return setmetatable(c, getmetatable(t))
end

local function uuid4()
    return (gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function(c)
        return format("%x", c == "x" and random(0, 15) or random(8, 11))
    end))
end

local function unescape(s)
    return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- Length of the well-formed UTF-8 sequence at s[i] (a byte >= 0x80), or 0:
-- the rules of the JSON encoder (RFC 3629: no overlong forms, surrogates or
-- code points above U+10FFFF).
local function utf8_seq(s, i)
    local c, c1, c2, c3 = byte(s, i, i + 3)
    local cont2 = c2 and c2 >= 0x80 and c2 <= 0xBF
    if c < 0xC2 or not c1 then return 0 end
    if c < 0xE0 then return (c1 >= 0x80 and c1 <= 0xBF) and 2 or 0 end
    local lo, hi = 0x80, 0xBF
    if c < 0xF0 then
        if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
        return (c1 >= lo and c1 <= hi and cont2) and 3 or 0
    end
    if c < 0xF5 then
        if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
        return (c1 >= lo and c1 <= hi and cont2 and c3 and c3 >= 0x80 and c3 <= 0xBF) and 4 or 0
    end
    return 0
end

-- s and true when s is valid UTF-8 (it encodes as a JSON string); else a
-- copy with every byte that starts no valid sequence replaced by U+FFFD,
-- and false.
local function utf8_text(s)
    if not find(s, "[\128-\255]") or json.encode(s) then return s, true end
    local out, start, i = {}, 1, 1
    while true do
        i = find(s, "[\128-\255]", i)
        if not i then break end
        local n = utf8_seq(s, i)
        if n > 0 then
            i = i + n
        else
            out[#out + 1] = sub(s, start, i - 1)
            out[#out + 1] = "\239\191\189"
            i = i + 1
            start = i
        end
    end
    out[#out + 1] = sub(s, start)
    return concat(out), false
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_PAIRS = {}   -- 12 bits -> two base64 digits
for v = 0, 4095 do
    local a, b = floor(v / 64) + 1, v % 64 + 1
    B64_PAIRS[v] = sub(B64, a, a) .. sub(B64, b, b)
end

local function base64(s)
    local out, n = {}, #s
    local full = n - n % 3
    for i = 1, full, 3 do
        local a, b, c = byte(s, i, i + 2)
        local v = a * 65536 + b * 256 + c
        out[#out + 1] = B64_PAIRS[floor(v / 4096)] .. B64_PAIRS[v % 4096]
    end
    if n > full then   -- one or two bytes left: pad to four digits
        local a, b = byte(s, full + 1, n)
        local v = a * 65536 + (b or 0) * 256
        local tail = B64_PAIRS[floor(v / 4096)] .. B64_PAIRS[v % 4096]
        out[#out + 1] = sub(tail, 1, b and 3 or 2) .. (b and "=" or "==")
    end
    return concat(out)
end

local function parse_query(q)
    local t = {}
    for pair in gmatch(q, "[^&]+") do
        local k, v = match(pair, "^([^=]*)=?(.*)$")
        k = unescape((gsub(k, "+", " ")))
        if t[k] == nil then t[k] = unescape((gsub(v, "+", " "))) end
    end
    return t
end

local function positive_int(s, default)
    if s == nil or s == "" then return default end
    if not match(s, "^%d+$") or #s > 9 then return nil end
    local n = tonumber(s)
    return n >= 1 and n or nil
end

-- ISO-8601 UTC with milliseconds; strictly increasing per server, so an
-- update is always visible in updatedAt even within one millisecond.
local function timestamp(self)
    local ms = floor(clock() * 1000)
    if ms <= self.last_ms then ms = self.last_ms + 1 end
    self.last_ms = ms
    local s = floor(ms / 1000)
    return os.date("!%Y-%m-%dT%H:%M:%S", s) .. format(".%03dZ", ms - s * 1000)
end

---------------------------------------------------------------------------
-- Responses: { status = n, headers = { {name, value}, ... }, body = string }
---------------------------------------------------------------------------

local function raw_response(status, body, content_type)
    return {
        status = status,
        headers = {
            { "Server", "hamsa-mock" },
            { "Date", os.date("!%a, %d %b %Y %H:%M:%S GMT") },
            { "Content-Type", content_type or JSON_TYPE },
        },
        body = body,
    }
end

local function json_response(status, value)
    local body, err = json.encode(value)
    if not body then   -- e.g. a logged body that is not valid UTF-8
        status = 500
        body = '{"success":false,"message":"mock cannot encode the response: '
            .. gsub(tostring(err), '[^%w .,:;_-]', "?") .. '","messageKey":"INTERNAL_ERROR"}'
    end
    return raw_response(status, body)
end

local function ok(message, data, key)
    return json_response(200, { success = true, message = message, messageKey = key, data = data })
end

local function fail(status, message, key)
    return json_response(status, { success = false, message = message, messageKey = key })
end

local function set_header(res, name, value)
    local lname = lower(name)
    if lname == "content-length" then return end   -- always computed here
    for _, h in ipairs(res.headers) do
        if lower(h[1]) == lname then h[2] = value; return end
    end
    res.headers[#res.headers + 1] = { name, value }
end

-- The status line and headers; `length` overrides the Content-Length.
local function render_head(res, keep, length)
    local out = { format("HTTP/1.1 %d %s\r\n", res.status, REASONS[res.status] or "Unknown") }
    for _, h in ipairs(res.headers) do out[#out + 1] = h[1] .. ": " .. h[2] .. "\r\n" end
    out[#out + 1] = "Content-Length: " .. (length or #res.body) .. "\r\n"
    out[#out + 1] = keep and "Connection: keep-alive\r\n\r\n" or "Connection: close\r\n\r\n"
    return concat(out)
end

---------------------------------------------------------------------------
-- Connection I/O, run inside the connection's coroutine. Each helper yields
-- "read", "write" or "sleep" to the scheduler when it would block.
--
-- A connection is in one phase at a time: "idle" (no byte of the next
-- request yet), "head" (reading the request line and headers), "body", or
-- "busy" (answering). While it waits for a request (idle, head, body) it has
-- a deadline: reads past it fail with DEADLINE, and such a connection may be
-- evicted when a new one needs its slot.
---------------------------------------------------------------------------

local function enter(conn, phase, deadline)
    conn.phase, conn.since, conn.deadline = phase, clock(), deadline
end

-- Up to `max` bytes (at least one), or nil and a socket error (DEADLINE
-- once conn.deadline has passed).
local function recv(conn, max)
    while true do
        local data, err, partial = conn.sock:receive(max)
        local chunk = data or partial
        if chunk and chunk ~= "" then return chunk end
        if err ~= "timeout" then return nil, err or "closed" end
        if conn.deadline and clock() >= conn.deadline then return nil, DEADLINE end
        yield("read")
    end
end

-- Appends what the socket has to conn.buf; true, or nil and a socket error.
local function fill(conn)
    local chunk, err = recv(conn, RECV_SIZE)
    if not chunk then return nil, err end
    conn.buf = conn.buf .. chunk
    return true
end

local function send_all(conn, data)
    local i = 1
    while i <= #data do
        local last, err, partial = conn.sock:send(data, i)
        if last then
            i = last + 1
        elseif err == "timeout" then
            i = partial + 1
            yield("write")
        else
            return nil, err
        end
    end
    return true
end

local function sleep(seconds)
    if seconds > 0 then yield("sleep", clock() + seconds) end
end

-- One line of at most `max` bytes (without its end), or nil and an error:
-- a socket error, DEADLINE, or "line too long".
local function read_line(conn, max)
    while true do
        local s, e = find(conn.buf, "\r?\n")
        if s then
            if s - 1 > max then return nil, "line too long" end
            local line = sub(conn.buf, 1, s - 1)
            conn.buf = sub(conn.buf, e + 1)
            return line
        end
        if #conn.buf > max + 1 then return nil, "line too long" end   -- + 1: a "\r"
        local okf, err = fill(conn)
        if not okf then return nil, err end
    end
end

-- Exactly n bytes (a body): collected in a list, never more than needed.
local function read_exact(conn, n)
    local buf = conn.buf
    if #buf >= n then
        conn.buf = sub(buf, n + 1)
        return sub(buf, 1, n)
    end
    local parts, have = { buf }, #buf
    conn.buf = ""
    while have < n do
        local chunk, err = recv(conn, n - have)
        if not chunk then return nil, err end
        parts[#parts + 1] = chunk
        have = have + #chunk
    end
    return concat(parts)
end

-- Errors come back as nil, message, status: the status to answer (then
-- close), or nil to close without an answer (the socket failed).
local function read_chunked(conn)
    local parts, total = {}, 0
    while true do
        local line, err = read_line(conn, MAX_CHUNK_LINE)
        if not line then return nil, err, err == "line too long" and 400 or nil end
        local hex = match(line, "^%s*(%x+)%s*;?")
        if not hex or #hex > 7 then return nil, "malformed chunk size", 400 end
        local size = tonumber(hex, 16)
        if size == 0 then
            repeat   -- trailer fields, ignored
                line, err = read_line(conn, MAX_LINE)
                if not line then return nil, err, err == "line too long" and 431 or nil end
            until line == ""
            return concat(parts)
        end
        total = total + size
        if total > MAX_BODY then return nil, "body too large", 413 end
        local data
        data, err = read_exact(conn, size)
        if not data then return nil, err end
        parts[#parts + 1] = data
        line, err = read_line(conn, 0)   -- the CRLF after the data, nothing else
        if not line and err ~= "line too long" then return nil, err end
        if line ~= "" then return nil, "malformed chunk", 400 end
    end
end

local function read_head(conn)
    local line, err, used
    repeat   -- tolerate empty lines between requests (RFC 9112, 2.2)
        line, err = read_line(conn, MAX_LINE)
        if not line then return nil, err, err == "line too long" and 414 or nil end
    until line ~= ""
    local method, target, version = match(line, "^(%u+) (/%S*) HTTP/(1%.[01])$")
    if not method then return nil, "malformed request line", 400 end
    local headers, count = {}, 0
    used = #line + 2
    while true do
        line, err = read_line(conn, MAX_LINE < MAX_HEAD - used and MAX_LINE or MAX_HEAD - used)
        if not line then
            if err == "line too long" then return nil, "request head too large", 431 end
            return nil, err
        end
        if line == "" then break end
        used = used + #line + 2
        count = count + 1
        if count > MAX_HEADERS then return nil, "too many headers", 431 end
        local name, value = match(line, "^([%w!#$%%&'*+%-.^_`|~]+):[ \t]*(.-)[ \t]*$")
        if not name then return nil, "malformed header line", 400 end
        name = lower(name)
        headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
    end
    return method, target, version, headers
end

local function read_body(self, conn, headers)
    local te, cl = headers["transfer-encoding"], headers["content-length"]
    local expect = lower(headers.expect or "") == "100-continue"
    if te then
        if not find(lower(te), "chunked", 1, true) then
            return nil, "unsupported transfer-encoding", 400
        end
        enter(conn, "body", clock() + self.body_timeout)
        if expect then send_all(conn, "HTTP/1.1 100 Continue\r\n\r\n") end
        return read_chunked(conn)
    elseif cl then
        if not match(cl, "^%d+$") then return nil, "bad content-length", 400 end
        if #cl > 9 or tonumber(cl) > MAX_BODY then return nil, "body too large", 413 end
        local n = tonumber(cl)
        if n > 0 then
            enter(conn, "body", clock() + self.body_timeout)
            if expect then send_all(conn, "HTTP/1.1 100 Continue\r\n\r\n") end
            return read_exact(conn, n)
        end
    end
    return ""
end

-- The next request on conn, or nil, message, status (as read_chunked).
-- Deadlines: a new connection has header_timeout for its whole first head;
-- a kept-alive one may idle idle_timeout before the next request begins,
-- then has header_timeout for that head; a body has body_timeout.
local function read_request(self, conn)
    local start = clock()
    local fresh = conn.served == 0
    if conn.buf == "" then
        enter(conn, "idle", start + (fresh and self.header_timeout or self.idle_timeout))
        local okf, err = fill(conn)
        if not okf then
            if err == DEADLINE then self.timeouts = self.timeouts + 1 end
            return nil, err == DEADLINE and "idle timeout" or err   -- closed without an answer
        end
        if not fresh then start = clock() end
    end
    enter(conn, "head", start + self.header_timeout)
    local method, target, version, headers = read_head(conn)
    local body, err, status
    if method then
        body, err, status = read_body(self, conn, headers)
    else
        err, status = target, version
    end
    if not body then
        if err == DEADLINE then
            self.timeouts = self.timeouts + 1
            return nil, "request " .. conn.phase .. " timeout", 408
        end
        return nil, err, status
    end
    local path, query = match(target, "^([^?]*)%??(.*)$")
    local connection = lower(headers.connection or "")
    local keep
    if version == "1.1" then
        keep = not find(connection, "close", 1, true)
    else
        keep = find(connection, "keep-alive", 1, true) ~= nil
    end
    enter(conn, "busy", nil)
    conn.served = conn.served + 1
    return { method = method, path = path, query = query, headers = headers, body = body, keep = keep }
end

---------------------------------------------------------------------------
-- The API routes
---------------------------------------------------------------------------

local UNAUTHORIZED = { success = false, message = "Unauthorized: invalid API key", messageKey = "UNAUTHORIZED" }
local NOT_FOUND_AGENT = { success = false, message = "Voice agent not found", messageKey = "VOICE_AGENT_NOT_FOUND" }

local function invalid(message)
    return fail(400, message, "VALIDATION_ERROR")
end

-- The body as a JSON object ({} when empty), or nil and the 400 response.
local function parse_body(req)
    if match(req.body, "^%s*$") then return {} end
    local okd, value = pcall(json.decode, req.body)
    if not okd or value == nil then
        return nil, fail(400, "Invalid JSON body", "BAD_REQUEST")
    end
    if not is_object(value) then
        return nil, fail(400, "Request body must be a JSON object", "BAD_REQUEST")
    end
    -- What is stored must encode again in every answer: no number that
    -- overflowed to infinity (1e999), no nesting deeper than answers carry.
    local encoded, err = json.encode(value, MAX_BODY_DEPTH)
    if not encoded then
        return nil, fail(400, "Invalid JSON body: " .. gsub(tostring(err), "^json: ", ""), "BAD_REQUEST")
    end
    return value
end

local function authorized(self, req)
    local scheme, key = match(req.headers.authorization or "", "^(%a+) +(.-)%s*$")
    return scheme ~= nil and lower(scheme) == "token" and key == self.api_key
end

local function store(self, agent)
    self.agents[agent.id] = agent
    self.agent_order[#self.agent_order + 1] = agent.id
    return agent
end

local function create_agent(self, req)
    local body, res = parse_body(req)
    if not body then return res end
    if not nonempty(body.agentName) then return invalid("agentName is required") end
    local agent = copy(body)
    local now = timestamp(self)
    agent.id = uuid4()
    agent.projectId, agent.apiKeyId = self.project_id, self.api_key_id
    agent.createdAt, agent.updatedAt = now, now
    for _, k in ipairs({ "description", "voiceRecordId", "voiceRecord" }) do
        if agent[k] == nil then agent[k] = null end
    end
    store(self, agent)
    return ok("Voice agent created successfully", agent, "VoiceAgentCreatedSuccessfully")
end

local function clone_agent(self, req)
    local source_id = parse_query(req.query).voiceAgentId
    if not nonempty(source_id) then return invalid("voiceAgentId query parameter is required") end
    local body, res = parse_body(req)
    if not body then return res end
    local source = self.agents[source_id]
    if not source then return json_response(404, NOT_FOUND_AGENT) end
    if body.agentName ~= nil and not nonempty(body.agentName) then
        return invalid("agentName must be a non-empty string")
    end
    local agent = copy(source)
    local now = timestamp(self)
    agent.id = uuid4()
    agent.agentName = body.agentName or (source.agentName .. " (copy)")
    agent.createdAt, agent.updatedAt = now, now
    store(self, agent)
    return ok("Voice agent cloned successfully", agent, "VoiceAgentClonedSuccessfully")
end

local function update_agent(self, req, id)
    local body, res = parse_body(req)
    if not body then return res end
    local agent = self.agents[id]
    if not agent then return json_response(404, NOT_FOUND_AGENT) end
    if body.agentName ~= nil and not nonempty(body.agentName) then
        return invalid("agentName must be a non-empty string")
    end
    for k, v in pairs(body) do
        if not SERVER_FIELDS[k] then agent[k] = v end
    end
    agent.updatedAt = timestamp(self)
    return ok("Voice agent updated successfully", agent, "VoiceAgentUpdatedSuccessfully")
end

local function get_agent(self, id)
    local agent = self.agents[id]
    if not agent then return json_response(404, NOT_FOUND_AGENT) end
    return ok("success", agent, "OPERATION_SUCCESSFUL")
end

local function list_agents(self, req)
    local q = parse_query(req.query)
    local skip, take = positive_int(q.skip, 1), positive_int(q.take, 10)
    if not skip then return invalid("skip must be a positive integer (a 1-based page number)") end
    if not take then return invalid("take must be a positive integer") end
    local order, items = self.agent_order, {}
    local first = (skip - 1) * take + 1
    for i = first, first + take - 1 do
        if not order[i] then break end
        items[#items + 1] = self.agents[order[i]]
    end
    return ok("success", { total = #order, filtered = #order, voiceAgents = array(items) },
        "OPERATION_SUCCESSFUL")
end

-- kind: "phone-number" or "twilio"
local function start_call(self, req, kind)
    local body, res = parse_body(req)
    if not body then return res end
    local from_field = kind == "twilio" and "twilioPhoneNumber" or "phoneNumber"
    for _, field in ipairs({ "toNumber", from_field }) do
        if not nonempty(body[field]) then return invalid(field .. " is required") end
    end
    local has_id, has_details = present(body.voiceAgentId), present(body.agentDetails)
    if has_id == has_details then
        return invalid("Provide exactly one of voiceAgentId or agentDetails")
    end
    local agent_id, details
    if has_id then
        if type(body.voiceAgentId) ~= "string" then return invalid("voiceAgentId must be a string") end
        local agent = self.agents[body.voiceAgentId]
        if not agent then return json_response(404, NOT_FOUND_AGENT) end
        agent_id, details = agent.id, agent
    else
        if not is_object(body.agentDetails) then return invalid("agentDetails must be an object") end
        agent_id, details = uuid4(), body.agentDetails
    end
    if kind == "phone-number" then
        return ok("Call started successfully", { voiceAgentId = agent_id, jobId = uuid4() },
            "CallStartedSuccessfully")
    end
    local now = timestamp(self)
    return ok("Call started successfully", {
        id = uuid4(), status = "PENDING", type = "VOICE_AGENTS",
        callParams = { machineNumber = body.twilioPhoneNumber, userNumber = body.toNumber },
        agentDetails = details,
        webhookUrl = body.webhookUrl == nil and null or body.webhookUrl,
        totalCost = 0, usageTime = 0, mediaUrl = null, jobResponse = null,
        voiceAgentId = agent_id, createdAt = now, updatedAt = now,
    }, "CallStartedSuccessfully")
end

local function route(self, req)
    local m, path = req.method, req.path
    if #path > 1 and sub(path, -1) == "/" then path = sub(path, 1, -2) end
    local seg = {}
    for s in gmatch(path, "[^/]+") do seg[#seg + 1] = s end
    if seg[1] == "v1" then
        if not authorized(self, req) then return json_response(401, UNAUTHORIZED) end
        if seg[2] == "voice-agents" then
            local n = #seg
            if n == 2 and m == "POST" then return create_agent(self, req) end
            if n == 2 and m == "GET" then return list_agents(self, req) end
            if n == 3 and seg[3] == "clone" and m == "POST" then return clone_agent(self, req) end
            if n == 4 and seg[4] == "call" and m == "POST"
                and (seg[3] == "phone-number" or seg[3] == "twilio") then
                return start_call(self, req, seg[3])
            end
            if n == 3 and m == "GET" then return get_agent(self, unescape(seg[3])) end
            if n == 3 and m == "PATCH" then return update_agent(self, req, unescape(seg[3])) end
        end
    end
    return fail(404, "Cannot " .. m .. " " .. (utf8_text(req.path)), "NOT_FOUND")
end

---------------------------------------------------------------------------
-- Faults
---------------------------------------------------------------------------

local ACTIONS = { reset = true, close = true, close_mid_body = true, drip = true, hang = true,
                  reset_mid_body = true, raw = true }

local FAULT_FIELDS = {
    path = "string", method = "string", times = "integer", status = "integer",
    body = "string", content_type = "string", headers = "table", delay = "number",
    action = "string", interval = "number", pad = "integer", raw = "string",
}

-- A checked copy of one fault spec, or nil and a message.
local function parse_fault(spec)
    if not is_object(spec) then return nil, "a fault must be a JSON object" end
    local f = {}
    for k, v in pairs(spec) do
        local want = FAULT_FIELDS[k]
        if not want then return nil, "unknown fault field '" .. tostring(k) .. "'" end
        if v ~= null then
            if type(v) == "number" and (v ~= v or v == huge or v == -huge) then   -- e.g. 1e999
                return nil, "fault field '" .. k .. "' must be finite"
            end
            if want == "integer" then v = type(v) == "number" and tointeger(v) or nil end
            if type(v) ~= (want == "integer" and "number" or want) then
                return nil, "fault field '" .. k .. "' must be a " .. want
            end
            f[k] = v
        end
    end
    f.times = f.times or 1
    if f.times < 1 then return nil, "fault field 'times' must be >= 1" end
    if f.pad and (f.pad < 0 or f.pad > 64 * 1024 * 1024) then
        return nil, "fault field 'pad' must be within 0..67108864"
    end
    if f.status and (f.status < 100 or f.status > 599) then
        return nil, "fault field 'status' must be within 100..599"
    end
    if (f.delay and f.delay < 0) or (f.interval and f.interval <= 0) then
        return nil, "fault fields 'delay' and 'interval' must be positive"
    end
    if f.action and not ACTIONS[f.action] then
        return nil, "unknown fault action '" .. f.action .. "'"
    end
    if (f.action == "raw") ~= (f.raw ~= nil) then
        return nil, "fault field 'raw' goes with action \"raw\", and that action needs it"
    end
    if f.method then f.method = upper(f.method) end
    if f.headers then
        if not is_object(f.headers) then return nil, "fault field 'headers' must be an object" end
        local h = {}
        for name, value in pairs(f.headers) do
            if type(value) ~= "string" and type(value) ~= "number" then
                return nil, "fault header '" .. tostring(name) .. "' must be a string"
            end
            h[name] = type(value) == "number" and tostring(tointeger(value) or value) or value
        end
        f.headers = h
    end
    return f
end

-- Removes and returns the first queued fault that applies to req, if any.
local function take_fault(self, req)
    for i, f in ipairs(self.faults) do
        if (not f.path or sub(req.path, 1, #f.path) == f.path)
            and (not f.method or f.method == req.method) then
            f.times = f.times - 1
            if f.times == 0 then remove(self.faults, i) end
            return f
        end
    end
end

local function fault_response(f)
    local status = f.status or 200
    local body = f.body
    if not body then
        local reason = REASONS[status] or "Mock fault"
        body = json.encode({
            success = status < 400, message = reason,
            messageKey = upper((gsub(reason, "%W+", "_"))),
        })
    end
    return raw_response(status, body, f.content_type)
end

---------------------------------------------------------------------------
-- Control routes (/__mock/...), no authentication
---------------------------------------------------------------------------

local function reset_state(self)
    self.agents, self.agent_order, self.log, self.faults = {}, {}, {}, {}
end

local function add_faults(self, req)
    local okd, value = pcall(json.decode, req.body)
    if not okd or type(value) ~= "table" then return fail(400, "Invalid JSON body", "BAD_REQUEST") end
    local specs = (#value > 0 or next(value) == nil) and value or { value }
    local parsed = {}
    for i, spec in ipairs(specs) do
        local f, err = parse_fault(spec)
        if not f then return fail(400, "fault " .. i .. ": " .. err, "BAD_REQUEST") end
        parsed[i] = f
    end
    for _, f in ipairs(parsed) do self.faults[#self.faults + 1] = f end
    return ok("ok", { queued = #parsed, pending = #self.faults })
end

-- Returns the response and, for shutdown, true.
local function control(self, req)
    local m, p = req.method, req.path
    if p == "/__mock/requests" and m == "GET" then
        return json_response(200, array(self.log))
    elseif p == "/__mock/requests" and m == "DELETE" then
        self.log = {}
        self.max_inflight = self.inflight or 0
        return ok("ok")
    elseif p == "/__mock/stats" and m == "GET" then
        return json_response(200, { requests = #self.log, inflight = self.inflight or 0,
                                    max_inflight = self.max_inflight or 0,
                                    connections = self.nconns, timeouts = self.timeouts,
                                    evicted = self.evicted, rejected = self.rejected })
    elseif p == "/__mock/faults" and m == "POST" then
        return add_faults(self, req)
    elseif p == "/__mock/faults" and m == "GET" then
        return json_response(200, array(self.faults))
    elseif p == "/__mock/faults" and m == "DELETE" then
        self.faults = {}
        return ok("ok")
    elseif p == "/__mock/reset" and m == "POST" then
        reset_state(self)
        return ok("ok")
    elseif p == "/__mock/shutdown" and m == "POST" then
        return ok("shutting down"), true
    end
    return fail(404, "Cannot " .. m .. " " .. (utf8_text(p)), "NOT_FOUND")
end

---------------------------------------------------------------------------
-- Serving one connection (the body of its coroutine)
---------------------------------------------------------------------------

local function abort(conn)   -- close with RST instead of FIN
    conn.sock:setoption("linger", { on = true, timeout = 0 })
    conn.sock:close()
end

local function hang(conn)   -- never answer; discard input until the peer leaves
    repeat conn.buf = "" until not fill(conn)
end

-- Sets entry[field] to s, which must encode as JSON: a string that is not
-- valid UTF-8 is logged with each bad byte as U+FFFD, plus its exact bytes
-- in <field>_base64 and <field>_invalid_utf8 = true.
local function log_text(entry, field, s)
    local text, valid = utf8_text(s)
    entry[field] = text
    if not valid then
        entry[field .. "_base64"] = base64(s)
        entry[field .. "_invalid_utf8"] = true
    end
end

local function log_request(self, req)
    local entry = { method = req.method, at = clock() }
    log_text(entry, "path", req.path)
    log_text(entry, "query", req.query)
    log_text(entry, "body", req.body)
    local headers, raw = {}, nil
    for name, value in pairs(req.headers) do   -- names are tokens: ASCII
        local text, valid = utf8_text(value)
        headers[name] = text
        if not valid then
            raw = raw or {}
            raw[name] = base64(value)
        end
    end
    entry.headers = json.object and json.object(headers) or headers
    if raw then
        entry.headers_base64 = json.object and json.object(raw) or raw
        entry.headers_invalid_utf8 = true
    end
    self.log[#self.log + 1] = entry
end

-- fn(self, req), with a 500 instead of a dropped connection when it raises.
local function safely(fn, self, req)
    local okr, res, extra = pcall(fn, self, req)
    if okr then return res, extra end
    io.stderr:write("hamsa-mock: ", tostring(res), "\n")
    return fail(500, "mock internal error", "INTERNAL_ERROR")
end

-- Answers one API request (faults, latency, route); true to keep the connection.
local function serve_api_now(self, conn, req)
    log_request(self, req)
    local f = take_fault(self, req)
    sleep(self.latency + (f and f.delay or 0))
    local action = f and f.action
    if action == "reset" then abort(conn); return false end
    if action == "close" then return false end
    if action == "hang" then hang(conn); return false end
    if action == "raw" then send_all(conn, f.raw); return false end
    local res = (f and (f.status or f.body)) and fault_response(f) or safely(route, self, req)
    if f and f.headers then
        for name, value in pairs(f.headers) do set_header(res, name, value) end
    end
    if f and f.pad and f.pad > 0 then res.body = res.body .. string.rep(" ", f.pad) end
    if action == "reset_mid_body" then
        local body = res.body
        send_all(conn, render_head(res, false, #body > 0 and #body or 1) .. sub(body, 1, floor(#body / 2)))
        abort(conn)
        return false
    end
    if action == "close_mid_body" then
        local body = res.body
        send_all(conn, render_head(res, false, #body > 0 and #body or 1)
            .. sub(body, 1, floor(#body / 2)))
        return false
    end
    local data = render_head(res, req.keep) .. res.body
    if action == "drip" then
        local interval = f.interval or DEFAULT_DRIP_INTERVAL
        for i = 1, #data do
            if not send_all(conn, sub(data, i, i)) then return false end
            if i < #data then sleep(interval) end
        end
        return req.keep
    end
    return send_all(conn, data) and req.keep
end

-- Counts the API requests being answered at once (GET /__mock/stats), so
-- specs can prove concurrency and connection caps without timing anything.
local function serve_api(self, conn, req)
    local n = (self.inflight or 0) + 1
    self.inflight = n
    if n > (self.max_inflight or 0) then self.max_inflight = n end
    local keep = serve_api_now(self, conn, req)
    self.inflight = self.inflight - 1
    return keep
end

local function serve(self, conn)
    while not self.closed do
        local req, err, status = read_request(self, conn)
        if not req then
            if status then   -- one try, no waiting: the client may not be reading
                local reason = REASONS[status]
                local res = fail(status, reason .. ": " .. err, upper((gsub(reason, "%W+", "_"))))
                conn.sock:send(render_head(res, false) .. res.body)
            end
            return
        end
        if sub(req.path, 1, 8) == "/__mock/" then
            local res, shutdown = safely(control, self, req)
            local keep = req.keep and not shutdown
            local sent = send_all(conn, render_head(res, keep) .. res.body)
            if shutdown then self.stop_requested = true end
            if not (sent and keep) then return end
        elseif not serve_api(self, conn, req) then
            return
        end
    end
end

---------------------------------------------------------------------------
-- The scheduler
---------------------------------------------------------------------------

local function drop(self, conn)
    if self.conns[conn] then
        self.conns[conn] = nil
        self.nconns = self.nconns - 1
    end
    conn.sock:close()
end

local function resume(self, conn)
    local okr, what, arg = coresume(conn.co)
    if not okr then io.stderr:write("hamsa-mock: ", tostring(what), "\n") end
    if not okr or costatus(conn.co) == "dead" then return drop(self, conn) end
    conn.wait, conn.wake = what, arg
end

-- Closes the connection that has waited longest for (the rest of) a
-- request; connections being answered are never chosen. False if none.
local function evict_oldest(self)
    local oldest
    for conn in pairs(self.conns) do
        if conn.phase ~= "busy" and (not oldest or conn.since < oldest.since) then oldest = conn end
    end
    if not oldest then return false end
    drop(self, oldest)
    self.evicted = self.evicted + 1
    return true
end

local REJECT = "HTTP/1.1 503 Service Unavailable\r\nServer: hamsa-mock\r\nContent-Length: 0\r\n"
    .. "Connection: close\r\n\r\n"

local function reject(self, sock)   -- a 503 if it fits at once, then close
    sock:settimeout(0)
    sock:send(REJECT)
    sock:close()
    self.rejected = self.rejected + 1
end

-- Accepts what is pending. At the connection bound, or out of descriptors,
-- a new connection takes the slot of the one waiting longest for a request,
-- so clients that stall cannot lock out the others; if every connection is
-- being answered, new ones wait in the listen queue (or, caught in a
-- burst, are closed).
local function accept_all(self)
    for _ = 1, ACCEPT_BURST do
        local sock, err = self.listener:accept()
        if not sock then
            if err == "timeout" then return end
            -- e.g. "Too many open files": free one and try again, or stop
            -- polling the listener a while instead of spinning on it
            if not evict_oldest(self) then
                self.accept_paused = clock() + ACCEPT_PAUSE
                return
            end
        elseif (tonumber(sock:getfd()) or 0) >= SETSIZE then
            reject(self, sock)   -- select() cannot watch it; free a lower descriptor
            evict_oldest(self)
        elseif self.nconns >= self.max_connections and not evict_oldest(self) then
            reject(self, sock)
            return
        else
            sock:settimeout(0)
            sock:setoption("tcp-nodelay", true)
            local conn = { sock = sock, buf = "", served = 0 }
            conn.co = cocreate(function() return serve(self, conn) end)
            self.conns[conn] = true
            self.nconns = self.nconns + 1
            enter(conn, "idle", nil)
            resume(self, conn)
        end
    end
end

--- Creates a mock server and binds its listening socket.
-- Misuse (a wrong option type, an unknown option name) raises.
-- @tparam[opt] table opts `host` ("127.0.0.1"), `port` (0: ephemeral),
--   `api_key` ("test-key"), `latency` (0: seconds added before answering every
--   API request), `max_connections` (900), `backlog` (1024), and in seconds,
--   each > 0 (`math.huge`: never) `header_timeout` (10), `idle_timeout` (30),
--   `body_timeout` (30); see the module comment
-- @return the server, or `nil, err` when binding fails
function M.new(opts)
    opts = opts or {}
    if type(opts) ~= "table" then error("hamsa.mock.new: opts must be a table", 2) end
    local known = { host = "string", port = "number", api_key = "string", latency = "number",
                    max_connections = "number", backlog = "number", header_timeout = "number",
                    idle_timeout = "number", body_timeout = "number" }
    for k, v in pairs(opts) do
        if not known[k] then error("hamsa.mock.new: unknown option '" .. tostring(k) .. "'", 2) end
        if type(v) ~= known[k] then error("hamsa.mock.new: option '" .. k .. "' must be a " .. known[k], 2) end
    end
    local host, port = opts.host or "127.0.0.1", opts.port or 0
    local api_key, latency = opts.api_key or "test-key", opts.latency or 0
    local max_connections = opts.max_connections or DEFAULT_MAX_CONNECTIONS
    if port < 0 or port > 65535 or port % 1 ~= 0 then error("hamsa.mock.new: bad port", 2) end
    if api_key == "" then error("hamsa.mock.new: api_key must not be empty", 2) end
    if latency < 0 then error("hamsa.mock.new: latency must be >= 0", 2) end
    if max_connections < 1 or max_connections > 1000 then
        error("hamsa.mock.new: max_connections must be within 1..1000", 2)
    end
    local timeouts = {
        header_timeout = opts.header_timeout or DEFAULT_HEADER_TIMEOUT,
        idle_timeout = opts.idle_timeout or DEFAULT_IDLE_TIMEOUT,
        body_timeout = opts.body_timeout or DEFAULT_BODY_TIMEOUT,
    }
    for name, v in pairs(timeouts) do
        if v ~= v or v <= 0 then error("hamsa.mock.new: " .. name .. " must be > 0", 2) end
    end
    local listener, err = socket.bind(host, port, opts.backlog or 1024)
    if not listener then
        return nil, format("hamsa-mock: cannot listen on %s:%d: %s", host, port, tostring(err))
    end
    if (tonumber(listener:getfd()) or 0) >= SETSIZE then
        listener:close()
        return nil, format("hamsa-mock: cannot listen on %s:%d: descriptor too large for select()",
            host, port)
    end
    listener:settimeout(0)
    local addr, bound = listener:getsockname()
    local self = setmetatable({
        listener = listener, api_key = api_key, latency = latency,
        max_connections = max_connections, conns = {}, nconns = 0,
        header_timeout = timeouts.header_timeout, idle_timeout = timeouts.idle_timeout,
        body_timeout = timeouts.body_timeout, timeouts = 0, evicted = 0, rejected = 0,
        project_id = uuid4(), api_key_id = uuid4(), last_ms = 0,
        closed = false, stop_requested = false,
    }, Server)
    if addr == "0.0.0.0" then addr = "127.0.0.1" elseif addr == "::" then addr = "::1" end
    self.base_url = "http://" .. (find(addr, ":", 1, true) and "[" .. addr .. "]" or addr) .. ":" .. bound
    self.port = tonumber(bound)
    reset_state(self)
    return self
end

--- The base URL clients should use, e.g. `"http://127.0.0.1:40123"`.
-- @treturn string
function Server:url()
    return self.base_url
end

--- Runs one scheduler iteration: waits up to `timeout` seconds for socket
-- activity or a due timer, then accepts connections and advances every
-- connection that can make progress.
-- @tparam[opt=0] number timeout seconds
-- @return true, or `nil, "closed"` once the server is closed
function Server:step(timeout)
    if self.closed then return nil, "closed" end
    local now = clock()
    local deadline = now + (timeout or 0)
    local readers, writers, waiting = {}, {}, 0
    for conn in pairs(self.conns) do
        local w = conn.wait
        if w == "read" then
            readers[#readers + 1] = conn.sock
            local d = conn.deadline
            if d and d < deadline then deadline = d end
        elseif w == "write" then writers[#writers + 1] = conn.sock
        elseif conn.wake < deadline then deadline = conn.wake end
        if conn.phase ~= "busy" then waiting = waiting + 1 end
    end
    -- The listener is watched while a new connection can get a slot: a
    -- free one, or one waiting for a request (evicted for it).
    local paused = self.accept_paused
    if paused and paused <= now then paused, self.accept_paused = nil, nil end
    if paused then
        if paused < deadline then deadline = paused end
    elseif self.nconns < self.max_connections or waiting > 0 then
        readers[#readers + 1] = self.listener
    end
    local wait = deadline - now
    local readable, writable = select(readers, writers, wait > 0 and wait or 0)
    readable, writable = readable or {}, writable or {}
    now = clock()
    local ready = {}
    for conn in pairs(self.conns) do
        local w = conn.wait
        if (w == "read" and (readable[conn.sock] or (conn.deadline and conn.deadline <= now)))
            or (w == "write" and writable[conn.sock])
            or (w == "sleep" and conn.wake <= now) then
            ready[#ready + 1] = conn
        end
    end
    for _, conn in ipairs(ready) do
        if self.closed then break end
        resume(self, conn)
    end
    if not self.closed and readable[self.listener] then accept_all(self) end
    return true
end

--- Serves until `POST /__mock/shutdown` (or `close`). Later calls return at once.
-- @return true, or `nil, err`
function Server:run()
    while not self.closed and not self.stop_requested do
        local okr, err = self:step(1)
        if not okr then return nil, err end
    end
    return true
end

--- Whether a `POST /__mock/shutdown` was answered (or the server closed).
-- @treturn boolean
function Server:stopped()
    return self.closed or self.stop_requested
end

--- Number of open client connections.
-- @treturn integer
function Server:connections()
    return self.nconns
end

--- Closes the listener and every connection. Idempotent; also `__close`/`__gc`.
-- @return true
function Server:close()
    if self.closed then return true end
    self.closed = true
    for conn in pairs(self.conns) do conn.sock:close() end
    self.conns, self.nconns = {}, 0
    self.listener:close()
    return true
end

Server.__close = Server.close
Server.__gc = Server.close

return M
