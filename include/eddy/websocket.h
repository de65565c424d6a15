/**
 * @file
 * @brief WebSocket (RFC 6455) with permessage-deflate (RFC 7692): the
 * connection, its options and callbacks, and the protocol's constants.
 *
 * Everything it declares is described under @ref websocket.
 */
/**
 * @defgroup websocket WebSocket (websocket.h)
 * @brief WebSocket connections: messages in and out, pings, the closing
 * handshake, backpressure and compression.
 *
 * An eddy_ws is one WebSocket connection over an eddy_stream, in either
 * role, once the opening handshake has succeeded (the HTTP server's and
 * the HTTP client's upgrade make it).  All functions run on the loop's
 * thread.
 *
 * Receiving.  Messages arrive whole in on_message(): reassembled from
 * their frames, decompressed, and for text checked to be UTF-8; a message
 * longer than max_message_size closes the connection with 1009, text that
 * is not UTF-8 with 1007 as soon as a byte shows it (also in the middle
 * of a message), and any breach of the protocol with 1002.  Pings are
 * answered with pongs by eddy.  A program that wants a message's bytes
 * as they arrive sets on_message_part() instead.
 *
 * Sending.  eddy_ws_send() queues a whole message; eddy_ws_send_ref()
 * the same without copying it (a broadcast hands one buffer to every
 * connection); eddy_ws_send_fragment() a message in pieces.  Sends never
 * block and never fail because the peer is slow: the bytes queue in the
 * stream.  A sender that must not outrun its reader watches
 * eddy_ws_needs_drain() (true once the queue reached write_high_water)
 * and waits for on_drain() (run when it fell to write_low_water);
 * max_write_buffer_size is the hard limit that drops a connection whose
 * queue would pass it.
 *
 * Closing.  eddy_ws_close() starts the closing handshake: a Close frame
 * goes out, the peer answers with its own, and then the server closes
 * the TCP connection (a client waits for the server to do it, RFC 6455
 * 7.1.1), all within close_timeout_ms.  A Close from the peer is answered
 * with the same code.  eddy_ws_abort() drops the connection at once.
 * However it ends, on_close() runs exactly once, never inside a call of
 * the program's, and the connection frees itself when it returns.
 *
 * Ownership.  The connection owns its stream.  The eddy_ws pointer is
 * valid from its creation until on_close() returns; after that every
 * call on it is undefined.  Callbacks may call any function of this
 * header on their own connection, and on others.
 */
#ifndef EDDY_WEBSOCKET_H
#define EDDY_WEBSOCKET_H

#include "eddy/httpclient.h"
#include "eddy/httpserver.h"
#include "eddy/iostream.h"
#include "eddy/tls.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup websocket
 *  @{ */

/** Frame opcodes (RFC 6455 5.2).  Messages are TEXT (valid UTF-8, checked
 *  on arrival) or BINARY; CLOSE, PING and PONG are control frames. */
enum eddy_ws_opcode {
    EDDY_WS_CONTINUATION = 0x0, /**< the next fragment of a message */
    EDDY_WS_TEXT = 0x1,         /**< a text message: UTF-8 */
    EDDY_WS_BINARY = 0x2,       /**< a binary message */
    EDDY_WS_CLOSE = 0x8,        /**< the closing handshake */
    EDDY_WS_PING = 0x9,         /**< a ping; answered with a pong */
    EDDY_WS_PONG = 0xA          /**< a pong */
};

/**
 * Close codes (RFC 6455 7.4.1 and IANA's registry).  A Close frame may
 * carry 1000-1003, 1007-1014 and 3000-4999 (3000-3999 are registered
 * with IANA, 4000-4999 are private).  1005, 1006 and 1015 are never
 * sent: they only report what happened locally.  Any other code in a
 * received Close frame is a protocol error (1002).
 */
enum eddy_ws_close_code {
    EDDY_WS_NORMAL = 1000,              /**< the purpose was fulfilled */
    EDDY_WS_GOING_AWAY = 1001,          /**< a server going down, a page left */
    EDDY_WS_PROTOCOL_ERROR = 1002,      /**< the peer broke the protocol */
    EDDY_WS_UNSUPPORTED_DATA = 1003,    /**< a message type it cannot take */
    EDDY_WS_NO_STATUS = 1005,           /**< the Close frame had no code;
                                             never sent */
    EDDY_WS_ABNORMAL = 1006,            /**< closed without a Close frame;
                                             never sent */
    EDDY_WS_INVALID_DATA = 1007,        /**< e.g. text that is not UTF-8, or
                                             compressed data that is not
                                             deflate */
    EDDY_WS_POLICY_VIOLATION = 1008,    /**< a generic refusal */
    EDDY_WS_MESSAGE_TOO_BIG = 1009,     /**< a message over the limit */
    EDDY_WS_MANDATORY_EXTENSION = 1010, /**< (client) the server did not
                                             accept an extension it needs */
    EDDY_WS_INTERNAL_ERROR = 1011,      /**< the server failed */
    EDDY_WS_SERVICE_RESTART = 1012,     /**< the service is restarting */
    EDDY_WS_TRY_AGAIN_LATER = 1013,     /**< overloaded for now */
    EDDY_WS_BAD_GATEWAY = 1014,         /**< a gateway got a bad answer */
    EDDY_WS_TLS_HANDSHAKE = 1015        /**< the TLS handshake failed; never
                                             sent */
};

/** The default limit of a message's size (10 MiB): a longer message
 *  closes the connection with 1009.  For a compressed message the limit
 *  is on its decompressed size. */
#define EDDY_WS_DEFAULT_MAX_MESSAGE ((uint64_t)10 << 20)
/** The longest payload of a control frame (RFC 6455 5.5). */
#define EDDY_WS_MAX_CONTROL 125
/** The longest reason a Close frame can carry, in bytes of UTF-8. */
#define EDDY_WS_MAX_CLOSE_REASON 123

/**
 * permessage-deflate's settings (RFC 7692).  A zero field takes the
 * default given.  The window sizes trade memory for ratio: with context
 * takeover a connection keeps a compressor of about
 * 2^(window bits + 2) + 2^(mem_level + 9) bytes and a decompressor of
 * about 2^(window bits) + 7 KiB, for as long as it lives (with 15 and 8:
 * 256 KiB and 40 KiB); without context takeover they are only needed
 * while a message is processed.
 *
 * zlib cannot compress with a 256-byte window (8 bits): when the
 * negotiation leaves a side's compressor at 8 bits, that side sends its
 * messages uncompressed, which RFC 7692 allows.
 */
typedef struct eddy_ws_deflate_options {
    int enable;                     /**< non-zero: offer (client) or accept
                                         (server) permessage-deflate */
    int server_no_context_takeover; /**< the server's compressor starts
                                         afresh with every message */
    int client_no_context_takeover; /**< the client's compressor starts
                                         afresh with every message */
    int server_max_window_bits;     /**< the server compressor's window,
                                         8 to 15 bits; 0: 15 */
    int client_max_window_bits;     /**< the client compressor's window,
                                         8 to 15 bits; 0: 15 */
    int level;                      /**< zlib's compression level, 1 (fast)
                                         to 9 (small); 0: 6 */
    int mem_level;                  /**< zlib's memLevel, 1 to 9; 0: 8 */
    size_t min_size;                /**< messages shorter than this go
                                         uncompressed; 0: none do */
} eddy_ws_deflate_options;

/** A WebSocket connection.  Opaque; made by the opening handshake
 *  (the HTTP server's or the HTTP client's upgrade). */
typedef struct eddy_ws eddy_ws;

/** The default limit of a connection's pending outgoing bytes before
 *  eddy_ws_needs_drain() says so (write_high_water). */
#define EDDY_WS_DEFAULT_HIGH_WATER ((size_t)64 << 10)
/** The default time allowed for the closing handshake, in ms. */
#define EDDY_WS_DEFAULT_CLOSE_TIMEOUT 5000

/** A connection's settings; a zero field takes its default. */
typedef struct eddy_ws_options {
    uint64_t max_message_size;       /**< the longest message taken (for a
                                          compressed one, once inflated);
                                          longer closes with 1009.  Default
                                          EDDY_WS_DEFAULT_MAX_MESSAGE */
    uint32_t ping_interval_ms;       /**< send a ping this often; default:
                                          never */
    uint32_t ping_timeout_ms;        /**< drop the connection when no pong
                                          came this long after a ping;
                                          default: ping_interval_ms */
    uint32_t close_timeout_ms;       /**< the closing handshake's time, from
                                          the Close sent to the TCP connection
                                          closed; default
                                          EDDY_WS_DEFAULT_CLOSE_TIMEOUT */
    size_t write_high_water;         /**< queued bytes at which
                                          eddy_ws_needs_drain() turns true;
                                          default EDDY_WS_DEFAULT_HIGH_WATER */
    size_t write_low_water;          /**< queued bytes at which on_drain()
                                          runs, below write_high_water;
                                          default write_high_water / 4 */
    size_t max_write_buffer_size;    /**< queued bytes a send may not take
                                          the connection past (it is dropped,
                                          -ENOSPC); default: no limit but the
                                          stream's own */
    eddy_ws_deflate_options deflate; /**< permessage-deflate: what the
                                          handshake offers or accepts, and
                                          the compressor's level, memory
                                          and min_size */
} eddy_ws_options;

/**
 * A whole message arrived: opcode EDDY_WS_TEXT (valid UTF-8) or
 * EDDY_WS_BINARY, and its len bytes.  data is valid during the call only;
 * data[len] is 0, so text without NUL bytes is also a C string.
 */
typedef void (*eddy_ws_message_cb)(eddy_ws *ws, int opcode, const char *data,
                                   size_t len, void *arg);
/**
 * A piece of a message, as it arrives (not necessarily one frame of the
 * peer's): opcode is the message's (EDDY_WS_TEXT or EDDY_WS_BINARY) on
 * every piece, fin is non-zero on the last one (which may be empty).  A
 * text's pieces may cut a character in two; the text as a whole is
 * checked.  data is valid during the call only.
 */
typedef void (*eddy_ws_part_cb)(eddy_ws *ws, int opcode, const char *data,
                                size_t len, int fin, void *arg);
/**
 * The connection is closed; ws is freed when this returns.  code is the
 * status code the peer's Close frame carried (EDDY_WS_NO_STATUS when it
 * had none) when the closing handshake took place, whoever began it; the
 * code eddy sent when it failed the connection (1002, 1007, 1009, ...);
 * or EDDY_WS_ABNORMAL (1006) when no Close frame came: the peer went
 * away, a timeout, eddy_ws_abort(), a limit.  reason (len bytes of
 * UTF-8, NUL-terminated) is the peer's Close reason, or "".
 * eddy_ws_error() says how the connection ended.
 */
typedef void (*eddy_ws_close_cb)(eddy_ws *ws, int code, const char *reason,
                                 size_t len, void *arg);
/** Runs when the queued bytes, having reached write_high_water, fell to
 *  write_low_water: a paused sender goes on. */
typedef void (*eddy_ws_drain_cb)(eddy_ws *ws, void *arg);
/** A pong arrived (an answer to a ping, or unsolicited) with its len
 *  bytes of payload (at most 125). */
typedef void (*eddy_ws_pong_cb)(eddy_ws *ws, const char *data, size_t len,
                                void *arg);

/**
 * The opening handshake ended, first of all callbacks: ws is the open
 * connection and status 0; or ws is NULL and status an error when the
 * handshake failed, and nothing more comes (free here what arg holds for
 * the connection).  The errors are eddy_ws_accept()'s (a server) and
 * eddy_ws_connect()'s (a client).  resp is for a client the server's
 * answer, valid during the call: the 101's head, or with
 * #EDDY_WS_ESTATUS the response that refused (status, headers, body);
 * NULL on a server, and when no answer came.
 */
typedef void (*eddy_ws_open_cb)(eddy_ws *ws, int status,
                                const eddy_http_response *resp, void *arg);

/** What a connection tells its program; any may be NULL.  Each gets the
 *  arg given with them. */
typedef struct eddy_ws_callbacks {
    eddy_ws_message_cb on_message;   /**< whole messages (unless
                                          on_message_part is set) */
    eddy_ws_part_cb on_message_part; /**< messages in pieces, instead of
                                          on_message */
    eddy_ws_close_cb on_close;       /**< the end, exactly once */
    eddy_ws_drain_cb on_drain;       /**< backpressure: go on sending */
    eddy_ws_pong_cb on_pong;         /**< a pong arrived */
    eddy_ws_open_cb on_open;         /**< the opening handshake ended (made
                                          by eddy_ws_accept() or
                                          eddy_ws_connect()) */
} eddy_ws_callbacks;

/** @name Error codes of the opening handshake
 *  eddy's own codes for WebSocket, -4040 to -4049, named by
 *  eddy_strerror().  The first three are eddy_ws_accept()'s: it answered
 *  the request itself and finished it.  The others reach a client's
 *  on_open().
 *  @{ */
/** The request is not a WebSocket opening handshake (not a GET over
 *  HTTP/1.1, no Upgrade: websocket or Connection: upgrade, a missing or
 *  malformed Sec-WebSocket-Key, a malformed Sec-WebSocket-Protocol or
 *  -Extensions): eddy answered 400 and logged why. */
#define EDDY_WS_EREQUEST (-4040)
/** The request asks for a version other than 13: eddy answered 426 with
 *  Sec-WebSocket-Version: 13. */
#define EDDY_WS_EVERSION (-4041)
/** The origin check refused the request's Origin: eddy answered 403. */
#define EDDY_WS_EORIGIN (-4042)
/** The server answered with a status other than 101 (on_open()'s resp
 *  has it, with its headers and body). */
#define EDDY_WS_ESTATUS (-4043)
/** The 101 had no Sec-WebSocket-Accept, or not the one the key asks. */
#define EDDY_WS_EACCEPT (-4044)
/** The 101 lacked Upgrade: websocket or Connection: upgrade. */
#define EDDY_WS_EUPGRADE (-4045)
/** The 101 named a subprotocol that was not offered, or several. */
#define EDDY_WS_ESUBPROTOCOL (-4046)
/** The 101's Sec-WebSocket-Extensions is not what the offer allows: an
 *  extension not offered, or permessage-deflate with parameters the
 *  offer excludes. */
#define EDDY_WS_EEXTENSION (-4047)
/** @} */

/** A connection's state (the browser's readyState, after the opening
 *  handshake). */
enum eddy_ws_state {
    EDDY_WS_STATE_OPEN = 1,    /**< messages flow both ways */
    EDDY_WS_STATE_CLOSING = 2, /**< a Close was sent or received, or the
                                    connection failed: nothing more can be
                                    sent */
    EDDY_WS_STATE_CLOSED = 3   /**< the TCP connection is closed: inside
                                    on_close() */
};

/** @name Sending
 *  @{ */

/**
 * Sends a message: opcode EDDY_WS_TEXT (data must be UTF-8) or
 * EDDY_WS_BINARY.  data is copied; compressed when permessage-deflate
 * was agreed and len is at least the deflate options' min_size.
 * Errors: -EINVAL (another opcode, text that is not UTF-8, NULL data with
 * a non-zero len: nothing is sent, the connection goes on); -EBUSY (a
 * message sent with eddy_ws_send_fragment() is unfinished: finish it
 * first); -EPIPE (closing or closed: nothing more can be sent); -ENOSPC
 * (the queue would pass max_write_buffer_size, or the stream's limit:
 * the connection is dropped, on_close() follows with 1006); -ENOMEM
 * (the connection is dropped likewise).
 */
EDDY_API int eddy_ws_send(eddy_ws *ws, int opcode, const void *data,
                          size_t len);

/**
 * Sends a message as eddy_ws_send() does, without copying data where it
 * can: the caller keeps data valid and unchanged until done(stream,
 * status, arg) runs (status 0 once the message is handed to the kernel,
 * or an error when the connection closed first), and may free it there.
 * A server's uncompressed messages over 4 KiB go out from data itself
 * (smaller ones are copied, which costs less than a buffer of their
 * own); a client masks, and a compressor compresses, into buffers of
 * their own at once; done runs when the message is out in every case.
 * done may be NULL.
 * Errors as eddy_ws_send(); after an error done does not run.
 */
EDDY_API int eddy_ws_send_ref(eddy_ws *ws, int opcode, const void *data,
                              size_t len, eddy_stream_cb done, void *arg);

/**
 * Sends a message in pieces, each one frame: the first with opcode
 * EDDY_WS_TEXT or EDDY_WS_BINARY, the next ones with
 * EDDY_WS_CONTINUATION, the last with fin non-zero.  Text is checked as
 * it goes (a piece may end inside a character; the last may not).  Other
 * messages wait until it is finished; pings, pongs and a Close may go
 * between its pieces.  With compression, a piece's bytes may leave in a
 * later piece's frame.  data is copied.  Errors: -EINVAL (the wrong
 * opcode for the position, text that cannot be UTF-8, NULL data with a
 * non-zero len: nothing is sent, the message stays where it was), and
 * -EPIPE, -ENOSPC, -ENOMEM as eddy_ws_send().
 */
EDDY_API int eddy_ws_send_fragment(eddy_ws *ws, int opcode, const void *data,
                                   size_t len, int fin);

/**
 * Sends a ping with len (at most 125) bytes of payload; the pong comes to
 * on_pong().  Errors: -EINVAL (len over 125, NULL data with a non-zero
 * len), and -EPIPE, -ENOSPC, -ENOMEM as eddy_ws_send().
 */
EDDY_API int eddy_ws_ping(eddy_ws *ws, const void *data, size_t len);

/** Sends an unsolicited pong (a one-way heartbeat) with len (at most 125)
 *  bytes of payload.  Errors as eddy_ws_ping(). */
EDDY_API int eddy_ws_pong(eddy_ws *ws, const void *data, size_t len);

/** @} */
/** @name Closing
 *  @{ */

/**
 * Starts the closing handshake: sends a Close frame with code and reason
 * (NULL or a NUL-terminated UTF-8 string of at most 123 bytes), or with
 * no status at all when code is 0 (the peer sees 1005).  Messages that
 * arrive afterwards are dropped.  When the peer's Close comes, the server
 * closes the connection, a client waits for the server to; after
 * close_timeout_ms the connection is dropped whatever happened.
 * on_close() follows in every case.  Calling it again, or once a Close
 * was sent or the connection failed, does nothing and returns 0.
 * Errors: -EINVAL (a code that may not be sent: only 1000-1003,
 * 1007-1014 and 3000-4999 may; a reason with code 0; a reason too long
 * or not UTF-8; nothing is sent and the connection goes on), -ENOSPC and
 * -ENOMEM as eddy_ws_send().
 */
EDDY_API int eddy_ws_close(eddy_ws *ws, int code, const char *reason);

/** Drops the connection at once, without a Close frame; on_close()
 *  follows with 1006 and eddy_ws_error() says -ECONNABORTED.  Once the
 *  connection is closing down (inside on_close(), say) it does nothing. */
EDDY_API void eddy_ws_abort(eddy_ws *ws);

/** @} */
/** @name State
 *  @{ */

/** Bytes queued to send and not yet handed to the kernel (the browser's
 *  bufferedAmount). */
EDDY_API size_t eddy_ws_buffered_amount(const eddy_ws *ws);

/** Non-zero from the moment the queued bytes reached write_high_water
 *  until they fell to write_low_water (when on_drain() runs). */
EDDY_API int eddy_ws_needs_drain(const eddy_ws *ws);

/** The connection's state: EDDY_WS_STATE_OPEN, _CLOSING or _CLOSED. */
EDDY_API int eddy_ws_state(const eddy_ws *ws);

/**
 * How the connection ended, for on_close(): 0 while open and after a
 * complete closing handshake; EDDY_EOF (the peer closed the TCP
 * connection without a Close), -ETIMEDOUT (no pong within
 * ping_timeout_ms, or no end within close_timeout_ms), -EPROTO (eddy
 * failed the connection: the code says why), -ECONNABORTED
 * (eddy_ws_abort()), -ENOSPC (max_write_buffer_size), -ENOMEM, or the
 * stream's error (-ECONNRESET...).
 */
EDDY_API int eddy_ws_error(const eddy_ws *ws);

/** The subprotocol the handshake agreed on, or NULL. */
EDDY_API const char *eddy_ws_subprotocol(const eddy_ws *ws);

/** Non-zero when permessage-deflate is in use on the connection. */
EDDY_API int eddy_ws_compressed(const eddy_ws *ws);

/**
 * The connection's stream, for its peer's address, eddy_stream_fd(),
 * eddy_stream_set_nodelay() or eddy_stream_pause_reading() (which stops
 * reading from the socket; messages already read are still delivered).
 * Never read from it, write to it, close it or change its callbacks.
 */
EDDY_API eddy_stream *eddy_ws_stream(const eddy_ws *ws);

/** The loop the connection runs on. */
EDDY_API eddy_loop *eddy_ws_loop(const eddy_ws *ws);

/** Stores a pointer for the program's use; eddy never reads or frees it. */
EDDY_API void eddy_ws_set_data(eddy_ws *ws, void *data);

/** The pointer last given to eddy_ws_set_data(), or NULL. */
EDDY_API void *eddy_ws_data(const eddy_ws *ws);

/** @} */
/** @name The server's opening handshake
 *  @{ */

/**
 * Decides whether a request's Origin may open a connection: non-zero
 * accepts it.  origin is the Origin header's value (len bytes, not
 * NUL-terminated), or NULL when the request has none (programs other
 * than browsers send none).  req is the request, for its other headers.
 */
typedef int (*eddy_ws_origin_fn)(eddy_http_request *req, const char *origin,
                                 size_t len, void *arg);

/** A server's handshake settings; a zero field takes its default. */
typedef struct eddy_ws_server_options {
    eddy_ws_options ws;              /**< the connection's settings;
                                          ws.deflate.enable accepts
                                          permessage-deflate */
    const char *const *subprotocols; /**< NULL-terminated, in the order
                                          of preference: the first the
                                          client offers is chosen; none
                                          in common, or NULL: no
                                          subprotocol */
    eddy_ws_origin_fn check_origin;  /**< NULL: Tornado's rule, a
                                          request with no Origin or with
                                          one whose host[:port] is the
                                          Host header (ASCII case
                                          ignored); others get 403 */
    void *check_origin_arg;          /**< passed to check_origin */
    const eddy_http_header *headers; /**< more headers for the 101
                                          (Set-Cookie, say); not Upgrade,
                                          Connection or Sec-WebSocket-* */
    size_t nheaders;                 /**< how many */
} eddy_ws_server_options;

/**
 * Answers a request with the WebSocket opening handshake (RFC 6455 4.2):
 * checks it in full, chooses a subprotocol and permessage-deflate's
 * parameters, queues the 101 and finishes the request; the connection
 * follows once the HTTP server hands its stream over, never inside this
 * call: cb->on_open() runs then, once, with the open eddy_ws, or with
 * NULL and an error when the client went away first (-ECONNRESET, also
 * when the server is freed), or the connection could not be made
 * (-ENOMEM, -EPIPE for a stream closing already).  opts (NULL:
 * defaults) and cb are copied; arg goes to every callback.  The request
 * is finished when this returns 0: take what the connection needs from
 * it (its path, a cookie) before, into arg.
 *
 * Errors after which eddy answered and the request is finished (do not
 * touch it again): #EDDY_WS_EREQUEST (400), #EDDY_WS_EVERSION (426),
 * #EDDY_WS_EORIGIN (403); -EPIPE: the client went away, or the
 * connection could not take the answer.
 *
 * Errors after which nothing was sent and the request is the caller's to
 * answer: -EINVAL (NULL req; options out of range: write_low_water not
 * below write_high_water, deflate settings; headers the HTTP server
 * refuses, or Upgrade, Connection or Sec-WebSocket-*: answer 500, say),
 * -EALREADY (a response was started: go on with it), -EBUSY (a streamed
 * route whose body was not read whole: read it, then accept), -ESHUTDOWN
 * (the server is shutting down: answer 503), -ENOMEM (answer 503).
 */
EDDY_API int eddy_ws_accept(eddy_http_request *req,
                            const eddy_ws_server_options *opts,
                            const eddy_ws_callbacks *cb, void *arg);

/** A WebSocket endpoint for eddy_ws_route(): what every connection on
 *  its path gets. */
typedef struct eddy_ws_endpoint {
    eddy_ws_server_options opts; /**< the handshake's settings */
    eddy_ws_callbacks cb;        /**< the connections' callbacks */
    void *arg;                   /**< their arg */
} eddy_ws_endpoint;

/**
 * Routes GET path (an exact path) to eddy_ws_accept() with ep's options,
 * callbacks and arg: Tornado's `(r"/ws", WebSocketHandler)`.  ep is not
 * copied: it must stay valid and unchanged while the server lives (a
 * static const one, say).  A request the handshake refuses is answered
 * as eddy_ws_accept() says; one it cannot take gets 503 (shutting down,
 * out of memory) or 500.  Errors: -EINVAL (NULL ep), and
 * eddy_http_server_route()'s.
 */
EDDY_API int eddy_ws_route(eddy_http_server *srv, const char *path,
                           const eddy_ws_endpoint *ep);

/** @} */
/** @name The client's opening handshake
 *  @{ */

/** A client's handshake settings; a zero field takes its default. */
typedef struct eddy_ws_connect_options {
    eddy_ws_options ws;              /**< the connection's settings;
                                          ws.deflate.enable offers
                                          permessage-deflate */
    const char *const *subprotocols; /**< offered, NULL-terminated, in
                                          the order of preference (tokens;
                                          copied); NULL: none */
    const eddy_http_header *headers; /**< more headers for the request
                                          (Origin, Cookie, Authorization;
                                          copied); not Upgrade, Connection
                                          or Sec-WebSocket-* */
    size_t nheaders;                 /**< how many */
    uint64_t connect_timeout_ms;     /**< name lookup, TCP and TLS; 0: the
                                          HTTP client's (20 s) */
    uint64_t handshake_timeout_ms;   /**< the whole handshake, connecting
                                          included, to the 101; 0: the
                                          HTTP client's request timeout
                                          (20 s) */
    eddy_tls_ctx *tls;               /**< wss: this client context (its
                                          CAs, verification); NULL: the
                                          HTTP client's (the system's CAs,
                                          verification on).  It must
                                          outlive the connect */
} eddy_ws_connect_options;

/** A client's opening handshake in progress (eddy_ws_connect()).
 *  Opaque; valid until its on_open() returns, or until it is cancelled. */
typedef struct eddy_ws_connecting eddy_ws_connecting;

/**
 * Opens a WebSocket connection to url (ws:// or wss://, a host name or a
 * numeric address, [IPv6] in brackets; no fragment) through the HTTP
 * client (httpclient.h): a GET with Upgrade: websocket, a fresh
 * Sec-WebSocket-Key, Sec-WebSocket-Version: 13, the subprotocols and the
 * permessage-deflate offer of opts (NULL: defaults) and its headers.  The
 * 101 is checked (RFC 6455 4.1: its Upgrade and Connection tokens,
 * Sec-WebSocket-Accept, a subprotocol that was offered, an extension
 * answer the offer allows) and the client's connection made over the
 * stream.  cb->on_open() runs once, never inside this call: with the open
 * eddy_ws and the 101 (resp); or with NULL and an error:
 *
 * - #EDDY_WS_ESTATUS: the server answered another status; resp is that
 *   response (3xx are not followed; 401, 403 and 404 say why).
 * - #EDDY_WS_EACCEPT, #EDDY_WS_EUPGRADE, #EDDY_WS_ESUBPROTOCOL,
 *   #EDDY_WS_EEXTENSION: a 101 that breaks the handshake (resp has it);
 *   the connection is closed.
 * - the HTTP client's: #EDDY_HTTP_ECONNTIMEOUT (connect_timeout_ms),
 *   #EDDY_HTTP_EREQTIMEOUT (handshake_timeout_ms), EDDY_ENOTFOUND,
 *   -ECONNREFUSED, EDDY_TLS_VERIFY (the server's certificate did not
 *   verify), #EDDY_HTTP_EMALFORMED... (resp NULL).
 * - -ENOMEM (resp may be the 101).
 *
 * client is the HTTP client to connect through, on loop (its resolver,
 * TLS context and limits are shared; the connection leaves its pool once
 * upgraded), or NULL for one made for this connect alone.  opts and cb
 * are copied, arg goes to every callback.  *out (when out is not NULL)
 * gets the handle, for eddy_ws_connect_cancel().
 *
 * Errors (nothing was started, on_open() will not run): -EINVAL (NULL
 * loop or url, cb or its on_open NULL, options out of range as for
 * eddy_ws_accept(), a subprotocol that is not a token, headers the HTTP
 * client refuses or Upgrade, Connection, Sec-WebSocket-*, a URL with a
 * fragment or that does not parse), -EPROTONOSUPPORT (a scheme other
 * than ws and wss), -ENOTSUP (wss in a build without TLS), -ENOMEM, and
 * eddy_http_client_new()'s when client is NULL.
 */
EDDY_API int eddy_ws_connect(eddy_loop *loop, eddy_http_client *client,
                             const char *url,
                             const eddy_ws_connect_options *opts,
                             const eddy_ws_callbacks *cb, void *arg,
                             eddy_ws_connecting **out);

/**
 * Cancels a connect in progress: on_open() will not run, the connection
 * being made is closed, and the handle is invalid.  Inside the connect's
 * own on_open() it does nothing (the connect is over).
 */
EDDY_API void eddy_ws_connect_cancel(eddy_ws_connecting *c);

/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif
