/*
 * tests/testutil.h - helpers shared by the cmocka suites: non-blocking fd
 * pairs, a monotonic clock, bounded loop runs, a log hook that records,
 * a capture of anything printed, a per-test fd leak check, and a guard
 * page for parsers' inputs (one per suite, or one per test).
 *
 * Helpers fail the running test through cmocka's assertions instead of
 * returning errors, so that tests read top to bottom.  Nothing here sleeps
 * to synchronise: every wait is on the loop, bounded in iterations and time.
 */
#ifndef EDDY_TESTUTIL_H
#define EDDY_TESTUTIL_H

/* Include this file first: the feature macro must precede every header. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

/* TU_ASAN: built with AddressSanitizer (gcc says so with a macro, clang
 * through __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eddy/ioloop.h"

/* Under valgrind (make check-valgrind sets EDDY_VALGRIND=1) everything is
 * ten to fifty times slower: tests shrink their counts, not their bounds. */
static inline int tu_valgrind(void)
{
    const char *v = getenv("EDDY_VALGRIND");

    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

static inline int tu_backend_is(const char *name)
{
    return strcmp(eddy_loop_backend(), name) == 0;
}

static inline eddy_loop *tu_loop_new(void)
{
    eddy_loop *loop = NULL;

    assert_int_equal(eddy_loop_new(&loop), 0);
    assert_non_null(loop);
    return loop;
}

/* --- clock ------------------------------------------------------------- */

static inline uint64_t tu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tu_now_ms(void)
{
    return tu_now_ns() / 1000000u;
}

/* Holds the CPU for ms milliseconds: how a test blocks the loop. */
static inline void tu_busy_ms(uint64_t ms)
{
    uint64_t end = tu_now_ns() + ms * 1000000u;

    while (tu_now_ns() < end)
        ;
}

/* Waits at most ms for our child pid to exit; returns its status or -1. */
static inline int tu_wait_exit(pid_t pid, int ms)
{
    uint64_t end = tu_now_ms() + (uint64_t)ms;
    int status;

    do {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            return status;
        assert_int_equal(r, 0);
        poll(NULL, 0, 2); /* a child's exit has no fd to wait on */
    } while (tu_now_ms() < end);
    return -1;
}

/* --- fds --------------------------------------------------------------- */

static inline void tu_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
    assert_int_equal(fcntl(fd, F_SETFD, FD_CLOEXEC), 0);
}

/* p[0] reads, p[1] writes; both non-blocking and close-on-exec. */
static inline void tu_pipe(int p[2])
{
    assert_int_equal(pipe(p), 0);
    tu_nonblock(p[0]);
    tu_nonblock(p[1]);
}

/* A connected AF_UNIX stream pair, non-blocking and close-on-exec. */
static inline void tu_socketpair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    tu_nonblock(sv[0]);
    tu_nonblock(sv[1]);
}

/* Closes both ends; an end already closed is marked -1 by the test. */
static inline void tu_close_pair(int p[2])
{
    for (int i = 0; i < 2; i++) {
        if (p[i] >= 0)
            assert_int_equal(close(p[i]), 0);
        p[i] = -1;
    }
}

/* Writes one byte that must fit at once (sockets: no SIGPIPE). */
static inline void tu_write_byte(int fd)
{
    ssize_t n = send(fd, "x", 1, MSG_NOSIGNAL);

    if (n < 0 && errno == ENOTSOCK)
        n = write(fd, "x", 1);
    assert_int_equal(n, 1);
}

/* Reads everything there is; returns the byte count (0 at EOF too). */
static inline size_t tu_drain(int fd)
{
    char buf[4096];
    size_t total = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf)) > 0)
        total += (size_t)n;
    return total;
}

static inline int tu_fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* Open fds below limit: compared before and after a test to catch leaks.
 * Probing with fcntl is portable and cheap enough for a few thousand. */
static inline int tu_count_fds(int limit)
{
    int n = 0;

    for (int fd = 0; fd < limit; fd++)
        n += tu_fd_is_open(fd);
    return n;
}

/* Raises the soft RLIMIT_NOFILE towards want (never past the hard limit)
 * and returns the soft limit in force afterwards. */
static inline long tu_raise_nofile(long want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < want) {
        rlim_t cur = rl.rlim_cur;

        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max > want
                          ? (rlim_t)want
                          : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = cur;
    }
    return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
}

/* EDDY_LIBKQUEUE: the Makefile's kqueue build on Linux, on libkqueue. */
#ifdef EDDY_LIBKQUEUE
/* Exported by libkqueue's Linux build, declared in none of its headers. */
extern void libkqueue_drain_pending_close(void) __attribute__((weak));
#endif

/* Open fds below limit, once the poller's own deferred closes are done. */
static inline int tu_count_open_fds(int limit)
{
#ifdef EDDY_LIBKQUEUE
    static int primed;

    /* libkqueue keeps fds for the whole process after its first kqueue
     * (docs/porting.md, point 6): make them before the first baseline. */
    if (!primed) {
        eddy_loop *loop = NULL;

        primed = 1;
        if (eddy_loop_new(&loop) == 0)
            eddy_loop_close(loop, 0);
    }
    /* libkqueue closes a closed kqueue's fds later, on its own thread. */
    if (libkqueue_drain_pending_close != NULL)
        libkqueue_drain_pending_close();
#endif
    return tu_count_fds(limit);
}

/* cmocka setup and teardown that fail a test which leaves an fd open. */
#define TU_FD_PROBE 2048
static inline int tu_fd_setup(void **state)
{
    *state = (void *)(intptr_t)tu_count_open_fds(TU_FD_PROBE);
    return 0;
}

static inline int tu_fd_teardown(void **state)
{
    int before = (int)(intptr_t)*state, after = tu_count_open_fds(TU_FD_PROBE);

    if (after != before)
        fprintf(stderr, "fd leak: %d open before the test, %d after\n",
                before, after);
    return after == before ? 0 : -1;
}

#define tu_test(f) cmocka_unit_test_setup_teardown(f, tu_fd_setup, tu_fd_teardown)

/* --- the log hook ------------------------------------------------------ */

typedef struct tu_log {
    int count;
    int by_level[4];
    int last_level;
    char last[256];
} tu_log;

/* Records each message; TU_LOG=1 in the environment also prints them. */
static inline void tu_log_fn(void *arg, int level, const char *message)
{
    tu_log *log = arg;

    log->count++;
    if (level >= 0 && level < 4)
        log->by_level[level]++;
    log->last_level = level;
    snprintf(log->last, sizeof log->last, "%s", message);
    if (getenv("TU_LOG") != NULL)
        fprintf(stderr, "[log %d] %s\n", level, message);
}

static inline void tu_log_attach(eddy_loop *loop, tu_log *log)
{
    memset(log, 0, sizeof *log);
    log->last_level = -1;
    eddy_loop_set_log(loop, tu_log_fn, log);
}

/* --- what the process prints ------------------------------------------- */

/* Sends stdout and stderr into a pipe between begin and end, to prove that
 * code prints nothing.  Output past the pipe's buffer is dropped. */
typedef struct tu_capture {
    int saved[2];
    int p[2];
} tu_capture;

static inline void tu_capture_begin(tu_capture *c)
{
    fflush(stdout);
    fflush(stderr);
    tu_pipe(c->p);
    for (int i = 0; i < 2; i++) {
        c->saved[i] = dup(1 + i);
        assert_true(c->saved[i] >= 0);
        assert_int_equal(dup2(c->p[1], 1 + i), 1 + i);
    }
}

/* Restores stdout and stderr; returns the number of bytes printed. */
static inline size_t tu_capture_end(tu_capture *c)
{
    size_t n;

    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dup2(c->saved[i], 1 + i), 1 + i);
        close(c->saved[i]);
    }
    n = tu_drain(c->p[0]);
    tu_close_pair(c->p);
    return n;
}

