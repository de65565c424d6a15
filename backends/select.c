/*
 * backends/select.c - the select(2) backend, the lowest common denominator.
 *
 * select's traps, and what this file does about each:
 *
 * - An fd_set is a fixed bit array of FD_SETSIZE bits (1024 with glibc);
 *   FD_SET on a larger fd writes past it and corrupts memory.  add refuses
 *   such fds with -ERANGE (the loop checks eddy__backend_max_fd first).
 *
 * - select overwrites its sets with the result.  The interest is kept in
 *   master sets that are copied before every call, so a result never leaks
 *   into the next wait.
 *
 * - The cost is O(highest fd), whatever the number of fds watched.  maxfd
 *   is tracked on add; on removal of the highest fd it walks down to the
 *   next one still watched.
 *
 * - One closed fd in a set fails the whole call with EBADF.  Then each
 *   watched fd is probed with fcntl(F_GETFD) and the dead ones are
 *   reported as EDDY_ERROR (their owner removes them), so the loop neither
 *   spins nor stops.
 *
 * - There is no error or hangup condition: exceptfds means out-of-band
 *   data, not errors.  A hangup or error shows as readable (read returns 0
 *   or the error), so EDDY_ERROR and EDDY_HUP are only ever reported for
 *   the EBADF case above.
 */
#define _GNU_SOURCE
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

const int eddy__backend_max_fd = FD_SETSIZE;
const char eddy__backend_name[] = "select";
const int eddy__backend_has_gen = 0;
const int eddy__backend_close_drops = 0;

struct eddy__backend {
    fd_set rset, wset;   /* the master sets: what is watched */
    fd_set watched;      /* every fd with a registration, for EBADF probes */
    fd_set rout, wout;   /* copies handed to select */
    int maxfd;           /* highest watched fd, the wakeup fd included */
    eddy__wakefd wake;
};

int eddy__backend_reset(eddy__backend *b, int after_fork)
{
    int err = 0;

    FD_ZERO(&b->rset);
    FD_ZERO(&b->wset);
    FD_ZERO(&b->watched);
    b->maxfd = -1;
    if (after_fork) {
        eddy__wakefd_close(&b->wake);
        err = eddy__wakefd_open(&b->wake);
    }
    if (err == 0 && b->wake.rfd >= FD_SETSIZE)
        err = -ERANGE;
    if (err == 0) {
        FD_SET(b->wake.rfd, &b->rset);
        b->maxfd = b->wake.rfd;
    }
    return err;
}

int eddy__backend_new(eddy__backend **out)
{
    eddy__backend *b = calloc(1, sizeof *b);
    int err;

    if (b == NULL)
        return -ENOMEM;
    b->wake.rfd = b->wake.wfd = -1;
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
    free(b);
}

int eddy__backend_mod(eddy__backend *b, int fd, unsigned old, unsigned events,
                      uint32_t gen)
{
    (void)old;
    (void)gen;
    if (events & 1)
        FD_SET(fd, &b->rset);
    else
        FD_CLR(fd, &b->rset);
    if (events & 2)
        FD_SET(fd, &b->wset);
    else
        FD_CLR(fd, &b->wset);
    return 0;
}

int eddy__backend_add(eddy__backend *b, int fd, unsigned events, uint32_t gen,
                      int stale_old)
{
    (void)stale_old; /* the sets are keyed by number: nothing is stale */
    if (fd < 0 || fd >= FD_SETSIZE)
        return -ERANGE;
    /* select would fail as a whole later: refuse a closed fd now, also
     * one re-added while its removal is pending (it may be closed since). */
    if (fcntl(fd, F_GETFD) < 0)
        return -errno;
    FD_SET(fd, &b->watched);
    if (fd > b->maxfd)
        b->maxfd = fd;
    return eddy__backend_mod(b, fd, 0, events, gen);
}

void eddy__backend_del(eddy__backend *b, int fd, unsigned old)
{
    (void)old;
    FD_CLR(fd, &b->rset);
    FD_CLR(fd, &b->wset);
    FD_CLR(fd, &b->watched);
    while (b->maxfd >= 0 && b->maxfd != b->wake.rfd &&
           !FD_ISSET(b->maxfd, &b->watched))
        b->maxfd--;
}

/* select failed with EBADF: report every watched fd that is not open. */
static int report_closed(eddy__backend *b, eddy__fired *fired, int max)
{
    int out = 0;

    for (int fd = 0; fd <= b->maxfd && out < max; fd++) {
        if (FD_ISSET(fd, &b->watched) && fcntl(fd, F_GETFD) < 0 &&
            errno == EBADF) {
            fired[out].fd = fd;
            fired[out].events = 4;
            fired[out].gen = 0;
            out++;
        }
    }
    return out;
}

int eddy__backend_poll(eddy__backend *b, int timeout_ms, eddy__fired *fired,
                       int max)
{
    struct timeval tv, *tvp = NULL;
    int n, out = 0;

    if (timeout_ms >= 0) {
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        tvp = &tv;
    }
    memcpy(&b->rout, &b->rset, sizeof b->rout);
    memcpy(&b->wout, &b->wset, sizeof b->wout);
    n = select(b->maxfd + 1, &b->rout, &b->wout, NULL, tvp);
    if (n < 0) {
        if (errno == EBADF)
            return report_closed(b, fired, max);
        return errno == EINTR ? 0 : -errno;
    }
    if (n > 0 && FD_ISSET(b->wake.rfd, &b->rout)) {
        eddy__wakefd_drain(&b->wake);
        n--;
    }
    for (int fd = 0; n > 0 && out < max && fd <= b->maxfd; fd++) {
        unsigned ev = (FD_ISSET(fd, &b->rout) ? 1u : 0) |
                      (FD_ISSET(fd, &b->wout) ? 2u : 0);

        if (ev == 0 || fd == b->wake.rfd)
            continue;
        n -= (ev & 1) + (ev >> 1);
        fired[out].fd = fd;
        fired[out].events = ev;
        fired[out].gen = 0;
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
