/*
 * tests/test_https.c - the HTTP server over TLS (eddy_http_options' tls):
 * requests, keep-alive, pipelining and bodies over TLS, with eddy's own
 * TLS client streams on the same loop; the scheme (and xheaders over
 * it); the handshake under the header timeout (a silent client, a
 * ClientHello sent a byte at a time) and the idle timeout after it;
 * garbage, plaintext HTTP and a version no one shares on the TLS port;
 * client certificates required; the lingering close over TLS (a 2 MB
 * POST to a GET-only route sees the 405 and then close_notify, never a
 * reset); a client's TLS half-close; clients that close without
 * close_notify between requests and in the middle of a body; a shutdown
 * and a free with handshakes under way; and examples/hello over HTTPS,
 * fetched by curl (TLS 1.3 and 1.2), openssl s_client, python3's ssl
 * module and gnutls-cli as child processes, each skipped when missing.
 *
 * The certificates are made for each run by tests/certs.sh into a
 * temporary directory, removed at the end.  Built with TLS=none, every
 * test is skipped: no TLS context can be made.  Every wait is a bounded
 * run of the loop (RUN_MS, RUN_ITER), or a bounded poll() on a child
 * process; under valgrind the counts shrink (tu_valgrind()), never the
 * bounds.  TU_FILTER=name runs one test.
 */
#include "testutil.h"

#include "httputil.h"
#include "tlsutil.h"

#include "eddy/tls.h"

#include <signal.h>
#include <sys/wait.h>

#define RUN_MS 10000     /* the bound on any one wait */
#define RUN_ITER 2000000 /* and on its loop iterations */
#define TOOL_MS 10000    /* the bound on a child process */

static char certs[64]; /* the directory tests/certs.sh filled */

#define CERT(name) cert_path(name, (char[160]){0})

static char *cert_path(const char *name, char *buf)
{
    snprintf(buf, 160, "%s/%s", certs, name);
    return buf;
}

static void need_tls(void)
{
    if (eddy_tls_library() == NULL)
        skip(); /* built with TLS=none */
}

static eddy_tls_ctx *server_ctx(void)
{
    eddy_tls_ctx *ctx;

    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_SERVER, &ctx), 0);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, CERT("server.pem"),
                                                  CERT("server.key")),
                     0);
    return ctx;
}

/* A client that trusts the test CA; cert: the name of its own
 * certificate and key (client, rogue), or NULL. */
static eddy_tls_ctx *client_ctx(const char *cert)
{
    eddy_tls_ctx *ctx;
    char crt[160], key[160];

    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx), 0);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, CERT("ca.pem"), NULL), 0);
    if (cert != NULL) {
        snprintf(crt, sizeof crt, "%s/%s.pem", certs, cert);
        snprintf(key, sizeof key, "%s/%s.key", certs, cert);
        assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, crt, key), 0);
    }
    return ctx;
}

/* --- the server under test ------------------------------------------------ */

typedef struct hsrv {
    eddy_loop *loop;
    eddy_http_server *srv;
    int port;
    int done_calls;
    char log[32768]; /* every log line, "L message\n", L the level */
    size_t log_len;
    int log_info; /* lines at INFO or above */
} hsrv;

static void log_fn(void *arg, int level, const char *msg)
{
    hsrv *t = arg;
    int n = snprintf(t->log + t->log_len, sizeof t->log - t->log_len, "%c %s\n",
                     "DIWE"[level & 3], msg);

    if (n > 0 && (size_t)n < sizeof t->log - t->log_len)
        t->log_len += (size_t)n;
    if (level >= EDDY_LOG_INFO)
        t->log_info++;
    if (getenv("TU_LOG") != NULL)
        fprintf(stderr, "[log %d] %s\n", level, msg);
}

/* A server with opts (its tls set by the caller), on 127.0.0.1 port 0. */
static void srv_start(hsrv *t, const eddy_http_options *opts)
{
    memset(t, 0, sizeof *t);
    t->loop = tu_loop_new();
    eddy_loop_set_log(t->loop, log_fn, t);
    assert_int_equal(eddy_http_server_new(t->loop, opts, &t->srv), 0);
    t->port = hu_listen(t->srv);
}

static void srv_route(hsrv *t, const char *method, const char *path,
                      unsigned flags, eddy_http_handler h, void *arg)
{
    assert_int_equal(
        eddy_http_server_route(t->srv, method, path, flags, h, arg), 0);
}

/* Frees the server (if the test has not), lets the streams finish
 * closing, and checks that the loop holds nothing. */
