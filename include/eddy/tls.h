/**
 * @file
 * @brief TLS for streams: contexts, and turning TLS on for a stream.
 *
 * Everything it declares is described under @ref tls.
 */
/**
 * @defgroup tls TLS streams (tls.h)
 * @brief TLS as a transport under a stream: Tornado's SSLIOStream and
 * start_tls.
 *
 * A context (eddy_tls_ctx) holds what many connections share: the role,
 * certificate and key, the CAs to trust, verification, ALPN and protocol
 * versions.  eddy_stream_start_tls() turns TLS on for an open stream, a
 * freshly accepted or connected socket or one that spoke plaintext first
 * (STARTTLS); from then on every read and write of the stream is
 * encrypted, and nothing else about the stream changes.
 *
 * Defaults, safe without configuration: TLS 1.2 and 1.3 only; clients
 * verify the server's chain against the system's CAs and its name against
 * the name given to eddy_stream_start_tls(); session resumption with
 * tickets on; renegotiation refused; no SIGPIPE ever; close_notify sent
 * when a stream closes with its handshake done, and a peer that closes
 * without one reported as #EDDY_TLS_TRUNCATED, never as a clean #EDDY_EOF.
 *
 * The library eddy was built with does the cryptography (OpenSSL 3; see
 * eddy_tls_library()).  Built without one (`make TLS=none`), every
 * function here exists and returns -ENOTSUP (or NULL).
 *
 * Errors are negative errno values and the EDDY_TLS_* codes below, all
 * named by eddy_strerror().  A stream that fails also logs, through its
 * loop's log hook, a line that names the TLS library's reason (at
 * EDDY_LOG_INFO; a missing close_notify at EDDY_LOG_DEBUG).
 */
#ifndef EDDY_TLS_H
#define EDDY_TLS_H

