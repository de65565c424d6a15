/*
 * websocket/extension.c - permessage-deflate's negotiation (RFC 7692 5
 * and 7.1) in Sec-WebSocket-Extensions: the server takes the first
 * acceptable offer and answers it, the client builds its offer and checks
 * the answer.
 *
 * The header's grammar (RFC 6455 9.1) is a comma list of extensions,
 * each a token and ';'-separated parameters, a parameter a token with an
 * optional value, a token or a quoted-string; optional whitespace may
 * surround every separator.  A line that does not parse is refused whole
 * (a server answers 400, RFC 6455 4.2.1); an offer that parses but that
 * RFC 7692 does not allow (an unknown or repeated parameter, a window
 * outside 8 to 15, a value where none belongs) is only declined, and the
 * next offer is tried.  Names compare without regard to case.
 *
 * The server answers with the window it compresses with, even when not
 * asked (7.1.2.1 allows it), and echoes client_no_context_takeover when
 * the client offered it, so that its inflater may drop its state between
 * messages.
 *
 * This file must never allocate or read past the lengths it is given.
 */
#include "ws_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum { P_SNCT = 1, P_CNCT = 2, P_SMWB = 4, P_CMWB = 8 };

/* One extension's parameters, when it is permessage-deflate. */
typedef struct pmd_params {
    uint8_t seen; /* P_* present */
    uint8_t bad;  /* RFC 7692 does not allow it: decline the offer */
    uint8_t smwb; /* server_max_window_bits' value: 8..15 */
    uint8_t cmwb; /* client_max_window_bits' value: 8..15, 0 for none */
} pmd_params;

typedef struct cursor {
    const char *p, *end;
} cursor;

static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static void skip_ows(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int take_token(cursor *c, eddy_str *tok)
{
    tok->p = c->p;
    while (c->p < c->end && is_tchar(*c->p))
        c->p++;
    tok->len = (size_t)(c->p - tok->p);
    return tok->len > 0;
}

/* A parameter's value, a token or a quoted-string, unescaped into val
 * (cut at cap; *len is the whole length).  0 or -EINVAL. */
static int take_value(cursor *c, char *val, size_t cap, size_t *len)
{
    eddy_str tok;

    *len = 0;
    if (c->p < c->end && *c->p == '"') {
        for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
            unsigned char ch;

            if (*c->p == '\\' && ++c->p == c->end)
                return -EINVAL;
            ch = (unsigned char)*c->p;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return -EINVAL;
            if (*len < cap)
                val[*len] = (char)ch;
            ++*len;
        }
        if (c->p == c->end)
            return -EINVAL;
        c->p++;
        return 0;
    }
    if (!take_token(c, &tok))
        return -EINVAL;
    memcpy(val, tok.p, tok.len < cap ? tok.len : cap);
    *len = tok.len;
    return 0;
}

static int ieq(const char *a, size_t n, const char *lower)
{
    if (strlen(lower) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];

        if (ch != lower[i])
            return 0;
    }
    return 1;
}

/* Window bits: 8 to 15 in decimal, without leading zeros; else 0. */
static uint8_t window_bits(const char *v, size_t n)
{
    if (n == 1 && (v[0] == '8' || v[0] == '9'))
        return (uint8_t)(v[0] - '0');
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return (uint8_t)(10 + v[1] - '0');
    return 0;
}

/* One parameter of a permessage-deflate offer or response. */
static void pmd_param(pmd_params *pp, const eddy_str *name, int has_value,
                      const char *v, size_t vlen)
{
    uint8_t which = 0, bits = has_value ? window_bits(v, vlen) : 0;

    if (ieq(name->p, name->len, "server_no_context_takeover"))
        which = P_SNCT, pp->bad |= has_value;
    else if (ieq(name->p, name->len, "client_no_context_takeover"))
        which = P_CNCT, pp->bad |= has_value;
    else if (ieq(name->p, name->len, "server_max_window_bits"))
        which = P_SMWB, pp->smwb = bits, pp->bad |= bits == 0;
    else if (ieq(name->p, name->len, "client_max_window_bits"))
        which = P_CMWB, pp->cmwb = bits, pp->bad |= has_value && bits == 0;
    pp->bad |= which == 0 || (pp->seen & which) != 0;
    pp->seen |= which;
}

