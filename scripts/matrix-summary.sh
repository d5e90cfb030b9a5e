#!/bin/sh
# scripts/matrix-summary.sh DIR VERSION...: the summary of `make
# test-all-luas` from what each run left (scripts/logged.sh): DIR/<v>.log and
# DIR/<v>.rc. One line per Lua, then "test-all-luas: N passed, N failed";
# fails when any Lua had a failure, an error or a non-zero status.
#
# busted ends with "N successes / N failures / N errors / N pending : T
# seconds" (with -o TAP: "ok"/"not ok" lines, counted); a run without either
# (a crash) counts as one failure.
set -u
dir=${1:?usage: scripts/matrix-summary.sh DIR VERSION...}
shift
echo
echo "=== test-all-luas"
passed=0 failed=0 bad=""
for v in "$@"; do
    log=$dir/$v.log
    line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" 2>/dev/null | grep -E '^[0-9]+ success' | tail -n 1)
    ok=$(echo "$line" | sed -n 's/^\([0-9]*\) success.*/\1/p')
    ko=$(echo "$line" | sed -n 's/.* \([0-9]*\) failure.* \([0-9]*\) error.*/\1 \2/p')
    if [ -z "$line" ] && grep -q '^1\.\.' "$log" 2>/dev/null; then
        ok=$(grep -c '^ok ' "$log")
        ko="$(grep -c '^not ok ' "$log") 0"
        line="$ok ok / ${ko% 0} not ok (TAP)"
    fi
    rc=$(cat "$dir/$v.rc" 2>/dev/null || echo 1)
    # shellcheck disable=SC2086
    set -- ${ko:-1 0}
    ko=$(($1 + $2))
    [ "$rc" = 0 ] || [ "$ko" != 0 ] || ko=1
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ko))
    [ "$ko" = 0 ] || bad="$bad $v"
    name="Lua $v"
    [ "$v" = jit ] && name="LuaJIT (luajit2 $(dpkg-query -W -f='${Version}' luajit2))"
    printf '  %-34s %s\n' "$name" "${line:-no summary: see $log}"
done
echo "test-all-luas: $passed passed, $failed failed"
[ -z "$bad" ] || { echo "failed on:$bad (logs in $dir/)"; exit 1; }
