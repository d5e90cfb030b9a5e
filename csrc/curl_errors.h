/*
 * curl_errors.h: the libcurl errors hamsa names, and what each one means to
 * a caller. SPDX-License-Identifier: MIT
 *
 * The one list of them: http.c expands it into the name t:result() gives a
 * failed transfer (curl_code_name) and into core.curl_errors, name ->
 * { kind, retryable }, from which lua/hamsa/errors.lua maps a name to an
 * error kind (errors.transport). Two lists would drift apart: a name C
 * produced that Lua did not know would quietly become a non-retryable
 * network error.
 *
 * A row: X(NAME, kind, retryable), NAME without its CURLE_ prefix; kind is
 * one of the error kinds of README, "Results and errors"; retryable tells
 * whether the same request sent again may get another answer. Failures of
 * certificate checks or of the URL itself fail the same way again. A code
 * not listed comes out as "CURLE_<number>", which errors.transport maps to
 * network, not retryable.
 */
#ifndef HAMSA_CURL_ERRORS_H
#define HAMSA_CURL_ERRORS_H

#define HAMSA_CURL_ERRORS(X)                                                   \
    /* worth another try */                                                    \
    X(OPERATION_TIMEDOUT, "timeout", 1)                                        \
    X(COULDNT_RESOLVE_HOST, "network", 1)                                      \
    X(COULDNT_RESOLVE_PROXY, "network", 1)                                     \
    X(COULDNT_CONNECT, "network", 1)                                           \
    X(SEND_ERROR, "network", 1)                                                \
    X(RECV_ERROR, "network", 1)                                                \
    X(GOT_NOTHING, "network", 1)                                               \
    X(PARTIAL_FILE, "network", 1)                                              \
    X(SSL_CONNECT_ERROR, "network", 1)                                         \
    X(HTTP2, "network", 1)                                                     \
    X(HTTP2_STREAM, "network", 1)                                              \
    X(PROXY, "network", 1)                                                     \
    /* a reused connection died after the body went out (see on_upload) */     \
    X(SEND_FAIL_REWIND, "network", 1)                                          \
    /* the same again */                                                       \
    X(PEER_FAILED_VERIFICATION, "network", 0)                                  \
    X(SSL_CACERT_BADFILE, "network", 0)                                        \
    X(SSL_CERTPROBLEM, "network", 0)                                           \
    X(UNSUPPORTED_PROTOCOL, "network", 0)                                      \
    X(URL_MALFORMAT, "config", 0)                                              \
    X(WEIRD_SERVER_REPLY, "network", 0)                                        \
    X(BAD_CONTENT_ENCODING, "decode", 0)                                       \
    X(WRITE_ERROR, "network", 0)                                               \
    X(READ_ERROR, "network", 0)                                                \
    X(OUT_OF_MEMORY, "network", 0)                                             \
    X(RANGE_ERROR, "network", 0)                                               \
    X(ABORTED_BY_CALLBACK, "network", 0)                                       \
    X(TOO_MANY_REDIRECTS, "network", 0)                                        \
    X(SSL_ENGINE_NOTFOUND, "network", 0)                                       \
    X(SSL_CIPHER, "network", 0)                                                \
    X(FILESIZE_EXCEEDED, "network", 0)                                         \
    X(SSL_SHUTDOWN_FAILED, "network", 0)                                       \
    X(HTTP3, "network", 0)

#endif
