/*
 * ioloop/loop.c - the loop: fd handlers, callbacks, running and stopping.
 *
 * The fd table is indexed by fd (O(1), no hashing).  Removing a handler
 * only marks its slot; the backend hears of it just before the next poll,
 * so a handler removed and added back in between (the common re-arm)
 * costs at most one system call, and none when nothing changed.  Events of
 * a poll are dropped for any fd whose handler was removed after that poll,
 * so a closed and reused fd number never sees its predecessor's events.
 *
 * This file must never block outside the backend's poll, and never call a
 * user callback while holding the lock.
 */
#define _GNU_SOURCE
#include "loop_state.h"
#include "eddy/version.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Thread_local eddy_loop *tls_current;
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static eddy_loop *default_loop;

uint64_t eddy__clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void eddy_loop_log(const eddy_loop *loop, int level, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (loop->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    loop->log(loop->log_arg, level, msg);
}

void eddy__watch_end(eddy_loop *loop, uint64_t t0, const char *kind,
                     void (*fn)(void))
{
    uint64_t took;

    if (t0 == 0)
        return;
    took = eddy__clock_ns() - t0;
    if (took / 1000 > loop->stats.longest_cb_us)
        loop->stats.longest_cb_us = took / 1000;
    if (took > loop->block_ns)
        eddy_loop_log(loop, EDDY_LOG_WARNING,
                  "%s %p blocked the loop for %.3f ms", kind, (void *)fn,
                  (double)took / 1e6);
}

static int tasks_reserve(eddy__tasks *q, size_t n)
{
    size_t cap = q->cap ? q->cap : 16;
    eddy__task *v;

    while (cap < n)
        cap *= 2;
    if (cap == q->cap)
        return 0;
    if ((v = realloc(q->v, cap * sizeof *v)) == NULL)
        return -ENOMEM;
    q->v = v;
    q->cap = cap;
    return 0;
}

static int tasks_push(eddy__tasks *q, eddy_cb cb, void *arg)
{
    if (tasks_reserve(q, q->n + 1) != 0)
        return -ENOMEM;
    q->v[q->n].cb = cb;
    q->v[q->n].arg = arg;
    q->n++;
    return 0;
}

int eddy_loop_new(eddy_loop **out)
{
    eddy_loop *loop = calloc(1, sizeof *loop);
    int err;

    if (loop == NULL)
        return -ENOMEM;
    if (pthread_mutex_init(&loop->lock, NULL) != 0) {
        free(loop);
        return -ENOMEM;
    }
    loop->round = 1;
    loop->nfired_max = 64;
    loop->fired = malloc((size_t)loop->nfired_max * sizeof *loop->fired);
    err = loop->fired == NULL ? -ENOMEM : eddy__timers_init(loop);
    if (err == 0)
        err = eddy__backend_new(&loop->backend);
    if (err != 0) {
        eddy_loop_close(loop, 0);
        return err;
    }
    loop->now = eddy__clock_ns();
    *out = loop;
    return 0;
}

void eddy_loop_close(eddy_loop *loop, int all_fds)
{
    if (loop == NULL)
        return;
    pthread_mutex_lock(&default_lock);
    if (default_loop == loop)
        default_loop = NULL;
    pthread_mutex_unlock(&default_lock);
    eddy__signals_free(loop);
    for (int fd = 0; all_fds && fd < loop->nfds; fd++)
        if (loop->fds[fd].cb != NULL)
            close(fd);
    if (loop->backend != NULL)
        eddy__backend_free(loop->backend);
    eddy__timers_free(loop);
    free(loop->fds);
    free(loop->pending);
    free(loop->fired);
    free(loop->spare_buf);
    free(loop->queue.v);
    free(loop->running.v);
    free(loop->remote.v);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}

eddy_loop *eddy_loop_default(void)
{
    eddy_loop *loop;

    pthread_mutex_lock(&default_lock);
    if (default_loop == NULL && eddy_loop_new(&default_loop) != 0)
        default_loop = NULL;
    loop = default_loop;
    pthread_mutex_unlock(&default_lock);
    return loop;
}

eddy_loop *eddy_loop_current(void)
{
    return tls_current;
}

const char *eddy_loop_backend(void)
{
    return eddy__backend_name;
}

const char *eddy_version(void)
{
    return EDDY_VERSION_STRING;
}

/* Grows the fd table (and the pending list, which never needs more room
 * than the table, so that removal cannot fail) to hold fd. */
static int fds_reserve(eddy_loop *loop, int fd)
{
    int n = loop->nfds ? loop->nfds : 64;
    struct eddy__fd *fds;
    int *pending;

    while (n <= fd)
        n = n > INT_MAX / 2 ? INT_MAX : 2 * n;
    fds = realloc(loop->fds, (size_t)n * sizeof *fds);
    if (fds == NULL)
        return -ENOMEM;
    loop->fds = fds;
    memset(fds + loop->nfds, 0, (size_t)(n - loop->nfds) * sizeof *fds);
    pending = realloc(loop->pending, (size_t)n * sizeof *pending);
    if (pending == NULL)
        return -ENOMEM; /* the table grew; the pending list did not */
    loop->pending = pending;
    loop->nfds = n;
    return 0;
}

int eddy_loop_add_handler(eddy_loop *loop, int fd, unsigned events,
                          eddy_fd_cb cb, void *arg)
{
    struct eddy__fd *s;
    int err;

    if (fd < 0)
        return -EBADF;
    if (cb == NULL || (events & ~(unsigned)(EDDY_READ | EDDY_WRITE)))
        return -EINVAL;
    if (fd >= eddy__backend_max_fd) {
        eddy_loop_log(loop, EDDY_LOG_ERROR, "%s backend: fd %d is past its limit %d",
                  eddy__backend_name, fd, eddy__backend_max_fd);
        return -ERANGE;
    }
    if (fd >= loop->nfds && (err = fds_reserve(loop, fd)) != 0)
        return err;
    s = &loop->fds[fd];
    if (s->cb != NULL)
        return -EEXIST;
    err = eddy__backend_add(loop->backend, fd, events, s->gen + 1,
                            s->flags & EDDY__FD_KERNEL ? (int)s->mask : -1);
    if (err < 0)
        return err;
    if (err != EDDY__BACKEND_KEPT)
        s->gen++;
    s->cb = cb;
    s->arg = arg;
    s->mask = (uint8_t)events;
    s->flags |= EDDY__FD_KERNEL;
    loop->nhandlers++;
    return 0;
}

int eddy_loop_update_handler(eddy_loop *loop, int fd, unsigned events)
{
    struct eddy__fd *s;
    int err;

    if (fd < 0 || fd >= loop->nfds || loop->fds[fd].cb == NULL)
        return fd < 0 ? -EBADF : -ENOENT;
    if (events & ~(unsigned)(EDDY_READ | EDDY_WRITE))
        return -EINVAL;
    s = &loop->fds[fd];
    /* Its fd was closed under it before a reset could re-add it: the
     * backend has no entry to change (poll's would be the wakeup's). */
    if (!(s->flags & EDDY__FD_KERNEL))
        return -EBADF;
    if (events == s->mask)
        return 0;
    err = eddy__backend_mod(loop->backend, fd, s->mask, events, s->gen);
    if (err == 0)
        s->mask = (uint8_t)events;
    return err;
}

int eddy_loop_remove_handler(eddy_loop *loop, int fd)
{
    struct eddy__fd *s;

    if (fd < 0 || fd >= loop->nfds || loop->fds[fd].cb == NULL)
        return fd < 0 ? -EBADF : -ENOENT;
    s = &loop->fds[fd];
    s->cb = NULL;
    s->arg = NULL;
    s->removed_round = loop->round;
    if (!(s->flags & EDDY__FD_PENDING)) {
        s->flags |= EDDY__FD_PENDING;
        loop->pending[loop->npending++] = fd;
    }
    loop->nhandlers--;
    return 0;
}

int eddy_loop_close_fd(eddy_loop *loop, int fd)
{
    if (fd < 0)
        return -EBADF;
    if (fd < loop->nfds) {
        eddy_loop_remove_handler(loop, fd);
        if (eddy__backend_close_drops)
            loop->fds[fd].flags &= (uint8_t)~EDDY__FD_KERNEL;
    }
    return close(fd) == 0 ? 0 : -errno;
}

/* Applies the removals that no add took back. */
static void flush_removals(eddy_loop *loop)
{
    for (int i = 0; i < loop->npending; i++) {
        int fd = loop->pending[i];
        struct eddy__fd *s = &loop->fds[fd];

        s->flags &= (uint8_t)~EDDY__FD_PENDING;
        if (s->cb == NULL && (s->flags & EDDY__FD_KERNEL)) {
            eddy__backend_del(loop->backend, fd, s->mask);
            s->flags &= (uint8_t)~EDDY__FD_KERNEL;
        }
    }
    loop->npending = 0;
}

/* Gives the backend new kernel objects and every handler again: after
 * fork, or when epoll reported an fd through a registration we lost. */
static int reset_backend(eddy_loop *loop, int after_fork)
{
    sigset_t all, old;
    int err;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    err = eddy__backend_reset(loop->backend, after_fork);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    loop->npending = 0;
    for (int fd = 0; fd < loop->nfds; fd++) {
        struct eddy__fd *s = &loop->fds[fd];

        s->flags = 0;
        if (s->cb == NULL || err != 0)
            continue;
        if (eddy__backend_add(loop->backend, fd, s->mask, ++s->gen, -1) == 0)
            s->flags = EDDY__FD_KERNEL;
        else
            eddy_loop_log(loop, EDDY_LOG_ERROR,
                      "fd %d can no longer be watched: closed before its "
                      "handler was removed?", fd);
    }
    return err;
}

int eddy_loop_fork(eddy_loop *loop)
{
    return reset_backend(loop, 1);
}

static void dispatch_fds(eddy_loop *loop, int n)
{
    const eddy__fired *fired = loop->fired;
    int lost = 0;

    for (int i = 0; i < n; i++) {
        int fd = fired[i].fd;
        struct eddy__fd *s;
        eddy_fd_cb cb;
        unsigned ev;
        uint64_t t0;

        if (eddy__unlikely(fd >= loop->nfds)) {
            lost = eddy__backend_has_gen;
            continue;
        }
        s = &loop->fds[fd];
        if (s->removed_round == loop->round)
            continue;
        if (eddy__backend_has_gen && (s->cb == NULL || fired[i].gen != s->gen)) {
            lost = 1;
            continue;
        }
        ev = fired[i].events & (s->mask | EDDY_ERROR | EDDY_HUP);
        cb = s->cb;
        if (ev == 0 || cb == NULL)
            continue;
        loop->stats.events++;
        t0 = eddy__watch_start(loop);
        cb(loop, fd, ev, s->arg);
        eddy__watch_end(loop, t0, "fd handler", (void (*)(void))cb);
    }
    if (eddy__unlikely(lost)) {
        eddy_loop_log(loop, EDDY_LOG_WARNING,
                  "%s reported an fd through a registration that outlived "
                  "its handler (closed while dup'd or shared with a child); "
                  "recreating the poller", eddy__backend_name);
        reset_backend(loop, 0);
    }
}

int eddy_loop_add_callback(eddy_loop *loop, eddy_cb cb, void *arg)
{
    int err;

    if (cb == NULL)
        return -EINVAL;
    if (tls_current == loop)
        return tasks_push(&loop->queue, cb, arg);
    pthread_mutex_lock(&loop->lock);
    err = tasks_push(&loop->remote, cb, arg);
    if (err == 0)
        atomic_fetch_add(&loop->remote_n, 1);
    pthread_mutex_unlock(&loop->lock);
    if (err == 0 && !atomic_exchange(&loop->wake_pending, 1))
        eddy__backend_wake(loop->backend);
    return err;
}

/* Runs the callbacks queued before this call; later ones wait. */
static void run_callbacks(eddy_loop *loop)
{
    eddy__tasks t;

    /* Other threads' callbacks join the queue; out of memory, they wait. */
    if (atomic_load_explicit(&loop->remote_n, memory_order_relaxed) != 0) {
        pthread_mutex_lock(&loop->lock);
        if (tasks_reserve(&loop->queue, loop->queue.n + loop->remote.n) == 0) {
            memcpy(loop->queue.v + loop->queue.n, loop->remote.v,
                   loop->remote.n * sizeof *loop->remote.v);
            loop->queue.n += loop->remote.n;
            loop->remote.n = 0;
            atomic_store(&loop->remote_n, 0);
        }
        pthread_mutex_unlock(&loop->lock);
    }
    if (loop->queue.n == 0)
        return;
    t = loop->running;
    loop->running = loop->queue;
    loop->queue = t;
    for (size_t i = 0; i < loop->running.n; i++) {
        eddy__task task = loop->running.v[i];
        uint64_t t0 = eddy__watch_start(loop);

        task.cb(loop, task.arg);
        eddy__watch_end(loop, t0, "callback", (void (*)(void))task.cb);
    }
    loop->stats.callbacks_run += loop->running.n;
    loop->running.n = 0;
}

/* 0 when callbacks or signals wait, else until the first timer. */
static int timeout_from(const eddy_loop *loop, uint64_t now)
{
    if (loop->queue.n != 0 || atomic_load(&loop->remote_n) != 0 ||
        atomic_load_explicit(&loop->sig_any, memory_order_relaxed))
        return 0;
    return eddy__timers_timeout(loop, now);
}

/* From the clock, not the cached time: a host embedding the loop asks
 * after doing its own work. */
int eddy_loop_timeout(const eddy_loop *loop)
{
    return timeout_from(loop, eddy__clock_ns());
}

/* One iteration.  once: eddy_loop_run_once(), which does not wait when
 * callbacks or timers already ran (the caller asked for one round). */
static int iterate(eddy_loop *loop, int timeout_ms, int once)
{
    uint64_t ran = loop->stats.callbacks_run + loop->stats.timers_run;
    int n, t;

    run_callbacks(loop);
    loop->now = eddy__clock_ns();
    eddy__timers_run(loop);
    ran = loop->stats.callbacks_run + loop->stats.timers_run - ran;

    if (atomic_load_explicit(&loop->wake_pending, memory_order_relaxed))
        atomic_store(&loop->wake_pending, 0);
    /* The clock again only with timers: those just run took time. */
    t = atomic_load_explicit(&loop->stop, memory_order_relaxed) || (once && ran)
            ? 0
            : timeout_from(loop, loop->heap_n ? eddy__clock_ns() : loop->now);
    if (timeout_ms >= 0 && (t < 0 || t > timeout_ms))
        t = timeout_ms;
    flush_removals(loop);
    n = eddy__backend_poll(loop->backend, t, loop->fired, loop->nfired_max);
    if (n < 0) {
        eddy_loop_log(loop, EDDY_LOG_ERROR, "%s poll failed: %s",
                  eddy__backend_name, strerror(-n));
        return n;
    }
    /* Removals from here on drop this poll's events for their fds; those
     * before it were applied or taken back by an add, so it saw those. */
    loop->round++;
    if (t != 0)
        loop->now = eddy__clock_ns();
    if (atomic_load_explicit(&loop->sig_any, memory_order_relaxed))
        eddy__signals_dispatch(loop);
    dispatch_fds(loop, n);
    loop->stats.iterations++;
    if (n == loop->nfired_max && n < 65536) {
        eddy__fired *f = realloc(loop->fired, 2 * (size_t)n * sizeof *f);

        if (f != NULL) {
            loop->fired = f;
            loop->nfired_max = 2 * n;
        }
    }
    return 0;
}

/* Runs one iteration (once) or until stopped, as the thread's loop. */
static int enter(eddy_loop *loop, int once, int timeout_ms)
{
    eddy_loop *outer = tls_current;
    int err = 0;

    if (loop->in_run)
        return -EBUSY;
    loop->in_run = 1;
    tls_current = loop;
    if (once)
        err = iterate(loop, timeout_ms, 1);
    while (!once && !atomic_exchange(&loop->stop, 0) && err == 0)
        err = iterate(loop, -1, 0);
    tls_current = outer;
    loop->in_run = 0;
    return err;
}

int eddy_loop_run_once(eddy_loop *loop, int timeout_ms)
{
    return enter(loop, 1, timeout_ms);
}

int eddy_loop_run(eddy_loop *loop)
{
    return enter(loop, 0, -1);
}

void eddy_loop_stop(eddy_loop *loop)
{
    /* Always wake: a signal handler must not touch thread-local storage,
     * and a stop is rare enough that one write costs nothing. */
    atomic_store(&loop->stop, 1);
    eddy__backend_wake(loop->backend);
}

int eddy_loop_backend_fd(const eddy_loop *loop)
{
    int wake_fd;

    return eddy__backend_fd(loop->backend, &wake_fd);
}

static short to_poll_events(unsigned mask)
{
    return (short)((mask & EDDY_READ ? POLLIN : 0) |
                   (mask & EDDY_WRITE ? POLLOUT : 0));
}

/* The backend's fd when it has one; else the wakeup's and every watched
 * one, from the loop's table rather than the backend's, which may still
 * hold fds whose removal waits for the next poll (closed ones among them,
 * which would wake the host for nothing). */
int eddy_loop_query_fds(const eddy_loop *loop, struct pollfd *fds, size_t max,
                        size_t *n)
{
    int wake_fd, bfd = eddy__backend_fd(loop->backend, &wake_fd);
    size_t need = bfd >= 0 ? 1 : (size_t)loop->nhandlers + (wake_fd >= 0);
    size_t k = 0;

    *n = need;
    if (need > max)
        return -ENOSPC;
    if (bfd >= 0 || wake_fd >= 0) {
        fds[k].fd = bfd >= 0 ? bfd : wake_fd;
        fds[k].events = POLLIN;
        fds[k++].revents = 0;
    }
    for (int fd = 0; bfd < 0 && k < need && fd < loop->nfds; fd++) {
        if (loop->fds[fd].cb == NULL)
            continue;
        fds[k].fd = fd;
        fds[k].events = to_poll_events(loop->fds[fd].mask);
        fds[k++].revents = 0;
    }
    return 0;
}

uint64_t eddy_loop_now(const eddy_loop *loop)
{
    return loop->now / 1000000u;
}

void eddy_loop_update_time(eddy_loop *loop)
{
    loop->now = eddy__clock_ns();
}

void *eddy__loop_take_spare(eddy_loop *loop)
{
    void *buf = loop->spare_buf;

    loop->spare_buf = NULL;
    return buf;
}

void *eddy__loop_give_spare(eddy_loop *loop, void *buf)
{
    if (loop->spare_buf != NULL)
        return buf;
    loop->spare_buf = buf;
    return NULL;
}

void eddy_loop_set_log(eddy_loop *loop, eddy_log_fn fn, void *arg)
{
    loop->log = fn;
    loop->log_arg = arg;
}

void eddy_loop_set_blocking_threshold(eddy_loop *loop, uint64_t ms)
{
    loop->block_ns = ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
}

void eddy_loop_get_stats(const eddy_loop *loop, eddy_loop_stats *out)
{
    *out = loop->stats;
    out->handlers = loop->nhandlers;
    out->timers = loop->heap_n - loop->ndead;
}
