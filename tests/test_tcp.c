/*
 * tests/test_tcp.c - the tcp layer: the TCP server (accepting, peers, the
 * connection limit, running out of fds, select's FD_SETSIZE, stop,
 * shutdown, freeing from callbacks), the resolver (numeric, localhost on
 * both families, .invalid, 1,000 lookups at once, cancelling, freeing with
 * lookups pending), connecting by name (both families, Happy Eyeballs'
 * delay, refused, timeouts, source addresses, cancelling), and the
 * examples built on them: echo under a limit of 16 fds, and chat's
 * broadcast with a client that never reads.
 *
 * The servers run in this process on an eddy loop; their clients are
 * plain blocking or non-blocking sockets.  Loopback connects complete in
 * the listen backlog, so a client is connected before the server accepts.
 * Every wait is on the loop (bounded in iterations and time) or on
 * poll(2); the only pauses are a few milliseconds between checks for a
 * thread or a child process that exits, which offer no fd to wait on.
 * "No spin" is asserted as a count of loop iterations, never as time.
 */
#include "testutil.h"

#include "httputil.h"

#include "eddy/tcp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/un.h>

#define RUN_MS 5000
#define RUN_ITER 100000
#define MAX_CONNS 64

/* --- a server under test ------------------------------------------------- */

typedef struct srv_ctx {
    eddy_loop *loop;
    eddy_tcp_server *srv;
    int port;
    eddy_stream *s[MAX_CONNS]; /* handed out; NULL once closed */
    struct sockaddr_storage peer[MAX_CONNS];
    socklen_t peer_len[MAX_CONNS];
    int handed, closed;
    int lines; /* lines echoed */
    int free_in_cb, stop_in_cb;
    int done_calls;
} srv_ctx;

typedef struct conn_ref {
    srv_ctx *c;
    int i;
} conn_ref;

static conn_ref refs[MAX_CONNS];

static void on_closed(eddy_stream *s, int status, void *arg)
{
    conn_ref *r = arg;

    (void)s;
    (void)status;
    r->c->s[r->i] = NULL;
    r->c->closed++;
}

static void on_echo_line(eddy_stream *s, int status, const char *data,
                         size_t len, void *arg)
{
    conn_ref *r = arg;

    if (status != 0)
        return;
    r->c->lines++;
    assert_int_equal(eddy_stream_write(s, data, len, NULL, NULL), 0);
    assert_int_equal(eddy_stream_read_until(s, "\n", 1, 0, on_echo_line, r), 0);
}

static void on_conn(eddy_tcp_server *srv, eddy_stream *s,
                    const struct sockaddr *peer, socklen_t len, void *arg)
{
    srv_ctx *c = arg;
    int i = c->handed++;

    assert_ptr_equal(srv, c->srv);
    assert_true(i < MAX_CONNS);
    assert_false(eddy_stream_closed(s));
    assert_ptr_equal(eddy_stream_loop(s), c->loop);
    c->s[i] = s;
    assert_true(len <= sizeof c->peer[i]);
    memcpy(&c->peer[i], peer, len);
    c->peer_len[i] = len;
    refs[i].c = c;
    refs[i].i = i;
    eddy_stream_set_close_callback(s, on_closed, &refs[i]);
    assert_int_equal(
        eddy_stream_read_until(s, "\n", 1, 0, on_echo_line, &refs[i]), 0);
    if (c->stop_in_cb)
        eddy_tcp_server_stop(srv);
    if (c->free_in_cb) {
        eddy_tcp_server_free(srv);
        c->srv = NULL;
    }
}

static void ctx_new(srv_ctx *c, const eddy_tcp_server_options *o)
{
    memset(c, 0, sizeof *c);
    c->loop = tu_loop_new();
    assert_int_equal(eddy_tcp_server_new(c->loop, o, on_conn, c, &c->srv), 0);
}

static void ctx_listen(srv_ctx *c)
{
    assert_int_equal(eddy_tcp_server_listen(c->srv, 0, "127.0.0.1"), 0);
    c->port = eddy_tcp_server_port(c->srv);
    assert_true(c->port > 0);
}

static void run_until_handed(srv_ctx *c, int n)
{
    assert_true(tu_run_until_count(c->loop, &c->handed, n, RUN_ITER, RUN_MS));
}

/* Sends a line on client fd and waits until it comes back. */
static void echo_check(srv_ctx *c, int fd, const char *line)
{
    size_t len = strlen(line), got = 0;
    char buf[256];
    int want = c->lines + 1;

    assert_int_equal(send(fd, line, len, MSG_NOSIGNAL), (ssize_t)len);
    assert_true(tu_run_until_count(c->loop, &c->lines, want, RUN_ITER, RUN_MS));
    while (got < len) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;

        assert_int_equal(eddy_loop_run_once(c->loop, 0), 0);
        if (poll(&p, 1, 10) <= 0)
            continue;
        n = recv(fd, buf + got, sizeof buf - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(buf, line, len);
}

/* Closes every stream still open, runs until they are freed, frees the
 * server and the loop; the loop must hold nothing afterwards. */
static void ctx_finish(srv_ctx *c)
{
    eddy_loop_stats st;

    for (int i = 0; i < c->handed; i++)
        if (c->s[i] != NULL)
            eddy_stream_close(c->s[i]);
    assert_true(
        tu_run_until_count(c->loop, &c->closed, c->handed, RUN_ITER, RUN_MS));
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(c->loop, 0), 0);
    eddy_tcp_server_free(c->srv);
    eddy_loop_get_stats(c->loop, &st);
    assert_int_equal(st.handlers, 0);
    eddy_loop_close(c->loop, 0);
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* --- the TCP server ----------------------------------------------------- */

static void test_server_new_errors(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_tcp_server *srv = NULL;

    (void)state;
    assert_int_equal(eddy_tcp_server_new(loop, NULL, NULL, NULL, &srv),
                     -EINVAL);
    assert_null(srv);
    /* What the header says the caller may do next: try again right. */
    assert_int_equal(eddy_tcp_server_new(loop, NULL, on_conn, NULL, &srv), 0);
    assert_int_equal(eddy_tcp_server_port(srv), -ENOENT);
    assert_ptr_equal(eddy_tcp_server_loop(srv), loop);
    eddy_tcp_server_free(srv);
    eddy_tcp_server_free(NULL);
    eddy_loop_close(loop, 0);
}

/* Connections are handed out with their peers' addresses, and work. */
static void test_server_accepts(void **state)
{
    srv_ctx c;
    int fds[8];
    eddy_tcp_server_stats st;

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_int_equal(st.accepting, 1);
    for (int i = 0; i < 8; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 8);
    for (int i = 0; i < 8; i++) {
        struct sockaddr_in local;
        socklen_t len = sizeof local;
        const struct sockaddr_in *peer = (const void *)&c.peer[i];
        int found = 0;

        assert_int_equal(c.peer_len[i], sizeof(struct sockaddr_in));
        assert_int_equal(peer->sin_family, AF_INET);
        assert_int_equal(ntohl(peer->sin_addr.s_addr), INADDR_LOOPBACK);
        for (int k = 0; k < 8; k++) {
            assert_int_equal(
                getsockname(fds[k], (struct sockaddr *)&local, &len), 0);
            found += local.sin_port == peer->sin_port;
        }
        assert_int_equal(found, 1);
    }
    for (int i = 0; i < 8; i++)
        echo_check(&c, fds[i], "hello\n");
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_int_equal(st.connections, 8);
    assert_int_equal(st.connections_total, 8);
    assert_int_equal(st.accept_errors, 0);
    /* A client that goes: its stream closes, the server counts it gone. */
    close(fds[0]);
    fds[0] = -1;
    assert_true(tu_run_until_count(c.loop, &c.closed, 1, RUN_ITER, RUN_MS));
    for (int i = 0; i < 3; i++)
        assert_int_equal(eddy_loop_run_once(c.loop, 0), 0);
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_int_equal(st.connections, 7);
    close_all(fds, 8);
    ctx_finish(&c);
}

static void test_server_listen_errors(void **state)
{
    srv_ctx c;
    int lfd, port;
    size_t n;

    (void)state;
    ctx_new(&c, NULL);
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &lfd, 1, &n), 0);
    port = eddy_socket_port(lfd);
    assert_int_equal(eddy_tcp_server_listen(c.srv, port, "127.0.0.1"),
                     -EADDRINUSE);
    assert_int_equal(eddy_tcp_server_port(c.srv), -ENOENT);
    assert_int_equal(eddy_tcp_server_listen(c.srv, -1, NULL), -EINVAL);
    /* Then: listen elsewhere. */
    close(lfd);
    ctx_listen(&c);
    ctx_finish(&c);
}

