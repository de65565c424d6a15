/*
 * httpclient/httpclient_internal.h - what the HTTP client's files share:
 * the client, its hosts (one pool each), connections and fetches, and the
 * functions each file offers the others.  Nothing above the client
 * includes it but the tests and fuzzers (for eddy__http_client_fetch_on,
 * which runs a fetch over a stream they made).
 *
 *   client.c   the client, fetches, their timers, redirects, the end
 *   pool.c     hosts, the queue, limits, idle connections, connecting
 *   conn.c     one connection: the request out, the response in
 *   request.c  the request head, and what a redirect keeps of it
 *   url.c      URLs: parsing, and resolving a Location against one
 *   gzip.c     inflating a gzip body within the limit
 *
 * Ownership: the client owns its hosts, connections and fetches.  A
 * connection with a stream is freed from the stream's close callback
 * (the stream's callbacks may come after the client is gone: conn->c is
 * NULL then, and they only free it).  A fetch is freed after its final
 * callback, or when cancelled (later, if one of its callbacks is running:
 * depth counts them).
 */
#ifndef EDDY_HTTPCLIENT_INTERNAL_H
#define EDDY_HTTPCLIENT_INTERNAL_H

#include "../common/internal.h"
#include "../httputil/httputil_internal.h"
#include "eddy/httpclient.h"
#include "eddy/tcp.h"
#include "eddy/tls.h"

#include <stddef.h>
#include <stdint.h>

typedef struct eddy__host eddy__host;
typedef struct eddy__hconn eddy__hconn;

/* An intrusive doubly linked list. */
typedef struct eddy__link {
    struct eddy__link *next, *prev;
} eddy__link;

static inline void eddy__list_init(eddy__link *l)
{
    l->next = l->prev = l;
}

static inline int eddy__list_empty(const eddy__link *l)
{
    return l->next == l;
}

static inline void eddy__list_push(eddy__link *l, eddy__link *e)
{
    e->prev = l->prev;
    e->next = l;
    l->prev->next = e;
    l->prev = e;
}

static inline void eddy__list_unlink(eddy__link *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = e->prev = e;
}

#define EDDY__CONTAINER(p, type, field)                                        \
    ((type *)(void *)((char *)(p)-offsetof(type, field)))

/* --- URLs (url.c) -------------------------------------------------------- */

/* A parsed http or https URL; its strings live in buf (one allocation,
 * eddy__url_free()).  host is lowercase and without brackets; target is
 * the path and query ("/" at least); text is the URL written out again
 * (scheme://authority/target, the port only when not the default). */
typedef struct eddy__url {
    char *buf;
    const char *host, *target, *text;
    size_t host_len, target_len;
    uint16_t port;
    int https, ipv6;
} eddy__url;

/* Parses url[0, len).  Errors: -EINVAL (malformed, user:password@, a
 * path byte that is not visible ASCII), -EPROTONOSUPPORT (not http or
 * https), -ENOMEM. */
EDDY_HIDDEN int eddy__url_parse(const char *url, size_t len, eddy__url *out);

/* Resolves the reference ref[0, len) (a Location) against base (RFC 3986
 * 5.2, dot segments removed, the fragment dropped; SP and bytes past
 * ASCII percent-encoded) into *out.  Errors as eddy__url_parse(). */
EDDY_HIDDEN int eddy__url_resolve(const eddy__url *base, const char *ref,
                                  size_t len, eddy__url *out);

EDDY_HIDDEN void eddy__url_free(eddy__url *u);

/* Whether a and b are one origin: scheme, host and port. */
EDDY_HIDDEN int eddy__url_same_origin(const eddy__url *a, const eddy__url *b);

/* --- gzip (gzip.c) ------------------------------------------------------- */

typedef struct eddy__gunzip eddy__gunzip;

