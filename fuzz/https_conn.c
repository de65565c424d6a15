/*
 * fuzz/https_conn.c - the HTTPS server (httpserver/ with a TLS context)
 * fed arbitrary client bytes: its handshake path, and its request path
 * behind a real handshake.  One connection over a socketpair, entering
 * where the TCP server hands accepted streams over (eddy__server_take),
 * driven by the loop.
 *
 * Input: one byte of settings, the cut points (fuzz.h), then the bytes.
 *
 *   bit 0  raw: the bytes go to the server as they are, in place of a TLS
 *          client's (the handshake: garbage, plaintext HTTP, ClientHellos
 *          whole, cut or broken).  Else a TLS client (eddy's, on the same
 *          loop, verifying nothing) shakes hands first and sends the bytes
 *          as its plaintext: the requests behind TLS.
 *   bit 1  small limits (head, URI, headers, body, linger bytes)
 *   bit 2  the client ends with a half-close: close_notify then its FIN
 *          (raw: a FIN)
 *   bit 3  the client ends by cutting TCP beneath TLS (no close_notify)
 *   bit 4  the server is freed before the loop settles
 *   bit 5  the server stops at TLS 1.2
 *
 * The pieces go one by one with the loop run (bounded) after each; what
 * the server sends back is read as it comes.  Checks:
 *
 *  - raw: no request ever reaches a handler, what the server sends is TLS
 *    records and nothing else (an answer in plaintext would break them;
 *    searching it for "HTTP/" is not enough, as a ServerHello echoes the
 *    client's session id, which may hold those bytes), and a client that
 *    half-closes is disconnected;
 *  - TLS: the handshake completes; every response is a status line and
 *    header fields framed by Content-Length, chunked coding or the close;
 *    1xx is only 100 Continue; no more final responses than request lines
 *    sent, plus one refusal; nothing after a Connection: close; a client
 *    that ended (half-close or cut) is disconnected; and a client that did
 *    not cut TCP itself sees the server end with close_notify, never a
 *    truncation;
 *  - the loop settles within a bounded number of iterations, and
 *    everything is freed (LeakSanitizer), also when the server is freed
 *    with a handshake or a request under way.
 *
 * The server's certificate and key are fuzz_tls.h's.  The contexts are
 * made once per process; the client keeps no sessions (it names no
 * server), so every input is a full handshake.  Built without TLS, the
 * harness does nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"
#include "fuzz_tls.h"

#include "../httpserver/http_internal.h"
#include "eddy/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HC_MAX_CUTS 16
#define HC_SPIN 8
#define HC_SETTLE 4000
#define HC_OUT_MAX (1u << 20) /* what the harness keeps of the answers */
#define HC_MAX_LOG 256

/* The contexts, made once: [0] the server, [1] the server at TLS 1.2,
 * [2] the client. */
static eddy_tls_ctx *hc_ctx[3];

static void hc_cleanup(void)
{
    for (int i = 0; i < 3; i++)
        eddy_tls_ctx_free(hc_ctx[i]);
}

static int hc_contexts(void)
{
    const char *pem;

    if (hc_ctx[2] != NULL)
        return 0;
    if ((pem = fuzz_pem_file()) == NULL)
        return -1;
    atexit(hc_cleanup);
    for (int i = 0; i < 2; i++)
        if (eddy_tls_ctx_new(EDDY_TLS_SERVER, &hc_ctx[i]) != 0 ||
            eddy_tls_ctx_load_cert_chain(hc_ctx[i], pem, NULL) != 0)
            return -1;
    if (eddy_tls_ctx_set_versions(hc_ctx[1], 0, EDDY_TLS_1_2) != 0 ||
        eddy_tls_ctx_new(EDDY_TLS_CLIENT, &hc_ctx[2]) != 0 ||
        eddy_tls_ctx_set_verify(hc_ctx[2], EDDY_TLS_VERIFY_NONE) != 0)
        return -1;
    return 0;
}

typedef struct hc_state {
    eddy_loop *loop;
    eddy_http_server *srv;
    int raw;          /* the client's fd in raw mode, else -1 */
    eddy_stream *cli; /* the TLS client, NULL once closed */
    int hs_calls, hs_status;
    int read_status; /* the error that ended the client's reading */
    int eof;         /* the server's end reached the client */
    fuzz_buf out;    /* what the server sent (plaintext over TLS) */
    size_t handled;  /* requests that reached a handler */
    int log_status[HC_MAX_LOG], log_head[HC_MAX_LOG]; /* the access log */
    size_t nlog, lost_log;
    eddy_timer_id later;
    eddy_http_request *held; /* GET /later until its timer */
} hc_state;

/* --- the server's routes ---------------------------------------------------
 */

static void hc_access(void *arg, const eddy_http_request *req, int status,
                      uint64_t bytes, double ms)
{
    hc_state *st = arg;
    eddy_str m = eddy_http_method(req);

    (void)bytes, (void)ms;
    if (eddy_http_aborted(req))
        return; /* its client was gone: never answered */
    if (st->nlog == HC_MAX_LOG) {
        st->lost_log++;
        return;
    }
    st->log_head[st->nlog] = m.len == 4 && memcmp(m.p, "HEAD", 4) == 0;
    st->log_status[st->nlog++] = status;
}

static void hc_root(eddy_http_request *req, void *arg)
{
    ((hc_state *)arg)->handled++;
    eddy_http_respond(req, 200, NULL, 0, "hello", 5);
}

static void hc_echo(eddy_http_request *req, void *arg)
{
    eddy_str b = eddy_http_body(req);

    ((hc_state *)arg)->handled++;
    eddy_http_respond(req, 200, NULL, 0, b.p, b.len);
}

static void hc_chunked(eddy_http_request *req, void *arg)
{
    ((hc_state *)arg)->handled++;
    if (eddy_http_start_response(req, 200, NULL, NULL, 0, -1) == 0) {
        eddy_http_write(req, "chunk", 5, NULL, NULL);
        eddy_http_write(req, "s", 1, NULL, NULL);
    }
    eddy_http_finish(req);
}

static void hc_on_body(eddy_http_request *req, int status, const char *data,
                       size_t len, int done, void *arg)
{
    (void)data, (void)len, (void)arg;
    if (!done)
        return;
    if (status == 0)
        eddy_http_respond(req, 200, NULL, 0, "streamed", 8);
    else if (status == -ETIMEDOUT || status == -ECONNRESET ||
             status == -ECANCELED)
        eddy_http_finish(req);
    else
        eddy_http_respond(req, status == EDDY_HTTP_TOO_LARGE ? 413 : 400, NULL,
                          0, NULL, 0);
}

static void hc_stream(eddy_http_request *req, void *arg)
{
    ((hc_state *)arg)->handled++;
    if (eddy_http_read_body(req, hc_on_body, arg) != 0)
        eddy_http_respond(req, 400, NULL, 0, NULL, 0);
}

static void hc_on_later(eddy_loop *loop, void *arg)
{
    hc_state *st = arg;
    eddy_http_request *req = st->held;

    (void)loop;
    st->later = 0;
    st->held = NULL;
    eddy_http_on_close(req, NULL, NULL);
    eddy_http_respond(req, 200, NULL, 0, "later", 5);
}

static void hc_later_gone(eddy_http_request *req, void *arg)
{
    hc_state *st = arg;

    eddy_loop_remove_timeout(st->loop, st->later);
    st->later = 0;
    st->held = NULL;
    eddy_http_finish(req);
}

static void hc_later(eddy_http_request *req, void *arg)
{
    hc_state *st = arg;

    st->handled++;
    if (st->held != NULL ||
        eddy_loop_call_later(st->loop, 0, hc_on_later, st, &st->later) != 0) {
        eddy_http_respond(req, 503, NULL, 0, NULL, 0);
        return;
    }
    st->held = req;
    eddy_http_on_close(req, hc_later_gone, st);
}

/* --- the client ------------------------------------------------------------
 */

static void hc_keep(hc_state *st, const char *p, size_t n)
{
    if (st->out.len + n <= HC_OUT_MAX)
        fuzz_put(&st->out, p, n);
}

static void hc_on_hs(eddy_stream *s, int status, void *arg)
{
    hc_state *st = arg;

    (void)s;
    st->hs_calls++;
    st->hs_status = status;
}

static void hc_on_read(eddy_stream *s, int status, const char *data, size_t len,
                       void *arg)
{
    hc_state *st = arg;

    hc_keep(st, data, len);
    if (status < 0) {
        st->read_status = status;
        st->eof = 1;
        return;
    }
    if (eddy_stream_read_bytes(s, 65536, 1, hc_on_read, st) != 0)
        st->eof = 1;
}

static void hc_on_close(eddy_stream *s, int status, void *arg)
{
    hc_state *st = arg;

    (void)s, (void)status;
    st->cli = NULL;
    st->eof = 1;
}

/* The raw client reads what has come. */
static void hc_drain(hc_state *st)
{
    char buf[16384];
    ssize_t n;

    while (!st->eof &&
           (n = recv(st->raw, buf, sizeof buf, MSG_DONTWAIT)) != 0) {
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                st->eof = 1;
            return;
        }
        hc_keep(st, buf, (size_t)n);
    }
    st->eof = 1;
}

static int hc_iterate(hc_state *st)
{
    eddy_loop_stats a, b;
    size_t had = st->out.len;
    int eof = st->eof;

    eddy_loop_get_stats(st->loop, &a);
    eddy_loop_run_once(st->loop, 0);
    eddy_loop_get_stats(st->loop, &b);
    if (st->raw >= 0)
        hc_drain(st);
    return a.events != b.events || a.callbacks_run != b.callbacks_run ||
           a.timers_run != b.timers_run || st->out.len != had || st->eof != eof;
}

static int hc_settle(hc_state *st)
{
    int quiet = 0;

    for (int i = 0; i < HC_SETTLE; i++) {
        quiet = hc_iterate(st) ? 0 : quiet + 1;
        if (quiet == 2)
            return 1;
    }
    return 0;
}

/* --- the responses, as a strict client reads them --------------------------
 */

static const char *hc_find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);

    for (; p + n <= end; p++)
        if (memcmp(p, s, n) == 0)
            return p;
    return NULL;
}

/* Whether [p, end) is a run of TLS records (RFC 8446 5.1: content type
 * 20 to 23, version 3.x, length), the last of which may be cut short. */
static int hc_tls_records(const char *p, const char *end)
{
    const unsigned char *r = (const unsigned char *)p;

    while (end - (const char *)r >= 5) {
        if (r[0] < 20 || r[0] > 23 || r[1] != 3)
            return 0;
        if (end - (const char *)r < 5 + ((r[3] << 8) | r[4]))
            return 1;
        r += 5 + ((r[3] << 8) | r[4]);
    }
    return (const char *)r == end || (r[0] >= 20 && r[0] <= 23);
}

/* Whether the header block [h, e) has name (lowercase) with a value that
 * starts with value (lowercase, case-insensitive match); *v gets it. */
static int hc_header(const char *h, const char *e, const char *name,
                     const char **v)
{
    size_t n = strlen(name);

    while (h < e) {
        const char *l = hc_find(h, e + 2, "\r\n");

        if (l == NULL)
            return 0;
        if ((size_t)(l - h) > n && h[n] == ':' &&
            strncasecmp(h, name, n) == 0) {
            *v = h + n + 1;
            while (**v == ' ')
                (*v)++;
            return 1;
        }
        h = l + 2;
    }
    return 0;
}

/* Skips a chunked body at *p; 0 when it is incomplete or malformed. */
static int hc_chunks(const char **p, const char *end)
{
    for (;;) {
        const char *l = hc_find(*p, end, "\r\n");
        unsigned long size;
        char *stop;

        if (l == NULL)
            return 0;
        size = strtoul(*p, &stop, 16);
        FUZZ_CHECK(stop == l && stop > *p, "a chunk size line is hex only");
        *p = l + 2;
        if (size == 0)
            break;
        if ((size_t)(end - *p) < size + 2)
            return 0;
        FUZZ_CHECK(memcmp(*p + size, "\r\n", 2) == 0, "a chunk ends in CRLF");
        *p += size + 2;
    }
    if (end - *p < 2)
        return 0;
    FUZZ_CHECK(memcmp(*p, "\r\n", 2) == 0, "no trailer from eddy");
    *p += 2;
    return 1;
}

