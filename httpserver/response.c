/*
 * httpserver/response.c - the response writer: reason phrases, the status
 * line and headers (checked before a byte is queued), the framing
 * (Content-Length, chunked, or until close), the Date cache, the server's
 * own error answers (one builder for every one of them, rendered by the
 * error page hook when there is one), headers added ahead of the response
 * (cookies), the choice to compress (gzip.c does it), files as pieces of
 * a body, and finishing a request: counting it, logging it, and handing
 * the connection back to http1.c.
 *
 * A head is built on the stack (growing onto the heap only past
 * HEAD_STACK bytes) and queued with one write, so that it leaves with the
 * body in one sendmsg.
 *
 * This file must never send a header it did not validate, a body byte
 * past the Content-Length given, or anything after the client went away.
 */
#define _GNU_SOURCE
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEAD_STACK 1024

/* The reason phrases read best as a table: a line a status. */
/* clang-format off */
const char *eddy_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}
/* clang-format on */

/* --- building heads ----------------------------------------------------- */

/* A growing output buffer that starts on the caller's stack. */
struct out {
    char *p;
    size_t len, cap;
    int heap, failed;
};

static void put(struct out *o, const void *s, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = 2 * (o->len + n);
        char *p = o->heap ? realloc(o->p, cap) : malloc(cap);

        if (p == NULL) {
            o->failed = 1;
            return;
        }
        if (!o->heap)
            memcpy(p, o->p, o->len);
        o->p = p;
        o->cap = cap;
        o->heap = 1;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_num(struct out *o, uint64_t v, int base)
{
    char buf[24];
    int i = sizeof buf;

    do {
        buf[--i] = "0123456789abcdef"[v % (unsigned)base];
        v /= (unsigned)base;
    } while (v != 0);
    put(o, buf + i, sizeof buf - (size_t)i);
}

/* "Date: ...\r\n", made at most once a second (RFC 9110 5.6.7, always in
 * English whatever the locale). */
static void refresh_date(eddy_http_server *srv)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    uint64_t now = eddy_loop_now(srv->loop);
    time_t t;
    struct tm tm;
    struct out o = {srv->date, 0, sizeof srv->date, 0, 0};

    if (srv->date_len != 0 && now - srv->date_ms < 1000)
        return;
    t = time(NULL);
    gmtime_r(&t, &tm);
    put(&o, "Date: ", 6);
    put(&o, days + 3 * tm.tm_wday, 3);
    put(&o, ", ", 2);
    put(&o, (char[]){'0' + tm.tm_mday / 10, '0' + tm.tm_mday % 10}, 2);
    put(&o, " ", 1);
    put(&o, months + 3 * tm.tm_mon, 3);
    put(&o, " ", 1);
    put_num(&o, (uint64_t)tm.tm_year + 1900, 10);
    put(&o,
        (char[]){' ', '0' + tm.tm_hour / 10, '0' + tm.tm_hour % 10, ':',
                 '0' + tm.tm_min / 10, '0' + tm.tm_min % 10, ':',
                 '0' + tm.tm_sec / 10, '0' + tm.tm_sec % 10},
        9);
    put(&o, " GMT\r\n", 6);
    srv->date_len = o.len;
    srv->date_ms = now;
}

/* What check_head() found among a handler's headers. */
struct given {
    int date, server, upgrade;
};

static int is_name(const eddy_http_header *h, const char *lower, size_t n);

/* The status line, Server and Date unless given, then the headers, and
 * those added to the request (eddy_http_add_header).  A compressed
 * response's strong entity tag becomes weak: its bytes are not the
 * uncompressed ones (RFC 9110 8.8.3). */
