/*
 * websocket/ws_internal.h - the part of WebSocket (RFC 6455) and
 * permessage-deflate (RFC 7692) that needs no I/O: the frame reader and
 * writer, masking, UTF-8 validation, permessage-deflate's negotiation and
 * codec, and the opening handshake's checks.  Internal: shared by the
 * connection code, the tests, the fuzzers and the benchmark.
 *
 * Nothing here does I/O, knows of loops or streams, or keeps global
 * state.  Nothing allocates except the zlib states (created on first use,
 * owned by their deflater or inflater) and the deflate output buffer
 * (owned by the caller).
 *
 * Errors are negated close codes, which the caller puts in its Close
 * frame: -1002 (protocol error), -1007 (invalid data), -1009 (too big);
 * or negated errno values: -ENOMEM, -ENOTSUP (no zlib in this build),
 * -EINVAL, -EPROTO, -ENOSPC.  Close codes are all above 999 and errno
 * values all below, so one test tells them apart: err <= -1000.
 */
#ifndef EDDY_WS_INTERNAL_H
#define EDDY_WS_INTERNAL_H

#include "eddy/httpserver.h"
#include "eddy/iostream.h"
#include "eddy/websocket.h"

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

enum { EDDY_WS_SERVER = 0, EDDY_WS_CLIENT = 1 };

#define EDDY_WS_RSV1 4             /* the RSV bits as 3 bits: RSV1 RSV2 RSV3 */
#define EDDY_WS_MAX_HEADER 14      /* 2 + 8 (length) + 4 (mask) */
#define EDDY_WS_KEY_LEN 24         /* base64 of 16 bytes */
#define EDDY_WS_ACCEPT_LEN 28      /* base64 of a SHA-1 */
#define EDDY_WS_PMD_MAX_HEADER 160 /* the longest offer or response */

/* --- UTF-8 (utf8.c) ---------------------------------------------------- */

enum { EDDY_UTF8_ACCEPT = 0, EDDY_UTF8_REJECT = 1 };

/*
 * Validates p[0, n) as the next bytes of a UTF-8 text, which may be cut
 * anywhere.  *state is EDDY_UTF8_ACCEPT (0) before the first byte, and
 * after a byte that ends a character.  Returns n when the bytes can still
 * be valid UTF-8, else the index of the first byte that makes that
 * impossible (an overlong form, a surrogate, a code point past U+10FFFF,
 * a byte that can start nothing, a missing continuation byte); *state is
 * then EDDY_UTF8_REJECT, and stays so.  A text is valid when it ends in
 * state ACCEPT.
 */
EDDY_HIDDEN size_t eddy__utf8_valid(unsigned *state, const uint8_t *p,
                                       size_t n);

/* --- frames (frame.c) --------------------------------------------------- */

/* A frame's header. */
typedef struct eddy__ws_header {
    uint64_t len;   /* payload length */
    uint8_t fin;    /* 1: the last frame of its message */
    uint8_t rsv;    /* RSV1..3 as bits 2..0 */
    uint8_t opcode; /* EDDY_WS_TEXT... */
    uint8_t masked; /* the payload is masked with mask */
    uint8_t mask[4];
    uint8_t size; /* header bytes: 2 to 14 (see parse_header) */
} eddy__ws_header;

/*
 * Parses the frame header at p[0, n) as an endpoint in role (EDDY_WS_SERVER
 * reads masked frames, EDDY_WS_CLIENT unmasked ones) for which the RSV
 * bits in rsv_ok (EDDY_WS_RSV1 with permessage-deflate, else 0) may be set
 * on the first frame of a data message.  Returns the header's size (2 to
 * 14) when it is complete; 0 when more bytes are needed, with h->size the
 * header's size as far as the bytes so far tell (2 until the second byte
 * is in, exact after); or -1002.  Fails as soon as a byte shows the frame
 * invalid: an unknown opcode, a RSV bit not allowed, a fragmented control
 * frame (first byte); a mask bit wrong for the role, a control payload
 * over 125 bytes (second); a 64-bit length with its top bit set (third).
 * Lengths need not be encoded in the fewest bytes (docs/architecture.md).
 */
EDDY_HIDDEN int eddy__ws_parse_header(const uint8_t *p, size_t n, int role,
                                         unsigned rsv_ok, eddy__ws_header *h);

