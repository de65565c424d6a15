/*
 * examples/tls_echo.c - examples/echo.c over TLS: every line a client
 * sends comes back, encrypted.  The TCP server hands out each accepted
 * connection as a stream, and one call turns TLS on for it:
 * eddy_stream_start_tls().
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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (64 * 1024)
#define HANDSHAKE_MS 10000

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    (void)arg;
    if (status != 0)
        return; /* EOF or an error: the stream closes by itself */
    if (eddy_stream_write(s, data, len, NULL, NULL) != 0 ||
        eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL) != 0)
        eddy_stream_close(s);
}

/* Reports what was negotiated; the first read was made at once, and
 * waited for the handshake. */
static void on_handshake(eddy_stream *s, int status, void *arg)
{
    (void)arg;
    if (status == 0)
        fprintf(stderr, "tls_echo: fd %d: %s, %s\n", eddy_stream_fd(s),
                eddy_stream_tls_version(s), eddy_stream_tls_cipher(s));
}

static void on_connection(eddy_tcp_server *srv, eddy_stream *s,
                          const struct sockaddr *peer, socklen_t peer_len,
                          void *arg)
{
    eddy_tls_ctx *tls = arg;

    (void)srv;
    (void)peer;
    (void)peer_len;
    if (eddy_stream_start_tls(s, tls, NULL, HANDSHAKE_MS, on_handshake, NULL) !=
            0 ||
        eddy_stream_read_until(s, "\n", 1, MAX_LINE, on_line, NULL) != 0)
        eddy_stream_close(s);
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
    int port = 8890, err;
    eddy_tcp_server *srv;
    eddy_tls_ctx *tls;
    eddy_loop *loop;

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
    if ((err = eddy_loop_new(&loop)) != 0 ||
        (err = eddy_tcp_server_new(loop, NULL, on_connection, tls, &srv)) !=
            0) {
        fprintf(stderr, "tls_echo: %s\n", eddy_strerror(err));
        return 1;
    }
    eddy_loop_set_log(loop, on_log, NULL);
    if ((err = eddy_tcp_server_listen(srv, port, address)) != 0) {
        fprintf(stderr, "tls_echo: cannot listen on %s:%d: %s\n", address, port,
                eddy_strerror(err));
        return 1;
    }
    if ((err = eddy_loop_add_signal(loop, SIGINT, on_signal, srv)) != 0 ||
        (err = eddy_loop_add_signal(loop, SIGTERM, on_signal, srv)) != 0) {
        fprintf(stderr, "tls_echo: signals: %s\n", eddy_strerror(err));
        return 1;
    }
    printf("tls_echo: listening on %s:%d (%s)\n", address,
           eddy_tcp_server_port(srv), eddy_tls_library());
    fflush(stdout);
    err = eddy_loop_run(loop);
    /* Every connection is gone (close_notify sent) once the shutdown is
     * done; the streams held the context, the last reference is ours. */
    eddy_tcp_server_free(srv);
    eddy_loop_close(loop, 0);
    eddy_tls_ctx_free(tls);
    return err == 0 ? 0 : 1;
}
