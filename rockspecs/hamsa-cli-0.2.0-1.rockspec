-- hamsa-cli: the `hamsa` command (bin/hamsa, hamsa.cli). `hamsa listen` and
-- `hamsa mock` run the servers of hamsa-mock, so it comes too.
-- docs/packaging.md tells what each rock installs and needs, and why.
-- Release 0.2.0: made from hamsa-cli-scm-1.rockspec by `make rockspecs` (scripts/rockspec.lua); edit that one.
rockspec_format = "3.0"
package = "hamsa-cli"
version = "0.2.0-1"
source = {
    url = "git+https://github.com/lua-hamsa/lua-hamsa.git",
    tag = "v0.2.0",
}
description = {
    summary = "The hamsa command: Hamsa's voice-agent API from the shell",
    detailed = [[
`hamsa` has a subcommand for every route of Hamsa's voice-agent API that the
hamsa library wraps (hamsa agents create --file agent.json, hamsa call ...
--wait, hamsa numbers list --all), waits for conversations, campaigns and the
knowledge base, listens for webhooks (hamsa listen), serves the mock API
(hamsa mock) and dials a list of people exactly once (hamsa dial). JSON on a
pipe, tables on a terminal.
]],
    homepage = "https://github.com/lua-hamsa/lua-hamsa",
    license = "MIT",
    labels = { "cli", "api", "voice" },
}
supported_platforms = { "unix" }
-- `hamsa dial` needs a LuaSQL driver, like hamsa.dialer: not declared (see
-- docs/packaging.md).
dependencies = {
    "lua >= 5.1, < 5.5",
    "hamsa = 0.2.0",
    "hamsa-mock = 0.2.0",
    "argparse >= 0.7",
}
-- Lua only: `type = "none"` installs what build.install lists (builtin would
-- also copy the whole lua/ folder, the library's modules included).
build = {
    type = "none",
    install = {
        lua = {
            ["hamsa.cli"] = "lua/hamsa/cli/init.lua",
            ["hamsa.cli.call"] = "lua/hamsa/cli/call.lua",
            ["hamsa.cli.dial"] = "lua/hamsa/cli/dial.lua",
            ["hamsa.cli.input"] = "lua/hamsa/cli/input.lua",
            ["hamsa.cli.listen"] = "lua/hamsa/cli/listen.lua",
            ["hamsa.cli.mock"] = "lua/hamsa/cli/mock.lua",
            ["hamsa.cli.output"] = "lua/hamsa/cli/output.lua",
            ["hamsa.cli.progress"] = "lua/hamsa/cli/progress.lua",
            ["hamsa.cli.routes"] = "lua/hamsa/cli/routes.lua",
        },
        bin = { ["hamsa"] = "bin/hamsa" },
    },
}
-- `luarocks test`: the spec suite of the whole tree, as for hamsa-scm-1.rockspec
-- (without a test table, luarocks would see .busted and install busted online).
test = {
    type = "command",
    command = "make test",
}