/* What eddy__ws_read() found. */
enum { EDDY_WS_EV_NONE = 0, EDDY_WS_EV_DATA = 1, EDDY_WS_EV_CONTROL = 2 };

typedef struct eddy__ws_event {
    uint8_t type;        /* EDDY_WS_EV_* */
    uint8_t opcode;      /* DATA: the message's TEXT or BINARY; CONTROL:
                            CLOSE, PING or PONG */
    uint8_t fin;         /* DATA: this piece ends the message */
    uint8_t compressed;  /* DATA: the message has RSV1 set (inflate it) */
    uint16_t code;       /* CLOSE: the status code; 1005 when it had none */
    const uint8_t *data; /* DATA: payload, unmasked, in the caller's buffer;
                            CONTROL: payload, in the reader (CLOSE: the
                            reason, after the code) */
    size_t len;          /* bytes at data */
} eddy__ws_event;

/*
 * The incremental frame reader: a stream of bytes in, messages' payload
 * pieces and control frames out.  Set up with eddy__ws_reader_init(); the
 * connection sets rsv_ok to EDDY_WS_RSV1 once permessage-deflate is
 * agreed.  Everything else is its state.
 */
typedef struct eddy__ws_reader {
    uint64_t max_message; /* a message longer gets 1009 */
    uint8_t role;         /* EDDY_WS_SERVER or EDDY_WS_CLIENT */
    uint8_t rsv_ok;       /* RSV bits a message may set */
    uint8_t in_payload;   /* 0: reading a header, 1: its payload */
    uint8_t hlen;         /* header bytes kept in hdr (a split header) */
    uint8_t hdr[EDDY_WS_MAX_HEADER];
    eddy__ws_header h;  /* the frame being read */
    uint64_t left;      /* its payload bytes still to come */
    uint64_t pos;       /* and those read (the mask's phase) */
    uint8_t msg_opcode; /* the data message under way: TEXT, BINARY, 0 */
    uint8_t msg_compressed;
    uint64_t msg_len; /* its payload bytes so far, on the wire */
    unsigned utf8;    /* validator state of an uncompressed text */
    uint8_t ctl_len;  /* control payload bytes in ctl */
    uint8_t ctl[EDDY_WS_MAX_CONTROL];
} eddy__ws_reader;

/* A reader for role with the given message limit (literal: 0 allows only
 * empty messages) and no RSV bit allowed. */
EDDY_HIDDEN void eddy__ws_reader_init(eddy__ws_reader *r, int role,
                                         uint64_t max_message);

/*
 * Reads buf[0, len), up to the next event: sets *used to the bytes taken
 * and fills *ev.  A data frame's payload is unmasked in place and handed
 * over in pieces as it arrives (one DATA event per call, with what the
 * buffer holds of it); a control frame is collected in the reader and
 * handed over whole, also between a fragmented message's frames.  With
 * EDDY_WS_EV_NONE every byte was taken and more are needed.  Call again
 * with the bytes after *used.
 *
 * Returns 0, or the close code to fail the connection with, negated:
 * -1002 for a frame that breaks RFC 6455 (eddy__ws_parse_header's rules; a
 * continuation frame with no message under way, or a new data message
 * inside a fragmented one; a Close frame of 1 byte or with a code that
 * may not be sent), -1007 for a text message or a close reason that is
 * not UTF-8 (as soon as a byte shows it, or at the message's end if a
 * character is cut off), -1009 when a message passes max_message (at the
 * frame header that takes it past; a compressed message may take twice
 * max_message + 1 KiB on the wire, its inflater limits what it becomes).
 * Compressed text is not validated here: validate what it inflates to.
 * After an error the reader is spent.
 */
EDDY_HIDDEN int eddy__ws_read(eddy__ws_reader *r, uint8_t *buf, size_t len,
                                 size_t *used, eddy__ws_event *ev);

/* The bytes the reader needs next to make progress: what is missing of
 * the header under way, or the payload left of the frame (at least 1). */
EDDY_HIDDEN uint64_t eddy__ws_need(const eddy__ws_reader *r);

/*
 * Writes a frame header into out (EDDY_WS_MAX_HEADER bytes) and returns
 * its size: the length in the fewest bytes, masked with mask unless mask
 * is NULL.  The payload follows it separately (masked by the client with
 * eddy__ws_mask_copy(), sent by reference by the server).
 */
EDDY_HIDDEN size_t eddy__ws_write_header(uint8_t *out, unsigned opcode,
                                            int fin, int rsv1, uint64_t len,
                                            const uint8_t *mask);

