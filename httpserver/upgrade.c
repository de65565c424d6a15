/*
 * httpserver/upgrade.c - switching protocols (RFC 9110 7.8): a handler
 * answers 101 and takes the connection's stream, with the bytes the
 * server already read past the request's head, for a protocol on top
 * (WebSocket, say) to go on with.
 *
 * The server checks what is HTTP's to check: the request is HTTP/1.1 and
 * asks for an upgrade (Upgrade, and "upgrade" among Connection's tokens),
 * its body was read whole (bytes after it are the new protocol's), and
 * the answer names the protocol (Upgrade).  Which protocols, and their
 * own handshakes, are the layer's on top.
 *
 * The stream is handed over from the connection's own run, never inside
 * eddy_http_upgrade(): after the handler returns, or from a loop callback
 * when the handler answered later.
 *
 * This file must never hand a stream over twice, nor hand one over whose
 * connection the server still counts.
 */
#include "http_internal.h"

#include <errno.h>
#include <string.h>

/* Whether the comma-separated list v holds token (lowercase), any case. */
static int has_token(eddy_str v, const char *token)
{
    size_t n = strlen(token);
    const char *p = v.p, *end = v.p + v.len;

    while (p < end) {
        const char *e = memchr(p, ',', (size_t)(end - p)), *s = p;

        e = e != NULL ? e : end;
        p = e + 1;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == n && eddy__http_ieq(s, token, n))
            return 1;
    }
    return 0;
}

/* Whether the request asks to switch: HTTP/1.1, a non-empty Upgrade, and
 * "upgrade" in a Connection field (RFC 9110 7.6.1, 7.8). */
static int asks_upgrade(const eddy_http_request *req)
{
    int upgrade = 0, connection = 0;

    if (req->head.version != 11)
        return 0;
    for (size_t i = 0; i < req->head.nheaders; i++) {
        const eddy_http_header *h = &req->headers[i];
        eddy_str v = {h->value, h->value_len};

        if (h->name_len == 7 && eddy__http_ieq(h->name, "upgrade", 7))
            upgrade |= v.len > 0;
        else if (h->name_len == 10 && eddy__http_ieq(h->name, "connection", 10))
            connection |= has_token(v, "upgrade");
    }
    return upgrade && connection;
}

/* The client is gone: the request is finished as aborted (-EPIPE). */
static int upgrade_lost(eddy_http_request *req)
{
    req->started = 1;
    req->status = 101;
    return eddy_http_finish(req);
}

int eddy_http_upgrade(eddy_http_request *req, const eddy_http_header *headers,
                      size_t nheaders, eddy_http_upgrade_cb cb, void *arg)
{
    struct eddy__conn *c = req->conn;

    if (cb == NULL)
        return -EINVAL;
    if (req->started)
        return -EALREADY;
    if (eddy__check_switching(headers, nheaders) != 0)
        return -EINVAL;
    if (!asks_upgrade(req))
        return -EPROTO;
    if (!req->body_done || req->body_error)
        return -EBUSY;
    if (c == NULL || eddy_stream_closed(c->s))
        return upgrade_lost(req);
    if (req->srv->shutting_down)
        return -ESHUTDOWN;
    eddy__body_continue(req); /* RFC 9110 7.8: a 100 before the 101 */
    req->started = 1;
    if (eddy__respond_switching(req, headers, nheaders) != 0)
        return upgrade_lost(req);
    eddy__response_account(req);
    c->req = NULL;
    c->state = EDDY__UPGRADE;
    c->st.up.cb = cb;
    c->st.up.arg = arg;
    eddy__conn_set_deadline(c, 0);
    eddy__request_release(req);
    eddy__conn_schedule(c);
    return 0;
}
