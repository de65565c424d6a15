/*
 * iostream/stream.c - buffered non-blocking streams (Tornado's IOStream).
 *
 * Everything a stream does to its user happens in drive(): completing the
 * pending read from the buffer, flushing queued writes, running write and
 * connect callbacks, and once closed failing what is left, running the
 * close callback and freeing the stream.  drive() loops instead of
 * recursing: a request made from inside one of the stream's callbacks only
 * records itself, and the loop in drive() picks it up after the callback
 * returns.  A request made from anywhere else schedules drive() as a loop
 * callback.  So no user callback ever runs inside the call that asked for
 * it, and none can recurse without bound.
 *
 * The fd handler only moves bytes: one read(2) into the buffer (or into the
 * caller's buffer for read_into), then drive().  Writes go out from
 * drive(), so the writes of one callback leave in one writev.  A file's
 * bytes (eddy_stream_sendfile) wait in the same queue, in order: a plain
 * socket sends them with sendfile(2) on Linux; anything else (TLS, a
 * pipe, another system) reads them with pread(2) into one buffer per file
 * and writes them as any bytes (send_file(), fill()).
 *
 * A TLS stream (eddy_stream_start_tls) reads and writes through its
 * transport (transport.h) at the same three points instead; a plain one
 * pays a test of a flag there (S_TLS), and nothing else.
 *
 * This file must never block, never raise SIGPIPE, and never let the read
 * buffer pass max_buffer_size or the write queue max_write_buffer_size.
 */
#define _GNU_SOURCE
#include "../ioloop/loop_internal.h"
#include "eddy/iostream.h"
#include "stream_internal.h"
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

#define DEFAULT_MAX_BUFFER (100u << 20)
#define DEFAULT_CHUNK (64u << 10)
#define FIRST_READ EDDY__SPARE_SIZE /* a first buffer; grows with a flow */
#define MAX_IOV 64
/* A copy segment's least size: small enough for malloc's per-thread cache
 * (glibc's tcache serves up to 1032 bytes), so a small reply costs no
 * trip into the allocator's bins. */
#define SMALL_SEG 1024
/* Bytes read per readiness event at most, while read(2) comes back full:
 * Linux's largest default TCP send buffer (tcp_wmem), so a reader keeps up
 * with a peer that fills its buffer in one go. */
#define READ_BUDGET (4u << 20)
/* The TLS stream's own steps stay out of line: a plain stream pays a test
 * of a flag it has loaded anyway (S_TLS) at each I/O point and nothing
 * more, not even in the size of the functions it runs (checked with
 * callgrind, docs/architecture.md). */
#define TLS_PATH __attribute__((noinline))
/* A file's bytes: read this much at a time where sendfile(2) cannot be
 * used, and ask sendfile(2) for at most this much in one call: on
 * loopback a call sends for as long as the reader keeps up, and 2 MiB
 * (nginx's sendfile_max_chunk) lets the loop's other work have a turn;
 * the CPU a big file costs was 6% lower than with calls of 1 GiB. */
#define FILL_SIZE (64u << 10)
#define SENDFILE_MAX (2u << 20)

enum { R_NONE, R_BYTES, R_UNTIL, R_CLOSE, R_INTO, R_STREAM };

enum {
    S_SOCKET = 1 << 0,     /* flush() uses sendmsg(MSG_NOSIGNAL); not TLS */
    S_CONNECTING = 1 << 1, /* connect(2) in progress */
    S_CONNECTED = 1 << 2,  /* connect done, its callback not yet run */
    S_CLOSED = 1 << 3,     /* fds closed; callbacks may be left to run */
    S_EOF = 1 << 4,        /* read(2) returned 0 */
    S_EOF_FAILED = 1 << 5, /* a read failed at EOF: close once flushed */
    S_IN_DRIVE = 1 << 6,
    S_SCHEDULED = 1 << 7,  /* drive() queued as a loop callback */
    S_WBLOCKED = 1 << 8,   /* the last write was short: wait for WRITE */
    S_HUP = 1 << 9,        /* the poller reports HUP on rfd until closed */
    S_DETACHED = 1 << 10,  /* rfd has no handler: after a HUP */
    S_CLOSE_RAN = 1 << 11, /* the close callback ran, or is running */
    S_DRAIN = 1 << 12,     /* the queue reached the high watermark */
    S_PAUSED = 1 << 13,    /* eddy_stream_pause_reading() */
    S_HALF_OPEN = 1 << 14, /* EOF with no read pending leaves it open */
    S_TLS = 1 << 15,       /* s->tls: TLS is on */
    S_TLS_HS = 1 << 16,    /* its handshake, or the handshake callback, waits */
    S_SHUT_WAIT = 1 << 17, /* shutdown_write(): once the queue is out */
    S_SHUT = 1 << 18,      /* the sending side is shut down */
    S_SOCK_KNOWN = 1 << 19, /* S_SOCKET was checked (the first sendfile) */
    S_CORKED = 1 << 20,     /* TCP_CORK is on while a big file goes out */
    S_NOCORK = 1 << 21,     /* not TCP: TCP_CORK was refused */
};

struct wseg {
    const char *p; /* next byte to send */
    size_t len;    /* bytes left to send (0 only for a file's: read next) */
    char *own;     /* our copy (coalesced small writes), or NULL: a ref */
    size_t cap;    /* size of own */
    /* A file's bytes (eddy_stream_sendfile), sent after p[0, len), which
     * holds the piece fill() read; fd -1 for plain bytes. */
    int fd;
    int fill;            /* sendfile(2) cannot send it: read and write */
    uint64_t foff, fleft; /* where the file's next byte is, bytes left */
};

struct wdone {
    uint64_t end; /* done when this many bytes have been sent in all */
    eddy_stream_cb cb;
    void *arg;
};

struct eddy_stream {
    eddy_loop *loop;
    int rfd, wfd;
    unsigned flags;
    unsigned rmask, wmask; /* interest on rfd and wfd (one mask if equal) */
    int error;
    eddy_stream_options opt;

    char *buf; /* read buffer: unconsumed bytes are buf[start, end) */
    size_t cap, start, end;
    size_t scan; /* read_until: bytes past start known to hold no match */
    size_t rsize; /* bytes to ask read(2) for, up to read_chunk_size */

    struct {
        int kind, partial;
        size_t n, max, dlen;
        char delim[EDDY_MAX_DELIMITER];
        char *into;
        size_t got;
        eddy_read_cb cb;
        void *arg;
    } rd;

    struct wseg *segs;
    size_t seg0, nsegs, segcap;
    struct wdone *done;
    size_t done0, ndone, donecap;
    uint64_t queued, sent;
    uint64_t fbytes;   /* of queued - sent, bytes still in files */
    uint64_t received; /* bytes read from rfd in all */
    size_t high, low;  /* write watermarks; high 0: none */

    eddy_stream_cb connect_cb, close_cb, drain_cb;
    void *connect_arg, *close_arg, *drain_arg, *data;
    eddy_timer_id connect_timer;
    void (*free_fn)(void *arg); /* eddy__stream_on_free() */
    void *free_arg;
    eddy__tls *tls; /* NULL: plain */
};

static void drive(eddy_stream *s);
static void close_with(eddy_stream *s, int err);
static void on_io(eddy_loop *loop, int fd, unsigned events, void *arg);

