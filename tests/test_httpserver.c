/*
 * tests/test_httpserver.c - the HTTP server over real loopback sockets:
 * keep-alive, pipelining, HEAD, 100-continue, chunked bodies both ways,
 * asynchronous handlers and clients that leave, routing, the request and
 * response APIs, every limit and timeout, bad input and smuggling
 * attempts, graceful shutdown, EMFILE, the listening-socket helpers, and
 * examples/hello run as a child process (one process and pre-forked).
 *
 * The server runs in this process on an eddy loop, listening on
 * 127.0.0.1 port 0.  Clients are non-blocking sockets watched by the same
 * loop, so one thread drives both ends and every wait is a bounded run of
 * that loop (RUN_MS, RUN_ITER).  A client parses what it receives strictly
 * (CRLF only, exact framing), so a stray byte shows up as a failure.
 *
 * Where a test proves that something does NOT happen (a request waiting at
 * max_connections, an EMFILE server not spinning) it runs the loop for a
 * fixed short period and looks; nothing sleeps to synchronise.  Child
 * processes are waited for by PID, polled every few milliseconds (an exit
 * offers no fd), bounded, with SIGKILL as the last resort.
 *
 * Every test frees its server and closes its loop, and tu_fd_teardown
 * fails a test that leaves an fd open; valgrind and ASan catch the rest.
 * Under valgrind (EDDY_VALGRIND) bodies and byte-at-a-time runs shrink;
 * timing bounds only widen.
 *
 * The strict response parser and the helpers that run examples as child
 * processes live in httputil.h, shared with test_attacks.c.
 *
 * This file defines socket() over the system call, so that one test can
 * play a host without IPv6 (see no_ipv6).
 */
#include "testutil.h"

#include "httputil.h"
#include "rawclient.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#define RUN_MS 5000     /* the bound on any one wait */
#define RUN_ITER 200000 /* and on its loop iterations */

/* --- the server under test ------------------------------------------------ */

typedef struct tsrv {
    eddy_loop *loop;
    eddy_http_server *srv;
    int port;
    int done_calls; /* shutdown's done callback */
} tsrv;

static void srv_start(tsrv *t, const eddy_http_options *opts)
{
    memset(t, 0, sizeof *t);
    t->loop = tu_loop_new();
    assert_int_equal(eddy_http_server_new(t->loop, opts, &t->srv), 0);
    t->port = hu_listen(t->srv);
    assert_ptr_equal(eddy_http_server_loop(t->srv), t->loop);
}

static void srv_route(tsrv *t, const char *method, const char *path,
                      unsigned flags, eddy_http_handler h, void *arg)
{
    assert_int_equal(eddy_http_server_route(t->srv, method, path, flags, h, arg),
                     0);
}

/* Frees the server (if the test has not), lets the closing streams finish,
 * and checks that the loop holds nothing before closing it. */
static void srv_finish(tsrv *t)
{
    hu_finish(t->loop, t->srv);
    t->srv = NULL;
    t->loop = NULL;
}

static void on_done(eddy_http_server *srv, void *arg)
{
    tsrv *t = arg;

    assert_ptr_equal(srv, t->srv);
    t->done_calls++;
}

static eddy_http_stats srv_stats(tsrv *t)
{
    return hu_stats(t->srv);
}

/* Waits until the server has closed every connection (its close
 * callbacks run an iteration after the client may have seen the EOF). */
static void wait_no_connections(tsrv *t)
{
    assert_true(
        tu_run_until(t->loop, hu_no_connections, t->srv, RUN_ITER, RUN_MS));
}

/* --- clients ---------------------------------------------------------------- */

/* A raw client (rawclient.h) of t. */
static void cl_open(tsrv *t, client *c)
{
    cl_connect(c, t->loop, t->port);
}

/* Closes with a reset (SO_LINGER 0): a client that is gone for certain,
 * where a close sends a FIN that may be a half-close. */
static void cl_reset(client *c)
{
    struct linger lg = {1, 0};

    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg),
                     0);
    cl_close(c);
}

/* Sends s a byte at a time, running the loop after each byte until the
 * server has read it, so that every byte is a read of its own. */
static void cl_send_bytewise(tsrv *t, client *c, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t in = srv_stats(t).bytes_in, end = tu_now_ms() + RUN_MS;

        assert_int_equal(cl_sendn(c, s + i, 1), 0);
        while (srv_stats(t).bytes_in == in) {
            assert_true(tu_now_ms() < end);
            assert_int_equal(eddy_loop_run_once(c->loop, 10), 0);
        }
    }
}

static int cl_response(client *c, resp *r)
{
    return cl_response_as(c, r, 0);
}

/* Waits for a response and checks its status and body. */
static void cl_expect(client *c, int status, const char *body)
{
    resp r = {0};

    assert_true(cl_response(c, &r));
    assert_int_equal(r.status, status);
    if (body != NULL)
        assert_string_equal(r.body, body);
    resp_free(&r);
}

/* Waits for the close and checks that nothing followed the responses. */
static void cl_expect_closed(client *c)
{
    cl_wait_eof(c);
    if (c->len != c->off)
        fail_msg("unexpected bytes after the last response: [%.*s]",
                 (int)(c->len - c->off), cl_rest(c));
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

/* Runs the loop for ms: for tests that show something does not happen. */
static void run_for(tsrv *t, uint64_t ms)
{
    tu_run_until(t->loop, never, NULL, RUN_ITER, ms);
}

static int str_is(eddy_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void copy_str(char *dst, size_t cap, eddy_str s)
{
    snprintf(dst, cap, "%.*s", (int)s.len, s.p);
}

/* --- handlers ---------------------------------------------------------------- */

/* What a handler saw of one request. */
typedef struct rec {
    char method[16], uri[512], path[512], query[256], ip[64], scheme[8];
    char body[2048];
    size_t body_len, nheaders;
    int version;
} rec;

/* A handler's context: counters and the requests it keeps. */
typedef struct hctx {
    tsrv *t;
    int calls, closes, pieces, dones, errors;
    int hold;                      /* keep requests instead of answering */
    rec r[8];
    eddy_http_request *held[16];
    int nheld;
    char order[64];                /* finish order, a letter per request */
    char sbody[4096];              /* a streamed body, as pieces came */
    size_t sbody_len;
    int body_status;               /* the status of the last body call */
    int read_rc;                   /* eddy_http_read_body's result */
    int finish_rc;
    int early;                     /* a 100 Continue came too early */
    client *peer;                  /* the client, for checks from handlers */
    eddy_timer_id timer;
} hctx;

static void record(hctx *x, eddy_http_request *req)
{
    rec *r = &x->r[x->calls % 8];
    eddy_str b = eddy_http_body(req);

    x->calls++;
    memset(r, 0, sizeof *r);
    copy_str(r->method, sizeof r->method, eddy_http_method(req));
    copy_str(r->uri, sizeof r->uri, eddy_http_uri(req));
    copy_str(r->path, sizeof r->path, eddy_http_path(req));
    copy_str(r->query, sizeof r->query, eddy_http_query(req));
    snprintf(r->ip, sizeof r->ip, "%s", eddy_http_remote_ip(req));
    snprintf(r->scheme, sizeof r->scheme, "%s", eddy_http_scheme(req));
    assert_true(b.len < sizeof r->body);
    memcpy(r->body, b.p, b.len);
    r->body_len = b.len;
    r->version = eddy_http_version(req);
    eddy_http_headers(req, &r->nheaders);
}

/* Records the request, then answers "ok <path>" (or keeps it: hold). */
static void h_rec(eddy_http_request *req, void *arg)
{
    hctx *x = arg;
    char body[600];
    eddy_str p = eddy_http_path(req);
    int n;

    record(x, req);
    if (x->hold) {
        assert_true(x->nheld < 16);
        x->held[x->nheld++] = req;
        return;
    }
    n = snprintf(body, sizeof body, "ok %.*s", (int)p.len, p.p);
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, body, (size_t)n), 0);
}

/* Answers with the body it was sent. */
static void h_echo(eddy_http_request *req, void *arg)
{
    eddy_str b = eddy_http_body(req);

    record(arg, req);
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, b.p, b.len), 0);
}

/* The same for bodies too large to record. */
static void h_echo_big(eddy_http_request *req, void *arg)
{
    eddy_str b = eddy_http_body(req);

    ((hctx *)arg)->calls++;
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, b.p, b.len), 0);
}

static void on_req_close(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    assert_non_null(req);
    x->closes++;
}

/* Waits until the handler holds n requests. */
static void wait_held(tsrv *t, hctx *x, int n)
{
    tu_at_least a = {&x->nheld, n};

    assert_true(tu_run_until(t->loop, tu_at_least_cond, &a, RUN_ITER, RUN_MS));
}

#define REQ(path) "GET " path " HTTP/1.1\r\nHost: test\r\n\r\n"

/* --- unit level: reasons, processes, listening sockets ---------------------- */

static void test_reason(void **state)
{
    (void)state;
    assert_string_equal(eddy_http_reason(100), "Continue");
    assert_string_equal(eddy_http_reason(200), "OK");
    assert_string_equal(eddy_http_reason(204), "No Content");
    assert_string_equal(eddy_http_reason(404), "Not Found");
    assert_string_equal(eddy_http_reason(405), "Method Not Allowed");
    assert_string_equal(eddy_http_reason(413), "Content Too Large");
    assert_string_equal(eddy_http_reason(414), "URI Too Long");
    assert_string_equal(eddy_http_reason(431),
                        "Request Header Fields Too Large");
    assert_string_equal(eddy_http_reason(505), "HTTP Version Not Supported");
    /* The codes eddy's own answers use (static files: 412, 416). */
    assert_string_equal(eddy_http_reason(412), "Precondition Failed");
    assert_string_equal(eddy_http_reason(416), "Range Not Satisfiable");
    assert_string_equal(eddy_http_reason(410), "Gone");
    assert_string_equal(eddy_http_reason(422), "Unprocessable Content");
    assert_string_equal(eddy_http_reason(451), "Unavailable For Legal Reasons");
    assert_string_equal(eddy_http_reason(599), "Unknown");
    assert_string_equal(eddy_http_reason(299), "Unknown");
    assert_string_equal(eddy_http_reason(-1), "Unknown");
    assert_string_equal(eddy_http_reason(1000), "Unknown");
}

static void test_cpu_count_and_task_id(void **state)
{
    int task = 42;

    (void)state;
    assert_true(eddy_cpu_count() >= 1);
    assert_int_equal(eddy_task_id(), -1);
    assert_int_equal(eddy_fork_processes(-1, 0, &task), -EINVAL);
    assert_int_equal(eddy_fork_processes(1, -1, &task), -EINVAL);
    assert_int_equal(eddy_fork_processes(1, 0, NULL), -EINVAL);
    assert_int_equal(task, 42);
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;

    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* Everything bind_sockets promises about one socket. */
static void check_listener(int fd, int family, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(ss.ss_family, family);
    assert_int_equal(eddy_socket_port(fd), port);
    assert_int_not_equal(sockopt(fd, SOL_SOCKET, SO_REUSEADDR), 0);
    assert_int_not_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    if (family == AF_INET6)
        assert_int_not_equal(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
}

static void test_bind_ipv4(void **state)
{
    int fds[4], fd, port;
    size_t n = 99;

    (void)state;
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 16, 0, fds, 4, &n), 0);
    assert_int_equal(n, 1);
    port = eddy_socket_port(fds[0]);
    assert_true(port > 0 && port < 65536);
    check_listener(fds[0], AF_INET, port);
    assert_int_equal(sockopt(fds[0], SOL_SOCKET, SO_REUSEPORT), 0);
    /* It listens: a connect completes, and accept finds it. */
    fd = tcp_connect(port);
    assert_true(fd >= 0);
    {
        struct pollfd p = {fds[0], POLLIN, 0};
        int a;

        assert_int_equal(poll(&p, 1, RUN_MS), 1);
        a = accept(fds[0], NULL, NULL);
        assert_true(a >= 0);
        close(a);
    }
    close(fd);
    /* The port is taken now: without REUSEPORT a second bind fails, and
     * leaves nothing open behind. */
    n = 99;
    assert_int_equal(
        eddy_bind_sockets(port, "127.0.0.1", AF_INET, 0, 0, fds + 1, 3, &n),
        -EADDRINUSE);
    assert_int_equal(n, 0);
    close(fds[0]);
}

static void test_bind_all_families(void **state)
{
    int fds[8], port;
    size_t n = 0;

    (void)state;
    /* NULL and "" both mean every interface; one socket per family, all
     * on the port the first one got. */
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, fds, 8, &n),
                     0);
    assert_true(n >= 1);
    port = eddy_socket_port(fds[0]);
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;

        assert_int_equal(getsockname(fds[i], (struct sockaddr *)&ss, &len), 0);
        check_listener(fds[i], ss.ss_family, port);
    }
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    assert_int_equal(eddy_bind_sockets(0, "", AF_INET, 0, 0, fds, 1, &n), 0);
    assert_int_equal(n, 1);
    check_listener(fds[0], AF_INET, eddy_socket_port(fds[0]));
    close(fds[0]);
}

static void test_bind_ipv6(void **state)
{
    int fds[2], port, err, c;
    size_t n = 0;
    struct sockaddr_in6 a = {0};

    (void)state;
    err = eddy_bind_sockets(0, "::1", AF_INET6, 0, 0, fds, 2, &n);
    if (err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL) {
        skip(); /* no IPv6 in this sandbox */
        return;
    }
    assert_int_equal(err, 0);
    assert_int_equal(n, 1);
    port = eddy_socket_port(fds[0]);
    assert_true(port > 0);
    check_listener(fds[0], AF_INET6, port);
    c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons((uint16_t)port);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    close(c);
    close(fds[0]);
}

/* A host without IPv6: while no_ipv6 is set, socket(AF_INET6) fails with
 * EAFNOSUPPORT.  This definition takes the place of libc's in the whole
 * test program (libeddy is linked in statically); otherwise it is the
 * plain system call. */
static int no_ipv6;

int socket(int domain, int type, int protocol)
{
    if (no_ipv6 && domain == AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return (int)syscall(SYS_socket, domain, type, protocol);
}

static int ipv6_teardown(void **state)
{
    no_ipv6 = 0;
    return tu_fd_teardown(state);
}

static void test_bind_without_ipv6(void **state)
{
    int fds[4];
    size_t n = 0;

    (void)state;
    no_ipv6 = 1;
    /* Every interface: the IPv4 socket alone, wherever getaddrinfo put
     * IPv6 in its list. */
    assert_int_equal(eddy_bind_sockets(0, NULL, AF_UNSPEC, 0, 0, fds, 4, &n),
                     0);
    assert_int_equal(n, 1);
    check_listener(fds[0], AF_INET, eddy_socket_port(fds[0]));
    close(fds[0]);
    /* IPv6 alone cannot be had. */
    assert_int_equal(eddy_bind_sockets(0, "::1", AF_INET6, 0, 0, fds, 4, &n),
                     -EAFNOSUPPORT);
    assert_int_equal(n, 0);
    no_ipv6 = 0;
}

static void test_bind_reuseport(void **state)
{
    int a, b, port;
    size_t n;

    (void)state;
    assert_int_equal(eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0,
                                       EDDY_BIND_REUSEPORT, &a, 1, &n),
                     0);
    port = eddy_socket_port(a);
    assert_int_not_equal(sockopt(a, SOL_SOCKET, SO_REUSEPORT), 0);
    /* Two listeners on one port: what pre-forked workers binding on their
     * own would do. */
    assert_int_equal(eddy_bind_sockets(port, "127.0.0.1", AF_INET, 0,
                                       EDDY_BIND_REUSEPORT, &b, 1, &n),
                     0);
    assert_int_equal(eddy_socket_port(b), port);
    close(a);
    close(b);
}

static void test_bind_errors(void **state)
{
    int fds[2] = {-1, -1};
    size_t n = 7;

    (void)state;
    assert_int_equal(eddy_bind_sockets(-1, "127.0.0.1", AF_INET, 0, 0, fds, 2,
                                       &n),
                     -EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(eddy_bind_sockets(65536, "127.0.0.1", AF_INET, 0, 0, fds,
                                       2, &n),
                     -EINVAL);
    assert_int_equal(eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, fds, 0,
                                       &n),
                     -EINVAL);
    /* An IPv6 address asked for as IPv4 resolves to nothing. */
    assert_true(eddy_bind_sockets(0, "::1", AF_INET, 0, 0, fds, 2, &n) < 0);
    assert_int_equal(n, 0);
    assert_int_equal(fds[0], -1);
    assert_int_equal(eddy_socket_port(-1), -EBADF);
}

static void test_bind_unix_socket(void **state)
{
    char dir[] = "/tmp/eddy-test-XXXXXX", path[128], longp[200];
    struct stat st;
    int fd = -1, fd2 = -1, c, file;
    struct sockaddr_un sun = {0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sock", dir);
    assert_int_equal(eddy_bind_unix_socket(path, 0600, 0, &fd), 0);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_int_not_equal(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 0);
    assert_int_equal(eddy_socket_port(fd), -EAFNOSUPPORT);
    c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof sun), 0);
    close(c);
    close(fd);

    /* The socket file of a finished run is replaced. */
    assert_int_equal(eddy_bind_unix_socket(path, 0, 0, &fd2), 0);
    c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof sun), 0);
    close(c);
    close(fd2);
    assert_int_equal(unlink(path), 0);

    /* A regular file is never replaced. */
    file = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(file >= 0);
    assert_int_equal(write(file, "keep", 4), 4);
    close(file);
    fd = -1;
    assert_int_equal(eddy_bind_unix_socket(path, 0, 0, &fd), -EEXIST);
    assert_int_equal(fd, -1);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 4);
    assert_int_equal(unlink(path), 0);

    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(eddy_bind_unix_socket(longp, 0, 0, &fd), -EINVAL);
    assert_int_equal(eddy_bind_unix_socket(NULL, 0, 0, &fd), -EINVAL);
    assert_int_equal(rmdir(dir), 0);
}

static void test_listen(void **state)
{
    eddy_loop *loop = tu_loop_new();
    eddy_http_server *srv, *srv2;
    int fd;
    size_t n;

    (void)state;
    assert_int_equal(eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fd, 1,
                                       &n),
                     0);
    assert_int_equal(eddy_http_server_new(loop, NULL, &srv), 0);
    assert_int_equal(eddy_http_server_listen(srv, 0, "127.0.0.1"), 0);
    /* A port in use: the error, and no fd left behind. */
    assert_int_equal(eddy_http_server_new(loop, NULL, &srv2), 0);
    assert_int_equal(
        eddy_http_server_listen(srv2, eddy_socket_port(fd), "127.0.0.1"),
        -EADDRINUSE);
    eddy_http_server_free(srv2);
    eddy_http_server_free(srv);
    eddy_http_server_free(NULL);
    close(fd);
    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_close(loop, 0);
}

static void test_route_errors(void **state)
{
    tsrv t;
    hctx x = {0};

    (void)state;
    srv_start(&t, NULL);
    assert_int_equal(eddy_http_server_route(t.srv, "GET", NULL, 0, h_rec, &x),
                     -EINVAL);
    assert_int_equal(eddy_http_server_route(t.srv, "GET", "/", 0, NULL, &x),
                     -EINVAL);
    assert_int_equal(eddy_http_server_route(t.srv, "GET", "/", 8, h_rec, &x),
                     -EINVAL);
    /* Patterns are copied: the caller's buffer may change afterwards. */
    {
        char path[] = "/copied";
        client c;

        srv_route(&t, "GET", path, 0, h_rec, &x);
        strcpy(path, "/chang");
        cl_open(&t, &c);
        cl_send(&c, REQ("/copied"));
        cl_expect(&c, 200, "ok /copied");
        cl_close(&c);
    }
    srv_finish(&t);
}

/* --- keep-alive and pipelining ----------------------------------------------- */

typedef struct alog {
    int calls, last_status, aborted, last_aborted;
    uint64_t last_bytes;
    char last_path[64];
} alog;

static void access_log(void *arg, const eddy_http_request *req, int status,
                       uint64_t bytes, double ms)
{
    alog *a = arg;

    a->calls++;
    a->last_status = status;
    a->last_bytes = bytes;
    a->last_aborted = eddy_http_aborted(req);
    a->aborted += a->last_aborted != 0;
    copy_str(a->last_path, sizeof a->last_path, eddy_http_path(req));
    assert_true(ms >= 0);
}

