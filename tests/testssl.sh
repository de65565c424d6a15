#!/bin/sh
# tests/testssl.sh - testssl (Debian's testssl.sh) against examples/hello
# over HTTPS, run by `make testssl` from the top directory (and once by
# .ci/run: it takes about a minute, too long for every backend's check).
#
#   tests/testssl.sh [BUILD_DIR]     (default build; hello must be built)
#
# hello serves HTTPS on 127.0.0.1 with a certificate made now by
# tests/certs.sh (ECDSA P-256), at eddy's defaults; testssl runs only the
# checks that matter here (--protocols --std --renegotiation), and its CSV
# must show:
#
#   SSLv2, SSLv3, TLS 1.0, TLS 1.1   not offered
#   NULL, anonymous (aNULL), EXPORT, LOW (DES, RC2, RC4, 64-bit) and
#   3DES/IDEA cipher suites          not offered
#   client-initiated renegotiation   not vulnerable (refused, secure or not)
#
# It prints testssl's summary lines for those, then "testssl: ok", or what
# failed.  hello is stopped by its PID.  Exit status 0 when all holds.
set -eu
B=${1:-build}
hello=$B/examples/hello
[ -x "$hello" ] || { echo "testssl: $hello is not built" >&2; exit 1; }
command -v testssl > /dev/null 2>&1 ||
    { echo "testssl: no testssl command (scripts/need.sh testssl)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/eddy-testssl.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

sh tests/certs.sh "$tmp/certs" > /dev/null 2>&1 ||
    { echo "testssl: tests/certs.sh failed" >&2; exit 1; }

# A free port: one hello can bind (it exits at once when it cannot).
port=$((20000 + $$ % 20000))
for _ in 1 2 3 4 5 6 7 8 9 10; do
    "$hello" --port "$port" --address 127.0.0.1 \
        --tls-cert "$tmp/certs/server.pem" --tls-key "$tmp/certs/server.key" \
        < /dev/null > "$tmp/hello.log" 2>&1 &
    pid=$!
    up=
    for _ in $(seq 50); do
        if curl -s --cacert "$tmp/certs/ca.pem" --max-time 1 \
            "https://127.0.0.1:$port/" 2> /dev/null | grep -q '^Hello, World$'; then
            up=1
            break
        fi
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    [ -n "$up" ] && break
    kill "$pid" 2> /dev/null; wait "$pid" 2> /dev/null || true
    pid=
    port=$((port + 1))
done
[ -n "$pid" ] || { echo "testssl: hello did not start over HTTPS:" >&2; cat "$tmp/hello.log" >&2; exit 1; }

version=$(testssl --version 2> /dev/null | tr -d '\033' |
    sed -n 's/^ *testssl *\([0-9][^ ]*\) .*/\1/p' | head -n1)
echo "== testssl ${version:-?} against $hello over HTTPS (127.0.0.1:$port)"
testssl --quiet --color 0 --warnings off -n none --protocols --std \
    --renegotiation --csvfile "$tmp/testssl.csv" "127.0.0.1:$port" \
    > "$tmp/testssl.log" 2>&1 || true
[ -s "$tmp/testssl.csv" ] ||
    { echo "testssl: no report; it said:" >&2; cat "$tmp/testssl.log" >&2; exit 1; }
# The summary lines, as testssl printed them.
grep -E '^ (SSLv2|SSLv3|TLS 1(\.[0-3])?) |^ (NULL|Anonymous|Export|LOW|Triple DES|Obsolete CBC|Strong)|^ (Secure Renegotiation|Secure Client-Initiated)' \
    "$tmp/testssl.log" | sed 's/   */  /g; s/^ /   /'

# want ID FINDING: testssl's CSV has that finding for that check.
bad=0
want() {
    got=$(awk -F'","' -v id="$1" '$1 == "\"" id { print $5 }' "$tmp/testssl.csv")
    if [ "$got" != "$2" ]; then
        echo "testssl: $1 is \"${got:-missing}\", not \"$2\"" >&2
        bad=1
    fi
}
for id in SSLv2 SSLv3 TLS1 TLS1_1; do want "$id" "not offered"; done
for id in NULL aNULL EXPORT LOW 3DES_IDEA; do want "cipherlist_$id" "not offered"; done
want secure_client_renego "not vulnerable"
[ "$bad" = 0 ] || { echo "testssl: its whole report:" >&2; cat "$tmp/testssl.log" >&2; exit 1; }
echo "testssl: ok (no SSLv2/3, TLS 1.0/1.1, weak cipher suite or client renegotiation)"
