/*
 * fuzz/client_conn.c - the HTTP client's connection (httpclient/conn.c)
 * fed arbitrary server bytes: one fetch over a socketpair, on a real loop,
 * through eddy__http_client_fetch_on(), which runs the pool's own code
 * over a stream the harness made.
 *
 * Input: one byte of settings (bit 0 HEAD, 1 streamed to on_chunk, 2
 * EDDY_FETCH_GZIP, 3 small limits, 4 the server closes at the end, 5 a
 * produced chunked body, 6 Expect: 100-continue, 7 on_chunk pauses and a
 * timer resumes), one byte for on_chunk to cancel at that piece (0:
 * never), the cut points (fuzz.h), then what the server sends.  The
 * pieces go into the server's end one after another, with the loop run
 * (bounded) after each.
 *
 * Checks:
 *  - the final callback runs at most once, and nothing runs after it or
 *    after a cancel; the fetch ends, by its callback, a cancel, or (the
 *    server silent, the connection open) the harness's cancel;
 *  - a response handed over is one HTTP allows: status 100..599 but 101,
 *    fields that are tokens with values free of control characters, no
 *    body for HEAD, 204 and 304, a body within max_body_size, and, when
 *    streamed, pieces that add up to what was read;
 *  - an error is one the header documents;
 *  - what the client sent parses as a request (the shared parser);
 *  - everything is freed (LeakSanitizer), whatever the bytes were.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"
#include "fuzz_http.h"

#include "../httpclient/httpclient_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CC_MAX_CUTS 16
#define CC_SPIN 6     /* loop iterations after each piece */
#define CC_SETTLE 400 /* iterations for the fetch to end */

typedef struct cc_state {
    eddy_loop *loop;
    eddy_http_fetch *f;
    int done, cancelled, status, code;
    int headers, after_end;
    uint64_t streamed, body, max_body;
    int cancel_at, chunks, pause;
    int head_req, produced;
    eddy_timer_id resume;
} cc_state;

static void cc_check_response(cc_state *st, const eddy_http_response *r)
{
    FUZZ_CHECK(r->status >= 100 && r->status <= 599 && r->status != 101,
               "a status of 100..599, not 101");
    FUZZ_CHECK(r->version == 10 || r->version == 11, "HTTP/1.0 or 1.1");
    for (size_t i = 0; i < r->nheaders; i++) {
        const eddy_http_header *h = &r->headers[i];

        FUZZ_CHECK(fuzz_is_token(h->name, h->name_len), "a name is a token");
        for (size_t j = 0; j < h->value_len; j++) {
            unsigned char ch = (unsigned char)h->value[j];

            FUZZ_CHECK((ch >= 0x20 && ch != 0x7f) || ch == '\t',
                       "a value has no control characters");
        }
    }
    for (size_t j = 0; j < r->reason.len; j++) {
        unsigned char ch = (unsigned char)r->reason.p[j];

        FUZZ_CHECK((ch >= 0x20 && ch != 0x7f) || ch == '\t',
                   "a reason has no control characters");
    }
    (void)st;
}

static void cc_done(eddy_http_fetch *f, int status, const eddy_http_response *r,
                    void *arg)
{
    cc_state *st = arg;

    (void)f;
    FUZZ_CHECK(!st->done && !st->cancelled, "one final callback, not after "
                                            "a cancel");
    st->done++;
    st->status = status;
    if (status != 0) {
        FUZZ_CHECK(r == NULL, "no response with an error");
        FUZZ_CHECK(
            status == EDDY_HTTP_EMALFORMED || status == EDDY_HTTP_ETRUNCATED ||
                status == EDDY_HTTP_ENORESPONSE ||
                status == EDDY_HTTP_EHEADSIZE || status == EDDY_HTTP_EHEADERS ||
                status == EDDY_HTTP_EBODYSIZE || status == EDDY_HTTP_EDECODE ||
                status == EDDY_HTTP_EREDIRECTS ||
                status == EDDY_HTTP_EBADREDIRECT || status == -ECONNRESET ||
                status == -EPIPE || status == -ENOMEM,
            "a documented error");
        return;
    }
    FUZZ_CHECK(r != NULL, "a response with status 0");
    cc_check_response(st, r);
    st->code = r->status;
    st->body = r->body.len;
    FUZZ_CHECK(r->body.p[r->body.len] == '\0', "the body is NUL-ended");
    FUZZ_CHECK(r->body.len <= st->max_body, "the body fits max_body_size");
    if (st->head_req || r->status == 204 || r->status == 304)
        FUZZ_CHECK(r->body.len == 0 && st->streamed == 0,
                   "no body for HEAD, 204 and 304");
}

static void cc_resume(eddy_loop *loop, void *arg)
{
    cc_state *st = arg;

    (void)loop;
    st->resume = 0;
    if (!st->done && !st->cancelled)
        eddy_http_fetch_resume(st->f);
}

static void cc_headers(eddy_http_fetch *f, const eddy_http_response *r,
                       void *arg)
{
    cc_state *st = arg;

    (void)f;
    FUZZ_CHECK(!st->done && !st->cancelled && st->headers == 0,
               "on_headers once, before the end");
    st->headers++;
    cc_check_response(st, r);
}

static void cc_chunk(eddy_http_fetch *f, const char *data, size_t len,
                     void *arg)
{
    cc_state *st = arg;

    FUZZ_CHECK(!st->done && !st->cancelled, "no piece after the end");
    FUZZ_CHECK(len > 0 && data != NULL, "a piece has bytes");
    st->streamed += len;
    FUZZ_CHECK(st->streamed <= st->max_body, "pieces within max_body_size");
    if (++st->chunks == st->cancel_at) {
        st->cancelled = 1;
        eddy_http_fetch_cancel(f);
        return;
    }
    if (st->pause && st->resume == 0) {
        eddy_http_fetch_pause(f);
        eddy_loop_call_later(st->loop, 0, cc_resume, st, &st->resume);
    }
}

static void cc_produce(eddy_http_fetch *f, void *arg)
{
    cc_state *st = arg;

    if (st->produced++ == 0)
        eddy_http_fetch_write(f, "abc", 3);
    else
        eddy_http_fetch_end_body(f);
}

static void cc_spin(eddy_loop *loop, int n)
{
    for (int i = 0; i < n; i++)
        eddy_loop_run_once(loop, 0);
}

/* What the client sent must parse as a request. */
static void cc_check_request(int fd)
{
    static char buf[65536];
    eddy_http_header slots[64];
    eddy__http_parser ps = {0};
    eddy__http_head h = {0};
    size_t n = 0;
    ssize_t k;
    int r;

    while (n < sizeof buf && (k = read(fd, buf + n, sizeof buf - n)) > 0)
        n += (size_t)k;
    if (n == 0)
        return;
    ps.max_head = sizeof buf;
    ps.max_uri = sizeof buf;
    h.headers = slots;
    h.max_headers = 64;
    r = eddy__http_parse_head(&ps, buf, n, &h);
    FUZZ_CHECK(r > 0, "the client's request parses");
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in), cancel = fuzz_byte(&in);
    size_t cuts[CC_MAX_CUTS], ncuts, at = 0;
    eddy_http_client_options co = {0};
    eddy_http_fetch_options o = {0};
    eddy_http_client *c = NULL;
    eddy_stream *s = NULL;
    cc_state st = {0};
    int sv[2];

    ncuts = fuzz_cuts(&in, cuts, CC_MAX_CUTS);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0)
        return 0;
    if (eddy_loop_new(&st.loop) != 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    if (cfg & 8) {
        co.max_header_size = 256;
        co.max_headers = 4;
        co.max_body_size = 64;
    }
    st.max_body = co.max_body_size ? co.max_body_size : 100u << 20;
    st.head_req = cfg & 1;
    st.cancel_at = (int)cancel;
    st.pause = (cfg >> 7) & 1;
    o.method = st.head_req ? "HEAD" : (cfg & 32) ? "POST" : "GET";
    if (cfg & 2) {
        o.on_headers = cc_headers;
        o.on_chunk = cc_chunk;
    }
    if ((cfg & 4) && eddy__gunzip_available())
        o.flags |= EDDY_FETCH_GZIP;
    if (cfg & 32)
        o.body_producer = cc_produce;
    if (cfg & 64)
        o.flags |= EDDY_FETCH_EXPECT_CONTINUE;
    o.flags |= EDDY_FETCH_NO_REDIRECTS;
    if (eddy_http_client_new(st.loop, &co, &c) != 0) {
        close(sv[0]);
        goto out;
    }
    /* (the stream owns sv[0] from here, also when this fails) */
    if (eddy_stream_new(st.loop, sv[0], NULL, &s) != 0 ||
        eddy__http_client_fetch_on(c, s, "http://fuzz.example/x", &o, cc_done,
                                   &st, &st.f) != 0)
        goto out;
    for (size_t i = 0; i <= ncuts && !st.done && !st.cancelled; i++) {
        size_t end = i < ncuts ? cuts[i] : in.n;

        if (end > at && write(sv[1], in.p + at, end - at) < 0)
            break;
        at = end;
        cc_spin(st.loop, CC_SPIN);
    }
    if (cfg & 16)
        shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < CC_SETTLE && !st.done && !st.cancelled; i++)
        eddy_loop_run_once(st.loop, 0);
    if (!st.done && !st.cancelled) { /* the server went silent */
        st.cancelled = 1;
        eddy_http_fetch_cancel(st.f);
    }
    cc_check_request(sv[1]);
    if (st.done && st.status == 0 && o.on_chunk == NULL)
        FUZZ_CHECK(st.streamed == 0, "nothing streamed without on_chunk");
out:
    eddy_http_client_free(c);
    if (st.resume != 0)
        eddy_loop_remove_timeout(st.loop, st.resume);
    cc_spin(st.loop, 4);
    FUZZ_CHECK(st.done <= 1, "at most one final callback");
    eddy_loop_close(st.loop, 0);
    close(sv[1]);
    return 0;
}
