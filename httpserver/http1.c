/*
 * httpserver/http1.c - the HTTP/1.1 connection (Tornado's
 * HTTP1Connection): reading, parsing heads where they arrive, moving a
 * request through its states, keep-alive and pipelining, timeouts, and
 * closing (lingering, half-closed clients).
 *
 * A connection reads with partial reads and parses the head where it
 * arrived, without copying; only a request its handler keeps past the
 * callback gets its own copy of the head.  Bytes beyond the current
 * request (a body, pipelined requests) wait in the connection's
 * accumulator.  One request is handled at a time, so pipelined responses
 * go out in order; eddy__conn_run() loops over the requests that are
 * already in instead of recursing, and a request finished later, from
 * another callback, resumes the connection from a loop callback.
 *
 * Timeouts cost no timer work per request: a connection has one timer and
 * a deadline.  Moving the deadline later leaves the timer alone; when it
 * fires early it re-arms itself at the deadline.
 *
 * Closing while the client may still be sending (a body nobody read, a
 * request refused mid-stream) lingers, as nginx does: once the answer is
 * out, shut down our sending side and read and drop what comes until the
 * client's EOF, within linger_ms and max_linger_bytes.  Closing at once
 * with bytes unread makes the kernel reset the connection, which can
 * destroy the answer on its way.
 *
 * This file must never answer a request twice, answer after the client
 * went away, or read while a handler holds a request (pipelined bytes
 * wait in the stream, where TCP backpressure reaches the client).
 */
#define _GNU_SOURCE
#include "http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define READ_SIZE (64 * 1024)
#define PIPELINE_OUT (64 * 1024) /* answers queued before reading waits */

static int run(struct eddy__conn *c);
static void fail(struct eddy__conn *c, int status, const char *why);
static void close_after_write(struct eddy__conn *c, int linger);
static void idle_after_write(struct eddy__conn *c);
static void hand_over(struct eddy__conn *c);

/* --- plumbing ----------------------------------------------------------- */

static void on_timer(eddy_loop *loop, void *arg);

void eddy__conn_set_deadline(struct eddy__conn *c, uint64_t ms)
{
    eddy_loop *loop = c->srv->loop;

    c->deadline = ms ? eddy_loop_now(loop) + ms : 0;
    if (c->deadline == 0 || (c->timer != 0 && c->timer_at <= c->deadline))
        return;
    if (c->timer != 0)
        eddy_loop_remove_timeout(loop, c->timer);
    c->timer = 0;
    if (eddy_loop_call_at(loop, c->deadline, on_timer, c, &c->timer) == 0)
        c->timer_at = c->deadline;
}

static void on_timer(eddy_loop *loop, void *arg)
{
    struct eddy__conn *c = arg;

    c->timer = 0;
    if (c->deadline == 0 || c->state == EDDY__CLOSED)
        return;
    if (eddy_loop_now(loop) < c->deadline) {
        if (eddy_loop_call_at(loop, c->deadline, on_timer, c, &c->timer) == 0)
            c->timer_at = c->deadline;
        return;
    }
    /* A slow head (slowloris), a slow body, idle, or a lingering close
     * that ran out of time. */
    c->why = -ETIMEDOUT;
    eddy__conn_close(c);
}

/* Keeps bytes for later: they are copied, as the stream reuses its own. */
static int keep(struct eddy__conn *c, const char *p, size_t n)
{
    if (c->acc_len + n > c->acc_cap) {
        size_t cap = c->acc_cap ? c->acc_cap : 1024;
        char *a;

        while (cap < c->acc_len + n)
            cap *= 2;
        if ((a = realloc(c->acc, cap)) == NULL)
            return -ENOMEM;
        c->acc = a;
        c->acc_cap = cap;
    }
    memcpy(c->acc + c->acc_len, p, n);
    c->acc_len += n;
    return 0;
}

static void consume(struct eddy__conn *c, size_t n)
{
    if (n == 0)
        return; /* acc may be NULL: memmove() of NULL is undefined */
    c->acc_len -= n;
    memmove(c->acc, c->acc + n, c->acc_len);
    if (c->acc_len == 0 && c->acc_cap > 4096) {
        free(c->acc);
        c->acc = NULL;
        c->acc_cap = 0;
    }
}

static void on_data(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg);

/* Asks for the next bytes.  A read refused means the stream is at EOF
 * with nothing buffered (a client that half-closed and was answered), or
 * closing: nothing more will come, so close once the answers are out. */
static void want_read(struct eddy__conn *c)
{
    if (c->s != NULL && !eddy_stream_reading(c->s) &&
        eddy_stream_read_bytes(c->s, READ_SIZE, 1, on_data, c) != 0)
        close_after_write(c, 0);
}

static void on_run(eddy_loop *loop, void *arg)
{
    struct eddy__conn *c = arg;

    (void)loop;
    c->scheduled = 0;
    if (c->s != NULL)
        run(c);
    else if (!c->handshake)
        free(c); /* the connection closed while this was queued */
}

void eddy__conn_schedule(struct eddy__conn *c)
{
    if (c->in_run || c->scheduled)
        return;
    if (eddy_loop_add_callback(c->srv->loop, on_run, c) == 0)
        c->scheduled = 1;
    else
        eddy__conn_close(c);
}

/* --- requests ----------------------------------------------------------- */

/* A request's head is complete in base[0, n), and extra bytes after it
 * have arrived too: make the request, and decide where it goes. */
static void begin(struct eddy__conn *c, const char *base, size_t n,
                  size_t extra)
{
    eddy_http_server *srv = c->srv;
    eddy_http_request *req = eddy__request_new(c, base, n);
    int status = 0;

    if (req == NULL) {
        fail(c, 503, "out of memory for a request");
        return;
    }
    c->req = req;
    memset(&c->ps, 0, sizeof c->ps);
    c->ps.max_head = srv->opt.max_header_size;
    c->ps.max_uri = srv->opt.max_uri_length;
    req->route = eddy__route_request(req, &status);
    req->route_status = status;
    if (status == 400) {
        fail(c, 400, "a path that encodes '/' or NUL, climbs above the root, "
                     "or is malformed");
        return;
    }
    if (req->body_kind == EDDY__BODY_LENGTH &&
        req->head.content_length > srv->opt.max_body_size)
        status = 413;
    /* The server's own 404 or 405 for a small declared body: answered at
     * once, then the body is dropped and the connection goes on.  Not
     * with 100-continue: that client may never send the body. */
    if (status != 0 && status != 413 && req->body_kind == EDDY__BODY_LENGTH &&
        req->head.content_length <= srv->opt.max_discard_size &&
        !req->head.expect_continue) {
        req->discard = 1;
        c->state = EDDY__HANDLER;
        return;
    }
    if (status != 0 && !req->body_done) {
        /* No handler will read the body: answer and close. */
        fail(c, status,
             status == 413 ? "Content-Length past max_body_size"
                           : "no route takes it, and its body (chunked, "
                             "past max_discard_size, or behind "
                             "100-continue) is not read");
        return;
    }
    if (status == 0 && !req->body_done &&
        !(req->route->flags & EDDY_ROUTE_STREAM)) {
        c->state = EDDY__BODY;
        eddy__conn_set_deadline(c, srv->opt.body_timeout_ms);
        if (extra == 0)
            eddy__body_continue(req);
        req->head.expect_continue = 0;
        return;
    }
    c->state = EDDY__HANDLER;
}

/* The response is out and the next request may come: the idle timeout
 * starts once the answers are sent, and a shutdown closes the connection
 * now if nothing more waits. */
static void become_idle(struct eddy__conn *c)
{
    c->state = EDDY__IDLE;
    idle_after_write(c);
    if (c->srv->shutting_down)
        eddy__conn_close_idle(c);
}

/* Drops up to n bytes of the body being discarded; returns how many. */
static size_t discard(struct eddy__conn *c, size_t n)
{
    if (n > c->st.discard)
        n = (size_t)c->st.discard;
    c->st.discard -= n;
    eddy__conn_set_deadline(c, c->srv->opt.body_timeout_ms);
    return n;
}

static void dispatch(struct eddy__conn *c)
{
    eddy_http_request *req = c->req;

    /* The handler has it now, whether it finishes at once or later. */
    req->dispatched = 1;
    c->state = EDDY__HANDLER;
    eddy__conn_set_deadline(c, 0);
    eddy__route_dispatch(req);
}

/* The body timeout runs between reads of a body being read: after a
 * read, unless the request was finished (or its client left) from a
 * piece, or paused. */
static void body_read(struct eddy__conn *c)
{
    if (c->state == EDDY__BODY && c->req != NULL && !c->req->paused)
        eddy__conn_set_deadline(c, c->srv->opt.body_timeout_ms);
}

/* The next step with a head (part of one, or none yet) to read. */
static int step_head(struct eddy__conn *c)
{
    long n;

    /* A client that pipelines requests and reads no answers must not
     * make them pile up here: past PIPELINE_OUT bytes queued, the next
     * request waits, and nothing more is read, so that TCP pushes back,
     * until on_response_sent() finds them all sent. */
    if (c->state == EDDY__IDLE &&
        eddy_stream_write_buffered(c->s) > PIPELINE_OUT) {
        c->held = 1;
        return 0;
    }
    if (c->acc_len == 0) {
        want_read(c);
        return 0;
    }
    n = eddy__http_parse_head(&c->ps, c->acc, c->acc_len, &c->srv->head);
    if (n < 0) {
        fail(c, (int)-n, c->srv->head.error);
        return 0;
    }
    if (n == 0) {
        if (c->state == EDDY__IDLE)
            eddy__conn_set_deadline(c, c->srv->opt.header_timeout_ms);
        c->state = EDDY__HEAD;
        want_read(c);
        return 0;
    }
    begin(c, c->acc, (size_t)n, c->acc_len - (size_t)n);
    if (c->req != NULL && eddy__request_own_head(c->req) != 0) {
        fail(c, 503, "out of memory for a request's head");
        return 0;
    }
    consume(c, (size_t)n);
    return 1;
}

/* The next step with a body to read (or its end to report). */
static int step_body(struct eddy__conn *c)
{
    eddy_http_request *req = c->req;
    long n;

    if (req->body_done) {
        if (req->dispatched) {
            c->state = EDDY__HANDLER;
            req->body_cb(req, 0, NULL, 0, 1, req->body_arg);
        } else {
            dispatch(c);
        }
        return 1;
    }
    if (req->paused)
        return 0; /* eddy_http_resume_body() runs the connection again */
    if (c->acc_len == 0) {
        want_read(c);
        return 0;
    }
    n = eddy__body_feed(req, c->acc, c->acc_len);
    if (n < 0) {
        fail(c, (int)-n, eddy__body_rule(req, n));
        return 0;
    }
    consume(c, (size_t)n);
    body_read(c);
    return 1;
}

/* Does the next thing the connection can do.  Returns 0 when it must wait
 * (for bytes, or for a handler), or when it is gone. */
static int step(struct eddy__conn *c)
{
    switch (c->state) {
    case EDDY__IDLE:
    case EDDY__HEAD:
        return step_head(c);
    case EDDY__BODY:
        return step_body(c);
    case EDDY__HANDLER:
        if (c->req != NULL && !c->req->dispatched) {
            dispatch(c);
            return 1;
        }
        return 0;
    case EDDY__DISCARD:
        consume(c, discard(c, c->acc_len));
        if (c->st.discard == 0) {
            become_idle(c);
            return 1;
        }
        want_read(c);
        return 0;
    case EDDY__UPGRADE:
        /* The answers before it go out first: their callbacks point at
         * c, which the hand-over frees.  on_response_sent() runs c again. */
        if (c->waits == 0)
            hand_over(c);
        return 0;
    default:
        return 0;
    }
}

/* Returns 1 when c is gone: a handler freed the server, which detached c
 * (no stream any more), or c was handed over; freeing it is left to
 * here. */
static int run(struct eddy__conn *c)
{
    if (c->in_run)
        return 0;
    c->in_run = 1;
    while (c->s != NULL && step(c))
        ;
    c->in_run = 0;
    if (c->s != NULL || c->scheduled || c->handshake)
        return 0;
    free(c);
    return 1;
}

/* Drops what a lingering close reads, within max_linger_bytes. */
static void linger_more(struct eddy__conn *c, size_t len)
{
    c->st.lingered += len;
    if (c->st.lingered > c->srv->opt.max_linger_bytes)
        eddy__conn_close(c);
    else
        want_read(c);
}

/* Feeds body bytes where they arrived; returns how many were used, or -1
 * when the connection failed. */
static long take_body(struct eddy__conn *c, const char *data, size_t len)
{
    eddy_http_request *req = c->req;
    long n = eddy__body_feed(req, data, len);

    if (n < 0) {
        fail(c, (int)-n, eddy__body_rule(req, n));
        return -1;
    }
    body_read(c);
    return n;
}

/* Takes the bytes read: a head parsed where it arrived, body bytes fed,
 * the rest kept; then runs the connection.  Returns 1 when c is gone. */
static int take(struct eddy__conn *c, const char *data, size_t len)
{
    size_t off = 0;
    long n;

    if (c->acc_len == 0 && (c->state == EDDY__IDLE || c->state == EDDY__HEAD)) {
        /* The common case: parse where the bytes arrived. */
        n = eddy__http_parse_head(&c->ps, data, len, &c->srv->head);
        if (n < 0) {
            fail(c, (int)-n, c->srv->head.error);
            return 0;
        }
        if (n > 0) {
            begin(c, data, (size_t)n, len - (size_t)n);
            off = (size_t)n;
        }
    }
    if (c->acc_len == 0 && c->state == EDDY__BODY && off < len &&
        !c->req->paused) {
        if ((n = take_body(c, data + off, len - off)) < 0)
            return 0;
        off += (size_t)n;
    }
    if (c->acc_len == 0 && c->state == EDDY__DISCARD)
        off += discard(c, len - off);
    if (off < len && keep(c, data + off, len - off) != 0) {
        fail(c, 503, "out of memory for the bytes received");
        return 0;
    }
    return run(c);
}

static void on_data(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    struct eddy__conn *c = arg;
    eddy_http_request *req;

    (void)s;
    if (status < 0)
        return; /* EOF or an error: the close callback cleans up */
    c->srv->stats.bytes_in += len;
    if (c->state == EDDY__LINGER) {
        linger_more(c, len);
        return;
    }
    c->delivering = len;
    if (take(c, data, len))
        return;
    c->delivering = 0;
    /* A request still held (by its handler, or its body still coming)
     * must not point into data any more. */
    req = c->req;
    if (req != NULL && req->store == NULL && req->base == data &&
        eddy__request_own_head(req) != 0) {
        req->conn = NULL; /* cannot keep it: drop the client */
        eddy__conn_close(c);
    }
}

/* --- the client going, the server closing ------------------------------- */

/* Tells a dispatched request that its client is gone: its body callback
 * (which may finish it), then its close callback. */
static void tell_gone(struct eddy__conn *c, eddy_http_request *req, int orphan)
{
    if (orphan)
        eddy__request_orphan(req);
    else
        eddy__request_gone(req);
    req->in_cb = 1;
    if (req->body_cb != NULL && !req->body_done)
        req->body_cb(req, c->why ? c->why : -ECONNRESET, NULL, 0, 1,
                     req->body_arg);
    if (req->on_close != NULL && !req->finished)
        req->on_close(req, req->on_close_arg);
    req->in_cb = 0;
    if (req->finished)
        eddy__request_free(req);
}

/* The client is gone: the request, if a handler has it, is told.
 * orphan: the server is being freed, and the request must never reach
 * it. */
static void detach(struct eddy__conn *c, int orphan)
{
    eddy_http_request *req = c->req;

    c->state = EDDY__CLOSED;
    if (req != NULL) {
        eddy__request_ip(req);
        req->unsent = eddy_stream_write_buffered(c->s);
        req->conn = NULL;
        c->req = NULL;
        if (!req->dispatched)
            eddy__request_free(req);
        else
            tell_gone(c, req, orphan);
    }
    if (c->timer != 0)
        eddy_loop_remove_timeout(c->srv->loop, c->timer);
    c->timer = 0;
    free(c->acc);
    c->acc = NULL;
    c->s = NULL;
}