static void srv_finish(hsrv *t)
{
    hu_finish(t->loop, t->srv);
    t->srv = NULL;
    t->loop = NULL;
}

static eddy_http_stats srv_stats(hsrv *t)
{
    return hu_stats(t->srv);
}

static void wait_no_connections(hsrv *t)
{
    assert_true(
        tu_run_until(t->loop, hu_no_connections, t->srv, RUN_ITER, RUN_MS));
}

static int logged(const hsrv *t, const char *text)
{
    return strstr(t->log, text) != NULL;
}

typedef struct log_wait {
    hsrv *t;
    const char *text;
} log_wait;

static int log_has(void *arg)
{
    log_wait *w = arg;

    return logged(w->t, w->text);
}

/* Runs the loop until the log has text (a closing stream's callbacks run
 * an iteration after its peer may have seen the end). */
static void wait_logged(hsrv *t, const char *text)
{
    log_wait w = {t, text};

    if (!tu_run_until(t->loop, log_has, &w, RUN_ITER, RUN_MS))
        fail_msg("the log never said [%s]; it says:\n%s", text, t->log);
}

/* --- handlers --------------------------------------------------------------
 */

typedef struct seen {
    int calls;
    char scheme[8];
    size_t body_len;
    int body_status; /* a streamed body's last status */
    int body_done;
    size_t streamed;
    eddy_http_request *held;
} seen;

static void h_hello(eddy_http_request *req, void *arg)
{
    seen *x = arg;

    x->calls++;
    snprintf(x->scheme, sizeof x->scheme, "%s", eddy_http_scheme(req));
    x->body_len = eddy_http_body(req).len;
    eddy_http_respond(req, 200, NULL, 0, "Hello, World", 12);
}

static char big_body[300000];

static void h_big(eddy_http_request *req, void *arg)
{
    (void)arg;
    eddy_http_respond(req, 200, NULL, 0, big_body, sizeof big_body);
}

static void on_body(eddy_http_request *req, int status, const char *data,
                    size_t len, int done, void *arg)
{
    seen *x = arg;

    (void)data;
    x->streamed += len;
    x->body_status = status;
    if (!done)
        return;
    x->body_done = 1;
    if (status == 0)
        eddy_http_respond(req, 200, NULL, 0, "got it", 6);
    else
        assert_int_equal(eddy_http_finish(req), -EPIPE);
}

static void h_stream(eddy_http_request *req, void *arg)
{
    seen *x = arg;

    x->calls++;
    assert_int_equal(eddy_http_read_body(req, on_body, x), 0);
}

/* --- eddy's TLS client, on the server's loop --------------------------------
 */

typedef struct tcli {
    hsrv *t;
    eddy_stream *s; /* NULL once closed */
    int hs_calls, hs_status;
    int closes, close_status;
    int read_status; /* the error that ended reading, or 0 */
    char *buf;       /* everything read */
    size_t len, cap, off;
} tcli;

static void tc_on_hs(eddy_stream *s, int status, void *arg)
{
    tcli *c = arg;

    (void)s;
    c->hs_calls++;
    c->hs_status = status;
}

static void tc_on_close(eddy_stream *s, int status, void *arg)
{
    tcli *c = arg;

    (void)s;
    c->closes++;
    c->close_status = status;
    c->s = NULL;
}

