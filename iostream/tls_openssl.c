/*
 * iostream/tls_openssl.c - TLS on OpenSSL 3: the contexts of tls.h and the
 * operations of a TLS stream (transport.h).  The only file that knows
 * OpenSSL; built when TLS=openssl defines EDDY_TLS_OPENSSL.
 *
 * OpenSSL's traps, and how each is handled:
 *
 *  - SIGPIPE: OpenSSL's socket BIO writes with write(2), which raises it
 *    when the peer is gone.  Our own BIO (bio_*) reads and writes through
 *    tls.c: recv(2), and send(2) with MSG_NOSIGNAL.  It also reads first
 *    the bytes the stream held before TLS started.
 *  - WANT_READ during SSL_write, WANT_WRITE during SSL_read: each call
 *    records the event it waits for (rwant, wwant, hswant) and the stream
 *    watches for that one.
 *  - A write that must wait has to be retried with the same bytes: with
 *    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER they may sit at another address,
 *    and o->retry remembers how many to pass again (writev below).
 *    SSL_MODE_ENABLE_PARTIAL_WRITE lets a write take a record at a time.
 *  - Plaintext decrypted but not yet read, which no poller reports: the
 *    stream asks pending() before it waits, and reads it first.
 *  - The error queue is per thread and sticky: it is cleared before every
 *    call, and emptied after a failure has been read.
 *  - An EOF without close_notify: OpenSSL 3 reports it as an error
 *    (SSL_R_UNEXPECTED_EOF_WHILE_READING, through BIO_CTRL_EOF); it
 *    becomes EDDY_TLS_TRUNCATED, never a clean end.
 *  - SSL_shutdown after a fatal error is forbidden: EDDY__TLS_FATAL.
 *    It is called once (EDDY__TLS_SHUT): a second call would wait for the
 *    peer's close_notify.  A half-close (eddy_stream_shutdown_write)
 *    waits for WRITE when close_notify does not fit, and calls it again;
 *    reading goes on after it (SSL_read only stops at the peer's).
 *  - Memory per idle connection: SSL_MODE_RELEASE_BUFFERS frees the
 *    record buffers (33 KB) when nothing is in flight, as nginx.
 *  - An encrypted key would make PEM_read ask for a passphrase on the
 *    terminal: the passphrase callback refuses instead.
 *  - SSL_set_SSL_CTX (SNI) does not carry the verify mode over: it is
 *    set again from the new context.
 *
 * This file must never block (but for reading the system's CAs from
 * disk, once per client context, when its first stream starts), print,
 * or keep global state: each context owns its BIO method and its client
 * session cache.
 */
#ifdef EDDY_TLS_OPENSSL
#define _GNU_SOURCE
#include "transport.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSIONS 16 /* server names a client context keeps a session of */
#define STAGE 16384 /* a record's plaintext: small writes are gathered */

struct session {
    char *name;
    SSL_SESSION *sess;
};

struct eddy_tls_ctx {
    SSL_CTX *ssl;
    BIO_METHOD *bio;
    atomic_int refs;
    atomic_int default_store; /* the system's CAs are still to be loaded */
    int role, custom_store;
    unsigned char *alpn; /* ALPN's wire format: length-prefixed names */
    size_t alpn_len;
    eddy_tls_sni_cb sni_cb;
    void *sni_arg;
    pthread_mutex_t lock; /* sessions, default_store */
    struct session sessions[SESSIONS];
    unsigned next_session;
    char err[256];
};

typedef struct ossl {
    eddy__tls base;
    SSL *ssl;
    eddy_tls_ctx *ctx, *sni_ctx;
    char *name;   /* a client's server name */
    char *alpn;   /* the protocol ALPN chose */
    size_t retry; /* bytes a write that must wait is to be retried with */
} ossl;

/* --- errors ------------------------------------------------------------- */

