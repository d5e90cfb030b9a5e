/*
 * sys.c: the two operating-system facts the Lua layer needs and plain Lua
 * cannot give: a monotonic clock (deadlines and backoff must not jump with
 * the wall clock) and good random bytes (Idempotency-Key values must not
 * repeat across processes, which math.random does not promise on 5.1),
 * and, for the command line, whether a descriptor is a terminal and how
 * wide it is (tables and live progress on a terminal, JSON otherwise);
 * for the dialer's ledger, this process's id and whether another process
 * still lives (a dead owner's rows are taken over at once).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <signal.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "compat.h"
#include "hamsa.h"

/* core.now() -> seconds (float) on a monotonic clock */
static int sys_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static int fill_random(unsigned char *buf, size_t n)
{
#if defined(__linux__)
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        got += (size_t)r;
    }
    if (got == n) return 1;
#endif
    {
        int fd = open("/dev/urandom", O_RDONLY);
        size_t got = 0;
        if (fd < 0) return 0;
        while (got < n) {
            ssize_t r = read(fd, buf + got, n - got);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                break;
            }
            got += (size_t)r;
        }
        close(fd);
        return got == n;
    }
}

/* core.uuid4() -> "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" | nil, message
 * (one per POST: written with a hex table, which saves snprintf's ~7k
 * instructions a call) */
static int sys_uuid4(lua_State *L)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    char s[36];
    int i, j = 0;
    if (!fill_random(b, sizeof b)) {
        lua_pushnil(L);
        lua_pushliteral(L, "no source of random bytes");
        return 2;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s[j++] = '-';
        s[j++] = hex[b[i] >> 4];
        s[j++] = hex[b[i] & 0x0f];
    }
    lua_pushlstring(L, s, sizeof s);
    return 1;
}

/* core.isatty(fd) -> boolean: whether descriptor fd (0, 1 or 2 for the
 * standard streams) is a terminal */
static int sys_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= 1024 && isatty((int)fd));
    return 1;
}

/* core.columns(fd) -> the terminal's width in characters, or nil when fd
 * is not a terminal (or reports no width) */
static int sys_columns(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
#if defined(TIOCGWINSZ)
    struct winsize ws;
    if (fd >= 0 && fd <= 1024 && ioctl((int)fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        lua_pushinteger(L, (lua_Integer)ws.ws_col);
        return 1;
    }
#else
    (void)fd;
#endif
    lua_pushnil(L);
    return 1;
}

/* core.wall() -> seconds since the epoch (float) on the real-time clock:
 * the dialer's ledger shares times between processes and machines */
static int sys_wall(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.getpid() -> this process's id */
static int sys_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* core.process_alive(pid) -> false only when no process has this id (on
 * this host); true when one has, or when it cannot be told (EPERM) */
static int sys_process_alive(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    if (pid <= 0 || pid > 0x7fffffff) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushboolean(L, kill((pid_t)pid, 0) == 0 || errno != ESRCH);
    return 1;
}

int hamsa_sys_open(lua_State *L)
{
    lua_pushcfunction(L, sys_wall);
    lua_setfield(L, -2, "wall");
    lua_pushcfunction(L, sys_getpid);
    lua_setfield(L, -2, "getpid");
    lua_pushcfunction(L, sys_process_alive);
    lua_setfield(L, -2, "process_alive");
    lua_pushcfunction(L, sys_isatty);
    lua_setfield(L, -2, "isatty");
    lua_pushcfunction(L, sys_columns);
    lua_setfield(L, -2, "columns");
    lua_pushcfunction(L, sys_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, sys_uuid4);
    lua_setfield(L, -2, "uuid4");
    return 0;
}
