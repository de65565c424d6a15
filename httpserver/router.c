/*
 * httpserver/router.c - routes (the routing of tornado.web.Application):
 * adding them, decoding a request's path and finding the route for its
 * method and path (with the parameters of a pattern), the Allow list of a
 * 405, handing a request to its handler or to the server's own 404 or
 * 405, and a route's handler deadline.
 *
 * Routes are tried in the order added, with a linear scan: a server has
 * a handful, and a scan of a few short strings costs less than any index.
 * Catch-alls (prefix routes, patterns ending in {name*}) form a second
 * tier, tried only when no route of the first matches the path: so the
 * 405 of a specific route survives a catch-all that would take the
 * method.
 *
 * A request's decoded path and its parameters live in the request's own
 * allocation (room for them is counted when routes are added), so
 * routing allocates nothing.
 *
 * This file must never route a path eddy_path_decode() refused, nor
 * answer a request itself but through the one builder of the server's
 * own answers (response.c).
 */
#define _GNU_SOURCE
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- adding routes ------------------------------------------------------ */

/* Makes r's pattern, when its path has parameters, and its tier. */
static int compile(struct eddy__route *r)
{
    int err;

    r->pattern = NULL;
    r->catch_all = (r->flags & EDDY_ROUTE_PREFIX) != 0;
    if (strchr(r->path, '{') == NULL && strchr(r->path, '}') == NULL)
        return 0;
    if (r->flags & EDDY_ROUTE_PREFIX)
        return -EINVAL; /* {name*} says "the rest" */
    err = eddy__pattern_compile(r->path, r->path_len, &r->pattern);
    if (err == 0)
        r->catch_all =
            r->path_len >= 2 && memcmp(r->path + r->path_len - 2, "*}", 2) == 0;
    return err;
}

int eddy__route_add(eddy_http_server *srv, const char *method, const char *path,
                    unsigned flags, eddy_http_handler handler, void *arg,
                    const eddy_http_route_options *ro,
                    void (*free_arg)(void *arg))
{
    struct eddy__route *r;
    int err = -EINVAL;

    if (path == NULL || handler == NULL || (flags & ~7u))
        goto fail;
    err = -ENOMEM;
    if (srv->nroutes == srv->route_cap) {
        size_t cap = srv->route_cap ? 2 * srv->route_cap : 8;

        if ((r = realloc(srv->routes, cap * sizeof *r)) == NULL)
            goto fail;
        srv->routes = r;
        srv->route_cap = cap;
    }
    r = &srv->routes[srv->nroutes];
    memset(r, 0, sizeof *r);
    r->method = method ? strdup(method) : NULL;
    r->path = strdup(path);
    if (r->path == NULL || (method != NULL && r->method == NULL))
        goto fail_route;
    r->path_len = strlen(path);
    r->flags = flags;
    if ((err = compile(r)) != 0)
        goto fail_route;
    r->handler = handler;
    r->arg = arg;
    r->free_arg = free_arg;
    if (ro != NULL)
        r->ro = *ro;
    if (r->pattern != NULL &&
        eddy__pattern_nparams(r->pattern) > srv->max_params)
        srv->max_params = eddy__pattern_nparams(r->pattern);
    srv->nroutes++;
    return 0;
fail_route:
    free(r->method);
    free(r->path);
fail:
    if (free_arg != NULL)
        free_arg(arg);
    return err;
}

int eddy_http_server_route_ex(eddy_http_server *srv, const char *method,
                              const char *path, unsigned flags,
                              eddy_http_handler handler, void *arg,
                              const eddy_http_route_options *ro)
{
    return eddy__route_add(srv, method, path, flags, handler, arg, ro, NULL);
}

int eddy_http_server_route(eddy_http_server *srv, const char *method,
                           const char *path, unsigned flags,
                           eddy_http_handler handler, void *arg)
{
    return eddy__route_add(srv, method, path, flags, handler, arg, NULL, NULL);
}

