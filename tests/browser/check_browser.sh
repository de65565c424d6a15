#!/bin/sh
# tests/browser/check_browser.sh - make check-browser: examples/ws_chat in
# Debian's chromium, headless, two tabs (tests/browser/chat.js drives it
# through puppeteer-core from build/npm/).
#
#   tests/browser/check_browser.sh [BUILD_DIR]
#
# Starts BUILD_DIR/examples/ws_chat on a free loopback port, runs chat.js
# against it (60 s at most), and stops the server by its PID.  Without
# chromium, node or puppeteer-core it skips, saying why (exit 0), unless
# INTEROP=require (CI), when it fails.  Exit status 0 when the message
# from tab 1 arrived in tab 2.
set -u
B=${1:-build}
NPM_MODULES=build/npm/node_modules
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

missing() {
    if [ "${INTEROP:-1}" = require ]; then
        echo "check-browser: FAILED: $1 is missing (INTEROP=require)" >&2
        exit 1
    fi
    echo "check-browser: skipped: $1 is missing ($2)"
    exit 0
}
[ -x "$CHROMIUM" ] || missing "$CHROMIUM" "apt-get install chromium"
command -v node >/dev/null 2>&1 || missing node "apt-get install nodejs npm"
[ -d $NPM_MODULES/puppeteer-core ] || missing puppeteer-core "make interop-deps"
[ -x "$B/examples/ws_chat" ] || { echo "check-browser: no $B/examples/ws_chat" >&2; exit 1; }

# A free port: the kernel picks one, which is closed again before
# ws_chat binds it; another program could take it in between, so a
# server that does not come up is tried again on a new port.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pid=""
stop() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=""
}
trap stop EXIT
trap 'stop; exit 1' INT TERM

log=$(mktemp)
for try in 1 2 3; do
    port=$(free_port)
    "$B/examples/ws_chat" --port "$port" --address 127.0.0.1 >"$log" 2>&1 &
    pid=$!
    # Up when it answers; at most 5 s.
    i=0
    while [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null &&
        ! curl -sf -o /dev/null "http://127.0.0.1:$port/"; do
        sleep 0.1
        i=$((i + 1))
    done
    curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
    stop
done
if [ -z "$pid" ]; then
    echo "check-browser: FAILED: ws_chat did not start:" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log"
echo "check-browser: ws_chat (pid $pid) on http://127.0.0.1:$port/"
NODE_PATH=$NPM_MODULES timeout -k 5 60 node tests/browser/chat.js \
    "http://127.0.0.1:$port/" "$CHROMIUM"
status=$?
[ $status = 124 ] && echo "check-browser: FAILED: not done in 60 s" >&2
stop
[ $status = 0 ] && echo "check-browser: ok" || echo "check-browser: FAILED" >&2
exit $status
