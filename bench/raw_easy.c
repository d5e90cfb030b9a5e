/*
 * bench/raw_easy.c: contender (c) of `make bench`: libcurl alone, one easy
 * handle set up once and reused, so one kept-alive connection; no JSON.
 * The physical limit of a sequential client. SPDX-License-Identifier: MIT
 *
 *   raw_easy URL BODYFILE N WARMUP [PAYLOAD]
 *
 * PAYLOAD only names the body in the RESULT line (default "agent").
 */
#include "raw.h"

int main(int argc, char **argv)
{
    static sink s;
    size_t body_len;
    char *body;
    long n, warm, i;
    double *lat, t0, c0, t;
    struct curl_slist *headers;
    CURL *e;
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: raw_easy URL BODYFILE N WARMUP [PAYLOAD]\n");
        return 2;
    }
    body = read_file(argv[2], &body_len);
    n = atol(argv[3]);
    warm = atol(argv[4]);
    lat = malloc((size_t)n * sizeof *lat);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    headers = request_headers();
    e = make_easy(argv[1], body, body_len, headers, &s);
    for (i = 0; i < warm; i++) {
        s.len = 0;
        check_done(e, curl_easy_perform(e), &s);
    }
    c0 = cpu();
    t0 = now();
    for (i = 0; i < n; i++) {
        t = now();
        s.len = 0;
        check_done(e, curl_easy_perform(e), &s);
        lat[i] = now() - t;
    }
    report("libcurl_easy", argc == 6 ? argv[5] : "agent", n, now() - t0, cpu() - c0, lat);
    curl_easy_cleanup(e);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(lat);
    free(body);
    return 0;
}
