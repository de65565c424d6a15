#!/bin/bash
# tests/interop_client.sh - eddy's HTTP client (build/examples/fetch)
# against other servers: nginx and Tornado, on loopback.  Run by `make
# interop-client` (not by make check: it needs the peers installed).
#
#   tests/interop_client.sh [B]      B: the build directory (build)
#
# nginx (/usr/sbin/nginx or nginx on PATH) runs with a configuration in a
# temporary directory: static files of several sizes, gzip on the fly
# (chunked), a redirect, a 404, and the same over TLS with certificates
# from tests/certs.sh.  Tornado (python3 with the tornado module) serves a
# hello, a body written in flushed pieces (chunked), a redirect, gzip
# (compress_response), an echo of POST bodies, and an HTTP/1.0 response.
# Each check runs fetch and compares its output with what the server
# holds.  Servers are stopped by the PIDs this script started.  Exit
# status: 0 when every check passed (a peer that is missing is skipped,
# and said so), 1 otherwise.
set -u
B=${1:-build}
FETCH=$B/examples/fetch
TMP=$(mktemp -d /tmp/eddy-interop-XXXXXX)
PIDS=""
fails=0
checks=0

cleanup() {
    for p in $PIDS; do kill "$p" 2> /dev/null; done
    for p in $PIDS; do wait "$p" 2> /dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

[ -x "$FETCH" ] || { echo "interop: $FETCH is missing (make examples)"; exit 1; }

ok() { checks=$((checks + 1)); echo "   ok   $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "   FAIL $1"; }

# expect NAME WANT_FILE FETCH_ARGS...: fetch exits 0 with WANT_FILE's bytes
expect() {
    local name=$1 want=$2
    shift 2
    if "$FETCH" "$@" > "$TMP/out" 2> "$TMP/err" && cmp -s "$TMP/out" "$want"; then
        ok "$name"
    else
        bad "$name: $(head -c 300 "$TMP/err")"
    fi
}

# expect_text NAME TEXT FETCH_ARGS...: fetch exits 0 and prints TEXT
expect_text() {
    local name=$1
    printf '%s' "$2" > "$TMP/want"
    shift 2
    expect "$name" "$TMP/want" "$@"
}

# expect_head NAME LINE FETCH_ARGS...: fetch -v exits 0 and its stderr
# holds the line LINE
expect_head() {
    local name=$1 line=$2
    shift 2
    if "$FETCH" -v "$@" > /dev/null 2> "$TMP/err" && grep -qxF "$line" "$TMP/err"; then
        ok "$name"
    else
        bad "$name: $(head -c 300 "$TMP/err")"
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # PID PORT
    for _ in $(seq 100); do
        kill -0 "$1" 2> /dev/null || return 1
        (exec 3<> "/dev/tcp/127.0.0.1/$2") 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- files ------------------------------------------------------------------

mkdir -p "$TMP/www"
head -c 100 /dev/urandom > "$TMP/www/small.bin"
head -c 3000000 /dev/urandom > "$TMP/www/big.bin"
python3 -c 'import sys; sys.stdout.write("".join("line %d of text\n" % i for i in range(20000)))' \
    > "$TMP/www/text.txt"
: > "$TMP/www/empty.txt"

# --- nginx --------------------------------------------------------------------

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -x "$NGINX" ]; then
    echo "== nginx ($($NGINX -v 2>&1 | sed 's/.*: //'))"
    sh tests/certs.sh "$TMP/certs" > /dev/null 2>&1 || { echo "interop: tests/certs.sh failed"; exit 1; }
    NP=$(free_port)
    NS=$(free_port)
    mkdir -p "$TMP/nginx/logs"
    cat > "$TMP/nginx/nginx.conf" << CONF
daemon off;
master_process off;
worker_processes 1;
error_log $TMP/nginx/logs/error.log warn;
pid $TMP/nginx/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    default_type application/octet-stream;
    types { text/plain txt; }
    gzip on;
    gzip_types text/plain;
    gzip_min_length 0;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NP;
        listen 127.0.0.1:$NS ssl;
        ssl_certificate $TMP/certs/server.pem;
        ssl_certificate_key $TMP/certs/server.key;
        root $TMP/www;
        location = /moved { return 301 /small.bin; }
        location = /see-other { return 303 /text.txt; }
    }
}
CONF
    "$NGINX" -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" < /dev/null > "$TMP/nginx/out" 2>&1 &
    NPID=$!
    PIDS="$PIDS $NPID"
    if ! wait_port "$NPID" "$NP"; then
        echo "interop: nginx did not start:"; cat "$TMP/nginx/out" "$TMP/nginx/logs/error.log" 2> /dev/null
        exit 1
    fi
    U=http://127.0.0.1:$NP
    S=https://localhost:$NS
    expect "nginx: a small file" "$TMP/www/small.bin" "$U/small.bin"
    expect "nginx: 3 MB" "$TMP/www/big.bin" "$U/big.bin"
    expect "nginx: an empty file" "$TMP/www/empty.txt" "$U/empty.txt"
    expect "nginx: text, no gzip asked" "$TMP/www/text.txt" "$U/text.txt"
    expect "nginx: gzip on the fly (chunked), inflated" "$TMP/www/text.txt" \
        -H "Accept-Encoding: gzip" "$U/text.txt"
    expect_head "nginx: the gzip answer was gzip" "Content-Encoding: gzip" \
        -H "Accept-Encoding: gzip" "$U/text.txt"
    expect "nginx: 301 followed" "$TMP/www/small.bin" "$U/moved"
    expect "nginx: 303 after a POST, as a GET" "$TMP/www/text.txt" -d "x=1" "$U/see-other"
    expect_head "nginx: 404 is a response" "HTTP/1.1 404 Not Found" "$U/nope"
    expect_head "nginx: HEAD" "Content-Length: 3000000" -X HEAD "$U/big.bin"
    if "$FETCH" --parallel 8 --count 2000 "$U/small.bin" > "$TMP/par" 2>&1 &&
        grep -q "failed=0" "$TMP/par"; then
        ok "nginx: 2000 fetches over 8 kept connections"
    else
        bad "nginx: parallel: $(cat "$TMP/par")"
    fi
    expect "nginx: https, verified" "$TMP/www/big.bin" --cacert "$TMP/certs/ca.pem" "$S/big.bin"
    expect "nginx: https, gzip" "$TMP/www/text.txt" --cacert "$TMP/certs/ca.pem" \
        -H "Accept-Encoding: gzip" "$S/text.txt"
    if "$FETCH" "$S/small.bin" > /dev/null 2> "$TMP/err"; then
        bad "nginx: https to an unknown CA succeeded"
    elif grep -q "did not verify" "$TMP/err"; then
        ok "nginx: https to an unknown CA fails verification"
    else
        bad "nginx: https to an unknown CA: $(cat "$TMP/err")"
    fi
    expect "nginx: https, --insecure" "$TMP/www/small.bin" --insecure "$S/small.bin"
else
    echo "== nginx: not installed, skipped"
fi

# --- Tornado --------------------------------------------------------------------

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if "$PY" -c 'import tornado' 2> /dev/null; then
    TP=$(free_port)
    echo "== Tornado $("$PY" -c 'import tornado; print(tornado.version)')"
    cat > "$TMP/tornado_app.py" << 'PY'
import sys
import tornado.ioloop
import tornado.web

class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, World")

class Pieces(tornado.web.RequestHandler):
    async def get(self):
        for i in range(50):
            self.write("piece %d\n" % i)
            await self.flush()

class Echo(tornado.web.RequestHandler):
    def post(self):
        self.write(self.request.body)
    put = post

class Redirect(tornado.web.RequestHandler):
    def get(self):
        self.redirect(self.get_argument("to", "/hello"),
                      status=int(self.get_argument("code", "302")))
    post = put = get

class Text(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("".join("line %d of text\n" % i for i in range(20000)))

app = tornado.web.Application([
    (r"/hello", Hello), (r"/pieces", Pieces), (r"/echo", Echo),
    (r"/redirect", Redirect), (r"/text", Text),
], compress_response=True)
app.listen(int(sys.argv[1]), address="127.0.0.1")
tornado.ioloop.IOLoop.current().start()
PY
    "$PY" "$TMP/tornado_app.py" "$TP" > "$TMP/tornado.log" 2>&1 &
    TPID=$!
    PIDS="$PIDS $TPID"
    if ! wait_port "$TPID" "$TP"; then
        echo "interop: Tornado did not start:"; cat "$TMP/tornado.log"
        exit 1
    fi
    T=http://127.0.0.1:$TP
    expect_text "tornado: hello" "Hello, World" "$T/hello"
    python3 -c 'import sys; sys.stdout.write("".join("piece %d\n" % i for i in range(50)))' \
        > "$TMP/pieces"
    expect "tornado: flushed pieces (chunked)" "$TMP/pieces" "$T/pieces"
    expect_head "tornado: ... were chunked" "Transfer-Encoding: chunked" "$T/pieces"
    expect_text "tornado: POST echoed" "a body of bytes" -d "a body of bytes" "$T/echo"
    expect_text "tornado: PUT echoed" "put" -X PUT -d "put" "$T/echo"
    expect_text "tornado: 302 followed" "Hello, World" "$T/redirect"
    expect_text "tornado: 307 keeps POST" "kept" -d "kept" "$T/redirect?code=307&to=/echo"
    expect_text "tornado: 308 keeps PUT" "put" -X PUT -d "put" "$T/redirect?code=308&to=/echo"
    expect_text "tornado: 303 turns POST into GET" "Hello, World" -d "x" "$T/redirect?code=303"
    "$PY" -c 'import sys; sys.stdout.write("".join("line %d of text\n" % i for i in range(20000)))' \
        > "$TMP/text"
    expect "tornado: gzip, inflated" "$TMP/text" -H "Accept-Encoding: gzip" "$T/text"
    expect_head "tornado: ... was gzip" "Content-Encoding: gzip" -H "Accept-Encoding: gzip" "$T/text"
    if "$FETCH" --parallel 4 --count 500 "$T/hello" > "$TMP/par" 2>&1 &&
        grep -q "failed=0" "$TMP/par"; then
        ok "tornado: 500 fetches over 4 kept connections"
    else
        bad "tornado: parallel: $(cat "$TMP/par")"
    fi
else
    echo "== Tornado: python3 has no tornado module (apt-get install python3-tornado), skipped"
fi

echo "== interop-client: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
