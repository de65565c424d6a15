/*
 * websocket/sha1.c - SHA-1 (FIPS 180-4) and base64 (RFC 4648), for the
 * opening handshake's Sec-WebSocket-Accept and Sec-WebSocket-Key.
 *
 * Here so that WebSocket needs no TLS library: a build without OpenSSL
 * has it too.  SHA-1 is broken for signatures, but the handshake only
 * uses it to show that the server read the key, which it still does.
 *
 * This file must never allocate or read past the lengths it is given.
 */
#include "ws_internal.h"

#include <errno.h>
#include <string.h>

static uint32_t rol(uint32_t x, unsigned n)
{
    return x << n | x >> (32 - n);
}

/* One 64-byte block into the state (FIPS 180-4 6.1.2). */
static void sha1_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    for (int t = 0; t < 80; t++) {
        uint32_t f, k, tmp;

        if (t < 20)
            f = (b & c) | (~b & d), k = 0x5a827999;
        else if (t < 40)
            f = b ^ c ^ d, k = 0x6ed9eba1;
        else if (t < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
        else
            f = b ^ c ^ d, k = 0xca62c1d6;
        tmp = rol(a, 5) + f + e + k + w[t];
        e = d, d = c, c = rol(b, 30), b = a, a = tmp;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

void eddy__sha1_init(eddy__sha1 *c)
{
    static const uint32_t h0[5] = {0x67452301, 0xefcdab89, 0x98badcfe,
                                   0x10325476, 0xc3d2e1f0};

    memcpy(c->h, h0, sizeof h0);
    c->len = 0;
}

void eddy__sha1_update(eddy__sha1 *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t have = (size_t)(c->len & 63);

    c->len += n;
    if (have > 0) {
        size_t take = 64 - have < n ? 64 - have : n;

        memcpy(c->buf + have, p, take);
        p += take, n -= take;
        if (have + take < 64)
            return;
        sha1_block(c->h, c->buf);
    }
    for (; n >= 64; p += 64, n -= 64)
        sha1_block(c->h, p);
    if (n > 0)
        memcpy(c->buf, p, n);
}

void eddy__sha1_final(eddy__sha1 *c, uint8_t *out)
{
    uint64_t bits = c->len * 8;
    size_t have = (size_t)(c->len & 63);
    uint8_t len_be[8];

    /* 0x80, zeros up to 56 mod 64, the length in bits (5.1.1). */
    c->buf[have++] = 0x80;
    if (have > 56) {
        memset(c->buf + have, 0, 64 - have);
        sha1_block(c->h, c->buf);
        have = 0;
    }
    memset(c->buf + have, 0, 56 - have);
    for (int i = 0; i < 8; i++)
        len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
    memcpy(c->buf + 56, len_be, 8);
    sha1_block(c->h, c->buf);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t eddy__base64_encode(const uint8_t *in, size_t n, char *out)
{
    char *o = out;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    return (size_t)(o - out);
}

/* A base64 character's value, or -1. */
static int b64_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

long eddy__base64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0, pad = 0;

    if (n % 4 != 0)
        return -EINVAL;
    if (n > 0 && in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;
    if (n / 4 * 3 - pad > cap)
        return -ENOSPC;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        size_t chars = i + 4 == n ? 4 - pad : 4;

        for (size_t k = 0; k < 4; k++)
            if ((v[k] = k < chars ? b64_value(in[i + k]) : 0) < 0)
                return -EINVAL; /* '=' inside counts here too */
        out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        if (chars > 2)
            out[o++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
        if (chars > 3)
            out[o++] = (uint8_t)(v[2] << 6 | v[3]);
        /* Bits the padding drops must be 0 (RFC 4648 3.5). */
        if ((chars == 2 && (v[1] & 15)) || (chars == 3 && (v[2] & 3)))
            return -EINVAL;
    }
    return (long)o;
}
