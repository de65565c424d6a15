/*
 * websocket/conn.c - a WebSocket connection (RFC 6455, with RFC 7692's
 * permessage-deflate) over an eddy_stream, in either role, from the end
 * of the opening handshake to the end of the TCP connection: messages in
 * and out, pings and pongs, the closing handshake, timeouts, and sending
 * with the stream's backpressure.
 *
 * Reading.  Between frames the connection asks the stream for whatever
 * has arrived (eddy_stream_read_bytes, partial, up to 64 KiB) and copies
 * it into a buffer of its own, `in`, because the frame reader unmasks in
 * place; a message that arrived whole is handed over from there.  Inside
 * a data frame with at least 8 KiB still to come, reads go straight into
 * place (eddy_stream_read_into): into the message being put together,
 * which grows with what actually arrives (a peer that announces 10 MiB
 * and sends 14 bytes gets no 10 MiB buffer), or into `in` for compressed
 * or streamed messages.  Once a message is delivered and no frame is
 * under way, both buffers are freed: an idle connection holds none
 * (docs/architecture.md, "WebSocket: the connection").
 *
 * Closing.  A Close is sent once, answered once, and followed by the
 * server closing the TCP connection once its Close is out and the peer's
 * is in, or by a client waiting for that (RFC 6455 7.1.1); after a
 * failure (a protocol error), the Close is followed by shutdown(SHUT_WR)
 * and reading to EOF, so that the peer reads our Close before anything
 * resets the connection (over TLS, by closing, which sends close_notify).  One
 * deadline covers it all (close_timeout). on_close() runs from the stream's
 * close callback, so exactly once and never inside a call of the program's, and
 * the connection is freed right after it.
 *
 * This file must never block, deliver a message that broke the protocol,
 * buffer more than max_message_size (+ 2) of a message, or touch the
 * stream after its close callback.
 */
#define _GNU_SOURCE /* shutdown() under -std=c11 */
#include "ws_internal.h"

#include "eddy/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CHUNK ((size_t)64 << 10) /* the most one read hands over */
#define DIRECT_MIN                                                             \
    (8u << 10)                       /* payload left from which reads go into  \
                                        place */
#define SMALL_FRAME 4096             /* frames put together on the stack */
#define PART_ROOM ((size_t)16 << 10) /* inflated bytes per piece */
#define KEEP_MIN ((size_t)64 << 10)  /* message buffers kept for reuse */
#define KEEP_MS 1000                 /* ... until unused this long */
#define LOWAT_MIN CHUNK              /* payload still to come from which... */
#define LOWAT_MAX ((size_t)256 << 10) /* ...the kernel wakes us for this much */

enum {
    F_CLOSE_SENT = 1 << 0,    /* our Close is queued: no more sending */
    F_CLOSE_FLUSHED = 1 << 1, /* and handed to the kernel */
    F_CLOSE_RECV = 1 << 2,    /* the peer's Close arrived */
    F_FAILED = 1 << 3,        /* we failed the connection: input ignored */
    F_SHUT = 1 << 4,          /* shutdown(SHUT_WR) done, after failing */
    F_GONE = 1 << 5,          /* we closed the stream */
    F_PONG_DUE = 1 << 6,      /* our ping waits for a pong */
    F_INTO_MSG = 1 << 7,      /* the pending read fills msg in place */
    F_INTO_IN = 1 << 8,       /* the pending read fills in */
    F_SEND_Z = 1 << 9,        /* the fragmented message we send is
                                 compressed */
    F_MSG_USED = 1 << 10,     /* the kept message buffer served since the
                                 trim timer last ran */
    F_NO_LOWAT = 1 << 11,     /* SO_RCVLOWAT refused: not a socket */
};

typedef struct pmd_state {
    eddy__ws_deflater d;
    eddy__ws_inflater i;
    size_t min_size;
} pmd_state;

struct eddy_ws {
    eddy_stream *s;
    eddy_ws_callbacks cb;
    void *arg, *data;
    unsigned flags;
    uint8_t role;
    uint8_t send_opcode; /* the message eddy_ws_send_fragment() is on */
    uint16_t fail_code;  /* the code we failed the connection with */
    uint16_t recv_code;  /* the code of the peer's Close */
    unsigned send_utf8;  /* that message's validator state */
    unsigned recv_utf8;  /* an inflated text's */
    int error;           /* eddy_ws_error(), once set */
    uint32_t ping_interval, ping_timeout, close_timeout;
    size_t max_write;
    eddy_timer_id ping_timer, deadline, trim_timer;
    uint8_t *in; /* bytes read, being parsed */
    size_t in_len, in_cap;
    uint8_t *msg; /* the message being put together */
    size_t msg_len, msg_cap;
    uint64_t max_message;
    pmd_state *z;          /* NULL without permessage-deflate */
    eddy__ws_masks *masks; /* a client's masking keys */
    const char *subprotocol;
    eddy__ws_reader r;
    uint32_t lowat; /* SO_RCVLOWAT set on the socket, 0 for none */
};

/* One frame to queue; see put_frame(). */
typedef struct frame {
    unsigned opcode;
    int fin, rsv1;
    const uint8_t *p;
    size_t n;
    uint8_t *own; /* p, malloc'd: the stream frees it once written */
    int ref;      /* p stays the caller's until done runs */
    eddy_stream_cb done;
    void *arg;
} frame;