void eddy__routes_free(eddy_http_server *srv)
{
    for (size_t i = 0; i < srv->nroutes; i++) {
        struct eddy__route *r = &srv->routes[i];

        free(r->method);
        free(r->path);
        eddy__pattern_free(r->pattern);
        if (r->free_arg != NULL)
            r->free_arg(r->arg);
    }
    free(srv->routes);
    srv->routes = NULL;
    srv->nroutes = 0;
}

/* --- matching ----------------------------------------------------------- */

/* Whether r takes path; a pattern's parameters go to params, which has
 * room for room of them (a route added after the request was made may
 * have more: it cannot be the request's). */
static int path_matches(const struct eddy__route *r, eddy_str path,
                        eddy__path_param *params, size_t room)
{
    if (r->pattern != NULL)
        return eddy__pattern_nparams(r->pattern) <= room &&
               eddy__pattern_match(r->pattern, path.p, path.len, params) == 0;
    if (r->flags & EDDY_ROUTE_PREFIX)
        return path.len >= r->path_len &&
               memcmp(path.p, r->path, r->path_len) == 0;
    return path.len == r->path_len && memcmp(path.p, r->path, path.len) == 0;
}

/* HEAD goes wherever GET goes: RFC 9110 9.3.2 (no body is sent). */
static int method_matches(const char *m, eddy_str method)
{
    size_t n = strlen(m);

    if (n == method.len && memcmp(m, method.p, n) == 0)
        return 1;
    return n == 3 && memcmp(m, "GET", 3) == 0 && method.len == 4 &&
           memcmp(method.p, "HEAD", 4) == 0;
}

/* The tier whose routes decide path: 0 when a route that is not a
 * catch-all matches it, else 1. */
static int tier_of(const eddy_http_request *req)
{
    const eddy_http_server *srv = req->srv;

    for (size_t i = 0; i < srv->nroutes; i++)
        if (!srv->routes[i].catch_all &&
            path_matches(&srv->routes[i], req->dpath, req->params,
                         req->params_room))
            return 0;
    return 1;
}

/* Decodes the path into the room after the request's headers and
 * parameters.  The asterisk-form target (OPTIONS *) is kept as it is;
 * anything else must start with '/'.  0, or -EINVAL. */
static int decode_path(eddy_http_request *req)
{
    char *out = (char *)(req->params + req->params_room);
    size_t len = 0;

    req->dpath.p = out;
    req->dpath.len = 0;
    if (req->path.len == 1 && req->path.p[0] == '*') {
        out[0] = '*';
        req->dpath.len = 1;
        return 0;
    }
    if (eddy_path_decode(req->path.p, req->path.len, out, &len) != 0)
        return -EINVAL;
    req->dpath.len = len;
    return 0;
}

/* Copies the names of the parameters matched into the request (after its
 * decoded path, EDDY__PARAM_NAME bytes each): they must outlive the
 * route, which the server frees. */
static void keep_names(eddy_http_request *req, size_t n)
{
    char *names = (char *)req->dpath.p + req->path.len;

    for (size_t i = 0; i < n; i++) {
        memcpy(names, req->params[i].name.p, req->params[i].name.len);
        req->params[i].name.p = names;
        names += req->params[i].name.len;
    }
    req->nparams = n;
}

const struct eddy__route *eddy__route_request(eddy_http_request *req,
                                              int *status)
{
    const eddy_http_server *srv = req->srv;
    eddy_str method = req->head.method;
    int tier;

    *status = 400;
    if (decode_path(req) != 0)
        return NULL;
    tier = tier_of(req);
    *status = 404;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct eddy__route *r = &srv->routes[i];

        if (r->catch_all != tier ||
            !path_matches(r, req->dpath, req->params, req->params_room))
            continue;
        if (r->method == NULL || method_matches(r->method, method)) {
            *status = 0;
            if (r->pattern != NULL)
                keep_names(req, eddy__pattern_nparams(r->pattern));
            return r;
        }
        *status = 405;
    }
    return NULL;
}

/* Appends method m (n bytes) to the list buf[0, len) of size bytes,
 * unless it is there already or would not fit; returns the new length. */
