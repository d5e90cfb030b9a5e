# `make bench`: hamsa against raw libcurl (C), LuaSocket + lua-cjson and
# io.popen("curl"), on create-agent requests to a private nginx on
# 127.0.0.1; codec and memory figures too. Writes bench/results.md and
# bench/results.png; the last lines printed are the RATIO lines.
# `make deps-bench` installs what it needs (nginx, gnuplot, wrk, curl).
#
#   make bench                        the whole run (about 90 s after the installs)
#   make bench BENCH_ENV="BENCH_N=5000 BENCH_ROUNDS=1"   a quicker, noisier one
DEB_PACKAGES_bench ?= nginx gnuplot-nox wrk curl util-linux
BENCH_BIN = build/bench/raw_easy build/bench/raw_multi
BENCH_ENV ?=

build/bench/%: bench/%.c bench/raw.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(CURL_CFLAGS) -o $@ $< $(CURL_LIBS)

.PHONY: bench deps-bench
deps-bench: deps
	@missing=""; for p in $(DEB_PACKAGES_bench); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps-bench: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench: deps-bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@$(BENCH_ENV) LUA=$(LUA) CC="$(CC)" sh bench/run.sh
