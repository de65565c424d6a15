/*
 * tests/test_handlers.c - what handlers get beyond the bare server (issue
 * 14): query and body arguments, multipart uploads read as they stream
 * in (20 MB in bounded memory), decoded paths and route parameters, the
 * 405 beside catch-all routes, cookies and headers added ahead of the
 * response, static files (validators, conditions, ranges, files past 4
 * GiB, a file truncated under a slow reader, every refusal), error pages,
 * handler deadlines, gzip, and examples/static as a child process.
 *
 * As in test_httpserver.c, the server runs on this process's loop on
 * 127.0.0.1 port 0, and clients are non-blocking sockets on the same
 * loop; every wait is a bounded run of it.  Requests are written raw, so
 * the refusals see exactly the bytes an attacker would send.  Responses
 * are parsed strictly (tests/httputil.h).
 *
 * Files live in a directory made for each test under /tmp and removed
 * after it.  Every test frees its server and closes its loop, and
 * tu_fd_teardown fails one that leaves an fd open.
 */
#include "testutil.h"

#include "httputil.h"
#include "rawclient.h"

#include "../httpserver/http_internal.h"

#include <dirent.h>
#include <malloc.h>
#include <sys/stat.h>
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif
#ifdef EDDY_ZLIB
#include <zlib.h>
#endif

#define RUN_MS 5000
#define RUN_ITER 200000

#ifdef EDDY_ZLIB
#define ZLIB_ON 1
#else
#define ZLIB_ON 0 /* make ZLIB=none: the gzip option does nothing */
#endif

/* --- the server ----------------------------------------------------------- */

typedef struct tsrv {
    eddy_loop *loop;
    eddy_http_server *srv;
    int port;
    char dir[64]; /* the test's files, or "" */
} tsrv;

static void srv_start(tsrv *t, const eddy_http_options *opts)
{
    memset(t, 0, sizeof *t);
    t->loop = tu_loop_new();
    assert_int_equal(eddy_http_server_new(t->loop, opts, &t->srv), 0);
    t->port = hu_listen(t->srv);
}

static void srv_route(tsrv *t, const char *method, const char *path,
                      unsigned flags, eddy_http_handler h, void *arg)
{
    assert_int_equal(
        eddy_http_server_route(t->srv, method, path, flags, h, arg), 0);
}

static void rm_tree(const char *path);

static void srv_finish(tsrv *t)
{
    hu_finish(t->loop, t->srv);
    t->srv = NULL;
    if (t->dir[0] != '\0')
        rm_tree(t->dir);
}

static eddy_http_stats srv_stats(tsrv *t)
{
    return hu_stats(t->srv);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static void run_for(tsrv *t, uint64_t ms)
{
    tu_run_until(t->loop, never, NULL, RUN_ITER, ms);
}

/* --- clients ----------------------------------------------------------------
 */

/* A raw client (rawclient.h) of t; it reads in 64 KiB steps, for the
 * large files. */
static void cl_open(tsrv *t, client *c)
{
    cl_connect(c, t->loop, t->port);
    c->room = 65536;
}

/* Sends raw on a new connection and reads one response into *r; returns
 * its status.  closes: whether the server then closed the connection
 * (checked: 1 must close, 0 must not). */
static int ask_as(tsrv *t, const char *raw, int is_head, resp *r, int closes)
{
    client c;

    cl_open(t, &c);
    cl_send(&c, raw);
    assert_true(cl_response_as(&c, r, is_head));
    if (closes) {
        cl_wait_eof(&c);
        assert_int_equal(c.len, c.off);
    } else {
        run_for(t, 1);
        if (c.eof)
            fail_msg("the server closed after answering %.60s", raw);
    }
    cl_close(&c);
    return r->status;
}

static int ask(tsrv *t, const char *raw, resp *r)
{
    return ask_as(t, raw, 0, r, 0);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

static int str_is(eddy_str s, const char *lit)
{
    return s.p != NULL && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Answers "<text>" from a handler. */
static void say(eddy_http_request *req, const char *text)
{
    assert_int_equal(eddy_http_respond(req, 200, NULL, 0, text, strlen(text)),
                     0);
}

/* Answers the status an error maps to, through the error page (to a
 * client that may have gone: -EPIPE finished the request all the same). */
static void refuse(eddy_http_request *req, int err)
{
    int rc = eddy_http_send_error(req, eddy_http_error_status(err));

    assert_true(rc == 0 || rc == -EPIPE);
}

/* --- files ------------------------------------------------------------------
 */

static void rm_tree(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;

    if (lstat(path, &sb) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        assert_int_equal(unlink(path), 0);
        return;
    }
    chmod(path, 0700);
    assert_non_null(d = opendir(path));
    while ((e = readdir(d)) != NULL) {
        char sub[512];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rm_tree(sub);
    }
    closedir(d);
    assert_int_equal(rmdir(path), 0);
}

static void make_dir(tsrv *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/eddy-handlers-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
}

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i * 7 + (i >> 8) + (i >> 16) * 3);
}

/* dir/name with len bytes of pattern(); returns its path in path. */
static void put_file(const char *dir, const char *name, uint64_t len,
                     char *path, size_t cap)
{
    char buf[65536];
    int fd;

    snprintf(path, cap, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    for (uint64_t off = 0; off < len;) {
        size_t n = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;

        for (size_t i = 0; i < n; i++)
            buf[i] = (char)pattern(off + i);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        off += n;
    }
    assert_int_equal(close(fd), 0);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

static int is_pattern(const char *p, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)p[i] != pattern(off + i))
            return 0;
    return 1;
}

/* --- the heap, where it can be measured ------------------------------------
 */

#if defined(__GLIBC__) && !defined(TU_ASAN)
#define HEAP_MEASURED 1
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}
#else
#define HEAP_MEASURED 0
static size_t heap_in_use(void)
{
    return 0;
}
#endif

/* --- arguments ---------------------------------------------------------------
 */

typedef struct seen {
    int calls, err, err2;
    char a[64], b[64], c[64], first[64];
    size_t count, all;
    int nul_terminated;
} seen;

static void copy(char *dst, size_t cap, eddy_str s)
{
    snprintf(dst, cap, "%.*s", (int)s.len, s.p);
}

/* Reads x, y and e from the query; answers what it found. */
static void h_query(eddy_http_request *req, void *arg)
{
    seen *s = arg;
    eddy_str v = {"default", 7}, all[4];
    const eddy_args *args;

    s->calls++;
    assert_int_equal(eddy_http_query_arg(req, "x", &v), 0);
    copy(s->a, sizeof s->a, v);
    s->nul_terminated = v.p[v.len] == '\0';
    assert_int_equal(eddy_http_query_arg(req, "y", &v), 0);
    copy(s->b, sizeof s->b, v);
    assert_int_equal(eddy_http_query_arg(req, "e", &v), 0);
    copy(s->c, sizeof s->c, v);
    /* Missing: -ENOENT, and the default set before stays. */
    v = (eddy_str){"dflt", 4};
    assert_int_equal(eddy_http_query_arg(req, "missing", &v), -ENOENT);
    assert_true(str_is(v, "dflt"));
    assert_int_equal(eddy_http_arg(req, "missing", &v), -ENOENT);
    assert_int_equal(eddy_http_body_arg(req, "x", &v), -ENOENT);
    assert_int_equal(eddy_http_query_arg(req, NULL, &v), -EINVAL);
    assert_int_equal(eddy_http_query_arg(req, "x", NULL), -EINVAL);
    assert_int_equal(eddy_http_args(req, EDDY_HTTP_QUERY_ARGS, &args), 0);
    s->count = eddy_args_count(args);
    assert_int_equal(eddy_args_get_all(args, "x", all, 4), 2);
    assert_true(str_is(all[0], "1") && str_is(all[1], "2"));
    assert_int_equal(eddy_http_args(req, 0, &args), -EINVAL);
    assert_int_equal(eddy_http_args(req, 4, &args), -EINVAL);
    assert_int_equal(eddy_http_args(req, EDDY_HTTP_ALL_ARGS, NULL), -EINVAL);
    say(req, "ok");
}

static void test_query_args(void **state)
{
    tsrv t;
    seen s = {0};
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/q", 0, h_query, &s);
    assert_int_equal(ask(&t, GET("/q?x=1&y=a+b%21&x=2&e=%41&flag"), &r), 200);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.a, "2"); /* the last wins, as in Tornado */
    assert_true(s.nul_terminated);
    assert_string_equal(s.b, "a b!");
    assert_string_equal(s.c, "A");
    assert_int_equal(s.count, 5);
    resp_free(&r);
    srv_finish(&t);
}

/* Reads name from the body, the query and both. */
static void h_body(eddy_http_request *req, void *arg)
{
    seen *s = arg;
    const eddy_args *args;
    eddy_str v;

    s->calls++;
    s->err = eddy_http_body_arg(req, "name", &v);
    if (s->err == 0)
        copy(s->a, sizeof s->a, v);
    if (eddy_http_arg(req, "name", &v) == 0) /* the body's wins */
        copy(s->b, sizeof s->b, v);
    if (eddy_http_query_arg(req, "name", &v) == 0)
        copy(s->c, sizeof s->c, v);
    s->err2 = eddy_http_args(req, EDDY_HTTP_ALL_ARGS, &args);
    s->all = eddy_args_count(args);
    if (s->err2 == 0 && s->all > 0) {
        eddy_str n0, v0;

        assert_int_equal(eddy_args_at(args, 0, &n0, &v0), 0);
        snprintf(s->first, sizeof s->first, "%.*s=%.*s", (int)n0.len, n0.p,
                 (int)v0.len, v0.p);
    }
    say(req, "ok");
}