static size_t allow_add(char *buf, size_t len, size_t size, const char *m,
                        size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if ((i == 0 || buf[i - 1] == ' ') && memcmp(buf + i, m, n) == 0 &&
            (i + n == len || buf[i + n] == ','))
            return len;
    if (len + n + 2 > size)
        return len;
    if (len != 0) {
        memcpy(buf + len, ", ", 2);
        len += 2;
    }
    memcpy(buf + len, m, n);
    return len + n;
}

/* Every method routed for the path in the tier that decides it, once,
 * and HEAD wherever GET is (a GET route answers HEAD too).  The
 * parameters captured meanwhile are of no use to a 405. */
size_t eddy__route_allow(eddy_http_request *req, char *buf, size_t size)
{
    const eddy_http_server *srv = req->srv;
    int tier = tier_of(req);
    size_t len = 0;

    req->nparams = 0;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct eddy__route *r = &srv->routes[i];
        size_t n = r->method ? strlen(r->method) : 0;

        if (n == 0 || r->catch_all != tier ||
            !path_matches(r, req->dpath, req->params, req->params_room))
            continue;
        len = allow_add(buf, len, size, r->method, n);
        if (n == 3 && memcmp(r->method, "GET", 3) == 0)
            len = allow_add(buf, len, size, "HEAD", 4);
    }
    return len;
}

/* --- the path API ------------------------------------------------------- */

eddy_str eddy_http_decoded_path(const eddy_http_request *req)
{
    return req->dpath;
}

int eddy_http_path_param(const eddy_http_request *req, const char *name,
                         eddy_str *value)
{
    if (name == NULL || value == NULL)
        return -EINVAL;
    return eddy__path_param_get(req->params, req->nparams, name, value);
}

/* --- dispatching, and the handler's deadline ---------------------------- */

/*
 * The handler did not finish in time.  A response not begun is answered
 * 503 through the request, which stays the handler's (held: finishing it
 * only detaches it, into srv->gone like a request whose client left);
 * a begun one is cut off by closing the connection, which tells the
 * request as a client leaving does.  Then the handler is told, last: it
 * may finish the request in its callback.
 */
static void on_deadline(eddy_loop *loop, void *arg)
{
    eddy_http_request *req = arg;
    eddy_http_timeout_cb cb = req->route->ro.on_timeout;
    void *cb_arg = req->route->arg;
    struct eddy__conn *c = req->conn;

    (void)loop;
    req->deadline = 0;
    req->timed_out = 1;
    eddy_loop_log(req->srv->loop, EDDY_LOG_INFO,
                  "%.*s %.*s: the handler did not finish within %llu ms",
                  (int)req->head.method.len, req->head.method.p,
                  (int)(req->path.len < 40 ? req->path.len : 40), req->path.p,
                  (unsigned long long)req->route->ro.timeout_ms);
    if (req->started) {
        c->why = -ETIMEDOUT;
        eddy__conn_close(c);
        if (cb != NULL)
            cb(req, cb_arg);
        return;
    }
    req->held = 1;
    req->keep_alive = 0; /* a handler gone astray: start afresh */
    eddy__respond_error(c, req, 503);
    req->in_cb = 1;
    if (req->body_cb != NULL && !req->body_done) {
        req->body_done = 1;
        req->body_cb(req, -ECANCELED, NULL, 0, 1, req->body_arg);
    }
    if (cb != NULL && !req->finished)
        cb(req, cb_arg);
    req->in_cb = 0;
    if (req->finished)
        eddy__request_free(req);
}

void eddy__route_cancel_deadline(eddy_http_request *req)
{
    if (req->deadline != 0)
        eddy_loop_remove_timeout(req->srv->loop, req->deadline);
    req->deadline = 0;
}

void eddy__route_dispatch(eddy_http_request *req)
{
    const struct eddy__route *r = req->route;

    if (r == NULL) {
        eddy__respond_error(req->conn, req, req->route_status);
        return;
    }
    /* Armed first: a handler that finishes at once cancels it. */
    if (r->ro.timeout_ms != 0)
        eddy_loop_call_later(req->srv->loop, r->ro.timeout_ms, on_deadline, req,
                             &req->deadline);
    r->handler(req, r->arg);
}
