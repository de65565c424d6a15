/*
 * backends/poll.c - the POSIX poll(2) backend, for systems with neither
 * epoll nor kqueue, and as a portable reference.
 *
 * poll's traps, and what this file does about each:
 *
 * - poll scans every watched fd on every call: O(n) per wakeup.  The array
 *   stays dense (removal moves the last entry into the hole, found through
 *   an fd-indexed position map), so the scan never walks holes, and the
 *   result scan stops once it has found as many ready fds as poll returned.
 *
 * - Interest lives in user space, so there is nothing to register, nothing
 *   that outlives a close(), and nothing shared after fork() except the
 *   wakeup fd, which reset recreates.
 *
 * - A closed fd left in the array makes poll report POLLNVAL for it rather
 *   than fail; it is passed up as EDDY_ERROR so the owner hears of it.
 *
 * - POLLHUP and POLLERR are output-only and reported without being asked;
 *   POLLHUP may come with POLLIN while data is still buffered.
 *
 * - The fd limit is RLIMIT_NOFILE; nfds_t is unsigned, and the array grows
 *   by doubling.
 */
#define _GNU_SOURCE
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

const int eddy__backend_max_fd = INT_MAX;
const char eddy__backend_name[] = "poll";
const int eddy__backend_has_gen = 0;
const int eddy__backend_close_drops = 0;

struct eddy__backend {
    struct pollfd *pfds; /* pfds[0] is the wakeup fd */
    int npfds, cap;
    int *pos;            /* pos[fd]: index in pfds, or 0 when not watched */
    int npos;
    eddy__wakefd wake;
};

static int reserve(eddy__backend *b, int fd)
{
    if (b->npfds == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        struct pollfd *p = realloc(b->pfds, (size_t)cap * sizeof *p);

        if (p == NULL)
            return -ENOMEM;
        b->pfds = p;
        b->cap = cap;
    }
    if (fd >= b->npos) {
        int n = b->npos ? b->npos : 64;
        int *p;

        while (n <= fd)
            n *= 2;
        p = realloc(b->pos, (size_t)n * sizeof *p);
        if (p == NULL)
            return -ENOMEM;
        for (int i = b->npos; i < n; i++)
            p[i] = 0;
        b->pos = p;
        b->npos = n;
    }
    return 0;
}

static short to_poll(unsigned events)
{
    return (short)((events & 1 ? POLLIN : 0) | (events & 2 ? POLLOUT : 0));
}

int eddy__backend_reset(eddy__backend *b, int after_fork)
{
    int err = 0;

    for (int i = 1; i < b->npfds; i++)
        b->pos[b->pfds[i].fd] = 0;
    if (after_fork) {
        eddy__wakefd_close(&b->wake);
        err = eddy__wakefd_open(&b->wake);
    }
    b->npfds = 1;
    b->pfds[0].fd = b->wake.rfd;
    b->pfds[0].events = POLLIN;
    return err;
}

int eddy__backend_new(eddy__backend **out)
{
    eddy__backend *b = calloc(1, sizeof *b);
    int err;

    if (b == NULL)
        return -ENOMEM;
    b->wake.rfd = b->wake.wfd = -1;
    err = reserve(b, 0);
    if (err == 0)
        err = eddy__backend_reset(b, 1);
    if (err != 0) {
        eddy__backend_free(b);
        return err;
    }
    *out = b;
    return 0;
}

void eddy__backend_free(eddy__backend *b)
{
    eddy__wakefd_close(&b->wake);
    free(b->pfds);
    free(b->pos);
    free(b);
}

int eddy__backend_add(eddy__backend *b, int fd, unsigned events, uint32_t gen,
                      int stale_old)
{
    int err;

    /* poll would only say POLLNVAL later: refuse a closed fd now, as
     * epoll and kqueue do, also one re-added while its removal is pending
     * (it may have been closed since). */
    if (fcntl(fd, F_GETFD) < 0)
        return -errno;
    if (stale_old >= 0)
        return eddy__backend_mod(b, fd, (unsigned)stale_old, events, gen);
    err = reserve(b, fd);
    if (err != 0)
        return err;
    b->pos[fd] = b->npfds;
    b->pfds[b->npfds].fd = fd;
    b->pfds[b->npfds].events = to_poll(events);
    b->pfds[b->npfds].revents = 0;
    b->npfds++;
    return 0;
}

int eddy__backend_mod(eddy__backend *b, int fd, unsigned old, unsigned events,
                      uint32_t gen)
{
    (void)old;
    (void)gen;
    b->pfds[b->pos[fd]].events = to_poll(events);
    return 0;
}

void eddy__backend_del(eddy__backend *b, int fd, unsigned old)
{
    int i = b->pos[fd], last = --b->npfds;

    (void)old;
    b->pfds[i] = b->pfds[last];
    b->pos[b->pfds[i].fd] = i;
    b->pos[fd] = 0;
}

int eddy__backend_poll(eddy__backend *b, int timeout_ms, eddy__fired *fired,
                       int max)
{
    int n = poll(b->pfds, (nfds_t)b->npfds, timeout_ms), out = 0;

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n > 0 && b->pfds[0].revents) {
        eddy__wakefd_drain(&b->wake);
        n--;
    }
    for (int i = 1; n > 0 && out < max && i < b->npfds; i++) {
        short got = b->pfds[i].revents;

        if (got == 0)
            continue;
        n--;
        fired[out].fd = b->pfds[i].fd;
        fired[out].gen = 0;
        fired[out].events = (got & POLLIN ? 1u : 0) |
                            (got & POLLOUT ? 2u : 0) |
                            (got & (POLLERR | POLLNVAL) ? 4u : 0) |
                            (got & POLLHUP ? 8u : 0);
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
    return -ENOTSUP;
}
