/*
 * fuzz/response.c: libFuzzer harness for the response path.
 * SPDX-License-Identifier: MIT
 *
 * Two modes, chosen by fuzz/response.lua from the input's first byte:
 *   raw         the input is a raw HTTP response (status line, headers, body);
 *   envelope    (first byte NUL) the rest of the input is a list of choices
 *               from which fuzz/envelope.lua builds a response: a status from
 *               200 to 599, odd headers (Retry-After and the like) and a JSON
 *               error envelope with a value of any type in every field;
 *               fuzz/response.lua hands those bytes to serve() below.
 * Either way a real libcurl transfer of the real client reads the bytes:
 * http.c's header, body and trace callbacks, t:result() and its header
 * table, then client.lua maps them into data or an error. A client that
 * raises instead of returning is a finding, as is any other broken rule
 * that fuzz/response.lua checks.
 *
 * Before a transfer starts, http.c calls hamsa_easy_hook (see csrc/hamsa.h),
 * which this harness sets to fuzz_connect(): it points libcurl at a
 * listener of ours on 127.0.0.1 (whatever the URL says); once the
 * connection is up, and before the request goes out, we accept it and
 * write the bytes followed by EOF. (An earlier version handed libcurl one
 * end of a socketpair with CURL_SOCKOPT_ALREADY_CONNECTED; libcurl 7.88,
 * Debian 12's, ignores that answer and calls connect() on the socket, so
 * every input ended as a connect failure: curl/curl#10626.)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hamsa.h"
#include "harness.h"

static const uint8_t *fuzz_input;     /* libFuzzer's input */
static size_t fuzz_input_size;
static const uint8_t *fuzz_data;      /* what the next transfer reads */
static size_t fuzz_size;
static int fuzz_listener = -1;        /* 127.0.0.1, a port of the kernel's choice */
static struct sockaddr_in fuzz_addr;
static int fuzz_peer = -1;            /* our end: the bytes, then EOF */
static int fuzz_used;                 /* one connection per input */
static unsigned long fuzz_served;     /* connections that got the bytes */

static void listen_once(void)
{
    socklen_t len = sizeof fuzz_addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&fuzz_addr, 0, sizeof fuzz_addr);
    fuzz_addr.sin_family = AF_INET;
    fuzz_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&fuzz_addr, sizeof fuzz_addr) != 0 || listen(fd, 8) != 0
        || getsockname(fd, (struct sockaddr *)&fuzz_addr, &len) != 0) {
        perror("fuzz/response.c: listener on 127.0.0.1");
        abort();
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fuzz_listener = fd;
}

/* libcurl's socket, aimed at our listener: one connection per input */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)ud;
    (void)purpose;
    if (fuzz_used || addr->family != AF_INET || addr->addrlen < sizeof fuzz_addr) return CURL_SOCKET_BAD;
    fuzz_used = 1;
    memcpy(&addr->addr, &fuzz_addr, sizeof fuzz_addr);
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* Connected, request not sent yet: accept, write the bytes, then EOF. */
static int serve_connection(void *ud, char *ip, char *local_ip, int port, int local_port)
{
    struct pollfd p;
    size_t off = 0;
    int fd;
    (void)ud;
    (void)ip;
    (void)local_ip;
    (void)port;
    (void)local_port;
    p.fd = fuzz_listener;
    p.events = POLLIN;
    if (fuzz_peer >= 0 || poll(&p, 1, 2000) != 1 || (fd = accept(fuzz_listener, NULL, NULL)) < 0) {
        perror("fuzz/response.c: no connection to accept");
        abort();
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);         /* a huge response is cut, never blocks */
    while (off < fuzz_size) {
        ssize_t n = write(fd, fuzz_data + off, fuzz_size - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    fuzz_peer = fd;
    fuzz_served++;
    return CURL_PREREQFUNC_OK;
}

/* hamsa_easy_hook: every transfer gets the fuzzer's bytes */
static void fuzz_connect(void *e)
{
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, serve_connection);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
}

/* serve(bytes): the next transfer reads bytes instead of the input; the
 * string stays in the registry (so its memory stays put) until serve(nil),
 * which goes back to the input. */
static int fuzz_serve(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        fuzz_data = fuzz_input;
        fuzz_size = fuzz_input_size;
        lua_pushnil(L);
    } else {
        size_t n;
        const char *s = luaL_checklstring(L, 1, &n);
        fuzz_data = (const uint8_t *)s;
        fuzz_size = n;
        lua_settop(L, 1);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.response.served");
    return 0;
}

/* require "fuzz.harness" -> { serve = serve } */
static int open_fuzz_harness(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, fuzz_serve);
    lua_setfield(L, -2, "serve");
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd;
    fuzz_input = fuzz_data = data;
    fuzz_input_size = fuzz_size = size;
    fuzz_used = 0;
    harness_check(data, size);
    if (fuzz_peer >= 0) close(fuzz_peer);
    fuzz_peer = -1;
    while ((fd = accept(fuzz_listener, NULL, NULL)) >= 0) close(fd);    /* none left over */
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char probe[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    listen_once();
    hamsa_easy_hook = fuzz_connect;
    harness_module = open_fuzz_harness;
    harness_init("response");
    /* an input that never reaches the client is no test: a harness whose
     * transfers all fail to connect (as this one once did) must not pass */
    LLVMFuzzerTestOneInput((const uint8_t *)probe, sizeof probe - 1);
    if (fuzz_served != 1) {
        fprintf(stderr, "fuzz/response.c: the probe response never reached the client\n");
        abort();
    }
    return 0;
}
