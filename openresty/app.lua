--- The handlers of openresty/nginx.conf: hamsa inside nginx, where every
-- API call runs on a worker thread (hamsa.openresty) and the worker keeps
-- serving other requests meanwhile.
-- luacheck: globals ngx
local hamsa_ngx = require "hamsa.openresty"

local M = {}

local function reply(status, value)
    ngx.status = status
    ngx.say(hamsa_ngx.json.encode(value))
end

local function failure(err)
    -- err is a hamsa error: kind, message, field, status ... and tostring
    return reply(err.kind == "invalid" and 422 or 502,
        { error = tostring(err), kind = err.kind, field = err.field, status = err.status })
end

local function client(unsafe)
    -- api_key and base_url: HAMSA_API_KEY and HAMSA_BASE_URL (env in nginx.conf)
    -- `unsafe` is what NOT to do (the specs use it to show that their proof
    -- can tell): the plain library blocks the event loop, stalling the worker
    if unsafe then return require("hamsa").new() end
    return hamsa_ngx.new()
end

--- POST /call?to=<E.164>&name=<name>: an agent, then a call with it.
function M.call(opts)
    local c = client(opts and opts.unsafe)
    local args = ngx.req.get_uri_args()
    local agent, err = c.agents:create {
        agentName = "Front desk",
        greetingMessage = "Hello {{name}}, this is the front desk.",
        params = { name = "there" },
    }
    if not agent then return failure(err) end
    local call
    call, err = c.calls:phone_number {
        toNumber = args.to,
        phoneNumber = "+97145551234",
        voiceAgentId = agent.id,
        params = { name = args.name or "there" },
    }
    if not call then return failure(err) end
    return reply(200, { agent = agent.id, jobId = call.jobId })
end

--- POST /follow?to=<E.164>: an agent, a call, and a wait for the call's end
-- (the wait runs on a worker thread too; on_status, a function, cannot
-- cross into it), then every agent through `each` (its pages are `list`
-- calls, each on a worker thread).
function M.follow()
    local c = client()
    local args = ngx.req.get_uri_args()
    local agent, err = c.v2.agents:create { name = "Follower", conversation = { greetingMessage = "Hi!" } }
    if not agent then return failure(err) end
    local v1 = c.agents:create { agentName = "Caller" }
    local call
    call, err = c.calls:phone_number {
        toNumber = args.to, phoneNumber = "+97145551234", voiceAgentId = v1.id, params = {},
    }
    if not call then return failure(err) end
    local conversation
    conversation, err = c.conversations:wait(call.jobId, { interval = 0.2, deadline = 30 })
    if not conversation then return failure(err) end
    local names = {}
    for a, e in c.agents:each({ take = 1 }) do
        if a == false then return failure(e) end
        names[#names + 1] = a.agentName
    end
    return reply(200, { v2 = agent.id, status = conversation.status, agents = hamsa_ngx.array(names) })
end

--- GET /agents: the first page of agents, through client:request.
function M.agents()
    local page, err = client():request("GET", "/v1/voice-agents", nil, { query = { skip = 1, take = 20 } })
    if not page then return failure(err) end
    local names = {}
    for i, a in ipairs(page.voiceAgents or {}) do names[i] = a.agentName end
    return reply(200, { count = #names, names = hamsa_ngx.array(names) })
end

--- POST /webhook: one of Hamsa's webhooks. The answer goes out at once;
-- each new event is logged afterwards (where real work would go: it may
-- call the API through hamsa_ngx.new()). The webhookAuth is env
-- HAMSA_WEBHOOK_AUTH, "<authKey> <authSecret>".
function M.webhook()
    local auth = os.getenv("HAMSA_WEBHOOK_AUTH") or ""
    local key, secret = auth:match("^(%S+) (.+)$")
    if not key then
        ngx.log(ngx.ERR, "HAMSA_WEBHOOK_AUTH is not \"<authKey> <authSecret>\"")
        return ngx.exit(500)
    end
    hamsa_ngx.webhook({ auth_key = key, auth_secret = secret, shared_dict = "hamsa_webhooks" }, function(event)
        ngx.log(ngx.NOTICE, "hamsa webhook: ", event.eventType, " of call ", event.callId)
    end)
end

return M