static void put_head(struct out *o, eddy_http_request *req,
                     eddy_http_server *srv, int status, const char *reason,
                     const eddy_http_header *h, size_t n, const struct given *g,
                     int gz)
{
    put(o, "HTTP/1.1 ", 9);
    put_num(o, (uint64_t)status, 10);
    put(o, " ", 1);
    put_str(o, reason != NULL ? reason : eddy_http_reason(status));
    put(o, "\r\n", 2);
    if (!g->server && srv->opt.server_name[0] != '\0' &&
        (req == NULL || !req->extra_server)) {
        put(o, "Server: ", 8);
        put_str(o, srv->opt.server_name);
        put(o, "\r\n", 2);
    }
    if (!g->date && (req == NULL || !req->extra_date)) {
        refresh_date(srv);
        put(o, srv->date, srv->date_len);
    }
    for (size_t i = 0; i < n; i++) {
        put(o, h[i].name, h[i].name_len);
        put(o, ": ", 2);
        if (gz == EDDY__GZ_YES && is_name(&h[i], "etag", 4) &&
            h[i].value_len > 0 && h[i].value[0] == '"')
            put(o, "W/", 2);
        put(o, h[i].value, h[i].value_len);
        put(o, "\r\n", 2);
    }
    if (req != NULL && req->extra_len > 0)
        put(o, req->extra, req->extra_len);
    if (gz == EDDY__GZ_YES)
        put(o, "Content-Encoding: gzip\r\n", 24);
    if (gz != EDDY__GZ_NO)
        put(o, "Vary: Accept-Encoding\r\n", 23);
}

static void put_length(struct out *o, uint64_t len)
{
    put(o, "Content-Length: ", 16);
    put_num(o, len, 10);
    put(o, "\r\n", 2);
}

/* Whether p[0, n) holds a byte outside the class (httputil's table):
 * EDDY__HU_TOKEN for names, which must not be empty either, or
 * EDDY__HU_VALUE for values (no control character but HTAB, no DEL). */
static int bad_text(const char *p, size_t n, unsigned cls)
{
    for (size_t i = 0; i < n; i++)
        if (!eddy__hu_is((unsigned char)p[i], cls))
            return 1;
    return cls == EDDY__HU_TOKEN && n == 0;
}

static int is_name(const eddy_http_header *h, const char *lower, size_t n)
{
    return h->name_len == n && eddy__http_ieq(h->name, lower, n);
}

static int reserved(const eddy_http_header *h)
{
    return is_name(h, "content-length", 14) ||
           is_name(h, "transfer-encoding", 17) || is_name(h, "connection", 10);
}

int eddy__check_header(const eddy_http_header *h)
{
    if (bad_text(h->name, h->name_len, EDDY__HU_TOKEN) ||
        bad_text(h->value, h->value_len, EDDY__HU_VALUE) || reserved(h))
        return -EINVAL;
    return 0;
}

/* Whether the headers can be sent as given: everything is checked before
 * a byte is queued.  Notes which of Date, Server and Upgrade were given. */
static int check_headers(const char *reason, const eddy_http_header *headers,
                         size_t nheaders, struct given *g)
{
    if ((reason != NULL && bad_text(reason, strlen(reason), EDDY__HU_VALUE)) ||
        (nheaders > 0 && headers == NULL))
        return -EINVAL;
    for (size_t i = 0; i < nheaders; i++) {
        const eddy_http_header *h = &headers[i];

        if (eddy__check_header(h) != 0)
            return -EINVAL;
        g->date |= is_name(h, "date", 4);
        g->server |= is_name(h, "server", 6);
        g->upgrade |= is_name(h, "upgrade", 7);
    }
    return 0;
}

/* Queues a head built in o (freed here); returns 0 or -EPIPE. */
static int send_head(eddy_http_request *req, struct out *o, int status)
{
    struct eddy__conn *c = req->conn;
    int err =
        o->failed ? -ENOMEM : eddy_stream_write(c->s, o->p, o->len, NULL, NULL);

    if (o->heap)
        free(o->p);
    if (err != 0)
        return eddy__conn_lost(c, err);
    req->status = status;
    req->bytes_out += o->len;
    req->head_out = o->len;
    return 0;
}

/* --- the response API ----------------------------------------------------- */

/* The framing header and Connection, and the end of the head. */
static void put_framing(struct out *o, eddy_http_request *req, int status,
                        int64_t content_length)
{
    if (status != 204 && status != 304) {
        if (content_length >= 0)
            put_length(o, (uint64_t)content_length);
        else if (req->out_chunked)
            put(o, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (!req->keep_alive)
        put(o, "Connection: close\r\n\r\n", 21);
    else if (req->head.version == 10)
        put(o, "Connection: keep-alive\r\n\r\n", 26);
    else
        put(o, "\r\n", 2);
}

/* What start() is told about compression: decide it here (a streamed
 * body), or what eddy_http_respond() decided, having compressed the whole
 * body already (its length is then the compressed one). */
#define GZ_DECIDE (-1)

static int start(eddy_http_request *req, int status, const char *reason,
                 const eddy_http_header *headers, size_t nheaders,
                 int64_t content_length, int gz)
{
    eddy_http_server *srv = req->srv;
    char stack[HEAD_STACK];
    struct out o = {stack, 0, sizeof stack, 0, 0};
    struct given g = {0, 0, 0};
    int64_t framed;

    if (req->started)
        return req->timed_out ? -EPIPE : -EALREADY;
    if (status < 200 || status > 999 ||
        ((status == 204 || status == 304) && content_length > 0) ||
        check_headers(reason, headers, nheaders, &g) != 0)
        return -EINVAL;
    req->started = 1;
    req->status = status;
    /* Without a connection the server may be gone too: not a byte of it
     * is read from here on. */
    if (req->conn == NULL)
        return -EPIPE;
    req->no_body = req->is_head || status == 204 || status == 304;
    if (status == 204 || status == 304)
        content_length = 0;
    req->out_len = framed = content_length;
    if (gz == GZ_DECIDE) {
        gz = eddy__gzip_decide(req, status, headers, nheaders, content_length);
        if (gz == EDDY__GZ_YES && eddy__gzip_start(req) != 0)
            gz = EDDY__GZ_VARY; /* out of memory: uncompressed it goes */
        if (gz == EDDY__GZ_YES)
            framed = -1; /* the compressed length is not known yet */
    }
    if (framed < 0 && req->head.version == 11)
        req->out_chunked = 1;
    if ((framed < 0 && !req->out_chunked) || srv->shutting_down ||
        (!req->body_done && req->body_cb == NULL && !req->discard))
        req->keep_alive = 0;
    put_head(&o, req, srv, status, reason, headers, nheaders, &g, gz);
    put_framing(&o, req, status, framed);
    return send_head(req, &o, status);
}

int eddy_http_start_response(eddy_http_request *req, int status,
                             const char *reason,
                             const eddy_http_header *headers, size_t nheaders,
                             int64_t content_length)
{
    return start(req, status, reason, headers, nheaders, content_length,
                 GZ_DECIDE);
}

/* Queues a piece of the body, framed; returns the stream's error. */
static int write_body(eddy_http_request *req, eddy_stream *s, const void *data,
                      size_t len, eddy_stream_cb cb, void *arg)
{
    char line[24];
    struct out o = {line, 0, sizeof line, 0, 0};
    int err = 0;

    if (req->no_body || len == 0)
        return cb != NULL ? eddy_stream_write(s, NULL, 0, cb, arg) : 0;
    if (req->out_chunked) {
        put_num(&o, len, 16);
        put(&o, "\r\n", 2);
        err = eddy_stream_write(s, o.p, o.len, NULL, NULL);
        req->bytes_out += o.len + 2;
    }
    if (err == 0)
        err = eddy_stream_write(s, data, len, NULL, NULL);
    if (err == 0 && req->out_chunked)
        err = eddy_stream_write(s, "\r\n", 2, cb, arg);
    else if (err == 0 && cb != NULL)
        err = eddy_stream_write(s, NULL, 0, cb, arg);
    req->bytes_out += len;
    return err;
}

int eddy__response_put(eddy_http_request *req, const void *data, size_t len,
                       eddy_stream_cb cb, void *arg)
{
    struct eddy__conn *c = req->conn;
    int err;

    if (c == NULL)
        return -EPIPE;
    err = write_body(req, c->s, data, len, cb, arg);
    return err != 0 ? eddy__conn_lost(c, err) : 0;
}

int eddy_http_write(eddy_http_request *req, const void *data, size_t len,
                    eddy_stream_cb cb, void *arg)
{
    if (!req->started || (data == NULL && len > 0))
        return -EINVAL;
    if (req->conn == NULL)
        return -EPIPE;
    if (req->out_len >= 0 && req->out_written + len > (uint64_t)req->out_len)
        return -EINVAL;
    req->out_written += len;
    if (req->gz != NULL)
        return eddy__gzip_write(req, data, len, 0, cb, arg);
    return eddy__response_put(req, data, len, cb, arg);
}

int eddy_http_write_file(eddy_http_request *req, int fd, uint64_t offset,
                         uint64_t len, eddy_stream_cb cb, void *arg)
{
    struct eddy__conn *c = req->conn;
    char line[24];
    struct out o = {line, 0, sizeof line, 0, 0};
    int err = 0;

    if (!req->started || fd < 0 || offset > (uint64_t)INT64_MAX ||
        len > (uint64_t)INT64_MAX - offset)
        return -EINVAL;
    if (req->gz != NULL)
        return -ENOTSUP;
    if (c == NULL)
        return -EPIPE;
    if (req->out_len >= 0 && len > (uint64_t)req->out_len - req->out_written)
        return -EINVAL;
    req->out_written += len;
    if (req->no_body || len == 0)
        return eddy__response_put(req, NULL, 0, cb, arg);
    if (req->out_chunked) {
        put_num(&o, len, 16);
        put(&o, "\r\n", 2);
        err = eddy_stream_write(c->s, o.p, o.len, NULL, NULL);
        req->bytes_out += o.len + 2;
    }
    if (err == 0)
        err = eddy_stream_sendfile(c->s, fd, offset, len,
                                   req->out_chunked ? NULL : cb, arg);
    if (err == 0 && req->out_chunked)
        err = eddy_stream_write(c->s, "\r\n", 2, cb, arg);
    req->bytes_out += len;
    return err != 0 ? eddy__conn_lost(c, err) : 0;
}

/* Counts a finished request and logs it, with the bytes that reached the
 * kernel: all of them, or, when the client went away, all but those that
 * were still queued then.  This response was the last thing queued, so
 * those unsent bytes are its own first.  Once: a request answered by the
 * server past its deadline is finished by its handler later. */
void eddy__response_account(eddy_http_request *req)
{
    eddy_http_server *srv = req->srv;
    uint64_t lost = req->unsent < req->bytes_out ? req->unsent : req->bytes_out;
    uint64_t sent = req->bytes_out - lost;
    uint64_t body = sent > req->head_out ? sent - req->head_out : 0;

    if (req->accounted)
        return;
    req->accounted = 1;
    srv->stats.requests++;
    srv->stats.bytes_out += sent;
    srv->stats.aborted += req->aborted != 0;
    if (srv->opt.access_log != NULL)
        srv->opt.access_log(srv->opt.access_log_arg, req, req->status,
                            body < req->out_written ? body : req->out_written,
                            (double)(eddy__clock_ns() - req->start_ns) / 1e6);
}

/* Finishes a request whose client went away: logged and counted as
 * aborted, unless its server is gone too. */
static int finish_aborted(eddy_http_request *req)
{
    req->aborted = req->aborted || !req->accounted;
    if (!req->orphan) {
        if (req->gone)
            eddy__request_not_gone(req);
        eddy__response_account(req);
    }
    eddy__request_release(req);
    return -EPIPE;
}

/* The last chunk of a chunked body. */
static void end_chunked(eddy_http_request *req, struct eddy__conn *c)
{
    if (eddy_stream_write(c->s, "0\r\n\r\n", 5, NULL, NULL) == 0)
        req->bytes_out += 5;
    else
        eddy__conn_lost(c, -ENOMEM);
}

int eddy_http_finish(eddy_http_request *req)
{
    struct eddy__conn *c;
    int err = 0;

    eddy__route_cancel_deadline(req);
    if (!req->started)
        err = eddy_http_start_response(req, 200, NULL, NULL, 0, 0);
    c = req->conn;
    if (c != NULL && req->gz != NULL && !eddy_stream_closed(c->s))
        eddy__gzip_write(req, NULL, 0, 1, NULL, NULL);
    c = req->conn;
    if (c != NULL && req->out_chunked && !req->no_body &&
        !eddy_stream_closed(c->s))
        end_chunked(req, c);
    /* A stream that is closing runs its write callbacks, with an error,
     * before its close callback detaches the request: a handler finishing
     * from such a callback, or one whose response was just lost, finds
     * the client gone all the same. */
    if (c != NULL && eddy_stream_closed(c->s)) {
        req->unsent = eddy_stream_write_buffered(c->s);
        c->req = NULL;
        req->conn = c = NULL;
    }
    if (c == NULL)
        return finish_aborted(req);
    /* An answer to HEAD is whole without its body. */
    if (!req->no_body && req->out_len >= 0 &&
        req->out_written < (uint64_t)req->out_len) {
        req->keep_alive = 0; /* the client would wait for the rest */
        req->aborted = 1;
        err = -EPROTO;
    }
    eddy__response_account(req);
    c->req = NULL;
    eddy__conn_request_done(c, req);
    eddy__request_release(req);
    return err;
}

int eddy_http_respond(eddy_http_request *req, int status,
                      const eddy_http_header *headers, size_t nheaders,
                      const void *body, size_t len)
{
    char *z = NULL;
    size_t zlen;
    int err, fin, gz;

    /* Past its deadline the server answered: finishing is what is left. */
    if (req->started)
        return req->timed_out ? eddy_http_finish(req) : -EALREADY;
    if ((body == NULL && len > 0) ||
        ((status == 204 || status == 304) && len > 0))
        return -EINVAL;
    /* A whole body is compressed before the head, which then says its
     * length: no chunks. */
    gz = eddy__gzip_decide(req, status, headers, nheaders, (int64_t)len);
    if (gz == EDDY__GZ_YES && eddy__gzip_whole(req, body, len, &z, &zlen) == 0) {
        body = z;
        len = zlen;
    } else if (gz == EDDY__GZ_YES) {
        gz = EDDY__GZ_VARY;
    }
    err = start(req, status, NULL, headers, nheaders, (int64_t)len, gz);
    if (err == 0)
        err = eddy_http_write(req, body, len, NULL, NULL);
    free(z);
    if (err == -EINVAL)
        return err;
    /* Both checked all they could refuse: what is left is -EPIPE, and
     * the request is finished whatever happened. */
    fin = eddy_http_finish(req);
    return err != 0 ? err : fin;
}

/* --- headers ahead of the response ------------------------------------- */

int eddy_http_add_header(eddy_http_request *req, const char *name,
                         const char *value)
{
    eddy_http_header h;
    size_t need;

    if (name == NULL || value == NULL)
        return -EINVAL;
    h = (eddy_http_header){name, strlen(name), value, strlen(value)};
    if (eddy__check_header(&h) != 0)
        return -EINVAL;
    if (req->started)
        return -EALREADY;
    need = h.name_len + h.value_len + 4;
    if (req->extra_len + need > req->extra_cap) {
        size_t cap = 2 * (req->extra_len + need);
        char *p = realloc(req->extra, cap);

        if (p == NULL)
            return -ENOMEM;
        req->extra = p;
        req->extra_cap = cap;
    }
    memcpy(req->extra + req->extra_len, name, h.name_len);
    memcpy(req->extra + req->extra_len + h.name_len, ": ", 2);
    memcpy(req->extra + req->extra_len + h.name_len + 2, value, h.value_len);
    memcpy(req->extra + req->extra_len + need - 2, "\r\n", 2);
    req->extra_len += need;
    req->extra_date |= is_name(&h, "date", 4);
    req->extra_server |= is_name(&h, "server", 6);
    return 0;
}

int eddy_http_set_cookie(eddy_http_request *req, const eddy_cookie *c)
{
    char buf[512], *p = buf;
    size_t len;
    int err;

    if (req->started)
        return -EALREADY;
    err = eddy_cookie_format(c, buf, sizeof buf, &len);
    if (err == -ENOSPC) {
        if ((p = malloc(len + 1)) == NULL)
            return -ENOMEM;
        err = eddy_cookie_format(c, p, len + 1, &len);
    }
    if (err == 0)
        err = eddy_http_add_header(req, "Set-Cookie", p);
    if (p != buf)
        free(p);
    return err;
}

/* --- the server's own answers ------------------------------------------- */

/* The built-in page: "<status> <reason>\n" as text/plain. */
static void builtin_page(int status, char *msg, size_t cap,
                         eddy_http_error_page *pg)
{
    struct out m = {msg, 0, cap, 0, 0};

    put_num(&m, (uint64_t)status, 10);
    put(&m, " ", 1);
    put_str(&m, eddy_http_reason(status));
    put(&m, "\n", 1);
    pg->content_type = "text/plain";
    pg->body = m.p;
    pg->len = m.len;
}

/* The page for status: the hook's, when it gives one; 1 if it did. */
static int error_page(eddy_http_server *srv, const eddy_http_request *req,
                      int status, char *msg, size_t cap,
                      eddy_http_error_page *pg)
{
    eddy_http_error_page hook = {NULL, NULL, 0};

    builtin_page(status, msg, cap, pg);
    if (srv->opt.error_page == NULL ||
        srv->opt.error_page(srv->opt.error_page_arg, req, status, &hook) != 0 ||
        hook.content_type == NULL || (hook.body == NULL && hook.len > 0))
        return 0;
    *pg = hook;
    return 1;
}

/* Answers req with status and its page (Allow on a 405), falling back on
 * the built-in page when the hook's cannot be sent. */
static int answer_error(eddy_http_request *req, int status)
{
    eddy_http_server *srv = req->srv;
    char msg[64], allow[256];
    eddy_http_error_page pg;
    eddy_http_header h[2] = {{"Content-Type", 12, NULL, 0},
                             {"Allow", 5, allow, 0}};
    int hooked = error_page(srv, req, status, msg, sizeof msg, &pg), err;

    if (status == 405)
        h[1].value_len = eddy__route_allow(req, allow, sizeof allow);
    for (;;) {
        h[0].value = pg.content_type;
        h[0].value_len = strlen(pg.content_type);
        err = eddy_http_respond(req, status, h, h[1].value_len ? 2 : 1,
                                pg.body, pg.len);
        if (err != -EINVAL || !hooked)
            return err;
        hooked = 0;
        builtin_page(status, msg, sizeof msg, &pg);
    }
}

void eddy__respond_error(struct eddy__conn *c, eddy_http_request *req,
                         int status)
{
    eddy_http_server *srv = c->srv;
    char msg[64], head[512];
    struct out o = {head, 0, sizeof head, 0, 0};
    eddy_http_error_page pg;
    eddy_http_header h = {"Content-Type", 12, NULL, 0};
    struct given g = {0, 0, 0};

    srv->stats.errors++;
    if (req != NULL) {
        req->dispatched = 1;
        answer_error(req, status);
        return;
    }
    /* The head did not parse: there is no request to answer through. */
    if (error_page(srv, NULL, status, msg, sizeof msg, &pg)) {
        h.value = pg.content_type;
        h.value_len = strlen(pg.content_type);
        if (eddy__check_header(&h) != 0)
            builtin_page(status, msg, sizeof msg, &pg);
    }
    h.value = pg.content_type;
    h.value_len = strlen(pg.content_type);
    put_head(&o, NULL, srv, status, NULL, &h, 1, &g, EDDY__GZ_NO);
    put_length(&o, pg.len);
    put(&o, "Connection: close\r\n\r\n", 21);
    put(&o, pg.body, pg.len);
    if (!o.failed)
        eddy_stream_write(c->s, o.p, o.len, NULL, NULL);
    if (o.heap)
        free(o.p);
}

int eddy_http_send_error(eddy_http_request *req, int status)
{
    if (req->started)
        return req->timed_out ? eddy_http_finish(req) : -EALREADY;
    if (status < 400 || status > 599)
        return -EINVAL;
    return answer_error(req, status);
}

int eddy_http_error_status(int err)
{
    switch (err) {
    case -ENOENT:
    case -EINVAL:
    case -EILSEQ:
    case -EBADMSG:
    case -EPROTO:
        return 400;
    case -E2BIG:
    case -EMSGSIZE:
    case -EFBIG:
    case EDDY_HTTP_TOO_LARGE:
        return 413;
    case -ENOTSUP:
        return 415;
    case -ENOMEM:
        return 503;
    default:
        return 500;
    }
}

int eddy__check_switching(const eddy_http_header *headers, size_t nheaders)
{
    struct given g = {0, 0, 0};

    if (check_headers(NULL, headers, nheaders, &g) != 0 || !g.upgrade)
        return -EINVAL;
    return 0;
}

int eddy__respond_switching(eddy_http_request *req,
                            const eddy_http_header *headers, size_t nheaders)
{
    char stack[HEAD_STACK];
    struct out o = {stack, 0, sizeof stack, 0, 0};
    struct given g = {0, 0, 0};

    check_headers(NULL, headers, nheaders, &g);
    put_head(&o, req, req->srv, 101, NULL, headers, nheaders, &g, EDDY__GZ_NO);
    put(&o, "Connection: Upgrade\r\n\r\n", 23);
    return send_head(req, &o, 101);
}