/*
 * The next extension of the list at c: 1 with *is_pmd (and *pp for
 * permessage-deflate), 0 at the end, -EINVAL when it does not parse.
 */
static int next_extension(cursor *c, int *is_pmd, pmd_params *pp)
{
    eddy_str name, pname;
    char val[8];
    size_t vlen;

    memset(pp, 0, sizeof *pp);
    for (skip_ows(c); c->p < c->end && *c->p == ','; skip_ows(c))
        c->p++; /* empty elements */
    if (c->p == c->end)
        return 0;
    if (!take_token(c, &name))
        return -EINVAL;
    *is_pmd = ieq(name.p, name.len, "permessage-deflate");
    for (;;) {
        int has_value = 0;

        skip_ows(c);
        if (c->p == c->end || *c->p == ',')
            return 1;
        if (*c->p++ != ';')
            return -EINVAL;
        skip_ows(c);
        if (!take_token(c, &pname))
            return -EINVAL;
        skip_ows(c);
        if (c->p < c->end && *c->p == '=') {
            c->p++;
            skip_ows(c);
            if (take_value(c, val, sizeof val, &vlen) < 0)
                return -EINVAL;
            has_value = 1;
        }
        if (*is_pmd)
            pmd_param(pp, &pname, has_value, val, has_value ? vlen : 0);
    }
}

static int bits_or(int v, int dflt)
{
    return v == 0 ? dflt : v;
}

int eddy__ws_pmd_check_options(const eddy_ws_deflate_options *o)
{
    int s = o->server_max_window_bits, c = o->client_max_window_bits;

    if ((s != 0 && (s < 8 || s > 15)) || (c != 0 && (c < 8 || c > 15)) ||
        o->level < 0 || o->level > 9 || o->mem_level < 0 || o->mem_level > 9)
        return -EINVAL;
    return 0;
}

static int enabled(const eddy_ws_deflate_options *o)
{
    return o != NULL && o->enable && eddy__ws_deflate_available() &&
           eddy__ws_pmd_check_options(o) == 0;
}

/* Appends s to out[*len, cap); -ENOSPC when it does not fit. */
static int put(char *out, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 1 > cap)
        return -ENOSPC;
    memcpy(out + *len, s, n + 1);
    *len += n;
    return 0;
}

static int put_bits(char *out, size_t cap, size_t *len, const char *name,
                    int bits)
{
    char tmp[48];

    snprintf(tmp, sizeof tmp, "; %s=%d", name, bits);
    return put(out, cap, len, tmp);
}

/* The server's answer to an acceptable offer pp. */
static int respond(const eddy_ws_deflate_options *o, const pmd_params *pp,
                   eddy__ws_pmd *a, char *resp, size_t cap)
{
    int s = bits_or(o->server_max_window_bits, 15);
    int c = bits_or(o->client_max_window_bits, 15);
    int say_s = (pp->seen & P_SMWB) || s < 15, say_c = 0;
    size_t len = 0;
    int ret = 0;

    if ((pp->seen & P_SMWB) && pp->smwb < s)
        s = pp->smwb;
    if (pp->seen & P_CMWB) {
        if (pp->cmwb != 0 && pp->cmwb < c)
            c = pp->cmwb;
        say_c = c < 15 || pp->cmwb != 0;
    } else {
        c = 15; /* the client cannot be told: it may use 15 */
    }
    a->server_no_context_takeover =
        (pp->seen & P_SNCT) || o->server_no_context_takeover;
    a->client_no_context_takeover =
        (pp->seen & P_CNCT) || o->client_no_context_takeover;
    a->server_max_window_bits = (uint8_t)s;
    a->client_max_window_bits = (uint8_t)c;
    ret |= put(resp, cap, &len, "permessage-deflate");
    if (a->server_no_context_takeover)
        ret |= put(resp, cap, &len, "; server_no_context_takeover");
    if (a->client_no_context_takeover)
        ret |= put(resp, cap, &len, "; client_no_context_takeover");
    if (say_s)
        ret |= put_bits(resp, cap, &len, "server_max_window_bits", s);
    if (say_c)
        ret |= put_bits(resp, cap, &len, "client_max_window_bits", c);
    return ret < 0 ? -ENOSPC : 1;
}

