/*
 * fuzz/multipart.c - the streaming multipart/form-data parser and the
 * boundary extractor (httputil/multipart.c, body.c) under fuzzing.
 *
 * Input: one byte of settings (bits 0-1 the boundary, one of four; bit 2
 * small limits; bit 3 also a byte at a time; bit 4 the bytes are a
 * Content-Type value for eddy_multipart_boundary() instead), the cut
 * points (fuzz.h), then the bytes of a body.  Every call sees a heap copy
 * of exactly its bytes, so ASan catches a read past len.  Checks:
 *
 *  - the same answer fed whole, in the fuzzer's pieces and a byte at a
 *    time: the same parts with the same names and bytes, or the same
 *    error (after which the parts and bytes seen are a prefix of the
 *    others');
 *  - callbacks come in order (begin, data, end), data never empty, and
 *    data from outside the piece being fed only as a held-back delimiter
 *    prefix (never when fed whole);
 *  - a body that parses splits, by a plain reference in this file (find
 *    the delimiters with memmem), into the same parts with the same bytes;
 *  - eddy_args_parse_body() on it collects exactly the parts without a
 *    filename, names and bytes, unless its own limits stop it;
 *  - a boundary extracted lies in the Content-Type, is 1 to 70 bchars and
 *    does not end in a space.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "fuzz.h"

#include "../httputil/httputil_internal.h"

#include <errno.h>
#include <string.h>

#define MP_MAX_CUTS 16
#define MP_MAX_DRIBBLE 4096
#define MP_MAX_PARTS 1001

static const char *const mp_bounds[4] = {
    "b", "XyZ", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a b'()+_,-./:=?"};

typedef struct mp_buf {
    char *p;
    size_t len, cap;
} mp_buf;

static int mp_put(mp_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *q;

        while (cap < b->len + n)
            cap *= 2;
        if ((q = realloc(b->p, cap)) == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

typedef struct mp_part {
    size_t name_off, name_len, data_off, data_len;
    int file, ended;
} mp_part;

/* What a parse came to. */
typedef struct mp_log {
    int ret;
    mp_buf names, data;
    mp_part parts[MP_MAX_PARTS];
    size_t nparts;
    const char *lo, *hi; /* the piece being fed */
    size_t dlen;         /* the delimiter's length */
    int whole;
} mp_log;

static int mp_begin(const eddy_multipart_part *part, void *arg)
{
    mp_log *l = arg;
    mp_part *p;

    FUZZ_CHECK(l->nparts == 0 || l->parts[l->nparts - 1].ended,
               "a part begins after the one before ended");
    FUZZ_CHECK(part->index == l->nparts, "parts are counted");
    FUZZ_CHECK(part->name.p != NULL, "a part has a name");
    if (l->nparts == MP_MAX_PARTS)
        return -ENOSPC;
    p = &l->parts[l->nparts++];
    memset(p, 0, sizeof *p);
    p->name_off = l->names.len;
    p->name_len = part->name.len;
    p->data_off = l->data.len;
    p->file = part->filename.p != NULL;
    return mp_put(&l->names, part->name.p, part->name.len) < 0 ? -ENOMEM : 0;
}

static int mp_data(const char *p, size_t n, void *arg)
{
    mp_log *l = arg;

    FUZZ_CHECK(n > 0, "data is never empty");
    FUZZ_CHECK(l->nparts > 0 && !l->parts[l->nparts - 1].ended,
               "data comes inside a part");
    if (!(p >= l->lo && p + n <= l->hi))
        FUZZ_CHECK(!l->whole && n < l->dlen,
                   "only a held-back delimiter prefix comes from elsewhere");
    if (l->nparts == 0)
        return -EINVAL;
    l->parts[l->nparts - 1].data_len += n;
    return mp_put(&l->data, p, n) < 0 ? -ENOMEM : 0;
}

static int mp_end(void *arg)
{
    mp_log *l = arg;

    FUZZ_CHECK(l->nparts > 0 && !l->parts[l->nparts - 1].ended,
               "a part ends once");
    if (l->nparts > 0)
        l->parts[l->nparts - 1].ended = 1;
    return 0;
}

static const eddy_multipart_callbacks mp_cb = {mp_begin, mp_data, mp_end};

static void mp_log_free(mp_log *l)
{
    free(l->names.p);
    free(l->data.p);
}

/* Feeds body[0, len) cut at cuts[0, ncuts), each piece a heap copy. */
static void mp_run(const char *bnd, const eddy_multipart_limits *lim,
                   const uint8_t *body, size_t len, const size_t *cuts,
                   size_t ncuts, mp_log *l)
{
    eddy_multipart *mp;
    size_t at = 0;
    int r = 0;

    memset(l, 0, sizeof *l);
    l->dlen = 4 + strlen(bnd);
    l->whole = ncuts == 0;
    if (eddy_multipart_new(bnd, strlen(bnd), lim, &mp_cb, l, &mp) != 0) {
        l->ret = 1;
        return;
    }
    for (size_t i = 0; i <= ncuts && r == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        char *piece = malloc(to - at ? to - at : 1);

        if (piece == NULL) {
            r = 1;
            break;
        }
        if (to > at)
            memcpy(piece, body + at, to - at);
        l->lo = piece;
        l->hi = piece + (to - at);
        r = eddy_multipart_feed(mp, to > at ? piece : NULL, to - at);
        free(piece);
        at = to;
    }
    if (r == 0)
        r = eddy_multipart_finish(mp);
    else if (r != 1)
        FUZZ_CHECK(eddy_multipart_finish(mp) == r, "an error stays");
    FUZZ_CHECK(r == 0 || r == 1 || r == -EBADMSG || r == -E2BIG ||
                   r == -EMSGSIZE || r == -EFBIG || r == -EPROTO,
               "errors are the documented ones");
    eddy_multipart_free(mp);
    l->ret = r;
}

static int mp_prefix(const mp_buf *a, const mp_buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;

    return n == 0 || memcmp(a->p, b->p, n) == 0;
}

static void mp_same(const mp_log *a, const mp_log *b)
{
    if (a->ret == 1 || b->ret == 1)
        return; /* out of memory: nothing to compare */
    FUZZ_CHECK(a->ret == b->ret, "the same answer however the body is cut");
    if (a->ret != 0) {
        FUZZ_CHECK(mp_prefix(&a->names, &b->names) &&
                       mp_prefix(&a->data, &b->data),
                   "before an error, the same names and bytes so far");
        return;
    }
    FUZZ_CHECK(a->nparts == b->nparts && a->names.len == b->names.len &&
                   a->data.len == b->data.len &&
                   (a->names.len == 0 ||
                    memcmp(a->names.p, b->names.p, a->names.len) == 0) &&
                   (a->data.len == 0 ||
                    memcmp(a->data.p, b->data.p, a->data.len) == 0),
               "the same parts however the body is cut");
    for (size_t i = 0; i < a->nparts && i < b->nparts; i++)
        FUZZ_CHECK(a->parts[i].data_len == b->parts[i].data_len &&
                       a->parts[i].file == b->parts[i].file,
                   "the same part boundaries however the body is cut");
}

/* The reference: a body that parsed splits at the delimiters into the same
 * parts' bytes. */
static void mp_reference(const char *bnd, const uint8_t *body, size_t len,
                         const mp_log *l)
{
    size_t blen = strlen(bnd), dlen = blen + 4, q, k = 0;
    char *d = malloc(dlen);
    const uint8_t *hit;

    if (d == NULL)
        return;
    memcpy(d, "\r\n--", 4);
    memcpy(d + 4, bnd, blen);
    if (len >= dlen - 2 && memcmp(body, d + 2, dlen - 2) == 0)
        q = dlen - 2;
    else if ((hit = memmem(body, len, d, dlen)) != NULL)
        q = (size_t)(hit - body) + dlen;
    else
        q = SIZE_MAX;
    FUZZ_CHECK(q != SIZE_MAX, "the reference finds the first delimiter");
    while (q != SIZE_MAX && q + 2 <= len && memcmp(body + q, "--", 2) != 0) {
        const uint8_t *hdr_end, *next;
        size_t start;

        while (q < len && (body[q] == ' ' || body[q] == '\t'))
            q++;
        FUZZ_CHECK(q + 2 <= len && memcmp(body + q, "\r\n", 2) == 0,
                   "the reference finds CRLF after a delimiter");
        q += 2;
        hdr_end = memmem(body + q, len - q, "\r\n\r\n", 4);
        FUZZ_CHECK(hdr_end != NULL, "the reference finds a header block");
        if (hdr_end == NULL)
            break;
        start = (size_t)(hdr_end - body) + 4;
        next = memmem(body + start, len - start, d, dlen);
        FUZZ_CHECK(next != NULL, "the reference finds the part's end");
        if (next == NULL)
            break;
        FUZZ_CHECK(k < l->nparts &&
                       l->parts[k].data_len == (size_t)(next - body) - start &&
                       (l->parts[k].data_len == 0 ||
                        memcmp(l->data.p + l->parts[k].data_off, body + start,
                               l->parts[k].data_len) == 0),
                   "the reference's part has the same bytes");
        k++;
        q = (size_t)(next - body) + dlen;
    }
    FUZZ_CHECK(k == l->nparts, "the reference finds as many parts");
    free(d);
}