const char *eddy_strerror(int err)
{
    switch (err) {
    case 0: return "no error";
    case EDDY_EOF: return "end of stream";
    case -ENOBUFS: return "read buffer full (max_buffer_size)";
    case -EMSGSIZE: return "delimiter not found within max_bytes";
    case -ENOSPC: return "write buffer full (max_write_buffer_size)";
    case EDDY_ENOTFOUND: return "host name not found";
    case EDDY_ETRYAGAIN: return "temporary failure in name resolution";
    case EDDY_ERESOLVE: return "name resolution failed";
    /* eddy's own codes, one namespace for every layer: this is
     * httpserver.h's EDDY_HTTP_TOO_LARGE. */
    case EDDY_EOF + 1: return "request body larger than max_body_size";
    case EDDY_TLS_HANDSHAKE: return "TLS handshake failed";
    case EDDY_TLS_VERIFY: return "TLS peer certificate did not verify";
    case EDDY_TLS_TRUNCATED: return "TLS stream truncated: the peer closed "
                                    "without close_notify";
    case EDDY_TLS_PROTOCOL: return "TLS protocol error";
    case EDDY_TLS_KEY_MISMATCH: return "TLS private key does not match "
                                       "the certificate";
    case EDDY_TLS_BAD_PEM: return "no usable PEM data (TLS certificate, key "
                                  "or CA file)";
    /* httpclient.h's EDDY_HTTP_E*, -4050 to -4069. */
    case -4050: return "malformed HTTP response";
    case -4051: return "HTTP response cut short by the connection's end";
    case -4052: return "server closed the connection without a response";
    case -4053: return "response head larger than max_header_size";
    case -4054: return "more response header fields than max_headers";
    case -4055: return "response body larger than max_body_size";
    case -4056: return "more redirects than max_redirects";
    case -4057: return "redirect to a URL that cannot be fetched";
    case -4058: return "response body does not inflate (gzip)";
    case -4059: return "connect timeout (connect_timeout_ms)";
    case -4060: return "request timeout (request_timeout_ms)";
    case -4061: return "no byte from the server for idle_timeout_ms";
    /* websocket.h's EDDY_WS_E*, -4040 to -4049. */
    case -4040: return "not a WebSocket handshake (answered 400)";
    case -4041: return "WebSocket version other than 13 (answered 426)";
    case -4042: return "WebSocket Origin not allowed (answered 403)";
    case -4043: return "WebSocket handshake refused: a status other than 101";
    case -4044: return "WebSocket handshake: wrong Sec-WebSocket-Accept";
    case -4045: return "WebSocket handshake: no Upgrade: websocket or "
                       "Connection: upgrade in the 101";
    case -4046: return "WebSocket handshake: a subprotocol not offered";
    case -4047: return "WebSocket handshake: an extension the offer does "
                       "not allow";
    default: return strerror(err < 0 ? -err : err);
    }
}

static size_t buffered(const eddy_stream *s)
{
    return s->end - s->start;
}

/* The unconsumed bytes.  buf is NULL until the first read and again once
 * an idle stream gave it back, and NULL + 0 is undefined behaviour. */
static const char *head(const eddy_stream *s)
{
    return s->buf != NULL ? s->buf + s->start : "";
}

static void on_deferred(eddy_loop *loop, void *arg)
{
    eddy_stream *s = arg;

    (void)loop;
    s->flags &= ~(unsigned)S_SCHEDULED;
    drive(s);
}

/* Makes drive() run soon: after the current callback of this stream, or
 * in the next loop iteration. */
static int schedule(eddy_stream *s)
{
    int err;

    if (s->flags & (S_IN_DRIVE | S_SCHEDULED))
        return 0;
    err = eddy_loop_add_callback(s->loop, on_deferred, s);
    if (err == 0)
        s->flags |= S_SCHEDULED;
    return err;
}

/* Sets the events fd is watched for.  A HUP is reported whatever the
 * interest, so once rfd hung up, no interest means no handler at all. */
static void watch(eddy_stream *s, int fd, unsigned want, unsigned *mask)
{
    int err = 0;

    if (fd < 0)
        return;
    if (fd == s->rfd && (s->flags & S_HUP) && want == 0) {
        if (!(s->flags & S_DETACHED))
            eddy_loop_remove_handler(s->loop, fd);
        s->flags |= S_DETACHED;
    } else if (fd == s->rfd && (s->flags & S_DETACHED)) {
        err = eddy_loop_add_handler(s->loop, fd, want, on_io, s);
        s->flags &= ~(unsigned)S_DETACHED;
    } else if (want != *mask) {
        err = eddy_loop_update_handler(s->loop, fd, want);
    }
    *mask = want;
    if (err != 0)
        close_with(s, err);
}

/* What a TLS stream waits for instead: the events its handshake, its
 * read and its write asked for (a read may wait to write, and the other
 * way round). */
TLS_PATH static void tls_interest(const eddy__tls *t, unsigned *r,
                                  unsigned *w)
{
    unsigned want = t->state & EDDY__TLS_HANDSHAKE ? t->hswant : 0;

    if (*r && !(t->state & EDDY__TLS_HANDSHAKE))
        want |= t->rwant;
    if (*w && !(t->state & EDDY__TLS_HANDSHAKE))
        want |= t->wwant;
    *r = want & EDDY_READ;
    *w = want & EDDY_WRITE;
}

/* Whether the stream wants to read (*r) and write (*w), given what is
 * pending. */
static inline void wanted(const eddy_stream *s, unsigned *r, unsigned *w)
{
    *r = *w = 0;
    if (!(s->flags & (S_EOF | S_CONNECTING | S_PAUSED)) &&
        buffered(s) < s->opt.max_buffer_size &&
        (s->rd.kind != R_NONE || (s->close_cb != NULL && buffered(s) == 0)))
        *r = EDDY_READ;
    if ((s->flags & S_CONNECTING) || s->nsegs > s->seg0)
        *w = EDDY_WRITE;
}

/* update_interest() of a TLS stream: one socket, watched for what TLS
 * needs to do what the stream wants. */
TLS_PATH static void tls_update_interest(eddy_stream *s)
{
    unsigned r, w;

    wanted(s, &r, &w);
    /* A close_notify that did not fit waits for WRITE (shut_write). */
    if (s->flags & S_SHUT_WAIT)
        w = EDDY_WRITE;
    if (!(s->flags & S_CONNECTING))
        tls_interest(s->tls, &r, &w);
    watch(s, s->rfd, r | w, &s->rmask);
}

/* The events each fd should be watched for, given what is pending. */
static void update_interest(eddy_stream *s)
{
    unsigned r, w;

    if (eddy__unlikely(s->flags & (S_CLOSED | S_TLS))) {
        if (!(s->flags & S_CLOSED))
            tls_update_interest(s);
        return;
    }
    wanted(s, &r, &w);
    if (s->rfd == s->wfd) {
        watch(s, s->rfd, r | w, &s->rmask);
        return;
    }
    watch(s, s->rfd, r, &s->rmask);
    watch(s, s->wfd, w, &s->wmask);
}

/* Closes the fds now; drive() then runs what is left and frees s. */
static void close_with(eddy_stream *s, int err)
{
    if (s->flags & S_CLOSED)
        return;
    s->flags |= S_CLOSED;
    s->error = err;
    if (s->connect_timer != 0)
        eddy_loop_remove_timeout(s->loop, s->connect_timer);
    s->connect_timer = 0;
    if (eddy__unlikely(s->flags & S_TLS)) {
        if (s->tls->timer != 0)
            eddy_loop_remove_timeout(s->loop, s->tls->timer);
        s->tls->timer = 0;
        s->tls->ops->shutdown(s->tls, 0); /* close_notify, if it can */
    }
    for (int i = 0; i < 2; i++) {
        int fd = i ? s->wfd : s->rfd;

        if (fd >= 0 && !(i && s->wfd == s->rfd))
            eddy_loop_close_fd(s->loop, fd);
    }
    s->rfd = s->wfd = -1;
    schedule(s);
}

/* How open_stream() takes its fds. */
enum {
    OPEN_NEW,      /* make them non-blocking; add handlers with no events */
    OPEN_ACCEPTED, /* a non-blocking socket, watched for reading at once;
                      left open on error */
};

/* Tells the kernel not to raise SIGPIPE for wfd, where it can. */
static void no_sigpipe(int fd)
{
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
#ifdef F_SETNOSIGPIPE
    fcntl(fd, F_SETNOSIGPIPE, 1);
#endif
    (void)fd;
}

/* Watches fd as a stream's, as mode says.  Returns 1 when a handler was
 * added, 0 when none was, or a negative errno. */
