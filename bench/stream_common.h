/*
 * bench/stream_common.h - what bench/stream_bench.c (eddy streams) and
 * bench/stream_baseline.c (plain read()/write()) share: the options, the
 * data pattern and its check, the socket pair, CPU pinning, and main's
 * loop over the modes.  Each defines STREAM_PROG before including this,
 * and measure() after it.  Included once per program: everything static.
 */
#ifndef BENCH_STREAM_COMMON_H
#define BENCH_STREAM_COMMON_H

enum { M_TCP, M_UNIX, M_PINGPONG, M_ALL };
static const char *const mode_names[] = {"tcp", "unix", "pingpong", "all"};

static struct {
    int mode, threads, depth;
    uint64_t bytes, rounds;
    size_t chunk, rchunk;
    unsigned limit_s;
} o = {M_ALL, 2, 4, 1ull << 30, 100000, 256u << 10, 64u << 10, 60};

static int cpus[2], ncpus;     /* where -t 2 puts its two threads */
static double deadline;        /* pingpong stops here (CLOCK_MONOTONIC) */
static unsigned char *pattern; /* o.chunk bytes: what the sender writes */

/* --- helpers ------------------------------------------------------------- */

static void fail(const char *fmt, ...)
{
    va_list ap;

    fputs(STREAM_PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(1);
}

static void on_alarm(int signum)
{
    static const char msg[] = STREAM_PROG ": time limit passed\n";

    (void)signum;
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The byte at stream offset i.  Neighbours differ, and so do bytes 256
 * apart, so a lost, doubled or shifted run of bytes shows. */
static unsigned char pattern_at(uint64_t i)
{
    uint64_t j = i % o.chunk;

    return (unsigned char)(j * 131 + (j >> 8));
}

static void check_piece(const char *data, size_t len, uint64_t at)
{
    if (len == 0)
        return;
    if ((unsigned char)data[0] != pattern_at(at) ||
        (unsigned char)data[len - 1] != pattern_at(at + len - 1))
        fail("corrupt data in the %zu bytes at offset %llu", len,
             (unsigned long long)at);
}

/* fds[0] is the sending (pinging) end, fds[1] the receiving one. */
static void make_pair(int tcp, int fds[2])
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    int lfd;

    if (!tcp) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            fail("socketpair: %s", strerror(errno));
        return;
    }
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        fail("listen on 127.0.0.1: %s", strerror(errno));
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof a) != 0)
        fail("connect to 127.0.0.1: %s", strerror(errno));
    fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fds[1] < 0)
        fail("accept: %s", strerror(errno));
    close(lfd);
}

static void find_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (int i = 0; i < CPU_SETSIZE && ncpus < 2; i++)
        if (CPU_ISSET(i, &set))
            cpus[ncpus++] = i;
}

/* Puts the calling thread on its own CPU when there are two to share. */
static void pin(int which)
{
    cpu_set_t set;

    if (ncpus < 2)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpus[which], &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static uint64_t parse_size(int opt, const char *text, uint64_t lo, uint64_t hi)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    else if (*end == 'G' || *end == 'g')
        v <<= 30, end++;
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < lo ||
        v > hi) {
        fprintf(stderr,
                STREAM_PROG ": -%c wants a number in [%llu, %llu] "
                "(K, M, G allowed), not '%s'\n",
                opt, (unsigned long long)lo, (unsigned long long)hi, text);
        exit(2);
    }
    return v;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " STREAM_PROG " [-m tcp|unix|pingpong|all] [-t 1|2] "
            "[-s BYTES] [-c CHUNK]\n"
            "                    [-q DEPTH] [-r READ] [-n ROUNDTRIPS] "
            "[-d SECONDS]\n"
            "  -m  what to measure (default all: one line each)\n"
            "  -t  1: both ends in one loop; 2: one loop per end, one thread "
            "each (default)\n"
            "  -s  bytes to pump (default 1G)\n"
            "  -c  bytes per write (default 256K)\n"
            "  -q  writes in flight (default 4)\n"
            "  -r  bytes per read(2) at most (default 64K)\n"
            "  -n  ping-pong round trips (default 100000)\n"
            "  -d  time limit in seconds (default 60): a pump fails, "
            "ping-pong stops\n");
}

static void parse_args(int argc, char **argv)
{
    int opt, m;

    while ((opt = getopt(argc, argv, "m:t:s:c:q:r:n:d:h")) != -1) {
        switch (opt) {
        case 'm':
            for (m = 0; m <= M_ALL && strcmp(optarg, mode_names[m]); m++)
                ;
            if (m > M_ALL) {
                usage(stderr);
                exit(2);
            }
            o.mode = m;
            break;
        case 't':
            o.threads = (int)parse_size('t', optarg, 1, 2);
            break;
        case 's':
            o.bytes = parse_size('s', optarg, 1, 1ull << 40);
            break;
        case 'c':
            o.chunk = parse_size('c', optarg, 1, 1u << 30);
            break;
        case 'q':
            o.depth = (int)parse_size('q', optarg, 1, 1024);
            break;
        case 'r':
            o.rchunk = parse_size('r', optarg, 1, 1u << 30);
            break;
        case 'n':
            o.rounds = parse_size('n', optarg, 1, 1ull << 40);
            break;
        case 'd':
            o.limit_s = (unsigned)parse_size('d', optarg, 1, 86400);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc) {
        usage(stderr);
        exit(2);
    }
}

/* One mode's run: seconds, CPU seconds into *cpu, bytes or round trips
 * into *done.  Each program has its own. */
static double measure(int mode, double *cpu, uint64_t *done);

/* Measures each mode asked for and prints its line, lib=LIB. */
static int stream_main(int argc, char **argv, const char *lib)
{
    parse_args(argc, argv);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    find_cpus();
    pattern = malloc(o.chunk);
    if (pattern == NULL)
        fail("out of memory");
    for (size_t i = 0; i < o.chunk; i++)
        pattern[i] = pattern_at(i);

    for (int m = M_TCP; m < M_ALL; m++) {
        double secs, cpu;
        uint64_t done;

        if (o.mode != M_ALL && o.mode != m)
            continue;
        secs = measure(m, &cpu, &done);
        if (m == M_PINGPONG)
            printf("stream mode=pingpong lib=%s threads=%d roundtrips=%llu "
                   "seconds=%.3f rt_per_s=%.0f cpu_s=%.3f\n",
                   lib, o.threads, (unsigned long long)done, secs,
                   (double)done / secs, cpu);
        else
            printf("stream mode=%s lib=%s threads=%d bytes=%llu "
                   "seconds=%.3f MiB_s=%.1f cpu_s=%.3f\n",
                   mode_names[m], lib, o.threads, (unsigned long long)done, secs,
                   (double)done / (1 << 20) / secs, cpu);
        fflush(stdout);
    }
    free(pattern);
    return 0;
}

#endif
