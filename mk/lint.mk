# `make lint`: luacheck over every Lua file (.luacheckrc: no globals, busted
# names in spec/). `make test` runs it first; `make deps-lint` installs
# luacheck alone.
DEB_PACKAGES_lint ?= lua-check

.PHONY: lint

lint: deps-lint
	luacheck -q lua bin/hamsa-mock examples spec

TEST_PRE += lint
TEST_CONCERNS += lint
