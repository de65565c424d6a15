/*
 * websocket/handshake.c - the opening handshake's checks and values
 * (RFC 6455 4): Sec-WebSocket-Key and -Accept, the Connection and
 * Upgrade tokens, the version, and the choice of a subprotocol.
 *
 * eddy__ws_check_request() and eddy__ws_check_response() read a whole
 * request or response head's fields with them and say what to answer or
 * why to fail; the server's and the client's glue (server.c, client.c)
 * send what they say.  Header lists follow RFC 9110 5.6.1: elements
 * separated by commas with optional whitespace around them, empty
 * elements ignored, a header that appears on several lines being one
 * list.
 *
 * This file must never allocate, do I/O, or read past the lengths it is
 * given.
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

/* --- whole heads --------------------------------------------------------- */

/* The fields of a head the handshake reads. */
typedef struct hs_fields {
    eddy_str key, version, origin, host, accept;
    int keys, versions, origins, accepts;
    int upgrade;    /* Upgrade: a request's lists hold "websocket"; a
                       response's, exactly that one element */
    int upgrades;   /* elements in Upgrade lines */
    int connection; /* "upgrade" in Connection */
    eddy_str proto[EDDY_WS_MAX_LINES], ext[EDDY_WS_MAX_LINES];
    size_t nproto, next;
    int too_many; /* more lines than kept: 1 -Protocol's, 2 -Extensions' */
} hs_fields;

static int named(const eddy_http_header *h, const char *lower)
{
    size_t n = strlen(lower);

    return h->name_len == n && same(h->name, lower, n, 1);
}

/* Counts the elements of list v, and those equal to token (any case). */
static void scan_list(const char *v, size_t len, const char *token,
                      int *count, int *found)
{
    const char *pos = v, *item;
    size_t n, tlen = strlen(token);

    while (eddy__ws_list_next(&pos, v + len, &item, &n)) {
        ++*count;
        if (n == tlen && same(item, token, n, 1))
            ++*found;
    }
}

static void keep_line(eddy_str *lines, size_t *n, const eddy_http_header *h,
                      int *too_many, int which)
{
    if (*n == EDDY_WS_MAX_LINES) {
        *too_many |= which;
        return;
    }
    lines[*n].p = h->value;
    lines[(*n)++].len = h->value_len;
}

static void take_one(eddy_str *v, int *count, const eddy_http_header *h)
{
    if ((*count)++ == 0) {
        v->p = h->value;
        v->len = h->value_len;
    }
}

static void gather(const eddy_http_header *h, size_t n, hs_fields *f)
{
    int dummy = 0;

    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n; i++) {
        if (named(&h[i], "upgrade"))
            scan_list(h[i].value, h[i].value_len, "websocket", &f->upgrades,
                      &f->upgrade);
        else if (named(&h[i], "connection"))
            scan_list(h[i].value, h[i].value_len, "upgrade", &dummy,
                      &f->connection);
        else if (named(&h[i], "sec-websocket-key"))
            take_one(&f->key, &f->keys, &h[i]);
        else if (named(&h[i], "sec-websocket-version"))
            take_one(&f->version, &f->versions, &h[i]);
        else if (named(&h[i], "sec-websocket-accept"))
            take_one(&f->accept, &f->accepts, &h[i]);
        else if (named(&h[i], "origin"))
            take_one(&f->origin, &f->origins, &h[i]);
        else if (named(&h[i], "host") && f->host.p == NULL)
            f->host = (eddy_str){h[i].value, h[i].value_len};
        else if (named(&h[i], "sec-websocket-protocol"))
            keep_line(f->proto, &f->nproto, &h[i], &f->too_many, 1);
        else if (named(&h[i], "sec-websocket-extensions"))
            keep_line(f->ext, &f->next, &h[i], &f->too_many, 2);
    }
}

/* Tornado's rule: an Origin whose host[:port], after the scheme, is the
 * Host header's (any case).  "null" and other opaque origins are not. */
static int same_host(eddy_str origin, eddy_str host)
{
    const char *p = origin.p, *end = origin.p + origin.len;
    const char *sep = NULL;

    for (const char *q = p; q + 3 <= end; q++)
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            sep = q + 3;
            break;
        }
    if (sep == NULL || host.p == NULL)
        return 0;
    return (size_t)(end - sep) == host.len && host.len > 0 &&
           same(sep, host.p, host.len, 1);
}

static int refuse(eddy__ws_verdict *v, int status, const char *why)
{
    v->status = status;
    v->why = why;
    return status;
}

/* The checks of the request line and the fields that make it a
 * WebSocket handshake; 0 when they pass. */
static int check_upgrade(eddy_str method, int version, const hs_fields *f,
                         eddy__ws_verdict *v)
{
    if (method.len != 3 || memcmp(method.p, "GET", 3) != 0)
        return refuse(v, 400, "the method is not GET");
    if (version != 11)
        return refuse(v, 400, "not HTTP/1.1");
    if (!f->upgrade)
        return refuse(v, 400, "no \"websocket\" in Upgrade");
    if (!f->connection)
        return refuse(v, 400, "no \"upgrade\" in Connection");
    if (f->versions != 1 || !eddy__ws_version_ok(f->version.p, f->version.len))
        return refuse(v, 426, "Sec-WebSocket-Version is not 13");
    if (f->keys != 1 || !eddy__ws_key_ok(f->key.p, f->key.len))
        return refuse(v, 400, "Sec-WebSocket-Key is missing, repeated or "
                              "not base64 of 16 bytes");
    return 0;
}

