--- Pagers: `each` on every resource with a list route (hamsa.routes rows
-- with `paging`). TODO(i10): being written.
-- @module hamsa.pager
local M = {}

function M.extend(classes, routes)   -- luacheck: ignore classes routes
end

return M
