/* http.c: placeholder until the engine lands. */
#include "compat.h"
#include "hamsa.h"
int hamsa_http_open(lua_State *L)
{
    (void)L;
    return 0;
}
