/**
 * @file
 * @brief HTTP message utilities with no I/O: Tornado's httputil module.
 *
 * Everything it declares is described under @ref httputil.
 */
/**
 * @defgroup httputil HTTP utilities (httputil.h)
 * @brief The pieces of an HTTP message that need no connection: query
 * and form arguments, request paths, cookies, multipart/form-data bodies,
 * HTTP dates, byte ranges, entity tags and media types.
 *
 * These are Tornado's httputil functions in C.  None of them does I/O,
 * needs a loop or keeps global state, so any thread may call them; they
 * are built to take hostile input: every parser is strict, bounded and
 * fuzzed, reads only the bytes it is given and returns a negative errno
 * on bad input.
 *
 * Strings given as (pointer, length) need not be NUL-terminated; results
 * that point into an input (eddy_str) are valid as long as that input is.
 *
 * One rule says what a server answers each parser's errors with: input
 * that is malformed (-EINVAL, -EILSEQ, -EBADMSG, -EPROTO) is 400 Bad
 * Request, input past a limit (-E2BIG: too many pairs or parts;
 * -EMSGSIZE, -EFBIG: too many bytes) is 413 Content Too Large: the same
 * request with less in it would be taken.  eddy_http_error_status()
 * (httpserver.h) maps them.
 */
#ifndef EDDY_HTTPUTIL_H
#define EDDY_HTTPUTIL_H

