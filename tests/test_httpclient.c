/*
 * tests/test_httpclient.c - the HTTP client (httpclient/) against eddy's
 * own HTTP server in-process, and against scripted servers: a raw
 * listening socket on loopback, driven by the test between loop
 * iterations, that sends exactly the bytes it is given.
 *
 * The scripted server lets a test split what it sends where it likes:
 * it sends the first part, runs the loop until the client has read it
 * (the client's bytes_in counter), then sends the rest.  Every malformed
 * and truncated response in the table below is sent whole and split at
 * every byte, and must fail the same way each time, with no body handed
 * over; every odd but valid one must give the same response each time.
 *
 * Also: the pool (reuse, limits and queueing, idle expiry, servers that
 * close idle connections, the retry rules), redirects, timeouts (a
 * connect to a listening socket whose backlog is full, whose SYNs the
 * kernel drops), cancellation from every callback, streaming with
 * backpressure, bodies from producers, Expect: 100-continue, gzip,
 * upgrades, and examples/fetch run as a child process.
 */
#include "testutil.h"

#include "httputil.h"
#include "tlsutil.h"

#include "../httpclient/httpclient_internal.h"
#include "eddy/httpclient.h"
#include "eddy/httpserver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef EDDY_ZLIB
#include <zlib.h>
#endif

#define WAIT_MS 5000
#define ITER 100000

/* --- what a fetch gave --------------------------------------------------- */

typedef struct result {
    int done;   /* the final callback ran (times) */
    int status; /* its status */
    int code;   /* the response's status code */
    char *body; /* the body (whole, or the pieces streamed) */
    size_t body_len;
    char head[4096]; /* "name: value\n" each, the reason first */
    int redirects;
    char url[512];
    char detail[256];
    int headers_seen, chunks;
    eddy_http_fetch *f;
    eddy_loop *loop;
    /* actions inside callbacks */
    int cancel_in_headers, cancel_in_chunk, pause_in_chunk;
    eddy_http_fetch *cancel_other; /* cancelled from the final callback */
    eddy_http_client *free_client; /* freed from the final callback */
} result;

static void r_free(result *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

static void r_add(result *r, const char *p, size_t n)
{
    r->body = realloc(r->body, r->body_len + n + 1);
    assert_non_null(r->body);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static void r_head(result *r, const eddy_http_response *rs)
{
    size_t o = 0;

    r->code = rs->status;
    o += (size_t)snprintf(r->head, sizeof r->head, "%.*s\n",
                          (int)rs->reason.len, rs->reason.p);
    for (size_t i = 0; i < rs->nheaders && o < sizeof r->head; i++)
        o += (size_t)snprintf(r->head + o, sizeof r->head - o, "%.*s: %.*s\n",
                              (int)rs->headers[i].name_len, rs->headers[i].name,
                              (int)rs->headers[i].value_len,
                              rs->headers[i].value);
}

static void on_done(eddy_http_fetch *f, int status,
                    const eddy_http_response *rs, void *arg)
{
    result *r = arg;
    const char *d = eddy_http_fetch_detail(f);

    assert_ptr_equal(eddy_http_fetch_client(f) != NULL, 1);
    r->done++;
    r->status = status;
    if (d != NULL)
        snprintf(r->detail, sizeof r->detail, "%s", d);
    if (status == 0) {
        assert_non_null(rs);
        r_head(r, rs);
        r_add(r, rs->body.p, rs->body.len);
        assert_int_equal(rs->body.p[rs->body.len], '\0');
        r->redirects = (int)rs->redirects;
        snprintf(r->url, sizeof r->url, "%s", rs->url);
    } else {
        assert_null(rs);
    }
    eddy_http_fetch_cancel(f); /* inside the final callback: nothing */
    if (r->cancel_other != NULL)
        eddy_http_fetch_cancel(r->cancel_other);
    if (r->free_client != NULL)
        eddy_http_client_free(r->free_client);
}

static void on_headers(eddy_http_fetch *f, const eddy_http_response *rs,
                       void *arg)
{
    result *r = arg;

    assert_int_equal(r->done, 0);
    assert_int_equal(rs->body.len, 0);
    r->headers_seen++;
    r_head(r, rs);
    if (r->cancel_in_headers)
        eddy_http_fetch_cancel(f);
}

static void on_chunk(eddy_http_fetch *f, const char *p, size_t n, void *arg)
{
    result *r = arg;

    assert_int_equal(r->done, 0);
    assert_true(n > 0);
    r->chunks++;
    r_add(r, p, n);
    if (r->cancel_in_chunk && r->chunks == r->cancel_in_chunk)
        eddy_http_fetch_cancel(f);
    if (r->pause_in_chunk)
        eddy_http_fetch_pause(f);
}

static int done_cond(void *arg)
{
    return ((result *)arg)->done > 0;
}

static void wait_done(eddy_loop *loop, result *r)
{
    assert_true(tu_run_until(loop, done_cond, r, ITER, WAIT_MS));
    assert_int_equal(r->done, 1);
}

/* Runs the loop a few iterations more: nothing more may come. */
static void settle(eddy_loop *loop)
{
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
}

static eddy_http_client *client_new(eddy_loop *loop,
                                    const eddy_http_client_options *o)
{
    eddy_http_client *c = NULL;

    assert_int_equal(eddy_http_client_new(loop, o, &c), 0);
    return c;
}

/* Frees the client and the loop, leaving nothing behind. */
static void finish(eddy_loop *loop, eddy_http_client *c)
{
    eddy_http_client_free(c);
    settle(loop);
    eddy_loop_close(loop, 0);
}

static eddy_http_client_stats stats(eddy_http_client *c)
{
    eddy_http_client_stats s;

    eddy_http_client_get_stats(c, &s);
    return s;
}

static int has(const result *r, const char *line)
{
    return strstr(r->head, line) != NULL;
}

/* --- eddy's own server --------------------------------------------------- */

typedef struct srv {
    eddy_http_server *s;
    int port;
    int requests;
    char last[4096]; /* the last request: method, target, fields, body */
    eddy_http_request *held[16]; /* requests /hold keeps */
    int nheld;
} srv;

static void note(srv *sv, eddy_http_request *req)
{
    eddy_str m = eddy_http_method(req), u = eddy_http_uri(req),
             b = eddy_http_body(req);
    const eddy_http_header *h;
    size_t n, o;

    sv->requests++;
    o = (size_t)snprintf(sv->last, sizeof sv->last, "%.*s %.*s\n", (int)m.len,
                         m.p, (int)u.len, u.p);
    h = eddy_http_headers(req, &n);
    for (size_t i = 0; i < n && o < sizeof sv->last; i++)
        o += (size_t)snprintf(sv->last + o, sizeof sv->last - o, "%.*s: %.*s\n",
                              (int)h[i].name_len, h[i].name,
                              (int)h[i].value_len, h[i].value);
    if (o < sizeof sv->last)
        snprintf(sv->last + o, sizeof sv->last - o, "\n%.*s", (int)b.len, b.p);
}

static void h_hello(eddy_http_request *req, void *arg)
{
    note(arg, req);
    eddy_http_respond(req, 200, NULL, 0, "Hello, World", 12);
}

static void h_echo(eddy_http_request *req, void *arg)
{
    srv *sv = arg;

    note(sv, req);
    eddy_http_respond(req, 200, NULL, 0, sv->last, strlen(sv->last));
}

static void h_missing(eddy_http_request *req, void *arg)
{
    note(arg, req);
    eddy_http_respond(req, 404, NULL, 0, "no", 2);
}

/* A body of 1 MiB in 64 KiB pieces, chunked (no length given). */
#define BIG (1u << 20)
static void h_big(eddy_http_request *req, void *arg)
{
    static char piece[65536];

    note(arg, req);
    for (size_t i = 0; i < sizeof piece; i++)
        piece[i] = (char)('a' + i % 26);
    assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, -1), 0);
    for (size_t i = 0; i < BIG / sizeof piece; i++)
        eddy_http_write(req, piece, sizeof piece, NULL, NULL);
    eddy_http_finish(req);
}

/* Redirects: /r/CODE/N?to=PATH answers CODE with Location PATH (N-1
 * more times while N > 1, to itself). */
static void h_redirect(eddy_http_request *req, void *arg)
{
    eddy_str path = eddy_http_path(req), q = eddy_http_query(req);
    char loc[512], p[64];
    eddy_http_header h = {"Location", 8, loc, 0};
    int code = 0, n = 0;

    note(arg, req);
    snprintf(p, sizeof p, "%.*s", (int)path.len, path.p); /* not NUL-ended */
    sscanf(p, "/r/%d/%d", &code, &n);
    if (n > 1) {
        snprintf(loc, sizeof loc, "/r/%d/%d?%.*s", code, n - 1, (int)q.len,
                 q.p);
        h.value_len = strlen(loc);
    } else { /* to=, percent-decoded */
        assert_int_equal(eddy_url_unescape(q.p + 3, q.len - 3,
                                           EDDY_ARGS_PLUS_LITERAL, loc,
                                           &h.value_len),
                         0);
    }
    eddy_http_respond(req, code, &h, 1, "moved", 5);
}

static void h_hold(eddy_http_request *req, void *arg)
{
    srv *sv = arg;

    note(sv, req);
    assert_true(sv->nheld < 16);
    sv->held[sv->nheld++] = req;
}

/* Answers the oldest request /hold keeps. */
static void release_one(srv *sv)
{
    assert_true(sv->nheld > 0);
    eddy_http_respond(sv->held[0], 200, NULL, 0, "held", 4);
    memmove(sv->held, sv->held + 1, (size_t)--sv->nheld * sizeof sv->held[0]);
}

/* The length of the body, as text. */
static void h_count(eddy_http_request *req, void *arg)
{
    char n[32];

    note(arg, req);
    snprintf(n, sizeof n, "%zu", eddy_http_body(req).len);
    eddy_http_respond(req, 200, NULL, 0, n, strlen(n));
}

static void srv_start(eddy_loop *loop, srv *sv)
{
    eddy_http_options o = {0};
    int fd;
    size_t n;

    memset(sv, 0, sizeof *sv);
    o.idle_timeout_ms = 60000;
    assert_int_equal(eddy_http_server_new(loop, &o, &sv->s), 0);
    assert_int_equal(eddy_http_server_route(sv->s, NULL, "/", 0, h_hello, sv),
                     0);
    assert_int_equal(eddy_http_server_route(sv->s, NULL, "/echo",
                                            EDDY_ROUTE_PREFIX, h_echo, sv),
                     0);
    assert_int_equal(
        eddy_http_server_route(sv->s, NULL, "/missing", 0, h_missing, sv), 0);
    assert_int_equal(eddy_http_server_route(sv->s, NULL, "/big", 0, h_big, sv),
                     0);
    assert_int_equal(eddy_http_server_route(sv->s, NULL, "/r/",
                                            EDDY_ROUTE_PREFIX, h_redirect, sv),
                     0);
    assert_int_equal(
        eddy_http_server_route(sv->s, NULL, "/hold", 0, h_hold, sv), 0);
    assert_int_equal(
        eddy_http_server_route(sv->s, NULL, "/count", 0, h_count, sv), 0);
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fd, 1, &n), 0);
    sv->port = eddy_socket_port(fd);
    assert_int_equal(eddy_http_server_add_sockets(sv->s, &fd, 1), 0);
}

static void srv_stop(eddy_loop *loop, srv *sv)
{
    eddy_http_server_free(sv->s);
    settle(loop);
}

static char *url_of(int port, const char *path)
{
    static char u[4][512];
    static int i;

    i = (i + 1) % 4;
    assert_true(strlen(path) < 400);
    snprintf(u[i], sizeof u[i], "http://127.0.0.1:%d%.400s", port, path);
    return u[i];
}

/* One fetch, waited for. */
static void fetch_wait(eddy_loop *loop, eddy_http_client *c, const char *url,
                       const eddy_http_fetch_options *o, result *r)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    assert_int_equal(eddy_http_client_fetch(c, url, o, on_done, r, &r->f), 0);
    wait_done(loop, r);
}

/* --- the scripted server ------------------------------------------------- */

typedef struct script {
    int lfd, port;
    int fd; /* the connection being served, or -1 */
    int accepted;
    char req[8192]; /* what came on it */
    size_t req_len;
} script;

static void sc_open(script *sc)
{
    size_t n;

    memset(sc, 0, sizeof *sc);
    sc->fd = -1;
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &sc->lfd, 1, &n), 0);
    sc->port = eddy_socket_port(sc->lfd);
}

static void sc_drop(script *sc)
{
    if (sc->fd >= 0)
        close(sc->fd);
    sc->fd = -1;
}

static void sc_close(script *sc)
{
    sc_drop(sc);
    close(sc->lfd);
}

static int accept_cond(void *arg)
{
    script *sc = arg;
    int fd;

    if (sc->accepted) /* (tu_run_until asks once more at the end) */
        return 1;
    if ((fd = accept4(sc->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
        return 0;
    sc_drop(sc);
    sc->fd = fd;
    sc->req_len = 0;
    sc->accepted = 1;
    return 1;
}

/* Runs the loop until the client connected; the new connection is the
 * one served from now. */
static void sc_accept(eddy_loop *loop, script *sc)
{
    sc->accepted = 0;
    assert_true(tu_run_until(loop, accept_cond, sc, ITER, WAIT_MS));
}

static int request_cond(void *arg)
{
    script *sc = arg;
    ssize_t k;

    while ((k = recv(sc->fd, sc->req + sc->req_len,
                     sizeof sc->req - 1 - sc->req_len, 0)) > 0)
        sc->req_len += (size_t)k;
    sc->req[sc->req_len] = '\0';
    return strstr(sc->req, "\r\n\r\n") != NULL;
}

/* Runs the loop until a request head came on the connection. */
static void sc_request(eddy_loop *loop, script *sc)
{
    assert_true(tu_run_until(loop, request_cond, sc, ITER, WAIT_MS));
}

typedef struct wanting {
    script *sc;
    const char *what;
} wanting;

static int want_cond(void *arg)
{
    wanting *w = arg;

    request_cond(w->sc);
    return strstr(w->sc->req, w->what) != NULL;
}

/* Runs the loop until what came on the connection (after the head, or
 * anywhere since req_len was reset). */
static void sc_wait_for(eddy_loop *loop, script *sc, const char *what)
{
    wanting w = {sc, what};

    assert_true(tu_run_until(loop, want_cond, &w, ITER, WAIT_MS));
}

static void sc_send(script *sc, const void *p, size_t n)
{
    size_t off = 0;

    while (off < n) {
        ssize_t k = send(sc->fd, (const char *)p + off, n - off, MSG_NOSIGNAL);

        if (k < 0 && errno == EAGAIN) {
            struct pollfd pf = {sc->fd, POLLOUT, 0};

            poll(&pf, 1, 100);
            continue;
        }
        if (k <= 0)
            return; /* the client went away: fine */
        off += (size_t)k;
    }
}

/* Resets the connection (an RST, not a FIN). */
static void sc_reset(script *sc)
{
    struct linger l = {1, 0};

    setsockopt(sc->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    sc_drop(sc);
}

typedef struct read_wait {
    eddy_http_client *c;
    uint64_t want;
} read_wait;

static int read_cond(void *arg)
{
    read_wait *w = arg;

    return stats(w->c).bytes_in >= w->want;
}

/* Sends p[0, n) split at k: the first part, then, once the client read
 * it, the rest. */
static void sc_send_split(eddy_loop *loop, eddy_http_client *c, script *sc,
                          const char *p, size_t n, size_t k)
{
    read_wait w = {c, stats(c).bytes_in + k};

    sc_send(sc, p, k);
    assert_true(tu_run_until(loop, read_cond, &w, ITER, WAIT_MS));
    sc_send(sc, p + k, n - k);
}

/* A fetch whose answer the script gives: sends it (split at k, or whole
 * when k is 0), closes after it if asked, and waits for the end. */
static void scripted(eddy_loop *loop, eddy_http_client *c, script *sc,
                     const eddy_http_fetch_options *o, const char *bytes,
                     size_t n, size_t k, int close_after, result *r)
{
    int reuse = stats(c).idle > 0 && sc->fd >= 0;

    memset(r, 0, sizeof *r);
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc->port, "/x"), o, on_done, r, &r->f),
        0);
    if (!reuse)
        sc_accept(loop, sc);
    sc->req_len = 0;
    sc_request(loop, sc);
    if (k == 0)
        sc_send(sc, bytes, n);
    else
        sc_send_split(loop, c, sc, bytes, n, k);
    if (close_after)
        sc_drop(sc);
    wait_done(loop, r);
}

/* --- against eddy's server ----------------------------------------------- */

static void test_get(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    srv sv;
    result r;

    (void)state;
    srv_start(loop, &sv);
    fetch_wait(loop, c, url_of(sv.port, "/"), NULL, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "Hello, World");
    assert_true(has(&r, "OK\n"));
    assert_true(has(&r, "Content-Length: 12\n"));
    assert_string_equal(r.url, url_of(sv.port, "/"));
    assert_int_equal(r.redirects, 0);
    r_free(&r);
    /* What went out: the request line, Host, User-Agent. */
    fetch_wait(loop, c, url_of(sv.port, "/echo/a?b=c"), NULL, &r);
    assert_non_null(strstr(r.body, "GET /echo/a?b=c\n"));
    assert_non_null(strstr(r.body, "Host: 127.0.0.1:" /* the port follows */));
    assert_non_null(strstr(r.body, "User-Agent: eddy/"));
    r_free(&r);
    srv_stop(loop, &sv);
    finish(loop, c);
}

static void test_methods_and_bodies(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_header h[] = {EDDY_HEADER("X-Test", "one two"),
                            EDDY_HEADER("Content-Type", "text/plain")};
    eddy_http_fetch_options o = {0};
    srv sv;
    result r;

    (void)state;
    srv_start(loop, &sv);
    o.method = "POST";
    o.headers = h;
    o.nheaders = 2;
    o.body = "payload";
    o.body_len = 7;
    fetch_wait(loop, c, url_of(sv.port, "/echo"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.body, "POST /echo\n"));
    assert_non_null(strstr(r.body, "Content-Length: 7\n"));
    assert_non_null(strstr(r.body, "X-Test: one two\n"));
    assert_non_null(strstr(r.body, "\n\npayload"));
    r_free(&r);
    /* POST without a body says Content-Length: 0. */
    memset(&o, 0, sizeof o);
    o.method = "POST";
    fetch_wait(loop, c, url_of(sv.port, "/echo"), &o, &r);
    assert_non_null(strstr(r.body, "Content-Length: 0\n"));
    r_free(&r);
    /* HEAD: no body, whatever the length says. */
    o.method = "HEAD";
    fetch_wait(loop, c, url_of(sv.port, "/"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.code, 200);
    assert_true(has(&r, "Content-Length: 12\n"));
    assert_int_equal(r.body_len, 0);
    r_free(&r);
    /* A 404 is a response. */
    fetch_wait(loop, c, url_of(sv.port, "/missing"), NULL, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.code, 404);
    assert_string_equal(r.body, "no");
    r_free(&r);
    /* A Host and a User-Agent given replace the client's. */
    {
        eddy_http_header h2[] = {EDDY_HEADER("Host", "example.com"),
                                 EDDY_HEADER("User-Agent", "test/1")};

        memset(&o, 0, sizeof o);
        o.headers = h2;
        o.nheaders = 2;
        fetch_wait(loop, c, url_of(sv.port, "/echo"), &o, &r);
        assert_non_null(strstr(r.body, "Host: example.com\n"));
        assert_null(strstr(r.body, "Host: 127"));
        assert_non_null(strstr(r.body, "User-Agent: test/1\n"));
        assert_null(strstr(r.body, "eddy/"));
        r_free(&r);
    }
    srv_stop(loop, &sv);
    finish(loop, c);
}

static void test_keepalive_reuse(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    srv sv;
    result r;
    int n = tu_valgrind() ? 10 : 200;

    (void)state;
    srv_start(loop, &sv);
    for (int i = 0; i < n; i++) {
        fetch_wait(loop, c, url_of(sv.port, "/"), NULL, &r);
        assert_int_equal(r.status, 0);
        assert_string_equal(r.body, "Hello, World");
        r_free(&r);
    }
    assert_int_equal(stats(c).connections_total, 1);
    assert_int_equal(stats(c).requests, n);
    assert_int_equal(stats(c).reused, n - 1);
    assert_int_equal(stats(c).idle, 1);
    assert_int_equal(stats(c).connections, 1);
    assert_int_equal(stats(c).fetches, 0);
    srv_stop(loop, &sv);
    finish(loop, c);
}

static void test_streaming(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    srv sv;
    result r;

    (void)state;
    srv_start(loop, &sv);
    o.on_headers = on_headers;
    o.on_chunk = on_chunk;
    fetch_wait(loop, c, url_of(sv.port, "/big"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.headers_seen, 1);
    assert_true(has(&r, "Transfer-Encoding: chunked\n"));
    assert_int_equal(r.body_len, BIG); /* streamed; the final body empty */
    assert_true(r.chunks > 1);
    for (size_t i = 0; i < BIG; i += 4099)
        assert_int_equal(r.body[i], 'a' + (i % 65536) % 26);
    r_free(&r);
    /* Whole: the same bytes. */
    fetch_wait(loop, c, url_of(sv.port, "/big"), NULL, &r);
    assert_int_equal(r.body_len, BIG);
    r_free(&r);
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* Paused, no piece comes and the server is held back by TCP; resumed,
 * the rest comes, whole. */
static void test_pause_resume(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    srv sv;
    result r;
    uint64_t in;
    int rounds = 0;

    (void)state;
    srv_start(loop, &sv);
    o.on_chunk = on_chunk;
    memset(&r, 0, sizeof r);
    r.pause_in_chunk = 1;
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/big"), &o,
                                            on_done, &r, &r.f),
                     0);
    while (!r.done) {
        int chunks = r.chunks;

        assert_true(++rounds < 10000);
        /* Wait for a piece (the fetch pauses in it). */
        while (r.chunks == chunks && !r.done)
            assert_int_equal(eddy_loop_run_once(loop, 10), 0);
        if (r.done)
            break;
        in = stats(c).bytes_in;
        for (int i = 0; i < 5; i++)
            assert_int_equal(eddy_loop_run_once(loop, 1), 0);
        assert_int_equal(r.chunks, chunks + 1);  /* nothing while paused */
        assert_int_equal(stats(c).bytes_in, in); /* nothing read */
        if (rounds == 3)
            eddy_http_fetch_pause(r.f); /* twice: nothing */
        eddy_http_fetch_resume(r.f);
        assert_int_equal(r.chunks, chunks + 1); /* not inside resume */
    }
    assert_int_equal(r.status, 0);
    assert_int_equal(r.body_len, BIG);
    for (size_t i = 0; i < BIG; i += 4099)
        assert_int_equal(r.body[i], 'a' + (i % 65536) % 26);
    r_free(&r);
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* --- what servers must not send ------------------------------------------ */

#define OKL "HTTP/1.1 200 OK\r\n"
#define SIN(x) .bytes = (x), .len = sizeof(x) - 1
#define GEN(n) .bytes = NULL, .len = (n)

typedef struct bad_case {
    const char *what;
    const char *bytes;
    size_t len;
    int want;       /* the fetch's status */
    int close;      /* the server closes after sending */
    unsigned flags; /* of the fetch */
    int in_body;    /* the error is in the body: streamed, what came
                       before it was handed over */
} bad_case;

/* Limits for these: a head of 1 KiB and 10 fields, a body of 1000 bytes. */
#define BAD_MAX_HEAD 1024
#define BAD_MAX_HEADERS 10
#define BAD_MAX_BODY 1000

static const bad_case bad_cases[] = {
    /* Framing that could smuggle a response. */
    {"Content-Length with Transfer-Encoding",
     SIN(OKL "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello"),
     EDDY_HTTP_EMALFORMED},
    {"Content-Lengths that differ",
     SIN(OKL "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
     EDDY_HTTP_EMALFORMED},
    {"a Content-Length list", SIN(OKL "Content-Length: 5, 5\r\n\r\nhello"),
     EDDY_HTTP_EMALFORMED},
    {"a signed Content-Length", SIN(OKL "Content-Length: +5\r\n\r\nhello"),
     EDDY_HTTP_EMALFORMED},
    {"a hex Content-Length", SIN(OKL "Content-Length: 0x5\r\n\r\nhello"),
     EDDY_HTTP_EMALFORMED},
    {"a negative Content-Length", SIN(OKL "Content-Length: -1\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"a Content-Length past 2^63",
     SIN(OKL "Content-Length: 99999999999999999999\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"Transfer-Encoding gzip", SIN(OKL "Transfer-Encoding: gzip\r\n\r\nxx"),
     EDDY_HTTP_EMALFORMED},
    {"Transfer-Encoding identity",
     SIN(OKL "Transfer-Encoding: identity\r\n\r\nxx"), EDDY_HTTP_EMALFORMED},
    {"gzip, chunked",
     SIN(OKL "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"chunked twice",
     SIN(OKL "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"Transfer-Encoding on HTTP/1.0",
     SIN("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    /* Chunked framing. */
    {"a chunk size that is not hex",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED, .in_body = 1},
    {"a chunk size past 2^63",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"),
     EDDY_HTTP_EMALFORMED, .in_body = 1},
    {"SP after a chunk size",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED, .in_body = 1},
    {"chunk data longer than its size",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED, .in_body = 1},
    {"bare LF in chunked framing",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"),
     EDDY_HTTP_EMALFORMED, .in_body = 1},
    {"a malformed chunk extension",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED, .in_body = 1},
    {"a malformed trailer",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n0\r\nX Y\r\n\r\n"),
     EDDY_HTTP_EMALFORMED, .in_body = 1},
    /* The head. */
    {"a bare CR in the reason", SIN("HTTP/1.1 200 O\rK\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"a bare CR in a value", SIN(OKL "X: a\rb\r\nContent-Length: 0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"bare LF line ends", SIN("HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
     EDDY_HTTP_EMALFORMED},
    {"a bare CR ends the head", SIN(OKL "Content-Length: 0\r\n\rX\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"a NUL in a value", SIN(OKL "X: a\0b\r\nContent-Length: 0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"a control character in a value",
     SIN(OKL "X: a\001b\r\nContent-Length: 0\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"SP before the colon", SIN(OKL "X : y\r\nContent-Length: 0\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"a name that is not a token",
     SIN(OKL "X(y): z\r\nContent-Length: 0\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"whitespace before the first field",
     SIN(OKL " X: y\r\nContent-Length: 0\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"a fold that breaks Content-Length",
     SIN(OKL "Content-Length: 4\r\n 2\r\n\r\nabcd"), EDDY_HTTP_EMALFORMED},
    {"a status that is not digits", SIN("HTTP/1.1 2xx OK\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    {"no status code", SIN("HTTP/1.1 OK\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"status 600", SIN("HTTP/1.1 600 Odd\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"status 099", SIN("HTTP/1.1 099 Odd\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"HTTP/2.0", SIN("HTTP/2.0 200 OK\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"HTTP/1.2", SIN("HTTP/1.2 200 OK\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"lowercase http", SIN("http/1.1 200 OK\r\n\r\n"), EDDY_HTTP_EMALFORMED},
    {"not HTTP", SIN("SSH-2.0-OpenSSH_9.2\r\n"), EDDY_HTTP_EMALFORMED},
    {"101 that no upgrade asked for",
     SIN("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
     EDDY_HTTP_EMALFORMED},
    /* Limits. */
    {"a head over max_header_size", GEN(0), EDDY_HTTP_EHEADSIZE},
    {"more fields than max_headers",
     SIN(OKL "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\n"
             "H: 8\r\nI: 9\r\nJ: 10\r\nK: 11\r\n\r\n"),
     EDDY_HTTP_EHEADERS},
    {"a Content-Length over max_body_size",
     SIN(OKL "Content-Length: 1001\r\n\r\n"), EDDY_HTTP_EBODYSIZE},
    {"a chunked body over max_body_size", GEN(1), EDDY_HTTP_EBODYSIZE,
     .in_body = 1},
    {"a close-delimited body over max_body_size", GEN(2), EDDY_HTTP_EBODYSIZE,
     1, .in_body = 1},
#ifdef EDDY_ZLIB
    {"gzip inflating past max_body_size", GEN(3), EDDY_HTTP_EBODYSIZE, 0,
     EDDY_FETCH_GZIP, 1},
    {"a gzip body that is not gzip",
     SIN(OKL "Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello"),
     EDDY_HTTP_EDECODE, 0, EDDY_FETCH_GZIP},
    {"a gzip body cut short", GEN(4), EDDY_HTTP_EDECODE, 0, EDDY_FETCH_GZIP, 1},
#endif
    /* Cut short: the server closes. */
    {"a close before a byte", SIN(""), EDDY_HTTP_ENORESPONSE, 1},
    {"a close in the status line", SIN("HTTP/1.1 20"), EDDY_HTTP_ETRUNCATED, 1},
    {"a close in the fields", SIN(OKL "Content-Le"), EDDY_HTTP_ETRUNCATED, 1},
    {"a close after the head", SIN(OKL "Content-Length: 5\r\n\r\n"),
     EDDY_HTTP_ETRUNCATED, 1},
    {"a close in a Content-Length body",
     SIN(OKL "Content-Length: 10\r\n\r\nhello"), EDDY_HTTP_ETRUNCATED, 1,
     .in_body = 1},
    {"a close in a chunk",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n5\r\nhel"),
     EDDY_HTTP_ETRUNCATED, 1, .in_body = 1},
    {"a close before the last chunk",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
     EDDY_HTTP_ETRUNCATED, 1, .in_body = 1},
    {"a close in the trailer",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n"),
     EDDY_HTTP_ETRUNCATED, 1, .in_body = 1},
    {"a close after a 100 Continue", SIN("HTTP/1.1 100 Continue\r\n\r\n"),
     EDDY_HTTP_ETRUNCATED, 1},
};

#define NBAD (sizeof bad_cases / sizeof bad_cases[0])

#ifdef EDDY_ZLIB
/* data gzip-compressed into a malloc'd buffer. */
static char *gzip_of(const char *data, size_t len, size_t *out)
{
    z_stream z = {0};
    size_t cap = len + 64;
    char *b = malloc(cap);

    assert_non_null(b);
    assert_int_equal(
        deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)(uintptr_t)data;
    z.avail_in = (unsigned)len;
    z.next_out = (unsigned char *)b;
    z.avail_out = (unsigned)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out = z.total_out;
    deflateEnd(&z);
    return b;
}
#endif

/* The bytes of a case (the generated ones made here); free them. */
static char *bad_bytes(const bad_case *bc, size_t *n)
{
    char *b;
    size_t o = 0;

    if (bc->bytes != NULL) {
        b = malloc(bc->len + 1);
        memcpy(b, bc->bytes, bc->len);
        *n = bc->len;
        return b;
    }
    b = malloc(8192);
    assert_non_null(b);
    switch (bc->len) {
    case 0: /* a head of 1 KiB + 1 */
        o = (size_t)sprintf(b, OKL "X: ");
        while (o < BAD_MAX_HEAD + 1)
            b[o++] = 'x';
        o += (size_t)sprintf(b + o, "\r\n\r\n");
        break;
    case 1: /* chunks of 300, four of them */
        o = (size_t)sprintf(b, OKL "Transfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 4; i++) {
            o += (size_t)sprintf(b + o, "12c\r\n");
            memset(b + o, 'c', 300);
            o += 300;
            o += (size_t)sprintf(b + o, "\r\n");
        }
        o += (size_t)sprintf(b + o, "0\r\n\r\n");
        break;
    case 2: /* until the close, 1001 bytes */
        o = (size_t)sprintf(b, OKL "\r\n");
        memset(b + o, 'd', 1001);
        o += 1001;
        break;
#ifdef EDDY_ZLIB
    case 3:
    case 4: { /* 4000 zeros gzipped; or 500, the gzip cut */
        static char zeros[4000];
        size_t zn;
        char *z = gzip_of(zeros, bc->len == 3 ? sizeof zeros : 500, &zn);

        if (bc->len == 4)
            zn -= 6; /* the CRC and length lost */
        o = (size_t)sprintf(b,
                            OKL "Content-Encoding: gzip\r\n"
                                "Content-Length: %zu\r\n\r\n",
                            zn);
        memcpy(b + o, z, zn);
        o += zn;
        free(z);
        break;
    }
#endif
    default:
        fail();
    }
    *n = o;
    return b;
}

static eddy_http_client *bad_client(eddy_loop *loop)
{
    eddy_http_client_options o = {0};

    o.max_header_size = BAD_MAX_HEAD;
    o.max_headers = BAD_MAX_HEADERS;
    o.max_body_size = BAD_MAX_BODY;
    return client_new(loop, &o);
}

/* Each case whole and split at every byte (a few, under valgrind), the
 * body whole and streamed: the same error every time, and nothing handed
 * over as a body, but for a streamed body whose error lies in the body
 * (what came before the error was streamed; the final callback says the
 * body is bad). */
static void test_malformed_responses(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = bad_client(loop);
    eddy_http_fetch_options o = {0};
    script sc;
    result r;
    size_t runs = 0;

    (void)state;
    sc_open(&sc);
    for (size_t i = 0; i < NBAD; i++) {
        const bad_case *bc = &bad_cases[i];
        size_t n, step;
        char *b = bad_bytes(bc, &n);

        step = tu_valgrind() && n > 8 ? n / 7 : 1;
        o.flags = bc->flags;
        o.on_chunk = NULL;
        for (size_t k = 0; k < (n > 0 ? n : 1); k += (k == 0 ? 1 : step)) {
            for (int stream = 0; stream < 2; stream++) {
                if (getenv("TU_TRACE") != NULL)
                    fprintf(stderr, "case %zu '%s' k %zu stream %d\n", i,
                            bc->what, k, stream);
                o.on_chunk = stream ? on_chunk : NULL;
                scripted(loop, c, &sc, &o, b, n, k, bc->close, &r);
                if (r.status != bc->want ||
                    (r.body_len != 0 && !(stream && bc->in_body)))
                    fail_msg("'%s' split at %zu%s: status %d (%s), body %zu "
                             "bytes; want %d",
                             bc->what, k, stream ? ", streamed" : "", r.status,
                             eddy_strerror(r.status), r.body_len, bc->want);
                r_free(&r);
                runs++;
                sc_drop(&sc);
            }
        }
        free(b);
    }
    /* Every one of them closed its connection. */
    assert_int_equal(stats(c).connections_total, runs);
    settle(loop);
    assert_int_equal(stats(c).connections, 0);
    if (getenv("TU_COUNT") != NULL)
        fprintf(stderr, "%zu malformed or truncated responses, %zu runs\n",
                NBAD, runs);
    sc_close(&sc);
    finish(loop, c);
}

/* --- what servers may send ----------------------------------------------- */

typedef struct good_case {
    const char *what;
    const char *bytes;
    size_t len;
    const char *method; /* NULL: GET */
    int code;
    const char *body;
    const char *field; /* a line the head must have */
    int keep;          /* the connection stays in the pool */
    int close;         /* the server closes after sending */
} good_case;

static const good_case good_cases[] = {
    {"Content-Length", SIN(OKL "Content-Length: 5\r\n\r\nhello"), NULL, 200,
     "hello", "Content-Length: 5", 1},
    {"chunked, with extensions and a trailer",
     SIN(OKL "Transfer-Encoding: chunked\r\n\r\n"
             "3;a=b\r\nhel\r\n2\r\nlo\r\n0\r\nX-Sum: 1\r\n\r\n"),
     NULL, 200, "hello", "Transfer-Encoding: chunked", 1},
    {"close-delimited, ended by a clean close", SIN(OKL "\r\nhello"), NULL, 200,
     "hello", NULL, 0, 1},
    {"HTTP/1.0 close-delimited", SIN("HTTP/1.0 200 OK\r\n\r\nhello"), NULL, 200,
     "hello", NULL, 0, 1},
    {"HTTP/1.0 keep-alive with a length",
     SIN("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n"
         "\r\nok"),
     NULL, 200, "ok", NULL, 1},
    {"HTTP/1.0 with a length and no keep-alive",
     SIN("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), NULL, 200, "ok",
     NULL, 0},
    {"Connection: close",
     SIN(OKL "Connection: close\r\nContent-Length: 2\r\n\r\nok"), NULL, 200,
     "ok", NULL, 0},
    {"1xx responses skipped",
     SIN("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
         "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" OKL
         "Content-Length: 2\r\n\r\nok"),
     NULL, 200, "ok", "Content-Length: 2", 1},
    {"204 has no body, whatever it declares",
     SIN("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"), NULL, 204, "",
     "Content-Length: 5", 1},
    {"304 has no body, whatever it declares",
     SIN("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"),
     NULL, 304, "", "Transfer-Encoding: chunked", 1},
    {"HEAD has no body, whatever it declares",
     SIN(OKL "Content-Length: 5\r\n\r\n"), "HEAD", 200, "", "Content-Length: 5",
     1},
    {"an obs-fold is SPs",
     SIN(OKL "X-Fold: a\r\n b\r\n\tc\r\nContent-Length:"
             "\r\n 2\r\n\r\nok"),
     NULL, 200, "ok", "X-Fold: a   b  \tc", 1},
    {"no reason phrase", SIN("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"),
     NULL, 200, "ok", NULL, 1},
    {"a 500 is a response",
     SIN("HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\n!"), NULL, 500, "!",
     "Oops", 1},
    {"equal Content-Lengths",
     SIN(OKL "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok"), NULL, 200,
     "ok", NULL, 1},
    {"bytes after the response: good, and the connection closes",
     SIN(OKL "Content-Length: 2\r\n\r\nokEXTRA"), NULL, 200, "ok", NULL, 0},
    {"a 3xx without Location is a response",
     SIN("HTTP/1.1 302 Found\r\nContent-Length: 2\r\n\r\nok"), NULL, 302, "ok",
     NULL, 1},
};

#define NGOOD (sizeof good_cases / sizeof good_cases[0])

/* Each whole and split at every byte, whole and streamed: the same
 * response, and the connection kept or closed as it should be. */
static void test_valid_responses(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    script sc;
    result r;

    (void)state;
    sc_open(&sc);
    for (size_t i = 0; i < NGOOD; i++) {
        const good_case *g = &good_cases[i];
        size_t step = tu_valgrind() && g->len > 8 ? g->len / 5 : 1;

        for (size_t k = 0; k < g->len; k += (k == 0 ? 1 : step)) {
            for (int stream = 0; stream < 2; stream++) {
                uint64_t total = stats(c).connections_total;

                o.method = g->method;
                o.on_chunk = stream ? on_chunk : NULL;
                scripted(loop, c, &sc, &o, g->bytes, g->len, k, g->close, &r);
                if (r.status != 0 || r.code != g->code ||
                    strcmp(r.body, g->body) != 0 ||
                    (g->field != NULL && !has(&r, g->field)))
                    fail_msg("'%s' split at %zu%s: status %d (%s), code %d, "
                             "body '%s', head '%s'",
                             g->what, k, stream ? ", streamed" : "", r.status,
                             eddy_strerror(r.status), r.code, r.body, r.head);
                r_free(&r);
                settle(loop);
                if ((int)stats(c).idle != g->keep)
                    fail_msg("'%s' split at %zu: %d idle, want %d", g->what, k,
                             (int)stats(c).idle, g->keep);
                /* A kept connection carries the next request. */
                if (g->keep) {
                    static const char next[] = OKL "Content-Length: 1\r\n\r\n1";

                    scripted(loop, c, &sc, NULL, next, sizeof next - 1, 0, 0,
                             &r);
                    assert_int_equal(r.status, 0);
                    assert_string_equal(r.body, "1");
                    assert_int_equal(stats(c).connections_total, total + 1);
                    r_free(&r);
                }
                sc_drop(&sc);
                settle(loop);
                assert_int_equal(stats(c).connections, 0);
            }
        }
    }
    sc_close(&sc);
    finish(loop, c);
}

/* --- the pool ------------------------------------------------------------ */

typedef struct counter {
    int *n;
    int want;
} counter;

static int count_cond(void *arg)
{
    counter *w = arg;

    return *w->n >= w->want;
}

static void run_until_int(eddy_loop *loop, int *n, int want)
{
    counter w = {n, want};

    assert_true(tu_run_until(loop, count_cond, &w, ITER, WAIT_MS));
}

static int all_done(result *r, int n)
{
    for (int i = 0; i < n; i++)
        if (!r[i].done)
            return 0;
    return 1;
}

typedef struct results {
    result *r;
    int n;
} results;

static int all_done_cond(void *arg)
{
    results *rs = arg;

    return all_done(rs->r, rs->n);
}

static void wait_all(eddy_loop *loop, result *r, int n)
{
    results rs = {r, n};

    assert_true(tu_run_until(loop, all_done_cond, &rs, ITER, WAIT_MS));
}

/* max_per_host connections at most; the rest wait, in order. */
static void test_pool_per_host_limit(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    result r[5];
    srv sv;

    (void)state;
    co.max_per_host = 2;
    c = client_new(loop, &co);
    srv_start(loop, &sv);
    memset(r, 0, sizeof r);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/hold"),
                                                NULL, on_done, &r[i], &r[i].f),
                         0);
    assert_int_equal(stats(c).fetches, 5);
    run_until_int(loop, &sv.requests, 2);
    settle(loop);
    assert_int_equal(sv.requests, 2);
    assert_int_equal(stats(c).connections, 2);
    assert_int_equal(stats(c).waiting, 3);
    for (int i = 0; i < 5; i++) {
        release_one(&sv);
        run_until_int(loop, &r[i].done, 1);
        assert_int_equal(r[i].status, 0);
        assert_string_equal(r[i].body, "held");
        for (int j = i + 1; j < 5; j++) /* in order */
            assert_int_equal(r[j].done, 0);
        if (i < 3)
            run_until_int(loop, &sv.requests, 3 + i);
    }
    assert_int_equal(stats(c).connections_total, 2);
    assert_int_equal(stats(c).waiting, 0);
    assert_int_equal(stats(c).fetches, 0);
    assert_int_equal(stats(c).idle, 2);
    for (int i = 0; i < 5; i++)
        r_free(&r[i]);
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* At max_connections, an idle connection to another host is closed to
 * make room for a fetch that waits. */
static void test_pool_total_limit(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    result r[3];
    srv a, b;

    (void)state;
    co.max_connections = 2;
    co.max_per_host = 2;
    c = client_new(loop, &co);
    srv_start(loop, &a);
    srv_start(loop, &b);
    memset(r, 0, sizeof r);
    for (int i = 0; i < 2; i++)
        assert_int_equal(eddy_http_client_fetch(c, url_of(a.port, "/hold"),
                                                NULL, on_done, &r[i], NULL),
                         0);
    run_until_int(loop, &a.requests, 2);
    assert_int_equal(eddy_http_client_fetch(c, url_of(b.port, "/"), NULL,
                                            on_done, &r[2], NULL),
                     0);
    settle(loop);
    assert_int_equal(stats(c).waiting, 1);
    assert_int_equal(stats(c).connections, 2);
    assert_int_equal(b.requests, 0);
    release_one(&a);
    wait_done(loop, &r[2]);
    assert_int_equal(r[2].status, 0);
    assert_string_equal(r[2].body, "Hello, World");
    assert_int_equal(stats(c).connections_total, 3);
    assert_true(stats(c).connections <= 2);
    release_one(&a);
    wait_all(loop, r, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].status, 0);
        r_free(&r[i]);
    }
    srv_stop(loop, &a);
    srv_stop(loop, &b);
    finish(loop, c);
}

static int idle_zero(void *arg)
{
    return stats(arg).idle == 0 && stats(arg).connections == 0;
}

static void test_pool_idle_expiry(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    uint64_t t0;
    srv sv;
    result r;

    (void)state;
    co.pool_idle_ms = 50;
    c = client_new(loop, &co);
    srv_start(loop, &sv);
    fetch_wait(loop, c, url_of(sv.port, "/"), NULL, &r);
    r_free(&r);
    t0 = tu_now_ms();
    assert_int_equal(stats(c).idle, 1);
    assert_true(tu_run_until(loop, idle_zero, c, ITER, WAIT_MS));
    assert_true(tu_now_ms() - t0 >= 40);
    /* and the next fetch makes a new one */
    fetch_wait(loop, c, url_of(sv.port, "/"), NULL, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(stats(c).connections_total, 2);
    r_free(&r);
    srv_stop(loop, &sv);
    finish(loop, c);
}

static const char ok1[] = OKL "Content-Length: 1\r\n\r\n1";

/* A server that closes an idle connection: noticed while idle. */
static void test_pool_server_closes_idle(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    script sc;
    result r;

    (void)state;
    sc_open(&sc);
    scripted(loop, c, &sc, NULL, ok1, sizeof ok1 - 1, 0, 0, &r);
    assert_int_equal(r.status, 0);
    r_free(&r);
    assert_int_equal(stats(c).idle, 1);
    sc_drop(&sc);
    assert_true(tu_run_until(loop, idle_zero, c, ITER, WAIT_MS));
    scripted(loop, c, &sc, NULL, ok1, sizeof ok1 - 1, 0, 0, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(stats(c).connections_total, 2);
    assert_int_equal(stats(c).retries, 0);
    r_free(&r);
    sc_close(&sc);
    finish(loop, c);
}

/* One response on a kept connection, then the loop goes on a little, so
 * that the connection is idle since an earlier iteration. */
static void one_kept(eddy_loop *loop, eddy_http_client *c, script *sc)
{
    result r;

    scripted(loop, c, sc, NULL, ok1, sizeof ok1 - 1, 0, 0, &r);
    assert_int_equal(r.status, 0);
    r_free(&r);
    settle(loop);
    assert_int_equal(stats(c).idle, 1);
}

/* The server closed the idle connection, and the loop has not seen it
 * yet: the check before reuse (a peek) finds it; a new connection. */
static void test_retry_alive_check(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    script sc;
    result r;

    (void)state;
    sc_open(&sc);
    one_kept(loop, c, &sc);
    sc_drop(&sc); /* FIN, and no loop iteration before the fetch */
    memset(&r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), NULL,
                                            on_done, &r, NULL),
                     0);
    assert_int_equal(stats(c).idle, 0); /* closed at once */
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    sc_send(&sc, ok1, sizeof ok1 - 1);
    wait_done(loop, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(stats(c).connections_total, 2);
    assert_int_equal(stats(c).retries, 0);
    r_free(&r);
    sc_close(&sc);
    finish(loop, c);
}

/* Without the check: a reset pooled connection fails the write, nothing
 * of the request went out, GET is idempotent: retried, once, on a new
 * connection; a POST is not; a request the server read is not; and a
 * retry that fails too is not retried again. */
static void test_retry_rules(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options post = {0};
    script sc;
    result r;

    (void)state;
    eddy__http_client_skip_alive_check(c, 1);
    sc_open(&sc);

    /* Retried. */
    one_kept(loop, c, &sc);
    sc_reset(&sc);
    memset(&r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), NULL,
                                            on_done, &r, NULL),
                     0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    sc_send(&sc, ok1, sizeof ok1 - 1);
    wait_done(loop, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.body, "1");
    assert_int_equal(stats(c).retries, 1);
    r_free(&r);
    settle(loop);

    /* POST: not idempotent, not retried. */
    post.method = "POST";
    post.body = "x";
    post.body_len = 1;
    sc_reset(&sc);
    memset(&r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), &post,
                                            on_done, &r, NULL),
                     0);
    wait_done(loop, &r);
    assert_true(r.status == -ECONNRESET || r.status == -EPIPE);
    assert_int_equal(stats(c).retries, 1);

    /* The server read the request and closed: it may have acted on it. */
    one_kept(loop, c, &sc);
    memset(&r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), NULL,
                                            on_done, &r, NULL),
                     0);
    sc.req_len = 0;
    sc_request(loop, &sc);
    sc_drop(&sc);
    wait_done(loop, &r);
    assert_int_equal(r.status, EDDY_HTTP_ENORESPONSE);
    assert_int_equal(stats(c).retries, 1);

    /* Retried once, and the retry fails too: that is the answer. */
    one_kept(loop, c, &sc);
    sc_reset(&sc);
    memset(&r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), NULL,
                                            on_done, &r, NULL),
                     0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    sc_drop(&sc);
    wait_done(loop, &r);
    assert_int_equal(r.status, EDDY_HTTP_ENORESPONSE);
    assert_int_equal(stats(c).retries, 2);
    sc_close(&sc);
    finish(loop, c);
}

/* --- redirects ----------------------------------------------------------- */

/* The method and body a redirect of code sends, from one with method m. */
static void redirect_case(eddy_loop *loop, eddy_http_client *c, srv *sv,
                          int code, const char *m, const char *want_m,
                          int keeps_body, int keeps_type)
{
    eddy_http_header h[] = {EDDY_HEADER("Content-Type", "text/plain"),
                            EDDY_HEADER("X-Keep", "yes")};
    eddy_http_fetch_options o = {0};
    char path[64], line[64];
    result r;

    o.method = m;
    o.headers = h;
    o.nheaders = 2;
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        o.body = "the body";
        o.body_len = 8;
    }
    snprintf(path, sizeof path, "/r/%d/1?to=/echo/x", code);
    fetch_wait(loop, c, url_of(sv->port, path), &o, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.redirects, 1);
    assert_string_equal(r.url, url_of(sv->port, "/echo/x"));
    snprintf(line, sizeof line, "%s /echo/x\n", want_m);
    if (strncmp(sv->last, line, strlen(line)) != 0)
        fail_msg("%d from %s: the server saw '%.40s', want %s", code, m,
                 sv->last, want_m);
    assert_non_null(strstr(sv->last, "X-Keep: yes\n"));
    if (keeps_body)
        assert_non_null(strstr(sv->last, "\n\nthe body"));
    else
        assert_null(strstr(sv->last, "the body"));
    if (keeps_type)
        assert_non_null(strstr(sv->last, "Content-Type: text/plain\n"));
    else
        assert_null(strstr(sv->last, "Content-Type"));
    r_free(&r);
}

static void test_redirect_methods(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    srv sv;

    (void)state;
    srv_start(loop, &sv);
    /* (the body-describing fields go when the method becomes GET) */
    redirect_case(loop, c, &sv, 301, "GET", "GET", 0, 1);
    redirect_case(loop, c, &sv, 301, "POST", "GET", 0, 0);
    redirect_case(loop, c, &sv, 302, "POST", "GET", 0, 0);
    redirect_case(loop, c, &sv, 301, "PUT", "PUT", 1, 1);
    redirect_case(loop, c, &sv, 302, "DELETE", "DELETE", 1, 1);
    redirect_case(loop, c, &sv, 303, "POST", "GET", 0, 0);
    redirect_case(loop, c, &sv, 303, "PUT", "GET", 0, 0);
    redirect_case(loop, c, &sv, 307, "POST", "POST", 1, 1);
    redirect_case(loop, c, &sv, 308, "PUT", "PUT", 1, 1);
    redirect_case(loop, c, &sv, 307, "GET", "GET", 0, 1);
    { /* 303 keeps HEAD */
        eddy_http_fetch_options o = {0};
        result r;

        o.method = "HEAD";
        fetch_wait(loop, c, url_of(sv.port, "/r/303/1?to=/echo/h"), &o, &r);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.body_len, 0);
        assert_int_equal(strncmp(sv.last, "HEAD /echo/h\n", 13), 0);
        r_free(&r);
    }
    /* One connection carried them all: the 3xx bodies were read. */
    assert_int_equal(stats(c).connections_total, 1);
    srv_stop(loop, &sv);
    finish(loop, c);
}

static void test_redirect_chain_and_limit(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    srv sv;
    result r;

    (void)state;
    srv_start(loop, &sv);
    fetch_wait(loop, c, url_of(sv.port, "/r/302/5?to=/"), NULL, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.redirects, 5);
    assert_string_equal(r.body, "Hello, World");
    r_free(&r);
    fetch_wait(loop, c, url_of(sv.port, "/r/302/6?to=/"), NULL, &r);
    assert_int_equal(r.status, EDDY_HTTP_EREDIRECTS);
    r_free(&r);
    o.max_redirects = 1;
    fetch_wait(loop, c, url_of(sv.port, "/r/307/2?to=/"), &o, &r);
    assert_int_equal(r.status, EDDY_HTTP_EREDIRECTS);
    r_free(&r);
    /* Not followed: the 3xx is the response. */
    o.flags = EDDY_FETCH_NO_REDIRECTS;
    fetch_wait(loop, c, url_of(sv.port, "/r/301/1?to=/"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.code, 301);
    assert_string_equal(r.body, "moved");
    assert_true(has(&r, "Location: /\n"));
    r_free(&r);
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* Locations relative to the URL they answer (RFC 3986 5.2). */
static void test_redirect_locations(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    char to[256], path[300];
    srv sv;
    result r;
    static const struct {
        const char *to, *lands;
    } cases[] = {
        {"../../echo/a", "/echo/a"},
        {"../../echo/./b/../c%3Fq=1", "/echo/c?q=1"},
        {"/echo/d%23fragment", "/echo/d"},
        {"/echo/with%20space", "/echo/with%20space"},
        {"/echo/caf%C3%A9", "/echo/caf%C3%A9"},
    };

    (void)state;
    srv_start(loop, &sv);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/r/302/1?to=%s", cases[i].to);
        fetch_wait(loop, c, url_of(sv.port, path), NULL, &r);
        if (r.status != 0 || strcmp(r.url, url_of(sv.port, cases[i].lands)))
            fail_msg("Location %s: status %d, at %s", cases[i].to, r.status,
                     r.url);
        r_free(&r);
    }
    /* scheme-relative, and absolute */
    snprintf(to, sizeof to, "/r/302/1?to=//127.0.0.1:%d/echo/e", sv.port);
    fetch_wait(loop, c, url_of(sv.port, to), NULL, &r);
    assert_string_equal(r.url, url_of(sv.port, "/echo/e"));
    r_free(&r);
    snprintf(to, sizeof to, "/r/302/1?to=HTTP://127.0.0.1:%d/echo/f", sv.port);
    fetch_wait(loop, c, url_of(sv.port, to), NULL, &r);
    assert_string_equal(r.url, url_of(sv.port, "/echo/f"));
    r_free(&r);
    /* Where the client cannot go. */
    fetch_wait(loop, c, url_of(sv.port, "/r/302/1?to=ftp://x/"), NULL, &r);
    assert_int_equal(r.status, EDDY_HTTP_EBADREDIRECT);
    assert_true(strlen(r.detail) > 0);
    r_free(&r);
    fetch_wait(loop, c, url_of(sv.port, "/r/302/1?to=http://a@b/"), NULL, &r);
    assert_int_equal(r.status, EDDY_HTTP_EBADREDIRECT);
    r_free(&r);
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* Credentials go to the origin they were given for, and to no other. */
static void test_redirect_credentials(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_header h[] = {EDDY_HEADER("Authorization", "Basic eDp5"),
                            EDDY_HEADER("Cookie", "s=1"),
                            EDDY_HEADER("Proxy-Authorization", "Basic eg=="),
                            EDDY_HEADER("X-Other", "kept")};
    eddy_http_fetch_options o = {0};
    char path[256];
    srv a, b;
    result r;

    (void)state;
    srv_start(loop, &a);
    srv_start(loop, &b);
    o.headers = h;
    o.nheaders = 4;
    /* Same origin: kept. */
    fetch_wait(loop, c, url_of(a.port, "/r/302/1?to=/echo/same"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(a.last, "Authorization: Basic eDp5\n"));
    assert_non_null(strstr(a.last, "Cookie: s=1\n"));
    r_free(&r);
    /* Another port is another origin: dropped, the rest kept. */
    snprintf(path, sizeof path, "/r/307/1?to=http://127.0.0.1:%d/echo/other",
             b.port);
    fetch_wait(loop, c, url_of(a.port, path), &o, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(strncmp(b.last, "GET /echo/other\n", 16), 0);
    assert_null(strstr(b.last, "Authorization"));
    assert_null(strstr(b.last, "Cookie"));
    assert_non_null(strstr(b.last, "X-Other: kept\n"));
    assert_non_null(strstr(b.last, "Host: 127.0.0.1:"));
    r_free(&r);
    srv_stop(loop, &a);
    srv_stop(loop, &b);
    finish(loop, c);
}

/* --- timeouts ------------------------------------------------------------ */

/* A listening socket whose backlog is full: Linux drops the SYNs of more
 * clients, which then wait to connect, on loopback. */
static int full_backlog(int *filler)
{
    int fd, port;
    size_t n;

    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 1, 0, &fd, 1, &n), 0);
    port = eddy_socket_port(fd);
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in a = {0};

        filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        connect(filler[i], (struct sockaddr *)&a, sizeof a);
    }
    poll(NULL, 0, 20); /* (the handshakes complete in the kernel) */
    filler[2] = fd;
    return port;
}

static void test_connect_timeout(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    int filler[3], port = full_backlog(filler);
    uint64_t t0 = tu_now_ms();
    result r;

    (void)state;
    o.connect_timeout_ms = 150;
    fetch_wait(loop, c, url_of(port, "/"), &o, &r);
    assert_int_equal(r.status, EDDY_HTTP_ECONNTIMEOUT);
    assert_true(tu_now_ms() - t0 >= 140);
    settle(loop);
    assert_int_equal(stats(c).connections, 0);
    for (int i = 0; i < 3; i++)
        close(filler[i]);
    finish(loop, c);
}

static void test_request_timeout(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    eddy_http_fetch_options o = {0};
    uint64_t t0;
    script sc;
    result r, q;
    srv sv;

    (void)state;
    co.max_per_host = 1;
    c = client_new(loop, &co);
    sc_open(&sc);
    /* A server that never answers. */
    o.request_timeout_ms = 100;
    memset(&r, 0, sizeof r);
    t0 = tu_now_ms();
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc.port, "/"), &o, on_done, &r, NULL),
        0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    wait_done(loop, &r);
    assert_int_equal(r.status, EDDY_HTTP_EREQTIMEOUT);
    assert_true(tu_now_ms() - t0 >= 90);
    settle(loop);
    assert_int_equal(stats(c).connections, 0); /* closed */
    sc_drop(&sc);
    /* A fetch that waits in the queue the whole time. */
    srv_start(loop, &sv);
    memset(&r, 0, sizeof r);
    memset(&q, 0, sizeof q);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/hold"), NULL,
                                            on_done, &q, NULL),
                     0);
    run_until_int(loop, &sv.requests, 1);
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sv.port, "/"), &o, on_done, &r, NULL),
        0);
    assert_int_equal(stats(c).waiting, 1);
    wait_done(loop, &r);
    assert_int_equal(r.status, EDDY_HTTP_EREQTIMEOUT);
    assert_int_equal(stats(c).waiting, 0);
    release_one(&sv);
    wait_done(loop, &q);
    assert_int_equal(q.status, 0);
    r_free(&q);
    srv_stop(loop, &sv);
    sc_close(&sc);
    finish(loop, c);
}

typedef struct dribble {
    script *sc;
    const char *p;
    size_t at, len;
} dribble;

static void dribble_cb(eddy_loop *loop, void *arg)
{
    dribble *d = arg;

    (void)loop;
    if (d->at < d->len)
        sc_send(d->sc, d->p + d->at++, 1);
}

static void test_idle_timeout(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    static const char slow[] = OKL "Content-Length: 100\r\n\r\n0123456789";
    eddy_timer_id t;
    dribble d;
    script sc;
    result r;

    (void)state;
    sc_open(&sc);
    /* The head, part of the body, then silence. */
    o.idle_timeout_ms = 100;
    o.request_timeout_ms = 5000;
    memset(&r, 0, sizeof r);
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc.port, "/"), &o, on_done, &r, NULL),
        0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    sc_send(&sc, slow, sizeof slow - 1);
    wait_done(loop, &r);
    assert_int_equal(r.status, EDDY_HTTP_EIDLETIMEOUT);
    /* A byte every 20 ms: never idle for 100, but over the request's 300. */
    o.request_timeout_ms = 300;
    memset(&r, 0, sizeof r);
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc.port, "/"), &o, on_done, &r, NULL),
        0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    d = (dribble){&sc, slow, 0, sizeof slow - 1};
    assert_int_equal(eddy_loop_call_every(loop, 20, dribble_cb, &d, &t), 0);
    wait_done(loop, &r);
    eddy_loop_remove_timeout(loop, t);
    assert_int_equal(r.status, EDDY_HTTP_EREQTIMEOUT);
    assert_true(d.at > 5);
    sc_close(&sc);
    finish(loop, c);
}

/* --- cancelling ---------------------------------------------------------- */

/* Cancelled from on_headers and from on_chunk: no callback after, the
 * connection closed (the response was not read to its end). */
static void test_cancel_in_callbacks(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    srv sv;
    result r;

    (void)state;
    srv_start(loop, &sv);
    o.on_headers = on_headers;
    o.on_chunk = on_chunk;
    for (int where = 0; where < 2; where++) {
        memset(&r, 0, sizeof r);
        r.cancel_in_headers = where == 0;
        r.cancel_in_chunk = where == 1 ? 2 : 0;
        assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/big"), &o,
                                                on_done, &r, &r.f),
                         0);
        run_until_int(loop, &r.headers_seen, 1);
        if (where == 1)
            run_until_int(loop, &r.chunks, 2);
        settle(loop);
        assert_int_equal(r.done, 0);
        assert_int_equal(r.chunks, where == 1 ? 2 : 0);
        assert_int_equal(stats(c).fetches, 0);
        assert_int_equal(stats(c).connections, 0);
        r_free(&r);
    }
    srv_stop(loop, &sv);
    finish(loop, c);
}

