# The dialer (lua/hamsa/dialer/): its ledger drivers from Debian (LuaSQL for
# SQLite and PostgreSQL), which `make test` needs; the PostgreSQL proof runs
# a real server from Debian's postgresql package in a temporary cluster.
#
#   make test-postgres   three dialer processes sharing one PostgreSQL ledger (spec/70)
DEB_PACKAGES_dialer   ?= lua-sql-sqlite3 lua-sql-postgres
DEB_PACKAGES_postgres ?= $(DEB_PACKAGES_dialer) postgresql
TEST_CONCERNS += dialer

# The dialer's proofs (tests tagged #proof: 1000 rows killed 20 times, the
# fault storm, several processes) run in `make test` and test-postgres; the
# other runs of the whole suite (each Lua, valgrind, ASan) leave them out to
# keep CI's time bounded: they drive child processes on lua5.4 through the
# same library code the rest of the suite covers on every Lua.
PROOF_EXCLUDE ?= --exclude-tags=proof
# The memory runs also leave out the specs tagged #pure: pure-Lua modules
# (the calling window's time zones, CSV) whose randomized specs never reach
# the C core that valgrind and ASan watch; and those tagged #postgres, whose
# work is a PostgreSQL server's (test-postgres runs them).
MEMORY_EXCLUDE ?= --exclude-tags=proof,pure,postgres

# Every spec tagged #postgres (spec/67 proves spec/pg.lua, the throwaway
# server they start), with the server and the LuaSQL driver installed first.
# Only the files that carry the tag: busted runs a file's strict setup even
# when none of its tests match (the openresty specs' would need LuaJIT).
.PHONY: test-postgres
test-postgres: deps-postgres
	@$(MAKE) --no-print-directory all
	$(RUN_ENV) $(BUSTED) --tags=postgres $$(grep -l -e '#postgres' spec/*_spec.lua)
