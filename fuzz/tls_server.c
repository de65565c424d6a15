/*
 * fuzz/tls_server.c - a TLS server stream (iostream/stream.c over
 * iostream/tls_openssl.c) fed arbitrary client bytes: the handshake path,
 * where a server meets what anyone on the network sends.
 *
 * Input: one byte of settings (bit 0: the server stops at TLS 1.2; 1: it
 * has ALPN protocols; 2: it asks for a client certificate; 3: the client
 * half-closes at the end; 4: the read waiting for the handshake is a
 * read_until instead of a read_bytes), the cut points (fuzz.h), then the
 * bytes the client sends.  One stream over a socketpair: the client end
 * gets the bytes piece by piece, the loop runs (bounded) after each, and
 * what the server sends back is read and dropped.  The seeds are real
 * ClientHellos (fuzz/seeds.py records them from openssl, curl and
 * gnutls-cli), and broken ones.  Checks:
 *
 *  - a handshake never completes: nobody can forge the client's Finished
 *    without the keys, so success here would be a lie;
 *  - the handshake callback runs once, and its error is the one that
 *    closed the stream, one of those tls.h documents (a handshake error,
 *    a verification error, a truncation, a protocol error, a reset), or
 *    -ECANCELED when the harness closed the stream itself;
 *  - the pending read fails with the same error; the close callback runs
 *    once, last;
 *  - the loop settles within a bounded number of iterations, and
 *    everything is freed (LeakSanitizer).
 *
 * The server's certificate and key are fuzz_tls.h's.  Built without TLS,
 * the harness does nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"
#include "fuzz_tls.h"

#include "eddy/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TS_MAX_CUTS 16
#define TS_SPIN 8
#define TS_SETTLE 2000

typedef struct ts_state {
    eddy_loop *loop;
    eddy_stream *s;
    int peer;
    int hs_calls, hs_status;
    int read_calls, read_status;
    int close_calls, close_status;
    int closing; /* the harness closed the stream */
} ts_state;

static void ts_on_hs(eddy_stream *s, int status, void *arg)
{
    ts_state *st = arg;

    (void)s;
    FUZZ_CHECK(st->close_calls == 0, "no handshake callback after close");
    FUZZ_CHECK(st->hs_calls == 0, "the handshake callback runs once");
    FUZZ_CHECK(status != 0, "no handshake completes on forged bytes");
    st->hs_calls++;
    st->hs_status = status;
}

static void ts_on_read(eddy_stream *s, int status, const char *data, size_t len,
                       void *arg)
{
    ts_state *st = arg;

    (void)s, (void)data;
    FUZZ_CHECK(st->close_calls == 0, "no read callback after close");
    FUZZ_CHECK(status < 0 && len == 0, "no bytes ever reach the reader");
    st->read_calls++;
    st->read_status = status;
}

static void ts_on_close(eddy_stream *s, int err, void *arg)
{
    ts_state *st = arg;

    FUZZ_CHECK(st->close_calls == 0, "the close callback runs once");
    FUZZ_CHECK(err == eddy_stream_error(s), "the close callback's error");
    FUZZ_CHECK(st->hs_calls == 1 && st->read_calls == 1,
               "the close callback runs last");
    st->close_calls++;
    st->close_status = err;
}

static int ts_documented(int err)
{
    return err == EDDY_TLS_HANDSHAKE || err == EDDY_TLS_VERIFY ||
           err == EDDY_TLS_TRUNCATED || err == EDDY_TLS_PROTOCOL ||
           err == -ECONNRESET || err == -EPIPE;
}

