/*
 * examples/sleep_demo.c - the experiment of the 2009 Tornado article: a
 * handler that blocks the loop for a second against one that waits a
 * second on a timer.
 *
 *   build/examples/sleep_demo [--port 8009] [--address 127.0.0.1]
 *
 *   GET /demo/syncsleep-handler/  sleep(1): the whole server stops for 1 s
 *   GET /demo/sleep-handler/      a 1 s timer: other requests go on
 *   GET /demo/justnow             answers at once
 *   GET /                         answers at once (readiness check)
 *
 * With `ab -n 200 -c 40`, the async handler serves about 39 requests a
 * second (5 s in all) and the sync one 1 a second (200 s); bench/sleep_demo.sh
 * runs the experiment.
 */
#include <eddy/eddy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const eddy_http_header text[] = {
    EDDY_HEADER("Content-Type", "text/plain; charset=UTF-8")};

static void now(eddy_http_request *req, void *arg)
{
    (void)arg;
    eddy_http_respond(req, 200, text, 1, "Hello, World", 12);
}

static void blocking(eddy_http_request *req, void *arg)
{
    sleep(1); /* the point of the demo: nothing else runs meanwhile */
    now(req, arg);
}

static void on_timer(eddy_loop *loop, void *arg)
{
    (void)loop;
    now(arg, NULL);
}

/* The client may leave during the second: then the answer has nowhere to
 * go, but the request must still be finished once, and only once. */
static void on_gone(eddy_http_request *req, void *arg)
{
    (void)arg;
    eddy_loop_remove_timeout(eddy_http_request_loop(req),
                             (eddy_timer_id)(uintptr_t)eddy_http_data(req));
    eddy_http_finish(req);
}

static void async_sleep(eddy_http_request *req, void *arg)
{
    eddy_timer_id id;

    (void)arg;
    if (eddy_loop_call_later(eddy_http_request_loop(req), 1000, on_timer, req,
                             &id) != 0) {
        eddy_http_respond(req, 503, NULL, 0, NULL, 0);
        return;
    }
    eddy_http_set_data(req, (void *)(uintptr_t)id);
    eddy_http_on_close(req, on_gone, NULL);
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1";
    int port = 8009, err;
    eddy_http_server *srv;
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
    if ((err = eddy_loop_new(&loop)) != 0 ||
        (err = eddy_http_server_new(loop, NULL, &srv)) != 0 ||
        (err = eddy_http_server_route(srv, "GET", "/demo/syncsleep-handler/",
                                      0, blocking, NULL)) != 0 ||
        (err = eddy_http_server_route(srv, "GET", "/demo/sleep-handler/", 0,
                                      async_sleep, NULL)) != 0 ||
        (err = eddy_http_server_route(srv, "GET", "/demo/justnow", 0, now,
                                      NULL)) != 0 ||
        (err = eddy_http_server_route(srv, "GET", "/", 0, now, NULL)) != 0 ||
        (err = eddy_http_server_listen(srv, port, address)) != 0 ||
        (err = eddy_http_server_stop_on_signals(srv, 3000)) != 0) {
        fprintf(stderr, "sleep_demo: %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    printf("sleep_demo: serving http://%s:%d/demo/{sleep-handler/,"
           "syncsleep-handler/,justnow}\n", address, port);
    fflush(stdout);
    err = eddy_loop_run(loop);
    eddy_http_server_free(srv);
    eddy_loop_close(loop, 0);
    return err == 0 ? 0 : 1;
}
