/*
 * json.c: the JSON codec of hamsa.core: core.json = { encode, decode, null,
 * array, object, array_mt, object_mt }. SPDX-License-Identifier: MIT
 *
 * RFC 8259 strict both ways: invalid UTF-8, NaN/Inf, comments, trailing
 * commas and the like are refused. Runtime failures come back as
 * `nil, message` (encode) or `nil, message, byte_offset` (decode); only
 * misuse raises. Nothing here calls a metamethod: tables are read raw.
 *
 * Memory: output and scratch bytes live in a block owned by a userdata
 * with a __gc (see Box), so a raise mid-way cannot leak anything.
 */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "hamsa.h"

/* Arrays + objects nested deeper than this are refused both ways; it keeps
 * the C recursion (and the Lua stack) far from their limits. */
#define JSON_MAX_DEPTH 1000
#define JSON_DEPTH_MSG "nesting too deep (limit 1000)"

/* Buffers start at BUF_INIT bytes and double; one up to BUF_RETAIN bytes
 * is kept for the next call, a bigger one is freed (see buf_give). */
#define BUF_INIT 1024
#define BUF_RETAIN (64 * 1024)

/* Helpers with local arrays (messages, number text) stay out of line: the
 * arrays would otherwise sit in every frame of the recursion, 1000 deep at
 * worst. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* The few hot helpers of the encoder's loops that GCC would otherwise
 * keep out of line (each call saved and restored registers). */
#if defined(__GNUC__)
#define HOT_INLINE __inline__ __attribute__((always_inline))
#else
#define HOT_INLINE
#endif

/* Upvalues of the closures (see hamsa_json_open). */
#define UV_ARRAY_MT 1           /* encode, decode */
#define UV_OBJECT_MT 2          /* encode */
#define UV_ENC_BUF 3            /* encode: cached buffer or nil */
#define UV_ENC_PLAIN 4          /* encode: the plain-string cache (PlainCache) */
#define UV_DEC_BUF 2            /* decode: cached buffer or nil */
#define UV_DEC_STRS 3           /* decode: the string cache (see seen_take) or nil */

/* Byte classes shared by the encoder and the decoder: 0 = printable ASCII
 * that needs no escaping, 1 = '"', '\\' or a control byte (this includes
 * the NUL that ends every Lua string, so scans stop there), 2 = non-ASCII
 * (start of a UTF-8 sequence, validated separately). */
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char char_class[256] = {
    R16(1), R16(1),                                     /* 0x00-0x1F */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x20-0x2F: '"' */
    R16(0), R16(0),                                     /* 0x30-0x4F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,     /* 0x50-0x5F: '\\' */
    R16(0), R16(0),                                     /* 0x60-0x7F */
    R16(2), R16(2), R16(2), R16(2),                     /* 0x80-0xBF */
    R16(2), R16(2), R16(2), R16(2)                      /* 0xC0-0xFF */
};
#undef R16

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0
 * for overlong forms, surrogates (U+D800..DFFF), > U+10FFFF, stray
 * continuation bytes and truncation. Reads byte by byte and stops at the
 * first bad one, so the NUL after a Lua string is never passed. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (c == 0xE0)
            lo = 0xA0;                  /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F;                  /* surrogates */
        if (p[1] < lo || p[1] > hi)
            return 0;
        return (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c < 0xF5) {
        if (c == 0xF0)
            lo = 0x90;                  /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F;                  /* above U+10FFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 0;
        return (p[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* Nonzero when one of the 8 bytes in x is >= 0x80, < 0x20, '"' or '\\'
 * (classic SWAR tests; each may flag false positives only above a true
 * hit, so "any hit" and the lowest hit are exact). The usual "& ~v" of
 * each test is left out: it only clears flags of bytes >= 0x80, which
 * `x` itself flags anyway. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Little-endian GCC/Clang: the lowest flagged byte is the first in memory. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SCAN_CTZ 1
#else
#define SCAN_CTZ 0
#endif
static uint64_t word_special(uint64_t x)
{
    return (x | (x - 0x20 * ONES) | ((x ^ (0x22 * ONES)) - ONES)
            | ((x ^ (0x5C * ONES)) - ONES)) & HIGHS;
}

/* Nonzero when the 8 bytes in x (little-endian: the first in memory is
 * the lowest) are 4 whole 2-byte UTF-8 sequences, U+0080..U+07FF: each
 * 16-bit lane a lead 110xxxxx of at least 0xC2 (bits 1-4 not all zero,
 * else overlong), then a continuation 10xxxxxx. Arabic text is mostly
 * such runs: 8 bytes a step instead of 2. */
#if SCAN_CTZ
static int word_utf8_2(uint64_t x)
{
    return (x & 0xC0E0C0E0C0E0C0E0ULL) == 0x80C080C080C080C0ULL
           && (((x & 0x001E001E001E001EULL) + 0x7FFF7FFF7FFF7FFFULL)
               & 0x8000800080008000ULL) == 0x8000800080008000ULL;
}
#endif

/* Skips what a JSON string holds verbatim: class-0 ASCII and well-formed
 * UTF-8, from p up to end (the NUL after a Lua string). Returns the first
 * other byte: '"', '\\', a control byte (possibly the NUL at end) or the
 * start of an invalid UTF-8 sequence. Plain ASCII goes 8 bytes a step. */
static const unsigned char *scan_plain(const unsigned char *p,
                                       const unsigned char *end)
{
    for (;;) {
        const unsigned char *stop;
        while (end - p >= 8) {
            uint64_t w, m;
            memcpy(&w, p, 8);               /* one unaligned load */
            m = word_special(w);
            if (m) {
#if SCAN_CTZ
                /* the lowest flag is a true hit: straight to that byte
                 * (saves re-reading the word byte by byte up to it) */
                p += (unsigned)__builtin_ctzll(m) >> 3;
                if (*p < 0x80)
                    return p;
#endif
                break;
            }
            p += 8;
        }
        /* byte by byte through this word (so non-ASCII text does not pay
         * a failed word test per character), then words again */
        stop = end - p >= 8 ? p + 8 : end;
        do {
            unsigned c = *p;
            if (char_class[c] == 0) {
                p++;
            } else if (c >= 0xC2 && c < 0xE0) {    /* 2 bytes: Arabic, ... */
                if ((p[1] & 0xC0) != 0x80)
                    return p;
                p += 2;
#if SCAN_CTZ
                while (end - p >= 8) {
                    uint64_t w;
                    memcpy(&w, p, 8);
                    if (!word_utf8_2(w))
                        break;
                    p += 8;
                    stop = p + 8 <= end ? p + 8 : end;
                }
#endif
            } else if (c >= 0x80) {
                size_t n = utf8_seq(p);
                if (n == 0)
                    return p;
                p += n;
            } else {
                return p;
            }
        } while (p < stop);
    }
}

/* ---------------------------------------------------------------------
 * Growable byte buffer. Its bytes come straight from the state's
 * allocator (lua_getallocf), not from Lua userdata: growing a 1 MB output
 * through userdata made and dropped 2 MB of garbage per encode, and the
 * GC debt it ran up made the collector walk the value being encoded over
 * and over. The block is owned by a small Box userdata with a __gc, kept
 * on the stack while in use, so a raise at any point (memory error, a
 * finalizer's error) leaves the block to that __gc: nothing leaks.
 */
#define BOX_MT "hamsa.json.buf"

typedef struct Box {
    char *data;                 /* block from the state's allocator, or NULL */
    size_t cap;
    size_t hint;                /* size the last big output reached */
} Box;

typedef struct Buf {
    lua_State *L;
    Box *box;
    char *data;                 /* == box->data, cached */
    size_t len, cap;
    int slot;                   /* stack index of the Box */
    uint64_t *epoch, *counter;  /* encode: see enc_string_at; else NULL */
} Buf;

static void box_free(lua_State *L, Box *box)
{
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    if (box->data)
        f(ud, box->data, box->cap, 0);
    box->data = NULL;
    box->cap = 0;
}

/* __gc of a Box: a buffer dropped by a raise, or one a reentrant call
 * replaced in the upvalue, or the cached one at lua_close. */
static int box_gc(lua_State *L)
{
    Box *box = (Box *)lua_touserdata(L, 1);
    if (box)
        box_free(L, box);
    return 0;
}

/* [-0, +1] Pushes the Box cached in upvalue `uv` (a new one when there is
 * none) and clears the upvalue while we use it. Reusing it spares an
 * allocation and the regrowth of the buffer on every call. Clearing the
 * upvalue makes us reentrant: a __gc finalizer run by one of our Lua
 * allocations may call encode/decode, and then finds no cached Box and
 * makes its own instead of sharing ours. */
static void buf_take(lua_State *L, Buf *b, int uv)
{
    Box *box = (Box *)lua_touserdata(L, lua_upvalueindex(uv));
    if (box) {
        lua_pushvalue(L, lua_upvalueindex(uv));
        lua_pushnil(L);
        lua_replace(L, lua_upvalueindex(uv));
    } else {
        box = (Box *)lua_newuserdatauv(L, sizeof *box, 0);
        box->data = NULL;
        box->cap = box->hint = 0;
        luaL_setmetatable(L, BOX_MT);
    }
    b->L = L;
    b->epoch = b->counter = NULL;
    b->slot = lua_gettop(L);
    b->box = box;
    b->data = box->data;
    b->cap = box->cap;
    b->len = 0;
}

/* [-0, +0] Puts the Box back into upvalue `uv`; a block that grew past
 * BUF_RETAIN is freed, and its size kept as the first size of the next
 * one (a caller encoding big values again spares the doublings). */
static void buf_give(Buf *b, int uv)
{
    Box *box = b->box;
    if (box->cap > BUF_RETAIN) {
        box->hint = b->len + b->len / 8;
        box_free(b->L, box);
    } else {
        box->hint = 0;
    }
    lua_pushvalue(b->L, b->slot);
    lua_replace(b->L, lua_upvalueindex(uv));
}

/* Makes room for n more bytes. Raises "not enough memory" when the
 * allocator fails: the old block stays in the Box, freed by its __gc. */
static void buf_grow(Buf *b, size_t n)
{
    Box *box = b->box;
    size_t cap = b->cap ? b->cap : (box->hint > BUF_INIT ? box->hint : BUF_INIT);
    void *ud;
    lua_Alloc f = lua_getallocf(b->L, &ud);
    char *data;
    while (cap - b->len < n) {
        if (cap > ((size_t)-1) / 4)
            luaL_error(b->L, "json: buffer size overflow");
        cap *= 2;
    }
    data = (char *)f(ud, box->data, box->cap, cap);
    if (data == NULL)
        luaL_error(b->L, "not enough memory");
    box->data = b->data = data;
    box->cap = b->cap = cap;
    /* The collector does not see this block. For a big one, give it a
     * step, as an allocation of that size through Lua would have: it
     * keeps pace with the output, and finalizers get their usual chance
     * to run in the middle of a big encode or decode (Lua 5.1 and 5.2
     * check the GC before the final lua_pushlstring, not after). */
    if (cap > BUF_RETAIN) {
        lua_gc(b->L, LUA_GCSTEP, 0);
        if (b->epoch)                   /* strings may have died: forget */
            *b->epoch = ++*b->counter;
    }
}

#define buf_reserve(b, n) \
    ((b)->cap - (b)->len < (size_t)(n) ? buf_grow((b), (n)) : (void)0)

static void buf_put(Buf *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

#define buf_putc(b, c) (buf_reserve((b), 1), (b)->data[(b)->len++] = (char)(c))

/* ---------------------------------------------------------------------
 * Encoder
 */

/* One table being encoded. The chain of frames is the stack of ancestors:
 * it serves the cycle check and names the path in error messages. */
typedef struct Frame {
    const struct Frame *parent;
    const void *table;          /* lua_topointer of the table */
    lua_Integer index;          /* current element, for arrays */
    int keyslot;                /* stack index of the current key, objects */
} Frame;

typedef struct Enc {
    lua_State *L;
    Buf b;
    int max_depth;              /* JSON_MAX_DEPTH, or the caller's lower limit */
    struct PlainSlot *plain;    /* see enc_string_at */
    uint64_t epoch;
    char msg[256];              /* the error message, once failed */
} Enc;

enum { MARK_NONE, MARK_ARRAY, MARK_OBJECT };

#define PATH_SIZE 160

/* Appends len bytes of s to path (n bytes used so far); a path that does
 * not fit ends in "..." and ignores later parts. */
static void path_put(char *path, size_t *n, const char *s, size_t len)
{
    size_t room;
    if (*n >= PATH_SIZE - 4)            /* already full */
        return;
    room = PATH_SIZE - 4 - *n;          /* keeps room for "...\0" */
    if (len > room) {
        memcpy(path + *n, s, room);
        memcpy(path + PATH_SIZE - 4, "...", 4);
        *n = PATH_SIZE;
        return;
    }
    memcpy(path + *n, s, len);
    *n += len;
    path[*n] = '\0';
}

/* Writes the path of frame f's current element, root first, e.g.
 * "tools.items[2].name" (array indices 1-based, like the Lua tables). */
static void path_build(lua_State *L, const Frame *f, char *path, size_t *n)
{
    char part[32];
    if (f == NULL)
        return;
    path_build(L, f->parent, path, n);
    if (f->keyslot) {
        size_t len;
        const char *k = lua_tolstring(L, f->keyslot, &len);
        if (*n > 0)
            path_put(path, n, ".", 1);
        path_put(path, n, k, len);
    } else {
        int len = snprintf(part, sizeof part, "[%lld]", (long long)f->index);
        path_put(path, n, part, (size_t)len);
    }
}

/* Records "json: <what> at <path of where's current element>"; returns -1
 * so callers can `return enc_fail(...)`. */
static int enc_fail(Enc *e, const Frame *where, const char *what)
{
    char path[PATH_SIZE];
    size_t n = 0;
    path[0] = '\0';
    path_build(e->L, where, path, &n);
    if (path[0])
        snprintf(e->msg, sizeof e->msg, "json: %s at %s", what, path);
    else
        snprintf(e->msg, sizeof e->msg, "json: %s", what);
    return -1;
}

/* Writes the escape of byte c ('"', '\\' or a control byte) at w;
 * returns the end (at most 6 bytes). */
static char *enc_escape(char *w, unsigned c)
{
    static const char hex[] = "0123456789abcdef";
    static const char shortform[32] = {
        0, 0, 0, 0, 0, 0, 0, 0, 'b', 't', 'n', 0, 'f', 'r', 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    };
    w[0] = '\\';
    if (c == '"' || c == '\\') {
        w[1] = (char)c;
        return w + 2;
    }
    if (shortform[c]) {
        w[1] = shortform[c];
        return w + 2;
    }
    w[1] = 'u';
    w[2] = '0';
    w[3] = '0';
    w[4] = hex[c >> 4];
    w[5] = hex[c & 15];
    return w + 6;
}

/* Room enc_string keeps ahead of its writes: 8-byte stores may run up to
 * 7 bytes past the text they carry (overwritten later, or past len). */
#define ENC_SLACK 8

/* Appends s (len bytes) as a JSON string, copying while it checks: plain
 * ASCII goes one 8-byte load + store a step (no memcpy call per run, no
 * second pass), and the last 1-7 bytes of a string of 8 or more are one
 * load of its last 8 bytes. The room for the verbatim case is reserved
 * once; an escape (at most 6 bytes for 1) reserves again. -1 on invalid
 * UTF-8. */
static int enc_string(Buf *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *stop;
    char *w;
    buf_reserve(b, len + 2 + ENC_SLACK);
    w = b->data + b->len;
    *w++ = '"';
    for (;;) {
        uint64_t x, m;
        while (end - p >= 8) {
            memcpy(&x, p, 8);
            m = word_special(x);
            memcpy(w, &x, 8);
            if (m) {
#if SCAN_CTZ
                unsigned k = (unsigned)__builtin_ctzll(m) >> 3;
                p += k;
                w += k;
#endif
                break;
            }
            p += 8;
            w += 8;
        }
#if SCAN_CTZ
        if (p < end && end - p < 8 && len >= 8) {
            /* the tail, from the string's last 8 bytes (shifted so the
             * ones before p, already written, drop out) */
            unsigned done = 8 - (unsigned)(end - p);
            memcpy(&x, end - 8, 8);
            m = word_special(x) >> (8 * done);
            if (m == 0) {
                x >>= 8 * done;
                memcpy(w, &x, 8);
                w += end - p;
                break;
            }
        }
#endif
        if (p == end)
            break;
        /* byte by byte through this word (so non-ASCII text does not pay
         * a failed word test per character), then words again */
        stop = end - p >= 8 ? p + 8 : end;
        do {
            unsigned c = *p;
            if (char_class[c] == 0) {
                *w++ = (char)c;
                p++;
            } else if (c >= 0xC2 && c < 0xE0 && (p[1] & 0xC0) == 0x80) {
                w[0] = (char)c;         /* 2 bytes: Arabic, ... */
                w[1] = (char)p[1];
                w += 2;
                p += 2;
#if SCAN_CTZ
                while (end - p >= 8) {  /* more of them: see word_utf8_2 */
                    memcpy(&x, p, 8);
                    if (!word_utf8_2(x))
                        break;
                    memcpy(w, &x, 8);
                    p += 8;
                    w += 8;
                    stop = p + 8 <= end ? p + 8 : end;
                }
#endif
            } else if (c >= 0x80) {
                size_t n = utf8_seq(p);
                if (n == 0)
                    return -1;
                w[0] = (char)c;         /* never read past the sequence: */
                w[1] = (char)p[1];      /* it may end the string */
                w[2] = (char)p[2];
                if (n == 4)
                    w[3] = (char)p[3];
                w += n;
                p += n;
            } else {
                b->len = (size_t)(w - b->data);
                buf_reserve(b, 6 + (size_t)(end - p) + 1 + ENC_SLACK);
                w = enc_escape(b->data + b->len, c);
                p++;
            }
        } while (p < stop);
    }
    *w++ = '"';
    b->len = (size_t)(w - b->data);
    return 0;
}

/* A cache of the short strings an encode met that need no escaping, by
 * the address of their bytes: keys come back in every object of a list,
 * and a hit is one copy, with no scan. It holds no reference: an entry is
 * good only within the call and epoch that made it (a number no other
 * call has), while every string it names is reachable from the value
 * being encoded. Nothing can change that value or free a string but Lua
 * code or a collection, and the only chance for either in the middle of
 * an encode is buf_grow's GC step, which moves to a new epoch. So no
 * string outlives its call in here (the module keeps no copy of what it
 * encoded, secrets included), and no address is ever stale. Each string
 * may sit in either of two slots (see dec_push_short). Within the first
 * ENC_CACHE_FROM bytes of output it is not used: in a single object,
 * strings rarely repeat and the misses would only add cost. */
#define PLAIN_SLOTS 512                 /* a power of 2 */
#define PLAIN_MAXLEN 40

#define ENC_CACHE_FROM (4 * 1024)       /* output bytes before it is used */

typedef struct PlainSlot {
    const char *s;
    uint64_t epoch;                     /* of the entry: see above */
} PlainSlot;

typedef struct PlainCache {
    uint64_t counter;                   /* the last epoch handed out */
    PlainSlot slot[PLAIN_SLOTS];
} PlainCache;

/* Appends the len bytes at s (1 <= len <= PLAIN_MAXLEN, no escapes) in
 * quotes: a few overlapping loads and stores, no memcpy call, and no
 * read outside s[0..len). */
static HOT_INLINE void put_quoted_short(Buf *b, const char *s, size_t len)
{
    char *w;
    buf_reserve(b, len + 2);
    w = b->data + b->len;
    w[0] = '"';
    if (len >= 8) {
        uint64_t x;
        size_t k;
        for (k = 0; k + 8 < len; k += 8) {
            memcpy(&x, s + k, 8);
            memcpy(w + 1 + k, &x, 8);
        }
        memcpy(&x, s + len - 8, 8);
        memcpy(w + 1 + len - 8, &x, 8);
    } else if (len >= 4) {
        uint32_t x;
        memcpy(&x, s, 4);
        memcpy(w + 1, &x, 4);
        memcpy(&x, s + len - 4, 4);
        memcpy(w + 1 + len - 4, &x, 4);
    } else {                            /* 0, len/2 and len-1 cover 1..3 */
        w[1] = s[0];
        w[1 + len / 2] = s[len / 2];
        w[len] = s[len - 1];
    }
    w[len + 1] = '"';
    b->len += len + 2;
}

/* The common string: 1 to PLAIN_MAXLEN bytes of ASCII needing no escape.
 * Checks and copies it in one pass of overlapping 8-byte (or 4-byte)
 * loads and stores, inlined: no call, no loop per byte. Returns 0 when
 * it is not such a string; then the bytes it wrote past b->len are
 * garbage, which enc_string overwrites. */
static HOT_INLINE int put_if_plain(Buf *b, const char *s, size_t len)
{
    uint64_t m, x;
    char *w;
    if (len - 1 >= PLAIN_MAXLEN)
        return 0;
    buf_reserve(b, len + 2);
    w = b->data + b->len;
    if (len >= 8) {
        size_t k;
        m = 0;
        for (k = 0; k + 8 < len; k += 8) {
            memcpy(&x, s + k, 8);
            m |= word_special(x);
            memcpy(w + 1 + k, &x, 8);
        }
        memcpy(&x, s + len - 8, 8);
        m |= word_special(x);
        memcpy(w + 1 + len - 8, &x, 8);
    } else if (len >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + len - 4, 4);
        m = word_special((uint64_t)hi << 32 | lo);
        memcpy(w + 1, &lo, 4);
        memcpy(w + 1 + len - 4, &hi, 4);
    } else {                            /* 0, len/2 and len-1 cover 1..3 */
        unsigned char c0 = (unsigned char)s[0], c1 = (unsigned char)s[len / 2],
                      c2 = (unsigned char)s[len - 1];
        m = (uint64_t)(char_class[c0] | char_class[c1] | char_class[c2]);
        w[1] = (char)c0;
        w[1 + len / 2] = (char)c1;
        w[len] = (char)c2;
    }
    if (m)
        return 0;
    w[0] = '"';
    w[len + 1] = '"';
    b->len += len + 2;
    return 1;
}

#define PLAIN_HASH(s) ((uint64_t)(uintptr_t)(s) * 0x9E3779B97F4A7C15ULL)
#define PLAIN_SLOT_A(h) ((unsigned)((h) >> 50) & (PLAIN_SLOTS - 1))
#define PLAIN_SLOT_B(h) ((unsigned)((h) >> 36) & (PLAIN_SLOTS - 1))

/* enc_string_at when the string is not cached: through enc_string, and
 * then cached when it needed no escape. */
static NOINLINE int enc_string_miss(Enc *e, const char *s, size_t len)
{
    uint64_t h = PLAIN_HASH(s);
    PlainSlot *a = &e->plain[PLAIN_SLOT_A(h)];
    size_t before = e->b.len;
    if (enc_string(&e->b, s, len) < 0)
        return -1;
    if (len - 1 >= PLAIN_MAXLEN || e->b.len - before != len + 2)
        return 0;                       /* long or empty, or had escapes */
    if (a->epoch == e->epoch)           /* first slot taken: the second */
        a = &e->plain[PLAIN_SLOT_B(h)];
    a->s = s;
    a->epoch = e->epoch;
    return 0;
}

/* The string whose bytes are s[0..len) as a JSON string: from the cache
 * when it is there (the same address in this epoch is the same live
 * string, so the same bytes), else through enc_string_miss. -1 on
 * invalid UTF-8. Inlined: the hit is the common case. */
static HOT_INLINE int enc_string_at(Enc *e, const char *s, size_t len)
{
    if (put_if_plain(&e->b, s, len))
        return 0;
    if (e->b.len < ENC_CACHE_FROM)      /* small output: few repeats */
        return enc_string(&e->b, s, len);
    if (len - 1 < PLAIN_MAXLEN) {
        uint64_t h = PLAIN_HASH(s);
        const PlainSlot *a = &e->plain[PLAIN_SLOT_A(h)], *b = &e->plain[PLAIN_SLOT_B(h)];
        if ((a->s == s && a->epoch == e->epoch) || (b->s == s && b->epoch == e->epoch)) {
            put_quoted_short(&e->b, s, len);
            return 0;
        }
    }
    return enc_string_miss(e, s, len);
}

static void enc_integer(Buf *b, long long v)
{
    char tmp[24], *q = tmp + sizeof tmp;
    /* via unsigned, so that the negation of LLONG_MIN is defined */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    buf_put(b, q, (size_t)(tmp + sizeof tmp - q));
}

/* Fast path of enc_double for short decimals (0.7, 12.25, 0.875): finds
 * the fewest decimals k such that d == m / 10^k for an integer m below
 * 1e15. Both m and 10^k are exact doubles and IEEE division rounds
 * correctly, so that test is exactly "strtod of the decimal gives d back",
 * and with at most 15 significant digits the text is the very one %.15g
 * would print (for 1e-4 <= |d|, where %g uses no exponent). It spares
 * snprintf + strtod. Returns 0 when d is not such a number. */
static int enc_decimal(Buf *b, double d)
{
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                  1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14 };
    double a = fabs(d), t;
    char tmp[40], *q = tmp + sizeof tmp;
    long long m;
    int k, i;
    if (a < 1e-4)
        return 0;
    for (k = 1; k < 15; k++) {
        t = a * p10[k];
        if (t >= 1e15)
            return 0;
        m = (long long)(t + 0.5);
        if ((double)m / p10[k] == a)
            break;
    }
    if (k == 15)
        return 0;
    for (i = 0; i < k; i++) {           /* the k decimals, right to left */
        *--q = (char)('0' + m % 10);
        m /= 10;
    }
    *--q = '.';
    do {
        *--q = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (d < 0)
        *--q = '-';
    buf_put(b, q, (size_t)(tmp + sizeof tmp - q));
    return 1;
}

/* Floats: integral values below 1e15 print without a fraction, like
 * JavaScript (800.0 -> "800", -0.0 -> "-0"); others in the shortest of
 * %.15g, %.16g, %.17g that strtod reads back to the same double. Where
 * every number is a double (Lua 5.1, 5.2, LuaJIT), every exact integer,
 * up to 2^53 in magnitude, prints as digits, so such integers round-trip. */
#if HAMSA_HAS_INTEGERS
#define ENC_AS_DIGITS(d) (fabs(d) < 1e15)
#else
#define ENC_AS_DIGITS(d) (fabs(d) <= 9007199254740992.0)
#endif
static NOINLINE int enc_double(Enc *e, double d, const Frame *where)
{
    char tmp[40], *r, *w;
    int prec;
    if (d != d)
        return enc_fail(e, where, "cannot encode NaN");
    if (d - d != 0)
        return enc_fail(e, where, "cannot encode infinity");
    if (ENC_AS_DIGITS(d) && d == (double)(long long)d) {
        if (d == 0 && signbit(d))
            buf_put(&e->b, "-0", 2);
        else
            enc_integer(&e->b, (long long)d);
        return 0;
    }
    if (enc_decimal(&e->b, d))
        return 0;
    for (prec = 15; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (prec == 17)
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    /* snprintf and strtod agree on the C locale's decimal point; JSON
     * wants '.', so whatever is not digit/sign/exponent becomes one '.'. */
    for (r = w = tmp; *r; r++) {
        if ((*r >= '0' && *r <= '9') || *r == '-' || *r == '+' || *r == 'e')
            *w++ = *r;
        else if (w == tmp || w[-1] != '.')
            *w++ = '.';
    }
    buf_put(&e->b, tmp, (size_t)(w - tmp));
    return 0;
}


/* "cannot encode <type of the value at idx>" */
static NOINLINE int enc_typeerror(Enc *e, int idx, const Frame *where)
{
    char what[64];
    snprintf(what, sizeof what, "cannot encode %s",
             lua_typename(e->L, lua_type(e->L, idx)));
    return enc_fail(e, where, what);
}

/* The error for the key at -2 of a table being encoded as an object. */
static NOINLINE int enc_keyerror(Enc *e, const Frame *where, int kind)
{
    lua_State *L = e->L;
    char what[80];
    int t = lua_type(L, -2);
#if HAMSA_HAS_INTEGERS
    if (t == LUA_TNUMBER && lua_isinteger(L, -2) && kind != MARK_OBJECT)
#else
    if (t == LUA_TNUMBER && kind != MARK_OBJECT)
#endif
        return enc_fail(e, where, "cannot encode table mixing integer and string keys");
    snprintf(what, sizeof what, "cannot encode %s key (JSON keys must be strings)",
             lua_typename(L, t));
    return enc_fail(e, where, what);
}

/* Values other than strings and tables: numbers, booleans, null, and
 * the type errors. Out of line: enc_value, inlined in the loops, stays
 * small. */
static NOINLINE int enc_other(Enc *e, int idx, int type, const Frame *parent)
{
    lua_State *L = e->L;
    switch (type) {
    case LUA_TNUMBER:
#if HAMSA_HAS_INTEGERS
        if (lua_isinteger(L, idx)) {
            enc_integer(&e->b, (long long)lua_tointeger(L, idx));
            return 0;
        }
#endif
        return enc_double(e, (double)lua_tonumber(L, idx), parent);
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            buf_put(&e->b, "true", 4);
        else
            buf_put(&e->b, "false", 5);
        return 0;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL)     /* NULL is json.null */
            break;
        buf_put(&e->b, "null", 4);
        return 0;
    case LUA_TNIL:
        buf_put(&e->b, "null", 4);
        return 0;
    default:
        break;
    }
    return enc_typeerror(e, idx, parent);
}

static NOINLINE int enc_table(Enc *e, int idx, const Frame *parent, int depth, int shape);

/* Array places (json.encode's `shape`): the places of a body where an
 * empty table without a metatable goes out as `[]` rather than `{}`. A
 * shape is a table read raw: at an object, the shape of the value under
 * key k is shape[k], else shape["*"]; at an array-marked table, each
 * element's is shape["[]"] (at a plain sequence, shape["*"], as for any
 * plain table's keys); `true` marks an array place. hamsa.prepare names them per
 * route (an agent's pokeMessages, the days of freeSlots, ...): doing it
 * here costs a table read per key in this walk, where marking them in Lua
 * was a walk of its own, and copies, on every request.
 * In the walk a shape is 0 (none), SHAPE_ARRAY (true) or the stack index
 * of its table. */
#define SHAPE_ARRAY (-1)

/* Pushes the shape under `key` (a literal) or under the key at `kidx`
 * (when kidx > 0) in the shape table at `shape`, falling back to "*" for
 * a key; returns what the walk passes on. Leaves one slot pushed. */
static int shape_child(lua_State *L, int shape, int kidx, const char *key)
{
    int t;
    if (kidx > 0) {
        lua_pushvalue(L, kidx);
        lua_rawget(L, shape);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushliteral(L, "*");
            lua_rawget(L, shape);
        }
    } else {
        lua_pushstring(L, key);
        lua_rawget(L, shape);
    }
    t = lua_type(L, -1);
    if (t == LUA_TTABLE) return lua_gettop(L);
    return t == LUA_TBOOLEAN && lua_toboolean(L, -1) ? SHAPE_ARRAY : 0;
}

/* The names of a shape table, read once per object encoded under it: a
 * key of the object is looked up in the shape only when it is one of them
 * (or when the shape has a table under "*"). Names are compared by
 * address: strings of up to 40 bytes are interned by every Lua the core
 * builds for (one object per content), and the shape table keeps its own
 * alive. A shape with more or longer names is looked up key by key. */
#define SHAPE_NAMES_MAX 16
#define SHAPE_SHORT 40

typedef struct {
    const char *name[SHAPE_NAMES_MAX];
    int n;
    int star;           /* shape["*"]: 0 none, SHAPE_ARRAY, or 1 a table */
    int every_key;      /* too many or too long names: look every key up */
} ShapeNames;

static void shape_names(lua_State *L, int shape, ShapeNames *sn)
{
    sn->n = 0;
    sn->star = 0;
    sn->every_key = 0;
    lua_pushnil(L);
    while (lua_next(L, shape)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t len;
            const char *k = lua_tolstring(L, -2, &len);
            if (len == 1 && k[0] == '*')
                sn->star = lua_type(L, -1) == LUA_TTABLE ? 1 : lua_toboolean(L, -1) ? SHAPE_ARRAY : 0;
            else if (len > SHAPE_SHORT || sn->n == SHAPE_NAMES_MAX)
                sn->every_key = 1;
            else
                sn->name[sn->n++] = k;
        }
        lua_pop(L, 1);
    }
}

/* The value at idx, the current element of `parent` (NULL at the top).
 * Inlined into the loops of enc_array and enc_object: a call per string
 * was a good part of the cost; the recursion goes through enc_table. */
static HOT_INLINE int enc_value(Enc *e, int idx, const Frame *parent, int depth, int shape)
{
    lua_State *L = e->L;
    int type = lua_type(L, idx);
    if (type == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (enc_string_at(e, s, len) < 0)
            return enc_fail(e, parent, "cannot encode string with invalid UTF-8");
        return 0;
    }
    if (type == LUA_TTABLE)
        return enc_table(e, idx, parent, depth + 1, shape);
    return enc_other(e, idx, type, parent);
}

/* Table at idx whose first key/value are at -2/-1: checks that the keys
 * are exactly the integers 1..n (popping the traversal) and returns n, or
 * -1 after recording the error. */
static lua_Integer enc_arraylen(Enc *e, int idx, const Frame *where)
{
    lua_State *L = e->L;
    lua_Integer n = 0, max = 0, k;
    do {
        int t = lua_type(L, -2);
        if (t == LUA_TSTRING)
            return enc_fail(e, where,
                            "cannot encode table mixing integer and string keys");
        if (t != LUA_TNUMBER)
            return enc_keyerror(e, where, MARK_NONE);
#if HAMSA_HAS_INTEGERS
        if (!lua_isinteger(L, -2))
            return enc_fail(e, where, "cannot encode non-integer number key");
        k = lua_tointeger(L, -2);
#else
        {
            lua_Number x = lua_tonumber(L, -2);
            if (!(x > -9.2e18 && x < 9.2e18) || x != (lua_Number)(long long)x)
                return enc_fail(e, where, "cannot encode non-integer number key");
            k = (lua_Integer)x;
        }
#endif
        if (k < 1)
            return enc_fail(e, where, "cannot encode sparse array (keys must be 1..n)");
        if (k > max)
            max = k;
        n++;
        lua_pop(L, 1);
    } while (lua_next(L, idx));
    if (max != n)
        return enc_fail(e, where, "cannot encode sparse array (keys must be 1..n)");
    return n;
}

/* Elements 1..n of the table at idx; nil elements (holes in a marked
 * array) become null. */
static int enc_array(Enc *e, int idx, Frame *f, lua_Integer n, int depth, int shape, int marked)
{
    lua_State *L = e->L;
    lua_Integer i;
    /* an array-marked table's elements take shape["[]"]; a plain sequence's,
     * like any plain table's keys, shape["*"] */
    int top, child = shape > 0 ? shape_child(L, shape, 0, marked ? "[]" : "*") : 0;
    top = lua_gettop(L) + 1;                /* where each element lands */
    buf_putc(&e->b, '[');
    for (i = 1; i <= n; i++) {
        if (i > 1)
            buf_putc(&e->b, ',');
        lua_rawgeti(L, idx, i);
        f->index = i;
        if (enc_value(e, top, f, depth, child) < 0)
            return -1;
        lua_pop(L, 1);
    }
    if (shape > 0)
        lua_pop(L, 1);                      /* the elements' shape */
    buf_putc(&e->b, ']');
    return 0;
}

/* The table at idx as an object; its first key/value are at -2/-1 and the
 * traversal continues from there. */
static int enc_object(Enc *e, int idx, Frame *f, int depth, int kind, int shape)
{
    lua_State *L = e->L;
    int first = 1, top = lua_gettop(L);     /* key at top-1, value at top */
    ShapeNames sn = {{NULL}, 0, 0, 0};
    if (shape > 0)
        shape_names(L, shape, &sn);
    buf_putc(&e->b, '{');
    do {
        size_t klen;
        const char *k;
        if (lua_type(L, -2) != LUA_TSTRING)
            return enc_keyerror(e, f->parent, kind);
        k = lua_tolstring(L, -2, &klen);
        if (!first)
            buf_putc(&e->b, ',');
        first = 0;
        if (enc_string_at(e, k, klen) < 0)
            return enc_fail(e, f->parent, "cannot encode object key with invalid UTF-8");
        buf_putc(&e->b, ':');
        f->keyslot = top - 1;
        if (shape > 0) {
            int j = 0, child;
            if (!sn.every_key)
                for (j = 0; j < sn.n && sn.name[j] != k; j++) {}
            if (sn.every_key || j < sn.n || sn.star == 1) {
                /* a name of the shape (or any key, if it has too many):
                 * shape[k] or shape["*"]; any other key: shape["*"] */
                child = sn.every_key || j < sn.n ? shape_child(L, shape, top - 1, NULL)
                                                 : shape_child(L, shape, 0, "*");
                if (enc_value(e, top, f, depth, child) < 0)
                    return -1;
                lua_pop(L, 1);              /* the value's shape */
            } else if (enc_value(e, top, f, depth, sn.star) < 0) {
                return -1;
            }
        } else if (enc_value(e, top, f, depth, 0) < 0) {
            return -1;
        }
        lua_pop(L, 1);
    } while (lua_next(L, idx));
    buf_putc(&e->b, '}');
    return 0;
}

#define ENC_STACK_LEVELS 8

/* "cannot encode: nesting too deep (limit N)" */
static NOINLINE int enc_depth_fail(Enc *e, const Frame *where)
{
    char what[64];
    snprintf(what, sizeof what, "cannot encode: nesting too deep (limit %d)", e->max_depth);
    return enc_fail(e, where, what);
}

/* The table at idx, found as the current element of `parent`. Marked
 * tables go straight to their form; unmarked ones are arrays when their
 * keys are exactly 1..n, objects when all keys are strings, `{}` empty. */
static NOINLINE int enc_table(Enc *e, int idx, const Frame *parent, int depth, int shape)
{
    lua_State *L = e->L;
    const Frame *a;
    Frame f;
    int kind = MARK_NONE;
    f.parent = parent;
    f.table = lua_topointer(L, idx);
    f.index = 0;
    f.keyslot = 0;
    if (depth > e->max_depth)
        return enc_depth_fail(e, parent);
    for (a = parent; a; a = a->parent)  /* cheap: payloads are shallow */
        if (a->table == f.table)
            return enc_fail(e, parent, "cannot encode cycle (table contains itself)");
    /* Each level keeps at most 3 slots (key, value, the value's shape)
     * plus 2 in passing;
     * room for ENC_STACK_LEVELS levels at once spares a call per table. */
    if (depth % ENC_STACK_LEVELS == 1 && !lua_checkstack(L, 3 * ENC_STACK_LEVELS + 4))
        return enc_fail(e, parent, "cannot encode: out of Lua stack");
    if (lua_getmetatable(L, idx)) {
        if (lua_rawequal(L, -1, lua_upvalueindex(UV_ARRAY_MT)))
            kind = MARK_ARRAY;
        else if (lua_rawequal(L, -1, lua_upvalueindex(UV_OBJECT_MT)))
            kind = MARK_OBJECT;
        lua_pop(L, 1);
    }
    if (kind == MARK_ARRAY)
        return enc_array(e, idx, &f, (lua_Integer)lua_rawlen(L, idx), depth, shape, 1);
    lua_pushnil(L);
    if (!lua_next(L, idx)) {
        /* an empty plain table at an array place is an empty array */
        if (shape == SHAPE_ARRAY && kind == MARK_NONE && !lua_getmetatable(L, idx))
            buf_put(&e->b, "[]", 2);
        else
            buf_put(&e->b, "{}", 2);
        return 0;
    }
    if (kind == MARK_OBJECT || lua_type(L, -2) == LUA_TSTRING)
        return enc_object(e, idx, &f, depth, kind, shape);
    {
        lua_Integer n = enc_arraylen(e, idx, parent);
        return n < 0 ? -1 : enc_array(e, idx, &f, n, depth, shape, 0);
    }
}

/* json.encode(v [, max_depth [, shape]]) -> string | nil, message
 * max_depth (1..1000, default 1000) lowers the nesting limit: a caller
 * that caps its payloads gets the cap checked in this one walk. shape
 * names array places (see SHAPE_ARRAY). */
static int json_encode(lua_State *L)
{
    Enc e;
    PlainCache *pc;
    /* a number, not luaL_optinteger: 5.1 and LuaJIT would truncate 1.5 */
    lua_Number max_depth = luaL_optnumber(L, 2, JSON_MAX_DEPTH);
    luaL_checkany(L, 1);
    int shape = 0;
    luaL_argcheck(L, max_depth >= 1 && max_depth == floor(max_depth), 2,
                  "max_depth must be an integer >= 1");
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        shape = 3;
    }
    lua_settop(L, 3);
    e.L = L;
    e.max_depth = max_depth < JSON_MAX_DEPTH ? (int)max_depth : JSON_MAX_DEPTH;
    pc = (PlainCache *)lua_touserdata(L, lua_upvalueindex(UV_ENC_PLAIN));
    e.plain = pc->slot;
    e.epoch = ++pc->counter;            /* 64 bits: never wraps */
    buf_take(L, &e.b, UV_ENC_BUF);     /* slot 4 */
    e.b.epoch = &e.epoch;
    e.b.counter = &pc->counter;
    if (enc_value(&e, 1, NULL, 0, shape) < 0) {
        buf_give(&e.b, UV_ENC_BUF);
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushlstring(L, e.b.data, e.b.len);
    buf_give(&e.b, UV_ENC_BUF);
    return 1;
}

/* ---------------------------------------------------------------------
 * Decoder. Every dec_* function returns 0 with one value pushed, or -1
 * after recording the first error (what + where); the callers unwind and
 * json_decode turns it into nil, message, offset. The input is a Lua
 * string, so a NUL always follows its last byte: scans stop there without
 * bounds checks, and a NUL before `end` is just an invalid byte.
 */
typedef struct Dec {
    lua_State *L;
    const unsigned char *p;             /* next byte to read */
    const unsigned char *start, *end;
    Buf b;                              /* scratch: escaped strings, long numbers */
    const char *what;                   /* error, NULL while fine */
    const unsigned char *errpos;
    int found;                          /* message names the byte at errpos */
    struct Seen *seen;                  /* the string cache, or NULL */
    int strs;                           /* stack index of its table */
} Dec;

static int dec_fail(Dec *d, const unsigned char *at, const char *what)
{
    d->what = what;
    d->errpos = at;
    d->found = 0;
    return -1;
}

/* Like dec_fail, and the message adds "but found <the byte at `at`>". */
static int dec_expect(Dec *d, const unsigned char *at, const char *what)
{
    dec_fail(d, at, what);
    d->found = 1;
    return -1;
}

