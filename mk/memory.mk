# `make check-memory`: the whole spec suite twice, then a summary:
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
# Each suite runs in a process group of its own, killed afterwards: a
# sanitizer that aborts the spec process must not leave a mock behind that
# holds the output pipe open (the run would hang instead of failing).
#
# `make check-valgrind` and `make check-asan` run one of them. Figures go to
# docs/figures/check-memory.tsv. Each builds what the suite loads, the LuaJIT
# core of spec/80 too (openresty-core), so that it works in a fresh clone.
#
#   make check-memory BUSTED_ARGS=spec/80-openresty_spec.lua   some specs only
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
# `$(call isolated,command)`: runs it in a new process group, then kills the group
isolated = setsid -w sh -c 'echo $$$$ > $(MEMORY_DIR)/pgid; exec "$$@"' sh $1; rc=$$?; \
           kill -9 -$$(cat $(MEMORY_DIR)/pgid) 2>/dev/null; test $$rc = 0

# on top of what the suite needs (deps-test)
DEB_PACKAGES_memory ?= valgrind clang libclang-rt-dev

.PHONY: check-memory check-valgrind check-asan rss

$(ASAN_CORE): $(SOURCES) $(HEADERS) mk/memory.mk
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_CFLAGS) $(WARN) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) $(CURL_CFLAGS) $(LIBFLAG) \
	  -o $@ $(SOURCES) $(CURL_LIBS)

check-valgrind: deps-test deps-memory
	@$(MAKE) --no-print-directory all openresty-core
	@mkdir -p $(MEMORY_DIR)
	$(RUN_ENV) $(call isolated,$(VALGRIND) $(BUSTED) $(BUSTED_ARGS))

check-asan: deps-test deps-memory
	@$(MAKE) --no-print-directory all openresty-core $(ASAN_CORE)
	@mkdir -p $(MEMORY_DIR)
	@rm -f $(MEMORY_DIR)/sanitizer.*
	LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='$(ASAN_DIR)/?.so;;' LD_PRELOAD='$(ASAN_RUNTIME)' \
	ASAN_OPTIONS=detect_leaks=0:log_path=$(CURDIR)/$(MEMORY_DIR)/sanitizer \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(CURDIR)/$(MEMORY_DIR)/sanitizer \
	  $(call isolated,$(BUSTED) --cpath='$(ASAN_DIR)/?.so' $(BUSTED_ARGS)); rc=$$?; \
	if ls $(MEMORY_DIR)/sanitizer.* >/dev/null 2>&1; then \
	  cat $(MEMORY_DIR)/sanitizer.*; echo "check-asan: sanitizer reports above"; exit 1; fi; \
	exit $$rc

# Runs both (each to the end), records time and result, then judges.
check-memory:
	@mkdir -p $(MEMORY_DIR) $(FIGURES_DIR)
	@printf 'run\tresult\tseconds\tsummary\n' > $(MEMORY_DIR)/figures.tsv; \
	for run in valgrind asan; do \
	  start=$$(date +%s); \
	  { $(MAKE) --no-print-directory check-$$run; echo $$? > $(MEMORY_DIR)/$$run.rc; } 2>&1 \
	    | tee $(MEMORY_DIR)/$$run.log; \
	  secs=$$(( $$(date +%s) - start )); rc=$$(cat $(MEMORY_DIR)/$$run.rc); \
	  line=$$(sed 's/\x1b\[[0-9;]*m//g' $(MEMORY_DIR)/$$run.log | grep -E '^[0-9]+ success' | tail -n 1); \
	  [ "$$rc" = 0 ] && result=clean || result="FAILED ($$rc)"; \
	  printf '%s\t%s\t%s\t%s\n' $$run "$$result" $$secs "$$line" >> $(MEMORY_DIR)/figures.tsv; \
	done; \
	[ -n "$(BUSTED_ARGS)" ] || cp $(MEMORY_DIR)/figures.tsv $(FIGURES_DIR)/check-memory.tsv; \
	echo; echo "=== check-memory"; column -t -s '	' $(MEMORY_DIR)/figures.tsv 2>/dev/null || cat $(MEMORY_DIR)/figures.tsv; \
	[ "$$(cat $(MEMORY_DIR)/valgrind.rc)" = 0 ] && [ "$$(cat $(MEMORY_DIR)/asan.rc)" = 0 ]

rss: deps-spec
	@$(MAKE) --no-print-directory all
	@mkdir -p $(FIGURES_DIR)
	$(RUN_ENV) $(LUA) scripts/rss.lua --requests $(RSS_REQUESTS) --out $(FIGURES_DIR)/rss.tsv
