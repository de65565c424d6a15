/*
 * websocket/random.c - unpredictable bytes for a client's masking keys
 * and Sec-WebSocket-Key, from the kernel (getentropy: Linux, the BSDs,
 * macOS).
 *
 * RFC 6455 10.3 wants masking keys an attacker cannot predict, so that
 * script-controlled payload cannot be steered into bytes that confuse a
 * proxy on the way.  A fast PRNG seeded once gives that up as soon as
 * enough of its output is seen (the keys travel in clear), so the keys
 * come from the kernel's generator, a pool of 16 at a time.
 *
 * This file must never block, fall back to a weak source, or keep global
 * state.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getentropy in glibc's and musl's unistd.h */
#endif
#include "ws_internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/random.h>
#endif

int eddy__ws_random(void *buf, size_t n)
{
    uint8_t *p = buf;

    /* getentropy gives at most 256 bytes a call. */
    while (n > 0) {
        size_t k = n < 256 ? n : 256;

        if (getentropy(p, k) != 0)
            return errno != 0 ? -errno : -EIO;
        p += k;
        n -= k;
    }
    return 0;
}

int eddy__ws_mask_next(eddy__ws_masks *m, uint8_t *mask)
{
    int ret;

    if (m->left < 4) {
        if ((ret = eddy__ws_random(m->pool, sizeof m->pool)) < 0)
            return ret;
        m->left = sizeof m->pool;
    }
    memcpy(mask, m->pool + sizeof m->pool - m->left, 4);
    m->left = (uint8_t)(m->left - 4);
    return 0;
}
