/*
 * httpserver/request.c - the request object (Tornado's
 * HTTPServerRequest): made from a parsed head, its target split into path
 * and query, xheaders applied, the client's address; its own copy of the
 * head once it outlives the read it arrived in; its life until finished,
 * also after its client or its server went away; and the accessors of
 * httpserver.h's request section.
 *
 * A request points into the bytes its head arrived in until it must
 * outlive them; only then is the head copied (eddy__request_own_head).
 *
 * This file must never write to the connection: answering is
 * response.c's, reading http1.c's and body.c's.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Splits the target into path and query.  The path of an absolute-form
 * target ("http://host/a?b", which RFC 9112 3.2.2 says a server must
 * accept) follows the authority; when it is empty it is "/", the second
 * slash of "://", so that it too points into the head. */
static void split_target(eddy_http_request *req, eddy_str t)
{
    const char *p = t.p, *end = t.p + t.len, *q, *scheme_end = NULL;
    size_t i = 0;

    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), in ASCII
     * whatever the locale */
    while (i < t.len &&
           (((t.p[i] | 0x20) >= 'a' && (t.p[i] | 0x20) <= 'z') ||
            (i > 0 && ((t.p[i] >= '0' && t.p[i] <= '9') || t.p[i] == '+' ||
                       t.p[i] == '-' || t.p[i] == '.'))))
        i++;
    if (i > 0 && t.len - i >= 3 && memcmp(t.p + i, "://", 3) == 0) {
        scheme_end = t.p + i;
        for (p = scheme_end + 3; p < end && *p != '/' && *p != '?'; p++)
            ;
    }
    q = memchr(p, '?', (size_t)(end - p));
    req->path.p = p;
    req->path.len = (size_t)((q ? q : end) - p);
    if (req->path.len == 0 && scheme_end != NULL) {
        req->path.p = scheme_end + 2;
        req->path.len = 1;
    }
    req->query.p = q ? q + 1 : end;
    req->query.len = q ? (size_t)(end - q - 1) : 0;
}

const char *eddy__peer_text(const struct sockaddr_storage *ss, char *buf,
                            size_t n)
{
    buf[0] = '\0';
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf,
                  (socklen_t)n);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
                  (socklen_t)n);
    return buf;
}

const char *eddy__request_ip(eddy_http_request *req)
{
    if (req->ip[0] != '\0' || req->conn == NULL)
        return req->ip;
    return eddy__peer_text(&req->conn->peer, req->ip, sizeof req->ip);
}

/* Whether a and b are equal but for ASCII case.  eddy__http_ieq() would
 * do only for a lowercase b: a caller's name may be any case. */
static int same_name(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z')
            x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z')
            y += 'a' - 'A';
        if (x != y)
            return 0;
    }
    return 1;
}

int eddy__request_header(const eddy_http_request *req, const char *name,
                         eddy_str *v)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < req->head.nheaders; i++) {
        const eddy_http_header *h = &req->headers[i];

        if (h->name_len == n && same_name(h->name, name, n)) {
            v->p = h->value;
            v->len = h->value_len;
            return 0;
        }
    }
    return -ENOENT;
}

static int is_trusted(const eddy_http_server *srv, const char *p, size_t n)
{
    for (const char *const *t = srv->opt.trusted_downstream; t && *t; t++)
        if (strlen(*t) == n && memcmp(*t, p, n) == 0)
            return 1;
    return 0;
}

/* The last element of a comma-separated value, SP/HTAB trimmed, skipping
 * trusted proxies when skip is set. */
static eddy_str last_item(const eddy_http_server *srv, eddy_str v, int skip)
{
    const char *end = v.p + v.len;

    while (end > v.p) {
        const char *s = end, *e = end;

        while (s > v.p && s[-1] != ',')
            s--;
        end = s > v.p ? s - 1 : v.p;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (!skip || !is_trusted(srv, s, (size_t)(e - s)))
            return (eddy_str){s, (size_t)(e - s)};
    }
    return (eddy_str){NULL, 0};
}

/* xheaders: the client's address and scheme as a proxy in front saw them
 * (X-Real-Ip wins over X-Forwarded-For; only a valid IP is taken). */
static void apply_xheaders(eddy_http_request *req)
{
    eddy_str v, ip = {NULL, 0};
    char buf[INET6_ADDRSTRLEN];
    unsigned char bin[sizeof(struct in6_addr)];

    if (eddy__request_header(req, "x-forwarded-for", &v) == 0)
        ip = last_item(req->srv, v, 1);
    if (eddy__request_header(req, "x-real-ip", &v) == 0)
        ip = v;
    if (ip.p != NULL && ip.len < sizeof buf) {
        memcpy(buf, ip.p, ip.len);
        buf[ip.len] = '\0';
        if (inet_pton(AF_INET, buf, bin) == 1 ||
            inet_pton(AF_INET6, buf, bin) == 1)
            memcpy(req->ip, buf, ip.len + 1);
    }
    if (eddy__request_header(req, "x-scheme", &v) == 0 ||
        eddy__request_header(req, "x-forwarded-proto", &v) == 0) {
        v = last_item(req->srv, v, 0);
        if (v.len == 4 && memcmp(v.p, "http", 4) == 0)
            req->scheme = "http";
        else if (v.len == 5 && memcmp(v.p, "https", 5) == 0)
            req->scheme = "https";
    }
}

/* The request and, after its headers, the room for its route's
 * parameters, its decoded path (never longer than the raw one) and the
 * parameters' names: one allocation (router.c fills them in). */
eddy_http_request *eddy__request_new(struct eddy__conn *c, const char *base,
                                     size_t n)
{
    eddy_http_server *srv = c->srv;
    const eddy__http_head *h = &srv->head;
    size_t room = srv->max_params;
    eddy_http_request *req;

    req = calloc(1, sizeof *req + h->nheaders * sizeof req->headers[0] +
                        room * (sizeof(eddy__path_param) + EDDY__PARAM_NAME) +
                        h->target.len);
    if (req == NULL)
        return NULL;
    req->srv = srv;
    req->conn = c;
    req->head = *h;
    req->head.headers = req->headers;
    memcpy(req->headers, h->headers, h->nheaders * sizeof req->headers[0]);
    req->params = (eddy__path_param *)(req->headers + h->nheaders);
    req->params_room = room;
    req->base = base;
    req->head_len = n;
    req->start_ns = eddy__clock_ns();
    req->scheme = srv->opt.tls != NULL ? "https" : "http";
    req->out_len = -1;
    split_target(req, h->target);
    req->is_head = h->method.len == 4 && memcmp(h->method.p, "HEAD", 4) == 0;
    req->keep_alive = h->version == 11 ? !(h->connection & EDDY__CONN_CLOSE)
                                       : h->connection == EDDY__CONN_KEEP_ALIVE;
    if (srv->opt.xheaders)
        apply_xheaders(req);
    req->body_kind = h->chunked ? EDDY__BODY_CHUNKED
                     : h->has_length && h->content_length != 0
                         ? EDDY__BODY_LENGTH
                         : EDDY__BODY_NONE;
    req->body_left = h->content_length;
    req->body_done = req->body_kind == EDDY__BODY_NONE;
    return req;
}

static const char *rebase(const char *p, const char *from, const char *to)
{
    return p == NULL ? NULL : to + (p - from);
}

int eddy__request_own_head(eddy_http_request *req)
{
    const char *from = req->base;
    char *to = malloc(req->head_len ? req->head_len : 1);

    if (to == NULL)
        return -ENOMEM;
    memcpy(to, from, req->head_len);
    req->head.method.p = rebase(req->head.method.p, from, to);
    req->head.target.p = rebase(req->head.target.p, from, to);
    req->path.p = rebase(req->path.p, from, to);
    req->query.p = rebase(req->query.p, from, to);
    for (size_t i = 0; i < req->head.nheaders; i++) {
        req->headers[i].name = rebase(req->headers[i].name, from, to);
        req->headers[i].value = rebase(req->headers[i].value, from, to);
    }
    req->store = to;
    req->base = to;
    return 0;
}

void eddy__request_free(eddy_http_request *req)
{
    if (!req->orphan)
        eddy__route_cancel_deadline(req);
    eddy__args_free(req);
    eddy__gzip_free(req);
    free(req->extra);
    free(req->store);
    free(req->body);
    free(req);
}