static int attach(eddy_stream *s, int fd, int mode)
{
    int flags, err;

    if (mode == OPEN_ACCEPTED) {
        err = eddy_loop_add_handler(s->loop, fd, EDDY_READ, on_io, s);
        s->rmask = EDDY_READ;
        return err == 0 ? 1 : err;
    }
    if ((flags = fcntl(fd, F_GETFL)) < 0 ||
        (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0))
        return -errno;
    err = eddy_loop_add_handler(s->loop, fd, 0, on_io, s);
    return err == 0 ? 1 : err;
}

static int open_stream(eddy_loop *loop, int rfd, int wfd,
                       const eddy_stream_options *opts, int mode,
                       eddy_stream **out)
{
    eddy_stream *s = calloc(1, sizeof *s);
    int err = 0, added = 0;

    if (s == NULL) {
        err = -ENOMEM;
        goto fail;
    }
    s->loop = loop;
    s->rfd = rfd;
    s->wfd = wfd;
    if (opts != NULL)
        s->opt = *opts;
    if (s->opt.max_buffer_size == 0)
        s->opt.max_buffer_size = DEFAULT_MAX_BUFFER;
    if (s->opt.read_chunk_size == 0)
        s->opt.read_chunk_size = DEFAULT_CHUNK;
    if (s->opt.max_write_buffer_size == 0)
        s->opt.max_write_buffer_size = SIZE_MAX;
    s->rsize = FIRST_READ < s->opt.read_chunk_size ? FIRST_READ
                                                   : s->opt.read_chunk_size;
    for (int i = 0; i < 2 && err == 0; i++) {
        int fd = i ? wfd : rfd;

        if (fd < 0 || (i && wfd == rfd))
            continue;
        err = attach(s, fd, mode);
        if (err < 0)
            break;
        if (i == 0)
            added = err;
        err = 0;
        if (i == 1 || wfd == rfd) {
            /* Taken for a socket until sendmsg says ENOTSOCK (flush). */
            s->flags |= S_SOCKET;
            no_sigpipe(fd);
        }
    }
    if (err == 0) {
        *out = s;
        return 0;
    }
fail:
    if (added)
        eddy_loop_remove_handler(loop, rfd);
    free(s);
    if (mode == OPEN_ACCEPTED)
        return err;
    if (rfd >= 0)
        close(rfd);
    if (wfd >= 0 && wfd != rfd)
        close(wfd);
    return err;
}

int eddy_stream_new(eddy_loop *loop, int fd, const eddy_stream_options *opts,
                    eddy_stream **out)
{
    if (fd < 0)
        return -EBADF;
    return open_stream(loop, fd, fd, opts, OPEN_NEW, out);
}

int eddy__stream_accepted(eddy_loop *loop, int fd,
                          const eddy_stream_options *opts, eddy_stream **out)
{
    return open_stream(loop, fd, fd, opts, OPEN_ACCEPTED, out);
}

/* A server's streams: a client that half-closed after its request still
 * gets the answer a handler gives later. */
void eddy_stream_set_half_open(eddy_stream *s, int on)
{
    if (on) {
        s->flags |= S_HALF_OPEN;
        return;
    }
    s->flags &= ~(unsigned)S_HALF_OPEN;
    /* An EOF the flag kept open closes the stream now, as it would have:
     * no event will come for it again. */
    if ((s->flags & (S_EOF | S_CLOSED)) == S_EOF)
        schedule(s);
}

int eddy_stream_new_pair(eddy_loop *loop, int rfd, int wfd,
                         const eddy_stream_options *opts, eddy_stream **out)
{
    if ((rfd < 0 && wfd < 0) || rfd == wfd)
        return -EBADF;
    return open_stream(loop, rfd, wfd, opts, OPEN_NEW, out);
}

static void on_connect_timeout(eddy_loop *loop, void *arg)
{
    eddy_stream *s = arg;

    (void)loop;
    s->connect_timer = 0;
    close_with(s, -ETIMEDOUT);
}

int eddy__stream_connect_addr(eddy_loop *loop, const struct sockaddr *sa,
                              socklen_t len, const struct sockaddr *bind_sa,
                              socklen_t bind_len, uint64_t timeout_ms,
                              const eddy_stream_options *opts,
                              eddy_stream_cb cb, void *arg, eddy_stream **out)
{
    eddy_stream *s;
    int fd, err = 0;

    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return -EINVAL;
    fd = socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
        (bind_sa != NULL && bind(fd, bind_sa, bind_len) != 0)) {
        err = -errno;
        if (fd >= 0)
            close(fd);
        return err;
    }
    err = open_stream(loop, fd, fd, opts, OPEN_NEW, &s);
    if (err != 0)
        return err;
    s->connect_cb = cb;
    s->connect_arg = arg;
    s->flags |= S_CONNECTING;
    if (connect(fd, sa, len) == 0)
        s->flags ^= S_CONNECTING | S_CONNECTED;
    else if (errno != EINPROGRESS)
        err = -errno;
    *out = s;
    /* From here on every outcome reaches cb, never the return value. */
    if (err != 0) {
        close_with(s, err);
        return 0;
    }
    /* The timeout counts from this call, not from the loop's cached time:
     * that is stale when the caller blocked since the loop last woke
     * (resolving the name, say), and the connect would time out early. */
    if (timeout_ms != 0 && (s->flags & S_CONNECTING)) {
        eddy_loop_update_time(loop);
        eddy_loop_call_later(loop, timeout_ms, on_connect_timeout, s,
                             &s->connect_timer);
    }
    if (s->flags & S_CONNECTED)
        schedule(s);
    update_interest(s);
    return 0;
}

int eddy_stream_connect(eddy_loop *loop, const char *host, uint16_t port,
                        uint64_t timeout_ms, const eddy_stream_options *opts,
                        eddy_stream_cb cb, void *arg, eddy_stream **out)
{
    struct addrinfo hints = {0}, *ai;
    char service[8];
    int err;

    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%u", (unsigned)port);
    if (host == NULL || getaddrinfo(host, service, &hints, &ai) != 0)
        return -EINVAL;
    err = eddy__stream_connect_addr(loop, ai->ai_addr, ai->ai_addrlen, NULL, 0,
                                    timeout_ms, opts, cb, arg, out);
    freeaddrinfo(ai);
    return err;
}

/* --- reading ------------------------------------------------------------ */

#define NOT_READY SIZE_MAX

/* How many buffered bytes the pending read can take now, or NOT_READY.
 * Sets *err when the read can never be satisfied. */
static size_t ready_len(eddy_stream *s, int *err)
{
    size_t have = buffered(s), dlen = s->rd.dlen;
    const char *p = head(s), *hit;

    switch (s->rd.kind) {
    case R_BYTES:
        if (have >= s->rd.n)
            return s->rd.n;
        return s->rd.partial && have > 0 ? have : NOT_READY;
    case R_STREAM:
        if (s->rd.n == 0)
            return 0;
        return have > 0 ? (have < s->rd.n ? have : s->rd.n) : NOT_READY;
    case R_UNTIL:
        hit = have > s->scan ? memmem(p + s->scan, have - s->scan, s->rd.delim,
                                      dlen) : NULL;
        if (hit != NULL) {
            size_t len = (size_t)(hit - p) + dlen;

            if (len > s->rd.max)
                *err = -EMSGSIZE;
            return len > s->rd.max ? NOT_READY : len;
        }
        /* No match can start before the last dlen - 1 bytes. */
        s->scan = have >= dlen ? have - dlen + 1 : 0;
        if (have >= s->rd.max)
            *err = -EMSGSIZE;
        return NOT_READY;
    default:
        return NOT_READY;
    }
}

static void consume(eddy_stream *s, size_t n)
{
    s->start += n;
    s->scan = 0;
    if (s->start == s->end)
        s->start = s->end = 0;
}

/* Completes the pending read from the buffer if it can.  Returns 1 when a
 * callback ran. */
static int deliver_read(eddy_stream *s)
{
    eddy_read_cb cb = s->rd.cb;
    void *arg = s->rd.arg;
    int err = 0, status = 0;
    size_t k;

    if (s->rd.kind == R_NONE)
        return 0;
    if (s->rd.kind == R_INTO) {
        k = buffered(s) < s->rd.n - s->rd.got ? buffered(s)
                                              : s->rd.n - s->rd.got;
        if (k > 0) /* memcpy with a NULL pointer is undefined, even of 0 */
            memcpy(s->rd.into + s->rd.got, head(s), k);
        consume(s, k);
        s->rd.got += k;
        if (s->rd.got < s->rd.n && !(s->rd.partial && s->rd.got > 0))
            return 0;
        s->rd.kind = R_NONE;
        cb(s, 0, s->rd.into, s->rd.got, arg);
        return 1;
    }
    k = ready_len(s, &err);
    if (k == NOT_READY) {
        if (err == 0 && buffered(s) >= s->opt.max_buffer_size &&
            !(s->flags & S_EOF))
            err = -ENOBUFS;
        if (err != 0)
            close_with(s, err);
        return 0;
    }
    if (s->rd.kind == R_STREAM) {
        if (s->rd.n != SIZE_MAX)
            s->rd.n -= k;
        status = s->rd.n == 0 ? 0 : EDDY_MORE;
    }
    if (status == 0)
        s->rd.kind = R_NONE;
    cb(s, status, head(s), k, arg);
    consume(s, k);
    return 1;
}

/* At EOF, or once closed: hands the pending read what there is, with
 * status (0 when EOF completes the read, as for read_until_close). */
static void end_read(eddy_stream *s, int status)
{
    eddy_read_cb cb = s->rd.cb;
    int into = s->rd.kind == R_INTO;
    size_t n = into ? s->rd.got : buffered(s);

    s->rd.kind = R_NONE;
    cb(s, status, into ? s->rd.into : head(s), n, s->rd.arg);
    if (!into)
        consume(s, n);
}

static int can_read(const eddy_stream *s, eddy_read_cb cb)
{
    if (cb == NULL)
        return -EINVAL;
    /* At EOF with nothing buffered no read can get a byte.  Accepting one
     * would complete it at once, and one made again from that callback
     * (a read_until_close loop, say) would keep drive() busy forever. */
    if ((s->flags & S_CLOSED) || ((s->flags & S_EOF) && buffered(s) == 0))
        return -EPIPE;
    return s->rd.kind != R_NONE ? -EBUSY : 0;
}

/* Makes the read pending (can_read() said yes and the caller filled in
 * its fields).  Anything to hand over now waits for drive(). */
static int start_read(eddy_stream *s, int kind, eddy_read_cb cb, void *arg)
{
    int err = 0;

    s->rd.kind = kind;
    s->rd.cb = cb;
    s->rd.arg = arg;
    s->scan = 0;
    if (buffered(s) > 0 || (s->flags & S_EOF) || s->rd.n == 0)
        err = schedule(s);
    if (err != 0)
        s->rd.kind = R_NONE;
    else if (!(s->flags & S_IN_DRIVE))
        update_interest(s);
    return err;
}

int eddy_stream_read_bytes(eddy_stream *s, size_t n, int partial,
                           eddy_read_cb cb, void *arg)
{
    int err = can_read(s, cb);

    if (err != 0)
        return err;
    if (n > s->opt.max_buffer_size) {
        close_with(s, -ENOBUFS);
        return -ENOBUFS;
    }
    s->rd.n = n;
    s->rd.partial = partial;
    return start_read(s, R_BYTES, cb, arg);
}

int eddy_stream_read_until(eddy_stream *s, const void *delim, size_t delim_len,
                           size_t max_bytes, eddy_read_cb cb, void *arg)
{
    int err = can_read(s, cb);

    if (err != 0)
        return err;
    if (delim == NULL || delim_len == 0 || delim_len > EDDY_MAX_DELIMITER)
        return -EINVAL;
    memcpy(s->rd.delim, delim, delim_len);
    s->rd.dlen = delim_len;
    s->rd.max = max_bytes ? max_bytes : SIZE_MAX;
    s->rd.n = SIZE_MAX;
    return start_read(s, R_UNTIL, cb, arg);
}

int eddy_stream_read_until_close(eddy_stream *s, eddy_read_cb cb, void *arg)
{
    int err = can_read(s, cb);

    if (err != 0)
        return err;
    s->rd.n = SIZE_MAX;
    return start_read(s, R_CLOSE, cb, arg);
}

int eddy_stream_read_into(eddy_stream *s, void *buf, size_t len, int partial,
                          eddy_read_cb cb, void *arg)
{
    int err = can_read(s, cb);

    if (err != 0)
        return err;
    if (buf == NULL && len > 0)
        return -EINVAL;
    s->rd.into = buf;
    s->rd.n = len;
    s->rd.got = 0;
    s->rd.partial = partial;
    return start_read(s, R_INTO, cb, arg);
}

int eddy_stream_read_stream(eddy_stream *s, size_t n, eddy_read_cb cb,
                            void *arg)
{
    int err = can_read(s, cb);

    if (err != 0)
        return err;
    s->rd.n = n;
    return start_read(s, R_STREAM, cb, arg);
}

/* The transport seam, reading: read(2) on a plain stream, the TLS
 * transport otherwise.  Both return -1 and set errno; TLS's own codes
 * travel as errno = -EDDY_TLS_*, so that -errno is the stream's error. */
TLS_PATH static ssize_t tls_read(eddy_stream *s, void *buf, size_t len)
{
    ssize_t r = s->tls->ops->read(s->tls, buf, len);

    if (r < 0) {
        errno = (int)-r;
        r = -1;
    }
    return r;
}

static inline ssize_t io_read(eddy_stream *s, void *buf, size_t len, int tls)
{
    return tls ? tls_read(s, buf, len) : read(s->rfd, buf, len);
}

/* One read(2): into the caller's buffer for read_into when nothing is
 * buffered, else into ours, never past max_buffer_size.  tls is constant
 * in every caller: a plain stream's copy has no TLS in it. */
__attribute__((always_inline)) static inline int read_some(eddy_stream *s,
                                                           int tls)
{
    size_t want = s->opt.max_buffer_size - buffered(s);
    ssize_t r;
    int full = 0;

    /* Not for a read_into that wants nothing more (one of zero bytes):
     * read(2) of zero bytes returns 0, which would pass for EOF. */
    if (s->rd.kind == R_INTO && buffered(s) == 0 && s->rd.got < s->rd.n) {
        r = io_read(s, s->rd.into + s->rd.got, s->rd.n - s->rd.got, tls);
        if (r > 0) {
            full = (size_t)r == s->rd.n - s->rd.got;
            s->rd.got += (size_t)r;
        }
    } else {
        if (want > s->rsize)
            want = s->rsize;
        if (want == 0)
            return 0;
        if (s->cap - s->end < want && s->start > 0) {
            memmove(s->buf, s->buf + s->start, buffered(s));
            s->end -= s->start;
            s->start = 0;
        }
        if (s->buf == NULL && want <= FIRST_READ &&
            (s->buf = eddy__loop_take_spare(s->loop)) != NULL)
            s->cap = FIRST_READ;
        if (s->cap - s->end < want) {
            size_t cap = s->cap * 2 > s->end + want ? s->cap * 2
                                                    : s->end + want;
            char *b = realloc(s->buf, cap);

            if (b == NULL) {
                close_with(s, -ENOMEM);
                return 0;
            }
            s->buf = b;
            s->cap = cap;
        }
        r = io_read(s, s->buf + s->end, want, tls);
        if (r > 0) {
            full = (size_t)r == want;
            s->end += (size_t)r;
            /* A full read means a flow: ask for more next time. */
            if ((size_t)r == want && s->rsize < s->opt.read_chunk_size)
                s->rsize = s->rsize * 2 < s->opt.read_chunk_size
                               ? s->rsize * 2 : s->opt.read_chunk_size;
        }
    }
    if (r > 0)
        s->received += (uint64_t)r;
    if (r == 0)
        s->flags |= S_EOF;
    else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
             errno != EINTR)
        close_with(s, -errno);
    return full;
}

/* --- writing ------------------------------------------------------------ */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE was set on the socket */
#endif

/* writev on a pipe without SIGPIPE: block it, write, and take back a
 * SIGPIPE this write raised (not one that was pending before). */
static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int n)
{
#ifdef F_SETNOSIGPIPE
    return writev(fd, iov, n); /* F_SETNOSIGPIPE was set on the pipe */
#else
    sigset_t pipe_set, old, pending;
    struct timespec zero = {0, 0};
    ssize_t w;
    int err, was_pending;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    w = writev(fd, iov, n);
    err = errno;
    if (w < 0 && err == EPIPE && !was_pending)
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return w;
#endif
}

/* The transport seam, writing a TLS stream (a plain one calls sendmsg or
 * writev in flush()): -1 and errno as io_read(). */
TLS_PATH static ssize_t tls_writev(eddy_stream *s, const struct iovec *iov,
                                   int n)
{
    ssize_t w = s->tls->ops->writev(s->tls, iov, n);

    if (w < 0) {
        errno = (int)-w;
        w = -1;
    }
    return w;
}

#ifdef __linux__ /* sendfile(2): cork() and file_done() serve it alone */
/* TCP_CORK (nginx's tcp_nopush) while a file takes more than one
 * sendfile(2): segments leave full instead of one short at the end of
 * every call, which with Nagle off cost a 1 GiB file 30% more server CPU
 * than nginx's (bench/static.sh; 1.00 of nginx's with it).  A file that
 * fits in one call is not corked: two more system calls for each small
 * file would cost more than they save. */
static void cork(eddy_stream *s, int on)
{
    if (setsockopt(s->wfd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) != 0)
        s->flags |= S_NOCORK; /* a unix socket, say */
    else if (on)
        s->flags |= S_CORKED;
    else
        s->flags &= ~(unsigned)S_CORKED;
}

/* A file's segment is done with: its fill buffer goes (the fd is the
 * caller's, who closes it in the write callback). */
static void file_done(eddy_stream *s, struct wseg *g)
{
    if (s->flags & S_CORKED)
        cork(s, 0); /* the file's last segment goes now */
    free(g->own);
    s->seg0++;
}
#endif

/* Reads the next piece of the file at the head of the queue into its
 * segment's buffer, for flush() to write as any bytes.  A read that
 * comes back short means the file shrank under us: the bytes promised
 * cannot be sent, and the stream must close rather than send others.
 * 1 once read, or an error. */
static int fill(eddy_stream *s, struct wseg *g)
{
    size_t want = g->fleft < FILL_SIZE ? (size_t)g->fleft : FILL_SIZE;
    ssize_t n;

    if (g->own == NULL) {
        if ((g->own = malloc(FILL_SIZE)) == NULL)
            return -ENOMEM;
        g->cap = FILL_SIZE;
    }
    do
        n = pread(g->fd, g->own, want, (off_t)g->foff);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((size_t)n < want)
        return -ENODATA;
    g->p = g->own;
    g->len = want;
    g->foff += want;
    g->fleft -= want;
    s->fbytes -= want;
    return 1;
}

/* Sends from the file at the head of the queue: with sendfile(2) on a
 * plain socket on Linux, else through fill().  1 when it got somewhere,
 * 0 when the socket is full, or an error (-ENODATA: the file ended
 * before the bytes promised). */
static int send_file(eddy_stream *s, struct wseg *g)
{
#ifdef __linux__
    if ((s->flags & S_SOCKET) && !g->fill) {
        size_t want = g->fleft < SENDFILE_MAX ? (size_t)g->fleft : SENDFILE_MAX;
        off_t off = (off_t)g->foff;
        ssize_t n;

        if (g->fleft > want && !(s->flags & (S_CORKED | S_NOCORK)))
            cork(s, 1);
        n = sendfile(s->wfd, g->fd, &off, want);

        if (n > 0) {
            g->foff += (uint64_t)n;
            g->fleft -= (uint64_t)n;
            s->fbytes -= (uint64_t)n;
            s->sent += (uint64_t)n;
            if (g->fleft == 0)
                file_done(s, g);
            else if ((size_t)n < want)
                s->flags |= S_WBLOCKED;
            return (size_t)n == want;
        }
        if (n == 0)
            return -ENODATA;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->flags |= S_WBLOCKED;
            return 0;
        }
        if (errno == EINTR)
            return 1;
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return -errno;
        g->fill = 1; /* a file sendfile(2) cannot read: read it ourselves */
        if (s->flags & S_CORKED)
            cork(s, 0);
    }
#endif
    return fill(s, g);
}

/* MSG_MORE when the bytes sent end where segs[i]'s file goes next with
 * sendfile(2), else 0: a response's head then leaves in one segment with
 * the start of its file instead of a packet of its own (nginx corks for
 * it; one packet less cost a small file's answer over loopback 10% less
 * server CPU), and sendfile's last call pushes both out. */
static int file_next(const eddy_stream *s, size_t i)
{
#ifdef __linux__
    const struct wseg *g;

    if (i < s->nsegs && s->segs[i].len == 0)
        g = &s->segs[i]; /* stopped before a file's bytes */
    else if (i < s->nsegs && s->segs[i].fd >= 0)
        g = &s->segs[i]; /* its plain piece is in, its file comes next */
    else
        return 0;
    return g->fd >= 0 && g->fleft > 0 && !g->fill ? MSG_MORE : 0;
#else
    (void)s;
    (void)i;
    return 0;
#endif
}

/* Sends what is queued until done or the kernel is full. */
static int flush(eddy_stream *s)
{
    while (s->seg0 < s->nsegs) {
        struct iovec iov[MAX_IOV];
        struct msghdr msg = {0};
        size_t total = 0, left, i;
        int n = 0;
        ssize_t w;

        if (s->segs[s->seg0].len == 0) {
            int r = send_file(s, &s->segs[s->seg0]);

            if (r <= 0)
                return r;
            continue;
        }
        /* Plain bytes, up to a file's: its own bytes come after. */
        for (i = s->seg0; i < s->nsegs && n < MAX_IOV; i++) {
            if (s->segs[i].len == 0)
                break;
            iov[n].iov_base = (void *)s->segs[i].p;
            iov[n++].iov_len = s->segs[i].len;
            total += s->segs[i].len;
            if (s->segs[i].fd >= 0)
                break;
        }
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        /* A TLS stream has no S_SOCKET: it does not sendmsg itself. */
        if (eddy__likely(s->flags & S_SOCKET))
            w = sendmsg(s->wfd, &msg, MSG_NOSIGNAL | file_next(s, i));
        else if (s->flags & S_TLS)
            w = tls_writev(s, iov, n);
        else
            w = writev_nosigpipe(s->wfd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOTSOCK && (s->flags & S_SOCKET)) {
                s->flags &= ~(unsigned)S_SOCKET; /* a pipe: writev */
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            s->flags |= S_WBLOCKED;
            return 0;
        }
        s->sent += (uint64_t)w;
        for (left = (size_t)w; left > 0;) {
            struct wseg *g = &s->segs[s->seg0];

            if (left < g->len) {
                g->p += left;
                g->len -= left;
                break;
            }
            left -= g->len;
            g->len = 0;
            if (g->fd >= 0 && g->fleft > 0)
                break; /* its file's next piece is next */
            free(g->own);
            s->seg0++;
        }
        if ((size_t)w < total) {
            s->flags |= S_WBLOCKED;
            return 0;
        }
    }
    s->seg0 = s->nsegs = 0;
    return 0;
}

/* Room for one more element in a queue kept as v[first, n).  A queue
 * starts with room for two (a response's head and body), since an idle
 * connection keeps its queues: a first room of eight cost 700 bytes an
 * idle connection, half of a plain one's memory, once a segment grew to
 * 64 bytes for files. */
static int queue_reserve(void **v, size_t *first, size_t *n, size_t *cap,
                         size_t size)
{
    void *nv;

    if (*n < *cap)
        return 0;
    if (*first > 0) {
        memmove(*v, (char *)*v + *first * size, (*n - *first) * size);
        *n -= *first;
        *first = 0;
        return 0;
    }
    nv = realloc(*v, (*cap ? 2 * *cap : 2) * size);
    if (nv == NULL)
        return -ENOMEM;
    *v = nv;
    *cap = *cap ? 2 * *cap : 2;
    return 0;
}

