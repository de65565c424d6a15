#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions called indirectly
# bench/conns.sh - memory per idle keep-alive connection: examples/hello
# beside nginx, each holding N connections opened by bench/conns.
#
#   bench/conns.sh [-n N] [--rounds R] [--servers eddy,nginx]
#
# Per server and round (server pinned to CPU 0, client to CPU 1, 127.0.0.1,
# a free port): start the server with its fd limit at the hard limit, wait
# until it listens (no connection is made), read its VmRSS, run
# `conns -n N`, read VmRSS again once all N are answered and held idle (2 s
# after conns says `held N`), then let conns send its second request on
# every connection and stop the server.  Servers are interleaved, the order
# reversed every other round.
#
#   eddy:  build/examples/hello --max-connections N+2000
#          --idle-timeout-ms 600000 (the default 60 s is long enough; this
#          rules it out)
#   nginx: as in ../shared/bench/http/run.sh (one process, master_process
#          off, access_log off, `return 200 "Hello, World"`), plus
#          worker_connections N+2000, worker_rlimit_nofile (the hard limit),
#          keepalive_timeout 300s, keepalive_requests 1000000
#
# Prints a line per run:
#   SERVER rss_before_kib=.. rss_held_kib=.. per_conn_bytes=.. served=.. errors=..
# per_conn_bytes = (held - before) * 1024 / N: user-space memory only (the
# kernel's socket memory is not in RSS).  Then a markdown table.  Progress
# on stderr; logs in a temporary directory, removed unless KEEP=1.
# Exit status: 0 when every run served all N twice without an error.
set -u
cd "$(dirname "$0")/.." || exit 2

N=10000
ROUNDS=2
SERVERS="eddy nginx"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASE_PORT=${BASE_PORT:-18600}
while [ $# -gt 0 ]; do
    case $1 in
    -n) N=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --servers) SERVERS=${2:?}; SERVERS=${SERVERS//,/ }; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { if (!/shellcheck/) print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "conns.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ $N =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]?$ ]] || { echo "conns.sh: -n and --rounds want positive integers" >&2; exit 2; }
for s in $SERVERS; do
    case $s in eddy | nginx) ;; *) echo "conns.sh: unknown server '$s' (eddy, nginx)" >&2; exit 2 ;; esac
done

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

make -s examples bench || exit 1
HARD=$(ulimit -Hn)
ulimit -n "$HARD" || exit 1
if [ "$HARD" != unlimited ] && [ $((N + 100)) -gt "$HARD" ]; then
    echo "conns.sh: $N connections need more fds than the hard limit ($HARD)" >&2
    exit 1
fi
NOFILE=$HARD
[ "$NOFILE" = unlimited ] && NOFILE=$((N + 4000))
if [[ " $SERVERS " == *" nginx "* ]] && ! command -v nginx > /dev/null; then
    echo "conns.sh: nginx is not installed (apt-get install nginx-light)" >&2
    exit 1
fi

TMP=$(mktemp -d /tmp/eddy-conns.XXXXXX)
SRV_PID=""
CLI_PID=""

. bench/servers.sh
# The servers, as bench/servers.sh starts them, sized for N connections.
start_eddy_n() { start_eddy "$1" --max-connections $((N + 2000)) --idle-timeout-ms 600000; }
start_nginx_n() { start_nginx "$1" $((N + 2000)) "keepalive_timeout 300s"; }

