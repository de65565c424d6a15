/*
 * httputil/range.c - the conditional and partial request fields a file
 * server decides on: Range (RFC 9110 14.2), and the entity-tag lists of
 * If-None-Match, If-Match and If-Range (RFC 9110 8.8.3, 13.1).
 *
 * Single byte ranges only: a multipart/byteranges answer is rarely asked
 * for (browsers and download tools send one range) and is where servers
 * have had their denial-of-service bugs (many overlapping ranges of one
 * large file), so several ranges get the whole representation instead.
 *
 * This file must never read past the bytes it is given, overflow on any
 * number, or give a range that is not inside the representation.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <string.h>

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Digits at *p (at least one), saturating at UINT64_MAX: a number too
 * large for 64 bits is past the end of anything.  0, or -EINVAL. */
static int number(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;

    *v = 0;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        unsigned d = (unsigned)(*q - '0');

        *v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
    }
    if (q == *p)
        return -EINVAL;
    *p = q;
    return 0;
}

struct spec {
    uint64_t a, b;
    int suffix, open; /* "-b", "a-" */
};

/* One range-spec at *p: "a-b", "a-" or "-b". */
static int range_spec(const char **p, const char *end, struct spec *s)
{
    s->suffix = s->open = 0;
    if (*p < end && **p == '-') {
        (*p)++;
        s->suffix = 1;
        return number(p, end, &s->b);
    }
    if (number(p, end, &s->a) < 0 || *p == end || **p != '-')
        return -EINVAL;
    (*p)++;
    if (*p == end || **p < '0' || **p > '9') {
        s->open = 1;
        return 0;
    }
    if (number(p, end, &s->b) < 0 || s->b < s->a)
        return -EINVAL;
    return 0;
}

int eddy_http_range_parse(const char *p, size_t len, uint64_t size,
                          uint64_t *first, uint64_t *last)
{
    const char *end, *unit = p, *eq;
    struct spec s = {0, 0, 0, 0}, one = s;
    size_t count = 0;

    if (p == NULL || first == NULL || last == NULL ||
        (end = p + len, eq = memchr(p, '=', len)) == NULL ||
        !eddy__hu_token(p, (size_t)(eq - p)))
        return -EINVAL;
    /* 1#range-spec, with OWS and the empty elements lists may have. */
    for (p = eq + 1; (p = skip_ows(p, end)) < end;) {
        if (*p == ',') {
            p++;
            continue;
        }
        if (range_spec(&p, end, &s) < 0)
            return -EINVAL;
        if (count++ == 0)
            one = s;
        if ((p = skip_ows(p, end)) < end && *p != ',')
            return -EINVAL;
    }
    if (count == 0)
        return -EINVAL;
    if (!eddy__hu_ieq(unit, (size_t)(eq - unit), "bytes") || count > 1)
        return -ENOTSUP;
    if (size == 0 || (one.suffix ? one.b == 0 : one.a >= size))
        return -ERANGE;
    *first = one.suffix ? (one.b >= size ? 0 : size - one.b) : one.a;
    *last = one.suffix || one.open || one.b >= size ? size - 1 : one.b;
    return 0;
}

/* --- entity tags ------------------------------------------------------ */

/* An entity-tag at *p: [W/] DQUOTE *etagc DQUOTE, where etagc is %x21,
 * %x23-7E or obs-text.  0 with the opaque tag (quotes included) and its
 * weakness, or -EINVAL. */
static int entity_tag(const char **p, const char *end, eddy_str *opaque,
                      int *weak)
{
    const char *q = *p;

    *weak = end - q >= 2 && q[0] == 'W' && q[1] == '/';
    q += 2 * *weak;
    if (q == end || *q != '"')
        return -EINVAL;
    opaque->p = q++;
    for (; q < end && *q != '"'; q++) {
        unsigned char c = (unsigned char)*q;

        if (c < 0x21 || c == 0x7f)
            return -EINVAL;
    }
    if (q == end)
        return -EINVAL;
    opaque->len = (size_t)(++q - opaque->p);
    *p = q;
    return 0;
}

int eddy_http_etag_match(const char *list, size_t len, const char *etag,
                         size_t etag_len, int strong)
{
    const char *p = list, *end, *q = etag;
    eddy_str mine, theirs;
    int my_weak, weak, match = 0;
    size_t count = 0;

    if (list == NULL || etag == NULL ||
        entity_tag(&q, etag + etag_len, &mine, &my_weak) < 0 ||
        q != etag + etag_len)
        return -EINVAL;
    end = list + len;
    p = skip_ows(p, end);
    if (p < end && *p == '*')
        return skip_ows(p + 1, end) == end ? 1 : -EINVAL;
    for (; (p = skip_ows(p, end)) < end;) {
        if (*p == ',') {
            p++;
            continue;
        }
        if (entity_tag(&p, end, &theirs, &weak) < 0)
            return -EINVAL;
        count++;
        if (theirs.len == mine.len && memcmp(theirs.p, mine.p, mine.len) == 0 &&
            (!strong || (!weak && !my_weak)))
            match = 1;
        if ((p = skip_ows(p, end)) < end && *p != ',')
            return -EINVAL;
    }
    return count == 0 ? -EINVAL : match;
}
