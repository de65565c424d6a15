/*
 * tests/test_glib.c - an eddy loop hosted in GLib's main loop, on every
 * backend, through eddy_loop_query_fds(): a GSource whose prepare asks
 * eddy for its fds and its timeout, whose check looks at what poll said,
 * and whose dispatch runs one eddy iteration.  A TCP server and a client
 * of eddy's talk inside GLib's loop, beside a GLib fd watch, and the loop
 * sleeps until there is work: its iterations are counted, not timed.
 *
 * Built with GLib when pkg-config finds glib-2.0 (the Makefile defines
 * TU_HAVE_GLIB); without it, every test is skipped.
 */
#include "testutil.h"

#include "eddy/tcp.h"

#include <sys/socket.h>

#ifdef TU_HAVE_GLIB
#include <glib-unix.h>
#include <glib.h>

#define MAX_FDS 64

/* A GSource that runs an eddy loop. */
typedef struct eddy_source {
    GSource base;
    eddy_loop *loop;
    GPollFD fds[MAX_FDS];
    size_t nfds;
    int prepares; /* GLib iterations that asked this source */
} eddy_source;

/* Makes the source's polls the fds eddy names, changing only what
 * changed: adding or removing a poll wakes GLib's loop up (its own wakeup
 * fd), so redoing them all in every prepare would never let it sleep.
 * A poll's events can change in place: GLib reads them at each query. */
static void sync_polls(eddy_source *s, const struct pollfd *p, size_t n)
{
    int seen[MAX_FDS] = {0};

    for (size_t k = 0; k < n; k++) {
        size_t i = 0;

        while (i < s->nfds && s->fds[i].fd != p[k].fd)
            i++;
        if (i < s->nfds) {
            s->fds[i].events = (gushort)p[k].events;
            seen[i] = 1;
        }
    }
    for (size_t i = s->nfds; i-- > 0;) {
        if (seen[i])
            continue;
        g_source_remove_poll(&s->base, &s->fds[i]);
        /* The last one moves into the hole: re-register it there. */
        if (i != s->nfds - 1) {
            g_source_remove_poll(&s->base, &s->fds[s->nfds - 1]);
            s->fds[i] = s->fds[s->nfds - 1];
            seen[i] = seen[s->nfds - 1];
            g_source_add_poll(&s->base, &s->fds[i]);
        }
        s->nfds--;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;

        while (i < s->nfds && s->fds[i].fd != p[k].fd)
            i++;
        if (i < s->nfds || s->nfds == MAX_FDS)
            continue;
        s->fds[i].fd = p[k].fd;
        s->fds[i].events = (gushort)p[k].events;
        s->fds[i].revents = 0;
        g_source_add_poll(&s->base, &s->fds[i]);
        s->nfds++;
    }
}

static gboolean source_prepare(GSource *g, gint *timeout)
{
    eddy_source *s = (eddy_source *)g;
    struct pollfd p[MAX_FDS];
    size_t n;

    s->prepares++;
    /* eddy's fds change as handlers come and go: asked every time. */
    if (eddy_loop_query_fds(s->loop, p, MAX_FDS, &n) != 0)
        n = 0;
    sync_polls(s, p, n);
    *timeout = eddy_loop_timeout(s->loop);
    return *timeout == 0;
}

static gboolean source_check(GSource *g)
{
    eddy_source *s = (eddy_source *)g;

    for (size_t i = 0; i < s->nfds; i++)
        if (s->fds[i].revents != 0)
            return TRUE;
    return eddy_loop_timeout(s->loop) == 0;
}

static gboolean source_dispatch(GSource *g, GSourceFunc cb, gpointer data)
{
    eddy_source *s = (eddy_source *)g;

    (void)cb;
    (void)data;
    return eddy_loop_run_once(s->loop, 0) == 0 ? G_SOURCE_CONTINUE
                                               : G_SOURCE_REMOVE;
}

static GSourceFuncs source_funcs = {
    source_prepare, source_check, source_dispatch, NULL, NULL, NULL};

static eddy_source *source_new(eddy_loop *loop, GMainContext *ctx)
{
    eddy_source *s =
        (eddy_source *)g_source_new(&source_funcs, sizeof(eddy_source));

    s->loop = loop;
    s->nfds = 0;
    s->prepares = 0;
    g_source_attach(&s->base, ctx);
    return s;
}

/* --- the scenario -------------------------------------------------------- */

typedef struct scene {
    GMainLoop *main;
    eddy_loop *loop;
    eddy_tcp_server *srv;
    eddy_stream *server_side, *client;
    int echoed, got_back, glib_fd_events, ticks;
    char reply[64];
    int pair[2];
} scene;

static void on_server_line(eddy_stream *s, int status, const char *data,
                           size_t len, void *arg)
{
    scene *sc = arg;

    if (status != 0)
        return;
    sc->echoed++;
    assert_int_equal(eddy_stream_write(s, data, len, NULL, NULL), 0);
}

static void on_connection(eddy_tcp_server *srv, eddy_stream *s,
                          const struct sockaddr *peer, socklen_t len, void *arg)
{
    scene *sc = arg;

    (void)srv;
    (void)peer;
    (void)len;
    sc->server_side = s;
    assert_int_equal(eddy_stream_read_until(s, "\n", 1, 0, on_server_line, sc),
                     0);
}

