# `make model`: the seeded model of the non-blocking API (spec/74) over many
# more sequences than `make test` runs (seeds 1..300 there). MODEL_SHARDS
# processes, each with its own mock, take consecutive seed ranges from
# MODEL_FIRST_SEED on; each runs to the end and lists every failing seed
# (replay one: HAMSA_MODEL_SEED=<seed> busted spec/74-model_spec.lua). The
# sequences mostly wait on faults and timeouts, so shards overlap well on two
# cores. Logs go to build/model/<shard>.log; the last line sums them up.
#
#   make model                                  2700 sequences, seeds 301..3000
#   make model MODEL_SEQUENCES=10000 MODEL_SHARDS=8
MODEL_SEQUENCES  ?= 2700
MODEL_SHARDS     ?= 4
MODEL_FIRST_SEED ?= 301
MODEL_BUDGET     ?= 900
MODEL_DIR         = build/model

.PHONY: model
model: deps-spec
	@$(MAKE) --no-print-directory all
	@mkdir -p $(MODEL_DIR); rm -f $(MODEL_DIR)/*.log
	@per=$$(( ($(MODEL_SEQUENCES) + $(MODEL_SHARDS) - 1) / $(MODEL_SHARDS) )); pids=""; \
	for i in $$(seq 0 $$(( $(MODEL_SHARDS) - 1 ))); do \
	  first=$$(( $(MODEL_FIRST_SEED) + i * per )); \
	  $(RUN_ENV) HAMSA_MODEL_SEED=$$first HAMSA_MODEL_SEQUENCES=$$per HAMSA_MODEL_KEEP_GOING=1 \
	    HAMSA_MODEL_BUDGET=$(MODEL_BUDGET) $(BUSTED) -o TAP --filter='model%-based' spec/74-model_spec.lua \
	    > $(MODEL_DIR)/$$i.log 2>&1 & pids="$$pids $$!"; \
	done; rc=0; for p in $$pids; do wait $$p || rc=1; done; \
	grep -h '^model:' $(MODEL_DIR)/*.log; \
	seqs=0; steps=0; failed=0; \
	for f in $(MODEL_DIR)/*.log; do \
	  line=$$(grep '^model: [0-9]* sequences' $$f | tail -n 1); \
	  [ -n "$$line" ] || { echo "make model: no summary in $$f"; tail -n 20 $$f; rc=1; continue; }; \
	  set -- $$line; seqs=$$((seqs + $$2)); steps=$$((steps + $$4)); \
	  n=$$(echo "$$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); failed=$$((failed + $${n:-1})); \
	done; \
	echo "model: $$seqs sequences, $$steps steps in $(MODEL_SHARDS) shards from seed $(MODEL_FIRST_SEED): $$failed failed"; \
	[ $$rc = 0 ] && [ $$failed = 0 ] || { echo "make model: failures above (logs in $(MODEL_DIR)/)"; exit 1; }
