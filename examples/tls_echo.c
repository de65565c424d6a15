/*
 * examples/tls_echo.c - examples/echo.c over TLS: every line a client
 * sends comes back, encrypted.  One call turns TLS on for each accepted
 * socket: eddy_stream_start_tls().
 *
 *   build/examples/tls_echo --tls-cert cert.pem --tls-key key.pem
 *                           [--port 8890] [--address 127.0.0.1]
 *   openssl s_client -connect 127.0.0.1:8890 -CAfile ca.pem -quiet
 *
 * A certificate for trying it (tests/certs.sh makes a CA and more):
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
 *       -subj /CN=localhost -addext subjectAltName=DNS:localhost \
 *       -keyout key.pem -out cert.pem
 *
 * A handshake has 10 seconds; lines longer than 64 KiB close the
 * connection.  The library's log lines (a handshake that failed and why)
 * go to stderr.
 */
#define _GNU_SOURCE
#include <eddy/eddy.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE (64 * 1024)
#define HANDSHAKE_MS 10000

static eddy_tls_ctx *tls;

/* Every open connection, so that they can be closed before the loop. */
struct client {
    eddy_stream *s;
    struct client *prev, *next;
};

static struct client clients = {NULL, &clients, &clients};

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    (void)arg;
    if (status != 0)
        return; /* EOF or an error: the stream closes by itself */
    if (eddy_stream_write(s, data, len, NULL, NULL) == 0)
        eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL);
}

/* The first read may be made at once (it waits for the handshake); this
 * callback only reports what was negotiated. */
static void on_handshake(eddy_stream *s, int status, void *arg)
{
    (void)arg;
    if (status == 0)
        fprintf(stderr, "tls_echo: fd %d: %s, %s\n", eddy_stream_fd(s),
                eddy_stream_tls_version(s), eddy_stream_tls_cipher(s));
}

static void on_close(eddy_stream *s, int status, void *arg)
{
    struct client *c = arg;

    (void)s;
    (void)status;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    free(c);
}

static void on_accept(eddy_loop *loop, int lfd, unsigned events, void *arg)
{
    (void)events;
    (void)arg;
    for (int i = 0; i < 128; i++) {
        struct client *c;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0)
            return; /* EAGAIN, or EMFILE: try again on the next event */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if ((c = malloc(sizeof *c)) == NULL) {
            close(fd);
            continue;
        }
        if (eddy_stream_new(loop, fd, NULL, &c->s) != 0) {
            free(c);
            continue;
        }
        c->next = &clients;
        c->prev = clients.prev;
        clients.prev->next = c;
        clients.prev = c;
        eddy_stream_set_close_callback(c->s, on_close, c);
        if (eddy_stream_start_tls(c->s, tls, NULL, HANDSHAKE_MS, on_handshake,
                                  NULL) != 0) {
            eddy_stream_close(c->s);
            continue;
        }
        eddy_stream_read_until(c->s, "\n", 1, MAX_LINE, on_line, NULL);
    }
}

static void on_signal(eddy_loop *loop, int signum, void *arg)
{
    (void)signum;
    (void)arg;
    eddy_loop_stop(loop);
}

static void on_log(void *arg, int level, const char *message)
{
    (void)arg;
    (void)level;
    fprintf(stderr, "tls_echo: %s\n", message);
}

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --tls-cert FILE --tls-key FILE [--port N] "
            "[--address A]\n",
            prog);
    return 2;
}

int main(int argc, char **argv)
{
    const char *address = "127.0.0.1", *cert = NULL, *key = NULL;
    int port = 8890, fds[8], err;
    eddy_loop *loop;
    size_t n;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            address = argv[++i];
        else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc)
            cert = argv[++i];
        else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc)
            key = argv[++i];
        else
            return usage(argv[0]);
    }
    if (cert == NULL || key == NULL)
        return usage(argv[0]);
    if ((err = eddy_tls_ctx_new(EDDY_TLS_SERVER, &tls)) != 0) {
        fprintf(stderr, "tls_echo: %s\n", eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_tls_ctx_load_cert_chain(tls, cert, key)) != 0) {
        fprintf(stderr, "tls_echo: %s (%s)\n", eddy_strerror(err),
                eddy_tls_ctx_error(tls));
        return 1;
    }
    err = eddy_bind_sockets(port, address, AF_UNSPEC, 0, 0, fds, 8, &n);
    if (err != 0) {
        fprintf(stderr, "tls_echo: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_loop_new(&loop)) != 0) {
        fprintf(stderr, "tls_echo: %s\n", eddy_strerror(err));
        return 1;
    }
    eddy_loop_set_log(loop, on_log, NULL);
    for (size_t i = 0; i < n; i++)
        eddy_loop_add_handler(loop, fds[i], EDDY_READ, on_accept, NULL);
    eddy_loop_add_signal(loop, SIGINT, on_signal, NULL);
    eddy_loop_add_signal(loop, SIGTERM, on_signal, NULL);
    printf("tls_echo: listening on %s:%d (%s)\n", address, port,
           eddy_tls_library());
    fflush(stdout);
    err = eddy_loop_run(loop);
    for (size_t i = 0; i < n; i++) {
        eddy_loop_remove_handler(loop, fds[i]);
        close(fds[i]);
    }
    /* Streams are closed before their loop (close_notify goes out), and
     * their close callbacks (which free the clients) run in one more
     * iteration. */
    for (struct client *c = clients.next; c != &clients; c = c->next)
        eddy_stream_close(c->s);
    for (int i = 0; i < 10 && clients.next != &clients; i++)
        eddy_loop_run_once(loop, 0);
    eddy_loop_close(loop, 0);
    eddy_tls_ctx_free(tls);
    return err == 0 ? 0 : 1;
}
