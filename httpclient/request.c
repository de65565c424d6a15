/*
 * httpclient/request.c - what a fetch sends: its options checked and
 * copied, the request head of each hop, and what a redirect keeps.
 *
 * A head is written once per hop into one allocation, in this order:
 * the request line, Host (the URL's, or the fetch's own while the origin
 * is the first one), User-Agent, Accept-Encoding (for EDDY_FETCH_GZIP),
 * the framing (Content-Length, or Transfer-Encoding: chunked), Expect,
 * Connection, then the fetch's headers as given.  The fetch may not send
 * the fields the client writes itself: two framings, or a Connection
 * the client does not know about, are how requests get smuggled.
 *
 * Redirects (RFC 9110 15.4): 303 makes any method but HEAD a GET without
 * a body, and so do 301 and 302 for POST, as browsers do; 307 and 308
 * keep method and body.  When the method becomes GET, the fields that
 * describe the body go (Content-Type, Content-Encoding, Content-Language,
 * Content-Location).  When the origin changes, so do the credentials
 * (Authorization, Cookie, Proxy-Authorization) and the fetch's Host.
 *
 * This file must never send a byte the fetch gave that could end a line,
 * and never a credential to an origin it was not meant for.
 */
#include "httpclient_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int name_is(const eddy_http_header *h, const char *lower)
{
    size_t n = strlen(lower);

    return h->name_len == n && eddy__http_ieq(h->name, lower, n);
}

static int is_token(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!eddy__http_is_token((unsigned char)p[i]))
            return 0;
    return n > 0;
}

/* A field value: visible characters, obs-text, SP and HTAB. */
static int is_value(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    return 1;
}

/* The fields the client writes itself. */
static int reserved(const eddy_http_header *h)
{
    return name_is(h, "content-length") || name_is(h, "transfer-encoding") ||
           name_is(h, "connection") || name_is(h, "expect");
}

static int find(const eddy_http_fetch *f, const char *lower)
{
    for (size_t i = 0; i < f->nheaders; i++)
        if (name_is(&f->headers[i], lower))
            return (int)i;
    return -1;
}

static int check(const eddy_http_fetch_options *o)
{
    const char *m = o->method != NULL ? o->method : "GET";
    int upgrade = 0;

    if (!is_token(m, strlen(m)) || strlen(m) > 32 || strcmp(m, "CONNECT") == 0)
        return -EINVAL;
    if (o->nheaders > 0 && o->headers == NULL)
        return -EINVAL;
    for (size_t i = 0; i < o->nheaders; i++) {
        const eddy_http_header *h = &o->headers[i];

        if (!is_token(h->name, h->name_len) || reserved(h) ||
            (h->value_len > 0 && h->value == NULL) ||
            !is_value(h->value, h->value_len))
            return -EINVAL;
        upgrade |= name_is(h, "upgrade");
    }
    if ((o->body != NULL && o->body_producer != NULL) ||
        (o->body == NULL && o->body_len > 0) ||
        (o->body_length > 0 && o->body_producer == NULL) ||
        (o->on_upgrade != NULL &&
         (o->on_chunk != NULL || !upgrade || o->body != NULL ||
          o->body_producer != NULL)))
        return -EINVAL;
    if ((o->flags & EDDY_FETCH_GZIP) && !eddy__gunzip_available())
        return -ENOTSUP;
    return 0;
}

int eddy__request_copy(eddy_http_fetch *f, const eddy_http_fetch_options *opts)
{
    static const eddy_http_fetch_options none;
    const eddy_http_fetch_options *o = opts != NULL ? opts : &none;
    const char *m = o->method != NULL ? o->method : "GET";
    size_t size = strlen(m) + 1 + o->body_len + 1, at;
    char *b;
    int err;

    if ((err = check(o)) != 0)
        return err;
    for (size_t i = 0; i < o->nheaders; i++)
        size += o->headers[i].name_len + o->headers[i].value_len + 2;
    size += o->nheaders * sizeof(eddy_http_header);
    if ((b = malloc(size)) == NULL)
        return -ENOMEM;
    /* The fields first: they are the ones with an alignment. */
    f->headers = (eddy_http_header *)(void *)b;
    at = o->nheaders * sizeof(eddy_http_header);
    for (size_t i = 0; i < o->nheaders; i++) {
        const eddy_http_header *h = &o->headers[i];
        eddy_http_header *d = &f->headers[i];

        d->name = b + at;
        memcpy(b + at, h->name, h->name_len);
        at += h->name_len;
        b[at++] = '\0';
        d->name_len = h->name_len;
        d->value = b + at;
        if (h->value_len > 0)
            memcpy(b + at, h->value, h->value_len);
        at += h->value_len;
        b[at++] = '\0';
        d->value_len = h->value_len;
    }
    f->nheaders = o->nheaders;
    f->method = b + at;
    memcpy(b + at, m, strlen(m) + 1);
    at += strlen(m) + 1;
    f->body = b + at;
    if (o->body_len > 0)
        memcpy(b + at, o->body, o->body_len);
    f->body_len = o->body_len;
    f->has_body = o->body != NULL || o->body_producer != NULL;
    f->opt = *o;
    f->user_host = find(f, "host") >= 0;
    return 0;
}

