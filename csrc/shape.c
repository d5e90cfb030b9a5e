/*
 * shape.c: table shape probes for the validators (lua/hamsa/validate/):
 * how the encoder will send a table, answered in one C call.
 * SPDX-License-Identifier: MIT
 *
 * The fast acceptors of hamsa.validate.fast ask of nearly every table in a
 * body "is it sent as an object (or an array), and how many keys has it".
 * In Lua that is a type() call, a getmetatable() call and a `next` call
 * per key, and on Lua 5.4 each C call from Lua costs a few hundred
 * instructions: most of a validation. Here it is one call per table.
 * Tables are read raw, as the encoder reads them; the marks are
 * core.json.array_mt and core.json.object_mt (upvalues).
 *
 *   core.shape.object_size(v) -> n | false
 *       n keys when v is a table sent as an object: no metatable or the
 *       object mark, and no [1] (a sequence is the common mistake)
 *   core.shape.array_size(v) -> n | false
 *       n when v is a table sent as an array whose keys are exactly 1..n:
 *       no metatable or the array mark
 *   core.shape.string_array(v) -> n | false
 *       the same, when every element is also a string
 */
#include "compat.h"
#include "hamsa.h"

#define UV_ARRAY_MT 1
#define UV_OBJECT_MT 2

/* Whether the table at idx has no metatable or the mark at upvalue `uv`. */
static int marked_or_plain(lua_State *L, int idx, int uv)
{
    int ok;
    if (!lua_getmetatable(L, idx)) return 1;
    ok = lua_rawequal(L, -1, lua_upvalueindex(uv));
    lua_pop(L, 1);
    return ok;
}

/* Keys of the table at idx (raw). */
static lua_Integer count_keys(lua_State *L, int idx)
{
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
    }
    return n;
}

static int shape_object_size(lua_State *L)
{
    int first_nil;
    if (lua_type(L, 1) != LUA_TTABLE || !marked_or_plain(L, 1, UV_OBJECT_MT)) goto no;
    lua_rawgeti(L, 1, 1);
    first_nil = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!first_nil) goto no;
    lua_pushinteger(L, count_keys(L, 1));
    return 1;
no:
    lua_pushboolean(L, 0);
    return 1;
}

/* n when the table at 1 is sent as an array with keys exactly 1..n (n keys
 * and each of 1..n present), every element a string if `strings`; else -1. */
static lua_Integer array_size(lua_State *L, int strings)
{
    lua_Integer n, i;
    if (lua_type(L, 1) != LUA_TTABLE || !marked_or_plain(L, 1, UV_ARRAY_MT)) return -1;
    n = count_keys(L, 1);
    for (i = 1; i <= n; i++) {
        int t;
        lua_rawgeti(L, 1, i);
        t = lua_type(L, -1);
        lua_pop(L, 1);
        if (t == LUA_TNIL || (strings && t != LUA_TSTRING)) return -1;
    }
    return n;
}

static int push_size(lua_State *L, lua_Integer n)
{
    if (n < 0) lua_pushboolean(L, 0);
    else lua_pushinteger(L, n);
    return 1;
}

static int shape_array_size(lua_State *L)
{
    return push_size(L, array_size(L, 0));
}

static int shape_string_array(lua_State *L)
{
    return push_size(L, array_size(L, 1));
}

int hamsa_shape_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"object_size", shape_object_size},
        {"array_size", shape_array_size},
        {"string_array", shape_string_array},
        {NULL, NULL}
    };
    int i;
    lua_newtable(L);
    for (i = 0; fns[i].name; i++) {
        lua_getfield(L, -2, "json");
        lua_getfield(L, -1, "array_mt");
        lua_getfield(L, -2, "object_mt");
        lua_remove(L, -3);                      /* the json table */
        lua_pushcclosure(L, fns[i].func, 2);
        lua_setfield(L, -2, fns[i].name);
    }
    lua_setfield(L, -2, "shape");
    return 0;
}