static void test_keepalive_http11(void **state)
{
    tsrv t;
    hctx x = {0};
    alog a = {0};
    eddy_http_options o = {0};
    client c;
    resp r = {0};
    eddy_http_stats st;

    (void)state;
    o.access_log = access_log;
    o.access_log_arg = &a;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/a", 0, h_rec, &x);
    srv_route(&t, "GET", "/b", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/a"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.reason, "OK");
    assert_string_equal(r.body, "ok /a");
    assert_true(resp_has(&r, "content-length", "5"));
    /* HTTP/1.1 keeps the connection by default and says nothing of it. */
    assert_int_equal(resp_hdr(&r, "connection", NULL, 0), 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.last_status, 200);
    assert_int_equal(a.last_bytes, 5);
    assert_string_equal(a.last_path, "/a");

    cl_send(&c, REQ("/b"));
    cl_expect(&c, 200, "ok /b");
    assert_int_equal(x.calls, 2);
    assert_false(c.eof);
    st = srv_stats(&t);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.connections_total, 1);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.errors, 0);
    assert_true(st.bytes_in == 2 * strlen(REQ("/a")));
    assert_true(st.bytes_out == c.len);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void test_http10_closes_by_default(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &c);
    /* HTTP/1.0 needs no Host; the second request must not be answered. */
    cl_send(&c, "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_true(resp_has(&r, "connection", "close"));
    assert_int_equal(x.r[0].version, 10);
    cl_expect_closed(&c);
    assert_int_equal(x.calls, 1);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void test_http10_keepalive(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &c);
    for (int i = 0; i < 2; i++) {
        cl_send(&c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_true(cl_response(&c, &r));
        assert_int_equal(r.status, 200);
        assert_true(resp_has(&r, "connection", "keep-alive"));
        assert_false(c.eof);
    }
    /* And the last one without it closes. */
    cl_send(&c, "GET / HTTP/1.0\r\n\r\n");
    assert_true(cl_response(&c, &r));
    assert_true(resp_has(&r, "connection", "close"));
    cl_expect_closed(&c);
    assert_int_equal(x.calls, 3);
    assert_int_equal(srv_stats(&t).connections_total, 1);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void test_connection_close_honoured(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", EDDY_ROUTE_PREFIX, h_rec, &x);
    cl_open(&t, &c);
    /* A request pipelined after Connection: close is never answered. */
    cl_send(&c, "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                REQ("/2"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok /1");
    assert_true(resp_has(&r, "connection", "close"));
    cl_expect_closed(&c);
    assert_int_equal(x.calls, 1);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void test_pipelining(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    char want[16];

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    srv_route(&t, NULL, "/", EDDY_ROUTE_PREFIX, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/1") REQ("/2")
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
                "three" REQ("/4") REQ("/5"));
    for (int i = 1; i <= 5; i++) {
        snprintf(want, sizeof want, "ok /%d", i);
        cl_expect(&c, 200, i == 3 ? "three" : want);
    }
    assert_int_equal(x.calls, 5);
    cl_close(&c);
    srv_finish(&t);
}

/* Finishes a request after the delay its path names ("/d/60/a": 60 ms,
 * then "a" goes into the finish order). */
static void on_delayed(eddy_loop *loop, void *arg)
{
    eddy_http_request *req = arg;
    hctx *x = eddy_http_data(req);
    eddy_str p = eddy_http_path(req);
    size_t n = strlen(x->order);

    (void)loop;
    x->order[n] = p.p[p.len - 1];
    x->order[n + 1] = '\0';
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, p.p, p.len), 0);
}

static void h_delayed(eddy_http_request *req, void *arg)
{
    hctx *x = arg;
    eddy_str p = eddy_http_path(req);
    int ms = atoi(p.p + 3);

    record(x, req);
    eddy_http_set_data(req, x);
    assert_ptr_equal(eddy_http_data(req), x);
    if (ms == 0) {
        on_delayed(eddy_http_request_loop(req), req);
        return;
    }
    assert_int_equal(eddy_loop_call_later(eddy_http_request_loop(req),
                                          (uint64_t)ms, on_delayed, req, NULL),
                     0);
}

static void test_pipelining_async_reverse(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/d/", EDDY_ROUTE_PREFIX, h_delayed, &x);
    cl_open(&t, &c);
    /* Each handler would finish before the one ahead of it if they all
     * ran at once; the responses must still go out in request order. */
    cl_send(&c, REQ("/d/80/a") REQ("/d/40/b") REQ("/d/10/c") REQ("/d/0/d"));
    cl_expect(&c, 200, "/d/80/a");
    cl_expect(&c, 200, "/d/40/b");
    cl_expect(&c, 200, "/d/10/c");
    cl_expect(&c, 200, "/d/0/d");
    assert_string_equal(x.order, "abcd");
    assert_int_equal(x.calls, 4);
    cl_close(&c);
    srv_finish(&t);
}

static void test_byte_at_a_time(void **state)
{
    static const char reqs[] =
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"
        "hello world"
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"
        "GET /last?q=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    srv_route(&t, "GET", "/last", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send_bytewise(&t, &c, reqs, sizeof reqs - 1);
    cl_expect(&c, 200, "hello world");
    cl_expect(&c, 200, "abcde");
    cl_expect(&c, 200, "ok /last");
    assert_int_equal(x.calls, 3);
    assert_string_equal(x.r[2].query, "q=1");
    assert_true(srv_stats(&t).bytes_in == sizeof reqs - 1);
    cl_close(&c);
    srv_finish(&t);
}

/* --- HEAD ------------------------------------------------------------------ */

static void h_chunky(eddy_http_request *req, void *arg);

/* A handler that knows HEAD needs no body: it announces the length and
 * writes nothing. */
static void h_head_aware(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    record(x, req);
    assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, 1234),
                     0);
    x->finish_rc = eddy_http_finish(req);
}

static void test_head(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/get", 0, h_rec, &x);
    srv_route(&t, "GET", "/chunky", 0, h_chunky, &x);
    srv_route(&t, "HEAD", "/aware", 0, h_head_aware, &x);
    cl_open(&t, &c);
    /* The GET route answers HEAD: the length of the GET body, no body.
     * The GET pipelined behind it proves no body byte was sent. */
    cl_send(&c, "HEAD /get HTTP/1.1\r\nHost: x\r\n\r\n" REQ("/get"));
    assert_true(cl_response_as(&c, &r, 1));
    assert_int_equal(r.status, 200);
    assert_true(resp_has(&r, "content-length", "7"));
    assert_string_equal(x.r[0].method, "HEAD");
    cl_expect(&c, 200, "ok /get");
    /* An unknown length: the head says chunked, and no chunk follows. */
    cl_send(&c, "HEAD /chunky HTTP/1.1\r\nHost: x\r\n\r\n" REQ("/get"));
    assert_true(cl_response_as(&c, &r, 1));
    assert_int_equal(r.status, 200);
    assert_true(resp_has(&r, "transfer-encoding", "chunked"));
    cl_expect(&c, 200, "ok /get");
    /* The server's own answers to HEAD have no body either. */
    cl_send(&c, "HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n" REQ("/get"));
    assert_true(cl_response_as(&c, &r, 1));
    assert_int_equal(r.status, 404);
    assert_true(resp_has(&r, "content-length", "14"));
    cl_expect(&c, 200, "ok /get");
    /* A HEAD answer that writes no body is complete: the connection
     * stays. */
    cl_send(&c, "HEAD /aware HTTP/1.1\r\nHost: x\r\n\r\n" REQ("/get"));
    assert_true(cl_response_as(&c, &r, 1));
    assert_int_equal(r.status, 200);
    assert_true(resp_has(&r, "content-length", "1234"));
    assert_int_equal(resp_hdr(&r, "connection", NULL, 0), 0);
    assert_int_equal(x.finish_rc, 0);
    cl_expect(&c, 200, "ok /get");
    assert_false(c.eof);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* --- Expect: 100-continue -------------------------------------------------- */

static const char expect_head[] =
    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    "Expect: 100-continue\r\n\r\n";

static void test_expect_continue(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    cl_open(&t, &c);
    cl_send(&c, expect_head);
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 100);
    assert_string_equal(r.reason, "Continue");
    assert_string_equal(r.head, "");
    assert_int_equal(x.calls, 0);
    cl_send(&c, "hello");
    cl_expect(&c, 200, "hello");
    /* A client that sends the body at once gets no 100. */
    cl_send(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\nagain");
    cl_expect(&c, 200, "again");
    /* Nor does an HTTP/1.0 client, which cannot understand it. */
    cl_send(&c, "POST /echo HTTP/1.0\r\nContent-Length: 3\r\n"
                "Expect: 100-continue\r\nConnection: keep-alive\r\n\r\n");
    run_for(&t, 20);
    assert_int_equal(c.len, c.off);
    cl_send(&c, "old");
    cl_expect(&c, 200, "old");
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void test_expect_too_large(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;
    resp r = {0};

    (void)state;
    o.max_body_size = 4;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    srv_route(&t, "POST", "/stream", EDDY_ROUTE_STREAM, h_echo, &x);
    for (int i = 0; i < 2; i++) {
        cl_open(&t, &c);
        cl_send(&c, i == 0 ? expect_head
                           : "POST /stream HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        assert_true(cl_response(&c, &r));
        assert_int_equal(r.status, 413);
        assert_true(resp_has(&r, "connection", "close"));
        cl_expect_closed(&c);
        cl_close(&c);
    }
    assert_int_equal(x.calls, 0);
    resp_free(&r);
    srv_finish(&t);
}

static void on_body_piece(eddy_http_request *req, int status, const char *data,
                          size_t len, int done, void *arg)
{
    hctx *x = arg;

    x->body_status = status;
    if (status < 0) {
        x->errors++;
        return;
    }
    if (!done) {
        assert_true(len > 0);
        assert_true(x->sbody_len + len <= sizeof x->sbody);
        memcpy(x->sbody + x->sbody_len, data, len);
        x->sbody_len += len;
        x->pieces++;
        return;
    }
    assert_int_equal(len, 0);
    x->dones++;
    if (!x->hold)
        assert_int_equal(eddy_http_respond(req, 200, NULL, 0, x->sbody,
                                           x->sbody_len),
                         0);
    else
        x->held[x->nheld++] = req;
}

/* A streaming route's handler: reads the body at once. */
static void h_stream(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    record(x, req);
    assert_int_equal(eddy_http_body(req).len, 0);
    x->read_rc = eddy_http_read_body(req, on_body_piece, x);
    assert_int_equal(eddy_http_read_body(req, on_body_piece, x), -EALREADY);
}

static void on_read_later(eddy_loop *loop, void *arg)
{
    eddy_http_request *req = arg;
    hctx *x = eddy_http_data(req);
    char b;

    (void)loop;
    /* Nothing, in particular no 100, has reached the client yet. */
    if (x->peer->len != 0 ||
        recv(x->peer->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != -1)
        x->early = 1;
    x->read_rc = eddy_http_read_body(req, on_body_piece, x);
}

/* A streaming route's handler that reads the body 30 ms later. */
static void h_stream_later(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    record(x, req);
    eddy_http_set_data(req, x);
    assert_int_equal(eddy_loop_call_later(eddy_http_request_loop(req), 30,
                                          on_read_later, req, NULL),
                     0);
}

/* A streaming route's handler that refuses without reading. */
static void h_stream_refuse(eddy_http_request *req, void *arg)
{
    record(arg, req);
    assert_int_equal(eddy_http_respond(req, 403, NULL, 0, "no", 2), 0);
}

static void test_expect_stream_reads(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_stream_later, &x);
    cl_open(&t, &c);
    x.peer = &c;
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
                "Expect: 100-continue\r\n\r\n");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 100);
    assert_int_equal(x.calls, 1);
    assert_false(x.early);
    assert_int_equal(x.read_rc, 0);
    cl_send(&c, "stream me");
    cl_expect(&c, 200, "stream me");
    assert_int_equal(x.dones, 1);
    /* The connection stays usable. */
    x.sbody_len = 0;
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                "Expect: 100-continue\r\n\r\n");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 100);
    cl_send(&c, "ok");
    cl_expect(&c, 200, "ok");
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void test_expect_stream_refused(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_stream_refuse, &x);
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n");
    /* The final status, no 100, and a close: the body was never read. */
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 403);
    assert_string_equal(r.body, "no");
    assert_true(resp_has(&r, "connection", "close"));
    cl_expect_closed(&c);
    assert_int_equal(x.calls, 1);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* --- chunked, both ways ------------------------------------------------------- */

static void test_chunked_request_body(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    srv_route(&t, "GET", "/next", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
                "5;ext=1\r\nhello\r\n"
                "6;a=b;c=\"q d\"\r\n world\r\n"
                "A\r\n, and more\r\n"
                "0;last\r\nX-Trailer: yes\r\nY: z\r\n\r\n" REQ("/next"));
    cl_expect(&c, 200, "hello world, and more");
    cl_expect(&c, 200, "ok /next");
    assert_int_equal(x.r[0].body_len, 21);
    /* An empty chunked body. */
    cl_send(&c, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    cl_expect(&c, 200, "");
    cl_close(&c);
    srv_finish(&t);
}

static void test_stream_body_pieces(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_stream, &x);
    cl_open(&t, &c);
    /* Chunked, in three writes with the loop run in between. */
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n4;e=1\r\nabcd\r\n");
    run_for(&t, 10);
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.read_rc, 0);
    assert_int_equal(x.pieces, 1);
    cl_send(&c, "3\r\nefg\r\n2\r\nhi");
    run_for(&t, 10);
    cl_send(&c, "\r\n0\r\nTrailer: t\r\n\r\n");
    cl_expect(&c, 200, "abcdefghi");
    assert_true(x.pieces >= 3);
    assert_int_equal(x.dones, 1);
    assert_int_equal(x.errors, 0);
    /* With Content-Length, in two writes. */
    x.sbody_len = 0;
    x.pieces = 0;
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc");
    run_for(&t, 10);
    assert_int_equal(x.pieces, 1);
    cl_send(&c, "def");
    cl_expect(&c, 200, "abcdef");
    assert_int_equal(x.pieces, 2);
    assert_int_equal(x.dones, 2);
    /* No body at all: only the final call. */
    x.sbody_len = 0;
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    cl_expect(&c, 200, "");
    assert_int_equal(x.dones, 3);
    cl_close(&c);
    srv_finish(&t);
}

/* Answers "one two three" in three writes of unknown total length. */
static void h_chunky(eddy_http_request *req, void *arg)
{
    static const eddy_http_header h[] = {EDDY_HEADER("X-Chunky", "yes")};

    record(arg, req);
    assert_int_equal(eddy_http_start_response(req, 200, NULL, h, 1, -1), 0);
    assert_int_equal(eddy_http_write(req, "one ", 4, NULL, NULL), 0);
    assert_int_equal(eddy_http_write(req, "", 0, NULL, NULL), 0);
    assert_int_equal(eddy_http_write(req, "two ", 4, NULL, NULL), 0);
    assert_int_equal(eddy_http_write(req, "three", 5, NULL, NULL), 0);
    assert_int_equal(eddy_http_finish(req), 0);
}

static void test_chunked_response(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/chunky", 0, h_chunky, &x);
    cl_open(&t, &c);
    for (int i = 0; i < 2; i++) {
        cl_send(&c, REQ("/chunky"));
        assert_true(cl_response(&c, &r));
        assert_int_equal(r.status, 200);
        assert_true(r.chunked);
        assert_int_equal(r.chunks, 3);
        assert_string_equal(r.body, "one two three");
        assert_string_equal(r.trailer, "");
        assert_true(resp_has(&r, "x-chunky", "yes"));
        assert_int_equal(resp_hdr(&r, "content-length", NULL, 0), 0);
        assert_int_equal(resp_hdr(&r, "connection", NULL, 0), 0);
    }
    assert_false(c.eof);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void test_close_delimited_http10(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/chunky", 0, h_chunky, &x);
    cl_open(&t, &c);
    /* HTTP/1.0 has no chunked coding: the body ends with the connection,
     * even when the client asked to keep it. */
    cl_send(&c, "GET /chunky HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cl_wait_eof(&c);
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_true(r.close_delimited);
    assert_string_equal(r.body, "one two three");
    assert_true(resp_has(&r, "connection", "close"));
    assert_int_equal(resp_hdr(&r, "transfer-encoding", NULL, 0), 0);
    assert_int_equal(resp_hdr(&r, "content-length", NULL, 0), 0);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* A large body written in pieces, each after the last was handed to the
 * kernel: how a handler paces a body it cannot hold at once. */
#define BIG_PIECE 65536
typedef struct big {
    eddy_http_request *req;
    char piece[BIG_PIECE];
    int left, callbacks;
    int failed, finish_rc, closes; /* when the client leaves halfway */
} big;

static void big_next(eddy_stream *s, int status, void *arg)
{
    big *b = arg;

    (void)s;
    if (status < 0) {
        b->failed = status;
        b->finish_rc = eddy_http_finish(b->req);
        return;
    }
    b->callbacks++;
    if (b->left-- > 0)
        assert_int_equal(eddy_http_write(b->req, b->piece, BIG_PIECE,
                                         big_next, b),
                         0);
    else
        assert_int_equal(eddy_http_finish(b->req), 0);
}

static void h_big(eddy_http_request *req, void *arg)
{
    big *b = arg;

    b->req = req;
    assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, -1), 0);
    big_next(NULL, 0, b);
}

static void test_chunked_response_paced(void **state)
{
    tsrv t;
    big *b = calloc(1, sizeof *b);
    int pieces = tu_valgrind() ? 4 : 16;
    client c;
    resp r = {0};

    (void)state;
    assert_non_null(b);
    for (int i = 0; i < BIG_PIECE; i++)
        b->piece[i] = (char)('a' + i % 26);
    b->left = pieces;
    b->callbacks = -1; /* the first call is the handler's */
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/big", 0, h_big, b);
    cl_open(&t, &c);
    cl_send(&c, REQ("/big"));
    assert_true(cl_response(&c, &r));
    assert_true(r.chunked);
    assert_int_equal(r.body_len, (size_t)pieces * BIG_PIECE);
    assert_int_equal(b->callbacks, pieces);
    for (size_t i = 0; i < r.body_len; i++)
        if (r.body[i] != (char)('a' + i % BIG_PIECE % 26))
            fail_msg("body byte %zu is wrong", i);
    assert_int_equal(b->failed, 0);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
    free(b);
}

static void on_big_close(eddy_http_request *req, void *arg)
{
    (void)req;
    ((big *)arg)->closes++;
}

static void h_big_tell(eddy_http_request *req, void *arg)
{
    eddy_http_on_close(req, on_big_close, arg);
    h_big(req, arg);
}

static int big_failed(void *arg)
{
    return ((big *)arg)->failed != 0;
}

static int got_two_pieces(void *arg)
{
    return ((client *)arg)->len >= 2 * BIG_PIECE;
}

static void test_client_gone_mid_response(void **state)
{
    tsrv t;
    big *b = calloc(1, sizeof *b);
    client c;

    (void)state;
    assert_non_null(b);
    b->left = 1000; /* 64 MB: far more than the sockets hold */
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/big", 0, h_big_tell, b);
    cl_open(&t, &c);
    cl_send(&c, REQ("/big"));
    assert_true(tu_run_until(t.loop, got_two_pieces, &c, RUN_ITER, RUN_MS));
    cl_close(&c);
    /* The write in progress fails, and the handler finishes there: the
     * client is gone, so -EPIPE, and no on_close for a finished request. */
    assert_true(tu_run_until(t.loop, big_failed, b, RUN_ITER, RUN_MS));
    run_for(&t, 10);
    assert_true(b->left > 0);
    assert_int_equal(b->finish_rc, -EPIPE);
    assert_int_equal(b->closes, 0);
    wait_no_connections(&t);
    srv_finish(&t);
    free(b);
}

/* A request pipelined behind a slow one, with a body larger than the
 * socket buffers: the server reads nothing while the first is handled
 * (the client blocks), then takes the body in. */
static void test_large_body_behind_slow_request(void **state)
{
    size_t n = tu_valgrind() ? 256 * 1024 : 4 * 1024 * 1024;
    char *req = malloc(n + 128);
    tsrv t;
    hctx x = {0}, slow = {0};
    eddy_http_options o = {0};
    client c;
    resp r = {0};
    int head;

    (void)state;
    assert_non_null(req);
    o.max_body_size = n;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/d/", EDDY_ROUTE_PREFIX, h_delayed, &slow);
    srv_route(&t, "POST", "/echo", 0, h_echo_big, &x);
    head = snprintf(req, 128, REQ("/d/50/a")
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                    n);
    for (size_t i = 0; i < n; i++)
        req[head + i] = (char)('A' + i % 53 % 26);
    cl_open(&t, &c);
    assert_int_equal(cl_sendn(&c, req, (size_t)head + n), 0);
    cl_expect(&c, 200, "/d/50/a");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, n);
    assert_memory_equal(r.body, req + head, n);
    assert_int_equal(x.calls, 1);
    resp_free(&r);
    free(req);
    cl_close(&c);
    srv_finish(&t);
}

