/**
 * @file
 * @brief An asynchronous HTTP/1.1 client with a keep-alive pool.
 *
 * Everything it declares is described under @ref httpclient.
 */
/**
 * @defgroup httpclient The HTTP client (httpclient.h)
 * @brief Tornado's AsyncHTTPClient in C: fetch a URL, get the response
 * in a callback; connections are kept alive and reused.
 *
 * A client (eddy_http_client) belongs to one loop and keeps a pool of
 * keep-alive connections per scheme, host and port.  eddy_http_client_fetch()
 * sends a request and calls back once with the whole response, or with
 * an error.  Host names are looked up off the loop (eddy_resolver), and
 * connections are made by Happy Eyeballs (eddy_tcp_connect()).
 *
 * What a fetch does for you:
 *
 * - **Bodies** from a buffer (Content-Length), or produced in pieces by
 *   a callback (chunked, or with a Content-Length given), with
 *   `Expect: 100-continue` when asked.
 * - **Responses** whole, or streamed in pieces to a callback that may
 *   pause and resume the connection (TCP's window then stops the server).
 * - **Redirects** (301, 302, 303, 307, 308), up to a limit, by the rules
 *   browsers follow: 303 turns any method but HEAD into a GET without a
 *   body, and so do 301 and 302 for POST (RFC 9110 15.4 allows it, and
 *   browsers, curl and Tornado do it); 307 and 308 keep the method and
 *   the body.  A redirect to another origin (scheme, host or port) drops
 *   the Authorization, Cookie and Proxy-Authorization headers.
 * - **Timeouts**: connect, request (the whole fetch, redirects and the
 *   wait for a connection included) and idle (no byte from the server).
 * - **The pool**: at most max_per_host connections to one origin and
 *   max_connections in all; fetches beyond wait in FIFO order.  Idle
 *   connections close after pool_idle_ms.  A pooled connection the server
 *   closed is noticed while idle (a read is always pending on it) and
 *   checked before reuse; a request that failed on a reused connection
 *   is retried once, on a new one, only when that is safe: its method is
 *   idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) and no byte of it
 *   was sent.
 * - **gzip**: with #EDDY_FETCH_GZIP, `Accept-Encoding: gzip` is sent and
 *   a gzip body is inflated, within max_body_size.
 * - **https** over eddy's TLS streams (tls.h): the server's certificate
 *   is verified against the URL's host (a name, or an IP address in its
 *   subjectAltName) unless the context says otherwise; connections with
 *   different contexts are pooled apart.
 *
 * **Strict about what servers send.**  Response heads are parsed by the
 * rules of the server's request parser (httputil/parser.c): a
 * Content-Length with a Transfer-Encoding, Content-Lengths that differ,
 * a Transfer-Encoding other than chunked, a bad chunk size, a bare CR or
 * LF, a control character in a field, a head over max_header_size are
 * #EDDY_HTTP_EMALFORMED (or the limit's own code); the connection is
 * closed and no body reaches the caller.  An obs-fold is replaced by SP
 * (RFC 9112 5.2).  1xx responses are skipped (101 ends the fetch only
 * when an upgrade was asked for, and is an error otherwise).  Responses
 * to HEAD and 204 and 304 responses have no body whatever they declare.
 * A body without Content-Length or chunked coding ends at the server's
 * clean close (over TLS, with its close_notify: a missing one is
 * EDDY_TLS_TRUNCATED); a body cut short is #EDDY_HTTP_ETRUNCATED, never
 * a short success.  Bytes after a complete response (which no request
 * asked for) close the connection; the response is still good.
 *
 * **Callbacks.**  No callback runs inside the call that asked for it.
 * A fetch's final callback runs exactly once, unless the fetch is
 * cancelled first (eddy_http_fetch_cancel()): then no callback of it runs
 * any more, ever.  Callbacks may start fetches, cancel any fetch, pause
 * and resume, and free the client (which cancels every fetch).
 *
 * All functions run on the loop's thread.  Errors are negative errno
 * values and eddy's own codes (the EDDY_HTTP_E* below, the resolver's
 * EDDY_ENOTFOUND..., TLS's), all named by eddy_strerror().
 */
