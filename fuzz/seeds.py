#!/usr/bin/env python3
"""fuzz/seeds.py - writes the seed corpora under fuzz/corpus/<harness>/.

Each seed is a few control bytes (see the harness's comment) and a small,
realistic input.  Run from the repository's root; the files are committed,
this script is how they were made.
"""
import os
import sys

# Harness names given on the command line: only their corpora are written
# (recorded ClientHellos differ at every run: the others stay as they are).
ONLY = set(sys.argv[1:])

def cuts(*gaps):
    """The cut-point bytes of fuzz/fuzz.h: a count, then gaps - 1."""
    return bytes([len(gaps)] + [g - 1 for g in gaps])

def write(harness, name, data):
    if ONLY and harness not in ONLY:
        return
    d = os.path.join("fuzz", "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
HEADS = {
    "get": GET,
    "get10": b"GET /index.html HTTP/1.0\r\n\r\n",
    "get10-keepalive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "browser": b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: localhost:8888\r\n"
               b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
               b"Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
               b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
               b"Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n\r\n",
    "post-length": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                   b"Content-Type: text/plain\r\n\r\nhello",
    "post-chunked": b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n",
    "expect": b"PUT /put HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
              b"Expect: 100-continue\r\n\r\n",
    "close": b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "conn-list": b"GET / HTTP/1.1\r\nHost: a\r\nConnection: , keep-alive,, Upgrade ,\r\n\r\n",
    "leading-crlf": b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "ows": b"GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v a l \t\r\nX-Empty:\r\n\r\n",
    "obs-text": b"GET / HTTP/1.1\r\nHost: a\r\nX-Latin: caf\xe9\r\n\r\n",
    "ipv6-host": b"OPTIONS * HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "absolute": b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "dup-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    # Refused ones: the parser's error paths.
    "bad-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +10\r\n\r\n",
    "length-list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42, 42\r\n\r\n",
    "te-and-length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n",
    "te-gzip": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "te-twice": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n",
    "te-http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    "no-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
    "space-colon": b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "http2": b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    "lower-version": b"GET / http/1.1\r\nHost: a\r\n\r\n",
    "two-spaces": b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    "nul": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n",
    "long-target": b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    "many-headers": b"GET / HTTP/1.1\r\nHost: a\r\n" +
                    b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(20)) + b"\r\n",
    "partial": b"GET /partial HTTP/1.1\r\nHost: a\r\nX-Half: ",
}

# parse_head: settings byte (bits 0-1 max_head, 2-3 max_uri, 4-5 header
# slots, 6 byte at a time), cuts, head.
for i, (name, head) in enumerate(sorted(HEADS.items())):
    cfg = 0x40 if i % 2 == 0 else 0x00
    if name in ("long-target", "many-headers"):
        cfg |= 0x15  # small limits: 414 and 431
    gaps = [(3, 7, 11), (1, 1, 1, 1), (16, 16), (), (5,)][i % 5]
    write("parse_head", name, bytes([cfg]) + cuts(*gaps) + head)

# chunked: settings byte (bits 0-1 max_trailer, 2 encode mode, ...), cuts,
# body.
CHUNKED = {
    "simple": b"5\r\nhello\r\n0\r\n\r\n",
    "two": b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
    "hex": b"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
    "ext": b"3;name=value\r\nabc\r\n2 ; q=\"a\\\"b\" ; x\r\nde\r\n0;last\r\n\r\n",
    "trailer": b"1\r\nx\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
    "empty": b"0\r\n\r\n",
    "zeros": b"0005\r\nhello\r\n000\r\n\r\n",
    "bad-lf": b"5\nhello\n0\n\n",
    "bad-size": b"-5\r\nhello\r\n0\r\n\r\n",
    "bad-overflow": b"10000000000000000\r\n",
    "bad-ws": b"5 \r\nhello\r\n0\r\n\r\n",
    "bad-data": b"5\r\nhelloXX0\r\n\r\n",
    "bad-trailer": b"0\r\nX-A b\r\n\r\n",
    "short": b"5\r\nhel",
}
for i, (name, body) in enumerate(sorted(CHUNKED.items())):
    gaps = [(2, 3), (1, 1, 1, 1, 1, 1), (7,), ()][i % 4]
    write("chunked", name, bytes([i % 4]) + cuts(*gaps) + body)
for i, data in enumerate([b"hello world", b"", b"x" * 40, bytes(range(256))]):
    write("chunked", "encode-%d" % i, bytes([0x04 | (i << 3) | (i & 3)]) +
          cuts(3, 5, 9) + data)

# connection: settings byte (bit 0 small limits, 1 xheaders, 2 half-close,
# 3 free the server early, 4 finish a failed body from a timer, 5 finish
# when the client leaves), cuts, what the client sends.
H = b"Host: a\r\n"
CONN = {
    "get": (0x04, GET),
    "keepalive3": (0x04, GET + GET + GET),
    "async": (0x24, b"GET /async/x HTTP/1.1\r\n" + H + b"\r\n" + GET),
    "later": (0x04, b"GET /later HTTP/1.1\r\n" + H + b"\r\n"),
    "chunked": (0x04, b"GET /chunked HTTP/1.1\r\n" + H + b"\r\n"),
    "head": (0x04, b"HEAD /big HTTP/1.1\r\n" + H + b"\r\n" + b"HEAD /chunked HTTP/1.1\r\n" + H + b"\r\n"),
    "big": (0x04, b"GET /big HTTP/1.1\r\n" + H + b"\r\n" + GET),
    "http10": (0x04, b"GET /later HTTP/1.0\r\n\r\n"),
    "http10-keepalive": (0x04, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"),
    "echo": (0x04, b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello" + GET),
    "echo-chunked": (0x04, b"POST /echo HTTP/1.1\r\n" + H +
                     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" + GET),
    "stream": (0x04, b"POST /stream/up HTTP/1.1\r\n" + H +
               b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + GET),
    "stream-length": (0x14, b"PUT /stream HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n\r\nabcd"),
    "stream-pause": (0x04, b"POST /stream/pause HTTP/1.1\r\n" + H +
                     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" + GET),
    "stream-pause-length": (0x24, b"PUT /stream/pause HTTP/1.1\r\n" + H + b"Content-Length: 6\r\n\r\nabcdef" + GET),
    "stream-noread": (0x04, b"POST /stream/noread HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n\r\nabcd" + GET),
    "stream-cut": (0x34, b"POST /stream HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\nabc"),
    "expect": (0x04, b"PUT /put HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"),
    "expect-stream": (0x04, b"POST /stream HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"),
    "not-found": (0x04, b"GET /nope HTTP/1.1\r\n" + H + b"\r\n" + GET),
    "not-allowed": (0x04, b"GET /put HTTP/1.1\r\n" + H + b"\r\n" + GET),
    "not-found-body": (0x04, b"POST /nope HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"),
    "no-content": (0x04, b"GET /204 HTTP/1.1\r\n" + H + b"\r\n" + GET),
    "bad-header": (0x04, b"GET /bad HTTP/1.1\r\n" + H + b"\r\n"),
    "close": (0x04, b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n" + GET),
    "garbage": (0x04, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    "bad-then-more": (0x04, b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n" + GET),
    "too-large": (0x05, b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 1000\r\n\r\n"),
    "long-uri": (0x05, b"GET /" + b"u" * 100 + b" HTTP/1.1\r\n" + H + b"\r\n"),
    "xheaders": (0x06, b"GET /async HTTP/1.1\r\n" + H + b"X-Forwarded-For: 10.0.0.1, 1.2.3.4\r\n"
                 b"X-Real-Ip: ::1\r\nX-Scheme: https\r\n\r\n"),
    "held-free": (0x28, b"GET /async HTTP/1.1\r\n" + H + b"\r\n"),
    "open-end": (0x00, GET + b"GET /later HTTP/1.1\r\n" + H + b"\r\n"),
    "partial-head": (0x04, b"GET / HTTP/1.1\r\nHo"),
}
for i, (name, (cfg, data)) in enumerate(sorted(CONN.items())):
    gaps = [(), (10,), (1, 1, 1, 1, 1), (40, 40, 40), (17, 3)][i % 5]
    write("connection", name, bytes([cfg]) + cuts(*gaps) + data)

# stream_reads: settings byte (bits 0-1 max_buffer_size 64/256/4096/100M,
# 2-3 read_chunk_size 16/100/4096/64K, 4 half-close), the number of reads
# - 1, three bytes per read (kind: 0 bytes, 1 partial, 2 until, 3 into,
# 4 into partial, 5 stream, 6 until close; a: n = 4a + b % 4, delimiter
# a % 5 of \n, \r\n, \r\n\r\n, ab, x; b: max_bytes = 4b), cuts, the bytes.
def op(kind, a, b=0):
    return bytes([kind, a, b])

def script(*ops):
    return bytes([len(ops) - 1]) + b"".join(ops)

HTTPISH = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nhello world, and more bytes after it\n"
STREAMS = {
    "line-then-rest": (0x1e, script(op(2, 0), op(6, 0)), HTTPISH),
    "head-then-body": (0x1a, script(op(2, 2), op(0, 2, 3), op(1, 10)), HTTPISH),
    "until-crlf-each": (0x05, script(op(2, 1), op(2, 1), op(2, 1), op(2, 1)), HTTPISH),
    "until-max": (0x12, script(op(2, 2, 3)), HTTPISH),
    "until-nobufs": (0x10, script(op(2, 4)), b"y" * 100),
    "bytes-nobufs": (0x10, script(op(0, 20)), b"z" * 10),
    "into": (0x1f, script(op(3, 3), op(4, 200), op(3, 1)), HTTPISH),
    "into-short": (0x13, script(op(3, 100)), b"short"),
    "stream-n": (0x11, script(op(5, 10), op(5, 255)), HTTPISH * 2),
    "stream-open": (0x02, script(op(5, 255)), HTTPISH),
    "close-all": (0x13, script(op(6, 0)), HTTPISH * 3),
    "close-nobufs": (0x10, script(op(6, 0)), b"q" * 80),
    "partials": (0x14, script(op(1, 1), op(1, 1), op(1, 1), op(1, 255)), HTTPISH),
    "zero": (0x1a, script(op(0, 0), op(3, 0), op(5, 0), op(4, 0), op(1, 0)), b"abc"),
    "eof-midway": (0x1a, script(op(0, 2), op(0, 100)), b"0123456789"),
    "delim-split": (0x12, script(op(2, 3), op(2, 4, 1)), b"xxabyyabzzx"),
    "pending": (0x02, script(op(0, 100)), b"not enough"),
}
for i, (name, (cfg, ops, data)) in enumerate(sorted(STREAMS.items())):
    gaps = [(), (1, 1, 1, 1, 1, 1, 1), (10, 5), (3,), (16, 16, 16)][i % 5]
    write("stream_reads", name, bytes([cfg]) + ops + cuts(*gaps) + data)

# args: settings byte (bits 0-2 EDDY_ARGS_PLUS_LITERAL, _KEEP_BAD_ESCAPES,
# _UTF8; bit 3 small limits), then a query string that is also decoded as
# a URL component and as a path, and, after a '\n', a path matched against
# the pattern before it.
ARGS = {
    "query": (0x00, b"a=1&b=x+y&a=%32&c"),
    "form-utf8": (0x04, b"q=caf%C3%A9&e=%F0%9F%98%80&n=%E2%82%AC+5"),
    "bad-escapes": (0x02, b"a=%zz&b=%4&c=%&d=100%25"),
    "bad-escape": (0x00, b"a=1&b=%G0"),
    "plus-literal": (0x01, b"a+b=c+d&e=%2B"),
    "empties": (0x00, b"&&a=&=b&&c==d&"),
    "many-small": (0x08, b"a&b&c&d&e&f"),
    "too-long-small": (0x08, b"k=0123456789012345678901234567890123456789"),
    "not-utf8": (0x04, b"a=%C0%80&b=%ED%A0%80"),
    "nul-bytes": (0x00, b"k=a%00b&%00=v"),
    "path-dots": (0x00, b"/a/./b/../c/%2e%2E/d/."),
    "path-climb": (0x00, b"/a/../../etc/passwd"),
    "path-slash": (0x00, b"/a%2Fb/%00"),
    "path-empty-segs": (0x00, b"/a//../b/"),
    "pattern-id": (0x00, b"/items/{id}\n/items/42"),
    "pattern-rest": (0x00, b"/files/{path*}\n/files/a/b.txt"),
    "pattern-two": (0x00, b"/{a}/x/{b_2}\n/1/x/2"),
    "pattern-miss": (0x00, b"/items/{id}\n/items/"),
    "pattern-bad": (0x00, b"/{a}{b}\n/x"),
}
for name, (cfg, data) in sorted(ARGS.items()):
    write("args", name, bytes([cfg]) + data)

# cookie: settings byte (bit 7 build; bits 0-6 the EDDY_COOKIE_* flags);
# to parse, the Cookie header; to build, a second byte (bit 0: dates in
# range) and name NUL value NUL domain NUL path NUL, expires, max_age
# (8 bytes each, big-endian).
def be64(v):
    return (v & (2**64 - 1)).to_bytes(8, "big")

COOKIE_PARSE = {
    "simple": b"a=1; b=2",
    "spaces-quotes": b" a = 1 ;\tb=\"x y\" ;; c",
    "malformed": b"novalue; =x; a b=1; c=\x01; d=ok; e=a\tb",
    "repeated": b"session=abc123; theme=dark; session=old",
    "browser": b"_ga=GA1.2.1234.5678; _gid=GA1.2.99; csrftoken=abcDEF123; "
               b"sessionid=xyz; __Host-id=1",
    "empty": b"",
}
for name, data in sorted(COOKIE_PARSE.items()):
    write("cookie", "parse-" + name, bytes([0x00]) + data)
SECURE, HTTPONLY, EXPIRES, MAX_AGE, STRICT, LAX, NONE = 1, 2, 4, 8, 16, 32, 64
COOKIE_BUILD = {
    "basic": (0, b"id\0abc\0\0\0", 0, 0),
    "full": (SECURE | HTTPONLY | EXPIRES | MAX_AGE | LAX,
             b"id\0v\0example.com\0/\0", 784111777, 3600),
    "delete": (MAX_AGE | EXPIRES | STRICT, b"id\0\0\0/app\0", 0, 0),
    "host-prefix": (SECURE, b"__Host-x\0v\0\0/\0", 0, 0),
    "host-prefix-bad": (SECURE, b"__Host-x\0v\0example.com\0/\0", 0, 0),
    "samesite-none": (NONE, b"n\0v\0\0\0", 0, 0),
    "bad-name": (0, b"a b\0v\0\0\0", 0, 0),
    "bad-value": (0, b"n\0a;b\0\0\0", 0, 0),
    "bad-path": (0, b"n\0v\0\0/a\r\nX: y\0", 0, 0),
    "far-expires": (EXPIRES, b"n\0v\0\0\0", 253402300800, 0),
    "negative-age": (MAX_AGE, b"n\0v\0\0\0", 0, -1),
}
for name, (flags, fields, expires, max_age) in sorted(COOKIE_BUILD.items()):
    cfg2 = 0 if name == "far-expires" else 1
    write("cookie", "build-" + name,
          bytes([0x80 | flags, cfg2]) + fields + be64(expires) + be64(max_age))

# multipart: settings byte (bits 0-1 boundary: "b", "XyZ", a WebKit one,
# "a b'()+_,-./:=?"; bit 2 small limits; bit 3 also byte by byte; bit 4
# a Content-Type for eddy_multipart_boundary), cuts, the body.
def part(b, disposition, data, extra=b""):
    return (b"--" + b + b"\r\nContent-Disposition: form-data; " + disposition +
            b"\r\n" + extra + b"\r\n" + data + b"\r\n")

WEBKIT = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"
MULTIPART = {
    "form": (0x09, b"preamble\r\n" +
             part(b"XyZ", b"name=\"a\"", b"1") +
             part(b"XyZ", b"name=\"f\"; filename=\"a\\\"b.txt\"",
                  b"l1\r\nl2\r\n--Xy\r\n\r\r\n--XY", b"Content-Type: text/plain\r\n") +
             b"--XyZ--\r\nepilogue"),
    "browser": (0x02, part(WEBKIT, b"name=\"title\"", b"Hello") +
                part(WEBKIT, b"name=\"upload\"; filename=\"x.bin\"",
                     bytes(range(256)) * 2, b"Content-Type: application/octet-stream\r\n") +
                b"--" + WEBKIT + b"--\r\n"),
    "odd-boundary": (0x0b, part(b"a b'()+_,-./:=?", b"name=x", b"v") +
                     b"--a b'()+_,-./:=?--"),
    "fields": (0x08, part(b"b", b"name=a", b"1") + part(b"b", b"name=a", b"2") +
               part(b"b", b"name=\"c d\"", b"x+y%41") + b"--b--"),
    "empty-file": (0x00, part(b"b", b"name=f; filename=\"\"", b"") + b"--b--"),
    "no-parts": (0x00, b"--b--\r\n"),
    "padding": (0x08, b"\r\n--b \t\r\nContent-Disposition: form-data; name=x\r\n\r\n"
                b"v\r\n--b--  junk"),
    "many-parts-small": (0x04, b"".join(part(b"b", b"name=p%d" % i, b"") for i in range(4)) +
                         b"--b--"),
    "big-field-small": (0x04, part(b"b", b"name=x", b"123456789") + b"--b--"),
    "big-file-small": (0x04, part(b"b", b"name=x; filename=f", b"123456789") + b"--b--"),
    "big-header-small": (0x04, part(b"b", b"name=x", b"v", b"X-Pad: " + b"p" * 40 + b"\r\n") +
                         b"--b--"),
    "no-disposition": (0x08, b"--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--"),
    "bad-after": (0x08, b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--bX"),
    "bare-lf": (0x08, b"--b\nContent-Disposition: form-data; name=x\n\nv\n--b--"),
    "cut-short": (0x08, part(b"b", b"name=x", b"v")),
    "ct-quoted": (0x10, b"multipart/form-data; charset=utf-8; boundary=\"a b:c\""),
    "ct-webkit": (0x10, b"multipart/form-data; boundary=" + WEBKIT),
    "ct-bad": (0x10, b"multipart/form-data; boundary=\"a\\b\"; boundary=x"),
}
for i, (name, (cfg, data)) in enumerate(sorted(MULTIPART.items())):
    gaps = [(), (7,), (1, 1, 1, 1), (30, 30, 30), (3, 50)][i % 5]
    write("multipart", name, bytes([cfg]) + cuts(*gaps) + data)

# ws_frame: settings byte (bit 0 client, else server; bit 1 RSV1 allowed;
# bits 2-3 message limit 1 MiB/0/10/200; bit 4 byte at a time), cuts, the
# bytes of frames.
def frame(opcode, payload, fin=True, rsv1=False, mask=None, length=None):
    """One frame; length forces the encoding (126 or 127)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    m = 0x80 if mask is not None else 0
    if length == 127 or (length is None and n > 0xffff):
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    elif length == 126 or (length is None and n > 125):
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | n])
    if mask is not None:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += bytes(mask)
    return head + payload

K = [0x37, 0xfa, 0x21, 0x3d]
CLIENT, SERVER = 0x01, 0x00  # the reader's role
FRAMES = {
    "hello": (CLIENT, frame(1, b"Hello")),
    "hello-masked": (SERVER, frame(1, b"Hello", mask=K)),
    "fragments": (CLIENT, frame(1, b"Hel", fin=False) + frame(0, b"lo")),
    "ping-between": (CLIENT, frame(1, b"Hel", fin=False) + frame(9, b"") +
                     frame(0, b"lo")),
    "masked-fragments": (SERVER, frame(2, b"\x00\xff", fin=False, mask=K) +
                         frame(10, b"pong", mask=K) + frame(0, b"end", mask=K)),
    "close": (CLIENT, frame(8, b"\x03\xe8bye")),
    "close-empty": (SERVER, frame(8, b"", mask=K)),
    "close-bad-code": (CLIENT, frame(8, b"\x03\xed")),
    "close-bad-reason": (CLIENT, frame(8, b"\x03\xe8\xff")),
    "len16": (CLIENT, frame(2, bytes(range(256)) * 2)),
    "len64-small": (CLIENT, frame(1, b"abc", length=127)),
    "utf8-split": (CLIENT, frame(1, "κόσμε €".encode(), fin=False) +
                   frame(0, "𤭢".encode())),
    "utf8-bad": (CLIENT, frame(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
                               b"\xce\xb5\xed\xa0\x80edited")),
    "utf8-cut": (CLIENT, frame(1, b"ab\xe2\x82")),
    "compressed": (CLIENT | 0x02, frame(1, bytes.fromhex("f248cdc9c90700"),
                                        rsv1=True)),
    "compressed-fragments": (CLIENT | 0x02,
                             frame(1, bytes.fromhex("f248cd"), fin=False,
                                   rsv1=True) +
                             frame(0, bytes.fromhex("c9c90700"))),
    "unmasked-to-server": (SERVER, frame(1, b"x")),
    "masked-to-client": (CLIENT, frame(1, b"x", mask=K)),
    "rsv-bits": (CLIENT, bytes([0xf1, 0x00])),
    "opcode-3": (CLIENT, bytes([0x83, 0x00])),
    "long-ping": (CLIENT, bytes([0x89, 0x7e, 0x00, 0x7e]) + b"p" * 126),
    "fragmented-ping": (CLIENT, bytes([0x09, 0x00])),
    "continuation-first": (CLIENT, frame(0, b"x")),
    "new-inside": (CLIENT, frame(1, b"a", fin=False) + frame(1, b"b")),
    "top-bit": (CLIENT, bytes([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0])),
    "over-limit": (CLIENT | 0x08, frame(2, b"0123456789x")),
    "over-limit-fragments": (CLIENT | 0x0c, frame(2, b"x" * 150, fin=False) +
                             frame(0, b"y" * 60)),
}
for i, (name, (cfg, data)) in enumerate(sorted(FRAMES.items())):
    gaps = [(), (1, 1, 1), (2, 5), (7,), (3, 3, 3, 3)][i % 5]
    write("ws_frame", name, bytes([cfg | (0x10 if i % 2 else 0)]) +
          cuts(*gaps) + data)

# ws_inflate: two settings bytes (first: bits 0-2 window bits - 8, bit 3
# no context takeover, bits 4-5 limit 64/1000/64 KiB/1 MiB, bits 6-7 room
# 1/7/100/64 KiB; second: bits 0-1 input piece 1/3/64/all, bits 2-5 level,
# bits 6-7 memLevel), cuts (where messages end), the bytes.
import zlib

def deflate_messages(msgs, bits=15, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -bits)
    out = []
    for m in msgs:
        z = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        assert z.endswith(b"\x00\x00\xff\xff")
        out.append(z[:-4])
    return out

def messages(parts):
    """Cut bytes for messages laid end to end (each 1 to 256 long but the
    last)."""
    return cuts(*[len(p) for p in parts[:-1]]) + b"".join(parts)

TEXT = b"the quick brown fox jumps over the lazy dog; " * 12
INFLATE = {
    "hello": (0x27, 0x03, [bytes.fromhex("f248cdc9c90700")]),
    "hello-twice-takeover": (0x27, 0x03, [bytes.fromhex("f248cdc9c90700"),
                                          bytes.fromhex("f200110000")]),
    "hello-no-takeover": (0x2f, 0x02, [bytes.fromhex("f248cdc9c90700")] * 2),
    "bfinal": (0x27, 0x01, [bytes.fromhex("f348cdc9c9070000")]),
    "bfinal-short": (0x27, 0x01, [bytes.fromhex("f348cdc9c90700")]),
    "two-blocks": (0x67, 0x00, [bytes.fromhex("f248050000" "00ffff"
                                              "cac9c90700")]),
    "stored": (0xa7, 0x01, [bytes.fromhex("000500faff48656c6c6f00")]),
    "empty": (0x27, 0x03, [b"\x00"]),
    "text-takeover": (0xa7, 0x02, deflate_messages([TEXT[:200], TEXT[100:300]])),
    "text-window-9": (0x61, 0x12, deflate_messages([TEXT[:250]], bits=9)),
    "bomb": (0x17, 0x3b, deflate_messages([b"\x00" * 100000], level=9)),
    "bomb-small-room": (0x47, 0x03, deflate_messages([b"a" * 20000])),
    "not-deflate": (0x27, 0x03, [b"\xff\xff\xff"]),
    "bad-stored": (0x27, 0x03, [bytes.fromhex("000500fbff48656c6c6f")]),
    "plain-text": (0x2f, 0x25, [TEXT[:200], b"x", TEXT[50:250]]),
    "plain-bytes": (0x3b, 0x1a, [bytes(range(256))[:255]]),
}
for name, (s1, s2, parts) in sorted(INFLATE.items()):
    write("ws_inflate", name, bytes([s1, s2]) + messages(parts))

# tls_server: settings byte (bit 0 the server stops at TLS 1.2, 1 it has
# ALPN, 2 it asks for a client certificate, 3 the client half-closes at
# the end, 4 read_until), cuts, the bytes the client sends.  The
# ClientHellos are recorded from real clients (openssl, curl, gnutls-cli,
# when installed) connecting to a socket here that only listens.
import socket
import subprocess

def first_record(argv):
    """What a client sends first: its ClientHello record (None without
    the tool)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(5)
    port = srv.getsockname()[1]
    try:
        p = subprocess.Popen([a.replace("PORT", str(port)) for a in argv],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        srv.close()
        return None
    data = b""
    try:
        conn, _ = srv.accept()
        conn.settimeout(5)
        while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.close()
    except OSError:
        pass
    p.kill()
    p.wait()
    srv.close()
    return data or None

HELLOS = {
    "openssl": ["openssl", "s_client", "-connect", "127.0.0.1:PORT",
                "-servername", "localhost"],
    "openssl-tls12": ["openssl", "s_client", "-connect", "127.0.0.1:PORT",
                      "-tls1_2", "-servername", "localhost"],
    "openssl-tls10": ["openssl", "s_client", "-connect", "127.0.0.1:PORT",
                      "-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
    "curl": ["curl", "-sk", "--resolve", "localhost:PORT:127.0.0.1",
             "https://localhost:PORT/"],
    "gnutls": ["gnutls-cli", "--insecure", "--port", "PORT",
               "--sni-hostname=localhost", "127.0.0.1"],
}
CCS = b"\x14\x03\x03\x00\x01\x01"          # ChangeCipherSpec, as TLS 1.3 sends
FAKE_FINISHED = b"\x17\x03\x03\x00\x35" + bytes(range(0x35))
ALERT = b"\x15\x03\x03\x00\x02\x02\x28"    # fatal handshake_failure
TLS_SEEDS = {
    "http": (0x00, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    "sslv2": (0x00, b"\x80\x1c\x01\x00\x02\x00\x03\x00\x00\x00\x10\x01\x00\x80"
                    b"0123456789abcdef"),
    "alert": (0x08, ALERT),
    "empty-record": (0x08, b"\x16\x03\x01\x00\x00"),
    "huge-length": (0x00, b"\x16\x03\x01\xff\xff" + b"\x01" * 40),
}
for name, argv in sorted(HELLOS.items()):
    hello = first_record(argv)
    if hello is None:
        continue
    TLS_SEEDS[name] = (0x08, hello)
    TLS_SEEDS[name + "-then-finished"] = (0x12, hello + CCS + FAKE_FINISHED)
    TLS_SEEDS[name + "-tls12-alpn-mtls"] = (0x17, hello)
    TLS_SEEDS[name + "-cut"] = (0x00, hello[:len(hello) // 2])
for i, (name, (cfg, data)) in enumerate(sorted(TLS_SEEDS.items())):
    gaps = [(), (5,), (1, 1, 1, 1, 1, 1, 1, 1), (64, 64), (3, 100)][i % 5]
    write("tls_server", name, bytes([cfg]) + cuts(*gaps) + data)

# https_conn: settings byte (bit 0 raw bytes in place of a TLS client's,
# else behind eddy's TLS client; 1 small limits; 2 the client half-closes
# at the end (close_notify); 3 it cuts TCP beneath TLS; 4 the server is
# freed before the loop settles; 5 the server stops at TLS 1.2), cuts, the
# bytes.  Raw: the handshake's start (the ClientHellos recorded above, cut,
# followed by a forged Finished) and plaintext; behind TLS: requests.
HTTPS = {
    "raw-http": (0x01, GET),
    "raw-http-halfclose": (0x05, GET),
    "raw-garbage": (0x01, b"BBBBBBBBBBBBBBBBBBBB"),
    "raw-sslv2": (0x01, TLS_SEEDS["sslv2"][1]),
    "raw-alert": (0x05, ALERT),
    "raw-huge-length": (0x01, TLS_SEEDS["huge-length"][1]),
    "get": (0x00, GET),
    "get-tls12": (0x20, GET),
    "get-halfclose": (0x04, GET),
    "get-cut": (0x08, GET),
    "keepalive": (0x00, GET + b"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n" +
                  b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "later-pipelined": (0x04, b"GET /later HTTP/1.1\r\nHost: a\r\n\r\n" + GET),
    "later-free": (0x10, b"GET /later HTTP/1.1\r\nHost: a\r\n\r\n"),
    "echo": (0x00, HEADS["post-length"].replace(b"/echo", b"/echo")),
    "stream-chunked": (0x04, b"POST /stream HTTP/1.1\r\nHost: a\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                       b"0\r\n\r\n"),
    "stream-cut": (0x08, b"POST /stream HTTP/1.1\r\nHost: a\r\n"
                   b"Content-Length: 1000\r\n\r\npartial"),
    "stream-continue": (0x00, b"POST /stream/x HTTP/1.1\r\nHost: a\r\n"
                        b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"),
    "too-large": (0x06, b"POST /echo HTTP/1.1\r\nHost: a\r\n"
                  b"Content-Length: 300\r\n\r\n" + b"x" * 300),
    "linger": (0x04, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n"
               b"\r\n" + b"y" * 3000),
    "linger-small": (0x06, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n"
                     b"\r\n" + b"y" * 2000),
    "bad": (0x00, HEADS["bad-length"]),
    "bad-then-more": (0x04, HEADS["two-hosts"] + GET),
    "partial": (0x00, HEADS["partial"]),
    "partial-free": (0x10, HEADS["partial"]),
    "browser": (0x24, HEADS["browser"]),
}
for name, argv in sorted(HELLOS.items()):
    hello = first_record(argv)
    if hello is None:
        continue
    HTTPS["raw-" + name] = (0x01, hello)
    HTTPS["raw-" + name + "-then-finished"] = (0x05, hello + CCS + FAKE_FINISHED)
    HTTPS["raw-" + name + "-cut"] = (0x01, hello[:len(hello) // 2])
    HTTPS["raw-" + name + "-free"] = (0x11, hello)
for i, (name, (cfg, data)) in enumerate(sorted(HTTPS.items())):
    gaps = [(), (5,), (1, 1, 1, 1, 1, 1, 1, 1), (64, 64), (3, 100)][i % 5]
    write("https_conn", name, bytes([cfg]) + cuts(*gaps) + data)

# ws_conn: settings byte (bit 0 eddy is the client, else the server; bit 1
# permessage-deflate, bit 2 without context takeover; bit 3 messages in
# pieces; bits 4-5 limit 1 MiB/10/200/70000; bit 6 the first piece is
# leftover from the handshake), cuts, the bytes a peer sends (masked to a
# server).
def to_server(*frames):
    return b"".join(frames)

def m(opcode, payload, **kw):
    return frame(opcode, payload, mask=K, **kw)

def z(data):
    return deflate_messages([data])[0]

CONN = {
    "echo": (0x00, m(1, b"Hello") + m(2, b"\x00\xff") + m(8, b"\x03\xe8")),
    "client-echo": (0x01, frame(1, b"Hello") + frame(8, b"\x03\xe8bye")),
    "pings": (0x00, m(9, b"a") + m(1, b"x", fin=False) + m(9, b"") +
              m(0, b"y") + m(10, b"unsolicited")),
    "fragments": (0x08, m(1, b"frag", fin=False) + m(0, b"ment", fin=False) +
                  m(0, b"ed")),
    "big": (0x00, m(2, bytes(range(256)) * 40)),
    "big-pieces": (0x08, m(1, TEXT * 4)),
    "utf8-bad": (0x00, m(1, b"\xce\xba\xe1\xbd\xb9", fin=False) +
                 m(0, b"\xf4\x90\x80\x80edited")),
    "too-big": (0x10, m(1, b"0123456789x")),
    "too-big-fragments": (0x20, m(2, b"x" * 150, fin=False) + m(0, b"y" * 60)),
    "close-bad-code": (0x00, m(8, b"\x03\xed")),
    "close-empty": (0x01, frame(8, b"")),
    "masked-to-client": (0x01, m(1, b"x")),
    "unmasked-to-server": (0x00, frame(1, b"x")),
    "compressed": (0x02, m(1, z(b"Hello, Hello, Hello"), rsv1=True) +
                   m(2, z(bytes(300)), rsv1=True)),
    "compressed-no-takeover": (0x06, m(1, z(TEXT), rsv1=True) +
                               m(1, z(TEXT), rsv1=True)),
    "compressed-pieces": (0x0a, m(1, z(TEXT * 10), rsv1=True)),
    "compressed-bomb": (0x22, m(2, z(bytes(100000)), rsv1=True)),
    "compressed-bad": (0x02, m(2, b"\xff\xff\xff", rsv1=True)),
    "compressed-bad-utf8": (0x02, m(1, z(b"abc\xff"), rsv1=True)),
    "leftover": (0x40, m(1, b"early") + m(9, b"p") + m(1, b"late")),
    "limit-70000": (0x30, m(2, b"q" * 66000)),
}
for i, (name, (cfg, data)) in enumerate(sorted(CONN.items())):
    gaps = [(), (1, 1, 1), (2, 5), (7,), (3, 3, 3, 3), (40, 200)][i % 6]
    write("ws_conn", name, bytes([cfg]) + cuts(*gaps) + data)

# parse_response: settings byte (bits 0-1 max_head 64K/256/64/1024, 2-3
# header slots 100/4/1/16, 4 byte at a time), cuts, what a server sends.
SL = b"HTTP/1.1 200 OK\r\n"
RESPONSES = {
    "ok": SL + b"Content-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    "http10": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    "chunked": SL + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "no-reason": b"HTTP/1.1 204\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
    "continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    "nginx": b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
             b"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: text/html\r\n"
             b"Content-Length: 615\r\nLast-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\n"
             b"Connection: keep-alive\r\nETag: \"6434bbbe-267\"\r\nAccept-Ranges: bytes\r\n\r\n",
    "redirect": b"HTTP/1.1 302 Found\r\nLocation: /next?a=1\r\nContent-Length: 0\r\n\r\n",
    "fold": SL + b"X-Long: a\r\n b\r\n\tc\r\nContent-Length:\r\n 2\r\n\r\nok",
    "fold-bad": SL + b"Content-Length: 1\r\n 2\r\n\r\n",
    "many": SL + b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(20)) + b"\r\n",
    "te-and-length": SL + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "two-lengths": SL + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n",
    "bare-cr": b"HTTP/1.1 200 O\rK\r\n\r\n",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "http2": b"HTTP/2 200\r\n\r\n",
    "status-600": b"HTTP/1.1 600 Odd\r\n\r\n",
    "lead-ws": SL + b" X: y\r\n\r\n",
    "partial": SL + b"Content-Le",
}
for i, (name, data) in enumerate(sorted(RESPONSES.items())):
    cfg = 0x10 if i % 2 == 0 else 0x00
    if name == "many":
        cfg |= 0x05
    gaps = [(3, 7, 11), (1, 1, 1, 1), (16, 16), (), (5,)][i % 5]
    write("parse_response", name, bytes([cfg]) + cuts(*gaps) + data)

# client_conn: settings byte (bit 0 HEAD, 1 streamed, 2 gzip, 3 small
# limits, 4 the server closes at the end, 5 a produced body, 6 Expect:
# 100-continue, 7 pause at each piece), a byte for on_chunk to cancel at
# that piece (0: never), cuts, what the server sends.
import gzip as _gzip
GZ = _gzip.compress(b"hello, hello, hello", mtime=0)
CLIENT = {
    "ok": (0x00, 0, SL + b"Content-Length: 5\r\n\r\nhello"),
    "streamed": (0x02, 0, SL + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"),
    "paused": (0x82, 0, SL + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"),
    "cancel": (0x02, 2, SL + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"),
    "head": (0x01, 0, SL + b"Content-Length: 100\r\n\r\n"),
    "close": (0x10, 0, SL + b"\r\nuntil the close"),
    "gzip": (0x04, 0, SL + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZ) + GZ),
    "gzip-streamed": (0x86, 0, SL + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZ) + GZ),
    "small": (0x08, 0, SL + b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n"),
    "continue": (0x60, 0, b"HTTP/1.1 100 Continue\r\n\r\n" + SL + b"Content-Length: 2\r\n\r\nok"),
    "refused": (0x60, 0, b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"),
    "produced": (0x20, 0, SL + b"Content-Length: 2\r\n\r\nok"),
    "interim": (0x00, 0, b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + SL + b"Content-Length: 1\r\n\r\n!"),
    "upgrade": (0x00, 0, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
    "fold": (0x00, 0, SL + b"X: a\r\n b\r\nContent-Length: 1\r\n\r\n!"),
    "te-and-length": (0x00, 0, SL + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    "bad-chunk": (0x02, 0, SL + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX"),
    "truncated": (0x10, 0, SL + b"Content-Length: 10\r\n\r\nhel"),
    "extra": (0x00, 0, SL + b"Content-Length: 2\r\n\r\nokGARBAGE"),
    "nothing": (0x10, 0, b""),
    "redirect": (0x00, 0, b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n"),
}
for i, (name, (cfg, cancel, data)) in enumerate(sorted(CLIENT.items())):
    gaps = [(), (1, 1, 1, 1, 1), (17, 3), (40, 40)][i % 4]
    write("client_conn", name, bytes([cfg, cancel]) + cuts(*gaps) + data)

# handlers: settings byte (bits 0-1: 0 Accept-Encoding, 1 If-Range, 2 a
# path relative to a static root, 3 a Content-Type; bit 2 dotfiles), then
# the bytes.
for i, v in enumerate([b"gzip, deflate, br", b"gzip;q=0", b"*;q=0.5, identity",
                       b"x-gzip; q=1.000", b"br;q=1.0, gzip;q=0.8, *;q=0.1",
                       b"gzip;q=1.5", b"gzip;level=9;q=0.25", b" ,, GZIP ,",
                       b"*, gzip;q=0", b"gzip;q=\"0.5\""]):
    write("handlers", "ae-%d" % i, bytes([0]) + v)
for i, v in enumerate([b'"abc-1"', b'W/"abc-1"', b'"abc-2"', b'"abc-1", "x"',
                       b"Sun, 06 Nov 1994 08:49:37 GMT",
                       b"Sunday, 06-Nov-94 08:49:37 GMT",
                       b"Sun Nov  6 08:49:37 1994", b"yesterday"]):
    write("handlers", "if-range-%d" % i, bytes([1]) + v)
for i, (cfg, v) in enumerate([(2, b"a/b.txt"), (2, b".env"), (6, b".env"),
                              (2, b"a//b"), (2, b"a/../b"), (2, b"a/"),
                              (2, b""), (6, b"x/.git/config")]):
    write("handlers", "rel-%d" % i, bytes([cfg]) + v)
for i, v in enumerate([b"text/html; charset=utf-8", b"application/json",
                       b"image/svg+xml", b"application/ld+json", b"image/png",
                       b" Application/JavaScript ;x=y"]):
    write("handlers", "type-%d" % i, bytes([3]) + v)
