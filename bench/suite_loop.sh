#!/usr/bin/env bash
# bench/suite_loop.sh - the test suite again and again, to catch a test that
# fails only now and then.
#
#   bench/suite_loop.sh [-n RUNS] [--backend epoll|kqueue|poll|select]
#
# Builds the tests and examples once (`make tests examples`, for another
# backend into build/BACKEND, the directories `make check` uses), then RUNS
# times (default 20, or $RUNS) runs every test binary, tests/test_*.c built
# into B/tests/, with EDDY_EXAMPLES=B/examples as `make check-one` does,
# each bounded by $TEST_TIMEOUT seconds (default 600; a timeout is a
# failure).  Counts the failures of each binary; the output of every failed
# run is kept in /tmp/eddy-suite-loop.XXXXXX/ (that directory is removed
# when nothing failed).  Ends with a table and the line
#   suite loop: RUNS runs, F failures
# Exit status: 0 when nothing failed.
set -u
cd "$(dirname "$0")/.." || exit 2

RUNS=${RUNS:-20}
BACKEND=""
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
while [ $# -gt 0 ]; do
    case $1 in
    -n) RUNS=${2:?}; shift 2 ;;
    --backend) BACKEND=${2:?}; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { if (!/shellcheck/) print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "suite_loop.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]{0,3}$ ]] || { echo "suite_loop.sh: -n wants an integer in 1..9999" >&2; exit 2; }

# The Makefile's bdir: the platform's default backend builds into build/.
case $(uname -s) in
Linux) DEFAULT=epoll ;;
Darwin | FreeBSD | OpenBSD | NetBSD | DragonFly) DEFAULT=kqueue ;;
*) DEFAULT=poll ;;
esac
BACKEND=${BACKEND:-$DEFAULT}
case $BACKEND in epoll | kqueue | poll | select) ;; *) echo "suite_loop.sh: unknown backend '$BACKEND'" >&2; exit 2 ;; esac
if [ "$BACKEND" = "$DEFAULT" ]; then B=build; else B=build/$BACKEND; fi

make -s tests examples BACKEND="$BACKEND" B="$B" || exit 1

TESTS=()
for src in tests/test_*.c; do
    t=$B/tests/$(basename "$src" .c)
    [ -x "$t" ] || { echo "suite_loop.sh: $t was not built" >&2; exit 1; }
    TESTS+=("$t")
done
OUT=$(mktemp -d /tmp/eddy-suite-loop.XXXXXX)
declare -A FAILS=()
TOTAL=0
T0=$SECONDS
echo "== $RUNS runs of ${#TESTS[@]} test binaries ($BACKEND, $B), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, kernel $(uname -r)"
for run in $(seq "$RUNS"); do
    t1=$SECONDS
    failed=""
    for t in "${TESTS[@]}"; do
        name=$(basename "$t")
        log="$OUT/$name.run$run.log"
        if EDDY_EXAMPLES=$B/examples timeout -k 10 "$TEST_TIMEOUT" "$t" > "$log" 2>&1; then
            rm -f "$log"
        else
            rc=$?
            FAILS[$name]=$((${FAILS[$name]:-0} + 1))
            TOTAL=$((TOTAL + 1))
            failed="$failed $name(status $rc)"
        fi
    done
    if [ -n "$failed" ]; then
        echo "run $run: $((SECONDS - t1)) s, failed:$failed"
    else
        echo "run $run: $((SECONDS - t1)) s, all passed"
    fi
done

echo
echo "| test | failures | runs |"
echo "|---|---|---|"
for t in "${TESTS[@]}"; do
    name=$(basename "$t")
    echo "| $name | ${FAILS[$name]:-0} | $RUNS |"
done
echo
if [ "$TOTAL" -gt 0 ]; then
    echo "logs of the failed runs: $OUT/"
else
    rm -rf "$OUT"
fi
echo "suite loop: $RUNS runs, $TOTAL failures ($BACKEND, $((SECONDS - T0)) s)"
[ "$TOTAL" -eq 0 ]
