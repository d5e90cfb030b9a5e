# The game-server embedding example (examples/embed/): a C host with its own
# lua_State and a 60 Hz frame loop. `make test` builds and runs it against
# the mock with added latency; it fails unless every request completes.
# `make test-embed` does only that (deps-embed first: the core's build and
# the mock, which needs LuaSocket).
DEB_PACKAGES_embed ?= $(DEB_PACKAGES_build) $(DEB_PACKAGES_mock)
EMBED_HOST    = build/embed-host
EMBED_LUALIB ?= -llua$(LUA_VERSION)

$(EMBED_HOST): examples/embed/host.c | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -I$(LUA_INCDIR) -o $@ $< $(EMBED_LUALIB) -lm

.PHONY: test-embed
test-embed: deps-embed
	@$(MAKE) --no-print-directory $(EMBED_HOST) $(CORE)
	@$(RUN_ENV) sh examples/embed/run.sh $(EMBED_HOST)

TEST_PRE += test-embed
TEST_CONCERNS += embed
