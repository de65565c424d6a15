/*
 * tests/test_iostream.c - the iostream layer: every read kind, all at once
 * and a byte per loop iteration; the limits; writes, coalescing and
 * zero-copy ownership; closing from every kind of callback; peers that
 * close, reset or half-close; connect; and two example programs run as
 * child processes (echo with 1,000 clients, client against a responder
 * written here).
 *
 * One function per behaviour, counters asserted at the end.  Every test
 * closes its streams, runs the loop until their close callbacks ran, and
 * checks that the loop holds no handler before closing it (tu_fd_teardown
 * fails a test that leaves an fd open; valgrind and ASan catch the rest).
 * Every wait is on the loop or on poll(2), bounded in iterations and time;
 * the only pauses are polls of a few milliseconds between checks for a
 * child process that listens or exits, which offers no fd to wait on.
 *
 * Two rules are checked in every callback: it never runs inside the eddy
 * call that made its request (in_api counts the calls in progress), and no
 * stream callback runs after that stream's close callback.  SIGPIPE keeps
 * its default disposition here, so a stray one kills the suite.
 */
#include "testutil.h"

#include "eddy/iostream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#ifdef __linux__
#include <linux/tcp.h> /* glibc's tcp_info lacks tcpi_segs_out */
#else
#include <netinet/tcp.h>
#endif
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/wait.h>

#define RUN_MS 5000     /* the bound on any one wait */
#define RUN_ITER 200000 /* and on its loop iterations */
#define MAXREC 64       /* read completions recorded per stream */

/* --- calls and callbacks ------------------------------------------------ */

/* eddy_stream_* calls in progress: a callback must never see it non-zero. */
static int in_api;
static int api_rc;

#define API(call) (in_api++, api_rc = (call), in_api--, api_rc)
#define API_V(call) (in_api++, (call), in_api--)

/* The order in which callbacks ran, one letter each: r(ead), w(rite),
 * c(onnect), x (close).  Reset by each test that looks at it. */
static char order[256];
static int norder;

static void order_reset(void)
{
    norder = 0;
    order[0] = '\0';
}

static void callback_entered(char kind)
{
    assert_int_equal(in_api, 0);
    if (norder < (int)sizeof order - 1) {
        order[norder++] = kind;
        order[norder] = '\0';
    }
}

enum { K_BYTES, K_UNTIL, K_CLOSE, K_INTO, K_STREAM };

/* A stream under test and everything that happened to it. */
typedef struct sctx {
    eddy_loop *loop;
    eddy_stream *s; /* NULL once the close callback ran */
    int rfd;        /* the fd the stream reads, for FIONREAD */

    /* The read issue() makes, again after each completion if rearm. */
    int kind, partial, rearm;
    size_t n, max, dlen;
    const char *delim;
    char *into; /* read_into's buffer of n bytes */

    int owed;  /* requests made whose callback has not run */
    int reads; /* read callbacks, pieces included */
    int done;  /* read requests finished (status other than EDDY_MORE) */
    int last_status, first_error, nrec;
    size_t lens[MAXREC];
    int statuses[MAXREC];
    char *got; /* every byte the read callbacks were given, in order */
    size_t got_len, got_cap;
    int no_store; /* do not keep the bytes (bulk transfers) */
    int depth, max_depth;
    int error_in_read; /* eddy_stream_error() in the last read callback */

    int closes, close_status, close_error;
    int connects, connect_status;

    /* Optional hooks, run at the end of the callbacks. */
    void (*read_hook)(struct sctx *c, int status, const char *data, size_t len);
    void (*close_hook)(struct sctx *c);
    void (*connect_hook)(struct sctx *c);
    void *user;
} sctx;

static void got_append(sctx *c, const char *data, size_t len)
{
    if (c->no_store || len == 0)
        return;
    if (c->got_len + len > c->got_cap) {
        size_t cap = c->got_cap ? c->got_cap : 256;

        while (cap < c->got_len + len)
            cap *= 2;
        c->got = realloc(c->got, cap);
        assert_non_null(c->got);
        c->got_cap = cap;
    }
    memcpy(c->got + c->got_len, data, len);
    c->got_len += len;
}

static int issue(sctx *c);

static void on_read(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    sctx *c = arg;

    callback_entered('r');
    assert_ptr_equal(s, c->s);
    assert_int_equal(c->closes, 0);
    assert_true(status == 0 || status == EDDY_MORE || status < 0);
    if (++c->depth > c->max_depth)
        c->max_depth = c->depth;
    c->reads++;
    if (status != EDDY_MORE) {
        c->owed--;
        c->done++;
    }
    c->last_status = status;
    if (status < 0 && c->first_error == 0)
        c->first_error = status;
    c->error_in_read = eddy_stream_error(s);
    if (c->nrec < MAXREC) {
        c->lens[c->nrec] = len;
        c->statuses[c->nrec++] = status;
    }
    if (c->kind == K_INTO)
        assert_ptr_equal(data, c->into);
    got_append(c, data, len);
    if (c->read_hook != NULL)
        c->read_hook(c, status, data, len);
    else if (status == 0 && c->rearm)
        assert_int_equal(issue(c), 0);
    c->depth--;
}

static void on_close(eddy_stream *s, int status, void *arg)
{
    sctx *c = arg;

    callback_entered('x');
    assert_ptr_equal(s, c->s);
    assert_int_equal(++c->closes, 1);
    /* The close callback runs after every other callback of the stream. */
    assert_int_equal(c->owed, 0);
    assert_false(eddy_stream_reading(s));
    assert_true(eddy_stream_closed(s));
    assert_int_equal(eddy_stream_fd(s), -1);
    c->close_status = status;
    c->close_error = eddy_stream_error(s);
    assert_int_equal(status, c->close_error);
    if (c->close_hook != NULL)
        c->close_hook(c);
    c->s = NULL;
}

static void on_connect(eddy_stream *s, int status, void *arg)
{
    sctx *c = arg;

    callback_entered('c');
    assert_ptr_equal(s, c->s);
    assert_int_equal(c->closes, 0);
    assert_int_equal(++c->connects, 1);
    c->owed--;
    c->connect_status = status;
    if (c->connect_hook != NULL)
        c->connect_hook(c);
}

/* Makes c's read; counts it as owed when the call accepted it. */
static int issue(sctx *c)
{
    int rc;

    switch (c->kind) {
    case K_BYTES:
        rc = API(eddy_stream_read_bytes(c->s, c->n, c->partial, on_read, c));
        break;
    case K_UNTIL:
        rc = API(eddy_stream_read_until(c->s, c->delim, c->dlen, c->max,
                                        on_read, c));
        break;
    case K_CLOSE:
        rc = API(eddy_stream_read_until_close(c->s, on_read, c));
        break;
    case K_INTO:
        rc = API(
            eddy_stream_read_into(c->s, c->into, c->n, c->partial, on_read, c));
        break;
    default:
        rc = API(eddy_stream_read_stream(c->s, c->n, on_read, c));
        break;
    }
    if (rc == 0)
        c->owed++;
    return rc;
}

/* A write (or write_ref) whose callback must run exactly once. */
typedef struct wtok {
    sctx *c;
    int calls, status;
    char *own; /* write_ref's buffer, freed by the callback */
    int close_in_cb;
} wtok;

static void on_write(eddy_stream *s, int status, void *arg)
{
    wtok *t = arg;

    callback_entered('w');
    assert_ptr_equal(s, t->c->s);
    assert_int_equal(t->c->closes, 0);
    assert_int_equal(++t->calls, 1);
    t->status = status;
    t->c->owed--;
    if (t->own != NULL) {
        /* The stream is done with a write_ref's buffer here: scribble
         * over it and free it, so that a later read of it shows. */
        memset(t->own, 0xEE, 1);
        free(t->own);
        t->own = NULL;
    }
    if (t->close_in_cb)
        API_V(eddy_stream_close(s));
}

static int do_write(sctx *c, const void *data, size_t len, wtok *t)
{
    int rc;

    if (t != NULL) {
        memset(t, 0, sizeof *t);
        t->c = c;
    }
    rc = API(eddy_stream_write(c->s, data, len, t ? on_write : NULL, t));
    if (rc == 0 && t != NULL)
        c->owed++;
    return rc;
}

/* write_ref of a heap copy of data that the callback frees. */
static int do_write_ref(sctx *c, const void *data, size_t len, wtok *t)
{
    int rc;

    memset(t, 0, sizeof *t);
    t->c = c;
    t->own = malloc(len ? len : 1);
    assert_non_null(t->own);
    memcpy(t->own, data, len);
    rc = API(eddy_stream_write_ref(c->s, t->own, len, on_write, t));
    if (rc == 0) {
        c->owed++;
    } else {
        free(t->own); /* on error the callback does not run */
        t->own = NULL;
    }
    return rc;
}

/* --- streams, peers and the loop ----------------------------------------- */

static void ctx_init(sctx *c, eddy_loop *loop)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->rfd = -1;
}

static void ctx_adopt(sctx *c)
{
    eddy_stream_set_close_callback(c->s, on_close, c);
    c->rfd = eddy_stream_fd(c->s);
}

static void ctx_open(sctx *c, eddy_loop *loop, int fd,
                     const eddy_stream_options *o)
{
    ctx_init(c, loop);
    assert_int_equal(eddy_stream_new(loop, fd, o, &c->s), 0);
    ctx_adopt(c);
}

/* A stream on one end of a fresh socketpair; the other end to *peer. */
static void ctx_socketpair(sctx *c, eddy_loop *loop, int *peer,
                           const eddy_stream_options *o)
{
    int sv[2];

    tu_socketpair(sv);
    ctx_open(c, loop, sv[0], o);
    *peer = sv[1];
}

/* A stream reading from a fresh pipe; its write end to *peer. */
static void ctx_pipe_reader(sctx *c, eddy_loop *loop, int *peer,
                            const eddy_stream_options *o)
{
    int p[2];

    tu_pipe(p);
    ctx_init(c, loop);
    assert_int_equal(eddy_stream_new_pair(loop, p[0], -1, o, &c->s), 0);
    ctx_adopt(c);
    *peer = p[1];
}

static int unread(int fd)
{
    int n = 0;

    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

/* Runs the loop until nothing is queued to run at once (a stream's
 * deferred work, its deferred free), at most a few iterations. */
static void spin(eddy_loop *loop)
{
    for (int i = 0; i < 100 && eddy_loop_timeout(loop) == 0; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
}

/* The stream took in everything the kernel holds for it, or cannot. */
static int settled_cond(void *arg)
{
    sctx *c = arg;

    return c->s == NULL || eddy_stream_closed(c->s) ||
           !eddy_stream_reading(c->s) || unread(c->rfd) == 0;
}

static void settle(sctx *c)
{
    assert_true(tu_run_until(c->loop, settled_cond, c, RUN_ITER, RUN_MS));
    spin(c->loop);
}

static void send_all(int fd, const void *data, size_t len)
{
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

    if (n < 0 && errno == ENOTSOCK)
        n = write(fd, data, len);
    assert_int_equal(n, (ssize_t)len);
}

/* Sends data to the stream's peer: at once, or one byte per iteration,
 * each byte taken in by the stream before the next is sent. */
static void feed(sctx *c, int peer, const void *data, size_t len, int bytewise)
{
    const char *p = data;

    if (!bytewise) {
        send_all(peer, p, len);
        settle(c);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        send_all(peer, p + i, 1);
        settle(c);
    }
}

static void run_until_closed(sctx *c)
{
    assert_true(tu_run_until_count(c->loop, &c->closes, 1, RUN_ITER, RUN_MS));
    spin(c->loop);
}

/* Closes the stream if it is open, waits for its close callback and
 * checks that every request was answered. */
static void ctx_finish(sctx *c)
{
    if (c->s != NULL) {
        API_V(eddy_stream_close(c->s));
        run_until_closed(c);
    }
    assert_int_equal(c->closes, 1);
    assert_int_equal(c->owed, 0);
    assert_int_equal(c->depth, 0);
    free(c->got);
    c->got = NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        assert_int_equal(close(*fd), 0);
    *fd = -1;
}

/* Every stream is closed: the loop must hold no handler any more. */
static void loop_finish(eddy_loop *loop)
{
    eddy_loop_stats st;

    spin(loop);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.handlers, 0);
    assert_int_equal(st.timers, 0); /* a connect's timeout was removed */
    eddy_loop_close(loop, 0);
}

/* Reads from a peer fd while running the loop, until want bytes came or,
 * with want SIZE_MAX, until EOF.  Returns the bytes read. */
static size_t peer_read(eddy_loop *loop, int fd, char *buf, size_t cap,
                        size_t want)
{
    uint64_t end = tu_now_ms() + RUN_MS;
    size_t got = 0;

    for (int i = 0; i < RUN_ITER && tu_now_ms() < end; i++) {
        ssize_t r = read(fd, buf + got, cap - got);

        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        if (got >= want || got == cap)
            break;
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
    }
    return got;
}

/* --- TCP on loopback ----------------------------------------------------- */

static int tcp_listen(int backlog, uint16_t *port)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (backlog >= 0)
        assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accepts one connection, waiting at most RUN_MS for it. */
static int tcp_accept(int lfd)
{
    struct pollfd p = {lfd, POLLIN, 0};
    int fd;

    assert_int_equal(poll(&p, 1, RUN_MS), 1);
    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

/* A connected TCP pair on loopback, both ends non-blocking. */
static void tcp_pair(int *client, int *server)
{
    struct sockaddr_in a = {0};
    uint16_t port;
    int lfd = tcp_listen(8, &port);

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*client >= 0);
    assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof a), 0);
    tu_nonblock(*client);
    *server = tcp_accept(lfd);
    close_fd(&lfd);
}

/* Closes fd so that the peer gets a reset (RST), not a FIN. */
static void close_with_reset(int *fd)
{
    struct linger l = {1, 0};

    assert_int_equal(setsockopt(*fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    close_fd(fd);
}

/* --- reading: every kind, all at once and byte by byte ------------------- */

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* read_bytes(n) re-armed after each completion, over a socketpair. */
static void read_bytes_exact(int bytewise)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_BYTES;
    c.n = 6;
    c.rearm = 1;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, alphabet, 36, bytewise);
    assert_int_equal(c.done, 6);
    assert_int_equal(c.reads, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c.lens[i], 6);
        assert_int_equal(c.statuses[i], 0);
    }
    assert_int_equal(c.got_len, 36);
    assert_memory_equal(c.got, alphabet, 36);
    assert_true(eddy_stream_reading(c.s)); /* the seventh is pending */
    ctx_finish(&c);
    assert_int_equal(c.last_status, -ECANCELED);
    assert_int_equal(c.close_status, 0); /* closed by its owner */
    close_fd(&peer);
    loop_finish(loop);
}

static void test_read_bytes_at_once(void **state)
{
    (void)state;
    read_bytes_exact(0);
}

static void test_read_bytes_bytewise(void **state)
{
    (void)state;
    read_bytes_exact(1);
}

/* read_bytes(n, partial): as soon as any bytes are there, at most n. */
static void read_bytes_partial(int bytewise)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_BYTES;
    c.n = 16;
    c.partial = 1;
    c.rearm = 1;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, alphabet, 36, bytewise);
    if (bytewise) {
        assert_int_equal(c.done, 36);
        for (int i = 0; i < 36; i++)
            assert_int_equal(c.lens[i], 1);
    } else {
        /* One read(2) took all 36 bytes: 16 + 16 + 4. */
        assert_int_equal(c.done, 3);
        assert_int_equal(c.lens[0], 16);
        assert_int_equal(c.lens[1], 16);
        assert_int_equal(c.lens[2], 4);
    }
    assert_int_equal(c.got_len, 36);
    assert_memory_equal(c.got, alphabet, 36);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

static void test_read_bytes_partial_at_once(void **state)
{
    (void)state;
    read_bytes_partial(0);
}

