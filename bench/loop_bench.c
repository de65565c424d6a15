/*
 * bench/loop_bench.c - the pipes benchmark (I/O dispatch) on eddy.
 *
 *   loop_bench [-n PIPES] [-a ACTIVE] [-w WRITES] [-i ITERATIONS] [-v]
 *
 * The method of libevent's test/bench.c, exactly as the shared yardstick
 * (bench/loop/README.md, "the binary contract") fixes it, so that its
 * run.sh can put eddy beside libevent, libev and libuv:
 *
 *   n AF_UNIX socketpairs, both ends non-blocking, one EDDY_READ handler per
 *   pair on its reading end fds[0].  Every iteration:
 *   setup   re-arm all n handlers (eddy_loop_remove_handler, then
 *           eddy_loop_add_handler, the way a user stops and restarts one),
 *           run one non-blocking iteration so that the loop applies the
 *           changes, send 1 byte into pairs 0, n/a, 2(n/a), ...;
 *   timed   eddy_loop_run_once(loop, 0) until a + w one-byte reads have
 *           happened: each read passes one byte on to the next pair while
 *           writes remain, so a bytes travel w hops in all.
 *
 * Prints one line on stdout:
 *   pipes n=.. a=.. w=.. lib=eddy backend=.. median_us=.. min_us=..
 *         median_total_us=.. min_total_us=..
 * median_us/min_us time the timed region, *_total_us the whole iteration.
 * Exit status: 0 ok, 1 failed (a wake-up without a byte, a send that did
 * not move one byte, a loop error, no progress), 2 usage, 3 cannot run here
 * (fd limit, the backend's fd limit, a backend that is not built in).
 *
 * Like the peers' harness, the timing and counting is all here and the
 * loop is only asked to do what an ordinary user would ask of it.
 */
#define _GNU_SOURCE
#include "bench_util.h"

#include <eddy/ioloop.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loop that makes no progress for this many iterations is stuck. */
#define STALL_LIMIT 20000000L

static struct {
    int n;            /* socket pairs */
    int *fds;         /* fds[2i]: pair i's reading end, fds[2i+1]: writing */
    long reads;       /* one-byte reads in this iteration */
    long writes_left; /* chained writes still to send in this iteration */
    long failures;    /* recv/send calls that did not move exactly 1 byte */
} pipes;

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [-n PIPES] [-a ACTIVE] [-w WRITES] [-i ITERATIONS] "
            "[-b BACKEND] [-v]\n"
            "  -n  socket pairs (default 100)\n"
            "  -a  pairs written to at the start of an iteration (default 1)\n"
            "  -w  chained writes per iteration (default 100)\n"
            "  -i  iterations (default 25)\n"
            "  -b  default, or the backend eddy was built with (%s)\n"
            "  -v  one line per iteration on stderr\n"
            "prints: pipes n=.. a=.. w=.. lib=eddy backend=.. median_us=.. "
            "min_us=.. median_total_us=.. min_total_us=..\n",
            prog, eddy_loop_backend());
}

/* Pair idx's reading end is ready: take its byte and pass one on. */
static void on_readable(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    int idx = (int)(intptr_t)arg, next;
    unsigned char ch;

    (void)loop;
    (void)events;
    if (recv(fd, &ch, 1, 0) != 1) {
        pipes.failures++;
        return;
    }
    pipes.reads++;
    if (pipes.writes_left > 0) {
        pipes.writes_left--;
        next = idx + 1 == pipes.n ? 0 : idx + 1;
        if (send(pipes.fds[2 * next + 1], "e", 1, 0) != 1)
            pipes.failures++;
    }
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int open_pairs(const char *prog, int n)
{
    pipes.n = n;
    pipes.fds = malloc(2 * (size_t)n * sizeof *pipes.fds);
    if (pipes.fds == NULL) {
        perror("malloc");
        return BENCH_EXIT_FAIL;
    }
    for (int i = 0; i < n; i++) {
        int *pair = &pipes.fds[2 * i];

        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
            int err = errno;

            fprintf(stderr, "%s: socketpair #%d: %s\n", prog, i,
                    strerror(err));
            return err == EMFILE || err == ENFILE ? BENCH_EXIT_UNSUPPORTED
                                                  : BENCH_EXIT_FAIL;
        }
        if (set_nonblocking(pair[0]) != 0 || set_nonblocking(pair[1]) != 0) {
            fprintf(stderr, "%s: fcntl: %s\n", prog, strerror(errno));
            return BENCH_EXIT_FAIL;
        }
    }
    return 0;
}

static int add_handler(const char *prog, eddy_loop *loop, int i)
{
    int err = eddy_loop_add_handler(loop, pipes.fds[2 * i], EDDY_READ,
                                    on_readable, (void *)(intptr_t)i);

    if (err == 0)
        return 0;
    fprintf(stderr, "%s: eddy_loop_add_handler(fd %d): %s\n", prog,
            pipes.fds[2 * i], strerror(-err));
    /* select cannot watch fds at or past FD_SETSIZE: not a failure. */
    return err == -ERANGE ? BENCH_EXIT_UNSUPPORTED : BENCH_EXIT_FAIL;
}

/* Stops and restarts every handler, as a user of eddy would. */
static int rearm(const char *prog, eddy_loop *loop)
{
    for (int i = 0; i < pipes.n; i++) {
        int err = eddy_loop_remove_handler(loop, pipes.fds[2 * i]);

        if (err != 0) {
            fprintf(stderr, "%s: eddy_loop_remove_handler(fd %d): %s\n",
                    prog, pipes.fds[2 * i], strerror(-err));
            return BENCH_EXIT_FAIL;
        }
        err = add_handler(prog, loop, i);
        if (err != 0)
            return err;
    }
    return 0;
}