static int wants_length(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
           strcmp(m, "PATCH") == 0;
}

/* Whether field i goes out on this hop. */
static int sent(const eddy_http_fetch *f, size_t i)
{
    const eddy_http_header *h = &f->headers[i];

    if (h->name == NULL) /* dropped by a redirect */
        return 0;
    if (name_is(h, "host"))
        return f->user_host;
    return 1;
}

int eddy__request_expects(const eddy_http_fetch *f)
{
    return (f->opt.flags & EDDY_FETCH_EXPECT_CONTINUE) &&
           (f->opt.body_producer != NULL || f->body_len > 0);
}

/* Appends s (n bytes) at *o: the head is made with memcpy, not printf,
 * which cost a third of a small fetch's instructions. */
static void put(char **o, const char *s, size_t n)
{
    memcpy(*o, s, n);
    *o += n;
}

#define PUT(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put_str(char **o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(char **o, uint64_t v)
{
    char d[24];
    size_t i = sizeof d;

    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(o, d + i, sizeof d - i);
}

int eddy__request_build(eddy_http_fetch *f)
{
    eddy_http_client *c = f->c;
    const eddy__url *u = &f->url;
    int gzip =
        (f->opt.flags & EDDY_FETCH_GZIP) && find(f, "accept-encoding") < 0;
    int ua = c->user_agent != NULL && find(f, "user-agent") < 0;
    int chunked = f->opt.body_producer != NULL && f->opt.body_length == 0;
    size_t size = strlen(f->method) + u->target_len + u->host_len + 256;
    char *b, *o;

    if (ua)
        size += strlen(c->user_agent);
    for (size_t i = 0; i < f->nheaders; i++)
        size += f->headers[i].name_len + f->headers[i].value_len + 4;
    if ((b = malloc(size)) == NULL)
        return -ENOMEM;
    o = b;
    put_str(&o, f->method);
    PUT(&o, " ");
    put(&o, u->target, u->target_len);
    PUT(&o, " HTTP/1.1\r\n");
    if (!f->user_host) {
        PUT(&o, "Host: ");
        if (u->ipv6)
            PUT(&o, "[");
        put(&o, u->host, u->host_len);
        if (u->ipv6)
            PUT(&o, "]");
        if (u->port != (u->https ? 443 : 80)) {
            PUT(&o, ":");
            put_u64(&o, u->port);
        }
        PUT(&o, "\r\n");
    }
    if (ua) {
        PUT(&o, "User-Agent: ");
        put_str(&o, c->user_agent);
        PUT(&o, "\r\n");
    }
    if (gzip)
        PUT(&o, "Accept-Encoding: gzip\r\n");
    if (chunked) {
        PUT(&o, "Transfer-Encoding: chunked\r\n");
    } else if (f->opt.body_producer != NULL || f->has_body ||
               wants_length(f->method)) {
        PUT(&o, "Content-Length: ");
        put_u64(&o, f->opt.body_producer != NULL ? f->opt.body_length
                                                 : f->body_len);
        PUT(&o, "\r\n");
    }
    if (eddy__request_expects(f))
        PUT(&o, "Expect: 100-continue\r\n");
    if (f->opt.on_upgrade != NULL)
        PUT(&o, "Connection: Upgrade\r\n");
    else if (f->opt.flags & EDDY_FETCH_CLOSE)
        PUT(&o, "Connection: close\r\n");
    for (size_t i = 0; i < f->nheaders; i++) {
        const eddy_http_header *h = &f->headers[i];

        if (!sent(f, i))
            continue;
        put(&o, h->name, h->name_len);
        PUT(&o, ": ");
        put(&o, h->value, h->value_len);
        PUT(&o, "\r\n");
    }
    PUT(&o, "\r\n");
    free(f->head);
    f->head = b;
    f->head_len = (size_t)(o - b);
    return 0;
}

/* Drops the fields named lower from the hops to come. */
static void drop(eddy_http_fetch *f, const char *lower)
{
    for (size_t i = 0; i < f->nheaders; i++)
        if (f->headers[i].name != NULL && name_is(&f->headers[i], lower)) {
            f->headers[i].name = NULL;
            f->headers[i].name_len = 0;
        }
}

int eddy__request_redirect(eddy_http_fetch *f, int status, eddy__url *next)
{
    int get =
        (status == 303 && strcmp(f->method, "HEAD") != 0) ||
        ((status == 301 || status == 302) && strcmp(f->method, "POST") == 0);

    if (get) {
        f->method = "GET"; /* a literal: the copy stays in its allocation */
        f->has_body = 0;
        f->body_len = 0;
        f->opt.body_producer = NULL;
        f->opt.body_length = 0;
        drop(f, "content-type");
        drop(f, "content-encoding");
        drop(f, "content-language");
        drop(f, "content-location");
    }
    if (!eddy__url_same_origin(&f->url, next)) {
        drop(f, "authorization");
        drop(f, "cookie");
        drop(f, "proxy-authorization");
        f->user_host = 0;
    }
    eddy__url_free(&f->url);
    f->url = *next;
    memset(next, 0, sizeof *next);
    return eddy__request_build(f);
}
