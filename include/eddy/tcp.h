/**
 * @file
 * @brief TCP servers and clients: accepting, name resolution, connecting
 * by name, listening sockets and processes.
 *
 * Everything it declares is described under @ref tcp.
 */
/**
 * @defgroup tcp TCP servers and clients (tcp.h)
 * @brief Tornado's TCPServer, Resolver, TCPClient, netutil and process
 * modules in C.
 *
 * The TCP server accepts connections on listening sockets and hands each
 * to a callback as an eddy_stream.  It accepts until the backlog is empty
 * (at most 64 at a time), keeps a connection limit by leaving clients in
 * the kernel's backlog, and survives running out of fds (EMFILE, ENFILE)
 * or memory without spinning: it stops watching its listening sockets and
 * starts again when a connection it handed out is gone, or 100 ms later.
 *
 * The resolver runs getaddrinfo(3) on a few threads of its own, so a slow
 * name server never blocks the loop; its answers come back as loop
 * callbacks.  eddy_tcp_connect() resolves a host name and connects to its
 * addresses by Happy Eyeballs (RFC 8305), handing over a connected stream.
 *
 * All functions run on the loop's thread and return 0 or a negative errno,
 * except the listening-socket and process functions, which need no loop.
 * Callbacks never run inside the call that asked for them.
 */
#ifndef EDDY_TCP_H
#define EDDY_TCP_H