static void cancel_timer_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    eddy_http_fetch_cancel(arg);
}

/* Cancelled while waiting for its connection, while it is made, while
 * waiting for the answer, and from another fetch's final callback and a
 * timer. */
static void test_cancel_anywhere(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    eddy_timer_id t;
    result r[3];
    script sc;
    srv sv;

    (void)state;
    co.max_per_host = 1;
    c = client_new(loop, &co);
    srv_start(loop, &sv);
    sc_open(&sc);
    /* While the connection is made: it joins the pool all the same. */
    memset(r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/"), NULL,
                                            on_done, &r[0], &r[0].f),
                     0);
    eddy_http_fetch_cancel(r[0].f);
    assert_int_equal(stats(c).fetches, 0);
    for (int i = 0; i < 50 && stats(c).idle == 0; i++)
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
    assert_int_equal(stats(c).idle, 1);
    assert_int_equal(r[0].done, 0);
    /* In the queue, from another fetch's final callback. */
    memset(r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/hold"), NULL,
                                            on_done, &r[0], &r[0].f),
                     0);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/"), NULL,
                                            on_done, &r[1], &r[1].f),
                     0);
    r[0].cancel_other = r[1].f;
    run_until_int(loop, &sv.requests, 1);
    assert_int_equal(stats(c).waiting, 1);
    release_one(&sv);
    wait_done(loop, &r[0]);
    settle(loop);
    assert_int_equal(r[1].done, 0);
    assert_int_equal(stats(c).waiting, 0);
    assert_int_equal(sv.requests, 1);
    r_free(&r[0]);
    /* Waiting for the answer, from a timer: the connection closes. */
    memset(r, 0, sizeof r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), NULL,
                                            on_done, &r[0], &r[0].f),
                     0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    assert_int_equal(eddy_loop_call_later(loop, 0, cancel_timer_cb, r[0].f, &t),
                     0);
    settle(loop);
    assert_int_equal(r[0].done, 0);
    {
        char b;
        struct pollfd pf = {sc.fd, POLLIN, 0};

        assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
        assert_int_equal(recv(sc.fd, &b, 1, 0), 0); /* the client closed */
    }
    /* Cancelling at once, before anything. */
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), NULL,
                                            on_done, &r[0], &r[0].f),
                     0);
    eddy_http_fetch_cancel(r[0].f);
    eddy_http_fetch_cancel(NULL);
    settle(loop);
    assert_int_equal(r[0].done, 0);
    srv_stop(loop, &sv);
    sc_close(&sc);
    finish(loop, c);
}