static void on_reply(eddy_stream *s, int status, const char *data, size_t len,
                     void *arg)
{
    scene *sc = arg;

    (void)s;
    assert_int_equal(status, 0);
    assert_true(len < sizeof sc->reply);
    memcpy(sc->reply, data, len);
    sc->reply[len] = '\0';
    sc->got_back = 1;
    /* Tell the GLib side through its own fd. */
    assert_int_equal(write(sc->pair[1], "!", 1), 1);
}

static void on_connected(eddy_stream *s, int status, void *arg)
{
    scene *sc = arg;

    assert_int_equal(status, 0);
    sc->client = s;
    assert_int_equal(eddy_stream_write(s, "from glib\n", 10, NULL, NULL), 0);
    assert_int_equal(eddy_stream_read_until(s, "\n", 1, 0, on_reply, sc), 0);
}

static gboolean on_glib_fd(gint fd, GIOCondition cond, gpointer arg)
{
    scene *sc = arg;
    char c;

    (void)cond;
    assert_int_equal(read(fd, &c, 1), 1);
    sc->glib_fd_events++;
    g_main_loop_quit(sc->main);
    return G_SOURCE_CONTINUE;
}

static void on_tick(eddy_loop *loop, void *arg)
{
    (void)loop;
    ((scene *)arg)->ticks++;
}

static gboolean on_give_up(gpointer arg)
{
    g_main_loop_quit(((scene *)arg)->main);
    return G_SOURCE_REMOVE;
}

/* An echo through eddy's TCP server and client, inside GLib's loop. */
static void test_glib_hosts_eddy(void **state)
{
    GMainContext *ctx = g_main_context_new();
    scene sc = {0};
    eddy_source *src;
    GSource *watch, *give_up;

    (void)state;
    sc.loop = tu_loop_new();
    sc.main = g_main_loop_new(ctx, FALSE);
    assert_int_equal(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sc.pair), 0);
    src = source_new(sc.loop, ctx);
    watch = g_unix_fd_source_new(sc.pair[0], G_IO_IN);
    g_source_set_callback(watch, (GSourceFunc)(void (*)(void))on_glib_fd, &sc,
                          NULL);
    g_source_attach(watch, ctx);
    give_up = g_timeout_source_new(10000);
    g_source_set_callback(give_up, on_give_up, &sc, NULL);
    g_source_attach(give_up, ctx);
    assert_int_equal(
        eddy_tcp_server_new(sc.loop, NULL, on_connection, &sc, &sc.srv), 0);
    assert_int_equal(eddy_tcp_server_listen(sc.srv, 0, "127.0.0.1"), 0);
    assert_int_equal(eddy_tcp_connect(sc.loop, NULL, "127.0.0.1",
                                      (uint16_t)eddy_tcp_server_port(sc.srv),
                                      NULL, on_connected, &sc, NULL),
                     0);
    g_main_loop_run(sc.main);
    assert_int_equal(sc.echoed, 1);
    assert_true(sc.got_back);
    assert_string_equal(sc.reply, "from glib\n");
    assert_int_equal(sc.glib_fd_events, 1);
    /* A dozen iterations or so; a host woken every 10 ms would not be
     * done with the echo alone in that many on a busy machine, and a
     * spinning one makes thousands. */
    printf("   glib: the echo took %d GLib iterations on %s\n", src->prepares,
           eddy_loop_backend());
    assert_true(src->prepares < 100);

    eddy_stream_close(sc.client);
    eddy_stream_close(sc.server_side);
    eddy_tcp_server_free(sc.srv);
    for (int i = 0; i < 5; i++)
        assert_int_equal(eddy_loop_run_once(sc.loop, 0), 0);
    g_source_destroy(give_up);
    g_source_unref(give_up);
    g_source_destroy(watch);
    g_source_unref(watch);
    g_source_destroy(&src->base);
    g_source_unref(&src->base);
    g_main_loop_unref(sc.main);
    g_main_context_unref(ctx);
    eddy_loop_close(sc.loop, 0);
    close(sc.pair[0]);
    close(sc.pair[1]);
}

/* With nothing but an eddy timer every 100 ms, GLib sleeps from one tick
 * to the next: about one iteration per tick, on every backend. */
static void test_glib_sleeps_between_ticks(void **state)
{
    GMainContext *ctx = g_main_context_new();
    scene sc = {0};
    eddy_source *src;
    eddy_timer_id id;

    (void)state;
    sc.loop = tu_loop_new();
    src = source_new(sc.loop, ctx);
    assert_int_equal(eddy_loop_call_every(sc.loop, 100, on_tick, &sc, &id), 0);
    while (sc.ticks < 5)
        g_main_context_iteration(ctx, TRUE);
    /* Five ticks; a wakeup may come a hair before a deadline.  A 10 ms
     * tick would be 50. */
    printf("   glib: 5 ticks of 100 ms in %d GLib iterations on %s\n",
           src->prepares, eddy_loop_backend());
    assert_true(src->prepares <= 12);
    assert_int_equal(eddy_loop_remove_timeout(sc.loop, id), 0);
    g_source_destroy(&src->base);
    g_source_unref(&src->base);
    g_main_context_unref(ctx);
    eddy_loop_close(sc.loop, 0);
}

#else /* no GLib */

static void test_glib_hosts_eddy(void **state)
{
    (void)state;
    skip();
}

static void test_glib_sleeps_between_ticks(void **state)
{
    (void)state;
    skip();
}

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_glib_hosts_eddy),
        tu_test(test_glib_sleeps_between_ticks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
