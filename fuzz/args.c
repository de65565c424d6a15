/*
 * fuzz/args.c - query and form arguments, percent-decoding, request paths
 * and route patterns (httputil/args.c, path.c, pattern.c) under fuzzing.
 *
 * Input: one byte of settings (bits 0-2 the EDDY_ARGS_* flags, bit 3
 * small limits), then the bytes: a query string, a URL component and a
 * path all at once; if they hold a '\n', what is before it is also a
 * route pattern and what is after it a path to match.  Every call sees a
 * heap copy of exactly its bytes, so ASan catches a read past len.
 * Checks:
 *
 *  - eddy_args_parse() gives what a plain reference decoder in this file
 *    gives (split on '&', skip empty pieces, split at the first '=',
 *    decode), or the error it should, within the limits; every name and
 *    value is followed by a NUL; eddy_args_get() finds the last of each
 *    name and eddy_args_get_all() counts them; the pairs, encoded again,
 *    parse to the same pairs;
 *  - eddy_url_unescape() gives the reference decoding, also in place;
 *  - eddy_path_decode() gives what decoding and then removing dot
 *    segments with a stack of segments gives, refusing what that refuses
 *    (a byte that may not be in a target, a bad escape, %00, %2F, a ".."
 *    with nothing to pop); the result decodes again to itself;
 *  - a pattern that compiles matches a path only as its segments say, and
 *    the path rebuilt from its literals and captured parameters is the
 *    path.
 */
#include "fuzz.h"

#include "../httputil/httputil_internal.h"

#include <errno.h>
#include <string.h>

#define AR_PAIRS 64 /* pairs checked one by one */

static char *ar_copy(const uint8_t *p, size_t n)
{
    char *c = malloc(n ? n : 1);

    if (c != NULL && n > 0)
        memcpy(c, p, n);
    return c;
}

static int ar_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The reference decoder: out gets the bytes, the length is returned, or
 * -1 for a bad escape. */
static long ar_decode(const char *p, size_t n, unsigned flags, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && n - i >= 3 && ar_hex(p[i + 1]) >= 0 &&
            ar_hex(p[i + 2]) >= 0) {
            out[o++] = (char)(ar_hex(p[i + 1]) * 16 + ar_hex(p[i + 2]));
            i += 2;
        } else if (p[i] == '%' && !(flags & EDDY_ARGS_KEEP_BAD_ESCAPES)) {
            return -1;
        } else if (p[i] == '+' && !(flags & EDDY_ARGS_PLUS_LITERAL)) {
            out[o++] = ' ';
        } else {
            out[o++] = p[i];
        }
    }
    return (long)o;
}

/* What eddy_args_parse() must answer, by the reference. */
static int ar_expect(const char *p, size_t n, unsigned flags, size_t max_args,
                     size_t max_size)
{
    size_t pairs = 0;
    char *tmp;
    int ret = 0;

    if (n > max_size)
        return -EMSGSIZE;
    for (size_t i = 0, start = 0; i <= n; i++)
        if (i == n || p[i] == '&') {
            pairs += i > start;
            start = i + 1;
        }
    if (pairs > max_args)
        return -E2BIG;
    if ((tmp = malloc(n + 1)) == NULL)
        return 1; /* unknown */
    /* Every piece decodes, then every piece is UTF-8 if asked. */
    for (int pass = 0; pass < 2 && ret == 0; pass++) {
        for (size_t i = 0, start = 0; i <= n && ret == 0; i++) {
            long r;

            if (i < n && p[i] != '&')
                continue;
            if (i > start) {
                r = ar_decode(p + start, i - start, flags, tmp);
                if (r < 0)
                    ret = -EINVAL;
                else if (pass == 1 && (flags & EDDY_ARGS_UTF8) &&
                         !eddy__hu_utf8(tmp, (size_t)r))
                    ret = -EILSEQ;
            }
            start = i + 1;
        }
    }
    free(tmp);
    return ret;
}

/* Pair k of p[0, n) by the reference, decoded into name and value. */
static void ar_pair(const char *p, size_t n, size_t k, unsigned flags,
                    char *name, long *nl, char *value, long *vl)
{
    size_t seen = 0;

    for (size_t i = 0, start = 0; i <= n; i++) {
        if (i < n && p[i] != '&')
            continue;
        if (i > start && seen++ == k) {
            const char *eq = memchr(p + start, '=', i - start);
            size_t nlen = eq ? (size_t)(eq - (p + start)) : i - start;

            *nl = ar_decode(p + start, nlen, flags, name);
            *vl =
                eq ? ar_decode(eq + 1, i - start - nlen - 1, flags, value) : 0;
            return;
        }
        start = i + 1;
    }
}

static int ar_same(eddy_str s, const char *p, long n)
{
    return n >= 0 && s.len == (size_t)n &&
           (n == 0 || memcmp(s.p, p, s.len) == 0);
}

/* The pairs encoded again ('%XX' for all but letters and digits) parse
 * to the same pairs. */
static void ar_reencode(const eddy_args *a, unsigned flags)
{
    size_t size = 1, o = 0;
    eddy_args *b = NULL;
    eddy_str n, v, n2, v2;
    char *buf;

    for (size_t i = 0; eddy_args_at(a, i, &n, &v) == 0; i++)
        size += 3 * (n.len + v.len) + 2;
    if ((buf = malloc(size)) == NULL)
        return;
    for (size_t i = 0; eddy_args_at(a, i, &n, &v) == 0; i++) {
        eddy_str part[2] = {n, v};

        for (int k = 0; k < 2; k++) {
            for (size_t j = 0; j < part[k].len; j++) {
                unsigned char c = (unsigned char)part[k].p[j];

                if ((c >= '0' && c <= '9') ||
                    ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
                    buf[o++] = (char)c;
                } else {
                    buf[o++] = '%';
                    buf[o++] = "0123456789ABCDEF"[c >> 4];
                    buf[o++] = "0123456789ABCDEF"[c & 15];
                }
            }
            buf[o++] = k == 0 ? '=' : '&';
        }
    }
    /* Decoded bytes may be anything, so only UTF-8 carries over. */
    {
        eddy_args_limits lim = {eddy_args_count(a) + 1, o + 1};
        int r = eddy_args_parse(buf, o, flags & EDDY_ARGS_UTF8, &lim, &b);

        FUZZ_CHECK(r == 0, "pairs encoded again parse");
        FUZZ_CHECK(eddy_args_count(b) == eddy_args_count(a),
                   "encoded again: as many pairs");
        for (size_t i = 0; r == 0 && eddy_args_at(a, i, &n, &v) == 0; i++) {
            eddy_args_at(b, i, &n2, &v2);
            FUZZ_CHECK(ar_same(n2, n.p, (long)n.len) &&
                           ar_same(v2, v.p, (long)v.len),
                       "encoded again: the same pair");
        }
    }
    eddy_args_free(b);
    free(buf);
}