#ifndef EDDY_HTTPCLIENT_H
#define EDDY_HTTPCLIENT_H

#include "eddy/httputil.h"
#include "eddy/ioloop.h"
#include "eddy/iostream.h"
#include "eddy/tcp.h"
#include "eddy/tls.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup httpclient
 *  @{ */

/** A client: a loop's pool of connections.  Opaque; create with
 *  eddy_http_client_new(). */
typedef struct eddy_http_client eddy_http_client;
/** A fetch in progress: a handle for eddy_http_fetch_cancel() and the
 *  calls a fetch's callbacks make.  Opaque; valid from eddy_http_client_fetch()
 *  until its final (or upgrade) callback has returned, or until it is
 *  cancelled. */
typedef struct eddy_http_fetch eddy_http_fetch;

/** @name Error codes
 *  Eddy's own codes for the HTTP client, -4050 to -4069, named by
 *  eddy_strerror().  A fetch's callback gets them, and
 *  eddy_http_fetch_detail() says more in words.
 *  @{ */
/** The server's response broke HTTP/1.1: a malformed status line or
 *  header field, Content-Length with Transfer-Encoding, Content-Lengths
 *  that differ, a Transfer-Encoding other than chunked, malformed chunked
 *  framing, a 101 no upgrade asked for.  The connection was closed. */
#define EDDY_HTTP_EMALFORMED (-4050)
/** The connection closed (or was reset) in the middle of the response:
 *  before its head ended, or before its body did. */
#define EDDY_HTTP_ETRUNCATED (-4051)
/** The server closed the connection without a byte of response. */
#define EDDY_HTTP_ENORESPONSE (-4052)
/** The response head was longer than max_header_size. */
#define EDDY_HTTP_EHEADSIZE (-4053)
/** The response head had more fields than max_headers. */
#define EDDY_HTTP_EHEADERS (-4054)
/** The response body (inflated, for gzip) was longer than
 *  max_body_size; no byte of it beyond the limit was read into memory. */
#define EDDY_HTTP_EBODYSIZE (-4055)
/** More redirects than max_redirects. */
#define EDDY_HTTP_EREDIRECTS (-4056)
/** A redirect's Location is not a URL the client can fetch (another
 *  scheme than http or https, a malformed URL). */
#define EDDY_HTTP_EBADREDIRECT (-4057)
/** A gzip body did not inflate: malformed, or cut short. */
#define EDDY_HTTP_EDECODE (-4058)
/** connect_timeout_ms passed before the connection (name lookup, TCP and
 *  TLS handshake) was made. */
#define EDDY_HTTP_ECONNTIMEOUT (-4059)
/** request_timeout_ms passed before the response was complete. */
#define EDDY_HTTP_EREQTIMEOUT (-4060)
/** idle_timeout_ms passed without a byte from the server while a
 *  response was awaited. */
#define EDDY_HTTP_EIDLETIMEOUT (-4061)
/** @} */

/** A timeout value meaning "none". */
#define EDDY_HTTP_NO_TIMEOUT UINT64_MAX

/** Client options; a zero field takes its default. */
typedef struct eddy_http_client_options {
    eddy_resolver *resolver;      /**< looks up host names; NULL: the client
                                       makes one of its own.  A resolver
                                       given must outlive the client */
    eddy_tls_ctx *tls;            /**< the client context (EDDY_TLS_CLIENT)
                                       for https; NULL: one of the client's
                                       own, made at the first https fetch:
                                       the system's CAs, verification on,
                                       ALPN http/1.1.  A context given must
                                       outlive the client */
    size_t max_connections;       /**< connections open at once in all, 64 */
    size_t max_per_host;          /**< ... to one scheme, host and port, 8 */
    uint64_t pool_idle_ms;        /**< an idle pooled connection closes
                                       after this long, 60,000 */
    uint64_t connect_timeout_ms;  /**< a fetch's default, 20,000 */
    uint64_t request_timeout_ms;  /**< a fetch's default, 20,000 */
    uint64_t idle_timeout_ms;     /**< a fetch's default: none */
    uint64_t continue_timeout_ms; /**< how long a fetch with
                                      #EDDY_FETCH_EXPECT_CONTINUE waits for
                                      100 Continue before it sends the body
                                      anyway, 1,000 */
    size_t max_header_size;       /**< a response head's bytes, 64 KiB */
    size_t max_headers;           /**< a response head's fields, 100 */
    uint64_t max_body_size;       /**< a response body's bytes (whole or
                                       streamed, inflated for gzip),
                                       100 MiB */
    unsigned max_redirects;       /**< a fetch's default, 5 */
    const char *user_agent;       /**< the User-Agent sent when a fetch
                                       gives none, "eddy/VERSION"; ""
                                       sends none.  Copied */
} eddy_http_client_options;

/** A response, valid during the callback it is given to. */
typedef struct eddy_http_response {
    int status;                      /**< 100 to 599 */
    eddy_str reason;                 /**< the reason phrase as sent */
    int version;                     /**< 10 (HTTP/1.0) or 11 */
    const eddy_http_header *headers; /**< the fields in order, as sent
                                          (an obs-fold replaced by SPs) */
    size_t nheaders;                 /**< how many */
    eddy_str body;                   /**< the whole body (inflated with
                                          #EDDY_FETCH_GZIP and a gzip
                                          Content-Encoding); empty when
                                          streamed to on_chunk.  Followed
                                          by a NUL not counted in len */
    const char *url;                 /**< the URL it answers, after the
                                          redirects followed */
    unsigned redirects;              /**< how many were followed */
} eddy_http_response;

/**
 * A fetch's final callback: status 0 and the response (any status code:
 * 404 is a response), or a negative error and resp NULL.  f is valid
 * during the call only (eddy_http_fetch_detail() works on it).
 */
typedef void (*eddy_http_response_cb)(eddy_http_fetch *f, int status,
                                      const eddy_http_response *resp,
                                      void *arg);
/** Streaming: the final response's head (body empty), before its first
 *  piece.  Not called for the redirects followed. */
typedef void (*eddy_http_headers_cb)(eddy_http_fetch *f,
                                     const eddy_http_response *resp, void *arg);
/** Streaming: a piece of the body (inflated for gzip), valid during the
 *  call.  eddy_http_fetch_pause() stops the pieces until
 *  eddy_http_fetch_resume(). */
typedef void (*eddy_http_chunk_cb)(eddy_http_fetch *f, const char *data,
                                   size_t len, void *arg);
/** Produces the request body: see eddy_http_fetch_write(). */
typedef void (*eddy_http_body_producer)(eddy_http_fetch *f, void *arg);
/**
 * The upgrade: the server answered 101 Switching Protocols to a fetch
 * with on_upgrade.  s, the connection, is now the callee's (it closes it
 * in the end); extra[0, extra_len) are the bytes the client had read past
 * the 101's head (the new protocol's first bytes; valid during the call);
 * bytes after those are read from s as usual.  resp is the 101's head.
 * The fetch is over: its final callback never runs.
 */
typedef void (*eddy_http_fetch_upgrade_cb)(eddy_http_fetch *f,
                                           const eddy_http_response *resp,
                                           eddy_stream *s, const char *extra,
                                           size_t extra_len, void *arg);

/** Flags of a fetch. */
enum {
    /** Send `Accept-Encoding: gzip` (unless the headers have one) and
     *  inflate a body whose Content-Encoding is gzip or x-gzip.  The
     *  headers stay as sent.  -ENOTSUP in a build without zlib. */
    EDDY_FETCH_GZIP = 1,
    /** Hand 3xx responses over as they are. */
    EDDY_FETCH_NO_REDIRECTS = 2,
    /** Send `Expect: 100-continue` with a body and wait for 100 Continue
     *  (or continue_timeout_ms) before sending it.  A final status that
     *  comes first is the answer: the body is not sent, and the
     *  connection is closed after the response, since the server may
     *  still wait for the body it announced, unless the body is chunked:
     *  then its last chunk ends it at once (an empty body) and the
     *  connection stays if the response allows. */
    EDDY_FETCH_EXPECT_CONTINUE = 4,
    /** Send `Connection: close`; the connection is not pooled. */
    EDDY_FETCH_CLOSE = 8
};

/** A fetch's options; a zero field takes its default (the client's
 *  where it has one). */
typedef struct eddy_http_fetch_options {
    const char *method;                    /**< "GET" by default; a token.  Not
                                                CONNECT */
    const eddy_http_header *headers;       /**< sent as given (copied), after
                                                the client's Host, User-Agent,
                                                Accept-Encoding and framing;
                                                a Host or User-Agent here
                                                replaces the client's.  Not
                                                Content-Length,
                                                Transfer-Encoding, Connection,
                                                Expect (the client writes
                                                those) */
    size_t nheaders;                       /**< how many */
    const void *body;                      /**< the body (copied), sent with a
                                                Content-Length; NULL: none
                                                (POST, PUT and PATCH then send
                                                Content-Length: 0) */
    size_t body_len;                       /**< its length */
    eddy_http_body_producer body_producer; /**< or a body in pieces:
                                           see eddy_http_fetch_write() */
    uint64_t body_length;                  /**< with body_producer: the exact
                                                length it writes, sent as
                                                Content-Length; 0: chunked */
    unsigned flags;                        /**< EDDY_FETCH_* */
    unsigned max_redirects;                /**< 0: the client's */
    uint64_t connect_timeout_ms;           /**< 0: the client's;
                                                #EDDY_HTTP_NO_TIMEOUT: none */
    uint64_t request_timeout_ms;           /**< 0: the client's;
                                                #EDDY_HTTP_NO_TIMEOUT: none */
    uint64_t idle_timeout_ms;              /**< 0: the client's;
                                                #EDDY_HTTP_NO_TIMEOUT: none */
    eddy_http_headers_cb on_headers;       /**< streaming: the head first */
    eddy_http_chunk_cb on_chunk;           /**< streaming: the body in pieces
                                                (the response's body is then
                                                empty) */
    eddy_http_fetch_upgrade_cb on_upgrade; /**< ask for an upgrade: needs an
                                                Upgrade header among
                                                headers; Connection:
                                                Upgrade is sent */
    eddy_tls_ctx *tls;                     /**< https: this client context
                                                instead of the client's (its
                                                connections are pooled apart);
                                                it must outlive the fetch */
} eddy_http_fetch_options;

/** A client's counters (eddy_http_client_get_stats()). */
typedef struct eddy_http_client_stats {
    uint64_t connections;       /**< open now: connecting, busy or idle */
    uint64_t idle;              /**< idle in the pool now */
    uint64_t connections_total; /**< connections made since creation */
    uint64_t requests;          /**< requests sent (each redirect and
                                     retry counts) */
    uint64_t reused;            /**< ... of which on a pooled connection */
    uint64_t retries;           /**< requests sent again after their
                                     reused connection failed */
    uint64_t waiting;           /**< fetches waiting for a connection now */
    uint64_t fetches;           /**< fetches in progress now */
    uint64_t bytes_in;          /**< bytes read from servers */
    uint64_t bytes_out;         /**< bytes queued to servers */
} eddy_http_client_stats;

/** @name The client
 *  @{ */

/**
 * Creates a client for loop on *out; opts may be NULL.  Errors: -EINVAL
 * (a user_agent with a control character), -ENOMEM, and
 * eddy_resolver_new()'s when it makes its own resolver.
 */
EDDY_API int eddy_http_client_new(eddy_loop *loop,
                                  const eddy_http_client_options *opts,
                                  eddy_http_client **out);

/**
 * Cancels every fetch (their callbacks never run), closes every
 * connection and frees the client and its own resolver.  Allowed inside
 * the client's callbacks.  Run the loop once more before closing it, as
 * for streams: the connections finish closing there.  NULL does nothing.
 */
EDDY_API void eddy_http_client_free(eddy_http_client *c);

/** Copies the client's counters to *out. */
EDDY_API void eddy_http_client_get_stats(const eddy_http_client *c,
                                         eddy_http_client_stats *out);

/** @} */
/** @name Fetching
 *  @{ */

/**
 * Fetches url (http:// or https://, a host name or a numeric address,
 * [IPv6] in brackets; a fragment is dropped) and runs cb(f, status,
 * resp, arg) once, in a later iteration, unless cancelled first.  opts
 * may be NULL (a GET).  The handle goes to *out when out is not NULL.
 *
 * Errors (nothing was started, cb will not run): -EINVAL (NULL c, url or
 * cb; a URL that does not parse, with user:password@, or with a byte
 * that is not visible ASCII in its path; a method that is not a token,
 * or CONNECT; a header with a name that is not a token, a control
 * character in its value, or one the client writes itself; both body and
 * body_producer; on_upgrade with on_chunk, with a body, or without an
 * Upgrade header), -EPROTONOSUPPORT (a scheme other than http and https),
 * -ENOTSUP (https or #EDDY_FETCH_GZIP in a build without TLS or zlib),
 * -ENOMEM.
 *
 * Errors through cb: those of eddy_tcp_connect() (EDDY_ENOTFOUND,
 * -ECONNREFUSED...), TLS's (EDDY_TLS_VERIFY...), the stream's
 * (-ECONNRESET...), and the EDDY_HTTP_E* codes above.
 */
EDDY_API int eddy_http_client_fetch(eddy_http_client *c, const char *url,
                                    const eddy_http_fetch_options *opts,
                                    eddy_http_response_cb cb, void *arg,
                                    eddy_http_fetch **out);

/**
 * Cancels a fetch: none of its callbacks runs after this, and the handle
 * is invalid.  A connection in the middle of its request is closed; one
 * being made for it goes on and joins the pool.  Allowed from any
 * callback, the fetch's own among them.  Inside the fetch's final (or
 * upgrade) callback it does nothing (the fetch is over).
 */
EDDY_API void eddy_http_fetch_cancel(eddy_http_fetch *f);

/**
 * Stops handing over the body of a streamed response: no on_chunk call
 * comes after this until eddy_http_fetch_resume().  The connection stops
 * reading, so the server is held back by TCP.  The idle timeout does not
 * count while paused (the request timeout does).  Pausing twice does
 * nothing.
 */
EDDY_API void eddy_http_fetch_pause(eddy_http_fetch *f);

/** Hands the body over again, in a later iteration (never inside this
 *  call).  On a fetch that is not paused it does nothing. */
EDDY_API void eddy_http_fetch_resume(eddy_http_fetch *f);

/**
 * For a fetch with a body_producer: queues a piece of the body (copied;
 * a chunk of its own when the body is chunked).  The producer runs when
 * the body may be sent (after the head, or after 100 Continue), and
 * again each time all it wrote has been handed to the kernel, until it
 * calls eddy_http_fetch_end_body(); a producer with nothing to write yet
 * returns, and writes later from another callback, which makes it run
 * again once that piece is out.  Over a redirect that keeps the body
 * (307, 308) it runs again from the start.  Errors (nothing is queued):
 * -EINVAL (no body_producer, data NULL with len > 0, past body_length),
 * -EALREADY (the body was ended), -EAGAIN (the body may not be sent yet:
 * the request has no connection, or waits for 100 Continue; the producer
 * will be called), -EPIPE (the connection failed or the response came
 * first; the final callback says how it ends), -ENOMEM.
 */
EDDY_API int eddy_http_fetch_write(eddy_http_fetch *f, const void *data,
                                   size_t len);

/**
 * Ends a produced body (the last chunk, for a chunked one).  Errors:
 * -EINVAL (no body_producer, or fewer bytes written than body_length:
 * write the rest), -EALREADY (ended already), -EAGAIN and -EPIPE as
 * eddy_http_fetch_write().
 */
EDDY_API int eddy_http_fetch_end_body(eddy_http_fetch *f);

/** What went wrong, in words ("Content-Length with Transfer-Encoding"),
 *  for the error a final callback got, or NULL.  Valid during that
 *  callback. */
EDDY_API const char *eddy_http_fetch_detail(const eddy_http_fetch *f);

/** The client a fetch belongs to. */
EDDY_API eddy_http_client *eddy_http_fetch_client(const eddy_http_fetch *f);

/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif
