/*
 * fuzz/connection.c - a whole HTTP/1.1 connection under fuzzing: bytes in,
 * responses out, through the real server (httpserver/, from where
 * server.c takes an accepted stream) on a real loop.
 *
 * Input: one byte of settings (bit 0 small limits, 1 xheaders, 2 the
 * client half-closes at the end, 3 the server is freed before its pending
 * work ran, 4 a failed streamed body is answered from a timer instead of
 * its callback, 5 a held request is finished when its client leaves), the
 * cut points (fuzz.h), then the bytes the client sends.  One connection over a socketpair: the client end gets the
 * bytes piece by piece, the loop runs (bounded) after each piece, and
 * everything the server sends is read back and parsed as a client would.
 *
 * Routes cover a response made at once, one finished from a 0 ms timer, a
 * streamed request body (also one paused after each piece and resumed
 * from a timer), chunked responses (at once and finished from a
 * timer), a body too large for the socket, 204, 405, and a handler whose
 * first try at a response is refused.  Checks:
 *
 *  - every response is well-formed HTTP/1.1: status line, header fields,
 *    and a body framed by Content-Length, chunked coding (parsed here,
 *    strictly) or the close; 1xx is only 100 Continue;
 *  - each response matches, in order, a request the server finished (its
 *    access log: the status, and no body for HEAD, 204, 304), and only
 *    one more may follow: the server's answer to a head it refused, which
 *    says Connection: close; so never two responses for one request, and
 *    never more final responses than request lines ("HTTP/1.") sent;
 *  - nothing follows a response with Connection: close, and the server
 *    closes the connection after it;
 *  - the loop settles within a bounded number of iterations, and a client
 *    that half-closed is disconnected (no hang);
 *  - bodies handed to handlers stay within max_body_size, and the bytes a
 *    connection holds within max_header_size plus one read;
 *  - everything is freed (LeakSanitizer), also when the server is freed
 *    with requests still held by their handlers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"

#include "../httpserver/http_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CN_MAX_CUTS 16
#define CN_MAX_LOG 256
#define CN_SPIN 8          /* loop iterations after each piece, at most */
#define CN_SETTLE 2000     /* iterations for the connection to settle */
#define CN_READ_SIZE 65536 /* http1.c's READ_SIZE: one read's bytes */
#define CN_BIG 70000       /* a body larger than the socket's buffer */

typedef struct cn_log {
    int head, status;
} cn_log;

typedef struct cn_state {
    eddy_loop *loop;
    eddy_http_server *srv;
    int client;
    int eof;             /* the server closed the connection */
    char *out;           /* what the server sent */
    size_t out_len, out_cap;
    cn_log log[CN_MAX_LOG];
    size_t nlog, lost_log;
    int pending;         /* requests a handler still holds */
    int error_later;     /* a failed body is answered from a timer */
    int finish_on_close; /* a request whose client left is finished then */
    uint64_t max_body;
    size_t max_head;
} cn_state;

/* One request a handler holds across loop iterations. */
typedef struct cn_held {
    cn_state *st;
    eddy_http_request *req;
    int kind;
    uint64_t got;        /* streamed body bytes */
    eddy_timer_id timer; /* the timer that finishes it, or 0 */
    int pausing;         /* /stream/pause: paused after each piece */
    eddy_timer_id resume; /* the timer that resumes its body, or 0 */
} cn_held;

enum { CN_ASYNC, CN_LATER, CN_STREAM, CN_STREAM_ERROR };

static const eddy_http_header cn_hdr[] = {EDDY_HEADER("X-Fuzz", "yes")};
static char cn_big[CN_BIG];

