/*
 * bench/ws_bench.c - WebSocket connections over loopback: messages echoed
 * (messages per second, CPU per message at each end), or a one-way flow
 * of big messages (MiB per second, CPU at each end).
 *
 *   ws_bench [-m echo|bulk-out|bulk-in] [-c CONNS] [-s BYTES] [-d SECONDS]
 *            [-n MESSAGES] [-q DEPTH] [-t unix|tcp] [-z] [-1]
 *
 * The connections are each an eddy server connection and an eddy client
 * connection over an AF_UNIX socketpair or, with -t tcp, a loopback TCP
 * connection (TCP_NODELAY), made with the hidden constructor the opening
 * handshake calls (no HTTP: the handshake is not measured).  -z agrees on
 * permessage-deflate (default parameters).
 *
 * -m echo (the default): CONNS (default 50) connections; each client
 * sends a binary message of BYTES (default 64) bytes, the server echoes
 * it, and the client checks it and sends the next; for SECONDS (default
 * 2), after which the clients close and the servers answer.
 *
 * -m bulk-out, bulk-in: one connection, and the shape of the raw pump of
 * bench/stream.sh (stream_baseline -m tcp -t 2): one end sends binary
 * messages of BYTES (default 1 MiB) with eddy_ws_send_ref(), keeping
 * DEPTH (default 4) queued by sending the next from each one's done
 * callback, for SECONDS or until MESSAGES were sent, then closes; the
 * other end receives them whole (on_message) and checks each: its
 * length, the sequence number in its first 8 bytes, and pattern bytes in
 * its middle and at its end; then the two counts must agree.  bulk-out:
 * the server sends, the client receives (and pays for nothing but the
 * reading); bulk-in: the client sends, masking every byte into a buffer
 * of its own, and the server unmasks in place.  Timed by the sender,
 * from its first send to the end of the closing handshake (by then the
 * receiver has every byte).  With two CPUs allowed (taskset -c 0,1), the
 * server pins itself to the first and the client to the second, as the
 * raw pump's two threads are.
 *
 * The clients run in a child process with a loop of their own, so the
 * server's CPU is its own; -1 runs both ends in one loop of one process
 * (the library's whole cost, without the scheduler).  Pin the processes
 * from outside (taskset) to compare runs.
 *
 * Prints one line on stdout, for echo:
 *   ws_echo lib=eddy conns=50 bytes=64 transport=unix deflate=0 procs=2
 *   messages=.. seconds=.. msgs_s=.. server_cpu_us=.. client_cpu_us=..
 * where messages counts echoes, msgs_s is echoes per second of wall
 * time, and *_cpu_us are CPU microseconds per echo of each process
 * (with -1, server_cpu_us is the one process's and client_cpu_us 0);
 * and for bulk-out and bulk-in:
 *   ws_bulk mode=bulk-out lib=eddy bytes=1048576 depth=4 transport=tcp
 *   deflate=0 procs=2 messages=.. seconds=.. MiB_s=.. server_cpu_s=..
 *   client_cpu_s=..
 * where MiB_s is payload per second of the sender's wall time and
 * *_cpu_s each process's CPU seconds over the run.
 * Exit status: 0 ok, 1 a run went wrong (a wrong or missing message, a
 * connection that did not close normally), 2 usage, 3 cannot run here.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include "../websocket/ws_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *prog = "ws_bench";

enum { M_ECHO, M_OUT, M_IN };
static const char *const mode_names[] = {"echo", "bulk-out", "bulk-in"};

typedef struct end {
    eddy_ws *ws;
    struct bench *b;
    int client;
} end;

/* A bulk sender's message, queued by reference: one per message in
 * flight, so that each can be numbered while the others go out. */
typedef struct slot {
    end *e;
    uint8_t *buf;
} slot;

typedef struct bench {
    eddy_loop *loop;
    int mode;
    size_t bytes;
    uint8_t *msg;
    double stop_us;  /* clients stop sending after this */
    uint64_t echoes; /* messages the servers echoed */
    uint64_t rounds; /* echoes the clients got back */
    int open;        /* connections not yet closed */
    int failed;
    /* bulk-out, bulk-in */
    slot *slots;    /* depth of them */
    int depth;      /* messages kept queued */
    int inflight;   /* slots not yet retired */
    uint64_t count; /* messages to send; 0: until stop_us */
    uint64_t sent;  /* messages the sender queued */
    uint64_t got;   /* messages the receiver checked */
    double t0, t1;  /* the sender's first send and its end, in us */
} bench;

/* What the child tells the parent: its CPU seconds, its count (echoes
 * back, or bulk messages sent or received) and, when it sent the bulk,
 * its seconds. */
typedef struct report {
    double cpu, count, seconds;
} report;

static void die(const char *what, int err)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, eddy_strerror(err));
    exit(BENCH_EXIT_FAIL);
}

/* The bulk messages' byte at offset i (past the 8 of the sequence
 * number): neighbours differ, and so do bytes 256 apart. */
static uint8_t pattern_at(size_t i)
{
    return (uint8_t)(i * 131 + (i >> 8));
}

static void bulk_sent(eddy_stream *s, int status, void *arg);

/* Queues sl's message with the next sequence number, or retires sl when
 * the run is over; the last one out starts the closing handshake. */
static void bulk_send(slot *sl)
{
    bench *b = sl->e->b;
    int err;

    if (b->count != 0 ? b->sent == b->count : bench_now_us() >= b->stop_us) {
        if (--b->inflight == 0 &&
            (err = eddy_ws_close(sl->e->ws, EDDY_WS_NORMAL, NULL)) < 0)
            die("close", err);
        return;
    }
    if (b->bytes >= 8)
        memcpy(sl->buf, &b->sent, 8);
    err = eddy_ws_send_ref(sl->e->ws, EDDY_WS_BINARY, sl->buf, b->bytes,
                           bulk_sent, sl);
    if (err < 0)
        die("send", err);
    b->sent++;
}

static void bulk_sent(eddy_stream *s, int status, void *arg)
{
    slot *sl = arg;

    (void)s;
    if (status < 0) {
        fprintf(stderr, "%s: a message was not sent: %s\n", prog,
                eddy_strerror(status));
        sl->e->b->failed = 1;
        return;
    }
    bulk_send(sl);
}

/* A bulk message arrived: the next in sequence, whole, with its pattern;
 * anything else drops the connection, which fails the run. */
static void bulk_got(eddy_ws *ws, bench *b, const char *data, size_t len)
{
    const uint8_t *d = (const uint8_t *)data;
    uint64_t seq = b->got;
    int ok = len == b->bytes;

    if (ok && len >= 8)
        ok = memcmp(d, &seq, 8) == 0;
    if (ok && len / 2 >= 8)
        ok = d[len / 2] == pattern_at(len / 2);
    if (ok && len > 8)
        ok = d[len - 1] == pattern_at(len - 1);
    if (!ok) {
        fprintf(stderr, "%s: message %llu is wrong (%zu bytes)\n", prog,
                (unsigned long long)seq, len);
        b->failed = 1;
        eddy_ws_abort(ws);
        return;
    }
    b->got++;
}

static void on_message(eddy_ws *ws, int op, const char *data, size_t len,
                       void *arg)
{
    end *e = arg;
    bench *b = e->b;
    int err;

    if (b->mode != M_ECHO) {
        if (e->client == (b->mode == M_OUT)) {
            bulk_got(ws, b, data, len);
        } else {
            fprintf(stderr, "%s: the sender got a message\n", prog);
            b->failed = 1;
            eddy_ws_abort(ws);
        }
        return;
    }
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
    if (e->b->slots != NULL && e == e->b->slots[0].e)
        e->b->t1 = bench_now_us(); /* the sender's end */
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

/* The senders start: every client of ends[0, conns) with its first
 * message to echo, or the one bulk sender ends[0] with depth messages. */
static void start(bench *b, end *ends, int conns, double seconds)
{
    b->stop_us = bench_now_us() + seconds * 1e6;
    if (b->mode != M_ECHO) {
        b->t0 = bench_now_us();
        b->inflight = b->depth;
        for (int i = 0; i < b->depth; i++) {
            b->slots[i].e = &ends[0];
            bulk_send(&b->slots[i]);
        }
        return;
    }
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

/* Pins the calling process to the which-th (0 or 1) of the CPUs it may
 * use, when it may use two or more. */
static void pin(int which)
{
    cpu_set_t set, one;
    int seen = 0;

    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2)
        return;
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &set) && seen++ == which) {
            CPU_ZERO(&one);
            CPU_SET(i, &one);
            sched_setaffinity(0, sizeof one, &one);
            return;
        }
    }
}

