/*
 * websocket/frame.c - WebSocket frames (RFC 6455 5): the header parser,
 * the incremental reader that turns a byte stream into message pieces
 * and control frames, the header writer, masking, and Close frames'
 * payloads.
 *
 * The reader is strict and fails fast: every rule is checked with the
 * first byte that can break it, and each failure names the close code
 * the connection must be failed with (1002, 1007, 1009).  It is
 * zero-copy for data: payload is unmasked in the caller's buffer and
 * handed over where it lies; only control frames (125 bytes at most) are
 * collected, because they may arrive in pieces between a fragmented
 * message's frames.
 *
 * Lengths encoded in more bytes than needed (a 5-byte payload announced
 * with 126 and 16 bits) are accepted.  RFC 6455 5.2 tells senders to use
 * the fewest bytes but gives receivers no rule; the length is unambiguous
 * either way, and Python's websockets, node's ws and the browsers take
 * them, so refusing them would only break peers.
 *
 * This file must never allocate, read past len, or take more than linear
 * time in the input however it is split.
 */
#include "ws_internal.h"

#include <errno.h>
#include <string.h>

#define FAIL_PROTOCOL (-EDDY_WS_PROTOCOL_ERROR)
#define FAIL_DATA (-EDDY_WS_INVALID_DATA)
#define FAIL_TOO_BIG (-EDDY_WS_MESSAGE_TOO_BIG)

/* Opcodes RFC 6455 defines: 0-2 and 8-10. */
static const uint8_t known_opcode[16] = {1, 1, 1, 0, 0, 0, 0, 0,
                                         1, 1, 1, 0, 0, 0, 0, 0};

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The header's size as far as its first n bytes tell. */
static size_t header_size(const uint8_t *p, size_t n)
{
    unsigned len7;

    if (n < 2)
        return 2;
    len7 = p[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (p[1] & 0x80 ? 4 : 0);
}

/* The rules the first byte alone decides. */
static int check_first(uint8_t b0, unsigned rsv_ok)
{
    unsigned opcode = b0 & 0x0f, rsv = (b0 >> 4) & 7;

    if (!known_opcode[opcode])
        return FAIL_PROTOCOL;
    /* RFC 7692 6.1: only a data message's first frame may carry RSV1. */
    if (opcode == EDDY_WS_CONTINUATION || (opcode & 8))
        rsv_ok = 0;
    if (rsv & ~rsv_ok)
        return FAIL_PROTOCOL;
    if ((opcode & 8) && !(b0 & 0x80))
        return FAIL_PROTOCOL; /* a control frame may not be fragmented */
    return 0;
}

int eddy__ws_parse_header(const uint8_t *p, size_t n, int role, unsigned rsv_ok,
                          eddy__ws_header *h)
{
    size_t size = header_size(p, n);
    unsigned len7;
    int ret;

    h->size = (uint8_t)size;
    if (n == 0)
        return 0;
    if ((ret = check_first(p[0], rsv_ok)) < 0)
        return ret;
    if (n < 2)
        return 0;
    len7 = p[1] & 0x7f;
    if (!(p[1] & 0x80) != (role == EDDY_WS_CLIENT))
        return FAIL_PROTOCOL; /* clients mask, servers do not (5.1) */
    if ((p[0] & 8) && len7 > EDDY_WS_MAX_CONTROL)
        return FAIL_PROTOCOL;
    if (len7 == 127 && n >= 3 && (p[2] & 0x80))
        return FAIL_PROTOCOL; /* the top bit of a 64-bit length is 0 */
    if (n < size)
        return 0;
    h->fin = p[0] >> 7;
    h->rsv = (p[0] >> 4) & 7;
    h->opcode = p[0] & 0x0f;
    h->masked = p[1] >> 7;
    h->len = len7 == 126   ? get_be(p + 2, 2)
             : len7 == 127 ? get_be(p + 2, 8)
                           : len7;
    if (h->masked)
        memcpy(h->mask, p + size - 4, 4);
    return (int)size;
}

void eddy__ws_reader_init(eddy__ws_reader *r, int role, uint64_t max_message)
{
    memset(r, 0, sizeof *r);
    r->role = (uint8_t)role;
    r->max_message = max_message;
}

/* Takes header bytes from p[0, n); 1 when the header is complete. */
static int read_header(eddy__ws_reader *r, const uint8_t *p, size_t n,
                       size_t *used)
{
    int ret;

    *used = 0;
    if (r->hlen == 0) {
        /* The common case: the whole header is in the buffer. */
        ret = eddy__ws_parse_header(p, n, r->role, r->rsv_ok, &r->h);
        if (ret != 0) {
            *used = ret > 0 ? (size_t)ret : 0;
            return ret > 0 ? 1 : ret;
        }
    }
    /* A header cut by the end of the buffer: keep its bytes.  h.size
     * (always more than hlen here) grows once the second byte is known,
     * hence the loop. */
    while (*used < n) {
        size_t take = r->h.size - r->hlen;

        if (take > n - *used)
            take = n - *used;
        memcpy(r->hdr + r->hlen, p + *used, take);
        r->hlen = (uint8_t)(r->hlen + take);
        *used += take;
        ret = eddy__ws_parse_header(r->hdr, r->hlen, r->role, r->rsv_ok, &r->h);
        if (ret < 0)
            return ret;
        if (ret > 0) {
            r->hlen = 0;
            return 1;
        }
    }
    return 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* Fragmentation's rules (5.4), which a frame's first byte decides: a
 * continuation needs a message under way, a new message needs none. */
static int check_sequence(const eddy__ws_reader *r, uint8_t b0)
{
    unsigned opcode = b0 & 0x0f;

    if (opcode & 8)
        return 0; /* control frames may come between fragments */
    if ((opcode == EDDY_WS_CONTINUATION) != (r->msg_opcode != 0))
        return FAIL_PROTOCOL;
    return 0;
}

/* A frame's header is in: its payload comes next.  The message's size
 * is checked here, before any of it arrives. */
static int begin_frame(eddy__ws_reader *r)
{
    const eddy__ws_header *h = &r->h;
    uint64_t limit;

    r->left = h->len;
    r->pos = 0;
    r->in_payload = 1;
    if (h->opcode & 8) {
        r->ctl_len = 0;
        return 0;
    }
    if (h->opcode != EDDY_WS_CONTINUATION) {
        r->msg_opcode = h->opcode;
        r->msg_compressed = (h->rsv & EDDY_WS_RSV1) != 0;
        r->msg_len = 0;
        r->utf8 = EDDY_UTF8_ACCEPT;
    }
    limit = r->max_message;
    if (r->msg_compressed)
        limit = add_sat(add_sat(limit, limit), 1024);
    if (h->len > limit - r->msg_len)
        return FAIL_TOO_BIG;
    r->msg_len += h->len;
    return 0;
}

/* A complete control frame: the Close frame's rules (5.5.1, 7.4). */
static int end_control(eddy__ws_reader *r, eddy__ws_event *ev)
{
    unsigned st = EDDY_UTF8_ACCEPT;

    ev->type = EDDY_WS_EV_CONTROL;
    ev->opcode = r->h.opcode;
    ev->data = r->ctl;
    ev->len = r->ctl_len;
    r->in_payload = 0;
    if (r->h.opcode != EDDY_WS_CLOSE)
        return 0;
    if (r->ctl_len == 0) {
        ev->code = EDDY_WS_NO_STATUS;
        return 0;
    }
    if (r->ctl_len == 1)
        return FAIL_PROTOCOL;
    ev->code = (uint16_t)get_be(r->ctl, 2);
    if (!eddy__ws_close_code_ok(ev->code))
        return FAIL_PROTOCOL;
    ev->data = r->ctl + 2;
    ev->len = r->ctl_len - 2u;
    if (eddy__utf8_valid(&st, ev->data, ev->len) != ev->len ||
        st != EDDY_UTF8_ACCEPT)
        return FAIL_DATA;
    return 0;
}

/* Payload bytes p[0, n) of a control frame, into ctl. */
static void take_control(eddy__ws_reader *r, const uint8_t *p, size_t n)
{
    uint8_t *to = r->ctl + r->ctl_len;

    if (r->h.masked)
        eddy__ws_mask_copy(to, p, n, r->h.mask, r->pos);
    else
        memcpy(to, p, n);
    r->ctl_len = (uint8_t)(r->ctl_len + n);
    r->pos += n;
    r->left -= n;
}

/* Payload bytes p[0, n) of a data frame: unmasked, checked, handed over. */
static int take_data(eddy__ws_reader *r, uint8_t *p, size_t n,
                     eddy__ws_event *ev)
{
    int fin;

    if (r->h.masked)
        eddy__ws_mask(p, n, r->h.mask, r->pos);
    r->pos += n;
    r->left -= n;
    fin = r->left == 0 && r->h.fin;
    if (r->msg_opcode == EDDY_WS_TEXT && !r->msg_compressed) {
        if (eddy__utf8_valid(&r->utf8, p, n) != n)
            return FAIL_DATA;
        if (fin && r->utf8 != EDDY_UTF8_ACCEPT)
            return FAIL_DATA; /* a character cut off at the end */
    }
    ev->type = EDDY_WS_EV_DATA;
    ev->opcode = r->msg_opcode;
    ev->compressed = r->msg_compressed;
    ev->fin = (uint8_t)fin;
    ev->data = p;
    ev->len = n;
    if (r->left == 0) {
        r->in_payload = 0;
        if (fin)
            r->msg_opcode = 0;
    }
    return 0;
}

int eddy__ws_read(eddy__ws_reader *r, uint8_t *buf, size_t len, size_t *used,
                  eddy__ws_event *ev)
{
    size_t at = 0, n;
    int ret;

    memset(ev, 0, sizeof *ev);
    *used = 0;
    for (;;) {
        if (!r->in_payload) {
            if (at == len) { /* (buf may be NULL when len is 0) */
                *used = at;
                return 0;
            }
            if (r->hlen == 0 && (ret = check_sequence(r, buf[at])) < 0)
                return ret;
            ret = read_header(r, buf + at, len - at, &n);
            at += n;
            if (ret <= 0) {
                *used = at;
                return ret;
            }
            if ((ret = begin_frame(r)) < 0)
                return ret;
        }
        n = r->left < len - at ? (size_t)r->left : len - at;
        if (r->h.opcode & 8) {
            take_control(r, buf + at, n);
            at += n;
            *used = at;
            return r->left == 0 ? end_control(r, ev) : 0;
        }
        /* An empty frame that does not end its message says nothing. */
        if (n > 0 || (r->left == 0 && r->h.fin)) {
            *used = at + n;
            return take_data(r, buf + at, n, ev);
        }
        if (r->left > 0) {
            *used = at;
            return 0;
        }
        r->in_payload = 0;
    }
}

uint64_t eddy__ws_need(const eddy__ws_reader *r)
{
    if (r->in_payload)
        return r->left > 0 ? r->left : 1;
    return r->hlen > 0 ? (uint64_t)(r->h.size - r->hlen) : 2;
}

size_t eddy__ws_write_header(uint8_t *out, unsigned opcode, int fin, int rsv1,
                             uint64_t len, const uint8_t *mask)
{
    size_t size = 2;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
    out[1] = mask != NULL ? 0x80 : 0;
    if (len < 126) {
        out[1] |= (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] |= 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        size = 4;
    } else {
        out[1] |= 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        size = 10;
    }
    if (mask != NULL) {
        memcpy(out + size, mask, 4);
        size += 4;
    }
    return size;
}

/* The mask rotated to phase pos, twice: 8 bytes to XOR a word with. */
static uint64_t mask_word(const uint8_t *mask, uint64_t pos, uint8_t *m8)
{
    uint64_t w;

    for (int k = 0; k < 8; k++)
        m8[k] = mask[(pos + (unsigned)k) & 3];
    memcpy(&w, m8, 8);
    return w;
}

void eddy__ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n,
                        const uint8_t *mask, uint64_t pos)
{
    uint8_t m8[8];
    uint64_t m = mask_word(mask, pos, m8), a, b, c, d;
    size_t i = 0;

    /* memcpy in and out: no alignment assumed, and compilers turn each
     * into one unaligned load or store. */
    for (; i + 32 <= n; i += 32) {
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= m, b ^= m, c ^= m, d ^= m;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    for (; i + 8 <= n; i += 8) {
        memcpy(&a, src + i, 8);
        a ^= m;
        memcpy(dst + i, &a, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ m8[i & 7];
}

void eddy__ws_mask(uint8_t *p, size_t n, const uint8_t *mask, uint64_t pos)
{
    eddy__ws_mask_copy(p, p, n, mask, pos);
}

int eddy__ws_close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int eddy__ws_close_payload(uint8_t *out, unsigned code, const char *reason,
                           size_t len)
{
    unsigned st = EDDY_UTF8_ACCEPT;

    if (code == 0)
        return len == 0 ? 0 : -EINVAL;
    if (!eddy__ws_close_code_ok(code) || len > EDDY_WS_MAX_CLOSE_REASON)
        return -EINVAL;
    if (len > 0 &&
        (eddy__utf8_valid(&st, (const uint8_t *)reason, len) != len ||
         st != EDDY_UTF8_ACCEPT))
        return -EINVAL;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (len > 0)
        memcpy(out + 2, reason, len);
    return (int)len + 2;
}