static void hc_check_responses(hc_state *st, const uint8_t *in, size_t n)
{
    /* (NULL + 0 is undefined: out is NULL until a byte came.) */
    const char *p = st->out.p ? st->out.p : "", *end = p + st->out.len, *v, *h;
    size_t lines = 0, finals = 0;
    int closed = 0, incomplete = 0;

    for (size_t i = 0; i + 7 <= n; i++)
        lines += memcmp(in + i, "HTTP/1.", 7) == 0;
    while (p < end && !incomplete) {
        const char *head_end = hc_find(p, end, "\r\n\r\n");
        int status, head;

        FUZZ_CHECK(!closed, "nothing follows Connection: close");
        if (head_end == NULL) {
            incomplete = 1;
            break;
        }
        FUZZ_CHECK(head_end - p >= 12 && memcmp(p, "HTTP/1.1 ", 9) == 0 &&
                       p[12] == ' ',
                   "a response begins with a status line");
        status = atoi(p + 9);
        h = hc_find(p, head_end + 2, "\r\n") + 2; /* the header fields */
        if (status / 100 == 1) {
            FUZZ_CHECK(status == 100, "the only 1xx is 100 Continue");
            p = head_end + 4;
            continue;
        }
        /* In order, the requests the access log saw finished; after them
         * only the answer to a head that did not parse, which closes. */
        head = finals < st->nlog && st->log_head[finals];
        if (finals < st->nlog && finals < HC_MAX_LOG)
            FUZZ_CHECK(st->log_status[finals] == status,
                       "responses come in the order requests finished");
        finals++;
        closed = hc_header(h, head_end, "connection", &v) &&
                 strncasecmp(v, "close", 5) == 0;
        p = head_end + 4;
        if (head || status == 204 || status == 304)
            continue;
        if (hc_header(h, head_end, "transfer-encoding", &v)) {
            FUZZ_CHECK(!hc_header(h, head_end, "content-length", &v),
                       "never both Content-Length and chunked");
            incomplete = !hc_chunks(&p, end);
        } else if (hc_header(h, head_end, "content-length", &v)) {
            unsigned long long len = strtoull(v, NULL, 10);

            if ((unsigned long long)(end - p) < len)
                incomplete = 1;
            else
                p += len;
        } else {
            FUZZ_CHECK(closed, "a body without length ends with a close");
            FUZZ_CHECK(st->eof, "a close-delimited body ends at the close");
            p = end;
        }
    }
    FUZZ_CHECK(!incomplete || st->out.len + 65536 > HC_OUT_MAX,
               "no response is left incomplete");
    FUZZ_CHECK(finals <= lines + 1,
               "no more responses than request lines, and one refusal");
    FUZZ_CHECK(st->lost_log || finals >= st->nlog,
               "every finished request was answered");
    if (closed)
        FUZZ_CHECK(st->eof, "the server closes after Connection: close");
}

/* --- the harness ------------------------------------------------------------
 */

static int hc_setup(hc_state *st, unsigned cfg)
{
    eddy_http_options o;
    struct sockaddr_storage peer;
    eddy_stream *s;
    int sv[2];

    memset(&o, 0, sizeof o);
    if (cfg & 2) {
        o.max_header_size = 512;
        o.max_uri_length = 64;
        o.max_headers = 8;
        o.max_body_size = 256;
        o.max_linger_bytes = 1024;
    }
    o.tls = hc_ctx[(cfg >> 5) & 1];
    o.access_log = hc_access;
    o.access_log_arg = st;
    if (eddy_loop_new(&st->loop) != 0 ||
        eddy_http_server_new(st->loop, &o, &st->srv) != 0)
        return -1;
    if (eddy_http_server_route(st->srv, "GET", "/", 0, hc_root, st) ||
        eddy_http_server_route(st->srv, "POST", "/echo", 0, hc_echo, st) ||
        eddy_http_server_route(st->srv, "GET", "/chunked", 0, hc_chunked, st) ||
        eddy_http_server_route(st->srv, "GET", "/later", 0, hc_later, st) ||
        eddy_http_server_route(st->srv, NULL, "/stream",
                               EDDY_ROUTE_PREFIX | EDDY_ROUTE_STREAM, hc_stream,
                               st))
        return -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0)
        return -1;
    /* As the TCP server hands an accepted stream to the server. */
    memset(&peer, 0, sizeof peer);
    peer.ss_family = AF_UNIX;
    if (eddy_stream_new(st->loop, sv[1], NULL, &s) != 0) {
        close(sv[0]);
        return -1;
    }
    eddy__server_take(st->srv, s, (struct sockaddr *)&peer,
                      sizeof(sa_family_t));
    if (cfg & 1) {
        st->raw = sv[0];
        return 0;
    }
    if (eddy_stream_new(st->loop, sv[0], NULL, &st->cli) != 0)
        return -1;
    eddy_stream_set_close_callback(st->cli, hc_on_close, st);
    if (eddy_stream_start_tls(st->cli, hc_ctx[2], NULL, 0, hc_on_hs, st) != 0 ||
        eddy_stream_read_bytes(st->cli, 65536, 1, hc_on_read, st) != 0)
        return -1;
    return 0;
}

static void hc_teardown(hc_state *st)
{
    if (st->cli != NULL)
        eddy_stream_close(st->cli);
    if (st->srv != NULL)
        eddy_http_server_free(st->srv);
    st->srv = NULL;
    if (st->loop != NULL) {
        FUZZ_CHECK(hc_settle(st), "the loop settles after the server is freed");
        FUZZ_CHECK(st->held == NULL, "a held request was finished");
        eddy_loop_close(st->loop, 1);
    }
    if (st->raw >= 0)
        close(st->raw);
    free(st->out.p);
}

/* Sends p[0, n) as the client does; returns 0 when the connection ended. */
static int hc_send(hc_state *st, const uint8_t *p, size_t n)
{
    if (st->raw >= 0) {
        while (n > 0) {
            ssize_t w = send(st->raw, p, n, MSG_NOSIGNAL);

            if (w <= 0)
                return 0;
            p += w;
            n -= (size_t)w;
        }
        return 1;
    }
    return st->cli != NULL && eddy_stream_write(st->cli, p, n, NULL, NULL) == 0;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    size_t cuts[HC_MAX_CUTS], ncuts = fuzz_cuts(&in, cuts, HC_MAX_CUTS);
    int raw = cfg & 1, half = (cfg >> 2) & 1, cut = (cfg >> 3) & 1;
    int free_early = (cfg >> 4) & 1, ended = 0;
    hc_state st;
    size_t from = 0;

    if (eddy_tls_library() == NULL || hc_contexts() != 0)
        return 0;
    memset(&st, 0, sizeof st);
    st.raw = -1;
    if (hc_setup(&st, cfg) != 0) {
        hc_teardown(&st);
        return 0;
    }
    if (!raw) {
        for (int i = 0; i < HC_SETTLE && st.hs_calls == 0; i++)
            hc_iterate(&st);
        FUZZ_CHECK(st.hs_calls == 1 && st.hs_status == 0,
                   "eddy's client and server shake hands");
    }
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : in.n;

        if (from < to && !hc_send(&st, in.p + from, to - from))
            break;
        from = to;
        for (int k = 0; k < HC_SPIN && hc_iterate(&st); k++)
            ;
    }
    if (cut) {
        if (raw || st.cli != NULL) /* (it may have ended already) */
            shutdown(raw ? st.raw : eddy_stream_fd(st.cli), SHUT_WR);
        ended = 1;
    } else if (half) {
        if (raw)
            shutdown(st.raw, SHUT_WR);
        ended =
            raw || (st.cli != NULL && eddy_stream_shutdown_write(st.cli) == 0);
    }
    if (free_early) {
        eddy_http_server_free(st.srv);
        st.srv = NULL;
    }
    FUZZ_CHECK(hc_settle(&st), "the loop settles");
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr,
                "https_conn: %zu requests handled, eof %d (%s), %zu "
                "bytes back:\n%.*s\n",
                st.handled, st.eof, eddy_strerror(st.read_status), st.out.len,
                (int)(st.out.len < 4096 ? st.out.len : 4096), st.out.p);
    if (raw) {
        FUZZ_CHECK(st.handled == 0, "no request without a handshake");
        FUZZ_CHECK(st.out.p == NULL ||
                       hc_tls_records(st.out.p, st.out.p + st.out.len),
                   "nothing is answered in plaintext");
    } else if (!free_early) {
        hc_check_responses(&st, in.p, in.n);
        FUZZ_CHECK(cut || st.read_status != EDDY_TLS_TRUNCATED,
                   "the server ends TLS with close_notify");
    }
    if (!free_early && ended && st.held == NULL)
        FUZZ_CHECK(st.eof, "a client that ended is disconnected");
    hc_teardown(&st);
    return 0;
}