static void test_read_bytes_partial_bytewise(void **state)
{
    (void)state;
    read_bytes_partial(1);
}

/* read_until("\n") re-armed: three lines, over a pipe this time. */
static void read_until_lines(int bytewise)
{
    static const char in[] = "one\ntwo\nthree\n";
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    ctx_pipe_reader(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    c.rearm = 1;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, in, sizeof in - 1, bytewise);
    assert_int_equal(c.done, 3);
    assert_int_equal(c.lens[0], 4);
    assert_int_equal(c.lens[1], 4);
    assert_int_equal(c.lens[2], 6);
    assert_int_equal(c.got_len, sizeof in - 1);
    assert_memory_equal(c.got, in, sizeof in - 1);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

static void test_read_until_at_once(void **state)
{
    (void)state;
    read_until_lines(0);
}

static void test_read_until_bytewise(void **state)
{
    (void)state;
    read_until_lines(1);
}

/* Two requests with "\r\n\r\n", the input split in two at every
 * position, so that the delimiter is split at each of its bytes. */
static void test_read_until_split_everywhere(void **state)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                             "GET /b HTTP/1.1\r\n\r\n";
    const size_t len = sizeof in - 1, first = 27;

    (void)state;
    assert_memory_equal(in + first - 4, "\r\n\r\n", 4);
    for (size_t cut = 0; cut <= len; cut++) {
        eddy_loop *loop = tu_loop_new();
        sctx c;
        int peer;

        ctx_socketpair(&c, loop, &peer, NULL);
        c.kind = K_UNTIL;
        c.delim = "\r\n\r\n";
        c.dlen = 4;
        c.rearm = 1;
        assert_int_equal(issue(&c), 0);
        if (cut > 0)
            feed(&c, peer, in, cut, 0);
        if (cut < len)
            feed(&c, peer, in + cut, len - cut, 0);
        assert_int_equal(c.done, 2);
        assert_int_equal(c.lens[0], first);
        assert_int_equal(c.lens[1], len - first);
        assert_memory_equal(c.got, in, len);
        ctx_finish(&c);
        close_fd(&peer);
        loop_finish(loop);
    }
}

/* Delimiters whose prefix repeats ("aab" in "aaab", "\r\n\r\n" after
 * "\r\n\r"): a scan that skips too far misses them. */
static void read_until_overlap(int bytewise)
{
    static const char in[] = "xaaab"
                             "\r\n\r\r\n\r\n";
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "aab";
    c.dlen = 3;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, in, 5, bytewise);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.lens[0], 5);
    c.delim = "\r\n\r\n";
    c.dlen = 4;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, in + 5, sizeof in - 1 - 5, bytewise);
    assert_int_equal(c.done, 2);
    assert_int_equal(c.lens[1], 7);
    assert_memory_equal(c.got, in, sizeof in - 1);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

static void test_read_until_overlapping_at_once(void **state)
{
    (void)state;
    read_until_overlap(0);
}

static void test_read_until_overlapping_bytewise(void **state)
{
    (void)state;
    read_until_overlap(1);
}

/* A 200 KB line a byte per iteration, with near misses of the delimiter
 * all along: read_until scans each byte once, where a rescan from the
 * start on every byte would compare some 2 * 10^10 bytes. */
static void test_read_until_long_line_bytewise(void **state)
{
    size_t len = tu_valgrind() ? 8 * 1024 : 200 * 1024;
    eddy_loop *loop = tu_loop_new();
    char *line = malloc(len);
    sctx c;
    int peer;

    (void)state;
    assert_non_null(line);
    /* Every tenth byte a '\r': a near miss of "\r\n" all along. */
    for (size_t i = 0; i < len - 2; i++)
        line[i] = i % 10 == 9 ? '\r' : alphabet[i % 36];
    line[len - 2] = '\r';
    line[len - 1] = '\n';
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\r\n";
    c.dlen = 2;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, line, len, 1);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.lens[0], len);
    assert_int_equal(c.got_len, len);
    assert_memory_equal(c.got, line, len);
    ctx_finish(&c);
    free(line);
    close_fd(&peer);
    loop_finish(loop);
}

/* read_until_close: everything, with status 0, once the peer closes. */
static void read_until_close(int bytewise)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_CLOSE;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, alphabet, 36, bytewise);
    assert_int_equal(c.reads, 0);
    assert_int_equal(eddy_stream_read_buffered(c.s), 36);
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[0], 0);
    assert_int_equal(c.lens[0], 36);
    assert_memory_equal(c.got, alphabet, 36);
    assert_int_equal(c.close_status, EDDY_EOF);
    assert_string_equal(order, "rx");
    ctx_finish(&c);
    loop_finish(loop);
}

static void test_read_until_close_at_once(void **state)
{
    (void)state;
    order_reset();
    read_until_close(0);
}

static void test_read_until_close_bytewise(void **state)
{
    (void)state;
    order_reset();
    read_until_close(1);
}

/* read_into, exact and partial, into the caller's buffer. */
static void read_into(int bytewise, int partial)
{
    eddy_loop *loop = tu_loop_new();
    char buf[8];
    sctx c;
    int peer;

    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_INTO;
    c.into = buf;
    c.n = sizeof buf;
    c.partial = partial;
    c.rearm = 1;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, alphabet, 36, bytewise);
    if (!partial) {
        assert_int_equal(c.done, 4); /* 4 x 8; 4 bytes wait in buf */
        for (int i = 0; i < 4; i++)
            assert_int_equal(c.lens[i], 8);
        assert_memory_equal(buf, alphabet + 32, 4);
    } else if (bytewise) {
        assert_int_equal(c.done, 36);
    } else {
        assert_int_equal(c.done, 5); /* 8 x 4 + 4 */
        assert_int_equal(c.lens[4], 4);
    }
    assert_memory_equal(c.got, alphabet, c.got_len);
    assert_int_equal(c.got_len, partial ? 36 : 32);
    ctx_finish(&c);
    if (!partial) {
        /* Cancelled: the callback got the 4 bytes that had arrived. */
        assert_int_equal(c.last_status, -ECANCELED);
        assert_int_equal(c.lens[4], 4);
    }
    close_fd(&peer);
    loop_finish(loop);
}

static void test_read_into_at_once(void **state)
{
    (void)state;
    read_into(0, 0);
}

static void test_read_into_bytewise(void **state)
{
    (void)state;
    read_into(1, 0);
}

static void test_read_into_partial_at_once(void **state)
{
    (void)state;
    read_into(0, 1);
}

static void test_read_into_partial_bytewise(void **state)
{
    (void)state;
    read_into(1, 1);
}

/* read_into takes what a read_until left buffered first, then the rest
 * from the kernel. */
static void test_read_into_after_buffered(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[10];
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "head\nbody-", 10, 0);
    assert_int_equal(c.done, 1);
    assert_int_equal(eddy_stream_read_buffered(c.s), 5);
    c.kind = K_INTO;
    c.into = buf;
    c.n = sizeof buf;
    assert_int_equal(issue(&c), 0);
    spin(loop);
    assert_int_equal(c.done, 1); /* 5 of 10: still waiting */
    feed(&c, peer, "12345", 5, 0);
    assert_int_equal(c.done, 2);
    assert_int_equal(c.lens[1], 10);
    assert_memory_equal(buf, "body-12345", 10);
    assert_int_equal(eddy_stream_read_buffered(c.s), 0);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* read_stream(n): pieces with EDDY_MORE, the last one with 0. */
static void read_stream_pieces(int bytewise)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_STREAM;
    c.n = 30;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, alphabet, 36, bytewise);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[c.nrec - 1], 0);
    for (int i = 0; i < c.nrec - 1; i++)
        assert_int_equal(c.statuses[i], EDDY_MORE);
    assert_int_equal(c.reads, bytewise ? 30 : 1);
    assert_int_equal(c.got_len, 30);
    assert_memory_equal(c.got, alphabet, 30);
    /* The six bytes past n stay buffered, or in the kernel. */
    assert_int_equal(eddy_stream_read_buffered(c.s) + (size_t)unread(c.rfd), 6);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

static void test_read_stream_at_once(void **state)
{
    (void)state;
    read_stream_pieces(0);
}

static void test_read_stream_bytewise(void **state)
{
    (void)state;
    read_stream_pieces(1);
}

/* read_stream(SIZE_MAX): pieces until EOF, then a last call with 0. */
static void test_read_stream_until_eof(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_pipe_reader(&c, loop, &peer, NULL);
    c.kind = K_STREAM;
    c.n = SIZE_MAX;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "abc", 3, 0);
    feed(&c, peer, "de", 2, 0);
    assert_int_equal(c.reads, 2);
    assert_int_equal(c.done, 0);
    assert_int_equal(eddy_stream_read_buffered(c.s), 0); /* one piece */
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.reads, 3);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[2], 0);
    assert_int_equal(c.lens[2], 0);
    assert_int_equal(c.got_len, 5);
    assert_memory_equal(c.got, "abcde", 5);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    loop_finish(loop);
}

/* read_chunk_size caps each read(2): a read_stream sees no bigger piece. */
static void test_read_chunk_size(void **state)
{
    eddy_stream_options o = {.read_chunk_size = 16};
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, &o);
    c.kind = K_STREAM;
    c.n = 36;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, alphabet, 36, 0);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.reads, 3);
    assert_int_equal(c.lens[0], 16);
    assert_int_equal(c.lens[1], 16);
    assert_int_equal(c.lens[2], 4);
    assert_memory_equal(c.got, alphabet, 36);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* Reads of nothing complete at once, though not inside the call. */
static void test_read_zero_length(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[1];
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_BYTES;
    assert_int_equal(issue(&c), 0);
    assert_int_equal(c.done, 0);
    spin(loop);
    c.kind = K_INTO;
    c.into = buf;
    assert_int_equal(issue(&c), 0);
    spin(loop);
    c.kind = K_STREAM;
    assert_int_equal(issue(&c), 0);
    spin(loop);
    assert_int_equal(c.done, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c.statuses[i], 0);
        assert_int_equal(c.lens[i], 0);
    }
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* A read_into of nothing made from a timer while data is waiting: the
 * fd is readable before the read completes, and a read(2) of zero bytes
 * must not pass for EOF. */
static void read_into_nothing(eddy_loop *loop, void *arg)
{
    sctx *c = arg;

    (void)loop;
    assert_int_equal(issue(c), 0);
}

static void test_read_into_zero_with_data_waiting(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[4];
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_INTO;
    c.into = buf;
    c.n = 0;
    send_all(peer, "abc", 3);
    assert_int_equal(eddy_loop_call_later(loop, 0, read_into_nothing, &c, NULL),
                     0);
    assert_true(tu_run_until_count(loop, &c.done, 1, RUN_ITER, RUN_MS));
    spin(loop);
    assert_int_equal(c.statuses[0], 0);
    assert_int_equal(c.lens[0], 0);
    assert_int_equal(c.closes, 0);
    c.kind = K_BYTES;
    c.n = 3;
    assert_int_equal(issue(&c), 0);
    assert_true(tu_run_until_count(loop, &c.done, 2, RUN_ITER, RUN_MS));
    assert_int_equal(c.statuses[1], 0);
    assert_memory_equal(c.got, "abc", 3);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* The argument errors, and a second read while one is pending. */
static void test_read_argument_errors(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char big[EDDY_MAX_DELIMITER + 1] = {0};
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    assert_int_equal(eddy_stream_read_bytes(c.s, 1, 0, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_stream_read_until(c.s, "", 0, 0, on_read, &c),
                     -EINVAL);
    assert_int_equal(eddy_stream_read_until(c.s, NULL, 1, 0, on_read, &c),
                     -EINVAL);
    assert_int_equal(
        eddy_stream_read_until(c.s, big, sizeof big, 0, on_read, &c), -EINVAL);
    assert_int_equal(eddy_stream_read_into(c.s, NULL, 4, 0, on_read, &c),
                     -EINVAL);
    assert_false(eddy_stream_reading(c.s));
    c.kind = K_UNTIL;
    c.delim = big;
    c.dlen = EDDY_MAX_DELIMITER; /* the longest allowed */
    assert_int_equal(issue(&c), 0);
    assert_true(eddy_stream_reading(c.s));
    assert_int_equal(eddy_stream_read_bytes(c.s, 1, 0, on_read, &c), -EBUSY);
    assert_int_equal(eddy_stream_read_until_close(c.s, on_read, &c), -EBUSY);
    assert_int_equal(eddy_stream_write(c.s, NULL, 3, NULL, NULL), -EINVAL);
    {
        eddy_stream *none = NULL;

        assert_int_equal(eddy_stream_new(loop, -1, NULL, &none), -EBADF);
        assert_int_equal(eddy_stream_new_pair(loop, -1, -1, NULL, &none),
                         -EBADF);
        assert_null(none);
    }
    ctx_finish(&c);
    assert_int_equal(c.last_status, -ECANCELED);
    close_fd(&peer);
    loop_finish(loop);
}

/* The stream owns its fd also when creating it fails: the fd is closed.
 * select cannot watch an fd at FD_SETSIZE, epoll a character device. */
static void test_new_failure_closes_fd(void **state)
{
    eddy_loop *loop;
    eddy_stream *s = NULL;
    int fd = -1, expect = 0;

    (void)state;
    if (tu_backend_is("select")) {
        int sv[2];

        assert_true(tu_raise_nofile(FD_SETSIZE + 16) > FD_SETSIZE + 8);
        tu_socketpair(sv);
        fd = dup2(sv[0], FD_SETSIZE + 4);
        assert_int_equal(fd, FD_SETSIZE + 4);
        close_fd(&sv[0]);
        close_fd(&sv[1]);
        expect = -ERANGE;
    } else if (tu_backend_is("epoll")) {
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        expect = -EPERM;
    } else {
        skip(); /* poll watches anything */
    }
    loop = tu_loop_new();
    assert_int_equal(eddy_stream_new(loop, fd, NULL, &s), expect);
    assert_null(s);
    assert_false(tu_fd_is_open(fd));
    loop_finish(loop);
}

/* Ten thousand lines arrive at once; each callback reads the next line.
 * The reads loop inside the stream instead of recursing. */
static void test_reads_in_callbacks_do_not_recurse(void **state)
{
    const int lines = tu_valgrind() ? 1000 : 10000;
    eddy_loop *loop = tu_loop_new();
    char *in = malloc((size_t)lines * 4);
    sctx c;
    int peer;

    (void)state;
    assert_non_null(in);
    for (int i = 0; i < lines; i++)
        memcpy(in + 4 * i, "ab\r\n", 4);
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    c.rearm = 1;
    assert_int_equal(issue(&c), 0);
    /* In pieces small enough for the socket buffer. */
    for (int i = 0; i < lines; i += 1000)
        feed(&c, peer, in + 4 * i, 4000, 0);
    assert_int_equal(c.done, lines);
    assert_int_equal(c.max_depth, 1);
    assert_int_equal(c.got_len, (size_t)lines * 4);
    assert_memory_equal(c.got, in, (size_t)lines * 4);
    ctx_finish(&c);
    free(in);
    close_fd(&peer);
    loop_finish(loop);
}

/* A read the buffer can satisfy at once still completes later: after
 * the call returns (in_api proves it for every call in this file). */
static void test_buffered_read_completes_after_call(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_BYTES;
    c.n = 3;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "abcdef", 6, 0);
    assert_int_equal(c.done, 1);
    assert_int_equal(eddy_stream_read_buffered(c.s), 3);
    assert_int_equal(issue(&c), 0);
    assert_int_equal(c.done, 1); /* not inside the call */
    spin(loop);
    assert_int_equal(c.done, 2);
    assert_memory_equal(c.got, "abcdef", 6);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* --- limits -------------------------------------------------------------- */

/* read_until's max_bytes passes without a delimiter: the pending read
 * gets -EMSGSIZE with what was buffered, eddy_stream_error() says so, and
 * the close callback runs last with the same error. */
static void max_bytes_breach(int bytewise)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    order_reset();
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\r\n";
    c.dlen = 2;
    c.max = 10;
    assert_int_equal(issue(&c), 0);
    /* Byte by byte the stream closes at the tenth; after that the peer
     * could not send any more. */
    feed(&c, peer, "0123456789abc", bytewise ? 10 : 13, bytewise);
    run_until_closed(&c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.first_error, -EMSGSIZE);
    assert_int_equal(c.error_in_read, -EMSGSIZE);
    assert_int_equal(c.close_status, -EMSGSIZE);
    assert_true(c.lens[0] >= 10);
    assert_memory_equal(c.got, "0123456789abc", c.lens[0]);
    assert_string_equal(order, "rx");
    assert_string_equal(eddy_strerror(-EMSGSIZE),
                        "delimiter not found within max_bytes");
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

static void test_max_bytes_at_once(void **state)
{
    (void)state;
    max_bytes_breach(0);
}

static void test_max_bytes_bytewise(void **state)
{
    (void)state;
    max_bytes_breach(1);
}

/* A message of exactly max_bytes, delimiter included, is fine; one more
 * byte before the delimiter is not. */
static void test_max_bytes_exact_fit(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\r\n";
    c.dlen = 2;
    c.max = 10;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "01234567\r\n", 10, 1);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[0], 0);
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "012345678\r\n", 11, 0);
    run_until_closed(&c);
    assert_int_equal(c.done, 2);
    assert_int_equal(c.statuses[1], -EMSGSIZE);
    assert_int_equal(c.close_status, -EMSGSIZE);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* The read buffer reaches max_buffer_size with the read unsatisfied:
 * -ENOBUFS, and never more than max_buffer_size bytes buffered. */