/* add_sockets takes all of fds or none. */
static void test_server_add_sockets_errors(void **state)
{
    srv_ctx c;
    int fds[2], bad[2];
    size_t n;

    (void)state;
    ctx_new(&c, NULL);
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fds[0], 1, &n), 0);
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fds[1], 1, &n), 0);
    /* -EBADF: the second is closed; the first is not taken either. */
    bad[0] = fds[0];
    bad[1] = dup(fds[1]);
    close(bad[1]);
    assert_int_equal(eddy_tcp_server_add_sockets(c.srv, bad, 2), -EBADF);
    assert_int_equal(eddy_tcp_server_port(c.srv), -ENOENT);
    /* -ERANGE: select cannot watch a listening socket past FD_SETSIZE;
     * the caller still owns it. */
    if (tu_backend_is("select") &&
        tu_raise_nofile(FD_SETSIZE + 64) >= FD_SETSIZE + 16) {
        int high = dup2(fds[1], FD_SETSIZE + 8);

        assert_int_equal(high, FD_SETSIZE + 8);
        assert_int_equal(eddy_tcp_server_add_sockets(c.srv, &high, 1),
                         -ERANGE);
        assert_int_equal(close(high), 0);
    }
    /* -EEXIST: the fd has a handler already. */
    assert_int_equal(eddy_tcp_server_add_sockets(c.srv, &fds[0], 1), 0);
    assert_int_equal(eddy_tcp_server_add_sockets(c.srv, &fds[0], 1), -EEXIST);
    /* Then the caller still owns the rest, and may add them. */
    assert_int_equal(eddy_tcp_server_add_sockets(c.srv, &fds[1], 1), 0);
    assert_int_equal(eddy_tcp_server_port(c.srv), eddy_socket_port(fds[0]));
    c.port = eddy_socket_port(fds[1]);
    bad[0] = tcp_connect(c.port);
    run_until_handed(&c, 1);
    close(bad[0]);
    ctx_finish(&c);
}

/* A Unix socket works; its peer is AF_UNIX; it has no port. */
static void test_server_unix_socket(void **state)
{
    srv_ctx c;
    struct sockaddr_un sun = {0};
    char path[64];
    int lfd, fd;

    (void)state;
    snprintf(path, sizeof path, "/tmp/eddy-test-tcp-%d.sock", (int)getpid());
    ctx_new(&c, NULL);
    assert_int_equal(eddy_bind_unix_socket(path, 0, 0, &lfd), 0);
    assert_int_equal(eddy_tcp_server_add_sockets(c.srv, &lfd, 1), 0);
    assert_int_equal(eddy_tcp_server_port(c.srv), -EAFNOSUPPORT);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    run_until_handed(&c, 1);
    assert_int_equal(c.peer[0].ss_family, AF_UNIX);
    echo_check(&c, fd, "over a unix socket\n");
    close(fd);
    ctx_finish(&c);
    unlink(path);
}

/* At max_connections the rest wait in the backlog; each that goes lets
 * one more in. */
static void test_server_max_connections(void **state)
{
    eddy_tcp_server_options o = {.max_connections = 2};
    eddy_tcp_server_stats st;
    srv_ctx c;
    int fds[5];

    (void)state;
    ctx_new(&c, &o);
    ctx_listen(&c);
    for (int i = 0; i < 5; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 2);
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(c.loop, 5), 0);
    assert_int_equal(c.handed, 2);
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_int_equal(st.accepting, 0);
    assert_int_equal(st.pauses, 1);
    for (int k = 2; k < 5; k++) {
        eddy_stream_close(c.s[k - 2]);
        run_until_handed(&c, k + 1);
        eddy_tcp_server_get_stats(c.srv, &st);
        assert_true(st.connections <= 2);
    }
    for (int i = 2; i < 5; i++) {
        int k;

        for (k = 0; k < 5; k++) { /* which client is stream i's? */
            struct sockaddr_in local;
            socklen_t len = sizeof local;

            getsockname(fds[k], (struct sockaddr *)&local, &len);
            if (local.sin_port == ((struct sockaddr_in *)&c.peer[i])->sin_port)
                break;
        }
        assert_true(k < 5);
        if (c.s[i] != NULL)
            echo_check(&c, fds[k], "let in\n");
    }
    close_all(fds, 5);
    ctx_finish(&c);
}

/* --- running out of fds -------------------------------------------------- */

typedef struct fd_filler {
    int *fds;
    int n;
    struct rlimit saved;
} fd_filler;

/* Takes every free fd but keep (lowest first are left free), under a soft
 * limit lowered near the fds in use, so that filling is cheap. */
static void fill_fds(fd_filler *f, int keep)
{
    struct rlimit rl;
    int top = 0, fd;

    for (int i = 0; i < TU_FD_PROBE; i++)
        if (tu_fd_is_open(i))
            top = i;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &f->saved), 0);
    rl = f->saved;
    rl.rlim_cur = (rlim_t)top + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    f->fds = calloc(20000, sizeof *f->fds);
    assert_non_null(f->fds);
    assert_true((f->fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
    f->n = 1;
    while (f->n < 20000 && (fd = dup(f->fds[0])) >= 0)
        f->fds[f->n++] = fd;
    assert_int_equal(errno, EMFILE);
    assert_true(f->n > keep);
    /* Free the lowest: the server's next fds are those numbers. */
    for (int i = 0; i < keep; i++) {
        close(f->fds[i]);
        f->fds[i] = -1;
    }
}

static void unfill_fds(fd_filler *f)
{
    close_all(f->fds, f->n);
    free(f->fds);
    f->fds = NULL;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->saved), 0);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static uint64_t iterations(eddy_loop *loop)
{
    eddy_loop_stats st;

    eddy_loop_get_stats(loop, &st);
    return st.iterations;
}

/* Connects fd, made before the fds ran out, to 127.0.0.1:port. */
static void connect_made(int fd, int port)
{
    struct sockaddr_in a = {0};

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
}

/*
 * EMFILE: accepting pauses and retries every 100 ms, without a busy loop,
 * and resumes as soon as a connection the server handed out is gone.
 *
 * Under valgrind the fd limit is valgrind's own: the kernel still accepts
 * into a number past it, and valgrind closes that connection and reports
 * EMFILE, so clients waiting in the backlog may be lost there (never
 * without valgrind: the kernel's EMFILE leaves them queued).  The clients
 * this test counts on are connected when they are needed, from sockets
 * made before the fds ran out.
 */
