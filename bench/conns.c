/*
 * bench/conns.c - holds N idle keep-alive connections to a local HTTP
 * server, so that the server's memory per idle connection can be read.
 *
 *   conns --port P [-n N] [--batch B] [--hold S] [--timeout S]
 *
 * Single-threaded, epoll, non-blocking sockets, 127.0.0.1 only.
 *
 * 1. connect: opens N connections, at most B (default 100) at a time
 *    between connect() and the end of their first response, so that the
 *    server's listen backlog is never overrun.  Each sends
 *    "GET / HTTP/1.1\r\nHost: x\r\n\r\n" and reads its whole response:
 *    status 200, a Content-Length and exactly that many bytes of body, and
 *    nothing after it.  Then the connection stays open and idle.
 * 2. hold: prints "held H" (H connections are open and answered) and waits
 *    for a byte on standard input, SIGUSR1, or S seconds (--hold, default
 *    300), whichever comes first.  End of file on standard input only stops
 *    it being watched.  A held connection that the server closes, or on
 *    which anything arrives, is an error.
 * 3. again: sends the same request on every held connection and reads
 *    every answer the same way; prints "served_again S errors E", E being
 *    the errors of all three phases (stderr says which), then closes all.
 *
 * Every phase but the hold ends with an error after --timeout seconds
 * (default 60) without finishing; what is unfinished then counts as errors.
 * Progress and timings go to stderr.  Exit status: 0 when all N were
 * answered twice without an error, 1 otherwise, 2 on a usage error.
 *
 * The soft RLIMIT_NOFILE is raised to the hard limit first; N + 16 fds must
 * fit under it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#define RESP_MAX 2048   /* a response head and body must fit in this */
#define EVENTS 512      /* epoll_wait batch */
#define STDIN_TAG (-1u) /* epoll data of standard input */

enum state {
    S_FREE,       /* not opened yet, or closed after an error */
    S_CONNECTING, /* connect() in progress */
    S_SENDING,    /* the request partly written */
    S_READING,    /* waiting for the whole response */
    S_IDLE,       /* answered, held open */
    S_DONE,       /* answered twice */
};

struct conn {
    int fd;
    enum state st;
    unsigned short sent; /* bytes of the request written */
    unsigned short have; /* bytes of the response read */
    char buf[RESP_MAX];
};

static struct conn *conns;
static long nconns;
static int ep = -1;
static struct sockaddr_in addr;
static long errors;
static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
    (void)sig;
    usr1 = 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_long(const char *opt, const char *text, long lo, long hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "conns: %s wants an integer in [%ld, %ld], not '%s'\n",
                opt, lo, hi, text);
        exit(2);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: conns --port P [-n N] [--batch B] [--hold S] "
                    "[--timeout S]\n");
    exit(2);
}

/* Counts an error on connection i, says what it was (the first ten only),
 * closes it. */
static void fail(long i, const char *phase, const char *what, int err)
{
    static long shown;

    errors++;
    if (shown++ < 10)
        fprintf(stderr, "conns: %s: connection %ld: %s%s%s\n", phase, i, what,
                err ? ": " : "", err ? strerror(err) : "");
    if (conns[i].fd >= 0)
        close(conns[i].fd);
    conns[i].fd = -1;
    conns[i].st = S_FREE;
}

static int watch(long i, unsigned events, int op)
{
    struct epoll_event ev = {.events = events, .data.u32 = (unsigned)i};

    return epoll_ctl(ep, op, conns[i].fd, &ev);
}

/* Opens connection i; 0, or -1 after counting the error. */
static int open_conn(long i, const char *phase)
{
    struct conn *c = &conns[i];
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(i, phase, "socket", errno);
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->st = S_CONNECTING;
    c->sent = c->have = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0 &&
        errno != EINPROGRESS) {
        fail(i, phase, "connect", errno);
        return -1;
    }
    if (watch(i, EPOLLOUT, EPOLL_CTL_ADD) != 0) {
        fail(i, phase, "epoll_ctl", errno);
        return -1;
    }
    return 0;
}