static void max_buffer_breach(int kind)
{
    eddy_stream_options o = {.max_buffer_size = 1024};
    eddy_loop *loop = tu_loop_new();
    char in[3000];
    sctx c;
    int peer;

    order_reset();
    memset(in, 'z', sizeof in);
    ctx_socketpair(&c, loop, &peer, &o);
    c.kind = kind;
    c.delim = "\n";
    c.dlen = 1;
    assert_int_equal(issue(&c), 0);
    send_all(peer, in, sizeof in);
    run_until_closed(&c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.first_error, -ENOBUFS);
    assert_int_equal(c.error_in_read, -ENOBUFS);
    assert_int_equal(c.lens[0], 1024);
    assert_int_equal(c.close_status, -ENOBUFS);
    assert_string_equal(order, "rx");
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

static void test_max_buffer_read_until(void **state)
{
    (void)state;
    max_buffer_breach(K_UNTIL);
}

static void test_max_buffer_read_until_close(void **state)
{
    (void)state;
    max_buffer_breach(K_CLOSE);
}

/* read_bytes(n) with n past max_buffer_size fails at once and closes. */
static void test_read_bytes_past_max_buffer(void **state)
{
    eddy_stream_options o = {.max_buffer_size = 100};
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, &o);
    c.kind = K_BYTES;
    c.n = 100;
    assert_int_equal(issue(&c), 0); /* exactly the limit fits */
    feed(&c, peer, alphabet, 36, 0);
    assert_int_equal(c.done, 0);
    feed(&c, peer, alphabet, 36, 0);
    feed(&c, peer, alphabet, 28, 0);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[0], 0);
    assert_int_equal(c.lens[0], 100);
    ctx_finish(&c);
    close_fd(&peer);

    ctx_socketpair(&c, loop, &peer, &o);
    c.kind = K_BYTES;
    c.n = 101;
    assert_int_equal(issue(&c), -ENOBUFS);
    assert_true(eddy_stream_closed(c.s));
    run_until_closed(&c);
    assert_int_equal(c.reads, 0);
    assert_int_equal(c.close_status, -ENOBUFS);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* A write that would take the queue past max_write_buffer_size fails
 * with -ENOSPC and closes the stream; queued writes get the error. */
static void test_max_write_buffer(void **state)
{
    eddy_stream_options o = {.max_write_buffer_size = 1000};
    eddy_loop *loop = tu_loop_new();
    char data[1001] = {0};
    wtok a, b, r;
    sctx c;
    int peer;

    (void)state;
    order_reset();
    ctx_socketpair(&c, loop, &peer, &o);
    assert_int_equal(do_write(&c, data, 1000, &a), 0); /* exactly fits */
    spin(loop);
    assert_int_equal(a.status, 0);
    assert_int_equal(eddy_stream_write_buffered(c.s), 0);
    assert_int_equal(do_write(&c, data, 600, &a), 0);
    assert_int_equal(do_write_ref(&c, data, 401, &r), -ENOSPC);
    assert_true(eddy_stream_closed(c.s));
    assert_int_equal(eddy_stream_error(c.s), -ENOSPC);
    assert_int_equal(do_write(&c, data, 1, &b), -EPIPE);
    run_until_closed(&c);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, -ENOSPC);
    assert_int_equal(r.calls, 0); /* failed: its callback never runs */
    assert_int_equal(b.calls, 0);
    assert_int_equal(c.close_status, -ENOSPC);
    assert_string_equal(order, "wwx");
    /* The peer got the first 1000 bytes, then EOF. */
    assert_int_equal(tu_drain(peer), 1000);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* --- a big transfer with backpressure ------------------------------------ */

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i ^ (i >> 8) ^ (i >> 16) ^ (i >> 24));
}

/* --- files: eddy_stream_sendfile ----------------------------------------- */

/* A file of len bytes of pattern(), unlinked at once: its fd is all that
 * is left of it, closed by the test. */
static int temp_file(uint64_t len)
{
    char path[] = "/tmp/eddy-sendfile-XXXXXX", buf[65536];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(unlink(path), 0);
    for (uint64_t off = 0; off < len;) {
        size_t n = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;

        for (size_t i = 0; i < n; i++)
            buf[i] = (char)pattern(off + i);
        assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
        off += n;
    }
    return fd;
}

/* Whether buf[0, n) is the file's bytes from off. */
static int is_pattern(const char *buf, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)buf[i] != pattern(off + i))
            return 0;
    return 1;
}

/* A stream that only writes, into a pipe (pipe 1) or a socketpair: the
 * other end to *peer, non-blocking. */
static void ctx_writer(sctx *c, eddy_loop *loop, int pipe, int *peer)
{
    int p[2];

    if (!pipe) {
        ctx_socketpair(c, loop, peer, NULL);
        return;
    }
    tu_pipe(p);
    ctx_init(c, loop);
    assert_int_equal(eddy_stream_new_pair(loop, -1, p[1], NULL, &c->s), 0);
    ctx_adopt(c);
    *peer = p[0];
}

static int sendfile_tok(sctx *c, int fd, uint64_t off, uint64_t len, wtok *t)
{
    int rc;

    memset(t, 0, sizeof *t);
    t->c = c;
    rc = API(eddy_stream_sendfile(c->s, fd, off, len, on_write, t));
    if (rc == 0)
        c->owed++;
    return rc;
}

/* Bytes and files queued together leave in the order queued, whole, on a
 * socket (sendfile(2)) and on a pipe (read and written). */
static void sendfile_in_order(int pipe)
{
    eddy_loop *loop = tu_loop_new();
    size_t flen = tu_valgrind() ? 200000 : 1500000, want = 5 + flen - 7 + 4 + 10;
    char *buf = malloc(want + 1);
    wtok a, b, w;
    int fd = temp_file(flen), peer;
    sctx c;

    order_reset();
    ctx_writer(&c, loop, pipe, &peer);
    assert_int_equal(do_write(&c, "head:", 5, NULL), 0);
    assert_int_equal(sendfile_tok(&c, fd, 7, flen - 7, &a), 0);
    assert_int_equal(do_write(&c, "tail", 4, &w), 0);
    assert_int_equal(sendfile_tok(&c, fd, 0, 10, &b), 0);
    assert_int_equal(eddy_stream_write_buffered(c.s), want);
    assert_int_equal(peer_read(loop, peer, buf, want + 1, want), want);
    assert_memory_equal(buf, "head:", 5);
    assert_true(is_pattern(buf + 5, flen - 7, 7));
    assert_memory_equal(buf + 5 + flen - 7, "tail", 4);
    assert_true(is_pattern(buf + want - 10, 10, 0));
    spin(loop);
    assert_int_equal(a.calls + w.calls + b.calls, 3);
    assert_int_equal(a.status | w.status | b.status, 0);
    assert_string_equal(order, "www");
    assert_int_equal(eddy_stream_write_buffered(c.s), 0);
    ctx_finish(&c);
    close_fd(&peer);
    close_fd(&fd);
    free(buf);
    loop_finish(loop);
}

static void test_sendfile_socket(void **state)
{
    (void)state;
    sendfile_in_order(0);
}

static void test_sendfile_pipe(void **state)
{
    (void)state;
    sendfile_in_order(1);
}

/* Over TCP a file that takes more than one sendfile(2) call (2 MiB) goes
 * out corked (TCP_CORK, as nginx's tcp_nopush: full segments), and the
 * cork comes off when the file is done, so the bytes behind it are not
 * held back; a unix socket, which refuses TCP_CORK, is the test above. */
#ifdef __linux__
static void test_sendfile_tcp_cork(void **state)
{
    eddy_loop *loop = tu_loop_new();
    size_t flen = (5u << 20) + 3, want = flen + 4;
    char *buf = malloc(want + 1);
    int fd = temp_file(flen), cli, srv, on = -1;
    socklen_t len = sizeof on;
    wtok a, w;
    sctx c;

    (void)state;
    tcp_pair(&cli, &srv);
    ctx_open(&c, loop, srv, NULL);
    assert_int_equal(sendfile_tok(&c, fd, 0, flen, &a), 0);
    assert_int_equal(do_write(&c, "tail", 4, &w), 0);
    spin(loop); /* the peer reads nothing yet: the file is under way */
    assert_int_equal(getsockopt(srv, IPPROTO_TCP, TCP_CORK, &on, &len), 0);
    assert_int_equal(on, 1);
    assert_int_equal(peer_read(loop, cli, buf, want + 1, want), want);
    assert_true(is_pattern(buf, flen, 0));
    assert_memory_equal(buf + flen, "tail", 4);
    spin(loop);
    assert_int_equal(a.calls + w.calls, 2);
    assert_int_equal(a.status | w.status, 0);
    assert_int_equal(getsockopt(srv, IPPROTO_TCP, TCP_CORK, &on, &len), 0);
    assert_int_equal(on, 0);
    ctx_finish(&c);
    close_fd(&cli);
    close_fd(&fd);
    free(buf);
    loop_finish(loop);
}

/* Bytes queued before a file leave in one TCP segment with its start
 * (MSG_MORE, then sendfile(2)'s push): a response's head and a small file
 * are one packet, not two. */
static unsigned segs_out(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;

    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti.tcpi_segs_out;
}

static void test_sendfile_head_coalesced(void **state)
{
    eddy_loop *loop = tu_loop_new();
    size_t flen = 4000, want = 5 + flen;
    char buf[5 + 4000 + 1];
    int fd = temp_file(flen), cli, srv, one = 1;
    unsigned before;
    wtok a;
    sctx c;

    (void)state;
    tcp_pair(&cli, &srv);
    /* Nagle off, as the TCP server sets it: without MSG_MORE the head
     * would go at once, alone. */
    assert_int_equal(
        setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    ctx_open(&c, loop, srv, NULL);
    before = segs_out(srv);
    assert_int_equal(do_write(&c, "head:", 5, NULL), 0);
    assert_int_equal(sendfile_tok(&c, fd, 0, flen, &a), 0);
    assert_int_equal(peer_read(loop, cli, buf, sizeof buf, want), want);
    assert_memory_equal(buf, "head:", 5);
    assert_true(is_pattern(buf + 5, flen, 0));
    spin(loop);
    assert_int_equal(a.calls, 1);
    assert_int_equal(segs_out(srv) - before, 1);
    ctx_finish(&c);
    close_fd(&cli);
    close_fd(&fd);
    loop_finish(loop);
}
#endif

/* A file truncated while it is being sent: the peer gets a prefix of the
 * file's bytes and then the end, never a byte that is not the file's; the
 * stream closes with -ENODATA, and the write callback says so. */
static void sendfile_truncated(int pipe, uint64_t cut)
{
    eddy_loop *loop = tu_loop_new();
    uint64_t flen = 4u << 20;
    char *buf = malloc(flen);
    size_t got;
    wtok a;
    int fd = temp_file(flen), peer;
    sctx c;

    order_reset();
    ctx_writer(&c, loop, pipe, &peer);
    assert_int_equal(sendfile_tok(&c, fd, 0, flen, &a), 0);
    /* The peer reads a little (the kernel's buffer full behind it), then
     * the file shrinks, then the peer reads to the end. */
    got = peer_read(loop, peer, buf, flen, 4096);
    assert_true(got >= 4096 && got < cut);
    assert_int_equal(ftruncate(fd, (off_t)cut), 0);
    got += peer_read(loop, peer, buf + got, flen - got, SIZE_MAX);
    assert_true(got <= cut);
    assert_true(is_pattern(buf, got, 0));
    run_until_closed(&c);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, -ENODATA);
    assert_int_equal(c.close_status, -ENODATA);
    ctx_finish(&c);
    close_fd(&peer);
    close_fd(&fd);
    free(buf);
    loop_finish(loop);
}

static void test_sendfile_truncated_socket(void **state)
{
    (void)state;
    sendfile_truncated(0, 1u << 20);
    sendfile_truncated(0, (1u << 20) + 100);
}

static void test_sendfile_truncated_pipe(void **state)
{
    (void)state;
    sendfile_truncated(1, 1u << 20);
    sendfile_truncated(1, (1u << 20) + 100);
}

/* Offsets past 4 GiB, in a sparse file: the last 100 bytes of 5 GiB. */
static void test_sendfile_past_4gib(void **state)
{
    const uint64_t size = 5ull << 30, off = size - 100;
    char path[] = "/tmp/eddy-sparse-XXXXXX", buf[128];

    (void)state;
    for (int pipe = 0; pipe < 2; pipe++) {
        eddy_loop *loop = tu_loop_new();
        int fd = mkstemp(path), peer;
        wtok a;
        sctx c;

        assert_true(fd >= 0);
        assert_int_equal(unlink(path), 0);
        if (ftruncate(fd, (off_t)size) != 0) { /* no sparse files here */
            close_fd(&fd);
            loop_finish(loop);
            skip();
        }
        assert_int_equal(pwrite(fd, "end!", 4, (off_t)size - 4), 4);
        ctx_writer(&c, loop, pipe, &peer);
        assert_int_equal(sendfile_tok(&c, fd, off, 100, &a), 0);
        assert_int_equal(peer_read(loop, peer, buf, sizeof buf, 100), 100);
        for (int i = 0; i < 96; i++)
            assert_int_equal(buf[i], 0);
        assert_memory_equal(buf + 96, "end!", 4);
        spin(loop);
        assert_int_equal(a.calls, 1);
        assert_int_equal(a.status, 0);
        ctx_finish(&c);
        close_fd(&peer);
        close_fd(&fd);
        loop_finish(loop);
        memcpy(path + sizeof path - 7, "XXXXXX", 6);
    }
}

/* Each error of eddy_stream_sendfile(), after which the stream is as it
 * was (and its callback never runs); a file's bytes are not memory, so
 * max_write_buffer_size does not count them. */
