/*
 * websocket/client.c - the client's opening handshake on the HTTP client:
 * eddy_ws_connect() sends the handshake's GET through
 * eddy_http_client_fetch() with an upgrade asked for, checks the 101
 * (handshake.c) when the fetch hands the stream over, and makes the
 * connection (conn.c) over it.
 *
 * A connect owns one allocation (its handle, the key, the subprotocols
 * offered) and, when no HTTP client was given, an HTTP client of its own;
 * both go when on_open() has returned, or at a cancel.
 *
 * This file must never run on_open() twice or inside eddy_ws_connect(),
 * nor hand a stream whose 101 failed a check to a connection.
 */
#include "ws_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXTRA 32 /* the caller's headers, beyond the handshake's five */

struct eddy_ws_connecting {
    eddy_http_client *own; /* made for this connect, freed with it */
    eddy_http_fetch *fetch;
    eddy_loop *loop;
    eddy_ws_options o;
    eddy_ws_callbacks cb;
    void *arg;
    int in_open; /* on_open() is running: a cancel does nothing */
    char key[EDDY_WS_KEY_LEN + 1];
    char **protocols; /* NULL-terminated, in this allocation */
};

static int is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

/* Whether o's headers and subprotocols may be sent. */
static int options_ok(const eddy_ws_connect_options *o)
{
    if (!eddy__ws_extra_ok(o->headers, o->nheaders, MAX_EXTRA))
        return 0;
    for (size_t i = 0; o->subprotocols != NULL && o->subprotocols[i]; i++)
        if (!is_token(o->subprotocols[i]))
            return 0;
    return eddy__ws_options_check(&o->ws) == 0;
}

/* ws://... as http://..., wss://... as https://..., into a new string.
 * -EPROTONOSUPPORT (another scheme), -EINVAL (a fragment), -ENOMEM. */
static int http_url(const char *url, char **out)
{
    size_t n = strlen(url);
    int tls = eddy__ws_ieq_prefix(url, n, "wss://");
    char *u;

    if (!tls && !eddy__ws_ieq_prefix(url, n, "ws://"))
        return strstr(url, "://") != NULL ? -EPROTONOSUPPORT : -EINVAL;
    if (strchr(url, '#') != NULL)
        return -EINVAL; /* RFC 6455 3: no fragment */
    if ((u = malloc(n + 3)) == NULL)
        return -ENOMEM;
    snprintf(u, n + 3, "%s%s", tls ? "https" : "http", url + (tls ? 3 : 2));
    *out = u;
    return 0;
}

/* The handle, with a copy of the subprotocols offered after it. */
static eddy_ws_connecting *make(const eddy_ws_connect_options *o)
{
    size_t n = 0, bytes = 0;
    eddy_ws_connecting *c;
    char *at;

    for (; o->subprotocols != NULL && o->subprotocols[n] != NULL; n++)
        bytes += strlen(o->subprotocols[n]) + 1;
    c = calloc(1, sizeof *c + (n + 1) * sizeof(char *) + bytes);
    if (c == NULL)
        return NULL;
    c->protocols = (char **)(void *)(c + 1);
    at = (char *)(c->protocols + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(o->subprotocols[i]) + 1;

        c->protocols[i] = memcpy(at, o->subprotocols[i], len);
        at += len;
    }
    c->o = o->ws;
    return c;
}

static void finish(eddy_ws_connecting *c)
{
    if (c->own != NULL)
        eddy_http_client_free(c->own);
    free(c);
}

/* Tells the program once, then the connect is over. */
static void opened(eddy_ws_connecting *c, eddy_ws *ws, int status,
                   const eddy_http_response *resp)
{
    if (status < 0)
        eddy_loop_log(c->loop, EDDY_LOG_INFO, "WebSocket connect failed: %s",
                      eddy_strerror(status));
    c->in_open = 1;
    c->cb.on_open(ws, status, resp, c->arg);
    finish(c);
}

/* The 101: checked, then the connection made over s. */
static void on_upgrade(eddy_http_fetch *f, const eddy_http_response *resp,
                       eddy_stream *s, const char *extra, size_t len, void *arg)
{
    eddy_ws_connecting *c = arg;
    eddy__ws_pmd agreed;
    eddy_ws *ws = NULL;
    int protocol, pmd, err;

    (void)f;
    c->fetch = NULL;
    err = eddy__ws_check_response(resp->status, resp->headers, resp->nheaders,
                                  c->key, (const char *const *)c->protocols,
                                  &c->o.deflate, &protocol, &pmd, &agreed);
    if (err == 0)
        err = eddy__ws_conn_new(s, EDDY_WS_CLIENT, extra, len,
                                pmd ? &agreed : NULL,
                                protocol >= 0 ? c->protocols[protocol] : NULL,
                                &c->o, &c->cb, c->arg, &ws);
    if (err < 0)
        eddy_stream_close(s);
    opened(c, ws, err, resp);
}

