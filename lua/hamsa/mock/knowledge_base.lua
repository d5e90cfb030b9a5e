--- The mock's knowledge base: items created in batches, processed on the
-- mock's clock, listed (`skip` = page, `take` = size, both strings; reply
-- `{ total, filtered, items }`), renamed, and their URLs removed one by one.
--
-- An item is PROCESSING until `call_seconds` after it was created, then
-- PROCESSED; or FAILED, with a `failureReason`, when its name (as created)
-- starts with "fail". `wordsNumber` and `fileSize` stay 0 until then: its
-- `content`'s words and bytes once PROCESSED, or 250 words and 1500 bytes
-- per URL.
-- @module hamsa.mock.knowledge_base
-- @license MIT

local h = require("hamsa.mock.handler")

local find, gmatch, lower, sub = string.find, string.gmatch, string.lower, string.sub
local ipairs, next, pairs, type = ipairs, next, pairs, type
local ok, invalid, null = h.ok, h.invalid, h.null

local FAILURE = "Could not extract any text from the item"
local SERVER_FIELDS = { id = true, status = true, failureReason = true, wordsNumber = true, fileSize = true,
                        createdAt = true, updatedAt = true, projectId = true }

local M = {}

--- A new item from `fields` (an object with an itemName), stored; `t` its
-- creation time (epoch seconds).
function M.add(api, fields, t)
    local item = h.copy(fields)
    local now = h.iso(t)
    item.id, item.projectId = h.uuid4(), api.project_id
    item.itemUrl = h.or_null(item.itemUrl)
    item.type = item.type or "TEXT"
    if item.isActive == nil then item.isActive = true end
    if item.used == nil then item.used = false end
    item.createdAt, item.updatedAt = now, now
    -- the playout's own fields, never answered
    item.t0, item.fails = t, sub(lower(fields.itemName), 1, 4) == "fail"
    return api.kb:add(item)
end