static void test_sendfile_errors(void **state)
{
    eddy_stream_options o = {.max_write_buffer_size = 1000};
    eddy_loop *loop = tu_loop_new();
    int fd = temp_file(4u << 20), peer;
    wtok a, b;
    sctx c;

    (void)state;
    order_reset();
    ctx_socketpair(&c, loop, &peer, &o);
    assert_int_equal(sendfile_tok(&c, -1, 0, 10, &a), -EINVAL);
    assert_int_equal(sendfile_tok(&c, fd, (uint64_t)INT64_MAX, 1, &a), -EINVAL);
    assert_int_equal(sendfile_tok(&c, fd, 1ull << 63, 0, &a), -EINVAL);
    assert_int_equal(a.calls, 0);
    /* Four megabytes of file stay queued (the peer does not read), and
     * bytes can still be written after them. */
    assert_int_equal(sendfile_tok(&c, fd, 0, 4u << 20, &a), 0);
    spin(loop);
    assert_true(eddy_stream_write_buffered(c.s) > 1000);
    assert_int_equal(do_write(&c, "0123456789", 10, &b), 0);
    assert_false(eddy_stream_closed(c.s));
    /* A zero-length file part is only its callback, in order. */
    API_V(eddy_stream_close(c.s));
    assert_int_equal(sendfile_tok(&c, fd, 0, 10, &b), -EPIPE);
    run_until_closed(&c);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, -ECANCELED);
    ctx_finish(&c);
    close_fd(&peer);
    close_fd(&fd);
    loop_finish(loop);
}

/* --- backpressure: write watermarks and the drain callback ---------------- */

typedef struct drain_rec {
    sctx *c;
    int calls;
    size_t queued_at; /* eddy_stream_write_buffered() in the callback */
} drain_rec;

static void on_drain(eddy_stream *s, int status, void *arg)
{
    drain_rec *d = arg;

    callback_entered('d');
    assert_ptr_equal(s, d->c->s);
    assert_int_equal(d->c->closes, 0);
    assert_int_equal(status, 0);
    assert_false(eddy_stream_needs_drain(s));
    d->calls++;
    d->queued_at = eddy_stream_write_buffered(s);
}

static void drain_attach(sctx *c, drain_rec *d, size_t high, size_t low)
{
    memset(d, 0, sizeof *d);
    d->c = c;
    assert_int_equal(API(eddy_stream_set_write_watermarks(c->s, high, low)), 0);
    API_V(eddy_stream_set_drain_callback(c->s, on_drain, d));
}

/* Queues n copies of chunk (no write callback). */
static void write_n(sctx *c, const char *chunk, size_t len, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(do_write(c, chunk, len, NULL), 0);
}

/* Node's 'drain': the flag goes up when the queue reaches high, writes
 * still succeed above it, and the callback runs once when the queue falls
 * to low, not before; again each time the queue reached high again. */
static void test_drain_after_high_watermark(void **state)
{
    static char chunk[16384], sink[1 << 20];
    eddy_loop *loop = tu_loop_new();
    drain_rec d;
    sctx c;
    int peer;

    (void)state;
    order_reset();
    ctx_socketpair(&c, loop, &peer, NULL);
    drain_attach(&c, &d, 65536, 16384);
    assert_false(eddy_stream_needs_drain(c.s));
    for (int i = 0; i < 3; i++) {
        write_n(&c, chunk, sizeof chunk, 1);
        assert_false(eddy_stream_needs_drain(c.s));
    }
    write_n(&c, chunk, sizeof chunk, 1); /* 64 KiB queued: the mark */
    assert_true(eddy_stream_needs_drain(c.s));
    write_n(&c, chunk, sizeof chunk, 60); /* advice, not a limit */
    assert_int_equal(eddy_stream_write_buffered(c.s), 64 * sizeof chunk);
    /* The peer reads nothing: the kernel takes what it can, no more. */
    spin(loop);
    assert_true(eddy_stream_write_buffered(c.s) > 16384);
    assert_true(eddy_stream_needs_drain(c.s));
    assert_int_equal(d.calls, 0);
    /* The peer reads a little: still above low. */
    assert_true(peer_read(loop, peer, sink, 4096, 4096) > 0);
    spin(loop);
    assert_int_equal(d.calls, 0);
    /* The peer reads it all: the drain ran once, at low or under. */
    assert_int_equal(
        peer_read(loop, peer, sink, sizeof sink, 64 * sizeof chunk - 4096) +
            4096,
        64 * sizeof chunk);
    spin(loop);
    assert_int_equal(d.calls, 1);
    assert_true(d.queued_at <= 16384);
    /* Below high, no drain; at high again, another. */
    write_n(&c, chunk, sizeof chunk, 1);
    spin(loop);
    assert_int_equal(peer_read(loop, peer, sink, sizeof sink, sizeof chunk),
                     sizeof chunk);
    assert_int_equal(d.calls, 1);
    write_n(&c, chunk, sizeof chunk, 8);
    assert_true(eddy_stream_needs_drain(c.s));
    assert_int_equal(peer_read(loop, peer, sink, sizeof sink, 8 * sizeof chunk),
                     8 * sizeof chunk);
    spin(loop);
    assert_int_equal(d.calls, 2);
    assert_null(strchr(order, 'x'));
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* -EINVAL leaves the watermarks as they were; high 0 turns them off. */
static void test_watermark_errors(void **state)
{
    static char chunk[4096];
    eddy_loop *loop = tu_loop_new();
    drain_rec d;
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    drain_attach(&c, &d, 4096, 1024);
    assert_int_equal(eddy_stream_set_write_watermarks(c.s, 100, 100), -EINVAL);
    assert_int_equal(eddy_stream_set_write_watermarks(c.s, 100, 200), -EINVAL);
    write_n(&c, chunk, sizeof chunk, 1); /* still 4096 */
    assert_true(eddy_stream_needs_drain(c.s));
    spin(loop); /* the kernel takes it */
    assert_int_equal(d.calls, 1);
    assert_int_equal(eddy_stream_set_write_watermarks(c.s, 0, 12345), 0);
    write_n(&c, chunk, sizeof chunk, 4);
    assert_false(eddy_stream_needs_drain(c.s));
    spin(loop);
    assert_int_equal(d.calls, 1);
    assert_int_equal(tu_drain(peer), 5 * sizeof chunk);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* A stream stuck above high: raising low past the queue makes the drain
 * due, and it runs in a later iteration, not inside the call. */
static void test_watermark_raised_low(void **state)
{
    static char chunk[65536];
    eddy_loop *loop = tu_loop_new();
    drain_rec d;
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    drain_attach(&c, &d, 65536, 0);
    write_n(&c, chunk, sizeof chunk, 32);
    spin(loop);
    assert_true(eddy_stream_needs_drain(c.s));
    assert_int_equal(
        API(eddy_stream_set_write_watermarks(c.s, 64 << 20, 32 << 20)), 0);
    assert_int_equal(d.calls, 0);
    spin(loop);
    assert_int_equal(d.calls, 1);
    assert_true(eddy_stream_write_buffered(c.s) > 0);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* The drain is not a request: a stream that closes above high never
 * drains; its close callback says what happened. */
static void test_drain_not_run_on_close(void **state)
{
    static char chunk[65536];
    eddy_loop *loop = tu_loop_new();
    drain_rec d;
    sctx c;
    int peer;

    (void)state;
    order_reset();
    ctx_socketpair(&c, loop, &peer, NULL);
    drain_attach(&c, &d, 65536, 1024);
    write_n(&c, chunk, sizeof chunk, 32);
    spin(loop);
    assert_true(eddy_stream_needs_drain(c.s));
    close_fd(&peer); /* the peer goes */
    run_until_closed(&c);
    assert_int_equal(d.calls, 0);
    assert_null(strchr(order, 'd'));
    ctx_finish(&c);
    loop_finish(loop);
}

/* max_write_buffer_size stays the hard limit beside the watermarks. */
static void test_watermarks_and_hard_limit(void **state)
{
    static char chunk[65536];
    eddy_stream_options o = {.max_write_buffer_size = 8 * 65536};
    eddy_loop *loop = tu_loop_new();
    drain_rec d;
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, &o);
    drain_attach(&c, &d, 65536, 1024);
    write_n(&c, chunk, sizeof chunk, 8); /* at the limit: fine */
    assert_true(eddy_stream_needs_drain(c.s));
    assert_int_equal(do_write(&c, chunk, 1, NULL), -ENOSPC);
    run_until_closed(&c);
    assert_int_equal(c.close_status, -ENOSPC);
    assert_int_equal(d.calls, 0);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* --- backpressure: pausing reads ----------------------------------------- */

/* Paused, a pending read stays pending and the bytes stay in the kernel;
 * resumed, it completes (in a later iteration, not inside the call). */
static void test_pause_keeps_read_pending(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_BYTES;
    c.n = 5;
    assert_int_equal(issue(&c), 0);
    assert_false(eddy_stream_reading_paused(c.s));
    API_V(eddy_stream_pause_reading(c.s));
    assert_true(eddy_stream_reading_paused(c.s));
    send_all(peer, "hello", 5);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    assert_int_equal(c.reads, 0);
    assert_int_equal(unread(c.rfd), 5); /* not read from the fd */
    assert_true(eddy_stream_reading(c.s));
    API_V(eddy_stream_resume_reading(c.s));
    assert_int_equal(c.reads, 0);
    settle(&c);
    assert_int_equal(c.reads, 1);
    assert_int_equal(c.got_len, 5);
    assert_memory_equal(c.got, "hello", 5);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* Paused from a read callback: the next line stays pending although it
 * is already buffered. */
static void pause_after_first(sctx *c, int status, const char *data, size_t len)
{
    (void)data;
    (void)len;
    if (status == 0 && c->done == 1)
        API_V(eddy_stream_pause_reading(c->s));
    if (status == 0)
        assert_int_equal(issue(c), 0);
}

static void test_pause_with_buffered_data(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    c.read_hook = pause_after_first;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "a\nb\n", 4, 0);
    spin(loop);
    assert_int_equal(c.done, 1);
    assert_int_equal(eddy_stream_read_buffered(c.s), 2);
    API_V(eddy_stream_resume_reading(c.s));
    spin(loop);
    assert_int_equal(c.done, 2);
    assert_int_equal(c.got_len, 4);
    assert_memory_equal(c.got, "a\nb\n", 4);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* The peer that writes into a paused stream fills the kernel's buffers
 * and then gets EAGAIN: backpressure reaches it.  Resumed, every byte
 * arrives, in order. */
static void test_pause_backpressure_reaches_peer(void **state)
{
    static char block[65536];
    eddy_loop *loop = tu_loop_new();
    size_t sent = 0;
    sctx c;
    int peer, blocked = 0;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_STREAM;
    c.n = SIZE_MAX;
    assert_int_equal(issue(&c), 0);
    API_V(eddy_stream_pause_reading(c.s));
    for (int i = 0; i < 4096 && !blocked; i++) {
        ssize_t n;

        for (size_t k = 0; k < sizeof block; k++)
            block[k] = (char)pattern(sent + k);
        n = send(peer, block, sizeof block, MSG_NOSIGNAL);

        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            blocked = 1;
        } else {
            sent += (size_t)n;
        }
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    }
    assert_true(blocked);
    assert_int_equal(c.reads, 0);
    assert_int_equal(eddy_stream_read_buffered(c.s), 0);
    API_V(eddy_stream_resume_reading(c.s));
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.last_status, 0);
    assert_int_equal(c.got_len, sent);
    for (size_t k = 0; k < sent; k++)
        assert_int_equal((uint8_t)c.got[k], pattern(k));
    ctx_finish(&c);
    loop_finish(loop);
}

/* Paused at EOF: the pending read is not failed until resumed; then it
 * gets the bytes and EDDY_EOF. */
static void test_pause_at_eof(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_BYTES;
    c.n = 100;
    assert_int_equal(issue(&c), 0);
    API_V(eddy_stream_pause_reading(c.s));
    send_all(peer, "0123456789", 10);
    close_fd(&peer);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    assert_int_equal(c.reads, 0);
    assert_int_equal(c.closes, 0);
    API_V(eddy_stream_resume_reading(c.s));
    run_until_closed(&c);
    assert_int_equal(c.reads, 1);
    assert_int_equal(c.first_error, EDDY_EOF);
    assert_int_equal(c.got_len, 10);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    loop_finish(loop);
}

/* Half-open: the peer shuts down its sending side while no read is
 * pending, and the stream stays open for writing; the next read fails
 * (the EOF was seen).  Without it the same EOF closes the stream, and
 * turning it off after such an EOF closes the stream then. */
static void test_half_open(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[8];
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    API_V(eddy_stream_set_half_open(c.s, 1));
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    assert_int_equal(c.closes, 0);
    assert_int_equal(do_write(&c, "late", 4, NULL), 0);
    assert_int_equal(peer_read(loop, peer, buf, sizeof buf, 4), 4);
    assert_memory_equal(buf, "late", 4);
    c.kind = K_BYTES;
    c.n = 1;
    assert_int_equal(issue(&c), -EPIPE);
    assert_int_equal(c.closes, 0);
    /* Off again: the EOF it kept open closes the stream now. */
    API_V(eddy_stream_set_half_open(c.s, 0));
    run_until_closed(&c);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    close_fd(&peer);

    /* Never on: the same EOF closes the stream. */
    ctx_socketpair(&c, loop, &peer, NULL);
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    run_until_closed(&c);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* Writes go on while reading is paused; the calls do nothing where there
 * is nothing to do. */
static void test_pause_writes_go_on(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[8];
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    API_V(eddy_stream_resume_reading(c.s)); /* not paused: nothing */
    assert_false(eddy_stream_reading_paused(c.s));
    API_V(eddy_stream_pause_reading(c.s));
    API_V(eddy_stream_pause_reading(c.s));
    assert_true(eddy_stream_reading_paused(c.s));
    assert_int_equal(do_write(&c, "ping", 4, NULL), 0);
    assert_int_equal(peer_read(loop, peer, buf, sizeof buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    API_V(eddy_stream_close(c.s));
    API_V(eddy_stream_pause_reading(c.s)); /* closing: nothing */
    API_V(eddy_stream_resume_reading(c.s));
    run_until_closed(&c);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* Paused in the middle of a flow, from the first piece's callback: the
 * stream stops reading at once, then takes the rest when resumed. */
static void pause_on_first_piece(sctx *c, int status, const char *data,
                                 size_t len)
{
    (void)data;
    (void)len;
    if (status == EDDY_MORE && c->reads == 1)
        API_V(eddy_stream_pause_reading(c->s));
}

static void test_pause_in_a_flow(void **state)
{
    static char block[1 << 20];
    eddy_stream_options o = {.read_chunk_size = 4096};
    eddy_loop *loop = tu_loop_new();
    size_t sent = 0;
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, &o);
    c.kind = K_STREAM;
    c.n = SIZE_MAX;
    c.read_hook = pause_on_first_piece;
    assert_int_equal(issue(&c), 0);
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)pattern(i);
    while (sent < sizeof block) {
        ssize_t n = send(peer, block + sent, sizeof block - sent, MSG_NOSIGNAL);

        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        sent += (size_t)n;
    }
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    assert_int_equal(c.reads, 1);
    assert_true(c.got_len <= 4096);
    API_V(eddy_stream_resume_reading(c.s));
    while (sent < sizeof block) {
        ssize_t n = send(peer, block + sent, sizeof block - sent, MSG_NOSIGNAL);

        if (n > 0)
            sent += (size_t)n;
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    }
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.got_len, sizeof block);
    assert_memory_equal(c.got, block, sizeof block);
    ctx_finish(&c);
    loop_finish(loop);
}

typedef struct bulk {
    sctx w, r;
    uint64_t total, produced, consumed;
    size_t limit, chunk;
    size_t max_wbuf, max_rbuf;
    int writes_owed, writes, rereads;
    char *buf;
} bulk;

static void bulk_written(eddy_stream *s, int status, void *arg);

/* Queues chunks while they fit under the limit: a writer that respects
 * backpressure. */
static void bulk_pump(bulk *b)
{
    while (b->produced < b->total &&
           eddy_stream_write_buffered(b->w.s) + b->chunk <= b->limit) {
        size_t n = b->total - b->produced < b->chunk
                       ? (size_t)(b->total - b->produced)
                       : b->chunk;

        for (size_t i = 0; i < n; i++)
            b->buf[i] = (char)pattern(b->produced + i);
        assert_int_equal(
            API(eddy_stream_write(b->w.s, b->buf, n, bulk_written, b)), 0);
        b->writes_owed++;
        b->produced += n;
        if (eddy_stream_write_buffered(b->w.s) > b->max_wbuf)
            b->max_wbuf = eddy_stream_write_buffered(b->w.s);
        assert_true(eddy_stream_write_buffered(b->w.s) <= b->limit);
    }
}

static void bulk_written(eddy_stream *s, int status, void *arg)
{
    bulk *b = arg;

    callback_entered('w');
    assert_ptr_equal(s, b->w.s);
    assert_int_equal(status, 0);
    b->writes_owed--;
    b->writes++;
    bulk_pump(b);
}

static void bulk_reread(eddy_loop *loop, void *arg)
{
    bulk *b = arg;

    (void)loop;
    b->rereads++;
    assert_int_equal(issue(&b->r), 0);
}

/* The slow reader: checks each byte, then waits for the next loop
 * iteration before asking for more. */
static void bulk_read(sctx *c, int status, const char *data, size_t len)
{
    bulk *b = c->user;

    assert_int_equal(status, 0);
    assert_true(len > 0 && len <= c->n);
    if (eddy_stream_read_buffered(c->s) > b->max_rbuf)
        b->max_rbuf = eddy_stream_read_buffered(c->s);
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)data[i] != pattern(b->consumed + i))
            fail_msg("byte %llu is wrong",
                     (unsigned long long)(b->consumed + i));
    b->consumed += len;
    if (b->consumed < b->total)
        assert_int_equal(eddy_loop_add_callback(c->loop, bulk_reread, b), 0);
}

static int bulk_done(void *arg)
{
    bulk *b = arg;

    return b->consumed == b->total && b->writes_owed == 0;
}

/* 64 MiB (4 MiB under valgrind) from one stream to another: the write
 * queue never passes its limit and the reader never buffers more than
 * one read's worth. */
static void test_bulk_transfer_backpressure(void **state)
{
    eddy_stream_options wo = {.max_write_buffer_size = 1u << 20};
    eddy_stream_options ro = {.max_buffer_size = 256u << 10,
                              .read_chunk_size = 64u << 10};
    eddy_loop *loop = tu_loop_new();
    bulk b = {0};
    int sv[2];

    (void)state;
    b.total = tu_valgrind() ? 4u << 20 : 64u << 20;
    b.limit = 1u << 20;
    b.chunk = 256u << 10;
    b.buf = malloc(b.chunk);
    assert_non_null(b.buf);
    tu_socketpair(sv);
    ctx_open(&b.w, loop, sv[0], &wo);
    ctx_open(&b.r, loop, sv[1], &ro);
    b.r.kind = K_BYTES;
    b.r.n = 64u << 10;
    b.r.partial = 1;
    b.r.no_store = 1;
    b.r.user = &b;
    b.r.read_hook = bulk_read;
    assert_int_equal(issue(&b.r), 0);
    bulk_pump(&b);
    assert_true(tu_run_until(loop, bulk_done, &b, 10000000, 60000));
    assert_int_equal(b.produced, b.total);
    assert_true(b.max_wbuf <= b.limit);
    assert_true(b.max_wbuf >= b.limit - b.chunk); /* the limit was reached */
    assert_true(b.max_rbuf <= ro.read_chunk_size);
    assert_int_equal(b.writes, (int)(b.total / b.chunk));
    assert_true(b.rereads > 0);
    assert_int_equal(b.w.closes + b.r.closes, 0);
    ctx_finish(&b.w);
    run_until_closed(&b.r); /* EOF from the writer's close */
    assert_int_equal(b.r.close_status, EDDY_EOF);
    ctx_finish(&b.r);
    free(b.buf);
    loop_finish(loop);
}

/* --- writing ------------------------------------------------------------- */

/* Write callbacks run once each, in order, after the data is out;
 * a write of nothing keeps its place. */
static void test_write_callbacks_in_order(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[64];
    wtok t[4];
    sctx c;
    int peer;

    (void)state;
    order_reset();
    ctx_socketpair(&c, loop, &peer, NULL);
    assert_int_equal(do_write(&c, "one ", 4, &t[0]), 0);
    assert_int_equal(do_write(&c, "", 0, &t[1]), 0);
    assert_int_equal(do_write_ref(&c, "two ", 4, &t[2]), 0);
    assert_int_equal(do_write(&c, "three", 5, NULL), 0);
    assert_int_equal(do_write(&c, "!", 1, &t[3]), 0);
    assert_int_equal(eddy_stream_write_buffered(c.s), 14);
    assert_int_equal(t[0].calls, 0);
    assert_int_equal(peer_read(loop, peer, buf, sizeof buf, 14), 14);
    assert_memory_equal(buf, "one two three!", 14);
    spin(loop);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t[i].calls, 1);
        assert_int_equal(t[i].status, 0);
    }
    assert_string_equal(order, "wwww");
    assert_int_equal(eddy_stream_write_buffered(c.s), 0);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* The writes of one callback leave in one writev.  A SOCK_SEQPACKET
 * socket shows it: each sendmsg is one record at the peer. */
static void coalesce_hook(sctx *c, int status, const char *data, size_t len)
{
    wtok *t = c->user;

    (void)data;
    (void)len;
    assert_int_equal(status, 0);
    assert_int_equal(do_write(c, "a", 1, NULL), 0);
    assert_int_equal(do_write(c, "bb", 2, &t[0]), 0);
    assert_int_equal(do_write_ref(c, "ccc", 3, &t[1]), 0);
    assert_int_equal(do_write(c, "dddd", 4, &t[2]), 0);
}

static void test_writes_coalesce(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char rec[64];
    wtok t[3];
    sctx c;
    int sv[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    tu_nonblock(sv[0]);
    tu_nonblock(sv[1]);
    ctx_open(&c, loop, sv[0], NULL);
    c.kind = K_BYTES;
    c.n = 1;
    c.user = t;
    c.read_hook = coalesce_hook;
    assert_int_equal(issue(&c), 0);
    send_all(sv[1], "?", 1);
    assert_int_equal(peer_read(loop, sv[1], rec, sizeof rec, 10), 10);
    assert_memory_equal(rec, "abbcccdddd", 10);
    spin(loop);
    assert_int_equal(read(sv[1], rec, sizeof rec), -1); /* one record */
    assert_int_equal(errno, EAGAIN);
    for (int i = 0; i < 3; i++)
        assert_int_equal(t[i].status, 0);
    ctx_finish(&c);
    close_fd(&sv[1]);
    loop_finish(loop);
}

static int writes_sent(void *arg)
{
    return eddy_stream_write_buffered(arg) == 0;
}

/* A hundred write_refs queued at once: fewer records than writes, every
 * byte in order, every callback once, every buffer freed by its own. */
static void test_many_write_refs(void **state)
{
    enum { N = 100 };
    eddy_loop *loop = tu_loop_new();
    char want[N * 3], rec[N * 3 + 1];
    wtok t[N];
    size_t got = 0;
    int sv[2], records = 0;
    sctx c;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    tu_nonblock(sv[0]);
    tu_nonblock(sv[1]);
    ctx_open(&c, loop, sv[0], NULL);
    for (int i = 0; i < N; i++) {
        want[3 * i] = (char)('0' + i / 100);
        want[3 * i + 1] = (char)('0' + i / 10 % 10);
        want[3 * i + 2] = (char)('0' + i % 10);
        assert_int_equal(do_write_ref(&c, want + 3 * i, 3, &t[i]), 0);
    }
    assert_true(tu_run_until(loop, writes_sent, c.s, RUN_ITER, RUN_MS));
    spin(loop);
    for (ssize_t n; (n = read(sv[1], rec, sizeof rec)) > 0; records++) {
        assert_memory_equal(rec, want + got, (size_t)n);
        got += (size_t)n;
    }
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(got, sizeof want);
    assert_true(records < N / 10);
    for (int i = 0; i < N; i++) {
        assert_int_equal(t[i].calls, 1);
        assert_int_equal(t[i].status, 0);
        assert_null(t[i].own);
    }
    ctx_finish(&c);
    close_fd(&sv[1]);
    loop_finish(loop);
}

/* A write_ref the stream never sent: its callback runs once with the
 * error, and may free the buffer there. */
static void test_write_ref_cancelled_on_close(void **state)
{
    eddy_loop *loop = tu_loop_new();
    wtok t[2];
    sctx c;
    int peer;

    (void)state;
    order_reset();
    ctx_socketpair(&c, loop, &peer, NULL);
    assert_int_equal(do_write_ref(&c, "hello", 5, &t[0]), 0);
    assert_int_equal(do_write_ref(&c, "world", 5, &t[1]), 0);
    API_V(eddy_stream_close(c.s));
    assert_int_equal(t[0].calls, 0);
    run_until_closed(&c);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t[i].calls, 1);
        assert_int_equal(t[i].status, -ECANCELED);
        assert_null(t[i].own);
    }
    assert_string_equal(order, "wwx");
    assert_int_equal(tu_drain(peer), 0); /* nothing was sent */
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* An echo: each line read is written back from the read callback. */
static void echo_hook(sctx *c, int status, const char *data, size_t len)
{
    if (status != 0)
        return;
    assert_int_equal(do_write(c, data, len, NULL), 0);
    assert_int_equal(issue(c), 0);
}

static void test_write_from_read_callback(void **state)
{
    static const char in[] = "ping\nhello there\nbye\n";
    eddy_loop *loop = tu_loop_new();
    char buf[64];
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    c.read_hook = echo_hook;
    assert_int_equal(issue(&c), 0);
    send_all(peer, in, 5);
    assert_int_equal(peer_read(loop, peer, buf, sizeof buf, 5), 5);
    assert_memory_equal(buf, "ping\n", 5);
    send_all(peer, in + 5, sizeof in - 6);
    assert_int_equal(peer_read(loop, peer, buf, sizeof buf, sizeof in - 6),
                     sizeof in - 6);
    assert_memory_equal(buf, in + 5, sizeof in - 6);
    assert_int_equal(c.done, 3);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* --- closing from callbacks ---------------------------------------------- */

static void close_hook_read(sctx *c, int status, const char *data, size_t len)
{
    (void)status;
    (void)data;
    (void)len;
    API_V(eddy_stream_close(c->s));
    /* The stream stays valid for the rest of this callback. */
    assert_true(eddy_stream_closed(c->s));
    assert_int_equal(eddy_stream_error(c->s), 0);
    assert_int_equal(eddy_stream_fd(c->s), -1);
    assert_int_equal(eddy_stream_write(c->s, "x", 1, NULL, NULL), -EPIPE);
    assert_int_equal(eddy_stream_read_bytes(c->s, 1, 0, on_read, c), -EPIPE);
    assert_int_equal(eddy_stream_set_nodelay(c->s, 1), -EPIPE);
    API_V(eddy_stream_close(c->s)); /* again: nothing */
}

/* Closing in a read callback: a write still queued fails, the close
 * callback runs last with 0 (closed by its owner). */
static void test_close_in_read_callback(void **state)
{
    size_t big = 8u << 20;
    eddy_loop *loop = tu_loop_new();
    char *data = calloc(1, big);
    wtok t;
    sctx c;
    int peer;

    (void)state;
    order_reset();
    assert_non_null(data);
    ctx_socketpair(&c, loop, &peer, NULL);
    assert_int_equal(do_write(&c, data, big, &t), 0); /* more than fits */
    c.kind = K_BYTES;
    c.n = 2;
    c.read_hook = close_hook_read;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "hi", 2, 0);
    run_until_closed(&c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[0], 0);
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.status, -ECANCELED);
    assert_int_equal(c.close_status, 0);
    assert_string_equal(order, "rwx");
    ctx_finish(&c);
    free(data);
    close_fd(&peer);
    loop_finish(loop);
}

/* Closing in a write callback: the next write, not all sent, fails. */
static void test_close_in_write_callback(void **state)
{
    size_t big = 8u << 20;
    eddy_loop *loop = tu_loop_new();
    char *data = calloc(1, big);
    wtok a, b;
    sctx c;
    int peer;

    (void)state;
    order_reset();
    assert_non_null(data);
    ctx_socketpair(&c, loop, &peer, NULL);
    assert_int_equal(do_write(&c, "first", 5, &a), 0);
    a.close_in_cb = 1;
    assert_int_equal(do_write(&c, data, big, &b), 0);
    run_until_closed(&c);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, -ECANCELED);
    assert_int_equal(c.close_status, 0);
    assert_string_equal(order, "wwx");
    ctx_finish(&c);
    free(data);
    close_fd(&peer);
    loop_finish(loop);
}

/* Closing in the close callback does nothing. */
static void close_again(sctx *c)
{
    API_V(eddy_stream_close(c->s));
    assert_int_equal(eddy_stream_write(c->s, "x", 1, NULL, NULL), -EPIPE);
    assert_int_equal(eddy_stream_read_until_close(c->s, on_read, c), -EPIPE);
}

static void test_close_in_close_callback(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.close_hook = close_again;
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    loop_finish(loop);
}

/* A close callback set from inside the close callback: the close
 * callback has run, so nothing runs again. */
static void count_close(eddy_stream *s, int status, void *arg)
{
    (void)s;
    (void)status;
    ++*(int *)arg;
}

static void set_close_again(sctx *c)
{
    eddy_stream_set_close_callback(c->s, count_close, c->user);
}

static void test_set_close_callback_in_close_callback(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int again = 0;
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.user = &again;
    c.close_hook = set_close_again;
    API_V(eddy_stream_close(c.s));
    run_until_closed(&c);
    spin(loop);
    assert_int_equal(again, 0);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* An owner that goes away after closing cancels its close callback: the
 * pending requests still fail, the stream is still freed. */
static void test_cancel_close_callback_after_close(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_CLOSE;
    assert_int_equal(issue(&c), 0);
    API_V(eddy_stream_close(c.s));
    eddy_stream_set_close_callback(c.s, NULL, NULL);
    assert_true(tu_run_until_count(loop, &c.done, 1, RUN_ITER, RUN_MS));
    spin(loop);
    assert_int_equal(c.last_status, -ECANCELED);
    assert_int_equal(c.closes, 0);
    free(c.got);
    close_fd(&peer);
    loop_finish(loop);
}

/* Closing in a piece of read_stream: the read ends with a last call. */
static void close_on_piece(sctx *c, int status, const char *data, size_t len)
{
    (void)data;
    (void)len;
    if (status == EDDY_MORE)
        API_V(eddy_stream_close(c->s));
}

static void test_close_in_stream_piece(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_STREAM;
    c.n = SIZE_MAX;
    c.read_hook = close_on_piece;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "abc", 3, 0);
    run_until_closed(&c);
    assert_int_equal(c.reads, 2);
    assert_int_equal(c.statuses[0], EDDY_MORE);
    assert_int_equal(c.statuses[1], -ECANCELED);
    assert_int_equal(c.lens[1], 0);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* Closed by its owner: each pending request fails with -ECANCELED, once,
 * after the call, and the close callback comes last.  Closing twice is
 * one close. */
static void test_close_fails_pending(void **state)
{
    size_t big = 8u << 20;
    eddy_loop *loop = tu_loop_new();
    char *data = calloc(1, big);
    wtok t[3];
    sctx c;
    int peer;

    (void)state;
    order_reset();
    assert_non_null(data);
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    assert_int_equal(issue(&c), 0);
    assert_int_equal(do_write(&c, data, big, &t[0]), 0);
    assert_int_equal(do_write(&c, "b", 1, &t[1]), 0);
    spin(loop); /* part of the first write is out */
    assert_int_equal(do_write(&c, "c", 1, &t[2]), 0);
    assert_true(eddy_stream_write_buffered(c.s) > 0);
    API_V(eddy_stream_close(c.s));
    API_V(eddy_stream_close(c.s));
    assert_int_equal(c.reads + t[0].calls + c.closes, 0);
    run_until_closed(&c);
    assert_int_equal(c.last_status, -ECANCELED);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t[i].calls, 1);
        assert_int_equal(t[i].status, -ECANCELED);
    }
    assert_string_equal(order, "rwwwx");
    assert_int_equal(c.close_status, 0);
    ctx_finish(&c);
    free(data);
    close_fd(&peer);
    loop_finish(loop);
}

/* One stream's callback closes another: the other's callbacks run
 * later, never inside the first one's. */
typedef struct two {
    sctx a, b;
    int in_a;
} two;

static void a_closes_b(sctx *c, int status, const char *data, size_t len)
{
    two *t = c->user;

    (void)status;
    (void)data;
    (void)len;
    t->in_a = 1;
    API_V(eddy_stream_close(t->b.s));
    assert_int_equal(t->b.reads + t->b.closes, 0);
    t->in_a = 0;
}

static void b_checks(sctx *c, int status, const char *data, size_t len)
{
    two *t = c->user;

    (void)status;
    (void)data;
    (void)len;
    assert_int_equal(t->in_a, 0);
}

static void b_close_checks(sctx *c)
{
    two *t = c->user;

    assert_int_equal(t->in_a, 0);
}

static void test_close_other_stream_from_callback(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int pa, pb;
    two t;

    (void)state;
    ctx_socketpair(&t.a, loop, &pa, NULL);
    ctx_socketpair(&t.b, loop, &pb, NULL);
    t.in_a = 0;
    t.a.user = t.b.user = &t;
    t.a.kind = t.b.kind = K_BYTES;
    t.a.n = t.b.n = 1;
    t.a.read_hook = a_closes_b;
    t.b.read_hook = b_checks;
    t.b.close_hook = b_close_checks;
    assert_int_equal(issue(&t.a), 0);
    assert_int_equal(issue(&t.b), 0);
    feed(&t.a, pa, "!", 1, 0);
    run_until_closed(&t.b);
    assert_int_equal(t.b.last_status, -ECANCELED);
    assert_int_equal(t.b.close_status, 0);
    ctx_finish(&t.a);
    ctx_finish(&t.b);
    close_fd(&pa);
    close_fd(&pb);
    loop_finish(loop);
}

/* The stream is freed by the time its close callback returned: a program
 * that stops its loop there and closes the loop leaks nothing (valgrind
 * and LeakSanitizer check; nothing here runs the loop once more). */
static void stop_loop(sctx *c)
{
    eddy_loop_stop(c->loop);
}

static void run_until_stopped(eddy_loop *loop, sctx *c)
{
    int fired;
    eddy_timer_id id = tu_safety_timer(loop, RUN_MS, &fired);

    c->close_hook = stop_loop;
    assert_int_equal(eddy_loop_run(loop), 0);
    assert_int_equal(fired, 0);
    assert_int_equal(c->closes, 1);
    assert_int_equal(eddy_loop_remove_timeout(loop, id), 0);
}

static void test_freed_after_owner_close(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_CLOSE;
    assert_int_equal(issue(&c), 0);
    API_V(eddy_stream_close(c.s));
    run_until_stopped(loop, &c);
    eddy_loop_close(loop, 0);
    assert_int_equal(c.owed, 0);
    close_fd(&peer);
}

static void test_freed_after_peer_reset(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int client, server;
    sctx c;

    (void)state;
    tcp_pair(&client, &server);
    ctx_open(&c, loop, client, NULL);
    c.kind = K_CLOSE;
    assert_int_equal(issue(&c), 0);
    close_with_reset(&server);
    run_until_stopped(loop, &c);
    assert_int_equal(c.close_status, -ECONNRESET);
    eddy_loop_close(loop, 0);
}

static void test_freed_after_connect_refused(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint16_t port;
    int lfd = tcp_listen(-1, &port); /* bound, not listening: refuses */
    sctx c;

    (void)state;
    ctx_init(&c, loop);
    assert_int_equal(eddy_stream_connect(loop, "127.0.0.1", port, 0, NULL,
                                         on_connect, &c, &c.s),
                     0);
    c.owed++;
    ctx_adopt(&c);
    run_until_stopped(loop, &c);
    assert_int_equal(c.connect_status, -ECONNREFUSED);
    eddy_loop_close(loop, 0);
    close_fd(&lfd);
}

/* A write made from a timer queues the stream's work on the loop; a
 * reset found in the same iteration closes it.  As iostream.h says, it is
 * freed when the loop runs once more, not in its close callback. */
static void write_from_timer(eddy_loop *loop, void *arg)
{
    sctx *c = arg;

    (void)loop;
    assert_int_equal(do_write(c, "late", 4, NULL), 0);
}

static void test_freed_one_iteration_later_with_queued_work(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int client, server;
    sctx c;

    (void)state;
    tcp_pair(&client, &server);
    ctx_open(&c, loop, client, NULL);
    spin(loop);
    close_with_reset(&server);
    assert_int_equal(eddy_loop_call_later(loop, 0, write_from_timer, &c, NULL),
                     0);
    run_until_stopped(loop, &c);
    assert_true(c.close_status == -ECONNRESET || c.close_status == -EPIPE);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
}

/* A close callback alone (no read) is told when the peer goes away. */
static void test_close_callback_sees_eof_without_read(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_pipe_reader(&c, loop, &peer, NULL);
    spin(loop);
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.close_status, EDDY_EOF);
    assert_string_equal(eddy_strerror(EDDY_EOF), "end of stream");
    ctx_finish(&c);
    loop_finish(loop);
}

/* --- what the peer does -------------------------------------------------- */

/* EOF with a partial message: the read gets EDDY_EOF and the bytes. */
static void test_eof_partial_message(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    order_reset();
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    assert_int_equal(issue(&c), 0);
    send_all(peer, "abc", 3);
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[0], EDDY_EOF);
    assert_int_equal(c.lens[0], 3);
    assert_memory_equal(c.got, "abc", 3);
    /* Not closed yet when the read hears of the EOF: it may still reply
     * (test_reply_to_partial_message_at_eof). */
    assert_int_equal(c.error_in_read, 0);
    assert_int_equal(c.close_status, EDDY_EOF);
    assert_string_equal(order, "rx");
    ctx_finish(&c);
    loop_finish(loop);
}

/* The peer sends half a request and shuts down its writing: the read
 * gets EDDY_EOF while the stream is still open, so a reply written there
 * still goes out before the stream closes. */
static void reply_at_eof(sctx *c, int status, const char *data, size_t len)
{
    wtok *t = c->user;

    (void)data;
    (void)len;
    assert_int_equal(status, EDDY_EOF);
    assert_false(eddy_stream_closed(c->s));
    assert_int_equal(do_write(c, "400 incomplete\n", 15, t), 0);
}

static void test_reply_to_partial_message_at_eof(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[32];
    wtok t;
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    c.user = &t;
    c.read_hook = reply_at_eof;
    assert_int_equal(issue(&c), 0);
    send_all(peer, "GET", 3);
    assert_int_equal(shutdown(peer, SHUT_WR), 0);
    assert_int_equal(peer_read(loop, peer, buf, sizeof buf, SIZE_MAX), 15);
    assert_memory_equal(buf, "400 incomplete\n", 15);
    run_until_closed(&c);
    assert_int_equal(c.statuses[0], EDDY_EOF);
    assert_memory_equal(c.got, "GET", 3);
    assert_int_equal(t.status, 0);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    close_fd(&peer);
    loop_finish(loop);
}

/* The peer sends three lines and closes; each is read later, one at a
 * time from outside any callback; then EOF. */
static void test_eof_pipelined_data_readable(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer, rc;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    send_all(peer, "a\nbb\nccc\n", 9);
    close_fd(&peer);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(issue(&c), 0);
        settle(&c);
        /* Whatever the poller says about the hang-up meanwhile. */
        for (int j = 0; j < 5; j++)
            assert_int_equal(eddy_loop_run_once(loop, 0), 0);
        assert_int_equal(c.done, i + 1);
        assert_int_equal(c.statuses[i], 0);
        assert_int_equal(c.lens[i], (size_t)i + 2);
    }
    assert_memory_equal(c.got, "a\nbb\nccc\n", 9);
    /* Nothing left: either the stream knows it is at EOF and has closed,
     * or it learns it now. */
    if (c.s != NULL && !eddy_stream_closed(c.s)) {
        rc = issue(&c);
        assert_true(rc == 0 || rc == -EPIPE);
    }
    run_until_closed(&c);
    assert_int_equal(c.close_status, EDDY_EOF);
    assert_true(c.done == 3 || c.statuses[3] == EDDY_EOF);
    ctx_finish(&c);
    loop_finish(loop);
}

/* A read made after EOF was reported, from the callback that reported
 * it, fails with -EPIPE instead of completing again and again. */
static void read_again_hook(sctx *c, int status, const char *data, size_t len)
{
    (void)data;
    (void)len;
    assert_true(status == 0 || status == EDDY_EOF);
    assert_int_equal(issue(c), -EPIPE);
}

static void read_after_eof(int kind)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = kind;
    c.n = kind == K_STREAM ? SIZE_MAX : 4;
    c.read_hook = read_again_hook;
    assert_int_equal(issue(&c), 0);
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    loop_finish(loop);
}

static void test_read_until_close_again_at_eof(void **state)
{
    (void)state;
    read_after_eof(K_CLOSE);
}

static void test_read_stream_again_at_eof(void **state)
{
    (void)state;
    read_after_eof(K_STREAM);
}

static void test_read_bytes_again_at_eof(void **state)
{
    (void)state;
    read_after_eof(K_BYTES);
}

/* The peer shuts down its writing after a request while the reply is
 * still queued: the whole reply arrives, then EOF. */
typedef struct half {
    char *reply;
    size_t len;
    wtok t;
} half;

static void reply_hook(sctx *c, int status, const char *data, size_t len)
{
    half *h = c->user;

    (void)data;
    (void)len;
    assert_int_equal(status, 0);
    assert_int_equal(do_write(c, h->reply, h->len, &h->t), 0);
}

static void test_half_close_write_still_arrives(void **state)
{
    size_t cap = (4u << 20) + 1;
    eddy_loop *loop = tu_loop_new();
    char *in = malloc(cap);
    int client, server, small = 64 << 10;
    half h;
    sctx c;

    (void)state;
    h.len = 4u << 20;
    h.reply = malloc(h.len);
    assert_non_null(h.reply);
    assert_non_null(in);
    for (size_t i = 0; i < h.len; i++)
        h.reply[i] = (char)pattern(i);
    tcp_pair(&client, &server);
    /* Fixed buffers: autotuning could otherwise take in nearly all of
     * the reply before the peer reads. */
    assert_int_equal(
        setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    assert_int_equal(
        setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    ctx_open(&c, loop, server, NULL);
    c.kind = K_UNTIL;
    c.delim = "\n";
    c.dlen = 1;
    c.user = &h;
    c.read_hook = reply_hook;
    assert_int_equal(issue(&c), 0);
    send_all(client, "GET\n", 4);
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    /* Let the stream see the EOF before the peer reads anything. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.closes, 0);
    assert_true(eddy_stream_write_buffered(c.s) > 0);
    assert_int_equal(peer_read(loop, client, in, cap, SIZE_MAX), h.len);
    assert_memory_equal(in, h.reply, h.len);
    run_until_closed(&c);
    assert_int_equal(h.t.calls, 1);
    assert_int_equal(h.t.status, 0);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    free(h.reply);
    free(in);
    close_fd(&client);
    loop_finish(loop);
}

/* A TCP reset in the middle of a read: the read gets -ECONNRESET and the
 * bytes that had come. */
static void test_peer_reset_mid_read(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int client, server;
    sctx c;

    (void)state;
    tcp_pair(&client, &server);
    ctx_open(&c, loop, client, NULL);
    c.kind = K_BYTES;
    c.n = 100;
    assert_int_equal(issue(&c), 0);
    feed(&c, server, "0123456789", 10, 0);
    assert_int_equal(eddy_stream_read_buffered(c.s), 10);
    close_with_reset(&server);
    run_until_closed(&c);
    assert_int_equal(c.done, 1);
    assert_int_equal(c.statuses[0], -ECONNRESET);
    assert_int_equal(c.lens[0], 10);
    assert_memory_equal(c.got, "0123456789", 10);
    assert_int_equal(c.close_status, -ECONNRESET);
    ctx_finish(&c);
    loop_finish(loop);
}

/* Fills the kernel's buffers until the stream must wait for the peer. */
static void write_until_blocked(sctx *c, const char *data, size_t len, wtok *t)
{
    assert_int_equal(do_write(c, data, len, t), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(c->loop, 0), 0);
    assert_true(eddy_stream_write_buffered(c->s) > 0);
    assert_true(eddy_stream_write_buffered(c->s) < len);
    assert_int_equal(t->calls, 0);
}

/* A TCP reset in the middle of a write: the write fails with the
 * reset (or EPIPE, if the kernel reports that first), no SIGPIPE. */
static void test_peer_reset_mid_write(void **state)
{
    size_t big = 32u << 20;
    eddy_loop *loop = tu_loop_new();
    char *data = calloc(1, big);
    int client, server;
    wtok t;
    sctx c;

    (void)state;
    assert_non_null(data);
    tcp_pair(&client, &server);
    ctx_open(&c, loop, client, NULL);
    write_until_blocked(&c, data, big, &t);
    close_with_reset(&server);
    run_until_closed(&c);
    assert_int_equal(t.calls, 1);
    assert_true(t.status == -ECONNRESET || t.status == -EPIPE);
    assert_int_equal(c.close_status, t.status);
    ctx_finish(&c);
    free(data);
    loop_finish(loop);
}

static int sigpipe_pending(void)
{
    sigset_t set;

    assert_int_equal(sigpending(&set), 0);
    return sigismember(&set, SIGPIPE);
}

static void assert_sigpipe_default(void)
{
    struct sigaction sa;

    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, SIG_DFL);
    assert_false(sigpipe_pending());
}

/* A socketpair peer closes in the middle of a read: EDDY_EOF, with the
 * bytes that came. */
static void test_socketpair_close_mid_read(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;
    int peer;

    (void)state;
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_BYTES;
    c.n = 10;
    assert_int_equal(issue(&c), 0);
    feed(&c, peer, "abc", 3, 0);
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.statuses[0], EDDY_EOF);
    assert_int_equal(c.lens[0], 3);
    assert_int_equal(c.close_status, EDDY_EOF);
    ctx_finish(&c);
    loop_finish(loop);
}

/* A socketpair peer closes in the middle of a write: -EPIPE (or a reset,
 * as the peer dropped unread data), and no SIGPIPE kills the process. */
static void test_socketpair_close_mid_write(void **state)
{
    size_t big = 8u << 20;
    eddy_loop *loop = tu_loop_new();
    char *data = calloc(1, big);
    wtok t;
    sctx c;
    int peer;

    (void)state;
    assert_sigpipe_default();
    assert_non_null(data);
    ctx_socketpair(&c, loop, &peer, NULL);
    write_until_blocked(&c, data, big, &t);
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(t.calls, 1);
    assert_true(t.status == -EPIPE || t.status == -ECONNRESET);
    assert_int_equal(c.close_status, t.status);
    assert_sigpipe_default();
    ctx_finish(&c);
    free(data);
    loop_finish(loop);
}

/* A write to a pipe whose reader is gone: -EPIPE, no SIGPIPE delivered
 * or left pending. */
static void test_pipe_reader_gone_no_sigpipe(void **state)
{
    eddy_loop *loop = tu_loop_new();
    wtok t;
    sctx c;
    int p[2];

    (void)state;
    assert_sigpipe_default();
    tu_pipe(p);
    ctx_init(&c, loop);
    assert_int_equal(eddy_stream_new_pair(loop, -1, p[1], NULL, &c.s), 0);
    ctx_adopt(&c);
    close_fd(&p[0]);
    assert_int_equal(do_write(&c, "lost", 4, &t), 0);
    run_until_closed(&c);
    assert_int_equal(t.status, -EPIPE);
    assert_int_equal(c.close_status, -EPIPE);
    assert_sigpipe_default();
    ctx_finish(&c);
    loop_finish(loop);
}

/* A stream over two pipes: reads one, writes the other. */
static void test_pipe_pair_both_ways(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int in[2], out[2];
    char buf[8];
    wtok t;
    sctx c;

    (void)state;
    tu_pipe(in);
    tu_pipe(out);
    ctx_init(&c, loop);
    assert_int_equal(eddy_stream_new_pair(loop, in[0], out[1], NULL, &c.s), 0);
    ctx_adopt(&c);
    assert_int_equal(eddy_stream_fd(c.s), in[0]);
    assert_int_equal(eddy_stream_set_nodelay(c.s, 1), -ENOTSOCK);
    assert_ptr_equal(eddy_stream_loop(c.s), loop);
    eddy_stream_set_data(c.s, &t);
    assert_ptr_equal(eddy_stream_data(c.s), &t);
    c.kind = K_BYTES;
    c.n = 4;
    assert_int_equal(issue(&c), 0);
    assert_int_equal(do_write(&c, "ping", 4, &t), 0);
    assert_int_equal(peer_read(loop, out[0], buf, sizeof buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    feed(&c, in[1], "pong", 4, 0);
    assert_int_equal(c.done, 1);
    assert_memory_equal(c.got, "pong", 4);
    assert_int_equal(t.status, 0);
    ctx_finish(&c);
    assert_int_equal(tu_drain(out[0]), 0); /* EOF: the stream closed it */
    close_fd(&in[1]);
    close_fd(&out[0]);
    loop_finish(loop);
}

/* --- half-closing --------------------------------------------------------- */

/* eddy_stream_shutdown_write() on a socket: the peer reads every byte
 * queued before it (more than the socket holds), then EOF; the stream
 * still reads what the peer sends, and closes at the peer's EOF. */
static void test_shutdown_write_socket(void **state)
{
    eddy_loop *loop = tu_loop_new();
    size_t n = 1u << 20;
    char *big = malloc(n), *back = malloc(n + 1);
    wtok t;
    sctx c;
    int peer;

    (void)state;
    assert_non_null(big);
    assert_non_null(back);
    for (size_t i = 0; i < n; i++)
        big[i] = alphabet[i % 36];
    ctx_socketpair(&c, loop, &peer, NULL);
    c.kind = K_CLOSE;
    assert_int_equal(issue(&c), 0);
    assert_int_equal(do_write(&c, big, n, &t), 0);
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), 0);
    /* Writes are refused at once; so is a second half-close. */
    assert_int_equal(do_write(&c, "x", 1, NULL), -EPIPE);
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), -EPIPE);
    assert_int_equal(peer_read(loop, peer, back, n + 1, SIZE_MAX), n);
    assert_memory_equal(back, big, n);
    assert_int_equal(read(peer, back, 1), 0); /* EOF, not EAGAIN */
    assert_int_equal(t.calls, 1);
    assert_int_equal(t.status, 0);
    /* The other way still works, until the peer's own EOF. */
    feed(&c, peer, "after", 5, 0);
    assert_int_equal(c.closes, 0);
    close_fd(&peer);
    run_until_closed(&c);
    assert_int_equal(c.close_status, EDDY_EOF);
    assert_int_equal(c.last_status, 0); /* read_until_close: complete */
    assert_int_equal(c.got_len, 5);
    assert_memory_equal(c.got, "after", 5);
    ctx_finish(&c);
    free(big);
    free(back);
    loop_finish(loop);
}

