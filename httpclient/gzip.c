/*
 * httpclient/gzip.c - inflating a gzip response body (Content-Encoding:
 * gzip) as it arrives, within a limit.
 *
 * zlib reads the gzip wrapper itself (windowBits 16 + 15) and checks its
 * CRC and length.  Output goes through a 16 KiB piece at a time to the
 * caller, and zlib is never given room past the limit plus one byte, so
 * a bomb (a few KiB that would become gigabytes) stops at the limit.
 * Members that follow one another are one body, as gzip(1) reads them;
 * bytes after a member that do not start another are an error.
 *
 * Built without zlib (make ZLIB=none) it refuses everything, and
 * eddy_http_client_fetch() refuses EDDY_FETCH_GZIP with -ENOTSUP before.
 *
 * This file must never inflate past the limit, and allocates only zlib's
 * state and its piece buffer, once per body.
 */
#include "httpclient_internal.h"

#include <errno.h>
#include <stdlib.h>

#ifdef EDDY_ZLIB
#include <zlib.h>

#define PIECE 16384

struct eddy__gunzip {
    z_stream z;
    int started; /* a member began */
    int ended;   /* ... and the last one ended */
    int more;    /* zlib may hold output for the input it took */
    uint64_t total;
    unsigned char out[PIECE];
};

int eddy__gunzip_available(void)
{
    return 1;
}

static int start(eddy__gunzip **gp)
{
    eddy__gunzip *g = calloc(1, sizeof *g);

    if (g == NULL)
        return -ENOMEM;
    if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        free(g);
        return -ENOMEM;
    }
    *gp = g;
    return 0;
}

int eddy__gunzip_pending(const eddy__gunzip *g)
{
    return g != NULL && g->more;
}

int eddy__gunzip_feed(eddy__gunzip **gp, const char *in, size_t len,
                      uint64_t limit,
                      int (*out)(void *arg, const char *data, size_t n),
                      void *arg, size_t *used)
{
    eddy__gunzip *g = *gp;
    int err, zr;

    *used = 0;
    if (g == NULL && (err = start(gp)) != 0)
        return err;
    g = *gp;
    while (len > 0 || g->more) {
        uint64_t room = limit - g->total;
        size_t take = len > UINT32_MAX ? UINT32_MAX : len, n, made;

        if (g->ended) { /* another member follows */
            if (inflateReset(&g->z) != Z_OK)
                return EDDY_HTTP_EDECODE;
            g->ended = 0;
        }
        g->started = 1;
        g->z.next_in = (unsigned char *)(uintptr_t)in;
        g->z.avail_in = (unsigned)take;
        g->z.next_out = g->out;
        /* One byte past the limit at most: enough to see it passed. */
        g->z.avail_out = room >= PIECE ? PIECE : (unsigned)room + 1;
        zr = inflate(&g->z, Z_NO_FLUSH);
        n = take - g->z.avail_in;
        made = (size_t)(g->z.next_out - g->out);
        in += n;
        len -= n;
        *used += n;
        if (made > room)
            return EDDY_HTTP_EBODYSIZE;
        g->total += made;
        if (zr == Z_STREAM_END) {
            g->ended = 1;
            g->more = 0;
        } else if (zr == Z_OK || zr == Z_BUF_ERROR) {
            g->more = g->z.avail_out == 0; /* output may be pending */
            if (zr == Z_BUF_ERROR && !g->more && len > 0)
                return EDDY_HTTP_EDECODE; /* no progress possible */
        } else {
            return zr == Z_MEM_ERROR ? -ENOMEM : EDDY_HTTP_EDECODE;
        }
        /* Last: out may free g (a stop it asks for comes back as is). */
        if (made > 0 && (err = out(arg, (const char *)g->out, made)) != 0)
            return err;
        if (zr == Z_BUF_ERROR && !g->more)
            break;
    }
    return 0;
}

int eddy__gunzip_end(const eddy__gunzip *g)
{
    return g != NULL && g->started && g->ended ? 0 : EDDY_HTTP_EDECODE;
}

void eddy__gunzip_free(eddy__gunzip *g)
{
    if (g == NULL)
        return;
    inflateEnd(&g->z);
    free(g);
}

#else

int eddy__gunzip_available(void)
{
    return 0;
}

int eddy__gunzip_pending(const eddy__gunzip *g)
{
    (void)g;
    return 0;
}

int eddy__gunzip_feed(eddy__gunzip **g, const char *in, size_t len,
                      uint64_t limit,
                      int (*out)(void *arg, const char *data, size_t n),
                      void *arg, size_t *used)
{
    (void)g;
    *used = 0;
    (void)in;
    (void)len;
    (void)limit;
    (void)out;
    (void)arg;
    return -ENOTSUP;
}

int eddy__gunzip_end(const eddy__gunzip *g)
{
    (void)g;
    return EDDY_HTTP_EDECODE;
}

void eddy__gunzip_free(eddy__gunzip *g)
{
    (void)g;
}

#endif
