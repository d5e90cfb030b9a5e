# `make lint`: luacheck over every Lua file (.luacheckrc: no globals, busted
# names in spec/). `make test` runs it first; `make deps-lint` installs
# luacheck alone.
DEB_PACKAGES += lua-check
DEB_PACKAGES_lint ?= lua-check

.PHONY: lint deps-lint
deps-lint:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(DEB_PACKAGES_lint)"

lint: deps-lint
	luacheck -q lua bin/hamsa-mock examples spec

TEST_PRE += lint
