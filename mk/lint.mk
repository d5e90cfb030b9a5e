# `make lint`: luacheck over every Lua file (.luacheckrc: no globals, busted
# names in spec/). `make test` runs it first.
DEB_PACKAGES += lua-check

.PHONY: lint
lint:
	luacheck -q lua bin/hamsa-mock examples spec

TEST_PRE += lint