/* Inflates in[0, len) and hands the output to out(arg, data, n) in
 * pieces; at most limit bytes in all.  *used says how much input it took.
 * Returns 0 when it took it all, what out returned when that was not 0
 * (it stopped there: out may have freed *g, which is then not touched;
 * else call again with the rest, and with none to get the output zlib
 * still holds, eddy__gunzip_pending()), or EDDY_HTTP_EBODYSIZE,
 * EDDY_HTTP_EDECODE, -ENOMEM.  *g is made on the first call.
 * Concatenated members are one body, as gzip(1) reads them. */
EDDY_HIDDEN int
eddy__gunzip_feed(eddy__gunzip **g, const char *in, size_t len, uint64_t limit,
                  int (*out)(void *arg, const char *data, size_t n), void *arg,
                  size_t *used);

/* Whether zlib holds output for input it already took. */
EDDY_HIDDEN int eddy__gunzip_pending(const eddy__gunzip *g);

/* 0 when the body ended where a gzip member did, else EDDY_HTTP_EDECODE
 * (cut short, or nothing at all). */
EDDY_HIDDEN int eddy__gunzip_end(const eddy__gunzip *g);

EDDY_HIDDEN void eddy__gunzip_free(eddy__gunzip *g);

/* Whether this build can inflate (zlib). */
EDDY_HIDDEN int eddy__gunzip_available(void);

/* --- the client, hosts, connections, fetches ----------------------------- */

struct eddy_http_client {
    eddy_loop *loop;
    eddy_resolver *resolver;
    int own_resolver;
    eddy_tls_ctx *tls; /* for https; the client's own when own_tls */
    int own_tls;
    eddy_http_client_options opt;
    char *user_agent; /* a copy; NULL: none */
    eddy__link hosts;
    eddy__link conns;   /* every connection, for eddy_http_client_free() */
    eddy__link idle;    /* idle connections, oldest first */
    eddy__link queue;   /* fetches waiting for a connection, oldest first */
    eddy__link fetches; /* every fetch not yet over */
    eddy_timer_id idle_timer;
    eddy_http_client_stats stats;
    eddy__http_head head;    /* the parser's output, used at once */
    eddy_http_header *slots; /* its fields: max_headers */
    int depth;               /* entries from the loop under way */
    int freed;               /* eddy_http_client_free() ran inside one */
    int dispatching, again;  /* eddy__pool_dispatch() runs; run again */
    int skip_alive;          /* the tests' eddy__http_client_skip_alive_check */
};

/* One origin's pool: scheme, host, port. */
struct eddy__host {
    eddy__link link; /* in client->hosts */
    eddy_http_client *c;
    char *name;
    uint16_t port;
    int https;
    eddy_tls_ctx *tls; /* https: the context (part of the key) */
    eddy__link idle;   /* its idle connections, last used last */
    eddy__link queue;  /* its waiting fetches, oldest first */
    size_t refs;       /* fetches and connections that point here */
    size_t nconns;     /* connecting, busy or idle */
    size_t nconnecting;
    size_t nwaiting;
    size_t seen; /* eddy__pool_dispatch()'s count */
};

enum {
    EDDY__C_CONNECTING, /* the connector or the TLS handshake */
    EDDY__C_IDLE,
    EDDY__C_BUSY,
    EDDY__C_CLOSED,  /* closing: waiting for the stream's close callback */
    EDDY__C_UPGRADED /* the stream went to on_upgrade */
};

/* What a busy connection reads. */
enum {
    EDDY__R_HEAD,    /* a response head (1xx ones included) */
    EDDY__R_LENGTH,  /* a body of remaining bytes */
    EDDY__R_CHUNKED, /* a chunked body */
    EDDY__R_CLOSE,   /* a body until the server closes */
    EDDY__R_DONE
};

