/*
 * examples/hello.c - Tornado's hello world in eddy.
 *
 *   build/examples/hello [--port 8888] [--address 127.0.0.1]
 *                        [--processes N] [--access-log]
 *                        [--idle-timeout-ms N] [--header-timeout-ms N]
 *                        [--body-timeout-ms N] [--max-connections N]
 *                        [--tls-cert FILE --tls-key FILE] [--bulk-bytes N]
 *   curl http://127.0.0.1:8888/
 *
 * --processes N forks N workers (0: one per CPU) that share the listening
 * socket; SIGTERM or SIGINT stops every worker gracefully.  --access-log
 * prints a line per request, like Tornado's log.  The timeouts and the
 * connection limit default to the server's (60 s each, 10000).
 * --tls-cert and --tls-key (PEM: the certificate chain, the unencrypted
 * key) serve the same over HTTPS on the same port:
 *
 *   build/examples/hello --tls-cert cert.pem --tls-key key.pem
 *   curl -k https://127.0.0.1:8888/
 *
 * --bulk-bytes N adds GET /bulk, N bytes of 'x' (for bench/https.sh's
 * 1 MiB responses); / stays Hello, World.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int verbose; /* --access-log: INFO lines too */

/* --bulk-bytes: the body of GET /bulk, made once. */
static char *bulk_body;
static size_t bulk_len;

static void bulk(eddy_http_request *req, void *arg)
{
    static const eddy_http_header headers[] = {
        EDDY_HEADER("Content-Type", "application/octet-stream")};

    (void)arg;
    eddy_http_respond(req, 200, headers, 1, bulk_body, bulk_len);
}

static void hello(eddy_http_request *req, void *arg)
{
    static const eddy_http_header headers[] = {
        EDDY_HEADER("Content-Type", "text/plain; charset=UTF-8")};

    (void)arg;
    eddy_http_respond(req, 200, headers, 1, "Hello, World", 12);
}

/* Tornado's log line: "[I 261126 05:22:13] message" on stderr. */
static void log_line(void *arg, int level, const char *message)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;

    (void)arg;
    if (level < EDDY_LOG_WARNING && !(verbose && level == EDDY_LOG_INFO))
        return;
    strftime(when, sizeof when, "%y%m%d %H:%M:%S", localtime_r(&t, &tm));
    fprintf(stderr, "[%c %s] %s\n", "DIWE"[level], when, message);
}

/* "200 GET / (127.0.0.1) 0.12ms", through the same log; a response that
 * did not go out whole (the client left) says so, with what was sent. */
static void access_log(void *arg, const eddy_http_request *req, int status,
                       uint64_t bytes, double ms)
{
    eddy_str m = eddy_http_method(req), u = eddy_http_uri(req);
    char aborted[48] = "";

    if (eddy_http_aborted(req))
        snprintf(aborted, sizeof aborted, " aborted after %llu bytes",
                 (unsigned long long)bytes);
    eddy_loop_log(arg, EDDY_LOG_INFO, "%d %.*s %.*s (%s) %.2fms%s", status,
                  (int)m.len, m.p, (int)u.len, u.p, eddy_http_remote_ip(req),
                  ms, aborted);
}

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

/* GET /stats: the counters a program can read cheaply, as JSON. */
static void stats(eddy_http_request *req, void *arg)
{
    static const eddy_http_header json[] = {
        EDDY_HEADER("Content-Type", "application/json")};
    eddy_loop_stats l;
    eddy_http_stats h;
    char body[700];
    int n;

    (void)arg;
    eddy_loop_get_stats(eddy_http_request_loop(req), &l);
    eddy_http_server_get_stats(eddy_http_request_server(req), &h);
    n = snprintf(
        body, sizeof body,
        "{\"pid\": %d, \"task_id\": %d, \"backend\": \"%s\",\n"
        " \"loop\": {\"iterations\": %llu, \"handlers\": %llu, "
        "\"timers\": %llu, \"callbacks_run\": %llu, "
        "\"timers_run\": %llu, \"events\": %llu, "
        "\"longest_callback_us\": %llu},\n"
        " \"http\": {\"connections\": %llu, "
        "\"connections_total\": %llu, \"requests\": %llu, "
        "\"bytes_in\": %llu, \"bytes_out\": %llu, "
        "\"errors\": %llu, \"aborted\": %llu}}\n",
        (int)getpid(), eddy_task_id(), eddy_loop_backend(),
        (unsigned long long)l.iterations, (unsigned long long)l.handlers,
        (unsigned long long)l.timers, (unsigned long long)l.callbacks_run,
        (unsigned long long)l.timers_run, (unsigned long long)l.events,
        (unsigned long long)l.longest_cb_us, (unsigned long long)h.connections,
        (unsigned long long)h.connections_total, (unsigned long long)h.requests,
        (unsigned long long)h.bytes_in, (unsigned long long)h.bytes_out,
        (unsigned long long)h.errors, (unsigned long long)h.aborted);
    eddy_http_respond(req, 200, json, 1, body, (size_t)n);
}

/* The server's TLS context from --tls-cert and --tls-key, made before
 * forking so that every worker shares its session ticket keys. */
static int tls_setup(const char *cert, const char *key, eddy_tls_ctx **out)
{
    int err = eddy_tls_ctx_new(EDDY_TLS_SERVER, out);

    if (err != 0) {
        fprintf(stderr, "hello: TLS: %s\n", eddy_strerror(err));
        return err;
    }
    if ((err = eddy_tls_ctx_load_cert_chain(*out, cert, key)) != 0) {
        fprintf(stderr, "hello: TLS: %s (%s)\n", eddy_strerror(err),
                eddy_tls_ctx_error(*out));
        eddy_tls_ctx_free(*out);
        *out = NULL;
    }
    return err;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1", *cert = NULL, *key = NULL;
    int port = 8888, processes = -1, task, err, fds[8];
    eddy_http_options opts = {0};
    uint64_t maxconn = 0, bulk_bytes = 0;
    eddy_http_server *srv;
    eddy_loop *loop;
    size_t n;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (strcmp(argv[i], "--processes") == 0 && i + 1 < argc)
            processes = atoi(argv[++i]);
        else if (strcmp(argv[i], "--access-log") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc)
            cert = argv[++i];
        else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (!option(argv, &i, argc, "--idle-timeout-ms",
                         &opts.idle_timeout_ms) &&
                 !option(argv, &i, argc, "--header-timeout-ms",
                         &opts.header_timeout_ms) &&
                 !option(argv, &i, argc, "--body-timeout-ms",
                         &opts.body_timeout_ms) &&
                 !option(argv, &i, argc, "--max-connections", &maxconn) &&
                 !option(argv, &i, argc, "--bulk-bytes", &bulk_bytes)) {
            fprintf(stderr,
                    "usage: %s [--port N] [--address A] [--processes N] "
                    "[--access-log] [--idle-timeout-ms N] "
                    "[--header-timeout-ms N] [--body-timeout-ms N] "
                    "[--max-connections N] [--tls-cert FILE --tls-key FILE] "
                    "[--bulk-bytes N]\n",
                    argv[0]);
            return 2;
        }
    }
    if ((cert == NULL) != (key == NULL)) {
        fprintf(stderr, "hello: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (cert != NULL && tls_setup(cert, key, &opts.tls) != 0)
        return 1;
    if (bulk_bytes > 0) {
        bulk_len = (size_t)bulk_bytes;
        if ((bulk_body = malloc(bulk_len)) == NULL) {
            fprintf(stderr, "hello: --bulk-bytes: out of memory\n");
            return 1;
        }
        memset(bulk_body, 'x', bulk_len);
    }
    opts.max_connections = (size_t)maxconn;
    /* Bind before forking, so that every worker accepts on the socket. */
    err = eddy_bind_sockets(port, address, AF_UNSPEC, 0, 0, fds, 8, &n);
    if (err != 0) {
        fprintf(stderr, "hello: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    printf("hello: serving %s://%s:%d/ with %s%s\n", cert ? "https" : "http",
           address, port, eddy_loop_backend(),
           processes >= 0 ? ", forking" : "");
    fflush(stdout);
    if (processes >= 0 && (err = eddy_fork_processes(processes, 100, &task))) {
        fprintf(stderr, "hello: fork: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_loop_new(&loop)) != 0) {
        fprintf(stderr, "hello: %s\n", eddy_strerror(err));
        return 1;
    }
    eddy_loop_set_log(loop, log_line, NULL);
    if (verbose) {
        opts.access_log = access_log;
        opts.access_log_arg = loop;
    }
    if ((err = eddy_http_server_new(loop, &opts, &srv)) != 0 ||
        (err = eddy_http_server_route(srv, "GET", "/", EDDY_ROUTE_EXACT, hello,
                                      NULL)) != 0 ||
        (err = eddy_http_server_route(srv, "GET", "/stats", EDDY_ROUTE_EXACT,
                                      stats, NULL)) != 0 ||
        (bulk_len > 0 &&
         (err = eddy_http_server_route(srv, "GET", "/bulk", EDDY_ROUTE_EXACT,
                                       bulk, NULL)) != 0) ||
        (err = eddy_http_server_add_sockets(srv, fds, n)) != 0 ||
        (err = eddy_http_server_stop_on_signals(srv, 5000)) != 0) {
        fprintf(stderr, "hello: %s\n", eddy_strerror(err));
        return 1;
    }
    /* The server holds its own reference to the TLS context. */
    eddy_tls_ctx_free(opts.tls);
    err = eddy_loop_run(loop);
    eddy_http_server_free(srv);
    eddy_loop_close(loop, 0);
    free(bulk_body);
    return err == 0 ? 0 : 1;
}
