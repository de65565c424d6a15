/*
 * fuzz/chunked.c - the chunked body decoder (httputil/parser.c) under
 * fuzzing.
 *
 * Input: one byte of settings (max_trailer, mode), the cut points
 * (fuzz.h), then the bytes.  Two modes:
 *
 *  - decode: the bytes are a body as a client sent it.  Fed whole and in
 *    the fuzzer's pieces, each piece a heap copy of exactly its bytes (so
 *    ASan catches a read past len), the decoder must give the same
 *    answer: the same error or none, the same decoded data, the same end.
 *    Every call consumes 1..len bytes, and the data it points at lies in
 *    what it consumed; without an error or the end, it consumes all.
 *  - encode: the bytes are data; the cuts are where chunks end.  Encoded
 *    correctly (with extensions, a trailer, upper- or lowercase hex) and
 *    followed by bytes of a next request, it must decode to exactly the
 *    data and stop exactly at the end of the body.
 */
#include "fuzz.h"

#include "../httputil/parser.h"

#include <string.h>

#define CH_MAX_CUTS 16

/* What a decode came to. */
typedef struct ch_result {
    int error, done;
    size_t consumed;
    fuzz_buf data;
} ch_result;

/* Decodes in[0, len) cut at cuts[0, ncuts). */
static void ch_decode(const uint8_t *in, size_t len, const size_t *cuts,
                      size_t ncuts, size_t max_trailer, ch_result *r)
{
    eddy__chunked c;
    size_t from = 0;

    memset(&c, 0, sizeof c);
    memset(r, 0, sizeof *r);
    c.max_trailer = max_trailer;
    for (size_t i = 0; i <= ncuts && !r->error && !r->done; i++) {
        size_t to = i < ncuts ? cuts[i] : len, plen = to - from, off = 0;
        char *piece = malloc(plen ? plen : 1);

        if (piece == NULL) {
            r->data.failed = 1;
            return;
        }
        if (plen > 0)
            memcpy(piece, in + from, plen);
        while (off < plen && !r->done) {
            const char *d = NULL;
            size_t dlen = 0;
            long n = eddy__chunked_feed(&c, piece + off, plen - off, &d, &dlen);

            if (n < 0) {
                FUZZ_CHECK(n == -400, "the decoder's only error is -400");
                r->error = 1;
                break;
            }
            FUZZ_CHECK(n > 0, "a call with bytes and not done consumes some");
            FUZZ_CHECK((size_t)n <= plen - off, "consumed <= len");
            FUZZ_CHECK(dlen == 0 || (d >= piece + off &&
                                     d + dlen <= piece + off + (size_t)n),
                       "the data lies in the bytes consumed");
            if (n <= 0 || (size_t)n > plen - off)
                break;
            fuzz_put(&r->data, d, dlen);
            off += (size_t)n;
            r->done = eddy__chunked_done(&c);
        }
        if (!r->error)
            FUZZ_CHECK(off == plen || r->done,
                       "without an error or the end, all is consumed");
        r->consumed += off;
        free(piece);
        from = to;
    }
    if (r->done) {
        const char *d;
        size_t dlen;

        FUZZ_CHECK(eddy__chunked_feed(&c, "x", 1, &d, &dlen) == 0 && dlen == 0,
                   "a finished decoder takes nothing more");
    }
}

static void ch_same(const ch_result *a, const ch_result *b, const char *what)
{
    if (a->data.failed || b->data.failed)
        return;
    FUZZ_CHECK(a->error == b->error, what);
    FUZZ_CHECK(a->done == b->done, what);
    FUZZ_CHECK(a->error || a->consumed == b->consumed, what);
    FUZZ_CHECK(a->data.len == b->data.len &&
                   (a->data.len == 0 ||
                    memcmp(a->data.p, b->data.p, a->data.len) == 0),
               what);
}

static void ch_hex(fuzz_buf *b, size_t v, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[2 * sizeof v];
    int i = sizeof tmp;

    do {
        tmp[--i] = digits[v & 15];
        v >>= 4;
    } while (v != 0);
    fuzz_put(b, tmp + i, sizeof tmp - (size_t)i);
}

static void ch_encode_mode(const uint8_t *data, size_t len, const size_t *cuts,
                           size_t ncuts, unsigned cfg, size_t max_trailer)
{
    static const char *const exts[4] = {"", ";a", ";name=value", " ; q=\"x\\\"y\""};
    fuzz_buf enc = {0};
    ch_result whole, part;
    size_t from = 0, pieces[CH_MAX_CUTS], npieces = 0, body_len;
    const char *tail = "GET / HTTP/1.1\r\n";

    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;

        if (to == from)
            continue;
        ch_hex(&enc, to - from, (cfg >> 3) & 1);
        fuzz_put(&enc, exts[(i + (cfg >> 4)) & 3],
                 strlen(exts[(i + (cfg >> 4)) & 3]));
        fuzz_put(&enc, "\r\n", 2);
        fuzz_put(&enc, data + from, to - from);
        fuzz_put(&enc, "\r\n", 2);
        from = to;
    }
    fuzz_put(&enc, "0\r\n", 3);
    if ((cfg >> 6) & 1)
        fuzz_put(&enc, "Expires: never\r\nX-Sum:\t1 2\r\n", 28);
    fuzz_put(&enc, "\r\n", 2);
    body_len = enc.len;
    fuzz_put(&enc, tail, strlen(tail));
    if (enc.failed) {
        free(enc.p);
        return;
    }
    /* Some trailers are too long for the smallest max_trailer. */
    ch_decode((const uint8_t *)enc.p, enc.len, NULL, 0, max_trailer, &whole);
    if (!((cfg >> 6) & 1) || max_trailer == 0 || max_trailer >= 30) {
        FUZZ_CHECK(!whole.error && whole.done, "a well-formed body decodes");
        FUZZ_CHECK(whole.consumed == body_len, "decoding stops at its end");
        FUZZ_CHECK(whole.data.failed ||
                       (whole.data.len == len &&
                        (len == 0 || memcmp(whole.data.p, data, len) == 0)),
                   "a well-formed body decodes to its data");
    }
    /* The encoding in pieces of 1 to 8 bytes. */
    for (size_t at = (cfg & 7) + 1; at < enc.len && npieces < CH_MAX_CUTS;
         at += (cfg & 7) + 1)
        pieces[npieces++] = at;
    ch_decode((const uint8_t *)enc.p, enc.len, pieces, npieces, max_trailer,
              &part);
    ch_same(&whole, &part, "an encoded body decodes the same in pieces");
    free(whole.data.p);
    free(part.data.p);
    free(enc.p);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const size_t trailers[4] = {0, 8, 64, 1024};
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    size_t max_trailer = trailers[cfg & 3];
    size_t cuts[CH_MAX_CUTS], ncuts = fuzz_cuts(&in, cuts, CH_MAX_CUTS);
    ch_result whole, part;

    if ((cfg >> 2) & 1) {
        ch_encode_mode(in.p, in.n, cuts, ncuts, cfg, max_trailer);
        return 0;
    }
    ch_decode(in.p, in.n, NULL, 0, max_trailer, &whole);
    ch_decode(in.p, in.n, cuts, ncuts, max_trailer, &part);
    ch_same(&whole, &part, "the same decoding whole and in pieces");
    if (!whole.error)
        FUZZ_CHECK(whole.consumed <= in.n, "consumed <= len");
    free(whole.data.p);
    free(part.data.p);
    return 0;
}
