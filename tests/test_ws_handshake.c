/*
 * tests/test_ws_handshake.c - the WebSocket opening handshake: the checks
 * of requests and responses (websocket/handshake.c) as tables, the
 * server's eddy_ws_accept() and eddy_ws_route() on a real HTTP server
 * over loopback TCP with a raw client, and eddy_ws_connect() against
 * eddy's server and raw servers; every documented error, and what the
 * caller may do after it.
 *
 * Allocation failures are injected through GNU ld's --wrap (Linux,
 * tests/failalloc.h); elsewhere those tests are skipped.
 */
#include "testutil.h"

#include "failalloc.h"
#include "httputil.h"

#include "../httputil/parser.h"
#include "../websocket/ws_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#define WAIT_MS 5000
#define WAIT_ITER 200000
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* --- the request checks, as a table ----------------------------------------
 */

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 1.3's example */
#define UPGRADE_HEADS                                                          \
    "Host: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
#define GOOD                                                                   \
    "GET /chat HTTP/1.1\r\n" UPGRADE_HEADS "Sec-WebSocket-Key: " KEY           \
    "\r\nSec-WebSocket-Version: 13\r\n"

static const char *const protocols[] = {"superchat", "chat", NULL};

typedef struct req_case {
    const char *head; /* without the empty line that ends it */
    int status;
    int protocol;    /* with 101: the index chosen, -1 none */
    const char *ext; /* with 101: the extension answered, NULL none */
    int deflate;     /* the server accepts permessage-deflate */
} req_case;

static const req_case req_cases[] = {
    {GOOD, 101, -1, NULL, 0},
    {"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
     "Connection: keep-alive, UPGRADE\r\nSec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version:  13 \r\n",
     101, -1, NULL, 0},
    {"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: h2c, websocket\r\n"
     "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 13\r\n",
     101, -1, NULL, 0},
    {"POST /chat HTTP/1.1\r\nContent-Length: 0\r\n" UPGRADE_HEADS
     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {"GET /chat HTTP/1.0\r\n" UPGRADE_HEADS "Sec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
     "Connection: keep-alive\r\nSec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\n" UPGRADE_HEADS "Sec-WebSocket-Key: " KEY "\r\n",
     426, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\n" UPGRADE_HEADS "Sec-WebSocket-Key: " KEY
     "\r\nSec-WebSocket-Version: 8\r\n",
     426, 0, NULL, 0},
    {GOOD "Sec-WebSocket-Version: 13\r\n", 426, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\n" UPGRADE_HEADS "Sec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {GOOD "Sec-WebSocket-Key: " KEY "\r\n", 400, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\n" UPGRADE_HEADS "Sec-WebSocket-Key: "
     "dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\n" UPGRADE_HEADS "Sec-WebSocket-Key: "
     "dGhlIHNhbXBsZSBub25jZXg=\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    {"GET /chat HTTP/1.1\r\n" UPGRADE_HEADS "Sec-WebSocket-Key: "
     "dGhlIHNhbXBsZSBub25jZQ=!\r\nSec-WebSocket-Version: 13\r\n",
     400, 0, NULL, 0},
    /* The Origin: same host, another, opaque, repeated. */
    {GOOD "Origin: http://EXAMPLE.com\r\n", 101, -1, NULL, 0},
    {GOOD "Origin: https://example.com\r\n", 101, -1, NULL, 0},
    {GOOD "Origin: http://example.com:8080\r\n", 403, 0, NULL, 0},
    {GOOD "Origin: http://evil.example\r\n", 403, 0, NULL, 0},
    {GOOD "Origin: null\r\n", 403, 0, NULL, 0},
    {GOOD "Origin: http://example.com\r\nOrigin: http://example.com\r\n", 400,
     0, NULL, 0},
    /* Subprotocols: the server's preference wins. */
    {GOOD "Sec-WebSocket-Protocol: chat, superchat\r\n", 101, 0, NULL, 0},
    {GOOD "Sec-WebSocket-Protocol: chat\r\n", 101, 1, NULL, 0},
    {GOOD "Sec-WebSocket-Protocol: x\r\nSec-WebSocket-Protocol: chat\r\n", 101,
     1, NULL, 0},
    {GOOD "Sec-WebSocket-Protocol: soap, wamp\r\n", 101, -1, NULL, 0},
    {GOOD "Sec-WebSocket-Protocol: chat, a b\r\n", 400, 0, NULL, 0},
    {GOOD "Sec-WebSocket-Protocol: chat/1\r\n", 400, 0, NULL, 0},
    /* Extensions. */
    {GOOD "Sec-WebSocket-Extensions: permessage-deflate; "
          "client_max_window_bits\r\n",
     101, -1, "permessage-deflate", 1},
    {GOOD "Sec-WebSocket-Extensions: permessage-deflate; "
          "client_max_window_bits=10; server_no_context_takeover\r\n",
     101, -1,
     "permessage-deflate; server_no_context_takeover; "
     "client_max_window_bits=10",
     1},
    {GOOD "Sec-WebSocket-Extensions: permessage-deflate\r\n", 101, -1, NULL,
     0}, /* compression off */
    {GOOD "Sec-WebSocket-Extensions: x-foo, permessage-deflate; "
          "server_max_window_bits=10\r\n",
     101, -1, "permessage-deflate; server_max_window_bits=10", 1},
    {GOOD "Sec-WebSocket-Extensions: permessage-deflate;;\r\n", 400, 0, NULL,
     1},
    {GOOD "Sec-WebSocket-Extensions: permessage-deflate; a=\"b\r\n", 400, 0,
     NULL, 1},
};

/* Parses head + CRLF into h and checks it with o. */
static void check_head(const char *head, const eddy_ws_server_options *o,
                       eddy__ws_verdict *v)
{
    char buf[2048];
    eddy_http_header fields[64];
    eddy__http_head h = {.headers = fields, .max_headers = COUNT(fields)};
    eddy__http_parser p = {.max_head = sizeof buf, .max_uri = sizeof buf};
    int n = snprintf(buf, sizeof buf, "%s\r\n", head);

    assert_true(n > 0 && (size_t)n < sizeof buf);
    assert_int_equal(eddy__http_parse_head(&p, buf, (size_t)n, &h), n);
    eddy__ws_check_request(h.method, h.version, h.headers, h.nheaders, o, NULL,
                           v);
}

static void test_request_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(req_cases); i++) {
        const req_case *c = &req_cases[i];
        eddy_ws_server_options o = {.subprotocols = protocols};
        eddy__ws_verdict v;

        o.ws.deflate.enable = c->deflate;
        check_head(c->head, &o, &v);
        if (v.status != c->status)
            fail_msg("case %zu: %d, not %d (%s)", i, v.status, c->status,
                     v.why ? v.why : "");
        if (c->status != 101) {
            assert_non_null(v.why);
            continue;
        }
        assert_string_equal(v.accept, ACCEPT);
        assert_int_equal(v.protocol, c->protocol);
        if (c->ext == NULL || !eddy__ws_deflate_available()) {
            assert_false(v.deflate);
        } else {
            assert_true(v.deflate);
            assert_string_equal(v.ext, c->ext);
        }
    }
}

static int origin_calls;

static int only_foo(eddy_http_request *req, const char *origin, size_t len,
                    void *arg)
{
    assert_null(req);
    assert_ptr_equal(arg, &origin_calls);
    origin_calls++;
    return origin != NULL && len == 14 &&
           memcmp(origin, "http://foo.com", 14) == 0;
}

