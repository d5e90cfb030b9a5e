-- hamsa: the library, the C core over libcurl and the Lua layer. It needs
-- nothing else at run time. The LuaSocket parts (the mock API and
-- hamsa.webhook.serve) are the rock hamsa-mock, the `hamsa` command the rock
-- hamsa-cli: docs/packaging.md tells what each rock installs and needs, and why.
-- Release 0.2.0: made from hamsa-scm-1.rockspec by `make rockspecs` (scripts/rockspec.lua); edit that one.
rockspec_format = "3.0"
package = "hamsa"
version = "0.2.0-1"
source = {
    url = "git+https://github.com/lua-hamsa/lua-hamsa.git",
    tag = "v0.2.0",
}
description = {
    summary = "Client for Hamsa's voice-agent API: create, clone and update agents, place calls",
    detailed = [[
hamsa creates, clones and updates Hamsa voice agents and places phone calls
(from your own number or through Twilio). A C core drives libcurl (one multi
handle per client, keep-alive, verified TLS) and carries an integer-exact JSON
codec; a Lua layer validates bodies before sending, maps errors, and retries
only what cannot place a call twice. Blocking calls for scripts, callbacks and
client:poll() for game loops and servers. The mock API and the webhook server
are the rock hamsa-mock, the `hamsa` command the rock hamsa-cli.
]],
    homepage = "https://github.com/lua-hamsa/lua-hamsa",
    license = "MIT",
    labels = { "http", "api", "voice", "libcurl", "json" },
}
-- POSIX: a monotonic clock, /dev/urandom (getrandom on Linux), isatty, kill(pid, 0).
supported_platforms = { "unix" }
-- hamsa.dialer's ledger loads LuaSQL's sqlite3 or postgres driver when a
-- dialer is made, and only the one asked for: neither is declared (see
-- docs/packaging.md).
dependencies = {
    "lua >= 5.1, < 5.5",
}
-- libcurl's development files, found the LuaRocks way: CURL_DIR, or CURL_INCDIR
-- and CURL_LIBDIR, point elsewhere (luarocks make CURL_DIR=/opt/curl).
-- The library is checked everywhere. The header curl/curl.h is checked too, as
-- in Lua-cURLv3, but not on Linux: Debian and Ubuntu keep it in a multiarch
-- folder (/usr/include/x86_64-linux-gnu/curl/curl.h) that LuaRocks does not
-- search and the compiler finds by itself. There curl-config stands for the
-- development files: every distribution ships it in the same package as the
-- header (libcurl4-openssl-dev, libcurl-devel, curl-dev), in <prefix>/bin.
external_dependencies = {
    CURL = { library = "curl" },
    platforms = {
        linux = { CURL = { program = "curl-config" } },
        bsd = { CURL = { header = "curl/curl.h" } },      -- the BSDs and macOS
    },
}
-- Not `type = "builtin"`: builtin also copies the whole lua/ folder into the
-- rock, and lua/ holds the modules of hamsa-mock and hamsa-cli too. The core
-- is compiled as builtin would, with LuaRocks' own CC, CFLAGS and LIBFLAG,
-- every csrc/*.c in one command, into build/luarocks/ (the Makefile's build/
-- is git-ignored); the modules are listed one a line.
build = {
    type = "command",
    -- the editor types (types/hamsa.lua, LuaLS), in the rock's folder:
    -- `$(luarocks show --rock-dir hamsa)/types` for a .luarc.json
    copy_directories = { "types" },
    build_command = "mkdir -p build/luarocks/hamsa && $(CC) $(CFLAGS) $(LIBFLAG) -Icsrc -I'$(LUA_INCDIR)'"
        .. " -I'$(CURL_INCDIR)' -o build/luarocks/hamsa/core.so"
        .. " csrc/core.c csrc/http.c csrc/json.c csrc/shape.c csrc/sys.c -L'$(CURL_LIBDIR)' -lcurl",
    install = {
        lib = { ["hamsa.core"] = "build/luarocks/hamsa/core.so" },
        lua = {
            ["hamsa"] = "lua/hamsa/init.lua",
            ["hamsa.adapter.copas"] = "lua/hamsa/adapter/copas.lua",
            ["hamsa.adapter.cqueues"] = "lua/hamsa/adapter/cqueues.lua",
            ["hamsa.adapter.luv"] = "lua/hamsa/adapter/luv.lua",
            ["hamsa.client"] = "lua/hamsa/client.lua",
            ["hamsa.config"] = "lua/hamsa/config.lua",
            ["hamsa.dialer"] = "lua/hamsa/dialer/init.lua",
            ["hamsa.dialer.csv"] = "lua/hamsa/dialer/csv.lua",
            ["hamsa.dialer.engine"] = "lua/hamsa/dialer/engine.lua",
            ["hamsa.dialer.ledger"] = "lua/hamsa/dialer/ledger.lua",
            ["hamsa.dialer.window"] = "lua/hamsa/dialer/window.lua",
            ["hamsa.errors"] = "lua/hamsa/errors.lua",
            ["hamsa.loop"] = "lua/hamsa/loop.lua",
            ["hamsa.openresty"] = "lua/hamsa/openresty.lua",
            ["hamsa.openresty_webhook"] = "lua/hamsa/openresty_webhook.lua",
            ["hamsa.pager"] = "lua/hamsa/pager.lua",
            ["hamsa.prepare"] = "lua/hamsa/prepare.lua",
            ["hamsa.request"] = "lua/hamsa/request.lua",
            ["hamsa.resources"] = "lua/hamsa/resources.lua",
            ["hamsa.response"] = "lua/hamsa/response.lua",
            ["hamsa.retry"] = "lua/hamsa/retry.lua",
            ["hamsa.routes"] = "lua/hamsa/routes.lua",
            ["hamsa.tasks"] = "lua/hamsa/tasks.lua",
            ["hamsa.url"] = "lua/hamsa/url.lua",
            ["hamsa.validate"] = "lua/hamsa/validate/init.lua",
            ["hamsa.validate.agent"] = "lua/hamsa/validate/agent.lua",
            ["hamsa.validate.checks"] = "lua/hamsa/validate/checks.lua",
            ["hamsa.validate.fast"] = "lua/hamsa/validate/fast.lua",
            ["hamsa.validate.native"] = "lua/hamsa/validate/native.lua",
            ["hamsa.validate.queries"] = "lua/hamsa/validate/queries.lua",
            ["hamsa.validate.resources"] = "lua/hamsa/validate/resources.lua",
            ["hamsa.validate.v2"] = "lua/hamsa/validate/v2.lua",
            ["hamsa.waiter"] = "lua/hamsa/waiter.lua",
            ["hamsa.webhook"] = "lua/hamsa/webhook/init.lua",
        },
    },
}
-- `luarocks test`: the spec suite, through the Makefile (it builds the core,
-- installs what the specs lack with apt and runs Debian's busted on Lua 5.4
-- with the work tree's paths). Not `type = "busted"`: that installs busted as
-- a rock, online, and Debian's busted is not one. Some specs only: through
-- the environment (luarocks keeps KEY=VALUE arguments for itself):
-- `BUSTED_ARGS=spec/95-packaging_spec.lua luarocks test hamsa-scm-1.rockspec`.
test = {
    type = "command",
    command = "make test",
}
