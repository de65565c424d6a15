/*
 * bench/https_conns.c - holds N idle HTTPS keep-alive connections to a
 * local server, so that the server's memory per idle TLS connection can be
 * read (bench/https.sh): bench/conns.c over TLS, its client being eddy's
 * own TLS streams.
 *
 *   https_conns --port P [-n N] [--batch B] [--hold S] [--timeout S]
 *
 * One loop, 127.0.0.1 only; the server's certificate is not verified (a
 * benchmark's), and no session is resumed: every connection is a full
 * handshake, as a fresh client's.
 *
 * 1. connect: opens N connections, at most B (default 50) at a time
 *    between the connect and the end of their first response.  Each
 *    shakes hands, sends "GET / HTTP/1.1\r\nHost: x\r\n\r\n" and reads the
 *    whole response (status 200, a Content-Length and that many bytes).
 *    Then the connection stays open and idle.
 * 2. hold: prints "held H" and waits for a byte on standard input,
 *    SIGUSR1, or S seconds (--hold, default 300).  A held connection that
 *    the server closes is an error.
 * 3. again: sends the same request on every held connection and reads
 *    every answer; prints "served_again S errors E" (E: the errors of all
 *    phases; stderr says which), then closes all.
 *
 * Every phase but the hold ends after --timeout seconds (default 60);
 * what is unfinished then counts as errors.  Exit status: 0 when all N
 * were answered twice without an error, 1 otherwise, 2 on a usage error.
 * The soft RLIMIT_NOFILE is raised to the hard limit first.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define REQUEST "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

enum { C_FREE, C_BUSY, C_IDLE, C_DONE };

struct conn {
    eddy_stream *s;
    int state;
    long i;
};

static struct conn *conns;
static long nconns, batch = 50, next, busy, answered, errors;
static uint16_t port;
static int phase;   /* 1 connect, 2 hold, 3 again */
static int running; /* eddy_loop_run() is on the stack */
static eddy_loop *loop;

/* Ends the phase: a stop asked for outside eddy_loop_run() would end the
 * next one at once. */
static void phase_done(void)
{
    if (running)
        eddy_loop_stop(loop);
}

static void fail(struct conn *c, const char *what, int err)
{
    static long shown;

    errors++;
    if (shown++ < 10)
        fprintf(stderr, "https_conns: phase %d: connection %ld: %s%s%s\n",
                phase, c->i, what, err ? ": " : "",
                err ? eddy_strerror(err) : "");
    if (c->state == C_BUSY)
        busy--;
    c->state = C_FREE;
    if (c->s != NULL) {
        eddy_stream_set_close_callback(c->s, NULL, NULL);
        eddy_stream_close(c->s);
    }
    c->s = NULL;
}

static void on_closed(eddy_stream *s, int status, void *arg)
{
    struct conn *c = arg;

    (void)s;
    c->s = NULL;
    fail(c, "closed by the server", status);
}

static void on_body(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg);
static void open_more(void);

/* The head of a response: 200 and a Content-Length, whose bytes follow. */
static void on_head(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    struct conn *c = arg;
    const char *cl = memmem(data, len, "\r\nContent-Length: ", 18);

    if (status != 0) {
        fail(c, "reading the head", status);
        return;
    }
    if (len < 12 || memcmp(data, "HTTP/1.1 200", 12) != 0 || cl == NULL) {
        fail(c, "not a 200 with a Content-Length", 0);
        return;
    }
    if (eddy_stream_read_bytes(s, strtoul(cl + 18, NULL, 10), 0, on_body, c))
        fail(c, "read", 0);
}

static void on_body(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    struct conn *c = arg;

    (void)s, (void)data, (void)len;
    if (status != 0) {
        fail(c, "reading the body", status);
        return;
    }
    busy--;
    answered++;
    c->state = phase == 1 ? C_IDLE : C_DONE;
    open_more();
}

static int ask(struct conn *c)
{
    if (eddy_stream_write(c->s, REQUEST, sizeof REQUEST - 1, NULL, NULL) != 0 ||
        eddy_stream_read_until(c->s, "\r\n\r\n", 4, 4096, on_head, c) != 0)
        return -1;
    c->state = C_BUSY;
    busy++;
    return 0;
}

/* Opens connections while fewer than batch are under way. */
static void open_more(void)
{
    static eddy_tls_ctx *ctx;
    int err;

    if (ctx == NULL &&
        ((err = eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx)) ||
         (err = eddy_tls_ctx_set_verify(ctx, EDDY_TLS_VERIFY_NONE)))) {
        fprintf(stderr, "https_conns: TLS: %s\n", eddy_strerror(err));
        exit(1);
    }
    while (phase == 1 && busy < batch && next < nconns) {
        struct conn *c = &conns[next];

        c->i = next++;
        if ((err = eddy_stream_connect(loop, "127.0.0.1", port, 0, NULL, NULL,
                                       NULL, &c->s)) != 0) {
            fail(c, "connect", err);
            continue;
        }
        eddy_stream_set_close_callback(c->s, on_closed, c);
        if ((err = eddy_stream_start_tls(c->s, ctx, NULL, 0, NULL, NULL)) ||
            ask(c) != 0)
            fail(c, "start", err);
    }
    if ((phase == 1 && busy == 0 && next == nconns) ||
        (phase == 3 && busy == 0))
        phase_done();
}

static void on_timeout(eddy_loop *l, void *arg)
{
    (void)arg;
    if (phase != 2)
        fprintf(stderr, "https_conns: phase %d timed out, %ld unfinished\n",
                phase, busy);
    eddy_loop_stop(l);
}

static void on_usr1(eddy_loop *l, int signum, void *arg)
{
    (void)signum, (void)arg;
    if (phase == 2)
        eddy_loop_stop(l);
}

static void on_stdin(eddy_loop *l, int fd, unsigned events, void *arg)
{
    char byte;
    ssize_t n = read(fd, &byte, 1);

    (void)events, (void)arg;
    if (n > 0 && phase == 2)
        eddy_loop_stop(l);
    else if (n == 0)
        eddy_loop_remove_handler(l, fd); /* EOF: no longer watched */
}

/* Runs the loop for a phase, bounded by seconds. */
static void run_phase(int p, double seconds)
{
    eddy_timer_id t = 0;

    phase = p;
    eddy_loop_call_later(loop, (uint64_t)(seconds * 1000), on_timeout, NULL,
                         &t);
    running = 1;
    eddy_loop_run(loop);
    running = 0;
    eddy_loop_remove_timeout(loop, t);
}

static long parse_long(const char *opt, const char *text, long lo, long hi)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "https_conns: %s wants an integer in [%ld, %ld]\n", opt,
                lo, hi);
        exit(2);
    }
    return v;
}

/* Sends the request again on every held connection. */
static void again(void)
{
    for (long i = 0; i < nconns; i++)
        if (conns[i].state == C_IDLE && ask(&conns[i]) != 0)
            fail(&conns[i], "second request", 0);
}

int main(int argc, char **argv)
{
    long p = 0, held = 0, served;
    double hold = 300, limit = 60;
    struct rlimit rl;
    int err;

    nconns = 10000;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            p = -1;
        else if (strcmp(argv[i], "--port") == 0)
            p = parse_long(argv[i], argv[i + 1], 1, 65535);
        else if (strcmp(argv[i], "-n") == 0)
            nconns = parse_long(argv[i], argv[i + 1], 1, 1000000);
        else if (strcmp(argv[i], "--batch") == 0)
            batch = parse_long(argv[i], argv[i + 1], 1, 100000);
        else if (strcmp(argv[i], "--hold") == 0)
            hold = (double)parse_long(argv[i], argv[i + 1], 0, 86400);
        else if (strcmp(argv[i], "--timeout") == 0)
            limit = (double)parse_long(argv[i], argv[i + 1], 1, 86400);
        else
            p = -1;
        if (p < 0)
            break;
    }
    if (p <= 0) {
        fprintf(stderr, "usage: https_conns --port P [-n N] [--batch B] "
                        "[--hold S] [--timeout S]\n");
        return 2;
    }
    port = (uint16_t)p;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((err = eddy_loop_new(&loop)) != 0 ||
        (err = eddy_loop_add_signal(loop, SIGUSR1, on_usr1, NULL)) != 0) {
        fprintf(stderr, "https_conns: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((conns = calloc((size_t)nconns, sizeof *conns)) == NULL)
        return 1;

    phase = 1;
    open_more();
    if (busy > 0)
        run_phase(1, limit);
    for (long i = 0; i < nconns; i++)
        held += conns[i].state == C_IDLE;
    printf("held %ld\n", held);
    fflush(stdout);

    /* (A file or /dev/null cannot be watched: then only SIGUSR1 and the
     * hold's end stop it.) */
    eddy_loop_add_handler(loop, 0, EDDY_READ, on_stdin, NULL);
    run_phase(2, hold);
    eddy_loop_remove_handler(loop, 0);

    phase = 3;
    answered = 0;
    again();
    if (busy > 0)
        run_phase(3, limit);
    served = answered;
    errors += busy; /* unfinished at the timeout */
    printf("served_again %ld errors %ld\n", served, errors);
    fflush(stdout);

    for (long i = 0; i < nconns; i++)
        if (conns[i].s != NULL) {
            eddy_stream_set_close_callback(conns[i].s, NULL, NULL);
            eddy_stream_close(conns[i].s);
        }
    eddy_loop_run_once(loop, 0);
    eddy_loop_close(loop, 0);
    free(conns);
    return served == nconns && errors == 0 ? 0 : 1;
}
