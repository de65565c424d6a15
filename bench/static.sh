#!/usr/bin/env bash
# bench/static.sh - examples/static beside nginx, serving the same files,
# in one interleaved run, with the shared harness's method and helpers
# (../shared/bench/http/common.sh: the server pinned to CPU 0, the client
# to CPU 1, the server's CPU time from /proc, a server started fresh for
# each round, rounds in alternating order):
#
#   big    one 1 GiB file fetched again and again over one keep-alive
#          connection by curl (to /dev/null): throughput, and bytes per
#          second of server CPU, the figure to compare
#   small  10,000 files of 1 to 4 KiB (100 directories of 100) requested by
#          wrk -t1 -c50, a Lua script rotating the paths: requests per
#          second, and server CPU per request, the figure to compare
#
#   bench/static.sh [--quick] [--rounds N] [--tests big,small]
#
# --quick: a 64 MiB file fetched 8 times, wrk for 3 s, one round: a smoke
# check that everything runs, not a measurement.  The default (2 rounds,
# 1 GiB fetched 8 times, wrk for 10 s) is for a quiet machine; on a busy
# one compare only figures from one run, as ratios.  The files are made
# once under build/bench-static/data/ (1 GiB of random bytes: a few
# seconds) and kept.  Everything listens on 127.0.0.1 only; servers are
# stopped by their process group, never by name.  EDDY_BENCH_HTTP names
# the shared harness's folder if it is not ../shared/bench/http.
#
# Output: a markdown table of medians with ratios to nginx, then one line:
#   static eddy big_mib_s=.. big_gib_per_cpu_s=.. small_rps=.. small_cpu_us=..
#          big_cpu_ratio=.. small_cpu_ratio=..
# where big_cpu_ratio is eddy's bytes per server CPU second over nginx's
# (higher is better) and small_cpu_ratio eddy's CPU per request over
# nginx's (lower is better).
set -u
cd "$(dirname "$0")/.."
TOP=$(pwd)
SHARED=${EDDY_BENCH_HTTP:-$TOP/../shared/bench/http}
[ -f "$SHARED/common.sh" ] || { echo "static.sh: $SHARED/common.sh is missing (set EDDY_BENCH_HTTP)" >&2; exit 2; }
HERE=$TOP/build/bench-static # common.sh's RUN and BUILD go under it
mkdir -p "$HERE"
# shellcheck source=/dev/null
. "$SHARED/common.sh"

QUICK=0 ROUNDS=2 TESTS="big small"
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1; ROUNDS=1 ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --tests) TESTS=$(echo "${2:?}" | tr , ' '); shift ;;
    *) echo "usage: bench/static.sh [--quick] [--rounds N] [--tests big,small]" >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then BIG_MIB=64 FETCHES=8 WRK_D=3s
else BIG_MIB=1024 FETCHES=8 WRK_D=10s; fi
DATA=$HERE/data
OUT=$RUN/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/raw" "$OUT/logs"

trap 'stop_server' EXIT
trap 'exit 130' INT TERM HUP

# ---- tools and files ------------------------------------------------------------
need 'command -v nginx' nginx-light
need 'command -v wrk' wrk
need 'command -v curl' curl
need 'command -v taskset' util-linux
install_needed || exit 1
make -s examples || exit 1
EDDY=$TOP/build/examples/static

make_files() {
    local want=$((BIG_MIB * 1024 * 1024)) have
    mkdir -p "$DATA/small"
    have=$(stat -c %s "$DATA/big.bin" 2> /dev/null || echo 0)
    if [ "$have" != "$want" ]; then
        log "making $DATA/big.bin ($BIG_MIB MiB of random bytes)"
        head -c "$want" /dev/urandom > "$DATA/big.bin.tmp" && mv "$DATA/big.bin.tmp" "$DATA/big.bin"
    fi
    if [ ! -f "$DATA/small/d99/f09999.txt" ]; then
        log "making 10,000 small files in $DATA/small"
        awk -v dir="$DATA/small" 'BEGIN {
            srand(14)
            for (d = 0; d < 100; d++) system("mkdir -p " dir sprintf("/d%02d", d))
            line = "eddy serves static files; nginx serves them too. 0123456789abcdef\n"
            for (i = 0; i < 10000; i++) {
                f = dir sprintf("/d%02d/f%05d.txt", i % 100, i)
                n = 16 + int(rand() * 48)     # 1 to 4 KiB of lines
                for (k = 0; k < n; k++) printf "%s", line > f
                close(f)
            }
        }'
    fi
    echo '<h1>static</h1>' > "$DATA/index.html"
    cat > "$HERE/rotate.lua" << 'LUA'
-- 10,000 paths in turn, one per request
local n = 0
request = function()
    n = n + 1
    local i = n % 10000
    return wrk.format("GET", string.format("/small/d%02d/f%05d.txt", i % 100, i))
end
LUA
}
make_files

# ---- the servers -------------------------------------------------------------------
start_nginx() { # PORT LOGFILE
    local d="$RUN/nginx"
    mkdir -p "$d/conf" "$d/logs"
    cat > "$d/conf/nginx.conf" << CONF
daemon off;
master_process off;          # single process: this PID serves the requests
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    types { text/html html; text/plain txt; application/octet-stream bin; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$1;
        root $DATA;
    }
}
CONF
    start_server "$2" nginx -p "$d/" -e logs/error.log -c conf/nginx.conf
}