static void test_server_emfile_no_spin(void **state)
{
    eddy_tcp_server_stats st;
    srv_ctx c;
    fd_filler f;
    int fds[6], later[3];
    uint64_t before;
    tu_log log;

    (void)state;
    ctx_new(&c, NULL);
    tu_log_attach(c.loop, &log);
    ctx_listen(&c);
    for (int i = 0; i < 6; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    for (int i = 0; i < 3; i++)
        later[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    fill_fds(&f, 2);
    run_until_handed(&c, 2);
    /* 300 ms with the backlog non-empty and no fd to accept it into. */
    before = iterations(c.loop);
    tu_run_until(c.loop, never, NULL, RUN_ITER, 300);
    assert_int_equal(c.handed, 2);
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_true(st.accept_errors >= 1);
    assert_true(st.pauses >= 1);
    assert_int_equal(st.connections, 2);
    /* A retry every 100 ms is 2 or 3 iterations each; a spin, thousands. */
    assert_true(iterations(c.loop) - before < 40);
    assert_true(log.by_level[EDDY_LOG_WARNING] >= 1);
    assert_non_null(strstr(log.last, "backlog"));
    /* A connection that goes frees an fd: the next client comes in at
     * once, before the retry timer. */
    connect_made(later[0], c.port);
    eddy_stream_close(c.s[0]);
    run_until_handed(&c, 3);
    /* The fds come back: the rest come in after a retry. */
    unfill_fds(&f);
    connect_made(later[1], c.port);
    connect_made(later[2], c.port);
    run_until_handed(&c, tu_valgrind() ? 5 : 9);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(c.loop, 1), 0);
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_int_equal(st.accepting, 1);
    close_all(fds, 6);
    close_all(later, 3);
    eddy_loop_set_log(c.loop, NULL, NULL);
    ctx_finish(&c);
}

/* select's FD_SETSIZE: an accepted fd past it is set aside, not closed,
 * and moved down when a connection goes.  Elsewhere it is just served. */
static void test_server_fd_past_setsize(void **state)
{
    eddy_tcp_server_stats st;
    srv_ctx c;
    int fds[2], *fill, nfill = 1, fd, freed = -1;

    (void)state;
    if (tu_raise_nofile(FD_SETSIZE + 256) < FD_SETSIZE + 64)
        skip();
    ctx_new(&c, NULL);
    ctx_listen(&c);
    for (int i = 0; i < 2; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    /* Every number below FD_SETSIZE taken, but one. */
    fill = calloc(FD_SETSIZE, sizeof *fill);
    assert_non_null(fill);
    assert_true((fill[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
    while ((fd = dup(fill[0])) >= 0 && fd < FD_SETSIZE)
        fill[nfill++] = fd;
    assert_true(fd >= FD_SETSIZE);
    close(fd);
    freed = fill[nfill / 2];
    close(freed);
    fill[nfill / 2] = -1;
    run_until_handed(&c, 1);
    assert_int_equal(eddy_stream_fd(c.s[0]), freed);
    if (tu_backend_is("select")) {
        for (int i = 0; i < 10; i++)
            assert_int_equal(eddy_loop_run_once(c.loop, 5), 0);
        eddy_tcp_server_get_stats(c.srv, &st);
        assert_int_equal(c.handed, 1);
        assert_int_equal(st.parked, 1);
        assert_int_equal(st.accepting, 0);
        eddy_stream_close(c.s[0]); /* frees a low number */
    }
    run_until_handed(&c, 2);
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_int_equal(st.parked, tu_backend_is("select") ? 1 : 0);
    if (tu_backend_is("select"))
        assert_int_equal(eddy_stream_fd(c.s[1]), freed);
    for (int i = 0; i < 2; i++) {
        if (c.s[i] == NULL)
            continue;
        for (int k = 0; k < 2; k++) {
            struct sockaddr_in local;
            socklen_t len = sizeof local;

            getsockname(fds[k], (struct sockaddr *)&local, &len);
            if (local.sin_port == ((struct sockaddr_in *)&c.peer[i])->sin_port)
                echo_check(&c, fds[k], "moved down\n");
        }
    }
    close_all(fill, nfill);
    free(fill);
    close_all(fds, 2);
    ctx_finish(&c);
}

/* --- stopping ----------------------------------------------------------- */

static void test_server_stop(void **state)
{
    eddy_tcp_server_stats st;
    srv_ctx c;
    int fd, fd2, port;

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    assert_true((fd = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 1);
    port = c.port;
    eddy_tcp_server_stop(c.srv);
    eddy_tcp_server_stop(c.srv); /* twice: nothing */
    eddy_tcp_server_get_stats(c.srv, &st);
    assert_int_equal(st.accepting, 0);
    assert_int_equal(eddy_tcp_server_port(c.srv), -ENOENT);
    assert_int_equal(tcp_connect(port), -ECONNREFUSED);
    /* What was handed out goes on. */
    echo_check(&c, fd, "still here\n");
    /* Listening again is allowed. */
    ctx_listen(&c);
    assert_true((fd2 = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 2);
    close(fd);
    close(fd2);
    ctx_finish(&c);
}

static void test_server_stop_inside_callback(void **state)
{
    srv_ctx c;
    int fds[3];

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    c.stop_in_cb = 1;
    for (int i = 0; i < 3; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(c.loop, 1), 0);
    assert_int_equal(c.handed, 1); /* the rest went with the listener */
    echo_check(&c, fds[0], "one\n");
    close_all(fds, 3);
    ctx_finish(&c);
}

/* Freed from inside its callback, mid-batch: the stream it handed out
 * lives on and nothing touches the server afterwards (valgrind, ASan). */
static void test_server_free_inside_callback(void **state)
{
    srv_ctx c;
    int fds[3];

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    c.free_in_cb = 1;
    for (int i = 0; i < 3; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 1);
    assert_null(c.srv);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(c.loop, 1), 0);
    assert_int_equal(c.handed, 1);
    echo_check(&c, fds[0], "after free\n");
    close_all(fds, 3);
    ctx_finish(&c); /* frees a NULL server */
}

/* Freed with connections open: they stay the owner's, and their closes
 * later do not reach the freed server. */
static void test_server_free_with_connections(void **state)
{
    srv_ctx c;
    int fds[2];

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    for (int i = 0; i < 2; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 2);
    eddy_tcp_server_free(c.srv);
    c.srv = NULL;
    echo_check(&c, fds[1], "owner's now\n");
    close(fds[0]); /* the peer goes: the stream closes, no server */
    assert_true(tu_run_until_count(c.loop, &c.closed, 1, RUN_ITER, RUN_MS));
    close(fds[1]);
    ctx_finish(&c);
}

static void on_done(eddy_tcp_server *srv, void *arg)
{
    srv_ctx *c = arg;

    assert_ptr_equal(srv, c->srv);
    c->done_calls++;
}

/* Shutdown waits for the owner to close what it handed out. */
static void test_server_shutdown_waits(void **state)
{
    srv_ctx c;
    int fds[2], port;
    uint64_t t0;

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    port = c.port;
    for (int i = 0; i < 2; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 2);
    t0 = tu_now_ms();
    eddy_tcp_server_shutdown(c.srv, 60000, on_done, &c);
    eddy_tcp_server_shutdown(c.srv, 0, NULL, NULL); /* a second: nothing */
    assert_int_equal(tcp_connect(port), -ECONNREFUSED);
    assert_int_equal(eddy_tcp_server_listen(c.srv, 0, "127.0.0.1"), -ESHUTDOWN);
    assert_int_equal(eddy_tcp_server_add_sockets(c.srv, fds, 1), -ESHUTDOWN);
    echo_check(&c, fds[0], "finishing\n");
    eddy_stream_close(c.s[0]);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(c.loop, 1), 0);
    assert_int_equal(c.done_calls, 0);
    close(fds[1]); /* the other ends by its peer */
    assert_true(tu_run_until_count(c.loop, &c.done_calls, 1, RUN_ITER, RUN_MS));
    assert_true(tu_now_ms() - t0 < 30000); /* not the deadline */
    close(fds[0]);
    ctx_finish(&c);
}

/* At the deadline the server closes what is left, then says done. */
static void test_server_shutdown_deadline(void **state)
{
    srv_ctx c;
    int fds[2];

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    for (int i = 0; i < 2; i++)
        assert_true((fds[i] = tcp_connect(c.port)) >= 0);
    run_until_handed(&c, 2);
    eddy_tcp_server_shutdown(c.srv, 50, on_done, &c);
    assert_true(tu_run_until_count(c.loop, &c.done_calls, 1, RUN_ITER, RUN_MS));
    assert_int_equal(c.closed, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(recv(fds[i], &(char){0}, 1, 0), 0); /* EOF */
    close_all(fds, 2);
    ctx_finish(&c);
}

/* With nothing open, done runs in a later iteration, not inside. */
static void test_server_shutdown_idle(void **state)
{
    srv_ctx c;

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    eddy_tcp_server_shutdown(c.srv, 1000, on_done, &c);
    assert_int_equal(c.done_calls, 0);
    assert_true(tu_run_until_count(c.loop, &c.done_calls, 1, RUN_ITER, RUN_MS));
    ctx_finish(&c);
}

/* Freed before a shutdown's done ran: it never runs. */
static void test_server_free_cancels_done(void **state)
{
    srv_ctx c;

    (void)state;
    ctx_new(&c, NULL);
    ctx_listen(&c);
    eddy_tcp_server_shutdown(c.srv, 1000, on_done, &c);
    eddy_tcp_server_free(c.srv);
    c.srv = NULL;
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(c.loop, 1), 0);
    assert_int_equal(c.done_calls, 0);
    ctx_finish(&c);
}

/* --- the resolver -------------------------------------------------------- */

/* Threads of this process, from /proc/self/task. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Waits (bounded) for the thread count to fall to n: a detached thread's
 * exit has no fd to wait on. */
static int threads_back_to(int n)
{
    uint64_t end = tu_now_ms() + RUN_MS;

    while (thread_count() > n && tu_now_ms() < end)
        poll(NULL, 0, 2);
    return thread_count() == n;
}

typedef struct answer {
    int calls, status;
    eddy_addr addrs[8];
    size_t n;
    eddy_resolver *free_me; /* freed from inside the callback */
} answer;

static void on_answer(eddy_resolver *r, int status, const eddy_addr *addrs,
                      size_t n, void *arg)
{
    answer *a = arg;

    (void)r;
    a->calls++;
    a->status = status;
    a->n = n;
    assert_true(status == 0 ? n >= 1 : n == 0);
    for (size_t i = 0; i < n && i < 8; i++)
        a->addrs[i] = addrs[i];
    if (a->free_me != NULL)
        eddy_resolver_free(a->free_me);
}

static eddy_resolver *resolver_new(eddy_loop *loop, unsigned threads)
{
    eddy_resolver_options o = {.max_threads = threads};
    eddy_resolver *r = NULL;

    assert_int_equal(eddy_resolver_new(loop, &o, &r), 0);
    return r;
}

static void resolver_finish(eddy_loop *loop, eddy_resolver *r, int threads)
{
    eddy_resolver_free(r);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
    assert_true(threads_back_to(threads));
}

static void lookup(eddy_loop *loop, eddy_resolver *r, const char *host,
                   int family, answer *a)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(
        eddy_resolver_lookup(r, host, 8080, family, on_answer, a, NULL), 0);
    assert_int_equal(a->calls, 0); /* never inside the call */
    assert_true(tu_run_until_count(loop, &a->calls, 1, RUN_ITER, RUN_MS));
}

static int is_v6_loopback(const eddy_addr *a)
{
    return a->u.sa.sa_family == AF_INET6 &&
           a->len == sizeof(struct sockaddr_in6) &&
           IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr) &&
           ntohs(a->u.in6.sin6_port) == 8080;
}

static int is_v4_loopback(const eddy_addr *a)
{
    return a->u.sa.sa_family == AF_INET &&
           a->len == sizeof(struct sockaddr_in) &&
           ntohl(a->u.in4.sin_addr.s_addr) == INADDR_LOOPBACK &&
           ntohs(a->u.in4.sin_port) == 8080;
}

/* localhost: both loopbacks, ::1 first, whatever /etc/hosts says. */
static void test_resolver_localhost(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count();
    answer a;

    (void)state;
    lookup(loop, r, "localhost", AF_UNSPEC, &a);
    assert_int_equal(a.status, 0);
    assert_true(a.n >= 2);
    assert_true(is_v6_loopback(&a.addrs[0]));
    assert_true(is_v4_loopback(&a.addrs[1]));
    /* The system's 127.0.0.1 (from /etc/hosts) is not listed twice. */
    for (size_t i = 0; i < a.n && i < 8; i++)
        for (size_t k = i + 1; k < a.n && k < 8; k++)
            assert_false(a.addrs[i].len == a.addrs[k].len &&
                         memcmp(&a.addrs[i].u, &a.addrs[k].u,
                                a.addrs[i].len) == 0);
    lookup(loop, r, "LocalHost.", AF_INET, &a);
    assert_int_equal(a.status, 0);
    for (size_t i = 0; i < a.n; i++)
        assert_int_equal(a.addrs[i].u.sa.sa_family, AF_INET);
    assert_true(is_v4_loopback(&a.addrs[0]));
    lookup(loop, r, "db.localhost", AF_INET6, &a);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.n, 1);
    assert_true(is_v6_loopback(&a.addrs[0]));
    resolver_finish(loop, r, threads);
}

/* A numeric address needs no thread. */
static void test_resolver_numeric(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count();
    answer a;

    (void)state;
    lookup(loop, r, "127.0.0.1", AF_UNSPEC, &a);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.n, 1);
    assert_true(is_v4_loopback(&a.addrs[0]));
    lookup(loop, r, "::1", AF_UNSPEC, &a);
    assert_true(is_v6_loopback(&a.addrs[0]));
    assert_int_equal(thread_count(), threads);
    /* The wrong family for a numeric address: asked of the system, which
     * says there is none. */
    lookup(loop, r, "::1", AF_INET, &a);
    assert_int_equal(a.status, EDDY_ENOTFOUND);
    resolver_finish(loop, r, threads);
}

/* RFC 6761: .invalid fails at once, without asking anyone. */
static void test_resolver_invalid(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count();
    uint64_t t0 = tu_now_ms();
    answer a;

    (void)state;
    lookup(loop, r, "nonexistent.invalid", AF_UNSPEC, &a);
    assert_int_equal(a.status, EDDY_ENOTFOUND);
    assert_string_equal(eddy_strerror(a.status), "host name not found");
    lookup(loop, r, "INVALID.", AF_INET, &a);
    assert_int_equal(a.status, EDDY_ENOTFOUND);
    assert_true(tu_now_ms() - t0 < 3000);
    assert_int_equal(thread_count(), threads);
    assert_string_equal(eddy_strerror(EDDY_ETRYAGAIN),
                        "temporary failure in name resolution");
    assert_string_equal(eddy_strerror(EDDY_ERESOLVE), "name resolution failed");
    resolver_finish(loop, r, threads);
}

static void test_resolver_errors(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count();
    char *longname = malloc(1100);
    answer a = {0};

    (void)state;
    assert_non_null(longname);
    memset(longname, 'a', 1099);
    longname[1099] = '\0';
    assert_int_equal(
        eddy_resolver_lookup(r, NULL, 80, AF_UNSPEC, on_answer, &a, NULL),
        -EINVAL);
    assert_int_equal(
        eddy_resolver_lookup(r, "", 80, AF_UNSPEC, on_answer, &a, NULL),
        -EINVAL);
    assert_int_equal(
        eddy_resolver_lookup(r, "localhost", 80, AF_UNSPEC, NULL, &a, NULL),
        -EINVAL);
    assert_int_equal(
        eddy_resolver_lookup(r, "localhost", 80, AF_UNIX, on_answer, &a, NULL),
        -EINVAL);
    assert_int_equal(
        eddy_resolver_lookup(r, longname, 80, AF_UNSPEC, on_answer, &a, NULL),
        -ENAMETOOLONG);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(a.calls, 0);
    /* Then a right one works. */
    lookup(loop, r, "localhost", AF_UNSPEC, &a);
    assert_int_equal(a.status, 0);
    free(longname);
    resolver_finish(loop, r, threads);
}

static void *block_on_pipe(void *arg)
{
    char c;

    return read(*(int *)arg, &c, 1) < 0 ? NULL : arg;
}

/* -EAGAIN: no thread can start (a tiny address space, in a child; not
 * under ASan or valgrind, which need room of their own).  Threads that
 * block first take the stacks glibc keeps from threads that exited. */
static void test_resolver_no_thread(void **state)
{
    pid_t pid;
    int status;

    (void)state;
#ifdef TU_ASAN
    skip();
#endif
    if (tu_valgrind())
        skip();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        eddy_loop *loop = NULL;
        eddy_resolver *r = NULL;
        struct rlimit rl = {0, 0};
        answer a = {0};
        int err;
        FILE *f;
        unsigned long pages = 0;
        int block[2];
        pthread_t t;

        if (pipe(block) != 0)
            _exit(2);
        for (int i = 0; i < 16; i++)
            if (pthread_create(&t, NULL, block_on_pipe, &block[0]) != 0)
                _exit(2);
        f = fopen("/proc/self/statm", "r");
        if (f == NULL || fscanf(f, "%lu", &pages) != 1 ||
            eddy_loop_new(&loop) != 0 || eddy_resolver_new(loop, NULL, &r))
            _exit(2);
        fclose(f);
        /* Room for the heap to grow a little, none for a thread stack. */
        rl.rlim_cur = rl.rlim_max =
            (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (1u << 20);
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(3);
        err = eddy_resolver_lookup(r, "localhost", 80, AF_UNSPEC, on_answer, &a,
                                   NULL);
        if (err != -EAGAIN)
            _exit(4);
        /* Then: a numeric address still works without a thread. */
        if (eddy_resolver_lookup(r, "127.0.0.1", 80, AF_UNSPEC, on_answer, &a,
                                 NULL) != 0)
            _exit(5);
        for (int i = 0; i < 5 && a.calls == 0; i++)
            eddy_loop_run_once(loop, 0);
        _exit(a.calls == 1 && a.status == 0 ? 0 : 6);
    }
    status = tu_wait_exit(pid, RUN_MS);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Cancelled lookups never call back, wherever they were: queued, on a
 * thread, or answered and waiting for the loop. */
static void test_resolver_cancel(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 1);
    int threads = thread_count();
    eddy_lookup *h[16];
    answer a[16];

    (void)state;
    memset(a, 0, sizeof a);
    for (int i = 0; i < 16; i++)
        assert_int_equal(
            eddy_resolver_lookup(r, i % 2 ? "localhost" : "127.0.0.1", 80,
                                 AF_UNSPEC, on_answer, &a[i], &h[i]),
            0);
    for (int i = 0; i < 16; i += 3)
        eddy_resolver_cancel(r, h[i]);
    for (int i = 0; i < 16; i++) {
        if (i % 3 == 0)
            continue;
        assert_true(tu_run_until_count(loop, &a[i].calls, 1, RUN_ITER, RUN_MS));
    }
    /* A cancelled one still on a thread finishes there. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    for (int i = 0; i < 16; i++)
        assert_int_equal(a[i].calls, i % 3 == 0 ? 0 : 1);
    /* Answered, waiting for the loop: cancelled before it runs. */
    memset(a, 0, sizeof a);
    assert_int_equal(eddy_resolver_lookup(r, "a.invalid", 80, AF_UNSPEC,
                                          on_answer, &a[0], &h[0]),
                     0);
    eddy_resolver_cancel(r, h[0]);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    assert_int_equal(a[0].calls, 0);
    resolver_finish(loop, r, threads);
}

/* 1,000 lookups at once (200 under valgrind) all answer, on at most
 * max_threads threads, and leave no thread and no fd behind (the fd
 * check is the suite's teardown). */
static void test_resolver_thousand_lookups(void **state)
{
    int n = tu_valgrind() ? 200 : 1000, done = 0;
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 4);
    int threads = thread_count(), most = 0;
    answer *a = calloc((size_t)n, sizeof *a);

    (void)state;
    assert_non_null(a);
    for (int i = 0; i < n; i++)
        assert_int_equal(eddy_resolver_lookup(r, "localhost", 80, AF_UNSPEC,
                                              on_answer, &a[i], NULL),
                         0);
    for (uint64_t end = tu_now_ms() + 30000; done < n && tu_now_ms() < end;) {
        int t = thread_count();

        most = t > most ? t : most;
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
        done = 0;
        for (int i = 0; i < n; i++)
            done += a[i].calls;
    }
    assert_int_equal(done, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].status, 0);
        assert_true(a[i].n >= 2);
    }
    assert_true(most - threads <= 4);
    free(a);
    resolver_finish(loop, r, threads);
}

