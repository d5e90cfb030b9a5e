rockspec_format = "3.0"
package = "hamsa"
version = "0.1.0-1"
source = {
    url = "git+https://github.com/lua-hamsa/lua-hamsa.git",
    tag = "v0.1.0",
}
description = {
    summary = "Client for Hamsa's voice-agent API: create, clone and update agents, place calls",
    detailed = [[
hamsa creates, clones and updates Hamsa voice agents and places phone calls
(from your own number or through Twilio). A C core drives libcurl (one multi
handle per client, keep-alive, verified TLS) and carries an integer-exact JSON
codec; a Lua layer validates bodies before sending, maps errors, and retries
only what cannot place a call twice. Blocking calls for scripts, callbacks and
client:poll() for game loops and servers.
]],
    homepage = "https://github.com/lua-hamsa/lua-hamsa",
    license = "MIT",
    labels = { "http", "api", "voice", "libcurl", "json" },
}
dependencies = {
    "lua >= 5.1, < 5.5",
    "argparse >= 0.7",        -- bin/hamsa (hamsa.cli); Debian: lua-argparse
}
-- Only the library: Debian keeps curl/curl.h in a multiarch folder that the
-- compiler finds by itself, so the header path is not required.
external_dependencies = {
    CURL = { library = "curl" },
}
build = {
    type = "builtin",
    modules = {
        ["hamsa.core"] = {
            sources = { "csrc/core.c", "csrc/http.c", "csrc/json.c", "csrc/shape.c", "csrc/sys.c" },
            incdirs = { "csrc", "$(CURL_INCDIR)" },
            libdirs = { "$(CURL_LIBDIR)" },
            libraries = { "curl" },
        },
        ["hamsa"] = "lua/hamsa/init.lua",
        ["hamsa.adapter.copas"] = "lua/hamsa/adapter/copas.lua",
        ["hamsa.adapter.cqueues"] = "lua/hamsa/adapter/cqueues.lua",
        ["hamsa.adapter.luv"] = "lua/hamsa/adapter/luv.lua",
        ["hamsa.cli"] = "lua/hamsa/cli/init.lua",
        ["hamsa.cli.call"] = "lua/hamsa/cli/call.lua",
        ["hamsa.cli.dial"] = "lua/hamsa/cli/dial.lua",
        ["hamsa.cli.input"] = "lua/hamsa/cli/input.lua",
        ["hamsa.cli.listen"] = "lua/hamsa/cli/listen.lua",
        ["hamsa.cli.mock"] = "lua/hamsa/cli/mock.lua",
        ["hamsa.cli.output"] = "lua/hamsa/cli/output.lua",
        ["hamsa.cli.progress"] = "lua/hamsa/cli/progress.lua",
        ["hamsa.cli.routes"] = "lua/hamsa/cli/routes.lua",
        ["hamsa.client"] = "lua/hamsa/client.lua",
        ["hamsa.config"] = "lua/hamsa/config.lua",
        ["hamsa.dialer"] = "lua/hamsa/dialer/init.lua",
        ["hamsa.dialer.csv"] = "lua/hamsa/dialer/csv.lua",
        ["hamsa.dialer.engine"] = "lua/hamsa/dialer/engine.lua",
        ["hamsa.dialer.ledger"] = "lua/hamsa/dialer/ledger.lua",
        ["hamsa.dialer.window"] = "lua/hamsa/dialer/window.lua",
        ["hamsa.errors"] = "lua/hamsa/errors.lua",
        ["hamsa.loop"] = "lua/hamsa/loop.lua",
        ["hamsa.mock"] = "lua/hamsa/mock/init.lua",
        ["hamsa.mock.agents"] = "lua/hamsa/mock/agents.lua",
        ["hamsa.mock.api"] = "lua/hamsa/mock/api.lua",
        ["hamsa.mock.calls"] = "lua/hamsa/mock/calls.lua",
        ["hamsa.mock.campaigns"] = "lua/hamsa/mock/campaigns.lua",
        ["hamsa.mock.clock"] = "lua/hamsa/mock/clock.lua",
        ["hamsa.mock.control"] = "lua/hamsa/mock/control.lua",
        ["hamsa.mock.conversations"] = "lua/hamsa/mock/conversations.lua",
        ["hamsa.mock.faults"] = "lua/hamsa/mock/faults.lua",
        ["hamsa.mock.handler"] = "lua/hamsa/mock/handler.lua",
        ["hamsa.mock.knowledge_base"] = "lua/hamsa/mock/knowledge_base.lua",
        ["hamsa.mock.phone_numbers"] = "lua/hamsa/mock/phone_numbers.lua",
        ["hamsa.mock.options"] = "lua/hamsa/mock/options.lua",
        ["hamsa.mock.playout"] = "lua/hamsa/mock/playout.lua",
        ["hamsa.mock.response"] = "lua/hamsa/mock/response.lua",
        ["hamsa.mock.seed"] = "lua/hamsa/mock/seed.lua",
        ["hamsa.mock.server"] = "lua/hamsa/mock/server.lua",
        ["hamsa.mock.store"] = "lua/hamsa/mock/store.lua",
        ["hamsa.mock.text"] = "lua/hamsa/mock/text.lua",
        ["hamsa.mock.webhooks"] = "lua/hamsa/mock/webhooks.lua",
        ["hamsa.mock.wire"] = "lua/hamsa/mock/wire.lua",
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
        ["hamsa.webhook.serve"] = "lua/hamsa/webhook/serve.lua",
    },
    -- the LuaLS definitions (types/hamsa.lua, docs/types.md), for .luarc.json
    copy_directories = { "types" },
    install = {
        bin = { ["hamsa-mock"] = "bin/hamsa-mock", ["hamsa"] = "bin/hamsa" },
    },
}
-- Debian's busted is not a rock: the Makefile runs it.
test = {
    type = "command",
    command = "make test",
}
