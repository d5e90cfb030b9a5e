/*
 * fuzz/harness.h: what the libFuzzer harnesses share. SPDX-License-Identifier: MIT
 *
 * One lua_State per process with hamsa.core compiled in (preloaded, not
 * loaded from a .so, so libFuzzer's coverage sees the core) and this
 * checkout's Lua modules on package.path. Each harness names a Lua file,
 * fuzz/<name>.lua, that returns the checking function; it gets every input
 * as a string. A check that raises is a finding: the harness aborts, and
 * libFuzzer saves the input. A harness that gives its Lua file functions of
 * its own sets harness_module before harness_init: the file gets them from
 * require "fuzz.harness".
 */
#ifndef HAMSA_FUZZ_HARNESS_H
#define HAMSA_FUZZ_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#ifndef HAMSA_ROOT
#define HAMSA_ROOT "."
#endif

int luaopen_hamsa_core(lua_State *L);

static lua_State *harness_L;
static int harness_fn = LUA_NOREF;
static lua_CFunction harness_module;    /* opens require "fuzz.harness", or NULL */

/* Opens the state and loads fuzz/<name>.lua (HAMSA_ROOT: the checkout). */
static void harness_init(const char *name)
{
    const char *root = getenv("HAMSA_ROOT");
    lua_State *L = luaL_newstate();
    if (!L) abort();
    if (!root || !*root) root = HAMSA_ROOT;
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_hamsa_core);
    lua_setfield(L, -2, "hamsa.core");
    if (harness_module) {
        lua_pushcfunction(L, harness_module);
        lua_setfield(L, -2, "fuzz.harness");
    }
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua", root, root);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_pushfstring(L, "%s/fuzz/%s.lua", root, name);
    if (luaL_loadfile(L, lua_tostring(L, -1)) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "fuzz harness %s: %s\n", name, lua_tostring(L, -1));
        abort();
    }
    if (!lua_isfunction(L, -1)) {
        fprintf(stderr, "fuzz harness %s: the Lua file must return a function\n", name);
        abort();
    }
    harness_fn = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    harness_L = L;
}

/* Runs the check on one input; a check that raises aborts the process. */
static void harness_check(const uint8_t *data, size_t size)
{
    lua_State *L = harness_L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, harness_fn);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "fuzz check failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    /* what the input allocated is freed before the next one, so that
     * libFuzzer's leak check (mallocs != frees) only fires on real leaks */
    lua_gc(L, LUA_GCCOLLECT, 0);
}

#endif
