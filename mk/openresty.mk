# The library inside nginx's Lua module (OpenResty's lua-nginx-module, here
# Debian's nginx + libnginx-mod-http-lua on LuaJIT). spec/80-openresty_spec.lua
# starts openresty/nginx.sh (an nginx on 127.0.0.1 with a private prefix
# under build/openresty/) whose handlers create an agent and place a call
# against the mock through hamsa.openresty, and proves that a slow API call
# does not stall the worker. It is part of the suite, so `make test` runs
# it; TEST_PRE builds the LuaJIT core it loads, build/jit/hamsa/core.so
# (the rule is in mk/matrix.mk), and so does every other target that runs
# the suite (check-memory, test-lua-<v>...).
#
#   make test-openresty    only that spec
#   make demo-openresty    nginx + the mock, one call placed through nginx
#
# The nginx Lua module pulls luajit2's library (libluajit2-5.1-2), which
# conflicts with Debian's other LuaJIT (luajit, libluajit-5.1-*): apt swaps
# them, and luajit2's headers are the ones that coexist with it. `make
# deps-openresty` installs them (`make test` does, through TEST_CONCERNS).
DEB_PACKAGES_openresty ?= nginx libnginx-mod-http-lua libluajit2-5.1-dev

OPENRESTY_CORE = build/jit/hamsa/core.so

.PHONY: openresty-core test-openresty demo-openresty
openresty-core: $(OPENRESTY_CORE)

test-openresty: deps-spec deps-openresty
	@$(MAKE) --no-print-directory all openresty-core
	$(RUN_ENV) $(BUSTED) spec/80-openresty_spec.lua spec/81-openresty_webhook_spec.lua

demo-openresty: deps-demo deps-openresty
	@$(MAKE) --no-print-directory all openresty-core
	@$(RUN_ENV) sh examples/with-mock.sh -- sh openresty/demo.sh

TEST_PRE += openresty-core
TEST_CONCERNS += openresty
