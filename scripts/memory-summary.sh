#!/bin/sh
# scripts/memory-summary.sh DIR COPY RUN...: the summary of `make
# check-memory` from what each run left (scripts/logged.sh): DIR/<run>.log,
# .rc and .secs. Writes DIR/figures.tsv (run, result, seconds, busted's
# summary line), copies it to COPY unless COPY is "" (a run of some specs
# only keeps its figures out of docs/), prints it as a table and fails
# unless every run exited 0.
set -u
[ $# -ge 3 ] || { echo "usage: scripts/memory-summary.sh DIR COPY RUN..." >&2; exit 2; }
dir=$1 copy=$2
shift 2
figures=$dir/figures.tsv
printf 'run\tresult\tseconds\tsummary\n' >"$figures"
ok=0
for run in "$@"; do
    rc=$(cat "$dir/$run.rc" 2>/dev/null || echo "none")
    secs=$(cat "$dir/$run.secs" 2>/dev/null)
    line=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/$run.log" 2>/dev/null | grep -E '^[0-9]+ success' | tail -n 1)
    if [ "$rc" = 0 ]; then result=clean; else result="FAILED ($rc)"; ok=1; fi
    printf '%s\t%s\t%s\t%s\n' "$run" "$result" "$secs" "$line" >>"$figures"
done
[ -z "$copy" ] || { mkdir -p "$(dirname "$copy")"; cp "$figures" "$copy"; }
echo
echo "=== check-memory"
column -t -s "$(printf '\t')" "$figures" 2>/dev/null || cat "$figures"
exit $ok
