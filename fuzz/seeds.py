#!/usr/bin/env python3
"""fuzz/seeds.py - writes the seed corpora under fuzz/corpus/<harness>/.

Each seed is a few control bytes (see the harness's comment) and a small,
realistic input.  Run from the repository's root; the files are committed,
this script is how they were made.
"""
import os

def cuts(*gaps):
    """The cut-point bytes of fuzz/fuzz.h: a count, then gaps - 1."""
    return bytes([len(gaps)] + [g - 1 for g in gaps])

def write(harness, name, data):
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
