-- Specs of the mock's records over time (lua/hamsa/mock/): calls that play
-- out by the magic digits of the number called, terminate, campaigns and
-- knowledge-base items, the clock and seed control routes, and the lists'
-- filters and paging. Over real HTTP with LuaSocket; the clock is frozen
-- and moved by hand, so nothing here sleeps but the clock's own specs.

local socket = require("socket")
local cjson = require("cjson")
local helpers = require("spec.helpers")
local routes = require("hamsa.routes")

local KEY = "test-key"
local UUID4 = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local ISO = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"
local V1 = "/v1/voice-agents"
local FINAL = { COMPLETED = true, NO_ANSWER = true, FAILED = true, FORWARDED = true, TERMINATED = true }

local server

-- One authenticated API call: status and decoded body.
local function api(method, path, body)
    local text = body ~= nil and (type(body) == "string" and body or cjson.encode(body)) or nil
    local status, raw = helpers.http(method, server.url .. path, text, { authorization = "Token " .. KEY })
    assert(status, raw)
    local ok, decoded = pcall(cjson.decode, raw)
    return status, ok and decoded or raw
end

-- The data of a 200, else the spec fails with the answer.
local function data(method, path, body)
    local status, res = api(method, path, body)
    assert.equal(200, status, cjson.encode(res))
    assert.is_true(res.success)
    return res.data, res
end

local function agent(fields)
    return data("POST", V1, fields or { agentName = "Nour", greetingMessage = "Hello {{name}}, this is Nour.",
                                        params = { name = "there" } })
end

local function call(a, to, params)
    return data("POST", V1 .. "/phone-number/call",
        { toNumber = to, phoneNumber = "+97145551234", voiceAgentId = a.id, params = params or {} }).jobId
end

local function conversation(id)
    return data("GET", V1 .. "/conversation/" .. id)
end

-- Epoch milliseconds of an ISO-8601 UTC time with milliseconds.
local function epoch_ms(iso)
    local y, m, d, H, M, S, f = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.(%d+)Z$")
    y, m, d = tonumber(y), tonumber(m), tonumber(d)
    if m <= 2 then y = y - 1 end
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local doy = math.floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
    local days = era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
    return ((days * 24 + H) * 60 + M) * 60000 + S * 1000 + tonumber(f)
end

local function advance(seconds)
    return server:clock{ advance = seconds }
end

