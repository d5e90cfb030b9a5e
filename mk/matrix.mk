# `make test-all-luas`: the whole spec suite on every Lua that Debian ships,
# each with the C core built for it (warnings are errors here):
#
#   make test-all-luas                        5.1 5.2 5.3 5.4 and LuaJIT, then one summary
#   make test-all-luas MATRIX_LUAS="5.1 jit"  some of them
#   make test-lua-5.3                         one of them (also test-lua-jit)
#   make core-lua-5.1                         only build build/5.1/hamsa/core.so
#
# Each installs what it needs first: deps-test what the suite needs,
# deps-matrix the interpreters and headers of MATRIX_LUAS (test-lua-<v>: of
# <v> only), and any build/<v>/hamsa/core.so the headers of its Lua
# (deps-headers-<v>), whichever target asks for it
# (spec/80's build/jit/hamsa/core.so is asked for by make test, make
# check-memory...).
#
# Each Lua runs Debian's busted script with its own interpreter (lua-busted
# and its dependencies ship modules for 5.1 to 5.4; LuaJIT uses the 5.1
# ones) and its own core, build/<v>/hamsa/core.so, compiled with -Werror
# (MATRIX_WERROR=): the core must build warning-free on every Lua. The mock
# API always runs on lua5.4 with a 5.4 core (HAMSA_MOCK_CPATH); spawned
# example scripts run on the Lua under test (LUA); spec/80-openresty_spec.lua
# loads build/jit/hamsa/core.so into nginx whatever the Lua under test.
# Logs go to build/matrix/<v>.log (scripts/logged.sh), the summary is
# scripts/matrix-summary.sh's.
#
# LuaJIT: Debian has two, luajit and luajit2 (OpenResty's branch), which
# conflict. The nginx Lua module that `make deps-openresty` installs (mk/openresty.mk)
# needs luajit2's library, so the matrix takes luajit2 too; apt swaps out
# Debian's luajit if it was there, in whichever order things were installed.
MATRIX_LUAS   ?= 5.1 5.2 5.3 5.4 jit
MATRIX_WERROR ?= -Werror
MATRIX_CFLAGS ?= $(CFLAGS) $(WARN) $(MATRIX_WERROR) -fPIC -fvisibility=hidden $(CURL_CFLAGS)
MATRIX_DIR     = build/matrix
# Lua runs at once: the suite mostly waits (on timers, faults, child
# processes), so two share the two cores of a CI machine and halve the
# wall time; each run has its own mock ports, temp files and core build.
# Four share them too: .ci/run runs 5.1, 5.2, 5.3 and LuaJIT with
# MATRIX_JOBS=4 (194 s, each run 169-190 s; two at a time: 346 s).
MATRIX_JOBS   ?= 2

matrix_lua    = $(if $(filter jit,$1),luajit,lua$1)
matrix_incdir = $(if $(filter jit,$1),/usr/include/luajit-2.1,/usr/include/lua$1)
matrix_core   = build/$1/hamsa/core.so
matrix_name   = $(if $(filter jit,$1),LuaJIT,Lua $1)
matrix_dev    = $(if $(filter jit,$1),libluajit2-5.1-dev,$(call lua_dev,$1))
matrix_pkg    = $(if $(filter jit,$1),luajit2,lua$1)

# the interpreter and the headers of each Lua of MATRIX_LUAS
DEB_PACKAGES_matrix ?= $(foreach v,$(MATRIX_LUAS),$(call matrix_pkg,$v) $(call matrix_dev,$v))

.PHONY: test-all-luas
.PRECIOUS: build/%/hamsa/core.so

# the headers of one Lua, installed when missing; order-only, and never a
# file: asked for only when the core it serves is (re)built (deps-% with a
# Lua version in the name)
deps-headers-%:
	@sh scripts/deps.sh headers-$* $(sort $(call matrix_dev,$*) $(DEB_PACKAGES_build))

build/%/hamsa/core.so: $(SOURCES) $(HEADERS) Makefile mk/matrix.mk | deps-headers-%
	@mkdir -p $(dir $@)
	$(CC) $(MATRIX_CFLAGS) -I$(call matrix_incdir,$*) $(LIBFLAG) -o $@ $(SOURCES) $(CURL_LIBS)

core-lua-%:
	@$(MAKE) --no-print-directory $(call matrix_core,$*)

# Runs one Lua's suite; the exit status goes to build/matrix/<v>.rc, so that
# test-all-luas runs them all before it judges. Besides the core under test:
# the mock's (5.4), spec/80's (jit), and build/hamsa/core.so, which
# bin/hamsa-mock finds next to bin/ when spec/05 starts it with no paths set.
matrix-run-%: $(CORE) $(call matrix_core,5.4) $(call matrix_core,jit)
	@$(MAKE) --no-print-directory $(call matrix_core,$*)
	@mkdir -p $(MATRIX_DIR)
	@echo "=== $(call matrix_name,$*): $(call matrix_lua,$*) /usr/bin/busted, core $(call matrix_core,$*)"
	@LUA=$(call matrix_lua,$*) HAMSA_MOCK_CPATH='$(CURDIR)/build/5.4/?.so;;' \
	  LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/$*/?.so;;' \
	  sh scripts/logged.sh $(MATRIX_DIR)/$* $(call matrix_lua,$*) /usr/bin/busted --cpath='build/$*/?.so' $(PROOF_EXCLUDE) $(BUSTED_ARGS)

test-lua-%: deps-test
	@$(MAKE) --no-print-directory deps-matrix MATRIX_LUAS=$*
	@$(MAKE) --no-print-directory matrix-run-$*
	@exit $$(cat $(MATRIX_DIR)/$*.rc)

test-all-luas: deps-test deps-matrix
	@rm -f $(MATRIX_LUAS:%=$(MATRIX_DIR)/%.rc)
	@$(MAKE) --no-print-directory -j$(MATRIX_JOBS) $(MATRIX_LUAS:%=matrix-run-%)
	@sh scripts/matrix-summary.sh $(MATRIX_DIR) $(MATRIX_LUAS)