static void tc_on_read(eddy_stream *s, int status, const char *data, size_t len,
                       void *arg)
{
    tcli *c = arg;

    if (c->len + len + 1 > c->cap) {
        c->cap = (c->len + len + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    if (len > 0)
        memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->buf[c->len] = '\0';
    if (status < 0)
        c->read_status = status;
    else
        assert_int_equal(eddy_stream_read_bytes(s, 65536, 1, tc_on_read, c), 0);
}

static void tc_on_connect(eddy_stream *s, int status, void *arg)
{
    (void)s;
    (void)arg;
    assert_int_equal(status, 0);
}

/* Connects to the server with cctx and reads whatever comes. */
static void tc_open(hsrv *t, tcli *c, eddy_tls_ctx *cctx)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    assert_int_equal(eddy_stream_connect(t->loop, "127.0.0.1",
                                         (uint16_t)t->port, RUN_MS, NULL,
                                         tc_on_connect, c, &c->s),
                     0);
    eddy_stream_set_close_callback(c->s, tc_on_close, c);
    assert_int_equal(
        eddy_stream_start_tls(c->s, cctx, "localhost", RUN_MS, tc_on_hs, c), 0);
    assert_int_equal(eddy_stream_read_bytes(c->s, 65536, 1, tc_on_read, c), 0);
}

static void tc_send(tcli *c, const void *p, size_t n)
{
    assert_non_null(c->s);
    assert_int_equal(eddy_stream_write(c->s, p, n, NULL, NULL), 0);
}

static void tc_say(tcli *c, const char *text)
{
    tc_send(c, text, strlen(text));
}

static int tc_has_response(void *arg)
{
    tcli *c = arg;
    resp r = {0};
    long n = parse_response(c->buf ? c->buf + c->off : "", c->len - c->off, 0,
                            c->read_status != 0, &r);

    resp_free(&r);
    return n != 0 || c->read_status != 0;
}

/* The next response: 1 with it in *r, 0 when the connection ended first. */
static int tc_response(tcli *c, resp *r)
{
    long n;

    assert_true(tu_run_until(c->t->loop, tc_has_response, c, RUN_ITER, RUN_MS));
    n = parse_response(c->buf ? c->buf + c->off : "", c->len - c->off, 0,
                       c->read_status != 0, r);
    if (n < 0)
        fail_msg("malformed response: [%s]", c->buf + c->off);
    if (n == 0)
        return 0;
    c->off += (size_t)n;
    return 1;
}

static void tc_expect(tcli *c, int status, const char *body)
{
    resp r = {0};

    assert_true(tc_response(c, &r));
    assert_int_equal(r.status, status);
    if (body != NULL)
        assert_string_equal(r.body, body);
    resp_free(&r);
}

static int tc_closed(void *arg)
{
    return ((tcli *)arg)->closes > 0;
}

static void tc_wait_closed(tcli *c)
{
    assert_true(tu_run_until(c->t->loop, tc_closed, c, RUN_ITER, RUN_MS));
}

static int tc_shook(void *arg)
{
    return ((tcli *)arg)->hs_calls > 0;
}

static void tc_wait_handshake(tcli *c)
{
    assert_true(tu_run_until(c->t->loop, tc_shook, c, RUN_ITER, RUN_MS));
}

/* Closes the client (close_notify) if it is open, waits for it. */
static void tc_finish(tcli *c)
{
    if (c->s != NULL)
        eddy_stream_close(c->s);
    tc_wait_closed(c);
    free(c->buf);
    c->buf = NULL;
}

/* The TCP connection under the client ends without close_notify. */
static void tc_truncate(tcli *c)
{
    assert_int_equal(shutdown(eddy_stream_fd(c->s), SHUT_RDWR), 0);
}

/* --- raw TCP clients ---------------------------------------------------------
 */

typedef struct raw {
    hsrv *t;
    int fd;
    char got[4096];
    size_t len;
    int ended, err; /* EOF or reset seen; the reset's errno */
    uint64_t opened_ms, ended_ms;
} raw;

static void raw_open(hsrv *t, raw *r)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->fd = tcp_connect(t->port);
    assert_true(r->fd >= 0);
    tu_nonblock(r->fd);
    r->opened_ms = tu_now_ms();
}

static int raw_poll(void *arg)
{
    raw *r = arg;
    ssize_t n;

    while (!r->ended &&
           (n = recv(r->fd, r->got + r->len, sizeof r->got - 1 - r->len,
                     MSG_DONTWAIT)) != 0) {
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            r->err = errno;
            break;
        }
        r->len += (size_t)n;
        r->got[r->len] = '\0';
    }
    if (!r->ended)
        r->ended_ms = tu_now_ms();
    r->ended = 1;
    return 1;
}

