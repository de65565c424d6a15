/*
 * fuzz/ws_inflate.c - permessage-deflate's codec (websocket/deflate.c)
 * under fuzzing.
 *
 * Input: two bytes of settings (first: bits 0-2 window bits 8..15, bit 3
 * no context takeover, bits 4-5 the message limit 64, 1000, 64 KiB or
 * 1 MiB, bits 6-7 the output room 1, 7, 100 or 64 KiB; second: bits 0-1
 * the input piece 1, 3, 64 or all, bits 2-5 the level 0..9 and bits 6-7
 * the memLevel), the cut points (fuzz.h), which end messages, then the
 * bytes.  Checks:
 *
 *  - inflate, the bytes as compressed messages: in the settings' pieces
 *    and room, and in one piece with all the room, the same output and the
 *    same error (output before an error may stop sooner; below 15 bits a
 *    distance past the agreed window may fail only in pieces); no message inflates past the limit, so a bomb stops
 *    there; errors are 1007 or 1009; every call takes within its input
 *    and writes within its room;
 *  - round trip, the bytes as messages: deflated in pieces (with context
 *    takeover or not) and inflated through small room, each comes back
 *    the same, or fails with 1009 exactly when it is longer than the
 *    limit.
 *
 * Built without zlib every call says -ENOTSUP, and that is all it checks.
 */
#include "fuzz.h"

#include "../websocket/ws_internal.h"

#include <errno.h>
#include <string.h>

#define WI_MAX_CUTS 8

typedef struct wi_out {
    uint8_t *p;
    size_t len, cap;
    int ret;
} wi_out;

/* Inflates msg[0, n) as one message into o (appended), in pieces of
 * piece bytes through room bytes of output at a time. */
static int wi_inflate(eddy__ws_inflater *f, const uint8_t *msg, size_t n,
                      size_t piece, size_t room, wi_out *o, uint64_t max)
{
    size_t at = 0, start = o->len;

    do {
        size_t k = n - at < piece ? n - at : piece;
        int fin = at + k == n, ret;
        uint8_t *copy = malloc(k ? k : 1);

        if (copy == NULL)
            return -ENOMEM;
        if (k > 0)
            memcpy(copy, msg + at, k);
        do {
            size_t used = 0, made = 0;

            if (o->cap - o->len < room) {
                size_t cap = o->cap ? o->cap : 256;
                uint8_t *p;

                while (cap - o->len < room)
                    cap *= 2;
                if ((p = realloc(o->p, cap)) == NULL) {
                    free(copy);
                    return -ENOMEM;
                }
                o->p = p, o->cap = cap;
            }
            ret = eddy__ws_inflate(f, copy, k, fin, o->p + o->len, room, &used,
                                   &made);
            if (ret == -ENOMEM || ret == -ENOTSUP) {
                free(copy);
                return ret;
            }
            FUZZ_CHECK(used <= k && made <= room,
                       "inflate takes within its input and room");
            if (ret < 0) {
                FUZZ_CHECK(ret == -1007 || ret == -1009,
                           "inflate's errors are 1007 or 1009");
                free(copy);
                return ret;
            }
            FUZZ_CHECK(ret == 0 || ret == 1, "inflate returns 0 or 1");
            FUZZ_CHECK(ret == 1 || used == k, "0: all the input taken");
            o->len += made;
            FUZZ_CHECK(o->len - start <= max, "no message passes the limit");
            memmove(copy, copy + used, k - used);
            k -= used, at += used;
        } while (ret == 1);
        free(copy);
    } while (at < n);
    return 0;
}

/* Inflates every message (in[0, len) cut at cuts) into o; the first
 * error stops it. */
static void wi_inflate_all(int bits, int no_context, uint64_t max,
                           const uint8_t *in, size_t len, const size_t *cuts,
                           size_t ncuts, size_t piece, size_t room, wi_out *o)
{
    eddy__ws_inflater f;
    size_t from = 0;

    memset(o, 0, sizeof *o);
    eddy__ws_inflater_init(&f, bits, no_context, max);
    for (size_t i = 0; i <= ncuts && o->ret == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len;

        o->ret = wi_inflate(&f, in + from, to - from, piece, room, o, max);
        from = to;
    }
    eddy__ws_inflater_free(&f);
}

