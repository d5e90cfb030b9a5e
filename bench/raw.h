/*
 * bench/raw.h: what the two raw-libcurl contenders of `make bench` share:
 * the monotonic clock, the body file, the response sink, the header list
 * and the RESULT line. SPDX-License-Identifier: MIT
 *
 * They do no JSON work at all: the body is sent as pre-encoded bytes and
 * the answer is only collected, so they show what libcurl alone costs.
 */
#ifndef BENCH_RAW_H
#define BENCH_RAW_H

#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* process CPU time (user + system), like Lua's os.clock() */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
        perror(path);
        exit(2);
    }
    rewind(f);
    p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(2);
    }
    fclose(f);
    p[n] = '\0';
    *len = (size_t)n;
    return p;
}

/* the response body, kept (like a client would) and reset per request */
typedef struct {
    char buf[64 * 1024];
    size_t len;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = size * n;
    if (s->len + len > sizeof s->buf) return 0;
    memcpy(s->buf + s->len, p, len);
    s->len += len;
    return len;
}

/* the request headers hamsa sends too (less its per-request key) */
static struct curl_slist *request_headers(void)
{
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Authorization: Token bench-key");
    h = curl_slist_append(h, "Expect:");
    return h;
}

/* one easy handle set up for POSTing body to url */
static CURL *make_easy(const char *url, const char *body, size_t body_len,
                       struct curl_slist *headers, sink *s)
{
    CURL *e = curl_easy_init();
    if (!e) exit(2);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)s);
    return e;
}

static void check_done(CURL *e, CURLcode rc, const sink *s)
{
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || s->len < 100) {
        fprintf(stderr, "request failed: %s, status %ld, %zu bytes\n",
                curl_easy_strerror(rc), status, s->len);
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* RESULT name=<name> payload=<payload> n=<n> wall=<s> cpu=<s> p50=<us> p99=<us>
 * (payload: the name of the body sent, "agent" or "small", for the report) */
static void report(const char *name, const char *payload, long n, double wall,
                   double cpu_s, double *lat)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("RESULT name=%s payload=%s n=%ld wall=%.6f cpu=%.6f p50=%.1f p99=%.1f\n",
           name, payload, n, wall, cpu_s, lat[n / 2] * 1e6,
           lat[(long)((double)n * 0.99)] * 1e6);
}

#endif