/* The bulk sender's messages: depth buffers holding the pattern. */
static void make_slots(bench *b)
{
    if ((b->slots = calloc((size_t)b->depth, sizeof *b->slots)) == NULL)
        die("malloc", -ENOMEM);
    for (int i = 0; i < b->depth; i++) {
        if ((b->slots[i].buf = malloc(b->bytes + 1)) == NULL)
            die("malloc", -ENOMEM);
        memcpy(b->slots[i].buf, b->msg, b->bytes);
    }
}

/* Frees what main allocated, so that valgrind sees every block of
 * either process go. */
static void free_all(bench *b, void *fds, void *ends)
{
    for (int i = 0; b->slots != NULL && i < b->depth; i++)
        free(b->slots[i].buf);
    free(b->slots);
    free(b->msg);
    free(fds);
    free(ends);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [-m echo|bulk-out|bulk-in] [-c CONNS] [-s BYTES] "
            "[-d SECONDS]\n"
            "          [-n MESSAGES] [-q DEPTH] [-t unix|tcp] [-z] [-1]\n",
            prog);
    exit(BENCH_EXIT_USAGE);
}

/* The child: the clients (ends[conns, 2 * conns)) on a loop of their
 * own, pinned to the second CPU in the bulk modes; its report goes up
 * the pipe. */
static void child(bench *b, end *ends, int (*fds)[2], int conns, int wfd,
                  double seconds, const eddy__ws_pmd *pmd)
{
    report rep = {0, 0, 0};
    double cpu0;
    int failed;

    if (b->mode != M_ECHO)
        pin(1);
    for (int i = 0; i < conns; i++)
        close(fds[i][0]);
    if (eddy_loop_new(&b->loop) < 0)
        die("loop", -ENOMEM);
    open_ends(b, ends + conns, fds, conns, 1, pmd);
    cpu0 = bench_cpu_s();
    if (b->mode != M_OUT)
        start(b, ends + conns, conns, seconds);
    run(b);
    rep.cpu = bench_cpu_s() - cpu0;
    rep.count = (double)(b->mode == M_ECHO  ? b->rounds
                         : b->mode == M_OUT ? b->got
                                            : b->sent);
    rep.seconds = b->mode == M_IN ? (b->t1 - b->t0) / 1e6 : 0;
    failed = b->failed || write(wfd, &rep, sizeof rep) != sizeof rep;
    free_all(b, fds, ends);
    _exit(failed ? BENCH_EXIT_FAIL : 0);
}

/* The bulk modes' line; 0, or 1 when the counts disagree. */
static int print_bulk(const bench *b, int one, int tcp, int deflate,
                      const report *rep, double cpu)
{
    uint64_t sent = b->sent, got = b->got;
    double secs = (b->t1 - b->t0) / 1e6;

    if (!one && b->mode == M_OUT)
        got = (uint64_t)rep->count;
    if (!one && b->mode == M_IN) {
        sent = (uint64_t)rep->count;
        secs = rep->seconds;
    }
    if (sent == 0 || sent != got || !(secs > 0)) {
        fprintf(stderr, "%s: %llu messages sent, %llu received\n", prog,
                (unsigned long long)sent, (unsigned long long)got);
        return 1;
    }
    printf("ws_bulk mode=%s lib=%s bytes=%zu depth=%d transport=%s "
           "deflate=%d procs=%d messages=%llu seconds=%.3f MiB_s=%.1f "
           "server_cpu_s=%.3f client_cpu_s=%.3f\n",
           mode_names[b->mode], EDDY_BENCH_LIB, b->bytes, b->depth,
           tcp ? "tcp" : "unix", deflate, one ? 1 : 2, (unsigned long long)sent,
           secs, (double)sent * (double)b->bytes / (1 << 20) / secs, cpu,
           one ? 0.0 : rep->cpu);
    return 0;
}

