/*
 * httputil/parser.c - the HTTP/1.1 head parser, for requests (the server)
 * and responses (the client), and the chunked decoder.
 *
 * Strict where RFC 9112 is strict, because a lenient parser behind or in
 * front of another one is how requests get smuggled: a line ends in CRLF
 * only (a bare LF or a bare CR is an error), exactly one SP separates the
 * request-line's parts, header names are tokens with no space before the
 * colon, values hold visible characters, obs-text, SP and HTAB only and
 * only SP and HTAB are trimmed, obs-fold is refused, Content-Length is
 * digits only and all copies must agree, Transfer-Encoding must be exactly
 * one "chunked" and never comes with Content-Length or on HTTP/1.0, an
 * HTTP/1.1 request carries exactly one valid Host, and a chunk-size line
 * has whitespace only around an extension's ';' and '='.
 *
 * Responses go through the same code with the status line in place of
 * the request line: the same field syntax, Content-Length and
 * Transfer-Encoding rules, limits and resumption.  Two rules differ, as
 * RFC 9112 has them: Host means nothing in a response, and an obs-fold is
 * not an error but is replaced by SP (5.2 requires it of a user agent);
 * since this file never writes to its input, the parser says so
 * (EDDY__HTTP_FOLDED) and the caller unfolds a copy it owns.
 *
 * This file must never allocate, copy the input, read past len, or spend
 * more than linear time in the input however it is split.
 */
#include "parser.h"

#include <string.h>

/* An error: the status to answer with, and the rule that failed, for the
 * server's log. */
#define BAD(h, status, why) ((h)->error = (why), -(status))

#if defined(__SSE2__) && defined(__GNUC__) && !defined(EDDY_NO_SIMD)
#include <emmintrin.h>
#define USE_SSE2 1 /* x86-64's baseline: every build there has it */
#endif

#ifdef __GNUC__ /* for a scan called in a loop: its constants leave it */
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

#define T_TOKEN 1  /* tchar */
#define T_VALUE 2  /* field-vchar, SP, HTAB */
#define T_TARGET 4 /* visible ASCII */
#define T_HOST 8   /* reg-name, IP literal and port characters */

static const unsigned char cls[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 15, 6, 7, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 6,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 6, 14, 6, 6,
    6, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6, 14, 7, 15,
    7, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6, 7, 6, 15, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

#define MAX_METHOD 32 /* no registered method is longer than 17 */
#define MAX_EMPTY 8   /* leading empty lines tolerated */
#define MAX_CHUNK_LINE 4096

typedef const unsigned char *cursor;

/* The two 431s: the client tells a head too long from too many fields by
 * the rule's text. */
const char eddy__http_too_many_fields[] = "more header fields than max_headers";

int eddy__http_is_token(unsigned char ch)
{
    return cls[ch] & T_TOKEN;
}

int eddy__http_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];

        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)b[i])
            return 0;
    }
    return 1;
}

static cursor skip_class(cursor p, cursor end, unsigned char mask)
{
    while (end - p >= 4) {
        if (!(cls[p[0]] & mask))
            return p;
        if (!(cls[p[1]] & mask))
            return p + 1;
        if (!(cls[p[2]] & mask))
            return p + 2;
        if (!(cls[p[3]] & mask))
            return p + 3;
        p += 4;
    }
    while (p < end && (cls[*p] & mask))
        p++;
    return p;
}

/*
 * The runs that make up a head, tokens, the target and field values, are
 * scanned a block at a time.  With SSE2 (x86-64's baseline), 16 or 32
 * bytes are tested at once for a byte that may end the run, and only such
 * a byte goes through the table: a digit in a token or an HTAB in a value
 * does not end it, and the scan goes on after it.  Without SSE2 the target
 * and values are tested 8 bytes at a time in a uint64_t (SWAR), and a
 * block holding a byte to look at goes through the table.  A block is
 * read only when it lies wholly before end (which the tests' guard page
 * checks), and every byte is still judged exactly as the table says.
 */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static uint64_t load8(cursor p)
{
    uint64_t x;

    memcpy(&x, p, 8);
    return x;
}

/* Whether some byte of x is below n (n <= 128), or above n (n <= 127). */
static int has_below(uint64_t x, unsigned n)
{
    return ((x - ONES * n) & ~x & HIGHS) != 0;
}

