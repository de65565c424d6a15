/*
 * tests/test_ioloop.c - the ioloop layer: fd handlers, timers, callbacks,
 * signals, threads, fork, the watchdog and each backend's limits.
 *
 * One function per behaviour, counters asserted at the end; every test
 * frees its loop and its fds (tu_fd_teardown fails a test that leaks one).
 * Every wait is on the loop and bounded in iterations and time.  The only
 * sleeps are in helper threads whose job is to find the loop blocked.
 */
#include "testutil.h"

#include "../ioloop/loop_state.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>


/* Moves the loop's next timer sequence number forward to seq, shifting
 * every pending node by as much, to exercise the renumbering at 2^32. */
static void eddy__timers_set_seq(eddy_loop *loop, uint32_t seq)
{
    uint32_t delta = seq - loop->seq;

    for (uint32_t p = 0; p < loop->heap_n; p++)
        loop->heap[p].seq += delta;
    loop->seq_limit += delta;
    loop->seq = seq;
}

/* --- shared recorders ---------------------------------------------------- */

typedef struct fd_rec {
    int called;
    int fd;
    unsigned events; /* every event seen */
    unsigned last;
    int drain;       /* read everything when called */
    ssize_t got;     /* the last read()'s result, when draining */
    int got_errno;
} fd_rec;

static void on_fd(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    fd_rec *r = arg;
    char buf[256];

    (void)loop;
    r->called++;
    r->fd = fd;
    r->events |= events;
    r->last = events;
    if (r->drain) {
        r->got = read(fd, buf, sizeof buf);
        r->got_errno = r->got < 0 ? errno : 0;
    }
}

static void count_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    ++*(int *)arg;
}

/* Records the order in which marks run. */
typedef struct order {
    int seq[64];
    int n;
} order;

typedef struct mark {
    order *o;
    int id;
} mark;

static void mark_cb(eddy_loop *loop, void *arg)
{
    mark *m = arg;

    (void)loop;
    if (m->o->n < 64)
        m->o->seq[m->o->n++] = m->id;
}

static void stop_cb(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_loop_stop(loop);
}

/* Nanosleep for helper threads only: see the file comment. */
static void thread_pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* --- the loop's life ----------------------------------------------------- */

static void test_new_and_close(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_loop_stats st;

    (void)state;
    assert_true(tu_backend_is("epoll") || tu_backend_is("poll") ||
                tu_backend_is("select") || tu_backend_is("kqueue"));
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.iterations, 0);
    assert_int_equal(st.handlers, 0);
    assert_int_equal(st.timers, 0);
    eddy_loop_close(loop, 0);
    eddy_loop_close(NULL, 0);
}

static void test_close_drops_queued_work(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int called = 0;

    (void)state;
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &called), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &called, NULL),
                     0);
    assert_int_equal(eddy_loop_call_every(loop, 1, count_cb, &called, NULL),
                     0);
    eddy_loop_close(loop, 0);
    assert_int_equal(called, 0);
}

static void test_close_all_fds(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_add_handler(loop, p[1], EDDY_WRITE, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[1]), 0);
    eddy_loop_close(loop, 1);
    assert_false(tu_fd_is_open(p[0])); /* it had a handler */
    assert_true(tu_fd_is_open(p[1])); /* its handler was removed */
    assert_int_equal(close(p[1]), 0);
}

/* --- fd handlers ----------------------------------------------------------- */

static void test_pipe_readable(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 0);
    tu_write_byte(p[1]);
    assert_true(tu_run_until_count(loop, &r.called, 1, 10, 2000));
    assert_int_equal(r.fd, p[0]);
    assert_int_equal(r.last, EDDY_READ);
    /* Level-triggered: still readable, so reported again. */
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 2);
    assert_int_equal(tu_drain(p[0]), 1);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 2);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

static void test_pipe_writable(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[1], EDDY_WRITE, on_fd, &r),
                     0);
    assert_true(tu_run_until_count(loop, &r.called, 1, 10, 2000));
    assert_int_equal(r.fd, p[1]);
    assert_int_equal(r.last, EDDY_WRITE);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

static void test_socketpair_both_ways(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec a = {.drain = 1}, b = {.drain = 1};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(eddy_loop_add_handler(loop, sv[0], EDDY_READ, on_fd, &a),
                     0);
    assert_int_equal(eddy_loop_add_handler(loop, sv[1], EDDY_READ, on_fd, &b),
                     0);
    tu_write_byte(sv[1]);
    assert_true(tu_run_until_count(loop, &a.called, 1, 10, 2000));
    assert_int_equal(a.got, 1);
    assert_int_equal(b.called, 0);
    tu_write_byte(sv[0]);
    assert_true(tu_run_until_count(loop, &b.called, 1, 10, 2000));
    assert_int_equal(b.got, 1);
    assert_int_equal(a.called, 1);
    assert_int_equal(a.events | b.events, EDDY_READ);
    eddy_loop_close(loop, 0);
    tu_close_pair(sv);
}

static void test_update_handler_changes_interest(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(eddy_loop_add_handler(loop, sv[0], EDDY_WRITE, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 1);
    assert_int_equal(r.last, EDDY_WRITE);

    /* Readable interest only, and nothing to read: silence. */
    assert_int_equal(eddy_loop_update_handler(loop, sv[0], EDDY_READ), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 1);
    tu_write_byte(sv[1]);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 2);
    assert_int_equal(r.last, EDDY_READ);

    /* No interest: readable and writable, yet not reported. */
    assert_int_equal(eddy_loop_update_handler(loop, sv[0], 0), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 2);

    assert_int_equal(
        eddy_loop_update_handler(loop, sv[0], EDDY_READ | EDDY_WRITE), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 3);
    assert_int_equal(r.last, EDDY_READ | EDDY_WRITE);
    eddy_loop_close(loop, 0);
    tu_close_pair(sv);
}

/* The peer of a socketpair closes: HUP, READ or both depending on the
 * backend; what holds everywhere is the call and read() returning 0. */
static void test_peer_close_reports_eof(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {.drain = 1};
    int sv[2];

    (void)state;
    tu_socketpair(sv);
    assert_int_equal(eddy_loop_add_handler(loop, sv[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(close(sv[1]), 0);
    sv[1] = -1;
    assert_true(tu_run_until_count(loop, &r.called, 1, 10, 2000));
    assert_true(r.last & (EDDY_READ | EDDY_HUP));
    assert_int_equal(r.got, 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(sv);
}

static void test_pipe_writer_close_reports_eof(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {.drain = 1};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(close(p[1]), 0);
    p[1] = -1;
    assert_true(tu_run_until_count(loop, &r.called, 1, 10, 2000));
    assert_true(r.last & (EDDY_READ | EDDY_HUP));
    assert_int_equal(r.got, 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* Writing to a pipe nobody reads: epoll and poll say ERROR; select can
 * only say writable.  The write then fails with EPIPE everywhere. */
static void test_pipe_reader_close_reports_error(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(close(p[0]), 0);
    p[0] = -1;
    assert_int_equal(eddy_loop_add_handler(loop, p[1], EDDY_WRITE, on_fd, &r),
                     0);
    assert_true(tu_run_until_count(loop, &r.called, 1, 10, 2000));
    if (!tu_backend_is("select"))
        assert_true(r.last & EDDY_ERROR);
    assert_int_equal(write(p[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* An fd closed while watched: poll and select report ERROR (POLLNVAL, or
 * select's EBADF), and the loop goes quiet once the owner removes it;
 * epoll drops the registration silently with the last reference. */
static void remove_on_error(eddy_loop *loop, int fd, unsigned events,
                            void *arg)
{
    on_fd(loop, fd, events, arg);
    assert_int_equal(eddy_loop_remove_handler(loop, fd), 0);
}

static void test_fd_closed_while_watched(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(
        eddy_loop_add_handler(loop, p[0], EDDY_READ, remove_on_error, &r), 0);
    assert_int_equal(close(p[0]), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    if (tu_backend_is("epoll") || tu_backend_is("kqueue")) {
        assert_int_equal(r.called, 0);
    } else {
        assert_int_equal(r.called, 1);
        assert_true(r.last & EDDY_ERROR);
    }
    p[0] = -1;
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* Two readable fds whose handlers each remove the other: whichever runs
 * first, the other's pending event must be dropped. */
typedef struct duel {
    int fd[2];
    int called[2];
    int rc;
} duel;

static void duel_cb(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    duel *d = arg;
    int me = fd == d->fd[1];

    (void)events;
    d->called[me]++;
    d->rc = eddy_loop_remove_handler(loop, d->fd[!me]);
}

static void test_remove_other_during_dispatch(void **state)
{
    eddy_loop *loop = tu_loop_new();
    duel d = {{-1, -1}, {0, 0}, 1};
    int p[2], q[2];

    (void)state;
    tu_pipe(p);
    tu_pipe(q);
    d.fd[0] = p[0];
    d.fd[1] = q[0];
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, duel_cb, &d),
                     0);
    assert_int_equal(eddy_loop_add_handler(loop, q[0], EDDY_READ, duel_cb, &d),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(d.called[0] + d.called[1], 1);
    assert_int_equal(d.rc, 0);
    /* Both stay readable; only the survivor is ever called again. */
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_true(d.called[0] == 3 || d.called[1] == 3);
    assert_int_equal(d.called[0] + d.called[1], 3);
    assert_int_equal(d.rc, -ENOENT);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
    tu_close_pair(q);
}

static void test_remove_self_in_handler(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_loop_stats st;
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    tu_write_byte(p[1]);
    assert_int_equal(
        eddy_loop_add_handler(loop, p[0], EDDY_READ, remove_on_error, &r), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 1);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.handlers, 0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), -ENOENT);
    /* The slot is free for a new handler. */
    assert_int_equal(
        eddy_loop_add_handler(loop, p[0], EDDY_READ, remove_on_error, &r), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 2);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

typedef struct adder {
    int fd;
    int rc;
    fd_rec added;
    int called;
} adder;

static void adder_cb(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    adder *a = arg;

    (void)events;
    a->called++;
    a->rc = eddy_loop_add_handler(loop, a->fd, EDDY_READ, on_fd, &a->added);
    eddy_loop_remove_handler(loop, fd);
}

static void test_add_handler_inside_handler(void **state)
{
    eddy_loop *loop = tu_loop_new();
    adder a = {0};
    int p[2], q[2];

    (void)state;
    tu_pipe(p);
    tu_pipe(q);
    a.fd = q[0];
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, adder_cb, &a),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(a.called, 1);
    assert_int_equal(a.rc, 0);
    assert_true(tu_run_until_count(loop, &a.added.called, 1, 10, 2000));
    assert_int_equal(a.added.fd, q[0]);
    assert_int_equal(a.called, 1);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
    tu_close_pair(q);
}

/* Two readable pipes; whichever handler runs first removes and closes the
 * other's fd, makes a fresh empty pipe under the same number and watches
 * it.  The old fd's pending event must not reach the fresh handler. */
typedef struct reuse {
    int rfd[2], wfd[2];
    int called[2];
    int swapped, victim, fresh_w;
    fd_rec fresh;
} reuse;

static void reuse_cb(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    reuse *r = arg;
    int me = fd == r->rfd[1], other = !me, p[2];

    (void)events;
    r->called[me]++;
    if (r->swapped++)
        return;
    r->victim = r->rfd[other];
    assert_int_equal(eddy_loop_remove_handler(loop, r->victim), 0);
    assert_int_equal(close(r->victim), 0);
    assert_int_equal(close(r->wfd[other]), 0);
    tu_pipe(p);
    if (p[0] != r->victim) {
        assert_int_equal(dup2(p[0], r->victim), r->victim);
        assert_int_equal(close(p[0]), 0);
    }
    r->fresh_w = p[1];
    assert_int_equal(eddy_loop_add_handler(loop, r->victim, EDDY_READ, on_fd,
                                           &r->fresh),
                     0);
}

static void test_fd_reuse_no_stale_event(void **state)
{
    eddy_loop *loop = tu_loop_new();
    reuse r = {.fresh = {.drain = 1}};
    int p[2], q[2];
    tu_log log;

    (void)state;
    tu_log_attach(loop, &log);
    tu_pipe(p);
    tu_pipe(q);
    r.rfd[0] = p[0];
    r.rfd[1] = q[0];
    r.wfd[0] = p[1];
    r.wfd[1] = q[1];
    tu_write_byte(p[1]);
    tu_write_byte(q[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, reuse_cb, &r),
                     0);
    assert_int_equal(eddy_loop_add_handler(loop, q[0], EDDY_READ, reuse_cb, &r),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called[0] + r.called[1], 1);
    /* The fresh pipe is empty: any call now is a stale event. */
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.fresh.called, 0);
    tu_write_byte(r.fresh_w);
    assert_true(tu_run_until_count(loop, &r.fresh.called, 1, 10, 2000));
    assert_int_equal(r.fresh.fd, r.victim);
    assert_int_equal(r.fresh.last, EDDY_READ);
    assert_int_equal(r.fresh.got, 1);
    /* Not mistaken for an orphaned registration (epoll): no rebuild. */
    assert_int_equal(log.count, 0);
    eddy_loop_close(loop, 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(close(r.rfd[i]), 0);
        if (r.rfd[i] != r.victim)
            assert_int_equal(close(r.wfd[i]), 0);
    }
    assert_int_equal(close(r.fresh_w), 0);
}

/* A handler removed and added back before the poll (the re-arm of a
 * stream, or a number closed and reused by a callback) is a handler like
 * any other in that poll: its fd's readiness is dispatched in the same
 * iteration, not dropped as if it had been removed after the poll. */
typedef struct rearm_fd {
    int fd;
    fd_rec first, second;
} rearm_fd;

static void rearm_in_callback(eddy_loop *loop, void *arg)
{
    rearm_fd *r = arg;

    assert_int_equal(eddy_loop_remove_handler(loop, r->fd), 0);
    assert_int_equal(
        eddy_loop_add_handler(loop, r->fd, EDDY_READ, on_fd, &r->second), 0);
}

static void test_readd_before_poll_gets_events(void **state)
{
    eddy_loop *loop = tu_loop_new();
    rearm_fd r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    r.fd = p[0];
    tu_write_byte(p[1]);
    assert_int_equal(
        eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r.first), 0);
    assert_int_equal(eddy_loop_add_callback(loop, rearm_in_callback, &r), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.first.called, 0);
    assert_int_equal(r.second.called, 1);
    assert_int_equal(r.second.last, EDDY_READ);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* A removed fd closed and reopened under the same number before the loop
 * applied the removal is still a closed fd to add: -EBADF, not a handler
 * on nothing. */
static void test_readd_closed_fd_fails(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    assert_int_equal(close(p[0]), 0);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     -EBADF);
    p[0] = -1;
    for (int i = 0; i < 3; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* epoll cannot watch regular files (-EPERM); poll and select find them
 * always readable, kqueue while there is data past the offset.  A refused
 * add leaves no trace. */
static void test_regular_file(void **state)
{
    eddy_loop *loop = tu_loop_new();
    FILE *f = tmpfile();
    fd_rec r = {0};
    eddy_loop_stats st;
    int fd;

    (void)state;
    assert_non_null(f);
    fd = fileno(f);
    if (tu_backend_is("epoll")) {
        assert_int_equal(eddy_loop_add_handler(loop, fd, EDDY_READ, on_fd, &r),
                         -EPERM);
        assert_int_equal(eddy_loop_add_handler(loop, fd, EDDY_READ, on_fd, &r),
                         -EPERM);
        assert_int_equal(eddy_loop_remove_handler(loop, fd), -ENOENT);
        eddy_loop_get_stats(loop, &st);
        assert_int_equal(st.handlers, 0);
    } else {
        /* kqueue reports a regular file readable only before its end. */
        if (tu_backend_is("kqueue")) {
            assert_int_equal(write(fd, "x", 1), 1);
            assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        }
        assert_int_equal(eddy_loop_add_handler(loop, fd, EDDY_READ, on_fd, &r),
                         0);
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
        assert_int_equal(r.called, 1);
        assert_true(r.last & EDDY_READ);
    }
    eddy_loop_close(loop, 0);
    fclose(f);
}

/* Many fds: all watched at once, a few ready, then all ready together
 * (which also grows the loop's event array). */
static void count_by_fd(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    ((int *)arg)[fd]++;
    tu_drain(fd);
}

static void test_many_fds(void **state)
{
    int want = 10000, npipes = want / 2, total = 0;
    struct rlimit saved;
    eddy_loop *loop;
    int (*p)[2];
    int *calls;

    (void)state;
    if (tu_backend_is("select"))
        skip(); /* FD_SETSIZE: see test_fd_past_select_limit */
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (tu_raise_nofile(want + 64) < want + 64)
        skip();
    loop = tu_loop_new();
    p = calloc((size_t)npipes, sizeof *p);
    calls = calloc((size_t)want + 64, sizeof *calls);
    assert_non_null(p);
    assert_non_null(calls);
    for (int i = 0; i < npipes; i++) {
        tu_pipe(p[i]);
        assert_true(p[i][1] < want + 64);
        assert_int_equal(
            eddy_loop_add_handler(loop, p[i][0], EDDY_READ, count_by_fd, calls),
            0);
        assert_int_equal(
            eddy_loop_add_handler(loop, p[i][1], 0, count_by_fd, calls), 0);
    }
    for (int i = 0; i < npipes; i += 7, total++)
        tu_write_byte(p[i][1]);
    for (int i = 0, sum = 0; i < 50 && sum < total; i++) {
        assert_int_equal(eddy_loop_run_once(loop, 100), 0);
        sum = 0;
        for (int j = 0; j < npipes; j++)
            sum += calls[p[j][0]];
    }
    for (int i = 0; i < npipes; i++) {
        assert_int_equal(calls[p[i][0]], i % 7 == 0);
        assert_int_equal(calls[p[i][1]], 0);
    }

    for (int i = 0; i < npipes; i++)
        tu_write_byte(p[i][1]);
    for (int i = 0, sum = 0; i < 50 && sum < total + npipes; i++) {
        assert_int_equal(eddy_loop_run_once(loop, 100), 0);
        sum = 0;
        for (int j = 0; j < npipes; j++)
            sum += calls[p[j][0]];
    }
    for (int i = 0; i < npipes; i++)
        assert_int_equal(calls[p[i][0]], 1 + (i % 7 == 0));

    /* Holes in the middle of the set: removed fds stay silent. */
    for (int i = 0; i < npipes; i += 3)
        assert_int_equal(eddy_loop_remove_handler(loop, p[i][0]), 0);
    memset(calls, 0, ((size_t)want + 64) * sizeof *calls);
    for (int i = 0; i < npipes; i++)
        tu_write_byte(p[i][1]);
    total = npipes - (npipes + 2) / 3;
    for (int i = 0, sum = 0; i < 50 && sum < total; i++) {
        assert_int_equal(eddy_loop_run_once(loop, 100), 0);
        sum = 0;
        for (int j = 0; j < npipes; j++)
            sum += calls[p[j][0]];
    }
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    for (int i = 0; i < npipes; i++)
        assert_int_equal(calls[p[i][0]], i % 3 != 0);

    eddy_loop_close(loop, 1);
    for (int i = 0; i < npipes; i++) {
        if (i % 3 == 0) /* no handler any more: still open */
            assert_int_equal(close(p[i][0]), 0);
        assert_false(tu_fd_is_open(p[i][0]) || tu_fd_is_open(p[i][1]));
    }
    free(p);
    free(calls);
    setrlimit(RLIMIT_NOFILE, &saved);
}

/* An fd at or past FD_SETSIZE: select refuses it with -ERANGE and says so
 * in the log; epoll and poll simply watch it. */
static void test_fd_past_select_limit(void **state)
{
    int high = FD_SETSIZE + 8;
    struct rlimit saved;
    eddy_loop *loop;
    fd_rec r = {.drain = 1};
    tu_log log;
    int p[2];

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (tu_raise_nofile(high + 1) < high + 1)
        skip();
    loop = tu_loop_new();
    tu_log_attach(loop, &log);
    tu_pipe(p);
    assert_int_equal(dup2(p[0], high), high);
    if (tu_backend_is("select")) {
        assert_int_equal(eddy_loop_add_handler(loop, high, EDDY_READ, on_fd, &r),
                         -ERANGE);
        assert_int_equal(log.by_level[EDDY_LOG_ERROR], 1);
        assert_non_null(strstr(log.last, "select"));
        assert_int_equal(eddy_loop_remove_handler(loop, high), -ENOENT);
    } else {
        assert_int_equal(eddy_loop_add_handler(loop, high, EDDY_READ, on_fd, &r),
                         0);
        tu_write_byte(p[1]);
        assert_true(tu_run_until_count(loop, &r.called, 1, 10, 2000));
        assert_int_equal(r.fd, high);
        assert_int_equal(r.got, 1);
        assert_int_equal(log.count, 0);
    }
    eddy_loop_close(loop, 0);
    assert_int_equal(close(high), 0);
    tu_close_pair(p);
    setrlimit(RLIMIT_NOFILE, &saved);
}

static void ignore_signal(eddy_loop *loop, int signum, void *arg)
{
    (void)loop;
    (void)signum;
    (void)arg;
}

/* Bad calls return the documented errno and print nothing. */
static void test_bad_calls(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int got[40], want[40], n = 0, p[2], closed;
    fd_rec r = {0};
    tu_capture cap;
    size_t printed;

    (void)state;
    tu_capture_begin(&cap);
    tu_pipe(p);
    closed = p[0];
    close(p[0]);
#define EXPECT(call, err) (got[n] = (call), want[n++] = (err))
    EXPECT(eddy_loop_add_handler(loop, -1, EDDY_READ, on_fd, &r), -EBADF);
    EXPECT(eddy_loop_add_handler(loop, closed, EDDY_READ, on_fd, &r), -EBADF);
    EXPECT(eddy_loop_add_handler(loop, p[1], EDDY_WRITE, NULL, &r), -EINVAL);
    EXPECT(eddy_loop_add_handler(loop, p[1], EDDY_HUP, on_fd, &r), -EINVAL);
    EXPECT(eddy_loop_add_handler(loop, p[1], 0x100, on_fd, &r), -EINVAL);
    EXPECT(eddy_loop_add_handler(loop, p[1], EDDY_WRITE, on_fd, &r), 0);
    EXPECT(eddy_loop_add_handler(loop, p[1], EDDY_READ, on_fd, &r), -EEXIST);
    EXPECT(eddy_loop_update_handler(loop, p[1], EDDY_ERROR), -EINVAL);
    EXPECT(eddy_loop_update_handler(loop, closed, EDDY_READ), -ENOENT);
    EXPECT(eddy_loop_update_handler(loop, 100000, EDDY_READ), -ENOENT);
    EXPECT(eddy_loop_update_handler(loop, -1, EDDY_READ), -EBADF);
    EXPECT(eddy_loop_remove_handler(loop, closed), -ENOENT);
    EXPECT(eddy_loop_remove_handler(loop, 100000), -ENOENT);
    EXPECT(eddy_loop_remove_handler(loop, -1), -EBADF);
    EXPECT(eddy_loop_remove_handler(loop, p[1]), 0);
    EXPECT(eddy_loop_remove_handler(loop, p[1]), -ENOENT);
    EXPECT(eddy_loop_update_handler(loop, p[1], EDDY_READ), -ENOENT);
    EXPECT(eddy_loop_add_callback(loop, NULL, NULL), -EINVAL);
    EXPECT(eddy_loop_call_later(loop, 1, NULL, NULL, NULL), -EINVAL);
    EXPECT(eddy_loop_call_at(loop, 1, NULL, NULL, NULL), -EINVAL);
    EXPECT(eddy_loop_call_every(loop, 0, count_cb, &n, NULL), -EINVAL);
    EXPECT(eddy_loop_call_every(loop, 1, NULL, NULL, NULL), -EINVAL);
    EXPECT(eddy_loop_remove_timeout(loop, 0), -ENOENT);
    EXPECT(eddy_loop_remove_timeout(loop, UINT64_MAX), -ENOENT);
    EXPECT(eddy_loop_remove_timeout(loop, (uint64_t)1 << 32), -ENOENT);
    EXPECT(eddy_loop_add_signal(loop, 0, ignore_signal, NULL), -EINVAL);
    EXPECT(eddy_loop_add_signal(loop, -3, ignore_signal, NULL), -EINVAL);
    EXPECT(eddy_loop_add_signal(loop, NSIG, ignore_signal, NULL), -EINVAL);
    EXPECT(eddy_loop_add_signal(loop, SIGKILL, ignore_signal, NULL), -EINVAL);
    EXPECT(eddy_loop_add_signal(loop, SIGSTOP, ignore_signal, NULL), -EINVAL);
    EXPECT(eddy_loop_add_signal(loop, SIGUSR1, NULL, NULL), -EINVAL);
    EXPECT(eddy_loop_remove_signal(loop, SIGUSR1), -ENOENT);
    EXPECT(eddy_loop_remove_signal(loop, 0), -EINVAL);
    EXPECT(eddy_loop_remove_signal(loop, NSIG), -EINVAL);
#undef EXPECT
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    printed = tu_capture_end(&cap);
    for (int i = 0; i < n; i++) {
        if (got[i] != want[i])
            print_error("call %d returned %d, wanted %d\n", i, got[i], want[i]);
        assert_int_equal(got[i], want[i]);
    }
    assert_int_equal(printed, 0);
    assert_int_equal(r.called, 0);
    eddy_loop_close(loop, 0);
    assert_int_equal(close(p[1]), 0);
}

/* --- timers ----------------------------------------------------------------- */

static void test_timers_fire_in_deadline_order(void **state)
{
    eddy_loop *loop = tu_loop_new();
    static const int delay[] = {3, 1, 4, 0, 2};
    order o = {{0}, 0};
    mark m[5];

    (void)state;
    for (int i = 0; i < 5; i++) {
        m[i] = (mark){&o, delay[i]};
        assert_int_equal(
            eddy_loop_call_later(loop, (uint64_t)delay[i], mark_cb, &m[i], NULL),
            0);
    }
    assert_true(tu_run_until_count(loop, &o.n, 5, 100, 2000));
    for (int i = 0; i < 5; i++)
        assert_int_equal(o.seq[i], i);
    eddy_loop_close(loop, 0);
}

static void test_timer_ties_fire_fifo(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint64_t at = eddy_loop_now(loop) + 2;
    order o = {{0}, 0};
    mark m[9];

    (void)state;
    for (int i = 0; i < 8; i++) {
        m[i] = (mark){&o, i + 1};
        assert_int_equal(eddy_loop_call_at(loop, at, mark_cb, &m[i], NULL), 0);
    }
    /* Added last, due first. */
    m[8] = (mark){&o, 0};
    assert_int_equal(eddy_loop_call_at(loop, at - 1, mark_cb, &m[8], NULL), 0);
    assert_true(tu_run_until_count(loop, &o.n, 9, 100, 2000));
    for (int i = 0; i < 9; i++)
        assert_int_equal(o.seq[i], i);
    eddy_loop_close(loop, 0);
}

/* Many timers with clustered deadlines, a third of them cancelled from
 * all over the heap: the rest fire by (deadline, order added), the
 * cancelled never. */
typedef struct heap_check {
    uint64_t at[3000];
    int fired[3000], cancelled[3000];
    int order[3000];
    int n;
} heap_check;

typedef struct heap_item {
    heap_check *h;
    int i;
} heap_item;

static void heap_item_cb(eddy_loop *loop, void *arg)
{
    heap_item *it = arg;

    (void)loop;
    it->h->fired[it->i]++;
    it->h->order[it->h->n++] = it->i;
}

static void test_timer_heap_many(void **state)
{
    eddy_loop *loop = tu_loop_new();
    static heap_check h;
    static heap_item items[3000];
    static eddy_timer_id ids[3000];
    uint64_t base = eddy_loop_now(loop) + 1;
    unsigned rnd = 12345;
    int want = 0;

    (void)state;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 3000; i++) {
        rnd = rnd * 1103515245u + 12345u;
        h.at[i] = base + (rnd >> 16) % 8;
        items[i] = (heap_item){&h, i};
        assert_int_equal(
            eddy_loop_call_at(loop, h.at[i], heap_item_cb, &items[i], &ids[i]),
            0);
    }
    for (int i = 0; i < 3000; i++) {
        rnd = rnd * 1103515245u + 12345u;
        h.cancelled[i] = (rnd >> 16) % 3 == 0;
        if (h.cancelled[i])
            assert_int_equal(eddy_loop_remove_timeout(loop, ids[i]), 0);
        else
            want++;
    }
    assert_true(tu_run_until_count(loop, &h.n, want, 200, 3000));
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(h.n, want);
    for (int k = 1; k < h.n; k++) {
        int a = h.order[k - 1], b = h.order[k];

        assert_true(h.at[a] < h.at[b] || (h.at[a] == h.at[b] && a < b));
    }
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(h.fired[i], !h.cancelled[i]);
        assert_int_equal(eddy_loop_remove_timeout(loop, ids[i]), -ENOENT);
    }
    eddy_loop_close(loop, 0);
}

static void test_timer_cancel(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint64_t at = eddy_loop_now(loop) + 1;
    int a = 0, b = 0;
    eddy_timer_id ida, idb;
    eddy_loop_stats st;

    (void)state;
    /* Same deadline, a first: once b ran, a would have. */
    assert_int_equal(eddy_loop_call_at(loop, at, count_cb, &a, &ida), 0);
    assert_int_equal(eddy_loop_call_at(loop, at, count_cb, &b, &idb), 0);
    assert_true(ida != 0 && idb != 0 && ida != idb);
    assert_int_equal(eddy_loop_remove_timeout(loop, ida), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, ida), -ENOENT);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.timers, 1);
    assert_true(tu_run_until_count(loop, &b, 1, 100, 2000));
    assert_int_equal(a, 0);
    eddy_loop_close(loop, 0);
}

typedef struct self_cancel {
    eddy_timer_id id;
    int called, rc;
} self_cancel;

static void self_cancel_cb(eddy_loop *loop, void *arg)
{
    self_cancel *s = arg;

    s->called++;
    s->rc = eddy_loop_remove_timeout(loop, s->id);
}

static void test_timer_cancel_after_fire(void **state)
{
    eddy_loop *loop = tu_loop_new();
    self_cancel s = {0, 0, 1};
    eddy_timer_id id;
    int called = 0;

    (void)state;
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &called, &id), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, self_cancel_cb, &s, &s.id),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(called, 1);
    assert_int_equal(s.called, 1);
    assert_int_equal(s.rc, -ENOENT); /* from inside its own callback */
    assert_int_equal(eddy_loop_remove_timeout(loop, id), -ENOENT);
    assert_int_equal(eddy_loop_remove_timeout(loop, s.id), -ENOENT);
    eddy_loop_close(loop, 0);
}

/* A handle outlives its timer: once its record is reused, the old handle
 * must not reach the new timer, whether the old one was removed or fired. */
static void test_stale_handle_spares_reused_record(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_timer_id old, fresh;
    int a = 0, b = 0;

    (void)state;
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &a, &old), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, old), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &b, &fresh), 0);
    assert_int_equal((uint32_t)old, (uint32_t)fresh); /* same record */
    assert_true(old != fresh);
    assert_int_equal(eddy_loop_remove_timeout(loop, old), -ENOENT);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(b, 1);

    /* Fired this time, then reused. */
    old = fresh;
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &b, &fresh), 0);
    assert_int_equal((uint32_t)old, (uint32_t)fresh);
    assert_int_equal(eddy_loop_remove_timeout(loop, old), -ENOENT);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(b, 2);
    assert_int_equal(a, 0);
    eddy_loop_close(loop, 0);
}

static void test_periodic(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_loop_stats st;
    eddy_timer_id id;
    int called = 0;

    (void)state;
    eddy_loop_update_time(loop); /* the period counts from the cached time */
    assert_int_equal(eddy_loop_call_every(loop, 10, count_cb, &called, &id),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(called, 0); /* the first run is one period away */
    assert_true(tu_run_until_count(loop, &called, 3, 200, 2000));
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.timers, 1);
    assert_int_equal(eddy_loop_remove_timeout(loop, id), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, id), -ENOENT);
    assert_int_equal(eddy_loop_timeout(loop), -1);
    eddy_loop_close(loop, 0);
}

static void periodic_self_remove(eddy_loop *loop, void *arg)
{
    self_cancel *s = arg;

    if (++s->called == 3)
        s->rc = eddy_loop_remove_timeout(loop, s->id);
}

static void test_periodic_removes_itself(void **state)
{
    eddy_loop *loop = tu_loop_new();
    self_cancel s = {0, 0, 1};
    eddy_loop_stats st;

    (void)state;
    assert_int_equal(
        eddy_loop_call_every(loop, 1, periodic_self_remove, &s, &s.id), 0);
    assert_true(tu_run_until_count(loop, &s.called, 3, 200, 2000));
    assert_int_equal(s.rc, 0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.timers, 0);
    assert_int_equal(eddy_loop_timeout(loop), -1);
    assert_int_equal(eddy_loop_run_once(loop, 3), 0);
    assert_int_equal(s.called, 3);
    assert_int_equal(eddy_loop_remove_timeout(loop, s.id), -ENOENT);
    eddy_loop_close(loop, 0);
}