#include "eddy/iostream.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup tls
 *  @{ */

/** Shared TLS settings.  Opaque; create with eddy_tls_ctx_new(). */
typedef struct eddy_tls_ctx eddy_tls_ctx;

/** @name Error codes
 *  In eddy's namespace below #EDDY_EOF (iostream.h): TLS has -4070 to
 *  -4079.
 *  @{ */
/** The handshake failed: no common version or cipher, a malformed or
 *  non-TLS message (garbage, a plaintext HTTP request), an alert from the
 *  peer.  The stream closes; the log line says why. */
#define EDDY_TLS_HANDSHAKE (-4070)
/** The peer's certificate did not verify: unknown CA, expired, wrong
 *  host name, or none when one is required.  The stream closes;
 *  eddy_stream_tls_verify_error() says why. */
#define EDDY_TLS_VERIFY (-4071)
/** The peer closed the connection without a close_notify: what was read
 *  may be cut short (an attacker can end a TLS stream this way).  A
 *  pending eddy_stream_read_until_close() fails with it.  Also the error
 *  of a peer that closes during the handshake. */
#define EDDY_TLS_TRUNCATED (-4072)
/** A TLS protocol error after the handshake (a record that does not
 *  decrypt, an unexpected message, a renegotiation the peer insisted
 *  on).  The stream closes. */
#define EDDY_TLS_PROTOCOL (-4073)
/** eddy_tls_ctx_load_cert_chain(): the private key is not the key of the
 *  certificate. */
#define EDDY_TLS_KEY_MISMATCH (-4074)
/** A certificate, key or CA file exists but holds no usable PEM data
 *  (not PEM, empty, or a key protected by a passphrase). */
#define EDDY_TLS_BAD_PEM (-4075)
/** @} */

/** Roles, for eddy_tls_ctx_new(). */
enum {
    EDDY_TLS_CLIENT = 1, /**< connects; verifies the server by default */
    EDDY_TLS_SERVER = 2  /**< accepts; presents a certificate */
};

/** Verification modes, for eddy_tls_ctx_set_verify(). */
enum {
    /** Client: accept any server certificate and name (tests only).
     *  Server: ask no client certificate (the server default). */
    EDDY_TLS_VERIFY_NONE = 0,
    /** Server: ask for a client certificate and verify one if sent. */
    EDDY_TLS_VERIFY_OPTIONAL = 1,
    /** Client: verify the chain and the host name (the client default).
     *  Server: a client without a valid certificate is refused. */
    EDDY_TLS_VERIFY_REQUIRED = 2
};

/** Protocol versions, for eddy_tls_ctx_set_versions(). */
#define EDDY_TLS_1_2 0x0303
/** TLS 1.3. */
#define EDDY_TLS_1_3 0x0304

/**
 * Chooses a context for a client's server name (SNI), on a server.  name
 * is what the client sent (never NULL; a client that sends none does not
 * call it).  Return the context for that name, or NULL to keep the one
 * the stream started with.  The context returned supplies certificate,
 * key, CA store, verification mode and ALPN; it must stay valid until the
 * call returns, and the stream keeps it alive from then on.
 */
typedef eddy_tls_ctx *(*eddy_tls_sni_cb)(const char *name, void *arg);

/** @name Contexts
 *  Configure a context before the first stream uses it; it may then be
 *  shared by any number of streams, on any loops and threads.
 *  @{ */

/**
 * A new context for role (EDDY_TLS_CLIENT or EDDY_TLS_SERVER) with the
 * defaults above.  A server needs eddy_tls_ctx_load_cert_chain() before
 * use.  A client reads the system's CAs from disk when its first stream
 * starts, unless eddy_tls_ctx_load_verify() named others.  Errors:
 * -EINVAL (an unknown role), -ENOMEM, -ENOTSUP (built without TLS).
 */
EDDY_API int eddy_tls_ctx_new(int role, eddy_tls_ctx **out);

/** Drops the caller's reference: the context is freed once no stream uses
 *  it any more.  NULL does nothing. */
EDDY_API void eddy_tls_ctx_free(eddy_tls_ctx *ctx);

/** Takes one more reference to ctx, for a holder that may outlive the
 *  caller's own (an HTTP server keeps its context this way); each
 *  reference is dropped with eddy_tls_ctx_free().  Returns ctx (NULL for
 *  NULL).  Any thread. */
EDDY_API eddy_tls_ctx *eddy_tls_ctx_ref(eddy_tls_ctx *ctx);

/**
 * Loads a certificate chain (PEM: the certificate, then the intermediates
 * that lead to its CA) and its private key (PEM, unencrypted; key_file
 * NULL: the key is in cert_file).  Nothing changes when it fails.  A
 * second call with a key of another type (RSA and ECDSA) adds a second
 * certificate; with the same type it replaces the first.  Errors: -ENOENT
 * and open(2)'s other errors for a file that cannot be read,
 * #EDDY_TLS_BAD_PEM, #EDDY_TLS_KEY_MISMATCH, -EINVAL (NULL cert_file),
 * -ENOMEM.  eddy_tls_ctx_error() gives the detail; the caller may fix
 * the files and call it again.
 */
EDDY_API int eddy_tls_ctx_load_cert_chain(eddy_tls_ctx *ctx,
                                          const char *cert_file,
                                          const char *key_file);

/**
 * Trusts the CAs in ca_file (PEM, any number) and in ca_dir (a directory
 * hashed by `openssl rehash`); either may be NULL.  The first call
 * replaces the system's store that clients use by default; later calls
 * add to it.  On a server it also names these CAs to clients asked for a
 * certificate.  Errors as eddy_tls_ctx_load_cert_chain() (-EINVAL: both
 * NULL).
 */
EDDY_API int eddy_tls_ctx_load_verify(eddy_tls_ctx *ctx, const char *ca_file,
                                      const char *ca_dir);

/** Sets how the peer is verified (EDDY_TLS_VERIFY_*, see there).  Errors:
 *  -EINVAL (an unknown mode, or OPTIONAL on a client). */
EDDY_API int eddy_tls_ctx_set_verify(eddy_tls_ctx *ctx, int mode);

/**
 * Sets the ALPN protocols, most preferred first ("h2", "http/1.1").  A
 * client offers them; a server picks the first of its own that the client
 * offers, and refuses a client that offers only others (RFC 7301).  n 0
 * turns ALPN off.  Errors: -EINVAL (a name empty or over 255 bytes),
 * -ENOMEM.
 */
EDDY_API int eddy_tls_ctx_set_alpn(eddy_tls_ctx *ctx,
                                   const char *const *protocols, size_t n);

/** Limits the protocol versions to min..max (EDDY_TLS_1_2, EDDY_TLS_1_3;
 *  0: no limit on that side).  Errors: -EINVAL (an unknown version, or
 *  min above max). */
EDDY_API int eddy_tls_ctx_set_versions(eddy_tls_ctx *ctx, int min, int max);

/** Sets the TLS 1.2 cipher list and the TLS 1.3 cipher suites (OpenSSL's
 *  syntax; NULL keeps that one).  Errors: -EINVAL (a list that selects
 *  nothing). */
EDDY_API int eddy_tls_ctx_set_ciphers(eddy_tls_ctx *ctx, const char *tls12,
                                      const char *tls13);

/** Sets the SNI callback of a server (NULL: none).  Errors: -EINVAL (a
 *  client context). */
EDDY_API int eddy_tls_ctx_set_sni_callback(eddy_tls_ctx *ctx,
                                           eddy_tls_sni_cb cb, void *arg);

/** What the last failed call on ctx found wrong, in words (the file, and
 *  the TLS library's reason), or "" after none.  Valid until the next
 *  call on ctx. */
EDDY_API const char *eddy_tls_ctx_error(const eddy_tls_ctx *ctx);

/** The TLS library and its version ("OpenSSL 3.0.13 30 Jan 2024"), or
 *  NULL when eddy was built without TLS. */
EDDY_API const char *eddy_tls_library(void);

/** @} */
/** @name TLS on a stream
 *  @{ */

/**
 * Turns TLS on for s, a stream over a connected socket, in ctx's role:
 * the handshake starts now (once connected, for a stream still
 * connecting).  cb (may be NULL) runs once: with 0 when the handshake is
 * done, or with an error after which the stream closes (#EDDY_TLS_VERIFY,
 * #EDDY_TLS_HANDSHAKE, #EDDY_TLS_TRUNCATED, -ETIMEDOUT after timeout_ms (0:
 * none), -ECONNRESET...).  Reads and writes made meanwhile wait for it.
 * Bytes the stream read before and holds unread are the first bytes of
 * the handshake (a client that sends its ClientHello right after the
 * plaintext command that asked for TLS).
 *
 * server_name: for a client, the name to verify the certificate against
 * and to send as SNI (an IP address is verified but not sent); needed
 * when the context verifies.  Ignored for a server.
 *
 * Errors (nothing changes; the stream stays as it was): -EINVAL (ctx
 * NULL, or a verifying client without server_name), -EPIPE (closed or at
 * EOF), -EALREADY (TLS is on), -EBUSY (a read is pending or writes are
 * queued: wait for the last write's callback), -ENOTSOCK (not one
 * socket), -ENOMEM, -ENOTSUP (built without TLS).
 */
EDDY_API int eddy_stream_start_tls(eddy_stream *s, eddy_tls_ctx *ctx,
                                   const char *server_name, uint64_t timeout_ms,
                                   eddy_stream_cb cb, void *arg);

/** The protocol version ("TLSv1.3") once the handshake is done, or NULL
 *  (no TLS, or before). */
EDDY_API const char *eddy_stream_tls_version(const eddy_stream *s);
/** The cipher suite ("TLS_AES_128_GCM_SHA256") once the handshake is
 *  done, or NULL. */
EDDY_API const char *eddy_stream_tls_cipher(const eddy_stream *s);
/** The protocol ALPN chose ("http/1.1"), or NULL when none was. */
EDDY_API const char *eddy_stream_tls_alpn(const eddy_stream *s);
/** The server name: the one a client sent (SNI) on a server, the one
 *  given to eddy_stream_start_tls() on a client; or NULL. */
EDDY_API const char *eddy_stream_tls_server_name(const eddy_stream *s);
/** Non-zero when the handshake resumed an earlier session. */
EDDY_API int eddy_stream_tls_resumed(const eddy_stream *s);

/**
 * Writes the subject of the peer's certificate
 * ("CN=client,O=example") into buf, cut to len - 1 bytes.  Errors:
 * -ENOENT (the peer sent none: always so for a client that was not
 * asked), -ENOTCONN (no TLS, or the handshake is not done), -EINVAL (len
 * 0).
 */
EDDY_API int eddy_stream_tls_peer_subject(const eddy_stream *s, char *buf,
                                          size_t len);

/** Why the peer's certificate failed verification ("certificate has
 *  expired"), or NULL when it passed or none came.  A client that does not
 *  verify (EDDY_TLS_VERIFY_NONE) is told too.  Valid in the callbacks of
 *  a failed handshake as well. */
EDDY_API const char *eddy_stream_tls_verify_error(const eddy_stream *s);

/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif
