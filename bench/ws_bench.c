/*
 * bench/ws_bench.c - WebSocket connections echoing messages: messages per
 * second, and CPU per message at each end.
 *
 *   ws_bench [-c CONNS] [-s BYTES] [-d SECONDS] [-t unix|tcp] [-z] [-1]
 *
 * CONNS (default 50) connections, each an eddy server connection and an
 * eddy client connection over an AF_UNIX socketpair or, with -t tcp, a
 * loopback TCP connection (TCP_NODELAY), made with the hidden constructor
 * the opening handshake calls (no HTTP: the handshake is not measured).
 * Each client sends a binary message of BYTES (default 64) bytes, the
 * server echoes it, and the client checks it and sends the next; for
 * SECONDS (default 2), after which the clients close and the servers
 * answer.  -z agrees on permessage-deflate (default parameters).
 *
 * The clients run in a child process with a loop of their own, so the
 * server's CPU per message is its own; -1 runs both ends in one loop of
 * one process (the library's whole cost per round trip, without the
 * scheduler).  Pin the processes from outside (taskset) to compare runs.
 *
 * Prints one line on stdout:
 *   ws_echo lib=eddy conns=50 bytes=64 transport=unix deflate=0 procs=2
 *   messages=.. seconds=.. msgs_s=.. server_cpu_us=.. client_cpu_us=..
 * where messages counts echoes, msgs_s is echoes per second of wall
 * time, and *_cpu_us are CPU microseconds per echo of each process
 * (with -1, server_cpu_us is the one process's and client_cpu_us 0).
 * Exit status: 0 ok, 1 a run went wrong, 2 usage, 3 cannot run here.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include "../websocket/ws_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *prog = "ws_bench";

typedef struct end {
    eddy_ws *ws;
    struct bench *b;
    int client;
} end;

typedef struct bench {
    eddy_loop *loop;
    size_t bytes;
    uint8_t *msg;
    double stop_us;  /* clients stop sending after this */
    uint64_t echoes; /* messages the servers echoed */
    uint64_t rounds; /* echoes the clients got back */
    int open;        /* connections not yet closed */
    int failed;
} bench;

static void die(const char *what, int err)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, eddy_strerror(err));
    exit(BENCH_EXIT_FAIL);
}

static void on_message(eddy_ws *ws, int op, const char *data, size_t len,
                       void *arg)
{
    end *e = arg;
    bench *b = e->b;
    int err;

    if (!e->client) {
        b->echoes++;
        if ((err = eddy_ws_send(ws, op, data, len)) < 0)
            die("echo", err);
        return;
    }
    if (len != b->bytes ||
        (len > 0 && (data[0] != (char)b->msg[0] ||
                     data[len - 1] != (char)b->msg[len - 1]))) {
        fprintf(stderr, "%s: a wrong echo (%zu bytes)\n", prog, len);
        b->failed = 1;
    }
    b->rounds++;
    if (bench_now_us() >= b->stop_us)
        err = eddy_ws_close(ws, EDDY_WS_NORMAL, NULL);
    else
        err = eddy_ws_send(ws, EDDY_WS_BINARY, b->msg, b->bytes);
    if (err < 0)
        die("send", err);
}

static void on_close(eddy_ws *ws, int code, const char *reason, size_t len,
                     void *arg)
{
    end *e = arg;

    (void)ws, (void)reason, (void)len;
    if (code != EDDY_WS_NORMAL) {
        fprintf(stderr, "%s: a connection closed with %d (%s)\n", prog, code,
                eddy_strerror(eddy_ws_error(ws)));
        e->b->failed = 1;
    }
    if (--e->b->open == 0)
        eddy_loop_stop(e->b->loop);
}

static const eddy_ws_callbacks callbacks = {.on_message = on_message,
                                            .on_close = on_close};

/* CONNS pairs of connected sockets: [i][0] the server's, [i][1] the
 * client's. */
