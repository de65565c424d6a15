/*
 * tests/test_ws_interop.c - eddy's WebSocket against independent peers
 * over loopback: Python's websockets (python3-websockets) and node's `ws`
 * package (installed under build/npm/ by make interop-deps), both ways.
 *
 *  - eddy's client against the peer's server (tests/interop/ws_peer.py
 *    and ws_peer.js in server mode): text, binary, fragmented messages
 *    both ways, pings both ways, close codes from each side, a message
 *    over eddy's limit (1009), permessage-deflate offered and not, and
 *    wss with the certificates tests/certs.sh makes;
 *  - the peer's client (client mode) against eddy's server (eddy_ws_route
 *    on an HTTP server in this process): the peer runs its scenarios and
 *    prints "ok NAME" for each, which the test checks while running the
 *    server's loop.
 *
 * The suite runs once, not on every backend, under valgrind and ASan:
 * `make interop-ws` (which .ci/run calls) installs the peers and runs it
 * with EDDY_INTEROP set; without that variable every test skips, saying
 * so.  With EDDY_INTEROP=1 a peer that is not installed skips its tests
 * (with the reason on stderr); with EDDY_INTEROP=require (CI) it fails
 * them.  Peers are child processes started and stopped by PID, every
 * wait bounded; a test that fails stops its peer in the teardown.
 */
#include "testutil.h"

#include "eddy/eddy.h"

#include "../websocket/ws_internal.h"

#include <signal.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define WAIT_MS 20000
#define WAIT_ITER 2000000
#define NPM_MODULES "build/npm/node_modules"

/* --- the peers ------------------------------------------------------------ */

enum { PY, NODE };

/* Whether the suite runs at all (EDDY_INTEROP set); the reason printed
 * once otherwise. */
static int interop_on(void)
{
    static int said;
    const char *e = getenv("EDDY_INTEROP");

    if (e != NULL && *e != '\0')
        return 1;
    if (!said++)
        fprintf(stderr, "interop: skipped (it runs once, in make interop-ws: "
                        "EDDY_INTEROP is not set)\n");
    return 0;
}

/* Whether a missing peer fails the test rather than skipping it. */
static int interop_required(void)
{
    const char *e = getenv("EDDY_INTEROP");

    return e != NULL && strcmp(e, "require") == 0;
}

/* The interpreter that has the peer's library, or NULL (the reason was
 * printed). */
static const char *interpreter(int kind)
{
    static const char *found[2];
    static int looked[2];
    char cmd[256];

    if (looked[kind])
        return found[kind];
    looked[kind] = 1;
    if (kind == PY) {
        /* Debian's python3 first: another one on PATH (pyenv) may not
         * see python3-websockets. */
        static const char *const pys[] = {"/usr/bin/python3", "python3"};

        for (size_t i = 0; i < 2 && found[kind] == NULL; i++) {
            snprintf(cmd, sizeof cmd,
                     "%s -c 'import websockets' >/dev/null 2>&1", pys[i]);
            if (system(cmd) == 0)
                found[kind] = pys[i];
        }
    } else {
        setenv("NODE_PATH", NPM_MODULES, 1);
        if (system("node -e \"require('ws')\" >/dev/null 2>&1") == 0)
            found[kind] = "node";
    }
    if (found[kind] == NULL)
        fprintf(stderr, "interop: %s is missing: %s\n",
                kind == PY ? "python3-websockets" : "node's ws",
                kind == PY ? "apt-get install python3-websockets"
                           : "make interop-deps (npm)");
    return found[kind];
}

typedef struct peer {
    pid_t pid;
    int out; /* its stdout */
    char buf[8192];
    size_t len;
} peer;

/* The peer running now, for the teardown of a test that failed. */
static peer *running;

/* Skips the test when the suite is off or the peer is missing (fails it
 * instead when EDDY_INTEROP=require). */
static void need_peer(int kind)
{
    if (!interop_on())
        skip();
    if (interpreter(kind) != NULL)
        return;
    if (interop_required())
        fail_msg("EDDY_INTEROP=require and the peer is missing");
    skip();
}

/* Starts the peer script with args (NULL-terminated, at most 4), its
 * stdout on a pipe. */
