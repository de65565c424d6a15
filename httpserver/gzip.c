/*
 * httpserver/gzip.c - compressing responses with gzip (RFC 9110 8.4.1.3),
 * when the server's options ask for it: deciding whether a response is
 * compressed (the client's Accept-Encoding with its q-values, the
 * response's type and length), and compressing it, whole (a body given
 * to eddy_http_respond(), whose length the head then states) or as a
 * stream (eddy_http_write() pieces, each flushed so that the client gets
 * what was written, in chunks).
 *
 * Only HTTP/1.1 responses are compressed (nginx's gzip_http_version):
 * a streamed one needs chunks.  Never 206, 304, 204, 1xx, a HEAD's (it
 * would need the length the GET has), or one with a Content-Encoding or
 * Content-Range of its handler's.  Every response whose form depends on
 * Accept-Encoding says Vary: Accept-Encoding, also when it went
 * uncompressed, so that caches keep the forms apart.
 *
 * A whole body is compressed with a window no larger than it needs
 * (zlib's memory then shrinks with it): 2 KiB of JSON costs about 10 KiB
 * of zlib state instead of 256 KiB.  A stream gets the full window.
 *
 * Built without zlib (make ZLIB=none) nothing is compressed: the option
 * is accepted and does nothing.
 *
 * This file must never compress a response whose head was not told so,
 * nor send a compressed byte after the stream's end.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifdef EDDY_ZLIB
#include <zlib.h>
#endif

#define OUT_PIECE 16384 /* compressed bytes written at a time */

/* --- Accept-Encoding ---------------------------------------------------- */

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A qvalue (RFC 9110 12.4.2): "0" or "1" with up to three decimals, "1"
 * only with zeros.  In thousandths, or -1 when it is not one. */
static int qvalue(const char *p, size_t n)
{
    int q, scale = 100;

    if (n == 0 || (p[0] != '0' && p[0] != '1') || n > 5 ||
        (n > 1 && p[1] != '.'))
        return -1;
    q = (p[0] - '0') * 1000;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9' || (q == 1000 && p[i] != '0'))
            return -1;
        q += (p[i] - '0') * scale;
    }
    return q;
}

/* The q of an element's parameters, p[0, n) after its coding: 1000
 * without one, 0 for one that is malformed (or for a malformed list of
 * parameters): a client that cannot say q right is not taken to accept. */
static int element_q(const char *p, size_t n)
{
    int q = 1000;
    size_t i = 0;

    while (i < n) {
        size_t name, name_len, val, val_len;

        while (i < n && ows(p[i]))
            i++;
        if (i == n)
            break;
        if (p[i++] != ';')
            return 0;
        while (i < n && ows(p[i]))
            i++;
        for (name = i;
             i < n && eddy__hu_is((unsigned char)p[i], EDDY__HU_TOKEN);)
            i++;
        name_len = i - name;
        if (name_len == 0 || i == n || p[i++] != '=')
            return 0;
        for (val = i; i < n && !ows(p[i]) && p[i] != ';';)
            i++;
        val_len = i - val;
        if (name_len == 1 && (p[name] | 0x20) == 'q' &&
            (q = qvalue(p + val, val_len)) < 0)
            return 0;
    }
    return q;
}

int eddy__accepts_gzip(const char *p, size_t n)
{
    int gzip = -1, star = -1;
    size_t i = 0;

    while (i < n) {
        const char *e = memchr(p + i, ',', n - i);
        size_t end = e != NULL ? (size_t)(e - p) : n, c;
        int q;

        while (i < end && ows(p[i]))
            i++;
        for (c = i;
             c < end && eddy__hu_is((unsigned char)p[c], EDDY__HU_TOKEN);)
            c++;
        q = element_q(p + c, end - c);
        if ((c - i == 4 && eddy__hu_ieq(p + i, 4, "gzip")) ||
            (c - i == 6 && eddy__hu_ieq(p + i, 6, "x-gzip")))
            gzip = q > gzip ? q : gzip;
        else if (c - i == 1 && p[i] == '*')
            star = q > star ? q : star;
        i = end + 1;
    }
    return gzip > 0 || (gzip < 0 && star > 0);
}

/* --- what is compressed ------------------------------------------------- */

int eddy__compressible(const char *p, size_t n)
{
    static const char *const types[] = {
        "application/json",       "application/javascript",
        "application/ecmascript", "application/x-javascript",
        "application/xml",        "image/svg+xml"};
    size_t len = 0;

    while (n > 0 && ows(*p))
        p++, n--;
    while (len < n && p[len] != ';' && !ows(p[len]))
        len++;
    if (len >= 5 && eddy__hu_ieq(p, 5, "text/"))
        return 1;
    if ((len > 5 && eddy__hu_ieq(p + len - 5, 5, "+json")) ||
        (len > 4 && eddy__hu_ieq(p + len - 4, 4, "+xml")))
        return 1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i]) == len && eddy__hu_ieq(p, len, types[i]))
            return 1;
    return 0;
}

/* The value of header lower (a lowercase name) among the handler's
 * headers, then among those added to the request ("Name: value\r\n"
 * lines).  1 when found. */
static int find_header(const eddy_http_request *req, const eddy_http_header *h,
                       size_t n, const char *lower, eddy_str *v)
{
    size_t len = strlen(lower);

    for (size_t i = 0; h != NULL && i < n; i++)
        if (h[i].name_len == len && eddy__hu_ieq(h[i].name, len, lower)) {
            *v = (eddy_str){h[i].value, h[i].value_len};
            return 1;
        }
    if (req->extra == NULL)
        return 0; /* NULL + 0 is undefined (clang's UBSan says so) */
    for (const char *l = req->extra, *end = l + req->extra_len; l < end;) {
        const char *eol = memchr(l, '\r', (size_t)(end - l));

        if ((size_t)(eol - l) >= len + 2 && l[len] == ':' &&
            eddy__hu_ieq(l, len, lower)) {
            *v = (eddy_str){l + len + 2, (size_t)(eol - l) - len - 2};
            return 1;
        }
        l = eol + 2;
    }
    return 0;
}

/* Whether the client takes gzip: every Accept-Encoding field, as one
 * list. */
static int client_accepts(const eddy_http_request *req)
{
    int yes = 0;

    for (size_t i = 0; i < req->head.nheaders; i++) {
        const eddy_http_header *h = &req->headers[i];

        if (h->name_len == 15 && eddy__hu_ieq(h->name, 15, "accept-encoding"))
            yes = eddy__accepts_gzip(h->value, h->value_len);
    }
    return yes;
}

int eddy__gzip_decide(const eddy_http_request *req, int status,
                      const eddy_http_header *headers, size_t nheaders,
                      int64_t content_length)
{
    const eddy_http_server *srv = req->srv;
    size_t min;
    eddy_str ct, v;

#ifndef EDDY_ZLIB
    return EDDY__GZ_NO;
#endif
    /* Without a connection the server may be freed (a request its client
     * left, or one its server's free orphaned): nothing is sent anyway. */
    if (req->conn == NULL)
        return EDDY__GZ_NO;
    min = srv->opt.gzip_min_size ? srv->opt.gzip_min_size : 1024;
    if (!srv->opt.gzip || req->head.version != 11 || status < 200 ||
        status == 204 || status == 206 || status == 304 ||
        (req->route != NULL && (req->route->flags & EDDY_ROUTE_NO_GZIP)) ||
        (nheaders > 0 && headers == NULL) ||
        !find_header(req, headers, nheaders, "content-type", &ct) ||
        !eddy__compressible(ct.p, ct.len) ||
        find_header(req, headers, nheaders, "content-encoding", &v) ||
        find_header(req, headers, nheaders, "content-range", &v) ||
        (content_length >= 0 && (uint64_t)content_length < min))
        return EDDY__GZ_NO;
    /* From here on the answer depends on Accept-Encoding. */
    if (req->is_head || !client_accepts(req))
        return EDDY__GZ_VARY;
    return EDDY__GZ_YES;
}