#include "eddy/ioloop.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup httputil
 *  @{ */

/** A byte string that is not NUL-terminated. */
typedef struct eddy_str {
    const char *p; /**< the first byte */
    size_t len;    /**< the number of bytes */
} eddy_str;

/** A header field.  For responses, EDDY_HEADER("Name", "value") builds one
 *  from two string literals. */
typedef struct eddy_http_header {
    const char *name;  /**< the field name, not NUL-terminated */
    size_t name_len;   /**< its length in bytes */
    const char *value; /**< the field value, not NUL-terminated */
    size_t value_len;  /**< its length in bytes */
} eddy_http_header;

/** An initializer for an eddy_http_header from two string literals, e.g.
 *  `eddy_http_header h[] = { EDDY_HEADER("Content-Type", "text/plain") };` */
#define EDDY_HEADER(name, value)                                              \
    { (name), sizeof(name) - 1, (value), sizeof(value) - 1 }

/** @name URL-encoded arguments (query strings and forms)
 *
 * `a=1&b=x+y&a=%32` parses into the pairs a=1, b="x y", a=2, in order.
 * Pairs are separated by '&' only (not ';', which Python dropped in 2021
 * as a cache-poisoning risk); an empty pair (`&&`, a trailing `&`) is
 * skipped; a pair without '=' has an empty value; names may be empty.
 * '+' decodes to a space in query strings and in forms alike, as Tornado,
 * Python's parse_qs and browsers do.  A '%' not followed by two hex digits
 * is an error (-EINVAL) unless EDDY_ARGS_KEEP_BAD_ESCAPES keeps it as it
 * is.  Decoded bytes are bytes: %00 gives a NUL inside a value, which
 * counts in its length.
 *  @{ */

/** A set of decoded name/value pairs in the order they came.  Opaque; it
 *  lives in one allocation, which eddy_args_free() frees.  A NULL set is
 *  a valid empty one for every function below. */
typedef struct eddy_args eddy_args;

/** Limits of eddy_args_parse() and eddy_args_parse_body().  A zero field
 *  takes the default given. */
typedef struct eddy_args_limits {
    size_t max_args; /**< pairs kept, 1000: more is -E2BIG */
    size_t max_size; /**< input bytes, 1 MiB: more is -EMSGSIZE */
} eddy_args_limits;

/** Flags of eddy_args_parse(), eddy_args_parse_body() and
 *  eddy_url_unescape(). */
enum {
    EDDY_ARGS_PLUS_LITERAL = 1,     /**< '+' stays '+' (not a space) */
    EDDY_ARGS_KEEP_BAD_ESCAPES = 2, /**< a '%' not followed by two hex
                                         digits stays as it is, as browsers
                                         and Python do, instead of -EINVAL */
    EDDY_ARGS_UTF8 = 4              /**< decoded names and values must be
                                         valid UTF-8: -EILSEQ otherwise */
};

/**
 * Parses a query string (without the '?') or an
 * application/x-www-form-urlencoded body, p[0, n), into *out, which the
 * caller frees with eddy_args_free().  No pair at all (n == 0, or only
 * '&') gives *out = NULL and 0: an empty set, without an allocation.
 * Errors (*out is NULL then, and nothing is to be freed): -EINVAL (a bad
 * '%' escape; out NULL; unknown flags), -EILSEQ (EDDY_ARGS_UTF8 and a name
 * or value that is not UTF-8), -E2BIG (more than lim->max_args pairs),
 * -EMSGSIZE (n over lim->max_size), -ENOMEM.  A server answers -EINVAL
 * and -EILSEQ with 400, the limits -E2BIG and -EMSGSIZE with 413 (the
 * rule at the top).  lim may be NULL: the defaults.
 */
EDDY_API int eddy_args_parse(const char *p, size_t n, unsigned flags,
                             const eddy_args_limits *lim, eddy_args **out);

/**
 * Tornado's parse_body_arguments: the fields of a request body by its
 * Content-Type value, ct[0, ctlen).  application/x-www-form-urlencoded
 * goes to eddy_args_parse(); multipart/form-data (RFC 7578) is parsed
 * whole with eddy_multipart_feed() and its non-file parts (those without a
 * filename) become pairs, in order, their bytes as sent (of the flags,
 * only EDDY_ARGS_UTF8 applies to them); file parts are skipped: stream
 * bodies with files through eddy_multipart_new() instead.
 * For small bodies: len over lim->max_size is refused at once.  Errors:
 * those of eddy_args_parse(), -ENOTSUP (another media type, or ct NULL:
 * nothing to parse, *out NULL), and for multipart the errors of
 * eddy_multipart_boundary() and eddy_multipart_feed() (-EBADMSG, -E2BIG,
 * -EMSGSIZE, -EFBIG with the default eddy_multipart_limits) and
 * eddy_multipart_finish() (-EPROTO).
 */
EDDY_API int eddy_args_parse_body(const char *ct, size_t ctlen,
                                  const char *body, size_t len, unsigned flags,
                                  const eddy_args_limits *lim, eddy_args **out);

/** The number of pairs in args (0 for NULL). */
EDDY_API size_t eddy_args_count(const eddy_args *args);

/** Pair i (0 .. count - 1): its decoded name and value, each followed by
 *  a NUL not counted in its length (so value->p may go to strtol()),
 *  valid until eddy_args_free().  name or value may be NULL.  Errors:
 *  -ERANGE (no pair i). */
EDDY_API int eddy_args_at(const eddy_args *args, size_t i, eddy_str *name,
                          eddy_str *value);

/** The value of the last pair named name (as Tornado's get_argument: a
 *  later value overrides an earlier one), compared byte for byte.  Errors:
 *  -ENOENT (no such name; *value is untouched, so a default set before the
 *  call stays), -EINVAL (name or value NULL). */
EDDY_API int eddy_args_get(const eddy_args *args, const char *name,
                           eddy_str *value);

/** Every value named name, in order: the first max go to values (which
 *  may be NULL when max is 0), and the count of them all is returned, so
 *  that a count larger than max says some were left out.  A NULL name
 *  matches none. */
EDDY_API size_t eddy_args_get_all(const eddy_args *args, const char *name,
                                  eddy_str *values, size_t max);

/** Frees args; NULL does nothing. */
EDDY_API void eddy_args_free(eddy_args *args);

/**
 * Percent-decodes one URL component, p[0, n), into out, which has room for
 * n bytes (the result is never longer) and may be p itself; *out_len gets
 * the decoded length.  '+' becomes a space unless EDDY_ARGS_PLUS_LITERAL
 * (decode a path with it).  No NUL is appended.  Errors: -EINVAL (a bad
 * '%' escape without EDDY_ARGS_KEEP_BAD_ESCAPES; out or out_len NULL;
 * unknown flags), -EILSEQ (EDDY_ARGS_UTF8 and the result is not UTF-8);
 * out holds unspecified bytes then.
 */
EDDY_API int eddy_url_unescape(const char *p, size_t n, unsigned flags,
                               char *out, size_t *out_len);

/** @} */

/** @name Request paths
 *  @{ */

/**
 * Decodes the path of a request target (the part before '?'),
 * path[0, len), for routing and for file names: percent-decodes it ('+'
 * stays '+'), then removes dot segments (RFC 3986 5.2.4), so that
 * `/a/./b/../c` and `/a/%2e/b/%2E%2E/c` both give `/a/c`.  out has room
 * for len bytes (the result is never longer) and may be path itself;
 * *out_len gets the length, and no NUL is appended.  Errors, for which a
 * server answers 400 and never routes: -EINVAL when the path does not
 * start with '/'; holds a byte that is not visible ASCII, or '?' or '#';
 * holds a bad '%' escape, an encoded slash (%2F) or an encoded NUL (%00);
 * or climbs above the root (`/..`, `/a/../..`); and when path, out or
 * out_len is NULL.  out holds unspecified bytes then.
 */
EDDY_API int eddy_path_decode(const char *path, size_t len, char *out,
                              size_t *out_len);

/** @} */

/** @name Cookies (RFC 6265)
 *
 * Reading is lenient in the way browsers' own Cookie headers need: pairs
 * are separated by ';', spaces and tabs around names and values are
 * dropped, a value in double quotes loses them, and a pair that is
 * malformed is skipped instead of failing the header: one without '=',
 * one whose name is not a token, one whose value holds a control
 * character.  Values are not decoded.  Writing is strict (see
 * eddy_cookie_format()).
 *  @{ */

/**
 * The next pair of a Cookie header's value, header[0, len), from *pos
 * (start with 0; it is advanced past the pair): name and value point into
 * header.  Allocates nothing.  Errors: -ENOENT (no more pairs), -EINVAL
 * (pos, name or value NULL).
 */
EDDY_API int eddy_cookie_next(const char *header, size_t len, size_t *pos,
                              eddy_str *name, eddy_str *value);

/** The value of the first pair named name (case-sensitive), as in
 *  eddy_cookie_next().  The first, unlike eddy_args_get(): browsers send
 *  the cookie with the longest Path first (RFC 6265 5.4).  Errors: -ENOENT,
 *  -EINVAL (name or value NULL). */
EDDY_API int eddy_cookie_get(const char *header, size_t len, const char *name,
                             eddy_str *value);

/** Flags of an eddy_cookie. */
enum {
    EDDY_COOKIE_SECURE = 1,           /**< Secure: HTTPS only */
    EDDY_COOKIE_HTTPONLY = 2,         /**< HttpOnly: not for scripts */
    EDDY_COOKIE_EXPIRES = 4,          /**< send Expires (expires is set) */
    EDDY_COOKIE_MAX_AGE = 8,          /**< send Max-Age (max_age is set) */
    EDDY_COOKIE_SAMESITE_STRICT = 16, /**< SameSite=Strict */
    EDDY_COOKIE_SAMESITE_LAX = 32,    /**< SameSite=Lax */
    EDDY_COOKIE_SAMESITE_NONE = 64    /**< SameSite=None (needs Secure) */
};

/** A cookie to set.  Zero-initialise it, then fill in what it needs. */
typedef struct eddy_cookie {
    const char *name;   /**< a token (RFC 9110 5.6.2), not empty */
    const char *value;  /**< cookie-octets: printable ASCII but for SP,
                             '"', ',', ';' and '\\'; may be "" (NULL: "") */
    const char *domain; /**< letters, digits, '-' and '.'; NULL: none */
    const char *path;   /**< starts with '/', printable ASCII but for ';';
                             NULL: none */
    int64_t expires;    /**< with EDDY_COOKIE_EXPIRES: seconds since the
                             epoch, sent as an IMF-fixdate */
    int64_t max_age;    /**< with EDDY_COOKIE_MAX_AGE: seconds, 0 or more
                             (0 deletes the cookie) */
    unsigned flags;     /**< EDDY_COOKIE_* */
} eddy_cookie;

/**
 * Writes the value of a Set-Cookie header for c into buf[0, size), NUL
 * terminated, and its length without the NUL into *len:
 * `name=value; Expires=...; Max-Age=...; Domain=...; Path=...; Secure;
 * HttpOnly; SameSite=...` (attributes in that order, those asked for).
 * Nothing that could end the header or start another attribute gets
 * through.  Errors: -EINVAL (c or len NULL; a name that is not a token, a
 * value, domain or path with a byte its syntax forbids, such as CR, LF,
 * NUL, ';' or a control character; a negative max_age; expires outside
 * years 0..9999; more than one SameSite flag; SameSite=None without
 * Secure; a `__Secure-` name without Secure, or a `__Host-` name without
 * Secure, with a Domain or with a Path other than "/"; unknown flags;
 * buf[0, size) is untouched), -ENOSPC (size too small, buf NULL allowed:
 * *len says how long the value is; call again with at least *len + 1).
 */
EDDY_API int eddy_cookie_format(const eddy_cookie *c, char *buf, size_t size,
                                size_t *len);

/** @} */

/** @name multipart/form-data (RFC 7578)
 *
 * A push parser: bytes go in as they arrive, in pieces of any size, and
 * each part comes out as begin (its headers), data (its bytes, in pieces
 * straight from the input where possible: no part is ever held whole, so a
 * 1 GB upload goes through in a few KiB) and end.  The preamble before the
 * first boundary and the epilogue after the last are ignored, as RFC 2046
 * says.  Strict: lines end in CRLF, a part's header fields are
 * `token: value` with no control characters and no obs-fold, every part
 * has a `Content-Disposition: form-data` with a name, a delimiter is
 * followed by `--`, or by optional spaces and tabs and CRLF.
 *  @{ */

/**
 * The boundary of a Content-Type value, ct[0, len), that is
 * `multipart/form-data` (case-insensitive) with a boundary parameter,
 * quoted or not: *boundary points into ct.  Errors: -ENOTSUP (another
 * media type), -EINVAL (no boundary parameter, a malformed parameter list,
 * or a boundary that is not 1 to 70 characters of RFC 2046's bchars, not
 * ending in a space; ct or boundary NULL).
 */
EDDY_API int eddy_multipart_boundary(const char *ct, size_t len,
                                     eddy_str *boundary);

/** A streaming multipart/form-data parser.  Opaque; create with
 *  eddy_multipart_new(), free with eddy_multipart_free(). */
typedef struct eddy_multipart eddy_multipart;

/** A part's head, given to the begin callback.  Its strings point into the
 *  parser's own buffer and are valid only during the callback: copy what
 *  you keep. */
typedef struct eddy_multipart_part {
    size_t index;          /**< 0 for the first part */
    eddy_str name;         /**< Content-Disposition's name, unescaped (a
                                backslash before '"' or '\\' is dropped;
                                browsers send '"' as %22, which stays) */
    eddy_str filename;     /**< its filename, unescaped likewise, NULL p
                                when there is none (a field, not a file);
                                "" is a file input left empty.  Never use
                                it as a path unchecked.  filename* is
                                ignored, as RFC 7578 4.2 says */
    eddy_str content_type; /**< the Content-Type field; NULL p if none */
    const eddy_http_header *headers; /**< every header field of the part */
    size_t nheaders;                 /**< how many (at most 16) */
} eddy_multipart_part;

/** What a multipart parser calls.  Each callback may be NULL; a callback
 *  that returns non-zero stops the parser: eddy_multipart_feed() returns
 *  that value (if negative; -ECANCELED otherwise), now and from then on.
 *  Callbacks must not feed or free their own parser. */
typedef struct eddy_multipart_callbacks {
    /** A part begins. */
    int (*begin)(const eddy_multipart_part *part, void *arg);
    /** A piece of the part's bytes, len > 0, valid during the call only
     *  (it points into the bytes fed, or into the parser). */
    int (*data)(const char *p, size_t len, void *arg);
    /** The part has ended (its closing delimiter arrived). */
    int (*end)(void *arg);
} eddy_multipart_callbacks;

/** Limits of a multipart parser.  A zero field takes the default given. */
typedef struct eddy_multipart_limits {
    size_t max_parts;        /**< parts, 1000: more is -E2BIG */
    size_t max_header_size;  /**< one part's header block, 8 KiB, or more
                                  than 16 fields: -EMSGSIZE */
    uint64_t max_field_size; /**< the bytes of one part without a filename
                                  (a field), 1 MiB: more is -EFBIG; file
                                  parts have no limit here */
} eddy_multipart_limits;

/**
 * Creates a parser for bodies delimited by boundary[0, len) (copied; from
 * eddy_multipart_boundary()), calling cb's callbacks (cb is copied) with
 * arg.  lim may be NULL: the defaults.  The caller frees *out with
 * eddy_multipart_free().  Errors: -EINVAL (a boundary that is not 1 to 70
 * bchars, not ending in a space; boundary, cb or out NULL), -ENOMEM.
 */
EDDY_API int eddy_multipart_new(const char *boundary, size_t len,
                                const eddy_multipart_limits *lim,
                                const eddy_multipart_callbacks *cb, void *arg,
                                eddy_multipart **out);

/**
 * Parses data[0, len), the next bytes of the body, calling the callbacks
 * for what they complete; bytes after the closing delimiter are ignored.
 * Errors, after which every call returns the same error (free the parser;
 * a server answers 400 for -EBADMSG, 413 for the limits -E2BIG, -EMSGSIZE
 * and -EFBIG, as the rule at the top says): -EBADMSG (the body is
 * malformed), -E2BIG (more than max_parts parts), -EMSGSIZE (a part's
 * header block over max_header_size), -EFBIG (a field over
 * max_field_size), or what a callback returned (-ECANCELED for a positive
 * value).  A part whose data began gets no end callback after an error.
 * One more error leaves the parser as it was: -EINVAL, data NULL with len
 * above 0 (feed the bytes again).
 */
EDDY_API int eddy_multipart_feed(eddy_multipart *mp, const char *data,
                                 size_t len);

/** Says whether the body is complete: 0 once the closing delimiter was
 *  parsed.  Errors: -EPROTO (it has not arrived: the body was cut short;
 *  no end callback comes for a part that was open), or the error that
 *  stopped eddy_multipart_feed().  Free the parser after either. */
EDDY_API int eddy_multipart_finish(eddy_multipart *mp);

/** Frees mp (not from its own callbacks); NULL does nothing. */
EDDY_API void eddy_multipart_free(eddy_multipart *mp);

/** @} */

/** @name Dates, ranges, entity tags and media types (for files)
 *  @{ */

/** The size of a buffer for eddy_http_date_format(): 29 characters and
 *  a NUL. */
#define EDDY_HTTP_DATE_SIZE 30

/** Writes t (seconds since the epoch, UTC) as an IMF-fixdate, e.g.
 *  `Sun, 06 Nov 1994 08:49:37 GMT`, NUL-terminated, into buf.  Errors:
 *  -ERANGE (t outside years 0000..9999; buf is untouched). */
EDDY_API int eddy_http_date_format(int64_t t, char buf[EDDY_HTTP_DATE_SIZE]);

/**
 * Parses an HTTP-date, p[0, len), into *t (seconds since the epoch) in any
 * of the three forms RFC 9110 5.6.7 asks recipients to accept, exactly
 * and case-sensitively: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
 * RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`; a two-digit year is the
 * one within 50 years of the current year, so one that would be more than
 * 50 years ahead is from the century before) and asctime
 * (`Sun Nov  6 08:49:37 1994`).  The day name must be
 * one, but is not checked against the date; second 60 (a leap second) is
 * accepted.  Errors: -EINVAL (anything else, such as a day that the month
 * does not have; p or t NULL).  A server ignores an If-Modified-Since
 * that does not parse.
 */
EDDY_API int eddy_http_date_parse(const char *p, size_t len, int64_t *t);

/**
 * Decides a `Range` header value, p[0, len), against a representation of
 * size bytes, for a server that serves single byte ranges.  0: answer 206
 * with bytes *first to *last (inclusive, *last < size) and
 * `Content-Range: bytes first-last/size`.  Forms: `bytes=first-last` (last
 * past the end is cut to it), `bytes=first-`, `bytes=-suffix` (the last
 * suffix bytes, all of them if fewer).  Errors: -ERANGE (not satisfiable:
 * first at or past the end, a suffix of 0, or any range of an empty
 * representation: answer 416 with a Content-Range of `bytes`, an asterisk
 * for the range, and size),
 * -ENOTSUP (several ranges, or a unit other than bytes: answer 200 with
 * the whole representation, which RFC 9110 14.2 allows), -EINVAL (not a
 * valid Range value, e.g. last before first: ignore it and answer 200;
 * also p, first or last NULL).  Numbers of any length are read without
 * overflow (a huge first is past any end).
 */
EDDY_API int eddy_http_range_parse(const char *p, size_t len, uint64_t size,
                                   uint64_t *first, uint64_t *last);

/**
 * Whether an entity tag, etag[0, etag_len) (e.g. `"abc"` or `W/"abc"`),
 * matches a list of them as If-None-Match, If-Match or If-Range carry,
 * list[0, len): 1 if it does, 0 if not.  `*` matches any tag.  Weak
 * comparison (strong 0: the opaque tags are equal, for If-None-Match) or
 * strong (strong 1: equal and neither weak, for If-Match and If-Range).
 * Errors: -EINVAL (the list or the tag is malformed, or NULL): If-None-Match
 * is then ignored (200), If-Match fails (412).
 */
EDDY_API int eddy_http_etag_match(const char *list, size_t len,
                                  const char *etag, size_t etag_len,
                                  int strong);

/**
 * The media type for a file name by its extension (after the last '.' of
 * the last path segment, not a leading one; case-insensitive), from a
 * small table of web types, e.g. "text/html; charset=utf-8" for `.html`
 * (text types carry charset=utf-8) and "image/png" for `.PNG`: a static
 * string, or NULL when the extension is not in the table (serve
 * application/octet-stream then).
 */
EDDY_API const char *eddy_http_mime_type(const char *path, size_t len);

/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif
