--- HTTP/1.1 on the mock's connections: reading requests (request line,
-- headers, bodies, chunked) within their limits and deadlines, and
-- writing responses (made by hamsa.mock.response).
--
-- Everything that reads or writes runs inside the connection's coroutine
-- and yields to the scheduler (hamsa.mock.server) when it would block:
-- `"read"` or `"write"` (wait for the socket), or `"sleep", wake_time`.
--
-- A connection (`M.conn`) is `{ sock, buf, served, phase, since,
-- deadline }` and is in one phase at a time: "idle" (no byte of the next
-- request yet), "head" (reading the request line and headers), "body", or
-- "busy" (answering). While it waits for a request (idle, head, body) it
-- has a deadline: reads past it fail, and the scheduler may evict it when a
-- new connection needs its slot.
-- @module hamsa.mock.wire
-- @license MIT

local socket = require("socket")
local response = require("hamsa.mock.response")

local concat = table.concat
local find, format, lower, match, sub = string.find, string.format, string.lower, string.match, string.sub
local clock = socket.gettime
local yield = coroutine.yield
local ipairs, tonumber = ipairs, tonumber
local reason = response.reason

local RECV_SIZE = 8192
local MAX_LINE = 16384         -- request line or one header line
local MAX_HEAD = 65536         -- request line and headers together
local MAX_HEADERS = 100
local MAX_CHUNK_LINE = 1024    -- a chunk-size line, extensions included
local MAX_BODY = 16 * 1024 * 1024
local DEADLINE = {}            -- recv's error when the connection's deadline passed
local CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n"

local M = {}

--- The status line and headers of `res`; `length` overrides the
-- Content-Length.
function M.head(res, keep, length)
    local out = { format("HTTP/1.1 %d %s\r\n", res.status, reason(res.status) or "Unknown") }
    for _, h in ipairs(res.headers) do out[#out + 1] = h[1] .. ": " .. h[2] .. "\r\n" end
    out[#out + 1] = "Content-Length: " .. (length or #res.body) .. "\r\n"
    out[#out + 1] = keep and "Connection: keep-alive\r\n\r\n" or "Connection: close\r\n\r\n"
    return concat(out)
end

local function enter(conn, phase, deadline)
    conn.phase, conn.since, conn.deadline = phase, clock(), deadline
end

--- A new connection on `sock` (non-blocking), idle.
function M.conn(sock)
    local conn = { sock = sock, buf = "", served = 0 }
    enter(conn, "idle", nil)
    return conn
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

--- Appends what the socket has to conn.buf; true, or nil and an error.
function M.fill(conn)
    local chunk, err = recv(conn, RECV_SIZE)
    if not chunk then return nil, err end
    conn.buf = conn.buf .. chunk
    return true
end

--- Sends all of `data`; true, or nil and a socket error.
function M.send(conn, data)
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

--- Lets the others run for `seconds`.
function M.sleep(seconds)
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
        local okf, err = M.fill(conn)
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
local function read_chunked(conn, cap)
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
        if total > cap then return nil, "body too large", 413 end
        local data
        data, err = read_exact(conn, size)
        if not data then return nil, err end
        parts[#parts + 1] = data
        line, err = read_line(conn, 0)   -- the CRLF after the data, nothing else
        if not line and err ~= "line too long" then return nil, err end
        if line ~= "" then return nil, "malformed chunk", 400 end
    end
end

-- method, target, version, headers (lower-case names; repeated ones
-- joined with ", "); or nil, message, status as read_chunked.
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

local function read_body(conn, headers, body_timeout, cap)
    local te, cl = headers["transfer-encoding"], headers["content-length"]
    local expect = lower(headers.expect or "") == "100-continue"
    if te then
        if not find(lower(te), "chunked", 1, true) then
            return nil, "unsupported transfer-encoding", 400
        end
        enter(conn, "body", clock() + body_timeout)
        if expect then M.send(conn, CONTINUE) end
        return read_chunked(conn, cap)
    elseif cl then
        if not match(cl, "^%d+$") then return nil, "bad content-length", 400 end
        if #cl > 9 or tonumber(cl) > cap then return nil, "body too large", 413 end
        local n = tonumber(cl)
        if n > 0 then
            enter(conn, "body", clock() + body_timeout)
            if expect then M.send(conn, CONTINUE) end
            return read_exact(conn, n)
        end
    end
    return ""
end

-- Whether the connection stays open after the answer.
local function keep_alive(version, headers)
    local connection = lower(headers.connection or "")
    if version == "1.1" then return not find(connection, "close", 1, true) end
    return find(connection, "keep-alive", 1, true) ~= nil
end

--- The next request on conn: `{ method, path, query, headers, body, keep }`.
-- Or nil, message, status (to answer, then close; nil: close without an
-- answer), timed_out (true when a deadline passed).
-- Deadlines (`limits`: header_timeout, idle_timeout, body_timeout): a new
-- connection has header_timeout for its whole first head; a kept-alive one
-- may idle idle_timeout before the next request begins, then has
-- header_timeout for that head; a body has body_timeout. `limits.max_body`
-- (default 16 MiB) bounds a body: a longer one is refused with 413 unread.
function M.read_request(conn, limits)
    local start = clock()
    local fresh = conn.served == 0
    if conn.buf == "" then
        enter(conn, "idle", start + (fresh and limits.header_timeout or limits.idle_timeout))
        local okf, err = M.fill(conn)
        if not okf then   -- closed without an answer
            if err == DEADLINE then return nil, "idle timeout", nil, true end
            return nil, err
        end
        if not fresh then start = clock() end
    end
    enter(conn, "head", start + limits.header_timeout)
    local method, target, version, headers = read_head(conn)
    local body, err, status
    if method then
        body, err, status = read_body(conn, headers, limits.body_timeout, limits.max_body or MAX_BODY)
    else
        err, status = target, version
    end
    if not body then
        if err == DEADLINE then return nil, "request " .. conn.phase .. " timeout", 408, true end
        return nil, err, status
    end
    local path, query = match(target, "^([^?]*)%??(.*)$")
    enter(conn, "busy", nil)
    conn.served = conn.served + 1
    return { method = method, path = path, query = query, headers = headers, body = body,
             keep = keep_alive(version, headers) }
end

--- Answers a request that could not be read (`status`, `message`) and
-- leaves: one try, no waiting, for the client may not be reading.
function M.refuse(conn, status, message)
    local phrase = reason(status)
    local res = response.fail(status, phrase .. ": " .. message, response.key(phrase))
    conn.sock:send(M.head(res, false) .. res.body)
end

return M
