# `make lint`: luacheck over every Lua file of the repository (.luacheckrc:
# no globals, busted's names in spec/): the library, the mock's script, the
# specs, the examples, the fuzz harnesses' Lua side, scripts/, bench/ and the
# nginx handlers. `make test` runs it first; `make deps-lint` installs
# luacheck alone.
DEB_PACKAGES_lint ?= lua-check
LINT_PATHS ?= lua bin/hamsa-mock spec examples fuzz scripts bench openresty

.PHONY: lint
lint: deps-lint
	luacheck -q $(LINT_PATHS)

TEST_PRE += lint
TEST_CONCERNS += lint