static void ctx_err(eddy_tls_ctx *ctx, const char *file, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";

    if (what == NULL && e != 0)
        ERR_error_string_n(e, reason, sizeof reason);
    snprintf(ctx->err, sizeof ctx->err, "%s%s%s", file ? file : "",
             file ? ": " : "", what ? what : reason);
    ERR_clear_error();
}

/* The outcome of a failed SSL call (ret its return value): -EAGAIN with
 * *want set, 0 at the peer's close_notify when reading, or the error,
 * logged once with OpenSSL's reason. */
static int outcome(ossl *o, int ret, unsigned *want, int reading)
{
    eddy__tls *t = &o->base;
    int e = SSL_get_error(o->ssl, ret), hs = t->state & EDDY__TLS_HANDSHAKE;
    unsigned long code = ERR_peek_last_error();
    char reason[160];
    long vr;
    int err, level = EDDY_LOG_INFO;

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? EDDY_READ : EDDY_WRITE;
        return -EAGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN && reading && !hs)
        return 0;
    t->state |= EDDY__TLS_FATAL;
    if (e == SSL_ERROR_SYSCALL && t->io_err != 0) {
        err = -t->io_err;
        snprintf(reason, sizeof reason, "%s", strerror(t->io_err));
    } else if (e == SSL_ERROR_SYSCALL ||
               ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        err = EDDY_TLS_TRUNCATED;
        level = EDDY_LOG_DEBUG;
        if (code != 0)
            ERR_error_string_n(code, reason, sizeof reason);
        else
            snprintf(reason, sizeof reason, "EOF%s",
                     hs ? " in the handshake" : "");
    } else {
        int r = ERR_GET_REASON(code);

        if (r == SSL_R_CERTIFICATE_VERIFY_FAILED ||
            r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
            err = EDDY_TLS_VERIFY;
        else
            err = hs ? EDDY_TLS_HANDSHAKE : EDDY_TLS_PROTOCOL;
        if (code != 0)
            ERR_error_string_n(code, reason, sizeof reason);
        else
            snprintf(reason, sizeof reason, "SSL_get_error %d", e);
    }
    if (err == EDDY_TLS_VERIFY &&
        (vr = SSL_get_verify_result(o->ssl)) != X509_V_OK)
        eddy_loop_log(t->loop, level, "tls: fd %d: %s: %s (%s)", t->fd,
                      eddy_strerror(err), X509_verify_cert_error_string(vr),
                      reason);
    else
        eddy_loop_log(t->loop, level, "tls: fd %d: %s: %s", t->fd,
                      eddy_strerror(err), reason);
    ERR_clear_error();
    return err;
}

/* --- the BIO: the socket, through tls.c --------------------------------- */

static int bio_write(BIO *b, const char *buf, size_t len, size_t *written)
{
    ssize_t r = eddy__tls_write_raw(BIO_get_data(b), buf, len);

    BIO_clear_retry_flags(b);
    if (r >= 0) {
        *written = (size_t)r;
        return 1;
    }
    if (r == -EAGAIN || r == -EWOULDBLOCK)
        BIO_set_retry_write(b);
    return 0;
}

static int bio_read(BIO *b, char *buf, size_t len, size_t *got)
{
    ssize_t r = eddy__tls_read_raw(BIO_get_data(b), buf, len);

    BIO_clear_retry_flags(b);
    *got = r > 0 ? (size_t)r : 0;
    if (r == -EAGAIN || r == -EWOULDBLOCK)
        BIO_set_retry_read(b);
    return r > 0;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    eddy__tls *t = BIO_get_data(b);

    (void)num;
    (void)ptr;
    if (cmd == BIO_CTRL_FLUSH)
        return 1;
    if (cmd == BIO_CTRL_EOF) /* how OpenSSL tells an EOF from EAGAIN */
        return t != NULL && t->eof;
    return 0;
}

/* --- the operations of a stream ----------------------------------------- */

static ssize_t o_read(eddy__tls *t, void *buf, size_t len)
{
    ossl *o = (ossl *)t;
    size_t n;

    ERR_clear_error();
    if (SSL_read_ex(o->ssl, buf, len, &n)) {
        t->rwant = EDDY_READ;
        return (ssize_t)n;
    }
    return outcome(o, 0, &t->rwant, 1);
}