static void test_request_origin_hook(void **state)
{
    eddy_ws_server_options o = {.check_origin = only_foo,
                                .check_origin_arg = &origin_calls};
    eddy__ws_verdict v;

    (void)state;
    origin_calls = 0;
    check_head(GOOD "Origin: http://foo.com\r\n", &o, &v);
    assert_int_equal(v.status, 101);
    check_head(GOOD "Origin: http://example.com\r\n", &o, &v);
    assert_int_equal(v.status, 403);
    check_head(GOOD, &o, &v); /* no Origin: the hook decides (NULL) */
    assert_int_equal(v.status, 403);
    assert_int_equal(origin_calls, 3);
    /* Not consulted for a request that fails before. */
    check_head("GET / HTTP/1.1\r\nHost: x\r\nOrigin: http://foo.com\r\n", &o,
               &v);
    assert_int_equal(v.status, 400);
    assert_int_equal(origin_calls, 3);
}

/* Seventeen Sec-WebSocket-Protocol lines are more than kept: 400. */
static void test_request_too_many_lines(void **state)
{
    char head[2048];
    size_t n = (size_t)snprintf(head, sizeof head, "%s", GOOD);
    eddy_ws_server_options o = {0};
    eddy__ws_verdict v;

    (void)state;
    for (int i = 0; i <= EDDY_WS_MAX_LINES; i++)
        n += (size_t)snprintf(head + n, sizeof head - n,
                              "Sec-WebSocket-Protocol: p%d\r\n", i);
    check_head(head, &o, &v);
    assert_int_equal(v.status, 400);
}

/* --- the response checks, as a table ---------------------------------------
 */

#define H(n, v) EDDY_HEADER(n, v)

typedef struct resp_case {
    int status;
    eddy_http_header h[6];
    size_t n;
    int want;     /* 0 or EDDY_WS_E* */
    int protocol; /* with 0: the index chosen */
    int deflate;  /* the offer includes permessage-deflate; with 0, agreed */
} resp_case;

#define OK_HEADS H("Upgrade", "websocket"), H("Connection", "Upgrade")

static const resp_case resp_cases[] = {
    {101, {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT)}, 3, 0, -1, 0},
    {101,
     {H("upgrade", "WebSocket"), H("connection", "keep-alive, upgrade"),
      H("sec-websocket-accept", ACCEPT)},
     3,
     0,
     -1,
     0},
    {200,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT)},
     3,
     EDDY_WS_ESTATUS,
     -1,
     0},
    {403, {{0}}, 0, EDDY_WS_ESTATUS, -1, 0},
    {101,
     {H("Connection", "Upgrade"), H("Sec-WebSocket-Accept", ACCEPT)},
     2,
     EDDY_WS_EUPGRADE,
     -1,
     0},
    {101,
     {H("Upgrade", "websocket, h2c"), H("Connection", "Upgrade"),
      H("Sec-WebSocket-Accept", ACCEPT)},
     3,
     EDDY_WS_EUPGRADE,
     -1,
     0},
    {101,
     {H("Upgrade", "websocket"), H("Sec-WebSocket-Accept", ACCEPT)},
     2,
     EDDY_WS_EUPGRADE,
     -1,
     0},
    {101, {OK_HEADS}, 2, EDDY_WS_EACCEPT, -1, 0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo")},
     3,
     EDDY_WS_EACCEPT,
     -1,
     0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Accept", ACCEPT)},
     4,
     EDDY_WS_EACCEPT,
     -1,
     0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Protocol", "chat")},
     4,
     0,
     1,
     0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Protocol", "wamp")},
     4,
     EDDY_WS_ESUBPROTOCOL,
     -1,
     0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Protocol", "chat, superchat")},
     4,
     EDDY_WS_ESUBPROTOCOL,
     -1,
     0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Protocol", "chat"), H("Sec-WebSocket-Protocol", "chat")},
     5,
     EDDY_WS_ESUBPROTOCOL,
     -1,
     0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Extensions", "permessage-deflate")},
     4,
     EDDY_WS_EEXTENSION,
     -1,
     0},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Extensions", "permessage-deflate")},
     4,
     0,
     -1,
     1},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Extensions", "x-foo")},
     4,
     EDDY_WS_EEXTENSION,
     -1,
     1},
    {101,
     {OK_HEADS, H("Sec-WebSocket-Accept", ACCEPT),
      H("Sec-WebSocket-Extensions", "permessage-deflate, permessage-deflate")},
     4,
     EDDY_WS_EEXTENSION,
     -1,
     1},
};

static void test_response_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(resp_cases); i++) {
        const resp_case *c = &resp_cases[i];
        eddy_ws_deflate_options d = {.enable = c->deflate};
        eddy__ws_pmd agreed;
        int protocol = 7, pmd = 7, want = c->want;
        int ret;

        if (c->deflate && !eddy__ws_deflate_available() && want == 0)
            want = EDDY_WS_EEXTENSION; /* no offer made: not allowed */
        ret = eddy__ws_check_response(c->status, c->h, c->n, KEY, protocols, &d,
                                      &protocol, &pmd, &agreed);
        if (ret != want)
            fail_msg("case %zu: %d (%s), not %d", i, ret, eddy_strerror(ret),
                     want);
        if (ret != 0)
            continue;
        assert_int_equal(protocol, c->protocol);
        assert_int_equal(pmd, c->deflate);
        if (pmd)
            assert_int_equal(agreed.server_max_window_bits, 15);
    }
}

/* --- a server under test, and a raw client ----------------------------------
 */

typedef struct tws tws;

/* One connection the server made: what its callbacks saw. */
typedef struct conn_rec {
    tws *t;
    eddy_ws *ws;
    int opens, open_status;
    int messages, last_op;
    char last[256];
    int closes, close_code;
    int many; /* several connections share the record */
} conn_rec;

struct tws {
    eddy_loop *loop;
    eddy_http_server *srv;
    int port;
    eddy_ws_server_options opts;
    int accept_err; /* the last eddy_ws_accept()'s return; 1: none yet */
    int accepts;
    conn_rec conn;
    eddy_http_request *held; /* a request answered later */
    int answer;              /* what the handler answers after an error */
    int mode;                /* the handler's: M_* */
    long fail_at;            /* M_ENOMEM_OPEN: the allocation to fail */
};

enum {
    M_PLAIN = 0,  /* accept */
    M_STARTED,    /* start a response, then accept */
    M_SHUTDOWN,   /* shut the server down, then accept */
    M_HOLD,       /* hold the request, accept later */
    M_FREE,       /* accept, then free the server */
    M_ENOMEM,     /* the pending state's allocation fails */
    M_ENOMEM_OPEN /* the connection's allocation fails */
};

static void rec_open(eddy_ws *ws, int status, const eddy_http_response *r,
                     void *arg)
{
    conn_rec *c = arg;

    assert_null(r);
    c->opens++;
    c->open_status = status;
    c->ws = ws;
    assert_true((ws != NULL) == (status == 0));
    fail_alloc = -1;
}

static void rec_message(eddy_ws *ws, int op, const char *data, size_t len,
                        void *arg)
{
    conn_rec *c = arg;

    c->messages++;
    c->last_op = op;
    snprintf(c->last, sizeof c->last, "%.*s", (int)len, data);
    assert_int_equal(eddy_ws_send(ws, op, data, len), 0);
}

static void rec_close(eddy_ws *ws, int code, const char *reason, size_t len,
                      void *arg)
{
    conn_rec *c = arg;

    (void)reason, (void)len;
    if (!c->many)
        assert_ptr_equal(ws, c->ws);
    c->closes++;
    c->close_code = code;
}

static const eddy_ws_callbacks rec_cbs = {
    .on_message = rec_message, .on_close = rec_close, .on_open = rec_open};

/* Answers a request that eddy_ws_accept() left to its caller. */
static void answer(tws *t, eddy_http_request *req, int err)
{
    if (err == -EALREADY) {
        assert_int_equal(eddy_http_write(req, "started", 7, NULL, NULL), 0);
        assert_int_equal(eddy_http_finish(req), 0);
    } else if (err == -EINVAL || err == -ESHUTDOWN || err == -ENOMEM) {
        assert_int_equal(eddy_http_respond(req, t->answer, NULL, 0, "no", 2),
                         0);
    }
}