/* --- running the loop, bounded ----------------------------------------- */

typedef int (*tu_cond)(void *arg);

/* Runs iterations until cond(arg) holds, at most max_iter of them and for
 * at most max_ms.  Each wait is short, so that a condition met before the
 * poll does not cost a full timeout.  Returns whether cond held. */
static inline int tu_run_until(eddy_loop *loop, tu_cond cond, void *arg,
                               int max_iter, uint64_t max_ms)
{
    uint64_t end = tu_now_ms() + max_ms;

    for (int i = 0; i < max_iter && !cond(arg); i++) {
        uint64_t now = tu_now_ms();
        int slice = now >= end ? 0 : end - now > 10 ? 10 : (int)(end - now);

        if (now >= end)
            break;
        assert_int_equal(eddy_loop_run_once(loop, slice), 0);
    }
    return cond(arg);
}

typedef struct tu_at_least {
    const int *counter;
    int target;
} tu_at_least;

static inline int tu_at_least_cond(void *arg)
{
    const tu_at_least *a = arg;

    return *a->counter >= a->target;
}

/* Runs until *counter >= target; see tu_run_until. */
static inline int tu_run_until_count(eddy_loop *loop, const int *counter,
                                     int target, int max_iter, uint64_t max_ms)
{
    tu_at_least a = {counter, target};

    return tu_run_until(loop, tu_at_least_cond, &a, max_iter, max_ms);
}

/* A timer that stops a runaway eddy_loop_run() and says so in *fired. */
static inline void tu_safety_cb(eddy_loop *loop, void *arg)
{
    *(int *)arg = 1;
    eddy_loop_stop(loop);
}

static inline eddy_timer_id tu_safety_timer(eddy_loop *loop, uint64_t ms,
                                            int *fired)
{
    eddy_timer_id id = 0;

    *fired = 0;
    assert_int_equal(eddy_loop_call_later(loop, ms, tu_safety_cb, fired, &id),
                     0);
    return id;
}

/* --- guard page -------------------------------------------------------- */

/* Inputs copied to end exactly at a PROT_NONE page, as picohttpparser's
 * tests place them: a parser that reads one byte past its length crashes,
 * with or without ASan or valgrind. */
typedef struct tu_guard {
    char *base; /* size bytes, then the PROT_NONE page */
    size_t size;
} tu_guard;

static inline void tu_guard_init(tu_guard *g, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    g->size = (size + page - 1) / page * page;
    g->base = mmap(NULL, g->size + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->base != MAP_FAILED);
    assert_int_equal(mprotect(g->base + g->size, page, PROT_NONE), 0);
}

/* Copies src[0, n) so that its last byte is the last before the guard. */
static inline char *tu_guard_place(tu_guard *g, const void *src, size_t n)
{
    char *p = g->base + g->size - n;

    assert_true(n <= g->size);
    if (n != 0)
        memmove(p, src, n);
    return p;
}

static inline void tu_guard_free(tu_guard *g)
{
    munmap(g->base, g->size + (size_t)sysconf(_SC_PAGESIZE));
}

/* One guard for a whole suite (of TU_GUARD_SIZE bytes, the longest input
 * it places), made by the cmocka group setup tu_guard_setup and unmade by
 * tu_guard_teardown; tu_guarded() places an input against it. */
#define TU_GUARD_SIZE ((size_t)4 << 20)

static inline tu_guard *tu_suite_guard(void)
{
    static tu_guard g;

    return &g;
}

static inline int tu_guard_setup(void **state)
{
    (void)state;
    tu_guard_init(tu_suite_guard(), TU_GUARD_SIZE);
    return 0;
}

static inline int tu_guard_teardown(void **state)
{
    (void)state;
    tu_guard_free(tu_suite_guard());
    return 0;
}

/* A writable copy of src[0, n) whose last byte is the last before the
 * suite's guard. */
static inline void *tu_guarded(const void *src, size_t n)
{
    return tu_guard_place(tu_suite_guard(), src, n);
}

#endif