/* Gathers want bytes from iov[i] + off on into stage. */
static size_t gather(char *stage, size_t want, const struct iovec *iov, int n,
                     int i, size_t off)
{
    size_t got = 0;

    for (; i < n && got < want; i++, off = 0) {
        size_t k = iov[i].iov_len - off;

        k = k < want - got ? k : want - got;
        memcpy(stage + got, (const char *)iov[i].iov_base + off, k);
        got += k;
    }
    return got;
}

/* OpenSSL has no writev: a piece of STAGE bytes or more goes as it is,
 * smaller ones are copied together into records of up to STAGE bytes, so
 * a response's head and body leave in one record, not two.  A write that
 * has to wait is retried with as many bytes (o->retry), the same ones:
 * the stream passes the same queue again. */
static ssize_t o_writev(eddy__tls *t, const struct iovec *iov, int n)
{
    ossl *o = (ossl *)t;
    char stage[STAGE];
    size_t total = 0, off = 0;
    int i = 0;

    ERR_clear_error();
    while (i < n) {
        const char *p = (const char *)iov[i].iov_base + off;
        size_t len = iov[i].iov_len - off, w;

        if (len == 0) {
            i++, off = 0;
            continue;
        }
        if (o->retry != 0 && len >= o->retry)
            len = o->retry;
        else if (o->retry != 0 || (len < STAGE && i + 1 < n)) {
            len = gather(stage, o->retry ? o->retry : STAGE, iov, n, i, off);
            p = stage;
        }
        if (!SSL_write_ex(o->ssl, p, len, &w)) {
            int err = outcome(o, 0, &t->wwant, 0);

            if (err != -EAGAIN)
                return err;
            o->retry = len;
            break;
        }
        o->retry = 0;
        t->wwant = EDDY_WRITE;
        total += w;
        for (off += w; i < n && off >= iov[i].iov_len; i++)
            off -= iov[i].iov_len;
    }
    return total > 0 ? (ssize_t)total : -EAGAIN;
}

static int o_handshake(eddy__tls *t)
{
    ossl *o = (ossl *)t;
    const unsigned char *p;
    unsigned len;
    int r;

    ERR_clear_error();
    if ((r = SSL_do_handshake(o->ssl)) != 1)
        return outcome(o, r, &t->hswant, 0);
    SSL_get0_alpn_selected(o->ssl, &p, &len);
    if (len > 0 && (o->alpn = malloc(len + 1)) != NULL) {
        memcpy(o->alpn, p, len);
        o->alpn[len] = '\0';
    }
    return 0;
}

static int o_pending(eddy__tls *t)
{
    return t->pre != NULL || SSL_has_pending(((ossl *)t)->ssl);
}

/* SSL_shutdown once: it sends close_notify (a second call would wait
 * for the peer's).  One that could not write it all is called again (a
 * half-close waiting for WRITE), and then only flushes.  That second
 * call returns 0, as if sent, when the write fails again: a BIO whose
 * write says 0, not -1, for "try again" (ours, through write_ex) passes
 * OpenSSL's test for -1; the BIO's retry flag tells the truth. */
static int o_shutdown(eddy__tls *t, int wait)
{
    ossl *o = (ossl *)t;
    int r;

    if ((t->state & (EDDY__TLS_UP | EDDY__TLS_FATAL | EDDY__TLS_SHUT)) !=
        EDDY__TLS_UP)
        return 0;
    ERR_clear_error();
    r = SSL_shutdown(o->ssl);
    if (r == 0 && wait && BIO_should_write(SSL_get_wbio(o->ssl))) {
        t->wwant = EDDY_WRITE;
        return -EAGAIN;
    }
    if (r >= 0 || !wait) {
        t->state |= EDDY__TLS_SHUT;
        ERR_clear_error();
        return 0;
    }
    return outcome(o, r, &t->wwant, 0);
}

