/**
 * @file
 * @brief A strict, fast HTTP/1.1 server.
 *
 * Everything it declares is described under @ref http.
 */
/**
 * @defgroup http The HTTP server (httpserver.h)
 * @brief A strict, fast HTTP/1.1 server: Tornado's HTTPServer and
 * HTTP1Connection in C.
 *
 * Listening sockets and processes (eddy_bind_sockets(),
 * eddy_fork_processes()) are declared in tcp.h, which this header
 * includes.
 *
 * A handler is called once per request with the request head parsed and,
 * unless its route streams the body, the whole body read.  It answers in
 * one call (eddy_http_respond) or in pieces (start_response, write,
 * finish), now or later from any callback of the same loop.  Every request
 * must be finished exactly once; until then the request stays valid, even
 * after the client went away (eddy_http_on_close tells you when).
 *
 * Strings from the request (eddy_str) point into the request's storage:
 * valid until the request is finished, and not NUL-terminated.
 *
 * What handlers get beyond the bare server (Tornado's web module):
 * routing on the decoded path, with parameters (`/items/{id}`,
 * eddy_http_path_param()); query and body arguments
 * (eddy_http_arg()), multipart uploads read as they stream in
 * (eddy_http_read_multipart()); cookies (eddy_http_cookie(),
 * eddy_http_set_cookie()) and headers added ahead of the response
 * (eddy_http_add_header()); error pages (the options' error_page,
 * eddy_http_send_error()); a handler deadline per route
 * (eddy_http_server_route_ex()); files (eddy_http_server_static(),
 * eddy_http_write_file()).
 *
 * Compression.  With the options' gzip set, a response is sent gzipped
 * (Content-Encoding: gzip) when all of these hold: the request is
 * HTTP/1.1 and its Accept-Encoding accepts gzip (an explicit gzip or
 * x-gzip with a q above 0 decides, else `*`; `gzip;q=0` refuses); the
 * route does not say EDDY_ROUTE_NO_GZIP; the status is 200 or another
 * with a body but 206 (not 204, 304, 1xx); the response has a
 * compressible Content-Type (text/ *, JSON, JavaScript, XML, SVG, and
 * +json, +xml types) and no Content-Encoding or Content-Range of its own;
 * its length is unknown or at least gzip_min_size; and it answers no
 * HEAD.  eddy_http_respond() compresses the whole body first and says
 * its compressed Content-Length; a response started with
 * eddy_http_start_response() goes chunked, each eddy_http_write() piece
 * compressed and flushed (Z_SYNC_FLUSH), so that a client reading a
 * stream gets what was written.  Whenever Accept-Encoding could change
 * the answer, Vary: Accept-Encoding is sent (also uncompressed, and on
 * HEAD); a strong ETag of the handler's is sent weak when compressed.
 * Files (eddy_http_server_static(), eddy_http_write_file()) are never
 * compressed.
 *
 * All functions run on the loop's thread and return 0 or a negative errno.
 */
#ifndef EDDY_HTTPSERVER_H
#define EDDY_HTTPSERVER_H