/* --- compressing -------------------------------------------------------- */

#ifdef EDDY_ZLIB

struct eddy__gzip {
    z_stream z;
};

static int level(const eddy_http_request *req)
{
    int l = req->srv->opt.gzip_level;

    return l >= 1 && l <= 9 ? l : 6;
}

int eddy__gzip_start(eddy_http_request *req)
{
    struct eddy__gzip *g = calloc(1, sizeof *g);

    if (g == NULL)
        return -ENOMEM;
    /* 15 + 16: the largest window, with gzip's header and trailer. */
    if (deflateInit2(&g->z, level(req), Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        return -ENOMEM;
    }
    req->gz = g;
    return 0;
}

void eddy__gzip_free(eddy_http_request *req)
{
    if (req->gz == NULL)
        return;
    deflateEnd(&req->gz->z);
    free(req->gz);
    req->gz = NULL;
}

int eddy__gzip_write(eddy_http_request *req, const void *data, size_t len,
                     int finish, eddy_stream_cb cb, void *arg)
{
    z_stream *z = &req->gz->z;
    char out[OUT_PIECE];
    int r, err = 0;

    /* A piece of nothing flushes nothing: only its callback, in order.
     * zlib counts in uInt: a piece is fed a gigabyte at a time. */
    z->next_in = (Bytef *)(uintptr_t)data;
    while (len > 0 || finish) {
        size_t in = len < (1u << 30) ? len : (1u << 30);

        z->avail_in = (uInt)in;
        len -= in;
        do {
            z->next_out = (Bytef *)out;
            z->avail_out = sizeof out;
            r = deflate(z, len > 0  ? Z_NO_FLUSH
                           : finish ? Z_FINISH
                                    : Z_SYNC_FLUSH);
            if (sizeof out - z->avail_out > 0 &&
                (err = eddy__response_put(req, out, sizeof out - z->avail_out,
                                          NULL, NULL)) != 0)
                goto out;
        } while (r != Z_STREAM_ERROR &&
                 (finish && len == 0 ? r != Z_STREAM_END : z->avail_out == 0));
        if (len == 0)
            break;
    }
out:
    if (finish)
        eddy__gzip_free(req);
    if (err == 0 && cb != NULL)
        err = eddy__response_put(req, NULL, 0, cb, arg);
    return err;
}

int eddy__gzip_whole(const eddy_http_request *req, const void *data, size_t len,
                     char **out, size_t *out_len)
{
    z_stream z;
    int bits = 9;
    uLong bound;
    char *buf;

    if (len > (1u << 30))
        return -ENOTSUP; /* zlib counts in uInt; streams take it */
    while (bits < 15 && ((size_t)1 << bits) < len)
        bits++;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level(req), Z_DEFLATED, bits + 16,
                     bits - 7 < 8 ? bits - 7 : 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    bound = deflateBound(&z, (uLong)len);
    if ((buf = malloc(bound)) == NULL) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(buf);
        return -ENOMEM;
    }
    *out = buf;
    *out_len = bound - z.avail_out;
    deflateEnd(&z);
    return 0;
}

#else /* no zlib: eddy__gzip_decide() never says yes */

int eddy__gzip_start(eddy_http_request *req)
{
    (void)req;
    return -ENOTSUP;
}

void eddy__gzip_free(eddy_http_request *req)
{
    (void)req;
}

int eddy__gzip_write(eddy_http_request *req, const void *data, size_t len,
                     int finish, eddy_stream_cb cb, void *arg)
{
    (void)finish;
    return eddy__response_put(req, data, len, cb, arg);
}

int eddy__gzip_whole(const eddy_http_request *req, const void *data, size_t len,
                     char **out, size_t *out_len)
{
    (void)req, (void)data, (void)len, (void)out, (void)out_len;
    return -ENOTSUP;
}

#endif