static void o_free(eddy__tls *t)
{
    ossl *o = (ossl *)t;

    SSL_free(o->ssl);
    eddy_tls_ctx_free(o->sni_ctx);
    eddy_tls_ctx_free(o->ctx);
    free(o->name);
    free(o->alpn);
    eddy__tls_release(t);
    free(o);
}

static const eddy__tls_ops ossl_ops = {
    o_read, o_writev, o_handshake, o_pending, o_shutdown, o_free,
};

/* --- client sessions ---------------------------------------------------- */

/* A client's new session (a TLS 1.3 ticket arrives after the handshake):
 * kept for the next connection to the same name. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    ossl *o = SSL_get_app_data(ssl);
    eddy_tls_ctx *ctx = o->ctx;
    struct session *slot = NULL;
    char *name;

    if (o->name == NULL || (name = strdup(o->name)) == NULL)
        return 0;
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < SESSIONS && slot == NULL; i++)
        if (ctx->sessions[i].name && !strcmp(ctx->sessions[i].name, name))
            slot = &ctx->sessions[i];
    if (slot == NULL)
        slot = &ctx->sessions[ctx->next_session++ % SESSIONS];
    free(slot->name);
    SSL_SESSION_free(slot->sess);
    slot->name = name;
    slot->sess = sess; /* returning 1 hands us the reference */
    pthread_mutex_unlock(&ctx->lock);
    return 1;
}

/* Offers the session kept for name.  A TLS 1.3 ticket is used once
 * (RFC 8446, C.4); a TLS 1.2 session as long as the server takes it. */
static void resume(ossl *o)
{
    eddy_tls_ctx *ctx = o->ctx;

    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < SESSIONS; i++) {
        struct session *s = &ctx->sessions[i];

        if (s->name == NULL || strcmp(s->name, o->name) != 0)
            continue;
        SSL_set_session(o->ssl, s->sess);
        if (SSL_SESSION_get_protocol_version(s->sess) >= TLS1_3_VERSION) {
            SSL_SESSION_free(s->sess);
            free(s->name);
            s->name = NULL;
            s->sess = NULL;
        }
        break;
    }
    pthread_mutex_unlock(&ctx->lock);
}

