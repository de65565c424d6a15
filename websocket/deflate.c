/*
 * websocket/deflate.c - permessage-deflate's codec (RFC 7692 7.2) on
 * zlib's raw deflate: a compressor and a bounded, streaming decompressor
 * per connection, with or without context takeover.
 *
 * Compressing: each message is deflated and flushed with Z_SYNC_FLUSH,
 * which ends it on a byte boundary with an empty stored block, whose
 * 00 00 ff ff is then cut off.  Without context takeover the stream is
 * reset after each message.  zlib's raw deflate refuses an 8-bit window
 * (zlib 1.2.9 on), and a 9-bit window would emit distances the peer's
 * 256-byte window cannot resolve; so a compressor limited to 8 bits is
 * off, and its messages go uncompressed (RSV1 clear, which 7692 allows).
 *
 * Decompressing: the 00 00 ff ff is put back after the message's last
 * piece.  The output goes into room the caller gives, piece by piece, and
 * never past the message limit: zlib is given at most limit + 1 bytes of
 * room in all, so a bomb (1 KiB inflating to 1 MiB) stops there.  An
 * inflater's window is at least 9 bits: it reads what an 8-bit peer
 * writes.  A peer's stream that ends (a BFINAL block, 7.2.3.3) is begun
 * again with the same window when more data follows; that copies the
 * window, so it may happen at most 4 times per message.
 *
 * Built without zlib (make ZLIB=none) every function here says -ENOTSUP,
 * and the negotiation never agrees to compress.
 *
 * This file must never inflate past a message's limit, and allocates
 * only zlib's states (once per connection and direction, freed by
 * *_free), the caller's output buffer, and the window copy of a restart.
 */
#include "ws_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void eddy__ws_deflater_init(eddy__ws_deflater *d, int window_bits,
                            int no_context, int level, int mem_level)
{
    memset(d, 0, sizeof *d);
    d->window_bits = (uint8_t)(window_bits < 9 ? 9 : window_bits);
    d->off = window_bits <= 8;
    d->no_context = no_context != 0;
    d->level = (int8_t)(level == 0 ? 6 : level);
    d->mem_level = (uint8_t)(mem_level == 0 ? 8 : mem_level);
}

void eddy__ws_inflater_init(eddy__ws_inflater *i, int window_bits,
                            int no_context, uint64_t max)
{
    memset(i, 0, sizeof *i);
    i->window_bits = (uint8_t)(window_bits < 9 ? 9 : window_bits);
    i->no_context = no_context != 0;
    i->max = max;
}

void eddy__ws_pmd_setup(const eddy__ws_pmd *a, int role,
                        const eddy_ws_deflate_options *o, uint64_t max_message,
                        eddy__ws_deflater *d, eddy__ws_inflater *i)
{
    int server = role == EDDY_WS_SERVER;

    eddy__ws_deflater_init(
        d, server ? a->server_max_window_bits : a->client_max_window_bits,
        server ? a->server_no_context_takeover : a->client_no_context_takeover,
        o != NULL ? o->level : 0, o != NULL ? o->mem_level : 0);
    eddy__ws_inflater_init(
        i, server ? a->client_max_window_bits : a->server_max_window_bits,
        server ? a->client_no_context_takeover : a->server_no_context_takeover,
        max_message);
}

#ifdef EDDY_ZLIB

#include <zlib.h>

/* zlib counts in uInt; bigger inputs go in slices of this. */
#define SLICE ((size_t)1 << 30)

static const uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};

int eddy__ws_deflate_available(void)
{
    return 1;
}

