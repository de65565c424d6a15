/*
 * backends/wake.c - the loop's wakeup fd for the epoll, poll and select
 * backends: an eventfd on Linux (one fd, a counter that never fills), a
 * non-blocking pipe elsewhere (its buffer may fill, which is harmless: a
 * full pipe is still readable).  kqueue uses EVFILT_USER instead.
 *
 * wake() runs in signal handlers and on foreign threads: it must stay a
 * single write(2) and keep errno unchanged.
 */
#define _GNU_SOURCE
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/eventfd.h>
#endif

int eddy__wakefd_open(eddy__wakefd *w)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    if (fd < 0)
        return -errno;
    w->rfd = w->wfd = fd;
#else
    int p[2];

    if (pipe(p) != 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        if (fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0 ||
            fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK) != 0) {
            int err = -errno;

            close(p[0]);
            close(p[1]);
            return err;
        }
    }
    w->rfd = p[0];
    w->wfd = p[1];
#endif
    return 0;
}

void eddy__wakefd_close(eddy__wakefd *w)
{
    if (w->wfd >= 0 && w->wfd != w->rfd)
        close(w->wfd);
    if (w->rfd >= 0)
        close(w->rfd);
    w->rfd = w->wfd = -1;
}

void eddy__wakefd_wake(const eddy__wakefd *w)
{
    uint64_t one = 1;
    int saved = errno;
    ssize_t r;

    /* EAGAIN means the eventfd counter or the pipe is full: still readable. */
    do
        r = write(w->wfd, &one, w->rfd == w->wfd ? sizeof one : 1);
    while (r < 0 && errno == EINTR);
    errno = saved;
}

void eddy__wakefd_drain(const eddy__wakefd *w)
{
    char buf[64];

    while (read(w->rfd, buf, sizeof buf) > 0 && w->rfd != w->wfd)
        ;
}