/* --- server callbacks --------------------------------------------------- */

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    eddy_tls_ctx *ctx = arg, *other;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    ossl *o = SSL_get_app_data(ssl);

    (void)alert;
    if (name == NULL || ctx->sni_cb == NULL || o->sni_ctx != NULL)
        return SSL_TLSEXT_ERR_OK;
    other = ctx->sni_cb(name, ctx->sni_arg);
    if (other == NULL || other == ctx || other->role != EDDY_TLS_SERVER)
        return SSL_TLSEXT_ERR_OK;
    SSL_set_SSL_CTX(ssl, other->ssl);
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(other->ssl), NULL);
    atomic_fetch_add(&other->refs, 1);
    o->sni_ctx = other;
    return SSL_TLSEXT_ERR_OK;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    eddy_tls_ctx *ctx = arg;
    unsigned char *sel;

    (void)ssl;
    if (ctx->alpn == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    if (SSL_select_next_proto(&sel, outlen, ctx->alpn, (unsigned)ctx->alpn_len,
                              in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* --- contexts ----------------------------------------------------------- */

static void ctx_destroy(eddy_tls_ctx *ctx)
{
    for (int i = 0; i < SESSIONS; i++) {
        free(ctx->sessions[i].name);
        SSL_SESSION_free(ctx->sessions[i].sess);
    }
    SSL_CTX_free(ctx->ssl);
    BIO_meth_free(ctx->bio);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->alpn);
    free(ctx);
}

void eddy_tls_ctx_free(eddy_tls_ctx *ctx)
{
    if (ctx != NULL && atomic_fetch_sub(&ctx->refs, 1) == 1)
        ctx_destroy(ctx);
}

eddy_tls_ctx *eddy_tls_ctx_ref(eddy_tls_ctx *ctx)
{
    if (ctx != NULL)
        atomic_fetch_add(&ctx->refs, 1);
    return ctx;
}

static int ctx_setup(eddy_tls_ctx *ctx)
{
    SSL_CTX *c = ctx->ssl;
    BIO_METHOD *m = ctx->bio;

    if (!BIO_meth_set_write_ex(m, bio_write) ||
        !BIO_meth_set_read_ex(m, bio_read) || !BIO_meth_set_ctrl(m, bio_ctrl))
        return -ENOMEM;
    SSL_CTX_set_app_data(c, ctx);
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* One recv for what has come, not two a record (header, then body),
     * as nginx; what it reads ahead is what pending() reports. */
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    if (ctx->role == EDDY_TLS_SERVER) {
        /* Resumption through tickets only: no session cache that grows
         * with the clients (nginx's "ssl_session_cache none"). */
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_session_id_context(c, (const unsigned char *)"eddy", 4);
        SSL_CTX_set_tlsext_servername_callback(c, on_servername);
        SSL_CTX_set_tlsext_servername_arg(c, ctx);
        SSL_CTX_set_alpn_select_cb(c, on_alpn, ctx);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
                                              SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, on_new_session);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        ctx->default_store = 1;
    }
    return 0;
}

int eddy_tls_ctx_new(int role, eddy_tls_ctx **out)
{
    eddy_tls_ctx *ctx;
    int err;

    if (role != EDDY_TLS_CLIENT && role != EDDY_TLS_SERVER)
        return -EINVAL;
    if ((ctx = calloc(1, sizeof *ctx)) == NULL)
        return -ENOMEM;
    ctx->role = role;
    atomic_init(&ctx->refs, 1);
    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        free(ctx);
        return -ENOMEM;
    }
    ctx->ssl = SSL_CTX_new(role == EDDY_TLS_SERVER ? TLS_server_method()
                                                   : TLS_client_method());
    ctx->bio =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "eddy stream");
    err = ctx->ssl && ctx->bio ? ctx_setup(ctx) : -ENOMEM;
    if (err != 0) {
        ERR_clear_error();
        ctx_destroy(ctx);
        return err;
    }
    *out = ctx;
    return 0;
}

const char *eddy_tls_ctx_error(const eddy_tls_ctx *ctx)
{
    return ctx->err;
}

const char *eddy_tls_library(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

/* Opens a PEM file: -errno when it cannot be read. */
static int open_pem(eddy_tls_ctx *ctx, const char *file, BIO **out)
{
    FILE *f = fopen(file, "r");
    int err = errno;

    if (f == NULL) {
        snprintf(ctx->err, sizeof ctx->err, "%s: %s", file, strerror(err));
        return -err;
    }
    if ((*out = BIO_new_fp(f, BIO_CLOSE)) == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    return 0;
}

/* Never ask for a passphrase: a key that needs one fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

static int read_chain(eddy_tls_ctx *ctx, const char *file, X509 **leaf,
                      STACK_OF(X509) * *chain)
{
    BIO *b;
    X509 *x;
    int err = open_pem(ctx, file, &b);

    if (err != 0)
        return err;
    if ((*leaf = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL)) == NULL)
        err = EDDY_TLS_BAD_PEM;
    else if ((*chain = sk_X509_new_null()) == NULL)
        err = -ENOMEM;
    while (err == 0 && (x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)))
        if (!sk_X509_push(*chain, x)) {
            X509_free(x);
            err = -ENOMEM;
        }
    BIO_free(b);
    if (err == EDDY_TLS_BAD_PEM)
        ctx_err(ctx, file, "no PEM certificate in it");
    ERR_clear_error(); /* the chain's end is an error too: no start line */
    return err;
}

static int read_key(eddy_tls_ctx *ctx, const char *file, EVP_PKEY **key)
{
    BIO *b;
    int err = open_pem(ctx, file, &b);

    if (err != 0)
        return err;
    *key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (*key != NULL)
        return 0;
    ctx_err(ctx, file, "no unencrypted PEM private key in it");
    return EDDY_TLS_BAD_PEM;
}

int eddy_tls_ctx_load_cert_chain(eddy_tls_ctx *ctx, const char *cert_file,
                                 const char *key_file)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL;
    int err;

    ctx->err[0] = '\0';
    if (cert_file == NULL)
        return -EINVAL;
    err = read_chain(ctx, cert_file, &leaf, &chain);
    if (err == 0)
        err = read_key(ctx, key_file ? key_file : cert_file, &key);
    if (err == 0 && !X509_check_private_key(leaf, key)) {
        ctx_err(ctx, key_file ? key_file : cert_file,
                "the key does not match the certificate");
        err = EDDY_TLS_KEY_MISMATCH;
    }
    if (err == 0 && !SSL_CTX_use_cert_and_key(ctx->ssl, leaf, key, chain, 1)) {
        ctx_err(ctx, cert_file, NULL);
        err = EDDY_TLS_BAD_PEM;
    }
    X509_free(leaf);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    return err;
}