/* Answers with a body far larger than the socket buffers, in one call:
 * when the call returns, most of it is still queued in the stream. */
#define HUGE_BODY (tu_valgrind() ? 8u << 20 : 16u << 20)

static void h_huge(eddy_http_request *req, void *arg)
{
    size_t n = HUGE_BODY;
    char *body = malloc(n);

    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    ((hctx *)arg)->calls++;
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, body, n), 0);
    free(body);
}

/* Waits for the whole huge body. */
static void expect_huge(client *c)
{
    resp r = {0};

    assert_true(cl_response(c, &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, HUGE_BODY);
    for (size_t i = 0; i < r.body_len; i += 4093)
        if (r.body[i] != (char)('a' + i % 26))
            fail_msg("byte %zu is wrong", i);
    resp_free(&r);
}

/* --- asynchronous handlers, clients that leave --------------------------------- */

static void test_async_finish_from_timer(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    uint64_t t0;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/d/", EDDY_ROUTE_PREFIX, h_delayed, &x);
    cl_open(&t, &c);
    t0 = tu_now_ms();
    cl_send(&c, REQ("/d/50/a"));
    cl_expect(&c, 200, "/d/50/a");
    assert_true(tu_now_ms() - t0 >= 45);
    /* The connection goes on after an asynchronous answer. */
    cl_send(&c, REQ("/d/5/b"));
    cl_expect(&c, 200, "/d/5/b");
    cl_close(&c);
    srv_finish(&t);
}

static void h_hold_tell(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    record(x, req);
    eddy_http_on_close(req, on_req_close, x);
    x->held[x->nheld++] = req;
}

static int closes_at_least_one(void *arg)
{
    return ((hctx *)arg)->closes > 0;
}

static void test_client_gone_before_finish(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/hold?q=1"));
    wait_held(&t, &x, 1);
    cl_reset(&c);
    assert_true(tu_run_until(t.loop, closes_at_least_one, &x, RUN_ITER, RUN_MS));
    run_for(&t, 10);
    assert_int_equal(x.closes, 1);
    assert_int_equal(srv_stats(&t).connections, 0);
    /* The request is still valid: it can be read, and answering it fails
     * with -EPIPE and frees it (valgrind checks the freeing). */
    assert_true(str_is(eddy_http_path(x.held[0]), "/hold"));
    assert_true(str_is(eddy_http_query(x.held[0]), "q=1"));
    assert_string_equal(eddy_http_remote_ip(x.held[0]), "127.0.0.1");
    assert_int_equal(eddy_http_read_body(x.held[0], on_body_piece, &x), -EPIPE);
    assert_int_equal(eddy_http_write(x.held[0], "x", 1, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_http_finish(x.held[0]), -EPIPE);
    assert_int_equal(x.closes, 1);

    /* The same through respond(), after start_response() had gone out. */
    x.nheld = 0;
    cl_open(&t, &c);
    cl_send(&c, REQ("/hold"));
    wait_held(&t, &x, 1);
    assert_int_equal(eddy_http_start_response(x.held[0], 200, NULL, NULL, 0,
                                              10),
                     0);
    cl_reset(&c);
    assert_true(tu_run_until(t.loop, tu_at_least_cond,
                             &(tu_at_least){&x.closes, 2}, RUN_ITER, RUN_MS));
    assert_int_equal(eddy_http_write(x.held[0], "0123456789", 10, NULL, NULL),
                     -EPIPE);
    assert_int_equal(eddy_http_finish(x.held[0]), -EPIPE);

    /* And a request the server is freed under: it is told, and freed when
     * its handler finishes it. */
    x.nheld = 0;
    cl_open(&t, &c);
    cl_send(&c, REQ("/hold"));
    wait_held(&t, &x, 1);
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    assert_int_equal(x.closes, 3);
    assert_int_equal(eddy_http_respond(x.held[0], 200, NULL, 0, "late", 4),
                     -EPIPE);
    cl_wait_eof(&c);
    assert_int_equal(c.len, 0);
    cl_close(&c);
    srv_finish(&t);
}

/* Finishes the request from its on_close callback, as sleep_demo does. */
static void on_close_finish(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    x->closes++;
    x->finish_rc = eddy_http_finish(req);
}

static void h_finish_on_close(eddy_http_request *req, void *arg)
{
    record(arg, req);
    eddy_http_on_close(req, on_close_finish, arg);
}

static void test_finish_in_on_close(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_finish_on_close, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/"));
    assert_true(tu_run_until_count(t.loop, &x.calls, 1, RUN_ITER, RUN_MS));
    cl_reset(&c);
    assert_true(tu_run_until(t.loop, closes_at_least_one, &x, RUN_ITER, RUN_MS));
    assert_int_equal(x.finish_rc, -EPIPE);
    run_for(&t, 10);
    assert_int_equal(x.closes, 1);
    srv_finish(&t);
}

/* Body callbacks that finish the request themselves: on the error of a
 * client that left mid-body, or early, refusing the rest of the body. */
static void on_piece_finish(eddy_http_request *req, int status,
                            const char *data, size_t len, int done, void *arg)
{
    hctx *x = arg;

    (void)data;
    (void)len;
    (void)done;
    x->body_status = status;
    if (status < 0) {
        x->errors++;
        x->finish_rc = eddy_http_finish(req);
        return;
    }
    x->pieces++;
    if (x->hold)
        return; /* wait for the error */
    x->finish_rc = eddy_http_respond(req, 413, NULL, 0, "enough", 6);
}

static void h_stream_finish(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    record(x, req);
    eddy_http_on_close(req, on_req_close, x);
    assert_int_equal(eddy_http_read_body(req, on_piece_finish, x), 0);
}

static void test_client_gone_mid_body(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_stream_finish, &x);
    x.hold = 1;
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    assert_true(tu_run_until_count(t.loop, &x.calls, 1, RUN_ITER, RUN_MS));
    cl_send(&c, "part");
    assert_true(tu_run_until_count(t.loop, &x.pieces, 1, RUN_ITER, RUN_MS));
    cl_close(&c);
    /* The body callback hears of it (and finishes the request there);
     * on_close must not run on the freed request. */
    assert_true(tu_run_until_count(t.loop, &x.errors, 1, RUN_ITER, RUN_MS));
    run_for(&t, 10);
    assert_int_equal(x.errors, 1);
    assert_int_equal(x.body_status, -ECONNRESET);
    assert_int_equal(x.finish_rc, -EPIPE);
    assert_true(x.closes <= 1);

    /* A handler that answers from inside a body piece, without reading
     * the rest: the answer goes out, then the connection closes.  (The
     * head cannot say so: when it went out, the handler could still have
     * read the rest of the body before finishing.) */
    x.hold = 0;
    x.pieces = x.errors = x.closes = 0;
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    assert_true(tu_run_until_count(t.loop, &x.calls, 2, RUN_ITER, RUN_MS));
    cl_send(&c, "part");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, "enough");
    cl_expect_closed(&c);
    assert_int_equal(x.pieces, 1);
    assert_int_equal(x.finish_rc, 0);
    assert_int_equal(x.errors, 0);
    assert_int_equal(x.closes, 0);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* --- routing ------------------------------------------------------------------ */

static void test_routing(void **state)
{
    tsrv t;
    hctx exact = {0}, prefix = {0}, get = {0}, post = {0}, any = {0};
    hctx root = {0};
    client c;
    resp r = {0};
    char allow[64];

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/exact", EDDY_ROUTE_EXACT, h_rec, &exact);
    srv_route(&t, "GET", "/static/", EDDY_ROUTE_PREFIX, h_rec, &prefix);
    srv_route(&t, "GET", "/m", 0, h_rec, &get);
    srv_route(&t, "POST", "/m", 0, h_rec, &post);
    srv_route(&t, NULL, "/any", 0, h_rec, &any);
    srv_route(&t, "GET", "/", 0, h_rec, &root);
    cl_open(&t, &c);

    cl_send(&c, REQ("/exact?x=1&y=2"));
    cl_expect(&c, 200, "ok /exact");
    assert_string_equal(exact.r[0].path, "/exact");
    assert_string_equal(exact.r[0].query, "x=1&y=2");
    assert_string_equal(exact.r[0].uri, "/exact?x=1&y=2");
    cl_send(&c, REQ("/exact?"));
    cl_expect(&c, 200, "ok /exact");
    assert_string_equal(exact.r[1].query, "");
    assert_string_equal(exact.r[1].uri, "/exact?");
    cl_send(&c, REQ("/exact/"));
    cl_expect(&c, 404, "404 Not Found\n");
    cl_send(&c, REQ("/exactly"));
    cl_expect(&c, 404, NULL);

    cl_send(&c, REQ("/static/a/b.css?v=3"));
    cl_expect(&c, 200, "ok /static/a/b.css");
    assert_string_equal(prefix.r[0].query, "v=3");
    cl_send(&c, REQ("/static/"));
    cl_expect(&c, 200, "ok /static/");
    cl_send(&c, REQ("/static"));
    cl_expect(&c, 404, NULL);

    cl_send(&c, REQ("/m"));
    cl_expect(&c, 200, "ok /m");
    cl_send(&c, "POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    cl_expect(&c, 200, "ok /m");
    cl_send(&c, "DELETE /m HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body, "405 Method Not Allowed\n");
    assert_int_equal(resp_hdr(&r, "allow", allow, sizeof allow), 1);
    assert_string_equal(allow, "GET, HEAD, POST");
    /* A 405 with a small body: answered, the body dropped, and the
     * connection goes on. */
    cl_send(&c, "PUT /m HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 405);
    assert_true(resp_has(&r, "allow", "GET, HEAD, POST"));
    assert_int_equal(resp_hdr(&r, "connection", NULL, 0), 0);
    cl_send(&c, REQ("/m"));
    cl_expect(&c, 200, "ok /m");
    cl_close(&c);

    cl_open(&t, &c);
    cl_send(&c, "PATCH /any HTTP/1.1\r\nHost: x\r\n\r\n");
    cl_expect(&c, 200, "ok /any");
    assert_string_equal(any.r[0].method, "PATCH");
    cl_send(&c, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    cl_expect(&c, 404, NULL);
    /* The absolute form, which a server must accept (RFC 9112 3.2.2),
     * routes by the path after the authority. */
    cl_send(&c, "GET http://example.com:80/exact?x=1 HTTP/1.1\r\n"
                "Host: example.com\r\n\r\n");
    cl_expect(&c, 200, "ok /exact");
    assert_string_equal(exact.r[2].uri, "http://example.com:80/exact?x=1");
    assert_string_equal(exact.r[2].path, "/exact");
    assert_string_equal(exact.r[2].query, "x=1");
    cl_send(&c, "GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"
                "GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
    cl_expect(&c, 200, "ok /");
    cl_expect(&c, 200, "ok /");
    assert_string_equal(root.r[0].path, "/");
    assert_string_equal(root.r[0].query, "");
    assert_string_equal(root.r[1].path, "/");
    assert_string_equal(root.r[1].query, "q");
    cl_close(&c);

    assert_int_equal(exact.calls, 3);
    assert_int_equal(prefix.calls, 2);
    assert_int_equal(get.calls, 2);
    assert_int_equal(post.calls, 1);
    assert_int_equal(any.calls, 1);
    assert_int_equal(srv_stats(&t).errors, 6);
    resp_free(&r);
    srv_finish(&t);
}

/* --- the request API ---------------------------------------------------------- */

static void h_api(eddy_http_request *req, void *arg)
{
    hctx *x = arg;
    eddy_str v;
    size_t n;
    const eddy_http_header *h = eddy_http_headers(req, &n);

    record(x, req);
    assert_ptr_equal(eddy_http_request_server(req), x->t->srv);
    assert_ptr_equal(eddy_http_request_loop(req), x->t->loop);
    assert_int_equal(n, 5);
    assert_true(n == 5 && h[0].name_len == 4 && memcmp(h[0].name, "Host", 4) == 0);
    assert_true(h[1].name_len == 8 && memcmp(h[1].name, "X-Custom", 8) == 0);
    assert_true(h[1].value_len == 9 && memcmp(h[1].value, "one, two", 8) == 0);
    assert_true(h[2].name_len == 8 && memcmp(h[2].name, "x-custom", 8) == 0);
    assert_true(h[3].value_len == 2 && memcmp(h[3].value, "17", 2) == 0);
    /* Lookup is case-insensitive and gives the first; values are
     * trimmed of surrounding whitespace. */
    assert_int_equal(eddy_http_header_get(req, "x-CUSTOM", &v), 0);
    assert_true(str_is(v, "one, two,"));
    assert_int_equal(eddy_http_header_get(req, "HOST", &v), 0);
    assert_true(str_is(v, "example.com:8080"));
    assert_int_equal(eddy_http_header_get(req, "Empty", &v), 0);
    assert_int_equal(v.len, 0);
    assert_int_equal(eddy_http_header_get(req, "X-Custo", &v), -ENOENT);
    assert_int_equal(eddy_http_header_get(req, "X-Customs", &v), -ENOENT);
    assert_int_equal(eddy_http_header_get(req, NULL, &v), -EINVAL);
    assert_null(eddy_http_data(req));
    eddy_http_set_data(req, x);
    assert_ptr_equal(eddy_http_data(req), x);
    assert_int_equal(eddy_http_respond(req, 201, NULL, 0, NULL, 0), 0);
}

static void test_request_api(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    x.t = &t;
    srv_route(&t, "PUT", "/api/", EDDY_ROUTE_PREFIX, h_api, &x);
    cl_open(&t, &c);
    cl_send(&c, "PUT /api/items/7?sort=asc&q=%20a HTTP/1.1\r\n"
                "Host: example.com:8080\r\n"
                "X-Custom:   one, two,  \r\n"
                "x-custom: three\r\n"
                "Content-Length: 17\r\n"
                "Empty:\r\n"
                "\r\n"
                "{\"body\": \"json\"}\n");
    cl_expect(&c, 201, "");
    assert_int_equal(x.calls, 1);
    assert_string_equal(x.r[0].method, "PUT");
    assert_string_equal(x.r[0].uri, "/api/items/7?sort=asc&q=%20a");
    assert_string_equal(x.r[0].path, "/api/items/7");
    assert_string_equal(x.r[0].query, "sort=asc&q=%20a");
    assert_int_equal(x.r[0].version, 11);
    assert_string_equal(x.r[0].body, "{\"body\": \"json\"}\n");
    assert_int_equal(x.r[0].body_len, 17);
    assert_string_equal(x.r[0].ip, "127.0.0.1");
    assert_string_equal(x.r[0].scheme, "http");
    cl_close(&c);
    srv_finish(&t);
}

/* Sends one request with extra header lines; the handler records the
 * remote IP and scheme it saw (XH_IP, XH_SCHEME). */
static void xh_request(tsrv *t, const char *headers)
{
    client c;
    char req[512];

    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n", headers);
    cl_open(t, &c);
    cl_send(&c, req);
    cl_expect(&c, 200, "ok /");
    cl_close(&c);
}

static void test_remote_ip_ipv6(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    struct sockaddr_in6 a = {0};
    int fd;
    size_t n;

    (void)state;
    memset(&t, 0, sizeof t);
    if (eddy_bind_sockets(0, "::1", AF_INET6, 0, 0, &fd, 1, &n) != 0) {
        skip(); /* no IPv6 in this sandbox */
        return;
    }
    t.loop = tu_loop_new();
    assert_int_equal(eddy_http_server_new(t.loop, NULL, &t.srv), 0);
    assert_int_equal(eddy_http_server_add_sockets(t.srv, &fd, 1), 0);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    memset(&c, 0, sizeof c);
    c.loop = t.loop;
    c.fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c.fd >= 0);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons((uint16_t)eddy_socket_port(fd));
    assert_int_equal(connect(c.fd, (struct sockaddr *)&a, sizeof a), 0);
    tu_nonblock(c.fd);
    cl_resume(&c);
    cl_send(&c, REQ("/"));
    cl_expect(&c, 200, "ok /");
    assert_string_equal(x.r[0].ip, "::1");
    cl_close(&c);
    srv_finish(&t);
}

#define XH_IP(x) ((x)->r[((x)->calls - 1) % 8].ip)
#define XH_SCHEME(x) ((x)->r[((x)->calls - 1) % 8].scheme)

static void test_xheaders_off(void **state)
{
    tsrv t;
    hctx x = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    xh_request(&t, "X-Real-Ip: 10.1.2.3\r\nX-Forwarded-For: 10.9.9.9\r\n"
                       "X-Scheme: https\r\nX-Forwarded-Proto: https\r\n");
    assert_string_equal(XH_IP(&x), "127.0.0.1");
    assert_string_equal(XH_SCHEME(&x), "http");
    srv_finish(&t);
}

static void test_xheaders_on(void **state)
{
    static const char *const trusted[] = {"10.0.0.9", "10.0.0.8", NULL};
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};

    (void)state;
    o.xheaders = 1;
    o.trusted_downstream = trusted;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);

    xh_request(&t, "");
    assert_string_equal(XH_IP(&x), "127.0.0.1");
    assert_string_equal(XH_SCHEME(&x), "http");
    xh_request(&t, "X-Real-Ip: 10.1.2.3\r\n");
    assert_string_equal(XH_IP(&x), "10.1.2.3");
    xh_request(&t, "X-Real-Ip: 2001:db8::1\r\n");
    assert_string_equal(XH_IP(&x), "2001:db8::1");
    /* X-Forwarded-For: the last address no trusted proxy added. */
    xh_request(&t, "X-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n");
    assert_string_equal(XH_IP(&x), "5.6.7.8");
    xh_request(&t, "X-Forwarded-For: 1.2.3.4,5.6.7.8 , 10.0.0.8,10.0.0.9\r\n");
    assert_string_equal(XH_IP(&x), "5.6.7.8");
    /* X-Real-Ip wins over X-Forwarded-For. */
    xh_request(&t, "X-Forwarded-For: 1.2.3.4\r\nX-Real-Ip: 4.3.2.1\r\n");
    assert_string_equal(XH_IP(&x), "4.3.2.1");
    /* Anything that is not an IP address is ignored. */
    xh_request(&t, "X-Real-Ip: evil.example.com\r\n");
    assert_string_equal(XH_IP(&x), "127.0.0.1");
    xh_request(&t, "X-Real-Ip: 1.2.3.4 \r\n");
    assert_string_equal(XH_IP(&x), "1.2.3.4"); /* trailing OWS is trimmed */
    xh_request(&t, "X-Real-Ip: 1.2.3.4.5\r\n");
    assert_string_equal(XH_IP(&x), "127.0.0.1");
    xh_request(&t, "X-Forwarded-For: 1.2.3.4, <script>\r\n");
    assert_string_equal(XH_IP(&x), "127.0.0.1");
    xh_request(&t, "X-Forwarded-For: 10.0.0.9\r\n");
    assert_string_equal(XH_IP(&x), "127.0.0.1"); /* all trusted: none left */
    xh_request(&t, "X-Real-Ip: "
                       "1111:2222:3333:4444:5555:6666:7777:8888:9999\r\n");
    assert_string_equal(XH_IP(&x), "127.0.0.1");
    /* The scheme: only http or https is taken. */
    xh_request(&t, "X-Scheme: https\r\n");
    assert_string_equal(XH_SCHEME(&x), "https");
    xh_request(&t, "X-Forwarded-Proto: https\r\n");
    assert_string_equal(XH_SCHEME(&x), "https");
    xh_request(&t, "X-Forwarded-Proto: http, https\r\n");
    assert_string_equal(XH_SCHEME(&x), "https");
    xh_request(&t, "X-Scheme: gopher\r\n");
    assert_string_equal(XH_SCHEME(&x), "http");
    xh_request(&t, "X-Scheme: http\r\nX-Forwarded-Proto: https\r\n");
    assert_string_equal(XH_SCHEME(&x), "http");
    srv_finish(&t);
}

/* --- responses ----------------------------------------------------------------- */

/* Checks a Date header: RFC 9110's IMF-fixdate, within a minute of now. */
static void check_date(const resp *r)
{
    char v[64];
    struct tm tm = {0};
    const char *end;
    time_t when;

    assert_int_equal(resp_hdr(r, "date", v, sizeof v), 1);
    assert_int_equal(strlen(v), 29);
    end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    when = timegm(&tm);
    assert_true(when > time(NULL) - 60 && when < time(NULL) + 60);
}

static void h_custom_date(eddy_http_request *req, void *arg)
{
    static const eddy_http_header h[] = {
        EDDY_HEADER("date", "Thu, 01 Jan 1970 00:00:00 GMT"),
        EDDY_HEADER("SERVER", "custom/2"),
        EDDY_HEADER("X-Two", "a"),
        EDDY_HEADER("X-Two", "b")};

    record(arg, req);
    assert_int_equal(eddy_http_respond(req, 200, h, 4, "c", 1), 0);
}

static void test_response_date_and_server(void **state)
{
    static const char *const names[] = {NULL, "myserver/1.0", ""};
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};
    char v[64];

    (void)state;
    for (int i = 0; i < 3; i++) {
        eddy_http_options o = {0};

        o.server_name = names[i];
        srv_start(&t, &o);
        srv_route(&t, "GET", "/", 0, h_rec, &x);
        srv_route(&t, "GET", "/custom", 0, h_custom_date, &x);
        cl_open(&t, &c);
        cl_send(&c, REQ("/"));
        assert_true(cl_response(&c, &r));
        check_date(&r);
        if (i == 2)
            assert_int_equal(resp_hdr(&r, "server", NULL, 0), 0);
        else
            assert_true(resp_has(&r, "server", i == 0 ? "eddy" : names[i]));
        /* The server's own answers carry them too. */
        cl_send(&c, REQ("/missing"));
        assert_true(cl_response(&c, &r));
        assert_int_equal(r.status, 404);
        check_date(&r);
        assert_int_equal(resp_hdr(&r, "server", NULL, 0), i == 2 ? 0 : 1);
        /* A handler's own Date and Server replace the server's. */
        cl_send(&c, REQ("/custom"));
        assert_true(cl_response(&c, &r));
        assert_int_equal(resp_hdr(&r, "date", v, sizeof v), 1);
        assert_string_equal(v, "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_int_equal(resp_hdr(&r, "server", v, sizeof v), 1);
        assert_string_equal(v, "custom/2");
        assert_int_equal(resp_hdr(&r, "x-two", NULL, 0), 2);
        cl_close(&c);
        srv_finish(&t);
    }
    resp_free(&r);
}

static const eddy_http_header bad_headers[] = {
    {"X-A\r\nB", 6, "v", 1},
    {"X-A", 3, "v\r\nInjected: 1", 15},
    {"X-A", 3, "a\nb", 3},
    {"X-A", 3, "a\rb", 3},
    {"X-A", 3, "a\0b", 3},
    {"X\0A", 3, "v", 1},
    {"X-A\n", 4, "v", 1},
    {"X A", 3, "v", 1},
    {"X:A", 3, "v", 1},
    {"", 0, "v", 1},
    {"X-A", 3, "\x7f", 1},
    {"Content-Length", 14, "1", 1},
    {"content-length", 14, "1", 1},
    {"Transfer-Encoding", 17, "chunked", 7},
    {"transfer-ENCODING", 17, "identity", 8},
    {"Connection", 10, "close", 5},
    {"CONNECTION", 10, "keep-alive", 10},
};

/* Tries every response that must be refused, then answers properly. */
static void h_refusals(eddy_http_request *req, void *arg)
{
    static const eddy_http_header fine = EDDY_HEADER("X-Fine", "yes");
    static const char *const reasons[] = {"OK\r\nX-Injected: 1", "OK\n",
                                          "OK\r", "O\x7fK", "\x01"};
    static const int statuses[] = {-200, 0, 100, 101, 103, 199, 1000, 20000};
    hctx *x = arg;
    size_t n = sizeof bad_headers / sizeof bad_headers[0];

    record(x, req);
    for (size_t i = 0; i < n; i++) {
        const eddy_http_header two[] = {fine, bad_headers[i]};

        x->errors += eddy_http_respond(req, 200, &bad_headers[i], 1, "x", 1) !=
                     -EINVAL;
        x->errors += eddy_http_respond(req, 200, two, 2, "x", 1) != -EINVAL;
        x->errors += eddy_http_start_response(req, 200, NULL, &bad_headers[i],
                                              1, -1) != -EINVAL;
    }
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        x->errors += eddy_http_start_response(req, 200, reasons[i], NULL, 0,
                                              0) != -EINVAL;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        x->errors += eddy_http_respond(req, statuses[i], NULL, 0, NULL, 0) !=
                     -EINVAL;
        x->errors += eddy_http_start_response(req, statuses[i], NULL, NULL, 0,
                                              0) != -EINVAL;
    }
    x->errors += eddy_http_respond(req, 200, NULL, 1, "x", 1) != -EINVAL;
    x->errors += eddy_http_write(req, "x", 1, NULL, NULL) != -EINVAL;
    /* Nothing was sent: the client checks that it gets this alone. */
    assert_int_equal(eddy_http_start_response(req, 299, "Fine Thanks", &fine,
                                              1, 4),
                     0);
    x->errors += eddy_http_start_response(req, 200, NULL, NULL, 0, 0) !=
                 -EALREADY;
    x->errors += eddy_http_respond(req, 200, NULL, 0, NULL, 0) != -EALREADY;
    x->errors += eddy_http_write(req, "fine!", 5, NULL, NULL) != -EINVAL;
    assert_int_equal(eddy_http_write(req, "fi", 2, NULL, NULL), 0);
    assert_int_equal(eddy_http_write(req, "ne", 2, NULL, NULL), 0);
    x->errors += eddy_http_write(req, "!", 1, NULL, NULL) != -EINVAL;
    assert_int_equal(eddy_http_finish(req), 0);
}

static void test_response_refusals(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_refusals, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/") REQ("/"));
    for (int i = 0; i < 2; i++) {
        assert_true(cl_response(&c, &r));
        assert_int_equal(r.status, 299);
        assert_string_equal(r.reason, "Fine Thanks");
        assert_string_equal(r.body, "fine");
        assert_true(resp_has(&r, "x-fine", "yes"));
        assert_null(strstr(r.head, "Injected"));
        assert_null(strstr(r.head, "X-A"));
        assert_int_equal(resp_hdr(&r, "content-length", NULL, 0), 1);
        assert_int_equal(resp_hdr(&r, "connection", NULL, 0), 0);
    }
    assert_int_equal(x.errors, 0);
    assert_int_equal(x.calls, 2);
    assert_false(c.eof);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void h_short(eddy_http_request *req, void *arg)
{
    hctx *x = arg;

    record(x, req);
    assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, 10), 0);
    assert_int_equal(eddy_http_write(req, "12345", 5, NULL, NULL), 0);
    x->finish_rc = eddy_http_finish(req);
}

static void test_content_length_mismatch(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};
    const char *body;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_short, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/") REQ("/"));
    /* Five of the ten bytes promised, then the close that tells the
     * client the body is incomplete; the second request is dropped. */
    cl_wait_eof(&c);
    assert_false(cl_response(&c, &r));
    assert_int_equal(x.finish_rc, -EPROTO);
    assert_int_equal(x.calls, 1);
    assert_non_null(strstr(c.buf, "\r\nContent-Length: 10\r\n"));
    body = strstr(c.buf, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, "12345");
    assert_int_equal(srv_stats(&t).requests, 1);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* Answers with the status its path names ("/s/204"), with a body it
 * must not send, by respond() or (path "/u/...") with unknown length. */
static void h_status(eddy_http_request *req, void *arg)
{
    static const eddy_http_header etag = EDDY_HEADER("ETag", "\"v1\"");
    hctx *x = arg;
    eddy_str p = eddy_http_path(req);
    int status = atoi(p.p + 3);

    record(x, req);
    if (p.p[1] == 's') {
        x->finish_rc = eddy_http_respond(req, status, &etag, 1, NULL, 0);
        return;
    }
    assert_int_equal(eddy_http_start_response(req, status, NULL, &etag, 1, -1),
                     0);
    x->errors += eddy_http_write(req, "body", 4, NULL, NULL) == 0;
    x->finish_rc = eddy_http_finish(req);
}

static void test_204_304_no_body(void **state)
{
    static const char *const paths[] = {"/s/204", "/s/304", "/u/204", "/u/304"};
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};
    char req[128];

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/ok", 0, h_rec, &x);
    srv_route(&t, "GET", "/", EDDY_ROUTE_PREFIX, h_status, &x);
    cl_open(&t, &c);
    for (int i = 0; i < 4; i++) {
        snprintf(req, sizeof req, REQ("%s") REQ("/ok"), paths[i]);
        cl_send(&c, req);
        assert_true(cl_response(&c, &r));
        assert_int_equal(r.status, atoi(paths[i] + 3));
        assert_int_equal(resp_hdr(&r, "content-length", NULL, 0), 0);
        assert_int_equal(resp_hdr(&r, "transfer-encoding", NULL, 0), 0);
        assert_true(resp_has(&r, "etag", "\"v1\""));
        assert_int_equal(x.finish_rc, 0);
        /* The next response follows at once: no body byte came between. */
        cl_expect(&c, 200, "ok /ok");
    }
    assert_int_equal(x.errors, 0);
    assert_false(c.eof);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* --- limits -------------------------------------------------------------------- */

/* Sends req on a new connection; expects status, Connection: close and
 * the close, and nothing for whatever followed. */
static void expect_refused(tsrv *t, const char *req, size_t len, int status)
{
    client c;
    resp r = {0};

    cl_open(t, &c);
    assert_int_equal(cl_sendn(&c, req, len), 0);
    if (!cl_response(&c, &r))
        fail_msg("no response to [%.*s]", (int)len, req);
    if (r.status != status)
        fail_msg("status %d, not %d, for [%.*s]", r.status, status, (int)len,
                 req);
    assert_true(resp_has(&r, "connection", "close"));
    check_date(&r);
    assert_int_equal(resp_hdr(&r, "content-length", NULL, 0), 1);
    cl_expect_closed(&c);
    resp_free(&r);
    cl_close(&c);
}

#define REFUSED(t, lit, status) expect_refused(t, lit, sizeof lit - 1, status)

static void test_limit_header_size(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    char req[1024], pad[600];
    client c;

    (void)state;
    o.max_header_size = 512;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    memset(pad, 'a', sizeof pad);
    /* Just within the limit passes; just past it is 431. */
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %.*s\r\n\r\n",
             512 - 36, pad);
    assert_int_equal(strlen(req), 512);
    cl_open(&t, &c);
    cl_send(&c, req);
    cl_expect(&c, 200, "ok /");
    cl_close(&c);
    snprintf(req, sizeof req,
             "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %.*s\r\n\r\n" REQ("/"),
             512 - 35, pad);
    expect_refused(&t, req, strlen(req), 431);
    /* Also when it arrives in pieces, and before the head ends. */
    cl_open(&t, &c);
    cl_send(&c, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    for (int i = 0; i < 3 && !c.eof; i++) {
        if (cl_sendn(&c, pad, 200) != 0)
            break;
        run_for(&t, 5);
    }
    cl_expect(&c, 431, NULL);
    cl_expect_closed(&c);
    cl_close(&c);
    assert_int_equal(x.calls, 1);
    srv_finish(&t);
}

static void test_limit_uri_length(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    char req[512], path[200];
    client c;

    (void)state;
    o.max_uri_length = 64;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", EDDY_ROUTE_PREFIX, h_rec, &x);
    memset(path, 'p', sizeof path);
    path[0] = '/';
    snprintf(req, sizeof req, REQ("%.*s"), 64, path);
    cl_open(&t, &c);
    cl_send(&c, req);
    cl_expect(&c, 200, NULL);
    cl_close(&c);
    snprintf(req, sizeof req, REQ("%.*s") REQ("/"), 65, path);
    expect_refused(&t, req, strlen(req), 414);
    snprintf(req, sizeof req, REQ("%.*s"), 200, path);
    expect_refused(&t, req, strlen(req), 414);
    assert_int_equal(x.calls, 1);
    srv_finish(&t);
}

static void test_limit_header_count(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    o.max_headers = 4;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    cl_expect(&c, 200, "ok /");
    cl_close(&c);
    assert_int_equal(x.r[0].nheaders, 4);
    REFUSED(&t, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"
                REQ("/"), 431);
    assert_int_equal(x.calls, 1);
    srv_finish(&t);
}

static void h_stream_413(eddy_http_request *req, int status, const char *data,
                         size_t len, int done, void *arg)
{
    hctx *x = arg;

    (void)data;
    (void)len;
    (void)done;
    if (status == 0 && !done) {
        x->pieces++;
        return;
    }
    x->body_status = status;
    x->finish_rc = eddy_http_respond(
        req, status == EDDY_HTTP_TOO_LARGE ? 413 : 200, NULL, 0, "stream", 6);
}

static void h_stream_limited(eddy_http_request *req, void *arg)
{
    record(arg, req);
    assert_int_equal(eddy_http_read_body(req, h_stream_413, arg), 0);
}

static void test_limit_body_size(void **state)
{
    tsrv t;
    hctx x = {0}, s = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    o.max_body_size = 16;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    srv_route(&t, "POST", "/stream", EDDY_ROUTE_STREAM, h_stream_limited, &s);
    cl_open(&t, &c);
    cl_send(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n"
                "0123456789abcdef"
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "\r\n8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n");
    cl_expect(&c, 200, "0123456789abcdef");
    cl_expect(&c, 200, "0123456789abcdef");
    cl_close(&c);
    /* Content-Length: refused from the head, before any body. */
    REFUSED(&t, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n"
                "0123456789abcdefg" REQ("/"), 413);
    REFUSED(&t, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: 99999999999999999\r\n\r\n", 413);
    /* Chunked: refused when the body grows past it. */
    REFUSED(&t, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "\r\n8\r\n01234567\r\n9\r\n89abcdefg\r\n0\r\n\r\n" REQ("/"), 413);
    REFUSED(&t, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "\r\nffffffff\r\n0123", 413);
    assert_int_equal(x.calls, 2);
    /* A streaming route hears of it, and answers. */
    REFUSED(&t, "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "\r\n8\r\n01234567\r\n9\r\n89abcdefg\r\n0\r\n\r\n" REQ("/"), 413);
    assert_int_equal(s.calls, 1);
    /* Its own status, which says what happened (it was -EMSGSIZE, which
     * eddy_strerror() calls "delimiter not found within max_bytes"). */
    assert_int_equal(s.body_status, EDDY_HTTP_TOO_LARGE);
    assert_string_equal(eddy_strerror(EDDY_HTTP_TOO_LARGE),
                        "request body larger than max_body_size");
    assert_int_not_equal(EDDY_HTTP_TOO_LARGE, -EMSGSIZE);
    assert_int_equal(s.finish_rc, 0);
    srv_finish(&t);
}

/* --- timeouts ------------------------------------------------------------------ */

/* Bounds on when a 200 ms timeout may close a connection: not before it,
 * and not absurdly after it (valgrind is slow). */
#define TIMEOUT_MS 200
#define TIMEOUT_MIN 180
#define TIMEOUT_MAX (tu_valgrind() ? 4000u : 1500u)

/* A client sending one byte of s every 50 ms from a periodic timer. */
typedef struct dribble {
    client *c;
    const char *s;
    size_t len, sent;
    eddy_timer_id timer;
    int refused; /* a send failed: the server had closed */
} dribble;

static void on_dribble(eddy_loop *loop, void *arg)
{
    dribble *d = arg;

    if (d->sent == d->len || d->c->eof || d->refused) {
        eddy_loop_remove_timeout(loop, d->timer);
        d->timer = 0;
        return;
    }
    if (send(d->c->fd, d->s + d->sent, 1, MSG_NOSIGNAL) == 1)
        d->sent++;
    else
        d->refused = 1;
}

static void dribble_start(tsrv *t, dribble *d, client *c, const char *s)
{
    memset(d, 0, sizeof *d);
    d->c = c;
    d->s = s;
    d->len = strlen(s);
    assert_int_equal(eddy_loop_call_every(t->loop, 50, on_dribble, d, &d->timer),
                     0);
}

static void dribble_stop(tsrv *t, dribble *d)
{
    if (d->timer != 0)
        assert_int_equal(eddy_loop_remove_timeout(t->loop, d->timer), 0);
    d->timer = 0;
}

static void test_header_timeout_slowloris(void **state)
{
    static const char slow[] =
        "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;
    dribble d;
    uint64_t t0, took;

    (void)state;
    o.header_timeout_ms = TIMEOUT_MS;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &c);
    t0 = tu_now_ms();
    dribble_start(&t, &d, &c, slow);
    cl_wait_eof(&c);
    took = c.eof_ms - t0;
    dribble_stop(&t, &d);
    /* Dropped at about the timeout, long before the head was complete,
     * although a byte came every 50 ms. */
    if (took < TIMEOUT_MIN || took > TIMEOUT_MAX)
        fail_msg("dropped after %llu ms", (unsigned long long)took);
    assert_true(d.sent < d.len);
    assert_int_equal(x.calls, 0);
    wait_no_connections(&t);
    cl_close(&c);
    srv_finish(&t);
}

static void test_body_timeout(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client stall, slow;
    dribble d;
    uint64_t t0, took;

    (void)state;
    o.body_timeout_ms = TIMEOUT_MS;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    /* Two clients at once.  A body that stops coming is dropped after
     * the timeout; a body that trickles, a byte every 50 ms for twice
     * the timeout, is slow but alive: the timeout is between reads. */
    cl_open(&t, &stall);
    cl_open(&t, &slow);
    t0 = tu_now_ms();
    cl_send(&stall, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                    "\r\nabc");
    cl_send(&slow, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n");
    dribble_start(&t, &d, &slow, "trickle!");
    cl_wait_eof(&stall);
    took = stall.eof_ms - t0;
    if (took < TIMEOUT_MIN || took > TIMEOUT_MAX)
        fail_msg("dropped after %llu ms", (unsigned long long)took);
    assert_int_equal(stall.len, 0);
    cl_expect(&slow, 200, "trickle!");
    dribble_stop(&t, &d);
    assert_int_equal(x.calls, 1);
    cl_close(&stall);
    cl_close(&slow);
    srv_finish(&t);
}

static void test_idle_timeout(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client used, silent, busy;
    uint64_t t0, t1, took;

    (void)state;
    o.idle_timeout_ms = TIMEOUT_MS;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    srv_route(&t, "GET", "/d/", EDDY_ROUTE_PREFIX, h_delayed, &x);
    /* Three clients at once: a keep-alive connection left idle after a
     * response is closed, so is one that never sends anything, but a
     * handler may take longer than the timeout. */
    t0 = tu_now_ms();
    cl_open(&t, &silent);
    cl_open(&t, &used);
    cl_open(&t, &busy);
    cl_send(&busy, REQ("/d/300/a"));
    cl_send(&used, REQ("/"));
    cl_expect(&used, 200, "ok /");
    t1 = tu_now_ms();
    cl_expect_closed(&used);
    took = used.eof_ms - t1;
    if (took < TIMEOUT_MIN - 20 || took > TIMEOUT_MAX)
        fail_msg("closed after %llu ms", (unsigned long long)took);
    cl_expect_closed(&silent);
    took = silent.eof_ms - t0;
    if (took < TIMEOUT_MIN || took > TIMEOUT_MAX)
        fail_msg("closed after %llu ms", (unsigned long long)took);
    assert_int_equal(silent.len, 0);
    cl_expect(&busy, 200, "/d/300/a");
    cl_close(&used);
    cl_close(&silent);
    cl_close(&busy);
    srv_finish(&t);
}

static void test_idle_timeout_slow_reader(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    /* The idle timeout counts from when the response is out, not from
     * when the handler finished: a client that takes longer than it to
     * read a large response still gets all of it. */
    o.idle_timeout_ms = TIMEOUT_MS;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/huge", 0, h_huge, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/huge"));
    cl_pause(&c);
    assert_true(tu_run_until_count(t.loop, &x.calls, 1, RUN_ITER, RUN_MS));
    run_for(&t, 2 * TIMEOUT_MS);
    cl_resume(&c);
    expect_huge(&c);
    /* And then the connection idles out as usual. */
    cl_expect_closed(&c);
    cl_close(&c);
    /* A server freed while such a response is queued drops it. */
    cl_open(&t, &c);
    cl_send(&c, REQ("/huge"));
    cl_pause(&c);
    assert_true(tu_run_until_count(t.loop, &x.calls, 2, RUN_ITER, RUN_MS));
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    cl_resume(&c);
    cl_wait_eof(&c);
    assert_true(c.len < HUGE_BODY);
    cl_close(&c);
    srv_finish(&t);
}

static void test_header_and_body_timeouts_not_idle(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    /* Short header and body timeouts do not apply to an idle keep-alive
     * connection: that is the idle timeout's job. */
    o.header_timeout_ms = 50;
    o.body_timeout_ms = 50;
    o.idle_timeout_ms = 5000;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/"));
    cl_expect(&c, 200, "ok /");
    run_for(&t, 150);
    assert_false(c.eof);
    cl_send(&c, REQ("/"));
    cl_expect(&c, 200, "ok /");
    cl_close(&c);
    srv_finish(&t);
}

static void test_max_connections(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c[3];

    (void)state;
    o.max_connections = 2;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    for (int i = 0; i < 2; i++) {
        cl_open(&t, &c[i]);
        cl_send(&c[i], REQ("/"));
        cl_expect(&c[i], 200, "ok /");
    }
    /* The third connects (the kernel's backlog takes it) but is not
     * served while two are open. */
    cl_open(&t, &c[2]);
    cl_send(&c[2], REQ("/"));
    run_for(&t, 100);
    assert_int_equal(c[2].len, 0);
    assert_false(c[2].eof);
    assert_int_equal(srv_stats(&t).connections, 2);
    assert_int_equal(x.calls, 2);
    /* One closes: the waiting one is accepted and served. */
    cl_close(&c[0]);
    cl_expect(&c[2], 200, "ok /");
    assert_int_equal(srv_stats(&t).connections, 2);
    assert_int_equal(srv_stats(&t).connections_total, 3);
    cl_close(&c[1]);
    cl_close(&c[2]);
    srv_finish(&t);
}

/* --- bad input ---------------------------------------------------------------- */

static void test_bad_requests(void **state)
{
    /* Each is followed by a request that a confused server would answer. */
#define NEXT REQ("/second")
    static const struct {
        const char *req;
        size_t len;
        int status;
    } bad[] = {
#define BAD(lit, status) {lit NEXT, sizeof(lit NEXT) - 1, status}
        /* Smuggling: framing that two parsers could read differently. */
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Content-Length: 5\r\n\r\n0\r\n\r\n", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            "Content-Length: 6\r\n\r\nhello!", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n"
            "hello!", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nx", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nx", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
            400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n",
            400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0b"
            "chunked\r\n\r\n0\r\n\r\n", 400),
        BAD("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: x\r\n X-Lead: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\nHost: x\n\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n", 400),
        BAD("GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "\r\n5\r\nhello\r\n0x0\r\n\r\n", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "\r\n5\nhello\n0\n\n", 400),
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "\r\n3\r\nhello\r\n0\r\n\r\n", 400),
        /* A size past 64 bits: 400 whole, and 400 too when its first 16
         * digits arrive alone (they were once taken for a size past
         * max_body_size, 413). */
        BAD("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", 400),
        /* Other malformed heads. */
        BAD("GET / HTTP/1.1\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
        BAD("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        BAD("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        BAD("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        BAD("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
#undef BAD
    };
    tsrv t;
    hctx x = {0}, second = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    srv_route(&t, "GET", "/second", 0, h_rec, &second);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_refused(&t, bad[i].req, bad[i].len, bad[i].status);
        /* Sent a byte at a time too: the same answer. */
        if (!tu_valgrind() || i % 4 == 0) {
            resp r = {0};

            cl_open(&t, &c);
            for (size_t k = 0; k < bad[i].len && !c.eof; k++)
                if (cl_sendn(&c, bad[i].req + k, 1) != 0)
                    break;
                else if (k % 8 == 0)
                    assert_int_equal(eddy_loop_run_once(t.loop, 0), 0);
            assert_true(cl_response(&c, &r));
            if (r.status != bad[i].status)
                fail_msg("bytewise: status %d for [%s]", r.status, bad[i].req);
            cl_expect_closed(&c);
            cl_close(&c);
            resp_free(&r);
        }
    }
    assert_int_equal(x.calls, 0);
    assert_int_equal(second.calls, 0);
    /* Unsupported things get their own status. */
    REFUSED(&t, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
                NEXT, 501);
    REFUSED(&t, "GET / HTTP/2.0\r\nHost: x\r\n\r\n" NEXT, 505);
    assert_int_equal(second.calls, 0);
    assert_true(srv_stats(&t).errors >= sizeof bad / sizeof bad[0]);
    /* After all that, the server still serves. */
    cl_open(&t, &c);
    cl_send(&c, NEXT);
    cl_expect(&c, 200, "ok /second");
    cl_close(&c);
    srv_finish(&t);
#undef NEXT
}

/* --- graceful shutdown -------------------------------------------------------- */

static int done_once(void *arg)
{
    return ((tsrv *)arg)->done_calls > 0;
}

static void test_shutdown_graceful(void **state)
{
    tsrv t;
    hctx x = {0}, hold = {0};
    client busy, idle, partial;
    resp r = {0};
    int fd;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &hold);
    cl_open(&t, &idle);
    cl_send(&idle, REQ("/"));
    cl_expect(&idle, 200, "ok /");
    cl_open(&t, &busy);
    cl_send(&busy, REQ("/hold"));
    wait_held(&t, &hold, 1);
    cl_open(&t, &partial);
    cl_send(&partial, "GET / HTTP/1.1\r\nHo");
    run_for(&t, 10);

    eddy_http_server_shutdown(t.srv, RUN_MS, on_done, &t);
    /* The listener is closed at once: a new client is refused. */
    fd = tcp_connect(t.port);
    assert_int_equal(fd, -ECONNREFUSED);
    /* The idle connection closes; the busy one does not. */
    cl_expect_closed(&idle);
    run_for(&t, 20);
    assert_false(busy.eof);
    assert_int_equal(t.done_calls, 0);
    /* The half-sent request is still served, told to close. */
    cl_send(&partial, "st: x\r\n\r\n");
    assert_true(cl_response(&partial, &r));
    assert_int_equal(r.status, 200);
    assert_true(resp_has(&r, "connection", "close"));
    cl_expect_closed(&partial);
    /* The in-flight request gets its whole response, then the close. */
    assert_int_equal(eddy_http_respond(hold.held[0], 200, NULL, 0, "bye", 3), 0);
    assert_true(cl_response(&busy, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "bye");
    assert_true(resp_has(&r, "connection", "close"));
    cl_expect_closed(&busy);
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    run_for(&t, 10);
    assert_int_equal(t.done_calls, 1);
    assert_int_equal(hold.closes, 0);
    assert_int_equal(srv_stats(&t).connections, 0);
    /* A second shutdown does nothing. */
    eddy_http_server_shutdown(t.srv, 0, on_done, &t);
    run_for(&t, 10);
    assert_int_equal(t.done_calls, 1);
    resp_free(&r);
    cl_close(&idle);
    cl_close(&busy);
    cl_close(&partial);
    srv_finish(&t);
}

static void test_shutdown_keeps_queued_response(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    /* A connection whose response is finished but still queued is not
     * idle yet: shutdown lets the response out before closing it. */
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/huge", 0, h_huge, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/huge"));
    cl_pause(&c);
    assert_true(tu_run_until_count(t.loop, &x.calls, 1, RUN_ITER, RUN_MS));
    run_for(&t, 10);
    /* The deadline is several times the longest wait below: the close
     * must come when the response is out, not at the deadline. */
    eddy_http_server_shutdown(t.srv, 4 * RUN_MS, on_done, &t);
    run_for(&t, 10);
    cl_resume(&c);
    expect_huge(&c);
    cl_expect_closed(&c);
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    cl_close(&c);
    srv_finish(&t);
}

static void test_shutdown_deadline(void **state)
{
    tsrv t;
    hctx hold = {0};
    client c;
    uint64_t t0;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &hold);
    cl_open(&t, &c);
    cl_send(&c, REQ("/hold"));
    wait_held(&t, &hold, 1);
    t0 = tu_now_ms();
    eddy_http_server_shutdown(t.srv, 100, on_done, &t);
    /* The handler never answers: at the deadline the connection closes,
     * the request is told, and done runs. */
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    assert_true(tu_now_ms() - t0 >= 95);
    cl_wait_eof(&c);
    assert_int_equal(c.len, 0);
    assert_int_equal(hold.closes, 1);
    run_for(&t, 10);
    assert_int_equal(t.done_calls, 1);
    assert_int_equal(eddy_http_finish(hold.held[0]), -EPIPE);
    cl_close(&c);
    srv_finish(&t);
}

static void test_shutdown_no_connections(void **state)
{
    tsrv t;

    (void)state;
    srv_start(&t, NULL);
    eddy_http_server_shutdown(t.srv, RUN_MS, on_done, &t);
    assert_int_equal(t.done_calls, 0); /* never inside the call */
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    assert_int_equal(tcp_connect(t.port), -ECONNREFUSED);
    srv_finish(&t);

    /* Without a done callback, then freed at once. */
    srv_start(&t, NULL);
    eddy_http_server_shutdown(t.srv, RUN_MS, NULL, NULL);
    srv_finish(&t);
}

/* A handler that answers, then shuts its server down or frees it. */
static void h_quit(eddy_http_request *req, void *arg)
{
    tsrv *t = arg;
    eddy_str p = eddy_http_path(req);
    int free_it = p.len == 5 && memcmp(p.p, "/free", 5) == 0;

    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, "bye", 3), 0);
    if (free_it) {
        eddy_http_server_free(t->srv);
        t->srv = NULL;
    } else {
        eddy_http_server_shutdown(t->srv, RUN_MS, on_done, t);
    }
}

static void test_shutdown_from_handler(void **state)
{
    tsrv t;
    client c, other;
    resp r = {0};

    (void)state;
    /* Shut down from a handler: its answer goes out, then everything
     * closes and done runs. */
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", EDDY_ROUTE_PREFIX, h_quit, &t);
    cl_open(&t, &other);
    cl_open(&t, &c);
    cl_send(&c, REQ("/quit"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "bye");
    cl_expect_closed(&c);
    cl_wait_eof(&other);
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    assert_int_equal(t.done_calls, 1);
    cl_close(&c);
    cl_close(&other);
    srv_finish(&t);

    /* Freed from a handler: every connection closes at once, the answer
     * queued a moment ago with them; the request pipelined behind is
     * never read. */
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", EDDY_ROUTE_PREFIX, h_quit, &t);
    cl_open(&t, &other);
    cl_open(&t, &c);
    cl_send(&c, REQ("/free") REQ("/x"));
    cl_wait_eof(&c);
    cl_wait_eof(&other);
    assert_null(t.srv);
    assert_int_equal(c.len, 0);
    cl_close(&c);
    cl_close(&other);
    srv_finish(&t);
    resp_free(&r);
}

static void raise_term(eddy_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    assert_int_equal(raise(SIGTERM), 0);
}

static void test_stop_on_signals(void **state)
{
    tsrv t;
    hctx x = {0}, hold = {0};
    client idle, busy;
    int fired;
    eddy_timer_id safety;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    srv_route(&t, "GET", "/d/", EDDY_ROUTE_PREFIX, h_delayed, &hold);
    assert_int_equal(eddy_http_server_stop_on_signals(t.srv, RUN_MS), 0);
    cl_open(&t, &idle);
    cl_send(&idle, REQ("/"));
    cl_expect(&idle, 200, "ok /");
    cl_open(&t, &busy);
    cl_send(&busy, REQ("/d/100/a"));
    assert_true(tu_run_until_count(t.loop, &hold.calls, 1, RUN_ITER, RUN_MS));
    /* SIGTERM: stop accepting, finish the request in flight, then the
     * loop stops by itself. */
    assert_int_equal(eddy_loop_add_callback(t.loop, raise_term, NULL), 0);
    safety = tu_safety_timer(t.loop, RUN_MS, &fired);
    assert_int_equal(eddy_loop_run(t.loop), 0);
    assert_false(fired);
    assert_int_equal(eddy_loop_remove_timeout(t.loop, safety), 0);
    assert_true(idle.eof);
    assert_true(busy.eof);
    assert_int_equal(tcp_connect(t.port), -ECONNREFUSED);
    {
        resp r = {0};

        assert_true(cl_response(&busy, &r));
        assert_string_equal(r.body, "/d/100/a");
        assert_true(resp_has(&r, "connection", "close"));
        resp_free(&r);
    }
    cl_close(&idle);
    cl_close(&busy);
    srv_finish(&t);
}

static int term_seen;

static void on_term(int sig)
{
    (void)sig;
    term_seen++;
}

static void test_stop_on_signals_then_free(void **state)
{
    struct sigaction sa = {0}, old;
    tsrv t;

    (void)state;
    /* Our own handler first, so that a SIGTERM that reaches no eddy
     * handler does not end the test run. */
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGTERM, &sa, &old), 0);
    term_seen = 0;
    srv_start(&t, NULL);
    assert_int_equal(eddy_http_server_stop_on_signals(t.srv, 100), 0);
    assert_int_equal(eddy_http_server_stop_on_signals(t.srv, 100), -EBUSY);
    /* Freeing the server gives the signals back: one arriving later
     * must not reach the freed server. */
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    assert_int_equal(raise(SIGTERM), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(t.loop, 0), 0);
    assert_int_equal(term_seen, 1);
    srv_finish(&t);
    assert_int_equal(sigaction(SIGTERM, &old, NULL), 0);
}

/* --- examples/hello as a child process ------------------------------------------ */

/* Starts hello, with --processes procs unless procs is NULL. */
static pid_t start_hello(const char *path, const char *procs, int *port)
{
    const char *extra[] = {procs ? "--processes" : NULL, procs, NULL};

    return start_example(path, extra, 0, -1, port);
}

static void expect_hello(int port)
{
    resp r = {0};

    assert_true(blocking_get(port, "/", &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "Hello, World");
    assert_true(resp_has(&r, "content-type", "text/plain; charset=UTF-8"));
    assert_true(resp_has(&r, "server", "eddy"));
    assert_true(blocking_get(port, "/nope", &r));
    assert_int_equal(r.status, 404);
    resp_free(&r);
}

static void test_hello_example(void **state)
{
    char path[512];
    int port, status;
    pid_t pid;

    (void)state;
    if (example("hello", path, sizeof path) == NULL) {
        skip();
        return;
    }
    pid = start_hello(path, NULL, &port);
    expect_hello(port);
    expect_hello(port);
    assert_int_equal(kill(pid, SIGTERM), 0);
    status = tu_wait_exit(pid, RUN_MS);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("hello ignored SIGTERM");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(tcp_connect(port), -ECONNREFUSED);
}

static void test_hello_processes(void **state)
{
    char path[512];
    int port, status = -1;
    pid_t pid, w[8], w2[8], gone;

    (void)state;
    if (example("hello", path, sizeof path) == NULL) {
        skip();
        return;
    }
    pid = start_hello(path, "2", &port);
    if (!wait_workers(pid, 2, w, NULL, 0))
        goto fail;
    for (int i = 0; i < 4; i++)
        expect_hello(port);
    /* A worker killed outright is restarted with a new pid. */
    gone = w[0];
    assert_int_equal(kill(gone, SIGKILL), 0);
    if (!wait_workers(pid, 2, w2, &gone, 1))
        goto fail;
    assert_true(w2[0] == w[1] || w2[1] == w[1]);
    for (int i = 0; i < 4; i++)
        expect_hello(port);
    /* SIGTERM to the parent stops everyone gracefully. */
    assert_int_equal(kill(pid, SIGTERM), 0);
    status = tu_wait_exit(pid, RUN_MS);
    if (status == -1)
        goto fail;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent waited for its workers before it exited. */
    for (int i = 0; i < 2; i++)
        assert_true(kill(w2[i], 0) != 0 && errno == ESRCH);
    assert_int_equal(tcp_connect(port), -ECONNREFUSED);
    return;
fail:
    /* Leave nothing running. */
    for (int i = 0, n = children_of(pid, w, 8); i < n; i++)
        kill(w[i], SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("hello --processes 2 misbehaved (status %d)", status);
}

/* Forks a supervisor running eddy_fork_processes(2, max_restarts): each
 * worker writes its task id to the pipe and exits, with status 3 if it
 * is task 1 and fail1 is set.  Returns the supervisor's exit status and
 * counts the ids written in ids[2]. */
static int run_supervisor(int max_restarts, int fail1, int ids[2])
{
    char buf[64];
    int p[2], status = -1;
    uint64_t end = tu_now_ms() + RUN_MS;
    pid_t pid;
    ssize_t n;

    tu_pipe(p);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int id = -1;
        char msg;

        close(p[0]);
        if (eddy_fork_processes(2, max_restarts, &id) != 0)
            _exit(100);
        /* A worker: its id, and eddy_task_id() agrees. */
        msg = (char)(eddy_task_id() == id ? '0' + id : 'x');
        if (write(p[1], &msg, 1) != 1)
            _exit(101);
        _exit(fail1 && id == 1 ? 3 : 0);
    }
    close(p[1]);
    ids[0] = ids[1] = 0;
    /* The pipe ends when the supervisor and every worker are gone. */
    while (tu_now_ms() < end) {
        struct pollfd pf = {p[0], POLLIN, 0};

        if (poll(&pf, 1, 100) <= 0)
            continue;
        n = read(p[0], buf, sizeof buf);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            assert_true(buf[i] == '0' || buf[i] == '1');
            ids[buf[i] - '0']++;
        }
    }
    close(p[0]);
    status = tu_wait_exit(pid, RUN_MS);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the supervisor did not exit");
    }
    return status;
}

static void test_fork_processes(void **state)
{
    int ids[2], status;

    (void)state;
    /* Two workers that exit 0: the supervisor exits 0 after them. */
    status = run_supervisor(0, 0, ids);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 1);
    /* Task 1 fails: it is restarted once with the same task id, then the
     * restarts are used up and the supervisor reports the failure. */
    status = run_supervisor(1, 1, ids);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(eddy_task_id(), -1);
}

/* --- EMFILE -------------------------------------------------------------------- */

static struct rlimit saved_nofile;

static int emfile_setup(void **state)
{
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    return tu_fd_setup(state);
}

static int emfile_teardown(void **state)
{
    setrlimit(RLIMIT_NOFILE, &saved_nofile);
    return tu_fd_teardown(state);
}

static void test_emfile_no_spin(void **state)
{
    enum { NCLIENTS = 8, SPARE = 3 };
    tsrv t;
    hctx x = {0};
    client c[NCLIENTS];
    struct rlimit rl = saved_nofile;
    eddy_loop_stats before, after;
    int top = 0, served = 0;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    /* The clients' own fds come first, while fds are plenty; they
     * connect into the backlog and send their requests. */
    for (int i = 0; i < NCLIENTS; i++) {
        cl_open(&t, &c[i]);
        if (c[i].fd > top)
            top = c[i].fd;
    }
    /* Then the server gets room for SPARE connections, no more. */
    rl.rlim_cur = (rlim_t)(top + 1 + SPARE);
    for (int fd = 0; fd <= top; fd++)
        if (!tu_fd_is_open(fd))
            rl.rlim_cur--; /* a hole below top would be used first */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    for (int i = 0; i < NCLIENTS; i++)
        cl_send(&c[i], REQ("/"));
    for (int i = 0; i < SPARE; i++)
        cl_expect(&c[i], 200, "ok /");
    /* The rest wait, and the server does not spin on the listener that
     * stays readable: a few loop iterations, not thousands. */
    eddy_loop_get_stats(t.loop, &before);
    run_for(&t, 300);
    eddy_loop_get_stats(t.loop, &after);
    if (after.iterations - before.iterations > 150)
        fail_msg("%llu iterations in 300 ms",
                 (unsigned long long)(after.iterations - before.iterations));
    for (int i = SPARE; i < NCLIENTS; i++)
        assert_int_equal(c[i].len, 0);
    assert_int_equal(srv_stats(&t).connections, SPARE);
    /* Clients leave: the waiting ones are served as fds free up. */
    for (int i = 0; i < SPARE; i++)
        cl_close(&c[i]);
    for (int i = SPARE; i < NCLIENTS; i++) {
        resp r = {0};

        if (cl_response(&c[i], &r) && r.status == 200)
            served++;
        resp_free(&r);
        cl_close(&c[i]);
    }
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
    /* Valgrind only pretends to lower the limit: the kernel accepts, and
     * valgrind closes the fd and reports EMFILE, so the clients waiting
     * while the limit held lose their connection there. */
    if (!tu_valgrind()) {
        assert_int_equal(served, NCLIENTS - SPARE);
        assert_int_equal(x.calls, NCLIENTS);
    }
    srv_finish(&t);
}

