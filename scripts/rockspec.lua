-- The release rockspec of one rock, made from its scm rockspec (at the root of
-- the repository), on stdout:
--
--   lua5.4 scripts/rockspec.lua hamsa-scm-1.rockspec 0.2.0 > rockspecs/hamsa-0.2.0-1.rockspec
--
-- `make rockspecs` runs it for every *-scm-1.rockspec with the version of
-- csrc/hamsa.h, and spec/95 checks that rockspecs/ holds its output. The
-- release differs from the scm one in four places, each of which must match
-- exactly once (else this fails, rather than write a half-made rockspec):
--   the line `-- scm: ...`        -> `-- Release X.Y.Z: made from ...`
--   version = "scm-1"             -> version = "X.Y.Z-1"
--   the source url line           -> followed by tag = "vX.Y.Z"
--   "<rock> = scm" dependencies   -> "<rock> = X.Y.Z" (at least once, or not at all)
-- SPDX-License-Identifier: MIT

local scm_path, version = arg[1], arg[2]
if not (scm_path and version and version:match("^%d+%.%d+%.%d+$")) then
    io.stderr:write("usage: lua scripts/rockspec.lua NAME-scm-1.rockspec X.Y.Z\n")
    os.exit(2)
end
local scm_name = scm_path:match("([^/]+)$")
local f = assert(io.open(scm_path, "rb"))
local text = f:read("*a")
f:close()

local function once(pattern, replacement, what)
    local out, n = text:gsub(pattern, replacement)
    if n ~= 1 then
        io.stderr:write(("scripts/rockspec.lua: %s: expected one %s, found %d\n"):format(scm_path, what, n))
        os.exit(1)
    end
    text = out
end

-- Lua patterns: every magic character of the replacements is plain here but "%"
local made_from = "\n-- Release %s: made from %s by `make rockspecs` (scripts/rockspec.lua); edit that one.\n"
once("\n%-%- scm: [^\n]*\n", made_from:format(version, scm_name), "`-- scm: ...` comment line")
once('\nversion = "scm%-1"\n', ('\nversion = "%s-1"\n'):format(version), 'version = "scm-1" line')
once('(\n    url = "git%+https://[^"\n]+",\n)', ('%%1    tag = "v%s",\n'):format(version), "git+https source url line")
text = text:gsub('("[%w_%-]+ = )scm"', "%1" .. version .. '"')

io.stdout:write(text)
