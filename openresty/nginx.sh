#!/bin/sh
# Runs nginx (Debian's, with libnginx-mod-http-lua) on 127.0.0.1:PORT in
# the foreground, with openresty/nginx.conf and a private prefix directory,
# until killed. From the repository root:
#   openresty/nginx.sh PORT [PREFIX] [CPATH]
# PREFIX (default: a new directory under build/openresty/) gets the filled-in
# nginx.conf, error.log, the pid file and temp files; CPATH (default
# build/jit) holds hamsa/core.so built for LuaJIT. The handlers read
# HAMSA_API_KEY and HAMSA_BASE_URL from the environment. With NGINX_WORKERS=N
# nginx runs a master and N worker processes (one process otherwise).
set -eu
port=${1:?usage: openresty/nginx.sh PORT [PREFIX] [CPATH]}
root=$(pwd)
mkdir -p build/openresty
prefix=${2:-$(mktemp -d "$root/build/openresty/run.XXXXXX")}
case $prefix in /*) ;; *) prefix=$root/$prefix ;; esac
cpath=${3:-build/jit}
case $cpath in /*) ;; *) cpath=$root/$cpath ;; esac
[ -f "$cpath/hamsa/core.so" ] || { echo "openresty/nginx.sh: no $cpath/hamsa/core.so (make $cpath/hamsa/core.so)" >&2; exit 1; }
mkdir -p "$prefix"
sed -e "s|@ROOT@|$root|g" -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@CPATH@|$cpath|g" \
    openresty/nginx.conf > "$prefix/nginx.conf"
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ -n "${NGINX_WORKERS:-}" ]; then
    globals="daemon off; master_process on; worker_processes $NGINX_WORKERS;"
    # a master started as root runs its workers as nobody, who may not read
    # a checkout under a private directory (mktemp -d is 0700): keep root
    [ "$(id -u)" = 0 ] && globals="$globals user root;"
else
    globals="daemon off; master_process off;"
fi
exec "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g "$globals"
