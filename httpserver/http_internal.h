/*
 * httpserver/http_internal.h - what the HTTP server's files share: the
 * server, connection and request structs, and the hidden functions each
 * file offers the others.  One job per file:
 *
 *   server.c    the server on the TCP server: accepted streams, shutdown,
 *               signals, counters
 *   router.c    routes, matching, 404/405 with Allow, calling the handler
 *   http1.c     the connection: heads, states, keep-alive, pipelining,
 *               timeouts, closing (lingering, half-closed clients)
 *   body.c      request bodies: framing, buffering, streaming, pausing
 *   request.c   the request object and its accessors
 *   response.c  the response writer, the server's own error answers,
 *               finishing a request
 *   upgrade.c   answering 101 and handing the connection's stream over
 *   args.c      a request's query and body arguments, multipart uploads
 *               read as they stream in
 *   static.c    files under a directory (Tornado's StaticFileHandler)
 *   gzip.c      compressing responses
 *
 * Public headers never include this file.
 */
#ifndef EDDY_HTTP_INTERNAL_H
#define EDDY_HTTP_INTERNAL_H

#include "../httputil/httputil_internal.h"
#include "eddy/httpserver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The longest parameter name (httputil's pattern.c refuses longer). */
#define EDDY__PARAM_NAME 64

struct eddy__route {
    char *method; /* NULL: any */
    char *path;
    size_t path_len;
    unsigned flags;
    eddy_http_handler handler;
    void *arg;
    eddy__pattern *pattern; /* a path with parameters, or NULL */
    int catch_all;          /* a prefix, or a pattern ending in {name*}:
                               tried for paths no other route matches */
    eddy_http_route_options ro;
    void (*free_arg)(void *arg); /* frees arg with the routes (static.c) */
};

/* A connection's state, in the order one request goes through them. */
enum {
    EDDY__IDLE,    /* waiting for the first byte of a request */
    EDDY__HEAD,    /* part of a head has arrived */
    EDDY__BODY,    /* reading the body */
    EDDY__HANDLER, /* the handler has the request */
    EDDY__DISCARD, /* dropping the body of a request the server refused */
    EDDY__UPGRADE, /* answered 101: the stream goes to its new owner */
    EDDY__CLOSED,  /* closing once sent: nothing more is read */
    EDDY__LINGER   /* sent and shut down for writing: reading and dropping
                      what the client still sends, until its EOF */
};

struct eddy__conn {
    eddy_http_server *srv;
    eddy_stream *s;
    struct eddy__conn *prev, *next;
    int state;
    int waits;               /* on_response_sent() callbacks queued */
    unsigned char in_run;    /* run() is on the stack */
    unsigned char scheduled; /* run() is queued as a loop callback */
    unsigned char held;      /* the next request waits for the answers */
    unsigned char handshake; /* its TLS handshake is under way (server.c),
                                whose callback must run before c is
                                freed */
    size_t delivering;       /* bytes on_data() is handling, still counted in
                                the stream's buffer */
    eddy__http_parser ps;
    char *acc; /* bytes received and not consumed yet */
    size_t acc_len, acc_cap;
    eddy_http_request *req;
    uint64_t deadline;   /* ms on the loop clock, 0: none */
    eddy_timer_id timer; /* fires at timer_at, at or before deadline */
    uint64_t timer_at;
    union {                /* what one state keeps */
        uint64_t discard;  /* EDDY__DISCARD: body bytes still to drop */
        uint64_t lingered; /* EDDY__LINGER: bytes dropped so far */
        struct {
            eddy_http_upgrade_cb cb;
            void *arg;
        } up; /* EDDY__UPGRADE: the new owner */
    } st;
    int why; /* why the server closes it (-ETIMEDOUT...), 0:
                the client went away */
    struct sockaddr_storage peer;
};

/* How a request's body is framed. */
enum { EDDY__BODY_NONE, EDDY__BODY_LENGTH, EDDY__BODY_CHUNKED };

struct eddy_http_request {
    eddy_http_server *srv;
    struct eddy__conn *conn; /* NULL once the client went away */
    const struct eddy__route *route;
    eddy__http_head head; /* points into base */
    const char *base;
    char *store; /* our copy of the head, once kept */
    size_t head_len;
    eddy_str path, query;
    int keep_alive, is_head, dispatched, started, no_body, out_chunked;
    int in_cb, finished; /* a body or close callback is running; it
                            finished the request: free it after */
    int route_status;    /* 404 or 405 when no route takes it */
    int discard;         /* its small body is dropped after the
                            server's own 404 or 405 */
    int aborted;         /* the response did not go out whole */
    int gone;            /* in srv->gone: its client went away */
    int orphan;          /* its server was freed: never touch it */
    eddy_http_request *gone_prev, *gone_next; /* in srv->gone */
    int body_kind, body_done, body_error;
    int paused;         /* eddy_http_pause_body() */
    uint64_t body_left; /* EDDY__BODY_LENGTH: bytes still to come */
    eddy__chunked chunked;
    char *body;
    size_t body_len, body_cap;
    eddy_http_body_cb body_cb;
    void *body_arg;
    int status;
    int64_t out_len; /* -1: chunked or until close */
    uint64_t out_written, bytes_out, start_ns;
    uint64_t head_out; /* bytes of the response head */
    uint64_t unsent;   /* bytes still queued when the client left */
    eddy_http_close_cb on_close;
    void *on_close_arg, *data;
    char ip[INET6_ADDRSTRLEN];
    const char *scheme;
    /* router.c: the decoded path and the route's parameters, which live
     * in the request's allocation after the headers (decoded path, then
     * the parameters' names, copied from the pattern) */
    eddy_str dpath;
    eddy__path_param *params;
    size_t nparams, params_room;
    eddy_timer_id deadline; /* the route's handler deadline */
    int timed_out;          /* it passed, and the server answered */
    int held;               /* answered by the server, still the handler's:
                               finishing it only detaches it */
    int accounted;          /* counted and logged already */
    /* args.c: arguments, parsed on first use (errors kept) */
    struct eddy__args_state *args;
    /* response.c: header lines added before the response, and what they
     * name of Date and Server */
    char *extra;
    size_t extra_len, extra_cap;
    int extra_date, extra_server;
    struct eddy__gzip *gz; /* gzip.c: a response being compressed */
    eddy_http_header headers[];
};

struct eddy_http_server {
    eddy_loop *loop;
    eddy_http_options opt;
    eddy_tcp_server *tcp; /* accepts the connections */
    struct eddy__route *routes;
    size_t nroutes, route_cap;
    struct eddy__conn *conns;
    size_t nconns;
    eddy_http_request *gone; /* requests whose client went away, still
                                held by their handlers */
    eddy__http_head head;    /* the parser's output, used at once */
    char date[64];           /* "Date: ...\r\n" */
    size_t date_len;
    uint64_t date_ms;
    eddy_http_stats stats;
    int shutting_down;
    eddy_timer_id shutdown_timer;
    void (*done)(eddy_http_server *srv, void *arg);
    void *done_arg;
    uint64_t signal_deadline_ms;
    int on_signals; /* stop_on_signals() installed its handlers */
    size_t max_params; /* over the routes: the parameters a request keeps
                          room for (EDDY__PARAM_NAME bytes of name each) */
};

/* --- server.c ------------------------------------------------------------ */

/* Sets up a stream the TCP server accepted (the one place: Nagle off,
 * half-open, TLS for HTTPS) and serves it; closes it when it cannot. */
EDDY_HIDDEN void eddy__server_take(eddy_http_server *srv, eddy_stream *s,
                                   const struct sockaddr *peer, socklen_t len);

/* A connection left the server's list: a shutdown may be done. */
EDDY_HIDDEN void eddy__server_conn_gone(eddy_http_server *srv);

/* --- router.c ------------------------------------------------------------ */

/* Decodes req's path into req->dpath and finds its route, capturing the
 * parameters: the route, or NULL with *status 400 (a path that cannot be
 * decoded: never routed), 404 (no route for the path) or 405 (routes for
 * the path, none for the method). */
EDDY_HIDDEN const struct eddy__route *eddy__route_request(eddy_http_request *req,
                                                          int *status);
/* The Allow list of a 405 for req's path into buf; returns its length. */
EDDY_HIDDEN size_t eddy__route_allow(eddy_http_request *req, char *buf,
                                     size_t size);
/* Hands req to its route's handler (arming its deadline), or answers the
 * server's own 404 or 405. */
EDDY_HIDDEN void eddy__route_dispatch(eddy_http_request *req);
/* Adds a route; free_arg (may be NULL) frees arg with the server, and
 * also when this fails. */
EDDY_HIDDEN int eddy__route_add(eddy_http_server *srv, const char *method,
                                const char *path, unsigned flags,
                                eddy_http_handler handler, void *arg,
                                const eddy_http_route_options *ro,
                                void (*free_arg)(void *arg));
/* Frees the routes (the server is being freed). */
EDDY_HIDDEN void eddy__routes_free(eddy_http_server *srv);
/* Cancels req's handler deadline, if armed. */
EDDY_HIDDEN void eddy__route_cancel_deadline(eddy_http_request *req);

/* --- http1.c ------------------------------------------------------------- */

/* A connection for a stream the TCP server accepted, in the server's list
 * and owning the stream's close callback, not reading yet; NULL when out
 * of memory (the stream is left as it was). */
EDDY_HIDDEN struct eddy__conn *eddy__conn_open(eddy_http_server *srv,
                                               eddy_stream *s,
                                               const struct sockaddr *peer,
                                               socklen_t len);
/* Starts reading c: the first deadline is the idle timeout, or the
 * header timeout for a TLS handshake under way (c->handshake). */
EDDY_HIDDEN void eddy__conn_start(struct eddy__conn *c);
/* c's TLS handshake ended (its callback runs): returns 1, c freed or left
 * to whoever holds it, when the connection closed meanwhile, also with
 * the server freed (never touch c->srv then); else 0. */
EDDY_HIDDEN int eddy__conn_handshake_end(struct eddy__conn *c);
EDDY_HIDDEN void eddy__conn_close(struct eddy__conn *c);
/* Closes c at once and frees it without calling back into the server
 * (the server is being freed); a request in progress is told. */
EDDY_HIDDEN void eddy__conn_forget(struct eddy__conn *c);
/* Closes c if no request is in progress; returns 1 if it did. */
EDDY_HIDDEN int eddy__conn_close_idle(struct eddy__conn *c);
/* Makes c run (read, parse, dispatch) soon: after the current run, or
 * from a loop callback. */
EDDY_HIDDEN void eddy__conn_schedule(struct eddy__conn *c);
/* Sets when the current phase times out, ms from now (0: never). */
EDDY_HIDDEN void eddy__conn_set_deadline(struct eddy__conn *c, uint64_t ms);
/* The request c had was finished and its response queued: go on to the
 * next request, or close (lingering when the client may still send). */
EDDY_HIDDEN void eddy__conn_request_done(struct eddy__conn *c,
                                         const eddy_http_request *req);
/* The stream refused bytes of a response: close c; returns -EPIPE. */
EDDY_HIDDEN int eddy__conn_lost(struct eddy__conn *c, int err);

/* --- body.c -------------------------------------------------------------- */

/* Takes body bytes (framing included) from p.  Returns the bytes used or
 * -status.  A handler may finish the request from a piece's callback: then
 * the request is freed here, and the bytes after the body stay unused. */
EDDY_HIDDEN long eddy__body_feed(eddy_http_request *req, const char *p,
                                 size_t len);
/* 100 Continue, when asked for and no body byte has come yet. */
EDDY_HIDDEN void eddy__body_continue(eddy_http_request *req);
/* The rule behind an error eddy__body_feed() returned, for the log. */
EDDY_HIDDEN const char *eddy__body_rule(const eddy_http_request *req,
                                        long status);

/* --- request.c ----------------------------------------------------------- */

/* A request for the head the parser left in srv->head, found in
 * base[0, n) of c's bytes; NULL when out of memory. */
EDDY_HIDDEN eddy_http_request *eddy__request_new(struct eddy__conn *c,
                                                 const char *base, size_t n);
/* Gives the request its own copy of the head, which it needs to outlive
 * the read callback it arrived in.  Errors: -ENOMEM. */
EDDY_HIDDEN int eddy__request_own_head(eddy_http_request *req);
EDDY_HIDDEN void eddy__request_free(eddy_http_request *req);
/* Frees a finished request, or leaves that to the code that called a
 * body or close callback, which still reads the request afterwards. */
EDDY_HIDDEN void eddy__request_release(eddy_http_request *req);
/* The client went away while the request's handler holds it: it waits in
 * srv->gone for its finish, so that a server freed meanwhile can tell it
 * (orphan).  Orphan returns the next request in srv->gone. */
EDDY_HIDDEN void eddy__request_gone(eddy_http_request *req);
EDDY_HIDDEN void eddy__request_not_gone(eddy_http_request *req);
EDDY_HIDDEN eddy_http_request *eddy__request_orphan(eddy_http_request *req);
/* The client's address as text into buf ("" for a Unix domain socket). */
EDDY_HIDDEN const char *eddy__peer_text(const struct sockaddr_storage *ss,
                                        char *buf, size_t n);
/* Fills req->ip from the connection, once; returns it. */
EDDY_HIDDEN const char *eddy__request_ip(eddy_http_request *req);
/* eddy_http_header_get() for a lowercase or mixed-case name. */
EDDY_HIDDEN int eddy__request_header(const eddy_http_request *req,
                                     const char *name, eddy_str *v);

/* --- response.c ---------------------------------------------------------- */

/* The server's own answer to a request it refuses (one builder for all of
 * them): "<status> <reason>\n" as text/plain, with Allow on a 405.  With
 * a request, through it (counted and logged, keep-alive as it allows);
 * without one (a head that did not parse), straight onto c's stream with
 * Connection: close. */
EDDY_HIDDEN void eddy__respond_error(struct eddy__conn *c,
                                     eddy_http_request *req, int status);
/* Whether headers can go with a 101: valid, none of the framing ones,
 * and Upgrade among them.  Errors: -EINVAL. */
EDDY_HIDDEN int eddy__check_switching(const eddy_http_header *headers,
                                      size_t nheaders);
/* Queues "101 Switching Protocols" with headers (checked before) and
 * Connection: Upgrade.  Errors: -EPIPE (the stream refused it: the
 * connection is closed). */
EDDY_HIDDEN int eddy__respond_switching(eddy_http_request *req,
                                        const eddy_http_header *headers,
                                        size_t nheaders);
/* Counts a finished request and logs it, once. */
EDDY_HIDDEN void eddy__response_account(eddy_http_request *req);
/* Whether a header can be sent as given: a token name, a value without
 * control characters, not one of the framing headers.  0 or -EINVAL. */
EDDY_HIDDEN int eddy__check_header(const eddy_http_header *h);
/* Writes a piece of body bytes already counted (compressed output),
 * framed (chunked or not).  0, or -EPIPE (the connection is closed). */
EDDY_HIDDEN int eddy__response_put(eddy_http_request *req, const void *data,
                                   size_t len, eddy_stream_cb cb, void *arg);

/* --- args.c -------------------------------------------------------------- */

/* Parses what is not parsed yet with the server's settings: a request
 * whose server is being freed keeps its arguments readable. */
EDDY_HIDDEN void eddy__args_keep(eddy_http_request *req);
EDDY_HIDDEN void eddy__args_free(eddy_http_request *req);

/* --- gzip.c -------------------------------------------------------------- */

/* How a response of status with headers and content_length (-1: unknown)
 * goes, by the options, the route, the request's Accept-Encoding and the
 * response's Content-Type and Content-Encoding: EDDY__GZ_NO, EDDY__GZ_VARY
 * (uncompressed, but it depends on Accept-Encoding: send Vary), or
 * EDDY__GZ_YES (compress, and send Vary). */
enum { EDDY__GZ_NO, EDDY__GZ_VARY, EDDY__GZ_YES };
EDDY_HIDDEN int eddy__gzip_decide(const eddy_http_request *req, int status,
                                  const eddy_http_header *headers,
                                  size_t nheaders, int64_t content_length);
/* Starts compressing req's response as a stream (req->gz).  Errors:
 * -ENOMEM, -ENOTSUP (no zlib): send it uncompressed. */
EDDY_HIDDEN int eddy__gzip_start(eddy_http_request *req);
/* Compresses data[0, len) of a streamed response and writes what comes
 * out (flushed, so that the client gets what was written; finish ends the
 * stream), cb after it.  0 or -EPIPE. */
EDDY_HIDDEN int eddy__gzip_write(eddy_http_request *req, const void *data,
                                 size_t len, int finish, eddy_stream_cb cb,
                                 void *arg);
/* Compresses a whole body into *out (malloc'd, *out_len bytes).  Errors:
 * -ENOMEM, -ENOTSUP. */
EDDY_HIDDEN int eddy__gzip_whole(const eddy_http_request *req, const void *data,
                                 size_t len, char **out, size_t *out_len);
EDDY_HIDDEN void eddy__gzip_free(eddy_http_request *req);
/* Whether an Accept-Encoding value, p[0, n), accepts gzip (q-values: an
 * explicit gzip or x-gzip decides, else '*'; q=0 refuses): 1 or 0. */
EDDY_HIDDEN int eddy__accepts_gzip(const char *p, size_t n);
/* Whether a Content-Type value is worth compressing: text/ *, JSON,
 * JavaScript, XML, SVG (and +json, +xml).  1 or 0. */
EDDY_HIDDEN int eddy__compressible(const char *p, size_t n);

/* --- static.c ------------------------------------------------------------ */

/* Whether If-Range, p[0, n), lets Range apply to a file with the strong
 * entity tag etag and Last-Modified at mtime: the tag itself (a weak one
 * never matches), or a date that is the Last-Modified exactly.  1 or 0. */
EDDY_HIDDEN int eddy__if_range(const char *p, size_t n, const char *etag,
                               size_t etag_len, int64_t mtime);
/* Whether a path relative to a static root, rel[0, n), may be opened:
 * no empty segment, no "." or "..", no name beginning with '.' unless
 * dotfiles.  1 or 0. */
EDDY_HIDDEN int eddy__static_rel_ok(const char *rel, size_t n, int dotfiles);

#endif
