# lua-hamsa: build, test and install the Hamsa voice-agent client.
#
#   make demo     install what is missing, build, run the quickstart against the mock API
#   make test     install what is missing, build, run every spec
#   make          build build/hamsa/core.so only (installing its headers if missing)
#   make install  copy the C core, the Lua modules and bin/hamsa{,-mock} under $(DESTDIR)$(PREFIX)
#   make check-memory  the whole spec suite under valgrind (no errors, no definite leaks)
#   make lint     luacheck over every Lua file (mk/lint.mk)
#   make deps-<concern>  install what DEB_PACKAGES_<concern> lists and is missing (deps: test's)
#   make help     these lines and those atop mk/*.mk
#
# Every target works as the first command in a fresh clone: it installs the
# Debian packages it needs (through a deps-<concern> target, see below) and
# builds what it uses, whatever file the rule is in.
#
# Knobs (override on the command line: make LUA_VERSION=5.3 ...):
LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
LUA_INCDIR  ?= /usr/include/lua$(LUA_VERSION)
# libcurl's flags come from pkg-config; never link liblua on Unix (the host has it).
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
CFLAGS      ?= -O2 -g
LIBFLAG     ?= -shared
PREFIX      ?= /usr/local
DESTDIR     ?=
INST_LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
INST_LUADIR ?= $(PREFIX)/share/lua/$(LUA_VERSION)
INST_BINDIR ?= $(PREFIX)/bin
# Debian's busted script starts "/usr/bin/env lua" (5.1): run it with our Lua.
BUSTED      ?= $(LUA) /usr/bin/busted
BUSTED_ARGS ?=
# Debian packages, by concern: DEB_PACKAGES_<concern> lists what one
# concern needs and `make deps-<concern>` installs the missing ones
# (scripts/deps.sh: apt-get, as root or with sudo). Every target asks for the
# concerns it uses; mk/<concern>.mk defines its own. A Lua's headers:
# `$(call lua_dev,5.3)`; Debian 12's liblua5.1-dev is only a name that
# liblua5.1-0-dev provides, which dpkg never reports as installed.
lua_dev = $(if $(filter 5.1,$1),liblua5.1-0-dev,liblua$1-dev)
# building the core (`make`, `make install`)
DEB_PACKAGES_build ?= $(call lua_dev,$(LUA_VERSION)) libcurl4-openssl-dev pkg-config
# the mock API (bin/hamsa-mock, examples/with-mock.sh): lua5.4 and LuaSocket
DEB_PACKAGES_mock  ?= lua5.4 lua-socket
# the command line (bin/hamsa): argument parsing from Debian's lua-argparse
DEB_PACKAGES_cli   ?= lua$(LUA_VERSION) lua-argparse lua-socket
# `make demo`: the core, its Lua and the mock
DEB_PACKAGES_demo  ?= $(DEB_PACKAGES_build) lua$(LUA_VERSION) $(DEB_PACKAGES_mock)
# the spec suite itself (busted, the helpers' lua-cjson, luarocks for spec/96
# (mk/rock.mk lists the rest it needs), spec/85's `script` from bsdutils for a
# terminal, spec/79's event loops)
DEB_PACKAGES_spec  ?= $(DEB_PACKAGES_demo) $(DEB_PACKAGES_cli) lua-busted lua-cjson ca-certificates luarocks \
                      bsdutils lua-cqueues lua-luv lua-copas
# `make test` (and `make deps`): every concern in TEST_CONCERNS, to which a
# mk/*.mk adds its own when a spec or a TEST_PRE target needs it.
TEST_CONCERNS = spec
DEB_PACKAGES_test = $(sort $(foreach c,$(TEST_CONCERNS),$(DEB_PACKAGES_$c)))

WARN    = -std=c99 -Wall -Wextra -Wpedantic
ALL_CFLAGS = $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -I$(LUA_INCDIR) $(CURL_CFLAGS)
SOURCES = $(wildcard csrc/*.c)
HEADERS = $(wildcard csrc/*.h)
CORE    = build/hamsa/core.so
# Lets the specs, the demo and the examples find the fresh build first.
RUN_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;'

.PHONY: all deps test demo install uninstall clean print help

all: $(CORE)

# Each concern beyond the core build keeps its targets in mk/<concern>.mk;
# one may add a target to TEST_PRE to have `make test` run it before the
# specs (so the spec count stays in the last lines), and packages to
# DEB_PACKAGES_<concern> (and the concern to TEST_CONCERNS when `make test`
# needs it).
TEST_PRE ?=
-include $(wildcard mk/*.mk)

# deps-build comes first (order-only: it never makes the core out of date)
$(CORE): $(SOURCES) $(HEADERS) Makefile | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LIBFLAG) -o $@ $(SOURCES) $(CURL_LIBS)

# deps-<concern>: installs what DEB_PACKAGES_<concern> lists and is missing.
# (Never in .PHONY: make looks up no pattern rule for a phony target.)
deps-%:
	$(if $(filter undefined,$(origin DEB_PACKAGES_$*)),$(error no DEB_PACKAGES_$* for deps-$*))
	@sh scripts/deps.sh $* $(sort $(DEB_PACKAGES_$*))

# what `make test` needs
deps: deps-test

test: deps-test
	@$(MAKE) --no-print-directory all $(TEST_PRE)
	$(RUN_ENV) $(BUSTED) $(BUSTED_ARGS)

demo: deps-demo
	@$(MAKE) --no-print-directory all
	@$(RUN_ENV) sh examples/run-demo.sh $(LUA)

install: $(CORE)
	install -d $(DESTDIR)$(INST_LIBDIR)/hamsa $(DESTDIR)$(INST_LUADIR)/hamsa $(DESTDIR)$(INST_BINDIR)
	install -m 755 $(CORE) $(DESTDIR)$(INST_LIBDIR)/hamsa/core.so
	for f in $$(cd lua && find hamsa -name '*.lua' | sort); do \
	  install -D -m 644 lua/$$f $(DESTDIR)$(INST_LUADIR)/$$f || exit 1; done
	install -m 755 bin/hamsa-mock $(DESTDIR)$(INST_BINDIR)/hamsa-mock
	install -m 755 bin/hamsa $(DESTDIR)$(INST_BINDIR)/hamsa

uninstall:
	rm -rf $(DESTDIR)$(INST_LIBDIR)/hamsa $(DESTDIR)$(INST_LUADIR)/hamsa $(DESTDIR)$(INST_BINDIR)/hamsa-mock \
	  $(DESTDIR)$(INST_BINDIR)/hamsa

clean:
	rm -rf build hamsa csrc/*.o

# the "make ..." lines of the comments atop Makefile and mk/*.mk
help:
	@sed -n 's/^#   \(make .*\)/\1/p' Makefile mk/*.mk

print:
	@echo LUA=$(LUA) LUA_INCDIR=$(LUA_INCDIR)
	@echo CURL_CFLAGS=$(CURL_CFLAGS) CURL_LIBS=$(CURL_LIBS)
	@echo SOURCES=$(SOURCES)
