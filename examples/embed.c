/*
 * examples/embed.c - an eddy loop nested inside another program's poll()
 * loop, the way a GUI toolkit or a game loop would host it.
 *
 *   build/examples/embed [--ticks 5]
 *
 * The host owns a pipe it writes to itself; eddy owns a periodic timer and a
 * socketpair it pings across.  The host sleeps in poll() on its own fd and
 * on the fds eddy_loop_query_fds() names (epoll and kqueue: their one fd;
 * poll and select: every fd eddy watches, and its wakeup), for at most
 * eddy_loop_timeout(), and when either says so it runs one non-blocking
 * eddy iteration.  So it sleeps until there is work on every backend.
 * At the end it prints how many times it woke up.
 */
#include <eddy/eddy.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct demo {
    int ticks, want, pings, pair[2];
};

#define MAX_FDS 16

static void on_ping(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    struct demo *d = arg;
    char c;

    (void)loop;
    (void)events;
    if (read(fd, &c, 1) == 1)
        d->pings++;
}

static void on_tick(eddy_loop *loop, void *arg)
{
    struct demo *d = arg;

    (void)loop;
    printf("eddy: tick %d, pinging across a socketpair\n", ++d->ticks);
    if (write(d->pair[1], "p", 1) != 1)
        perror("write");
}

int main(int argc, char **argv)
{
    struct demo d = {0, 5, 0, {-1, -1}};
    int host[2], host_events = 0, wakeups = 0, err;
    eddy_loop *loop;

    if (argc == 3 && strcmp(argv[1], "--ticks") == 0)
        d.want = atoi(argv[2]);
    if ((err = eddy_loop_new(&loop)) != 0 || pipe(host) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, d.pair) != 0) {
        fprintf(stderr, "embed: %s\n", err ? eddy_strerror(err) : strerror(errno));
        return 1;
    }
    if ((err = eddy_loop_add_handler(loop, d.pair[0], EDDY_READ, on_ping,
                                     &d)) != 0 ||
        (err = eddy_loop_call_every(loop, 100, on_tick, &d, NULL)) != 0) {
        fprintf(stderr, "embed: %s\n", eddy_strerror(err));
        return 1;
    }
    printf("host: poll() loop hosting eddy's %s backend (%s)\n",
           eddy_loop_backend(),
           eddy_loop_backend_fd(loop) >= 0 ? "its one fd in the host's poll set"
                                           : "its fds in the host's poll set");

    while (d.ticks < d.want || d.pings < d.want) {
        struct pollfd p[1 + MAX_FDS] = {{host[0], POLLIN, 0}};
        int timeout = eddy_loop_timeout(loop);
        size_t n;

        /* Asked again each time round: eddy's fds come and go. */
        if ((err = eddy_loop_query_fds(loop, p + 1, MAX_FDS, &n)) != 0) {
            fprintf(stderr, "embed: %zu fds: %s\n", n, eddy_strerror(err));
            return 1;
        }
        if (d.ticks == 2 && host_events == 0 && write(host[1], "h", 1) != 1)
            perror("write");
        if (poll(p, 1 + (nfds_t)n, timeout) < 0 && errno != EINTR) {
            perror("poll");
            return 1;
        }
        wakeups++;
        if (p[0].revents & POLLIN) {
            char c;

            if (read(host[0], &c, 1) == 1)
                printf("host: its own fd fired (%d)\n", ++host_events);
        }
        /* Timers, callbacks, ready fds. */
        if ((err = eddy_loop_run_once(loop, 0)) != 0) {
            fprintf(stderr, "embed: %s\n", eddy_strerror(err));
            return 1;
        }
    }
    printf("host: done, %d ticks and %d pings through eddy, %d host events, "
           "%d wakeups\n",
           d.ticks, d.pings, host_events, wakeups);
    eddy_loop_remove_handler(loop, d.pair[0]);
    eddy_loop_close(loop, 0);
    close(d.pair[0]);
    close(d.pair[1]);
    close(host[0]);
    close(host[1]);
    return 0;
}