describe("the mock's playout", function()
    helpers.mock_suite({ lazy_setup, lazy_teardown, before_each }, { clean = "reset" }, function(s) server = s end)
    before_each(function() server:clock{ freeze = true } end)

    describe("calls", function()
        it("end by the last four digits of the number called, at call_seconds (2)", function()
            local a = agent()
            local want = { ["+971501230000"] = "COMPLETED", ["+971501234001"] = "NO_ANSWER",
                           ["+971501234002"] = "FAILED", ["+971501234003"] = "FORWARDED",
                           ["+971501234004"] = "TERMINATED", ["+97150123400"] = "COMPLETED" }
            local ids = {}
            for to in pairs(want) do ids[to] = call(a, to) end
            for _, id in pairs(ids) do assert.equal("PENDING", conversation(id).status) end
            advance(0.45)
            for _, id in pairs(ids) do assert.equal("PENDING", conversation(id).status) end
            advance(0.1)   -- past a quarter of call_seconds
            for _, id in pairs(ids) do assert.equal("IN_PROGRESS", conversation(id).status) end
            advance(1.4)
            for _, id in pairs(ids) do assert.equal("IN_PROGRESS", conversation(id).status) end
            advance(0.1)   -- past call_seconds
            for to, id in pairs(ids) do assert.equal(want[to], conversation(id).status, to) end
            advance(3600)
            for to, id in pairs(ids) do assert.equal(want[to], conversation(id).status, to) end
        end)

        it("an answered call has a duration, a recording and a transcript with the greeting filled", function()
            local a = agent()
            local id = call(a, "+971501110000", { name = "Layla", ref = 42 })
            local c = conversation(id)
            assert.equal(0, c.callDuration)
            assert.equal(cjson.null, c.mediaUrl)
            assert.same({}, c.jobResponse.transcription)
            advance(1.2)
            c = conversation(id)
            assert.equal("IN_PROGRESS", c.status)
            assert.is_true(c.callDuration >= 0 and c.callDuration <= 1)
            assert.equal(cjson.null, c.mediaUrl)
            assert.same({ Agent = "Hello Layla, this is Nour." }, c.jobResponse.transcription[1])
            advance(1)
            c = conversation(id)
            assert.equal("COMPLETED", c.status)
            assert.equal(2, c.callDuration)     -- 1.5 s of talk, rounded up
            assert.equal(server.url .. "/recordings/" .. id .. ".wav", c.mediaUrl)
            local t = c.jobResponse.transcription
            assert.is_true(#t >= 3)
            assert.same({ Agent = "Hello Layla, this is Nour." }, t[1])
            assert.is_string(t[2].User)
            assert.same({ name = "Layla", ref = 42 }, c.jobResponse.outcomeResult)
            -- the record's shape
            assert.equal(id, c.id)
            assert.equal("VOICE_AGENTS", c.type)
            assert.equal("real-time", c.processingType)
            assert.equal("TELEPHONE", c.channelType)
            assert.equal(a.id, c.voiceAgentId)
            assert.equal("Nour", c.agentDetails.agentName)
            assert.same({ userNumber = "+971501110000", machineNumber = "+97145551234" }, c.callParams)
            assert.matches(ISO, c.createdAt)
            assert.is_true(c.updatedAt > c.createdAt)
            assert.same({}, c.callAnalysis)
            local statuses = {}
            for i, entry in ipairs(c.logs) do
                assert.matches(UUID4, entry.id)
                assert.matches(ISO, entry.timestamp)
                statuses[i] = entry.payload.status
            end
            assert.same({ "PENDING", "IN_PROGRESS", "COMPLETED" }, statuses)
            assert.same(c.logs, conversation(id).logs)   -- stable ids
        end)

        it("NO_ANSWER and FAILED calls were never answered: no duration, recording or transcript", function()
            local a = agent()
            local ids = { call(a, "+971501234001"), call(a, "+971501234002") }
            advance(2.1)
            for _, id in ipairs(ids) do
                local c = conversation(id)
                assert.is_true(FINAL[c.status])
                assert.equal(0, c.callDuration)
                assert.equal(cjson.null, c.mediaUrl)
                assert.same({}, c.jobResponse.transcription)
            end
        end)

        it("FORWARDED and TERMINATED (the far side hung up) calls were answered", function()
            local a = agent()
            local ids = { call(a, "+971501234003"), call(a, "+971501234004") }
            advance(2.1)
            for _, id in ipairs(ids) do
                local c = conversation(id)
                assert.is_true(c.callDuration >= 1)
                assert.equal(server.url .. "/recordings/" .. id .. ".wav", c.mediaUrl)
                assert.is_true(#c.jobResponse.transcription >= 2)
            end
        end)

        it("inline agentDetails: its own params fill its greeting; twilio and start answer a job whose id is the call",
            function()
                local job = data("POST", V1 .. "/twilio/call", {
                    toNumber = "+971501110000", twilioPhoneNumber = "+14155550100",
                    agentDetails = { agentName = "Inline", greetingMessage = "Hi {{ who }}!", params = { who = "Omar" } },
                })
                assert.equal("PENDING", job.status)
                local started = data("POST", V1 .. "/call", { toNumber = "+971501234002", voiceAgentId = agent().id })
                assert.equal("PENDING", started.status)
                assert.same({ machineNumber = "+18449292835", userNumber = "+971501234002" }, started.callParams)
                advance(2.1)
                local c = conversation(job.id)
                assert.equal("COMPLETED", c.status)
                assert.same({ Agent = "Hi Omar!" }, c.jobResponse.transcription[1])
                assert.same({ machineNumber = "+14155550100", userNumber = "+971501110000" }, c.callParams)
                assert.equal("FAILED", conversation(started.id).status)
            end)

        it("terminate: a live call becomes TERMINATED at once, an ended one stays; 404 for an unknown id", function()
            local a = agent()
            local live, unanswered = call(a, "+971501110002"), call(a, "+971501234001")
            advance(1)
            local status, res = api("GET", V1 .. "/conversation/" .. live .. "/terminate")
            assert.equal(200, status)
            assert.equal("ConversationTerminatedSuccessfully", res.messageKey)
            assert.equal("TERMINATED", res.data.status)
            assert.is_true(#res.data.jobResponse.transcription >= 1)
            assert.matches("/recordings/", res.data.mediaUrl)
            advance(5)
            local c = conversation(live)
            assert.equal("TERMINATED", c.status)
            assert.equal(1, c.callDuration)          -- 0.5 s of talk, rounded up
            assert.equal("TERMINATED", c.logs[#c.logs].payload.status)
            -- one that has ended stays as it is
            status, res = api("GET", V1 .. "/conversation/" .. unanswered .. "/terminate")
            assert.equal(200, status)
            assert.equal("ConversationTerminatedSuccessfully", res.messageKey)
            assert.equal("NO_ANSWER", res.data.status)
            -- one terminated before it was answered
            local fresh = call(a, "+971501110003")
            res = data("GET", V1 .. "/conversation/" .. fresh .. "/terminate")
            assert.equal("TERMINATED", res.status)
            assert.equal(0, res.callDuration)
            assert.equal(cjson.null, res.mediaUrl)
            assert.same({}, res.jobResponse.transcription)
            advance(5)
            assert.equal("TERMINATED", data("GET", V1 .. "/conversation/" .. fresh .. "/terminate").status)
            status, res = api("GET", V1 .. "/conversation/00000000-0000-4000-8000-000000000000/terminate")
            assert.equal(404, status)
            assert.equal("CONVERSATION_NOT_FOUND", res.messageKey)
            assert.equal(404, (api("GET", V1 .. "/conversation/nope")))
        end)
    end)

    describe("the call list (minimal-list)", function()
        it("filters by agent, repeated status and createdAt bounds (inclusive), pages by page/perPage", function()
            local a, b = agent(), agent({ agentName = "Other" })
            local ids = {}
            for i = 1, 5 do ids[i] = call(a, "+97150111400" .. i) end   -- 4001 .. 4005
            ids[6] = call(b, "+971501110000")
            advance(2.5)
            local all = data("GET", V1 .. "/conversations/minimal-list")
            assert.equal(6, all.total)
            assert.equal(6, all.filtered)
            for i, c in ipairs(all.calls) do assert.equal(ids[i], c.id) end
            local first = all.calls[1]
            assert.same({ "agentName", "callParams", "channelType", "createdAt", "duration", "id", "status",
                          "voiceAgentId" }, (function()
                local keys = {}
                for k in pairs(first) do keys[#keys + 1] = k end
                table.sort(keys)
                return keys
            end)())
            assert.equal("Telephone", first.channelType)
            assert.equal("Nour", first.agentName)
            assert.equal("NO_ANSWER", first.status)

            local got = data("GET", V1 .. "/conversations/minimal-list?voiceAgentId=" .. b.id)
            assert.equal(6, got.total)
            assert.equal(1, got.filtered)
            assert.equal(ids[6], got.calls[1].id)
            got = data("GET", V1 .. "/conversations/minimal-list?status=FAILED&status=FORWARDED")
            assert.equal(2, got.filtered)
            assert.same({ ids[2], ids[3] }, { got.calls[1].id, got.calls[2].id })
            got = data("GET", V1 .. "/conversations/minimal-list?status=COMPLETED&voiceAgentId=" .. a.id)
            assert.equal(1, got.filtered)   -- ...4005
            assert.equal(ids[5], got.calls[1].id)

            -- createdAt bounds in epoch milliseconds, inclusive
            local ms = {}
            for i, c in ipairs(all.calls) do ms[i] = epoch_ms(c.createdAt) end
            got = data("GET", ("%s/conversations/minimal-list?startTime=%d&endTime=%d"):format(V1, ms[2], ms[4]))
            assert.equal(3, got.filtered)
            assert.same({ ids[2], ids[3], ids[4] }, { got.calls[1].id, got.calls[2].id, got.calls[3].id })
            got = data("GET", ("%s/conversations/minimal-list?startTime=%d"):format(V1, ms[6] + 1))
            assert.equal(0, got.filtered)
            assert.same({}, got.calls)

            -- pages
            got = data("GET", V1 .. "/conversations/minimal-list?page=2&perPage=4")
            assert.equal(2, #got.calls)
            assert.equal(ids[5], got.calls[1].id)
            got = data("GET", V1 .. "/conversations/minimal-list?page=2&perPage=2&status=NO_ANSWER&status=COMPLETED")
            assert.equal(3, got.filtered)
            assert.equal(1, #got.calls)
            for _, q in ipairs({ "perPage=201", "perPage=0", "page=0", "page=x", "startTime=-1",
                                 "startTime=5&endTime=4" }) do
                local status, res = api("GET", V1 .. "/conversations/minimal-list?" .. q)
                assert.equal(400, status, q)
                assert.equal("VALIDATION_ERROR", res.messageKey, q)
            end
            assert.equal(200, (api("GET", V1 .. "/conversations/minimal-list?perPage=200")))
        end)
    end)

    describe("campaigns", function()
        local function campaign(a, fields)
            local body = {
                name = "Reminders", phoneNumber = "+97145551234", voiceAgentId = a.id, sendType = "NOW",
                recipients = {
                    { phoneNumber = "+971501110001", name = "Layla", dynamicVariables = { name = "Layla" } },
                    { phoneNumber = "+971501114001", name = "Omar", dynamicVariables = { name = "Omar" } },
                    { phoneNumber = "+971501114002", name = "Mariam" },
                },
            }
            for k, v in pairs(fields or {}) do body[k] = v end
            local created, res = data("POST", V1 .. "/campaigns", body)
            assert.equal("CAMPAIGN_CREATED_SUCCESSFULLY", res.messageKey)
            return created
        end

        local function get(id) return data("GET", V1 .. "/campaigns/" .. id) end

        local function by_name(c)
            local out = {}
            for group, list in pairs(c.recipients) do
                for _, r in ipairs(list) do out[r.name] = r; r.group = group end
            end
            return out
        end

        it("SCHEDULED, RUNNING, then COMPLETED; recipients PENDING, QUEUED, IN_PROGRESS, then by their digits",
            function()
                local a = agent()
                local c = campaign(a)
                assert.matches(UUID4, c.id)
                assert.equal("SCHEDULED", c.status)
                local got = get(c.id)
                assert.equal(3, got.totalRecipients)
                assert.equal("Nour", got.agentName)
                for _, g in ipairs({ "pending", "queued", "inProgress", "completed", "failed", "noAnswer" }) do
                    assert.is_table(got.recipients[g], g)
                end
                assert.equal(3, #got.recipients.pending)
                local r = got.recipients.pending[1]
                assert.matches(UUID4, r.id)
                assert.equal(c.id, r.campaignId)
                assert.equal(0, r.attempts)
                assert.equal(3, r.maxAttempts)
                assert.equal(cjson.null, r.jobId)
                assert.equal(cjson.null, r.nextRetryAt)
                assert.equal(cjson.null, r.lastError)
                assert.equal(cjson.null, r.completedAt)
                assert.equal(0, data("GET", V1 .. "/conversations/minimal-list").total)

                advance(0.55)
                got = get(c.id)
                assert.equal("RUNNING", got.status)
                assert.equal(3, #got.recipients.queued)
                advance(0.5)
                got = get(c.id)
                assert.equal(3, #got.recipients.inProgress)
                local people = by_name(got)
                assert.equal(1, people.Layla.attempts)
                local job = conversation(people.Layla.jobId)
                assert.equal("+971501110001", job.callParams.userNumber)
                assert.equal("+97145551234", job.callParams.machineNumber)
                assert.equal(3, data("GET", V1 .. "/conversations/minimal-list").total)

                advance(2)
                got = get(c.id)
                assert.equal("COMPLETED", got.status)
                people = by_name(got)
                assert.equal("COMPLETED", people.Layla.status)
                assert.equal("completed", people.Layla.group)
                assert.equal("NO_ANSWER", people.Omar.status)
                assert.equal("noAnswer", people.Omar.group)
                assert.equal("FAILED", people.Mariam.status)
                assert.equal("failed", people.Mariam.group)
                assert.is_string(people.Mariam.lastError)
                assert.matches(ISO, people.Layla.completedAt)
                assert.same({ Agent = "Hello Layla, this is Nour." },
                    conversation(people.Layla.jobId).jobResponse.transcription[1])
            end)

        it("calls reservedConcurrency recipients at a time", function()
            local c = campaign(agent(), { reservedConcurrency = 2 })
            advance(1.05)
            local got = get(c.id)
            assert.equal(2, #got.recipients.inProgress)
            assert.equal(1, #got.recipients.queued)
            advance(2)
            got = get(c.id)
            assert.equal("RUNNING", got.status)
            assert.equal(1, #got.recipients.inProgress)
            advance(2)
            assert.equal("COMPLETED", get(c.id).status)
        end)

        it("a scheduled one waits for its scheduledDate (one already passed starts at once)", function()
            local now = server:clock().now
            local later = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(now) + 60)
            local a = agent()
            local c = campaign(a, { sendType = "SCHEDULED", scheduledDate = later, scheduledTimezone = "Asia/Dubai" })
            local past = campaign(a, { sendType = "SCHEDULED", scheduledDate = "2020-01-01T09:00:00+04:00" })
            advance(30)
            assert.equal("SCHEDULED", get(c.id).status)
            assert.equal("COMPLETED", get(past.id).status)
            advance(31)
            assert.equal("RUNNING", get(c.id).status)
            local status, res = api("POST", V1 .. "/campaigns", { name = "x", phoneNumber = "+971", voiceAgentId = a.id,
                sendType = "SCHEDULED", scheduledDate = "tomorrow", recipients = { { phoneNumber = "+9715" } } })
            assert.equal(400, status)
            assert.equal("VALIDATION_ERROR", res.messageKey)
        end)

        it("list: skip is an offset; search, voiceAgentId; update renames; 404 and 400", function()
            local a, b = agent(), agent({ agentName = "B" })
            for i = 1, 4 do campaign(i < 4 and a or b, { name = "Batch " .. i }) end
            local got = data("GET", V1 .. "/campaigns?skip=1&take=2")
            assert.equal(4, got.totalCount)
            assert.equal(2, got.returnedCount)
            assert.equal("Batch 2", got.campaigns[1].name)
            assert.equal(3, got.campaigns[1].recipientsCount)
            assert.is_nil(got.campaigns[1].recipients)
            got = data("GET", V1 .. "/campaigns")
            assert.equal(4, got.returnedCount)
            got = data("GET", V1 .. "/campaigns?search=batch%203")
            assert.equal(1, got.totalCount)
            got = data("GET", V1 .. "/campaigns?voiceAgentId=" .. b.id)
            assert.equal("Batch 4", got.campaigns[1].name)
            local id = got.campaigns[1].id
            local renamed, res = data("PATCH", V1 .. "/campaigns/" .. id, { name = "Renamed", sendType = "x" })
            assert.equal("Renamed", renamed.name)
            assert.equal("NOW", renamed.sendType)
            assert.equal("CAMPAIGN_UPDATED_SUCCESSFULLY", res.messageKey)
            assert.equal("Renamed", get(id).name)
            local status
            status, res = api("GET", V1 .. "/campaigns/nope")
            assert.equal(404, status)
            assert.equal("CAMPAIGN_NOT_FOUND", res.messageKey)
            assert.equal(400, (api("PATCH", V1 .. "/campaigns/" .. id, {})))
            assert.equal(400, (api("GET", V1 .. "/campaigns?skip=-1")))
            for _, bad in ipairs({ { name = "" }, { recipients = {} }, { recipients = { { name = "no number" } } } }) do
                local body = { name = "x", phoneNumber = "+97145551234", voiceAgentId = a.id,
                               recipients = { { phoneNumber = "+971501110001" } } }
                for k, v in pairs(bad) do body[k] = v end
                assert.equal(400, (api("POST", V1 .. "/campaigns", body)), cjson.encode(bad))
            end
            status = api("POST", V1 .. "/campaigns", { name = "x", phoneNumber = "+9714", voiceAgentId = "nope",
                                                        recipients = { { phoneNumber = "+971501110001" } } })
            assert.equal(404, status)
        end)
    end)

    describe("the knowledge base", function()
        it("items go PROCESSING, then PROCESSED (or FAILED when named fail...) at call_seconds", function()
            local items, res = data("POST", V1 .. "/knowledge-base", { items = {
                { itemName = "FAQ", type = "TEXT", content = "Open nine to five, Sunday to Thursday." },
                { itemName = "failing page", type = "URL", itemUrl = "https://example.com/a",
                  itemUrls = { "https://example.com/b" } },
            } })
            assert.equal("KNOWLEDGE_BASE_ITEMS_CREATED_SUCCESSFULLY", res.messageKey)
            assert.equal(2, #items)
            local faq, page = items[1], items[2]
            assert.matches(UUID4, faq.id)
            assert.equal("PROCESSING", faq.status)
            assert.equal(cjson.null, faq.failureReason)
            assert.is_true(faq.isActive)
            assert.is_false(faq.used)
            assert.equal(0, faq.wordsNumber)
            assert.equal(0, faq.fileSize)
            advance(2.1)
            local got = data("GET", V1 .. "/knowledge-base/" .. faq.id)
            assert.equal("PROCESSED", got.status)
            assert.equal(7, got.wordsNumber)
            assert.equal(#"Open nine to five, Sunday to Thursday.", got.fileSize)
            got = data("GET", V1 .. "/knowledge-base/" .. page.id)
            assert.equal("FAILED", got.status)
            assert.is_string(got.failureReason)

            -- rename, remove URLs
            got = data("PATCH", V1 .. "/knowledge-base/" .. faq.id, { itemName = "Hours" })
            assert.equal("Hours", got.itemName)
            assert.equal("PROCESSED", got.status)
            local deleted
            got, deleted = data("DELETE", V1 .. "/knowledge-base/" .. page.id .. "/url", { url = "https://example.com/b" })
            assert.equal("URL_DELETED_SUCCESSFULLY", deleted.messageKey)
            assert.same({}, got.itemUrls)
            got = data("DELETE", V1 .. "/knowledge-base/" .. page.id .. "/url", { url = "https://example.com/a" })
            assert.equal(cjson.null, got.itemUrl)
            local status
            status, res = api("DELETE", V1 .. "/knowledge-base/" .. page.id .. "/url", { url = "https://example.com/a" })
            assert.equal(404, status)
            assert.equal("URL_NOT_FOUND", res.messageKey)
            status = api("DELETE", V1 .. "/knowledge-base/nope/url", { url = "https://example.com/a" })
            assert.equal(404, status)
            assert.equal(404, (api("GET", V1 .. "/knowledge-base/nope")))
            assert.equal(400, (api("PATCH", V1 .. "/knowledge-base/" .. faq.id, { itemName = "" })))
            assert.equal(400, (api("POST", V1 .. "/knowledge-base", { items = {} })))
            assert.equal(400, (api("POST", V1 .. "/knowledge-base", { items = { { type = "TEXT" } } })))
        end)

        it("lists by page (skip and take as strings): { total, filtered, items }, with search and type", function()
            local batch = {}
            for i = 1, 5 do batch[i] = { itemName = "Doc " .. i, type = i % 2 == 0 and "URL" or "TEXT" } end
            data("POST", V1 .. "/knowledge-base", { items = batch })
            local got = data("GET", V1 .. "/knowledge-base/list?skip=2&take=2")
            assert.equal(5, got.total)
            assert.equal(5, got.filtered)
            assert.same({ "Doc 3", "Doc 4" }, { got.items[1].itemName, got.items[2].itemName })
            got = data("GET", V1 .. "/knowledge-base/list?type=URL")
            assert.equal(2, got.filtered)
            got = data("GET", V1 .. "/knowledge-base/list?search=doc%205&isActive=true")
            assert.equal(1, got.filtered)
            got = data("GET", V1 .. "/knowledge-base/list?used=true")
            assert.equal(0, got.filtered)
            assert.equal(400, (api("GET", V1 .. "/knowledge-base/list?skip=0")))
        end)
    end)

    describe("phone numbers", function()
        local function register(number, kind)
            return data("POST", V1 .. "/phone-number", { type = kind or "TWILIO", phoneNumber = number,
                label = "Line " .. number, twilioAccountSid = "AC123", twilioAuthToken = "secret-token" })
        end

        it("register (no credentials answered), list (a bare array by page), assign and unassign", function()
            local p = register("+97145550001")
            assert.matches(UUID4, p.id)
            assert.equal("+97145550001", p.number)
            assert.equal("Line +97145550001", p.label)
            assert.equal("TWILIO", p.type)
            assert.equal(cjson.null, p.voiceAgentId)
            assert.matches(ISO, p.createdAt)
            assert.is_nil(p.twilioAuthToken)
            assert.is_nil(p.twilioAccountSid)
            for i = 2, 5 do register("+9714555000" .. i, i == 5 and "SIP" or nil) end
            local list = data("GET", V1 .. "/phone-number/list?skip=2&take=2")
            assert.same({ "+97145550003", "+97145550004" }, { list[1].number, list[2].number })
            assert.equal(5, #data("GET", V1 .. "/phone-number/list"))
            list = data("GET", V1 .. "/phone-number/list?skip=3&take=2")
            assert.equal(1, #list)
            list = data("GET", V1 .. "/phone-number/list?provider=SIP")
            assert.equal("+97145550005", list[1].number)
            assert.equal(400, (api("GET", V1 .. "/phone-number/list?skip=0")))

            local a = agent()
            local assigned = data("POST", V1 .. "/assign-number", { voiceAgentId = a.id, phoneNumber = "+97145550002" })
            assert.equal(a.id, assigned.voiceAgentId)
            assert.equal("+97145550002", assigned.number)
            list = data("GET", V1 .. "/phone-number/list?voiceAgentId=" .. a.id)
            assert.equal(1, #list)
            local status, res = api("POST", V1 .. "/assign-number", { voiceAgentId = a.id, phoneNumber = "+1555" })
            assert.equal(404, status)
            assert.equal("PHONE_NUMBER_NOT_FOUND", res.messageKey)
            status, res = api("POST", V1 .. "/assign-number", { voiceAgentId = "nope", phoneNumber = "+97145550002" })
            assert.equal(404, status)
            assert.equal("VOICE_AGENT_NOT_FOUND", res.messageKey)
            assert.equal(400, (api("POST", V1 .. "/assign-number", { phoneNumber = "+97145550002" })))

            local text = data("POST", V1 .. "/unassign", { phoneNumber = "+97145550002" })
            assert.equal("Agents unassigned from +97145550002", text)
            assert.same({}, data("GET", V1 .. "/phone-number/list?voiceAgentId=" .. a.id))
            assert.equal(404, (api("POST", V1 .. "/unassign", { phoneNumber = "+1555" })))
            assert.equal(400, (api("POST", V1 .. "/phone-number", { label = "no number" })))
        end)
    end)

    describe("v2 agents", function()
        it("create, get, update (each group merged), list; a v2 agent places calls too", function()
            local a = data("POST", "/v2/voice-agents", {
                name = "Nour v2", type = "Single Prompt",
                conversation = { greetingMessage = "Marhaba {{name}}!", params = { name = "friend" } },
                voice = { voiceId = "en-US-Neural2-A", lang = "en" },
                callSettings = { interrupt = true },
            })
            assert.matches(UUID4, a.id)
            assert.matches(ISO, a.createdAt)
            assert.equal("Marhaba {{name}}!", a.conversation.greetingMessage)
            assert.same(a, data("GET", "/v2/voice-agents/" .. a.id))
            local u = data("PATCH", "/v2/voice-agents/" .. a.id, { voice = { lang = "ar" }, llm = { model = "gpt-4" } })
            assert.same({ voiceId = "en-US-Neural2-A", lang = "ar" }, u.voice)
            assert.same({ model = "gpt-4" }, u.llm)
            assert.is_true(u.updatedAt > a.updatedAt)
            for i = 2, 3 do data("POST", "/v2/voice-agents", { name = "v2 #" .. i }) end
            local page = data("GET", "/v2/voice-agents?skip=2&take=2")
            assert.equal(3, page.total)
            assert.equal(3, page.filtered)
            assert.equal("v2 #3", page.voiceAgents[1].name)
            assert.equal(0, data("GET", V1).total)   -- v1 and v2 agents are listed apart
            assert.equal(404, (api("GET", "/v2/voice-agents/nope")))
            assert.equal(404, (api("PATCH", "/v2/voice-agents/nope", { name = "x" })))
            assert.equal(400, (api("POST", "/v2/voice-agents", { voice = {} })))
            assert.equal(400, (api("POST", "/v2/voice-agents", { name = "x", voice = "loud" })))
            assert.equal(401, (helpers.http("GET", server.url .. "/v2/voice-agents")))

            local id = call(a, "+971501110000")
            advance(2.1)
            assert.same({ Agent = "Marhaba friend!" }, conversation(id).jobResponse.transcription[1])
        end)
    end)

    describe("the clock", function()
        before_each(function() server:clock{ reset = true } end)

        it("reads { now, speed, frozen }: real time at first", function()
            local c = server:clock()
            assert.equal(1, c.speed)
            assert.is_false(c.frozen)
            assert.is_true(math.abs(c.now - socket.gettime()) < 1)
        end)

        it("freezes, thaws from where it stood, advances, runs faster; reset is real time again", function()
            local frozen = server:clock{ freeze = true }
            assert.is_true(frozen.frozen)
            socket.sleep(0.05)
            assert.equal(frozen.now, server:clock().now)
            local thawed = server:clock{ freeze = false }
            assert.is_false(thawed.frozen)
            assert.is_true(thawed.now - frozen.now < 0.04)   -- the 50 ms frozen did not pass
            local before = server:clock().now
            local ahead = server:clock{ advance = 5 }
            assert.is_true(ahead.now - before >= 5 and ahead.now - before < 5.5)
            local fast = server:clock{ speed = 10 }
            assert.equal(10, fast.speed)
            socket.sleep(0.2)
            local moved = server:clock().now - fast.now
            assert.is_true(moved > 1.5 and moved < 4, "moved " .. moved)
            local real = server:clock{ reset = true }
            assert.equal(1, real.speed)
            assert.is_true(math.abs(real.now - socket.gettime()) < 1)
        end)

        it("at speed 10 a call of 2 s is over in a fifth of a second", function()
            server:clock{ speed = 10 }
            local id = call(agent(), "+971501234003")
            socket.sleep(0.3)
            assert.equal("FORWARDED", conversation(id).status)
        end)

        it("refuses what it cannot do, and changes nothing then; POST /__mock/reset resets it", function()
            for _, bad in ipairs({ { speed = 0 }, { speed = -2 }, { advance = -1 }, { freeze = "yes" },
                                   { warp = 1 }, { speed = 2, advance = -1 } }) do
                local status, raw = helpers.http("POST", server.url .. "/__mock/clock", cjson.encode(bad))
                assert.equal(400, status, cjson.encode(bad))
                assert.equal("BAD_REQUEST", cjson.decode(raw).messageKey)
            end
            assert.equal(400, (helpers.http("POST", server.url .. "/__mock/clock", "[1]")))
            assert.equal(1, server:clock().speed)
            server:clock{ speed = 50, freeze = true, advance = 100 }
            server:reset()
            local c = server:clock()
            assert.equal(1, c.speed)
            assert.is_false(c.frozen)
            assert.is_true(math.abs(c.now - socket.gettime()) < 1)
        end)
    end)

    describe("seed", function()
        it("makes 20000 agents well under a second or two, listed page by page", function()
            local start = socket.gettime()
            local got = server:seed{ agents = 20000 }
            local took = socket.gettime() - start
            assert.is_true(took < 1.5, ("seeding took %.2f s"):format(took))
            assert.equal(20000, got.agents)
            assert.equal(20000, got.totals.agents)
            local page = data("GET", V1 .. "?skip=2000&take=10")
            assert.equal(20000, page.total)
            assert.equal(10, #page.voiceAgents)
            assert.equal("Seeded agent 20000", page.voiceAgents[10].agentName)
            assert.same({}, data("GET", V1 .. "?skip=2001&take=10").voiceAgents)
        end)

        it("seeded calls, campaigns and items have played out; numbers are listed", function()
            local got = server:seed{ conversations = 10, campaigns = 3, knowledge_base = 3, phone_numbers = 25 }
            assert.same({ agents = 1, conversations = 13, campaigns = 3, knowledge_base = 3, phone_numbers = 25 },
                got.totals)   -- one agent made to own them; each campaign's call is a conversation
            local calls = data("GET", V1 .. "/conversations/minimal-list?perPage=200").calls
            local statuses = {}
            for i, c in ipairs(calls) do
                -- the seeded calls to +1555...; those of the campaigns' recipients go to +1556...
                if c.callParams.userNumber:match("^%+1555") then statuses[#statuses + 1] = c.status end
                assert.is_true(FINAL[c.status])
                if i > 1 then assert.is_true(c.createdAt >= calls[i - 1].createdAt) end
            end
            assert.equal(10, #statuses)
            assert.same({ "COMPLETED", "NO_ANSWER", "FAILED", "FORWARDED", "TERMINATED" },
                { statuses[1], statuses[2], statuses[3], statuses[4], statuses[5] })
            local list = data("GET", V1 .. "/campaigns").campaigns
            assert.equal(3, #list)
            local recipients = {}
            for i, c in ipairs(list) do
                assert.equal("COMPLETED", c.status)
                local full = data("GET", V1 .. "/campaigns/" .. c.id)
                for group, rs in pairs(full.recipients) do
                    if rs[1] then recipients[i] = group end
                end
            end
            assert.same({ "completed", "noAnswer", "failed" }, recipients)
            local kb = data("GET", V1 .. "/knowledge-base/list")
            assert.equal(3, kb.total)
            assert.equal("PROCESSED", kb.items[1].status)
            assert.equal(5, #data("GET", V1 .. "/phone-number/list?skip=5&take=5"))
        end)

        it("pages through 20000 calls, 200 at a time, quickly", function()
            server:seed{ conversations = 20000 }
            local start = socket.gettime()
            local last = data("GET", V1 .. "/conversations/minimal-list?page=100&perPage=200")
            local filtered = data("GET", V1 .. "/conversations/minimal-list?status=FAILED&perPage=200&page=20")
            assert.is_true(socket.gettime() - start < 1)
            assert.equal(20000, last.total)
            assert.equal(200, #last.calls)
            assert.equal(4000, filtered.filtered)
            assert.equal(200, #filtered.calls)
            assert.same({}, data("GET", V1 .. "/conversations/minimal-list?page=101&perPage=200").calls)
        end)

        it("refuses unknown kinds and counts that are not whole numbers within 0..100000", function()
            for _, bad in ipairs({ { robots = 1 }, { agents = -1 }, { agents = 1.5 }, { agents = "3" },
                                   { agents = 100001 } }) do
                local status, raw = helpers.http("POST", server.url .. "/__mock/seed", cjson.encode(bad))
                assert.equal(400, status, cjson.encode(bad))
                assert.equal("BAD_REQUEST", cjson.decode(raw).messageKey)
            end
            assert.equal(0, data("GET", V1).total)
        end)
    end)

    describe("the route table", function()
        -- A minimal body per row, given the records made below.
        local BODY = {
            ["agents.create"] = function() return { agentName = "Route" } end,
            ["agents.clone"] = function() return {} end,
            ["agents.update"] = function() return { lang = "en" } end,
            ["v2.agents.create"] = function() return { name = "Route v2" } end,
            ["v2.agents.update"] = function() return { voice = { lang = "en" } } end,
            ["calls.phone_number"] = function(r)
                return { toNumber = "+971501110000", phoneNumber = "+97145550001", voiceAgentId = r.agent }
            end,
            ["calls.twilio"] = function(r)
                return { toNumber = "+971501110000", twilioPhoneNumber = "+97145550001", voiceAgentId = r.agent }
            end,
            ["calls.start"] = function(r) return { toNumber = "+971501110000", voiceAgentId = r.agent } end,
            ["phone_numbers.create"] = function()
                return { type = "TWILIO", phoneNumber = "+97145550009", label = "x", twilioAccountSid = "AC",
                         twilioAuthToken = "t" }
            end,
            ["phone_numbers.assign"] = function(r) return { voiceAgentId = r.agent, phoneNumber = "+97145550001" } end,
            ["phone_numbers.unassign"] = function() return { phoneNumber = "+97145550001" } end,
            ["campaigns.create"] = function(r)
                return { name = "c", phoneNumber = "+97145550001", voiceAgentId = r.agent, sendType = "NOW",
                         recipients = { { phoneNumber = "+971501110000" } } }
            end,
            ["campaigns.update"] = function() return { name = "renamed" } end,
            ["knowledge_base.create"] = function() return { items = { { itemName = "i", type = "TEXT" } } } end,
            ["knowledge_base.update"] = function() return { itemName = "renamed" } end,
            ["knowledge_base.remove_url"] = function() return { url = "https://example.com/1" } end,
        }

        it("serves every row with a real record of its kind and a minimal body", function()
            local r = { agent = agent().id }
            r.v2 = data("POST", "/v2/voice-agents", { name = "v2" }).id
            r.conversation = call({ id = r.agent }, "+971501110000")
            data("POST", V1 .. "/phone-number", { type = "TWILIO", phoneNumber = "+97145550001", label = "l" })
            r.campaign = data("POST", V1 .. "/campaigns", BODY["campaigns.create"](r)).id
            r.item = data("POST", V1 .. "/knowledge-base", { items = { { itemName = "k", itemUrls = {
                "https://example.com/1" } } } })[1].id
            local ID = { voiceAgentId = r.agent, conversationId = r.conversation, campaignId = r.campaign,
                         itemId = r.item }
            for _, row in ipairs(routes) do
                local key = row.resource .. "." .. row.name
                local path = row.path:gsub("{(%w+)}", function(name)
                    return key:match("^v2%.") and r.v2 or ID[name]
                end)
                local body = (row.body or row.body_args) and assert(BODY[key], "no body for " .. key)(r) or nil
                local status, res = api(row.method, path, body)
                assert.equal(200, status, key .. ": " .. row.method .. " " .. path .. " -> " .. cjson.encode(res))
                assert.is_true(res.success, key)
            end
        end)
    end)
end)

describe("bin/hamsa-mock --call-seconds", function()
    it("sets how long a call lasts on the real clock", function()
        server = helpers.start_mock{ call_seconds = 0.2 }
        finally(function() server:stop() end)
        local id = call(agent(), "+971501234004")
        assert.equal("PENDING", conversation(id).status)
        socket.sleep(0.3)
        local c = conversation(id)
        assert.equal("TERMINATED", c.status)
        assert.equal(1, c.callDuration)
    end)
end)
