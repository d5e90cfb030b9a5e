-- hamsa-mock: the LuaSocket half of hamsa. A mock of Hamsa's API for your
-- tests (bin/hamsa-mock, hamsa.mock) and hamsa.webhook.serve, the plain-Lua
-- webhook server, which reads requests with the mock's HTTP reader
-- (hamsa.mock.wire). Both need LuaSocket, which the library does not.
-- docs/packaging.md tells what each rock installs and needs, and why.
-- scm: the work tree as it is; `make rockspecs` makes rockspecs/hamsa-mock-X.Y.Z-1.rockspec from it.
rockspec_format = "3.0"
package = "hamsa-mock"
version = "scm-1"
source = {
    url = "git+https://github.com/lua-hamsa/lua-hamsa.git",
}
description = {
    summary = "A mock of Hamsa's voice-agent API, and hamsa.webhook.serve, on LuaSocket",
    detailed = [[
bin/hamsa-mock serves a mock of Hamsa's voice-agent API on 127.0.0.1: every
route the hamsa library wraps, calls that play out on a clock, webhook
deliveries, a request log and fault injection, so that code using hamsa can be
tested offline. The same LuaSocket server underlies hamsa.webhook.serve, which
receives Hamsa's webhooks in plain Lua.
]],
    homepage = "https://github.com/lua-hamsa/lua-hamsa",
    license = "MIT",
    labels = { "http", "api", "voice", "mock", "testing", "webhook" },
}
supported_platforms = { "unix" }
-- the same tree's library (the mock encodes with hamsa.core, the webhook server
-- extends hamsa.webhook), and LuaSocket.
dependencies = {
    "lua >= 5.1, < 5.5",
    "hamsa = scm",
    "luasocket >= 3.0",
}
-- Lua only: `type = "none"` installs what build.install lists (builtin would
-- also copy the whole lua/ folder, the library's modules included).
build = {
    type = "none",
    install = {
        lua = {
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
            ["hamsa.webhook.serve"] = "lua/hamsa/webhook/serve.lua",
        },
        bin = { ["hamsa-mock"] = "bin/hamsa-mock" },
    },
}
-- `luarocks test`: the spec suite of the whole tree, as for hamsa-scm-1.rockspec
-- (without a test table, luarocks would see .busted and install busted online).
test = {
    type = "command",
    command = "make test",
}