typedef struct freeing {
    eddy_http_client *c;
    int chunks, done;
} freeing;

static void free_in_chunk(eddy_http_fetch *f, const char *p, size_t n,
                          void *arg)
{
    freeing *fr = arg;

    (void)f;
    (void)p;
    (void)n;
    if (fr->chunks++ == 0)
        eddy_http_client_free(fr->c);
}

static void free_done(eddy_http_fetch *f, int status,
                      const eddy_http_response *rs, void *arg)
{
    freeing *fr = arg;

    (void)f;
    (void)status;
    (void)rs;
    fr->done++;
}

/* The client freed from a final callback, and from on_chunk, with other
 * fetches under way: no callback runs after, nothing leaks. */
static void test_free_client_inside(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    freeing fr = {0};
    result r[3];
    srv sv;

    (void)state;
    srv_start(loop, &sv);
    memset(r, 0, sizeof r);
    r[0].free_client = c;
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/"), NULL,
                                            on_done, &r[0], NULL),
                     0);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/hold"), NULL,
                                            on_done, &r[1], NULL),
                     0);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/big"), NULL,
                                            on_done, &r[2], NULL),
                     0);
    wait_done(loop, &r[0]);
    settle(loop);
    assert_int_equal(r[1].done + r[2].done, 0);
    r_free(&r[0]);
    for (int i = 0; i < sv.nheld; i++) /* their client is gone */
        eddy_http_respond(sv.held[i], 200, NULL, 0, "x", 1);
    sv.nheld = 0;
    settle(loop);
    /* From on_chunk. */
    c = client_new(loop, NULL);
    fr.c = c;
    o.on_chunk = free_in_chunk;
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/big"), &o,
                                            free_done, &fr, NULL),
                     0);
    run_until_int(loop, &fr.chunks, 1);
    settle(loop);
    assert_int_equal(fr.chunks, 1);
    assert_int_equal(fr.done, 0);
    srv_stop(loop, &sv);
    eddy_loop_close(loop, 0);
}

