/*
 * http.c: the HTTP engine of hamsa.core, on libcurl.
 * SPDX-License-Identifier: MIT
 *
 * Two userdata types:
 *   hamsa.multi     one CURLM per client; it owns the connection cache (so
 *                   keep-alive works across requests) and drives every
 *                   transfer, blocking or not.
 *   hamsa.transfer  one request in flight: a CURL easy handle (taken from
 *                   the multi's spare list when one is free) plus the
 *                   response buffers.
 *
 * Nothing here knows about Hamsa: the Lua layer gives a URL, a method,
 * header lines and a body, and reads back status, headers and body.
 *
 * libcurl callbacks only copy bytes into malloc'd buffers owned by the
 * transfer (freed by its idempotent release, which __gc also runs); no Lua
 * code ever runs inside libcurl, so no longjmp can cross it.
 *
 * On Linux the multi drives libcurl through its socket API
 * (curl_multi_socket_action) on an epoll set that libcurl's sockets join
 * (on_socket): a turn acts on what is ready instead of walking every
 * transfer, and the set's one descriptor is what a host's event loop
 * watches (m:pollfd(), docs/event-loops.md). Elsewhere it uses
 * curl_multi_perform and curl_multi_poll, and m:pollfd() says so.
 */
#define _GNU_SOURCE             /* clock_gettime, epoll, timerfd */
#include <ctype.h>
#include <sys/select.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>
#define HAVE_EPOLL 1
#else
#define HAVE_EPOLL 0
#endif

#include <curl/curl.h>

#include "compat.h"
#include "curl_errors.h"
#include "hamsa.h"

#define MULTI_MT "hamsa.multi"
#define TRANSFER_MT "hamsa.transfer"

#define SPARE_MAX 64                         /* easy handles kept for reuse */
#define DEAD_MAX 8                           /* used handles awaiting cleanup */
#define EVENTS_MAX 64                        /* socket events taken per turn */
#define DEFAULT_MAX_BODY (64u * 1024u * 1024u)
#define MAX_HEAD (256 * 1024)                /* bytes of one response's header block */
#define TRACE_MAX (64 * 1024)                /* verbose text kept per transfer */

/* See hamsa.h: NULL unless a test harness links the core in and sets it. */
void (*hamsa_easy_hook)(void *easy) = NULL;

#define CURL_AT_LEAST(x, y, z) (LIBCURL_VERSION_NUM >= (((x) << 16) | ((y) << 8) | (z)))

/* libcurl 7.80 calls CURLOPT_PREREQFUNCTION before each request it sends on
 * a connection: the guard against a silent re-send (on_prereq). Older ones
 * get the read-callback guard (on_upload). */
#if CURL_AT_LEAST(7, 80, 0)
#define HAVE_PREREQ 1
#else
#define HAVE_PREREQ 0
#endif

enum { T_NEW, T_RUNNING, T_DONE, T_CANCELLED, T_CLOSED };

typedef struct transfer transfer;

/* What an easy handle is set up for. A spare handle whose last request had
 * the same shape is used as it is, with only the new request's own options
 * set: saves a curl_easy_reset and the dozen options all requests share.
 * A different shape (say a PATCH after a POST) gets a reset first, so no
 * option of one request (CUSTOMREQUEST, a body mode, a CA file) can leak
 * into another. Spares exist only with libcurl 8.1.0 or later (see
 * give_back_easy). */
typedef struct {
    char method[16];            /* "" for a method too long to compare */
    unsigned flags;             /* SHAPE_* */
    int set_up;                 /* options set since the last init or reset */
} shape;

#define SHAPE_NO_RESEND 1u
#define SHAPE_BODY 2u
#define SHAPE_CA 4u
#define SHAPE_PROXY 8u
#define SHAPE_VERBOSE 16u

typedef struct {
    CURL *easy;
    shape shape;
} spare_easy;

typedef struct {
    CURLM *cm;
    transfer *active;                /* transfers added to cm, linked */
    transfer *done_head, *done_tail; /* finished, not yet handed to Lua */
    spare_easy spare[SPARE_MAX];
    int nspare;
    int closed;
    int reuse_easy;                  /* libcurl >= 8.1.0 (see give_back_easy) */
    CURL *dead[DEAD_MAX];            /* used handles to clean up at the next
                                        wait (libcurl < 8.1.0, see idle_work) */
    int ndead;
    shape last;                      /* the shape of the last request added */
    char *auth;                      /* "Authorization: ..." line, or NULL: kept
                                        here so that no Lua table holds the key */
    char accept_encoding[32];        /* see find_accept_encoding */
    char accept_encoding_line[64];   /* "Accept-Encoding: " and that list */
    int running;                     /* transfers libcurl still runs */
#if HAVE_EPOLL
    int epfd;                        /* the epoll set of libcurl's sockets, or
                                        -1 (perform/poll) */
    int tfd;                         /* a timerfd in that set, or -1 until
                                        m:pollfd() asks for one */
    int nsockets;                    /* libcurl's sockets in the set */
    double timer_at;                 /* when libcurl's timer expires (monotonic
                                        seconds), or < 0 when none runs */
    double wake_at;                  /* when the host asked to be woken
                                        (m:arm), or < 0 */
    struct epoll_event ev[EVENTS_MAX]; /* what the last wait saw, not acted on */
    int nev;
#endif
} multi;

typedef struct {
    char *p;
    size_t len, cap;
} buffer;

struct transfer {
    CURL *easy;
    multi *owner;               /* NULL once the multi is gone */
    transfer *prev, *next;      /* in owner->active, or next in done queue */
    struct curl_slist *headers;
    buffer body, head;
    shape shape;                /* what t->easy is set up for */
    const char *upload;         /* the request body: the bytes of */
    size_t upload_len, upload_pos;
    int upload_ref;             /* the spec's body string, held by this ref */
    int prereqs;                /* times on_prereq ran */
    int resend_blocked;         /* on_prereq refused a second send */
    size_t max_body;
    int state;
    int too_large, head_too_large, oom;
    buffer trace;               /* libcurl's verbose text (spec.verbose) */
    int trace_cut;
    int ref;                    /* registry ref to itself while in flight */
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---------------------------------------------------------------------- */
/* buffers and libcurl callbacks (no Lua here)                             */

static int buffer_add(buffer *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *np;
        while (cap < b->len + n + 1) cap *= 2;
        np = realloc(b->p, cap);
        if (!np) return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 1;
}

/* Overwrites a secret before freeing it (volatile: the stores must not be
 * dropped as dead before free). */
static void wipe_free(char *p)
{
    volatile char *v = p;
    if (!p) return;
    while (*v) *v++ = 0;
    free(p);
}

static void buffer_free(buffer *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    size_t len = size * n;
    if (t->body.len + len > t->max_body) {
        t->too_large = 1;
        return 0;                       /* makes libcurl abort: WRITE_ERROR */
    }
    if (!buffer_add(&t->body, p, len)) {
        t->oom = 1;
        return 0;
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    size_t len = size * n;
    /* A new status line starts a new response (after 100 Continue or a
     * proxy's CONNECT answer): keep only the headers of the last one. */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) t->head.len = 0;
    if (t->head.len + len > MAX_HEAD) {
        t->head_too_large = 1;
        return 0;
    }
    if (!buffer_add(&t->head, p, len)) {
        t->oom = 1;
        return 0;
    }
    return len;
}

#if HAVE_PREREQ
/* The guard of a no-resend transfer (a POST: it may act twice). When a
 * kept-alive connection dies under a request, libcurl sends the request
 * again on a new connection, and calls this again first. If no byte of
 * the request left this host on the first connection, the server cannot
 * have seen it and the new one may carry it; otherwise the transfer is
 * aborted here, before a second send, and reported as the condition it
 * is (set_error_fields). The body goes out from memory with the headers,
 * in one write: a read callback would cost a second write per POST and a
 * second wake-up of the server. */
static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port)
{
    transfer *t = ud;
    long sent = 0;
    (void)ip;
    (void)local_ip;
    (void)port;
    (void)local_port;
    if (t->prereqs++ == 0) return CURL_PREREQFUNC_OK;
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent);
    if (sent <= 0) return CURL_PREREQFUNC_OK;
    t->resend_blocked = 1;
    return CURL_PREREQFUNC_ABORT;
}
#else
/* Feeds the request body of a no-resend transfer (libcurl before 7.80,
 * which has no on_prereq). There is deliberately no seek callback: when a
 * reused connection dies after the body went out, libcurl would silently
 * send the request again on a new connection; unable to rewind, it fails
 * with CURLE_SEND_FAIL_REWIND instead, so a POST that may have reached the
 * server is never sent twice behind our back. */
static size_t on_upload(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    size_t room = size * n, left = t->upload_len - t->upload_pos;
    if (left < room) room = left;
    memcpy(p, t->upload + t->upload_pos, room);
    t->upload_pos += room;
    return room;
}
#endif

/* One line of verbose output with its prefix ("* " text, "> " request
 * header, "< " response header). An Authorization or Proxy-Authorization
 * value never gets in: the line keeps only its name. */
static void trace_line(transfer *t, char prefix, const char *p, size_t n)
{
    static const char *const secret[] = {"authorization:", "proxy-authorization:"};
    char lead[2];
    size_t i, j, k;
    if (t->trace_cut) return;
    if (t->trace.len + n + 16 > TRACE_MAX) {
        t->trace_cut = 1;
        buffer_add(&t->trace, "* [trace truncated]\n", 20);
        return;
    }
    lead[0] = prefix;
    lead[1] = ' ';
    buffer_add(&t->trace, lead, 2);
    for (i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        k = strlen(secret[i]);
        if (n < k) continue;
        for (j = 0; j < k && tolower((unsigned char)p[j]) == secret[i][j]; j++) {}
        if (j == k) {
            buffer_add(&t->trace, p, k);
            buffer_add(&t->trace, " [REDACTED]\n", 12);
            return;
        }
    }
    buffer_add(&t->trace, p, n);
    buffer_add(&t->trace, "\n", 1);
}

/* CURLOPT_DEBUGFUNCTION: keeps text and header lines, never body bytes or
 * TLS records; no Lua here either (Lua reads it with t:trace()). */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *ud)
{
    transfer *t = ud;
    const char *p = data, *end = data + size;
    char prefix;
    (void)e;
    switch (type) {
    case CURLINFO_TEXT: prefix = '*'; break;
    case CURLINFO_HEADER_OUT: prefix = '>'; break;
    case CURLINFO_HEADER_IN: prefix = '<'; break;
    default: return 0;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        size_t n = (size_t)(le - p);
        if (n && p[n - 1] == '\r') n--;
        if (n) trace_line(t, prefix, p, n);
        p = eol ? eol + 1 : end;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* error names                                                             */

/* The rows of curl_errors.h, the one list of the libcurl errors hamsa names. */
static const struct {
    CURLcode code;
    const char *name, *kind;
    int retryable;
} curl_errors[] = {
#define CURL_ERROR_ROW(name, kind, retryable) {CURLE_##name, "CURLE_" #name, kind, retryable},
    HAMSA_CURL_ERRORS(CURL_ERROR_ROW)
#undef CURL_ERROR_ROW
};

#define N_CURL_ERRORS (sizeof curl_errors / sizeof curl_errors[0])

/* "CURLE_COULDNT_CONNECT", or NULL for a code the list does not name (a
 * walk of 31 rows, on failures only). */
static const char *curl_code_name(CURLcode c)
{
    size_t i;
    for (i = 0; i < N_CURL_ERRORS; i++)
        if (curl_errors[i].code == c) return curl_errors[i].name;
    return NULL;
}

/* Pushes core.curl_errors: { [name] = { kind = s, retryable = b } } for
 * every row, which lua/hamsa/errors.lua reads. */
static void push_curl_errors(lua_State *L)
{
    size_t i;
    lua_createtable(L, 0, (int)N_CURL_ERRORS);
    for (i = 0; i < N_CURL_ERRORS; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, curl_errors[i].kind);
        lua_setfield(L, -2, "kind");
        lua_pushboolean(L, curl_errors[i].retryable);
        lua_setfield(L, -2, "retryable");
        lua_setfield(L, -2, curl_errors[i].name);
    }
}

/* ---------------------------------------------------------------------- */
/* transfer                                                                */

static transfer *check_transfer(lua_State *L, int idx)
{
    return (transfer *)luaL_checkudata(L, idx, TRANSFER_MT);
}

static void unlink_active(transfer *t)
{
    multi *m = t->owner;
    if (t->prev) t->prev->next = t->next;
    else if (m && m->active == t) m->active = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

/* Removes t from its multi's done queue (it is there when it finished but
 * Lua has not taken it yet). */
static void unlink_done(transfer *t)
{
    multi *m = t->owner;
    transfer *prev = NULL, *it;
    if (!m) return;
    for (it = m->done_head; it; prev = it, it = it->next) {
        if (it != t) continue;
        if (prev) prev->next = t->next;
        else m->done_head = t->next;
        if (m->done_tail == t) m->done_tail = prev;
        t->next = NULL;
        return;
    }
}

static void drop_ref(lua_State *L, transfer *t)
{
    if (t->ref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
        t->ref = LUA_NOREF;
    }
}

/* Gives the easy handle back: to the multi's spares when it can use it,
 * else to libcurl. */
static void give_back_easy(transfer *t)
{
    multi *m = t->owner;
    if (!t->easy) return;
    /* libcurl before 8.1.0 keeps a pointer to the previous transfer's last
     * header (curl/curl#11101): a folded first header line in the next
     * response then reads freed memory, so there a handle is never reused */
    if (m && !m->closed && m->nspare < SPARE_MAX && m->reuse_easy) {
        spare_easy *s = &m->spare[m->nspare++];
        if (t->shape.flags & SHAPE_VERBOSE) {
            curl_easy_reset(t->easy);   /* drops the debug callback and its t */
            t->shape.set_up = 0;
        } else {
            /* stays set up for its shape (see shape); the other pointers to t
             * are only used during a transfer, which sets them anew */
            curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
        }
        s->easy = t->easy;
        s->shape = t->shape;
    } else if (m && !m->closed && !m->reuse_easy && m->ndead < DEAD_MAX) {
        m->dead[m->ndead++] = t->easy;  /* cleaned up while waiting (idle_work) */
    } else {
        curl_easy_cleanup(t->easy);
    }
    t->easy = NULL;
}

/* The one release behind close, __gc and __close; idempotent. */
static void transfer_release(lua_State *L, transfer *t)
{
    if (t->state == T_CLOSED) return;
    if (t->state == T_RUNNING) {
        if (t->owner) curl_multi_remove_handle(t->owner->cm, t->easy);
        unlink_active(t);
    } else if (t->state == T_DONE) {
        unlink_done(t);
    }
    drop_ref(L, t);
    give_back_easy(t);
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    buffer_free(&t->body);
    buffer_free(&t->head);
    if (t->upload_ref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, t->upload_ref);
        t->upload_ref = LUA_NOREF;
    }
    t->upload = NULL;
    buffer_free(&t->trace);
    t->state = T_CLOSED;
}

static int transfer_close(lua_State *L)
{
    transfer_release(L, check_transfer(L, 1));
    return 0;
}

/* t:cancel() -> true if it was in flight. The transfer stops at once; its
 * connection is closed by libcurl rather than reused. */
static int transfer_cancel(lua_State *L)
{
    transfer *t = check_transfer(L, 1);
    int was_running = t->state == T_RUNNING;
    if (was_running) {
        if (t->owner) curl_multi_remove_handle(t->owner->cm, t->easy);
        unlink_active(t);
        t->state = T_CANCELLED;
        drop_ref(L, t);
    }
    lua_pushboolean(L, was_running);
    return 1;
}

/* Pushes the header block as a table of lower-cased names; repeated
 * headers are joined with ", " (RFC 9110 section 5.3). */
static void push_headers(lua_State *L, const buffer *b)
{
    const char *p = b->p, *end, *q;
    char name[128];
    int lines = 0;
    if (!p) {
        lua_newtable(L);
        return;                     /* nothing came: no NULL + 0 (UB) */
    }
    end = p + b->len;
    /* sized for its lines up front: saves the rehash at every doubling */
    for (q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) lines++;
    lua_createtable(L, 0, lines > 1 ? lines - 1 : 0);  /* less the status line */
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        const char *v, *ve;
        size_t i, nlen;
        int status_line = line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0;
        if (colon && colon > p && (size_t)(colon - p) < sizeof name && !status_line) {
            nlen = (size_t)(colon - p);
            for (i = 0; i < nlen; i++) name[i] = (char)tolower((unsigned char)p[i]);
            v = colon + 1;
            ve = line_end;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            lua_pushlstring(L, name, nlen);
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
            if (lua_isstring(L, -1)) {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            }
            lua_rawset(L, -3);
        }
        p = eol ? eol + 1 : end;
    }
}

