# `make fuzz [FUZZ_SECONDS=60]`: the libFuzzer harnesses of fuzz/, built with
# clang (-fsanitize=fuzzer,address,undefined) around the C core, each run for
# FUZZ_SECONDS:
#
#   json_decode   any bytes into json.decode; a value must survive encode/decode
#   json_encode   bytes describe a Lua value (cycles, marks, NaN, any string...)
#   response      bytes are the server's answer, read by a real libcurl
#                 transfer from a listener on 127.0.0.1 and mapped by the Lua
#                 client into data or an error; two modes:
#                   raw       the bytes are the HTTP response as they are;
#                   envelope  (first byte NUL) the other bytes are choices
#                             from which fuzz/envelope.lua builds a response:
#                             status 200-599, odd headers (Retry-After with
#                             odd values...), a JSON error envelope whose
#                             success, message, messageKey, data and error
#                             each hold any type (arrays of mixed values with
#                             objects, nulls and booleans; objects; deep
#                             nestings) or are absent.
#                 A client that raises instead of returning data or nil, err
#                 (a hamsa error with a string kind and message) is a crash.
#                 Seeds: fuzz/corpus/response/env-* (written by
#                 fuzz/envelope-seeds.lua); HAMSA_FUZZ_SHOW=1 build/fuzz/response
#                 FILE prints the response an input builds.
#
# Each starts from its seed corpus, fuzz/corpus/<harness>/ (read only: new
# inputs go to build/fuzz/corpus/<harness>/). Figures (executions, coverage,
# crashes) go to docs/figures/fuzz.tsv; a crash, leak or timeout fails the
# target and leaves its input as build/fuzz/<harness>-crash-<sha1> (replay:
# build/fuzz/<harness> <file>). `make fuzz-build` only builds them;
# scripts/fuzz.sh runs them.
FUZZ_SECONDS  ?= 60
FUZZ_MAX_LEN  ?= 16384
FUZZ_CC       ?= clang
FUZZ_CFLAGS   ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
FUZZ_LUALIB   ?= -l:liblua$(LUA_VERSION).a
FUZZ_HARNESSES = json_decode json_encode response
FUZZ_DIR       = build/fuzz
FUZZ_BINS      = $(FUZZ_HARNESSES:%=$(FUZZ_DIR)/%)
FUZZ_FIGURES   = docs/figures/fuzz.tsv
# the core's build (liblua's static library too) and clang's fuzzer runtime
DEB_PACKAGES_fuzz ?= $(DEB_PACKAGES_build) clang libclang-rt-dev

.PHONY: fuzz fuzz-build

$(FUZZ_DIR)/%: fuzz/%.c fuzz/harness.h $(SOURCES) $(HEADERS) mk/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DHAMSA_ROOT='"$(CURDIR)"' -I$(LUA_INCDIR) -Icsrc $(CURL_CFLAGS) \
	  -o $@ $< $(SOURCES) $(FUZZ_LUALIB) $(CURL_LIBS) -lm -ldl

fuzz-build: deps-fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@sh scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_MAX_LEN) $(FUZZ_DIR) $(FUZZ_FIGURES) $(FUZZ_HARNESSES)