/* Idle threads go by themselves after idle_ms. */
static void test_resolver_idle_threads_exit(void **state)
{
    eddy_resolver_options o = {.max_threads = 2, .idle_ms = 20};
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = NULL;
    int threads = thread_count();
    answer a;

    (void)state;
    assert_int_equal(eddy_resolver_new(loop, &o, &r), 0);
    lookup(loop, r, "localhost", AF_UNSPEC, &a);
    assert_true(thread_count() > threads);
    assert_true(threads_back_to(threads));
    lookup(loop, r, "localhost", AF_INET, &a); /* a new one starts */
    assert_int_equal(a.status, 0);
    resolver_finish(loop, r, threads);
}

/* Freed with lookups queued, running and answered: no callback runs, and
 * the threads finish and go without touching what was freed. */
static void test_resolver_free_pending(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 4);
    int threads = thread_count();
    answer a[50];

    (void)state;
    memset(a, 0, sizeof a);
    for (int i = 0; i < 50; i++)
        assert_int_equal(
            eddy_resolver_lookup(r, i % 5 ? "localhost" : "x.invalid", 80,
                                 AF_UNSPEC, on_answer, &a[i], NULL),
            0);
    eddy_resolver_free(r);
    /* The loop goes too, before the threads are done. */
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
    assert_true(threads_back_to(threads));
    for (int i = 0; i < 50; i++)
        assert_int_equal(a[i].calls, 0);
}

