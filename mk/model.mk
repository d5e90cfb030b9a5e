# `make model`: the seeded model of the non-blocking API (spec/74) over many
# more sequences than `make test` runs (seeds 1..300 there). MODEL_SHARDS
# processes, each with its own mock, take consecutive seed ranges from
# MODEL_FIRST_SEED on; each runs to the end and lists every failing seed
# (replay one: HAMSA_MODEL_SEED=<seed> busted spec/74-model_spec.lua). The
# sequences mostly wait on faults and timeouts, so shards overlap well on two
# cores. Logs go to build/model/<shard>.log; the last line sums them up
# (scripts/model.sh).
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
	@$(RUN_ENV) sh scripts/model.sh $(MODEL_DIR) $(MODEL_SEQUENCES) $(MODEL_SHARDS) $(MODEL_FIRST_SEED) \
	  $(MODEL_BUDGET) $(BUSTED)