static int ts_iterate(ts_state *st)
{
    eddy_loop_stats a, b;
    char sink[4096];

    while (recv(st->peer, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ; /* what the server says goes nowhere */
    eddy_loop_get_stats(st->loop, &a);
    eddy_loop_run_once(st->loop, 0);
    eddy_loop_get_stats(st->loop, &b);
    return a.events != b.events || a.callbacks_run != b.callbacks_run ||
           a.timers_run != b.timers_run;
}

static int ts_settle(ts_state *st)
{
    int quiet = 0;

    for (int i = 0; i < TS_SETTLE; i++) {
        quiet = ts_iterate(st) ? 0 : quiet + 1;
        if (quiet == 2)
            return 1;
    }
    return 0;
}

static eddy_tls_ctx *ts_ctx(unsigned cfg)
{
    static const char *const alpn[] = {"http/1.1", "h2"};
    const char *pem = fuzz_pem_file();
    eddy_tls_ctx *ctx;

    if (pem == NULL || eddy_tls_ctx_new(EDDY_TLS_SERVER, &ctx) != 0)
        return NULL;
    if (eddy_tls_ctx_load_cert_chain(ctx, pem, NULL) != 0 ||
        ((cfg & 1) && eddy_tls_ctx_set_versions(ctx, 0, EDDY_TLS_1_2)) ||
        ((cfg & 2) && eddy_tls_ctx_set_alpn(ctx, alpn, 2)) ||
        ((cfg & 4) &&
         (eddy_tls_ctx_load_verify(ctx, pem, NULL) ||
          eddy_tls_ctx_set_verify(ctx, EDDY_TLS_VERIFY_OPTIONAL)))) {
        eddy_tls_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    size_t cuts[TS_MAX_CUTS], ncuts = fuzz_cuts(&in, cuts, TS_MAX_CUTS);
    size_t sent = 0;
    ts_state st = {0};
    eddy_tls_ctx *ctx;
    int sv[2] = {-1, -1}, err;

    if (eddy_tls_library() == NULL || (ctx = ts_ctx(cfg)) == NULL)
        return 0;
    st.peer = -1;
    if (eddy_loop_new(&st.loop) != 0)
        goto out;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0)
        goto out;
    st.peer = sv[0];
    if (eddy_stream_new(st.loop, sv[1], NULL, &st.s) != 0)
        goto out;
    eddy_stream_set_close_callback(st.s, ts_on_close, &st);
    err = eddy_stream_start_tls(st.s, ctx, NULL, 0, ts_on_hs, &st);
    FUZZ_CHECK(err == 0, "start_tls on a fresh stream");
    if (cfg & 16)
        err = eddy_stream_read_until(st.s, "\r\n", 2, 1024, ts_on_read, &st);
    else
        err = eddy_stream_read_bytes(st.s, 64, 1, ts_on_read, &st);
    FUZZ_CHECK(err == 0, "a read may wait for the handshake");
    for (size_t i = 0; i <= ncuts && st.close_calls == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : in.n;

        while (sent < to) {
            ssize_t w = send(st.peer, in.p + sent, to - sent, MSG_NOSIGNAL);

            if (w <= 0)
                break;
            sent += (size_t)w;
        }
        for (int k = 0; k < TS_SPIN && ts_iterate(&st); k++)
            ;
    }
    if (cfg & 8)
        shutdown(st.peer, SHUT_WR);
    FUZZ_CHECK(ts_settle(&st), "the loop settles");
    if (st.close_calls == 0) {
        st.closing = 1;
        eddy_stream_close(st.s);
        FUZZ_CHECK(ts_settle(&st), "the loop settles after the close");
    }
    FUZZ_CHECK(st.close_calls == 1, "the close callback ran");
    FUZZ_CHECK(st.hs_calls == 1 && st.read_calls == 1,
               "every request got its callback");
    if (st.closing) {
        FUZZ_CHECK(st.hs_status == -ECANCELED && st.close_status == 0,
                   "a stream closed by its owner: -ECANCELED");
    } else {
        FUZZ_CHECK(ts_documented(st.hs_status), "a documented error");
        FUZZ_CHECK(st.close_status == st.hs_status &&
                       st.read_status == st.hs_status,
                   "one error for the handshake, the read and the close");
    }
out:
    if (st.loop != NULL)
        eddy_loop_close(st.loop, 1);
    if (st.peer >= 0)
        close(st.peer);
    eddy_tls_ctx_free(ctx);
    return 0;
}
