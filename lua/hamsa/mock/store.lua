--- A store of the mock's records of one kind (agents, phone numbers,
-- campaigns, ...): by id, and in the order they were added, which is the
-- order the lists answer in.
-- @module hamsa.mock.store
-- @license MIT

local ipairs, setmetatable = ipairs, setmetatable

local M = {}

local Store = {}
Store.__index = Store

--- Adds `record` (it has an `id`); returns it.
function Store:add(record)
    self.by_id[record.id] = record
    local list = self.list
    list[#list + 1] = record
    return record
end

--- The record with this id, or nil.
function Store:get(id)
    return self.by_id[id]
end

--- How many records it holds.
function Store:count()
    return #self.list
end

--- The records for which `keep(record)` is true, in order (all of them,
-- the store's own list, when `keep` is nil: do not change it).
function Store:filter(keep)
    if not keep then return self.list end
    local out = {}
    for _, r in ipairs(self.list) do
        if keep(r) then out[#out + 1] = r end
    end
    return out
end

--- An empty store.
function M.new()
    return setmetatable({ by_id = {}, list = {} }, Store)
end

return M
