/*
 * backends/backend.h - the one small interface every poller implements.
 *
 * Exactly one of epoll.c, kqueue.c, poll.c and select.c is linked into a
 * build, so these are direct calls, not function pointers.  The loop keeps
 * the per-fd bookkeeping (which handler, which events); a backend only
 * mirrors interest into the kernel and reports readiness.  It must never
 * call back into the loop, allocate per event, or print.
 *
 * Interest changes arrive already decided: the loop calls add for an fd the
 * backend does not have, mod to change the events of one it has, and del to
 * drop one.  stale_old >= 0 on add means the backend still has the fd with
 * those events (the loop removed it lazily and the caller added it back
 * before the removal was applied), but the caller may have closed and
 * reopened the number in between, so the old registration cannot be
 * trusted.  stale_old is -1 for a plain add.
 */
#ifndef EDDY_BACKEND_H
#define EDDY_BACKEND_H

#include <stdint.h>

#include "../common/internal.h"

typedef struct eddy__backend eddy__backend;

/* One ready fd.  gen is the generation given to add/mod, for backends that
 * can carry it through the kernel (EDDY__BACKEND_GEN is 1); others set 0. */
typedef struct eddy__fired {
    int fd;
    unsigned events;
    uint32_t gen;
} eddy__fired;

/* The largest fd + 1 a backend can watch (select: FD_SETSIZE). */
EDDY_HIDDEN extern const int eddy__backend_max_fd;
/* "epoll", "kqueue", "poll" or "select". */
EDDY_HIDDEN extern const char eddy__backend_name[];
/* 1 when fired[].gen reports the generation of the kernel registration. */
EDDY_HIDDEN extern const int eddy__backend_has_gen;
/* 1 when closing an fd removes it from the poller (epoll, BSD kqueue), so
 * that the loop need not delete it first; 0 when del must still run (the
 * poll and select arrays, libkqueue). */
EDDY_HIDDEN extern const int eddy__backend_close_drops;

/* Creates the poller and its wakeup mechanism. */
EDDY_HIDDEN int eddy__backend_new(eddy__backend **out);
EDDY_HIDDEN void eddy__backend_free(eddy__backend *b);
/* Recreates the kernel objects, after which the backend watches nothing:
 * after fork (after_fork: the wakeup fd too, as the parent shares it), or
 * when epoll holds a registration that no epoll_ctl can remove. */
EDDY_HIDDEN int eddy__backend_reset(eddy__backend *b, int after_fork);

/* add returns this when it kept the fd's existing registration, with the
 * generation it had, instead of making one with gen. */
#define EDDY__BACKEND_KEPT 1
EDDY_HIDDEN int eddy__backend_add(eddy__backend *b, int fd, unsigned events,
                                  uint32_t gen, int stale_old);
EDDY_HIDDEN int eddy__backend_mod(eddy__backend *b, int fd, unsigned old,
                                  unsigned events, uint32_t gen);
/* Errors are ignored: the fd may already be closed, which drops it. */
EDDY_HIDDEN void eddy__backend_del(eddy__backend *b, int fd, unsigned old);

/* Waits at most timeout_ms (-1: forever) and fills up to max entries.
 * Returns the count (0 on timeout or EINTR, or when only woken) or
 * a negative errno.  Wakeups are drained here and never reported. */
EDDY_HIDDEN int eddy__backend_poll(eddy__backend *b, int timeout_ms,
                                   eddy__fired *fired, int max);

/* Makes a sleeping or the next poll return.  Any thread, and
 * async-signal-safe. */
EDDY_HIDDEN void eddy__backend_wake(eddy__backend *b);

/* The pollable kernel object, or -ENOTSUP: then a host loop polls the
 * watched fds itself, and *wake_fd with them (the wakeup's read end, or
 * -1 when the backend has none that an fd can watch). */
EDDY_HIDDEN int eddy__backend_fd(const eddy__backend *b, int *wake_fd);

/*
 * The portable wakeup used by epoll, poll and select (wake.c): an eventfd
 * on Linux, a non-blocking pipe elsewhere.  rfd is watched for reading;
 * wake writes, drain empties.
 */
typedef struct eddy__wakefd {
    int rfd, wfd;
} eddy__wakefd;

EDDY_HIDDEN int eddy__wakefd_open(eddy__wakefd *w);
EDDY_HIDDEN void eddy__wakefd_close(eddy__wakefd *w);
EDDY_HIDDEN void eddy__wakefd_wake(const eddy__wakefd *w);
EDDY_HIDDEN void eddy__wakefd_drain(const eddy__wakefd *w);

#endif
