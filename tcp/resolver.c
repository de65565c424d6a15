/*
 * tcp/resolver.c - name resolution off the loop thread (Tornado's
 * Resolver): getaddrinfo(3) on a few threads, answers as loop callbacks.
 *
 * The resolver is shared by the loop thread and its workers, under one
 * mutex, and counted: one reference for the owner (until
 * eddy_resolver_free), one per worker thread, one while a delivery is
 * queued on the loop.  Whoever drops the last frees it.  So a worker stuck
 * in getaddrinfo when the owner frees the resolver (and maybe closes the
 * loop) is never waited for: it finds the resolver closed when it returns,
 * frees its answer and exits, touching neither the loop nor the owner's
 * memory.
 *
 * A lookup is on at most one list at a time: queued (waiting for a
 * worker), or done (answered, waiting for the loop to deliver it); while a
 * worker runs it, it is on none.  Answers reach the loop through one
 * eddy_loop_add_callback() per batch.  Workers are detached, start when a
 * lookup finds none idle (up to max_threads), block every signal, and
 * exit after idle_ms without work.
 *
 * This file must never call getaddrinfo or any other blocking function on
 * the loop thread (numeric addresses are parsed there: that never blocks),
 * and never run a callback while holding the mutex.
 */
#define _GNU_SOURCE
#include "eddy/tcp.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_HOST 1024

struct eddy_lookup {
    eddy_lookup *prev, *next; /* on the queue, on done, or neither */
    int list;                 /* L_NONE, L_QUEUED, L_DONE */
    int cancelled;            /* while a worker runs it */
    char *host;
    uint16_t port;
    int family;
    eddy_lookup_cb cb;
    void *arg;
    int status;
    eddy_addr *addrs;
    size_t n;
};

enum { L_NONE, L_QUEUED, L_DONE };

struct list {
    eddy_lookup *head, *tail;
};

struct eddy_resolver {
    eddy_loop *loop;
    eddy_resolver_options opt;
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct list queued, done;
    unsigned threads, idle;
    int refs;
    int closed;   /* the owner freed it */
    int delivery; /* a deliver() is queued on the loop */
};

static void push(struct list *l, eddy_lookup *q, int which)
{
    q->list = which;
    q->next = NULL;
    q->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
}

static void unlink_from(struct list *l, eddy_lookup *q)
{
    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        l->head = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    else
        l->tail = q->prev;
    q->list = L_NONE;
}

static void lookup_free(eddy_lookup *q)
{
    free(q->host);
    free(q->addrs);
    free(q);
}

static void free_list(struct list *l)
{
    while (l->head != NULL) {
        eddy_lookup *q = l->head;

        unlink_from(l, q);
        lookup_free(q);
    }
}

/* Drops a reference, with the lock held; frees r when it was the last. */
static void unref_locked(eddy_resolver *r)
{
    if (--r->refs > 0) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    pthread_mutex_unlock(&r->lock);
    pthread_cond_destroy(&r->work);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int eddy_resolver_new(eddy_loop *loop, const eddy_resolver_options *opts,
                      eddy_resolver **out)
{
    eddy_resolver *r = calloc(1, sizeof *r);
    int err;

    if (r == NULL)
        return -ENOMEM;
    r->loop = loop;
    if (opts != NULL)
        r->opt = *opts;
    r->opt.max_threads = r->opt.max_threads ? r->opt.max_threads : 4;
    r->opt.idle_ms = r->opt.idle_ms ? r->opt.idle_ms : 5000;
    r->refs = 1;
    if ((err = pthread_mutex_init(&r->lock, NULL)) != 0) {
        free(r);
        return -err;
    }
    if ((err = pthread_cond_init(&r->work, NULL)) != 0) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return -err;
    }
    *out = r;
    return 0;
}

/* --- answers ------------------------------------------------------------ */

static int map_eai(int rc, int sys_errno)
{
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return EDDY_ENOTFOUND;
    case EAI_AGAIN:
        return EDDY_ETRYAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_FAMILY:
        return -EAFNOSUPPORT;
    case EAI_SYSTEM:
        return sys_errno != 0 ? -sys_errno : EDDY_ERESOLVE;
    default:
        return EDDY_ERESOLVE;
    }
}