static const unsigned char *skip_ws(const unsigned char *p)
{
    if (*p > ' ')                       /* compact JSON: no whitespace */
        return p;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static int dec_value(Dec *d, int depth);

static long hex4(const unsigned char *p)
{
    long v = 0;
    int i;
    for (i = 0; i < 4; i++) {       /* stops at the first non-hex (or NUL) */
        unsigned c = p[i];
        if (c >= '0' && c <= '9')
            c -= '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            c = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + (long)c;
    }
    return v;
}

/* The error for the byte at p that stopped a string's plain run and is
 * neither its closing quote nor a backslash. */
static int dec_string_fail(Dec *d, const unsigned char *p)
{
    if (*p >= 0x80)
        return dec_fail(d, p, "invalid UTF-8 in string");
    if (p == d->end)
        return dec_fail(d, p, "unterminated string");
    return dec_fail(d, p, "control character in string");
}

/* The \uXXXX escape at p (a backslash), with the \uXXXX of its low half
 * when it is a high surrogate: stores the code point in *cp and returns
 * the escape's length (6 or 12), or -1 after recording the error.
 * A lone surrogate escape (\uD800 without its pair, or a stray \uDC00) is
 * rejected: it has no UTF-8 form, and the encoder refuses the 3-byte
 * pseudo-UTF-8 it would become, so accepting it would break round trips. */
static int dec_u_escape(Dec *d, const unsigned char *p, unsigned long *cp)
{
    long hi = hex4(p + 2), lo;
    if (hi < 0)
        return dec_fail(d, p, "invalid \\u escape in string");
    if (hi < 0xD800 || hi > 0xDFFF) {
        *cp = (unsigned long)hi;
        return 6;
    }
    if (hi >= 0xDC00 || p[6] != '\\' || p[7] != 'u'
        || (lo = hex4(p + 8)) < 0xDC00 || lo > 0xDFFF)
        return dec_fail(d, p, "lone surrogate in \\u escape");
    *cp = 0x10000 + (((unsigned long)hi - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
    return 12;
}

/* Appends code point cp (at most U+10FFFF, not a surrogate) as UTF-8. */
static void buf_put_utf8(Buf *b, unsigned long cp)
{
    char *w;
    buf_reserve(b, 4);
    w = b->data + b->len;
    if (cp < 0x80) {
        w[0] = (char)cp;
        b->len += 1;
    } else if (cp < 0x800) {
        w[0] = (char)(0xC0 | (cp >> 6));
        w[1] = (char)(0x80 | (cp & 0x3F));
        b->len += 2;
    } else if (cp < 0x10000) {
        w[0] = (char)(0xE0 | (cp >> 12));
        w[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        w[2] = (char)(0x80 | (cp & 0x3F));
        b->len += 3;
    } else {
        w[0] = (char)(0xF0 | (cp >> 18));
        w[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        w[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        w[3] = (char)(0x80 | (cp & 0x3F));
        b->len += 4;
    }
}

/* Rest of a string that holds escapes, decoded into the scratch buffer:
 * start is after the opening quote, p at the first backslash. Plain runs
 * go through scan_plain as in dec_string; dec_u_escape and buf_put_utf8
 * run once per \u escape, never per byte (and, called from here only,
 * get inlined). */
static int dec_string_escaped(Dec *d, const unsigned char *start,
                              const unsigned char *p)
{
    Buf *b = &d->b;
    b->len = 0;
    buf_reserve(b, (size_t)(p - start) + 8);   /* never memcpy to NULL */
    buf_put(b, start, (size_t)(p - start));
    for (;;) {
        const unsigned char *q = scan_plain(p, d->end);
        unsigned long cp;
        int n;
        if (q > p)
            buf_put(b, p, (size_t)(q - p));
        p = q;
        if (*p == '"')
            break;
        if (*p != '\\')
            return dec_string_fail(d, p);
        switch (p[1]) {
        case '"': case '\\': case '/':
            buf_putc(b, p[1]); p += 2; continue;
        case 'b': buf_putc(b, '\b'); p += 2; continue;
        case 'f': buf_putc(b, '\f'); p += 2; continue;
        case 'n': buf_putc(b, '\n'); p += 2; continue;
        case 'r': buf_putc(b, '\r'); p += 2; continue;
        case 't': buf_putc(b, '\t'); p += 2; continue;
        case 'u':
            break;
        default:
            return dec_fail(d, p, "invalid escape in string");
        }
        n = dec_u_escape(d, p, &cp);
        if (n < 0)
            return -1;
        buf_put_utf8(b, cp);
        p += n;
    }
    lua_pushlstring(d->L, b->data, b->len);
    d->p = p + 1;
    return 0;
}

/* A cache of the short strings one decode pushed, so that the keys of an
 * object list, and its repeated short values, skip lua_pushlstring:
 * hashing the bytes and finding the interned string was the biggest cost
 * of decoding a list. Slot i (0-based) of the Seen userdata holds the
 * bytes, as words, of the string at index i + 1 of the strings table,
 * which keeps it alive. The table (Seen at index SEEN_SLOTS + 1) is taken
 * from its upvalue for the call and emptied before it goes back (see
 * seen_take, seen_give): no decoded string outlives its call in the
 * module, secrets included. Inputs below DEC_CACHE_MIN bytes do without:
 * the cache pays off only when strings repeat. */
#define DEC_CACHE_MIN (8 * 1024)
#define SEEN_SLOTS 512                  /* a power of 2 */
#define SEEN_WORDS 5
#define SEEN_MAXLEN 40                  /* Lua 5.4's short strings: interned */

typedef struct SeenSlot {
    uint64_t w[SEEN_WORDS];             /* see seen_key */
    size_t len;                         /* 0: empty slot */
} SeenSlot;

typedef struct Seen {
    int nused;                          /* slots filled in this call: */
    unsigned short used[SEEN_SLOTS];    /* which, to empty them after */
    SeenSlot slot[SEEN_SLOTS];
} Seen;

/* The n bytes at p (1 <= n <= SEEN_MAXLEN) as SEEN_WORDS words, which
 * with n determine them all: below 8 bytes, packed into w[0]; else the
 * words at 0, 8, 16, 24 that end before the last 8 bytes, and those last
 * 8 bytes (overlapping). Comparing these spares a memcmp call. Returns
 * a hash: its top bits and the bits below them give the two slots where
 * the string may be (with one slot per string, the ~10% of a list's
 * strings that share a slot with another pushed each other out on every
 * element). */
static uint64_t seen_key(const unsigned char *p, size_t n, uint64_t w[SEEN_WORDS])
{
    uint64_t h;
    if (n >= 8) {
        memcpy(&w[0], p, 8);
        memcpy(&w[4], p + n - 8, 8);
        w[1] = w[2] = w[3] = 0;
        if (n > 16)
            memcpy(&w[1], p + 8, 8);
        if (n > 24)
            memcpy(&w[2], p + 16, 8);
        if (n > 32)
            memcpy(&w[3], p + 24, 8);
    } else {
        /* the first and last 4 bytes (they overlap below 8), or for 1-3
         * bytes those at 0, n/2 and n-1: all of them either way */
        uint32_t lo = 0, hi = 0;
        if (n >= 4) {
            memcpy(&lo, p, 4);
            memcpy(&hi, p + n - 4, 4);
        } else {
            lo = (uint32_t)p[0] | (uint32_t)p[n / 2] << 8 | (uint32_t)p[n - 1] << 16;
        }
        w[0] = (uint64_t)hi << 32 | lo;
        w[1] = w[2] = w[3] = w[4] = 0;
    }
    h = (w[0] ^ (w[SEEN_WORDS - 1] * 0x9E3779B97F4A7C15ULL) ^ w[1] ^ n)
        * 0xFF51AFD7ED558CCDULL;
    return h;
}

#define SEEN_SLOT_A(h) ((unsigned)((h) >> 50) & (SEEN_SLOTS - 1))
#define SEEN_SLOT_B(h) ((unsigned)((h) >> 36) & (SEEN_SLOTS - 1))

static int seen_match(const SeenSlot *e, const uint64_t w[SEEN_WORDS], size_t n)
{
    return e->len == n && e->w[0] == w[0] && e->w[4] == w[4] && e->w[1] == w[1]
           && e->w[2] == w[2] && e->w[3] == w[3];
}

/* Pushes the n bytes at p as a string, from the cache when it holds
 * them, else with lua_pushlstring (and then keeps the new string). */
static void dec_push_short(lua_State *L, Seen *seen, int strs,
                           const unsigned char *p, size_t n)
{
    uint64_t w[SEEN_WORDS], h = seen_key(p, n, w);
    SeenSlot *e = &seen->slot[SEEN_SLOT_A(h)];
    if (!seen_match(e, w, n)) {
        SeenSlot *b = &seen->slot[SEEN_SLOT_B(h)];
        if (seen_match(b, w, n)) {
            e = b;
        } else {
            /* a miss: into the first slot when free, else the second */
            if (e->len != 0)
                e = b;
            lua_pushlstring(L, (const char *)p, n);
            lua_pushvalue(L, -1);
            lua_rawseti(L, strs, (int)(e - seen->slot) + 1);
            if (e->len == 0)
                seen->used[seen->nused++] = (unsigned short)(e - seen->slot);
            memcpy(e->w, w, sizeof w);
            e->len = n;
            return;
        }
    }
    lua_rawgeti(L, strs, (int)(e - seen->slot) + 1);
}

/* [-0, +1] Pushes the cache's table, taken from its upvalue (which is
 * cleared meanwhile, like buf_take's: a decode run by a finalizer in the
 * middle of ours makes its own), or a new one; sets d->seen, d->strs. A
 * raise drops the table, strings and all, to the GC. */
static void seen_take(Dec *d)
{
    lua_State *L = d->L;
    if (lua_istable(L, lua_upvalueindex(UV_DEC_STRS))) {
        lua_pushvalue(L, lua_upvalueindex(UV_DEC_STRS));
        lua_pushnil(L);
        lua_replace(L, lua_upvalueindex(UV_DEC_STRS));
        lua_rawgeti(L, -1, SEEN_SLOTS + 1);
        d->seen = (Seen *)lua_touserdata(L, -1);
        lua_pop(L, 1);
    } else {
        lua_createtable(L, SEEN_SLOTS + 1, 0);  /* sized: rawseti never allocates */
        d->seen = (Seen *)lua_newuserdatauv(L, sizeof(Seen), 0);
        memset(d->seen, 0, sizeof(Seen));
        lua_rawseti(L, -2, SEEN_SLOTS + 1);
    }
    d->strs = lua_gettop(L);
}

/* [-0, +0] Empties the slots this call filled and puts the table back. */
static void seen_give(Dec *d)
{
    lua_State *L = d->L;
    Seen *seen = d->seen;
    int i;
    for (i = 0; i < seen->nused; i++) {
        seen->slot[seen->used[i]].len = 0;
        lua_pushnil(L);
        lua_rawseti(L, d->strs, seen->used[i] + 1);
    }
    seen->nused = 0;
    lua_pushvalue(L, d->strs);
    lua_replace(L, lua_upvalueindex(UV_DEC_STRS));
}

/* String at p (the opening quote). Without escapes it is pushed straight
 * from the input (or from the cache), copied at most once. */
static int dec_string(Dec *d, const unsigned char *p)
{
    const unsigned char *start = p + 1;
    p = scan_plain(start, d->end);
    if (*p == '"') {
        size_t n = (size_t)(p - start);
        if (d->seen && n - 1 < SEEN_MAXLEN)     /* 1..SEEN_MAXLEN */
            dec_push_short(d->L, d->seen, d->strs, start, n);
        else
            lua_pushlstring(d->L, (const char *)start, n);
        d->p = p + 1;
        return 0;
    }
    if (*p == '\\')
        return dec_string_escaped(d, start, p);
    return dec_string_fail(d, p);
}

/* Fast path of dec_float for plain decimals without exponent and with at
 * most 15 digits (0.45, -12.5): their digits m and 10^k (k decimals) are
 * exact doubles and IEEE division rounds correctly, so m / 10^k is the
 * very double strtod returns (the mirror of enc_decimal). Returns 0 when
 * the text is not such a number. */
static int dec_short_decimal(const unsigned char *s, size_t n, lua_Number *out)
{
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                  1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
    const unsigned char *p = s, *end = s + n;
    uint64_t m = 0;
    int digits = 0, frac = -1, neg = 0;
    double x;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; p < end; p++) {
        if (*p >= '0' && *p <= '9') {
            m = m * 10 + (unsigned)(*p - '0');
            digits++;
            if (frac >= 0)
                frac++;
        } else if (*p == '.') {
            frac = 0;                   /* the text is valid: one '.' */
        } else {
            return 0;                   /* an exponent */
        }
    }
    if (digits > 15)
        return 0;
    x = (double)m / p10[frac < 0 ? 0 : frac];
    *out = (lua_Number)(neg ? -x : x);
    return 1;
}

/* Decimal text [s, s+n) known to be a valid JSON number -> double, with
 * '.' as the decimal point whatever the C locale says. */
static int dec_float(Dec *d, const unsigned char *s, size_t n, lua_Number *out)
{
    char tmp[64], *z = tmp, *endp, *dot;
    if (dec_short_decimal(s, n, out))
        return 0;
    if (n >= sizeof tmp) {
        d->b.len = 0;
        buf_reserve(&d->b, n + 1);
        z = d->b.data;
    }
    memcpy(z, s, n);
    z[n] = '\0';
    *out = (lua_Number)strtod(z, &endp);
    if (*endp != '\0') {
        /* stopped at '.': the locale wants another decimal point */
        const char *dp = localeconv()->decimal_point;
        dot = strchr(z, '.');
        if (dot == NULL || dp[0] == '\0' || dp[1] != '\0')
            return -1;
        *dot = dp[0];
        *out = (lua_Number)strtod(z, &endp);
        if (*endp != '\0')
            return -1;
    }
    return 0;
}

/* Skips the fraction and the exponent of a number, when there are (p just
 * after its integer part): returns the end, or NULL after recording the
 * error; sets *isfloat when there was either. */
static const unsigned char *dec_frac_exp(Dec *d, const unsigned char *p, int *isfloat)
{
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) {
            dec_expect(d, p, "expected a digit after '.'");
            return NULL;
        }
        while (*p >= '0' && *p <= '9')
            p++;
        *isfloat = 1;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9')) {
            dec_expect(d, p, "expected a digit in exponent");
            return NULL;
        }
        while (*p >= '0' && *p <= '9')
            p++;
        *isfloat = 1;
    }
    return p;
}

/* Pushes the integer literal of magnitude u and sign neg (at most 19
 * digits: u has not wrapped) when a Lua integer holds it (on Lua
 * 5.1/LuaJIT: when a double holds it exactly) and returns 1; returns 0,
 * pushing nothing, when it must be read as a float. */
static int dec_push_integer(lua_State *L, unsigned long long u, int neg)
{
#if HAMSA_HAS_INTEGERS
    if (!neg && u <= (unsigned long long)LUA_MAXINTEGER) {
        lua_pushinteger(L, (lua_Integer)u);
        return 1;
    }
    if (neg && u != 0 && u - 1 <= (unsigned long long)LUA_MAXINTEGER) {
        /* -(u-1) - 1 stays in range down to LUA_MININTEGER */
        lua_pushinteger(L, -(lua_Integer)(u - 1) - 1);
        return 1;
    }
    if (neg && u == 0) {
        lua_pushnumber(L, -0.0);
        return 1;
    }
#else
    if (u <= 9007199254740992ULL) {     /* exact in a double */
        lua_Number x = (lua_Number)u;
        lua_pushnumber(L, neg ? -x : x);
        return 1;
    }
#endif
    return 0;
}

/* Number at p. Integer literals that fit lua_Integer become integers (Lua
 * 5.3+); bigger ones, and any with a fraction or exponent, become floats
 * (overflow gives +-inf, like strtod). "-0" becomes the float -0.0 so that
 * encode(-0.0) round-trips. On Lua 5.1/LuaJIT every number is a double:
 * integers beyond 2^53 lose precision there. The two helpers above are
 * called from here only, so they are inlined: no call per number. */
static int dec_number(Dec *d, const unsigned char *p)
{
    const unsigned char *start = p;
    unsigned long long u = 0;
    int neg = 0, digits = 0, isfloat = 0;
    lua_Number x;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p == '0') {
        p++;
        if (*p >= '0' && *p <= '9')
            return dec_fail(d, p - 1, "leading zero in number");
    } else if (*p >= '1' && *p <= '9') {
        do {
            u = u * 10 + (unsigned)(*p++ - '0');    /* wraps past 19 digits */
            digits++;
        } while (*p >= '0' && *p <= '9');
    } else {
        return dec_expect(d, p, "expected a digit");
    }
    p = dec_frac_exp(d, p, &isfloat);
    if (!p)
        return -1;
    d->p = p;
    if (!isfloat && digits <= 19 && dec_push_integer(d->L, u, neg))
        return 0;
    if (dec_float(d, start, (size_t)(p - start), &x) < 0)
        return dec_fail(d, start, "invalid number");
    lua_pushnumber(d->L, x);
    return 0;
}

/* Containers are decoded with their members waiting on the Lua stack, up
 * to DEC_PENDING at a time, and the table is made once they are known:
 * at its final size, which saves the rehash at every doubling of a table
 * built member by member (and its wasted slots). A longer container is
 * flushed every DEC_PENDING members into a table made for twice that. */
#define DEC_PENDING 32

/* [-(n or 2n), +0] Moves the n pending elements (or key/value pairs) above
 * slot t into the table at t, making it first (with room for `hint` more)
 * when t still holds its nil placeholder. */
static void dec_flush(lua_State *L, int t, int n, int pairs, int hint, int array_mark)
{
    int i, at = t + 1;
    if (lua_isnil(L, t)) {
        lua_createtable(L, pairs ? 0 : hint, pairs ? hint : 0);
        if (array_mark) {
            lua_pushvalue(L, lua_upvalueindex(UV_ARRAY_MT));
            lua_setmetatable(L, -2);
        }
        lua_replace(L, t);
    }
    for (i = 0; i < n; i++) {
        if (pairs) {
            lua_pushvalue(L, at++);
            lua_pushvalue(L, at++);
            lua_rawset(L, t);           /* in order: of duplicate keys the last wins */
        } else {
            lua_pushvalue(L, at++);
            lua_rawseti(L, t, (lua_Integer)lua_rawlen(L, t) + 1);
        }
    }
    lua_settop(L, t);
}

/* Array at p ('['): a table with the array mark, no holes (null is
 * json.null). */
static int dec_array(Dec *d, const unsigned char *p, int depth)
{
    lua_State *L = d->L;
    int t, n = 0;
    if (depth > JSON_MAX_DEPTH)
        return dec_fail(d, p, JSON_DEPTH_MSG);
    if (!lua_checkstack(L, DEC_PENDING + 4))
        return dec_fail(d, p, "out of Lua stack");
    p = skip_ws(p + 1);
    lua_pushnil(L);                     /* the table's slot */
    t = lua_gettop(L);
    if (*p == ']') {
        dec_flush(L, t, 0, 0, 0, 1);
        d->p = p + 1;
        return 0;
    }
    for (;;) {
        d->p = p;
        if (dec_value(d, depth) < 0)
            return -1;
        if (++n == DEC_PENDING) {
            dec_flush(L, t, n, 0, 2 * DEC_PENDING, 1);
            n = 0;
        }
        p = skip_ws(d->p);
        if (*p == ',') {
            p++;
        } else if (*p == ']') {
            dec_flush(L, t, n, 0, n, 1);
            d->p = p + 1;
            return 0;
        } else {
            return dec_expect(d, p, "expected ',' or ']'");
        }
    }
}

/* Object at p ('{'): a plain table; of duplicate keys the last wins. */
static int dec_object(Dec *d, const unsigned char *p, int depth)
{
    lua_State *L = d->L;
    int t, n = 0;
    if (depth > JSON_MAX_DEPTH)
        return dec_fail(d, p, JSON_DEPTH_MSG);
    if (!lua_checkstack(L, 2 * DEC_PENDING + 4))
        return dec_fail(d, p, "out of Lua stack");
    p = skip_ws(p + 1);
    lua_pushnil(L);                     /* the table's slot */
    t = lua_gettop(L);
    if (*p == '}') {
        dec_flush(L, t, 0, 1, 0, 0);
        d->p = p + 1;
        return 0;
    }
    for (;;) {
        if (*p != '"')
            return dec_expect(d, p, "expected a string key");
        if (dec_string(d, p) < 0)
            return -1;
        p = skip_ws(d->p);
        if (*p != ':')
            return dec_expect(d, p, "expected ':'");
        d->p = p + 1;
        if (dec_value(d, depth) < 0)
            return -1;
        if (++n == DEC_PENDING) {
            dec_flush(L, t, n, 1, 2 * DEC_PENDING, 0);
            n = 0;
        }
        p = skip_ws(d->p);
        if (*p == ',') {
            p = skip_ws(p + 1);
        } else if (*p == '}') {
            dec_flush(L, t, n, 1, n, 0);
            d->p = p + 1;
            return 0;
        } else {
            return dec_expect(d, p, "expected ',' or '}'");
        }
    }
}

/* Any value at d->p (after optional whitespace); depth = enclosing
 * arrays + objects. */
static int dec_value(Dec *d, int depth)
{
    lua_State *L = d->L;
    const unsigned char *p = skip_ws(d->p);
    switch (*p) {
    case '"':
        return dec_string(d, p);
    case '{':
        return dec_object(d, p, depth + 1);
    case '[':
        return dec_array(d, p, depth + 1);
    case 't':
        if (p[1] == 'r' && p[2] == 'u' && p[3] == 'e') {
            lua_pushboolean(L, 1);
            d->p = p + 4;
            return 0;
        }
        break;
    case 'f':
        if (p[1] == 'a' && p[2] == 'l' && p[3] == 's' && p[4] == 'e') {
            lua_pushboolean(L, 0);
            d->p = p + 5;
            return 0;
        }
        break;
    case 'n':
        if (p[1] == 'u' && p[2] == 'l' && p[3] == 'l') {
            lua_pushlightuserdata(L, NULL);
            d->p = p + 4;
            return 0;
        }
        break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return dec_number(d, p);
    default:
        return dec_expect(d, p, "expected a value");
    }
    return dec_fail(d, p, "invalid literal (expected true, false or null)");
}

/* [-0, +3] Pushes nil, "json: <what>[ but found X] at byte N", N. */
static int dec_error(Dec *d)
{
    lua_State *L = d->L;
    char found[32], msg[200];
    unsigned long long pos = (unsigned long long)(d->errpos - d->start) + 1;
    found[0] = '\0';
    if (d->found) {
        unsigned c = *d->errpos;
        if (d->errpos == d->end)
            snprintf(found, sizeof found, " but found end of input");
        else if (c > 0x20 && c < 0x7F)
            snprintf(found, sizeof found, " but found '%c'", (int)c);
        else
            snprintf(found, sizeof found, " but found byte 0x%02X", c);
    }
    snprintf(msg, sizeof msg, "json: %s%s at byte %llu", d->what, found, pos);
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushinteger(L, (lua_Integer)pos);
    return 3;
}

/* json.decode(s) -> value | nil, message, byte_offset */
static int json_decode(lua_State *L)
{
    Dec d;
    size_t len;
    const char *s;
    luaL_checktype(L, 1, LUA_TSTRING);
    s = lua_tolstring(L, 1, &len);
    lua_settop(L, 1);
    buf_take(L, &d.b, UV_DEC_BUF);     /* slot 2 */
    d.L = L;
    d.start = d.p = (const unsigned char *)s;
    d.end = d.start + len;
    d.what = NULL;
    d.seen = NULL;
    d.strs = 0;
    if (len >= DEC_CACHE_MIN)
        seen_take(&d);                  /* slot 3 */
    if (dec_value(&d, 0) == 0) {
        const unsigned char *p = skip_ws(d.p);
        if (p != d.end)
            dec_expect(&d, p, "expected end of input");
    }
    buf_give(&d.b, UV_DEC_BUF);
    if (d.seen)
        seen_give(&d);
    if (d.what)
        return dec_error(&d);
    return 1;                           /* the value is on top */
}

/* ---------------------------------------------------------------------
 * Marks
 */

/* json.array([t]) / json.object([t]) -> t, with upvalue 1 the metatable to
 * set and upvalue 2 its name. A table with another metatable is misuse. */
static int json_mark(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    if (lua_getmetatable(L, 1)) {
        if (!lua_rawequal(L, -1, lua_upvalueindex(1)))
            return luaL_argerror(L, 1, lua_pushfstring(L,
                "table already has a metatable, cannot mark it as a JSON %s",
                lua_tostring(L, lua_upvalueindex(2))));
        lua_pop(L, 1);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setmetatable(L, 1);
    return 1;
}

/* [-0, +0] Module table at -1: sets its field json. */
int hamsa_json_open(lua_State *L)
{
    int amt, omt;
    if (luaL_newmetatable(L, BOX_MT)) {         /* the buffers' __gc */
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 7);                   /* json */
    lua_newtable(L);
    amt = lua_gettop(L);
    lua_newtable(L);
    omt = lua_gettop(L);

    lua_pushvalue(L, amt);
    lua_pushvalue(L, omt);
    lua_pushnil(L);                             /* no cached buffer yet */
    memset(lua_newuserdatauv(L, sizeof(PlainCache), 0), 0, sizeof(PlainCache));
    lua_pushcclosure(L, json_encode, 4);
    lua_setfield(L, amt - 1, "encode");

    lua_pushvalue(L, amt);
    lua_pushnil(L);
    lua_pushnil(L);                             /* no string cache yet */
    lua_pushcclosure(L, json_decode, 3);
    lua_setfield(L, amt - 1, "decode");

    lua_pushvalue(L, amt);
    lua_pushliteral(L, "array");
    lua_pushcclosure(L, json_mark, 2);
    lua_setfield(L, amt - 1, "array");

    lua_pushvalue(L, omt);
    lua_pushliteral(L, "object");
    lua_pushcclosure(L, json_mark, 2);
    lua_setfield(L, amt - 1, "object");

    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, amt - 1, "null");
    lua_setfield(L, amt - 1, "object_mt");      /* pops omt */
    lua_setfield(L, amt - 1, "array_mt");       /* pops amt */
    lua_setfield(L, -2, "json");
    return 0;
}