/* Freed from inside a callback: the other answers are dropped. */
static void test_resolver_free_inside_callback(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 1);
    int threads = thread_count(), calls = 0;
    answer a[4];

    (void)state;
    memset(a, 0, sizeof a);
    for (int i = 0; i < 4; i++) {
        a[i].free_me = r;
        assert_int_equal(eddy_resolver_lookup(r, "127.0.0.1", 80, AF_UNSPEC,
                                              on_answer, &a[i], NULL),
                         0);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    for (int i = 0; i < 4; i++)
        calls += a[i].calls;
    assert_int_equal(calls, 1);
    eddy_loop_close(loop, 0);
    assert_true(threads_back_to(threads));
}

/* --- connecting by name -------------------------------------------------- */

typedef struct conn_result {
    int calls, status;
    eddy_stream *s;
    uint64_t at; /* tu_now_ms() when it ended */
} conn_result;

static void on_connected(eddy_stream *s, int status, void *arg)
{
    conn_result *r = arg;

    r->calls++;
    r->status = status;
    r->s = s;
    r->at = tu_now_ms();
    assert_true(status == 0 ? s != NULL : s == NULL);
    if (s != NULL)
        assert_false(eddy_stream_closed(s));
}

/* A listening socket on addr:port (0: any), backlog as given. */
static int listen_on(const char *addr, int port, int backlog)
{
    int fd, err;
    size_t n;

    err = eddy_bind_sockets(port, addr, strchr(addr, ':') ? AF_INET6 : AF_INET,
                            backlog, 0, &fd, 1, &n);
    return err == 0 ? fd : err;
}

