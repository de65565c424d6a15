/*
 * iostream/tls_none.c - tls.h without a TLS library (make TLS=none):
 * every function exists and says -ENOTSUP, so that programs and the
 * layers above build the same either way.
 *
 * It must never pretend: nothing here succeeds.
 */
#ifndef EDDY_TLS_OPENSSL
#include "transport.h"

#include <errno.h>

int eddy__tls_new(eddy_tls_ctx *ctx, eddy_loop *loop, int fd,
                  const char *server_name, eddy__tls **out)
{
    (void)ctx, (void)loop, (void)fd, (void)server_name, (void)out;
    return -ENOTSUP;
}

int eddy_tls_ctx_new(int role, eddy_tls_ctx **out)
{
    (void)role, (void)out;
    return -ENOTSUP;
}

void eddy_tls_ctx_free(eddy_tls_ctx *ctx)
{
    (void)ctx;
}

eddy_tls_ctx *eddy_tls_ctx_ref(eddy_tls_ctx *ctx)
{
    return ctx; /* NULL: none can be made */
}

int eddy_tls_ctx_load_cert_chain(eddy_tls_ctx *ctx, const char *cert_file,
                                 const char *key_file)
{
    (void)ctx, (void)cert_file, (void)key_file;
    return -ENOTSUP;
}

int eddy_tls_ctx_load_verify(eddy_tls_ctx *ctx, const char *ca_file,
                             const char *ca_dir)
{
    (void)ctx, (void)ca_file, (void)ca_dir;
    return -ENOTSUP;
}

int eddy_tls_ctx_set_verify(eddy_tls_ctx *ctx, int mode)
{
    (void)ctx, (void)mode;
    return -ENOTSUP;
}

int eddy_tls_ctx_set_alpn(eddy_tls_ctx *ctx, const char *const *protocols,
                          size_t n)
{
    (void)ctx, (void)protocols, (void)n;
    return -ENOTSUP;
}

int eddy_tls_ctx_set_versions(eddy_tls_ctx *ctx, int min, int max)
{
    (void)ctx, (void)min, (void)max;
    return -ENOTSUP;
}

int eddy_tls_ctx_set_ciphers(eddy_tls_ctx *ctx, const char *tls12,
                             const char *tls13)
{
    (void)ctx, (void)tls12, (void)tls13;
    return -ENOTSUP;
}

int eddy_tls_ctx_set_sni_callback(eddy_tls_ctx *ctx, eddy_tls_sni_cb cb,
                                  void *arg)
{
    (void)ctx, (void)cb, (void)arg;
    return -ENOTSUP;
}

const char *eddy_tls_ctx_error(const eddy_tls_ctx *ctx)
{
    (void)ctx;
    return "eddy was built without TLS";
}

const char *eddy_tls_library(void)
{
    return NULL;
}

const char *eddy_stream_tls_version(const eddy_stream *s)
{
    (void)s;
    return NULL;
}

const char *eddy_stream_tls_cipher(const eddy_stream *s)
{
    (void)s;
    return NULL;
}

const char *eddy_stream_tls_alpn(const eddy_stream *s)
{
    (void)s;
    return NULL;
}

const char *eddy_stream_tls_server_name(const eddy_stream *s)
{
    (void)s;
    return NULL;
}

int eddy_stream_tls_resumed(const eddy_stream *s)
{
    (void)s;
    return 0;
}

int eddy_stream_tls_peer_subject(const eddy_stream *s, char *buf, size_t len)
{
    (void)s, (void)buf, (void)len;
    return -ENOTSUP;
}

const char *eddy_stream_tls_verify_error(const eddy_stream *s)
{
    (void)s;
    return NULL;
}

#endif /* !EDDY_TLS_OPENSSL */
