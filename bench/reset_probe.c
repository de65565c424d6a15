/*
 * bench/reset_probe.c - does a server that refuses a large upload let the
 * client read the refusal, or reset the connection under it?
 *
 *   reset_probe --port P [--path /] [-n 200] [--bytes 2097152]
 *
 * Each of N tries opens a connection to 127.0.0.1:P and POSTs BYTES of
 * body to PATH (a route that takes only GET: the server may answer 405 as
 * soon as the head is in), with Connection: close (so that every server
 * closes after its answer), sending the whole body whatever comes back
 * and reading everything the server sends, until the server's EOF or an
 * error.  A try is:
 *
 *   clean   the 405 came whole, every byte of the body was accepted, then
 *           EOF: what a lingering close gives;
 *   reset   the 405 came whole, but a send or a read failed with
 *           ECONNRESET or EPIPE: the server closed with the body unread;
 *   lost    no whole 405 before the reset: the client never saw the answer;
 *   other   anything else (a timeout of 5 s, another status, ...).
 *
 * Prints "tries N clean C reset R lost L other O" on stdout.  Exit status
 * 0 when every try was clean, 1 otherwise, 2 on a usage error.  Plain
 * POSIX sockets and poll(2), no eddy: it probes any server.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 5000
#define PIECE 65536

enum { CLEAN, RESET, LOST, OTHER };

struct
try {
    int fd;
    size_t sent, total; /* head and body bytes */
    char in[8192];      /* the start of what came back */
    size_t got;
    int eof, send_err, recv_err; /* errno values, 0: none */
};

/* Whether in[0, got) holds a whole 405 (its head and Content-Length). */
static int whole_405(const struct try *t)
{
    const char *end, *cl;
    size_t head;

    if (t->got < 12 || memcmp(t->in, "HTTP/1.1 405", 12) != 0)
        return 0;
    end = memmem(t->in, t->got, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    head = (size_t)(end - t->in) + 4;
    cl = memmem(t->in, head, "\r\nContent-Length: ", 18);
    if (cl == NULL)
        cl = memmem(t->in, head, "\r\ncontent-length: ", 18);
    return cl != NULL && t->got >= head + strtoul(cl + 18, NULL, 10);
}

static int one_try(int port, const char *head, size_t head_len,
                   const char *body, size_t bytes)
{
    struct sockaddr_in a = {0};
    struct try t = {0};
    int one = 1;

    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t.fd < 0 || connect(t.fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("reset_probe: connect");
        exit(1);
    }
    setsockopt(t.fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
    t.total = head_len + bytes;
    while ((t.sent < t.total && !t.send_err) || (!t.eof && !t.recv_err)) {
        int sending = t.sent < t.total && !t.send_err;
        struct pollfd p = {t.fd, (short)(POLLIN | (sending ? POLLOUT : 0)), 0};

        if (poll(&p, 1, WAIT_MS) <= 0)
            break; /* a timeout: other */
        if ((p.revents & POLLOUT) && sending) {
            size_t off = t.sent, n;
            const char *src = off < head_len ? head + off : body;

            n = off < head_len ? head_len - off : t.total - off;
            ssize_t w = send(t.fd, src, n < PIECE ? n : PIECE,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                t.sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                t.send_err = errno;
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && !t.eof &&
            !t.recv_err) {
            char sink[PIECE];
            size_t room = sizeof t.in - t.got;
            ssize_t r = recv(t.fd, room ? t.in + t.got : sink,
                             room ? room : sizeof sink, MSG_DONTWAIT);

            if (r > 0 && room)
                t.got += (size_t)r;
            else if (r == 0)
                t.eof = 1;
            else if (r < 0 && errno != EAGAIN && errno != EINTR)
                t.recv_err = errno;
        }
    }
    close(t.fd);
    if (!whole_405(&t))
        return t.send_err || t.recv_err ? LOST : OTHER;
    if (t.send_err == ECONNRESET || t.send_err == EPIPE ||
        t.recv_err == ECONNRESET)
        return RESET;
    return t.eof && t.sent == t.total && !t.send_err && !t.recv_err ? CLEAN
                                                                    : OTHER;
}

int main(int argc, char **argv)
{
    const char *path = "/";
    long tries = 200, port = 0;
    size_t bytes = 2097152;
    int count[4] = {0};
    char head[256];
    char *body;
    int n;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--path") == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "-n") == 0)
            tries = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--bytes") == 0)
            bytes = strtoul(argv[i + 1], NULL, 10);
        else
            port = 0;
    }
    if (port <= 0 || port > 65535 || tries <= 0 || argc % 2 == 0) {
        fprintf(stderr,
                "usage: %s --port P [--path /] [-n 200] "
                "[--bytes 2097152]\n",
                argv[0]);
        return 2;
    }
    n = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 path, bytes);
    if ((body = malloc(bytes ? bytes : 1)) == NULL)
        return 1;
    memset(body, 'x', bytes);
    for (long i = 0; i < tries; i++)
        count[one_try((int)port, head, (size_t)n, body, bytes)]++;
    printf("tries %ld clean %d reset %d lost %d other %d\n", tries,
           count[CLEAN], count[RESET], count[LOST], count[OTHER]);
    free(body);
    return count[CLEAN] == tries ? 0 : 1;
}
