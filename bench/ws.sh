#!/usr/bin/env bash
# bench/ws.sh - examples/ws_echo beside node's `ws` and Tornado's
# WebSocketHandler, as echo servers, with eddy's WebSocket client as the
# load (build/bench/ws_load_bench).
#
#   bench/ws.sh [--quick] [--rounds N] [--conns C]
#
# After the method of bench/client.sh and ../shared/bench/http/: each
# server is pinned to CPU 0 and the load to CPU 1, on 127.0.0.1; rounds
# are interleaved (the servers' order reversed every other round); the
# server's CPU time (user + system) comes from /proc/PID/stat around each
# run and is divided by the messages echoed.  Per round and server:
#
#   C connections (50) echoing 64-byte and 16 KiB binary messages for D s
#   (5 s; 1 s with --quick): messages per second, server CPU per message;
#   1 connection echoing 1 MiB messages, stop and wait: MiB per second of
#   payload echoed (for information: every byte crosses twice and each
#   message waits a round trip).
#
# And per round, eddy alone, the bulk rate against the raw stream's, in
# the same shape (one way, one connection over loopback TCP, one end on
# each CPU, the same bytes: 4 GiB, 1 GiB with --quick), in turn and in
# the reverse order every other round:
#   raw       bench/stream_baseline -m tcp -t 2 (bench/stream.sh's
#             yardstick: two threads, blocking write() and read())
#   bulk-out  bench/ws_bench -m bulk-out -t tcp: the server sends 1 MiB
#             messages (4 queued), the client receives and checks them
#   bulk-in   bench/ws_bench -m bulk-in -t tcp: the client sends them,
#             masked, the server unmasks and checks them
# (each under taskset -c SERVER_CPU,CLIENT_CPU, and each pins its two ends
# one to each of the two CPUs: ws_bench its server to the lower,
# stream_baseline its receiver).
#
# Then the memory of an idle connection, eddy's server only: the growth of
# ws_echo's VmRSS while ws_load_bench -i holds 1,000 (200 with --quick)
# idle connections, without and with permessage-deflate agreed (user-space
# memory only; the kernel's socket buffers are not in it).
#
# Servers: eddy    build/examples/ws_echo --port P        (deflate offered
#                                                          only in the idle
#                                                          run with it)
#          node    node bench/ws_echo_node.js P           (make interop-deps)
#          tornado python3 bench/ws_echo_tornado.py P     (python3-tornado)
# A server that is missing is skipped and its figures are NA.
#
# Prints a markdown table of medians, then one line:
#   ws eddy_cpu_us_64=.. node_cpu_us_64=.. tornado_cpu_us_64=..
#   eddy_cpu_us_16k=.. node_cpu_us_16k=.. tornado_cpu_us_16k=..
#   cpu_vs_node_64=.. cpu_vs_node_16k=.. tornado_vs_eddy_64=..
#   tornado_vs_eddy_16k=.. eddy_kernel_us_64=.. eddy_kernel_us_16k=..
#   tornado_vs_kernel_64=.. tornado_vs_kernel_16k=..
#   eddy_echo_1mib_mib_s=.. raw_tcp_mib_s=..
#   bulk_out_mib_s=.. bulk_in_mib_s=.. bulk_out_vs_raw=.. bulk_in_vs_raw=..
#   bulk_out_cpu_vs_raw=.. bulk_in_cpu_vs_raw=.. idle_conn_bytes=..
#   idle_conn_deflate_bytes=..
# (cpu_vs_node: eddy's server CPU per message over node's, lower is better;
# tornado_vs_eddy: Tornado's over eddy's, higher is better for eddy;
# eddy_kernel_us: the part of eddy's server CPU per message spent in the
# kernel (system time: its read, its sendmsg, its share of an epoll_wait,
# and the loopback delivery to the client that a send runs), which any
# server that reads and writes each message pays;
# tornado_vs_kernel: Tornado's CPU per message over that part alone, the
# most tornado_vs_eddy could be for a server whose own code cost nothing;
# bulk_*_vs_raw: the median of each round's bulk rate over the same
# round's raw rate, 1.00 is parity; bulk_*_cpu_vs_raw: likewise raw's CPU
# seconds (both ends) over eddy's for the same bytes, as bench/stream.sh's
# "cpu", lower is eddy costing more, the steadier figure when the machine
# is busy (time spent preempted is not in it); eddy_echo_1mib_mib_s
# counts the payload once although an echo carries it both ways.)
# Progress goes to stderr.  Exit status: 0, 1 when a run failed, 2 usage.
set -u
cd "$(dirname "$0")/.." || exit 2

