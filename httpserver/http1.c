/*
 * httpserver/http1.c - HTTP/1.1 connections, requests and responses
 * (Tornado's HTTP1Connection and HTTPServerRequest).
 *
 * A connection reads with partial reads and parses the head where it
 * arrived, without copying; only a request its handler keeps past the
 * callback gets its own copy of the head.  Bytes beyond the current
 * request (a body, pipelined requests) wait in the connection's
 * accumulator.  One request is handled at a time, so pipelined responses
 * go out in order; run() loops over the requests that are already in
 * instead of recursing, and a request finished later, from another
 * callback, resumes the connection from a loop callback.
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
 * went away, read while a handler holds a request (pipelined bytes wait in
 * the stream, where TCP backpressure reaches the client), or send a header
 * it did not validate.
 */
#define _GNU_SOURCE
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)
#define PIPELINE_OUT (64 * 1024) /* answers queued before reading waits */
#define HEAD_STACK 1024

enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

struct eddy_http_request {
    eddy_http_server *srv;
    struct eddy__conn *conn; /* NULL once the client went away */
    const struct eddy__route *route;
    eddy__http_head head;    /* points into base */
    const char *base;
    char *store;             /* our copy of the head, once kept */
    size_t head_len;
    eddy_str path, query;
    int keep_alive, is_head, dispatched, started, no_body, out_chunked;
    int in_cb, finished;     /* a body or close callback is running; it
                                finished the request: free it after */
    int route_status;        /* 404 or 405 when no route takes it */
    int discard;             /* its small body is dropped after the
                                server's own 404 or 405 */
    int aborted;             /* the response did not go out whole */
    int gone;                /* in srv->gone: its client went away */
    int orphan;              /* its server was freed: never touch it */
    eddy_http_request *gone_prev, *gone_next; /* in srv->gone */
    int body_kind, body_done, body_error;
    uint64_t body_left;      /* BODY_LENGTH: bytes still to come */
    eddy__chunked chunked;
    char *body;
    size_t body_len, body_cap;
    eddy_http_body_cb body_cb;
    void *body_arg;
    int status;
    int64_t out_len;         /* -1: chunked or until close */
    uint64_t out_written, bytes_out, start_ns;
    uint64_t head_out; /* bytes of the response head */
    uint64_t unsent;   /* bytes still queued when the client left */
    eddy_http_close_cb on_close;
    void *on_close_arg, *data;
    char ip[INET6_ADDRSTRLEN];
    const char *scheme;
    eddy_http_header headers[];
};

static int run(struct eddy__conn *c);
static void fail(struct eddy__conn *c, int status, const char *why);
static void close_after_write(struct eddy__conn *c, int linger);
static void idle_after_write(struct eddy__conn *c);

static uint64_t clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- small helpers ------------------------------------------------------ */

const char *eddy_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

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
    put(&o, (char[]){' ', '0' + tm.tm_hour / 10, '0' + tm.tm_hour % 10, ':',
                     '0' + tm.tm_min / 10, '0' + tm.tm_min % 10, ':',
                     '0' + tm.tm_sec / 10, '0' + tm.tm_sec % 10},
        9);
    put(&o, " GMT\r\n", 6);
    srv->date_len = o.len;
    srv->date_ms = now;
}

/* The status line, then Server and Date unless the handler gave them. */
static void put_status(struct out *o, eddy_http_server *srv, int status,
                       const char *reason, int has_date, int has_server)
{
    put(o, "HTTP/1.1 ", 9);
    put_num(o, (uint64_t)status, 10);
    put(o, " ", 1);
    put_str(o, reason != NULL ? reason : eddy_http_reason(status));
    put(o, "\r\n", 2);
    if (!has_server) {
        put(o, "Server: ", 8);
        put_str(o, srv->opt.server_name);
        put(o, "\r\n", 2);
    }
    if (!has_date) {
        refresh_date(srv);
        put(o, srv->date, srv->date_len);
    }
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

static int header_get(const eddy_http_request *req, const char *name,
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

/* --- connection plumbing ------------------------------------------------ */

static void on_timer(eddy_loop *loop, void *arg);

/* Sets when the current phase times out (0: never); see the top. */
static void set_deadline(struct eddy__conn *c, uint64_t ms)
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
    if (c->s == NULL)
        free(c); /* the connection closed while this was queued */
    else
        run(c);
}

static void schedule_run(struct eddy__conn *c)
{
    if (c->in_run || c->scheduled)
        return;
    if (eddy_loop_add_callback(c->srv->loop, on_run, c) == 0)
        c->scheduled = 1;
    else
        eddy__conn_close(c);
}

/* --- requests ----------------------------------------------------------- */

/* The peer's address as text into buf ("" for a Unix domain socket). */
static char *peer_text(const struct sockaddr_storage *ss, char *buf, size_t n)
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

static const char *fill_ip(eddy_http_request *req)
{
    if (req->ip[0] != '\0' || req->conn == NULL)
        return req->ip;
    return peer_text(&req->conn->peer, req->ip, sizeof req->ip);
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

    if (header_get(req, "x-forwarded-for", &v) == 0)
        ip = last_item(req->srv, v, 1);
    if (header_get(req, "x-real-ip", &v) == 0)
        ip = v;
    if (ip.p != NULL && ip.len < sizeof buf) {
        memcpy(buf, ip.p, ip.len);
        buf[ip.len] = '\0';
        if (inet_pton(AF_INET, buf, bin) == 1 ||
            inet_pton(AF_INET6, buf, bin) == 1)
            memcpy(req->ip, buf, ip.len + 1);
    }
    if (header_get(req, "x-scheme", &v) == 0 ||
        header_get(req, "x-forwarded-proto", &v) == 0) {
        v = last_item(req->srv, v, 0);
        if (v.len == 4 && memcmp(v.p, "http", 4) == 0)
            req->scheme = "http";
        else if (v.len == 5 && memcmp(v.p, "https", 5) == 0)
            req->scheme = "https";
    }
}

static const char *rebase(const char *p, const char *from, const char *to)
{
    return p == NULL ? NULL : to + (p - from);
}

/* Gives the request its own copy of the head, which it needs to outlive
 * the read callback it arrived in. */
static int own_head(eddy_http_request *req)
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

static void free_request(eddy_http_request *req)
{
    free(req->store);
    free(req->body);
    free(req);
}

/* A request whose client went away waits in srv->gone for its handler to
 * finish it, so that a server freed meanwhile can tell it (orphan). */
static void gone_add(eddy_http_server *srv, eddy_http_request *req)
{
    req->gone = 1;
    req->gone_prev = NULL;
    req->gone_next = srv->gone;
    if (srv->gone != NULL)
        srv->gone->gone_prev = req;
    srv->gone = req;
}

static void gone_del(eddy_http_request *req)
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

    req->orphan = 1;
    req->gone = 0;
    req->gone_prev = req->gone_next = NULL;
    return next;
}

/* Counts a finished request and logs it, with the bytes that reached the
 * kernel: all of them, or, when the client went away, all but those that
 * were still queued then.  This response was the last thing queued, so
 * those unsent bytes are its own first. */
static void account(eddy_http_request *req)
{
    eddy_http_server *srv = req->srv;
    uint64_t lost = req->unsent < req->bytes_out ? req->unsent : req->bytes_out;
    uint64_t sent = req->bytes_out - lost;
    uint64_t body = sent > req->head_out ? sent - req->head_out : 0;

    srv->stats.requests++;
    srv->stats.bytes_out += sent;
    srv->stats.aborted += req->aborted != 0;
    if (srv->opt.access_log != NULL)
        srv->opt.access_log(srv->opt.access_log_arg, req, req->status,
                            body < req->out_written ? body : req->out_written,
                            (double)(clock_ns() - req->start_ns) / 1e6);
}

/* Frees a finished request, or leaves that to the code that called a
 * body or close callback, which still reads the request afterwards. */
static void release(eddy_http_request *req)
{
    if (req->in_cb)
        req->finished = 1;
    else
        free_request(req);
}

/* 100 Continue, when asked for and no body byte has come yet. */
static void send_continue(eddy_http_request *req)
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

/* Takes body bytes (framing included) from p.  Returns the bytes used or
 * -status.  A handler may finish the request from a piece's callback: then
 * the request is freed here, and the bytes after the body stay unused. */
static long body_feed(eddy_http_request *req, const char *p, size_t len)
{
    uint64_t max = req->srv->opt.max_body_size;
    size_t used = 0;
    int err = 0;

    if (req->body_kind == BODY_LENGTH) {
        used = len < req->body_left ? len : (size_t)req->body_left;
        req->body_left -= used;
        req->body_done = req->body_left == 0;
        err = body_deliver(req, p, used);
    }
    while (req->body_kind == BODY_CHUNKED && used < len && !req->body_done &&
           !req->finished && err == 0) {
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
    if (req->finished) {
        free_request(req);
        return (long)used;
    }
    return err != 0 ? err : (long)used;
}

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
    while (i < t.len && (((t.p[i] | 0x20) >= 'a' && (t.p[i] | 0x20) <= 'z') ||
                         (i > 0 && ((t.p[i] >= '0' && t.p[i] <= '9') ||
                                    t.p[i] == '+' || t.p[i] == '-' ||
                                    t.p[i] == '.'))))
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

/* A request's head is complete in base[0, n), and extra bytes after it
 * have arrived too: make the request. */
static void begin(struct eddy__conn *c, const char *base, size_t n,
                  size_t extra)
{
    eddy_http_server *srv = c->srv;
    const eddy__http_head *h = &srv->head;
    eddy_http_request *req;
    int status = 0;

    req = calloc(1, sizeof *req + h->nheaders * sizeof req->headers[0]);
    if (req == NULL) {
        fail(c, 503, "out of memory for a request");
        return;
    }
    req->srv = srv;
    req->conn = c;
    req->head = *h;
    req->head.headers = req->headers;
    memcpy(req->headers, h->headers, h->nheaders * sizeof req->headers[0]);
    req->base = base;
    req->head_len = n;
    req->start_ns = clock_ns();
    req->scheme = "http";
    req->out_len = -1;
    split_target(req, h->target);
    req->is_head = h->method.len == 4 && memcmp(h->method.p, "HEAD", 4) == 0;
    req->keep_alive = h->version == 11 ? !(h->connection & EDDY__CONN_CLOSE)
                                       : h->connection == EDDY__CONN_KEEP_ALIVE;
    if (srv->opt.xheaders)
        apply_xheaders(req);
    c->req = req;
    memset(&c->ps, 0, sizeof c->ps);
    c->ps.max_head = srv->opt.max_header_size;
    c->ps.max_uri = srv->opt.max_uri_length;

    req->body_kind = h->chunked ? BODY_CHUNKED
                     : h->has_length && h->content_length ? BODY_LENGTH
                                                          : BODY_NONE;
    req->body_left = h->content_length;
    req->body_done = req->body_kind == BODY_NONE;
    req->route = eddy__server_route(srv, h->method, req->path, &status);
    req->route_status = status;
    if (req->body_kind == BODY_LENGTH &&
        h->content_length > srv->opt.max_body_size)
        status = 413;
    /* The server's own 404 or 405 for a small declared body: answered at
     * once, then the body is dropped and the connection goes on.  Not
     * with 100-continue: that client may never send the body. */
    if (status != 0 && status != 413 && req->body_kind == BODY_LENGTH &&
        h->content_length <= srv->opt.max_discard_size && !h->expect_continue) {
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
    if (status == 0 && !req->body_done && !(req->route->flags & EDDY_ROUTE_STREAM)) {
        c->state = EDDY__BODY;
        set_deadline(c, srv->opt.body_timeout_ms);
        if (extra == 0)
            send_continue(req);
        req->head.expect_continue = 0;
        return;
    }
    c->state = EDDY__HANDLER;
}

/* The server's own answer to a request no handler takes: "404 Not
 * Found\n" and the like, with Allow on a 405. */
static void error_reply(eddy_http_request *req, int status)
{
    char msg[64], allow[256];
    struct out o = {msg, 0, sizeof msg, 0, 0};
    eddy_http_header hdr[2] = {EDDY_HEADER("Content-Type", "text/plain"),
                               {"Allow", 5, allow, 0}};

    if (status == 405)
        hdr[1].value_len =
            eddy__server_allow(req->srv, req->path, allow, sizeof allow);
    put_num(&o, (uint64_t)status, 10);
    put(&o, " ", 1);
    put_str(&o, eddy_http_reason(status));
    put(&o, "\n", 1);
    req->srv->stats.errors++;
    req->dispatched = 1;
    eddy_http_respond(req, status, hdr, hdr[1].value_len ? 2 : 1, msg, o.len);
}

/* The rule behind an error body_feed() returned, for the log. */
static const char *body_rule(const eddy_http_request *req, long status)
{
    if (status == -413)
        return "body past max_body_size";
    if (status == -400)
        return req->chunked.error;
    return "out of memory for the body";
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
    if (n > c->discard)
        n = (size_t)c->discard;
    c->discard -= n;
    set_deadline(c, c->srv->opt.body_timeout_ms);
    return n;
}

static void dispatch(struct eddy__conn *c)
{
    eddy_http_request *req = c->req;

    /* The handler has it now, whether it finishes at once or later. */
    req->dispatched = 1;
    c->state = EDDY__HANDLER;
    set_deadline(c, 0);
    if (req->route != NULL)
        req->route->handler(req, req->route->arg);
    else
        error_reply(req, req->route_status);
}

/* Does the next thing the connection can do.  Returns 0 when it must wait
 * (for bytes, or for a handler). */
static int step(struct eddy__conn *c)
{
    eddy_http_request *req = c->req;
    long n;

    switch (c->state) {
    case EDDY__IDLE:
    case EDDY__HEAD:
        /* A client that pipelines requests and reads no answers must not
         * make them pile up here: past PIPELINE_OUT bytes queued, the
         * next request waits, and nothing more is read, so that TCP
         * pushes back, until on_response_sent() finds them all sent. */
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
                set_deadline(c, c->srv->opt.header_timeout_ms);
            c->state = EDDY__HEAD;
            want_read(c);
            return 0;
        }
        begin(c, c->acc, (size_t)n, c->acc_len - (size_t)n);
        if (c->req != NULL && own_head(c->req) != 0) {
            fail(c, 503, "out of memory for a request's head");
            return 0;
        }
        consume(c, (size_t)n);
        return 1;
    case EDDY__BODY:
        if (req->body_done) {
            if (req->dispatched) {
                c->state = EDDY__HANDLER;
                req->body_cb(req, 0, NULL, 0, 1, req->body_arg);
            } else {
                dispatch(c);
            }
            return 1;
        }
        if (c->acc_len == 0) {
            want_read(c);
            return 0;
        }
        n = body_feed(req, c->acc, c->acc_len);
        if (n < 0) {
            fail(c, (int)-n, body_rule(req, n));
            return 0;
        }
        consume(c, (size_t)n);
        if (c->state == EDDY__BODY) /* not finished from a piece */
            set_deadline(c, c->srv->opt.body_timeout_ms);
        return 1;
    case EDDY__HANDLER:
        if (req != NULL && !req->dispatched) {
            dispatch(c);
            return 1;
        }
        return 0;
    case EDDY__DISCARD:
        consume(c, discard(c, c->acc_len));
        if (c->discard == 0) {
            become_idle(c);
            return 1;
        }
        want_read(c);
        return 0;
    default:
        return 0;
    }
}

/* Returns 1 when c is gone: a handler freed the server, which detached c
 * (no stream any more) and left freeing it to here. */
static int run(struct eddy__conn *c)
{
    if (c->in_run)
        return 0;
    c->in_run = 1;
    while (c->s != NULL && step(c))
        ;
    c->in_run = 0;
    if (c->s != NULL || c->scheduled)
        return 0;
    free(c);
    return 1;
}

/* Drops what a lingering close reads, within max_linger_bytes. */
static void linger_more(struct eddy__conn *c, size_t len)
{
    c->lingered += len;
    if (c->lingered > c->srv->opt.max_linger_bytes)
        eddy__conn_close(c);
    else
        want_read(c);
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
    if (c->acc_len == 0 && c->state == EDDY__BODY && off < len) {
        n = body_feed(c->req, data + off, len - off);
        if (n < 0) {
            fail(c, (int)-n, body_rule(c->req, n));
            return 0;
        }
        off += (size_t)n;
        /* The body timeout runs between reads: this was one. */
        if (c->state == EDDY__BODY)
            set_deadline(c, c->srv->opt.body_timeout_ms);
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
        own_head(req) != 0) {
        req->conn = NULL; /* cannot keep it: drop the client */
        eddy__conn_close(c);
    }
}

/* The client is gone: the request, if a handler has it, is told.  orphan:
 * the server is being freed, and the request must never reach it. */
static void detach_request(struct eddy__conn *c, int orphan)
{
    eddy_http_request *req = c->req;

    c->state = EDDY__CLOSED;
    if (req != NULL) {
        fill_ip(req);
        req->unsent = eddy_stream_write_buffered(c->s);
        req->conn = NULL;
        c->req = NULL;
        if (!req->dispatched) {
            free_request(req);
        } else {
            if (orphan)
                eddy__request_orphan(req);
            else
                gone_add(c->srv, req);
            /* The body callback may finish the request: then on_close,
             * which is for requests not finished, does not run. */
            req->in_cb = 1;
            if (req->body_cb != NULL && !req->body_done)
                req->body_cb(req, c->why ? c->why : -ECONNRESET, NULL, 0, 1,
                             req->body_arg);
            if (req->on_close != NULL && !req->finished)
                req->on_close(req, req->on_close_arg);
            req->in_cb = 0;
            if (req->finished)
                free_request(req);
        }
    }
    if (c->timer != 0)
        eddy_loop_remove_timeout(c->srv->loop, c->timer);
    c->timer = 0;
    free(c->acc);
    c->acc = NULL;
    c->s = NULL;
}

void eddy__conn_forget(struct eddy__conn *c)
{
    eddy_stream *s = c->s;

    eddy_stream_set_close_callback(s, NULL, NULL);
    eddy_stream_close(s);
    c->why = -ECANCELED;
    detach_request(c, 1);
    if (!c->scheduled && !c->in_run)
        free(c);
}

/* The stream closed (the client went away, an error, or our own close). */
static void on_closed(eddy_stream *s, int err, void *arg)
{
    struct eddy__conn *c = arg;
    eddy_http_server *srv = c->srv;

    (void)s;
    (void)err;
    detach_request(c, 0);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->nconns--;
    srv->stats.connections = srv->nconns;
    if (!c->scheduled)
        free(c);
    eddy__server_conn_gone(srv);
}

int eddy__conn_open(eddy_http_server *srv, int fd, const struct sockaddr *peer,
                    socklen_t len)
{
    struct eddy__conn *c = calloc(1, sizeof *c);
    int err;

    if (c == NULL) {
        close(fd);
        return -ENOMEM;
    }
    err = eddy__stream_adopt(srv->loop, fd, &c->s);
    if (err != 0) {
        free(c);
        return err;
    }
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
    eddy_stream_set_nodelay(c->s, 1);
    eddy__stream_half_open(c->s);
    eddy_stream_set_close_callback(c->s, on_closed, c);
    set_deadline(c, srv->opt.idle_timeout_ms);
    want_read(c);
    return 0;
}

void eddy__conn_close(struct eddy__conn *c)
{
    if (c->s != NULL)
        eddy_stream_close(c->s);
}

static void close_when_sent(eddy_stream *s, int status, void *arg)
{
    (void)status;
    (void)arg;
    eddy_stream_close(s);
}

/* The answer is out: shut down our sending side (the client reads the
 * answer, then EOF) and drop what the client still sends, until its EOF
 * closes the stream, or linger_ms or max_linger_bytes runs out.  (A
 * closed stream may have lost its connection, freed with its server.) */
static void linger_when_sent(eddy_stream *s, int status, void *arg)
{
    struct eddy__conn *c = arg;
    int fd = eddy_stream_fd(s);

    if (status != 0 || eddy_stream_closed(s))
        return;
    if (fd < 0 || shutdown(fd, SHUT_WR) != 0) {
        eddy_stream_close(s);
        return;
    }
    c->state = EDDY__LINGER;
    c->lingered = c->acc_len;
    consume(c, c->acc_len);
    set_deadline(c, c->srv->opt.linger_ms);
    want_read(c);
}

/* Stops reading and closes once what is queued has been sent; with
 * linger, the client may still be sending: close lingering. */
static void close_after_write(struct eddy__conn *c, int linger)
{
    c->state = EDDY__CLOSED;
    set_deadline(c, 0);
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
    if (status != 0 || eddy_stream_closed(s) || c->state != EDDY__IDLE ||
        eddy_stream_write_buffered(s) != 0)
        return;
    set_deadline(c, c->srv->opt.idle_timeout_ms);
    held = c->held;
    c->held = 0;
    /* A shutdown that began while the answers drained found the
     * connection busy: it is idle now. */
    if (c->srv->shutting_down && eddy__conn_close_idle(c))
        return;
    if (held)
        schedule_run(c);
}

/* Starts the idle timeout once the response is out: a client still
 * reading a large response is not idle. */
static void idle_after_write(struct eddy__conn *c)
{
    set_deadline(c, 0);
    if (eddy_stream_write(c->s, NULL, 0, on_response_sent, c) != 0)
        set_deadline(c, c->srv->opt.idle_timeout_ms);
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
    if (c->req != NULL || c->acc_len != 0 || c->state != EDDY__IDLE ||
        input_waiting(c))
        return 0;
    /* The last response may still be queued (a large body, a slow
     * reader): it goes out first.  The shutdown deadline still holds. */
    close_after_write(c, 0);
    return 1;
}

/* An error before a handler answered: answer it ourselves and close. */
/* Says in the log which rule a request broke; the client's answer stays
 * generic ("400 Bad Request"), as it must not teach an attacker much. */
static void log_refusal(struct eddy__conn *c, int status, const char *why)
{
    eddy_http_request *req = c->req;
    char buf[INET6_ADDRSTRLEN], what[80] = "";
    const char *ip =
        req != NULL ? fill_ip(req) : peer_text(&c->peer, buf, sizeof buf);

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
    char head[512], msg[64];
    struct out r = {head, 0, sizeof head, 0, 0};
    struct out m = {msg, 0, sizeof msg, 0, 0};

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
        error_reply(req, status);
        return;
    }
    /* The head did not parse: there is no request to answer through. */
    c->srv->stats.errors++;
    put_num(&m, (uint64_t)status, 10);
    put(&m, " ", 1);
    put_str(&m, eddy_http_reason(status));
    put(&m, "\n", 1);
    put_status(&r, c->srv, status, NULL, 0, 0);
    put(&r, "Content-Type: text/plain\r\nContent-Length: ", 42);
    put_num(&r, m.len, 10);
    put(&r, "\r\nConnection: close\r\n\r\n", 23);
    put(&r, m.p, m.len);
    eddy_stream_write(c->s, r.p, r.len, NULL, NULL);
    close_after_write(c, 1);
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

int eddy_http_version(const eddy_http_request *req)
{
    return req->head.version;
}

int eddy_http_header_get(const eddy_http_request *req, const char *name,
                         eddy_str *value)
{
    return name == NULL || value == NULL ? -EINVAL
                                         : header_get(req, name, value);
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
    return fill_ip((eddy_http_request *)req);
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

int eddy_http_read_body(eddy_http_request *req, eddy_http_body_cb cb,
                        void *arg)
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
    send_continue(req);
    c->state = EDDY__BODY;
    set_deadline(c, c->srv->opt.body_timeout_ms);
    schedule_run(c);
    return 0;
}

/* --- responses ---------------------------------------------------------- */

static int bad_text(const char *p, size_t n, int token)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (token ? !eddy__http_is_token(ch)
                  : (ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 1;
    }
    return token && n == 0;
}

static int reserved(const eddy_http_header *h)
{
    return (h->name_len == 14 && eddy__http_ieq(h->name, "content-length", 14)) ||
           (h->name_len == 17 &&
            eddy__http_ieq(h->name, "transfer-encoding", 17)) ||
           (h->name_len == 10 && eddy__http_ieq(h->name, "connection", 10));
}

/* Whether a response head can be sent as given: everything is checked
 * before a byte is queued.  Notes whether the handler gave Date, Server. */
static int check_head(int status, const char *reason,
                      const eddy_http_header *headers, size_t nheaders,
                      int64_t content_length, int *has_date, int *has_server)
{
    if (status < 200 || status > 999 ||
        (reason != NULL && bad_text(reason, strlen(reason), 0)) ||
        (nheaders > 0 && headers == NULL) ||
        ((status == 204 || status == 304) && content_length > 0))
        return -EINVAL;
    for (size_t i = 0; i < nheaders; i++) {
        const eddy_http_header *h = &headers[i];

        if (bad_text(h->name, h->name_len, 1) ||
            bad_text(h->value, h->value_len, 0) || reserved(h))
            return -EINVAL;
        *has_date |= h->name_len == 4 && eddy__http_ieq(h->name, "date", 4);
        *has_server |= h->name_len == 6 && eddy__http_ieq(h->name, "server", 6);
    }
    return 0;
}

/* The stream refused bytes of a response (out of memory, or closing): it
 * cannot carry the response whole any more.  Close the connection, so
 * that the request goes the way of one whose client went away. */
static int lost(struct eddy__conn *c, int err)
{
    if (err != -EPIPE)
        eddy_loop_log(c->srv->loop, EDDY_LOG_ERROR,
                      "a response could not be queued (%s): connection closed",
                      eddy_strerror(err));
    eddy__conn_close(c);
    return -EPIPE;
}

int eddy_http_start_response(eddy_http_request *req, int status,
                             const char *reason,
                             const eddy_http_header *headers, size_t nheaders,
                             int64_t content_length)
{
    struct eddy__conn *c = req->conn;
    eddy_http_server *srv = req->srv;
    char stack[HEAD_STACK];
    struct out o = {stack, 0, sizeof stack, 0, 0};
    int has_date = 0, has_server = 0, err;

    if (req->started)
        return -EALREADY;
    err = check_head(status, reason, headers, nheaders, content_length,
                     &has_date, &has_server);
    if (err != 0)
        return err;
    req->started = 1;
    req->status = status;
    /* Without a connection the server may be gone too: not a byte of it
     * is read from here on. */
    if (c == NULL)
        return -EPIPE;
    has_server |= srv->opt.server_name[0] == '\0';
    req->no_body = req->is_head || status == 204 || status == 304;
    if (status == 204 || status == 304)
        content_length = 0;
    req->out_len = content_length;
    if (content_length < 0 && req->head.version == 11)
        req->out_chunked = 1;
    if ((content_length < 0 && !req->out_chunked) || srv->shutting_down ||
        (!req->body_done && req->body_cb == NULL && !req->discard))
        req->keep_alive = 0;

    put_status(&o, srv, status, reason, has_date, has_server);
    for (size_t i = 0; i < nheaders; i++) {
        put(&o, headers[i].name, headers[i].name_len);
        put(&o, ": ", 2);
        put(&o, headers[i].value, headers[i].value_len);
        put(&o, "\r\n", 2);
    }
    if (status != 204 && status != 304) {
        if (content_length >= 0) {
            put(&o, "Content-Length: ", 16);
            put_num(&o, (uint64_t)content_length, 10);
            put(&o, "\r\n", 2);
        } else if (req->out_chunked) {
            put(&o, "Transfer-Encoding: chunked\r\n", 28);
        }
    }
    if (!req->keep_alive)
        put(&o, "Connection: close\r\n\r\n", 21);
    else if (req->head.version == 10)
        put(&o, "Connection: keep-alive\r\n\r\n", 26);
    else
        put(&o, "\r\n", 2);
    err = o.failed ? -ENOMEM : eddy_stream_write(c->s, o.p, o.len, NULL, NULL);
    if (o.heap)
        free(o.p);
    if (err != 0)
        return lost(c, err);
    req->bytes_out += o.len;
    req->head_out = o.len;
    return 0;
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

int eddy_http_write(eddy_http_request *req, const void *data, size_t len,
                    eddy_stream_cb cb, void *arg)
{
    struct eddy__conn *c = req->conn;
    int err;

    if (!req->started || (data == NULL && len > 0))
        return -EINVAL;
    if (c == NULL)
        return -EPIPE;
    if (req->out_len >= 0 && req->out_written + len > (uint64_t)req->out_len)
        return -EINVAL;
    req->out_written += len;
    err = write_body(req, c->s, data, len, cb, arg);
    return err != 0 ? lost(c, err) : 0;
}

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
        c->discard = req->body_left;
        set_deadline(c, c->srv->opt.body_timeout_ms);
    } else {
        c->state = EDDY__IDLE;
        idle_after_write(c);
    }
    schedule_run(c);
}

/* Finishes a request whose client went away: logged and counted as
 * aborted, unless its server is gone too. */
static int finish_aborted(eddy_http_request *req)
{
    req->aborted = 1;
    if (!req->orphan) {
        if (req->gone)
            gone_del(req);
        account(req);
    }
    release(req);
    return -EPIPE;
}

int eddy_http_finish(eddy_http_request *req)
{
    struct eddy__conn *c;
    eddy_http_server *srv = req->srv;
    int err = 0;

    if (!req->started)
        err = eddy_http_start_response(req, 200, NULL, NULL, 0, 0);
    c = req->conn;
    if (c != NULL && req->out_chunked && !req->no_body &&
        !eddy_stream_closed(c->s)) {
        if (eddy_stream_write(c->s, "0\r\n\r\n", 5, NULL, NULL) == 0)
            req->bytes_out += 5;
        else
            lost(c, -ENOMEM);
    }
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
    account(req);
    c->req = NULL;
    if (!req->keep_alive || srv->shutting_down ||
        (!req->body_done && !req->discard))
        close_after_write(c, may_send_more(req, c));
    else
        after_request(c, req);
    release(req);
    return err;
}

int eddy_http_respond(eddy_http_request *req, int status,
                      const eddy_http_header *headers, size_t nheaders,
                      const void *body, size_t len)
{
    int err, fin;

    if (req->started)
        return -EALREADY;
    if ((body == NULL && len > 0) ||
        ((status == 204 || status == 304) && len > 0))
        return -EINVAL;
    err = eddy_http_start_response(req, status, NULL, headers, nheaders,
                                   (int64_t)len);
    if (err == -EINVAL)
        return err;
    if (err == 0)
        err = eddy_http_write(req, body, len, NULL, NULL);
    /* Both checked all they could refuse: what is left is -EPIPE, and
     * the request is finished whatever happened. */
    fin = eddy_http_finish(req);
    return err != 0 ? err : fin;
}

int eddy_http_aborted(const eddy_http_request *req)
{
    return req->aborted;
}