/* A listening socket with exactly this backlog (eddy_bind_sockets takes
 * 0 for 1024): with 0 it holds one connection, and the next one's SYN
 * gets no answer, which is how a test makes an address hang. */
static int listen_raw(const char *addr, int port, int backlog)
{
    eddy_addr a = {0};
    int fd, one = 1;

    if (strchr(addr, ':') != NULL) {
        a.u.in6.sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &a.u.in6.sin6_addr), 1);
        a.u.in6.sin6_port = htons((uint16_t)port);
        a.len = sizeof a.u.in6;
    } else {
        a.u.in4.sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &a.u.in4.sin_addr), 1);
        a.u.in4.sin_port = htons((uint16_t)port);
        a.len = sizeof a.u.in4;
    }
    fd = socket(a.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (a.u.sa.sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, &a.u.sa, a.len) != 0 || listen(fd, backlog) != 0) {
        int err = -errno;

        close(fd);
        return err;
    }
    return fd;
}

/* A connection that fills lfd's backlog of 0. */
static int fill_backlog(int lfd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;

    assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
    return fd;
}

static int have_ipv6(void)
{
    int fd = listen_raw("::1", 0, 1);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* The family of the peer of the stream's socket. */
static int peer_family(eddy_stream *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    assert_int_equal(
        getpeername(eddy_stream_fd(s), (struct sockaddr *)&ss, &len), 0);
    return ss.ss_family;
}

/* Connects and runs until the callback ran; returns after closing the
 * stream and letting the losers go. */
static void connect_run(eddy_loop *loop, eddy_resolver *r, const char *host,
                        int port, const eddy_tcp_connect_options *o,
                        conn_result *res)
{
    memset(res, 0, sizeof *res);
    assert_int_equal(eddy_tcp_connect(loop, r, host, (uint16_t)port, o,
                                      on_connected, res, NULL),
                     0);
    assert_int_equal(res->calls, 0);
    assert_true(tu_run_until_count(loop, &res->calls, 1, RUN_ITER, RUN_MS));
}

static void settle_loop(eddy_loop *loop)
{
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
}

static void loop_empty_close(eddy_loop *loop)
{
    eddy_loop_stats st;

    settle_loop(loop);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.handlers, 0);
    assert_int_equal(st.timers, 0);
    eddy_loop_close(loop, 0);
}

/* localhost reaches a server that listens on one family only, either. */
static void test_connect_localhost_either_family(void **state)
{
    const char *addrs[] = {"127.0.0.1", "::1"};
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count();

    (void)state;
    for (int k = 0; k < 2; k++) {
        int lfd = listen_on(addrs[k], 0, 0), afd;
        conn_result res;

        if (lfd < 0 && k == 1)
            skip(); /* no IPv6 here */
        assert_true(lfd >= 0);
        connect_run(loop, r, "localhost", eddy_socket_port(lfd), NULL, &res);
        assert_int_equal(res.status, 0);
        assert_int_equal(peer_family(res.s), k ? AF_INET6 : AF_INET);
        assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
        assert_int_equal(eddy_stream_write(res.s, "x", 1, NULL, NULL), 0);
        settle_loop(loop);
        assert_int_equal(recv(afd, &(char){0}, 1, 0), 1);
        eddy_stream_close(res.s);
        close(afd);
        close(lfd);
        settle_loop(loop);
    }
    eddy_resolver_free(r);
    loop_empty_close(loop);
    assert_true(threads_back_to(threads));
}

/* Happy Eyeballs: ::1 does not answer (its backlog is full), so 127.0.0.1
 * is tried beside it after the attempt delay, and wins; the IPv6 attempt
 * is closed. */
