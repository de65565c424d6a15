/*
 * examples/ws_chat.c - a chat room in the browser: GET / serves a small
 * page (HTML and JavaScript, inline), whose WebSocket on /ws joins the
 * room; every message anyone sends goes to everyone, as "#N: text".
 *
 *   build/examples/ws_chat [--port 8896] [--address 127.0.0.1]
 *                          [--high BYTES] [--limit BYTES] [--stall-ms N]
 *   then open http://127.0.0.1:8896/ in two browser tabs
 *
 * A message is put in one buffer and sent to every member by reference
 * (eddy_ws_send_ref): the buffer is freed when the last member's copy is
 * out, so a broadcast costs one buffer, not one per member.  Backpressure
 * as examples/chat.c does it: when a member's queue reaches --high
 * (write_high_water), the room stops reading from every member, so the
 * senders wait (TCP holds them back) instead of memory growing; on_drain
 * of the last member over the mark lets them go on.  A member that stays
 * over the mark for --stall-ms (2000) is dropped, and one whose queue
 * would pass --limit (max_write_buffer_size, 1 MiB) is dropped at once;
 * so memory stays under about members x (high + one message), every
 * member that reads gets every message in order, and a stuck one holds
 * the others back once, for stall-ms.  Messages are at most 16 KiB.
 * SIGINT or SIGTERM stop the server; the members get 1001 (going away).
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (16 * 1024)

static const char page[] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n"
    "<title>eddy chat</title>\n"
    "<style>\n"
    "body { font: 16px/1.4 sans-serif; max-width: 40em; margin: 2em auto; }\n"
    "#log { list-style: none; padding: 0.5em; height: 60vh;\n"
    "       overflow-y: auto; border: 1px solid #bbb; }\n"
    "#log li.note { color: #777; }\n"
    "#text { width: 75%; }\n"
    "</style></head><body>\n"
    "<h1>eddy chat</h1>\n"
    "<p id=\"status\">connecting</p>\n"
    "<ul id=\"log\"></ul>\n"
    "<form id=\"form\"><input id=\"text\" autocomplete=\"off\" "
    "maxlength=\"4000\" autofocus> <button>Send</button></form>\n"
    "<script>\n"
    "const log = document.getElementById('log');\n"
    "const status = document.getElementById('status');\n"
    "const text = document.getElementById('text');\n"
    "const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';\n"
    "const ws = new WebSocket(scheme + location.host + '/ws');\n"
    "function show(line) {\n"
    "  const li = document.createElement('li');\n"
    "  li.textContent = line;\n"
    "  if (line.startsWith('* ')) li.className = 'note';\n"
    "  log.appendChild(li);\n"
    "  log.scrollTop = log.scrollHeight;\n"
    "}\n"
    "ws.onopen = () => { status.textContent = 'connected'; };\n"
    "ws.onmessage = (e) => show(e.data);\n"
    "ws.onclose = (e) => {\n"
    "  status.textContent = 'disconnected (' + e.code + ')';\n"
    "};\n"
    "document.getElementById('form').onsubmit = (e) => {\n"
    "  e.preventDefault();\n"
    "  if (text.value !== '' && ws.readyState === WebSocket.OPEN) {\n"
    "    ws.send(text.value);\n"
    "    text.value = '';\n"
    "  }\n"
    "};\n"
    "</script></body></html>\n";

/* A message shared by every member's queue. */
struct shared {
    unsigned refs;
    size_t len;
    char data[];
};

struct member {
    eddy_ws *ws;
    struct member *prev, *next;
    int id;
    uint64_t over_since; /* ms on the loop's clock; 0: under the mark */
};

struct room {
    eddy_loop *loop;
    eddy_http_server *srv;
    struct member members; /* the ring's head */
    int next_id, over;     /* members over the high mark */
    uint64_t stall_ms;
    unsigned long long messages, dropped;
    int stopping;
};

static void release(eddy_stream *s, int status, void *arg)
{
    struct shared *m = arg;

    (void)s, (void)status;
    if (--m->refs == 0)
        free(m);
}

