/*
 * httpclient/client.c - the client and its fetches (Tornado's
 * AsyncHTTPClient.fetch): options and their defaults, a fetch's life from
 * eddy_http_client_fetch() to its one final callback, its timer, redirects,
 * retries, cancelling, and freeing the client from anywhere.
 *
 * A fetch is WAITING (for a connection: pool.c), ACTIVE (on a
 * connection: conn.c), then DONE.  Its one timer fires at the earliest of
 * its deadlines (the request's, the idle one while it reads) or at once
 * for an error found where no callback may run; a deadline moved later
 * leaves the timer alone, which re-arms itself when it fires early, so
 * the bytes of a response cost no timer work.
 *
 * Re-entrancy: user callbacks may cancel any fetch, start fetches and
 * free the client.  Every entry from the loop holds the client
 * (eddy__client_enter/leave), and every user callback holds its fetch
 * (eddy__fetch_hold/release): what is freed inside is freed for good
 * when the entry unwinds, and the code that called checks before it
 * touches anything again.
 *
 * This file must never run a callback inside the call that asked for it,
 * nor any callback of a fetch after it was cancelled or its final one.
 */
#define _GNU_SOURCE
#include "httpclient_internal.h"

#include "eddy/version.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_MAX_PER_HOST 8
#define DEFAULT_POOL_IDLE_MS 60000
#define DEFAULT_CONNECT_MS 20000
#define DEFAULT_REQUEST_MS 20000
#define DEFAULT_CONTINUE_MS 1000
#define DEFAULT_MAX_HEADER_SIZE 65536
#define DEFAULT_MAX_HEADERS 100
#define DEFAULT_MAX_BODY (100u << 20)
#define DEFAULT_MAX_REDIRECTS 5

/* --- holding the client -------------------------------------------------- */

static void client_destroy(eddy_http_client *c)
{
    free(c->slots);
    free(c->user_agent);
    free(c);
}

void eddy__client_enter(eddy_http_client *c)
{
    c->depth++;
}

int eddy__client_leave(eddy_http_client *c)
{
    if (--c->depth == 0 && c->freed) {
        client_destroy(c);
        return 0;
    }
    return !c->freed;
}

int eddy__method_idempotent(const char *m)
{
    static const char *const safe[] = {"GET",   "HEAD", "OPTIONS",
                                       "TRACE", "PUT",  "DELETE"};

    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (strcmp(m, safe[i]) == 0)
            return 1;
    return 0;
}

/* --- the client ---------------------------------------------------------- */

static int bad_text(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static void defaults(eddy_http_client_options *o)
{
    if (o->max_connections == 0)
        o->max_connections = DEFAULT_MAX_CONNECTIONS;
    if (o->max_per_host == 0)
        o->max_per_host = DEFAULT_MAX_PER_HOST;
    if (o->pool_idle_ms == 0)
        o->pool_idle_ms = DEFAULT_POOL_IDLE_MS;
    if (o->connect_timeout_ms == 0)
        o->connect_timeout_ms = DEFAULT_CONNECT_MS;
    if (o->request_timeout_ms == 0)
        o->request_timeout_ms = DEFAULT_REQUEST_MS;
    if (o->idle_timeout_ms == 0)
        o->idle_timeout_ms = EDDY_HTTP_NO_TIMEOUT;
    if (o->continue_timeout_ms == 0)
        o->continue_timeout_ms = DEFAULT_CONTINUE_MS;
    if (o->max_header_size == 0)
        o->max_header_size = DEFAULT_MAX_HEADER_SIZE;
    if (o->max_headers == 0)
        o->max_headers = DEFAULT_MAX_HEADERS;
    if (o->max_body_size == 0)
        o->max_body_size = DEFAULT_MAX_BODY;
    if (o->max_redirects == 0)
        o->max_redirects = DEFAULT_MAX_REDIRECTS;
}

int eddy_http_client_new(eddy_loop *loop, const eddy_http_client_options *opts,
                         eddy_http_client **out)
{
    eddy_http_client *c;
    const char *ua;
    int err = 0;

    if (loop == NULL || out == NULL)
        return -EINVAL;
    ua = opts != NULL && opts->user_agent != NULL ? opts->user_agent
                                                  : "eddy/" EDDY_VERSION_STRING;
    if (bad_text(ua))
        return -EINVAL;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return -ENOMEM;
    c->loop = loop;
    if (opts != NULL)
        c->opt = *opts;
    defaults(&c->opt);
    c->opt.user_agent = NULL;
    c->tls = c->opt.tls;
    eddy__list_init(&c->hosts);
    eddy__list_init(&c->conns);
    eddy__list_init(&c->idle);
    eddy__list_init(&c->queue);
    eddy__list_init(&c->fetches);
    c->slots = malloc(c->opt.max_headers * sizeof *c->slots);
    if (*ua != '\0' && (c->user_agent = strdup(ua)) == NULL)
        err = -ENOMEM;
    if (c->slots == NULL)
        err = -ENOMEM;
    if (err == 0 && c->opt.resolver == NULL) {
        err = eddy_resolver_new(loop, NULL, &c->resolver);
        c->own_resolver = err == 0;
    } else {
        c->resolver = c->opt.resolver;
    }
    if (err != 0) {
        client_destroy(c);
        return err;
    }
    *out = c;
    return 0;
}

void eddy_http_client_get_stats(const eddy_http_client *c,
                                eddy_http_client_stats *out)
{
    *out = c->stats;
}

/* --- a fetch's timer ----------------------------------------------------- */

static void on_timer(eddy_loop *loop, void *arg);

/* The earliest deadline f has now, or 0 for none. */
static uint64_t due(const eddy_http_fetch *f)
{
    uint64_t t = f->deadline;

    if (f->pending_err != 0)
        return 1; /* at once */
    if (f->state == EDDY__F_ACTIVE && f->idle_ms != 0 && !f->paused &&
        (t == 0 || f->idle_deadline < t))
        t = f->idle_deadline;
    return t;
}

/* Arms the timer for the earliest deadline, unless it is set for one at
 * least as early (it re-arms itself when it fires early). */
static void arm(eddy_http_fetch *f)
{
    uint64_t t = due(f), now = eddy_loop_now(f->c->loop);

    if (t == 0 || (f->timer != 0 && f->timer_at <= t))
        return;
    if (f->timer != 0)
        eddy_loop_remove_timeout(f->c->loop, f->timer);
    f->timer = 0;
    f->timer_at = t;
    if (eddy_loop_call_later(f->c->loop, t > now ? t - now : 0, on_timer, f,
                             &f->timer) != 0)
        f->timer = 0; /* out of memory: the deadline goes unwatched */
}

void eddy__fetch_touch(eddy_http_fetch *f)
{
    if (f->idle_ms != 0) {
        f->idle_deadline = eddy_loop_now(f->c->loop) + f->idle_ms;
        /* Later deadlines leave the timer alone (it re-arms itself when
         * it fires early); an earlier one, the first, moves it. */
        if (f->timer == 0 || f->idle_deadline < f->timer_at)
            arm(f);
    }
}

static void stop_timer(eddy_http_fetch *f)
{
    if (f->timer != 0)
        eddy_loop_remove_timeout(f->c->loop, f->timer);
    f->timer = 0;
}

void eddy__fetch_fail_later(eddy_http_fetch *f, int status)
{
    f->pending_err = status;
    arm(f);
}

/* --- ending a fetch ------------------------------------------------------ */

void eddy__fetch_reset_response(eddy_http_fetch *f)
{
    free(f->rhead);
    free(f->rbody);
    free(f->gzin);
    eddy__gunzip_free(f->gz);
    f->rhead = f->rbody = f->gzin = NULL;
    f->gz = NULL;
    f->rbody_len = f->rbody_cap = 0;
    f->gzin_len = f->gzin_cap = 0;
    f->received = 0;
    f->gzip = 0;
    f->location = -1;
    f->body_ended = 0;
    f->body_written = 0;
    memset(&f->resp, 0, sizeof f->resp);
}

static void fetch_free(eddy_http_fetch *f)
{
    eddy__fetch_reset_response(f);
    eddy__url_free(&f->url);
    free(f->head);
    free(f->headers); /* the method and the body are in it */
    free(f);
}

/* Takes f off its queue, connection and timer, and out of the client's
 * fetches; it is DONE from here. */
static void detach(eddy_http_fetch *f)
{
    eddy__hconn *k = f->conn;

    f->state = EDDY__F_DONE;
    stop_timer(f);
    eddy__pool_unqueue(f);
    if (k != NULL) {
        f->conn = NULL;
        k->f = NULL;
        eddy__hconn_abort(k);
    }
    if (f->h != NULL)
        eddy__pool_unref(f->h);
    f->h = NULL;
    eddy__list_unlink(&f->link);
    f->c->stats.fetches--;
}

void eddy__fetch_finish(eddy_http_fetch *f, int status, const char *detail)
{
    if (f->state == EDDY__F_DONE)
        return;
    detach(f);
    f->detail = detail;
    if (status == 0) {
        f->resp.body.p = f->rbody != NULL ? f->rbody : "";
        f->resp.body.len = f->rbody_len;
        if (f->rbody != NULL)
            f->rbody[f->rbody_len] = '\0';
        f->resp.url = f->url.text;
        f->resp.redirects = f->redirects;
    }
    f->depth++;
    f->cb(f, status, status == 0 ? &f->resp : NULL, f->arg);
    f->depth--;
    fetch_free(f);
}

void eddy__fetch_upgraded(eddy_http_fetch *f, eddy_stream *s, const char *extra,
                          size_t len)
{
    detach(f);
    f->resp.url = f->url.text;
    f->resp.redirects = f->redirects;
    f->depth++;
    f->opt.on_upgrade(f, &f->resp, s, len > 0 ? extra : "", len, f->arg);
    f->depth--;
    fetch_free(f);
}

void eddy__fetch_hold(eddy_http_fetch *f)
{
    f->depth++;
}

int eddy__fetch_release(eddy_http_fetch *f)
{
    if (--f->depth == 0 && f->cancelled) {
        fetch_free(f);
        return 0;
    }
    return !f->cancelled;
}

void eddy_http_fetch_cancel(eddy_http_fetch *f)
{
    if (f == NULL || f->state == EDDY__F_DONE)
        return;
    f->cancelled = 1;
    detach(f);
    if (f->depth == 0)
        fetch_free(f);
}

static void on_timer(eddy_loop *loop, void *arg)
{
    eddy_http_fetch *f = arg;
    eddy_http_client *c = f->c;
    uint64_t now = eddy_loop_now(loop);
    int err = 0;

    f->timer = 0;
    eddy__client_enter(c);
    if (f->pending_err != 0)
        err = f->pending_err;
    else if (f->deadline != 0 && now >= f->deadline)
        err = EDDY_HTTP_EREQTIMEOUT;
    else if (f->state == EDDY__F_ACTIVE && f->idle_ms != 0 && !f->paused &&
             now >= f->idle_deadline)
        err = EDDY_HTTP_EIDLETIMEOUT;
    if (err != 0)
        eddy__fetch_finish(f, err, NULL);
    else
        arm(f);
    eddy__client_leave(c);
}

/* --- hops ---------------------------------------------------------------- */

/* The context for an https hop: the fetch's, the client's, or the one the
 * client makes the first time (the system's CAs, verification on, ALPN
 * http/1.1).  -ENOTSUP without TLS in the build. */
static int tls_context(eddy_http_client *c, eddy_tls_ctx **out,
                       eddy_tls_ctx *mine)
{
    static const char *const alpn[] = {"http/1.1"};
    int err;

    if (eddy_tls_library() == NULL)
        return -ENOTSUP;
    if (mine != NULL || c->tls != NULL) {
        *out = mine != NULL ? mine : c->tls;
        return 0;
    }
    if ((err = eddy_tls_ctx_new(EDDY_TLS_CLIENT, &c->tls)) != 0)
        return err;
    c->own_tls = 1;
    if ((err = eddy_tls_ctx_set_alpn(c->tls, alpn, 1)) != 0)
        return err;
    *out = c->tls;
    return 0;
}

static int location(const eddy_http_fetch *f, eddy_str *v)
{
    if (f->location < 0)
        return -ENOENT;
    v->p = f->resp.headers[f->location].value;
    v->len = f->resp.headers[f->location].value_len;
    return 0;
}

static int follow(eddy_http_fetch *f)
{
    eddy__url next;
    eddy_str loc;
    int err;

    if (f->redirects >= f->opt.max_redirects)
        return EDDY_HTTP_EREDIRECTS;
    if (location(f, &loc) != 0 ||
        (err = eddy__url_resolve(&f->url, loc.p, loc.len, &next)) == -EINVAL ||
        err == -EPROTONOSUPPORT)
        return EDDY_HTTP_EBADREDIRECT;
    if (err != 0)
        return err;
    f->redirects++;
    err = eddy__request_redirect(f, f->resp.status, &next);
    eddy__url_free(&next);
    if (err != 0)
        return err;
    eddy__pool_unref(f->h);
    if (f->url.https && (err = tls_context(f->c, &f->tls, f->opt.tls)) != 0)
        return err;
    if ((f->h = eddy__pool_host(f->c, &f->url, f->tls)) == NULL)
        return -ENOMEM;
    eddy__fetch_reset_response(f);
    f->state = EDDY__F_WAITING;
    f->fresh = 0;
    eddy__pool_request(f, 0);
    return 0;
}

void eddy__fetch_complete(eddy_http_fetch *f)
{
    int err;

    if (f->mode != EDDY__M_DISCARD) {
        eddy__fetch_finish(f, 0, NULL);
        return;
    }
    if ((err = follow(f)) != 0)
        eddy__fetch_finish(f, err,
                           err == EDDY_HTTP_EBADREDIRECT
                               ? "a Location that is not an http or https URL"
                               : NULL);
}

void eddy__fetch_retry(eddy_http_fetch *f)
{
    f->retried = 1;
    f->fresh = 1;
    f->state = EDDY__F_WAITING;
    f->c->stats.retries++;
    eddy__fetch_reset_response(f);
    eddy__pool_request(f, 1);
}

/* --- fetching ------------------------------------------------------------ */

static uint64_t pick(uint64_t mine, uint64_t client)
{
    uint64_t ms = mine != 0 ? mine : client;

    return ms == EDDY_HTTP_NO_TIMEOUT ? 0 : ms;
}

/* A fetch made, checked and copied, not yet started. */
static int fetch_new(eddy_http_client *c, const char *url,
                     const eddy_http_fetch_options *opts,
                     eddy_http_response_cb cb, void *arg, eddy_http_fetch **out)
{
    eddy_http_fetch *f;
    int err;

    if (c == NULL || url == NULL || cb == NULL || c->freed)
        return -EINVAL;
    if ((f = calloc(1, sizeof *f)) == NULL)
        return -ENOMEM;
    f->c = c;
    f->cb = cb;
    f->arg = arg;
    f->location = -1;
    eddy__list_init(&f->queue);
    eddy__list_init(&f->hqueue);
    err = eddy__url_parse(url, strlen(url), &f->url);
    if (err == 0)
        err = eddy__request_copy(f, opts);
    if (err == 0 && f->url.https)
        err = tls_context(c, &f->tls, f->opt.tls);
    if (err == 0) {
        f->opt.max_redirects = f->opt.max_redirects != 0 ? f->opt.max_redirects
                                                         : c->opt.max_redirects;
        f->connect_ms =
            pick(f->opt.connect_timeout_ms, c->opt.connect_timeout_ms);
        f->idle_ms = pick(f->opt.idle_timeout_ms, c->opt.idle_timeout_ms);
        f->max_body = c->opt.max_body_size;
        err = eddy__request_build(f);
    }
    if (err == 0 && (f->h = eddy__pool_host(c, &f->url, f->tls)) == NULL)
        err = -ENOMEM;
    if (err != 0) {
        fetch_free(f);
        return err;
    }
    eddy__list_push(&c->fetches, &f->link);
    c->stats.fetches++;
    *out = f;
    return 0;
}

static void start_clock(eddy_http_fetch *f)
{
    uint64_t ms = pick(f->opt.request_timeout_ms, f->c->opt.request_timeout_ms);

    if (ms != 0) {
        f->deadline = eddy_loop_now(f->c->loop) + ms;
        arm(f);
    }
}

int eddy_http_client_fetch(eddy_http_client *c, const char *url,
                           const eddy_http_fetch_options *opts,
                           eddy_http_response_cb cb, void *arg,
                           eddy_http_fetch **out)
{
    eddy_http_fetch *f;
    int err = fetch_new(c, url, opts, cb, arg, &f);

    if (err != 0)
        return err;
    start_clock(f);
    eddy__pool_request(f, 0);
    if (out != NULL)
        *out = f;
    return 0;
}

int eddy__http_client_fetch_on(eddy_http_client *c, eddy_stream *s,
                               const char *url,
                               const eddy_http_fetch_options *opts,
                               eddy_http_response_cb cb, void *arg,
                               eddy_http_fetch **out)
{
    eddy_http_fetch *f;
    eddy__hconn *k;
    int err = fetch_new(c, url, opts, cb, arg, &f);

    if (err == 0 && (k = eddy__hconn_adopt(f->h, s)) == NULL) {
        eddy_http_fetch_cancel(f);
        err = -ENOMEM;
    }
    if (err != 0) {
        eddy_stream_close(s);
        return err;
    }
    start_clock(f);
    eddy__hconn_start(k, f);
    if (out != NULL)
        *out = f;
    return 0;
}

void eddy__http_client_skip_alive_check(eddy_http_client *c, int skip)
{
    c->skip_alive = skip;
}

/* --- what callbacks call ------------------------------------------------- */

void eddy_http_fetch_pause(eddy_http_fetch *f)
{
    if (f->state == EDDY__F_DONE || f->paused)
        return;
    f->paused = 1;
    if (f->conn != NULL)
        eddy__hconn_pause(f->conn);
}

void eddy_http_fetch_resume(eddy_http_fetch *f)
{
    if (f->state == EDDY__F_DONE || !f->paused)
        return;
    f->paused = 0;
    if (f->conn != NULL)
        eddy__hconn_resume(f->conn);
}

int eddy_http_fetch_write(eddy_http_fetch *f, const void *data, size_t len)
{
    if (f->opt.body_producer == NULL || (data == NULL && len > 0))
        return -EINVAL;
    if (f->body_ended)
        return -EALREADY;
    if (f->opt.body_length != 0 && len > f->opt.body_length - f->body_written)
        return -EINVAL;
    if (f->state == EDDY__F_DONE)
        return -EPIPE;
    if (f->conn == NULL)
        return -EAGAIN;
    return eddy__hconn_write_body(f->conn, data, len, 0);
}

int eddy_http_fetch_end_body(eddy_http_fetch *f)
{
    if (f->opt.body_producer == NULL ||
        (f->opt.body_length != 0 && f->body_written != f->opt.body_length))
        return -EINVAL;
    if (f->body_ended)
        return -EALREADY;
    if (f->state == EDDY__F_DONE)
        return -EPIPE;
    if (f->conn == NULL)
        return -EAGAIN;
    return eddy__hconn_write_body(f->conn, NULL, 0, 1);
}

const char *eddy_http_fetch_detail(const eddy_http_fetch *f)
{
    return f->detail;
}

eddy_http_client *eddy_http_fetch_client(const eddy_http_fetch *f)
{
    return f->c;
}

/* --- freeing ------------------------------------------------------------- */

void eddy_http_client_free(eddy_http_client *c)
{
    if (c == NULL || c->freed)
        return;
    c->freed = 1;
    while (!eddy__list_empty(&c->fetches))
        eddy_http_fetch_cancel(
            EDDY__CONTAINER(c->fetches.next, eddy_http_fetch, link));
    while (!eddy__list_empty(&c->conns))
        eddy__hconn_orphan(EDDY__CONTAINER(c->conns.next, eddy__hconn, link));
    while (!eddy__list_empty(&c->hosts)) {
        eddy__host *h = EDDY__CONTAINER(c->hosts.next, eddy__host, link);

        eddy__list_unlink(&h->link);
        free(h->name);
        free(h);
    }
    if (c->idle_timer != 0)
        eddy_loop_remove_timeout(c->loop, c->idle_timer);
    c->idle_timer = 0;
    if (c->own_resolver)
        eddy_resolver_free(c->resolver);
    c->resolver = NULL;
    if (c->own_tls)
        eddy_tls_ctx_free(c->tls); /* its streams keep it while they live */
    c->tls = NULL;
    if (c->depth == 0)
        client_destroy(c);
}
