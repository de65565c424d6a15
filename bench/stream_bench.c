/*
 * bench/stream_bench.c - eddy streams: bulk throughput and ping-pong.
 *
 *   stream_bench [-m tcp|unix|pingpong|all] [-t 1|2] [-s BYTES] [-c CHUNK]
 *                [-q DEPTH] [-r READ] [-n ROUNDTRIPS] [-d SECONDS]
 *
 * bench/stream_baseline.c does the same work with plain read()/write() and
 * prints the same lines with lib=raw; bench/stream.sh runs the two in turn
 * and prints the ratios.
 *
 *   tcp, unix  One stream pumps BYTES (default 1 GiB) to another over a
 *              loopback TCP connection or an AF_UNIX socketpair.  The sender
 *              queues CHUNK-byte (256 KiB) eddy_stream_write_ref()s, keeps
 *              DEPTH (4) in flight by queuing the next one from each write
 *              callback, and closes after the last.  The receiver takes the
 *              bytes with eddy_stream_read_stream() until EOF, at most READ
 *              (64 KiB, eddy's default read_chunk_size) per read(2).
 *              Timed from the first write to EOF.  The byte count is
 *              checked, and the first and last byte of every piece against
 *              the pattern the sender wrote.
 *   pingpong   libuv's ping_pongs over loopback TCP with TCP_NODELAY: one
 *              stream writes 1 byte (eddy_stream_write, as a small reply
 *              would be sent), the other reads it (read_bytes 1) and writes
 *              it back; ROUNDTRIPS (100,000) times, or until SECONDS pass.
 *              Every byte's value is checked at both ends.
 *
 * Over TCP, the end on the main thread (the receiver, the pinger) is one
 * that eddy's TCP server accepted and handed over, as a server's would
 * be; the other end is a plain connected socket wrapped in a stream.
 *
 * Where the two ends run, -t:
 *   2 (default)  On two threads, each with its own loop and pinned to its
 *                own CPU (the first two the process may use): a process
 *                talking to a peer, which is how a user meets a stream.
 *                The baseline is two threads with blocking sockets, the
 *                plainest read()/write() loop there is.
 *   1            Both streams in one loop on one thread.  Nobody waits for
 *                anybody, so this measures the library's CPU cost per byte
 *                and per message, without scheduler noise.  The baseline is
 *                one thread with non-blocking sockets that writes until
 *                EAGAIN, reads until EAGAIN and poll()s only when neither
 *                moved.
 *
 * One line per mode on stdout:
 *   stream mode=tcp lib=eddy threads=2 bytes=.. seconds=.. MiB_s=.. cpu_s=..
 *   stream mode=pingpong lib=eddy threads=2 roundtrips=.. seconds=..
 *          rt_per_s=.. cpu_s=..
 * cpu_s is the process's CPU time (both ends) over the timed part.
 * Exit status: 0 ok; 1 a wrong byte or count, an error, or SECONDS (default
 * 60) passed in a pump; 2 usage.  Everything runs on loopback.
 */
#define _GNU_SOURCE
#include <eddy/ioloop.h>
#include <eddy/iostream.h>
#include <eddy/tcp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STREAM_PROG "stream_bench"
#include "stream_common.h"

/* --- the two ends, as eddy streams ---------------------------------------- */

enum role { SENDER, RECEIVER, PINGER, PONGER };

struct end {
    enum role role;
    eddy_loop *loop;
    eddy_stream *s;
    int *live;    /* streams still open on this loop; it stops at 0 */
    uint64_t pos; /* bytes queued, bytes received, or round trips */
    int inflight; /* sender: writes queued and not yet called back */
    double t_end; /* receiver, pinger: when the work was done */
};

static void on_closed(eddy_stream *s, int status, void *arg)
{
    struct end *e = arg;

    (void)s;
    if (status != 0 && status != EDDY_EOF)
        fail("stream closed: %s", eddy_strerror(status));
    if (--*e->live == 0)
        eddy_loop_stop(e->loop);
}

static void on_sent(eddy_stream *s, int status, void *arg);

