/*
 * websocket/handshake.c - the opening handshake's checks and values
 * (RFC 6455 4): Sec-WebSocket-Key and -Accept, the Connection and
 * Upgrade tokens, the version, and the choice of a subprotocol.
 *
 * The connection code reads the request or response and calls these on
 * the header values; what to answer (400, 426, 101) stays with it.
 * Header lists follow RFC 9110 5.6.1: elements separated by commas with
 * optional whitespace around them, empty elements ignored, a header that
 * appears on several lines being one list.
 *
 * This file must never allocate or read past the lengths it is given.
 */
#include "ws_internal.h"

#include <errno.h>
#include <string.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int eddy__ws_key_ok(const char *key, size_t len)
{
    uint8_t raw[18];

    return len == EDDY_WS_KEY_LEN &&
           eddy__base64_decode(key, len, raw, sizeof raw) == 16;
}

void eddy__ws_accept(const char *key, size_t len, char *out)
{
    eddy__sha1 c;
    uint8_t digest[20];

    eddy__sha1_init(&c);
    eddy__sha1_update(&c, key, len);
    eddy__sha1_update(&c, ws_guid, sizeof ws_guid - 1);
    eddy__sha1_final(&c, digest);
    out[eddy__base64_encode(digest, sizeof digest, out)] = '\0';
}

int eddy__ws_client_key(char *out)
{
    uint8_t raw[16];
    int ret;

    if ((ret = eddy__ws_random(raw, sizeof raw)) < 0)
        return ret;
    out[eddy__base64_encode(raw, sizeof raw, out)] = '\0';
    return 0;
}

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* tchar (RFC 9110 5.6.2). */
static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int is_token(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_tchar(p[i]))
            return 0;
    return n > 0;
}

int eddy__ws_list_next(const char **pos, const char *end, const char **item,
                       size_t *len)
{
    const char *p = *pos;

    for (;;) {
        const char *start, *stop;

        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        if (p == end) {
            *pos = p;
            return 0;
        }
        start = p;
        while (p < end && *p != ',')
            p++;
        stop = p;
        while (stop > start && is_ows(stop[-1]))
            stop--;
        if (stop > start) {
            *item = start;
            *len = (size_t)(stop - start);
            *pos = p;
            return 1;
        }
    }
}

static int same(const char *a, const char *b, size_t n, int nocase)
{
    if (!nocase)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];

        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

int eddy__ws_list_has(const char *value, size_t len, const char *token,
                      int nocase)
{
    const char *pos = value, *item;
    size_t tlen = strlen(token), n;
    int found = 0;

    while (eddy__ws_list_next(&pos, value + len, &item, &n)) {
        if (!is_token(item, n))
            return -EINVAL;
        if (n == tlen && same(item, token, n, nocase))
            found = 1;
    }
    return found;
}

int eddy__ws_version_ok(const char *value, size_t len)
{
    while (len > 0 && is_ows(value[0]))
        value++, len--;
    while (len > 0 && is_ows(value[len - 1]))
        len--;
    return len == 2 && value[0] == '1' && value[1] == '3';
}

int eddy__ws_select_protocol(const eddy_str *lines, size_t n,
                             const char *const *ours)
{
    /* Every line must be a list of tokens, whatever we look for. */
    for (size_t l = 0; l < n; l++)
        if (eddy__ws_list_has(lines[l].p, lines[l].len, "", 0) < 0)
            return -EINVAL;
    for (int i = 0; ours != NULL && ours[i] != NULL; i++)
        for (size_t l = 0; l < n; l++)
            if (eddy__ws_list_has(lines[l].p, lines[l].len, ours[i], 0) == 1)
                return i;
    return -ENOENT;
}