cleanup() {
    stop "$CLI_PID"; CLI_PID=""
    stop "$SRV_PID"; SRV_PID=""
    if [ "${KEEP:-0}" = 1 ]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

RESULTS=()
FAILED=0
run_one() { # run_one ROUND SERVER INDEX
    local round=$1 srv=$2 port before held after cout="$TMP/conns-$2-r$1.out" cerr="$TMP/conns-$2-r$1.err"
    local _ rc hline sline served errors per fds
    port=$(free_port $((BASE_PORT + 10 * round + $3)))
    "start_${srv}_n" "$port"
    if ! wait_listening "$port"; then
        log "$srv: not listening on $port within 10 s:"; tail -n 5 "$TMP/$srv.log" >&2
        stop "$SRV_PID"; SRV_PID=""; FAILED=1; return
    fi
    sleep 0.5
    before=$(rss "$SRV_PID")
    log "round $round: $srv pid $SRV_PID port $port, VmRSS $before KiB, $(nfds "$SRV_PID") fds; $N connections"
    taskset -c "$CLIENT_CPU" build/bench/conns --port "$port" -n "$N" --hold 120 \
        < /dev/null > "$cout" 2> "$cerr" &
    CLI_PID=$!
    hline=""
    for _ in $(seq 900); do # 90 s
        hline=$(grep -m1 '^held ' "$cout" 2> /dev/null)
        [ -n "$hline" ] && break
        kill -0 "$CLI_PID" 2> /dev/null || break
        sleep 0.1
    done
    if [ -n "$hline" ]; then
        sleep 2
        held=$(rss "$SRV_PID")
        fds=$(nfds "$SRV_PID")
        log "  $hline: VmRSS $held KiB, $fds fds"
        kill -USR1 "$CLI_PID" 2> /dev/null
    else
        log "  $srv: conns did not say 'held' within 90 s"
        held=$(rss "$SRV_PID")
    fi
    for _ in $(seq 900); do
        kill -0 "$CLI_PID" 2> /dev/null || break
        sleep 0.1
    done
    kill -0 "$CLI_PID" 2> /dev/null && { log "  conns still running after 90 s: stopping it"; kill -KILL "$CLI_PID"; }
    wait "$CLI_PID"; rc=$?
    CLI_PID=""
    sleep 1
    after=$(rss "$SRV_PID")
    sed 's/^/    /' "$cerr" >&2
    sline=$(grep -m1 '^served_again ' "$cout")
    served=$(echo "$sline" | awk '{ print $2 }'); served=${served:-0}
    errors=$(echo "$sline" | awk '{ print $4 }'); errors=${errors:-?}
    if ! kill -0 "$SRV_PID" 2> /dev/null; then
        log "  $srv exited during the run:"; tail -n 5 "$TMP/$srv.log" >&2; FAILED=1
    fi
    stop "$SRV_PID"; SRV_PID=""
    [ "$rc" = 0 ] && [ "$served" = "$N" ] && [ "$errors" = 0 ] || FAILED=1
    per=$(awk -v b="${before:-0}" -v h="${held:-0}" -v n="$N" 'BEGIN { printf "%.0f", (h - b) * 1024 / n }')
    echo "$srv rss_before_kib=$before rss_held_kib=$held per_conn_bytes=$per served=$served errors=$errors"
    log "  after conns closed the connections: VmRSS $after KiB; conns exit status $rc"
    RESULTS+=("$srv|$round|$before|$held|$per|$served|$errors")
    sleep 1
}

log "$(nproc) CPUs, $(uname -r), nginx $(nginx -v 2>&1 | sed 's/.*\///'), fd limit $NOFILE; N=$N, $ROUNDS round(s): $SERVERS"
for round in $(seq "$ROUNDS"); do
    order=$SERVERS
    [ $((round % 2)) -eq 0 ] && order=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')
    i=0
    for srv in $order; do
        run_one "$round" "$srv" "$i"
        i=$((i + 1))
    done
done

echo
echo "$N idle keep-alive connections, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"
echo
echo "| server | round | VmRSS before (KiB) | VmRSS held (KiB) | bytes per idle connection | served again | errors |"
echo "|---|---|---|---|---|---|---|"
for r in "${RESULTS[@]}"; do
    IFS='|' read -r s rd b h p sv e <<< "$r"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$rd" "$b" "$h" "$p" "$sv" "$e"
done
exit "$FAILED"