/* Deflates and inflates every message; each must come back. */
static void wi_round_trip(int bits, int no_context, uint64_t max, int level,
                          int mem, const uint8_t *in, size_t len,
                          const size_t *cuts, size_t ncuts, size_t piece,
                          size_t room)
{
    eddy__ws_deflater d;
    eddy__ws_inflater f;
    eddy__ws_buf z = {0};
    wi_out o = {0};
    size_t from = 0;

    eddy__ws_deflater_init(&d, bits, no_context, level, mem);
    eddy__ws_inflater_init(&f, bits, no_context, max);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len, at = from;
        int ret = 0;

        z.len = 0;
        do {
            size_t k = to - at < piece ? to - at : piece;

            ret = eddy__ws_deflate(&d, in + at, k, at + k == to, &z);
            at += k;
        } while (ret == 0 && at < to);
        if (ret == -ENOTSUP && bits == 8)
            break; /* an 8-bit compressor is off */
        if (ret < 0)
            break;
        o.len = 0;
        ret = wi_inflate(&f, z.p, z.len, piece, room, &o, max);
        if (ret == -ENOMEM)
            break;
        if (to - from > max) {
            FUZZ_CHECK(ret == -1009, "too long: 1009");
            break;
        }
        FUZZ_CHECK(ret == 0, "a round trip inflates");
        FUZZ_CHECK(o.len == to - from &&
                       (o.len == 0 || memcmp(o.p, in + from, o.len) == 0),
                   "a round trip gives the message back");
        from = to;
    }
    eddy__ws_deflater_free(&d);
    eddy__ws_inflater_free(&f);
    free(z.p);
    free(o.p);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const uint64_t maxes[4] = {64, 1000, 65536, 1 << 20};
    static const size_t rooms[4] = {1, 7, 100, 65536};
    static const size_t pieces[4] = {1, 3, 64, (size_t)-1};
    fuzz_in in = {data, size};
    unsigned s1 = fuzz_byte(&in), s2 = fuzz_byte(&in);
    int bits = 8 + (int)(s1 & 7), no_context = (s1 >> 3) & 1;
    uint64_t max = maxes[(s1 >> 4) & 3];
    size_t room = rooms[(s1 >> 6) & 3], piece = pieces[s2 & 3];
    int level = (int)((s2 >> 2) & 15) % 10, mem = 1 + (int)(s2 >> 6) * 2;
    size_t cuts[WI_MAX_CUTS], ncuts = fuzz_cuts(&in, cuts, WI_MAX_CUTS);
    wi_out a, b;

    if (!eddy__ws_deflate_available()) {
        eddy__ws_inflater f;
        size_t used, made;
        uint8_t out[4];

        eddy__ws_inflater_init(&f, bits, no_context, max);
        FUZZ_CHECK(eddy__ws_inflate(&f, in.p, in.n, 1, out, sizeof out, &used,
                                    &made) == -ENOTSUP,
                   "without zlib: -ENOTSUP");
        return 0;
    }
    /* A slow input (1-byte room, a bomb up to 1 MiB) is cut short. */
    if (room == 1 && max > 65536)
        max = 65536;

    wi_inflate_all(bits, no_context, max, in.p, in.n, cuts, ncuts, piece, room,
                   &a);
    wi_inflate_all(bits, no_context, max, in.p, in.n, cuts, ncuts, (size_t)-1,
                   (size_t)max + 1, &b);
    if (a.ret != -ENOMEM && b.ret != -ENOMEM) {
        size_t common = a.len < b.len ? a.len : b.len;

        /* Output before an error is cut where the error was seen.  Below
         * 15 bits, a distance past the window is refused only once the
         * bytes it needs left zlib's buffers: it may fail in pieces what
         * decodes whole (never the other way round). */
        FUZZ_CHECK((a.ret == b.ret ||
                    (bits < 15 && a.ret == -1007 && b.ret == 0)) &&
                       (a.ret != 0 || a.len == b.len) &&
                       (common == 0 || memcmp(a.p, b.p, common) == 0),
                   "the same output and error in pieces and whole");
    }
    free(a.p);
    free(b.p);

    wi_round_trip(bits, no_context, max, level, mem, in.p, in.n, cuts, ncuts,
                  piece, room < 7 ? 7 : room);
    return 0;
}
