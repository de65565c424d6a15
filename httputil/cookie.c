/*
 * httputil/cookie.c - cookies (RFC 6265): reading the pairs of a Cookie
 * header, and writing a Set-Cookie value.
 *
 * Reading follows what browsers send rather than the RFC's grammar (which
 * they do not keep to: spaces and commas in values, quotes): a malformed
 * pair is skipped, and the rest of the header still counts.  Writing is the
 * other way round: only what RFC 6265 4.1.1 allows a server to send, and
 * what browsers would reject (SameSite=None without Secure, a prefixed
 * name without what its prefix promises) is refused instead of sent.
 *
 * This file must never allocate, read past the bytes it is given, or
 * write a Set-Cookie value with a byte that could end the header or begin
 * an attribute.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <string.h>

#define SAMESITE                                                               \
    (EDDY_COOKIE_SAMESITE_STRICT | EDDY_COOKIE_SAMESITE_LAX |                  \
     EDDY_COOKIE_SAMESITE_NONE)
#define KNOWN_FLAGS                                                            \
    (EDDY_COOKIE_SECURE | EDDY_COOKIE_HTTPONLY | EDDY_COOKIE_EXPIRES |         \
     EDDY_COOKIE_MAX_AGE | SAMESITE)

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* One "name=value" piece, [p, end): 1 and the pair, or 0 to skip it. */
static int pair(const char *p, const char *end, eddy_str *name, eddy_str *value)
{
    const char *eq, *ne;

    while (p < end && ows(*p))
        p++;
    while (end > p && ows(end[-1]))
        end--;
    if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
        return 0;
    for (ne = eq; ne > p && ows(ne[-1]); ne--)
        ;
    if (!eddy__hu_token(p, (size_t)(ne - p)))
        return 0;
    for (eq++; eq < end && ows(*eq); eq++)
        ;
    if (end - eq >= 2 && eq[0] == '"' && end[-1] == '"') {
        eq++;
        end--;
    }
    for (const char *q = eq; q < end; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return 0;
    name->p = p;
    name->len = (size_t)(ne - p);
    value->p = eq;
    value->len = (size_t)(end - eq);
    return 1;
}

int eddy_cookie_next(const char *header, size_t len, size_t *pos,
                     eddy_str *name, eddy_str *value)
{
    if (pos == NULL || name == NULL || value == NULL ||
        (header == NULL && len != 0))
        return -EINVAL;
    while (*pos < len) {
        const char *p = header + *pos, *end = header + len;
        const char *semi = memchr(p, ';', (size_t)(end - p));

        if (semi == NULL)
            semi = end;
        *pos = (size_t)(semi - header) + (semi < end);
        if (pair(p, semi, name, value))
            return 0;
    }
    return -ENOENT;
}

int eddy_cookie_get(const char *header, size_t len, const char *name,
                    eddy_str *value)
{
    size_t pos = 0, nlen;
    eddy_str n, v;

    if (name == NULL || value == NULL)
        return -EINVAL;
    nlen = strlen(name);
    while (eddy_cookie_next(header, len, &pos, &n, &v) == 0) {
        if (n.len == nlen && memcmp(n.p, name, nlen) == 0) {
            *value = v;
            return 0;
        }
    }
    return -ENOENT;
}

/* --- Set-Cookie ------------------------------------------------------- */

/* Whether every byte of s is in the class (cls), or for a path in
 * %x20-3A / %x3C-7E (RFC 6265 4.1.1's av-octet). */
static int all(const char *s, unsigned cls)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (cls != 0 ? !eddy__hu_is(c, cls) : c < 0x20 || c > 0x7e || c == ';')
            return 0;
    }
    return 1;
}

static int domain_ok(const char *d)
{
    if (*d == '\0')
        return 0;
    for (; *d != '\0'; d++)
        if (!(*d == '-' || *d == '.' || (*d >= '0' && *d <= '9') ||
              ((*d | 0x20) >= 'a' && (*d | 0x20) <= 'z')))
            return 0;
    return 1;
}

static int prefixed(const char *name, const char *lower)
{
    size_t n = strlen(lower);

    return strlen(name) >= n && eddy__hu_ieq(name, n, lower);
}

/* Everything that makes c unsendable, checked before a byte is written. */
static int check(const eddy_cookie *c)
{
    unsigned f = c->flags, ss = f & SAMESITE;
    const char *v = c->value ? c->value : "";

    if ((f & ~(unsigned)KNOWN_FLAGS) != 0 || (ss & (ss - 1)) != 0 ||
        c->name == NULL || !eddy__hu_token(c->name, strlen(c->name)) ||
        !all(v, EDDY__HU_COOKIE) ||
        (c->domain != NULL && !domain_ok(c->domain)) ||
        (c->path != NULL && (c->path[0] != '/' || !all(c->path, 0))) ||
        ((f & EDDY_COOKIE_MAX_AGE) && c->max_age < 0))
        return -EINVAL;
    if ((ss & EDDY_COOKIE_SAMESITE_NONE) && !(f & EDDY_COOKIE_SECURE))
        return -EINVAL;
    /* Cookie prefixes (RFC 6265bis 4.1.3), case-insensitive as browsers
     * now match them. */
    if (prefixed(c->name, "__secure-") && !(f & EDDY_COOKIE_SECURE))
        return -EINVAL;
    if (prefixed(c->name, "__host-") &&
        (!(f & EDDY_COOKIE_SECURE) || c->domain != NULL || c->path == NULL ||
         strcmp(c->path, "/") != 0))
        return -EINVAL;
    return 0;
}

/* Bytes written into buf while they fit; len counts them all. */
struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->buf != NULL && n <= o->size && o->len <= o->size - n)
        memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts0(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_num(struct out *o, uint64_t v)
{
    char d[20];
    size_t i = sizeof d;

    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(o, d + i, sizeof d - i);
}

int eddy_cookie_format(const eddy_cookie *c, char *buf, size_t size,
                       size_t *len)
{
    struct out o = {buf, size, 0};
    char date[EDDY_HTTP_DATE_SIZE];
    unsigned f;

    if (c == NULL || len == NULL || check(c) < 0)
        return -EINVAL;
    f = c->flags;
    if ((f & EDDY_COOKIE_EXPIRES) &&
        eddy_http_date_format(c->expires, date) < 0)
        return -EINVAL;
    puts0(&o, c->name);
    put(&o, "=", 1);
    puts0(&o, c->value ? c->value : "");
    if (f & EDDY_COOKIE_EXPIRES) {
        put(&o, "; Expires=", 10);
        put(&o, date, EDDY_HTTP_DATE_SIZE - 1);
    }
    if (f & EDDY_COOKIE_MAX_AGE) {
        put(&o, "; Max-Age=", 10);
        put_num(&o, (uint64_t)c->max_age);
    }
    if (c->domain != NULL) {
        put(&o, "; Domain=", 9);
        puts0(&o, c->domain);
    }
    if (c->path != NULL) {
        put(&o, "; Path=", 7);
        puts0(&o, c->path);
    }
    if (f & EDDY_COOKIE_SECURE)
        put(&o, "; Secure", 8);
    if (f & EDDY_COOKIE_HTTPONLY)
        put(&o, "; HttpOnly", 10);
    if (f & EDDY_COOKIE_SAMESITE_STRICT)
        put(&o, "; SameSite=Strict", 17);
    if (f & EDDY_COOKIE_SAMESITE_LAX)
        put(&o, "; SameSite=Lax", 14);
    if (f & EDDY_COOKIE_SAMESITE_NONE)
        put(&o, "; SameSite=None", 15);
    *len = o.len;
    if (buf == NULL || o.len >= size)
        return -ENOSPC;
    buf[o.len] = '\0';
    return 0;
}
