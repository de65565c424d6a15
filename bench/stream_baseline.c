/*
 * bench/stream_baseline.c - what bench/stream_bench.c measures, done with
 * plain read()/write() and no library: the yardstick for eddy's streams.
 *
 *   stream_baseline [-m tcp|unix|pingpong|all] [-t 1|2] [-s BYTES]
 *                   [-c CHUNK] [-q DEPTH] [-r READ] [-n ROUNDTRIPS]
 *                   [-d SECONDS]
 *
 * The same work, the same options, the same lines with lib=raw (see
 * stream_bench.c for what each mode moves and checks):
 *
 *   tcp, unix  write() of CHUNK bytes (256 KiB) at a time, read() of at most
 *              READ bytes (64 KiB) at a time until EOF; the same count and
 *              pattern checks.  -q (writes in flight) is accepted and
 *              ignored: a write() call has one chunk in flight.
 *   pingpong   write() 1 byte, read() it at the other end, write() it back,
 *              read() it; TCP_NODELAY on both ends; every value checked.
 *
 * What "a plain read()/write() loop doing the same work" means here:
 *   -t 2  Two threads, pinned to two CPUs like eddy's, with blocking
 *         sockets: the sender loops on write(), the receiver on read(), the
 *         ponger on read() then write().  No poll at all: the kernel does
 *         the waiting inside read() and write().
 *   -t 1  One thread cannot block on one end while the other needs it, so
 *         both ends are non-blocking; a pump pass writes until EAGAIN, then
 *         reads until EAGAIN, and calls poll() only when neither moved a
 *         byte; ping-pong reads at once and poll()s only on EAGAIN.  It
 *         makes the fewest system calls that work, so eddy's cost shows.
 *
 * Exit status: 0 ok; 1 a wrong byte or count, an error, or the time limit
 * passed in a pump; 2 usage.  Everything runs on loopback.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

#define STREAM_PROG "stream_baseline"
#include "stream_common.h"

/* --- the two ends, as plain read()/write() -------------------------------- */

static void set_nonblocking(int fd)
{
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        fail("fcntl: %s", strerror(errno));
}

static void set_nodelay(int fd)
{
    int one = 1;

    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        fail("TCP_NODELAY: %s", strerror(errno));
}

/* Waits until fd can do events; only -t 1 needs this. */
static void wait_for(int fd, short events)
{
    struct pollfd p = {fd, events, 0};

    if (poll(&p, 1, -1) < 0 && errno != EINTR)
        fail("poll: %s", strerror(errno));
}

/* The write() at stream offset pos: the rest of the chunk it falls in. */
static ssize_t write_at(int fd, uint64_t pos)
{
    size_t off = (size_t)(pos % o.chunk), n = o.chunk - off;

    if (n > o.bytes - pos)
        n = (size_t)(o.bytes - pos);
    return write(fd, pattern + off, n);
}

/* -t 2: the sender's whole life, blocking. */
static void send_all(int fd)
{
    for (uint64_t pos = 0; pos < o.bytes;) {
        ssize_t w = write_at(fd, pos);

        if (w < 0 && errno != EINTR)
            fail("write: %s", strerror(errno));
        if (w > 0)
            pos += (uint64_t)w;
    }
    close(fd);
}

/* -t 2: the receiver, blocking, until EOF.  Returns the bytes read. */
static uint64_t receive_all(int fd, char *buf)
{
    uint64_t got = 0;

    for (;;) {
        ssize_t r = read(fd, buf, o.rchunk);

        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("read: %s", strerror(errno));
        check_piece(buf, (size_t)r, got);
        got += (uint64_t)r;
    }
    close(fd);
    return got;
}

/* -t 1: both ends of the pump on one thread.  Returns the bytes read. */
static uint64_t pump_one_thread(int wfd, int rfd, char *buf)
{
    uint64_t sent = 0, got = 0;
    int eof = 0;

    set_nonblocking(wfd);
    set_nonblocking(rfd);
    while (!eof) {
        int moved = 0;
        ssize_t n;

        while (sent < o.bytes && (n = write_at(wfd, sent)) > 0) {
            sent += (uint64_t)n;
            moved = 1;
        }
        if (sent < o.bytes && errno != EAGAIN && errno != EINTR)
            fail("write: %s", strerror(errno));
        if (sent == o.bytes && wfd >= 0) {
            close(wfd);
            wfd = -1;
        }
        while ((n = read(rfd, buf, o.rchunk)) > 0) {
            check_piece(buf, (size_t)n, got);
            got += (uint64_t)n;
            moved = 1;
        }
        if (n == 0)
            eof = 1;
        else if (errno != EAGAIN && errno != EINTR)
            fail("read: %s", strerror(errno));
        if (!moved && !eof) {
            struct pollfd p[2] = {{rfd, POLLIN, 0}, {wfd, POLLOUT, 0}};

            if (poll(p, wfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
                fail("poll: %s", strerror(errno));
        }
    }
    close(rfd);
    return got;
}

/* Moves one byte; on a non-blocking fd, waits for it with poll(). */
static int move_byte(int fd, unsigned char *b, int out)
{
    for (;;) {
        ssize_t n = out ? write(fd, b, 1) : read(fd, b, 1);

        if (n >= 0)
            return (int)n;
        if (errno == EAGAIN)
            wait_for(fd, out ? POLLOUT : POLLIN);
        else if (errno != EINTR)
            fail("%s: %s", out ? "write" : "read", strerror(errno));
    }
}

/* The ponger: echoes bytes until EOF (all of -t 2's peer; one step of
 * -t 1).  Returns 0 at EOF. */
static int pong(int fd, uint64_t *count)
{
    unsigned char b;

    if (move_byte(fd, &b, 0) == 0)
        return 0;
    if (b != (unsigned char)*count)
        fail("ping %llu: expected %u, got %u", (unsigned long long)*count,
             (unsigned char)*count, b);
    ++*count;
    if (move_byte(fd, &b, 1) != 1)
        fail("pong: short write");
    return 1;
}

/* The pinger; with -t 1 it plays the ponger too.  Returns round trips. */
static uint64_t ping_pong(int fd, int peer_fd, double *t_end)
{
    uint64_t n = 0, pongs = 0;

    while (n < o.rounds && (n % 1024 != 0 || n == 0 || now_s() < deadline)) {
        unsigned char b = (unsigned char)n;

        if (move_byte(fd, &b, 1) != 1)
            fail("ping: short write");
        if (peer_fd >= 0 && pong(peer_fd, &pongs) == 0)
            fail("ping: EOF");
        if (move_byte(fd, &b, 0) != 1)
            fail("echo: EOF");
        if (b != (unsigned char)n)
            fail("round trip %llu: sent %u, got %u back", (unsigned long long)n,
                 (unsigned char)n, b);
        n++;
    }
    *t_end = now_s();
    close(fd);
    return n;
}

struct peer {
    int fd, pingpong;
    pthread_barrier_t *go;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    uint64_t count = 0;

    pin(1);
    pthread_barrier_wait(p->go);
    if (!p->pingpong) {
        send_all(p->fd);
        return NULL;
    }
    while (pong(p->fd, &count))
        ;
    close(p->fd);
    return NULL;
}

/* One measurement: returns the timed seconds, the CPU seconds in *cpu,
 * and the bytes or round trips in *done. */
static double measure(int mode, double *cpu, uint64_t *done)
{
    int pp = mode == M_PINGPONG, fds[2];
    struct peer peer = {0};
    pthread_barrier_t go;
    pthread_t thread;
    double t0, c0, t_end;
    char *buf = malloc(o.rchunk);

    if (buf == NULL)
        fail("out of memory");
    make_pair(mode != M_UNIX, fds);
    if (pp) {
        set_nodelay(fds[0]);
        set_nodelay(fds[1]);
    }
    alarm(o.limit_s + (pp ? 10 : 0));
    if (o.threads == 2) {
        pin(0);
        pthread_barrier_init(&go, NULL, 2);
        peer.fd = pp ? fds[1] : fds[0];
        peer.pingpong = pp;
        peer.go = &go;
        if (pthread_create(&thread, NULL, peer_main, &peer) != 0)
            fail("pthread_create failed");
        pthread_barrier_wait(&go);
    } else if (pp) {
        set_nonblocking(fds[0]);
        set_nonblocking(fds[1]);
    }
    t0 = now_s();
    c0 = cpu_s();
    deadline = t0 + o.limit_s;
    if (pp) {
        *done = ping_pong(fds[0], o.threads == 1 ? fds[1] : -1, &t_end);
    } else {
        *done = o.threads == 1 ? pump_one_thread(fds[0], fds[1], buf)
                               : receive_all(fds[1], buf);
        t_end = now_s();
    }
    if (o.threads == 2) {
        pthread_join(thread, NULL);
        pthread_barrier_destroy(&go);
    } else if (pp) {
        close(fds[1]);
    }
    *cpu = cpu_s() - c0;
    alarm(0);
    free(buf);
    if (pp ? *done == 0 || *done > o.rounds : *done != o.bytes)
        fail("moved %llu %s, not %llu", (unsigned long long)*done,
             pp ? "round trips" : "bytes",
             (unsigned long long)(pp ? o.rounds : o.bytes));
    return t_end - t0;
}

int main(int argc, char **argv)
{
    return stream_main(argc, argv, "raw");
}
