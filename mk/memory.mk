# `make check-memory`: the whole spec suite twice (one after the other;
# MEMORY_JOBS=2 runs both at once), then a summary:
#
#   1. under valgrind: no invalid access, no definite or indirect leak
#      (still-reachable blocks, libcurl's and OpenSSL's globals, do not count);
#   2. with the core built by clang with -fsanitize=address,undefined into
#      build/asan/: no report at all. lua5.4 is not instrumented, so the ASan
#      runtime is preloaded; leaks are valgrind's part (detect_leaks=0). Every
#      process the specs start inherits the settings, and a report from any of
#      them (build/memory/sanitizer.<pid>) fails the run. clang, because its
#      UBSan checks more than gcc's (NULL + 0, found by make fuzz, is one);
#      ASAN_CC=gcc works too (then libasan.so is preloaded).
#
# Each suite runs in a process group of its own, killed afterwards
# (scripts/isolated.sh): a sanitizer that aborts the spec process must not
# leave a mock behind that holds the output pipe open (the run would hang
# instead of failing).
#
# `make check-valgrind` and `make check-asan` run one of them (the latter
# through scripts/check-asan.sh). Figures go to
# docs/figures/check-memory.tsv (scripts/memory-summary.sh). Each builds what the suite loads, the LuaJIT
# core of spec/80 too (openresty-core), so that it works in a fresh clone.
#
#   make check-memory BUSTED_ARGS=spec/80-openresty_spec.lua   some specs only
#   make check-memory MEMORY_JOBS=2                            valgrind and ASan at once
#
# A run of some specs only (BUSTED_ARGS set) leaves its figures in
# build/memory/figures.tsv: docs/figures/ holds runs of the whole suite.
#
# `make rss`: 100,000 requests through one client against the mock
# (scripts/rss.lua); RSS before and after go to docs/figures/rss.tsv, and the
# target fails when it grew by 2 MiB or more.
VALGRIND ?= valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30
ASAN_CC     ?= clang
ASAN_CFLAGS ?= -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
               $(if $(findstring clang,$(ASAN_CC)),-shared-libasan)
ASAN_RUNTIME ?= $(shell $(ASAN_CC) -print-file-name=$(if $(findstring clang,$(ASAN_CC)),libclang_rt.asan-$(shell uname -m).so,libasan.so))
ASAN_DIR     = build/asan
ASAN_CORE    = $(ASAN_DIR)/hamsa/core.so
MEMORY_DIR   = build/memory
RSS_REQUESTS ?= 100000
FIGURES_DIR  = docs/figures
# on top of what the suite needs (deps-test)
DEB_PACKAGES_memory ?= valgrind clang libclang-rt-dev

.PHONY: check-memory check-valgrind check-asan rss

$(ASAN_CORE): $(SOURCES) $(HEADERS) mk/memory.mk
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_CFLAGS) $(WARN) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) $(CURL_CFLAGS) $(LIBFLAG) \
	  -o $@ $(SOURCES) $(CURL_LIBS)

check-valgrind: deps-test deps-memory
	@$(MAKE) --no-print-directory all openresty-core
	$(RUN_ENV) sh scripts/isolated.sh $(VALGRIND) $(BUSTED) $(MEMORY_EXCLUDE) $(BUSTED_ARGS)

check-asan: deps-test deps-memory
	@$(MAKE) --no-print-directory all openresty-core $(ASAN_CORE)
	sh scripts/check-asan.sh $(MEMORY_DIR) $(ASAN_DIR) '$(ASAN_RUNTIME)' $(BUSTED) --cpath='$(ASAN_DIR)/?.so' $(MEMORY_EXCLUDE) $(BUSTED_ARGS)

# Runs both, each to the end (scripts/logged.sh keeps log, status and
# seconds), MEMORY_JOBS at once, then judges. One at a time by default.
# Two at once saves about 150 s on the two cores of a CI machine (408 s
# and 212 s at once, against 351 s then 204 s), but the valgrind run then
# gets less CPU than the seeded waiter walk (spec/77) assumes: once in
# three CI runs a waiter saw one status where its script has four before
# its deadline. Each has its own mock ports, temp files and core; what both
# load is built first, so that they never build it at the same time.
MEMORY_JOBS ?= 1

check-memory: deps-test deps-memory
	@$(MAKE) --no-print-directory all openresty-core $(ASAN_CORE)
	@$(MAKE) --no-print-directory -j$(MEMORY_JOBS) memory-run-valgrind memory-run-asan
	@sh scripts/memory-summary.sh $(MEMORY_DIR) '$(if $(BUSTED_ARGS),,$(FIGURES_DIR)/check-memory.tsv)' valgrind asan

memory-run-%:
	@sh scripts/logged.sh $(MEMORY_DIR)/$* $(MAKE) --no-print-directory check-$*

rss: deps-spec
	@$(MAKE) --no-print-directory all
	@mkdir -p $(FIGURES_DIR)
	$(RUN_ENV) $(LUA) scripts/rss.lua --requests $(RSS_REQUESTS) --out $(FIGURES_DIR)/rss.tsv