static void h_ws(eddy_http_request *req, void *arg)
{
    tws *t = arg;

    t->accepts++;
    if (t->mode == M_HOLD) {
        t->held = req;
        return;
    }
    if (t->mode == M_STARTED)
        assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, 7),
                         0);
    if (t->mode == M_SHUTDOWN)
        eddy_http_server_shutdown(t->srv, 1000, NULL, NULL);
    if (t->mode == M_ENOMEM)
        fail_alloc = 0;
    t->accept_err = eddy_ws_accept(req, &t->opts, &rec_cbs, &t->conn);
    fail_alloc = -1;
    if (t->mode == M_FREE && t->accept_err == 0) {
        eddy_http_server_free(t->srv);
        t->srv = NULL;
    }
    if (t->mode == M_ENOMEM_OPEN && t->accept_err == 0)
        fail_alloc = t->fail_at; /* one of those until the hand-over */
    answer(t, req, t->accept_err);
}

static void tws_start(tws *t)
{
    int fd = -1;
    size_t n = 0;

    memset(t, 0, sizeof *t);
    t->conn.t = t;
    t->accept_err = 1;
    t->answer = 500;
    t->loop = tu_loop_new();
    assert_int_equal(eddy_http_server_new(t->loop, NULL, &t->srv), 0);
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fd, 1, &n), 0);
    t->port = eddy_socket_port(fd);
    assert_int_equal(eddy_http_server_add_sockets(t->srv, &fd, 1), 0);
    assert_int_equal(
        eddy_http_server_route(t->srv, "GET", "/ws", EDDY_ROUTE_EXACT, h_ws, t),
        0);
}

static int conn_closed(void *arg)
{
    return ((conn_rec *)arg)->closes > 0;
}

static int got_message(void *arg)
{
    return ((conn_rec *)arg)->messages > 0;
}

static void tws_finish(tws *t)
{
    eddy_loop_stats st;

    fail_alloc = -1;
    if (t->conn.ws != NULL && t->conn.closes == 0) {
        eddy_ws_abort(t->conn.ws);
        assert_true(
            tu_run_until(t->loop, conn_closed, &t->conn, WAIT_ITER, WAIT_MS));
    }
    if (t->srv != NULL)
        eddy_http_server_free(t->srv);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(t->loop, 0), 0);
    eddy_loop_get_stats(t->loop, &st);
    assert_int_equal(st.handlers, 0);
    assert_int_equal(st.timers, 0);
    eddy_loop_close(t->loop, 0);
}

/* A raw client: a non-blocking socket read on the test's loop. */
typedef struct rcl {
    tws *t;
    int fd;
    char buf[65536];
    size_t len, off;
    int eof;
    eddy__ws_reader rd;
} rcl;

static void rcl_io(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    rcl *c = arg;
    ssize_t n = 0;

    (void)events;
    while (c->len < sizeof c->buf &&
           (n = recv(fd, c->buf + c->len, sizeof c->buf - c->len, 0)) > 0)
        c->len += (size_t)n;
    if (c->len < sizeof c->buf && n < 0 && errno == EAGAIN)
        return;
    c->eof = 1;
    assert_int_equal(eddy_loop_remove_handler(loop, fd), 0);
}

static void rcl_open(tws *t, rcl *c)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    c->fd = tcp_connect(t->port);
    assert_true(c->fd >= 0);
    tu_nonblock(c->fd);
    assert_int_equal(
        eddy_loop_add_handler(t->loop, c->fd, EDDY_READ, rcl_io, c), 0);
    eddy__ws_reader_init(&c->rd, EDDY_WS_CLIENT, 1 << 20);
}

static void rcl_close(rcl *c)
{
    if (c->fd < 0)
        return;
    if (!c->eof)
        assert_int_equal(eddy_loop_remove_handler(c->t->loop, c->fd), 0);
    assert_int_equal(close(c->fd), 0);
    c->fd = -1;
}

static void rcl_send(rcl *c, const void *p, size_t n)
{
    assert_int_equal(send(c->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static int rcl_has_response(void *arg)
{
    rcl *c = arg;
    resp r = {0};
    long n = parse_response(c->buf + c->off, c->len - c->off, 0, c->eof, &r);

    resp_free(&r);
    return n != 0 || c->eof;
}

/* The next response; its body is dropped. */
static void rcl_response(rcl *c, resp *r)
{
    long n;

    assert_true(
        tu_run_until(c->t->loop, rcl_has_response, c, WAIT_ITER, WAIT_MS));
    n = parse_response(c->buf + c->off, c->len - c->off, 0, c->eof, r);
    if (n <= 0)
        fail_msg("no response: [%.*s]", (int)(c->len - c->off),
                 c->buf + c->off);
    c->off += (size_t)n;
}

/* The 101's head (a response with no body by its status). */
static int rcl_has_head(void *arg)
{
    rcl *c = arg;

    return c->eof || memmem(c->buf + c->off, c->len - c->off, "\r\n\r\n", 4);
}

static void rcl_expect_101(rcl *c, char *head, size_t cap)
{
    const char *end;
    size_t n;

    assert_true(tu_run_until(c->t->loop, rcl_has_head, c, WAIT_ITER, WAIT_MS));
    end = memmem(c->buf + c->off, c->len - c->off, "\r\n\r\n", 4);
    if (end == NULL)
        fail_msg("no 101: [%.*s]", (int)(c->len - c->off), c->buf + c->off);
    n = (size_t)(end + 4 - (c->buf + c->off));
    assert_true(n < cap);
    memcpy(head, c->buf + c->off, n);
    head[n] = '\0';
    c->off += n;
    assert_memory_equal(head, "HTTP/1.1 101 Switching Protocols\r\n", 34);
}

/* A masked frame from the client. */
static void rcl_frame(rcl *c, unsigned op, const void *p, size_t n)
{
    uint8_t buf[512], mask[4] = {1, 2, 3, 4};
    size_t h = eddy__ws_write_header(buf, op, 1, 0, n, mask);

    assert_true(h + n <= sizeof buf);
    eddy__ws_mask_copy(buf + h, p, n, mask, 0);
    rcl_send(c, buf, h + n);
}

static int rcl_has_event(void *arg)
{
    rcl *c = arg;
    eddy__ws_reader probe = c->rd;
    eddy__ws_event ev;
    uint8_t tmp[65536];
    size_t used, at = c->off;

    memcpy(tmp, c->buf + c->off, c->len - c->off);
    while (at < c->len) {
        if (eddy__ws_read(&probe, tmp + (at - c->off), c->len - at, &used,
                          &ev) < 0)
            return 1;
        at += used;
        if (ev.type != EDDY_WS_EV_NONE &&
            (ev.type != EDDY_WS_EV_DATA || ev.fin))
            return 1;
    }
    return c->eof;
}

/* The next whole frame from the server (messages are one frame here). */
static void rcl_expect(rcl *c, int op, const char *text)
{
    eddy__ws_event ev;
    size_t used;

    assert_true(tu_run_until(c->t->loop, rcl_has_event, c, WAIT_ITER, WAIT_MS));
    do {
        assert_true(c->off < c->len);
        assert_int_equal(eddy__ws_read(&c->rd, (uint8_t *)c->buf + c->off,
                                       c->len - c->off, &used, &ev),
                         0);
        c->off += used;
    } while (ev.type == EDDY_WS_EV_NONE);
    assert_int_equal(ev.opcode, op);
    if (op == EDDY_WS_CLOSE) {
        assert_int_equal(ev.code, atoi(text));
        return;
    }
    assert_int_equal(ev.len, strlen(text));
    assert_memory_equal(ev.data, text, ev.len);
}

static int rcl_eof(void *arg)
{
    return ((rcl *)arg)->eof;
}

#define REQ(path, extra)                                                       \
    "GET " path " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"       \
    "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY                           \
    "\r\nSec-WebSocket-Version: 13\r\n" extra "\r\n"

/* --- the server over TCP
 * ------------------------------------------------------ */

/* A handshake, then text and a ping echoed, then the client's Close. */
static void test_accept_echo(void **state)
{
    static const char *const mine[] = {"v2.echo", "v1.echo", NULL};
    static const eddy_http_header extra[] = {EDDY_HEADER("Set-Cookie", "a=1")};
    char head[1024];
    tws t;
    rcl c;

    (void)state;
    tws_start(&t);
    t.opts.subprotocols = mine;
    t.opts.headers = extra;
    t.opts.nheaders = 1;
    rcl_open(&t, &c);
    rcl_send(
        &c, REQ("/ws", "Sec-WebSocket-Protocol: v1.echo, v2.echo\r\n"),
        strlen(REQ("/ws", "Sec-WebSocket-Protocol: v1.echo, v2.echo\r\n")));
    rcl_expect_101(&c, head, sizeof head);
    assert_int_equal(t.accept_err, 0);
    assert_non_null(strstr(head, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(head, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strstr(head, "\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"));
    assert_non_null(strstr(head, "\r\nSec-WebSocket-Protocol: v2.echo\r\n"));
    assert_non_null(strstr(head, "\r\nSet-Cookie: a=1\r\n"));
    assert_null(strstr(head, "Sec-WebSocket-Extensions"));
    rcl_frame(&c, EDDY_WS_TEXT, "hello", 5);
    rcl_expect(&c, EDDY_WS_TEXT, "hello");
    assert_int_equal(t.conn.opens, 1);
    assert_int_equal(t.conn.open_status, 0);
    assert_string_equal(eddy_ws_subprotocol(t.conn.ws), "v2.echo");
    assert_false(eddy_ws_compressed(t.conn.ws));
    rcl_frame(&c, EDDY_WS_PING, "p", 1);
    rcl_expect(&c, EDDY_WS_PONG, "p");
    rcl_frame(&c, EDDY_WS_CLOSE, "\x03\xe8", 2);
    rcl_expect(&c, EDDY_WS_CLOSE, "1000");
    /* The server ends TCP first, and closes once the client did. */
    assert_true(tu_run_until(t.loop, rcl_eof, &c, WAIT_ITER, WAIT_MS));
    rcl_close(&c);
    assert_true(tu_run_until(t.loop, conn_closed, &t.conn, WAIT_ITER, WAIT_MS));
    assert_int_equal(t.conn.close_code, 1000);
    tws_finish(&t);
}

/* Frames sent with the request, and permessage-deflate agreed. */
static void test_accept_leftover_deflate(void **state)
{
    char head[1024], buf[2048];
    uint8_t frame[64], mask[4] = {9, 8, 7, 6};
    size_t n, h;
    tws t;
    rcl c;

    (void)state;
    tws_start(&t);
    t.opts.ws.deflate.enable = 1;
    rcl_open(&t, &c);
    n = (size_t)snprintf(buf, sizeof buf, "%s",
                         REQ("/ws", "Sec-WebSocket-Extensions: "
                                    "permessage-deflate\r\n"));
    h = eddy__ws_write_header(frame, EDDY_WS_BINARY, 1, 0, 3, mask);
    eddy__ws_mask_copy(frame + h, (const uint8_t *)"abc", 3, mask, 0);
    memcpy(buf + n, frame, h + 3);
    rcl_send(&c, buf, n + h + 3);
    rcl_expect_101(&c, head, sizeof head);
    if (eddy__ws_deflate_available()) {
        assert_non_null(strstr(
            head, "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"));
        c.rd.rsv_ok = EDDY_WS_RSV1;
    }
    /* The frame sent with the request is read first; the echo goes back
     * compressed when agreed, so the server's own record is checked. */
    assert_true(tu_run_until(t.loop, got_message, &t.conn, WAIT_ITER, WAIT_MS));
    assert_int_equal(t.conn.last_op, EDDY_WS_BINARY);
    assert_string_equal(t.conn.last, "abc");
    assert_int_equal(eddy_ws_compressed(t.conn.ws),
                     eddy__ws_deflate_available());
    rcl_close(&c);
    tws_finish(&t);
}

typedef struct refusal {
    const char *req;
    int status, err;
    const char *header; /* a line the answer must have */
} refusal;

/* Each refusal is answered by eddy; the connection stays for the next
 * request (keep-alive), which the handshake then takes. */
static void test_accept_refusals(void **state)
{
    static const refusal cases[] = {
        {"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 400, EDDY_WS_EREQUEST, NULL},
        {REQ("/ws", "Sec-WebSocket-Key: " KEY "\r\n"), 400, EDDY_WS_EREQUEST,
         NULL},
        {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY
         "\r\nSec-WebSocket-Version: 7\r\n\r\n",
         426, EDDY_WS_EVERSION, "Sec-WebSocket-Version: 13"},
        {REQ("/ws", "Origin: http://evil.example\r\n"), 403, EDDY_WS_EORIGIN,
         NULL},
    };
    char head[1024];
    tws t;
    rcl c;

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        resp r = {0};

        tws_start(&t);
        rcl_open(&t, &c);
        rcl_send(&c, cases[i].req, strlen(cases[i].req));
        rcl_response(&c, &r);
        assert_int_equal(r.status, cases[i].status);
        assert_int_equal(t.accept_err, cases[i].err);
        assert_non_null(strstr(r.body, "WebSocket: "));
        if (cases[i].header != NULL) {
            char want[64];

            snprintf(want, sizeof want, "%s\r\n", cases[i].header);
            assert_non_null(strstr(r.head, want));
        }
        resp_free(&r);
        assert_int_equal(t.conn.opens, 0);
        /* The same connection goes on. */
        rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
        rcl_expect_101(&c, head, sizeof head);
        assert_int_equal(t.accept_err, 0);
        rcl_close(&c);
        tws_finish(&t);
    }
}

/* Errors that leave the answer to the caller: the handler answers, and
 * the client gets that answer. */
static void test_accept_unanswered(void **state)
{
    static const eddy_http_header bad_extra[] = {
        EDDY_HEADER("Sec-WebSocket-Protocol", "x")};
    static const eddy_http_header bad_value[] = {EDDY_HEADER("X-A", "b\r\nc")};
    resp r = {0};
    tws t;
    rcl c;

    (void)state;
    for (int k = 0; k < 5; k++) {
        tws_start(&t);
        if (k == 0)
            t.opts.ws.write_low_water = 100, t.opts.ws.write_high_water = 100;
        else if (k == 1)
            t.opts.ws.deflate.server_max_window_bits = 16;
        else if (k == 2)
            t.opts.headers = bad_extra, t.opts.nheaders = 1;
        else if (k == 3)
            t.opts.headers = bad_value, t.opts.nheaders = 1;
        else
            t.opts.headers = NULL, t.opts.nheaders = 1;
        rcl_open(&t, &c);
        rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
        rcl_response(&c, &r);
        assert_int_equal(t.accept_err, -EINVAL);
        assert_int_equal(r.status, 500);
        resp_free(&r);
        rcl_close(&c);
        tws_finish(&t);
    }
    assert_int_equal(eddy_ws_accept(NULL, NULL, NULL, NULL), -EINVAL);

    /* -EALREADY: the response that was started goes on. */
    tws_start(&t);
    t.mode = M_STARTED;
    rcl_open(&t, &c);
    rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
    rcl_response(&c, &r);
    assert_int_equal(t.accept_err, -EALREADY);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "started");
    resp_free(&r);
    rcl_close(&c);
    tws_finish(&t);

    /* -ESHUTDOWN: answered 503 by the handler. */
    tws_start(&t);
    t.mode = M_SHUTDOWN;
    t.answer = 503;
    rcl_open(&t, &c);
    rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
    rcl_response(&c, &r);
    assert_int_equal(t.accept_err, -ESHUTDOWN);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    rcl_close(&c);
    tws_finish(&t);
}

/* -EBUSY: a streamed route whose body is not read; read it, then accept
 * from its end. */
static void body_then_accept(eddy_http_request *req, int status,
                             const char *data, size_t len, int done, void *arg)
{
    tws *t = arg;

    (void)data, (void)len;
    if (!done)
        return;
    assert_int_equal(status, 0);
    t->accept_err = eddy_ws_accept(req, &t->opts, &rec_cbs, &t->conn);
}

static void h_stream(eddy_http_request *req, void *arg)
{
    tws *t = arg;

    t->accept_err = eddy_ws_accept(req, &t->opts, &rec_cbs, &t->conn);
    assert_int_equal(t->accept_err, -EBUSY);
    assert_int_equal(eddy_http_read_body(req, body_then_accept, t), 0);
}

static void test_accept_busy(void **state)
{
    char head[1024];
    tws t;
    rcl c;

    (void)state;
    tws_start(&t);
    assert_int_equal(eddy_http_server_route(t.srv, "GET", "/s",
                                            EDDY_ROUTE_STREAM, h_stream, &t),
                     0);
    rcl_open(&t, &c);
    rcl_send(&c, REQ("/s", "Content-Length: 3\r\n"),
             strlen(REQ("/s", "Content-Length: 3\r\n")));
    rcl_send(&c, "xyz", 3);
    rcl_expect_101(&c, head, sizeof head);
    assert_int_equal(t.accept_err, 0);
    rcl_frame(&c, EDDY_WS_TEXT, "after", 5);
    rcl_expect(&c, EDDY_WS_TEXT, "after");
    rcl_close(&c);
    tws_finish(&t);
}

/* -EPIPE: the client went away before a held request was accepted; the
 * request is finished and nothing more is done. */
static int held(void *arg)
{
    return ((tws *)arg)->held != NULL;
}

static void test_accept_client_gone(void **state)
{
    tws t;
    rcl c;
    eddy_http_stats st;

    (void)state;
    tws_start(&t);
    t.mode = M_HOLD;
    rcl_open(&t, &c);
    rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
    assert_true(tu_run_until(t.loop, held, &t, WAIT_ITER, WAIT_MS));
    {
        struct linger lg = {1, 0};

        assert_int_equal(
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    }
    rcl_close(&c);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 1), 0);
    assert_int_equal(eddy_ws_accept(t.held, NULL, &rec_cbs, &t.conn), -EPIPE);
    eddy_http_server_get_stats(t.srv, &st);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.aborted, 1);
    assert_int_equal(t.conn.opens, 0);
    tws_finish(&t);
}

/* The server freed between the 101 and the hand-over: on_open() gets
 * NULL and -ECONNRESET. */
static int opened(void *arg)
{
    return ((conn_rec *)arg)->opens > 0;
}

static void test_accept_server_freed(void **state)
{
    tws t;
    rcl c;

    (void)state;
    tws_start(&t);
    t.mode = M_FREE;
    rcl_open(&t, &c);
    rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
    assert_true(tu_run_until(t.loop, opened, &t.conn, WAIT_ITER, WAIT_MS));
    assert_int_equal(t.accept_err, 0);
    assert_int_equal(t.conn.opens, 1);
    assert_int_equal(t.conn.open_status, -ECONNRESET);
    assert_null(t.conn.ws);
    rcl_close(&c);
    tws_finish(&t);
}

#ifdef TU_WRAP_MALLOC
/* -ENOMEM from eddy_ws_accept() (answered 503 by the handler), and in
 * on_open() when the connection cannot be made (the client then sees
 * the connection closed after the 101). */
static void test_accept_enomem(void **state)
{
    resp r = {0};
    tws t;
    rcl c;

    (void)state;
    tws_start(&t);
    t.mode = M_ENOMEM;
    t.answer = 503;
    rcl_open(&t, &c);
    rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
    rcl_response(&c, &r);
    assert_int_equal(t.accept_err, -ENOMEM);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    rcl_close(&c);
    tws_finish(&t);

    /* The allocations after the 101 fail in turn, until the one that
     * makes the connection is hit: on_open() says -ENOMEM, and the client
     * sees the connection's end. */
    for (long k = 0;; k++) {
        int status;

        assert_true(k < 64);
        tws_start(&t);
        t.mode = M_ENOMEM_OPEN;
        t.fail_at = k;
        rcl_open(&t, &c);
        rcl_send(&c, REQ("/ws", ""), strlen(REQ("/ws", "")));
        assert_true(tu_run_until(t.loop, opened, &t.conn, WAIT_ITER, WAIT_MS));
        status = t.conn.open_status;
        if (status == -ENOMEM) /* the stream closed, its 101 maybe not out */
            assert_true(tu_run_until(t.loop, rcl_eof, &c, WAIT_ITER, WAIT_MS));
        rcl_close(&c);
        tws_finish(&t);
        if (status == -ENOMEM)
            break;
    }
}
#endif

/* --- eddy_ws_route
 * ------------------------------------------------------------ */

static int route_opens;

static void route_open(eddy_ws *ws, int status, const eddy_http_response *r,
                       void *arg)
{
    (void)r;
    assert_int_equal(status, 0);
    assert_ptr_equal(arg, &route_opens);
    assert_non_null(ws);
    route_opens++;
}

static void route_echo(eddy_ws *ws, int op, const char *data, size_t len,
                       void *arg)
{
    (void)arg;
    eddy_ws_send(ws, op, data, len);
}

static const eddy_ws_endpoint echo_ep = {
    .cb = {.on_message = route_echo, .on_open = route_open},
    .arg = &route_opens};
static const eddy_ws_endpoint bad_ep = {
    .opts = {.ws = {.write_high_water = 10, .write_low_water = 10}}};

static void test_route(void **state)
{
    char head[1024];
    resp r = {0};
    tws t;
    rcl c;

    (void)state;
    route_opens = 0;
    tws_start(&t);
    assert_int_equal(eddy_ws_route(t.srv, "/echo", NULL), -EINVAL);
    assert_int_equal(eddy_ws_route(t.srv, "/echo", &echo_ep), 0);
    assert_int_equal(eddy_ws_route(t.srv, "/bad", &bad_ep), 0);
    rcl_open(&t, &c);
    /* A POST is not routed (405), a bad handshake gets 400, and a route
     * that cannot take it 500; all on one connection. */
    rcl_send(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
             51);
    rcl_response(&c, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    rcl_send(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 31);
    rcl_response(&c, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    rcl_send(&c, REQ("/bad", ""), strlen(REQ("/bad", "")));
    rcl_response(&c, &r);
    assert_int_equal(r.status, 500);
    resp_free(&r);
    rcl_send(&c, REQ("/echo", ""), strlen(REQ("/echo", "")));
    rcl_expect_101(&c, head, sizeof head);
    rcl_frame(&c, EDDY_WS_BINARY, "routed", 6);
    rcl_expect(&c, EDDY_WS_BINARY, "routed");
    assert_int_equal(route_opens, 1);
    rcl_close(&c);
    /* The connection is the route's: freeing the server leaves it, and it
     * ends when the client's EOF arrives. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 1), 0);
    tws_finish(&t);
}

/* --- the client -------------------------------------------------------------
 */

/* What a client's callbacks saw. */
typedef struct cl_rec {
    eddy_loop *loop;
    eddy_ws *ws;
    int opens, open_status, resp_status;
    char proto[32];
    int messages, last_op;
    char last[256];
    int closes, close_code;
    int cancel_in_open;
    eddy_ws_connecting *handle;
} cl_rec;

static void cl_open_cb(eddy_ws *ws, int status, const eddy_http_response *r,
                       void *arg)
{
    cl_rec *c = arg;

    c->opens++;
    c->open_status = status;
    c->resp_status = r != NULL ? r->status : 0;
    c->ws = ws;
    assert_true((ws != NULL) == (status == 0));
    if (ws != NULL && eddy_ws_subprotocol(ws) != NULL)
        snprintf(c->proto, sizeof c->proto, "%s", eddy_ws_subprotocol(ws));
    if (c->cancel_in_open)
        eddy_ws_connect_cancel(c->handle); /* does nothing */
    fail_alloc = -1;
}

static void cl_message(eddy_ws *ws, int op, const char *data, size_t len,
                       void *arg)
{
    cl_rec *c = arg;

    (void)ws;
    c->messages++;
    c->last_op = op;
    snprintf(c->last, sizeof c->last, "%.*s", (int)len, data);
}

static void cl_close(eddy_ws *ws, int code, const char *reason, size_t len,
                     void *arg)
{
    cl_rec *c = arg;

    (void)reason, (void)len;
    assert_ptr_equal(ws, c->ws);
    c->closes++;
    c->close_code = code;
}

static const eddy_ws_callbacks cl_cbs = {
    .on_open = cl_open_cb, .on_message = cl_message, .on_close = cl_close};

static int cl_opened(void *arg)
{
    return ((cl_rec *)arg)->opens > 0;
}

static int cl_got(void *arg)
{
    return ((cl_rec *)arg)->messages > 0;
}

static int cl_closed(void *arg)
{
    return ((cl_rec *)arg)->closes > 0;
}

static void url_of(char *url, size_t cap, const char *scheme, int port,
                   const char *path)
{
    snprintf(url, cap, "%s://127.0.0.1:%d%s", scheme, port, path);
}

/* Connects to url and waits for on_open(). */
static void connect_wait(eddy_loop *loop, eddy_http_client *client,
                         const char *url, const eddy_ws_connect_options *o,
                         cl_rec *c)
{
    c->loop = loop;
    assert_int_equal(
        eddy_ws_connect(loop, client, url, o, &cl_cbs, c, &c->handle), 0);
    assert_int_equal(c->opens, 0); /* never inside the call */
    assert_true(tu_run_until(loop, cl_opened, c, WAIT_ITER, WAIT_MS));
    assert_int_equal(c->opens, 1);
}

/* The client closes with 1000; both ends see it. */
static void cl_close_both(tws *t, cl_rec *c)
{
    assert_int_equal(eddy_ws_close(c->ws, 1000, "bye"), 0);
    assert_true(tu_run_until(t->loop, cl_closed, c, WAIT_ITER, WAIT_MS));
    assert_true(
        tu_run_until(t->loop, conn_closed, &t->conn, WAIT_ITER, WAIT_MS));
    assert_int_equal(c->close_code, 1000);
    assert_int_equal(t->conn.close_code, 1000);
}

/* eddy's client and eddy's server: a subprotocol, permessage-deflate, an
 * Origin header, an echo each way, the closing handshake. */
static void test_connect_echo(void **state)
{
    static const char *const theirs[] = {"v2.echo", NULL};
    static const char *const mine[] = {"v1.echo", "v2.echo", NULL};
    char url[64], from[64];
    eddy_http_header origin[] = {{"Origin", 6, from, 0}};
    eddy_ws_connect_options o = {
        .subprotocols = mine, .headers = origin, .nheaders = 1};
    cl_rec c = {0};
    tws t;

    (void)state;
    tws_start(&t);
    t.opts.subprotocols = theirs;
    t.opts.ws.deflate.enable = 1;
    o.ws.deflate.enable = 1;
    url_of(url, sizeof url, "ws", t.port, "/ws");
    url_of(from, sizeof from, "http", t.port, ""); /* the same origin */
    origin[0].value_len = strlen(from);
    connect_wait(t.loop, NULL, url, &o, &c);
    assert_int_equal(c.open_status, 0);
    assert_int_equal(c.resp_status, 101);
    assert_string_equal(c.proto, "v2.echo");
    assert_int_equal(eddy_ws_compressed(c.ws), eddy__ws_deflate_available());
    assert_int_equal(eddy_ws_send(c.ws, EDDY_WS_TEXT, "ping?", 5), 0);
    assert_true(tu_run_until(t.loop, cl_got, &c, WAIT_ITER, WAIT_MS));
    assert_string_equal(c.last, "ping?");
    assert_string_equal(t.conn.last, "ping?");
    assert_int_equal(eddy_ws_compressed(t.conn.ws),
                     eddy__ws_deflate_available());
    cl_close_both(&t, &c);
    tws_finish(&t);
}

/* Connects through a client the program owns: two connections, and
 * the pool lets them go once upgraded. */
static void test_connect_shared_client(void **state)
{
    eddy_http_client *client;
    eddy_http_client_stats st;
    cl_rec c[2] = {{0}, {0}};
    char url[64];
    tws t;

    (void)state;
    tws_start(&t);
    t.conn.many = 1;
    assert_int_equal(eddy_http_client_new(t.loop, NULL, &client), 0);
    url_of(url, sizeof url, "WS", t.port, "/ws?room=1");
    for (int i = 0; i < 2; i++) {
        connect_wait(t.loop, client, url, NULL, &c[i]);
        assert_int_equal(c[i].open_status, 0);
    }
    eddy_http_client_get_stats(client, &st);
    assert_int_equal(st.connections_total, 2);
    assert_int_equal(st.connections, 0); /* upgraded: not the pool's */
    for (int i = 0; i < 2; i++) {
        eddy_ws_abort(c[i].ws);
        assert_true(tu_run_until(t.loop, cl_closed, &c[i], WAIT_ITER, WAIT_MS));
        assert_int_equal(c[i].close_code, EDDY_WS_ABNORMAL);
    }
    eddy_http_client_free(client);
    t.conn.ws = NULL; /* the second connection replaced the first's record */
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 1), 0);
    tws_finish(&t);
}

/* Errors of the call itself: nothing starts, on_open() never runs. */
static void test_connect_errors(void **state)
{
    static const char *const bad_proto[] = {"a b", NULL};
    static const eddy_http_header bad_hdr[] = {
        EDDY_HEADER("Sec-WebSocket-Protocol", "x")};
    static const eddy_http_header bad_val[] = {EDDY_HEADER("X-A", "1\r\n2")};
    static const eddy_ws_callbacks no_open = {.on_message = cl_message};
    eddy_loop *loop = tu_loop_new();
    eddy_ws_connect_options o = {0};
    eddy_ws_connecting *h = NULL;
    cl_rec c = {0};

    (void)state;
    assert_int_equal(
        eddy_ws_connect(NULL, NULL, "ws://a/", NULL, &cl_cbs, &c, NULL),
        -EINVAL);
    assert_int_equal(eddy_ws_connect(loop, NULL, NULL, NULL, &cl_cbs, &c, &h),
                     -EINVAL);
    assert_int_equal(eddy_ws_connect(loop, NULL, "ws://a/", NULL, NULL, &c, &h),
                     -EINVAL);
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/", NULL, &no_open, &c, &h),
        -EINVAL);
    o.subprotocols = bad_proto;
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/", &o, &cl_cbs, &c, &h), -EINVAL);
    o = (eddy_ws_connect_options){.headers = bad_hdr, .nheaders = 1};
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/", &o, &cl_cbs, &c, &h), -EINVAL);
    o = (eddy_ws_connect_options){.headers = bad_val, .nheaders = 1};
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/", &o, &cl_cbs, &c, &h), -EINVAL);
    o = (eddy_ws_connect_options){.nheaders = 1};
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/", &o, &cl_cbs, &c, &h), -EINVAL);
    o = (eddy_ws_connect_options){0};
    o.ws.deflate.client_max_window_bits = 7;
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/", &o, &cl_cbs, &c, &h), -EINVAL);
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/#frag", NULL, &cl_cbs, &c, &h),
        -EINVAL);
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://[::1/", NULL, &cl_cbs, &c, &h),
        -EINVAL);
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "just words", NULL, &cl_cbs, &c, &h),
        -EINVAL);
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "http://a/", NULL, &cl_cbs, &c, &h),
        -EPROTONOSUPPORT);
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ftp://a/", NULL, &cl_cbs, &c, &h),
        -EPROTONOSUPPORT);
    if (eddy_tls_library() == NULL)
        assert_int_equal(
            eddy_ws_connect(loop, NULL, "wss://a/", NULL, &cl_cbs, &c, &h),
            -ENOTSUP);
