/*
 * core.c: the entry point of hamsa.core, and nothing else.
 * SPDX-License-Identifier: MIT
 *
 * hamsa.core = { _VERSION, json = {...}, multi = fn, now = fn, uuid4 = fn }
 */
#include "hamsa.h"

#if defined(__GNUC__)
#define HAMSA_EXPORT __attribute__((visibility("default")))
#else
#define HAMSA_EXPORT
#endif

HAMSA_EXPORT int luaopen_hamsa_core(lua_State *L)
{
    lua_newtable(L);
    lua_pushliteral(L, HAMSA_VERSION);
    lua_setfield(L, -2, "_VERSION");
    hamsa_json_open(L);
    hamsa_shape_open(L);
    hamsa_http_open(L);
    hamsa_sys_open(L);
    return 1;
}
