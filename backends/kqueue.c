/*
 * backends/kqueue.c - the kqueue(2) backend (FreeBSD, macOS and the other
 * BSDs; libkqueue elsewhere: docs/porting.md), level-triggered.
 *
 * kqueue's traps, and what this file does about each:
 *
 * - Reading and writing are separate filters, so one fd can come back as
 *   two kevents, in any order.  A slot map indexed by fd merges them: the
 *   handler runs once, with READ|WRITE, as with epoll.
 *
 * - EV_ERROR is only reported for changelist entries.  Each change goes in
 *   alone and at once, failing with its errno like epoll_ctl (-EBADF for a
 *   closed fd); a half-done add or mod is undone.
 *
 * - EV_EOF comes with data still to read: it is READ|HUP (WRITE|HUP on the
 *   write filter), never HUP alone, plus ERROR if fflags holds an error.
 *
 * - Every change overwrites udata, so every EV_ADD passes the current
 *   generation.  NOTE_TRIGGER clobbers the wakeup's: its filter names it.
 *
 * - close() deletes the fd's knotes, so the generation check never fires
 *   on the BSDs; it stays as a cheap net against a stray knote.
 *
 * - fork() does not pass a kqueue on, and the child may reuse its number:
 *   reset makes a new one; only the kqueue's own process closes it.
 *
 * - No EV_CLEAR on fds.  The wakeup is an EVFILT_USER with EV_CLEAR, set
 *   off by NOTE_TRIGGER (one system call, async-signal-safe); without
 *   EVFILT_USER, and on libkqueue (its kevent() locks), it is wake.c's pipe.
 *
 * - Re-adding an fd removed lazily is a plain EV_ADD (it updates or makes
 *   the knote); if that fails (libkqueue), the old filters go first.
 */
#define _GNU_SOURCE
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/event.h>
#include <time.h>
#include <unistd.h>

#if defined(EVFILT_USER) && defined(NOTE_TRIGGER) && !defined(LIBKQUEUE)
#define USER_WAKE 1
#endif

const int eddy__backend_max_fd = INT_MAX;
const char eddy__backend_name[] = "kqueue";
const int eddy__backend_has_gen = 1;
#ifdef LIBKQUEUE
const int eddy__backend_close_drops = 0; /* its knotes outlive close() */
#else
const int eddy__backend_close_drops = 1;
#endif

struct eddy__backend {
    atomic_int kq;     /* read by wake on any thread; reset stores a new one */
    pid_t pid;         /* the process that made kq: only it closes kq */
    eddy__wakefd wake; /* without USER_WAKE */
    int nevents;
    struct kevent *events;
    unsigned *slot; /* slot[fd]: fd's entry in this poll's fired[] */
    size_t nslot;
};

static int change(int kq, int fd, int filter, int flags, unsigned fflags,
                  uint32_t gen)
{
    struct kevent kev;

    EV_SET(&kev, (uintptr_t)fd, filter, flags, fflags, 0,
           (void *)(uintptr_t)gen);
    errno = 0; /* libkqueue can fail without setting it */
    if (kevent(kq, &kev, 1, NULL, 0, NULL) == 0)
        return 0;
    return errno != 0 ? -errno : -EIO;
}

/* Also makes the first kqueue.  The new one is in before the old closes. */
int eddy__backend_reset(eddy__backend *b, int after_fork)
{
    int kq = kqueue(), old = atomic_load(&b->kq), err = 0;

    if (kq < 0)
        return -errno;
    fcntl(kq, F_SETFD, FD_CLOEXEC);
#ifdef USER_WAKE
    (void)after_fork;
    err = change(kq, 0, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0);
#else
    if (after_fork) {
        eddy__wakefd_close(&b->wake);
        err = eddy__wakefd_open(&b->wake);
    }
    if (err == 0)
        err = change(kq, b->wake.rfd, EVFILT_READ, EV_ADD, 0, 0);
#endif
    atomic_store(&b->kq, kq);
    if (old >= 0 && b->pid == getpid())
        close(old);
    b->pid = getpid();
    return err;
}

int eddy__backend_new(eddy__backend **out)
{
    eddy__backend *b = calloc(1, sizeof *b);
    int err;

    if (b == NULL)
        return -ENOMEM;
    atomic_init(&b->kq, -1);
    b->wake.rfd = b->wake.wfd = -1;
    b->nevents = 64; /* made here, as on epoll: a poll never needs memory */
    b->events = malloc((size_t)b->nevents * sizeof *b->events);
    err = b->events == NULL ? -ENOMEM : eddy__backend_reset(b, 1);
    if (err != 0)
        eddy__backend_free(b);
    else
        *out = b;
    return err;
}

void eddy__backend_free(eddy__backend *b)
{
    eddy__wakefd_close(&b->wake);
    if (b->kq >= 0 && b->pid == getpid())
        close(b->kq);
    free(b->events);
    free(b->slot);
    free(b);
}

/* old -> events, one filter at a time; a failed EV_ADD undoes the others. */
int eddy__backend_mod(eddy__backend *b, int fd, unsigned old, unsigned events,
                      uint32_t gen)
{
    static const int filter[2] = {EVFILT_READ, EVFILT_WRITE};
    unsigned on = 0;
    int err = 0;

    for (unsigned i = 0; i < 2 && err == 0; i++)
        if (events & ~old & (1u << i) &&
            (err = change(b->kq, fd, filter[i], EV_ADD, 0, gen)) == 0)
            on |= 1u << i;
    for (unsigned i = 0; i < 2; i++)
        if ((err != 0 ? on : old & ~events) & (1u << i))
            change(b->kq, fd, filter[i], EV_DELETE, 0, 0);
    return err;
}

int eddy__backend_add(eddy__backend *b, int fd, unsigned events, uint32_t gen,
                      int stale_old)
{
    if ((size_t)fd >= b->nslot) {
        unsigned *p = realloc(b->slot, ((size_t)fd * 2 + 64) * sizeof *p);

        if (p == NULL)
            return -ENOMEM;
        b->slot = p;
        b->nslot = (size_t)fd * 2 + 64;
    }
    b->slot[fd] = 0;
    if (stale_old >= 0) {
        if (events != 0 && eddy__backend_mod(b, fd, 0, events, gen) == 0) {
            eddy__backend_del(b, fd, (unsigned)stale_old & ~events);
            return 0;
        }
        eddy__backend_del(b, fd, (unsigned)stale_old);
    }
    /* No filter reports a bare hangup: with no events, only check fd. */
    if (events == 0)
        return fcntl(fd, F_GETFD) < 0 ? -errno : 0;
    return eddy__backend_mod(b, fd, 0, events, gen);
}

void eddy__backend_del(eddy__backend *b, int fd, unsigned old)
{
    eddy__backend_mod(b, fd, old, 0, 0);
}

int eddy__backend_poll(eddy__backend *b, int timeout_ms, eddy__fired *fired,
                       int max)
{
    struct timespec ts = {timeout_ms / 1000, timeout_ms % 1000 * 1000000L};
    struct kevent *p;
    int n, out = 0;

    if (max > b->nevents &&
        (p = realloc(b->events, (size_t)max * sizeof *p)) != NULL) {
        b->events = p;
        b->nevents = max;
    }
    n = kevent(b->kq, NULL, 0, b->events, max < b->nevents ? max : b->nevents,
               timeout_ms < 0 ? NULL : &ts);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        const struct kevent *e = &b->events[i];
        int fd = (int)e->ident;
        uint32_t gen = (uint32_t)(uintptr_t)e->udata;
        unsigned ev = e->filter == EVFILT_READ ? 1u : 2u, j;

#ifdef USER_WAKE
        if (e->filter == EVFILT_USER)
            continue; /* EV_CLEAR has re-armed it */
#else
        if (e->filter == EVFILT_READ && fd == b->wake.rfd) {
            eddy__wakefd_drain(&b->wake);
            continue;
        }
#endif
        if ((e->flags & EV_ERROR) || e->ident >= b->nslot)
            continue;
        if (e->flags & EV_EOF)
            ev |= e->fflags != 0 ? 8u | 4u : 8u;
        j = b->slot[fd];
        if (j >= (unsigned)out || fired[j].fd != fd || fired[j].gen != gen) {
            b->slot[fd] = j = (unsigned)out++;
            fired[j] = (eddy__fired){fd, 0, gen};
        }
        fired[j].events |= ev;
    }
    return out;
}

void eddy__backend_wake(eddy__backend *b)
{
#ifdef USER_WAKE
    int saved = errno; /* kevent() with no events never blocks: no EINTR */

    change(b->kq, 0, EVFILT_USER, 0, NOTE_TRIGGER, 0);
    errno = saved;
#else
    eddy__wakefd_wake(&b->wake);
#endif
}

int eddy__backend_fd(const eddy__backend *b, int *wake_fd)
{
    *wake_fd = b->wake.rfd; /* -1 with EVFILT_USER */
#ifdef LIBKQUEUE
    return -ENOTSUP; /* its kqueue fd is a pipe's write end: never readable */
#endif
    return b->kq;
}
