/*
 * httpserver/body.c - request bodies: their framing (Content-Length,
 * chunked), a whole body buffered for its handler within max_body_size,
 * a streamed one handed over in pieces (eddy_http_read_body), 100
 * Continue, and pausing and resuming a streamed body.
 *
 * Pausing stops the stream reading (TCP's window then stops the client)
 * and the body timeout: while paused, the server is the one waiting, not
 * the client.  Bytes already read stay in the connection's accumulator
 * and are handed over first on resume.
 *
 * This file must never hand a handler a byte past max_body_size, nor a
 * piece while its body is paused.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void eddy__body_continue(eddy_http_request *req)
{
    if (req->head.expect_continue && req->head.version == 11 &&
        req->conn != NULL && req->conn->acc_len == 0)
        eddy_stream_write(req->conn->s, "HTTP/1.1 100 Continue\r\n\r\n", 25,
                          NULL, NULL);
    req->head.expect_continue = 0;
}

/* Appends body bytes to the buffered body, within max_body_size. */
static int body_append(eddy_http_request *req, const char *p, size_t n)
{
    if (req->body_len + n > req->srv->opt.max_body_size)
        return -413;
    if (req->body_len + n > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        char *b;

        while (cap < req->body_len + n)
            cap *= 2;
        if (cap > req->srv->opt.max_body_size)
            cap = req->srv->opt.max_body_size;
        if ((b = realloc(req->body, cap)) == NULL)
            return -500;
        req->body = b;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, p, n);
    req->body_len += n;
    return 0;
}

static int body_deliver(eddy_http_request *req, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (req->body_cb == NULL)
        return body_append(req, p, n);
    if (req->body_len + n > req->srv->opt.max_body_size)
        return -413;
    req->body_len += n; /* counted, not kept */
    req->in_cb = 1;
    req->body_cb(req, 0, p, n, 0, req->body_arg);
    req->in_cb = 0;
    return 0;
}

/* Feeds chunked bytes until they run out, the body ends, or the handler
 * finished or paused it from a piece.  Returns the bytes used or
 * -status. */
static long chunked_feed(eddy_http_request *req, const char *p, size_t len)
{
    uint64_t max = req->srv->opt.max_body_size;
    size_t used = 0;
    int err = 0;

    while (used < len && !req->body_done && !req->finished && !req->paused &&
           err == 0) {
        const char *data;
        size_t dlen;
        long n = eddy__chunked_feed(&req->chunked, p + used, len - used, &data,
                                    &dlen);

        if (n < 0)
            return -400;
        used += (size_t)n;
        /* A chunk announced larger than the room left is refused at its
         * size line, as a Content-Length would be, not after its data;
         * but only once the line has ended, so that the answer does not
         * depend on where the bytes were split: a size that goes on to
         * overflow is a 400 however it arrives. */
        if (req->body_len + dlen > max ||
            (eddy__chunked_in_data(&req->chunked) &&
             req->chunked.size > max - req->body_len - dlen))
            return -413;
        req->body_done = eddy__chunked_done(&req->chunked);
        err = body_deliver(req, data, dlen);
    }
    return err != 0 ? err : (long)used;
}

long eddy__body_feed(eddy_http_request *req, const char *p, size_t len)
{
    long used;

    if (req->body_kind == EDDY__BODY_LENGTH) {
        size_t n = len < req->body_left ? len : (size_t)req->body_left;
        int err;

        req->body_left -= n;
        req->body_done = req->body_left == 0;
        err = body_deliver(req, p, n);
        used = err != 0 ? err : (long)n;
    } else {
        used = chunked_feed(req, p, len);
    }
    if (req->finished) /* from a piece's callback, which then ran: used */
        eddy__request_free(req);
    return used;
}

const char *eddy__body_rule(const eddy_http_request *req, long status)
{
    if (status == -413)
        return "body past max_body_size";
    if (status == -400)
        return req->chunked.error;
    return "out of memory for the body";
}

int eddy_http_read_body(eddy_http_request *req, eddy_http_body_cb cb, void *arg)
{
    struct eddy__conn *c = req->conn;

    if (cb == NULL)
        return -EINVAL;
    if (req->body_cb != NULL)
        return -EALREADY;
    if (c == NULL)
        return -EPIPE;
    req->body_cb = cb;
    req->body_arg = arg;
    if (req->body_error)
        return -EPROTO;
    eddy__body_continue(req);
    c->state = EDDY__BODY;
    eddy__conn_set_deadline(c, req->paused ? 0 : c->srv->opt.body_timeout_ms);
    eddy__conn_schedule(c);
    return 0;
}

/* What pause and resume check: a streamed body, a client still there. */
static int pausable(const eddy_http_request *req)
{
    if (req->route == NULL || !(req->route->flags & EDDY_ROUTE_STREAM))
        return -EINVAL;
    return req->conn == NULL ? -EPIPE : 0;
}

int eddy_http_pause_body(eddy_http_request *req)
{
    struct eddy__conn *c = req->conn;
    int err = pausable(req);

    if (err != 0 || req->paused || req->body_done)
        return err;
    req->paused = 1;
    eddy_stream_pause_reading(c->s);
    if (c->state == EDDY__BODY)
        eddy__conn_set_deadline(c, 0);
    return 0;
}

int eddy_http_resume_body(eddy_http_request *req)
{
    struct eddy__conn *c = req->conn;
    int err = pausable(req);

    if (err != 0 || !req->paused)
        return err;
    req->paused = 0;
    eddy_stream_resume_reading(c->s);
    if (c->state == EDDY__BODY) {
        eddy__conn_set_deadline(c, c->srv->opt.body_timeout_ms);
        eddy__conn_schedule(c);
    }
    return 0;
}