ROUNDS=3
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
    *) echo "ws.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
[[ $ROUNDS =~ ^[1-9][0-9]?$ && $CONNS =~ ^[1-9][0-9]*$ ]] ||
    { echo "ws.sh: --rounds and --conns want positive integers" >&2; exit 2; }
if [ "$QUICK" = 1 ]; then
    D=1 IDLE=200 BULK_MIB=1024
else
    D=5 IDLE=1000 BULK_MIB=4096
fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d /tmp/eddy-ws-bench-XXXXXX)
SPID=""
stop_server() {
    [ -n "$SPID" ] && kill "$SPID" 2> /dev/null && wait "$SPID" 2> /dev/null
    SPID=""
}
cleanup() {
    stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

make -s examples build/bench/ws_load_bench build/bench/ws_bench build/bench/stream_baseline > /dev/null || exit 1
LOAD=build/bench/ws_load_bench
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
export NODE_PATH=build/npm/node_modules
SERVERS="eddy"
if command -v node > /dev/null && node -e "require('ws')" 2> /dev/null; then
    SERVERS="$SERVERS node"
else
    log "node's ws is missing (make interop-deps): skipped"
fi
if "$PY" -c 'import tornado' 2> /dev/null; then
    SERVERS="$SERVERS tornado"
else
    log "python3-tornado is missing (apt-get install python3-tornado): skipped"
fi
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME [deflate]: on CPU 0 at a free port; sets SPID and URL.
start_server() {
    local port
    port=$(free_port)
    case $1 in
    eddy) cmd=(build/examples/ws_echo --port "$port" --address 127.0.0.1) ;;
    node) cmd=(node bench/ws_echo_node.js "$port") ;;
    tornado) cmd=("$PY" bench/ws_echo_tornado.py "$port") ;;
    esac
    taskset -c "$SERVER_CPU" "${cmd[@]}" < /dev/null > "$TMP/server.log" 2>&1 &
    SPID=$!
    URL=ws://127.0.0.1:$port/ws
    for _ in $(seq 100); do
        (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && return 0
        kill -0 "$SPID" 2> /dev/null || break
        sleep 0.1
    done
    log "$1 did not start: $(head -c 300 "$TMP/server.log")"
    stop_server
    return 1
}
ticks() { awk '{ print $14 + $15, $15 }' "/proc/$SPID/stat"; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$SPID/status"; }

# run_load ARGS...: one load run against URL; prints "messages seconds
# mbytes_s server_ticks server_system_ticks".
run_load() {
    local t0 t1 k0 k1 out
    read -r t0 k0 <<< "$(ticks)"
    if ! out=$(taskset -c "$CLIENT_CPU" "$LOAD" "$@" "$URL" 2> "$TMP/err"); then
        log "ws_load_bench $* failed: $(head -c 300 "$TMP/err")"
        return 1
    fi
    read -r t1 k1 <<< "$(ticks)"
    echo "$out" | sed -n 's/.* messages=\([0-9]*\) seconds=\([0-9.]*\) .* mbytes_s=\([0-9.]*\) .*/\1 \2 \3/p' |
        tr '\n' ' '
    echo "$((t1 - t0)) $((k1 - k0))"
}

# bulk_round R: raw, bulk-out and bulk-in in turn (reversed when R is
# even); adds each rate to BULK[raw], BULK[out], BULK[in], each ratio of
# rates to PAIR[out], PAIR[in], and each ratio of CPU seconds (raw's over
# eddy's, both ends) to PCPU[out], PCPU[in].
bulk_round() {
    local order="raw out in" k line rate
    declare -A got=() cpu=()
    [ $(($1 % 2)) = 0 ] && order="in out raw"
    for k in $order; do
        if [ "$k" = raw ]; then
            line=$(taskset -c "$SERVER_CPU,$CLIENT_CPU" build/bench/stream_baseline -m tcp -t 2 -s "${BULK_MIB}M" 2> "$TMP/err")
        else
            line=$(taskset -c "$SERVER_CPU,$CLIENT_CPU" build/bench/ws_bench -m "bulk-$k" -t tcp -n "$BULK_MIB" 2> "$TMP/err")
        fi
        rate=$(echo "$line" | sed -n 's/.* MiB_s=\([0-9.]*\).*/\1/p')
        if [ -z "$rate" ]; then
            log "round $1 bulk $k failed: $(head -c 300 "$TMP/err")"
            failed=1
            continue
        fi
        got[$k]=$rate
        cpu[$k]=$(echo "$line" | sed -n 's/.* cpu_s=\([0-9.]*\).*/\1/p; s/.* server_cpu_s=\([0-9.]*\) client_cpu_s=\([0-9.]*\).*/\1 + \2/p' | bc -l)
        BULK[$k]="${BULK[$k]:-} $rate"
        log "round $1 bulk $k: $rate MiB/s ($line)"
    done
    for k in out in; do
        [ -n "${got[$k]:-}" ] && [ -n "${got[raw]:-}" ] &&
            PAIR[$k]="${PAIR[$k]:-} $(echo "${got[$k]} / ${got[raw]}" | bc -l)" &&
            PCPU[$k]="${PCPU[$k]:-} $(echo "${cpu[raw]} / ${cpu[$k]}" | bc -l)"
    done
}

declare -A RATE CPU KCPU BULK PAIR PCPU
failed=0
for r in $(seq "$ROUNDS"); do
    order=$SERVERS
    [ $((r % 2)) = 0 ] && order=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for s in $order; do
        start_server "$s" || { failed=1; continue; }
        for size in 64 16384; do
            if ! res=$(run_load -c "$CONNS" -s "$size" -d "$D"); then
                failed=1
                continue
            fi
            read -r msgs sec _ st sk <<< "$res"
            k=$s.$size
            RATE[$k]="${RATE[$k]:-} $(echo "$msgs / $sec" | bc -l)"
            CPU[$k]="${CPU[$k]:-} $(echo "$st * 1000000 / $CLK_TCK / $msgs" | bc -l)"
            KCPU[$k]="${KCPU[$k]:-} $(echo "$sk * 1000000 / $CLK_TCK / $msgs" | bc -l)"
            log "round $r $s ${size}B: $msgs echoes, $(printf '%.0f' "$(echo "$msgs / $sec" | bc -l)")/s, $(printf '%.2f' "$(echo "$st * 1000000 / $CLK_TCK / $msgs" | bc -l)") us server CPU/msg"
        done
        if res=$(run_load -c 1 -s 1048576 -d "$D"); then
            read -r msgs sec mbs _ _ <<< "$res"
            BULK[$s]="${BULK[$s]:-} $(echo "$mbs * 1000000 / 1048576" | bc -l)"
            log "round $r $s 1MiB: $msgs echoes, $(printf '%.1f' "$(echo "$mbs * 1000000 / 1048576" | bc -l)") MiB/s"
        else
            failed=1
        fi
        stop_server
        sleep 1
    done
    bulk_round "$r"
done

# --- memory of an idle connection (eddy's server) ----------------------------
idle_bytes() { # idle_bytes [-z]
    local before during pid
    start_server eddy || { echo NA; return; }
    before=$(rss)
    taskset -c "$CLIENT_CPU" "$LOAD" -i "$IDLE" -w 3 "$@" "$URL" > "$TMP/idle" 2> "$TMP/idle.err" &
    pid=$!
    for _ in $(seq 100); do [ -s "$TMP/idle" ] && break; sleep 0.1; done
    sleep 0.3
    during=$(rss)
    wait "$pid" || { log "idle run failed: $(cat "$TMP/idle.err")"; echo NA; stop_server; return; }
    stop_server
    echo "($during - $before) * 1024 / $IDLE" | bc
}
IDLE_PLAIN=$(idle_bytes)
IDLE_Z=$(idle_bytes -z)

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { [ "$1" = NA ] && echo NA || printf "%.${2}f" "$1"; }
ratio() { { [ "$1" = NA ] || [ "$2" = NA ]; } && echo NA || printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
m() { echo "${1:-}" | median; }

echo "| server | 64 B msg/s | 64 B server CPU µs/msg | of it in the kernel | 16 KiB msg/s | 16 KiB server CPU µs/msg | of it in the kernel | 1 MiB echo MiB/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for s in eddy node tornado; do
    echo "| $s | $(fmt "$(m "${RATE[$s.64]:-}")" 0) | $(fmt "$(m "${CPU[$s.64]:-}")" 2) | $(fmt "$(m "${KCPU[$s.64]:-}")" 2) | $(fmt "$(m "${RATE[$s.16384]:-}")" 0) | $(fmt "$(m "${CPU[$s.16384]:-}")" 2) | $(fmt "$(m "${KCPU[$s.16384]:-}")" 2) | $(fmt "$(m "${BULK[$s]:-}")" 1) |"
done
echo
echo "| one way, 1 connection, loopback TCP | MiB/s | of raw (paired) | raw's CPU over eddy's (paired) |"
echo "|---|---:|---:|---:|"
echo "| raw (stream_baseline -m tcp -t 2) | $(fmt "$(m "${BULK[raw]:-}")" 1) | | |"
echo "| eddy bulk-out (server sends) | $(fmt "$(m "${BULK[out]:-}")" 1) | $(fmt "$(m "${PAIR[out]:-}")" 2) | $(fmt "$(m "${PCPU[out]:-}")" 2) |"
echo "| eddy bulk-in (client sends, masked) | $(fmt "$(m "${BULK[in]:-}")" 1) | $(fmt "$(m "${PAIR[in]:-}")" 2) | $(fmt "$(m "${PCPU[in]:-}")" 2) |"
echo
echo "memory per idle connection (ws_echo's VmRSS growth, $IDLE connections): $IDLE_PLAIN bytes, $IDLE_Z bytes with permessage-deflate"
E64=$(m "${CPU[eddy.64]:-}") N64=$(m "${CPU[node.64]:-}") T64=$(m "${CPU[tornado.64]:-}")
E16=$(m "${CPU[eddy.16384]:-}") N16=$(m "${CPU[node.16384]:-}") T16=$(m "${CPU[tornado.16384]:-}")
K64=$(m "${KCPU[eddy.64]:-}") K16=$(m "${KCPU[eddy.16384]:-}")
EB=$(m "${BULK[eddy]:-}") RB=$(m "${BULK[raw]:-}")
BO=$(m "${BULK[out]:-}") BI=$(m "${BULK[in]:-}") PO=$(m "${PAIR[out]:-}") PI=$(m "${PAIR[in]:-}")
CO=$(m "${PCPU[out]:-}") CI=$(m "${PCPU[in]:-}")
echo "ws eddy_cpu_us_64=$(fmt "$E64" 2) node_cpu_us_64=$(fmt "$N64" 2) tornado_cpu_us_64=$(fmt "$T64" 2) eddy_cpu_us_16k=$(fmt "$E16" 2) node_cpu_us_16k=$(fmt "$N16" 2) tornado_cpu_us_16k=$(fmt "$T16" 2) cpu_vs_node_64=$(ratio "$E64" "$N64") cpu_vs_node_16k=$(ratio "$E16" "$N16") tornado_vs_eddy_64=$(ratio "$T64" "$E64") tornado_vs_eddy_16k=$(ratio "$T16" "$E16") eddy_kernel_us_64=$(fmt "$K64" 2) eddy_kernel_us_16k=$(fmt "$K16" 2) tornado_vs_kernel_64=$(ratio "$T64" "$K64") tornado_vs_kernel_16k=$(ratio "$T16" "$K16") eddy_echo_1mib_mib_s=$(fmt "$EB" 1) raw_tcp_mib_s=$(fmt "$RB" 1) bulk_out_mib_s=$(fmt "$BO" 1) bulk_in_mib_s=$(fmt "$BI" 1) bulk_out_vs_raw=$(fmt "$PO" 2) bulk_in_vs_raw=$(fmt "$PI" 2) bulk_out_cpu_vs_raw=$(fmt "$CO" 2) bulk_in_cpu_vs_raw=$(fmt "$CI" 2) idle_conn_bytes=$IDLE_PLAIN idle_conn_deflate_bytes=$IDLE_Z"
exit $failed
