# `make bench`: hamsa against raw libcurl (C), LuaSocket + lua-cjson and
# io.popen("curl"), on create-agent requests to a private nginx on
# 127.0.0.1; codec and memory figures too. Writes bench/results.md and
# bench/results.png; the last lines printed are the RATIO lines.
# `make deps-bench` installs what it needs (the core's build, its Lua with
# lua-cjson and LuaSocket for the contenders, nginx, gnuplot, wrk, curl).
#
#   make bench                        the whole run (about 90 s after the installs)
#   make bench BENCH_ENV="BENCH_N=5000 BENCH_ROUNDS=1"   a quicker, noisier one
#   make bench-build                  only the installs and the builds it needs
DEB_PACKAGES_bench ?= $(DEB_PACKAGES_build) lua$(LUA_VERSION) lua-cjson lua-socket \
                      nginx gnuplot-nox wrk curl util-linux
BENCH_BIN = build/bench/raw_easy build/bench/raw_multi
BENCH_ENV ?=

build/bench/%: bench/%.c bench/raw.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(CURL_CFLAGS) -o $@ $< $(CURL_LIBS)

.PHONY: bench bench-build
bench-build: deps-bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN)

bench: bench-build
	@$(BENCH_ENV) LUA=$(LUA) CC="$(CC)" sh bench/run.sh
