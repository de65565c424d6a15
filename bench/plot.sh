#!/usr/bin/env bash
# bench/plot.sh - the charts of README.md and docs/ from recorded benchmark
# output, with gnuplot (installed when missing, see scripts/need.sh).
#
#   bench/plot.sh [-i DIR] [-o DIR]
#
# Reads, from DIR (default bench/results/), whatever of these is there:
#   http.md     the output of bench/http.sh (../shared/bench/http/run.sh)
#   loop.txt    the output of ../shared/bench/loop/run.sh with eddy's
#               candidates (the sweep's table)
#   stream.txt  the output of bench/stream.sh
#   sleep.txt   the last line ("sleep async_total_s=...") of
#               ../shared/bench/http/sleep.sh for eddy, then for Tornado,
#               each prefixed by the server's name: "eddy sleep ..."
#   soak-NAME.log  bench/soak.sh's samples for server NAME
#   NAME.bars   ratios to draw as bars (https, client, static, ws): a first
#               line "# TITLE", then one line per bar, "LABEL RATIO", with
#               LABEL quoted when it has spaces; a dashed line marks 1.0
# and writes one PNG per input into -o DIR (default docs/img/): http.png,
# loop.png, stream.png, sleep.png, soak.png, NAME.png.  The recorded outputs are committed, so
# the charts can be redrawn, and checked against the figures they show.
set -eu -o pipefail
cd "$(dirname "$0")/.."
IN=bench/results
OUT=docs/img
while (($#)); do
    case $1 in
    -i) IN=${2:?}; shift ;;
    -o) OUT=${2:?}; shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "plot.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
scripts/need.sh gnuplot
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One look for every chart: a white canvas, a light grid, values over bars.
style() {
    cat <<EOF
set terminal pngcairo size ${1:-960},${2:-480} font "sans,10"
set output "$3"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb "#dddddd"
set key top left
set xtics nomirror scale 0
set ytics nomirror
set border 3
EOF
}

# http.md: two markdown tables, requests per second and the server's CPU
# time per request, one row per server (the candidate's name in bold).
http() {
    awk -F'|' '
        function name(s) { gsub(/\*|\(candidate\)| /, "", s); return s }
        function num(s) { gsub(/[, ]/, "", s); return s + 0 }
        /^\| server \| wrk rps/ { t = "rps"; next }
        /^\| server \| wrk: srv CPU/ { t = "cpu"; next }
        /^\|---/ || !/^\| / { if (!/^\|---/) t = ""; next }
        t == "rps" { print name($2), num($3), num($5), num($7) > (dir "/rps.dat") }
        t == "cpu" { print name($2), num($3), num($5), num($7) > (dir "/cpu.dat") }
    ' dir="$tmp" "$IN/http.md"
    [ -s "$tmp/rps.dat" ] && [ -s "$tmp/cpu.dat" ] ||
        { echo "plot.sh: no tables in $IN/http.md" >&2; return 1; }
    { style 1100 520 "$OUT/http.png"
      cat <<EOF
set multiplot layout 1,2 title "Hello world on loopback, one server core, one client core (medians)" font "sans,12"
set title "requests per second (higher is better)"
set format y "%.0s%c"
plot for [i=2:4] "$tmp/rps.dat" using i:xtic(1) title word("wrk ab ab-k", i-1)
set title "server CPU time per request, µs (lower is better)"
set logscale y
set format y "%g"
set yrange [5:*]
plot for [i=2:4] "$tmp/cpu.dat" using i:xtic(1) title word("wrk ab ab-k", i-1)
unset multiplot
EOF
    } | gnuplot
    echo "plot.sh: $OUT/http.png"
}

# loop.txt: the pipes rows on epoll at the points every library ran, and
# the timer rows, each as the ratio to libev (1 = libev's time; lower is
# faster).
loop() {
    awk '
        /^PIPES/ { s = "p"; next }
        /^TIMERS/ { s = "t"; next }
        s == "p" && NF == 9 && $5 == "epoll" && $6 + 0 > 0 {
            k = "n=" $1 " a=" $2; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
            x[k, $4] = $9
        }
        s == "t" && $2 == "epoll" && NF == 9 {
            split("add run cancel", what, " ")
            for (i = 7; i <= 9; i++) {
                k = "timers " what[i - 6]
                if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
                x[k, $1] = $i
            }
        }
        END {
            for (i = 1; i <= nk; i++)
                printf "\"%s\" %s %s %s\n", keys[i], v(keys[i], "libevent"),
                       v(keys[i], "libuv"), v(keys[i], "eddy")
        }
        function v(k, l) { return (k, l) in x ? x[k, l] : "NaN" }
    ' "$IN/loop.txt" >"$tmp/loop.dat"
    [ -s "$tmp/loop.dat" ] || { echo "plot.sh: no rows in $IN/loop.txt" >&2; return 1; }
    { style 1000 460 "$OUT/loop.png"
      cat <<EOF
set title "Event loop on epoll: pipes (timed region) and 1M timers, time relative to libev (lower is faster)" font "sans,12"
set logscale y 2
set yrange [0.25:8]
set ytics ("0.25" 0.25, "0.5" 0.5, "0.75" 0.75, "1" 1, "1.5" 1.5, "2" 2, "4" 4, "8" 8)
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#444444" dt 2
plot for [i=2:4] "$tmp/loop.dat" using i:xtic(1) title word("libevent libuv eddy", i-1)
EOF
    } | gnuplot
    echo "plot.sh: $OUT/loop.png"
}

