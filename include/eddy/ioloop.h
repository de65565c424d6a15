/**
 * @file
 * @brief The event loop: fd handlers, timers, callbacks, signals.
 *
 * Everything it declares is described under @ref loop.
 */
/**
 * @defgroup loop The event loop (ioloop.h)
 * @brief fd handlers, timers, callbacks and signals: Tornado's IOLoop.
 *
 * This is Tornado's IOLoop in C.  One loop runs on one thread at a time;
 * every function here must be called from the thread running the loop (or,
 * before it runs, from the thread that owns it), except those marked
 * "any thread".  Functions return 0 or a negative errno and never abort,
 * exit or print: diagnostics go to the log hook, if one is set.
 *
 * One iteration of the loop runs, in this order:
 *   1. the callbacks that were queued before the iteration began (FIFO);
 *   2. the timers that were due when this step began, earliest first, ties
 *      in the order they were added;
 *   3. one wait on the poller (for no time at all if callbacks are queued);
 *   4. the fd handlers whose fds became ready.
 *
 * Callbacks and timers added during an iteration run in a later one, so a
 * callback that re-queues itself never starves I/O.
 *
 * The arg pointer given with a callback or handler is passed back to it
 * as it is: the loop never reads or frees it.
 */
#ifndef EDDY_IOLOOP_H
#define EDDY_IOLOOP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup loop
 *  @{ */

/** @def EDDY_API
 *  Marks a declaration as part of the library's interface: the symbol is
 *  exported from libeddy.so, which hides every other symbol. */
/** @def EDDY_PRINTF
 *  Lets GCC and Clang check the arguments of a printf-style function: the
 *  format is argument f, the values start at argument a. */
#if defined(__GNUC__) || defined(__clang__)
#define EDDY_API __attribute__((visibility("default")))
#define EDDY_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define EDDY_API
#define EDDY_PRINTF(f, a)
#endif

/** An event loop.  Opaque; create with eddy_loop_new(). */
typedef struct eddy_loop eddy_loop;

/** Events of an fd handler.  ERROR and HUP are always reported. */
enum {
    EDDY_READ = 1,  /**< readable, or EOF */
    EDDY_WRITE = 2, /**< writable */
    EDDY_ERROR = 4, /**< an error is pending on the fd (POLLERR, POLLNVAL) */
    EDDY_HUP = 8    /**< the peer hung up (POLLHUP, EV_EOF) */
};

/** Log levels passed to the log hook. */
enum {
    EDDY_LOG_DEBUG,   /**< detail for debugging */
    EDDY_LOG_INFO,    /**< ordinary events: a shutdown begins, a malformed
                           request was refused */
    EDDY_LOG_WARNING, /**< trouble worked around: a callback that held the
                           loop too long, accept(2) out of fds */
    EDDY_LOG_ERROR    /**< a failure that cost something: a timer stopped,
                           an fd that can no longer be watched */
};

/** Called when fd is ready; events is a mask of EDDY_READ ... EDDY_HUP. */
typedef void (*eddy_fd_cb)(eddy_loop *loop, int fd, unsigned events,
                           void *arg);
/** A callback or timer callback. */
typedef void (*eddy_cb)(eddy_loop *loop, void *arg);
/** Called on the loop thread after signal signum was delivered. */
typedef void (*eddy_signal_cb)(eddy_loop *loop, int signum, void *arg);
/** The log hook: a whole message, without a trailing newline. */
typedef void (*eddy_log_fn)(void *arg, int level, const char *message);

/**
 * A timer handle.  0 is never a valid handle.  A handle stays safe to pass
 * to eddy_loop_remove_timeout() after its timer fired or was removed: it
 * then returns -ENOENT.
 */
typedef uint64_t eddy_timer_id;

/** @name Creating and closing loops
 *  @{ */

/**
 * Creates a loop on *out; the caller owns it and frees it with
 * eddy_loop_close().  Errors: -ENOMEM, or the errno of the backend's
 * poller (epoll_create1, kqueue) or of the wakeup fd.
 */
EDDY_API int eddy_loop_new(eddy_loop **out);

/**
 * Frees the loop and everything it owns: handlers, timers, queued callbacks
 * (never called) and signal handlers (the default disposition comes back).
 * When all_fds is non-zero, closes every fd that still has a handler.  Must
 * not be called while the loop is running.  A NULL loop does nothing.
 */
EDDY_API void eddy_loop_close(eddy_loop *loop, int all_fds);

/**
 * The process's default loop, created on first use (thread-safe), like
 * Tornado's IOLoop.instance().  NULL if it cannot be created.  Closing it
 * with eddy_loop_close() is allowed; a later call creates a new one.
 */
EDDY_API eddy_loop *eddy_loop_default(void);

/** The loop running on the calling thread, or NULL (IOLoop.current()).
 *  Any thread. */
EDDY_API eddy_loop *eddy_loop_current(void);

/** The poller compiled in: "epoll", "kqueue", "poll" or "select", a static
 *  string.  Any thread. */
EDDY_API const char *eddy_loop_backend(void);

/** @} */
/** @name fd handlers
 *  @{ */

/**
 * Watches fd for events (EDDY_READ and/or EDDY_WRITE; 0 is allowed and
 * reports only ERROR and HUP).  The loop does not own fd: remove the
 * handler before closing it.  Errors: -EBADF (negative or closed fd),
 * -EINVAL (NULL cb or unknown event bits), -EEXIST (fd already has a
 * handler), -ERANGE (fd at or above the backend's limit: select's
 * FD_SETSIZE), -ENOMEM, -EPERM (epoll: a regular file).
 */
EDDY_API int eddy_loop_add_handler(eddy_loop *loop, int fd, unsigned events,
                                   eddy_fd_cb cb, void *arg);

/**
 * Changes the events watched on fd.  Errors: -ENOENT (no handler),
 * -EINVAL (unknown event bits), -EBADF (a negative fd, or one found
 * closed under its handler when eddy_loop_fork() recreated the poller),
 * or the poller's errno.
 */
EDDY_API int eddy_loop_update_handler(eddy_loop *loop, int fd,
                                      unsigned events);

/**
 * Stops watching fd.  Safe from inside any handler, also for fds whose
 * events are still waiting to be dispatched in this iteration: those events
 * are dropped, also if fd is closed and its number reused at once.
 * Errors: -ENOENT (no handler for fd), -EBADF (negative fd).
 */
EDDY_API int eddy_loop_remove_handler(eddy_loop *loop, int fd);

/** @} */
/** @name Callbacks and timers
 *  @{ */

/**
 * Removes fd's handler, if it has one, and closes fd: what
 * eddy_loop_remove_handler() and close() do, minus the system call that
 * would tell epoll or kqueue (closing the fd tells them).  For an fd shared
 * with a dup() or a child, which closing does not remove from epoll, the
 * loop notices the orphaned registration and recovers.  Errors: -EBADF,
 * or close()'s errno (the fd is closed all the same).
 */
EDDY_API int eddy_loop_close_fd(eddy_loop *loop, int fd);

/**
 * Runs cb(loop, arg) on the loop thread in the next iteration, after the
 * callbacks queued before it (FIFO).  Any thread; wakes the loop if it is
 * sleeping.  Not async-signal-safe (use eddy_loop_add_signal).
 * Errors: -EINVAL (NULL cb), -ENOMEM.
 */
EDDY_API int eddy_loop_add_callback(eddy_loop *loop, eddy_cb cb, void *arg);

/**
 * Runs cb(loop, arg) once, delay_ms milliseconds from eddy_loop_now().
 * The handle goes to *id when id is not NULL.  Errors: -EINVAL, -ENOMEM.
 */
EDDY_API int eddy_loop_call_later(eddy_loop *loop, uint64_t delay_ms,
                                  eddy_cb cb, void *arg, eddy_timer_id *id);

/**
 * Runs cb(loop, arg) once at deadline_ms on the eddy_loop_now() clock.  A
 * deadline in the past runs in the next iteration, after the timers that
 * are already due.  Errors: -EINVAL, -ENOMEM.
 */
EDDY_API int eddy_loop_call_at(eddy_loop *loop, uint64_t deadline_ms,
                               eddy_cb cb, void *arg, eddy_timer_id *id);

/**
 * Runs cb(loop, arg) every period_ms milliseconds, the first time one
 * period from now (Tornado's PeriodicCallback).  Periods missed because the
 * loop was busy are skipped, not run in a burst.  Stop it with
 * eddy_loop_remove_timeout(), also from inside cb.  Errors: -EINVAL
 * (period_ms 0 or NULL cb), -ENOMEM.
 */
EDDY_API int eddy_loop_call_every(eddy_loop *loop, uint64_t period_ms,
                                  eddy_cb cb, void *arg, eddy_timer_id *id);

/**
 * Cancels a timer in O(log n).  Errors: -ENOENT when it already fired (a
 * one-shot timer), was removed, or was never a handle of this loop.
 */
EDDY_API int eddy_loop_remove_timeout(eddy_loop *loop, eddy_timer_id id);

/**
 * Makes room for n timers pending at once, so that adding up to that many
 * allocates nothing: the counterpart of the timer objects that libev's or
 * libuv's users allocate themselves.  Optional.  Errors: -ENOMEM.
 */
EDDY_API int eddy_loop_reserve_timers(eddy_loop *loop, uint32_t n);

/** Milliseconds on the loop's monotonic clock, cached once per iteration. */
EDDY_API uint64_t eddy_loop_now(const eddy_loop *loop);

/** Refreshes the cached time now (after a long computation, say). */
EDDY_API void eddy_loop_update_time(eddy_loop *loop);

/** @} */
/** @name Signals
 *  @{ */

/**
 * Calls cb(loop, signum, arg) on the loop thread after signum is delivered
 * to the process (several deliveries before the loop runs may merge into
 * one call).  Installs a process-wide handler: one loop at a time may watch
 * a signal.  Errors: -EINVAL (bad signum, SIGKILL, SIGSTOP, NULL cb),
 * -EBUSY (another loop, or this one, watches signum), or sigaction's errno.
 */
EDDY_API int eddy_loop_add_signal(eddy_loop *loop, int signum,
                                  eddy_signal_cb cb, void *arg);

/**
 * Stops watching signum and restores the disposition that was in place
 * before eddy_loop_add_signal().  Errors: -ENOENT, -EINVAL.
 */
EDDY_API int eddy_loop_remove_signal(eddy_loop *loop, int signum);

/** @} */
/** @name Running
 *  @{ */

/**
 * Runs iterations until eddy_loop_stop().  If stop was called while the
 * loop was not running, returns at once (and clears the request).
 * Errors: -EBUSY (already running), or a fatal poller error.
 */
EDDY_API int eddy_loop_run(eddy_loop *loop);

/**
 * Runs one iteration, waiting at most timeout_ms for events (-1: until an
 * event, a timer or a callback; 0: not at all).  It does not wait when
 * callbacks or timers already ran in it, so a caller that loops on it
 * until its work is done never sleeps past the end.  For embedding the loop
 * in another one.  Errors: -EBUSY (already running), a fatal poller error.
 */
EDDY_API int eddy_loop_run_once(eddy_loop *loop, int timeout_ms);

/**
 * Makes eddy_loop_run() return after the current iteration.  Any thread and
 * async-signal-safe.
 */
EDDY_API void eddy_loop_stop(eddy_loop *loop);

/** @} */
/** @name Embedding and forking
 *  @{ */

/**
 * The backend's pollable fd (epoll and kqueue): it polls readable when
 * eddy_loop_run_once(loop, 0) has I/O to dispatch.  Together with
 * eddy_loop_timeout() it nests the loop inside another one.  Errors:
 * -ENOTSUP (poll and select have no such fd).
 */
EDDY_API int eddy_loop_backend_fd(const eddy_loop *loop);

/**
 * The fds a host loop must poll for this loop, as curl_multi_fdset() and
 * GLib's g_main_context_query() give them, on every backend: with epoll
 * and kqueue the one backend fd (POLLIN); with poll and select the
 * loop's wakeup fd and every fd with a handler, with the events it is
 * watched for (0 still reports POLLERR and POLLHUP).  When poll(2) says
 * any of them is ready, or eddy_loop_timeout() passed, the host calls
 * eddy_loop_run_once(loop, 0).  The set changes as handlers come and go:
 * query it before each poll.  *n gets the number of entries.  Errors:
 * -ENOSPC (more than max entries are needed: *n says how many, and fds
 * is left alone).
 */
EDDY_API int eddy_loop_query_fds(const eddy_loop *loop, struct pollfd *fds,
                                 size_t max, size_t *n);

/**
 * Milliseconds until the loop has work without I/O: 0 when callbacks are
 * queued or a timer is due, -1 when nothing is scheduled.
 */
EDDY_API int eddy_loop_timeout(const eddy_loop *loop);

/**
 * Recreates the kernel state after fork() in the child (epoll and kqueue
 * instances and the wakeup fd are shared with, or not inherited from, the
 * parent).  Handlers, timers and signals are kept.  Errors: as eddy_loop_new.
 */
EDDY_API int eddy_loop_fork(eddy_loop *loop);

/** @} */
/** @name Logging
 *  @{ */

/** Sets the log hook (NULL: the library prints nothing).  Every layer
 *  logs through the hook of its loop: the loop, streams, the HTTP server. */
EDDY_API void eddy_loop_set_log(eddy_loop *loop, eddy_log_fn fn, void *arg);

/**
 * Formats a message (printf-style, cut at 255 bytes) and hands it to the
 * loop's log hook at level; does nothing, not even formatting, without a
 * hook.  For the layers above the loop and for programs that share it.
 */
EDDY_API void eddy_loop_log(const eddy_loop *loop, int level, const char *fmt,
                            ...) EDDY_PRINTF(3, 4);

/**
 * Reports, at EDDY_LOG_WARNING, every callback, timer, signal or fd handler
 * that ran longer than ms milliseconds (0 turns it off; the default).  The
 * report names the function's address and the time it held the loop, like
 * Tornado's set_blocking_signal_threshold.
 */
EDDY_API void eddy_loop_set_blocking_threshold(eddy_loop *loop, uint64_t ms);

/** @} */

/** Counters a program can read cheaply at any time on the loop thread. */
typedef struct eddy_loop_stats {
    uint64_t iterations;      /**< completed iterations */
    uint64_t handlers;        /**< fd handlers installed now */
    uint64_t timers;          /**< timers pending now */
    uint64_t callbacks_run;   /**< callbacks run since creation */
    uint64_t timers_run;      /**< timers fired since creation */
    uint64_t events;          /**< fd events dispatched since creation */
    uint64_t longest_cb_us;   /**< longest callback seen while the blocking
                                   threshold was on, in microseconds */
} eddy_loop_stats;

/** @name Statistics
 *  @{ */

/** Copies the loop's counters to *out. */
EDDY_API void eddy_loop_get_stats(const eddy_loop *loop, eddy_loop_stats *out);

/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif
