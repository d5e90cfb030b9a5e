#!/bin/sh
# scripts/model.sh DIR SEQUENCES SHARDS FIRST_SEED BUDGET BUSTED...: `make
# model` after the build. Splits SEQUENCES seeded sequences of the model of
# spec/74 into SHARDS consecutive seed ranges from FIRST_SEED on, runs them at
# once (BUSTED... is the busted command; each shard starts its own mock), one
# log each in DIR/<shard>.log, and sums them up in its last line. Fails when a
# shard failed or left no summary; the failing seeds are in the "model:" lines.
set -u
[ $# -ge 6 ] || { echo "usage: scripts/model.sh DIR SEQUENCES SHARDS FIRST_SEED BUDGET BUSTED..." >&2; exit 2; }
dir=$1 sequences=$2 shards=$3 first_seed=$4 budget=$5
shift 5

mkdir -p "$dir"
rm -f "$dir"/*.log
per=$(( (sequences + shards - 1) / shards ))
pids=""
i=0
while [ $i -lt "$shards" ]; do
    HAMSA_MODEL_SEED=$((first_seed + i * per)) HAMSA_MODEL_SEQUENCES=$per HAMSA_MODEL_KEEP_GOING=1 \
        HAMSA_MODEL_BUDGET=$budget "$@" -o TAP --filter='model%-based' spec/74-model_spec.lua \
        >"$dir/$i.log" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
done
rc=0
for p in $pids; do wait "$p" || rc=1; done

grep -h '^model:' "$dir"/*.log
seqs=0 steps=0 failed=0
for f in "$dir"/*.log; do
    line=$(grep '^model: [0-9]* sequences' "$f" | tail -n 1)
    [ -n "$line" ] || { echo "make model: no summary in $f"; tail -n 20 "$f"; rc=1; continue; }
    # "model: N sequences, N steps ... N failed ..."
    # shellcheck disable=SC2086
    set -- $line
    seqs=$((seqs + $2))
    steps=$((steps + $4))
    n=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    failed=$((failed + ${n:-1}))
done
echo "model: $seqs sequences, $steps steps in $shards shards from seed $first_seed: $failed failed"
[ $rc = 0 ] && [ $failed = 0 ] || { echo "make model: failures above (logs in $dir/)"; exit 1; }
