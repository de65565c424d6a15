/*
 * tests/test_ws_conn.c - the WebSocket connection (websocket/conn.c)
 * over socketpairs, with no HTTP: both ends made by the hidden
 * constructor eddy__ws_conn_new().
 *
 * Two harnesses.  A pair is eddy's client and eddy's server, for what
 * both ends of eddy must agree on (echoes, large and fragmented
 * messages, compression with every parameter, the closing handshake).
 * A raw peer is one eddy end and a socket the test writes hand-made
 * frames to and reads eddy's answers from (parsed with the core's frame
 * reader as the other role), for what a peer can get wrong.
 *
 * The case suite follows the sections of the Autobahn testsuite: 1
 * framing, 2 pings and pongs, 3 reserved bits, 4 opcodes, 5
 * fragmentation, 6 UTF-8, 7 closing, 9 limits and sizes, 12 and 13
 * compression.  Each row is its own cmocka test, named after its section;
 * the raw cases run against eddy's server and against eddy's client.
 * main() prints the count per section.
 *
 * Everything else (timeouts, backpressure, memory, the error of every
 * public function) are the tests after the tables.  No test sleeps: each
 * wait runs the loop, bounded in iterations and time.
 *
 * tests/test_ws_upgrade.c includes this file with TU_WS_OVER_UPGRADE to
 * run the case suite again over real opening handshakes on loopback TCP
 * (eddy_ws_accept() on an HTTP server, eddy_ws_connect(), and raw peers
 * that do the HTTP part by hand): only the ends are made differently.
 */
#include "testutil.h"

#include "failalloc.h"

#include "../websocket/ws_internal.h"

#include <malloc.h>
#include <sys/socket.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define WAIT_MS 5000
#define WAIT_ITER 200000

/* --- payloads ----------------------------------------------------------- */

/* n bytes of ASCII text (compressible, valid UTF-8), from seed. */
static uint8_t *text_of(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n + 1);

    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)('a' + (i * 7 + seed + i / 64) % 26);
    return p;
}

/* n bytes that hardly compress. */
static uint8_t *noise_of(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n + 1);
    uint32_t x = 2463534242u + seed;

    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* --- one eddy end: what it was told ------------------------------------- */

typedef struct msg_rec {
    int op;
    uint8_t *data;
    size_t len;
} msg_rec;

typedef struct side {
    eddy_ws *ws;
    int echo;     /* send each message back */
    int messages; /* count, and the last one: */
    msg_rec last;
    uint64_t bytes; /* all messages' bytes */
    int parts;      /* on_message_part calls */
    int part_op, part_fin;
    uint8_t *part_buf; /* pieces put together */
    size_t part_len;
    int closed, code, error;
    char reason[128];
    size_t reason_len;
    int pongs, drains;
    char pong[128];
    size_t pong_len;
    int echo_err; /* the last echo's result */
    int state_in_close;
    int close_on_part; /* eddy_ws_close() from the first piece */
    void (*on_msg)(struct side *sd, int op, const char *data, size_t len);
} side;

static void rec_message(eddy_ws *ws, int op, const char *data, size_t len,
                        void *arg)
{
    side *sd = arg;
    long failing = fail_alloc;

    assert_ptr_equal(ws, sd->ws);
    assert_int_equal(data[len], 0); /* the NUL after every message */
    sd->messages++;
    sd->bytes += len;
    free(sd->last.data);
    sd->last.op = op;
    sd->last.len = len;
    fail_alloc = -1; /* the test's copy may not fail */
    sd->last.data = malloc(len + 1);
    fail_alloc = failing;
    assert_non_null(sd->last.data);
    memcpy(sd->last.data, data, len + 1);
    if (sd->echo)
        sd->echo_err = eddy_ws_send(ws, op, data, len);
    if (sd->on_msg != NULL)
        sd->on_msg(sd, op, data, len);
}

static void rec_part(eddy_ws *ws, int op, const char *data, size_t len, int fin,
                     void *arg)
{
    side *sd = arg;
    uint8_t *p;

    assert_ptr_equal(ws, sd->ws);
    if (sd->part_op != 0)
        assert_int_equal(op, sd->part_op);
    sd->parts++;
    sd->part_op = op;
    sd->part_fin = fin;
    if (sd->close_on_part)
        assert_int_equal(eddy_ws_close(ws, 1000, NULL), 0);
    p = realloc(sd->part_buf, sd->part_len + len + 1);
    assert_non_null(p);
    sd->part_buf = p;
    if (len > 0)
        memcpy(p + sd->part_len, data, len);
    sd->part_len += len;
    if (fin) {
        sd->messages++;
        sd->bytes += sd->part_len;
        free(sd->last.data);
        sd->last = (msg_rec){op, sd->part_buf, sd->part_len};
        sd->part_buf = NULL;
        sd->part_len = 0;
        sd->part_op = 0;
        if (sd->echo)
            sd->echo_err = eddy_ws_send(ws, op, sd->last.data, sd->last.len);
    }
}

static void rec_close(eddy_ws *ws, int code, const char *reason, size_t len,
                      void *arg)
{
    side *sd = arg;

    assert_ptr_equal(ws, sd->ws);
    assert_int_equal(reason[len], 0);
    assert_true(len < sizeof sd->reason);
    sd->closed++;
    sd->code = code;
    sd->error = eddy_ws_error(ws);
    sd->state_in_close = eddy_ws_state(ws);
    memcpy(sd->reason, reason, len + 1);
    sd->reason_len = len;
    /* Nothing more can be done with it. */
    assert_int_equal(eddy_ws_send(ws, EDDY_WS_TEXT, "x", 1), -EPIPE);
    assert_int_equal(eddy_ws_close(ws, 1000, NULL), 0);
    eddy_ws_abort(ws);
    sd->ws = NULL;
}

static void rec_pong(eddy_ws *ws, const char *data, size_t len, void *arg)
{
    side *sd = arg;

    assert_ptr_equal(ws, sd->ws);
    sd->pongs++;
    assert_true(len < sizeof sd->pong);
    memcpy(sd->pong, data, len);
    sd->pong_len = len;
}

static void rec_drain(eddy_ws *ws, void *arg)
{
    side *sd = arg;

    assert_ptr_equal(ws, sd->ws);
    sd->drains++;
}

static const eddy_ws_callbacks whole_cbs = {.on_message = rec_message,
                                            .on_close = rec_close,
                                            .on_drain = rec_drain,
                                            .on_pong = rec_pong};
static const eddy_ws_callbacks part_cbs = {.on_message_part = rec_part,
                                           .on_close = rec_close,
                                           .on_drain = rec_drain,
                                           .on_pong = rec_pong};

static void side_free(side *sd)
{
    free(sd->last.data);
    free(sd->part_buf);
    sd->last.data = sd->part_buf = NULL;
}

static int side_closed(void *arg)
{
    return ((side *)arg)->closed > 0;
}

static void wait_closed(eddy_loop *loop, side *sd)
{
    assert_true(tu_run_until(loop, side_closed, sd, WAIT_ITER, WAIT_MS));
    assert_int_equal(sd->closed, 1);
}

/* A stream over fd, and a connection in role over it. */
static eddy_ws *open_end(eddy_loop *loop, int fd, int role,
                         const eddy_ws_options *o, const eddy__ws_pmd *pmd,
                         const eddy_ws_callbacks *cbs, side *sd)
{
    eddy_stream *s = NULL;

    assert_int_equal(eddy_stream_new(loop, fd, NULL, &s), 0);
    assert_int_equal(
        eddy__ws_conn_new(s, role, NULL, 0, pmd, NULL, o, cbs, sd, &sd->ws), 0);
    return sd->ws;
}

#ifdef TU_WS_OVER_UPGRADE
/* tests/test_ws_upgrade.c: both ends over a real handshake; the raw
 * peer's socket, past its handshake, for one eddy end; and the HTTP
 * server's end. */
static void up_open_pair(eddy_loop *loop, const eddy_ws_options *so,
                         const eddy_ws_options *co, const eddy__ws_pmd *pmd,
                         const eddy_ws_callbacks *scb,
                         const eddy_ws_callbacks *ccb, side *srv, side *cli);
static int up_open_raw(eddy_loop *loop, int role, const eddy_ws_options *o,
                       const eddy__ws_pmd *pmd, const eddy_ws_callbacks *cbs,
                       side *sd);
static void up_done(void);
#define OVER_UPGRADE 1
#else
#define OVER_UPGRADE 0
#endif

