/*
 * httpclient/url.c - the URLs the client fetches: http and https ones,
 * parsed strictly, and a redirect's Location resolved against the URL it
 * answered (RFC 3986 5.2).
 *
 * Accepted: scheme "://" host [":" port] [path] ["?" query] ["#"
 * fragment], the scheme http or https in any case, the host a name of
 * letters, digits, '-', '.' and '_', or an IPv4 address, or an IPv6 one
 * in brackets; the port 1 to 65535 (empty: the default).  Refused:
 * user:password@ (credentials belong in a header, where a redirect can
 * drop them), percent-encoding in the host, and a path or query byte
 * that is not visible ASCII (a Location may hold SP or UTF-8: those are
 * percent-encoded when it is resolved, as browsers do).
 *
 * This file must never read past the lengths it is given.
 */
#include "httpclient_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int host_char(char ch)
{
    return is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '.' || ch == '_';
}

static int ipv6_char(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') ||
           (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.';
}

/* The scheme's length before "://", and whether it is https: 0 when not
 * http or https. */
static size_t scheme(const char *p, size_t n, int *https)
{
    if (n >= 7 && eddy__http_ieq(p, "http://", 7)) {
        *https = 0;
        return 4;
    }
    if (n >= 8 && eddy__http_ieq(p, "https://", 8)) {
        *https = 1;
        return 5;
    }
    return 0;
}

/* Whether p[0, n) begins with a scheme (ALPHA *( ALPHA / DIGIT / "+" /
 * "-" / "." ) ":"). */
static int has_scheme(const char *p, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_alpha(p[0]))
        return 0;
    while (i < n && (is_alpha(p[i]) || is_digit(p[i]) || p[i] == '+' ||
                     p[i] == '-' || p[i] == '.'))
        i++;
    return i < n && p[i] == ':';
}

