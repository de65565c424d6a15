/*
 * bench/timer_bench.c - the timers benchmark (timer heap) on eddy.
 *
 *   timer_bench [-t TIMERS] [-v]
 *
 * After libuv's million_timers, with random deadlines and a cancel phase,
 * exactly as the shared yardstick (bench/loop/README.md, "the binary
 * contract") fixes it, so that its run.sh can put eddy beside libevent,
 * libev and libuv:
 *
 *   timeouts  ms[i] = 1 + splitmix64 % 1000 from seed "tiemouts";
 *   phase 1   eddy_loop_update_time, then eddy_loop_call_later(ms[i]) for
 *             i = 0..t-1 (add_s); eddy_loop_run_once until no timer is
 *             pending (run_s, and the process CPU time of the same span,
 *             run_cpu_s);
 *   phase 2   eddy_loop_update_time, the same t call_laters again, then
 *             eddy_loop_remove_timeout of every handle in the order of a
 *             Fisher-Yates shuffle from seed "cancelor" (cancel_s covers
 *             both).
 *
 * The handles are kept in an array allocated (and touched) before any
 * timing, as the peers allocate their timer objects.  The callback only
 * counts; its arg is the timer's index.
 *
 * Prints one line on stdout:
 *   timers t=.. lib=eddy add_s=.. run_s=.. cancel_s=.. backend=.. run_cpu_s=..
 * Exit status: 0 ok, 1 failed (a timer lost, fired twice or fired after its
 * removal, or an eddy call failed), 2 usage.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include <eddy/ioloop.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEED_TIMEOUTS 0x7469656d6f757473ULL /* "tiemouts" */
#define SEED_ORDER 0x63616e63656c6f72ULL    /* "cancelor" */

/*
 * What the callbacks saw: how many ran, and the sum of a hash of the index
 * of each timer that fired.  A lost timer or one fired twice changes the
 * sum (a loss and a double cancel out in the count, not in the sum), and
 * this costs the callback no memory access: a per-timer table would add a
 * cache miss to every fire that the peers' callbacks do not pay.
 */
static long fired;
static uint64_t fired_sum;

/* The splitmix64 finaliser: a bijection that scatters nearby indices. */
static inline uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void on_timer(eddy_loop *loop, void *arg)
{
    (void)loop;
    fired++;
    fired_sum += mix((uintptr_t)arg);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [-t TIMERS] [-b BACKEND] [-v]\n"
            "  -t  timers (default 1000000)\n"
            "  -b  default, or the backend eddy was built with (%s)\n"
            "  -v  phase details on stderr\n"
            "prints: timers t=.. lib=eddy add_s=.. run_s=.. cancel_s=.. "
            "backend=.. run_cpu_s=..\n",
            prog, eddy_loop_backend());
}

static int fail(const char *prog, const char *what, int err)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(-err));
    return BENCH_EXIT_FAIL;
}

/* Starts timer i with a timeout of ms[i] for every i, in index order. */
static int start_all(eddy_loop *loop, long t, const int *ms,
                     eddy_timer_id *ids)
{
    for (long i = 0; i < t; i++) {
        int err = eddy_loop_call_later(loop, (uint64_t)ms[i], on_timer,
                                       (void *)(uintptr_t)i, &ids[i]);

        if (err != 0)
            return err;
    }
    return 0;
}

static uint64_t pending(const eddy_loop *loop)
{
    eddy_loop_stats st;

    eddy_loop_get_stats(loop, &st);
    return st.timers;
}

/*
 * Runs the loop until no timer is pending.  Each iteration waits at most
 * until the next deadline, not with -1: an iteration runs its due timers
 * before it polls, so the one that fires the last timer would then wait
 * for I/O that never comes.
 */
static int run_all(eddy_loop *loop)
{
    while (pending(loop) != 0) {
        int err = eddy_loop_run_once(loop, eddy_loop_timeout(loop));

        if (err != 0)
            return err;
    }
    return 0;
}

/* Every timer fired exactly once: phase 1 fires each, phase 2 none. */
static int check_fired(const char *prog, long t, uint64_t want_sum,
                       const char *when)
{
    if (fired == t && fired_sum == want_sum)
        return 0;
    fprintf(stderr,
            "%s: %s: %ld callbacks ran for %ld timers%s; a timer was lost, "
            "fired twice or fired after its removal\n",
            prog, when, fired, t,
            fired == t ? ", but not one for each" : "");
    return BENCH_EXIT_FAIL;
}

/* After phase 1 every handle must be stale: its timer fired. */
static int check_stale(const char *prog, eddy_loop *loop, long t,
                       const eddy_timer_id *ids)
{
    long live = 0;

    for (long i = 0; i < t; i++)
        live += eddy_loop_remove_timeout(loop, ids[i]) != -ENOENT;
    if (live == 0)
        return 0;
    fprintf(stderr, "%s: %ld handles still removable after phase 1\n", prog,
            live);
    return BENCH_EXIT_FAIL;
}

int main(int argc, char **argv)
{
    const char *prog = argv[0], *backend = "default";
    long t = 1000000, *order;
    eddy_timer_id *ids;
    eddy_loop *loop;
    uint64_t s, want_sum = 0;
    int *ms, opt, err, verbose = 0;
    double t0, t1, t2, t3, t4, t5, c1, c2;

    while ((opt = getopt(argc, argv, "t:b:vh")) != -1) {
        switch (opt) {
        case 't': t = bench_parse_long(prog, 't', optarg, 1, 100000000); break;
        case 'b': backend = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout, prog); return 0;
        default: usage(stderr, prog); return BENCH_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr, prog);
        return BENCH_EXIT_USAGE;
    }
    if (strcmp(backend, "default") != 0 &&
        strcmp(backend, eddy_loop_backend()) != 0) {
        fprintf(stderr, "%s: this build of eddy has the %s backend, not %s\n",
                prog, eddy_loop_backend(), backend);
        return BENCH_EXIT_UNSUPPORTED;
    }

    ms = malloc((size_t)t * sizeof *ms);
    order = malloc((size_t)t * sizeof *order);
    ids = malloc((size_t)t * sizeof *ids);
    if (ms == NULL || order == NULL || ids == NULL) {
        perror("malloc");
        return BENCH_EXIT_FAIL;
    }
    /* Touch every page now, so that no timed phase takes its faults. */
    memset(ids, 0, (size_t)t * sizeof *ids);
    for (long i = 0; i < t; i++)
        want_sum += mix((uint64_t)i);

    s = SEED_TIMEOUTS;
    for (long i = 0; i < t; i++)
        ms[i] = 1 + (int)(bench_splitmix64(&s) % 1000);
    /* Fisher-Yates from the top: swap order[i] with order[j], j in [0, i]. */
    s = SEED_ORDER;
    for (long i = 0; i < t; i++)
        order[i] = i;
    for (long i = t - 1; i > 0; i--) {
        long j = (long)(bench_splitmix64(&s) % (uint64_t)(i + 1)), tmp;

        tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }

    err = eddy_loop_new(&loop);
    if (err != 0)
        return fail(prog, "eddy_loop_new", err);
    err = eddy_loop_reserve_timers(loop, (uint32_t)t);
    if (err != 0)
        return fail(prog, "eddy_loop_reserve_timers", err);

    /* Phase 1: add, then run until every timer has fired. */
    eddy_loop_update_time(loop);
    t0 = bench_now_us();
    err = start_all(loop, t, ms, ids);
    t1 = bench_now_us();
    if (err != 0)
        return fail(prog, "eddy_loop_call_later", err);
    c1 = bench_cpu_s();
    err = run_all(loop);
    t2 = bench_now_us();
    c2 = bench_cpu_s();
    if (err != 0)
        return fail(prog, "eddy_loop_run_once", err);
    if (check_fired(prog, t, want_sum, "phase 1") != 0 ||
        check_stale(prog, loop, t, ids) != 0)
        return BENCH_EXIT_FAIL;

    /* Phase 2: add again, then remove all in the shuffled order. */
    eddy_loop_update_time(loop);
    t3 = bench_now_us();
    err = start_all(loop, t, ms, ids);
    t4 = bench_now_us();
    if (err != 0)
        return fail(prog, "eddy_loop_call_later", err);
    for (long i = 0; i < t && err == 0; i++)
        err = eddy_loop_remove_timeout(loop, ids[order[i]]);
    t5 = bench_now_us();
    if (err != 0)
        return fail(prog, "eddy_loop_remove_timeout", err);
    /* Nothing may be left, and nothing may fire any more. */
    if (pending(loop) != 0) {
        fprintf(stderr, "%s: %llu timers still pending after removal\n",
                prog, (unsigned long long)pending(loop));
        return BENCH_EXIT_FAIL;
    }
    if ((err = eddy_loop_run_once(loop, 0)) != 0 || (err = run_all(loop)))
        return fail(prog, "eddy_loop_run_once", err);
    if (check_fired(prog, t, want_sum, "phase 2") != 0)
        return BENCH_EXIT_FAIL;

    if (verbose)
        fprintf(stderr, "phase2 add_s=%.6f stop_s=%.6f\n", (t4 - t3) / 1e6,
                (t5 - t4) / 1e6);
    printf("timers t=%ld lib=%s add_s=%.6f run_s=%.6f cancel_s=%.6f "
           "backend=%s run_cpu_s=%.6f\n",
           t, EDDY_BENCH_LIB, (t1 - t0) / 1e6, (t2 - t1) / 1e6,
           (t5 - t3) / 1e6, eddy_loop_backend(), c2 - c1);
    fflush(stdout);

    eddy_loop_close(loop, 0);
    free(ms);
    free(order);
    free(ids);
    return 0;
}
