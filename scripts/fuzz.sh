#!/bin/sh
# scripts/fuzz.sh SECONDS MAX_LEN DIR FIGURES HARNESS...: `make fuzz` after
# the build. Runs each DIR/HARNESS for SECONDS from its seed corpus
# fuzz/corpus/HARNESS/ (read only; new inputs go to DIR/corpus/HARNESS/),
# writes one row of figures per harness to FIGURES (tab-separated: harness,
# seconds, executions, exec_per_s, coverage, seeds, new_inputs, crashes) and
# fails when any harness found a crash, leak, timeout or OOM (its input is
# left as DIR/HARNESS-crash-<sha1> and so on; the log is DIR/HARNESS.log).
set -u
[ $# -ge 5 ] || { echo "usage: scripts/fuzz.sh SECONDS MAX_LEN DIR FIGURES HARNESS..." >&2; exit 2; }
seconds=$1 max_len=$2 dir=$3 figures=$4
shift 4

# The value of libFuzzer's final "stat::NAME:" line in a log.
final_stat() { sed -n "s/^stat::$1: *//p" "$2"; }

mkdir -p "$(dirname "$figures")"
printf 'harness\tseconds\texecutions\texec_per_s\tcoverage\tseeds\tnew_inputs\tcrashes\n' >"$figures.tmp"
failed=""
for h in "$@"; do
    mkdir -p "$dir/corpus/$h"
    rm -f "$dir/$h"-*
    echo "=== fuzz $h for $seconds s"
    "$dir/$h" -max_total_time="$seconds" -max_len="$max_len" -timeout=30 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/$h-" \
        "$dir/corpus/$h" "fuzz/corpus/$h" >"$dir/$h.log" 2>&1
    rc=$?
    log=$dir/$h.log
    execs=$(final_stat number_of_executed_units "$log")
    eps=$(final_stat average_exec_per_sec "$log")
    added=$(final_stat new_units_added "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    seeds=$(ls "fuzz/corpus/$h" | wc -l)
    crashes=$(ls "$dir/$h"-crash-* "$dir/$h"-leak-* "$dir/$h"-timeout-* "$dir/$h"-oom-* 2>/dev/null | wc -l)
    # a harness that failed without leaving an input still counts as one
    [ "$rc" = 0 ] || [ "$crashes" != 0 ] || crashes=1
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$h" "$seconds" "${execs:-0}" "${eps:-0}" "${cov:-0}" \
        "$seeds" "${added:-0}" "$crashes" >>"$figures.tmp"
    echo "    ${execs:-0} executions (${eps:-0}/s), coverage ${cov:-0}, $crashes crash(es)"
    if [ "$crashes" != 0 ]; then
        failed="$failed $h"
        tail -n 40 "$log"
    fi
done
mv "$figures.tmp" "$figures"
[ -z "$failed" ] || { echo "make fuzz: findings in:$failed (inputs in $dir/)"; exit 1; }