/* --- the response API's errors ----------------------------------------------
 */

/* Each documented error of respond, start_response, write and finish is
 * taken, and then the caller does what the header says it may do next.
 * The handlers record what each call returned in k->rc[]. */
typedef struct contract {
    int calls, rc[6];
} contract;

static const contract no_calls;

/* Opens c, sends a request for path to a holding route (h_hold_tell) and
 * resets the connection once the handler has it; returns when the request
 * was told (on_close). */
static void hold_then_reset(tsrv *t, hctx *x, client *c, const char *path)
{
    char req[128];
    int closes = x->closes;

    snprintf(req, sizeof req, REQ("%s"), path);
    cl_open(t, c);
    cl_send(c, req);
    wait_held(t, x, x->nheld + 1);
    cl_reset(c);
    assert_true(
        tu_run_until_count(t->loop, &x->closes, closes + 1, RUN_ITER, RUN_MS));
}

/* -EINVAL from respond: nothing sent, not finished; answer 500 instead.
 * (A 204 with a body used to go out, finish and free the request, and
 * return -EINVAL: the 500 then read freed memory.) */
static void h_respond_einval(eddy_http_request *req, void *arg)
{
    static const eddy_http_header json =
        EDDY_HEADER("Content-Type", "application/json");
    static const eddy_http_header bad = EDDY_HEADER("X-Bad", "a\r\nb");
    contract *k = arg;

    k->calls++;
    k->rc[0] = eddy_http_respond(req, 204, &json, 1, "{}", 2);
    k->rc[1] = eddy_http_respond(req, 304, NULL, 0, "x", 1);
    k->rc[2] = eddy_http_respond(req, 200, NULL, 0, NULL, 3);
    k->rc[3] = eddy_http_respond(req, 200, NULL, 1, "x", 1);
    k->rc[4] = eddy_http_respond(req, 200, &bad, 1, "x", 1);
    k->rc[5] = eddy_http_respond(req, 500, NULL, 0, "oops", 4);
}

static void test_respond_einval_then_500(void **state)
{
    tsrv t;
    contract k = no_calls;
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_respond_einval, &k);
    cl_open(&t, &c);
    cl_send(&c, REQ("/") REQ("/"));
    /* Only the 500, twice: nothing of the refused answers went out. */
    cl_expect(&c, 500, "oops");
    cl_expect(&c, 500, "oops");
    for (int i = 0; i < 5; i++)
        assert_int_equal(k.rc[i], -EINVAL);
    assert_int_equal(k.rc[5], 0);
    assert_int_equal(k.calls, 2);
    assert_int_equal(srv_stats(&t).requests, 2);
    assert_false(c.eof);
    cl_close(&c);
    srv_finish(&t);
}

/* -EALREADY from respond: nothing changes; go on writing and finish. */
static void h_respond_ealready(eddy_http_request *req, void *arg)
{
    contract *k = arg;

    k->calls++;
    k->rc[0] = eddy_http_start_response(req, 200, NULL, NULL, 0, 2);
    k->rc[1] = eddy_http_respond(req, 500, NULL, 0, "no", 2);
    k->rc[2] = eddy_http_write(req, "ok", 2, NULL, NULL);
    k->rc[3] = eddy_http_finish(req);
}

static void test_respond_ealready_then_write(void **state)
{
    tsrv t;
    contract k = no_calls;
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_respond_ealready, &k);
    cl_open(&t, &c);
    cl_send(&c, REQ("/") REQ("/"));
    cl_expect(&c, 200, "ok");
    cl_expect(&c, 200, "ok");
    assert_int_equal(k.rc[0], 0);
    assert_int_equal(k.rc[1], -EALREADY);
    assert_int_equal(k.rc[2], 0);
    assert_int_equal(k.rc[3], 0);
    cl_close(&c);
    srv_finish(&t);
}

/* -EPIPE from respond: the request is finished anyway (valgrind and ASan
 * check that it is freed, once); it is logged and counted as aborted. */
static void test_respond_epipe_finished(void **state)
{
    tsrv t;
    hctx x = {0};
    alog a = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    o.access_log = access_log;
    o.access_log_arg = &a;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &x);
    hold_then_reset(&t, &x, &c, "/hold");
    assert_int_equal(eddy_http_respond(x.held[0], 200, NULL, 0, "late", 4),
                     -EPIPE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.last_aborted, 1);
    assert_int_equal(a.last_bytes, 0);
    assert_int_equal(srv_stats(&t).requests, 1);
    assert_int_equal(srv_stats(&t).aborted, 1);
    srv_finish(&t);
}

/* -EINVAL from start_response: nothing sent, not started; start again. */
static void h_start_einval(eddy_http_request *req, void *arg)
{
    contract *k = arg;

    k->calls++;
    k->rc[0] = eddy_http_start_response(req, 204, NULL, NULL, 0, 2);
    k->rc[1] =
        eddy_http_start_response(req, 200, "Fine\r\nX-Split: 1", NULL, 0, -1);
    k->rc[2] = eddy_http_start_response(req, 99, NULL, NULL, 0, -1);
    k->rc[3] = eddy_http_start_response(req, 500, NULL, NULL, 0, -1);
    k->rc[4] = eddy_http_write(req, "oops", 4, NULL, NULL);
    k->rc[5] = eddy_http_finish(req);
}

static void test_start_response_einval_then_start(void **state)
{
    tsrv t;
    contract k = no_calls;
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_start_einval, &k);
    cl_open(&t, &c);
    cl_send(&c, REQ("/"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 500);
    assert_true(r.chunked);
    assert_string_equal(r.body, "oops");
    assert_null(strstr(r.head, "X-Split"));
    for (int i = 0; i < 3; i++)
        assert_int_equal(k.rc[i], -EINVAL);
    for (int i = 3; i < 6; i++)
        assert_int_equal(k.rc[i], 0);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* -EALREADY from start_response: nothing changes. */
static void h_start_ealready(eddy_http_request *req, void *arg)
{
    contract *k = arg;

    k->calls++;
    k->rc[0] = eddy_http_start_response(req, 201, NULL, NULL, 0, 4);
    k->rc[1] = eddy_http_start_response(req, 500, NULL, NULL, 0, -1);
    k->rc[2] = eddy_http_write(req, "made", 4, NULL, NULL);
    k->rc[3] = eddy_http_finish(req);
}

static void test_start_response_ealready(void **state)
{
    tsrv t;
    contract k = no_calls;
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_start_ealready, &k);
    cl_open(&t, &c);
    cl_send(&c, REQ("/"));
    cl_expect(&c, 201, "made");
    assert_int_equal(k.rc[0], 0);
    assert_int_equal(k.rc[1], -EALREADY);
    assert_int_equal(k.rc[2], 0);
    assert_int_equal(k.rc[3], 0);
    cl_close(&c);
    srv_finish(&t);
}

/* -EPIPE from start_response: started, nothing sent; finish it (-EPIPE). */
static void test_start_response_epipe_then_finish(void **state)
{
    tsrv t;
    hctx x = {0};

    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &x);
    hold_then_reset(&t, &x, &c, "/hold");
    assert_int_equal(
        eddy_http_start_response(x.held[0], 200, NULL, NULL, 0, -1), -EPIPE);
    assert_int_equal(
        eddy_http_start_response(x.held[0], 200, NULL, NULL, 0, -1), -EALREADY);
    assert_int_equal(eddy_http_finish(x.held[0]), -EPIPE);
    assert_int_equal(srv_stats(&t).aborted, 1);
    srv_finish(&t);
}

/* -EINVAL from write: nothing written; write less, answer, or finish. */
static void h_write_einval(eddy_http_request *req, void *arg)
{
    contract *k = arg;
    eddy_str p = eddy_http_path(req);

    k->calls++;
    switch (p.p[1]) {
    case 'a': /* not started: answer instead */
        k->rc[0] = eddy_http_write(req, "x", 1, NULL, NULL);
        k->rc[1] = eddy_http_respond(req, 200, NULL, 0, "answered", 8);
        break;
    case 'b': /* past the Content-Length, or NULL data: write less */
        k->rc[0] = eddy_http_start_response(req, 200, NULL, NULL, 0, 4);
        k->rc[1] = eddy_http_write(req, "fine!", 5, NULL, NULL);
        k->rc[2] = eddy_http_write(req, NULL, 1, NULL, NULL);
        k->rc[3] = eddy_http_write(req, "fine", 4, NULL, NULL);
        k->rc[4] = eddy_http_finish(req);
        break;
    default: /* any byte on a 204: finish without it */
        k->rc[0] = eddy_http_start_response(req, 204, NULL, NULL, 0, -1);
        k->rc[1] = eddy_http_write(req, "x", 1, NULL, NULL);
        k->rc[2] = eddy_http_finish(req);
        break;
    }
}

static void test_write_einval(void **state)
{
    tsrv t;
    contract k = no_calls;
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", EDDY_ROUTE_PREFIX, h_write_einval, &k);
    cl_open(&t, &c);
    cl_send(&c, REQ("/a"));
    cl_expect(&c, 200, "answered");
    assert_int_equal(k.rc[0], -EINVAL);
    assert_int_equal(k.rc[1], 0);
    cl_send(&c, REQ("/b"));
    cl_expect(&c, 200, "fine");
    assert_int_equal(k.rc[0], 0);
    assert_int_equal(k.rc[1], -EINVAL);
    assert_int_equal(k.rc[2], -EINVAL);
    assert_int_equal(k.rc[3], 0);
    assert_int_equal(k.rc[4], 0);
    cl_send(&c, REQ("/c") REQ("/a"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 204);
    /* The 204 ended at its head: the next response follows at once. */
    cl_expect(&c, 200, "answered");
    assert_false(c.eof);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

static void count_cb(eddy_stream *s, int status, void *arg)
{
    (void)s;
    (void)status;
    ++*(int *)arg;
}

/* -EPIPE from write: finish the request (-EPIPE).  The callback of a
 * write that failed never runs. */
static void test_write_epipe_then_finish(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    int cbs = 0;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &x);
    cl_open(&t, &c);
    cl_send(&c, REQ("/hold"));
    wait_held(&t, &x, 1);
    assert_int_equal(eddy_http_start_response(x.held[0], 200, NULL, NULL, 0, 8),
                     0);
    assert_int_equal(eddy_http_write(x.held[0], "half", 4, NULL, NULL), 0);
    cl_reset(&c);
    assert_true(
        tu_run_until(t.loop, closes_at_least_one, &x, RUN_ITER, RUN_MS));
    assert_int_equal(eddy_http_write(x.held[0], "half", 4, count_cb, &cbs),
                     -EPIPE);
    run_for(&t, 10);
    assert_int_equal(cbs, 0);
    assert_int_equal(eddy_http_finish(x.held[0]), -EPIPE);
    srv_finish(&t);
}

/* -EPIPE from finish: the request is released anyway. */
static void test_finish_epipe(void **state)
{
    tsrv t;
    hctx x = {0};
    alog a = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    o.access_log = access_log;
    o.access_log_arg = &a;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &x);
    hold_then_reset(&t, &x, &c, "/hold");
    assert_int_equal(eddy_http_finish(x.held[0]), -EPIPE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.last_aborted, 1);
    srv_finish(&t);
}

/* --- closing with input unread: lingering close, small bodies dropped -------
 */

/* A client that POSTs 2 MB to a route that takes only GET and sends all of
 * it whatever comes back: it reads the 405, every byte it sends is taken,
 * and then comes the server's EOF, never a reset.  (Closing at once with
 * the body unread made the kernel reset the connection: the next send
 * failed with ECONNRESET, and the 405 itself could be lost.) */
static void test_lingering_close_big_post(void **state)
{
    size_t n = 2u << 20;
    char *body = malloc(n), head[128];
    tsrv t;
    hctx x = {0};
    client c;
    resp r = {0};
    int hl;

    (void)state;
    assert_non_null(body);
    memset(body, 'b', n);
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    hl = snprintf(head, sizeof head,
                  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                  n);
    cl_open(&t, &c);
    assert_int_equal(cl_sendn(&c, head, (size_t)hl), 0);
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 405);
    assert_true(resp_has(&r, "connection", "close"));
    assert_int_equal(cl_sendn(&c, body, n), 0);
    cl_expect_closed(&c);
    assert_int_equal(c.err, 0); /* an EOF, not a reset */
    /* The server reads on until the client's own EOF, then closes. */
    assert_int_equal(srv_stats(&t).connections, 1);
    assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
    wait_no_connections(&t);
    assert_true(srv_stats(&t).bytes_in >= n);
    assert_int_equal(x.calls, 0);
    resp_free(&r);
    free(body);
    cl_close(&c);
    srv_finish(&t);
}

/* A close with nothing unread does not linger: the server closes its
 * socket at once, whether or not the client closes its own (a lingering
 * close after every Connection: close would cost a round trip). */
static void test_close_without_linger(void **state)
{
    static const char *const reqs[] = {
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
    };
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    o.linger_ms = 4 * RUN_MS; /* a lingering close would outlast the wait */
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    for (int i = 0; i < 2; i++) {
        cl_open(&t, &c);
        cl_send(&c, reqs[i]);
        cl_expect(&c, 200, "ok /");
        cl_expect_closed(&c);
        wait_no_connections(&t); /* the client's socket still open */
        cl_close(&c);
    }
    srv_finish(&t);
}

/* After the server's own 404 or 405, a small declared body is read and
 * dropped and the connection goes on: a request pipelined behind it is
 * answered.  A larger body, a chunked one, or one behind 100-continue
 * (which the client may never send) gets the answer and a close. */
static void test_discard_small_body(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;
    resp r = {0};

    (void)state;
    o.max_discard_size = 64;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
                "0123456789" REQ("/"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 405);
    assert_int_equal(resp_hdr(&r, "connection", NULL, 0), 0);
    cl_expect(&c, 200, "ok /");
    /* A 404 whose body comes in pieces after the answer. */
    cl_send(&c, "PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n"
                "\r\n0123");
    cl_expect(&c, 404, "404 Not Found\n");
    run_for(&t, 10);
    cl_send(&c, "456789abcdefghijklmnopqrstuvwxyz" /* 4 + 60 bytes */
                "0123456789abcdefghijklmnopqr" REQ("/"));
    cl_expect(&c, 200, "ok /");
    assert_false(c.eof);
    assert_int_equal(x.calls, 2);
    assert_int_equal(srv_stats(&t).connections_total, 1);
    cl_close(&c);

    REFUSED(&t,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n"
            "0123456789" REQ("/"),
            405);
    REFUSED(&t,
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "\r\n5\r\nhello\r\n0\r\n\r\n" REQ("/"),
            405);
    REFUSED(&t,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            "Expect: 100-continue\r\n\r\n",
            405);
    assert_int_equal(x.calls, 2);
    resp_free(&r);
    srv_finish(&t);
}

/* A lingering close is bounded: a client that never sends its EOF is
 * closed linger_ms after the answer went out, and one that keeps sending
 * once max_linger_bytes were dropped. */
static void test_linger_bounds(void **state)
{
    size_t n = 4u << 20, piece = 16384, sent = 0;
    char *body = calloc(1, piece);
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;
    uint64_t waited;
    char head[128];

    (void)state;
    assert_non_null(body);
    o.linger_ms = TIMEOUT_MS;
    o.max_linger_bytes = 65536;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                "abc");
    cl_expect(&c, 405, NULL);
    cl_expect_closed(&c); /* our side of it: the server shut down writing */
    wait_no_connections(&t);
    waited = tu_now_ms() - c.eof_ms;
    if (waited + 20 < TIMEOUT_MIN || waited > TIMEOUT_MAX)
        fail_msg("closed %llu ms after the answer, not about %d",
                 (unsigned long long)waited, TIMEOUT_MS);
    cl_close(&c);

    snprintf(head, sizeof head,
             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
    cl_open(&t, &c);
    cl_send(&c, head);
    cl_expect(&c, 405, NULL);
    while (sent < n && cl_sendn(&c, body, piece) == 0)
        sent += piece;
    wait_no_connections(&t);
    assert_true(srv_stats(&t).bytes_in < 512 * 1024);
    cl_close(&c);
    free(body);
    srv_finish(&t);
}

/* --- clients that half-close
 * -------------------------------------------------- */

static void h_delayed_tell(eddy_http_request *req, void *arg)
{
    eddy_http_on_close(req, on_req_close, arg);
    h_delayed(req, arg);
}

/* A client that shuts down its sending side after whole requests waits
 * for the answers (`printf 'GET / HTTP/1.0\r\n\r\n' | nc -N`): an
 * asynchronous handler's come, in order, then the close.  (They used to
 * be lost: the EOF was taken for a client gone, on_close ran, nothing
 * was sent.)  The same for a handler that answers at once. */
static void test_half_close_answered(void **state)
{
    static const struct {
        const char *req, *first, *second;
    } cases[] = {
        {"GET /d/30/a HTTP/1.0\r\n\r\n", "/d/30/a", NULL},
        {REQ("/d/30/b"), "/d/30/b", NULL},
        {REQ("/d/20/c") REQ("/d/0/d"), "/d/20/c", "/d/0/d"},
        {"GET /now HTTP/1.0\r\n\r\n", "ok /now", NULL},
        {REQ("/now") REQ("/d/10/e"), "ok /now", "/d/10/e"},
    };
    tsrv t;
    hctx x = {0};
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/d/", EDDY_ROUTE_PREFIX, h_delayed_tell, &x);
    srv_route(&t, "GET", "/now", 0, h_rec, &x);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cl_open(&t, &c);
        cl_send(&c, cases[i].req);
        assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
        cl_expect(&c, 200, cases[i].first);
        if (cases[i].second != NULL)
            cl_expect(&c, 200, cases[i].second);
        cl_expect_closed(&c);
        assert_int_equal(c.err, 0);
        cl_close(&c);
    }
    assert_int_equal(x.closes, 0);
    wait_no_connections(&t);
    srv_finish(&t);
}

/* --- what errors say: body statuses, aborted responses, the log
 * --------------- */

static void on_body_status(eddy_http_request *req, int status, const char *data,
                           size_t len, int done, void *arg)
{
    hctx *x = arg;

    (void)data;
    (void)len;
    if (!done)
        return;
    x->body_status = status;
    x->dones++;
    x->finish_rc = status == -EPROTO
                       ? eddy_http_respond(req, 400, NULL, 0, "bad", 3)
                       : eddy_http_finish(req);
}

static void h_stream_status(eddy_http_request *req, void *arg)
{
    record(arg, req);
    assert_int_equal(eddy_http_read_body(req, on_body_status, arg), 0);
}

#define BODY_100                                                               \
    "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"

/* A streamed body's callback hears why the body ended, each reason with
 * its own status (EDDY_HTTP_TOO_LARGE: test_limit_body_size; -ECONNRESET:
 * test_client_gone_mid_body). */
static void test_body_callback_statuses(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;

    (void)state;
    o.body_timeout_ms = TIMEOUT_MS;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_stream_status, &x);
    /* -EPROTO: malformed chunked framing; answered with 400, closed. */
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "\r\n5\r\nhelloX");
    cl_expect(&c, 400, "bad");
    cl_expect_closed(&c);
    cl_close(&c);
    assert_int_equal(x.body_status, -EPROTO);
    assert_int_equal(x.finish_rc, 0);
    /* -ETIMEDOUT: no byte of the body within body_timeout_ms. */
    cl_open(&t, &c);
    cl_send(&c, BODY_100);
    assert_true(tu_run_until_count(t.loop, &x.dones, 2, RUN_ITER, RUN_MS));
    assert_int_equal(x.body_status, -ETIMEDOUT);
    assert_int_equal(x.finish_rc, -EPIPE);
    cl_wait_eof(&c);
    cl_close(&c);
    /* -ECANCELED: the shutdown's deadline passed. */
    cl_open(&t, &c);
    cl_send(&c, BODY_100);
    assert_true(tu_run_until_count(t.loop, &x.calls, 3, RUN_ITER, RUN_MS));
    eddy_http_server_shutdown(t.srv, 20, NULL, NULL);
    assert_true(tu_run_until_count(t.loop, &x.dones, 3, RUN_ITER, RUN_MS));
    assert_int_equal(x.body_status, -ECANCELED);
    assert_int_equal(x.finish_rc, -EPIPE);
    cl_close(&c);
    srv_finish(&t);
    /* -ECANCELED: the server is freed. */
    srv_start(&t, &o);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_stream_status, &x);
    cl_open(&t, &c);
    cl_send(&c, BODY_100);
    assert_true(tu_run_until_count(t.loop, &x.calls, 4, RUN_ITER, RUN_MS));
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    assert_int_equal(x.dones, 4);
    assert_int_equal(x.body_status, -ECANCELED);
    assert_int_equal(x.finish_rc, -EPIPE);
    cl_close(&c);
    srv_finish(&t);
}

/* A response that did not go out whole reaches the access log and the
 * stats, marked aborted, with the bytes that did. */
static void test_aborted_logged(void **state)
{
    size_t n = 16u << 20; /* more than the socket buffers hold */
    char *body = calloc(1, n);
    tsrv t;
    hctx x = {0}, y = {0};
    alog a = {0};
    eddy_http_options o = {0};
    client c;
    eddy_http_stats st;
    int calls;

    (void)state;
    assert_non_null(body);
    o.access_log = access_log;
    o.access_log_arg = &a;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/hold", 0, h_hold_tell, &x);
    srv_route(&t, "GET", "/short", 0, h_short, &y);
    srv_route(&t, "GET", "/ok", 0, h_rec, &y);
    /* Gone in the middle of an answer it did not read: the kernel took
     * part of it, the rest was still queued. */
    cl_open(&t, &c);
    cl_send(&c, REQ("/hold"));
    wait_held(&t, &x, 1);
    cl_pause(&c);
    assert_int_equal(
        eddy_http_start_response(x.held[0], 200, NULL, NULL, 0, (int64_t)n), 0);
    assert_int_equal(eddy_http_write(x.held[0], body, n, NULL, NULL), 0);
    run_for(&t, 20);
    cl_resume(&c);
    cl_reset(&c);
    assert_true(
        tu_run_until(t.loop, closes_at_least_one, &x, RUN_ITER, RUN_MS));
    assert_int_equal(eddy_http_finish(x.held[0]), -EPIPE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.last_aborted, 1);
    assert_int_equal(a.last_status, 200);
    assert_true(a.last_bytes > 0 && a.last_bytes < n);
    st = srv_stats(&t);
    assert_int_equal(st.requests, 1);
    assert_int_equal(st.aborted, 1);
    assert_true(st.bytes_out > a.last_bytes && st.bytes_out < n);
    /* Short of its Content-Length: aborted too, with the bytes it sent. */
    cl_open(&t, &c);
    cl_send(&c, REQ("/short"));
    cl_wait_eof(&c);
    cl_close(&c);
    assert_int_equal(a.calls, 2);
    assert_int_equal(a.last_aborted, 1);
    assert_int_equal(a.last_bytes, 5);
    assert_int_equal(srv_stats(&t).aborted, 2);
    /* A whole answer is not. */
    cl_open(&t, &c);
    cl_send(&c, REQ("/ok"));
    cl_expect(&c, 200, "ok /ok");
    cl_close(&c);
    assert_int_equal(a.calls, 3);
    assert_int_equal(a.last_aborted, 0);
    assert_int_equal(srv_stats(&t).aborted, 2);
    /* A request whose client left and whose server was freed since is
     * finished without reaching either. */
    hold_then_reset(&t, &x, &c, "/hold");
    calls = a.calls;
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    assert_int_equal(eddy_http_finish(x.held[1]), -EPIPE);
    assert_int_equal(a.calls, calls);
    free(body);
    srv_finish(&t);
}

/* The log names the rule that a refused request broke (through the
 * loop's log hook); the answer stays generic. */
static void test_refusal_names_rule(void **state)
{
    static const struct {
        const char *req, *rule;
        int status;
    } cases[] = {
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n",
         "Content-Length: not digits only", 400},
        {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 without Host", 400},
        {"GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n",
         "header name not a token", 400},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
         "Transfer-Encoding other than one chunked", 501},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhelloX",
         "POST /echo from 127.0.0.1: chunk data not followed by CRLF", 400},
    };
    tsrv t;
    hctx x = {0};
    tu_log log;
    client c;
    resp r = {0};
    char generic[64];

    (void)state;
    srv_start(&t, NULL);
    tu_log_attach(t.loop, &log);
    srv_route(&t, "POST", "/echo", 0, h_echo, &x);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cl_open(&t, &c);
        cl_send(&c, cases[i].req);
        assert_true(cl_response(&c, &r));
        assert_int_equal(r.status, cases[i].status);
        snprintf(generic, sizeof generic, "%d %s\n", cases[i].status,
                 eddy_http_reason(cases[i].status));
        assert_string_equal(r.body, generic);
        assert_true(resp_has(&r, "content-type", "text/plain"));
        if (strstr(log.last, cases[i].rule) == NULL)
            fail_msg("the log said [%s], not [%s]", log.last, cases[i].rule);
        assert_int_equal(log.last_level, EDDY_LOG_INFO);
        cl_expect_closed(&c);
        cl_close(&c);
    }
    assert_int_equal(x.calls, 0);
    resp_free(&r);
    srv_finish(&t);
}

/* The server's own answers: text/plain, and Allow lists each method once,
 * HEAD wherever GET is. */
static void test_server_replies(void **state)
{
    tsrv t;
    hctx x = {0};
    eddy_http_options o = {0};
    client c;
    resp r = {0};

    (void)state;
    o.max_body_size = 4;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/m", 0, h_rec, &x);
    srv_route(&t, "GET", "/m", EDDY_ROUTE_PREFIX, h_rec, &x);
    srv_route(&t, "PUT", "/m", 0, h_rec, &x);
    cl_open(&t, &c);
    cl_send(&c, "DELETE /m HTTP/1.1\r\nHost: x\r\n\r\n" REQ("/x"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 405);
    assert_true(resp_has(&r, "allow", "GET, HEAD, PUT"));
    assert_true(resp_has(&r, "content-type", "text/plain"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 404);
    assert_true(resp_has(&r, "content-type", "text/plain"));
    assert_int_equal(resp_hdr(&r, "allow", NULL, 0), 0);
    cl_send(&c, "PUT /m HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 413);
    assert_true(resp_has(&r, "content-type", "text/plain"));
    cl_expect_closed(&c);
    assert_int_equal(x.calls, 0);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* --- the TCP server underneath -------------------------------------------- */

/* The server accepts through a TCP server, which tells its port and
 * counters; sockets given after a shutdown began are refused, and a
 * refused set is left whole to the caller. */
static void test_server_tcp(void **state)
{
    tsrv t;
    hctx x = {0};
    client c;
    const eddy_tcp_server *tcp;
    eddy_tcp_server_stats st;
    int fds[2] = {-1, -1};
    size_t n;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    tcp = eddy_http_server_tcp(t.srv);
    assert_non_null(tcp);
    assert_ptr_equal(eddy_tcp_server_loop(tcp), t.loop);
    assert_int_equal(eddy_tcp_server_port(tcp), t.port);
    cl_open(&t, &c);
    cl_send(&c, REQ("/"));
    cl_expect(&c, 200, "ok /");
    eddy_tcp_server_get_stats(tcp, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.connections_total, 1);
    assert_true(st.accepting);
    cl_close(&c);
    wait_no_connections(&t);
    /* -EBADF: none of the fds is taken, the good one is still ours. */
    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, fds, 1, &n), 0);
    fds[1] = 1000;
    assert_int_equal(eddy_http_server_add_sockets(t.srv, fds, 2), -EBADF);
    assert_true(fcntl(fds[0], F_GETFD) >= 0);
    /* After a shutdown began: -ESHUTDOWN, and the fd is still ours. */
    eddy_http_server_shutdown(t.srv, RUN_MS, on_done, &t);
    assert_int_equal(eddy_http_server_add_sockets(t.srv, fds, 1), -ESHUTDOWN);
    assert_int_equal(eddy_http_server_listen(t.srv, 0, "127.0.0.1"),
                     -ESHUTDOWN);
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    assert_int_equal(tcp_connect(t.port), -ECONNREFUSED);
    assert_int_equal(close(fds[0]), 0);
    srv_finish(&t);
}

/* --- pausing a streamed body ------------------------------------------- */

/* An upload, checked byte by byte against the pattern it was sent in. */
typedef struct upload {
    eddy_http_request *req;
    uint64_t got, bad;
    int pieces, dones, status;
    int pause_rc;
    int pause_first; /* pause after the first piece */
} upload;

static unsigned char up_byte(uint64_t i)
{
    return (unsigned char)(i * 7 + (i >> 11));
}

static void on_upload_piece(eddy_http_request *req, int status,
                            const char *data, size_t len, int done, void *arg)
{
    upload *u = arg;
    char body[64];
    int n;

    for (size_t i = 0; i < len; i++)
        u->bad += (unsigned char)data[i] != up_byte(u->got + i);
    u->got += len;
    if (!done) {
        if (++u->pieces == 1 && u->pause_first)
            u->pause_rc = eddy_http_pause_body(req);
        return;
    }
    u->dones++;
    u->status = status;
    n = snprintf(body, sizeof body, "%llu %llu", (unsigned long long)u->got,
                 (unsigned long long)u->bad);
    eddy_http_respond(req, status == 0 ? 200 : 500, NULL, 0, body, (size_t)n);
}

static void h_upload(eddy_http_request *req, void *arg)
{
    upload *u = arg;

    u->req = req;
    assert_int_equal(eddy_http_read_body(req, on_upload_piece, u), 0);
}

/* Sends what the socket takes of p[*off, n) while the loop runs, until
 * all is sent or the socket took nothing for 20 tries in a row. */
static void push(client *c, const char *p, size_t n, size_t *off)
{
    uint64_t end = tu_now_ms() + RUN_MS;
    int stalls = 0;

    while (*off < n && stalls < 20 && tu_now_ms() < end) {
        ssize_t k = send(c->fd, p + *off, n - *off, MSG_NOSIGNAL);

        if (k > 0) {
            *off += (size_t)k;
            stalls = 0;
            continue;
        }
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        stalls++;
        assert_int_equal(eddy_loop_run_once(c->loop, 5), 0);
    }
}

/* A fast uploader and a handler that pauses after the first piece: the
 * server stops reading (what it read stays within one read, while the
 * client pushed far more), the body timeout does not fire while paused,
 * and resuming delivers the rest intact. */
static void test_pause_body_upload(void **state)
{
    size_t n = (tu_valgrind() ? 2 : 8) << 20, off = 0;
    char *body = malloc(n), head[128];
    eddy_http_options o = {0};
    upload u = {0};
    tsrv t;
    client c;
    uint64_t in;

    (void)state;
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)up_byte(i);
    o.body_timeout_ms = 100;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_upload, &u);
    u.pause_first = 1;
    cl_open(&t, &c);
    snprintf(head, sizeof head,
             "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
    cl_send(&c, head);
    push(&c, body, n, &off);
    run_for(&t, 300); /* three body timeouts */
    push(&c, body, n, &off);
    in = srv_stats(&t).bytes_in;
    assert_int_equal(u.pause_rc, 0);
    assert_int_equal(u.pieces, 1);
    assert_true(u.got <= 64 * 1024);
    assert_true(in <= strlen(head) + 64 * 1024);
    assert_true(off >= 1024 * 1024); /* the kernel holds the rest */
    assert_false(c.eof);
    assert_int_equal(srv_stats(&t).connections, 1);
    /* Paused twice is paused once. */
    assert_int_equal(eddy_http_pause_body(u.req), 0);
    assert_int_equal(eddy_http_resume_body(u.req), 0);
    assert_int_equal(eddy_http_resume_body(u.req), 0); /* not paused */
    assert_int_equal(u.pieces, 1); /* never inside the call */
    assert_int_equal(cl_sendn(&c, body + off, n - off), 0);
    snprintf(head, sizeof head, "%zu 0", n);
    cl_expect(&c, 200, head);
    assert_int_equal(u.dones, 1);
    assert_int_equal(u.got, n);
    assert_int_equal(u.bad, 0);
    /* The connection goes on, reading again. */
    u = (upload){0};
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
    assert_int_equal(cl_sendn(&c, body, 3), 0);
    cl_expect(&c, 200, "3 0");
    cl_close(&c);
    srv_finish(&t);
    free(body);
}

static int got_request(void *arg)
{
    return *(eddy_http_request **)arg != NULL;
}

/* Answers from the first piece, with the body paused and not read: the
 * pause ends with the request, so the lingering close reads the rest and
 * sees the client's EOF (linger_ms alone would take a minute). */
static void on_piece_pause_answer(eddy_http_request *req, int status,
                                  const char *data, size_t len, int done,
                                  void *arg)
{
    upload *u = arg;

    (void)status;
    (void)data;
    (void)len;
    if (done)
        return;
    u->pieces++;
    u->pause_rc = eddy_http_pause_body(req);
    u->status = eddy_http_respond(req, 413, NULL, 0, "enough", 6);
}

static void h_pause_answer(eddy_http_request *req, void *arg)
{
    assert_int_equal(eddy_http_read_body(req, on_piece_pause_answer, arg), 0);
}

static void test_pause_then_answer(void **state)
{
    eddy_http_options o = {0};
    upload u = {0};
    tsrv t;
    client c;
    resp r = {0};

    (void)state;
    o.linger_ms = 60000;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_pause_answer, &u);
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                "part");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 413);
    assert_int_equal(u.pause_rc, 0);
    assert_int_equal(u.status, 0);
    cl_wait_eof(&c); /* the server shut down its side */
    cl_send(&c, "more of the body");
    assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
    wait_no_connections(&t);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* Pausing before the body is read: nothing comes until resumed, and the
 * body timeout waits too. */
static void h_pause_then_read(eddy_http_request *req, void *arg)
{
    upload *u = arg;

    u->req = req;
    u->pause_rc = eddy_http_pause_body(req);
    assert_int_equal(eddy_http_read_body(req, on_upload_piece, u), 0);
}

/* A route that reads its body whole cannot pause it. */
static void h_pause_einval(eddy_http_request *req, void *arg)
{
    upload *u = arg;

    u->pause_rc = eddy_http_pause_body(req);
    assert_int_equal(eddy_http_resume_body(req), -EINVAL);
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, "whole", 5), 0);
}

static void on_upload_close(eddy_http_request *req, void *arg)
{
    (void)req;
    ((upload *)arg)->dones += 10;
}

static void h_pause_hold(eddy_http_request *req, void *arg)
{
    upload *u = arg;

    u->req = req;
    eddy_http_on_close(req, on_upload_close, u);
    if (u->pause_first)
        u->pause_rc = eddy_http_pause_body(req);
}

static void test_pause_body_errors(void **state)
{
    eddy_http_options o = {0};
    upload u = {0};
    char five[5];
    tsrv t;
    client c;

    (void)state;
    for (size_t i = 0; i < sizeof five; i++)
        five[i] = (char)up_byte(i);
    o.body_timeout_ms = 50;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/later", EDDY_ROUTE_STREAM, h_pause_then_read, &u);
    srv_route(&t, "POST", "/whole", 0, h_pause_einval, &u);
    srv_route(&t, "POST", "/hold", EDDY_ROUTE_STREAM, h_pause_hold, &u);
    cl_open(&t, &c);
    cl_send(&c, "POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    assert_int_equal(cl_sendn(&c, five, sizeof five), 0);
    run_for(&t, 150);
    assert_int_equal(u.pause_rc, 0);
    assert_int_equal(u.pieces, 0);
    assert_false(c.eof);
    assert_int_equal(eddy_http_resume_body(u.req), 0);
    cl_expect(&c, 200, "5 0");

    /* -EINVAL: not a streamed body; the request is answered after. */
    u = (upload){0};
    cl_send(&c,
            "POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok");
    cl_expect(&c, 200, "whole");
    assert_int_equal(u.pause_rc, -EINVAL);

    /* A body that arrived whole (none): pausing does nothing. */
    u = (upload){0};
    u.pause_first = 1;
    cl_send(&c, "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert_true(tu_run_until(t.loop, got_request, &u.req, RUN_ITER, RUN_MS));
    assert_int_equal(u.pause_rc, 0);
    assert_int_equal(eddy_http_respond(u.req, 200, NULL, 0, "none", 4), 0);
    cl_expect(&c, 200, "none");

    /* -EPIPE: the client went away; the request is finished after.  (Not
     * paused: select reports a reset only to a reader.) */
    u = (upload){0};
    cl_send(&c, "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n");
    assert_true(tu_run_until(t.loop, got_request, &u.req, RUN_ITER, RUN_MS));
    cl_reset(&c);
    assert_true(tu_run_until_count(t.loop, &u.dones, 10, RUN_ITER, RUN_MS));
    assert_int_equal(eddy_http_pause_body(u.req), -EPIPE);
    assert_int_equal(eddy_http_resume_body(u.req), -EPIPE);
    assert_int_equal(eddy_http_finish(u.req), -EPIPE);
    srv_finish(&t);
}

/* --- upgrade ----------------------------------------------------------------
 */

/* A handler that switches to an echo protocol, and that protocol on the
 * stream it takes. */
typedef struct upx {
    eddy_http_upgrade_cb cb;      /* what the handler gives (on_upgraded) */
    const eddy_http_header *hdrs; /* ... and its headers */
    size_t nhdrs;
    int hold;    /* keep the request instead */
    int no_read; /* the protocol only watches for close */
    int answer;  /* status to answer with after an error */
    int calls, rc, answer_rc;
    eddy_http_request *held;
    int ups, null_ups;          /* upgrade callbacks, with no stream */
    int in_call;                /* eddy_http_upgrade() is running */
    eddy_stream *s;             /* the stream taken, until it closed */
    eddy_http_server *free_srv; /* up_from_timer frees it first */
    char left[64];
    size_t left_len;
    int closes, close_status;
} upx;

static const eddy_http_header up_echo[] = {EDDY_HEADER("Upgrade", "echo")};

static void up_read(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    if (status < 0)
        return; /* the close callback tells */
    assert_int_equal(eddy_stream_write(s, data, len, NULL, NULL), 0);
    assert_int_equal(eddy_stream_read_bytes(s, 4096, 1, up_read, arg), 0);
}

static void up_closed(eddy_stream *s, int status, void *arg)
{
    upx *u = arg;

    (void)s;
    u->closes++;
    u->close_status = status;
    u->s = NULL;
}

static void on_upgraded(eddy_stream *s, const char *leftover, size_t len,
                        void *arg)
{
    upx *u = arg;

    assert_false(u->in_call);
    u->ups++;
    if (s == NULL) {
        assert_int_equal(len, 0);
        u->null_ups++;
        return;
    }
    u->s = s;
    assert_true(len < sizeof u->left);
    memcpy(u->left, leftover, len);
    u->left_len = len;
    assert_false(eddy_stream_reading(s));
    eddy_stream_set_close_callback(s, up_closed, u);
    if (u->no_read)
        return;
    if (len > 0)
        assert_int_equal(eddy_stream_write(s, leftover, len, NULL, NULL), 0);
    assert_int_equal(eddy_stream_read_bytes(s, 4096, 1, up_read, u), 0);
}

static int up_call(upx *u, eddy_http_request *req)
{
    u->in_call = 1;
    u->rc = eddy_http_upgrade(req, u->hdrs, u->nhdrs, u->cb, u);
    u->in_call = 0;
    return u->rc;
}

static void h_up(eddy_http_request *req, void *arg)
{
    upx *u = arg;

    u->calls++;
    if (u->hold) {
        u->held = req;
        return;
    }
    if (up_call(u, req) != 0 && u->rc != -EPIPE && u->answer != 0)
        u->answer_rc = eddy_http_respond(req, u->answer, NULL, 0, "no", 2);
}

static void upx_init(upx *u)
{
    memset(u, 0, sizeof *u);
    u->cb = on_upgraded;
    u->hdrs = up_echo;
    u->nhdrs = 1;
}

#define UPGRADE(path)                                                          \
    "GET " path " HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n"                    \
    "Connection: keep-alive, Upgrade\r\n\r\n"

/* Waits until the client received text after its responses. */
typedef struct want_text {
    client *c;
    const char *text;
} want_text;

static int has_text(void *arg)
{
    want_text *w = arg;

    return strstr(cl_rest(w->c), w->text) != NULL || w->c->eof;
}

static void cl_expect_text(client *c, const char *text)
{
    want_text w = {c, text};

    assert_true(tu_run_until(c->loop, has_text, &w, RUN_ITER, RUN_MS));
    if (strcmp(cl_rest(c), text) != 0)
        fail_msg("wanted [%s], got [%s]", text, cl_rest(c));
    c->off = c->len;
}

static int upx_closed(void *arg)
{
    return ((upx *)arg)->closes > 0;
}

/* 101, then bytes both ways over the stream taken: the bytes sent right
 * behind the head first.  The HTTP server forgets the connection (its
 * shutdown does not wait for it, its free leaves it open); the TCP server
 * counts it until it closes. */
static void test_upgrade_echo(void **state)
{
    eddy_http_options o = {0};
    eddy_tcp_server_stats st;
    alog a = {0};
    upx u;
    tsrv t;
    client c;
    resp r = {0};

    (void)state;
    o.access_log = access_log;
    o.access_log_arg = &a;
    srv_start(&t, &o);
    upx_init(&u);
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/up") "first");
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 101);
    assert_string_equal(r.reason, "Switching Protocols");
    assert_true(resp_has(&r, "upgrade", "echo"));
    assert_true(resp_has(&r, "connection", "Upgrade"));
    assert_true(resp_has(&r, "server", "eddy"));
    assert_int_equal(resp_hdr(&r, "date", NULL, 0), 1);
    assert_int_equal(resp_hdr(&r, "content-length", NULL, 0), 0);
    cl_expect_text(&c, "first");
    assert_int_equal(u.rc, 0);
    assert_int_equal(u.ups, 1);
    assert_int_equal(u.left_len, 5);
    assert_memory_equal(u.left, "first", 5);
    /* Counted as a request, logged with 101; no HTTP connection left. */
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.last_status, 101);
    assert_int_equal(srv_stats(&t).requests, 1);
    assert_int_equal(srv_stats(&t).connections, 0);
    eddy_tcp_server_get_stats(eddy_http_server_tcp(t.srv), &st);
    assert_int_equal(st.connections, 1);
    cl_send(&c, "second");
    cl_expect_text(&c, "second");
    /* The server's shutdown neither waits for it nor closes it. */
    eddy_http_server_shutdown(t.srv, RUN_MS, on_done, &t);
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    cl_send(&c, "third");
    cl_expect_text(&c, "third");
    /* Nor does freeing the server. */
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    cl_send(&c, "fourth");
    cl_expect_text(&c, "fourth");
    cl_close(&c);
    assert_true(tu_run_until(t.loop, upx_closed, &u, RUN_ITER, RUN_MS));
    assert_int_equal(u.close_status, EDDY_EOF);
    resp_free(&r);
    srv_finish(&t);
}

/* The stream taken is not half-open any more: a client that shuts down
 * its sending side while the protocol reads nothing closes it. */
static void test_upgrade_not_half_open(void **state)
{
    upx u;
    tsrv t;
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    upx_init(&u);
    u.no_read = 1;
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/up"));
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 101);
    assert_int_equal(u.ups, 1);
    assert_int_equal(u.left_len, 0);
    assert_int_equal(shutdown(c.fd, SHUT_WR), 0);
    assert_true(tu_run_until(t.loop, upx_closed, &u, RUN_ITER, RUN_MS));
    assert_int_equal(u.close_status, EDDY_EOF);
    cl_expect_closed(&c);
    resp_free(&r);
    cl_close(&c);
    srv_finish(&t);
}

/* 8 MiB: more than the sockets hold (the server's send buffer grows to
 * 4 MiB at most, tcp_wmem, and the client's receive buffer is fixed). */
#define BLOB (8 << 20)

static void h_blob(eddy_http_request *req, void *arg)
{
    static char blob[BLOB];

    (void)arg;
    memset(blob, 'b', sizeof blob);
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, blob, sizeof blob),
                     0);
}

static int got_blob_and_more(void *arg)
{
    return ((client *)arg)->len > BLOB + 200;
}

/* Requests pipelined before the upgrade are answered first, and the
 * stream is handed over only once their answers are out (the client
 * reads nothing for a while, so megabytes wait in the server). */
static void test_upgrade_after_pipelined(void **state)
{
    int rcvbuf = 65536;
    hctx x = {0};
    upx u;
    tsrv t;
    client c;

    (void)state;
    srv_start(&t, NULL);
    upx_init(&u);
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    srv_route(&t, "GET", "/blob", 0, h_blob, NULL);
    cl_open(&t, &c);
    cl_send(&c, REQ("/") UPGRADE("/up") "one");
    cl_expect(&c, 200, "ok /");
    cl_expect(&c, 101, NULL);
    cl_expect_text(&c, "one");
    assert_int_equal(u.ups, 1);
    cl_close(&c);
    assert_true(tu_run_until(t.loop, upx_closed, &u, RUN_ITER, RUN_MS));

    upx_init(&u);
    cl_open(&t, &c);
    assert_int_equal(
        setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    cl_pause(&c);
    cl_send(&c, REQ("/blob") UPGRADE("/up") "two");
    run_for(&t, 50);
    assert_int_equal(u.rc, 0);
    assert_int_equal(u.ups, 0); /* the blob is still queued */
    cl_resume(&c);
    assert_true(tu_run_until(t.loop, got_blob_and_more, &c, RUN_ITER, RUN_MS));
    cl_expect(&c, 200, NULL);
    cl_expect(&c, 101, NULL);
    cl_expect_text(&c, "two");
    assert_int_equal(u.ups, 1);
    assert_int_equal(u.left_len, 3);
    cl_close(&c);
    assert_true(tu_run_until(t.loop, upx_closed, &u, RUN_ITER, RUN_MS));
    srv_finish(&t);
}

/* An upgraded connection still counts against max_connections. */
static void test_upgrade_counts_for_max_connections(void **state)
{
    eddy_http_options o = {0};
    hctx x = {0};
    upx u;
    tsrv t;
    client a, b;
    resp r = {0};

    (void)state;
    o.max_connections = 1;
    srv_start(&t, &o);
    upx_init(&u);
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    srv_route(&t, "GET", "/", 0, h_rec, &x);
    cl_open(&t, &a);
    cl_send(&a, UPGRADE("/up"));
    assert_true(cl_response(&a, &r));
    assert_int_equal(r.status, 101);
    cl_open(&t, &b);
    cl_send(&b, REQ("/"));
    run_for(&t, 100);
    assert_int_equal(b.len, 0);
    assert_int_equal(x.calls, 0);
    cl_close(&a);
    cl_expect(&b, 200, "ok /");
    resp_free(&r);
    cl_close(&b);
    srv_finish(&t);
}

/* Sends req, expects the status answered after the upgrade was refused
 * with rc. */
static void up_refused(client *c, upx *u, const char *req, int rc, int status)
{
    int calls = u->calls;

    cl_send(c, req);
    cl_expect(c, status, "no");
    assert_int_equal(u->calls, calls + 1);
    assert_int_equal(u->rc, rc);
    assert_int_equal(u->answer_rc, 0);
    assert_int_equal(u->ups, 0);
}

/* Each error that leaves the request as it was, and the answer after. */
static void test_upgrade_refusals(void **state)
{
    static const eddy_http_header none[] = {EDDY_HEADER("X-A", "b")};
    static const eddy_http_header framing[] = {EDDY_HEADER("Upgrade", "echo"),
                                               EDDY_HEADER("Connection", "x")};
    static const eddy_http_header bad[] = {EDDY_HEADER("Upgrade", "e\r\nX: y")};
    upx u;
    tsrv t;
    client c;

    (void)state;
    srv_start(&t, NULL);
    upx_init(&u);
    u.answer = 500;
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    cl_open(&t, &c);
    u.cb = NULL;
    up_refused(&c, &u, UPGRADE("/up"), -EINVAL, 500);
    u.cb = on_upgraded;
    u.hdrs = none;
    up_refused(&c, &u, UPGRADE("/up"), -EINVAL, 500);
    u.hdrs = framing;
    u.nhdrs = 2;
    up_refused(&c, &u, UPGRADE("/up"), -EINVAL, 500);
    u.hdrs = bad;
    u.nhdrs = 1;
    up_refused(&c, &u, UPGRADE("/up"), -EINVAL, 500);
    u.hdrs = up_echo;
    u.answer = 400;
    /* -EPROTO: not asked for in HTTP/1.1 terms. */
    up_refused(&c, &u, REQ("/up"), -EPROTO, 400);
    up_refused(&c, &u,
               "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n"
               "Connection: keep-alive\r\n\r\n",
               -EPROTO, 400);
    up_refused(&c, &u,
               "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade:\r\n"
               "Connection: upgrade\r\n\r\n",
               -EPROTO, 400);
    up_refused(&c, &u,
               "GET /up HTTP/1.0\r\nUpgrade: echo\r\nConnection: upgrade, "
               "keep-alive\r\n\r\n",
               -EPROTO, 400);
    /* The connection is still HTTP's and goes on. */
    u.answer = 0;
    cl_send(&c, UPGRADE("/up") "hi");
    cl_expect(&c, 101, NULL);
    cl_expect_text(&c, "hi");
    cl_close(&c);
    assert_true(tu_run_until(t.loop, upx_closed, &u, RUN_ITER, RUN_MS));
    srv_finish(&t);
}

/* -EALREADY: a response was started; it goes on. */
static void h_up_started(eddy_http_request *req, void *arg)
{
    upx *u = arg;

    assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, 2), 0);
    up_call(u, req);
    assert_int_equal(eddy_http_write(req, "ok", 2, NULL, NULL), 0);
    u->answer_rc = eddy_http_finish(req);
}

/* -EBUSY: the body is not read yet; read it, then upgrade at its end. */
static void on_up_body(eddy_http_request *req, int status, const char *data,
                       size_t len, int done, void *arg)
{
    upx *u = arg;

    (void)data;
    u->left_len += len;
    if (done && status == 0)
        up_call(u, req);
}

static void h_up_body(eddy_http_request *req, void *arg)
{
    upx *u = arg;

    u->calls++;
    assert_int_equal(up_call(u, req), -EBUSY);
    assert_int_equal(eddy_http_read_body(req, on_up_body, u), 0);
}

static void test_upgrade_started_and_body(void **state)
{
    upx u;
    tsrv t;
    client c;

    (void)state;
    srv_start(&t, NULL);
    upx_init(&u);
    srv_route(&t, "GET", "/started", 0, h_up_started, &u);
    srv_route(&t, "POST", "/body", EDDY_ROUTE_STREAM, h_up_body, &u);
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/started"));
    cl_expect(&c, 200, "ok");
    assert_int_equal(u.rc, -EALREADY);
    assert_int_equal(u.answer_rc, 0);
    /* The body's 5 bytes are HTTP's; what follows is the protocol's. */
    cl_send(&c, "POST /body HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n"
                "Connection: Upgrade\r\nContent-Length: 5\r\n\r\nhelloafter");
    cl_expect(&c, 101, NULL);
    cl_expect_text(&c, "after");
    assert_int_equal(u.rc, 0);
    assert_int_equal(u.ups, 1);
    assert_int_equal(u.left_len, 5);
    assert_memory_equal(u.left, "after", 5);
    cl_close(&c);
    assert_true(tu_run_until(t.loop, upx_closed, &u, RUN_ITER, RUN_MS));
    srv_finish(&t);
}

static int upx_held(void *arg)
{
    return ((upx *)arg)->held != NULL;
}

/* -ESHUTDOWN: answer otherwise; -EPIPE: the request is finished. */
static void test_upgrade_shutdown_and_gone(void **state)
{
    eddy_http_options o = {0};
    alog a = {0};
    upx u;
    tsrv t;
    client c;
    resp r = {0};

    (void)state;
    o.access_log = access_log;
    o.access_log_arg = &a;
    srv_start(&t, &o);
    upx_init(&u);
    u.hold = 1;
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/up"));
    assert_true(tu_run_until(t.loop, upx_held, &u, RUN_ITER, RUN_MS));
    eddy_http_server_shutdown(t.srv, RUN_MS, on_done, &t);
    assert_int_equal(up_call(&u, u.held), -ESHUTDOWN);
    assert_int_equal(eddy_http_respond(u.held, 503, NULL, 0, "later", 5), 0);
    assert_true(cl_response(&c, &r));
    assert_int_equal(r.status, 503);
    assert_true(resp_has(&r, "connection", "close"));
    cl_expect_closed(&c);
    assert_true(tu_run_until(t.loop, done_once, &t, RUN_ITER, RUN_MS));
    cl_close(&c);
    srv_finish(&t);

    srv_start(&t, &o);
    upx_init(&u);
    u.hold = 1;
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/up"));
    assert_true(tu_run_until(t.loop, upx_held, &u, RUN_ITER, RUN_MS));
    cl_reset(&c);
    wait_no_connections(&t);
    a.calls = a.aborted = 0;
    assert_int_equal(up_call(&u, u.held), -EPIPE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.aborted, 1);
    assert_int_equal(a.last_status, 101);
    assert_int_equal(srv_stats(&t).aborted, 1);
    run_for(&t, 10);
    assert_int_equal(u.ups, 0);
    resp_free(&r);
    srv_finish(&t);
}

/* Upgrades from a timer: handed over in a later callback.  When the
 * connection closes first, or the server is freed first, the callback
 * comes with no stream. */
static void up_from_timer(eddy_loop *loop, void *arg)
{
    upx *u = arg;

    (void)loop;
    assert_int_equal(up_call(u, u->held), 0);
    assert_int_equal(u->ups, 0);
    if (u->free_srv != NULL) { /* the server goes before the hand-over */
        eddy_http_server_free(u->free_srv);
        assert_int_equal(u->null_ups, 1);
    }
}

static void test_upgrade_handed_over_later(void **state)
{
    upx u;
    tsrv t;
    client c;

    (void)state;
    srv_start(&t, NULL);
    upx_init(&u);
    u.hold = 1;
    srv_route(&t, "GET", "/up", 0, h_up, &u);
    /* From a timer: the stream comes in a later callback. */
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/up") "early");
    assert_true(tu_run_until(t.loop, upx_held, &u, RUN_ITER, RUN_MS));
    assert_int_equal(eddy_loop_call_later(t.loop, 10, up_from_timer, &u, NULL),
                     0);
    cl_expect(&c, 101, NULL);
    cl_expect_text(&c, "early");
    assert_int_equal(u.ups, 1);
    assert_int_equal(u.null_ups, 0);
    cl_close(&c);
    assert_true(tu_run_until(t.loop, upx_closed, &u, RUN_ITER, RUN_MS));

    /* The client resets before the hand-over (the reset is in before the
     * timer runs, and read right after it). */
    upx_init(&u);
    u.hold = 1;
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/up"));
    assert_true(tu_run_until(t.loop, upx_held, &u, RUN_ITER, RUN_MS));
    cl_reset(&c);
    assert_int_equal(eddy_loop_call_later(t.loop, 0, up_from_timer, &u, NULL),
                     0);
    assert_true(tu_run_until_count(t.loop, &u.ups, 1, RUN_ITER, RUN_MS));
    assert_int_equal(u.null_ups, 1);
    assert_int_equal(u.rc, 0);
    wait_no_connections(&t);

    /* The server is freed before the hand-over. */
    upx_init(&u);
    u.hold = 1;
    u.free_srv = t.srv;
    cl_open(&t, &c);
    cl_send(&c, UPGRADE("/up"));
    assert_true(tu_run_until(t.loop, upx_held, &u, RUN_ITER, RUN_MS));
    assert_int_equal(eddy_loop_call_later(t.loop, 0, up_from_timer, &u, NULL),
                     0);
    t.srv = NULL;
    cl_wait_eof(&c);
    assert_int_equal(u.ups, 1);
    assert_int_equal(u.null_ups, 1);
    cl_close(&c);
    srv_finish(&t);
}

/* --- main ---------------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_reason),
        tu_test(test_cpu_count_and_task_id),
        tu_test(test_bind_ipv4),
        tu_test(test_bind_all_families),
        tu_test(test_bind_ipv6),
        cmocka_unit_test_setup_teardown(test_bind_without_ipv6, tu_fd_setup,
                                        ipv6_teardown),
        tu_test(test_bind_reuseport),
        tu_test(test_bind_errors),
        tu_test(test_bind_unix_socket),
        tu_test(test_listen),
        tu_test(test_route_errors),
        tu_test(test_keepalive_http11),
        tu_test(test_http10_closes_by_default),
        tu_test(test_http10_keepalive),
        tu_test(test_connection_close_honoured),
        tu_test(test_pipelining),
        tu_test(test_pipelining_async_reverse),
        tu_test(test_byte_at_a_time),
        tu_test(test_head),
        tu_test(test_expect_continue),
        tu_test(test_expect_too_large),
        tu_test(test_expect_stream_reads),
        tu_test(test_expect_stream_refused),
        tu_test(test_chunked_request_body),
        tu_test(test_stream_body_pieces),
        tu_test(test_chunked_response),
        tu_test(test_close_delimited_http10),
        tu_test(test_chunked_response_paced),
        tu_test(test_client_gone_mid_response),
        tu_test(test_large_body_behind_slow_request),
        tu_test(test_async_finish_from_timer),
        tu_test(test_client_gone_before_finish),
        tu_test(test_finish_in_on_close),
        tu_test(test_client_gone_mid_body),
        tu_test(test_routing),
        tu_test(test_request_api),
        tu_test(test_remote_ip_ipv6),
        tu_test(test_xheaders_off),
        tu_test(test_xheaders_on),
        tu_test(test_response_date_and_server),
        tu_test(test_response_refusals),
        tu_test(test_content_length_mismatch),
        tu_test(test_204_304_no_body),
        tu_test(test_limit_header_size),
        tu_test(test_limit_uri_length),
        tu_test(test_limit_header_count),
        tu_test(test_limit_body_size),
        tu_test(test_header_timeout_slowloris),
        tu_test(test_body_timeout),
        tu_test(test_idle_timeout),
        tu_test(test_idle_timeout_slow_reader),
        tu_test(test_header_and_body_timeouts_not_idle),
        tu_test(test_max_connections),
        tu_test(test_bad_requests),
        tu_test(test_shutdown_graceful),
        tu_test(test_shutdown_keeps_queued_response),
        tu_test(test_shutdown_deadline),
        tu_test(test_shutdown_no_connections),
        tu_test(test_shutdown_from_handler),
        tu_test(test_stop_on_signals),
        tu_test(test_stop_on_signals_then_free),
        tu_test(test_fork_processes),
        tu_test(test_hello_example),
        tu_test(test_hello_processes),
        tu_test(test_respond_einval_then_500),
        tu_test(test_respond_ealready_then_write),
        tu_test(test_respond_epipe_finished),
        tu_test(test_start_response_einval_then_start),
        tu_test(test_start_response_ealready),
        tu_test(test_start_response_epipe_then_finish),
        tu_test(test_write_einval),
        tu_test(test_write_epipe_then_finish),
        tu_test(test_finish_epipe),
        tu_test(test_lingering_close_big_post),
        tu_test(test_close_without_linger),
        tu_test(test_discard_small_body),
        tu_test(test_linger_bounds),
        tu_test(test_half_close_answered),
        tu_test(test_body_callback_statuses),
        tu_test(test_aborted_logged),
        tu_test(test_refusal_names_rule),
        tu_test(test_server_replies),
        tu_test(test_server_tcp),
        tu_test(test_pause_body_upload),
        tu_test(test_pause_body_errors),
        tu_test(test_pause_then_answer),
        tu_test(test_upgrade_echo),
        tu_test(test_upgrade_not_half_open),
        tu_test(test_upgrade_after_pipelined),
        tu_test(test_upgrade_counts_for_max_connections),
        tu_test(test_upgrade_refusals),
        tu_test(test_upgrade_started_and_body),
        tu_test(test_upgrade_shutdown_and_gone),
        tu_test(test_upgrade_handed_over_later),
        cmocka_unit_test_setup_teardown(test_emfile_no_spin, emfile_setup,
                                        emfile_teardown),
    };

    /* SIGPIPE keeps its default action: the server must never raise it. */
    return cmocka_run_group_tests_name(eddy_loop_backend(), tests, NULL, NULL);
}