/* eddy_args_parse_body() collects the fields. */
static void mp_fields(const char *bnd, const uint8_t *body, size_t len,
                      const mp_log *l)
{
    char ct[128];
    eddy_args *a = NULL;
    size_t k = 0;
    int r;

    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s\"", bnd);
    r = eddy_args_parse_body(ct, strlen(ct), (const char *)body, len, 0, NULL,
                             &a);
    FUZZ_CHECK(r == 0 || r == -EMSGSIZE || r == -E2BIG || r == -ENOMEM,
               "a body that parses gives its fields, or hits a limit");
    for (size_t i = 0; r == 0 && i < l->nparts; i++) {
        const mp_part *p = &l->parts[i];
        eddy_str n, v;

        if (p->file)
            continue;
        FUZZ_CHECK(eddy_args_at(a, k++, &n, &v) == 0 && n.len == p->name_len &&
                       (n.len == 0 ||
                        memcmp(n.p, l->names.p + p->name_off, n.len) == 0) &&
                       v.len == p->data_len &&
                       (v.len == 0 ||
                        memcmp(v.p, l->data.p + p->data_off, v.len) == 0),
                   "a field is collected with its name and bytes");
    }
    FUZZ_CHECK(r != 0 || eddy_args_count(a) == k, "only the fields");
    eddy_args_free(a);
}

static void mp_boundary(const uint8_t *data, size_t n)
{
    char *ct = malloc(n ? n : 1);
    eddy_str b;

    if (ct == NULL)
        return;
    if (n > 0)
        memcpy(ct, data, n);
    if (eddy_multipart_boundary(ct, n, &b) == 0) {
        FUZZ_CHECK(b.p >= ct && b.p + b.len <= ct + n,
                   "a boundary lies in the Content-Type");
        FUZZ_CHECK(b.len >= 1 && b.len <= 70 && b.p[b.len - 1] != ' ',
                   "a boundary is 1 to 70 bytes, not ending in a space");
        for (size_t i = 0; i < b.len; i++)
            FUZZ_CHECK(b.p[i] == ' ' ||
                           eddy__hu_is((unsigned char)b.p[i], EDDY__HU_BCHAR),
                       "a boundary is bchars");
        {
            eddy_multipart *mp = NULL;

            FUZZ_CHECK(
                eddy_multipart_new(b.p, b.len, NULL, &mp_cb, NULL, &mp) == 0,
                "a boundary extracted makes a parser");
            eddy_multipart_free(mp);
        }
    }
    free(ct);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const eddy_multipart_limits small = {3, 64, 8};
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    const char *bnd = mp_bounds[cfg & 3];
    const eddy_multipart_limits *lim = (cfg & 4) ? &small : NULL;
    size_t cuts[MP_MAX_CUTS], ncuts;
    mp_log *whole = malloc(sizeof *whole), *part = malloc(sizeof *part);

    if (whole == NULL || part == NULL)
        goto out;
    ncuts = fuzz_cuts(&in, cuts, MP_MAX_CUTS);
    if (cfg & 16) {
        mp_boundary(in.p, in.n);
        goto out;
    }
    mp_run(bnd, lim, in.p, in.n, NULL, 0, whole);
    mp_run(bnd, lim, in.p, in.n, cuts, ncuts, part);
    mp_same(whole, part);
    mp_log_free(part);
    if ((cfg & 8) && in.n <= MP_MAX_DRIBBLE && in.n > 1) {
        size_t *every = malloc((in.n - 1) * sizeof *every);

        if (every != NULL) {
            for (size_t i = 0; i + 1 < in.n; i++)
                every[i] = i + 1;
            mp_run(bnd, lim, in.p, in.n, every, in.n - 1, part);
            mp_same(whole, part);
            mp_log_free(part);
            free(every);
        }
    }
    if (whole->ret == 0) {
        mp_reference(bnd, in.p, in.n, whole);
        if (lim == NULL)
            mp_fields(bnd, in.p, in.n, whole);
    }
    mp_log_free(whole);
out:
    free(whole);
    free(part);
    return 0;
}
