/*
 * httputil/chars.c - the character classes the httputil parsers share (a
 * table, as picohttpparser decides token characters), case-insensitive
 * comparison and UTF-8 validation.
 *
 * Pure functions of their arguments: nothing here may allocate or keep
 * state.
 */
#include "httputil_internal.h"

/* Generated from the RFC grammars named in httputil_internal.h: bit 1
 * tchar, 2 field value, 4 cookie-octet, 8 bchars but SP, 16 hex digit. */
const unsigned char eddy__hu_cls[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  7,  2,  7,  7,  7,
    7,  15, 14, 14, 7,  15, 10, 15, 15, 14, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 14, 2,  6,  14, 6,  14, 6,  31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  2,  6,  7,
    15, 7,  31, 31, 31, 31, 31, 31, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  7,  0,  2,  2,  2,  2,  2,
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
    2,  2,  2,  2,  2,  2,  2,  2,  2,
};

int eddy__hu_token(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!eddy__hu_is((unsigned char)p[i], EDDY__HU_TOKEN))
            return 0;
    return n > 0;
}

int eddy__hu_ieq(const char *p, size_t n, const char *lower)
{
    size_t i;

    for (i = 0; i < n && lower[i] != '\0'; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)lower[i])
            return 0;
    }
    return i == n && lower[i] == '\0';
}

/* RFC 3629's table: the lead byte says how many continuation bytes follow
 * and narrows the range of the first of them, which rules out overlong
 * forms, surrogates and code points past U+10FFFF. */
int eddy__hu_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;

    while (p < end) {
        unsigned c = *p++, lo = 0x80, hi = 0xbf;
        size_t more;

        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong below */
            hi = c == 0xed ? 0x9f : 0xbf; /* surrogates above */
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            lo = c == 0xf0 ? 0x90 : 0x80; /* overlong below */
            hi = c == 0xf4 ? 0x8f : 0xbf; /* past U+10FFFF above */
        } else {
            return 0;
        }
        if ((size_t)(end - p) < more || p[0] < lo || p[0] > hi)
            return 0;
        for (size_t i = 1; i < more; i++)
            if (p[i] < 0x80 || p[i] > 0xbf)
                return 0;
        p += more;
    }
    return 1;
}
