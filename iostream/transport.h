/*
 * iostream/transport.h - the seam between a stream (stream.c) and the TLS
 * library under it (tls_openssl.c; tls_none.c when there is none), with
 * the library-neutral part in tls.c.
 *
 * A plain stream calls read(2) and sendmsg(2) itself and never comes
 * here: its only cost is a test of s->tls.  A TLS stream calls its
 * eddy__tls's ops instead, which speak like read(2) and writev(2) but
 * return a negative errno (or an EDDY_TLS_* code) instead of setting
 * errno.  -EAGAIN means "call again once the events in rwant (a read),
 * wwant (a write) or hswant (the handshake) are reported": OpenSSL's
 * WANT_WRITE during a read and WANT_READ during a write.  A write that
 * returned -EAGAIN must be retried with the same bytes first.
 *
 * Under the TLS library the bytes go through t->recv and t->send: recv(2)
 * and send(2) with MSG_NOSIGNAL on the socket, or the test hook's
 * wrappers around them.  The library never touches the fd itself.
 *
 * Public headers never include this file.
 */
#ifndef EDDY_TRANSPORT_H
#define EDDY_TRANSPORT_H

#include "../ioloop/loop_internal.h"
#include "eddy/tls.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct eddy__tls eddy__tls;

/* One TLS library's operations on one connection. */
typedef struct eddy__tls_ops {
    /* Bytes read (> 0), 0 at the peer's close_notify, or an error. */
    ssize_t (*read)(eddy__tls *t, void *buf, size_t len);
    /* Bytes of iov taken (> 0), or an error. */
    ssize_t (*writev)(eddy__tls *t, const struct iovec *iov, int n);
    /* 0 once the handshake is done, -EAGAIN, or an error. */
    int (*handshake)(eddy__tls *t);
    /* Non-zero when a read would find bytes without the fd being ready:
     * plaintext decrypted and not yet read, or bytes held in pre. */
    int (*pending)(eddy__tls *t);
    /* Sends close_notify, once.  wait 0: if it can, at once, never
     * waiting and never failing (a stream closing).  wait 1: 0 once it
     * is sent, -EAGAIN (wwant says for what; call again), or an error
     * (eddy_stream_shutdown_write). */
    int (*shutdown)(eddy__tls *t, int wait);
    void (*free)(eddy__tls *t);
} eddy__tls_ops;

enum {
    EDDY__TLS_HANDSHAKE = 1 << 0, /* handshaking */
    EDDY__TLS_TRY = 1 << 1,       /* the handshake may progress: try it */
    EDDY__TLS_DONE = 1 << 2,      /* handshake done; its callback is owed */
    EDDY__TLS_UP = 1 << 3,        /* handshake done */
    EDDY__TLS_FATAL = 1 << 4,     /* an error: no more TLS calls but free */
    EDDY__TLS_SHUT = 1 << 5,      /* close_notify sent: no more writes */
};

/* The part of a connection every TLS library shares; the library's own
 * struct begins with it. */
struct eddy__tls {
    const eddy__tls_ops *ops;
    eddy_loop *loop;
    int fd;
    unsigned state;
    unsigned rwant, wwant, hswant; /* EDDY_READ or EDDY_WRITE */
    int io_err; /* the errno of the last failed recv or send, or 0 */
    int eof;    /* recv returned 0 */

    /* The handshake's callback and timer (stream.c). */
    eddy_stream_cb cb;
    void *arg;
    eddy_timer_id timer;

    /* Bytes the stream had read before TLS started: read before the fd. */
    char *pre;
    size_t pre_off, pre_len;

    /* The fd's I/O: recv/send, or the test hook's wrappers. */
    ssize_t (*recv)(eddy__tls *t, void *buf, size_t len);
    ssize_t (*send)(eddy__tls *t, const void *buf, size_t len);
    struct eddy__tls_fault *fault;
};

/* tls_openssl.c (or tls_none.c): a connection in ctx's role over fd, in
 * the handshake.  server_name: see eddy_stream_start_tls().  Errors:
 * -EINVAL, -ENOMEM, -ENOTSUP. */
EDDY_HIDDEN int eddy__tls_new(eddy_tls_ctx *ctx, eddy_loop *loop, int fd,
                              const char *server_name, eddy__tls **out);

/* tls.c: what every library's eddy__tls_new and free do. */
EDDY_HIDDEN void eddy__tls_init(eddy__tls *t, const eddy__tls_ops *ops,
                                eddy_loop *loop, int fd);
EDDY_HIDDEN void eddy__tls_release(eddy__tls *t);
/* Keeps a copy of the bytes the stream read before TLS: the library reads
 * them first.  Errors: -ENOMEM. */
EDDY_HIDDEN int eddy__tls_preread(eddy__tls *t, const char *p, size_t n);
/* What the library's BIO (or equivalent) calls: pre, then t->recv; and
 * t->send.  Bytes, 0 at EOF (read), or a negative errno; t->io_err and
 * t->eof record what happened. */
EDDY_HIDDEN ssize_t eddy__tls_read_raw(eddy__tls *t, void *buf, size_t len);
EDDY_HIDDEN ssize_t eddy__tls_write_raw(eddy__tls *t, const void *buf,
                                        size_t len);

/* stream.c: the stream's TLS connection, or NULL. */
EDDY_HIDDEN eddy__tls *eddy__stream_tls(const eddy_stream *s);

/*
 * The test hook (tests/test_tls.c): from now on, about percent in 100 of
 * the fd's reads and writes under s's TLS fail with EAGAIN or move fewer
 * bytes than asked, and as many of the stream's reads and writes report
 * that they wait for the other direction (WANT_WRITE during a read,
 * WANT_READ during a write) when that direction is ready; all drawn from
 * seed, so a run can be repeated.  percent 0 turns it off.  counts (may
 * be NULL) gets how many of each were made so far.  Errors: -EINVAL (no
 * TLS on s), -ENOMEM.
 */
EDDY_HIDDEN int eddy__stream_tls_faults(eddy_stream *s, uint64_t seed,
                                        unsigned percent,
                                        unsigned long counts[3]);

#endif
