/*
 * tests/test_tls.c - TLS streams (include/eddy/tls.h): both roles in one
 * process over socketpairs, and against independent TLS stacks run as
 * child processes (openssl s_client and s_server, curl, gnutls-cli:
 * resumption, a key update, a renegotiation refused as they see them);
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
 * suite.  Every wait is on the loop (a child's output too), bounded in
 * iterations and time; under valgrind the counts shrink (tu_valgrind()),
 * never the bounds.  TU_FILTER=name runs one test; TU_SEEDS=n runs the
 * fault test with n seeds.
 */
#include "testutil.h"

#include "tlsutil.h"

#include "eddy/tcp.h"
#include "eddy/tls.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
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
    size_t expect; /* read_any() stops after this many bytes (0: never) */
    int echo;      /* read lines and write them back */
    int close_after_echo;
    void *user;
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
    if (status == 0 && (e->expect == 0 || e->got_len < e->expect))
        assert_int_equal(eddy_stream_read_bytes(s, 65536, 1, on_any, e), 0);
    else
        e->read_done = 1;
}

static void read_any(end *e)
{
    e->read_done = 0;
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

/* One line, stored. */
static void on_line_got(eddy_stream *s, int status, const char *data,
                        size_t len, void *arg)
{
    end *e = arg;

    (void)s;
    e->reads++;
    e->read_status = status;
    got_append(e, data, len);
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

static int flushed(void *arg)
{
    return eddy_stream_write_buffered(arg) == 0;
}

/* Runs the loop until s sent everything it has queued. */
static void wait_flushed(eddy_loop *loop, eddy_stream *s)
{
    assert_true(tu_run_until(loop, flushed, s, RUN_ITER, RUN_MS));
}

static int not_reading(void *arg)
{
    return !eddy_stream_reading(arg);
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
    (void)state;
    return tu_certs_make(certs, sizeof certs, "/tmp/eddy-tls-XXXXXX");
}

static int group_teardown(void **state)
{
    (void)state;
    return tu_certs_remove(certs);
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

/* --- what the loop logged ---------------------------------------------- */

typedef struct logbuf {
    char text[16384];
    size_t len;
} logbuf;

static void log_fn(void *arg, int level, const char *msg)
{
    logbuf *b = arg;
    int n;

    (void)level;
    n = snprintf(b->text + b->len, sizeof b->text - b->len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof b->text - b->len)
        b->len += (size_t)n;
    if (getenv("TU_LOG") != NULL)
        fprintf(stderr, "[log %d] %s\n", level, msg);
}

static eddy_loop *logged_loop(logbuf *b)
{
    eddy_loop *loop = tu_loop_new();

    memset(b, 0, sizeof *b);
    eddy_loop_set_log(loop, log_fn, b);
    return loop;
}

/* --- handshakes that must fail ------------------------------------------ */

typedef struct outcome {
    int cli_hs, cli_close, srv_hs, srv_close;
    char cli_why[128]; /* eddy_stream_tls_verify_error() in the callback */
    logbuf log;
} outcome;

static outcome *cur_outcome;

static void on_hs_why(eddy_stream *s, int status, void *arg)
{
    const char *why = eddy_stream_tls_verify_error(s);

    on_hs(s, status, arg);
    if (why != NULL)
        snprintf(cur_outcome->cli_why, sizeof cur_outcome->cli_why, "%s", why);
}

/* Runs a handshake between sctx and cctx (name) to its end: both streams
 * closed, or both handshakes done (and then closed by us). */
static void shake(eddy_tls_ctx *sctx, eddy_tls_ctx *cctx, const char *name,
                  outcome *o)
{
    eddy_loop *loop = logged_loop(&o->log);
    end srv, cli;
    int sv[2];
    eddy_stream *a, *b;
    two t = {&srv, &cli};

    cur_outcome = o;
    o->cli_why[0] = '\0';
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &a), 0);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &b), 0);
    end_init(&srv, loop, a);
    end_init(&cli, loop, b);
    assert_int_equal(eddy_stream_start_tls(a, sctx, NULL, 0, on_hs, &srv), 0);
    assert_int_equal(eddy_stream_start_tls(b, cctx, name, 0, on_hs_why, &cli),
                     0);
    /* Each side reads, so that an alert after its handshake reaches it. */
    assert_true(tu_run_until(loop, both_shook, &t, RUN_ITER, RUN_MS));
    if (srv.s != NULL && srv.hs_status == 0)
        read_any(&srv);
    if (cli.s != NULL && cli.hs_status == 0)
        read_any(&cli);
    /* A failure on one side closes the other too, soon. */
    if (srv.hs_status != 0 || cli.hs_status != 0)
        assert_true(tu_run_until(loop, both_closed, &t, RUN_ITER, RUN_MS));
    o->cli_hs = cli.hs_status;
    o->srv_hs = srv.hs_status;
    finish(loop, &srv, &cli);
    o->cli_close = cli.close_status;
    o->srv_close = srv.close_status;
}

static void test_verify_failures(void **state)
{
    static const struct {
        const char *cert, *name, *why;
    } cases[] = {
        {"other", "localhost", "hostname mismatch"},
        {"rogue", "localhost", "self-signed certificate"},
        {"expired", "localhost", "certificate has expired"},
        {"server", "127.0.0.2", "IP address mismatch"},
    };
    eddy_tls_ctx *cctx;
    outcome o;

    (void)state;
    need_tls();
    cctx = client_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eddy_tls_ctx *sctx = server_ctx(cases[i].cert);

        shake(sctx, cctx, cases[i].name, &o);
        assert_int_equal(o.cli_hs, EDDY_TLS_VERIFY);
        assert_int_equal(o.cli_close, EDDY_TLS_VERIFY);
        assert_non_null(strstr(o.cli_why, cases[i].why));
        /* The server hears the client's alert: its handshake failed. */
        assert_int_equal(o.srv_hs, EDDY_TLS_HANDSHAKE);
        assert_int_equal(o.srv_close, EDDY_TLS_HANDSHAKE);
        /* One line each, naming OpenSSL's reason. */
        assert_non_null(strstr(o.log.text, cases[i].why));
        assert_non_null(strstr(o.log.text, "certificate verify failed"));
        assert_non_null(strstr(o.log.text, "alert"));
        eddy_tls_ctx_free(sctx);
    }
    eddy_tls_ctx_free(cctx);
}

static void test_verify_ip_and_none(void **state)
{
    eddy_tls_ctx *sctx, *cctx, *lax;
    outcome o;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    /* An IP address is checked against the certificate's IP SAN. */
    shake(sctx, cctx, "127.0.0.1", &o);
    assert_int_equal(o.cli_hs, 0);
    assert_int_equal(o.srv_hs, 0);
    eddy_tls_ctx_free(sctx);
    /* A client that does not verify takes a self-signed certificate,
     * and still says what verification would have found. */
    sctx = server_ctx("rogue");
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &lax), 0);
    assert_int_equal(eddy_tls_ctx_set_verify(lax, EDDY_TLS_VERIFY_NONE), 0);
    shake(sctx, lax, NULL, &o);
    assert_int_equal(o.cli_hs, 0);
    assert_int_equal(o.srv_hs, 0);
    assert_non_null(strstr(o.cli_why, "self-signed"));
    eddy_tls_ctx_free(lax);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

static eddy_tls_ctx *mtls_server(int mode)
{
    eddy_tls_ctx *ctx = server_ctx("server");

    assert_int_equal(eddy_tls_ctx_load_verify(ctx, CERT("ca.pem"), NULL), 0);
    assert_int_equal(eddy_tls_ctx_set_verify(ctx, mode), 0);
    return ctx;
}

/* What the server saw in its handshake callback. */
static char mtls_subject[128];
static int mtls_subject_rc;
static const char *mtls_why;

static void on_hs_subject(eddy_stream *s, int status, void *arg)
{
    on_hs(s, status, arg);
    mtls_subject_rc =
        eddy_stream_tls_peer_subject(s, mtls_subject, sizeof mtls_subject);
    mtls_why = eddy_stream_tls_verify_error(s);
}

static void mtls_run(eddy_tls_ctx *sctx, eddy_tls_ctx *cctx, end *srv, end *cli,
                     eddy_loop *loop)
{
    int sv[2];
    eddy_stream *a, *b;

    mtls_subject[0] = '\0';
    mtls_subject_rc = 1;
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &a), 0);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &b), 0);
    end_init(srv, loop, a);
    end_init(cli, loop, b);
    assert_int_equal(
        eddy_stream_start_tls(a, sctx, NULL, 0, on_hs_subject, srv), 0);
    assert_int_equal(eddy_stream_start_tls(b, cctx, "localhost", 0, on_hs, cli),
                     0);
    run_handshake(srv, cli);
}

static void test_client_certificates(void **state)
{
    eddy_tls_ctx *req, *opt, *with, *without;
    eddy_loop *loop;
    logbuf log;
    end srv, cli;

    (void)state;
    need_tls();
    req = mtls_server(EDDY_TLS_VERIFY_REQUIRED);
    opt = mtls_server(EDDY_TLS_VERIFY_OPTIONAL);
    with = client_ctx();
    assert_int_equal(eddy_tls_ctx_load_cert_chain(with, CERT("client.pem"),
                                                  CERT("client.key")),
                     0);
    without = client_ctx();

    /* Required, and given. */
    loop = logged_loop(&log);
    mtls_run(req, with, &srv, &cli, loop);
    assert_int_equal(srv.hs_status, 0);
    assert_int_equal(cli.hs_status, 0);
    assert_int_equal(mtls_subject_rc, 0);
    assert_string_equal(mtls_subject, "CN=eddy client,O=eddy");
    assert_null(mtls_why);
    finish(loop, &srv, &cli);

    /* Required, and missing: the server refuses it; the client, whose
     * TLS 1.3 handshake was done, hears of it at its next read. */
    loop = logged_loop(&log);
    mtls_run(req, without, &srv, &cli, loop);
    assert_int_equal(srv.hs_status, EDDY_TLS_VERIFY);
    assert_int_equal(srv.close_status, EDDY_TLS_VERIFY);
    assert_int_equal(cli.hs_status, 0);
    read_any(&cli);
    wait_closed(&cli);
    assert_int_equal(cli.read_status, EDDY_TLS_PROTOCOL);
    assert_int_equal(cli.close_status, EDDY_TLS_PROTOCOL);
    assert_non_null(strstr(log.text, "peer did not return a certificate"));
    assert_non_null(strstr(log.text, "certificate required"));
    finish(loop, &srv, &cli);

    /* Optional: a client without one is let in, and has no subject. */
    loop = logged_loop(&log);
    mtls_run(opt, without, &srv, &cli, loop);
    assert_int_equal(srv.hs_status, 0);
    assert_int_equal(mtls_subject_rc, -ENOENT);
    finish(loop, &srv, &cli);

    /* A client certificate from a CA the server does not trust. */
    assert_int_equal(eddy_tls_ctx_load_cert_chain(without, CERT("rogue.pem"),
                                                  CERT("rogue.key")),
                     0);
    loop = logged_loop(&log);
    mtls_run(opt, without, &srv, &cli, loop);
    assert_int_equal(srv.hs_status, EDDY_TLS_VERIFY);
    assert_int_equal(mtls_subject_rc, -ENOTCONN);
    assert_non_null(mtls_why);
    assert_non_null(strstr(mtls_why, "self-signed"));
    finish(loop, &srv, &cli);

    eddy_tls_ctx_free(req);
    eddy_tls_ctx_free(opt);
    eddy_tls_ctx_free(with);
    eddy_tls_ctx_free(without);
}

static void test_alpn(void **state)
{
    static const char *const client_protos[] = {"h2", "http/1.1"};
    static const char *const server_protos[] = {"http/1.1", "h2"};
    static const char *const other[] = {"x-other"};
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;
    outcome o;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    /* Without ALPN on the client, the server's list changes nothing. */
    assert_int_equal(eddy_tls_ctx_set_alpn(sctx, server_protos, 2), 0);
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_null(eddy_stream_tls_alpn(srv.s));
    finish(loop, &srv, &cli);
    /* The server's preference wins among the protocols both have. */
    assert_int_equal(eddy_tls_ctx_set_alpn(cctx, client_protos, 2), 0);
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_string_equal(eddy_stream_tls_alpn(srv.s), "http/1.1");
    assert_string_equal(eddy_stream_tls_alpn(cli.s), "http/1.1");
    finish(loop, &srv, &cli);
    /* None in common: refused (RFC 7301, no_application_protocol). */
    assert_int_equal(eddy_tls_ctx_set_alpn(sctx, other, 1), 0);
    shake(sctx, cctx, "localhost", &o);
    assert_int_equal(o.srv_hs, EDDY_TLS_HANDSHAKE);
    assert_int_equal(o.cli_hs, EDDY_TLS_HANDSHAKE);
    assert_non_null(strstr(o.log.text, "no application protocol"));
    /* Turned off again. */
    assert_int_equal(eddy_tls_ctx_set_alpn(sctx, NULL, 0), 0);
    shake(sctx, cctx, "localhost", &o);
    assert_int_equal(o.srv_hs, 0);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

static eddy_tls_ctx *sni_other;
static int sni_calls;
static char sni_seen[64];

static eddy_tls_ctx *pick(const char *name, void *arg)
{
    (void)arg;
    sni_calls++;
    snprintf(sni_seen, sizeof sni_seen, "%s", name);
    return strcmp(name, "other.example") == 0 ? sni_other : NULL;
}

static void test_sni(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;
    char subject[64];

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    sni_other = server_ctx("other");
    cctx = client_ctx();
    assert_int_equal(eddy_tls_ctx_set_sni_callback(sctx, pick, NULL), 0);
    assert_int_equal(eddy_tls_ctx_set_sni_callback(cctx, pick, NULL), -EINVAL);
    /* The name the callback knows: the other certificate. */
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "other.example", &srv, &cli);
    run_handshake(&srv, &cli);
    /* The server's stream keeps the context the callback chose. */
    eddy_tls_ctx_free(sni_other);
    sni_other = NULL;
    assert_int_equal(cli.hs_status, 0);
    assert_int_equal(sni_calls, 1);
    assert_string_equal(sni_seen, "other.example");
    assert_string_equal(eddy_stream_tls_server_name(srv.s), "other.example");
    assert_int_equal(
        eddy_stream_tls_peer_subject(cli.s, subject, sizeof subject), 0);
    assert_string_equal(subject, "CN=other.example");
    finish(loop, &srv, &cli);
    /* Another name: the context the stream started with. */
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_int_equal(cli.hs_status, 0);
    assert_int_equal(sni_calls, 2);
    assert_int_equal(
        eddy_stream_tls_peer_subject(cli.s, subject, sizeof subject), 0);
    assert_string_equal(subject, "CN=localhost");
    finish(loop, &srv, &cli);
    /* An IP address is not sent as SNI: no callback. */
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "127.0.0.1", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_int_equal(cli.hs_status, 0);
    assert_int_equal(sni_calls, 2);
    assert_null(eddy_stream_tls_server_name(srv.s));
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

static void test_versions_and_ciphers(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;
    outcome o;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    assert_int_equal(eddy_tls_ctx_set_versions(sctx, 0, EDDY_TLS_1_2), 0);
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_string_equal(eddy_stream_tls_version(cli.s), "TLSv1.2");
    finish(loop, &srv, &cli);
    /* A client that wants 1.3 only, a server that stops at 1.2. */
    assert_int_equal(eddy_tls_ctx_set_versions(cctx, EDDY_TLS_1_3, 0), 0);
    shake(sctx, cctx, "localhost", &o);
    assert_int_equal(o.cli_hs, EDDY_TLS_HANDSHAKE);
    assert_int_equal(o.srv_hs, EDDY_TLS_HANDSHAKE);
    assert_non_null(strstr(o.log.text, "protocol version"));
    assert_int_equal(eddy_tls_ctx_set_versions(sctx, 0, 0), 0);
    /* TLS 1.3 suites. */
    assert_int_equal(
        eddy_tls_ctx_set_ciphers(sctx, NULL, "TLS_CHACHA20_POLY1305_SHA256"),
        0);
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_string_equal(eddy_stream_tls_cipher(srv.s),
                        "TLS_CHACHA20_POLY1305_SHA256");
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* Three connections from one client context: the later ones resume. */
static void resume_twice(eddy_tls_ctx *sctx, eddy_tls_ctx *cctx,
                         const char *version)
{
    for (int i = 0; i < 3; i++) {
        eddy_loop *loop = tu_loop_new();
        end srv, cli;

        tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
        run_handshake(&srv, &cli);
        assert_int_equal(cli.hs_status, 0);
        assert_string_equal(eddy_stream_tls_version(cli.s), version);
        assert_int_equal(eddy_stream_tls_resumed(cli.s), i > 0);
        assert_int_equal(eddy_stream_tls_resumed(srv.s), i > 0);
        /* A TLS 1.3 ticket comes after the handshake: read it. */
        start_echo(&srv);
        read_any(&cli);
        assert_int_equal(eddy_stream_write(cli.s, "x\n", 2, NULL, NULL), 0);
        wait_bytes(&cli, 2);
        finish(loop, &srv, &cli);
    }
}

static void test_resumption(void **state)
{
    eddy_tls_ctx *sctx, *cctx;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    /* A TLS 1.3 ticket is used once: each connection brings the next
     * one's. */
    resume_twice(sctx, cctx, "TLSv1.3");
    eddy_tls_ctx_free(cctx);
    cctx = client_ctx();
    assert_int_equal(eddy_tls_ctx_set_versions(sctx, 0, EDDY_TLS_1_2), 0);
    resume_twice(sctx, cctx, "TLSv1.2");
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* --- contexts: every error, and then what the caller may do ------------ */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_ctx_errors(void **state)
{
    static const char *const empty[] = {""};
    eddy_tls_ctx *ctx;
    char cmd[512];

    (void)state;
    need_tls();
    assert_int_equal(eddy_tls_ctx_new(0, &ctx), -EINVAL);
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_SERVER, &ctx), 0);
    assert_string_equal(eddy_tls_ctx_error(ctx), "");
    eddy_tls_ctx_free(NULL);

    /* A missing file, either one: -ENOENT, and the detail names it. */
    assert_int_equal(
        eddy_tls_ctx_load_cert_chain(ctx, CERT("nope.pem"), CERT("server.key")),
        -ENOENT);
    assert_non_null(strstr(eddy_tls_ctx_error(ctx), "nope.pem"));
    assert_int_equal(
        eddy_tls_ctx_load_cert_chain(ctx, CERT("server.pem"), CERT("nope.key")),
        -ENOENT);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, NULL, NULL), -EINVAL);
    /* Not PEM. */
    write_file(CERT("garbage.pem"), "this is not a certificate\n");
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, CERT("garbage.pem"),
                                                  CERT("server.key")),
                     EDDY_TLS_BAD_PEM);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, CERT("server.pem"),
                                                  CERT("garbage.pem")),
                     EDDY_TLS_BAD_PEM);
    assert_string_equal(eddy_strerror(EDDY_TLS_BAD_PEM),
                        "no usable PEM data (TLS certificate, key or CA file)");
    /* A key behind a passphrase is refused, never asked for. */
    snprintf(cmd, sizeof cmd,
             "openssl pkey -in %s -aes128 -passout pass:x -out %s 2>/dev/null",
             CERT("server.key"), CERT("locked.key"));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, CERT("server.pem"),
                                                  CERT("locked.key")),
                     EDDY_TLS_BAD_PEM);
    /* The key of another certificate. */
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, CERT("server.pem"),
                                                  CERT("other.key")),
                     EDDY_TLS_KEY_MISMATCH);
    assert_non_null(strstr(eddy_tls_ctx_error(ctx), "does not match"));
    assert_string_equal(eddy_strerror(EDDY_TLS_KEY_MISMATCH),
                        "TLS private key does not match the certificate");
    /* Fixed, it loads; and a file that holds both works too. */
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, CERT("server.pem"),
                                                  CERT("server.key")),
                     0);
    snprintf(cmd, sizeof cmd, "cat %s %s > %s", CERT("other.pem"),
             CERT("other.key"), CERT("both.pem"));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, CERT("both.pem"), NULL),
                     0);

    /* CAs. */
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, NULL, NULL), -EINVAL);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, CERT("nope.pem"), NULL),
                     -ENOENT);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, NULL, CERT("nope.d")),
                     -ENOENT);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, CERT("garbage.pem"), NULL),
                     EDDY_TLS_BAD_PEM);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, CERT("ca.pem"), NULL), 0);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, NULL, certs), 0);

    /* Settings. */
    assert_int_equal(eddy_tls_ctx_set_verify(ctx, 7), -EINVAL);
    assert_int_equal(eddy_tls_ctx_set_alpn(ctx, empty, 1), -EINVAL);
    assert_int_equal(eddy_tls_ctx_set_versions(ctx, 0x0200, 0), -EINVAL);
    assert_int_equal(eddy_tls_ctx_set_versions(ctx, EDDY_TLS_1_3, EDDY_TLS_1_2),
                     -EINVAL);
    assert_int_equal(eddy_tls_ctx_set_ciphers(ctx, "NOTHING-AT-ALL", NULL),
                     -EINVAL);
    assert_int_equal(eddy_tls_ctx_set_ciphers(ctx, NULL, "TLS_NO_SUCH"),
                     -EINVAL);
    eddy_tls_ctx_free(ctx);

    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_CLIENT, &ctx), 0);
    assert_int_equal(eddy_tls_ctx_set_verify(ctx, EDDY_TLS_VERIFY_OPTIONAL),
                     -EINVAL);
    eddy_tls_ctx_free(ctx);
}

/* --- starting TLS: every refusal leaves the stream as it was ----------- */

static void on_nothing(eddy_stream *s, int status, const char *data, size_t len,
                       void *arg)
{
    (void)s, (void)status, (void)data, (void)len, (void)arg;
}

static int start_in_close_rc = 1;
static eddy_tls_ctx *start_in_close_ctx;

static void on_close_start(eddy_stream *s, int status, void *arg)
{
    on_close(s, status, arg);
    start_in_close_rc =
        eddy_stream_start_tls(s, start_in_close_ctx, NULL, 0, NULL, NULL);
}

static void test_start_tls_errors(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    eddy_stream *p;
    end srv, cli, pe;
    int sv[2], pp[2];

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    loop = tu_loop_new();
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &srv.s), 0);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &cli.s), 0);
    end_init(&srv, loop, srv.s);
    end_init(&cli, loop, cli.s);

    assert_int_equal(eddy_stream_start_tls(srv.s, NULL, NULL, 0, NULL, NULL),
                     -EINVAL);
    /* A verifying client needs a name to check. */
    assert_int_equal(eddy_stream_start_tls(cli.s, cctx, NULL, 0, NULL, NULL),
                     -EINVAL);
    assert_int_equal(eddy_stream_start_tls(cli.s, cctx, "", 0, NULL, NULL),
                     -EINVAL);
    /* Busy: a read pending, a write queued. */
    assert_int_equal(eddy_stream_read_bytes(srv.s, 1, 0, on_nothing, NULL), 0);
    assert_int_equal(eddy_stream_start_tls(srv.s, sctx, NULL, 0, NULL, NULL),
                     -EBUSY);
    assert_int_equal(eddy_stream_write(cli.s, "x", 1, NULL, NULL), 0);
    assert_int_equal(
        eddy_stream_start_tls(cli.s, cctx, "localhost", 0, NULL, NULL), -EBUSY);
    /* The plaintext still works: the byte arrives, and then TLS starts. */
    assert_true(tu_run_until(loop, not_reading, srv.s, RUN_ITER, RUN_MS));
    assert_int_equal(eddy_stream_start_tls(srv.s, sctx, NULL, 0, on_hs, &srv),
                     0);
    assert_int_equal(eddy_stream_start_tls(srv.s, sctx, NULL, 0, on_hs, &srv),
                     -EALREADY);
    assert_int_equal(
        eddy_stream_start_tls(cli.s, cctx, "localhost", 0, on_hs, &cli), 0);
    run_handshake(&srv, &cli);
    assert_int_equal(srv.hs_status, 0);
    assert_int_equal(cli.hs_status, 0);

    /* A pipe is no socket; a closed stream takes nothing. */
    tu_pipe(pp);
    assert_int_equal(eddy_stream_new_pair(loop, pp[0], pp[1], NULL, &p), 0);
    assert_int_equal(eddy_stream_start_tls(p, sctx, NULL, 0, NULL, NULL),
                     -ENOTSOCK);
    end_init(&pe, loop, p);
    start_in_close_ctx = sctx;
    eddy_stream_set_close_callback(p, on_close_start, &pe);
    eddy_stream_close(p);
    wait_closed(&pe);
    assert_int_equal(start_in_close_rc, -EPIPE);
    end_free(&pe);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* --- STARTTLS: bytes read in plaintext belong to the handshake --------- */

static void on_starttls_line(eddy_stream *s, int status, const char *data,
                             size_t len, void *arg)
{
    end *e = arg;

    assert_int_equal(status, 0);
    assert_int_equal(len, 10);
    assert_memory_equal(data, "STARTTLS\r\n", 10);
    /* The ClientHello came with the command, in the same read. */
    e->reads = (int)eddy_stream_read_buffered(s);
    assert_int_equal(
        eddy_stream_start_tls(s, (eddy_tls_ctx *)e->got, NULL, 0, on_hs, e), 0);
    e->got = NULL;
}

static void test_starttls_buffered(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;
    int sv[2], n = 0;
    eddy_stream *a, *b;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    loop = tu_loop_new();
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &a), 0);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &b), 0);
    end_init(&srv, loop, a);
    end_init(&cli, loop, b);
    /* No read on the server's side yet (a close callback keeps one). */
    eddy_stream_set_close_callback(a, NULL, NULL);
    /* The client sends the command and, at once, its ClientHello. */
    assert_int_equal(eddy_stream_write(b, "STARTTLS\r\n", 10, NULL, NULL), 0);
    wait_flushed(loop, b);
    assert_int_equal(
        eddy_stream_start_tls(b, cctx, "localhost", 0, on_hs, &cli), 0);
    for (int i = 0; i < 1000 && ioctl(sv[0], FIONREAD, &n) == 0 && n <= 10; i++)
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
    assert_true(n > 10);
    /* Only now the server reads the command, and with it the hello. */
    eddy_stream_set_close_callback(a, on_close, &srv);
    srv.got = (char *)sctx;
    assert_int_equal(
        eddy_stream_read_until(a, "\r\n", 2, 64, on_starttls_line, &srv), 0);
    run_handshake(&srv, &cli);
    assert_true(srv.reads > 10);
    assert_int_equal(srv.hs_status, 0);
    assert_int_equal(cli.hs_status, 0);
    srv.reads = 0;
    start_echo(&srv);
    read_any(&cli);
    assert_int_equal(eddy_stream_write(b, "after\n", 6, NULL, NULL), 0);
    wait_bytes(&cli, 6);
    assert_memory_equal(cli.got, "after\n", 6);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* --- bulk, both ways, with and without faults ---------------------------- */

#define PATTERN(i) ((char)('a' + (i) % 23 + (i) / 4099 % 3))

typedef struct pump {
    end *e;
    char *data; /* what this end sends */
    size_t len, queued;
    size_t chunk;
    int writes, write_errors;
} pump;

static void pump_more(pump *p);

static void on_pumped(eddy_stream *s, int status, void *arg)
{
    pump *p = arg;

    (void)s;
    if (status != 0) {
        p->write_errors++;
        return;
    }
    p->writes++;
    pump_more(p);
}

/* Keeps two writes in flight, of sizes that vary, some by reference and
 * some copied. */
static void pump_more(pump *p)
{
    while (p->e->s != NULL && p->queued < p->len &&
           eddy_stream_write_buffered(p->e->s) < 3 * p->chunk) {
        size_t n = p->chunk / 2 + (p->queued * 7919) % p->chunk;
        int (*w)(eddy_stream *, const void *, size_t, eddy_stream_cb, void *) =
            p->writes % 3 ? eddy_stream_write_ref : eddy_stream_write;

        if (n > p->len - p->queued)
            n = p->len - p->queued;
        assert_int_equal(w(p->e->s, p->data + p->queued, n, on_pumped, p), 0);
        p->queued += n;
    }
}

static int both_got(void *arg)
{
    pump **p = arg;

    return (p[0]->e->got_len >= p[1]->len || p[0]->e->closes) &&
           (p[1]->e->got_len >= p[0]->len || p[1]->e->closes);
}

static void bulk(end *a, end *b, size_t len, size_t chunk)
{
    pump pa = {a, malloc(len), len, 0, chunk, 0, 0};
    pump pb = {b, malloc(len), len, 0, chunk, 0, 0};
    pump *both[2] = {&pa, &pb};

    assert_non_null(pa.data);
    assert_non_null(pb.data);
    for (size_t i = 0; i < len; i++) {
        pa.data[i] = PATTERN(i);
        pb.data[i] = PATTERN(i + 1);
    }
    a->expect = b->expect = len;
    read_any(a);
    read_any(b);
    pump_more(&pa);
    pump_more(&pb);
    assert_true(tu_run_until(a->loop, both_got, both, RUN_ITER, RUN_MS));
    assert_int_equal(a->got_len, len);
    assert_int_equal(b->got_len, len);
    assert_memory_equal(a->got, pb.data, len);
    assert_memory_equal(b->got, pa.data, len);
    assert_int_equal(pa.write_errors + pb.write_errors, 0);
    assert_true(a->read_done && b->read_done);
    a->expect = b->expect = 0;
    free(pa.data);
    free(pb.data);
}

static void test_bulk_both_ways(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;
    size_t len = tu_valgrind() ? 256 << 10 : 4 << 20;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    bulk(&srv, &cli, len, 100000);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* A file queued between bytes goes out under TLS too, read with pread(2)
 * and written through TLS (sendfile(2) cannot encrypt), in order, also
 * with the transport's faults; a file truncated meanwhile closes the
 * stream (-ENODATA) before a byte that is not the file's. */
static void on_file_sent(eddy_stream *s, int status, void *arg)
{
    (void)s;
    *(int *)arg = status == 0 ? 1 : status;
}

static void test_sendfile(void **state)
{
    size_t len = tu_valgrind() ? 200000 : 3000000;
    char path[] = "/tmp/eddy-tls-file-XXXXXX", *data;
    int fd, sent = 0, cut = 0;
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;

    (void)state;
    need_tls(); /* first: a skip leaves nothing open */
    data = malloc(len);
    fd = mkstemp(path);
    assert_true(fd >= 0 && data != NULL);
    assert_int_equal(unlink(path), 0);
    for (size_t i = 0; i < len; i++)
        data[i] = PATTERN(i);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    sctx = server_ctx("server");
    cctx = client_ctx();
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_int_equal(eddy__stream_tls_faults(srv.s, 7, 20, NULL), 0);
    read_any(&cli);
    assert_int_equal(eddy_stream_write(srv.s, "<", 1, NULL, NULL), 0);
    assert_int_equal(eddy_stream_sendfile(srv.s, fd, 0, len, on_file_sent,
                                          &sent),
                     0);
    assert_int_equal(eddy_stream_write(srv.s, ">", 1, NULL, NULL), 0);
    wait_bytes(&cli, len + 2);
    assert_int_equal(cli.got_len, len + 2);
    assert_int_equal(cli.got[0], '<');
    assert_memory_equal(cli.got + 1, data, len);
    assert_int_equal(cli.got[len + 1], '>');
    assert_int_equal(sent, 1);
    /* Truncated to 100000 bytes while 3 MB are on their way. */
    cli.got_len = 0;
    assert_int_equal(eddy__stream_tls_faults(srv.s, 7, 0, NULL), 0);
    assert_int_equal(eddy_stream_sendfile(srv.s, fd, 0, len, on_file_sent,
                                          &cut),
                     0);
    assert_int_equal(ftruncate(fd, 100000), 0);
    assert_true(tu_run_until_count(loop, &srv.closes, 1, RUN_ITER, RUN_MS));
    assert_int_equal(srv.close_status, -ENODATA);
    assert_int_equal(cut, -ENODATA);
    assert_true(tu_run_until_count(loop, &cli.read_done, 1, RUN_ITER, RUN_MS));
    assert_true(cli.got_len <= 100000);
    assert_memory_equal(cli.got, data, cli.got_len);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
    close(fd);
    free(data);
}

/* Lines from the client, echoed by the server, with faults everywhere. */
static void small_messages(end *srv, end *cli, int count)
{
    size_t total = 0;
    char line[400];

    start_echo(srv);
    read_any(cli);
    for (int i = 0; i < count; i++) {
        size_t n = 1 + (size_t)(i * 37) % 300;

        for (size_t k = 0; k < n; k++)
            line[k] = PATTERN(i + k);
        line[n] = '\n';
        assert_int_equal(eddy_stream_write(cli->s, line, n + 1, NULL, NULL), 0);
        total += n + 1;
    }
    wait_bytes(cli, total);
    assert_int_equal(cli->got_len, total);
    assert_int_equal(srv->got_len, total);
    assert_memory_equal(cli->got, srv->got, total);
}

/* A few records that wait unread in the client's socket (a small total:
 * written in pieces of a few bytes, as the fault hook makes them, they
 * must still fit the socket's buffer). */
#define BACK 4096

/* One way while the other end's bytes wait unread: a write that finds
 * the socket readable, a read that finds it writable and nothing queued
 * (where the fault hook sends them to wait for the other direction). */
static void one_way(end *srv, end *cli, size_t len)
{
    char *back = malloc(BACK), *data = malloc(len);

    assert_non_null(back);
    assert_non_null(data);
    for (size_t i = 0; i < BACK; i++)
        back[i] = PATTERN(i + 3);
    for (size_t i = 0; i < len; i++)
        data[i] = PATTERN(i + 5);
    /* No close callback: it would keep a read outstanding. */
    eddy_stream_set_close_callback(cli->s, NULL, NULL);
    assert_int_equal(eddy_stream_write(srv->s, back, BACK, NULL, NULL), 0);
    wait_flushed(srv->loop, srv->s);
    srv->got_len = cli->got_len = 0;
    srv->expect = len;
    read_any(srv);
    assert_int_equal(eddy_stream_write_ref(cli->s, data, len, NULL, NULL), 0);
    wait_bytes(srv, len);
    assert_memory_equal(srv->got, data, len);
    eddy_stream_set_close_callback(cli->s, on_close, cli);
    cli->expect = BACK;
    read_any(cli);
    wait_bytes(cli, BACK);
    assert_memory_equal(cli->got, back, BACK);
    assert_true(srv->read_done && cli->read_done);
    srv->expect = cli->expect = 0;
    srv->got_len = cli->got_len = 0;
    free(back);
    free(data);
}

static void test_faults(void **state)
{
    static const uint64_t seeds[] = {1, 0x5eed, 0xdeadbeef};
    eddy_tls_ctx *sctx, *cctx;
    unsigned long sum[3] = {0, 0, 0};
    size_t len = tu_valgrind() ? 256 << 10 : 1 << 20;
    int count = tu_valgrind() ? 500 : 2000;
    size_t rounds = tu_valgrind() ? 1 : 3;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    if (getenv("TU_SEEDS") != NULL) /* a longer run: TU_SEEDS rounds */
        rounds = (size_t)atoi(getenv("TU_SEEDS"));
    for (size_t i = 0; i < rounds; i++) {
        eddy_loop *loop = tu_loop_new();
        end srv, cli;
        unsigned long c[2][3];
        uint64_t seed = i < 3 ? seeds[i] : i * 0x9e3779b97f4a7c15u;

        if (getenv("TU_LOG") != NULL)
            fprintf(stderr, "seed %llu\n", (unsigned long long)seed);

        tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
        /* From the first byte of the handshake on. */
        assert_int_equal(eddy__stream_tls_faults(srv.s, seed, 30, NULL), 0);
        assert_int_equal(eddy__stream_tls_faults(cli.s, seed + 1, 30, NULL), 0);
        run_handshake(&srv, &cli);
        assert_int_equal(srv.hs_status, 0);
        assert_int_equal(cli.hs_status, 0);
        bulk(&srv, &cli, len, 70000);
        srv.got_len = cli.got_len = 0;
        one_way(&srv, &cli, len);
        small_messages(&srv, &cli, count);
        assert_int_equal(eddy__stream_tls_faults(srv.s, 0, 0, c[0]), 0);
        assert_int_equal(eddy__stream_tls_faults(cli.s, 0, 0, c[1]), 0);
        for (int k = 0; k < 3; k++)
            sum[k] += c[0][k] + c[1][k];
        finish(loop, &srv, &cli);
    }
    /* Every kind of fault was made, many times. */
    if (getenv("TU_LOG") != NULL)
        fprintf(stderr, "faults %lu %lu %lu\n", sum[0], sum[1], sum[2]);
    /* (Under valgrind, with less data, only the first kinds.) */
    assert_true(sum[0] > (tu_valgrind() ? 10u : 100u));
    assert_true(sum[1] > (tu_valgrind() ? 0u : 10u));
    assert_true(tu_valgrind() || sum[2] > 10);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* --- the traps ----------------------------------------------------------- */

typedef struct later {
    end *e;
    size_t n;
    int into;
    char *buf;
} later;

static void on_later_read(eddy_stream *s, int status, const char *data,
                          size_t len, void *arg)
{
    end *e = arg;

    (void)s;
    e->reads++;
    e->read_status = status;
    got_append(e, data, len);
}

/* A read asked for from outside the stream's callbacks. */
static void read_later(eddy_loop *loop, void *arg)
{
    later *l = arg;

    (void)loop;
    if (l->into)
        assert_int_equal(eddy_stream_read_into(l->e->s, l->buf, l->n, 0,
                                               on_later_read, l->e),
                         0);
    else
        assert_int_equal(
            eddy_stream_read_bytes(l->e->s, l->n, 0, on_later_read, l->e), 0);
}

/* Plaintext OpenSSL decrypted and holds, which no poller reports: a
 * 16,000-byte record read into a first buffer of 4 KiB, ten bytes of it
 * taken, and the rest asked for later from a loop callback while the
 * socket is empty. */
static void test_pending_plaintext(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    char *rec = malloc(16000), *into = malloc(15990);

    (void)state;
    need_tls();
    assert_non_null(rec);
    assert_non_null(into);
    for (int i = 0; i < 16000; i++)
        rec[i] = PATTERN(i);
    sctx = server_ctx("server");
    cctx = client_ctx();
    for (int into_mode = 0; into_mode < 2; into_mode++) {
        eddy_loop *loop = tu_loop_new();
        end srv, cli;
        later l;
        int n = -1;

        tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
        run_handshake(&srv, &cli);
        /* No read outstanding on the server until asked. */
        eddy_stream_set_close_callback(srv.s, NULL, NULL);
        assert_int_equal(eddy_stream_write(cli.s, rec, 16000, NULL, NULL), 0);
        wait_flushed(loop, cli.s);
        assert_int_equal(
            eddy_stream_read_bytes(srv.s, 10, 0, on_later_read, &srv), 0);
        wait_bytes(&srv, 10);
        /* Nothing left in the socket: the rest is inside OpenSSL, or in
         * the stream's buffer. */
        assert_int_equal(ioctl(eddy_stream_fd(srv.s), FIONREAD, &n), 0);
        assert_int_equal(n, 0);
        assert_true(eddy_stream_read_buffered(srv.s) < 15990);
        l = (later){&srv, 15990, into_mode, into};
        assert_int_equal(eddy_loop_add_callback(loop, read_later, &l), 0);
        eddy_stream_set_close_callback(srv.s, on_close, &srv);
        wait_bytes(&srv, 16000);
        assert_int_equal(srv.read_status, 0);
        assert_memory_equal(srv.got, rec, 16000);
        finish(loop, &srv, &cli);
    }
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
    free(rec);
    free(into);
}

static int write_status = 1;

static void on_written(eddy_stream *s, int status, void *arg)
{
    (void)s, (void)arg;
    write_status = status;
}

/* A write after the peer went away: -EPIPE, never SIGPIPE (which keeps
 * its default disposition here, and would end the suite). */
static void test_write_after_peer_closed(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;
    size_t len = 1 << 20;
    char *big = calloc(1, len);

    (void)state;
    need_tls();
    assert_non_null(big);
    sctx = server_ctx("server");
    cctx = client_ctx();
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    /* The client goes (its socket is closed at once); the server writes
     * before the loop runs again, so before it could notice. */
    eddy_stream_close(cli.s);
    write_status = 1;
    assert_int_equal(eddy_stream_write_ref(srv.s, big, len, on_written, NULL),
                     0);
    wait_closed(&srv);
    assert_int_equal(write_status, -EPIPE);
    assert_int_equal(srv.close_status, -EPIPE);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
    free(big);
}

static void on_sent_close(eddy_stream *s, int status, void *arg)
{
    (void)arg;
    if (status == 0)
        eddy_stream_close(s);
}

static void on_until_close(eddy_stream *s, int status, const char *data,
                           size_t len, void *arg)
{
    end *e = arg;

    (void)s;
    e->reads++;
    e->read_status = status;
    got_append(e, data, len);
}

/* read_until_close: complete at the peer's close_notify; at a bare EOF,
 * EDDY_TLS_TRUNCATED with what came, never a clean end. */
static void test_close_notify_and_truncation(void **state)
{
    eddy_tls_ctx *sctx, *cctx;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    for (int cut = 0; cut < 2; cut++) {
        eddy_loop *loop;
        end srv, cli;
        logbuf log;

        loop = logged_loop(&log);
        tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
        run_handshake(&srv, &cli);
        assert_int_equal(
            eddy_stream_read_until_close(cli.s, on_until_close, &cli), 0);
        if (cut) {
            assert_int_equal(eddy_stream_write(srv.s, "partial", 7, NULL, NULL),
                             0);
            wait_flushed(loop, srv.s);
            /* The TCP connection ends, without close_notify. */
            assert_int_equal(shutdown(eddy_stream_fd(srv.s), SHUT_WR), 0);
        } else {
            assert_int_equal(
                eddy_stream_write(srv.s, "complete", 8, on_sent_close, NULL),
                0);
        }
        wait_closed(&cli);
        assert_int_equal(cli.reads, 1);
        if (cut) {
            assert_int_equal(cli.read_status, EDDY_TLS_TRUNCATED);
            assert_int_equal(cli.close_status, EDDY_TLS_TRUNCATED);
            assert_int_equal(cli.got_len, 7);
            assert_memory_equal(cli.got, "partial", 7);
            assert_non_null(strstr(log.text, "without close_notify"));
        } else {
            assert_int_equal(cli.read_status, 0);
            assert_int_equal(cli.close_status, EDDY_EOF);
            assert_int_equal(cli.got_len, 8);
            assert_memory_equal(cli.got, "complete", 8);
        }
        finish(loop, &srv, &cli);
    }
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* eddy_tls_ctx_ref(): the context outlives the caller's own reference
 * for as long as the holder keeps its one. */
static void test_ctx_ref(void **state)
{
    eddy_tls_ctx *sctx, *cctx, *held;
    eddy_loop *loop;
    end srv, cli;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    assert_null(eddy_tls_ctx_ref(NULL));
    held = eddy_tls_ctx_ref(sctx);
    assert_ptr_equal(held, sctx);
    eddy_tls_ctx_free(sctx); /* the caller's: the holder's remains */
    loop = tu_loop_new();
    tls_pair(loop, held, cctx, "localhost", &srv, &cli);
    run_handshake(&srv, &cli);
    assert_int_equal(srv.hs_status, 0);
    assert_int_equal(cli.hs_status, 0);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(held);
    eddy_tls_ctx_free(cctx);
}

static void on_reply_written(eddy_stream *s, int status, void *arg)
{
    (void)arg;
    if (status == 0)
        eddy_stream_close(s);
}

/* One run of test_shutdown_write_tls: the server sends len bytes and
 * half-closes.  seed 0: all asked for at once, before the handshake.
 * Else once the bytes are out, with every send of the server failing or
 * moving less at random (drawn from seed) until the client saw the end:
 * close_notify has to wait for WRITE. */
static void half_close_once(eddy_tls_ctx *sctx, eddy_tls_ctx *cctx, size_t len,
                            uint64_t seed)
{
    char *data = malloc(len);
    unsigned long counts[3];
    eddy_loop *loop;
    end srv, cli;
    logbuf log;

    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)('a' + i % 26);
    loop = logged_loop(&log);
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    assert_int_equal(eddy_stream_write(srv.s, data, len, NULL, NULL), 0);
    if (seed != 0) {
        run_handshake(&srv, &cli);
        wait_flushed(loop, srv.s);
        assert_int_equal(eddy__stream_tls_faults(srv.s, seed, 100, NULL), 0);
    }
    assert_int_equal(eddy_stream_shutdown_write(srv.s), 0);
    assert_int_equal(eddy_stream_write(srv.s, "x", 1, NULL, NULL), -EPIPE);
    assert_int_equal(eddy_stream_shutdown_write(srv.s), -EPIPE);
    /* The client stays open at the server's close_notify, to answer. */
    eddy_stream_set_half_open(cli.s, 1);
    assert_int_equal(eddy_stream_read_until_close(cli.s, on_until_close, &cli),
                     0);
    assert_true(tu_run_until(loop, not_reading, cli.s, RUN_ITER, RUN_MS));
    if (seed != 0) {
        assert_int_equal(eddy__stream_tls_faults(srv.s, 0, 0, counts), 0);
        assert_true(counts[0] > 0);
    }
    /* A clean end: every byte, then close_notify, never a truncation. */
    assert_int_equal(cli.read_status, 0);
    assert_int_equal(cli.got_len, len);
    assert_memory_equal(cli.got, data, len);
    assert_int_equal(cli.closes, 0);
    assert_null(strstr(log.text, "without close_notify"));
    /* The other way still works after the half-close. */
    read_any(&srv);
    assert_int_equal(
        eddy_stream_write(cli.s, "reply", 5, on_reply_written, NULL), 0);
    wait_closed(&srv);
    assert_int_equal(srv.got_len, 5);
    assert_memory_equal(srv.got, "reply", 5);
    assert_int_equal(srv.read_status, EDDY_EOF);
    assert_int_equal(srv.close_status, EDDY_EOF);
    finish(loop, &srv, &cli);
    free(data);
}

/* eddy_stream_shutdown_write() over TLS: close_notify, then the socket's
 * half-close, once the queue is out (and the handshake done); reading
 * goes on; with the server's sends failing or moving less at random,
 * close_notify waits for WRITE and is sent whole. */
static void test_shutdown_write_tls(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    int seeds = tu_valgrind() ? 2 : 16;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    half_close_once(sctx, cctx, 5, 0);
    half_close_once(sctx, cctx, 300000, 0);
    for (int i = 1; i <= seeds; i++)
        half_close_once(sctx, cctx, 20000, (uint64_t)i * 0x9e3779b97f4a7c15u);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* --- bad peers ------------------------------------------------------------ */

/* A server stream over one end of a socketpair; the test is the peer, on
 * the raw other end. */
static int raw_server(eddy_loop *loop, eddy_tls_ctx *sctx, uint64_t timeout,
                      end *srv)
{
    int sv[2];
    eddy_stream *a;

    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &a), 0);
    end_init(srv, loop, a);
    assert_int_equal(eddy_stream_start_tls(a, sctx, NULL, timeout, on_hs, srv),
                     0);
    return sv[1];
}

/* A real ClientHello, as eddy's client sends it. */
static size_t client_hello(eddy_tls_ctx *cctx, char *buf, size_t cap)
{
    eddy_loop *loop = tu_loop_new();
    end cli;
    int sv[2];
    eddy_stream *b;
    ssize_t n = 0;

    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &b), 0);
    end_init(&cli, loop, b);
    assert_int_equal(eddy_stream_start_tls(b, cctx, "localhost", 0, NULL, NULL),
                     0);
    for (int i = 0; i < 100 && n <= 0; i++) {
        assert_int_equal(eddy_loop_run_once(loop, 10), 0);
        n = recv(sv[0], buf, cap, 0);
    }
    assert_true(n > 100);
    close(sv[0]);
    eddy_stream_close(b);
    wait_closed(&cli);
    loop_finish(loop);
    end_free(&cli);
    return (size_t)n;
}

/* Whether the raw peer sees its connection end (EOF or a reset). */
static int peer_sees_end(eddy_loop *loop, int fd)
{
    char buf[4096];
    uint64_t end_ms = tu_now_ms() + RUN_MS;

    while (tu_now_ms() < end_ms) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

        if (n == 0 || (n < 0 && errno != EAGAIN))
            return 1;
        if (n < 0)
            assert_int_equal(eddy_loop_run_once(loop, 10), 0);
    }
    return 0;
}

static void test_bad_clients(void **state)
{
    static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    static const struct {
        const char *what;
        int cut;         /* bytes of a real ClientHello to send, or -1 */
        const char *raw; /* else these */
        size_t rawlen;
        int close; /* then close the connection */
        int err;
        const char *log;
    } cases[] = {
        {"plaintext HTTP", -1, http, sizeof http - 1, 0, EDDY_TLS_HANDSHAKE,
         "http request"},
        {"garbage", -1, "BBBBBBBBBB", 10, 0, EDDY_TLS_HANDSHAKE,
         "wrong version number"},
        /* A whole SSLv2 ClientHello (RFC 6176 forbids them). */
        {"an SSLv2 hello", -1,
         "\x80\x1c\x01\x00\x02\x00\x03\x00\x00\x00\x10\x01\x00\x80"
         "0123456789abcdef",
         30, 0, EDDY_TLS_HANDSHAKE, "unknown protocol"},
        {"silence", 0, NULL, 0, 0, -ETIMEDOUT, NULL},
        {"half a hello", 60, NULL, 0, 0, -ETIMEDOUT, NULL},
        {"half a hello, then EOF", 60, NULL, 0, 1, EDDY_TLS_TRUNCATED,
         "without close_notify"},
        {"an EOF at once", 0, NULL, 0, 1, EDDY_TLS_TRUNCATED,
         "without close_notify"},
    };
    eddy_tls_ctx *sctx, *cctx;
    char hello[2048];

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    client_hello(cctx, hello, sizeof hello);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        logbuf log;
        eddy_loop *loop = logged_loop(&log);
        end srv;
        int fd = raw_server(loop, sctx, 200, &srv);
        const char *p = cases[i].raw ? cases[i].raw : hello;
        size_t n = cases[i].raw ? cases[i].rawlen : (size_t)cases[i].cut;

        if (n > 0)
            assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
        if (cases[i].close) {
            close(fd);
            fd = -1;
        }
        wait_closed(&srv);
        if (srv.hs_status != cases[i].err)
            fail_msg("%s: %s, not %s", cases[i].what,
                     eddy_strerror(srv.hs_status), eddy_strerror(cases[i].err));
        assert_int_equal(srv.hs_calls, 1);
        assert_int_equal(srv.close_status, cases[i].err);
        if (cases[i].log != NULL && strstr(log.text, cases[i].log) == NULL)
            fail_msg("%s: the log says %s", cases[i].what, log.text);
        if (fd >= 0) {
            assert_true(peer_sees_end(loop, fd));
            close(fd);
        }
        loop_finish(loop);
        end_free(&srv);
    }
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* A handshake that takes too long fails with -ETIMEDOUT; one that is done
 * in time leaves no timer behind (loop_finish checks). */
static void test_handshake_timeout(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;
    int sv[2];
    eddy_stream *b;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    /* A client whose server never answers. */
    loop = tu_loop_new();
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &b), 0);
    end_init(&cli, loop, b);
    assert_int_equal(
        eddy_stream_start_tls(b, cctx, "localhost", 50, on_hs, &cli), 0);
    wait_closed(&cli);
    assert_int_equal(cli.hs_status, -ETIMEDOUT);
    assert_int_equal(cli.close_status, -ETIMEDOUT);
    close(sv[0]);
    loop_finish(loop);
    end_free(&cli);
    /* In time: the timers go. */
    loop = tu_loop_new();
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &srv.s), 0);
    assert_int_equal(eddy_stream_new(loop, sv[1], NULL, &b), 0);
    end_init(&srv, loop, srv.s);
    end_init(&cli, loop, b);
    assert_int_equal(
        eddy_stream_start_tls(srv.s, sctx, NULL, 60000, on_hs, &srv), 0);
    assert_int_equal(
        eddy_stream_start_tls(b, cctx, "localhost", 60000, on_hs, &cli), 0);
    run_handshake(&srv, &cli);
    assert_int_equal(srv.hs_status, 0);
    assert_int_equal(cli.hs_status, 0);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* A stream closed during its handshake: its callback gets -ECANCELED. */
