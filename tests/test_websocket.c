/*
 * tests/test_websocket.c - the WebSocket protocol core (websocket/):
 * frames, masking, UTF-8, SHA-1 and base64, the handshake's checks, and
 * permessage-deflate's negotiation and codec, against RFC 6455, RFC 7692,
 * FIPS 180-4, RFC 4648 and Autobahn's cases.
 *
 * The frame cases are a table; every row is its own cmocka test and runs
 * in every way a peer could deliver it: whole, split in two at every
 * point, and a byte at a time.  Each way gives a transcript of what the
 * reader reported (messages, control frames, the error) and the ways must
 * agree; fed a byte at a time, an error must come with the byte the row
 * names, which is how "fails fast" is checked.  Every piece is copied to
 * end at a PROT_NONE guard page, so a read past it crashes.
 *
 * The UTF-8 cases are a second table, written after Autobahn's section 6
 * (Markus Kuhn's UTF-8 test file) with the index of the byte each invalid
 * text must fail at; they run split everywhere, byte by byte and framed
 * one byte per frame.  A reference that reasons about code point ranges
 * checks the automaton on every short sequence.
 *
 * Tests that need zlib run in builds with it (EDDY_ZLIB) and skip in
 * `make ZLIB=none`, where others check that compression is refused.
 */
#include "testutil.h"

#include "../websocket/ws_internal.h"

#ifdef EDDY_ZLIB
#include <zlib.h>
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* --- hex ------------------------------------------------------------- */

/* Hex digits (spaces ignored) into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;

    while (*s != '\0') {
        unsigned v;

        if (*s == ' ') {
            s++;
            continue;
        }
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* --- transcripts of the reader ------------------------------------------ */

typedef struct transcript {
    char *log;
    size_t len, cap;
    int in_msg;
    int ret;        /* 0 or the error */
    size_t fail_at; /* the last byte fed when it failed */
} transcript;

static void tr_put(transcript *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->log = realloc(t->log, t->cap);
        assert_non_null(t->log);
    }
    memcpy(t->log + t->len, s, n);
    t->len += n;
    t->log[t->len] = '\0';
}

static void tr_hex(transcript *t, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        char two[2] = {digits[p[i] >> 4], digits[p[i] & 15]};

        tr_put(t, two, 2);
    }
}

/* Messages as [T...] or [B...] ([Tz...] compressed), payload in hex;
 * control frames as {9:...} (ping), {A:...} (pong), {C1000:reason}. */
static void tr_event(transcript *t, const eddy__ws_event *ev)
{
    char tmp[32];

    if (ev->type == EDDY_WS_EV_DATA) {
        if (!t->in_msg) {
            snprintf(tmp, sizeof tmp, "[%c%s",
                     ev->opcode == EDDY_WS_TEXT ? 'T' : 'B',
                     ev->compressed ? "z" : "");
            tr_put(t, tmp, strlen(tmp));
            t->in_msg = 1;
        }
        tr_hex(t, ev->data, ev->len);
        if (ev->fin) {
            tr_put(t, "]", 1);
            t->in_msg = 0;
        }
        return;
    }
    assert_int_equal(ev->type, EDDY_WS_EV_CONTROL);
    if (ev->opcode == EDDY_WS_CLOSE)
        snprintf(tmp, sizeof tmp, "{C%u:", ev->code);
    else
        snprintf(tmp, sizeof tmp, "{%X:", ev->opcode);
    tr_put(t, tmp, strlen(tmp));
    tr_hex(t, ev->data, ev->len);
    tr_put(t, "}", 1);
}

typedef struct reader_cfg {
    int role;
    unsigned rsv_ok;
    uint64_t max; /* 0: 1 MiB */
} reader_cfg;

static void reader_start(eddy__ws_reader *r, const reader_cfg *cfg)
{
    /* Scribbled over first: nothing may depend on what init leaves. */
    memset(r, 0xa5, sizeof *r);
    eddy__ws_reader_init(r, cfg->role, cfg->max ? cfg->max : 1 << 20);
    r->rsv_ok = (uint8_t)cfg->rsv_ok;
}

/* Feeds in[from, to) as one piece; 0 or the error. */
static int feed(eddy__ws_reader *r, transcript *t, const uint8_t *in,
                size_t from, size_t to)
{
    size_t n = to - from, at = 0;
    uint8_t *buf = tu_guarded(in + from, n);

    while (at < n) {
        eddy__ws_event ev;
        size_t used = 99999;
        int ret = eddy__ws_read(r, buf + at, n - at, &used, &ev);

        if (ret < 0) {
            t->ret = ret;
            t->fail_at = to - 1;
            return ret;
        }
        assert_int_equal(ret, 0);
        assert_true(used <= n - at);
        at += used;
        if (ev.type == EDDY_WS_EV_NONE) {
            assert_int_equal(at, n); /* NONE: all taken */
            break;
        }
        assert_true(used > 0);
        tr_event(t, &ev);
    }
    return 0;
}

/* Feeds in[0, n) in the pieces that cuts[0, ncuts) mark. */
static void run_cuts(const reader_cfg *cfg, const uint8_t *in, size_t n,
                     const size_t *cuts, size_t ncuts, transcript *t)
{
    eddy__ws_reader r;
    size_t from = 0;

    memset(t, 0, sizeof *t);
    tr_put(t, "", 0);
    reader_start(&r, cfg);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;

        if (feed(&r, t, in, from, to) < 0)
            return;
        from = to;
    }
}

static void run_whole(const reader_cfg *cfg, const uint8_t *in, size_t n,
                      transcript *t)
{
    run_cuts(cfg, in, n, NULL, 0, t);
}

static void run_bytes(const reader_cfg *cfg, const uint8_t *in, size_t n,
                      transcript *t)
{
    eddy__ws_reader r;

    memset(t, 0, sizeof *t);
    tr_put(t, "", 0);
    reader_start(&r, cfg);
    for (size_t i = 0; i < n; i++)
        if (feed(&r, t, in, i, i + 1) < 0)
            return;
}

/* What every way of feeding must share with the whole: the result, and
 * the whole's transcript (which an error may cut shorter) first. */
static void check_same(const transcript *whole, const transcript *t,
                       const char *how)
{
    if (t->ret != whole->ret || t->len < whole->len ||
        memcmp(t->log, whole->log, whole->len) != 0 ||
        (t->ret == 0 && t->len != whole->len))
        fail_msg("%s: ret %d log %s, whole: ret %d log %s", how, t->ret, t->log,
                 whole->ret, whole->log);
}

/*
 * Runs in[0, n) whole, byte by byte and split at every point (for long
 * inputs, every point of the first and last 600 bytes; 40 under
 * valgrind): the
 * same result each way.  Returns the whole's transcript (caller frees
 * log); *fail_byte is where the byte-by-byte run failed.
 */
static transcript run_all_ways(const reader_cfg *cfg, const uint8_t *in,
                               size_t n, size_t *fail_byte)
{
    transcript whole, t;
    char how[64];
    size_t edge = tu_valgrind() ? 40 : 600;

    run_whole(cfg, in, n, &whole);
    run_bytes(cfg, in, n, &t);
    check_same(&whole, &t, "byte by byte");
    *fail_byte = t.fail_at;
    free(t.log);
    for (size_t k = 1; k < n; k++) {
        if (n > 2 * edge && k == edge)
            k = n - edge;
        run_cuts(cfg, in, n, &k, 1, &t);
        snprintf(how, sizeof how, "split at %zu", k);
        check_same(&whole, &t, how);
        free(t.log);
    }
    return whole;
}

/* --- frames: the table ---------------------------------------------------- */

#define S EDDY_WS_SERVER
#define C EDDY_WS_CLIENT
#define R1 EDDY_WS_RSV1
#define E1002 (-EDDY_WS_PROTOCOL_ERROR)
#define E1007 (-EDDY_WS_INVALID_DATA)
#define E1009 (-EDDY_WS_MESSAGE_TOO_BIG)

typedef struct frame_case {
    const char *name;
    int role;
    unsigned rsv_ok;
    uint64_t max;    /* 0: 1 MiB */
    const char *hex; /* the bytes */
    int err;         /* 0, or the error */
    int at;          /* fed a byte at a time, the byte it fails at */
    const char *log; /* the transcript (up to the error) */
} frame_case;

static const frame_case frame_cases[] = {
    /* RFC 6455 5.7's examples. */
    {"5.7 unmasked Hello", C, 0, 0, "81 05 48656c6c6f", 0, 0, "[T48656c6c6f]"},
    {"5.7 masked Hello", S, 0, 0, "81 85 37fa213d 7f9f4d5158", 0, 0,
     "[T48656c6c6f]"},
    {"5.7 fragmented Hello", C, 0, 0, "01 03 48656c 80 02 6c6f", 0, 0,
     "[T48656c6c6f]"},
    {"5.7 unmasked ping", C, 0, 0, "89 05 48656c6c6f", 0, 0, "{9:48656c6c6f}"},
    {"5.7 masked pong", S, 0, 0, "8a 85 37fa213d 7f9f4d5158", 0, 0,
     "{A:48656c6c6f}"},
    /* Framing that must work. */
    {"empty text", C, 0, 0, "81 00", 0, 0, "[T]"},
    {"empty fragments", C, 0, 0, "02 00 00 00 80 00", 0, 0, "[B]"},
    {"two messages", C, 0, 0, "81 01 41 82 02 ff00", 0, 0, "[T41][Bff00]"},
    {"binary need not be UTF-8", C, 0, 0, "82 03 ff c0 80", 0, 0, "[Bffc080]"},
    {"ping between fragments", C, 0, 0, "01 03 48656c 89 00 80 02 6c6f", 0, 0,
     "[T48656c{9:}6c6f]"},
    {"close between fragments", C, 0, 0, "01 01 41 88 02 03e8", 0, 0,
     "[T41{C1000:}"},
    {"masked control between masked fragments", S, 0, 0,
     "01 81 01020304 40 8a 82 01020304 6867 80 81 00000000 42", 0, 0,
     "[T41{A:6965}42]"},
    {"16-bit length for 5 bytes", C, 0, 0, "81 7e 0005 48656c6c6f", 0, 0,
     "[T48656c6c6f]"},
    {"64-bit length for 5 bytes", C, 0, 0, "81 7f 0000000000000005 48656c6c6f",
     0, 0, "[T48656c6c6f]"},
    {"close without code", C, 0, 0, "88 00", 0, 0, "{C1005:}"},
    {"close 1000 bye", S, 0, 0, "88 85 00000000 03e8627965", 0, 0,
     "{C1000:627965}"},
    {"close 4999", C, 0, 0, "88 02 1387", 0, 0, "{C4999:}"},
    {"close reason UTF-8", C, 0, 0, "88 05 03e8 e282ac", 0, 0,
     "{C1000:e282ac}"},
    {"UTF-8 across frames", C, 0, 0, "01 01 e2 00 01 82 80 01 ac", 0, 0,
     "[Te282ac]"},
    {"compressed with deflate on", C, R1, 0, "c1 07 f248cdc9c90700", 0, 0,
     "[Tzf248cdc9c90700]"},
    {"compressed text is not checked here", C, R1, 0, "c1 02 ffff", 0, 0,
     "[Tzffff]"},
    {"compressed fragments", C, R1, 0, "41 03 f248cd 80 04 c9c90700", 0, 0,
     "[Tzf248cdc9c90700]"},
    {"uncompressed with deflate on", C, R1, 0, "81 01 41", 0, 0, "[T41]"},
    {"message of exactly max", C, 0, 3, "02 02 0102 80 01 03", 0, 0,
     "[B010203]"},

    /* 5.1: masking per role. */
    {"unmasked frame to a server", S, 0, 0, "81 05 48656c6c6f", E1002, 1, ""},
    {"masked frame to a client", C, 0, 0, "81 85 37fa213d 7f9f4d5158", E1002, 1,
     ""},
    {"unmasked ping to a server", S, 0, 0, "89 00", E1002, 1, ""},
    /* 5.2: reserved bits and opcodes. */
    {"RSV1 without an extension", C, 0, 0, "c1 01 41", E1002, 0, ""},
    {"RSV2", C, R1, 0, "a1 01 41", E1002, 0, ""},
    {"RSV3", C, R1, 0, "91 01 41", E1002, 0, ""},
    {"RSV1 on a continuation", C, R1, 0, "41 01 00 c0 01 00", E1002, 3,
     "[Tz00"},
    {"RSV1 on a ping", C, R1, 0, "c9 00", E1002, 0, ""},
    {"RSV1 on a close", C, R1, 0, "c8 00", E1002, 0, ""},
    {"opcode 3", C, 0, 0, "83 00", E1002, 0, ""},
    {"opcode 7", C, 0, 0, "87 00", E1002, 0, ""},
    {"opcode 0xB", C, 0, 0, "8b 00", E1002, 0, ""},
    {"opcode 0xF", C, 0, 0, "8f 00", E1002, 0, ""},
    {"opcode 3 after a message", C, 0, 0, "81 01 41 83 00", E1002, 3, "[T41]"},
    /* 5.5: control frames. */
    {"ping of 126 bytes", C, 0, 0, "89 7e 007e", E1002, 1, ""},
    {"close of 127-byte length", C, 0, 0, "88 7f", E1002, 1, ""},
    {"fragmented ping", C, 0, 0, "09 00", E1002, 0, ""},
    {"fragmented close", C, 0, 0, "08 00", E1002, 0, ""},
    {"close of 1 byte", C, 0, 0, "88 01 03", E1002, 2, ""},
    {"close 999", C, 0, 0, "88 02 03e7", E1002, 3, ""},
    {"close 1005", C, 0, 0, "88 02 03ed", E1002, 3, ""},
    {"close reason not UTF-8", C, 0, 0, "88 04 03e8 ff41", E1007, 5, ""},
    {"close reason cut off", C, 0, 0, "88 03 03e8 e2", E1007, 4, ""},
    {"close, Autobahn 7.5.1", C, 0, 0,
     "88 16 03e8 cebae1bdb9cf83cebcceb5eda080656469746564", E1007, 23, ""},
    /* 5.4: fragmentation. */
    {"continuation first", C, 0, 0, "80 00", E1002, 0, ""},
    {"continuation after a message", C, 0, 0, "81 01 41 00 01 42", E1002, 3,
     "[T41]"},
    {"new message inside one", C, 0, 0, "01 01 41 81 01 42", E1002, 3, "[T41"},
    {"new binary inside a text", C, 0, 0, "01 00 02 00", E1002, 2, ""},
    /* 5.2: the 64-bit length. */
    {"64-bit length with the top bit", C, 0, 0, "82 7f 8000000000000000", E1002,
     2, ""},
    {"64-bit length, top bit, masked", S, 0, 0, "82 ff ff", E1002, 2, ""},
    /* Limits: 1009 at the header that passes max. */
    {"frame over max", C, 0, 5, "82 06 010203040506", E1009, 1, ""},
    {"16-bit frame over max", C, 0, 200, "82 7e 00c9", E1009, 3, ""},
    {"64-bit frame over max", C, 0, 200, "82 7f 00000000000000c9", E1009, 9,
     ""},
    {"fragments over max", C, 0, 5, "02 03 010203 80 03 040506", E1009, 6,
     "[B010203"},
    {"huge 64-bit length", C, 0, 0, "82 7f 7fffffffffffffff", E1009, 9, ""},
    {"compressed: twice max + 1 KiB on the wire", C, R1, 1, "c2 7e 0403", E1009,
     3, ""},
    /* 8.1: UTF-8 in text messages. */
    {"text not UTF-8", C, 0, 0, "81 03 41 ff 42", E1007, 3, ""},
    {"text cut off at the end", C, 0, 0, "81 02 41 e2", E1007, 3, ""},
    {"text cut off across frames", C, 0, 0, "01 01 e2 80 01 82", E1007, 5,
     "[Te2"},
    {"surrogate across frames", C, 0, 0, "01 01 ed 80 01 a0", E1007, 5, "[Ted"},
    {"masked text not UTF-8", S, 0, 0, "81 83 00000000 41 c0 80", E1007, 7, ""},
    {"Autobahn 6.4.1's payload", C, 0, 0,
     "81 14 cebae1bdb9cf83cebcceb5eda080656469746564", E1007, 14, ""},
};

static void run_frame_case(void **state)
{
    const frame_case *c = *state;
    reader_cfg cfg = {c->role, c->rsv_ok, c->max};
    uint8_t in[1024];
    size_t n = unhex(c->hex, in), fail_byte;
    transcript whole = run_all_ways(&cfg, in, n, &fail_byte);

    if (whole.ret != c->err || strcmp(whole.log, c->log) != 0)
        fail_msg("ret %d log %s, expected ret %d log %s", whole.ret, whole.log,
                 c->err, c->log);
    if (c->err != 0)
        assert_int_equal(fail_byte, c->at);
    free(whole.log);
}

/* RFC 6455 5.7's 256-byte and 64 KiB binary messages, and their headers
 * as the writer makes them. */
static void long_frames(void **state)
{
    static const size_t lens[] = {256, 65536};
    static const char *heads[] = {"82 7e 0100", "82 7f 0000000000010000"};
    reader_cfg cfg = {C, 0, 0};

    (void)state;
    for (size_t i = 0; i < COUNT(lens); i++) {
        uint8_t *in = malloc(lens[i] + 10), hdr[EDDY_WS_MAX_HEADER];
        size_t h = unhex(heads[i], in), fail_byte;
        transcript whole, expect;

        assert_int_equal(
            eddy__ws_write_header(hdr, EDDY_WS_BINARY, 1, 0, lens[i], NULL), h);
        assert_memory_equal(hdr, in, h);
        for (size_t k = 0; k < lens[i]; k++)
            in[h + k] = (uint8_t)(k * 7);
        memset(&expect, 0, sizeof expect);
        tr_put(&expect, "[B", 2);
        tr_hex(&expect, in + h, lens[i]);
        tr_put(&expect, "]", 1);
        whole = run_all_ways(&cfg, in, h + lens[i], &fail_byte);
        assert_int_equal(whole.ret, 0);
        assert_string_equal(whole.log, expect.log);
        free(whole.log);
        free(expect.log);
        free(in);
    }
}

/* Control frames of 125 bytes, the most they may carry, masked or not. */
static void control_125(void **state)
{
    static const uint8_t mask[4] = {1, 2, 3, 4};
    uint8_t in[200], payload[125];
    transcript whole, expect;
    size_t fail_byte;

    (void)state;
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 3);
    for (int role = 0; role < 2; role++) {
        reader_cfg cfg = {role, 0, 0};
        size_t h = eddy__ws_write_header(in, EDDY_WS_PING, 1, 0, 125,
                                         role == S ? mask : NULL);

        if (role == S)
            eddy__ws_mask_copy(in + h, payload, 125, mask, 0);
        else
            memcpy(in + h, payload, 125);
        memset(&expect, 0, sizeof expect);
        tr_put(&expect, "{9:", 3);
        tr_hex(&expect, payload, 125);
        tr_put(&expect, "}", 1);
        whole = run_all_ways(&cfg, in, h + 125, &fail_byte);
        assert_int_equal(whole.ret, 0);
        assert_string_equal(whole.log, expect.log);
        free(whole.log);
        free(expect.log);
    }
}

/* Every close code: those that may be sent pass, the rest are 1002. */
static void close_codes(void **state)
{
    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                     1009, 1010, 1011, 1012, 1013, 1014,
                                     3000, 3999, 4000, 4999};
    static const unsigned invalid[] = {0,    999,  1004, 1005, 1006, 1015,
                                       1016, 1100, 2000, 2999, 5000, 65535};
    reader_cfg cfg = {C, 0, 0};

    (void)state;
    for (unsigned code = 0; code < 65536; code++) {
        uint8_t in[4] = {0x88, 2, (uint8_t)(code >> 8), (uint8_t)code};
        int ok = eddy__ws_close_code_ok(code);
        transcript t;

        run_whole(&cfg, in, 4, &t);
        assert_int_equal(t.ret, ok ? 0 : E1002);
        free(t.log);
    }
    for (size_t i = 0; i < COUNT(valid); i++)
        assert_true(eddy__ws_close_code_ok(valid[i]));
    for (size_t i = 0; i < COUNT(invalid); i++)
        assert_false(eddy__ws_close_code_ok(invalid[i]));
}

/* Every opcode in every role: 0-2 and 8-10 exist, the rest are 1002. */
static void opcodes(void **state)
{
    (void)state;
    for (unsigned op = 0; op < 16; op++) {
        for (int role = 0; role < 2; role++) {
            uint8_t in[6] = {(uint8_t)(0x80 | op),
                             (uint8_t)(role == S ? 0x80 : 0),
                             0,
                             0,
                             0,
                             0};
            reader_cfg cfg = {role, 0, 0};
            transcript t;
            int known = op <= 2 || (op >= 8 && op <= 10);

            run_whole(&cfg, in, role == S ? 6 : 2, &t);
            if (!known || op == EDDY_WS_CONTINUATION)
                assert_int_equal(t.ret, E1002);
            else
                assert_int_equal(t.ret, 0);
            free(t.log);
        }
    }
}

/* The header parser alone: what it reports of partial headers. */
static void parse_header_parts(void **state)
{
    uint8_t in[14];
    size_t n = unhex("82 fe 0100 01020304", in);
    eddy__ws_header h;

    (void)state;
    memset(&h, 0, sizeof h);
    assert_int_equal(eddy__ws_parse_header(in, 0, S, 0, &h), 0);
    assert_int_equal(h.size, 2);
    assert_int_equal(eddy__ws_parse_header(in, 1, S, 0, &h), 0);
    assert_int_equal(h.size, 2);
    for (size_t k = 2; k < n; k++) {
        assert_int_equal(eddy__ws_parse_header(in, k, S, 0, &h), 0);
        assert_int_equal(h.size, 8);
    }
    assert_int_equal(eddy__ws_parse_header(in, n, S, 0, &h), 8);
    assert_int_equal(h.size, 8);
    assert_int_equal(h.len, 256);
    assert_int_equal(h.opcode, EDDY_WS_BINARY);
    assert_int_equal(h.fin, 1);
    assert_int_equal(h.rsv, 0);
    assert_int_equal(h.masked, 1);
    assert_memory_equal(h.mask, "\x01\x02\x03\x04", 4);
    /* A client must not read that masked frame. */
    assert_int_equal(eddy__ws_parse_header(in, n, C, 0, &h), E1002);
    assert_int_equal(eddy__ws_parse_header(in, 1, C, 0, &h), 0);
    /* RSV1 where allowed. */
    in[0] = 0xc1;
    assert_int_equal(eddy__ws_parse_header(in, n, S, R1, &h), 8);
    assert_int_equal(h.rsv, 4);
}