/* Runs the loop until nothing is left of the streams, and closes it. */
static void loop_done(eddy_loop *loop)
{
#ifdef TU_WS_OVER_UPGRADE
    up_done();
#endif
    for (int i = 0; i < 4; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
}

/* --- pairs: eddy's client and eddy's server ------------------------------ */

typedef struct pair {
    eddy_loop *loop;
    side srv, cli;
} pair;

static void pair_open_with(pair *p, const eddy_ws_options *so,
                           const eddy_ws_options *co, const eddy__ws_pmd *pmd,
                           const eddy_ws_callbacks *scb,
                           const eddy_ws_callbacks *ccb)
{
    int sv[2];

    memset(p, 0, sizeof *p);
    p->loop = tu_loop_new();
#ifdef TU_WS_OVER_UPGRADE
    (void)sv;
    up_open_pair(p->loop, so, co, pmd, scb, ccb, &p->srv, &p->cli);
#else
    tu_socketpair(sv);
    open_end(p->loop, sv[0], EDDY_WS_SERVER, so, pmd, scb, &p->srv);
    open_end(p->loop, sv[1], EDDY_WS_CLIENT, co, pmd, ccb, &p->cli);
#endif
}

static void pair_open(pair *p, const eddy_ws_options *o,
                      const eddy__ws_pmd *pmd)
{
    pair_open_with(p, o, o, pmd, &whole_cbs, &whole_cbs);
}

typedef struct count_at_least {
    const side *sd;
    int n;
} count_at_least;

static int got_messages(void *arg)
{
    const count_at_least *c = arg;

    return c->sd->messages >= c->n || c->sd->closed;
}

static void wait_messages(eddy_loop *loop, side *sd, int n)
{
    count_at_least c = {sd, n};

    assert_true(tu_run_until(loop, got_messages, &c, WAIT_ITER, WAIT_MS));
    assert_int_equal(sd->messages, n);
}

/* The client closes with 1000; both ends see the handshake complete. */
static void pair_close(pair *p)
{
    if (p->cli.ws != NULL && p->srv.ws != NULL) {
        assert_int_equal(eddy_ws_close(p->cli.ws, 1000, "done"), 0);
        assert_int_equal(eddy_ws_state(p->cli.ws), EDDY_WS_STATE_CLOSING);
        wait_closed(p->loop, &p->cli);
        wait_closed(p->loop, &p->srv);
        assert_int_equal(p->srv.code, 1000);
        assert_string_equal(p->srv.reason, "done");
        assert_int_equal(p->cli.code, 1000); /* echoed, without a reason */
        assert_int_equal(p->srv.error, 0);
        assert_int_equal(p->cli.error, 0);
        assert_int_equal(p->srv.state_in_close, EDDY_WS_STATE_CLOSED);
    }
    if (p->cli.ws != NULL)
        eddy_ws_abort(p->cli.ws);
    if (p->srv.ws != NULL)
        eddy_ws_abort(p->srv.ws);
    if (p->cli.ws != NULL)
        wait_closed(p->loop, &p->cli);
    if (p->srv.ws != NULL)
        wait_closed(p->loop, &p->srv);
    side_free(&p->srv);
    side_free(&p->cli);
    loop_done(p->loop);
}

/* --- raw peers: one eddy end, and bytes the test writes and reads -------- */

typedef struct raw {
    eddy_loop *loop;
    side me;            /* the eddy end */
    int role;           /* its role */
    int fd;             /* the test's end; -1 once closed */
    int eof;            /* the test read EOF */
    int closes;         /* Close frames read from eddy */
    eddy__ws_reader rd; /* what eddy sends, read as its peer */
    eddy__ws_inflater inf;
    int compressed;
    eddy__ws_masks masks;
    uint8_t *rx; /* bytes read, rx[rx_pos, rx_len) not parsed yet */
    size_t rx_pos, rx_len, rx_cap;
    uint8_t *msg; /* the message being put together */
    size_t msg_len, msg_cap;
} raw;

/* What the test read from eddy. */
enum { G_MESSAGE = 1, G_CONTROL, G_EOF };

typedef struct got_t {
    int kind, op;
    const uint8_t *data;
    size_t len;
    unsigned code; /* a Close's; 1005 when it had none */
} got_t;

static void raw_open(raw *t, int role, const eddy_ws_options *o,
                     const eddy__ws_pmd *pmd, const eddy_ws_callbacks *cbs)
{
    int sv[2];

    memset(t, 0, sizeof *t);
    t->loop = tu_loop_new();
    t->role = role;
    t->me.echo = 1;
#ifdef TU_WS_OVER_UPGRADE
    (void)sv;
    t->fd = up_open_raw(t->loop, role, o, pmd, cbs, &t->me);
#else
    tu_socketpair(sv);
    t->fd = sv[1];
    open_end(t->loop, sv[0], role, o, pmd, cbs, &t->me);
#endif
    eddy__ws_reader_init(
        &t->rd, role == EDDY_WS_SERVER ? EDDY_WS_CLIENT : EDDY_WS_SERVER,
        UINT64_MAX >> 1);
    if (pmd != NULL) {
        eddy__ws_deflater d;

        t->compressed = 1;
        t->rd.rsv_ok = EDDY_WS_RSV1;
        eddy__ws_pmd_setup(
            pmd, role == EDDY_WS_SERVER ? EDDY_WS_CLIENT : EDDY_WS_SERVER, NULL,
            UINT64_MAX >> 1, &d, &t->inf);
    }
}

static void raw_close_fd(raw *t)
{
    if (t->fd >= 0)
        assert_int_equal(close(t->fd), 0);
    t->fd = -1;
}

static void raw_free(raw *t)
{
    raw_close_fd(t);
    if (t->me.ws != NULL) {
        eddy_ws_abort(t->me.ws);
        wait_closed(t->loop, &t->me);
    }
    eddy__ws_inflater_free(&t->inf);
    free(t->rx);
    free(t->msg);
    side_free(&t->me);
    loop_done(t->loop);
}

/* Reads what there is from the fd into rx; 0 when nothing was there. */
static int raw_pull(raw *t)
{
    ssize_t r;

    if (t->fd < 0 || t->eof)
        return 0;
    if (t->rx_cap - t->rx_len < 65536) {
        t->rx_cap = t->rx_cap * 2 + 65536;
        t->rx = realloc(t->rx, t->rx_cap);
        assert_non_null(t->rx);
    }
    r = read(t->fd, t->rx + t->rx_len, t->rx_cap - t->rx_len);
    if (r > 0)
        t->rx_len += (size_t)r;
    else if (r == 0 || errno == ECONNRESET)
        t->eof = 1;
    else
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    return r > 0 || t->eof;
}

/* Adds a data piece to the message; 1 when the message is complete. */
static int raw_take(raw *t, const eddy__ws_event *ev)
{
    size_t need = t->msg_len + ev->len + 1;

    if (ev->compressed) {
        size_t used = 0, made, at = 0;
        int ret;

        do {
            if (t->msg_cap - t->msg_len < 65536) {
                t->msg_cap = t->msg_cap * 2 + 65536;
                t->msg = realloc(t->msg, t->msg_cap);
                assert_non_null(t->msg);
            }
            ret = eddy__ws_inflate(&t->inf, ev->data + at, ev->len - at,
                                   ev->fin, t->msg + t->msg_len,
                                   t->msg_cap - t->msg_len, &used, &made);
            assert_true(ret >= 0);
            at += used;
            t->msg_len += made;
        } while (ret == 1);
        return ev->fin;
    }
    if (t->msg_cap < need) {
        t->msg_cap = need * 2;
        t->msg = realloc(t->msg, t->msg_cap);
        assert_non_null(t->msg);
    }
    if (ev->len > 0)
        memcpy(t->msg + t->msg_len, ev->data, ev->len);
    t->msg_len += ev->len;
    return ev->fin;
}

/* The next message, control frame or EOF eddy sent, waiting for it on
 * the loop. */
static void raw_next(raw *t, got_t *g)
{
    uint64_t end = tu_now_ms() + WAIT_MS;
    eddy__ws_event ev;
    size_t used;

    memset(g, 0, sizeof *g);
    for (int i = 0; i < WAIT_ITER; i++) {
        while (t->rx_pos < t->rx_len) {
            int ret = eddy__ws_read(&t->rd, t->rx + t->rx_pos,
                                    t->rx_len - t->rx_pos, &used, &ev);

            assert_int_equal(ret, 0); /* eddy sends valid frames */
            t->rx_pos += used;
            if (ev.type == EDDY_WS_EV_CONTROL) {
                g->kind = G_CONTROL;
                g->op = ev.opcode;
                g->data = ev.data;
                g->len = ev.len;
                g->code = ev.code;
                return;
            }
            if (ev.type == EDDY_WS_EV_DATA && raw_take(t, &ev)) {
                g->kind = G_MESSAGE;
                g->op = ev.opcode;
                g->data = t->msg;
                g->len = t->msg_len;
                t->msg_len = 0;
                return;
            }
        }
        t->rx_pos = t->rx_len = 0;
        if (t->eof) {
            g->kind = G_EOF;
            return;
        }
        if (!raw_pull(t)) {
            assert_true(tu_now_ms() < end);
            assert_int_equal(eddy_loop_run_once(t->loop, 1), 0);
        }
    }
    fail_msg("nothing from eddy");
}

/* Writes all of p[0, n) to eddy, running the loop while the socket is
 * full; -EPIPE once eddy closed its end. */
static int raw_write(raw *t, const uint8_t *p, size_t n)
{
    uint64_t end = tu_now_ms() + WAIT_MS;

    while (n > 0) {
        ssize_t w = send(t->fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            return -EPIPE;
        if (w < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            assert_true(tu_now_ms() < end);
            raw_pull(t); /* eddy may be waiting to write to us */
            assert_int_equal(eddy_loop_run_once(t->loop, 1), 0);
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes bytes in pieces of chop (0: at once), with a loop iteration
 * after each, so that eddy reads them one by one. */
static int raw_write_chopped(raw *t, const uint8_t *p, size_t n, size_t chop)
{
    if (chop == 0)
        chop = n;
    for (size_t at = 0; at < n; at += chop) {
        size_t k = n - at < chop ? n - at : chop;

        if (raw_write(t, p + at, k) < 0)
            return -EPIPE;
        for (int i = 0; i < 3; i++)
            assert_int_equal(eddy_loop_run_once(t->loop, 0), 0);
    }
    return 0;
}

/* A frame as the peer sends it: masked to a server, with the RSV bits
 * rsv (RSV1 = 4) and a payload of n bytes. */
static uint8_t *raw_frame_bytes(raw *t, unsigned op, int fin, unsigned rsv,
                                const uint8_t *p, size_t n, size_t *size)
{
    uint8_t mask[4], *f = malloc(n + EDDY_WS_MAX_HEADER);
    int masked = t->role == EDDY_WS_SERVER;
    size_t h;

    assert_non_null(f);
    if (masked)
        assert_int_equal(eddy__ws_mask_next(&t->masks, mask), 0);
    h = eddy__ws_write_header(f, op, fin, 0, n, masked ? mask : NULL);
    f[0] |= (uint8_t)((rsv & 7) << 4);
    if (n > 0 && masked)
        eddy__ws_mask_copy(f + h, p, n, mask, 0);
    else if (n > 0)
        memcpy(f + h, p, n);
    *size = h + n;
    return f;
}

static int raw_send(raw *t, unsigned op, int fin, unsigned rsv, const void *p,
                    size_t n, size_t chop)
{
    size_t size;
    uint8_t *f = raw_frame_bytes(t, op, fin, rsv, p, n, &size);
    int ret = raw_write_chopped(t, f, size, chop);

    free(f);
    return ret;
}

static void raw_expect(raw *t, int op, const void *p, size_t n)
{
    got_t g;

    raw_next(t, &g);
    assert_int_equal(g.kind, op & 8 ? G_CONTROL : G_MESSAGE);
    assert_int_equal(g.op, op);
    assert_int_equal(g.len, n);
    if (n > 0)
        assert_memory_equal(g.data, p, n);
}

static void raw_expect_close(raw *t, unsigned code)
{
    got_t g;

    raw_next(t, &g);
    assert_int_equal(g.kind, G_CONTROL);
    assert_int_equal(g.op, EDDY_WS_CLOSE);
    assert_int_equal(g.code, code);
    t->closes++;
}

static void raw_expect_eof(raw *t)
{
    got_t g;

    raw_next(t, &g);
    assert_int_equal(g.kind, G_EOF);
}

/* Sends a Close with code (0: none) and reason. */
static void raw_send_close(raw *t, unsigned code, const char *reason)
{
    uint8_t p[EDDY_WS_MAX_CONTROL + 8];
    size_t n = 0;

    if (code != 0) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        n = 2 + strlen(reason);
        memcpy(p + 2, reason, n - 2);
    }
    raw_send(t, EDDY_WS_CLOSE, 1, 0, p, n, 0);
}

/* The peer closes with 1000 and eddy answers: the server closes the TCP
 * connection itself, a client waits for the peer to. */
static void raw_end_clean(raw *t)
{
    raw_send_close(t, 1000, "");
    raw_expect_close(t, 1000);
    if (t->role == EDDY_WS_SERVER)
        raw_expect_eof(t);
    raw_close_fd(t);
    wait_closed(t->loop, &t->me);
    assert_int_equal(t->me.code, 1000);
    assert_int_equal(t->me.error, 0);
}

/* eddy failed the connection with code: its Close, then its end of the
 * TCP connection shut, whatever its role. */
static void raw_end_failed(raw *t, unsigned code)
{
    raw_expect_close(t, code);
    raw_expect_eof(t);
    /* eddy only shut its side: it reads on until the peer's EOF. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(t->loop, 0), 0);
    assert_int_equal(t->me.closed, 0);
    raw_close_fd(t);
    wait_closed(t->loop, &t->me);
    assert_int_equal(t->me.code, code);
    assert_int_equal(t->me.error, -EPROTO);
}

/* The case's row and the fd count before it: a case's setup and
 * teardown check fds as tu_test() does, and keep the row for the test. */
typedef struct case_state {
    const void *row;
    int fds;
    int passed; /* the case ran to its end */
} case_state;

/* Cases that passed, per section (for main()'s totals). */
static size_t passed_in[20];

/* The section of a case's row: the number its name starts with. */
static int section_of(const void *row)
{
    int n = atoi(*(const char *const *)row);

    return n > 0 && n < 20 ? n : 0;
}

static void case_passed(void **state)
{
    ((case_state *)*state)->passed = 1;
}

static int case_setup(void **state)
{
    case_state *cs = malloc(sizeof *cs);

    if (cs == NULL)
        return -1;
    cs->row = *state;
    cs->fds = tu_count_open_fds(TU_FD_PROBE);
    *state = cs;
    return 0;
}

static int case_teardown(void **state)
{
    case_state *cs = *state;
    void *fds = (void *)(intptr_t)cs->fds;

    if (cs->passed)
        passed_in[section_of(cs->row)]++;

    free(cs);
    return tu_fd_teardown(&fds);
}

/* --- the case suite: raw peers ------------------------------------------- */

enum {
    K_END = 0,
    K_SEND,         /* a frame; data NULL: len bytes of text_of() */
    K_ZSEND,        /* a whole message, compressed by the peer (RSV1) */
    K_CLOSE,        /* a Close frame with code and reason */
    K_EXPECT,       /* a message or control frame from eddy */
    K_EXPECT_CLOSE, /* a Close from eddy, with code (1005: none) */
};

typedef struct step {
    uint8_t kind, op, fin, rsv;
    const char *data;
    size_t len;
    size_t chop; /* write in pieces of this many bytes */
    unsigned code;
} step;

#define LIT(s) s, sizeof(s) - 1
#define FRAME(op, fin, rsv, s, chop)                                           \
    {                                                                          \
        K_SEND, op, fin, rsv, LIT(s), chop, 0                                  \
    }
#define SEND(op, s) FRAME(op, 1, 0, s, 0)
#define SENDF(op, fin, s) FRAME(op, fin, 0, s, 0)
#define SENDR(op, rsv, s) FRAME(op, 1, rsv, s, 0)
#define SENDC(op, s, chop) FRAME(op, 1, 0, s, chop)
#define SENDN(op, n, chop)                                                     \
    {                                                                          \
        K_SEND, op, 1, 0, NULL, n, chop, 0                                     \
    }
#define ZSEND(op, s)                                                           \
    {                                                                          \
        K_ZSEND, op, 1, 0, LIT(s), 0, 0                                        \
    }
#define CLOSE(code, s)                                                         \
    {                                                                          \
        K_CLOSE, EDDY_WS_CLOSE, 1, 0, LIT(s), 0, code                          \
    }
#define EXPECT(op, s)                                                          \
    {                                                                          \
        K_EXPECT, op, 0, 0, LIT(s), 0, 0                                       \
    }
#define EXPECTN(op, n)                                                         \
    {                                                                          \
        K_EXPECT, op, 0, 0, NULL, n, 0, 0                                      \
    }
#define EXPECT_CLOSE(code)                                                     \
    {                                                                          \
        K_EXPECT_CLOSE, EDDY_WS_CLOSE, 0, 0, NULL, 0, 0, code                  \
    }
#define TXT EDDY_WS_TEXT
#define BIN EDDY_WS_BINARY
#define CONT EDDY_WS_CONTINUATION
#define PING EDDY_WS_PING
#define PONG EDDY_WS_PONG

enum {
    C_CLOSED = 1,  /* the steps did the closing handshake: code is what
                      on_close() must say */
    C_DEFLATE = 2, /* permessage-deflate agreed (default parameters) */
};

typedef struct raw_case {
    const char *name; /* "section.case what" */
    step steps[24];
    unsigned fail;      /* eddy must fail the connection with this code */
    unsigned flags;     /* C_* */
    int code;           /* with C_CLOSED */
    uint64_t max;       /* max_message_size; 0: the default */
    void (*fn)(raw *t); /* more steps, after these */
} raw_case;

static const eddy__ws_pmd pmd_default = {0, 0, 15, 15};

/* Sizes shrink under valgrind, which is 20 to 50 times slower. */
static size_t scaled(size_t n)
{
    return tu_valgrind() && n >= 262144 ? n / 16 : n;
}

/* Sends a whole message compressed as the peer would (RSV1). */
static void raw_zsend(raw *t, unsigned op, const void *p, size_t n)
{
    eddy__ws_deflater d;
    eddy__ws_buf out = {0};

    eddy__ws_deflater_init(&d, 15, 1, 0, 0);
    assert_int_equal(eddy__ws_deflate(&d, p, n, 1, &out), 0);
    raw_send(t, op, 1, 4, out.p, out.len, 0);
    eddy__ws_deflater_free(&d);
    free(out.p);
}

static void run_step(raw *t, const step *st)
{
    size_t n = st->data != NULL ? st->len : scaled(st->len);
    uint8_t *gen = st->data == NULL ? text_of(n, 0) : NULL;
    const void *p = st->data != NULL ? (const void *)st->data : gen;
    uint8_t close[EDDY_WS_MAX_CONTROL + 8];

    switch (st->kind) {
    case K_SEND:
        /* eddy may have closed already, which the steps then check. */
        raw_send(t, st->op, st->fin, st->rsv, p, n, st->chop);
        break;
    case K_ZSEND:
        raw_zsend(t, st->op, p, n);
        break;
    case K_CLOSE:
        close[0] = (uint8_t)(st->code >> 8);
        close[1] = (uint8_t)st->code;
        memcpy(close + 2, p, n);
        raw_send(t, EDDY_WS_CLOSE, 1, 0, close, n + 2, st->chop);
        break;
    case K_EXPECT:
        raw_expect(t, st->op, p, n);
        break;
    default:
        raw_expect_close(t, st->code);
        break;
    }
    free(gen);
}

/* Nothing more comes from eddy (a client, which keeps its end open):
 * the loop runs until eddy has nothing left to do, and the socket is
 * still empty. */
static void raw_expect_quiet(raw *t)
{
    for (int i = 0; i < 20; i++) {
        assert_int_equal(eddy_loop_run_once(t->loop, 1), 0);
        raw_pull(t);
    }
    assert_int_equal(t->rx_pos, t->rx_len);
    assert_false(t->eof);
}

static void run_raw_role(const raw_case *c, int role)
{
    eddy_ws_options o = {0};
    raw t;

    o.max_message_size = c->max;
    raw_open(&t, role, &o, c->flags & C_DEFLATE ? &pmd_default : NULL,
             &whole_cbs);
    for (const step *st = c->steps; st->kind != K_END; st++)
        run_step(&t, st);
    if (c->fn != NULL)
        c->fn(&t);
    if (c->fail != 0 && t.closes == 0) {
        raw_end_failed(&t, c->fail);
    } else if (c->fail != 0) {
        raw_expect_eof(&t);
        raw_close_fd(&t);
        wait_closed(t.loop, &t.me);
        assert_int_equal(t.me.code, c->fail);
        assert_int_equal(t.me.error, -EPROTO);
    } else if (c->flags & C_CLOSED) {
        if (role == EDDY_WS_SERVER)
            raw_expect_eof(&t); /* the server closes first */
        else
            raw_expect_quiet(&t); /* a client waits for the server */
        raw_close_fd(&t);
        wait_closed(t.loop, &t.me);
        assert_int_equal(t.me.code, c->code);
        assert_int_equal(t.me.error, 0);
    } else {
        raw_end_clean(&t);
    }
    raw_free(&t);
}

static void run_raw_case(void **state)
{
    const raw_case *c = ((const case_state *)*state)->row;

    run_raw_role(c, EDDY_WS_SERVER);
    run_raw_role(c, EDDY_WS_CLIENT);
    case_passed(state);
}

/* 1: framing.  Text and binary messages of every length encoding, whole
 * and written in pieces. */
static const raw_case framing_cases[] = {
    {.name = "1.1.1 text, empty", .steps = {SEND(TXT, ""), EXPECT(TXT, "")}},
    {.name = "1.1.2 text, 125 bytes",
     .steps = {SENDN(TXT, 125, 0), EXPECTN(TXT, 125)}},
    {.name = "1.1.3 text, 126 bytes",
     .steps = {SENDN(TXT, 126, 0), EXPECTN(TXT, 126)}},
    {.name = "1.1.4 text, 127 bytes",
     .steps = {SENDN(TXT, 127, 0), EXPECTN(TXT, 127)}},
    {.name = "1.1.5 text, 128 bytes",
     .steps = {SENDN(TXT, 128, 0), EXPECTN(TXT, 128)}},
    {.name = "1.1.6 text, 65535 bytes",
     .steps = {SENDN(TXT, 65535, 0), EXPECTN(TXT, 65535)}},
    {.name = "1.1.7 text, 65536 bytes",
     .steps = {SENDN(TXT, 65536, 0), EXPECTN(TXT, 65536)}},
    {.name = "1.1.8 text, 65536 bytes in pieces of 997",
     .steps = {SENDN(TXT, 65536, 997), EXPECTN(TXT, 65536)}},
    {.name = "1.2.1 binary, empty", .steps = {SEND(BIN, ""), EXPECT(BIN, "")}},
    {.name = "1.2.2 binary, 125 bytes",
     .steps = {SENDN(BIN, 125, 0), EXPECTN(BIN, 125)}},
    {.name = "1.2.3 binary, 126 bytes",
     .steps = {SENDN(BIN, 126, 0), EXPECTN(BIN, 126)}},
    {.name = "1.2.4 binary, 127 bytes",
     .steps = {SENDN(BIN, 127, 0), EXPECTN(BIN, 127)}},
    {.name = "1.2.5 binary, 128 bytes",
     .steps = {SENDN(BIN, 128, 0), EXPECTN(BIN, 128)}},
    {.name = "1.2.6 binary, 65535 bytes",
     .steps = {SENDN(BIN, 65535, 0), EXPECTN(BIN, 65535)}},
    {.name = "1.2.7 binary, 65536 bytes",
     .steps = {SENDN(BIN, 65536, 0), EXPECTN(BIN, 65536)}},
    {.name = "1.2.8 binary, 65536 bytes in pieces of 997",
     .steps = {SENDN(BIN, 65536, 997), EXPECTN(BIN, 65536)}},
    {.name = "1.3.1 binary, 0 to 255: every byte",
     .steps = {SEND(BIN, "\x00\x01\x7f\x80\xfe\xff\x00"),
               EXPECT(BIN, "\x00\x01\x7f\x80\xfe\xff\x00")}},
};

#define P125                                                                   \
    "012345678901234567890123456789012345678901234567890123456789012345678901" \
    "23456789012345678901234567890123456789012345678901234"
#define PONGME(i) SEND(PING, "payload-" #i)
#define PONGED(i) EXPECT(PONG, "payload-" #i)
#define PONGMEC(i) SENDC(PING, "payload-" #i, 1)

/* 2: pings and pongs. */
static const raw_case ping_cases[] = {
    {.name = "2.1 ping, empty: a pong, empty",
     .steps = {SEND(PING, ""), EXPECT(PONG, "")}},
    {.name = "2.2 ping with text: the same in the pong",
     .steps = {SEND(PING, "Hello, world!"), EXPECT(PONG, "Hello, world!")}},
    {.name = "2.3 ping with binary payload",
     .steps = {SEND(PING, "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"),
               EXPECT(PONG, "\x00\xff\xfe\xfd\xfc\xfb\x00\xff")}},
    {.name = "2.4 ping with 125 bytes",
     .steps = {SEND(PING, P125), EXPECT(PONG, P125)}},
    {.name = "2.5 ping with 126 bytes: 1002",
     .steps = {SEND(PING, P125 "5")},
     .fail = 1002},
    {.name = "2.6 ping with 125 bytes, a byte at a time",
     .steps = {SENDC(PING, P125, 1), EXPECT(PONG, P125)}},
    {.name = "2.7 unsolicited pong, empty: no answer",
     .steps = {SEND(PONG, "")}},
    {.name = "2.8 unsolicited pong with payload: no answer",
     .steps = {SEND(PONG, "unsolicited pong payload")}},
    {.name = "2.9 unsolicited pong, then a ping: one pong",
     .steps = {SEND(PONG, "unsolicited pong payload"),
               SEND(PING, "ping payload"), EXPECT(PONG, "ping payload")}},
    {.name = "2.10 ten pings: ten pongs in order",
     .steps = {PONGME(0), PONGME(1), PONGME(2), PONGME(3), PONGME(4),
               PONGME(5), PONGME(6), PONGME(7), PONGME(8), PONGME(9),
               PONGED(0), PONGED(1), PONGED(2), PONGED(3), PONGED(4),
               PONGED(5), PONGED(6), PONGED(7), PONGED(8), PONGED(9)}},
    {.name = "2.11 ten pings a byte at a time: ten pongs",
     .steps = {PONGMEC(0), PONGMEC(1), PONGMEC(2), PONGMEC(3), PONGMEC(4),
               PONGMEC(5), PONGMEC(6), PONGMEC(7), PONGMEC(8), PONGMEC(9),
               PONGED(0),  PONGED(1),  PONGED(2),  PONGED(3),  PONGED(4),
               PONGED(5),  PONGED(6),  PONGED(7),  PONGED(8),  PONGED(9)}},
};

/* 3: reserved bits, which no extension allows here. */
static const raw_case rsv_cases[] = {
    {.name = "3.1 text with RSV1 (no extension): 1002",
     .steps = {SENDR(TXT, 4, "Hello")},
     .fail = 1002},
    {.name = "3.2 text, then text with RSV2, then ping: echo, then 1002",
     .steps = {SEND(TXT, "Hello"), SENDR(TXT, 2, "Hello"), SEND(PING, ""),
               EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "3.3 as 3.2 with RSV3, frame by frame",
     .steps = {SENDC(TXT, "Hello", 7), FRAME(TXT, 1, 1, "Hello", 7),
               SENDC(PING, "", 7), EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "3.4 as 3.2 with RSV1 and RSV3, a byte at a time",
     .steps = {SENDC(TXT, "Hello", 1), FRAME(TXT, 1, 5, "Hello", 1),
               SENDC(PING, "", 1), EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "3.5 binary with RSV1 and RSV3: 1002",
     .steps = {FRAME(BIN, 1, 5, "\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 0)},
     .fail = 1002},
    {.name = "3.6 ping with RSV2 and RSV3: 1002",
     .steps = {FRAME(PING, 1, 3, "Hello", 0)},
     .fail = 1002},
    {.name = "3.7 close with every RSV bit: 1002",
     .steps = {FRAME(EDDY_WS_CLOSE, 1, 7, "", 0)},
     .fail = 1002},
};

/* 4: opcodes RFC 6455 reserves. */
static const raw_case opcode_cases[] = {
    {.name = "4.1.1 opcode 3: 1002", .steps = {SEND(3, "")}, .fail = 1002},
    {.name = "4.1.2 opcode 4 with payload: 1002",
     .steps = {SEND(4, "reserved")},
     .fail = 1002},
    {.name = "4.1.3 text, opcode 5, ping: echo, then 1002",
     .steps = {SEND(TXT, "Hello"), SEND(5, ""), SEND(PING, ""),
               EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "4.1.4 text, opcode 6 with payload, ping",
     .steps = {SEND(TXT, "Hello"), SEND(6, "reserved"), SEND(PING, ""),
               EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "4.1.5 text, opcode 7 a byte at a time, ping",
     .steps = {SENDC(TXT, "Hello", 1), SENDC(7, "reserved", 1),
               SENDC(PING, "", 1), EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "4.2.1 opcode 11: 1002", .steps = {SEND(11, "")}, .fail = 1002},
    {.name = "4.2.2 opcode 12 with payload: 1002",
     .steps = {SEND(12, "reserved")},
     .fail = 1002},
    {.name = "4.2.3 text, opcode 13, ping: echo, then 1002",
     .steps = {SEND(TXT, "Hello"), SEND(13, ""), SEND(PING, ""),
               EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "4.2.4 text, opcode 14 with payload, ping",
     .steps = {SEND(TXT, "Hello"), SEND(14, "reserved"), SEND(PING, ""),
               EXPECT(TXT, "Hello")},
     .fail = 1002},
    {.name = "4.2.5 text, opcode 15 a byte at a time, ping",
     .steps = {SENDC(TXT, "Hello", 1), SENDC(15, "reserved", 1),
               SENDC(PING, "", 1), EXPECT(TXT, "Hello")},
     .fail = 1002},
};

#define FRAGS_PINGED(chop)                                                     \
    {                                                                          \
        FRAME(TXT, 0, 0, "fragment1", chop),                                   \
            FRAME(CONT, 0, 0, "fragment2", chop),                              \
            FRAME(PING, 1, 0, "pongme 1!", chop), EXPECT(PONG, "pongme 1!"),   \
            FRAME(CONT, 0, 0, "fragment3", chop),                              \
            FRAME(CONT, 0, 0, "fragment4", chop),                              \
            FRAME(PING, 1, 0, "pongme 2!", chop), EXPECT(PONG, "pongme 2!"),   \
            FRAME(CONT, 1, 0, "fragment5", chop),                              \
            EXPECT(TXT, "fragment1fragment2fragment3fragment4fragment5")       \
    }
#define TWO_FRAGS(chop)                                                        \
    {                                                                          \
        FRAME(TXT, 0, 0, "fragment1", chop),                                   \
            FRAME(CONT, 1, 0, "fragment2", chop),                              \
            EXPECT(TXT, "fragment1fragment2")                                  \
    }
#define FRAGS_PING(chop)                                                       \
    {                                                                          \
        FRAME(TXT, 0, 0, "fragment1", chop), FRAME(PING, 1, 0, "", chop),      \
            FRAME(CONT, 1, 0, "fragment2", chop), EXPECT(PONG, ""),            \
            EXPECT(TXT, "fragment1fragment2")                                  \
    }
#define CONT_FIRST(fin, chop)                                                  \
    {                                                                          \
        FRAME(CONT, fin, 0, "non-continuation payload", chop),                 \
            FRAME(TXT, 1, 0, "Hello, world!", chop)                            \
    }

/* 5: fragmentation, with control frames between the fragments. */
static const raw_case fragment_cases[] = {
    {.name = "5.1 ping in two fragments: 1002",
     .steps = {SENDF(PING, 0, "fragment1"), SENDF(CONT, 1, "fragment2")},
     .fail = 1002},
    {.name = "5.2 pong in two fragments: 1002",
     .steps = {SENDF(PONG, 0, "fragment1"), SENDF(CONT, 1, "fragment2")},
     .fail = 1002},
    {.name = "5.3 text in two fragments", .steps = TWO_FRAGS(0)},
    {.name = "5.4 text in two fragments, a byte at a time",
     .steps = TWO_FRAGS(1)},
    {.name = "5.5 text in two fragments, 3 bytes at a time",
     .steps = TWO_FRAGS(3)},
    {.name = "5.6 text in two fragments with a ping between",
     .steps = FRAGS_PING(0)},
    {.name = "5.7 as 5.6, a byte at a time", .steps = FRAGS_PING(1)},
    {.name = "5.8 as 5.6, 2 bytes at a time", .steps = FRAGS_PING(2)},
    {.name = "5.9 a final continuation with nothing to continue: 1002",
     .steps = CONT_FIRST(1, 0),
     .fail = 1002},
    {.name = "5.10 as 5.9, frame by frame",
     .steps = CONT_FIRST(1, 64),
     .fail = 1002},
    {.name = "5.11 as 5.9, a byte at a time",
     .steps = CONT_FIRST(1, 1),
     .fail = 1002},
    {.name = "5.12 a continuation with nothing to continue: 1002",
     .steps = CONT_FIRST(0, 0),
     .fail = 1002},
    {.name = "5.13 as 5.12, frame by frame",
     .steps = CONT_FIRST(0, 64),
     .fail = 1002},
    {.name = "5.14 as 5.12, a byte at a time",
     .steps = CONT_FIRST(0, 1),
     .fail = 1002},
    {.name = "5.15 a message, then a continuation without one: echo, 1002",
     .steps = {SENDF(TXT, 0, "fragment1"), SENDF(CONT, 1, "fragment2"),
               SENDF(CONT, 0, "fragment3"), SENDF(TXT, 1, "fragment4"),
               EXPECT(TXT, "fragment1fragment2")},
     .fail = 1002},
    {.name = "5.16 continuation, text, continuation: 1002",
     .steps = {SENDF(CONT, 0, "fragment1"), SENDF(TXT, 0, "fragment2"),
               SENDF(CONT, 1, "fragment3")},
     .fail = 1002},
    {.name = "5.17 final continuation, text, continuation: 1002",
     .steps = {SENDF(CONT, 1, "fragment1"), SENDF(TXT, 0, "fragment2"),
               SENDF(CONT, 1, "fragment3")},
     .fail = 1002},
    {.name = "5.18 a text inside a text: 1002",
     .steps = {SENDF(TXT, 0, "fragment1"), SENDF(TXT, 1, "fragment2")},
     .fail = 1002},
    {.name = "5.19 five fragments with two pings between",
     .steps = FRAGS_PINGED(0)},
    {.name = "5.20 as 5.19, a byte at a time", .steps = FRAGS_PINGED(1)},
    {.name = "5.21 empty fragments, and an empty final one",
     .steps = {SENDF(TXT, 0, ""), SENDF(CONT, 0, "a"), SENDF(CONT, 0, ""),
               SENDF(CONT, 1, ""), EXPECT(TXT, "a")}},
    {.name = "5.22 binary in 3 fragments, split inside the header",
     .steps = {FRAME(BIN, 0, 0, "\x01\x02", 1), FRAME(CONT, 0, 0, "\x03", 1),
               FRAME(CONT, 1, 0, "\x04\x05", 1),
               EXPECT(BIN, "\x01\x02\x03\x04\x05")}},
};

#define R123                                                                   \
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod " \
    "tempor incididunt ut labore et dolore magna aliqua."

/* 7: the closing handshake, close codes and reasons. */
static const raw_case close_cases[] = {
    {.name = "7.1.1 text, then close: echo, then the close answered",
     .steps = {SEND(TXT, "Hello World!"), EXPECT(TXT, "Hello World!"),
               CLOSE(1000, ""), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.1.2 close twice: answered once",
     .steps = {CLOSE(1000, ""), CLOSE(1000, ""), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.1.3 close, then ping: no pong",
     .steps = {CLOSE(1000, ""), SEND(PING, "x"), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.1.4 close, then text: not delivered",
     .steps = {CLOSE(1000, ""), SEND(TXT, "Hello"), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.1.5 fragment, close, fragment: not delivered",
     .steps = {SENDF(TXT, 0, "fragment1"), CLOSE(1000, ""),
               SENDF(CONT, 1, "fragment2"), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.1.6 256 KiB of text, close, ping: echo, then the close",
     .steps = {SENDN(TXT, 262144, 0), CLOSE(1000, ""), SEND(PING, "x"),
               EXPECTN(TXT, 262144), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.3.1 close without payload: answered without one (1005)",
     .steps = {SEND(EDDY_WS_CLOSE, ""), EXPECT_CLOSE(1005)},
     .flags = C_CLOSED,
     .code = 1005},
    {.name = "7.3.2 close with 1 byte: 1002",
     .steps = {SEND(EDDY_WS_CLOSE, "\x03")},
     .fail = 1002},
    {.name = "7.3.3 close with a code",
     .steps = {CLOSE(1000, ""), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.3.4 close with a code and a reason",
     .steps = {CLOSE(1000, "Hello World!"), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.3.5 close with a reason of 123 bytes",
     .steps = {CLOSE(1000, R123), EXPECT_CLOSE(1000)},
     .flags = C_CLOSED,
     .code = 1000},
    {.name = "7.3.6 close with a reason of 124 bytes: 1002",
     .steps = {CLOSE(1000, R123 "x")},
     .fail = 1002},
    {.name = "7.5.1 close with a reason that is not UTF-8: 1007",
     .steps = {CLOSE(1000,
                     "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                     "edited")},
     .fail = 1007},
#define VALID_CODE(id, c)                                                      \
    {                                                                          \
        .name = "7.7." #id " close code " #c ": answered with it",             \
        .steps = {CLOSE(c, ""), EXPECT_CLOSE(c)}, .flags = C_CLOSED, .code = c \
    }
    VALID_CODE(1, 1000),
    VALID_CODE(2, 1001),
    VALID_CODE(3, 1002),
    VALID_CODE(4, 1003),
    VALID_CODE(5, 1007),
    VALID_CODE(6, 1008),
    VALID_CODE(7, 1009),
    VALID_CODE(8, 1010),
    VALID_CODE(9, 1011),
    VALID_CODE(10, 3000),
    VALID_CODE(11, 3999),
    VALID_CODE(12, 4000),
    VALID_CODE(13, 4999),
    VALID_CODE(14, 1012),
    VALID_CODE(15, 1013),
    VALID_CODE(16, 1014),
#define BAD_CODE(id, c)                                                        \
    {                                                                          \
        .name = "7.9." #id " close code " #c ": 1002",                         \
        .steps = {CLOSE(c, "")}, .fail = 1002                                  \
    }
    BAD_CODE(1, 0),
    BAD_CODE(2, 999),
    BAD_CODE(3, 1004),
    BAD_CODE(4, 1005),
    BAD_CODE(5, 1006),
    BAD_CODE(6, 1015),
    BAD_CODE(7, 1016),
    BAD_CODE(8, 1100),
    BAD_CODE(9, 2000),
    BAD_CODE(10, 2999),
    {.name = "7.13.1 close code 5000: 1002",
     .steps = {CLOSE(5000, "")},
     .fail = 1002},
    {.name = "7.13.2 close code 65535: 1002",
     .steps = {CLOSE(65535, "")},
     .fail = 1002},
};

/* 6: UTF-8.  Samples after Markus Kuhn's UTF-8 test file (Autobahn's
 * section 6): each is sent as one text frame and as one frame per byte,
 * to eddy's server and to eddy's client; valid text comes back, invalid
 * text is 1007. */
typedef struct utf8_case {
    const char *name;
    const char *hex;
    int valid;
} utf8_case;

static const utf8_case utf8_cases[] = {
    {"6.1.1 empty", "", 1},
    {"6.2.1 kosme", "ceba e1bdb9 cf83 cebc ceb5", 1},
    {"6.2.2 a NUL byte", "00", 1},
    {"6.3.1 kosme, a surrogate, edited",
     "ceba e1bdb9 cf83 cebc ceb5 eda080 6564697465 64", 0},
    {"6.5.1 U+0080", "c280", 1},
    {"6.5.2 U+0800", "e0a080", 1},
    {"6.5.3 U+10000", "f0908080", 1},
    {"6.5.4 mixed scripts", "48 c3a9 e282ac f09f9880 e4b896", 1},
    {"6.6.1 5-byte first sequence", "f888808080", 0},
    {"6.6.2 6-byte first sequence", "fc8480808080", 0},
    {"6.7.1 U+007F", "7f", 1},
    {"6.7.2 U+07FF", "dfbf", 1},
    {"6.7.3 U+FFFF", "efbfbf", 1},
    {"6.7.4 U+10FFFF", "f48fbfbf", 1},
    {"6.8.1 U+1FFFFF", "f7bfbfbf", 0},
    {"6.8.2 5-byte last sequence", "fbbfbfbfbf", 0},
    {"6.8.3 6-byte last sequence", "fdbfbfbfbfbf", 0},
    {"6.9.1 U+D7FF", "ed9fbf", 1},
    {"6.9.2 U+E000", "ee8080", 1},
    {"6.9.3 U+FFFD", "efbfbd", 1},
    {"6.9.4 U+110000", "f4908080", 0},
    {"6.10.1 a lone continuation 80", "80", 0},
    {"6.10.2 a lone continuation bf", "bf", 0},
    {"6.10.3 two continuations", "80bf", 0},
    {"6.10.4 every continuation byte",
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
     "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
     0},
    {"6.11.1 lonely 2-byte start, then a space", "c020", 0},
    {"6.11.2 lonely 3-byte start, then a space", "e020", 0},
    {"6.11.3 lonely 4-byte start, then a space", "f020", 0},
    {"6.11.4 lonely 5-byte start, then a space", "f820", 0},
    {"6.12.1 2-byte sequence cut at the end", "c2", 0},
    {"6.12.2 3-byte sequence cut at the end", "e0a0", 0},
    {"6.12.3 4-byte sequence cut at the end", "f09080", 0},
    {"6.12.4 last 2-byte sequence cut", "df", 0},
    {"6.12.5 last 3-byte sequence cut", "efbf", 0},
    {"6.12.6 last 4-byte sequence cut", "f48fbf", 0},
    {"6.13.1 cut sequences, concatenated", "c0 e080 f08080 df efbf f7bfbf", 0},
    {"6.14.1 byte fe", "fe", 0},
    {"6.14.2 byte ff", "ff", 0},
    {"6.14.3 fe fe ff ff", "fefeffff", 0},
    {"6.15.1 overlong '/' in 2 bytes", "c0af", 0},
    {"6.15.2 overlong '/' in 3 bytes", "e080af", 0},
    {"6.15.3 overlong '/' in 4 bytes", "f08080af", 0},
    {"6.16.1 largest overlong in 2 bytes", "c1bf", 0},
    {"6.16.2 largest overlong in 3 bytes", "e09fbf", 0},
    {"6.16.3 largest overlong in 4 bytes", "f08fbfbf", 0},
    {"6.17.1 overlong NUL in 2 bytes", "c080", 0},
    {"6.17.2 overlong NUL in 3 bytes", "e08080", 0},
    {"6.17.3 overlong NUL in 4 bytes", "f0808080", 0},
    {"6.18.1 U+D800", "eda080", 0},
    {"6.18.2 U+DB7F", "edadbf", 0},
    {"6.18.3 U+DB80", "edae80", 0},
    {"6.18.4 U+DBFF", "edafbf", 0},
    {"6.18.5 U+DC00", "edb080", 0},
    {"6.18.6 U+DF80", "edbe80", 0},
    {"6.18.7 U+DFFF", "edbfbf", 0},
    {"6.19.1 U+D800 U+DC00", "eda080edb080", 0},
    {"6.19.2 U+DBFF U+DFFF", "edafbfedbfbf", 0},
    {"6.20.1 U+FFFE", "efbfbe", 1},
    {"6.20.2 U+FDD0", "efb790", 1},
    {"6.20.3 U+1FFFE", "f09fbfbe", 1},
    {"6.20.4 U+10FFFE", "f48fbfbe", 1},
    {"6.21.1 U+FFFD in text", "41 efbfbd 42", 1},
};

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    unsigned v;

    for (; *h != '\0'; h++) {
        if (*h == ' ')
            continue;
        assert_int_equal(sscanf(h, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        h++;
    }
    return n;
}

static void run_utf8_role(const utf8_case *c, int role, int per_byte)
{
    uint8_t text[256];
    size_t n = unhex(c->hex, text);
    raw t;

    raw_open(&t, role, NULL, NULL, &whole_cbs);
    if (!per_byte || n == 0) {
        raw_send(&t, TXT, 1, 0, text, n, 0);
    } else {
        for (size_t i = 0; i < n; i++)
            raw_send(&t, i == 0 ? TXT : CONT, i == n - 1, 0, text + i, 1, 0);
    }
    if (c->valid) {
        raw_expect(&t, TXT, text, n);
        raw_end_clean(&t);
    } else {
        raw_end_failed(&t, 1007);
    }
    raw_free(&t);
}

static void run_utf8_case(void **state)
{
    const utf8_case *c = ((const case_state *)*state)->row;

    for (int role = 0; role < 2; role++) {
        run_utf8_role(c, role, 0);
        run_utf8_role(c, role, 1);
    }
    case_passed(state);
}

#define KOSME "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

/* Writes frame bytes [from, to) and runs the loop after them. */
static void write_part(raw *t, const uint8_t *f, size_t from, size_t to)
{
    raw_write_chopped(t, f + from, to - from, 0);
}

/* 6.4.3: one text frame written in three pieces; the invalid sequence
 * is in the second, and the Close comes before the third is written. */
static void fail_fast_in_frame(raw *t)
{
    static const char text[] = KOSME "\xf4\x90\x80\x80"
                                     "edited";
    size_t size;
    uint8_t *f = raw_frame_bytes(t, TXT, 1, 0, (const uint8_t *)text,
                                 sizeof text - 1, &size);

    write_part(t, f, 0, size - 10);
    write_part(t, f, size - 10, size - 6);
    raw_expect_close(t, 1007);
    write_part(t, f, size - 6, size);
    free(f);
}

/* 6.4.4: the same, cut after f4: the text can still be valid until 90. */
static void fail_fast_at_byte(raw *t)
{
    static const char text[] = KOSME "\xf4\x90\x80\x80"
                                     "edited";
    size_t size;
    uint8_t *f = raw_frame_bytes(t, TXT, 1, 0, (const uint8_t *)text,
                                 sizeof text - 1, &size);

    write_part(t, f, 0, size - 9);
    raw_expect_quiet(t); /* f4 may still begin a character */
    write_part(t, f, size - 9, size - 8);
    raw_expect_close(t, 1007);
    write_part(t, f, size - 8, size);
    free(f);
}

/* 6.4.5: a 64 KiB text frame whose byte 20,000 is invalid, read into
 * place: the Close comes while 40 KiB of it are still to be sent. */
static void fail_fast_big_frame(raw *t)
{
    size_t size;
    uint8_t *text = text_of(65536, 3), *f;

    text[20000] = 0xff;
    f = raw_frame_bytes(t, TXT, 1, 0, text, 65536, &size);
    write_part(t, f, 0, 4000);
    write_part(t, f, 4000, 24000);
    raw_expect_close(t, 1007);
    write_part(t, f, 24000, size);
    free(f);
    free(text);
}

static const raw_case utf8_raw_cases[] = {
    {.name = "6.4.1 valid, then invalid fragment: 1007 before the third",
     .steps = {SENDF(TXT, 0, KOSME), SENDF(CONT, 0, "\xf4\x90\x80\x80"),
               EXPECT_CLOSE(1007), SENDF(CONT, 1, "edited")},
     .fail = 1007},
    {.name = "6.4.2 a fragment ending in f4, then 90: 1007",
     .steps = {SENDF(TXT, 0, KOSME), SENDF(CONT, 0, "\xf4"),
               SENDF(CONT, 1,
                     "\x90\x80\x80"
                     "edited")},
     .fail = 1007},
    {.name = "6.4.3 invalid inside one frame: 1007 before its end",
     .fail = 1007,
     .fn = fail_fast_in_frame},
    {.name = "6.4.4 invalid at the byte it becomes so",
     .fail = 1007,
     .fn = fail_fast_at_byte},
    {.name = "6.4.5 invalid inside a 64 KiB frame read into place",
     .fail = 1007,
     .fn = fail_fast_big_frame},
    {.name = "6.6.3 a character cut between two fragments",
     .steps = {SENDF(TXT, 0, "\xce"), SENDF(CONT, 1, "\xba"),
               EXPECT(TXT, "\xce\xba")}},
    {.name = "6.6.4 kosme, a fragment per byte, a byte at a time",
     .steps = {FRAME(TXT, 0, 0, "\xce", 1), FRAME(CONT, 0, 0, "\xba\xe1", 1),
               FRAME(CONT, 0, 0, "\xbd", 1),
               FRAME(CONT, 1, 0, "\xb9\xcf\x83", 1),
               EXPECT(TXT, "\xce\xba\xe1\xbd\xb9\xcf\x83")}},
    {.name = "6.12.7 a character cut at the end of the last fragment: 1007",
     .steps = {SENDF(TXT, 0, "ab"), SENDF(CONT, 1, "\xe2\x82")},
     .fail = 1007},
};

/* 9: limits and sizes. */
static const raw_case limit_raw_cases[] = {
#define CHOPPED(id, op, chop)                                                  \
    {                                                                          \
        .name = "9." id " 1 MiB in pieces of " #chop, .steps = {               \
            SENDN(op, 1 << 20, chop),                                          \
            EXPECTN(op, 1 << 20)                                               \
        }                                                                      \
    }
    CHOPPED("5.1 text", TXT, 64),
    CHOPPED("5.2 text", TXT, 128),
    CHOPPED("5.3 text", TXT, 256),
    CHOPPED("5.4 text", TXT, 512),
    CHOPPED("5.5 text", TXT, 1024),
    CHOPPED("5.6 text", TXT, 2048),
    CHOPPED("6.1 binary", BIN, 64),
    CHOPPED("6.2 binary", BIN, 128),
    CHOPPED("6.3 binary", BIN, 256),
    CHOPPED("6.4 binary", BIN, 512),
    CHOPPED("6.5 binary", BIN, 1024),
    CHOPPED("6.6 binary", BIN, 2048),
    {.name = "9.9.1 a message of exactly max_message_size",
     .steps = {SENDN(TXT, 1000, 0), EXPECTN(TXT, 1000)},
     .max = 1000},
    {.name = "9.9.2 one byte over max_message_size: 1009",
     .steps = {SENDN(TXT, 1001, 0)},
     .fail = 1009,
     .max = 1000},
    {.name = "9.9.3 fragments over the limit: 1009 at the header",
     .steps = {SENDF(BIN, 0, "0123456789"), FRAME(CONT, 1, 0, "0123456789", 1)},
     .fail = 1009,
     .max = 15},
    {.name = "9.9.4 a 64-bit length over the limit: 1009, nothing buffered",
     .steps = {SENDN(BIN, 70000, 0)},
     .fail = 1009,
     .max = 65536},
    {.name = "9.9.5 empty messages with max_message_size 1",
     .steps = {SEND(TXT, ""), EXPECT(TXT, ""), SEND(BIN, "x"),
               EXPECT(BIN, "x")},
     .max = 1},
};

/* 12: compression with a peer that compresses (raw). */
static const raw_case deflate_raw_cases[] = {
    {.name = "12.5.1 a compressed text, echoed compressed",
     .steps = {ZSEND(TXT, "Hello, compressed world"),
               EXPECT(TXT, "Hello, compressed world")},
     .flags = C_DEFLATE},
    {.name = "12.5.2 compressed and plain messages mixed",
     .steps = {ZSEND(BIN, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), SEND(TXT, "plain"),
               ZSEND(TXT, ""), EXPECT(BIN, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
               EXPECT(TXT, "plain"), EXPECT(TXT, "")},
     .flags = C_DEFLATE},
    {.name = "12.5.3 RSV1 on a ping: 1002",
     .steps = {SENDR(PING, 4, "x")},
     .fail = 1002,
     .flags = C_DEFLATE},
    {.name = "12.5.4 RSV1 on a continuation: 1002",
     .steps = {SENDF(TXT, 0, "a"), FRAME(CONT, 1, 4, "b", 0)},
     .fail = 1002,
     .flags = C_DEFLATE},
    {.name = "12.5.5 not deflate data: 1007",
     .steps = {SENDR(BIN, 4, "\xff\xff\xff\xff\xff")},
     .fail = 1007,
     .flags = C_DEFLATE},
    {.name = "12.5.6 compressed text that is not UTF-8: 1007",
     .steps = {ZSEND(TXT, "abc\xff")},
     .fail = 1007,
     .flags = C_DEFLATE},
    {.name = "12.5.7 a compressed bomb: 1009 at the limit",
     .steps = {ZSEND(BIN,
                     "bombbombbombbombbombbombbombbombbombbombbombbombbomb"
                     "bombbombbombbombbombbombbombbombbombbombbombbombbomb")},
     .fail = 1009,
     .flags = C_DEFLATE,
     .max = 64},
};

/* Sections 9, 12 and 13 between eddy's client and eddy's server: the
 * client sends count messages (each echoed before the next, or all at
 * once with burst), the server echoes, and the client checks each. */
typedef struct pair_case {
    const char *name;
    int op;
    size_t size;
    size_t frag; /* sent in fragments of this many bytes; 0: whole */
    int count;
    int burst;
    const eddy__ws_pmd *pmd;
    int parts; /* both ends take messages with on_message_part */
    int noise; /* payload that hardly compresses */
} pair_case;

static void send_message(eddy_ws *ws, const pair_case *c, const uint8_t *p,
                         size_t n)
{
    if (c->frag == 0) {
        assert_int_equal(eddy_ws_send(ws, c->op, p, n), 0);
        return;
    }
    for (size_t at = 0; at == 0 || at < n; at += c->frag) {
        size_t k = n - at < c->frag ? n - at : c->frag;

        assert_int_equal(eddy_ws_send_fragment(ws, at == 0 ? c->op : CONT,
                                               p + at, k, at + k == n),
                         0);
    }
}

static void run_pair_case(void **state)
{
    const pair_case *c = ((const case_state *)*state)->row;
    size_t n = scaled(c->size);
    int count = tu_valgrind() && c->count > 10 ? c->count / 10 : c->count;
    const eddy_ws_callbacks *cbs = c->parts ? &part_cbs : &whole_cbs;
    uint8_t **msgs = calloc((size_t)count, sizeof *msgs);
    pair p;

    assert_non_null(msgs);
    pair_open_with(&p, NULL, NULL, c->pmd, cbs, cbs);
    p.srv.echo = 1;
    assert_int_equal(eddy_ws_compressed(p.cli.ws), c->pmd != NULL);
    for (int i = 0; i < count; i++) {
        msgs[i] = c->noise ? noise_of(n, (unsigned)i) : text_of(n, (unsigned)i);
        send_message(p.cli.ws, c, msgs[i], n);
        if (c->burst && i < count - 1)
            continue;
        wait_messages(p.loop, &p.cli, i + 1);
        assert_int_equal(p.srv.echo_err, 0);
        assert_int_equal(p.cli.last.op, c->op);
        assert_int_equal(p.cli.last.len, n);
        if (n > 0)
            assert_memory_equal(p.cli.last.data, msgs[i], n);
    }
    assert_int_equal(p.srv.messages, count);
    assert_int_equal(p.cli.bytes, (uint64_t)n * (uint64_t)count);
    for (int i = 0; i < count; i++)
        free(msgs[i]);
    free(msgs);
    pair_close(&p);
    case_passed(state);
}

#define KIB(n) ((size_t)(n) << 10)
#define MIB(n) ((size_t)(n) << 20)

static const pair_case limit_cases[] = {
    {.name = "9.1.1 text, 64 KiB", .op = TXT, .size = KIB(64), .count = 1},
    {.name = "9.1.2 text, 256 KiB", .op = TXT, .size = KIB(256), .count = 1},
    {.name = "9.1.3 text, 1 MiB", .op = TXT, .size = MIB(1), .count = 1},
    {.name = "9.1.4 text, 4 MiB", .op = TXT, .size = MIB(4), .count = 1},
    {.name = "9.1.5 text, 8 MiB", .op = TXT, .size = MIB(8), .count = 1},
    {.name = "9.2.1 binary, 64 KiB", .op = BIN, .size = KIB(64), .count = 1},
    {.name = "9.2.2 binary, 256 KiB", .op = BIN, .size = KIB(256), .count = 1},
    {.name = "9.2.3 binary, 1 MiB", .op = BIN, .size = MIB(1), .count = 1},
    {.name = "9.2.4 binary, 4 MiB", .op = BIN, .size = MIB(4), .count = 1},
    {.name = "9.2.5 binary, 8 MiB", .op = BIN, .size = MIB(8), .count = 1},
    {.name = "9.3.1 text, 4 MiB in fragments of 64",
     .op = TXT,
     .size = MIB(4),
     .frag = 64,
     .count = 1},
    {.name = "9.3.2 text, 4 MiB in fragments of 256",
     .op = TXT,
     .size = MIB(4),
     .frag = 256,
     .count = 1},
    {.name = "9.3.3 text, 4 MiB in fragments of 1 KiB",
     .op = TXT,
     .size = MIB(4),
     .frag = KIB(1),
     .count = 1},
    {.name = "9.3.4 text, 4 MiB in fragments of 4 KiB",
     .op = TXT,
     .size = MIB(4),
     .frag = KIB(4),
     .count = 1},
    {.name = "9.3.5 text, 4 MiB in fragments of 16 KiB",
     .op = TXT,
     .size = MIB(4),
     .frag = KIB(16),
     .count = 1},
    {.name = "9.3.6 text, 4 MiB in fragments of 64 KiB",
     .op = TXT,
     .size = MIB(4),
     .frag = KIB(64),
     .count = 1},
    {.name = "9.3.7 text, 4 MiB in fragments of 256 KiB",
     .op = TXT,
     .size = MIB(4),
     .frag = KIB(256),
     .count = 1},
    {.name = "9.3.8 text, 4 MiB in fragments of 1 MiB",
     .op = TXT,
     .size = MIB(4),
     .frag = MIB(1),
     .count = 1},
    {.name = "9.4.1 binary, 4 MiB in fragments of 64",
     .op = BIN,
     .size = MIB(4),
     .frag = 64,
     .count = 1},
    {.name = "9.4.2 binary, 4 MiB in fragments of 256",
     .op = BIN,
     .size = MIB(4),
     .frag = 256,
     .count = 1},
    {.name = "9.4.3 binary, 4 MiB in fragments of 1 KiB",
     .op = BIN,
     .size = MIB(4),
     .frag = KIB(1),
     .count = 1},
    {.name = "9.4.4 binary, 4 MiB in fragments of 4 KiB",
     .op = BIN,
     .size = MIB(4),
     .frag = KIB(4),
     .count = 1},
    {.name = "9.4.5 binary, 4 MiB in fragments of 16 KiB",
     .op = BIN,
     .size = MIB(4),
     .frag = KIB(16),
     .count = 1},
    {.name = "9.4.6 binary, 4 MiB in fragments of 64 KiB",
     .op = BIN,
     .size = MIB(4),
     .frag = KIB(64),
     .count = 1},
    {.name = "9.4.7 binary, 4 MiB in fragments of 256 KiB",
     .op = BIN,
     .size = MIB(4),
     .frag = KIB(256),
     .count = 1},
    {.name = "9.4.8 binary, 4 MiB in fragments of 1 MiB",
     .op = BIN,
     .size = MIB(4),
     .frag = MIB(1),
     .count = 1},
    {.name = "9.7.1 1000 empty texts, one after the other",
     .op = TXT,
     .size = 0,
     .count = 1000},
    {.name = "9.7.2 1000 texts of 16 bytes",
     .op = TXT,
     .size = 16,
     .count = 1000},
    {.name = "9.7.3 1000 texts of 64 bytes",
     .op = TXT,
     .size = 64,
     .count = 1000},
    {.name = "9.7.4 1000 texts of 256 bytes",
     .op = TXT,
     .size = 256,
     .count = 1000},
    {.name = "9.7.5 1000 texts of 1 KiB",
     .op = TXT,
     .size = KIB(1),
     .count = 1000},
    {.name = "9.7.6 1000 texts of 4 KiB",
     .op = TXT,
     .size = KIB(4),
     .count = 1000},
    {.name = "9.8.1 1000 empty binaries", .op = BIN, .size = 0, .count = 1000},
    {.name = "9.8.2 1000 binaries of 16 bytes",
     .op = BIN,
     .size = 16,
     .count = 1000},
    {.name = "9.8.3 1000 binaries of 64 bytes",
     .op = BIN,
     .size = 64,
     .count = 1000},
    {.name = "9.8.4 1000 binaries of 256 bytes",
     .op = BIN,
     .size = 256,
     .count = 1000},
    {.name = "9.8.5 1000 binaries of 1 KiB",
     .op = BIN,
     .size = KIB(1),
     .count = 1000},
    {.name = "9.8.6 1000 binaries of 4 KiB",
     .op = BIN,
     .size = KIB(4),
     .count = 1000},
    {.name = "9.10.1 1000 texts of 64 bytes at once",
     .op = TXT,
     .size = 64,
     .count = 1000,
     .burst = 1},
    {.name = "9.10.2 100 binaries of 64 KiB at once",
     .op = BIN,
     .size = KIB(64),
     .count = 100,
     .burst = 1},
    {.name = "9.11.1 text, 1 MiB, taken in pieces",
     .op = TXT,
     .size = MIB(1),
     .count = 1,
     .parts = 1},
    {.name = "9.11.2 binary, 4 MiB in 64 KiB fragments, taken in pieces",
     .op = BIN,
     .size = MIB(4),
     .frag = KIB(64),
     .count = 1,
     .parts = 1},
    {.name = "9.11.3 100 texts of 1 KiB, taken in pieces",
     .op = TXT,
     .size = KIB(1),
     .count = 100,
     .parts = 1},
};

static const eddy__ws_pmd pmd_cnct = {0, 1, 15, 15};
static const eddy__ws_pmd pmd_snct = {1, 0, 15, 15};
static const eddy__ws_pmd pmd_nct = {1, 1, 15, 15};
static const eddy__ws_pmd pmd_w9 = {0, 0, 9, 9};
static const eddy__ws_pmd pmd_w12_10 = {0, 0, 12, 10};
static const eddy__ws_pmd pmd_nct_w9 = {1, 1, 9, 9};
static const eddy__ws_pmd pmd_w8 = {0, 0, 8, 8};
static const eddy__ws_pmd pmd_nct_w8_15 = {1, 1, 8, 15};

#define PD (&pmd_default)
static const pair_case deflate_cases[] = {
    {.name = "12.1.1 100 texts of 16 bytes",
     .op = TXT,
     .size = 16,
     .count = 100,
     .pmd = PD},
    {.name = "12.1.2 100 texts of 64 bytes",
     .op = TXT,
     .size = 64,
     .count = 100,
     .pmd = PD},
    {.name = "12.1.3 100 texts of 256 bytes",
     .op = TXT,
     .size = 256,
     .count = 100,
     .pmd = PD},
    {.name = "12.1.4 100 texts of 1 KiB",
     .op = TXT,
     .size = KIB(1),
     .count = 100,
     .pmd = PD},
    {.name = "12.1.5 100 texts of 4 KiB",
     .op = TXT,
     .size = KIB(4),
     .count = 100,
     .pmd = PD},
    {.name = "12.1.6 50 texts of 16 KiB",
     .op = TXT,
     .size = KIB(16),
     .count = 50,
     .pmd = PD},
    {.name = "12.1.7 20 texts of 64 KiB",
     .op = TXT,
     .size = KIB(64),
     .count = 20,
     .pmd = PD},
    {.name = "12.1.8 10 texts of 256 KiB",
     .op = TXT,
     .size = KIB(256),
     .count = 10,
     .pmd = PD},
    {.name = "12.1.9 2 texts of 1 MiB",
     .op = TXT,
     .size = MIB(1),
     .count = 2,
     .pmd = PD},
    {.name = "12.2.1 100 binaries of 16 bytes, random",
     .op = BIN,
     .size = 16,
     .count = 100,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.2 100 binaries of 64 bytes, random",
     .op = BIN,
     .size = 64,
     .count = 100,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.3 100 binaries of 256 bytes, random",
     .op = BIN,
     .size = 256,
     .count = 100,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.4 100 binaries of 1 KiB, random",
     .op = BIN,
     .size = KIB(1),
     .count = 100,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.5 100 binaries of 4 KiB, random",
     .op = BIN,
     .size = KIB(4),
     .count = 100,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.6 50 binaries of 16 KiB, random",
     .op = BIN,
     .size = KIB(16),
     .count = 50,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.7 20 binaries of 64 KiB, random",
     .op = BIN,
     .size = KIB(64),
     .count = 20,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.8 10 binaries of 256 KiB, random",
     .op = BIN,
     .size = KIB(256),
     .count = 10,
     .pmd = PD,
     .noise = 1},
    {.name = "12.2.9 2 binaries of 1 MiB, random",
     .op = BIN,
     .size = MIB(1),
     .count = 2,
     .pmd = PD,
     .noise = 1},
    {.name = "12.3.1 texts of 64 KiB taken in pieces",
     .op = TXT,
     .size = KIB(64),
     .count = 10,
     .pmd = PD,
     .parts = 1},
    {.name = "12.3.2 a text of 1 MiB taken in pieces",
     .op = TXT,
     .size = MIB(1),
     .count = 1,
     .pmd = PD,
     .parts = 1},
    {.name = "12.3.3 random binaries of 64 KiB taken in pieces",
     .op = BIN,
     .size = KIB(64),
     .count = 10,
     .pmd = PD,
     .parts = 1,
     .noise = 1},
    {.name = "12.4.1 a text of 64 KiB sent in fragments of 1 KiB",
     .op = TXT,
     .size = KIB(64),
     .frag = KIB(1),
     .count = 5,
     .pmd = PD},
    {.name = "12.4.2 a binary of 1 MiB sent in fragments of 64 KiB",
     .op = BIN,
     .size = MIB(1),
     .frag = KIB(64),
     .count = 2,
     .pmd = PD,
     .noise = 1},
    {.name = "12.4.3 100 texts of 256 bytes at once",
     .op = TXT,
     .size = 256,
     .count = 100,
     .burst = 1,
     .pmd = PD},
#define PARAMS(id, what, z_)                                                   \
    {.name = "13." id ".1 " what ", 20 texts of 64 bytes",                     \
     .op = TXT,                                                                \
     .size = 64,                                                               \
     .count = 20,                                                              \
     .pmd = z_},                                                               \
        {.name = "13." id ".2 " what ", 20 texts of 4 KiB",                    \
         .op = TXT,                                                            \
         .size = KIB(4),                                                       \
         .count = 20,                                                          \
         .pmd = z_},                                                           \
    {                                                                          \
        .name = "13." id ".3 " what ", 10 binaries of 64 KiB", .op = BIN,      \
        .size = KIB(64), .count = 10, .pmd = z_, .noise = 1                    \
    }
    PARAMS("1", "no parameters", PD),
    PARAMS("2", "client_no_context_takeover", &pmd_cnct),
    PARAMS("3", "server_no_context_takeover", &pmd_snct),
    PARAMS("4", "both no_context_takeover", &pmd_nct),
    PARAMS("5", "both windows 9 bits", &pmd_w9),
    PARAMS("6", "windows 12 and 10 bits", &pmd_w12_10),
    PARAMS("7", "no context takeover, windows 9", &pmd_nct_w9),
    PARAMS("8", "windows 8 bits (sent uncompressed)", &pmd_w8),
    PARAMS("9", "no context takeover, windows 8 and 15", &pmd_nct_w8_15),
};

/* --- messages, pings, closing --------------------------------------------- */

static void pair_echo(void **state)
{
    pair p;

    (void)state;
    pair_open(&p, NULL, NULL);
    p.srv.echo = 1;
    assert_int_equal(eddy_ws_state(p.cli.ws), EDDY_WS_STATE_OPEN);
    assert_int_equal(eddy_ws_error(p.cli.ws), 0);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, "hello", 5), 0);
    assert_int_equal(eddy_ws_send(p.cli.ws, BIN, "\0\1\2", 3), 0);
    wait_messages(p.loop, &p.cli, 2);
    assert_int_equal(p.srv.messages, 2);
    assert_int_equal(p.cli.last.op, BIN);
    assert_int_equal(p.cli.last.len, 3);
    assert_memory_equal(p.cli.last.data, "\0\1\2", 3);
    pair_close(&p);
}

/* The server closes: the client answers, the server closes the TCP
 * connection, both see the code and the reason where it was given. */
static void server_closes(void **state)
{
    pair p;

    (void)state;
    pair_open(&p, NULL, NULL);
    assert_int_equal(eddy_ws_close(p.srv.ws, 4001, "going"), 0);
    assert_int_equal(eddy_ws_state(p.srv.ws), EDDY_WS_STATE_CLOSING);
    /* Once closing, nothing more goes out, and closing again is nothing. */
    assert_int_equal(eddy_ws_send(p.srv.ws, TXT, "x", 1), -EPIPE);
    assert_int_equal(eddy_ws_ping(p.srv.ws, "", 0), -EPIPE);
    assert_int_equal(eddy_ws_close(p.srv.ws, 1000, NULL), 0);
    wait_closed(p.loop, &p.srv);
    wait_closed(p.loop, &p.cli);
    assert_int_equal(p.cli.code, 4001);
    assert_string_equal(p.cli.reason, "going");
    assert_int_equal(p.srv.code, 4001); /* the echo */
    assert_int_equal(p.srv.error, 0);
    assert_int_equal(p.cli.error, 0);
    pair_close(&p);
}

/* A Close with no status: the peer sees 1005 and answers likewise. */
static void close_without_code(void **state)
{
    pair p;

    (void)state;
    pair_open(&p, NULL, NULL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 0, NULL), 0);
    wait_closed(p.loop, &p.cli);
    wait_closed(p.loop, &p.srv);
    assert_int_equal(p.srv.code, EDDY_WS_NO_STATUS);
    assert_int_equal(p.cli.code, EDDY_WS_NO_STATUS);
    assert_int_equal(p.cli.reason_len, 0);
    pair_close(&p);
}

/* eddy's server closes; the peer answers: the server closes the TCP
 * connection at once. */
static void server_close_answered(void **state)
{
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_SERVER, NULL, NULL, &whole_cbs);
    assert_int_equal(eddy_ws_close(t.me.ws, 1001, "bye"), 0);
    raw_expect_close(&t, 1001);
    raw_send_close(&t, 1001, "");
    raw_expect_eof(&t);        /* the server's side ends first */
    assert_false(t.me.closed); /* and waits for ours, reading */
    raw_close_fd(&t);
    wait_closed(t.loop, &t.me);
    assert_int_equal(t.me.code, 1001);
    assert_int_equal(t.me.error, 0);
    raw_free(&t);
}

/* eddy's client closes; the server answers: the client waits for the
 * server to close the TCP connection (RFC 6455 7.1.1), and ends clean. */
static void client_waits_for_server(void **state)
{
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_CLIENT, NULL, NULL, &whole_cbs);
    assert_int_equal(eddy_ws_close(t.me.ws, 1000, NULL), 0);
    raw_expect_close(&t, 1000);
    raw_send_close(&t, 1000, "ok");
    raw_expect_quiet(&t);
    assert_int_equal(t.me.closed, 0);
    assert_int_equal(eddy_ws_state(t.me.ws), EDDY_WS_STATE_CLOSING);
    raw_close_fd(&t);
    wait_closed(t.loop, &t.me);
    assert_int_equal(t.me.code, 1000);
    assert_string_equal(t.me.reason, "ok");
    assert_int_equal(t.me.error, 0);
    raw_free(&t);
}

/* A server that answers the Close but never closes the TCP connection:
 * the client gives up after close_timeout_ms, with the code it got. */
static void client_close_timeout(void **state)
{
    eddy_ws_options o = {.close_timeout_ms = 30};
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_CLIENT, &o, NULL, &whole_cbs);
    raw_send_close(&t, 1000, "");
    raw_expect_close(&t, 1000);
    wait_closed(t.loop, &t.me);
    assert_int_equal(t.me.code, 1000);
    assert_int_equal(t.me.error, -ETIMEDOUT);
    raw_expect_eof(&t);
    raw_free(&t);
}

/* A peer that never answers the Close: dropped after close_timeout_ms,
 * 1006. */
static void server_close_timeout(void **state)
{
    eddy_ws_options o = {.close_timeout_ms = 30};
    uint64_t start;
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_SERVER, &o, NULL, &whole_cbs);
    start = tu_now_ms();
    assert_int_equal(eddy_ws_close(t.me.ws, 1000, NULL), 0);
    wait_closed(t.loop, &t.me);
    assert_true(tu_now_ms() - start >= 25);
    assert_int_equal(t.me.code, EDDY_WS_ABNORMAL);
    assert_int_equal(t.me.error, -ETIMEDOUT);
    raw_expect_close(&t, 1000);
    raw_expect_eof(&t);
    raw_free(&t);
}

/* The peer goes away without a Close: 1006 and EDDY_EOF; with our bytes
 * unread (a socket reset), the stream's error. */
static void peer_vanishes(void **state)
{
    raw t;

    (void)state;
    for (int role = 0; role < 2; role++) {
        raw_open(&t, role, NULL, NULL, &whole_cbs);
        raw_close_fd(&t);
        wait_closed(t.loop, &t.me);
        assert_int_equal(t.me.code, EDDY_WS_ABNORMAL);
        assert_int_equal(t.me.error, EDDY_EOF);
        raw_free(&t);
    }
    raw_open(&t, EDDY_WS_SERVER, NULL, NULL, &whole_cbs);
    raw_send(&t, TXT, 1, 0, "echo me", 7, 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 1), 0);
    assert_int_equal(t.me.messages, 1);
    raw_close_fd(&t); /* with the echo unread */
    wait_closed(t.loop, &t.me);
    assert_int_equal(t.me.code, EDDY_WS_ABNORMAL);
    assert_true(t.me.error == -ECONNRESET || t.me.error == EDDY_EOF);
    raw_free(&t);
}

static void abort_now(void **state)
{
    pair p;

    (void)state;
    pair_open(&p, NULL, NULL);
    eddy_ws_abort(p.srv.ws);
    assert_int_equal(eddy_ws_state(p.srv.ws), EDDY_WS_STATE_CLOSED);
    assert_int_equal(p.srv.closed, 0); /* never inside the call */
    assert_int_equal(eddy_ws_send(p.srv.ws, TXT, "x", 1), -EPIPE);
    eddy_ws_abort(p.srv.ws); /* again: nothing */
    wait_closed(p.loop, &p.srv);
    assert_int_equal(p.srv.code, EDDY_WS_ABNORMAL);
    assert_int_equal(p.srv.error, -ECONNABORTED);
    wait_closed(p.loop, &p.cli);
    assert_int_equal(p.cli.code, EDDY_WS_ABNORMAL);
    assert_int_equal(p.cli.error, EDDY_EOF);
    pair_close(&p);
}

static void abort_in_message(side *sd, int op, const char *data, size_t len)
{
    (void)op, (void)data, (void)len;
    eddy_ws_abort(sd->ws);
}

static void close_in_message(side *sd, int op, const char *data, size_t len)
{
    (void)op, (void)data, (void)len;
    assert_int_equal(eddy_ws_close(sd->ws, 1000, "enough"), 0);
}

/* Frames after the one whose callback aborts or closes, in the same
 * read: after an abort nothing more is delivered; after a close,
 * messages are dropped and the peer's Close still ends the handshake. */
static void stop_inside_callback(void **state)
{
    static const char two[] = "first";
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_SERVER, NULL, NULL, &whole_cbs);
    t.me.echo = 0;
    t.me.on_msg = abort_in_message;
    {
        size_t n1, n2;
        uint8_t *f1 =
            raw_frame_bytes(&t, TXT, 1, 0, (const uint8_t *)two, 5, &n1);
        uint8_t *f2 =
            raw_frame_bytes(&t, TXT, 1, 0, (const uint8_t *)two, 5, &n2);
        uint8_t both[64];

        memcpy(both, f1, n1);
        memcpy(both + n1, f2, n2);
        raw_write_chopped(&t, both, n1 + n2, 0);
        free(f1);
        free(f2);
    }
    wait_closed(t.loop, &t.me);
    assert_int_equal(t.me.messages, 1);
    assert_int_equal(t.me.error, -ECONNABORTED);
    raw_expect_eof(&t);
    raw_free(&t);

    raw_open(&t, EDDY_WS_SERVER, NULL, NULL, &whole_cbs);
    t.me.echo = 0;
    t.me.on_msg = close_in_message;
    {
        uint8_t all[128], close[2] = {0x03, 0xe8};
        size_t n = 0, k;
        uint8_t *f;

        f = raw_frame_bytes(&t, TXT, 1, 0, (const uint8_t *)"one", 3, &k);
        memcpy(all + n, f, k), n += k, free(f);
        f = raw_frame_bytes(&t, TXT, 1, 0, (const uint8_t *)"two", 3, &k);
        memcpy(all + n, f, k), n += k, free(f);
        f = raw_frame_bytes(&t, EDDY_WS_CLOSE, 1, 0, close, 2, &k);
        memcpy(all + n, f, k), n += k, free(f);
        raw_write_chopped(&t, all, n, 0);
    }
    raw_expect_close(&t, 1000);
    raw_expect_eof(&t);
    raw_close_fd(&t);
    wait_closed(t.loop, &t.me);
    assert_int_equal(t.me.messages, 1);
    assert_string_equal((const char *)t.me.last.data, "one");
    assert_int_equal(t.me.code, 1000);
    assert_int_equal(t.me.error, 0);
    raw_free(&t);
}

/* Pings and pongs by hand: eddy_ws_ping()'s pong comes to on_pong with
 * its payload; an unsolicited pong too. */
static void ping_pong(void **state)
{
    char p126[126];
    pair p;

    (void)state;
    memset(p126, 'p', sizeof p126);
    pair_open(&p, NULL, NULL);
    assert_int_equal(eddy_ws_ping(p.cli.ws, "are you there", 13), 0);
    assert_true(
        tu_run_until_count(p.loop, &p.cli.pongs, 1, WAIT_ITER, WAIT_MS));
    assert_int_equal(p.cli.pong_len, 13);
    assert_memory_equal(p.cli.pong, "are you there", 13);
    assert_int_equal(eddy_ws_pong(p.srv.ws, "beat", 4), 0);
    assert_true(
        tu_run_until_count(p.loop, &p.cli.pongs, 2, WAIT_ITER, WAIT_MS));
    assert_memory_equal(p.cli.pong, "beat", 4);
    assert_int_equal(p.srv.pongs, 0); /* a pong is not answered */
    assert_int_equal(eddy_ws_ping(p.cli.ws, p126, 125), 0);
    assert_int_equal(eddy_ws_ping(p.cli.ws, p126, 126), -EINVAL);
    assert_int_equal(eddy_ws_pong(p.cli.ws, p126, 126), -EINVAL);
    assert_int_equal(eddy_ws_ping(p.cli.ws, NULL, 1), -EINVAL);
    assert_int_equal(eddy_ws_pong(p.cli.ws, NULL, 1), -EINVAL);
    assert_true(
        tu_run_until_count(p.loop, &p.cli.pongs, 3, WAIT_ITER, WAIT_MS));
    pair_close(&p);
}

/* The ping interval: pings go out and the pongs keep the connection. */
static void ping_interval(void **state)
{
    eddy_ws_options so = {.ping_interval_ms = 5, .ping_timeout_ms = 200};
    pair p;

    (void)state;
    pair_open_with(&p, &so, NULL, NULL, &whole_cbs, &whole_cbs);
    assert_true(
        tu_run_until_count(p.loop, &p.srv.pongs, 4, WAIT_ITER, WAIT_MS));
    assert_int_equal(p.srv.closed + p.cli.closed, 0);
    assert_int_equal(p.cli.pongs, 0);
    pair_close(&p);
}

/* A peer that never answers pings: dropped once ping_timeout_ms passed
 * after a ping, with 1006 and -ETIMEDOUT. */
static void ping_timeout(void **state)
{
    eddy_ws_options o = {.ping_interval_ms = 10, .ping_timeout_ms = 20};
    uint64_t start;
    raw t;

    (void)state;
    for (int role = 0; role < 2; role++) {
        raw_open(&t, role, &o, NULL, &whole_cbs);
        start = tu_now_ms();
        wait_closed(t.loop, &t.me);
        assert_true(tu_now_ms() - start >= 25);
        assert_int_equal(t.me.code, EDDY_WS_ABNORMAL);
        assert_int_equal(t.me.error, -ETIMEDOUT);
        raw_expect(&t, PING, "", 0); /* the one ping, unanswered */
        raw_expect_eof(&t);
        raw_free(&t);
    }
}

/* --- sending ----------------------------------------------------------- */

static void send_errors(void **state)
{
    pair p;

    (void)state;
    pair_open(&p, NULL, NULL);
    assert_int_equal(eddy_ws_send(p.cli.ws, PING, "x", 1), -EINVAL);
    assert_int_equal(eddy_ws_send(p.cli.ws, CONT, "x", 1), -EINVAL);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, NULL, 1), -EINVAL);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, "\xc0\xaf", 2), -EINVAL);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, "\xe2\x82", 2), -EINVAL);
    assert_int_equal(eddy_ws_send_ref(p.cli.ws, TXT, "\xff", 1, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, NULL, 0), 0);
    assert_int_equal(eddy_ws_send(p.cli.ws, BIN, "\xff", 1), 0);
    /* The connection went on: both messages arrive. */
    wait_messages(p.loop, &p.srv, 2);
    pair_close(&p);
}

static int done_calls, done_status;

static void on_done(eddy_stream *s, int status, void *arg)
{
    (void)s;
    done_calls++;
    done_status = status;
    memset(arg, 'X', 4); /* the buffer is the caller's again */
}

/* eddy_ws_send_ref: the buffer stays the caller's until done runs, for
 * a big frame by reference (server), a small one, and a client's. */
static void send_by_reference(void **state)
{
    size_t sizes[] = {100000, 100};
    raw t;

    (void)state;
    for (int role = 0; role < 2; role++) {
        for (size_t k = 0; k < COUNT(sizes); k++) {
            uint8_t *buf = text_of(sizes[k], 1), *copy = text_of(sizes[k], 1);

            raw_open(&t, role, NULL, NULL, &whole_cbs);
            done_calls = 0;
            assert_int_equal(
                eddy_ws_send_ref(t.me.ws, TXT, buf, sizes[k], on_done, buf), 0);
            assert_int_equal(done_calls, 0);
            raw_expect(&t, TXT, copy, sizes[k]);
            assert_int_equal(done_calls, 1);
            assert_int_equal(done_status, 0);
            /* After an error done never runs. */
            assert_int_equal(
                eddy_ws_send_ref(t.me.ws, PING, buf, 1, on_done, buf), -EINVAL);
            raw_end_clean(&t);
            assert_int_equal(done_calls, 1);
            raw_free(&t);
            free(buf);
            free(copy);
        }
    }
}

/* A message sent by reference whose connection drops before it is out:
 * done runs with an error, before on_close. */
static void send_ref_dropped(void **state)
{
    uint8_t *buf = text_of(1 << 20, 2);
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_SERVER, NULL, NULL, &whole_cbs);
    done_calls = 0;
    assert_int_equal(eddy_ws_send_ref(t.me.ws, BIN, buf, 1 << 20, on_done, buf),
                     0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 0), 0);
    eddy_ws_abort(t.me.ws);
    assert_int_equal(eddy_ws_send_ref(t.me.ws, BIN, buf, 1, on_done, buf),
                     -EPIPE);
    wait_closed(t.loop, &t.me);
    assert_int_equal(done_calls, 1); /* the first, not the refused one */
    assert_true(done_status < 0);
    raw_free(&t);
    free(buf);
}

static void send_fragments(void **state)
{
    pair p;

    (void)state;
    pair_open(&p, NULL, NULL);
    /* The first piece: TEXT or BINARY, nothing else. */
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, "a", 1, 0), -EINVAL);
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, PING, "a", 1, 0), -EINVAL);
    /* "κό" cut inside its second character. */
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, TXT, "\xce\xba\xcf", 3, 0),
                     0);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, "x", 1), -EBUSY);
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, TXT, "x", 1, 0), -EINVAL);
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, NULL, 1, 0),
                     -EINVAL);
    /* A byte that cannot continue it: refused, the message goes on. */
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, "\x41", 1, 0),
                     -EINVAL);
    assert_int_equal(eddy_ws_ping(p.cli.ws, "between", 7), 0);
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, "\x8c\xe2", 2, 0),
                     0);
    /* The last piece may not end inside a character. */
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, "", 0, 1), -EINVAL);
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, "\x82\xac!", 3, 1),
                     0);
    wait_messages(p.loop, &p.srv, 1);
    assert_int_equal(p.srv.last.op, TXT);
    assert_string_equal((const char *)p.srv.last.data,
                        "\xce\xba\xcf\x8c\xe2\x82\xac!");
    assert_true(
        tu_run_until_count(p.loop, &p.cli.pongs, 1, WAIT_ITER, WAIT_MS));
    /* Binary in pieces, an empty last one, and whole messages after. */
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, BIN, "\xff", 1, 0), 0);
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, NULL, 0, 1), 0);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, "after", 5), 0);
    wait_messages(p.loop, &p.srv, 3);
    assert_int_equal(p.srv.last.op, TXT);
    /* A Close between the pieces: nothing more goes out. */
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, BIN, "a", 1, 0), 0);
    assert_int_equal(eddy_ws_close(p.cli.ws, 1000, NULL), 0);
    assert_int_equal(eddy_ws_send_fragment(p.cli.ws, CONT, "b", 1, 1), -EPIPE);
    wait_closed(p.loop, &p.cli);
    wait_closed(p.loop, &p.srv);
    assert_int_equal(p.srv.messages, 3);
    pair_close(&p);
}

