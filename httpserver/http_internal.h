/*
 * httpserver/http_internal.h - the server's state, shared by server.c
 * (listening, accepting, routing, shutdown) and http1.c (connections,
 * requests, responses).  Public headers never include this file.
 */
#ifndef EDDY_HTTP_INTERNAL_H
#define EDDY_HTTP_INTERNAL_H

#include "eddy/httpserver.h"
#include "../httputil/httputil_internal.h"

#include <netinet/in.h>
#include <sys/socket.h>

#define EDDY_HTTP_HIDDEN EDDY_HIDDEN /* one attribute: common/internal.h */

struct eddy__route {
    char *method; /* NULL: any */
    char *path;
    size_t path_len;
    unsigned flags;
    eddy_http_handler handler;
    void *arg;
};

/* A connection's state, in the order one request goes through them. */
enum {
    EDDY__IDLE,    /* waiting for the first byte of a request */
    EDDY__HEAD,    /* part of a head has arrived */
    EDDY__BODY,    /* reading the body */
    EDDY__HANDLER, /* the handler has the request */
    EDDY__DISCARD, /* dropping the body of a request the server refused */
    EDDY__CLOSED,  /* closing once sent: nothing more is read */
    EDDY__LINGER   /* sent and shut down for writing: reading and dropping
                      what the client still sends, until its EOF */
};

struct eddy__conn {
    eddy_http_server *srv;
    eddy_stream *s;
    struct eddy__conn *prev, *next;
    int state;
    int in_run;    /* conn_run() is on the stack */
    int scheduled; /* conn_run() is queued as a loop callback */
    int held;      /* the next request waits for the answers to go out */
    size_t delivering; /* bytes on_data() is handling, still counted in
                          the stream's buffer */
    eddy__http_parser ps;
    char *acc;     /* bytes received and not consumed yet */
    size_t acc_len, acc_cap;
    eddy_http_request *req;
    uint64_t deadline;   /* ms on the loop clock, 0: none */
    eddy_timer_id timer; /* fires at timer_at, at or before deadline */
    uint64_t timer_at;
    uint64_t discard;  /* EDDY__DISCARD: body bytes still to drop */
    uint64_t lingered; /* EDDY__LINGER: bytes dropped so far */
    int why;           /* why the server closes it (-ETIMEDOUT...), 0:
                          the client went away */
    struct sockaddr_storage peer;
};

struct eddy_http_server {
    eddy_loop *loop;
    eddy_http_options opt;
    struct eddy__route *routes;
    size_t nroutes, route_cap;
    int *lfds;
    size_t nlfds;
    int accepting;           /* the listening fds are watched */
    eddy_timer_id resume;    /* retry accepting after EMFILE */
    int parked;              /* an accepted fd the poller cannot watch
                                yet (select: FD_SETSIZE), or -1 */
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
    int on_signals;          /* stop_on_signals() installed its handlers */
};

/* http1.c */
EDDY_HTTP_HIDDEN int eddy__conn_open(eddy_http_server *srv, int fd,
                                     const struct sockaddr *peer,
                                     socklen_t len);
EDDY_HTTP_HIDDEN void eddy__conn_close(struct eddy__conn *c);
/* Closes c at once and frees it without calling back into the server
 * (the server is being freed); a request in progress is told. */
EDDY_HTTP_HIDDEN void eddy__conn_forget(struct eddy__conn *c);
/* The server is being freed: a request whose client went away before
 * must not reach it when its handler finishes it.  Returns the next one
 * in srv->gone. */
EDDY_HTTP_HIDDEN eddy_http_request *
eddy__request_orphan(eddy_http_request *req);
/* Closes c if no request is in progress; returns 1 if it did. */
EDDY_HTTP_HIDDEN int eddy__conn_close_idle(struct eddy__conn *c);

/* iostream/stream.c: a stream over fd, a connected non-blocking socket,
 * whose handler is added with the first interest (eddy_stream_new checks
 * the flags and adds one at once: two system calls more per client). */
EDDY_HTTP_HIDDEN int eddy__stream_adopt(eddy_loop *loop, int fd,
                                        eddy_stream **out);
/* iostream/stream.c: at the peer's EOF with no read pending, s stays open
 * for writing instead of closing; the next read fails (-EPIPE, or
 * EDDY_EOF if it was pending), and the owner closes it.  For a client
 * that half-closed after its request and waits for the answer. */
EDDY_HTTP_HIDDEN void eddy__stream_half_open(eddy_stream *s);

/* server.c */
EDDY_HTTP_HIDDEN void eddy__server_conn_gone(eddy_http_server *srv);
EDDY_HTTP_HIDDEN const struct eddy__route *
eddy__server_route(const eddy_http_server *srv, eddy_str method, eddy_str path,
                   int *status);
EDDY_HTTP_HIDDEN size_t eddy__server_allow(const eddy_http_server *srv,
                                           eddy_str path, char *buf,
                                           size_t size);

#endif
