/*
 * fuzz/parse_head.c - the request-head parser (httputil/parser.c) under
 * fuzzing.
 *
 * Input: one byte of settings (limits, header slots, byte-at-a-time), the
 * cut points (fuzz.h), then the bytes of a head.  Checks:
 *
 *  - the same answer whole, in the fuzzer's pieces, and a byte at a time:
 *    the same return value and, for a head, the same fields at the same
 *    offsets (the parser resumes with its state; a result does not depend
 *    on how the bytes came);
 *  - every call sees a copy of exactly the bytes it is given, so ASan
 *    catches a read past len;
 *  - an accepted head is what RFC 9112 allows: it ends in CRLF CRLF,
 *    method and names are tokens, the target visible ASCII, values have
 *    no control characters and no OWS at either end, framing headers are
 *    consistent, HTTP/1.1 has its Host;
 *  - an accepted head, written out again canonically (method SP target SP
 *    HTTP/1.x CRLF, "name: value" CRLF each, CRLF), parses to the same
 *    fields.
 */
#include "fuzz.h"
#include "fuzz_http.h"

#include "../httputil/parser.h"

#include <string.h>

#define PH_MAX_CUTS 8
#define PH_MAX_DRIBBLE 4096 /* byte-at-a-time for heads up to this long */
#define PH_SLOTS 100

/* A head's fields as offsets into its buffer, so that parses of different
 * copies of the same bytes compare equal. */
typedef struct ph_field {
    size_t off, len;
} ph_field;

typedef struct ph_result {
    int ret;
    size_t skipped, nheaders;
    ph_field method, target;
    int version;
    ph_field name[PH_SLOTS], value[PH_SLOTS];
    uint64_t content_length;
    int has_length, chunked, connection, expect_continue, host;
} ph_result;

typedef struct ph_limits {
    size_t max_head, max_uri, max_headers;
} ph_limits;

static ph_field ph_at(const char *base, const char *p, size_t len)
{
    ph_field f = {p != NULL ? (size_t)(p - base) : 0, len};

    return f;
}

/* Records what a parse returned, as offsets into buf. */
static void ph_record(ph_result *r, int ret, const char *buf,
                      const eddy__http_head *h)
{
    memset(r, 0, sizeof *r);
    r->ret = ret;
    if (ret <= 0)
        return;
    r->skipped = h->skipped;
    r->nheaders = h->nheaders;
    r->method = ph_at(buf, h->method.p, h->method.len);
    r->target = ph_at(buf, h->target.p, h->target.len);
    r->version = h->version;
    for (size_t i = 0; i < h->nheaders && i < PH_SLOTS; i++) {
        r->name[i] = ph_at(buf, h->headers[i].name, h->headers[i].name_len);
        r->value[i] = ph_at(buf, h->headers[i].value, h->headers[i].value_len);
    }
    r->content_length = h->content_length;
    r->has_length = h->has_length;
    r->chunked = h->chunked;
    r->connection = h->connection;
    r->expect_continue = h->expect_continue;
    r->host = h->host;
}

static int ph_same(const ph_result *a, const ph_result *b)
{
    /* Compared field by field: the struct has padding. */
    if (a->ret != b->ret)
        return 0;
    if (a->ret <= 0)
        return 1;
    if (a->skipped != b->skipped || a->nheaders != b->nheaders ||
        a->method.off != b->method.off || a->method.len != b->method.len ||
        a->target.off != b->target.off || a->target.len != b->target.len ||
        a->version != b->version || a->content_length != b->content_length ||
        a->has_length != b->has_length || a->chunked != b->chunked ||
        a->connection != b->connection ||
        a->expect_continue != b->expect_continue || a->host != b->host)
        return 0;
    for (size_t i = 0; i < a->nheaders && i < PH_SLOTS; i++)
        if (a->name[i].off != b->name[i].off ||
            a->name[i].len != b->name[i].len ||
            a->value[i].off != b->value[i].off ||
            a->value[i].len != b->value[i].len)
            return 0;
    return 1;
}

static void ph_start(eddy__http_parser *ps, eddy__http_head *h,
                     eddy_http_header *slots, const ph_limits *lim)
{
    memset(ps, 0, sizeof *ps);
    ps->max_head = lim->max_head;
    ps->max_uri = lim->max_uri;
    memset(h, 0, sizeof *h);
    h->headers = slots;
    h->max_headers = lim->max_headers;
}

/* One call on a heap copy of exactly data[0, len), recorded. */
static int ph_call(eddy__http_parser *ps, eddy__http_head *h,
                   const uint8_t *data, size_t len, ph_result *r)
{
    char *copy = fuzz_copy(data, len);
    int ret;

    if (copy == NULL)
        return 0;
    ret = eddy__http_parse_head(ps, len ? copy : NULL, len, h);
    ph_record(r, ret, copy, h);
    free(copy);
    return ret;
}

/* What RFC 9112 allows of an accepted head in buf[0, ret). */
static void ph_check_valid(const char *buf, const eddy__http_head *h, int ret,
                           const ph_limits *lim)
{
    const char *end = buf + ret;

    FUZZ_CHECK(ret >= 4 && memcmp(end - 4, "\r\n\r\n", 4) == 0,
               "an accepted head ends in CRLF CRLF");
    FUZZ_CHECK((size_t)ret <= lim->max_head, "an accepted head fits max_head");
    FUZZ_CHECK(h->version == 10 || h->version == 11, "version is 1.0 or 1.1");
    FUZZ_CHECK(fuzz_is_token(h->method.p, h->method.len), "method is a token");
    FUZZ_CHECK(h->target.len > 0 && h->target.len <= lim->max_uri,
               "target is not empty and fits max_uri");
    for (size_t i = 0; i < h->target.len; i++)
        FUZZ_CHECK(h->target.p[i] > 0x20 && h->target.p[i] < 0x7f,
                   "target is visible ASCII");
    FUZZ_CHECK(h->nheaders <= lim->max_headers, "headers fit max_headers");
    for (size_t i = 0; i < h->nheaders; i++) {
        const eddy_http_header *f = &h->headers[i];

        FUZZ_CHECK(f->name >= buf && f->name + f->name_len <= end &&
                       f->value >= buf && f->value + f->value_len <= end,
                   "a header lies inside the head");
        FUZZ_CHECK(fuzz_is_token(f->name, f->name_len), "a name is a token");
        for (size_t j = 0; j < f->value_len; j++) {
            unsigned char ch = (unsigned char)f->value[j];

            FUZZ_CHECK((ch >= 0x20 && ch != 0x7f) || ch == '\t',
                       "a value has no control characters");
        }
        FUZZ_CHECK(f->value_len == 0 ||
                       (f->value[0] != ' ' && f->value[0] != '\t' &&
                        f->value[f->value_len - 1] != ' ' &&
                        f->value[f->value_len - 1] != '\t'),
                   "a value has no OWS at either end");
    }
    FUZZ_CHECK(h->chunked == 0 || h->chunked == 1, "only chunked is accepted");
    FUZZ_CHECK(!(h->chunked && h->has_length),
               "never both Transfer-Encoding and Content-Length");
    FUZZ_CHECK(!(h->chunked && h->version == 10),
               "no Transfer-Encoding on HTTP/1.0");
    FUZZ_CHECK(h->host < (int)h->nheaders, "host indexes a header");
    if (h->host >= 0)
        FUZZ_CHECK(h->headers[h->host].name_len == 4 &&
                       eddy__http_ieq(h->headers[h->host].name, "host", 4),
                   "host indexes the Host header");
    FUZZ_CHECK(h->version == 10 || h->host >= 0, "HTTP/1.1 has a Host");
}

static void ph_put(char **o, const void *p, size_t n)
{
    memcpy(*o, p, n);
    *o += n;
}

static int ph_str_eq(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Writes the head out canonically and parses that: the same fields. */
static void ph_check_reserialised(const eddy__http_head *h,
                                  const ph_limits *lim)
{
    size_t size = h->method.len + h->target.len + 13;
    eddy_http_header *slots = calloc(PH_SLOTS, sizeof *slots);
    eddy__http_parser ps;
    eddy__http_head h2;
    char *buf, *o;
    int ret;

    for (size_t i = 0; i < h->nheaders; i++)
        size += h->headers[i].name_len + h->headers[i].value_len + 4;
    buf = malloc(size + 2);
    if (buf == NULL || slots == NULL) {
        free(buf);
        free(slots);
        return;
    }
    o = buf;
    ph_put(&o, h->method.p, h->method.len);
    ph_put(&o, " ", 1);
    ph_put(&o, h->target.p, h->target.len);
    ph_put(&o, h->version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < h->nheaders; i++) {
        ph_put(&o, h->headers[i].name, h->headers[i].name_len);
        ph_put(&o, ": ", 2);
        ph_put(&o, h->headers[i].value, h->headers[i].value_len);
        ph_put(&o, "\r\n", 2);
    }
    ph_put(&o, "\r\n", 2);
    size = (size_t)(o - buf);

    /* "name: value" may be longer than "name:value" was. */
    ph_start(&ps, &h2, slots, lim);
    ps.max_head = size;
    ret = eddy__http_parse_head(&ps, buf, size, &h2);
    FUZZ_CHECK(ret > 0 && (size_t)ret == size,
               "a head written out again parses whole");
    if (ret > 0) {
        FUZZ_CHECK(h2.skipped == 0, "no empty lines skipped");
        FUZZ_CHECK(ph_str_eq(h2.method.p, h2.method.len, h->method.p,
                             h->method.len),
                   "written out again: same method");
        FUZZ_CHECK(ph_str_eq(h2.target.p, h2.target.len, h->target.p,
                             h->target.len),
                   "written out again: same target");
        FUZZ_CHECK(h2.version == h->version, "written out again: same version");
        FUZZ_CHECK(h2.nheaders == h->nheaders,
                   "written out again: same number of headers");
        for (size_t i = 0; i < h->nheaders && i < h2.nheaders; i++) {
            FUZZ_CHECK(ph_str_eq(h2.headers[i].name, h2.headers[i].name_len,
                                 h->headers[i].name, h->headers[i].name_len),
                       "written out again: same header name");
            FUZZ_CHECK(ph_str_eq(h2.headers[i].value, h2.headers[i].value_len,
                                 h->headers[i].value,
                                 h->headers[i].value_len),
                       "written out again: same header value");
        }
        FUZZ_CHECK(h2.content_length == h->content_length &&
                       h2.has_length == h->has_length,
                   "written out again: same Content-Length");
        FUZZ_CHECK(h2.chunked == h->chunked, "written out again: same chunked");
        FUZZ_CHECK(h2.connection == h->connection,
                   "written out again: same Connection");
        FUZZ_CHECK(h2.expect_continue == h->expect_continue,
                   "written out again: same Expect");
        FUZZ_CHECK(h2.host == h->host, "written out again: same Host");
    }
    free(buf);
    free(slots);
}

/*
 * The parser may put an error off while no line can have ended: resuming,
 * it parses again only when the new bytes hold an LF (or the head or the
 * target grew past its limit), which keeps a dribbling sender linear.  So
 * where the whole parse failed and the one in pieces still wants bytes,
 * the error must come, the same, once a CRLF CRLF follows (an error is
 * decided by the bytes up to it, so the whole parse of those bytes fails
 * the same way).
 */
static int ph_put_off(eddy__http_parser *ps, eddy__http_head *h,
                      const uint8_t *head, size_t len, const ph_result *whole,
                      ph_result *part)
{
    uint8_t *more;

    if (part->ret != 0 || whole->ret >= 0)
        return 0;
    if ((more = malloc(len + 4)) == NULL)
        return 0;
    if (len > 0)
        memcpy(more, head, len);
    memcpy(more + len, "\r\n\r\n", 4);
    ph_call(ps, h, more, len + 4, part);
    free(more);
    return 1;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const size_t heads[4] = {65536, 256, 64, 1024};
    static const size_t uris[4] = {8192, 64, 16, 128};
    static const size_t nhdrs[4] = {PH_SLOTS, 4, 1, 16};
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    ph_limits lim = {heads[cfg & 3], uris[(cfg >> 2) & 3],
                     nhdrs[(cfg >> 4) & 3]};
    int dribble = (cfg >> 6) & 1;
    size_t cuts[PH_MAX_CUTS], ncuts;
    const uint8_t *head;
    size_t len;
    eddy_http_header *slots = calloc(PH_SLOTS, sizeof *slots);
    eddy__http_parser ps;
    eddy__http_head h;
    ph_result *whole = malloc(sizeof *whole), *part = malloc(sizeof *part);
    int ret;

    if (slots == NULL || whole == NULL || part == NULL)
        goto out;
    ncuts = fuzz_cuts(&in, cuts, PH_MAX_CUTS);
    head = in.p;
    len = in.n;

    /* Whole, on an exact copy; the checks on what it accepted. */
    ph_start(&ps, &h, slots, &lim);
    {
        char *copy = malloc(len ? len : 1);

        if (copy == NULL)
            goto out;
        if (len > 0)
            memcpy(copy, head, len);
        ret = eddy__http_parse_head(&ps, len ? copy : NULL, len, &h);
        ph_record(whole, ret, copy, &h);
        FUZZ_CHECK(ret <= 0 || (size_t)ret <= len, "a head is within len");
        FUZZ_CHECK(ret >= 0 || ret == -400 || ret == -413 || ret == -414 ||
                       ret == -431 || ret == -501 || ret == -505,
                   "errors are -400, -413, -414, -431, -501 or -505");
        if (ret > 0 && (size_t)ret <= len) {
            ph_check_valid(copy, &h, ret, &lim);
            ph_check_reserialised(&h, &lim);
        }
        free(copy);
    }

    /* In the fuzzer's pieces: each call on an exact copy of the prefix. */
    ph_start(&ps, &h, slots, &lim);
    ret = 0;
    for (size_t i = 0; i < ncuts && ret == 0; i++)
        ret = ph_call(&ps, &h, head, cuts[i], part);
    if (ret == 0)
        ph_call(&ps, &h, head, len, part);
    ph_put_off(&ps, &h, head, len, whole, part);
    FUZZ_CHECK(ph_same(whole, part), "the same result whole and in pieces");

    /* A byte at a time, on one buffer (the pieces catch over-reads). */
    if (dribble && len <= PH_MAX_DRIBBLE) {
        char *copy = malloc(len ? len : 1);

        if (copy == NULL)
            goto out;
        if (len > 0)
            memcpy(copy, head, len);
        ph_start(&ps, &h, slots, &lim);
        ret = 0;
        for (size_t n = 1; n <= len && ret == 0; n++) {
            ret = eddy__http_parse_head(&ps, copy, n, &h);
            ph_record(part, ret, copy, &h);
        }
        if (len == 0)
            ph_record(part, eddy__http_parse_head(&ps, NULL, 0, &h), copy, &h);
        ph_put_off(&ps, &h, head, len, whole, part);
        FUZZ_CHECK(ph_same(whole, part),
                   "the same result whole and a byte at a time");
        free(copy);
    }
out:
    free(slots);
    free(whole);
    free(part);
    return 0;
}
