# bench/server.sh: the private nginx of `make bench` and `make bench-phases`,
# sourced by bench/run.sh and bench/phases.sh (POSIX sh, set -eu).
#
#   start_nginx WORK [CPU]   writes WORK/nginx.conf and the payload files
#                            (bench/setup.lua), starts nginx on two free ports
#                            and waits until both answer; sets base and url
#                            (the agent payload's server, url = base + the
#                            create route), base_small and url_small
#   stop_nginx WORK          stops it (any exit should call it)
#
# Needs LUA, LUA_PATH and LUA_CPATH set as bench/run.sh sets them.

start_nginx() {
    _work=$1
    _cpu=${2:-}
    _started=""
    # free ports; nginx may lose a race for them, so try a few times
    for _ in 1 2 3 4 5; do
        # shellcheck disable=SC2046
        set -- $($LUA bench/setup.lua port 2)
        port=$1
        port_small=$2
        $LUA bench/setup.lua files "$_work" "$port" "$port_small" $_cpu
        if nginx -p "$_work" -c "$_work/nginx.conf" 2>"$_work/nginx.start"; then
            _started=1
            break
        fi
    done
    if [ -z "$_started" ]; then
        echo "bench: nginx did not start:" >&2
        cat "$_work/nginx.start" "$_work/error.log" >&2 2>/dev/null || true
        exit 1
    fi
    base="http://127.0.0.1:$port"
    url="$base/v1/voice-agents"
    base_small="http://127.0.0.1:$port_small"
    url_small="$base_small/v1/voice-agents"
    for _u in "$url" "$url_small"; do
        _i=0
        until curl -s -o /dev/null -X POST --data-binary @"$_work/body.json" "$_u"; do
            _i=$((_i + 1))
            if [ $_i -gt 50 ]; then echo "bench: nginx does not answer on $_u" >&2; exit 1; fi
            sleep 0.1
        done
    done
}

stop_nginx() {
    if [ -s "$1/nginx.pid" ]; then
        _pid=$(cat "$1/nginx.pid")
        kill "$_pid" 2>/dev/null || true
        _i=0
        while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
    fi
}
