/*
 * httputil/path.c - a request path decoded for routing and for file names:
 * percent-decoding, then the removal of dot segments (RFC 3986 5.2.4).
 *
 * The path is taken a segment at a time: each is decoded into the output
 * where it will stay, and a "." or ".." (also when it was written
 * %2E%2e) is dropped or pops the segment before it.  Since an encoded
 * slash is refused, decoded segments are the raw ones, and a ".." can
 * never be smuggled in as part of a longer segment.
 *
 * This file must never accept a path that climbs above the root, write
 * more bytes than it read, or read past the bytes it is given.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <string.h>

/* Decodes one segment, seg[0, n), into out (which may be seg itself, or
 * lie before it): its decoded length, or -EINVAL. */
static long decode_segment(const char *seg, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)seg[i];

        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            return -EINVAL;
        if (c == '%') {
            char v; /* "%XX" decodes to one byte, or fails */

            if (n - i < 3 || eddy__hu_unescape(seg + i, 3, 0, &v) != 1 ||
                v == '\0' || v == '/')
                return -EINVAL;
            c = (unsigned char)v;
            i += 2;
        }
        out[o++] = (char)c;
    }
    return (long)o;
}

int eddy_path_decode(const char *path, size_t len, char *out, size_t *out_len)
{
    size_t i = 1, w = 1; /* read and write positions, each after a '/' */

    if (path == NULL || out == NULL || out_len == NULL || len == 0 ||
        path[0] != '/')
        return -EINVAL;
    out[0] = '/';
    /* w <= i throughout, so that out may be path itself. */
    while (i <= len) {
        const char *seg = path + i;
        const char *slash = memchr(seg, '/', len - i);
        size_t n = slash ? (size_t)(slash - seg) : len - i;
        long d = decode_segment(seg, n, out + w);

        if (d < 0)
            return (int)d;
        if (d == 1 && out[w] == '.') {
            /* "/a/./b" is "/a/b", and "/a/." is "/a/". */
        } else if (d == 2 && out[w] == '.' && out[w + 1] == '.') {
            if (w == 1)
                return -EINVAL; /* above the root */
            /* Pop the segment before, keeping the '/' in front of it. */
            for (w--; out[w - 1] != '/'; w--)
                ;
        } else {
            w += (size_t)d;
            if (slash != NULL)
                out[w++] = '/';
        }
        i += n + 1;
    }
    *out_len = w;
    return 0;
}
