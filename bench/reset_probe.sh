#!/usr/bin/env bash
# bench/reset_probe.sh - a 2 MB POST to a route that takes only GET, 200
# times, against examples/hello and nginx: how many clients read the 405
# and had their upload accepted to the end (a lingering close), and how
# many were reset (bench/reset_probe.c says how each try is counted).
#
#   bench/reset_probe.sh [-n TRIES] [--bytes N] [--servers eddy,nginx]
#
#   eddy:  build/examples/hello (EDDY_HELLO=path for another build, such
#          as one of an older commit), POST / (its GET-only route)
#   nginx: one process, a static root (POST to a file is 405), and
#          client_max_body_size 100m (eddy's max_body_size: else 413)
#
# Prints one line per server, "SERVER tries N clean C reset R lost L other
# O".  Exit status: 0 when every try against every server was clean.
set -u
cd "$(dirname "$0")/.." || exit 2

TRIES=200
BYTES=2097152
SERVERS="eddy nginx"
SERVER_CPU=${SERVER_CPU:-0}
NOFILE=1024
HELLO=${EDDY_HELLO:-build/examples/hello}
while [ $# -gt 0 ]; do
    case $1 in
    -n) TRIES=$2; shift 2 ;;
    --bytes) BYTES=$2; shift 2 ;;
    --servers) SERVERS=${2//,/ }; shift 2 ;;
    *) echo "usage: $0 [-n TRIES] [--bytes N] [--servers eddy,nginx]" >&2; exit 2 ;;
    esac
done
# shellcheck source=bench/servers.sh
. bench/servers.sh

# shellcheck disable=SC2046  # one target or two
make -s build/bench/reset_probe $([ -z "${EDDY_HELLO:-}" ] && echo "$HELLO") ||
    exit 2
TMP=$(mktemp -d)
trap 'stop "${SRV_PID:-}"; rm -rf "$TMP"' EXIT

status=0
for server in $SERVERS; do
    port=$(free_port 18700)
    case $server in
    eddy)
        taskset -c "$SERVER_CPU" "$HELLO" --port "$port" < /dev/null \
            > "$TMP/eddy.log" 2>&1 &
        SRV_PID=$!
        ;;
    nginx)
        mkdir -p "$TMP/nginx/conf" "$TMP/nginx/logs" "$TMP/nginx/html"
        echo "Hello, World" > "$TMP/nginx/html/index.html"
        cat > "$TMP/nginx/conf/nginx.conf" << CONF
daemon off;
master_process off;
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    client_max_body_size 100m;
    server {
        listen 127.0.0.1:$port;
        root $TMP/nginx/html;
    }
}
CONF
        taskset -c "$SERVER_CPU" nginx -p "$TMP/nginx/" -e logs/error.log \
            -c conf/nginx.conf < /dev/null > "$TMP/nginx.log" 2>&1 &
        SRV_PID=$!
        ;;
    *) echo "reset_probe.sh: unknown server $server" >&2; exit 2 ;;
    esac
    if ! wait_listening "$port"; then
        echo "reset_probe.sh: $server did not start" >&2
        cat "$TMP/$server.log" >&2
        exit 1
    fi
    printf '%s ' "$server"
    build/bench/reset_probe --port "$port" -n "$TRIES" --bytes "$BYTES" ||
        status=1
    stop "$SRV_PID"
    SRV_PID=
done
exit $status
