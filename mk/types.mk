# `make types`: regenerates types/hamsa.lua, the LuaLS definitions (`---@meta`)
# of the public API, with scripts/gen-types.lua: the classes of every body
# and query from the rule sets of hamsa.validate, every resource method from
# hamsa.routes, the options from hamsa.config's lists (docs/types.md). The
# generator loads the library, so the core is built first.
# spec/92-types_spec.lua fails when the committed file differs from what it
# writes: run this after changing a route, a rule or an option, and commit.
#
#   make types    regenerate types/hamsa.lua (editors: README, "Editor types")
DEB_PACKAGES_types ?= $(DEB_PACKAGES_build) lua5.4
TYPES_FILE = types/hamsa.lua

.PHONY: types
types: deps-types $(CORE)
	@mkdir -p $(dir $(TYPES_FILE))
	$(RUN_ENV) lua5.4 scripts/gen-types.lua $(TYPES_FILE).tmp
	@mv $(TYPES_FILE).tmp $(TYPES_FILE)
	@echo "wrote $(TYPES_FILE)"
