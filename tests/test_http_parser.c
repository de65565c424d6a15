/*
 * tests/test_http_parser.c - the head parser, for requests and responses,
 * and the chunked decoder (httputil/parser.c) against RFC 9112/9110 and
 * the rules in parser.c's header comment.
 *
 * Most of the suite is four tables: heads that parse, heads that are not
 * over yet, heads that must be refused (with the status), and chunked
 * bodies.  Every row is its own cmocka test, run in every way a peer could
 * deliver it:
 *
 *   whole         one call with all the bytes;
 *   byte by byte  a call for each growing prefix, as a sender dribbling one
 *                 byte at a time makes the connection code call it;
 *   split at k    the first k bytes, then all of them, for every k.
 *
 * A valid head must give 0 for every prefix shorter than it, then its
 * length, with the same fields however it came.  A refused head (each row
 * ends in CRLF CRLF unless it shows something else) must give its status
 * at the end, and if a prefix already gives an error it must be that same
 * status; a row's .by says how soon, dribbled, the error must show.  What
 * holds for a head cut before its end is weaker, as parser.h says, and
 * late_errors pins it down.  Then thousands of mutants of the rows check
 * the same promises on inputs nobody wrote by hand.
 *
 * Every call sees its bytes copied so that they end exactly at a PROT_NONE
 * guard page, as picohttpparser's tests do: a read past len crashes.  The
 * head struct is scribbled over before every call, because the connection
 * code shares one between connections: nothing may carry over in it.
 */
#include "testutil.h"

#include <limits.h>

#include "../httputil/parser.h"

/* --- the guard page --- */

/* Copies src[0, n) so that it ends at the suite's guard page. */
static const char *place(const char *src, size_t n)
{
    return tu_guarded(src, n);
}

/* --- heads: the table --- */

#define OK INT_MAX /* want: the whole input is one valid head */
#define MAXH 12    /* expected header fields a row can list */
#define HDR_CAP 1100

#define IN(s) .in = (s), .len = sizeof(s) - 1

typedef struct head_case {
    const char *what;
    const char *in;
    size_t len;
    int want;  /* OK, a head length, 0 (incomplete) or -status */
    size_t by; /* dribbled, the error must show by this prefix length */
    size_t max_head, max_uri, max_headers; /* 0: 65536, 8192, 100 */
    /* What a valid head parses to. */
    const char *method, *target; /* NULL: "GET", "/" */
    int v;                       /* 0: 11 */
    const char *hdr[2 * MAXH];   /* name, value, ...; Host's index follows */
    const char *cl;              /* NULL: no Content-Length */
    int chunked, conn, expect;
    size_t skipped;
} head_case;

#define CLOSE EDDY__CONN_CLOSE
#define KEEP EDDY__CONN_KEEP_ALIVE
#define RL "GET / HTTP/1.1\r\n"
#define RL10 "GET / HTTP/1.0\r\n"
#define POST "POST / HTTP/1.1\r\nHost: a\r\n"
#define H "Host: a\r\n"
#define E "\r\n"
#define HOSTA "Host", "a"

#define BROWSER                                                                \
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg "        \
    "HTTP/1.1\r\n"                                                             \
    "Host: www.kittyhell.com\r\n"                                              \
    "Connection: keep-alive\r\n"                                               \
    "Cache-Control: max-age=0\r\n"                                             \
    "Upgrade-Insecure-Requests: 1\r\n"                                         \
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) "                   \
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "                 \
    "Safari/537.36\r\n"                                                        \
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"           \
    "image/avif,image/webp,*/*;q=0.8\r\n"                                      \
    "Referer: https://www.kittyhell.com/\r\n"                                  \
    "Accept-Encoding: gzip, deflate, br\r\n"                                   \
    "Accept-Language: ja,en-US;q=0.9,en;q=0.8\r\n"                             \
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "      \
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x\r\n"       \
    "\r\n"

static const head_case valid_heads[] = {
    /* The request line. */
    {"minimal HTTP/1.1", IN(RL H E), OK, .hdr = {HOSTA}},
    {"HTTP/1.0 needs no Host", IN(RL10 E), OK, .v = 10},
    {"HTTP/1.0 with a Host", IN(RL10 H E), OK, .v = 10, .hdr = {HOSTA}},
    {"POST with a path",
     IN("POST /form HTTP/1.1\r\n" H "Content-Length: 5\r\n" E), OK,
     .method = "POST", .target = "/form", .hdr = {HOSTA, "Content-Length", "5"},
     .cl = "5"},
    {"OPTIONS in asterisk-form", IN("OPTIONS * HTTP/1.1\r\n" H E), OK,
     .method = "OPTIONS", .target = "*", .hdr = {HOSTA}},
    {"CONNECT in authority-form",
     IN("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n" E), OK,
     .method = "CONNECT", .target = "example.com:443",
     .hdr = {"Host", "example.com:443"}},
    {"absolute-form target",
     IN("GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n" E), OK,
     .target = "http://example.com/a?b=c", .hdr = {"Host", "example.com"}},
    {"target with a query", IN("GET /search?q=a+b&x=%20 HTTP/1.1\r\n" H E), OK,
     .target = "/search?q=a+b&x=%20", .hdr = {HOSTA}},
    {"target of every visible ASCII character",
     IN("GET /!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ HTTP/1.1\r\n" H E),
     OK,
     .target = "/!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
               "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
     .hdr = {HOSTA}},
    {"method of every tchar",
     IN("!#$%&'*+-.^_`|~0123456789AZaz / HTTP/1.1\r\n" H E), OK,
     .method = "!#$%&'*+-.^_`|~0123456789AZaz", .hdr = {HOSTA}},
    {"method of 32 characters, the limit",
     IN("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF / HTTP/1.1\r\n" H E), OK,
     .method = "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", .hdr = {HOSTA}},
    {"a lowercase method is a token too", IN("get / HTTP/1.1\r\n" H E), OK,
     .method = "get", .hdr = {HOSTA}},
    {"extension method", IN("M-SEARCH * HTTP/1.1\r\n" H E), OK,
     .method = "M-SEARCH", .target = "*", .hdr = {HOSTA}},
    {"one leading empty line is skipped", IN(E RL H E), OK, .hdr = {HOSTA},
     .skipped = 2},
    {"eight leading empty lines, the limit", IN(E E E E E E E E RL H E), OK,
     .hdr = {HOSTA}, .skipped = 16},
    {"target of exactly max_uri", IN("GET /123456789 HTTP/1.1\r\n" H E), OK,
     .max_uri = 10, .target = "/123456789", .hdr = {HOSTA}},
    {"head of exactly max_head", IN(RL H E), OK, .max_head = 27,
     .hdr = {HOSTA}},
    {"pipelined: the head ends at the first empty line",
     IN(RL H E "GET /2 HTTP/1.1\r\n" H E), 27, .hdr = {HOSTA}},
    {"body bytes after the head are not looked at",
     IN(POST "Content-Length: 4\r\n" E "\0\r\n\x7f"), 47, .method = "POST",
     .hdr = {HOSTA, "Content-Length", "4"}, .cl = "4"},
    {"a browser's request", IN(BROWSER), OK,
     .target = "/wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg",
     .hdr = {"Host",
             "www.kittyhell.com",
             "Connection",
             "keep-alive",
             "Cache-Control",
             "max-age=0",
             "Upgrade-Insecure-Requests",
             "1",
             "User-Agent",
             "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
             "Accept",
             "text/html,application/xhtml+xml,application/xml;q=0.9,"
             "image/avif,image/webp,*/*;q=0.8",
             "Referer",
             "https://www.kittyhell.com/",
             "Accept-Encoding",
             "gzip, deflate, br",
             "Accept-Language",
             "ja,en-US;q=0.9,en;q=0.8",
             "Cookie",
             "wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
             "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x"},
     .conn = KEEP},

    /* Header fields. */
    {"fields keep their order and case",
     IN(RL H "X-One: 1\r\nx-two: 2\r\nX-THREE: 3\r\n" E), OK,
     .hdr = {HOSTA, "X-One", "1", "x-two", "2", "X-THREE", "3"}},
    {"SP around a value is trimmed", IN(RL H "X:   a b   \r\n" E), OK,
     .hdr = {HOSTA, "X", "a b"}},
    {"HTAB around a value is trimmed", IN(RL H "X:\t\ta\t\r\n" E), OK,
     .hdr = {HOSTA, "X", "a"}},
    {"no OWS at all", IN(RL H "X:a\r\n" E), OK, .hdr = {HOSTA, "X", "a"}},
    {"empty value", IN(RL H "X:\r\n" E), OK, .hdr = {HOSTA, "X", ""}},
    {"value of only OWS is empty", IN(RL H "X: \t \r\n" E), OK,
     .hdr = {HOSTA, "X", ""}},
    {"SP and HTAB inside a value are kept", IN(RL H "X: a \t b\r\n" E), OK,
     .hdr = {HOSTA, "X", "a \t b"}},
    {"obs-text is kept", IN(RL H "X: caf\xc3\xa9 \xff\r\n" E), OK,
     .hdr = {HOSTA, "X", "caf\xc3\xa9 \xff"}},
    {"NBSP (0xA0) is not whitespace: kept, not trimmed",
     IN(RL H "X: \240a\240\r\n" E), OK, .hdr = {HOSTA, "X", "\240a\240"}},
    {"value of every visible character",
     IN(RL H "X: !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~\r\n" E), OK,
     .hdr = {HOSTA, "X", "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"}},
    {"name of every tchar", IN(RL H "!#$%&'*+-.^_`|~09AZaz: v\r\n" E), OK,
     .hdr = {HOSTA, "!#$%&'*+-.^_`|~09AZaz", "v"}},
    {"colons inside a value", IN(RL H "X: a:b::c\r\n" E), OK,
     .hdr = {HOSTA, "X", "a:b::c"}},
    {"exactly max_headers fields", IN(RL H "A: 1\r\nB: 2\r\n" E), OK,
     .max_headers = 3, .hdr = {HOSTA, "A", "1", "B", "2"}},
    {"a name like Transfer-Encoding is just a field",
     IN(POST "Transfer_Encoding: chunked\r\nTransfer-Encodings: gzip\r\n" E),
     OK, .method = "POST",
     .hdr = {HOSTA, "Transfer_Encoding", "chunked", "Transfer-Encodings",
             "gzip"}},

    /* Names and tokens that the framing fields are compared with, missed
     * by one byte in each position a word compare could get wrong. */
    {"same-length near misses of the framing names",
     IN(RL H
        "Content-Lengtx: 5\r\nContent-Lxngth: 5\r\nXontent-Length: 5\r\n"
        "Transfer-Encodinf: chunked\r\nTransfer_Encoding: chunked\r\n"
        "Connectiom: close\r\nConnecti0n: close\r\nExpecu: 100-continue\r\n"
        "Hosu: b\r\nHost-: c\r\n" E),
     OK,
     .hdr = {HOSTA,
             "Content-Lengtx",
             "5",
             "Content-Lxngth",
             "5",
             "Xontent-Length",
             "5",
             "Transfer-Encodinf",
             "chunked",
             "Transfer_Encoding",
             "chunked",
             "Connectiom",
             "close",
             "Connecti0n",
             "close",
             "Expecu",
             "100-continue",
             "Hosu",
             "b",
             "Host-",
             "c"}},
    {"same-length near misses of the Connection tokens",
     IN(RL H
        "Connection: closf, clOsE-, kEEp-alivf, keep_alive, xeep-alive\r\n" E),
     OK,
     .hdr = {HOSTA, "Connection",
             "closf, clOsE-, kEEp-alivf, keep_alive, xeep-alive"}},
    {"same-length near misses of 100-continue",
     IN(RL H "Expect: 100-continuf\r\nExpect: 100_continue\r\n"
             "Expect: 200-continue\r\n" E),
     OK,
     .hdr = {HOSTA, "Expect", "100-continuf", "Expect", "100_continue",
             "Expect", "200-continue"}},
    {"cOnNeCtIoN: kEeP-aLiVe, CLOSE",
     IN(RL H "cOnNeCtIoN: kEeP-aLiVe, CLOSE\r\n" E), OK,
     .hdr = {HOSTA, "cOnNeCtIoN", "kEeP-aLiVe, CLOSE"}, .conn = KEEP | CLOSE},

    /* Content-Length. */
    {"Content-Length 0", IN(POST "Content-Length: 0\r\n" E), OK,
     .method = "POST", .hdr = {HOSTA, "Content-Length", "0"}, .cl = "0"},
    {"Content-Length with leading zeros", IN(POST "Content-Length: 007\r\n" E),
     OK, .method = "POST", .hdr = {HOSTA, "Content-Length", "007"}, .cl = "7"},
    {"Content-Length with OWS", IN(POST "Content-Length: \t42 \t\r\n" E), OK,
     .method = "POST", .hdr = {HOSTA, "Content-Length", "42"}, .cl = "42"},
    {"Content-Length, any case", IN(POST "CONTENT-LENGTH: 3\r\n" E), OK,
     .method = "POST", .hdr = {HOSTA, "CONTENT-LENGTH", "3"}, .cl = "3"},
    {"two identical Content-Length fields",
     IN(POST "Content-Length: 5\r\ncontent-length: 5\r\n" E), OK,
     .method = "POST",
     .hdr = {HOSTA, "Content-Length", "5", "content-length", "5"}, .cl = "5"},
    {"Content-Length 5 and 05 agree on the length",
     IN(POST "Content-Length: 5\r\nContent-Length: 05\r\n" E), OK,
     .method = "POST",
     .hdr = {HOSTA, "Content-Length", "5", "Content-Length", "05"}, .cl = "5"},
    {"Content-Length of 18 nines",
     IN(POST "Content-Length: 999999999999999999\r\n" E), OK, .method = "POST",
     .hdr = {HOSTA, "Content-Length", "999999999999999999"},
     .cl = "999999999999999999"},
    {"Content-Length 2^63 - 9, the largest taken",
     IN(POST "Content-Length: 9223372036854775799\r\n" E), OK, .method = "POST",
     .hdr = {HOSTA, "Content-Length", "9223372036854775799"},
     .cl = "9223372036854775799"},

    /* Transfer-Encoding. */
    {"Transfer-Encoding: chunked", IN(POST "Transfer-Encoding: chunked\r\n" E),
     OK, .method = "POST", .hdr = {HOSTA, "Transfer-Encoding", "chunked"},
     .chunked = 1},
    {"chunked, any case", IN(POST "Transfer-Encoding: ChUnKeD\r\n" E), OK,
     .method = "POST", .hdr = {HOSTA, "Transfer-Encoding", "ChUnKeD"},
     .chunked = 1},
    {"chunked with OWS", IN(POST "Transfer-Encoding: \t chunked \t\r\n" E), OK,
     .method = "POST", .hdr = {HOSTA, "Transfer-Encoding", "chunked"},
     .chunked = 1},
    {"Transfer-Encoding name, any case",
     IN(POST "TRANSFER-ENCODING: CHUNKED\r\n" E), OK, .method = "POST",
     .hdr = {HOSTA, "TRANSFER-ENCODING", "CHUNKED"}, .chunked = 1},

    /* Host. */
    {"Host with a port", IN(RL "Host: example.com:8080\r\n" E), OK,
     .hdr = {"Host", "example.com:8080"}},
    {"Host as an IPv6 literal", IN(RL "Host: [::1]:8080\r\n" E), OK,
     .hdr = {"Host", "[::1]:8080"}},
    {"Host as an IPv4 address", IN(RL "Host: 127.0.0.1\r\n" E), OK,
     .hdr = {"Host", "127.0.0.1"}},
    {"an empty Host is allowed (RFC 9112 3.2)", IN(RL "Host:\r\n" E), OK,
     .hdr = {"Host", ""}},
    {"Host of sub-delims, pct-encoding, unreserved",
     IN(RL "Host: a!$&'()*+,;=b%41_~-.9\r\n" E), OK,
     .hdr = {"Host", "a!$&'()*+,;=b%41_~-.9"}},
    {"Host name, any case", IN(RL "hOsT: a\r\n" E), OK, .hdr = {"hOsT", "a"}},
    {"Host after other fields", IN(RL "X: 1\r\nY: 2\r\n" H E), OK,
     .hdr = {"X", "1", "Y", "2", HOSTA}},
    {"Host with OWS", IN(RL "Host: \t a \t\r\n" E), OK, .hdr = {HOSTA}},

    /* Connection. */
    {"Connection: close", IN(RL H "Connection: close\r\n" E), OK,
     .hdr = {HOSTA, "Connection", "close"}, .conn = CLOSE},
    {"Connection: CLOSE, any case", IN(RL H "Connection: CLOSE\r\n" E), OK,
     .hdr = {HOSTA, "Connection", "CLOSE"}, .conn = CLOSE},
    {"Connection: keep-alive", IN(RL10 "Connection: keep-alive\r\n" E), OK,
     .v = 10, .hdr = {"Connection", "keep-alive"}, .conn = KEEP},
    {"Connection: Keep-Alive, any case",
     IN(RL10 "connection: Keep-Alive\r\n" E), OK, .v = 10,
     .hdr = {"connection", "Keep-Alive"}, .conn = KEEP},
    {"Connection: keep-alive, close",
     IN(RL H "Connection: keep-alive, close\r\n" E), OK,
     .hdr = {HOSTA, "Connection", "keep-alive, close"}, .conn = KEEP | CLOSE},
    {"Connection list with OWS", IN(RL H "Connection: Upgrade \t,close\r\n" E),
     OK, .hdr = {HOSTA, "Connection", "Upgrade \t,close"}, .conn = CLOSE},
    {"Connection of other tokens only",
     IN(RL H "Connection: Upgrade, TE\r\n" E), OK,
     .hdr = {HOSTA, "Connection", "Upgrade, TE"}},
    {"closed and keep-alives are other tokens",
     IN(RL H "Connection: closed, keep-alives, clos\r\n" E), OK,
     .hdr = {HOSTA, "Connection", "closed, keep-alives, clos"}},
    {"two Connection fields add up",
     IN(RL H "Connection: keep-alive\r\nConnection: close\r\n" E), OK,
     .hdr = {HOSTA, "Connection", "keep-alive", "Connection", "close"},
     .conn = KEEP | CLOSE},
    {"Connection list with empty elements (RFC 9110 5.6.1.2)",
     IN(RL H "Connection: , close ,, \r\n" E), OK,
     .hdr = {HOSTA, "Connection", ", close ,,"}, .conn = CLOSE},
    {"an empty Connection field", IN(RL H "Connection:\r\n" E), OK,
     .hdr = {HOSTA, "Connection", ""}},

    /* Expect. */
    {"Expect: 100-continue",
     IN(POST "Content-Length: 5\r\nExpect: 100-continue\r\n" E), OK,
     .method = "POST",
     .hdr = {HOSTA, "Content-Length", "5", "Expect", "100-continue"}, .cl = "5",
     .expect = 1},
    {"Expect: 100-Continue, any case", IN(RL H "EXPECT: 100-Continue\r\n" E),
     OK, .hdr = {HOSTA, "EXPECT", "100-Continue"}, .expect = 1},
    {"Expect with OWS", IN(RL H "Expect:  100-continue \r\n" E), OK,
     .hdr = {HOSTA, "Expect", "100-continue"}, .expect = 1},
    {"another expectation is not 100-continue", IN(RL H "Expect: 200-ok\r\n" E),
     OK, .hdr = {HOSTA, "Expect", "200-ok"}},
    {"100-continue in a list is not recognised",
     IN(RL H "Expect: 100-continue, x\r\n" E), OK,
     .hdr = {HOSTA, "Expect", "100-continue, x"}},
    {"Expect on HTTP/1.0 is noted (the server ignores it)",
     IN(RL10 "Expect: 100-continue\r\n" E), OK, .v = 10,
     .hdr = {"Expect", "100-continue"}, .expect = 1},
};

