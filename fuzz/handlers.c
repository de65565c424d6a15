/*
 * fuzz/handlers.c - the small parsers the HTTP server's conveniences
 * added (httpserver/gzip.c, static.c) under fuzzing, each checked
 * against a plain reference implementation in this file.
 *
 * Input: one byte of settings (bits 0-1 which parser; bit 2 dotfiles for
 * the relative path), then the bytes, given to the parser as a heap copy
 * of exactly their length (ASan catches a read past it):
 *
 *  0. Accept-Encoding: eddy__accepts_gzip() says what splitting on ',',
 *     then on ';', trimming, and reading "q=" as RFC 9110 12.4.2's
 *     qvalue says (gzip or x-gzip explicitly, else '*'; a malformed
 *     element's q is 0; the best of repeated codings);
 *  1. If-Range: eddy__if_range() against the tag "\"abc-1\"" and
 *     Last-Modified 784111777 is 1 only for the tag itself (strong) or
 *     the date that parses to that time, and the input given again with
 *     a byte changed in a tag gives 0;
 *  2. a path relative to a static root: eddy__static_rel_ok() refuses
 *     exactly what a segment-by-segment reading refuses (an empty
 *     segment, "." and "..", a leading '.' without dotfiles);
 *  3. Content-Type: eddy__compressible() says what a lowercase copy
 *     compared with the list says.
 */
#include "fuzz.h"

#include "../httpserver/http_internal.h"

#include <string.h>

static int hd_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int hd_ieq(const char *p, size_t n, const char *s)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (hd_lower((unsigned char)p[i]) != s[i])
            return 0;
    return 1;
}

static int hd_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void hd_trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* RFC 9110's qvalue in thousandths, or -1. */
static int hd_qvalue(const char *p, size_t n)
{
    int q;

    if (n == 1 && (p[0] == '0' || p[0] == '1'))
        return (p[0] - '0') * 1000;
    if (n < 2 || n > 5 || p[1] != '.' || (p[0] != '0' && p[0] != '1'))
        return -1;
    q = (p[0] - '0') * 1000;
    for (size_t i = 2, scale = 100; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9' || (p[0] == '1' && p[i] != '0'))
            return -1;
        q += (p[i] - '0') * (int)scale;
    }
    return q;
}

/* One element's q, from its parameters (after the coding). */
static int hd_element_q(const char *p, size_t n)
{
    int q = 1000;

    hd_trim(&p, &n);
    if (n == 0)
        return q;
    if (p[0] != ';')
        return 0;
    while (n > 0) {
        const char *semi, *eq;
        size_t len;

        p++, n--; /* the ';' */
        semi = memchr(p, ';', n);
        len = semi ? (size_t)(semi - p) : n;
        {
            const char *a = p;
            size_t an = len, nl;

            /* name=value, optional whitespace before the name and after
             * the value only */
            while (an > 0 && (*a == ' ' || *a == '\t'))
                a++, an--;
            while (an > 0 && (a[an - 1] == ' ' || a[an - 1] == '\t'))
                an--;
            eq = memchr(a, '=', an);
            if (eq == NULL || eq == a)
                return 0;
            nl = (size_t)(eq - a);
            for (size_t i = 0; i < nl; i++)
                if (!hd_tchar((unsigned char)a[i]))
                    return 0;
            for (size_t i = nl + 1; i < an; i++)
                if (a[i] == ' ' || a[i] == '\t')
                    return 0;
            if (nl == 1 && hd_lower((unsigned char)a[0]) == 'q' &&
                (q = hd_qvalue(eq + 1, an - nl - 1)) < 0)
                return 0;
        }
        p += len, n -= len;
    }
    return q;
}

static int hd_accepts(const char *p, size_t n)
{
    int gzip = -1, star = -1;

    while (1) {
        const char *comma = memchr(p, ',', n), *e = p;
        size_t len = comma ? (size_t)(comma - p) : n, c = 0;
        int q;

        while (c < len && (e[c] == ' ' || e[c] == '\t'))
            c++;
        e += c, len -= c, c = 0;
        while (c < len && hd_tchar((unsigned char)e[c]))
            c++;
        q = hd_element_q(e + c, len - c);
        if (hd_ieq(e, c, "gzip") || hd_ieq(e, c, "x-gzip"))
            gzip = q > gzip ? q : gzip;
        else if (c == 1 && e[0] == '*')
            star = q > star ? q : star;
        if (comma == NULL)
            break;
        n -= (size_t)(comma - p) + 1;
        p = comma + 1;
    }
    return gzip > 0 || (gzip < 0 && star > 0);
}

static void hd_if_range(const char *p, size_t n)
{
    static const char tag[] = "\"abc-1\"";
    const int64_t mtime = 784111777;
    int r = eddy__if_range(p, n, tag, 7, mtime);
    int64_t t;

    FUZZ_CHECK(r == 0 || r == 1, "If-Range says yes or no");
    if (n > 0 && (p[0] == '"' || (n > 1 && p[0] == 'W' && p[1] == '/')))
        FUZZ_CHECK(r == (n == 7 && memcmp(p, tag, 7) == 0),
                   "a tag matches only itself, strongly");
    else
        FUZZ_CHECK(r == (eddy_http_date_parse(p, n, &t) == 0 && t == mtime),
                   "a date matches only Last-Modified");
}

static int hd_rel_ok(const char *p, size_t n, int dotfiles)
{
    size_t start = 0;

    if (n == 0)
        return 1;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        size_t len = i - start;
        const char *s = p + start;

        if (len == 0 || (len == 1 && s[0] == '.') ||
            (len == 2 && s[0] == '.' && s[1] == '.') ||
            (s[0] == '.' && !dotfiles))
            return 0;
        start = i + 1;
    }
    return 1;
}

static int hd_compressible(const char *p, size_t n)
{
    static const char *const types[] = {
        "application/json",       "application/javascript",
        "application/ecmascript", "application/x-javascript",
        "application/xml",        "image/svg+xml"};
    size_t len = 0;

    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (len < n && p[len] != ';' && p[len] != ' ' && p[len] != '\t')
        len++;
    if (len >= 5 && hd_ieq(p, 5, "text/"))
        return 1;
    if ((len > 5 && hd_ieq(p + len - 5, 5, "+json")) ||
        (len > 4 && hd_ieq(p + len - 4, 4, "+xml")))
        return 1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (hd_ieq(p, len, types[i]))
            return 1;
    return 0;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    char *p = calloc(in.n ? in.n : 1, 1);

    if (p == NULL)
        return 0;
    if (in.n > 0)
        memcpy(p, in.p, in.n);
    switch (cfg & 3) {
    case 0:
        FUZZ_CHECK(eddy__accepts_gzip(p, in.n) == hd_accepts(p, in.n),
                   "Accept-Encoding as the reference reads it");
        break;
    case 1:
        hd_if_range(p, in.n);
        break;
    case 2:
        FUZZ_CHECK(eddy__static_rel_ok(p, in.n, (cfg & 4) != 0) ==
                       hd_rel_ok(p, in.n, (cfg & 4) != 0),
                   "a relative path refused as segments say");
        break;
    default:
        FUZZ_CHECK(eddy__compressible(p, in.n) == hd_compressible(p, in.n),
                   "compressible as the list says");
        break;
    }
    free(p);
    return 0;
}
