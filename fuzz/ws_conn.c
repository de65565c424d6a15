/*
 * fuzz/ws_conn.c - the WebSocket connection (websocket/conn.c) under
 * fuzzing: what a peer sends, in pieces, to eddy's server or client.
 *
 * Input: one byte of settings (bit 0: eddy is the client, else the
 * server; bit 1: permessage-deflate agreed, bit 2: without context
 * takeover; bit 3: messages taken in pieces (on_message_part); bits 4-5:
 * max_message_size 1 MiB, 10, 200 or 70,000; bit 6: the first piece is
 * handed to the constructor as bytes read past the handshake), the cut
 * points (fuzz.h), then the bytes the peer sends.  The connection reads
 * one end of a socketpair; the peer writes each piece and the loop runs
 * until eddy is done with it, then the peer closes its side.
 *
 * The reference is the core alone (frame reader, inflater, UTF-8
 * validator) run over the bytes a byte at a time.  Checks:
 *
 *  - the messages delivered are the reference's, in order, none more
 *    (in pieces: those completed, and of one left unfinished, a prefix);
 *    each whole message is followed by a NUL, none passes the limit;
 *  - every ping the reference reads before the end is answered with a
 *    pong of the same payload, in order, and eddy sends only valid
 *    frames (masked by a client);
 *  - the end: where the reference fails with a code, eddy sends a Close
 *    with that code and on_close() says it; where the peer's Close comes
 *    first, eddy answers with its code and on_close() says it; else
 *    on_close() says 1006; on_close() runs exactly once, and everything
 *    is freed (ASan, valgrind).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"

#include "../websocket/ws_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WC_MAX_CUTS 16
#define WC_SPIN 64 /* loop iterations after a piece, at most */

typedef struct wc_buf {
    uint8_t *p;
    size_t len, cap;
} wc_buf;