-- The URLs an item has (itemUrl, then itemUrls).
local function urls(item)
    local out = {}
    if type(item.itemUrl) == "string" then out[#out + 1] = item.itemUrl end
    if type(item.itemUrls) == "table" then
        for _, u in ipairs(item.itemUrls) do
            if type(u) == "string" then out[#out + 1] = u end
        end
    end
    return out
end

--- The status of `item` at `now`.
function M.status(api, item, now)
    if now < item.t0 + api.call_seconds then return "PROCESSING" end
    return item.fails and "FAILED" or "PROCESSED"
end

--- The item as answered at `now`.
function M.view(api, item, now)
    local v = {}
    for k, x in pairs(item) do
        if k ~= "t0" and k ~= "fails" then v[k] = x end
    end
    v.status = M.status(api, item, now)
    v.failureReason, v.wordsNumber, v.fileSize = null, 0, 0
    if v.status ~= "PROCESSING" then   -- updated when processing ended, at least
        local done = h.iso(item.t0 + api.call_seconds)
        if done > v.updatedAt then v.updatedAt = done end
    end
    if v.status == "FAILED" then
        v.failureReason = FAILURE
    elseif v.status == "PROCESSED" then
        if type(item.content) == "string" and item.content ~= "" then
            local words = 0
            for _ in gmatch(item.content, "%S+") do words = words + 1 end
            v.wordsNumber, v.fileSize = words, #item.content
        else
            local n = #urls(item)
            v.wordsNumber, v.fileSize = 250 * n, 1500 * n
        end
    end
    return v
end

local function not_found()
    return h.not_found("Knowledge base item not found", "KNOWLEDGE_BASE_ITEM_NOT_FOUND")
end

local H = {}
M.handlers = H

H["knowledge_base.create"] = function(api, req)
    local body, res = h.parse_body(req)
    if not body then return res end
    local items = body.items
    if type(items) ~= "table" or h.is_object(items) or #items == 0 then
        return invalid("items must be a non-empty array")
    end
    for i, item in ipairs(items) do
        if not h.is_object(item) then return invalid("items[" .. i .. "] must be an object") end
        if not h.nonempty(item.itemName) then return invalid("items[" .. i .. "].itemName is required") end
    end
    local t = api:moment()
    local created = {}
    for i, item in ipairs(items) do created[i] = M.view(api, M.add(api, item, t), t) end
    return ok("Knowledge base items created successfully", h.array(created),
        "KNOWLEDGE_BASE_ITEMS_CREATED_SUCCESSFULLY")
end

-- Filters: voiceAgentId (the items that agent's knowledgeBaseItemsIds
-- names), isActive, used ("true"/"false"), search (in itemName, any
-- case), type (repeated, or type[]).
local function filter(api, q, all)
    local keep_ids, types, search
    if h.nonempty(q.voiceAgentId) then
        local agent = api.agents:get(q.voiceAgentId) or api.v2agents:get(q.voiceAgentId)
        keep_ids = {}
        if agent and type(agent.knowledgeBaseItemsIds) == "table" then
            for _, id in ipairs(agent.knowledgeBaseItemsIds) do keep_ids[id] = true end
        end
    end
    local wanted = all.type or all["type[]"]
    if wanted then
        types = {}
        for _, t in ipairs(wanted) do types[t] = true end
    end
    if h.nonempty(q.search) then search = lower(q.search) end
    local flags = {}
    for _, name in ipairs({ "isActive", "used" }) do
        local v = q[name]
        if v == "true" then flags[name] = true elseif v == "false" then flags[name] = false
        elseif v ~= nil and v ~= "" then return nil, invalid(name .. " must be true or false") end
    end
    if not (keep_ids or types or search or next(flags) ~= nil) then return api.kb.list end
    return api.kb:filter(function(item)
        if keep_ids and not keep_ids[item.id] then return false end
        if types and not types[item.type] then return false end
        if search and not find(lower(item.itemName), search, 1, true) then return false end
        for name, want in pairs(flags) do
            if item[name] ~= want then return false end
        end
        return true
    end)
end

H["knowledge_base.list"] = function(api, req)
    local q, all = h.query(req)
    local skip, take = h.whole(q.skip, 1), h.whole(q.take, 10)
    if not skip then return invalid("skip must be a positive integer (a 1-based page number)") end
    if not take then return invalid("take must be a positive integer") end
    local list, res = filter(api, q, all)
    if not list then return res end
    local now, items = api.clock:now(), {}
    for i = (skip - 1) * take + 1, skip * take do
        if not list[i] then break end
        items[#items + 1] = M.view(api, list[i], now)
    end
    return ok("success", { total = api.kb:count(), filtered = #list, items = h.array(items) },
        "OPERATION_SUCCESSFUL")
end

H["knowledge_base.get"] = function(api, _, params)
    local item = api.kb:get(params.itemId)
    if not item then return not_found() end
    return ok("success", M.view(api, item, api.clock:now()), "OPERATION_SUCCESSFUL")
end

H["knowledge_base.update"] = function(api, req, params)
    local body, res = h.parse_body(req)
    if not body then return res end
    local item = api.kb:get(params.itemId)
    if not item then return not_found() end
    if body.itemName ~= nil and not h.nonempty(body.itemName) then
        return invalid("itemName must be a non-empty string")
    end
    for k, v in pairs(body) do
        if not SERVER_FIELDS[k] then item[k] = v end
    end
    item.updatedAt = api:timestamp()
    return ok("Knowledge base item updated successfully", M.view(api, item, api.clock:now()),
        "KNOWLEDGE_BASE_ITEM_UPDATED_SUCCESSFULLY")
end

-- DELETE .../knowledge-base/{id}/url with `{ url }`: from itemUrl (which
-- becomes null) or itemUrls.
H["knowledge_base.remove_url"] = function(api, req, params)
    local body, res = h.parse_body(req)
    if not body then return res end
    if not h.nonempty(body.url) then return invalid("url is required") end
    local item = api.kb:get(params.itemId)
    if not item then return not_found() end
    local removed = false
    if item.itemUrl == body.url then
        item.itemUrl, removed = null, true
    end
    if type(item.itemUrls) == "table" then
        local kept = {}
        for _, u in ipairs(item.itemUrls) do
            if u == body.url then removed = true else kept[#kept + 1] = u end
        end
        item.itemUrls = h.array(kept)
    end
    if not removed then return h.not_found("URL not found in the item: " .. body.url, "URL_NOT_FOUND") end
    item.updatedAt = api:timestamp()
    return ok("URL deleted successfully", M.view(api, item, api.clock:now()), "URL_DELETED_SUCCESSFULLY")
end

return M
