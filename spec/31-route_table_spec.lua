-- The route table (lua/hamsa/routes.lua) against what reads it: the mock
-- has a handler for every row and serves each one, and hamsa.validate has
-- the rule set each row names.
local routes = require "hamsa.routes"
local validate = require "hamsa.validate"
local mock_api = require "hamsa.mock.api"
local helpers = require "spec.helpers"
local cjson = require "cjson"

local function key(row)
    return row.resource .. "." .. row.name
end

local function escape(s)
    return (s:gsub("[^%w%-._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- A row's path with every placeholder filled from `ids` by its name (in the
-- query part as a query parameter, as the client sends it); a v2 row's
-- voiceAgentId is a v2 agent's.
local function fill(row, ids)
    return (row.path:gsub("{([^}]+)}", function(name)
        if name == "voiceAgentId" and row.resource == "v2.agents" then name = "v2" end
        return escape(assert(ids[name], name))
    end))
end

-- A valid minimal body per rule set, for an agent `id`.
local MINIMAL = {
    agent_create = function() return { agentName = "Route table" } end,
    agent_clone = function() return {} end,
    agent_update = function() return { agentName = "Route table, renamed" } end,
    call_phone_number = function(id)
        return { toNumber = "+15550000001", phoneNumber = "+15550000002", voiceAgentId = id }
    end,
    call_twilio = function(id)
        return { toNumber = "+15550000001", twilioPhoneNumber = "+15550000002", voiceAgentId = id }
    end,
    agent_v2_create = function() return { name = "Route table" } end,
    agent_v2_update = function() return { name = "Route table, renamed" } end,
    call_start = function(id) return { toNumber = "+15550000001", voiceAgentId = id } end,
    phone_number_create = function()
        return { type = "TWILIO", phoneNumber = "+15550000002", label = "Route table",
                 twilioAccountSid = "AC0", twilioAuthToken = "t" }
    end,
    phone_number_assign = function(id) return { voiceAgentId = id, phoneNumber = "+15550000002" } end,
    phone_number_unassign = function() return { phoneNumber = "+15550000002" } end,
    campaign_create = function(id)
        return { name = "Route table", phoneNumber = "+15550000002", voiceAgentId = id,
                 recipients = { { phoneNumber = "+15550000001" } } }
    end,
    campaign_update = function() return { name = "Route table, renamed" } end,
    knowledge_base_create = function()
        return { items = { { itemName = "Route table", type = "URL", itemUrl = "https://example.com/a" } } }
    end,
    knowledge_base_update = function() return { itemName = "Route table, renamed" } end,
    knowledge_base_remove_url = function() return { url = "https://example.com/a" } end,
}

describe("the route table", function()
    it("has rows of the documented shape, each key once", function()
        local seen = {}
        for i, row in ipairs(routes) do
            local where = "row " .. i
            assert.is_string(row.resource, where)
            assert.is_string(row.name, where)
            assert.truthy(type(row.method) == "string" and row.method:match("^%u+$"), where)
            assert.truthy(type(row.path) == "string" and row.path:match("^/v[12]/"), where)
            assert.is_nil(seen[key(row)], where .. ": " .. key(row) .. " twice")
            seen[key(row)] = true
        end
    end)

    describe("and the mock", function()
        it("has a handler for every row (and for every row of its own extra table)", function()
            for _, rows in ipairs({ routes, mock_api.EXTRA }) do
                for _, row in ipairs(rows) do
                    assert.is_function(mock_api.handlers[key(row)], "no mock handler for " .. key(row))
                end
            end
        end)

        it("has no handler without a row", function()
            local rows = {}
            for _, row in ipairs(routes) do rows[key(row)] = true end
            for _, row in ipairs(mock_api.EXTRA) do rows[key(row)] = true end
            for k in pairs(mock_api.handlers) do
                assert.is_true(rows[k], "mock handler " .. k .. " serves no row")
            end
        end)

        it("serves every row (a real server, a real agent, valid minimal bodies)", function()
            local server = helpers.start_mock()
            finally(function() server:stop() end)
            local auth = { authorization = "Token " .. server.api_key }
            -- one record of each kind, made through the API, for the ids
            local function made(path, body)
                local status, text = helpers.http("POST", server.url .. path, cjson.encode(body), auth)
                assert.equal(200, status, text)
                return cjson.decode(text).data
            end
            local id = made("/v1/voice-agents", { agentName = "Route table source" }).id
            local ids = {
                voiceAgentId = id,
                v2 = made("/v2/voice-agents", { name = "Route table v2" }).id,
                conversationId = made("/v1/voice-agents/phone-number/call", MINIMAL.call_phone_number(id)).jobId,
                campaignId = made("/v1/voice-agents/campaigns", MINIMAL.campaign_create(id)).id,
                itemId = made("/v1/voice-agents/knowledge-base", MINIMAL.knowledge_base_create())[1].id,
            }
            for _, row in ipairs(routes) do
                local body
                if row.body or row.body_args then
                    local minimal = MINIMAL[row.validate]
                    assert.is_function(minimal, "the spec has no minimal body for " .. tostring(row.validate))
                    body = cjson.encode(minimal(id))
                end
                local path = fill(row, ids)
                local status, text = helpers.http(row.method, server.url .. path, body, auth)
                local where = key(row) .. ": " .. row.method .. " " .. path .. " -> "
                    .. tostring(status) .. " " .. tostring(text)
                assert.is_number(status, where)
                local ok, answer = pcall(cjson.decode, text)
                assert.is_true(ok, where)
                assert.is_false(status == 404 and answer.messageKey == "NOT_FOUND", where)
                assert.equal(200, status, where)
                assert.is_true(answer.success, where)
            end
        end)
    end)

    describe("and hamsa.validate", function()
        it("has the rule set each row names, and each row with a body names one", function()
            for _, row in ipairs(routes) do
                if row.body then
                    assert.is_string(row.validate, key(row) .. " has a body and names no rule set")
                end
                if row.validate then
                    assert.is_function(validate[row.validate], key(row) .. ": no hamsa.validate." .. row.validate)
                end
            end
        end)

        it("passes the spec's minimal bodies, so the mock check above sends valid ones", function()
            for name, minimal in pairs(MINIMAL) do
                assert.is_function(validate[name], name)
                local ok, field, message = validate[name](minimal("00000000-0000-4000-8000-000000000000"))
                assert.is_true(ok, name .. ": " .. tostring(field) .. " " .. tostring(message))
            end
        end)
    end)
end)