static int add_ca(eddy_tls_ctx *ctx, X509_STORE *st, const char *ca_file,
                  const char *ca_dir)
{
    BIO *b;
    DIR *d;
    int err;

    if (ca_file != NULL) {
        if ((err = open_pem(ctx, ca_file, &b)) != 0)
            return err;
        BIO_free(b);
        if (!X509_STORE_load_file(st, ca_file)) {
            ctx_err(ctx, ca_file, "no PEM certificate in it");
            return EDDY_TLS_BAD_PEM;
        }
    }
    if (ca_dir != NULL) {
        if ((d = opendir(ca_dir)) == NULL) {
            err = errno;
            snprintf(ctx->err, sizeof ctx->err, "%s: %s", ca_dir,
                     strerror(err));
            return -err;
        }
        closedir(d);
        if (!X509_STORE_load_path(st, ca_dir)) {
            ctx_err(ctx, ca_dir, NULL);
            return -ENOMEM;
        }
    }
    return 0;
}

int eddy_tls_ctx_load_verify(eddy_tls_ctx *ctx, const char *ca_file,
                             const char *ca_dir)
{
    X509_STORE *st =
        ctx->custom_store ? SSL_CTX_get_cert_store(ctx->ssl) : X509_STORE_new();
    int err;

    ctx->err[0] = '\0';
    if (ca_file == NULL && ca_dir == NULL)
        err = -EINVAL;
    else
        err = st != NULL ? add_ca(ctx, st, ca_file, ca_dir) : -ENOMEM;
    if (err != 0) {
        if (st != NULL && !ctx->custom_store)
            X509_STORE_free(st);
        return err;
    }
    if (!ctx->custom_store)
        SSL_CTX_set_cert_store(ctx->ssl, st);
    ctx->custom_store = 1;
    ctx->default_store = 0;
    if (ctx->role == EDDY_TLS_SERVER && ca_file != NULL) {
        STACK_OF(X509_NAME) *names = SSL_CTX_get_client_CA_list(ctx->ssl);

        if (names == NULL && (names = sk_X509_NAME_new_null()) != NULL)
            SSL_CTX_set_client_CA_list(ctx->ssl, names);
        if (names != NULL)
            SSL_add_file_cert_subjects_to_stack(names, ca_file);
        ERR_clear_error();
    }
    return 0;
}

int eddy_tls_ctx_set_verify(eddy_tls_ctx *ctx, int mode)
{
    int v = SSL_VERIFY_NONE;

    if (mode == EDDY_TLS_VERIFY_REQUIRED)
        v = SSL_VERIFY_PEER |
            (ctx->role == EDDY_TLS_SERVER ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                          : 0);
    else if (mode == EDDY_TLS_VERIFY_OPTIONAL && ctx->role == EDDY_TLS_SERVER)
        v = SSL_VERIFY_PEER;
    else if (mode != EDDY_TLS_VERIFY_NONE)
        return -EINVAL;
    SSL_CTX_set_verify(ctx->ssl, v, NULL);
    return 0;
}