static void peer_start(peer *p, int kind, const char *const *args)
{
    const char *argv[8];
    int fds[2], n = 0;

    memset(p, 0, sizeof *p);
    argv[n++] = interpreter(kind);
    argv[n++] =
        kind == PY ? "tests/interop/ws_peer.py" : "tests/interop/ws_peer.js";
    for (; *args != NULL; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
#ifdef __linux__
        /* Killed with the test if it dies before stopping the peer. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (dup2(fds[1], 1) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    p->out = fds[0];
    tu_nonblock(p->out);
    running = p;
}

/* Reads what the peer printed so far; 1 at its EOF. */
static int peer_read(peer *p)
{
    ssize_t n = -1;

    while (p->len < sizeof p->buf - 1 &&
           (n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len)) > 0)
        p->len += (size_t)n;
    p->buf[p->len] = '\0';
    return n == 0;
}

/* Stops the peer (by its PID) and reaps it. */
static void peer_stop(peer *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        if (tu_wait_exit(p->pid, 5000) < 0) {
            kill(p->pid, SIGKILL);
            assert_true(tu_wait_exit(p->pid, 5000) >= 0);
        }
    }
    p->pid = 0;
    if (p->out >= 0)
        close(p->out);
    p->out = -1;
    running = NULL;
}

/* A server peer's "ports WS WSS" line. */
static void peer_ports(peer *p, int *ws, int *wss)
{
    uint64_t end = tu_now_ms() + WAIT_MS;
    char *nl;

    while ((nl = strchr(p->buf, '\n')) == NULL) {
        struct pollfd pf = {p->out, POLLIN, 0};

        assert_true(tu_now_ms() < end);
        poll(&pf, 1, 100);
        if (peer_read(p))
            break;
    }
    if (sscanf(p->buf, "ports %d %d", ws, wss) != 2)
        fail_msg("the peer did not start: [%s]", p->buf);
}

/* Certificates from tests/certs.sh in a fresh directory (dir gets its
 * name), or 0 without TLS. */
static int make_certs(char *dir, size_t cap)
{
    char cmd[256];

    if (eddy_tls_library() == NULL)
        return 0;
    snprintf(dir, cap, "/tmp/eddy-ws-interop-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "tests/certs.sh %s >/dev/null 2>&1", dir);
    assert_int_equal(system(cmd), 0);
    return 1;
}

static void remove_certs(const char *dir)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* --- eddy's client against the peer's server -------------------------------
 */

typedef struct cl {
    eddy_loop *loop;
    eddy_ws *ws;
    int opens, status, messages, last_op, pongs, closes, code, error;
    char *last; /* the last message (malloc'd) */
    size_t last_len;
    char *prev; /* the one before it, which may come in the same read */
    char reason[128];
} cl;

static void c_open(eddy_ws *ws, int status, const eddy_http_response *r,
                   void *arg)
{
    cl *c = arg;

    (void)r;
    c->opens++;
    c->status = status;
    c->ws = ws;
}

static void c_message(eddy_ws *ws, int op, const char *data, size_t len,
                      void *arg)
{
    cl *c = arg;

    (void)ws;
    free(c->prev);
    c->prev = c->last;
    c->last = malloc(len + 1);
    assert_non_null(c->last);
    memcpy(c->last, data, len + 1);
    c->last_len = len;
    c->last_op = op;
    c->messages++;
}

static void c_pong(eddy_ws *ws, const char *data, size_t len, void *arg)
{
    cl *c = arg;

    (void)ws;
    assert_int_equal(len, 2);
    assert_memory_equal(data, "p1", 2);
    c->pongs++;
}

static void c_close(eddy_ws *ws, int code, const char *reason, size_t len,
                    void *arg)
{
    cl *c = arg;

    c->closes++;
    c->code = code;
    c->error = eddy_ws_error(ws);
    snprintf(c->reason, sizeof c->reason, "%.*s", (int)len, reason);
}

static const eddy_ws_callbacks c_cbs = {.on_open = c_open,
                                        .on_message = c_message,
                                        .on_pong = c_pong,
                                        .on_close = c_close};

static int c_opened(void *arg)
{
    return ((cl *)arg)->opens > 0;
}

static int c_closed(void *arg)
{
    return ((cl *)arg)->closes > 0;
}

typedef struct count {
    const int *n;
    int want;
} count;

static int reached(void *arg)
{
    count *k = arg;

    return *k->n >= k->want;
}

static void c_connect(cl *c, eddy_loop *loop, const char *url,
                      const eddy_ws_connect_options *o)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    assert_int_equal(eddy_ws_connect(loop, NULL, url, o, &c_cbs, c, NULL), 0);
    assert_true(tu_run_until(loop, c_opened, c, WAIT_ITER, WAIT_MS));
    if (c->status != 0)
        fail_msg("connect to %s: %s", url, eddy_strerror(c->status));
}