/* Counts len bytes just queued, and queues cb behind them (its room was
 * reserved). */
static int queued(eddy_stream *s, uint64_t len, eddy_stream_cb cb, void *arg)
{
    s->queued += len;
    if (s->high != 0 && s->queued - s->sent >= s->high)
        s->flags |= S_DRAIN;
    if (cb != NULL) {
        s->done[s->ndone].end = s->queued;
        s->done[s->ndone].cb = cb;
        s->done[s->ndone].arg = arg;
        s->ndone++;
    }
    return schedule(s);
}

static int queue_write(eddy_stream *s, const void *data, size_t len, int copy,
                       eddy_stream_cb cb, void *arg)
{
    struct wseg *last = s->nsegs > s->seg0 ? &s->segs[s->nsegs - 1] : NULL;

    if (s->flags & (S_CLOSED | S_SHUT_WAIT | S_SHUT))
        return -EPIPE;
    if (data == NULL && len > 0)
        return -EINVAL;
    /* A file's bytes are not in memory: the limit does not count them. */
    if (len > s->opt.max_write_buffer_size -
                  (size_t)(s->queued - s->sent - s->fbytes)) {
        close_with(s, -ENOSPC);
        return -ENOSPC;
    }
    if (cb != NULL && queue_reserve((void **)&s->done, &s->done0, &s->ndone,
                                    &s->donecap, sizeof *s->done))
        return -ENOMEM;
    if (len == 0) {
        /* Nothing to send: only the callback, in order. */
    } else if (copy && last != NULL && last->own != NULL && last->fd < 0 &&
               (size_t)(last->own + last->cap - (last->p + last->len)) >= len) {
        memcpy((char *)last->p + last->len, data, len);
        last->len += len;
    } else {
        struct wseg g = {data, len, NULL, 0, -1, 0, 0, 0};

        if (queue_reserve((void **)&s->segs, &s->seg0, &s->nsegs, &s->segcap,
                          sizeof *s->segs))
            return -ENOMEM;
        if (copy) {
            g.cap = len < SMALL_SEG ? SMALL_SEG : len;
            if ((g.own = malloc(g.cap)) == NULL)
                return -ENOMEM;
            memcpy(g.own, data, len);
            g.p = g.own;
        }
        s->segs[s->nsegs++] = g;
    }
    return queued(s, len, cb, arg);
}

int eddy_stream_write(eddy_stream *s, const void *data, size_t len,
                      eddy_stream_cb cb, void *arg)
{
    return queue_write(s, data, len, 1, cb, arg);
}

int eddy_stream_write_ref(eddy_stream *s, const void *data, size_t len,
                          eddy_stream_cb cb, void *arg)
{
    return queue_write(s, data, len, 0, cb, arg);
}

/* Whether the stream writes to a socket, asked once: S_SOCKET is taken
 * for granted until sendmsg says ENOTSOCK, and a pipe's first bytes may
 * be a file's, which sendfile(2) would send without sendmsg ever being
 * asked. */