struct eddy__hconn {
    eddy__link link;      /* in client->conns */
    eddy__link host_link; /* in host->idle */
    eddy__link idle_link; /* in client->idle */
    eddy_http_client *c;  /* NULL once the client is freed */
    eddy__host *h;        /* NULL once it left the pool (closed, upgraded) */
    eddy_stream *s;
    eddy_tcp_connector *connector;
    int state;
    eddy_http_fetch *f; /* the fetch it carries (busy) */
    uint64_t requests;  /* requests sent on it */
    uint64_t idle_since, idle_iter;
    uint64_t connect_deadline; /* loop time; 0: none */
    int tls;                   /* over TLS */
    /* the response being read */
    int rstate;
    eddy__http_parser ps;
    eddy__chunked ck;
    uint64_t remaining;
    char *acc; /* bytes held: a head not over yet, or what a pause left */
    size_t acc_len, acc_cap;
    size_t piece;  /* the bytes of the read being handed over */
    int got;       /* a byte of this response came */
    int keep;      /* the response lets the connection stay */
    int wire_done; /* the body's last byte came (gzip may hold output) */
    eddy_timer_id resume_timer;
    /* the request being sent */
    uint64_t req_queued; /* its bytes queued on the stream */
    int req_complete;    /* ... all of them: head and body */
    int wrote;           /* the producer wrote since it last ran */
    int body_state;      /* EDDY__B_* */
    int chunked;         /* the body goes chunked */
    int producing;       /* inside the producer */
    int drain_armed;     /* a callback waits for the queue to empty */
    int refs_out;        /* writes of the fetch's memory not yet out */
    uint64_t heads_out, heads_done;
    eddy_timer_id continue_timer;
};

/* Where a request's body stands. */
enum {
    EDDY__B_NONE,     /* no body, or all of it queued */
    EDDY__B_WAIT,     /* held until the head is out */
    EDDY__B_CONTINUE, /* waiting for 100 Continue */
    EDDY__B_PRODUCE,  /* the producer may write */
    EDDY__B_REFUSED   /* a final status came first: never sent */
};

enum { EDDY__F_WAITING, EDDY__F_ACTIVE, EDDY__F_DONE };

struct eddy_http_fetch {
    eddy__link link;   /* in client->fetches */
    eddy__link queue;  /* in client->queue while waiting */
    eddy__link hqueue; /* in host->queue while waiting */
    eddy_http_client *c;
    int state;
    int depth; /* its callbacks running */
    int cancelled;
    int paused; /* eddy_http_fetch_pause() */
    /* what was asked (copied) */
    const char *method;
    eddy_http_header *headers; /* copies, in one allocation with the
                                  method and the body */
    size_t nheaders;
    const char *body;
    size_t body_len;
    int has_body;
    eddy_http_fetch_options opt; /* its pointers are not used */
    eddy_http_response_cb cb;
    void *arg;
    /* where it goes now */
    eddy__url url;
    eddy_tls_ctx *tls; /* for https */
    eddy__host *h;
    eddy__hconn *conn;
    char *head; /* the request head for this hop */
    size_t head_len;
    unsigned redirects;
    int retried, fresh;    /* retried once; wants a new connection */
    int user_host;         /* the headers' Host is for this origin */
    int body_ended;        /* the producer ended the body */
    uint64_t body_written; /* ... after writing this much of it */
    /* time */
    uint64_t connect_ms; /* 0: none */
    uint64_t deadline;   /* request_timeout_ms, as loop time; 0: none */
    uint64_t idle_ms;    /* 0: none */
    uint64_t idle_deadline;
    eddy_timer_id timer;
    uint64_t timer_at;
    int pending_err; /* to deliver from the timer */
    const char *detail;
    /* the response */
    int mode; /* EDDY__M_* */
    eddy_http_response resp;
    char *rhead; /* its fields and head bytes */
    char *rbody;
    size_t rbody_len, rbody_cap;
    uint64_t received; /* body bytes so far (after inflating) */
    uint64_t max_body;
    eddy__gunzip *gz;
    int gzip;   /* the body is inflated */
    char *gzin; /* input a pause left (one read's at most) */
    size_t gzin_len, gzin_cap;
    int location; /* the field index of Location, for a redirect */
};

/* What happens to a response's body. */
enum {
    EDDY__M_WHOLE,  /* kept, for the final callback */
    EDDY__M_STREAM, /* handed to on_chunk */
    EDDY__M_DISCARD /* a redirect's: dropped */
};

/* --- client.c: what the others call -------------------------------------- */

