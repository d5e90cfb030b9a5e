/*
 * bench/raw_multi.c: contender (d) of `make bench`: libcurl's multi
 * interface with INFLIGHT easy handles kept busy (one connection each),
 * each handle set up once and re-added; no JSON. The limit for
 * concurrency on one thread. SPDX-License-Identifier: MIT
 *
 *   raw_multi URL BODYFILE N WARMUP INFLIGHT [PAYLOAD]
 *
 * PAYLOAD only names the body in the RESULT line (default "agent").
 */
#include "raw.h"

typedef struct {
    sink s;
    double started;
} slot;

/* Runs n requests with up to `inflight` at once; latencies into lat
 * (may be NULL). */
static void run(CURLM *cm, CURL **easy, slot *slots, int inflight, long n, double *lat)
{
    long issued = 0, done = 0;
    int i, running, left;
    for (i = 0; i < inflight && issued < n; i++, issued++) {
        slots[i].s.len = 0;
        slots[i].started = now();
        curl_multi_add_handle(cm, easy[i]);
    }
    while (done < n) {
        CURLMsg *msg;
        curl_multi_perform(cm, &running);
        while ((msg = curl_multi_info_read(cm, &left)) != NULL) {
            slot *sl;
            if (msg->msg != CURLMSG_DONE) continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
            check_done(msg->easy_handle, msg->data.result, &sl->s);
            if (lat) lat[done] = now() - sl->started;
            done++;
            curl_multi_remove_handle(cm, msg->easy_handle);
            if (issued < n) {
                issued++;
                sl->s.len = 0;
                sl->started = now();
                curl_multi_add_handle(cm, msg->easy_handle);
            }
        }
        if (done < n) curl_multi_poll(cm, NULL, 0, 1000, NULL);
    }
}

int main(int argc, char **argv)
{
    size_t body_len;
    char *body;
    long n, warm;
    int inflight, i;
    double *lat, t0, c0;
    struct curl_slist *headers;
    CURLM *cm;
    CURL **easy;
    slot *slots;
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: raw_multi URL BODYFILE N WARMUP INFLIGHT [PAYLOAD]\n");
        return 2;
    }
    body = read_file(argv[2], &body_len);
    n = atol(argv[3]);
    warm = atol(argv[4]);
    inflight = atoi(argv[5]);
    lat = malloc((size_t)n * sizeof *lat);
    easy = calloc((size_t)inflight, sizeof *easy);
    slots = calloc((size_t)inflight, sizeof *slots);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    headers = request_headers();
    cm = curl_multi_init();
    curl_multi_setopt(cm, CURLMOPT_MAX_HOST_CONNECTIONS, (long)inflight);
    for (i = 0; i < inflight; i++) {
        easy[i] = make_easy(argv[1], body, body_len, headers, &slots[i].s);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)&slots[i]);
    }
    run(cm, easy, slots, inflight, warm, NULL);
    c0 = cpu();
    t0 = now();
    run(cm, easy, slots, inflight, n, lat);
    report("libcurl_multi", argc == 7 ? argv[6] : "agent", n, now() - t0, cpu() - c0, lat);
    for (i = 0; i < inflight; i++) curl_easy_cleanup(easy[i]);
    curl_multi_cleanup(cm);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(slots);
    free(easy);
    free(lat);
    free(body);
    return 0;
}