/* Appends sa with q's port, unless it is there already (the system's
 * answer may repeat a loopback address added for localhost). */
static int add_addr(eddy_lookup *q, const struct sockaddr *sa, socklen_t len)
{
    eddy_addr t, *a;

    if (len > sizeof t.u)
        return 0;
    memset(&t, 0, sizeof t);
    memcpy(&t.u, sa, len);
    t.len = len;
    if (sa->sa_family == AF_INET)
        t.u.in4.sin_port = htons(q->port);
    else
        t.u.in6.sin6_port = htons(q->port);
    for (size_t i = 0; i < q->n; i++)
        if (q->addrs[i].len == len && memcmp(&q->addrs[i].u, &t.u, len) == 0)
            return 0;
    if ((a = realloc(q->addrs, (q->n + 1) * sizeof *a)) == NULL)
        return -ENOMEM;
    q->addrs = a;
    q->addrs[q->n++] = t;
    return 0;
}

/* Whether host is name or a name under it, with or without the root's
 * trailing dot, in any case. */
static int in_domain(const char *host, const char *name)
{
    size_t h = strlen(host), n = strlen(name);

    if (h > 0 && host[h - 1] == '.')
        h--;
    return h >= n && strncasecmp(host + h - n, name, n) == 0 &&
           (h == n || host[h - n - 1] == '.');
}

/* localhost's addresses, the system's or not (RFC 6761 6.3). */
static int add_loopback(eddy_lookup *q)
{
    struct sockaddr_in6 six = {0};
    struct sockaddr_in four = {0};
    int err = 0;

    six.sin6_family = AF_INET6;
    six.sin6_addr = in6addr_loopback;
    four.sin_family = AF_INET;
    four.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (q->family != AF_INET)
        err = add_addr(q, (struct sockaddr *)&six, sizeof six);
    if (err == 0 && q->family != AF_INET6)
        err = add_addr(q, (struct sockaddr *)&four, sizeof four);
    return err;
}

/* Runs getaddrinfo for q and stores the answer in it.  flags: 0 on a
 * worker, AI_NUMERICHOST on the loop thread. */
static int resolve(eddy_lookup *q, int flags)
{
    struct addrinfo hints = {0}, *res = NULL;
    int localhost = flags == 0 && in_domain(q->host, "localhost");
    int rc, err = 0;

    hints.ai_family = q->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    errno = 0;
    rc = getaddrinfo(q->host, NULL, &hints, &res);
    if (localhost)
        err = add_loopback(q);
    for (struct addrinfo *ai = res; rc == 0 && err == 0 && ai != NULL;
         ai = ai->ai_next)
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            err = add_addr(q, ai->ai_addr, ai->ai_addrlen);
    if (res != NULL)
        freeaddrinfo(res);
    if (err != 0)
        q->status = err;
    else if (q->n == 0)
        q->status = rc != 0 ? map_eai(rc, errno) : EDDY_ENOTFOUND;
    return rc;
}

/* Hands the answers over, one at a time: a callback may cancel another
 * lookup that is done, or free the resolver. */
static void deliver(eddy_loop *loop, void *arg)
{
    eddy_resolver *r = arg;
    eddy_lookup *q;

    (void)loop;
    pthread_mutex_lock(&r->lock);
    r->delivery = 0;
    while (!r->closed && (q = r->done.head) != NULL) {
        unlink_from(&r->done, q);
        pthread_mutex_unlock(&r->lock);
        q->cb(r, q->status, q->addrs, q->n, q->arg);
        lookup_free(q);
        pthread_mutex_lock(&r->lock);
    }
    unref_locked(r);
}

/* Queues q's answer for the loop; the lock is held. */
static void answer_locked(eddy_resolver *r, eddy_lookup *q)
{
    push(&r->done, q, L_DONE);
    /* On failure (no memory) the answer waits for the next one's call. */
    if (!r->delivery && eddy_loop_add_callback(r->loop, deliver, r) == 0) {
        r->delivery = 1;
        r->refs++;
    }
}

/* --- the workers -------------------------------------------------------- */

/* Waits for a lookup; NULL when the resolver closed or idle_ms passed. */
static eddy_lookup *next_locked(eddy_resolver *r)
{
    struct timespec until;
    int timed_out = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += r->opt.idle_ms / 1000;
    until.tv_nsec += (long)(r->opt.idle_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (!r->closed && r->queued.head == NULL && !timed_out) {
        r->idle++;
        timed_out =
            pthread_cond_timedwait(&r->work, &r->lock, &until) == ETIMEDOUT;
        r->idle--;
    }
    if (r->closed || r->queued.head == NULL)
        return NULL;
    return r->queued.head;
}

static void *worker(void *arg)
{
    eddy_resolver *r = arg;
    eddy_lookup *q;

    pthread_mutex_lock(&r->lock);
    while ((q = next_locked(r)) != NULL) {
        unlink_from(&r->queued, q);
        pthread_mutex_unlock(&r->lock);
        resolve(q, 0);
        pthread_mutex_lock(&r->lock);
        if (q->cancelled || r->closed)
            lookup_free(q);
        else
            answer_locked(r, q);
    }
    r->threads--;
    unref_locked(r);
    return NULL;
}

/* Starts a worker with every signal blocked: signals are the loop's. */
static int start_worker_locked(eddy_resolver *r)
{
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_t t;
    int err;

    if ((err = pthread_attr_init(&attr)) != 0)
        return err;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&t, &attr, worker, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err == 0) {
        r->threads++;
        r->refs++;
    }
    return err;
}

/* --- lookups ------------------------------------------------------------ */

int eddy_resolver_lookup(eddy_resolver *r, const char *host, uint16_t port,
                         int family, eddy_lookup_cb cb, void *arg,
                         eddy_lookup **out)
{
    eddy_lookup *q;
    int err = 0;

    if (host == NULL || host[0] == '\0' || cb == NULL ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return -EINVAL;
    if (strlen(host) > MAX_HOST)
        return -ENAMETOOLONG;
    if ((q = calloc(1, sizeof *q)) == NULL ||
        (q->host = strdup(host)) == NULL) {
        free(q);
        return -ENOMEM;
    }
    q->port = port;
    q->family = family;
    q->cb = cb;
    q->arg = arg;
    pthread_mutex_lock(&r->lock);
    if (in_domain(host, "invalid")) {
        q->status = EDDY_ENOTFOUND; /* RFC 6761 6.4: never asked */
        answer_locked(r, q);
    } else if (resolve(q, AI_NUMERICHOST) == 0 || q->status == -ENOMEM) {
        answer_locked(r, q);
    } else {
        q->status = 0;
        push(&r->queued, q, L_QUEUED);
        if (r->idle > 0)
            pthread_cond_signal(&r->work);
        else if (r->threads < r->opt.max_threads &&
                 (err = start_worker_locked(r)) != 0 && r->threads > 0)
            err = 0; /* the running ones will get to it */
        if (err != 0)
            unlink_from(&r->queued, q);
    }
    pthread_mutex_unlock(&r->lock);
    if (err != 0) {
        lookup_free(q);
        return -EAGAIN;
    }
    if (out != NULL)
        *out = q;
    return 0;
}

void eddy_resolver_cancel(eddy_resolver *r, eddy_lookup *q)
{
    pthread_mutex_lock(&r->lock);
    if (q->list == L_NONE) {
        q->cancelled = 1; /* its worker frees it */
        q = NULL;
    } else {
        unlink_from(q->list == L_QUEUED ? &r->queued : &r->done, q);
    }
    pthread_mutex_unlock(&r->lock);
    if (q != NULL)
        lookup_free(q);
}

void eddy_resolver_free(eddy_resolver *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->closed = 1;
    free_list(&r->queued);
    free_list(&r->done);
    pthread_cond_broadcast(&r->work);
    unref_locked(r);
}
