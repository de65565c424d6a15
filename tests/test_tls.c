/*
 * tests/test_tls.c - TLS streams (include/eddy/tls.h): both roles in one
 * process over socketpairs, and against independent TLS stacks run as
 * child processes (openssl s_client and s_server, curl, gnutls-cli);
 * contexts and their errors; verification (wrong host, unknown CA,
 * expired, client certificates); SNI, ALPN, versions, resumption;
 * STARTTLS with bytes already buffered; the traps (plaintext held inside
 * OpenSSL, SIGPIPE, close_notify and truncation, writes that must be
 * retried); a fault hook that makes the socket's reads and writes fail at
 * random (fixed seeds) while megabytes go both ways; bad peers (garbage,
 * plaintext HTTP, silence, a hello cut short); memory per idle connection.
 *
 * The certificates are made for each run by tests/certs.sh (ECDSA P-256)
 * into a temporary directory, removed at the end.  Built with TLS=none,
 * every test that needs TLS is skipped, and one checks that the API says
 * -ENOTSUP.  SIGPIPE keeps its default disposition: a stray one kills the
 * suite.  Every wait is on the loop (or on poll(2) for a child process),
 * bounded in iterations and time; under valgrind the counts shrink
 * (tu_valgrind()), never the bounds.
 */
#include "testutil.h"

#include "eddy/tls.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define RUN_MS 20000     /* the bound on any one wait */
#define RUN_ITER 2000000 /* and on its loop iterations */

/* The hidden test hook of iostream/tls.c (transport.h). */
int eddy__stream_tls_faults(eddy_stream *s, uint64_t seed, unsigned percent,
                            unsigned long counts[3]);

static char certs[64]; /* the directory tests/certs.sh filled */

#define CERT(name) cert_path(name, (char[160]){0})

static char *cert_path(const char *name, char *buf)
{
    snprintf(buf, 160, "%s/%s", certs, name);
    return buf;
}

static void need_tls(void)
{
    if (eddy_tls_library() == NULL)
        skip(); /* built with TLS=none */
}

/* --- one end of a connection ------------------------------------------- */

typedef struct end {
    eddy_loop *loop;
    eddy_stream *s; /* NULL once its close callback ran */
    int hs_calls, hs_status;
    int closes, close_status;
    char *got; /* every byte read */
    size_t got_len, got_cap;
    int reads, read_status, read_done;
    int echo; /* read lines and write them back */
    int close_after_echo;
    size_t line_max;
    tu_log log;
} end;

static void got_append(end *e, const char *p, size_t n)
{
    if (e->got_len + n > e->got_cap) {
        e->got_cap = (e->got_len + n) * 2 + 256;
        e->got = realloc(e->got, e->got_cap);
        assert_non_null(e->got);
    }
    if (n > 0)
        memcpy(e->got + e->got_len, p, n);
    e->got_len += n;
}

static void on_hs(eddy_stream *s, int status, void *arg)
{
    end *e = arg;

    (void)s;
    e->hs_calls++;
    e->hs_status = status;
}

static void on_close(eddy_stream *s, int status, void *arg)
{
    end *e = arg;

    assert_int_equal(status, eddy_stream_error(s));
    e->closes++;
    e->close_status = status;
    e->s = NULL;
}

static void end_init(end *e, eddy_loop *loop, eddy_stream *s)
{
    memset(e, 0, sizeof *e);
    e->loop = loop;
    e->s = s;
    eddy_stream_set_close_callback(s, on_close, e);
}

static void end_free(end *e)
{
    free(e->got);
    e->got = NULL;
}

/* A stream over each end of a socketpair, TLS started on both: server
 * with sctx, client with cctx and name. */
static void tls_pair(eddy_loop *loop, eddy_tls_ctx *sctx, eddy_tls_ctx *cctx,
                     const char *name, end *srv, end *cli)
{
    int sv[2];
    eddy_stream *a, *b;

    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &a), 0);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &b), 0);
    end_init(srv, loop, a);
    end_init(cli, loop, b);
    assert_int_equal(eddy_stream_start_tls(a, sctx, NULL, 0, on_hs, srv), 0);
    assert_int_equal(eddy_stream_start_tls(b, cctx, name, 0, on_hs, cli), 0);
}