static void test_body_args(void **state)
{
    tsrv t;
    seen s = {0};
    resp r = {0};
    static const char mp[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
        "field value\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"up\"; "
        "filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        "file bytes, not an argument\r\n--XyZ--\r\n";
    char req[1024];

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/b", 0, h_body, &s);
    assert_int_equal(ask(&t,
                         "POST /b?name=q HTTP/1.1\r\nHost: t\r\n"
                         "Content-Type: application/x-www-form-urlencoded\r\n"
                         "Content-Length: 21\r\n\r\nname=J%C3%BCrgen+S&z=",
                         &r),
                     200);
    assert_int_equal(s.err, 0);
    assert_string_equal(s.a, "J\xc3\xbcrgen S");
    assert_string_equal(s.b, "J\xc3\xbcrgen S");
    assert_string_equal(s.c, "q");
    assert_int_equal(s.all, 3);
    assert_string_equal(s.first, "name=q"); /* the query's first */
    /* multipart/form-data: its fields, not its files. */
    memset(&s, 0, sizeof s);
    snprintf(
        req, sizeof req,
        "POST /b HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
        "boundary=XyZ\r\nContent-Length: %zu\r\n\r\n%s",
        sizeof mp - 1, mp);
    assert_int_equal(ask(&t, req, &r), 200);
    assert_int_equal(s.err, 0);
    assert_string_equal(s.a, "field value");
    assert_int_equal(s.all, 1);
    /* Another type has none: -ENOENT, not an error. */
    memset(&s, 0, sizeof s);
    assert_int_equal(ask(&t,
                         "POST /b HTTP/1.1\r\nHost: t\r\nContent-Type: "
                         "application/json\r\nContent-Length: 13\r\n\r\n"
                         "{\"name\": \"x\"}",
                         &r),
                     200);
    assert_int_equal(s.err, -ENOENT);
    assert_int_equal(s.err2, 0);
    assert_int_equal(s.all, 0);
    /* Neither has a body without a Content-Type. */
    memset(&s, 0, sizeof s);
    assert_int_equal(ask(&t,
                         "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n"
                         "\r\nname=x",
                         &r),
                     200);
    assert_int_equal(s.err, -ENOENT);
    resp_free(&r);
    srv_finish(&t);
}

/* Answers each argument error with the status it maps to. */
static void h_arg_or_refuse(eddy_http_request *req, void *arg)
{
    seen *s = arg;
    eddy_str v;

    s->calls++;
    s->err = eddy_http_arg(req, "a", &v);
    /* An error is kept: asking again gives it again. */
    s->err2 = eddy_http_arg(req, "a", &v);
    if (s->err != 0)
        refuse(req, s->err);
    else
        say(req, "ok");
}

/* Every documented error of the argument calls, and the status a handler
 * answers it with (eddy_http_error_status()), then the connection going
 * on or closing as the server decides. */
static void test_args_errors(void **state)
{
    eddy_http_options o = {0};
    tsrv t;
    seen s = {0};
    resp r = {0};
    char big[2048];

    (void)state;
    o.args_limits.max_args = 3;
    o.args_limits.max_size = 64;
    o.args_flags = EDDY_ARGS_UTF8;
    srv_start(&t, &o);
    srv_route(&t, NULL, "/a", 0, h_arg_or_refuse, &s);
    srv_route(&t, "POST", "/s", EDDY_ROUTE_STREAM, h_arg_or_refuse, &s);
    assert_int_equal(ask(&t, GET("/a?b=1"), &r), 400); /* -ENOENT */
    assert_int_equal(s.err, -ENOENT);
    assert_string_equal(r.body, "400 Bad Request\n");
    assert_int_equal(ask(&t, GET("/a?a=%zz"), &r), 400);
    assert_int_equal(s.err, -EINVAL);
    assert_int_equal(s.err2, -EINVAL);
    assert_int_equal(ask(&t, GET("/a?a=%ff"), &r), 400); /* not UTF-8 */
    assert_int_equal(s.err, -EILSEQ);
    assert_int_equal(ask(&t, GET("/a?a=1&b=2&c=3&d=4"), &r), 413);
    assert_int_equal(s.err, -E2BIG);
    memset(big, 'x', sizeof big);
    memcpy(big, "GET /a?a=", 9);
    strcpy(big + 200, " HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(ask(&t, big, &r), 413);
    assert_int_equal(s.err, -EMSGSIZE);
    /* A malformed multipart body. */
    assert_int_equal(ask(&t,
                         "POST /a HTTP/1.1\r\nHost: t\r\nContent-Type: "
                         "multipart/form-data; boundary=B\r\n"
                         "Content-Length: 13\r\n\r\n--B\r\nX: y\r\n\r\n",
                         &r),
                     400);
    assert_int_equal(s.err, -EBADMSG);
    assert_int_equal(ask(&t,
                         "POST /a HTTP/1.1\r\nHost: t\r\nContent-Type: "
                         "multipart/form-data\r\nContent-Length: 2\r\n\r\nxx",
                         &r),
                     400);
    assert_int_equal(s.err, -EINVAL); /* no boundary */
    /* A streamed route's body is not held: the query still counts (and
     * the body left unread closes the connection). */
    assert_int_equal(ask_as(&t,
                            "POST /s?a=1 HTTP/1.1\r\nHost: t\r\nContent-Type: "
                            "application/x-www-form-urlencoded\r\n"
                            "Content-Length: 3\r\n\r\na=2",
                            0, &r, 1),
                     200);
    assert_int_equal(s.err, 0);
    assert_int_equal(eddy_http_error_status(-ENOMEM), 503);
    assert_int_equal(eddy_http_error_status(-EFBIG), 413);
    assert_int_equal(eddy_http_error_status(EDDY_HTTP_TOO_LARGE), 413);
    assert_int_equal(eddy_http_error_status(-EPROTO), 400);
    assert_int_equal(eddy_http_error_status(-ENOTSUP), 415);
    assert_int_equal(eddy_http_error_status(-EIO), 500);
    resp_free(&r);
    srv_finish(&t);
}

/* --- multipart uploads, streamed --------------------------------------------
 */

typedef struct upload {
    int begins, ends, done_calls, done_status, stop_at_part;
    uint64_t bytes;
    uint32_t sum;
    size_t largest_piece, heap0, heap_peak;
    char name[32], filename[32];
    int answer_in_done;
    eddy_http_request *req;
    int read_rc;
} upload;

static int up_begin(const eddy_multipart_part *part, void *arg)
{
    upload *u = arg;

    if (u->stop_at_part && (int)part->index == u->stop_at_part)
        return -E2BIG;
    u->begins++;
    u->sum = 0; /* the last part's */
    copy(u->name, sizeof u->name, part->name);
    if (part->filename.p != NULL)
        copy(u->filename, sizeof u->filename, part->filename);
    return 0;
}

static int up_data(const char *p, size_t len, void *arg)
{
    upload *u = arg;
    size_t heap = heap_in_use();

    for (size_t i = 0; i < len; i++)
        u->sum = u->sum * 31 + (uint8_t)p[i];
    u->bytes += len;
    if (len > u->largest_piece)
        u->largest_piece = len;
    if (heap > u->heap_peak)
        u->heap_peak = heap;
    return 0;
}

static int up_end(void *arg)
{
    ((upload *)arg)->ends++;
    return 0;
}

static const eddy_multipart_callbacks up_cbs = {up_begin, up_data, up_end};

static void up_done(eddy_http_request *req, int status, void *arg)
{
    upload *u = arg;
    char body[64];

    u->done_calls++;
    u->done_status = status;
    if (status != 0) {
        refuse(req, status);
        return;
    }
    snprintf(body, sizeof body, "%llu %u", (unsigned long long)u->bytes,
             u->sum);
    say(req, body);
}

static void h_upload(eddy_http_request *req, void *arg)
{
    upload *u = arg;

    u->req = req;
    u->read_rc = eddy_http_read_multipart(req, NULL, &up_cbs, up_done, u);
    if (u->read_rc != 0)
        refuse(req, u->read_rc);
}

/* Sends a multipart upload with one field and a file of size bytes, in
 * pieces, while the loop runs. */
static void send_upload(client *c, uint64_t size)
{
    static const char head[] =
        "--bnd\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
        "holiday\r\n--bnd\r\nContent-Disposition: form-data; name=\"file\"; "
        "filename=\"big.bin\"\r\n\r\n";
    static const char tail[] = "\r\n--bnd--\r\n";
    char req[256], buf[65536];

    snprintf(req, sizeof req,
             "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/"
             "form-data; boundary=bnd\r\nContent-Length: %llu\r\n\r\n",
             (unsigned long long)(sizeof head - 1 + size + sizeof tail - 1));
    cl_send(c, req);
    cl_send(c, head);
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;

        for (size_t i = 0; i < n; i++)
            buf[i] = (char)pattern(off + i);
        assert_int_equal(cl_sendn(c, buf, n), 0);
        off += n;
    }
    cl_send(c, tail);
}

/* 20 MB through a handler that reads it as it comes: every byte reaches
 * the part callbacks, in pieces of at most one read, and the heap never
 * holds more than a small fraction of the upload. */
static void test_multipart_upload_bounded(void **state)
{
    uint64_t size = tu_valgrind() ? 2u << 20 : 20u << 20;
    uint32_t sum = 0;
    upload u = {0};
    char want[64];
    tsrv t;
    client c;
    resp r = {0};

    (void)state;
    for (uint64_t i = 0; i < size; i++)
        sum = sum * 31 + pattern(i);
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_upload, &u);
    cl_open(&t, &c);
    malloc_trim(0);
    u.heap0 = u.heap_peak = heap_in_use();
    send_upload(&c, size);
    assert_true(cl_response_as(&c, &r, 0));
    assert_int_equal(r.status, 200);
    snprintf(want, sizeof want, "%llu %u", (unsigned long long)(7 + size), sum);
    assert_string_equal(r.body, want);
    assert_int_equal(u.read_rc, 0);
    assert_int_equal(u.done_calls, 1);
    assert_int_equal(u.done_status, 0);
    assert_int_equal(u.begins, 2);
    assert_int_equal(u.ends, 2);
    assert_string_equal(u.filename, "big.bin");
    assert_int_equal(u.bytes, 7 + size); /* "holiday" and the file */
    assert_true(u.largest_piece <= 64 * 1024);
    if (HEAP_MEASURED && !tu_valgrind()) /* measured: about 90 KB */
        assert_true(u.heap_peak - u.heap0 < 1024 * 1024);
    cl_close(&c);
    resp_free(&r);
    srv_finish(&t);
}

/* Every refusal of eddy_http_read_multipart(), and every way its upload
 * can end badly: done hears it once, the handler answers, and the
 * connection closes (the rest of the body is never read). */
static void test_multipart_upload_errors(void **state)
{
    eddy_http_options o = {0};
    upload u = {0};
    tsrv t;
    client c;
    resp r = {0};

    (void)state;
    o.max_body_size = 4096;
    srv_start(&t, &o);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_upload, &u);
    srv_route(&t, "POST", "/whole", 0, h_upload, &u);
    /* Not a streamed route: -EINVAL, 400. */
    assert_int_equal(ask_as(&t,
                            "POST /whole HTTP/1.1\r\nHost: t\r\nContent-Type: "
                            "multipart/form-data; boundary=b\r\n"
                            "Content-Length: 0\r\n\r\n",
                            0, &r, 0),
                     400);
    assert_int_equal(u.read_rc, -EINVAL);
    /* No Content-Type, or another: -ENOTSUP, 415. */
    assert_int_equal(ask_as(&t,
                            "POST /up HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: 0\r\n\r\n",
                            0, &r, 0),
                     415);
    assert_int_equal(u.read_rc, -ENOTSUP);
    assert_int_equal(ask_as(&t,
                            "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: "
                            "text/plain\r\nContent-Length: 0\r\n\r\n",
                            0, &r, 0),
                     415);
    /* A boundary that is not one: -EINVAL, 400; the unread body closes. */
    assert_int_equal(ask_as(&t,
                            "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: "
                            "multipart/form-data; boundary=\"\"\r\n"
                            "Content-Length: 3\r\n\r\nabc",
                            0, &r, 1),
                     400);
    assert_int_equal(u.read_rc, -EINVAL);
    assert_int_equal(u.done_calls, 0);
    /* Malformed mid-way: done gets -EBADMSG once, 400, and the close. */
    memset(&u, 0, sizeof u);
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/"
                "form-data; boundary=b\r\nContent-Length: 3000\r\n\r\n"
                "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxy"
                "\r\n--b\r\nBad header line\r\n\r\n");
    assert_true(cl_response_as(&c, &r, 0));
    assert_int_equal(r.status, 400);
    assert_int_equal(u.done_calls, 1);
    assert_int_equal(u.done_status, -EBADMSG);
    cl_wait_eof(&c);
    cl_close(&c);
    /* A part callback stops it: done gets its value. */
    memset(&u, 0, sizeof u);
    u.stop_at_part = 1;
    cl_open(&t, &c);
    cl_send(&c,
            "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/"
            "form-data; boundary=b\r\nContent-Length: 3000\r\n\r\n"
            "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxy"
            "\r\n--b\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n");
    assert_true(cl_response_as(&c, &r, 0));
    assert_int_equal(r.status, 413);
    assert_int_equal(u.done_status, -E2BIG);
    assert_int_equal(u.done_calls, 1);
    cl_wait_eof(&c);
    cl_close(&c);
    /* Past max_body_size: EDDY_HTTP_TOO_LARGE. */
    memset(&u, 0, sizeof u);
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/"
                "form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n");
    {
        char chunk[2100];

        memset(chunk, 'z', sizeof chunk);
        memcpy(chunk, "800\r\n", 5);
        memcpy(chunk + 5 + 0x800, "\r\n", 2);
        for (int i = 0; i < 3 && !c.eof; i++)
            cl_sendn(&c, chunk, 5 + 0x800 + 2);
    }
    assert_true(cl_response_as(&c, &r, 0));
    assert_int_equal(r.status, 413);
    assert_int_equal(u.done_status, EDDY_HTTP_TOO_LARGE);
    cl_close(&c);
    /* Cut short: the client leaves; done hears it. */
    memset(&u, 0, sizeof u);
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/"
                "form-data; boundary=b\r\nContent-Length: 3000\r\n\r\n--b\r\n");
    {
        tu_at_least a = {&u.done_calls, 1};
        struct linger lg = {1, 0};

        while (u.req == NULL)
            assert_int_equal(eddy_loop_run_once(t.loop, 10), 0);
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        cl_close(&c);
        assert_true(
            tu_run_until(t.loop, tu_at_least_cond, &a, RUN_ITER, RUN_MS));
    }
    assert_int_equal(u.done_status, -ECONNRESET);
    resp_free(&r);
    srv_finish(&t);
}

/* A second read of the body is refused, and the first goes on. */
static void h_upload_twice(eddy_http_request *req, void *arg)
{
    upload *u = arg;

    assert_int_equal(eddy_http_read_multipart(req, NULL, &up_cbs, up_done, u),
                     0);
    assert_int_equal(eddy_http_read_multipart(req, NULL, &up_cbs, up_done, u),
                     -EALREADY);
    assert_int_equal(eddy_http_read_multipart(req, NULL, NULL, up_done, u),
                     -EINVAL);
    assert_int_equal(eddy_http_read_multipart(req, NULL, &up_cbs, NULL, u),
                     -EINVAL);
}

static void test_multipart_upload_twice(void **state)
{
    upload u = {0};
    tsrv t;
    client c;
    resp r = {0};

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_upload_twice, &u);
    cl_open(&t, &c);
    send_upload(&c, 1000);
    assert_true(cl_response_as(&c, &r, 0));
    assert_int_equal(r.status, 200);
    assert_int_equal(u.done_calls, 1);
    assert_int_equal(u.bytes, 1007);
    cl_close(&c);
    resp_free(&r);
    srv_finish(&t);
}

/* --- paths and routes -------------------------------------------------------
 */

typedef struct pathrec {
    int calls;
    char raw[128], decoded[128], id[64], rest[128];
    int id_rc, rest_rc;
} pathrec;

static void h_path(eddy_http_request *req, void *arg)
{
    pathrec *p = arg;
    eddy_str v;
    char body[400];

    p->calls++;
    copy(p->raw, sizeof p->raw, eddy_http_path(req));
    copy(p->decoded, sizeof p->decoded, eddy_http_decoded_path(req));
    p->id[0] = p->rest[0] = '\0';
    if ((p->id_rc = eddy_http_path_param(req, "id", &v)) == 0)
        copy(p->id, sizeof p->id, v);
    if ((p->rest_rc = eddy_http_path_param(req, "path", &v)) == 0)
        copy(p->rest, sizeof p->rest, v);
    assert_int_equal(eddy_http_path_param(req, NULL, &v), -EINVAL);
    assert_int_equal(eddy_http_path_param(req, "id", NULL), -EINVAL);
    snprintf(body, sizeof body, "%s|%s|%s", p->decoded, p->id, p->rest);
    say(req, body);
}

/* Routing on the decoded path; parameters; and the refusals, by raw
 * requests, each answered 400 with the connection closed and never
 * routed. */
static void test_paths(void **state)
{
    static const char *const refused[] = {
        "/a/%2F",  "/a%2fb",         "/%00",
        "/x%00y",  "/../etc/passwd", "/a/%2e%2e/%2e%2e/b",
        "/%2E%2E", "/a/../..",       "/bad%zz",
        "/bad%4",  "x/relative",     "?q"};
    pathrec p = {0}, any = {0};
    tsrv t;
    resp r = {0};
    char raw[256];

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/items/{id}", 0, h_path, &p);
    srv_route(&t, "GET", "/files/{path*}", 0, h_path, &p);
    srv_route(&t, "GET", "/a/b", 0, h_path, &p);
    srv_route(&t, NULL, "/", EDDY_ROUTE_PREFIX, h_path, &any);

    assert_int_equal(ask(&t, GET("/items/%31"), &r), 200);
    assert_string_equal(r.body, "/items/1|1|");
    assert_string_equal(p.raw, "/items/%31");
    assert_int_equal(p.rest_rc, -ENOENT);
    assert_int_equal(ask(&t, GET("/items/a%20b"), &r), 200);
    assert_string_equal(p.id, "a b");
    assert_int_equal(ask(&t, GET("/files/dir/b%2Bc.txt?v=1"), &r), 200);
    assert_string_equal(r.body, "/files/dir/b+c.txt||dir/b+c.txt");
    assert_int_equal(ask(&t, GET("/files/"), &r), 200);
    assert_int_equal(p.rest_rc, 0);
    assert_string_equal(p.rest, "");
    /* Dot segments go before routing. */
    assert_int_equal(ask(&t, GET("/a/./c/../b"), &r), 200);
    assert_string_equal(p.decoded, "/a/b");
    assert_int_equal(ask(&t, GET("/a/%2e/b"), &r), 200);
    assert_string_equal(p.decoded, "/a/b");
    assert_int_equal(p.id_rc, -ENOENT); /* a literal route */
    /* An empty segment is not a parameter: the catch-all takes it. */
    assert_int_equal(ask(&t, GET("/items/"), &r), 200);
    assert_int_equal(any.calls, 1);
    assert_int_equal(any.id_rc, -ENOENT);
    p.calls = any.calls = 0;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
                 refused[i]);
        if (ask_as(&t, raw, 0, &r, 1) != 400)
            fail_msg("%s: %d", refused[i], r.status);
        assert_true(resp_has(&r, "connection", "close"));
    }
    assert_int_equal(p.calls + any.calls, 0);
    /* OPTIONS * is kept as it is: routed (to nothing here but the
     * catch-all's prefix "/", which it does not start with). */
    assert_int_equal(ask(&t, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", &r), 404);
    resp_free(&r);
    srv_finish(&t);
}

/* A catch-all never hides the 405 of a specific route, nor answers its
 * path; the Allow of that 405 lists the specific routes' methods only. */
static void test_405_beside_catch_alls(void **state)
{
    pathrec spec = {0}, all_get = {0}, all_any = {0};
    tsrv t;
    resp r = {0};
    char allow[64];

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/{rest*}", 0, h_path, &all_get); /* first, even */
    srv_route(&t, "POST", "/items/{id}", 0, h_path, &spec);
    srv_route(&t, "DELETE", "/items/{id}", 0, h_path, &spec);
    srv_route(&t, "GET", "/items", 0, h_path, &spec);
    srv_route(&t, NULL, "/api/", EDDY_ROUTE_PREFIX, h_path, &all_any);
    srv_route(&t, "PUT", "/api/x", 0, h_path, &spec);

    assert_int_equal(ask(&t, GET("/items/7"), &r), 405);
    assert_int_equal(resp_hdr(&r, "allow", allow, sizeof allow), 1);
    assert_string_equal(allow, "POST, DELETE");
    assert_int_equal(ask(&t, "PATCH /items HTTP/1.1\r\nHost: t\r\n\r\n", &r),
                     405);
    assert_true(resp_has(&r, "allow", "GET, HEAD"));
    assert_int_equal(ask(&t, GET("/api/x"), &r), 405);
    assert_true(resp_has(&r, "allow", "PUT"));
    assert_int_equal(all_get.calls + all_any.calls + spec.calls, 0);
    /* The catch-alls take what no specific route has. */
    assert_int_equal(ask(&t, GET("/other/page"), &r), 200);
    assert_int_equal(all_get.calls, 1);
    assert_int_equal(ask(&t, "DELETE /api/y HTTP/1.1\r\nHost: t\r\n\r\n", &r),
                     200);
    assert_int_equal(all_any.calls, 1);
    /* A catch-all's own 405: its tier's methods. */
    assert_int_equal(ask(&t,
                         "POST /zzz HTTP/1.1\r\nHost: t\r\n"
                         "Content-Length: 0\r\n\r\n",
                         &r),
                     405);
    assert_true(resp_has(&r, "allow", "GET, HEAD"));
    assert_int_equal(ask(&t, "DELETE /items/9 HTTP/1.1\r\nHost: t\r\n\r\n", &r),
                     200);
    assert_string_equal(spec.id, "9");
    resp_free(&r);
    srv_finish(&t);
}

static void h_nothing(eddy_http_request *req, void *arg)
{
    (void)arg;
    say(req, "");
}

static void test_route_patterns_refused(void **state)
{
    static const char *const bad[] = {"/a/{",     "/a/}",         "/a/{}",
                                      "/a/x{id}", "/{id}.json",   "/{1x}",
                                      "/{a}/{a}", "/{r*}/more",   "/./{id}",
                                      "/{id}/..", "no-slash/{id}"};
    eddy_http_route_options ro = {0};
    tsrv t;

    (void)state;
    srv_start(&t, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (eddy_http_server_route(t.srv, "GET", bad[i], 0, h_nothing, NULL) !=
            -EINVAL)
            fail_msg("%s was taken", bad[i]);
    assert_int_equal(eddy_http_server_route(t.srv, "GET", "/a/{id}",
                                            EDDY_ROUTE_PREFIX, h_nothing, NULL),
                     -EINVAL);
    assert_int_equal(
        eddy_http_server_route(t.srv, "GET", "/a", 8, h_nothing, NULL),
        -EINVAL);
    assert_int_equal(
        eddy_http_server_route_ex(t.srv, "GET", NULL, 0, h_nothing, NULL, &ro),
        -EINVAL);
    assert_int_equal(eddy_http_server_route_ex(t.srv, "GET", "/{a}/{b}/{c*}", 0,
                                               h_nothing, NULL, &ro),
                     0);
    srv_finish(&t);
}

/* --- cookies and headers ahead of the response ------------------------------
 */

typedef struct cookies {
    char a[32], b[32], c[32];
    int missing, bad_name, injected, framing, after;
} cookies;

static void h_cookies(eddy_http_request *req, void *arg)
{
    cookies *k = arg;
    eddy_cookie sid = {0}, bad = {0};
    eddy_str v;

    assert_int_equal(eddy_http_cookie(req, "a", &v), 0);
    copy(k->a, sizeof k->a, v);
    assert_int_equal(eddy_http_cookie(req, "b", &v), 0);
    copy(k->b, sizeof k->b, v);
    assert_int_equal(eddy_http_cookie(req, "c", &v), 0); /* second field */
    copy(k->c, sizeof k->c, v);
    k->missing = eddy_http_cookie(req, "d", &v);
    assert_int_equal(eddy_http_cookie(req, NULL, &v), -EINVAL);
    assert_int_equal(eddy_http_cookie(req, "a", NULL), -EINVAL);
    /* Setting: a cookie, a header; what could inject is refused. */
    sid.name = "sid";
    sid.value = "s3cr3t";
    sid.path = "/";
    sid.max_age = 3600;
    sid.flags = EDDY_COOKIE_HTTPONLY | EDDY_COOKIE_SECURE |
                EDDY_COOKIE_MAX_AGE | EDDY_COOKIE_SAMESITE_LAX;
    assert_int_equal(eddy_http_set_cookie(req, &sid), 0);
    bad.name = "x";
    bad.value = "a\r\nSet-Cookie: evil=1";
    k->injected = eddy_http_set_cookie(req, &bad);
    bad.value = "ok";
    bad.path = "/;Domain=evil.example";
    assert_int_equal(eddy_http_set_cookie(req, &bad), -EINVAL);
    assert_int_equal(eddy_http_set_cookie(req, NULL), -EINVAL);
    k->bad_name = eddy_http_add_header(req, "Bad Name", "v");
    assert_int_equal(eddy_http_add_header(req, "X-A", "1\r\nX-B: 2"), -EINVAL);
    assert_int_equal(eddy_http_add_header(req, "X-A", "nul\x01"), -EINVAL);
    assert_int_equal(eddy_http_add_header(req, NULL, "v"), -EINVAL);
    assert_int_equal(eddy_http_add_header(req, "X-A", NULL), -EINVAL);
    k->framing = eddy_http_add_header(req, "Content-Length", "5");
    assert_int_equal(eddy_http_add_header(req, "transfer-encoding", "x"),
                     -EINVAL);
    assert_int_equal(eddy_http_add_header(req, "Connection", "close"), -EINVAL);
    assert_int_equal(eddy_http_add_header(req, "X-Request-Id", "42"), 0);
    /* A Date of the handler's replaces the server's. */
    assert_int_equal(
        eddy_http_add_header(req, "Date", "Sun, 06 Nov 1994 08:49:37 GMT"), 0);
    assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, 2), 0);
    k->after = eddy_http_add_header(req, "X-Late", "1");
    assert_int_equal(eddy_http_set_cookie(req, &sid), -EALREADY);
    assert_int_equal(eddy_http_write(req, "ok", 2, NULL, NULL), 0);
    assert_int_equal(eddy_http_finish(req), 0);
}

static void test_cookies_and_headers(void **state)
{
    cookies k = {0};
    tsrv t;
    resp r = {0};
    char v[128];

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/c", 0, h_cookies, &k);
    assert_int_equal(ask(&t,
                         "GET /c HTTP/1.1\r\nHost: t\r\n"
                         "Cookie: a=1; b=\"two\"; bad name=3; a=later\r\n"
                         "Cookie: c=4\r\n\r\n",
                         &r),
                     200);
    assert_string_equal(k.a, "1"); /* the first, unlike arguments */
    assert_string_equal(k.b, "two");
    assert_string_equal(k.c, "4");
    assert_int_equal(k.missing, -ENOENT);
    assert_int_equal(k.injected, -EINVAL);
    assert_int_equal(k.bad_name, -EINVAL);
    assert_int_equal(k.framing, -EINVAL);
    assert_int_equal(k.after, -EALREADY);
    assert_int_equal(resp_hdr(&r, "set-cookie", v, sizeof v), 1);
    assert_string_equal(v, "sid=s3cr3t; Max-Age=3600; Path=/; Secure; "
                           "HttpOnly; SameSite=Lax");
    assert_true(resp_has(&r, "x-request-id", "42"));
    assert_true(resp_has(&r, "date", "Sun, 06 Nov 1994 08:49:37 GMT"));
    assert_int_equal(resp_hdr(&r, "x-late", NULL, 0), 0);
    assert_int_equal(resp_hdr(&r, "x-a", NULL, 0), 0);
    assert_string_equal(r.body, "ok");
    resp_free(&r);
    srv_finish(&t);
}

/* --- static files -----------------------------------------------------------
 */

/* A server with dir's files under /static/ (made for the test). */
static void static_start(tsrv *t, const eddy_http_options *o,
                         const eddy_http_static_options *so)
{
    char dir[128];

    srv_start(t, o);
    make_dir(t);
    snprintf(dir, sizeof dir, "%s/www", t->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(eddy_http_server_static(t->srv, "/static/", dir, so), 0);
}

static char *www(tsrv *t, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/www/%s", t->dir, name);
    return buf;
}

static void test_static_files(void **state)
{
    tsrv t;
    resp r = {0};
    char path[256], etag[128], lm[64], req[512], dir[128], allow[64];

    (void)state;
    static_start(&t, NULL, NULL);
    snprintf(dir, sizeof dir, "%s/www", t.dir);
    put_text(dir, "hello.html", "<p>hello</p>\n");
    put_file(dir, "data.bin", 100000, path, sizeof path);
    put_text(dir, "empty.css", "");
    assert_int_equal(ask(&t, GET("/static/hello.html"), &r), 200);
    assert_string_equal(r.body, "<p>hello</p>\n");
    assert_true(resp_has(&r, "content-type", "text/html; charset=utf-8"));
    assert_true(resp_has(&r, "accept-ranges", "bytes"));
    assert_true(resp_has(&r, "content-length", "13"));
    assert_int_equal(resp_hdr(&r, "etag", etag, sizeof etag), 1);
    assert_true(etag[0] == '"'); /* strong */
    assert_int_equal(resp_hdr(&r, "last-modified", lm, sizeof lm), 1);
    assert_int_equal(resp_hdr(&r, "cache-control", NULL, 0), 0);
    assert_int_equal(resp_hdr(&r, "vary", NULL, 0), 0);
    assert_int_equal(ask(&t, GET("/static/data.bin"), &r), 200);
    assert_int_equal(r.body_len, 100000);
    assert_true(is_pattern(r.body, r.body_len, 0));
    assert_true(resp_has(&r, "content-type", "application/octet-stream"));
    assert_int_equal(ask(&t, GET("/static/empty.css"), &r), 200);
    assert_int_equal(r.body_len, 0);
    assert_true(resp_has(&r, "content-type", "text/css; charset=utf-8"));
    /* HEAD: the same head, no body. */
    assert_int_equal(ask_as(&t,
                            "HEAD /static/hello.html HTTP/1.1\r\nHost: t"
                            "\r\n\r\n",
                            1, &r, 0),
                     200);
    assert_true(resp_has(&r, "content-length", "13"));
    assert_true(resp_has(&r, "etag", etag));
    /* Conditions. */
    snprintf(req, sizeof req,
             "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
             "If-None-Match: \"other\", %s\r\n\r\n",
             etag);
    assert_int_equal(ask(&t, req, &r), 304);
    assert_true(resp_has(&r, "etag", etag));
    assert_int_equal(resp_hdr(&r, "content-length", NULL, 0), 0);
    snprintf(req, sizeof req,
             "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
             "If-None-Match: W/%s\r\n\r\n",
             etag); /* weak comparison */
    assert_int_equal(ask(&t, req, &r), 304);
    snprintf(req, sizeof req,
             "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
             "If-Modified-Since: %s\r\n\r\n",
             lm);
    assert_int_equal(ask(&t, req, &r), 304);
    assert_int_equal(ask(&t,
                         "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
                         "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 "
                         "GMT\r\n\r\n",
                         &r),
                     200);
    /* If-None-Match decides, If-Modified-Since is then ignored. */
    snprintf(req, sizeof req,
             "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
             "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n\r\n",
             lm);
    assert_int_equal(ask(&t, req, &r), 200);
    assert_int_equal(ask(&t,
                         "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
                         "If-Modified-Since: yesterday\r\n\r\n",
                         &r),
                     200);
    assert_int_equal(ask(&t,
                         "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
                         "If-Match: \"other\"\r\n\r\n",
                         &r),
                     412);
    snprintf(req, sizeof req,
             "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
             "If-Match: %s\r\n\r\n",
             etag);
    assert_int_equal(ask(&t, req, &r), 200);
    assert_int_equal(ask(&t,
                         "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
                         "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 "
                         "GMT\r\n\r\n",
                         &r),
                     412);
    /* Other methods: 405 with Allow. */
    assert_int_equal(ask(&t,
                         "DELETE /static/hello.html HTTP/1.1\r\nHost: t"
                         "\r\n\r\n",
                         &r),
                     405);
    assert_int_equal(resp_hdr(&r, "allow", allow, sizeof allow), 1);
    assert_string_equal(allow, "GET, HEAD");
    /* A changed file has another validator. */
    put_text(dir, "hello.html", "<p>hello again</p>\n");
    snprintf(req, sizeof req,
             "GET /static/hello.html HTTP/1.1\r\nHost: t\r\n"
             "If-None-Match: %s\r\n\r\n",
             etag);
    assert_int_equal(ask(&t, req, &r), 200);
    assert_string_equal(r.body, "<p>hello again</p>\n");
    resp_free(&r);
    srv_finish(&t);
    (void)www;
}

static void test_static_ranges(void **state)
{
    tsrv t;
    resp r = {0};
    char path[256], etag[128], lm[64], req[512], dir[128], v[64];

    (void)state;
    static_start(&t, NULL, NULL);
    snprintf(dir, sizeof dir, "%s/www", t.dir);
    put_text(dir, "a.txt", "0123456789");
    assert_int_equal(ask(&t, GET("/static/a.txt"), &r), 200);
    assert_int_equal(resp_hdr(&r, "etag", etag, sizeof etag), 1);
    assert_int_equal(resp_hdr(&r, "last-modified", lm, sizeof lm), 1);
#define RANGE(spec)                                                            \
    "GET /static/a.txt HTTP/1.1\r\nHost: t\r\nRange: " spec "\r\n\r\n"
    assert_int_equal(ask(&t, RANGE("bytes=2-5"), &r), 206);
    assert_string_equal(r.body, "2345");
    assert_true(resp_has(&r, "content-range", "bytes 2-5/10"));
    assert_true(resp_has(&r, "content-length", "4"));
    assert_int_equal(ask(&t, RANGE("bytes=-3"), &r), 206);
    assert_string_equal(r.body, "789");
    assert_int_equal(ask(&t, RANGE("bytes=7-"), &r), 206);
    assert_string_equal(r.body, "789");
    assert_int_equal(ask(&t, RANGE("bytes=8-100"), &r), 206);
    assert_true(resp_has(&r, "content-range", "bytes 8-9/10"));
    /* Not satisfiable: 416 with the size; the connection stays. */
    assert_int_equal(ask(&t, RANGE("bytes=10-"), &r), 416);
    assert_true(resp_has(&r, "content-range", "bytes */10"));
    assert_int_equal(ask(&t, RANGE("bytes=-0"), &r), 416);
    /* Several ranges, another unit, a malformed one: all of it. */
    assert_int_equal(ask(&t, RANGE("bytes=0-1,3-4"), &r), 200);
    assert_string_equal(r.body, "0123456789");
    assert_int_equal(ask(&t, RANGE("items=0-1"), &r), 200);
    assert_int_equal(ask(&t, RANGE("bytes=5-2"), &r), 200);
    assert_int_equal(ask(&t, RANGE("bytes=x"), &r), 200);
    /* If-Range: the same tag or date, the range; anything else, all. */
    snprintf(req, sizeof req,
             "GET /static/a.txt HTTP/1.1\r\nHost: t\r\n"
             "Range: bytes=0-0\r\nIf-Range: %s\r\n\r\n",
             etag);
    assert_int_equal(ask(&t, req, &r), 206);
    assert_string_equal(r.body, "0");
    snprintf(req, sizeof req,
             "GET /static/a.txt HTTP/1.1\r\nHost: t\r\n"
             "Range: bytes=0-0\r\nIf-Range: %s\r\n\r\n",
             lm);
    assert_int_equal(ask(&t, req, &r), 206);
    snprintf(req, sizeof req,
             "GET /static/a.txt HTTP/1.1\r\nHost: t\r\n"
             "Range: bytes=0-0\r\nIf-Range: W/%s\r\n\r\n",
             etag);
    assert_int_equal(ask(&t, req, &r), 200); /* weak: never */
    assert_int_equal(ask(&t,
                         "GET /static/a.txt HTTP/1.1\r\nHost: t\r\n"
                         "Range: bytes=0-0\r\nIf-Range: \"old\"\r\n\r\n",
                         &r),
                     200);
    assert_int_equal(ask(&t,
                         "GET /static/a.txt HTTP/1.1\r\nHost: t\r\n"
                         "Range: bytes=0-0\r\nIf-Range: Sun, 06 Nov 1994 "
                         "08:49:37 GMT\r\n\r\n",
                         &r),
                     200);
    /* HEAD ignores Range (RFC 9110 14.2: defined for GET only). */
    assert_int_equal(ask_as(&t,
                            "HEAD /static/a.txt HTTP/1.1\r\nHost: t\r\n"
                            "Range: bytes=0-0\r\n\r\n",
                            1, &r, 0),
                     200);
    assert_true(resp_has(&r, "content-length", "10"));
    /* An empty file has no range at all. */
    put_text(dir, "empty.txt", "");
    assert_int_equal(ask(&t,
                         "GET /static/empty.txt HTTP/1.1\r\nHost: t\r\n"
                         "Range: bytes=0-\r\n\r\n",
                         &r),
                     416);
    assert_true(resp_has(&r, "content-range", "bytes */0"));
    (void)path, (void)v;
    resp_free(&r);
    srv_finish(&t);
}

/* Whether this process has openat2(2) with RESOLVE_BENEATH. */
static int have_openat2(void)
{
#if defined(__linux__) && defined(SYS_openat2)
    struct open_how how = {0};
    long fd;

    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH;
    fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
    if (fd >= 0)
        close((int)fd);
    return fd >= 0;
#else
    return 0;
#endif
}

/* Every way out of the root, tried by raw requests: refused before a file
 * is opened (400 for paths that climb, 404 for the rest), also through
 * symbolic links unless they are allowed. */
static void test_static_refusals(void **state)
{
    static const char *const climbing[] = {"/static/../../../etc/passwd",
                                           "/static/%2e%2e/%2e%2e/etc/passwd",
                                           "/static/..%2f..%2fetc/passwd",
                                           "/static/%2E%2E%2F%2E%2E/etc",
                                           "/static/a/%2e%2e/%2e%2e/%2e%2e/etc",
                                           "/static/%00../etc/passwd"};
    static const char *const missing[] = {
        "/static//etc/passwd", "/static/.env", "/static/.git/config",
        "/static/sub",         "/static/sub/", "/static/",
        "/static/pw",          "/static/abs",  "/static/fifo",
        "/static/outin",       "/static/nope", "/static/x%5c..%5cetc"};
    eddy_http_static_options so = {0};
    tsrv t;
    resp r = {0};
    char dir[128], p[256], q[256];

    (void)state;
    static_start(&t, NULL, NULL);
    snprintf(dir, sizeof dir, "%s/www", t.dir);
    put_text(dir, "a.txt", "inside");
    put_text(dir, ".env", "SECRET=1");
    assert_int_equal(mkdir(www(&t, ".git", p, sizeof p), 0755), 0);
    put_text(p, "config", "x");
    assert_int_equal(mkdir(www(&t, "sub", p, sizeof p), 0755), 0);
    put_text(p, "b.txt", "in sub");
    assert_int_equal(symlink("/etc/passwd", www(&t, "pw", p, sizeof p)), 0);
    snprintf(q, sizeof q, "%s/www/a.txt", t.dir); /* absolute, but inside */
    assert_int_equal(symlink(q, www(&t, "abs", p, sizeof p)), 0);
    assert_int_equal(symlink("a.txt", www(&t, "rel", p, sizeof p)), 0);
    /* In sub, ".." is the root: still beneath it. */
    assert_int_equal(symlink("../a.txt", www(&t, "sub/up", p, sizeof p)), 0);
    /* Out of the root and back in: RESOLVE_BENEATH refuses it. */
    assert_int_equal(symlink("../www/a.txt", www(&t, "outin", p, sizeof p)), 0);
    assert_int_equal(mkfifo(www(&t, "fifo", p, sizeof p), 0644), 0);
    for (size_t i = 0; i < sizeof climbing / sizeof climbing[0]; i++) {
        char raw[300];

        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
                 climbing[i]);
        if (ask_as(&t, raw, 0, &r, 1) != 400)
            fail_msg("%s: %d", climbing[i], r.status);
    }
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        char raw[300];

        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
                 missing[i]);
        if (ask(&t, raw, &r) != 404)
            fail_msg("%s: %d", missing[i], r.status);
        assert_null(strstr(r.body, "root:"));
    }
    assert_int_equal(ask(&t, GET("/static/sub/b.txt"), &r), 200);
    assert_int_equal(ask(&t, GET("/static/sub/./b.txt"), &r), 200);
    assert_int_equal(ask(&t, GET("/static/sub/../a.txt"), &r), 200);
    assert_string_equal(r.body, "inside");
    /* Links that stay beneath the root are followed where openat2(2)
     * resolves them there; elsewhere (valgrind knows no openat2) no link
     * is followed. */
    assert_int_equal(ask(&t, GET("/static/rel"), &r),
                     have_openat2() ? 200 : 404);
    assert_int_equal(ask(&t, GET("/static/sub/up"), &r),
                     have_openat2() ? 200 : 404);
    if (geteuid() != 0) { /* root reads anything */
        assert_int_equal(chmod(www(&t, "a.txt", p, sizeof p), 0), 0);
        assert_int_equal(ask(&t, GET("/static/a.txt"), &r), 403);
    }
    srv_finish(&t);

    /* Allowed: links are followed wherever they lead; dotfiles, and a
     * directory's index, with a redirect for its path without '/'. */
    so.index = "index.html";
    so.cache_control = "max-age=60";
    so.flags = EDDY_STATIC_FOLLOW_SYMLINKS | EDDY_STATIC_DOTFILES;
    static_start(&t, NULL, &so);
    snprintf(dir, sizeof dir, "%s/www", t.dir);
    put_text(dir, "index.html", "root index");
    put_text(dir, ".well-known", "dot");
    assert_int_equal(mkdir(www(&t, "sub", p, sizeof p), 0755), 0);
    put_text(p, "index.html", "sub index");
    assert_int_equal(symlink("/etc/hostname", www(&t, "host", p, sizeof p)), 0);
    assert_int_equal(ask(&t, GET("/static/"), &r), 200);
    assert_string_equal(r.body, "root index");
    assert_true(resp_has(&r, "cache-control", "max-age=60"));
    assert_int_equal(ask(&t, GET("/static/sub/"), &r), 200);
    assert_string_equal(r.body, "sub index");
    assert_int_equal(ask(&t, GET("/static/sub?x=1"), &r), 301);
    assert_true(resp_has(&r, "location", "/static/sub/?x=1"));
    assert_int_equal(ask(&t, GET("/static/%73ub"), &r), 301);
    assert_true(resp_has(&r, "location", "/static/%73ub/"));
    assert_int_equal(ask(&t, GET("/static/.well-known"), &r), 200);
    if (access("/etc/hostname", R_OK) == 0)
        assert_int_equal(ask(&t, GET("/static/host"), &r), 200);
    assert_int_equal(ask(&t, GET("/static//sub/"), &r), 404);
    resp_free(&r);
    srv_finish(&t);
}

