/*
 * fuzz/cookie.c - cookies (httputil/cookie.c) under fuzzing, both ways.
 *
 * Input: one byte of settings (bit 7 set: build instead of parse; bits
 * 0-6 the EDDY_COOKIE_* flags), and to build a second (bit 0: keep
 * expires and max_age near the valid ranges), then the bytes.
 *
 *  - parse: the bytes are a Cookie header.  eddy_cookie_next() walks it,
 *    each call moving forward, every pair inside the header, each name a
 *    token and each value free of control characters; a rescan finds the
 *    same pairs; eddy_cookie_get() gives the first pair of each name.
 *  - build: the bytes, split at NULs, are a name, a value, a domain and a
 *    path (the fields present as the settings' and the split's say), then
 *    8 bytes each of expires and max_age.  eddy_cookie_format() must
 *    succeed exactly when this file's own reading of RFC 6265 says the
 *    cookie is sendable; the length it reports must be the length it
 *    writes; what it writes has no byte outside SP..'~', and its first
 *    pair parses back to the name and value given.
 */
#include "fuzz.h"

#include "../httputil/httputil_internal.h"

#include <errno.h>
#include <string.h>

#define CK_SAMESITE                                                            \
    (EDDY_COOKIE_SAMESITE_STRICT | EDDY_COOKIE_SAMESITE_LAX |                  \
     EDDY_COOKIE_SAMESITE_NONE)

static int ck_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void ck_parse(const uint8_t *data, size_t n)
{
    char *h = malloc(n ? n : 1);
    size_t pos = 0, prev = 0, pairs = 0;
    eddy_str name, value;

    if (h == NULL)
        return;
    if (n > 0)
        memcpy(h, data, n);
    while (eddy_cookie_next(h, n, &pos, &name, &value) == 0) {
        eddy_str first;
        size_t p2 = 0;
        char *cname;

        FUZZ_CHECK(pos > prev && pos <= n, "each call moves forward");
        prev = pos;
        FUZZ_CHECK(name.p >= h && name.p + name.len <= h + pos &&
                       value.p >= h && value.p + value.len <= h + pos,
                   "a pair lies in what was read");
        FUZZ_CHECK(name.len > 0, "a name is not empty");
        for (size_t i = 0; i < name.len; i++)
            FUZZ_CHECK(ck_tchar((unsigned char)name.p[i]), "a name is a token");
        for (size_t i = 0; i < value.len; i++)
            FUZZ_CHECK((unsigned char)value.p[i] >= 0x20 &&
                           value.p[i] != 0x7f && value.p[i] != ';',
                       "a value has no control character and no ';'");
        /* The first pair of this name is found by eddy_cookie_get. */
        if (pairs++ < 64 && (cname = malloc(name.len + 1)) != NULL) {
            eddy_str n2, v2;

            memcpy(cname, name.p, name.len);
            cname[name.len] = '\0';
            FUZZ_CHECK(eddy_cookie_get(h, n, cname, &first) == 0,
                       "a name read is found");
            while (eddy_cookie_next(h, n, &p2, &n2, &v2) == 0)
                if (n2.len == name.len && memcmp(n2.p, name.p, name.len) == 0)
                    break;
            FUZZ_CHECK(first.p == v2.p && first.len == v2.len,
                       "eddy_cookie_get gives the first");
            free(cname);
        }
    }
    FUZZ_CHECK(pos >= n, "the walk ends at the end");
    free(h);
}

/* The next field (up to a NUL) from *p, as a C string, or NULL when the
 * bytes ran out. */
static char *ck_field(const uint8_t **p, size_t *n)
{
    const uint8_t *z = memchr(*p, 0, *n);
    size_t len = z ? (size_t)(z - *p) : *n;
    char *s;

    if (*n == 0 || (s = malloc(len + 1)) == NULL)
        return NULL;
    memcpy(s, *p, len);
    s[len] = '\0';
    *p += len + (z != NULL);
    *n -= len + (z != NULL);
    return s;
}

static int64_t ck_int(const uint8_t **p, size_t *n)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | (*n > 0 ? **p : 0);
        if (*n > 0) {
            (*p)++;
            (*n)--;
        }
    }
    return (int64_t)v;
}

static int ck_all(const char *s, int (*ok)(unsigned char))
{
    for (; *s != '\0'; s++)
        if (!ok((unsigned char)*s))
            return 0;
    return 1;
}

static int ck_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

static int ck_domain_char(unsigned char c)
{
    return c == '-' || c == '.' || (c >= '0' && c <= '9') ||
           (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ck_path_char(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e && c != ';';
}

static int ck_prefix(const char *s, const char *p)
{
    for (; *p != '\0'; s++, p++)
        if (*s == '\0' || (*s | 0x20) != (*p | 0x20))
            return 0;
    return 1;
}

/* This file's reading of what may be sent. */
static int ck_sendable(const eddy_cookie *c)
{
    unsigned f = c->flags, ss = f & CK_SAMESITE;
    int secure = (f & EDDY_COOKIE_SECURE) != 0;
    const int64_t min_t = -62167219200LL, max_t = 253402300799LL;

    if (c->name == NULL || c->name[0] == '\0' || !ck_all(c->name, ck_tchar))
        return 0;
    if (c->value != NULL && !ck_all(c->value, ck_octet))
        return 0;
    if (c->domain != NULL &&
        (c->domain[0] == '\0' || !ck_all(c->domain, ck_domain_char)))
        return 0;
    if (c->path != NULL &&
        (c->path[0] != '/' || !ck_all(c->path, ck_path_char)))
        return 0;
    if ((f & EDDY_COOKIE_MAX_AGE) && c->max_age < 0)
        return 0;
    if ((f & EDDY_COOKIE_EXPIRES) && (c->expires < min_t || c->expires > max_t))
        return 0;
    if (ss != 0 && ss != EDDY_COOKIE_SAMESITE_STRICT &&
        ss != EDDY_COOKIE_SAMESITE_LAX && ss != EDDY_COOKIE_SAMESITE_NONE)
        return 0;
    if ((ss & EDDY_COOKIE_SAMESITE_NONE) && !secure)
        return 0;
    if (ck_prefix(c->name, "__secure-") && !secure)
        return 0;
    if (ck_prefix(c->name, "__host-") &&
        (!secure || c->domain != NULL || c->path == NULL ||
         strcmp(c->path, "/") != 0))
        return 0;
    return (f & ~127u) == 0;
}

static void ck_build(const uint8_t *data, size_t n, unsigned cfg, unsigned cfg2)
{
    const uint8_t *p = data;
    char *f[4] = {NULL, NULL, NULL, NULL}, *buf = NULL;
    eddy_cookie c;
    size_t len = 0, len2 = 0;
    int r;

    memset(&c, 0, sizeof c);
    for (int i = 0; i < 4; i++)
        f[i] = ck_field(&p, &n);
    c.name = f[0];
    c.value = f[1];
    c.domain = f[2] != NULL && f[2][0] != '\0' ? f[2] : NULL;
    c.path = f[3] != NULL && f[3][0] != '\0' ? f[3] : NULL;
    c.expires = ck_int(&p, &n);
    c.max_age = ck_int(&p, &n);
    if (cfg2 & 1) { /* valid dates and small ages, not just any number */
        c.expires %= 253402300799LL;
        c.max_age %= 1000;
    }
    c.flags = cfg & 127;
    r = eddy_cookie_format(&c, NULL, 0, &len);
    FUZZ_CHECK(r == -EINVAL || r == -ENOSPC, "measuring is -ENOSPC");
    FUZZ_CHECK((r == -ENOSPC) == ck_sendable(&c),
               "refused exactly when not sendable");
    if (r != -ENOSPC || (buf = malloc(len + 1)) == NULL)
        goto out;
    r = eddy_cookie_format(&c, buf, len + 1, &len2);
    FUZZ_CHECK(r == 0 && len2 == len && buf[len] == '\0' && strlen(buf) == len,
               "the length measured is the length written");
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f,
                   "nothing outside SP..'~' is written");
    {
        size_t pos = 0, vlen = c.value ? strlen(c.value) : 0;
        eddy_str name, value;

        FUZZ_CHECK(eddy_cookie_next(buf, len, &pos, &name, &value) == 0 &&
                       name.len == strlen(c.name) &&
                       memcmp(name.p, c.name, name.len) == 0 &&
                       value.len == vlen &&
                       (vlen == 0 || memcmp(value.p, c.value, vlen) == 0),
                   "the pair written parses back");
    }
out:
    free(buf);
    for (int i = 0; i < 4; i++)
        free(f[i]);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);

    if (cfg & 128) {
        unsigned cfg2 = fuzz_byte(&in);

        ck_build(in.p, in.n, cfg, cfg2);
    } else {
        ck_parse(in.p, in.n);
    }
    return 0;
}