static const head_case incomplete_heads[] = {
    {"nothing yet", IN(""), 0},
    {"part of a method", IN("GE"), 0},
    {"a method", IN("GET"), 0},
    {"a method and SP", IN("GET "), 0},
    {"part of a target", IN("GET /ind"), 0},
    {"part of the version", IN("GET / H"), 0},
    {"HTTP/", IN("GET / HTTP/"), 0},
    {"HTTP/1.", IN("GET / HTTP/1."), 0},
    {"the version without CRLF", IN("GET / HTTP/1.1"), 0},
    {"the version and CR", IN("GET / HTTP/1.1\r"), 0},
    {"the request line", IN(RL), 0},
    {"part of a name", IN(RL "Ho"), 0},
    {"a name and colon", IN(RL "Host:"), 0},
    {"a field without CRLF", IN(RL "Host: a"), 0},
    {"a field and CR", IN(RL "Host: a\r"), 0},
    {"a field line", IN(RL H), 0},
    {"a field line and CR", IN(RL H "\r"), 0},
    {"an empty line only", IN(E), 0},
    {"empty lines and a CR", IN(E E "\r"), 0},
    {"a long target under max_uri", IN("GET /aaaaaaaa"), 0, .max_uri = 10},
};

static const head_case invalid_heads[] = {
    /* The request line. */
    {"empty method", IN(" / HTTP/1.1\r\n" H E), -400},
    {"two SP after the method", IN("GET  / HTTP/1.1\r\n" H E), -400},
    {"two SP before the version", IN("GET /  HTTP/1.1\r\n" H E), -400},
    {"HTAB after the method", IN("GET\t/ HTTP/1.1\r\n" H E), -400},
    {"HTAB before the version", IN("GET /\tHTTP/1.1\r\n" H E), -400},
    {"no target", IN("GET HTTP/1.1\r\n" H E), -400},
    {"no version", IN("GET /\r\n" H E), -400},
    {"SP after the version", IN("GET / HTTP/1.1 \r\n" H E), -400},
    {"SP in the target", IN("GET /a b HTTP/1.1\r\n" H E), -400},
    {"lowercase http", IN("GET / http/1.1\r\n" H E), -400},
    {"HTTPS/1.1", IN("GET / HTTPS/1.1\r\n" H E), -400},
    {"HTTP/1", IN("GET / HTTP/1\r\n" H E), -400},
    {"HTTP/1.10", IN("GET / HTTP/1.10\r\n" H E), -400},
    {"HTTP/11.1", IN("GET / HTTP/11.1\r\n" H E), -400},
    {"HTTP/1.1x", IN("GET / HTTP/1.1x\r\n" H E), -400},
    {"HTTP/a.b", IN("GET / HTTP/a.b\r\n" H E), -400},
    {"HTTP/1,1", IN("GET / HTTP/1,1\r\n" H E), -400},
    {"garbage for a version", IN("GET / XXXXXXXXXX\r\n" H E), -400},
    {"HTTP/2.0 is not supported", IN("GET / HTTP/2.0\r\n" H E), -505},
    {"HTTP/1.2 is not supported", IN("GET / HTTP/1.2\r\n" H E), -505},
    {"HTTP/0.9 is not supported", IN("GET / HTTP/0.9\r\n" H E), -505},
    {"HTTP/3.0 is not supported", IN("GET / HTTP/3.0\r\n" H E), -505},
    {"HTTP/9.9 is not supported", IN("GET / HTTP/9.9\r\n" H E), -505},
    {"the HTTP/2 preface", IN("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), -505},
    {"a method of 33 characters",
     IN("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG / HTTP/1.1\r\n" H E), -400},
    {"( in the method", IN("GE(T / HTTP/1.1\r\n" H E), -400},
    {"@ in the method", IN("GE@T / HTTP/1.1\r\n" H E), -400},
    {"/ in the method", IN("GE/T / HTTP/1.1\r\n" H E), -400},
    {"NUL in the method", IN("G\0ET / HTTP/1.1\r\n" H E), -400},
    {"0x80 in the method", IN("G\200ET / HTTP/1.1\r\n" H E), -400},
    {"a bare CR in the method", IN("GE\rT / HTTP/1.1\r\n" H E), -400},
    {"a bare LF in the method", IN("GE\nT / HTTP/1.1\r\n" H E), -400, .by = 3},
    {"a control character in the target", IN("GET /a\x01 HTTP/1.1\r\n" H E),
     -400},
    {"DEL in the target", IN("GET /a\x7f HTTP/1.1\r\n" H E), -400},
    {"NUL in the target", IN("GET /a\0 HTTP/1.1\r\n" H E), -400},
    {"0x80 in the target", IN("GET /caf\xc3\xa9 HTTP/1.1\r\n" H E), -400},
    {"HTAB in the target", IN("GET /a\tb HTTP/1.1\r\n" H E), -400},
    {"a bare CR in the target", IN("GET /a\rb HTTP/1.1\r\n" H E), -400},
    {"a bare LF in the target", IN("GET /a\nb HTTP/1.1\r\n" H E), -400,
     .by = 7},
    {"a bare LF ends the request line", IN("GET / HTTP/1.1\n" H E), -400,
     .by = 15},
    {"a bare LF ends everything", IN("GET / HTTP/1.1\nHost: a\n\n"), -400,
     .by = 15},
    {"CR CR LF ends the request line", IN("GET / HTTP/1.1\r\r\n" H E), -400},
    {"a bare CR ends the request line", IN("GET / HTTP/1.1\r" H E), -400},
    {"a bare LF as a leading empty line", IN("\n" RL H E), -400, .by = 1},
    {"a bare CR as a leading empty line", IN("\rGET / HTTP/1.1\r\n" H E), -400},
    {"CR CR LF as a leading empty line", IN("\r\r\n" RL H E), -400},
    {"nine leading empty lines", IN(E E E E E E E E E RL H E), -400},
    {"target longer than max_uri", IN("GET /1234567890 HTTP/1.1\r\n" H E), -414,
     .max_uri = 10, .by = 15},
    {"target longer than max_uri after an empty line",
     IN(E "GET /1234567890 HTTP/1.1\r\n" H E), -414, .max_uri = 10, .by = 17},
    {"target longer than max_uri, never ending", IN("GET /1234567890123456789"),
     -414, .max_uri = 10, .by = 15},
    {"414 comes before a bad version", IN("GET /1234567890 HTTP/9.9\r\n" H E),
     -414, .max_uri = 10, .by = 15},
    {"a long target in a head over max_head is 431",
     IN("GET /12345678901234567890 HTTP/1.1\r\n" H E), -431, .max_head = 20,
     .max_uri = 100, .by = 21},

    /* Header fields. */
    {"SP before the colon", IN(RL "Host : a\r\n" E), -400},
    {"HTAB before the colon", IN(RL "Host\t: a\r\n" E), -400},
    {"empty name", IN(RL H ": a\r\n" E), -400},
    {"no colon", IN(RL H "X a\r\n" E), -400},
    {"a name and CRLF", IN(RL H "X\r\n" E), -400},
    {"SP inside a name", IN(RL H "X Y: a\r\n" E), -400},
    {"( in a name", IN(RL H "X(Y): a\r\n" E), -400},
    {"@ in a name", IN(RL H "X@Y: a\r\n" E), -400},
    {"\" in a name", IN(RL H "X\"Y: a\r\n" E), -400},
    {"/ in a name", IN(RL H "X/Y: a\r\n" E), -400},
    {"= in a name", IN(RL H "X=Y: a\r\n" E), -400},
    {"[ in a name", IN(RL H "X[Y]: a\r\n" E), -400},
    {", in a name", IN(RL H "X,Y: a\r\n" E), -400},
    {"\\ in a name", IN(RL H "X\\Y: a\r\n" E), -400},
    {"0x80 in a name", IN(RL H "X\x80: a\r\n" E), -400},
    {"NUL in a name", IN(RL H "X\0Y: a\r\n" E), -400},
    {"obs-fold with SP", IN(RL H "X: b\r\n c\r\n" E), -400},
    {"obs-fold with HTAB", IN(RL H "X: b\r\n\tc\r\n" E), -400},
    {"the first field folded", IN(RL " Host: a\r\n" E), -400},
    {"NUL in a value", IN(RL H "X: a\0b\r\n" E), -400},
    {"0x01 in a value", IN(RL H "X: a\001b\r\n" E), -400},
    {"BS in a value", IN(RL H "X: a\bb\r\n" E), -400},
    {"VT ends a value: not whitespace", IN(RL H "X: a\v\r\n" E), -400},
    {"FF starts a value: not whitespace", IN(RL H "X: \fa\r\n" E), -400},
    {"ESC in a value", IN(RL H "X: \x1b[0m\r\n" E), -400},
    {"0x1F in a value", IN(RL H "X: a\x1f\r\n" E), -400},
    {"DEL in a value", IN(RL H "X: a\x7f\r\n" E), -400},
    {"a bare CR in a value", IN(RL H "X: a\rb\r\n" E), -400},
    {"CR CR LF ends a field", IN(RL H "X: a\r\r\n" E), -400},
    {"a bare LF ends a field", IN(RL "Host: a\n" E), -400, .by = 24},
    {"a bare LF inside a value", IN(RL H "X: a\nY: b\r\n" E), -400, .by = 30},
    {"a bare LF as the empty line", IN(RL H "\n"), -400, .by = 26},
    {"a bare CR as the empty line", IN(RL H "\rX" E E), -400},
    {"one field too many", IN(RL H "A: 1\r\nB: 2\r\n" E), -431,
     .max_headers = 2},
    {"no field allowed at all", IN(RL H E), -431, .max_headers = (size_t)-1},
    {"a head one byte over max_head", IN(RL H E), -431, .max_head = 26,
     .by = 27},
    {"a head over max_head that never ends",
     IN(RL "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -431,
     .max_head = 40, .by = 41},
    {"a 400 inside a head over max_head is still 400",
     IN(RL "X: \001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" H E),
     -400, .max_head = 30},
    {"a 400 past max_head is 431: only max_head bytes are looked at",
     IN(RL "X: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x01\r\n" H E), -431,
     .max_head = 40, .by = 41},
    {"a 400 inside a line over max_head, never ending",
     IN(RL "X: \001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -400,
     .max_head = 30, .by = 31},

    /* Content-Length: digits only (Tornado's advisories). */
    {"Content-Length +10", IN(POST "Content-Length: +10\r\n" E), -400},
    {"Content-Length -1", IN(POST "Content-Length: -1\r\n" E), -400},
    {"Content-Length 1_0", IN(POST "Content-Length: 1_0\r\n" E), -400},
    {"Content-Length 0x10", IN(POST "Content-Length: 0x10\r\n" E), -400},
    {"Content-Length 1 0", IN(POST "Content-Length:  1 0\r\n" E), -400},
    {"Content-Length 1.0", IN(POST "Content-Length: 1.0\r\n" E), -400},
    {"Content-Length 1e3", IN(POST "Content-Length: 1e3\r\n" E), -400},
    {"Content-Length 5a", IN(POST "Content-Length: 5a\r\n" E), -400},
    {"Content-Length 5;", IN(POST "Content-Length: 5;\r\n" E), -400},
    {"Content-Length empty", IN(POST "Content-Length:\r\n" E), -400},
    {"Content-Length of OWS only", IN(POST "Content-Length:  \t \r\n" E), -400},
    {"Content-Length list 5, 5", IN(POST "Content-Length: 5, 5\r\n" E), -400},
    {"Content-Length 1,1", IN(POST "Content-Length: 1,1\r\n" E), -400},
    {"Content-Length with NBSP", IN(POST "Content-Length: 5\xa0\r\n" E), -400},
    {"Content-Length with VT", IN(POST "Content-Length: 5\v\r\n" E), -400},
    {"Content-Length of an Arabic-Indic digit",
     IN(POST "Content-Length: \xd9\xa3\r\n" E), -400},
    {"Content-Length of a fullwidth digit",
     IN(POST "Content-Length: \xef\xbc\x95\r\n" E), -400},
    {"Content-Length 2^63 - 8 is too large",
     IN(POST "Content-Length: 9223372036854775800\r\n" E), -400},
    {"Content-Length 2^64 - 1",
     IN(POST "Content-Length: 18446744073709551615\r\n" E), -400},
    {"Content-Length 2^64 (wraps to 0)",
     IN(POST "Content-Length: 18446744073709551616\r\n" E), -400},
    {"Content-Length of 20 nines",
     IN(POST "Content-Length: 99999999999999999999\r\n" E), -400},
    {"two different Content-Length fields",
     IN(POST "Content-Length: 5\r\nContent-Length: 6\r\n" E), -400},
    {"Content-Length 0 then empty",
     IN(POST "Content-Length: 0\r\nContent-Length:\r\n" E), -400},

    /* Transfer-Encoding: exactly one chunked. */
    {"Transfer-Encoding: gzip", IN(POST "Transfer-Encoding: gzip\r\n" E), -501},
    {"Transfer-Encoding: identity",
     IN(POST "Transfer-Encoding: identity\r\n" E), -501},
    {"Transfer-Encoding: deflate", IN(POST "Transfer-Encoding: deflate\r\n" E),
     -501},
    {"Transfer-Encoding: chunkee", IN(POST "Transfer-Encoding: chunkee\r\n" E),
     -501},
    {"Transfer-Encoding: xhunked", IN(POST "Transfer-Encoding: xhunked\r\n" E),
     -501},
    {"Transfer-Encoding: chunked_",
     IN(POST "Transfer-Encoding: chunked_\r\n" E), -501},
    {"Transfer-Encoding: x-custom",
     IN(POST "Transfer-Encoding: x-custom\r\n" E), -501},
    {"Transfer-Encoding: chunked, gzip",
     IN(POST "Transfer-Encoding: chunked, gzip\r\n" E), -501},
    {"Transfer-Encoding: gzip, chunked",
     IN(POST "Transfer-Encoding: gzip, chunked\r\n" E), -501},
    {"Transfer-Encoding chunked, then gzip in another field",
     IN(POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n" E),
     -501},
    {"Transfer-Encoding: chunked,",
     IN(POST "Transfer-Encoding: chunked,\r\n" E), -400},
    {"Transfer-Encoding: , chunked",
     IN(POST "Transfer-Encoding: , chunked\r\n" E), -400},
    {"Transfer-Encoding: chunked,,gzip",
     IN(POST "Transfer-Encoding: chunked,,gzip\r\n" E), -400},
    {"Transfer-Encoding: chu nked",
     IN(POST "Transfer-Encoding: chu nked\r\n" E), -400},
    {"Transfer-Encoding: chunked;x=1",
     IN(POST "Transfer-Encoding: chunked;x=1\r\n" E), -400},
    {"Transfer-Encoding: chunked ;q=1",
     IN(POST "Transfer-Encoding: chunked ;q=1\r\n" E), -400},
    {"Transfer-Encoding: \"chunked\"",
     IN(POST "Transfer-Encoding: \"chunked\"\r\n" E), -400},
    {"Transfer-Encoding with NBSP",
     IN(POST "Transfer-Encoding: chunked\xa0\r\n" E), -400},
    {"Transfer-Encoding with a leading NBSP",
     IN(POST "Transfer-Encoding: \240chunked\r\n" E), -400},
    {"Transfer-Encoding with VT", IN(POST "Transfer-Encoding: chunked\v\r\n" E),
     -400},
    {"Transfer-Encoding empty", IN(POST "Transfer-Encoding:\r\n" E), -400},
    {"Transfer-Encoding: ,", IN(POST "Transfer-Encoding: ,\r\n" E), -400},
    {"Transfer-Encoding: chunked, chunked",
     IN(POST "Transfer-Encoding: chunked, chunked\r\n" E), -400},
    {"two Transfer-Encoding: chunked fields",
     IN(POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n" E),
     -400},
    {"Transfer-Encoding then Content-Length",
     IN(POST "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n" E), -400},
    {"Content-Length then Transfer-Encoding",
     IN(POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n" E), -400},
    {"Transfer-Encoding with Content-Length 0",
     IN(POST "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n" E), -400},
    {"Transfer-Encoding gzip with Content-Length is 400, not 501",
     IN(POST "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n" E), -400},
    {"Transfer-Encoding on HTTP/1.0",
     IN("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n" E), -400},
    {"Transfer-Encoding gzip on HTTP/1.0",
     IN("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n" E), -400},
    {"Transfer-Encoding with SP before the colon",
     IN(POST "Transfer-Encoding : chunked\r\n" E), -400},

    /* Host. */
    {"HTTP/1.1 without Host", IN(RL E), -400},
    {"HTTP/1.1 with other fields but no Host", IN(RL "X: a\r\n" E), -400},
    {"two Host fields", IN(RL H H E), -400},
    {"two Host fields, differently spelt", IN(RL "host: a\r\nHOST: b\r\n" E),
     -400},
    {"an empty Host and another", IN(RL "Host:\r\n" H E), -400},
    {"two Host fields on HTTP/1.0", IN(RL10 H H E), -400},
    {"SP inside Host", IN(RL "Host: a b\r\n" E), -400},
    {"HTAB inside Host", IN(RL "Host: a\tb\r\n" E), -400},
    {"/ in Host", IN(RL "Host: a/b\r\n" E), -400},
    {"userinfo in Host", IN(RL "Host: user@a\r\n" E), -400},
    {"? in Host", IN(RL "Host: a?b\r\n" E), -400},
    {"# in Host", IN(RL "Host: a#b\r\n" E), -400},
    {"\" in Host", IN(RL "Host: \"a\"\r\n" E), -400},
    {"< > in Host", IN(RL "Host: <a>\r\n" E), -400},
    {"\\ in Host", IN(RL "Host: a\\b\r\n" E), -400},
    {"^ in Host", IN(RL "Host: a^b\r\n" E), -400},
    {"` in Host", IN(RL "Host: a`b\r\n" E), -400},
    {"{ | } in Host", IN(RL "Host: {a|b}\r\n" E), -400},
    {"non-ASCII in Host", IN(RL "Host: caf\xc3\xa9\r\n" E), -400},
    {"NBSP in Host", IN(RL "Host: a\xa0\r\n" E), -400},
    {"an invalid Host on HTTP/1.0", IN(RL10 "Host: a b\r\n" E), -400},

    /* Connection and Expect. */
    {"Connection: close;", IN(RL H "Connection: close;\r\n" E), -400},
    {"Connection: clo se", IN(RL H "Connection: clo se\r\n" E), -400},
    {"Connection: \"close\"", IN(RL H "Connection: \"close\"\r\n" E), -400},
    {"Connection with NBSP", IN(RL H "Connection: close\xa0\r\n" E), -400},
    {"Expect with a control character",
     IN(RL H "Expect: 100-continue\x01\r\n" E), -400},
};

static const char *or_default(const char *s, const char *d)
{
    return s != NULL ? s : d;
}

static size_t nexpected(const head_case *c)
{
    size_t n = 0;

    while (n < MAXH && c->hdr[2 * n] != NULL)
        n++;
    return n;
}

static int expected_host(const head_case *c)
{
    for (size_t i = 0; i < nexpected(c); i++)
        if (strlen(c->hdr[2 * i]) == 4 &&
            eddy__http_ieq(c->hdr[2 * i], "host", 4))
            return (int)i;
    return -1;
}

/* Fails the test, naming the case and how it was fed. */
static void failf(const head_case *c, const char *mode, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("'%s', %s: %s", c->what, mode, msg);
}

static int eq(eddy_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static int within(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

/* What a head parses to, checked field by field; buf holds it all. */
static void check_head(const head_case *c, const char *mode, const char *buf,
                       int n, const eddy__http_head *h)
{
    const char *method = or_default(c->method, "GET");
    const char *target = or_default(c->target, "/");
    size_t nh = nexpected(c);

    if (!eq(h->method, method) || !within(h->method.p, h->method.len, buf, n))
        failf(c, mode, "method '%.*s', want '%s'", (int)h->method.len,
              h->method.p, method);
    if (!eq(h->target, target) || !within(h->target.p, h->target.len, buf, n))
        failf(c, mode, "target '%.*s', want '%s'", (int)h->target.len,
              h->target.p, target);
    if (h->version != (c->v ? c->v : 11))
        failf(c, mode, "version %d", h->version);
    if (h->nheaders != nh)
        failf(c, mode, "%zu fields, want %zu", h->nheaders, nh);
    for (size_t i = 0; i < nh; i++) {
        const eddy_http_header *f = &h->headers[i];
        eddy_str name = {f->name, f->name_len},
                 value = {f->value, f->value_len};

        if (!eq(name, c->hdr[2 * i]) || !eq(value, c->hdr[2 * i + 1]))
            failf(c, mode, "field %zu is '%.*s: %.*s', want '%s: %s'", i,
                  (int)name.len, name.p, (int)value.len, value.p, c->hdr[2 * i],
                  c->hdr[2 * i + 1]);
        if (!within(name.p, name.len, buf, n) ||
            !within(value.p, value.len, buf, n))
            failf(c, mode, "field %zu does not point into the head", i);
    }
    if (h->host != expected_host(c))
        failf(c, mode, "host index %d, want %d", h->host, expected_host(c));
    if (h->has_length != (c->cl != NULL) ||
        (c->cl != NULL && h->content_length != strtoull(c->cl, NULL, 10)))
        failf(c, mode, "content length %d/%llu, want %s", h->has_length,
              (unsigned long long)h->content_length, or_default(c->cl, "none"));
    if (h->chunked != c->chunked)
        failf(c, mode, "chunked %d, want %d", h->chunked, c->chunked);
    if (h->connection != c->conn)
        failf(c, mode, "connection %d, want %d", h->connection, c->conn);
    if (h->expect_continue != c->expect)
        failf(c, mode, "expect_continue %d", h->expect_continue);
    if (h->skipped != c->skipped)
        failf(c, mode, "skipped %zu, want %zu", h->skipped, c->skipped);
}

static eddy_http_header hdr_store[HDR_CAP + 1];
static eddy__http_head head;

static void fresh(eddy__http_parser *ps, const head_case *c)
{
    memset(ps, 0, sizeof *ps);
    ps->max_head = c->max_head ? c->max_head : 65536;
    ps->max_uri = c->max_uri ? c->max_uri : 8192;
}

/* One call, with the head scribbled over first and the slot after the
 * last usable field watched. */
static int parse_at(eddy__http_parser *ps, const head_case *c, const char *mode,
                    const char *buf, size_t len)
{
    size_t maxh = c->max_headers == (size_t)-1 ? 0
                  : c->max_headers             ? c->max_headers
                                               : 100;
    int r;

    memset(&head, 0xa5, sizeof head);
    head.headers = hdr_store;
    head.max_headers = maxh;
    memset(&hdr_store[maxh], 0x5a, sizeof hdr_store[0]);
    r = eddy__http_parse_head(ps, buf, len, &head);
    for (size_t i = 0; i < sizeof hdr_store[0]; i++)
        if (((unsigned char *)&hdr_store[maxh])[i] != 0x5a)
            failf(c, mode, "wrote past max_headers");
    return r;
}

static int want_len(const head_case *c)
{
    return c->want == OK ? (int)c->len : c->want;
}

/* A head is fed whole, byte by byte, and split at every point. */
static void run_head_case(void **state)
{
    const head_case *c = *state;
    int want = want_len(c);
    eddy__http_parser ps;
    const char *buf;
    char mode[64];
    int r;

    fresh(&ps, c);
    buf = place(c->in, c->len);
    r = parse_at(&ps, c, "whole", buf, c->len);
    if (r != want)
        failf(c, "whole", "got %d, want %d", r, want);
    if (want > 0)
        check_head(c, "whole", buf, want, &head);

    fresh(&ps, c);
    for (size_t k = 1; k <= c->len; k++) {
        snprintf(mode, sizeof mode, "byte by byte, prefix %zu", k);
        buf = place(c->in, k);
        r = parse_at(&ps, c, mode, buf, k);
        if (r == 0 && (want <= 0 || k < (size_t)want)) {
            if (k == c->len && want != 0)
                failf(c, mode, "still incomplete, want %d", want);
            if (want < 0 && c->by != 0 && k >= c->by)
                failf(c, mode, "still 0, want %d by prefix %zu", want, c->by);
            continue;
        }
        if (r != want || (want > 0 && k != (size_t)want))
            failf(c, mode, "got %d, want %d", r, want);
        if (want > 0)
            check_head(c, mode, buf, want, &head);
        break;
    }

    for (size_t k = 1; k < c->len; k++) {
        snprintf(mode, sizeof mode, "split at %zu", k);
        fresh(&ps, c);
        buf = place(c->in, k);
        r = parse_at(&ps, c, mode, buf, k);
        if (r != 0) {
            if (r != want || (want > 0 && k < (size_t)want))
                failf(c, mode, "first part gives %d, want %d", r, want);
            continue;
        }
        buf = place(c->in, c->len);
        r = parse_at(&ps, c, mode, buf, c->len);
        if (r != want)
            failf(c, mode, "got %d, want %d", r, want);
        if (want > 0)
            check_head(c, mode, buf, want, &head);
    }
}

/* --- heads: beyond the table --- */

static int parse_simple(eddy__http_parser *ps, const char *buf, size_t len,
                        eddy__http_head *h, eddy_http_header *hdrs, size_t maxh)
{
    h->headers = hdrs;
    h->max_headers = maxh;
    return eddy__http_parse_head(ps, buf, len, h);
}

static void simple_parser(eddy__http_parser *ps, size_t max_head,
                          size_t max_uri)
{
    memset(ps, 0, sizeof *ps);
    ps->max_head = max_head;
    ps->max_uri = max_uri;
}

/* Builds a head of exactly len bytes out of 100-byte filler fields. */
static char *big_head(size_t len, size_t *nfields)
{
    static const char start[] = RL H;
    char *b = malloc(len + 1);
    size_t at = sizeof start - 1, n = 1;

    assert_non_null(b);
    memcpy(b, start, at);
    while (len - at - 2 > 0) {
        size_t room = len - at - 2, line = room >= 200 ? 100 : room;
        int w = snprintf(b + at, line + 1, "X-Filler-%05zu: ", n);

        assert_true(w > 0 && (size_t)w + 2 <= line);
        memset(b + at + w, 'v', line - (size_t)w - 2);
        memcpy(b + at + line - 2, "\r\n", 2);
        at += line;
        n++;
    }
    memcpy(b + at, "\r\n", 2);
    b[len] = '\0';
    *nfields = n;
    return b;
}

/*
 * A 64 KiB head dribbled a byte at a time completes, and costs linear
 * time: counted, not timed.  A call that parses everything again resets
 * h->nheaders, so the bytes such calls covered are summed and must stay a
 * small multiple of the head (a parser starting over on every byte would
 * cover len * len / 2).
 */
static void dribbled_64k_head(void **state)
{
    size_t len = 65536, nfields, reparsed = 0, calls = 0;
    char *src = big_head(len, &nfields);
    const char *buf = place(src, len);
    eddy_http_header *hdrs = calloc(nfields, sizeof *hdrs);
    eddy__http_parser ps;
    eddy__http_head h;
    int r = 0;

    (void)state;
    assert_non_null(hdrs);
    simple_parser(&ps, len, 8192);
    for (size_t k = 1; k <= len; k++) {
        h.nheaders = (size_t)-1;
        r = parse_simple(&ps, buf, k, &h, hdrs, nfields);
        calls++;
        if (h.nheaders != (size_t)-1)
            reparsed += k;
        if (r != 0)
            break;
    }
    assert_int_equal(r, (int)len);
    assert_int_equal(calls, len);
    assert_int_equal(h.nheaders, nfields);
    assert_true(reparsed <= 2 * len);

    /* One byte over max_head is 431, dribbled as well. */
    simple_parser(&ps, len - 1, 8192);
    for (size_t k = 1;
         k <= len && (r = parse_simple(&ps, buf, k, &h, hdrs, nfields)) == 0;
         k++)
        ;
    assert_int_equal(r, -431);
    free(hdrs);
    free(src);
}

/* A long target dribbled costs linear time too, and the 414 comes as soon
 * as the target passes max_uri, with or without leading empty lines. */
static void dribbled_long_target(void **state)
{
    size_t tlen = 60000, len = 2 + 4 + tlen + 11 + 9 + 2, reparsed = 0;
    char *src = malloc(len);
    const char *buf;
    eddy_http_header hdrs[4];
    eddy__http_parser ps;
    eddy__http_head h;
    int r = 0;
    size_t k;

    (void)state;
    assert_non_null(src);
    memcpy(src, "\r\nGET /", 7);
    memset(src + 7, 'a', tlen - 1);
    memcpy(src + 6 + tlen, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
    buf = place(src, len);
    simple_parser(&ps, 65536, 65536);
    for (k = 1; k <= len; k++) {
        h.nheaders = (size_t)-1;
        r = parse_simple(&ps, buf, k, &h, hdrs, 4);
        if (h.nheaders != (size_t)-1)
            reparsed += k;
        if (r != 0)
            break;
    }
    assert_int_equal(r, (int)len);
    assert_int_equal(h.target.len, tlen);
    assert_true(reparsed <= 2 * len);

    for (size_t skip = 0; skip <= 2; skip += 2) {
        simple_parser(&ps, 65536, 8192);
        for (k = 1; k <= len - skip; k++)
            if ((r = parse_simple(&ps, buf + skip, k, &h, hdrs, 4)) != 0)
                break;
        assert_int_equal(r, -414);
        assert_int_equal(k, 2 - skip + 4 + 8193);
    }
    free(src);
}

/*
 * Errors and how they show when the bytes come in pieces.  Parsed whole, a
 * head gives its error as soon as its first max_head bytes show it,
 * complete or not; a prefix that may still become valid gives 0.  Fed in
 * pieces, the parser scans only the new bytes for the end of the head (or
 * a bare LF), so an error before the end is reported when the end arrives,
 * or a bare LF, or when max_head or max_uri is passed, whichever comes
 * first; never with another status than the whole input gets.
 */
static void late_errors(void **state)
{
    static const char *bad[] = {
        RL "Host: a\x01",
        RL "X Y",
        "GET / XXXXXXXXXXXX",
        RL "Host: a\rb",
    };
    eddy_http_header hdrs[8];
    eddy__http_parser ps;
    eddy__http_head h;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        char *full = malloc(len + 5);
        int r = 0;

        assert_non_null(full);
        simple_parser(&ps, 1000, 100);
        assert_int_equal(
            parse_simple(&ps, place(bad[i], len), len, &h, hdrs, 8), -400);
        simple_parser(&ps, 1000, 100);
        assert_int_equal(parse_simple(&ps, place(bad[i], 1), 1, &h, hdrs, 8),
                         0);
        r = parse_simple(&ps, place(bad[i], len), len, &h, hdrs, 8);
        assert_true(r == 0 || r == -400);
        /* The end of the head brings the error. */
        memcpy(full, bad[i], len);
        memcpy(full + len, "\r\n\r\n", 4);
        assert_int_equal(
            parse_simple(&ps, place(full, len + 4), len + 4, &h, hdrs, 8),
            -400);
        free(full);
    }
}

/* The fields point into the caller's bytes: nothing is copied. */
static void zero_copy(void **state)
{
    static const char req[] = E RL "Host: example.com\r\nX: y\r\n" E;
    eddy_http_header hdrs[4];
    eddy__http_parser ps;
    eddy__http_head h;
    const char *buf = place(req, sizeof req - 1);

    (void)state;
    simple_parser(&ps, 1000, 100);
    assert_int_equal(parse_simple(&ps, buf, sizeof req - 1, &h, hdrs, 4),
                     (int)sizeof req - 1);
    assert_ptr_equal(h.method.p, buf + 2);
    assert_ptr_equal(h.target.p, buf + 6);
    assert_ptr_equal(hdrs[0].name, buf + 18);
    assert_ptr_equal(hdrs[0].value, buf + 24);
    assert_ptr_equal(hdrs[1].value, buf + 40);
    assert_ptr_equal(h.headers, hdrs);
}

/* Pipelined requests parse one after the other with a fresh state. */
static void pipelined(void **state)
{
    static const char reqs[] =
        RL H E "POST /b HTTP/1.1\r\n" H "Content-Length: 2\r\n" E "hi" RL10 E;
    eddy_http_header hdrs[4];
    eddy__http_parser ps;
    eddy__http_head h;
    const char *buf = place(reqs, sizeof reqs - 1);
    size_t at = 0;
    int n;

    (void)state;
    simple_parser(&ps, 1000, 100);
    n = parse_simple(&ps, buf, sizeof reqs - 1, &h, hdrs, 4);
    assert_int_equal(n, 27);
    at += (size_t)n;
    simple_parser(&ps, 1000, 100);
    n = parse_simple(&ps, buf + at, sizeof reqs - 1 - at, &h, hdrs, 4);
    assert_int_equal(n, 48);
    assert_true(eq(h.target, "/b"));
    assert_int_equal(h.content_length, 2);
    at += (size_t)n + 2;
    simple_parser(&ps, 1000, 100);
    n = parse_simple(&ps, buf + at, sizeof reqs - 1 - at, &h, hdrs, 4);
    assert_int_equal(n, 18);
    assert_int_equal(h.version, 10);
    assert_int_equal(at + 18, sizeof reqs - 1);
}

/* No bytes at all, even from a NULL pointer, is "more needed". */
static void empty_input(void **state)
{
    eddy_http_header hdrs[1];
    eddy__http_parser ps;
    eddy__http_head h;

    (void)state;
    simple_parser(&ps, 1000, 100);
    assert_int_equal(parse_simple(&ps, NULL, 0, &h, hdrs, 1), 0);
    assert_int_equal(parse_simple(&ps, place("", 0), 0, &h, hdrs, 1), 0);
    assert_int_equal(parse_simple(&ps, place(RL10 E, 18), 18, &h, hdrs, 1), 18);
}

/* The token table is RFC 9110's tchar, exactly. */
static void token_table(void **state)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    (void)state;
    for (int ch = 0; ch < 256; ch++) {
        int want = ch != 0 && strchr(tchar, ch) != NULL;

        if (!eddy__http_is_token((unsigned char)ch) != !want)
            fail_msg("0x%02x: is_token %d, want %d", ch,
                     eddy__http_is_token((unsigned char)ch), want);
    }
}

static void ieq(void **state)
{
    (void)state;
    assert_true(eddy__http_ieq("Content-Length", "content-length", 14));
    assert_true(eddy__http_ieq("CHUNKED", "chunked", 7));
    assert_true(eddy__http_ieq("", "", 0));
    assert_true(eddy__http_ieq("abc", "abd", 2));
    assert_false(eddy__http_ieq("chunkee", "chunked", 7));
    /* Only ASCII letters fold: '@' is not '`', '[' is not '{'. */
    assert_false(eddy__http_ieq("@", "`", 1));
    assert_false(eddy__http_ieq("[", "{", 1));
    assert_false(eddy__http_ieq("\xc1", "\xe1", 1));
}

/* A field count at max_headers works for every count, and one more is 431. */
static void many_fields(void **state)
{
    static eddy_http_header hdrs[HDR_CAP];
    static char req[HDR_CAP * 16 + 64];
    eddy__http_parser ps;
    eddy__http_head h;

    (void)state;
    for (size_t n = 1; n <= 1000; n = n * 3 + 1) {
        size_t len = 0;

        len += (size_t)sprintf(req + len, RL H);
        for (size_t i = 1; i < n; i++)
            len += (size_t)sprintf(req + len, "X-%zu: %zu\r\n", i, i);
        len += (size_t)sprintf(req + len, E);
        simple_parser(&ps, 65536, 100);
        assert_int_equal(parse_simple(&ps, place(req, len), len, &h, hdrs, n),
                         (int)len);
        assert_int_equal(h.nheaders, n);
        simple_parser(&ps, 65536, 100);
        assert_int_equal(
            parse_simple(&ps, place(req, len), len, &h, hdrs, n - 1), -431);
    }
}

/*
 * Every byte value at every position of a method, a target, a field name
 * and a field value, at lengths around the 8- and 16-byte blocks the
 * scanners read, against the grammar written out here independently of
 * parser.c's table.  CR and LF change the structure; the tables cover them.
 */
enum { F_METHOD, F_TARGET, F_NAME, F_VALUE };

static int allowed(int field, int ch, size_t k)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    int tok = ch != 0 && strchr(tchar, ch) != NULL;

    switch (field) {
    case F_METHOD:
        return tok;
    case F_TARGET:
        return ch > 0x20 && ch < 0x7f;
    case F_NAME:
        return tok || (ch == ':' && k > 0);
    default:
        return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
    }
}

static void one_byte(int field, size_t len, size_t k, int ch)
{
    static eddy_http_header hdrs[4];
    char part[64], req[256];
    eddy__http_parser ps;
    eddy__http_head h;
    size_t n;
    int r, want;

    memset(part, field == F_TARGET ? 't' : field == F_VALUE ? 'v' : 'M', len);
    if (field == F_TARGET)
        part[0] = '/';
    if (field == F_NAME)
        part[0] = 'N';
    part[k] = (char)ch;
    n = 0;
#define PUT(p, l) (memcpy(req + n, (p), (l)), n += (l))
    PUT(field == F_METHOD ? part : "GET", field == F_METHOD ? len : 3);
    PUT(" ", 1);
    PUT(field == F_TARGET ? part : "/", field == F_TARGET ? len : 1);
    PUT(" HTTP/1.1\r\nHost: a\r\n", 20);
    PUT(field == F_NAME ? part : "N", field == F_NAME ? len : 1);
    PUT(": ", 2);
    PUT(field == F_VALUE ? part : "v", field == F_VALUE ? len : 1);
    PUT("\r\n\r\n", 4);
#undef PUT
    want = allowed(field, ch, k) ? (int)n : -400;
    if (field == F_METHOD && len > 32)
        want = -400;
    simple_parser(&ps, 65536, 8192);
    r = parse_simple(&ps, place(req, n), n, &h, hdrs, 4);
    if (r != want)
        fail_msg("field %d of %zu bytes, 0x%02x at %zu: %d, want %d", field,
                 len, ch, k, r, want);
    if (r > 0 && field == F_VALUE && ch != ' ' && ch != '\t' &&
        (hdrs[1].value_len != len || memcmp(hdrs[1].value, part, len) != 0))
        fail_msg("value of %zu bytes, 0x%02x at %zu: wrong value", len, ch, k);
    if (r > 0 && field == F_NAME && ch != ':' && hdrs[1].name_len != len)
        fail_msg("name of %zu bytes, 0x%02x at %zu: wrong name", len, ch, k);
}

static void every_byte_everywhere(void **state)
{
    static const unsigned char some[] = {
        0x00, 0x01, 0x09, 0x1f, ' ',  '"',  '(',  ',', '/', ':', '@',
        '[',  '{',  '}',  '~',  0x7f, 0x80, 0xff, '0', '_', '-', 'A'};

    (void)state;
    for (int field = F_METHOD; field <= F_VALUE; field++) {
        for (size_t k = 0; k < 33; k++)
            for (int ch = 0; ch < 256; ch++)
                if (ch != '\r' && ch != '\n')
                    one_byte(field, 33, k, ch);
        for (size_t len = 1; len <= 40; len++)
            for (size_t k = 0; k < len; k++)
                for (size_t i = 0; i < sizeof some; i++)
                    one_byte(field, len, k, some[i]);
    }
}

/* --- the chunked decoder --- */

typedef struct chunk_case {
    const char *what;
    const char *in;
    size_t len;
    int want;         /* 0 or -400 */
    const char *body; /* the data (before the error); NULL: none */
    size_t blen;
    size_t used; /* bytes taken up to the end; 0: all */
    int open;    /* all taken, and the body not over yet */
    size_t max_trailer;
} chunk_case;

#define BODY(s) .body = (s), .blen = sizeof(s) - 1

static const chunk_case chunk_cases[] = {
    {"only the last chunk", IN("0\r\n\r\n"), 0},
    {"one chunk", IN("5\r\nhello\r\n0\r\n\r\n"), 0, BODY("hello")},
    {"three chunks", IN("5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"), 0,
     BODY("hello world")},
    {"uppercase hex", IN("A\r\n0123456789\r\n0\r\n\r\n"), 0,
     BODY("0123456789")},
    {"lowercase hex", IN("a\r\n0123456789\r\n0\r\n\r\n"), 0,
     BODY("0123456789")},
    {"mixed-case hex", IN("1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"), 0,
     BODY("abcdefghijklmnopqrstuvwxyz")},
    {"a chunk of 0x100 bytes",
     IN("100\r\n"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "\r\n0\r\n\r\n"),
     0,
     BODY("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")},
    {"leading zeros", IN("0005\r\nhello\r\n000\r\n\r\n"), 0, BODY("hello")},
    {"data holding CRLF, LF and NUL", IN("6\r\n\r\n\n\0\r\n\r\n0\r\n\r\n"), 0,
     BODY("\r\n\n\0\r\n")},
    {"an extension name", IN("5;name\r\nhello\r\n0\r\n\r\n"), 0, BODY("hello")},
    {"an extension with a token", IN("5;name=value\r\nhello\r\n0\r\n\r\n"), 0,
     BODY("hello")},
    {"an extension with a quoted string",
     IN("5;name=\"a value; with = signs\"\r\nhello\r\n0\r\n\r\n"), 0,
     BODY("hello")},
    {"a quoted string with escapes",
     IN("5;a=\"q\\\"x\\\\y\\\tz\"\r\nhello\r\n0\r\n\r\n"), 0, BODY("hello")},
    {"a quoted string with HTAB and obs-text",
     IN("5;a=\"\t\xc3\xa9\xff\"\r\nhello\r\n0\r\n\r\n"), 0, BODY("hello")},
    {"an empty quoted string", IN("5;a=\"\"\r\nhello\r\n0\r\n\r\n"), 0,
     BODY("hello")},
    {"several extensions", IN("5;a=1;b;c=\"x\"\r\nhello\r\n0\r\n\r\n"), 0,
     BODY("hello")},
    {"BWS around ; and =", IN("5 \t; a \t= \tb ;c\r\nhello\r\n0\r\n\r\n"), 0,
     BODY("hello")},
    {"BWS before ; after a quoted string",
     IN("5;a=\"x\" ;b\r\nhello\r\n0\r\n\r\n"), 0, BODY("hello")},
    {"an extension on the last chunk", IN("0;done=1\r\n\r\n"), 0},
    {"a trailer field", IN("0\r\nX-Trailer: v\r\n\r\n"), 0},
    {"trailer fields",
     IN("5\r\nhello\r\n0\r\nA: 1\r\nb:\r\nC:  x y \t\r\n\r\n"), 0,
     BODY("hello")},
    {"a trailer of every tchar and obs-text",
     IN("0\r\n!#$%&'*+-.^_`|~09AZaz: \xa0\xff\"\\:\r\n\r\n"), 0},
    {"bytes after the body are left", IN("5\r\nhello\r\n0\r\n\r\nGET /"), 0,
     BODY("hello"), .used = 15},
    {"trailers of exactly max_trailer, the last CRLF counted",
     IN("0\r\nA: 123\r\n\r\n"), 0, .max_trailer = 10},

    {"a body not over yet", IN("5\r\nhel"), 0, BODY("hel"), .open = 1},
    {"a size line not over yet", IN("5;a=\"x"), 0, .open = 1},
    {"data without its CRLF yet", IN("5\r\nhello"), 0, BODY("hello"),
     .open = 1},
    {"trailers not over yet", IN("0\r\nX: 1\r\n"), 0, .open = 1},

    {"data not followed by CRLF", IN("5\r\nhelloX\r\n0\r\n\r\n"), -400,
     BODY("hello")},
    {"data followed by a bare LF", IN("5\r\nhello\n0\r\n\r\n"), -400,
     BODY("hello")},
    {"data followed by a bare CR", IN("5\r\nhello\r0\r\n\r\n"), -400,
     BODY("hello")},
    {"more data than the size", IN("3\r\nhello\r\n0\r\n\r\n"), -400,
     BODY("hel")},
    {"a size line ending in a bare LF", IN("5\nhello\r\n0\r\n\r\n"), -400},
    {"a size line ending in CR CR LF", IN("5\r\r\nhello\r\n0\r\n\r\n"), -400},
    {"a last-chunk line ending in a bare LF", IN("0\n\r\n"), -400},
    {"a non-hex size", IN("g\r\nhello\r\n0\r\n\r\n"), -400},
    {"a size with a sign", IN("+5\r\nhello\r\n0\r\n\r\n"), -400},
    {"a negative size", IN("-5\r\nhello\r\n0\r\n\r\n"), -400},
    {"a size with 0x", IN("0x5\r\nhello\r\n0\r\n\r\n"), -400},
    {"a size with an underscore", IN("0_5\r\nhello\r\n0\r\n\r\n"), -400},
    {"SP before the size", IN(" 5\r\nhello\r\n0\r\n\r\n"), -400},
    {"an empty size", IN("\r\nhello\r\n0\r\n\r\n"), -400},
    {"an extension without a size", IN(";a=b\r\nhello\r\n0\r\n\r\n"), -400},
    {"SP after the size", IN("5 \r\nhello\r\n0\r\n\r\n"), -400},
    {"HTAB after the size", IN("5\t\r\nhello\r\n0\r\n\r\n"), -400},
    {"SP inside the size", IN("5 5\r\n"), -400},
    {"SP after the last chunk's size", IN("0 \r\n\r\n"), -400},
    {"17 hex digits", IN("10000000000000000\r\n"), -400},
    {"16 hex digits over 2^63 - 1", IN("8000000000000000\r\n"), -400},
    {"FFFFFFFFFFFFFFFF", IN("FFFFFFFFFFFFFFFF\r\n"), -400},
    {"an empty extension", IN("5;\r\nhello\r\n0\r\n\r\n"), -400},
    {"an extension without a name", IN("5;=b\r\nhello\r\n0\r\n\r\n"), -400},
    {"an extension without a value", IN("5;a=\r\nhello\r\n0\r\n\r\n"), -400},
    {"SP inside an extension name", IN("5;a b\r\nhello\r\n0\r\n\r\n"), -400},
    {"SP inside an extension value", IN("5;a=b c\r\nhello\r\n0\r\n\r\n"), -400},
    {"SP after an extension name", IN("5;a \r\nhello\r\n0\r\n\r\n"), -400},
    {"SP after an extension value", IN("5;a=b \r\nhello\r\n0\r\n\r\n"), -400},
    {"SP after a quoted value", IN("5;a=\"b\" \r\nhello\r\n0\r\n\r\n"), -400},
    {"@ in an extension name", IN("5;a@b\r\nhello\r\n0\r\n\r\n"), -400},
    {"@ in an extension value", IN("5;a=b@c\r\nhello\r\n0\r\n\r\n"), -400},
    {"text after a quoted value", IN("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n"), -400},
    {"an unterminated quoted value", IN("5;a=\"b\r\nhello\r\n0\r\n\r\n"), -400},
    {"a control character in a quoted value",
     IN("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n"), -400},
    {"an escaped CR in a quoted value",
     IN("5;a=\"\\\r\"\r\nhello\r\n0\r\n\r\n"), -400},
    {"a bare LF in an extension", IN("5;a\nhello\r\n0\r\n\r\n"), -400},
    {"two equals signs", IN("5;a==b\r\nhello\r\n0\r\n\r\n"), -400},
    {"a trailer with SP before the colon", IN("0\r\nX : v\r\n\r\n"), -400},
    {"a trailer without a name", IN("0\r\n: v\r\n\r\n"), -400},
    {"a trailer without a colon", IN("0\r\nX\r\n\r\n"), -400},
    {"a folded trailer", IN("0\r\nX: a\r\n b\r\n\r\n"), -400},
    {"a control character in a trailer", IN("0\r\nX: a\x01\r\n\r\n"), -400},
    {"DEL in a trailer", IN("0\r\nX: a\x7f\r\n\r\n"), -400},
    {"a trailer ending in a bare LF", IN("0\r\nX: a\n\r\n"), -400},
    {"a trailer with a bare CR", IN("0\r\nX: a\rb\r\n\r\n"), -400},
    {"the last line a bare LF", IN("0\r\n\n"), -400},
    {"the last line a bare CR", IN("0\r\n\rX"), -400},
    {"the last line CR CR", IN("0\r\nX: 1\r\n\r\r"), -400},
    {"trailers over max_trailer", IN("0\r\nA: 1234\r\n\r\n"), -400,
     .max_trailer = 10},
};

/* The longest run of the decoder: whole, byte by byte, or split. */
typedef struct chunk_run {
    int ret;
    size_t used;
    int done;
    char body[4096];
    size_t blen;
} chunk_run;

static void failc(const chunk_case *c, const char *mode, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("'%s', %s: %s", c->what, mode, msg);
}

/* Feeds src[0, n), copied against the guard page, until it is all taken,
 * the body ends, or an error. */
static void feed(const chunk_case *c, const char *mode, eddy__chunked *ck,
                 const char *src, size_t n, chunk_run *run)
{
    const char *buf = place(src, n);
    size_t at = 0;

    while (at < n && run->ret == 0 && !run->done) {
        const char *data;
        size_t dlen;
        long r = eddy__chunked_feed(ck, buf + at, n - at, &data, &dlen);

        if (r < 0) {
            run->ret = (int)r;
            return;
        }
        if (r == 0 || (size_t)r > n - at)
            failc(c, mode, "took %ld of %zu", r, n - at);
        if (dlen != 0 && (data < buf + at || data + dlen > buf + at + r))
            failc(c, mode, "data outside the bytes taken");
        if (run->blen + dlen > sizeof run->body)
            failc(c, mode, "too much data");
        memcpy(run->body + run->blen, data, dlen);
        run->blen += dlen;
        at += (size_t)r;
        run->used += (size_t)r;
        run->done = eddy__chunked_done(ck);
    }
}

static void check_chunk_run(const chunk_case *c, const char *mode,
                            const eddy__chunked *ck, const chunk_run *run)
{
    size_t used = c->used ? c->used : c->len;

    if (run->ret != c->want)
        failc(c, mode, "got %d, want %d", run->ret, c->want);
    if (run->blen != c->blen ||
        memcmp(run->body, c->body ? c->body : "", c->blen) != 0)
        failc(c, mode, "body '%.*s' (%zu), want '%.*s'", (int)run->blen,
              run->body, run->blen, (int)c->blen, c->body ? c->body : "");
    if (c->want == 0 && run->used != used)
        failc(c, mode, "took %zu, want %zu", run->used, used);
    if (c->want == 0 && run->done != !c->open)
        failc(c, mode, "done %d", run->done);
    if (run->done != eddy__chunked_done(ck))
        failc(c, mode, "done changed");
}

static void chunk_start(eddy__chunked *ck, const chunk_case *c, chunk_run *run)
{
    memset(ck, 0, sizeof *ck);
    ck->max_trailer = c->max_trailer;
    memset(run, 0, sizeof *run);
}

static void run_chunk_case(void **state)
{
    const chunk_case *c = *state;
    eddy__chunked ck;
    chunk_run run;
    char mode[64];

    chunk_start(&ck, c, &run);
    feed(c, "whole", &ck, c->in, c->len, &run);
    check_chunk_run(c, "whole", &ck, &run);
    /* Once over, it takes nothing more. */
    if (run.done) {
        const char *data;
        size_t dlen;

        assert_int_equal(eddy__chunked_feed(&ck, "0\r\n\r\n", 5, &data, &dlen),
                         0);
        assert_int_equal(dlen, 0);
    }

    chunk_start(&ck, c, &run);
    for (size_t i = 0; i < c->len && run.ret == 0 && !run.done; i++)
        feed(c, "byte by byte", &ck, c->in + i, 1, &run);
    check_chunk_run(c, "byte by byte", &ck, &run);

    for (size_t k = 1; k < c->len; k++) {
        snprintf(mode, sizeof mode, "split at %zu", k);
        chunk_start(&ck, c, &run);
        feed(c, mode, &ck, c->in, k, &run);
        if (run.ret == 0 && !run.done)
            feed(c, mode, &ck, c->in + k, c->len - k, &run);
        check_chunk_run(c, mode, &ck, &run);
    }
}

/* Feeds a whole string; returns the last result. */
static long chunk_all(eddy__chunked *ck, const char *s, size_t n)
{
    const char *buf = place(s, n), *data;
    size_t at = 0, dlen;
    long r = 0;

    while (at < n && !eddy__chunked_done(ck)) {
        if ((r = eddy__chunked_feed(ck, buf + at, n - at, &data, &dlen)) <= 0)
            return r;
        at += (size_t)r;
    }
    return (long)at;
}

/* Feeds a NUL-terminated string whole. */
#define CHUNK_ALL(ck, s) chunk_all((ck), (s), strlen(s))

/* A line of n bytes, CRLF included: head, then fill up to the CRLF. */
static size_t make_line(char *buf, const char *start, char fill, size_t n)
{
    size_t h = strlen(start);

    memcpy(buf, start, h);
    memset(buf + h, fill, n - 2 - h);
    memcpy(buf + n - 2, "\r\n", 2);
    return n;
}

/* The largest size taken, and what the line limit (4096 bytes with the
 * CRLF, for a size line and a trailer line alike) allows. */
static void chunk_limits(void **state)
{
    static char in[8192];
    eddy__chunked ck;
    size_t n;

    (void)state;
    memset(&ck, 0, sizeof ck);
    assert_int_equal(CHUNK_ALL(&ck, "7FFFFFFFFFFFFFFF\r\n"), 18);
    assert_int_equal(ck.size, INT64_MAX);
    assert_false(eddy__chunked_done(&ck));
    memset(&ck, 0, sizeof ck);
    assert_int_equal(
        CHUNK_ALL(&ck, "00000000000000000000007fffffffffffffff\r\n"), 40);
    assert_int_equal(ck.size, INT64_MAX);

    for (size_t len = 4095; len <= 4097; len++) {
        long want = len <= 4096 ? 0 : -400;

        /* Zeros leading a size. */
        memset(&ck, 0, sizeof ck);
        n = make_line(in, "", '0', len);
        in[n - 3] = '5';
        n += (size_t)sprintf(in + n, "hello\r\n0\r\n\r\n");
        assert_int_equal(chunk_all(&ck, in, n), want ? want : (long)n);

        /* An extension. */
        memset(&ck, 0, sizeof ck);
        n = make_line(in, "5;", 'x', len);
        n += (size_t)sprintf(in + n, "hello\r\n0\r\n\r\n");
        assert_int_equal(chunk_all(&ck, in, n), want ? want : (long)n);

        /* A trailer field. */
        memset(&ck, 0, sizeof ck);
        memcpy(in, "0\r\n", 3);
        n = 3 + make_line(in + 3, "X: ", 'v', len);
        n += (size_t)sprintf(in + n, "\r\n");
        assert_int_equal(chunk_all(&ck, in, n), want ? want : (long)n);
    }
}

/* Trailers: 16 KiB by default, every line and the last CRLF counted. */
static void chunk_trailer_total(void **state)
{
    static char in[20000];
    eddy__chunked ck;

    (void)state;
    for (size_t total = 16383; total <= 16385; total++) {
        size_t n = 3, left = total - 2;

        memcpy(in, "0\r\n", 3);
        while (left > 0) {
            size_t line = left >= 200 ? 100 : left;

            n += make_line(in + n, "X: ", 'v', line);
            left -= line;
        }
        memcpy(in + n, "\r\n", 2);
        n += 2;
        memset(&ck, 0, sizeof ck);
        assert_int_equal(chunk_all(&ck, in, n),
                         total <= 16384 ? (long)n : -400);
    }
}

/* A chunk's data comes out in as few spans as the input allows, each
 * pointing into the input: nothing is copied. */
static void chunk_zero_copy(void **state)
{
    static const char in[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    const char *buf = place(in, sizeof in - 1), *data;
    eddy__chunked ck;
    size_t dlen;

    (void)state;
    memset(&ck, 0, sizeof ck);
    assert_int_equal(eddy__chunked_feed(&ck, buf, sizeof in - 1, &data, &dlen),
                     8);
    assert_ptr_equal(data, buf + 3);
    assert_int_equal(dlen, 5);
    assert_int_equal(
        eddy__chunked_feed(&ck, buf + 8, sizeof in - 9, &data, &dlen), 11);
    assert_ptr_equal(data, buf + 13);
    assert_int_equal(dlen, 6);
    assert_int_equal(
        eddy__chunked_feed(&ck, buf + 19, sizeof in - 20, &data, &dlen), 7);
    assert_int_equal(dlen, 0);
    assert_true(eddy__chunked_done(&ck));
    assert_int_equal(eddy__chunked_feed(&ck, buf, 0, &data, &dlen), 0);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define COUNT_SEEDS (COUNT(valid_heads) + COUNT(invalid_heads))

/* --- mutated inputs --- */

/*
 * Thousands of inputs made by mutating the table's rows (a fixed seed:
 * the same ones every run) must keep the promises that hold for any
 * input, valid or not:
 *
 *   - a prefix's non-zero answer is the whole input's answer, and a
 *     complete head shows exactly when its last byte arrives;
 *   - an input that ends in CRLF CRLF gives, in pieces, what it gives
 *     whole, and the same fields;
 *   - the chunked decoder gives the same status, body, bytes taken and
 *     end whole, byte by byte and split anywhere.
 */
#define MUT_MAX 1100

static uint64_t rng = 0x6564647970617273ULL; /* "eddypars" */

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char sprinkle[] = "\r\n \t:,;=\"\\\001\177\200\240aZ09-/.HTP";

/* Up to three random edits of in into out (cap bytes); returns the length. */
static size_t mutate(char *out, size_t cap, const char *in, size_t len)
{
    size_t n = len < cap ? len : cap;

    memcpy(out, in, n);
    for (int edits = 1 + (int)(rnd() % 3); edits > 0; edits--) {
        size_t at = n ? (size_t)(rnd() % n) : 0;
        char ch =
            (rnd() % 16 == 0) ? '\0' : sprinkle[rnd() % (sizeof sprinkle - 1)];

        switch (rnd() % 5) {
        case 0: /* replace */
            if (n)
                out[at] = ch;
            break;
        case 1: /* insert */
            if (n < cap) {
                memmove(out + at + 1, out + at, n - at);
                out[at] = ch;
                n++;
            }
            break;
        case 2: /* delete */
            if (n) {
                memmove(out + at, out + at + 1, n - at - 1);
                n--;
            }
            break;
        case 3: { /* repeat a slice */
            size_t from = n ? (size_t)(rnd() % n) : 0;
            size_t k = 1 + (size_t)(rnd() % 24);

            if (k > n - from)
                k = n - from;
            if (n + k <= cap) {
                memmove(out + at + k, out + at, n - at);
                memmove(out + at, out + (from >= at ? from + k : from), k);
                n += k;
            }
            break;
        }
        default: /* cut */
            n = at;
        }
    }
    return n;
}

/* x as a C string literal, for failure messages. */
static const char *show(const char *x, size_t n)
{
    static char out[4 * MUT_MAX + 8];
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < sizeof out; i++) {
        unsigned char ch = (unsigned char)x[i];

        if (ch == '\r' || ch == '\n' || ch == '"' || ch == '\\')
            o += (size_t)sprintf(out + o, "\\%c",
                                 ch == '\r'   ? 'r'
                                 : ch == '\n' ? 'n'
                                              : ch);
        else if (ch < 0x20 || ch >= 0x7f)
            o += (size_t)sprintf(out + o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    out[o] = '\0';
    return out;
}

static int same_head(const eddy__http_head *a, const eddy_http_header *ha,
                     const eddy__http_head *b, const eddy_http_header *hb)
{
    if (a->method.p != b->method.p || a->method.len != b->method.len ||
        a->target.p != b->target.p || a->target.len != b->target.len ||
        a->version != b->version || a->nheaders != b->nheaders ||
        a->skipped != b->skipped || a->content_length != b->content_length ||
        a->has_length != b->has_length || a->chunked != b->chunked ||
        a->connection != b->connection ||
        a->expect_continue != b->expect_continue || a->host != b->host)
        return 0;
    for (size_t i = 0; i < a->nheaders; i++)
        if (ha[i].name != hb[i].name || ha[i].name_len != hb[i].name_len ||
            ha[i].value != hb[i].value || ha[i].value_len != hb[i].value_len)
            return 0;
    return 1;
}

/* Feeds buf[0, len) growing a byte at a time; returns the first non-zero
 * answer and its prefix length in *at (0 and len if none). */
static int dribble(eddy__http_parser *ps, const char *buf, size_t len,
                   eddy__http_head *h, size_t *at)
{
    int r = 0;

    for (*at = 1; *at <= len; (*at)++)
        if ((r = eddy__http_parse_head(ps, buf, *at, h)) != 0)
            return r;
    *at = len;
    return 0;
}

static void check_mutant(const char *x, size_t n, size_t max_head,
                         size_t max_uri, size_t max_headers)
{
    static eddy_http_header hw[HDR_CAP], hi[HDR_CAP];
    eddy__http_parser ps;
    eddy__http_head whole, inc;
    const char *buf = place(x, n);
    int w, r, closed = n >= 4 && memcmp(x + n - 4, "\r\n\r\n", 4) == 0;
    size_t at;

    simple_parser(&ps, max_head, max_uri);
    w = parse_simple(&ps, buf, n, &whole, hw, max_headers);

    simple_parser(&ps, max_head, max_uri);
    inc.headers = hi;
    inc.max_headers = max_headers;
    r = dribble(&ps, buf, n, &inc, &at);
    if ((r != 0 && r != w) || (w > 0 && (r != w || at != (size_t)w)) ||
        (closed && r != w))
        fail_msg("mutant \"%s\" (%zu bytes, max_head %zu, max_uri %zu, "
                 "max_headers %zu): whole %d, dribbled %d at %zu",
                 show(x, n), n, max_head, max_uri, max_headers, w, r, at);
    if (w > 0) {
        if (!same_head(&whole, hw, &inc, hi))
            fail_msg("mutant \"%s\": fields differ dribbled", show(x, n));
    }

    for (int i = 0; i < 3 && n > 1; i++) {
        size_t k = 1 + (size_t)(rnd() % (n - 1));

        simple_parser(&ps, max_head, max_uri);
        r = parse_simple(&ps, buf, k, &inc, hi, max_headers);
        if (r == 0)
            r = parse_simple(&ps, buf, n, &inc, hi, max_headers);
        else if (r != w || (w > 0 && k < (size_t)w))
            fail_msg("mutant \"%s\" split at %zu: first part %d, whole %d",
                     show(x, n), k, r, w);
        if ((r != 0 && r != w) || ((closed || w > 0) && r != w))
            fail_msg("mutant \"%s\" split at %zu: %d, whole %d", show(x, n), k,
                     r, w);
        if (w > 0 && !same_head(&whole, hw, &inc, hi))
            fail_msg("mutant \"%s\" split at %zu: fields differ", show(x, n),
                     k);
    }
}

static void mutated_heads(void **state)
{
    static char x[MUT_MAX + 4];
    const head_case *seeds[COUNT_SEEDS];
    size_t nseeds = 0, rounds = 4000;

    (void)state;
    for (size_t i = 0; i < sizeof valid_heads / sizeof valid_heads[0]; i++)
        seeds[nseeds++] = &valid_heads[i];
    for (size_t i = 0; i < sizeof invalid_heads / sizeof invalid_heads[0]; i++)
        seeds[nseeds++] = &invalid_heads[i];
    for (size_t i = 0; i < rounds; i++) {
        const head_case *c = seeds[rnd() % nseeds];
        size_t n = mutate(x, MUT_MAX, c->in, c->len);
        size_t max_head = rnd() % 4 ? 65536 : 1 + (size_t)(rnd() % (n + 8));
        size_t max_uri = rnd() % 4 ? 8192 : 1 + (size_t)(rnd() % 24);
        size_t max_headers = rnd() % 4 ? 100 : (size_t)(rnd() % 4);

        check_mutant(x, n, max_head, max_uri, max_headers);
        if (rnd() % 2) { /* and closed, which promises more */
            memcpy(x + n, "\r\n\r\n", 4);
            check_mutant(x, n + 4, max_head, max_uri, max_headers);
        }
    }
}

static int same_run(const chunk_run *a, const chunk_run *b)
{
    /* After an error, the bytes taken depend on the calls made. */
    return a->ret == b->ret && (a->ret != 0 || a->used == b->used) &&
           a->done == b->done && a->blen == b->blen &&
           memcmp(a->body, b->body, a->blen) == 0;
}

static void mutated_chunks(void **state)
{
    static char x[MUT_MAX];
    chunk_case c = {"mutant", x, 0, 0, NULL, 0, 0, 0, 0};
    eddy__chunked ck;
    chunk_run whole, other;

    (void)state;
    for (size_t i = 0; i < 3000; i++) {
        const chunk_case *seed =
            &chunk_cases[rnd() % (sizeof chunk_cases / sizeof chunk_cases[0])];

        c.len = mutate(x, MUT_MAX, seed->in, seed->len);
        c.max_trailer = rnd() % 4 ? 0 : 1 + (size_t)(rnd() % 16);
        chunk_start(&ck, &c, &whole);
        feed(&c, "whole", &ck, x, c.len, &whole);

        chunk_start(&ck, &c, &other);
        for (size_t k = 0; k < c.len && other.ret == 0 && !other.done; k++)
            feed(&c, "byte by byte", &ck, x + k, 1, &other);
        if (!same_run(&whole, &other))
            fail_msg("mutant \"%s\": whole %d/%zu, byte by byte %d/%zu",
                     show(x, c.len), whole.ret, whole.used, other.ret,
                     other.used);
        if (c.len > 1) {
            size_t k = 1 + (size_t)(rnd() % (c.len - 1));

            chunk_start(&ck, &c, &other);
            feed(&c, "split", &ck, x, k, &other);
            if (other.ret == 0 && !other.done)
                feed(&c, "split", &ck, x + k, c.len - k, &other);
            if (!same_run(&whole, &other))
                fail_msg("mutant \"%s\" split at %zu: differs", show(x, c.len),
                         k);
        }
    }
}

/* --- responses --- */

/*
 * Response heads (eddy__http_parse_response) share the field code with
 * requests; these rows pin down what differs: the status line, Host
 * meaning nothing, and obs-fold, which is answered EDDY__HTTP_FOLDED once
 * the head is whole, and parses as SPs in a copy given to
 * eddy__http_unfold().  Each row runs whole, byte by byte and split at
 * every point, as the request rows do.
 */
#define FOLD EDDY__HTTP_FOLDED
#define SL "HTTP/1.1 200 OK\r\n"

typedef struct resp_case {
    const char *what;
    const char *in;
    size_t len;
    int want;     /* OK, 0, -status, or FOLD */
    int unfolded; /* FOLD: what the unfolded copy gives (OK or -status) */
    size_t max_head, max_headers; /* 0: 65536, 100 */
    int status;                   /* 0: 200 */
    const char *reason;           /* NULL: "OK" */
    int v;                        /* 0: 11 */
    const char *hdr[2 * MAXH];    /* unfolded, for FOLD */
    const char *cl;
    int chunked, conn;
    size_t skipped;
    const char *error; /* a -431 of too many fields names its rule */
} resp_case;

static const resp_case responses[] = {
    /* The status line. */
    {"200 OK", IN(SL E), OK},
    {"HTTP/1.0", IN("HTTP/1.0 200 OK\r\n" E), OK, .v = 10},
    {"404 with a longer reason", IN("HTTP/1.1 404 Not Found\r\n" E), OK,
     .status = 404, .reason = "Not Found"},
    {"an empty reason after SP", IN("HTTP/1.1 204 \r\n" E), OK, .status = 204,
     .reason = ""},
    {"no SP before an empty reason", IN("HTTP/1.1 204\r\n" E), OK,
     .status = 204, .reason = ""},
    {"a reason with HTAB, SP and obs-text",
     IN("HTTP/1.1 200 Tr\xe8s\tbien  \r\n" E), OK,
     .reason = "Tr\xe8s\tbien  "},
    {"100 Continue", IN("HTTP/1.1 100 Continue\r\n" E), OK, .status = 100,
     .reason = "Continue"},
    {"599, the last status", IN("HTTP/1.1 599 X\r\n" E), OK, .status = 599,
     .reason = "X"},
    {"a leading empty line is skipped", IN(E SL E), OK, .skipped = 2},
    {"body bytes after the head are not looked at",
     IN(SL "Content-Length: 3\r\n" E "\0\r\n"), 38,
     .hdr = {"Content-Length", "3"}, .cl = "3"},
    /* Fields, by the request's rules. */
    {"fields and their framing",
     IN(SL "Content-Type: text/plain\r\nContent-Length:  12 \r\n"
           "Connection: keep-alive\r\n" E),
     OK,
     .hdr = {"Content-Type", "text/plain", "Content-Length", "12", "Connection",
             "keep-alive"},
     .cl = "12", .conn = KEEP},
    {"chunked", IN(SL "Transfer-Encoding: chunked\r\n" E), OK,
     .hdr = {"Transfer-Encoding", "chunked"}, .chunked = 1},
    {"Connection: close", IN(SL "Connection: close\r\n" E), OK,
     .hdr = {"Connection", "close"}, .conn = CLOSE},
    {"equal Content-Lengths", IN(SL "Content-Length: 7\r\ncontent-length: 7\r\n" E),
     OK, .hdr = {"Content-Length", "7", "content-length", "7"}, .cl = "7"},
    {"two Host fields mean nothing in a response",
     IN(SL "Host: a\r\nHost: b c\r\n" E), OK,
     .hdr = {"Host", "a", "Host", "b c"}},
    {"head of exactly max_head", IN(SL "X: y\r\n" E), OK, .max_head = 25,
     .hdr = {"X", "y"}},
    {"max_headers fields", IN(SL "A: 1\r\nB: 2\r\n" E), OK, .max_headers = 2,
     .hdr = {"A", "1", "B", "2"}},

    /* Not over yet. */
    {"part of the status line", IN("HTTP/1.1 20"), 0},
    {"the status line without CRLF", IN("HTTP/1.1 200 OK"), 0},
    {"the status line", IN(SL), 0},
    {"a field and CR", IN(SL "X: y\r"), 0},
    {"a field line: a fold may follow", IN(SL "X: y\r\n"), 0},
    {"a fold line without its end", IN(SL "X: y\r\n z"), 0},

    /* Refused. */
    {"lowercase http", IN("http/1.1 200 OK\r\n" E), -400},
    {"HTTP/2.0", IN("HTTP/2.0 200 OK\r\n" E), -505},
    {"HTTP/1.2", IN("HTTP/1.2 200 OK\r\n" E), -505},
    {"HTTP/0.9", IN("HTTP/0.9 200 OK\r\n" E), -505},
    {"two digits", IN("HTTP/1.1 20 OK\r\n" E), -400},
    {"four digits", IN("HTTP/1.1 2000 OK\r\n" E), -400},
    {"status 600", IN("HTTP/1.1 600 X\r\n" E), -400},
    {"status 099", IN("HTTP/1.1 099 X\r\n" E), -400},
    {"two SP before the status", IN("HTTP/1.1  200 OK\r\n" E), -400},
    {"HTAB before the status", IN("HTTP/1.1\t200 OK\r\n" E), -400},
    {"a bare CR in the reason", IN("HTTP/1.1 200 O\rK\r\n" E), -400},
    {"a bare LF ends the status line", IN("HTTP/1.1 200 OK\n" E), -400},
    {"a control character in the reason", IN("HTTP/1.1 200 O\001K\r\n" E),
     -400},
    {"a bare LF in the fields", IN(SL "X: y\n" E), -400},
    {"a bare CR ends the head", IN(SL "X: y\r\n\rX" E E), -400},
    {"Content-Length with Transfer-Encoding",
     IN(SL "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n" E), -400},
    {"Content-Lengths that differ",
     IN(SL "Content-Length: 5\r\nContent-Length: 6\r\n" E), -400},
    {"a Content-Length list", IN(SL "Content-Length: 5, 5\r\n" E), -400},
    {"a signed Content-Length", IN(SL "Content-Length: +5\r\n" E), -400},
    {"a hex Content-Length", IN(SL "Content-Length: 0x5\r\n" E), -400},
    {"an empty Content-Length", IN(SL "Content-Length: \r\n" E), -400},
    {"Transfer-Encoding gzip", IN(SL "Transfer-Encoding: gzip\r\n" E), -501},
    {"gzip, chunked", IN(SL "Transfer-Encoding: gzip, chunked\r\n" E), -501},
    {"chunked twice", IN(SL "Transfer-Encoding: chunked, chunked\r\n" E),
     -400},
    {"Transfer-Encoding on HTTP/1.0",
     IN("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n" E), -400},
    {"SP before the colon", IN(SL "X : y\r\n" E), -400},
    {"a NUL in a value", IN(SL "X: a\0b\r\n" E), -400},
    {"whitespace before the first field", IN(SL " X: y\r\n" E), -400},
    {"a control character in a fold line", IN(SL "X: y\r\n z\001\r\n" E),
     -400},
    {"more than max_head", IN(SL "X: y\r\n" E), -431, .max_head = 24},
    {"more fields than max_headers", IN(SL "A: 1\r\nB: 2\r\n" E), -431,
     .max_headers = 1, .error = "more header fields than max_headers"},

    /* obs-fold: SP for each CRLF, then the field judged whole. */
    {"a folded value", IN(SL "X: a\r\n b\r\n" E), FOLD, OK,
     .hdr = {"X", "a   b"}},
    {"folded with HTAB, twice", IN(SL "X: a\r\n\tb\r\n  c\r\nY: d\r\n" E),
     FOLD, OK, .hdr = {"X", "a  \tb    c", "Y", "d"}},
    {"a fold on an empty value", IN(SL "X:\r\n b\r\n" E), FOLD, OK,
     .hdr = {"X", "b"}},
    {"a folded Content-Length is judged unfolded",
     IN(SL "Content-Length:\r\n 42\r\n" E), FOLD, OK,
     .hdr = {"Content-Length", "42"}, .cl = "42"},
    {"a folded Transfer-Encoding", IN(SL "Transfer-Encoding:\r\n chunked\r\n" E),
     FOLD, OK, .hdr = {"Transfer-Encoding", "chunked"}, .chunked = 1},
    {"a Content-Length that folding splits",
     IN(SL "Content-Length: 4\r\n 2\r\n" E), FOLD, -400},
    {"a fold that makes a length list",
     IN(SL "Content-Length: 4\r\n ,4\r\n" E), FOLD, -400},
    {"a fold that makes Transfer-Encoding with Content-Length",
     IN(SL "Content-Length: 4\r\nTransfer-Encoding:\r\n chunked\r\n" E), FOLD,
     -400},
    {"a fold of whitespace only", IN(SL "X: a\r\n \r\n" E), FOLD, OK,
     .hdr = {"X", "a"}},
};

static void failr(const resp_case *c, const char *mode, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("'%s', %s: %s", c->what, mode, msg);
}

static void check_response(const resp_case *c, const char *mode,
                           const char *buf, int n, const eddy__http_head *h)
{
    const char *reason = or_default(c->reason, "OK");
    size_t nh = 0;

    while (nh < MAXH && c->hdr[2 * nh] != NULL)
        nh++;
    if (h->status != (c->status ? c->status : 200))
        failr(c, mode, "status %d", h->status);
    if (!eq(h->reason, reason) || !within(h->reason.p, h->reason.len, buf, n))
        failr(c, mode, "reason '%.*s', want '%s'", (int)h->reason.len,
              h->reason.p, reason);
    if (h->version != (c->v ? c->v : 11))
        failr(c, mode, "version %d", h->version);
    if (h->nheaders != nh)
        failr(c, mode, "%zu fields, want %zu", h->nheaders, nh);
    for (size_t i = 0; i < nh && i < h->nheaders; i++) {
        eddy_str name = {h->headers[i].name, h->headers[i].name_len};
        eddy_str value = {h->headers[i].value, h->headers[i].value_len};

        if (!eq(name, c->hdr[2 * i]) || !eq(value, c->hdr[2 * i + 1]) ||
            !within(name.p, name.len, buf, n) ||
            !within(value.p, value.len, buf, n))
            failr(c, mode, "field %zu is '%.*s: %.*s', want '%s: %s'", i,
                  (int)name.len, name.p, (int)value.len, value.p, c->hdr[2 * i],
                  c->hdr[2 * i + 1]);
    }
    if (h->host != -1)
        failr(c, mode, "host %d in a response", h->host);
    if (h->has_length != (c->cl != NULL) ||
        (c->cl != NULL && h->content_length != strtoull(c->cl, NULL, 10)))
        failr(c, mode, "content length %d/%llu", h->has_length,
              (unsigned long long)h->content_length);
    if (h->chunked != c->chunked || h->connection != c->conn)
        failr(c, mode, "chunked %d connection %d", h->chunked, h->connection);
    if (h->skipped != c->skipped)
        failr(c, mode, "skipped %zu", h->skipped);
}

static void rfresh(eddy__http_parser *ps, const resp_case *c)
{
    memset(ps, 0, sizeof *ps);
    ps->max_head = c->max_head ? c->max_head : 65536;
    ps->max_uri = 1; /* not used for responses */
}

static int rparse(eddy__http_parser *ps, const resp_case *c, const char *buf,
                  size_t len)
{
    memset(&head, 0xa5, sizeof head);
    head.headers = hdr_store;
    head.max_headers = c->max_headers ? c->max_headers : 100;
    return eddy__http_parse_response(ps, buf, len, &head);
}

/* What a row's complete answer must be, and its fields checked: after a
 * FOLD, an unfolded copy of buf[0, len) parsed afresh. */
static void check_answer(const resp_case *c, const char *mode, const char *buf,
                         size_t len, int r)
{
    int want = c->want == OK ? (int)c->len : c->want;
    static char copy[4096];
    eddy__http_parser ps;

    if (r != want)
        failr(c, mode, "got %d, want %d", r, want);
    if (r == -431 && c->error != NULL &&
        (head.error == NULL || strcmp(head.error, c->error) != 0))
        failr(c, mode, "the 431's rule is '%s'", head.error);
    if (r > 0)
        check_response(c, mode, buf, r, &head);
    if (r != FOLD)
        return;
    assert_true(len <= sizeof copy);
    memcpy(copy, buf, len);
    if (eddy__http_unfold(copy, len) == 0)
        failr(c, mode, "folded, but nothing to unfold");
    rfresh(&ps, c);
    r = rparse(&ps, c, copy, len);
    want = c->unfolded == OK ? (int)c->len : c->unfolded;
    if (r != want)
        failr(c, mode, "unfolded: got %d, want %d", r, want);
    if (r > 0)
        check_response(c, mode, copy, r, &head);
}

static void run_response_case(void **state)
{
    const resp_case *c = *state;
    eddy__http_parser ps;
    const char *buf;
    char mode[64];
    int r;

    rfresh(&ps, c);
    buf = place(c->in, c->len);
    check_answer(c, "whole", buf, c->len, rparse(&ps, c, buf, c->len));

    rfresh(&ps, c);
    for (size_t k = 1; k <= c->len; k++) {
        snprintf(mode, sizeof mode, "byte by byte, prefix %zu", k);
        buf = place(c->in, k);
        if ((r = rparse(&ps, c, buf, k)) == 0 && k < c->len)
            continue;
        /* A complete head and a fold show at its last byte only. */
        if ((r > 0 && k != (size_t)r) || (r == FOLD && k != c->len))
            failr(c, mode, "got %d before the end", r);
        check_answer(c, mode, buf, k, r);
        break;
    }

    for (size_t k = 1; k < c->len; k++) {
        snprintf(mode, sizeof mode, "split at %zu", k);
        rfresh(&ps, c);
        buf = place(c->in, k);
        if ((r = rparse(&ps, c, buf, k)) != 0) {
            if ((r > 0 && k < (size_t)r) || r == FOLD ||
                r != (c->want == OK ? (int)c->len : c->want))
                failr(c, mode, "first part gives %d", r);
            continue;
        }
        buf = place(c->in, c->len);
        check_answer(c, mode, buf, c->len, rparse(&ps, c, buf, c->len));
    }
}

/* eddy__http_unfold() rewrites only CRLF followed by SP or HTAB inside the
 * header section: never the status line's, the head's end, or the body. */
static void unfold_only_folds(void **state)
{
    char a[] = "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\tc\r\nY: d\r\n\r\n x\r\n y";
    const char *want =
        "HTTP/1.1 200 OK\r\nX: a   b  \tc\r\nY: d\r\n\r\n x\r\n y";
    char b[] = "\r\nHTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n";
    char none[] = "HTTP/1.1 200 OK\r\n";

    (void)state;
    assert_int_equal(eddy__http_unfold(a, sizeof a - 1), 2);
    assert_string_equal(a, want);
    assert_int_equal(eddy__http_unfold(b, sizeof b - 1), 1);
    assert_string_equal(b, "\r\nHTTP/1.1 200 OK\r\nX: a   b\r\n\r\n");
    assert_int_equal(eddy__http_unfold(none, sizeof none - 1), 0);
    assert_int_equal(eddy__http_unfold(none, 3), 0);
}

/* A sender that dribbles a head of folds costs linear time: the fold is
 * answered once, at the end, not at each line. */
static void dribbled_folds(void **state)
{
    static char buf[65536];
    eddy__http_parser ps;
    size_t n = 0, calls = 0;
    int r = 0;

    (void)state;
    n += (size_t)sprintf(buf, SL "X: a\r\n");
    while (n + 8 < sizeof buf - 8)
        n += (size_t)sprintf(buf + n, " b\r\n");
    n += (size_t)sprintf(buf + n, "\r\n");
    memset(&ps, 0, sizeof ps);
    ps.max_head = sizeof buf;
    head.headers = hdr_store;
    head.max_headers = 100;
    for (size_t k = 1; k <= n && r == 0; k++, calls++)
        r = eddy__http_parse_response(&ps, buf, k, &head);
    assert_int_equal(r, FOLD);
    assert_int_equal(calls, n);
    assert_true(eddy__http_unfold(buf, n) > 10000);
    memset(&ps, 0, sizeof ps);
    ps.max_head = sizeof buf;
    assert_int_equal(eddy__http_parse_response(&ps, buf, n, &head), (int)n);
    assert_int_equal(head.nheaders, 1);
}

static void check_mutant_response(const char *x, size_t n, size_t max_head,
                                  size_t max_headers)
{
    static eddy_http_header hw[HDR_CAP], hi[HDR_CAP];
    static char copy[MUT_MAX + 8];
    eddy__http_parser ps;
    eddy__http_head whole, inc;
    const char *buf = place(x, n);
    int w, r = 0;
    size_t at;

    memset(&ps, 0, sizeof ps);
    ps.max_head = max_head;
    whole.headers = hw;
    whole.max_headers = max_headers;
    w = eddy__http_parse_response(&ps, buf, n, &whole);

    memset(&ps, 0, sizeof ps);
    ps.max_head = max_head;
    inc.headers = hi;
    inc.max_headers = max_headers;
    for (at = 1; at <= n && r == 0; at++)
        r = eddy__http_parse_response(&ps, buf, at, &inc);
    if ((r != 0 && r != w) || ((w > 0 || w == FOLD) && r != w))
        fail_msg("response mutant \"%s\": whole %d, dribbled %d", show(x, n),
                 w, r);
    if (w > 0 && (whole.status != inc.status || whole.nheaders != inc.nheaders ||
                  whole.reason.p != inc.reason.p))
        fail_msg("response mutant \"%s\": fields differ", show(x, n));
    if (w == FOLD) { /* an unfolded copy is never folded again */
        memcpy(copy, x, n);
        eddy__http_unfold(copy, n);
        memset(&ps, 0, sizeof ps);
        ps.max_head = max_head;
        r = eddy__http_parse_response(&ps, copy, n, &whole);
        if (r == 0 || r == FOLD)
            fail_msg("response mutant \"%s\": unfolded gives %d", show(x, n),
                     r);
    }
    if (w > 0)
        for (size_t i = 0; i < whole.nheaders; i++)
            for (size_t j = 0; j < whole.headers[i].value_len; j++)
                if ((unsigned char)whole.headers[i].value[j] < 0x20 &&
                    whole.headers[i].value[j] != '\t')
                    fail_msg("response mutant \"%s\": a control character "
                             "in a value", show(x, n));
}

static void mutated_responses(void **state)
{
    static char x[MUT_MAX + 4];

    (void)state;
    for (size_t i = 0; i < 4000; i++) {
        const resp_case *c = &responses[rnd() % COUNT(responses)];
        size_t n = mutate(x, MUT_MAX, c->in, c->len);
        size_t max_head = rnd() % 4 ? 65536 : 1 + (size_t)(rnd() % (n + 8));
        size_t max_headers = rnd() % 4 ? 100 : (size_t)(rnd() % 4);

        check_mutant_response(x, n, max_head, max_headers);
        memcpy(x + n, "\r\n\r\n", 4);
        check_mutant_response(x, n + 4, max_head, max_headers);
    }
}

/* --- main --- */

static size_t add_cases(struct CMUnitTest *t, size_t n, const char *prefix,
                        const void *cases, size_t count, size_t size,
                        void (*fn)(void **), char (*names)[128])
{
    for (size_t i = 0; i < count; i++) {
        const void *c = (const char *)cases + i * size;
        const char *what = *(const char *const *)c;

        snprintf(names[n], sizeof names[n], "%s: %s", prefix, what);
        t[n] = (struct CMUnitTest){names[n], fn, NULL, NULL, (void *)c};
        n++;
    }
    return n;
}

int main(void)
{
    static const struct CMUnitTest more[] = {
        cmocka_unit_test(dribbled_64k_head),
        cmocka_unit_test(dribbled_long_target),
        cmocka_unit_test(late_errors),
        cmocka_unit_test(zero_copy),
        cmocka_unit_test(pipelined),
        cmocka_unit_test(empty_input),
        cmocka_unit_test(token_table),
        cmocka_unit_test(ieq),
        cmocka_unit_test(many_fields),
        cmocka_unit_test(every_byte_everywhere),
        cmocka_unit_test(chunk_limits),
        cmocka_unit_test(chunk_trailer_total),
        cmocka_unit_test(chunk_zero_copy),
        cmocka_unit_test(mutated_heads),
        cmocka_unit_test(mutated_chunks),
        cmocka_unit_test(unfold_only_folds),
        cmocka_unit_test(dribbled_folds),
        cmocka_unit_test(mutated_responses),
    };
    size_t cap = COUNT(valid_heads) + COUNT(incomplete_heads) +
                 COUNT(invalid_heads) + COUNT(chunk_cases) + COUNT(responses) +
                 COUNT(more);
    struct CMUnitTest *t = calloc(cap, sizeof *t);
    char(*names)[128] = calloc(cap, sizeof *names);
    size_t n = 0;
    int failed;

    if (t == NULL || names == NULL)
        return 1;
    n = add_cases(t, n, "valid", valid_heads, COUNT(valid_heads),
                  sizeof valid_heads[0], run_head_case, names);
    n = add_cases(t, n, "incomplete", incomplete_heads, COUNT(incomplete_heads),
                  sizeof incomplete_heads[0], run_head_case, names);
    n = add_cases(t, n, "refused", invalid_heads, COUNT(invalid_heads),
                  sizeof invalid_heads[0], run_head_case, names);
    n = add_cases(t, n, "chunked", chunk_cases, COUNT(chunk_cases),
                  sizeof chunk_cases[0], run_chunk_case, names);
    n = add_cases(t, n, "response", responses, COUNT(responses),
                  sizeof responses[0], run_response_case, names);
    for (size_t i = 0; i < COUNT(more); i++)
        t[n++] = more[i];
    failed = _cmocka_run_group_tests("http_parser", t, n, tu_guard_setup,
                                     tu_guard_teardown);
    free(names);
    free(t);
    return failed;
}