/* Files past 4 GiB: a sparse one, its last bytes by range. */
static void test_static_past_4gib(void **state)
{
    const uint64_t size = 5ull << 30;
    tsrv t;
    resp r = {0};
    char path[256], want[64];
    int fd;

    (void)state;
    static_start(&t, NULL, NULL);
    fd = open(www(&t, "big.iso", path, sizeof path),
              O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    if (ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        srv_finish(&t);
        skip();
    }
    assert_int_equal(pwrite(fd, "the end", 7, (off_t)size - 7), 7);
    assert_int_equal(close(fd), 0);
    assert_int_equal(ask_as(&t,
                            "HEAD /static/big.iso HTTP/1.1\r\nHost: t\r\n"
                            "\r\n",
                            1, &r, 0),
                     200);
    assert_true(resp_has(&r, "content-length", "5368709120"));
    assert_int_equal(ask(&t,
                         "GET /static/big.iso HTTP/1.1\r\nHost: t\r\n"
                         "Range: bytes=-10\r\n\r\n",
                         &r),
                     206);
    assert_int_equal(r.body_len, 10);
    assert_memory_equal(r.body, "\0\0\0the end", 10);
    snprintf(want, sizeof want, "bytes %llu-%llu/%llu",
             (unsigned long long)(size - 10), (unsigned long long)(size - 1),
             (unsigned long long)size);
    assert_true(resp_has(&r, "content-range", want));
    assert_int_equal(ask(&t,
                         "GET /static/big.iso HTTP/1.1\r\nHost: t\r\n"
                         "Range: bytes=4294967290-4294967301\r\n\r\n",
                         &r),
                     206);
    assert_int_equal(r.body_len, 12);
    assert_true(resp_has(&r, "content-range",
                         "bytes 4294967290-4294967301/5368709120"));
    resp_free(&r);
    srv_finish(&t);
}

/* A client whose receive buffer is small (set before connecting, so that
 * the window stays small): the server's bytes wait in its own buffers. */
static void cl_open_small(tsrv *t, client *c)
{
    struct sockaddr_in a = {0};
    int rcvbuf = 4096;

    memset(c, 0, sizeof *c);
    c->loop = t->loop;
    c->room = 65536;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)t->port);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    tu_nonblock(c->fd);
}

/* A file truncated while a slow reader fetches it: the client gets the
 * file's own bytes, fewer than the Content-Length, and then the end of
 * the connection; never bytes that are not the file's.  (What the kernel
 * buffers hold before the cut, at most 4 MiB here, was read before it.) */
static void test_static_truncated(void **state)
{
    uint64_t size = 16u << 20, cut = tu_valgrind() ? 5u << 20 : 8u << 20;
    tsrv t;
    client c;
    char path[256], dir[256], cl[64];
    const char *body;
    size_t head, got;

    (void)state;
    static_start(&t, NULL, NULL);
    put_file(www(&t, "", dir, sizeof dir), "movie.bin", size, path,
             sizeof path);
    cl_open_small(&t, &c);
    cl_send(&c, GET("/static/movie.bin"));
    run_for(&t, 50); /* the server sends until the buffers are full */
    assert_int_equal(truncate(path, (off_t)cut), 0);
    cl_resume(&c);
    assert_true(tu_run_until(t.loop, cl_eof, &c, RUN_ITER * 10, RUN_MS * 4));
    body = strstr(c.buf, "\r\n\r\n");
    assert_non_null(body);
    head = (size_t)(body + 4 - c.buf);
    snprintf(cl, sizeof cl, "Content-Length: %llu\r\n",
             (unsigned long long)size);
    assert_non_null(strstr(c.buf, cl));
    got = c.len - head;
    assert_true(got <= cut);
    assert_true(is_pattern(c.buf + head, got, 0));
    cl_close(&c);
    srv_finish(&t);
}

static void test_static_errors(void **state)
{
    eddy_http_static_options so = {0};
    tsrv t;
    char p[256];

    (void)state;
    srv_start(&t, NULL);
    make_dir(&t);
    put_text(t.dir, "file", "x");
    assert_int_equal(eddy_http_server_static(t.srv, NULL, t.dir, NULL),
                     -EINVAL);
    assert_int_equal(eddy_http_server_static(t.srv, "/s/", NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_http_server_static(t.srv, "/s", t.dir, NULL),
                     -EINVAL);
    assert_int_equal(eddy_http_server_static(t.srv, "s/", t.dir, NULL),
                     -EINVAL);
    assert_int_equal(eddy_http_server_static(t.srv, "/{x}/", t.dir, NULL),
                     -EINVAL);
    so.flags = 4;
    assert_int_equal(eddy_http_server_static(t.srv, "/s/", t.dir, &so),
                     -EINVAL);
    so.flags = 0;
    so.index = "a/b.html";
    assert_int_equal(eddy_http_server_static(t.srv, "/s/", t.dir, &so),
                     -EINVAL);
    so.index = NULL;
    so.cache_control = "max-age=1\r\nX-Evil: 1";
    assert_int_equal(eddy_http_server_static(t.srv, "/s/", t.dir, &so),
                     -EINVAL);
    snprintf(p, sizeof p, "%s/file", t.dir);
    assert_int_equal(eddy_http_server_static(t.srv, "/s/", p, NULL), -ENOTDIR);
    snprintf(p, sizeof p, "%s/none", t.dir);
    assert_int_equal(eddy_http_server_static(t.srv, "/s/", p, NULL), -ENOENT);
    /* Then it works. */
    assert_int_equal(eddy_http_server_static(t.srv, "/s/", t.dir, NULL), 0);
    srv_finish(&t);
}

/* --- error pages ------------------------------------------------------------
 */

typedef struct pages {
    int calls, with_req, last_status, refuse, bad_type;
    char buf[256];
} pages;

static int page_hook(void *arg, const eddy_http_request *req, int status,
                     eddy_http_error_page *page)
{
    pages *pg = arg;
    int n;

    pg->calls++;
    pg->last_status = status;
    pg->with_req += req != NULL;
    if (pg->refuse)
        return -1;
    n = snprintf(pg->buf, sizeof pg->buf, "<h1>%d %s</h1><p>%.*s</p>\n", status,
                 eddy_http_reason(status),
                 req ? (int)eddy_http_path(req).len : 0,
                 req ? eddy_http_path(req).p : "");
    page->content_type =
        pg->bad_type ? "text/html\r\nX-Evil: 1" : "text/html; charset=utf-8";
    page->body = pg->buf;
    page->len = (size_t)n;
    return 0;
}

static void h_send_error(eddy_http_request *req, void *arg)
{
    (void)arg;
    assert_int_equal(eddy_http_send_error(req, 399), -EINVAL);
    assert_int_equal(eddy_http_send_error(req, 600), -EINVAL);
    assert_int_equal(eddy_http_add_header(req, "WWW-Authenticate", "Basic"), 0);
    assert_int_equal(eddy_http_send_error(req, 401), 0);
}

static void h_started_then_error(eddy_http_request *req, void *arg)
{
    (void)arg;
    assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, 0), 0);
    assert_int_equal(eddy_http_send_error(req, 500), -EALREADY);
    assert_int_equal(eddy_http_finish(req), 0);
}

/* The server's own answers, and a handler's send_error, through the hook:
 * with the request where there is one, NULL where the head did not parse;
 * the status line, Allow and Connection stay the server's; a page that
 * could not be sent, or none, gives the built-in one. */
static void test_error_pages(void **state)
{
    eddy_http_options o = {0};
    pages pg = {0};
    tsrv t;
    resp r = {0};
    char big[1200];

    (void)state;
    o.error_page = page_hook;
    o.error_page_arg = &pg;
    o.max_body_size = 100;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/only-get", 0, h_nothing, NULL);
    srv_route(&t, "GET", "/auth", 0, h_send_error, NULL);
    srv_route(&t, "GET", "/late", 0, h_started_then_error, NULL);
    assert_int_equal(ask(&t, GET("/missing"), &r), 404);
    assert_string_equal(r.body, "<h1>404 Not Found</h1><p>/missing</p>\n");
    assert_true(resp_has(&r, "content-type", "text/html; charset=utf-8"));
    assert_int_equal(ask(&t,
                         "PUT /only-get HTTP/1.1\r\nHost: t\r\n"
                         "Content-Length: 0\r\n\r\n",
                         &r),
                     405);
    assert_true(resp_has(&r, "allow", "GET, HEAD"));
    assert_string_equal(r.body, "<h1>405 Method Not Allowed</h1><p>/only-get"
                                "</p>\n");
    assert_int_equal(ask_as(&t,
                            "POST /only-get HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: 1000\r\n\r\n",
                            0, &r, 1),
                     413);
    assert_int_equal(pg.last_status, 413);
    assert_int_equal(ask_as(&t, GET("/a/%2e%2e/.."), 0, &r, 1), 400);
    assert_int_equal(pg.with_req, 4);
    /* No request: a head that did not parse. */
    assert_int_equal(
        ask_as(&t, "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 0, &r, 1),
        400);
    assert_int_equal(pg.with_req, 4);
    assert_string_equal(r.body, "<h1>400 Bad Request</h1><p></p>\n");
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    strcpy(big + 1100, " HTTP/1.1\r\nHost: t\r\n\r\n");
    o.max_uri_length = 1000;
    srv_finish(&t);
    srv_start(&t, &o);
    srv_route(&t, "GET", "/auth", 0, h_send_error, NULL);
    srv_route(&t, "GET", "/late", 0, h_started_then_error, NULL);
    assert_int_equal(ask_as(&t, big, 0, &r, 1), 414);
    assert_int_equal(pg.last_status, 414);
    /* A handler's send_error: the hook, and the headers added. */
    assert_int_equal(ask(&t, GET("/auth"), &r), 401);
    assert_true(resp_has(&r, "www-authenticate", "Basic"));
    assert_string_equal(r.body, "<h1>401 Unauthorized</h1><p>/auth</p>\n");
    assert_int_equal(ask(&t, GET("/late"), &r), 200);
    /* HEAD: no body. */
    assert_int_equal(
        ask_as(&t, "HEAD /missing HTTP/1.1\r\nHost: t\r\n\r\n", 1, &r, 0), 404);
    assert_int_equal(r.body_len, 0);
    /* A page that cannot be sent, and none: the built-in one. */
    pg.bad_type = 1;
    assert_int_equal(ask(&t, GET("/missing"), &r), 404);
    assert_string_equal(r.body, "404 Not Found\n");
    assert_true(resp_has(&r, "content-type", "text/plain"));
    assert_int_equal(resp_hdr(&r, "x-evil", NULL, 0), 0);
    assert_int_equal(ask_as(&t,
                            "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n"
                            "\r\n",
                            0, &r, 1),
                     400);
    assert_string_equal(r.body, "400 Bad Request\n");
    pg.bad_type = 0;
    pg.refuse = 1;
    assert_int_equal(ask(&t, GET("/missing"), &r), 404);
    assert_string_equal(r.body, "404 Not Found\n");
    resp_free(&r);
    srv_finish(&t);
}

/* --- handler deadlines ------------------------------------------------------
 */

typedef struct alog {
    int calls, last_status, aborted;
} alog;

static void access_log(void *arg, const eddy_http_request *req, int status,
                       uint64_t bytes, double ms)
{
    alog *a = arg;

    (void)bytes, (void)ms;
    a->calls++;
    a->last_status = status;
    a->aborted += eddy_http_aborted(req) != 0;
}

typedef struct slow {
    int calls, timeouts, closes, body_done, body_status;
    int start;                   /* begin the response, then hold it */
    int stream;                  /* read the (streamed) body */
    int finish_in_timeout;       /* finish it from on_timeout */
    int finish_at_ms;            /* finish it from a timer (0: hold it) */
    int late_rc, late_finish_rc; /* what answering later returned */
    eddy_http_request *req;
    eddy_timer_id timer;
} slow;

static void slow_body(eddy_http_request *req, int status, const char *data,
                      size_t len, int done, void *arg)
{
    slow *w = arg;

    (void)req, (void)data, (void)len;
    if (done) {
        w->body_done++;
        w->body_status = status;
    }
}

static void slow_close(eddy_http_request *req, void *arg)
{
    (void)req;
    ((slow *)arg)->closes++;
}

static void slow_finish(eddy_loop *loop, void *arg)
{
    slow *w = arg;

    (void)loop;
    w->timer = 0;
    w->late_rc = eddy_http_respond(w->req, 200, NULL, 0, "late", 4);
    w->req = NULL;
}

static void h_slow(eddy_http_request *req, void *arg)
{
    slow *w = arg;

    w->calls++;
    w->req = req;
    eddy_http_on_close(req, slow_close, w);
    if (w->stream)
        assert_int_equal(eddy_http_read_body(req, slow_body, w), 0);
    if (w->start) {
        assert_int_equal(eddy_http_start_response(req, 200, NULL, NULL, 0, 10),
                         0);
        assert_int_equal(eddy_http_write(req, "part", 4, NULL, NULL), 0);
    }
    if (w->finish_at_ms)
        assert_int_equal(eddy_loop_call_later(eddy_http_request_loop(req),
                                              (uint64_t)w->finish_at_ms,
                                              slow_finish, w, &w->timer),
                         0);
}

static void slow_timeout(eddy_http_request *req, void *arg)
{
    slow *w = arg;

    assert_ptr_equal(req, w->req);
    w->timeouts++;
    if (w->finish_in_timeout) {
        w->late_finish_rc = eddy_http_finish(req);
        w->req = NULL;
    }
}

static void slow_start(tsrv *t, alog *a, slow *w, unsigned flags,
                       uint64_t timeout_ms)
{
    eddy_http_options o = {0};
    eddy_http_route_options ro = {timeout_ms, slow_timeout};

    o.access_log = access_log;
    o.access_log_arg = a;
    srv_start(t, &o);
    assert_int_equal(
        eddy_http_server_route_ex(t->srv, NULL, "/slow", flags, h_slow, w, &ro),
        0);
}

/* Not answered in time: the client gets 503 and the close; the handler
 * is told, and its request stays valid until it finishes it (-EPIPE,
 * which frees it); the 503 is logged once. */
static void test_deadline_503(void **state)
{
    alog a = {0};
    slow w = {0};
    tsrv t;
    resp r = {0};
    client c;

    (void)state;
    slow_start(&t, &a, &w, 0, 50);
    cl_open(&t, &c);
    cl_send(&c, GET("/slow"));
    assert_true(cl_response_as(&c, &r, 0));
    assert_int_equal(r.status, 503);
    assert_true(resp_has(&r, "connection", "close"));
    cl_wait_eof(&c);
    cl_close(&c);
    assert_int_equal(w.timeouts, 1);
    assert_int_equal(w.closes, 0); /* the client did not leave */
    assert_non_null(w.req);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.last_status, 503);
    /* The handler answers late: -EPIPE, and the request is freed. */
    assert_int_equal(eddy_http_write(w.req, "x", 1, NULL, NULL), -EPIPE);
    assert_int_equal(eddy_http_start_response(w.req, 200, NULL, NULL, 0, 0),
                     -EPIPE);
    assert_int_equal(eddy_http_respond(w.req, 200, NULL, 0, "late", 4), -EPIPE);
    w.req = NULL;
    assert_int_equal(a.calls, 1); /* not logged again */
    assert_int_equal(srv_stats(&t).requests, 1);
    resp_free(&r);
    srv_finish(&t);

    /* Finished from on_timeout itself; and answered from a timer that
     * fires after the deadline. */
    memset(&a, 0, sizeof a);
    memset(&w, 0, sizeof w);
    w.finish_in_timeout = 1;
    slow_start(&t, &a, &w, 0, 30);
    assert_int_equal(ask_as(&t, GET("/slow"), 0, &r, 1), 503);
    assert_int_equal(w.late_finish_rc, -EPIPE);
    assert_int_equal(w.timeouts, 1);
    srv_finish(&t);
    memset(&a, 0, sizeof a);
    memset(&w, 0, sizeof w);
    w.finish_at_ms = 80;
    slow_start(&t, &a, &w, 0, 30);
    assert_int_equal(
        ask_as(&t, "HEAD /slow HTTP/1.1\r\nHost: t\r\n\r\n", 1, &r, 1), 503);
    assert_int_equal(r.body_len, 0);
    {
        tu_at_least done = {&w.late_rc, 1};

        (void)done;
        while (w.req != NULL)
            assert_int_equal(eddy_loop_run_once(t.loop, 10), 0);
    }
    assert_int_equal(w.late_rc, -EPIPE);
    assert_int_equal(a.calls, 1);
    resp_free(&r);
    srv_finish(&t);
}

