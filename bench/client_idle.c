/*
 * bench/client_idle.c - the memory of an idle pooled connection of eddy's
 * HTTP client, for bench/client.sh.
 *
 *   client_idle -n N [-w SECONDS] URL
 *
 * Reads its VmRSS, fetches URL N times at once with max_per_host N (so N
 * connections are made and, once answered, sit idle in the pool), reads
 * VmRSS again, prints one line and then, with -w, holds the connections
 * that many seconds (so that the script can read the server's memory
 * with them open) before it frees the client:
 *   client_idle conns=N rss_before_kib=.. rss_idle_kib=.. per_conn_bytes=..
 *               heap_per_conn_bytes=..
 * per_conn_bytes is user-space memory only: (idle - before) * 1024 / N,
 * after malloc_trim() gave back what the fetches freed (glibc);
 * heap_per_conn_bytes is what malloc has handed out for them (glibc's
 * mallinfo2(): without the holes the fetches' freed memory leaves).  The
 * kernel's socket memory is in neither.
 * Exit status: 0, 1 if a fetch failed, 2 usage.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include <eddy/eddy.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static long done, failed;

static void on_done(eddy_http_fetch *f, int status, const eddy_http_response *r,
                    void *arg)
{
    (void)f;
    (void)r;
    (void)arg;
    done++;
    failed += status != 0;
}

/* Bytes malloc has handed out and not got back (glibc), or -1. */
static long heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    return (long)mallinfo2().uordblks;
#else
    return -1;
#endif
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;

    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    eddy_http_client_options o = {0};
    eddy_http_client *c;
    eddy_loop *loop;
    long n = 1000, wait_s = 0, before, idle, heap0, heap1;
    int opt;

    while ((opt = getopt(argc, argv, "n:w:")) != -1) {
        if (opt == 'n')
            n = bench_parse_long(argv[0], opt, optarg, 1, 100000);
        else if (opt == 'w')
            wait_s = bench_parse_long(argv[0], opt, optarg, 0, 3600);
        else
            goto usage;
    }
    if (optind != argc - 1)
        goto usage;
    if (bench_raise_nofile(argv[0], n + 64) != 0)
        return BENCH_EXIT_UNSUPPORTED;
    o.max_per_host = o.max_connections = (size_t)n;
    o.pool_idle_ms = 3600000;
    if (eddy_loop_new(&loop) != 0 || eddy_http_client_new(loop, &o, &c) != 0)
        return BENCH_EXIT_FAIL;
    /* One fetch first: the loop's and the client's own memory, a spare
     * read buffer, the resolver, are not the connections'. */
    eddy_http_client_fetch(c, argv[optind], NULL, on_done, NULL, NULL);
    while (done < 1)
        eddy_loop_run_once(loop, 100);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    before = rss_kib();
    heap0 = heap_bytes();
    for (long i = 0; i < n; i++)
        if (eddy_http_client_fetch(c, argv[optind], NULL, on_done, NULL,
                                   NULL) != 0)
            failed++;
    while (done < n + 1 - failed)
        eddy_loop_run_once(loop, 100);
    for (int i = 0; i < 10; i++) /* the last callbacks' frees */
        eddy_loop_run_once(loop, 1);
#ifdef __GLIBC__
    malloc_trim(0); /* the fetches' memory, freed, is not the connections' */
#endif
    idle = rss_kib();
    heap1 = heap_bytes();
    printf("client_idle conns=%ld rss_before_kib=%ld rss_idle_kib=%ld "
           "per_conn_bytes=%.0f heap_per_conn_bytes=%.0f\n",
           n, before, idle, (double)(idle - before) * 1024.0 / (double)n,
           heap0 < 0 ? -1.0 : (double)(heap1 - heap0) / (double)n);
    fflush(stdout);
    if (wait_s > 0)
        sleep((unsigned)wait_s);
    eddy_http_client_free(c);
    eddy_loop_run_once(loop, 0);
    eddy_loop_close(loop, 1);
    return failed > 0 ? BENCH_EXIT_FAIL : 0;
usage:
    fprintf(stderr, "usage: %s [-n N] [-w SECONDS] URL\n", argv[0]);
    return BENCH_EXIT_USAGE;
}