/* --- backpressure -------------------------------------------------------- */

#define BP_MSG 16384

/* Shrinks the sockets' buffers, so that what eddy queues is mostly in
 * eddy while the test does not read. */
static void small_buffers(raw *t)
{
    int fd = eddy_stream_fd(eddy_ws_stream(t->me.ws)), size = 4096;

    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size),
                     0);
    assert_int_equal(
        setsockopt(t->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
}

/* Sends numbered messages until the connection asks to wait. */
static void pump(eddy_ws *ws, int *sent, int total, size_t *peak)
{
    uint8_t msg[BP_MSG];

    while (*sent < total && !eddy_ws_needs_drain(ws)) {
        memset(msg, 'a' + *sent % 26, sizeof msg);
        assert_int_equal(eddy_ws_send(ws, BIN, msg, sizeof msg), 0);
        ++*sent;
        if (eddy_ws_buffered_amount(ws) > *peak)
            *peak = eddy_ws_buffered_amount(ws);
    }
}

/* A sender that honours on_drain, to a reader that reads only now and
 * then: what eddy holds stays under the high watermark plus a message,
 * and every message arrives in order. */
static void drain_honoured(void **state)
{
    eddy_ws_options o = {.write_high_water = 65536, .write_low_water = 8192};
    int total = tu_valgrind() ? 100 : 600, sent = 0, nread = 0, drains = 0;
    size_t peak = 0;
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_SERVER, &o, NULL, &whole_cbs);
    small_buffers(&t);
    while (nread < total) {
        pump(t.me.ws, &sent, total, &peak);
        assert_true(peak <= 65536 + BP_MSG + EDDY_WS_MAX_HEADER);
        /* The reader stops a while: eddy keeps what it has, no drain. */
        for (int i = 0; i < 3; i++)
            assert_int_equal(eddy_loop_run_once(t.loop, 0), 0);
        if (sent < total) {
            assert_true(eddy_ws_needs_drain(t.me.ws));
            assert_int_equal(t.me.drains, drains);
        }
        /* Then reads what is there: eddy's queue empties, and the drain
         * came on the way. */
        while (nread < sent) {
            got_t g;

            raw_next(&t, &g);
            assert_int_equal(g.kind, G_MESSAGE);
            assert_int_equal(g.len, BP_MSG);
            assert_int_equal(g.data[0], 'a' + nread % 26);
            nread++;
        }
        if (sent < total)
            assert_int_equal(t.me.drains, drains + 1);
        drains = t.me.drains;
    }
    assert_true(t.me.drains > 0);
    raw_end_clean(&t);
    raw_free(&t);
}

