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

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE (64 * 1024)

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    (void)arg;
    if (status != 0)
        return; /* EOF or an error: the stream closes by itself */
    if (eddy_stream_write(s, data, len, NULL, NULL) == 0)
        eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL);
}

static void on_accept(eddy_loop *loop, int lfd, unsigned events, void *arg)
{
    (void)events;
    (void)arg;
    for (int i = 0; i < 128; i++) {
        eddy_stream *s;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0)
            return; /* EAGAIN, or EMFILE: try again on the next event */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (eddy_stream_new(loop, fd, NULL, &s) == 0)
            eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL);
    }
}

static void on_signal(eddy_loop *loop, int signum, void *arg)
{
    (void)signum;
    (void)arg;
    eddy_loop_stop(loop);
}

static int listen_on(const char *address, int port)
{
    struct sockaddr_in6 a6 = {0};
    struct sockaddr_in a4 = {0};
    int fd, one = 1, v6 = strchr(address, ':') != NULL;

    fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)port);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((uint16_t)port);
    if ((v6 ? inet_pton(AF_INET6, address, &a6.sin6_addr)
            : inet_pton(AF_INET, address, &a4.sin_addr)) != 1 ||
        (v6 ? bind(fd, (struct sockaddr *)&a6, sizeof a6)
            : bind(fd, (struct sockaddr *)&a4, sizeof a4)) != 0 ||
        listen(fd, 1024) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8889, fd, err;
    eddy_loop *loop;

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
    fd = listen_on(address, port);
    if (fd < 0) {
        fprintf(stderr, "echo: cannot listen on %s:%d: %s\n", address, port,
                strerror(errno));
        return 1;
    }
    if ((err = eddy_loop_new(&loop)) != 0) {
        fprintf(stderr, "echo: %s\n", eddy_strerror(err));
        return 1;
    }
    eddy_loop_add_handler(loop, fd, EDDY_READ, on_accept, NULL);
    eddy_loop_add_signal(loop, SIGINT, on_signal, NULL);
    eddy_loop_add_signal(loop, SIGTERM, on_signal, NULL);
    printf("echo: listening on %s:%d\n", address, port);
    fflush(stdout);
    err = eddy_loop_run(loop);
    eddy_loop_remove_handler(loop, fd);
    close(fd);
    eddy_loop_close(loop, 1);
    return err == 0 ? 0 : 1;
}