# stream.txt: the summary lines "== mode=M threads=T ... eddy/raw=R ...".
stream() {
    sed -n 's/^== mode=\([a-z]*\) threads=\([0-9]\).* eddy\/raw=\([0-9.]*\) .* cpu=\([0-9.]*\).*/"\1, -t \2" \3 \4/p' \
        "$IN/stream.txt" | awk '!seen[$0]++' >"$tmp/stream.dat"
    [ -s "$tmp/stream.dat" ] || { echo "plot.sh: no summary in $IN/stream.txt" >&2; return 1; }
    { style 900 420 "$OUT/stream.png"
      cat <<EOF
set title "Streams against a plain read()/write() loop (1.0 = parity; higher is better)" font "sans,12"
set yrange [0:1.2]
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#444444" dt 2
plot "$tmp/stream.dat" using 2:xtic(1) title "rate, eddy/raw", "" using 3 title "CPU, raw/eddy"
EOF
    } | gnuplot
    echo "plot.sh: $OUT/stream.png"
}

# sleep.txt: "NAME sleep async_rps=A ... sync_rps=S ..." per server.
sleep_chart() {
    awk '{
        for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        # 200 requests from 40 connections opened at once; ab adds its ramp.
        a = f["async_parallel_total_s"] > 0 ? 200 / f["async_parallel_total_s"] : f["async_rps"]
        printf "%s %s %s\n", $1, a, f["sync_rps"]
    }' "$IN/sleep.txt" >"$tmp/sleep.dat"
    [ -s "$tmp/sleep.dat" ] || { echo "plot.sh: nothing in $IN/sleep.txt" >&2; return 1; }
    { style 700 420 "$OUT/sleep.png"
      cat <<EOF
set title "A handler that takes 1 s, 40 clients at once: requests per second" font "sans,12"
set yrange [0:50]
set key top right
plot "$tmp/sleep.dat" using 2:xtic(1) title "waits on a timer (async)", \
     "" using 3 title "blocks the loop (sync)", \
     "" using 0:2:(sprintf("%.1f", \$2)) with labels offset -3,0.7 notitle, \
     "" using 0:3:(sprintf("%.1f", \$3)) with labels offset 3,0.7 notitle
EOF
    } | gnuplot
    echo "plot.sh: $OUT/sleep.png"
}

# soak-NAME.log: bench/soak.sh's samples, "seconds VmRSS_KiB fds cpu_s".
soak() {
    local plots="" f name
    for f in "$IN"/soak-*.log; do
        name=${f##*/soak-}; name=${name%.log}
        plots="$plots${plots:+, }\"$f\" using (\$1/60):(\$2/1024) with linespoints pt 7 ps 0.5 title \"$name\""
    done
    { style 900 420 "$OUT/soak.png"
      cat <<EOF
set title "wrk -c1000 for 10 minutes: the server's resident memory (MiB)" font "sans,12"
set style data lines
set xlabel "minutes"
set yrange [0:*]
set key bottom right
plot $plots
EOF
    } | gnuplot
    echo "plot.sh: $OUT/soak.png"
}

# NAME.bars: "# TITLE", then "LABEL RATIO" lines.
bars() {
    local f=$1 name title
    name=${f##*/}; name=${name%.bars}
    title=$(sed -n '1s/^# *//p' "$f")
    grep -v '^#' "$f" >"$tmp/$name.dat"
    [ -s "$tmp/$name.dat" ] || { echo "plot.sh: no bars in $f" >&2; return 1; }
    { style 900 420 "$OUT/$name.png"
      cat <<EOF
set termoption noenhanced
set title "$title" font "sans,12"
set yrange [0:*]
set xtics rotate by -20
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "#444444" dt 2
plot "$tmp/$name.dat" using 2:xtic(1) notitle, \\
     "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,0.7 notitle
EOF
    } | gnuplot
    echo "plot.sh: $OUT/$name.png"
}

n=0
for f in "$IN"/*.bars; do
    [ -f "$f" ] && { bars "$f"; n=$((n + 1)); }
done
[ -f "$IN/http.md" ] && { http; n=$((n + 1)); }
[ -f "$IN/loop.txt" ] && { loop; n=$((n + 1)); }
[ -f "$IN/stream.txt" ] && { stream; n=$((n + 1)); }
[ -f "$IN/sleep.txt" ] && { sleep_chart; n=$((n + 1)); }
ls "$IN"/soak-*.log >/dev/null 2>&1 && { soak; n=$((n + 1)); }
[ $n -gt 0 ] || { echo "plot.sh: no results in $IN" >&2; exit 1; }