/* A sender that ignores it: max_write_buffer_size drops the connection
 * (-ENOSPC), and nothing more can be sent. */
static void drain_ignored(void **state)
{
    eddy_ws_options o = {.max_write_buffer_size = 512 << 10};
    uint8_t msg[BP_MSG] = {0};
    int ret = 0, sent = 0;
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_SERVER, &o, NULL, &whole_cbs);
    small_buffers(&t);
    while (sent < 10000) {
        ret = eddy_ws_send(t.me.ws, BIN, msg, sizeof msg);
        assert_true(eddy_ws_buffered_amount(t.me.ws) <= (512 << 10));
        if (ret != 0)
            break;
        sent++;
        assert_int_equal(eddy_loop_run_once(t.loop, 0), 0);
    }
    assert_int_equal(ret, -ENOSPC);
    assert_true(sent >= 30);
    assert_int_equal(eddy_ws_send(t.me.ws, BIN, msg, 1), -EPIPE);
    wait_closed(t.loop, &t.me);
    assert_int_equal(t.me.code, EDDY_WS_ABNORMAL);
    assert_int_equal(t.me.error, -ENOSPC);
    raw_free(&t);
}

/* The stream's own max_write_buffer_size works the same way. */
static void stream_write_limit(void **state)
{
    eddy_stream_options so = {.max_write_buffer_size = 256 << 10};
    eddy_loop *loop = tu_loop_new();
    uint8_t msg[BP_MSG] = {0};
    eddy_stream *s = NULL;
    side sd = {0};
    int sv[2], ret = 0;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], &so, &s), 0);
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 0, NULL, NULL,
                                       NULL, &whole_cbs, &sd, &sd.ws),
                     0);
    for (int i = 0; i < 10000 && ret == 0; i++)
        ret = eddy_ws_send(sd.ws, BIN, msg, sizeof msg);
    assert_int_equal(ret, -ENOSPC);
    wait_closed(loop, &sd);
    assert_int_equal(sd.code, EDDY_WS_ABNORMAL);
    assert_int_equal(sd.error, -ENOSPC);
    close(sv[1]);
    side_free(&sd);
    loop_done(loop);
}