static void cn_access(void *arg, const eddy_http_request *req, int status,
                      uint64_t bytes, double ms)
{
    cn_state *st = arg;
    eddy_str m = eddy_http_method(req);

    (void)bytes;
    (void)ms;
    if (eddy_http_aborted(req))
        return; /* finished after its connection was lost: never answered */
    if (st->nlog == CN_MAX_LOG) {
        st->lost_log++;
        return;
    }
    st->log[st->nlog].head = m.len == 4 && memcmp(m.p, "HEAD", 4) == 0;
    st->log[st->nlog].status = status;
    st->nlog++;
}

static void cn_on_timer(eddy_loop *loop, void *arg);
static void cn_on_close(eddy_http_request *req, void *arg);

static cn_held *cn_hold(cn_state *st, eddy_http_request *req, int kind)
{
    cn_held *h = calloc(1, sizeof *h);

    if (h == NULL)
        return NULL;
    h->st = st;
    h->req = req;
    h->kind = kind;
    st->pending++;
    eddy_http_on_close(req, cn_on_close, h);
    return h;
}

/* Finishes later, from a 0 ms timer; 0 if it will. */
static int cn_later_timer(cn_held *h)
{
    return eddy_loop_call_later(h->st->loop, 0, cn_on_timer, h, &h->timer);
}

static void cn_release(cn_held *h)
{
    if (h->timer != 0)
        eddy_loop_remove_timeout(h->st->loop, h->timer);
    if (h->resume != 0)
        eddy_loop_remove_timeout(h->st->loop, h->resume);
    h->st->pending--;
    free(h);
}

/* Finishes a held request the way its kind does. */
static void cn_finish(cn_held *h)
{
    eddy_str p;

    switch (h->kind) {
    case CN_ASYNC:
        p = eddy_http_path(h->req);
        eddy_http_respond(h->req, 200, NULL, 0, p.p, p.len);
        break;
    case CN_STREAM:
    case CN_STREAM_ERROR:
        eddy_http_respond(h->req, 400, NULL, 0, "bad body\n", 9);
        break;
    default:
        eddy_http_write(h->req, "world\n", 6, NULL, NULL);
        eddy_http_finish(h->req);
        break;
    }
    cn_release(h);
}

static void cn_on_timer(eddy_loop *loop, void *arg)
{
    cn_held *h = arg;

    (void)loop;
    h->timer = 0;
    cn_finish(h);
}

/* The client went away (or the server is being freed).  Finishing here,
 * while the server still exists, is the safe way: see finish_on_close. */
static void cn_on_close(eddy_http_request *req, void *arg)
{
    cn_held *h = arg;

    (void)req;
    if (h->st->finish_on_close)
        cn_finish(h);
}

static void cn_check_body(cn_state *st, eddy_http_request *req)
{
    FUZZ_CHECK(eddy_http_body(req).len <= st->max_body,
               "a body handed to a handler fits max_body_size");
}

/* GET / : the common case, answered at once. */
static void cn_root(eddy_http_request *req, void *arg)
{
    cn_check_body(arg, req);
    eddy_http_respond(req, 200, cn_hdr, 1, "hello\n", 6);
}

/* /async... : finished from a 0 ms timer. */
static void cn_async(eddy_http_request *req, void *arg)
{
    cn_held *h = cn_hold(arg, req, CN_ASYNC);
    eddy_str p;

    cn_check_body(arg, req);
    if (h == NULL || cn_later_timer(h) != 0) {
        if (h != NULL)
            cn_release(h);
        p = eddy_http_path(req);
        eddy_http_respond(req, 200, NULL, 0, p.p, p.len);
    }
}

/* GET /later : a chunked response begun now and ended from a timer. */
static void cn_later(eddy_http_request *req, void *arg)
{
    cn_held *h = cn_hold(arg, req, CN_LATER);

    eddy_http_start_response(req, 200, NULL, NULL, 0, -1);
    eddy_http_write(req, "hello ", 6, NULL, NULL);
    if (h == NULL || cn_later_timer(h) != 0) {
        if (h != NULL)
            cn_release(h);
        eddy_http_finish(req);
    }
}