/* eddy__ws_need() through a header and a payload. */
static void need(void **state)
{
    eddy__ws_reader r;
    eddy__ws_event ev;
    uint8_t in[300];
    size_t used;

    (void)state;
    memset(in, 'x', sizeof in);
    unhex("82 7e 012c", in);
    eddy__ws_reader_init(&r, C, 1000);
    assert_int_equal(eddy__ws_need(&r), 2);
    assert_int_equal(eddy__ws_read(&r, in, 1, &used, &ev), 0);
    assert_int_equal(used, 1);
    assert_int_equal(eddy__ws_need(&r), 1);
    assert_int_equal(eddy__ws_read(&r, in + 1, 1, &used, &ev), 0);
    assert_int_equal(eddy__ws_need(&r), 2);
    assert_int_equal(eddy__ws_read(&r, in + 2, 2, &used, &ev), 0);
    assert_int_equal(ev.type, EDDY_WS_EV_NONE);
    assert_int_equal(eddy__ws_need(&r), 300);
    assert_int_equal(eddy__ws_read(&r, in + 4, 100, &used, &ev), 0);
    assert_int_equal(used, 100);
    assert_int_equal(ev.type, EDDY_WS_EV_DATA);
    assert_int_equal(ev.fin, 0);
    assert_int_equal(eddy__ws_need(&r), 200);
    assert_int_equal(eddy__ws_read(&r, in + 104, 196, &used, &ev), 0);
    assert_int_equal(ev.fin, 0); /* 4 bytes still to come */
    assert_int_equal(eddy__ws_need(&r), 4);
    /* Nothing at all: nothing happens. */
    assert_int_equal(eddy__ws_read(&r, NULL, 0, &used, &ev), 0);
    assert_int_equal(used, 0);
    assert_int_equal(ev.type, EDDY_WS_EV_NONE);
}

/* Data is handed over where it lies, unmasked in place. */
static void zero_copy(void **state)
{
    uint8_t in[32];
    size_t n = unhex("81 85 37fa213d 7f9f4d5158 89 80 00000000", in), used;
    eddy__ws_reader r;
    eddy__ws_event ev;

    (void)state;
    eddy__ws_reader_init(&r, S, 100);
    assert_int_equal(eddy__ws_read(&r, in, n, &used, &ev), 0);
    assert_int_equal(used, 11);
    assert_ptr_equal(ev.data, in + 6);
    assert_memory_equal(in + 6, "Hello", 5);
    assert_int_equal(eddy__ws_read(&r, in + used, n - used, &used, &ev), 0);
    assert_int_equal(ev.type, EDDY_WS_EV_CONTROL);
    assert_int_equal(ev.opcode, EDDY_WS_PING);
    assert_int_equal(ev.len, 0);
}

/* --- the writer ----------------------------------------------------------- */

static void write_headers(void **state)
{
    static const uint64_t lens[] = {0,     1,     125,        126,
                                    65535, 65536, 1ull << 32, (1ull << 63) - 1};
    static const size_t sizes[] = {2, 2, 2, 4, 4, 10, 10, 10};
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t out[EDDY_WS_MAX_HEADER], want[16];

    (void)state;
    for (size_t i = 0; i < COUNT(lens); i++) {
        for (int masked = 0; masked < 2; masked++) {
            eddy__ws_header h;
            size_t n =
                eddy__ws_write_header(out, EDDY_WS_BINARY, i & 1, (int)(i & 2),
                                      lens[i], masked ? mask : NULL);

            assert_int_equal(n, sizes[i] + (masked ? 4 : 0));
            assert_int_equal(
                eddy__ws_parse_header(out, n, masked ? S : C, R1, &h), (int)n);
            assert_int_equal(h.len, lens[i]);
            assert_int_equal(h.fin, i & 1);
            assert_int_equal(h.rsv, i & 2 ? 4 : 0);
            assert_int_equal(h.opcode, EDDY_WS_BINARY);
            assert_int_equal(h.masked, masked);
            if (masked)
                assert_memory_equal(h.mask, mask, 4);
        }
    }
    /* RFC 6455 5.7, byte for byte. */
    assert_int_equal(eddy__ws_write_header(out, EDDY_WS_TEXT, 1, 0, 5, mask),
                     6);
    assert_int_equal(unhex("81 85 37fa213d", want), 6);
    assert_memory_equal(out, want, 6);
    assert_int_equal(eddy__ws_write_header(out, EDDY_WS_TEXT, 0, 0, 3, NULL),
                     2);
    assert_memory_equal(out, "\x01\x03", 2);
    assert_int_equal(eddy__ws_write_header(out, EDDY_WS_PONG, 1, 0, 5, NULL),
                     2);
    assert_memory_equal(out, "\x8a\x05", 2);
    /* RFC 7692 7.2.3.1: the compressed Hello's header has RSV1. */
    assert_int_equal(eddy__ws_write_header(out, EDDY_WS_TEXT, 1, 1, 7, NULL),
                     2);
    assert_memory_equal(out, "\xc1\x07", 2);
}

/* Masking 8 bytes at a time gives what the byte-wise rule gives, at every
 * alignment, phase and length. */
static void masking(void **state)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t src[160], dst[160], want[160];

    (void)state;
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i * 13 + 5);
    for (size_t align = 0; align < 8; align++) {
        for (uint64_t pos = 0; pos < 8; pos++) {
            for (size_t n = 0; n + align <= 150; n++) {
                for (size_t i = 0; i < n; i++)
                    want[i] = src[align + i] ^ mask[(pos + i) % 4];
                memset(dst, 0, sizeof dst);
                eddy__ws_mask_copy(dst + align, src + align, n, mask, pos);
                assert_memory_equal(dst + align, want, n);
                memcpy(dst + align, src + align, n);
                eddy__ws_mask(dst + align, n, mask, pos);
                assert_memory_equal(dst + align, want, n);
                /* Twice is nothing. */
                eddy__ws_mask(dst + align, n, mask, pos);
                assert_memory_equal(dst + align, src + align, n);
            }
        }
    }
    /* RFC 6455 5.7: masked "Hello". */
    memcpy(dst, "Hello", 5);
    eddy__ws_mask(dst, 5, mask, 0);
    assert_memory_equal(dst, "\x7f\x9f\x4d\x51\x58", 5);
}

/* The client's masks come from the kernel, 16 at a time. */
static void masks_and_keys(void **state)
{
    eddy__ws_masks m;
    uint8_t masks[40][4];
    char key[EDDY_WS_KEY_LEN + 1], key2[EDDY_WS_KEY_LEN + 1];
    int differ = 0;

    (void)state;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(eddy__ws_mask_next(&m, masks[i]), 0);
        if (i > 0 && memcmp(masks[i], masks[i - 1], 4) != 0)
            differ++;
    }
    assert_true(differ >= 30); /* 2^-32 each to repeat */
    assert_int_equal(eddy__ws_client_key(key), 0);
    assert_int_equal(eddy__ws_client_key(key2), 0);
    assert_int_equal(strlen(key), EDDY_WS_KEY_LEN);
    assert_true(eddy__ws_key_ok(key, strlen(key)));
    assert_true(eddy__ws_key_ok(key2, strlen(key2)));
    assert_string_not_equal(key, key2);
    assert_int_equal(eddy__ws_random(NULL, 0), 0);
    {
        uint8_t big[600];

        memset(big, 0, sizeof big);
        assert_int_equal(eddy__ws_random(big, sizeof big), 0);
        /* Past getentropy's 256 bytes too: not all left zero. */
        differ = 0;
        for (size_t i = 512; i < sizeof big; i++)
            differ += big[i] != 0;
        assert_true(differ > 40);
    }
}

static void close_payloads(void **state)
{
    uint8_t out[EDDY_WS_MAX_CONTROL];
    char reason[130];

    (void)state;
    memset(reason, 'r', sizeof reason);
    assert_int_equal(eddy__ws_close_payload(out, 1000, "bye", 3), 5);
    assert_memory_equal(out,
                        "\x03\xe8"
                        "bye",
                        5);
    assert_int_equal(eddy__ws_close_payload(out, 4999, NULL, 0), 2);
    assert_memory_equal(out, "\x13\x87", 2);
    assert_int_equal(eddy__ws_close_payload(out, 0, NULL, 0), 0);
    assert_int_equal(eddy__ws_close_payload(out, 0, "x", 1), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 1005, NULL, 0), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 1006, NULL, 0), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 1015, NULL, 0), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 5000, NULL, 0), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 1000, reason, 123), 125);
    assert_int_equal(eddy__ws_close_payload(out, 1000, reason, 124), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 1001, "\xe2\x82", 2), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 1001, "\xff", 1), -EINVAL);
    assert_int_equal(eddy__ws_close_payload(out, 1001, "\xe2\x82\xac", 3), 5);
}

/* --- UTF-8 ---------------------------------------------------------------- */

#define END (-2) /* valid so far, but cut off at the end */
#define VALID (-1)

typedef struct utf8_case {
    const char *name;
    const char *hex;
    int fail; /* VALID, END, or the index of the byte it fails at */
} utf8_case;

static const utf8_case utf8_cases[] = {
    /* 6.1-6.2: valid texts and every prefix of one. */
    {"empty", "", VALID},
    {"hello$world", "68656c6c6f24776f726c64", VALID},
    {"U+00A2", "68656c6c6fc2a2776f726c64", VALID},
    {"U+20AC", "68656c6c6fe282ac776f726c64", VALID},
    {"U+24B62", "68656c6c6ff0a4ada2776f726c64", VALID},
    {"kosme", "cebae1bdb9cf83cebcceb5", VALID},
    {"kosme cut in a character", "cebae1bdb9cf83cebcce", END},
    {"kosme cut after a lead", "cebae1", END},
    /* 6.3: valid text, then something invalid (and Autobahn's fail fast). */
    {"kosme + surrogate", "cebae1bdb9cf83cebcceb5eda080656469746564", 12},
    {"edited + surrogate", "656469746564eda080", 7},
    /* 6.5-6.7: the first and last of each length, and other edges. */
    {"U+0000", "00", VALID},
    {"U+0080", "c280", VALID},
    {"U+0800", "e0a080", VALID},
    {"U+10000", "f0908080", VALID},
    {"U+007F", "7f", VALID},
    {"U+07FF", "dfbf", VALID},
    {"U+FFFF", "efbfbf", VALID},
    {"U+10FFFF", "f48fbfbf", VALID},
    {"U+D7FF", "ed9fbf", VALID},
    {"U+E000", "ee8080", VALID},
    {"U+FFFD", "efbfbd", VALID},
    {"U+110000", "f4908080", 1},
    {"5-byte first", "f888808080", 0},
    {"6-byte first", "fc8480808080", 0},
    {"4-byte last, past U+10FFFF", "f7bfbfbf", 0},
    {"5-byte last", "fbbfbfbfbf", 0},
    {"6-byte last", "fdbfbfbfbfbf", 0},
    /* 6.8: continuation bytes alone. */
    {"80", "80", 0},
    {"bf", "bf", 0},
    {"80 bf", "80bf", 0},
    {"after ASCII", "41424380", 3},
    {"all continuations", "808182838485868788898a8b8c8d8e8f", 0},
    /* 6.9: lonely start bytes followed by a space. */
    {"c2 space", "c220", 1},
    {"df space", "df20", 1},
    {"e0 space", "e020", 1},
    {"ef space", "ef20", 1},
    {"f0 space", "f020", 1},
    {"f4 space", "f420", 1},
    {"e1 80 space", "e18020", 2},
    {"f1 80 80 space", "f1808020", 3},
    /* 6.10: the last continuation byte missing, at the end. */
    {"c2 at the end", "c2", END},
    {"e0 a0 at the end", "e0a0", END},
    {"f0 90 80 at the end", "f09080", END},
    {"df at the end", "df", END},
    {"ef bf at the end", "efbf", END},
    {"f4 8f bf at the end", "f48fbf", END},
    {"c0 at the end", "c0", 0},
    {"e0 80 at the end", "e080", 1},
    {"f0 80 80 at the end", "f08080", 1},
    {"f7 bf bf at the end", "f7bfbf", 0},
    /* 6.11: incomplete sequences in a row. */
    {"incompletes",
     "c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbf"
     "bf",
     0},
    {"incompletes, valid leads", "dfefbf", 1},
    /* 6.12: impossible bytes. */
    {"fe", "fe", 0},
    {"ff", "ff", 0},
    {"fe fe ff ff", "fefeffff", 0},
    {"f5", "f5", 0},
    {"after a character", "c2a2ff", 2},
    /* 6.13-6.15: overlong forms. */
    {"overlong / 2", "c0af", 0},
    {"overlong / 3", "e080af", 1},
    {"overlong / 4", "f08080af", 1},
    {"overlong / 5", "f8808080af", 0},
    {"overlong / 6", "fc80808080af", 0},
    {"max overlong 2", "c1bf", 0},
    {"max overlong 3", "e09fbf", 1},
    {"max overlong 4", "f08fbfbf", 1},
    {"max overlong 5", "f887bfbfbf", 0},
    {"overlong NUL 2", "c080", 0},
    {"overlong NUL 3", "e08080", 1},
    {"overlong NUL 4", "f0808080", 1},
    /* 6.16-6.17: surrogates, alone and paired. */
    {"U+D800", "eda080", 1},
    {"U+DB7F", "edadbf", 1},
    {"U+DB80", "edae80", 1},
    {"U+DBFF", "edafbf", 1},
    {"U+DC00", "edb080", 1},
    {"U+DF80", "edbe80", 1},
    {"U+DFFF", "edbfbf", 1},
    {"U+D800 U+DC00", "eda080edb080", 1},
    {"U+DBFF U+DFFF", "edafbfedbfbf", 1},
    {"surrogate after text", "41eda080", 2},
    /* 6.18-6.20: non-characters and specials are valid UTF-8. */
    {"U+FFFE", "efbfbe", VALID},
    {"U+1FFFE", "f09fbfbe", VALID},
    {"U+10FFFE", "f48fbfbe", VALID},
    {"U+FFF9", "efbfb9", VALID},
    /* The fast path: ASCII runs around multi-byte characters. */
    {"long ASCII then bad", "4142434445464748494a4b4c4d4e4f5051525354ff", 20},
    {"long ASCII, char, ASCII",
     "41424344454647484142434445464748c2a24142434445464748414243444546474841"
     "42434445464748",
     VALID},
    {"long ASCII then cut", "41424344454647484142434445464748414243e2", END},
};

/* The fail index of a case: for VALID and END, the length. */
static size_t utf8_expect(const utf8_case *c, size_t n)
{
    return c->fail >= 0 ? (size_t)c->fail : n;
}

/* Validates p[0, n) in the pieces cuts mark; the fail index and state. */
static size_t utf8_pieces(const uint8_t *p, size_t n, const size_t *cuts,
                          size_t ncuts, unsigned *state)
{
    size_t from = 0;

    *state = EDDY_UTF8_ACCEPT;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        const uint8_t *g = tu_guarded(p + from, to - from);
        size_t r = eddy__utf8_valid(state, g, to - from);

        if (r != to - from) {
            assert_int_equal(*state, EDDY_UTF8_REJECT);
            return from + r;
        }
        from = to;
    }
    return n;
}

static void run_utf8_case(void **state)
{
    const utf8_case *c = *state;
    uint8_t in[512], framed[2048];
    size_t n = unhex(c->hex, in), want = utf8_expect(c, n), fail_byte;
    unsigned st;
    reader_cfg cfg = {C, 0, 0};
    transcript t;

    /* Whole, split everywhere, byte by byte. */
    assert_int_equal(utf8_pieces(in, n, NULL, 0, &st), want);
    assert_int_equal(st == EDDY_UTF8_ACCEPT, c->fail == VALID);
    for (size_t k = 1; k < n; k++) {
        assert_int_equal(utf8_pieces(in, n, &k, 1, &st), want);
        assert_int_equal(st == EDDY_UTF8_ACCEPT, c->fail == VALID);
    }
    if (n > 1) { /* a byte at a time */
        size_t cuts[512];

        for (size_t k = 1; k < n; k++)
            cuts[k - 1] = k;
        assert_int_equal(utf8_pieces(in, n, cuts, n - 1, &st), want);
    }
    /* Rejected stays rejected. */
    if (c->fail >= 0) {
        st = EDDY_UTF8_REJECT;
        assert_int_equal(eddy__utf8_valid(&st, (const uint8_t *)"A", 1), 0);
    }
    /* In one text frame: 1007 at that byte of the payload. */
    framed[0] = 0x81;
    framed[1] = (uint8_t)n;
    memcpy(framed + 2, in, n);
    if (n < 126) {
        t = run_all_ways(&cfg, framed, n + 2, &fail_byte);
        assert_int_equal(t.ret, c->fail == VALID ? 0 : E1007);
        if (c->fail != VALID)
            assert_int_equal(fail_byte,
                             c->fail >= 0 ? 2 + (size_t)c->fail : n + 1);
        free(t.log);
    }
    /* One byte per frame: it fails with the frame holding that byte. */
    if (n > 0) {
        for (size_t i = 0; i < n; i++) {
            framed[3 * i] = (uint8_t)(i == 0 ? 0x01 : 0x00);
            if (i == n - 1)
                framed[3 * i] |= 0x80;
            framed[3 * i + 1] = 1;
            framed[3 * i + 2] = in[i];
        }
        t = run_all_ways(&cfg, framed, 3 * n, &fail_byte);
        assert_int_equal(t.ret, c->fail == VALID ? 0 : E1007);
        if (c->fail != VALID)
            assert_int_equal(fail_byte,
                             3 * (c->fail >= 0 ? (size_t)c->fail : n - 1) + 2);
        free(t.log);
    }
}

/* A reference for "can p[0, n) still be valid": the code points a
 * partial sequence can still become form a range, and the prefix is good
 * while that range meets the valid ones of its length. */
static size_t utf8_reference(const uint8_t *p, size_t n, int *complete)
{
    size_t i = 0;

    *complete = 1;
    while (i < n) {
        uint8_t b = p[i];
        int len = b < 0x80                ? 1
                  : b >= 0xc0 && b < 0xe0 ? 2
                  : b >= 0xe0 && b < 0xf0 ? 3
                  : b >= 0xf0 && b < 0xf8 ? 4
                                          : 0;
        static const uint32_t min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
        uint32_t v;
        size_t start = i;

        if (len == 0)
            return i;
        if (len == 1) {
            i++;
            continue;
        }
        v = b & (0x7f >> len);
        for (int k = 1; k <= len; k++) {
            int rest = len - k;
            uint32_t lo = v << (6 * rest), hi = lo | ((1u << (6 * rest)) - 1);

            /* [lo, hi] must meet [min, 0x10FFFF] outside D800-DFFF. */
            if (hi < min_of[len] || lo > 0x10ffff ||
                (lo >= 0xd800 && hi <= 0xdfff))
                return start + (size_t)k - 1;
            if (k == len)
                break;
            if (start + (size_t)k == n) {
                *complete = 0;
                return n;
            }
            if ((p[start + (size_t)k] & 0xc0) != 0x80)
                return start + (size_t)k;
            v = v << 6 | (p[start + (size_t)k] & 0x3f);
        }
        i = start + (size_t)len;
    }
    return n;
}

/* The automaton against the reference on every 1- and 2-byte sequence,
 * every 3-byte one from E0 and F0 up (natively), and every code point. */
static void utf8_exhaustive(void **state)
{
    uint8_t s[4];
    unsigned st;
    int complete;
    uint32_t step = tu_valgrind() ? 97 : 1;

    (void)state;
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            s[0] = (uint8_t)a, s[1] = (uint8_t)b;
            for (size_t n = 1; n <= 2; n++) {
                size_t ref = utf8_reference(s, n, &complete);

                st = EDDY_UTF8_ACCEPT;
                assert_int_equal(eddy__utf8_valid(&st, s, n), ref);
                if (ref == n)
                    assert_int_equal(st == EDDY_UTF8_ACCEPT, complete);
            }
            for (unsigned c = 0; c < 256 && !tu_valgrind() && a >= 0xe0; c++) {
                size_t ref;

                s[2] = (uint8_t)c;
                ref = utf8_reference(s, 3, &complete);
                st = EDDY_UTF8_ACCEPT;
                assert_int_equal(eddy__utf8_valid(&st, s, 3), ref);
                if (ref == 3)
                    assert_int_equal(st == EDDY_UTF8_ACCEPT, complete);
            }
        }
    }
    for (uint32_t cp = 0; cp <= 0x10ffff; cp += step) {
        size_t n;

        if (cp < 0x80)
            s[0] = (uint8_t)cp, n = 1;
        else if (cp < 0x800)
            s[0] = (uint8_t)(0xc0 | cp >> 6), s[1] = 0x80 | (cp & 0x3f), n = 2;
        else if (cp < 0x10000)
            s[0] = (uint8_t)(0xe0 | cp >> 12), s[1] = 0x80 | ((cp >> 6) & 0x3f),
            s[2] = 0x80 | (cp & 0x3f), n = 3;
        else
            s[0] = (uint8_t)(0xf0 | cp >> 18),
            s[1] = 0x80 | ((cp >> 12) & 0x3f), s[2] = 0x80 | ((cp >> 6) & 0x3f),
            s[3] = 0x80 | (cp & 0x3f), n = 4;
        st = EDDY_UTF8_ACCEPT;
        if (cp >= 0xd800 && cp <= 0xdfff) {
            assert_int_equal(eddy__utf8_valid(&st, s, n), 1);
        } else {
            assert_int_equal(eddy__utf8_valid(&st, s, n), n);
            assert_int_equal(st, EDDY_UTF8_ACCEPT);
        }
    }
}

/* --- SHA-1 and base64 ----------------------------------------------------- */

static void hexstr(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void sha1_of(const void *p, size_t n, char *hex)
{
    eddy__sha1 c;
    uint8_t d[20];

    eddy__sha1_init(&c);
    eddy__sha1_update(&c, p, n);
    eddy__sha1_final(&c, d);
    hexstr(d, 20, hex);
}

static void sha1_vectors(void **state)
{
    /* FIPS 180-2's examples and common ones. */
    static const char *const in[] = {
        "", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijk"
         "lmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
        "The quick brown fox jumps over the lazy dog"};
    static const char *const out[] = {
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        "a49b2446a02c645bf419f995b67091253a04a259",
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"};
    char hex[41];
    uint8_t pat[300], d[20], all[257 * 20];
    eddy__sha1 c;

    (void)state;
    for (size_t i = 0; i < COUNT(in); i++) {
        sha1_of(in[i], strlen(in[i]), hex);
        assert_string_equal(hex, out[i]);
    }
    /* A million 'a', in uneven pieces. */
    {
        char a[1000];
        size_t done = 0, k = 1;

        memset(a, 'a', sizeof a);
        eddy__sha1_init(&c);
        while (done < 1000000) {
            size_t take = k % 997 + 1;

            if (take > 1000000 - done)
                take = 1000000 - done;
            eddy__sha1_update(&c, a, take);
            done += take, k += 37;
        }
        eddy__sha1_final(&c, d);
        hexstr(d, 20, hex);
        assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }
    /* Every length 0-256 (each padding case), checked through the SHA-1 of
     * the concatenated digests (hashlib's answer). */
    for (size_t i = 0; i < sizeof pat; i++)
        pat[i] = (uint8_t)(i * 31 + 7);
    for (size_t n = 0; n <= 256; n++) {
        eddy__sha1_init(&c);
        eddy__sha1_update(&c, pat, n / 3);
        eddy__sha1_update(&c, pat + n / 3, n - n / 3);
        eddy__sha1_final(&c, all + 20 * n);
    }
    sha1_of(all, sizeof all, hex);
    assert_string_equal(hex, "75c0885079d743318fc787a7aa779bb8641a723f");
}

static void base64(void **state)
{
    /* RFC 4648 10. */
    static const char *const plain[] = {"",     "f",     "fo",    "foo",
                                        "foob", "fooba", "foobar"};
    static const char *const coded[] = {
        "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const bad[] = {"Zg=",      "Zg",   "Z===", "====",
                                      "Zh==",     "Zm9=", "Zm 9", "Zm9v\n",
                                      "Zg==Zg==", "Z=g=", "Zm-v", "Zm_v"};
    char out[16];
    uint8_t raw[16];

    (void)state;
    for (size_t i = 0; i < COUNT(plain); i++) {
        size_t n = eddy__base64_encode((const uint8_t *)plain[i],
                                       strlen(plain[i]), out);

        assert_int_equal(n, strlen(coded[i]));
        assert_memory_equal(out, coded[i], n);
        assert_int_equal(eddy__base64_decode(coded[i], n, raw, sizeof raw),
                         strlen(plain[i]));
        assert_memory_equal(raw, plain[i], strlen(plain[i]));
    }
    for (size_t i = 0; i < COUNT(bad); i++)
        if (eddy__base64_decode(bad[i], strlen(bad[i]), raw, sizeof raw) !=
            -EINVAL)
            fail_msg("%s decoded", bad[i]);
    assert_int_equal(eddy__base64_decode("Zm9vYmFy", 8, raw, 5), -ENOSPC);
    assert_int_equal(eddy__base64_decode("Zm9vYg==", 8, raw, 4), 4);
    assert_int_equal(eddy__base64_decode("+/+/", 4, raw, 3), 3);
    assert_memory_equal(raw, "\xfb\xff\xbf", 3);
}

/* --- the handshake -------------------------------------------------------- */

static void accept_key(void **state)
{
    char out[EDDY_WS_ACCEPT_LEN + 1];
    static const char *const bad[] = {
        "dGhlIHNhbXBsZSBub25jZQ",    /* no padding */
        "dGhlIHNhbXBsZSBub25jZQ=",   /* short padding */
        "dGhlIHNhbXBsZSBub25jZQ===", /* 25 characters */
        "dGhlIHNhbXBsZSBub25jZR==",  /* bits set in the padding */
        "dGhlIHNhbXBsZSBub25j",      /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZ*==",  /* not base64 */
        "dGhlIHNhbXBsZSBub25jZQA=",  /* 17 bytes */
        " dGhlIHNhbXBsZSBub25jZQ==", ""};

    (void)state;
    /* RFC 6455 1.3. */
    eddy__ws_accept("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_true(eddy__ws_key_ok("dGhlIHNhbXBsZSBub25jZQ==", 24));
    assert_true(eddy__ws_key_ok("AAAAAAAAAAAAAAAAAAAAAA==", 24));
    assert_true(eddy__ws_key_ok("/////////////////////w==", 24));
    for (size_t i = 0; i < COUNT(bad); i++)
        if (eddy__ws_key_ok(bad[i], strlen(bad[i])))
            fail_msg("key %s accepted", bad[i]);
}

static int has(const char *list, const char *token, int nocase)
{
    return eddy__ws_list_has(list, strlen(list), token, nocase);
}

static void header_lists(void **state)
{
    const char *pos, *item, *list = " a ,, b\t,c d ,";
    size_t len;

    (void)state;
    /* Connection and Upgrade, as browsers send them. */
    assert_int_equal(has("Upgrade", "upgrade", 1), 1);
    assert_int_equal(has("keep-alive, Upgrade", "upgrade", 1), 1);
    assert_int_equal(has("Upgrade,keep-alive", "upgrade", 1), 1);
    assert_int_equal(has(" , ,UPGRADE , ", "upgrade", 1), 1);
    assert_int_equal(has("keep-alive", "upgrade", 1), 0);
    assert_int_equal(has("upgrades", "upgrade", 1), 0);
    assert_int_equal(has("", "upgrade", 1), 0);
    assert_int_equal(has("websocket", "websocket", 1), 1);
    assert_int_equal(has("WebSocket", "websocket", 1), 1);
    assert_int_equal(has("h2c, websocket", "websocket", 1), 1);
    assert_int_equal(has("keep-alive;x", "upgrade", 1), -EINVAL);
    assert_int_equal(has("up grade", "upgrade", 1), -EINVAL);
    /* Exact, for subprotocols. */
    assert_int_equal(has("chat, superchat", "chat", 0), 1);
    assert_int_equal(has("Chat", "chat", 0), 0);
    /* The elements as they come. */
    pos = list;
    assert_int_equal(eddy__ws_list_next(&pos, list + strlen(list), &item, &len),
                     1);
    assert_int_equal(len, 1);
    assert_memory_equal(item, "a", 1);
    assert_int_equal(eddy__ws_list_next(&pos, list + strlen(list), &item, &len),
                     1);
    assert_memory_equal(item, "b", len);
    assert_int_equal(eddy__ws_list_next(&pos, list + strlen(list), &item, &len),
                     1);
    assert_int_equal(len, 3);
    assert_memory_equal(item, "c d", 3);
    assert_int_equal(eddy__ws_list_next(&pos, list + strlen(list), &item, &len),
                     0);
    /* Version 13 only. */
    assert_true(eddy__ws_version_ok("13", 2));
    assert_true(eddy__ws_version_ok(" 13\t", 4));
    assert_false(eddy__ws_version_ok("8", 1));
    assert_false(eddy__ws_version_ok("13, 8", 5));
    assert_false(eddy__ws_version_ok("130", 3));
    assert_false(eddy__ws_version_ok("", 0));
    assert_false(eddy__ws_version_ok("1 3", 3));
}

static void subprotocols(void **state)
{
    static const char *const ours[] = {"superchat", "chat", NULL};
    static const char *const other[] = {"mqtt", NULL};
    eddy_str one[] = {{"chat, superchat", 15}};
    eddy_str two[] = {{"x, chat", 7}, {"superchat", 9}};
    eddy_str bad[] = {{"chat", 4}, {"super chat", 10}};
    eddy_str empty[] = {{"", 0}};

    (void)state;
    /* The server's order of preference decides. */
    assert_int_equal(eddy__ws_select_protocol(one, 1, ours), 0);
    assert_int_equal(eddy__ws_select_protocol(two, 2, ours), 0);
    assert_int_equal(eddy__ws_select_protocol(two, 1, ours), 1);
    assert_int_equal(eddy__ws_select_protocol(one, 1, other), -ENOENT);
    assert_int_equal(eddy__ws_select_protocol(one, 1, NULL), -ENOENT);
    assert_int_equal(eddy__ws_select_protocol(NULL, 0, ours), -ENOENT);
    assert_int_equal(eddy__ws_select_protocol(empty, 1, ours), -ENOENT);
    assert_int_equal(eddy__ws_select_protocol(bad, 2, ours), -EINVAL);
    assert_int_equal(eddy__ws_select_protocol(bad, 2, other), -EINVAL);
}

/* --- permessage-deflate: negotiation -------------------------------------- */

static eddy_ws_deflate_options opts(int snct, int cnct, int smwb, int cmwb)
{
    eddy_ws_deflate_options o;

    memset(&o, 0, sizeof o);
    o.enable = 1;
    o.server_no_context_takeover = snct;
    o.client_no_context_takeover = cnct;
    o.server_max_window_bits = smwb;
    o.client_max_window_bits = cmwb;
    return o;
}

typedef struct server_case {
    const char *name;
    eddy_ws_deflate_options o;
    const char *lines[3];
    int ret;
    const char *resp;
    eddy__ws_pmd agreed; /* snct, cnct, smwb, cmwb */
} server_case;

#define PMD "permessage-deflate"

static const server_case server_cases[] = {
    {"plain", {1, 0, 0, 0, 0, 0, 0, 0}, {PMD}, 1, PMD, {0, 0, 15, 15}},
    {"client_max_window_bits, no value",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits"},
     1,
     PMD,
     {0, 0, 15, 15}},
    {"client_max_window_bits=10",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits=10"},
     1,
     PMD "; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"server_max_window_bits=10",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_max_window_bits=10"},
     1,
     PMD "; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"server_max_window_bits=8",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_max_window_bits=8"},
     1,
     PMD "; server_max_window_bits=8",
     {0, 0, 8, 15}},
    {"both no_context_takeover",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_no_context_takeover; client_no_context_takeover"},
     1,
     PMD "; server_no_context_takeover; client_no_context_takeover",
     {1, 1, 15, 15}},
    {"the server's settings",
     {1, 1, 1, 12, 11, 0, 0, 0},
     {PMD "; client_max_window_bits"},
     1,
     PMD "; server_no_context_takeover; client_no_context_takeover; "
         "server_max_window_bits=12; client_max_window_bits=11",
     {1, 1, 12, 11}},
    {"the lower of two windows",
     {1, 0, 0, 12, 11, 0, 0, 0},
     {PMD "; server_max_window_bits=10; client_max_window_bits=9"},
     1,
     PMD "; server_max_window_bits=10; client_max_window_bits=9",
     {0, 0, 10, 9}},
    {"the server's lower window",
     {1, 0, 0, 9, 0, 0, 0, 0},
     {PMD "; server_max_window_bits=14"},
     1,
     PMD "; server_max_window_bits=9",
     {0, 0, 9, 15}},
    {"client window not offered",
     {1, 0, 0, 0, 11, 0, 0, 0},
     {PMD},
     1,
     PMD,
     {0, 0, 15, 15}},
    {"first valid offer wins",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; unknown=1, " PMD "; server_max_window_bits=16, " PMD
          "; client_max_window_bits=9, " PMD},
     1,
     PMD "; client_max_window_bits=9",
     {0, 0, 15, 9}},
    {"offers over lines",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {"x-webkit-deflate-frame", PMD "; server_no_context_takeover", PMD},
     1,
     PMD "; server_no_context_takeover",
     {1, 0, 15, 15}},
    {"another extension first",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {"foo; bar=\"baz, qux\", " PMD},
     1,
     PMD,
     {0, 0, 15, 15}},
    {"quoted value",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits=\"10\""},
     1,
     PMD "; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"quoted, escaped",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits=\"1\\0\""},
     1,
     PMD "; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"whitespace everywhere",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {" ,\t" PMD " ;\tclient_max_window_bits = 10 ; "
      "server_no_context_takeover ,,"},
     1,
     PMD "; server_no_context_takeover; client_max_window_bits=10",
     {1, 0, 15, 10}},
    {"names in any case",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {"PerMessage-Deflate; Server_No_Context_Takeover"},
     1,
     PMD "; server_no_context_takeover",
     {1, 0, 15, 15}},
    /* Declined offers: 0. */
    {"off", {0, 0, 0, 0, 0, 0, 0, 0}, {PMD}, 0, "", {0, 0, 0, 0}},
    {"no offer", {1, 0, 0, 0, 0, 0, 0, 0}, {"x-foo"}, 0, "", {0, 0, 0, 0}},
    {"nothing", {1, 0, 0, 0, 0, 0, 0, 0}, {" , "}, 0, "", {0, 0, 0, 0}},
    {"repeated parameter",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_no_context_takeover; server_no_context_takeover"},
     0,
     "",
     {0, 0, 0, 0}},
    {"repeated window",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits; client_max_window_bits=9"},
     0,
     "",
     {0, 0, 0, 0}},
    {"value on a flag",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_no_context_takeover=1"},
     0,
     "",
     {0, 0, 0, 0}},
    {"server window without value",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_max_window_bits"},
     0,
     "",
     {0, 0, 0, 0}},
    {"window 7",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_max_window_bits=7"},
     0,
     "",
     {0, 0, 0, 0}},
    {"window 16",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits=16"},
     0,
     "",
     {0, 0, 0, 0}},
    {"window 09",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits=09"},
     0,
     "",
     {0, 0, 0, 0}},
    {"window 0x9",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_max_window_bits=0x9"},
     0,
     "",
     {0, 0, 0, 0}},
    {"long window value",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; server_max_window_bits=\"100000000000000000000012\""},
     0,
     "",
     {0, 0, 0, 0}},
    {"unknown parameter",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; x"},
     0,
     "",
     {0, 0, 0, 0}},
    /* Lines that do not parse: 400. */
    {"trailing ;",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD ";"},
     -EINVAL,
     "",
     {0, 0, 0, 0}},
    {"no ; between",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD " server_no_context_takeover"},
     -EINVAL,
     "",
     {0, 0, 0, 0}},
    {"unterminated quote",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits=\"10"},
     -EINVAL,
     "",
     {0, 0, 0, 0}},
    {"no name", {1, 0, 0, 0, 0, 0, 0, 0}, {"; x"}, -EINVAL, "", {0, 0, 0, 0}},
    {"no parameter name",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; =1"},
     -EINVAL,
     "",
     {0, 0, 0, 0}},
    {"empty value",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; client_max_window_bits="},
     -EINVAL,
     "",
     {0, 0, 0, 0}},
    {"bad line after a good one",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD, "x;;"},
     -EINVAL,
     "",
     {0, 0, 0, 0}},
    {"control character in quotes",
     {1, 0, 0, 0, 0, 0, 0, 0},
     {PMD "; a=\"\x01\""},
     -EINVAL,
     "",
     {0, 0, 0, 0}},
};