#ifdef TU_WRAP_MALLOC
    fail_alloc = 0;
    assert_int_equal(
        eddy_ws_connect(loop, NULL, "ws://a/", NULL, &cl_cbs, &c, &h), -ENOMEM);
    fail_alloc = -1;
#endif
    for (int i = 0; i < 4; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(c.opens, 0);
    eddy_loop_close(loop, 0);
}

/* Refusals, EDDY_WS_ESTATUS with the response: a 404 (no such route),
 * and a 403 for an Origin the server does not allow. */
static void test_connect_refused(void **state)
{
    static const eddy_http_header evil[] = {
        EDDY_HEADER("Origin", "http://evil.example")};
    eddy_ws_connect_options o = {.headers = evil, .nheaders = 1};
    char url[64];
    cl_rec c = {0}, d = {0};
    tws t;

    (void)state;
    tws_start(&t);
    url_of(url, sizeof url, "ws", t.port, "/nowhere");
    connect_wait(t.loop, NULL, url, NULL, &c);
    assert_int_equal(c.open_status, EDDY_WS_ESTATUS);
    assert_int_equal(c.resp_status, 404);
    url_of(url, sizeof url, "ws", t.port, "/ws");
    connect_wait(t.loop, NULL, url, &o, &d);
    assert_int_equal(d.open_status, EDDY_WS_ESTATUS);
    assert_int_equal(d.resp_status, 403);
    assert_int_equal(t.accept_err, EDDY_WS_EORIGIN);
    tws_finish(&t);
}

/* --- a scripted server, plain or TLS ---------------------------------------
 */

typedef struct rsrv {
    eddy_loop *loop;
    int lfd, port;
    eddy_tls_ctx *tls;  /* a server context: wss; NULL: ws */
    const char *answer; /* a format with %s for the accept; NULL: a good
                           101, then an eddy server connection echoes */
    int silent;         /* read the request and never answer */
    const char *extra;  /* bytes right after the answer, in its write */
    size_t extra_len;
    eddy_stream *s;
    conn_rec srv; /* the eddy end after a good 101 */
    int requests;
    char key[EDDY_WS_KEY_LEN + 1]; /* the last request's */
} rsrv;

/* Answers the request whose key is r->key: a good 101 and an eddy
 * server connection, or r->answer. */
static void rs_answer(rsrv *r)
{
    static const char good[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: %s\r\n\r\n";
    char accept[EDDY_WS_ACCEPT_LEN + 1], out[1024];
    int n;

    eddy__ws_accept(r->key, EDDY_WS_KEY_LEN, accept);
    n = snprintf(out, sizeof out, r->answer ? r->answer : good, accept);
    assert_true(n > 0 && (size_t)n + r->extra_len < sizeof out);
    if (r->extra_len > 0)
        memcpy(out + n, r->extra, r->extra_len);
    assert_int_equal(
        eddy_stream_write(r->s, out, (size_t)n + r->extra_len, NULL, NULL), 0);
    if (r->answer == NULL) {
        assert_int_equal(eddy__ws_conn_new(r->s, EDDY_WS_SERVER, NULL, 0, NULL,
                                           NULL, NULL, &rec_cbs, &r->srv,
                                           &r->srv.ws),
                         0);
        r->s = NULL; /* the connection's */
    }
}

static void rs_head(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    rsrv *r = arg;
    const char *k = memmem(data, len, "Sec-WebSocket-Key: ", 19);

    (void)s;
    if (status != 0)
        return;
    assert_non_null(k);
    memcpy(r->key, k + 19, EDDY_WS_KEY_LEN);
    r->requests++;
    if (!r->silent)
        rs_answer(r);
}

static void rs_read(eddy_stream *s, int status, void *arg)
{
    if (status != 0)
        return;
    assert_int_equal(
        eddy_stream_read_until(s, "\r\n\r\n", 4, 8192, rs_head, arg), 0);
}

static void rs_accept(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    rsrv *r = arg;
    int c = accept(fd, NULL, NULL);

    (void)events;
    if (c < 0)
        return;
    assert_null(r->s);
    assert_int_equal(eddy_stream_new(loop, c, NULL, &r->s), 0);
    if (r->tls != NULL)
        assert_int_equal(
            eddy_stream_start_tls(r->s, r->tls, NULL, 0, rs_read, r), 0);
    else
        rs_read(r->s, 0, r);
}

static int rs_has_request(void *arg)
{
    return ((rsrv *)arg)->requests > 0;
}

static void rs_start(rsrv *r, eddy_loop *loop)
{
    size_t n = 0;

    r->loop = loop;
    r->srv.t = NULL;
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &r->lfd, 1, &n), 0);
    r->port = eddy_socket_port(r->lfd);
    assert_int_equal(
        eddy_loop_add_handler(loop, r->lfd, EDDY_READ, rs_accept, r), 0);
}