/* POST /echo : the body back, with Content-Length. */
static void cn_echo(eddy_http_request *req, void *arg)
{
    eddy_str b = eddy_http_body(req);

    cn_check_body(arg, req);
    eddy_http_respond(req, 200, NULL, 0, b.p, b.len);
}

/* GET /chunked : a chunked response in pieces, one of them empty. */
static void cn_chunked(eddy_http_request *req, void *arg)
{
    (void)arg;
    eddy_http_start_response(req, 200, "Fine", cn_hdr, 1, -1);
    eddy_http_write(req, "abc", 3, NULL, NULL);
    eddy_http_write(req, "", 0, NULL, NULL);
    eddy_http_write(req, "defg", 4, NULL, NULL);
    eddy_http_finish(req);
}

/* GET /big : more than the socket holds. */
static void cn_bigbody(eddy_http_request *req, void *arg)
{
    (void)arg;
    eddy_http_respond(req, 200, NULL, 0, cn_big, sizeof cn_big);
}

static void cn_nocontent(eddy_http_request *req, void *arg)
{
    (void)arg;
    eddy_http_respond(req, 204, NULL, 0, NULL, 0);
}

static void cn_put(eddy_http_request *req, void *arg)
{
    cn_check_body(arg, req);
    eddy_http_respond(req, 201, NULL, 0, "made\n", 5);
}

/* GET /bad : a header that must be refused before anything is sent. */
static void cn_bad(eddy_http_request *req, void *arg)
{
    static const eddy_http_header bad[] = {EDDY_HEADER("X-Bad", "a\r\nb: c")};
    static const eddy_http_header framing[] = {
        EDDY_HEADER("Content-Length", "5")};

    (void)arg;
    FUZZ_CHECK(eddy_http_respond(req, 200, bad, 1, "x", 1) == -EINVAL,
               "a header with CR LF is refused");
    FUZZ_CHECK(eddy_http_respond(req, 200, framing, 1, "x", 1) == -EINVAL,
               "a framing header from a handler is refused");
    eddy_http_respond(req, 200, NULL, 0, "ok\n", 3);
}

static void cn_on_resume(eddy_loop *loop, void *arg)
{
    cn_held *h = arg;
    int err;

    (void)loop;
    h->resume = 0;
    err = eddy_http_resume_body(h->req);
    FUZZ_CHECK(err == 0 || err == -EPIPE, "a paused body resumes");
}

/* /stream/pause: pauses its body, and resumes it from a 0 ms timer. */
static void cn_pause(cn_held *h)
{
    int err = eddy_http_pause_body(h->req);

    FUZZ_CHECK(err == 0, "a streamed body pauses");
    if (h->resume == 0)
        eddy_loop_call_later(h->st->loop, 0, cn_on_resume, h, &h->resume);
}

static void cn_body_piece(eddy_http_request *req, int status, const char *data,
                          size_t len, int done, void *arg)
{
    cn_held *h = arg;
    char msg[32];
    int n;

    (void)data;
    h->got += len;
    FUZZ_CHECK(h->got <= h->st->max_body,
               "a streamed body stays within max_body_size");
    if (!done) {
        if (h->pausing)
            cn_pause(h);
        return;
    }
    if (status < 0 && h->st->error_later) {
        h->kind = CN_STREAM_ERROR;
        if (cn_later_timer(h) == 0)
            return;
        eddy_http_respond(req, 400, NULL, 0, "bad body\n", 9);
    } else if (status < 0) {
        eddy_http_respond(req, 400, NULL, 0, "bad body\n", 9);
    } else {
        n = snprintf(msg, sizeof msg, "%llu\n", (unsigned long long)h->got);
        eddy_http_start_response(req, 200, NULL, NULL, 0, -1);
        eddy_http_write(req, msg, (size_t)n, NULL, NULL);
        eddy_http_finish(req);
    }
    cn_release(h);
}

/* /stream... : the body streamed to the handler; /stream/noread answers
 * without reading it, /stream/pause pauses it before it and after each
 * piece, resuming from a timer. */
static void cn_stream(eddy_http_request *req, void *arg)
{
    eddy_str p = eddy_http_path(req);
    cn_held *h;

    if (p.len == 14 && memcmp(p.p, "/stream/noread", 14) == 0) {
        eddy_http_respond(req, 200, NULL, 0, "unread\n", 7);
        return;
    }
    if ((h = cn_hold(arg, req, CN_STREAM)) == NULL) {
        eddy_http_respond(req, 500, NULL, 0, NULL, 0);
        return;
    }
    h->pausing = p.len == 13 && memcmp(p.p, "/stream/pause", 13) == 0;
    if (h->pausing)
        cn_pause(h);
    if (eddy_http_read_body(req, cn_body_piece, h) != 0) {
        cn_release(h);
        eddy_http_respond(req, 500, NULL, 0, NULL, 0);
    }
}

/* --- the client side ------------------------------------------------------ */

static void cn_drain(cn_state *st)
{
    for (;;) {
        ssize_t r;

        if (st->out_cap - st->out_len < 4096) {
            size_t cap = st->out_cap ? 2 * st->out_cap : 16384;
            char *p = realloc(st->out, cap);

            if (p == NULL)
                return;
            st->out = p;
            st->out_cap = cap;
        }
        r = read(st->client, st->out + st->out_len, st->out_cap - st->out_len);
        if (r > 0) {
            st->out_len += (size_t)r;
            continue;
        }
        if (r == 0)
            st->eof = 1;
        return; /* EAGAIN, or an error the next read repeats */
    }
}

static void cn_check_limits(cn_state *st)
{
    for (struct eddy__conn *c = st->srv ? st->srv->conns : NULL; c != NULL;
         c = c->next)
        FUZZ_CHECK(c->acc_len <= st->max_head + CN_READ_SIZE,
                   "a connection holds at most max_header_size and one read");
}

/* Runs one iteration; returns whether anything happened in it. */
static int cn_iterate(cn_state *st)
{
    eddy_loop_stats a, b;
    size_t had = st->out_len;
    int eof = st->eof;

    eddy_loop_get_stats(st->loop, &a);
    eddy_loop_run_once(st->loop, 0);
    eddy_loop_get_stats(st->loop, &b);
    if (!st->eof)
        cn_drain(st);
    cn_check_limits(st);
    return a.events != b.events || a.callbacks_run != b.callbacks_run ||
           a.timers_run != b.timers_run || st->out_len != had ||
           st->eof != eof;
}

/* Runs the loop until nothing happens for two iterations; returns 0 if it
 * did not settle within max iterations. */
static int cn_settle(cn_state *st, int max)
{
    int quiet = 0;

    for (int i = 0; i < max; i++) {
        quiet = cn_iterate(st) ? 0 : quiet + 1;
        if (quiet == 2)
            return 1;
    }
    return 0;
}

/* --- the responses, parsed as a strict client ----------------------------- */

typedef struct cn_parse {
    const char *p, *end;
    int incomplete;
} cn_parse;

/* The next line (without its CRLF) into *line, *len. */
static int cn_line(cn_parse *ps, const char **line, size_t *len)
{
    const char *lf = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));

    if (lf == NULL) {
        ps->incomplete = 1;
        return 0;
    }
    FUZZ_CHECK(lf > ps->p && lf[-1] == '\r', "response lines end in CRLF");
    *line = ps->p;
    *len = (size_t)(lf - ps->p) - (lf > ps->p && lf[-1] == '\r');
    ps->p = lf + 1;
    return 1;
}

static int cn_ieq(const char *a, size_t n, const char *lower)
{
    return strlen(lower) == n && eddy__http_ieq(a, lower, n);
}

