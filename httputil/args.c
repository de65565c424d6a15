/*
 * httputil/args.c - percent-decoding, and sets of decoded name/value pairs
 * (eddy_args) from query strings and urlencoded forms.
 *
 * A set lives in one block: the struct, then an array of slots (offsets,
 * so that the block may move as it grows), then the decoded bytes, each
 * name and value followed by a NUL.  Parsing a string counts its pairs
 * and reserves the exact size first, so that eddy_args_parse() allocates
 * once, and decodes straight into the block.
 *
 * This file must never read past the bytes it is given, produce more bytes
 * than it read, or grow a set past its limits.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KNOWN_FLAGS                                                            \
    (EDDY_ARGS_PLUS_LITERAL | EDDY_ARGS_KEEP_BAD_ESCAPES | EDDY_ARGS_UTF8)

typedef struct slot {
    size_t name, name_len, value, value_len; /* offsets into bytes */
} slot;

struct eddy_args {
    size_t n, cap;     /* pairs, slots */
    size_t used, size; /* bytes */
    size_t input;      /* bytes counted against max_size */
    slot *slots;       /* right after the struct */
    char *bytes;       /* right after the slots */
};

static size_t max_args(const eddy_args_limits *lim)
{
    return lim != NULL && lim->max_args != 0 ? lim->max_args
                                             : EDDY__ARGS_MAX_ARGS;
}

static size_t max_size(const eddy_args_limits *lim)
{
    return lim != NULL && lim->max_size != 0 ? lim->max_size
                                             : EDDY__ARGS_MAX_SIZE;
}

/* The value of a hex digit: '0'-'9' are 0x30-0x39, 'A'-'F' 0x41-0x46 and
 * 'a'-'f' 0x61-0x66, so the low nibble plus 9 for letters does it. */
static unsigned hexval(unsigned char c)
{
    return (c & 0xfu) + (c >> 6) * 9u;
}

long eddy__hu_unescape(const char *p, size_t n, unsigned flags, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '%') {
            if (n - i >= 3 &&
                eddy__hu_is((unsigned char)p[i + 1], EDDY__HU_HEX) &&
                eddy__hu_is((unsigned char)p[i + 2], EDDY__HU_HEX)) {
                c = (unsigned char)(hexval((unsigned char)p[i + 1]) << 4 |
                                    hexval((unsigned char)p[i + 2]));
                i += 2;
            } else if (!(flags & EDDY_ARGS_KEEP_BAD_ESCAPES)) {
                return -EINVAL;
            }
        } else if (c == '+' && !(flags & EDDY_ARGS_PLUS_LITERAL)) {
            c = ' ';
        }
        out[o++] = (char)c;
    }
    return (long)o;
}

int eddy_url_unescape(const char *p, size_t n, unsigned flags, char *out,
                      size_t *out_len)
{
    long r;

    if (out == NULL || out_len == NULL || (p == NULL && n != 0) ||
        (flags & ~(unsigned)KNOWN_FLAGS) != 0)
        return -EINVAL;
    if ((r = eddy__hu_unescape(p, n, flags, out)) < 0)
        return (int)r;
    if ((flags & EDDY_ARGS_UTF8) && !eddy__hu_utf8(out, (size_t)r))
        return -EILSEQ;
    *out_len = (size_t)r;
    return 0;
}

/* --- the set's block -------------------------------------------------- */

/* Makes room for more pairs and bytes: an exact first block (a parse
 * knows what it needs), then doubling. */