/* --- making one, and its state ------------------------------------------ */

static void on_read_nothing(eddy_stream *s, int status, const char *data,
                            size_t len, void *arg)
{
    (void)s, (void)status, (void)data, (void)len, (void)arg;
}

/* Every error of the constructor leaves the stream the caller's and
 * unchanged: the test makes a connection over it afterwards. */
static void constructor_errors(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_ws_options bad_water = {.write_high_water = 100,
                                 .write_low_water = 100};
    eddy_ws_options bad_level = {.deflate = {.mem_level = 10}};
    eddy_stream *s = NULL, *closed = NULL;
    eddy_ws *ws = NULL;
    side sd = {0};
    int sv[2], sv2[2];

    (void)state;
    tu_socketpair(sv);
    tu_socketpair(sv2);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &s), 0);
    assert_int_equal(
        eddy__ws_conn_new(s, 2, NULL, 0, NULL, NULL, NULL, NULL, NULL, &ws),
        -EINVAL);
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 3, NULL, NULL,
                                       NULL, NULL, NULL, &ws),
                     -EINVAL);
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 0, NULL, NULL,
                                       &bad_water, NULL, NULL, &ws),
                     -EINVAL);
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 0, &pmd_default,
                                       NULL, &bad_level, NULL, NULL, &ws),
                     -EINVAL);
#ifndef EDDY_ZLIB
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 0, &pmd_default,
                                       NULL, NULL, NULL, NULL, &ws),
                     -ENOTSUP);
#endif
    assert_int_equal(eddy_stream_read_bytes(s, 1, 1, on_read_nothing, NULL), 0);
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 0, NULL, NULL,
                                       NULL, NULL, NULL, &ws),
                     -EBUSY);
    assert_null(ws);
    /* A closed stream: -EPIPE (inside its close callback, say). */
    assert_int_equal(eddy_stream_new(loop, sv2[0], NULL, &closed), 0);
    eddy_stream_close(closed);
    assert_int_equal(eddy__ws_conn_new(closed, EDDY_WS_SERVER, NULL, 0, NULL,
                                       NULL, NULL, NULL, NULL, &ws),
                     -EPIPE);
    /* The stream still works: the pending read completes, then a
     * connection is made over it and works. */
    tu_write_byte(sv[1]);
    for (int i = 0; i < 5 && eddy_stream_reading(s); i++)
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
    assert_false(eddy_stream_reading(s));
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 0, NULL, NULL,
                                       NULL, &whole_cbs, &sd, &sd.ws),
                     0);
    eddy_ws_abort(sd.ws);
    wait_closed(loop, &sd);
    close(sv[1]);
    close(sv2[1]);
    side_free(&sd);
    loop_done(loop);
}

/* Bytes read past the handshake go first, from the loop, never inside
 * the constructor; the subprotocol is copied. */
static void leftover_and_getters(void **state)
{
    eddy_loop *loop = tu_loop_new();
    char proto[] = "chat.v2";
    uint8_t bytes[64];
    size_t n = 0, k;
    eddy_stream *s = NULL;
    side sd = {0};
    raw t = {0};
    uint8_t *f;
    int sv[2];

    (void)state;
    t.role = EDDY_WS_SERVER; /* frames as a client sends them */
    f = raw_frame_bytes(&t, TXT, 1, 0, (const uint8_t *)"early", 5, &k);
    memcpy(bytes, f, k), n += k, free(f);
    f = raw_frame_bytes(&t, PING, 1, 0, (const uint8_t *)"p", 1, &k);
    memcpy(bytes + n, f, k), n += k, free(f);
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &s), 0);
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, (const char *)bytes,
                                       n, NULL, proto, NULL, &whole_cbs, &sd,
                                       &sd.ws),
                     0);
    proto[0] = 'X';
    assert_int_equal(sd.messages, 0);
    assert_string_equal(eddy_ws_subprotocol(sd.ws), "chat.v2");
    assert_int_equal(eddy_ws_compressed(sd.ws), 0);
    assert_ptr_equal(eddy_ws_stream(sd.ws), s);
    assert_ptr_equal(eddy_ws_loop(sd.ws), loop);
    assert_null(eddy_ws_data(sd.ws));
    eddy_ws_set_data(sd.ws, &sd);
    assert_ptr_equal(eddy_ws_data(sd.ws), &sd);
    assert_int_equal(eddy_ws_buffered_amount(sd.ws), 0);
    assert_int_equal(eddy_ws_needs_drain(sd.ws), 0);
    wait_messages(loop, &sd, 1);
    assert_string_equal((const char *)sd.last.data, "early");
    /* The ping's pong went out. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    {
        uint8_t got[8];

        assert_int_equal(read(sv[1], got, sizeof got), 3);
        assert_memory_equal(got, "\x8a\x01p", 3);
    }
    eddy_ws_abort(sd.ws);
    wait_closed(loop, &sd);
    close(sv[1]);
    side_free(&sd);
    loop_done(loop);
}

static void close_errors(void **state)
{
    char long_reason[125];
    pair p;

    (void)state;
    memset(long_reason, 'r', 124);
    long_reason[124] = '\0';
    pair_open(&p, NULL, NULL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 1005, NULL), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 1006, NULL), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 999, NULL), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 5000, NULL), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, -1, NULL), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 0x10000 + 1000, NULL), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 0, "why"), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 1000, long_reason), -EINVAL);
    assert_int_equal(eddy_ws_close(p.cli.ws, 1000, "\xed\xa0\x80"), -EINVAL);
    /* Nothing was sent: the connection goes on, and closes for real. */
    assert_int_equal(eddy_ws_state(p.cli.ws), EDDY_WS_STATE_OPEN);
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, "still", 5), 0);
    wait_messages(p.loop, &p.srv, 1);
    long_reason[123] = '\0';
    assert_int_equal(eddy_ws_close(p.cli.ws, 3000, long_reason), 0);
    wait_closed(p.loop, &p.srv);
    assert_int_equal(p.srv.code, 3000);
    assert_int_equal(p.srv.reason_len, 123);
    pair_close(&p);
}

/* --- streamed messages ------------------------------------------------- */

/* Messages in pieces: a big one comes in several, the last with fin;
 * the limit still holds (1009). */
static void pieces(void **state)
{
    eddy_ws_options o = {.max_message_size = 100000};
    uint8_t *big = text_of(99000, 4);
    raw t;

    (void)state;
    raw_open(&t, EDDY_WS_SERVER, &o, NULL, &part_cbs);
    raw_send(&t, TXT, 1, 0, big, 99000, 0);
    raw_expect(&t, TXT, big, 99000);
    assert_true(t.me.parts > 1);
    assert_int_equal(t.me.messages, 1);
    raw_send(&t, BIN, 1, 0, "", 0, 0);
    raw_expect(&t, BIN, "", 0);
    raw_send(&t, BIN, 1, 0, big, 1000, 0);
    raw_expect(&t, BIN, big, 1000);
    raw_send(&t, BIN, 0, 0, big, 60000, 0);
    raw_send(&t, CONT, 1, 0, big, 40001, 0);
    raw_end_failed(&t, 1009);
    raw_free(&t);
    free(big);
}

/* A close from inside a piece's callback: no piece comes after it, also
 * of a compressed message that inflates to many pieces. */
static void close_inside_pieces(void **state)
{
    uint8_t *big = text_of(1 << 20, 8);
    pair p;

    (void)state;
    for (int z = 0; z < 2; z++) {
        if (z && !eddy__ws_deflate_available())
            break;
        pair_open_with(&p, NULL, NULL, z ? &pmd_default : NULL, &part_cbs,
                       &whole_cbs);
        p.srv.close_on_part = 1;
        assert_int_equal(eddy_ws_send(p.cli.ws, TXT, big, 1 << 20), 0);
        wait_closed(p.loop, &p.srv);
        wait_closed(p.loop, &p.cli);
        assert_int_equal(p.srv.parts, 1);
        assert_int_equal(p.srv.messages, 0);
        assert_int_equal(p.cli.code, 1000);
        pair_close(&p);
    }
    free(big);
}

/* --- no socket --------------------------------------------------------- */

/* A client over a pair of pipes: it reads in[0] and writes out[1]; the
 * test writes in[1] and reads out[0]. */
static void open_pipes(eddy_loop *loop, int in[2], int out[2], side *sd)
{
    eddy_stream *s = NULL;

    tu_pipe(in);
    tu_pipe(out);
    assert_int_equal(eddy_stream_new_pair(loop, in[0], out[1], NULL, &s), 0);
    assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_CLIENT, NULL, 0, NULL, NULL,
                                       NULL, &whole_cbs, sd, &sd->ws),
                     0);
}

/* Over a pair of pipes (no shutdown), a failure's Close goes out and the
 * connection closes at once. */
static void over_pipes(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int in[2], out[2];
    uint8_t got[16];
    side sd = {0};

    (void)state;
    open_pipes(loop, in, out, &sd);
    assert_int_equal(write(in[1], "\x83\x00", 2), 2); /* opcode 3 */
    wait_closed(loop, &sd);
    assert_int_equal(sd.code, 1002);
    assert_int_equal(read(out[0], got, sizeof got), 8); /* masked Close */
    assert_memory_equal(got, "\x88\x82", 2);
    close(in[1]);
    close(out[0]);
    side_free(&sd);
    loop_done(loop);
}

/* --- over TCP ----------------------------------------------------------- */

#include <netinet/in.h>

/* A connected TCP pair over loopback: fds[0] accepted, fds[1] the
 * client; both non-blocking. */
static void tcp_pair(int fds[2])
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(l >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    fds[1] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fds[1] >= 0);
    assert_int_equal(connect(fds[1], (struct sockaddr *)&sa, sizeof sa), 0);
    fds[0] = accept(l, NULL, NULL);
    assert_true(fds[0] >= 0);
    close(l);
    tu_nonblock(fds[0]);
    tu_nonblock(fds[1]);
}

/*
 * A peer that sends a bad frame and then a lot more without reading:
 * closing a TCP socket with unread bytes resets the connection, and the
 * reset can destroy what the peer has not read yet, the Close among it.
 * eddy shuts its side and reads on until the peer's EOF instead, so the
 * peer gets the Close whenever it reads.
 */
static void failure_over_tcp(void **state)
{
    static const uint8_t bad[] = {0x83, 0x80, 1, 2, 3, 4}; /* opcode 3 */
    eddy_loop *loop = tu_loop_new();
    uint8_t junk[4096], got[64];
    size_t sent = 0;
    side sd = {0};
    int fds[2];
    ssize_t r;

    (void)state;
    memset(junk, 0x82, sizeof junk);
    tcp_pair(fds);
    open_end(loop, fds[0], EDDY_WS_SERVER, NULL, NULL, &whole_cbs, &sd);
    assert_int_equal(write(fds[1], bad, sizeof bad), (ssize_t)sizeof bad);
    /* More bytes behind it, while eddy fails the connection. */
    for (int i = 0; i < 64; i++) {
        r = send(fds[1], junk, sizeof junk, MSG_NOSIGNAL);
        if (r > 0)
            sent += (size_t)r;
        assert_true(r > 0 || errno == EAGAIN);
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    }
    assert_true(sent > 0);
    /* Now the peer reads: the Close, then EOF. */
    {
        size_t n = 0;
        uint64_t end = tu_now_ms() + WAIT_MS;

        while (n < 4 && tu_now_ms() < end) {
            r = read(fds[1], got + n, sizeof got - n);
            assert_true(r > 0 || (r < 0 && errno == EAGAIN));
            if (r > 0)
                n += (size_t)r;
            else
                assert_int_equal(eddy_loop_run_once(loop, 1), 0);
        }
        assert_int_equal(n, 4);
        assert_memory_equal(got, "\x88\x02\x03\xea", 4); /* Close 1002 */
    }
    close(fds[1]);
    wait_closed(loop, &sd);
    assert_int_equal(sd.code, 1002);
    side_free(&sd);
    loop_done(loop);
}

static int lowat_of(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;

    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len), 0);
    return v;
}

typedef struct lowat_wait {
    int fd, want;
} lowat_wait;

static int lowat_is(void *arg)
{
    const lowat_wait *w = arg;

    return lowat_of(w->fd) == w->want;
}

/* Writes p[0, n) to fd, a socket or a pipe (whose reader the test keeps
 * open), running the loop while it is full. */
static void write_all(eddy_loop *loop, int fd, const uint8_t *p, size_t n)
{
    uint64_t end = tu_now_ms() + WAIT_MS;

    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, p, n);
        if (w < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            assert_true(tu_now_ms() < end);
            assert_int_equal(eddy_loop_run_once(loop, 1), 0);
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
}

/*
 * Inside a big frame over TCP, eddy asks the kernel (SO_RCVLOWAT) not to
 * wake it before 256 KiB, or the rest of the frame, are in; and it puts
 * the mark back to 1 once the frame is done, or the small frame behind it
 * would wait for bytes that never come.  (Linux only.)
 */
static void lowat_over_tcp(void **state)
{
#ifdef __linux__
    enum { BIG = 600 << 10, FIRST = 100 << 10 };
    eddy_loop *loop = tu_loop_new();
    uint8_t *data = noise_of(BIG, 7), *f = malloc(BIG + EDDY_WS_MAX_HEADER);
    uint8_t mask[4], small[16];
    eddy__ws_masks masks;
    size_t h, hs;
    side sd = {0};
    int fds[2];

    (void)state;
    assert_non_null(f);
    memset(&masks, 0, sizeof masks);
    tcp_pair(fds);
    open_end(loop, fds[0], EDDY_WS_SERVER, NULL, NULL, &whole_cbs, &sd);
    assert_int_equal(lowat_of(fds[0]), 1);
    assert_int_equal(eddy__ws_mask_next(&masks, mask), 0);
    h = eddy__ws_write_header(f, EDDY_WS_BINARY, 1, 0, BIG, mask);
    eddy__ws_mask_copy(f + h, data, BIG, mask, 0);
    /* The head of the frame: eddy reads it and waits for 256 KiB more. */
    write_all(loop, fds[1], f, h + FIRST);
    {
        lowat_wait w = {fds[0], 256 << 10};

        assert_true(tu_run_until(loop, lowat_is, &w, WAIT_ITER, WAIT_MS));
    }
    assert_int_equal(sd.messages, 0);
    /* The rest, and a small frame right behind it. */
    write_all(loop, fds[1], f + h + FIRST, BIG - FIRST);
    assert_int_equal(eddy__ws_mask_next(&masks, mask), 0);
    hs = eddy__ws_write_header(small, EDDY_WS_TEXT, 1, 0, 5, mask);
    eddy__ws_mask_copy(small + hs, (const uint8_t *)"after", 5, mask, 0);
    write_all(loop, fds[1], small, hs + 5);
    wait_messages(loop, &sd, 2);
    assert_int_equal(sd.bytes, BIG + 5);
    assert_int_equal(sd.last.op, EDDY_WS_TEXT);
    assert_memory_equal(sd.last.data, "after", 5);
    assert_int_equal(lowat_of(fds[0]), 1);
    close(fds[1]);
    wait_closed(loop, &sd);
    side_free(&sd);
    free(f);
    free(data);
    loop_done(loop);
#else
    (void)state;
    skip();
#endif
}

/* Over pipes SO_RCVLOWAT is refused (ENOTSOCK): a big frame still comes
 * in whole, and the small one right behind it too. */
static void lowat_over_pipes(void **state)
{
    enum { BIG = 300 << 10 };
    eddy_loop *loop = tu_loop_new();
    uint8_t *data = noise_of(BIG, 9), *f = malloc(BIG + EDDY_WS_MAX_HEADER);
    side sd = {0};
    int in[2], out[2];
    size_t h;

    (void)state;
    assert_non_null(f);
    open_pipes(loop, in, out, &sd);
    h = eddy__ws_write_header(f, EDDY_WS_BINARY, 1, 0, BIG, NULL);
    memcpy(f + h, data, BIG);
    write_all(loop, in[1], f, h + BIG);
    write_all(loop, in[1], (const uint8_t *)"\x81\x05"
                                            "after",
              7);
    wait_messages(loop, &sd, 2);
    assert_int_equal(sd.bytes, BIG + 5);
    assert_int_equal(sd.last.op, EDDY_WS_TEXT);
    assert_memory_equal(sd.last.data, "after", 5);
    close(in[1]);
    wait_closed(loop, &sd);
    close(out[0]);
    side_free(&sd);
    free(f);
    free(data);
    loop_done(loop);
}

/* --- over TLS ----------------------------------------------------------- */

#include "eddy/tls.h"

typedef struct tls_end {
    int shook, hs_status, reads, closed, close_err;
    char got[64];
    size_t got_len;
} tls_end;

static void tls_shook(eddy_stream *s, int status, void *arg)
{
    tls_end *e = arg;

    (void)s;
    e->shook++;
    e->hs_status = status;
}

static int tls_both_shook(void *arg)
{
    tls_end *e = arg;

    return e[0].shook > 0 && e[1].shook > 0;
}

static void tls_read(eddy_stream *s, int status, const char *data, size_t len,
                     void *arg)
{
    tls_end *e = arg;

    (void)s;
    e->reads++;
    if (len > 0 && e->got_len + len <= sizeof e->got) {
        memcpy(e->got + e->got_len, data, len);
        e->got_len += len;
    }
    e->close_err = status;
}

static void tls_closed(eddy_stream *s, int err, void *arg)
{
    tls_end *e = arg;

    (void)s;
    e->closed++;
    e->close_err = err;
}

static int tls_end_closed(void *arg)
{
    return ((tls_end *)arg)->closed > 0;
}

/* A TLS pair over a socketpair, handshake done, with certificates that
 * tests/certs.sh made in dir. */
static void tls_streams(eddy_loop *loop, const char *dir, eddy_tls_ctx **ctx,
                        eddy_stream **s, tls_end *e)
{
    char crt[160], key[160], ca[160];
    int sv[2];

    snprintf(crt, sizeof crt, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_SERVER, &ctx[0]), 0);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx[0], crt, key), 0);
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx[1]), 0);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx[1], ca, NULL), 0);
    tu_socketpair(sv);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(eddy_stream_new(loop, sv[i], NULL, &s[i]), 0);
        assert_int_equal(eddy_stream_start_tls(s[i], ctx[i],
                                               i ? "localhost" : NULL, 0,
                                               tls_shook, &e[i]),
                         0);
    }
    assert_true(tu_run_until(loop, tls_both_shook, e, WAIT_ITER, WAIT_MS));
    assert_int_equal(e[0].hs_status, 0);
    assert_int_equal(e[1].hs_status, 0);
}

/*
 * wss: connections over TLS streams.  Messages and the closing handshake
 * go through TLS; and a failure's Close reaches a TLS peer followed by a
 * clean end (close_notify), not by a truncation: a raw half-close of the
 * socket would cut TLS short.
 */
