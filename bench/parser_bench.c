/*
 * bench/parser_bench.c - the request-head parser's rate on a browser's
 * request.
 *
 *   parser_bench [-n COUNT]
 *
 * After picohttpparser's bench.c: one typical request, 726 bytes with ten
 * fields (a Chrome GET with Host, Connection, Cache-Control,
 * Upgrade-Insecure-Requests, User-Agent, Accept, Referer, Accept-Encoding,
 * Accept-Language and Cookie), parsed COUNT times (default 2,000,000) from
 * the same bytes, with a fresh parser state each time as every new request
 * on a connection gets.  Each parse must return the request's length.
 * Only the parse loop is timed: wall time (CLOCK_MONOTONIC) and the CPU
 * time of the process over the same span, which a busy machine disturbs
 * less when two parsers are compared.
 *
 * Prints one line on stdout:
 *   parser lib=eddy bytes=726 n=.. seconds=.. MB_s=.. req_s=.. cpu_s=..
 * where bytes is the request's size, MB_s counts 10^6 bytes, and the rates
 * are over the wall time.
 * Exit status: 0 ok, 1 a parse went wrong, 2 usage.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include "../httputil/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char request[] =
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg "
    "HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: max-age=0\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
    "image/avif,image/webp,*/*;q=0.8\r\n"
    "Referer: https://www.kittyhell.com/\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: ja,en-US;q=0.9,en;q=0.8\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|"
    "utmcsr=reader.livedoor.com\r\n"
    "\r\n";

int main(int argc, char **argv)
{
    const size_t len = sizeof request - 1;
    long n = 2000000;
    eddy_http_header fields[32];
    eddy__http_head h;
    double t0, c0, s, cpu;
    int opt;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n') {
            fprintf(stderr, "usage: %s [-n COUNT]\n", argv[0]);
            return BENCH_EXIT_USAGE;
        }
        n = bench_parse_long(argv[0], opt, optarg, 1, 1000000000L);
    }
    h.headers = fields;
    h.max_headers = sizeof fields / sizeof fields[0];

    c0 = bench_cpu_s();
    t0 = bench_now_us();
    for (long i = 0; i < n; i++) {
        eddy__http_parser ps;

        memset(&ps, 0, sizeof ps);
        ps.max_head = 65536;
        ps.max_uri = 8192;
        if (eddy__http_parse_head(&ps, request, len, &h) != (int)len) {
            fprintf(stderr, "%s: the request did not parse\n", argv[0]);
            return BENCH_EXIT_FAIL;
        }
    }
    s = (bench_now_us() - t0) / 1e6;
    cpu = bench_cpu_s() - c0;
    if (h.nheaders != 10 || h.has_length || h.host != 0 ||
        h.connection != EDDY__CONN_KEEP_ALIVE) {
        fprintf(stderr, "%s: the request parsed wrong\n", argv[0]);
        return BENCH_EXIT_FAIL;
    }
    printf("parser lib=eddy bytes=%zu n=%ld seconds=%.3f MB_s=%.1f "
           "req_s=%.0f cpu_s=%.3f\n",
           len, n, s, (double)len * (double)n / s / 1e6, (double)n / s, cpu);
    return 0;
}