static int run_nowait(const char *prog, eddy_loop *loop)
{
    int err = eddy_loop_run_once(loop, 0);

    if (err != 0) {
        fprintf(stderr, "%s: eddy_loop_run_once: %s\n", prog, strerror(-err));
        return BENCH_EXIT_FAIL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *prog = argv[0], *backend = "default";
    long n = 100, a = 1, w = 100, iters = 25, space;
    double *loop_us, *total_us;
    eddy_loop *loop;
    int opt, verbose = 0, rc;

    while ((opt = getopt(argc, argv, "n:a:w:i:b:vh")) != -1) {
        switch (opt) {
        case 'n': n = bench_parse_long(prog, 'n', optarg, 1, 1000000); break;
        case 'a': a = bench_parse_long(prog, 'a', optarg, 1, 1000000); break;
        case 'w': w = bench_parse_long(prog, 'w', optarg, 0, 1000000000); break;
        case 'i': iters = bench_parse_long(prog, 'i', optarg, 1, 100000); break;
        case 'b': backend = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout, prog); return 0;
        default: usage(stderr, prog); return BENCH_EXIT_USAGE;
        }
    }
    if (optind != argc || a > n) {
        if (a > n)
            fprintf(stderr, "%s: -a %ld is more than -n %ld\n", prog, a, n);
        usage(stderr, prog);
        return BENCH_EXIT_USAGE;
    }
    /* eddy picks its poller at build time: one binary per backend. */
    if (strcmp(backend, "default") != 0 &&
        strcmp(backend, eddy_loop_backend()) != 0) {
        fprintf(stderr, "%s: this build of eddy has the %s backend, not %s\n",
                prog, eddy_loop_backend(), backend);
        return BENCH_EXIT_UNSUPPORTED;
    }

    /* Two fds per pair, plus the loop's own (epoll fd, eventfd). */
    if (bench_raise_nofile(prog, 2 * n + 50) != 0)
        return BENCH_EXIT_UNSUPPORTED;
    /* The loop first, so that its own fds take the low numbers (select
     * cannot watch an fd at or past FD_SETSIZE). */
    rc = eddy_loop_new(&loop);
    if (rc != 0) {
        fprintf(stderr, "%s: eddy_loop_new: %s\n", prog, strerror(-rc));
        return rc == -EMFILE || rc == -ENFILE ? BENCH_EXIT_UNSUPPORTED
                                              : BENCH_EXIT_FAIL;
    }
    rc = open_pairs(prog, (int)n);
    if (rc != 0)
        return rc;
    for (int i = 0; i < n; i++)
        if ((rc = add_handler(prog, loop, i)) != 0)
            return rc;

    loop_us = malloc((size_t)iters * sizeof *loop_us);
    total_us = malloc((size_t)iters * sizeof *total_us);
    if (loop_us == NULL || total_us == NULL) {
        perror("malloc");
        return BENCH_EXIT_FAIL;
    }

    space = n / a;
    for (long it = 0; it < iters; it++) {
        long target = a + w, loops = 0, stalled = 0, last = 0;
        double t_setup, t_start, t_end;

        t_setup = bench_now_us();
        if ((rc = rearm(prog, loop)) != 0 || (rc = run_nowait(prog, loop)))
            return rc;
        pipes.reads = 0;
        pipes.writes_left = w;
        for (long i = 0; i < a; i++)
            if (send(pipes.fds[2 * (i * space) + 1], "e", 1, 0) != 1)
                pipes.failures++;

        t_start = bench_now_us();
        while (pipes.reads < target) {
            if ((rc = run_nowait(prog, loop)) != 0)
                return rc;
            loops++;
            if (pipes.reads != last) {
                last = pipes.reads;
                stalled = 0;
            } else if (++stalled > STALL_LIMIT) {
                fprintf(stderr,
                        "%s: stuck at %ld of %ld reads in iteration %ld\n",
                        prog, pipes.reads, target, it);
                return BENCH_EXIT_FAIL;
            }
        }
        t_end = bench_now_us();

        loop_us[it] = t_end - t_start;
        total_us[it] = t_end - t_setup;
        if (verbose)
            fprintf(stderr, "iter=%ld us=%.1f total_us=%.1f loops=%ld\n", it,
                    loop_us[it], total_us[it], loops);
    }

    if (pipes.failures != 0) {
        fprintf(stderr,
                "%s: %ld recv/send calls did not move one byte "
                "(spurious wake-ups?); result discarded\n",
                prog, pipes.failures);
        return BENCH_EXIT_FAIL;
    }
    printf("pipes n=%ld a=%ld w=%ld lib=%s backend=%s median_us=%.1f "
           "min_us=%.1f median_total_us=%.1f min_total_us=%.1f\n",
           n, a, w, EDDY_BENCH_LIB, eddy_loop_backend(),
           bench_median(loop_us, (size_t)iters),
           bench_min(loop_us, (size_t)iters),
           bench_median(total_us, (size_t)iters),
           bench_min(total_us, (size_t)iters));
    fflush(stdout);

    for (int i = 0; i < n; i++)
        eddy_loop_remove_handler(loop, pipes.fds[2 * i]);
    eddy_loop_close(loop, 0);
    for (long i = 0; i < 2 * n; i++)
        close(pipes.fds[i]);
    free(pipes.fds);
    free(loop_us);
    free(total_us);
    return 0;
}