static void make_pairs(int (*fds)[2], int conns, int tcp)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int l = -1, one = 1;

    if (tcp) {
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if ((l = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            listen(l, conns) != 0 ||
            getsockname(l, (struct sockaddr *)&sa, &len) != 0)
            die("listen", -errno);
    }
    for (int i = 0; i < conns; i++) {
        if (!tcp) {
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds[i]) != 0)
                die("socketpair", -errno);
            continue;
        }
        if ((fds[i][1] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            connect(fds[i][1], (struct sockaddr *)&sa, sizeof sa) != 0 ||
            (fds[i][0] = accept(l, NULL, NULL)) < 0)
            die("connect", -errno);
        setsockopt(fds[i][0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fds[i][1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (l >= 0)
        close(l);
}

/* One end of every connection (side 0: servers, 1: clients) on b's loop. */
static void open_ends(bench *b, end *ends, int (*fds)[2], int conns, int side,
                      const eddy__ws_pmd *pmd)
{
    for (int i = 0; i < conns; i++) {
        eddy_stream *s = NULL;
        end *e = &ends[i];
        int err;

        e->b = b;
        e->client = side;
        if ((err = eddy_stream_new(b->loop, fds[i][side], NULL, &s)) < 0)
            die("stream", err);
        err = eddy__ws_conn_new(s, side ? EDDY_WS_CLIENT : EDDY_WS_SERVER, NULL,
                                0, pmd, NULL, NULL, &callbacks, e, &e->ws);
        if (err < 0)
            die("connection", err);
        b->open++;
    }
}

static void start_clients(bench *b, end *ends, int conns, double seconds)
{
    b->stop_us = bench_now_us() + seconds * 1e6;
    for (int i = 0; i < conns; i++) {
        int err = eddy_ws_send(ends[i].ws, EDDY_WS_BINARY, b->msg, b->bytes);

        if (err < 0)
            die("send", err);
    }
}

static void run(bench *b)
{
    int err;

    if ((err = eddy_loop_run(b->loop)) < 0)
        die("loop", err);
    eddy_loop_run_once(b->loop, 0); /* the streams free themselves */
    eddy_loop_close(b->loop, 0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-c CONNS] [-s BYTES] [-d SECONDS] "
            "[-t unix|tcp] [-z] [-1]\n",
            prog);
    exit(BENCH_EXIT_USAGE);
}

int main(int argc, char **argv)
{
    int conns = 50, tcp = 0, deflate = 0, one = 0, opt, p[2], status;
    long bytes = 64, seconds = 2;
    int(*fds)[2];
    end *ends;
    bench b = {0};
    double t0, t1, cpu0, cpu1, client[2] = {0, 0};
    const eddy__ws_pmd pmd = {0, 0, 15, 15};
    pid_t pid = 0;

    while ((opt = getopt(argc, argv, "c:s:d:t:z1")) != -1) {
        switch (opt) {
        case 'c':
            conns = (int)bench_parse_long(prog, opt, optarg, 1, 10000);
            break;
        case 's':
            bytes = bench_parse_long(prog, opt, optarg, 0, 8 << 20);
            break;
        case 'd':
            seconds = bench_parse_long(prog, opt, optarg, 1, 3600);
            break;
        case 't':
            if (strcmp(optarg, "tcp") != 0 && strcmp(optarg, "unix") != 0)
                usage();
            tcp = strcmp(optarg, "tcp") == 0;
            break;
        case 'z':
            deflate = 1;
            break;
        case '1':
            one = 1;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    if (deflate && !eddy__ws_deflate_available()) {
        fprintf(stderr, "%s: -z: built without zlib\n", prog);
        return BENCH_EXIT_UNSUPPORTED;
    }
    if (bench_raise_nofile(prog, 2L * conns + 64) < 0)
        return BENCH_EXIT_UNSUPPORTED;
    signal(SIGPIPE, SIG_IGN);
    b.bytes = (size_t)bytes;
    if ((b.msg = malloc(b.bytes + 1)) == NULL ||
        (fds = calloc((size_t)conns, sizeof *fds)) == NULL ||
        (ends = calloc(2 * (size_t)conns, sizeof *ends)) == NULL)
        die("malloc", -ENOMEM);
    for (size_t i = 0; i < b.bytes; i++)
        b.msg[i] = (uint8_t)('a' + i % 26);
    make_pairs(fds, conns, tcp);
    if (!one) {
        if (pipe(p) != 0 || (pid = fork()) < 0)
            die("fork", -errno);
        if (pid == 0) {
            /* The clients: their own loop, their CPU sent to the parent. */
            close(p[0]);
            for (int i = 0; i < conns; i++)
                close(fds[i][0]);
            if (eddy_loop_new(&b.loop) < 0)
                die("loop", -ENOMEM);
            open_ends(&b, ends + conns, fds, conns, 1, deflate ? &pmd : NULL);
            start_clients(&b, ends + conns, conns, (double)seconds);
            run(&b);
            client[0] = bench_cpu_s();
            client[1] = (double)b.rounds;
            if (write(p[1], client, sizeof client) != sizeof client)
                _exit(BENCH_EXIT_FAIL);
            _exit(b.failed ? BENCH_EXIT_FAIL : 0);
        }
        close(p[1]);
        for (int i = 0; i < conns; i++)
            close(fds[i][1]);
    }
    if (eddy_loop_new(&b.loop) < 0)
        die("loop", -ENOMEM);
    open_ends(&b, ends, fds, conns, 0, deflate ? &pmd : NULL);
    if (one)
        open_ends(&b, ends + conns, fds, conns, 1, deflate ? &pmd : NULL);
    t0 = bench_now_us();
    cpu0 = bench_cpu_s();
    if (one)
        start_clients(&b, ends + conns, conns, (double)seconds);
    run(&b);
    t1 = bench_now_us();
    cpu1 = bench_cpu_s();
    if (!one) {
        if (read(p[0], client, sizeof client) != sizeof client ||
            waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            b.failed = 1;
    }
    if (b.failed || b.echoes == 0)
        return BENCH_EXIT_FAIL;
    printf("ws_echo lib=%s conns=%d bytes=%zu transport=%s deflate=%d "
           "procs=%d messages=%llu seconds=%.3f msgs_s=%.0f "
           "server_cpu_us=%.3f client_cpu_us=%.3f\n",
           EDDY_BENCH_LIB, conns, b.bytes, tcp ? "tcp" : "unix", deflate,
           one ? 1 : 2, (unsigned long long)b.echoes, (t1 - t0) / 1e6,
           (double)b.echoes / ((t1 - t0) / 1e6),
           (cpu1 - cpu0) * 1e6 / (double)b.echoes,
           one ? 0.0 : client[0] * 1e6 / (double)b.echoes);
    free(b.msg);
    free(fds);
    free(ends);
    return 0;
}