int eddy_tls_ctx_set_alpn(eddy_tls_ctx *ctx, const char *const *protocols,
                          size_t n)
{
    size_t len = 0, at = 0;
    unsigned char *w;

    for (size_t i = 0; i < n; i++) {
        size_t k = protocols[i] ? strlen(protocols[i]) : 0;

        if (k == 0 || k > 255)
            return -EINVAL;
        len += 1 + k;
    }
    if (n > 0 && (w = malloc(len)) == NULL)
        return -ENOMEM;
    if (n == 0)
        w = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(protocols[i]);

        w[at++] = (unsigned char)k;
        memcpy(w + at, protocols[i], k);
        at += k;
    }
    /* A client offers them; set_alpn_protos returns 0 on success. */
    if (ctx->role == EDDY_TLS_CLIENT &&
        SSL_CTX_set_alpn_protos(ctx->ssl, w, (unsigned)len) != 0) {
        free(w);
        return -ENOMEM;
    }
    free(ctx->alpn);
    ctx->alpn = w;
    ctx->alpn_len = len;
    return 0;
}

static int known_version(int v)
{
    return v == 0 || (v >= TLS1_VERSION && v <= TLS1_3_VERSION);
}

int eddy_tls_ctx_set_versions(eddy_tls_ctx *ctx, int min, int max)
{
    if (!known_version(min) || !known_version(max) || (max && min > max))
        return -EINVAL;
    SSL_CTX_set_min_proto_version(ctx->ssl, min ? min : TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx->ssl, max);
    return 0;
}

int eddy_tls_ctx_set_ciphers(eddy_tls_ctx *ctx, const char *tls12,
                             const char *tls13)
{
    int ok = (tls12 == NULL || SSL_CTX_set_cipher_list(ctx->ssl, tls12)) &&
             (tls13 == NULL || SSL_CTX_set_ciphersuites(ctx->ssl, tls13));

    if (!ok)
        ctx_err(ctx, NULL, NULL);
    return ok ? 0 : -EINVAL;
}

int eddy_tls_ctx_set_sni_callback(eddy_tls_ctx *ctx, eddy_tls_sni_cb cb,
                                  void *arg)
{
    if (ctx->role != EDDY_TLS_SERVER)
        return -EINVAL;
    ctx->sni_cb = cb;
    ctx->sni_arg = arg;
    return 0;
}

/* --- a connection ------------------------------------------------------- */

/* The system's CAs, loaded by the first client that needs them. */
static void default_store(eddy_tls_ctx *ctx)
{
    if (!atomic_load(&ctx->default_store))
        return;
    pthread_mutex_lock(&ctx->lock);
    if (atomic_load(&ctx->default_store))
        SSL_CTX_set_default_verify_paths(ctx->ssl);
    atomic_store(&ctx->default_store, 0);
    pthread_mutex_unlock(&ctx->lock);
    ERR_clear_error();
}

static int is_ip(const char *name)
{
    unsigned char a[16];

    return inet_pton(AF_INET, name, a) == 1 ||
           inet_pton(AF_INET6, name, a) == 1;
}

/* A client's name: verified (host or IP address), sent as SNI (a host). */
static int client_name(ossl *o, const char *name)
{
    int verify = SSL_get_verify_mode(o->ssl) & SSL_VERIFY_PEER;

    if (name == NULL || *name == '\0')
        return verify ? -EINVAL : 0;
    if ((o->name = strdup(name)) == NULL)
        return -ENOMEM;
    if (is_ip(name)) {
        if (verify &&
            !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(o->ssl), name))
            return -ENOMEM;
        return 0;
    }
    if (!SSL_set_tlsext_host_name(o->ssl, name) ||
        (verify && !SSL_set1_host(o->ssl, name)))
        return -EINVAL; /* a name OpenSSL refuses: too long, say */
    SSL_set_hostflags(o->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return 0;
}

