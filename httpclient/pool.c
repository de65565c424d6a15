/*
 * httpclient/pool.c - the keep-alive pool: one host record per scheme,
 * host and port, the queue of fetches waiting for a connection, the
 * limits, and the idle connections.
 *
 * A fetch takes the most recently used idle connection of its host (the
 * one least likely to have been closed by the server meanwhile), checked
 * first when it sat idle through a poll (eddy__hconn_alive); else it waits
 * in two FIFO queues, its host's and the client's, and a connection is
 * made for it if the limits allow: max_per_host per host, max_connections
 * in all.  At the total limit, an idle connection of another host is
 * closed to make room (the oldest), so that idle connections never keep
 * a waiting fetch waiting.  A connection being made goes to the first
 * waiter of its host when it is ready, whoever asked for it: a fetch
 * cancelled meanwhile leaves it to the next, or to the pool.
 *
 * Idle connections close after pool_idle_ms; one client timer watches the
 * oldest (the idle list is in the order they became idle) and re-arms for
 * the next, so reusing a connection costs no timer work.
 *
 * This file must never run a user callback: a connection that cannot be
 * started fails its fetch from the fetch's timer.
 */
#define _GNU_SOURCE
#include "httpclient_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

eddy__host *eddy__pool_host(eddy_http_client *c, const eddy__url *u,
                            eddy_tls_ctx *tls)
{
    eddy__host *h;

    if (!u->https)
        tls = NULL;
    for (eddy__link *l = c->hosts.next; l != &c->hosts; l = l->next) {
        h = EDDY__CONTAINER(l, eddy__host, link);
        if (h->https == u->https && h->port == u->port && h->tls == tls &&
            strcmp(h->name, u->host) == 0) {
            h->refs++;
            return h;
        }
    }
    if ((h = calloc(1, sizeof *h)) == NULL)
        return NULL;
    if ((h->name = strdup(u->host)) == NULL) {
        free(h);
        return NULL;
    }
    h->c = c;
    h->port = u->port;
    h->https = u->https;
    h->tls = tls;
    h->refs = 1;
    eddy__list_init(&h->idle);
    eddy__list_init(&h->queue);
    eddy__list_push(&c->hosts, &h->link);
    return h;
}

void eddy__pool_unref(eddy__host *h)
{
    if (--h->refs > 0)
        return;
    eddy__list_unlink(&h->link);
    free(h->name);
    free(h);
}

void eddy__pool_unqueue(eddy_http_fetch *f)
{
    if (eddy__list_empty(&f->queue))
        return;
    eddy__list_unlink(&f->queue);
    eddy__list_unlink(&f->hqueue);
    f->h->nwaiting--;
    f->c->stats.waiting--;
}

static void enqueue(eddy_http_fetch *f, int front)
{
    eddy__host *h = f->h;

    if (front) {
        eddy__list_push(h->queue.next, &f->hqueue);
        eddy__list_push(f->c->queue.next, &f->queue);
    } else {
        eddy__list_push(&h->queue, &f->hqueue);
        eddy__list_push(&f->c->queue, &f->queue);
    }
    h->nwaiting++;
    f->c->stats.waiting++;
}

/* Takes an idle connection of h that still looks usable, closing those
 * that do not; NULL when there is none. */
static eddy__hconn *take_idle(eddy__host *h)
{
    while (!eddy__list_empty(&h->idle)) {
        eddy__hconn *k = EDDY__CONTAINER(h->idle.prev, eddy__hconn, host_link);

        eddy__list_unlink(&k->host_link);
        eddy__list_unlink(&k->idle_link);
        h->c->stats.idle--;
        k->state = EDDY__C_BUSY;
        if (h->c->skip_alive || eddy__hconn_alive(k))
            return k;
        eddy__hconn_close(k);
    }
    return NULL;
}

void eddy__pool_request(eddy_http_fetch *f, int front)
{
    eddy__hconn *k = f->fresh ? NULL : take_idle(f->h);

    if (k != NULL) {
        eddy__hconn_start(k, f);
        return;
    }
    f->state = EDDY__F_WAITING;
    enqueue(f, front);
    eddy__pool_dispatch(f->c);
}

/* Closes the oldest idle connection of another host than h; 0 if none. */
static int evict(eddy_http_client *c, const eddy__host *h)
{
    for (eddy__link *l = c->idle.next; l != &c->idle; l = l->next) {
        eddy__hconn *k = EDDY__CONTAINER(l, eddy__hconn, idle_link);

        if (k->h != h) {
            eddy__hconn_close(k);
            return 1;
        }
    }
    return 0;
}

/* Whether h may have one more connection for f: under max_per_host, or
 * at it for a retry (which wants a new connection) with an idle one to
 * close. */
static int room_on_host(eddy_http_client *c, eddy__host *h,
                        const eddy_http_fetch *f)
{
    if (h->nconns < c->opt.max_per_host)
        return 1;
    if (!f->fresh || eddy__list_empty(&h->idle))
        return 0;
    eddy__hconn_close(EDDY__CONTAINER(h->idle.next, eddy__hconn, host_link));
    return 1;
}

/* One pass over the queue; sets c->again when something changed that
 * may let an earlier waiter go. */
static void serve(eddy_http_client *c)
{
    eddy__link *l, *next;
    int err;

    for (l = c->hosts.next; l != &c->hosts; l = l->next)
        EDDY__CONTAINER(l, eddy__host, link)->seen = 0;
    for (l = c->queue.next; l != &c->queue && !c->freed; l = next) {
        eddy_http_fetch *f = EDDY__CONTAINER(l, eddy_http_fetch, queue);
        eddy__host *h = f->h;
        eddy__hconn *k;

        next = l->next; /* nothing below touches another waiter */
        if (!f->fresh && (k = take_idle(h)) != NULL) {
            eddy__pool_unqueue(f);
            eddy__hconn_start(k, f);
            continue;
        }
        /* The first nconnecting waiters of a host get the connections
         * being made for it. */
        if (++h->seen <= h->nconnecting)
            continue;
        if (!room_on_host(c, h, f))
            continue;
        if (c->stats.connections >= c->opt.max_connections && !evict(c, h))
            continue;
        if (eddy__hconn_open(h, f->connect_ms, &err) == NULL) {
            eddy__pool_unqueue(f);
            eddy__fetch_fail_later(f, err);
        }
    }
}

void eddy__pool_dispatch(eddy_http_client *c)
{
    if (c->freed)
        return;
    if (c->dispatching) {
        c->again = 1;
        return;
    }
    c->dispatching = 1;
    do {
        c->again = 0;
        serve(c);
    } while (c->again && !c->freed);
    c->dispatching = 0;
}

static void on_idle_timer(eddy_loop *loop, void *arg)
{
    eddy_http_client *c = arg;

    (void)loop;
    c->idle_timer = 0;
    eddy__client_enter(c);
    eddy__pool_expire(c);
    eddy__client_leave(c);
}

void eddy__pool_expire(eddy_http_client *c)
{
    uint64_t now = eddy_loop_now(c->loop);

    while (!eddy__list_empty(&c->idle)) {
        eddy__hconn *k = EDDY__CONTAINER(c->idle.next, eddy__hconn, idle_link);

        if (k->idle_since + c->opt.pool_idle_ms > now) {
            eddy_loop_call_later(c->loop,
                                 k->idle_since + c->opt.pool_idle_ms - now,
                                 on_idle_timer, c, &c->idle_timer);
            return;
        }
        eddy__hconn_close(k);
    }
}

void eddy__pool_release(eddy__hconn *k)
{
    eddy_http_client *c = k->c;
    eddy__host *h = k->h;
    eddy_loop_stats st;

    k->f = NULL;
    if (!eddy__list_empty(&h->queue)) {
        eddy_http_fetch *f =
            EDDY__CONTAINER(h->queue.next, eddy_http_fetch, hqueue);

        if (!f->fresh) {
            eddy__pool_unqueue(f);
            k->state = EDDY__C_BUSY;
            eddy__hconn_start(k, f);
            return;
        }
    }
    k->state = EDDY__C_IDLE;
    k->idle_since = eddy_loop_now(c->loop);
    eddy_loop_get_stats(c->loop, &st);
    k->idle_iter = st.iterations;
    eddy__list_push(&h->idle, &k->host_link);
    eddy__list_push(&c->idle, &k->idle_link);
    c->stats.idle++;
    eddy__hconn_read(k);
    if (c->idle_timer == 0)
        eddy_loop_call_later(c->loop, c->opt.pool_idle_ms, on_idle_timer, c,
                             &c->idle_timer);
    if (!eddy__list_empty(&c->queue))
        eddy__pool_dispatch(c); /* others may wait for a place */
}

void eddy__pool_forget(eddy__hconn *k)
{
    eddy__host *h = k->h;

    if (h == NULL)
        return;
    if (k->state == EDDY__C_IDLE) {
        eddy__list_unlink(&k->host_link);
        eddy__list_unlink(&k->idle_link);
        k->c->stats.idle--;
    }
    if (k->state == EDDY__C_CONNECTING)
        h->nconnecting--;
    h->nconns--;
    k->c->stats.connections--;
    k->h = NULL;
    eddy__pool_unref(h);
}

void eddy__pool_connected(eddy__hconn *k, int status)
{
    eddy__pool_connected_why(k, status, NULL);
}

void eddy__pool_connected_why(eddy__hconn *k, int status, const char *why)
{
    eddy_http_client *c = k->c;
    eddy__host *h = k->h;
    eddy_http_fetch *f = NULL;

    if (!eddy__list_empty(&h->queue))
        f = EDDY__CONTAINER(h->queue.next, eddy_http_fetch, hqueue);
    if (status == 0) {
        h->nconnecting--;
        k->state = EDDY__C_BUSY;
        if (f != NULL) {
            eddy__pool_unqueue(f);
            eddy__hconn_start(k, f);
        } else {
            eddy__pool_release(k);
        }
        return;
    }
    if (f != NULL) /* first: closing k serves the queue */
        eddy__pool_unqueue(f);
    eddy__hconn_close(k); /* counts drop; k is gone */
    if (f != NULL)
        eddy__fetch_finish(
            f, status == -ETIMEDOUT ? EDDY_HTTP_ECONNTIMEOUT : status, why);
    if (!c->freed)
        eddy__pool_dispatch(c);
}