/* Sends, and waits for the echo. */
static void c_echo(cl *c, int op, const void *data, size_t len)
{
    count k = {&c->messages, c->messages + 1};

    assert_int_equal(eddy_ws_send(c->ws, op, data, len), 0);
    assert_true(tu_run_until(c->loop, reached, &k, WAIT_ITER, WAIT_MS));
    assert_int_equal(c->last_op, op);
    assert_int_equal(c->last_len, len);
    assert_memory_equal(c->last, data, len);
}

static void c_wait_message(cl *c, int n)
{
    count k = {&c->messages, n};

    assert_true(tu_run_until(c->loop, reached, &k, WAIT_ITER, WAIT_MS));
}

static void c_wait_closed(cl *c)
{
    assert_true(tu_run_until(c->loop, c_closed, c, WAIT_ITER, WAIT_MS));
    free(c->last);
    free(c->prev);
    c->last = c->prev = NULL;
}

/* /echo: every kind of message and a ping, then eddy's Close with 4001,
 * which the peer answers with the same code. */
static void echo_all(eddy_loop *loop, const char *base, int deflate,
                     eddy_tls_ctx *tls)
{
    static const char text[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83";
    size_t big = tu_valgrind() ? 32768 : 262144;
    eddy_ws_connect_options o = {.tls = tls};
    uint8_t bin[512];
    char *bulk = malloc(big), url[128];
    cl c;

    assert_non_null(bulk);
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)i;
    for (size_t i = 0; i < big; i++)
        bulk[i] = "eddy websocket "[i % 15];
    o.ws.deflate.enable = deflate;
    snprintf(url, sizeof url, "%s/echo", base);
    c_connect(&c, loop, url, &o);
    assert_int_equal(eddy_ws_compressed(c.ws),
                     deflate && eddy__ws_deflate_available());
    c_echo(&c, EDDY_WS_TEXT, text, sizeof text - 1);
    c_echo(&c, EDDY_WS_BINARY, bin, sizeof bin);
    c_echo(&c, EDDY_WS_TEXT, bulk, big);
    c_echo(&c, EDDY_WS_BINARY, "", 0);
    /* A fragmented message comes back whole. */
    assert_int_equal(eddy_ws_send_fragment(c.ws, EDDY_WS_TEXT, "frag", 4, 0),
                     0);
    assert_int_equal(
        eddy_ws_send_fragment(c.ws, EDDY_WS_CONTINUATION, "ment", 4, 0), 0);
    assert_int_equal(
        eddy_ws_send_fragment(c.ws, EDDY_WS_CONTINUATION, "ed", 2, 1), 0);
    c_wait_message(&c, c.messages + 1);
    assert_string_equal(c.last, "fragmented");
    {
        count k = {&c.pongs, 1};

        assert_int_equal(eddy_ws_ping(c.ws, "p1", 2), 0);
        assert_true(tu_run_until(loop, reached, &k, WAIT_ITER, WAIT_MS));
    }
    assert_int_equal(eddy_ws_close(c.ws, 4001, "eddy bye"), 0);
    c_wait_closed(&c);
    assert_int_equal(c.code, 4001);
    assert_int_equal(c.error, 0);
    free(bulk);
}

/* The other paths of the peer's server. */
static void server_paths(eddy_loop *loop, const char *base)
{
    eddy_ws_connect_options o = {0};
    char url[128];
    cl c;

    /* The server closes with its code and reason. */
    snprintf(url, sizeof url, "%s/close", base);
    c_connect(&c, loop, url, NULL);
    c_wait_closed(&c);
    assert_int_equal(c.code, 4002);
    assert_string_equal(c.reason, "server bye");
    assert_int_equal(c.error, 0);
    /* The server pings: eddy's pong makes it say so. */
    snprintf(url, sizeof url, "%s/ping", base);
    c_connect(&c, loop, url, NULL);
    c_wait_message(&c, 1);
    assert_string_equal(c.last, "pong-ok");
    assert_int_equal(eddy_ws_close(c.ws, 1000, NULL), 0);
    c_wait_closed(&c);
    assert_int_equal(c.code, 1000);
    /* Fragmented messages from the server arrive whole. */
    snprintf(url, sizeof url, "%s/frag", base);
    c_connect(&c, loop, url, NULL);
    c_wait_message(&c, 2);
    assert_string_equal(c.prev, "fragmented");
    assert_int_equal(c.last_op, EDDY_WS_BINARY);
    assert_int_equal(c.last_len, 3);
    assert_memory_equal(c.last, "\x00\x01\x02", 3);
    assert_int_equal(eddy_ws_close(c.ws, 1000, NULL), 0);
    c_wait_closed(&c);
    /* What the server says it agreed on, with and without an offer. */
    for (int deflate = 0; deflate < 2; deflate++) {
        o.ws.deflate.enable = deflate;
        snprintf(url, sizeof url, "%s/info", base);
        c_connect(&c, loop, url, &o);
        c_wait_message(&c, 1);
        assert_string_equal(c.last, deflate && eddy__ws_deflate_available()
                                        ? "deflate"
                                        : "plain");
        assert_int_equal(eddy_ws_close(c.ws, 1000, NULL), 0);
        c_wait_closed(&c);
    }
    /* An echo over eddy's limit: eddy fails it with 1009. */
    o = (eddy_ws_connect_options){.ws = {.max_message_size = 1024}};
    snprintf(url, sizeof url, "%s/echo", base);
    c_connect(&c, loop, url, &o);
    {
        char big[2000];

        memset(big, 'x', sizeof big);
        assert_int_equal(eddy_ws_send(c.ws, EDDY_WS_TEXT, big, sizeof big), 0);
    }
    c_wait_closed(&c);
    assert_int_equal(c.code, 1009);
    assert_int_equal(c.error, -EPROTO);
}

