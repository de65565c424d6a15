#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions called indirectly
# bench/https.sh - HTTPS: examples/hello beside nginx, the measured targets
# of issue 11, with ratios eddy/nginx.
#
#   bench/https.sh [--quick] [--rounds R] [-n N] [--seconds S] [--no-harness]
#   (the harness: ../shared/bench/http/run.sh, or $HTTP_HARNESS)
#
# 1. The shared harness in TLS mode (../shared/bench/http/run.sh --tls
#    --candidate eddy 'build/examples/hello --port {port} --tls-cert {cert}
#    --tls-key {key}'): keep-alive under wrk and ab -k, a full handshake per
#    request under ab, server CPU per request beside nginx's; it makes one
#    fresh ECDSA P-256 certificate for both and records the suite each
#    negotiated (its env.txt).  --no-harness leaves it out.
# 2. Then, in R interleaved rounds (eddy, nginx; reversed every other
#    round), each server started fresh with one certificate made here
#    (ECDSA P-256, OpenSSL's defaults; server pinned to CPU 0, clients to
#    CPU 1, 127.0.0.1, a free port):
#      idle    N idle TLS keep-alive connections held by bench/https_conns
#              (each did a full handshake and one request): VmRSS delta
#              per connection, in bytes (user space only)
#      new     openssl s_time -new for S seconds: a full handshake and a
#              GET per connection; server CPU µs per connection
#      reuse   openssl s_time -reuse: the same with session resumption
#              (the s_time output's 'r' marks confirm it resumed)
#      bulk    wrk -t1 -c4 -d S over GET /bulk, 1 MiB responses (hello
#              --bulk-bytes 1048576; nginx a 1 MiB static file): MiB served
#              per second of server CPU
#    Server CPU is utime+stime from /proc/PID/stat around each run.
#
#    eddy:  build/examples/hello --tls-cert --tls-key --bulk-bytes 1048576
#           --max-connections N+2000 --idle-timeout-ms 600000
#    nginx: one process (master_process off), access_log off, ssl with the
#           same certificate, ssl_protocols TLSv1.2 TLSv1.3 (its defaults
#           otherwise: session tickets on, no session cache),
#           keepalive_timeout 300s, keepalive_requests 1000000,
#           worker_connections N+2000, `return 200 "Hello, World"` on /
#           and a 1 MiB file on /bulk
#
# Prints a line per run, then the medians and the ratios eddy/nginx (lower
# is better for idle, new and reuse; higher for bulk), then the harness's
# candidate line.  --quick: the harness's --quick, one round, N=1000,
# S=2 (a smoke check of everything, a few minutes).  Default: 2 rounds,
# N=10000, S=5.  Do not quote figures from a busy machine.
# Progress on stderr; logs in a temporary directory, removed unless KEEP=1.
# Exit status: 0 when every run gave its figures without an error.
set -u
cd "$(dirname "$0")/.." || exit 2

QUICK=0
ROUNDS=""
N=""
SECS=""
HARNESS=1
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASE_PORT=${BASE_PORT:-18700}
BULK=1048576
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1; shift ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    -n) N=${2:?}; shift 2 ;;
    --seconds) SECS=${2:?}; shift 2 ;;
    --no-harness) HARNESS=0; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { if (!/shellcheck/) print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "https.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
if [ "$QUICK" = 1 ]; then
    ROUNDS=${ROUNDS:-1}; N=${N:-1000}; SECS=${SECS:-2}
else
    ROUNDS=${ROUNDS:-2}; N=${N:-10000}; SECS=${SECS:-5}
fi
[[ $N =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]?$ && $SECS =~ ^[1-9][0-9]?$ ]] ||
    { echo "https.sh: -n, --rounds and --seconds want positive integers" >&2; exit 2; }

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

for t in nginx openssl wrk taskset ss; do
    command -v $t > /dev/null || { echo "https.sh: $t is missing (nginx-light, openssl, wrk, util-linux, iproute2)" >&2; exit 1; }
done
make -s examples bench || exit 1
[ -x build/bench/https_conns ] || { echo "https.sh: built without TLS (make TLS=openssl)" >&2; exit 1; }
HARD=$(ulimit -Hn)
ulimit -n "$HARD" || exit 1
if [ "$HARD" != unlimited ] && [ $((N + 100)) -gt "$HARD" ]; then
    echo "https.sh: $N connections need more fds than the hard limit ($HARD)" >&2
    exit 1
fi
NOFILE=$HARD
[ "$NOFILE" = unlimited ] && NOFILE=$((N + 4000))
CLK_TCK=$(getconf CLK_TCK)

# --- 1. the shared harness --------------------------------------------------
HARNESS_OUT=""
if [ "$HARNESS" = 1 ]; then
    # ../shared beside the repository (a worktree one level deeper looks
    # one level up too); HTTP_HARNESS names another.
    harness=${HTTP_HARNESS:-../shared/bench/http/run.sh}
    [ -x "$harness" ] || [ -n "${HTTP_HARNESS:-}" ] || harness=../../shared/bench/http/run.sh
    [ -x "$harness" ] || { echo "https.sh: ../shared/bench/http/run.sh is missing (HTTP_HARNESS=path/to/run.sh, or --no-harness)" >&2; exit 2; }
    log "1. $harness --tls$([ "$QUICK" = 1 ] && echo " --quick")"
    HARNESS_OUT=$("$harness" --tls $([ "$QUICK" = 1 ] && echo --quick) \
        --candidate eddy 'build/examples/hello --port {port} --tls-cert {cert} --tls-key {key}')
    HRC=$?
    echo "$HARNESS_OUT"
    echo
    [ "$HRC" = 0 ] || log "the harness exited with status $HRC"
fi

# --- 2. idle memory, handshakes, resumption, bulk -----------------------------
TMP=$(mktemp -d /tmp/eddy-https.XXXXXX)
SRV_PID=""
CLI_PID=""
. bench/servers.sh

cleanup() {
    stop "$CLI_PID"; CLI_PID=""
    stop "$SRV_PID"; SRV_PID=""
    if [ "${KEEP:-0}" = 1 ]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

CERT=$TMP/cert.pem
KEY=$TMP/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$KEY" -out "$CERT" > /dev/null 2>&1 || { echo "https.sh: openssl could not make a certificate" >&2; exit 1; }
mkdir -p "$TMP/www"
head -c "$BULK" /dev/zero | tr '\0' x > "$TMP/www/bulk"

start_eddy_tls() {
    taskset -c "$SERVER_CPU" build/examples/hello --port "$1" --tls-cert "$CERT" \
        --tls-key "$KEY" --bulk-bytes "$BULK" --max-connections $((N + 2000)) \
        --idle-timeout-ms 600000 < /dev/null > "$TMP/eddy.log" 2>&1 &
    SRV_PID=$!
}

start_nginx_tls() {
    local d="$TMP/nginx"
    mkdir -p "$d/conf" "$d/logs"
    cat > "$d/conf/nginx.conf" << CONF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections $((N + 2000)); }
http {
    access_log off;
    default_type text/plain;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "Hello, World"; }
        location = /bulk { root $TMP/www; default_type application/octet-stream; }
    }
}
CONF
    taskset -c "$SERVER_CPU" nginx -p "$d/" -e logs/error.log -c conf/nginx.conf \
        < /dev/null > "$TMP/nginx.log" 2>&1 &
    SRV_PID=$!
}

ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2> /dev/null; }

# idle PORT: bytes per idle TLS connection ("" on failure)
idle() {
    local port=$1 before held out="$TMP/conns.out" err="$TMP/conns.err" _ hline sline
    before=$(rss "$SRV_PID")
    taskset -c "$CLIENT_CPU" build/bench/https_conns --port "$port" -n "$N" --hold 120 \
        < /dev/null > "$out" 2> "$err" &
    CLI_PID=$!
    hline=""
    for _ in $(seq 1200); do # 120 s
        hline=$(grep -m1 '^held ' "$out" 2> /dev/null)
        [ -n "$hline" ] && break
        kill -0 "$CLI_PID" 2> /dev/null || break
        sleep 0.1
    done
    [ -n "$hline" ] && sleep 2
    held=$(rss "$SRV_PID")
    kill -USR1 "$CLI_PID" 2> /dev/null
    for _ in $(seq 600); do
        kill -0 "$CLI_PID" 2> /dev/null || break
        sleep 0.1
    done
    stop "$CLI_PID"; CLI_PID=""
    sed 's/^/    /' "$err" >&2
    sline=$(grep -m1 '^served_again ' "$out")
    if [ "$hline" != "held $N" ] || [ "$sline" != "served_again $N errors 0" ]; then
        log "  idle: ${hline:-no held line}; ${sline:-no served_again line}"
        FAILED=1
        echo ""
        return
    fi
    awk -v b="$before" -v h="$held" -v n="$N" 'BEGIN { printf "%.0f", (h - b) * 1024 / n }'
}

# s_time PORT MODE(new|reuse): server CPU µs per connection ("" on failure)
s_time() {
    local port=$1 mode=$2 f="$TMP/s_time-$2.out" t0 t1 conns
    t0=$(ticks "$SRV_PID")
    timeout -k 5 $((SECS + 30)) taskset -c "$CLIENT_CPU" openssl s_time \
        -connect "127.0.0.1:$port" "-$mode" -time "$SECS" -www / > "$f" 2>&1 < /dev/null
    t1=$(ticks "$SRV_PID")
    conns=$(awk '/connections in [0-9.]* real seconds/ { n = $1 } END { print n + 0 }' "$f")
    if [ "$conns" -le 0 ]; then
        log "  s_time -$mode: no connection; it said: $(tail -n 3 "$f" | tr '\n' ' ')"
        FAILED=1
        echo ""
        return
    fi
    if [ "$mode" = reuse ] && ! grep -Eq '^[*r]*rr[*r]*$' "$f"; then
        log "  s_time -reuse: no session was resumed"
        FAILED=1
    fi
    awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$conns" 'BEGIN { printf "%.1f", 1e6 * d / hz / n }'
}

# bulk PORT: MiB served per second of server CPU, and MiB/s ("" on failure)
bulk() {
    local port=$1 f="$TMP/wrk-bulk.out" t0 t1 reqs
    t0=$(ticks "$SRV_PID")
    timeout -k 5 $((SECS + 30)) taskset -c "$CLIENT_CPU" wrk -t1 -c4 -d"${SECS}s" \
        "https://127.0.0.1:$port/bulk" > "$f" 2>&1
    t1=$(ticks "$SRV_PID")
    reqs=$(awk '/ requests in / { print $1 }' "$f")
    if [ -z "$reqs" ] || [ "$reqs" -le 0 ] || grep -q 'Non-2xx\|Socket errors' "$f"; then
        log "  bulk: $(tr '\n' ' ' < "$f")"
        FAILED=1
        echo ""
        return
    fi
    awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" -v b="$BULK" -v s="$SECS" \
        'BEGIN { printf "%.0f %.0f", (d > 0 ? n * b / 1048576 / (d / hz) : 0), n * b / 1048576 / s }'
}

RESULTS=()
FAILED=0
run_one() { # run_one ROUND SERVER INDEX
    local round=$1 srv=$2 port i_b h_us r_us bk
    port=$(free_port $((BASE_PORT + 10 * round + $3)))
    "start_${srv}_tls" "$port"
    if ! wait_listening "$port"; then
        log "$srv: not listening on $port within 10 s:"; tail -n 5 "$TMP/$srv.log" >&2
        stop "$SRV_PID"; SRV_PID=""; FAILED=1; return
    fi
    sleep 0.5
    log "round $round: $srv pid $SRV_PID port $port, VmRSS $(rss "$SRV_PID") KiB"
    i_b=$(idle "$port")
    sleep 1
    h_us=$(s_time "$port" new)
    sleep 1
    r_us=$(s_time "$port" reuse)
    sleep 1
    bk=$(bulk "$port")
    kill -0 "$SRV_PID" 2> /dev/null || { log "  $srv exited during the run"; FAILED=1; }
    stop "$SRV_PID"; SRV_PID=""
    echo "$srv round=$round idle_bytes=${i_b:-NA} new_us=${h_us:-NA} reuse_us=${r_us:-NA} bulk_mib_per_cpu_s=${bk%% *} bulk_mib_s=${bk##* }"
    RESULTS+=("$srv ${i_b:-NA} ${h_us:-NA} ${r_us:-NA} ${bk%% *} ${bk##* }")
    sleep 1
}

log "2. $(nproc) CPUs, $(uname -r), nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(openssl version | cut -d' ' -f1-2); N=$N, ${SECS}s runs, $ROUNDS round(s)"
for round in $(seq "$ROUNDS"); do
    order="eddy nginx"
    [ $((round % 2)) -eq 0 ] && order="nginx eddy"
    i=0
    for srv in $order; do
        run_one "$round" "$srv" "$i"
        i=$((i + 1))
    done
done

# The medians, and the ratios eddy/nginx.
printf '%s\n' "${RESULTS[@]}" | awk '
    function median(s, n,   a, k, i, j, t) {
        k = split(s, a, " ")
        for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return k == 0 ? "NA" : (k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2)
    }
    { for (f = 2; f <= 6; f++) if ($f != "NA" && $f != "") v[$1, f] = v[$1, f] " " $f }
    END {
        split("idle bytes per connection|s_time -new: server CPU us per connection|s_time -reuse: server CPU us per connection|1 MiB responses: MiB per server CPU second|1 MiB responses: MiB/s", name, "|")
        print ""
        print "| measure | eddy | nginx | eddy/nginx | target |"
        print "|---|---:|---:|---:|---|"
        split("<= 16 KB|<= 1.05x|<= 1.05x|>= 0.95x|", target, "|")
        for (f = 2; f <= 6; f++) {
            e = median(v["eddy", f]); g = median(v["nginx", f])
            r = (e != "NA" && g != "NA" && g + 0 > 0) ? sprintf("%.2f", e / g) : "NA"
            printf "| %s | %s | %s | %s | %s |\n", name[f - 1], e, g, r, target[f - 1]
            key[f] = r
        }
        printf "\nhttps ratios eddy/nginx: idle_bytes=%s new_cpu=%s reuse_cpu=%s bulk_mib_per_cpu_s=%s\n", key[2], key[3], key[4], key[5]
    }'
if [ -n "$HARNESS_OUT" ]; then
    echo "$HARNESS_OUT" | grep '^candidate eddy ' | sed 's/^/harness (keep-alive wrk, ab -k; full handshake ab): /'
fi
exit "$FAILED"
