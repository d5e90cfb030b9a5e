# The rocks (docs/packaging.md): hamsa (the library), hamsa-mock (the mock
# API and hamsa.webhook.serve, on LuaSocket) and hamsa-cli (bin/hamsa). Each
# has its scm rockspec at the root, written by hand, and a release rockspec
# in rockspecs/, made from it for the version of csrc/hamsa.h:
#
#   make rockspecs     rockspecs/<rock>-<version>-1.rockspec from each <rock>-scm-1.rockspec
#   make dist          build/dist/<rock>-<version>-1.src.rock from the committed tree, offline
#   make dist-check    make dist, then luarocks build each .src.rock into a fresh tree, offline
#   make test-rock     only spec/96 (installs the rocks on 5.1, 5.4 and LuaJIT, runs the quickstart)
#
# A source rock is what `luarocks pack` makes of a git source: a zip holding
# the rockspec and the source tree in a folder named after the repository
# (lua-hamsa/, the rockspec's source.dir). `luarocks pack` would clone the
# tag from GitHub; here the tree is `git archive HEAD` and the rockspec the
# one committed in rockspecs/, so the rock is the commit, whatever is
# uncommitted (make dist says when there is some).
#
# make rockspecs and make dist: lua5.4 runs scripts/rockspec.lua, git and zip
# make the rocks.
DEB_PACKAGES_dist ?= lua5.4 git zip
# spec/96 and make dist-check install with luarocks (which unzips source
# rocks) for 5.1, 5.4 and LuaJIT: their interpreters and headers (LuaJIT:
# luajit2's, as in mk/matrix.mk), libcurl's development files, and the system
# LuaSocket and argparse that the installed hamsa-mock and hamsa use.
DEB_PACKAGES_rock ?= $(DEB_PACKAGES_dist) luarocks unzip lua5.1 $(call lua_dev,5.1) $(call lua_dev,5.4) \
                     luajit2 libluajit2-5.1-dev libcurl4-openssl-dev lua-socket lua-argparse
TEST_CONCERNS += rock

HAMSA_VERSION := $(shell sed -n 's/^\#define HAMSA_VERSION "\(.*\)"/\1/p' csrc/hamsa.h)
ROCKS         := $(patsubst %-scm-1.rockspec,%,$(wildcard *-scm-1.rockspec))
RELEASE_ROCKSPECS = $(ROCKS:%=rockspecs/%-$(HAMSA_VERSION)-1.rockspec)
DIST_DIR     ?= build/dist
# the folder of the sources inside a source rock: the repository's name, as
# LuaRocks names a git clone (the basename of source.url without .git)
DIST_SRC_DIR  = lua-hamsa

.PHONY: rockspecs dist dist-check test-rock

# every release rockspec of the version is made again; older versions stay
rockspecs: deps-dist
	@mkdir -p rockspecs
	@for r in $(ROCKS); do \
	  lua5.4 scripts/rockspec.lua $$r-scm-1.rockspec $(HAMSA_VERSION) > rockspecs/$$r-$(HAMSA_VERSION)-1.rockspec.tmp \
	    && mv rockspecs/$$r-$(HAMSA_VERSION)-1.rockspec.tmp rockspecs/$$r-$(HAMSA_VERSION)-1.rockspec \
	    && echo "rockspecs/$$r-$(HAMSA_VERSION)-1.rockspec" || exit 1; done

dist: deps-dist
	@test -z "$$(git status --porcelain)" || echo "make dist: uncommitted changes are left out (the rocks are HEAD, $$(git rev-parse --short HEAD))"
	@rm -rf $(DIST_DIR) && mkdir -p $(DIST_DIR)/tree
	@git archive --format=tar --prefix=$(DIST_SRC_DIR)/ HEAD | tar -x -C $(DIST_DIR)/tree
	@for r in $(ROCKS); do \
	  spec=$$r-$(HAMSA_VERSION)-1.rockspec; \
	  git show HEAD:rockspecs/$$spec > $(DIST_DIR)/tree/$$spec \
	    || { echo "make dist: rockspecs/$$spec is not committed (make rockspecs, then commit)"; exit 1; }; \
	  (cd $(DIST_DIR)/tree && zip -q -X -r ../$$r-$(HAMSA_VERSION)-1.src.rock $$spec $(DIST_SRC_DIR)) || exit 1; \
	  rm $(DIST_DIR)/tree/$$spec; \
	done
	@rm -rf $(DIST_DIR)/tree
	@ls -l $(DIST_DIR)/*.src.rock

# --deps-mode=none: LuaSocket and argparse are Debian's here, not rocks
dist-check: deps-rock dist
	@rm -rf $(DIST_DIR)/check
	@for r in $(ROCKS); do \
	  luarocks --lua-version=5.4 --tree=$(DIST_DIR)/check build --deps-mode=none \
	    $(DIST_DIR)/$$r-$(HAMSA_VERSION)-1.src.rock > $(DIST_DIR)/check-$$r.log 2>&1 \
	    || { cat $(DIST_DIR)/check-$$r.log; exit 1; }; \
	  grep "is now installed" $(DIST_DIR)/check-$$r.log; done
	@cd /tmp && LUA_PATH='$(CURDIR)/$(DIST_DIR)/check/share/lua/5.4/?.lua;$(CURDIR)/$(DIST_DIR)/check/share/lua/5.4/?/init.lua;;' \
	  LUA_CPATH='$(CURDIR)/$(DIST_DIR)/check/lib/lua/5.4/?.so;;' $(CURDIR)/$(DIST_DIR)/check/bin/hamsa --version

test-rock: deps-spec deps-rock
	@$(MAKE) --no-print-directory all
	$(RUN_ENV) $(BUSTED) spec/96-rock_install_spec.lua