int eddy__url_parse(const char *url, size_t len, eddy__url *out)
{
    const char *p = url, *end = url + len, *host, *hend, *t, *tend;
    unsigned long port = 0;
    size_t slen, tlen;
    int https, ipv6 = 0, n;
    char *b;

    memset(out, 0, sizeof *out);
    if ((slen = scheme(p, len, &https)) == 0) /* http: without // too */
        return has_scheme(p, len) &&
                       !(len >= 5 && eddy__http_ieq(p, "http", 4) &&
                         (p[4] == ':' || p[4] == 's' || p[4] == 'S'))
                   ? -EPROTONOSUPPORT
                   : -EINVAL;
    p += slen + 3;
    host = p;
    if (p < end && *p == '[') {
        ipv6 = 1;
        for (host = ++p; p < end && ipv6_char(*p); p++)
            ;
        if (p == end || *p != ']' || p == host)
            return -EINVAL;
        hend = p++;
    } else {
        while (p < end && host_char(*p))
            p++;
        hend = p;
        if (hend == host)
            return -EINVAL;
    }
    if (p < end && *p == ':') {
        const char *d = ++p;

        while (p < end && is_digit(*p) && port <= 65535)
            port = port * 10 + (unsigned long)(*p++ - '0');
        if (p > d && (port == 0 || port > 65535))
            return -EINVAL;
    }
    if (p < end && *p != '/' && *p != '?' && *p != '#')
        return -EINVAL; /* userinfo, a bad host or port character */
    t = p;
    while (p < end && *p != '#') {
        if (*p <= 0x20 || *p >= 0x7f)
            return -EINVAL;
        p++;
    }
    tend = p;
    tlen = (size_t)(tend - t);
    /* host NUL, target NUL, text NUL; "/" added before a bare query */
    b = malloc((size_t)(hend - host) * 2 + tlen * 2 + 64);
    if (b == NULL)
        return -ENOMEM;
    out->buf = b;
    out->https = https;
    out->ipv6 = ipv6;
    out->port = (uint16_t)(port ? port : https ? 443 : 80);
    out->host = b;
    out->host_len = (size_t)(hend - host);
    for (size_t i = 0; i < out->host_len; i++) {
        char ch = host[i];

        b[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    b += out->host_len;
    *b++ = '\0';
    out->target = b;
    if (tlen == 0 || *t == '?')
        *b++ = '/';
    memcpy(b, t, tlen);
    b += tlen;
    *b++ = '\0';
    out->target_len = (size_t)(b - out->target) - 1;
    out->text = b; /* (written with memcpy: sprintf was most of a parse) */
    n = https ? 8 : 7;
    memcpy(b, https ? "https://" : "http://", (size_t)n);
    b += n;
    if (ipv6)
        *b++ = '[';
    memcpy(b, out->host, out->host_len);
    b += out->host_len;
    if (ipv6)
        *b++ = ']';
    if (port != 0 && out->port != (https ? 443 : 80)) {
        char d[8];
        size_t i = sizeof d;

        for (unsigned v = out->port; v != 0; v /= 10)
            d[--i] = (char)('0' + v % 10);
        *b++ = ':';
        memcpy(b, d + i, sizeof d - i);
        b += sizeof d - i;
    }
    memcpy(b, out->target, out->target_len + 1);
    return 0;
}

void eddy__url_free(eddy__url *u)
{
    free(u->buf);
    memset(u, 0, sizeof *u);
}

int eddy__url_same_origin(const eddy__url *a, const eddy__url *b)
{
    return a->https == b->https && a->port == b->port &&
           a->host_len == b->host_len &&
           memcmp(a->host, b->host, a->host_len) == 0;
}

/* Appends p[0, n) to o, percent-encoding SP and bytes past ASCII; fails
 * on other control bytes. */
static int put(char **o, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (ch == ' ' || ch >= 0x80) {
            *(*o)++ = '%';
            *(*o)++ = hex[ch >> 4];
            *(*o)++ = hex[ch & 15];
        } else if (ch < 0x20 || ch == 0x7f) {
            return -EINVAL;
        } else {
            *(*o)++ = (char)ch;
        }
    }
    return 0;
}

/* Removes the dot segments of the path in p[0, *n) in place (RFC 3986
 * 5.2.4), on whole segments. */
static void remove_dots(char *p, size_t *n)
{
    size_t in = 0, out = 0, len = *n;

    while (in < len) {
        size_t seg = in + 1;

        while (seg < len && p[seg] != '/')
            seg++;
        /* p[in, seg) is "/name" */
        if (seg - in == 2 && p[in + 1] == '.') {
            in = seg;
            if (in == len)
                p[out++] = '/';
            continue;
        }
        if (seg - in == 3 && p[in + 1] == '.' && p[in + 2] == '.') {
            while (out > 0 && p[--out] != '/')
                ;
            in = seg;
            if (in == len)
                p[out++] = '/';
            continue;
        }
        memmove(p + out, p + in, seg - in);
        out += seg - in;
        in = seg;
    }
    if (out == 0)
        p[out++] = '/';
    *n = out;
}

/* Removes the dot segments of the path of the absolute URL abs[0, *n)
 * (RFC 3986 5.2.2 does it for every reference).  An authority of a URL
 * that does not parse is left for eddy__url_parse() to refuse. */
static void normalise(char *abs, size_t *n)
{
    char *end = abs + *n, *p = memchr(abs, ':', *n), *path, *qm;
    size_t plen, qlen;

    if (p == NULL || end - p < 3 || p[1] != '/' || p[2] != '/')
        return;
    for (p += 3; p < end && *p != '/' && *p != '?'; p++)
        ;
    if (p == end || *p != '/')
        return;
    path = p;
    qm = memchr(path, '?', (size_t)(end - path));
    plen = (size_t)((qm != NULL ? qm : end) - path);
    qlen = (size_t)(end - path) - plen;
    remove_dots(path, &plen); /* never longer than it was */
    if (qlen > 0)
        memmove(path + plen, qm, qlen);
    *n = (size_t)(path - abs) + plen + qlen;
}

int eddy__url_resolve(const eddy__url *base, const char *ref, size_t len,
                      eddy__url *out)
{
    const char *hash = memchr(ref, '#', len), *q;
    size_t auth = strlen(base->text) - base->target_len, bpath, n;
    char *abs, *o;
    int err = 0;

    if (hash != NULL)
        len = (size_t)(hash - ref);
    if ((abs = malloc(auth + base->target_len + 3 * len + 16)) == NULL)
        return -ENOMEM;
    o = abs;
    q = memchr(base->target, '?', base->target_len);
    bpath = q != NULL ? (size_t)(q - base->target) : base->target_len;
    if (has_scheme(ref, len)) {
        err = put(&o, ref, len);
    } else if (len >= 2 && ref[0] == '/' && ref[1] == '/') {
        o += sprintf(o, "%s:", base->https ? "https" : "http");
        err = put(&o, ref, len);
    } else if (len == 0 || ref[0] == '?') {
        memcpy(o, base->text, auth + (len == 0 ? base->target_len : bpath));
        o += auth + (len == 0 ? base->target_len : bpath);
        err = put(&o, ref, len);
    } else {
        memcpy(o, base->text, auth);
        o += auth;
        if (ref[0] != '/') { /* merged with the base's directory */
            size_t dir = bpath;

            while (dir > 0 && base->target[dir - 1] != '/')
                dir--;
            memcpy(o, base->target, dir);
            o += dir;
        }
        err = put(&o, ref, len);
    }
    n = (size_t)(o - abs);
    if (err == 0) {
        normalise(abs, &n);
        err = eddy__url_parse(abs, n, out);
    }
    free(abs);
    return err;
}