static void over_tls(void **state)
{
    char dir[64] = "/tmp/eddy-ws-tls-XXXXXX", cmd[160];
    eddy_tls_ctx *ctx[2];
    eddy_stream *s[2];
    tls_end e[2];
    eddy_loop *loop;
    side sd = {0};
    pair p;

    (void)state;
    if (eddy_tls_library() == NULL) {
        skip(); /* built without TLS */
        return;
    }
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "sh tests/certs.sh %s >/dev/null 2>&1", dir);
    assert_int_equal(system(cmd), 0);

    /* Both ends eddy: an echo, and the client's close. */
    memset(&p, 0, sizeof p);
    memset(e, 0, sizeof e);
    p.loop = loop = tu_loop_new();
    tls_streams(loop, dir, ctx, s, e);
    assert_int_equal(eddy__ws_conn_new(s[0], EDDY_WS_SERVER, NULL, 0, NULL,
                                       NULL, NULL, &whole_cbs, &p.srv,
                                       &p.srv.ws),
                     0);
    assert_int_equal(eddy__ws_conn_new(s[1], EDDY_WS_CLIENT, NULL, 0, NULL,
                                       NULL, NULL, &whole_cbs, &p.cli,
                                       &p.cli.ws),
                     0);
    p.srv.echo = 1;
    assert_int_equal(eddy_ws_send(p.cli.ws, TXT, "secret", 6), 0);
    wait_messages(loop, &p.cli, 1);
    assert_string_equal((const char *)p.cli.last.data, "secret");
    pair_close(&p);
    eddy_tls_ctx_free(ctx[0]);
    eddy_tls_ctx_free(ctx[1]);

    /* A TLS peer that sends opcode 3 to eddy's server. */
    memset(e, 0, sizeof e);
    loop = tu_loop_new();
    tls_streams(loop, dir, ctx, s, e);
    assert_int_equal(eddy__ws_conn_new(s[0], EDDY_WS_SERVER, NULL, 0, NULL,
                                       NULL, NULL, &whole_cbs, &sd, &sd.ws),
                     0);
    eddy_stream_set_close_callback(s[1], tls_closed, &e[1]);
    assert_int_equal(
        eddy_stream_write(s[1], "\x83\x80\x01\x02\x03\x04", 6, NULL, NULL), 0);
    assert_int_equal(eddy_stream_read_until_close(s[1], tls_read, &e[1]), 0);
    assert_true(tu_run_until(loop, tls_end_closed, &e[1], WAIT_ITER, WAIT_MS));
    assert_int_equal(e[1].got_len, 4);
    assert_memory_equal(e[1].got, "\x88\x02\x03\xea", 4); /* Close 1002 */
    assert_int_equal(e[1].close_err, EDDY_EOF); /* with close_notify */
    wait_closed(loop, &sd);
    assert_int_equal(sd.code, 1002);
    side_free(&sd);
    loop_done(loop);
    eddy_tls_ctx_free(ctx[0]);
    eddy_tls_ctx_free(ctx[1]);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* --- allocation failures ------------------------------------------------- */

#ifdef TU_WRAP_MALLOC
/* Each allocation a send makes fails in turn: the send says -ENOMEM and
 * the connection is dropped (on_close: 1006, -ENOMEM), with nothing
 * leaked; past the last one, the message goes through. */
static void send_enomem_role(int role, const eddy__ws_pmd *pmd, size_t n)
{
    uint8_t *msg = text_of(n, 5);
    int ret = -ENOMEM;
    long k;

    for (k = 0; ret != 0; k++) {
        raw t;

        assert_true(k < 100);
        raw_open(&t, role, NULL, pmd, &whole_cbs);
        fail_alloc = k;
        ret = eddy_ws_send(t.me.ws, TXT, msg, n);
        fail_alloc = -1;
        if (ret == 0) {
            raw_expect(&t, TXT, msg, n);
            raw_end_clean(&t);
        } else {
            assert_int_equal(ret, -ENOMEM);
            wait_closed(t.loop, &t.me);
            assert_int_equal(t.me.code, EDDY_WS_ABNORMAL);
            assert_int_equal(t.me.error, -ENOMEM);
        }
        raw_free(&t);
    }
    assert_true(k > 1);
    free(msg);
}

static void send_enomem(void **state)
{
    (void)state;
    send_enomem_role(EDDY_WS_SERVER, NULL, 100000);
    send_enomem_role(EDDY_WS_SERVER, NULL, 100);
    send_enomem_role(EDDY_WS_CLIENT, NULL, 100000);
    if (eddy__ws_deflate_available())
        send_enomem_role(EDDY_WS_SERVER, &pmd_default, 100000);
}

/* The constructor: -ENOMEM, the stream unchanged, and tried again. */
static void constructor_enomem(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_ws_options o = {.ping_interval_ms = 1000};
    eddy_stream *s = NULL;
    side sd = {0};
    int sv[2], ret = -ENOMEM;
    long k;

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &s), 0);
    for (k = 0; ret != 0; k++) {
        assert_true(k < 100);
        fail_alloc = k;
        ret = eddy__ws_conn_new(s, EDDY_WS_CLIENT, "\x81\x00", 2,
                                eddy__ws_deflate_available() ? &pmd_default
                                                             : NULL,
                                "proto", &o, &whole_cbs, &sd, &sd.ws);
        fail_alloc = -1;
        if (ret != 0) {
            assert_int_equal(ret, -ENOMEM);
            assert_false(eddy_stream_reading(s));
            assert_false(eddy_stream_closed(s));
        }
    }
    assert_true(k > 3);
    wait_messages(loop, &sd, 1); /* the leftover empty text */
    eddy_ws_abort(sd.ws);
    wait_closed(loop, &sd);
    close(sv[1]);
    side_free(&sd);
    loop_done(loop);
}

/* The message arrived, or the connection ended; the test is the peer,
 * which closes its end when eddy's is shut. */
static int closed_or_message(void *arg)
{
    raw *t = arg;

    raw_pull(t);
    if (t->eof)
        raw_close_fd(t);
    return t->me.closed > 0 || t->me.messages > 0;
}

/* Allocations failing while a message comes in: the connection ends
 * with -ENOMEM (1011 when eddy could still send its Close, 1006 when the
 * stream itself failed), or the message gets through. */
static void receive_enomem(void **state)
{
    uint8_t *msg = text_of(100000, 6);
    int echoed = 0;

    (void)state;
    for (long k = 0; k < 30; k++) {
        size_t size;
        uint8_t *f;
        raw t;

        raw_open(&t, EDDY_WS_SERVER, NULL, NULL, &whole_cbs);
        t.me.echo = 0;
        t.rx_cap = 4 << 20; /* the test's own buffer, made before */
        t.rx = malloc(t.rx_cap);
        assert_non_null(t.rx);
        f = raw_frame_bytes(&t, BIN, 1, 0, msg, 100000, &size);
        fail_alloc = k;
        raw_write(&t, f, size);
        assert_true(
            tu_run_until(t.loop, closed_or_message, &t, WAIT_ITER, WAIT_MS));
        fail_alloc = -1;
        free(f);
        if (t.me.closed) {
            assert_int_equal(t.me.error, -ENOMEM);
            assert_true(t.me.code == EDDY_WS_INTERNAL_ERROR ||
                        t.me.code == EDDY_WS_ABNORMAL);
        } else {
            echoed++;
            assert_int_equal(t.me.messages, 1);
            assert_int_equal(t.me.last.len, 100000);
        }
        raw_free(&t);
    }
    assert_true(echoed > 0 && echoed < 30);
    free(msg);
}
#endif

/* --- memory ------------------------------------------------------------- */

#if defined(__GLIBC__) && !defined(TU_ASAN)
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}
#endif

static int idle_messages;

static void idle_echo(eddy_ws *ws, int op, const char *data, size_t len,
                      void *arg)
{
    (void)arg;
    idle_messages++;
    assert_int_equal(eddy_ws_send(ws, op, data, len), 0);
}

/*
 * What an idle server connection holds, after it took a 64-byte text
 * and answered it: the heap's growth per connection (stream, connection,
 * buffers; the loop's per-fd slots too), measured with mallinfo2 over
 * count connections, without and with permessage-deflate.  Printed, and
 * held to the issue's 1.5 KB without compression and without context
 * takeover.  glibc's allocator only, not under valgrind or ASan, which
 * replace it.
 */
static size_t idle_bytes(const eddy__ws_pmd *pmd, const eddy_ws_options *o,
                         int count)
{
#if defined(__GLIBC__) && !defined(TU_ASAN)
    eddy_ws_callbacks cbs = {.on_message = idle_echo};
    eddy_loop *loop = tu_loop_new();
    int(*fds)[2] = calloc((size_t)count, sizeof *fds);
    eddy_ws **ws = calloc((size_t)count, sizeof *ws);
    uint8_t frame[256], answer[256];
    eddy__ws_buf z = {0};
    size_t size, before, after;
    raw t = {0};
    uint8_t *f;

    assert_non_null(fds);
    assert_non_null(ws);
    t.role = EDDY_WS_SERVER;
    if (pmd != NULL) {
        eddy__ws_deflater d;

        eddy__ws_deflater_init(&d, 15, 1, 0, 0);
        assert_int_equal(eddy__ws_deflate(&d, text_of(64, 0), 64, 1, &z), 0);
        eddy__ws_deflater_free(&d);
        f = raw_frame_bytes(&t, TXT, 1, 4, z.p, z.len, &size);
    } else {
        uint8_t *text = text_of(64, 0);

        f = raw_frame_bytes(&t, TXT, 1, 0, text, 64, &size);
        free(text);
    }
    memcpy(frame, f, size);
    free(f);
    for (int i = 0; i < count; i++)
        tu_socketpair(fds[i]);
    idle_messages = 0;
    malloc_trim(0);
    before = heap_in_use();
    for (int i = 0; i < count; i++) {
        eddy_stream *s = NULL;

        assert_int_equal(eddy_stream_new(loop, fds[i][0], NULL, &s), 0);
        assert_int_equal(eddy__ws_conn_new(s, EDDY_WS_SERVER, NULL, 0, pmd,
                                           NULL, o, &cbs, NULL, &ws[i]),
                         0);
        assert_int_equal(write(fds[i][1], frame, size), (ssize_t)size);
    }
    assert_true(
        tu_run_until_count(loop, &idle_messages, count, WAIT_ITER, WAIT_MS));
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    after = heap_in_use();
    for (int i = 0; i < count; i++) {
        assert_true(read(fds[i][1], answer, sizeof answer) > 2);
        eddy_ws_abort(ws[i]);
        close(fds[i][1]);
    }
    loop_done(loop);
    free(z.p);
    free(fds);
    free(ws);
    return after > before ? (after - before) / (size_t)count : 0;
#else
    (void)pmd, (void)o, (void)count, (void)idle_echo;
    return 0;
#endif
}

#if defined(__GLIBC__) && !defined(TU_ASAN)
static int heap_below(void *arg)
{
    return heap_in_use() < *(size_t *)arg;
}
#endif

/* After big messages the message buffer stays while more come, and goes
 * once the connection has been idle for a second. */
static void idle_after_big(void **state)
{
#if defined(__GLIBC__) && !defined(TU_ASAN)
    uint8_t *big = text_of(300000, 7);
    size_t before, limit;
    raw t;

    (void)state;
    if (tu_valgrind()) {
        free(big);
        skip();
        return;
    }
    raw_open(&t, EDDY_WS_SERVER, NULL, NULL, &whole_cbs);
    t.me.echo = 0;
    raw_send(&t, BIN, 1, 0, "x", 1, 0);
    wait_messages(t.loop, &t.me, 1);
    malloc_trim(0);
    before = heap_in_use();
    for (int i = 0; i < 3; i++) {
        raw_send(&t, BIN, 1, 0, big, 300000, 0);
        wait_messages(t.loop, &t.me, 2 + i);
        assert_true(heap_in_use() > before + 300000); /* kept, reused */
    }
    /* The test's own copy of the last message stays; eddy's buffer goes. */
    limit = heap_in_use() - 250000;
    assert_true(tu_run_until(t.loop, heap_below, &limit, WAIT_ITER, WAIT_MS));
    raw_end_clean(&t);
    raw_free(&t);
    free(big);
#else
    (void)state;
    skip();
#endif
}

static void idle_memory(void **state)
{
    size_t plain, nct, takeover;

    (void)state;
#if !defined(__GLIBC__) || defined(TU_ASAN)
    skip(); /* no glibc allocator to ask */
#endif
    if (tu_valgrind()) {
        skip();
        return;
    }
    plain = idle_bytes(NULL, NULL, 500);
    printf("idle server connection: %zu bytes", plain);
    assert_true(plain > 400 && plain <= 1536);
    if (eddy__ws_deflate_available()) {
        static const eddy__ws_pmd nct_pmd = {1, 1, 15, 15};

        static const eddy__ws_pmd small_pmd = {0, 0, 12, 12};
        eddy_ws_options small = {.deflate = {.mem_level = 5}};
        size_t lean;

        nct = idle_bytes(&nct_pmd, NULL, 200);
        takeover = idle_bytes(&pmd_default, NULL, 20);
        lean = idle_bytes(&small_pmd, &small, 20);
        printf("; with permessage-deflate: %zu without context takeover, "
               "%zu with it (windows 15, memLevel 8), %zu with windows 12 "
               "and memLevel 5",
               nct, takeover, lean);
        assert_true(lean < takeover / 4);
        assert_true(nct <= 1536 + 128);
        assert_true(takeover > 100000); /* zlib's states stay */
    }
    printf("\n");
}

/* --- main ------------------------------------------------------------- */

typedef struct section {
    const char *prefix;
    const void *cases;
    size_t count, size;
    CMUnitTestFunction fn;
    int zlib; /* needs permessage-deflate */
} section;

int main(void)
{
    static const struct CMUnitTest more[] = {
        tu_test(pair_echo),
        tu_test(server_closes),
        tu_test(close_without_code),
        tu_test(server_close_answered),
        tu_test(client_waits_for_server),
        tu_test(client_close_timeout),
        tu_test(server_close_timeout),
        tu_test(peer_vanishes),
        tu_test(abort_now),
        tu_test(stop_inside_callback),
        tu_test(ping_pong),
        tu_test(ping_interval),
        tu_test(ping_timeout),
        tu_test(send_errors),
        tu_test(send_by_reference),
        tu_test(send_ref_dropped),
        tu_test(send_fragments),
        tu_test(drain_honoured),
        tu_test(drain_ignored),
        tu_test(stream_write_limit),
        tu_test(constructor_errors),
        tu_test(leftover_and_getters),
        tu_test(close_errors),
        tu_test(pieces),
        tu_test(close_inside_pieces),
        tu_test(over_pipes),
        tu_test(failure_over_tcp),
        tu_test(lowat_over_tcp),
        tu_test(lowat_over_pipes),
        tu_test(over_tls),
#ifdef TU_WRAP_MALLOC
        tu_test(send_enomem),
        tu_test(constructor_enomem),
        tu_test(receive_enomem),
#endif
        tu_test(idle_memory),
        tu_test(idle_after_big),
    };
    const section sections[] = {
#define SECTION(cases, fn, z)                                                  \
    {"autobahn", cases, COUNT(cases), sizeof cases[0], fn, z}
        SECTION(framing_cases, run_raw_case, 0),
        SECTION(ping_cases, run_raw_case, 0),
        SECTION(rsv_cases, run_raw_case, 0),
        SECTION(opcode_cases, run_raw_case, 0),
        SECTION(fragment_cases, run_raw_case, 0),
        SECTION(utf8_cases, run_utf8_case, 0),
        SECTION(utf8_raw_cases, run_raw_case, 0),
        SECTION(close_cases, run_raw_case, 0),
        SECTION(limit_cases, run_pair_case, 0),
        SECTION(limit_raw_cases, run_raw_case, 0),
        SECTION(deflate_cases, run_pair_case, 1),
        SECTION(deflate_raw_cases, run_raw_case, 1),
    };
    size_t cap = COUNT(more), n = 0, per[20] = {0}, nmore;
    struct CMUnitTest *t;
    char(*names)[128];
    int failed;

    for (size_t i = 0; i < COUNT(sections); i++)
        cap += sections[i].count;
    t = calloc(cap, sizeof *t);
    names = calloc(cap, sizeof *names);
    if (t == NULL || names == NULL)
        return 1;
    for (size_t i = 0; i < COUNT(sections); i++) {
        const section *sc = &sections[i];

        if (sc->zlib && !eddy__ws_deflate_available())
            continue;
        for (size_t k = 0; k < sc->count; k++) {
            const char *name =
                *(const char *const *)((const char *)sc->cases + k * sc->size);

            per[atoi(name) < 20 ? atoi(name) : 0]++;
            snprintf(names[n], sizeof names[n], "%s %s", sc->prefix, name);
            t[n] = (struct CMUnitTest){
                names[n], sc->fn, case_setup, case_teardown,
                (void *)((const char *)sc->cases + k * sc->size)};
            n++;
        }
    }
    printf("autobahn-style cases per section%s:",
           OVER_UPGRADE ? " over real opening handshakes" : "");
    for (int i = 1; i < 20; i++)
        if (per[i] > 0)
            printf(" %d: %zu", i, per[i]);
    printf("\n");
    /* Over real handshakes only the case suite runs: the tests after it
     * are about the connection, which is the same however it was made. */
    nmore = OVER_UPGRADE ? 0 : COUNT(more);
    for (size_t i = 0; i < nmore; i++)
        t[n++] = more[i];
    failed = _cmocka_run_group_tests(OVER_UPGRADE ? "ws_upgrade" : "ws_conn", t,
                                     n, NULL, NULL);
    printf("autobahn-style cases passed per section%s:",
           OVER_UPGRADE ? " over real opening handshakes" : "");
    for (int i = 1; i < 20; i++)
        if (per[i] > 0)
            printf(" %d: %zu/%zu", i, passed_in[i], per[i]);
    printf("\n");
    free(names);
    free(t);
    (void)fail_alloc;
    return failed;
}
