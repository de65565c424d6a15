/*
 * fuzz/stream_reads.c - iostream reads (iostream/stream.c) under fuzzing.
 *
 * Input: one byte of settings (max_buffer_size, read_chunk_size, whether
 * the peer half-closes at the end), a script of up to 12 reads
 * (read_bytes, partial or not, read_until, read_into, partial or not,
 * read_stream, read_until_close, each with its sizes), the cut points
 * (fuzz.h), then the bytes the peer sends.  A stream reads one end of a
 * socketpair; the peer writes the bytes in the fuzzer's pieces, the loop
 * running (bounded) after each.  Each read is made from the callback of
 * the one before.  Checks:
 *
 *  - the bytes delivered are the bytes sent, in order, none lost, none
 *    twice;
 *  - each read completes as its contract says, and exactly when it can:
 *    read_bytes / read_into with exactly n (partial: 1..n), read_until up
 *    to and including the first delimiter, read_stream in pieces adding
 *    up to n, read_until_close with everything at EOF;
 *  - the limits: a read_until whose delimiter is not within max_bytes
 *    fails with -EMSGSIZE, a read that needs more than max_buffer_size
 *    with -ENOBUFS, and either closes the stream with that error; a read
 *    the peer's EOF leaves short fails with EDDY_EOF and the partial data;
 *    a read that can complete does not hang;
 *  - the close callback runs once, last, with the error that closed the
 *    stream; nothing runs after it; everything is freed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz.h"

#include "eddy/iostream.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SR_MAX_OPS 12
#define SR_MAX_CUTS 16
#define SR_SPIN 8
#define SR_SETTLE 2000

enum { SR_BYTES, SR_PARTIAL, SR_UNTIL, SR_INTO, SR_INTO_PARTIAL, SR_STREAM,
       SR_CLOSE, SR_KINDS };

/* What a read must come to, once every byte has been sent. */
enum { SR_OK, SR_EOF, SR_EMSGSIZE, SR_ENOBUFS, SR_PENDING };

typedef struct sr_op {
    int kind;
    size_t n, max;
    const char *delim;
    size_t dlen;
} sr_op;

typedef struct sr_state {
    eddy_loop *loop;
    eddy_stream *s;
    int peer;
    const uint8_t *data; /* what the peer sends, all of it */
    size_t len, sent;
    size_t consumed;     /* bytes delivered so far */
    int half_close, closing;
    size_t max_buffer;
    sr_op ops[SR_MAX_OPS];
    size_t nops, cur;    /* the read pending is ops[cur] */
    int pending;         /* ops[cur] is pending */
    size_t piece_total;  /* read_stream: bytes so far */
    char *into;          /* read_into's buffer */
    int close_ran, failed;
    int close_err;
} sr_state;

static const char *const sr_delims[5] = {"\n", "\r\n", "\r\n\r\n", "ab", "x"};

/* The end of the first delimiter in the bytes not yet delivered, or 0. */
static size_t sr_find(const sr_state *st, const sr_op *op)
{
    const uint8_t *r = st->data + st->consumed;
    const uint8_t *hit = memmem(r, st->len - st->consumed, op->delim, op->dlen);

    return hit ? (size_t)(hit - r) + op->dlen : 0;
}

/* What ops[cur] must come to, every byte sent (see iostream.h). */
static int sr_expect(const sr_state *st, const sr_op *op, size_t *want)
{
    size_t left = st->len - st->consumed, m = st->max_buffer, e, avail, mx;
    int short_ = st->half_close ? SR_EOF : SR_PENDING;

    *want = 0;
    switch (op->kind) {
    case SR_BYTES:
    case SR_INTO:
        *want = op->n;
        return left >= op->n ? SR_OK : short_;
    case SR_PARTIAL:
    case SR_INTO_PARTIAL:
        *want = op->n < left ? op->n : left;
        return op->n == 0 || left > 0 ? SR_OK : short_;
    case SR_STREAM: /* the pieces so far are consumed already */
        *want = op->n - st->piece_total;
        if (op->n == SIZE_MAX)
            return st->half_close ? SR_OK : SR_PENDING;
        return left >= *want ? SR_OK : short_;
    case SR_UNTIL:
        e = sr_find(st, op);
        mx = op->max ? op->max : SIZE_MAX;
        if (e != 0 && e <= m) {
            *want = e;
            return e <= mx ? SR_OK : SR_EMSGSIZE;
        }
        avail = left < m ? left : m;
        if (avail >= mx)
            return SR_EMSGSIZE;
        return avail == m ? SR_ENOBUFS : short_;
    default: /* SR_CLOSE */
        if (left >= m)
            return SR_ENOBUFS;
        *want = left;
        return st->half_close ? SR_OK : SR_PENDING;
    }
}

static void sr_next(sr_state *st);

static void sr_on_read(eddy_stream *s, int status, const char *data,
                       size_t len, void *arg)
{
    sr_state *st = arg;
    const sr_op *op = &st->ops[st->cur];
    size_t want, left = st->len - st->consumed;
    int expect = sr_expect(st, op, &want);

    (void)s;
    FUZZ_CHECK(!st->close_ran, "no read callback after the close callback");
    FUZZ_CHECK(st->pending, "a read callback for a read that is pending");
    FUZZ_CHECK(len <= left && (len == 0 || memcmp(data, st->data + st->consumed,
                                                  len) == 0),
               "the bytes delivered are the bytes sent, in order");
    if (len > left || (len > 0 && memcmp(data, st->data + st->consumed, len)))
        st->failed = 1;
    if (status == EDDY_MORE) {
        FUZZ_CHECK(op->kind == SR_STREAM && len > 0,
                   "only read_stream hands over pieces, never empty ones");
        st->consumed += len;
        st->piece_total += len;
        FUZZ_CHECK(st->piece_total < op->n, "read_stream's pieces stay under n");
        return;
    }
    st->pending = 0;
    if (status == 0) {
        FUZZ_CHECK(expect == SR_OK, "a read completes only when it can");
        if (op->kind == SR_PARTIAL || op->kind == SR_INTO_PARTIAL)
            FUZZ_CHECK(op->n == 0 ? len == 0 : len >= 1 && len <= op->n,
                       "a partial read gets 1 to n bytes");
        else if (op->kind == SR_STREAM)
            FUZZ_CHECK(op->n == SIZE_MAX ? len == left
                                         : st->piece_total + len == op->n,
                       "read_stream's pieces add up to n");
        else if (expect == SR_OK)
            FUZZ_CHECK(len == want, "a read gets exactly what it asked for");
        st->consumed += len;
        st->piece_total = 0;
        st->cur++;
        sr_next(st);
        return;
    }
    st->consumed += len;
    if (status == EDDY_EOF) {
        FUZZ_CHECK(expect == SR_EOF, "EDDY_EOF only for a read the EOF cut short");
        FUZZ_CHECK(st->consumed == st->len, "EDDY_EOF hands over the rest");
    } else if (status == -EMSGSIZE) {
        FUZZ_CHECK(expect == SR_EMSGSIZE,
                   "-EMSGSIZE only when the delimiter is not within max_bytes");
    } else if (status == -ENOBUFS) {
        FUZZ_CHECK(expect == SR_ENOBUFS,
                   "-ENOBUFS only when a read needs more than max_buffer_size");
    } else {
        FUZZ_CHECK(status == -ECANCELED && st->closing,
                   "no other error than the limits and our own close");
        FUZZ_CHECK(expect == SR_PENDING,
                   "a read that can complete does not hang");
    }
}

static void sr_on_close(eddy_stream *s, int err, void *arg)
{
    sr_state *st = arg;

    FUZZ_CHECK(!st->close_ran, "the close callback runs once");
    FUZZ_CHECK(!st->pending, "the close callback runs after the reads");
    FUZZ_CHECK(err == eddy_stream_error(s), "the close callback gets the error");
    st->close_ran = 1;
    st->close_err = err;
}

/* Makes the next read of the script, if any. */
static void sr_next(sr_state *st)
{
    const sr_op *op;
    int err = 0;

    if (st->cur >= st->nops || st->failed || st->closing)
        return;
    op = &st->ops[st->cur];
    st->piece_total = 0;
    switch (op->kind) {
    case SR_BYTES:
    case SR_PARTIAL:
        err = eddy_stream_read_bytes(st->s, op->n, op->kind == SR_PARTIAL,
                                     sr_on_read, st);
        break;
    case SR_UNTIL:
        err = eddy_stream_read_until(st->s, op->delim, op->dlen, op->max,
                                     sr_on_read, st);
        break;
    case SR_INTO:
    case SR_INTO_PARTIAL:
        free(st->into);
        st->into = malloc(op->n ? op->n : 1);
        if (st->into == NULL) {
            st->failed = 1;
            return;
        }
        err = eddy_stream_read_into(st->s, st->into, op->n,
                                    op->kind == SR_INTO_PARTIAL, sr_on_read,
                                    st);
        break;
    case SR_STREAM:
        err = eddy_stream_read_stream(st->s, op->n, sr_on_read, st);
        break;
    default:
        err = eddy_stream_read_until_close(st->s, sr_on_read, st);
        break;
    }
    if (err == 0) {
        st->pending = 1;
        return;
    }
    st->failed = 1; /* no more reads */
    if (err == -ENOBUFS)
        FUZZ_CHECK(op->n > st->max_buffer && (op->kind == SR_BYTES ||
                                              op->kind == SR_PARTIAL),
                   "a read is refused with -ENOBUFS only when n > "
                   "max_buffer_size");
    else
        FUZZ_CHECK(err == -EPIPE && st->half_close && st->consumed == st->len,
                   "a read is refused with -EPIPE only at EOF");
}

