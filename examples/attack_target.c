/*
 * examples/attack_target.c - a server for tests/test_attacks.c to attack:
 * hello's route, plus the routes an attacker needs that hello lacks.
 *
 *   build/examples/attack_target [--port 8890] [--address 127.0.0.1]
 *       [--idle-timeout-ms N] [--header-timeout-ms N] [--body-timeout-ms N]
 *       [--max-connections N]
 *
 *   GET  /                 "Hello, World"
 *   POST /echo             the request body back
 *   GET  /smuggled         "SMUGGLED": only a smuggled request ever asks
 *   GET  /big?N            N bytes (8 MiB without N), written in pieces,
 *                          each once the last was handed to the kernel
 *   GET  /reflect/reason?X the percent-decoded X as the reason phrase,
 *   GET  /reflect/header?X ... as a header value,
 *   GET  /reflect/name?X   ... as a header name: what a careless
 *                          application does with its input.  The server
 *                          refuses a control character with -EINVAL; the
 *                          handler then answers 400 "refused <errno>".
 *   GET  /stats            the server's counters, one "name value" a line
 *
 * SIGTERM or SIGINT stops it gracefully, like every example.
 */
#include <eddy/eddy.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG_DEFAULT (8u << 20)
#define BIG_MAX (64u << 20)
#define PIECE (26 * 2048) /* a whole number of the body's 26-byte cycles */

static const eddy_http_header text[] = {
    EDDY_HEADER("Content-Type", "text/plain; charset=UTF-8")};
static char piece[PIECE];
static unsigned long smuggled;

static void hello(eddy_http_request *req, void *arg)
{
    (void)arg;
    eddy_http_respond(req, 200, text, 1, "Hello, World", 12);
}

static void echo(eddy_http_request *req, void *arg)
{
    eddy_str body = eddy_http_body(req);

    (void)arg;
    eddy_http_respond(req, 200, text, 1, body.p, body.len);
}

static void smuggled_route(eddy_http_request *req, void *arg)
{
    (void)arg;
    smuggled++;
    eddy_http_respond(req, 200, text, 1, "SMUGGLED", 8);
}

/* --- a large body, paced --------------------------------------------------- */

struct big {
    eddy_http_request *req;
    size_t left;
};

/* Writes the next piece once the last one is in the kernel, so that a
 * client that reads slowly, or never, holds one piece of memory, not the
 * whole body.  A write that fails (the client left) finishes the request:
 * eddy_http_finish() then returns -EPIPE and frees it. */
static void big_next(eddy_stream *s, int status, void *arg)
{
    struct big *b = arg;
    size_t n = b->left < PIECE ? b->left : PIECE;

    (void)s;
    if (status == 0 && n > 0) {
        b->left -= n;
        if (eddy_http_write(b->req, piece, n, big_next, b) == 0)
            return;
    }
    eddy_http_finish(b->req);
    free(b);
}

static void big(eddy_http_request *req, void *arg)
{
    eddy_str q = eddy_http_query(req);
    struct big *b = malloc(sizeof *b);
    char num[24];
    size_t n = BIG_DEFAULT;

    (void)arg;
    if (q.len > 0 && q.len < sizeof num) {
        memcpy(num, q.p, q.len);
        num[q.len] = '\0';
        n = strtoul(num, NULL, 10);
    }
    if (b == NULL || n > BIG_MAX) {
        free(b);
        eddy_http_respond(req, n > BIG_MAX ? 400 : 503, NULL, 0, NULL, 0);
        return;
    }
    b->req = req;
    b->left = n;
    if (eddy_http_start_response(req, 200, NULL, text, 1, (int64_t)n) != 0) {
        eddy_http_finish(req);
        free(b);
        return;
    }
    big_next(NULL, 0, b);
}

/* --- input reflected into the response ------------------------------------- */

static int hex(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
        return (ch | 0x20) - 'a' + 10;
    return -1;
}

/* Percent-decodes s into out (NUL-terminated, cut to cap - 1 bytes);
 * returns the length, which counts any %00 decoded. */
static size_t decode(eddy_str s, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < s.len && n + 1 < cap; i++) {
        if (s.p[i] == '%' && i + 2 < s.len && hex(s.p[i + 1]) >= 0 &&
            hex(s.p[i + 2]) >= 0) {
            out[n++] = (char)(hex(s.p[i + 1]) * 16 + hex(s.p[i + 2]));
            i += 2;
        } else {
            out[n++] = s.p[i];
        }
    }
    out[n] = '\0';
    return n;
}

static void refused(eddy_http_request *req, int err)
{
    char msg[32];
    int n = snprintf(msg, sizeof msg, "refused %d", err);

    eddy_http_respond(req, 400, text, 1, msg, (size_t)n);
}

static void reflect_reason(eddy_http_request *req, void *arg)
{
    char reason[256];
    int err;

    (void)arg;
    decode(eddy_http_query(req), reason, sizeof reason);
    err = eddy_http_start_response(req, 200, reason, text, 1, 4);
    if (err == -EINVAL) {
        refused(req, err);
        return;
    }
    if (err == 0)
        eddy_http_write(req, "sent", 4, NULL, NULL);
    eddy_http_finish(req);
}

static void reflect_header(eddy_http_request *req, void *arg)
{
    char v[256];
    eddy_http_header h[2] = {text[0], {"X-Reflected", 11, v, 0}};
    int err;

    (void)arg;
    h[1].value_len = decode(eddy_http_query(req), v, sizeof v);
    if (arg != NULL) { /* /reflect/name: the input names the header */
        h[1].name = v;
        h[1].name_len = h[1].value_len;
        h[1].value = "x";
        h[1].value_len = 1;
    }
    err = eddy_http_respond(req, 200, h, 2, "sent", 4);
    if (err == -EINVAL)
        refused(req, err);
}

static void stats(eddy_http_request *req, void *arg)
{
    eddy_http_stats st;
    char buf[512];
    int n;

    (void)arg;
    eddy_http_server_get_stats(eddy_http_request_server(req), &st);
    n = snprintf(buf, sizeof buf,
                 "connections %llu\nconnections_total %llu\nrequests %llu\n"
                 "errors %llu\nsmuggled %lu\n",
                 (unsigned long long)st.connections,
                 (unsigned long long)st.connections_total,
                 (unsigned long long)st.requests,
                 (unsigned long long)st.errors, smuggled);
    eddy_http_respond(req, 200, text, 1, buf, (size_t)n);
}

/* --- main ------------------------------------------------------------------ */

static const struct {
    const char *method, *path;
    eddy_http_handler handler;
    void *arg;
} routes[] = {
    {"GET", "/", hello, NULL},
    {"POST", "/echo", echo, NULL},
    {"GET", "/smuggled", smuggled_route, NULL},
    {"GET", "/big", big, NULL},
    {"GET", "/reflect/reason", reflect_reason, NULL},
    {"GET", "/reflect/header", reflect_header, NULL},
    {"GET", "/reflect/name", reflect_header, "name"},
    {"GET", "/stats", stats, NULL},
};

/* A numeric option "--name N": whether argv[*i] is name; then *out is N
 * and *i moves past it. */
static int option(char **argv, int *i, int argc, const char *name,
                  uint64_t *out)
{
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc)
        return 0;
    *out = strtoull(argv[++*i], NULL, 10);
    return 1;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8890, err = 0;
    uint64_t maxconn = 0;
    eddy_http_options opts = {0};
    eddy_http_server *srv = NULL;
    eddy_loop *loop = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (!option(argv, &i, argc, "--idle-timeout-ms",
                         &opts.idle_timeout_ms) &&
                 !option(argv, &i, argc, "--header-timeout-ms",
                         &opts.header_timeout_ms) &&
                 !option(argv, &i, argc, "--body-timeout-ms",
                         &opts.body_timeout_ms) &&
                 !option(argv, &i, argc, "--max-connections", &maxconn)) {
            fprintf(stderr,
                    "usage: %s [--port N] [--address A] [--idle-timeout-ms N] "
                    "[--header-timeout-ms N] [--body-timeout-ms N] "
                    "[--max-connections N]\n",
                    argv[0]);
            return 2;
        }
    }
    opts.max_connections = (size_t)maxconn;
    for (size_t i = 0; i < PIECE; i++)
        piece[i] = (char)('a' + i % 26);
    err = eddy_loop_new(&loop);
    if (err == 0)
        err = eddy_http_server_new(loop, &opts, &srv);
    for (size_t i = 0; err == 0 && i < sizeof routes / sizeof routes[0]; i++)
        err = eddy_http_server_route(srv, routes[i].method, routes[i].path,
                                     EDDY_ROUTE_EXACT, routes[i].handler,
                                     routes[i].arg);
    if (err == 0)
        err = eddy_http_server_listen(srv, port, address);
    if (err == 0)
        err = eddy_http_server_stop_on_signals(srv, 3000);
    if (err != 0) {
        fprintf(stderr, "attack_target: %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    printf("attack_target: serving http://%s:%d/ with %s\n", address, port,
           eddy_loop_backend());
    fflush(stdout);
    err = eddy_loop_run(loop);
    eddy_http_server_free(srv);
    eddy_loop_close(loop, 0);
    return err == 0 ? 0 : 1;
}