static void test_close_during_handshake(void **state)
{
    eddy_tls_ctx *sctx, *cctx;
    eddy_loop *loop;
    end srv, cli;

    (void)state;
    need_tls();
    sctx = server_ctx("server");
    cctx = client_ctx();
    loop = tu_loop_new();
    tls_pair(loop, sctx, cctx, "localhost", &srv, &cli);
    eddy_stream_close(cli.s);
    wait_closed(&cli);
    assert_int_equal(cli.hs_calls, 1);
    assert_int_equal(cli.hs_status, -ECANCELED);
    wait_closed(&srv);
    assert_int_equal(srv.hs_calls, 1);
    assert_true(srv.hs_status < 0);
    finish(loop, &srv, &cli);
    eddy_tls_ctx_free(sctx);
    eddy_tls_ctx_free(cctx);
}

/* --- memory per idle connection ----------------------------------------- */

static int mem_replies;

static void on_mem_reply(eddy_stream *s, int status, const char *data,
                         size_t len, void *arg)
{
    (void)s, (void)data, (void)len, (void)arg;
    mem_replies += status == 0;
}

/* The clients, in a child process (their memory is not the server's):
 * each connects, sends a line and reads the echo, then all wait until the
 * parent closes ctl. */
static void memory_clients(int (*sv)[2], int n, int ctl)
{
    eddy_loop *loop;
    eddy_tls_ctx *cctx;
    char c;

    if (eddy_loop_new(&loop) != 0 || eddy_tls_ctx_new(EDDY_TLS_CLIENT, &cctx))
        _exit(1);
    if (eddy_tls_ctx_load_verify(cctx, CERT("ca.pem"), NULL) != 0)
        _exit(1);
    for (int i = 0; i < n; i++) {
        eddy_stream *b;

        close(sv[i][0]);
        if (eddy_stream_new(loop, sv[i][1], NULL, &b) != 0 ||
            eddy_stream_start_tls(b, cctx, "localhost", 0, NULL, NULL) != 0 ||
            eddy_stream_write(b, "x\n", 2, NULL, NULL) != 0 ||
            eddy_stream_read_bytes(b, 2, 0, on_mem_reply, NULL) != 0)
            _exit(1);
    }
    for (int i = 0; i < 100000 && mem_replies < n; i++)
        eddy_loop_run_once(loop, 100);
    if (read(ctl, &c, 1) < 0)
        _exit(2);
    _exit(mem_replies == n ? 0 : 3);
}

static int mem_echoed;

static void on_mem_line(eddy_stream *s, int status, const char *data,
                        size_t len, void *arg)
{
    (void)arg;
    if (status != 0)
        return;
    assert_int_equal(eddy_stream_write(s, data, len, NULL, NULL), 0);
    mem_echoed++;
    assert_int_equal(eddy_stream_read_until(s, "\n", 1, 0, on_mem_line, NULL),
                     0);
}

/* What a server's idle TLS connection costs, all of it (stream and
 * OpenSSL), after a request was answered: no record buffers stay
 * (SSL_MODE_RELEASE_BUFFERS; they would add 33 KiB). */
static void test_idle_memory(void **state)
{
    enum { N = 64 };
    int sv[N][2], ctl[2], status;
    eddy_tls_ctx *sctx;
    eddy_loop *loop;
    eddy_stream *srv[N];
    struct mallinfo2 before, after;
    size_t per;
    pid_t pid;

    (void)state;
    need_tls();
#ifdef TU_ASAN
    skip(); /* ASan's allocator: mallinfo2 says nothing */
#endif
    if (tu_valgrind())
        skip(); /* nor does valgrind's */
    sctx = server_ctx("server");
    for (int i = 0; i < N; i++)
        assert_int_equal(
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]), 0);
    assert_int_equal(pipe(ctl), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ctl[1]);
        memory_clients(sv, N, ctl[0]);
    }
    close(ctl[0]);
    loop = tu_loop_new();
    mem_echoed = 0;
    before = mallinfo2();
    for (int i = 0; i < N; i++) {
        close(sv[i][1]);
        assert_int_equal(eddy_stream_new(loop, sv[i][0], NULL, &srv[i]), 0);
        assert_int_equal(
            eddy_stream_start_tls(srv[i], sctx, NULL, 0, NULL, NULL), 0);
        assert_int_equal(
            eddy_stream_read_until(srv[i], "\n", 1, 0, on_mem_line, NULL), 0);
    }
    assert_true(tu_run_until_count(loop, &mem_echoed, N, RUN_ITER, RUN_MS));
    for (int i = 0; i < 20; i++)
        assert_int_equal(eddy_loop_run_once(loop, 1), 0);
    after = mallinfo2();
    per = (after.uordblks - before.uordblks) / N;
    if (getenv("TU_LOG") != NULL)
        fprintf(stderr, "an idle TLS server connection: %zu bytes\n", per);
    assert_true(per < 20000);
    close(ctl[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (int i = 0; i < N; i++)
        eddy_stream_close(srv[i]);
    loop_finish(loop);
    eddy_tls_ctx_free(sctx);
}

/* --- other TLS stacks, as child processes --------------------------------- */

typedef struct child {
    pid_t pid;
    int in;  /* its stdin, for us to write (-1 once closed) */
    int out; /* its stdout and stderr */
    char buf[65536];
    size_t len;
    int eof, exited, status;
} child;

static int have_tool(const char *name)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static void need_tool(const char *name)
{
    if (!have_tool(name))
        fail_msg("%s is missing: scripts/need.sh installs it", name);
}

static void on_child_out(eddy_loop *loop, int fd, unsigned events, void *arg)
{
    child *c = arg;
    ssize_t n;

    (void)events;
    while ((n = read(fd, c->buf + c->len, sizeof c->buf - 1 - c->len)) > 0)
        c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (n == 0 || (n < 0 && errno != EAGAIN) || c->len == sizeof c->buf - 1) {
        c->eof = 1;
        eddy_loop_remove_handler(loop, fd);
    }
}

/* Starts argv (searched in PATH) with its stdin, stdout and stderr on
 * pipes; its output is collected on the loop. */
static void child_start(eddy_loop *loop, child *c, char *const argv[])
{
    int in[2], out[2];

    memset(c, 0, sizeof *c);
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->in = in[1];
    c->out = out[0];
    tu_nonblock(c->out);
    assert_int_equal(
        eddy_loop_add_handler(loop, c->out, EDDY_READ, on_child_out, c), 0);
}

static void child_say(child *c, const char *text)
{
    size_t n = strlen(text);

    assert_int_equal(write(c->in, text, n), (ssize_t)n);
}

static void child_close_input(child *c)
{
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
}

static int child_done(void *arg)
{
    child *c = arg;

    if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
        c->exited = 1;
    return c->exited && c->eof;
}

/* Waits for the child's exit and the end of its output; returns its exit
 * status.  One that does not exit in time is killed and fails the test. */
static int child_wait(eddy_loop *loop, child *c)
{
    int ok = tu_run_until(loop, child_done, c, RUN_ITER, RUN_MS);

    child_close_input(c);
    if (!c->eof)
        eddy_loop_remove_handler(loop, c->out);
    close(c->out);
    if (!ok) {
        if (!c->exited) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &c->status, 0);
        }
        fail_msg("the child did not finish; it said:\n%s", c->buf);
    }
    return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128;
}

/* An eddy TLS server on a loopback port. */
enum { SRV_ECHO, SRV_LINE, SRV_HTTP };

typedef struct tls_server {
    eddy_loop *loop;
    eddy_tls_ctx *ctx;
    int lfd, port, mode;
    int accepted, resumed;
    end ends[8];
} tls_server;

static void on_srv_hs(eddy_stream *s, int status, void *arg)
{
    end *e = arg;
    tls_server *ts = e->user;

    on_hs(s, status, arg);
    if (status == 0 && eddy_stream_tls_resumed(s))
        ts->resumed++;
}

static const char hello_response[] = "HTTP/1.1 200 OK\r\n"
                                     "Content-Length: 12\r\n"
                                     "Connection: close\r\n"
                                     "\r\n"
                                     "Hello, TLS!\n";

static void on_request(eddy_stream *s, int status, const char *data, size_t len,
                       void *arg)
{
    end *e = arg;

    got_append(e, data, len);
    if (status == 0)
        assert_int_equal(eddy_stream_write(s, hello_response,
                                           sizeof hello_response - 1,
                                           on_sent_close, NULL),
                         0);
}

static void on_tcp_accept(eddy_loop *loop, int lfd, unsigned events, void *arg)
{
    tls_server *ts = arg;
    int fd;

    (void)events;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        end *e = &ts->ends[ts->accepted++];
        eddy_stream *s;

        assert_true(ts->accepted <= 8);
        assert_int_equal(eddy_stream_new(loop, fd, NULL, &s), 0);
        end_init(e, loop, s);
        e->user = ts;
        assert_int_equal(
            eddy_stream_start_tls(s, ts->ctx, NULL, RUN_MS, on_srv_hs, e), 0);
        if (ts->mode == SRV_HTTP) {
            assert_int_equal(
                eddy_stream_read_until(s, "\r\n\r\n", 4, 8192, on_request, e),
                0);
        } else {
            e->close_after_echo = ts->mode == SRV_LINE;
            start_echo(e);
        }
    }
}

/* A listening socket on a free port of 127.0.0.1. */
static int listen_any(int *port)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start(tls_server *ts, eddy_loop *loop, eddy_tls_ctx *ctx,
                         int mode)
{
    memset(ts, 0, sizeof *ts);
    ts->loop = loop;
    ts->ctx = ctx;
    ts->mode = mode;
    ts->lfd = listen_any(&ts->port);
    assert_int_equal(
        eddy_loop_add_handler(loop, ts->lfd, EDDY_READ, on_tcp_accept, ts), 0);
}

static int all_closed(void *arg)
{
    tls_server *ts = arg;

    for (int i = 0; i < ts->accepted; i++)
        if (ts->ends[i].closes == 0)
            return 0;
    return 1;
}

