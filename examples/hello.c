/*
 * examples/hello.c - Tornado's hello world in eddy.
 *
 *   build/examples/hello [--port 8888] [--address 127.0.0.1]
 *                        [--processes N] [--access-log]
 *                        [--idle-timeout-ms N] [--header-timeout-ms N]
 *                        [--body-timeout-ms N] [--max-connections N]
 *   curl http://127.0.0.1:8888/
 *
 * --processes N forks N workers (0: one per CPU) that share the listening
 * socket; SIGTERM or SIGINT stops every worker gracefully.  --access-log
 * prints a line per request, like Tornado's log.  The timeouts and the
 * connection limit default to the server's (60 s each, 10000).
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int verbose; /* --access-log: INFO lines too */

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

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8888, processes = -1, task, err, fds[8];
    eddy_http_options opts = {0};
    uint64_t maxconn = 0;
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
        else if (!option(argv, &i, argc, "--idle-timeout-ms",
                         &opts.idle_timeout_ms) &&
                 !option(argv, &i, argc, "--header-timeout-ms",
                         &opts.header_timeout_ms) &&
                 !option(argv, &i, argc, "--body-timeout-ms",
                         &opts.body_timeout_ms) &&
                 !option(argv, &i, argc, "--max-connections", &maxconn)) {
            fprintf(stderr,
                    "usage: %s [--port N] [--address A] [--processes N] "
                    "[--access-log] [--idle-timeout-ms N] "
                    "[--header-timeout-ms N] [--body-timeout-ms N] "
                    "[--max-connections N]\n",
                    argv[0]);
            return 2;
        }
    }
    opts.max_connections = (size_t)maxconn;
    /* Bind before forking, so that every worker accepts on the socket. */
    err = eddy_bind_sockets(port, address, AF_UNSPEC, 0, 0, fds, 8, &n);
    if (err != 0) {
        fprintf(stderr, "hello: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    printf("hello: serving http://%s:%d/ with %s%s\n", address, port,
           eddy_loop_backend(), processes >= 0 ? ", forking" : "");
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
        (err = eddy_http_server_add_sockets(srv, fds, n)) != 0 ||
        (err = eddy_http_server_stop_on_signals(srv, 5000)) != 0) {
        fprintf(stderr, "hello: %s\n", eddy_strerror(err));
        return 1;
    }
    err = eddy_loop_run(loop);
    eddy_http_server_free(srv);
    eddy_loop_close(loop, 0);
    return err == 0 ? 0 : 1;
}
