/*
 * tcp/server.c - the TCP server (Tornado's TCPServer): listening sockets,
 * accepting, the connection limit, running out of fds, stopping.
 *
 * Accepting never spins and never drops a connection the kernel accepted.
 * At max_connections, or when accept fails for want of fds (EMFILE,
 * ENFILE) or memory, the listening sockets stop being watched and new
 * clients wait in the kernel's backlog; watching resumes when a connection
 * the server handed out is gone, or 100 ms later in case the fds went
 * elsewhere.  An fd the poller cannot watch (select's past FD_SETSIZE: the
 * loop says -ERANGE) is set aside the same way, and moved down to a lower
 * number (F_DUPFD) when a connection is gone.
 *
 * The server learns that a connection is gone from a hook in the stream
 * (eddy__stream_on_free), not from its close callback, which stays the
 * owner's.  Each connection costs the server one small record, which it
 * needs to close what is left at a shutdown's deadline; records of gone
 * connections are kept (a few) for the next ones.
 *
 * This file must never block, never call the owner's callback while its
 * own state is half updated, and never touch a server freed inside one:
 * every entry from the loop holds the server (depth) and frees it last.
 */
#define _GNU_SOURCE
#include "../iostream/stream_internal.h"
#include "eddy/tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100
#define SPARE_CONNS 64 /* records of gone connections kept for new ones */

/* A connection handed out, until its stream frees itself. */
struct conn {
    eddy_tcp_server *srv;
    eddy_stream *s;
    struct conn *prev, *next;
};

struct eddy_tcp_server {
    eddy_loop *loop;
    eddy_tcp_server_options opt;
    eddy_tcp_connection_cb cb;
    void *arg;
    int *lfds;
    size_t nlfds;
    int parked;           /* an accepted fd the poller cannot watch, or -1 */
    eddy_timer_id resume; /* watches again after running out of fds */
    struct conn *conns;
    struct conn *spare; /* records for reuse, SPARE_CONNS at most */
    size_t nspare;
    eddy_tcp_server_stats stats;
    int depth; /* entries from the loop in progress */
    int freed; /* eddy_tcp_server_free() ran: free at depth 0 */
    int shutting_down;
    eddy_timer_id shutdown_timer;
    void (*done)(eddy_tcp_server *srv, void *arg);
    void *done_arg;
};

int eddy_tcp_server_new(eddy_loop *loop, const eddy_tcp_server_options *opts,
                        eddy_tcp_connection_cb cb, void *arg,
                        eddy_tcp_server **out)
{
    eddy_tcp_server *srv;

    if (cb == NULL)
        return -EINVAL;
    if ((srv = calloc(1, sizeof *srv)) == NULL)
        return -ENOMEM;
    srv->loop = loop;
    if (opts != NULL)
        srv->opt = *opts;
    if (srv->opt.max_connections == 0)
        srv->opt.max_connections = SIZE_MAX;
    srv->cb = cb;
    srv->arg = arg;
    srv->parked = -1;
    *out = srv;
    return 0;
}

/* Every entry from the loop that may call the owner holds the server, so
 * that a free from inside the owner's callback waits until it returns. */
static void hold(eddy_tcp_server *srv)
{
    srv->depth++;
}

static void release(eddy_tcp_server *srv)
{
    if (--srv->depth == 0 && srv->freed) {
        while (srv->spare != NULL) {
            struct conn *c = srv->spare;

            srv->spare = c->next;
            free(c);
        }
        free(srv->lfds);
        free(srv);
    }
}

/* A record for a new connection.  Connections served one after another
 * pass their record on instead of calling malloc and free each (as
 * streams pass their first read buffer on through the loop). */
static struct conn *conn_new(eddy_tcp_server *srv)
{
    struct conn *c = srv->spare;

    if (c == NULL)
        return malloc(sizeof *c);
    srv->spare = c->next;
    srv->nspare--;
    return c;
}

static void conn_free(eddy_tcp_server *srv, struct conn *c)
{
    if (c == NULL || srv->nspare >= SPARE_CONNS) {
        free(c);
        return;
    }
    c->next = srv->spare;
    srv->spare = c;
    srv->nspare++;
}

/* --- accepting ---------------------------------------------------------- */

static void watch_listeners(eddy_tcp_server *srv, int on)
{
    if (srv->stats.accepting == on)
        return;
    srv->stats.accepting = on;
    for (size_t i = 0; i < srv->nlfds; i++)
        eddy_loop_update_handler(srv->loop, srv->lfds[i], on ? EDDY_READ : 0);
}

static int can_accept(const eddy_tcp_server *srv)
{
    return !srv->freed && !srv->shutting_down && srv->nlfds > 0 &&
           srv->stats.connections < srv->opt.max_connections;
}

static void on_resume(eddy_loop *loop, void *arg)
{
    eddy_tcp_server *srv = arg;

    (void)loop;
    srv->resume = 0;
    if (can_accept(srv))
        watch_listeners(srv, 1);
}

/* Stops watching the listening sockets; with retry_ms, watches them again
 * then.  Without, a connection that goes away resumes it. */
