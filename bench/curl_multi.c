/*
 * bench/curl_multi.c - a load generator on libcurl's multi interface, the
 * peer bench/client.sh measures eddy's HTTP client against.
 *
 *   curl_multi -c CONNECTIONS -n COUNT URL
 *
 * COUNT GETs of URL, CONNECTIONS at once over as many keep-alive
 * connections (CURLMOPT_MAX_HOST_CONNECTIONS); each easy handle is added
 * again as soon as its transfer is done, so its connection is reused, as
 * a load generator written on libcurl would do.  Bodies are dropped (a
 * write callback that only counts).  Prints one line:
 *   curl_multi requests=.. failed=.. seconds=.. req_s=.. cpu_us_per_req=..
 * Exit status: 0, 1 if a transfer failed, 2 usage.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include <curl/curl.h>
#include <unistd.h>

static size_t drop(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    *(size_t *)arg += size * n;
    return size * n;
}

int main(int argc, char **argv)
{
    long conns = 50, count = 100000, started = 0, done = 0, failed = 0;
    size_t bytes = 0;
    CURLM *m;
    CURL **easy;
    double t0, c0, s, cpu;
    int opt, running = 1;

    while ((opt = getopt(argc, argv, "c:n:")) != -1) {
        if (opt == 'c')
            conns = bench_parse_long(argv[0], opt, optarg, 1, 10000);
        else if (opt == 'n')
            count = bench_parse_long(argv[0], opt, optarg, 1, 1000000000L);
        else
            goto usage;
    }
    if (optind != argc - 1)
        goto usage;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conns);
    easy = calloc((size_t)conns, sizeof *easy);
    t0 = bench_now_us();
    c0 = bench_cpu_s();
    for (long i = 0; i < conns && started < count; i++, started++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, argv[optind]);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, drop);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &bytes);
        curl_easy_setopt(easy[i], CURLOPT_TCP_NODELAY, 1L);
        curl_multi_add_handle(m, easy[i]);
    }
    while (running || done < count) {
        CURLMsg *msg;
        int left;

        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            done++;
            if (msg->data.result != CURLE_OK)
                failed++;
            curl_multi_remove_handle(m, msg->easy_handle);
            if (started < count) {
                started++;
                curl_multi_add_handle(m, msg->easy_handle);
                running = 1;
            }
        }
        if (done >= count)
            break;
        curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    s = (bench_now_us() - t0) / 1e6;
    cpu = bench_cpu_s() - c0;
    printf("curl_multi requests=%ld failed=%ld seconds=%.3f req_s=%.0f "
           "cpu_us_per_req=%.2f\n",
           done, failed, s, (double)done / s, cpu * 1e6 / (double)done);
    for (long i = 0; i < conns; i++)
        if (easy[i] != NULL)
            curl_easy_cleanup(easy[i]);
    free(easy);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return failed > 0 ? BENCH_EXIT_FAIL : 0;
usage:
    fprintf(stderr, "usage: %s [-c CONNECTIONS] [-n COUNT] URL\n", argv[0]);
    return BENCH_EXIT_USAGE;
}