static void server_stop(tls_server *ts)
{
    eddy_loop_remove_handler(ts->loop, ts->lfd);
    close(ts->lfd);
    for (int i = 0; i < ts->accepted; i++)
        if (ts->ends[i].s != NULL)
            eddy_stream_close(ts->ends[i].s);
    assert_true(tu_run_until(ts->loop, all_closed, ts, RUN_ITER, RUN_MS));
    for (int i = 0; i < ts->accepted; i++)
        end_free(&ts->ends[i]);
}

#define PORTSTR(ts) portstr((ts)->port, (char[24]){0})

static char *portstr(int port, char *buf)
{
    snprintf(buf, 24, "127.0.0.1:%d", port);
    return buf;
}

/* openssl s_client, TLS 1.3 and 1.2, verifying eddy's certificate and
 * name: a line goes there and back, and eddy closes with close_notify,
 * which ends s_client cleanly. */
static void test_interop_openssl_client(void **state)
{
    eddy_tls_ctx *sctx;

    (void)state;
    need_tls();
    need_tool("openssl");
    sctx = server_ctx("server");
    for (int v = 0; v < 2; v++) {
        eddy_loop *loop = tu_loop_new();
        tls_server ts;
        child c;
        char *argv[] = {"openssl",
                        "s_client",
                        "-connect",
                        NULL,
                        "-servername",
                        "localhost",
                        "-verify_hostname",
                        "localhost",
                        "-CAfile",
                        CERT("ca.pem"),
                        "-verify_return_error",
                        "-quiet",
                        v ? "-tls1_2" : "-tls1_3",
                        NULL};

        server_start(&ts, loop, sctx, SRV_LINE);
        argv[3] = PORTSTR(&ts);
        child_start(loop, &c, argv);
        child_say(&c, "ping from s_client\n");
        child_close_input(&c);
        assert_int_equal(child_wait(loop, &c), 0);
        assert_non_null(strstr(c.buf, "ping from s_client"));
        assert_int_equal(ts.accepted, 1);
        assert_int_equal(ts.ends[0].hs_status, 0);
        assert_int_equal(ts.ends[0].got_len, 19);
        server_stop(&ts);
        loop_finish(loop);
    }
    eddy_tls_ctx_free(sctx);
}

/* Resumption with another stack's client: TLS 1.2 with -reconnect (five
 * more connections resume), TLS 1.3 with a ticket saved and offered. */
static void test_interop_openssl_resumption(void **state)
{
    eddy_tls_ctx *sctx;
    eddy_loop *loop;
    tls_server ts;
    child c;
    char *reconnect[] = {"openssl", "s_client",   "-connect",
                         NULL,      "-CAfile",    CERT("ca.pem"),
                         "-tls1_2", "-reconnect", NULL};
    char *save[] = {
        "openssl",      "s_client",  "-connect",          NULL,     "-CAfile",
        CERT("ca.pem"), "-sess_out", CERT("session.pem"), "-quiet", NULL};
    char *offer[] = {"openssl",  "s_client",          "-connect",
                     NULL,       "-CAfile",           CERT("ca.pem"),
                     "-sess_in", CERT("session.pem"), NULL};

    (void)state;
    need_tls();
    need_tool("openssl");
    sctx = server_ctx("server");
    loop = tu_loop_new();
    server_start(&ts, loop, sctx, SRV_ECHO);
    reconnect[3] = PORTSTR(&ts);
    child_start(loop, &c, reconnect);
    child_close_input(&c);
    assert_int_equal(child_wait(loop, &c), 0);
    assert_non_null(strstr(c.buf, "Reused, TLSv1.2"));
    assert_true(tu_run_until(loop, all_closed, &ts, RUN_ITER, RUN_MS));
    assert_int_equal(ts.accepted, 6);
    assert_int_equal(ts.resumed, 5);
    server_stop(&ts);

    /* The ticket comes after the handshake: s_client reads the echo (and
     * with it the ticket) before eddy closes. */
    server_start(&ts, loop, sctx, SRV_LINE);
    save[3] = PORTSTR(&ts);
    child_start(loop, &c, save);
    child_say(&c, "ticket, please\n");
    child_close_input(&c);
    assert_int_equal(child_wait(loop, &c), 0);
    offer[3] = save[3];
    child_start(loop, &c, offer);
    child_close_input(&c);
    assert_int_equal(child_wait(loop, &c), 0);
    assert_non_null(strstr(c.buf, "Reused, TLSv1.3"));
    assert_true(tu_run_until(loop, all_closed, &ts, RUN_ITER, RUN_MS));
    assert_int_equal(ts.resumed, 1);
    server_stop(&ts);
    loop_finish(loop);
    eddy_tls_ctx_free(sctx);
}

/* A TLS 1.2 client that asks to renegotiate is refused (a warning alert
 * no_renegotiation); OpenSSL's client then gives up the connection, and
 * eddy's stream ends with EDDY_TLS_PROTOCOL, cleanly. */
static void test_interop_renegotiation_refused(void **state)
{
    eddy_tls_ctx *sctx;
    eddy_loop *loop;
    tls_server ts;
    child c;
    logbuf log;
    char *argv[] = {"openssl", "s_client",     "-connect", NULL,
                    "-CAfile", CERT("ca.pem"), "-tls1_2",  NULL};

    (void)state;
    need_tls();
    need_tool("openssl");
    sctx = server_ctx("server");
    loop = logged_loop(&log);
    server_start(&ts, loop, sctx, SRV_ECHO);
    argv[3] = PORTSTR(&ts);
    child_start(loop, &c, argv);
    child_say(&c, "R\n");
    child_wait(loop, &c);
    assert_non_null(strstr(c.buf, "RENEGOTIATING"));
    assert_non_null(strstr(c.buf, "no renegotiation"));
    assert_true(tu_run_until(loop, all_closed, &ts, RUN_ITER, RUN_MS));
    assert_int_equal(ts.ends[0].hs_status, 0);
    assert_int_equal(ts.ends[0].close_status, EDDY_TLS_PROTOCOL);
    server_stop(&ts);
    loop_finish(loop);
    eddy_tls_ctx_free(sctx);
}

typedef struct said {
    child *c;
    const char *text;
} said;

static int child_said(void *arg)
{
    said *w = arg;

    return strstr(w->c->buf, w->text) != NULL || child_done(w->c);
}

/* A TLS 1.3 key update that s_client asks for ("K"): eddy's read takes
 * the client's KeyUpdate, and its next write sends its own first. */
static void test_interop_key_update(void **state)
{
    eddy_tls_ctx *sctx;
    eddy_loop *loop;
    tls_server ts;
    child c;
    said w = {&c, "KEYUPDATE"};
    char *argv[] = {"openssl", "s_client",     "-connect", NULL,
                    "-CAfile", CERT("ca.pem"), "-msg",     NULL};

    (void)state;
    need_tls();
    need_tool("openssl");
    sctx = server_ctx("server");
    loop = tu_loop_new();
    server_start(&ts, loop, sctx, SRV_ECHO);
    argv[3] = PORTSTR(&ts);
    child_start(loop, &c, argv);
    child_say(&c, "K\n");
    assert_true(tu_run_until(loop, child_said, &w, RUN_ITER, RUN_MS));
    child_say(&c, "after the update\n");
    w.text = "after the update\n";
    assert_true(tu_run_until(loop, child_said, &w, RUN_ITER, RUN_MS));
    child_close_input(&c);
    assert_int_equal(child_wait(loop, &c), 0);
    assert_non_null(strstr(c.buf, ">>> TLS 1.3, Handshake [length 0005], "
                                  "KeyUpdate"));
    assert_non_null(strstr(c.buf, "<<< TLS 1.3, Handshake [length 0005], "
                                  "KeyUpdate"));
    assert_true(tu_run_until(loop, all_closed, &ts, RUN_ITER, RUN_MS));
    assert_int_equal(ts.ends[0].close_status, EDDY_EOF);
    server_stop(&ts);
    loop_finish(loop);
    eddy_tls_ctx_free(sctx);
}

static int s_server_up(void *arg)
{
    child *c = arg;

    return strstr(c->buf, "ACCEPT") != NULL || child_done(c);
}

static void on_connected(eddy_stream *s, int status, void *arg)
{
    end *e = arg;

    (void)s;
    e->read_status = status;
}

/* eddy's client against openssl s_server, whose -rev sends each line back
 * reversed; then with a client certificate that s_server requires. */
static void test_interop_openssl_server(void **state)
{
    eddy_tls_ctx *cctx;

    (void)state;
    need_tls();
    need_tool("openssl");
    cctx = client_ctx();
    assert_int_equal(eddy_tls_ctx_load_cert_chain(cctx, CERT("client.pem"),
                                                  CERT("client.key")),
                     0);
    for (int mtls = 0; mtls < 2; mtls++) {
        eddy_loop *loop = tu_loop_new();
        child c;
        end cli, conn = {0};
        eddy_stream *s;
        char accept[32], subject[64];
        char *argv[] = {"openssl",
                        "s_server",
                        "-accept",
                        accept,
                        "-cert",
                        CERT("server.pem"),
                        "-key",
                        CERT("server.key"),
                        "-naccept",
                        "1",
                        "-rev",
                        mtls ? "-Verify" : NULL,
                        "1",
                        "-CAfile",
                        CERT("ca.pem"),
                        NULL};
        int port;

        /* A port that was free a moment ago. */
        close(listen_any(&port));
        snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
        child_start(loop, &c, argv);
        assert_true(tu_run_until(loop, s_server_up, &c, RUN_ITER, RUN_MS));
        assert_int_equal(eddy_stream_connect(loop, "127.0.0.1", (uint16_t)port,
                                             RUN_MS, NULL, on_connected, &conn,
                                             &s),
                         0);
        end_init(&cli, loop, s);
        /* Started while connecting: the handshake follows the connect. */
        assert_int_equal(
            eddy_stream_start_tls(s, cctx, "localhost", RUN_MS, on_hs, &cli),
            0);
        assert_int_equal(eddy_stream_write(s, "hello\n", 6, NULL, NULL), 0);
        assert_int_equal(
            eddy_stream_read_until(s, "\n", 1, 1024, on_line_got, &cli), 0);
        wait_bytes(&cli, 6);
        assert_int_equal(conn.read_status, 0);
        assert_int_equal(cli.hs_status, 0);
        assert_memory_equal(cli.got, "olleh\n", 6);
        assert_int_equal(
            eddy_stream_tls_peer_subject(s, subject, sizeof subject), 0);
        assert_string_equal(subject, "CN=localhost");
        eddy_stream_close(s);
        wait_closed(&cli);
        child_close_input(&c);
        child_wait(loop, &c);
        if (mtls)
            assert_non_null(strstr(c.buf, "eddy client"));
        end_free(&cli);
        loop_finish(loop);
    }
    eddy_tls_ctx_free(cctx);
}

