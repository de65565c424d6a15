/*
 * websocket/server.c - the server's opening handshake on the HTTP server:
 * a handler's eddy_ws_accept() checks the request (handshake.c), answers
 * a refusal itself or queues the 101 through eddy_http_upgrade(), and
 * makes the connection (conn.c) when the HTTP server hands the stream
 * over; eddy_ws_route() is the same as a route.
 *
 * Between the 101 and the hand-over, what the connection will need (its
 * options, callbacks, the subprotocol and permessage-deflate agreed)
 * waits in one allocation, freed when the stream arrives or the
 * connection is lost.
 *
 * This file must never answer a request twice, nor leave a request it
 * returns an "answered" error for unanswered, nor call on_open() inside
 * eddy_ws_accept().
 */
#include "ws_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The extra headers of a 101 beyond eddy's four. */
#define MAX_EXTRA 32

/* A handshake answered with 101, waiting for its stream. */
typedef struct pending {
    eddy_ws_options o;
    eddy_ws_callbacks cb;
    void *arg;
    int deflate;
    eddy__ws_pmd agreed;
    char protocol[]; /* "" for none */
} pending;

/* The stream arrived (or the connection was lost): the connection is
 * made, and on_open() told either way. */
static void on_upgrade(eddy_stream *s, const char *leftover, size_t len,
                       void *arg)
{
    pending *p = arg;
    eddy_ws *ws = NULL;
    int err = -ECONNRESET;

    if (s != NULL) {
        err = eddy__ws_conn_new(s, EDDY_WS_SERVER, leftover, len,
                                p->deflate ? &p->agreed : NULL,
                                p->protocol[0] != '\0' ? p->protocol : NULL,
                                &p->o, &p->cb, p->arg, &ws);
        if (err < 0)
            eddy_stream_close(s);
    }
    if (p->cb.on_open != NULL)
        p->cb.on_open(err == 0 ? ws : NULL, err, NULL, p->arg);
    free(p);
}

/* Answers a refused handshake: 400, 403, or 426 with the version. */
static int refuse(eddy_http_request *req, const eddy__ws_verdict *v)
{
    eddy_http_header h[3] = {
        EDDY_HEADER("Content-Type", "text/plain; charset=utf-8"),
        EDDY_HEADER("Sec-WebSocket-Version", "13"),
        EDDY_HEADER("Upgrade", "websocket"),
    };
    char body[128];
    int len, err;

    eddy_loop_log(eddy_http_request_loop(req), EDDY_LOG_INFO,
                  "WebSocket handshake refused with %d: %s", v->status, v->why);
    len = snprintf(body, sizeof body, "WebSocket: %s\n", v->why);
    err = eddy_http_respond(req, v->status, h, v->status == 426 ? 3 : 1, body,
                            (size_t)len);
    if (err < 0)
        return err; /* -EPIPE: finished anyway */
    return v->status == 400   ? EDDY_WS_EREQUEST
           : v->status == 426 ? EDDY_WS_EVERSION
                              : EDDY_WS_EORIGIN;
}

static pending *make_pending(const eddy_ws_server_options *o,
                             const eddy_ws_callbacks *cb, void *arg,
                             const eddy__ws_verdict *v)
{
    const char *proto = v->protocol >= 0 ? o->subprotocols[v->protocol] : "";
    size_t plen = strlen(proto) + 1;
    pending *p = malloc(sizeof *p + plen);

    if (p == NULL)
        return NULL;
    p->o = o->ws;
    p->cb = cb != NULL ? *cb : (eddy_ws_callbacks){0};
    p->arg = arg;
    p->deflate = v->deflate;
    p->agreed = v->agreed;
    memcpy(p->protocol, proto, plen);
    return p;
}

int eddy_ws_accept(eddy_http_request *req, const eddy_ws_server_options *opts,
                   const eddy_ws_callbacks *cb, void *arg)
{
    static const eddy_ws_server_options none;
    const eddy_ws_server_options *o = opts != NULL ? opts : &none;
    eddy_http_header h[4 + MAX_EXTRA];
    const eddy_http_header *fields;
    eddy__ws_verdict v;
    size_t nfields, n = 0;
    pending *p;
    int err;

    if (req == NULL || eddy__ws_options_check(&o->ws) < 0 ||
        !eddy__ws_extra_ok(o->headers, o->nheaders, MAX_EXTRA))
        return -EINVAL;
    fields = eddy_http_headers(req, &nfields);
    eddy__ws_check_request(eddy_http_method(req), eddy_http_version(req),
                           fields, nfields, o, req, &v);
    if (v.status != 101)
        return refuse(req, &v);
    h[n++] = (eddy_http_header)EDDY_HEADER("Upgrade", "websocket");
    h[n++] = (eddy_http_header){"Sec-WebSocket-Accept", 20, v.accept,
                                EDDY_WS_ACCEPT_LEN};
    if (v.protocol >= 0)
        h[n++] = (eddy_http_header){"Sec-WebSocket-Protocol", 22,
                                    o->subprotocols[v.protocol],
                                    strlen(o->subprotocols[v.protocol])};
    if (v.deflate)
        h[n++] = (eddy_http_header){"Sec-WebSocket-Extensions", 24, v.ext,
                                    strlen(v.ext)};
    for (size_t i = 0; i < o->nheaders; i++)
        h[n++] = o->headers[i];
    if ((p = make_pending(o, cb, arg, &v)) == NULL)
        return -ENOMEM;
    if ((err = eddy_http_upgrade(req, h, n, on_upgrade, p)) < 0)
        free(p);
    return err;
}

/* eddy_ws_route()'s handler: the endpoint's accept, and an answer where
 * eddy_ws_accept() left the request to its caller. */
static void route_handler(eddy_http_request *req, void *arg)
{
    const eddy_ws_endpoint *ep = arg;
    int err = eddy_ws_accept(req, &ep->opts, &ep->cb, ep->arg);

    /* A route's body is read whole and nothing was started: the rest are
     * answered already. */
    if (err == -ESHUTDOWN || err == -ENOMEM || err == -EINVAL) {
        int status = err == -EINVAL ? 500 : 503;

        eddy_loop_log(eddy_http_request_loop(req), EDDY_LOG_ERROR,
                      "WebSocket handshake not taken: %s", eddy_strerror(err));
        eddy_http_respond(req, status, NULL, 0, NULL, 0);
    }
}

int eddy_ws_route(eddy_http_server *srv, const char *path,
                  const eddy_ws_endpoint *ep)
{
    if (ep == NULL)
        return -EINVAL;
    return eddy_http_server_route(srv, "GET", path, EDDY_ROUTE_EXACT,
                                  route_handler, (void *)(uintptr_t)ep);
}
