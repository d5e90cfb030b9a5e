# The HTML reference (config.ld): every public module, function,
# parameter, result and example, with the README and the user-facing docs/
# pages as topics, written to build/doc/ (open build/doc/index.html).
#
#   make docs     build the reference with Debian's LDoc; any warning fails it
#
# LDoc only warns (on an undocumented argument, a tag it cannot parse, a
# reference it cannot resolve, ...) and exits 0 all the same, so
# scripts/docs.sh keeps its output, drops the lines it prints on every
# good run, and fails, printing them, if anything else is left. `make
# test` builds it first (TEST_PRE), so CI fails on a warning.
#
# lua-discount is the Markdown processor (format = "discount"): Debian's
# lua-ldoc leaves out LDoc's own markdown.lua, and lua-markdown is built
# for Lua 5.1 only, while ldoc runs on lua5.2 when that is installed.
# Debian's ldoc script runs on lua5.2 or lua5.1 only (lua-any), though the
# package is content with any Lua: lua5.1 makes sure one is there.
DEB_PACKAGES_docs ?= lua-ldoc lua-discount lua5.1
DOCS_DIR ?= build/doc

.PHONY: docs
docs: deps-docs
	@sh scripts/docs.sh $(DOCS_DIR)

TEST_PRE += docs
TEST_CONCERNS += docs
