/*
 * host.c: a game-server host for hamsa. It owns a lua_State and runs a
 * 60 Hz frame loop; the Lua script it loads places calls through hamsa and
 * calls client:poll() once per frame. It measures the time each frame's
 * Lua work takes while requests are in flight, and prints the worst.
 * SPDX-License-Identifier: MIT
 *
 *   build/embed-host [script.lua] [seconds]
 *
 * The script returns a table with frame(dt) -> finished (boolean) and
 * summary() -> ok, failed, wanted. Exit status 0 when every request ended
 * well, 1 when not, 2 when the script failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_for(double seconds)
{
    struct timespec ts;
    if (seconds <= 0) return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

static int fail(lua_State *L, const char *what)
{
    fprintf(stderr, "embed-host: %s: %s\n", what, lua_tostring(L, -1));
    lua_close(L);
    return 2;
}

int main(int argc, char **argv)
{
    const char *script = argc > 1 ? argv[1] : "examples/embed/game.lua";
    double limit = argc > 2 ? atof(argv[2]) : 30;
    const double period = 1.0 / 60;
    double start, next, worst = 0, total = 0;
    long frames = 0, late = 0;
    int game, finished = 0;
    lua_Integer ok, failed, wanted;
    lua_State *L = luaL_newstate();

    if (!L) return 2;
    luaL_openlibs(L);
    if (luaL_loadfile(L, script) || lua_pcall(L, 0, 1, 0)) return fail(L, "loading the script");
    if (!lua_istable(L, -1)) {
        lua_pushliteral(L, "the script must return a table");
        return fail(L, script);
    }
    game = lua_gettop(L);

    start = next = now();
    while (!finished && now() - start < limit) {
        double t0 = now(), spent;
        lua_getfield(L, game, "frame");
        lua_pushnumber(L, period);
        if (lua_pcall(L, 1, 1, 0)) return fail(L, "frame");
        finished = lua_toboolean(L, -1);
        lua_pop(L, 1);
        spent = now() - t0;
        if (spent > worst) worst = spent;
        if (spent > period) late++;
        total += spent;
        frames++;
        next += period;
        if (next > now()) sleep_for(next - now());
        else next = now();                      /* fell behind: do not burst */
    }

    lua_getfield(L, game, "summary");
    if (lua_pcall(L, 0, 3, 0)) return fail(L, "summary");
    ok = lua_tointeger(L, -3);
    failed = lua_tointeger(L, -2);
    wanted = lua_tointeger(L, -1);
    printf("embed-host: %ld frames at 60 Hz in %.2f s; Lua work per frame: worst %.3f ms, "
           "mean %.3f ms, %ld frames over budget\n",
           frames, now() - start, worst * 1e3, frames ? total / (double)frames * 1e3 : 0.0, late);
    printf("embed-host: %lld of %lld requests succeeded, %lld failed\n",
           (long long)ok, (long long)wanted, (long long)failed);
    lua_close(L);
    return finished && ok == wanted ? 0 : 1;
}
