/*
 * tcp/client.c - connecting by host name (Tornado's TCPClient), by Happy
 * Eyeballs (RFC 8305).
 *
 * The resolver's addresses are put in the order RFC 8305 section 4 asks:
 * the families alternate, starting with the first address's.  One attempt
 * starts at once; the next starts when the one before fails, or after the
 * Connection Attempt Delay (250 ms) with no answer, and the earlier ones
 * go on beside it.  The first attempt to connect wins; the others are
 * closed.  When every one failed, the caller hears the first address's
 * error: the address the system preferred says the most.
 *
 * A connect owns its lookup and its attempts' streams until it ends.  It
 * is freed once it ended (its callback ran, or it was cancelled) and every
 * attempt's connect callback has run, since each stream calls back exactly
 * once, also when closed.  This file must never call the owner's callback
 * inside eddy_tcp_connect(), nor after the owner cancelled.
 */
#define _GNU_SOURCE
#include "../iostream/stream_internal.h"
#include "eddy/tcp.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTEMPT_DELAY_MS 250

struct attempt {
    eddy_tcp_connector *c;
    eddy_stream *s; /* NULL once its connect callback ran */
};

struct eddy_tcp_connector {
    eddy_loop *loop;
    eddy_tcp_connect_options opt;
    eddy_addr source;
    int has_source;
    eddy_tcp_connect_cb cb;
    void *arg;
    eddy_lookup *lookup; /* pending, or NULL */
    eddy_resolver *resolver;
    eddy_addr *addrs;    /* in the order to try them */
    size_t naddrs, next; /* next: the first not tried yet */
    struct attempt *att; /* one per address */
    int live;            /* attempts whose callback has not run */
    int ended;           /* the owner was called, or cancelled */
    int first_err;       /* the first address's error */
    eddy_timer_id delay, deadline;
};

static void start_next(eddy_tcp_connector *c);

static void cancel_timer(eddy_tcp_connector *c, eddy_timer_id *t)
{
    if (*t != 0)
        eddy_loop_remove_timeout(c->loop, *t);
    *t = 0;
}

static void maybe_free(eddy_tcp_connector *c)
{
    if (!c->ended || c->live > 0 || c->lookup != NULL)
        return;
    free(c->addrs);
    free(c->att);
    free(c);
}

/* Ends the connect: s won, or err (s NULL).  Every other attempt closes;
 * their callbacks come later and only count down. */
static void end(eddy_tcp_connector *c, eddy_stream *s, int err, int call)
{
    c->ended = 1;
    cancel_timer(c, &c->delay);
    cancel_timer(c, &c->deadline);
    if (c->lookup != NULL)
        eddy_resolver_cancel(c->resolver, c->lookup);
    c->lookup = NULL;
    for (size_t i = 0; i < c->next; i++)
        if (c->att[i].s != NULL && c->att[i].s != s)
            eddy_stream_close(c->att[i].s);
    if (call)
        c->cb(s, s != NULL ? 0 : err, c->arg);
    maybe_free(c);
}

static void on_attempt(eddy_stream *s, int status, void *arg)
{
    struct attempt *a = arg;
    eddy_tcp_connector *c = a->c;

    a->s = NULL;
    c->live--;
    if (c->ended) {
        maybe_free(c);
        return;
    }
    if (status == 0) {
        end(c, s, 0, 1);
        return;
    }
    if (a == c->att)
        c->first_err = status;
    if (c->next < c->naddrs) {
        cancel_timer(c, &c->delay); /* RFC 8305: the next one now */
        start_next(c);
    } else if (c->live == 0) {
        end(c, NULL, c->first_err, 1);
    }
}

static void on_delay(eddy_loop *loop, void *arg)
{
    eddy_tcp_connector *c = arg;

    (void)loop;
    c->delay = 0;
    start_next(c);
}

/* Starts the next address's attempt, skipping those that fail at once,
 * and arms the delay for the one after. */
static void start_next(eddy_tcp_connector *c)
{
    while (c->next < c->naddrs) {
        size_t i = c->next++;
        struct attempt *a = &c->att[i];
        int err;

        a->c = c;
        err = eddy__stream_connect_addr(
            c->loop, &c->addrs[i].u.sa, c->addrs[i].len,
            c->has_source ? &c->source.u.sa : NULL, c->source.len, 0,
            &c->opt.stream, on_attempt, a, &a->s);
        if (err == 0) {
            c->live++;
            /* From now, not from the loop's cached time, which is as old
             * as this iteration: the next address must not start early. */
            eddy_loop_update_time(c->loop);
            if (c->next < c->naddrs)
                eddy_loop_call_later(c->loop, c->opt.attempt_delay_ms, on_delay,
                                     c, &c->delay);
            return;
        }
        a->s = NULL;
        if (i == 0)
            c->first_err = err;
    }
    if (c->live == 0)
        end(c, NULL, c->first_err, 1);
}

/* RFC 8305 section 4: the families alternate, the first address's first. */
static int order(eddy_tcp_connector *c, const eddy_addr *addrs, size_t n)
{
    int first = addrs[0].u.sa.sa_family;
    size_t a = 0, b = 0, k = 0;

    c->addrs = malloc(n * sizeof *c->addrs);
    c->att = calloc(n, sizeof *c->att);
    if (c->addrs == NULL || c->att == NULL)
        return -ENOMEM;
    while (k < n) {
        while (a < n && addrs[a].u.sa.sa_family != first)
            a++;
        if (a < n)
            c->addrs[k++] = addrs[a++];
        while (b < n && addrs[b].u.sa.sa_family == first)
            b++;
        if (b < n)
            c->addrs[k++] = addrs[b++];
    }
    c->naddrs = n;
    return 0;
}

static void on_lookup(eddy_resolver *r, int status, const eddy_addr *addrs,
                      size_t n, void *arg)
{
    eddy_tcp_connector *c = arg;

    (void)r;
    c->lookup = NULL;
    if (status == 0 && (status = order(c, addrs, n)) == 0)
        start_next(c);
    else
        end(c, NULL, status, 1);
}

static void on_deadline(eddy_loop *loop, void *arg)
{
    eddy_tcp_connector *c = arg;

    (void)loop;
    c->deadline = 0;
    end(c, NULL, -ETIMEDOUT, 1);
}

/* Parses a numeric address of family (AF_UNSPEC: either) into *a. */
static int numeric(const char *host, uint16_t port, int family, eddy_addr *a)
{
    struct addrinfo hints = {0}, *ai;
    char service[8];

    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(service, sizeof service, "%u", (unsigned)port);
    if (getaddrinfo(host, service, &hints, &ai) != 0)
        return -EINVAL;
    if (ai->ai_addrlen > sizeof a->u) {
        freeaddrinfo(ai);
        return -EINVAL;
    }
    memset(a, 0, sizeof *a);
    memcpy(&a->u, ai->ai_addr, ai->ai_addrlen);
    a->len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* Without a resolver: the one numeric address, in the next iteration. */
static void on_numeric(eddy_loop *loop, void *arg)
{
    eddy_tcp_connector *c = arg;

    (void)loop;
    c->delay = 0;
    start_next(c);
}

static int begin(eddy_tcp_connector *c, const char *host, uint16_t port)
{
    eddy_addr a;
    int err;

    if (c->resolver != NULL)
        return eddy_resolver_lookup(c->resolver, host, port, c->opt.family,
                                    on_lookup, c, &c->lookup);
    if ((err = numeric(host, port, c->opt.family, &a)) != 0 ||
        (err = order(c, &a, 1)) != 0)
        return err;
    return eddy_loop_call_later(c->loop, 0, on_numeric, c, &c->delay);
}

int eddy_tcp_connect(eddy_loop *loop, eddy_resolver *resolver, const char *host,
                     uint16_t port, const eddy_tcp_connect_options *opts,
                     eddy_tcp_connect_cb cb, void *arg,
                     eddy_tcp_connector **out)
{
    eddy_tcp_connector *c;
    int err = 0;

    if (host == NULL || cb == NULL)
        return -EINVAL;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return -ENOMEM;
    c->loop = loop;
    c->resolver = resolver;
    c->cb = cb;
    c->arg = arg;
    if (opts != NULL)
        c->opt = *opts;
    if (c->opt.attempt_delay_ms == 0)
        c->opt.attempt_delay_ms = ATTEMPT_DELAY_MS;
    if (c->opt.family != AF_UNSPEC && c->opt.family != AF_INET &&
        c->opt.family != AF_INET6)
        err = -EINVAL;
    if (err == 0 && c->opt.source_address != NULL) {
        err = numeric(c->opt.source_address, 0, c->opt.family, &c->source);
        c->has_source = 1;
        c->opt.family = c->source.u.sa.sa_family;
    }
    if (err == 0)
        err = begin(c, host, port);
    if (err == 0 && c->opt.timeout_ms != 0) {
        eddy_loop_update_time(loop); /* as in eddy_stream_connect() */
        err = eddy_loop_call_later(loop, c->opt.timeout_ms, on_deadline, c,
                                   &c->deadline);
    }
    if (err != 0) {
        c->ended = 1;
        cancel_timer(c, &c->delay);
        if (c->lookup != NULL)
            eddy_resolver_cancel(resolver, c->lookup);
        c->lookup = NULL;
        maybe_free(c);
        return err;
    }
    if (out != NULL)
        *out = c;
    return 0;
}

void eddy_tcp_connect_cancel(eddy_tcp_connector *c)
{
    end(c, NULL, -ECANCELED, 0);
}