static int sr_iterate(sr_state *st)
{
    eddy_loop_stats a, b;

    eddy_loop_get_stats(st->loop, &a);
    eddy_loop_run_once(st->loop, 0);
    eddy_loop_get_stats(st->loop, &b);
    return a.events != b.events || a.callbacks_run != b.callbacks_run ||
           a.timers_run != b.timers_run;
}

static int sr_settle(sr_state *st)
{
    int quiet = 0;

    for (int i = 0; i < SR_SETTLE; i++) {
        quiet = sr_iterate(st) ? 0 : quiet + 1;
        if (quiet == 2)
            return 1;
    }
    return 0;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    static const size_t bufs[4] = {64, 256, 4096, 0};
    static const size_t chunks[4] = {16, 100, 4096, 0};
    fuzz_in in = {data, size};
    unsigned cfg = fuzz_byte(&in);
    eddy_stream_options opt = {bufs[cfg & 3], chunks[(cfg >> 2) & 3], 0};
    sr_state *st = calloc(1, sizeof *st);
    size_t cuts[SR_MAX_CUTS], ncuts;
    int sv[2] = {-1, -1};

    if (st == NULL)
        return 0;
    st->half_close = (cfg >> 4) & 1;
    st->max_buffer = opt.max_buffer_size ? opt.max_buffer_size : 100u << 20;
    st->nops = fuzz_byte(&in) % SR_MAX_OPS + 1;
    for (size_t i = 0; i < st->nops; i++) {
        sr_op *op = &st->ops[i];
        unsigned k = fuzz_byte(&in), a = fuzz_byte(&in), b = fuzz_byte(&in);

        op->kind = (int)(k % SR_KINDS);
        op->n = a * 4 + b % 4;
        if (op->kind == SR_STREAM && a == 255)
            op->n = SIZE_MAX; /* until EOF */
        op->delim = sr_delims[a % 5];
        op->dlen = strlen(op->delim);
        op->max = b * 4;
    }
    ncuts = fuzz_cuts(&in, cuts, SR_MAX_CUTS);
    st->data = in.p;
    st->len = in.n;
    st->peer = -1;

    if (eddy_loop_new(&st->loop) != 0)
        goto out;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0)
        goto out;
    st->peer = sv[0];
    if (eddy_stream_new(st->loop, sv[1], &opt, &st->s) != 0)
        goto out;
    eddy_stream_set_close_callback(st->s, sr_on_close, st);
    sr_next(st);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : st->len;

        while (st->sent < to) {
            ssize_t w = send(st->peer, st->data + st->sent, to - st->sent,
                             MSG_NOSIGNAL);

            if (w <= 0)
                break;
            st->sent += (size_t)w;
        }
        for (int k = 0; k < SR_SPIN && sr_iterate(st); k++)
            ;
    }
    FUZZ_CHECK(st->sent == st->len || st->close_ran,
               "the socketpair took every byte");
    if (st->half_close)
        shutdown(st->peer, SHUT_WR);
    FUZZ_CHECK(sr_settle(st), "the loop settles");
    if (!st->close_ran) {
        st->closing = 1;
        eddy_stream_close(st->s);
        FUZZ_CHECK(sr_settle(st), "the loop settles after the close");
    }
    FUZZ_CHECK(st->close_ran, "the close callback ran");
    FUZZ_CHECK(!st->pending, "every read got its callback");
out:
    if (st->loop != NULL)
        eddy_loop_close(st->loop, 1);
    if (st->peer >= 0)
        close(st->peer);
    free(st->into);
    free(st);
    return 0;
}
