/*
 * tests/test_ws_upgrade.c - the case suite of tests/test_ws_conn.c (the
 * sections of the Autobahn testsuite) again, over real opening handshakes
 * on loopback TCP instead of socketpairs with no HTTP:
 *
 *  - a pair is eddy's client (eddy_ws_connect(), through the HTTP client)
 *    and eddy's server (eddy_ws_accept() on an HTTP server), with
 *    permessage-deflate's parameters negotiated: the client offers the
 *    case's and the server accepts them;
 *  - a raw peer of eddy's server sends the handshake's GET by hand and
 *    reads the 101; a raw peer of eddy's client accepts its connection,
 *    reads its GET and answers the 101 by hand, with the case's
 *    extension parameters.
 *
 * After the handshake the steps and checks are test_ws_conn.c's; main()
 * prints the cases per section, and those that passed.
 */
#define TU_WS_OVER_UPGRADE 1
#include "test_ws_conn.c"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

/* The HTTP server of the case under way (one at a time), and what its
 * route gives eddy_ws_accept(). */
typedef struct up_state {
    eddy_http_server *srv;
    int port;
    eddy_ws_server_options so;
    eddy_ws_callbacks scb;
    side *sside;
} up_state;

static up_state up;

static void up_on_open(eddy_ws *ws, int status, const eddy_http_response *r,
                       void *arg)
{
    side *sd = arg;

    (void)r;
    if (status != 0)
        fail_msg("the opening handshake failed: %s", eddy_strerror(status));
    sd->ws = ws;
}

static void up_route(eddy_http_request *req, void *arg)
{
    (void)arg;
    assert_int_equal(eddy_ws_accept(req, &up.so, &up.scb, up.sside), 0);
}

/* The deflate options that negotiate pmd: the client offers its
 * parameters, the server takes what is offered. */
static void up_deflate(eddy_ws_deflate_options *d, const eddy__ws_pmd *pmd,
                       int client)
{
    d->enable = pmd != NULL;
    if (pmd == NULL || !client)
        return;
    d->server_no_context_takeover = pmd->server_no_context_takeover;
    d->client_no_context_takeover = pmd->client_no_context_takeover;
    d->server_max_window_bits = pmd->server_max_window_bits;
    d->client_max_window_bits = pmd->client_max_window_bits;
}

/* An HTTP server on 127.0.0.1 whose /ws accepts as eddy's server. */
static void up_server(eddy_loop *loop, const eddy_ws_options *o,
                      const eddy__ws_pmd *pmd, const eddy_ws_callbacks *cbs,
                      side *sd)
{
    int fd = -1;
    size_t n = 0;

    memset(&up, 0, sizeof up);
    assert_int_equal(eddy_http_server_new(loop, NULL, &up.srv), 0);
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fd, 1, &n), 0);
    up.port = eddy_socket_port(fd);
    assert_int_equal(eddy_http_server_add_sockets(up.srv, &fd, 1), 0);
    assert_int_equal(eddy_http_server_route(up.srv, "GET", "/ws",
                                            EDDY_ROUTE_EXACT, up_route, NULL),
                     0);
    up.so.ws = o != NULL ? *o : (eddy_ws_options){0};
    up_deflate(&up.so.ws.deflate, pmd, 0);
    up.scb = *cbs;
    up.scb.on_open = up_on_open;
    up.sside = sd;
}

static int up_both_open(void *arg)
{
    side **sd = arg;

    return sd[0]->ws != NULL && sd[1]->ws != NULL;
}

static void up_open_pair(eddy_loop *loop, const eddy_ws_options *so,
                         const eddy_ws_options *co, const eddy__ws_pmd *pmd,
                         const eddy_ws_callbacks *scb,
                         const eddy_ws_callbacks *ccb, side *srv, side *cli)
{
    eddy_ws_connect_options o = {0};
    eddy_ws_callbacks cb = *ccb;
    side *both[2] = {srv, cli};
    char url[64];

    up_server(loop, so, pmd, scb, srv);
    o.ws = co != NULL ? *co : (eddy_ws_options){0};
    up_deflate(&o.ws.deflate, pmd, 1);
    cb.on_open = up_on_open;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", up.port);
    assert_int_equal(eddy_ws_connect(loop, NULL, url, &o, &cb, cli, NULL), 0);
    assert_true(tu_run_until(loop, up_both_open, both, WAIT_ITER, WAIT_MS));
    assert_int_equal(eddy_ws_compressed(srv->ws), pmd != NULL);
    assert_int_equal(eddy_ws_compressed(cli->ws), pmd != NULL);
}

/* --- raw peers ----------------------------------------------------------- */

/* Reads from fd, running the loop, until an HTTP head ends; consumes
 * exactly the head (what follows is the protocol's) into buf. */
static size_t up_read_head(eddy_loop *loop, int fd, char *buf, size_t cap)
{
    uint64_t end = tu_now_ms() + WAIT_MS;

    for (;;) {
        ssize_t n = recv(fd, buf, cap - 1, MSG_PEEK);
        char *e;

        if (n > 0) {
            buf[n] = '\0';
            if ((e = strstr(buf, "\r\n\r\n")) != NULL) {
                size_t len = (size_t)(e + 4 - buf);

                assert_int_equal(recv(fd, buf, len, 0), (ssize_t)len);
                buf[len] = '\0';
                return len;
            }
        } else {
            assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        }
        assert_true(tu_now_ms() < end);
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    }
}

static void up_send_all(int fd, const char *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static int up_open(void *arg)
{
    return ((side *)arg)->ws != NULL;
}

/* The raw peer is the client: GET by hand, the 101 read back. */
static int up_raw_client(eddy_loop *loop, const eddy_ws_options *o,
                         const eddy__ws_pmd *pmd, const eddy_ws_callbacks *cbs,
                         side *sd)
{
    static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    eddy_ws_deflate_options d = {0};
    char req[512], offer[EDDY_WS_PMD_MAX_HEADER] = "", head[1024];
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd, n;

    up_server(loop, o, pmd, cbs, sd);
    up_deflate(&d, pmd, 1);
    if (pmd != NULL)
        assert_true(eddy__ws_pmd_offer(&d, offer, sizeof offer) > 0);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)up.port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    tu_nonblock(fd);
    n = snprintf(req, sizeof req,
                 "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                 "%s%s%s\r\n",
                 key, pmd ? "Sec-WebSocket-Extensions: " : "", offer,
                 pmd ? "\r\n" : "");
    up_send_all(fd, req, (size_t)n);
    up_read_head(loop, fd, head, sizeof head);
    assert_memory_equal(head, "HTTP/1.1 101 ", 13);
    assert_non_null(strstr(head, "Sec-WebSocket-Accept: "
                                 "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_int_equal(strstr(head, "Sec-WebSocket-Extensions: ") != NULL,
                     pmd != NULL);
    assert_true(tu_run_until(loop, up_open, sd, WAIT_ITER, WAIT_MS));
    return fd;
}

/* The extension answer that agrees on exactly pmd. */
static void up_pmd_answer(const eddy__ws_pmd *pmd, char *out, size_t cap)
{
    snprintf(
        out, cap,
        "Sec-WebSocket-Extensions: permessage-deflate%s%s"
        "; server_max_window_bits=%d; client_max_window_bits=%d\r\n",
        pmd->server_no_context_takeover ? "; server_no_context_takeover" : "",
        pmd->client_no_context_takeover ? "; client_no_context_takeover" : "",
        pmd->server_max_window_bits, pmd->client_max_window_bits);
}

/* The raw peer is the server: eddy's GET read, the 101 written by hand. */
static int up_raw_server(eddy_loop *loop, const eddy_ws_options *o,
                         const eddy__ws_pmd *pmd, const eddy_ws_callbacks *cbs,
                         side *sd)
{
    eddy_ws_connect_options co = {0};
    eddy_ws_callbacks cb = *cbs;
    char url[64], head[2048], ext[256] = "", accept[EDDY_WS_ACCEPT_LEN + 1],
                              resp[512];
    struct pollfd pfd;
    const char *k;
    int lfd = -1, fd, n;
    size_t nfds = 0;

    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &lfd, 1, &nfds), 0);
    co.ws = o != NULL ? *o : (eddy_ws_options){0};
    up_deflate(&co.ws.deflate, pmd, 1);
    cb.on_open = up_on_open;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", eddy_socket_port(lfd));
    assert_int_equal(eddy_ws_connect(loop, NULL, url, &co, &cb, sd, NULL), 0);
    pfd = (struct pollfd){.fd = lfd, .events = POLLIN};
    for (uint64_t end = tu_now_ms() + WAIT_MS; poll(&pfd, 1, 0) == 0;) {
        assert_true(tu_now_ms() < end);
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    }
    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(close(lfd), 0);
    up_read_head(loop, fd, head, sizeof head);
    assert_memory_equal(head, "GET / HTTP/1.1\r\n", 16);
    assert_int_equal(strstr(head, "permessage-deflate") != NULL, pmd != NULL);
    k = strstr(head, "Sec-WebSocket-Key: ");
    assert_non_null(k);
    eddy__ws_accept(k + 19, EDDY_WS_KEY_LEN, accept);
    if (pmd != NULL)
        up_pmd_answer(pmd, ext, sizeof ext);
    n = snprintf(resp, sizeof resp,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                 accept, ext);
    up_send_all(fd, resp, (size_t)n);
    assert_true(tu_run_until(loop, up_open, sd, WAIT_ITER, WAIT_MS));
    return fd;
}

static int up_open_raw(eddy_loop *loop, int role, const eddy_ws_options *o,
                       const eddy__ws_pmd *pmd, const eddy_ws_callbacks *cbs,
                       side *sd)
{
    int fd = role == EDDY_WS_SERVER ? up_raw_client(loop, o, pmd, cbs, sd)
                                    : up_raw_server(loop, o, pmd, cbs, sd);

    assert_int_equal(eddy_ws_compressed(sd->ws), pmd != NULL);
    return fd;
}

/* The case's HTTP server goes with its loop (the connections it handed
 * over are closed by then). */
static void up_done(void)
{
    if (up.srv != NULL)
        eddy_http_server_free(up.srv);
    memset(&up, 0, sizeof up);
}
