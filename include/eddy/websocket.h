/**
 * @file
 * @brief WebSocket (RFC 6455) with permessage-deflate (RFC 7692): the
 * protocol's constants and settings.
 *
 * Everything it declares is described under @ref websocket.
 */
/**
 * @defgroup websocket WebSocket (websocket.h)
 * @brief WebSocket's opcodes, close codes, limits and the settings of
 * permessage-deflate.
 *
 * This header is the start of eddy's WebSocket interface: the constants a
 * program uses to send and receive messages and to close a connection,
 * and the compression settings.  The connection itself (the server's
 * upgrade, the client by URL, sending and receiving) is declared here
 * once it exists.
 */
#ifndef EDDY_WEBSOCKET_H
#define EDDY_WEBSOCKET_H

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

/** @} */

#ifdef __cplusplus
}
#endif

#endif