int main(int argc, char **argv)
{
    int conns = 50, tcp = 0, deflate = 0, one = 0, opt, p[2], status;
    long bytes = -1, seconds = 2;
    int(*fds)[2];
    end *ends;
    bench b = {.depth = 4};
    double t0, t1, cpu0, cpu1;
    report rep = {0, 0, 0};
    const eddy__ws_pmd pmd = {0, 0, 15, 15};
    pid_t pid = 0;

    while ((opt = getopt(argc, argv, "m:c:s:d:n:q:t:z1")) != -1) {
        switch (opt) {
        case 'm':
            for (b.mode = 0; b.mode <= M_IN; b.mode++)
                if (strcmp(optarg, mode_names[b.mode]) == 0)
                    break;
            if (b.mode > M_IN)
                usage();
            break;
        case 'c':
            conns = (int)bench_parse_long(prog, opt, optarg, 1, 10000);
            break;
        case 's':
            bytes = bench_parse_long(prog, opt, optarg, 0, 8 << 20);
            break;
        case 'd':
            seconds = bench_parse_long(prog, opt, optarg, 1, 3600);
            break;
        case 'n':
            b.count =
                (uint64_t)bench_parse_long(prog, opt, optarg, 1, 1L << 40);
            break;
        case 'q':
            b.depth = (int)bench_parse_long(prog, opt, optarg, 1, 1024);
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
    if (b.mode != M_ECHO)
        conns = 1;
    if (bytes < 0)
        bytes = b.mode == M_ECHO ? 64 : 1 << 20;
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
        b.msg[i] = b.mode == M_ECHO ? (uint8_t)('a' + i % 26) : pattern_at(i);
    if (b.mode != M_ECHO)
        make_slots(&b);
    make_pairs(fds, conns, tcp);
    if (!one) {
        if (pipe(p) != 0 || (pid = fork()) < 0)
            die("fork", -errno);
        if (pid == 0) {
            close(p[0]);
            child(&b, ends, fds, conns, p[1], (double)seconds,
                  deflate ? &pmd : NULL);
        }
        close(p[1]);
        for (int i = 0; i < conns; i++)
            close(fds[i][1]);
        if (b.mode != M_ECHO)
            pin(0);
    }
    if (eddy_loop_new(&b.loop) < 0)
        die("loop", -ENOMEM);
    open_ends(&b, ends, fds, conns, 0, deflate ? &pmd : NULL);
    if (one)
        open_ends(&b, ends + conns, fds, conns, 1, deflate ? &pmd : NULL);
    t0 = bench_now_us();
    cpu0 = bench_cpu_s();
    if (b.mode == M_OUT)
        start(&b, ends, conns, (double)seconds);
    else if (one)
        start(&b, ends + conns, conns, (double)seconds);
    run(&b);
    t1 = bench_now_us();
    cpu1 = bench_cpu_s();
    if (!one) {
        if (read(p[0], &rep, sizeof rep) != sizeof rep ||
            waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            b.failed = 1;
        close(p[0]);
    }
    if (b.mode != M_ECHO) {
        b.failed =
            b.failed || print_bulk(&b, one, tcp, deflate, &rep, cpu1 - cpu0);
    } else if (b.failed || b.echoes == 0) {
        b.failed = 1;
    } else {
        printf("ws_echo lib=%s conns=%d bytes=%zu transport=%s deflate=%d "
               "procs=%d messages=%llu seconds=%.3f msgs_s=%.0f "
               "server_cpu_us=%.3f client_cpu_us=%.3f\n",
               EDDY_BENCH_LIB, conns, b.bytes, tcp ? "tcp" : "unix", deflate,
               one ? 1 : 2, (unsigned long long)b.echoes, (t1 - t0) / 1e6,
               (double)b.echoes / ((t1 - t0) / 1e6),
               (cpu1 - cpu0) * 1e6 / (double)b.echoes,
               one ? 0.0 : rep.cpu * 1e6 / (double)b.echoes);
    }
    free_all(&b, fds, ends);
    return b.failed ? BENCH_EXIT_FAIL : 0;
}