/* Over two fds the write fd is closed; a stream that only wrote closes;
 * one that cannot write, or one fd that is no socket, is refused. */
static void test_shutdown_write_pairs(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int in[2], out[2];
    char buf[8];
    sctx c;

    (void)state;
    tu_pipe(in);
    tu_pipe(out);
    ctx_init(&c, loop);
    assert_int_equal(eddy_stream_new_pair(loop, in[0], out[1], NULL, &c.s), 0);
    ctx_adopt(&c);
    assert_int_equal(do_write(&c, "last", 4, NULL), 0);
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), 0);
    assert_int_equal(peer_read(loop, out[0], buf, sizeof buf, SIZE_MAX), 4);
    assert_memory_equal(buf, "last", 4);
    assert_int_equal(read(out[0], buf, 1), 0); /* its writer is gone */
    out[1] = -1;                               /* the stream closed it */
    c.kind = K_BYTES;
    c.n = 2;
    assert_int_equal(issue(&c), 0);
    feed(&c, in[1], "in", 2, 0);
    assert_int_equal(c.done, 1);
    assert_memory_equal(c.got, "in", 2);
    assert_int_equal(eddy_stream_fd(c.s), in[0]);
    ctx_finish(&c);
    close_fd(&in[1]);
    close_fd(&out[0]);

    /* Write-only: nothing is left once the write fd is closed. */
    tu_pipe(out);
    ctx_init(&c, loop);
    assert_int_equal(eddy_stream_new_pair(loop, -1, out[1], NULL, &c.s), 0);
    ctx_adopt(&c);
    assert_int_equal(do_write(&c, "bye", 3, NULL), 0);
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), 0);
    run_until_closed(&c);
    assert_int_equal(c.close_status, 0);
    assert_int_equal(peer_read(loop, out[0], buf, sizeof buf, SIZE_MAX), 3);
    ctx_finish(&c);
    close_fd(&out[0]);

    /* Read-only: there is no write side. */
    tu_pipe(in);
    ctx_init(&c, loop);
    assert_int_equal(eddy_stream_new_pair(loop, in[0], -1, NULL, &c.s), 0);
    ctx_adopt(&c);
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), -EPIPE);
    ctx_finish(&c);
    close_fd(&in[1]);

    /* One fd that is not a socket (a pipe's end, read and written). */
    tu_pipe(in);
    ctx_open(&c, loop, in[0], NULL);
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), -ENOTSOCK);
    assert_int_equal(do_write(&c, "x", 1, NULL), 0); /* nothing changed */
    /* Closed: -EPIPE. */
    API_V(eddy_stream_close(c.s));
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), -EPIPE);
    run_until_closed(&c);
    ctx_finish(&c);
    close_fd(&in[1]);
    loop_finish(loop);
}

/* A TCP connection: the peer sees the FIN after the data, and a peer
 * that resets meanwhile closes the stream with the error. */
static void test_shutdown_write_tcp(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char buf[16];
    sctx c;
    int cli, srv;

    (void)state;
    tcp_pair(&cli, &srv);
    ctx_open(&c, loop, srv, NULL);
    c.kind = K_BYTES;
    c.n = 4;
    assert_int_equal(issue(&c), 0);
    assert_int_equal(do_write(&c, "data", 4, NULL), 0);
    assert_int_equal(API(eddy_stream_shutdown_write(c.s)), 0);
    assert_int_equal(peer_read(loop, cli, buf, sizeof buf, SIZE_MAX), 4);
    assert_int_equal(read(cli, buf, 1), 0);
    send_all(cli, "more", 4);
    settle(&c);
    assert_int_equal(c.done, 1);
    assert_memory_equal(c.got, "more", 4);
    close_with_reset(&cli);
    c.rearm = 1;
    assert_int_equal(issue(&c), 0);
    run_until_closed(&c);
    assert_int_equal(c.close_status, -ECONNRESET);
    ctx_finish(&c);
    loop_finish(loop);
}

/* --- connect ------------------------------------------------------------- */

static void ctx_connect(sctx *c, eddy_loop *loop, const char *host,
                        uint16_t port, uint64_t timeout_ms)
{
    ctx_init(c, loop);
    assert_int_equal(API(eddy_stream_connect(loop, host, port, timeout_ms, NULL,
                                             on_connect, c, &c->s)),
                     0);
    assert_non_null(c->s);
    c->owed++;
    ctx_adopt(c);
}

/* Writes and a read queued before the connection is up go out after. */
static void test_connect_then_queued_io(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint16_t port;
    int lfd = tcp_listen(8, &port), server;
    char buf[16];
    wtok t;
    sctx c;

    (void)state;
    order_reset();
    ctx_connect(&c, loop, "127.0.0.1", port, 2000);
    assert_int_equal(do_write(&c, "hello", 5, &t), 0);
    c.kind = K_BYTES;
    c.n = 5;
    assert_int_equal(issue(&c), 0);
    assert_int_equal(c.connects, 0);
    assert_true(tu_run_until_count(loop, &c.connects, 1, RUN_ITER, RUN_MS));
    assert_int_equal(c.connect_status, 0);
    server = tcp_accept(lfd);
    assert_int_equal(peer_read(loop, server, buf, sizeof buf, 5), 5);
    assert_memory_equal(buf, "hello", 5);
    send_all(server, "world", 5);
    assert_true(tu_run_until_count(loop, &c.done, 1, RUN_ITER, RUN_MS));
    assert_memory_equal(c.got, "world", 5);
    assert_string_equal(order, "cwr");
    assert_int_equal(eddy_stream_set_nodelay(c.s, 1), 0);
    ctx_finish(&c);
    close_fd(&server);
    close_fd(&lfd);
    loop_finish(loop);
}

/* Closing in the connect callback: the queued write fails and nothing
 * reaches the peer but the close. */
static void close_on_connect(sctx *c)
{
    assert_int_equal(c->connect_status, 0);
    API_V(eddy_stream_close(c->s));
}

static void test_close_in_connect_callback(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint16_t port;
    int lfd = tcp_listen(8, &port), server;
    char buf[8];
    wtok t;
    sctx c;

    (void)state;
    order_reset();
    ctx_connect(&c, loop, "127.0.0.1", port, 2000);
    c.connect_hook = close_on_connect;
    assert_int_equal(do_write(&c, "hello", 5, &t), 0);
    run_until_closed(&c);
    assert_int_equal(c.connects, 1);
    assert_int_equal(t.status, -ECANCELED);
    assert_int_equal(c.close_status, 0);
    assert_string_equal(order, "cwx");
    server = tcp_accept(lfd);
    assert_int_equal(peer_read(loop, server, buf, sizeof buf, SIZE_MAX), 0);
    ctx_finish(&c);
    close_fd(&server);
    close_fd(&lfd);
    loop_finish(loop);
}

/* A closed port: the connect callback gets -ECONNREFUSED first, then the
 * queued read and write fail, then the close callback, all with the same
 * error. */
static void test_connect_refused(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint16_t port;
    int lfd = tcp_listen(-1, &port);
    wtok t;
    sctx c;

    (void)state;
    order_reset();
    ctx_connect(&c, loop, "127.0.0.1", port, 2000);
    assert_int_equal(do_write(&c, "hello", 5, &t), 0);
    c.kind = K_CLOSE;
    assert_int_equal(issue(&c), 0);
    run_until_closed(&c);
    assert_int_equal(c.connect_status, -ECONNREFUSED);
    assert_int_equal(c.last_status, -ECONNREFUSED);
    assert_int_equal(t.status, -ECONNREFUSED);
    assert_int_equal(c.close_status, -ECONNREFUSED);
    assert_string_equal(order, "crwx");
    ctx_finish(&c);
    close_fd(&lfd);
    loop_finish(loop);
}

/* A peer that never answers: a listener whose accept queue is full drops
 * the SYN.  The connect times out with -ETIMEDOUT, once. */
static void test_connect_timeout(void **state)
{
    enum { FILLERS = 16 };
    eddy_loop *loop = tu_loop_new();
    int fill[FILLERS], nfill = 0;
    struct sockaddr_in a = {0};
    uint64_t t0;
    uint16_t port;
    int lfd = tcp_listen(0, &port);
    sctx c;

    (void)state;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    /* Connect until one connection does not complete: the queue is full. */
    while (nfill < FILLERS) {
        struct pollfd p;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        fill[nfill++] = fd;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            continue;
        assert_int_equal(errno, EINPROGRESS);
        p = (struct pollfd){fd, POLLOUT, 0};
        if (poll(&p, 1, 100) == 0)
            break;
    }
    assert_true(nfill < FILLERS);
    t0 = tu_now_ms();
    ctx_connect(&c, loop, "127.0.0.1", port, 150);
    run_until_closed(&c);
    assert_true(tu_now_ms() - t0 >= 140);
    assert_int_equal(c.connects, 1);
    assert_int_equal(c.connect_status, -ETIMEDOUT);
    assert_int_equal(c.close_status, -ETIMEDOUT);
    ctx_finish(&c);
    for (int i = 0; i < nfill; i++)
        close_fd(&fill[i]);
    close_fd(&lfd);
    loop_finish(loop);
}

/* An address nobody answers for, as far as the network goes: whatever the
 * sandbox does with it (drop, unreachable, or a proxy that answers), the
 * callback runs exactly once and the stream closes. */
static void test_connect_unroutable(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sctx c;

    (void)state;
    ctx_connect(&c, loop, "10.255.255.1", 9, 150);
    assert_true(tu_run_until_count(loop, &c.connects, 1, RUN_ITER, RUN_MS));
    assert_true(c.connect_status <= 0);
    ctx_finish(&c);
    assert_int_equal(c.connects, 1);
    loop_finish(loop);
}

/* Only numeric addresses: no DNS, nothing created, no callback. */
static void test_connect_bad_address(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_stream *s = NULL;
    sctx c;

    (void)state;
    ctx_init(&c, loop);
    assert_int_equal(
        eddy_stream_connect(loop, "localhost", 80, 0, NULL, on_connect, &c, &s),
        -EINVAL);
    assert_int_equal(
        eddy_stream_connect(loop, "256.1.1.1", 80, 0, NULL, on_connect, &c, &s),
        -EINVAL);
    assert_int_equal(
        eddy_stream_connect(loop, NULL, 80, 0, NULL, on_connect, &c, &s),
        -EINVAL);
    assert_null(s);
    spin(loop);
    assert_int_equal(c.connects, 0);
    loop_finish(loop);
}

/* IPv6 loopback, when the machine has it. */
static void test_connect_ipv6(void **state)
{
    struct sockaddr_in6 a = {0};
    socklen_t alen = sizeof a;
    eddy_loop *loop;
    int lfd, server;
    char buf[4];
    sctx c;

    (void)state;
    lfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (lfd >= 0)
            close(lfd);
        skip();
    }
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    loop = tu_loop_new();
    ctx_connect(&c, loop, "::1", ntohs(a.sin6_port), 2000);
    assert_int_equal(do_write(&c, "six", 3, NULL), 0);
    server = tcp_accept(lfd);
    assert_int_equal(peer_read(loop, server, buf, sizeof buf, 3), 3);
    assert_memory_equal(buf, "six", 3);
    assert_int_equal(c.connect_status, 0);
    ctx_finish(&c);
    close_fd(&server);
    close_fd(&lfd);
    loop_finish(loop);
}

