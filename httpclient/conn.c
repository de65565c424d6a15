/*
 * httpclient/conn.c - one connection of the client: connecting, sending
 * a request, reading its response, and staying in the pool or closing.
 *
 * A read is always pending on an open connection (eddy_stream_read_bytes,
 * partial), busy or idle, so a server that closes an idle connection is
 * noticed when it does, and a busy one's bytes come in as they arrive.
 * A response head is parsed where the read put it, in the stream's
 * buffer; only a head that came in pieces, or what a pause left, is
 * copied, into the connection's accumulator.  The head is then copied
 * once into the fetch (the response the callbacks see), and the body is
 * handed on from where it lies: to on_chunk without a copy, or appended
 * to the fetch's buffer.
 *
 * The response's framing (RFC 9112 6.3): none for HEAD, 1xx, 204 and
 * 304; chunked; Content-Length; else until the server closes.  1xx heads
 * are skipped (100 Continue releases a body that waits for it; 101 hands
 * the stream to on_upgrade, or is an error).  The connection stays for
 * the next request only when the response says keep-alive (HTTP/1.1
 * without Connection: close, or HTTP/1.0 with keep-alive), its body was
 * framed, the whole request went out, and nothing came after it.
 *
 * The request: the head and a buffered body are queued without a copy
 * (they live in the fetch, which never outlives a connection still
 * sending them: a connection whose fetch ends before their write
 * callbacks ran is closed, and a closed stream never reads them); a
 * produced body is copied piece by piece.
 *
 * Failures: a connection lost before a byte of the response is the one
 * case that may be retried (client.c decides: a reused connection, an
 * idempotent method, and not a byte of the request sent); otherwise the
 * fetch fails with the error, EDDY_HTTP_ENORESPONSE for a close without a
 * response, EDDY_HTTP_ETRUNCATED for one in the middle of it.
 *
 * This file must never hand a byte of a malformed response's body to the
 * caller, never reuse a connection whose framing it is not sure of, and
 * never touch a fetch or connection after a callback freed it.
 */
#define _GNU_SOURCE
#include "httpclient_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define READ_SIZE 65536
#define FIRST_BODY 4096

/* What emit() says. */
enum { GO_ON = 0, PAUSED = 1, GONE = 2 };

static void on_read(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg);
static void on_close(eddy_stream *s, int status, void *arg);

/* --- making, keeping and ending connections ------------------------------ */

static eddy__hconn *conn_new(eddy__host *h)
{
    eddy_http_client *c = h->c;
    eddy__hconn *k = calloc(1, sizeof *k);

    if (k == NULL)
        return NULL;
    k->c = c;
    k->h = h;
    h->refs++;
    h->nconns++;
    c->stats.connections++;
    c->stats.connections_total++;
    eddy__list_push(&c->conns, &k->link);
    eddy__list_init(&k->host_link);
    eddy__list_init(&k->idle_link);
    return k;
}

void eddy__hconn_free(eddy__hconn *k)
{
    free(k->acc);
    free(k);
}

static void stop_timers(eddy__hconn *k, eddy_loop *loop)
{
    if (k->continue_timer != 0)
        eddy_loop_remove_timeout(loop, k->continue_timer);
    if (k->resume_timer != 0)
        eddy_loop_remove_timeout(loop, k->resume_timer);
    k->continue_timer = k->resume_timer = 0;
}

void eddy__hconn_read(eddy__hconn *k)
{
    eddy_stream *s = k->s;

    if (k->state == EDDY__C_BUSY && k->f->paused) {
        eddy_stream_pause_reading(s);
        return;
    }
    eddy_stream_resume_reading(s);
    if (!eddy_stream_reading(s) && !eddy_stream_closed(s))
        eddy_stream_read_bytes(s, READ_SIZE, 1, on_read, k);
    /* (It fails only at EOF with nothing buffered: the stream closes, and
     * its close callback says so.) */
}

static void on_handshake(eddy_stream *s, int status, void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    if (c == NULL || k->state != EDDY__C_CONNECTING)
        return; /* closed meanwhile */
    eddy__client_enter(c);
    eddy__pool_connected_why(k, status, eddy_stream_tls_verify_error(s));
    eddy__client_leave(c);
}

void eddy__hconn_ready(eddy__hconn *k)
{
    eddy__host *h = k->h;
    uint64_t now, left = 0;
    int err;

    if (!h->https) {
        eddy__pool_connected(k, 0);
        return;
    }
    /* The handshake has what is left of the connect timeout. */
    now = eddy_loop_now(k->c->loop);
    if (k->connect_deadline != 0)
        left = k->connect_deadline > now ? k->connect_deadline - now : 1;
    k->tls = 1;
    err = eddy_stream_start_tls(k->s, h->tls, h->name, left, on_handshake, k);
    if (err != 0)
        eddy__pool_connected(k, err);
}

static void on_connected(eddy_stream *s, int status, void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    k->connector = NULL;
    eddy__client_enter(c);
    if (status == 0) {
        k->s = s;
        eddy_stream_set_close_callback(s, on_close, k);
        eddy_stream_set_nodelay(s, 1);
        eddy__hconn_ready(k);
    } else {
        eddy__pool_connected(k, status);
    }
    eddy__client_leave(c);
}

eddy__hconn *eddy__hconn_open(eddy__host *h, uint64_t timeout_ms, int *err)
{
    eddy_tcp_connect_options o = {0};
    eddy__hconn *k = conn_new(h);

    if (k == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    k->state = EDDY__C_CONNECTING;
    h->nconnecting++;
    o.timeout_ms = timeout_ms;
    if (timeout_ms != 0)
        k->connect_deadline = eddy_loop_now(h->c->loop) + timeout_ms;
    *err = eddy_tcp_connect(h->c->loop, h->c->resolver, h->name, h->port, &o,
                            on_connected, k, &k->connector);
    if (*err != 0) {
        k->connector = NULL;
        eddy__hconn_close(k);
        return NULL;
    }
    return k;
}

eddy__hconn *eddy__hconn_adopt(eddy__host *h, eddy_stream *s)
{
    eddy__hconn *k = conn_new(h);

    if (k == NULL)
        return NULL;
    k->s = s;
    k->state = EDDY__C_BUSY;
    eddy_stream_set_close_callback(s, on_close, k);
    return k;
}

void eddy__hconn_close(eddy__hconn *k)
{
    eddy_http_client *c = k->c;

    if (k->state == EDDY__C_CLOSED || k->state == EDDY__C_UPGRADED)
        return;
    eddy__pool_forget(k);
    k->state = EDDY__C_CLOSED;
    stop_timers(k, c->loop);
    if (k->connector != NULL)
        eddy_tcp_connect_cancel(k->connector);
    k->connector = NULL;
    if (k->s != NULL) {
        eddy_stream_close(k->s); /* on_close frees k */
    } else {
        eddy__list_unlink(&k->link);
        eddy__hconn_free(k);
    }
    eddy__pool_dispatch(c); /* a place freed */
}

void eddy__hconn_orphan(eddy__hconn *k)
{
    eddy__list_unlink(&k->link);
    k->h = NULL; /* the hosts go with the client */
    stop_timers(k, k->c->loop);
    if (k->connector != NULL)
        eddy_tcp_connect_cancel(k->connector);
    k->connector = NULL;
    k->c = NULL;
    k->f = NULL;
    if (k->s == NULL) {
        eddy__hconn_free(k);
        return;
    }
    k->state = EDDY__C_CLOSED;
    eddy_stream_close(k->s);
}

void eddy__hconn_abort(eddy__hconn *k)
{
    eddy__hconn_close(k);
}

int eddy__hconn_alive(eddy__hconn *k)
{
    eddy_loop_stats st;
    ssize_t r;
    char b;

    /* (Bytes of the read being handed over are the last response's.) */
    if (eddy_stream_closed(k->s) || eddy_stream_read_buffered(k->s) > k->piece)
        return 0;
    /* Idle since this iteration began: the server just said it keeps the
     * connection, and the poll that would show a close has not run.  And
     * TLS: a record in the kernel (a session ticket) is no sign of a
     * close; the read kept pending sees a close_notify or an EOF. */
    eddy_loop_get_stats(k->c->loop, &st);
    if (st.iterations == k->idle_iter || k->tls)
        return 1;
    r = recv(eddy_stream_fd(k->s), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Ends k's fetch with err, closing k. */
static void conn_fail(eddy__hconn *k, int err, const char *detail)
{
    eddy_http_fetch *f = k->f;

    k->f = NULL;
    if (f != NULL)
        f->conn = NULL;
    eddy__hconn_close(k);
    if (f != NULL)
        eddy__fetch_finish(f, err, detail);
}

/* --- the request --------------------------------------------------------- */

static void produce(eddy__hconn *k);

static void count_out(eddy__hconn *k, size_t n)
{
    k->req_queued += n;
    k->c->stats.bytes_out += n;
}

static void on_body_sent(eddy_stream *s, int status, void *arg)
{
    eddy__hconn *k = arg;

    (void)s;
    (void)status;
    k->refs_out--;
}

static void send_body(eddy__hconn *k)
{
    eddy_http_fetch *f = k->f;

    if (f->opt.body_producer == NULL) {
        k->body_state = EDDY__B_NONE;
        if (eddy_stream_write_ref(k->s, f->body, f->body_len, on_body_sent,
                                  k) == 0) {
            count_out(k, f->body_len);
            k->refs_out++;
        }
        k->req_complete = 1;
        return;
    }
    k->body_state = EDDY__B_PRODUCE;
    produce(k);
}

static void on_continue(eddy_loop *loop, void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    (void)loop;
    k->continue_timer = 0;
    eddy__client_enter(c);
    if (k->state == EDDY__C_BUSY && k->body_state == EDDY__B_CONTINUE)
        send_body(k);
    eddy__client_leave(c);
}

static void on_head_sent(eddy_stream *s, int status, void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    (void)s;
    k->refs_out--;
    if (c == NULL || ++k->heads_done != k->heads_out || status != 0 ||
        k->state != EDDY__C_BUSY || k->body_state != EDDY__B_WAIT)
        return;
    eddy__client_enter(c);
    if (eddy__request_expects(k->f)) {
        k->body_state = EDDY__B_CONTINUE;
        eddy_loop_call_later(c->loop, c->opt.continue_timeout_ms, on_continue,
                             k, &k->continue_timer);
    } else {
        send_body(k);
    }
    eddy__client_leave(c);
}

static void on_drained(eddy_stream *s, int status, void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    (void)s;
    if (c == NULL || status != 0)
        return;
    k->drain_armed = 0;
    if (k->state != EDDY__C_BUSY || k->body_state != EDDY__B_PRODUCE)
        return;
    eddy__client_enter(c);
    produce(k);
    eddy__client_leave(c);
}

/* Calls the producer again once what it wrote is out. */
static void arm_drain(eddy__hconn *k)
{
    if (k->drain_armed || !k->wrote || k->body_state != EDDY__B_PRODUCE)
        return;
    k->wrote = 0;
    if (eddy_stream_write(k->s, NULL, 0, on_drained, k) == 0)
        k->drain_armed = 1;
}

static void produce(eddy__hconn *k)
{
    eddy_http_fetch *f = k->f;

    k->producing = 1;
    eddy__fetch_hold(f);
    f->opt.body_producer(f, f->arg);
    if (!eddy__fetch_release(f) || k->f != f)
        return;
    k->producing = 0;
    if (k->state == EDDY__C_BUSY)
        arm_drain(k);
}

int eddy__hconn_write_body(eddy__hconn *k, const void *data, size_t len,
                           int end)
{
    eddy_http_fetch *f = k->f;
    char line[24];
    int err = 0, n;

    if (k->state != EDDY__C_BUSY || k->body_state == EDDY__B_REFUSED)
        return -EPIPE;
    if (k->body_state != EDDY__B_PRODUCE)
        return -EAGAIN;
    if (end) {
        if (k->chunked &&
            (err = eddy_stream_write(k->s, "0\r\n\r\n", 5, NULL, NULL)) == 0)
            count_out(k, 5);
        if (err == 0) {
            f->body_ended = 1;
            k->body_state = EDDY__B_NONE;
            k->req_complete = 1;
        }
    } else if (len > 0) {
        if (k->chunked) {
            n = sprintf(line, "%zx\r\n", len);
            if ((err = eddy_stream_write(k->s, line, (size_t)n, NULL, NULL)) ==
                0)
                count_out(k, (size_t)n);
        }
        if (err == 0 &&
            (err = eddy_stream_write(k->s, data, len, NULL, NULL)) == 0)
            count_out(k, len);
        if (err == 0 && k->chunked &&
            (err = eddy_stream_write(k->s, "\r\n", 2, NULL, NULL)) == 0)
            count_out(k, 2);
        if (err == 0) {
            f->body_written += len;
            k->wrote = 1;
            if (!k->producing)
                arm_drain(k);
        }
    }
    if (err != 0) /* a piece half queued: the framing is lost */
        eddy__fetch_fail_later(f, err == -EPIPE ? -ECONNRESET : err);
    return err;
}

void eddy__hconn_start(eddy__hconn *k, eddy_http_fetch *f)
{
    eddy_http_client *c = k->c;
    int err;

    k->state = EDDY__C_BUSY;
    k->f = f;
    f->conn = k;
    f->state = EDDY__F_ACTIVE;
    if (k->requests++ > 0)
        c->stats.reused++;
    c->stats.requests++;
    memset(&k->ps, 0, sizeof k->ps);
    k->ps.max_head = c->opt.max_header_size;
    k->rstate = EDDY__R_HEAD;
    k->got = k->keep = k->wire_done = 0;
    k->req_queued = 0;
    k->req_complete = 0;
    k->chunked = f->opt.body_producer != NULL && f->opt.body_length == 0;
    k->drain_armed = k->wrote = k->producing = 0;
    eddy__fetch_touch(f);
    k->heads_out++;
    err = eddy_stream_write_ref(k->s, f->head, f->head_len, on_head_sent, k);
    if (err == 0) {
        count_out(k, f->head_len);
        k->refs_out++;
    }
    if (!f->has_body || (f->opt.body_producer == NULL && f->body_len == 0)) {
        k->body_state = EDDY__B_NONE;
        k->req_complete = 1;
    } else if (f->opt.body_producer != NULL || eddy__request_expects(f)) {
        k->body_state = EDDY__B_WAIT;
    } else if (err == 0) {
        send_body(k);
    }
    if (err != 0)
        eddy__fetch_fail_later(f, err == -EPIPE ? -ECONNRESET : err);
    eddy__hconn_read(k);
}

/* --- the response: the body ---------------------------------------------- */

static int gz_pending(const eddy_http_fetch *f)
{
    return f->gzip && (f->gzin_len > 0 || eddy__gunzip_pending(f->gz));
}

static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n,
                  size_t extra)
{
    if (*len + n + extra > *cap) {
        size_t want = *cap ? *cap : FIRST_BODY;
        char *b;

        while (want < *len + n + extra)
            want *= 2;
        if ((b = realloc(*buf, want)) == NULL)
            return -ENOMEM;
        *buf = b;
        *cap = want;
    }
    if (n > 0)
        memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* Hands n bytes of body to the fetch: GO_ON, PAUSED, or GONE (the fetch
 * ended: failed, or cancelled by on_chunk). */
static int emit(eddy__hconn *k, eddy_http_fetch *f, const char *d, size_t n)
{
    if (n > f->max_body - f->received) {
        conn_fail(k, EDDY_HTTP_EBODYSIZE, NULL);
        return GONE;
    }
    f->received += n;
    if (f->mode == EDDY__M_WHOLE) {
        if (append(&f->rbody, &f->rbody_len, &f->rbody_cap, d, n, 1) != 0) {
            conn_fail(k, -ENOMEM, NULL);
            return GONE;
        }
        return GO_ON;
    }
    eddy__fetch_hold(f);
    f->opt.on_chunk(f, d, n, f->arg);
    if (!eddy__fetch_release(f) || k->f != f || k->state != EDDY__C_BUSY)
        return GONE;
    return f->paused ? PAUSED : GO_ON;
}

static int inflated(void *arg, const char *d, size_t n)
{
    eddy__hconn *k = arg;

    return emit(k, k->f, d, n);
}

/* Inflates p[0, n) (after what a pause left); 0, or -1 when the fetch is
 * gone. */
static int inflate_some(eddy__hconn *k, eddy_http_fetch *f, const char *p,
                        size_t n)
{
    size_t used = 0;
    int r = 0;

    if (gz_pending(f)) {
        r = eddy__gunzip_feed(&f->gz, f->gzin != NULL ? f->gzin : "",
                              f->gzin_len, f->max_body, inflated, k, &used);
        if (r == GONE)
            return -1;
        if (r >= 0 && used > 0) {
            memmove(f->gzin, f->gzin + used, f->gzin_len - used);
            f->gzin_len -= used;
        }
        if (r == PAUSED)
            used = 0; /* all of p waits */
    }
    if (r == 0 && n > 0) {
        r = eddy__gunzip_feed(&f->gz, p, n, f->max_body, inflated, k, &used);
        if (r == GONE)
            return -1;
    }
    if (r < 0) {
        conn_fail(k, r, r == EDDY_HTTP_EDECODE ? "the body is not gzip" : NULL);
        return -1;
    }
    if (used < n &&
        append(&f->gzin, &f->gzin_len, &f->gzin_cap, p + used, n - used, 0)) {
        conn_fail(k, -ENOMEM, NULL);
        return -1;
    }
    return 0;
}

/* A piece of the body as framed: 0, or -1 when the fetch is gone. */
static int deliver(eddy__hconn *k, eddy_http_fetch *f, const char *d, size_t n)
{
    if (f->mode == EDDY__M_DISCARD) {
        if (n > f->max_body - f->received) {
            conn_fail(k, EDDY_HTTP_EBODYSIZE, NULL);
            return -1;
        }
        f->received += n;
        return 0;
    }
    if (f->gzip)
        return inflate_some(k, f, d, n);
    return n > 0 && emit(k, f, d, n) == GONE ? -1 : 0;
}

/* Takes body bytes from p[0, n): how many, or -1 when the fetch is gone
 * (the connection closed). */
static long body_step(eddy__hconn *k, const char *p, size_t n)
{
    eddy_http_fetch *f = k->f;
    const char *d = p;
    size_t dlen = 0, take = 0;
    long r;

    switch (k->rstate) {
    case EDDY__R_LENGTH:
        take = dlen = n < k->remaining ? n : (size_t)k->remaining;
        k->remaining -= take;
        k->wire_done = k->remaining == 0;
        break;
    case EDDY__R_CHUNKED:
        if (n == 0)
            break;
        if ((r = eddy__chunked_feed(&k->ck, p, n, &d, &dlen)) < 0) {
            conn_fail(k, EDDY_HTTP_EMALFORMED, k->ck.error);
            return -1;
        }
        take = (size_t)r;
        k->wire_done = eddy__chunked_done(&k->ck);
        break;
    default: /* until the close */
        take = dlen = n;
    }
    if (deliver(k, f, d, dlen) != 0)
        return -1;
    if (k->wire_done && !gz_pending(f) && k->f == f)
        k->rstate = EDDY__R_DONE;
    return (long)take;
}

/* --- the response: the head ---------------------------------------------- */

static int name_is(const eddy_http_header *h, const char *lower, size_t n)
{
    return h->name_len == n && eddy__http_ieq(h->name, lower, n);
}

/* Copies the head (fields and bytes) into the fetch, as the response the
 * callbacks see. */
static int keep_head(eddy_http_fetch *f, const eddy__http_head *h,
                     const char *base, size_t len)
{
    size_t fields = h->nheaders * sizeof(eddy_http_header);
    char *b = malloc(fields + len), *copy = b + fields;
    eddy_http_header *hd = (eddy_http_header *)(void *)b;

    if (b == NULL)
        return -ENOMEM;
    memcpy(copy, base, len);
    f->location = -1;
    for (size_t i = 0; i < h->nheaders; i++) {
        hd[i] = h->headers[i];
        hd[i].name = copy + (h->headers[i].name - base);
        hd[i].value = copy + (h->headers[i].value - base);
        if (f->location < 0 && name_is(&hd[i], "location", 8))
            f->location = (int)i;
        if (name_is(&hd[i], "content-encoding", 16) &&
            ((hd[i].value_len == 4 && eddy__http_ieq(hd[i].value, "gzip", 4)) ||
             (hd[i].value_len == 6 &&
              eddy__http_ieq(hd[i].value, "x-gzip", 6))))
            f->gzip = 1;
    }
    free(f->rhead);
    f->rhead = b;
    f->resp.status = h->status;
    f->resp.version = h->version;
    f->resp.reason.p = copy + (h->reason.p - base);
    f->resp.reason.len = h->reason.len;
    f->resp.headers = hd;
    f->resp.nheaders = h->nheaders;
    return 0;
}

static int redirect(const eddy_http_fetch *f, int status)
{
    return !(f->opt.flags & EDDY_FETCH_NO_REDIRECTS) && f->location >= 0 &&
           (status == 301 || status == 302 || status == 303 || status == 307 ||
            status == 308);
}

/* A final status came before the body went: a chunked one ends at once
 * (empty), one with a length cannot, and the connection closes after. */
static void refuse_body(eddy__hconn *k)
{
    if (k->continue_timer != 0)
        eddy_loop_remove_timeout(k->c->loop, k->continue_timer);
    k->continue_timer = 0;
    if (k->chunked &&
        eddy_stream_write(k->s, "0\r\n\r\n", 5, NULL, NULL) == 0) {
        count_out(k, 5);
        k->req_complete = 1;
    }
    k->body_state = EDDY__B_REFUSED;
}

/* Sets up the body of a final response; 0, or -1 when the fetch failed. */
static int framing(eddy__hconn *k, eddy_http_fetch *f, const eddy__http_head *h)
{
    int status = h->status;
    int nobody =
        strcmp(f->method, "HEAD") == 0 || status == 204 || status == 304;

    f->mode = redirect(f, status)       ? EDDY__M_DISCARD
              : f->opt.on_chunk != NULL ? EDDY__M_STREAM
                                        : EDDY__M_WHOLE;
    f->gzip = f->gzip && (f->opt.flags & EDDY_FETCH_GZIP) &&
              f->mode != EDDY__M_DISCARD && !nobody;
    if (nobody) {
        k->rstate = EDDY__R_DONE;
    } else if (h->chunked) {
        memset(&k->ck, 0, sizeof k->ck);
        k->rstate = EDDY__R_CHUNKED;
    } else if (h->has_length) {
        if (h->content_length > f->max_body) {
            conn_fail(k, EDDY_HTTP_EBODYSIZE,
                      "a Content-Length larger than max_body_size");
            return -1;
        }
        k->remaining = h->content_length;
        k->rstate = k->remaining > 0 ? EDDY__R_LENGTH : EDDY__R_DONE;
        if (f->mode == EDDY__M_WHOLE && !f->gzip && k->remaining > 0 &&
            append(&f->rbody, &f->rbody_len, &f->rbody_cap, NULL, 0,
                   (size_t)k->remaining + 1) != 0) {
            conn_fail(k, -ENOMEM, NULL);
            return -1;
        }
    } else {
        k->rstate = EDDY__R_CLOSE;
    }
    k->keep = k->rstate != EDDY__R_CLOSE &&
              !(f->opt.flags & EDDY_FETCH_CLOSE) &&
              !(h->connection & EDDY__CONN_CLOSE) &&
              (h->version == 11 || (h->connection & EDDY__CONN_KEEP_ALIVE));
    if (k->body_state != EDDY__B_NONE)
        refuse_body(k);
    return 0;
}

/* The fetch is over with an upgrade: the stream is the callee's. */
static void upgrade(eddy__hconn *k, eddy_http_fetch *f, const char *rest,
                    size_t n)
{
    eddy_http_client *c = k->c;
    eddy_stream *s = k->s;

    eddy__pool_forget(k);
    eddy__list_unlink(&k->link);
    stop_timers(k, c->loop);
    k->state = EDDY__C_UPGRADED; /* on_read frees k */
    k->s = NULL;
    k->f = NULL;
    f->conn = NULL;
    eddy_stream_set_close_callback(s, NULL, NULL);
    eddy__fetch_upgraded(f, s, rest, n);
    eddy__pool_dispatch(c);
}

/* A head, whole, in base[0, len); rest[0, n) follows it.  0, or -1 when
 * processing stops (the fetch failed or is gone, or was upgraded). */
static int on_head(eddy__hconn *k, eddy_http_fetch *f, const eddy__http_head *h,
                   const char *base, size_t len, const char *rest, size_t n)
{
    memset(&k->ps, 0, sizeof k->ps); /* for a head after a 1xx */
    k->ps.max_head = k->c->opt.max_header_size;
    if (h->status == 101) {
        if (f->opt.on_upgrade == NULL) {
            conn_fail(k, EDDY_HTTP_EMALFORMED,
                      "101 Switching Protocols, and no upgrade was asked for");
            return -1;
        }
        if (keep_head(f, h, base, len) != 0) {
            conn_fail(k, -ENOMEM, NULL);
            return -1;
        }
        upgrade(k, f, rest, n);
        return -1;
    }
    if (h->status < 200) {
        if (h->status == 100 && k->body_state == EDDY__B_CONTINUE) {
            eddy_loop_remove_timeout(k->c->loop, k->continue_timer);
            k->continue_timer = 0;
            send_body(k);
            if (k->f != f || k->state != EDDY__C_BUSY)
                return -1;
        }
        return 0;
    }
    if (keep_head(f, h, base, len) != 0) {
        conn_fail(k, -ENOMEM, NULL);
        return -1;
    }
    if (framing(k, f, h) != 0)
        return -1;
    if (f->mode == EDDY__M_STREAM && f->opt.on_headers != NULL) {
        eddy__fetch_hold(f);
        f->opt.on_headers(f, &f->resp, f->arg);
        if (!eddy__fetch_release(f) || k->f != f || k->state != EDDY__C_BUSY)
            return -1;
    }
    return 0;
}

/* Parses a head from p[0, n): its length once it is whole (handled), 0
 * while it is not, -1 when processing stops. */
static long head_step(eddy__hconn *k, const char *p, size_t n)
{
    eddy_http_client *c = k->c;
    eddy__http_head *h = &c->head;
    const char *base = p;
    char *tmp = NULL;
    int r, err;

    h->headers = c->slots;
    h->max_headers = c->opt.max_headers;
    if (n > 0)
        k->got = 1;
    r = eddy__http_parse_response(&k->ps, p, n, h);
    if (r == EDDY__HTTP_FOLDED) { /* RFC 9112 5.2: SP for each obs-fold */
        if ((tmp = malloc(n)) == NULL) {
            conn_fail(k, -ENOMEM, NULL);
            return -1;
        }
        memcpy(tmp, p, n);
        eddy__http_unfold(tmp, n);
        memset(&k->ps, 0, sizeof k->ps);
        k->ps.max_head = c->opt.max_header_size;
        r = eddy__http_parse_response(&k->ps, tmp, n, h);
        base = tmp;
        if (r == 0 || r == EDDY__HTTP_FOLDED) /* cannot be: it was whole */
            r = -400;
    }
    if (r == 0)
        return 0;
    if (r < 0) {
        err = r != -431                                ? EDDY_HTTP_EMALFORMED
              : h->error == eddy__http_too_many_fields ? EDDY_HTTP_EHEADERS
                                                       : EDDY_HTTP_EHEADSIZE;
        free(tmp);
        conn_fail(k, err, h->error);
        return -1;
    }
    err = on_head(k, k->f, h, base, (size_t)r, p + r, n - (size_t)r);
    free(tmp);
    return err != 0 ? -1 : r;
}

/* --- the response: the end ----------------------------------------------- */

/* The response is whole: the connection stays or closes, then the fetch
 * goes on (a redirect) or ends.  extra: bytes came after it. */
static void done(eddy__hconn *k, int extra)
{
    eddy_http_fetch *f = k->f;
    /* Kept: nothing of the fetch's own memory still queued to send (the
     * head and a body are queued without a copy), the request whole. */
    int keep = k->keep && k->req_complete && !extra && k->refs_out == 0 &&
               eddy_stream_read_buffered(k->s) <= k->piece;

    if (f->gzip && f->gz != NULL && eddy__gunzip_end(f->gz) != 0) {
        conn_fail(k, EDDY_HTTP_EDECODE, "the gzip body ends in the middle");
        return;
    }
    k->f = NULL;
    f->conn = NULL;
    if (keep)
        eddy__pool_release(k);
    else
        eddy__hconn_close(k);
    eddy__fetch_complete(f);
}

/* Takes what it can of p[0, n): the bytes used.  Stops at a head not
 * whole yet, a pause, or the end (which closes the connection when bytes
 * follow it). */
static size_t process(eddy__hconn *k, const char *p, size_t n)
{
    size_t used = 0;
    long r;

    while (k->state == EDDY__C_BUSY && !k->f->paused) {
        if (k->rstate == EDDY__R_DONE) {
            done(k, used < n);
            return n;
        }
        if (used == n && (k->rstate == EDDY__R_HEAD || !gz_pending(k->f)))
            return used;
        r = k->rstate == EDDY__R_HEAD ? head_step(k, p + used, n - used)
                                      : body_step(k, p + used, n - used);
        if (r < 0)
            return n;
        if (r == 0 && k->rstate == EDDY__R_HEAD)
            return used;
        used += (size_t)r;
    }
    return used;
}

static int acc_add(eddy__hconn *k, const char *p, size_t n)
{
    return append(&k->acc, &k->acc_len, &k->acc_cap, p, n, 0);
}

/* Processes what the accumulator holds. */
static void run_acc(eddy__hconn *k)
{
    /* (NULL + 0 is undefined: an empty accumulator is "") */
    size_t used = process(k, k->acc != NULL ? k->acc : "", k->acc_len);

    if (used >= k->acc_len || k->state != EDDY__C_BUSY) {
        free(k->acc);
        k->acc = NULL;
        k->acc_len = k->acc_cap = 0;
        return;
    }
    memmove(k->acc, k->acc + used, k->acc_len - used);
    k->acc_len -= used;
}

static void feed(eddy__hconn *k, const char *data, size_t len)
{
    size_t used;

    if (k->state == EDDY__C_IDLE) { /* bytes no request asked for */
        eddy__hconn_close(k);
        return;
    }
    if (k->state != EDDY__C_BUSY)
        return;
    if (k->acc_len > 0 || k->f->paused) {
        if (acc_add(k, data, len) != 0)
            conn_fail(k, -ENOMEM, NULL);
        else
            run_acc(k);
        return;
    }
    used = process(k, data, len);
    if (k->state == EDDY__C_BUSY && used < len &&
        acc_add(k, data + used, len - used) != 0)
        conn_fail(k, -ENOMEM, NULL);
}

/* The stream ended (EDDY_EOF) or failed while k was in the pool or
 * carrying a request. */
static void lost(eddy__hconn *k, int err)
{
    eddy_http_fetch *f = k->f;

    if (k->state == EDDY__C_IDLE) {
        eddy__hconn_close(k);
        return;
    }
    if (k->state != EDDY__C_BUSY)
        return;
    if (k->rstate == EDDY__R_CLOSE && err == EDDY_EOF && !gz_pending(f)) {
        k->keep = 0; /* the end of a body framed by the close */
        k->rstate = EDDY__R_DONE;
        done(k, 0);
        return;
    }
    if (!k->got && k->requests > 1 && !f->retried &&
        eddy__method_idempotent(f->method) &&
        eddy_stream_write_buffered(k->s) >= k->req_queued) {
        k->f = NULL; /* a stale pooled connection: nothing of it went out */
        f->conn = NULL;
        eddy__hconn_close(k);
        eddy__fetch_retry(f);
        return;
    }
    if (err == EDDY_EOF)
        err = k->got ? EDDY_HTTP_ETRUNCATED : EDDY_HTTP_ENORESPONSE;
    conn_fail(k, err, NULL);
}

static void on_read(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    (void)s;
    if (c == NULL)
        return; /* the client is gone: on_close frees k */
    eddy__client_enter(c);
    if (len > 0) {
        c->stats.bytes_in += len;
        if (k->f != NULL)
            eddy__fetch_touch(k->f);
        k->piece = len;
        feed(k, data, len);
        k->piece = 0;
    }
    if (status < 0 && (k->state == EDDY__C_BUSY || k->state == EDDY__C_IDLE))
        lost(k, status);
    if (k->state == EDDY__C_UPGRADED)
        eddy__hconn_free(k);
    else if (k->state == EDDY__C_BUSY || k->state == EDDY__C_IDLE)
        eddy__hconn_read(k);
    eddy__client_leave(c);
}

static void on_close(eddy_stream *s, int status, void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    (void)s;
    if (c != NULL) {
        eddy__client_enter(c);
        if (k->state == EDDY__C_BUSY || k->state == EDDY__C_IDLE)
            lost(k, status != 0 ? status : EDDY_EOF);
        eddy__list_unlink(&k->link);
        if (k->c != NULL)
            stop_timers(k, c->loop);
        eddy__client_leave(c);
    }
    eddy__hconn_free(k);
}

/* --- pausing ------------------------------------------------------------- */

static void on_resume(eddy_loop *loop, void *arg)
{
    eddy__hconn *k = arg;
    eddy_http_client *c = k->c;

    (void)loop;
    k->resume_timer = 0;
    eddy__client_enter(c);
    if (k->state == EDDY__C_BUSY && !k->f->paused)
        run_acc(k);
    if (k->state == EDDY__C_BUSY || k->state == EDDY__C_IDLE)
        eddy__hconn_read(k);
    eddy__client_leave(c);
}

void eddy__hconn_pause(eddy__hconn *k)
{
    eddy_stream_pause_reading(k->s);
}

void eddy__hconn_resume(eddy__hconn *k)
{
    eddy__fetch_touch(k->f);
    if (k->resume_timer == 0)
        eddy_loop_call_later(k->c->loop, 0, on_resume, k, &k->resume_timer);
}
