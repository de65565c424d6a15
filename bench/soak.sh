#!/usr/bin/env bash
# bench/soak.sh - a long wrk run against examples/hello (or nginx), with the
# server's memory sampled throughout: does it stay flat?
#
#   bench/soak.sh [--duration S] [--server eddy|nginx] [--connections C]
#                 [--log FILE]
#
# Starts the server pinned to CPU 0 with its fd limit at the hard limit,
# waits until it listens, then runs `wrk -t1 -cC -dSs` (C = 1000, S = 600 by
# default, or $DURATION) pinned to CPU 1 against http://127.0.0.1:PORT/.
# Every 10 s it appends "seconds VmRSS_KiB fds cpu_seconds" of the server
# to the log (default /tmp/eddy-soak-SERVER-TIME.log).
#
#   eddy:  build/examples/hello with its defaults (10,000 connections,
#          60 s idle timeout)
#   nginx: as in ../shared/bench/http/run.sh (one process, master_process
#          off, access_log off, `return 200 "Hello, World"`, 4096
#          worker_connections), plus worker_rlimit_nofile (the hard limit)
#          and keepalive_requests 1000000, so that nginx does not close
#          every connection after its 1,000th request
#
# Reports wrk's totals (requests, socket errors of each kind, non-2xx),
# VmRSS after the first minute (after half the run when it is shorter than
# two minutes), VmRSS at the end (the last sample taken while wrk was still
# running), and their ratio, which must lie within 5% of 1: PASS or FAIL.
# Exit status: 0 when the ratio passes, wrk finished, and there was no
# socket error, no non-2xx answer and the server did not exit; else 1.
set -u
cd "$(dirname "$0")/.." || exit 2

DURATION=${DURATION:-600}
SERVER=eddy
CONNS=1000
LOG=""
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASE_PORT=${BASE_PORT:-18700}
while [ $# -gt 0 ]; do
    case $1 in
    --duration) DURATION=${2:?}; shift 2 ;;
    --server) SERVER=${2:?}; shift 2 ;;
    --connections) CONNS=${2:?}; shift 2 ;;
    --log) LOG=${2:?}; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { if (!/shellcheck/) print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ $DURATION =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: --duration and --connections want positive integers" >&2; exit 2; }
case $SERVER in eddy | nginx) ;; *) echo "soak.sh: --server eddy or nginx" >&2; exit 2 ;; esac
command -v wrk > /dev/null || { echo "soak.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ "$SERVER" = nginx ] && ! command -v nginx > /dev/null && { echo "soak.sh: nginx is not installed" >&2; exit 1; }

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

make -s examples || exit 1
HARD=$(ulimit -Hn)
ulimit -n "$HARD" || exit 1
NOFILE=$HARD
[ "$NOFILE" = unlimited ] && NOFILE=$((CONNS + 4000))
if [ $((CONNS + 100)) -gt "$NOFILE" ]; then
    echo "soak.sh: $CONNS connections need more fds than the hard limit ($HARD)" >&2
    exit 1
fi
CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d /tmp/eddy-soak.XXXXXX)
LOG=${LOG:-/tmp/eddy-soak-$SERVER-$(date +%Y%m%d-%H%M%S).log}
SRV_PID=""
WRK_PID=""

. bench/servers.sh
cleanup() {
    stop "$WRK_PID"; WRK_PID=""
    stop "$SRV_PID"; SRV_PID=""
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

PORT=$(free_port "$BASE_PORT")
if [ "$SERVER" = eddy ]; then
    start_eddy "$PORT"
else
    start_nginx "$PORT" $((CONNS + 3096))
fi
if ! wait_listening "$PORT"; then
    log "$SERVER does not listen on port $PORT:"; tail -n 5 "$TMP/$SERVER.log" >&2
    exit 1
fi

# sample SECONDS: "seconds VmRSS_KiB fds cpu_seconds" of the server
sample() {
    local rss fds st
    rss=$(rss "$SRV_PID")
    fds=$(nfds "$SRV_PID")
    st=$(cat "/proc/$SRV_PID/stat" 2> /dev/null)
    st=${st##*) }
    echo "$1 ${rss:-0} $fds $(echo "$st" | awk -v hz="$CLK_TCK" '{ printf "%.2f", ($12 + $13) / hz }')"
}

{
    echo "# bench/soak.sh: $SERVER (pid $SRV_PID, CPU $SERVER_CPU) under wrk -t1 -c$CONNS -d${DURATION}s (CPU $CLIENT_CPU), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# seconds VmRSS_KiB fds cpu_seconds"
} > "$LOG"
sample 0 >> "$LOG"
RSS0=$(awk 'NR == 3 { print $2 }' "$LOG")
log "$SERVER pid $SRV_PID port $PORT, VmRSS $RSS0 KiB; wrk -t1 -c$CONNS -d${DURATION}s; samples in $LOG"

START=$(date +%s%N)
taskset -c "$CLIENT_CPU" timeout -k 10 $((DURATION + 60)) \
    wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/" > "$TMP/wrk.out" 2>&1 &
WRK_PID=$!
END_SAMPLE=""
for i in $(seq 1 $((DURATION / 10 + 10))); do
    # sleep until 10*i seconds after the start, or until wrk exits
    while :; do
        now=$(date +%s%N)
        left=$(((START + i * 10000000000 - now) / 1000000))
        [ "$left" -le 0 ] && break
        kill -0 "$WRK_PID" 2> /dev/null || break 2
        [ "$left" -gt 500 ] && left=500
        sleep "$(printf '0.%03d' "$left")"
    done
    kill -0 "$WRK_PID" 2> /dev/null || break
    s=$(sample $((i * 10)))
    echo "$s" >> "$LOG"
    END_SAMPLE=$s
    [ $((i % 6)) -eq 0 ] && log "  ${s%% *} s: VmRSS $(echo "$s" | cut -d' ' -f2) KiB, $(echo "$s" | cut -d' ' -f3) fds"
done
wait "$WRK_PID"; WRK_RC=$?
WRK_PID=""
sleep 1
AFTER=$(sample after)
HWM=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SRV_PID/status" 2> /dev/null)
echo "$AFTER" >> "$LOG"
ALIVE=1
kill -0 "$SRV_PID" 2> /dev/null || ALIVE=0

# the first-minute sample: at 60 s, or at half the run when that is shorter
AT=60
[ "$DURATION" -lt 120 ] && AT=$(((DURATION / 2 + 9) / 10 * 10))
FIRST=$(awk -v t="$AT" '$1 == t { print $2 }' "$LOG")
END_T=${END_SAMPLE%% *}
END_RSS=$(echo "$END_SAMPLE" | cut -d' ' -f2)

W="$TMP/wrk.out"
REQS=$(awk '/ requests in / { print $1 }' "$W")
SECS=$(awk '/ requests in / { sub(/,$/, "", $4); print $4 }' "$W")
RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$W")
sock() { awk -v k="$1" '/Socket errors:/ { gsub(/,/, ""); for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$W"; }
CONNECT=$(sock connect); READ=$(sock read); WRITE=$(sock write); TIMEOUT=$(sock timeout)
CONNECT=${CONNECT:-0}; READ=${READ:-0}; WRITE=${WRITE:-0}; TIMEOUT=${TIMEOUT:-0}
NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$W"); NON2XX=${NON2XX:-0}

echo "== wrk output"
cat "$W"
echo "== soak: $SERVER, wrk -t1 -c$CONNS -d${DURATION}s, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r)"
echo "requests ${REQS:-?} in ${SECS:-?} (${RPS:-?} req/s); wrk exit status $WRK_RC"
echo "socket errors: connect $CONNECT, read $READ, write $WRITE, timeout $TIMEOUT; non-2xx $NON2XX"
echo "VmRSS (KiB): before load $RSS0, at $AT s ${FIRST:-?}, at end ($END_T s) ${END_RSS:-?}, after wrk exited $(echo "$AFTER" | cut -d' ' -f2); VmHWM ${HWM:-?}"
echo "server CPU: $(echo "$AFTER" | cut -d' ' -f4) s; samples: $LOG"
VERDICT=FAIL
RATIO="?"
if [ -n "$FIRST" ] && [ -n "$END_RSS" ] && [ "$FIRST" -gt 0 ]; then
    RATIO=$(awk -v a="$END_RSS" -v b="$FIRST" 'BEGIN { printf "%.3f", a / b }')
    awk -v r="$RATIO" 'BEGIN { exit !(r >= 0.95 && r <= 1.05) }' && VERDICT=PASS
fi
echo "ratio end/${AT}s: $RATIO $VERDICT"
[ "$ALIVE" = 1 ] || { echo "the server exited during the run:"; tail -n 5 "$TMP/$SERVER.log"; }
[ "$VERDICT" = PASS ] && [ "$WRK_RC" = 0 ] && [ "$ALIVE" = 1 ] && [ -n "$REQS" ] &&
    [ $((CONNECT + READ + WRITE + TIMEOUT + NON2XX)) -eq 0 ]