/* XORs p[0, n) with mask, as bytes pos.. of a payload (8 bytes at a time;
 * any alignment).  Masking and unmasking are the same. */
EDDY_HIDDEN void eddy__ws_mask(uint8_t *p, size_t n, const uint8_t *mask,
                                  uint64_t pos);
/* The same from src into dst (which may be src). */
EDDY_HIDDEN void eddy__ws_mask_copy(uint8_t *dst, const uint8_t *src,
                                       size_t n, const uint8_t *mask,
                                       uint64_t pos);

/* Whether a Close frame may carry code: 1000-1003, 1007-1014, 3000-4999. */
EDDY_HIDDEN int eddy__ws_close_code_ok(unsigned code);

/*
 * Builds a Close frame's payload in out (EDDY_WS_MAX_CONTROL bytes): code
 * (0: none, then reason must be empty) and reason.  Returns its length,
 * or -EINVAL for a code that may not be sent, a reason longer than 123
 * bytes or not UTF-8.
 */
EDDY_HIDDEN int eddy__ws_close_payload(uint8_t *out, unsigned code,
                                          const char *reason, size_t len);

/* --- masks and keys from the kernel's random source (random.c) --------- */

/* Fills buf with n unpredictable bytes (getentropy).  0 or -errno. */
EDDY_HIDDEN int eddy__ws_random(void *buf, size_t n);

/*
 * A client's masking keys.  RFC 6455 10.3 wants them unpredictable, which
 * a fast PRNG's are not once its output is seen; so they come from the
 * kernel, 16 at a time: one getentropy() per 16 frames.  Zero it to start.
 */
typedef struct eddy__ws_masks {
    uint8_t pool[64];
    uint8_t left; /* unused bytes at the pool's end */
} eddy__ws_masks;

/* The next masking key into mask.  0 or -errno (getentropy failed). */
EDDY_HIDDEN int eddy__ws_mask_next(eddy__ws_masks *m, uint8_t *mask);

/* --- SHA-1 and base64 (sha1.c) ----------------------------------------- */

typedef struct eddy__sha1 {
    uint32_t h[5];
    uint64_t len; /* bytes hashed */
    uint8_t buf[64];
} eddy__sha1;

EDDY_HIDDEN void eddy__sha1_init(eddy__sha1 *c);
EDDY_HIDDEN void eddy__sha1_update(eddy__sha1 *c, const void *data,
                                      size_t n);
EDDY_HIDDEN void eddy__sha1_final(eddy__sha1 *c, uint8_t *out /* 20 */);

/* Writes base64 of in[0, n) (with padding, no NUL) to out, which holds
 * 4 * ((n + 2) / 3) bytes; returns that count. */
EDDY_HIDDEN size_t eddy__base64_encode(const uint8_t *in, size_t n,
                                          char *out);
/* Decodes strict base64 (RFC 4648: padded, no whitespace, no bits set in
 * the padding) into out[0, cap).  Returns the bytes, or -EINVAL (not such
 * base64), -ENOSPC (cap too small). */
EDDY_HIDDEN long eddy__base64_decode(const char *in, size_t n, uint8_t *out,
                                        size_t cap);

/* --- the opening handshake (handshake.c) -------------------------------- */

/* Whether key is a Sec-WebSocket-Key: base64 of 16 bytes. */
EDDY_HIDDEN int eddy__ws_key_ok(const char *key, size_t len);

/* Sec-WebSocket-Accept for key: base64(SHA-1(key GUID)), NUL-terminated,
 * into out (EDDY_WS_ACCEPT_LEN + 1 bytes). */
EDDY_HIDDEN void eddy__ws_accept(const char *key, size_t len, char *out);

/* A new random Sec-WebSocket-Key, NUL-terminated, into out
 * (EDDY_WS_KEY_LEN + 1 bytes).  0 or -errno. */
EDDY_HIDDEN int eddy__ws_client_key(char *out);

/*
 * The next element of a comma-separated header list (RFC 9110 5.6.1) at
 * *pos (before end): empty elements are skipped, and OWS around each is
 * trimmed.  Returns 1 with *item, *len set and *pos moved past it, or 0 at
 * the end.  Elements are not checked: see eddy__ws_list_has().
 */
EDDY_HIDDEN int eddy__ws_list_next(const char **pos, const char *end,
                                      const char **item, size_t *len);

