# `make reliability`: runs the fault suite (spec/45-faults_spec.lua) and
# writes docs/reliability.md from its rows and from the figures that
# `make fuzz`, `make rss` and `make check-memory` left in docs/figures/
# (scripts/reliability.lua). The fault suite is part of `make test` too; its
# TLS cases need openssl (a certificate made per run) and LuaSec (the server):
# DEB_PACKAGES_reliability, which `make test` installs too (TEST_CONCERNS).
DEB_PACKAGES_reliability ?= openssl lua-sec
TEST_CONCERNS += reliability

.PHONY: reliability
reliability: deps-spec deps-reliability
	@$(MAKE) --no-print-directory all
	$(RUN_ENV) BUSTED='$(BUSTED)' $(LUA) scripts/reliability.lua
