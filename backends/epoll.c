/*
 * backends/epoll.c - the Linux epoll(7) backend, level-triggered.
 *
 * epoll's traps, and what this file does about each:
 *
 * - epoll watches open file descriptions, not fd numbers.  close(fd) drops
 *   the registration only when fd was the last reference to the file: after
 *   dup(), or in a process that forked while the fd was open, the
 *   registration outlives the number and keeps reporting events under the
 *   old number.  Every registration therefore carries a generation in the
 *   upper half of epoll_data (the fd is in the lower half).  An event whose
 *   generation the loop does not expect comes from such an orphan, which no
 *   epoll_ctl can reach any more (it is keyed by a file we no longer hold),
 *   so the loop calls reset, which recreates the epoll instance.
 *
 * - The loop removes fds lazily and a caller may add the same number back
 *   before the removal is applied.  The number may have been closed and
 *   reopened in between, so such an add is EPOLL_CTL_MOD (one system call
 *   when the file is the same) falling back to EPOLL_CTL_ADD on ENOENT (a
 *   new file behind the old number).
 *
 * - EPOLL_CTL_DEL on a closed fd fails with EBADF; the registration is
 *   already gone unless the file lives on elsewhere (first trap).
 *
 * - Regular files and directories are always ready and cannot be added:
 *   epoll_ctl fails with EPERM, and so does add.
 *
 * - After fork() parent and child share the epoll instance: a child must
 *   call eddy_loop_fork(), which comes here as reset.
 *
 * - The event array is sized for a wakeup's worth of fds; when a poll fills
 *   it the loop doubles it, so no fd starves behind a full array.
 */
#define _GNU_SOURCE
#include "backend.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

const int eddy__backend_max_fd = INT_MAX;
const char eddy__backend_name[] = "epoll";
const int eddy__backend_has_gen = 1;
const int eddy__backend_close_drops = 1;

/* The data of the wakeup fd's registration: no real fd has this value. */
#define WAKE_DATA UINT64_MAX

struct eddy__backend {
    int epfd;
    eddy__wakefd wake;
    int nevents;
    struct epoll_event *events;
};

static int open_kernel(eddy__backend *b, int with_wake)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_DATA};
    int err = 0;

    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0)
        return -errno;
    if (with_wake)
        err = eddy__wakefd_open(&b->wake);
    if (err == 0 && epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->wake.rfd, &ev) != 0)
        err = -errno;
    return err;
}

static void close_kernel(eddy__backend *b, int with_wake)
{
    if (with_wake)
        eddy__wakefd_close(&b->wake);
    if (b->epfd >= 0)
        close(b->epfd);
    b->epfd = -1;
}

int eddy__backend_new(eddy__backend **out)
{
    eddy__backend *b = calloc(1, sizeof *b);
    int err;

    if (b == NULL)
        return -ENOMEM;
    b->epfd = b->wake.rfd = b->wake.wfd = -1;
    b->nevents = 64;
    b->events = malloc((size_t)b->nevents * sizeof *b->events);
    err = b->events == NULL ? -ENOMEM : open_kernel(b, 1);
    if (err != 0) {
        eddy__backend_free(b);
        return err;
    }
    *out = b;
    return 0;
}

void eddy__backend_free(eddy__backend *b)
{
    close_kernel(b, 1);
    free(b->events);
    free(b);
}

int eddy__backend_reset(eddy__backend *b, int after_fork)
{
    close_kernel(b, after_fork);
    return open_kernel(b, after_fork);
}

static struct epoll_event to_epoll(int fd, unsigned events, uint32_t gen)
{
    struct epoll_event ev;

    ev.events = (events & 1 ? EPOLLIN : 0) | (events & 2 ? EPOLLOUT : 0);
    ev.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)gen << 32;
    return ev;
}

int eddy__backend_add(eddy__backend *b, int fd, unsigned events, uint32_t gen,
                      int stale_old)
{
    struct epoll_event ev = to_epoll(fd, events, gen);

    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno != EEXIST || stale_old < 0)
        return -errno;
    /* EEXIST: this very file is registered under fd, so the registration
     * is not stale.  With the same events it stays as it is, old
     * generation and all: a failed ADD is much cheaper than a MOD, which
     * also polls the file. */
    if ((unsigned)stale_old == events)
        return EDDY__BACKEND_KEPT;
    return epoll_ctl(b->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

int eddy__backend_mod(eddy__backend *b, int fd, unsigned old, unsigned events,
                      uint32_t gen)
{
    struct epoll_event ev = to_epoll(fd, events, gen);

    (void)old;
    return epoll_ctl(b->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

void eddy__backend_del(eddy__backend *b, int fd, unsigned old)
{
    struct epoll_event ev = {0}; /* kernels before 2.6.9 want non-NULL */

    (void)old;
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, &ev);
}

int eddy__backend_poll(eddy__backend *b, int timeout_ms, eddy__fired *fired,
                       int max)
{
    int n, out = 0;

    if (max > b->nevents) {
        struct epoll_event *ev = realloc(b->events, (size_t)max * sizeof *ev);

        if (ev != NULL) {
            b->events = ev;
            b->nevents = max;
        }
    }
    n = epoll_wait(b->epfd, b->events, max < b->nevents ? max : b->nevents,
                   timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        const struct epoll_event *e = &b->events[i];
        uint32_t got = e->events;

        if (e->data.u64 == WAKE_DATA) {
            eddy__wakefd_drain(&b->wake);
            continue;
        }
        fired[out].fd = (int)(uint32_t)e->data.u64;
        fired[out].gen = (uint32_t)(e->data.u64 >> 32);
        fired[out].events = (got & EPOLLIN ? 1u : 0) |
                            (got & EPOLLOUT ? 2u : 0) |
                            (got & EPOLLERR ? 4u : 0) |
                            (got & EPOLLHUP ? 8u : 0);
        out++;
    }
    return out;
}

void eddy__backend_wake(eddy__backend *b)
{
    eddy__wakefd_wake(&b->wake);
}

int eddy__backend_fd(const eddy__backend *b, int *wake_fd)
{
    *wake_fd = b->wake.rfd;
    return b->epfd;
}