static void wc_put(wc_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            abort(); /* a harness without memory proves nothing */
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* A message in a log: opcode, length, bytes. */
static void wc_log(wc_buf *log, int op, const uint8_t *p, size_t n)
{
    uint8_t head[9] = {(uint8_t)op};

    memcpy(head + 1, &n, sizeof n);
    wc_put(log, head, sizeof head);
    wc_put(log, p, n);
}

typedef struct wc_cfg {
    int role;
    const eddy__ws_pmd *pmd;
    int parts;
    uint64_t max;
} wc_cfg;

/* What the core makes of all the bytes at once. */
typedef struct wc_ref {
    wc_buf log;   /* complete messages */
    wc_buf pings; /* each ping's payload: length byte, bytes */
    wc_buf cut;   /* the bytes of a message left unfinished */
    unsigned fail, close;
} wc_ref;

/* Inflates a piece of a compressed message into msg, checking text as
 * it comes out, as the connection does.  0 or the code to fail with. */
static unsigned wc_inflate(eddy__ws_inflater *inf, unsigned *utf8,
                           const eddy__ws_event *ev, wc_buf *msg)
{
    const uint8_t *p = ev->data;
    size_t n = ev->len, used, made;
    uint8_t out[4096];
    int ret;

    do {
        ret =
            eddy__ws_inflate(inf, p, n, ev->fin, out, sizeof out, &used, &made);
        p += used;
        n -= used;
        wc_put(msg, out, made);
        if (ev->opcode == EDDY_WS_TEXT &&
            eddy__utf8_valid(utf8, out, made) != made)
            return EDDY_WS_INVALID_DATA;
        if (ret < 0)
            return ret <= -1000 ? (unsigned)-ret : EDDY_WS_INTERNAL_ERROR;
    } while (ret == 1);
    if (ev->fin && ev->opcode == EDDY_WS_TEXT && *utf8 != EDDY_UTF8_ACCEPT)
        return EDDY_WS_INVALID_DATA;
    return 0;
}

static void wc_reference(const wc_cfg *cfg, const uint8_t *data, size_t len,
                         wc_ref *ref)
{
    eddy__ws_reader r;
    eddy__ws_deflater d;
    eddy__ws_inflater inf;
    eddy__ws_event ev;
    wc_buf msg = {0};
    uint8_t *copy = malloc(len + 1);
    unsigned utf8 = EDDY_UTF8_ACCEPT;
    size_t at = 0, used;
    int ret;

    if (copy == NULL)
        abort();
    memcpy(copy, data, len);
    eddy__ws_reader_init(&r, cfg->role, cfg->max);
    memset(&inf, 0, sizeof inf);
    if (cfg->pmd != NULL) {
        r.rsv_ok = EDDY_WS_RSV1;
        eddy__ws_pmd_setup(cfg->pmd, cfg->role, NULL, cfg->max, &d, &inf);
    }
    /* A byte at a time, so that an unfinished message holds every byte
     * before a failure (whole, the reader refuses the failing piece
     * entirely, where eddy may have handed the bytes before it over). */
    while (at < len && ref->fail == 0 && ref->close == 0) {
        ret = eddy__ws_read(&r, copy + at, 1, &used, &ev);
        at += used;
        if (ret < 0) {
            ref->fail = (unsigned)-ret;
        } else if (ev.type == EDDY_WS_EV_CONTROL) {
            uint8_t n = (uint8_t)ev.len;

            if (ev.opcode == EDDY_WS_PING) {
                wc_put(&ref->pings, &n, 1);
                wc_put(&ref->pings, ev.data, ev.len);
            } else if (ev.opcode == EDDY_WS_CLOSE) {
                ref->close = ev.code;
            }
        } else if (ev.type == EDDY_WS_EV_DATA) {
            if (ev.compressed)
                ref->fail = wc_inflate(&inf, &utf8, &ev, &msg);
            else
                wc_put(&msg, ev.data, ev.len);
            if (ref->fail == 0 && ev.fin) {
                wc_log(&ref->log, ev.opcode, msg.p, msg.len);
                msg.len = 0;
                utf8 = EDDY_UTF8_ACCEPT;
                if (cfg->pmd != NULL && inf.no_context)
                    eddy__ws_inflater_free(&inf);
            }
        }
    }
    wc_put(&ref->cut, msg.p, msg.len);
    eddy__ws_inflater_free(&inf);
    free(msg.p);
    free(copy);
}

/* What eddy did. */
typedef struct wc_state {
    eddy_loop *loop;
    eddy_ws *ws;
    const wc_cfg *cfg;
    wc_buf log, part; /* messages; the pieces of the current one */
    int part_op;
    int closes, code;
} wc_state;

static void wc_on_message(eddy_ws *ws, int op, const char *data, size_t len,
                          void *arg)
{
    wc_state *st = arg;

    (void)ws;
    FUZZ_CHECK(data[len] == 0, "a whole message is followed by a NUL");
    FUZZ_CHECK(len <= st->cfg->max, "no message passes the limit");
    wc_log(&st->log, op, (const uint8_t *)data, len);
}

static void wc_on_part(eddy_ws *ws, int op, const char *data, size_t len,
                       int fin, void *arg)
{
    wc_state *st = arg;

    (void)ws;
    FUZZ_CHECK(st->part.len == 0 || op == st->part_op,
               "every piece of a message has its opcode");
    st->part_op = op;
    wc_put(&st->part, data, len);
    FUZZ_CHECK(st->part.len <= st->cfg->max, "no message passes the limit");
    if (fin) {
        wc_log(&st->log, op, st->part.p, st->part.len);
        st->part.len = 0;
    }
}

static void wc_on_close(eddy_ws *ws, int code, const char *reason, size_t len,
                        void *arg)
{
    wc_state *st = arg;

    (void)ws, (void)reason, (void)len;
    st->closes++;
    st->code = code;
    st->ws = NULL;
}

/* Reads what eddy sent into out. */
static void wc_drain(int fd, wc_buf *out)
{
    uint8_t buf[4096];
    ssize_t r;

    while ((r = read(fd, buf, sizeof buf)) > 0)
        wc_put(out, buf, (size_t)r);
}

/* Runs the loop until it has nothing to do, within WC_SPIN iterations. */
static void wc_spin(wc_state *st, int fd, wc_buf *out)
{
    for (int i = 0; i < WC_SPIN; i++) {
        eddy_loop_stats before, after;

        eddy_loop_get_stats(st->loop, &before);
        eddy_loop_run_once(st->loop, 0);
        eddy_loop_get_stats(st->loop, &after);
        wc_drain(fd, out);
        if (after.events == before.events &&
            after.callbacks_run == before.callbacks_run &&
            after.timers_run == before.timers_run && i > 2)
            break;
    }
}

/* Sends p[0, n) to eddy, the loop running while the socket is full. */
static int wc_send(wc_state *st, int fd, const uint8_t *p, size_t n,
                   wc_buf *out)
{
    for (int tries = 0; n > 0 && tries < 10000; tries++) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1; /* eddy closed its end */
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
        wc_spin(st, fd, out);
    }
    return 0;
}

/* Checks what eddy sent: valid frames; pongs answering the pings in
 * order; at the end, the Close the reference calls for. */
static void wc_check_output(const wc_cfg *cfg, const wc_ref *ref, wc_buf *out)
{
    eddy__ws_reader r;
    eddy__ws_event ev;
    size_t at = 0, used, ping = 0;
    unsigned close = 0;
    int ret;

    eddy__ws_reader_init(
        &r, cfg->role == EDDY_WS_SERVER ? EDDY_WS_CLIENT : EDDY_WS_SERVER,
        UINT64_MAX >> 1);
    while (at < out->len) {
        ret = eddy__ws_read(&r, out->p + at, out->len - at, &used, &ev);
        at += used;
        FUZZ_CHECK(ret == 0, "eddy sends valid frames");
        if (ret < 0 || ev.type == EDDY_WS_EV_NONE)
            break;
        FUZZ_CHECK(ev.type == EDDY_WS_EV_CONTROL, "eddy sends no message");
        FUZZ_CHECK(close == 0, "nothing after eddy's Close");
        if (ev.opcode == EDDY_WS_PONG) {
            FUZZ_CHECK(ping < ref->pings.len && ref->pings.p[ping] == ev.len &&
                           memcmp(ref->pings.p + ping + 1, ev.data, ev.len) ==
                               0,
                       "each ping answered with its payload, in order");
            ping += 1u + ev.len;
        } else {
            FUZZ_CHECK(ev.opcode == EDDY_WS_CLOSE, "only pongs and a Close");
            close = ev.code;
        }
    }
    FUZZ_CHECK(at == out->len, "eddy's frames are complete");
    FUZZ_CHECK(ping == ref->pings.len, "every ping is answered");
    if (ref->fail != 0)
        FUZZ_CHECK(close == ref->fail, "a failure's Close has its code");
    else if (ref->close != 0)
        FUZZ_CHECK(close == ref->close, "the peer's Close is answered");
    else
        FUZZ_CHECK(close == 0, "no Close when nothing called for one");
}

static void wc_check_messages(const wc_cfg *cfg, const wc_ref *ref,
                              const wc_state *st)
{
    FUZZ_CHECK(st->log.len == ref->log.len &&
                   (st->log.len == 0 ||
                    memcmp(st->log.p, ref->log.p, st->log.len) == 0),
               "the messages delivered are the reference's");
    if (cfg->parts)
        FUZZ_CHECK(st->part.len <= ref->cut.len &&
                       (st->part.len == 0 ||
                        memcmp(st->part.p, ref->cut.p, st->part.len) == 0),
                   "of a message left unfinished, a prefix");
    else
        FUZZ_CHECK(st->part.len == 0, "no piece of an unfinished message");
    if (ref->fail != 0)
        FUZZ_CHECK(st->code == (int)ref->fail, "on_close says the failure");
    else if (ref->close != 0)
        FUZZ_CHECK(st->code == (int)ref->close, "on_close says the Close");
    else
        FUZZ_CHECK(st->code == EDDY_WS_ABNORMAL, "on_close says 1006");
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const eddy__ws_pmd pmd = {0, 0, 15, 15}, nct = {1, 1, 15, 15};
    static const uint64_t maxes[4] = {1 << 20, 10, 200, 70000};
    fuzz_in in = {data, size};
    unsigned s = fuzz_byte(&in);
    wc_cfg cfg = {s & 1 ? EDDY_WS_CLIENT : EDDY_WS_SERVER, NULL, (s >> 3) & 1,
                  maxes[(s >> 4) & 3]};
    eddy_ws_callbacks cbs = {.on_message = wc_on_message,
                             .on_message_part = wc_on_part,
                             .on_close = wc_on_close};
    eddy_ws_options o = {.max_message_size = cfg.max};
    size_t cuts[WC_MAX_CUTS], ncuts = fuzz_cuts(&in, cuts, WC_MAX_CUTS);
    size_t at = 0, first = ncuts > 0 ? cuts[0] : in.n;
    wc_state st = {.cfg = &cfg};
    wc_ref ref = {0};
    wc_buf out = {0};
    eddy_stream *stream = NULL;
    int sv[2];

    if ((s & 2) && eddy__ws_deflate_available())
        cfg.pmd = s & 4 ? &nct : &pmd;
    if (!cfg.parts)
        cbs.on_message_part = NULL;
    wc_reference(&cfg, in.p, in.n, &ref);
    if (eddy_loop_new(&st.loop) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0 ||
        eddy_stream_new(st.loop, sv[0], NULL, &stream) != 0)
        abort();
    if (!(s & 64))
        first = 0;
    if (eddy__ws_conn_new(stream, cfg.role, (const char *)in.p, first, cfg.pmd,
                          NULL, &o, &cbs, &st, &st.ws) != 0)
        abort();
    at = first;
    wc_spin(&st, sv[1], &out);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : in.n;

        if (end <= at)
            continue;
        if (wc_send(&st, sv[1], in.p + at, end - at, &out) < 0)
            break;
        at = end;
    }
    /* The peer is done: its EOF ends whatever eddy waits for. */
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 1000 && st.closes == 0; i++)
        wc_spin(&st, sv[1], &out);
    FUZZ_CHECK(st.closes == 1, "on_close runs exactly once");
    if (st.ws != NULL)
        eddy_ws_abort(st.ws);
    for (int i = 0; i < 10; i++)
        eddy_loop_run_once(st.loop, 0);
    wc_drain(sv[1], &out);
    wc_check_output(&cfg, &ref, &out);
    wc_check_messages(&cfg, &ref, &st);
    close(sv[1]);
    eddy_loop_close(st.loop, 0);
    free(ref.log.p);
    free(ref.pings.p);
    free(ref.cut.p);
    free(st.log.p);
    free(st.part.p);
    free(out.p);
    return 0;
}