#include "eddy/httputil.h"
#include "eddy/ioloop.h"
#include "eddy/iostream.h"
#include "eddy/tcp.h"
#include "eddy/tls.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup http
 *  @{ */

/** An HTTP server.  Opaque; create with eddy_http_server_new(), free with
 *  eddy_http_server_free(). */
typedef struct eddy_http_server eddy_http_server;
/** A request, from its head's arrival until it is finished.  Opaque; the
 *  server owns it and hands it to a handler, which must finish it. */
typedef struct eddy_http_request eddy_http_request;

/** The status a body callback receives when a streamed body grows past
 *  max_body_size: answer 413.  One of eddy's own codes (iostream.h), which
 *  eddy_strerror() names. */
#define EDDY_HTTP_TOO_LARGE (EDDY_EOF + 1)

/** Called once per request; finish it now or later. */
typedef void (*eddy_http_handler)(eddy_http_request *req, void *arg);
/**
 * Called with each piece of a streamed body (status 0, done 0), then once
 * more with done 1: status 0 and len 0 when the body is whole, or one of
 * these, after which nothing more of the body comes:
 *
 * - EDDY_HTTP_TOO_LARGE: the body passed max_body_size; answer 413.
 * - -EPROTO: its chunked framing is malformed; answer 400.
 * - -ENOMEM: the server ran out of memory for it; answer 503.
 * - -ETIMEDOUT: body_timeout_ms passed without a byte of it; the
 *   connection is closed.
 * - -ECONNRESET: the client went away (closed or reset the connection);
 *   the connection is closed.
 * - -ECANCELED: the server closed the connection: the deadline of
 *   eddy_http_server_shutdown() passed, or the server is being freed.
 *
 * After each error the connection closes once the answer is sent; where
 * it is closed already, finishing the request returns -EPIPE.  The
 * request must be finished either way, from this callback or later.
 */
typedef void (*eddy_http_body_cb)(eddy_http_request *req, int status,
                                  const char *data, size_t len, int done,
                                  void *arg);
/** Called when the client went away before the request was finished: it
 *  reset the connection, a write to it failed, or the server closed it
 *  (shutdown deadline, eddy_http_server_free()).  A client that only shut
 *  down its sending side after a whole request is waiting for the answer:
 *  that is not going away, and it gets the answer, then the close. */
typedef void (*eddy_http_close_cb)(eddy_http_request *req, void *arg);
/** One line of access log, after each response: method, path, status,
 *  body bytes sent (handed to the kernel), milliseconds from the head's
 *  arrival to the end.  A response that did not go out whole is logged
 *  too, with the bytes that did: eddy_http_aborted(req) says so.  The
 *  status is the one the handler gave, or 200 for a request finished
 *  without a response (eddy_http_finish()), even when its client had
 *  left and nothing was sent: then bytes is 0 and aborted is true. */
typedef void (*eddy_http_access_fn)(void *arg, const eddy_http_request *req,
                                    int status, uint64_t bytes, double ms);

/** What an error page hook gives the server for one of its own answers. */
typedef struct eddy_http_error_page {
    const char *content_type; /**< the Content-Type value, NUL-terminated */
    const void *body;         /**< the body, body[0, len) */
    size_t len;               /**< its length */
} eddy_http_error_page;

/**
 * Renders an error answer the server makes itself: 400, 404, 405, 413,
 * 414, 431, 501, 503 and 505 (the 503 of a handler's deadline among
 * them), and any that a handler asks for with eddy_http_send_error().
 * req is NULL when the request's head did not parse (400, 414, 431, 501,
 * 505 before a request existed); otherwise it may be read (its path
 * headers, arguments) but not answered.  Return 0 with *page filled in to
 * use it, or anything else for the built-in page ("404 Not Found\n",
 * text/plain).  page's strings must stay valid until the hook is called
 * again (a static buffer will do: the server copies them at once).  A
 * page the server cannot send (a content_type with CR or LF, say) is
 * replaced by the built-in one.  The status line, Allow on a 405 and
 * Connection stay the server's.
 */
typedef int (*eddy_http_error_page_fn)(void *arg, const eddy_http_request *req,
                                       int status, eddy_http_error_page *page);

/** Server settings.  A zero field takes the default given. */
typedef struct eddy_http_options {
    size_t max_header_size;      /**< request line + headers, 64 KiB: 431 */
    size_t max_uri_length;       /**< request target, 8 KiB: 414 */
    size_t max_headers;          /**< header fields, 100: 431 */
    uint64_t max_body_size;      /**< 100 MiB: 413 */
    uint64_t header_timeout_ms;  /**< head must arrive within, 60 s */
    uint64_t body_timeout_ms;    /**< between body reads, 60 s */
    uint64_t idle_timeout_ms;    /**< keep-alive wait for a request, 60 s */
    size_t max_connections;      /**< open at once, 10000; more wait in the
                                      listen backlog */
    int xheaders;                /**< trust X-Real-Ip, X-Forwarded-For,
                                      X-Scheme / X-Forwarded-Proto */
    const char *const *trusted_downstream; /**< NULL-terminated IPs skipped
                                      in X-Forwarded-For */
    const char *server_name;     /**< the Server header, "eddy"; "" omits it */
    eddy_http_access_fn access_log; /**< called after each response, also
                                      the server's own 404 or 413, and
                                      aborted ones; NULL: none */
    void *access_log_arg;        /**< passed to access_log */
    uint64_t max_discard_size;   /**< a body of at most this declared size
                                      (64 KiB) is read and dropped after
                                      the server's own 404 or 405, so that
                                      the connection and the requests
                                      pipelined behind stay; a larger one
                                      gets a lingering close */
    uint64_t linger_ms;          /**< lingering close: when the server
                                      closes with the client maybe still
                                      sending (an unread body, a refused
                                      request), it shuts down its sending
                                      side once the answer is out and reads
                                      and drops what comes, until the
                                      client's EOF, for at most this long,
                                      5 s; closing at once would reset the
                                      connection and could destroy the
                                      answer in flight */
    uint64_t max_linger_bytes;   /**< ... and at most this many bytes,
                                      16 MiB */
    eddy_tls_ctx *tls;           /**< HTTPS: a server context
                                      (EDDY_TLS_SERVER, its certificate
                                      loaded) makes every connection TLS;
                                      the server keeps a reference
                                      (eddy_tls_ctx_ref()) until it is
                                      freed.  The handshake must end
                                      within header_timeout_ms of the
                                      accept; a client that fails it is
                                      closed and logged.  NULL: plain
                                      HTTP */
    eddy_args_limits args_limits; /**< limits of a request's query and
                                      body arguments (eddy_http_arg()):
                                      1000 pairs, 1 MiB (a multipart body's
                                      fields are bounded by max_body_size
                                      and eddy_multipart_limits' defaults
                                      instead) */
    unsigned args_flags;         /**< EDDY_ARGS_* for them, e.g.
                                      EDDY_ARGS_UTF8 (Tornado decodes
                                      arguments as UTF-8); 0 */
    eddy_http_error_page_fn error_page; /**< renders the server's own
                                      error answers and
                                      eddy_http_send_error()'s; NULL: the
                                      built-in "404 Not Found\n" text */
    void *error_page_arg;        /**< passed to error_page */
    int gzip;                    /**< non-zero: compress responses of
                                      compressible types with gzip for
                                      clients that accept it (see
                                      "Compression" in the group's
                                      description); off by default.
                                      Without zlib (make ZLIB=none) it is
                                      accepted and does nothing */
    int gzip_level;              /**< zlib's level, 1 (fastest) to 9;
                                      6 */
    size_t gzip_min_size;        /**< a response whose length is known
                                      and smaller than this goes
                                      uncompressed: 1024 bytes */
} eddy_http_options;

/** Route flags. */
enum {
    EDDY_ROUTE_EXACT = 0,   /**< the path must equal the pattern */
    EDDY_ROUTE_PREFIX = 1,  /**< the path must start with the pattern */
    EDDY_ROUTE_STREAM = 2,  /**< call the handler after the head; read the
                                 body with eddy_http_read_body() */
    EDDY_ROUTE_NO_GZIP = 4  /**< never compress this route's responses
                                 (options' gzip), e.g. for a handler that
                                 sends files with eddy_http_write_file() */
};

/** Called when a route's handler deadline passed before the request was
 *  finished (eddy_http_route_options), with the route's arg. */
typedef void (*eddy_http_timeout_cb)(eddy_http_request *req, void *arg);

/** Settings of one route (eddy_http_server_route_ex()); zero-initialise. */
typedef struct eddy_http_route_options {
    /** The handler's deadline: ms from the handler's call (for
     *  EDDY_ROUTE_STREAM routes that includes reading the body) to the
     *  request's finish; 0, the default: none.  When it passes, a
     *  response not started yet is answered by the server with 503
     *  (through the error page hook) and its connection closes once that
     *  is sent; a response started already is cut off by closing the
     *  connection (the client sees it short).  Then on_timeout runs; see
     *  eddy_http_server_route_ex() for what the request is afterwards.
     *  A client that leaves first cancels the deadline: a handler that
     *  waits (on a timer, a backend) must set eddy_http_on_close() too,
     *  or nothing tells it to finish the request, which then leaks. */
    uint64_t timeout_ms;
    eddy_http_timeout_cb on_timeout; /**< told when it passed; may be NULL */
} eddy_http_route_options;

/** @name The server
 *  @{ */

/** Creates a server on loop; opts may be NULL (it is copied, but the
 *  strings it points to are not: keep them valid while the server lives).
 *  The caller owns the server and frees it with eddy_http_server_free()
 *  before closing the loop.  Errors: -ENOMEM. */
EDDY_API int eddy_http_server_new(eddy_loop *loop,
                                  const eddy_http_options *opts,
                                  eddy_http_server **out);

/**
 * Adds a route: method (NULL: any) and path (copied), matched against the
 * request's decoded path (eddy_http_decoded_path(): `/items/%31` is
 * routed as `/items/1`; a path that cannot be decoded is refused with 400
 * and never routed).  A path is a literal (EDDY_ROUTE_EXACT: equal;
 * EDDY_ROUTE_PREFIX: a prefix of the request's), or a pattern of whole
 * segments: `{name}` matches one non-empty segment, a last `{name*}` the
 * rest of the path, slashes included, possibly empty (`/items/{id}`,
 * `/files/{path*}`), read by name with eddy_http_path_param().  A GET
 * route also answers HEAD.
 *
 * Which route: catch-alls (prefix routes and patterns ending in
 * `{name*}`) are tried only for paths that no other route matches.
 * Among the routes of that kind whose path matches, the first added that
 * takes the method gets the request; when none takes it the answer is
 * 405 with Allow listing their methods (HEAD wherever GET), even if a
 * catch-all would take the method.  So a catch-all (an any-path GET, a
 * handler for every method under `/`) never hides the 405 of a specific
 * route, and never answers a path that one has.  No route matching: 404.
 *
 * Errors: -EINVAL (NULL path or handler, unknown flags, a pattern that
 * does not compile: `{` or `}` other than around a whole segment's name
 * of letters, digits and '_', a name twice, `{name*}` not last, a `.` or
 * `..` segment; a pattern with EDDY_ROUTE_PREFIX), -ENOMEM.
 */
EDDY_API int eddy_http_server_route(eddy_http_server *srv, const char *method,
                                    const char *path, unsigned flags,
                                    eddy_http_handler handler, void *arg);

/**
 * eddy_http_server_route() with settings (ro may be NULL: none).  With
 * ro->timeout_ms, a request the handler has not finished that long after
 * it was called is answered 503 by the server (or, its response begun,
 * cut off by closing the connection), and ro->on_timeout(req, arg) runs.
 * The request stays valid, and the handler must still finish it, exactly
 * once, as for a client that went away: from on_timeout or later, every
 * response call then returns -EPIPE and eddy_http_finish() frees it
 * (eddy_http_respond() finishes and frees it itself).  So a handler's
 * pointer never dangles: it drops it where it finishes the request, as
 * always.  A streamed body still being read gets its body callback's last
 * call first, with -ECANCELED.  The request's on_close callback does not
 * run for the 503 (the client is still there), but does when the
 * connection of a begun response is closed.  The 503 is counted and
 * logged (access log) when sent; the handler's later finish is not
 * logged again.  The deadline is cancelled when the request is finished
 * or upgraded, or its client goes away (on_close tells that).  Errors: as
 * eddy_http_server_route().
 */
EDDY_API int eddy_http_server_route_ex(eddy_http_server *srv,
                                       const char *method, const char *path,
                                       unsigned flags,
                                       eddy_http_handler handler, void *arg,
                                       const eddy_http_route_options *ro);

/** Flags of eddy_http_static_options. */
enum {
    EDDY_STATIC_FOLLOW_SYMLINKS = 1, /**< follow symbolic links wherever
                                          they lead, also out of the root
                                          (by default one that leaves it
                                          is 404) */
    EDDY_STATIC_DOTFILES = 2         /**< serve names that begin with '.'
                                          (by default 404: .git, .env) */
};

/** Settings of eddy_http_server_static(); zero-initialise.  Strings are
 *  copied. */
typedef struct eddy_http_static_options {
    const char *index;         /**< served for a directory's path ending
                                    in '/', e.g. "index.html"; a
                                    directory's path without the '/' is
                                    redirected (301) to it.  NULL: a
                                    directory is 404 */
    const char *cache_control; /**< a Cache-Control value sent with every
                                    file, e.g. "max-age=3600"; NULL: none */
    unsigned flags;            /**< EDDY_STATIC_* */
} eddy_http_static_options;

/**
 * Serves the files under the directory root at the paths under prefix
 * (Tornado's StaticFileHandler): GET and HEAD of prefix + a relative path
 * answer the file root/path.  prefix starts and ends with '/'; it is
 * routed as an EDDY_ROUTE_PREFIX route on the decoded path (other methods
 * get 405 with Allow: GET, HEAD).
 *
 * - Content-Type by extension (eddy_http_mime_type(),
 *   application/octet-stream when unknown); Last-Modified; a strong
 *   ETag made of the file's size, modification time and inode;
 *   Accept-Ranges: bytes; Cache-Control if asked for.
 * - Conditional requests (RFC 9110 13.2.2): If-Match and
 *   If-Unmodified-Since (412), If-None-Match and, without it,
 *   If-Modified-Since (304).
 * - A single byte range (206 with Content-Range), 416 with
 *   `Content-Range: bytes * /size` (no space) when unsatisfiable, the
 *   whole file (200) for several ranges or a malformed Range; If-Range
 *   (an entity tag, or the exact Last-Modified date) decides whether
 *   Range applies.  GET only: a HEAD is answered as a GET without Range.
 * - The body goes with eddy_http_write_file(): sendfile(2) on plain
 *   connections, read and written under TLS.  A file that shrinks while
 *   it is sent ends the connection before a byte that is not the
 *   file's.  Files over 4 GiB are fine.  Never compressed.
 * - Refused with 404, never opened: a name that begins with '.' (unless
 *   EDDY_STATIC_DOTFILES), an empty segment (`//`), a directory (unless
 *   an index is set), anything but a regular file, and a symbolic link
 *   that leads out of root (unless EDDY_STATIC_FOLLOW_SYMLINKS; on Linux
 *   openat2(2) RESOLVE_BENEATH resolves inside root; elsewhere, and on a
 *   Linux without openat2 (before 5.6, some seccomp sandboxes, valgrind),
 *   every symbolic link is refused, even one inside root).  `..` and its encoded forms never get
 *   here: the server refuses a path that climbs above `/` with 400, and
 *   dot segments are removed before routing, so `/static/../x` is `/x`.
 *   A file that cannot be read is 403; out of fds, 503.
 *
 * Errors: -EINVAL (prefix or root NULL, prefix not starting and ending
 * with '/' or with a '{', opts->flags unknown), -ENOTDIR (root is not a
 * directory), open(2)'s errors for root (-ENOENT, -EACCES), -ENOMEM.
 */
EDDY_API int eddy_http_server_static(eddy_http_server *srv, const char *prefix,
                                     const char *root,
                                     const eddy_http_static_options *opts);

/** Binds (eddy_bind_sockets) and serves address:port (address NULL: all
 *  interfaces; port 0: a free port, which eddy_tcp_server_port() on
 *  eddy_http_server_tcp() tells).  Errors: -ESHUTDOWN (a shutdown began),
 *  eddy_bind_sockets()'s, or eddy_http_server_add_sockets()'s (the new
 *  sockets are closed then); the server is as it was. */
EDDY_API int eddy_http_server_listen(eddy_http_server *srv, int port,
                                     const char *address);

/** Serves already bound, non-blocking listening sockets (they become the
 *  server's, which closes them at shutdown or when freed).  Errors:
 *  -ESHUTDOWN (a shutdown began), -ENOMEM, or eddy_loop_add_handler()'s
 *  (-EBADF, -EEXIST, -ERANGE); then none of fds is taken, and the caller
 *  still owns them all. */
EDDY_API int eddy_http_server_add_sockets(eddy_http_server *srv,
                                          const int *fds, size_t n);

/**
 * The TCP server that accepts the server's connections (tcp.h), for
 * reading only: eddy_tcp_server_port() (after listening on port 0),
 * eddy_tcp_server_get_stats() (accept errors, pauses at max_connections
 * or for want of fds), eddy_tcp_server_loop().  Its connections count
 * those an upgrade handed over until they close (eddy_http_upgrade()).
 * The HTTP server owns it: never stop, shut down or free it.
 */
EDDY_API const eddy_tcp_server *
eddy_http_server_tcp(const eddy_http_server *srv);

/**
 * Stops accepting (closes the listening sockets), finishes in-flight
 * requests, closes idle connections as they become idle, and runs done
 * once no connection is left or deadline_ms passed (then the rest are
 * closed).  done may be NULL.  A second call does nothing.  Connections
 * handed over by eddy_http_upgrade() are not the server's any more: it
 * neither waits for them nor closes them.
 */
EDDY_API void eddy_http_server_shutdown(eddy_http_server *srv,
                                        uint64_t deadline_ms,
                                        void (*done)(eddy_http_server *srv,
                                                     void *arg),
                                        void *arg);

/**
 * On SIGTERM or SIGINT: eddy_http_server_shutdown(srv, deadline_ms), then
 * eddy_loop_stop().  For the examples' "stop gracefully and exit 0".
 * Errors: eddy_loop_add_signal()'s, such as -EBUSY when the loop already
 * watches SIGTERM or SIGINT (then neither is taken).
 */
EDDY_API int eddy_http_server_stop_on_signals(eddy_http_server *srv,
                                              uint64_t deadline_ms);

/** Closes every connection at once (queued responses are dropped: use
 *  eddy_http_server_shutdown() first to let them out) and frees the
 *  server.  Requests not finished yet are told (on_close) and freed when
 *  their handler finishes them; an upgrade not handed over yet gets its
 *  callback with no stream.  Connections handed over stay open, their
 *  owners'.  Signals taken by
 *  eddy_http_server_stop_on_signals() are given back.  May be called from
 *  a handler, but not from a body or close callback of the server.  A NULL
 *  srv does nothing. */
EDDY_API void eddy_http_server_free(eddy_http_server *srv);

/** @} */

/** Counters of a server. */
typedef struct eddy_http_stats {
    uint64_t connections;      /**< open now */
    uint64_t connections_total; /**< accepted since creation */
    uint64_t requests;         /**< finished */
    uint64_t bytes_in,         /**< read from clients */
             bytes_out;        /**< sent in responses, heads and
                                    bodies */
    uint64_t errors;           /**< 4xx/5xx answered by the server itself */
    uint64_t aborted;          /**< requests whose response did not go
                                    out whole (also counted in requests):
                                    see eddy_http_aborted() */
} eddy_http_stats;

/** @name The server's counters and loop
 *  @{ */

/** Copies the server's counters to *out. */
EDDY_API void eddy_http_server_get_stats(const eddy_http_server *srv,
                                         eddy_http_stats *out);
/** The loop the server runs on. */
EDDY_API eddy_loop *eddy_http_server_loop(const eddy_http_server *srv);

/** @} */
/** @name The request
 *  @{ */

/** The method as sent, e.g. "GET" (methods are case-sensitive). */
EDDY_API eddy_str eddy_http_method(const eddy_http_request *req);
/** The request target as sent, e.g. "/a/b?x=1". */
EDDY_API eddy_str eddy_http_uri(const eddy_http_request *req);
/** The path as sent: the target up to '?' ("/a" also for an
 *  absolute-form target, "http://host/a?b"), still percent-encoded. */
EDDY_API eddy_str eddy_http_path(const eddy_http_request *req);
/** The path routes are matched against: eddy_http_path() percent-decoded
 *  ('+' stays '+') with dot segments removed (eddy_path_decode()), so
 *  `/a/./b/%2E%2E/c%31` is `/a/c1`.  It never holds an encoded '/' or NUL
 *  nor climbs above `/`: the server refuses such paths with 400.  The
 *  asterisk-form target `*` (OPTIONS) is `*`. */
EDDY_API eddy_str eddy_http_decoded_path(const eddy_http_request *req);
/** The value of path parameter name (`{name}` in the route's pattern),
 *  decoded, into *value.  Errors: -ENOENT (the route has no such
 *  parameter, or is not a pattern), -EINVAL (name or value NULL). */
EDDY_API int eddy_http_path_param(const eddy_http_request *req,
                                  const char *name, eddy_str *value);
/** The target after '?' (empty when there is none). */
EDDY_API eddy_str eddy_http_query(const eddy_http_request *req);
/** 10 for HTTP/1.0, 11 for HTTP/1.1. */
EDDY_API int eddy_http_version(const eddy_http_request *req);
/** The first header named name (case-insensitive) into *value.  Errors:
 *  -ENOENT (no such header), -EINVAL (name or value NULL). */
EDDY_API int eddy_http_header_get(const eddy_http_request *req,
                                  const char *name, eddy_str *value);
/** All header fields in order: *n of them, in an array that belongs to
 *  the request (valid until it is finished). */
EDDY_API const eddy_http_header *eddy_http_headers(const eddy_http_request *req,
                                                   size_t *n);
/** The whole body (empty for a streamed route). */
EDDY_API eddy_str eddy_http_body(const eddy_http_request *req);
/** The client's IP address as text (xheaders applied), valid until the
 *  request is finished; "" for a Unix domain socket. */
EDDY_API const char *eddy_http_remote_ip(const eddy_http_request *req);
/** "http", or "https" on a server with a TLS context (options' tls), or
 *  what X-Scheme / X-Forwarded-Proto said with xheaders ("http" or
 *  "https"); a static string. */
EDDY_API const char *eddy_http_scheme(const eddy_http_request *req);
/** The server that received the request.  A request may outlive its
 *  server (eddy_http_server_free()): do not call this after that. */
EDDY_API eddy_http_server *eddy_http_request_server(const eddy_http_request *req);
/** The loop of the request's server; like eddy_http_request_server(), not
 *  after the server was freed. */
EDDY_API eddy_loop *eddy_http_request_loop(const eddy_http_request *req);
/** Stores a pointer for the handler's use; the server never reads or frees
 *  it. */
EDDY_API void eddy_http_set_data(eddy_http_request *req, void *data);
/** The pointer last given to eddy_http_set_data(), or NULL. */
EDDY_API void *eddy_http_data(const eddy_http_request *req);

/** @} */
/** @name Arguments and cookies
 *
 * Tornado's get_query_argument, get_body_argument and get_argument.
 * Query arguments are parsed from the target's query, body arguments from
 * an application/x-www-form-urlencoded body or the fields (not the files)
 * of a multipart/form-data body (eddy_args_parse_body()), each on first
 * use and kept until the request is finished.  A body of another type,
 * and the body of an EDDY_ROUTE_STREAM route (not held: use
 * eddy_http_read_multipart()), has none.  Values point into the request
 * and are NUL-terminated (so that strtol() can read them), valid until it
 * is finished; the last of several pairs of a name wins, as in Tornado
 * (eddy_args_get_all() on eddy_http_args() gives all).  Limits and flags
 * are the options' args_limits and args_flags.
 *
 * Errors, which each call of the family returns again: -ENOENT (no such
 * argument: Tornado's MissingArgumentError), -EINVAL (a bad '%' escape;
 * a multipart Content-Type without a valid boundary; name or value NULL),
 * -EILSEQ (EDDY_ARGS_UTF8, and not UTF-8), -EBADMSG or -EPROTO (a
 * malformed or cut multipart body), -E2BIG, -EMSGSIZE or -EFBIG (past a
 * limit: too many pairs or parts, too many bytes), -ENOMEM.  The server
 * does not answer for the handler: eddy_http_error_status() maps each to
 * the status to answer (400 for -ENOENT and the malformed, 413 for the
 * limits) and eddy_http_send_error() sends it.
 *  @{ */

/** Which arguments eddy_http_args() gives. */
enum {
    EDDY_HTTP_QUERY_ARGS = 1, /**< the query's */
    EDDY_HTTP_BODY_ARGS = 2,  /**< the body's */
    EDDY_HTTP_ALL_ARGS = 3    /**< the query's, then the body's */
};

/** The value of the last query argument named name into *value.  Errors:
 *  see the section. */
EDDY_API int eddy_http_query_arg(eddy_http_request *req, const char *name,
                                 eddy_str *value);
/** The value of the last body argument named name into *value.  Errors:
 *  see the section. */
EDDY_API int eddy_http_body_arg(eddy_http_request *req, const char *name,
                                eddy_str *value);
/** The value of the last argument named name, the query's and the body's
 *  together (Tornado's get_argument: a body argument wins over a query
 *  argument of the same name).  Errors: see the section; a malformed query
 *  or body is an error even when the name is in the other. */
EDDY_API int eddy_http_arg(eddy_http_request *req, const char *name,
                           eddy_str *value);
/** The set of arguments which says (EDDY_HTTP_*_ARGS) into *out, for
 *  iteration (eddy_args_count(), eddy_args_at()) and repeated names
 *  (eddy_args_get_all()); NULL is an empty set.  It belongs to the
 *  request.  Errors: see the section (not -ENOENT), -EINVAL (which
 *  unknown, out NULL). */
EDDY_API int eddy_http_args(eddy_http_request *req, unsigned which,
                            const eddy_args **out);

/** The value of the first cookie named name (case-sensitive) in the
 *  request's Cookie header fields, in order, as eddy_cookie_get() reads
 *  them: not decoded, pointing into the request.  Errors: -ENOENT, -EINVAL
 *  (name or value NULL). */
EDDY_API int eddy_http_cookie(const eddy_http_request *req, const char *name,
                              eddy_str *value);

/** Called once a multipart body read by eddy_http_read_multipart() ended:
 *  status 0 when it was whole and well-formed, else why not. */
typedef void (*eddy_http_multipart_done)(eddy_http_request *req, int status,
                                         void *arg);

/**
 * For EDDY_ROUTE_STREAM routes: reads a multipart/form-data body through
 * a streaming parser (eddy_multipart_new(), with lim, NULL for its
 * defaults), so that a large upload never sits whole in memory: cb's
 * begin, data and end callbacks run (with arg) as the body arrives, a
 * part's data straight from what was read.  Then done runs once, with 0,
 * or with the first error: the parser's (eddy_multipart_feed(), -EPROTO
 * for a body cut short, a callback's value), or the body's
 * (eddy_http_body_cb's statuses: EDDY_HTTP_TOO_LARGE, -EPROTO,
 * -ECONNRESET...).  After an error no part callback runs and the rest of
 * the body is not read: answer (eddy_http_error_status() gives the
 * status) and the connection closes after the response.  A part callback
 * stops the upload by returning non-zero (done then gets that value, or
 * -ECANCELED); it must not finish the request: done may (or it may be
 * finished later).  eddy_http_pause_body() and eddy_http_resume_body()
 * work as for eddy_http_read_body().  Errors, after which nothing was
 * read: -EINVAL (the route does not stream its body; cb or done NULL),
 * -ENOTSUP (the body is not multipart/form-data, or has no
 * Content-Type: read it yourself, or answer 415), -EINVAL also for a
 * malformed boundary (answer 400), -ENOMEM, and eddy_http_read_body()'s
 * (-EALREADY, -EPIPE, -EPROTO).
 */
EDDY_API int eddy_http_read_multipart(eddy_http_request *req,
                                      const eddy_multipart_limits *lim,
                                      const eddy_multipart_callbacks *cb,
                                      eddy_http_multipart_done done,
                                      void *arg);

/** @} */
/** @name Reading a streamed body; clients that leave
 *  @{ */

/**
 * For EDDY_ROUTE_STREAM routes: reads the body, handing it over in pieces.
 * Sends "100 Continue" first when the client asked for it.  Errors:
 * -EINVAL (NULL cb), -EALREADY (called twice), -EPIPE (client gone),
 * -EPROTO (the body was already refused, as too large or malformed: answer
 * the request; its connection closes after the response).
 */
EDDY_API int eddy_http_read_body(eddy_http_request *req, eddy_http_body_cb cb,
                                 void *arg);

/**
 * For EDDY_ROUTE_STREAM routes: stops reading the body, so that a handler
 * can hold back a fast uploader (before or after eddy_http_read_body()).
 * No piece is handed over and nothing more is read from the client, whose
 * own sending then stops at TCP's window; bytes the server already read
 * wait.  The body timeout does not run while paused: the server is the
 * one waiting (bound a pause with a timer of your own).  Pausing a paused
 * body, or one that arrived whole, does nothing.  Finishing the request
 * ends the pause.  A client that goes away meanwhile is told at once where
 * the poller reports errors unasked (epoll, kqueue, poll); with select,
 * when reading resumes or the request is finished.  Errors: -EINVAL (the route does not stream its body),
 * -EPIPE (the client went away; the body callback was told).
 */
EDDY_API int eddy_http_pause_body(eddy_http_request *req);

/**
 * Reads a paused body again: the pieces waiting are handed over (in a
 * later callback, never inside this call), then reading from the client
 * goes on, and the body timeout with it.  On a body that is not paused it
 * does nothing.  Errors: as eddy_http_pause_body().
 */
EDDY_API int eddy_http_resume_body(eddy_http_request *req);

/** Calls cb if the client goes away before the request is finished (see
 *  eddy_http_close_cb).  A later call replaces cb; NULL cancels it.  The
 *  request must still be finished after cb. */
EDDY_API void eddy_http_on_close(eddy_http_request *req, eddy_http_close_cb cb,
                                 void *arg);

/** @} */
/** @name The response
 *  @{ */

/**
 * Answers in one call and finishes the request: status, extra headers
 * (Content-Length, Date, Server and Connection are added), body (copied).
 * Everything is checked before a byte is queued.  Errors:
 *
 * - -EINVAL: a response that cannot be sent: a status outside 200..999; a
 *   header with a control character such as CR, LF or NUL, a name that is
 *   not a token, or one of the framing headers Content-Length,
 *   Transfer-Encoding and Connection, which the server writes itself;
 *   headers NULL with nheaders > 0; body NULL with len > 0; a body (len >
 *   0) with 204 or 304.  Nothing is sent and the request is not finished:
 *   answer it again, 500 say.
 * - -EALREADY: a response was started already (eddy_http_start_response);
 *   nothing changes: go on with eddy_http_write() and eddy_http_finish().
 * - -EPIPE: the client went away, or the connection could not take the
 *   response; the request is finished anyway: do not touch it again.
 */
EDDY_API int eddy_http_respond(eddy_http_request *req, int status,
                               const eddy_http_header *headers,
                               size_t nheaders, const void *body, size_t len);

/**
 * Starts a response whose body follows with eddy_http_write().
 * content_length < 0 means unknown: chunked on HTTP/1.1, and on HTTP/1.0
 * the connection closes after the body.  reason NULL: the standard phrase.
 * 204 and 304 responses, and answers to HEAD, carry no body.  Errors:
 *
 * - -EINVAL: as eddy_http_respond()'s, and a reason with a control
 *   character, and a content_length above 0 with 204 or 304.  Nothing is
 *   sent and the response is not started: start it again, or answer with
 *   eddy_http_respond().
 * - -EALREADY: started already; nothing changes.
 * - -EPIPE: the client went away, or the connection could not take the
 *   head.  The response counts as started, with nothing sent: finish the
 *   request with eddy_http_finish() (which returns -EPIPE and frees it).
 */
EDDY_API int eddy_http_start_response(eddy_http_request *req, int status,
                                      const char *reason,
                                      const eddy_http_header *headers,
                                      size_t nheaders, int64_t content_length);

/**
 * Writes a piece of the body (copied).  cb (may be NULL) runs once it is
 * handed to the kernel, or with an error if the connection fails first:
 * use it to pace large bodies.  When this returns an error, cb does not
 * run.  Errors:
 *
 * - -EINVAL: no response was started; or data NULL with len > 0; or the
 *   piece would pass the Content-Length given (any byte with 204 or 304
 *   does).  Nothing is written: write less, or finish the request (short
 *   of its Content-Length, eddy_http_finish() returns -EPROTO).
 * - -EPIPE: the client went away, or the connection could not take the
 *   piece.  Finish the request with eddy_http_finish() (which returns
 *   -EPIPE and frees it).
 */
EDDY_API int eddy_http_write(eddy_http_request *req, const void *data,
                             size_t len, eddy_stream_cb cb, void *arg);

/** Ends the response (starting a 200 with no body if none was started)
 *  and releases the request: do not touch it again, whatever this
 *  returns.  Errors: -EPIPE (the client went away; the request is logged
 *  as aborted), -EPROTO (fewer bytes than the Content-Length were
 *  written: the connection is closed after them, which tells the client;
 *  logged as aborted). */
EDDY_API int eddy_http_finish(eddy_http_request *req);

/**
 * Called once after eddy_http_upgrade() returned 0, from the connection's
 * own callback (never inside eddy_http_upgrade()), once the answers to the
 * requests pipelined before it are out: with the stream, now
 * the callee's, and leftover[0, len): bytes the server read past the
 * request's head, the first bytes of the new protocol (valid during the
 * call only: copy what is kept).  More bytes come from reading the stream,
 * which has no read pending, no close or drain callback, and is no longer
 * half-open; the 101 head is queued on it.  It may already be closing (the
 * close callback the callee sets tells).  s is NULL, with no bytes, when
 * the connection closed before it could be handed over: the client went
 * away, or the server was freed (eddy_http_server_free() calls it then).
 */
typedef void (*eddy_http_upgrade_cb)(eddy_stream *s, const char *leftover,
                                     size_t len, void *arg);

/**
 * Switches protocols (RFC 9110 7.8): queues "101 Switching Protocols"
 * with headers (Upgrade, naming the protocol, is required; Date and Server
 * are added unless given; Connection: Upgrade is added) and finishes the
 * request (logged and counted with status 101), then hands the
 * connection's stream to cb.  The HTTP server forgets the connection: no
 * more timeouts, half-open or lingering close of its own, and its
 * shutdown neither waits for nor closes it; the TCP server still counts
 * it against max_connections until it closes.  The protocol's own checks
 * (its name in Upgrade, a WebSocket key...) are the caller's.  Errors,
 * after which nothing was sent:
 *
 * - -EINVAL: NULL cb; headers as eddy_http_respond() refuses them, or
 *   without Upgrade.  The request is as it was: answer it (500, say).
 * - -EALREADY: a response was started; go on with it.
 * - -EPROTO: the request does not ask to switch: HTTP/1.0, no Upgrade
 *   header, or no "upgrade" token in Connection.  Answer it (400, or 426
 *   with Upgrade).
 * - -EBUSY: its body has not been read whole (a streamed route): read it
 *   (eddy_http_read_body()) and upgrade once it ended, or answer.
 * - -ESHUTDOWN: the server is shutting down; answer (503, say).
 * - -EPIPE: the client went away, or the connection could not take the
 *   101; the request is finished (as aborted) and cb never runs: do not
 *   touch the request again.
 */
EDDY_API int eddy_http_upgrade(eddy_http_request *req,
                               const eddy_http_header *headers,
                               size_t nheaders, eddy_http_upgrade_cb cb,
                               void *arg);

/**
 * Adds a header field to the response this request will get, to be sent
 * by eddy_http_respond(), eddy_http_start_response(),
 * eddy_http_send_error() or eddy_http_upgrade() with the ones they are
 * given (both are sent when a name is in both); name and value are
 * copied.  For headers decided before the response is (cookies set along
 * the way, by several parts of a handler).  Errors: -EINVAL (name or
 * value NULL; a name that is not a token or is one of the framing
 * headers, Content-Length, Transfer-Encoding and Connection; a value with
 * a control character such as CR, LF or NUL: nothing is added),
 * -EALREADY (the response was started: too late), -ENOMEM.
 */
EDDY_API int eddy_http_add_header(eddy_http_request *req, const char *name,
                                  const char *value);

/** Adds `Set-Cookie: ` eddy_cookie_format(c) to the response, as
 *  eddy_http_add_header().  Errors: eddy_cookie_format()'s -EINVAL (the
 *  cookie could inject a header or an attribute, or breaks RFC 6265's
 *  syntax; nothing is added), -EALREADY, -ENOMEM. */
EDDY_API int eddy_http_set_cookie(eddy_http_request *req, const eddy_cookie *c);

/**
 * Answers with status (400 to 599) and the server's error page for it
 * (the options' error_page hook, or "404 Not Found\n" as text/plain), as
 * the server answers its own errors (a 405 gets Allow for the path's
 * routes), and finishes the request: Tornado's send_error.  Errors:
 * -EINVAL (status outside 400..599: nothing sent, answer again), and
 * eddy_http_respond()'s -EALREADY and -EPIPE.
 */
EDDY_API int eddy_http_send_error(eddy_http_request *req, int status);

/** The status that answers an error from this header's calls (or
 *  httputil's parsers): 400 for -ENOENT (a missing argument), -EINVAL,
 *  -EILSEQ, -EBADMSG and -EPROTO; 413 for -E2BIG, -EMSGSIZE, -EFBIG and
 *  EDDY_HTTP_TOO_LARGE; 415 for -ENOTSUP; 503 for -ENOMEM; 500 for
 *  anything else.  Any thread. */
EDDY_API int eddy_http_error_status(int err);

/**
 * Writes len bytes of the file open on fd, from offset, as a piece of the
 * body (after eddy_http_start_response()), without copying them into
 * memory: eddy_stream_sendfile() (sendfile(2) on plain connections, read
 * and written under TLS).  fd is the caller's: keep it open and the bytes
 * in place until cb runs, and close it there (cb may be NULL when fd
 * outlives the request).  A file shorter than offset + len by then
 * (truncated meanwhile) closes the connection before a byte that is not
 * the file's.  Errors, after which cb does not run: -EINVAL (no response
 * was started; fd negative; the bytes would pass the Content-Length
 * given), -ENOTSUP (the response is being compressed: give the route
 * EDDY_ROUTE_NO_GZIP), -EPIPE (the client went away, or the connection
 * could not take it: finish the request).
 */
EDDY_API int eddy_http_write_file(eddy_http_request *req, int fd,
                                  uint64_t offset, uint64_t len,
                                  eddy_stream_cb cb, void *arg);

/** Non-zero when the request's response did not go out whole: the client
 *  went away before it was finished (eddy_http_finish() returned -EPIPE),
 *  or it fell short of its Content-Length (-EPROTO).  For the access log
 *  hook, which gets such requests too, and for the stats (aborted). */
EDDY_API int eddy_http_aborted(const eddy_http_request *req);

/** The standard reason phrase of status: RFC 9110's (and 103, 428, 429,
 *  431, 451 and 511 from their RFCs), "Unknown" for a code none of them
 *  defines; a static string.  Any thread. */
EDDY_API const char *eddy_http_reason(int status);

/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif
