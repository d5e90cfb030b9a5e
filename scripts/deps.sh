#!/bin/sh
# scripts/deps.sh CONCERN PACKAGE...: installs the Debian packages among
# PACKAGE... that are missing (apt-get, as root or with sudo). `make
# deps-<concern>` calls it with DEB_PACKAGES_<concern>; CONCERN only names
# the run in messages. A machine without dpkg is left alone (the packages are
# listed instead). Concurrent runs (make -j, other checkouts) take turns.
set -eu
concern=${1:?usage: scripts/deps.sh CONCERN PACKAGE...}
shift
[ $# -gt 0 ] || exit 0

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "make deps-$concern: no dpkg here; install yourself: $*"
    exit 0
fi

# The packages of "$@" that dpkg does not report as installed.
missing() {
    installed=" $(dpkg-query -W -f='${Status} ${Package}\n' "$@" 2>/dev/null \
        | sed -n 's/^[a-z]* ok installed //p' | tr '\n' ' ')"
    for p in "$@"; do
        case $installed in *" ${p%%:*} "*) ;; *) printf ' %s' "$p" ;; esac
    done
}

todo=$(missing "$@")
[ -n "$todo" ] || exit 0

# One apt-get at a time: wait for any other run, then look again.
lock=${TMPDIR:-/tmp}/hamsa-deps.lock
if command -v flock >/dev/null 2>&1 && (: >>"$lock") 2>/dev/null; then
    exec 9>>"$lock"
    flock 9
    todo=$(missing "$@")
    [ -n "$todo" ] || exit 0
fi

echo "make deps-$concern: installing$todo"
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $todo