static void run_server_case(void **state)
{
    const server_case *c = *state;
    eddy_str lines[3];
    size_t n = 0;
    char resp[EDDY_WS_PMD_MAX_HEADER];
    eddy__ws_pmd a;
    int ret;

    for (; n < 3 && c->lines[n] != NULL; n++)
        lines[n] = (eddy_str){c->lines[n], strlen(c->lines[n])};
    memset(&a, 0, sizeof a);
    memset(resp, 0, sizeof resp);
    ret = eddy__ws_pmd_accept(&c->o, lines, n, &a, resp, sizeof resp);
#ifndef EDDY_ZLIB
    /* Without zlib nothing is taken, and bad lines are still bad. */
    assert_int_equal(ret, c->ret < 0 ? c->ret : 0);
    return;
#endif
    assert_int_equal(ret, c->ret);
    if (ret == 1) {
        assert_string_equal(resp, c->resp);
        assert_int_equal(a.server_no_context_takeover,
                         c->agreed.server_no_context_takeover);
        assert_int_equal(a.client_no_context_takeover,
                         c->agreed.client_no_context_takeover);
        assert_int_equal(a.server_max_window_bits,
                         c->agreed.server_max_window_bits);
        assert_int_equal(a.client_max_window_bits,
                         c->agreed.client_max_window_bits);
        /* The client that sent this offer takes this answer. */
        {
            eddy_str answer = {resp, strlen(resp)};
            eddy_ws_deflate_options co = opts(0, 0, 0, 0);
            eddy__ws_pmd ca;

            assert_int_equal(eddy__ws_pmd_check(&co, &answer, 1, &ca), 1);
        }
    }
}

typedef struct client_case {
    const char *name;
    eddy_ws_deflate_options o;
    const char *line; /* NULL: no header */
    int ret;
    eddy__ws_pmd agreed;
} client_case;

static const client_case client_cases[] = {
    {"no header", {1, 0, 0, 0, 0, 0, 0, 0}, NULL, 0, {0, 0, 0, 0}},
    {"declined, off", {0, 0, 0, 0, 0, 0, 0, 0}, NULL, 0, {0, 0, 0, 0}},
    {"accepted", {1, 0, 0, 0, 0, 0, 0, 0}, PMD, 1, {0, 0, 15, 15}},
    {"with everything",
     {1, 0, 0, 0, 0, 0, 0, 0},
     PMD "; server_no_context_takeover; client_no_context_takeover; "
         "server_max_window_bits=9; client_max_window_bits=8",
     1,
     {1, 1, 9, 8}},
    {"our own no_context_takeover",
     {1, 0, 1, 0, 0, 0, 0, 0},
     PMD,
     1,
     {0, 1, 15, 15}},
    {"our window kept", {1, 0, 0, 0, 10, 0, 0, 0}, PMD, 1, {0, 0, 15, 10}},
    {"a lower window",
     {1, 0, 0, 0, 10, 0, 0, 0},
     PMD "; client_max_window_bits=9",
     1,
     {0, 0, 15, 9}},
    {"server window confirmed",
     {1, 0, 0, 10, 0, 0, 0, 0},
     PMD "; server_max_window_bits=10",
     1,
     {0, 0, 10, 15}},
    {"server window lower",
     {1, 0, 0, 10, 0, 0, 0, 0},
     PMD "; server_max_window_bits=8",
     1,
     {0, 0, 8, 15}},
    {"server no_context_takeover confirmed",
     {1, 1, 0, 0, 0, 0, 0, 0},
     PMD "; server_no_context_takeover",
     1,
     {1, 0, 15, 15}},
    /* Invalid answers. */
    {"answered when off", {0, 0, 0, 0, 0, 0, 0, 0}, PMD, -EPROTO, {0, 0, 0, 0}},
    {"another extension",
     {1, 0, 0, 0, 0, 0, 0, 0},
     "x-foo",
     -EPROTO,
     {0, 0, 0, 0}},
    {"twice", {1, 0, 0, 0, 0, 0, 0, 0}, PMD ", " PMD, -EPROTO, {0, 0, 0, 0}},
    {"unknown parameter",
     {1, 0, 0, 0, 0, 0, 0, 0},
     PMD "; foo",
     -EPROTO,
     {0, 0, 0, 0}},
    {"client window without value",
     {1, 0, 0, 0, 0, 0, 0, 0},
     PMD "; client_max_window_bits",
     -EPROTO,
     {0, 0, 0, 0}},
    {"client window above the offer",
     {1, 0, 0, 0, 10, 0, 0, 0},
     PMD "; client_max_window_bits=11",
     -EPROTO,
     {0, 0, 0, 0}},
    {"server window not confirmed",
     {1, 0, 0, 10, 0, 0, 0, 0},
     PMD,
     -EPROTO,
     {0, 0, 0, 0}},
    {"server window above the offer",
     {1, 0, 0, 10, 0, 0, 0, 0},
     PMD "; server_max_window_bits=11",
     -EPROTO,
     {0, 0, 0, 0}},
    {"server no_context_takeover not confirmed",
     {1, 1, 0, 0, 0, 0, 0, 0},
     PMD,
     -EPROTO,
     {0, 0, 0, 0}},
    {"window 16",
     {1, 0, 0, 0, 0, 0, 0, 0},
     PMD "; server_max_window_bits=16",
     -EPROTO,
     {0, 0, 0, 0}},
    {"does not parse",
     {1, 0, 0, 0, 0, 0, 0, 0},
     PMD ";",
     -EPROTO,
     {0, 0, 0, 0}},
};

static void run_client_case(void **state)
{
    const client_case *c = *state;
    eddy_str line = {c->line, c->line ? strlen(c->line) : 0};
    eddy__ws_pmd a;
    int ret;

    memset(&a, 0, sizeof a);
    ret = eddy__ws_pmd_check(&c->o, &line, c->line ? 1 : 0, &a);
#ifndef EDDY_ZLIB
    /* Without zlib nothing was offered: any answer is invalid. */
    assert_int_equal(ret, c->line ? -EPROTO : 0);
    return;
#endif
    assert_int_equal(ret, c->ret);
    if (ret == 1) {
        assert_int_equal(a.server_no_context_takeover,
                         c->agreed.server_no_context_takeover);
        assert_int_equal(a.client_no_context_takeover,
                         c->agreed.client_no_context_takeover);
        assert_int_equal(a.server_max_window_bits,
                         c->agreed.server_max_window_bits);
        assert_int_equal(a.client_max_window_bits,
                         c->agreed.client_max_window_bits);
    }
}

static void client_offers(void **state)
{
    eddy_ws_deflate_options o = opts(0, 0, 0, 0);
    char out[EDDY_WS_PMD_MAX_HEADER];
    eddy_str line;
    eddy__ws_pmd a;

    (void)state;
#ifndef EDDY_ZLIB
    assert_int_equal(eddy__ws_pmd_offer(&o, out, sizeof out), -ENOTSUP);
    skip();
#endif
    assert_int_equal(eddy__ws_pmd_offer(&o, out, sizeof out),
                     (int)strlen(PMD "; client_max_window_bits"));
    assert_string_equal(out, PMD "; client_max_window_bits");
    o = opts(1, 1, 11, 10);
    assert_true(eddy__ws_pmd_offer(&o, out, sizeof out) > 0);
    assert_string_equal(out, PMD "; client_max_window_bits=10; "
                                 "server_max_window_bits=11; "
                                 "server_no_context_takeover; "
                                 "client_no_context_takeover");
    /* A server with default settings takes that offer. */
    line = (eddy_str){out, strlen(out)};
    {
        eddy_ws_deflate_options so = opts(0, 0, 0, 0);
        char resp[EDDY_WS_PMD_MAX_HEADER];
        eddy_str r;

        assert_int_equal(
            eddy__ws_pmd_accept(&so, &line, 1, &a, resp, sizeof resp), 1);
        r = (eddy_str){resp, strlen(resp)};
        assert_int_equal(eddy__ws_pmd_check(&o, &r, 1, &a), 1);
        assert_int_equal(a.server_max_window_bits, 11);
        assert_int_equal(a.client_max_window_bits, 10);
        assert_true(a.server_no_context_takeover);
        assert_true(a.client_no_context_takeover);
    }
    assert_int_equal(eddy__ws_pmd_offer(&o, out, 20), -ENOSPC);
    o.enable = 0;
    assert_int_equal(eddy__ws_pmd_offer(&o, out, sizeof out), -ENOTSUP);
    assert_int_equal(eddy__ws_pmd_offer(NULL, out, sizeof out), -ENOTSUP);
}

static void pmd_options(void **state)
{
    eddy_ws_deflate_options o = opts(0, 0, 0, 0);
    eddy_str line = {PMD, strlen(PMD)};
    char resp[EDDY_WS_PMD_MAX_HEADER];
    eddy__ws_pmd a;

    (void)state;
    assert_int_equal(eddy__ws_pmd_check_options(&o), 0);
    o.server_max_window_bits = 8, o.client_max_window_bits = 15;
    o.level = 9, o.mem_level = 1;
    assert_int_equal(eddy__ws_pmd_check_options(&o), 0);
    o = opts(0, 0, 7, 0);
    assert_int_equal(eddy__ws_pmd_check_options(&o), -EINVAL);
    o = opts(0, 0, 0, 16);
    assert_int_equal(eddy__ws_pmd_check_options(&o), -EINVAL);
    o = opts(0, 0, 0, 0);
    o.level = 10;
    assert_int_equal(eddy__ws_pmd_check_options(&o), -EINVAL);
    o.level = -1;
    assert_int_equal(eddy__ws_pmd_check_options(&o), -EINVAL);
    o.level = 0, o.mem_level = 10;
    assert_int_equal(eddy__ws_pmd_check_options(&o), -EINVAL);
    /* Invalid options take nothing, and a response that does not fit is
     * -ENOSPC. */
    assert_int_equal(eddy__ws_pmd_accept(&o, &line, 1, &a, resp, sizeof resp),
                     0);
    assert_int_equal(eddy__ws_pmd_accept(NULL, &line, 1, &a, resp, sizeof resp),
                     0);
#ifdef EDDY_ZLIB
    o = opts(1, 1, 9, 9);
    line = (eddy_str){PMD "; client_max_window_bits",
                      strlen(PMD "; client_max_window_bits")};
    assert_int_equal(eddy__ws_pmd_accept(&o, &line, 1, &a, resp, 30), -ENOSPC);
    assert_true(eddy__ws_deflate_available());
#else
    assert_false(eddy__ws_deflate_available());
#endif
}

