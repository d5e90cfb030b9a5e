-- 11-jsontestsuite_spec.lua: the decoder against every parsing case of
-- JSONTestSuite (y_ must decode, n_ must fail with nil, err, i_ must not crash).
-- SPDX-License-Identifier: MIT
local json = require("hamsa.core").json

-- The suite lives in shared/ beside the repository (CI clones it there);
-- fall back to the absolute path of the development machine.
local function suite_dir()
    local source = debug.getinfo(1, "S").source:gsub("^@", "")
    local spec_dir = source:match("^(.*)[/\\]") or "."
    local candidates = {
        spec_dir .. "/../../shared/testdata/JSONTestSuite",
        "../shared/testdata/JSONTestSuite",
        "/work/shared/testdata/JSONTestSuite",
    }
    for _, dir in ipairs(candidates) do
        local f = io.open(dir .. "/test_parsing/y_structure_lonely_true.json", "rb")
        if f then
            f:close()
            return dir .. "/test_parsing"
        end
    end
    error("JSONTestSuite not found (looked in ../shared/testdata and /work/shared/testdata)")
end

local function list(dir)
    local names = {}
    local ok, lfs = pcall(require, "lfs")
    if ok then
        for name in lfs.dir(dir) do names[#names + 1] = name end
    else
        local p = assert(io.popen('ls -1 "' .. dir .. '"'))
        for name in p:lines() do names[#names + 1] = name end
        p:close()
    end
    local files = {}
    for _, name in ipairs(names) do
        if name:match("^[yni]_.*%.json$") then files[#files + 1] = name end
    end
    table.sort(files)
    return files
end

local function slurp(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

describe("hamsa.json", function()
    describe("JSONTestSuite", function()
        local dir = suite_dir()
        local files = list(dir)
        local score = { y = 0, n = 0, i = 0 }
        local total = { y = 0, n = 0, i = 0 }
        local accepted_i = 0

        for _, name in ipairs(files) do
            local kind = name:sub(1, 1)
            total[kind] = total[kind] + 1
            it(name, function()
                local text = slurp(dir .. "/" .. name)
                local ok, v, err, pos = pcall(json.decode, text)
                assert(ok, "decode raised: " .. tostring(v))
                if kind == "y" then
                    assert(err == nil, err)
                    assert.is_not_nil(v)
                elseif kind == "n" then
                    assert.is_nil(v)
                    assert.is_string(err)
                    assert.matches("^json: .* at byte %d+$", err)
                    assert.are.equal("number", type(pos))
                else
                    if err == nil then accepted_i = accepted_i + 1 end
                end
                score[kind] = score[kind] + 1
            end)
        end

        it("scores everything", function()
            local line = string.format(
                "JSONTestSuite: y %d/%d, n %d/%d, i %d no crash (%d accepted, %d rejected)",
                score.y, total.y, score.n, total.n, score.i, accepted_i, total.i - accepted_i)
            print("\n" .. line)
            assert.is_true(total.y > 0 and total.n > 0 and total.i > 0)
            assert.are.same(total, score)
        end)
    end)
end)