typedef struct two {
    end *a, *b;
} two;

static int both_shook(void *arg)
{
    two *t = arg;

    return t->a->hs_calls > 0 && t->b->hs_calls > 0;
}

static int both_closed(void *arg)
{
    two *t = arg;

    return t->a->closes > 0 && t->b->closes > 0;
}

static void run_handshake(end *a, end *b)
{
    two t = {a, b};

    assert_true(tu_run_until(a->loop, both_shook, &t, RUN_ITER, RUN_MS));
}

/* Every stream is closed: the loop must hold no handler and no timer
 * (a handshake's timeout was removed) any more. */
static void loop_finish(eddy_loop *loop)
{
    eddy_loop_stats st;

    assert_int_equal(eddy_loop_run_once(loop, 0), 0);
    eddy_loop_get_stats(loop, &st);
    assert_int_equal(st.handlers, 0);
    assert_int_equal(st.timers, 0);
    eddy_loop_close(loop, 0);
}

/* Closes what is open, runs the loop until every close callback ran, and
 * closes the loop. */
static void finish(eddy_loop *loop, end *a, end *b)
{
    two t = {a, b};

    if (a->s != NULL)
        eddy_stream_close(a->s);
    if (b->s != NULL)
        eddy_stream_close(b->s);
    assert_true(tu_run_until(loop, both_closed, &t, RUN_ITER, RUN_MS));
    loop_finish(loop);
    end_free(a);
    end_free(b);
}

static eddy_tls_ctx *server_ctx(const char *name)
{
    eddy_tls_ctx *ctx;
    char crt[160], key[160];

    snprintf(crt, sizeof crt, "%s/%s.pem", certs, name);
    snprintf(key, sizeof key, "%s/%s.key", certs, name);
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_SERVER, &ctx), 0);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, crt, key), 0);
    return ctx;
}

static eddy_tls_ctx *client_ctx(void)
{
    eddy_tls_ctx *ctx;

    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx), 0);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, CERT("ca.pem"), NULL), 0);
    return ctx;
}

/* --- reading and writing ----------------------------------------------- */

/* Reads whatever comes, into e->got, until the stream closes. */
static void on_any(eddy_stream *s, int status, const char *data, size_t len,
                   void *arg)
{
    end *e = arg;

    e->reads++;
    e->read_status = status;
    got_append(e, data, len);
    if (status == 0)
        eddy_stream_read_bytes(s, 65536, 1, on_any, e);
    else
        e->read_done = 1;
}

static void read_any(end *e)
{
    assert_int_equal(eddy_stream_read_bytes(e->s, 65536, 1, on_any, e), 0);
}

static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg);

static void on_echoed(eddy_stream *s, int status, void *arg)
{
    end *e = arg;

    if (status == 0 && e->close_after_echo)
        eddy_stream_close(s);
}

/* An echo: every line comes back (then, close_after_echo, a close). */
static void on_line(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    end *e = arg;

    e->reads++;
    e->read_status = status;
    got_append(e, data, len);
    if (status != 0)
        return;
    assert_int_equal(eddy_stream_write(s, data, len, on_echoed, e), 0);
    if (!e->close_after_echo)
        assert_int_equal(
            eddy_stream_read_until(s, "\n", 1, e->line_max, on_line, e), 0);
}

static void start_echo(end *e)
{
    e->echo = 1;
    assert_int_equal(
        eddy_stream_read_until(e->s, "\n", 1, e->line_max, on_line, e), 0);
}

typedef struct has {
    end *e;
    size_t n;
} has;

static int has_bytes(void *arg)
{
    has *h = arg;

    return h->e->got_len >= h->n || h->e->closes > 0;
}