/* --- permessage-deflate: the codec ---------------------------------------- */

#ifdef EDDY_ZLIB

/* Inflates a whole message (in[0, n)) through out windows of room bytes
 * and input pieces of piece bytes; the result into *res, the output in
 * got (cap bytes). */
static int inflate_msg(eddy__ws_inflater *f, const uint8_t *in, size_t n,
                       size_t piece, size_t room, uint8_t *got, size_t cap,
                       size_t *got_len)
{
    size_t at = 0;

    *got_len = 0;
    do {
        size_t k = n - at < piece ? n - at : piece;
        int fin = at + k == n, ret;

        do {
            size_t used, made,
                r = room < cap - *got_len ? room : cap - *got_len;

            assert_true(r > 0);
            ret = eddy__ws_inflate(f, in + at, k, fin, got + *got_len, r, &used,
                                   &made);
            if (ret < 0)
                return ret;
            assert_true(used <= k && made <= r);
            at += used, k -= used;
            *got_len += made;
        } while (ret == 1);
        assert_int_equal(k, 0);
    } while (at < n);
    return 0;
}

static void deflate_msg(eddy__ws_deflater *d, const void *in, size_t n,
                        size_t piece, eddy__ws_buf *out)
{
    const uint8_t *p = in;
    size_t at = 0;

    out->len = 0;
    do {
        size_t k = n - at < piece ? n - at : piece;

        assert_int_equal(eddy__ws_deflate(d, p + at, k, at + k == n, out), 0);
        at += k;
    } while (at < n);
}

#endif

#define NEED_ZLIB()                                                            \
    do {                                                                       \
        (void)state;                                                           \
        if (!eddy__ws_deflate_available())                                     \
            skip();                                                            \
    } while (0)

/* RFC 7692 7.2.3's examples. */
static void rfc7692_examples(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    static const struct {
        const char *hex;
    } hello[] = {
        {"f248cdc9c90700"},               /* 7.2.3.1 */
        {"f348cdc9c9070000"},             /* 7.2.3.3: BFINAL, and a 0x00 */
        {"f348cdc9c90700"},               /* BFINAL without the 0x00 */
        {"f248050000 00ffff cac9c90700"}, /* 7.2.3.4: two blocks */
        {"000500faff48656c6c6f00"},       /* 7.2.3.5: a stored block */
    };
    eddy__ws_deflater d;
    eddy__ws_inflater f;
    eddy__ws_buf out = {0};
    uint8_t in[64], got[64];
    size_t n, len;

    for (size_t i = 0; i < COUNT(hello); i++) {
        for (int ctx = 0; ctx < 2; ctx++) {
            eddy__ws_inflater_init(&f, 15, ctx, 100);
            n = unhex(hello[i].hex, in);
            /* Twice on one inflater: the state after a message is right
             * for the next. */
            for (int again = 0; again < 2; again++) {
                assert_int_equal(
                    inflate_msg(&f, in, n, n, 64, got, sizeof got, &len), 0);
                assert_int_equal(len, 5);
                assert_memory_equal(got, "Hello", 5);
            }
            eddy__ws_inflater_free(&f);
        }
    }
    /* 7.2.3.1-2: Hello, then Hello again with context takeover. */
    eddy__ws_deflater_init(&d, 15, 0, 0, 0);
    deflate_msg(&d, "Hello", 5, 5, &out);
    n = unhex("f248cdc9c90700", in);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.p, in, n);
    deflate_msg(&d, "Hello", 5, 5, &out);
    n = unhex("f200110000", in);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.p, in, n);
    eddy__ws_deflater_free(&d);
    /* ... and without: the same bytes each time. */
    eddy__ws_deflater_init(&d, 15, 1, 0, 0);
    for (int i = 0; i < 3; i++) {
        deflate_msg(&d, "Hello", 5, 2, &out);
        n = unhex("f248cdc9c90700", in);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.p, in, n);
    }
    /* 7.2.3.6: an empty message is one 0x00. */
    deflate_msg(&d, "", 0, 1, &out);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.p[0], 0);
    eddy__ws_deflater_free(&d);
    eddy__ws_inflater_init(&f, 15, 0, 100);
    assert_int_equal(inflate_msg(&f, out.p, 1, 1, 64, got, sizeof got, &len),
                     0);
    assert_int_equal(len, 0);
    /* The context-takeover pair inflates on one inflater. */
    n = unhex("f248cdc9c90700", in);
    assert_int_equal(inflate_msg(&f, in, n, 1, 1, got, sizeof got, &len), 0);
    assert_memory_equal(got, "Hello", 5);
    n = unhex("f200110000", in);
    assert_int_equal(inflate_msg(&f, in, n, 1, 1, got, sizeof got, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(got, "Hello", 5);
    eddy__ws_inflater_free(&f);
    free(out.p);
#endif
}

/* Frames from the wire through the reader into the inflater: RFC 7692
 * 7.2.3.1's fragmented, compressed Hello. */
static void compressed_frames(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    uint8_t in[32], got[16];
    size_t n = unhex("41 03 f248cd 80 04 c9c90700", in), at = 0, len = 0;
    eddy__ws_reader r;
    eddy__ws_inflater f;
    eddy__ws_event ev;
    unsigned st = EDDY_UTF8_ACCEPT;

    eddy__ws_reader_init(&r, C, 100);
    r.rsv_ok = R1;
    eddy__ws_inflater_init(&f, 15, 0, 100);
    while (at < n) {
        size_t used, iu, made;

        assert_int_equal(eddy__ws_read(&r, in + at, n - at, &used, &ev), 0);
        at += used;
        assert_int_equal(ev.type, EDDY_WS_EV_DATA);
        assert_true(ev.compressed);
        assert_int_equal(eddy__ws_inflate(&f, ev.data, ev.len, ev.fin,
                                          got + len, sizeof got - len, &iu,
                                          &made),
                         0);
        assert_int_equal(iu, ev.len);
        assert_int_equal(eddy__utf8_valid(&st, got + len, made), made);
        len += made;
    }
    assert_true(ev.fin);
    assert_int_equal(st, EDDY_UTF8_ACCEPT);
    assert_int_equal(len, 5);
    assert_memory_equal(got, "Hello", 5);
    eddy__ws_inflater_free(&f);
#endif
}

/* A bomb: 1 MiB of zeros is about 1 KiB deflated.  With a 64 KiB limit
 * inflating stops at 64 KiB + 1 bytes, never writing past them. */
static void zip_bomb(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    const size_t limit = 64 * 1024, big = 1 << 20;
    uint8_t *zeros = calloc(1, big), *out = malloc(2 * big);
    eddy__ws_deflater d;
    eddy__ws_inflater f;
    eddy__ws_buf bomb = {0};
    size_t used, made;

    eddy__ws_deflater_init(&d, 15, 1, 9, 9);
    deflate_msg(&d, zeros, big, big, &bomb);
    assert_true(bomb.len < 1100);
    for (int room = 0; room < 2; room++) {
        size_t cap = room ? 2 * big : 4096, total = 0;
        int ret;

        eddy__ws_inflater_init(&f, 15, 1, limit);
        memset(out, 0xaa, 2 * big);
        /* In one piece: the room is far beyond the limit. */
        do {
            ret = eddy__ws_inflate(&f, bomb.p, bomb.len, 1,
                                   out + (room ? 0 : total % big),
                                   room ? cap : 4096, &used, &made);
            total += made;
        } while (ret == 1);
        assert_int_equal(ret, E1009);
        assert_true(total <= limit + 1);
        if (room) {
            for (size_t i = limit + 1; i < 2 * big; i++)
                if (out[i] != 0xaa)
                    fail_msg("byte %zu written past the limit", i);
        }
        eddy__ws_inflater_free(&f);
    }
    /* Exactly at the limit is fine; one more is not. */
    for (size_t extra = 0; extra < 2; extra++) {
        size_t len;

        deflate_msg(&d, zeros, 1000 + extra, 7, &bomb);
        eddy__ws_inflater_init(&f, 15, 0, 1000);
        assert_int_equal(
            inflate_msg(&f, bomb.p, bomb.len, 3, 1, out, 2 * big, &len),
            extra ? E1009 : 0);
        if (!extra) {
            /* The next message starts counting afresh. */
            assert_int_equal(len, 1000);
            deflate_msg(&d, zeros, 1000, 1000, &bomb);
            assert_int_equal(inflate_msg(&f, bomb.p, bomb.len, 1000, 4096, out,
                                         2 * big, &len),
                             0);
            assert_int_equal(len, 1000);
        }
        eddy__ws_inflater_free(&f);
    }
    eddy__ws_deflater_free(&d);
    free(bomb.p);
    free(out);
    free(zeros);
#endif
}

/* Round trips over every window, both takeovers, and levels, through
 * pieces and output windows of many sizes. */
static void round_trips(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    static const size_t pieces[] = {1, 7, 1000, 1 << 20};
    static const size_t rooms[] = {1, 13, 4096, 1 << 20};
    const size_t big = tu_valgrind() ? 20000 : 200000;
    uint8_t *text = malloc(big), *noise = malloc(big), *got = malloc(2 * big);
    eddy__ws_buf out = {0};
    uint64_t x = 88172645463325252ull;

    for (size_t i = 0; i < big; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        noise[i] = (uint8_t)x;
        text[i] = (uint8_t) "the quick brown fox jumps over the lazy dog "
                            "THE QUICK BROWN FOX\n"[(x >> 8) % 64];
    }
    for (int bits = 9; bits <= 15; bits++) {
        for (int ctx = 0; ctx < 2; ctx++) {
            eddy__ws_deflater d;
            eddy__ws_inflater f;
            int level = bits % 3 == 0 ? 1 : 9, mem = bits % 2 ? 1 : 9;
            const uint8_t *msgs[] = {text, (const uint8_t *)"", noise, text,
                                     text + 1000};
            size_t lens[] = {big / 2, 0, big / (bits - 7), big, 3000};

            eddy__ws_deflater_init(&d, bits, ctx, level, mem);
            eddy__ws_inflater_init(&f, bits, ctx, 2 * big);
            for (size_t m = 0; m < COUNT(msgs); m++) {
                size_t piece = pieces[(m + (size_t)bits) % COUNT(pieces)];
                size_t room = rooms[(m + (size_t)ctx) % COUNT(rooms)];
                size_t len;

                if (tu_valgrind() && room == 1)
                    room = 13;
                deflate_msg(&d, msgs[m], lens[m], piece, &out);
                assert_int_equal(inflate_msg(&f, out.p, out.len,
                                             pieces[m % COUNT(pieces)], room,
                                             got, 2 * big, &len),
                                 0);
                assert_int_equal(len, lens[m]);
                assert_memory_equal(got, msgs[m], len);
            }
            /* Freed and made again, it goes on (without takeover). */
            if (ctx) {
                size_t len;

                eddy__ws_deflater_free(&d);
                eddy__ws_inflater_free(&f);
                deflate_msg(&d, text, 5000, 5000, &out);
                assert_int_equal(inflate_msg(&f, out.p, out.len, 100, 100, got,
                                             2 * big, &len),
                                 0);
                assert_int_equal(len, 5000);
                assert_memory_equal(got, text, len);
            }
            eddy__ws_deflater_free(&d);
            eddy__ws_inflater_free(&f);
        }
    }
    free(out.p);
    free(got);
    free(noise);
    free(text);
#endif
}

/* A compressor limited to 8 bits is off; an inflater for an 8-bit peer
 * uses 9 bits and reads what the peer writes. */
static void window_8(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    eddy__ws_deflater d;
    eddy__ws_inflater f;
    eddy__ws_buf out = {0};
    eddy__ws_pmd a = {0, 0, 8, 12};
    uint8_t in[16], got[16];
    size_t n = unhex("f248cdc9c90700", in), len;

    eddy__ws_deflater_init(&d, 8, 0, 0, 0);
    assert_true(d.off);
    assert_int_equal(eddy__ws_deflate(&d, "Hello", 5, 1, &out), -ENOTSUP);
    eddy__ws_inflater_init(&f, 8, 0, 100);
    assert_int_equal(f.window_bits, 9);
    assert_int_equal(inflate_msg(&f, in, n, n, 16, got, 16, &len), 0);
    assert_memory_equal(got, "Hello", 5);
    eddy__ws_inflater_free(&f);
    /* The roles: the server compresses with server_max_window_bits. */
    eddy__ws_pmd_setup(&a, S, NULL, 77, &d, &f);
    assert_true(d.off);
    assert_int_equal(f.window_bits, 12);
    assert_int_equal(f.max, 77);
    eddy__ws_pmd_setup(&a, C, NULL, 77, &d, &f);
    assert_false(d.off);
    assert_int_equal(d.window_bits, 12);
    assert_int_equal(f.window_bits, 9);
    a.client_no_context_takeover = 1;
    eddy__ws_pmd_setup(&a, C, NULL, 77, &d, &f);
    assert_true(d.no_context);
    assert_false(f.no_context);
    eddy__ws_pmd_setup(&a, S, NULL, 77, &d, &f);
    assert_false(d.no_context);
    assert_true(f.no_context);
#endif
}

/* Data that is not deflate is 1007; a stream begun again more than four
 * times in a message too. */
static void bad_deflate(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    static const char *const bad[] = {"ff", "07", "f248cdc9c907ff",
                                      "000500fbff48656c6c6f"};
    eddy__ws_inflater f;
    uint8_t in[32], got[64];
    size_t n, len;

    /* An empty payload leaves zlib inside a stored block's header. */
    eddy__ws_inflater_init(&f, 15, 0, 100);
    assert_int_equal(inflate_msg(&f, in, 0, 1, 64, got, sizeof got, &len),
                     E1007);
    eddy__ws_inflater_free(&f);
    for (size_t i = 0; i < COUNT(bad); i++) {
        int ret;

        eddy__ws_inflater_init(&f, 15, 0, 100);
        n = unhex(bad[i], in);
        ret = inflate_msg(&f, in, n, 1, 64, got, sizeof got, &len);
        if (ret != E1007)
            fail_msg("%s: %d", bad[i], ret);
        eddy__ws_inflater_free(&f);
    }
    /* Empty final blocks (03 00): four new streams are fine, five not. */
    for (size_t k = 5; k <= 6; k++) {
        eddy__ws_inflater_init(&f, 15, 0, 100);
        for (size_t i = 0; i < k; i++)
            in[2 * i] = 0x03, in[2 * i + 1] = 0x00;
        assert_int_equal(
            inflate_msg(&f, in, 2 * k, 2 * k, 64, got, sizeof got, &len),
            k == 5 ? 0 : E1007);
        eddy__ws_inflater_free(&f);
    }
#endif
}

/* A peer that ends each message with a BFINAL block and keeps its window
 * (7.2.3.3): the next message refers back into the last. */
static void bfinal_keeps_window(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    static const char first[] = "Hello, WebSocket world";
    z_stream z;
    uint8_t m1[64], m2[64], got[64];
    size_t n1, n2, len;
    eddy__ws_inflater f;

    /* Message 1: a whole stream, BFINAL, plus RFC 7692's 0x00. */
    memset(&z, 0, sizeof z);
    assert_int_equal(
        deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)first;
    z.avail_in = sizeof first - 1;
    z.next_out = m1;
    z.avail_out = sizeof m1;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    n1 = sizeof m1 - z.avail_out;
    m1[n1++] = 0x00;
    /* Message 2: a new stream whose window holds message 1. */
    assert_int_equal(deflateReset(&z), Z_OK);
    assert_int_equal(
        deflateSetDictionary(&z, (const Bytef *)first, sizeof first - 1), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)first;
    z.avail_in = sizeof first - 1;
    z.next_out = m2;
    z.avail_out = sizeof m2;
    assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    n2 = sizeof m2 - z.avail_out - 4;
    deflateEnd(&z);
    assert_true(n2 < n1 - 5); /* it did refer back */

    for (size_t piece = 1; piece <= 64; piece *= 4) {
        eddy__ws_inflater_init(&f, 15, 0, 100);
        assert_int_equal(
            inflate_msg(&f, m1, n1, piece, 7, got, sizeof got, &len), 0);
        assert_int_equal(len, sizeof first - 1);
        assert_int_equal(
            inflate_msg(&f, m2, n2, piece, 7, got, sizeof got, &len), 0);
        assert_int_equal(len, sizeof first - 1);
        assert_memory_equal(got, first, len);
        eddy__ws_inflater_free(&f);
    }
#endif
}

/* A message whose last match is still being copied out when all its
 * bytes are in (zlib's own level-1 deflate of "xy" and 2750 zeros): the
 * tail's call writes the last byte.  When that byte fills out exactly,
 * the message still ends between blocks, as it does with more room; a
 * second one on the same inflater shows the state after it is right. */
static void room_filled_at_end(void **state)
{
    NEED_ZLIB();
#ifdef EDDY_ZLIB
    static const size_t rooms[] = {1, 2, 3, 7, 16, 32, 64, 4096};
    static const size_t pieces[] = {1, 3, 64};
    eddy__ws_inflater f;
    uint8_t in[64], *got = malloc(4096);
    size_t n = unhex("ecd0010d00000c02a0c7f6edcde10611c81f060c183060c0800103"
                     "0666060a",
                     in),
           len;

    assert_non_null(got);
    for (size_t r = 0; r < COUNT(rooms); r++) {
        for (size_t p = 0; p < COUNT(pieces); p++) {
            eddy__ws_inflater_init(&f, 15, 0, 4096);
            for (int again = 0; again < 2; again++) {
                int ret = inflate_msg(&f, in, n, pieces[p], rooms[r], got, 4096,
                                      &len);

                if (ret != 0)
                    fail_msg("room %zu, piece %zu: %d", rooms[r], pieces[p],
                             ret);
                assert_int_equal(len, 2752);
                assert_memory_equal(got, "xy", 2);
                for (size_t i = 2; i < len; i++)
                    assert_int_equal(got[i], 0);
            }
            eddy__ws_inflater_free(&f);
        }
    }
    free(got);
#endif
}

/* With zlib the codec works; without it, nothing compresses, and says
 * so. */
static void zlib_or_not(void **state)
{
    eddy__ws_deflater d;
    eddy__ws_inflater f;
    eddy__ws_buf out = {0};
    size_t used = 9, made = 9;
    uint8_t got[8];
    int ret;

    (void)state;
    eddy__ws_deflater_init(&d, 15, 0, 0, 0);
    eddy__ws_inflater_init(&f, 15, 0, 100);
    ret = eddy__ws_deflate(&d, "x", 1, 1, &out);
#ifdef EDDY_ZLIB
    assert_true(eddy__ws_deflate_available());
    assert_int_equal(ret, 0);
    assert_int_equal(
        eddy__ws_inflate(&f, out.p, out.len, 1, got, 8, &used, &made), 0);
    assert_int_equal(used, out.len);
    assert_int_equal(made, 1);
    assert_int_equal(got[0], 'x');
    /* An empty message after another is still one 0x00 byte. */
    out.len = 0;
    assert_int_equal(eddy__ws_deflate(&d, "", 0, 1, &out), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.p[0], 0x00);
#else
    assert_false(eddy__ws_deflate_available());
    assert_int_equal(ret, -ENOTSUP);
    assert_int_equal(eddy__ws_inflate(&f, "x", 1, 1, got, 8, &used, &made),
                     -ENOTSUP);
    assert_int_equal(used, 0);
    assert_int_equal(made, 0);
#endif
    eddy__ws_deflater_free(&d);
    eddy__ws_inflater_free(&f);
    free(out.p);
}

/* --- main ----------------------------------------------------------------- */

static size_t add_cases(struct CMUnitTest *t, size_t n, const char *prefix,
                        const void *cases, size_t count, size_t size,
                        CMUnitTestFunction fn, char (*names)[128])
{
    for (size_t i = 0; i < count; i++) {
        const void *c = (const char *)cases + i * size;

        snprintf(names[n], sizeof names[n], "%s: %s", prefix,
                 *(const char *const *)c);
        t[n] = (struct CMUnitTest){names[n], fn, NULL, NULL, (void *)c};
        n++;
    }
    return n;
}

int main(void)
{
    static const struct CMUnitTest more[] = {
        cmocka_unit_test(long_frames),
        cmocka_unit_test(control_125),
        cmocka_unit_test(close_codes),
        cmocka_unit_test(opcodes),
        cmocka_unit_test(parse_header_parts),
        cmocka_unit_test(need),
        cmocka_unit_test(zero_copy),
        cmocka_unit_test(write_headers),
        cmocka_unit_test(masking),
        cmocka_unit_test(masks_and_keys),
        cmocka_unit_test(close_payloads),
        cmocka_unit_test(utf8_exhaustive),
        cmocka_unit_test(sha1_vectors),
        cmocka_unit_test(base64),
        cmocka_unit_test(accept_key),
        cmocka_unit_test(header_lists),
        cmocka_unit_test(subprotocols),
        cmocka_unit_test(client_offers),
        cmocka_unit_test(pmd_options),
        cmocka_unit_test(rfc7692_examples),
        cmocka_unit_test(compressed_frames),
        cmocka_unit_test(zip_bomb),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(window_8),
        cmocka_unit_test(bad_deflate),
        cmocka_unit_test(bfinal_keeps_window),
        cmocka_unit_test(room_filled_at_end),
        cmocka_unit_test(zlib_or_not),
    };
    size_t cap = COUNT(frame_cases) + COUNT(utf8_cases) + COUNT(server_cases) +
                 COUNT(client_cases) + COUNT(more);
    struct CMUnitTest *t = calloc(cap, sizeof *t);
    char(*names)[128] = calloc(cap, sizeof *names);
    size_t n = 0;
    int failed;

    if (t == NULL || names == NULL)
        return 1;
    n = add_cases(t, n, "frame", frame_cases, COUNT(frame_cases),
                  sizeof frame_cases[0], run_frame_case, names);
    n = add_cases(t, n, "utf8", utf8_cases, COUNT(utf8_cases),
                  sizeof utf8_cases[0], run_utf8_case, names);
    n = add_cases(t, n, "pmd server", server_cases, COUNT(server_cases),
                  sizeof server_cases[0], run_server_case, names);
    n = add_cases(t, n, "pmd client", client_cases, COUNT(client_cases),
                  sizeof client_cases[0], run_client_case, names);
    for (size_t i = 0; i < COUNT(more); i++)
        t[n++] = more[i];
    failed = _cmocka_run_group_tests("websocket", t, n, tu_guard_setup,
                                     tu_guard_teardown);
    free(names);
    free(t);
    return failed;
}