/* Keeps o.depth writes in flight until all bytes are queued. */
static void send_more(struct end *e)
{
    while (e->inflight < o.depth && e->pos < o.bytes) {
        size_t n =
            o.bytes - e->pos < o.chunk ? (size_t)(o.bytes - e->pos) : o.chunk;
        int err = eddy_stream_write_ref(e->s, pattern, n, on_sent, e);

        if (err != 0)
            fail("eddy_stream_write_ref: %s", eddy_strerror(err));
        e->pos += n;
        e->inflight++;
    }
}

static void on_sent(eddy_stream *s, int status, void *arg)
{
    struct end *e = arg;

    if (status != 0)
        fail("write: %s", eddy_strerror(status));
    e->inflight--;
    send_more(e);
    if (e->inflight == 0)
        eddy_stream_close(s); /* all out: the receiver sees EOF */
}

static void on_piece(eddy_stream *s, int status, const char *data, size_t len,
                     void *arg)
{
    struct end *e = arg;

    if (status < 0)
        fail("read: %s", eddy_strerror(status));
    check_piece(data, len, e->pos);
    e->pos += len;
    if (status == 0) { /* EOF */
        e->t_end = now_s();
        eddy_stream_close(s);
    }
}

static void on_echo(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg);

static void ping(struct end *e)
{
    unsigned char b = (unsigned char)e->pos;
    int err = eddy_stream_write(e->s, &b, 1, NULL, NULL);

    if (err == 0)
        err = eddy_stream_read_bytes(e->s, 1, 0, on_echo, e);
    if (err != 0)
        fail("ping: %s", eddy_strerror(err));
}

static void on_echo(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    struct end *e = arg;

    if (status != 0 || len != 1)
        fail("echo: %s", eddy_strerror(status));
    if ((unsigned char)data[0] != (unsigned char)e->pos)
        fail("round trip %llu: sent %u, got %u back",
             (unsigned long long)e->pos, (unsigned char)e->pos,
             (unsigned char)data[0]);
    e->pos++;
    if (e->pos == o.rounds || (e->pos % 1024 == 0 && now_s() >= deadline)) {
        e->t_end = now_s();
        eddy_stream_close(s);
        return;
    }
    ping(e);
}

static void on_ping(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    struct end *e = arg;
    int err;

    if (status == EDDY_EOF && len == 0) { /* the pinger is done */
        eddy_stream_close(s);
        return;
    }
    if (status != 0 || len != 1)
        fail("ping: %s", eddy_strerror(status));
    if ((unsigned char)data[0] != (unsigned char)e->pos)
        fail("ping %llu: expected %u, got %u", (unsigned long long)e->pos,
             (unsigned char)e->pos, (unsigned char)data[0]);
    e->pos++;
    err = eddy_stream_write(s, data, 1, NULL, NULL);
    if (err == 0)
        err = eddy_stream_read_bytes(s, 1, 0, on_ping, e);
    if (err != 0)
        fail("pong: %s", eddy_strerror(err));
}

/* Wraps fd in a stream on loop (fd -1: e->s is one already) and makes
 * the reads that wait for data. */
static void end_open(struct end *e, enum role role, eddy_loop *loop, int fd,
                     int *live)
{
    eddy_stream_options opt = {0};
    int err = 0;

    e->role = role;
    e->loop = loop;
    e->live = live;
    opt.read_chunk_size = o.rchunk;
    if (fd >= 0)
        err = eddy_stream_new(loop, fd, &opt, &e->s);
    if (err != 0)
        fail("eddy_stream_new: %s", eddy_strerror(err));
    ++*live;
    eddy_stream_set_close_callback(e->s, on_closed, e);
    if (role == PINGER || role == PONGER)
        err = eddy_stream_set_nodelay(e->s, 1);
    if (err == 0 && role == RECEIVER)
        err = eddy_stream_read_stream(e->s, SIZE_MAX, on_piece, e);
    if (err == 0 && role == PONGER)
        err = eddy_stream_read_bytes(e->s, 1, 0, on_ping, e);
    if (err != 0)
        fail("starting a stream: %s", eddy_strerror(err));
}

static void end_start(struct end *e)
{
    if (e->role == SENDER)
        send_more(e);
    else if (e->role == PINGER)
        ping(e);
}

static void run_loop(eddy_loop *loop)
{
    int err = eddy_loop_run(loop);

    if (err != 0)
        fail("eddy_loop_run: %s", eddy_strerror(err));
}

