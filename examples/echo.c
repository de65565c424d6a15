/*
 * examples/echo.c - a line echo server on eddy's TCP server: every line a
 * client sends comes back.  Thousands of clients at once, one thread.
 *
 *   build/examples/echo [--port 8889] [--address 127.0.0.1] [--stats]
 *   printf 'hello\n' | nc 127.0.0.1 8889
 *
 * Lines longer than 64 KiB close the connection (read_until's max_bytes).
 * Out of fds (try `prlimit --nofile=16 build/examples/echo` and 30
 * clients), the TCP server leaves new clients in the backlog until a
 * connection closes, instead of waking up for them over and over.
 * SIGINT or SIGTERM stop it: connections get a second to finish.
 * --stats prints the loop's iteration count on exit, to stderr.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (64 * 1024)

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    (void)arg;
    if (status != 0)
        return; /* EOF or an error: the stream closes by itself */
    if (eddy_stream_write(s, data, len, NULL, NULL) != 0 ||
        eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL) != 0)
        eddy_stream_close(s);
}

static void on_connection(eddy_tcp_server *srv, eddy_stream *s,
                          const struct sockaddr *peer, socklen_t peer_len,
                          void *arg)
{
    (void)srv;
    (void)peer;
    (void)peer_len;
    (void)arg;
    if (eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL) != 0)
        eddy_stream_close(s);
}

static void on_stopped(eddy_tcp_server *srv, void *arg)
{
    (void)arg;
    eddy_loop_stop(eddy_tcp_server_loop(srv));
}

static void on_signal(eddy_loop *loop, int signum, void *arg)
{
    (void)loop;
    (void)signum;
    eddy_tcp_server_shutdown(arg, 1000, on_stopped, NULL);
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8889, stats = 0, err;
    eddy_tcp_server *srv;
    eddy_loop_stats st;
    eddy_loop *loop;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (strcmp(argv[i], "--stats") == 0)
            stats = 1;
        else {
            fprintf(stderr, "usage: %s [--port N] [--address A] [--stats]\n",
                    argv[0]);
            return 2;
        }
    }
    if ((err = eddy_loop_new(&loop)) != 0 ||
        (err = eddy_tcp_server_new(loop, NULL, on_connection, NULL, &srv)) !=
            0) {
        fprintf(stderr, "echo: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_tcp_server_listen(srv, port, address)) != 0) {
        fprintf(stderr, "echo: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_loop_add_signal(loop, SIGINT, on_signal, srv)) != 0 ||
        (err = eddy_loop_add_signal(loop, SIGTERM, on_signal, srv)) != 0) {
        fprintf(stderr, "echo: signals: %s\n", eddy_strerror(err));
        return 1;
    }
    printf("echo: listening on %s:%d\n", address, eddy_tcp_server_port(srv));
    fflush(stdout);
    err = eddy_loop_run(loop);
    eddy_loop_get_stats(loop, &st);
    if (stats)
        fprintf(stderr, "echo: iterations=%llu\n",
                (unsigned long long)st.iterations);
    /* Every connection is gone once the shutdown is done. */
    eddy_tcp_server_free(srv);
    eddy_loop_close(loop, 0);
    return err == 0 ? 0 : 1;
}
