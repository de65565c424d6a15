/*
 * tests/rawclient.h - a raw HTTP client on the test's own loop, for the
 * suites that run an eddy server in this process (test_httpserver.c,
 * test_handlers.c).  A client is a non-blocking loopback socket watched by
 * that loop; what it receives piles up in buf, and responses are parsed
 * strictly (httputil.h) from off, so a stray byte shows up as a failure.
 * Requests are written raw: a refusal sees exactly the bytes an attacker
 * would send.
 *
 * One thread drives both ends, so every wait is a bounded run of the loop
 * (HU_WAIT_MS, HU_WAIT_ITER), and a failure fails the running test.
 * Include testutil.h first.
 */
#ifndef EDDY_TESTS_RAWCLIENT_H
#define EDDY_TESTS_RAWCLIENT_H

#include "testutil.h"

#include "httputil.h"

#define HU_WAIT_ITER 200000 /* the bound on one wait's loop iterations */

typedef struct client {
    eddy_loop *loop; /* the loop that watches fd: the server's */
    int fd;
    char *buf;
    size_t len, cap, off;
    size_t room;     /* the least room a read gets (0: 4096); twice it first */
    int eof;         /* the server closed (or reset) the connection */
    int err;         /* the errno of a reset, 0 for a clean EOF */
    int is_head;     /* the response awaited answers a HEAD */
    int reading;     /* the loop watches fd */
    uint64_t eof_ms; /* when the EOF came */
} client;

/* The bytes not taken by a response yet ("" before any arrived, or after
 * cl_close: NULL + 0 is undefined). */
static inline const char *cl_rest(const client *c)
{
    return c->buf != NULL ? c->buf + c->off : "";
}

static inline void cl_on_io(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    client *c = arg;
    size_t room = c->room ? c->room : 4096;

    (void)events;
    for (;;) {
        ssize_t n;

        if (c->cap - c->len < room) {
            c->cap = c->cap ? 2 * c->cap : 2 * room;
            c->buf = realloc(c->buf, c->cap + 1);
            assert_non_null(c->buf);
        }
        n = recv(fd, c->buf + c->len, c->cap - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            c->buf[c->len] = '\0';
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        c->err = n < 0 ? errno : 0;
        break;
    }
    c->eof = 1;
    c->eof_ms = tu_now_ms();
    c->reading = 0;
    assert_int_equal(eddy_loop_remove_handler(loop, fd), 0);
}

/* Starts (or, after cl_pause, restarts) reading c->fd on c->loop. */
static inline void cl_resume(client *c)
{
    assert_int_equal(
        eddy_loop_add_handler(c->loop, c->fd, EDDY_READ, cl_on_io, c), 0);
    c->reading = 1;
}

/* Stops reading for a while: the server's response stays queued in its
 * stream. */
static inline void cl_pause(client *c)
{
    assert_int_equal(eddy_loop_remove_handler(c->loop, c->fd), 0);
    c->reading = 0;
}

/* A new connection to 127.0.0.1:port, read on loop. */
static inline void cl_connect(client *c, eddy_loop *loop, int port)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->fd = tcp_connect(port);
    assert_true(c->fd >= 0);
    tu_nonblock(c->fd);
    cl_resume(c);
}

static inline void cl_close(client *c)
{
    if (c->fd >= 0) {
        if (c->reading)
            assert_int_equal(eddy_loop_remove_handler(c->loop, c->fd), 0);
        assert_int_equal(close(c->fd), 0);
    }
    c->fd = -1;
    c->reading = 0;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = c->off = 0;
}

/* Sends all of p, running the loop while the socket is full.  Returns 0 or
 * the errno of a connection the server closed. */
static inline int cl_sendn(client *c, const void *p, size_t n)
{
    uint64_t end = tu_now_ms() + HU_WAIT_MS;
    size_t off = 0;

    while (off < n) {
        ssize_t k = send(c->fd, (const char *)p + off, n - off, MSG_NOSIGNAL);

        if (k > 0) {
            off += (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            assert_true(tu_now_ms() < end);
            assert_int_equal(eddy_loop_run_once(c->loop, 10), 0);
        } else if (k < 0 && errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

static inline void cl_send(client *c, const char *s)
{
    int err = cl_sendn(c, s, strlen(s));

    if (err != 0)
        fail_msg("sending %.60s: %s", s, strerror(err));
}

static inline int cl_has_response(void *arg)
{
    client *c = arg;
    resp r = {0};
    long n =
        parse_response(cl_rest(c), c->len - c->off, c->is_head, c->eof, &r);

    resp_free(&r);
    return n != 0 || c->eof;
}

/* Waits for the next response.  Returns 1 with it in *r, or 0 when the
 * connection closed without one. */
static inline int cl_response_as(client *c, resp *r, int is_head)
{
    long n;

    c->is_head = is_head;
    if (!tu_run_until(c->loop, cl_has_response, c, HU_WAIT_ITER, HU_WAIT_MS))
        fail_msg("no response in %d ms; got [%.*s]", HU_WAIT_MS,
                 (int)(c->len - c->off), cl_rest(c));
    n = parse_response(cl_rest(c), c->len - c->off, is_head, c->eof, r);
    if (n < 0)
        fail_msg("malformed response: [%.*s]", (int)(c->len - c->off),
                 cl_rest(c));
    if (n == 0)
        return 0;
    c->off += (size_t)n;
    return 1;
}

static inline int cl_eof(void *arg)
{
    return ((client *)arg)->eof;
}

/* Waits until the server closed the connection. */
static inline void cl_wait_eof(client *c)
{
    assert_true(tu_run_until(c->loop, cl_eof, c, HU_WAIT_ITER, HU_WAIT_MS));
}

#endif