start_eddy() { # PORT LOGFILE
    start_server "$2" "$EDDY" --root "$DATA" --port "$1" --address 127.0.0.1
}

# ---- one measurement -------------------------------------------------------------
# measure ROUND SERVER TEST PORT: runs the test, appends a row to results.tsv:
# round server test value cpu_s units (big: bytes; small: requests) wall_s
measure() {
    local round=$1 srv=$2 test=$3 port=$4 f="$OUT/raw/r$1-$2-$3.txt" t0 t1 w0 w1 units wall
    local urls=() i
    remember_tree
    t0=$(tree_ticks)
    w0=$(date +%s.%N)
    if [ "$test" = big ]; then
        for i in $(seq "$FETCHES"); do urls+=(-o /dev/null "http://127.0.0.1:$port/big.bin"); done
        timeout --foreground -k 5 300 taskset -c "$CLIENT_CPU" \
            curl -s --fail -w '%{size_download}\n' "${urls[@]}" > "$f" 2>&1
        units=$(awk '{ s += $1 } END { print s + 0 }' "$f")
    else
        timeout --foreground -k 5 60 taskset -c "$CLIENT_CPU" \
            wrk -t1 -c50 -d"$WRK_D" -s "$HERE/rotate.lua" "http://127.0.0.1:$port/" > "$f" 2>&1
        units=$(awk '/ requests in / { print $1 }' "$f")
        if grep -q 'Non-2xx' "$f"; then log "  $srv small: non-2xx answers: $(grep Non-2xx "$f")"; fi
    fi
    w1=$(date +%s.%N)
    t1=$(tree_ticks)
    wall=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')
    if [ "$t1" -lt "$t0" ] || [ -z "$(tree_pids)" ]; then
        log "  $srv $test: the server's CPU could not be read (it exited?): not counted"
        return 1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$srv" "$test" "$(((t1 - t0)))" \
        "${units:-0}" "$wall" >> "$OUT/results.tsv"
    log "  $srv $test: ${units:-0} $([ "$test" = big ] && echo bytes || echo requests) in ${wall}s, server CPU $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')s"
}

bench_one() { # ROUND SERVER
    local port logf t
    port=$(free_port $((20000 + RANDOM % 20000)))
    logf="$OUT/logs/$2-r$1.log"
    "start_$2" "$port" "$logf"
    if ! wait_ready "$port" /index.html; then
        log "$2: no 200 for /index.html (log: $logf)"; tail -n 5 "$logf" >&2
        stop_server; return 1
    fi
    log "round $1: $2 pid $SRV_PID port $port"
    for t in $TESTS; do measure "$1" "$2" "$t" "$port" || FAILED=1; done
    stop_server
}

# ---- the run ------------------------------------------------------------------------
{
    echo "when: $(date -u +%FT%TZ)"
    echo "machine: $(nproc) CPUs, $(uname -r); server CPU $SERVER_CPU, client CPU $CLIENT_CPU"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'); wrk: $(wrk -v 2>&1 | head -n1); curl: $(curl --version | head -n1 | cut -d' ' -f2)"
    echo "big: $BIG_MIB MiB x $FETCHES; small: 10,000 files, wrk -t1 -c50 -d$WRK_D; rounds: $ROUNDS"
} > "$OUT/env.txt"
FAILED=0
for round in $(seq "$ROUNDS"); do
    order="nginx eddy"
    [ $((round % 2)) = 0 ] && order="eddy nginx"
    for srv in $order; do bench_one "$round" "$srv" || FAILED=1; done
done

# ---- the tables ---------------------------------------------------------------------
awk -F'\t' -v hz="$CLK_TCK" '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n == 0 ? 0 : (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    {
        cpu = $4 / hz
        if ($3 == "big") {
            thr[$2] = thr[$2] " " ($6 > 0 ? $5 / $6 / 1048576 : 0)
            eff[$2] = eff[$2] " " (cpu > 0 ? $5 / cpu / 1073741824 : 0)
        } else {
            rps[$2] = rps[$2] " " ($6 > 0 ? $5 / $6 : 0)
            us[$2] = us[$2] " " ($5 > 0 ? 1e6 * cpu / $5 : 0)
        }
    }
    END {
        print "| server | big MiB/s | big GiB per server CPU s | /nginx | small req/s | small server CPU us/req | /nginx |"
        print "|---|---:|---:|---:|---:|---:|---:|"
        ne = median(eff["nginx"]); nu = median(us["nginx"])
        for (k = 0; k < 2; k++) {
            s = k ? "eddy" : "nginx"
            e = median(eff[s]); u = median(us[s])
            printf "| %s | %.0f | %.2f | %.2f | %.0f | %.1f | %.2f |\n", s, median(thr[s]), e,
                (ne > 0 ? e / ne : 0), median(rps[s]), u, (nu > 0 ? u / nu : 0)
        }
        printf "\nstatic eddy big_mib_s=%.0f big_gib_per_cpu_s=%.2f small_rps=%.0f small_cpu_us=%.1f big_cpu_ratio=%.2f small_cpu_ratio=%.2f\n",
            median(thr["eddy"]), median(eff["eddy"]), median(rps["eddy"]), median(us["eddy"]),
            (ne > 0 ? median(eff["eddy"]) / ne : 0), (nu > 0 ? median(us["eddy"]) / nu : 0)
    }' "$OUT/results.tsv" | tee "$OUT/summary.md"
log "results in ${OUT#"$TOP"/}"
exit "$FAILED"
