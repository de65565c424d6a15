/*
 * examples/embed.c - an eddy loop nested inside another program's poll()
 * loop, the way a GUI toolkit or a game loop would host it.
 *
 *   build/examples/embed [--ticks 5]
 *
 * The host owns a pipe it writes to itself; eddy owns a periodic timer and a
 * socketpair it pings across.  The host sleeps in poll() on its own fd and
 * on eddy_loop_backend_fd(), for at most eddy_loop_timeout(), and when either
 * says so it runs one non-blocking eddy iteration.  With the poll and select
 * backends there is no pollable backend fd: the host then wakes every 10 ms.
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
    int host[2], bfd, host_events = 0, err;
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
    bfd = eddy_loop_backend_fd(loop);
    printf("host: poll() loop hosting eddy's %s backend (%s)\n",
           eddy_loop_backend(),
           bfd >= 0 ? "its fd in the host's poll set" : "no pollable fd: 10 ms wakeups");

    while (d.ticks < d.want || d.pings < d.want) {
        struct pollfd p[2] = {{host[0], POLLIN, 0}, {bfd, POLLIN, 0}};
        int timeout = eddy_loop_timeout(loop);

        if (bfd < 0 && (timeout < 0 || timeout > 10))
            timeout = 10;
        if (d.ticks == 2 && host_events == 0 && write(host[1], "h", 1) != 1)
            perror("write");
        if (poll(p, bfd >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR) {
            perror("poll");
            return 1;
        }
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
    printf("host: done, %d ticks and %d pings through eddy, %d host events\n",
           d.ticks, d.pings, host_events);
    eddy_loop_remove_handler(loop, d.pair[0]);
    eddy_loop_close(loop, 0);
    close(d.pair[0]);
    close(d.pair[1]);
    close(host[0]);
    close(host[1]);
    return 0;
}