/* --- bodies from producers ----------------------------------------------- */

/* The fetch's arg: its result first (on_done takes it), then the
 * producer's state. */
typedef struct upload {
    result r;
    int calls, pieces, async, cancel_at;
    size_t piece_len, max_queued;
    eddy_loop *loop;
    eddy_http_fetch *f;
    eddy_timer_id t;
} upload;

static void write_piece(upload *u)
{
    static char buf[65536];
    eddy_stream *s = u->f->conn != NULL ? u->f->conn->s : NULL;

    memset(buf, 'a' + u->pieces % 26, u->piece_len);
    assert_int_equal(eddy_http_fetch_write(u->f, buf, u->piece_len), 0);
    u->pieces++;
    if (s != NULL && eddy_stream_write_buffered(s) > u->max_queued)
        u->max_queued = eddy_stream_write_buffered(s);
}

static void produce_later(eddy_loop *loop, void *arg)
{
    upload *u = arg;

    (void)loop;
    u->t = 0;
    write_piece(u);
}

static void produce_cb(eddy_http_fetch *f, void *arg)
{
    upload *u = arg;

    u->f = f;
    u->calls++;
    if (u->cancel_at == u->calls) {
        eddy_http_fetch_cancel(f);
        return;
    }
    if (u->pieces == 64) {
        assert_int_equal(eddy_http_fetch_end_body(f), 0);
        assert_int_equal(eddy_http_fetch_end_body(f), -EALREADY);
        assert_int_equal(eddy_http_fetch_write(f, "x", 1), -EALREADY);
        return;
    }
    if (u->async) /* nothing now: a timer writes the piece */
        assert_int_equal(
            eddy_loop_call_later(u->loop, 0, produce_later, u, &u->t), 0);
    else
        write_piece(u);
}

/* 64 pieces of 64 KiB, chunked, or with a length, written in the
 * producer or later from a timer: the server gets them all, and the
 * client never queues more than a piece and a bit (the producer runs
 * again only once what it wrote is out). */
static void test_producer_bodies(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    upload u;
    srv sv;

    (void)state;
    srv_start(loop, &sv);
    o.method = "PUT";
    o.body_producer = produce_cb;
    for (int mode = 0; mode < 3; mode++) {
        memset(&u, 0, sizeof u);
        u.loop = loop;
        u.piece_len = 65536;
        u.async = mode == 1;
        o.body_length = mode == 2 ? 64 * 65536 : 0;
        assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/count"),
                                                &o, on_done, &u, &u.f),
                         0);
        /* Before the connection: not yet. */
        assert_int_equal(eddy_http_fetch_write(u.f, "x", 1), -EAGAIN);
        assert_int_equal(eddy_http_fetch_end_body(u.f),
                         mode == 2 ? -EINVAL : -EAGAIN);
        wait_done(loop, &u.r);
        assert_int_equal(u.r.status, 0);
        assert_string_equal(u.r.body, "4194304");
        assert_int_equal(u.pieces, 64);
        assert_int_equal(u.calls, u.async ? 65 : 65);
        assert_true(u.max_queued <= 65536 + 64);
        if (mode == 2)
            assert_non_null(strstr(sv.last, "Content-Length: 4194304\n"));
        else
            assert_non_null(strstr(sv.last, "Transfer-Encoding: chunked\n"));
        r_free(&u.r);
    }
    assert_int_equal(stats(c).connections_total, 1);
    srv_stop(loop, &sv);
    finish(loop, c);
}