int eddy__ws_pmd_accept(const eddy_ws_deflate_options *o, const eddy_str *lines,
                        size_t n, eddy__ws_pmd *agreed, char *resp, size_t cap)
{
    int taken = 0, ret, is_pmd;
    pmd_params pp;

    /* Every line is parsed to its end: a bad one fails the handshake
     * even after an offer was taken. */
    for (size_t l = 0; l < n; l++) {
        cursor c = {lines[l].p, lines[l].p + lines[l].len};

        while ((ret = next_extension(&c, &is_pmd, &pp)) == 1) {
            if (taken || !is_pmd || pp.bad || !enabled(o))
                continue;
            if ((ret = respond(o, &pp, agreed, resp, cap)) < 0)
                return ret;
            taken = 1;
        }
        if (ret < 0)
            return ret;
    }
    return taken;
}

int eddy__ws_pmd_offer(const eddy_ws_deflate_options *o, char *out, size_t cap)
{
    int s, c, ret = 0;
    size_t len = 0;

    if (!enabled(o))
        return -ENOTSUP;
    s = bits_or(o->server_max_window_bits, 15);
    c = bits_or(o->client_max_window_bits, 15);
    ret |= put(out, cap, &len, "permessage-deflate");
    if (c < 15)
        ret |= put_bits(out, cap, &len, "client_max_window_bits", c);
    else
        ret |= put(out, cap, &len, "; client_max_window_bits");
    if (s < 15)
        ret |= put_bits(out, cap, &len, "server_max_window_bits", s);
    if (o->server_no_context_takeover)
        ret |= put(out, cap, &len, "; server_no_context_takeover");
    if (o->client_no_context_takeover)
        ret |= put(out, cap, &len, "; client_no_context_takeover");
    return ret < 0 ? -ENOSPC : (int)len;
}

/* Whether the server's answer pp fits the offer made for o (7.1). */
static int answer_ok(const eddy_ws_deflate_options *o, const pmd_params *pp)
{
    int s = bits_or(o->server_max_window_bits, 15);
    int c = bits_or(o->client_max_window_bits, 15);

    if (pp->bad)
        return 0;
    if ((pp->seen & P_CMWB) && (pp->cmwb == 0 || pp->cmwb > c))
        return 0; /* a value is required, and no more than offered */
    if (s < 15 && !((pp->seen & P_SMWB) && pp->smwb <= s))
        return 0; /* a limit offered must be answered with one as low */
    if (o->server_no_context_takeover && !(pp->seen & P_SNCT))
        return 0; /* asked for, so it must be confirmed */
    return 1;
}

int eddy__ws_pmd_check(const eddy_ws_deflate_options *o, const eddy_str *lines,
                       size_t n, eddy__ws_pmd *agreed)
{
    int found = 0, ret, is_pmd;
    pmd_params pp;

    for (size_t l = 0; l < n; l++) {
        cursor c = {lines[l].p, lines[l].p + lines[l].len};

        while ((ret = next_extension(&c, &is_pmd, &pp)) == 1) {
            if (!is_pmd || found || !enabled(o) || !answer_ok(o, &pp))
                return -EPROTO;
            found = 1;
            agreed->server_no_context_takeover = (pp.seen & P_SNCT) != 0;
            agreed->client_no_context_takeover =
                (pp.seen & P_CNCT) || o->client_no_context_takeover;
            agreed->server_max_window_bits =
                (uint8_t)(pp.seen & P_SMWB ? pp.smwb : 15);
            agreed->client_max_window_bits =
                (uint8_t)(pp.seen & P_CMWB
                              ? pp.cmwb
                              : bits_or(o->client_max_window_bits, 15));
        }
        if (ret < 0)
            return -EPROTO;
    }
    return found;
}