static void rs_stop(rsrv *r)
{
    assert_int_equal(eddy_loop_remove_handler(r->loop, r->lfd), 0);
    assert_int_equal(close(r->lfd), 0);
    if (r->s != NULL)
        eddy_stream_close(r->s);
    r->s = NULL;
    if (r->srv.ws != NULL && r->srv.closes == 0) {
        eddy_ws_abort(r->srv.ws);
        assert_true(
            tu_run_until(r->loop, conn_closed, &r->srv, WAIT_ITER, WAIT_MS));
    }
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(r->loop, 0), 0);
}

typedef struct bad_101 {
    const char *answer;
    int err;
} bad_101;

#define ANSWER(rest) "HTTP/1.1 101 Switching Protocols\r\n" rest "\r\n"

/* 101s that break the handshake: each error, with the 101 in resp, and
 * the connection closed by the client. */
static void test_connect_bad_101(void **state)
{
    static const bad_101 cases[] = {
        {ANSWER("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %.27sA\r\n"),
         EDDY_WS_EACCEPT},
        {ANSWER("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "X-Accept: %s\r\n"),
         EDDY_WS_EACCEPT},
        {ANSWER("Upgrade: h2c\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n"),
         EDDY_WS_EUPGRADE},
        {ANSWER("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: chat\r\n"),
         EDDY_WS_ESUBPROTOCOL},
        {ANSWER("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
         EDDY_WS_EEXTENSION},
    };
    eddy_loop *loop = tu_loop_new();
    char url[64];

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        rsrv r = {.answer = cases[i].answer};
        cl_rec c = {0};

        rs_start(&r, loop);
        url_of(url, sizeof url, "ws", r.port, "/");
        connect_wait(loop, NULL, url, NULL, &c);
        assert_int_equal(c.open_status, cases[i].err);
        assert_int_equal(c.resp_status, 101);
        rs_stop(&r);
    }
    eddy_loop_close(loop, 0);
}

/* Frames the server sent right behind its 101 arrive first. */
static void test_connect_leftover(void **state)
{
    static const char frame[] = "\x81\x05hello";
    eddy_loop *loop = tu_loop_new();
    rsrv r = {.extra = frame, .extra_len = 7};
    cl_rec c = {0};
    char url[64];

    (void)state;
    rs_start(&r, loop);
    url_of(url, sizeof url, "ws", r.port, "/");
    connect_wait(loop, NULL, url, NULL, &c);
    assert_int_equal(c.open_status, 0);
    assert_true(tu_run_until(loop, cl_got, &c, WAIT_ITER, WAIT_MS));
    assert_string_equal(c.last, "hello");
    eddy_ws_abort(c.ws);
    assert_true(tu_run_until(loop, cl_closed, &c, WAIT_ITER, WAIT_MS));
    rs_stop(&r);
    eddy_loop_close(loop, 0);
}

/* A server that never answers: the handshake times out, and a connect
 * cancelled meanwhile tells nothing; a cancel inside on_open() does
 * nothing. */
static void test_connect_timeout_cancel(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_ws_connect_options o = {.handshake_timeout_ms = 50};
    rsrv r = {.silent = 1};
    cl_rec c = {0}, d = {0};
    char url[64];

    (void)state;
    rs_start(&r, loop);
    url_of(url, sizeof url, "ws", r.port, "/");
    c.cancel_in_open = 1;
    connect_wait(loop, NULL, url, &o, &c);
    assert_int_equal(c.open_status, EDDY_HTTP_EREQTIMEOUT);
    assert_int_equal(c.resp_status, 0);
    eddy_stream_close(r.s);
    r.s = NULL;
    /* Cancelled before and after the request went out. */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(
            eddy_ws_connect(loop, NULL, url, NULL, &cl_cbs, &d, &d.handle), 0);
        if (k == 1)
            assert_true(
                tu_run_until(loop, rs_has_request, &r, WAIT_ITER, WAIT_MS));
        eddy_ws_connect_cancel(d.handle);
        for (int i = 0; i < 20; i++)
            assert_int_equal(eddy_loop_run_once(loop, 1), 0);
        assert_int_equal(d.opens, 0);
        if (r.s != NULL)
            eddy_stream_close(r.s);
        r.s = NULL;
    }
    eddy_ws_connect_cancel(NULL);
    rs_stop(&r);
    eddy_loop_close(loop, 0);
}