static void know_socket(eddy_stream *s)
{
    int type;
    socklen_t len = sizeof type;

    if (s->flags & S_SOCK_KNOWN)
        return;
    s->flags |= S_SOCK_KNOWN;
    if ((s->flags & S_SOCKET) &&
        getsockopt(s->wfd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 &&
        errno == ENOTSOCK)
        s->flags &= ~(unsigned)S_SOCKET;
}

int eddy_stream_sendfile(eddy_stream *s, int fd, uint64_t offset, uint64_t len,
                         eddy_stream_cb cb, void *arg)
{
    if (s->flags & S_CLOSED)
        return -EPIPE;
    if (fd < 0 || offset > (uint64_t)INT64_MAX ||
        len > (uint64_t)INT64_MAX - offset)
        return -EINVAL;
    if (cb != NULL && queue_reserve((void **)&s->done, &s->done0, &s->ndone,
                                    &s->donecap, sizeof *s->done))
        return -ENOMEM;
    if (len > 0) {
        struct wseg g = {NULL, 0, NULL, 0, fd, 0, offset, len};

        if (queue_reserve((void **)&s->segs, &s->seg0, &s->nsegs, &s->segcap,
                          sizeof *s->segs))
            return -ENOMEM;
        know_socket(s);
        s->segs[s->nsegs++] = g;
        s->fbytes += len;
    }
    return queued(s, len, cb, arg);
}

/* --- driving ------------------------------------------------------------ */

/* Once closed: runs the next callback that is still owed, the close
 * callback last.  Returns 1 when one ran. */
static int fail_one(eddy_stream *s)
{
    int err = s->error != 0 ? s->error : -ECANCELED;
    eddy_stream_cb cb;

    /* The connect first: it was the first request, and a failed connect
     * is what its owner needs to hear, before the reads and writes that
     * failed because of it. */
    if ((cb = s->connect_cb) != NULL) {
        s->connect_cb = NULL;
        cb(s, s->flags & S_CONNECTED ? 0 : err, s->connect_arg);
    } else if ((s->flags & S_TLS) && (cb = s->tls->cb) != NULL) {
        s->tls->cb = NULL; /* the handshake's, next after the connect's */
        cb(s, s->tls->state & EDDY__TLS_UP ? 0 : err, s->tls->arg);
    } else if (s->rd.kind != R_NONE) {
        end_read(s, err);
    } else if (s->done0 < s->ndone) {
        struct wdone d = s->done[s->done0++];

        d.cb(s, d.end <= s->sent ? 0 : err, d.arg);
    } else if ((cb = s->close_cb) != NULL) {
        s->close_cb = NULL;
        s->flags |= S_CLOSE_RAN;
        cb(s, s->error, s->close_arg);
    } else {
        return 0;
    }
    return 1;
}

/* Runs the handshake when it may progress (reads and writes wait for
 * it), then its callback.  Returns 1 when something happened. */
TLS_PATH static int tls_handshake(eddy_stream *s)
{
    eddy__tls *t = s->tls;
    eddy_stream_cb cb = t->cb;
    int err;

    if (t->state & EDDY__TLS_DONE) {
        t->state &= ~(unsigned)EDDY__TLS_DONE;
        s->flags &= ~(unsigned)S_TLS_HS;
        t->cb = NULL;
        if (cb != NULL)
            cb(s, 0, t->arg);
        return 1;
    }
    if (!(t->state & EDDY__TLS_TRY))
        return 0;
    t->state &= ~(unsigned)EDDY__TLS_TRY;
    /* Bytes read before TLS started and not handed to a read are its
     * first (taken here, not in start_tls: a read callback that starts
     * TLS still has its own bytes in the buffer). */
    if (buffered(s) > 0) {
        if ((err = eddy__tls_preread(t, head(s), buffered(s))) != 0) {
            close_with(s, err);
            return 1;
        }
        consume(s, buffered(s));
    }
    if ((err = t->ops->handshake(t)) == -EAGAIN)
        return 0; /* update_interest() watches for t->hswant */
    if (err != 0) {
        close_with(s, err);
        return 1;
    }
    t->state ^= EDDY__TLS_HANDSHAKE | EDDY__TLS_UP | EDDY__TLS_DONE;
    if (t->timer != 0)
        eddy_loop_remove_timeout(s->loop, t->timer);
    t->timer = 0;
    return 1;
}

/* Reads plaintext the TLS library holds already, which no poller will
 * report, while a read waits for it.  Returns 1 when that got somewhere. */
TLS_PATH static int tls_drain(eddy_stream *s)
{
    uint64_t before = s->received;

    if (s->rd.kind == R_NONE || buffered(s) >= s->opt.max_buffer_size ||
        !s->tls->ops->pending(s->tls))
        return 0;
    read_some(s, 1);
    return s->received != before || (s->flags & (S_CLOSED | S_EOF));
}

/* The half-close asked for by eddy_stream_shutdown_write(), once the
 * queue is out: TLS's close_notify (which may wait for WRITE), then the
 * socket's SHUT_WR, or the write fd of a pair closed.  Returns 1 when
 * something happened. */
__attribute__((noinline)) static int shut_write(eddy_stream *s)
{
    int err = 0;

    if (s->flags & S_TLS) {
        err = s->tls->ops->shutdown(s->tls, 1);
        if (err == -EAGAIN) {
            s->flags |= S_WBLOCKED;
            return 0;
        }
    }
    s->flags = (s->flags & ~(unsigned)S_SHUT_WAIT) | S_SHUT;
    if (err == 0 && s->wfd != s->rfd) {
        eddy_loop_close_fd(s->loop, s->wfd);
        s->wfd = -1;
        if (s->rfd < 0)
            close_with(s, 0); /* it only wrote: nothing is left */
    } else if (err == 0 && shutdown(s->wfd, SHUT_WR) != 0) {
        err = -errno;
    }
    if (err != 0)
        close_with(s, err);
    return 1;
}

/* Does the next thing the stream owes its user.  Returns 0 when there is
 * nothing left to do until the fd is ready again. */
static int step(eddy_stream *s)
{
    eddy_stream_cb cb;
    int err;

    if (s->flags & S_CLOSED)
        return fail_one(s);
    if (s->flags & S_CONNECTED) {
        s->flags &= ~(unsigned)S_CONNECTED;
        if ((cb = s->connect_cb) != NULL) {
            s->connect_cb = NULL;
            cb(s, 0, s->connect_arg);
        }
        return 1;
    }
    if (eddy__unlikely(s->flags & (S_CONNECTING | S_TLS_HS)))
        return s->flags & S_CONNECTING ? 0 : tls_handshake(s);
    if (!(s->flags & S_PAUSED) && (deliver_read(s) || (s->flags & S_CLOSED)))
        return 1;
    if (s->seg0 < s->nsegs && !(s->flags & S_WBLOCKED) &&
        (err = flush(s)) != 0) {
        close_with(s, err);
        return 1;
    }
    if (s->done0 < s->ndone && s->done[s->done0].end <= s->sent) {
        struct wdone d = s->done[s->done0++];

        d.cb(s, 0, d.arg);
        return 1;
    }
    if ((s->flags & S_DRAIN) && s->queued - s->sent <= s->low) {
        s->flags &= ~(unsigned)S_DRAIN;
        if ((cb = s->drain_cb) != NULL)
            cb(s, 0, s->drain_arg);
        return 1;
    }
    /* Paused, a pending read stays pending, also at EOF; a TLS stream
     * reads what its library holds (tls_drain); a half-close waits for
     * the queue to be out. */
    if (eddy__likely(!(s->flags & (S_EOF | S_TLS | S_SHUT_WAIT))))
        return 0;
    if ((s->flags & S_SHUT_WAIT) && s->seg0 == s->nsegs &&
        !(s->flags & S_WBLOCKED) && shut_write(s))
        return 1;
    if (!(s->flags & (S_EOF | S_TLS)) || (s->flags & S_PAUSED))
        return 0;
    if (!(s->flags & S_EOF))
        return tls_drain(s);
    if (s->rd.kind == R_CLOSE || (s->rd.kind == R_STREAM && s->rd.n == SIZE_MAX)) {
        end_read(s, 0);
    } else if (s->rd.kind != R_NONE) {
        s->flags |= S_EOF_FAILED;
        end_read(s, EDDY_EOF);
    } else if (((buffered(s) == 0 && !(s->flags & S_HALF_OPEN)) ||
                (s->flags & S_EOF_FAILED)) &&
               s->seg0 == s->nsegs) {
        close_with(s, EDDY_EOF);
    } else {
        return 0;
    }
    return 1;
}

/* An empty buffer goes when no read is pending, and a first-size one
 * even with a read pending: a connection waiting for its next request
 * holds none (4 KiB each, 10,000 idle ones).  The loop keeps one of the
 * first size, which the next stream to read takes: connections served one
 * after another pass it on instead of calling malloc and free for every
 * request.  A grown buffer stays while reads are pending: a flow would
 * otherwise give it back to the system and fault it in again (64 KiB)
 * at every event. */
static void drop_buf(eddy_stream *s)
{
    if (s->cap != FIRST_READ || eddy__loop_give_spare(s->loop, s->buf) != NULL)
        free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

static void free_stream(eddy_stream *s)
{
    void (*fn)(void *) = s->free_fn;
    void *arg = s->free_arg;

    for (size_t i = s->seg0; i < s->nsegs; i++)
        free(s->segs[i].own);
    free(s->segs);
    free(s->done);
    if (s->buf != NULL)
        drop_buf(s);
    if (s->tls != NULL)
        s->tls->ops->free(s->tls);
    free(s);
    if (fn != NULL)
        fn(arg);
}

static void drive(eddy_stream *s)
{
    if (s->flags & S_IN_DRIVE)
        return;
    s->flags |= S_IN_DRIVE;
    while (step(s))
        ;
    s->flags &= ~(unsigned)S_IN_DRIVE;
    if (s->flags & S_CLOSED) {
        if (!(s->flags & S_SCHEDULED))
            free_stream(s);
        return;
    }
    if (buffered(s) == 0 && s->buf != NULL &&
        (s->rd.kind == R_NONE || s->cap == FIRST_READ))
        drop_buf(s);
    update_interest(s);
}

/* Reads while read(2) fills what it was asked for and a read is still
 * pending, up to READ_BUDGET bytes, handing each piece over before the
 * next read: a flow costs one poll per READ_BUDGET bytes instead of one per
 * read_chunk_size, and the buffer still holds one piece at most.  (libuv
 * reads up to 32 times per event, Tornado until EAGAIN.)  S_IN_DRIVE is
 * set: requests made by the callbacks only record themselves. */
__attribute__((always_inline)) static inline void read_more(eddy_stream *s,
                                                            int tls)
{
    uint64_t stop = s->received + READ_BUDGET;

    while (read_some(s, tls) && s->received < stop) {
        while (step(s))
            ;
        if ((s->flags & (S_CLOSED | S_EOF | S_PAUSED)) || s->rd.kind == R_NONE)
            return;
    }
}

/* What a TLS stream's events mean to it: READ that its read may go on
 * (which may have waited for WRITE), WRITE that its write may.  During
 * the handshake neither: the handshake goes on (from drive()). */
TLS_PATH static unsigned tls_events(eddy__tls *t, unsigned events)
{
    unsigned out = events & (EDDY_ERROR | EDDY_HUP);

    if (t->state & EDDY__TLS_HANDSHAKE) {
        t->state |= EDDY__TLS_TRY; /* which meets an error or EOF too */
        return 0;
    }
    if (events & t->rwant)
        out |= EDDY_READ;
    if (events & t->wwant)
        out |= EDDY_WRITE;
    return out;
}

/* The error of a socket that reported ERROR: SO_ERROR, or ECONNRESET
 * when that reads 0; 0 for a pipe, which reads its error. */
static int socket_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno == ENOTSOCK ? 0 : errno;
    return err != 0 ? err : ECONNRESET;
}

/* What an event means to a connected stream.  tls is constant in both
 * callers: a plain stream's copy has no TLS in it. */
__attribute__((always_inline)) static inline void ready(eddy_stream *s,
                                                        int fd,
                                                        unsigned events,
                                                        int tls)
{
    int err;

    if (events & (EDDY_WRITE | EDDY_ERROR | EDDY_HUP))
        s->flags &= ~(unsigned)S_WBLOCKED;
    if (events & EDDY_HUP)
        s->flags |= S_HUP;
    if ((events & (EDDY_ERROR | EDDY_HUP)) && fd != s->rfd)
        close_with(s, -EPIPE); /* the reader of our pipe went away */
    else if ((events & EDDY_ERROR) && (s->flags & S_SOCKET) &&
             (err = socket_error(fd)) != 0)
        close_with(s, -err);
    else if (fd == s->rfd && !(s->flags & (S_EOF | S_PAUSED)) &&
             (events & (EDDY_READ | EDDY_ERROR | EDDY_HUP)))
        read_more(s, tls);
}

/* A TLS stream's event.  READ that came for a write that waited for it
 * reads no application data the stream does not want: the write reads
 * what TLS needs itself, and TCP's backpressure stays. */
TLS_PATH static void tls_ready(eddy_stream *s, int fd, unsigned events)
{
    unsigned r, w;

    events = tls_events(s->tls, events);
    wanted(s, &r, &w);
    if (!r)
        events &= ~(unsigned)EDDY_READ;
    ready(s, fd, events, 1);
}

/* The end of a connect(2). */
__attribute__((noinline)) static void connected(eddy_stream *s, int fd,
                                                unsigned events)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    /* ERROR is a failure even if SO_ERROR reads 0: libkqueue reads (and
     * so clears) it itself, docs/porting.md point 8. */
    if (err == 0 && (events & EDDY_ERROR))
        err = ECONNREFUSED;
    if (err != 0) {
        close_with(s, -err);
    } else {
        s->flags ^= S_CONNECTING | S_CONNECTED;
        if (s->connect_timer != 0)
            eddy_loop_remove_timeout(s->loop, s->connect_timer);
        s->connect_timer = 0;
    }
}

