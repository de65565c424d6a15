/*
 * fuzz/ws_frame.c - the WebSocket frame reader and the UTF-8 validator
 * (websocket/frame.c, utf8.c) under fuzzing.
 *
 * Input: one byte of settings (bit 0: the reader is a client, else a
 * server; bit 1: RSV1 allowed, as with permessage-deflate; bits 2-3: the
 * message limit, 1 MiB, 0, 10 or 200 bytes; bit 4: also a byte at a
 * time), the cut points (fuzz.h), then the bytes.  Checks:
 *
 *  - the reader: the same answer whole and in the fuzzer's pieces (and a
 *    byte at a time), each piece a heap copy of exactly its bytes so that
 *    ASan catches a read past it: the same error or none, and the same
 *    messages and control frames, except that an error may cut the
 *    whole's last message piece shorter;
 *  - fail fast: fed a byte at a time, an error comes with byte k; then
 *    the bytes before k, whole, give none, and with k the same error;
 *  - what the reader hands over is sound: errors are 1002, 1007 or 1009;
 *    control payloads fit 125 bytes; a Close code is one that may be
 *    sent and its reason is UTF-8; a complete uncompressed text message
 *    is UTF-8 by a reference decoder; no message passes the limit;
 *  - the UTF-8 validator on the same bytes, in the same pieces: it fails
 *    at the byte the reference says, and ends in ACCEPT exactly when the
 *    reference says the text is complete.
 */
#include "fuzz.h"

#include "../websocket/ws_internal.h"

#include <string.h>

#define WF_MAX_CUTS 16
#define WF_MAX_DRIBBLE 4096

/* Whether p[0, n) can still be UTF-8: the index of the first byte that
 * makes it impossible, or n; *complete: it ends between characters.  By
 * code point ranges, not by the automaton's table. */
static size_t wf_utf8_reference(const uint8_t *p, size_t n, int *complete)
{
    static const uint32_t min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0;

    *complete = 1;
    while (i < n) {
        uint8_t b = p[i];
        int len = b < 0x80                ? 1
                  : b >= 0xc0 && b < 0xe0 ? 2
                  : b >= 0xe0 && b < 0xf0 ? 3
                  : b >= 0xf0 && b < 0xf8 ? 4
                                          : 0;
        uint32_t v;

        if (len == 0)
            return i;
        v = b & (0x7f >> len);
        for (int k = 1; k <= len && len > 1; k++) {
            int rest = len - k;
            uint32_t lo = v << (6 * rest), hi = lo | ((1u << (6 * rest)) - 1);

            if (hi < min_of[len] || lo > 0x10ffff ||
                (lo >= 0xd800 && hi <= 0xdfff))
                return i + (size_t)k - 1;
            if (k == len)
                break;
            if (i + (size_t)k == n) {
                *complete = 0;
                return n;
            }
            if ((p[i + (size_t)k] & 0xc0) != 0x80)
                return i + (size_t)k;
            v = v << 6 | (p[i + (size_t)k] & 0x3f);
        }
        i += (size_t)len;
    }
    return n;
}

/* What a run of the reader came to. */
typedef struct wf_run {
    int ret;
    fuzz_buf log; /* messages and control frames, canonical */
    fuzz_buf msg; /* the current message's bytes (uncompressed text) */
    int in_msg;
    uint64_t msg_len;
} wf_run;

typedef struct wf_cfg {
    int role;
    unsigned rsv_ok;
    uint64_t max;
} wf_cfg;

static void wf_hex(fuzz_buf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        char two[2] = {digits[p[i] >> 4], digits[p[i] & 15]};

        fuzz_put(b, two, 2);
    }
}

static void wf_event(const wf_cfg *cfg, wf_run *r, const eddy__ws_event *ev)
{
    char tmp[32];

    if (ev->type == EDDY_WS_EV_DATA) {
        FUZZ_CHECK(ev->opcode == EDDY_WS_TEXT || ev->opcode == EDDY_WS_BINARY,
                   "a message is text or binary");
        FUZZ_CHECK(!ev->compressed || cfg->rsv_ok,
                   "compressed only with RSV1 allowed");
        if (!r->in_msg) {
            snprintf(tmp, sizeof tmp, "[%d%d", ev->opcode, ev->compressed);
            fuzz_put(&r->log, tmp, strlen(tmp));
            r->in_msg = 1;
            r->msg.len = 0;
            r->msg_len = 0;
        }
        wf_hex(&r->log, ev->data, ev->len);
        r->msg_len += ev->len;
        FUZZ_CHECK(ev->compressed || r->msg_len <= cfg->max,
                   "no message passes the limit");
        if (ev->opcode == EDDY_WS_TEXT && !ev->compressed)
            fuzz_put(&r->msg, ev->data, ev->len);
        if (ev->fin) {
            int complete;

            fuzz_put(&r->log, "]", 1);
            r->in_msg = 0;
            if (ev->opcode == EDDY_WS_TEXT && !ev->compressed && !r->msg.failed)
                FUZZ_CHECK(wf_utf8_reference((const uint8_t *)r->msg.p,
                                             r->msg.len,
                                             &complete) == r->msg.len &&
                               complete,
                           "a text message is UTF-8");
        }
        return;
    }
    FUZZ_CHECK(ev->type == EDDY_WS_EV_CONTROL, "an event is data or control");
    FUZZ_CHECK(ev->len <= EDDY_WS_MAX_CONTROL, "control payload fits 125");
    if (ev->opcode == EDDY_WS_CLOSE) {
        int complete;

        FUZZ_CHECK(ev->code == EDDY_WS_NO_STATUS ||
                       eddy__ws_close_code_ok(ev->code),
                   "a close code may be sent");
        FUZZ_CHECK(ev->code != EDDY_WS_NO_STATUS || ev->len == 0,
                   "no code, no reason");
        FUZZ_CHECK(wf_utf8_reference(ev->data, ev->len, &complete) == ev->len &&
                       complete,
                   "a close reason is UTF-8");
    } else {
        FUZZ_CHECK(ev->opcode == EDDY_WS_PING || ev->opcode == EDDY_WS_PONG,
                   "a control frame is close, ping or pong");
    }
    snprintf(tmp, sizeof tmp, "{%d:%d:", ev->opcode, ev->code);
    fuzz_put(&r->log, tmp, strlen(tmp));
    wf_hex(&r->log, ev->data, ev->len);
    fuzz_put(&r->log, "}", 1);
}

/* Feeds in[0, len) in the pieces cuts[0, ncuts) mark, each a heap copy. */
static void wf_read(const wf_cfg *cfg, const uint8_t *in, size_t len,
                    const size_t *cuts, size_t ncuts, wf_run *r,
                    size_t *fail_end)
{
    eddy__ws_reader rd;
    size_t from = 0;

    memset(r, 0, sizeof *r);
    eddy__ws_reader_init(&rd, cfg->role, cfg->max);
    rd.rsv_ok = (uint8_t)cfg->rsv_ok;
    for (size_t i = 0; i <= ncuts && r->ret == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len, n = to - from, at = 0;
        uint8_t *piece = malloc(n ? n : 1);

        if (piece == NULL) {
            r->log.failed = 1;
            return;
        }
        if (n > 0)
            memcpy(piece, in + from, n);
        while (at < n) {
            eddy__ws_event ev;
            size_t used = 0;
            int ret = eddy__ws_read(&rd, piece + at, n - at, &used, &ev);

            if (ret < 0) {
                FUZZ_CHECK(ret == -1002 || ret == -1007 || ret == -1009,
                           "errors are 1002, 1007 or 1009");
                r->ret = ret;
                *fail_end = to;
                break;
            }
            FUZZ_CHECK(ret == 0 && used <= n - at, "used is within len");
            at += used;
            if (ev.type == EDDY_WS_EV_NONE) {
                FUZZ_CHECK(at == n, "no event: every byte taken");
                break;
            }
            FUZZ_CHECK(used > 0, "an event takes bytes");
            if (ev.type == EDDY_WS_EV_DATA)
                FUZZ_CHECK(ev.data >= piece && ev.data + ev.len <= piece + at,
                           "data lies in what was taken");
            wf_event(cfg, r, &ev);
        }
        free(piece);
        from = to;
    }
}

static void wf_free(wf_run *r)
{
    free(r->log.p);
    free(r->msg.p);
}

/* b's answer is a's, and a's transcript starts b's (all of it without
 * an error). */
static int wf_same(const wf_run *a, const wf_run *b)
{
    if (a->log.failed || b->log.failed)
        return 1;
    if (a->ret != b->ret || b->log.len < a->log.len ||
        (a->log.len > 0 && memcmp(a->log.p, b->log.p, a->log.len) != 0))
        return 0;
    return a->ret != 0 || a->log.len == b->log.len;
}

/* The UTF-8 validator on in[0, len) in the given pieces. */
static void wf_utf8(const uint8_t *in, size_t len, const size_t *cuts,
                    size_t ncuts)
{
    unsigned st = EDDY_UTF8_ACCEPT;
    size_t from = 0, fail = len;
    int complete;
    size_t ref = wf_utf8_reference(in, len, &complete);

    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len, n = to - from, r;
        uint8_t *piece = malloc(n ? n : 1);

        if (piece == NULL)
            return;
        if (n > 0)
            memcpy(piece, in + from, n);
        r = eddy__utf8_valid(&st, piece, n);
        free(piece);
        if (r != n) {
            fail = from + r;
            break;
        }
        from = to;
    }
    FUZZ_CHECK(fail == ref, "UTF-8 fails at the reference's byte");
    if (fail == len)
        FUZZ_CHECK((st == EDDY_UTF8_ACCEPT) == complete,
                   "UTF-8 complete as the reference says");
    else
        FUZZ_CHECK(st == EDDY_UTF8_REJECT, "UTF-8 rejected stays so");
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const uint64_t maxes[4] = {1 << 20, 0, 10, 200};
    fuzz_in in = {data, size};
    unsigned set = fuzz_byte(&in);
    wf_cfg cfg = {set & 1 ? EDDY_WS_CLIENT : EDDY_WS_SERVER,
                  set & 2 ? EDDY_WS_RSV1 : 0u, maxes[(set >> 2) & 3]};
    size_t cuts[WF_MAX_CUTS], ncuts = fuzz_cuts(&in, cuts, WF_MAX_CUTS);
    size_t fail_end = 0, dummy = 0;
    wf_run whole, part;

    wf_read(&cfg, in.p, in.n, NULL, 0, &whole, &dummy);
    wf_read(&cfg, in.p, in.n, cuts, ncuts, &part, &dummy);
    FUZZ_CHECK(wf_same(&whole, &part), "the same whole and in pieces");
    wf_free(&part);

    if ((set & 16) && in.n <= WF_MAX_DRIBBLE) {
        size_t *every = malloc((in.n ? in.n : 1) * sizeof *every);

        if (every != NULL) {
            for (size_t k = 1; k < in.n; k++)
                every[k - 1] = k;
            wf_read(&cfg, in.p, in.n, every, in.n ? in.n - 1 : 0, &part,
                    &fail_end);
            FUZZ_CHECK(wf_same(&whole, &part),
                       "the same whole and a byte at a time");
            if (part.ret != 0 && fail_end > 0) {
                wf_run before, with;

                /* Fail fast: not one byte later than it must. */
                wf_read(&cfg, in.p, fail_end - 1, NULL, 0, &before, &dummy);
                wf_read(&cfg, in.p, fail_end, NULL, 0, &with, &dummy);
                FUZZ_CHECK(before.ret == 0,
                           "no error before the byte that fails");
                FUZZ_CHECK(with.ret == part.ret,
                           "the same error with the byte that fails");
                wf_free(&before);
                wf_free(&with);
            }
            wf_free(&part);
            free(every);
        }
    }
    wf_free(&whole);

    wf_utf8(in.p, in.n, cuts, ncuts);
    return 0;
}