static int cn_digits(const char *p, size_t n, uint64_t *v)
{
    *v = 0;
    if (n == 0 || n > 18)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        *v = *v * 10 + (uint64_t)(p[i] - '0');
    }
    return 1;
}

/* A chunked body, strictly: hex size, no extensions, CRLF, data, CRLF;
 * "0" CRLF CRLF ends it. */
static int cn_chunked_body(cn_parse *ps)
{
    for (;;) {
        const char *line;
        size_t len;
        uint64_t size = 0;

        if (!cn_line(ps, &line, &len))
            return 0;
        FUZZ_CHECK(len > 0 && len <= 16, "a chunk size has 1 to 16 digits");
        for (size_t i = 0; i < len; i++) {
            int ok = (line[i] >= '0' && line[i] <= '9') ||
                     (line[i] >= 'a' && line[i] <= 'f');

            FUZZ_CHECK(ok, "a chunk size is lowercase hex");
            if (!ok)
                return 0;
            size = size * 16 + (uint64_t)(line[i] <= '9' ? line[i] - '0'
                                                          : line[i] - 'a' + 10);
        }
        if (size == 0) {
            if (!cn_line(ps, &line, &len))
                return 0;
            FUZZ_CHECK(len == 0, "no trailer after the last chunk");
            return 1;
        }
        if ((uint64_t)(ps->end - ps->p) < size + 2) {
            ps->incomplete = 1;
            return 0;
        }
        ps->p += size;
        FUZZ_CHECK(ps->p[0] == '\r' && ps->p[1] == '\n',
                   "chunk data ends in CRLF");
        ps->p += 2;
    }
}