static int origin_ok(const hs_fields *f, const eddy_ws_server_options *o,
                     eddy_http_request *req)
{
    if (o->check_origin != NULL)
        return o->check_origin(req, f->origins ? f->origin.p : NULL,
                               f->origins ? f->origin.len : 0,
                               o->check_origin_arg) != 0;
    return f->origins == 0 || same_host(f->origin, f->host);
}

void eddy__ws_check_request(eddy_str method, int version,
                            const eddy_http_header *h, size_t n,
                            const eddy_ws_server_options *o,
                            eddy_http_request *req, eddy__ws_verdict *v)
{
    hs_fields f;
    int ret;

    memset(v, 0, sizeof *v);
    v->protocol = -1;
    gather(h, n, &f);
    if (check_upgrade(method, version, &f, v) != 0)
        return;
    if (f.origins > 1) {
        refuse(v, 400, "Origin is repeated");
        return;
    }
    if (!origin_ok(&f, o, req)) {
        refuse(v, 403, "the Origin is not allowed");
        return;
    }
    if (f.too_many) {
        refuse(v, 400, "too many Sec-WebSocket-Protocol or -Extensions lines");
        return;
    }
    ret = eddy__ws_select_protocol(f.proto, f.nproto, o->subprotocols);
    if (ret == -EINVAL) {
        refuse(v, 400, "Sec-WebSocket-Protocol is not a list of tokens");
        return;
    }
    v->protocol = ret >= 0 ? ret : -1;
    ret = eddy__ws_pmd_accept(&o->ws.deflate, f.ext, f.next, &v->agreed,
                              v->ext, sizeof v->ext);
    if (ret == -EINVAL) {
        refuse(v, 400, "Sec-WebSocket-Extensions does not parse");
        return;
    }
    v->deflate = ret == 1;
    v->status = 101;
    eddy__ws_accept(f.key.p, f.key.len, v->accept);
}

/* The one subprotocol a 101 names, checked against those offered: 0 with
 * *protocol, or EDDY_WS_ESUBPROTOCOL. */
static int chosen_protocol(const hs_fields *f, const char *const *offered,
                           int *protocol)
{
    const char *pos, *item;
    size_t len;
    int found = 0;

    *protocol = -1;
    if (f->too_many & 1)
        return EDDY_WS_ESUBPROTOCOL;
    for (size_t l = 0; l < f->nproto; l++) {
        pos = f->proto[l].p;
        while (eddy__ws_list_next(&pos, f->proto[l].p + f->proto[l].len,
                                  &item, &len)) {
            if (found++ > 0)
                return EDDY_WS_ESUBPROTOCOL;
            for (int i = 0; offered != NULL && offered[i] != NULL; i++)
                if (strlen(offered[i]) == len &&
                    memcmp(offered[i], item, len) == 0)
                    *protocol = i;
            if (*protocol < 0)
                return EDDY_WS_ESUBPROTOCOL;
        }
    }
    return 0;
}

int eddy__ws_check_response(int status, const eddy_http_header *h, size_t n,
                            const char *key, const char *const *subprotocols,
                            const eddy_ws_deflate_options *deflate,
                            int *protocol, int *pmd, eddy__ws_pmd *agreed)
{
    char want[EDDY_WS_ACCEPT_LEN + 1];
    hs_fields f;
    int ret;

    *protocol = -1;
    *pmd = 0;
    if (status != 101)
        return EDDY_WS_ESTATUS;
    gather(h, n, &f);
    /* RFC 6455 4.1: Upgrade is "websocket", one value; Connection has
     * "upgrade". */
    if (f.upgrade != 1 || f.upgrades != 1 || !f.connection)
        return EDDY_WS_EUPGRADE;
    eddy__ws_accept(key, strlen(key), want);
    if (f.accepts != 1 || f.accept.len != EDDY_WS_ACCEPT_LEN ||
        memcmp(f.accept.p, want, EDDY_WS_ACCEPT_LEN) != 0)
        return EDDY_WS_EACCEPT;
    if ((ret = chosen_protocol(&f, subprotocols, protocol)) != 0)
        return ret;
    if (f.too_many & 2)
        return EDDY_WS_EEXTENSION;
    ret = eddy__ws_pmd_check(deflate, f.ext, f.next, agreed);
    if (ret < 0)
        return EDDY_WS_EEXTENSION;
    *pmd = ret == 1;
    return 0;
}

/* --- what client.c and server.c share ------------------------------------ */

int eddy__ws_ieq_prefix(const char *p, size_t n, const char *lower)
{
    size_t k = strlen(lower);

    return n >= k && same(p, lower, k, 1);
}

int eddy__ws_extra_ok(const eddy_http_header *h, size_t n, size_t max)
{
    if (n > max || (h == NULL && n > 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (named(&h[i], "upgrade") || named(&h[i], "connection") ||
            eddy__ws_ieq_prefix(h[i].name, h[i].name_len, "sec-websocket-"))
            return 0;
    return 1;
}
