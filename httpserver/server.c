/*
 * httpserver/server.c - the server: routes, listening sockets, accepting,
 * connection limits, graceful shutdown (Tornado's HTTPServer and
 * TCPServer, and the routing of tornado.web.Application).
 *
 * Accepting never spins and never drops a connection the kernel accepted:
 * at max_connections, or when accept fails for want of fds (EMFILE,
 * ENFILE) or memory, the listening sockets stop being watched and new
 * clients wait in the kernel's backlog; watching resumes when a connection
 * closes, or after a short pause in case the fds went elsewhere.  An fd
 * the poller cannot watch (select's past FD_SETSIZE) is kept aside the
 * same way until a lower number frees up.
 *
 * This file must never block, and never touch a connection after its
 * close callback ran.
 */
#define _GNU_SOURCE
#include "http_internal.h"
#include "../backends/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100

int eddy_http_server_new(eddy_loop *loop, const eddy_http_options *opts,
                         eddy_http_server **out)
{
    eddy_http_server *srv = calloc(1, sizeof *srv);
    eddy_http_options *o;

    if (srv == NULL)
        return -ENOMEM;
    srv->loop = loop;
    srv->parked = -1;
    o = &srv->opt;
    if (opts != NULL)
        *o = *opts;
    o->max_header_size = o->max_header_size ? o->max_header_size : 65536;
    o->max_uri_length = o->max_uri_length ? o->max_uri_length : 8192;
    o->max_headers = o->max_headers ? o->max_headers : 100;
    o->max_body_size = o->max_body_size ? o->max_body_size : 100u << 20;
    o->header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : 60000;
    o->body_timeout_ms = o->body_timeout_ms ? o->body_timeout_ms : 60000;
    o->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 60000;
    o->max_connections = o->max_connections ? o->max_connections : 10000;
    o->server_name = o->server_name ? o->server_name : "eddy";
    o->max_discard_size = o->max_discard_size ? o->max_discard_size : 65536;
    o->linger_ms = o->linger_ms ? o->linger_ms : 5000;
    o->max_linger_bytes = o->max_linger_bytes ? o->max_linger_bytes : 16u << 20;
    srv->head.headers = calloc(o->max_headers, sizeof *srv->head.headers);
    srv->head.max_headers = o->max_headers;
    if (srv->head.headers == NULL) {
        free(srv);
        return -ENOMEM;
    }
    *out = srv;
    return 0;
}

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

const struct eddy__route *eddy__server_route(const eddy_http_server *srv,
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

/* The Allow list of a 405: every method routed for the path, once, and
 * HEAD wherever GET is (a GET route answers HEAD too). */
size_t eddy__server_allow(const eddy_http_server *srv, eddy_str path,
                          char *buf, size_t size)
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

/* --- accepting ---------------------------------------------------------- */

static void watch_listeners(eddy_http_server *srv, int on)
{
    if (srv->accepting == on)
        return;
    srv->accepting = on;
    for (size_t i = 0; i < srv->nlfds; i++)
        eddy_loop_update_handler(srv->loop, srv->lfds[i], on ? EDDY_READ : 0);
}

static void on_resume(eddy_loop *loop, void *arg)
{
    eddy_http_server *srv = arg;

    (void)loop;
    srv->resume = 0;
    if (!srv->shutting_down && srv->nconns < srv->opt.max_connections)
        watch_listeners(srv, 1);
}

static void pause_accepting(eddy_http_server *srv, uint64_t retry_ms)
{
    watch_listeners(srv, 0);
    if (retry_ms != 0 && srv->resume == 0)
        eddy_loop_call_later(srv->loop, retry_ms, on_resume, srv,
                             &srv->resume);
}

/*
 * The poller cannot watch every fd the process may open: select stops at
 * FD_SETSIZE.  An accepted connection past that is parked, as if it were
 * still in the backlog, and accepting pauses; when a connection closes,
 * the parked one moves down to the number that freed (F_DUPFD) and is
 * served.  Closing it instead would drop a connection the kernel
 * accepted, and the next accept would get the same number again: the
 * whole backlog would be dropped one by one.  Returns whether nothing is
 * parked any more.
 */
static int unpark(eddy_http_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;

    if (srv->parked < 0)
        return 1;
    fd = fcntl(srv->parked, F_DUPFD_CLOEXEC, 0);
    if (fd >= eddy__backend_max_fd)
        close(fd);
    if (fd < 0 || fd >= eddy__backend_max_fd)
        return 0;
    close(srv->parked);
    srv->parked = -1;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        len = 0;
    eddy__conn_open(srv, fd, (struct sockaddr *)&ss, len);
    return 1;
}

static void on_accept(eddy_loop *loop, int lfd, unsigned events, void *arg)
{
    eddy_http_server *srv = arg;

    (void)loop;
    (void)events;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd;

        if (srv->nconns >= srv->opt.max_connections || !unpark(srv)) {
            pause_accepting(srv, 0); /* a closing connection resumes it */
            return;
        }
#ifdef SOCK_CLOEXEC
        fd = accept4(lfd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        fd = accept(lfd, (struct sockaddr *)&ss, &len);
        if (fd >= 0) { /* the stream takes it as non-blocking */
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
#endif
        if (fd >= eddy__backend_max_fd) {
            eddy_loop_log(srv->loop, EDDY_LOG_WARNING,
                          "accept: fd %d is past what %s can watch; new "
                          "connections wait in the backlog",
                          fd, eddy__backend_name);
            srv->parked = fd;
            pause_accepting(srv, 0);
            return;
        }
        if (fd >= 0) {
            eddy__conn_open(srv, fd, (struct sockaddr *)&ss, len);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            eddy_loop_log(srv->loop, EDDY_LOG_WARNING,
                          "accept: %s; new connections wait in the backlog",
                          strerror(errno));
            pause_accepting(srv, ACCEPT_RETRY_MS);
        }
        return; /* EAGAIN: all taken */
    }
}

int eddy_http_server_add_sockets(eddy_http_server *srv, const int *fds,
                                 size_t n)
{
    int *l = realloc(srv->lfds, (srv->nlfds + n) * sizeof *l);

    if (l == NULL)
        return -ENOMEM;
    srv->lfds = l;
    for (size_t i = 0; i < n; i++) {
        int err = eddy_loop_add_handler(srv->loop, fds[i],
                                        srv->accepting ? EDDY_READ : 0,
                                        on_accept, srv);

        if (err != 0)
            return err;
        srv->lfds[srv->nlfds++] = fds[i];
    }
    if (!srv->shutting_down)
        watch_listeners(srv, 1);
    return 0;
}

int eddy_http_server_listen(eddy_http_server *srv, int port,
                            const char *address)
{
    int fds[8], err;
    size_t n;

    err = eddy_bind_sockets(port, address, AF_UNSPEC, 0, 0, fds, 8, &n);
    if (err == 0 && (err = eddy_http_server_add_sockets(srv, fds, n)) != 0)
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
    return err;
}

static void close_listeners(eddy_http_server *srv)
{
    for (size_t i = 0; i < srv->nlfds; i++) {
        eddy_loop_remove_handler(srv->loop, srv->lfds[i]);
        close(srv->lfds[i]);
    }
    srv->nlfds = 0;
    srv->accepting = 0;
    if (srv->parked >= 0) /* never served: like the backlog, it goes */
        close(srv->parked);
    srv->parked = -1;
    if (srv->resume != 0)
        eddy_loop_remove_timeout(srv->loop, srv->resume);
    srv->resume = 0;
}

/* --- shutting down ------------------------------------------------------ */

static void shutdown_done(eddy_loop *loop, void *arg)
{
    eddy_http_server *srv = arg;
    void (*done)(eddy_http_server *, void *) = srv->done;

    (void)loop;
    srv->done = NULL;
    srv->shutdown_timer = 0;
    if (done != NULL)
        done(srv, srv->done_arg);
}

/* Runs done in a later iteration, from a timer in place of the deadline's:
 * eddy_http_server_free() cancels it if the server goes first, which a
 * queued callback would not allow. */
static void shutdown_finished(eddy_http_server *srv)
{
    if (srv->shutdown_timer != 0)
        eddy_loop_remove_timeout(srv->loop, srv->shutdown_timer);
    srv->shutdown_timer = 0;
    eddy_loop_call_later(srv->loop, 0, shutdown_done, srv,
                         &srv->shutdown_timer);
}

void eddy__server_conn_gone(eddy_http_server *srv)
{
    if (srv->shutting_down) {
        if (srv->nconns == 0)
            shutdown_finished(srv);
        return;
    }
    if (unpark(srv) && !srv->accepting &&
        srv->nconns < srv->opt.max_connections && srv->resume == 0)
        watch_listeners(srv, 1);
}

static void on_deadline(eddy_loop *loop, void *arg)
{
    eddy_http_server *srv = arg;

    (void)loop;
    srv->shutdown_timer = 0;
    for (struct eddy__conn *c = srv->conns; c != NULL; c = c->next) {
        c->why = -ECANCELED;
        eddy__conn_close(c);
    }
}

void eddy_http_server_shutdown(eddy_http_server *srv, uint64_t deadline_ms,
                               void (*done)(eddy_http_server *, void *),
                               void *arg)
{
    if (srv->shutting_down)
        return;
    srv->shutting_down = 1;
    srv->done = done;
    srv->done_arg = arg;
    eddy_loop_log(srv->loop, EDDY_LOG_INFO,
                  "shutting down: %zu connections open, %llu ms to finish",
                  srv->nconns, (unsigned long long)deadline_ms);
    close_listeners(srv);
    for (struct eddy__conn *c = srv->conns; c != NULL; c = c->next)
        eddy__conn_close_idle(c);
    if (srv->nconns == 0)
        shutdown_finished(srv);
    else
        eddy_loop_call_later(srv->loop, deadline_ms, on_deadline, srv,
                             &srv->shutdown_timer);
}

static void stop_loop(eddy_http_server *srv, void *arg)
{
    (void)arg;
    eddy_loop_stop(srv->loop);
}

static void on_stop_signal(eddy_loop *loop, int signum, void *arg)
{
    eddy_http_server *srv = arg;

    (void)loop;
    (void)signum;
    eddy_http_server_shutdown(srv, srv->signal_deadline_ms, stop_loop, NULL);
}

int eddy_http_server_stop_on_signals(eddy_http_server *srv,
                                     uint64_t deadline_ms)
{
    int err;

    srv->signal_deadline_ms = deadline_ms;
    err = eddy_loop_add_signal(srv->loop, SIGTERM, on_stop_signal, srv);
    if (err == 0 &&
        (err = eddy_loop_add_signal(srv->loop, SIGINT, on_stop_signal, srv)))
        eddy_loop_remove_signal(srv->loop, SIGTERM);
    if (err == 0)
        srv->on_signals = 1;
    return err;
}

void eddy_http_server_free(eddy_http_server *srv)
{
    if (srv == NULL)
        return;
    close_listeners(srv);
    srv->done = NULL;
    srv->shutting_down = 1;
    /* A signal arriving later must not reach the freed server. */
    if (srv->on_signals) {
        eddy_loop_remove_signal(srv->loop, SIGTERM);
        eddy_loop_remove_signal(srv->loop, SIGINT);
    }
    /* Tell requests first, then forget every connection: their streams
     * finish closing on their own and never call back into the server. */
    while (srv->conns != NULL) {
        struct eddy__conn *c = srv->conns;

        srv->conns = c->next;
        eddy__conn_forget(c);
    }
    /* Requests whose client went away earlier, still held: finishing one
     * later must not reach this server. */
    while (srv->gone != NULL)
        srv->gone = eddy__request_orphan(srv->gone);
    if (srv->shutdown_timer != 0)
        eddy_loop_remove_timeout(srv->loop, srv->shutdown_timer);
    for (size_t i = 0; i < srv->nroutes; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].path);
    }
    free(srv->routes);
    free(srv->lfds);
    free(srv->head.headers);
    free(srv);
}

void eddy_http_server_get_stats(const eddy_http_server *srv,
                                eddy_http_stats *out)
{
    *out = srv->stats;
}

eddy_loop *eddy_http_server_loop(const eddy_http_server *srv)
{
    return srv->loop;
}
