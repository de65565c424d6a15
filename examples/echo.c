/*
 * examples/echo.c - a line echo server: every line a client sends comes
 * back.  Thousands of clients at once, one thread.
 *
 *   build/examples/echo [--port 8889] [--address 127.0.0.1]
 *   printf 'hello\n' | nc 127.0.0.1 8889
 *
 * Lines longer than 64 KiB close the connection (read_until's max_bytes).
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE (64 * 1024)

/* Every open connection, so that they can be closed before the loop. */
struct client {
    eddy_stream *s;
    struct client *prev, *next;
};

static struct client clients = {NULL, &clients, &clients};

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    (void)arg;
    if (status != 0)
        return; /* EOF or an error: the stream closes by itself */
    if (eddy_stream_write(s, data, len, NULL, NULL) == 0)
        eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL);
}

static void on_close(eddy_stream *s, int status, void *arg)
{
    struct client *c = arg;

    (void)s;
    (void)status;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    free(c);
}

static void on_accept(eddy_loop *loop, int lfd, unsigned events, void *arg)
{
    (void)events;
    (void)arg;
    for (int i = 0; i < 128; i++) {
        struct client *c;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0)
            return; /* EAGAIN, or EMFILE: try again on the next event */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if ((c = malloc(sizeof *c)) == NULL) {
            close(fd);
            continue;
        }
        if (eddy_stream_new(loop, fd, NULL, &c->s) != 0) {
            free(c);
            continue;
        }
        c->next = &clients;
        c->prev = clients.prev;
        clients.prev->next = c;
        clients.prev = c;
        eddy_stream_set_close_callback(c->s, on_close, c);
        eddy_stream_read_until(c->s, "\n", 1, MAX_LINE, on_line, NULL);
    }
}

static void on_signal(eddy_loop *loop, int signum, void *arg)
{
    (void)signum;
    (void)arg;
    eddy_loop_stop(loop);
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8889, fds[8], err;
    eddy_loop *loop;
    size_t n;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--port N] [--address A]\n", argv[0]);
            return 2;
        }
    }
    err = eddy_bind_sockets(port, address, AF_UNSPEC, 0, 0, fds, 8, &n);
    if (err != 0) {
        fprintf(stderr, "echo: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_loop_new(&loop)) != 0) {
        fprintf(stderr, "echo: %s\n", eddy_strerror(err));
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        eddy_loop_add_handler(loop, fds[i], EDDY_READ, on_accept, NULL);
    eddy_loop_add_signal(loop, SIGINT, on_signal, NULL);
    eddy_loop_add_signal(loop, SIGTERM, on_signal, NULL);
    printf("echo: listening on %s:%d\n", address, port);
    fflush(stdout);
    err = eddy_loop_run(loop);
    for (size_t i = 0; i < n; i++) {
        eddy_loop_remove_handler(loop, fds[i]);
        close(fds[i]);
    }
    /* Streams are closed before their loop, and their close callbacks
     * (which free the clients) run in one more iteration. */
    for (struct client *c = clients.next; c != &clients; c = c->next)
        eddy_stream_close(c->s);
    for (int i = 0; i < 10 && clients.next != &clients; i++)
        eddy_loop_run_once(loop, 0);
    eddy_loop_close(loop, 0);
    return err == 0 ? 0 : 1;
}