static void on_io(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    eddy_stream *s = arg;

    (void)loop;
    /* drive() runs at the end, so nothing here needs scheduling.  A drive()
     * scheduled by a close_with() below would also keep the stream from
     * being freed when its close callback returns: the owner may close
     * the loop right there, and the stream would leak. */
    s->flags |= S_IN_DRIVE;
    if (eddy__likely(!(s->flags & (S_CONNECTING | S_TLS)))) {
        ready(s, fd, events, 0);
    } else if (s->flags & S_CONNECTING) {
        connected(s, fd, events);
    } else {
        tls_ready(s, fd, events);
    }
    s->flags &= ~(unsigned)S_IN_DRIVE;
    drive(s);
}

/* --- TLS ---------------------------------------------------------------- */

static void on_tls_timeout(eddy_loop *loop, void *arg)
{
    eddy_stream *s = arg;

    (void)loop;
    s->tls->timer = 0;
    close_with(s, -ETIMEDOUT);
}

/* The library's part is in eddy__tls_new (tls_openssl.c); the stream's is
 * to make drive() start the handshake (tls_handshake). */
int eddy_stream_start_tls(eddy_stream *s, eddy_tls_ctx *ctx,
                          const char *server_name, uint64_t timeout_ms,
                          eddy_stream_cb cb, void *arg)
{
    eddy__tls *t;
    int type, err;
    socklen_t len = sizeof type;

    if (s->flags & (S_CLOSED | S_EOF | S_SHUT_WAIT | S_SHUT))
        return -EPIPE;
    if (s->tls != NULL)
        return -EALREADY;
    if (s->rd.kind != R_NONE || s->seg0 < s->nsegs || s->done0 < s->ndone)
        return -EBUSY;
    if (s->rfd != s->wfd ||
        getsockopt(s->rfd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
        type != SOCK_STREAM)
        return -ENOTSOCK;
    if ((err = eddy__tls_new(ctx, s->loop, s->rfd, server_name, &t)) != 0)
        return err;
    if (timeout_ms != 0) {
        eddy_loop_update_time(s->loop);
        err = eddy_loop_call_later(s->loop, timeout_ms, on_tls_timeout, s,
                                   &t->timer);
    }
    if (err == 0 && (err = schedule(s)) != 0 && t->timer != 0)
        eddy_loop_remove_timeout(s->loop, t->timer);
    if (err != 0) {
        t->ops->free(t);
        return err;
    }
    t->cb = cb;
    t->arg = arg;
    s->tls = t;
    s->flags = (s->flags & ~(unsigned)S_SOCKET) | S_TLS | S_TLS_HS;
    return 0;
}

eddy__tls *eddy__stream_tls(const eddy_stream *s)
{
    return s->tls;
}

/* --- the rest ----------------------------------------------------------- */

void eddy_stream_set_close_callback(eddy_stream *s, eddy_stream_cb cb,
                                    void *arg)
{
    /* Also once closed, as long as it has not run: an owner that goes
     * away first can cancel it with NULL.  Once it ran, a callback set
     * (from inside it, say) would run a second time. */
    if (s->flags & S_CLOSE_RAN)
        return;
    s->close_cb = cb;
    s->close_arg = arg;
    if (!(s->flags & (S_IN_DRIVE | S_CLOSED)))
        update_interest(s);
}

int eddy_stream_set_write_watermarks(eddy_stream *s, size_t high, size_t low)
{
    if (high != 0 && low >= high)
        return -EINVAL;
    s->high = high;
    s->low = high != 0 ? low : 0;
    if (high == 0)
        s->flags &= ~(unsigned)S_DRAIN;
    else if (s->queued - s->sent >= high)
        s->flags |= S_DRAIN;
    /* A low watermark raised past what is queued: the drain is due. */
    if ((s->flags & (S_DRAIN | S_CLOSED)) == S_DRAIN &&
        s->queued - s->sent <= s->low)
        schedule(s);
    return 0;
}

void eddy_stream_set_drain_callback(eddy_stream *s, eddy_stream_cb cb,
                                    void *arg)
{
    s->drain_cb = cb;
    s->drain_arg = arg;
}

int eddy_stream_needs_drain(const eddy_stream *s)
{
    return (s->flags & S_DRAIN) != 0;
}

void eddy_stream_pause_reading(eddy_stream *s)
{
    if (s->flags & (S_PAUSED | S_CLOSED))
        return;
    s->flags |= S_PAUSED;
    if (!(s->flags & S_IN_DRIVE))
        update_interest(s);
}

void eddy_stream_resume_reading(eddy_stream *s)
{
    if (!(s->flags & S_PAUSED))
        return;
    s->flags &= ~(unsigned)S_PAUSED;
    if (s->flags & S_CLOSED)
        return;
    /* What the buffer or an EOF already holds goes to the pending read
     * from drive(); the fd is watched again for the rest. */
    if (buffered(s) > 0 || (s->flags & S_EOF))
        schedule(s);
    if (!(s->flags & S_IN_DRIVE))
        update_interest(s);
}

int eddy_stream_reading_paused(const eddy_stream *s)
{
    return (s->flags & S_PAUSED) != 0;
}

void eddy__stream_on_free(eddy_stream *s, void (*fn)(void *arg), void *arg)
{
    s->free_fn = fn;
    s->free_arg = arg;
}

void eddy_stream_close(eddy_stream *s)
{
    close_with(s, 0);
}

/* Only records the request: shut_write() does it from drive(), after the
 * queue (and a handshake or connect under way). */
int eddy_stream_shutdown_write(eddy_stream *s)
{
    int type, err;
    socklen_t len = sizeof type;

    if ((s->flags & (S_CLOSED | S_SHUT_WAIT | S_SHUT)) || s->wfd < 0)
        return -EPIPE;
    if (s->wfd == s->rfd &&
        getsockopt(s->wfd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return errno == ENOTSOCK ? -ENOTSOCK : -errno;
    if ((err = schedule(s)) == 0)
        s->flags |= S_SHUT_WAIT;
    return err;
}

int eddy_stream_set_nodelay(eddy_stream *s, int on)
{
    int v = on != 0;

    if (s->flags & S_CLOSED)
        return -EPIPE;
    if (setsockopt(s->wfd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0)
        return -errno;
    return 0;
}

int eddy_stream_error(const eddy_stream *s)
{
    return s->error;
}

int eddy_stream_closed(const eddy_stream *s)
{
    return (s->flags & S_CLOSED) != 0;
}

int eddy_stream_reading(const eddy_stream *s)
{
    return s->rd.kind != R_NONE;
}

size_t eddy_stream_write_buffered(const eddy_stream *s)
{
    return (size_t)(s->queued - s->sent);
}

size_t eddy_stream_read_buffered(const eddy_stream *s)
{
    return buffered(s);
}

int eddy_stream_fd(const eddy_stream *s)
{
    return s->rfd >= 0 ? s->rfd : s->wfd;
}

eddy_loop *eddy_stream_loop(const eddy_stream *s)
{
    return s->loop;
}

void eddy_stream_set_data(eddy_stream *s, void *data)
{
    s->data = data;
}

void *eddy_stream_data(const eddy_stream *s)
{
    return s->data;
}