#include "eddy/ioloop.h"
#include "eddy/iostream.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup tcp
 *  @{ */

/** A TCP server.  Opaque; create with eddy_tcp_server_new(). */
typedef struct eddy_tcp_server eddy_tcp_server;

/**
 * Called with each connection accepted: s is connected, non-blocking and
 * now the callee's (it closes it, or sets a close callback and reads).  The
 * peer's address is valid during the call only (peer_len is 0 when the
 * kernel could not say).  The server still counts s against
 * max_connections until s has freed itself.
 */
typedef void (*eddy_tcp_connection_cb)(eddy_tcp_server *srv, eddy_stream *s,
                                       const struct sockaddr *peer,
                                       socklen_t peer_len, void *arg);

/** Server options; a zero field takes its default. */
typedef struct eddy_tcp_server_options {
    size_t max_connections;     /**< connections open at once; at the limit
                                     new clients wait in the kernel's
                                     backlog.  Default: no limit but the
                                     fd limit */
    eddy_stream_options stream; /**< the options of every accepted stream */
} eddy_tcp_server_options;

/** A server's counters (eddy_tcp_server_get_stats()). */
typedef struct eddy_tcp_server_stats {
    uint64_t connections;       /**< handed out and not yet freed */
    uint64_t connections_total; /**< handed out since creation */
    uint64_t accept_errors;     /**< accept(2) failures for want of fds or
                                     memory: EMFILE, ENFILE, ENOBUFS, ENOMEM */
    uint64_t pauses;            /**< times accepting paused: at
                                     max_connections, for want of fds or
                                     memory, or with an fd set aside */
    uint64_t parked;            /**< accepted fds set aside because the
                                     poller could not watch them (select:
                                     FD_SETSIZE) */
    int accepting;              /**< non-zero while the listening sockets
                                     are watched */
} eddy_tcp_server_stats;

/** @name The TCP server (Tornado's TCPServer)
 *  @{ */

/**
 * Creates a server on *out that hands each connection to cb(srv, s, peer,
 * peer_len, arg).  It listens on nothing yet: add sockets with
 * eddy_tcp_server_listen() or eddy_tcp_server_add_sockets().  opts may be
 * NULL.  TLS is for a later setter: the callback is the one place streams
 * come from, so a server that starts TLS on them changes nothing else.
 * Errors: -EINVAL (NULL cb), -ENOMEM.
 */
EDDY_API int eddy_tcp_server_new(eddy_loop *loop,
                                 const eddy_tcp_server_options *opts,
                                 eddy_tcp_connection_cb cb, void *arg,
                                 eddy_tcp_server **out);

/**
 * Binds listening sockets for address:port with eddy_bind_sockets()
 * (address NULL or "": every interface; port 0: a free port, see
 * eddy_tcp_server_port()) and accepts on them.  Errors: those of
 * eddy_bind_sockets() and eddy_tcp_server_add_sockets(); nothing is left
 * open then, and the server is as it was.
 */
EDDY_API int eddy_tcp_server_listen(eddy_tcp_server *srv, int port,
                                    const char *address);

/**
 * Accepts on listening sockets the caller made (eddy_bind_sockets(),
 * eddy_bind_unix_socket(), or inherited), which the server owns from then
 * on and closes when it stops.  They must be non-blocking.  Errors:
 * -ESHUTDOWN (eddy_tcp_server_shutdown() began), -ENOMEM, or the loop's
 * errors for a handler (-EBADF, -EEXIST, -ERANGE); then none of fds is
 * taken, and the caller still owns them all.
 */
EDDY_API int eddy_tcp_server_add_sockets(eddy_tcp_server *srv, const int *fds,
                                         size_t n);

/** The port of the server's first listening socket (after listening on
 *  port 0, say), or -ENOENT when it has none, or eddy_socket_port()'s
 *  errors (-EAFNOSUPPORT for a Unix socket). */
EDDY_API int eddy_tcp_server_port(const eddy_tcp_server *srv);

/**
 * Stops listening (Tornado's stop()): closes the listening sockets, so new
 * clients are refused, and an accepted fd set aside (select).  Connections
 * already handed out are untouched.  Listening again with
 * eddy_tcp_server_listen() is allowed.  Stopping twice does nothing.
 */
EDDY_API void eddy_tcp_server_stop(eddy_tcp_server *srv);

/**
 * Stops gracefully: stops listening at once, then runs done(srv, arg)
 * (when not NULL) in a later iteration, once every connection the server
 * handed out is gone, or, after deadline_ms, once it has closed those still
 * open.  Until then their owners may finish their work and close them.
 * A second call does nothing.  eddy_tcp_server_free() before done runs
 * cancels it.
 */
EDDY_API void
eddy_tcp_server_shutdown(eddy_tcp_server *srv, uint64_t deadline_ms,
                         void (*done)(eddy_tcp_server *srv, void *arg),
                         void *arg);

/**
 * Stops listening and frees the server.  The connections it handed out
 * stay open and their owners' (close them first to end them).  Allowed
 * from inside the server's callbacks.  A NULL srv does nothing.
 */
EDDY_API void eddy_tcp_server_free(eddy_tcp_server *srv);

/** Copies the server's counters to *out. */
EDDY_API void eddy_tcp_server_get_stats(const eddy_tcp_server *srv,
                                        eddy_tcp_server_stats *out);

/** The loop the server runs on. */
EDDY_API eddy_loop *eddy_tcp_server_loop(const eddy_tcp_server *srv);

/** @} */

/** An address from the resolver: a sockaddr of either family. */
typedef struct eddy_addr {
    union {
        struct sockaddr sa;      /**< the family is sa.sa_family */
        struct sockaddr_in in4;  /**< when it is AF_INET */
        struct sockaddr_in6 in6; /**< when it is AF_INET6 */
    } u;                         /**< the address, port included */
    socklen_t len;               /**< the length of the sockaddr in u */
} eddy_addr;

/** A resolver.  Opaque; create with eddy_resolver_new(). */
typedef struct eddy_resolver eddy_resolver;

/** A lookup in progress, for eddy_resolver_cancel().  Opaque. */
typedef struct eddy_lookup eddy_lookup;

/**
 * Called once with a lookup's answer: status 0 and n >= 1 addresses (in
 * the order to try them), or a negative error and none: EDDY_ENOTFOUND,
 * EDDY_ETRYAGAIN, EDDY_ERESOLVE, -ENOMEM, -EAFNOSUPPORT, or getaddrinfo's
 * system errno.  addrs is valid during the call only.
 */
typedef void (*eddy_lookup_cb)(eddy_resolver *r, int status,
                               const eddy_addr *addrs, size_t n, void *arg);

/** Resolver options; a zero field takes its default. */
typedef struct eddy_resolver_options {
    unsigned max_threads; /**< lookups run at once, one thread each (more
                               wait their turn); default 4 */
    unsigned idle_ms;     /**< a thread with no lookup to run exits after
                               this long; default 5,000 */
} eddy_resolver_options;

/** @name Name resolution (Tornado's Resolver)
 *  @{ */

/**
 * Creates a resolver for loop on *out.  Its threads are created when
 * lookups need them, up to max_threads, and exit when idle for idle_ms,
 * so an idle resolver holds no thread.  opts may be NULL.  Errors:
 * -ENOMEM, or pthread's errno for its lock.
 */
EDDY_API int eddy_resolver_new(eddy_loop *loop,
                               const eddy_resolver_options *opts,
                               eddy_resolver **out);

/**
 * Looks up host's addresses (family AF_UNSPEC, AF_INET or AF_INET6) for
 * TCP to port, and runs cb with them in a later iteration.  A numeric
 * address is answered without a thread.  As RFC 6761 asks, a name under
 * .invalid fails at once (EDDY_ENOTFOUND) and localhost (and names under
 * .localhost) always gets the loopback addresses of the families asked
 * for, ::1 first, whatever the system says (/etc/hosts often lists only
 * one).  The handle goes to *out when out is not NULL; it is valid until
 * cb starts.  Errors (cb will not run): -EINVAL (NULL host or cb, an empty
 * host, another family), -ENAMETOOLONG (host over 1,024 bytes), -ENOMEM,
 * -EAGAIN (no thread could be started and none runs).
 */
EDDY_API int eddy_resolver_lookup(eddy_resolver *r, const char *host,
                                  uint16_t port, int family, eddy_lookup_cb cb,
                                  void *arg, eddy_lookup **out);

/** Cancels a lookup whose callback has not started: it never runs.  A
 *  lookup running on a thread finishes there and its answer is dropped. */
EDDY_API void eddy_resolver_cancel(eddy_resolver *r, eddy_lookup *lookup);

/**
 * Frees the resolver at once, also with lookups pending: their callbacks
 * never run.  A thread still inside getaddrinfo(3) is not waited for: it
 * frees its answer when it returns and touches nothing else (the resolver's
 * shared part goes with the last thread).  Free it before closing its
 * loop, and run the loop once more (eddy_loop_run_once(loop, 0)) before
 * closing it, as for streams: an answer already queued on the loop is
 * dropped there.  A NULL r does nothing.
 */
EDDY_API void eddy_resolver_free(eddy_resolver *r);

/** @} */

/** A connect in progress, for eddy_tcp_connect_cancel().  Opaque. */
typedef struct eddy_tcp_connector eddy_tcp_connector;

/** Called once when a connect ends: with a connected stream, now the
 *  callee's, and status 0; or with NULL and a negative error. */
typedef void (*eddy_tcp_connect_cb)(eddy_stream *s, int status, void *arg);

/** Connect options; a zero field takes its default. */
typedef struct eddy_tcp_connect_options {
    uint64_t timeout_ms;        /**< for the whole connect, the lookup
                                     included; default none */
    uint64_t attempt_delay_ms;  /**< Happy Eyeballs' Connection Attempt
                                     Delay: how long one address may stay
                                     unanswered before the next one is
                                     tried beside it; default 250 */
    int family;                 /**< AF_UNSPEC (default), AF_INET or
                                     AF_INET6 */
    const char *source_address; /**< a numeric address to bind to before
                                     connecting (its family then is the
                                     one tried); default: the kernel's */
    eddy_stream_options stream; /**< the connected stream's options */
} eddy_tcp_connect_options;

/** @name Connecting by name (Tornado's TCPClient)
 *  @{ */

/**
 * Connects to host (a name, or a numeric address) and port, and runs
 * cb(s, 0, arg) with the connected stream, or cb(NULL, error, arg).  The
 * name is looked up with resolver (NULL: host must be numeric).  Its
 * addresses are tried by Happy Eyeballs (RFC 8305): alternating families,
 * the first one first (IPv6 when the system prefers it), the next one as
 * soon as the one before fails or after attempt_delay_ms without an
 * answer; the first to connect wins and the others are closed.  Errors
 * through cb: the lookup's, -ETIMEDOUT (timeout_ms passed), or the first
 * address's connect error (-ECONNREFUSED, -ENETUNREACH, bind's
 * -EADDRNOTAVAIL for source_address...).  The handle goes to *out when out
 * is not NULL; it is valid until cb starts.  Attempts that lost close in
 * later iterations: run the loop once more before closing it, as for
 * streams.  Errors (cb will not run): -EINVAL (NULL host or cb, a host
 * that is not numeric without a resolver, a family other than those, a
 * source_address that is not numeric or not of family), -ENOMEM, and
 * eddy_resolver_lookup()'s.
 */
EDDY_API int eddy_tcp_connect(eddy_loop *loop, eddy_resolver *resolver,
                              const char *host, uint16_t port,
                              const eddy_tcp_connect_options *opts,
                              eddy_tcp_connect_cb cb, void *arg,
                              eddy_tcp_connector **out);

/** Cancels a connect whose callback has not started: it never runs, the
 *  lookup is cancelled and every attempt closed. */
EDDY_API void eddy_tcp_connect_cancel(eddy_tcp_connector *c);

/** @} */

/** Flags of eddy_bind_sockets(). */
enum {
    EDDY_BIND_REUSEPORT = 1 /**< set SO_REUSEPORT, so that several processes
                                 can bind the same port (-ENOTSUP where the
                                 system has no SO_REUSEPORT) */
};

/** @name Listening sockets (Tornado's netutil)
 *  These need no loop and may be called from any thread.
 *  @{ */

/**
 * Creates listening sockets for address:port (address NULL or "": every
 * interface; family AF_UNSPEC, AF_INET or AF_INET6), as getaddrinfo
 * resolves them: SO_REUSEADDR, IPV6_V6ONLY on IPv6, close-on-exec,
 * non-blocking, listen(backlog; 0: 1024).  Port 0 picks a free port (the
 * same for every family).  Up to max fds go to fds, their count to *n; the
 * caller owns them.  Errors: -EINVAL (port outside 0..65535, max 0),
 * -EADDRNOTAVAIL (address does not resolve to a usable address), or the
 * errno of socket(2), setsockopt(2), bind(2) or listen(2), such as
 * -EADDRINUSE; no socket is left open then.
 */
EDDY_API int eddy_bind_sockets(int port, const char *address, int family,
                               int backlog, unsigned flags, int *fds,
                               size_t max, size_t *n);

/** A listening Unix domain socket at path (an old socket file there is
 *  replaced), with the given file mode (0: 0666 masked by umask),
 *  close-on-exec and non-blocking, listen(backlog; 0: 1024).  The caller
 *  owns *fd.  Errors: -EINVAL (path NULL or too long), -EEXIST (path exists
 *  and is not a socket), or the errno of socket(2), bind(2), chmod(2) or
 *  listen(2). */
EDDY_API int eddy_bind_unix_socket(const char *path, int mode, int backlog,
                                   int *fd);

/** The port a socket is bound to, or a negative errno: getsockname(2)'s,
 *  or -EAFNOSUPPORT for a socket that is neither IPv4 nor IPv6. */
EDDY_API int eddy_socket_port(int fd);

/** @} */
/** @name Processes (Tornado's process module)
 *  @{ */

/**
 * Forks n children (0: one per CPU) and returns in each child with its task
 * id (0 .. n-1) in *task_id.  The parent never returns: it restarts a
 * child that dies abnormally (at most max_restarts times in all; same task
 * id), forwards SIGTERM and SIGINT to the children, and exits when they
 * have all exited: 0 if they all exited 0.  Call it before creating loops
 * and threads: the children inherit only the calling thread.  Errors (in
 * the parent, which stops the children it started first): -EINVAL (n or
 * max_restarts negative, task_id NULL, or called in a child), -ENOMEM,
 * fork's errno.
 */
EDDY_API int eddy_fork_processes(int n, int max_restarts, int *task_id);

/** The task id of this process (-1 unless forked by eddy_fork_processes).
 *  Any thread. */
EDDY_API int eddy_task_id(void);

/** The number of CPUs online (at least 1).  Any thread. */
EDDY_API int eddy_cpu_count(void);

/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif
