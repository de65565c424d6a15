#!/usr/bin/env bash
# bench/client.sh - eddy's HTTP client as a load generator beside wrk, a
# libcurl-multi driver and Tornado's SimpleAsyncHTTPClient, against one
# nginx serving a small file.
#
#   bench/client.sh [--quick] [--rounds N] [--conns C]
#
# nginx (one process, master_process off, access_log off, keepalive
# requests unlimited, a 12-byte file) is pinned to CPU 0, every client to
# CPU 1, all on 127.0.0.1, after the method of ../shared/bench/http/
# (pinning, interleaved rounds, CPU time from /proc and rusage).  Per
# round, in order (reversed every other round):
#
#   eddy     build/examples/fetch --parallel C --count N URL
#   wrk      wrk -t1 -cC -dD URL                     (a purpose-built load generator)
#   curl     build/bench/curl_multi -c C -n N URL    (libcurl's multi interface)
#   tornado  python3 bench/tornado_client.py -c C -n M URL
#            (SimpleAsyncHTTPClient: a connection per request, its way)
#
# with C = 50 keep-alive connections, N = 200,000 (20,000 with --quick),
# D = 5 s (2 s), M = 5,000 (1,000).  Each client's CPU time (user + system,
# from bash's `time`) is divided by the requests it completed; requests
# per second are its own count over its own wall time; the server's CPU
# per request (from /proc/PID/stat) is shown beside.  Then the memory of
# an idle pooled connection: build/bench/client_idle opens 1,000 (200)
# keep-alive connections to nginx and leaves them idle in the pool; its
# VmRSS growth per connection (and its heap in use, without the holes
# that the fetches' freed memory leaves) is printed beside nginx's VmRSS
# growth while it holds them (user-space memory only).
#
# Prints a markdown table of medians, then one line:
#   client eddy_rps=.. eddy_cpu_us=.. wrk_rps=.. wrk_cpu_us=.. curl_rps=..
#   curl_cpu_us=.. tornado_rps=.. tornado_cpu_us=.. cpu_vs_wrk=.. cpu_vs_curl=..
#   rps_vs_tornado=.. idle_conn_bytes=.. idle_conn_heap_bytes=..
#   nginx_idle_conn_bytes=..
# (cpu_vs_*: eddy's CPU per request over the peer's, lower is better;
# rps_vs_tornado: eddy's requests per second over Tornado's.)  A client
# that is missing (wrk, python3-tornado) is skipped, and its figures are
# NA.  Progress goes to stderr.  Exit status: 0, 1 when a run failed, 2 usage.
set -u
cd "$(dirname "$0")/.." || exit 2

ROUNDS=2
CONNS=50
QUICK=0
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1; ROUNDS=1 ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --conns) CONNS=${2:?}; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "client.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
[[ $ROUNDS =~ ^[1-9][0-9]?$ && $CONNS =~ ^[1-9][0-9]*$ ]] ||
    { echo "client.sh: --rounds and --conns want positive integers" >&2; exit 2; }
if [ "$QUICK" = 1 ]; then
    N=20000 D=2s M=1000 IDLE=200
else
    N=200000 D=5s M=5000 IDLE=1000
fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d /tmp/eddy-client-bench-XXXXXX)
NGINX_PID=""
cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2> /dev/null && wait "$NGINX_PID" 2> /dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

make -s examples bench > /dev/null || exit 1
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "client.sh: nginx is missing (apt-get install nginx-light)" >&2; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CLIENTS="eddy curl"
command -v wrk > /dev/null && CLIENTS="eddy wrk curl" || log "wrk is missing: skipped"
if "$PY" -c 'import tornado' 2> /dev/null; then
    CLIENTS="$CLIENTS tornado"
else
    log "python3-tornado is missing: skipped"
fi

# --- nginx on CPU 0 ------------------------------------------------------------
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/nginx/logs" "$TMP/www"
printf 'Hello, World' > "$TMP/www/hello.txt"
cat > "$TMP/nginx/nginx.conf" << CONF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
error_log $TMP/nginx/logs/error.log warn;
pid $TMP/nginx/logs/nginx.pid;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $TMP/nginx/tmp;
    server {
        listen 127.0.0.1:$PORT;
        root $TMP/www;
    }
}
CONF
taskset -c "$SERVER_CPU" "$NGINX" -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" \
    < /dev/null > "$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break
    kill -0 "$NGINX_PID" 2> /dev/null || { cat "$TMP/nginx.log" >&2; exit 1; }
    sleep 0.1
done
URL=http://127.0.0.1:$PORT/hello.txt
log "nginx on 127.0.0.1:$PORT (CPU $SERVER_CPU), clients on CPU $CLIENT_CPU, $CONNS connections"

ticks() { awk '{ print $14 + $15 }' "/proc/$NGINX_PID/stat"; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# run_client NAME: one run; prints "requests seconds client_cpu_s server_ticks"
run_client() {
    local out t0 t1 rc
    t0=$(ticks)
    case $1 in
    eddy) cmd=(build/examples/fetch --parallel "$CONNS" --count "$N" "$URL") ;;
    wrk) cmd=(wrk -t1 -c"$CONNS" -d"$D" "$URL") ;;
    curl) cmd=(build/bench/curl_multi -c "$CONNS" -n "$N" "$URL") ;;
    tornado) cmd=("$PY" bench/tornado_client.py -c "$CONNS" -n "$M" "$URL") ;;
    esac
    TIMEFORMAT='%R %U %S'
    { time taskset -c "$CLIENT_CPU" "${cmd[@]}" > "$TMP/out" 2> "$TMP/err"; } 2> "$TMP/time"
    rc=$?
    t1=$(ticks)
    if [ $rc -ne 0 ]; then
        log "$1 failed ($rc): $(head -c 300 "$TMP/err" "$TMP/out")"
        return 1
    fi
    read -r wall user sys < "$TMP/time"
    case $1 in
    wrk) req=$(awk '/requests in/ { print $1 }' "$TMP/out")
         sec=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' "$TMP/out") ;;
    *) req=$(grep -o 'requests=[0-9]*' "$TMP/out" | cut -d= -f2)
       sec=$(grep -o 'seconds=[0-9.]*' "$TMP/out" | cut -d= -f2) ;;
    esac
    [ -n "$req" ] && [ -n "$sec" ] || { log "$1: no result: $(cat "$TMP/out")"; return 1; }
    echo "$req $sec $(echo "$user + $sys" | bc -l) $((t1 - t0))"
}

declare -A RPS CPU SRV
failed=0
for r in $(seq "$ROUNDS"); do
    order=$CLIENTS
    [ $((r % 2)) = 0 ] && order=$(echo "$CLIENTS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for c in $order; do
        sleep 1
        if ! res=$(run_client "$c"); then
            failed=1
            continue
        fi
        read -r req sec cpu st <<< "$res"
        RPS[$c]="${RPS[$c]:-} $(echo "$req / $sec" | bc -l)"
        CPU[$c]="${CPU[$c]:-} $(echo "$cpu * 1000000 / $req" | bc -l)"
        SRV[$c]="${SRV[$c]:-} $(echo "$st * 1000000 / $CLK_TCK / $req" | bc -l)"
        log "round $r $c: $req requests, $(printf '%.0f' "$(echo "$req / $sec" | bc -l)") req/s, $(printf '%.2f' "$(echo "$cpu * 1000000 / $req" | bc -l)") us CPU/req"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { [ "$1" = NA ] && echo NA || printf "%.${2}f" "$1"; }
ratio() { { [ "$1" = NA ] || [ "$2" = NA ]; } && echo NA || printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

# --- memory of an idle pooled connection -------------------------------------
before=$(rss "$NGINX_PID")
taskset -c "$CLIENT_CPU" build/bench/client_idle -n "$IDLE" -w 3 "$URL" > "$TMP/idle" 2> "$TMP/idle.err" &
IPID=$!
for _ in $(seq 100); do [ -s "$TMP/idle" ] && break; sleep 0.1; done
during=$(rss "$NGINX_PID")
wait "$IPID" || { log "client_idle failed: $(cat "$TMP/idle.err")"; failed=1; }
idle_bytes=$(grep -o ' per_conn_bytes=[0-9-]*' "$TMP/idle" | cut -d= -f2)
idle_bytes=${idle_bytes:-NA}
idle_heap=$(grep -o 'heap_per_conn_bytes=[0-9-]*' "$TMP/idle" | cut -d= -f2)
idle_heap=${idle_heap:-NA}
nginx_bytes=$(echo "($during - $before) * 1024 / $IDLE" | bc)

echo "| client | req/s | client CPU µs/req | nginx CPU µs/req |"
echo "|---|---:|---:|---:|"
for c in eddy wrk curl tornado; do
    echo "| $c | $(fmt "$(echo "${RPS[$c]:-}" | median)" 0) | $(fmt "$(echo "${CPU[$c]:-}" | median)" 2) | $(fmt "$(echo "${SRV[$c]:-}" | median)" 2) |"
done
echo
echo "memory per idle pooled connection: eddy's client $idle_bytes bytes of RSS ($idle_heap of heap in use), nginx $nginx_bytes bytes of RSS ($IDLE connections; user space only)"
E_R=$(echo "${RPS[eddy]:-}" | median) E_C=$(echo "${CPU[eddy]:-}" | median)
W_R=$(echo "${RPS[wrk]:-}" | median) W_C=$(echo "${CPU[wrk]:-}" | median)
C_R=$(echo "${RPS[curl]:-}" | median) C_C=$(echo "${CPU[curl]:-}" | median)
T_R=$(echo "${RPS[tornado]:-}" | median) T_C=$(echo "${CPU[tornado]:-}" | median)
echo "client eddy_rps=$(fmt "$E_R" 0) eddy_cpu_us=$(fmt "$E_C" 2) wrk_rps=$(fmt "$W_R" 0) wrk_cpu_us=$(fmt "$W_C" 2) curl_rps=$(fmt "$C_R" 0) curl_cpu_us=$(fmt "$C_C" 2) tornado_rps=$(fmt "$T_R" 0) tornado_cpu_us=$(fmt "$T_C" 2) cpu_vs_wrk=$(ratio "$E_C" "$W_C") cpu_vs_curl=$(ratio "$E_C" "$C_C") rps_vs_tornado=$(ratio "$E_R" "$T_R") idle_conn_bytes=$idle_bytes idle_conn_heap_bytes=$idle_heap nginx_idle_conn_bytes=$nginx_bytes"
exit $failed