/* Ends f with status (0: resp is complete; or an error, with detail in
 * words or NULL).  Runs its final callback and frees it. */
EDDY_HIDDEN void eddy__fetch_finish(eddy_http_fetch *f, int status,
                                    const char *detail);

/* Fails f from its timer in a later iteration: for errors found inside a
 * call that must not run callbacks. */
EDDY_HIDDEN void eddy__fetch_fail_later(eddy_http_fetch *f, int status);

/* The response is complete and not a redirect to follow (or one whose
 * Location is followed now): finishes f, or starts its next hop. */
EDDY_HIDDEN void eddy__fetch_complete(eddy_http_fetch *f);

/* A callback of f is about to run / has run: returns 0 when f was
 * cancelled meanwhile (and frees it if nothing else runs). */
EDDY_HIDDEN void eddy__fetch_hold(eddy_http_fetch *f);
EDDY_HIDDEN int eddy__fetch_release(eddy_http_fetch *f);

/* Its reused connection failed before a byte of it went out: again, on
 * a new connection, once. */
EDDY_HIDDEN void eddy__fetch_retry(eddy_http_fetch *f);

/* The fetch is over with an upgrade: runs on_upgrade and frees it. */
EDDY_HIDDEN void eddy__fetch_upgraded(eddy_http_fetch *f, eddy_stream *s,
                                      const char *extra, size_t len);

/* Frees what the response in progress holds (a hop's end). */
EDDY_HIDDEN void eddy__fetch_reset_response(eddy_http_fetch *f);

/* The idle deadline moves: a byte came, or the fetch was resumed. */
EDDY_HIDDEN void eddy__fetch_touch(eddy_http_fetch *f);

/* Entries from the loop hold the client; the last one out frees a
 * client freed inside them.  Returns 0 when the client is gone. */
EDDY_HIDDEN void eddy__client_enter(eddy_http_client *c);
EDDY_HIDDEN int eddy__client_leave(eddy_http_client *c);

/* Whether method is idempotent (RFC 9110 9.2.2). */
EDDY_HIDDEN int eddy__method_idempotent(const char *method);

/* --- request.c ----------------------------------------------------------- */

/* Builds f->head for f->url (replacing the one before). */
EDDY_HIDDEN int eddy__request_build(eddy_http_fetch *f);

/* Checks and copies what opts asks for into f (method, headers, body).
 * Errors as eddy_http_client_fetch()'s. */
EDDY_HIDDEN int eddy__request_copy(eddy_http_fetch *f,
                                   const eddy_http_fetch_options *opts);

/* Whether f sends Expect: 100-continue (with a body that has bytes). */
EDDY_HIDDEN int eddy__request_expects(const eddy_http_fetch *f);

/* What a redirect with status to next keeps: the method (303, and POST
 * on 301 and 302, become GET without a body), and the credentials when
 * the origin stays.  Then the next head is built. */
EDDY_HIDDEN int eddy__request_redirect(eddy_http_fetch *f, int status,
                                       eddy__url *next);

/* --- pool.c -------------------------------------------------------------- */

/* The host record for u (and tls, for https), made if needed, with a
 * reference taken; NULL for -ENOMEM. */
EDDY_HIDDEN eddy__host *eddy__pool_host(eddy_http_client *c, const eddy__url *u,
                                        eddy_tls_ctx *tls);

/* Finds f a connection: an idle one now, or a place in the queue (its
 * front for a retry; and a new connection when the limits allow).  No
 * callback runs inside. */
EDDY_HIDDEN void eddy__pool_request(eddy_http_fetch *f, int front);

/* Drops a reference to h (a fetch's, or a connection's). */
EDDY_HIDDEN void eddy__pool_unref(eddy__host *h);

/* Takes f out of the queue. */
EDDY_HIDDEN void eddy__pool_unqueue(eddy_http_fetch *f);

/* Serves the queue: idle connections to waiters, new connections where
 * the limits allow (closing idle ones of other hosts at the total
 * limit). */
