# `make bench`: hamsa against raw libcurl (C), Debian's lua-curl on Lua 5.1,
# LuaSocket + lua-cjson and io.popen("curl"), on create-agent requests to a
# private nginx on 127.0.0.1, with two payloads (the 2 KB agent body and a
# small ~300-byte one); hamsa on LuaJIT too; codec and memory figures.
# Writes bench/results.md and bench/results.png; the last lines printed are
# the RATIO lines (the agent payload's, then the small one's, named *_small).
# `make deps-bench` installs what it needs (the core's build, its Lua with
# lua-cjson and LuaSocket for the contenders, Lua 5.1 and lua-curl, LuaJIT
# (Debian's luajit2, as mk/matrix.mk takes it) and their headers for the
# cores built for them, nginx, gnuplot, wrk, curl).
#
# `make bench-phases`: instructions per operation (callgrind) of each phase
# of a create-agent request, on both payloads: validate, encode,
# decode, the dry run, the engine alone, the whole create. Writes
# bench/phases.md (bench/phases.sh, bench/phases.lua).
#
#   make bench                        the whole run (about 3 min after the installs)
#   make bench BENCH_ENV="BENCH_N=5000 BENCH_ROUNDS=1"   a quicker, noisier one
#   make bench-build                  only the installs and the builds it needs
#   make bench-phases                 the callgrind counts (about 1 min)
#   make bench-loops                  CPU of the cqueues, luv and copas adapters while 50 calls
#                                     wait on a slow mock (bench/loops.sh, bench/loops.md)
DEB_PACKAGES_bench ?= $(DEB_PACKAGES_build) lua$(LUA_VERSION) lua-cjson lua-socket \
                      lua5.1 lua-curl $(call lua_dev,5.1) luajit2 libluajit2-5.1-dev \
                      nginx gnuplot-nox wrk curl util-linux
DEB_PACKAGES_phases ?= $(DEB_PACKAGES_bench) valgrind
DEB_PACKAGES_loops  ?= $(DEB_PACKAGES_demo) lua-cqueues lua-luv lua-copas lua5.1 $(call lua_dev,5.1)
BENCH_BIN = build/bench/raw_easy build/bench/raw_multi
# the cores of the contenders that run on other Luas: lua-curl's Lua 5.1
# (hamsa.core's clock and codec for bench/payload.lua) and LuaJIT (h), (i)
BENCH_CORES = build/5.1/hamsa/core.so build/jit/hamsa/core.so
BENCH_ENV ?=

build/bench/%: bench/%.c bench/raw.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(CURL_CFLAGS) -o $@ $< $(CURL_LIBS)

.PHONY: bench bench-build bench-phases bench-loops
bench-build: deps-bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(BENCH_CORES)

bench: bench-build
	@$(BENCH_ENV) LUA=$(LUA) CC="$(CC)" sh bench/run.sh

bench-phases: deps-phases
	@$(MAKE) --no-print-directory all
	@$(BENCH_ENV) LUA=$(LUA) sh bench/phases.sh

bench-loops: deps-loops
	@$(MAKE) --no-print-directory all
	@$(BENCH_ENV) LUA=$(LUA) sh bench/loops.sh
