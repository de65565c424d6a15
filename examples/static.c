/*
 * examples/static.c - a directory served over HTTP (Tornado's
 * StaticFileHandler): eddy_http_server_static() at "/".
 *
 *   build/examples/static --root DIR [--port 8888] [--address 127.0.0.1]
 *                         [--index index.html] [--no-index]
 *                         [--cache-control VALUE] [--follow-symlinks]
 *                         [--processes N] [--access-log]
 *   curl -O http://127.0.0.1:8888/some/file
 *
 * GET and HEAD; Content-Type by extension; Last-Modified and ETag with
 * If-Modified-Since, If-None-Match (304), If-Match (412); one byte range
 * (206, 416) with If-Range; files of any size, sent with sendfile(2).  A
 * directory's path ending in '/' serves its index.html (--index names
 * another, --no-index makes directories 404); without the '/' it is
 * redirected there.  Names beginning with '.', and symbolic links that
 * lead out of DIR (unless --follow-symlinks), are 404; paths that climb
 * out are 400.  SIGTERM or SIGINT stops it gracefully.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_line(void *arg, int level, const char *message)
{
    (void)arg;
    if (level >= EDDY_LOG_INFO)
        fprintf(stderr, "static: %s\n", message);
}

static void access_log(void *arg, const eddy_http_request *req, int status,
                       uint64_t bytes, double ms)
{
    eddy_str m = eddy_http_method(req), u = eddy_http_uri(req);

    eddy_loop_log(arg, EDDY_LOG_INFO, "%d %.*s %.*s (%s) %llu bytes %.2fms%s",
                  status, (int)m.len, m.p, (int)u.len, u.p,
                  eddy_http_remote_ip(req), (unsigned long long)bytes, ms,
                  eddy_http_aborted(req) ? " aborted" : "");
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --root DIR [--port N] [--address A] [--index NAME] "
            "[--no-index] [--cache-control VALUE] [--follow-symlinks] "
            "[--processes N] [--access-log]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1", *root = NULL;
    eddy_http_static_options so = {"index.html", NULL, 0};
    eddy_http_options opts = {0};
    int port = 8888, processes = -1, verbose = 0, task, err, fds[8];
    eddy_http_server *srv;
    eddy_loop *loop;
    size_t n;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--root") == 0 && v)
            root = argv[++i];
        else if (strcmp(a, "--port") == 0 && v)
            port = atoi(argv[++i]);
        else if (strcmp(a, "--address") == 0 && v)
            address = argv[++i];
        else if (strcmp(a, "--index") == 0 && v)
            so.index = argv[++i];
        else if (strcmp(a, "--no-index") == 0)
            so.index = NULL;
        else if (strcmp(a, "--cache-control") == 0 && v)
            so.cache_control = argv[++i];
        else if (strcmp(a, "--follow-symlinks") == 0)
            so.flags |= EDDY_STATIC_FOLLOW_SYMLINKS;
        else if (strcmp(a, "--processes") == 0 && v)
            processes = atoi(argv[++i]);
        else if (strcmp(a, "--access-log") == 0)
            verbose = 1;
        else
            return usage(argv[0]);
    }
    if (root == NULL)
        return usage(argv[0]);
    /* Bind before forking, so that every worker accepts on the socket. */
    err = eddy_bind_sockets(port, address, AF_UNSPEC, 0, 0, fds, 8, &n);
    if (err != 0) {
        fprintf(stderr, "static: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    if (processes >= 0 && (err = eddy_fork_processes(processes, 100, &task))) {
        fprintf(stderr, "static: fork: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_loop_new(&loop)) != 0) {
        fprintf(stderr, "static: %s\n", eddy_strerror(err));
        return 1;
    }
    if (verbose) {
        eddy_loop_set_log(loop, log_line, NULL);
        opts.access_log = access_log;
        opts.access_log_arg = loop;
    }
    if ((err = eddy_http_server_new(loop, &opts, &srv)) != 0) {
        fprintf(stderr, "static: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_http_server_static(srv, "/", root, &so)) != 0) {
        fprintf(stderr, "static: %s: %s\n", root, eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_http_server_add_sockets(srv, fds, n)) != 0 ||
        (err = eddy_http_server_stop_on_signals(srv, 5000)) != 0) {
        fprintf(stderr, "static: %s\n", eddy_strerror(err));
        return 1;
    }
    printf("static: serving %s at http://%s:%d/ with %s\n", root, address, port,
           eddy_loop_backend());
    fflush(stdout);
    err = eddy_loop_run(loop);
    eddy_http_server_free(srv);
    eddy_loop_close(loop, 0);
    return err == 0 ? 0 : 1;
}