static void test_connect_happy_eyeballs(void **state)
{
    eddy_tcp_connect_options o = {.attempt_delay_ms = 100};
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count(), v6 = -1, v4 = -1, filler = -1, port = 0;
    conn_result res;
    uint64_t t0;

    (void)state;
    if (!have_ipv6())
        skip();
    for (int i = 0; i < 20 && v4 < 0; i++) {
        if (v6 >= 0)
            close(v6);
        assert_true((v6 = listen_raw("::1", 0, 0)) >= 0);
        port = eddy_socket_port(v6);
        v4 = listen_on("127.0.0.1", port, 16);
    }
    assert_true(v4 >= 0);
    /* Backlog 0 holds one connection; the next SYN gets no answer. */
    filler = fill_backlog(v6);
    t0 = tu_now_ms();
    connect_run(loop, r, "localhost", port, &o, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(peer_family(res.s), AF_INET);
    assert_true(res.at - t0 >= 100); /* IPv6 had its head start */
    eddy_stream_close(res.s);
    settle_loop(loop); /* the IPv6 attempt closes too (fd teardown) */
    close(filler);
    close(v6);
    close(v4);
    eddy_resolver_free(r);
    loop_empty_close(loop);
    assert_true(threads_back_to(threads));
}

/* Nobody listens: the first address's error, once every one failed. */
static void test_connect_refused(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count(), lfd = listen_on("127.0.0.1", 0, 0), port;
    conn_result res;

    (void)state;
    port = eddy_socket_port(lfd);
    close(lfd);
    connect_run(loop, r, "localhost", port, NULL, &res);
    /* ::1 first, when this host has IPv6: its error is the one told. */
    if (have_ipv6())
        assert_int_equal(res.status, -ECONNREFUSED);
    else
        assert_true(res.status < 0);
    connect_run(loop, NULL, "127.0.0.1", port, NULL, &res);
    assert_int_equal(res.status, -ECONNREFUSED);
    eddy_resolver_free(r);
    loop_empty_close(loop);
    assert_true(threads_back_to(threads));
}

/* timeout_ms ends a connect that gets no answer. */
static void test_connect_timeout(void **state)
{
    eddy_tcp_connect_options o = {.timeout_ms = 100};
    eddy_loop *loop = tu_loop_new();
    int lfd = listen_raw("127.0.0.1", 0, 0), filler = fill_backlog(lfd);
    conn_result res;

    (void)state;
    connect_run(loop, NULL, "127.0.0.1", eddy_socket_port(lfd), &o, &res);
    assert_int_equal(res.status, -ETIMEDOUT);
    close(filler);
    close(lfd);
    loop_empty_close(loop);
}

static void test_connect_invalid_name(void **state)
{
    eddy_tcp_connect_options o = {.timeout_ms = 10000};
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count();
    conn_result res;
    uint64_t t0 = tu_now_ms();

    (void)state;
    connect_run(loop, r, "nonexistent.invalid", 80, &o, &res);
    assert_int_equal(res.status, EDDY_ENOTFOUND);
    assert_true(tu_now_ms() - t0 < 3000);
    eddy_resolver_free(r);
    loop_empty_close(loop);
    assert_true(threads_back_to(threads));
}

static void test_connect_errors(void **state)
{
    eddy_tcp_connect_options bad_family = {.family = AF_UNIX};
    eddy_tcp_connect_options bad_source = {.source_address = "localhost"};
    eddy_tcp_connect_options mismatch = {.family = AF_INET6,
                                         .source_address = "127.0.0.1"};
    eddy_loop *loop = tu_loop_new();
    conn_result res = {0};
    int lfd = listen_on("127.0.0.1", 0, 4), afd;

    (void)state;
    assert_int_equal(
        eddy_tcp_connect(loop, NULL, NULL, 80, NULL, on_connected, &res, NULL),
        -EINVAL);
    assert_int_equal(
        eddy_tcp_connect(loop, NULL, "127.0.0.1", 80, NULL, NULL, &res, NULL),
        -EINVAL);
    assert_int_equal(eddy_tcp_connect(loop, NULL, "localhost", 80, NULL,
                                      on_connected, &res, NULL),
                     -EINVAL);
    assert_int_equal(eddy_tcp_connect(loop, NULL, "127.0.0.1", 80, &bad_family,
                                      on_connected, &res, NULL),
                     -EINVAL);
    assert_int_equal(eddy_tcp_connect(loop, NULL, "127.0.0.1", 80, &bad_source,
                                      on_connected, &res, NULL),
                     -EINVAL);
    assert_int_equal(eddy_tcp_connect(loop, NULL, "::1", 80, &mismatch,
                                      on_connected, &res, NULL),
                     -EINVAL);
    settle_loop(loop);
    assert_int_equal(res.calls, 0);
    /* Then a right one works. */
    connect_run(loop, NULL, "127.0.0.1", eddy_socket_port(lfd), NULL, &res);
    assert_int_equal(res.status, 0);
    assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
    eddy_stream_close(res.s);
    close(afd);
    close(lfd);
    loop_empty_close(loop);
}

/* A source address is bound before connecting; one that is not ours
 * fails the connect with bind's error. */
static void test_connect_source_address(void **state)
{
    eddy_tcp_connect_options o = {.source_address = "127.0.0.1"};
    eddy_tcp_connect_options foreign = {.source_address = "192.0.2.1"};
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count(), lfd = listen_on("127.0.0.1", 0, 4), afd;
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    conn_result res;

    (void)state;
    connect_run(loop, r, "localhost", eddy_socket_port(lfd), &o, &res);
    assert_int_equal(res.status, 0); /* IPv4 only: ::1 was never tried */
    assert_true((afd = accept(lfd, (struct sockaddr *)&peer, &len)) >= 0);
    assert_int_equal(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
    eddy_stream_close(res.s);
    close(afd);
    connect_run(loop, r, "localhost", eddy_socket_port(lfd), &foreign, &res);
    assert_int_equal(res.status, -EADDRNOTAVAIL);
    close(lfd);
    eddy_resolver_free(r);
    loop_empty_close(loop);
    assert_true(threads_back_to(threads));
}

/* Cancelled while resolving or while connecting: no callback, nothing
 * left behind. */
static void test_connect_cancel(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_resolver *r = resolver_new(loop, 0);
    int threads = thread_count(), lfd = listen_raw("127.0.0.1", 0, 0), filler;
    eddy_tcp_connector *c;
    conn_result res = {0};

    (void)state;
    assert_int_equal(eddy_tcp_connect(loop, r, "localhost", 80, NULL,
                                      on_connected, &res, &c),
                     0);
    eddy_tcp_connect_cancel(c); /* during the lookup */
    filler = fill_backlog(lfd);
    assert_int_equal(eddy_tcp_connect(loop, NULL, "127.0.0.1",
                                      (uint16_t)eddy_socket_port(lfd), NULL,
                                      on_connected, &res, &c),
                     0);
    for (int i = 0; i < 5; i++) /* the attempt is in flight */
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    eddy_tcp_connect_cancel(c);
    settle_loop(loop);
    assert_int_equal(res.calls, 0);
    close(filler);
    close(lfd);
    eddy_resolver_free(r);
    loop_empty_close(loop);
    assert_true(threads_back_to(threads));
}

/* --- the examples -------------------------------------------------------- */

/* Starts an example on a free port of 127.0.0.1 with a soft fd limit
 * (0: inherited), its stderr into err_fd, and waits until it accepts. */
static pid_t start_server(const char *path, const char *const *extra,
                          long nofile, int err_fd, int *port)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        char portstr[8];
        char *argv[16] = {(char *)path, "--port", portstr, "--address",
                          "127.0.0.1"};
        uint64_t end = tu_now_ms() + RUN_MS;
        int argc = 5, status, fd;
        pid_t pid;

        for (int i = 0; extra != NULL && extra[i] != NULL; i++)
            argv[argc++] = (char *)extra[i];
        argv[argc] = NULL;
        *port = free_port();
        snprintf(portstr, sizeof portstr, "%d", *port);
        pid = spawn_limited(argv, nofile, err_fd);
        while (tu_now_ms() < end) {
            if ((fd = tcp_connect(*port)) >= 0) {
                close(fd);
                return pid;
            }
            if (waitpid(pid, &status, WNOHANG) == pid)
                break;
            poll(NULL, 0, 5);
        }
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    fail_msg("%s did not start", path);
    return -1;
}

static int stop_server(pid_t pid)
{
    int status;

    assert_int_equal(kill(pid, SIGTERM), 0);
    status = tu_wait_exit(pid, RUN_MS);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the server ignored SIGTERM");
    }
    return status;
}

/* Reads what the child wrote to its stderr pipe (it has exited). */
static void read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
}

/* Issue 9 item 6: echo under 16 fds with 30 clients serves them all, in
 * turn, without waking up for the backlog it cannot take. */
static void test_echo_example_emfile(void **state)
{
    const char *extra[] = {"--stats", NULL};
    char path[4096], err[512], want[32], buf[32];
    int p[2], port, fds[30], served = 0, status;
    unsigned long long iters = 0;
    uint64_t end;
    pid_t pid;

    (void)state;
    if (example("echo", path, sizeof path) == NULL)
        skip();
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = start_server(path, extra, 16, p[1], &port);
    close(p[1]);
    for (int i = 0; i < 30; i++) {
        assert_true((fds[i] = tcp_connect(port)) >= 0);
        snprintf(want, sizeof want, "client %d\n", i);
        assert_int_equal(send(fds[i], want, strlen(want), MSG_NOSIGNAL),
                         (ssize_t)strlen(want));
    }
    /* A window in which the backlog holds clients the server has no fd
     * for: a server that woke for them would spin through all of it. */
    poll(NULL, 0, 300);
    /* Each client that got its line back goes, which lets another in. */
    end = tu_now_ms() + 20000;
    while (served < 30 && tu_now_ms() < end) {
        struct pollfd pf[30];
        int idx[30], m = 0;

        for (int i = 0; i < 30; i++)
            if (fds[i] >= 0) {
                pf[m].fd = fds[i];
                pf[m].events = POLLIN;
                idx[m++] = i;
            }
        if (poll(pf, (nfds_t)m, 100) <= 0)
            continue;
        for (int k = 0; k < m; k++) {
            int i = idx[k];
            ssize_t n;

            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            snprintf(want, sizeof want, "client %d\n", i);
            n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
            assert_int_equal(n, (ssize_t)strlen(want));
            assert_memory_equal(buf, want, (size_t)n);
            close(fds[i]);
            fds[i] = -1;
            served++;
        }
    }
    assert_int_equal(served, 30);
    status = stop_server(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    read_all(p[0], err, sizeof err);
    close(p[0]);
    assert_non_null(strstr(err, "iterations="));
    iters = strtoull(strstr(err, "iterations=") + 11, NULL, 10);
    /* About two per client, plus the retries: a spin makes 100,000s. */
    printf("   echo under 16 fds: 30 clients served in %llu iterations\n",
           iters);
    assert_true(iters > 0 && iters < 1000);
}

/* --- chat: one client never reads, two read, one sends 20,000 lines ------ */

#define CHAT_LINES 20000
#define CHAT_LINE_LEN 256

typedef struct chat_reader {
    int fd;
    char buf[CHAT_LINE_LEN * 8];
    size_t len;
    int lines; /* whole lines checked */
    int bad;
} chat_reader;

static void chat_line(int i, char *out)
{
    int n = snprintf(out, CHAT_LINE_LEN, "line %06d ", i);

    memset(out + n, 'a' + i % 26, (size_t)(CHAT_LINE_LEN - 1 - n));
    out[CHAT_LINE_LEN - 1] = '\n';
}

/* Takes what fd has and checks each whole line against the next due. */
static void chat_read(chat_reader *r)
{
    char want[CHAT_LINE_LEN];
    ssize_t n =
        recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, MSG_DONTWAIT);
    size_t off = 0;

    if (n <= 0)
        return;
    r->len += (size_t)n;
    while (r->len - off >= CHAT_LINE_LEN) {
        chat_line(r->lines, want);
        if (memcmp(r->buf + off, want, CHAT_LINE_LEN) != 0)
            r->bad++;
        r->lines++;
        off += CHAT_LINE_LEN;
    }
    memmove(r->buf, r->buf + off, r->len - off);
    r->len -= off;
}

static long vm_kib(pid_t pid, const char *field)
{
    char p[64], line[256];
    long v = -1;
    FILE *f;

    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    if ((f = fopen(p, "re")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            v = strtol(line + strlen(field), NULL, 10);
    fclose(f);
    return v;
}

static void test_chat_example(void **state)
{
    const char *extra[] = {"--high",  "65536",      "--low", "16384", "--limit",
                           "1048576", "--stall-ms", "1000",  NULL};
    char path[4096], err[1024], line[CHAT_LINE_LEN];
    chat_reader rd[2];
    int p[2], port, stuck, sender, sent = 0, status;
    size_t off = 0;
    uint64_t t0, end;
    long hwm;
    pid_t pid;

    (void)state;
    if (example("chat", path, sizeof path) == NULL)
        skip();
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = start_server(path, extra, 0, p[1], &port);
    close(p[1]);
    assert_true((stuck = tcp_connect(port)) >= 0);
    memset(rd, 0, sizeof rd);
    for (int i = 0; i < 2; i++)
        assert_true((rd[i].fd = tcp_connect(port)) >= 0);
    assert_true((sender = tcp_connect(port)) >= 0);
    tu_nonblock(sender);
    /* The backlog is FIFO: the clients that connected before the sender
     * are in when its first line is. */
    t0 = tu_now_ms();
    end = t0 + 60000;
    chat_line(0, line);
    while ((rd[0].lines < CHAT_LINES || rd[1].lines < CHAT_LINES) &&
           tu_now_ms() < end) {
        struct pollfd pf[3] = {{rd[0].fd, POLLIN, 0},
                               {rd[1].fd, POLLIN, 0},
                               {sender, sent < CHAT_LINES ? POLLOUT : 0, 0}};

        if (poll(pf, 3, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++)
            if (pf[i].revents & POLLIN)
                chat_read(&rd[i]);
        while ((pf[2].revents & POLLOUT) && sent < CHAT_LINES) {
            ssize_t n =
                send(sender, line + off, CHAT_LINE_LEN - off, MSG_NOSIGNAL);

            if (n < 0)
                break;
            off += (size_t)n;
            if (off == CHAT_LINE_LEN) {
                off = 0;
                if (++sent < CHAT_LINES)
                    chat_line(sent, line);
            }
        }
    }
    hwm = vm_kib(pid, "VmHWM:");
    printf("   chat: %d lines of %d bytes to 2 readers in %llu ms, %d and %d "
           "arrived in order (%d wrong); server peak RSS %ld KiB\n",
           CHAT_LINES, CHAT_LINE_LEN, (unsigned long long)(tu_now_ms() - t0),
           rd[0].lines, rd[1].lines, rd[0].bad + rd[1].bad, hwm);
    assert_int_equal(rd[0].lines, CHAT_LINES);
    assert_int_equal(rd[1].lines, CHAT_LINES);
    assert_int_equal(rd[0].bad + rd[1].bad, 0);
    /* 5 MiB went through; the server held a fraction of it (under ASan
     * its RSS is the sanitizer's: the queue's peak below says it). */
#ifndef TU_ASAN
    assert_true(hwm > 0 && hwm < 16 * 1024);
#endif
    /* The stuck client was dropped: after what its buffers took, EOF. */
    {
        char tmp[65536];
        size_t total = 0;
        ssize_t n;
        uint64_t until = tu_now_ms() + RUN_MS;

        while (tu_now_ms() < until) {
            struct pollfd pf = {stuck, POLLIN, 0};

            if (poll(&pf, 1, 100) <= 0)
                continue;
            if ((n = recv(stuck, tmp, sizeof tmp, 0)) <= 0)
                break;
            total += (size_t)n;
        }
        printf("   chat: the stuck client was dropped after %zu bytes\n",
               total);
        assert_true(total < (size_t)CHAT_LINES * CHAT_LINE_LEN);
    }
    status = stop_server(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    read_all(p[0], err, sizeof err);
    close(p[0]);
    assert_non_null(strstr(err, "dropped a client that read nothing"));
    assert_non_null(strstr(err, "relayed 20000 lines, dropped 1 clients"));
    {
        const char *q = strstr(err, "at most ");
        unsigned long long peak;

        assert_non_null(q);
        peak = strtoull(q + 8, NULL, 10);
        printf("   chat: at most %llu bytes queued at once (high watermark "
               "65536 per client)\n",
               peak);
        /* Each client's queue stops near the high watermark. */
        assert_true(peak < 4 * (65536 + CHAT_LINE_LEN));
    }
    close(stuck);
    close(sender);
    close(rd[0].fd);
    close(rd[1].fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_server_new_errors),
        tu_test(test_server_accepts),
        tu_test(test_server_listen_errors),
        tu_test(test_server_add_sockets_errors),
        tu_test(test_server_unix_socket),
        tu_test(test_server_max_connections),
        tu_test(test_server_emfile_no_spin),
        tu_test(test_server_fd_past_setsize),
        tu_test(test_server_stop),
        tu_test(test_server_stop_inside_callback),
        tu_test(test_server_free_inside_callback),
        tu_test(test_server_free_with_connections),
        tu_test(test_server_shutdown_waits),
        tu_test(test_server_shutdown_deadline),
        tu_test(test_server_shutdown_idle),
        tu_test(test_server_free_cancels_done),
        tu_test(test_resolver_localhost),
        tu_test(test_resolver_numeric),
        tu_test(test_resolver_invalid),
        tu_test(test_resolver_errors),
        tu_test(test_resolver_no_thread),
        tu_test(test_resolver_cancel),
        tu_test(test_resolver_thousand_lookups),
        tu_test(test_resolver_idle_threads_exit),
        tu_test(test_resolver_free_pending),
        tu_test(test_resolver_free_inside_callback),
        tu_test(test_connect_localhost_either_family),
        tu_test(test_connect_happy_eyeballs),
        tu_test(test_connect_refused),
        tu_test(test_connect_timeout),
        tu_test(test_connect_invalid_name),
        tu_test(test_connect_errors),
        tu_test(test_connect_source_address),
        tu_test(test_connect_cancel),
        tu_test(test_echo_example_emfile),
        tu_test(test_chat_example),
    };

    signal(SIGPIPE, SIG_IGN);
#ifdef EDDY_LIBKQUEUE
    /* libkqueue's threads end with the last kqueue and start again with the
     * next (docs/porting.md, point 10): a loop held open keeps the count. */
    static eddy_loop *held;
    if (eddy_loop_new(&held) != 0)
        return 1;
#endif
    if (getenv("TU_FILTER") != NULL) /* e.g. TU_FILTER='test_resolver_*' */
        cmocka_set_test_filter(getenv("TU_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
