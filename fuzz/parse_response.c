/*
 * fuzz/parse_response.c - the response-head parser (httputil/parser.c,
 * eddy__http_parse_response) and eddy__http_unfold() under fuzzing.
 *
 * Input: one byte of settings (limits, byte-at-a-time), the cut points
 * (fuzz.h), then the bytes a server sends.  Checks:
 *
 *  - the same answer whole, in the fuzzer's pieces and a byte at a time,
 *    with the same fields at the same offsets;
 *  - every call sees a copy of exactly the bytes it is given (ASan);
 *  - errors are -400, -431, -501, -505, or EDDY__HTTP_FOLDED;
 *  - an accepted head is what RFC 9112 allows of a response: CRLF CRLF at
 *    its end, HTTP/1.0 or 1.1, a status from 100 to 599, a reason without
 *    control characters but HTAB, token names, values without control
 *    characters and without OWS at either end, consistent framing, no
 *    Host index;
 *  - after EDDY__HTTP_FOLDED, an unfolded copy parses to a complete head
 *    or an error, never 0 or a fold again, and has no CRLF SP left;
 *  - an accepted head written out again canonically parses the same.
 */
#include "fuzz.h"
#include "fuzz_http.h"

#include "../httputil/parser.h"

#include <string.h>

#define PR_MAX_CUTS 8
#define PR_MAX_DRIBBLE 4096
#define PR_SLOTS 100

typedef struct pr_result {
    int ret, status, version;
    size_t skipped, nheaders, reason_off, reason_len;
    size_t off[2 * PR_SLOTS], len[2 * PR_SLOTS];
    uint64_t content_length;
    int has_length, chunked, connection;
} pr_result;

static void pr_record(pr_result *r, int ret, const char *buf,
                      const eddy__http_head *h)
{
    memset(r, 0, sizeof *r);
    r->ret = ret;
    if (ret <= 0)
        return;
    r->status = h->status;
    r->version = h->version;
    r->skipped = h->skipped;
    r->nheaders = h->nheaders;
    r->reason_off = (size_t)(h->reason.p - buf);
    r->reason_len = h->reason.len;
    for (size_t i = 0; i < h->nheaders && i < PR_SLOTS; i++) {
        r->off[2 * i] = (size_t)(h->headers[i].name - buf);
        r->len[2 * i] = h->headers[i].name_len;
        r->off[2 * i + 1] = (size_t)(h->headers[i].value - buf);
        r->len[2 * i + 1] = h->headers[i].value_len;
    }
    r->content_length = h->content_length;
    r->has_length = h->has_length;
    r->chunked = h->chunked;
    r->connection = h->connection;
}

static int pr_same(const pr_result *a, const pr_result *b)
{
    if (a->ret != b->ret)
        return 0;
    if (a->ret <= 0)
        return 1;
    if (a->status != b->status || a->version != b->version ||
        a->skipped != b->skipped || a->nheaders != b->nheaders ||
        a->reason_off != b->reason_off || a->reason_len != b->reason_len ||
        a->content_length != b->content_length ||
        a->has_length != b->has_length || a->chunked != b->chunked ||
        a->connection != b->connection)
        return 0;
    for (size_t i = 0; i < 2 * a->nheaders && i < 2 * PR_SLOTS; i++)
        if (a->off[i] != b->off[i] || a->len[i] != b->len[i])
            return 0;
    return 1;
}

static void pr_start(eddy__http_parser *ps, eddy__http_head *h,
                     eddy_http_header *slots, size_t max_head,
                     size_t max_headers)
{
    memset(ps, 0, sizeof *ps);
    ps->max_head = max_head;
    memset(h, 0, sizeof *h);
    h->headers = slots;
    h->max_headers = max_headers;
}

static int pr_call(eddy__http_parser *ps, eddy__http_head *h,
                   const uint8_t *data, size_t len, pr_result *r)
{
    char *copy = fuzz_copy(data, len);
    int ret;

    if (copy == NULL)
        return 0;
    ret = eddy__http_parse_response(ps, len ? copy : NULL, len, h);
    pr_record(r, ret, copy, h);
    free(copy);
    return ret;
}

static int pr_text(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    return 1;
}

static void pr_check_valid(const char *buf, const eddy__http_head *h, int ret,
                           size_t max_head, size_t max_headers)
{
    const char *end = buf + ret;

    FUZZ_CHECK(ret >= 4 && memcmp(end - 4, "\r\n\r\n", 4) == 0,
               "an accepted head ends in CRLF CRLF");
    FUZZ_CHECK((size_t)ret <= max_head, "an accepted head fits max_head");
    FUZZ_CHECK(h->version == 10 || h->version == 11, "version is 1.0 or 1.1");
    FUZZ_CHECK(h->status >= 100 && h->status <= 599, "status 100 to 599");
    FUZZ_CHECK(pr_text(h->reason.p, h->reason.len),
               "a reason has no control characters");
    FUZZ_CHECK(h->host == -1, "no Host index in a response");
    FUZZ_CHECK(h->nheaders <= max_headers, "fields fit max_headers");
    for (size_t i = 0; i < h->nheaders; i++) {
        const eddy_http_header *f = &h->headers[i];

        FUZZ_CHECK(f->name >= buf && f->name + f->name_len <= end &&
                       f->value >= buf && f->value + f->value_len <= end,
                   "a field lies inside the head");
        FUZZ_CHECK(fuzz_is_token(f->name, f->name_len), "a name is a token");
        FUZZ_CHECK(pr_text(f->value, f->value_len),
                   "a value has no control characters");
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
}

/* Writes an accepted head out canonically and parses that again. */
static void pr_check_reserialised(const eddy__http_head *h, size_t max_headers)
{
    size_t size = 64 + h->reason.len, n;
    eddy_http_header *slots = calloc(PR_SLOTS, sizeof *slots);
    eddy__http_parser ps;
    eddy__http_head h2;
    char *buf, *o;
    int ret;

    for (size_t i = 0; i < h->nheaders; i++)
        size += h->headers[i].name_len + h->headers[i].value_len + 4;
    if (slots == NULL || (buf = malloc(size)) == NULL) {
        free(slots);
        return;
    }
    o = buf + sprintf(buf, "HTTP/1.%d %03d ", h->version - 10, h->status);
    memcpy(o, h->reason.p, h->reason.len);
    o += h->reason.len;
    for (size_t i = 0; i < h->nheaders; i++) {
        o += sprintf(o, "\r\n");
        memcpy(o, h->headers[i].name, h->headers[i].name_len);
        o += h->headers[i].name_len;
        o += sprintf(o, ": ");
        memcpy(o, h->headers[i].value, h->headers[i].value_len);
        o += h->headers[i].value_len;
    }
    o += sprintf(o, "\r\n\r\n");
    n = (size_t)(o - buf);
    pr_start(&ps, &h2, slots, n, max_headers);
    ret = eddy__http_parse_response(&ps, buf, n, &h2);
    FUZZ_CHECK(ret == (int)n, "a head written out again parses whole");
    if (ret > 0) {
        FUZZ_CHECK(
            h2.status == h->status && h2.version == h->version &&
                h2.nheaders == h->nheaders && h2.reason.len == h->reason.len &&
                h2.has_length == h->has_length &&
                h2.content_length == h->content_length &&
                h2.chunked == h->chunked && h2.connection == h->connection,
            "written out again: the same head");
        for (size_t i = 0; i < h->nheaders && i < h2.nheaders; i++)
            FUZZ_CHECK(h2.headers[i].value_len == h->headers[i].value_len &&
                           memcmp(h2.headers[i].value, h->headers[i].value,
                                  h->headers[i].value_len) == 0,
                       "written out again: the same values");
    }
    free(buf);
    free(slots);
}

/* After a fold: an unfolded copy, parsed afresh, is complete or refused. */
static void pr_check_unfolded(const uint8_t *data, size_t len, size_t max_head,
                              size_t max_headers)
{
    eddy_http_header *slots = calloc(PR_SLOTS, sizeof *slots);
    char *copy = malloc(len ? len : 1);
    eddy__http_parser ps;
    eddy__http_head h;
    int ret;

    if (slots == NULL || copy == NULL)
        goto out;
    memcpy(copy, data, len);
    FUZZ_CHECK(eddy__http_unfold(copy, len) > 0, "a fold has a fold to undo");
    pr_start(&ps, &h, slots, max_head, max_headers);
    ret = eddy__http_parse_response(&ps, copy, len, &h);
    FUZZ_CHECK(ret != 0 && ret != EDDY__HTTP_FOLDED,
               "an unfolded head is complete or refused");
    if (ret > 0) {
        for (int i = 0; i + 2 < ret; i++)
            FUZZ_CHECK(!(copy[i] == '\r' && copy[i + 1] == '\n' &&
                         (copy[i + 2] == ' ' || copy[i + 2] == '\t')),
                       "no obs-fold left in an unfolded head");
        pr_check_valid(copy, &h, ret, max_head, max_headers);
    }
out:
    free(copy);
    free(slots);
}

/* As in parse_head.c: an error may be put off until a line can end. */
static void pr_put_off(eddy__http_parser *ps, eddy__http_head *h,
                       const uint8_t *head, size_t len, const pr_result *whole,
                       pr_result *part)
{
    uint8_t *more;

    if (part->ret != 0 || whole->ret >= 0 || whole->ret == EDDY__HTTP_FOLDED)
        return;
    if ((more = malloc(len + 4)) == NULL)
        return;
    if (len > 0)
        memcpy(more, head, len);
    memcpy(more + len, "\r\n\r\n", 4);
    pr_call(ps, h, more, len + 4, part);
    free(more);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const size_t heads[4] = {65536, 256, 64, 1024};
    static const size_t nhdrs[4] = {PR_SLOTS, 4, 1, 16};
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    size_t max_head = heads[cfg & 3], max_headers = nhdrs[(cfg >> 2) & 3];
    int dribble = (cfg >> 4) & 1;
    size_t cuts[PR_MAX_CUTS], ncuts;
    const uint8_t *head;
    size_t len;
    eddy_http_header *slots = calloc(PR_SLOTS, sizeof *slots);
    eddy__http_parser ps;
    eddy__http_head h;
    pr_result *whole = malloc(sizeof *whole), *part = malloc(sizeof *part);
    int ret;

    if (slots == NULL || whole == NULL || part == NULL)
        goto out;
    ncuts = fuzz_cuts(&in, cuts, PR_MAX_CUTS);
    head = in.p;
    len = in.n;

    pr_start(&ps, &h, slots, max_head, max_headers);
    {
        char *copy = malloc(len ? len : 1);

        if (copy == NULL)
            goto out;
        if (len > 0)
            memcpy(copy, head, len);
        ret = eddy__http_parse_response(&ps, len ? copy : NULL, len, &h);
        pr_record(whole, ret, copy, &h);
        FUZZ_CHECK(ret <= 0 || (size_t)ret <= len, "a head is within len");
        FUZZ_CHECK(ret >= 0 || ret == -400 || ret == -431 || ret == -501 ||
                       ret == -505 || ret == EDDY__HTTP_FOLDED,
                   "errors are -400, -431, -501, -505 or a fold");
        if (ret > 0) {
            pr_check_valid(copy, &h, ret, max_head, max_headers);
            pr_check_reserialised(&h, max_headers);
        }
        free(copy);
    }
    if (ret == EDDY__HTTP_FOLDED)
        pr_check_unfolded(head, len, max_head, max_headers);

    pr_start(&ps, &h, slots, max_head, max_headers);
    ret = 0;
    for (size_t i = 0; i < ncuts && ret == 0; i++)
        ret = pr_call(&ps, &h, head, cuts[i], part);
    if (ret == 0)
        pr_call(&ps, &h, head, len, part);
    pr_put_off(&ps, &h, head, len, whole, part);
    FUZZ_CHECK(pr_same(whole, part), "the same result whole and in pieces");

    if (dribble && len <= PR_MAX_DRIBBLE) {
        char *copy = malloc(len ? len : 1);

        if (copy == NULL)
            goto out;
        if (len > 0)
            memcpy(copy, head, len);
        pr_start(&ps, &h, slots, max_head, max_headers);
        ret = 0;
        for (size_t n = 1; n <= len && ret == 0; n++) {
            ret = eddy__http_parse_response(&ps, copy, n, &h);
            pr_record(part, ret, copy, &h);
        }
        if (len == 0)
            pr_record(part, eddy__http_parse_response(&ps, NULL, 0, &h), copy,
                      &h);
        pr_put_off(&ps, &h, head, len, whole, part);
        FUZZ_CHECK(pr_same(whole, part),
                   "the same result whole and a byte at a time");
        free(copy);
    }
out:
    free(slots);
    free(whole);
    free(part);
    return 0;
}
