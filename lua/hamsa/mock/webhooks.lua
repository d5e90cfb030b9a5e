--- The webhooks the mock sends for calls that set a `webhookUrl` (the call
-- body's, else the agent's or the inline agentDetails'), with
-- `Authorization: <authKey> <authSecret>` from the matching `webhookAuth`
-- (the call's over the agent's). Plain `http://` only (the mock does not
-- enforce Hamsa's https rule; it cannot send https); name hosts by IP or
-- `localhost`, since a name is resolved blocking.
--
-- Events, each when the call reaches it on the mock's clock
-- (hamsa.mock.playout): `call.started` when placed; for an answered call
-- (final COMPLETED, FORWARDED or TERMINATED after it was answered)
-- `call.answered` once IN_PROGRESS, one `transcription.update` per
-- transcript turn (`data.transcription`: the turns so far) and
-- `tool.executed` (`smartCallEnd`) at the end; `call.ended` at the final
-- status, `data = { status, data = { conversationId,
-- conversationRecording, transcription, outcomeResult } }`. outcomeResult
-- (the call's params echoed) is a JSON *string*, as Hamsa's guide warns
-- nested values may arrive, so receivers get exercised.
--
-- Delivery: the server's scheduler calls `poll` each step, which queues
-- the events now due and starts, per call, one coroutine that POSTs its
-- events in order (each `repeat` times) over a non-blocking socket in the
-- same select loop: connect, send and the response's status line within
-- TIMEOUT seconds. A failed delivery is logged (its status the error) and
-- dropped, never retried. Every try is logged: `{ url, eventType, callId,
-- status, attempt }` (attempt: 1..repeat).
-- @module hamsa.mock.webhooks
-- @license MIT

local socket = require("socket")
local h = require("hamsa.mock.handler")
local json = require("hamsa.core").json
local playout = require("hamsa.mock.playout")

local cocreate, coresume, costatus, yield = coroutine.create, coroutine.resume, coroutine.status, coroutine.yield
local clock = socket.gettime
local find, match, sub = string.find, string.match, string.sub
local ipairs, next, pairs, setmetatable, tonumber, tostring, type =
    ipairs, next, pairs, setmetatable, tonumber, tostring, type
local array, object = h.array, h.object

local TIMEOUT = 5       -- seconds for connect, send and the response's status line
local POLL = 0.05       -- the scheduler's longest sleep while a call is tracked
local MAX_LOG = 10000

local M = { TIMEOUT = TIMEOUT, POLL = POLL }

local Hooks = {}
Hooks.__index = Hooks

--- No tracked calls, an empty log, repeat 1.
function Hooks:reset()
    self.tracked, self.log, self.copies = {}, {}, 1
end

--- A new webhooks state (the api holds it as `api.webhooks`).
function M.new()
    local self = setmetatable({ runners = {} }, Hooks)
    self:reset()
    return self
end

local function str(v)
    return type(v) == "string" and v ~= "" and v or nil
end

--- Tracks `conv` (a placed call) if `body` (the call's) or `details` (its
-- agent) names a webhookUrl.
function Hooks:track(conv, body, details)
    local url = str(body.webhookUrl) or str(details.webhookUrl)
    if not url then return end
    local auth = h.is_object(body.webhookAuth) and body.webhookAuth
        or h.is_object(details.webhookAuth) and details.webhookAuth or nil
    local header = auth and str(auth.authKey) and (auth.authKey .. " " .. (str(auth.authSecret) or "")) or nil
    self.tracked[conv] = { conv = conv, url = url, auth = header, queue = {}, turns = 0 }
end

--- The `repeat` count (each delivery sent this many times), 1 to 10.
function Hooks:set_repeat(n)
    if type(n) ~= "number" or n ~= n or n < 1 or n > 10 or n % 1 ~= 0 then
        return nil, "repeat must be an integer within 1..10"
    end
    self.copies = n
    return true
end

---------------------------------------------------------------------------
-- The events due
---------------------------------------------------------------------------

local function envelope(api, t, conv, event, data)
    return { eventType = event, body = json.encode({
        eventType = event, callId = conv.id, timestamp = h.iso(t), projectId = api.project_id,
        agentId = conv.voiceAgentId, agentName = conv.agentName, data = object(data),
    }) }
end

-- Queues on `tr` the events its call has reached by `now`; true once
-- call.ended is queued.
local function advance(api, tr, now)
    local conv, cs, q = tr.conv, api.call_seconds, tr.queue
    local _, answered, ended = playout.state(conv, now, cs)
    local view = playout.view(conv, now, cs, api.base_url)
    if not tr.started then
        tr.started = true
        q[#q + 1] = envelope(api, conv.t0, conv, "call.started",
            { status = "PENDING", toNumber = conv.to, fromNumber = conv.from })
    end
    if answered and not tr.answered then
        tr.answered = true
        q[#q + 1] = envelope(api, answered, conv, "call.answered", { status = "IN_PROGRESS" })
    end
    local turns = view.jobResponse.transcription
    for k = tr.turns + 1, #turns do
        local so_far = {}
        for i = 1, k do so_far[i] = turns[i] end
        q[#q + 1] = envelope(api, ended or now, conv, "transcription.update", { transcription = array(so_far) })
    end
    tr.turns = #turns
    if not ended then return false end
    if answered then
        q[#q + 1] = envelope(api, ended, conv, "tool.executed",
            { toolName = "smartCallEnd", result = { success = true, status = view.status } })
    end
    q[#q + 1] = envelope(api, ended, conv, "call.ended", { status = view.status, data = {
        conversationId = conv.id, conversationRecording = view.mediaUrl, transcription = turns,
        outcomeResult = json.encode(view.jobResponse.outcomeResult),
    } })
    return true
end

---------------------------------------------------------------------------
-- One POST over a non-blocking socket (inside a runner's coroutine)
---------------------------------------------------------------------------

local function parse_url(url)
    local host, port, path = match(url, "^[hH][tT][tT][pP]://([^/:?#]+):?(%d*)([^#]*)")
    if not host then return nil end
    if path == "" or sub(path, 1, 1) == "?" then path = "/" .. path end
    return host, tonumber(port) or 80, path
end

-- Waits for `sock` to be ready for `what` ("read"/"write"); false past the deadline.
local function wait(runner, sock, what)
    runner.sock = sock
    yield(what)
    return clock() < runner.deadline
end

-- The receiver's HTTP status, or nil and an error.
local function post(runner, url, auth, body)
    local host, port, path = parse_url(url)
    if not host then return nil, "unsupported url (http:// only)" end
    runner.deadline = clock() + TIMEOUT
    local sock = socket.tcp()
    sock:settimeout(0)
    local okc, err = sock:connect(host, port)
    if not okc and err ~= "timeout" then
        sock:close()
        return nil, tostring(err)
    end
    local req = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host .. ":" .. port
        .. "\r\nContent-Type: application/json\r\nUser-Agent: hamsa-mock\r\nConnection: close\r\n"
        .. (auth and ("Authorization: " .. auth .. "\r\n") or "")
        .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
    local i = 1
    while i <= #req do
        local last, serr, partial = sock:send(req, i)
        if last then
            i = last + 1
        elseif serr == "timeout" then
            i = (partial or i - 1) + 1
            if not wait(runner, sock, "write") then sock:close(); return nil, "timeout" end
        else
            sock:close()
            return nil, tostring(serr)
        end
    end
    local buf = ""
    while not find(buf, "\r\n", 1, true) do
        local data, rerr, partial = sock:receive(1024)
        local chunk = data or partial
        if chunk and chunk ~= "" then
            buf = buf .. chunk
        elseif rerr ~= "timeout" then
            sock:close()
            return nil, tostring(rerr)
        elseif not wait(runner, sock, "read") then
            sock:close()
            return nil, "timeout"
        end
    end
    sock:close()
    local status = tonumber(match(buf, "^HTTP/%d%.%d (%d%d%d)"))
    if not status then return nil, "bad status line" end
    return status
end

---------------------------------------------------------------------------
-- The scheduler's side
---------------------------------------------------------------------------

local function log(self, entry)
    local l = self.log
    if #l >= MAX_LOG then table.remove(l, 1) end
    l[#l + 1] = entry
end

local function run(self, tr, runner)
    while tr.queue[1] do
        local ev = table.remove(tr.queue, 1)
        for attempt = 1, self.copies do
            local status, err = post(runner, tr.url, tr.auth, ev.body)
            log(self, { url = tr.url, eventType = ev.eventType, callId = tr.conv.id,
                        status = status or err, attempt = attempt })
            -- (an https:// URL is expected here, e.g. an example's: logged, not shouted)
            if not status and not err:find("^unsupported url") then
                io.stderr:write("hamsa-mock: webhook ", ev.eventType, " to ", tr.url, ": ", err, "\n")
            end
        end
    end
end

local function resume(self, runner)
    local okr, what = coresume(runner.co)
    if not okr then io.stderr:write("hamsa-mock: webhook: ", tostring(what), "\n") end
    if not okr or costatus(runner.co) == "dead" then
        self.runners[runner] = nil
        runner.tr.running = nil
        return
    end
    runner.wait = what
end

--- Queues what is due by the mock's clock and starts a runner for each
-- call with events queued and none running; forgets a call once its
-- call.ended has been sent.
function Hooks:poll(api)
    local now = api.clock:now()
    for conv, tr in pairs(self.tracked) do
        if not tr.over then tr.over = advance(api, tr, now) end
        if tr.queue[1] and not tr.running then
            local runner = { tr = tr }
            runner.co = cocreate(function() return run(self, tr, runner) end)
            tr.running = runner
            self.runners[runner] = true
            resume(self, runner)
        end
        if tr.over and not tr.running and not tr.queue[1] then self.tracked[conv] = nil end
    end
end

--- Adds the runners' sockets to `readers` / `writers`; the deadline to
-- wake at, at the latest.
function Hooks:watch(readers, writers, deadline)
    for runner in pairs(self.runners) do
        if runner.wait == "read" then readers[#readers + 1] = runner.sock
        elseif runner.wait == "write" then writers[#writers + 1] = runner.sock end
        if runner.deadline < deadline then deadline = runner.deadline end
    end
    if next(self.tracked) then
        local soon = clock() + POLL
        if soon < deadline then deadline = soon end
    end
    return deadline
end

--- Resumes the runners whose socket is ready or whose deadline passed.
function Hooks:run(readable, writable)
    local now, ready = clock(), {}
    for runner in pairs(self.runners) do
        local s = runner.sock
        if runner.deadline <= now or (runner.wait == "read" and readable[s])
            or (runner.wait == "write" and writable[s]) then
            ready[#ready + 1] = runner
        end
    end
    for _, runner in ipairs(ready) do resume(self, runner) end
end

--- The delivery log, as a JSON array.
function Hooks:deliveries()
    return array(self.log)
end

return M