int eddy__tls_new(eddy_tls_ctx *ctx, eddy_loop *loop, int fd,
                  const char *server_name, eddy__tls **out)
{
    ossl *o;
    BIO *bio;
    int err = 0;

    if (ctx == NULL)
        return -EINVAL;
    if ((o = calloc(1, sizeof *o)) == NULL)
        return -ENOMEM;
    eddy__tls_init(&o->base, &ossl_ops, loop, fd);
    atomic_fetch_add(&ctx->refs, 1);
    o->ctx = ctx;
    if (ctx->role == EDDY_TLS_CLIENT)
        default_store(ctx);
    if ((o->ssl = SSL_new(ctx->ssl)) == NULL ||
        (bio = BIO_new(ctx->bio)) == NULL)
        err = -ENOMEM;
    if (err == 0) {
        BIO_set_data(bio, &o->base);
        BIO_set_init(bio, 1);
        SSL_set_bio(o->ssl, bio, bio);
        SSL_set_app_data(o->ssl, o);
        if (ctx->role == EDDY_TLS_SERVER) {
            SSL_set_accept_state(o->ssl);
        } else {
            SSL_set_connect_state(o->ssl);
            err = client_name(o, server_name);
            if (err == 0 && o->name != NULL)
                resume(o);
        }
    }
    ERR_clear_error();
    if (err != 0) {
        o_free(&o->base);
        return err;
    }
    *out = &o->base;
    return 0;
}

/* --- what a stream tells about its TLS ---------------------------------- */

/* The stream's connection once its handshake is done, else NULL. */
static ossl *up(const eddy_stream *s)
{
    eddy__tls *t = eddy__stream_tls(s);

    return t != NULL && (t->state & EDDY__TLS_UP) ? (ossl *)t : NULL;
}

const char *eddy_stream_tls_version(const eddy_stream *s)
{
    ossl *o = up(s);

    return o ? SSL_get_version(o->ssl) : NULL;
}

const char *eddy_stream_tls_cipher(const eddy_stream *s)
{
    ossl *o = up(s);

    return o ? SSL_CIPHER_get_name(SSL_get_current_cipher(o->ssl)) : NULL;
}

const char *eddy_stream_tls_alpn(const eddy_stream *s)
{
    ossl *o = up(s);

    return o ? o->alpn : NULL;
}

const char *eddy_stream_tls_server_name(const eddy_stream *s)
{
    ossl *o = (ossl *)eddy__stream_tls(s);

    if (o == NULL)
        return NULL;
    if (o->ctx->role == EDDY_TLS_CLIENT)
        return o->name;
    return SSL_get_servername(o->ssl, TLSEXT_NAMETYPE_host_name);
}

int eddy_stream_tls_resumed(const eddy_stream *s)
{
    ossl *o = up(s);

    return o ? SSL_session_reused(o->ssl) : 0;
}

int eddy_stream_tls_peer_subject(const eddy_stream *s, char *buf, size_t len)
{
    ossl *o = up(s);
    X509 *peer;
    BIO *b;
    int n;

    if (len == 0)
        return -EINVAL;
    if (o == NULL)
        return -ENOTCONN;
    if ((peer = SSL_get0_peer_certificate(o->ssl)) == NULL)
        return -ENOENT;
    if ((b = BIO_new(BIO_s_mem())) == NULL)
        return -ENOMEM;
    X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
    n = BIO_read(b, buf, (int)(len - 1 < INT32_MAX ? len - 1 : INT32_MAX));
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
    return 0;
}

const char *eddy_stream_tls_verify_error(const eddy_stream *s)
{
    ossl *o = (ossl *)eddy__stream_tls(s);
    long r;

    if (o == NULL || (r = SSL_get_verify_result(o->ssl)) == X509_V_OK)
        return NULL;
    return X509_verify_cert_error_string(r);
}

#endif /* EDDY_TLS_OPENSSL */