/* Writes what is left of the request; moves to S_READING when all is out. */
static int send_request(long i, const char *phase)
{
    struct conn *c = &conns[i];
    size_t len = sizeof REQUEST - 1;

    while (c->sent < len) {
        ssize_t n = send(c->fd, &REQUEST[c->sent], len - c->sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->st = S_SENDING;
            return watch(i, EPOLLOUT, EPOLL_CTL_MOD) == 0 ? 0 : -1;
        }
        if (n <= 0) {
            fail(i, phase, "send", n < 0 ? errno : 0);
            return -1;
        }
        c->sent += (unsigned short)n;
    }
    c->st = S_READING;
    c->have = 0;
    if (watch(i, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD) != 0) {
        fail(i, phase, "epoll_ctl", errno);
        return -1;
    }
    return 0;
}

/* Checks buf[0..len) as a response: 1 whole and good, 0 incomplete,
 * -1 bad (*why says how). */
static int check_response(const char *buf, size_t len, const char **why)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4), *p, *line;
    size_t head, body = 0;
    int have_cl = 0;

    if (end == NULL) {
        *why = "response head too long";
        return len >= RESP_MAX ? -1 : 0;
    }
    head = (size_t)(end - buf) + 4;
    if (head < 13 || memcmp(buf, "HTTP/1.1 200 ", 13) != 0) {
        *why = "status is not HTTP/1.1 200";
        return -1;
    }
    /* the header lines, after the status line */
    for (line = (const char *)memchr(buf, '\n', head) + 1; line < end;
         line =
             (const char *)memchr(line, '\n', (size_t)(end + 2 - line)) + 1) {
        if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            *why = "Transfer-Encoding instead of Content-Length";
            return -1;
        }
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            char *e;

            if (have_cl) {
                *why = "two Content-Length headers";
                return -1;
            }
            p = line + 15;
            while (*p == ' ' || *p == '\t')
                p++;
            errno = 0;
            body = (size_t)strtoul(p, &e, 10);
            if (e == p || errno != 0 || body > RESP_MAX) {
                *why = "bad Content-Length";
                return -1;
            }
            have_cl = 1;
        }
    }
    if (!have_cl) {
        *why = "no Content-Length";
        return -1;
    }
    if (len < head + body) {
        *why = "response too long";
        return head + body > RESP_MAX ? -1 : 0;
    }
    if (len > head + body) {
        *why = "bytes after the response";
        return -1;
    }
    return 1;
}

/* Reads what has arrived on connection i in S_READING: 1 when the response
 * is whole (the connection is then S_IDLE or S_DONE, watched for nothing
 * but a close), 0 for more to come, -1 after an error. */
static int read_response(long i, const char *phase, int second)
{
    struct conn *c = &conns[i];
    const char *why = "";

    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->have, RESP_MAX - c->have, 0);
        int r;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n < 0) {
            fail(i, phase, "recv", errno);
            return -1;
        }
        if (n == 0) {
            fail(i, phase, "closed by the server before a whole response", 0);
            return -1;
        }
        c->have += (unsigned short)n;
        r = check_response(c->buf, c->have, &why);
        if (r < 0) {
            fail(i, phase, why, 0);
            return -1;
        }
        if (r == 1)
            break;
    }
    c->st = second ? S_DONE : S_IDLE;
    c->have = 0;
    /* watch it for a close (or stray bytes) while it is held */
    if (watch(i, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD) != 0) {
        fail(i, phase, "epoll_ctl", errno);
        return -1;
    }
    return 1;
}

/* An event on a connection that should be quiet (idle or done). */
static void unexpected(long i, const char *phase)
{
    char b[64];
    ssize_t n = recv(conns[i].fd, b, sizeof b, MSG_DONTWAIT);

    if (n > 0)
        fail(i, phase, "bytes arrived on an idle connection", 0);
    else if (n == 0)
        fail(i, phase, "closed by the server while idle", 0);
    else if (errno != EAGAIN && errno != EINTR)
        fail(i, phase, "error while idle", errno);
}

/* One event on connection i during a request phase. Returns 1 when its
 * response completed, -1 when it failed, 0 otherwise. */
static int on_event(long i, unsigned events, const char *phase, int second)
{
    struct conn *c = &conns[i];

    switch (c->st) {
    case S_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            fail(i, phase, "connect", err);
            return -1;
        }
        if (!(events & EPOLLOUT))
            return 0;
        return send_request(i, phase) == 0 ? 0 : -1;
    }
    case S_SENDING:
        return send_request(i, phase) == 0 ? 0 : -1;
    case S_READING:
        return read_response(i, phase, second);
    case S_IDLE:
    case S_DONE:
        unexpected(i, phase);
        return conns[i].st == S_FREE ? -1 : 0;
    case S_FREE:
        break;
    }
    return 0;
}

/* Phase 1: open all N, at most batch unanswered at a time.  Returns how
 * many are held. */
static long phase_connect(long batch, double limit)
{
    struct epoll_event evs[EVENTS];
    long next = 0, pending = 0, held = 0, finished = 0;
    double t0 = now_s();

    while (finished < nconns) {
        int n;

        while (next < nconns && pending < batch) {
            if (open_conn(next++, "connect") == 0)
                pending++;
            else
                finished++;
        }
        if (finished >= nconns)
            break;
        if (now_s() - t0 > limit) {
            long left = 0;

            for (long i = 0; i < nconns; i++)
                if (conns[i].st != S_IDLE && conns[i].st != S_FREE) {
                    errors++;
                    left++;
                    close(conns[i].fd);
                    conns[i].fd = -1;
                    conns[i].st = S_FREE;
                }
            errors += nconns - next; /* never opened */
            fprintf(stderr,
                    "conns: connect: timed out after %.0f s: %ld "
                    "connections unanswered, %ld never opened\n",
                    limit, left, nconns - next);
            break;
        }
        n = epoll_wait(ep, evs, EVENTS, 200);
        if (n < 0 && errno != EINTR) {
            perror("conns: epoll_wait");
            exit(1);
        }
        for (int k = 0; k < n; k++) {
            long i = (long)evs[k].data.u32;
            enum state before = conns[i].st;
            int r;

            if (evs[k].data.u32 == STDIN_TAG)
                continue;
            r = on_event(i, evs[k].events, "connect", 0);
            if (before == S_IDLE) /* an idle one closed: no longer held */
                held -= r < 0;
            else if (r != 0) {
                pending--;
                finished++;
                held += r > 0;
            }
        }
    }
    fprintf(stderr, "conns: connect: %ld of %ld answered in %.2f s\n", held,
            nconns, now_s() - t0);
    return held;
}

/* Phase 2: until a byte on stdin, SIGUSR1 or hold seconds. */
static void phase_hold(double hold, long *held)
{
    struct epoll_event evs[EVENTS],
        ev = {.events = EPOLLIN, .data.u32 = STDIN_TAG};
    double t0 = now_s();
    int use_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == 0;
    sigset_t open;
    const char *why = "--hold timeout";

    sigemptyset(&open); /* SIGUSR1 is let in only while waiting */
    printf("held %ld\n", *held);
    fflush(stdout);
    while (!usr1) {
        double left = hold - (now_s() - t0);
        int n;

        if (left <= 0)
            break;
        n = epoll_pwait(ep, evs, EVENTS, left > 1 ? 1000 : (int)(left * 1000),
                        &open);
        if (n < 0 && errno != EINTR) {
            perror("conns: epoll_pwait");
            exit(1);
        }
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == STDIN_TAG) {
                char b[64];
                ssize_t r = read(0, b, sizeof b);

                if (r > 0) {
                    why = "a byte on stdin";
                    goto out;
                }
                if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
                    use_stdin = 0;
                }
                continue;
            }
            unexpected((long)evs[k].data.u32, "hold");
            if (conns[evs[k].data.u32].st == S_FREE)
                (*held)--;
        }
    }
    if (usr1)
        why = "SIGUSR1";
out:
    if (use_stdin)
        epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
    fprintf(stderr, "conns: hold: %ld held for %.2f s, ended by %s\n", *held,
            now_s() - t0, why);
}

/* Phase 3: a second request on every held connection.  Returns how many
 * were answered. */
static long phase_again(double limit)
{
    struct epoll_event evs[EVENTS];
    long waiting = 0, served = 0;
    double t0 = now_s();

    for (long i = 0; i < nconns; i++) {
        if (conns[i].st != S_IDLE)
            continue;
        conns[i].sent = 0;
        if (send_request(i, "again") == 0)
            waiting++;
    }
    while (waiting > 0) {
        int n;

        if (now_s() - t0 > limit) {
            fprintf(stderr,
                    "conns: again: timed out after %.0f s: %ld unanswered\n",
                    limit, waiting);
            errors += waiting;
            break;
        }
        n = epoll_wait(ep, evs, EVENTS, 200);
        if (n < 0 && errno != EINTR) {
            perror("conns: epoll_wait");
            exit(1);
        }
        for (int k = 0; k < n; k++) {
            long i = (long)evs[k].data.u32;
            enum state before = conns[i].st;
            int r;

            if (evs[k].data.u32 == STDIN_TAG)
                continue;
            r = on_event(i, evs[k].events, "again", 1);
            if (before == S_SENDING || before == S_READING) {
                waiting -= r != 0;
                served += r > 0;
            } else if (before == S_DONE && r < 0) {
                served--; /* answered, then closed: an error already */
            }
        }
    }
    fprintf(stderr, "conns: again: %ld answered in %.2f s\n", served,
            now_s() - t0);
    return served;
}

int main(int argc, char **argv)
{
    long port = 0, batch = 100, served, held;
    double hold = 300, limit = 60;
    struct rlimit rl;
    struct sigaction sa;
    sigset_t block;

    nconns = 10000;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];

        if (i + 1 >= argc)
            usage();
        if (strcmp(o, "--port") == 0)
            port = parse_long(o, argv[++i], 1, 65535);
        else if (strcmp(o, "-n") == 0)
            nconns = parse_long(o, argv[++i], 1, 1000000);
        else if (strcmp(o, "--batch") == 0)
            batch = parse_long(o, argv[++i], 1, 100000);
        else if (strcmp(o, "--hold") == 0)
            hold = (double)parse_long(o, argv[++i], 0, 86400);
        else if (strcmp(o, "--timeout") == 0)
            limit = (double)parse_long(o, argv[++i], 1, 86400);
        else
            usage();
    }
    if (port == 0)
        usage();

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("conns: getrlimit");
        return 1;
    }
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            perror("conns: setrlimit");
            return 1;
        }
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)nconns + 16 > rl.rlim_cur) {
        fprintf(stderr,
                "conns: %ld connections need %ld fds; the limit is %llu\n",
                nconns, nconns + 16, (unsigned long long)rl.rlim_cur);
        return 1;
    }

    /* SIGUSR1 is blocked but while the hold waits in epoll_pwait, so that
     * it cannot come between the check of the flag and the wait. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    signal(SIGPIPE, SIG_IGN);

    conns = calloc((size_t)nconns, sizeof *conns);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || ep < 0) {
        perror("conns: calloc or epoll_create1");
        return 1;
    }
    for (long i = 0; i < nconns; i++)
        conns[i].fd = -1;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    held = phase_connect(batch, limit);
    phase_hold(hold, &held);
    served = phase_again(limit);
    printf("served_again %ld errors %ld\n", served, errors);
    fflush(stdout);
    for (long i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    free(conns);
    close(ep);
    return errors == 0 && served == nconns ? 0 : 1;
}