static eddy_loop *new_loop(void)
{
    eddy_loop *loop;
    int err = eddy_loop_new(&loop);

    if (err != 0)
        fail("eddy_loop_new: %s", eddy_strerror(err));
    return loop;
}

/* -t 2: the sender or ponger, on its own thread with its own loop. */
struct peer {
    struct end end;
    enum role role;
    int fd;
    pthread_barrier_t *go;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    eddy_loop *loop;
    int live = 0;

    pin(1);
    loop = new_loop();
    end_open(&p->end, p->role, loop, p->fd, &live);
    pthread_barrier_wait(p->go);
    end_start(&p->end);
    run_loop(loop);
    eddy_loop_close(loop, 0);
    return NULL;
}

static void on_accepted(eddy_tcp_server *srv, eddy_stream *s,
                        const struct sockaddr *peer, socklen_t len, void *arg)
{
    (void)srv;
    (void)peer;
    (void)len;
    *(eddy_stream **)arg = s;
}

/* A TCP connection whose one end eddy's TCP server accepted on loop (the
 * stream to *accepted) and whose other end is a plain socket (returned). */
static int accept_pair(eddy_loop *loop, eddy_stream **accepted)
{
    eddy_tcp_server_options so = {0};
    struct sockaddr_in a = {0};
    eddy_tcp_server *srv;
    int fd, err;

    so.stream.read_chunk_size = o.rchunk;
    *accepted = NULL;
    err = eddy_tcp_server_new(loop, &so, on_accepted, accepted, &srv);
    if (err == 0)
        err = eddy_tcp_server_listen(srv, 0, "127.0.0.1");
    if (err != 0)
        fail("the TCP server: %s", eddy_strerror(err));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)eddy_tcp_server_port(srv));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail("connect to 127.0.0.1: %s", strerror(errno));
    for (int i = 0; i < 1000 && *accepted == NULL; i++)
        if ((err = eddy_loop_run_once(loop, 10)) != 0)
            fail("eddy_loop_run_once: %s", eddy_strerror(err));
    if (*accepted == NULL)
        fail("the TCP server accepted nothing");
    eddy_tcp_server_free(srv); /* the stream stays */
    return fd;
}

/* One measurement: returns the timed seconds, the CPU seconds in *cpu,
 * and the bytes or round trips in *done. */
static double measure(int mode, double *cpu, uint64_t *done)
{
    int pp = mode == M_PINGPONG, fds[2], live = 0;
    enum role mine = pp ? PINGER : RECEIVER, theirs = pp ? PONGER : SENDER;
    struct end me = {0}, other = {0};
    struct peer peer = {0};
    pthread_barrier_t go;
    pthread_t thread;
    eddy_loop *loop;
    double t0, c0;

    alarm(o.limit_s + (pp ? 10 : 0));
    loop = new_loop();
    if (mode == M_UNIX) {
        make_pair(0, fds);
        end_open(&me, mine, loop, fds[1], &live);
    } else {
        fds[0] = accept_pair(loop, &me.s);
        end_open(&me, mine, loop, -1, &live);
    }
    if (o.threads == 1) {
        end_open(&other, theirs, loop, fds[0], &live);
    } else {
        pin(0);
        pthread_barrier_init(&go, NULL, 2);
        peer.role = theirs;
        peer.fd = fds[0];
        peer.go = &go;
        if (pthread_create(&thread, NULL, peer_main, &peer) != 0)
            fail("pthread_create failed");
        pthread_barrier_wait(&go);
    }
    t0 = now_s();
    c0 = cpu_s();
    deadline = t0 + o.limit_s;
    if (o.threads == 1)
        end_start(&other);
    end_start(&me);
    run_loop(loop);
    if (o.threads == 2) {
        pthread_join(thread, NULL);
        pthread_barrier_destroy(&go);
    }
    *cpu = cpu_s() - c0;
    eddy_loop_close(loop, 0);
    alarm(0);
    if (pp) {
        if (me.pos == 0 || me.pos > o.rounds)
            fail("%llu round trips", (unsigned long long)me.pos);
    } else if (me.pos != o.bytes) {
        fail("received %llu bytes of %llu", (unsigned long long)me.pos,
             (unsigned long long)o.bytes);
    }
    *done = me.pos;
    return me.t_end - t0;
}

int main(int argc, char **argv)
{
    return stream_main(argc, argv, "eddy");
}
