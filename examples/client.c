/*
 * examples/client.c - fetches one page over HTTP/1.1 with eddy's TCP
 * client and a stream: resolve the host name off the loop thread, connect
 * (Happy Eyeballs over IPv6 and IPv4), send a GET that asks the server to
 * close, read until it does, print what came back.
 *
 *   build/examples/client [--host localhost] [--port 8888] [--path /]
 *
 * The host is a name or a numeric IPv4 or IPv6 address.  Exits 0 when an
 * HTTP response arrived (whatever its status code), 1 with a message on
 * stderr when the lookup, the connection or the response failed, 2 on bad
 * usage.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 5000
#define TOTAL_TIMEOUT_MS 30000

typedef struct fetch {
    eddy_loop *loop;
    const char *host;
    unsigned port;
    char request[2048];
    size_t request_len;
    eddy_tcp_connector *connecting; /* until the connect ends */
    eddy_stream *s;                 /* connected, until closed */
    eddy_timer_id timer;            /* the whole fetch's deadline */
    int failed;                     /* a message was printed already */
    int got_response;               /* read_until_close completed */
} fetch;

static void fail(fetch *f, const char *what, int err)
{
    if (f->failed)
        return; /* the first error is the one worth reading */
    f->failed = 1;
    fprintf(stderr, "client: %s %s:%u: %s\n", what, f->host, f->port,
            eddy_strerror(err));
}

static void on_response(eddy_stream *s, int status, const char *data,
                        size_t len, void *arg)
{
    fetch *f = arg;

    (void)s;
    if (status != 0) {
        fail(f, "no whole response from", status);
        return;
    }
    if (len < 5 || memcmp(data, "HTTP/", 5) != 0) {
        fail(f, "not an HTTP response from", -EPROTO);
        return;
    }
    f->got_response = 1;
    fwrite(data, 1, len, stdout);
}

/* The stream is gone, and with it everything the loop had to do. */
static void on_close(eddy_stream *s, int status, void *arg)
{
    fetch *f = arg;

    (void)s;
    (void)status;
    f->s = NULL;
    if (f->timer != 0)
        eddy_loop_remove_timeout(f->loop, f->timer);
    f->timer = 0;
    eddy_loop_stop(f->loop);
}

/* Connected (or not): send the request and read the whole answer. */
static void on_connect(eddy_stream *s, int status, void *arg)
{
    fetch *f = arg;
    int err;

    f->connecting = NULL;
    if (status != 0) {
        fail(f, "cannot connect to", status);
        eddy_loop_stop(f->loop);
        return;
    }
    f->s = s;
    eddy_stream_set_close_callback(s, on_close, f);
    if ((err = eddy_stream_write(s, f->request, f->request_len, NULL, NULL)) !=
            0 ||
        (err = eddy_stream_read_until_close(s, on_response, f)) != 0) {
        fail(f, "cannot talk to", err);
        eddy_stream_close(s);
    }
}

static void on_timeout(eddy_loop *loop, void *arg)
{
    fetch *f = arg;

    (void)loop;
    f->timer = 0;
    fail(f, "timed out talking to", -ETIMEDOUT);
    if (f->s != NULL) {
        eddy_stream_close(f->s); /* on_close stops the loop */
        return;
    }
    eddy_tcp_connect_cancel(f->connecting);
    eddy_loop_stop(f->loop);
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--host localhost] [--port 8888] [--path /]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    fetch f = {.host = "localhost", .port = 8888};
    eddy_tcp_connect_options o = {.timeout_ms = CONNECT_TIMEOUT_MS};
    const char *path = "/", *v6;
    char port_part[8] = "";
    eddy_resolver *r = NULL;
    int n, err;

    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;

        if (v != NULL && strcmp(argv[i], "--host") == 0) {
            f.host = v;
        } else if (v != NULL && strcmp(argv[i], "--port") == 0) {
            unsigned long port = strtoul(v, &end, 10);

            if (*v == '\0' || *end != '\0' || port == 0 || port > 65535)
                return usage(argv[0]);
            f.port = (unsigned)port;
        } else if (v != NULL && strcmp(argv[i], "--path") == 0 && v[0] == '/') {
            path = v;
        } else {
            return usage(argv[0]);
        }
    }
    /* Host names the port unless it is HTTP's own; an IPv6 address goes
     * in brackets. */
    if (f.port != 80)
        snprintf(port_part, sizeof port_part, ":%u", f.port);
    v6 = strchr(f.host, ':');
    n = snprintf(f.request, sizeof f.request,
                 "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\n"
                 "Connection: close\r\n\r\n",
                 path, v6 ? "[" : "", f.host, v6 ? "]" : "", port_part);
    if (n < 0 || (size_t)n >= sizeof f.request) {
        fprintf(stderr, "client: the path is too long\n");
        return 2;
    }
    f.request_len = (size_t)n;
    if ((err = eddy_loop_new(&f.loop)) != 0 ||
        (err = eddy_resolver_new(f.loop, NULL, &r)) != 0) {
        fprintf(stderr, "client: %s\n", eddy_strerror(err));
        return 1;
    }
    /* The lookup, the connect and the callbacks all run in the loop. */
    if ((err = eddy_tcp_connect(f.loop, r, f.host, (uint16_t)f.port, &o,
                                on_connect, &f, &f.connecting)) != 0 ||
        (err = eddy_loop_call_later(f.loop, TOTAL_TIMEOUT_MS, on_timeout, &f,
                                    &f.timer)) != 0) {
        fprintf(stderr, "client: cannot connect to %s:%u: %s\n", f.host, f.port,
                eddy_strerror(err));
        return 1;
    }
    err = eddy_loop_run(f.loop);
    if (f.timer != 0)
        eddy_loop_remove_timeout(f.loop, f.timer);
    eddy_resolver_free(r);
    /* Once more: a stream, a lost attempt or an answer may still have to
     * free itself (iostream.h, tcp.h). */
    eddy_loop_run_once(f.loop, 0);
    eddy_loop_close(f.loop, 0);
    if (err != 0)
        fail(&f, "the loop failed while talking to", err);
    if (fflush(stdout) != 0)
        fail(&f, "cannot print the response from", -errno);
    return f.got_response && !f.failed ? 0 : 1;
}