/*
 * Whether the list in value[0, len) has the element token (compared
 * ASCII-case-insensitively when nocase): 1 or 0; or -EINVAL when an
 * element is not a token.  For Connection (upgrade), Upgrade (websocket)
 * and a client's check of Sec-WebSocket-Protocol.
 */
EDDY_HIDDEN int eddy__ws_list_has(const char *value, size_t len,
                                     const char *token, int nocase);

/* Whether Sec-WebSocket-Version says 13 (else: 426 with
 * "Sec-WebSocket-Version: 13"). */
EDDY_HIDDEN int eddy__ws_version_ok(const char *value, size_t len);

/*
 * Picks a subprotocol: the first of ours (NULL-terminated, in the
 * server's order of preference) that the client's Sec-WebSocket-Protocol
 * lines[0, n) offer, compared exactly.  Returns its index in ours,
 * -ENOENT when there is none in common (answer without the header), or
 * -EINVAL when a line is not a list of tokens (400).
 */
EDDY_HIDDEN int eddy__ws_select_protocol(const eddy_str *lines, size_t n,
                                            const char *const *ours);

/* --- permessage-deflate: negotiation (extension.c) ---------------------- */

/* What the two sides agreed on; window bits are 8 to 15. */
typedef struct eddy__ws_pmd {
    uint8_t server_no_context_takeover;
    uint8_t client_no_context_takeover;
    uint8_t server_max_window_bits;
    uint8_t client_max_window_bits;
} eddy__ws_pmd;

/* Whether options are valid: window bits 0 or 8 to 15, level 0 to 9,
 * mem_level 0 to 9.  0 or -EINVAL. */
EDDY_HIDDEN int eddy__ws_pmd_check_options(const eddy_ws_deflate_options *o);

/*
 * Server: takes the first offer of permessage-deflate in the client's
 * Sec-WebSocket-Extensions lines[0, n) that is valid (no unknown or
 * repeated parameter, window bits 8 to 15) and that options (NULL: off)
 * allow, fills *agreed and writes the response's extension to resp
 * (NUL-terminated; EDDY_WS_PMD_MAX_HEADER bytes are always enough).
 * Returns 1 then; 0 when nothing is taken (no such offer, compression
 * off or not built in): answer without the header; -EINVAL when a line is
 * not a valid extension list (400, RFC 6455 4.2.1); -ENOSPC (cap).
 */
EDDY_HIDDEN int eddy__ws_pmd_accept(const eddy_ws_deflate_options *o,
                                       const eddy_str *lines, size_t n,
                                       eddy__ws_pmd *agreed, char *resp,
                                       size_t cap);

/* Client: the offer for options, NUL-terminated, into out.  Returns its
 * length, -ENOTSUP (off, or not built in: send no offer), -ENOSPC. */
EDDY_HIDDEN int eddy__ws_pmd_offer(const eddy_ws_deflate_options *o,
                                      char *out, size_t cap);

/*
 * Client: checks the server's Sec-WebSocket-Extensions lines[0, n)
 * against the offer made for options (NULL or off: none).  Returns 1 and
 * fills *agreed when it accepted permessage-deflate, 0 when it declined
 * (no lines), or -EPROTO when the answer is invalid: an extension not
 * offered, permessage-deflate twice, a parameter unknown, repeated, out
 * of range or beyond what was offered, a parameter offered that must
 * come back and did not.  RFC 6455 4.1: fail the connection then.
 */
EDDY_HIDDEN int eddy__ws_pmd_check(const eddy_ws_deflate_options *o,
                                      const eddy_str *lines, size_t n,
                                      eddy__ws_pmd *agreed);

/* --- the opening handshake, whole (handshake.c) ------------------------ */

/* The most Sec-WebSocket-Protocol or -Extensions lines a handshake reads
 * (more: 400, or a client's EDDY_WS_ESUBPROTOCOL / _EEXTENSION). */
#define EDDY_WS_MAX_LINES 16

