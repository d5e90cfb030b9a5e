-- luacheck configuration: no globals anywhere; busted's in spec/.
std = "max"
max_line_length = 120
codes = true
exclude_files = { "build/", "hamsa/" }
files["spec/"] = { std = "+busted", max_line_length = 150 }
files["lua/hamsa/client.lua"] = { read_globals = { "jit" } }