static int has_above(uint64_t x, unsigned n)
{
    return ((((x & ~HIGHS) + ONES * (127 - n)) | x) & HIGHS) != 0;
}

/* A token (a method, a field name): tchar; stops at anything else,
 * normally the SP or the colon after it. */
static ALWAYS_INLINE cursor skip_token(cursor p, cursor end)
{
#ifdef USE_SSE2
    /* Mostly letters and '-': find the first other byte 16 at a time, and
     * let the table judge it (a digit or '_' does not end a token). */
    const __m128i a = _mm_set1_epi8('a'), z = _mm_set1_epi8('z' - 'a');
    const __m128i lower = _mm_set1_epi8(0x20), dash = _mm_set1_epi8('-');

    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i x = _mm_sub_epi8(_mm_or_si128(v, lower), a);
        __m128i ok = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, z), x),
                                  _mm_cmpeq_epi8(v, dash));
        int m = ~_mm_movemask_epi8(ok) & 0xffff;

        if (m == 0) {
            p += 16;
            continue;
        }
        p += __builtin_ctz((unsigned)m);
        if (!(cls[*p] & T_TOKEN))
            return p;
        p++;
    }
#endif
    return skip_class(p, end, T_TOKEN);
}

#ifdef USE_SSE2
/* Flags the bytes of p[0, 16) below SP, and DEL. */
static unsigned value_stops(cursor p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);

    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
}
#endif

/* Field values: field-vchar, obs-text, SP and HTAB; stops at anything
 * else, normally the CR. */
static ALWAYS_INLINE cursor skip_value(cursor p, cursor end)
{
#ifdef USE_SSE2
    /* 32 bytes at a time, then 16; a byte below SP or DEL stops the scan
     * for the table to judge (HTAB goes on). */
    while (end - p >= 16) {
        unsigned m = value_stops(p);
        ptrdiff_t step = 16;

        if (m == 0 && end - p >= 32) {
            m = value_stops(p + 16) << 16;
            step = 32;
        }
        if (m == 0) {
            p += step;
            continue;
        }
        p += __builtin_ctz(m);
        if (*p != '\t')
            return p;
        p++;
    }
#endif
    for (; end - p >= 8; p += 8) {
        uint64_t x = load8(p);

        /* below SP (HTAB among them), or DEL */
        if (has_below(x, 0x20) || has_below(x ^ (ONES * 0x7f), 1))
            break;
    }
    return skip_class(p, end, T_VALUE);
}

/* The request target: visible ASCII; stops at anything else, normally
 * the SP before the version. */
static cursor skip_target(cursor p, cursor end)
{
#ifdef USE_SSE2
    /* + 0x5f maps 0x21..0x7e onto -128..-35: all else is above. */
    const __m128i shift = _mm_set1_epi8(0x5f), top = _mm_set1_epi8(-35);

    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        int m = _mm_movemask_epi8(_mm_cmpgt_epi8(_mm_add_epi8(v, shift), top));

        if (m != 0)
            return p + __builtin_ctz((unsigned)m);
    }
#endif
    for (; end - p >= 8; p += 8) {
        uint64_t x = load8(p);

        if (has_below(x, 0x21) || has_above(x, 0x7e))
            break;
    }
    return skip_class(p, end, T_TARGET);
}