static int reserve(eddy_args **ap, size_t pairs, size_t bytes)
{
    eddy_args *a = *ap, *b;
    size_t n = a ? a->n : 0, used = a ? a->used : 0;
    size_t cap = a ? a->cap : 0, size = a ? a->size : 0;
    size_t want_cap, want_size;

    if (pairs > (SIZE_MAX / 2) / sizeof(slot) - n ||
        bytes > SIZE_MAX / 4 - used)
        return -ENOMEM;
    want_cap = n + pairs;
    want_size = used + bytes;
    if (want_cap <= cap && want_size <= size)
        return 0;
    if (a != NULL) {
        want_cap =
            want_cap > cap ? (want_cap > 2 * cap ? want_cap : 2 * cap) : cap;
        want_size = want_size > size
                        ? (want_size > 2 * size ? want_size : 2 * size)
                        : size;
    }
    b = malloc(sizeof *b + want_cap * sizeof(slot) + want_size);
    if (b == NULL)
        return -ENOMEM;
    b->n = n;
    b->cap = want_cap;
    b->used = used;
    b->size = want_size;
    b->input = a ? a->input : 0;
    b->slots = (slot *)(b + 1);
    b->bytes = (char *)(b->slots + want_cap);
    if (a != NULL) {
        memcpy(b->slots, a->slots, n * sizeof(slot));
        memcpy(b->bytes, a->bytes, used);
        free(a);
    }
    *ap = b;
    return 0;
}

int eddy__args_add(eddy_args **ap, const char *name, size_t nlen,
                   const eddy_args_limits *lim)
{
    size_t n = *ap ? (*ap)->n : 0, input = *ap ? (*ap)->input : 0;
    eddy_args *a;
    slot *s;
    int r;

    if (n >= max_args(lim))
        return -E2BIG;
    if (nlen > max_size(lim) - input || input > max_size(lim))
        return -EMSGSIZE;
    if ((r = reserve(ap, 1, nlen + 2)) < 0)
        return r;
    a = *ap;
    s = &a->slots[a->n++];
    s->name = a->used;
    s->name_len = nlen;
    if (nlen > 0)
        memcpy(a->bytes + a->used, name, nlen);
    a->bytes[a->used + nlen] = '\0';
    s->value = a->used + nlen + 1;
    s->value_len = 0;
    a->bytes[s->value] = '\0';
    a->used += nlen + 2;
    a->input += nlen;
    return 0;
}

int eddy__args_extend(eddy_args **ap, const char *p, size_t n,
                      const eddy_args_limits *lim)
{
    eddy_args *a = *ap;
    slot *s;
    int r;

    if (a == NULL || a->n == 0)
        return -EINVAL;
    if (n > max_size(lim) - a->input || a->input > max_size(lim))
        return -EMSGSIZE;
    if ((r = reserve(ap, 0, n)) < 0)
        return r;
    a = *ap;
    s = &a->slots[a->n - 1]; /* its value ends the bytes, before a NUL */
    if (n > 0)
        memcpy(a->bytes + s->value + s->value_len, p, n);
    s->value_len += n;
    a->bytes[s->value + s->value_len] = '\0';
    a->used += n;
    a->input += n;
    return 0;
}

int eddy__args_check_utf8(const eddy_args *a, size_t i)
{
    for (; a != NULL && i < a->n; i++) {
        const slot *s = &a->slots[i];

        if (!eddy__hu_utf8(a->bytes + s->name, s->name_len) ||
            !eddy__hu_utf8(a->bytes + s->value, s->value_len))
            return -EILSEQ;
    }
    return 0;
}

/* --- urlencoded strings ----------------------------------------------- */

/* The pairs in p[0, n): '&'-separated pieces that are not empty. */
static size_t count_pairs(const char *p, size_t n)
{
    const char *end = p + n;
    size_t k = 0;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));

        if (amp == NULL)
            amp = end;
        k += amp > p;
        p = amp + 1;
    }
    return k;
}

/* Decodes one piece, "name=value" or "name", into a new slot; the room is
 * reserved.  Returns 0, or -EINVAL with the set as it was. */