static void pause_accepting(eddy_tcp_server *srv, uint64_t retry_ms)
{
    if (srv->stats.accepting)
        srv->stats.pauses++;
    watch_listeners(srv, 0);
    if (retry_ms != 0 && srv->resume == 0)
        eddy_loop_call_later(srv->loop, retry_ms, on_resume, srv, &srv->resume);
}

static void conn_gone(void *arg);

/* Hands s to the owner.  The server is held by the caller. */
static void hand_out(eddy_tcp_server *srv, struct conn *c, eddy_stream *s,
                     const struct sockaddr *peer, socklen_t len)
{
    c->srv = srv;
    c->s = s;
    c->prev = NULL;
    c->next = srv->conns;
    if (c->next != NULL)
        c->next->prev = c;
    srv->conns = c;
    srv->stats.connections++;
    srv->stats.connections_total++;
    eddy__stream_on_free(s, conn_gone, c);
    srv->cb(srv, s, peer, len, srv->arg);
}

/*
 * Makes a stream of an accepted fd and hands it out.  Returns -ERANGE,
 * with fd still open, when the poller cannot watch fd; else 0 (fd was
 * handed out, or closed after an error that pauses accepting).
 */
static int take(eddy_tcp_server *srv, int fd, const struct sockaddr *peer,
                socklen_t len)
{
    struct conn *c = conn_new(srv);
    eddy_stream *s;
    int err = c != NULL
                  ? eddy__stream_accepted(srv->loop, fd, &srv->opt.stream, &s)
                  : -ENOMEM;

    if (err == 0) {
        hand_out(srv, c, s, peer, len);
        return 0;
    }
    conn_free(srv, c);
    if (err == -ERANGE)
        return err;
    close(fd);
    eddy_loop_log(srv->loop, EDDY_LOG_WARNING,
                  "accept: a connection dropped: %s", eddy_strerror(err));
    pause_accepting(srv, ACCEPT_RETRY_MS);
    return 0;
}

/* Sets fd aside, as if it were still in the backlog: closing it would
 * drop a connection the kernel accepted, and the next accept would get the
 * same number again, dropping the whole backlog one by one. */
static void park(eddy_tcp_server *srv, int fd)
{
    eddy_loop_log(srv->loop, EDDY_LOG_WARNING,
                  "accept: fd %d is past what the poller can watch; new "
                  "connections wait in the backlog",
                  fd);
    srv->parked = fd;
    srv->stats.parked++;
    pause_accepting(srv, 0);
}

/* Moves the fd set aside down to the lowest free number and hands it out.
 * Returns whether nothing is set aside any more. */
static int unpark(eddy_tcp_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;

    if (srv->parked < 0)
        return 1;
    if ((fd = fcntl(srv->parked, F_DUPFD_CLOEXEC, 0)) < 0)
        return 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        len = 0;
    if (take(srv, fd, (struct sockaddr *)&ss, len) == -ERANGE) {
        close(fd);
        return 0;
    }
    close(srv->parked);
    srv->parked = -1;
    return 1;
}

static int accept_one(int lfd, struct sockaddr_storage *ss, socklen_t *len)
{
#ifdef SOCK_CLOEXEC
    return accept4(lfd, (struct sockaddr *)ss, len,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(lfd, (struct sockaddr *)ss, len);

    if (fd >= 0 && (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
                    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)) {
        close(fd);
        return -1; /* errno says why; the client sees a reset */
    }
    return fd;
#endif
}

static void on_accept(eddy_loop *loop, int lfd, unsigned events, void *arg)
{
    eddy_tcp_server *srv = arg;

    (void)loop;
    (void)events;
    hold(srv);
    for (int i = 0; i < ACCEPT_BATCH && srv->stats.accepting; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd;

        if (!can_accept(srv) || !unpark(srv)) {
            pause_accepting(srv, 0); /* a connection that goes resumes it */
            break;
        }
        if ((fd = accept_one(lfd, &ss, &len)) >= 0) {
            if (take(srv, fd, (struct sockaddr *)&ss, len) == -ERANGE)
                park(srv, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            srv->stats.accept_errors++;
            eddy_loop_log(srv->loop, EDDY_LOG_WARNING,
                          "accept: %s; new connections wait in the backlog",
                          strerror(errno));
            pause_accepting(srv, ACCEPT_RETRY_MS);
        }
        break; /* EAGAIN: the backlog is empty */
    }
    release(srv);
}

/* --- listening ---------------------------------------------------------- */

int eddy_tcp_server_add_sockets(eddy_tcp_server *srv, const int *fds, size_t n)
{
    int *l;

    if (srv->shutting_down)
        return -ESHUTDOWN;
    if ((l = realloc(srv->lfds, (srv->nlfds + n + 1) * sizeof *l)) == NULL)
        return -ENOMEM;
    srv->lfds = l;
    for (size_t i = 0; i < n; i++) {
        int err = eddy_loop_add_handler(srv->loop, fds[i],
                                        srv->stats.accepting ? EDDY_READ : 0,
                                        on_accept, srv);

        if (err != 0) {
            while (i > 0)
                eddy_loop_remove_handler(srv->loop, fds[--i]);
            return err;
        }
    }
    memcpy(srv->lfds + srv->nlfds, fds, n * sizeof *fds);
    srv->nlfds += n;
    if (can_accept(srv) && srv->resume == 0 && unpark(srv))
        watch_listeners(srv, 1);
    return 0;
}

int eddy_tcp_server_listen(eddy_tcp_server *srv, int port, const char *address)
{
    int fds[8], err;
    size_t n;

    if (srv->shutting_down)
        return -ESHUTDOWN;
    err = eddy_bind_sockets(port, address, AF_UNSPEC, 0, 0, fds, 8, &n);
    if (err == 0 && (err = eddy_tcp_server_add_sockets(srv, fds, n)) != 0)
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
    return err;
}

int eddy_tcp_server_port(const eddy_tcp_server *srv)
{
    return srv->nlfds > 0 ? eddy_socket_port(srv->lfds[0]) : -ENOENT;
}

void eddy_tcp_server_stop(eddy_tcp_server *srv)
{
    for (size_t i = 0; i < srv->nlfds; i++)
        eddy_loop_close_fd(srv->loop, srv->lfds[i]);
    srv->nlfds = 0;
    srv->stats.accepting = 0;
    if (srv->parked >= 0) /* never handed out: like the backlog, it goes */
        close(srv->parked);
    srv->parked = -1;
    if (srv->resume != 0)
        eddy_loop_remove_timeout(srv->loop, srv->resume);
    srv->resume = 0;
}

/* --- connections going, shutting down ------------------------------------ */

static void shutdown_done(eddy_loop *loop, void *arg)
{
    eddy_tcp_server *srv = arg;
    void (*done)(eddy_tcp_server *, void *) = srv->done;

    (void)loop;
    srv->shutdown_timer = 0;
    srv->done = NULL;
    if (done != NULL)
        done(srv, srv->done_arg);
}

/* Runs done in a later iteration, from a timer in place of the deadline's:
 * eddy_tcp_server_free() can cancel a timer, not a queued callback. */
static void shutdown_finished(eddy_tcp_server *srv)
{
    if (srv->shutdown_timer != 0)
        eddy_loop_remove_timeout(srv->loop, srv->shutdown_timer);
    srv->shutdown_timer = 0;
    eddy_loop_call_later(srv->loop, 0, shutdown_done, srv,
                         &srv->shutdown_timer);
}

/* A stream the server handed out freed itself: its fd is free again. */
static void conn_gone(void *arg)
{
    struct conn *c = arg;
    eddy_tcp_server *srv = c->srv;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    conn_free(srv, c);
    srv->stats.connections--;
    if (srv->shutting_down) {
        if (srv->stats.connections == 0)
            shutdown_finished(srv);
        return;
    }
    hold(srv);
    /* A wait for the retry timer ends here too: an fd was freed. */
    if (!srv->stats.accepting && can_accept(srv) && unpark(srv) &&
        can_accept(srv)) {
        if (srv->resume != 0)
            eddy_loop_remove_timeout(srv->loop, srv->resume);
        srv->resume = 0;
        watch_listeners(srv, 1);
    }
    release(srv);
}

static void on_deadline(eddy_loop *loop, void *arg)
{
    eddy_tcp_server *srv = arg;

    (void)loop;
    srv->shutdown_timer = 0;
    for (struct conn *c = srv->conns; c != NULL; c = c->next)
        eddy_stream_close(c->s);
}

void eddy_tcp_server_shutdown(eddy_tcp_server *srv, uint64_t deadline_ms,
                              void (*done)(eddy_tcp_server *, void *),
                              void *arg)
{
    if (srv->shutting_down)
        return;
    srv->shutting_down = 1;
    srv->done = done;
    srv->done_arg = arg;
    eddy_tcp_server_stop(srv);
    if (srv->stats.connections == 0)
        shutdown_finished(srv);
    else
        eddy_loop_call_later(srv->loop, deadline_ms, on_deadline, srv,
                             &srv->shutdown_timer);
}

void eddy_tcp_server_free(eddy_tcp_server *srv)
{
    if (srv == NULL || srv->freed)
        return;
    eddy_tcp_server_stop(srv);
    if (srv->shutdown_timer != 0)
        eddy_loop_remove_timeout(srv->loop, srv->shutdown_timer);
    srv->shutdown_timer = 0;
    /* The connections stay open, and never call back into the server. */
    while (srv->conns != NULL) {
        struct conn *c = srv->conns;

        srv->conns = c->next;
        eddy__stream_on_free(c->s, NULL, NULL);
        free(c);
    }
    srv->freed = 1;
    hold(srv);
    release(srv);
}

void eddy_tcp_server_get_stats(const eddy_tcp_server *srv,
                               eddy_tcp_server_stats *out)
{
    *out = srv->stats;
}

eddy_loop *eddy_tcp_server_loop(const eddy_tcp_server *srv)
{
    return srv->loop;
}