static void short_producer(eddy_http_fetch *f, void *arg)
{
    upload *u = arg;

    u->calls++;
    if (u->calls == 1) {
        assert_int_equal(eddy_http_fetch_write(f, "abc", 3), 0);
        assert_int_equal(eddy_http_fetch_write(f, "defg", 4), -EINVAL);
        assert_int_equal(eddy_http_fetch_end_body(f), -EINVAL); /* short */
        assert_int_equal(eddy_http_fetch_write(f, "d", 1), 0);
        assert_int_equal(eddy_http_fetch_write(f, NULL, 1), -EINVAL);
        assert_int_equal(eddy_http_fetch_end_body(f), 0);
    }
}

/* The errors of eddy_http_fetch_write() and _end_body(), each followed
 * by what the header says may come next; a producer cancelled. */
static void test_producer_errors(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    upload u;
    srv sv;

    (void)state;
    srv_start(loop, &sv);
    /* No producer. */
    memset(&u, 0, sizeof u);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/"), NULL,
                                            on_done, &u, &u.f),
                     0);
    assert_int_equal(eddy_http_fetch_write(u.f, "x", 1), -EINVAL);
    assert_int_equal(eddy_http_fetch_end_body(u.f), -EINVAL);
    wait_done(loop, &u.r);
    r_free(&u.r);
    /* Past the length, short of it. */
    memset(&u, 0, sizeof u);
    o.method = "POST";
    o.body_producer = short_producer;
    o.body_length = 4;
    fetch_wait(loop, c, url_of(sv.port, "/count"), &o, &u.r);
    assert_int_equal(u.r.status, 0);
    assert_string_equal(u.r.body, "4");
    r_free(&u.r);
    /* Cancelled inside the producer: the connection closes. */
    memset(&u, 0, sizeof u);
    u.loop = loop;
    u.piece_len = 10;
    u.cancel_at = 2;
    o.body_producer = produce_cb;
    o.body_length = 0;
    assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/count"), &o,
                                            on_done, &u, &u.f),
                     0);
    run_until_int(loop, &u.calls, 2);
    settle(loop);
    assert_int_equal(u.r.done, 0);
    assert_int_equal(stats(c).fetches, 0);
    assert_int_equal(stats(c).connections, 0);
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* A response that comes while the producer still writes: its writes are
 * -EPIPE from then on (the body was ended for it: chunked), and the
 * response is the answer. */
static void early_headers(eddy_http_fetch *f, const eddy_http_response *rs,
                          void *arg)
{
    upload *u = arg;

    on_headers(f, rs, &u->r);
    assert_int_equal(eddy_http_fetch_write(f, "more", 4), -EPIPE);
    assert_int_equal(eddy_http_fetch_end_body(f), -EPIPE);
    u->calls += 100;
}

static void one_piece(eddy_http_fetch *f, void *arg)
{
    upload *u = arg;

    if (u->calls++ == 0)
        assert_int_equal(eddy_http_fetch_write(f, "piece", 5), 0);
}

static void test_producer_early_response(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    script sc;
    upload u;

    (void)state;
    sc_open(&sc);
    memset(&u, 0, sizeof u);
    o.method = "POST";
    o.body_producer = one_piece;
    o.on_headers = early_headers;
    o.on_chunk = on_chunk;
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/"), &o,
                                            on_done, &u, NULL),
                     0);
    sc_accept(loop, &sc);
    sc_wait_for(loop, &sc, "5\r\npiece\r\n");
    sc_send(&sc, ok1, sizeof ok1 - 1);
    wait_done(loop, &u.r);
    assert_int_equal(u.r.status, 0);
    /* twice (the second time it had nothing), then the checks */
    assert_int_equal(u.calls, 102);
    assert_string_equal(u.r.body, "1");
    /* The chunked body was ended for it: the connection stays. */
    sc_wait_for(loop, &sc, "piece\r\n0\r\n\r\n");
    settle(loop);
    assert_int_equal(stats(c).idle, 1);
    r_free(&u.r);
    sc_close(&sc);
    finish(loop, c);
}

/* --- Expect: 100-continue ------------------------------------------------ */

static void test_expect_continue(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    eddy_http_fetch_options o = {0};
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    static const char nope[] =
        "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 2\r\n\r\nno";
    uint64_t t0;
    script sc;
    srv sv;
    result r;
    upload u;

    (void)state;
    co.continue_timeout_ms = 100;
    c = client_new(loop, &co);
    srv_start(loop, &sv);
    sc_open(&sc);
    o.method = "POST";
    o.body = "hello";
    o.body_len = 5;
    o.flags = EDDY_FETCH_EXPECT_CONTINUE;
    /* eddy's server answers 100 Continue: the body follows. */
    fetch_wait(loop, c, url_of(sv.port, "/echo"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.body, "Expect: 100-continue\n"));
    assert_non_null(strstr(r.body, "\n\nhello"));
    r_free(&r);
    srv_stop(loop, &sv);
    assert_true(tu_run_until(loop, idle_zero, c, ITER, WAIT_MS));
    /* A server that says 100 itself: nothing before it. */
    memset(&r, 0, sizeof r);
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc.port, "/"), &o, on_done, &r, NULL),
        0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    settle(loop);
    assert_null(strstr(sc.req, "hello"));
    sc_send(&sc, cont, sizeof cont - 1);
    sc_wait_for(loop, &sc, "\r\n\r\nhello");
    sc_send(&sc, ok1, sizeof ok1 - 1);
    wait_done(loop, &r);
    assert_int_equal(r.status, 0);
    r_free(&r);
    /* A server that says nothing: the body goes after continue_timeout. */
    memset(&r, 0, sizeof r);
    t0 = tu_now_ms();
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc.port, "/"), &o, on_done, &r, NULL),
        0);
    sc.req_len = 0;
    sc_wait_for(loop, &sc, "\r\n\r\nhello");
    assert_true(tu_now_ms() - t0 >= 90);
    sc_send(&sc, ok1, sizeof ok1 - 1);
    wait_done(loop, &r);
    assert_int_equal(r.status, 0);
    r_free(&r);
    settle(loop);
    assert_int_equal(stats(c).idle, 1);
    /* A final status first: the body is never sent, the connection (which
     * the server may still expect it on) closes. */
    memset(&r, 0, sizeof r);
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc.port, "/"), &o, on_done, &r, NULL),
        0);
    sc.req_len = 0;
    sc_request(loop, &sc);
    sc_send(&sc, nope, sizeof nope - 1);
    wait_done(loop, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.code, 417);
    assert_string_equal(r.body, "no");
    settle(loop);
    assert_int_equal(stats(c).connections, 0);
    request_cond(&sc);
    assert_null(strstr(sc.req, "hello"));
    r_free(&r);
    /* The same with a chunked body: its last chunk ends it at once, and
     * the connection stays. */
    memset(&u, 0, sizeof u);
    u.loop = loop;
    u.piece_len = 10;
    o.body = NULL;
    o.body_len = 0;
    o.body_producer = produce_cb;
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sc.port, "/"), &o, on_done, &u, NULL),
        0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    sc_send(&sc, nope, sizeof nope - 1);
    wait_done(loop, &u.r);
    assert_int_equal(u.r.code, 417);
    assert_int_equal(u.calls, 0); /* the producer never ran */
    settle(loop);
    assert_int_equal(stats(c).idle, 1);
    request_cond(&sc);
    assert_non_null(strstr(sc.req, "\r\n\r\n0\r\n\r\n"));
    r_free(&u.r);
    sc_close(&sc);
    finish(loop, c);
}

/* --- gzip ---------------------------------------------------------------- */

#ifdef EDDY_ZLIB
static char *gz_body;
static size_t gz_len;

static void h_gzip(eddy_http_request *req, void *arg)
{
    eddy_http_header h = EDDY_HEADER("Content-Encoding", "gzip");

    note(arg, req);
    eddy_http_respond(req, 200, &h, 1, gz_body, gz_len);
}
#endif

static void test_gzip(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_fetch_options o = {0};
    srv sv;
    result r;

    (void)state;
    srv_start(loop, &sv);
    o.flags = EDDY_FETCH_GZIP;
#ifndef EDDY_ZLIB
    memset(&r, 0, sizeof r);
    assert_int_equal(
        eddy_http_client_fetch(c, url_of(sv.port, "/"), &o, on_done, &r, NULL),
        -ENOTSUP);
    /* ... and without the flag it works. */
    fetch_wait(loop, c, url_of(sv.port, "/"), NULL, &r);
    assert_int_equal(r.status, 0);
    r_free(&r);
#else
    {
        size_t n = 300000, a, b;
        char *plain = malloc(n), *one, *two;

        for (size_t i = 0; i < n; i++)
            plain[i] = (char)('a' + (i * 7 + i / 1000) % 26);
        /* Two members, concatenated: one body, as gzip(1) reads it. */
        one = gzip_of(plain, n / 2, &a);
        two = gzip_of(plain + n / 2, n - n / 2, &b);
        gz_body = malloc(a + b);
        memcpy(gz_body, one, a);
        memcpy(gz_body + a, two, b);
        gz_len = a + b;
        free(one);
        free(two);
        assert_int_equal(
            eddy_http_server_route(sv.s, NULL, "/gz", 0, h_gzip, &sv), 0);
        fetch_wait(loop, c, url_of(sv.port, "/gz"), &o, &r);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.body_len, n);
        assert_memory_equal(r.body, plain, n);
        assert_true(has(&r, "Content-Encoding: gzip\n"));
        assert_non_null(strstr(sv.last, "Accept-Encoding: gzip\n"));
        r_free(&r);
        /* Streamed, paused at every piece. */
        o.on_chunk = on_chunk;
        memset(&r, 0, sizeof r);
        r.pause_in_chunk = 1;
        assert_int_equal(eddy_http_client_fetch(c, url_of(sv.port, "/gz"), &o,
                                                on_done, &r, &r.f),
                         0);
        for (int i = 0; i < 10000 && !r.done; i++) {
            int k = r.chunks;

            assert_int_equal(eddy_loop_run_once(loop, 5), 0);
            if (r.chunks > k) {
                assert_int_equal(r.chunks, k + 1);
                eddy_http_fetch_resume(r.f);
            }
        }
        assert_int_equal(r.status, 0);
        assert_int_equal(r.body_len, n);
        assert_memory_equal(r.body, plain, n);
        assert_true(r.chunks > 10);
        r_free(&r);
        /* Without the flag: as sent. */
        fetch_wait(loop, c, url_of(sv.port, "/gz"), NULL, &r);
        assert_int_equal(r.body_len, gz_len);
        assert_memory_equal(r.body, gz_body, gz_len);
        assert_null(strstr(sv.last, "Accept-Encoding"));
        r_free(&r);
        free(plain);
        free(gz_body);
    }
#endif
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* --- upgrades ------------------------------------------------------------ */

typedef struct upg {
    result r;
    int upgraded;
    eddy_stream *s;
    char extra[64];
    int code;
    char got[64];
    size_t got_len;
} upg;

static void on_upgrade(eddy_http_fetch *f, const eddy_http_response *rs,
                       eddy_stream *st, const char *extra, size_t n, void *arg)
{
    upg *u = arg;

    u->upgraded++;
    u->code = rs->status;
    u->s = st;
    eddy_http_fetch_cancel(f); /* the fetch is over: nothing */
    snprintf(u->extra, sizeof u->extra, "%.*s", (int)n, extra);
}

static void upg_read(eddy_stream *st, int status, const char *data, size_t len,
                     void *arg)
{
    upg *u = arg;

    (void)st;
    if (status == 0) {
        memcpy(u->got, data, len);
        u->got_len = len;
    }
}

/* 101 to a fetch that asked: the stream and the bytes after the head go
 * to on_upgrade, and the new protocol runs on the stream. */
static void test_upgrade(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_header h[] = {EDDY_HEADER("Upgrade", "echo/1"),
                            EDDY_HEADER("X-Key", "abc")};
    eddy_http_fetch_options o = {0};
    static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: echo/1\r\nConnection: Upgrade\r\n\r\n"
                             "HELLO";
    script sc;
    upg u;

    (void)state;
    sc_open(&sc);
    o.headers = h;
    o.nheaders = 2;
    o.on_upgrade = on_upgrade;
    memset(&u, 0, sizeof u);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc.port, "/ws"), &o,
                                            on_done, &u, NULL),
                     0);
    sc_accept(loop, &sc);
    sc_request(loop, &sc);
    assert_non_null(strstr(sc.req, "GET /ws HTTP/1.1\r\n"));
    assert_non_null(strstr(sc.req, "Connection: Upgrade\r\n"));
    assert_non_null(strstr(sc.req, "Upgrade: echo/1\r\n"));
    sc_send(&sc, sw, sizeof sw - 1);
    run_until_int(loop, &u.upgraded, 1);
    assert_int_equal(u.code, 101);
    assert_string_equal(u.extra, "HELLO");
    assert_int_equal(stats(c).connections, 0);
    assert_int_equal(stats(c).fetches, 0);
    /* The stream is ours: both ways. */
    assert_int_equal(eddy_stream_write(u.s, "ping", 4, NULL, NULL), 0);
    sc.req_len = 0;
    sc_wait_for(loop, &sc, "ping");
    sc_send(&sc, "pong", 4);
    assert_int_equal(eddy_stream_read_bytes(u.s, 4, 0, upg_read, &u), 0);
    while (u.got_len == 0)
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
    assert_memory_equal(u.got, "pong", 4);
    eddy_stream_close(u.s);
    settle(loop);
    assert_int_equal(u.r.done, 0); /* never a final callback */
    /* Asked, and answered 200: a response like any. */
    memset(&u, 0, sizeof u);
    scripted(loop, c, &sc, &o, ok1, sizeof ok1 - 1, 0, 0, &u.r);
    assert_int_equal(u.r.status, 0);
    assert_int_equal(u.upgraded, 0);
    r_free(&u.r);
    sc_close(&sc);
    finish(loop, c);
}