static int add_pair(eddy_args *a, const char *p, size_t n, unsigned flags)
{
    const char *eq = memchr(p, '=', n);
    size_t nlen = eq ? (size_t)(eq - p) : n, used = a->used;
    slot *s = &a->slots[a->n];
    long r;

    if ((r = eddy__hu_unescape(p, nlen, flags, a->bytes + used)) < 0)
        return (int)r;
    s->name = used;
    s->name_len = (size_t)r;
    used += (size_t)r;
    a->bytes[used++] = '\0';
    r = 0;
    if (eq != NULL && (r = eddy__hu_unescape(eq + 1, n - nlen - 1, flags,
                                             a->bytes + used)) < 0)
        return (int)r;
    s->value = used;
    s->value_len = (size_t)r;
    used += (size_t)r;
    a->bytes[used++] = '\0';
    a->used = used;
    a->n++;
    return 0;
}

int eddy__args_append(eddy_args **ap, const char *p, size_t n, unsigned flags,
                      const eddy_args_limits *lim)
{
    size_t have = *ap ? (*ap)->n : 0, input = *ap ? (*ap)->input : 0;
    size_t k;
    const char *end;
    int r;

    if ((flags & ~(unsigned)KNOWN_FLAGS) != 0 || (p == NULL && n != 0))
        return -EINVAL;
    if (n == 0)
        return 0;
    end = p + n;
    if (n > max_size(lim) || input > max_size(lim) - n)
        return -EMSGSIZE;
    if ((k = count_pairs(p, n)) == 0) {
        if (*ap != NULL)
            (*ap)->input += n;
        return 0;
    }
    if (k > max_args(lim) || have > max_args(lim) - k)
        return -E2BIG;
    /* A piece decodes to at most its own length, plus two NULs. */
    if ((r = reserve(ap, k, n + 2 * k)) < 0)
        return r;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));

        if (amp == NULL)
            amp = end;
        if (amp > p && (r = add_pair(*ap, p, (size_t)(amp - p), flags)) < 0)
            return r;
        p = amp + 1;
    }
    (*ap)->input += n;
    return flags & EDDY_ARGS_UTF8 ? eddy__args_check_utf8(*ap, have) : 0;
}

int eddy_args_parse(const char *p, size_t n, unsigned flags,
                    const eddy_args_limits *lim, eddy_args **out)
{
    int r;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if ((r = eddy__args_append(out, p, n, flags, lim)) < 0) {
        free(*out);
        *out = NULL;
    }
    return r;
}

/* --- reading a set ---------------------------------------------------- */

size_t eddy_args_count(const eddy_args *a)
{
    return a ? a->n : 0;
}

static eddy_str at(const eddy_args *a, size_t off, size_t len)
{
    eddy_str s = {a->bytes + off, len};

    return s;
}

int eddy_args_at(const eddy_args *a, size_t i, eddy_str *name, eddy_str *value)
{
    if (a == NULL || i >= a->n)
        return -ERANGE;
    if (name != NULL)
        *name = at(a, a->slots[i].name, a->slots[i].name_len);
    if (value != NULL)
        *value = at(a, a->slots[i].value, a->slots[i].value_len);
    return 0;
}

static int named(const eddy_args *a, size_t i, const char *name, size_t len)
{
    return a->slots[i].name_len == len &&
           memcmp(a->bytes + a->slots[i].name, name, len) == 0;
}

int eddy_args_get(const eddy_args *a, const char *name, eddy_str *value)
{
    size_t len;

    if (name == NULL || value == NULL)
        return -EINVAL;
    len = strlen(name);
    for (size_t i = a ? a->n : 0; i-- > 0;) {
        if (named(a, i, name, len)) {
            *value = at(a, a->slots[i].value, a->slots[i].value_len);
            return 0;
        }
    }
    return -ENOENT;
}

size_t eddy_args_get_all(const eddy_args *a, const char *name, eddy_str *values,
                         size_t max)
{
    size_t len, k = 0;

    if (a == NULL || name == NULL)
        return 0;
    len = strlen(name);
    for (size_t i = 0; i < a->n; i++) {
        if (!named(a, i, name, len))
            continue;
        if (k < max && values != NULL)
            values[k] = at(a, a->slots[i].value, a->slots[i].value_len);
        k++;
    }
    return k;
}

void eddy_args_free(eddy_args *a)
{
    free(a);
}