static void wait_bytes(end *e, size_t n)
{
    has h = {e, n};

    assert_true(tu_run_until(e->loop, has_bytes, &h, RUN_ITER, RUN_MS));
    assert_true(e->got_len >= n);
}

static int closed(void *arg)
{
    return ((end *)arg)->closes > 0;
}

static void wait_closed(end *e)
{
    assert_true(tu_run_until(e->loop, closed, e, RUN_ITER, RUN_MS));
}

/* --- the certificates -------------------------------------------------- */

static int group_setup(void **state)
{
    char cmd[256];

    (void)state;
    if (eddy_tls_library() == NULL)
        return 0;
    snprintf(certs, sizeof certs, "/tmp/eddy-tls-XXXXXX");
    if (mkdtemp(certs) == NULL)
        return -1;
    snprintf(cmd, sizeof cmd, "sh tests/certs.sh %s >/dev/null 2>&1", certs);
    if (system(cmd) != 0) {
        fprintf(stderr, "tests/certs.sh failed (run from the repository's "
                        "root, with the openssl command)\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[256];

    (void)state;
    if (certs[0] != '\0') {
        snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
        return system(cmd) == 0 ? 0 : -1;
    }
    return 0;
}

/* --- in one process ---------------------------------------------------- */

static void test_handshake_and_echo(void **state)
{
    eddy_loop *loop;
    eddy_tls_ctx *sctx, *cctx;
    end srv, cli;
    char subject[128];

    (void)state;
    need_tls();
    loop = tu_loop_new();
    sctx = server_ctx("server");
    cctx = client_ctx();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    /* The streams keep the contexts alive. */
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
    /* Before the handshake: nothing to tell. */
    assert_null(eddy_stream_tls_version(cli.s));
    assert_int_equal(eddy_stream_tls_peer_subject(cli.s, subject, 8),
                     -ENOTCONN);
    run_handshake(&srv, &cli);
    assert_int_equal(srv.hs_status, 0);
    assert_int_equal(cli.hs_status, 0);
    assert_string_equal(eddy_stream_tls_version(cli.s), "TLSv1.3");
    assert_string_equal(eddy_stream_tls_version(srv.s), "TLSv1.3");
    assert_non_null(eddy_stream_tls_cipher(cli.s));
    assert_string_equal(eddy_stream_tls_cipher(cli.s),
                        eddy_stream_tls_cipher(srv.s));
    assert_null(eddy_stream_tls_alpn(cli.s));
    assert_string_equal(eddy_stream_tls_server_name(srv.s), "localhost");
    assert_string_equal(eddy_stream_tls_server_name(cli.s), "localhost");
    assert_false(eddy_stream_tls_resumed(cli.s));
    assert_null(eddy_stream_tls_verify_error(cli.s));
    assert_int_equal(
        eddy_stream_tls_peer_subject(cli.s, subject, sizeof subject), 0);
    assert_string_equal(subject, "CN=localhost");
    assert_int_equal(
        eddy_stream_tls_peer_subject(srv.s, subject, sizeof subject), -ENOENT);
    assert_int_equal(eddy_stream_tls_peer_subject(cli.s, subject, 0), -EINVAL);
    assert_int_equal(eddy_stream_tls_peer_subject(cli.s, subject, 4), 0);
    assert_string_equal(subject, "CN=");

    start_echo(&srv);
    read_any(&cli);
    assert_int_equal(eddy_stream_write(cli.s, "hello\n", 6, NULL, NULL), 0);
    wait_bytes(&cli, 6);
    assert_memory_equal(cli.got, "hello\n", 6);
    /* The client closes: close_notify, and the server's read ends with
     * a clean EDDY_EOF, not a truncation. */
    eddy_stream_close(cli.s);
    wait_closed(&srv);
    assert_int_equal(srv.read_status, EDDY_EOF);
    assert_int_equal(srv.close_status, EDDY_EOF);
    finish(loop, &srv, &cli);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_handshake_and_echo),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