EDDY_HIDDEN void eddy__pool_dispatch(eddy_http_client *c);

/* A connection finished its response and may stay: it serves the next
 * waiter of its host or goes idle. */
EDDY_HIDDEN void eddy__pool_release(eddy__hconn *k);

/* The connection leaves the pool (closing, or upgraded): the counts
 * drop, and the queue is served again. */
EDDY_HIDDEN void eddy__pool_forget(eddy__hconn *k);

/* A connection finished connecting: 0, or an error for the first waiter
 * of its host. */
EDDY_HIDDEN void eddy__pool_connected(eddy__hconn *k, int status);

/* ... with the failure's detail in words (valid during the call). */
EDDY_HIDDEN void eddy__pool_connected_why(eddy__hconn *k, int status,
                                          const char *why);

/* Closes the idle connections that passed pool_idle_ms. */
EDDY_HIDDEN void eddy__pool_expire(eddy_http_client *c);

/* --- conn.c -------------------------------------------------------------- */

/* Makes a connection to h and starts connecting; NULL and *err when it
 * cannot start. */
EDDY_HIDDEN eddy__hconn *eddy__hconn_open(eddy__host *h, uint64_t timeout_ms,
                                          int *err);

/* A connection to h over a connected stream someone made; NULL for
 * -ENOMEM. */
EDDY_HIDDEN eddy__hconn *eddy__hconn_adopt(eddy__host *h, eddy_stream *s);

/* The stream of a new connection is connected: TLS starts on it for
 * https, and then (or at once) the pool hears of it. */
EDDY_HIDDEN void eddy__hconn_ready(eddy__hconn *k);

/* Keeps a read pending on an idle or busy connection. */
EDDY_HIDDEN void eddy__hconn_read(eddy__hconn *k);

/* Sends f's request on k (busy from now). */
EDDY_HIDDEN void eddy__hconn_start(eddy__hconn *k, eddy_http_fetch *f);

/* Closes k (its fetch, if any, must be detached first).  A connection
 * still connecting is freed at once: do not touch it after. */
EDDY_HIDDEN void eddy__hconn_close(eddy__hconn *k);

/* The client is being freed: k closes, and its stream's callbacks, which
 * may still come, only free it. */
EDDY_HIDDEN void eddy__hconn_orphan(eddy__hconn *k);

/* Frees what is left of k once nothing refers to it. */
EDDY_HIDDEN void eddy__hconn_free(eddy__hconn *k);

/* Whether an idle connection still looks usable (no EOF, reset or stray
 * bytes waiting in the kernel). */
EDDY_HIDDEN int eddy__hconn_alive(eddy__hconn *k);

/* The fetch leaves k in the middle of its request (cancelled, timed
 * out): k closes. */
EDDY_HIDDEN void eddy__hconn_abort(eddy__hconn *k);

EDDY_HIDDEN void eddy__hconn_pause(eddy__hconn *k);
EDDY_HIDDEN void eddy__hconn_resume(eddy__hconn *k);

/* The producer's piece, or its end, on k (see eddy_http_fetch_write). */
EDDY_HIDDEN int eddy__hconn_write_body(eddy__hconn *k, const void *data,
                                       size_t len, int end);

/* --- for the tests and fuzzers ------------------------------------------- */

/* Runs a fetch of url over s, a connected stream (a socketpair, say),
 * instead of a connection of the pool: the request is written to s and
 * the response read from it, by the same code.  s becomes the client's.
 * The URL's host is used for the Host header only.  Errors as
 * eddy_http_client_fetch()'s (s is closed then). */
EDDY_HIDDEN int eddy__http_client_fetch_on(eddy_http_client *c, eddy_stream *s,
                                           const char *url,
                                           const eddy_http_fetch_options *opts,
                                           eddy_http_response_cb cb, void *arg,
                                           eddy_http_fetch **out);

/* Turns off the check of an idle connection before its reuse, so that
 * the tests can reach the retry rules. */
EDDY_HIDDEN void eddy__http_client_skip_alive_check(eddy_http_client *c,
                                                    int skip);

#endif