static void ar_args(const uint8_t *data, size_t n, unsigned flags, int small)
{
    eddy_args_limits lim = {small ? 4 : 0, small ? 32 : 0};
    size_t max_args = small ? 4 : 1000, max_size = small ? 32 : 1 << 20;
    char *p = ar_copy(data, n), *name = malloc(n + 1), *value = malloc(n + 1);
    eddy_args *a = NULL;
    int r, want;

    if (p == NULL || name == NULL || value == NULL)
        goto out;
    r = eddy_args_parse(p, n, flags, &lim, &a);
    want = ar_expect(p, n, flags, max_args, max_size);
    FUZZ_CHECK(want == 1 || r == want,
               "eddy_args_parse answers as the reference");
    FUZZ_CHECK(r == 0 || a == NULL, "no set after an error");
    if (r != 0)
        goto out;
    FUZZ_CHECK(eddy_args_count(a) <= max_args, "within max_args");
    for (size_t k = 0; k < eddy_args_count(a) && k < AR_PAIRS; k++) {
        eddy_str nm, v, got;
        long nl = -1, vl = -1;
        size_t last = k, count = 0;

        eddy_args_at(a, k, &nm, &v);
        ar_pair(p, n, k, flags, name, &nl, value, &vl);
        FUZZ_CHECK(ar_same(nm, name, nl) && ar_same(v, value, vl),
                   "a pair is the reference's");
        FUZZ_CHECK(nm.p[nm.len] == '\0' && v.p[v.len] == '\0',
                   "names and values are followed by a NUL");
        if (memchr(nm.p, '\0', nm.len) != NULL)
            continue; /* not a C string: not found by name */
        for (size_t j = 0; j < eddy_args_count(a); j++) {
            eddy_str nj;

            eddy_args_at(a, j, &nj, NULL);
            if (nj.len == nm.len && memcmp(nj.p, nm.p, nm.len) == 0) {
                last = j;
                count++;
            }
        }
        FUZZ_CHECK(eddy_args_get(a, nm.p, &got) == 0, "a name is found");
        eddy_args_at(a, last, NULL, &v);
        FUZZ_CHECK(got.p == v.p, "eddy_args_get gives the last");
        FUZZ_CHECK(eddy_args_get_all(a, nm.p, NULL, 0) == count,
                   "eddy_args_get_all counts them all");
    }
    ar_reencode(a, flags);
out:
    eddy_args_free(a);
    free(p);
    free(name);
    free(value);
}

static void ar_unescape(const uint8_t *data, size_t n, unsigned flags)
{
    char *p = ar_copy(data, n), *out = malloc(n + 1), *ref = malloc(n + 1);
    size_t len = 0;
    long want;
    int r;

    if (p == NULL || out == NULL || ref == NULL)
        goto out;
    r = eddy_url_unescape(p, n, flags, out, &len);
    want = ar_decode(p, n, flags, ref);
    if (want < 0) {
        FUZZ_CHECK(r == -EINVAL, "a bad escape is -EINVAL");
    } else if ((flags & EDDY_ARGS_UTF8) && !eddy__hu_utf8(ref, (size_t)want)) {
        FUZZ_CHECK(r == -EILSEQ, "not UTF-8 is -EILSEQ");
    } else {
        FUZZ_CHECK(r == 0 && ar_same((eddy_str){out, len}, ref, want),
                   "eddy_url_unescape decodes as the reference");
        FUZZ_CHECK(eddy_url_unescape(p, n, flags, p, &len) == 0 &&
                       ar_same((eddy_str){p, len}, ref, want),
                   "eddy_url_unescape in place");
    }
out:
    free(p);
    free(out);
    free(ref);
}

/* The reference path decoder: decode everything, then a stack of
 * segments.  The length, or -1. */
static long ar_path(const char *p, size_t n, char *out)
{
    char *d = malloc(n + 1);
    size_t *seg = malloc((n + 1) * sizeof *seg),
           *len = malloc((n + 1) * sizeof *len);
    size_t dn = 0, top = 0, o = 0;
    long ret = -1;
    int dot_last = 0;

    if (d == NULL || seg == NULL || len == NULL || n == 0 || p[0] != '/')
        goto out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
            goto out;
        if (c == '%') {
            if (i + 2 >= n || ar_hex(p[i + 1]) < 0 || ar_hex(p[i + 2]) < 0)
                goto out;
            c = (unsigned char)(ar_hex(p[i + 1]) * 16 + ar_hex(p[i + 2]));
            if (c == 0 || c == '/')
                goto out;
            i += 2;
            d[dn++] = (char)(c == '/' ? 0 : c);
            continue;
        }
        d[dn++] = (char)(c == '/' ? 0 : c); /* 0 marks a real slash */
    }
    /* d[0] is the leading slash; segments are between the marks. */
    for (size_t i = 1, start = 1; i <= dn; i++) {
        size_t l;

        if (i < dn && d[i] != 0)
            continue;
        l = i - start;
        dot_last = 0;
        if (l == 1 && d[start] == '.') {
            dot_last = 1;
        } else if (l == 2 && d[start] == '.' && d[start + 1] == '.') {
            if (top == 0)
                goto out;
            top--;
            dot_last = 1;
        } else {
            seg[top] = start;
            len[top++] = l;
        }
        start = i + 1;
    }
    out[o++] = '/';
    for (size_t k = 0; k < top; k++) {
        memcpy(out + o, d + seg[k], len[k]);
        o += len[k];
        if (k + 1 < top || dot_last)
            out[o++] = '/';
    }
    ret = (long)o;