/* A response begun: cut off by closing the connection; on_timeout, then
 * on_close; the request is finished by its handler (-EPIPE), logged as
 * aborted. */
static void test_deadline_started(void **state)
{
    alog a = {0};
    slow w = {0};
    tsrv t;
    client c;
    tu_at_least closed = {&w.closes, 1};

    (void)state;
    w.start = 1;
    slow_start(&t, &a, &w, 0, 50);
    cl_open(&t, &c);
    cl_send(&c, GET("/slow"));
    cl_wait_eof(&c);
    assert_non_null(strstr(c.buf, "Content-Length: 10\r\n"));
    assert_non_null(strstr(c.buf, "\r\n\r\npart"));
    assert_true(
        tu_run_until(t.loop, tu_at_least_cond, &closed, RUN_ITER, RUN_MS));
    assert_int_equal(w.timeouts, 1);
    assert_int_equal(a.calls, 0);
    assert_int_equal(eddy_http_finish(w.req), -EPIPE);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.aborted, 1);
    cl_close(&c);
    srv_finish(&t);
}

/* A streamed body still coming: its callback's last call (-ECANCELED)
 * comes first. */
static void test_deadline_streamed_body(void **state)
{
    alog a = {0};
    slow w = {0};
    tsrv t;
    resp r = {0};
    client c;

    (void)state;
    w.stream = 1;
    w.finish_in_timeout = 1;
    slow_start(&t, &a, &w, EDDY_ROUTE_STREAM, 50);
    cl_open(&t, &c);
    cl_send(&c, "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"
                "only some");
    assert_true(cl_response_as(&c, &r, 0));
    assert_int_equal(r.status, 503);
    cl_wait_eof(&c);
    assert_int_equal(w.body_done, 1);
    assert_int_equal(w.body_status, -ECANCELED);
    assert_int_equal(w.timeouts, 1);
    cl_close(&c);
    resp_free(&r);
    srv_finish(&t);
}

/* Finished in time, or the client gone first: no deadline fires (and no
 * timer is left: srv_finish checks the loop has none). */
static void test_deadline_not_reached(void **state)
{
    alog a = {0};
    slow w = {0};
    tsrv t;
    resp r = {0};
    client c;
    tu_at_least closed = {&w.closes, 1};
    struct linger lg = {1, 0};

    (void)state;
    w.finish_at_ms = 10;
    slow_start(&t, &a, &w, 0, 1000);
    assert_int_equal(ask(&t, GET("/slow"), &r), 200);
    assert_string_equal(r.body, "late");
    assert_int_equal(w.late_rc, 0);
    assert_int_equal(w.timeouts, 0);
    srv_finish(&t);
    memset(&w, 0, sizeof w);
    slow_start(&t, &a, &w, 0, 60);
    cl_open(&t, &c);
    cl_send(&c, GET("/slow"));
    while (w.req == NULL)
        assert_int_equal(eddy_loop_run_once(t.loop, 10), 0);
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    cl_close(&c);
    assert_true(
        tu_run_until(t.loop, tu_at_least_cond, &closed, RUN_ITER, RUN_MS));
    run_for(&t, 100);
    assert_int_equal(w.timeouts, 0);
    assert_int_equal(eddy_http_finish(w.req), -EPIPE);
    resp_free(&r);
    srv_finish(&t);
}

/* A request held past its server: freeing the server cancels the deadline
 * (the handler heard on_close), and the request is still finished. */
static void test_deadline_server_freed(void **state)
{
    alog a = {0};
    slow w = {0};
    tsrv t;
    client c;

    (void)state;
    slow_start(&t, &a, &w, 0, 50);
    cl_open(&t, &c);
    cl_send(&c, GET("/slow"));
    while (w.req == NULL)
        assert_int_equal(eddy_loop_run_once(t.loop, 10), 0);
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    assert_int_equal(w.closes, 1);
    run_for(&t, 100);
    assert_int_equal(w.timeouts, 0);
    assert_int_equal(eddy_http_finish(w.req), -EPIPE);
    cl_close(&c);
    srv_finish(&t);
}

/* --- gzip --------------------------------------------------------------------
 */

#ifdef EDDY_ZLIB
/* Inflates a gzip body; returns its length (or -1 when it is not one). */
static long gunzip(const char *p, size_t n, char *out, size_t cap)
{
    z_stream z;
    int r;

    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    r = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    return r == Z_STREAM_END ? (long)(cap - z.avail_out) : -1;
}
#endif

static char json[4096];

static void h_json(eddy_http_request *req, void *arg)
{
    eddy_str m = eddy_http_query(req);
    size_t len = strtoul(m.len ? m.p : "4000", NULL, 10);
    eddy_http_header h[2] = {EDDY_HEADER("Content-Type", "application/json"),
                             EDDY_HEADER("ETag", "\"v1\"")};

    (void)arg;
    assert_int_equal(eddy_http_respond(req, 200, h, 2, json, len), 0);
}

static void h_png(eddy_http_request *req, void *arg)
{
    eddy_http_header h = EDDY_HEADER("Content-Type", "image/png");

    (void)arg;
    assert_int_equal(eddy_http_respond(req, 200, &h, 1, json, 4000), 0);
}

/* A stream of pieces, each flushed: the client can inflate each at once. */
static void h_stream_text(eddy_http_request *req, void *arg)
{
    eddy_http_header h = EDDY_HEADER("Content-Type", "text/plain");
    int *file_rc = arg;

    assert_int_equal(eddy_http_start_response(req, 200, NULL, &h, 1, -1), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(eddy_http_write(req, json, 1000, NULL, NULL), 0);
    *file_rc = eddy_http_write_file(req, 0, 0, 1, NULL, NULL);
    assert_int_equal(eddy_http_finish(req), 0);
}

static void h_partial(eddy_http_request *req, void *arg)
{
    eddy_http_header h[2] = {EDDY_HEADER("Content-Type", "text/plain"),
                             EDDY_HEADER("Content-Range", "bytes 0-1999/9000")};

    (void)arg;
    assert_int_equal(eddy_http_respond(req, 206, h, 2, json, 2000), 0);
}

static void test_gzip(void **state)
{
    eddy_http_options o = {0};
    tsrv t;
    resp r = {0};
    int file_rc = 0;
#ifdef EDDY_ZLIB
    char out[60000];
    long n;
#endif

    (void)state;
    for (size_t i = 0; i < sizeof json; i++)
        json[i] = "{\"k\": [1, 2, 3], \"name\": \"eddy\"}\n"[i % 34];
    o.gzip = 1;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/json", 0, h_json, NULL);
    srv_route(&t, "GET", "/raw", EDDY_ROUTE_NO_GZIP, h_json, NULL);
    srv_route(&t, "GET", "/png", 0, h_png, NULL);
    srv_route(&t, "GET", "/stream", 0, h_stream_text, &file_rc);
    srv_route(&t, "GET", "/partial", 0, h_partial, NULL);
#define AE(path, value)                                                        \
    "GET " path " HTTP/1.1\r\nHost: t\r\nAccept-Encoding: " value "\r\n\r\n"
#ifdef EDDY_ZLIB
    /* Whole: compressed before the head, which says its length. */
    assert_int_equal(ask(&t, AE("/json", "gzip, deflate, br"), &r), 200);
    assert_true(resp_has(&r, "content-encoding", "gzip"));
    assert_true(resp_has(&r, "vary", "Accept-Encoding"));
    assert_true(resp_has(&r, "etag", "W/\"v1\""));
    assert_int_equal(resp_hdr(&r, "transfer-encoding", NULL, 0), 0);
    assert_true(r.body_len < 400);
    n = gunzip(r.body, r.body_len, out, sizeof out);
    assert_int_equal(n, 4000);
    assert_memory_equal(out, json, 4000);
    assert_int_equal(ask(&t, AE("/json", "*"), &r), 200);
    assert_true(resp_has(&r, "content-encoding", "gzip"));
    assert_int_equal(ask(&t, AE("/json", "x-gzip;q=0.5"), &r), 200);
    assert_true(resp_has(&r, "content-encoding", "gzip"));
    /* Streamed: chunks, each piece flushed; eddy_http_write_file() is
     * refused (-ENOTSUP) on a compressed response. */
    assert_int_equal(ask(&t, AE("/stream", "gzip"), &r), 200);
    assert_true(r.chunked);
    assert_true(r.chunks > 1);
    assert_true(resp_has(&r, "content-encoding", "gzip"));
    n = gunzip(r.body, r.body_len, out, sizeof out);
    assert_int_equal(n, 50000);
    assert_memory_equal(out, json, 1000);
    assert_int_equal(file_rc, -ENOTSUP);
#endif
    /* Not accepted: identity, and Vary still says it could be. */
    assert_int_equal(ask(&t, AE("/json", "gzip;q=0, identity"), &r), 200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_true(resp_has(&r, "vary", "Accept-Encoding") == (o.gzip && ZLIB_ON));
    assert_int_equal(r.body_len, 4000);
    assert_true(resp_has(&r, "etag", "\"v1\""));
    assert_int_equal(ask(&t, AE("/json", "*;q=0"), &r), 200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_int_equal(ask(&t, GET("/json"), &r), 200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_int_equal(ask_as(&t,
                            "HEAD /json HTTP/1.1\r\nHost: t\r\n"
                            "Accept-Encoding: gzip\r\n\r\n",
                            1, &r, 0),
                     200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_true(resp_has(&r, "content-length", "4000"));
    /* Never: small, not compressible, a route that says no, a 206,
     * HTTP/1.0; and none of those vary. */
    assert_int_equal(ask(&t, AE("/json?100", "gzip"), &r), 200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_int_equal(resp_hdr(&r, "vary", NULL, 0), 0);
    assert_int_equal(ask(&t, AE("/png", "gzip"), &r), 200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_int_equal(resp_hdr(&r, "vary", NULL, 0), 0);
    assert_int_equal(ask(&t, AE("/raw", "gzip"), &r), 200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_int_equal(ask(&t, AE("/partial", "gzip"), &r), 206);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_int_equal(ask_as(&t,
                            "GET /json HTTP/1.0\r\nAccept-Encoding: gzip"
                            "\r\n\r\n",
                            0, &r, 1),
                     200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    resp_free(&r);
    srv_finish(&t);

    /* Off (the default): nothing changes. */
    srv_start(&t, NULL);
    srv_route(&t, "GET", "/json", 0, h_json, NULL);
    assert_int_equal(ask(&t, AE("/json", "gzip"), &r), 200);
    assert_int_equal(resp_hdr(&r, "content-encoding", NULL, 0), 0);
    assert_int_equal(resp_hdr(&r, "vary", NULL, 0), 0);
    resp_free(&r);
    srv_finish(&t);
}

static void h_keep(eddy_http_request *req, void *arg)
{
    *(eddy_http_request **)arg = req;
}

static int is_held(void *arg)
{
    return *(eddy_http_request **)arg != NULL;
}

/* A request its handler still holds when the server is freed is answered
 * -EPIPE and freed, with gzip on too: deciding on compression read the
 * freed server's options (valgrind found it through fuzz/connection.c). */
static void test_gzip_after_server_free(void **state)
{
    eddy_http_options o = {0};
    eddy_http_header h = EDDY_HEADER("Content-Type", "application/json");
    eddy_http_request *req = NULL;
    client c;
    tsrv t;

    (void)state;
    o.gzip = 1;
    srv_start(&t, &o);
    srv_route(&t, "GET", "/held", 0, h_keep, &req);
    cl_open(&t, &c);
    cl_send(&c, "GET /held HTTP/1.1\r\nHost: t\r\n"
                "Accept-Encoding: gzip\r\n\r\n");
    assert_true(tu_run_until(t.loop, is_held, &req, RUN_ITER, RUN_MS));
    eddy_http_server_free(t.srv);
    t.srv = NULL;
    assert_int_equal(eddy_http_respond(req, 200, &h, 1, json, 4000), -EPIPE);
    cl_close(&c);
    srv_finish(&t);
}

/* --- files as pieces of a body ----------------------------------------------
 */

typedef struct filer {
    int fd, rc[6], sent;
    int64_t length;
} filer;

static void on_file_sent(eddy_stream *s, int status, void *arg)
{
    (void)s;
    ((filer *)arg)->sent = status == 0 ? 1 : status;
}

static void h_file(eddy_http_request *req, void *arg)
{
    filer *f = arg;
    eddy_http_header h = EDDY_HEADER("Content-Type", "text/plain");

    f->rc[0] = eddy_http_write_file(req, f->fd, 0, 5, NULL, NULL);
    assert_int_equal(eddy_http_start_response(req, 200, NULL, &h, 1, f->length),
                     0);
    f->rc[1] = eddy_http_write_file(req, -1, 0, 5, NULL, NULL);
    f->rc[2] =
        eddy_http_write_file(req, f->fd, (uint64_t)INT64_MAX, 5, NULL, NULL);
    assert_int_equal(eddy_http_write(req, "<", 1, NULL, NULL), 0);
    f->rc[3] = eddy_http_write_file(req, f->fd, 10, 20, on_file_sent, f);
    f->rc[4] = eddy_http_write_file(req, f->fd, 0, 100, NULL, NULL);
    assert_int_equal(eddy_http_write(req, ">", 1, NULL, NULL), 0);
    assert_int_equal(eddy_http_finish(req), 0);
}

/* eddy_http_write_file() with a Content-Length and chunked, between other
 * pieces; and its refusals. */
static void test_write_file(void **state)
{
    filer f = {0};
    tsrv t;
    resp r = {0};
    char path[256];

    (void)state;
    srv_start(&t, NULL);
    make_dir(&t);
    put_file(t.dir, "f", 1000, path, sizeof path);
    f.fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(f.fd >= 0);
    srv_route(&t, "GET", "/f", 0, h_file, &f);
    f.length = 22;
    assert_int_equal(ask(&t, GET("/f"), &r), 200);
    assert_int_equal(f.rc[0], -EINVAL); /* not started */
    assert_int_equal(f.rc[1], -EINVAL);
    assert_int_equal(f.rc[2], -EINVAL);
    assert_int_equal(f.rc[3], 0);
    assert_int_equal(f.rc[4], -EINVAL); /* past the Content-Length */
    assert_int_equal(f.sent, 1);
    assert_int_equal(r.body_len, 22);
    assert_int_equal(r.body[0], '<');
    assert_true(is_pattern(r.body + 1, 20, 10));
    assert_int_equal(r.body[21], '>');
    f.length = -1;
    f.sent = 0;
    assert_int_equal(ask(&t, GET("/f"), &r), 200);
    assert_true(r.chunked);
    assert_int_equal(f.rc[4], 0);
    assert_int_equal(r.body_len, 122);
    assert_true(is_pattern(r.body + 1, 20, 10));
    assert_true(is_pattern(r.body + 21, 100, 0));
    assert_int_equal(f.sent, 1);
    close(f.fd);
    resp_free(&r);
    srv_finish(&t);
}

/* After the client went away: both calls say -EPIPE, and the request is
 * finished all the same. */
typedef struct gone {
    eddy_http_request *req;
    int closes;
} gone;

static void on_gone(eddy_http_request *req, void *arg)
{
    (void)req;
    ((gone *)arg)->closes++;
}

static void h_hold(eddy_http_request *req, void *arg)
{
    gone *g = arg;

    g->req = req;
    eddy_http_on_close(req, on_gone, g);
}

static void test_client_gone_calls(void **state)
{
    gone g = {0};
    tu_at_least closed = {&g.closes, 1};
    struct linger lg = {1, 0};
    tsrv t;
    client c;

    (void)state;
    srv_start(&t, NULL);
    srv_route(&t, "POST", "/up", EDDY_ROUTE_STREAM, h_hold, &g);
    cl_open(&t, &c);
    cl_send(&c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/"
                "form-data; boundary=b\r\nContent-Length: 100\r\n\r\n");
    while (g.req == NULL)
        assert_int_equal(eddy_loop_run_once(t.loop, 10), 0);
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    cl_close(&c);
    assert_true(
        tu_run_until(t.loop, tu_at_least_cond, &closed, RUN_ITER, RUN_MS));
    assert_int_equal(
        eddy_http_read_multipart(g.req, NULL, &up_cbs, up_done, NULL), -EPIPE);
    assert_int_equal(eddy_http_start_response(g.req, 200, NULL, NULL, 0, 5),
                     -EPIPE);
    assert_int_equal(eddy_http_write_file(g.req, 0, 0, 5, NULL, NULL), -EPIPE);
    assert_int_equal(eddy_http_finish(g.req), -EPIPE);
    srv_finish(&t);
}

/* --- the parsers behind them --------------------------------------------- */

static void test_accept_encoding(void **state)
{
    static const struct {
        const char *v;
        int yes;
    } cases[] = {
        {"gzip", 1},
        {"GZIP", 1},
        {"x-gzip", 1},
        {"gzip;q=0", 0},
        {"gzip; q=0.000", 0},
        {"gzip;q=0.001", 1},
        {"gzip;Q=1", 1},
        {"gzip;q=1.000", 1},
        {"gzip;q=1.001", 0},
        {"gzip;q=1.5", 0},
        {"gzip;q=abc", 0},
        {"gzip;q=", 0},
        {"gzip;q=0.1234", 0},
        {"gzip;level=9", 1},
        {"gzip;;q=1", 0},
        {"*", 1},
        {"*;q=0", 0},
        {"*, gzip;q=0", 0},
        {"gzip;q=0, *", 0},
        {"br;q=1, *;q=0.1", 1},
        {"identity", 0},
        {"deflate, br", 0},
        {"", 0},
        {" , ,gzip , ", 1},
        {"gzipx", 0},
        {"gzip ;q=0.5", 1},
        {"gzip;q=0.5 ;x=y", 1},
        {"gzip;q=0,gzip", 1}, /* the best of the two */
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (eddy__accepts_gzip(cases[i].v, strlen(cases[i].v)) != cases[i].yes)
            fail_msg("Accept-Encoding: %s", cases[i].v);
    assert_true(eddy__compressible("text/html; charset=utf-8", 24));
    assert_true(eddy__compressible("Application/JSON", 16));
    assert_true(eddy__compressible("application/ld+json", 19));
    assert_true(eddy__compressible("image/svg+xml", 13));
    assert_true(eddy__compressible("application/javascript", 22));
    assert_false(eddy__compressible("image/png", 9));
    assert_false(eddy__compressible("application/octet-stream", 24));
    assert_false(eddy__compressible("application/jsonx", 17));
    assert_false(eddy__compressible("", 0));
}

static void test_if_range_and_names(void **state)
{
    (void)state;
    assert_true(eddy__if_range("\"a-1\"", 5, "\"a-1\"", 5, 784111777));
    assert_false(eddy__if_range("\"a-2\"", 5, "\"a-1\"", 5, 784111777));
    assert_false(eddy__if_range("W/\"a-1\"", 7, "\"a-1\"", 5, 784111777));
    assert_true(eddy__if_range("Sun, 06 Nov 1994 08:49:37 GMT", 29, "\"x\"", 3,
                               784111777));
    assert_false(eddy__if_range("Sun, 06 Nov 1994 08:49:38 GMT", 29, "\"x\"", 3,
                                784111777));
    assert_false(eddy__if_range("garbage", 7, "\"x\"", 3, 784111777));
    assert_false(eddy__if_range("", 0, "\"x\"", 3, 784111777));
    assert_true(eddy__static_rel_ok("", 0, 0));
    assert_true(eddy__static_rel_ok("a/b.txt", 7, 0));
    assert_true(eddy__static_rel_ok("a.b/c", 5, 0));
    assert_false(eddy__static_rel_ok("a//b", 4, 0));
    assert_false(eddy__static_rel_ok("/etc", 4, 0));
    assert_false(eddy__static_rel_ok("a/", 2, 0));
    assert_false(eddy__static_rel_ok("..", 2, 1));
    assert_false(eddy__static_rel_ok("a/./b", 5, 1));
    assert_false(eddy__static_rel_ok(".env", 4, 0));
    assert_true(eddy__static_rel_ok(".env", 4, 1));
    assert_false(eddy__static_rel_ok("a/.git/x", 8, 0));
}

/* --- examples/static
 * ---------------------------------------------------------- */

static void test_static_example(void **state)
{
    char exe[512], dir[] = "/tmp/eddy-static-ex-XXXXXX", page[256];
    const char *extra[] = {"--root", dir, NULL};
    resp r = {0};
    pid_t pid;
    int port;

    (void)state;
    if (example("static", exe, sizeof exe) == NULL)
        skip();
    assert_non_null(mkdtemp(dir));
    put_text(dir, "index.html", "<h1>home</h1>\n");
    put_file(dir, "big.bin", 300000, page, sizeof page);
    pid = start_example(exe, extra, 0, -1, &port);
    assert_true(blocking_get(port, "/", &r));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "<h1>home</h1>\n");
    resp_free(&r);
    assert_true(blocking_get(port, "/../../etc/passwd", &r));
    assert_int_equal(r.status, 400);
    resp_free(&r);
    assert_true(blocking_get(port, "/nope", &r));
    assert_int_equal(r.status, 404);
    resp_free(&r);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_true(WIFEXITED(tu_wait_exit(pid, HU_WAIT_MS)));
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_query_args),
        tu_test(test_body_args),
        tu_test(test_args_errors),
        tu_test(test_multipart_upload_bounded),
        tu_test(test_multipart_upload_errors),
        tu_test(test_multipart_upload_twice),
        tu_test(test_paths),
        tu_test(test_405_beside_catch_alls),
        tu_test(test_route_patterns_refused),
        tu_test(test_cookies_and_headers),
        tu_test(test_static_files),
        tu_test(test_static_ranges),
        tu_test(test_static_refusals),
        tu_test(test_static_past_4gib),
        tu_test(test_static_truncated),
        tu_test(test_static_errors),
        tu_test(test_error_pages),
        tu_test(test_deadline_503),
        tu_test(test_deadline_started),
        tu_test(test_deadline_streamed_body),
        tu_test(test_deadline_not_reached),
        tu_test(test_deadline_server_freed),
        tu_test(test_gzip),
        tu_test(test_gzip_after_server_free),
        tu_test(test_write_file),
        tu_test(test_client_gone_calls),
        tu_test(test_accept_encoding),
        tu_test(test_if_range_and_names),
        tu_test(test_static_example),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name(eddy_loop_backend(), tests, NULL, NULL);
}