/* An upgrade not handed over yet when its connection closed: its owner is
 * told, with no stream, once the server is done with c (the owner may
 * free the server). */
static void upgrade_gone(eddy_http_upgrade_cb cb, void *arg)
{
    if (cb != NULL)
        cb(NULL, NULL, 0, arg);
}

void eddy__conn_forget(struct eddy__conn *c)
{
    eddy_stream *s = c->s;
    eddy_http_upgrade_cb up = c->state == EDDY__UPGRADE ? c->st.up.cb : NULL;
    void *up_arg = up != NULL ? c->st.up.arg : NULL;

    eddy_stream_set_close_callback(s, NULL, NULL);
    eddy_stream_close(s);
    c->why = -ECANCELED;
    detach(c, 1);
    if (!c->scheduled && !c->in_run && !c->handshake)
        free(c);
    upgrade_gone(up, up_arg);
}

/* Takes c off the server's list. */
static void unlink_conn(struct eddy__conn *c)
{
    eddy_http_server *srv = c->srv;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->nconns--;
    srv->stats.connections = srv->nconns;
}

/* The stream closed (the client went away, an error, or our own close). */
static void on_closed(eddy_stream *s, int err, void *arg)
{
    struct eddy__conn *c = arg;
    eddy_http_server *srv = c->srv;
    eddy_http_upgrade_cb up = c->state == EDDY__UPGRADE ? c->st.up.cb : NULL;
    void *up_arg = up != NULL ? c->st.up.arg : NULL;

    (void)s;
    (void)err;
    detach(c, 0);
    unlink_conn(c);
    if (!c->scheduled && !c->in_run && !c->handshake)
        free(c);
    eddy__server_conn_gone(srv);
    upgrade_gone(up, up_arg);
}

struct eddy__conn *eddy__conn_open(eddy_http_server *srv, eddy_stream *s,
                                   const struct sockaddr *peer, socklen_t len)
{
    struct eddy__conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->s = s;
    if (len <= sizeof c->peer)
        memcpy(&c->peer, peer, len);
    c->srv = srv;
    c->ps.max_head = srv->opt.max_header_size;
    c->ps.max_uri = srv->opt.max_uri_length;
    c->next = srv->conns;
    if (c->next != NULL)
        c->next->prev = c;
    srv->conns = c;
    srv->nconns++;
    srv->stats.connections = srv->nconns;
    srv->stats.connections_total++;
    eddy_stream_set_close_callback(s, on_closed, c);
    return c;
}

int eddy__conn_handshake_end(struct eddy__conn *c)
{
    c->handshake = 0;
    if (c->s != NULL)
        return 0;
    if (!c->scheduled && !c->in_run)
        free(c);
    return 1;
}

/* A TLS handshake counts against the header timeout from the accept
 * (server.c moves the deadline to the idle timeout once it is done); a
 * plain connection waits for its first request as for any other.  The
 * read waits for the handshake. */
void eddy__conn_start(struct eddy__conn *c)
{
    eddy_http_server *srv = c->srv;

    eddy__conn_set_deadline(c, c->handshake ? srv->opt.header_timeout_ms
                                            : srv->opt.idle_timeout_ms);
    want_read(c);
}

void eddy__conn_close(struct eddy__conn *c)
{
    if (c->s != NULL)
        eddy_stream_close(c->s);
}

int eddy__conn_lost(struct eddy__conn *c, int err)
{
    if (err != -EPIPE)
        eddy_loop_log(c->srv->loop, EDDY_LOG_ERROR,
                      "a response could not be queued (%s): connection closed",
                      eddy_strerror(err));
    eddy__conn_close(c);
    return -EPIPE;
}

/* Takes c out of the server, which forgets it, and hands its stream and
 * the bytes read past the request to the upgrade's owner (EDDY__UPGRADE,
 * which upgrade.c set). */
static void hand_over(struct eddy__conn *c)
{
    eddy_stream *s = c->s;
    eddy_http_server *srv = c->srv;

    /* The server forgets c first: the new owner may free the server. */
    unlink_conn(c);
    if (c->timer != 0)
        eddy_loop_remove_timeout(srv->loop, c->timer);
    c->timer = 0;
    c->state = EDDY__CLOSED;
    c->s = NULL;
    eddy_stream_set_close_callback(s, NULL, NULL);
    eddy_stream_set_half_open(s, 0);
    eddy__server_conn_gone(srv);
    c->st.up.cb(s, c->acc != NULL ? c->acc : "", c->acc_len, c->st.up.arg);
    free(c->acc);
    c->acc = NULL;
}

/* --- closing ------------------------------------------------------------ */

static void close_when_sent(eddy_stream *s, int status, void *arg)
{
    (void)status;
    (void)arg;
    eddy_stream_close(s);
}

/* The answer is out: shut down our sending side (the client reads the
 * answer, then EOF; over TLS a close_notify first, which a bare
 * shutdown(2) beneath TLS would not send) and drop what the client still
 * sends, until its EOF closes the stream, or linger_ms or
 * max_linger_bytes runs out.  (A closed stream may have lost its
 * connection, freed with its server.) */
static void linger_when_sent(eddy_stream *s, int status, void *arg)
{
    struct eddy__conn *c = arg;

    if (status != 0 || eddy_stream_closed(s))
        return;
    if (eddy_stream_shutdown_write(s) != 0) {
        eddy_stream_close(s);
        return;
    }
    c->state = EDDY__LINGER;
    c->st.lingered = c->acc_len;
    consume(c, c->acc_len);
    eddy__conn_set_deadline(c, c->srv->opt.linger_ms);
    want_read(c);
}

/* Stops reading and closes once what is queued has been sent; with
 * linger, the client may still be sending: close lingering. */
static void close_after_write(struct eddy__conn *c, int linger)
{
    c->state = EDDY__CLOSED;
    eddy__conn_set_deadline(c, 0);
    if (c->s != NULL &&
        eddy_stream_write(c->s, NULL, 0,
                          linger ? linger_when_sent : close_when_sent, c) != 0)
        eddy_stream_close(c->s);
}

static void on_response_sent(eddy_stream *s, int status, void *arg)
{
    struct eddy__conn *c = arg;
    int held;

    /* The stream first: once closed, the connection may be gone. */
    if (status != 0 || eddy_stream_closed(s))
        return;
    if (--c->waits == 0 && c->state == EDDY__UPGRADE)
        eddy__conn_schedule(c);
    if (c->state != EDDY__IDLE || eddy_stream_write_buffered(s) != 0)
        return;
    eddy__conn_set_deadline(c, c->srv->opt.idle_timeout_ms);
    held = c->held;
    c->held = 0;
    /* A shutdown that began while the answers drained found the
     * connection busy: it is idle now. */
    if (c->srv->shutting_down && eddy__conn_close_idle(c))
        return;
    if (held)
        eddy__conn_schedule(c);
}

/* Starts the idle timeout once the response is out: a client still
 * reading a large response is not idle. */
static void idle_after_write(struct eddy__conn *c)
{
    eddy__conn_set_deadline(c, 0);
    if (eddy_stream_write(c->s, NULL, 0, on_response_sent, c) == 0)
        c->waits++;
    else
        eddy__conn_set_deadline(c, c->srv->opt.idle_timeout_ms);
}

/* Whether the next request may have begun to arrive: bytes waiting in the
 * socket, or in the stream (which can read ahead while no read of ours is
 * pending: when held, or between a response and the next run), or answers
 * held back with requests behind them.  The loop handles a signal before
 * the fds that became readable with it, so at SIGTERM a keep-alive
 * client's next request may be there, unread: closing would reset it
 * unanswered.  (While run() is on the stack, a handler of this very
 * connection is shutting the server down; the bytes in the stream are
 * the ones it is handling.) */
