/*
 * examples/chat.c - a line broadcast server: every line a client sends
 * goes to every other client.  It shows backpressure both ways: a fast
 * sender is paused instead of flooding memory, and a client that stops
 * reading is dropped instead of holding everyone back.
 *
 *   build/examples/chat [--port 8890] [--address 127.0.0.1] [--high 65536]
 *                       [--low 16384] [--limit 1048576] [--stall-ms 2000]
 *   nc 127.0.0.1 8890   (in two terminals; type lines)
 *
 * Each client's stream has write watermarks.  When a line takes any
 * client's queue to the high watermark, the server pauses reading from
 * every client, so TCP makes the senders wait; the drain callback of the
 * last client over the mark resumes them.  A reading client drains in
 * moments; one that stays over the mark for stall-ms, or whose queue
 * passes --limit (max_write_buffer_size), is dropped.  So memory stays
 * bounded by about clients x high, every reading client gets every line in
 * order, and a stuck one costs the others stall-ms once.
 *
 * Lines longer than 16 KiB close their sender.  SIGINT or SIGTERM stop
 * the server; it then prints to stderr how many lines it relayed and the
 * most bytes it held queued at once.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (16 * 1024)

struct client {
    eddy_stream *s;
    struct client *prev, *next;
    uint64_t over_since; /* ms on the loop clock; 0: under the high mark */
};

struct chat {
    eddy_loop *loop;
    eddy_tcp_server *srv;
    struct client clients; /* the list's head */
    int over;              /* clients over the high watermark */
    size_t high, low, limit;
    uint64_t stall_ms;
    unsigned long long lines, dropped;
    size_t peak; /* the most bytes queued for all clients at once */
};

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg);

/* Pauses or resumes reading from every client. */
static void set_paused(struct chat *chat, int paused)
{
    for (struct client *c = chat->clients.next; c != &chat->clients;
         c = c->next)
        if (paused)
            eddy_stream_pause_reading(c->s);
        else
            eddy_stream_resume_reading(c->s);
}

/* c's queue is under the high mark again (drained, or c is gone). */
static void under(struct chat *chat, struct client *c)
{
    if (c->over_since == 0)
        return;
    c->over_since = 0;
    if (--chat->over == 0)
        set_paused(chat, 0);
}

static void on_drain(eddy_stream *s, int status, void *arg)
{
    (void)status;
    under(eddy_stream_data(s), arg);
}

static void broadcast(struct chat *chat, struct client *from, const char *line,
                      size_t len)
{
    int was_over = chat->over;
    size_t queued = 0;

    for (struct client *c = chat->clients.next; c != &chat->clients;
         c = c->next) {
        if (c == from || eddy_stream_closed(c->s))
            continue;
        /* -ENOSPC: past --limit, the stream closes itself. */
        if (eddy_stream_write(c->s, line, len, NULL, NULL) == 0 &&
            eddy_stream_needs_drain(c->s) && c->over_since == 0) {
            c->over_since = eddy_loop_now(chat->loop);
            chat->over++;
        }
        queued += eddy_stream_write_buffered(c->s);
    }
    chat->lines++;
    if (queued > chat->peak)
        chat->peak = queued;
    if (was_over == 0 && chat->over > 0)
        set_paused(chat, 1);
}

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    struct chat *chat = eddy_stream_data(s);

    if (status != 0)
        return; /* EOF or an error: the stream closes by itself */
    broadcast(chat, arg, data, len);
    /* Asked for also while paused: it completes once resumed. */
    if (eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, arg) != 0)
        eddy_stream_close(s);
}

static void on_close(eddy_stream *s, int status, void *arg)
{
    struct chat *chat = eddy_stream_data(s);
    struct client *c = arg;

    if (status == -ENOSPC) {
        chat->dropped++;
        fprintf(stderr, "chat: a client passed --limit and was dropped\n");
    }
    c->prev->next = c->next;
    c->next->prev = c->prev;
    under(chat, c);
    free(c);
}