/* Sets result.error and result.message (the table at -1) when t failed;
 * leaves both nil when it did not. */
static void set_error_fields(lua_State *L, const transfer *t)
{
    if (t->result == CURLE_OK) return;
    if (t->too_large) {
        char n[32];
        snprintf(n, sizeof n, "%.0f", (double)t->max_body);
        lua_pushliteral(L, "RESPONSE_TOO_LARGE");
        lua_pushfstring(L, "response larger than %s bytes", n);
    } else if (t->resend_blocked) {
        /* the code libcurl gives when it cannot rewind a body to send it
         * again (on_upload's guard): the same condition, one name */
        lua_pushliteral(L, "CURLE_SEND_FAIL_REWIND");
        lua_pushliteral(L, "the connection closed after the request was sent; it was not sent again");
    } else if (t->head_too_large) {
        lua_pushliteral(L, "RESPONSE_HEADERS_TOO_LARGE");
        lua_pushfstring(L, "response header block larger than %d KiB", MAX_HEAD / 1024);
    } else {
        const char *name = curl_code_name(t->result);
        if (name) lua_pushstring(L, name);
        else lua_pushfstring(L, "CURLE_%d", (int)t->result);
        if (t->oom) lua_pushliteral(L, "out of memory while reading the response");
        else lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
    }
    lua_setfield(L, -3, "message");
    lua_setfield(L, -2, "error");
}

/* Seconds the transfer took, start to end. */
static double total_seconds(CURL *e)
{
#if CURL_AT_LEAST(7, 55, 0)
    curl_off_t us = 0;
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
    return (double)us / 1e6;
#else
    double total = 0;
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &total);
    return total;
#endif
}

#define RESULT_FIELDS 8

/* t:result() -> one table of fixed shape (RESULT_FIELDS fields, made at
 * that size):
 *   status    the HTTP status (integer), or nil when no response came
 *   body      the response body (string, "" when there was none)
 *   headers   { [lower-case name] = value } of the last response (see
 *             push_headers)
 *   error     nil on success; else libcurl's error name
 *             ("CURLE_COULDNT_CONNECT", from curl_errors.h, or
 *             "CURLE_<number>" for one it does not name),
 *             "RESPONSE_TOO_LARGE" or "RESPONSE_HEADERS_TOO_LARGE"
 *   message   nil on success; else one human sentence about the error
 *   sent      whether any byte of the request left this host (a request
 *             that was never sent cannot have had an effect, so it is
 *             always safe to send again)
 *   elapsed   seconds the transfer took (a float)
 *   connects  new connections it opened: 0 when it reused a kept-alive one
 */
static int transfer_result(lua_State *L)
{
    transfer *t = check_transfer(L, 1);
    long status = 0, reqsize = 0, connects = 0;
    luaL_argcheck(L, t->state == T_DONE, 1, "transfer has not finished");
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &reqsize);
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
    lua_createtable(L, 0, RESULT_FIELDS);
    if (status > 0) {
        lua_pushinteger(L, (lua_Integer)status);
        lua_setfield(L, -2, "status");
    }
    lua_pushlstring(L, t->body.p ? t->body.p : "", t->body.len);
    lua_setfield(L, -2, "body");
    push_headers(L, &t->head);
    lua_setfield(L, -2, "headers");
    set_error_fields(L, t);
    lua_pushboolean(L, reqsize > 0);
    lua_setfield(L, -2, "sent");
    lua_pushnumber(L, (lua_Number)total_seconds(t->easy));
    lua_setfield(L, -2, "elapsed");
    lua_pushinteger(L, (lua_Integer)connects);
    lua_setfield(L, -2, "connects");
    return 1;
}

/* t:trace() -> string | nil: the verbose text of a spec.verbose transfer */
static int transfer_trace(lua_State *L)
{
    transfer *t = check_transfer(L, 1);
    if (!t->trace.len) return 0;
    lua_pushlstring(L, t->trace.p, t->trace.len);
    return 1;
}

static int transfer_state(lua_State *L)
{
    static const char *const names[] = {"new", "running", "done", "cancelled", "closed"};
    lua_pushstring(L, names[check_transfer(L, 1)->state]);
    return 1;
}

static int transfer_tostring(lua_State *L)
{
    transfer *t = check_transfer(L, 1);
    lua_pushfstring(L, "hamsa.transfer (%p)", (void *)t);
    return 1;
}

/* ---------------------------------------------------------------------- */
/* multi                                                                   */

/* The Accept-Encoding list: the encodings this libcurl decodes, in its own
 * order, which is what CURLOPT_ACCEPT_ENCODING "" means. Named once per
 * multi: given "", libcurl works the list out again on every new handle. */
static void find_accept_encoding(char *list, size_t size)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    list[0] = '\0';
    if (size < 32) return;
    if (v->features & CURL_VERSION_LIBZ) strcat(list, "deflate, gzip");
#ifdef CURL_VERSION_BROTLI
    if (v->features & CURL_VERSION_BROTLI) strcat(list, list[0] ? ", br" : "br");
#endif
#ifdef CURL_VERSION_ZSTD
    if (v->features & CURL_VERSION_ZSTD) strcat(list, list[0] ? ", zstd" : "zstd");
#endif
    if (!list[0]) strcpy(list, "identity");
}

static multi *check_multi(lua_State *L, int idx)
{
    multi *m = (multi *)luaL_checkudata(L, idx, MULTI_MT);
    if (m->closed) luaL_error(L, "attempt to use a closed hamsa.multi");
    return m;
}

/* The one release behind close, __gc and __close; idempotent. Transfers
 * still in flight are detached: they stay valid Lua objects whose state
 * becomes "cancelled". */
static void multi_release(lua_State *L, multi *m)
{
    transfer *t, *next;
    int i;
    if (m->closed) return;
    m->closed = 1;
    for (t = m->active; t; t = next) {
        next = t->next;
        curl_multi_remove_handle(m->cm, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
        t->prev = t->next = NULL;
        t->owner = NULL;
        t->state = T_CANCELLED;
        drop_ref(L, t);
    }
    m->active = NULL;
    for (t = m->done_head; t; t = next) {
        next = t->next;
        t->next = NULL;
        t->owner = NULL;                /* keeps its easy: result() works */
        drop_ref(L, t);
    }
    m->done_head = m->done_tail = NULL;
    for (i = 0; i < m->nspare; i++) curl_easy_cleanup(m->spare[i].easy);
    m->nspare = 0;
    for (i = 0; i < m->ndead; i++) curl_easy_cleanup(m->dead[i]);
    m->ndead = 0;
    if (m->cm) curl_multi_cleanup(m->cm);     /* may still call on_socket */
    m->cm = NULL;
#if HAVE_EPOLL
    if (m->tfd >= 0) close(m->tfd);
    if (m->epfd >= 0) close(m->epfd);
    m->tfd = m->epfd = -1;
#endif
    wipe_free(m->auth);
    m->auth = NULL;
}

static int multi_close(lua_State *L)
{
    multi *m = (multi *)luaL_checkudata(L, 1, MULTI_MT);
    multi_release(L, m);
    return 0;
}

static const char *opt_string(lua_State *L, int spec, const char *key)
{
    const char *s;
    lua_getfield(L, spec, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "spec.%s must be a string", key);
    s = lua_tostring(L, -1);
    lua_pop(L, 1);          /* still referenced by the spec table */
    return s;
}

static lua_Number opt_number(lua_State *L, int spec, const char *key, lua_Number dflt)
{
    lua_Number v = dflt;
    lua_getfield(L, spec, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "spec.%s must be a number", key);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A count option in [0, 1e6], whatever number Lua hands over: a double
 * out of long's range must never reach a cast. */
static long clamp_count(lua_Number v)
{
    if (!(v > 0)) return 0;
    return v > 1e6 ? 1000000L : (long)v;
}

static long to_ms(lua_Number seconds)
{
    if (seconds <= 0) return 0;
    if (seconds > 2e6) return 2000000000L;
    return (long)(seconds * 1000 + 0.5);
}

/* Absent is false, like any Lua false value: no type to check. */
static int opt_boolean(lua_State *L, int spec, const char *key)
{
    int v;
    lua_getfield(L, spec, key);
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Appends one line to t->headers; raises on allocation failure (t owns the
 * list, so its __gc frees what was built). */
static void add_header(lua_State *L, transfer *t, const char *line)
{
    struct curl_slist *l = curl_slist_append(t->headers, line);
    if (!l) luaL_error(L, "out of memory");
    t->headers = l;
}

/* One m:add spec, read from its Lua table once (read_spec), type checks
 * and defaults done; the phases of multi_add read this, not the table.
 * The strings point into values the spec table holds; body and headers
 * also stay on the stack (body_idx, headers_idx) for the whole call. */
typedef struct {
    const char *url, *method;       /* method: "GET" by default */
    const char *ca_file, *proxy;    /* or NULL */
    const char *header;             /* spec.header, or NULL */
    const char *body;               /* or NULL */
    size_t body_len;
    int body_idx, headers_idx;      /* stack slots (nil when absent) */
    lua_Number timeout, connect_timeout, ls_limit, ls_time;
    size_t max_body;                /* bytes, bounded */
    int no_resend, verbose;
} request_spec;

/* Reads the spec table at index 2 into rs; raises on a missing url or a
 * field of the wrong type. */
static void read_spec(lua_State *L, request_spec *rs)
{
    lua_Number max_body;
    luaL_checktype(L, 2, LUA_TTABLE);
    rs->url = opt_string(L, 2, "url");
    luaL_argcheck(L, rs->url != NULL, 2, "spec.url is required");
    rs->method = opt_string(L, 2, "method");
    if (!rs->method) rs->method = "GET";
    rs->ca_file = opt_string(L, 2, "ca_file");
    rs->proxy = opt_string(L, 2, "proxy");
    rs->timeout = opt_number(L, 2, "timeout", 30);
    rs->connect_timeout = opt_number(L, 2, "connect_timeout", 10);
    rs->ls_limit = opt_number(L, 2, "low_speed_limit", 0);
    rs->ls_time = opt_number(L, 2, "low_speed_time", 0);
    max_body = opt_number(L, 2, "max_body", (lua_Number)DEFAULT_MAX_BODY);
    /* Lua bounds max_response_bytes; this keeps the cast defined regardless */
    rs->max_body = !(max_body > 0) ? DEFAULT_MAX_BODY
                 : max_body >= 4294967295.0 ? (size_t)4294967295u : (size_t)max_body;
    rs->no_resend = opt_boolean(L, 2, "no_resend");
    rs->verbose = opt_boolean(L, 2, "verbose");
    rs->body = NULL;
    rs->body_len = 0;
    lua_getfield(L, 2, "body");
    rs->body_idx = lua_gettop(L);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "spec.body must be a string");
        rs->body = lua_tolstring(L, -1, &rs->body_len);
    }
    lua_getfield(L, 2, "headers");
    rs->headers_idx = lua_gettop(L);
    if (!lua_isnil(L, -1)) luaL_checktype(L, -1, LUA_TTABLE);
    rs->header = opt_string(L, 2, "header");
}

/* Pushes a new transfer: zeroed, with its metatable, before any libcurl
 * allocation, so that its __gc frees whatever a later raise leaves. */
static transfer *push_transfer(lua_State *L)
{
    transfer *t = (transfer *)lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    t->ref = LUA_NOREF;
    t->upload_ref = LUA_NOREF;
    t->state = T_NEW;
    luaL_setmetatable(L, TRANSFER_MT);
    return t;
}

/* Whether the lines of the table at `idx` (if a table) name the header
 * `lname` ("name:", lower case). */
static int has_header(lua_State *L, int idx, const char *lname)
{
    size_t n, i, k = strlen(lname);
    int found = 0;
    if (!lua_istable(L, idx)) return 0;
    n = (size_t)lua_rawlen(L, idx);
    for (i = 1; i <= n && !found; i++) {
        size_t len, j;
        const char *line;
        lua_rawgeti(L, idx, (lua_Integer)i);
        line = lua_tolstring(L, -1, &len);
        if (line && len >= k) {
            for (j = 0; j < k && tolower((unsigned char)line[j]) == lname[j]; j++) {}
            found = j == k;
        }
        lua_pop(L, 1);
    }
    return found;
}

/* The request's header lines: spec.headers, the multi's Authorization,
 * spec.header, then an empty Expect. */
static void build_headers(lua_State *L, transfer *t, const multi *m, const request_spec *rs)
{
    size_t n, i;
    if (lua_istable(L, rs->headers_idx)) {
        n = (size_t)lua_rawlen(L, rs->headers_idx);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, rs->headers_idx, (lua_Integer)i);
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "spec.headers[%d] must be a string", (int)i);
            add_header(L, t, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    if (m->auth) add_header(L, t, m->auth);
    /* spec.header: one more line after the shared ones (the caller's
     * per-request line; saves it a copy of the shared table) */
    if (rs->header) add_header(L, t, rs->header);
    /* The Accept-Encoding line, written once per multi: given only
     * CURLOPT_ACCEPT_ENCODING, libcurl formats the same line again for every
     * request (with its own printf, thousands of instructions); a line of
     * ours makes it skip that and still decode what comes back. */
    if (!has_header(L, rs->headers_idx, "accept-encoding:")) add_header(L, t, m->accept_encoding_line);
    /* libcurl would otherwise wait up to 1 s for "100 Continue" before
     * sending a body over 1 KiB */
    add_header(L, t, "Expect:");
}

/* Gives t an easy handle set up for the request's shape (t->shape, set
 * first): a spare one when there is one (saves an init per request), else
 * a new one. Returns 1 when the spare was already set up for this shape,
 * so that only the request's own options need setting; a spare of another
 * shape is reset first. */
static int take_easy(lua_State *L, multi *m, transfer *t, const request_spec *rs)
{
    CURL *e;
    int same = 0;
    if (strlen(rs->method) < sizeof t->shape.method) strcpy(t->shape.method, rs->method);
    t->shape.flags = (rs->no_resend ? SHAPE_NO_RESEND : 0) | (rs->body ? SHAPE_BODY : 0)
                     | (rs->ca_file ? SHAPE_CA : 0) | (rs->proxy ? SHAPE_PROXY : 0)
                     | (rs->verbose ? SHAPE_VERBOSE : 0);
    if (m->nspare > 0) {
        spare_easy *s = &m->spare[--m->nspare];
        e = s->easy;
        same = s->shape.set_up && !rs->verbose && t->shape.method[0]
               && strcmp(s->shape.method, t->shape.method) == 0 && s->shape.flags == t->shape.flags;
        if (!same && s->shape.set_up) curl_easy_reset(e);
    } else {
        e = curl_easy_init();
    }
    if (!e) return luaL_error(L, "curl_easy_init failed");
    t->easy = e;
    t->owner = m;
    m->last = t->shape;
    m->last.set_up = 1;
    return same;
}

/* The method; a no-resend request's body goes through on_upload. */
static void set_method(CURL *e, const request_spec *rs)
{
    if (strcmp(rs->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(rs->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(rs->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rs->method);
        if (rs->no_resend) {
            curl_easy_setopt(e, CURLOPT_POST, 1L);
#if HAVE_PREREQ
            curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
#else
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
#endif
        }
    }
}

/* What every request of this shape shares: set on a new or reset handle
 * only (a spare of the same shape keeps them, see shape). */
static void set_shared_options(CURL *e, const multi *m, const request_spec *rs)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);   /* never carry the key elsewhere */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* whatever libcurl can decode, named once (accept_encoding): "" would
     * make libcurl rebuild the list on every new handle */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, m->accept_encoding);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
#if CURL_AT_LEAST(7, 85, 0)
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (rs->verbose) {
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    }
    set_method(e, rs);
}

/* What a wait does before it sleeps, off the path of the request in
 * flight, with libcurl before 8.1.0, where a handle carries one transfer
 * only (give_back_easy): it cleans up the handles of finished transfers,
 * and makes one new handle set up for the shape of the last request, which
 * the next request of that shape takes as it is (take_easy). A blocking
 * call spends most of its time waiting for the server; this moves about a
 * fifth of the engine's own work into that time. A new handle never
 * carried a transfer, so nothing of another one lingers in it. */
static void idle_work(multi *m)
{
    int i;
    for (i = 0; i < m->ndead; i++) curl_easy_cleanup(m->dead[i]);
    m->ndead = 0;
    if (!m->reuse_easy && m->nspare == 0 && m->last.set_up && m->last.method[0]
        && !(m->last.flags & SHAPE_VERBOSE)) {
        request_spec rs;
        CURL *e = curl_easy_init();
        if (!e) return;                 /* the next request makes its own */
        memset(&rs, 0, sizeof rs);
        rs.method = m->last.method;
        rs.no_resend = (m->last.flags & SHAPE_NO_RESEND) != 0;
        set_shared_options(e, m, &rs);
        m->spare[0].easy = e;
        m->spare[0].shape = m->last;
        m->nspare = 1;
    }
}

/* This request's own options, set on every handle. */
static void set_request_options(transfer *t, const request_spec *rs)
{
    CURL *e = t->easy;
    int stall = rs->ls_limit > 0 && rs->ls_time > 0;    /* 0, 0: off, libcurl's default */
    curl_easy_setopt(e, CURLOPT_URL, rs->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_ms(rs->timeout));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_ms(rs->connect_timeout));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, stall ? clamp_count(rs->ls_limit) : 0L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall ? clamp_count(rs->ls_time + 0.999) : 0L);
    if (rs->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, rs->ca_file);
    if (rs->proxy) curl_easy_setopt(e, CURLOPT_PROXY, rs->proxy);
    if (rs->verbose) curl_easy_setopt(e, CURLOPT_DEBUGDATA, (void *)t);
    t->shape.set_up = 1;
}

/* The request body, for any method but GET and HEAD. libcurl reads the
 * body string in place (no copy), kept alive by a registry ref until the
 * transfer is released. */
static void set_body(lua_State *L, transfer *t, const request_spec *rs)
{
    CURL *e = t->easy;
    if (strcmp(rs->method, "GET") == 0 || strcmp(rs->method, "HEAD") == 0) return;
    if (rs->body) {
        lua_pushvalue(L, rs->body_idx);
        t->upload_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        t->upload = rs->body;
        t->upload_len = rs->body_len;
    }
#if HAVE_PREREQ
    if (rs->no_resend) curl_easy_setopt(e, CURLOPT_PREREQDATA, (void *)t);
#else
    if (rs->no_resend) {
        curl_easy_setopt(e, CURLOPT_READDATA, (void *)t);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rs->body_len);
        return;
    }
#endif
    if (rs->body || strcmp(rs->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rs->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rs->body ? rs->body : "");
    }
}

/* Hands t (the userdata at the top of the stack) to libcurl, and holds it
 * in the registry while it is in flight. */
static void start_transfer(lua_State *L, multi *m, transfer *t)
{
    if (curl_multi_add_handle(m->cm, t->easy) != CURLM_OK)
        luaL_error(L, "curl_multi_add_handle failed");
    t->state = T_RUNNING;
    t->next = m->active;
    if (m->active) m->active->prev = t;
    m->active = t;
    lua_pushvalue(L, -1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* m:add(spec) -> transfer
 * spec = { url = s, method = "GET"|"POST"|..., headers = { "Name: v", ... },
 *          body = s?, timeout = sec?, connect_timeout = sec?,
 *          low_speed_limit = bytes/s?, low_speed_time = sec?,
 *          ca_file = s?, proxy = s?, max_body = bytes?,
 *          header = s? (one more line, sent after `headers`),
 *          no_resend = bool? (never let libcurl send the body twice),
 *          verbose = bool? (keep libcurl's verbose text for t:trace()) }
 * Starts the transfer; progress happens in m:perform(). */
static int multi_add(lua_State *L)
{
    multi *m = check_multi(L, 1);
    request_spec rs;
    transfer *t;
    read_spec(L, &rs);
    t = push_transfer(L);
    t->max_body = rs.max_body;
    build_headers(L, t, m, &rs);
    if (!take_easy(L, m, t, &rs)) set_shared_options(t->easy, m, &rs);
    set_request_options(t, &rs);
    set_body(L, t, &rs);
    if (hamsa_easy_hook) hamsa_easy_hook(t->easy);     /* a test harness's, see hamsa.h */
    start_transfer(L, m, t);
    return 1;
}

/* Moves every finished transfer from libcurl's message queue to ours. */
static void collect_done(multi *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->cm, &left)) != NULL) {
        transfer *t = NULL;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (!t || t->state != T_RUNNING) continue;
        t->result = msg->data.result;
        curl_multi_remove_handle(m->cm, t->easy);
        unlink_active(t);
        t->state = T_DONE;
        t->next = NULL;
        if (m->done_tail) m->done_tail->next = t;
        else m->done_head = t;
        m->done_tail = t;
    }
}

/* ---------------------------------------------------------------------- */
/* driving libcurl: socket events on an epoll set (Linux), or perform/poll */

#if HAVE_EPOLL
static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sets the timerfd (when there is one) to fire at the sooner of libcurl's
 * timer and the host's wake-up, or disarms it. A time already past fires
 * at once (1 ns: zero would disarm). */
static void timer_rearm(multi *m)
{
    struct itimerspec its;
    double at = m->timer_at;
    if (m->tfd < 0) return;
    if (m->wake_at >= 0 && (at < 0 || m->wake_at < at)) at = m->wake_at;
    memset(&its, 0, sizeof its);
    if (at >= 0) {
        double left = at - mono_now();
        if (left <= 0) {
            its.it_value.tv_nsec = 1;
        } else {
            its.it_value.tv_sec = (time_t)left;
            its.it_value.tv_nsec = (long)((left - (double)its.it_value.tv_sec) * 1e9);
            if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
        }
    }
    timerfd_settime(m->tfd, 0, &its, NULL);
}

/* CURLMOPT_SOCKETFUNCTION: keeps the epoll set what libcurl waits on. A
 * socket's `socketp` (curl_multi_assign) is non-NULL once it is in the set.
 * A socket libcurl closed has left the set by itself, so a number that
 * comes back for a new socket may need ADD where MOD was expected, or the
 * other way round. No Lua runs here. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    multi *m = userp;
    struct epoll_event ev;
    int op;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (socketp) {
            epoll_ctl(m->epfd, EPOLL_CTL_DEL, s, NULL);     /* ENOENT once closed: fine */
            m->nsockets--;
        }
        return 0;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = s;
    op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(m->epfd, op, s, &ev) != 0) {
        op = errno == ENOENT ? EPOLL_CTL_ADD : errno == EEXIST ? EPOLL_CTL_MOD : -1;
        /* no room in the set: the transfer's own timeout ends it */
        if (op < 0 || epoll_ctl(m->epfd, op, s, &ev) != 0) return 0;
    }
    if (!socketp) {
        curl_multi_assign(m->cm, s, (void *)m);
        m->nsockets++;
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants CURL_SOCKET_TIMEOUT acted on
 * (0 ms: at the next turn; -1: no timer). It must not act from here. */
static int on_timer(CURLM *cm, long ms, void *userp)
{
    multi *m = userp;
    (void)cm;
    m->timer_at = ms < 0 ? -1.0 : mono_now() + (double)ms / 1000.0;
    timer_rearm(m);
    return 0;
}

/* One turn on the socket API: the events the last wait saw (or, with none
 * kept, whatever is ready now), then libcurl's timer when it is due. An
 * event kept from a wait may be stale (its transfer cancelled since):
 * acting on a socket that is not ready is a read that finds nothing, and
 * libcurl answers CURLM_BAD_SOCKET for one it no longer knows. */
static CURLMcode socket_turn(multi *m)
{
    CURLMcode rc = CURLM_OK;
    int i, n = m->nev;
    double t;
    m->nev = 0;
    if (n == 0 && (m->nsockets > 0 || m->tfd >= 0)) {
        n = epoll_wait(m->epfd, m->ev, EVENTS_MAX, 0);
        if (n < 0) n = 0;
    }
    for (i = 0; i < n; i++) {
        uint32_t e = m->ev[i].events;
        int fd = m->ev[i].data.fd, flags;
        if (fd == m->tfd) {             /* the timer: drain it, act below */
            uint64_t expirations;
            if (read(fd, &expirations, sizeof expirations) < 0) { /* EAGAIN: already drained */ }
            continue;
        }
        /* An error or hang-up lets libcurl go on with what it was doing
         * (IN and OUT with ERR), so the read or write meets the error and
         * names it (a reset: "Recv failure: Connection reset by peer"),
         * as under libcurl's own poll, which turns POLLERR into "readable"
         * for a reader. ERR alone makes libcurl fail the transfer with
         * CURLE_SEND_ERROR whatever it was doing; epoll reports it alone
         * when the socket's interest was "writable" then. */
        flags = (e & EPOLLIN ? CURL_CSELECT_IN : 0) | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0);
        if (e & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_IN | CURL_CSELECT_OUT | CURL_CSELECT_ERR;
        rc = curl_multi_socket_action(m->cm, fd, flags, &m->running);
        if (rc != CURLM_OK && rc != CURLM_BAD_SOCKET) return rc;
    }
    t = mono_now();
    if (m->wake_at >= 0 && t >= m->wake_at) m->wake_at = -1.0;
    if (m->timer_at >= 0 && t >= m->timer_at) {
        m->timer_at = -1.0;
        rc = curl_multi_socket_action(m->cm, CURL_SOCKET_TIMEOUT, 0, &m->running);
    }
    if (m->tfd >= 0) timer_rearm(m);
    return rc == CURLM_BAD_SOCKET ? CURLM_OK : rc;
}

/* Sleeps up to `ms`, less when libcurl's timer is due sooner; keeps what
 * it saw for the next turn (the set is level-triggered: nothing is lost
 * if that turn never comes). Returns the number of ready descriptors. */
static int socket_wait(multi *m, int ms)
{
    int n;
    if (m->timer_at >= 0) {
        double left = (m->timer_at - mono_now()) * 1000.0;
        if (left < ms) ms = left <= 0 ? 0 : (int)left + 1;
    }
    n = epoll_wait(m->epfd, m->ev, EVENTS_MAX, ms);
    m->nev = n > 0 ? n : 0;
    return m->nev;
}

/* Sets m up for the socket API; leaves m->epfd at -1 (perform/poll) when
 * the kernel gives no epoll set. */
static void socket_setup(multi *m)
{
    m->timer_at = m->wake_at = -1.0;
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (m->epfd < 0) return;
    curl_multi_setopt(m->cm, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->cm, CURLMOPT_SOCKETDATA, (void *)m);
    curl_multi_setopt(m->cm, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m->cm, CURLMOPT_TIMERDATA, (void *)m);
}
#endif

/* One turn: libcurl moves what it can without waiting. */
static CURLMcode multi_turn(multi *m)
{
#if HAVE_EPOLL
    if (m->epfd >= 0) return socket_turn(m);
#endif
    return curl_multi_perform(m->cm, &m->running);
}

/* Sleeps until a socket is ready, libcurl's timer, or `ms`. */
static CURLMcode multi_sleep(multi *m, int ms, int *ready)
{
#if HAVE_EPOLL
    if (m->epfd >= 0) {
        *ready = socket_wait(m, ms);
        return CURLM_OK;
    }
#endif
#if CURL_AT_LEAST(7, 66, 0)
    return curl_multi_poll(m->cm, NULL, 0, ms, ready);
#else
    return curl_multi_wait(m->cm, NULL, 0, ms, ready);
#endif
}

/* m:perform() -> number of transfers still running */
static int multi_perform(lua_State *L)
{
    multi *m = check_multi(L, 1);
    CURLMcode rc = multi_turn(m);
    if (rc != CURLM_OK) return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(rc));
    collect_done(m);
    lua_pushinteger(L, m->running);
    return 1;
}

/* m:next_done() -> transfer | nil: the next finished transfer, once. */
static int multi_next_done(lua_State *L)
{
    multi *m = check_multi(L, 1);
    transfer *t = m->done_head;
    if (!t) return 0;
    m->done_head = t->next;
    if (!m->done_head) m->done_tail = NULL;
    t->next = NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    drop_ref(L, t);
    return 1;
}

/* m:wait(seconds) -> number of sockets with activity.
 * Sleeps until a socket is ready, libcurl's next timeout, or `seconds`,
 * whichever comes first; with nothing in flight it sleeps `seconds`. */
static int multi_wait(lua_State *L)
{
    multi *m = check_multi(L, 1);
    lua_Number s = luaL_optnumber(L, 2, 0);
    int ms = s <= 0 ? 0 : s > 86400 ? 86400000 : (int)(s * 1000 + 0.5);
    int numfds = 0;
    CURLMcode rc;
    idle_work(m);
    rc = multi_sleep(m, ms, &numfds);
    if (rc != CURLM_OK) return luaL_error(L, "curl_multi_poll: %s", curl_multi_strerror(rc));
    lua_pushinteger(L, numfds);
    return 1;
}

/* m:pollfd() -> fd | nil, message: one descriptor that is readable
 * whenever m has work: a socket libcurl waits on is ready, libcurl's timer
 * is due, or the time set with m:arm() has come. It is the epoll set of
 * libcurl's sockets with a timerfd in it (made on the first call); a host
 * loop watches it for reading and calls m:perform() (client:poll(0)). */
static int multi_pollfd(lua_State *L)
{
    multi *m = check_multi(L, 1);
#if HAVE_EPOLL
    if (m->epfd >= 0) {
        if (m->tfd < 0) {
            struct epoll_event ev;
            int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
            if (tfd < 0) return luaL_error(L, "timerfd_create failed");
            memset(&ev, 0, sizeof ev);
            ev.events = EPOLLIN;
            ev.data.fd = tfd;
            if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, tfd, &ev) != 0) {
                close(tfd);
                return luaL_error(L, "epoll_ctl failed");
            }
            m->tfd = tfd;
            timer_rearm(m);
        }
        lua_pushinteger(L, m->epfd);
        return 1;
    }
#endif
    lua_pushnil(L);
    lua_pushliteral(L, "no pollable descriptor on this system (it needs Linux's epoll): use sockets()");
    return 2;
}

/* m:arm(seconds | nil): makes m:pollfd() readable in `seconds` (0: at
 * once) even if libcurl has nothing to do then; nil cancels. For the
 * host's own timers (hamsa.loop's backoff, waiter gaps, due callbacks).
 * Does nothing before the first m:pollfd(). */
static int multi_arm(lua_State *L)
{
    multi *m = check_multi(L, 1);
#if HAVE_EPOLL
    double at = -1.0;
    if (!lua_isnoneornil(L, 2)) {
        lua_Number s = luaL_checknumber(L, 2);
        double t = mono_now();
        /* a wake-up already due stays armed: "at once" again needs no
         * system call (the loop asks after every completion) */
        if (s <= 0 && m->wake_at >= 0 && m->wake_at <= t) return 0;
        at = t + (s > 0 ? (s > 86400 ? 86400 : (double)s) : 0.0);
    } else if (m->wake_at < 0) {
        return 0;                       /* nothing armed, nothing to cancel */
    }
    m->wake_at = at;
    timer_rearm(m);
#else
    (void)m;
#endif
    return 0;
}

/* m:timeout() -> seconds until libcurl wants m:perform() again, or nil
 * when it has no timer running (for hosts with their own event loop). */
static int multi_timeout(lua_State *L)
{
    multi *m = check_multi(L, 1);
    long ms = -1;
#if HAVE_EPOLL
    /* the timer a turn acts on (socket_turn), in whole milliseconds rounded
     * up: libcurl's own answer could say 0 a moment before that timer is
     * due, and a host loop would spin until it is */
    if (m->epfd >= 0) {
        double left;
        if (m->timer_at < 0) return 0;
        left = (m->timer_at - mono_now()) * 1000.0;
        ms = left <= 0 ? 0 : (long)left + ((double)(long)left < left ? 1 : 0);
        lua_pushnumber(L, (lua_Number)ms / 1000);
        return 1;
    }
#endif
    curl_multi_timeout(m->cm, &ms);
    if (ms < 0) return 0;
    lua_pushnumber(L, (lua_Number)ms / 1000);
    return 1;
}

/* m:sockets() -> { [fd] = "r" | "w" | "rw", ... }: the sockets libcurl
 * waits on now. A host with its own loop watches them (and m:timeout()),
 * then calls m:perform() when one is ready or the timeout passes.
 * (curl_multi_fdset: descriptors past FD_SETSIZE are not listed; the
 * timeout still drives those transfers.) */
static int multi_sockets(lua_State *L)
{
    multi *m = check_multi(L, 1);
    fd_set r, w, x;
    int maxfd = -1, fd;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&x);
    curl_multi_fdset(m->cm, &r, &w, &x, &maxfd);
    lua_newtable(L);
    for (fd = 0; fd <= maxfd; fd++) {
        int rd = FD_ISSET(fd, &r), wr = FD_ISSET(fd, &w);
        if (!rd && !wr) continue;
        lua_pushstring(L, rd && wr ? "rw" : wr ? "w" : "r");
        lua_rawseti(L, -2, fd);
    }
    return 1;
}

static int multi_tostring(lua_State *L)
{
    multi *m = (multi *)luaL_checkudata(L, 1, MULTI_MT);
    lua_pushfstring(L, "hamsa.multi (%s%p)", m->closed ? "closed, " : "", (void *)m);
    return 1;
}

/* core.multi([opts]) -> multi
 * opts = { max_host_connections = n?, max_total_connections = n?,
 *          auth = "Authorization: ..."? (sent with every transfer; kept in
 *          C memory, wiped on close, so no Lua value needs to hold it) } */
static int multi_new(lua_State *L)
{
    multi *m;
    long max_host = 0, max_total = 0;
    const char *auth = NULL;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        max_host = clamp_count(opt_number(L, 1, "max_host_connections", 0));
        max_total = clamp_count(opt_number(L, 1, "max_total_connections", 0));
        auth = opt_string(L, 1, "auth");
    }
    m = (multi *)lua_newuserdatauv(L, sizeof *m, 0);
    memset(m, 0, sizeof *m);
    m->closed = 1;                      /* until cm exists */
#if HAVE_EPOLL
    m->epfd = m->tfd = -1;              /* never close descriptor 0 */
#endif
    luaL_setmetatable(L, MULTI_MT);
    if (auth) {
        m->auth = malloc(strlen(auth) + 1);
        if (!m->auth) return luaL_error(L, "out of memory");
        strcpy(m->auth, auth);
    }
    m->cm = curl_multi_init();
    if (!m->cm) {
        wipe_free(m->auth);
        m->auth = NULL;
        return luaL_error(L, "curl_multi_init failed");
    }
    m->closed = 0;
    m->reuse_easy = curl_version_info(CURLVERSION_NOW)->version_num >= 0x080100;
#if HAVE_EPOLL
    socket_setup(m);
#endif
    find_accept_encoding(m->accept_encoding, sizeof m->accept_encoding);
    snprintf(m->accept_encoding_line, sizeof m->accept_encoding_line, "Accept-Encoding: %s",
             m->accept_encoding);
    if (max_host > 0) curl_multi_setopt(m->cm, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
    if (max_total > 0) curl_multi_setopt(m->cm, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_total);
    return 1;
}

static int transfer_gc(lua_State *L)
{
    transfer_release(L, (transfer *)lua_touserdata(L, 1));
    return 0;
}

static int multi_gc(lua_State *L)
{
    multi_release(L, (multi *)lua_touserdata(L, 1));
    return 0;
}

static const luaL_Reg transfer_methods[] = {
    {"result", transfer_result},
    {"cancel", transfer_cancel},
    {"state", transfer_state},
    {"trace", transfer_trace},
    {"close", transfer_close},
    {NULL, NULL}
};

static const luaL_Reg transfer_meta[] = {
    {"__gc", transfer_gc},
    {"__close", transfer_gc},
    {"__tostring", transfer_tostring},
    {NULL, NULL}
};

static const luaL_Reg multi_methods[] = {
    {"add", multi_add},
    {"perform", multi_perform},
    {"next_done", multi_next_done},
    {"wait", multi_wait},
    {"timeout", multi_timeout},
    {"sockets", multi_sockets},
    {"pollfd", multi_pollfd},
    {"arm", multi_arm},
    {"close", multi_close},
    {NULL, NULL}
};

static const luaL_Reg multi_meta[] = {
    {"__gc", multi_gc},
    {"__close", multi_gc},
    {"__tostring", multi_tostring},
    {NULL, NULL}
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *meta,
                      const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    hamsa_setfuncs(L, meta);
    lua_newtable(L);
    hamsa_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

int hamsa_http_open(lua_State *L)
{
    /* reference-counted and thread-safe since libcurl 7.84 */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return luaL_error(L, "curl_global_init failed");

    new_class(L, MULTI_MT, multi_meta, multi_methods);
    new_class(L, TRANSFER_MT, transfer_meta, transfer_methods);
    lua_pushcfunction(L, multi_new);
    lua_setfield(L, -2, "multi");
    push_curl_errors(L);
    lua_setfield(L, -2, "curl_errors");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
    return 0;
}
