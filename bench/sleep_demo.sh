#!/usr/bin/env bash
# bench/sleep_demo.sh - the 2009 Tornado article's experiment against
# examples/sleep_demo: a handler that waits 1 s on a timer against one that
# blocks the loop for 1 s, under ab, and an instant path probed meanwhile.
#
#   bench/sleep_demo.sh [--sync-requests N]    (default 10: a shortened run)
#
# Expected: the async handler serves 200 requests from 40 clients in about
# 5 s (39 req/s; Debian's ab adds about 1 s of ramp-up, see
# ../shared/bench/http/README.md), the sync one about 1 req/s; the instant
# path is never delayed by the async handler and always by the sync one.
# Everything runs on 127.0.0.1; the server is stopped by its PID.
set -u -o pipefail
cd "$(dirname "$0")/.."
SYNC_N=10
while (($#)); do
    case $1 in
    --sync-requests) SYNC_N=${2:?}; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sleep_demo.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
scripts/need.sh ab curl || exit 1
make -s examples >/dev/null || exit 1

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
build/examples/sleep_demo --port "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "$base/" && break
    sleep 0.1
done

# ab's "Time taken" and "Requests per second" for n requests, c at once.
run_ab() {
    ab -q -n "$2" -c "$3" "$base$1" 2>/dev/null |
        awk '/Time taken/ {t=$5} /Requests per second/ {r=$4}
             /Failed requests/ {f=$3} END {printf "%s %s %s", t, r, f}'
}

# The slowest of several instant-path probes, in ms, while $1 runs.
probe_while() {
    local worst=0 ms
    while kill -0 "$1" 2>/dev/null; do
        ms=$(curl -s -o /dev/null -w '%{time_total}' "$base/demo/justnow" |
            awk '{printf "%.1f", $1 * 1000}')
        worst=$(awk -v a="$worst" -v b="$ms" 'BEGIN {print (b > a) ? b : a}')
        sleep 0.2
    done
    echo "$worst"
}

echo "sleep_demo on $base (pid $pid), ab -n 200 -c 40 async, ab -n $SYNC_N -c $SYNC_N sync" >&2
run_ab /demo/sleep-handler/ 200 40 >/tmp/sleep_demo.$$.async &
ab_pid=$!
async_probe=$(probe_while $ab_pid)
wait $ab_pid
read -r a_time a_rps a_fail </tmp/sleep_demo.$$.async

run_ab /demo/syncsleep-handler/ "$SYNC_N" "$SYNC_N" >/tmp/sleep_demo.$$.sync &
ab_pid=$!
sleep 0.2
sync_probe=$(curl -s -o /dev/null -w '%{time_total}' "$base/demo/justnow" |
    awk '{printf "%.1f", $1 * 1000}')
wait $ab_pid
read -r s_time s_rps s_fail </tmp/sleep_demo.$$.sync
rm -f /tmp/sleep_demo.$$.*

printf '\n| handler | requests | concurrency | time taken (s) | requests/s | failed |\n'
printf '|---|---:|---:|---:|---:|---:|\n'
printf '| async `/demo/sleep-handler/` | 200 | 40 | %s | %s | %s |\n' "$a_time" "$a_rps" "$a_fail"
printf '| sync `/demo/syncsleep-handler/` | %s | %s | %s | %s | %s |\n' "$SYNC_N" "$SYNC_N" "$s_time" "$s_rps" "$s_fail"
printf '\n`/demo/justnow` took at most %s ms during the async run, and %s ms 0.2 s into the sync run.\n' \
    "$async_probe" "$sync_probe"
