/*
 * tests/httputil.h - helpers shared by the suites that talk HTTP to a
 * server over loopback TCP (test_httpserver.c, test_attacks.c, ...): a
 * blocking connect, an eddy server on the test's loop (listening, its
 * stats, freeing it), a strict response parser, and the examples run as
 * child processes (started on a free port, found through EDDY_EXAMPLES,
 * waited for by PID, their workers found in /proc).
 *
 * Like testutil.h, helpers fail the running test through cmocka's
 * assertions, and every wait is bounded (HU_WAIT_MS).  Include testutil.h
 * first.
 */
#ifndef EDDY_TESTS_HTTPUTIL_H
#define EDDY_TESTS_HTTPUTIL_H

#include "testutil.h"

#include "eddy/httpserver.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define HU_WAIT_MS 5000 /* the bound on any one wait for a child or a reply */

/* --- connecting ----------------------------------------------------------- */

/* A blocking TCP connection to 127.0.0.1:port, or -errno. */
static inline int tcp_connect(int port)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    /* Loopback connects complete in the kernel's backlog at once, whether
     * or not the server has accepted yet. */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int err = errno;

        close(fd);
        return -err;
    }
    return fd;
}

/* --- an eddy server on this process's loop ------------------------------ */

/* Gives srv a socket bound to 127.0.0.1 port 0; returns its port. */
static inline int hu_listen(eddy_http_server *srv)
{
    int fd = -1, port;
    size_t n = 0;

    assert_int_equal(
        eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fd, 1, &n), 0);
    assert_int_equal(n, 1);
    port = eddy_socket_port(fd);
    assert_true(port > 0);
    assert_int_equal(eddy_http_server_add_sockets(srv, &fd, 1), 0);
    return port;
}

static inline eddy_http_stats hu_stats(eddy_http_server *srv)
{
    eddy_http_stats st;

    eddy_http_server_get_stats(srv, &st);
    return st;
}

/* A tu_cond: srv has closed every connection. */
static inline int hu_no_connections(void *srv)
{
    return hu_stats(srv).connections == 0;
}

/* Frees srv (NULL: the test did), lets the closing streams finish, checks
 * that the loop holds nothing, and closes it. */
static inline void hu_finish(eddy_loop *loop, eddy_http_server *srv)
{
    eddy_loop_stats st;

    if (srv != NULL)
        eddy_http_server_free(srv);
    for (int i = 0; i < 10; i++)
        assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.handlers, 0);
    assert_int_equal(st.timers, 0);
    eddy_loop_close(loop, 0);
}

/* --- responses, parsed strictly ------------------------------------------- */

#define MAX_HEAD 4096

typedef struct resp {
    int status;
    char reason[128];
    char head[MAX_HEAD]; /* the header lines, "Name: value\r\n" each */
    char *body;          /* NUL-terminated; free with resp_free() */
    size_t body_len;
    int chunked, close_delimited;
    size_t chunks;       /* chunks in a chunked body */
    char trailer[256];   /* a chunked body's trailer lines */
} resp;

static inline void resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* How many header lines are named name (case-insensitive); the first
 * one's value goes to val (when not NULL). */
static inline int resp_hdr(const resp *r, const char *name, char *val,
                           size_t cap)
{
    size_t n = strlen(name);
    int count = 0;

    for (const char *l = r->head; *l != '\0';) {
        const char *e = strstr(l, "\r\n");

        assert_non_null(e);
        if ((size_t)(e - l) > n && l[n] == ':' &&
            strncasecmp(l, name, n) == 0) {
            const char *v = l + n + 1;

            while (*v == ' ')
                v++;
            if (count++ == 0 && val != NULL)
                snprintf(val, cap, "%.*s", (int)(e - v), v);
        }
        l = e + 2;
    }
    return count;
}

static inline int resp_has(const resp *r, const char *name, const char *value)
{
    char v[256];

    return resp_hdr(r, name, v, sizeof v) == 1 && strcmp(v, value) == 0;
}

static inline const char *find(const char *p, size_t len, const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(p + i, s, n) == 0)
            return p + i;
    return NULL;
}

/* Decodes a chunked body from p[0, len) into r.  Returns the bytes it took,
 * 0 when more are needed, -1 when it is malformed. */
static inline long parse_chunked(const char *p, size_t len, resp *r)
{
    size_t off = 0;

    for (;;) {
        const char *eol = find(p + off, len - off, "\r\n");
        char *end;
        unsigned long size;

        if (eol == NULL)
            return 0;
        size = strtoul(p + off, &end, 16);
        if (end == p + off || end != eol)
            return -1; /* we send no extensions: size CRLF only */
        off = (size_t)(eol - p) + 2;
        if (size == 0)
            break;
        if (len - off < size + 2)
            return 0;
        if (memcmp(p + off + size, "\r\n", 2) != 0)
            return -1;
        r->body = realloc(r->body, r->body_len + size + 1);
        assert_non_null(r->body);
        memcpy(r->body + r->body_len, p + off, size);
        r->body_len += size;
        r->body[r->body_len] = '\0';
        r->chunks++;
        off += size + 2;
    }
    for (;;) { /* trailer lines up to the empty one */
        const char *eol = find(p + off, len - off, "\r\n");

        if (eol == NULL)
            return 0;
        if (eol == p + off)
            return (long)(off + 2);
        snprintf(r->trailer + strlen(r->trailer),
                 sizeof r->trailer - strlen(r->trailer), "%.*s\r\n",
                 (int)(eol - (p + off)), p + off);
        off = (size_t)(eol - p) + 2;
    }
}

/*
 * Parses one response from p[0, len): returns its length, 0 when more is
 * needed, -1 when it is malformed.  is_head: it answers a HEAD (no body).
 * at_eof: the connection has closed, so a close-delimited body is whole.
 */
static inline long parse_response(const char *p, size_t len, int is_head,
                                  int at_eof, resp *r)
{
    const char *end = find(p, len, "\r\n\r\n"), *l, *e;
    char v[64];
    size_t head_len;
    long n;

    resp_free(r);
    memset(r, 0, sizeof *r);
    if (end == NULL)
        return at_eof && len > 0 ? -1 : 0;
    head_len = (size_t)(end - p) + 4;
    for (size_t i = 0; i < head_len; i++)
        if ((p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) || p[i] == '\0')
            return -1; /* bare LF or NUL in the head */
    if (head_len < 17 || memcmp(p, "HTTP/1.1 ", 9) != 0 || p[12] != ' ')
        return -1;
    r->status = atoi(p + 9);
    e = strstr(p, "\r\n");
    snprintf(r->reason, sizeof r->reason, "%.*s", (int)(e - (p + 13)), p + 13);
    l = e + 2;
    if (head_len - (size_t)(l - p) - 2 >= MAX_HEAD)
        return -1;
    memcpy(r->head, l, head_len - (size_t)(l - p) - 2);
    r->body = calloc(1, 1);
    assert_non_null(r->body);
    p += head_len;
    len -= head_len;

    if (is_head || r->status < 200 || r->status == 204 || r->status == 304)
        return (long)head_len;
    if (resp_hdr(r, "transfer-encoding", v, sizeof v) > 0) {
        if (strcmp(v, "chunked") != 0 ||
            resp_hdr(r, "content-length", NULL, 0) != 0)
            return -1;
        r->chunked = 1;
        n = parse_chunked(p, len, r);
        return n <= 0 ? n : (long)head_len + n;
    }
    if (resp_hdr(r, "content-length", v, sizeof v) > 0) {
        size_t cl = strtoul(v, NULL, 10);

        if (resp_hdr(r, "content-length", NULL, 0) != 1)
            return -1;
        if (len < cl)
            return 0;
        r->body = realloc(r->body, cl + 1);
        memcpy(r->body, p, cl);
        r->body[cl] = '\0';
        r->body_len = cl;
        return (long)(head_len + cl);
    }
    if (!at_eof)
        return 0;
    r->close_delimited = 1;
    r->body = realloc(r->body, len + 1);
    memcpy(r->body, p, len);
    r->body[len] = '\0';
    r->body_len = len;
    return (long)(head_len + len);
}

/* --- examples as child processes ------------------------------------------ */

/* The example's path, or NULL (the test is skipped) outside make check. */
static inline const char *example(const char *name, char *path, size_t cap)
{
    const char *dir = getenv("EDDY_EXAMPLES");

    if (dir == NULL || *dir == '\0')
        return NULL;
    snprintf(path, cap, "%s/%s", dir, name);
    return access(path, X_OK) == 0 ? path : NULL;
}

/* Starts argv[0] with stdin and stdout on /dev/null, stderr on err_fd
 * (-1: /dev/null too), and, when nofile > 0, a soft RLIMIT_NOFILE of
 * nofile.  Only async-signal-safe calls after fork.
 *
 * The child sets the limit before exec, and the parent sets it again with
 * prlimit() once the exec is done (a close-on-exec pipe says when):
 * valgrind only pretends to change RLIMIT_NOFILE, so under valgrind the
 * first does not hold, and lowering the real limit of a child still under
 * valgrind, before its exec, makes valgrind abort. */
static inline pid_t spawn_limited(char *const argv[], long nofile,
                                  int err_fd)
{
    int p[2] = {-1, -1};
    pid_t pid;

    if (nofile > 0)
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        struct rlimit rl;

        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
            dup2(err_fd >= 0 ? err_fd : null, 2) < 0)
            _exit(126);
        if (null > 2) /* not left open: it would count against nofile */
            close(null);
        if (nofile > 0) {
            if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(125);
            rl.rlim_cur = (rlim_t)nofile;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(125);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (nofile > 0) {
        struct pollfd pf = {p[0], POLLIN, 0};
        struct rlimit rl;
        char c;

        close(p[1]);
        /* EOF: the exec closed the pipe (or the child exited). */
        assert_int_equal(poll(&pf, 1, HU_WAIT_MS), 1);
        assert_int_equal(read(p[0], &c, 1), 0);
        close(p[0]);
        if (prlimit(pid, RLIMIT_NOFILE, NULL, &rl) == 0) {
            rl.rlim_cur = (rlim_t)nofile;
            prlimit(pid, RLIMIT_NOFILE, &rl, NULL);
        }
    }
    return pid;
}

