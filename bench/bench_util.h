/*
 * bench/bench_util.h - the ruler shared by eddy's loop benchmarks: clocks,
 * median and minimum, the splitmix64 generator, option parsing and the fd
 * limit.  Header-only (every benchmark is one .c file), so everything here
 * is static inline.
 *
 * The numbers must be comparable with the peers of bench/loop in the shared
 * yardstick, so every definition follows its README's contract exactly:
 * CLOCK_MONOTONIC for wall time, CLOCK_PROCESS_CPUTIME_ID for CPU time, the
 * median of an even count is the mean of the two middle values, and
 * splitmix64 is the one spelled out there.  This file must never call eddy.
 */
#ifndef EDDY_BENCH_UTIL_H
#define EDDY_BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The lib= name: "eddy", or "eddy-TAG" for a build with -DEDDY_BENCH_TAG=TAG
 * (make bench CFLAGS="-O2 -g -DEDDY_BENCH_TAG=x"), so that run.sh shows a
 * changed library as rows of its own beside the unchanged one in the same
 * sweep. */
#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x)
#ifdef EDDY_BENCH_TAG
#define EDDY_BENCH_LIB "eddy-" BENCH_STR(EDDY_BENCH_TAG)
#else
#define EDDY_BENCH_LIB "eddy"
#endif

/* Exit statuses of the contract. */
#define BENCH_EXIT_FAIL 1        /* the run went wrong; result discarded */
#define BENCH_EXIT_USAGE 2       /* bad command line */
#define BENCH_EXIT_UNSUPPORTED 3 /* this configuration cannot run here */

/* CLOCK_MONOTONIC in microseconds. */
static inline double bench_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU time of the whole process in seconds. */
static inline double bench_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Insertion sort: the arrays are a few dozen iterations long. */
static inline double bench_median(const double *v, size_t n)
{
    double *s, m;

    if (n == 0)
        return 0.0;
    s = malloc(n * sizeof *s);
    if (s == NULL) {
        perror("malloc");
        exit(BENCH_EXIT_FAIL);
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = i;

        while (j > 0 && s[j - 1] > v[i]) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = v[i];
    }
    m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    free(s);
    return m;
}

static inline double bench_min(const double *v, size_t n)
{
    double m = n ? v[0] : 0.0;

    for (size_t i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

/* splitmix64, exactly as the contract gives it: the timeouts and the
 * cancel order must be the peers' to the bit. */
static inline uint64_t bench_splitmix64(uint64_t *s)
{
    uint64_t z;

    *s += 0x9e3779b97f4a7c15ULL;
    z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A decimal integer in [lo, hi], or exit with the usage status. */
static inline long bench_parse_long(const char *prog, int opt,
                                    const char *text, long lo, long hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: -%c wants an integer in [%ld, %ld], not '%s'\n",
                prog, opt, lo, hi, text);
        exit(BENCH_EXIT_USAGE);
    }
    return v;
}

/*
 * Lets the process hold at least need fds: raises the soft RLIMIT_NOFILE,
 * and the hard one too when that is allowed (CAP_SYS_RESOURCE).  Returns 0,
 * or -1 after saying why on stderr (the caller exits with status 3, and
 * run.sh shows that first line as the reason).
 */
static inline int bench_raise_nofile(const char *prog, long need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "%s: getrlimit(RLIMIT_NOFILE): %s\n", prog,
                strerror(errno));
        return -1;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)need)
        return 0;
    rl.rlim_cur = (rlim_t)need;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need)
        rl.rlim_max = (rlim_t)need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        int err = errno;

        getrlimit(RLIMIT_NOFILE, &rl);
        fprintf(stderr,
                "%s: needs RLIMIT_NOFILE >= %ld, the hard limit is %llu and "
                "cannot be raised (%s)\n",
                prog, need, (unsigned long long)rl.rlim_max, strerror(err));
        return -1;
    }
    return 0;
}

#endif