static void client_against(int kind)
{
    const char *args[4] = {"server", NULL, NULL, NULL};
    char dir[64], crt[128], key[128], ca[128], base[64];
    eddy_tls_ctx *ctx = NULL;
    int tls, ws_port = 0, wss_port = 0;
    eddy_loop *loop;
    static peer p; /* static: the teardown may stop it after a failure */

    need_peer(kind);
    tls = make_certs(dir, sizeof dir);
    if (tls) {
        snprintf(crt, sizeof crt, "%s/server.pem", dir);
        snprintf(key, sizeof key, "%s/server.key", dir);
        snprintf(ca, sizeof ca, "%s/ca.pem", dir);
        args[1] = crt;
        args[2] = key;
    }
    peer_start(&p, kind, args);
    peer_ports(&p, &ws_port, &wss_port);
    loop = tu_loop_new();
    snprintf(base, sizeof base, "ws://127.0.0.1:%d", ws_port);
    echo_all(loop, base, 1, NULL);
    echo_all(loop, base, 0, NULL);
    server_paths(loop, base);
    if (tls) {
        assert_true(wss_port > 0);
        assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx), 0);
        assert_int_equal(eddy_tls_ctx_load_verify(ctx, ca, NULL), 0);
        snprintf(base, sizeof base, "wss://127.0.0.1:%d", wss_port);
        echo_all(loop, base, 1, ctx);
        echo_all(loop, base, 0, ctx);
        eddy_tls_ctx_free(ctx);
        remove_certs(dir);
    }
    peer_stop(&p);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
    printf("interop: eddy's client against %s's server: echo (text, binary, "
           "fragmented, ping, close 4001) with and without deflate%s, "
           "close 4002, ping, fragments, info, 1009: ok\n",
           kind == PY ? "websockets" : "ws", tls ? ", ws and wss" : ", ws");
}

static void test_client_python(void **state)
{
    (void)state;
    client_against(PY);
}

static void test_client_node(void **state)
{
    (void)state;
    client_against(NODE);
}

/* --- the peer's client against eddy's server -------------------------------
 */

typedef struct srv {
    int opens, open, closes, unclean;
} srv;

static srv counts;

static void s_open(eddy_ws *ws, int status, const eddy_http_response *r,
                   void *arg)
{
    (void)r;
    if (status != 0)
        return;
    counts.opens++;
    counts.open++;
    if (arg != NULL && strcmp(arg, "close") == 0) {
        assert_int_equal(eddy_ws_close(ws, 4002, "server bye"), 0);
    } else if (arg != NULL && strcmp(arg, "ping") == 0) {
        assert_int_equal(eddy_ws_ping(ws, "eddy?", 5), 0);
    } else if (arg != NULL && strcmp(arg, "frag") == 0) {
        assert_int_equal(eddy_ws_send_fragment(ws, EDDY_WS_TEXT, "frag", 4, 0),
                         0);
        assert_int_equal(
            eddy_ws_send_fragment(ws, EDDY_WS_CONTINUATION, "ment", 4, 0), 0);
        assert_int_equal(
            eddy_ws_send_fragment(ws, EDDY_WS_CONTINUATION, "ed", 2, 1), 0);
    }
}

static void s_message(eddy_ws *ws, int op, const char *data, size_t len,
                      void *arg)
{
    (void)arg;
    /* -EPIPE once closing: nothing to do. */
    eddy_ws_send(ws, op, data, len);
}

