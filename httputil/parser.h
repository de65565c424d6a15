/*
 * httputil/parser.h - the HTTP/1.1 request-head parser and the chunked
 * body decoder (parser.c).  Internal: shared with the HTTP server, the
 * tests, the fuzzers and the parser benchmark.
 *
 * Both are incremental and allocation-free, and point into the caller's
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
    eddy_str method, target;
    int version;              /* 10 or 11 */
    eddy_http_header *headers;
    size_t nheaders, max_headers;
    size_t skipped;           /* leading empty lines' bytes */
    uint64_t content_length;
    int has_length, chunked;  /* body framing (RFC 9112 6.3) */
    int connection;           /* EDDY__CONN_* tokens seen */
    int expect_continue;
    int host;                 /* index of the Host header, or -1 */
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