/* Drops the clients that stayed over the high mark for stall_ms. */
static void on_check(eddy_loop *loop, void *arg)
{
    struct chat *chat = arg;
    uint64_t now = eddy_loop_now(loop);

    for (struct client *c = chat->clients.next; c != &chat->clients;
         c = c->next) {
        if (c->over_since == 0 || now - c->over_since < chat->stall_ms ||
            eddy_stream_closed(c->s))
            continue;
        chat->dropped++;
        fprintf(stderr,
                "chat: dropped a client that read nothing for %llu ms "
                "(%zu bytes waiting)\n",
                (unsigned long long)(now - c->over_since),
                eddy_stream_write_buffered(c->s));
        eddy_stream_close(c->s); /* on_close unlinks it, later */
    }
}

static void on_connection(eddy_tcp_server *srv, eddy_stream *s,
                          const struct sockaddr *peer, socklen_t peer_len,
                          void *arg)
{
    struct chat *chat = arg;
    struct client *c = calloc(1, sizeof *c);

    (void)srv;
    (void)peer;
    (void)peer_len;
    if (c == NULL ||
        eddy_stream_set_write_watermarks(s, chat->high, chat->low) != 0 ||
        eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, c) != 0) {
        free(c);
        eddy_stream_close(s);
        return;
    }
    c->s = s;
    c->next = &chat->clients;
    c->prev = chat->clients.prev;
    chat->clients.prev->next = c;
    chat->clients.prev = c;
    eddy_stream_set_data(s, chat);
    eddy_stream_set_drain_callback(s, on_drain, c);
    eddy_stream_set_close_callback(s, on_close, c);
    if (chat->over > 0)
        eddy_stream_pause_reading(s);
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

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--port N] [--address A] [--high BYTES] [--low BYTES]"
            " [--limit BYTES] [--stall-ms MS]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    struct chat chat = {0};
    eddy_tcp_server_options o = {0};
    const char *address = "127.0.0.1";
    int port = 8890, err;

    chat.high = 65536;
    chat.low = 16384;
    chat.limit = 1 << 20;
    chat.stall_ms = 2000;
    chat.clients.next = chat.clients.prev = &chat.clients;
    for (int i = 1; i + 1 < argc; i += 2) {
        unsigned long long v = strtoull(argv[i + 1], NULL, 10);

        if (strcmp(argv[i], "--port") == 0)
            port = (int)v;
        else if (strcmp(argv[i], "--address") == 0)
            address = argv[i + 1];
        else if (strcmp(argv[i], "--high") == 0)
            chat.high = (size_t)v;
        else if (strcmp(argv[i], "--low") == 0)
            chat.low = (size_t)v;
        else if (strcmp(argv[i], "--limit") == 0)
            chat.limit = (size_t)v;
        else if (strcmp(argv[i], "--stall-ms") == 0)
            chat.stall_ms = v;
        else
            return usage(argv[0]);
    }
    if (argc % 2 == 0 || chat.low >= chat.high || chat.stall_ms == 0)
        return usage(argv[0]);
    o.stream.max_write_buffer_size = chat.limit;
    if ((err = eddy_loop_new(&chat.loop)) != 0 ||
        (err = eddy_tcp_server_new(chat.loop, &o, on_connection, &chat,
                                   &chat.srv)) != 0 ||
        (err = eddy_tcp_server_listen(chat.srv, port, address)) != 0 ||
        (err = eddy_loop_call_every(chat.loop, chat.stall_ms / 4 + 1, on_check,
                                    &chat, NULL)) != 0 ||
        (err = eddy_loop_add_signal(chat.loop, SIGINT, on_signal, chat.srv)) !=
            0 ||
        (err = eddy_loop_add_signal(chat.loop, SIGTERM, on_signal, chat.srv)) !=
            0) {
        fprintf(stderr, "chat: cannot start on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    printf("chat: listening on %s:%d\n", address,
           eddy_tcp_server_port(chat.srv));
    fflush(stdout);
    err = eddy_loop_run(chat.loop);
    fprintf(stderr,
            "chat: relayed %llu lines, dropped %llu clients, at most %zu "
            "bytes queued\n",
            chat.lines, chat.dropped, chat.peak);
    eddy_tcp_server_free(chat.srv);
    eddy_loop_close(chat.loop, 0);
    return err == 0 ? 0 : 1;
}