/* Nothing listens: the HTTP client's error comes through. */
static void test_connect_refused_tcp(void **state)
{
    eddy_loop *loop = tu_loop_new();
    cl_rec c = {0};
    char url[64];
    int port = free_port();

    (void)state;
    url_of(url, sizeof url, "ws", port, "/");
    connect_wait(loop, NULL, url, NULL, &c);
    assert_int_equal(c.open_status, -ECONNREFUSED);
    eddy_loop_close(loop, 0);
}

/* wss: a TLS server with the test CA's certificate; the client verifies
 * it with a context that trusts the CA, and refuses it with one that
 * does not (EDDY_TLS_VERIFY). */
static void test_connect_wss(void **state)
{
    char dir[64] = "/tmp/eddy-ws-hs-XXXXXX", cmd[160], crt[128], key[128],
         ca[128], url[64];
    eddy_tls_ctx *sctx, *cctx, *strict;
    eddy_loop *loop;
    rsrv r = {0};
    cl_rec c = {0}, d = {0};
    eddy_ws_connect_options o = {0};

    (void)state;
    if (eddy_tls_library() == NULL)
        skip();
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "tests/certs.sh %s >/dev/null 2>&1", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(crt, sizeof crt, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    loop = tu_loop_new();
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_SERVER, &sctx), 0);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(sctx, crt, key), 0);
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &cctx), 0);
    assert_int_equal(eddy_tls_ctx_load_verify(cctx, ca, NULL), 0);
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &strict), 0);
    r.tls = sctx;
    rs_start(&r, loop);
    url_of(url, sizeof url, "wss", r.port, "/secure");
    o.tls = cctx;
    connect_wait(loop, NULL, url, &o, &c);
    assert_int_equal(c.open_status, 0);
    assert_non_null(eddy_stream_tls_version(eddy_ws_stream(c.ws)));
    assert_int_equal(eddy_ws_send(c.ws, EDDY_WS_TEXT, "secret", 6), 0);
    assert_true(tu_run_until(loop, cl_got, &c, WAIT_ITER, WAIT_MS));
    assert_string_equal(c.last, "secret");
    assert_int_equal(eddy_ws_close(c.ws, 1000, NULL), 0);
    assert_true(tu_run_until(loop, cl_closed, &c, WAIT_ITER, WAIT_MS));
    assert_int_equal(c.close_code, 1000);
    assert_true(tu_run_until(loop, conn_closed, &r.srv, WAIT_ITER, WAIT_MS));
    r.srv.ws = NULL;
    /* A context that does not trust the test CA. */
    o.tls = strict;
    connect_wait(loop, NULL, url, &o, &d);
    assert_int_equal(d.open_status, EDDY_TLS_VERIFY);
    rs_stop(&r);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
    eddy_tls_ctx_free(strict);
    eddy_loop_close(loop, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

#ifdef TU_WRAP_MALLOC
/* The allocations after the request went out fail in turn, until the
 * connection's own fails: on_open() says -ENOMEM (with the 101), and
 * nothing leaks whichever failed. */
static void test_connect_enomem(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char url[64];
    int done = 0;

    (void)state;
    for (long k = 0; !done; k++) {
        rsrv r = {.silent = 1,
                  .answer = ANSWER("Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: %s\r\n")};
        cl_rec c = {0};

        assert_true(k < 64);
        rs_start(&r, loop);
        url_of(url, sizeof url, "ws", r.port, "/");
        assert_int_equal(
            eddy_ws_connect(loop, NULL, url, NULL, &cl_cbs, &c, NULL), 0);
        assert_true(tu_run_until(loop, rs_has_request, &r, WAIT_ITER, WAIT_MS));
        rs_answer(&r);
        fail_alloc = k; /* from the client's reading of the 101 on */
        assert_true(tu_run_until(loop, cl_opened, &c, WAIT_ITER, WAIT_MS));
        fail_alloc = -1;
        done = c.open_status == -ENOMEM && c.resp_status == 101;
        if (c.ws != NULL) {
            eddy_ws_abort(c.ws);
            assert_true(tu_run_until(loop, cl_closed, &c, WAIT_ITER, WAIT_MS));
        }
        rs_stop(&r);
    }
    eddy_loop_close(loop, 0);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_request_table),
        tu_test(test_request_origin_hook),
        tu_test(test_request_too_many_lines),
        tu_test(test_response_table),
        tu_test(test_accept_echo),
        tu_test(test_accept_leftover_deflate),
        tu_test(test_accept_refusals),
        tu_test(test_accept_unanswered),
        tu_test(test_accept_busy),
        tu_test(test_accept_client_gone),
        tu_test(test_accept_server_freed),
#ifdef TU_WRAP_MALLOC
        tu_test(test_accept_enomem),
#endif
        tu_test(test_route),
        tu_test(test_connect_echo),
        tu_test(test_connect_shared_client),
        tu_test(test_connect_errors),
        tu_test(test_connect_refused),
        tu_test(test_connect_bad_101),
        tu_test(test_connect_leftover),
        tu_test(test_connect_timeout_cancel),
        tu_test(test_connect_refused_tcp),
        tu_test(test_connect_wss),
#ifdef TU_WRAP_MALLOC
        tu_test(test_connect_enomem),
#endif
    };

    (void)fail_alloc;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
