#!/bin/sh
# scripts/check-asan.sh DIR CORE_DIR RUNTIME BUSTED...: `make check-asan`
# after the builds. Runs the busted command BUSTED... (scripts/isolated.sh)
# with the instrumented core of CORE_DIR first on the paths and the ASan
# runtime RUNTIME preloaded (lua5.4 itself is not instrumented). Every
# process the specs start inherits the settings; a report from any of them
# lands in DIR/sanitizer.<pid>, and any report fails the run. Leaks are
# valgrind's part (detect_leaks=0).
set -u
[ $# -ge 4 ] || { echo "usage: scripts/check-asan.sh DIR CORE_DIR RUNTIME BUSTED..." >&2; exit 2; }
dir=$1 core_dir=$2 runtime=$3
shift 3
mkdir -p "$dir"
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
rm -f "$dir"/sanitizer.*
sh "$(dirname "$0")/isolated.sh" env LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH="$core_dir/?.so;;" \
    LD_PRELOAD="$runtime" \
    ASAN_OPTIONS="detect_leaks=0:log_path=$dir/sanitizer" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$dir/sanitizer" \
    "$@"
rc=$?
if ls "$dir"/sanitizer.* >/dev/null 2>&1; then
    cat "$dir"/sanitizer.*
    echo "check-asan: sanitizer reports above"
    exit 1
fi
exit $rc
