/*
 * examples/ws_echo.c - a WebSocket echo server: every message that
 * arrives on /ws goes back as it came, text as text, binary as binary.
 *
 *   build/examples/ws_echo [--port 8895] [--address 127.0.0.1]
 *                          [--no-deflate] [--max-message BYTES]
 *   python3 -m websockets ws://127.0.0.1:8895/ws   (type lines)
 *
 * permessage-deflate is accepted when a client offers it (--no-deflate
 * refuses it); --max-message sets the longest message taken (10 MiB).
 * A client that sends faster than it reads is held back: once its echoes
 * queue up to the high watermark the server stops reading from it until
 * they drain, so memory stays bounded whatever the client does.  GET /
 * says what this is.  SIGINT or SIGTERM close every connection with 1001
 * (going away), wait for them to end (5 s at most), and exit 0.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The open connections, in a ring, so that a signal can close them. */
struct peer {
    eddy_ws *ws;
    struct peer *prev, *next;
};

struct echo {
    eddy_loop *loop;
    eddy_http_server *srv;
    struct peer peers; /* the ring's head */
    int stopping;
};

static void on_message(eddy_ws *ws, int op, const char *data, size_t len,
                       void *arg)
{
    (void)arg;
    /* An error means the connection is closing (on_close follows). */
    if (eddy_ws_send(ws, op, data, len) == 0 && eddy_ws_needs_drain(ws))
        eddy_stream_pause_reading(eddy_ws_stream(ws));
}

static void on_drain(eddy_ws *ws, void *arg)
{
    (void)arg;
    eddy_stream_resume_reading(eddy_ws_stream(ws));
}

static void on_open(eddy_ws *ws, int status, const eddy_http_response *r,
                    void *arg)
{
    struct echo *e = arg;
    struct peer *p;

    (void)r;
    if (status != 0)
        return; /* the client left before the connection was made */
    if ((p = malloc(sizeof *p)) == NULL) {
        eddy_ws_close(ws, EDDY_WS_TRY_AGAIN_LATER, NULL);
        return;
    }
    p->ws = ws;
    p->next = &e->peers;
    p->prev = e->peers.prev;
    e->peers.prev->next = p;
    e->peers.prev = p;
    eddy_ws_set_data(ws, p);
    if (e->stopping)
        eddy_ws_close(ws, EDDY_WS_GOING_AWAY, "server stopping");
}

static void on_close(eddy_ws *ws, int code, const char *reason, size_t len,
                     void *arg)
{
    struct echo *e = arg;
    struct peer *p = eddy_ws_data(ws);

    (void)code, (void)reason, (void)len;
    if (p == NULL)
        return;
    p->prev->next = p->next;
    p->next->prev = p->prev;
    free(p);
    if (e->stopping && e->peers.next == &e->peers)
        eddy_loop_stop(e->loop);
}

static void index_page(eddy_http_request *req, void *arg)
{
    static const char text[] = "ws_echo: a WebSocket echo server on /ws\n";
    static const eddy_http_header h[] = {
        EDDY_HEADER("Content-Type", "text/plain; charset=utf-8")};

    (void)arg;
    eddy_http_respond(req, 200, h, 1, text, sizeof text - 1);
}

static void give_up(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_loop_stop(loop);
}

/* Closes every connection with 1001; the loop stops when the last one
 * ended, or after 5 s. */
static void on_signal(eddy_loop *loop, int signum, void *arg)
{
    struct echo *e = arg;

    (void)signum;
    if (e->stopping)
        return;
    e->stopping = 1;
    eddy_http_server_shutdown(e->srv, 1000, NULL, NULL);
    for (struct peer *p = e->peers.next; p != &e->peers; p = p->next)
        eddy_ws_close(p->ws, EDDY_WS_GOING_AWAY, "server stopping");
    if (e->peers.next == &e->peers ||
        eddy_loop_call_later(loop, 5000, give_up, NULL, NULL) != 0)
        eddy_loop_stop(loop);
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--port N] [--address A] [--no-deflate] "
            "[--max-message BYTES]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8895, err;
    struct echo e = {0};
    eddy_ws_endpoint ep = {.cb = {.on_open = on_open,
                                  .on_message = on_message,
                                  .on_drain = on_drain,
                                  .on_close = on_close},
                           .arg = &e};

    ep.opts.ws.deflate.enable = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (strcmp(argv[i], "--no-deflate") == 0)
            ep.opts.ws.deflate.enable = 0;
        else if (strcmp(argv[i], "--max-message") == 0 && i + 1 < argc)
            ep.opts.ws.max_message_size = strtoull(argv[++i], NULL, 10);
        else
            return usage(argv[0]);
    }
    e.peers.next = e.peers.prev = &e.peers;
    if ((err = eddy_loop_new(&e.loop)) != 0 ||
        (err = eddy_http_server_new(e.loop, NULL, &e.srv)) != 0 ||
        (err = eddy_http_server_route(e.srv, "GET", "/", EDDY_ROUTE_EXACT,
                                      index_page, NULL)) != 0 ||
        (err = eddy_ws_route(e.srv, "/ws", &ep)) != 0 ||
        (err = eddy_loop_add_signal(e.loop, SIGINT, on_signal, &e)) != 0 ||
        (err = eddy_loop_add_signal(e.loop, SIGTERM, on_signal, &e)) != 0) {
        fprintf(stderr, "ws_echo: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_http_server_listen(e.srv, port, address)) != 0) {
        fprintf(stderr, "ws_echo: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    printf("ws_echo: ws://%s:%d/ws\n", address, port);
    fflush(stdout);
    err = eddy_loop_run(e.loop);
    eddy_http_server_free(e.srv);
    /* Connections still open (the 5 s ran out) are dropped. */
    for (struct peer *p = e.peers.next; p != &e.peers; p = p->next)
        eddy_ws_abort(p->ws);
    for (int i = 0; i < 10 && e.peers.next != &e.peers; i++)
        eddy_loop_run_once(e.loop, 0);
    eddy_loop_close(e.loop, 0);
    return err == 0 ? 0 : 1;
}