/* Stops or restarts reading from every member. */
static void set_paused(struct room *r, int paused)
{
    for (struct member *p = r->members.next; p != &r->members; p = p->next) {
        eddy_stream *s = eddy_ws_stream(p->ws);

        if (paused)
            eddy_stream_pause_reading(s);
        else
            eddy_stream_resume_reading(s);
    }
}

/* p's queue fell under the mark (drained, or p is gone). */
static void under(struct room *r, struct member *p)
{
    if (p->over_since == 0)
        return;
    p->over_since = 0;
    if (--r->over == 0)
        set_paused(r, 0);
}

static void broadcast(struct room *r, const char *text, size_t len)
{
    struct shared *m = malloc(sizeof *m + len);
    int was_over = r->over;

    if (m == NULL)
        return;
    m->refs = 1; /* ours, until the loop is done */
    m->len = len;
    memcpy(m->data, text, len);
    for (struct member *p = r->members.next; p != &r->members; p = p->next) {
        /* -ENOSPC (past --limit) drops the member: on_close follows. */
        if (eddy_ws_send_ref(p->ws, EDDY_WS_TEXT, m->data, m->len, release,
                             m) != 0)
            continue;
        m->refs++;
        if (eddy_ws_needs_drain(p->ws) && p->over_since == 0) {
            p->over_since = eddy_loop_now(r->loop);
            r->over++;
        }
    }
    release(NULL, 0, m);
    r->messages++;
    if (was_over == 0 && r->over > 0)
        set_paused(r, 1);
}

/* A line from the room itself: "* #3 joined". */
static void note(struct room *r, int id, const char *what)
{
    char line[64];
    int n = snprintf(line, sizeof line, "* #%d %s", id, what);

    broadcast(r, line, (size_t)n);
}

static void on_open(eddy_ws *ws, int status, const eddy_http_response *x,
                    void *arg)
{
    struct room *r = arg;
    struct member *p;
    char hello[64];
    int n;

    (void)x;
    if (status != 0)
        return;
    if (r->stopping || (p = calloc(1, sizeof *p)) == NULL) {
        eddy_ws_close(ws, EDDY_WS_TRY_AGAIN_LATER, NULL);
        return;
    }
    p->ws = ws;
    p->id = ++r->next_id;
    eddy_ws_set_data(ws, p);
    n = snprintf(hello, sizeof hello, "* welcome, you are #%d", p->id);
    eddy_ws_send(ws, EDDY_WS_TEXT, hello, (size_t)n);
    note(r, p->id, "joined");
    p->next = &r->members;
    p->prev = r->members.prev;
    r->members.prev->next = p;
    r->members.prev = p;
    if (r->over > 0)
        eddy_stream_pause_reading(eddy_ws_stream(ws));
}

static void on_message(eddy_ws *ws, int op, const char *data, size_t len,
                       void *arg)
{
    struct member *p = eddy_ws_data(ws);
    char line[MAX_MESSAGE + 16];
    int n;

    if (op != EDDY_WS_TEXT || p == NULL)
        return; /* the page sends text only */
    n = snprintf(line, sizeof line, "#%d: %.*s", p->id, (int)len, data);
    if (n > 0 && (size_t)n < sizeof line) /* len is at most MAX_MESSAGE */
        broadcast(arg, line, (size_t)n);
}

static void on_drain(eddy_ws *ws, void *arg)
{
    struct member *p = eddy_ws_data(ws);

    if (p != NULL)
        under(arg, p);
}

static void on_close(eddy_ws *ws, int code, const char *reason, size_t len,
                     void *arg)
{
    struct room *r = arg;
    struct member *p = eddy_ws_data(ws);

    (void)code, (void)reason, (void)len;
    if (p == NULL)
        return;
    if (eddy_ws_error(ws) == -ENOSPC) {
        r->dropped++;
        fprintf(stderr, "ws_chat: #%d passed --limit and was dropped\n", p->id);
    }
    p->prev->next = p->next;
    p->next->prev = p->prev;
    under(r, p);
    if (!r->stopping)
        note(r, p->id, "left");
    free(p);
    if (r->stopping && r->members.next == &r->members)
        eddy_loop_stop(r->loop);
}

