/*
 * httpserver/router.c - routes (the routing of tornado.web.Application):
 * adding them, finding the one for a request's method and path, the Allow
 * list of a 405, and handing a request to its handler or to the server's
 * own 404 or 405.
 *
 * Routes are tried in the order added, with a linear scan: a server has
 * a handful, and a scan of a few short strings costs less than any index.
 *
 * This file must never answer a request itself but through the one
 * builder of the server's own answers (response.c).
 */
#define _GNU_SOURCE
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int eddy_http_server_route(eddy_http_server *srv, const char *method,
                           const char *path, unsigned flags,
                           eddy_http_handler handler, void *arg)
{
    struct eddy__route *r;

    if (path == NULL || handler == NULL || (flags & ~3u))
        return -EINVAL;
    if (srv->nroutes == srv->route_cap) {
        size_t cap = srv->route_cap ? 2 * srv->route_cap : 8;

        r = realloc(srv->routes, cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        srv->routes = r;
        srv->route_cap = cap;
    }
    r = &srv->routes[srv->nroutes];
    r->method = method ? strdup(method) : NULL;
    r->path = strdup(path);
    if (r->path == NULL || (method != NULL && r->method == NULL)) {
        free(r->method);
        free(r->path);
        return -ENOMEM;
    }
    r->path_len = strlen(path);
    r->flags = flags;
    r->handler = handler;
    r->arg = arg;
    srv->nroutes++;
    return 0;
}

static int path_matches(const struct eddy__route *r, eddy_str path)
{
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

const struct eddy__route *eddy__route_find(const eddy_http_server *srv,
                                           eddy_str method, eddy_str path,
                                           int *status)
{
    *status = 404;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct eddy__route *r = &srv->routes[i];

        if (!path_matches(r, path))
            continue;
        if (r->method == NULL || method_matches(r->method, method)) {
            *status = 0;
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

/* Every method routed for the path, once, and HEAD wherever GET is (a
 * GET route answers HEAD too). */
size_t eddy__route_allow(const eddy_http_server *srv, eddy_str path, char *buf,
                         size_t size)
{
    size_t len = 0;

    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct eddy__route *r = &srv->routes[i];
        size_t n = r->method ? strlen(r->method) : 0;

        if (n == 0 || !path_matches(r, path))
            continue;
        len = allow_add(buf, len, size, r->method, n);
        if (n == 3 && memcmp(r->method, "GET", 3) == 0)
            len = allow_add(buf, len, size, "HEAD", 4);
    }
    return len;
}

void eddy__route_dispatch(eddy_http_request *req)
{
    if (req->route != NULL)
        req->route->handler(req, req->route->arg);
    else
        eddy__respond_error(req->conn, req, req->route_status);
}
