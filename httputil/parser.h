/*
 * httputil/parser.h - the HTTP/1.1 head parser, for requests and
 * responses, and the chunked body decoder (parser.c).  Internal: shared
 * with the HTTP server, the HTTP client, the tests, the fuzzers and the
 * parser benchmark.
 *
 * All are incremental and allocation-free, and point into the caller's
 * bytes instead of copying them.  Errors are the negated HTTP status to
 * answer with: -400, -413, -414, -431, -501, -505; the rule that failed
 * is then in the error field, for the log (never for the client).
 */
#ifndef EDDY_HTTP_PARSER_H
#define EDDY_HTTP_PARSER_H

#include "eddy/httputil.h"

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

enum { EDDY__CONN_CLOSE = 1, EDDY__CONN_KEEP_ALIVE = 2 };

/* The parsed head.  Fill in headers and max_headers before parsing. */
typedef struct eddy__http_head {
    eddy_str method, target;  /* a request's */
    int status;               /* a response's: 100 to 599 */
    eddy_str reason;          /* a response's reason phrase, maybe empty */
    int version;              /* 10 or 11 */
    eddy_http_header *headers;
    size_t nheaders, max_headers;
    size_t skipped;           /* leading empty lines' bytes */
    uint64_t content_length;
    int has_length, chunked;  /* body framing (RFC 9112 6.3) */
    int connection;           /* EDDY__CONN_* tokens seen */
    int expect_continue;
    int host;                 /* index of the Host header, or -1 (always
                                 -1 in a response) */
    const char *error;        /* after an error: the rule that failed */
} eddy__http_head;

/* Resume state: zero it before the first call for a new request. */
typedef struct eddy__http_parser {
    size_t scanned;  /* bytes known to hold no end of head */
    int seen_lf;     /* the request line has ended */
    size_t max_head; /* 431 beyond this */
    size_t max_uri;  /* 414 beyond this */
} eddy__http_parser;

/*
 * Parses buf[0, len).  Returns the head's length (> 0) when it is complete
 * and valid, 0 when more bytes are needed (call again with the same bytes
 * and more after them), or -status.  A sender dribbling a byte at a time
 * costs linear time: until the end of the head is in, each call only scans
 * the new bytes.  Only the first max_head bytes are ever looked at.
 *
 * However the bytes are split, a complete head is found when its last
 * byte arrives, with the same fields, and an answer other than 0 is the
 * one the whole input gives.  An error before the head's end, though, may
 * show only when the end, a bare LF, max_head or an over-long target
 * arrives, where a whole parse reports it at once.
 */
EDDY_HIDDEN int eddy__http_parse_head(eddy__http_parser *p, const char *buf,
                                        size_t len, eddy__http_head *h);

/*
 * Parses a response head in buf[0, len), as eddy__http_parse_head() does a
 * request head, by the same rules for header fields, Content-Length and
 * Transfer-Encoding, with the same limits and resumption (max_uri is not
 * used).  The differences: the start line is a status line (HTTP/1.0 or
 * HTTP/1.1, a status from 100 to 599, a reason phrase of field-value
 * characters, its leading SP optional when it is empty); Host is not
 * looked at; and a head with an obs-fold (a line that starts with SP or
 * HTAB, continuing the field before) returns EDDY__HTTP_FOLDED once it is
 * complete: copy buf[0, len) into memory you may write, call
 * eddy__http_unfold() on it and parse that with a fresh parser state.
 * A 431 for too many fields has eddy__http_too_many_fields as its error.
 * What framing means for the body (HEAD, 1xx, 204, 304, close-delimited)
 * is the caller's to decide: it knows the request.
 */
EDDY_HIDDEN int eddy__http_parse_response(eddy__http_parser *p,
                                          const char *buf, size_t len,
                                          eddy__http_head *h);

/* eddy__http_parse_response()'s answer for a head with an obs-fold. */
#define EDDY__HTTP_FOLDED (-1)

/* Replaces each obs-fold (CRLF followed by SP or HTAB) of the header
 * section in buf[0, len) with two SPs, as RFC 9112 5.2 asks of a user
 * agent.  Returns how many it replaced. */
EDDY_HIDDEN size_t eddy__http_unfold(char *buf, size_t len);

/* The error (rule) of a head with more fields than max_headers. */
EDDY_HIDDEN extern const char eddy__http_too_many_fields[];

/* Chunked transfer coding (RFC 9112 7.1), bounded. */
typedef struct eddy__chunked {
    int state;
    uint64_t size;  /* bytes of chunk data still to come */
    size_t line;    /* bytes in the current size line or trailer field */
    size_t trailer; /* trailer bytes so far */
    size_t max_trailer;
    const char *error; /* after an error: the rule that failed */
} eddy__chunked;

/*
 * Feeds in[0, len).  Returns the bytes consumed (<= len) and points *data
 * at the body bytes found among them (*dlen may be 0), or -400.  Call
 * again with the rest while input remains and eddy__chunked_done() is 0.
 */
EDDY_HIDDEN long eddy__chunked_feed(eddy__chunked *c, const char *in,
                                      size_t len, const char **data,
                                      size_t *dlen);
EDDY_HIDDEN int eddy__chunked_done(const eddy__chunked *c);
/* Whether c is in a chunk's data: its size line has ended, and c->size is
 * what is left of the size it announced (while the line goes on, c->size
 * holds only the digits so far). */
EDDY_HIDDEN int eddy__chunked_in_data(const eddy__chunked *c);

/* Whether ch may appear in a token (a method, a header name). */
EDDY_HIDDEN int eddy__http_is_token(unsigned char ch);

/* Case-insensitive compare of a and the lowercase literal b, length n. */
EDDY_HIDDEN int eddy__http_ieq(const char *a, const char *b, size_t n);

#endif