/* Drops the members that stayed over the high mark for stall_ms. */
static void on_check(eddy_loop *loop, void *arg)
{
    struct room *r = arg;
    uint64_t now = eddy_loop_now(loop);

    for (struct member *p = r->members.next; p != &r->members; p = p->next) {
        if (p->over_since == 0 || now - p->over_since < r->stall_ms)
            continue;
        r->dropped++;
        fprintf(stderr,
                "ws_chat: dropped #%d, which read nothing for %llu ms "
                "(%zu bytes waiting)\n",
                p->id, (unsigned long long)(now - p->over_since),
                eddy_ws_buffered_amount(p->ws));
        eddy_ws_abort(p->ws); /* on_close unlinks it, later */
    }
}

static void index_page(eddy_http_request *req, void *arg)
{
    static const eddy_http_header h[] = {
        EDDY_HEADER("Content-Type", "text/html; charset=utf-8"),
        EDDY_HEADER("Cache-Control", "no-store")};

    (void)arg;
    eddy_http_respond(req, 200, h, 2, page, sizeof page - 1);
}

static void give_up(eddy_loop *loop, void *arg)
{
    (void)arg;
    eddy_loop_stop(loop);
}

static void on_signal(eddy_loop *loop, int signum, void *arg)
{
    struct room *r = arg;

    (void)signum;
    if (r->stopping)
        return;
    r->stopping = 1;
    eddy_http_server_shutdown(r->srv, 1000, NULL, NULL);
    for (struct member *p = r->members.next; p != &r->members; p = p->next)
        eddy_ws_close(p->ws, EDDY_WS_GOING_AWAY, "server stopping");
    if (r->members.next == &r->members ||
        eddy_loop_call_later(loop, 3000, give_up, NULL, NULL) != 0)
        eddy_loop_stop(loop);
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--port N] [--address A] [--high BYTES] "
            "[--limit BYTES] [--stall-ms N]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8896, err;
    struct room r = {.stall_ms = 2000};
    eddy_ws_endpoint ep = {.cb = {.on_open = on_open,
                                  .on_message = on_message,
                                  .on_drain = on_drain,
                                  .on_close = on_close},
                           .arg = &r};

    ep.opts.ws.max_message_size = MAX_MESSAGE;
    ep.opts.ws.max_write_buffer_size = 1 << 20;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (strcmp(argv[i], "--high") == 0 && i + 1 < argc)
            ep.opts.ws.write_high_water = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
            ep.opts.ws.max_write_buffer_size = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--stall-ms") == 0 && i + 1 < argc)
            r.stall_ms = strtoull(argv[++i], NULL, 10);
        else
            return usage(argv[0]);
    }
    r.members.next = r.members.prev = &r.members;
    if ((err = eddy_loop_new(&r.loop)) != 0 ||
        (err = eddy_http_server_new(r.loop, NULL, &r.srv)) != 0 ||
        (err = eddy_http_server_route(r.srv, "GET", "/", EDDY_ROUTE_EXACT,
                                      index_page, NULL)) != 0 ||
        (err = eddy_ws_route(r.srv, "/ws", &ep)) != 0 ||
        (err = eddy_loop_call_every(r.loop, r.stall_ms / 4 + 1, on_check, &r,
                                    NULL)) != 0 ||
        (err = eddy_loop_add_signal(r.loop, SIGINT, on_signal, &r)) != 0 ||
        (err = eddy_loop_add_signal(r.loop, SIGTERM, on_signal, &r)) != 0) {
        fprintf(stderr, "ws_chat: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_http_server_listen(r.srv, port, address)) != 0) {
        fprintf(stderr, "ws_chat: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    printf("ws_chat: http://%s:%d/\n", address, port);
    fflush(stdout);
    err = eddy_loop_run(r.loop);
    fprintf(stderr, "ws_chat: %llu messages, %llu members dropped\n",
            r.messages, r.dropped);
    eddy_http_server_free(r.srv);
    for (struct member *p = r.members.next; p != &r.members; p = p->next)
        eddy_ws_abort(p->ws);
    for (int i = 0; i < 10 && r.members.next != &r.members; i++)
        eddy_loop_run_once(r.loop, 0);
    eddy_loop_close(r.loop, 0);
    return err == 0 ? 0 : 1;
}
