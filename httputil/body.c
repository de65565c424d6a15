/*
 * httputil/body.c - the fields of a whole request body by its media type
 * (Tornado's parse_body_arguments): urlencoded forms through args.c,
 * multipart/form-data through the streaming parser, whose non-file parts
 * are collected a piece at a time into one eddy_args.
 *
 * This file must never keep a file part's bytes, or take a body over the
 * size limit it was given.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <stdlib.h>

#define KNOWN_FLAGS                                                            \
    (EDDY_ARGS_PLUS_LITERAL | EDDY_ARGS_KEEP_BAD_ESCAPES | EDDY_ARGS_UTF8)

struct collect {
    eddy_args *args;
    const eddy_args_limits *lim;
    int field; /* the current part is a field, not a file */
};

static int collect_begin(const eddy_multipart_part *part, void *arg)
{
    struct collect *c = arg;

    c->field = part->filename.p == NULL;
    return c->field
               ? eddy__args_add(&c->args, part->name.p, part->name.len, c->lim)
               : 0;
}

static int collect_data(const char *p, size_t n, void *arg)
{
    struct collect *c = arg;

    return c->field ? eddy__args_extend(&c->args, p, n, c->lim) : 0;
}

static int multipart_fields(const char *ct, size_t ctlen, const char *body,
                            size_t len, const eddy_args_limits *lim,
                            eddy_args **out)
{
    static const eddy_multipart_callbacks cb = {collect_begin, collect_data,
                                                NULL};
    struct collect c = {NULL, lim, 0};
    eddy_multipart *mp;
    eddy_str b;
    int r;

    if ((r = eddy_multipart_boundary(ct, ctlen, &b)) < 0 ||
        (r = eddy_multipart_new(b.p, b.len, NULL, &cb, &c, &mp)) < 0)
        return r;
    if ((r = eddy_multipart_feed(mp, body, len)) == 0)
        r = eddy_multipart_finish(mp);
    eddy_multipart_free(mp);
    if (r < 0)
        eddy_args_free(c.args);
    else
        *out = c.args;
    return r;
}

/* Whether ct starts with the media type lower, followed by its end, OWS
 * or ';'. */
static int media_type(const char *ct, size_t len, const char *lower)
{
    size_t i = 0, n;

    while (i < len && (ct[i] == ' ' || ct[i] == '\t'))
        i++;
    for (n = 0; i + n < len && ct[i + n] != ';' && ct[i + n] != ' ' &&
                ct[i + n] != '\t';
         n++)
        ;
    return eddy__hu_ieq(ct + i, n, lower);
}

int eddy_args_parse_body(const char *ct, size_t ctlen, const char *body,
                         size_t len, unsigned flags,
                         const eddy_args_limits *lim, eddy_args **out)
{
    size_t max = lim && lim->max_size ? lim->max_size : EDDY__ARGS_MAX_SIZE;
    int r;

    if (out == NULL || (flags & ~(unsigned)KNOWN_FLAGS) != 0 ||
        (body == NULL && len != 0))
        return -EINVAL;
    *out = NULL;
    if (ct == NULL)
        return -ENOTSUP;
    if (media_type(ct, ctlen, "application/x-www-form-urlencoded"))
        return eddy_args_parse(body, len, flags, lim, out);
    if (!media_type(ct, ctlen, "multipart/form-data"))
        return -ENOTSUP;
    if (len > max)
        return -EMSGSIZE;
    if ((r = multipart_fields(ct, ctlen, body, len, lim, out)) == 0 &&
        (flags & EDDY_ARGS_UTF8) && (r = eddy__args_check_utf8(*out, 0)) < 0) {
        eddy_args_free(*out);
        *out = NULL;
    }
    return r;
}