static int deflater_start(eddy__ws_deflater *d)
{
    z_stream *z;

    if (d->z != NULL)
        return 0;
    if ((z = calloc(1, sizeof *z)) == NULL)
        return -ENOMEM;
    if (deflateInit2(z, d->level, Z_DEFLATED, -(int)d->window_bits,
                     d->mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return -ENOMEM;
    }
    d->z = z;
    return 0;
}

/* Makes room for at least want more bytes in b. */
static int reserve(eddy__ws_buf *b, size_t want)
{
    size_t cap = b->cap ? b->cap : 256;
    uint8_t *p;

    if (b->cap - b->len >= want)
        return 0;
    while (cap - b->len < want)
        cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Runs deflate over the input set in z until it is all taken (and with
 * Z_SYNC_FLUSH, until the flush is complete). */
static int deflate_run(z_stream *z, int flush, eddy__ws_buf *out)
{
    for (;;) {
        /* More than 6 bytes of room, or a sync flush repeats its marker. */
        if (reserve(out, z->avail_in / 2 + 64) < 0)
            return -ENOMEM;
        z->next_out = out->p + out->len;
        z->avail_out =
            (uInt)(out->cap - out->len > SLICE ? SLICE : out->cap - out->len);
        if (deflate(z, flush) == Z_STREAM_ERROR)
            return -EINVAL;
        out->len = (size_t)(z->next_out - out->p);
        if (z->avail_in == 0 && z->avail_out != 0)
            return 0;
    }
}

int eddy__ws_deflate(eddy__ws_deflater *d, const void *in, size_t n, int fin,
                     eddy__ws_buf *out)
{
    const uint8_t *p = in;
    size_t before = out->len;
    z_stream *z;
    int ret;

    if (d->off)
        return -ENOTSUP;
    if ((ret = deflater_start(d)) < 0)
        return ret;
    z = d->z;
    do {
        size_t k = n < SLICE ? n : SLICE;

        z->next_in = (Bytef *)(uintptr_t)p;
        z->avail_in = (uInt)k;
        p += k, n -= k;
        ret = deflate_run(z, fin && n == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH, out);
        if (ret < 0)
            return ret;
    } while (n > 0);
    if (!fin)
        return 0;
    /* A sync flush ends with the empty stored block's tail.  With no input
     * since the last flush, zlib writes nothing at all; the message is
     * then the empty stored block's first byte alone (7.2.3.6). */
    if (out->len - before >= 4 &&
        memcmp(out->p + out->len - 4, sync_tail, 4) == 0)
        out->len -= 4;
    else if (out->len == before)
        out->p[out->len++] = 0x00; /* deflate_run left room */
    if (d->no_context)
        deflateReset(z);
    return 0;
}

static int inflater_start(eddy__ws_inflater *f)
{
    z_stream *z;

    if (f->z != NULL)
        return 0;
    if ((z = calloc(1, sizeof *z)) == NULL)
        return -ENOMEM;
    if (inflateInit2(z, -(int)f->window_bits) != Z_OK) {
        free(z);
        return -ENOMEM;
    }
    f->z = z;
    return 0;
}

/* The peer's stream ended and more data follows: a new stream, which may
 * refer back into the old one's window. */
static int inflater_restart(eddy__ws_inflater *f)
{
    z_stream *z = f->z;
    uInt len = 1u << f->window_bits;
    uint8_t *dict;

    if (++f->restarts > 4)
        return -EDDY_WS_INVALID_DATA;
    if ((dict = malloc(len)) == NULL)
        return -ENOMEM;
    inflateGetDictionary(z, dict, &len);
    inflateReset(z);
    inflateSetDictionary(z, dict, len);
    free(dict);
    f->ended = 0;
    return 0;
}

/* The message is complete: forget it, and the window unless kept. */
static void inflater_end_message(eddy__ws_inflater *f)
{
    f->total = 0;
    f->tail = 0;
    f->restarts = 0;
    if (f->no_context) {
        inflateReset(f->z);
        f->ended = 0;
    }
}

/* Whether zlib's last call stopped right after a block's end, with all
 * the block's output written. */
static int between_blocks(const eddy__ws_inflater *f)
{
    return (((const z_stream *)f->z)->data_type & 128) != 0;
}

/* One inflate call on src[0, *avail) into out[0, room); updates both. */
static int inflate_step(eddy__ws_inflater *f, const uint8_t *src, size_t *avail,
                        uint8_t *out, size_t *room)
{
    z_stream *z = f->z;
    uint8_t spare;
    int zr;

    z->next_in = (Bytef *)(uintptr_t)src;
    z->avail_in = (uInt)(*avail < SLICE ? *avail : SLICE);
    z->next_out = *room > 0 ? out : &spare; /* zlib wants a pointer */
    z->avail_out = (uInt)(*room < SLICE ? *room : SLICE);
    zr = inflate(z, Z_NO_FLUSH);
    *avail = (size_t)(z->next_in - src);
    *room = (size_t)(z->next_out - (*room > 0 ? out : &spare));
    if (zr == Z_STREAM_END)
        f->ended = 1;
    else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT)
        return -EDDY_WS_INVALID_DATA;
    else if (zr == Z_MEM_ERROR)
        return -ENOMEM;
    else if (zr == Z_STREAM_ERROR)
        return -EINVAL;
    return 0;
}

int eddy__ws_inflate(eddy__ws_inflater *f, const void *in, size_t n, int fin,
                     void *out, size_t cap, size_t *used, size_t *made)
{
    const uint8_t *src;
    size_t avail, room, space, offered;
    int ret, tail;

    *used = *made = 0;
    if ((ret = inflater_start(f)) < 0)
        return ret;
    for (;;) {
        /* The input, then at the end the tail (unless the stream ended). */
        tail = *used == n;
        src = tail ? sync_tail + f->tail : (const uint8_t *)in + *used;
        avail = !tail ? n - *used : fin && !f->ended ? 4u - f->tail : 0;
        if (avail == 0 && !f->pending)
            break;
        space = cap - *made;
        if (space == 0)
            return 1; /* out is full and there is more to do */
        if (!tail && f->ended && (ret = inflater_restart(f)) < 0)
            return ret;
        /* No more room than the limit allows, plus one byte to see it
         * passed. */
        room =
            f->max - f->total < space ? (size_t)(f->max - f->total) + 1 : space;
        offered = avail;
        ret = inflate_step(f, src, &avail, (uint8_t *)out + *made, &room);
        if (tail)
            f->tail = (uint8_t)(f->tail + avail);
        else
            *used += avail;
        *made += room;
        f->total += room;
        /* The limit first: zlib may find an error further on in the same
         * call, after the output that passed the limit. */
        if (f->total > f->max)
            return -EDDY_WS_MESSAGE_TOO_BIG;
        if (ret < 0)
            return ret;
        /* A full out may leave output waiting, unless zlib stopped
         * between blocks: then it has none, and needs input.  Asking it
         * for output there anyway (a call without input) would make it
         * forget that it is between blocks, as inflate() steps past that
         * state on entry and clears bit 128 of data_type, which the end
         * of the message checks: a message whose last byte filled out
         * exactly would get 1007, and pass with more room. */
        f->pending = *made == cap && !f->ended && !between_blocks(f);
        if (avail == 0 && room == 0 && !f->pending) {
            /* No progress: fine when only pending output was asked for;
             * input that zlib will not take cannot happen with room. */
            if (offered > 0)
                return -EDDY_WS_INVALID_DATA;
            break;
        }
    }
    if (fin && *used == n && (f->tail == 4 || f->ended)) {
        /* The tail must leave zlib between blocks: a payload cut inside
         * one (an empty one, say) would garble the next message. */
        if (!f->ended && !between_blocks(f))
            return -EDDY_WS_INVALID_DATA;
        inflater_end_message(f);
    }
    return 0;
}

void eddy__ws_deflater_free(eddy__ws_deflater *d)
{
    if (d->z != NULL) {
        deflateEnd(d->z);
        free(d->z);
        d->z = NULL;
    }
}

void eddy__ws_inflater_free(eddy__ws_inflater *f)
{
    if (f->z != NULL) {
        inflateEnd(f->z);
        free(f->z);
        f->z = NULL;
    }
    f->total = 0;
    f->tail = f->ended = f->restarts = f->pending = 0;
}

#else /* no zlib: permessage-deflate is never agreed */

int eddy__ws_deflate_available(void)
{
    return 0;
}

int eddy__ws_deflate(eddy__ws_deflater *d, const void *in, size_t n, int fin,
                     eddy__ws_buf *out)
{
    (void)d, (void)in, (void)n, (void)fin, (void)out;
    return -ENOTSUP;
}

int eddy__ws_inflate(eddy__ws_inflater *f, const void *in, size_t n, int fin,
                     void *out, size_t cap, size_t *used, size_t *made)
{
    (void)f, (void)in, (void)n, (void)fin, (void)out, (void)cap;
    *used = *made = 0;
    return -ENOTSUP;
}

void eddy__ws_deflater_free(eddy__ws_deflater *d)
{
    d->z = NULL;
}

void eddy__ws_inflater_free(eddy__ws_inflater *f)
{
    f->z = NULL;
}

#endif
