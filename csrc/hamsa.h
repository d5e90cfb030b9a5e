/*
 * hamsa.h: shared declarations of the C core (hamsa.core).
 * SPDX-License-Identifier: MIT
 *
 * The core is split by concern; each part registers itself into the module
 * table through one *_open function called from core.c.
 */
#ifndef HAMSA_H
#define HAMSA_H

#include <lua.h>
#include <lauxlib.h>

/* The one version string of the project; hamsa._VERSION reads it and a spec
 * checks that the release rockspecs (rockspecs/) carry the same. */
#define HAMSA_VERSION "0.2.0"

#if defined(__GNUC__)
#define HAMSA_HIDDEN __attribute__((visibility("hidden")))
#else
#define HAMSA_HIDDEN
/* shape.c: module table at -1, core.json set; sets core.shape =
 * { object_size, array_size, string_array }: one-call table probes for the
 * validators' fast acceptors. */
HAMSA_HIDDEN int hamsa_shape_open(lua_State *L);

#endif

/* json.c: module table at -1; sets core.json = { encode, decode, null,
 * array, object, array_mt, object_mt }. */
HAMSA_HIDDEN int hamsa_json_open(lua_State *L);

/* http.c: module table at -1; sets core.multi (constructor of the engine),
 * core.curl_version and core.curl_errors (see curl_errors.h). */
HAMSA_HIDDEN int hamsa_http_open(lua_State *L);

/* http.c: when set, called with every transfer's easy handle (a CURL *:
 * libcurl's CURL is void, so this header needs no curl.h) after its options
 * are set and just before it starts, to change them. NULL in the library;
 * a test program that links the core in may set it, say to point every
 * transfer at a server of its own. */
HAMSA_HIDDEN extern void (*hamsa_easy_hook)(void *easy);

/* sys.c: module table at -1; sets core.now (monotonic seconds) and
 * core.uuid4 (random version-4 UUID string), core.isatty(fd) and
 * core.columns(fd) (a terminal and its width, for the command line),
 * core.wall(), core.getpid() and core.process_alive(pid) (the dialer's
 * ledger and leases). */
HAMSA_HIDDEN int hamsa_sys_open(lua_State *L);

/* shape.c: module table at -1, core.json set; sets core.shape =
 * { object_size, array_size, string_array }: one-call table probes for the
 * validators' fast acceptors. */
HAMSA_HIDDEN int hamsa_shape_open(lua_State *L);

#endif