/* set_nodelay on TCP sets TCP_NODELAY both ways; elsewhere it fails. */
static void test_set_nodelay(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int client, server, v = -1, peer;
    socklen_t len = sizeof v;
    sctx c, u;

    (void)state;
    tcp_pair(&client, &server);
    ctx_open(&c, loop, client, NULL);
    assert_int_equal(eddy_stream_set_nodelay(c.s, 1), 0);
    assert_int_equal(getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_int_equal(v, 1);
    assert_int_equal(eddy_stream_set_nodelay(c.s, 0), 0);
    assert_int_equal(getsockopt(client, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_int_equal(v, 0);
    ctx_socketpair(&u, loop, &peer, NULL);
    assert_true(eddy_stream_set_nodelay(u.s, 1) < 0);
    ctx_finish(&c);
    ctx_finish(&u);
    close_fd(&server);
    close_fd(&peer);
    loop_finish(loop);
}

/* --- example programs as child processes --------------------------------- */

/* The example's path, or NULL (the test is skipped) outside make check. */
static const char *example(const char *name, char *path, size_t cap)
{
    const char *dir = getenv("EDDY_EXAMPLES");

    if (dir == NULL || *dir == '\0')
        return NULL;
    snprintf(path, cap, "%s/%s", dir, name);
    return access(path, X_OK) == 0 ? path : NULL;
}

/* Starts argv[0] with stdin from /dev/null and stdout and stderr to the
 * given fds (-1: /dev/null).  Only async-signal-safe calls after fork. */
static pid_t spawn(char *const argv[], int out, int err)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        if (null < 0 || dup2(null, 0) < 0 ||
            dup2(out >= 0 ? out : null, 1) < 0 ||
            dup2(err >= 0 ? err : null, 2) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* SIGTERM, a bounded wait, SIGKILL if that was not enough. */
static int stop_child(pid_t pid)
{
    int status;

    assert_int_equal(kill(pid, SIGTERM), 0);
    status = tu_wait_exit(pid, RUN_MS);
    if (status == -1) {
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        fail_msg("the child ignored SIGTERM");
    }
    return status;
}

/* A port that was free a moment ago. */
static uint16_t free_port(void)
{
    uint16_t port;
    int fd = tcp_listen(-1, &port);

    close_fd(&fd);
    return port;
}

static int try_connect(uint16_t port)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Starts the echo example on a free port and waits until it accepts
 * connections, polling connect() at most RUN_MS.  A port taken in the
 * meantime makes the child exit: then another port is tried. */
static pid_t start_echo(const char *path, uint16_t *port)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        char portstr[8];
        char *argv[] = {(char *)path, "--port",    portstr,
                        "--address",  "127.0.0.1", NULL};
        uint64_t end = tu_now_ms() + RUN_MS;
        pid_t pid;
        int status;

        *port = free_port();
        snprintf(portstr, sizeof portstr, "%u", (unsigned)*port);
        pid = spawn(argv, -1, -1);
        while (tu_now_ms() < end) {
            if (try_connect(*port))
                return pid;
            if (waitpid(pid, &status, WNOHANG) == pid)
                break;
            poll(NULL, 0, 5);
        }
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    fail_msg("echo did not start");
    return -1;
}

typedef struct echo_client {
    int fd, state; /* 0 connecting, 1 sending, 2 receiving, 3 done */
    size_t sent, got, len;
} echo_client;

static size_t echo_message(int i, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap,
                            "client %d: first line\nclient %d: second\n"
                            "client %d: third and last line\n",
                            i, i, i);
}

/* One step of client i after poll said its fd is ready; returns 1 when
 * it finished, -1 when it failed. */
static int echo_client_step(echo_client *e, int i, short revents)
{
    char want[128], buf[128];
    ssize_t n;
    int err = 0;
    socklen_t len = sizeof err;

    echo_message(i, want, sizeof want);
    if (e->state == 0) {
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err)
            return -1;
        e->state = 1;
    }
    if (e->state == 1) {
        n = send(e->fd, want + e->sent, e->len - e->sent, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        e->sent += (size_t)n;
        if (e->sent == e->len)
            e->state = 2;
        return 0;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)))
        return 0;
    n = read(e->fd, buf, sizeof buf);
    if (n <= 0)
        return n < 0 && errno == EAGAIN ? 0 : -1;
    if (e->got + (size_t)n > e->len ||
        memcmp(buf, want + e->got, (size_t)n) != 0)
        return -1;
    e->got += (size_t)n;
    if (e->got < e->len)
        return 0;
    e->state = 3;
    return 1;
}

/* Runs n clients at once against the echo server on port, with poll(2):
 * each sends three lines and must get them back.  Returns how many did. */
static int run_echo_clients(uint16_t port, int n)
{
    echo_client *cl = calloc((size_t)n, sizeof *cl);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    int *idx = calloc((size_t)n, sizeof *idx);
    uint64_t end = tu_now_ms() + 30000;
    struct sockaddr_in a = {0};
    char tmp[128];
    int done = 0, failed = 0;

    assert_non_null(cl);
    assert_non_null(pf);
    assert_non_null(idx);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    for (int i = 0; i < n; i++) {
        cl[i].fd =
            socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(cl[i].fd >= 0);
        cl[i].len = echo_message(i, tmp, sizeof tmp);
        if (connect(cl[i].fd, (struct sockaddr *)&a, sizeof a) != 0)
            assert_int_equal(errno, EINPROGRESS);
    }
    while (done + failed < n && tu_now_ms() < end) {
        int m = 0, r;

        for (int i = 0; i < n; i++) {
            if (cl[i].state == 3 || cl[i].fd < 0)
                continue;
            pf[m].fd = cl[i].fd;
            pf[m].events = cl[i].state < 2 ? POLLOUT : POLLIN;
            pf[m].revents = 0;
            idx[m++] = i;
        }
        r = poll(pf, (nfds_t)m, 100);
        assert_true(r >= 0 || errno == EINTR);
        for (int k = 0; k < m && r > 0; k++) {
            int i = idx[k], st;

            if (pf[k].revents == 0)
                continue;
            st = echo_client_step(&cl[i], i, pf[k].revents);
            if (st != 0) {
                close_fd(&cl[i].fd);
                if (st > 0)
                    done++;
                else
                    failed++;
            }
        }
    }
    for (int i = 0; i < n; i++)
        close_fd(&cl[i].fd);
    free(cl);
    free(pf);
    free(idx);
    if (failed > 0)
        fprintf(stderr, "echo: %d clients failed\n", failed);
    return done;
}

/* examples/echo as a child process, 1,000 clients at once (200 under
 * valgrind), every line back, then SIGTERM and exit status 0. */
static void test_echo_example_many_clients(void **state)
{
    int n = tu_valgrind() ? 200 : 1000;
    char path[4096];
    uint16_t port;
    pid_t pid;
    int status;

    (void)state;
    if (example("echo", path, sizeof path) == NULL)
        skip();
    assert_true(tu_raise_nofile(n + 256) >= n + 64);
    pid = start_echo(path, &port);
    assert_int_equal(run_echo_clients(port, n), n);
    status = stop_child(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A one-shot HTTP responder for examples/client: reads one request,
 * answers with a canned response and closes. */
static const char canned[] = "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 13\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "Hello, World\n";

typedef struct responder {
    eddy_loop *loop;
    int lfd;
    sctx conn;
    int accepted;
    char request[1024];
    size_t request_len;
    wtok t;
} responder;

static void respond(sctx *c, int status, const char *data, size_t len)
{
    responder *r = c->user;

    assert_int_equal(status, 0);
    assert_true(len < sizeof r->request);
    memcpy(r->request, data, len);
    r->request[len] = '\0';
    r->request_len = len;
    assert_int_equal(do_write(c, canned, sizeof canned - 1, &r->t), 0);
    r->t.close_in_cb = 1;
}

static void on_accept(eddy_loop *loop, int lfd, unsigned events, void *arg)
{
    responder *r = arg;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    (void)events;
    if (fd < 0)
        return;
    assert_int_equal(r->accepted++, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, lfd), 0);
    ctx_open(&r->conn, loop, fd, NULL);
    r->conn.user = r;
    r->conn.kind = K_UNTIL;
    r->conn.delim = "\r\n\r\n";
    r->conn.dlen = 4;
    r->conn.read_hook = respond;
    assert_int_equal(issue(&r->conn), 0);
}

/* Runs examples/client with args and collects its stdout and stderr
 * through two pipe streams until both reach EOF; returns its status. */
static int run_client(eddy_loop *loop, char *argv[], sctx *out, sctx *err)
{
    int po[2], pe[2], status;
    pid_t pid;

    assert_int_equal(pipe2(po, O_CLOEXEC), 0);
    assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
    pid = spawn(argv, po[1], pe[1]);
    close_fd(&po[1]);
    close_fd(&pe[1]);
    ctx_init(out, loop);
    ctx_init(err, loop);
    assert_int_equal(eddy_stream_new_pair(loop, po[0], -1, NULL, &out->s), 0);
    assert_int_equal(eddy_stream_new_pair(loop, pe[0], -1, NULL, &err->s), 0);
    ctx_adopt(out);
    ctx_adopt(err);
    out->kind = err->kind = K_CLOSE;
    assert_int_equal(issue(out), 0);
    assert_int_equal(issue(err), 0);
    run_until_closed(out);
    run_until_closed(err);
    status = tu_wait_exit(pid, RUN_MS);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the client did not exit");
    }
    got_append(out, "", 1); /* a terminating NUL for string checks */
    got_append(err, "", 1);
    return status;
}

/* examples/client fetches a page from a responder on this loop and prints
 * exactly the response; its request names the path, the host and asks
 * for the connection to close. */
static void test_client_example_fetches(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char path[4096], portstr[8], host[64];
    responder r = {0};
    uint16_t port;
    sctx out, err;
    int status;

    (void)state;
    if (example("client", path, sizeof path) == NULL) {
        eddy_loop_close(loop, 0);
        skip();
    }
    r.loop = loop;
    r.lfd = tcp_listen(8, &port);
    assert_int_equal(
        eddy_loop_add_handler(loop, r.lfd, EDDY_READ, on_accept, &r), 0);
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    char *argv[] = {path,    "--host", "127.0.0.1", "--port",
                    portstr, "--path", "/a/b?c=d",  NULL};
    status = run_client(loop, argv, &out, &err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(out.got, canned);
    assert_int_equal(err.got_len, 1); /* nothing on stderr */
    assert_int_equal(r.accepted, 1);
    run_until_closed(&r.conn);
    assert_int_equal(r.t.status, 0);
    assert_non_null(strstr(r.request, "GET /a/b?c=d HTTP/1.1\r\n"));
    assert_ptr_equal(strstr(r.request, "GET "), r.request);
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%u\r\n", (unsigned)port);
    assert_non_null(strstr(r.request, host));
    assert_non_null(strstr(r.request, "\r\nConnection: close\r\n"));
    ctx_finish(&r.conn);
    ctx_finish(&out);
    ctx_finish(&err);
    close_fd(&r.lfd);
    loop_finish(loop);
}

/* examples/client against a closed port: non-zero exit, a message. */
static void test_client_example_refused(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char path[4096], portstr[8];
    uint16_t port;
    int lfd = tcp_listen(-1, &port);
    sctx out, err;
    int status;

    (void)state;
    if (example("client", path, sizeof path) == NULL) {
        close_fd(&lfd);
        eddy_loop_close(loop, 0);
        skip();
    }
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    char *argv[] = {path, "--port", portstr, NULL};
    status = run_client(loop, argv, &out, &err);
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 0);
    assert_int_equal(out.got_len, 1); /* nothing on stdout */
    assert_non_null(strstr(err.got, "Connection refused"));
    ctx_finish(&out);
    ctx_finish(&err);
    close_fd(&lfd);
    loop_finish(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_read_bytes_at_once),
        tu_test(test_read_bytes_bytewise),
        tu_test(test_read_bytes_partial_at_once),
        tu_test(test_read_bytes_partial_bytewise),
        tu_test(test_read_until_at_once),
        tu_test(test_read_until_bytewise),
        tu_test(test_read_until_split_everywhere),
        tu_test(test_read_until_overlapping_at_once),
        tu_test(test_read_until_overlapping_bytewise),
        tu_test(test_read_until_long_line_bytewise),
        tu_test(test_read_until_close_at_once),
        tu_test(test_read_until_close_bytewise),
        tu_test(test_read_into_at_once),
        tu_test(test_read_into_bytewise),
        tu_test(test_read_into_partial_at_once),
        tu_test(test_read_into_partial_bytewise),
        tu_test(test_read_into_after_buffered),
        tu_test(test_read_stream_at_once),
        tu_test(test_read_stream_bytewise),
        tu_test(test_read_stream_until_eof),
        tu_test(test_read_chunk_size),
        tu_test(test_read_zero_length),
        tu_test(test_read_into_zero_with_data_waiting),
        tu_test(test_read_argument_errors),
        tu_test(test_new_failure_closes_fd),
        tu_test(test_reads_in_callbacks_do_not_recurse),
        tu_test(test_buffered_read_completes_after_call),
        tu_test(test_max_bytes_at_once),
        tu_test(test_max_bytes_bytewise),
        tu_test(test_max_bytes_exact_fit),
        tu_test(test_max_buffer_read_until),
        tu_test(test_max_buffer_read_until_close),
        tu_test(test_read_bytes_past_max_buffer),
        tu_test(test_max_write_buffer),
        tu_test(test_sendfile_socket),
        tu_test(test_sendfile_pipe),
#ifdef __linux__
        tu_test(test_sendfile_tcp_cork),
        tu_test(test_sendfile_head_coalesced),
#endif
        tu_test(test_sendfile_truncated_socket),
        tu_test(test_sendfile_truncated_pipe),
        tu_test(test_sendfile_past_4gib),
        tu_test(test_sendfile_errors),
        tu_test(test_drain_after_high_watermark),
        tu_test(test_watermark_errors),
        tu_test(test_watermark_raised_low),
        tu_test(test_drain_not_run_on_close),
        tu_test(test_watermarks_and_hard_limit),
        tu_test(test_pause_keeps_read_pending),
        tu_test(test_pause_with_buffered_data),
        tu_test(test_pause_backpressure_reaches_peer),
        tu_test(test_pause_at_eof),
        tu_test(test_half_open),
        tu_test(test_pause_writes_go_on),
        tu_test(test_pause_in_a_flow),
        tu_test(test_bulk_transfer_backpressure),
        tu_test(test_write_callbacks_in_order),
        tu_test(test_writes_coalesce),
        tu_test(test_many_write_refs),
        tu_test(test_write_ref_cancelled_on_close),
        tu_test(test_write_from_read_callback),
        tu_test(test_close_in_read_callback),
        tu_test(test_close_in_write_callback),
        tu_test(test_close_in_close_callback),
        tu_test(test_set_close_callback_in_close_callback),
        tu_test(test_cancel_close_callback_after_close),
        tu_test(test_close_in_stream_piece),
        tu_test(test_close_fails_pending),
        tu_test(test_close_other_stream_from_callback),
        tu_test(test_freed_after_owner_close),
        tu_test(test_freed_after_peer_reset),
        tu_test(test_freed_after_connect_refused),
        tu_test(test_freed_one_iteration_later_with_queued_work),
        tu_test(test_close_callback_sees_eof_without_read),
        tu_test(test_eof_partial_message),
        tu_test(test_reply_to_partial_message_at_eof),
        tu_test(test_eof_pipelined_data_readable),
        tu_test(test_read_until_close_again_at_eof),
        tu_test(test_read_stream_again_at_eof),
        tu_test(test_read_bytes_again_at_eof),
        tu_test(test_half_close_write_still_arrives),
        tu_test(test_peer_reset_mid_read),
        tu_test(test_peer_reset_mid_write),
        tu_test(test_socketpair_close_mid_read),
        tu_test(test_socketpair_close_mid_write),
        tu_test(test_pipe_reader_gone_no_sigpipe),
        tu_test(test_pipe_pair_both_ways),
        tu_test(test_shutdown_write_socket),
        tu_test(test_shutdown_write_pairs),
        tu_test(test_shutdown_write_tcp),
        tu_test(test_connect_then_queued_io),
        tu_test(test_close_in_connect_callback),
        tu_test(test_connect_refused),
        tu_test(test_connect_timeout),
        tu_test(test_connect_unroutable),
        tu_test(test_connect_bad_address),
        tu_test(test_connect_ipv6),
        tu_test(test_set_nodelay),
        tu_test(test_echo_example_many_clients),
        tu_test(test_client_example_fetches),
        tu_test(test_client_example_refused),
    };

    /* SIGPIPE keeps its default action: the library must never raise it. */
    return cmocka_run_group_tests_name(eddy_loop_backend(), tests, NULL, NULL);
}
