/*
 * httputil/multipart.c - multipart/form-data (RFC 7578 on RFC 2046): the
 * boundary of a Content-Type, and a push parser that streams each part.
 *
 * The parser looks for the delimiter, CRLF "--" boundary, with memchr()
 * for its CR and then byte by byte.  Everything before a CR is handed to
 * the data callback straight from the caller's bytes.  A partial match at
 * the end of a piece is held back, but never copied: the bytes matched are
 * the delimiter's own first bytes, so if the match fails in the next piece
 * they are handed over from the delimiter itself.  And since CR occurs in
 * the delimiter only as its first byte, a failed match can hide no other
 * start: the parser rescans from the byte that failed.  Memory is the
 * struct and a header buffer, whatever the body's size.
 *
 * The very first delimiter has no CRLF before it when the body starts with
 * it, so the parser starts as if a CRLF had just been seen.
 *
 * This file must never read past the bytes it is given, hold a part's data
 * in memory, or call a callback after an error.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_PARTS 1000
#define DEFAULT_MAX_HEADER (8 * 1024)
#define DEFAULT_MAX_FIELD (1024 * 1024)
#define MAX_HEADERS 16
#define MAX_BOUNDARY 70

enum {
    S_PREAMBLE, /* before the first delimiter: ignored */
    S_AFTER,    /* a delimiter has just ended */
    S_DASH,     /* after "--boundary-" */
    S_PAD,      /* after "--boundary" and spaces or tabs */
    S_CR,       /* after "--boundary", padding and CR */
    S_HEADERS,  /* a part's header block */
    S_DATA,     /* a part's bytes */
    S_EPILOGUE, /* after the closing delimiter: ignored */
    S_ERROR
};

struct eddy_multipart {
    eddy_multipart_callbacks cb;
    void *arg;
    size_t max_parts, max_header;
    uint64_t max_field;
    int state, err;
    size_t m;       /* bytes of the delimiter matched so far */
    size_t parts;   /* parts begun */
    uint64_t field; /* bytes of the current part so far */
    int is_file;    /* the current part has a filename */
    size_t hlen;    /* bytes in hbuf */
    size_t dlen;    /* "\r\n--" and the boundary */
    char delim[4 + MAX_BOUNDARY];
    eddy_http_header headers[MAX_HEADERS];
    char hbuf[]; /* max_header bytes, then as many to unescape into */
};

static int boundary_ok(const char *b, size_t n)
{
    if (n == 0 || n > MAX_BOUNDARY || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] != ' ' && !eddy__hu_is((unsigned char)b[i], EDDY__HU_BCHAR))
            return 0;
    return 1;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *skip_token(const char *p, const char *end)
{
    while (p < end && eddy__hu_is((unsigned char)*p, EDDY__HU_TOKEN))
        p++;
    return p;
}

/* A quoted-string from the '"' at p: the position after its closing
 * quote, or NULL.  *escapes says whether a backslash is inside. */
static const char *skip_quoted(const char *p, const char *end, int *escapes)
{
    *escapes = 0;
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            *escapes = 1;
            if (++p == end)
                return NULL;
        }
    }
    return NULL;
}

/* --- the boundary ------------------------------------------------------ */

int eddy_multipart_boundary(const char *ct, size_t len, eddy_str *boundary)
{
    const char *p, *end, *t;
    eddy_str b = {NULL, 0};

    if (ct == NULL || boundary == NULL)
        return -EINVAL;
    end = ct + len;
    p = skip_ows(ct, end);
    t = skip_token(p, end);
    if (t < end && *t == '/')
        t = skip_token(t + 1, end);
    if (!eddy__hu_ieq(p, (size_t)(t - p), "multipart/form-data"))
        return -ENOTSUP;
    /* *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] ) */
    for (p = skip_ows(t, end); p < end; p = skip_ows(p, end)) {
        const char *name = p + 1, *ne, *v, *ve;
        int esc = 0;

        if (*p != ';')
            return -EINVAL;
        if ((name = skip_ows(name, end)) == end || *name == ';') {
            p = name;
            continue;
        }
        ne = skip_token(name, end);
        if (ne == name || ne == end || *ne != '=')
            return -EINVAL;
        v = ne + 1;
        ve = v < end && *v == '"' ? skip_quoted(v, end, &esc)
                                  : skip_token(v, end);
        if (ve == NULL || ve == v)
            return -EINVAL;
        if (eddy__hu_ieq(name, (size_t)(ne - name), "boundary")) {
            if (b.p != NULL || esc) /* a boundary never needs a '\' */
                return -EINVAL;
            b.p = *v == '"' ? v + 1 : v;
            b.len = (size_t)(ve - v) - (*v == '"' ? 2 : 0);
        }
        p = ve;
    }
    if (b.p == NULL || !boundary_ok(b.p, b.len))
        return -EINVAL;
    *boundary = b;
    return 0;
}

/* --- the parser -------------------------------------------------------- */

int eddy_multipart_new(const char *boundary, size_t len,
                       const eddy_multipart_limits *lim,
                       const eddy_multipart_callbacks *cb, void *arg,
                       eddy_multipart **out)
{
    eddy_multipart_limits l = {0, 0, 0};
    eddy_multipart *mp;

    if (boundary == NULL || cb == NULL || out == NULL ||
        !boundary_ok(boundary, len))
        return -EINVAL;
    if (lim != NULL)
        l = *lim;
    l.max_parts = l.max_parts ? l.max_parts : DEFAULT_MAX_PARTS;
    l.max_header_size =
        l.max_header_size ? l.max_header_size : DEFAULT_MAX_HEADER;
    l.max_field_size = l.max_field_size ? l.max_field_size : DEFAULT_MAX_FIELD;
    if (l.max_header_size > (SIZE_MAX - sizeof *mp) / 2)
        return -ENOMEM;
    if ((mp = calloc(1, sizeof *mp + 2 * l.max_header_size)) == NULL)
        return -ENOMEM;
    mp->cb = *cb;
    mp->arg = arg;
    mp->max_parts = l.max_parts;
    mp->max_header = l.max_header_size;
    mp->max_field = l.max_field_size;
    mp->state = S_PREAMBLE;
    mp->m = 2; /* as if a CRLF had come: the body may start with "--" */
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, len);
    mp->dlen = 4 + len;
    *out = mp;
    return 0;
}

void eddy_multipart_free(eddy_multipart *mp)
{
    free(mp);
}

/* Stops the parser with err; returns end, so that feeding stops. */
static const char *fail(eddy_multipart *mp, int err, const char *end)
{
    mp->err = err;
    mp->state = S_ERROR;
    return end;
}

/* A callback's answer: 0, or the parser stops. */
static int called(eddy_multipart *mp, int r)
{
    if (r != 0)
        fail(mp, r < 0 ? r : -ECANCELED, NULL);
    return r != 0;
}

/* Hands n bytes of the current part to the data callback (the
 * preamble's go nowhere).  0, or -1 when the parser stopped. */
static int emit(eddy_multipart *mp, const char *p, size_t n)
{
    if (n == 0 || mp->state == S_PREAMBLE)
        return 0;
    mp->field += n;
    if (!mp->is_file && mp->field > mp->max_field) {
        fail(mp, -EFBIG, NULL);
        return -1;
    }
    if (mp->cb.data != NULL && called(mp, mp->cb.data(p, n, mp->arg)))
        return -1;
    return 0;
}

/* The preamble or a part's bytes, [p, end), up to a delimiter. */
static const char *body(eddy_multipart *mp, const char *p, const char *end)
{
    const char *run = p;    /* this piece's bytes not handed over yet */
    size_t carried = mp->m; /* delimiter bytes matched in earlier pieces */

    while (p < end) {
        if (mp->m == 0) {
            const char *cr = memchr(p, '\r', (size_t)(end - p));

            if (cr == NULL)
                break;
            p = cr + 1;
            mp->m = 1;
        } else if (*p == mp->delim[mp->m]) {
            p++;
            if (++mp->m < mp->dlen)
                continue;
            /* A delimiter: the data ends where it began. */
            if (emit(mp, run, (size_t)(p - run) - (mp->dlen - carried)) < 0)
                return end;
            if (mp->state == S_DATA && mp->cb.end != NULL &&
                called(mp, mp->cb.end(mp->arg)))
                return end;
            mp->state = S_AFTER;
            mp->m = 0;
            return p;
        } else {
            /* No delimiter after all: what matched of it is data, and the
             * byte that failed may start one (it is looked at again). */
            if (carried > 0 && emit(mp, mp->delim, carried) < 0)
                return end;
            carried = 0;
            mp->m = 0;
        }
    }
    /* Hold back what may begin a delimiter: the m - carried bytes that
     * matched in this piece. */
    if (emit(mp, run, (size_t)(end - run) - (mp->m - carried)) < 0)
        return end;
    return end;
}

/* After "--boundary": "--" ends the body; padding and CRLF begin a part. */
static const char *after(eddy_multipart *mp, const char *p, const char *end)
{
    for (; p < end; p++) {
        char c = *p;

        if (mp->state == S_AFTER && c == '-') {
            mp->state = S_DASH;
        } else if (mp->state == S_DASH) {
            if (c != '-')
                return fail(mp, -EBADMSG, end);
            mp->state = S_EPILOGUE;
            return p + 1;
        } else if (mp->state != S_CR && (c == ' ' || c == '\t')) {
            mp->state = S_PAD;
        } else if (mp->state != S_CR && c == '\r') {
            mp->state = S_CR;
        } else if (mp->state == S_CR && c == '\n') {
            if (mp->parts == mp->max_parts)
                return fail(mp, -E2BIG, end);
            mp->state = S_HEADERS;
            mp->hlen = 0;
            return p + 1;
        } else {
            return fail(mp, -EBADMSG, end);
        }
    }
    return p;
}

/* --- a part's head ----------------------------------------------------- */

/* Copies a parameter value, token or quoted-string [v, ve), into *o,
 * dropping the quotes and the backslash of "\"" and "\\" (a backslash
 * before anything else stays: old browsers send Windows paths so). */
static eddy_str unquote(const char *v, const char *ve, char **o)
{
    eddy_str s = {*o, 0};

    if (*v != '"') {
        memcpy(*o, v, (size_t)(ve - v));
        s.len = (size_t)(ve - v);
        *o += s.len;
        return s;
    }
    for (v++, ve--; v < ve; v++) {
        if (*v == '\\' && ve - v >= 2 && (v[1] == '"' || v[1] == '\\'))
            v++;
        *(*o)++ = *v;
        s.len++;
    }
    return s;
}

/* Content-Disposition: form-data *( OWS ";" OWS token "=" ( token /
 * quoted-string ) ).  Unescaped name and filename go into the second half
 * of hbuf.  0, or -EBADMSG. */
static int disposition(eddy_multipart *mp, const eddy_http_header *h,
                       eddy_multipart_part *part)
{
    const char *p = h->value, *end = p + h->value_len, *t;
    char *o = mp->hbuf + mp->max_header;

    t = skip_token(p, end);
    if (!eddy__hu_ieq(p, (size_t)(t - p), "form-data"))
        return -EBADMSG;
    for (p = skip_ows(t, end); p < end; p = skip_ows(p, end)) {
        const char *name, *ne, *v, *ve;
        int esc, is_name, is_file;

        if (*p != ';')
            return -EBADMSG;
        name = skip_ows(p + 1, end);
        ne = skip_token(name, end);
        if (ne == name || ne == end || *ne != '=')
            return -EBADMSG;
        v = ne + 1;
        ve = v < end && *v == '"' ? skip_quoted(v, end, &esc)
                                  : skip_token(v, end);
        if (ve == NULL || ve == v)
            return -EBADMSG;
        is_name = eddy__hu_ieq(name, (size_t)(ne - name), "name");
        is_file = eddy__hu_ieq(name, (size_t)(ne - name), "filename");
        if ((is_name && part->name.p != NULL) ||
            (is_file && part->filename.p != NULL))
            return -EBADMSG;
        if (is_name)
            part->name = unquote(v, ve, &o);
        else if (is_file)
            part->filename = unquote(v, ve, &o);
        p = ve;
    }
    return part->name.p != NULL ? 0 : -EBADMSG;
}

/* Splits hbuf[0, hlen) (lines ending in CRLF, the last one empty) into
 * header fields: name ":" OWS value OWS.  0, -EBADMSG or -EMSGSIZE. */
static int split_fields(eddy_multipart *mp, size_t *n)
{
    const char *p = mp->hbuf, *end = mp->hbuf + mp->hlen - 2;

    for (*n = 0; p < end; (*n)++) {
        /* The block ends in CRLF CRLF: every line up to end has its LF. */
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *colon, *v, *ve;
        eddy_http_header *h = &mp->headers[*n];

        if (*n == MAX_HEADERS)
            return -EMSGSIZE;
        if (lf == NULL || lf == p || lf[-1] != '\r' ||
            (colon = memchr(p, ':', (size_t)(lf - 1 - p))) == NULL ||
            !eddy__hu_token(p, (size_t)(colon - p)))
            return -EBADMSG;
        v = skip_ows(colon + 1, lf - 1);
        for (ve = lf - 1; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
            ;
        for (const char *q = v; q < ve; q++)
            if (!eddy__hu_is((unsigned char)*q, EDDY__HU_VALUE))
                return -EBADMSG;
        h->name = p;
        h->name_len = (size_t)(colon - p);
        h->value = v;
        h->value_len = (size_t)(ve - v);
        p = lf + 1;
    }
    return 0;
}

/* The header block is in: the part's fields, then the begin callback. */
static int begin_part(eddy_multipart *mp)
{
    eddy_multipart_part part;
    const eddy_http_header *cd = NULL;
    int r;

    memset(&part, 0, sizeof part);
    if ((r = split_fields(mp, &part.nheaders)) < 0)
        return r;
    for (size_t i = 0; i < part.nheaders; i++) {
        const eddy_http_header *h = &mp->headers[i];

        if (eddy__hu_ieq(h->name, h->name_len, "content-disposition")) {
            if (cd != NULL)
                return -EBADMSG;
            cd = h;
        } else if (eddy__hu_ieq(h->name, h->name_len, "content-type")) {
            if (part.content_type.p != NULL)
                return -EBADMSG;
            part.content_type.p = h->value;
            part.content_type.len = h->value_len;
        }
    }
    if (cd == NULL || (r = disposition(mp, cd, &part)) < 0)
        return -EBADMSG;
    part.index = mp->parts++;
    part.headers = mp->headers;
    mp->is_file = part.filename.p != NULL;
    mp->field = 0;
    mp->state = S_DATA;
    mp->m = 0;
    if (mp->cb.begin != NULL && called(mp, mp->cb.begin(&part, mp->arg)))
        return mp->err;
    return 0;
}

/* Collects the header block up to the empty line that ends it. */
static const char *headers(eddy_multipart *mp, const char *p, const char *end)
{
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        size_t n = lf ? (size_t)(lf - p) + 1 : (size_t)(end - p);
        const char *h;
        int r;

        if (n > mp->max_header - mp->hlen)
            return fail(mp, -EMSGSIZE, end);
        memcpy(mp->hbuf + mp->hlen, p, n);
        mp->hlen += n;
        p += n;
        h = mp->hbuf + mp->hlen;
        if (lf == NULL || mp->hlen < 2 || h[-2] != '\r')
            continue;
        /* CRLF alone, or CRLF CRLF: the block has ended. */
        if (mp->hlen == 2 ||
            (mp->hlen >= 4 && memcmp(h - 4, "\r\n\r\n", 4) == 0)) {
            if ((r = begin_part(mp)) < 0)
                return fail(mp, r, end);
            return p;
        }
    }
    return p;
}

int eddy_multipart_feed(eddy_multipart *mp, const char *data, size_t len)
{
    const char *p = data, *end;

    if (mp->err != 0 || len == 0)
        return mp->err;
    if (data == NULL)
        return -EINVAL;
    end = data + len;
    while (p < end && mp->err == 0) {
        switch (mp->state) {
        case S_PREAMBLE:
        case S_DATA:
            p = body(mp, p, end);
            break;
        case S_HEADERS:
            p = headers(mp, p, end);
            break;
        case S_EPILOGUE:
            p = end;
            break;
        default:
            p = after(mp, p, end);
            break;
        }
    }
    return mp->err;
}

int eddy_multipart_finish(eddy_multipart *mp)
{
    if (mp->err != 0)
        return mp->err;
    return mp->state == S_EPILOGUE ? 0 : -EPROTO;
}