static void block_loop_cb(eddy_loop *loop, void *arg)
{
    (void)loop;
    tu_busy_ms(*(uint64_t *)arg);
}

/* A loop blocked for five periods runs the periodic callback once when
 * it gets back, not five times in a row. */
static void test_periodic_skips_missed_periods(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint64_t period = 20, block = 5 * period, t0, elapsed;
    eddy_timer_id id;
    int called = 0;

    (void)state;
    assert_int_equal(eddy_loop_call_every(loop, period, count_cb, &called, &id),
                     0);
    assert_int_equal(eddy_loop_add_callback(loop, block_loop_cb, &block), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    t0 = tu_now_ms();
    for (int i = 0; i < 4; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    elapsed = tu_now_ms() - t0;
    assert_true(called >= 1);
    assert_true((uint64_t)called <= 1 + elapsed / period);
    /* And it keeps its rhythm afterwards. */
    assert_true(tu_run_until_count(loop, &called, called + 1, 100, 2000));
    assert_int_equal(eddy_loop_remove_timeout(loop, id), 0);
    eddy_loop_close(loop, 0);
}

/* A timer that re-arms itself for "now" runs once per iteration, and the
 * fd handler still runs in every one of them. */
typedef struct rearm {
    int called;
    int limit;
} rearm;

static void rearm_cb(eddy_loop *loop, void *arg)
{
    rearm *r = arg;

    if (++r->called < r->limit)
        assert_int_equal(eddy_loop_call_later(loop, 0, rearm_cb, r, NULL), 0);
}

static void test_timer_for_now_does_not_starve_io(void **state)
{
    eddy_loop *loop = tu_loop_new();
    rearm t = {0, 100};
    fd_rec r = {0};
    int p[2];

    (void)state;
    tu_pipe(p);
    tu_write_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_call_later(loop, 0, rearm_cb, &t, NULL), 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
        assert_int_equal(t.called, i);
        assert_int_equal(r.called, i);
    }
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* A deadline in the past runs in the next iteration, after the timers
 * that were already due, and never in the pass that added it. */
static void add_past_timer(eddy_loop *loop, void *arg)
{
    mark *m = arg;

    mark_cb(loop, m);
    assert_int_equal(eddy_loop_call_at(loop, 0, mark_cb, m + 1, NULL), 0);
}

static void test_call_at_past_runs_next_iteration(void **state)
{
    eddy_loop *loop = tu_loop_new();
    order o = {{0}, 0};
    mark m[4] = {{&o, 0}, {&o, 1}, {&o, 2}, {&o, 3}};

    (void)state;
    assert_int_equal(eddy_loop_call_later(loop, 0, mark_cb, &m[0], NULL), 0);
    assert_int_equal(eddy_loop_call_at(loop, 0, mark_cb, &m[1], NULL), 0);
    assert_int_equal(eddy_loop_call_at(loop, 1, add_past_timer, &m[2], NULL),
                     0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(o.n, 3);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(o.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(o.seq[i], i);
    eddy_loop_close(loop, 0);
}

/* Sequence numbers are 32 bits: past UINT32_MAX they are renumbered, and
 * ties must still fire in the order they were added. */
static void test_timer_seq_wraparound_keeps_fifo(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint64_t at = eddy_loop_now(loop) + 1;
    order o = {{0}, 0};
    mark m[40];

    (void)state;
    for (int i = 0; i < 40; i++)
        m[i] = (mark){&o, i};
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_call_at(loop, at, mark_cb, &m[i], NULL), 0);
    eddy__timers_set_seq(loop, UINT32_MAX - 5);
    for (int i = 20; i < 40; i++)
        assert_int_equal(eddy_loop_call_at(loop, at, mark_cb, &m[i], NULL), 0);
    assert_true(loop->seq < 64); /* the renumbering happened */
    assert_true(tu_run_until_count(loop, &o.n, 40, 100, 2000));
    for (int i = 0; i < 40; i++)
        assert_int_equal(o.seq[i], i);
    eddy_loop_close(loop, 0);
}

/* The wrap in the middle of a pass: timers added by a callback then must
 * still wait for the next iteration, and the due ones still run. */
static void wrap_in_callback(eddy_loop *loop, void *arg)
{
    mark *m = arg;

    mark_cb(loop, m);
    eddy__timers_set_seq(loop, UINT32_MAX - 1);
    assert_int_equal(eddy_loop_call_later(loop, 0, mark_cb, m + 3, NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, mark_cb, m + 4, NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, mark_cb, m + 5, NULL), 0);
}

static void test_timer_seq_wraparound_during_pass(void **state)
{
    eddy_loop *loop = tu_loop_new();
    order o = {{0}, 0};
    mark m[6];

    (void)state;
    for (int i = 0; i < 6; i++)
        m[i] = (mark){&o, i};
    assert_int_equal(eddy_loop_call_later(loop, 0, wrap_in_callback, &m[0], NULL),
                     0);
    assert_int_equal(eddy_loop_call_later(loop, 0, mark_cb, &m[1], NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, mark_cb, &m[2], NULL), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(o.n, 3);
    assert_true(loop->seq < 64);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(o.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(o.seq[i], i);
    eddy_loop_close(loop, 0);
}

/* --- callbacks ------------------------------------------------------------ */

static void test_callbacks_run_next_iteration_fifo(void **state)
{
    eddy_loop *loop = tu_loop_new();
    order o = {{0}, 0};
    mark m[6];

    (void)state;
    for (int i = 0; i < 6; i++) {
        m[i] = (mark){&o, i};
        assert_int_equal(eddy_loop_add_callback(loop, mark_cb, &m[i]), 0);
    }
    assert_int_equal(o.n, 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(o.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(o.seq[i], i);
    eddy_loop_close(loop, 0);
}

/* A callback that queues itself runs once per iteration: the poll does not
 * block while it is queued, and I/O is dispatched in every iteration. */
static void requeue_cb(eddy_loop *loop, void *arg)
{
    rearm *r = arg;

    if (++r->called < r->limit)
        assert_int_equal(eddy_loop_add_callback(loop, requeue_cb, r), 0);
}

static void test_callback_added_in_callback_waits(void **state)
{
    eddy_loop *loop = tu_loop_new();
    rearm c = {0, 3};
    fd_rec r = {0};
    int safety, p[2];

    (void)state;
    tu_pipe(p);
    tu_write_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_add_callback(loop, requeue_cb, &c), 0);
    tu_safety_timer(loop, 5000, &safety);
    for (int i = 1; i <= 3; i++) {
        /* -1: only the queued callback keeps this from blocking. */
        assert_int_equal(eddy_loop_run_once(loop, -1), 0);
        assert_int_equal(c.called, i);
        assert_int_equal(r.called, i);
    }
    assert_int_equal(safety, 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* --- other threads --------------------------------------------------------- */

typedef struct remote {
    eddy_loop *loop;
    eddy_cb cb;
    int stop; /* call eddy_loop_stop instead of adding cb */
    int called;
    int on_loop_thread;
    pthread_t loop_thread;
    int rc; /* of the helper thread's call */
} remote;

static void remote_cb(eddy_loop *loop, void *arg)
{
    remote *r = arg;

    (void)loop;
    r->called++;
    r->on_loop_thread = pthread_equal(pthread_self(), r->loop_thread);
    if (r->stop)
        eddy_loop_stop(loop);
}

static void *remote_main(void *arg)
{
    remote *r = arg;

    thread_pause_ms(20); /* let the loop block first */
    if (r->cb == NULL)
        eddy_loop_stop(r->loop);
    else
        r->rc = eddy_loop_add_callback(r->loop, r->cb, r);
    return NULL;
}

static void test_thread_callback_wakes_run_once(void **state)
{
    remote r = {.loop = tu_loop_new(), .cb = remote_cb,
                .loop_thread = pthread_self()};
    int safety;
    pthread_t t;

    (void)state;
    tu_safety_timer(r.loop, 5000, &safety);
    assert_int_equal(pthread_create(&t, NULL, remote_main, &r), 0);
    assert_int_equal(eddy_loop_run_once(r.loop, -1), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(eddy_loop_run_once(r.loop, 0), 0);
    assert_int_equal(safety, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.called, 1);
    assert_true(r.on_loop_thread);
    eddy_loop_close(r.loop, 0);
}

static void test_thread_callback_wakes_run(void **state)
{
    remote r = {.loop = tu_loop_new(), .cb = remote_cb, .stop = 1,
                .loop_thread = pthread_self()};
    int safety;
    pthread_t t;

    (void)state;
    tu_safety_timer(r.loop, 5000, &safety);
    assert_int_equal(pthread_create(&t, NULL, remote_main, &r), 0);
    assert_int_equal(eddy_loop_run(r.loop), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(safety, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.called, 1);
    assert_true(r.on_loop_thread);
    eddy_loop_close(r.loop, 0);
}

static void test_thread_stop_wakes_run(void **state)
{
    remote r = {.loop = tu_loop_new(), .loop_thread = pthread_self()};
    int safety;
    pthread_t t;

    (void)state;
    tu_safety_timer(r.loop, 5000, &safety);
    assert_int_equal(pthread_create(&t, NULL, remote_main, &r), 0);
    assert_int_equal(eddy_loop_run(r.loop), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(safety, 0);
    eddy_loop_close(r.loop, 0);
}

/* Callbacks from another thread keep their order, also when they arrive
 * while the loop thread's own queue is never empty. */
typedef struct numbered {
    struct fifo_remote *f;
    int i;
} numbered;

typedef struct fifo_remote {
    eddy_loop *loop;
    numbered items[1000];
    int next, bad, rc;
} fifo_remote;

static void numbered_cb(eddy_loop *loop, void *arg)
{
    numbered *it = arg;

    (void)loop;
    if (it->i != it->f->next++)
        it->f->bad++;
}

static void *push_numbered(void *arg)
{
    fifo_remote *f = arg;

    for (int i = 0; i < 1000 && f->rc == 0; i++)
        f->rc = eddy_loop_add_callback(f->loop, numbered_cb, &f->items[i]);
    return NULL;
}

static void test_thread_callbacks_keep_order(void **state)
{
    static fifo_remote f;
    rearm local = {0, INT32_MAX};
    pthread_t t;

    (void)state;
    memset(&f, 0, sizeof f);
    f.loop = tu_loop_new();
    for (int i = 0; i < 1000; i++)
        f.items[i] = (numbered){&f, i};
    assert_int_equal(eddy_loop_add_callback(f.loop, requeue_cb, &local), 0);
    assert_int_equal(eddy_loop_run_once(f.loop, 0), 0);
    assert_int_equal(pthread_create(&t, NULL, push_numbered, &f), 0);
    assert_true(tu_run_until_count(f.loop, &f.next, 1000, 1000000, 5000));
    assert_int_equal(pthread_join(t, NULL), 0);
    local.limit = 0; /* the local callback stops queueing itself */
    assert_int_equal(eddy_loop_run_once(f.loop, 0), 0);
    assert_int_equal(f.rc, 0);
    assert_int_equal(f.next, 1000);
    assert_int_equal(f.bad, 0);
    assert_true(local.called >= 2);
    eddy_loop_close(f.loop, 0);
}

/* Two loops in two threads bounce a message back and forth through
 * add_callback, each checking it runs on its own thread. */
typedef struct player {
    eddy_loop *loop;
    struct player *peer;
    int hits, rounds;
    int wrong_thread, wrong_current;
    int safety;
    pthread_t thread;
} player;

static void ball_cb(eddy_loop *loop, void *arg)
{
    player *me = arg;

    if (!pthread_equal(pthread_self(), me->thread))
        me->wrong_thread++;
    if (eddy_loop_current() != loop || loop != me->loop)
        me->wrong_current++;
    if (++me->hits == me->rounds) {
        eddy_loop_stop(me->peer->loop);
        eddy_loop_stop(loop);
    } else if (eddy_loop_add_callback(me->peer->loop, ball_cb, me->peer)) {
        me->wrong_current++;
    }
}

/* No cmocka assertions here: they must not jump across threads. */
static void *player_main(void *arg)
{
    player *me = arg;

    me->thread = pthread_self(); /* before any ball_cb can run here */
    if (eddy_loop_call_later(me->loop, 5000, tu_safety_cb, &me->safety,
                             NULL) != 0 ||
        eddy_loop_run(me->loop) != 0)
        me->wrong_current++;
    return NULL;
}

static void test_two_loops_two_threads(void **state)
{
    int rounds = tu_valgrind() ? 200 : 2000;
    player a = {.loop = tu_loop_new(), .rounds = rounds};
    player b = {.loop = tu_loop_new(), .peer = &a, .rounds = rounds};
    pthread_t ta, tb;

    (void)state;
    a.peer = &b;
    assert_int_equal(pthread_create(&ta, NULL, player_main, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, player_main, &b), 0);
    assert_int_equal(eddy_loop_add_callback(a.loop, ball_cb, &a), 0);
    assert_int_equal(pthread_join(ta, NULL), 0);
    assert_int_equal(pthread_join(tb, NULL), 0);
    assert_int_equal(a.safety + b.safety, 0);
    assert_int_equal(a.hits, rounds); /* a served first, so a ends it */
    assert_int_equal(b.hits, rounds - 1);
    assert_int_equal(a.wrong_thread + b.wrong_thread, 0);
    assert_int_equal(a.wrong_current + b.wrong_current, 0);
    eddy_loop_close(a.loop, 0);
    eddy_loop_close(b.loop, 0);
}

/* eddy_loop_stop is async-signal-safe: a plain signal handler may stop a
 * loop blocked in run. */
static eddy_loop *stop_target;

static void stop_from_handler(int signum)
{
    (void)signum;
    eddy_loop_stop(stop_target);
}

static void *kill_main(void *arg);

static void test_stop_from_signal_handler(void **state)
{
    eddy_loop *loop = tu_loop_new();
    struct sigaction sa, saved;
    int safety;
    pthread_t t;

    (void)state;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_from_handler;
    sigemptyset(&sa.sa_mask);
    stop_target = loop;
    assert_int_equal(sigaction(SIGUSR2, &sa, &saved), 0);
    tu_safety_timer(loop, 5000, &safety);
    assert_int_equal(pthread_create(&t, NULL, kill_main, NULL), 0);
    assert_int_equal(eddy_loop_run(loop), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(sigaction(SIGUSR2, &saved, NULL), 0);
    assert_int_equal(safety, 0);
    eddy_loop_close(loop, 0);
}

/* --- signals ------------------------------------------------------------------ */

typedef struct sig_rec {
    int called;
    int signum;
    int on_main;
    pthread_t main;
} sig_rec;

static void on_signal(eddy_loop *loop, int signum, void *arg)
{
    sig_rec *s = arg;

    (void)loop;
    s->called++;
    s->signum = signum;
    s->on_main = pthread_equal(pthread_self(), s->main);
}

static void test_signal_runs_as_callback(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sig_rec s = {0, 0, 0, pthread_self()};

    (void)state;
    assert_int_equal(eddy_loop_add_signal(loop, SIGUSR1, on_signal, &s), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(s.called, 0); /* not from inside the handler */
    assert_true(tu_run_until_count(loop, &s.called, 1, 10, 2000));
    assert_int_equal(s.signum, SIGUSR1);
    assert_true(s.on_main);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(s.called, 1);
    assert_int_equal(kill(getpid(), SIGUSR1), 0);
    assert_true(tu_run_until_count(loop, &s.called, 2, 10, 2000));
    assert_int_equal(eddy_loop_remove_signal(loop, SIGUSR1), 0);
    eddy_loop_close(loop, 0);
}

static void *kill_main(void *arg)
{
    sigset_t set;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* deliver it to the loop */
    thread_pause_ms(20);
    kill(getpid(), SIGUSR2);
    return NULL;
}

static void test_signal_wakes_blocked_loop(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sig_rec s = {0, 0, 0, pthread_self()};
    int safety;
    pthread_t t;

    (void)state;
    assert_int_equal(eddy_loop_add_signal(loop, SIGUSR2, on_signal, &s), 0);
    tu_safety_timer(loop, 5000, &safety);
    assert_int_equal(pthread_create(&t, NULL, kill_main, NULL), 0);
    assert_int_equal(eddy_loop_run_once(loop, -1), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(safety, 0);
    assert_int_equal(s.called, 1);
    assert_int_equal(s.signum, SIGUSR2);
    assert_true(s.on_main);
    eddy_loop_close(loop, 0);
}

static void test_signal_second_registration_busy(void **state)
{
    eddy_loop *loop = tu_loop_new(), *other = tu_loop_new();
    sig_rec s = {0, 0, 0, pthread_self()};

    (void)state;
    assert_int_equal(eddy_loop_add_signal(loop, SIGUSR1, on_signal, &s), 0);
    assert_int_equal(eddy_loop_add_signal(loop, SIGUSR1, on_signal, &s),
                     -EBUSY);
    assert_int_equal(eddy_loop_add_signal(other, SIGUSR1, on_signal, &s),
                     -EBUSY);
    assert_int_equal(eddy_loop_remove_signal(loop, SIGUSR1), 0);
    assert_int_equal(eddy_loop_remove_signal(loop, SIGUSR1), -ENOENT);
    assert_int_equal(eddy_loop_add_signal(other, SIGUSR1, on_signal, &s), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_true(tu_run_until_count(other, &s.called, 1, 10, 2000));
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(s.called, 1);
    eddy_loop_close(other, 0); /* frees the signal too */
    assert_int_equal(eddy_loop_add_signal(loop, SIGUSR1, on_signal, &s), 0);
    eddy_loop_close(loop, 0);
}

static volatile sig_atomic_t own_handler_hits;

static void own_handler(int signum)
{
    (void)signum;
    own_handler_hits++;
}

static void test_signal_remove_restores_disposition(void **state)
{
    eddy_loop *loop = tu_loop_new();
    sig_rec s = {0, 0, 0, pthread_self()};
    struct sigaction mine, cur, saved;

    (void)state;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = own_handler;
    sigemptyset(&mine.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &mine, &saved), 0);
    own_handler_hits = 0;

    assert_int_equal(eddy_loop_add_signal(loop, SIGUSR1, on_signal, &s), 0);
    assert_int_equal(sigaction(SIGUSR1, NULL, &cur), 0);
    assert_true(cur.sa_handler != own_handler);
    assert_int_equal(eddy_loop_remove_signal(loop, SIGUSR1), 0);
    assert_int_equal(sigaction(SIGUSR1, NULL, &cur), 0);
    assert_true(cur.sa_handler == own_handler);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(own_handler_hits, 1);

    /* Closing the loop restores it as well. */
    assert_int_equal(eddy_loop_add_signal(loop, SIGUSR1, on_signal, &s), 0);
    eddy_loop_close(loop, 0);
    assert_int_equal(sigaction(SIGUSR1, NULL, &cur), 0);
    assert_true(cur.sa_handler == own_handler);
    assert_int_equal(s.called, 0);
    assert_int_equal(sigaction(SIGUSR1, &saved, NULL), 0);
}

/* --- run, stop, run_once ---------------------------------------------------- */

typedef struct stopper {
    int stopped;
    int after;
} stopper;

static void stop_then_queue(eddy_loop *loop, void *arg)
{
    stopper *s = arg;

    s->stopped++;
    eddy_loop_stop(loop);
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &s->after), 0);
}

static void test_stop_inside_callback(void **state)
{
    eddy_loop *loop = tu_loop_new();
    stopper s = {0, 0};
    eddy_loop_stats st;
    fd_rec r = {0};
    int safety, p[2];

    (void)state;
    tu_pipe(p);
    tu_write_byte(p[1]);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_add_callback(loop, stop_then_queue, &s), 0);
    tu_safety_timer(loop, 5000, &safety);
    assert_int_equal(eddy_loop_run(loop), 0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.iterations, 1); /* the iteration was finished... */
    assert_int_equal(r.called, 1);      /* ...I/O included */
    assert_int_equal(s.stopped, 1);
    assert_int_equal(s.after, 0); /* the next one never started */
    assert_int_equal(safety, 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

static void test_stop_before_run(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_loop_stats st;
    int called = 0, safety;

    (void)state;
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &called), 0);
    eddy_loop_stop(loop);
    assert_int_equal(eddy_loop_run(loop), 0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.iterations, 0);
    assert_int_equal(called, 0);
    /* The request was used up: the next run runs. */
    assert_int_equal(eddy_loop_add_callback(loop, stop_cb, NULL), 0);
    tu_safety_timer(loop, 5000, &safety);
    assert_int_equal(eddy_loop_run(loop), 0);
    assert_int_equal(called, 1);
    assert_int_equal(safety, 0);
    eddy_loop_close(loop, 0);
}

static void test_run_once_timeout(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint64_t t0, took;

    (void)state;
    t0 = tu_now_ns();
    assert_int_equal(eddy_loop_run_once(loop, 50), 0);
    took = tu_now_ns() - t0;
    assert_true(took >= 50 * 1000000u);
    assert_true(took < 550 * 1000000u);

    t0 = tu_now_ns();
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_true(tu_now_ns() - t0 < 500 * 1000000u);
    eddy_loop_close(loop, 0);
}

/* run_once(-1) does not sleep after it already ran a timer: a caller
 * looping "until my last timer fired" must not block at the end.  The far
 * timer only bounds the wait if that is broken. */
static void test_run_once_no_wait_after_work(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_timer_id far;
    int fired = 0;
    uint64_t t0;

    (void)state;
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &fired, NULL), 0);
    assert_int_equal(eddy_loop_call_later(loop, 3000, count_cb, &fired, &far), 0);
    t0 = tu_now_ns();
    assert_int_equal(eddy_loop_run_once(loop, -1), 0);
    assert_int_equal(fired, 1);
    assert_true(tu_now_ns() - t0 < 1000 * 1000000u);
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &fired), 0);
    t0 = tu_now_ns();
    assert_int_equal(eddy_loop_run_once(loop, -1), 0);
    assert_int_equal(fired, 2);
    assert_true(tu_now_ns() - t0 < 1000 * 1000000u);
    assert_int_equal(eddy_loop_remove_timeout(loop, far), 0);
    eddy_loop_close(loop, 0);
}

typedef struct nested {
    int run_rc, run_once_rc;
    eddy_loop *inner;
    eddy_loop *seen_outer, *seen_inner, *seen_after;
} nested;

static void record_current(eddy_loop *loop, void *arg)
{
    (void)loop;
    *(eddy_loop **)arg = eddy_loop_current();
}

static void nest_cb(eddy_loop *loop, void *arg)
{
    nested *n = arg;

    n->run_rc = eddy_loop_run(loop);
    n->run_once_rc = eddy_loop_run_once(loop, 0);
    n->seen_outer = eddy_loop_current();
    assert_int_equal(
        eddy_loop_add_callback(n->inner, record_current, &n->seen_inner), 0);
    assert_int_equal(eddy_loop_run_once(n->inner, 0), 0);
    n->seen_after = eddy_loop_current();
}

static void test_nested_runs(void **state)
{
    eddy_loop *loop = tu_loop_new();
    nested n = {0, 0, tu_loop_new(), NULL, NULL, NULL};

    (void)state;
    assert_null(eddy_loop_current());
    assert_int_equal(eddy_loop_add_callback(loop, nest_cb, &n), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(n.run_rc, -EBUSY);
    assert_int_equal(n.run_once_rc, -EBUSY);
    assert_ptr_equal(n.seen_outer, loop);
    assert_ptr_equal(n.seen_inner, n.inner);
    assert_ptr_equal(n.seen_after, loop);
    assert_null(eddy_loop_current());
    eddy_loop_close(n.inner, 0);
    eddy_loop_close(loop, 0);
}

static void *current_elsewhere(void *arg)
{
    *(eddy_loop **)arg = eddy_loop_current();
    return NULL;
}

static void check_current_in_thread(eddy_loop *loop, void *arg)
{
    eddy_loop **seen = arg;
    pthread_t t;

    (void)loop;
    seen[0] = eddy_loop_current();
    seen[1] = loop; /* overwritten by the thread with its own answer */
    assert_int_equal(pthread_create(&t, NULL, current_elsewhere, &seen[1]), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_default_and_current(void **state)
{
    eddy_loop *d = eddy_loop_default(), *seen[2] = {NULL, NULL}, *d2;

    (void)state;
    assert_non_null(d);
    assert_ptr_equal(eddy_loop_default(), d);
    assert_null(eddy_loop_current());
    assert_int_equal(eddy_loop_add_callback(d, check_current_in_thread, seen),
                     0);
    assert_int_equal(eddy_loop_run_once(d, 0), 0);
    assert_ptr_equal(seen[0], d);
    assert_null(seen[1]); /* current is per thread */
    assert_null(eddy_loop_current());
    eddy_loop_close(d, 0);
    d2 = eddy_loop_default(); /* a fresh one after close */
    assert_non_null(d2);
    assert_ptr_equal(eddy_loop_default(), d2);
    eddy_loop_close(d2, 0);
}

/* --- the watchdog, stats, nesting in another loop ---------------------------- */

static void test_blocking_watchdog(void **state)
{
    eddy_loop *loop = tu_loop_new();
    uint64_t block = 100;
    eddy_loop_stats st;
    int called = 0;
    tu_log log;

    (void)state;
    tu_log_attach(loop, &log);
    eddy_loop_set_blocking_threshold(loop, 40);
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &called), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(called, 1);
    assert_int_equal(log.count, 0);

    assert_int_equal(eddy_loop_add_callback(loop, block_loop_cb, &block), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(log.count, 1);
    assert_int_equal(log.last_level, EDDY_LOG_WARNING);
    assert_non_null(strstr(log.last, "callback"));
    assert_non_null(strstr(log.last, "blocked"));
    eddy_loop_get_stats(loop, &st);
    assert_true(st.longest_cb_us >= block * 1000);

    eddy_loop_set_blocking_threshold(loop, 0); /* off again */
    block = 50;
    assert_int_equal(eddy_loop_add_callback(loop, block_loop_cb, &block), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(log.count, 1);
    eddy_loop_close(loop, 0);
}

static void test_stats_count(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {.drain = 1};
    eddy_loop_stats st;
    int called = 0, p[2];

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &called), 0);
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &called), 0);
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &called, NULL),
                     0);
    assert_int_equal(eddy_loop_call_later(loop, 1000, count_cb, &called, NULL),
                     0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.handlers, 1);
    assert_int_equal(st.timers, 2);
    tu_write_byte(p[1]);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.iterations, 1);
    assert_int_equal(st.callbacks_run, 2);
    assert_int_equal(st.timers_run, 1);
    assert_int_equal(st.timers, 1);
    assert_int_equal(st.events, 1);
    assert_int_equal(called, 3);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.handlers, 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

static void test_loop_timeout(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_timer_id a, b;
    int called = 0, t;

    (void)state;
    assert_int_equal(eddy_loop_timeout(loop), -1);
    assert_int_equal(eddy_loop_call_later(loop, 10000, count_cb, &called, &a),
                     0);
    t = eddy_loop_timeout(loop);
    assert_true(t > 0 && t <= 10000);
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &called, &b), 0);
    assert_int_equal(eddy_loop_timeout(loop), 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, b), 0);
    assert_true(eddy_loop_timeout(loop) > 0);
    assert_int_equal(eddy_loop_add_callback(loop, count_cb, &called), 0);
    assert_int_equal(eddy_loop_timeout(loop), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(called, 1);
    assert_true(eddy_loop_timeout(loop) > 0);
    assert_int_equal(eddy_loop_remove_timeout(loop, a), 0);
    assert_int_equal(eddy_loop_timeout(loop), -1);
    eddy_loop_close(loop, 0);
}

/* A host that embeds the loop asks for the timeout after doing its own
 * work: the answer counts from now, not from the loop's last iteration. */
static void test_loop_timeout_counts_from_now(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int called = 0;

    (void)state;
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(eddy_loop_call_later(loop, 20, count_cb, &called, NULL),
                     0);
    tu_busy_ms(30); /* the host's own work */
    assert_int_equal(eddy_loop_timeout(loop), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(called, 1);
    eddy_loop_close(loop, 0);
}

static int readable_now(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};

    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/* epoll's fd polls readable exactly when run_once(0) has I/O to dispatch;
 * poll and select have no such fd. */
static void test_backend_fd(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int bfd = eddy_loop_backend_fd(loop), p[2];
    int has_fd = tu_backend_is("epoll") || tu_backend_is("kqueue");
    fd_rec r = {.drain = 1};

    (void)state;
#ifdef EDDY_LIBKQUEUE
    has_fd = 0; /* libkqueue's kqueue fd is never readable: porting.md, 1 */
#endif
    if (!has_fd) {
        assert_int_equal(bfd, -ENOTSUP);
        eddy_loop_close(loop, 0);
        return;
    }
    assert_true(bfd >= 0);
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_false(readable_now(bfd));
    tu_write_byte(p[1]);
    assert_true(readable_now(bfd));
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 1);
    assert_false(readable_now(bfd));
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* Whether fds[0, n) holds fd with exactly events. */
static int has_pollfd(const struct pollfd *fds, size_t n, int fd, short events)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i].fd == fd)
            return fds[i].events == events && fds[i].revents == 0;
    return 0;
}

/* The fds a host must poll: the backend's one fd (epoll, kqueue), or the
 * wakeup and every watched fd with its events, removals included at once;
 * -ENOSPC says how many are needed. */
static void test_query_fds(void **state)
{
    eddy_loop *loop = tu_loop_new();
    int bfd = eddy_loop_backend_fd(loop), p[2], q[2];
    struct pollfd fds[8];
    fd_rec r = {0};
    size_t n = 99;

    (void)state;
    tu_pipe(p);
    tu_socketpair(q);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_add_handler(loop, q[0], EDDY_READ | EDDY_WRITE,
                                           on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_add_handler(loop, q[1], 0, on_fd, &r), 0);
    assert_int_equal(eddy_loop_query_fds(loop, fds, 8, &n), 0);
    if (bfd >= 0) {
        assert_int_equal(n, 1);
        assert_true(has_pollfd(fds, n, bfd, POLLIN));
    } else {
        assert_int_equal(n, 4); /* the wakeup and three */
        assert_true(has_pollfd(fds, n, p[0], POLLIN));
        assert_true(has_pollfd(fds, n, q[0], POLLIN | POLLOUT));
        assert_true(has_pollfd(fds, n, q[1], 0));
        /* Too small: nothing written, the count needed. */
        fds[0].fd = -7;
        assert_int_equal(eddy_loop_query_fds(loop, fds, 3, &n), -ENOSPC);
        assert_int_equal(n, 4);
        assert_int_equal(fds[0].fd, -7);
        /* Then: ask again with room. */
        assert_int_equal(eddy_loop_remove_handler(loop, q[1]), 0);
        assert_int_equal(eddy_loop_update_handler(loop, q[0], EDDY_WRITE), 0);
        assert_int_equal(eddy_loop_query_fds(loop, fds, 3, &n), 0);
        assert_int_equal(n, 3);
        assert_false(has_pollfd(fds, n, q[1], 0));
        assert_true(has_pollfd(fds, n, q[0], POLLOUT));
    }
    assert_int_equal(eddy_loop_query_fds(loop, fds, 0, &n), -ENOSPC);
    assert_true(n >= 1);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
    tu_close_pair(q);
}

/* A host's poll() loop on those fds sleeps until there is work, on every
 * backend: a pipe that becomes readable, a timer, a callback from another
 * thread (through the wakeup fd).  It never wakes up periodically. */
struct cross {
    eddy_loop *loop;
    int called, rc;
};

static void *add_callback_later(void *arg)
{
    struct cross *x = arg;

    poll(NULL, 0, 30); /* the helper's job is to come late */
    x->rc = eddy_loop_add_callback(x->loop, count_cb, &x->called);
    return NULL;
}

static void host_once(eddy_loop *loop, int *wakeups)
{
    struct pollfd fds[16];
    size_t n;

    assert_int_equal(eddy_loop_query_fds(loop, fds, 16, &n), 0);
    assert_true(poll(fds, (nfds_t)n, eddy_loop_timeout(loop)) >= 0);
    ++*wakeups;
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
}

static void test_query_fds_host_loop(void **state)
{
    eddy_loop *loop = tu_loop_new();
    struct cross x = {loop, 0, -1};
    fd_rec r = {.drain = 1};
    int p[2], fired = 0, wakeups = 0;
    pthread_t t;

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    /* A pipe: one wakeup. */
    tu_write_byte(p[1]);
    host_once(loop, &wakeups);
    assert_int_equal(r.called, 1);
    /* A timer 50 ms away: the host sleeps until it is due. */
    assert_int_equal(eddy_loop_call_later(loop, 50, count_cb, &fired, NULL),
                     0);
    for (int i = 0; i < 10 && fired == 0; i++)
        host_once(loop, &wakeups);
    assert_int_equal(fired, 1);
    /* Another thread's callback, with nothing else to wait for. */
    assert_int_equal(eddy_loop_timeout(loop), -1);
    assert_int_equal(pthread_create(&t, NULL, add_callback_later, &x), 0);
    for (int i = 0; i < 10 && x.called == 0; i++)
        host_once(loop, &wakeups);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(x.rc, 0);
    assert_int_equal(x.called, 1);
    /* One wakeup each, two for the timer at most (it may be a hair early);
     * a 10 ms tick would have been 8 or more. */
    assert_true(wakeups <= 5);
    assert_int_equal(eddy_loop_remove_handler(loop, p[0]), 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* --- fork ------------------------------------------------------------------- */

/* The child must not return into cmocka: it reports through its status. */
static int child_runs_loop(eddy_loop *loop, int rfd, int wfd, fd_rec *r,
                           const int *timer_called)
{
    if (eddy_loop_fork(loop) != 0)
        return 1;
    if (write(wfd, "x", 1) != 1)
        return 2;
    for (int i = 0; i < 20 && (r->called == 0 || *timer_called == 0); i++)
        if (eddy_loop_run_once(loop, 100) != 0)
            return 3;
    if (r->called != 1 || r->fd != rfd || r->got != 1)
        return 4;
    if (*timer_called != 1)
        return 5;
    return 0;
}

static void test_fork_child_runs_loop(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {.drain = 1};
    int called = 0, status, p[2];
    pid_t pid;

    (void)state;
    tu_pipe(p);
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    assert_int_equal(eddy_loop_call_later(loop, 0, count_cb, &called, NULL),
                     0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = child_runs_loop(loop, p[0], p[1], &r, &called);

        eddy_loop_close(loop, 1);
        close(p[1]);
        _exit(rc);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The child read the byte; the parent's loop is untouched. */
    assert_int_equal(r.called, 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(r.called, 0);
    assert_int_equal(called, 1);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* A child that closes an inherited fd before removing its handler (against
 * the rules) gets an error logged by eddy_loop_fork, and the dead handler
 * must stay dead: updating it fails instead of reaching the poller (where
 * poll would have rewritten its wakeup entry, and select would spin on
 * EBADF), and removing it still works. */
static int child_closes_watched_fd(eddy_loop *loop, int fd, fd_rec *r)
{
    tu_log log;

    tu_log_attach(loop, &log);
    close(fd);
    if (eddy_loop_fork(loop) != 0)
        return 1;
    if (log.by_level[EDDY_LOG_ERROR] != 1)
        return 2;
    if (eddy_loop_update_handler(loop, fd, EDDY_WRITE) != -EBADF)
        return 3;
    for (int i = 0; i < 3; i++)
        if (eddy_loop_run_once(loop, 0) != 0)
            return 4;
    if (r->called != 0 || eddy_loop_remove_handler(loop, fd) != 0)
        return 5;
    return 0;
}

static void test_fork_with_closed_watched_fd(void **state)
{
    eddy_loop *loop = tu_loop_new();
    fd_rec r = {0};
    int status, p[2], high;
    pid_t pid;

    (void)state;
    tu_pipe(p);
    /* Far above the lowest free number, which the child's new poller takes
     * (libkqueue opens ten fds there, porting.md 9): the closed number
     * stays closed, so its re-add fails with EBADF on every backend. */
    high = fcntl(p[0], F_DUPFD_CLOEXEC, 128);
    assert_true(high >= 128);
    assert_int_equal(close(p[0]), 0);
    p[0] = high;
    assert_int_equal(eddy_loop_add_handler(loop, p[0], EDDY_READ, on_fd, &r),
                     0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = child_closes_watched_fd(loop, p[0], &r);

        eddy_loop_close(loop, 0);
        close(p[1]);
        _exit(rc);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    eddy_loop_close(loop, 0);
    tu_close_pair(p);
}

/* --- epoll: a registration that outlives its fd ---------------------------- */

/* Remove fd n, close it while a dup keeps the file open (so epoll cannot
 * drop the registration), make the file readable, and watch a new fd under
 * the same number.  The loop must notice the orphan, log once, recreate the
 * poller, and never call the new handler for the old file's events. */
static void test_epoll_orphaned_registration(void **state)
{
    eddy_loop *loop;
    fd_rec old = {0}, fresh = {.drain = 1};
    int p[2], q[2], d, n;
    tu_log log;

    (void)state;
    if (!tu_backend_is("epoll"))
        skip();
    loop = tu_loop_new();
    tu_log_attach(loop, &log);
    tu_pipe(p);
    n = p[0];
    d = dup(p[0]);
    assert_true(d >= 0);
    assert_int_equal(eddy_loop_add_handler(loop, n, EDDY_READ, on_fd, &old), 0);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(eddy_loop_remove_handler(loop, n), 0);
    assert_int_equal(close(p[0]), 0);
    tu_write_byte(p[1]);
    tu_pipe(q);
    if (q[0] != n) {
        assert_int_equal(dup2(q[0], n), n);
        assert_int_equal(close(q[0]), 0);
        q[0] = n;
    }
    assert_int_equal(eddy_loop_add_handler(loop, n, EDDY_READ, on_fd, &fresh),
                     0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(old.called, 0);
    assert_int_equal(fresh.called, 0);
    assert_int_equal(log.by_level[EDDY_LOG_WARNING], 1);
    assert_false(readable_now(eddy_loop_backend_fd(loop))); /* no spinning */
    /* The new fd is watched by the new poller. */
    tu_write_byte(q[1]);
    assert_true(tu_run_until_count(loop, &fresh.called, 1, 10, 2000));
    assert_int_equal(fresh.last, EDDY_READ);
    assert_int_equal(fresh.got, 1);
    assert_int_equal(log.count, 1);
    eddy_loop_close(loop, 0);
    assert_int_equal(close(d), 0);
    p[0] = -1;
    tu_close_pair(p);
    tu_close_pair(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_new_and_close),
        tu_test(test_close_drops_queued_work),
        tu_test(test_close_all_fds),
        tu_test(test_pipe_readable),
        tu_test(test_pipe_writable),
        tu_test(test_socketpair_both_ways),
        tu_test(test_update_handler_changes_interest),
        tu_test(test_peer_close_reports_eof),
        tu_test(test_pipe_writer_close_reports_eof),
        tu_test(test_pipe_reader_close_reports_error),
        tu_test(test_fd_closed_while_watched),
        tu_test(test_remove_other_during_dispatch),
        tu_test(test_remove_self_in_handler),
        tu_test(test_add_handler_inside_handler),
        tu_test(test_fd_reuse_no_stale_event),
        tu_test(test_readd_before_poll_gets_events),
        tu_test(test_readd_closed_fd_fails),
        tu_test(test_regular_file),
        tu_test(test_many_fds),
        tu_test(test_fd_past_select_limit),
        tu_test(test_bad_calls),
        tu_test(test_timers_fire_in_deadline_order),
        tu_test(test_timer_ties_fire_fifo),
        tu_test(test_timer_heap_many),
        tu_test(test_timer_cancel),
        tu_test(test_timer_cancel_after_fire),
        tu_test(test_stale_handle_spares_reused_record),
        tu_test(test_periodic),
        tu_test(test_periodic_removes_itself),
        tu_test(test_periodic_skips_missed_periods),
        tu_test(test_timer_for_now_does_not_starve_io),
        tu_test(test_call_at_past_runs_next_iteration),
        tu_test(test_timer_seq_wraparound_keeps_fifo),
        tu_test(test_timer_seq_wraparound_during_pass),
        tu_test(test_callbacks_run_next_iteration_fifo),
        tu_test(test_callback_added_in_callback_waits),
        tu_test(test_thread_callback_wakes_run_once),
        tu_test(test_thread_callback_wakes_run),
        tu_test(test_thread_stop_wakes_run),
        tu_test(test_thread_callbacks_keep_order),
        tu_test(test_stop_from_signal_handler),
        tu_test(test_two_loops_two_threads),
        tu_test(test_signal_runs_as_callback),
        tu_test(test_signal_wakes_blocked_loop),
        tu_test(test_signal_second_registration_busy),
        tu_test(test_signal_remove_restores_disposition),
        tu_test(test_stop_inside_callback),
        tu_test(test_stop_before_run),
        tu_test(test_run_once_timeout),
        tu_test(test_run_once_no_wait_after_work),
        tu_test(test_nested_runs),
        tu_test(test_default_and_current),
        tu_test(test_blocking_watchdog),
        tu_test(test_stats_count),
        tu_test(test_loop_timeout),
        tu_test(test_loop_timeout_counts_from_now),
        tu_test(test_backend_fd),
        tu_test(test_query_fds),
        tu_test(test_query_fds_host_loop),
        tu_test(test_fork_child_runs_loop),
        tu_test(test_fork_with_closed_watched_fd),
        tu_test(test_epoll_orphaned_registration),
    };

    signal(SIGPIPE, SIG_IGN);
    /* The last bound: a loop that never wakes (a run_once(-1) whose
     * timeout is lost) kills the run instead of hanging make check. */
    alarm(120);
    return cmocka_run_group_tests_name(eddy_loop_backend(), tests, NULL, NULL);
}
