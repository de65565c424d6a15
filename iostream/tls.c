/*
 * iostream/tls.c - what a TLS connection does the same whatever library
 * encrypts it: the bytes under TLS (the socket, read and written without
 * SIGPIPE, after the bytes read before TLS started) and the test hook
 * that makes them fail at random.
 *
 * It must never know a TLS library, never raise SIGPIPE, and never keep
 * state outside the connection it is given.
 */
#define _GNU_SOURCE
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: the stream set SO_NOSIGPIPE */
#endif

static ssize_t sys_recv(eddy__tls *t, void *buf, size_t len)
{
    ssize_t r;

    do
        r = recv(t->fd, buf, len, 0);
    while (r < 0 && errno == EINTR);
    return r >= 0 ? r : -errno;
}

static ssize_t sys_send(eddy__tls *t, const void *buf, size_t len)
{
    ssize_t r;

    do
        r = send(t->fd, buf, len, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r >= 0 ? r : -errno;
}

void eddy__tls_init(eddy__tls *t, const eddy__tls_ops *ops, eddy_loop *loop,
                    int fd)
{
    t->ops = ops;
    t->loop = loop;
    t->fd = fd;
    t->state = EDDY__TLS_HANDSHAKE | EDDY__TLS_TRY;
    t->rwant = t->hswant = EDDY_READ;
    t->wwant = EDDY_WRITE;
    t->recv = sys_recv;
    t->send = sys_send;
}

void eddy__tls_release(eddy__tls *t)
{
    free(t->pre);
    free(t->fault);
    t->pre = NULL;
    t->fault = NULL;
}

int eddy__tls_preread(eddy__tls *t, const char *p, size_t n)
{
    size_t left = t->pre != NULL ? t->pre_len - t->pre_off : 0;
    char *b;

    if (n == 0)
        return 0;
    if ((b = malloc(left + n)) == NULL)
        return -ENOMEM;
    if (left > 0)
        memcpy(b, t->pre + t->pre_off, left);
    memcpy(b + left, p, n);
    free(t->pre);
    t->pre = b;
    t->pre_len = left + n;
    t->pre_off = 0;
    return 0;
}

ssize_t eddy__tls_read_raw(eddy__tls *t, void *buf, size_t len)
{
    ssize_t r;

    if (t->pre != NULL) {
        size_t k =
            t->pre_len - t->pre_off < len ? t->pre_len - t->pre_off : len;

        memcpy(buf, t->pre + t->pre_off, k);
        if ((t->pre_off += k) == t->pre_len) {
            free(t->pre);
            t->pre = NULL;
        }
        return (ssize_t)k;
    }
    r = t->recv(t, buf, len);
    if (r == 0)
        t->eof = 1;
    else if (r < 0 && r != -EAGAIN && r != -EWOULDBLOCK)
        t->io_err = (int)-r;
    return r;
}

ssize_t eddy__tls_write_raw(eddy__tls *t, const void *buf, size_t len)
{
    ssize_t r = t->send(t, buf, len);

    if (r < 0 && r != -EAGAIN && r != -EWOULDBLOCK)
        t->io_err = (int)-r;
    return r;
}

/* --- the test hook ------------------------------------------------------ */

struct eddy__tls_fault {
    eddy_stream *stream;
    const eddy__tls_ops *inner;
    ssize_t (*recv)(eddy__tls *t, void *buf, size_t len);
    ssize_t (*send)(eddy__tls *t, const void *buf, size_t len);
    uint64_t x; /* xorshift64 state */
    unsigned percent;
    unsigned long counts[3]; /* I/O faults, reads sent to wait for WRITE,
                                writes sent to wait for READ */
};

static unsigned fault_draw(struct eddy__tls_fault *f, unsigned n)
{
    f->x ^= f->x << 13;
    f->x ^= f->x >> 7;
    f->x ^= f->x << 17;
    return (unsigned)(f->x % n);
}

/* A fault this time?  Then sometimes EAGAIN, sometimes a shorter length. */
static ssize_t fault_io(eddy__tls *t, size_t *len)
{
    struct eddy__tls_fault *f = t->fault;

    if (*len == 0 || fault_draw(f, 100) >= f->percent)
        return 0;
    f->counts[0]++;
    if (fault_draw(f, 2) == 0)
        return -EAGAIN;
    *len = 1 + fault_draw(f, *len < 4096 ? (unsigned)*len : 4096u);
    return 0;
}

static ssize_t fault_recv(eddy__tls *t, void *buf, size_t len)
{
    ssize_t r = fault_io(t, &len);

    return r != 0 ? r : t->fault->recv(t, buf, len);
}

static ssize_t fault_send(eddy__tls *t, const void *buf, size_t len)
{
    ssize_t r = fault_io(t, &len);

    return r != 0 ? r : t->fault->send(t, buf, len);
}

/* Whether the fd is ready for events now, without waiting. */
static int ready_now(int fd, short events)
{
    struct pollfd p = {fd, events, 0};

    return poll(&p, 1, 0) == 1 && (p.revents & events);
}

/* The stream-facing wrappers: a read that waits for WRITE, a write that
 * waits for READ, when that event will come: the fd is ready for it now,
 * and the stream will not undo that itself (fill the socket with its own
 * writes, or empty it with its reads).  Else the stream would wait for an
 * event that never comes, which real TLS does not ask for: its read waits
 * to write what it has to, which the peer's reading makes room for. */
static ssize_t fault_read(eddy__tls *t, void *buf, size_t len)
{
    if (!(t->state & EDDY__TLS_HANDSHAKE) &&
        fault_draw(t->fault, 100) < t->fault->percent &&
        eddy_stream_write_buffered(t->fault->stream) == 0 &&
        ready_now(t->fd, POLLOUT)) {
        t->fault->counts[1]++;
        t->rwant = EDDY_WRITE;
        return -EAGAIN;
    }
    return t->fault->inner->read(t, buf, len);
}

static ssize_t fault_writev(eddy__tls *t, const struct iovec *iov, int n)
{
    if (fault_draw(t->fault, 100) < t->fault->percent &&
        !eddy_stream_reading(t->fault->stream) && ready_now(t->fd, POLLIN)) {
        t->fault->counts[2]++;
        t->wwant = EDDY_READ;
        return -EAGAIN;
    }
    return t->fault->inner->writev(t, iov, n);
}

static int fault_handshake(eddy__tls *t)
{
    return t->fault->inner->handshake(t);
}

static int fault_pending(eddy__tls *t)
{
    return t->fault->inner->pending(t);
}

static int fault_shutdown(eddy__tls *t, int wait)
{
    return t->fault->inner->shutdown(t, wait);
}

static void fault_free(eddy__tls *t)
{
    t->ops = t->fault->inner;
    t->ops->free(t);
}

static const eddy__tls_ops fault_ops = {
    fault_read,    fault_writev,   fault_handshake,
    fault_pending, fault_shutdown, fault_free,
};

int eddy__stream_tls_faults(eddy_stream *s, uint64_t seed, unsigned percent,
                            unsigned long counts[3])
{
    eddy__tls *t = eddy__stream_tls(s);
    struct eddy__tls_fault *f;

    if (t == NULL)
        return -EINVAL;
    if ((f = t->fault) == NULL) {
        if ((f = calloc(1, sizeof *f)) == NULL)
            return -ENOMEM;
        f->stream = s;
        f->inner = t->ops;
        f->recv = t->recv;
        f->send = t->send;
        t->fault = f;
        t->ops = &fault_ops;
        t->recv = fault_recv;
        t->send = fault_send;
    }
    if (counts != NULL)
        memcpy(counts, f->counts, sizeof f->counts);
    f->x = seed != 0 ? seed : 0x9e3779b97f4a7c15u;
    f->percent = percent > 100 ? 100 : percent;
    return 0;
}