static cursor skip_ows(cursor p, cursor end)
{
    if (p < end && *p == ' ') /* the usual single SP */
        p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Whether the n validated bytes at a (a token, or a field value: no
 * control byte but HTAB) are the lowercase literal lit, of letters, digits
 * and '-', in any case.  Folding with | 0x20 is exact for such bytes: only
 * the other case of a letter, or a control byte, folds onto lit's. */
static int lower_is(const char *a, const char *lit, size_t n)
{
    cursor x = (cursor)a, y = (cursor)lit;
    uint32_t u, v, w, z;

    if (n >= 8) { /* whole words, the last one overlapping */
        for (size_t i = 0; i + 8 < n; i += 8)
            if ((load8(x + i) | ONES * 0x20) != load8(y + i))
                return 0;
        return (load8(x + n - 8) | ONES * 0x20) == load8(y + n - 8);
    }
    if (n >= 4) {
        memcpy(&u, x, 4);
        memcpy(&v, y, 4);
        memcpy(&w, x + n - 4, 4);
        memcpy(&z, y + n - 4, 4);
        return (u | 0x20202020u) == v && (w | 0x20202020u) == z;
    }
    for (size_t i = 0; i < n; i++)
        if ((x[i] | 0x20) != y[i])
            return 0;
    return 1;
}

/* Calls each element of a comma-separated list; an element must be a
 * token.  Empty elements (", a ,, b,") are skipped if empty_ok, as RFC
 * 9110 5.6.1.2 wants, and refused otherwise: Transfer-Encoding is held to
 * the letter.  Returns -400 on a malformed list, else what each returned. */
static int each_token(cursor p, cursor end, int empty_ok,
                      int (*fn)(eddy__http_head *h, cursor t, size_t n),
                      eddy__http_head *h, const char *malformed)
{
    for (;;) {
        cursor t;
        int err;

        p = skip_ows(p, end);
        t = p;
        p = skip_class(p, end, T_TOKEN);
        if (p == t && !(empty_ok && (p == end || *p == ',')))
            return BAD(h, 400, malformed);
        if (p != t && (err = fn(h, t, (size_t)(p - t))) != 0)
            return err;
        p = skip_ows(p, end);
        if (p == end)
            return 0;
        if (*p++ != ',')
            return BAD(h, 400, malformed);
    }
}

static int connection_token(eddy__http_head *h, cursor t, size_t n)
{
    if (n == 5 && lower_is((const char *)t, "close", 5))
        h->connection |= EDDY__CONN_CLOSE;
    if (n == 10 && lower_is((const char *)t, "keep-alive", 10))
        h->connection |= EDDY__CONN_KEEP_ALIVE;
    return 0;
}

/* chunked is 1 after one "chunked", 2 after any other coding. */
static int coding_token(eddy__http_head *h, cursor t, size_t n)
{
    if (n == 7 && lower_is((const char *)t, "chunked", 7)) {
        if (h->chunked == 1)
            return BAD(h, 400, "Transfer-Encoding: chunked twice");
        if (h->chunked == 0)
            h->chunked = 1;
    } else {
        h->chunked = 2;
    }
    return 0;
}

static int content_length(eddy__http_head *h, cursor p, cursor end)
{
    uint64_t v = 0;

    if (p == end)
        return BAD(h, 400, "Content-Length: empty");
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX / 2 - 9) / 10)
            return BAD(h, 400,
                       "Content-Length: not digits only, or past "
                       "2^63");
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (h->has_length && v != h->content_length)
        return BAD(h, 400, "Content-Length: copies that disagree");
    h->has_length = 1;
    h->content_length = v;
    return 0;
}

/* Notes the header fields that decide framing and connection handling. */
static ALWAYS_INLINE int classify(eddy__http_head *h, const eddy_http_header *f,
                                  int *te, int response)
{
    cursor v = (cursor)f->value, end = v + f->value_len;

    switch (f->name_len) {
    case 4:
        if (response || !lower_is(f->name, "host", 4))
            return 0;
        if (h->host >= 0)
            return BAD(h, 400, "Host: twice");
        if (skip_class(v, end, T_HOST) != end)
            return BAD(h, 400, "Host: a character no host has");
        h->host = (int)h->nheaders;
        return 0;
    case 6:
        if (lower_is(f->name, "expect", 6) && f->value_len == 12 &&
            lower_is(f->value, "100-continue", 12))
            h->expect_continue = 1;
        return 0;
    case 10:
        if (!lower_is(f->name, "connection", 10))
            return 0;
        return each_token(v, end, 1, connection_token, h,
                          "Connection: not a list of tokens");
    case 14:
        if (!lower_is(f->name, "content-length", 14))
            return 0;
        return content_length(h, v, end);
    case 17:
        if (!lower_is(f->name, "transfer-encoding", 17))
            return 0;
        *te = 1;
        return each_token(v, end, 0, coding_token, h,
                          "Transfer-Encoding: not a list of tokens without "
                          "empty elements");
    default:
        return 0;
    }
}

static const char version_shape[] = "HTTP/D.D\r\n";

/* The request line: method SP target SP HTTP/1.x CRLF.  Returns the bytes
 * it took, 0 if incomplete, or -status. */
static int request_line(const eddy__http_parser *ps, cursor s, cursor end,
                        eddy__http_head *h)
{
    cursor p = skip_token(s, end), t;

    if (p - s > MAX_METHOD)
        return BAD(h, 400, "method longer than 32 characters");
    if (p == end)
        return 0;
    if (p == s || *p != ' ')
        return BAD(h, 400, "method not a token followed by one SP");
    h->method.p = (const char *)s;
    h->method.len = (size_t)(p - s);
    t = ++p;
    p = skip_target(p, end);
    if ((size_t)(p - t) > ps->max_uri)
        return BAD(h, 414, "request target longer than max_uri_length");
    if (p == end)
        return 0;
    if (p == t || *p != ' ')
        return BAD(h, 400,
                   "request target empty, not visible ASCII, or "
                   "not followed by one SP");
    h->target.p = (const char *)t;
    h->target.len = (size_t)(p - t);
    p++;
    if (end - p >= 10 && memcmp(p, "HTTP/1.", 7) == 0 &&
        (p[7] == '0' || p[7] == '1') && p[8] == '\r' && p[9] == '\n') {
        h->version = 10 + (p[7] - '0');
        return (int)(p + 10 - s);
    }
    /* "HTTP/" DIGIT "." DIGIT CRLF, or 400 at the first byte that cannot
     * fit, even before all ten have come (a bare LF among them). */
    for (t = p; t < end && t < p + 10; t++)
        if (version_shape[t - p] == 'D' ? *t < '0' || *t > '9'
                                        : *t != version_shape[t - p])
            return BAD(h, 400, "HTTP version not HTTP/D.D CRLF");
    return end - p < 10 ? 0 : BAD(h, 505, "HTTP version not 1.0 or 1.1");
}

/* The status line: HTTP/1.x SP 3DIGIT [SP reason-phrase] CRLF.  The SP
 * before an empty reason may be missing (RFC 9112 4 tells servers to send
 * it; curl, Go and Python take a line without it, and so does eddy: the
 * reason means nothing).  Returns the bytes it took, 0 if incomplete, or
 * -status. */
static int status_line(cursor s, cursor end, eddy__http_head *h)
{
    static const char shape[] = "HTTP/D.D DDD";
    cursor p;

    for (p = s; p < end && p < s + 12; p++)
        if (shape[p - s] == 'D' ? *p < '0' || *p > '9' : *p != shape[p - s])
            return BAD(h, 400, "status line not HTTP/D.D SP 3DIGIT");
    if (end - s < 13)
        return 0;
    if (s[5] != '1' || s[7] > '1')
        return BAD(h, 505, "HTTP version not 1.0 or 1.1");
    if (s[9] < '1' || s[9] > '5')
        return BAD(h, 400, "status code not 100 to 599");
    h->version = 10 + (s[7] - '0');
    h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (*p != ' ' && *p != '\r')
        return BAD(h, 400, "status code not followed by SP");
    if (*p == ' ')
        p++;
    h->reason.p = (const char *)p;
    p = skip_value(p, end);
    if (p == end || (*p == '\r' && p + 1 == end))
        return 0;
    if (*p != '\r' || p[1] != '\n')
        return BAD(h, 400,
                   "status line: a control character, bare CR or bare LF");
    h->reason.len = (size_t)(p - (cursor)h->reason.p);
    return (int)(p + 2 - s);
}

/* One full pass over what has arrived: a request head, or with response
 * set (a constant: each entry point gets its own copy) a response head. */
static ALWAYS_INLINE int parse(const eddy__http_parser *ps, const char *buf,
                               size_t len, eddy__http_head *h, int response)
{
    cursor s = (cursor)buf, end = s + len, p, cr;
    int n, te = 0, err, folded = 0;

    h->nheaders = 0;
    h->content_length = 0;
    h->has_length = h->chunked = h->connection = h->expect_continue = 0;
    h->host = -1;
    for (int i = 0; s < end && *s == '\r'; i++, s += 2) {
        if (s + 1 == end)
            return 0;
        if (s[1] != '\n' || i == MAX_EMPTY)
            return BAD(h, 400,
                       "more than 8 empty lines, or a bare CR, "
                       "before the start line");
    }
    h->skipped = (size_t)(s - (cursor)buf);
    n = response ? status_line(s, end, h) : request_line(ps, s, end, h);
    if (n <= 0)
        return n;
    for (s += n;;) {
        eddy_http_header *f;

        if (s == end)
            return 0;
        if (*s == '\r') {
            if (s + 1 == end)
                return 0;
            if (s[1] != '\n')
                return BAD(h, 400, "a bare CR ends the head");
            s += 2;
            break;
        }
        if (response && (*s == ' ' || *s == '\t')) {
            /* An obs-fold: the field before goes on.  Its lines are only
             * checked here; the caller parses an unfolded copy. */
            if (h->nheaders == 0)
                return BAD(h, 400, "whitespace before the first header field");
            cr = skip_value(s, end);
            if (cr == end || (*cr == '\r' && cr + 1 == end))
                return 0;
            if (*cr != '\r' || cr[1] != '\n')
                return BAD(h, 400,
                           "a control character, bare CR or bare LF "
                           "in a header line");
            folded = 1;
            s = cr + 2;
            continue;
        }
        p = skip_token(s, end);
        if (p == end)
            return 0;
        if (p == s || *p != ':') /* also obs-fold: SP or HTAB first */
            return BAD(h, 400,
                       "header name not a token followed by ':' "
                       "(whitespace before it, or obs-fold)");
        if (h->nheaders == h->max_headers)
            return BAD(h, 431, eddy__http_too_many_fields);
        f = &h->headers[h->nheaders];
        f->name = (const char *)s;
        f->name_len = (size_t)(p - s);
        s = skip_ows(p + 1, end);
        cr = skip_value(s, end);
        if (cr == end || (*cr == '\r' && cr + 1 == end))
            return 0;
        if (*cr != '\r' || cr[1] != '\n')
            return BAD(h, 400,
                       "a control character, bare CR or bare LF "
                       "in a header line");
        f->value = (const char *)s;
        for (p = cr; p > s && (p[-1] == ' ' || p[-1] == '\t');)
            p--;
        f->value_len = (size_t)(p - s);
        s = cr + 2;
        if (response && (s == end || *s == ' ' || *s == '\t')) {
            /* A field that an obs-fold may continue is judged whole, in
             * the unfolded copy. */
            if (s == end)
                return 0;
            folded = 1;
            h->nheaders++;
            continue;
        }
        if ((err = classify(h, f, &te, response)) != 0)
            return err;
        h->nheaders++;
    }
    if (response && folded)
        return EDDY__HTTP_FOLDED;
    if (te && (h->version == 10 || h->has_length))
        return BAD(h, 400,
                   "Transfer-Encoding with Content-Length, or on "
                   "HTTP/1.0");
    if (te && h->chunked != 1)
        return BAD(h, 501, "Transfer-Encoding other than one chunked");
    if (!response && h->version == 11 && h->host < 0)
        return BAD(h, 400, "HTTP/1.1 without Host");
    return (int)(s - (cursor)buf);
}

/* The bytes of the empty lines that may precede the request line (one
 * more than parse() tolerates, so that scanning them stays bounded). */
static size_t leading_empty(const char *buf, size_t len)
{
    size_t i = 0;

    while (i + 1 < len && i <= 2 * MAX_EMPTY && buf[i] == '\r' &&
           buf[i + 1] == '\n')
        i += 2;
    return i;
}

/* Whether buf[from, len) may end the head (or shows a bare LF, which the
 * full parse turns into an error): a cheap scan of new bytes only.  An LF
 * past the leading empty lines, at lead or after, ends the request line. */
static int may_end(eddy__http_parser *ps, const char *buf, size_t from,
                   size_t len, size_t lead)
{
    const char *p = buf + from, *end = buf + len;

    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - buf);

        if (i >= lead)
            ps->seen_lf = 1;
        if (i == 0 || buf[i - 1] != '\r')
            return 1;
        if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return 1;
        p++;
    }
    return 0;
}

/* Both entry points: a request head, or with response set (a constant) a
 * response head, whose parse never stops at an over-long target. */
static ALWAYS_INLINE int resume(eddy__http_parser *ps, const char *buf,
                                size_t len, eddy__http_head *h, int response)
{
    size_t from = ps->scanned >= 3 ? ps->scanned - 3 : 0, lead, seen;
    int n;

    if (len == 0) /* buf may be NULL: memchr() and buf + 0 would be UB */
        return 0;

    /* Resuming: parse again only if the new bytes can end the head, or a
     * request line that never ends may hold an over-long target, or the
     * head has grown past max_head (then once: the answer is an error). */
    if (ps->scanned != 0 && len <= ps->max_head) {
        lead = ps->seen_lf ? 0 : leading_empty(buf, len);
        if (!may_end(ps, buf, from, len, lead) &&
            (response || ps->seen_lf || len <= ps->max_uri)) {
            ps->scanned = len;
            return 0;
        }
    }
    /* Only the first max_head bytes are looked at: a head cannot be
     * longer, and what lies beyond must not change the answer (431), or
     * the answer would depend on how the bytes were split. */
    seen = len < ps->max_head ? len : ps->max_head;
    if ((n = parse(ps, buf, seen, h, response)) != 0)
        return n;
    if (len > ps->max_head)
        return BAD(h, 431, "head longer than max_header_size");
    if (ps->scanned == 0) {
        lead = leading_empty(buf, len);
        ps->seen_lf = memchr(buf + lead, '\n', len - lead) != NULL;
    }
    ps->scanned = len;
    return 0;
}

int eddy__http_parse_head(eddy__http_parser *ps, const char *buf, size_t len,
                          eddy__http_head *h)
{
    return resume(ps, buf, len, h, 0);
}

int eddy__http_parse_response(eddy__http_parser *ps, const char *buf,
                              size_t len, eddy__http_head *h)
{
    return resume(ps, buf, len, h, 1);
}

/* The header section begins after the start line, itself after at most
 * MAX_EMPTY + 1 empty lines (more make parse() fail before any fold). */
size_t eddy__http_unfold(char *buf, size_t len)
{
    size_t i = leading_empty(buf, len), n = 0;
    char *lf = memchr(buf + i, '\n', len - i);

    if (lf == NULL)
        return 0;
    for (i = (size_t)(lf - buf) + 1; i + 2 < len; i++) {
        if (buf[i] != '\r' || buf[i + 1] != '\n')
            continue;
        if (buf[i + 2] == '\r') /* the empty line: the head ends */
            break;
        if (buf[i + 2] == ' ' || buf[i + 2] == '\t') {
            buf[i] = buf[i + 1] = ' ';
            n++;
        }
    }
    return n;
}

/* --- chunked transfer coding -------------------------------------------- */

enum {
    C_SIZE0,     /* the first hex digit of a size */
    C_SIZE,      /* more hex digits, or what follows them */
    C_EXT,       /* after a size or an extension: BWS ';', or CR */
    C_EXT_BWS,   /* BWS, which only ';' may follow */
    C_EXT_NAME0, /* BWS, then the first character of an extension name */
    C_EXT_NAME,  /* the name, then BWS '=', ';' or CR */
    C_EXT_EQ,    /* BWS after the name, then '=' or ';' */
    C_EXT_VAL0,  /* BWS, then a token or a quoted string */
    C_EXT_TOKEN,
    C_EXT_QUOTE,
    C_EXT_ESCAPE,
    C_SIZE_LF,
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TRAILER,   /* the start of a trailer line */
    C_TR_NAME,
    C_TR_VALUE,
    C_TR_LF,
    C_END_LF,
    C_DONE
};

int eddy__chunked_done(const eddy__chunked *c)
{
    return c->state == C_DONE;
}

int eddy__chunked_in_data(const eddy__chunked *c)
{
    return c->state == C_DATA;
}

static int hex(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* One byte of a size line or trailer; returns 0 or -400. */
static int line_byte(eddy__chunked *c, unsigned char ch)
{
    int d;

    switch (c->state) {
    case C_SIZE0:
    case C_SIZE:
        if ((d = hex(ch)) >= 0) {
            if (c->size >> 59) /* below 2^63: 16 digits at most */
                return -400;
            c->size = c->size * 16 + (uint64_t)d;
            c->state = C_SIZE;
            return 0;
        }
        if (c->state == C_SIZE0)
            return -400;
        c->state = C_EXT;
        /* fall through */
    case C_EXT:
        if (ch == '\r') {
            c->state = C_SIZE_LF;
            return 0;
        }
        /* fall through */
    case C_EXT_BWS:
        /* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): no
         * whitespace before the CRLF (RFC 9112 7.1.1). */
        if (ch == ' ' || ch == '\t')
            c->state = C_EXT_BWS;
        else if (ch == ';')
            c->state = C_EXT_NAME0;
        else
            return -400;
        return 0;
    case C_EXT_NAME0:
        if (ch == ' ' || ch == '\t')
            return 0;
        c->state = C_EXT_NAME;
        return cls[ch] & T_TOKEN ? 0 : -400;
    case C_EXT_NAME:
    case C_EXT_EQ:
        if ((cls[ch] & T_TOKEN) && c->state == C_EXT_NAME)
            return 0;
        if (ch == ' ' || ch == '\t') {
            c->state = C_EXT_EQ;
            return 0;
        }
        if (ch == '=') {
            c->state = C_EXT_VAL0;
            return 0;
        }
        if (ch == '\r' && c->state == C_EXT_EQ)
            return -400;
        c->state = C_EXT;
        return line_byte(c, ch);
    case C_EXT_VAL0:
        if (ch == ' ' || ch == '\t')
            return 0;
        if (ch == '"')
            c->state = C_EXT_QUOTE;
        else if (cls[ch] & T_TOKEN)
            c->state = C_EXT_TOKEN;
        else
            return -400;
        return 0;
    case C_EXT_TOKEN:
        if (cls[ch] & T_TOKEN)
            return 0;
        c->state = C_EXT;
        return line_byte(c, ch);
    case C_EXT_QUOTE:
        if (ch == '"')
            c->state = C_EXT;
        else if (ch == '\\')
            c->state = C_EXT_ESCAPE;
        else if (!(cls[ch] & T_VALUE))
            return -400;
        return 0;
    case C_EXT_ESCAPE:
        c->state = C_EXT_QUOTE;
        return cls[ch] & T_VALUE ? 0 : -400;
    case C_SIZE_LF:
        if (ch != '\n')
            return -400;
        c->state = c->size ? C_DATA : C_TRAILER;
        return 0;
    case C_DATA_CR:
        if (ch != '\r')
            return -400;
        c->state = C_DATA_LF;
        return 0;
    case C_DATA_LF:
        if (ch != '\n')
            return -400;
        c->state = C_SIZE0;
        return 0;
    case C_TRAILER:
        if (ch == '\r') {
            c->state = C_END_LF;
            return 0;
        }
        c->state = C_TR_NAME;
        return cls[ch] & T_TOKEN ? 0 : -400;
    case C_TR_NAME:
        if (ch == ':')
            c->state = C_TR_VALUE;
        return cls[ch] & T_TOKEN || ch == ':' ? 0 : -400;
    case C_TR_VALUE:
        if (ch == '\r')
            c->state = C_TR_LF;
        return cls[ch] & T_VALUE || ch == '\r' ? 0 : -400;
    case C_TR_LF:
        if (ch != '\n')
            return -400;
        c->state = C_TRAILER;
        return 0;
    case C_END_LF:
        if (ch != '\n')
            return -400; /* and not done: the body did not end */
        c->state = C_DONE;
        return 0;
    default:
        return -400;
    }
}

/* The rule a byte broke, from the state it arrived in. */
static const char *chunk_rule(int state)
{
    if (state <= C_SIZE)
        return "chunk size: not 1 to 16 hex digits followed by CRLF or "
               "an extension";
    if (state < C_SIZE_LF)
        return "malformed chunk extension";
    if (state == C_SIZE_LF)
        return "chunk size line not ended by CRLF";
    if (state < C_TRAILER)
        return "chunk data not followed by CRLF (not as long as its size)";
    if (state < C_END_LF)
        return "malformed trailer field";
    return "chunked body not ended by CRLF";
}

long eddy__chunked_feed(eddy__chunked *c, const char *in, size_t len,
                        const char **data, size_t *dlen)
{
    size_t i = 0;
    int state;

    *data = in;
    *dlen = 0;
    while (i < len && c->state != C_DONE) {
        if (c->state == C_DATA) {
            size_t n = len - i < c->size ? len - i : (size_t)c->size;

            *data = in + i;
            *dlen = n;
            c->size -= n;
            if (c->size == 0)
                c->state = C_DATA_CR;
            return (long)(i + n);
        }
        if (c->state == C_SIZE0) {
            c->size = 0;
            c->line = 0;
        }
        if (++c->line > MAX_CHUNK_LINE)
            return BAD(c, 400, "chunk size line or trailer field too long");
        if (c->state >= C_TRAILER &&
            (c->max_trailer == 0 ? 16384 : c->max_trailer) < ++c->trailer)
            return BAD(c, 400, "trailer section too long");
        state = c->state;
        if (line_byte(c, (unsigned char)in[i]) != 0)
            return BAD(c, 400, chunk_rule(state));
        if (c->state == C_TRAILER || c->state == C_DATA)
            c->line = 0;
        i++;
    }
    return (long)i;
}
