--- Waiters: `wait` on conversations, campaigns and the knowledge base.
-- TODO(i10): being written.
-- @module hamsa.waiter
local M = {}

function M.extend(classes)   -- luacheck: ignore classes
end

return M
