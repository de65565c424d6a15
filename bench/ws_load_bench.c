/*
 * bench/ws_load_bench.c - eddy's WebSocket client as the load for
 * bench/ws.sh: connections to a WebSocket echo server by URL (any
 * server: eddy's, node's ws, Tornado's), each sending a message, waiting
 * for its echo, checking it and sending the next.
 *
 *   ws_load_bench [-c CONNS] [-s BYTES] [-d SECONDS] [-z] URL
 *   ws_load_bench -i CONNS [-w SECONDS] [-z] URL
 *
 * CONNS (default 50) connections through eddy_ws_connect(), binary
 * messages of BYTES (default 64) bytes, for SECONDS (default 2) from the
 * moment all are open; -z offers permessage-deflate.  Prints one line:
 *   ws_load conns=50 bytes=64 deflate=0 messages=.. seconds=.. msgs_s=..
 *   mbytes_s=.. client_cpu_us=..
 * (mbytes_s: echoed payload, one way, in MB per second; client_cpu_us:
 * this process's CPU per echo).
 *
 * -i: opens CONNS connections and leaves them idle: prints "idle N open"
 * once all are open, then waits SECONDS (default 3) and closes them, so
 * that the caller can read the server's memory meanwhile.
 *
 * It never times anything it does not check: a wrong echo or a failed
 * connection ends the run with status 1.  Exit status: 0 ok, 1 a run went
 * wrong, 2 usage, 3 cannot run here.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include "eddy/eddy.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "ws_load_bench";

typedef struct load {
    eddy_loop *loop;
    size_t bytes;
    uint8_t *msg;
    int conns, opened, closed, idle, failed, sending;
    uint64_t echoes;
    double start_us, stop_us;
} load;

static void done(load *l)
{
    if (l->closed == l->conns)
        eddy_loop_stop(l->loop);
}

static void fail_run(load *l, const char *why, int err)
{
    if (!l->failed)
        fprintf(stderr, "%s: %s: %s\n", prog, why, eddy_strerror(err));
    l->failed = 1;
    eddy_loop_stop(l->loop);
}

/* Every connection open: the clock starts and each sends its first. */
static void start(load *l, eddy_ws **all)
{
    l->start_us = bench_now_us();
    l->stop_us = l->start_us + l->stop_us;
    l->sending = 1;
    for (int i = 0; i < l->conns; i++) {
        int err = eddy_ws_send(all[i], EDDY_WS_BINARY, l->msg, l->bytes);

        if (err < 0)
            fail_run(l, "send", err);
    }
}

static eddy_ws **all; /* the connections, for start() and the idle close */

static void on_open(eddy_ws *ws, int status, const eddy_http_response *r,
                    void *arg)
{
    load *l = arg;

    (void)r;
    if (status != 0) {
        l->closed++;
        fail_run(l, "connect", status);
        return;
    }
    all[l->opened++] = ws;
    if (l->opened < l->conns)
        return;
    if (l->idle) {
        printf("idle %d open\n", l->opened);
        fflush(stdout);
        return;
    }
    start(l, all);
}

static void on_message(eddy_ws *ws, int op, const char *data, size_t len,
                       void *arg)
{
    load *l = arg;
    int err;

    if (op != EDDY_WS_BINARY || len != l->bytes ||
        memcmp(data, l->msg, len) != 0) {
        fail_run(l, "a wrong echo", -EPROTO);
        return;
    }
    l->echoes++;
    if (bench_now_us() >= l->stop_us) {
        eddy_ws_close(ws, EDDY_WS_NORMAL, NULL);
        return;
    }
    if ((err = eddy_ws_send(ws, EDDY_WS_BINARY, l->msg, l->bytes)) < 0)
        fail_run(l, "send", err);
}