/* The fetch ended without an upgrade: another status, or an error. */
static void on_response(eddy_http_fetch *f, int status,
                        const eddy_http_response *resp, void *arg)
{
    eddy_ws_connecting *c = arg;

    (void)f;
    c->fetch = NULL;
    opened(c, NULL, status == 0 ? EDDY_WS_ESTATUS : status, resp);
}

/* The handshake's headers, then the caller's, into h; their count. */
static size_t headers(const eddy_ws_connect_options *o,
                      const eddy_ws_connecting *c, char *protos, size_t cap,
                      char *offer, size_t ocap, eddy_http_header *h)
{
    size_t n = 0, len = 0;
    int olen;

    h[n++] = (eddy_http_header)EDDY_HEADER("Upgrade", "websocket");
    h[n++] =
        (eddy_http_header){"Sec-WebSocket-Key", 17, c->key, EDDY_WS_KEY_LEN};
    h[n++] = (eddy_http_header)EDDY_HEADER("Sec-WebSocket-Version", "13");
    for (size_t i = 0; c->protocols[i] != NULL && len < cap; i++)
        len += (size_t)snprintf(protos + len, cap - len, "%s%s",
                                i > 0 ? ", " : "", c->protocols[i]);
    if (len > 0)
        h[n++] = (eddy_http_header){"Sec-WebSocket-Protocol", 22, protos, len};
    if ((olen = eddy__ws_pmd_offer(&o->ws.deflate, offer, ocap)) > 0)
        h[n++] = (eddy_http_header){"Sec-WebSocket-Extensions", 24, offer,
                                    (size_t)olen};
    for (size_t i = 0; i < o->nheaders; i++)
        h[n++] = o->headers[i];
    return n;
}

/* Starts the fetch: 0, or its error. */
static int start(eddy_ws_connecting *c, eddy_http_client *client,
                 const char *url, const eddy_ws_connect_options *o)
{
    eddy_http_header h[5 + MAX_EXTRA];
    char offer[EDDY_WS_PMD_MAX_HEADER], *protos, *http;
    size_t plen = 1;
    eddy_http_fetch_options fo = {
        .flags = EDDY_FETCH_NO_REDIRECTS,
        .connect_timeout_ms = o->connect_timeout_ms,
        .request_timeout_ms = o->handshake_timeout_ms,
        .on_upgrade = on_upgrade,
        .tls = o->tls,
    };
    int err;

    for (size_t i = 0; c->protocols[i] != NULL; i++)
        plen += strlen(c->protocols[i]) + 2;
    if ((err = http_url(url, &http)) < 0)
        return err;
    if ((protos = malloc(plen)) == NULL) {
        free(http);
        return -ENOMEM;
    }
    fo.headers = h;
    fo.nheaders = headers(o, c, protos, plen, offer, sizeof offer, h);
    err = eddy_http_client_fetch(client, http, &fo, on_response, c, &c->fetch);
    free(protos);
    free(http);
    return err;
}

int eddy_ws_connect(eddy_loop *loop, eddy_http_client *client, const char *url,
                    const eddy_ws_connect_options *opts,
                    const eddy_ws_callbacks *cb, void *arg,
                    eddy_ws_connecting **out)
{
    static const eddy_ws_connect_options none;
    const eddy_ws_connect_options *o = opts != NULL ? opts : &none;
    eddy_ws_connecting *c;
    int err;

    if (loop == NULL || url == NULL || cb == NULL || cb->on_open == NULL ||
        !options_ok(o))
        return -EINVAL;
    if ((c = make(o)) == NULL)
        return -ENOMEM;
    c->loop = loop;
    c->cb = *cb;
    c->arg = arg;
    err = eddy__ws_client_key(c->key);
    if (err == 0 && client == NULL)
        err = eddy_http_client_new(loop, NULL, &c->own);
    if (err == 0)
        err = start(c, client != NULL ? client : c->own, url, o);
    if (err < 0) {
        finish(c);
        return err;
    }
    if (out != NULL)
        *out = c;
    return 0;
}

void eddy_ws_connect_cancel(eddy_ws_connecting *c)
{
    if (c == NULL || c->in_open)
        return;
    if (c->fetch != NULL)
        eddy_http_fetch_cancel(c->fetch);
    finish(c);
}