void eddy__request_release(eddy_http_request *req)
{
    /* Answered by the server past its handler's deadline: the handler
     * still has it, and finishes it later (router.c). */
    if (req->held) {
        req->held = 0;
        req->conn = NULL;
        eddy__request_gone(req);
        return;
    }
    if (req->in_cb)
        req->finished = 1;
    else
        eddy__request_free(req);
}

void eddy__request_gone(eddy_http_request *req)
{
    eddy_http_server *srv = req->srv;

    eddy__route_cancel_deadline(req); /* on_close tells the handler */
    req->gone = 1;
    req->gone_prev = NULL;
    req->gone_next = srv->gone;
    if (srv->gone != NULL)
        srv->gone->gone_prev = req;
    srv->gone = req;
}

void eddy__request_not_gone(eddy_http_request *req)
{
    req->gone = 0;
    if (req->gone_prev != NULL)
        req->gone_prev->gone_next = req->gone_next;
    else
        req->srv->gone = req->gone_next;
    if (req->gone_next != NULL)
        req->gone_next->gone_prev = req->gone_prev;
}

eddy_http_request *eddy__request_orphan(eddy_http_request *req)
{
    eddy_http_request *next = req->gone_next;

    /* Nothing may reach the server from here on: the arguments it would
     * parse with its settings are parsed now, its route forgotten. */
    eddy__route_cancel_deadline(req);
    eddy__args_keep(req);
    req->route = NULL;
    req->orphan = 1;
    req->gone = 0;
    req->gone_prev = req->gone_next = NULL;
    return next;
}

/* --- the request API ---------------------------------------------------- */

eddy_str eddy_http_method(const eddy_http_request *req)
{
    return req->head.method;
}

eddy_str eddy_http_uri(const eddy_http_request *req)
{
    return req->head.target;
}

eddy_str eddy_http_path(const eddy_http_request *req)
{
    return req->path;
}

eddy_str eddy_http_query(const eddy_http_request *req)
{
    return req->query;
}

/* Every Cookie field, in order: HTTP/1.1 clients send one, but a proxy
 * from HTTP/2 may send several (RFC 9113 8.2.3). */
int eddy_http_cookie(const eddy_http_request *req, const char *name,
                     eddy_str *value)
{
    if (name == NULL || value == NULL)
        return -EINVAL;
    for (size_t i = 0; i < req->head.nheaders; i++) {
        const eddy_http_header *h = &req->headers[i];

        if (h->name_len == 6 && same_name(h->name, "cookie", 6) &&
            eddy_cookie_get(h->value, h->value_len, name, value) == 0)
            return 0;
    }
    return -ENOENT;
}

int eddy_http_version(const eddy_http_request *req)
{
    return req->head.version;
}

int eddy_http_header_get(const eddy_http_request *req, const char *name,
                         eddy_str *value)
{
    return name == NULL || value == NULL
               ? -EINVAL
               : eddy__request_header(req, name, value);
}

const eddy_http_header *eddy_http_headers(const eddy_http_request *req,
                                          size_t *n)
{
    *n = req->head.nheaders;
    return req->headers;
}

eddy_str eddy_http_body(const eddy_http_request *req)
{
    eddy_str b = {req->body ? req->body : "", req->body_cb ? 0 : req->body_len};

    return b;
}

const char *eddy_http_remote_ip(const eddy_http_request *req)
{
    return eddy__request_ip((eddy_http_request *)req);
}

const char *eddy_http_scheme(const eddy_http_request *req)
{
    return req->scheme;
}

eddy_http_server *eddy_http_request_server(const eddy_http_request *req)
{
    return req->srv;
}

eddy_loop *eddy_http_request_loop(const eddy_http_request *req)
{
    return req->srv->loop;
}

void eddy_http_set_data(eddy_http_request *req, void *data)
{
    req->data = data;
}

void *eddy_http_data(const eddy_http_request *req)
{
    return req->data;
}

void eddy_http_on_close(eddy_http_request *req, eddy_http_close_cb cb,
                        void *arg)
{
    req->on_close = cb;
    req->on_close_arg = arg;
}

int eddy_http_aborted(const eddy_http_request *req)
{
    return req->aborted;
}
