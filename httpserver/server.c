/*
 * httpserver/server.c - the HTTP server (Tornado's HTTPServer) on top of
 * the TCP server: its options, listening, the one place where every
 * accepted stream is set up for HTTP, graceful shutdown, stopping on
 * signals, and the counters.
 *
 * Accepting is the TCP server's (tcp/server.c): it keeps max_connections
 * by leaving clients in the kernel's backlog, survives EMFILE and ENFILE
 * without spinning, and sets aside an fd the poller cannot watch.  It
 * counts a connection until its stream is freed, so a connection handed
 * over by an upgrade still counts against max_connections; the HTTP
 * server's own list (and stats.connections, and a shutdown's wait) holds
 * the connections that still speak HTTP.
 *
 * HTTPS is a TLS context in the options: each accepted stream starts TLS
 * here, before its first read, and the handshake counts against the
 * header timeout (on_handshake() below, http1.c's eddy__conn_start()).
 *
 * This file must never block, and never touch a connection after its
 * close callback ran.
 */
#include "http_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/*
 * The end of an HTTPS connection's handshake.  Done: the client now waits
 * for its first request under the idle timeout, as a plain one does from
 * the accept.  Failed: the stream is closing (the close callback comes
 * next); one line says who and why, beside the TLS layer's line with
 * OpenSSL's reason.  A client that closes before or during the handshake
 * (a port check, a browser's unused preconnect) is ordinary: DEBUG.
 */
static void on_handshake(eddy_stream *s, int status, void *arg)
{
    struct eddy__conn *c = arg;
    eddy_http_server *srv;
    char ip[INET6_ADDRSTRLEN];
    const char *who, *why;

    if (eddy__conn_handshake_end(c))
        return; /* the server was freed, or c is gone */
    srv = c->srv;
    if (status == 0) {
        eddy__conn_set_deadline(c, srv->opt.idle_timeout_ms);
        if (srv->shutting_down)
            eddy__conn_close_idle(c);
        return;
    }
    who = eddy__peer_text(&c->peer, ip, sizeof ip);
    who = who[0] ? who : "a local client";
    if (c->why == -ETIMEDOUT)
        eddy_loop_log(srv->loop, EDDY_LOG_INFO,
                      "TLS handshake with %s: not done within "
                      "header_timeout_ms (%llu ms): closed",
                      who, (unsigned long long)srv->opt.header_timeout_ms);
    else if (status == EDDY_TLS_TRUNCATED || status == -ECONNRESET)
        eddy_loop_log(srv->loop, EDDY_LOG_DEBUG,
                      "TLS handshake with %s: the client closed (%s)", who,
                      eddy_strerror(status));
    else if (status != -ECANCELED) {
        why = eddy_stream_tls_verify_error(s);
        eddy_loop_log(srv->loop, EDDY_LOG_INFO,
                      "TLS handshake with %s failed: %s%s%s: closed", who,
                      eddy_strerror(status), why ? ": " : "", why ? why : "");
    }
}

/*
 * Every connection starts here, handed over by the TCP server (or by the
 * connection fuzzers, fuzz/connection.c and fuzz/https_conn.c).  This is
 * where a stream becomes HTTP's: Nagle off (a response goes out in one
 * write, and must not wait for the client's ACK), half-open (a client
 * that shut down its sending side after its request still gets the
 * answer), TLS for HTTPS (started before the connection's first read,
 * which then waits for the handshake), then the connection reads.
 */
void eddy__server_take(eddy_http_server *srv, eddy_stream *s,
                       const struct sockaddr *peer, socklen_t len)
{
    struct eddy__conn *c;
    int err;

    eddy_stream_set_nodelay(s, 1);
    eddy_stream_set_half_open(s, 1);
    if ((c = eddy__conn_open(srv, s, peer, len)) == NULL) {
        eddy_stream_close(s);
        return;
    }
    if (srv->opt.tls != NULL) {
        err = eddy_stream_start_tls(s, srv->opt.tls, NULL, 0, on_handshake, c);
        if (err != 0) {
            eddy_loop_log(srv->loop, EDDY_LOG_ERROR,
                          "TLS could not start on a connection (%s): closed",
                          eddy_strerror(err));
            eddy__conn_close(c);
            return;
        }
        c->handshake = 1;
    }
    eddy__conn_start(c);
}

static void on_connection(eddy_tcp_server *tcp, eddy_stream *s,
                          const struct sockaddr *peer, socklen_t len, void *arg)
{
    (void)tcp;
    eddy__server_take(arg, s, peer, len);
}

static void set_defaults(eddy_http_options *o)
{
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
}

int eddy_http_server_new(eddy_loop *loop, const eddy_http_options *opts,
                         eddy_http_server **out)
{
    eddy_http_server *srv = calloc(1, sizeof *srv);
    eddy_tcp_server_options topts;

    if (srv == NULL)
        return -ENOMEM;
    srv->loop = loop;
    if (opts != NULL)
        srv->opt = *opts;
    set_defaults(&srv->opt);
    eddy_tls_ctx_ref(srv->opt.tls); /* dropped by eddy_http_server_free() */
    memset(&topts, 0, sizeof topts);
    topts.max_connections = srv->opt.max_connections;
    srv->head.max_headers = srv->opt.max_headers;
    srv->head.headers = calloc(srv->opt.max_headers, sizeof *srv->head.headers);
    if (srv->head.headers == NULL ||
        eddy_tcp_server_new(loop, &topts, on_connection, srv, &srv->tcp) != 0) {
        eddy_tls_ctx_free(srv->opt.tls);
        free(srv->head.headers);
        free(srv);
        return -ENOMEM;
    }
    *out = srv;
    return 0;
}

/* After a shutdown began, the TCP server (only stopped, not shut down:
 * its connections are the HTTP server's to close) would accept again. */
int eddy_http_server_add_sockets(eddy_http_server *srv, const int *fds,
                                 size_t n)
{
    if (srv->shutting_down)
        return -ESHUTDOWN;
    return eddy_tcp_server_add_sockets(srv->tcp, fds, n);
}

int eddy_http_server_listen(eddy_http_server *srv, int port,
                            const char *address)
{
    if (srv->shutting_down)
        return -ESHUTDOWN;
    return eddy_tcp_server_listen(srv->tcp, port, address);
}

const eddy_tcp_server *eddy_http_server_tcp(const eddy_http_server *srv)
{
    return srv->tcp;
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
    if (srv->shutting_down && srv->nconns == 0)
        shutdown_finished(srv);
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
    eddy_tcp_server_stop(srv->tcp);
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
    /* The TCP server first: it stops listening and lets go of every
     * stream, which then never calls back into it. */
    eddy_tcp_server_free(srv->tcp);
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
    eddy__routes_free(srv);
    free(srv->head.headers);
    eddy_tls_ctx_free(srv->opt.tls); /* its streams keep their own */
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
