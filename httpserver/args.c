/*
 * httpserver/args.c - a request's arguments (Tornado's get_argument and
 * its siblings): the query's and the body's, each parsed on first use
 * with httputil's parsers and the server's limits, kept (or the error
 * they gave) until the request is finished; and a multipart/form-data
 * upload read as it streams in, through httputil's push parser, so that
 * it never sits whole in memory.
 *
 * A request that never asks for its arguments costs nothing: the state
 * below is allocated on the first ask.
 *
 * This file must never parse with anything but the server's limits, nor
 * hand a part callback a byte after the parser failed.
 */
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { Q_DONE = 1, B_DONE = 2, ALL_DONE = 4 };

struct eddy__args_state {
    unsigned done; /* which sets were parsed (Q_DONE...) */
    int qerr, berr, aerr;
    eddy_args *query, *body, *all;
    /* eddy_http_read_multipart() */
    eddy_multipart *mp;
    eddy_http_multipart_done mp_done;
    void *mp_arg;
    int mp_told; /* mp_done ran */
};

static struct eddy__args_state *state(eddy_http_request *req)
{
    if (req->args == NULL)
        req->args = calloc(1, sizeof *req->args);
    return req->args;
}

void eddy__args_free(eddy_http_request *req)
{
    struct eddy__args_state *a = req->args;

    if (a == NULL)
        return;
    eddy_args_free(a->query);
    eddy_args_free(a->body);
    eddy_args_free(a->all);
    eddy_multipart_free(a->mp);
    free(a);
    req->args = NULL;
}

/* --- parsing ------------------------------------------------------------ */

static int query_args(eddy_http_request *req, struct eddy__args_state *a)
{
    const eddy_http_server *srv = req->srv;

    if (!(a->done & Q_DONE)) {
        a->done |= Q_DONE;
        a->qerr =
            eddy_args_parse(req->query.p, req->query.len, srv->opt.args_flags,
                            &srv->opt.args_limits, &a->query);
    }
    return a->qerr;
}

/* A body held whole, of a type that has arguments.  A multipart body's
 * size is its files' too: its fields are bounded by max_body_size, which
 * it passed, and by the multipart parser's limits, not by max_size. */
static int body_args(eddy_http_request *req, struct eddy__args_state *a)
{
    const eddy_http_server *srv = req->srv;
    eddy_args_limits lim = srv->opt.args_limits;
    eddy_str ct, b = eddy_http_body(req);
    int err = 0;

    if (a->done & B_DONE)
        return a->berr;
    a->done |= B_DONE;
    if ((req->route != NULL && (req->route->flags & EDDY_ROUTE_STREAM)) ||
        eddy__request_header(req, "content-type", &ct) != 0)
        return 0;
    if (ct.len >= 9 && eddy__http_ieq(ct.p, "multipart", 9) &&
        b.len > (lim.max_size ? lim.max_size : EDDY__ARGS_MAX_SIZE))
        lim.max_size = b.len;
    err = eddy_args_parse_body(ct.p, ct.len, b.p, b.len, srv->opt.args_flags,
                               &lim, &a->body);
    return a->berr = err == -ENOTSUP ? 0 : err;
}

/* The query's pairs, then the body's, in one set (Tornado's
 * request.arguments); the parts passed their limits already. */
static int all_args(eddy_http_request *req, struct eddy__args_state *a)
{
    static const eddy_args_limits none = {SIZE_MAX, SIZE_MAX};
    const eddy_args *from[2] = {a->query, a->body};
    int err = query_args(req, a);

    if (err == 0)
        err = body_args(req, a);
    if (err != 0 || (a->done & ALL_DONE))
        return err != 0 ? err : a->aerr;
    a->done |= ALL_DONE;
    for (int k = 0; k < 2 && err == 0; k++)
        for (size_t i = 0; i < eddy_args_count(from[k]) && err == 0; i++) {
            eddy_str n, v;

            eddy_args_at(from[k], i, &n, &v);
            err = eddy__args_add(&a->all, n.p, n.len, &none);
            if (err == 0)
                err = eddy__args_extend(&a->all, v.p, v.len, &none);
        }
    return a->aerr = err;
}

void eddy__args_keep(eddy_http_request *req)
{
    struct eddy__args_state *a = state(req);

    if (a != NULL)
        all_args(req, a);
}

/* --- the argument API --------------------------------------------------- */

int eddy_http_query_arg(eddy_http_request *req, const char *name,
                        eddy_str *value)
{
    struct eddy__args_state *a;
    int err;

    if (name == NULL || value == NULL)
        return -EINVAL;
    if ((a = state(req)) == NULL)
        return -ENOMEM;
    err = query_args(req, a);
    return err != 0 ? err : eddy_args_get(a->query, name, value);
}

int eddy_http_body_arg(eddy_http_request *req, const char *name,
                       eddy_str *value)
{
    struct eddy__args_state *a;
    int err;

    if (name == NULL || value == NULL)
        return -EINVAL;
    if ((a = state(req)) == NULL)
        return -ENOMEM;
    err = body_args(req, a);
    return err != 0 ? err : eddy_args_get(a->body, name, value);
}

int eddy_http_arg(eddy_http_request *req, const char *name, eddy_str *value)
{
    struct eddy__args_state *a;
    int err;

    if (name == NULL || value == NULL)
        return -EINVAL;
    if ((a = state(req)) == NULL)
        return -ENOMEM;
    if ((err = query_args(req, a)) != 0 || (err = body_args(req, a)) != 0)
        return err;
    if (eddy_args_get(a->body, name, value) == 0)
        return 0;
    return eddy_args_get(a->query, name, value);
}

int eddy_http_args(eddy_http_request *req, unsigned which,
                   const eddy_args **out)
{
    struct eddy__args_state *a;
    int err;

    if (out == NULL || which < EDDY_HTTP_QUERY_ARGS ||
        which > EDDY_HTTP_ALL_ARGS)
        return -EINVAL;
    *out = NULL;
    if ((a = state(req)) == NULL)
        return -ENOMEM;
    if (which == EDDY_HTTP_QUERY_ARGS)
        err = query_args(req, a);
    else if (which == EDDY_HTTP_BODY_ARGS)
        err = body_args(req, a);
    else
        err = all_args(req, a);
    if (err == 0)
        *out = which == EDDY_HTTP_QUERY_ARGS  ? a->query
               : which == EDDY_HTTP_BODY_ARGS ? a->body
                                              : a->all;
    return err;
}

/* --- a multipart upload, as it streams in ------------------------------- */

/* The parser failed, or the body ended: the handler is told, once, and
 * last (it may finish the request, which frees the state).  A body that
 * failed mid-way is paused: nothing more of it is read for a parser that
 * would drop it, and the answer closes the connection. */
static void mp_tell(eddy_http_request *req, struct eddy__args_state *a,
                    int status, int last)
{
    eddy_http_multipart_done done = a->mp_done;

    if (a->mp_told)
        return;
    a->mp_told = 1;
    if (!last)
        eddy_http_pause_body(req);
    done(req, status, a->mp_arg);
}

static void mp_body(eddy_http_request *req, int status, const char *data,
                    size_t len, int last, void *arg)
{
    struct eddy__args_state *a = arg;

    if (a->mp_told)
        return; /* failed before: the rest is not the parser's */
    if (status == 0 && len > 0)
        status = eddy_multipart_feed(a->mp, data, len);
    if (status == 0 && last)
        status = eddy_multipart_finish(a->mp);
    if (status != 0 || last)
        mp_tell(req, a, status, last);
}

int eddy_http_read_multipart(eddy_http_request *req,
                             const eddy_multipart_limits *lim,
                             const eddy_multipart_callbacks *cb,
                             eddy_http_multipart_done done, void *arg)
{
    struct eddy__args_state *a;
    eddy_str ct, boundary;
    int err;

    if (cb == NULL || done == NULL || req->route == NULL ||
        !(req->route->flags & EDDY_ROUTE_STREAM))
        return -EINVAL;
    if (req->body_cb != NULL)
        return -EALREADY;
    if (eddy__request_header(req, "content-type", &ct) != 0)
        return -ENOTSUP;
    if ((err = eddy_multipart_boundary(ct.p, ct.len, &boundary)) != 0)
        return err;
    if ((a = state(req)) == NULL)
        return -ENOMEM;
    eddy_multipart_free(a->mp);
    a->mp = NULL;
    if ((err = eddy_multipart_new(boundary.p, boundary.len, lim, cb, arg,
                                  &a->mp)) != 0)
        return err;
    a->mp_done = done;
    a->mp_arg = arg;
    a->mp_told = 0;
    return eddy_http_read_body(req, mp_body, a);
}
