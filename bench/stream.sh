#!/bin/sh
# bench/stream.sh - eddy's streams against plain read()/write(), side by side.
#
#   bench/stream.sh [-r ROUNDS] [-t 1|2|both] [-- ARGS...]
#
# Builds the benchmarks (make bench, B=build unless set), then for each
# topology and mode runs bench/stream_baseline (raw) and bench/stream_bench
# (eddy) in turn, raw, eddy, raw, eddy..., ROUNDS (3) times each, and prints
# every line they print, then per mode the median of each and the ratio
# eddy/raw (higher is better for eddy; 1.00 is parity).  ARGS go to both
# programs: -s 256M -n 20000 makes a quick run.
#
# Interleaving is for a shared, noisy machine: a slow minute hurts both
# sides alike instead of one.  "paired" is the median of the per-round
# ratios, which drifts less than the ratio of the medians when the machine's
# load changes between rounds.  "cpu" is raw's median CPU time over eddy's
# for the same work (1.00: eddy costs what raw costs; lower: eddy costs
# more); time spent preempted does not count in it, so with -t 1 it is the
# steadier measure of the library's cost on a busy machine.
#
# Pinning (override with STREAM_CPU1 and STREAM_CPUS2):
#   -t 1  both ends on one thread: taskset to one CPU (the last the shell
#         may use), so the thread never migrates.
#   -t 2  one thread per end: taskset to two CPUs (the first two); each
#         program then pins its two threads one to each, so the data always
#         crosses between the same two CPUs, as between two processes.
set -eu

ROUNDS=3
TOPOLOGIES="1 2"
while [ $# -gt 0 ]; do
    case "$1" in
    -r) ROUNDS=$2; shift 2 ;;
    -t) [ "$2" = both ] && TOPOLOGIES="1 2" || TOPOLOGIES=$2; shift 2 ;;
    --) shift; break ;;
    -h) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
    esac
done

cd "$(dirname "$0")/.."
B=${B:-build}
make --no-print-directory B="$B" bench >/dev/null

cpus=$(taskset -pc $$ | sed 's/.*: //')
first=$(echo "$cpus" | tr ',' '\n' | head -n1 | cut -d- -f1)
CPU1=${STREAM_CPU1:-$(($(nproc) - 1))}
CPUS2=${STREAM_CPUS2:-$first,$((first + 1))}
[ "$(nproc)" -ge 2 ] || CPUS2=$first

backend=?
for w in $(cat "$B/config.txt"); do
    case $w in epoll | kqueue | poll | select) backend=$w ;; esac
done
echo "== $(uname -srm), $(nproc) CPUs (allowed: $cpus), backend $backend"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo "== $ROUNDS rounds, interleaved raw/eddy; args: ${*:-(defaults)}"

tmp=$(mktemp)
sum=$(mktemp)
trap 'rm -f "$tmp" "$sum"' EXIT

# The figures of one output line: MiB_s for a pump or rt_per_s for
# ping-pong, then cpu_s.
figures() {
    sed -n 's/.* \(MiB_s\|rt_per_s\)=\([0-9.]*\).* cpu_s=\([0-9.]*\).*/\2 \3/p'
}

for t in $TOPOLOGIES; do
    [ "$t" = 1 ] && pin=$CPU1 || pin=$CPUS2
    for mode in tcp unix pingpong; do
        : >"$tmp"
        r=1
        while [ "$r" -le "$ROUNDS" ]; do
            for lib in raw eddy; do
                [ $lib = raw ] && prog=stream_baseline || prog=stream_bench
                line=$(taskset -c "$pin" "$B/bench/$prog" -m $mode -t "$t" "$@")
                echo "$line"
                echo "$r $lib $(echo "$line" | figures)" >>"$tmp"
            done
            r=$((r + 1))
        done
        [ $mode = pingpong ] && unit=rt_per_s || unit=MiB_s
        awk -v mode=$mode -v t="$t" -v unit=$unit -v pin="$pin" '
            function median(v, n,   i, j, x) {
                for (i = 2; i <= n; i++)
                    for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
                        x = v[j]; v[j] = v[j - 1]; v[j - 1] = x
                    }
                return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            }
            $2 == "raw" { raw[++nr] = $3; rr[$1] = $3; rc[nr] = $4 }
            $2 == "eddy" { eddy[++ne] = $3; re[$1] = $3; ec[ne] = $4 }
            END {
                for (k in re) if (rr[k] > 0) pr[++np] = re[k] / rr[k]
                mr = median(raw, nr); me = median(eddy, ne)
                mrc = median(rc, nr); mec = median(ec, ne)
                cpu = mec > 0 ? mrc / mec : 0
                printf "== mode=%s threads=%s cpus=%s %s raw=%.1f eddy=%.1f " \
                       "eddy/raw=%.3f paired=%.3f cpu=%.3f\n", mode, t, pin,
                       unit, mr, me, me / mr, median(pr, np), cpu
            }' "$tmp" | tee -a "$sum"
    done
done
echo "== summary (load average now: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null))"
cat "$sum"