static void raw_send(raw *r, const void *p, size_t n)
{
    assert_int_equal(send(r->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void raw_wait_end(raw *r)
{
    assert_true(tu_run_until(r->t->loop, raw_poll, r, RUN_ITER, RUN_MS));
}

static void raw_close(raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

/* A real ClientHello, as eddy's client sends it (over a socketpair). */
static size_t client_hello(eddy_tls_ctx *cctx, char *buf, size_t cap)
{
    eddy_loop *loop = tu_loop_new();
    eddy_stream *s;
    int sv[2];
    ssize_t n = 0;

    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &s), 0);
    assert_int_equal(eddy_stream_start_tls(s, cctx, "localhost", 0, NULL, NULL),
                     0);
    for (int i = 0; i < 100 && n <= 0; i++) {
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
        n = recv(sv[0], buf, cap, 0);
    }
    assert_true(n > 100);
    close(sv[0]);
    eddy_stream_close(s);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
    return (size_t)n;
}

/* --- certificates ------------------------------------------------------------
 */

static int group_setup(void **state)
{
    (void)state;
    memset(big_body, 'b', sizeof big_body);
    return tu_certs_make(certs, sizeof certs, "/tmp/eddy-https-XXXXXX");
}

static int group_teardown(void **state)
{
    (void)state;
    return tu_certs_remove(certs);
}

/* --- requests over TLS -------------------------------------------------------
 */

/* Keep-alive, pipelining, a body each way, the scheme; the server keeps
 * its own reference to the context. */
static void test_https_requests(void **state)
{
    static const char two[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t up = tu_valgrind() ? 20000 : 100000;
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    char head[128], *body = malloc(up);
    seen x = {0};
    hsrv t;
    tcli c;
    resp r = {0};

    (void)state;
    need_tls();
    assert_non_null(body);
    memset(body, 'u', up);
    o.tls = server_ctx();
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls); /* the server holds its own */
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    srv_route(&t, "POST", "/", 0, h_hello, &x);
    srv_route(&t, "GET", "/big", 0, h_big, NULL);
    cctx = client_ctx(NULL);
    tc_open(&t, &c, cctx);
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_expect(&c, 200, "Hello, World");
    assert_int_equal(c.hs_status, 0);
    assert_string_equal(eddy_stream_tls_version(c.s), "TLSv1.3");
    assert_string_equal(x.scheme, "https");
    /* Keep-alive: the same connection, and two pipelined at once. */
    tc_send(&c, two, sizeof two - 1);
    tc_expect(&c, 200, "Hello, World");
    assert_true(tc_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizeof big_body);
    assert_memory_equal(r.body, big_body, sizeof big_body);
    resp_free(&r);
    snprintf(head, sizeof head,
             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", up);
    tc_say(&c, head);
    tc_send(&c, body, up);
    tc_expect(&c, 200, "Hello, World");
    assert_int_equal(x.body_len, up);
    assert_int_equal(srv_stats(&t).connections_total, 1);
    assert_int_equal(srv_stats(&t).requests, 4);
    tc_finish(&c);
    wait_no_connections(&t);
    assert_int_equal(t.log_info, 0); /* nothing went wrong */
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
    free(body);
}

/* xheaders still apply over TLS: a proxy's X-Scheme wins. */
static void test_https_scheme_xheaders(void **state)
{
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    seen x = {0};
    hsrv t;
    tcli c;

    (void)state;
    need_tls();
    o.tls = server_ctx();
    o.xheaders = 1;
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    cctx = client_ctx(NULL);
    tc_open(&t, &c, cctx);
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\nX-Scheme: http\r\n\r\n");
    tc_expect(&c, 200, "Hello, World");
    assert_string_equal(x.scheme, "http");
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_expect(&c, 200, "Hello, World");
    assert_string_equal(x.scheme, "https");
    tc_finish(&c);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* --- the handshake and the timeouts ------------------------------------------
 */

/* A client that connects and sends nothing is closed at the header
 * timeout; one that finished its handshake meanwhile waits for its
 * first request under the idle timeout, as a plain one would. */
static void test_https_silent_client(void **state)
{
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    seen x = {0};
    hsrv t;
    raw r;
    tcli c;

    (void)state;
    need_tls();
    o.tls = server_ctx();
    o.header_timeout_ms = 300;
    o.idle_timeout_ms = 60000;
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    cctx = client_ctx(NULL);
    raw_open(&t, &r);
    tc_open(&t, &c, cctx);
    tc_wait_handshake(&c);
    assert_int_equal(c.hs_status, 0);
    raw_wait_end(&r);
    assert_int_equal(r.len, 0);
    assert_true(r.ended_ms - r.opened_ms >= 250);
    wait_logged(&t, "not done within header_timeout_ms (300 ms)");
    /* The one that shook hands is still there, past the header timeout. */
    assert_int_equal(c.closes, 0);
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_expect(&c, 200, "Hello, World");
    tc_finish(&c);
    raw_close(&r);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* A ClientHello a byte at a time, each byte well within the header
 * timeout of the one before: the handshake's deadline is one from the
 * accept, so the client is closed before its hello is whole. */
static void test_https_dribbled_hello(void **state)
{
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    char hello[2048];
    size_t n, sent = 0;
    hsrv t;
    raw r;

    (void)state;
    need_tls();
    cctx = client_ctx(NULL);
    n = client_hello(cctx, hello, sizeof hello);
    o.tls = server_ctx();
    o.header_timeout_ms = 300;
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    raw_open(&t, &r);
    while (sent < n && !raw_poll(&r)) {
        uint64_t next = tu_now_ms() + 10;

        raw_send(&r, hello + sent++, 1);
        while (tu_now_ms() < next && !raw_poll(&r))
            assert_int_equal(eddy_loop_run_once(t.loop, 10), 0);
    }
    if (!r.ended)
        fail_msg("the whole hello (%zu bytes) went in, a byte every 10 ms, "
                 "and the connection is still open",
                 n);
    assert_true(sent < n);
    assert_true(r.ended_ms - r.opened_ms >= 250);
    wait_logged(&t, "not done within header_timeout_ms");
    wait_no_connections(&t);
    raw_close(&r);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* Garbage, a plaintext HTTP request and a client with no version in
 * common: each is closed at once, unanswered, with a line in the log;
 * the server goes on serving. */
static void test_https_bad_clients(void **state)
{
    static const struct {
        const char *what, *send, *log;
    } cases[] = {
        {"garbage", "BBBBBBBBBBBBBBBBBBBB", "wrong version number"},
        {"plaintext HTTP", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "http request"},
    };
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx, *old;
    seen x = {0};
    hsrv t;
    tcli c;

    (void)state;
    need_tls();
    o.tls = server_ctx();
    assert_int_equal(eddy_tls_ctx_set_versions(o.tls, EDDY_TLS_1_3, 0), 0);
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw r;

        t.log_len = 0;
        t.log[0] = '\0';
        raw_open(&t, &r);
        raw_send(&r, cases[i].send, strlen(cases[i].send));
        raw_wait_end(&r);
        if (strstr(r.got, "HTTP/") != NULL)
            fail_msg("%s: answered [%s]", cases[i].what, r.got);
        if (!logged(&t, cases[i].log) ||
            !logged(&t, "I TLS handshake with 127.0.0.1 failed"))
            fail_msg("%s: the log says [%s]", cases[i].what, t.log);
        raw_close(&r);
        wait_no_connections(&t);
    }
    /* A client that speaks only TLS 1.2 to a server of TLS 1.3 only. */
    old = client_ctx(NULL);
    assert_int_equal(eddy_tls_ctx_set_versions(old, 0, EDDY_TLS_1_2), 0);
    tc_open(&t, &c, old);
    tc_wait_closed(&c);
    assert_true(c.hs_status < 0);
    wait_no_connections(&t);
    assert_true(logged(&t, "TLS handshake with 127.0.0.1 failed"));
    free(c.buf);
    eddy_tls_ctx_free(old);
    /* And the server still serves. */
    cctx = client_ctx(NULL);
    tc_open(&t, &c, cctx);
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_expect(&c, 200, "Hello, World");
    tc_finish(&c);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* Client certificates required: a client without one, or with one from
 * an unknown CA, is refused and logged, never answered; one with a
 * certificate from the CA is served. */
static void test_https_client_certificates(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *refused[] = {NULL, "rogue"};
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    seen x = {0};
    hsrv t;
    tcli c;

    (void)state;
    need_tls();
    o.tls = server_ctx();
    assert_int_equal(eddy_tls_ctx_load_verify(o.tls, CERT("ca.pem"), NULL), 0);
    assert_int_equal(eddy_tls_ctx_set_verify(o.tls, EDDY_TLS_VERIFY_REQUIRED),
                     0);
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    for (size_t i = 0; i < 2; i++) {
        t.log_len = 0;
        t.log[0] = '\0';
        cctx = client_ctx(refused[i]);
        tc_open(&t, &c, cctx);
        tc_say(&c, req);
        tc_wait_closed(&c);
        assert_null(strstr(c.buf ? c.buf : "", "HTTP/"));
        wait_no_connections(&t);
        if (!logged(&t, "failed: TLS peer certificate did not verify"))
            fail_msg("%s: the log says [%s]", refused[i] ? refused[i] : "none",
                     t.log);
        free(c.buf);
        eddy_tls_ctx_free(cctx);
    }
    assert_int_equal(x.calls, 0);
    cctx = client_ctx("client");
    tc_open(&t, &c, cctx);
    tc_say(&c, req);
    tc_expect(&c, 200, "Hello, World");
    assert_int_equal(x.calls, 1);
    tc_finish(&c);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* --- closing over TLS -------------------------------------------------------
 */

static void on_body_sent(eddy_stream *s, int status, void *arg)
{
    (void)s;
    *(int *)arg = status == 0 ? 1 : status;
}

/* A 2 MB POST to a route that takes only GET, sent whatever comes back
 * (the body right behind the head, as clients without 100-continue do):
 * the client reads the 405, every byte it sends is taken, and then comes
 * close_notify (a clean EDDY_EOF), never a reset or a truncation.  The
 * server reads on until the client's own close. */
static void test_https_lingering_close(void **state)
{
    size_t n = 2u << 20;
    char *body = malloc(n), head[128];
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    int sent = 0;
    seen x = {0};
    hsrv t;
    tcli c;
    resp r = {0};

    (void)state;
    need_tls();
    assert_non_null(body);
    memset(body, 'b', n);
    o.tls = server_ctx();
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    cctx = client_ctx(NULL);
    tc_open(&t, &c, cctx);
    snprintf(head, sizeof head,
             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
    tc_say(&c, head);
    assert_int_equal(eddy_stream_write(c.s, body, n, on_body_sent, &sent), 0);
    assert_true(tc_response(&c, &r));
    assert_int_equal(r.status, 405);
    assert_true(resp_has(&r, "connection", "close"));
    resp_free(&r);
    /* The server's close_notify ends the client's reading cleanly; the
     * client then closes once its body is out (sending its own). */
    tc_wait_closed(&c);
    assert_int_equal(sent, 1);
    assert_int_equal(c.read_status, EDDY_EOF);
    assert_int_equal(c.close_status, EDDY_EOF);
    assert_int_equal(c.len, c.off); /* nothing after the 405 */
    wait_no_connections(&t);
    assert_true(srv_stats(&t).bytes_in >= n);
    assert_int_equal(x.calls, 0);
    free(c.buf);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
    free(body);
}

/* A client's TLS half-close (close_notify, then its FIN) after its
 * request: the server answers anyway, then closes cleanly. */
static void test_https_client_half_close(void **state)
{
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    seen x = {0};
    hsrv t;
    tcli c;

    (void)state;
    need_tls();
    o.tls = server_ctx();
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    cctx = client_ctx(NULL);
    tc_open(&t, &c, cctx);
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(eddy_stream_shutdown_write(c.s), 0);
    tc_expect(&c, 200, "Hello, World");
    tc_wait_closed(&c);
    assert_int_equal(c.read_status, EDDY_EOF); /* close_notify, then EOF */
    assert_int_equal(c.close_status, EDDY_EOF);
    wait_no_connections(&t);
    free(c.buf);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* Whether the log has a line at INFO or above since offset from that is
 * not the client's own (its TLS layer's lines begin with mine). */
static int server_said(const hsrv *t, size_t from, const char *mine)
{
    for (const char *l = t->log + from; *l != '\0';) {
        const char *e = strchr(l, '\n');

        if (l[0] != 'D' && strncmp(l + 2, mine, strlen(mine)) != 0) {
            fprintf(stderr, "the server said: %.*s\n", (int)(e - l), l);
            return 1;
        }
        l = e + 1;
    }
    return 0;
}

/* A client that closes without close_notify: between requests it is an
 * ordinary goodbye (nothing logged above DEBUG); in the middle of a body
 * the request learns that its client went away (-ECONNRESET), and a
 * body that was not streamed never reaches its handler. */
static void test_https_truncation(void **state)
{
    static const char part[] = "POST /up HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 100000\r\n\r\n0123456789";
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    seen x = {0}, up = {0};
    char mine[32];
    size_t from;
    hsrv t;
    tcli c;

    (void)state;
    need_tls();
    o.tls = server_ctx();
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    srv_route(&t, "POST", "/", 0, h_hello, &x);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_stream, &up);
    cctx = client_ctx(NULL);

    /* Between requests. */
    tc_open(&t, &c, cctx);
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_expect(&c, 200, "Hello, World");
    from = t.log_len;
    snprintf(mine, sizeof mine, "tls: fd %d:", eddy_stream_fd(c.s));
    tc_truncate(&c);
    wait_no_connections(&t);
    tc_finish(&c);
    assert_false(server_said(&t, from, mine));

    /* In a streamed body. */
    tc_open(&t, &c, cctx);
    tc_say(&c, part);
    assert_true(tu_run_until_count(t.loop, &up.calls, 1, RUN_ITER, RUN_MS));
    tc_truncate(&c);
    assert_true(tu_run_until_count(t.loop, &up.body_done, 1, RUN_ITER, RUN_MS));
    assert_int_equal(up.body_status, -ECONNRESET);
    assert_true(up.streamed <= 10);
    wait_no_connections(&t);
    tc_finish(&c);

    /* In a body read whole for its handler. */
    tc_open(&t, &c, cctx);
    tc_say(&c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n12");
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 1), 0);
    tc_truncate(&c);
    wait_no_connections(&t);
    assert_int_equal(x.calls, 1); /* the GET only */
    assert_int_equal(srv_stats(&t).aborted, 1);
    tc_finish(&c);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* --- shutdown and free with handshakes under way
 * ------------------------------ */

static void on_done(eddy_http_server *srv, void *arg)
{
    hsrv *t = arg;

    assert_ptr_equal(srv, t->srv);
    t->done_calls++;
}

/* A graceful shutdown closes a client still in its handshake at once,
 * and an idle HTTPS client with close_notify; it does not wait for its
 * deadline. */
static void test_https_shutdown(void **state)
{
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    char hello[2048];
    seen x = {0};
    hsrv t;
    raw r;
    tcli c;

    (void)state;
    need_tls();
    cctx = client_ctx(NULL);
    client_hello(cctx, hello, sizeof hello);
    o.tls = server_ctx();
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    srv_route(&t, "GET", "/", 0, h_hello, &x);
    tc_open(&t, &c, cctx);
    tc_say(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    tc_expect(&c, 200, "Hello, World");
    raw_open(&t, &r);
    raw_send(&r, hello, 40); /* a hello cut short */
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 1), 0);
    assert_int_equal(srv_stats(&t).connections, 2);
    eddy_http_server_shutdown(t.srv, 4 * RUN_MS, on_done, &t);
    assert_true(tu_run_until_count(t.loop, &t.done_calls, 1, RUN_ITER, RUN_MS));
    raw_wait_end(&r);
    tc_wait_closed(&c);
    assert_int_equal(c.close_status, EDDY_EOF); /* close_notify */
    free(c.buf);
    raw_close(&r);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* A server freed with handshakes under way, one just started and one
 * cut short: their streams finish closing on their own, and nothing
 * reaches the freed server (valgrind and ASan watch). */
static void test_https_free_in_handshake(void **state)
{
    eddy_http_options o = {0};
    eddy_tls_ctx *cctx;
    char hello[2048];
    hsrv t;
    raw a, b;
    tcli c;

    (void)state;
    need_tls();
    cctx = client_ctx(NULL);
    client_hello(cctx, hello, sizeof hello);
    o.tls = server_ctx();
    srv_start(&t, &o);
    eddy_tls_ctx_free(o.tls);
    raw_open(&t, &a);
    raw_open(&t, &b);
    raw_send(&b, hello, 40);
    tc_open(&t, &c, cctx);
    while (srv_stats(&t).connections < 3)
        assert_int_equal(eddy_loop_run_once(t.loop, 10), 0);
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    raw_wait_end(&a);
    raw_wait_end(&b);
    tc_wait_closed(&c);
    raw_close(&a);
    raw_close(&b);
    free(c.buf);
    srv_finish(&t);
    eddy_tls_ctx_free(cctx);
}

/* --- examples/hello over HTTPS, fetched by other TLS stacks ------------------
 */

static int have_tool(const char *name)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* Runs argv (from PATH) with input on its stdin, then EOF; its stdout
 * and stderr into out.  Returns its exit status; one that does not exit
 * within TOOL_MS is killed and fails the test. */
static int run_tool(char *const argv[], const char *input, char *out,
                    size_t cap)
{
    uint64_t end = tu_now_ms() + TOOL_MS;
    int in[2], o[2], status, eof = 0;
    size_t len = 0;
    pid_t pid;

    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(o, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(o[1], 1) < 0 || dup2(o[1], 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    if (input != NULL)
        assert_int_equal(write(in[1], input, strlen(input)),
                         (ssize_t)strlen(input));
    close(in[1]);
    while (!eof && tu_now_ms() < end) {
        struct pollfd p = {o[0], POLLIN, 0};
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = read(o[0], out + len, cap - 1 - len);
        if (n > 0)
            len += (size_t)n;
        eof = n == 0 || (n < 0 && errno != EINTR) || len == cap - 1;
    }
    out[len] = '\0';
    close(o[0]);
    status = tu_wait_exit(pid, eof ? (int)(end - tu_now_ms() + 100) : 0);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("%s did not finish; it said:\n%s", argv[0], out);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Starts examples/hello over HTTPS on a free port; NULL when the
 * examples are not there (outside make check). */
static pid_t start_https_hello(int *port)
{
    char path[512], portstr[8];
    const char *hello = example("hello", path, sizeof path);

    if (hello == NULL)
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        char *argv[] = {(char *)hello,
                        "--port",
                        portstr,
                        "--address",
                        "127.0.0.1",
                        "--tls-cert",
                        CERT("server.pem"),
                        "--tls-key",
                        CERT("server.key"),
                        NULL};
        uint64_t end = tu_now_ms() + HU_WAIT_MS;
        pid_t pid;
        int status;

        *port = free_port();
        snprintf(portstr, sizeof portstr, "%d", *port);
        pid = spawn(argv);
        while (tu_now_ms() < end) {
            int fd = tcp_connect(*port);

            if (fd >= 0) {
                close(fd); /* listening: a connection that never shook hands */
                return pid;
            }
            if (waitpid(pid, &status, WNOHANG) == pid)
                break; /* the port was taken meanwhile: another */
            poll(NULL, 0, 5);
        }
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    fail_msg("examples/hello did not start over HTTPS");
    return -1;
}

static void stop_example(pid_t pid)
{
    int status;

    assert_int_equal(kill(pid, SIGTERM), 0);
    status = tu_wait_exit(pid, HU_WAIT_MS);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("examples/hello did not stop at SIGTERM");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static const char python_get[] =
    "import socket, ssl, sys\n"
    "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
    "with socket.create_connection(('127.0.0.1', int(sys.argv[1]))) as raw:\n"
    "    with ctx.wrap_socket(raw, server_hostname='localhost') as s:\n"
    "        s.sendall(b'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n'\n"
    "                  b'Connection: close\\r\\n\\r\\n')\n"
    "        data = b''\n"
    "        while True:\n"
    "            chunk = s.recv(4096)\n"
    "            if not chunk:\n"
    "                break\n"
    "            data += chunk\n"
    "        print(s.version(), data.decode())\n";

/* examples/hello --tls-cert --tls-key answers curl (TLS 1.3 and 1.2),
 * openssl s_client, python3's ssl module and gnutls-cli, each verifying
 * its certificate; a tool that is missing is left out (CI has them all),
 * and the test is skipped when none is there. */
static void test_https_hello_interop(void **state)
{
    static const char get[] =
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    char port[8], url[64], connect[64], ca[200], out[8192];
    char *curl13[] = {"curl",         "-sS", "--tlsv1.3", "--cacert",
                      CERT("ca.pem"), url,   NULL};
    char *curl12[] = {
        "curl",     "-sS",          "--tlsv1.2", "--tls-max",        "1.2",
        "--cacert", CERT("ca.pem"), "-w",        " %{http_version}", url,
        NULL};
    char *s_client[] = {"openssl",     "s_client",  "-connect",
                        connect,       "-CAfile",   CERT("ca.pem"),
                        "-servername", "localhost", "-verify_return_error",
                        "-quiet",      NULL};
    char *python[] = {"python3", "-c",           (char *)python_get,
                      port,      CERT("ca.pem"), NULL};
    char *gnutls[] = {
        "gnutls-cli", "--port", port, ca, "--verify-hostname=localhost",
        "127.0.0.1",  NULL};
    struct {
        const char *tool;
        char **argv;
        const char *input, *expect;
    } runs[] = {
        {"curl", curl13, NULL, "Hello, World"},
        {"curl", curl12, NULL, "Hello, World 1.1"},
        {"openssl", s_client, get, "\r\n\r\nHello, World"},
        {"python3", python, NULL, "TLSv1.3 HTTP/1.1 200 OK"},
        {"gnutls-cli", gnutls, get, "\r\n\r\nHello, World"},
    };
    int ran = 0, p = 0;
    pid_t pid;

    (void)state;
    need_tls();
    if ((pid = start_https_hello(&p)) < 0)
        skip(); /* outside make check: EDDY_EXAMPLES is not set */
    snprintf(port, sizeof port, "%d", p);
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", p);
    snprintf(connect, sizeof connect, "127.0.0.1:%d", p);
    snprintf(ca, sizeof ca, "--x509cafile=%s", CERT("ca.pem"));
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        int rc;

        if (!have_tool(runs[i].tool)) {
            fprintf(stderr, "(no %s here: left out)\n", runs[i].tool);
            continue;
        }
        rc = run_tool(runs[i].argv, runs[i].input, out, sizeof out);
        if (rc != 0 || strstr(out, runs[i].expect) == NULL)
            fail_msg("%s %s: exit %d, said:\n%s", runs[i].tool, runs[i].argv[2],
                     rc, out);
        ran++;
    }
    stop_example(pid);
    if (ran == 0)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_https_requests),
        tu_test(test_https_scheme_xheaders),
        tu_test(test_https_silent_client),
        tu_test(test_https_dribbled_hello),
        tu_test(test_https_bad_clients),
        tu_test(test_https_client_certificates),
        tu_test(test_https_lingering_close),
        tu_test(test_https_client_half_close),
        tu_test(test_https_truncation),
        tu_test(test_https_shutdown),
        tu_test(test_https_free_in_handshake),
        tu_test(test_https_hello_interop),
    };

    /* A stray SIGPIPE kills the suite: none may happen. */
    if (getenv("TU_FILTER") != NULL)
        cmocka_set_test_filter(getenv("TU_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