/* Parses everything the server sent; checks it against the access log. */
static void cn_check_responses(cn_state *st, const uint8_t *in, size_t in_len)
{
    cn_parse ps = {st->out, st->out + st->out_len, 0};
    size_t logged = 0, finals = 0, lines = 0;
    int closed = 0;

    /* Request lines sent: each request the server took holds one. */
    for (size_t i = 0; i + 7 <= in_len; i++)
        if (memcmp(in + i, "HTTP/1.", 7) == 0)
            lines++;

    while (ps.p < ps.end && !ps.incomplete) {
        const char *line;
        size_t len;
        uint64_t status, clen = 0;
        int has_len = 0, chunked = 0, conn_close = 0, date = 0, server = 0;
        const cn_log *entry = NULL;

        FUZZ_CHECK(!closed, "nothing follows a response with Connection: close");
        if (!cn_line(&ps, &line, &len))
            break;
        FUZZ_CHECK(len >= 12 && memcmp(line, "HTTP/1.1 ", 9) == 0 &&
                       cn_digits(line + 9, 3, &status) && line[12] == ' ',
                   "a status line is HTTP/1.1 SP 3DIGIT SP reason");
        if (!(len >= 12 && memcmp(line, "HTTP/1.1 ", 9) == 0 &&
              cn_digits(line + 9, 3, &status)))
            return;
        for (size_t i = 13; i < len; i++)
            FUZZ_CHECK((unsigned char)line[i] >= 0x20 || line[i] == '\t',
                       "a reason phrase has no control characters");
        for (;;) {
            const char *colon;

            if (!cn_line(&ps, &line, &len))
                break;
            if (len == 0)
                break;
            colon = memchr(line, ':', len);
            FUZZ_CHECK(colon != NULL && colon > line,
                       "a header line is name: value");
            if (colon == NULL)
                return;
            for (const char *q = line; q < colon; q++)
                FUZZ_CHECK(eddy__http_is_token((unsigned char)*q),
                           "a header name is a token");
            const char *v = colon + 1, *ve = line + len;

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            for (const char *q = v; q < ve; q++)
                FUZZ_CHECK((unsigned char)*q >= 0x20 || *q == '\t',
                           "a header value has no control characters");
            if (cn_ieq(line, (size_t)(colon - line), "content-length")) {
                FUZZ_CHECK(!has_len, "one Content-Length");
                FUZZ_CHECK(cn_digits(v, (size_t)(ve - v), &clen),
                           "Content-Length is digits");
                has_len = 1;
            } else if (cn_ieq(line, (size_t)(colon - line),
                              "transfer-encoding")) {
                FUZZ_CHECK(!chunked && cn_ieq(v, (size_t)(ve - v), "chunked"),
                           "Transfer-Encoding is one chunked");
                chunked = 1;
            } else if (cn_ieq(line, (size_t)(colon - line), "connection")) {
                conn_close |= cn_ieq(v, (size_t)(ve - v), "close");
                FUZZ_CHECK(cn_ieq(v, (size_t)(ve - v), "close") ||
                               cn_ieq(v, (size_t)(ve - v), "keep-alive"),
                           "Connection is close or keep-alive");
            } else if (cn_ieq(line, (size_t)(colon - line), "date")) {
                date = 1;
            } else if (cn_ieq(line, (size_t)(colon - line), "server")) {
                server = 1;
            }
        }
        if (ps.incomplete)
            break;
        if (status / 100 == 1) {
            FUZZ_CHECK(status == 100 && !has_len && !chunked,
                       "the only 1xx is a bare 100 Continue");
            continue;
        }
        finals++;
        FUZZ_CHECK(date && server, "a response has Date and Server");
        FUZZ_CHECK(!(has_len && chunked),
                   "never both Content-Length and chunked");
        if (logged < st->nlog) {
            entry = &st->log[logged++];
            FUZZ_CHECK((uint64_t)entry->status == status,
                       "responses come in the order requests finished");
        } else {
            /* The server's answer to a head it refused: the last one. */
            FUZZ_CHECK(status >= 400 && conn_close,
                       "a response no request finished is an error that "
                       "closes the connection");
        }
        if ((entry != NULL && entry->head) || status == 204 || status == 304) {
            FUZZ_CHECK(status != 204 || (!has_len && !chunked),
                       "204 has no framing");
        } else if (chunked) {
            if (!cn_chunked_body(&ps))
                break;
        } else if (has_len) {
            if ((uint64_t)(ps.end - ps.p) < clen) {
                ps.incomplete = 1;
                break;
            }
            ps.p += clen;
        } else {
            FUZZ_CHECK(conn_close, "a body without length ends with a close");
            FUZZ_CHECK(st->eof, "a close-delimited body ends at the close");
            ps.p = ps.end;
        }
        closed = conn_close;
    }
    FUZZ_CHECK(!ps.incomplete, "no response is left incomplete");
    FUZZ_CHECK(st->lost_log != 0 || logged == st->nlog,
               "every finished request was answered, once");
    FUZZ_CHECK(logged <= lines, "no more answered requests than request lines");
    FUZZ_CHECK(finals <= lines + 1,
               "no more responses than request lines, and one refusal");
    if (closed)
        FUZZ_CHECK(st->eof, "the server closes after Connection: close");
}

/* --- the harness ---------------------------------------------------------- */

static int cn_setup(cn_state *st, unsigned cfg)
{
    eddy_http_options o;
    int sv[2];

    memset(&o, 0, sizeof o);
    if (cfg & 1) {
        o.max_header_size = 512;
        o.max_uri_length = 64;
        o.max_headers = 8;
        o.max_body_size = 256;
    }
    o.xheaders = (cfg >> 1) & 1;
    st->error_later = (cfg >> 4) & 1;
    st->finish_on_close = (cfg >> 5) & 1;
    o.access_log = cn_access;
    o.access_log_arg = st;
    if (eddy_loop_new(&st->loop) != 0)
        return -1;
    if (eddy_http_server_new(st->loop, &o, &st->srv) != 0)
        return -1;
    st->max_body = st->srv->opt.max_body_size;
    st->max_head = st->srv->opt.max_header_size;
    if (eddy_http_server_route(st->srv, "GET", "/", 0, cn_root, st) ||
        eddy_http_server_route(st->srv, NULL, "/async", EDDY_ROUTE_PREFIX,
                               cn_async, st) ||
        eddy_http_server_route(st->srv, "GET", "/later", 0, cn_later, st) ||
        eddy_http_server_route(st->srv, "POST", "/echo", 0, cn_echo, st) ||
        eddy_http_server_route(st->srv, NULL, "/stream",
                               EDDY_ROUTE_PREFIX | EDDY_ROUTE_STREAM, cn_stream,
                               st) ||
        eddy_http_server_route(st->srv, "GET", "/chunked", 0, cn_chunked, st) ||
        eddy_http_server_route(st->srv, "GET", "/big", 0, cn_bigbody, st) ||
        eddy_http_server_route(st->srv, "GET", "/204", 0, cn_nocontent, st) ||
        eddy_http_server_route(st->srv, "PUT", "/put", 0, cn_put, st) ||
        eddy_http_server_route(st->srv, "GET", "/bad", 0, cn_bad, st))
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0)
        return -1;
    st->client = sv[0];
    {
        struct sockaddr_storage peer;
        eddy_stream *s;

        memset(&peer, 0, sizeof peer);
        peer.ss_family = AF_UNIX;
        /* As the TCP server hands an accepted stream to the server. */
        if (eddy_stream_new(st->loop, sv[1], NULL, &s) != 0)
            return -1;
        eddy__server_take(st->srv, s, (struct sockaddr *)&peer,
                          sizeof(sa_family_t));
    }
    return 0;
}

static void cn_teardown(cn_state *st)
{
    if (st->srv != NULL)
        eddy_http_server_free(st->srv);
    st->srv = NULL;
    if (st->loop != NULL) {
        /* Requests held by handlers finish (with -EPIPE) and the streams
         * finish closing. */
        FUZZ_CHECK(cn_settle(st, CN_SETTLE),
                   "the loop settles after the server is freed");
        FUZZ_CHECK(st->pending == 0, "every held request was finished");
        eddy_loop_close(st->loop, 1);
    }
    if (st->client >= 0)
        close(st->client);
    free(st->out);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    int half_close = (cfg >> 2) & 1, free_early = (cfg >> 3) & 1;
    size_t cuts[CN_MAX_CUTS], ncuts = fuzz_cuts(&in, cuts, CN_MAX_CUTS);
    cn_state *st = calloc(1, sizeof *st);
    size_t from = 0;

    if (st == NULL)
        return 0;
    st->client = -1;
    if (cn_setup(st, cfg) != 0) {
        cn_teardown(st);
        free(st);
        return 0;
    }
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : in.n;

        while (from < to) {
            ssize_t w = send(st->client, in.p + from, to - from, MSG_NOSIGNAL);

            if (w <= 0)
                break; /* the server closed, or its buffer is full */
            from += (size_t)w;
        }
        from = to;
        for (int k = 0; k < CN_SPIN && cn_iterate(st); k++)
            ;
    }
    if (half_close)
        shutdown(st->client, SHUT_WR);
    if (free_early) {
        /* The server goes while handlers may still hold requests. */
        eddy_http_server_free(st->srv);
        st->srv = NULL;
    }
    FUZZ_CHECK(cn_settle(st, CN_SETTLE), "the loop settles");
    if (getenv("FUZZ_VERBOSE") != NULL) /* to see what an input does */
        fprintf(stderr, "connection: %zu requests finished, eof %d, %zu bytes "
                "back:\n%.*s\n", st->nlog, st->eof, st->out_len,
                (int)(st->out_len < 4096 ? st->out_len : 4096), st->out);
    if (!free_early) {
        FUZZ_CHECK(!half_close || st->eof,
                   "a client that half-closed is disconnected");
        cn_check_responses(st, in.p, in.n);
    }
    cn_teardown(st);
    free(st);
    return 0;
}