static int input_waiting(struct eddy__conn *c)
{
    int fd = eddy_stream_fd(c->s);
    char byte;

    return c->held || (!c->in_run && eddy_stream_read_buffered(c->s) > 0) ||
           (fd >= 0 && recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0);
}

int eddy__conn_close_idle(struct eddy__conn *c)
{
    /* No request can have come before the handshake ends, and nothing is
     * queued: a client still shaking hands is closed at once. */
    if (c->handshake) {
        eddy__conn_close(c);
        return 1;
    }
    if (c->req != NULL || c->acc_len != 0 || c->state != EDDY__IDLE ||
        input_waiting(c))
        return 0;
    /* The last response may still be queued (a large body, a slow
     * reader): it goes out first.  The shutdown deadline still holds. */
    close_after_write(c, 0);
    return 1;
}

/* Says in the log which rule a request broke; the client's answer stays
 * generic ("400 Bad Request"), as it must not teach an attacker much. */
static void log_refusal(struct eddy__conn *c, int status, const char *why)
{
    eddy_http_request *req = c->req;
    char buf[INET6_ADDRSTRLEN], what[80] = "";
    const char *ip = req != NULL ? eddy__request_ip(req)
                                 : eddy__peer_text(&c->peer, buf, sizeof buf);

    if (req != NULL)
        snprintf(what, sizeof what, " %.*s %.*s", (int)req->head.method.len,
                 req->head.method.p,
                 (int)(req->path.len < 40 ? req->path.len : 40), req->path.p);
    eddy_loop_log(c->srv->loop, EDDY_LOG_INFO, "%d %s%s from %s: %s", status,
                  eddy_http_reason(status), what, ip[0] ? ip : "a local client",
                  why != NULL ? why : "malformed request");
}

/* An error before a handler answered (why: the rule broken, for the log):
 * answer it ourselves and close, lingering, as more may be on its way. */
static void fail(struct eddy__conn *c, int status, const char *why)
{
    eddy_http_request *req = c->req;

    log_refusal(c, status, why);
    if (req != NULL && req->dispatched) {
        /* A streaming handler reading the body: it answers; we close. */
        req->keep_alive = 0;
        req->body_done = 1;
        req->body_error = 1;
        c->state = EDDY__HANDLER;
        if (req->body_cb != NULL)
            req->body_cb(req,
                         status == 413   ? EDDY_HTTP_TOO_LARGE
                         : status == 400 ? -EPROTO
                                         : -ENOMEM,
                         NULL, 0, 1, req->body_arg);
        return;
    }
    if (req != NULL) {
        req->keep_alive = 0;
        eddy__respond_error(c, req, status);
        return;
    }
    eddy__respond_error(c, NULL, status);
    close_after_write(c, 1);
}

/* --- after a request ------------------------------------------------------ */

/* Whether the client may still be sending when the connection closes
 * after req: then the close lingers.  (Inside on_data() the stream still
 * counts the bytes it is handing over as buffered: those are ours.) */
static int may_send_more(const eddy_http_request *req,
                         const struct eddy__conn *c)
{
    return !req->body_done || req->body_error || c->acc_len > 0 ||
           eddy_stream_read_buffered(c->s) > c->delivering;
}

/* The connection goes on after a finished request: to the next request,
 * or first through the small body the server refused. */
static void after_request(struct eddy__conn *c, const eddy_http_request *req)
{
    if (req->discard && !req->body_done) {
        c->state = EDDY__DISCARD;
        c->st.discard = req->body_left;
        eddy__conn_set_deadline(c, c->srv->opt.body_timeout_ms);
    } else {
        c->state = EDDY__IDLE;
        idle_after_write(c);
    }
    eddy__conn_schedule(c);
}

void eddy__conn_request_done(struct eddy__conn *c, const eddy_http_request *req)
{
    /* A body paused and never resumed: whatever comes next reads. */
    if (req->paused)
        eddy_stream_resume_reading(c->s);
    if (!req->keep_alive || c->srv->shutting_down ||
        (!req->body_done && !req->discard))
        close_after_write(c, may_send_more(req, c));
    else
        after_request(c, req);
}