static inline pid_t spawn(char *const argv[])
{
    return spawn_limited(argv, 0, -1);
}

/* A port that was free a moment ago. */
static inline int free_port(void)
{
    int fd, port;
    size_t n;

    assert_int_equal(eddy_bind_sockets(0, "127.0.0.1", AF_INET, 0, 0, &fd, 1,
                                       &n),
                     0);
    port = eddy_socket_port(fd);
    close(fd);
    return port;
}

/* One GET over a blocking socket with poll() timeouts: the server is
 * another process.  Returns 1 with the response in *r, 0 if the server
 * could not be reached or did not answer. */
static inline int blocking_get(int port, const char *path, resp *r)
{
    char req[256], buf[4096];
    size_t len = 0;
    uint64_t end = tu_now_ms() + HU_WAIT_MS;
    int fd = tcp_connect(port), ok = 0;
    long n = 0;

    if (fd < 0)
        return 0;
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        goto out;
    while (len < sizeof buf && tu_now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;

        if (poll(&p, 1, 100) <= 0)
            continue;
        k = recv(fd, buf + len, sizeof buf - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    n = parse_response(buf, len, 0, 1, r);
    ok = n > 0 && (size_t)n == len;
out:
    close(fd);
    return ok;
}

/*
 * Starts the example at path on a free port of 127.0.0.1 with the extra
 * arguments (NULL-terminated, at most 12) and a soft RLIMIT_NOFILE of
 * nofile (0: inherited), its stderr on err_fd (-1: /dev/null), and waits
 * until GET / answers 200.  A port taken in the meantime makes it exit:
 * another is tried.
 */
static inline pid_t start_example(const char *path, const char *const *extra,
                                  long nofile, int err_fd, int *port)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        char portstr[8];
        char *argv[20] = {(char *)path, "--port", portstr, "--address",
                          "127.0.0.1"};
        uint64_t end = tu_now_ms() + HU_WAIT_MS;
        pid_t pid;
        int status, argc = 5;
        resp r = {0};

        for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
            assert_true(argc < 18);
            argv[argc++] = (char *)extra[i];
        }
        argv[argc] = NULL;
        *port = free_port();
        snprintf(portstr, sizeof portstr, "%d", *port);
        pid = spawn_limited(argv, nofile, err_fd);
        while (tu_now_ms() < end) {
            if (blocking_get(*port, "/", &r)) {
                assert_int_equal(r.status, 200);
                resp_free(&r);
                return pid;
            }
            if (waitpid(pid, &status, WNOHANG) == pid)
                break;
            poll(NULL, 0, 5);
        }
        resp_free(&r);
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
    }
    fail_msg("%s did not start", path);
    return -1;
}

/* --- processes, from /proc ------------------------------------------------ */

/* The live (not zombie) children of parent, from /proc/<pid>/stat. */
static inline int children_of(pid_t parent, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL && n < max) {
        char p[300], buf[512], *close_paren, st;
        int ppid;
        FILE *f;
        size_t k;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        if ((f = fopen(p, "re")) == NULL)
            continue;
        k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        close_paren = strrchr(buf, ')'); /* the name may hold anything */
        if (close_paren == NULL ||
            sscanf(close_paren + 1, " %c %d", &st, &ppid) != 2)
            continue;
        if (ppid == parent && st != 'Z' && st != 'X')
            out[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return n;
}

/* Whether pid catches SIGTERM, from SigCgt in /proc/<pid>/status: a
 * worker is ready to stop gracefully once it does. */
static inline int catches_term(pid_t pid)
{
    char p[64], line[256];
    FILE *f;
    int yes = 0;

    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    if ((f = fopen(p, "re")) == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "SigCgt:", 7) == 0)
            yes = (strtoull(line + 7, NULL, 16) >> (SIGTERM - 1)) & 1;
    fclose(f);
    return yes;
}

/* Waits until parent has n workers, all catching SIGTERM, none of them
 * in not[0, nnot); their pids go to out. */
static inline int wait_workers(pid_t parent, int n, pid_t *out,
                               const pid_t *not, int nnot)
{
    uint64_t end = tu_now_ms() + HU_WAIT_MS;

    while (tu_now_ms() < end) {
        int got = children_of(parent, out, 8), ready = got == n;

        for (int i = 0; i < got && ready; i++) {
            ready = catches_term(out[i]);
            for (int k = 0; k < nnot; k++)
                ready = ready && out[i] != not[k];
        }
        if (ready)
            return 1;
        poll(NULL, 0, 5);
    }
    return 0;
}

#endif
