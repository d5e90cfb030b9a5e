/*
 * compat.h: the few Lua C API differences between 5.1/LuaJIT and 5.4 that
 * the core touches. SPDX-License-Identifier: MIT
 */
#ifndef HAMSA_COMPAT_H
#define HAMSA_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define hamsa_setfuncs(L, l) luaL_register((L), NULL, (l))
#else
#define hamsa_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#endif

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata((L), (sz))
#endif

#if LUA_VERSION_NUM < 503
#define HAMSA_HAS_INTEGERS 0
#else
#define HAMSA_HAS_INTEGERS 1
#endif

/* luaL_setmetatable appeared in 5.2. */
#if LUA_VERSION_NUM < 502
#define luaL_setmetatable(L, tname) \
    (luaL_getmetatable((L), (tname)), lua_setmetatable((L), -2))
#endif

#endif