static void on_close(eddy_ws *ws, int code, const char *reason, size_t len,
                     void *arg)
{
    load *l = arg;

    (void)ws, (void)reason, (void)len;
    l->closed++;
    if (code != EDDY_WS_NORMAL && !l->failed) {
        fprintf(stderr, "%s: closed with %d\n", prog, code);
        l->failed = 1;
        eddy_loop_stop(l->loop);
    }
    done(l);
}

static void close_idle(eddy_loop *loop, void *arg)
{
    load *l = arg;

    (void)loop;
    for (int i = 0; i < l->opened; i++)
        eddy_ws_close(all[i], EDDY_WS_NORMAL, NULL);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: %s [-c CONNS] [-s BYTES] [-d SECONDS] [-z] URL\n"
            "       %s -i CONNS [-w SECONDS] [-z] URL\n",
            prog, prog);
    return BENCH_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const eddy_ws_callbacks cb = {
        .on_open = on_open, .on_message = on_message, .on_close = on_close};
    eddy_ws_connect_options o = {.ws = {.max_message_size = 64 << 20}};
    load l = {.conns = 50, .bytes = 64};
    long seconds = 2, wait_s = 3;
    double t0, c0, sec, cpu;
    int opt;

    while ((opt = getopt(argc, argv, "c:s:d:i:w:z")) != -1) {
        switch (opt) {
        case 'c':
            l.conns = (int)bench_parse_long(prog, opt, optarg, 1, 10000);
            break;
        case 's':
            l.bytes = (size_t)bench_parse_long(prog, opt, optarg, 1, 64L << 20);
            break;
        case 'd':
            seconds = bench_parse_long(prog, opt, optarg, 1, 3600);
            break;
        case 'i':
            l.idle = 1;
            l.conns = (int)bench_parse_long(prog, opt, optarg, 1, 10000);
            break;
        case 'w':
            wait_s = bench_parse_long(prog, opt, optarg, 1, 3600);
            break;
        case 'z':
            o.ws.deflate.enable = 1;
            break;
        default:
            return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    if (bench_raise_nofile(prog, l.conns + 64) < 0)
        return BENCH_EXIT_UNSUPPORTED;
    l.msg = malloc(l.bytes);
    all = calloc((size_t)l.conns, sizeof *all);
    if (l.msg == NULL || all == NULL || eddy_loop_new(&l.loop) < 0)
        return BENCH_EXIT_FAIL;
    for (size_t i = 0; i < l.bytes; i++)
        l.msg[i] = (uint8_t)(i * 7919 >> 3);
    l.stop_us = (double)seconds * 1e6; /* made absolute in start() */
    for (int i = 0; i < l.conns; i++) {
        int err =
            eddy_ws_connect(l.loop, NULL, argv[optind], &o, &cb, &l, NULL);

        if (err < 0) {
            fprintf(stderr, "%s: eddy_ws_connect: %s\n", prog,
                    eddy_strerror(err));
            return BENCH_EXIT_FAIL;
        }
    }
    if (l.idle)
        eddy_loop_call_later(l.loop, (uint64_t)wait_s * 1000, close_idle, &l,
                             NULL);
    t0 = bench_now_us();
    c0 = bench_cpu_s();
    eddy_loop_run(l.loop);
    if (l.failed)
        return BENCH_EXIT_FAIL;
    if (!l.idle) {
        sec = (bench_now_us() - (l.start_us > 0 ? l.start_us : t0)) / 1e6;
        cpu = bench_cpu_s() - c0;
        printf("ws_load conns=%d bytes=%zu deflate=%d messages=%llu "
               "seconds=%.3f msgs_s=%.0f mbytes_s=%.1f client_cpu_us=%.2f\n",
               l.conns, l.bytes, o.ws.deflate.enable,
               (unsigned long long)l.echoes, sec, (double)l.echoes / sec,
               (double)l.echoes * (double)l.bytes / sec / 1e6,
               l.echoes ? cpu * 1e6 / (double)l.echoes : 0.0);
    }
    eddy_loop_close(l.loop, 0);
    free(l.msg);
    free(all);
    return 0;
}
