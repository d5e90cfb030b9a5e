/* json.c: placeholder until the codec lands; only null is real. */
#include "compat.h"
#include "hamsa.h"
int hamsa_json_open(lua_State *L)
{
    lua_newtable(L);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_setfield(L, -2, "json");
    return 0;
}
