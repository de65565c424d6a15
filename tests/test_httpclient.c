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

/* --- what a fetch gave ------------------------------------------------ */

typedef struct result {
    int done;     /* the final callback ran (times) */
    int status;   /* its status */
    int code;     /* the response's status code */
    char *body;   /* the body (whole, or the pieces streamed) */
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
                              (int)rs->headers[i].name_len,
                              rs->headers[i].name,
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
    eddy_http_request *held; /* a request a handler keeps */
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
        o += (size_t)snprintf(sv->last + o, sizeof sv->last - o,
                              "%.*s: %.*s\n", (int)h[i].name_len, h[i].name,
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
    char loc[512];
    eddy_http_header h = {"Location", 8, loc, 0};
    int code = 0, n = 0;

    note(arg, req);
    sscanf(path.p, "/r/%d/%d", &code, &n);
    if (n > 1)
        snprintf(loc, sizeof loc, "/r/%d/%d?%.*s", code, n - 1, (int)q.len,
                 q.p);
    else
        snprintf(loc, sizeof loc, "%.*s", q.len > 3 ? (int)q.len - 3 : 0,
                 q.p + 3);
    h.value_len = strlen(loc);
    eddy_http_respond(req, code, &h, 1, "moved", 5);
}

static void h_hold(eddy_http_request *req, void *arg)
{
    srv *sv = arg;

    note(sv, req);
    sv->held = req;
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
    assert_int_equal(
        eddy_http_server_route(sv->s, NULL, "/echo", EDDY_ROUTE_PREFIX, h_echo,
                               sv),
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
    static char u[4][256];
    static int i;

    i = (i + 1) % 4;
    snprintf(u[i], sizeof u[i], "http://127.0.0.1:%d%s", port, path);
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

/* --- the scripted server --------------------------------------------------- */

typedef struct script {
    int lfd, port;
    int fd;       /* the connection being served, or -1 */
    char req[8192]; /* what came on it */
    size_t req_len;
} script;

__attribute__((unused)) static void sc_open(script *sc)
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

__attribute__((unused)) static void sc_close(script *sc)
{
    sc_drop(sc);
    close(sc->lfd);
}

static int accept_cond(void *arg)
{
    script *sc = arg;
    int fd = accept4(sc->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return 0;
    sc_drop(sc);
    sc->fd = fd;
    sc->req_len = 0;
    return 1;
}

/* Runs the loop until the client connected; the new connection is the
 * one served from now. */
static void sc_accept(eddy_loop *loop, script *sc)
{
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
__attribute__((unused)) static void sc_reset(script *sc)
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
__attribute__((unused)) static void scripted(eddy_loop *loop, eddy_http_client *c, script *sc,
                     const eddy_http_fetch_options *o, const char *bytes,
                     size_t n, size_t k, int close_after, result *r)
{
    int reuse = stats(c).idle > 0 && sc->fd >= 0;

    memset(r, 0, sizeof *r);
    assert_int_equal(eddy_http_client_fetch(c, url_of(sc->port, "/x"), o,
                                            on_done, r, &r->f),
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

/* --- against eddy's server ------------------------------------------------- */

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
    assert_non_null(
        strstr(r.body, "Host: 127.0.0.1:" /* the port follows */));
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
        assert_int_equal(r.chunks, chunks + 1); /* nothing while paused */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_get),
        tu_test(test_methods_and_bodies),
        tu_test(test_keepalive_reuse),
        tu_test(test_streaming),
        tu_test(test_pause_resume),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
