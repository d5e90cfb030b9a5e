# The dialer (lua/hamsa/dialer/): its ledger drivers from Debian (LuaSQL for
# SQLite and PostgreSQL), which `make test` needs; the PostgreSQL proof runs
# a real server from Debian's postgresql package in a temporary cluster.
#
#   make test-postgres   three dialer processes sharing one PostgreSQL ledger (spec/69)
DEB_PACKAGES_dialer   ?= lua-sql-sqlite3 lua-sql-postgres
DEB_PACKAGES_postgres ?= $(DEB_PACKAGES_dialer) postgresql
TEST_CONCERNS += dialer