static void read_next(eddy_ws *ws);
static int send_close(eddy_ws *ws, unsigned code, const char *reason,
                      size_t len);

/* --- small things -------------------------------------------------------- */

static int gone(const eddy_ws *ws)
{
    return (ws->flags & F_GONE) || eddy_stream_closed(ws->s);
}

/* Grows *buf to hold want bytes. */
static int reserve(uint8_t **buf, size_t *cap, size_t want)
{
    size_t c = *cap ? *cap : 256;
    uint8_t *p;

    if (*cap >= want)
        return 0;
    while (c < want)
        c = c * 2 > c ? c * 2 : want;
    if ((p = realloc(*buf, c)) == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = c;
    return 0;
}

static void drop_timer(eddy_ws *ws, eddy_timer_id *id)
{
    if (*id != 0)
        eddy_loop_remove_timeout(eddy_stream_loop(ws->s), *id);
    *id = 0;
}

/* Closes the stream; on_close() follows from its close callback. */
static void close_stream(eddy_ws *ws, int err)
{
    if (ws->error == 0)
        ws->error = err;
    ws->flags |= F_GONE;
    eddy_stream_close(ws->s);
}

static void on_deadline(eddy_loop *loop, void *arg)
{
    eddy_ws *ws = arg;

    (void)loop;
    ws->deadline = 0;
    if (!gone(ws))
        close_stream(ws, -ETIMEDOUT);
}

/* The one deadline: a pong's, or the closing handshake's. */
static void arm_deadline(eddy_ws *ws, uint32_t ms)
{
    int err;

    drop_timer(ws, &ws->deadline);
    err = eddy_loop_call_later(eddy_stream_loop(ws->s), ms, on_deadline, ws,
                               &ws->deadline);
    if (err < 0)
        close_stream(ws, err);
}

/* --- writing ------------------------------------------------------------- */

static void free_own(eddy_stream *s, int status, void *arg)
{
    (void)s, (void)status;
    free(arg);
}

/* Queues a frame small enough for the stack: header and payload in one
 * copy, which the stream coalesces with the writes before it. */
static int put_small(eddy_ws *ws, const frame *f, const uint8_t *hdr, size_t h,
                     const uint8_t *mask)
{
    uint8_t buf[SMALL_FRAME];

    memcpy(buf, hdr, h);
    if (f->n > 0 && mask != NULL)
        eddy__ws_mask_copy(buf + h, f->p, f->n, mask, 0);
    else if (f->n > 0)
        memcpy(buf + h, f->p, f->n);
    return eddy_stream_write(ws->s, buf, h + f->n, f->done, f->arg);
}

/* Queues a bigger frame: the header copied, then the payload by
 * reference (ours, or the caller's for a server's eddy_ws_send_ref) or
 * copied by the stream.  A client masks into a buffer of its own. */
static int put_big(eddy_ws *ws, const frame *f, uint8_t **own,
                   const uint8_t *hdr, size_t h, const uint8_t *mask)
{
    int err;

    if (mask != NULL && *own == NULL) {
        if ((*own = malloc(f->n)) == NULL)
            return -ENOMEM;
        eddy__ws_mask_copy(*own, f->p, f->n, mask, 0);
    } else if (mask != NULL) {
        eddy__ws_mask(*own, f->n, mask, 0);
    }
    if ((err = eddy_stream_write(ws->s, hdr, h, NULL, NULL)) < 0)
        return err;
    if (*own != NULL) {
        uint8_t *p = *own;

        *own = NULL; /* the stream's from here, even if this fails */
        if ((err = eddy_stream_write_ref(ws->s, p, f->n, free_own, p)) < 0) {
            free(p);
            return err;
        }
        return f->done != NULL
                   ? eddy_stream_write(ws->s, NULL, 0, f->done, f->arg)
                   : 0;
    }
    if (f->ref)
        return eddy_stream_write_ref(ws->s, f->p, f->n, f->done, f->arg);
    return eddy_stream_write(ws->s, f->p, f->n, f->done, f->arg);
}

/* Whether h + n more bytes would take the queue past max_write. */
static int over_limit(const eddy_ws *ws, size_t h, size_t n)
{
    size_t queued = eddy_stream_write_buffered(ws->s);

    if (ws->max_write == 0)
        return 0;
    return queued > ws->max_write || n > ws->max_write - queued ||
           h > ws->max_write - queued - n;
}

/*
 * Queues one frame, masked by a client.  Any failure but -EPIPE (closed
 * already) drops the connection: a frame may be half queued, and a
 * connection that cannot send is in no state to go on.  f->own is freed
 * in every case.
 */
static int put_frame(eddy_ws *ws, const frame *f)
{
    uint8_t hdr[EDDY_WS_MAX_HEADER], mask[4], *own = f->own;
    const uint8_t *m = NULL;
    size_t h;
    int err = 0;

    if (gone(ws)) {
        err = -EPIPE;
    } else if (ws->role == EDDY_WS_CLIENT &&
               (err = eddy__ws_mask_next(ws->masks, mask)) == 0) {
        m = mask;
    }
    if (err == 0) {
        h = eddy__ws_write_header(hdr, f->opcode, f->fin, f->rsv1, f->n, m);
        if (over_limit(ws, h, f->n))
            err = -ENOSPC;
        else if (h + f->n <= SMALL_FRAME)
            err = put_small(ws, f, hdr, h, m);
        else
            err = put_big(ws, f, &own, hdr, h, m);
    }
    free(own);
    if (err < 0 && err != -EPIPE && !gone(ws))
        close_stream(ws, err);
    return err;
}

/* Whether a message (or a fragmented one, starting) goes compressed. */
static int use_deflate(const eddy_ws *ws, size_t len, int fin)
{
    return ws->z != NULL && !ws->z->d.off && (!fin || len >= ws->z->min_size);
}

/* Sends a data frame: the first (opcode) or a later one (continuation)
 * of a message, compressed if the message is. */
static int send_data(eddy_ws *ws, unsigned opcode, int first, int fin,
                     const void *data, size_t len, int ref, eddy_stream_cb done,
                     void *arg)
{
    frame f = {.opcode = first ? opcode : EDDY_WS_CONTINUATION,
               .fin = fin,
               .p = data,
               .n = len,
               .ref = ref,
               .done = done,
               .arg = arg};
    eddy__ws_buf out = {0};
    int err;

    if (first) {
        ws->flags &= ~(unsigned)F_SEND_Z;
        if (use_deflate(ws, len, fin))
            ws->flags |= F_SEND_Z;
    }
    if (ws->flags & F_SEND_Z) {
        if ((err = eddy__ws_deflate(&ws->z->d, data, len, fin, &out)) < 0) {
            free(out.p);
            close_stream(ws, err);
            return err;
        }
        /* Without context takeover nothing needs keeping: the
         * compressor's 256 KiB go until the next message. */
        if (fin && ws->z->d.no_context)
            eddy__ws_deflater_free(&ws->z->d);
        f.rsv1 = first;
        f.p = out.p;
        f.n = out.len;
        f.own = out.p;
        f.ref = 0;
    }
    return put_frame(ws, &f);
}

static int can_send(const eddy_ws *ws)
{
    return gone(ws) || (ws->flags & F_CLOSE_SENT) ? -EPIPE : 0;
}

static int send_whole(eddy_ws *ws, int opcode, const void *data, size_t len,
                      int ref, eddy_stream_cb done, void *arg)
{
    unsigned st = EDDY_UTF8_ACCEPT;
    int err;

    if ((opcode != EDDY_WS_TEXT && opcode != EDDY_WS_BINARY) ||
        (data == NULL && len > 0))
        return -EINVAL;
    if ((err = can_send(ws)) < 0)
        return err;
    if (ws->send_opcode != 0)
        return -EBUSY;
    if (opcode == EDDY_WS_TEXT &&
        (eddy__utf8_valid(&st, data, len) != len || st != EDDY_UTF8_ACCEPT))
        return -EINVAL;
    return send_data(ws, (unsigned)opcode, 1, 1, data, len, ref, done, arg);
}

int eddy_ws_send(eddy_ws *ws, int opcode, const void *data, size_t len)
{
    return send_whole(ws, opcode, data, len, 0, NULL, NULL);
}

int eddy_ws_send_ref(eddy_ws *ws, int opcode, const void *data, size_t len,
                     eddy_stream_cb done, void *arg)
{
    return send_whole(ws, opcode, data, len, 1, done, arg);
}

int eddy_ws_send_fragment(eddy_ws *ws, int opcode, const void *data, size_t len,
                          int fin)
{
    int first = ws->send_opcode == 0, err;
    unsigned op = first ? (unsigned)opcode : ws->send_opcode;
    unsigned st = first ? EDDY_UTF8_ACCEPT : ws->send_utf8;

    if ((data == NULL && len > 0) ||
        (first ? opcode != EDDY_WS_TEXT && opcode != EDDY_WS_BINARY
               : opcode != EDDY_WS_CONTINUATION))
        return -EINVAL;
    if ((err = can_send(ws)) < 0)
        return err;
    if (op == EDDY_WS_TEXT && (eddy__utf8_valid(&st, data, len) != len ||
                               (fin && st != EDDY_UTF8_ACCEPT)))
        return -EINVAL;
    if ((err = send_data(ws, op, first, fin, data, len, 0, NULL, NULL)) < 0)
        return err;
    ws->send_opcode = (uint8_t)(fin ? 0 : op);
    ws->send_utf8 = st;
    return 0;
}

static int send_control(eddy_ws *ws, unsigned opcode, const void *data,
                        size_t len)
{
    frame f = {.opcode = opcode, .fin = 1, .p = data, .n = len};
    int err;

    if (len > EDDY_WS_MAX_CONTROL || (data == NULL && len > 0))
        return -EINVAL;
    if ((err = can_send(ws)) < 0)
        return err;
    return put_frame(ws, &f);
}

int eddy_ws_ping(eddy_ws *ws, const void *data, size_t len)
{
    return send_control(ws, EDDY_WS_PING, data, len);
}

int eddy_ws_pong(eddy_ws *ws, const void *data, size_t len)
{
    return send_control(ws, EDDY_WS_PONG, data, len);
}

/* --- closing ------------------------------------------------------------- */

/* Our Close is out and, for a clean end, the peer's is in: a server
 * ends the TCP connection first, a client waits for the server to (RFC
 * 6455 7.1.1).  The server, like one after a failure, tells the peer it
 * is done writing and reads and drops what comes until the peer's EOF
 * (within close_timeout): closing with unread bytes (a peer's frame
 * after its Close, say) would send a reset, which can destroy what the
 * peer has not read yet, our Close among it. */
static void finish(eddy_ws *ws)
{
    if (!(ws->flags & F_CLOSE_FLUSHED) || gone(ws))
        return;
    if ((ws->flags & F_FAILED) ||
        ((ws->flags & F_CLOSE_RECV) && ws->role == EDDY_WS_SERVER)) {
        /* Over TLS a half-close of the socket would end TLS without its
         * close_notify (a truncation to the peer): closing sends it.  A
         * stream that is not a socket just closes. */
        if (!(ws->flags & F_SHUT)) {
            ws->flags |= F_SHUT;
            if (eddy_stream_tls_version(ws->s) != NULL ||
                shutdown(eddy_stream_fd(ws->s), SHUT_WR) != 0)
                close_stream(ws, 0);
        }
    }
}

static void close_flushed(eddy_stream *s, int status, void *arg)
{
    eddy_ws *ws = arg;

    (void)s;
    if (status == 0) {
        ws->flags |= F_CLOSE_FLUSHED;
        finish(ws);
    }
}

static void stop_pings(eddy_ws *ws)
{
    drop_timer(ws, &ws->ping_timer);
    drop_timer(ws, &ws->deadline);
    ws->flags &= ~(unsigned)F_PONG_DUE;
}

static int send_close(eddy_ws *ws, unsigned code, const char *reason,
                      size_t len)
{
    uint8_t payload[EDDY_WS_MAX_CONTROL];
    int n = eddy__ws_close_payload(payload, code, reason, len);
    frame f = {.opcode = EDDY_WS_CLOSE,
               .fin = 1,
               .p = payload,
               .done = close_flushed,
               .arg = ws};

    if (n < 0)
        return n;
    f.n = (size_t)n;
    stop_pings(ws);
    ws->flags |= F_CLOSE_SENT;
    arm_deadline(ws, ws->close_timeout);
    return put_frame(ws, &f);
}

/* Fails the connection (RFC 6455 7.1.7) with code. */
static void fail(eddy_ws *ws, unsigned code)
{
    if (ws->flags & F_FAILED)
        return;
    ws->flags |= F_FAILED;
    ws->fail_code = (uint16_t)code;
    if (ws->error == 0)
        ws->error = -EPROTO;
    if (!(ws->flags & F_CLOSE_SENT))
        send_close(ws, code, NULL, 0);
    else
        finish(ws);
}

int eddy_ws_close(eddy_ws *ws, int code, const char *reason)
{
    uint8_t payload[EDDY_WS_MAX_CONTROL];
    size_t len = reason != NULL ? strlen(reason) : 0;

    if (code < 0 || code > 0xffff ||
        eddy__ws_close_payload(payload, (unsigned)code, reason, len) < 0)
        return -EINVAL;
    if (gone(ws) || (ws->flags & F_CLOSE_SENT))
        return 0;
    return send_close(ws, (unsigned)code, reason, len);
}

void eddy_ws_abort(eddy_ws *ws)
{
    if (!gone(ws))
        close_stream(ws, -ECONNABORTED);
}

static void free_ws(eddy_ws *ws)
{
    if (ws->z != NULL) {
        eddy__ws_deflater_free(&ws->z->d);
        eddy__ws_inflater_free(&ws->z->i);
        free(ws->z);
    }
    free(ws->in);
    free(ws->msg);
    free(ws);
}

/* The stream's close callback: the end, whatever its cause. */
static void on_stream_close(eddy_stream *s, int err, void *arg)
{
    eddy_ws *ws = arg;
    char reason[EDDY_WS_MAX_CLOSE_REASON + 1];
    size_t len = 0;
    int code = EDDY_WS_ABNORMAL;

    (void)s;
    ws->flags |= F_GONE;
    drop_timer(ws, &ws->ping_timer);
    drop_timer(ws, &ws->deadline);
    drop_timer(ws, &ws->trim_timer);
    if (ws->flags & F_CLOSE_RECV) {
        /* The reader stopped at the Close: its payload is still there. */
        code = ws->recv_code;
        len = code == EDDY_WS_NO_STATUS ? 0 : ws->r.ctl_len - 2u;
        memcpy(reason, ws->r.ctl + 2, len);
    } else if (ws->flags & F_FAILED) {
        code = ws->fail_code;
    } else if (ws->error == 0) {
        ws->error = err != 0 ? err : -ECONNABORTED;
    }
    reason[len] = '\0';
    if (ws->cb.on_close != NULL)
        ws->cb.on_close(ws, code, reason, len, ws->arg);
    free_ws(ws);
}

static void on_stream_drain(eddy_stream *s, int status, void *arg)
{
    eddy_ws *ws = arg;

    (void)s, (void)status;
    if (!gone(ws) && ws->cb.on_drain != NULL)
        ws->cb.on_drain(ws, ws->arg);
}

/* --- pings --------------------------------------------------------------- */

static void on_ping_timer(eddy_loop *loop, void *arg)
{
    eddy_ws *ws = arg;
    frame f = {.opcode = EDDY_WS_PING, .fin = 1};

    (void)loop;
    /* One ping at a time: the next waits for the pong or the timeout. */
    if (gone(ws) || (ws->flags & (F_CLOSE_SENT | F_PONG_DUE)))
        return;
    if (put_frame(ws, &f) < 0)
        return;
    ws->flags |= F_PONG_DUE;
    arm_deadline(ws, ws->ping_timeout);
}

static void pong_arrived(eddy_ws *ws)
{
    if ((ws->flags & (F_PONG_DUE | F_CLOSE_SENT)) == F_PONG_DUE) {
        ws->flags &= ~(unsigned)F_PONG_DUE;
        drop_timer(ws, &ws->deadline);
    }
}

/* --- receiving ----------------------------------------------------------- */

/* Hands a whole message over, with a NUL after it (data[len] is in a
 * buffer of ours: the byte is put back afterwards). */
static void deliver(eddy_ws *ws, unsigned opcode, uint8_t *data, size_t len)
{
    uint8_t keep = data[len];

    data[len] = 0;
    if (ws->cb.on_message != NULL)
        ws->cb.on_message(ws, (int)opcode, (const char *)data, len, ws->arg);
    data[len] = keep;
}

static void part(eddy_ws *ws, unsigned opcode, const uint8_t *data, size_t len,
                 int fin)
{
    ws->cb.on_message_part(ws, (int)opcode, (const char *)data, len, fin,
                           ws->arg);
}

/* An error of the inflater: a close code, or the system's (1011). */
static void fail_inflate(eddy_ws *ws, int err)
{
    if (err > -1000 && ws->error == 0)
        ws->error = err;
    fail(ws, err <= -1000 ? (unsigned)-err : EDDY_WS_INTERNAL_ERROR);
}

/* Room for the inflater past msg_len, and a byte for the NUL: the whole
 * message grows up to max_message + 1 (which the inflater never
 * passes), pieces go through PART_ROOM bytes. */
static int inflate_room(eddy_ws *ws, int parts)
{
    size_t want, top;

    if (ws->msg_cap - ws->msg_len >= 2)
        return 0;
    if (parts)
        return reserve(&ws->msg, &ws->msg_cap, PART_ROOM + 1);
    top =
        ws->max_message < SIZE_MAX - 2 ? (size_t)ws->max_message + 2 : SIZE_MAX;
    want = ws->msg_cap < 2048 ? 4096 : ws->msg_cap * 2;
    return reserve(&ws->msg, &ws->msg_cap, want < top ? want : top);
}

/* A piece of a compressed message: inflated into msg, text checked as it
 * comes out. */
static void inflate_piece(eddy_ws *ws, const eddy__ws_event *ev)
{
    const uint8_t *p = ev->data;
    size_t n = ev->len, used, made;
    int parts = ws->cb.on_message_part != NULL, ret;

    for (;;) {
        if ((ret = inflate_room(ws, parts)) < 0) {
            fail_inflate(ws, ret);
            return;
        }
        ret = eddy__ws_inflate(&ws->z->i, p, n, ev->fin, ws->msg + ws->msg_len,
                               ws->msg_cap - ws->msg_len - 1, &used, &made);
        p += used;
        n -= used;
        /* The bytes zlib made came before any error it found: a text
         * that went wrong in them is 1007 whatever follows. */
        if (ev->opcode == EDDY_WS_TEXT &&
            eddy__utf8_valid(&ws->recv_utf8, ws->msg + ws->msg_len, made) !=
                made)
            ret = -EDDY_WS_INVALID_DATA;
        ws->msg_len += made;
        if (ret < 0) {
            fail_inflate(ws, ret);
            return;
        }
        if (ret == 0)
            break;
        if (parts) {
            part(ws, ev->opcode, ws->msg, ws->msg_len, 0);
            ws->msg_len = 0;
            if (gone(ws) || (ws->flags & F_CLOSE_SENT))
                return; /* closed from the callback: nothing more */
        }
    }
    if (ev->fin && ev->opcode == EDDY_WS_TEXT &&
        ws->recv_utf8 != EDDY_UTF8_ACCEPT) {
        fail(ws, EDDY_WS_INVALID_DATA);
        return;
    }
    if (parts && (ws->msg_len > 0 || ev->fin))
        part(ws, ev->opcode, ws->msg, ws->msg_len, ev->fin);
    else if (ev->fin)
        deliver(ws, ev->opcode, ws->msg, ws->msg_len);
    if (parts || ev->fin)
        ws->msg_len = 0;
    if (ev->fin) {
        ws->recv_utf8 = EDDY_UTF8_ACCEPT;
        if (ws->z->i.no_context)
            eddy__ws_inflater_free(&ws->z->i);
    }
}

/* A piece of a data message's payload, unmasked in a buffer of ours. */
static void on_data(eddy_ws *ws, const eddy__ws_event *ev)
{
    uint8_t *d = (uint8_t *)(uintptr_t)ev->data; /* in or msg: ours */

    if (ws->flags & F_CLOSE_SENT)
        return; /* after our Close, messages are dropped */
    if (ev->compressed) {
        inflate_piece(ws, ev);
        return;
    }
    if (ws->cb.on_message_part != NULL) {
        part(ws, ev->opcode, d, ev->len, ev->fin);
        return;
    }
    if (ws->msg != NULL && d == ws->msg + ws->msg_len) {
        ws->msg_len += ev->len; /* read in place */
    } else if (ev->fin && ws->msg_len == 0) {
        deliver(ws, ev->opcode, d, ev->len); /* arrived whole: no copy */
        return;
    } else if (reserve(&ws->msg, &ws->msg_cap, ws->msg_len + ev->len + 1) < 0) {
        fail_inflate(ws, -ENOMEM);
        return;
    } else if (ev->len > 0) {
        memcpy(ws->msg + ws->msg_len, d, ev->len);
        ws->msg_len += ev->len;
    }
    if (ev->fin) {
        deliver(ws, ev->opcode, ws->msg, ws->msg_len);
        ws->msg_len = 0;
    }
}

static void on_control(eddy_ws *ws, const eddy__ws_event *ev)
{
    frame f = {.opcode = EDDY_WS_PONG, .fin = 1, .p = ev->data, .n = ev->len};

    if (ev->opcode == EDDY_WS_PING) {
        if (!(ws->flags & F_CLOSE_SENT))
            put_frame(ws, &f);
    } else if (ev->opcode == EDDY_WS_PONG) {
        pong_arrived(ws);
        if (ws->cb.on_pong != NULL)
            ws->cb.on_pong(ws, (const char *)ev->data, ev->len, ws->arg);
    } else {
        /* The peer's Close: answered with its code (RFC 6455 5.5.1), and
         * the reader left alone from here, so that its buffer keeps the
         * reason for on_close(). */
        ws->flags |= F_CLOSE_RECV;
        ws->recv_code = ev->code;
        if (!(ws->flags & F_CLOSE_SENT))
            send_close(ws, ev->code == EDDY_WS_NO_STATUS ? 0 : ev->code, NULL,
                       0);
        else
            finish(ws);
    }
}

/* Runs the frame reader over p[0, n) and acts on what it finds, until
 * the bytes are used up or the connection stops listening. */
static void feed(eddy_ws *ws, uint8_t *p, size_t n)
{
    eddy__ws_event ev;
    size_t at = 0, used;
    int ret;

    while (at < n && !(ws->flags & (F_FAILED | F_CLOSE_RECV)) && !gone(ws)) {
        ret = eddy__ws_read(&ws->r, p + at, n - at, &used, &ev);
        at += used;
        if (ret < 0)
            fail(ws, (unsigned)-ret);
        else if (ev.type == EDDY_WS_EV_DATA)
            on_data(ws, &ev);
        else if (ev.type == EDDY_WS_EV_CONTROL)
            on_control(ws, &ev);
    }
}

/* Whether the next read goes into in directly: a big frame's payload
 * that is compressed or handed over in pieces. */
static int direct_in(const eddy_ws *ws)
{
    const eddy__ws_reader *r = &ws->r;

    return r->in_payload && !(r->h.opcode & 8) && r->left >= DIRECT_MIN &&
           (r->msg_compressed || ws->cb.on_message_part != NULL);
}

static void free_msg(eddy_ws *ws)
{
    free(ws->msg);
    ws->msg = NULL;
    ws->msg_cap = ws->msg_len = 0;
}

/* A big message buffer unused for KEEP_MS goes. */
static void on_trim(eddy_loop *loop, void *arg)
{
    eddy_ws *ws = arg;

    ws->trim_timer = 0;
    if (ws->flags & F_MSG_USED) {
        ws->flags &= ~(unsigned)F_MSG_USED;
        if (eddy_loop_call_later(loop, KEEP_MS, on_trim, ws, &ws->trim_timer) ==
            0)
            return;
    }
    if (ws->r.msg_opcode == 0 && ws->msg_len == 0)
        free_msg(ws);
}

/*
 * Between messages nothing is kept, so an idle connection holds no
 * buffer; except that a message buffer of KEEP_MIN or more stays while
 * big messages keep coming, freed by a timer once KEEP_MS passed without
 * one: mapping and faulting in a megabyte for every message cost more
 * than the message's bytes did.
 */
static void tidy(eddy_ws *ws)
{
    int listening = !(ws->flags & (F_FAILED | F_CLOSE_RECV));

    if (!listening || !direct_in(ws)) {
        free(ws->in);
        ws->in = NULL;
        ws->in_cap = 0;
    }
    if (listening && ws->r.msg_opcode == 0 && ws->msg_len == 0 &&
        ws->msg_cap >= KEEP_MIN) {
        ws->flags |= F_MSG_USED;
        if (ws->trim_timer == 0 &&
            eddy_loop_call_later(eddy_stream_loop(ws->s), KEEP_MS, on_trim, ws,
                                 &ws->trim_timer) < 0)
            free_msg(ws);
    } else if (!listening || (ws->r.msg_opcode == 0 && ws->msg_len == 0)) {
        free_msg(ws);
    }
}

static void on_read(eddy_stream *s, int status, const char *data, size_t len,
                    void *arg)
{
    eddy_ws *ws = arg;
    unsigned into = ws->flags & (F_INTO_MSG | F_INTO_IN);
    size_t n = ws->in_len;

    (void)s;
    ws->flags &= ~(unsigned)(F_INTO_MSG | F_INTO_IN);
    if (status < 0)
        return; /* EOF or closing: on_stream_close() follows */
    if (ws->flags & (F_FAILED | F_CLOSE_RECV)) {
        /* Nothing more to read: what comes is dropped. */
    } else if (into & F_INTO_MSG) {
        feed(ws, ws->msg + ws->msg_len, len);
    } else if (into & F_INTO_IN) {
        feed(ws, ws->in, len);
    } else if (len > 0 && reserve(&ws->in, &ws->in_cap, len + 1) < 0) {
        fail_inflate(ws, -ENOMEM);
    } else {
        /* The stream's bytes, or at first those left over from the
         * handshake (in_len). */
        if (len > 0)
            memcpy(ws->in, data, len);
        ws->in_len = 0;
        feed(ws, ws->in, len > 0 ? len : n);
    }
    tidy(ws);
    read_next(ws);
}

/*
 * Inside a big frame, asks the kernel (SO_RCVLOWAT) not to wake us before
 * min(what the frame still needs, LOWAT_MAX) bytes are in: a receiver that
 * keeps up with its sender would otherwise wake, and make the sender pay
 * for waking it, for every few segments (bulk-in's rate: 0.78 of raw TCP,
 * 0.99 with it; docs/architecture.md, "Waking for big frames").  The
 * peer must send those bytes to finish the frame, and the kernel wakes
 * us anyway on EOF, an error, or a receive window about to close, so it
 * cannot stall a read; it goes back to 1 before anything else is read.
 * Linux's plain TCP only: over TLS, OpenSSL may hold bytes the socket no
 * longer has.  A hint: where it is refused (a pipe, say) it is not asked
 * again.
 */
static void set_lowat(eddy_ws *ws, uint64_t left)
{
#ifdef __linux__
    size_t have = eddy_stream_read_buffered(ws->s);
    uint32_t want = 0;
    int v;

    if (left > have && left - have >= LOWAT_MIN &&
        eddy_stream_tls_version(ws->s) == NULL)
        want = left - have < LOWAT_MAX ? (uint32_t)(left - have)
                                       : (uint32_t)LOWAT_MAX;
    if (want == ws->lowat || (ws->flags & F_NO_LOWAT))
        return;
    v = want > 0 ? (int)want : 1;
    if (setsockopt(eddy_stream_fd(ws->s), SOL_SOCKET, SO_RCVLOWAT, &v,
                   sizeof v) == 0)
        ws->lowat = want;
    else
        ws->flags |= F_NO_LOWAT; /* and 0 or 1, as it was */
#else
    (void)ws;
    (void)left;
#endif
}

/* The next read: into place inside a big data frame, else whatever the
 * stream has, up to CHUNK. */
static void read_next(eddy_ws *ws)
{
    const eddy__ws_reader *r = &ws->r;
    int listening = !(ws->flags & (F_FAILED | F_CLOSE_RECV | F_CLOSE_SENT));
    size_t want, step;
    int err;

    if (gone(ws))
        return;
    set_lowat(ws, listening && r->in_payload && !(r->h.opcode & 8) ? r->left
                                                                   : 0);
    if (listening && direct_in(ws)) {
        want = r->left < CHUNK ? (size_t)r->left : CHUNK;
        if ((err = reserve(&ws->in, &ws->in_cap, want + 1)) == 0) {
            ws->flags |= F_INTO_IN;
            err = eddy_stream_read_into(ws->s, ws->in, want, 1, on_read, ws);
        }
    } else if (listening && r->in_payload && !(r->h.opcode & 8) &&
               r->left >= DIRECT_MIN) {
        /* Into the message, which grows with what arrived so far. */
        step = ws->msg_len > CHUNK ? ws->msg_len : CHUNK;
        want = r->left < step ? (size_t)r->left : step;
        if ((err = reserve(&ws->msg, &ws->msg_cap, ws->msg_len + want + 1)) ==
            0) {
            ws->flags |= F_INTO_MSG;
            err = eddy_stream_read_into(ws->s, ws->msg + ws->msg_len, want, 1,
                                        on_read, ws);
        }
    } else {
        err = eddy_stream_read_bytes(ws->s, CHUNK, 1, on_read, ws);
    }
    if (err < 0 && !gone(ws))
        close_stream(ws, err);
}

/* --- making one ---------------------------------------------------------- */

/* The options with their defaults filled in; -EINVAL if they conflict. */
static int take_options(const eddy_ws_options *opts, const eddy__ws_pmd *agreed,
                        eddy_ws_options *o)
{
    *o = opts != NULL ? *opts : (eddy_ws_options){0};
    if (o->max_message_size == 0)
        o->max_message_size = EDDY_WS_DEFAULT_MAX_MESSAGE;
    if (o->ping_timeout_ms == 0)
        o->ping_timeout_ms = o->ping_interval_ms;
    if (o->close_timeout_ms == 0)
        o->close_timeout_ms = EDDY_WS_DEFAULT_CLOSE_TIMEOUT;
    if (o->write_high_water == 0)
        o->write_high_water = EDDY_WS_DEFAULT_HIGH_WATER;
    if (o->write_low_water == 0)
        o->write_low_water = o->write_high_water / 4;
    if (o->write_low_water >= o->write_high_water)
        return -EINVAL;
    if (agreed != NULL && eddy__ws_pmd_check_options(&o->deflate) < 0)
        return -EINVAL;
    return 0;
}

int eddy__ws_options_check(const eddy_ws_options *opts)
{
    static const eddy__ws_pmd any = {0, 0, 15, 15};
    eddy_ws_options o;

    return take_options(opts, &any, &o);
}

/* The connection and what hangs off it: one allocation, and one more for
 * permessage-deflate's state. */
static eddy_ws *make(eddy_stream *s, int role, const char *subprotocol,
                     const eddy__ws_pmd *agreed, const eddy_ws_options *o)
{
    size_t masks = role == EDDY_WS_CLIENT ? sizeof(eddy__ws_masks) : 0;
    size_t plen = subprotocol != NULL ? strlen(subprotocol) + 1 : 0;
    eddy_ws *ws = calloc(1, sizeof *ws + masks + plen);
    char *tail;

    if (ws == NULL)
        return NULL;
    tail = (char *)(ws + 1); /* not before: NULL + 1 is undefined */
    if (agreed != NULL && (ws->z = calloc(1, sizeof *ws->z)) == NULL) {
        free(ws);
        return NULL;
    }
    ws->s = s;
    ws->role = (uint8_t)role;
    ws->max_message = o->max_message_size;
    ws->ping_interval = o->ping_interval_ms;
    ws->ping_timeout = o->ping_timeout_ms;
    ws->close_timeout = o->close_timeout_ms;
    ws->max_write = o->max_write_buffer_size;
    eddy__ws_reader_init(&ws->r, role, ws->max_message);
    if (masks != 0)
        ws->masks = (eddy__ws_masks *)(void *)tail;
    if (plen != 0)
        ws->subprotocol = memcpy(tail + masks, subprotocol, plen);
    if (agreed != NULL) {
        ws->r.rsv_ok = EDDY_WS_RSV1;
        eddy__ws_pmd_setup(agreed, role, &o->deflate, ws->max_message,
                           &ws->z->d, &ws->z->i);
        ws->z->min_size = o->deflate.min_size;
    }
    return ws;
}

int eddy__ws_conn_new(eddy_stream *s, int role, const char *leftover, size_t n,
                      const eddy__ws_pmd *agreed, const char *subprotocol,
                      const eddy_ws_options *opts, const eddy_ws_callbacks *cb,
                      void *arg, eddy_ws **out)
{
    eddy_loop *loop = eddy_stream_loop(s);
    eddy_ws_options o;
    eddy_ws *ws;
    int err;

    if ((role != EDDY_WS_SERVER && role != EDDY_WS_CLIENT) ||
        (leftover == NULL && n > 0) || take_options(opts, agreed, &o) < 0)
        return -EINVAL;
    if (agreed != NULL && !eddy__ws_deflate_available())
        return -ENOTSUP;
    if (eddy_stream_closed(s))
        return -EPIPE;
    if (eddy_stream_reading(s))
        return -EBUSY;
    if ((ws = make(s, role, subprotocol, agreed, &o)) == NULL)
        return -ENOMEM;
    if (cb != NULL)
        ws->cb = *cb;
    ws->arg = arg;
    err = n > 0 ? reserve(&ws->in, &ws->in_cap, n + 1) : 0;
    if (err == 0 && n > 0) {
        memcpy(ws->in, leftover, n);
        ws->in_len = n;
    }
    if (err == 0 && ws->ping_interval != 0)
        err = eddy_loop_call_every(loop, ws->ping_interval, on_ping_timer, ws,
                                   &ws->ping_timer);
    /* A read of nothing, which the stream completes from the loop: the
     * leftover bytes are read there, never inside this call.  Last,
     * because a pending read cannot be taken back. */
    if (err == 0)
        err = eddy_stream_read_bytes(s, 0, 0, on_read, ws);
    if (err < 0) {
        drop_timer(ws, &ws->ping_timer);
        free_ws(ws);
        return err;
    }
    eddy_stream_set_write_watermarks(s, o.write_high_water, o.write_low_water);
    eddy_stream_set_drain_callback(s, on_stream_drain, ws);
    eddy_stream_set_close_callback(s, on_stream_close, ws);
    *out = ws;
    return 0;
}

/* --- state --------------------------------------------------------------- */

size_t eddy_ws_buffered_amount(const eddy_ws *ws)
{
    return eddy_stream_write_buffered(ws->s);
}

int eddy_ws_needs_drain(const eddy_ws *ws)
{
    return eddy_stream_needs_drain(ws->s);
}

int eddy_ws_state(const eddy_ws *ws)
{
    if (gone(ws))
        return EDDY_WS_STATE_CLOSED;
    if (ws->flags & (F_CLOSE_SENT | F_CLOSE_RECV | F_FAILED))
        return EDDY_WS_STATE_CLOSING;
    return EDDY_WS_STATE_OPEN;
}

int eddy_ws_error(const eddy_ws *ws)
{
    return ws->error;
}

const char *eddy_ws_subprotocol(const eddy_ws *ws)
{
    return ws->subprotocol;
}

int eddy_ws_compressed(const eddy_ws *ws)
{
    return ws->z != NULL;
}

eddy_stream *eddy_ws_stream(const eddy_ws *ws)
{
    return ws->s;
}

eddy_loop *eddy_ws_loop(const eddy_ws *ws)
{
    return eddy_stream_loop(ws->s);
}

void eddy_ws_set_data(eddy_ws *ws, void *data)
{
    ws->data = data;
}

void *eddy_ws_data(const eddy_ws *ws)
{
    return ws->data;
}
