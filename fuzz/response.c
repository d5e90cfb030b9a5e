/*
 * fuzz/response.c: libFuzzer harness for the response path.
 * SPDX-License-Identifier: MIT
 *
 * The input is a raw HTTP response (status line, headers, body). A real
 * libcurl transfer of the real client reads it: http.c's header, body and
 * trace callbacks, t:result() and its header table, then client.lua maps it
 * into data or an error (fuzz/response.lua checks the result).
 *
 * http.c is compiled with -DHAMSA_FUZZING for this harness only: before a
 * transfer starts it calls hamsa_fuzz_connect(), which has libcurl use one
 * end of a socketpair instead of connecting; the other end holds the input
 * followed by EOF.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

void hamsa_fuzz_connect(CURL *e);

static const uint8_t *fuzz_data;
static size_t fuzz_size;
static int fuzz_peer = -1;      /* our end: the input, then EOF */
static int fuzz_used;           /* one connection per input */

static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    int sv[2];
    size_t off = 0;
    (void)ud;
    (void)purpose;
    (void)addr;
    if (fuzz_used || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return CURL_SOCKET_BAD;
    fuzz_used = 1;
    fcntl(sv[1], F_SETFL, O_NONBLOCK);      /* a huge input is cut, never blocks */
    while (off < fuzz_size) {
        ssize_t n = write(sv[1], fuzz_data + off, fuzz_size - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);
    fuzz_peer = sv[1];
    return sv[0];
}

static int socket_options(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    (void)ud;
    (void)fd;
    (void)purpose;
    return CURL_SOCKOPT_ALREADY_CONNECTED;
}

void hamsa_fuzz_connect(CURL *e)
{
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, socket_options);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    harness_init("response");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_data = data;
    fuzz_size = size;
    fuzz_used = 0;
    harness_check(data, size);
    if (fuzz_peer >= 0) close(fuzz_peer);
    fuzz_peer = -1;
    return 0;
}
