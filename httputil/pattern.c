/*
 * httputil/pattern.c - route patterns with parameters (`/items/{id}`,
 * `/files/{path*}`), compiled once and matched against decoded paths.
 *
 * A pattern is a list of whole segments, each a literal or a parameter, so
 * a match is one pass over the path with no backtracking: linear in the
 * path, whatever the pattern.  The syntax is in httputil_internal.h.
 *
 * This file must never allocate while matching, or let a parameter match
 * an empty segment or (but for a last `{name*}`) a '/'.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 64

struct seg {
    size_t off, len; /* the literal, or the parameter's name, in text */
    int param;
};

struct eddy__pattern {
    char *text; /* the pattern, copied after the segments */
    size_t nsegs, nparams;
    int rest; /* the last segment is {name*} */
    struct seg seg[];
};

static int name_char(unsigned char c, int first)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (!first && c >= '0' && c <= '9');
}

/* Checks "{name}" or "{name*}" at s[0, n) and fills in sg; *star says
 * which.  0, or -EINVAL. */
static int parse_param(const char *s, size_t n, size_t off, struct seg *sg,
                       int *star)
{
    if (n < 3 || s[0] != '{' || s[n - 1] != '}')
        return -EINVAL;
    *star = s[n - 2] == '*';
    sg->off = off + 1;
    sg->len = n - 2 - (size_t)*star;
    sg->param = 1;
    if (sg->len == 0 || sg->len > MAX_NAME)
        return -EINVAL;
    for (size_t i = 0; i < sg->len; i++)
        if (!name_char((unsigned char)s[1 + i], i == 0))
            return -EINVAL;
    return 0;
}

/* Whether segment k's parameter name is taken by one before it. */
static int repeated(const eddy__pattern *pt, size_t k)
{
    const struct seg *a = &pt->seg[k];

    for (size_t i = 0; i < k; i++) {
        const struct seg *b = &pt->seg[i];

        if (b->param && b->len == a->len &&
            memcmp(pt->text + b->off, pt->text + a->off, a->len) == 0)
            return 1;
    }
    return 0;
}

/* Splits pt->text into its segments.  0, or -EINVAL. */
static int parse(eddy__pattern *pt, size_t n)
{
    size_t i = 1;

    for (size_t k = 0; k < pt->nsegs; k++) {
        const char *s = pt->text + i, *slash = memchr(s, '/', n - i);
        size_t len = slash ? (size_t)(slash - s) : n - i;
        struct seg *sg = &pt->seg[k];
        int star = 0;

        if (memchr(s, '{', len) != NULL || memchr(s, '}', len) != NULL) {
            if (parse_param(s, len, i, sg, &star) < 0 || repeated(pt, k) ||
                (star && slash != NULL))
                return -EINVAL;
            pt->nparams++;
            pt->rest = star;
        } else {
            /* No decoded path has these: a route with them is a mistake. */
            if ((len == 1 && s[0] == '.') ||
                (len == 2 && s[0] == '.' && s[1] == '.') ||
                memchr(s, '\0', len) != NULL)
                return -EINVAL;
            sg->off = i;
            sg->len = len;
            sg->param = 0;
        }
        i += len + 1;
    }
    return 0;
}

int eddy__pattern_compile(const char *p, size_t n, eddy__pattern **out)
{
    size_t nsegs = 1;
    eddy__pattern *pt;

    if (p == NULL || out == NULL || n == 0 || p[0] != '/')
        return -EINVAL;
    for (size_t i = 1; i < n; i++)
        nsegs += p[i] == '/';
    pt = malloc(sizeof *pt + nsegs * sizeof(struct seg) + n + 1);
    if (pt == NULL)
        return -ENOMEM;
    pt->text = (char *)&pt->seg[nsegs];
    memcpy(pt->text, p, n);
    pt->text[n] = '\0';
    pt->nsegs = nsegs;
    pt->nparams = 0;
    pt->rest = 0;
    if (parse(pt, n) < 0) {
        free(pt);
        return -EINVAL;
    }
    *out = pt;
    return 0;
}

size_t eddy__pattern_nparams(const eddy__pattern *pt)
{
    return pt->nparams;
}

int eddy__pattern_match(const eddy__pattern *pt, const char *path, size_t len,
                        eddy__path_param *params)
{
    size_t pos = 1, k = 0; /* pos: where the path's next segment starts */

    if (path == NULL || len == 0 || path[0] != '/')
        return -ENOENT;
    for (size_t i = 0; i < pt->nsegs; i++) {
        const struct seg *sg = &pt->seg[i];
        const char *s = path + pos, *slash;
        size_t n;

        if (pos > len)
            return -ENOENT; /* the path has fewer segments */
        if (pt->rest && i == pt->nsegs - 1) {
            n = len - pos; /* the rest, slashes and all */
        } else {
            slash = memchr(s, '/', len - pos);
            n = slash ? (size_t)(slash - s) : len - pos;
        }
        if (sg->param) {
            if (n == 0 && !(pt->rest && i == pt->nsegs - 1))
                return -ENOENT;
            params[k].name.p = pt->text + sg->off;
            params[k].name.len = sg->len;
            params[k].value.p = s;
            params[k].value.len = n;
            k++;
        } else if (n != sg->len || memcmp(s, pt->text + sg->off, n) != 0) {
            return -ENOENT;
        }
        pos += n + 1;
    }
    return pos == len + 1 ? 0 : -ENOENT; /* no segment left over */
}

int eddy__path_param_get(const eddy__path_param *params, size_t n,
                         const char *name, eddy_str *value)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < n; i++) {
        if (params[i].name.len == len &&
            memcmp(params[i].name.p, name, len) == 0) {
            *value = params[i].value;
            return 0;
        }
    }
    return -ENOENT;
}

void eddy__pattern_free(eddy__pattern *pt)
{
    free(pt);
}