out:
    free(d);
    free(seg);
    free(len);
    return ret;
}

static void ar_paths(const uint8_t *data, size_t n)
{
    char *p = ar_copy(data, n), *out = malloc(n + 1), *ref = malloc(n + 2);
    size_t len = 0;
    long want;
    int r;

    if (p == NULL || out == NULL || ref == NULL)
        goto out;
    r = eddy_path_decode(p, n, out, &len);
    want = ar_path(p, n, ref);
    FUZZ_CHECK((r == 0) == (want >= 0), "eddy_path_decode refuses as the "
                                        "reference does");
    if (r == 0 && want >= 0) {
        FUZZ_CHECK(ar_same((eddy_str){out, len}, ref, want),
                   "eddy_path_decode decodes as the reference");
        FUZZ_CHECK(len <= n && out[0] == '/', "a path starts with '/'");
        FUZZ_CHECK(memchr(out, '\0', len) == NULL, "no NUL in a path");
        FUZZ_CHECK(eddy_path_decode(p, n, p, &len) == 0 &&
                       ar_same((eddy_str){p, len}, ref, want),
                   "eddy_path_decode in place");
    }
out:
    free(p);
    free(out);
    free(ref);
}

/* A pattern (before the first '\n') against a path (after it). */
static void ar_pattern(const uint8_t *data, size_t n)
{
    const uint8_t *nl = memchr(data, '\n', n);
    eddy__pattern *pt = NULL;
    eddy__path_param params[64];
    char *pat, *path, *rebuilt;
    size_t pn, qn;

    if (nl == NULL)
        return;
    pn = (size_t)(nl - data);
    qn = n - pn - 1;
    pat = ar_copy(data, pn);
    path = ar_copy(nl + 1, qn);
    rebuilt = malloc(2 * (pn + qn) + 2);
    if (pat != NULL && path != NULL && rebuilt != NULL &&
        eddy__pattern_compile(pat, pn, &pt) == 0 &&
        eddy__pattern_nparams(pt) <= 64 &&
        eddy__pattern_match(pt, path, qn, params) == 0) {
        /* Each '{...}' segment of the pattern replaced by its value. */
        size_t o = 0, k = 0;

        for (size_t i = 0; i < pn;) {
            if (pat[i] == '{') {
                const char *close = memchr(pat + i, '}', pn - i);

                FUZZ_CHECK(k < eddy__pattern_nparams(pt), "a parameter each");
                FUZZ_CHECK(params[k].value.len > 0 ||
                               (close && (size_t)(close - pat) == pn - 1 &&
                                close[-1] == '*'),
                           "only {name*} matches nothing");
                FUZZ_CHECK(params[k].value.p >= path &&
                               params[k].value.p + params[k].value.len <=
                                   path + qn,
                           "a value lies in the path");
                memcpy(rebuilt + o, params[k].value.p, params[k].value.len);
                o += params[k].value.len;
                k++;
                i = close ? (size_t)(close - pat) + 1 : pn;
            } else {
                rebuilt[o++] = pat[i++];
            }
        }
        FUZZ_CHECK(k == eddy__pattern_nparams(pt), "every parameter used");
        FUZZ_CHECK(o == qn && memcmp(rebuilt, path, qn) == 0,
                   "the path rebuilt from the pattern is the path");
    }
    eddy__pattern_free(pt);
    free(pat);
    free(path);
    free(rebuilt);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    unsigned flags = cfg & 7;

    ar_args(in.p, in.n, flags, (cfg >> 3) & 1);
    ar_unescape(in.p, in.n, flags);
    ar_paths(in.p, in.n);
    ar_pattern(in.p, in.n);
    return 0;
}
