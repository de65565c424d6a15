/*
 * httputil/httputil_internal.h - what the httputil files share, and what
 * the layers above (the HTTP server, the client) call that handlers do
 * not: the character classes, percent-decoding, building an eddy_args a
 * pair at a time, route patterns with parameters, the HTTP-date parser
 * with its clock given, and the HTTP/1.1 message parser (parser.h).
 * Public headers never include this file.
 */
#ifndef EDDY_HTTPUTIL_INTERNAL_H
#define EDDY_HTTPUTIL_INTERNAL_H

#include "../common/internal.h"
#include "eddy/httputil.h"
#include "parser.h"

#include <stddef.h>
#include <stdint.h>

/* --- characters (chars.c) ------------------------------------------------ */

#define EDDY__HU_TOKEN 1  /* tchar (RFC 9110 5.6.2) */
#define EDDY__HU_VALUE 2  /* field-vchar, SP, HTAB: what a field value holds */
#define EDDY__HU_COOKIE 4 /* cookie-octet (RFC 6265 4.1.1) */
#define EDDY__HU_BCHAR 8  /* bchars but SP (RFC 2046 5.1.1) */
#define EDDY__HU_HEX 16   /* a hex digit */

EDDY_HIDDEN extern const unsigned char eddy__hu_cls[256];

static inline int eddy__hu_is(unsigned char ch, unsigned cls)
{
    return (eddy__hu_cls[ch] & cls) != 0;
}

/* Whether p[0, n) is a non-empty token. */
EDDY_HIDDEN int eddy__hu_token(const char *p, size_t n);

/* Case-insensitive compare of p[0, n) and the lowercase C string lower
 * (which must be exactly n long to match). */
EDDY_HIDDEN int eddy__hu_ieq(const char *p, size_t n, const char *lower);

/* Whether p[0, n) is valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF). */
EDDY_HIDDEN int eddy__hu_utf8(const char *p, size_t n);

/* --- percent-decoding (args.c) ------------------------------------------- */

/* Decodes p[0, n) into out (room for n; out may be p) by EDDY_ARGS_*
 * flags ('+' and bad escapes; not UTF-8): the decoded length, or -EINVAL
 * for a bad escape. */
EDDY_HIDDEN long eddy__hu_unescape(const char *p, size_t n, unsigned flags,
                                   char *out);

/* --- building an eddy_args (args.c) -------------------------------------- *
 *
 * A set grows a pair at a time; *a may start NULL (the empty set) and the
 * functions allocate it.  Limits (lim NULL: the defaults) count over the
 * whole set: pairs against max_args (-E2BIG), the bytes added (encoded
 * input for eddy__args_append, names and values for the others) against
 * max_size (-EMSGSIZE).  A set may move when it grows: eddy_str taken from
 * it before are stale after the next call.  On an error the set keeps the
 * pairs completed before it (a pair being decoded is dropped); free it.
 */

/* The defaults of eddy_args_limits. */
#define EDDY__ARGS_MAX_ARGS 1000
#define EDDY__ARGS_MAX_SIZE (1024 * 1024)

/* Appends the pairs of a query string or urlencoded form p[0, n), as
 * eddy_args_parse() does (its errors too): the server puts a request's
 * query and body arguments in one set, as Tornado's request.arguments. */
EDDY_HIDDEN int eddy__args_append(eddy_args **a, const char *p, size_t n,
                                  unsigned flags, const eddy_args_limits *lim);

/* Adds a pair with name[0, nlen) and an empty value.  Errors: -E2BIG,
 * -EMSGSIZE, -ENOMEM. */
EDDY_HIDDEN int eddy__args_add(eddy_args **a, const char *name, size_t nlen,
                               const eddy_args_limits *lim);

/* Appends p[0, n) to the last pair's value.  Errors: -EMSGSIZE, -ENOMEM,
 * -EINVAL (no pair yet). */
EDDY_HIDDEN int eddy__args_extend(eddy_args **a, const char *p, size_t n,
                                  const eddy_args_limits *lim);

/* Whether pairs from i on are UTF-8: 0, or -EILSEQ. */
EDDY_HIDDEN int eddy__args_check_utf8(const eddy_args *a, size_t i);

/* --- route patterns (pattern.c) ------------------------------------------ *
 *
 * A pattern is a decoded path made of segments: a literal segment matches
 * itself byte for byte; `{name}` (a whole segment; name is [A-Za-z_]
 * followed by [A-Za-z0-9_], up to 64) matches one non-empty segment; a
 * last segment `{name*}` matches the rest of the path, slashes included,
 * possibly empty.  So `/items/{id}` matches `/items/42` (id "42") but not
 * `/items/` or `/items/4/2`, and `/files/{path*}` matches `/files/` (path
 * "") and `/files/a/b.txt` (path "a/b.txt").  Match paths that
 * eddy_path_decode() gave: they have no dot segments and no encoded '/'.
 */

typedef struct eddy__pattern eddy__pattern;

/* A captured parameter: name points into the pattern, value into the
 * path matched. */
typedef struct eddy__path_param {
    eddy_str name, value;
} eddy__path_param;

/* Compiles p[0, n).  Errors: -EINVAL (not starting with '/'; '{' or '}'
 * other than around a whole segment's parameter; a bad or repeated
 * parameter name; `{name*}` not last; a "." or ".." segment, which no
 * decoded path has; p or out NULL), -ENOMEM. */
EDDY_HIDDEN int eddy__pattern_compile(const char *p, size_t n,
                                      eddy__pattern **out);

/* The number of parameters, in the order they appear. */
EDDY_HIDDEN size_t eddy__pattern_nparams(const eddy__pattern *pt);

/* Matches path[0, len): 0 and params[0, nparams) filled, or -ENOENT.
 * params may be NULL when the pattern has none. */
EDDY_HIDDEN int eddy__pattern_match(const eddy__pattern *pt, const char *path,
                                    size_t len, eddy__path_param *params);

/* The value of the parameter called name among params[0, n): 0, or
 * -ENOENT. */
EDDY_HIDDEN int eddy__path_param_get(const eddy__path_param *params, size_t n,
                                     const char *name, eddy_str *value);

EDDY_HIDDEN void eddy__pattern_free(eddy__pattern *pt);

/* --- dates (date.c), media types (mime.c) -------------------------------- */

/* eddy_http_date_parse() with the current time given, for the two-digit
 * years of RFC 850 dates. */
EDDY_HIDDEN int eddy__http_date_parse_at(const char *p, size_t len, int64_t now,
                                         int64_t *t);

/* Entry i of the media type table (for the tests): 0, or -ERANGE. */
EDDY_HIDDEN int eddy__mime_at(size_t i, const char **ext, const char **type);

#endif