/* --- what eddy_http_client_fetch() refuses ------------------------------- */

static void test_fetch_errors(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_client *c = client_new(loop, NULL);
    eddy_http_client *bad = NULL;
    eddy_http_client_options co = {0};
    eddy_http_fetch_options o = {0};
    eddy_http_header h[1];
    srv sv;
    result r;
    static const char *const urls[] = {
        "",
        "http://",
        "http:///x",
        "http://a b/",
        "http://u:p@h/",
        "http://h:0/",
        "http://h:65536/",
        "http://[::1/",
        "http://h/a b",
        "http://h/\x01",
        "http://h:x/",
        "http//h/",
        "http://h%41/",
        "http://h\xc3\xa9/",
        "//h/",
        "http:h/",
    };

    (void)state;
    srv_start(loop, &sv);
    /* The client. */
    assert_int_equal(eddy_http_client_new(NULL, NULL, &bad), -EINVAL);
    co.user_agent = "bad\r\nX: y";
    assert_int_equal(eddy_http_client_new(loop, &co, &bad), -EINVAL);
    assert_null(bad);
    /* URLs. */
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        if (eddy_http_client_fetch(c, urls[i], NULL, on_done, &r, NULL) !=
            -EINVAL)
            fail_msg("URL '%s' taken", urls[i]);
    assert_int_equal(
        eddy_http_client_fetch(c, "ftp://h/", NULL, on_done, &r, NULL),
        -EPROTONOSUPPORT);
    assert_int_equal(
        eddy_http_client_fetch(c, "gopher://h/", NULL, on_done, &r, NULL),
        -EPROTONOSUPPORT);
    if (eddy_tls_library() == NULL)
        assert_int_equal(
            eddy_http_client_fetch(c, "https://h/", NULL, on_done, &r, NULL),
            -ENOTSUP);
    assert_int_equal(
        eddy_http_client_fetch(NULL, "http://h/", NULL, on_done, &r, NULL),
        -EINVAL);
    assert_int_equal(eddy_http_client_fetch(c, NULL, NULL, on_done, &r, NULL),
                     -EINVAL);
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", NULL, NULL, &r, NULL), -EINVAL);
    /* Methods. */
    o.method = "GE T";
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL), -EINVAL);
    o.method = "CONNECT";
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL), -EINVAL);
    o.method = "";
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL), -EINVAL);
    o.method = NULL;
    /* Fields. */
    o.headers = h;
    o.nheaders = 1;
    {
        static const eddy_http_header bads[] = {
            EDDY_HEADER("Content-Length", "5"),
            EDDY_HEADER("transfer-encoding", "chunked"),
            EDDY_HEADER("Connection", "close"),
            EDDY_HEADER("Expect", "100-continue"),
            EDDY_HEADER("X-A", "b\r\nX-Injected: 1"),
            EDDY_HEADER("X-A", "b\nc"),
            EDDY_HEADER("X A", "b"),
            EDDY_HEADER("", "b"),
            EDDY_HEADER("X-A", "b\x7f"),
        };

        for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
            h[0] = bads[i];
            if (eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL) !=
                -EINVAL)
                fail_msg("field '%s' taken", bads[i].name);
        }
    }
    o.headers = NULL;
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL),
        -EINVAL); /* nheaders without headers */
    o.nheaders = 0;
    /* Bodies. */
    o.body = "x";
    o.body_len = 1;
    o.body_producer = produce_cb;
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL), -EINVAL);
    o.body = NULL;
    o.body_producer = NULL;
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL),
        -EINVAL); /* body_len without body */
    o.body_len = 0;
    o.body_length = 5;
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL),
        -EINVAL); /* body_length without a producer */
    o.body_length = 0;
    /* Upgrades. */
    o.on_upgrade = on_upgrade;
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL),
        -EINVAL); /* no Upgrade field */
    h[0] = (eddy_http_header)EDDY_HEADER("Upgrade", "x");
    o.headers = h;
    o.nheaders = 1;
    o.on_chunk = on_chunk;
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL),
        -EINVAL); /* streaming and upgrading */
    o.on_chunk = NULL;
    o.body = "x";
    o.body_len = 1;
    assert_int_equal(
        eddy_http_client_fetch(c, "http://h/", &o, on_done, &r, NULL),
        -EINVAL); /* a body with an upgrade */
    /* None of it left a trace; the client fetches as before. */
    assert_int_equal(stats(c).fetches, 0);
    assert_int_equal(stats(c).connections, 0);
    fetch_wait(loop, c, url_of(sv.port, "/"), NULL, &r);
    assert_int_equal(r.status, 0);
    r_free(&r);
    srv_stop(loop, &sv);
    finish(loop, c);
}

/* Names for every code, distinct, none of them strerror()'s. */
static void test_error_texts(void **state)
{
    static const int codes[] = {
        EDDY_HTTP_EMALFORMED,   EDDY_HTTP_ETRUNCATED,   EDDY_HTTP_ENORESPONSE,
        EDDY_HTTP_EHEADSIZE,    EDDY_HTTP_EHEADERS,     EDDY_HTTP_EBODYSIZE,
        EDDY_HTTP_EREDIRECTS,   EDDY_HTTP_EBADREDIRECT, EDDY_HTTP_EDECODE,
        EDDY_HTTP_ECONNTIMEOUT, EDDY_HTTP_EREQTIMEOUT,  EDDY_HTTP_EIDLETIMEOUT,
    };
    size_t n = sizeof codes / sizeof codes[0];

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const char *t = eddy_strerror(codes[i]);

        assert_true(codes[i] <= -4050 && codes[i] >= -4069);
        assert_null(strstr(t, "Unknown error"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t, eddy_strerror(codes[j]));
    }
}

/* --- URLs ---------------------------------------------------------------- */

static void test_urls(void **state)
{
    static const struct {
        const char *in, *host, *target, *text;
        int port, https;
    } good[] = {
        {"http://Example.COM", "example.com", "/", "http://example.com/", 80,
         0},
        {"HTTPS://h:443/a?b#c", "h", "/a?b", "https://h/a?b", 443, 1},
        {"http://h:8080?q", "h", "/?q", "http://h:8080/?q", 8080, 0},
        {"http://h:/x", "h", "/x", "http://h/x", 80, 0},
        {"http://[::1]:81/", "::1", "/", "http://[::1]:81/", 81, 0},
        {"http://127.0.0.1/%7e", "127.0.0.1", "/%7e", "http://127.0.0.1/%7e",
         80, 0},
        {"https://a_b.c-d/", "a_b.c-d", "/", "https://a_b.c-d/", 443, 1},
    };
    /* RFC 3986 5.4's examples, with http://a/b/c/d;p?q as the base. */
    static const struct {
        const char *ref, *want;
    } refs[] = {
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g/"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q"},
        {"g#s", "http://a/b/c/g"},
        {";x", "http://a/b/c/;x"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../g", "http://a/g"},
        {"../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {"..g", "http://a/b/c/..g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},
        {"https://x:1/y", "https://x:1/y"},
        {"a b\xc3\xa9", "http://a/b/c/a%20b%C3%A9"},
    };
    eddy__url u, v;

#define LIT(x) (x), sizeof(x) - 1
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(eddy__url_parse(good[i].in, strlen(good[i].in), &u),
                         0);
        assert_string_equal(u.host, good[i].host);
        assert_string_equal(u.target, good[i].target);
        assert_string_equal(u.text, good[i].text);
        assert_int_equal(u.port, good[i].port);
        assert_int_equal(u.https, good[i].https);
        eddy__url_free(&u);
    }
    assert_int_equal(eddy__url_parse(LIT("http://a/b/c/d;p?q"), &u), 0);
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        int err = eddy__url_resolve(&u, refs[i].ref, strlen(refs[i].ref), &v);

        if (err != 0 || strcmp(v.text, refs[i].want) != 0)
            fail_msg("'%s': %d '%s', want '%s'", refs[i].ref, err,
                     err ? "" : v.text, refs[i].want);
        eddy__url_free(&v);
    }
    assert_int_equal(eddy__url_resolve(&u, LIT("ftp://x/"), &v),
                     -EPROTONOSUPPORT);
    assert_int_equal(eddy__url_resolve(&u, LIT("/a\001"), &v), -EINVAL);
    assert_int_equal(eddy__url_parse(LIT("http://a/"), &v), 0);
    assert_true(eddy__url_same_origin(&u, &v));
    eddy__url_free(&v);
    assert_int_equal(eddy__url_parse(LIT("http://a:81/"), &v), 0);
    assert_false(eddy__url_same_origin(&u, &v));
    eddy__url_free(&v);
    assert_int_equal(eddy__url_parse(LIT("https://a:80/"), &v), 0);
    assert_false(eddy__url_same_origin(&u, &v));
    eddy__url_free(&v);
    eddy__url_free(&u);
}

/* --- https --------------------------------------------------------------- */

static char certs[64]; /* tests/certs.sh's output, made by the group setup */

static const char *cert(const char *name)
{
    static char p[4][128];
    static int i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", certs, name);
    return p[i];
}

/* A TLS server of one response: each request on a connection gets it;
 * close_after closes after it (with close_notify, or, with no_notify,
 * without one: a truncation). */
typedef struct tlsrv {
    eddy_loop *loop;
    eddy_tcp_server *srv;
    eddy_tls_ctx *ctx;
    int port;
    const char *resp;
    int close_after, no_notify;
    int requests, handshakes_failed;
    char last[2048];
} tlsrv;

static void tls_read(eddy_stream *s, int status, const char *data, size_t len,
                     void *arg);

static void tls_sent(eddy_stream *s, int status, void *arg)
{
    tlsrv *t = arg;

    if (status != 0)
        return;
    if (t->no_notify) /* the socket ends beneath TLS: no close_notify */
        shutdown(eddy_stream_fd(s), SHUT_RDWR);
    eddy_stream_close(s);
}

static void tls_read(eddy_stream *s, int status, const char *data, size_t len,
                     void *arg)
{
    tlsrv *t = arg;

    if (status != 0) {
        eddy_stream_close(s);
        return;
    }
    t->requests++;
    snprintf(t->last, sizeof t->last, "%.*s", (int)len, data);
    eddy_stream_write(s, t->resp, strlen(t->resp),
                      t->close_after ? tls_sent : NULL, t);
    if (!t->close_after)
        eddy_stream_read_until(s, "\r\n\r\n", 4, 65536, tls_read, t);
}

static void tls_hs(eddy_stream *s, int status, void *arg)
{
    tlsrv *t = arg;

    (void)s;
    if (status != 0)
        t->handshakes_failed++;
}

static void tls_conn(eddy_tcp_server *ts, eddy_stream *s,
                     const struct sockaddr *peer, socklen_t len, void *arg)
{
    tlsrv *t = arg;

    (void)ts;
    (void)peer;
    (void)len;
    assert_int_equal(eddy_stream_start_tls(s, t->ctx, NULL, 5000, tls_hs, t),
                     0);
    assert_int_equal(
        eddy_stream_read_until(s, "\r\n\r\n", 4, 65536, tls_read, t), 0);
}

static void tls_start(eddy_loop *loop, tlsrv *t, const char *name)
{
    char c[64], k[64];

    memset(t, 0, sizeof *t);
    t->loop = loop;
    t->resp = OKL "Content-Length: 6\r\n\r\nsecret";
    snprintf(c, sizeof c, "%s.pem", name);
    snprintf(k, sizeof k, "%s.key", name);
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_SERVER, &t->ctx), 0);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(t->ctx, cert(c), cert(k)), 0);
    assert_int_equal(eddy_tcp_server_new(loop, NULL, tls_conn, t, &t->srv), 0);
    assert_int_equal(eddy_tcp_server_listen(t->srv, 0, "127.0.0.1"), 0);
    t->port = eddy_tcp_server_port(t->srv);
}

static void tls_stop(tlsrv *t)
{
    eddy_tcp_server_free(t->srv);
    eddy_tls_ctx_free(t->ctx);
    settle(t->loop);
}

static char *https_of(const char *host, int port, const char *path)
{
    static char u[4][256];
    static int i;

    i = (i + 1) % 4;
    snprintf(u[i], sizeof u[i], "https://%s:%d%s", host, port, path);
    return u[i];
}

static eddy_tls_ctx *client_ctx(int verify)
{
    eddy_tls_ctx *ctx = NULL;

    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx), 0);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, cert("ca.pem"), NULL), 0);
    if (!verify)
        assert_int_equal(eddy_tls_ctx_set_verify(ctx, EDDY_TLS_VERIFY_NONE), 0);
    return ctx;
}

/* Verification on: the server's chain against the test CA, its name
 * against the URL's host (a name, or an IP address in the SAN). */
static void test_https_verified(void **state)
{
    eddy_loop *loop;
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    tlsrv t;
    result r;

    (void)state;
    if (eddy_tls_library() == NULL)
        skip();
    loop = tu_loop_new(); /* after the skip: its fds would count as leaked */
    co.tls = client_ctx(1);
    c = client_new(loop, &co);
    tls_start(loop, &t, "server");
    fetch_wait(loop, c, https_of("127.0.0.1", t.port, "/a"), NULL, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.body, "secret");
    assert_string_equal(r.url, https_of("127.0.0.1", t.port, "/a"));
    r_free(&r);
    fetch_wait(loop, c, https_of("localhost", t.port, "/b"), NULL, &r);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(t.last, "GET /b HTTP/1.1\r\n"));
    r_free(&r);
    /* kept alive, over TLS */
    fetch_wait(loop, c, https_of("127.0.0.1", t.port, "/c"), NULL, &r);
    assert_int_equal(r.status, 0);
    r_free(&r);
    assert_int_equal(stats(c).connections_total, 2); /* two host names */
    assert_int_equal(stats(c).reused, 1);
    tls_stop(&t);
    /* A certificate for another name; one from an unknown CA; expired. */
    {
        static const char *const names[] = {"other", "rogue", "expired"};

        for (int i = 0; i < 3; i++) {
            tls_start(loop, &t, names[i]);
            fetch_wait(loop, c, https_of("localhost", t.port, "/"), NULL, &r);
            if (r.status != EDDY_TLS_VERIFY || strlen(r.detail) == 0)
                fail_msg("%s: %d (%s), detail '%s'", names[i], r.status,
                         eddy_strerror(r.status), r.detail);
            assert_int_equal(t.requests, 0);
            tls_stop(&t);
        }
    }
    /* The client's own context trusts the system's CAs only. */
    finish(loop, c);
    loop = tu_loop_new();
    c = client_new(loop, NULL);
    tls_start(loop, &t, "server");
    fetch_wait(loop, c, https_of("localhost", t.port, "/"), NULL, &r);
    assert_int_equal(r.status, EDDY_TLS_VERIFY);
    tls_stop(&t);
    finish(loop, c);
    eddy_tls_ctx_free(co.tls);
}

/* Verification off (a fetch's own context): any certificate; pooled
 * apart from the verifying context's connections. */
static void test_https_unverified(void **state)
{
    eddy_loop *loop;
    eddy_http_client_options co = {0};
    eddy_http_fetch_options o = {0};
    eddy_http_client *c;
    tlsrv t;
    result r;

    (void)state;
    if (eddy_tls_library() == NULL)
        skip();
    loop = tu_loop_new(); /* after the skip: its fds would count as leaked */
    co.tls = client_ctx(1);
    c = client_new(loop, &co);
    o.tls = client_ctx(0);
    tls_start(loop, &t, "rogue");
    fetch_wait(loop, c, https_of("localhost", t.port, "/"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.body, "secret");
    r_free(&r);
    fetch_wait(loop, c, https_of("localhost", t.port, "/"), NULL, &r);
    assert_int_equal(r.status, EDDY_TLS_VERIFY);
    assert_int_equal(stats(c).connections_total, 2);
    assert_int_equal(stats(c).idle, 1); /* the unverified one */
    tls_stop(&t);
    finish(loop, c);
    eddy_tls_ctx_free(co.tls);
    eddy_tls_ctx_free(o.tls);
}

/* A body until the close: complete with close_notify, a truncation
 * without; a Content-Length body cut short, either way. */
static void test_https_close_delimited(void **state)
{
    eddy_loop *loop;
    eddy_http_client_options co = {0};
    eddy_http_client *c;
    tlsrv t;
    result r;

    (void)state;
    if (eddy_tls_library() == NULL)
        skip();
    loop = tu_loop_new(); /* after the skip: its fds would count as leaked */
    co.tls = client_ctx(1);
    c = client_new(loop, &co);
    tls_start(loop, &t, "server");
    t.resp = OKL "\r\nuntil the close";
    t.close_after = 1;
    fetch_wait(loop, c, https_of("127.0.0.1", t.port, "/"), NULL, &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.body, "until the close");
    r_free(&r);
    t.no_notify = 1;
    fetch_wait(loop, c, https_of("127.0.0.1", t.port, "/"), NULL, &r);
    assert_int_equal(r.status, EDDY_TLS_TRUNCATED);
    assert_int_equal(r.body_len, 0);
    r_free(&r);
    t.resp = OKL "Content-Length: 100\r\n\r\nshort";
    t.no_notify = 0;
    fetch_wait(loop, c, https_of("127.0.0.1", t.port, "/"), NULL, &r);
    assert_int_equal(r.status, EDDY_HTTP_ETRUNCATED);
    r_free(&r);
    tls_stop(&t);
    finish(loop, c);
    eddy_tls_ctx_free(co.tls);
}

/* A redirect from https to http is another origin: no credentials. */
static void test_https_downgrade(void **state)
{
    eddy_loop *loop;
    eddy_http_client_options co = {0};
    eddy_http_header h[] = {EDDY_HEADER("Authorization", "Bearer x"),
                            EDDY_HEADER("Cookie", "c=1")};
    eddy_http_fetch_options o = {0};
    eddy_http_client *c;
    char answer[256];
    tlsrv t;
    srv sv;
    result r;

    (void)state;
    if (eddy_tls_library() == NULL)
        skip();
    loop = tu_loop_new(); /* after the skip: its fds would count as leaked */
    co.tls = client_ctx(1);
    c = client_new(loop, &co);
    srv_start(loop, &sv);
    tls_start(loop, &t, "server");
    snprintf(answer, sizeof answer,
             "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/echo/down\r\n"
             "Content-Length: 0\r\n\r\n",
             sv.port);
    t.resp = answer;
    o.headers = h;
    o.nheaders = 2;
    fetch_wait(loop, c, https_of("127.0.0.1", t.port, "/"), &o, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.redirects, 1);
    assert_non_null(strstr(t.last, "Authorization: Bearer x\r\n"));
    assert_null(strstr(sv.last, "Authorization"));
    assert_null(strstr(sv.last, "Cookie"));
    r_free(&r);
    tls_stop(&t);
    srv_stop(loop, &sv);
    finish(loop, c);
    eddy_tls_ctx_free(co.tls);
}

/* --- examples/fetch ------------------------------------------------------ */

typedef struct child {
    pid_t pid;
    int out, err; /* its stdout and stderr */
    char o[65536], e[4096];
    size_t olen, elen;
    int status, exited;
} child;

static void slurp(int fd, char *buf, size_t cap, size_t *len)
{
    ssize_t k;

    while (*len < cap - 1 && (k = read(fd, buf + *len, cap - 1 - *len)) > 0)
        *len += (size_t)k;
    buf[*len] = '\0';
}

static int child_cond(void *arg)
{
    child *ch = arg;

    slurp(ch->out, ch->o, sizeof ch->o, &ch->olen);
    slurp(ch->err, ch->e, sizeof ch->e, &ch->elen);
    if (!ch->exited && waitpid(ch->pid, &ch->status, WNOHANG) == ch->pid)
        ch->exited = 1;
    return ch->exited;
}

/* Runs the example with args, serving the loop meanwhile; 1 when it ran. */
static int run_example(eddy_loop *loop, const char *const *args, child *ch)
{
    char path[512], *argv[32];
    int po[2], pe[2];
    size_t n = 0;

    memset(ch, 0, sizeof *ch);
    if (example("fetch", path, sizeof path) == NULL)
        return 0;
    argv[n++] = path;
    while (*args != NULL && n < 31)
        argv[n++] = (char *)*args++;
    argv[n] = NULL;
    tu_pipe(po);
    tu_pipe(pe);
    ch->pid = fork();
    assert_true(ch->pid >= 0);
    if (ch->pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    ch->out = po[0];
    ch->err = pe[0];
    assert_true(tu_run_until(loop, child_cond, ch, 1 << 30, 20000));
    slurp(ch->out, ch->o, sizeof ch->o, &ch->olen);
    slurp(ch->err, ch->e, sizeof ch->e, &ch->elen);
    close(ch->out);
    close(ch->err);
    assert_true(WIFEXITED(ch->status));
    ch->status = WEXITSTATUS(ch->status);
    return 1;
}

/* One line on stderr: exactly one newline, at the end. */
static int one_line(const char *e)
{
    const char *nl = strchr(e, '\n');

    return nl != NULL && nl[1] == '\0';
}

static void test_example_fetch(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char u1[256], u2[256], u3[256], u4[256];
    int filler[3];
    child ch;
    srv sv;

    (void)state;
    srv_start(loop, &sv);
    snprintf(u1, sizeof u1, "%s", url_of(sv.port, "/"));
    snprintf(u2, sizeof u2, "%s", url_of(sv.port, "/echo/x"));
    snprintf(u3, sizeof u3, "%s", url_of(sv.port, "/r/302/1?to=/missing"));
    {
        const char *args[] = {u1, NULL};

        if (!run_example(loop, args, &ch)) {
            srv_stop(loop, &sv);
            eddy_loop_close(loop, 0);
            skip();
        }
        assert_int_equal(ch.status, 0);
        assert_string_equal(ch.o, "Hello, World");
        assert_string_equal(ch.e, "");
    }
    { /* -v, -X, -H, -d */
        const char *args[] = {"-v", "-X",    "PUT", "-H", "X-A: b c",
                              "-d", "data!", u2,    NULL};

        assert_true(run_example(loop, args, &ch));
        assert_int_equal(ch.status, 0);
        assert_non_null(strstr(ch.o, "PUT /echo/x\n"));
        assert_non_null(strstr(ch.o, "X-A: b c\n"));
        assert_non_null(strstr(ch.o, "\n\ndata!"));
        assert_int_equal(strncmp(ch.e, "HTTP/1.1 200 OK\n", 16), 0);
        assert_non_null(strstr(ch.e, "\nContent-Length: "));
    }
    { /* redirects followed; a 404 is a complete response: 0 */
        const char *args[] = {u3, NULL};

        assert_true(run_example(loop, args, &ch));
        assert_int_equal(ch.status, 0);
        assert_string_equal(ch.o, "no");
    }
    { /* --max-redirects 0: the 302 itself */
        const char *args[] = {"-v", "--max-redirects", "0", u3, NULL};

        assert_true(run_example(loop, args, &ch));
        assert_int_equal(ch.status, 0);
        assert_string_equal(ch.o, "moved");
        assert_int_equal(strncmp(ch.e, "HTTP/1.1 302 Found\n", 19), 0);
    }
    { /* failures: one line naming the cause, exit 1 */
        static const char *const causes[] = {"refused", "not found", "timeout"};
        int port = free_port(), full = full_backlog(filler);
        const char *a1[] = {url_of(port, "/"), NULL};
        const char *a2[] = {"http://nonexistent.invalid/", NULL};
        const char *a3[] = {"--timeout-ms", "200", url_of(full, "/"), NULL};
        const char *const *all[] = {a1, a2, a3};

        for (int i = 0; i < 3; i++) {
            assert_true(run_example(loop, all[i], &ch));
            if (ch.status != 1 || ch.olen != 0 || !one_line(ch.e) ||
                strstr(ch.e, causes[i]) == NULL)
                fail_msg("failure %d: exit %d, stderr '%s'", i, ch.status,
                         ch.e);
        }
        for (int i = 0; i < 3; i++)
            close(filler[i]);
    }
    { /* usage */
        const char *args[] = {"--parallel", "2", u1, NULL};

        assert_true(run_example(loop, args, &ch));
        assert_int_equal(ch.status, 2);
    }
    { /* the load generator */
        const char *args[] = {"--parallel", "4", "--count", "200", u1, NULL};

        assert_true(run_example(loop, args, &ch));
        assert_int_equal(ch.status, 0);
        assert_non_null(strstr(ch.o, "fetch requests=200 failed=0 "));
        assert_non_null(strstr(ch.o, " req_s="));
        assert_non_null(strstr(ch.o, " cpu_us_per_req="));
    }
    if (eddy_tls_library() != NULL) {
        tlsrv t;
        char ca[128];
        const char *ok[] = {"--cacert", ca, u4, NULL};
        const char *bad[] = {u4, NULL};
        const char *insecure[] = {"--insecure", u4, NULL};

        tls_start(loop, &t, "server");
        snprintf(ca, sizeof ca, "%s", cert("ca.pem"));
        snprintf(u4, sizeof u4, "%s", https_of("localhost", t.port, "/"));
        assert_true(run_example(loop, ok, &ch));
        assert_int_equal(ch.status, 0);
        assert_string_equal(ch.o, "secret");
        assert_true(run_example(loop, bad, &ch));
        assert_int_equal(ch.status, 1);
        assert_true(one_line(ch.e));
        assert_non_null(strstr(ch.e, "did not verify"));
        assert_true(run_example(loop, insecure, &ch));
        assert_int_equal(ch.status, 0);
        tls_stop(&t);
    }
    (void)u4;
    srv_stop(loop, &sv);
    eddy_loop_close(loop, 0);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return tu_certs_make(certs, sizeof certs, "/tmp/eddy-client-XXXXXX");
}

static int group_teardown(void **state)
{
    (void)state;
    return tu_certs_remove(certs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_get),
        tu_test(test_methods_and_bodies),
        tu_test(test_keepalive_reuse),
        tu_test(test_streaming),
        tu_test(test_pause_resume),
        tu_test(test_malformed_responses),
        tu_test(test_valid_responses),
        tu_test(test_pool_per_host_limit),
        tu_test(test_pool_total_limit),
        tu_test(test_pool_idle_expiry),
        tu_test(test_pool_server_closes_idle),
        tu_test(test_retry_alive_check),
        tu_test(test_retry_rules),
        tu_test(test_redirect_methods),
        tu_test(test_redirect_chain_and_limit),
        tu_test(test_redirect_locations),
        tu_test(test_redirect_credentials),
        tu_test(test_connect_timeout),
        tu_test(test_request_timeout),
        tu_test(test_idle_timeout),
        tu_test(test_cancel_in_callbacks),
        tu_test(test_cancel_anywhere),
        tu_test(test_free_client_inside),
        tu_test(test_producer_bodies),
        tu_test(test_producer_errors),
        tu_test(test_producer_early_response),
        tu_test(test_expect_continue),
        tu_test(test_gzip),
        tu_test(test_upgrade),
        tu_test(test_fetch_errors),
        tu_test(test_error_texts),
        tu_test(test_urls),
        tu_test(test_https_verified),
        tu_test(test_https_unverified),
        tu_test(test_https_close_delimited),
        tu_test(test_https_downgrade),
        tu_test(test_example_fetch),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