/* curl --tlsv1.3 fetches a page from a minimal eddy HTTPS responder;
 * ALPN picks http/1.1 from curl's h2 and http/1.1. */
static void test_interop_curl(void **state)
{
    static const char *const alpn[] = {"http/1.1"};
    eddy_tls_ctx *sctx;
    eddy_loop *loop;
    tls_server ts;
    child c;
    char url[64], resolve[64];
    char *argv[] = {
        "curl",      "-sS",   "--tlsv1.3", "--cacert", CERT("ca.pem"),
        "--resolve", resolve, url,         NULL};

    (void)state;
    need_tls();
    need_tool("curl");
    sctx = server_ctx("server");
    assert_int_equal(eddy_tls_ctx_set_alpn(sctx, alpn, 1), 0);
    loop = tu_loop_new();
    server_start(&ts, loop, sctx, SRV_HTTP);
    snprintf(url, sizeof url, "https://localhost:%d/", ts.port);
    snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", ts.port);
    child_start(loop, &c, argv);
    child_close_input(&c);
    assert_int_equal(child_wait(loop, &c), 0);
    assert_string_equal(c.buf, "Hello, TLS!\n");
    assert_true(tu_run_until(loop, all_closed, &ts, RUN_ITER, RUN_MS));
    assert_int_equal(ts.ends[0].hs_status, 0);
    assert_non_null(strstr(ts.ends[0].got, "GET / HTTP/1.1\r\n"));
    server_stop(&ts);
    loop_finish(loop);
    eddy_tls_ctx_free(sctx);
}

/* gnutls-cli, another TLS library: it verifies eddy's chain and name,
 * and a line goes there and back. */
static void test_interop_gnutls(void **state)
{
    eddy_tls_ctx *sctx;
    eddy_loop *loop;
    tls_server ts;
    child c;
    char port[16], ca[200];
    char *argv[] = {
        "gnutls-cli", "--port", port, ca, "--verify-hostname=localhost",
        "127.0.0.1",  NULL};

    (void)state;
    need_tls();
    need_tool("gnutls-cli");
    sctx = server_ctx("server");
    loop = tu_loop_new();
    server_start(&ts, loop, sctx, SRV_LINE);
    snprintf(port, sizeof port, "%d", ts.port);
    snprintf(ca, sizeof ca, "--x509cafile=%s", CERT("ca.pem"));
    child_start(loop, &c, argv);
    child_say(&c, "ping from gnutls\n");
    assert_int_equal(child_wait(loop, &c), 0);
    assert_non_null(strstr(c.buf, "Handshake was completed"));
    assert_non_null(strstr(c.buf, "ping from gnutls"));
    assert_true(tu_run_until(loop, all_closed, &ts, RUN_ITER, RUN_MS));
    assert_int_equal(ts.ends[0].hs_status, 0);
    assert_int_equal(ts.ends[0].got_len, 17);
    server_stop(&ts);
    loop_finish(loop);
    eddy_tls_ctx_free(sctx);
}

/* --- with the TCP layer ------------------------------------------------- */

typedef struct tcp_case {
    eddy_tls_ctx *sctx, *cctx;
    end srv, cli;
    int connected;
} tcp_case;

static void on_tcp_connection(eddy_tcp_server *ts, eddy_stream *s,
                              const struct sockaddr *peer, socklen_t len,
                              void *arg)
{
    tcp_case *tc = arg;

    (void)peer, (void)len;
    end_init(&tc->srv, eddy_tcp_server_loop(ts), s);
    /* One call on the accepted stream. */
    assert_int_equal(
        eddy_stream_start_tls(s, tc->sctx, NULL, RUN_MS, on_hs, &tc->srv), 0);
    tc->srv.close_after_echo = 1;
    start_echo(&tc->srv);
}

static void on_tcp_connected(eddy_stream *s, int status, void *arg)
{
    tcp_case *tc = arg;

    assert_int_equal(status, 0);
    tc->connected = 1;
    end_init(&tc->cli, eddy_stream_loop(s), s);
    /* One call on the connected stream. */
    assert_int_equal(eddy_stream_start_tls(s, tc->cctx, "localhost", RUN_MS,
                                           on_hs, &tc->cli),
                     0);
    assert_int_equal(eddy_stream_write(s, "over tcp/\n", 10, NULL, NULL), 0);
    read_any(&tc->cli);
}

static void on_tcp_stopped(eddy_tcp_server *ts, void *arg)
{
    (void)ts;
    *(int *)arg = 1;
}

/* The TCP server and the TCP client of tcp.h hand out streams; TLS is one
 * call on each. */
static void test_tcp_server_and_client(void **state)
{
    eddy_loop *loop;
    eddy_tcp_server *ts;
    tcp_case tc = {0};
    int stopped = 0;

    (void)state;
    need_tls();
    tc.sctx = server_ctx("server");
    tc.cctx = client_ctx();
    loop = tu_loop_new();
    assert_int_equal(
        eddy_tcp_server_new(loop, NULL, on_tcp_connection, &tc, &ts), 0);
    assert_int_equal(eddy_tcp_server_listen(ts, 0, "127.0.0.1"), 0);
    assert_int_equal(eddy_tcp_connect(loop, NULL, "127.0.0.1",
                                      (uint16_t)eddy_tcp_server_port(ts), NULL,
                                      on_tcp_connected, &tc, NULL),
                     0);
    assert_true(tu_run_until(loop, closed, &tc.cli, RUN_ITER, RUN_MS));
    assert_int_equal(tc.cli.hs_status, 0);
    assert_int_equal(tc.srv.hs_status, 0);
    assert_int_equal(tc.cli.got_len, 10);
    assert_memory_equal(tc.cli.got, "over tcp/\n", 10);
    /* The server closed after the echo: close_notify, a clean end. */
    assert_int_equal(tc.cli.read_status, EDDY_EOF);
    eddy_tcp_server_shutdown(ts, 1000, on_tcp_stopped, &stopped);
    assert_true(tu_run_until_count(loop, &stopped, 1, RUN_ITER, RUN_MS));
    eddy_tcp_server_free(ts);
    loop_finish(loop);
    end_free(&tc.srv);
    end_free(&tc.cli);
    eddy_tls_ctx_free(tc.sctx);
    eddy_tls_ctx_free(tc.cctx);
}

/* --- built without TLS ---------------------------------------------------- */

static void test_without_tls(void **state)
{
    eddy_tls_ctx *ctx = NULL;
    eddy_loop *loop;
    eddy_stream *s;
    int sv[2];
    char buf[8];

    (void)state;
    if (eddy_tls_library() != NULL)
        skip(); /* this build has TLS: the other tests are for it */
    assert_int_equal(eddy_tls_ctx_new(EDDY_TLS_SERVER, &ctx), -ENOTSUP);
    assert_int_equal(eddy_tls_ctx_load_cert_chain(ctx, "a", "b"), -ENOTSUP);
    assert_int_equal(eddy_tls_ctx_load_verify(ctx, "a", NULL), -ENOTSUP);
    assert_int_equal(eddy_tls_ctx_set_verify(ctx, 0), -ENOTSUP);
    assert_int_equal(eddy_tls_ctx_set_alpn(ctx, NULL, 0), -ENOTSUP);
    assert_int_equal(eddy_tls_ctx_set_versions(ctx, 0, 0), -ENOTSUP);
    assert_int_equal(eddy_tls_ctx_set_ciphers(ctx, NULL, NULL), -ENOTSUP);
    assert_int_equal(eddy_tls_ctx_set_sni_callback(ctx, NULL, NULL), -ENOTSUP);
    assert_non_null(eddy_tls_ctx_error(ctx));
    assert_null(eddy_tls_ctx_ref(ctx));
    eddy_tls_ctx_free(ctx);
    loop = tu_loop_new();
    tu_socketpair(sv);
    assert_int_equal(eddy_stream_new(loop, sv[0], NULL, &s), 0);
    assert_int_equal(eddy_stream_start_tls(s, ctx, NULL, 0, NULL, NULL),
                     -ENOTSUP);
    assert_null(eddy_stream_tls_version(s));
    assert_null(eddy_stream_tls_cipher(s));
    assert_null(eddy_stream_tls_alpn(s));
    assert_null(eddy_stream_tls_server_name(s));
    assert_null(eddy_stream_tls_verify_error(s));
    assert_int_equal(eddy_stream_tls_resumed(s), 0);
    assert_int_equal(eddy_stream_tls_peer_subject(s, buf, sizeof buf),
                     -ENOTSUP);
    /* The stream is as it was: plaintext works. */
    assert_int_equal(eddy_stream_write(s, "ok", 2, NULL, NULL), 0);
    wait_flushed(loop, s);
    assert_int_equal(recv(sv[1], buf, sizeof buf, 0), 2);
    eddy_stream_close(s);
    close(sv[1]);
    loop_finish(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tu_test(test_handshake_and_echo),
        tu_test(test_verify_failures),
        tu_test(test_verify_ip_and_none),
        tu_test(test_client_certificates),
        tu_test(test_alpn),
        tu_test(test_sni),
        tu_test(test_versions_and_ciphers),
        tu_test(test_resumption),
        tu_test(test_ctx_errors),
        tu_test(test_start_tls_errors),
        tu_test(test_starttls_buffered),
        tu_test(test_bulk_both_ways),
        tu_test(test_sendfile),
        tu_test(test_faults),
        tu_test(test_pending_plaintext),
        tu_test(test_write_after_peer_closed),
        tu_test(test_close_notify_and_truncation),
        tu_test(test_ctx_ref),
        tu_test(test_shutdown_write_tls),
        tu_test(test_bad_clients),
        tu_test(test_handshake_timeout),
        tu_test(test_close_during_handshake),
        tu_test(test_idle_memory),
        tu_test(test_interop_openssl_client),
        tu_test(test_interop_openssl_resumption),
        tu_test(test_interop_renegotiation_refused),
        tu_test(test_interop_key_update),
        tu_test(test_interop_openssl_server),
        tu_test(test_interop_curl),
        tu_test(test_interop_gnutls),
        tu_test(test_tcp_server_and_client),
        tu_test(test_without_tls),
    };

    if (getenv("TU_FILTER") != NULL)
        cmocka_set_test_filter(getenv("TU_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