/* What the server answers a handshake request: eddy__ws_check_request(). */
typedef struct eddy__ws_verdict {
    int status;         /* 101; or the refusal's 400, 403, 426 */
    const char *why;    /* a refusal's reason (static), for log and body */
    char accept[EDDY_WS_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept */
    int protocol;       /* the subprotocol's index in the server's; -1 */
    int deflate;        /* permessage-deflate agreed: agreed and ext */
    eddy__ws_pmd agreed;
    char ext[EDDY_WS_PMD_MAX_HEADER]; /* Sec-WebSocket-Extensions */
} eddy__ws_verdict;

/*
 * Checks a handshake request (RFC 6455 4.2.1), its method, version (10 or
 * 11) and header fields h[0, n), against o (not NULL), and fills *v: 101
 * with what to answer, or the refusal's status and reason.  Checks, in
 * order: GET, HTTP/1.1, "websocket" in Upgrade, "upgrade" in Connection
 * (both any case), one Sec-WebSocket-Version saying 13 (else 426), one
 * Sec-WebSocket-Key of base64 of 16 bytes, the Origin (o->check_origin,
 * called with req, or the same-host rule; 403), then subprotocols and
 * extensions as lists (400 when they do not parse).  Reads nothing past
 * the lengths given and allocates nothing.
 */
EDDY_HIDDEN void eddy__ws_check_request(eddy_str method, int version,
                                        const eddy_http_header *h, size_t n,
                                        const eddy_ws_server_options *o,
                                        eddy_http_request *req,
                                        eddy__ws_verdict *v);

/*
 * Checks a server's answer to a client's handshake (RFC 6455 4.1): its
 * status and header fields h[0, n), against the key sent (NUL-terminated),
 * the subprotocols offered (NULL-terminated, or NULL) and the deflate
 * options the offer was made from (NULL: none offered).  Returns 0 with
 * *protocol (the index of the subprotocol chosen, -1: none) and *pmd (1
 * with *agreed when permessage-deflate was agreed), or EDDY_WS_ESTATUS,
 * _EUPGRADE, _EACCEPT, _ESUBPROTOCOL, _EEXTENSION, in that order.
 */
EDDY_HIDDEN int eddy__ws_check_response(int status, const eddy_http_header *h,
                                        size_t n, const char *key,
                                        const char *const *subprotocols,
                                        const eddy_ws_deflate_options *deflate,
                                        int *protocol, int *pmd,
                                        eddy__ws_pmd *agreed);

/* Whether p[0, n) begins with lower (lower case), in any case. */
EDDY_HIDDEN int eddy__ws_ieq_prefix(const char *p, size_t n, const char *lower);

/* Whether a program's own header fields h[0, n) may go with a handshake
 * (the client's request or the server's 101): at most max of them, and
 * none the handshake writes itself (Upgrade, Connection, Sec-WebSocket-*). */
EDDY_HIDDEN int eddy__ws_extra_ok(const eddy_http_header *h, size_t n,
                                  size_t max);

/* --- permessage-deflate: the codec (deflate.c) ------------------------- */

/* A growable output buffer; the caller owns it (free p). */
typedef struct eddy__ws_buf {
    uint8_t *p;
    size_t len, cap;
} eddy__ws_buf;

typedef struct eddy__ws_deflater {
    void *z;             /* zlib's state, made on first use */
    uint8_t window_bits; /* 9 to 15 */
    uint8_t no_context;  /* start afresh with every message */
    uint8_t off;         /* 8-bit window: send uncompressed */
    int8_t level;
    uint8_t mem_level;
} eddy__ws_deflater;

typedef struct eddy__ws_inflater {
    void *z;             /* zlib's state, made on first use */
    uint64_t max;        /* a message inflating past this gets 1009 */
    uint64_t total;      /* bytes the current message inflated to */
    uint8_t window_bits; /* 9 to 15 */
    uint8_t no_context;  /* the peer starts afresh with every message */
    uint8_t tail;        /* bytes of 00 00 ff ff fed at the end */
    uint8_t ended;       /* the peer's deflate stream ended (BFINAL) */
    uint8_t restarts;    /* streams begun again in this message */
    uint8_t pending;     /* output may be waiting for room */
} eddy__ws_inflater;

/* Whether permessage-deflate is built in (zlib). */
EDDY_HIDDEN int eddy__ws_deflate_available(void);

/* Sets up a deflater: our compressor's window (8 turns it off), whether
 * it starts afresh with each message, level and mem_level (0: 6 and 8).
 * Allocates nothing. */
EDDY_HIDDEN void eddy__ws_deflater_init(eddy__ws_deflater *d,
                                           int window_bits, int no_context,
                                           int level, int mem_level);

/* Sets up an inflater: the peer compressor's window, whether it starts
 * afresh with each message, and the limit of a message's size.
 * Allocates nothing. */
EDDY_HIDDEN void eddy__ws_inflater_init(eddy__ws_inflater *i,
                                           int window_bits, int no_context,
                                           uint64_t max);

/* Both, for role, from what was agreed, options' level and mem_level
 * (o may be NULL) and the message limit. */
EDDY_HIDDEN void eddy__ws_pmd_setup(const eddy__ws_pmd *agreed, int role,
                                       const eddy_ws_deflate_options *o,
                                       uint64_t max_message,
                                       eddy__ws_deflater *d,
                                       eddy__ws_inflater *i);

/*
 * Compresses in[0, n) as the next part of a message and appends the
 * result to out (grown as needed; reuse it between messages).  With fin
 * the message ends here: the output is flushed and its 00 00 ff ff tail
 * removed (RFC 7692 7.2.1), so out then holds the whole payload, for one
 * frame with RSV1 or several.  Returns 0, -ENOMEM, or -ENOTSUP (off, or
 * not built in: send the message uncompressed).
 */
EDDY_HIDDEN int eddy__ws_deflate(eddy__ws_deflater *d, const void *in,
                                    size_t n, int fin, eddy__ws_buf *out);

/*
 * Inflates in[0, n), the next piece of a compressed message's payload
 * (fin: its last), into out[0, cap): *used input bytes taken, *made
 * output bytes written.  Returns 0 when all the input is taken (with fin:
 * the message is complete, and the next call starts the next one), 1
 * when out filled first (call again with in + *used, the same fin and
 * fresh room), or: -1009 as soon as the message would inflate past max
 * (no more than max + 1 bytes are ever produced: a bomb stops there),
 * -1007 (not deflate data), -ENOMEM, -ENOTSUP (not built in).  A peer's
 * stream that ends (BFINAL, RFC 7692 7.2.3.3) may go on with a new one:
 * up to 4 times per message, keeping the window.
 */
EDDY_HIDDEN int eddy__ws_inflate(eddy__ws_inflater *i, const void *in,
                                    size_t n, int fin, void *out, size_t cap,
                                    size_t *used, size_t *made);

/* Free zlib's state; the struct stays set up and makes a new state on
 * next use.  Between messages without context takeover this keeps an
 * idle connection small; with it, only when the connection ends. */
EDDY_HIDDEN void eddy__ws_deflater_free(eddy__ws_deflater *d);
EDDY_HIDDEN void eddy__ws_inflater_free(eddy__ws_inflater *i);

/* --- the connection (conn.c) ------------------------------------------- */

/* Whether opts (NULL: defaults) are valid for a connection, deflate
 * settings included: 0 or -EINVAL, as eddy__ws_conn_new() would say. */
EDDY_HIDDEN int eddy__ws_options_check(const eddy_ws_options *opts);

/*
 * Makes a WebSocket connection over s once the opening handshake has
 * succeeded; the HTTP server's and the HTTP client's upgrade call it, and
 * the tests over socketpairs.  role is EDDY_WS_SERVER or EDDY_WS_CLIENT;
 * leftover[0, n) are the bytes read past the handshake's head (frames
 * the peer sent at once; copied); agreed is the permessage-deflate the
 * handshake agreed on, or NULL; subprotocol the one it chose, or NULL
 * (copied); opts (NULL: defaults) and cb (NULL: none) as websocket.h
 * says, arg for the callbacks.  No callback runs inside this call.
 *
 * On success the connection owns s: it takes s's close and drain
 * callbacks, reads from it (no read may be pending), and closes it at
 * the end.  s's max_buffer_size must be at least 64 KiB (a read asks for
 * up to that much; the default is 100 MiB).  Errors, after which s is
 * still the caller's and unchanged: -EINVAL (a role that is neither, NULL
 * leftover with n, write_low_water not below write_high_water, deflate
 * options out of range), -ENOTSUP (agreed given to a build without zlib),
 * -EBUSY (a read is pending on s), -EPIPE (s is closed), -ENOMEM, and the
 * loop's errors for the ping timer.
 */
EDDY_HIDDEN int eddy__ws_conn_new(eddy_stream *s, int role,
                                  const char *leftover, size_t n,
                                  const eddy__ws_pmd *agreed,
                                  const char *subprotocol,
                                  const eddy_ws_options *opts,
                                  const eddy_ws_callbacks *cb, void *arg,
                                  eddy_ws **out);

#endif
