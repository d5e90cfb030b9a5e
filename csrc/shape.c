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
 *   core.shape.acceptor(nodes) -> function(v) -> boolean
 *       a compiled acceptor (below)
 *
 * Acceptors. hamsa.validate.native turns a rule set into a list of nodes
 * (plain tables, see read_node); this compiles them into a C array once,
 * and the function it returns walks a body against them: true when the
 * body is certainly valid, false when unsure (the Lua checker then runs
 * and alone writes the message). It must never say true where the checker
 * refuses: spec/23-validate_fast_spec.lua holds it to that on random
 * bodies. A walk is a lua_next and a table read per key, where the Lua
 * acceptor pays a C call per key and per value.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Whether the value at idx goes out as an object: a table with no
 * metatable or the object mark at upvalue `omt`, and no [1] (a sequence is
 * the common mistake). */
static int sent_as_object(lua_State *L, int idx, int omt)
{
    int first_nil;
    if (lua_type(L, idx) != LUA_TTABLE || !marked_or_plain(L, idx, omt)) return 0;
    lua_rawgeti(L, idx, 1);
    first_nil = lua_isnil(L, -1);
    lua_pop(L, 1);
    return first_nil;
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
    if (sent_as_object(L, 1, UV_OBJECT_MT)) lua_pushinteger(L, count_keys(L, 1));
    else lua_pushboolean(L, 0);
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

/* ---------------------------------------------------------------------- */
/* compiled acceptors                                                      */

#define MAX_WALK_DEPTH 32       /* deeper: unsure (covers the outcome shape's
                                   own limit of 32, and ends a cyclic walk) */

enum {
    K_STRING, K_NONEMPTY, K_BOOLEAN, K_INTEGER, K_NUMBER_POSITIVE, K_NUMBER_RANGE,
    K_ENUM, K_ACCEPT, K_CHECK, K_ARRAY, K_OBJECT, K_MAP, K_SCALAR, K_DAY_ENTRY
};

static const char *const KIND_NAMES[] = {
    "string", "nonempty", "boolean", "integer", "number_positive", "number_range",
    "enum", "accept", "check", "array", "object", "map", "scalar", "day_entry", NULL
};

typedef struct {
    int kind;
    double lo, hi;              /* integer, number_range */
    int elem;                   /* array, map, day_entry: a node index (1-based) */
    int nonempty;               /* array */
    int null_ok;                /* map: a null value passes */
    int set;                    /* enum: the set; map: allowed keys (0: any
                                   string key); object: name -> node index */
    int fn;                     /* accept/check: the function */
    int nonnull;                /* object: names whose null is refused (0: none) */
    int required;               /* object: list of required names (0: none) */
} node;

typedef struct {
    int n;
    node nodes[1];
} program;

/* The upvalues of an acceptor: the program, its values table, null, the
 * two marks, and check_free (for tables under names no rule covers). */
#define UV_PROGRAM 1
#define UV_VALUES 2
#define UV_NULL 3
#define UV_AMT 4
#define UV_OMT 5
#define UV_FREE 6

typedef struct {
    lua_State *L;
    const program *p;
    int values;                 /* stack index of the values table */
} walk;

static int accept_value(walk *w, int ni, int idx, int depth);

/* json.null is a light userdata: most values are told apart by type alone. */
static int is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_rawequal(L, idx, lua_upvalueindex(UV_NULL));
}

/* Pushes values[ref]. */
static void push_value(const walk *w, int ref)
{
    lua_rawgeti(w->L, w->values, ref);
}

/* A value no rule covers: only a table is looked at, by check_free(v, 1),
 * which returns nothing when the encoder sends it unchanged. */
static int accept_free(walk *w, int idx)
{
    lua_State *L = w->L;
    int ok;
    if (lua_type(L, idx) != LUA_TTABLE) return 1;
    lua_pushvalue(L, lua_upvalueindex(UV_FREE));
    lua_pushvalue(L, idx);
    lua_pushinteger(L, 1);
    lua_call(L, 2, 1);
    ok = lua_isnil(L, -1);
    lua_pop(L, 1);
    return ok;
}

static int has_non_space(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c == ' ' || (c >= '\t' && c <= '\r'))) return 1;
    }
    return 0;
}

/* An integer in [lo, hi]: on 5.3+ an integer subtype only (a float goes to
 * the checker, which says what it thinks of 800.0 or 1e15). */
static int accept_integer(lua_State *L, int idx, double lo, double hi)
{
#if HAMSA_HAS_INTEGERS
    lua_Integer v;
    if (!lua_isinteger(L, idx)) return 0;
    v = lua_tointeger(L, idx);
    /* compared as integers: 2^53 + 1 as a double is 2^53 (the bounds are
     * whole numbers within 2^53, exact either way) */
    return v >= (lua_Integer)lo && v <= (lua_Integer)hi;
#else
    lua_Number v;
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    v = lua_tonumber(L, idx);
    return v >= lo && v <= hi && v == floor(v);
#endif
}

/* An object: the form, then each key: a name a rule covers is checked by
 * its node (null passes unless the name is nonnull), any other string key
 * passes with accept_free; then the required names. */
static int accept_object(walk *w, const node *nd, int idx, int depth)
{
    lua_State *L = w->L;
    int ok = 1;
    if (!lua_checkstack(L, 8) || !sent_as_object(L, idx, UV_OMT)) return 0;
    push_value(w, nd->set);                         /* fields: name -> node */
    lua_pushnil(L);
    while (ok && lua_next(L, idx)) {                /* fields, key, value */
        int vi = lua_gettop(L), ni;
        if (lua_type(L, vi - 1) != LUA_TSTRING) {
            ok = 0;
        } else {
            lua_pushvalue(L, vi - 1);
            lua_rawget(L, vi - 2);
            ni = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
            if (ni == 0) {
                ok = accept_free(w, vi);
            } else if (is_null(L, vi)) {
                if (nd->nonnull) {
                    push_value(w, nd->nonnull);
                    lua_pushvalue(L, vi - 1);
                    lua_rawget(L, -2);
                    ok = !lua_toboolean(L, -1);
                    lua_pop(L, 2);
                }
            } else {
                ok = accept_value(w, ni, vi, depth + 1);
            }
        }
        lua_pop(L, 1);                              /* the value */
    }
    if (!ok) lua_pop(L, 1);                         /* the key next left */
    lua_pop(L, 1);                                  /* fields */
    if (ok && nd->required) {
        size_t i, n;
        push_value(w, nd->required);
        n = (size_t)lua_rawlen(L, -1);
        for (i = 1; ok && i <= n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i);
            lua_rawget(L, idx);
            ok = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return ok;
}

/* A map: an object whose every key is a string (one of `set`'s when it
 * has one), every value checked by `elem`. */
static int accept_map(walk *w, const node *nd, int idx, int depth)
{
    lua_State *L = w->L;
    int ok = 1;
    if (!lua_checkstack(L, 8) || !sent_as_object(L, idx, UV_OMT)) return 0;
    if (nd->set) push_value(w, nd->set);
    else lua_pushnil(L);
    lua_pushnil(L);
    while (ok && lua_next(L, idx)) {                /* set, key, value */
        int vi = lua_gettop(L);
        if (lua_type(L, vi - 1) != LUA_TSTRING) {
            ok = 0;
        } else {
            if (nd->set) {
                lua_pushvalue(L, vi - 1);
                lua_rawget(L, vi - 2);
                ok = lua_toboolean(L, -1);
                lua_pop(L, 1);
            }
            if (ok) {
                if (is_null(L, vi)) ok = nd->null_ok;
                else ok = accept_value(w, nd->elem, vi, depth + 1);
            }
        }
        lua_pop(L, 1);
    }
    if (!ok) lua_pop(L, 1);
    lua_pop(L, 1);
    return ok;
}

/* An array: the form, keys exactly 1..n, each element by `elem`. */
static int accept_array(walk *w, const node *nd, int idx, int depth)
{
    lua_State *L = w->L;
    lua_Integer n, i;
    int ok = 1;
    if (lua_type(L, idx) != LUA_TTABLE || !lua_checkstack(L, 8) || !marked_or_plain(L, idx, UV_AMT)) return 0;
    n = count_keys(L, idx);
    if (n == 0 && nd->nonempty) return 0;
    for (i = 1; ok && i <= n; i++) {
        lua_rawgeti(L, idx, i);
        ok = !lua_isnil(L, -1) && accept_value(w, nd->elem, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    return ok;
}

/* A free-slots day entry: a list of slots when it goes out as an array (the
 * array mark, or no metatable and a [1]), else one slot. */
static int accept_day_entry(walk *w, const node *nd, int idx, int depth)
{
    lua_State *L = w->L;
    if (lua_type(L, idx) == LUA_TTABLE) {
        int list;
        if (lua_getmetatable(L, idx)) {
            list = lua_rawequal(L, -1, lua_upvalueindex(UV_AMT));
            lua_pop(L, 1);
        } else {
            lua_rawgeti(L, idx, 1);
            list = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        if (list) {
            node as_list;
            memset(&as_list, 0, sizeof as_list);
            as_list.kind = K_ARRAY;
            as_list.elem = nd->elem;
            return accept_array(w, &as_list, idx, depth);
        }
    }
    return accept_value(w, nd->elem, idx, depth);
}

/* Whether the value at idx is certainly accepted by node `ni`. */
static int accept_value(walk *w, int ni, int idx, int depth)
{
    lua_State *L = w->L;
    const node *nd;
    int t = lua_type(L, idx), ok;
    if (depth > MAX_WALK_DEPTH || ni < 1 || ni > w->p->n) return 0;
    nd = &w->p->nodes[ni - 1];
    switch (nd->kind) {
    case K_STRING:
        return t == LUA_TSTRING;
    case K_NONEMPTY: {
        size_t n;
        const char *s;
        if (t != LUA_TSTRING) return 0;
        s = lua_tolstring(L, idx, &n);
        return has_non_space(s, n);
    }
    case K_BOOLEAN:
        return t == LUA_TBOOLEAN;
    case K_INTEGER:
        return accept_integer(L, idx, nd->lo, nd->hi);
    case K_NUMBER_POSITIVE: {
        lua_Number v;
        if (t != LUA_TNUMBER) return 0;
        v = lua_tonumber(L, idx);
        return v > 0 && v < HUGE_VAL;
    }
    case K_NUMBER_RANGE: {
        lua_Number v;
        if (t != LUA_TNUMBER) return 0;
        v = lua_tonumber(L, idx);
        return v >= nd->lo && v <= nd->hi;
    }
    case K_SCALAR:
        if (t == LUA_TSTRING || t == LUA_TBOOLEAN) return 1;
        if (t == LUA_TNUMBER) {
            lua_Number v = lua_tonumber(L, idx);
            return v == v && v != HUGE_VAL && v != -HUGE_VAL;
        }
        return 0;
    case K_ENUM:
        if (t == LUA_TNIL) return 0;
        push_value(w, nd->set);
        lua_pushvalue(L, idx);
        lua_rawget(L, -2);
        ok = lua_toboolean(L, -1);
        lua_pop(L, 2);
        return ok;
    case K_ACCEPT:
    case K_CHECK:
        push_value(w, nd->fn);
        lua_pushvalue(L, idx);
        lua_call(L, 1, 1);
        ok = nd->kind == K_ACCEPT ? lua_toboolean(L, -1) : lua_isnil(L, -1);
        lua_pop(L, 1);
        return ok;
    case K_ARRAY:
        return accept_array(w, nd, idx, depth);
    case K_OBJECT:
        return accept_object(w, nd, idx, depth);
    case K_MAP:
        return accept_map(w, nd, idx, depth);
    case K_DAY_ENTRY:
        return accept_day_entry(w, nd, idx, depth);
    default:
        return 0;
    }
}

/* acceptor(v) -> boolean */
static int run_acceptor(lua_State *L)
{
    walk w;
    int ok;
    lua_settop(L, 1);
    w.L = L;
    w.p = (const program *)lua_touserdata(L, lua_upvalueindex(UV_PROGRAM));
    lua_pushvalue(L, lua_upvalueindex(UV_VALUES));
    w.values = 2;
    ok = accept_value(&w, 1, 1, 1);
    lua_pushboolean(L, ok);
    return 1;
}

static int int_field(lua_State *L, int idx, const char *key)
{
    int v;
    lua_getfield(L, idx, key);
    v = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

static double num_field(lua_State *L, int idx, const char *key)
{
    double v;
    lua_getfield(L, idx, key);
    v = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Whether values[ref] (the table at `values`) is of type `type`; 0 (no
 * ref) passes when `optional`. A walk reads these without looking. */
static int value_is(lua_State *L, int values, int ref, int type, int optional)
{
    int ok;
    if (ref == 0) return optional;
    lua_rawgeti(L, values, ref);
    ok = lua_type(L, -1) == type;
    lua_pop(L, 1);
    return ok;
}

/* One node from its table at idx: { kind = name, lo, hi, elem, nonempty,
 * null_ok, set, fn, nonnull, required } (indexes into the values table at
 * stack index 2 for set, fn, nonnull and required; node numbers for elem,
 * and for the values of an object's fields table). */
static void read_node(lua_State *L, int idx, node *nd, int count)
{
    const char *kind;
    int k;
    lua_getfield(L, idx, "kind");
    kind = lua_tostring(L, -1);
    for (k = 0; KIND_NAMES[k] && (!kind || strcmp(KIND_NAMES[k], kind) != 0); k++) {}
    if (!kind || !KIND_NAMES[k]) luaL_error(L, "core.shape.acceptor: unknown kind %s", kind ? kind : "(none)");
    lua_pop(L, 1);
    nd->kind = k;
    nd->lo = num_field(L, idx, "lo");
    nd->hi = num_field(L, idx, "hi");
    nd->elem = int_field(L, idx, "elem");
    nd->nonempty = int_field(L, idx, "nonempty");
    nd->null_ok = int_field(L, idx, "null_ok");
    nd->set = int_field(L, idx, "set");
    nd->fn = int_field(L, idx, "fn");
    nd->nonnull = int_field(L, idx, "nonnull");
    nd->required = int_field(L, idx, "required");
    if (nd->elem < 0 || nd->elem > count
        || ((k == K_ARRAY || k == K_MAP || k == K_DAY_ENTRY) && nd->elem == 0)
        || !value_is(L, 2, nd->set, LUA_TTABLE, !(k == K_ENUM || k == K_OBJECT))
        || !value_is(L, 2, nd->fn, LUA_TFUNCTION, !(k == K_ACCEPT || k == K_CHECK))
        || !value_is(L, 2, nd->nonnull, LUA_TTABLE, 1)
        || !value_is(L, 2, nd->required, LUA_TTABLE, 1))
        luaL_error(L, "core.shape.acceptor: a %s node lacks its parts", KIND_NAMES[k]);
}

/* core.shape.acceptor(nodes, values) -> function: node 1 is the root. */
static int shape_acceptor(lua_State *L)
{
    int n, i;
    program *p;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    n = (int)lua_rawlen(L, 1);
    luaL_argcheck(L, n >= 1 && n < 100000, 1, "a list of nodes");
    p = (program *)lua_newuserdatauv(L, sizeof *p + (size_t)(n - 1) * sizeof(node), 0);
    memset(p, 0, sizeof *p);
    p->n = n;
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        luaL_checktype(L, -1, LUA_TTABLE);
        read_node(L, lua_gettop(L), &p->nodes[i - 1], n);
        lua_pop(L, 1);
    }
    /* upvalues: program, values, null, array_mt, object_mt, check_free */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_getfield(L, 2, "check_free");
    luaL_argcheck(L, lua_isfunction(L, -1), 2, "values.check_free must be a function");
    lua_pushcclosure(L, run_acceptor, 6);
    return 1;
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
    lua_getfield(L, -2, "json");
    lua_getfield(L, -1, "array_mt");
    lua_getfield(L, -2, "object_mt");
    lua_getfield(L, -3, "null");
    lua_remove(L, -4);                          /* the json table */
    lua_pushcclosure(L, shape_acceptor, 3);
    lua_setfield(L, -2, "acceptor");
    lua_setfield(L, -2, "shape");
    return 0;
}
