-- hamsa.dialer.csv: RFC 4180 in and out. A seeded random round trip (fields
-- with commas, quotes, CR, LF, Arabic text and empty strings, written by
-- csv.line and read back by csv.reader), then each error, the BOM, CRLF,
-- the header rules of csv.rows and the formula guard of csv.line.
local csv = require "hamsa.dialer.csv"

local SEED = tonumber(os.getenv("HAMSA_SEED") or "") or 20261268

describe("hamsa.dialer.csv #pure", function()
    describe("round trip", function()
        local PIECES = { "a", "Z", "0", "7", " ", ",", '"', '""', "\n", "\r\n", "\r", "\t", "'", "=", "+", "-",
                         "@", "مرحبا", "ليلى", "+971501234567", "x y" }

        local function field(rnd)
            local out = {}
            for _ = 1, rnd(0, 5) do out[#out + 1] = PIECES[rnd(#PIECES)] end
            return table.concat(out)
        end

        it("csv.line then csv.reader gives back 500 random files", function()
            math.randomseed(SEED)
            local rnd = math.random
            for case = 1, 500 do
                local records, lines = {}, {}
                for r = 1, rnd(1, 5) do
                    local record = {}
                    for f = 1, rnd(1, 6) do record[f] = field(rnd) end
                    records[r] = record
                    lines[r] = csv.line(record)
                end
                local eol = rnd(2) == 1 and "\n" or "\r\n"
                local text = table.concat(lines, eol) .. (rnd(2) == 1 and eol or "")
                if rnd(4) == 1 then text = "\239\187\191" .. text end
                local back, err = csv.read_all(text)
                assert(back, ("case %d: %s\n%q"):format(case, tostring(err), text))
                assert.same(records, back, ("case %d: %q"):format(case, text))
                -- and from a file handle
                if case % 50 == 0 then
                    local f = io.tmpfile()
                    f:write(text)
                    f:seek("set")
                    local got = {}
                    for record in csv.reader(f) do got[#got + 1] = record end
                    f:close()
                    assert.same(records, got)
                end
            end
        end)
    end)

    describe("reading", function()
        it("reads quoted fields with commas, doubled quotes and line ends", function()
            assert.same({ { "a", "b,c", 'say "hi"', "two\nlines", "cr\r\nlf" } },
                csv.read_all('a,"b,c","say ""hi""","two\nlines","cr\r\nlf"'))
        end)

        it("reads CRLF and LF line ends, with or without a final one", function()
            local want = { { "id", "toNumber" }, { "1", "+971501234567" } }
            assert.same(want, csv.read_all("id,toNumber\r\n1,+971501234567\r\n"))
            assert.same(want, csv.read_all("id,toNumber\r\n1,+971501234567"))
            assert.same(want, csv.read_all("id,toNumber\n1,+971501234567\n"))
            assert.same(want, csv.read_all("id,toNumber\n1,+971501234567"))
            assert.same(want, csv.read_all("id,toNumber\r\n1,+971501234567\r"))
            assert.same(want, csv.read_all("id,toNumber\n1,+971501234567\r\n"))
        end)

        it("skips a UTF-8 BOM at the start, and only there", function()
            assert.same({ { "id", "name" }, { "1", "ليلى" } }, csv.read_all("\239\187\191id,name\r\n1,ليلى\r\n"))
            assert.same({ { "a", "\239\187\191b" } }, csv.read_all("a,\239\187\191b"))
            local rows, header = csv.rows("\239\187\191id,toNumber\n1,+971501234567\n")
            assert.same({ "id", "toNumber" }, header)
            assert.same({ { id = "1", toNumber = "+971501234567" } }, rows)
        end)

        it("keeps empty fields, and skips empty lines", function()
            assert.same({ { "", "", "" }, { "a", "" } }, csv.read_all(",,\n\n\r\na,\n\n"))
            assert.same({}, csv.read_all(""))
            assert.same({}, csv.read_all("\239\187\191"))
            assert.same({ { "" } }, csv.read_all('""\n'))
        end)

        it("keeps a lone CR inside an unquoted field", function()
            assert.same({ { "a\rb", "c" } }, csv.read_all("a\rb,c"))
        end)

        it("tells the line each record starts on", function()
            local starts = {}
            for _, line in csv.reader('a\n"b\n\nc",d\n\ne\n') do starts[#starts + 1] = line end
            assert.same({ 1, 2, 6 }, starts)
        end)
    end)

    describe("errors", function()
        it("an unterminated quote names the line it opens on", function()
            assert.same({ nil, "line 2: a quoted field is not closed (unterminated quote)" },
                { csv.read_all('a,b\nc,"d\ne\nf') })
        end)

        it("a quote in an unquoted field names its line", function()
            local records, err = csv.read_all('a,b\n"x\ny",ok\nc,d"e\n')
            assert.is_nil(records)
            assert.equal("line 4: a quote in an unquoted field (quote the whole field, doubling the quote)", err)
        end)

        it("a character after a closing quote is an error", function()
            local records, err = csv.read_all('"a"b,c')
            assert.is_nil(records)
            assert.matches("^line 1: a character after a closing quote", err)
        end)

        it("csv.reader raises the same message from its loop", function()
            local ok, err = pcall(function() for _ in csv.reader('"open') do end end)
            assert.is_false(ok)
            assert.equal("line 1: a quoted field is not closed (unterminated quote)", err)
        end)

        it("csv.reader refuses what is neither text nor a file", function()
            assert.has_error(function() csv.reader(42) end)
        end)
    end)

    describe("csv.rows", function()
        it("keys each record by the trimmed header names; missing fields are nil", function()
            local rows, header, lines = csv.rows(" id ,toNumber , name\n1,+971501234567,Layla\n\n2,+971501234568\n")
            assert.same({ "id", "toNumber", "name" }, header)
            assert.same({ { id = "1", toNumber = "+971501234567", name = "Layla" },
                          { id = "2", toNumber = "+971501234568" } }, rows)
            assert.same({ 2, 4 }, lines)
        end)

        it("an empty file has no rows and no header", function()
            assert.same({ {}, {}, {} }, { csv.rows("") })
        end)

        it("refuses a record with more fields than the header", function()
            assert.same({ nil, "line 3: 5 fields, the header has 3" }, { csv.rows("a,b,c\n1,2,3\n1,2,3,4,5\n") })
        end)

        it("refuses an empty or duplicate header name", function()
            assert.same({ nil, "line 1: column 2 of the header has no name" }, { csv.rows("id, ,x\n") })
            assert.same({ nil, 'line 1: the header names "id" twice (columns 1 and 3)' }, { csv.rows("id,x, id\n") })
        end)

        it("passes on a malformed file's error", function()
            assert.same({ nil, "line 2: a quoted field is not closed (unterminated quote)" },
                { csv.rows('id\n"1\n') })
        end)
    end)

    describe("csv.line", function()
        it("quotes only what needs it", function()
            assert.equal('a,"b,c","q""","x\ny","x\ry"," lead","trail ",plain', csv.line {
                "a", "b,c", 'q"', "x\ny", "x\ry", " lead", "trail ", "plain" })
        end)

        it("writes numbers with tostring and nil as an empty field", function()
            assert.equal("1,,2.5,true,", csv.line { 1, nil, 2.5, true, n = 5 })
            assert.equal("1,,x", csv.line { 1, nil, "x" })
        end)

        it("writes one empty field as \"\" so that it is not an empty line", function()
            assert.equal('""', csv.line { "" })
            assert.equal("", csv.line {})
            assert.equal(",", csv.line { "", "" })
        end)

        it("safe: prefixes a quote to a formula, not to an E.164 number", function()
            assert.equal("+971501234567,'=1+2,'+1+2,'-5,'@SUM(A1),'+cmd|x,'+971 50,ok,",
                csv.line({ "+971501234567", "=1+2", "+1+2", "-5", "@SUM(A1)", "+cmd|x", "+971 50", "ok", "" },
                    { safe = true }))
            assert.equal("\"'=HYPERLINK(\"\"x\"\")\",'\t1", csv.line({ '=HYPERLINK("x")', "\t1" }, { safe = true }))
            assert.equal("=1+2", csv.line { "=1+2" })
        end)
    end)
end)