static void s_pong(eddy_ws *ws, const char *data, size_t len, void *arg)
{
    (void)arg;
    if (len == 5 && memcmp(data, "eddy?", 5) == 0)
        assert_int_equal(eddy_ws_send(ws, EDDY_WS_TEXT, "pong-ok", 7), 0);
}

static void s_close(eddy_ws *ws, int code, const char *reason, size_t len,
                    void *arg)
{
    (void)ws, (void)reason, (void)len, (void)arg;
    counts.open--;
    counts.closes++;
    /* Every scenario ends with a closing handshake, 1009 or 1007 from
     * eddy, or the client's going away once it is done. */
    if (code == EDDY_WS_ABNORMAL && eddy_ws_error(ws) != EDDY_EOF)
        counts.unclean++;
}

#define CBS(what)                                                              \
    {                                                                          \
        .on_open = s_open, .on_message = s_message, .on_pong = s_pong,         \
        .on_close = s_close                                                    \
    }
static const eddy_ws_endpoint ep_echo = {
    .opts = {.ws = {.deflate = {.enable = 1}}}, .cb = CBS(), .arg = "echo"};
static const eddy_ws_endpoint ep_close = {.cb = CBS(), .arg = "close"};
static const eddy_ws_endpoint ep_ping = {.cb = CBS(), .arg = "ping"};
static const eddy_ws_endpoint ep_frag = {.cb = CBS(), .arg = "frag"};
static const eddy_ws_endpoint ep_small = {
    .opts = {.ws = {.max_message_size = 1024}}, .cb = CBS(), .arg = "small"};

static int peer_done(void *arg)
{
    peer *p = arg;

    return peer_read(p);
}

static int all_closed(void *arg)
{
    (void)arg;
    return counts.open == 0;
}

static void server_against(int kind, int scenarios)
{
    const char *args[3] = {"client", NULL, NULL};
    eddy_http_server *hs;
    eddy_loop *loop;
    char base[64];
    int fd = -1, status, oks = 0;
    size_t n = 0;
    static peer p; /* static: the teardown may stop it after a failure */

    need_peer(kind);
    memset(&counts, 0, sizeof counts);
    loop = tu_loop_new();
    assert_int_equal(eddy_http_server_new(loop, NULL, &hs), 0);
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fd, 1, &n), 0);
    snprintf(base, sizeof base, "ws://127.0.0.1:%d", eddy_socket_port(fd));
    assert_int_equal(eddy_http_server_add_sockets(hs, &fd, 1), 0);
    assert_int_equal(eddy_ws_route(hs, "/echo", &ep_echo), 0);
    assert_int_equal(eddy_ws_route(hs, "/close", &ep_close), 0);
    assert_int_equal(eddy_ws_route(hs, "/ping", &ep_ping), 0);
    assert_int_equal(eddy_ws_route(hs, "/frag", &ep_frag), 0);
    assert_int_equal(eddy_ws_route(hs, "/small", &ep_small), 0);
    args[1] = base;
    peer_start(&p, kind, args);
    if (!tu_run_until(loop, peer_done, &p, WAIT_ITER, 120000))
        fail_msg("the peer did not finish: [%s]", p.buf);
    status = tu_wait_exit(p.pid, 5000);
    p.pid = 0;
    for (char *l = p.buf; (l = strstr(l, "ok ")) != NULL; l += 3)
        oks += l == p.buf || l[-1] == '\n';
    printf("interop: %s's client against eddy's server: %d of %d scenarios "
           "ok\n",
           kind == PY ? "websockets" : "ws", oks, scenarios);
    if (status != 0 || oks != scenarios)
        fail_msg("the peer's scenarios (exit %d, %d of %d ok):\n%s", status,
                 oks, scenarios, p.buf);
    peer_stop(&p);
    assert_true(tu_run_until(loop, all_closed, NULL, WAIT_ITER, WAIT_MS));
    assert_int_equal(counts.unclean, 0);
    assert_true(counts.opens >= scenarios);
    eddy_http_server_free(hs);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
}

static void test_server_python(void **state)
{
    (void)state;
    server_against(PY, 13);
}

static void test_server_node(void **state)
{
    (void)state;
    server_against(NODE, 12);
}

/* tu_fd_teardown, after stopping a peer that a failed test left. */
static int teardown(void **state)
{
    if (running != NULL)
        peer_stop(running);
    return tu_fd_teardown(state);
}

#define interop_test(f)                                                        \
    cmocka_unit_test_setup_teardown(f, tu_fd_setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        interop_test(test_client_python),
        interop_test(test_server_python),
        interop_test(test_client_node),
        interop_test(test_server_node),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
